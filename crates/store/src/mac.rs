//! MAC addresses: the inventory's key.
//!
//! Phones name themselves by MAC everywhere (`$MA` in rules, R-MACRO; the
//! `(<MAC>)` part of the User-Agent, R-HTTP-3; `ata$MA.cfg` file names), always
//! as 12 lowercase hex digits. Operators paste MACs from labels, switches and
//! spreadsheets in other spellings, so parsing accepts the three common ones
//! and everything is stored and printed in the canonical `$MA` form.

use std::fmt;
use std::str::FromStr;

/// A 48-bit MAC address. `Display` gives the canonical `$MA` form
/// (`000e08abcdef`), which is also how it is stored.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac([u8; 6]);

/// Why a MAC could not be parsed. The message quotes the input and shows the
/// accepted spellings so a user can fix it at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad MAC {input:?}: {why}; write it as 000e08abcdef, 00:0E:08:AB:CD:EF or 00-0e-08-ab-cd-ef"
)]
pub struct MacError {
    /// The text as given (truncated to 40 characters so one line stays short).
    pub input: String,
    /// What exactly is wrong with it.
    pub why: &'static str,
}

impl Mac {
    /// Builds a MAC from its six octets.
    pub const fn from_bytes(bytes: [u8; 6]) -> Self {
        Mac(bytes)
    }

    /// The six octets.
    pub const fn bytes(&self) -> [u8; 6] {
        self.0
    }

    /// Parses `000e08abcdef`, `00:0E:08:AB:CD:EF` or `00-0e-08-ab-cd-ef`
    /// (any letter case; surrounding whitespace ignored). Mixed separators
    /// and other groupings (`000e.08ab.cdef`) are refused: they are more
    /// likely a typo than a MAC.
    pub fn parse(input: &str) -> Result<Self, MacError> {
        let err = |why| MacError {
            input: input.chars().take(40).collect(),
            why,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        let digits: Vec<u8> = match s.len() {
            12 => s.bytes().collect(),
            17 => {
                let sep = s.as_bytes()[2];
                if sep != b':' && sep != b'-' {
                    return Err(err("the separator must be ':' or '-'"));
                }
                let mut out = Vec::with_capacity(12);
                for (i, b) in s.bytes().enumerate() {
                    if i % 3 == 2 {
                        if b != sep {
                            return Err(err(
                                "separators must sit between every two digits and all be the same",
                            ));
                        }
                    } else {
                        out.push(b);
                    }
                }
                out
            }
            _ => return Err(err("it must have 12 hex digits")),
        };
        let mut bytes = [0u8; 6];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0])
                .ok_or_else(|| err("it holds a character that is not a hex digit"))?;
            let lo = hex_val(pair[1])
                .ok_or_else(|| err("it holds a character that is not a hex digit"))?;
            bytes[i] = hi << 4 | lo;
        }
        Ok(Mac(bytes))
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl FromStr for Mac {
    type Err = MacError;
    fn from_str(s: &str) -> Result<Self, MacError> {
        Mac::parse(s)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // R-MACRO: $MA is 12 lowercase hex digits.
    #[test]
    fn r_macro_accepts_three_spellings_and_prints_ma_form() {
        for s in [
            "000e08abcdef",
            "000E08ABCDEF",
            "00:0E:08:AB:CD:EF",
            "00-0e-08-ab-cd-ef",
            "  00:0e:08:ab:cd:ef\n",
        ] {
            let mac = Mac::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(mac.to_string(), "000e08abcdef", "{s:?}");
        }
    }

    #[test]
    fn refuses_bad_macs_with_a_reason() {
        for (s, why) in [
            ("", "empty"),
            ("000e08abcde", "12 hex digits"),
            ("000e08abcdeff", "12 hex digits"),
            ("000e08abcdeg", "not a hex digit"),
            ("00:0e:08-ab:cd:ef", "all be the same"),
            ("00.0e.08.ab.cd.ef", "':' or '-'"),
            ("000e08:abc:def:0a", "':' or '-'"),
            ("00:0e:08:ab:cd:eé", "12 hex digits"),
        ] {
            let e = Mac::parse(s).expect_err(s);
            let msg = e.to_string();
            assert!(msg.contains(why), "{s:?}: {msg}");
            assert!(
                msg.contains("000e08abcdef"),
                "message shows the accepted form: {msg}"
            );
        }
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(bytes in any::<[u8; 6]>()) {
            let mac = Mac::from_bytes(bytes);
            let s = mac.to_string();
            prop_assert_eq!(s.len(), 12);
            prop_assert_eq!(Mac::parse(&s).unwrap(), mac);
            let colon: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
            prop_assert_eq!(Mac::parse(&colon.join(":")).unwrap(), mac);
            prop_assert_eq!(Mac::parse(&colon.join("-")).unwrap(), mac);
        }

        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = Mac::parse(&s);
        }
    }
}
