//! Activation codes and short codes (R-ACT-2), shared by both halves.
//!
//! - An **activation code** is 16 decimal digits, issued by the server
//!   (`phoneprov_activation::generate_activation_code`, from the OS CSPRNG), single use and
//!   expiring. The user types it on the phone after the `gds://` rule
//!   (R-RULE-5) started onboarding.
//! - A **short code** is 3 to 16 decimal digits naming a redirect profile,
//!   typed after `#` (`#1234`); it is reusable, so many phones of one
//!   customer can be onboarded with one easy number.
//!
//! [`EnteredCode::parse`] is what both the phone (keypad entry) and the
//! server (`POST /activation/v1/code`) use to tell the two apart, so they
//! can never disagree on what a keypad string means.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Digits in an activation code (R-ACT-2).
pub const ACTIVATION_CODE_LEN: usize = 16;
/// Fewest digits in a short code (R-ACT-2).
pub const SHORT_CODE_MIN: usize = 3;
/// Most digits in a short code (R-ACT-2).
pub const SHORT_CODE_MAX: usize = 16;

/// Why a typed code is not a code. Messages say what to type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Nothing typed.
    #[error("the code is empty; type the 16-digit activation code, or `#` and a 3 to 16 digit short code")]
    Empty,
    /// A character other than a decimal digit (after the optional `#`).
    #[error("the code {0:?} holds a character that is not a digit 0-9; codes are digits only")]
    NotDigits(String),
    /// An activation code of the wrong length.
    #[error("the activation code {0:?} has {1} digits; an activation code has exactly 16 (for a short code, type `#` first)")]
    ActivationLength(String, usize),
    /// A short code of the wrong length.
    #[error("the short code {0:?} has {1} digits; a short code has 3 to 16 digits")]
    ShortLength(String, usize),
}

/// A code as typed on the phone, classified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "digits", rename_all = "snake_case")]
pub enum EnteredCode {
    /// 16 digits: a single-use activation code.
    Activation(String),
    /// `#` + 3..=16 digits: a reusable short code (digits kept without `#`).
    Short(String),
}

impl EnteredCode {
    /// Parses keypad text: `#` then 3–16 digits is a short code, otherwise
    /// exactly 16 digits is an activation code. Spaces and `-` between digit
    /// groups are ignored (codes are printed in groups of four).
    pub fn parse(text: &str) -> Result<EnteredCode, CodeError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(CodeError::Empty);
        }
        let (short, body) = match trimmed.strip_prefix('#') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let digits: String = body.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::NotDigits(shorten(trimmed)));
        }
        if short {
            validate_short_code(&digits).map(|()| EnteredCode::Short(digits))
        } else if digits.len() == ACTIVATION_CODE_LEN {
            Ok(EnteredCode::Activation(digits))
        } else if digits.is_empty() {
            Err(CodeError::Empty)
        } else {
            let n = digits.len();
            Err(CodeError::ActivationLength(shorten(trimmed), n))
        }
    }

    /// The digits, without `#`.
    pub fn digits(&self) -> &str {
        match self {
            EnteredCode::Activation(d) | EnteredCode::Short(d) => d,
        }
    }

    /// The digits with the last four hidden (for logs and events: a logged
    /// activation code must not be usable by whoever reads the log).
    pub fn masked(&self) -> String {
        match self {
            EnteredCode::Activation(d) => mask(d),
            EnteredCode::Short(d) => format!("#{d}"),
        }
    }
}

impl fmt::Display for EnteredCode {
    /// The keypad form: 16 digits, or `#` and the short code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnteredCode::Activation(d) => f.write_str(d),
            EnteredCode::Short(d) => write!(f, "#{d}"),
        }
    }
}

/// Checks a short code's digits (without `#`): 3 to 16 decimal digits.
pub fn validate_short_code(digits: &str) -> Result<(), CodeError> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeError::NotDigits(shorten(digits)));
    }
    let n = digits.len();
    if !(SHORT_CODE_MIN..=SHORT_CODE_MAX).contains(&n) {
        return Err(CodeError::ShortLength(shorten(digits), n));
    }
    Ok(())
}

/// `1234567812345678` → `************5678`: the last four digits tell
/// codes apart in lists and logs; the twelve hidden ones keep a masked
/// code as hard to guess as a 12-digit secret (four hidden digits, the
/// earlier form, left 10 000 guesses to whoever read a masked code).
pub fn mask(code: &str) -> String {
    let hide = code.len().saturating_sub(4);
    format!("{}{}", "*".repeat(hide), &code[hide..])
}

fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_act_2_entered_code_classification() {
        assert_eq!(
            EnteredCode::parse("1234567812345678"),
            Ok(EnteredCode::Activation("1234567812345678".into()))
        );
        assert_eq!(
            EnteredCode::parse(" 1234-5678 1234-5678 "),
            Ok(EnteredCode::Activation("1234567812345678".into()))
        );
        assert_eq!(
            EnteredCode::parse("#123"),
            Ok(EnteredCode::Short("123".into()))
        );
        assert_eq!(
            EnteredCode::parse("#1234567812345678"),
            Ok(EnteredCode::Short("1234567812345678".into()))
        );
        assert!(matches!(
            EnteredCode::parse("#12"),
            Err(CodeError::ShortLength(_, 2))
        ));
        assert!(matches!(
            EnteredCode::parse("#12345678123456789"),
            Err(CodeError::ShortLength(_, 17))
        ));
        assert!(matches!(
            EnteredCode::parse("123456781234567"),
            Err(CodeError::ActivationLength(_, 15))
        ));
        assert!(matches!(
            EnteredCode::parse("12a4"),
            Err(CodeError::NotDigits(_))
        ));
        assert!(matches!(
            EnteredCode::parse("#"),
            Err(CodeError::ShortLength(_, 0))
        ));
        assert_eq!(EnteredCode::parse("  "), Err(CodeError::Empty));
    }

    #[test]
    fn r_act_2_short_code_length_bounds() {
        for n in 0..=20 {
            let d = "7".repeat(n);
            assert_eq!(
                validate_short_code(&d).is_ok(),
                (3..=16).contains(&n),
                "{n}"
            );
        }
        assert!(validate_short_code("12x").is_err());
    }

    #[test]
    fn display_and_mask() {
        let a = EnteredCode::Activation("1234567812345678".into());
        assert_eq!(a.to_string(), "1234567812345678");
        assert_eq!(a.masked(), "************5678");
        let s = EnteredCode::Short("4321".into());
        assert_eq!(s.to_string(), "#4321");
        assert_eq!(EnteredCode::parse(&s.to_string()), Ok(s));
    }
}
