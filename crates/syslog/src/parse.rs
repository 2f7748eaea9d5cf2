//! Sans-IO syslog parser: one datagram in, one [`SyslogMessage`] out.
//!
//! Tolerant by design, because phones are not careful senders (R-LOG):
//! - no `<PRI>` or a bad one: PRI 13 (user.notice) and the whole datagram
//!   is the message (RFC 3164 §4.3.3);
//! - `<PRI>1 ` selects RFC 5424; header fields may be `-` or missing, and
//!   anything that is not structured data where SD belongs is taken as the
//!   message;
//! - otherwise RFC 3164: a `Mmm dd hh:mm:ss` (or RFC 3339) timestamp, then
//!   HOSTNAME and a `TAG[pid]:`. Without a timestamp the rest is the
//!   message, which is what the phone's own `$PN $MAC -- …` lines are;
//! - invalid UTF-8 becomes U+FFFD; a UTF-8 BOM before the message and
//!   trailing `\r`, `\n`, NUL are dropped.
//!
//! It never fails and never panics (property test and fuzz target
//! `syslog_parse`): every byte string is some message.

use crate::message::{Format, SdElement, SyslogMessage};

/// PRI used when the datagram has none (RFC 3164 §4.3.3: user.notice).
pub const DEFAULT_PRI: u8 = 13;

/// Parses one syslog datagram. See the module docs for the rules.
pub fn parse(datagram: &[u8]) -> SyslogMessage {
    let text = String::from_utf8_lossy(datagram);
    let text = text.trim_end_matches(['\r', '\n', '\0']);
    let (pri, rest) = match split_pri(text) {
        Some((pri, rest)) => (pri, rest),
        None => (DEFAULT_PRI, text),
    };
    let mut m = SyslogMessage {
        facility: pri / 8,
        severity: pri % 8,
        timestamp: None,
        hostname: None,
        app_name: None,
        proc_id: None,
        msg_id: None,
        structured_data: Vec::new(),
        msg: String::new(),
        format: Format::Rfc3164,
    };
    if let Some(after_version) = rest.strip_prefix("1 ") {
        m.format = Format::Rfc5424;
        parse_5424(after_version, &mut m);
    } else {
        parse_3164(rest, &mut m);
    }
    m
}

/// `<N>` with 1..=3 digits and N ≤ 191; returns PRI and what follows.
fn split_pri(text: &str) -> Option<(u8, &str)> {
    let body = text.strip_prefix('<')?;
    let close = body.bytes().take(4).position(|b| b == b'>')?;
    let digits = &body[..close];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pri: u16 = digits.parse().ok()?;
    if pri > 191 {
        return None;
    }
    Some((pri as u8, &body[close + 1..]))
}

/// Splits off the next space-terminated token (`None` at end of input).
fn token(s: &str) -> Option<(&str, &str)> {
    if s.is_empty() {
        return None;
    }
    match s.find(' ') {
        Some(i) => Some((&s[..i], &s[i + 1..])),
        None => Some((s, "")),
    }
}

fn nil(field: &str) -> Option<String> {
    (field != "-" && !field.is_empty()).then(|| field.to_string())
}

fn parse_5424(mut rest: &str, m: &mut SyslogMessage) {
    let slots: [&mut Option<String>; 5] = [
        &mut m.timestamp,
        &mut m.hostname,
        &mut m.app_name,
        &mut m.proc_id,
        &mut m.msg_id,
    ];
    for slot in slots {
        match token(rest) {
            Some((field, tail)) => {
                *slot = nil(field);
                rest = tail;
            }
            None => return,
        }
    }
    if rest == "-" || rest.starts_with("- ") {
        rest = rest.get(2..).unwrap_or("");
    } else if rest.starts_with('[') {
        // Broken SD is left in place: the text is kept as the message.
        if let Some((elements, tail)) = parse_sd(rest) {
            m.structured_data = elements;
            rest = tail.strip_prefix(' ').unwrap_or(tail);
        }
    }
    m.msg = rest.strip_prefix('\u{feff}').unwrap_or(rest).to_string();
}

