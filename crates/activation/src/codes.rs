//! Activation codes and short codes (R-ACT-2), shared by both halves.
//!
//! The phone half (what a typed code is: [`EnteredCode`]) lives in
//! `phoneprov_phone::activation` and is re-exported here, so the server
//! (`POST /activation/v1/code`) and the phone read keypad text with one
//! parser; this module adds the server's generator.

use rand::rngs::OsRng;
use rand::Rng as _;

pub use phoneprov_phone::activation::{
    mask, validate_short_code, CodeError, EnteredCode, ACTIVATION_CODE_LEN, SHORT_CODE_MAX,
    SHORT_CODE_MIN,
};

/// A fresh 16-digit activation code from the OS CSPRNG (`OsRng`: the
/// codes are bearer secrets, so a seeded or thread-local PRNG would not
/// do). Uniform over all 10^16 values, leading zeros included.
pub fn generate_activation_code() -> String {
    let mut rng = OsRng;
    (0..ACTIVATION_CODE_LEN)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    #[test]
    fn r_act_2_generated_codes_are_16_digits_and_distinct() {
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let c = generate_activation_code();
            assert_eq!(c.len(), 16, "{c}");
            assert!(c.bytes().all(|b| b.is_ascii_digit()), "{c}");
            assert!(seen.insert(c), "duplicate code after {} draws", seen.len());
        }
        // All ten digits show up in every position over 2000 draws, i.e.
        // the generator is not stuck (probability of a miss ~ 16*10*0.9^2000).
        for pos in 0..16 {
            let digits: HashSet<u8> = seen.iter().map(|c| c.as_bytes()[pos]).collect();
            assert_eq!(digits.len(), 10, "position {pos}");
        }
    }
}
