//! The one constant-time comparison for secrets (admin bearer tokens, HTTP
//! Digest responses, Basic passwords), on top of `subtle`.
//!
//! Only the length may leak: tokens and digests have a fixed, public
//! length, and a password's length is what every Basic scheme leaks anyway.

use subtle::ConstantTimeEq;

/// Whether `given` equals `expected`, in time that does not depend on
/// where they differ.
pub fn secret_eq(given: &[u8], expected: &[u8]) -> bool {
    given.ct_eq(expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_bytes_and_length_match() {
        assert!(secret_eq(b"abc", b"abc"));
        assert!(secret_eq(b"", b""));
        assert!(!secret_eq(b"abd", b"abc"));
        assert!(!secret_eq(b"ab", b"abc"));
        assert!(!secret_eq(b"abcd", b"abc"));
    }
}
