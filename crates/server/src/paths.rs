//! Finding the device behind a request: configurable path patterns using
//! macro names (`/$MA.cfg`, `/Cisco/$MA.cfg`, `/$PSN.xml`, `/$PN.cfg`,
//! `/ata$MA.cfg`; R-RULE-4, R-MACRO), the phone's User-Agent
//! `Cisco-<PN>/<firmware> (<MAC>)` (R-HTTP-3), and request-path safety.
//!
//! Hand-written: the pattern language is the phone's own macro syntax, so a
//! glob or regex crate would need a translation layer as big as the matcher.

use phoneprov_store::Mac;

/// One part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Macro(Field),
}

/// What a macro in a pattern captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `$MA`: 12 hex digits.
    Ma,
    /// `$PN`: product name.
    Pn,
    /// `$PSN`: product series number.
    Psn,
    /// `$SN`: serial number.
    Sn,
}

/// A parsed request-path pattern such as `/Cisco/$MA.cfg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    parts: Vec<Part>,
}

/// What a matching path said about the device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathMatch<'a> {
    /// From `$MA`.
    pub mac: Option<Mac>,
    /// From `$PN`.
    pub pn: Option<&'a str>,
    /// From `$PSN`.
    pub psn: Option<&'a str>,
    /// From `$SN`.
    pub sn: Option<&'a str>,
}

impl PathPattern {
    /// Parses a pattern; only `$MA`, `$PN`, `$PSN` and `$SN` are macros here.
    pub fn parse(text: &str) -> Result<PathPattern, String> {
        if !text.starts_with('/') {
            return Err(format!("path pattern {text:?} must start with /"));
        }
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (field, len) = if after.starts_with("PSN") {
                (Field::Psn, 3)
            } else if after.starts_with("MA")
                && !after[2..].starts_with(|c: char| c.is_ascii_uppercase())
            {
                (Field::Ma, 2)
            } else if after.starts_with("PN") {
                (Field::Pn, 2)
            } else if after.starts_with("SN") {
                (Field::Sn, 2)
            } else {
                return Err(format!(
                    "path pattern {text:?}: unknown macro at ${}; use $MA, $PN, $PSN or $SN",
                    after.chars().take(4).collect::<String>()
                ));
            };
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            if matches!(parts.last(), Some(Part::Macro(_))) {
                return Err(format!(
                    "path pattern {text:?}: two macros must be separated by text"
                ));
            }
            parts.push(Part::Macro(field));
            rest = &after[len..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(PathPattern { parts })
    }

    /// Matches a decoded request path. Literals compare exactly; `$MA`
    /// takes 12 hex digits (any case); the others take one or more of
    /// `A-Z a-z 0-9 . _ -` (never `/`).
    pub fn matches<'a>(&self, path: &'a str) -> Option<PathMatch<'a>> {
        let mut m = PathMatch::default();
        match_parts(&self.parts, path, &mut m).then_some(m)
    }
}

fn token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-')
}

fn match_parts<'a>(parts: &[Part], s: &'a str, m: &mut PathMatch<'a>) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return s.is_empty();
    };
    match first {
        Part::Lit(l) => s
            .strip_prefix(l.as_str())
            .is_some_and(|t| match_parts(rest, t, m)),
        Part::Macro(Field::Ma) => {
            let b = s.as_bytes();
            if b.len() < 12 || !b[..12].iter().all(u8::is_ascii_hexdigit) {
                return false;
            }
            match Mac::parse(&s[..12]) {
                Ok(mac) if match_parts(rest, &s[12..], m) => {
                    m.mac = Some(mac);
                    true
                }
                _ => false,
            }
        }
        Part::Macro(f) => {
            let max = s.bytes().take_while(|&c| token_char(c)).count();
            // Shortest first: `/$PN.cfg` on `CP-8841.cfg` tries "C", "CP", ...
            for n in 1..=max {
                if match_parts(rest, &s[n..], m) {
                    let v = &s[..n];
                    match f {
                        Field::Pn => m.pn = Some(v),
                        Field::Psn => m.psn = Some(v),
                        Field::Sn => m.sn = Some(v),
                        Field::Ma => unreachable!(),
                    }
                    return true;
                }
            }
            false
        }
    }
}

/// What a phone's User-Agent says (R-HTTP-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgent<'a> {
    /// Product name, e.g. `CP-8841-3PCC`.
    pub model: &'a str,
    /// Firmware version, e.g. `11.0`.
    pub firmware: &'a str,
    /// MAC in parentheses, when present and valid.
    pub mac: Option<Mac>,
}

/// Parses `Cisco-<PN>/<firmware> (<MAC>)`; the `Cisco-` prefix may be
/// missing (the header is configurable on the phone) when a valid `(<MAC>)`
/// follows. The `PN/firmware` shape is required. Anything else (a browser, curl) gives `None`.
pub fn parse_user_agent(ua: &str) -> Option<UserAgent<'_>> {
    let ua = ua.trim();
    let cisco = ua.starts_with("Cisco-");
    let body = ua.strip_prefix("Cisco-").unwrap_or(ua);
    let (product, rest) = body.split_once('/')?;
    if product.is_empty() || !product.bytes().all(token_char) {
        return None;
    }
    let (firmware, tail) = match rest.find(' ') {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    if firmware.is_empty()
        || !firmware
            .bytes()
            .all(|c| token_char(c) || c == b'(' || c == b')')
    {
        return None;
    }
    let mac = tail
        .strip_prefix('(')
        .and_then(|t| t.split(')').next())
        .and_then(|t| Mac::parse(t).ok());
    if !cisco && mac.is_none() {
        // Without the vendor prefix only the `(<MAC>)` tail makes it a
        // phone; `Mozilla/5.0 (X11; …)` is a browser.
        return None;
    }
    Some(UserAgent {
        model: product,
        firmware,
        mac,
    })
}

