//! MAC addresses: how phones are named everywhere.
//!
//! Phones name themselves by MAC everywhere (`$MA` in rules, R-MACRO; the
//! `(<MAC>)` part of the User-Agent, R-HTTP-3; `S=<MAC>` in client
//! certificates, R-HTTPS-5; syslog lines, R-LOG-3; `ata$MA.cfg` file names),
//! always as 12 lowercase hex digits. Operators paste MACs from labels,
//! switches and spreadsheets in other spellings, so parsing accepts the four
//! common ones and everything is stored and printed in the canonical `$MA`
//! form.
//!
//! Hand-written: a few dozen lines. The `macaddr`/`mac_address` crates
//! either refuse the bare and dotted spellings or accept looser ones (mixed
//! separators, odd groupings), and none gives an error that says what to
//! type instead.

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
    "bad MAC {input:?}: {why}; write it as 000e08abcdef, 00:0E:08:AB:CD:EF, 00-0e-08-ab-cd-ef or 000e.08ab.cdef"
)]
pub struct MacError {
    /// The text as given (truncated to 40 characters so one line stays short).
    pub input: String,
    /// What exactly is wrong with it.
    pub why: &'static str,
}

impl MacError {
    /// What is wrong, without the advice: `bad MAC "zz": it must have 12
    /// hex digits`.
    pub fn what(&self) -> String {
        format!("bad MAC {:?}: {}", self.input, self.why)
    }