/// Parses `[id k="v" …][…]`; returns the elements and the text after them.
fn parse_sd(mut s: &str) -> Option<(Vec<SdElement>, &str)> {
    let mut out = Vec::new();
    while let Some(body) = s.strip_prefix('[') {
        let id_end = body.find([' ', ']'])?;
        let mut el = SdElement {
            id: body[..id_end].to_string(),
            params: Vec::new(),
        };
        let mut cur = &body[id_end..];
        loop {
            if let Some(after) = cur.strip_prefix(']') {
                s = after;
                break;
            }
            cur = cur.strip_prefix(' ')?;
            let eq = cur.find("=\"")?;
            let name = &cur[..eq];
            if name.is_empty() || name.contains([' ', ']', '"']) {
                return None;
            }
            let (value, after) = sd_value(&cur[eq + 2..])?;
            el.params.push((name.to_string(), value));
            cur = after;
        }
        out.push(el);
    }
    Some((out, s))
}

/// A PARAM-VALUE after its opening quote: unescapes `\"`, `\\`, `\]`
/// (a backslash before anything else stays, RFC 5424 §6.3.3) and returns
/// the text after the closing quote.
fn sd_value(s: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &s[i + 1..])),
            '\\' => match chars.clone().next() {
                Some((_, n @ ('"' | '\\' | ']'))) => {
                    value.push(n);
                    chars.next();
                }
                _ => value.push('\\'),
            },
            _ => value.push(c),
        }
    }
    None
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Length of a leading RFC 3164 timestamp `Mmm dd hh:mm:ss` (day space-
/// or zero-padded), if there is one.
fn bsd_timestamp_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.len() < 15 || !MONTHS.iter().any(|m| s.starts_with(m)) || b[3] != b' ' {
        return None;
    }
    let day_ok = (b[4] == b' ' || b[4].is_ascii_digit()) && b[5].is_ascii_digit();
    let time_ok = b[6] == b' '
        && b[7..9].iter().all(u8::is_ascii_digit)
        && b[9] == b':'
        && b[10..12].iter().all(u8::is_ascii_digit)
        && b[12] == b':'
        && b[13..15].iter().all(u8::is_ascii_digit);
    (day_ok && time_ok).then_some(15)
}

/// Length of a leading RFC 3339 timestamp token (`2026-11-21T20:00:00Z`,
/// with fraction and offset), which many "BSD" senders use today.
fn iso_timestamp_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let shape = b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':';
    if !shape {
        return None;
    }
    Some(s.find(' ').unwrap_or(s.len()))
}

fn parse_3164(rest: &str, m: &mut SyslogMessage) {
    let Some(ts_len) = bsd_timestamp_len(rest).or_else(|| iso_timestamp_len(rest)) else {
        m.msg = rest.to_string();
        return;
    };
    m.timestamp = Some(rest[..ts_len].to_string());
    let mut rest = rest[ts_len..].strip_prefix(' ').unwrap_or(&rest[ts_len..]);
    // HOSTNAME, unless the next token is already the tag.
    if let Some((first, tail)) = token(rest) {
        if !first.is_empty() && !is_tag(first) && !tail.is_empty() {
            m.hostname = Some(first.to_string());
            rest = tail;
        }
    }
    if let Some((first, tail)) = token(rest) {
        if is_tag(first) {
            let tag = &first[..first.len() - 1];
            match tag.find('[') {
                Some(open) if tag.ends_with(']') => {
                    m.app_name = Some(tag[..open].to_string()).filter(|t| !t.is_empty());
                    m.proc_id = Some(tag[open + 1..tag.len() - 1].to_string());
                }
                _ => m.app_name = Some(tag.to_string()),
            }
            rest = tail;
        }
    }
    m.msg = rest.to_string();
}

