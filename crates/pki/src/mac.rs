//! MAC address normalisation (R-HTTPS-5: `S=<MAC>` is 12 lowercase hex digits).
//!
//! Operators type MACs in many shapes (`00:56:2B:04:36:15`, `00-56-2b-04-36-15`,
//! Cisco's dotted `0056.2b04.3615`). Certificates and the server's lookup key
//! always use the canonical 12-lowercase-hex form, so two spellings of one MAC
//! can never map to two identities.

use crate::PkiError;

/// Returns the canonical form (12 lowercase hex digits) of a MAC address.
///
/// Accepts `:`, `-` and `.` as separators anywhere and either case; anything
/// else, or a digit count other than 12, is [`PkiError::BadMac`].
pub fn normalize_mac(input: &str) -> Result<String, PkiError> {
    let trimmed = input.trim();
    let mut out = String::with_capacity(12);
    for c in trimmed.chars() {
        match c {
            ':' | '-' | '.' => {}
            c if c.is_ascii_hexdigit() => out.push(c.to_ascii_lowercase()),
            _ => return Err(PkiError::BadMac(input.to_string())),
        }
    }
    if out.len() != 12 {
        return Err(PkiError::BadMac(input.to_string()));
    }
    Ok(out)
}

/// Adds `offset` to a MAC taken as a 48-bit number; used to lay out a fleet of
/// consecutive simulated phones. `None` when the result would pass
/// `ffffffffffff`.
pub fn mac_add(mac: &str, offset: u64) -> Result<Option<String>, PkiError> {
    let canon = normalize_mac(mac)?;
    let base = u64::from_str_radix(&canon, 16).map_err(|_| PkiError::BadMac(mac.to_string()))?;
    Ok(base
        .checked_add(offset)
        .filter(|v| *v <= 0xffff_ffff_ffff)
        .map(|v| format!("{v:012x}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_spellings() {
        for s in [
            "00562b043615",
            "00:56:2B:04:36:15",
            "00-56-2b-04-36-15",
            "0056.2B04.3615",
            " 00562B043615 ",
        ] {
            assert_eq!(normalize_mac(s).unwrap(), "00562b043615", "{s}");
        }
    }

    #[test]
    fn rejects_bad_macs() {
        for s in [
            "",
            "00562b04361",
            "00562b0436155",
            "00562b04361g",
            "00 56 2b 04 36 15",
        ] {
            assert!(matches!(normalize_mac(s), Err(PkiError::BadMac(_))), "{s}");
        }
    }

    #[test]
    fn mac_add_counts_and_stops_at_the_top() {
        assert_eq!(mac_add("00562b0436ff", 1).unwrap().unwrap(), "00562b043700");
        assert_eq!(mac_add("fffffffffffe", 1).unwrap().unwrap(), "ffffffffffff");
        assert_eq!(mac_add("ffffffffffff", 1).unwrap(), None);
    }
}