/// Why a request path is refused before any file system access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadPath {
    /// Not valid percent-encoding / UTF-8, or a NUL or backslash.
    Malformed,
    /// A `..` component (after decoding).
    Traversal,
}

/// Percent-decodes a request path and refuses NUL, backslash and `..`
/// components (also when written `%2e%2e`), so no later step can be
/// tricked into leaving the static or firmware roots. The decoded path
/// still gets the canonicalize-and-compare check of
/// [`phoneprov_tftp::resolve_path`] before a file is opened.
///
/// Borrows `raw` when it has nothing to decode (the common case: no copy).
pub fn decode_path(raw: &str) -> Result<std::borrow::Cow<'_, str>, BadPath> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| BadPath::Malformed)?;
    if decoded.contains(['\0', '\\']) {
        return Err(BadPath::Malformed);
    }
    if decoded.split('/').any(|c| c == "..") {
        return Err(BadPath::Traversal);
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> Option<Mac> {
        Some(Mac::parse(s).unwrap())
    }

    #[test]
    fn mac_patterns_capture_the_mac() {
        // R-MACRO: `ata$MA.cfg`, `/Cisco/$MA.cfg`.
        let p = PathPattern::parse("/ata$MA.cfg").unwrap();
        assert_eq!(
            p.matches("/ata000e08abcdef.cfg").unwrap().mac,
            mac("000e08abcdef")
        );
        assert_eq!(
            p.matches("/ata000E08ABCDEF.cfg").unwrap().mac,
            mac("000e08abcdef")
        );
        assert!(p.matches("/ata000e08abcde.cfg").is_none());
        assert!(p.matches("/ata000e08abcdefg.cfg").is_none());
        assert!(p.matches("/000e08abcdef.cfg").is_none());
        let p = PathPattern::parse("/Cisco/$MA.cfg").unwrap();
        assert!(p.matches("/Cisco/000e08abcdef.cfg").is_some());
        assert!(p.matches("/cisco/000e08abcdef.cfg").is_none());
        assert!(p.matches("/Cisco/000e08abcdef.cfg.bak").is_none());
    }

    #[test]
    fn product_patterns_capture_tokens_without_slashes() {
        // R-RULE-4: the factory rule `/$PN.cfg`.
        let p = PathPattern::parse("/$PN.cfg").unwrap();
        let m = p.matches("/CP-6841-3PCC.cfg").unwrap();
        assert_eq!(m.pn, Some("CP-6841-3PCC"));
        assert_eq!(m.mac, None);
        assert!(p.matches("/a/b.cfg").is_none());
        let p = PathPattern::parse("/$PSN.xml").unwrap();
        assert_eq!(p.matches("/8800.xml").unwrap().psn, Some("8800"));
        let p = PathPattern::parse("/$PN/$MA.cfg").unwrap();
        let m = p.matches("/CP-8841-3PCC/00562b043615.cfg").unwrap();
        assert_eq!((m.pn, m.mac), (Some("CP-8841-3PCC"), mac("00562b043615")));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(PathPattern::parse("$MA.cfg").is_err());
        assert!(PathPattern::parse("/$MAU.cfg").is_err());
        assert!(PathPattern::parse("/$XYZ").is_err());
        assert!(PathPattern::parse("/$PN$MA").is_err());
    }

    #[test]
    fn user_agent_of_the_spec_parses() {
        // R-HTTP-3 example.
        let ua = parse_user_agent("Cisco-CP-8841-3PCC/11.0 (00562b043615)").unwrap();
        assert_eq!(ua.model, "CP-8841-3PCC");
        assert_eq!(ua.firmware, "11.0");
        assert_eq!(ua.mac, mac("00562b043615"));
        let ua = parse_user_agent("Cisco-CP-6841-3PCC/12.0.1").unwrap();
        assert_eq!((ua.firmware, ua.mac), ("12.0.1", None));
        assert_eq!(
            parse_user_agent("Cisco-CP-8841-3PCC/11.0 (zz)")
                .unwrap()
                .mac,
            None
        );
        assert!(parse_user_agent("Mozilla/5.0 (X11; Linux x86_64)").is_none());
        let custom = parse_user_agent("Acme-Phone/2.1 (00:56:2b:04:36:15)").unwrap();
        assert_eq!(custom.mac, mac("00562b043615"));
        assert!(parse_user_agent("curl").is_none());
        assert!(parse_user_agent("").is_none());
    }

    #[test]
    fn decode_path_refuses_traversal_in_every_spelling() {
        assert_eq!(decode_path("/a%20b.cfg").unwrap(), "/a b.cfg");
        assert_eq!(decode_path("/../etc/passwd"), Err(BadPath::Traversal));
        assert_eq!(decode_path("/%2e%2e/etc/passwd"), Err(BadPath::Traversal));
        assert_eq!(decode_path("/%2E%2E/x"), Err(BadPath::Traversal));
        assert_eq!(decode_path("/a/..%2f..%2fx"), Err(BadPath::Traversal));
        assert_eq!(decode_path("/..\\x"), Err(BadPath::Malformed));
        assert_eq!(decode_path("/a%5c..%5cx"), Err(BadPath::Malformed));
        assert_eq!(decode_path("/a%00.cfg"), Err(BadPath::Malformed));
        assert_eq!(decode_path("/a%ff.cfg"), Err(BadPath::Malformed));
        assert_eq!(decode_path("/a..b/c").unwrap(), "/a..b/c");
    }
}