    /// What to type instead (the accepted spellings).
    pub fn hint(&self) -> &'static str {
        "write the MAC as 000e08abcdef, 00:0E:08:AB:CD:EF, 00-0e-08-ab-cd-ef or 000e.08ab.cdef"
    }
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

    /// Parses `000e08abcdef`, `00:0E:08:AB:CD:EF`, `00-0e-08-ab-cd-ef` or
    /// Cisco's dotted `000e.08ab.cdef` (any letter case; surrounding
    /// whitespace ignored). Mixed separators and other groupings
    /// (`00.0e.08.ab.cd.ef`, `000e08:abcdef`) are refused: they are more
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
        // (separator, digits per group) for each accepted length.
        let (seps, group): (&[u8], usize) = match s.len() {
            12 => (&[], 12),
            17 => (b":-", 2),
            14 => (b".", 4),
            _ => return Err(err("it must have 12 hex digits")),
        };
        let mut digits = [0u8; 12];
        let mut n = 0;
        let mut sep = None;
        for (i, b) in s.bytes().enumerate() {
            if i % (group + 1) == group {
                if !seps.contains(&b) {
                    return Err(err(if group == 2 {
                        "the separator must be ':' or '-' between every two digits"
                    } else {
                        "the dotted form groups four digits: 000e.08ab.cdef"
                    }));
                }
                if *sep.get_or_insert(b) != b {
                    return Err(err("the separators must all be the same"));
                }
            } else {
                digits[n] = hex_val(b)
                    .ok_or_else(|| err("it holds a character that is not a hex digit"))?;
                n += 1;
            }
        }
        let mut bytes = [0u8; 6];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            bytes[i] = pair[0] << 4 | pair[1];
        }
        Ok(Mac(bytes))
    }

    /// The MAC as a 48-bit number.
    pub fn to_u64(self) -> u64 {
        self.0.iter().fold(0, |acc, b| acc << 8 | u64::from(*b))
    }

    /// The MAC `offset` places on, counting it as a 48-bit number (a fleet of
    /// consecutive phones); `None` past `ffffffffffff`.
    pub fn checked_add(self, offset: u64) -> Option<Mac> {
        let v = self.to_u64().checked_add(offset)?;
        if v > 0xffff_ffff_ffff {
            return None;
        }
        let b = v.to_be_bytes();
        Some(Mac([b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    /// `$MAU`: 12 uppercase hex digits (`000E08ABCDEF`).
    pub fn to_upper(self) -> String {
        self.to_string().to_ascii_uppercase()
    }

    /// `$MAC`: lowercase colon form (`00:0e:08:ab:cd:ef`).
    pub fn to_colon(self) -> String {
        let parts: Vec<String> = self.0.iter().map(|b| format!("{b:02x}")).collect();
        parts.join(":")
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

/// Twelve lowercase hex digits. Written from a table in one `write_str`:
/// each request formats its MAC several times (device read, render,
/// status write, event), and six `{:02x}` formats cost about 2 000
/// instructions where this costs about 100.
impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 12];
        for (pair, b) in text.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0x0f)];
        }
        f.write_str(std::str::from_utf8(&text).expect("hex digits are ASCII"))
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

impl<'de> serde::Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Mac::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // R-MACRO: $MA is 12 lowercase hex digits, whatever the spelling given.
    #[test]
    fn r_macro_accepts_four_spellings_and_prints_ma_form() {
        for s in [
            "000e08abcdef",
            "000E08ABCDEF",
            "00:0e:08:ab:cd:ef",
            "00:0E:08:AB:CD:EF",
            "00-0E-08-AB-CD-EF",
            "00-0e-08-ab-cd-ef",
            "000e.08ab.cdef",
            "000E.08AB.CDEF",
            "  00:0e:08:ab:cd:ef\n",
        ] {
            let mac = Mac::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(mac.to_string(), "000e08abcdef", "{s:?}");
            assert_eq!(mac.to_upper(), "000E08ABCDEF");
            assert_eq!(mac.to_colon(), "00:0e:08:ab:cd:ef");
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
            ("000e:08ab:cdef", "dotted form"),
            ("000e.08ab-cdef", "dotted form"),
            ("000e08.abcd.ef", "dotted form"),
            ("00:0e:08:ab:cd:eé", "12 hex digits"),
            ("00 0e 08 ab cd ef", "':' or '-'"),
        ] {
            let e = Mac::parse(s).expect_err(s);
            let msg = e.to_string();
            assert!(msg.contains(why), "{s:?}: {msg}");
            assert!(
                msg.contains("000e08abcdef") && msg.contains("000e.08ab.cdef"),
                "message shows the accepted forms: {msg}"
            );
        }
    }

    #[test]
    fn checked_add_counts_and_stops_at_the_top() {
        let m = |s| Mac::parse(s).unwrap();
        assert_eq!(m("00562b0436ff").checked_add(1), Some(m("00562b043700")));
        assert_eq!(m("fffffffffffe").checked_add(1), Some(m("ffffffffffff")));
        assert_eq!(m("ffffffffffff").checked_add(1), None);
        assert_eq!(m("000000000000").checked_add(u64::MAX), None);
    }

    #[test]
    fn serde_uses_the_ma_form_and_parses_any_spelling() {
        let mac = Mac::parse("000e.08ab.cdef").unwrap();
        assert_eq!(serde_json::to_string(&mac).unwrap(), "\"000e08abcdef\"");
        let back: Mac = serde_json::from_str("\"00-0E-08-AB-CD-EF\"").unwrap();
        assert_eq!(back, mac);
        let e = serde_json::from_str::<Mac>("\"zz\"").unwrap_err();
        assert!(e.to_string().contains("bad MAC"), "{e}");
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(bytes in any::<[u8; 6]>()) {
            let mac = Mac::from_bytes(bytes);
            let s = mac.to_string();
            prop_assert_eq!(s.len(), 12);
            prop_assert_eq!(Mac::parse(&s).unwrap(), mac);
            let upper: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
            prop_assert_eq!(Mac::parse(&upper.join(":")).unwrap(), mac);
            prop_assert_eq!(Mac::parse(&upper.join("-")).unwrap(), mac);
            let dotted = format!("{}.{}.{}", &s[0..4], &s[4..8], &s[8..12]);
            prop_assert_eq!(Mac::parse(&dotted).unwrap(), mac);
            prop_assert_eq!(Mac::parse(&mac.to_colon()).unwrap(), mac);
            prop_assert_eq!(Mac::from_bytes(bytes).checked_add(0), Some(mac));
        }

        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = Mac::parse(&s);
        }
    }
}
