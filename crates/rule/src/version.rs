//! Comparison of condition operands: integers and firmware versions.
//!
//! Rule (documented for administrators): both sides are split into maximal
//! runs of ASCII digits and of non-digits, compared run by run, left to right:
//! - two digit runs compare as unbounded non-negative integers (leading zeros
//!   ignored, so `0001` equals `1` in ordering);
//! - two text runs compare byte-wise (case-sensitive);
//! - a digit run sorts before a text run;
//! - when one side runs out first, it is the smaller (`sip8845.11` <
//!   `sip8845.11-3`).
//!
//! So `sip8845.11-3-2MPP0001-609` > `sip8845.11-2-1MPP0001-500` (third run
//! 3 > 2) and `sipyyyy.11-0-1MPP-376` < `sipyyyy.11-0-1MPP-400`. Two plain
//! integers therefore compare numerically, as the firmware does.

use std::cmp::Ordering;

fn runs(s: &str) -> impl Iterator<Item = &str> {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= b.len() {
            return None;
        }
        let start = i;
        let digit = b[i].is_ascii_digit();
        while i < b.len() && b[i].is_ascii_digit() == digit {
            i += 1;
        }
        Some(&s[start..i])
    })
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Compares two digit strings as integers of any size.
fn cmp_numeric(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compares two firmware versions (or integers) as described in the module docs.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let mut ra = runs(a);
    let mut rb = runs(b);
    loop {
        match (ra.next(), rb.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = match (is_digits(x), is_digits(y)) {
                    (true, true) => cmp_numeric(x, y),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

/// Equality for `eq`/`ne`: exact text, or numeric when both are integers
/// (so `$UPGST eq 01` holds when UPGST is `1`).
pub(crate) fn values_equal(a: &str, b: &str) -> bool {
    if is_digits(a) && is_digits(b) {
        cmp_numeric(a, b) == Ordering::Equal
    } else {
        a == b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn r_rule_firmware_versions() {
        assert_eq!(
            compare_versions("sip8845.11-3-2MPP0001-609", "sip8845.11-2-1MPP0001-609"),
            Greater
        );
        assert_eq!(
            compare_versions("sip8845.11-3-2MPP0001-609", "sip8845.11-3-2MPP0001-609"),
            Equal
        );
        assert_eq!(
            compare_versions("sipyyyy.11-0-1MPP-376", "sipyyyy.11-0-1MPP-400"),
            Less
        );
        assert_eq!(
            compare_versions("sip8845.11-3-2MPP0001-609", "sip8845.11-3-2MPP0001-1000"),
            Less
        );
        assert_eq!(compare_versions("sip8845.11", "sip8845.11-3"), Less);
        assert_eq!(compare_versions("", "1"), Less);
        assert_eq!(compare_versions("12.0.3", "12.0.10"), Less);
    }

    #[test]
    fn r_rule_integers() {
        assert_eq!(compare_versions("10", "9"), Greater);
        assert_eq!(compare_versions("007", "7"), Equal);
        assert_eq!(
            compare_versions("123456789012345678901234567890", "99"),
            Greater
        );
        assert!(values_equal("01", "1"));
        assert!(!values_equal("a01", "a1"));
        assert!(values_equal("Installed", "Installed"));
        assert!(!values_equal("Installed", "installed"));
    }
}