/// A TAG token: `name:` or `name[pid]:` with a name of printable ASCII
/// other than `:[]` (at most 48 bytes, a little over RFC 3164's 32, since
/// real senders exceed it).
fn is_tag(tok: &str) -> bool {
    let Some(body) = tok.strip_suffix(':') else {
        return false;
    };
    let name = match body.find('[') {
        Some(open) => {
            let pid = &body[open + 1..];
            if !pid.ends_with(']') || pid[..pid.len() - 1].contains(['[', ']']) {
                return false;
            }
            &body[..open]
        }
        None => body,
    };
    !name.is_empty()
        && name.len() <= 48
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3164_full_header() {
        let m = parse(b"<134>Nov 21 20:00:01 phone1 prov[42]: Requesting resync x");
        assert_eq!((m.facility, m.severity), (16, 6));
        assert_eq!(m.timestamp.as_deref(), Some("Nov 21 20:00:01"));
        assert_eq!(m.hostname.as_deref(), Some("phone1"));
        assert_eq!(m.app_name.as_deref(), Some("prov"));
        assert_eq!(m.proc_id.as_deref(), Some("42"));
        assert_eq!(m.msg, "Requesting resync x");
        assert_eq!(m.format, Format::Rfc3164);
    }

    #[test]
    fn rfc3164_space_padded_day_and_no_host() {
        let m = parse(b"<13>Jan  1 00:00:12 user: hello\n");
        assert_eq!(m.timestamp.as_deref(), Some("Jan  1 00:00:12"));
        assert_eq!(m.hostname, None);
        assert_eq!(m.app_name.as_deref(), Some("user"));
        assert_eq!(m.msg, "hello");
    }

    #[test]
    fn rfc3164_host_without_tag() {
        let m = parse(b"<134>Nov 21 20:00:01 ATA192-MPP 00:0e:08:ab:cd:ef -- Successful resync");
        assert_eq!(m.hostname.as_deref(), Some("ATA192-MPP"));
        assert_eq!(m.app_name, None);
        assert_eq!(m.msg, "00:0e:08:ab:cd:ef -- Successful resync");
    }

    /// R-LOG-3: the phone sends its template text right after the PRI;
    /// with no timestamp the whole rest is the message (RFC 3164 §4.3.3).
    #[test]
    fn r_log_3_phone_line_without_header_is_all_message() {
        let line =
            "<134>ATA192-MPP 00:0e:08:ab:cd:ef –- Successful resync tftp://192.168.1.200/basic.txt";
        let m = parse(line.as_bytes());
        assert_eq!(m.severity, 6);
        assert_eq!(m.timestamp, None);
        assert_eq!(m.hostname, None);
        assert_eq!(
            m.msg,
            "ATA192-MPP 00:0e:08:ab:cd:ef –- Successful resync tftp://192.168.1.200/basic.txt"
        );
    }

    #[test]
    fn no_or_bad_pri_is_user_notice_and_all_message() {
        for raw in ["plain text", "<999>x", "<>x", "<1a>x", "<13", ""] {
            let m = parse(raw.as_bytes());
            assert_eq!((m.facility, m.severity), (1, 5), "{raw}");
            assert_eq!(m.msg, raw, "{raw}");
        }
    }

    #[test]
    fn rfc5424_with_sd_and_bom() {
        let raw = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 \
                   [exampleSDID@32473 iut=\"3\" eventSource=\"Appli\\\"cation\"][x@1] \u{feff}An application event";
        let m = parse(raw.as_bytes());
        assert_eq!(m.format, Format::Rfc5424);
        assert_eq!((m.facility, m.severity), (20, 5));
        assert_eq!(m.timestamp.as_deref(), Some("2003-10-11T22:14:15.003Z"));
        assert_eq!(m.hostname.as_deref(), Some("mymachine.example.com"));
        assert_eq!(m.app_name.as_deref(), Some("evntslog"));
        assert_eq!(m.proc_id, None);
        assert_eq!(m.msg_id.as_deref(), Some("ID47"));
        assert_eq!(m.structured_data.len(), 2);
        assert_eq!(m.structured_data[0].params[1].1, "Appli\"cation");
        assert_eq!(m.structured_data[1].id, "x@1");
        assert_eq!(m.msg, "An application event");
    }

    #[test]
    fn rfc5424_nil_sd_and_truncated_header() {
        let m = parse(b"<14>1 - - - - - - hi there");
        assert_eq!(m.msg, "hi there");
        assert!(m.structured_data.is_empty());
        let m = parse(b"<14>1 2026-01-01T00:00:00Z host");
        assert_eq!(m.hostname.as_deref(), Some("host"));
        assert_eq!(m.msg, "");
        let m = parse(b"<14>1 - - - - - -not-sd");
        assert_eq!(m.msg, "-not-sd");
        let m = parse(b"<14>1 - - - - - [broken sd");
        assert_eq!(m.msg, "[broken sd");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let m = parse(b"<13>\xff\xfe hi");
        assert_eq!(m.msg, "\u{fffd}\u{fffd} hi");
    }
}
