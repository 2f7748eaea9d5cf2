//! SIP requests to the phone (R-RULE-6): the message parser, the framing
//! of a stream, and the response builder, sans-IO.
//!
//! The phone answers `NOTIFY` with `Event: check-sync` (optionally
//! `;reboot=true`) and `Event: resync` by resyncing when `Resync_From_SIP`
//! is Yes (200 OK; 403 when No), a `NOTIFY` whose body is a
//! `<CP-xxxx-3PCCExecute>` object by running its items, any other event by
//! 489 Bad Event (RFC 6665 §8.2.1), a `NOTIFY` without `Event` by 400, and
//! `OPTIONS` by 200. The decisions are [`crate::Device`]'s; this module
//! only reads and writes messages.
//!
//! # Why hand-written
//! The phone needs the request line, a handful of headers (`Via`, `From`,
//! `To`, `Call-ID`, `CSeq`, `Event`, `Content-Length`, `Authorization`)
//! and the body, and must copy `Via`/`From`/`To`/`Call-ID`/`CSeq` into the
//! answer (RFC 3261 §8.2.6.2). The maintained SIP crates either bring a
//! parser-combinator stack and a full header model for this (`rsip`), or
//! are whole user agents. This parser is ~150 lines with hard limits
//! ([`MAX_MESSAGE`], [`MAX_HEADERS`]), covered by a fuzz target
//! (`fuzz/fuzz_targets/sip_request.rs`) and a corpus replay test.

use serde::Serialize;

/// The largest SIP message the phone reads (headers and body); a bigger
/// one is refused with 513 Message Too Large (RFC 3261 §21.5.14).
pub const MAX_MESSAGE: usize = 16 * 1024;
/// The most header lines the phone reads.
pub const MAX_HEADERS: usize = 64;

/// How a SIP request reached the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SipTransport {
    Udp,
    Tcp,
}

/// One SIP message received by the executor ([`crate::Input::Sip`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipInput {
    pub transport: SipTransport,
    /// The sender's `ip:port`.
    pub peer: String,
    /// The executor's token for the connection (TCP) or socket (UDP); the
    /// answer carries it back.
    pub conn: u64,
    /// The whole message (one datagram, or one framed message of a stream).
    pub bytes: Vec<u8>,
}

/// A SIP response for the executor to send ([`crate::Action::SipResponse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipOutput {
    pub transport: SipTransport,
    pub peer: String,
    pub conn: u64,
    pub bytes: Vec<u8>,
}

/// Why bytes are not a SIP request the phone can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipError {
    #[error("the message is larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("the message ends inside its header (no blank line after the headers)")]
    Incomplete,
    #[error("the message is not UTF-8 text in its header")]
    NotText,
    #[error("bad start line {0:?}; expected `METHOD sip:URI SIP/2.0` or `SIP/2.0 CODE REASON`")]
    RequestLine(String),
    #[error("bad header line {0:?}; expected `Name: value`")]
    Header(String),
    #[error("more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    #[error("bad Content-Length {0:?}")]
    ContentLength(String),
    #[error("the body is shorter ({got} bytes) than its Content-Length ({want})")]
    ShortBody { got: usize, want: usize },
    #[error("the request has no {0} header; RFC 3261 requires Via, From, To, Call-ID and CSeq")]
    Missing(&'static str),
}

/// A parsed SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipRequest {
    pub method: String,
    pub uri: String,
    /// Header lines in order, compact forms expanded (`v` → `Via`, …).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// RFC 3261 §7.3.3 compact header names the phone reads.
fn expand(name: &str) -> &str {
    match name {
        "v" | "V" => "Via",
        "f" | "F" => "From",
        "t" | "T" => "To",
        "i" | "I" => "Call-ID",
        "l" | "L" => "Content-Length",
        "c" | "C" => "Content-Type",
        "o" | "O" => "Event",
        "m" | "M" => "Contact",
        _ => name,
    }
}

fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// The first message of a stream once its head is complete: leading CRLF
/// keep-alives, the head's length and the declared body length.
fn frame(buf: &[u8]) -> Result<Option<(usize, usize, usize)>, SipError> {
    let skip = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    let rest = &buf[skip..];
    let Some(end) = head_end(rest) else {
        return if rest.len() > MAX_MESSAGE {
            Err(SipError::TooLarge)
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&rest[..end]).map_err(|_| SipError::NotText)?;
    let mut len = 0usize;
    for line in head.split("\r\n").skip(1) {
        if let Some((n, v)) = line.split_once(':') {
            if expand(n.trim()).eq_ignore_ascii_case("Content-Length") {
                len = v
                    .trim()
                    .parse()
                    .map_err(|_| SipError::ContentLength(v.trim().to_string()))?;
            }
        }
    }
    Ok(Some((skip, end, len)))
}

/// Stream framing (SIP over TCP, RFC 3261 §18.3): the length of the first
/// whole message in `buf`, `Ok(None)` while more bytes are needed.
/// Leading CRLF keep-alives are counted in the length.
pub fn message_len(buf: &[u8]) -> Result<Option<usize>, SipError> {
    let Some((skip, end, len)) = frame(buf)? else {
        return Ok(None);
    };
    if end.saturating_add(len) > MAX_MESSAGE {
        return Err(SipError::TooLarge);
    }
    Ok((buf.len() - skip >= end + len).then_some(skip + end + len))
}

/// For a stream whose first message [`message_len`] refused as too large
/// but whose head is complete and readable: the length of that head
/// (leading CRLFs included) and of the whole declared message. A reader
/// hands the head on (the phone answers it 513 Message Too Large, RFC 3261
/// §21.5.14), skips the declared body and keeps framing the stream;
/// `None` when there is no such head (the stream cannot be framed).
pub fn oversize_frame(buf: &[u8]) -> Option<(usize, usize)> {
    let (skip, end, len) = frame(buf).ok()??;
    (end.saturating_add(len) > MAX_MESSAGE).then(|| (skip + end, (skip + end).saturating_add(len)))
}

impl SipRequest {
    /// Parses one whole request (a datagram, or what [`message_len`] framed).
    pub fn parse(bytes: &[u8]) -> Result<SipRequest, SipError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(SipError::TooLarge);
        }
        let (mut req, rest) = SipRequest::parse_head(bytes)?;
        req.body = match req.header("Content-Length") {
            Some(v) => {
                let want: usize = v.parse().map_err(|_| SipError::ContentLength(shorten(v)))?;
                // Declared too large: refused whether or not the body came
                // (a stream reader hands on only the head of such a message).
                if (bytes.len() - rest.len()).saturating_add(want) > MAX_MESSAGE {
                    return Err(SipError::TooLarge);
                }
                if rest.len() < want {
                    return Err(SipError::ShortBody {
                        got: rest.len(),
                        want,
                    });
                }
                rest[..want].to_vec()
            }
            None => rest.to_vec(),
        };
        Ok(req)
    }

    /// Parses the request line and headers only (the body stays empty),
    /// with what follows them: enough to answer a request whose body is
    /// refused (513).
    pub fn parse_head(bytes: &[u8]) -> Result<(SipRequest, &[u8]), SipError> {
        let start = bytes
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        let bytes = &bytes[start..];
        let end = head_end(bytes).ok_or(SipError::Incomplete)?;
        let head = std::str::from_utf8(&bytes[..end - 4]).map_err(|_| SipError::NotText)?;
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let mut parts = first.split(' ');
        let (Some(method), Some(uri), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SipError::RequestLine(shorten(first)));
        };
        let token_ok = !method.is_empty()
            && method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));
        if !token_ok || uri.is_empty() || !version.eq_ignore_ascii_case("SIP/2.0") {
            return Err(SipError::RequestLine(shorten(first)));
        }
        let headers = parse_headers(lines)?;
        let rest = &bytes[end..];
        for h in ["Via", "From", "To", "Call-ID", "CSeq"] {
            if header(&headers, h).is_none() {
                return Err(SipError::Missing(h));
            }
        }
        Ok((
            SipRequest {
                method: method.to_string(),
                uri: uri.to_string(),
                headers,
                body: Vec::new(),
            },
            rest,
        ))
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The request as sent: start line, the headers in order,
    /// `Content-Length` of the body (any given one is replaced), the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("{} {} SIP/2.0\r\n", self.method, self.uri);
        for (k, v) in &self.headers {
            if !k.eq_ignore_ascii_case("Content-Length") {
                s.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut b = s.into_bytes();
        b.extend_from_slice(&self.body);
        b
    }

    /// The `Event` package (`check-sync` of `check-sync;reboot=true`),
    /// lowercase, and its parameters.
    pub fn event(&self) -> Option<(String, Vec<(String, String)>)> {
        let v = self.header("Event")?;
        let mut parts = v.split(';');
        let pkg = parts.next()?.trim().to_ascii_lowercase();
        let params = parts
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (
                    k.trim().to_ascii_lowercase(),
                    v.trim().trim_matches('"').to_ascii_lowercase(),
                ),
                None => (p.trim().to_ascii_lowercase(), String::new()),
            })
            .collect();
        Some((pkg, params))
    }

    /// A response to this request (RFC 3261 §8.2.6): status line, the
    /// request's `Via`, `From`, `To` (with a tag added when it has none),
    /// `Call-ID` and `CSeq`, then `extra` headers, `Content-Length: 0`.
    pub fn response(
        &self,
        code: u16,
        reason: &str,
        to_tag: &str,
        extra: &[(&str, String)],
    ) -> Vec<u8> {
        let mut s = format!("SIP/2.0 {code} {reason}\r\n");
        for (k, v) in &self.headers {
            if k.eq_ignore_ascii_case("Via") {
                s.push_str(&format!("Via: {v}\r\n"));
            }
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            let mut v = self.header(name).unwrap_or_default().to_string();
            if name == "To" && code > 100 && !v.to_ascii_lowercase().contains(";tag=") {
                v.push_str(";tag=");
                v.push_str(to_tag);
            }
            s.push_str(&format!("{name}: {v}\r\n"));
        }
        for (k, v) in extra {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s.into_bytes()
    }
}

/// The fuzz target's entry (`fuzz/fuzz_targets/sip_request.rs`) and the
/// corpus replay test's: parses `data` as a datagram and as a stream,
/// and checks what must hold for any input. Returns the parse result.
pub fn fuzz_entry(data: &[u8]) -> Result<SipRequest, SipError> {
    let r = SipRequest::parse(data);
    if let Ok(req) = &r {
        // An answer to anything parsed is itself well formed.
        let resp = req.response(400, "Bad Request", "t", &[]);
        let text = std::str::from_utf8(&resp).expect("answers are text");
        assert!(text.starts_with("SIP/2.0 400 Bad Request\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
        assert!(req.body.len() <= data.len());
        let _ = req.event();
    }
    if let Ok(Some(n)) = message_len(data) {
        assert!(n <= data.len());
        // The framed message parses like a datagram would, panic-free.
        let _ = SipRequest::parse(&data[..n]);
    }
    r
}

/// A SIP response (what a sender of requests reads back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipResponse {
    pub code: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl SipResponse {
    /// Parses a response's status line and headers (the body is skipped).
    pub fn parse(bytes: &[u8]) -> Result<SipResponse, SipError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(SipError::TooLarge);
        }
        let end = head_end(bytes).ok_or(SipError::Incomplete)?;
        let head = std::str::from_utf8(&bytes[..end - 4]).map_err(|_| SipError::NotText)?;
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let mut parts = first.splitn(3, ' ');
        let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
            return Err(SipError::RequestLine(shorten(first)));
        };
        let code: u16 = match code.parse() {
            Ok(c) if (100..700).contains(&c) && version.eq_ignore_ascii_case("SIP/2.0") => c,
            _ => return Err(SipError::RequestLine(shorten(first))),
        };
        Ok(SipResponse {
            code,
            reason: parts.next().unwrap_or_default().to_string(),
            headers: parse_headers(lines)?,
        })
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Every value of the header with this name.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl SipResponse {
    /// The answer to this response when it is a 401/407 Digest challenge
    /// (RFC 3261 §22.2/§22.3): the header to add (`Authorization` or
    /// `Proxy-Authorization`) and its value for `method` to `uri` with
    /// `creds` (`phoneprov-httpauth`, the HTTP client's code); `None` for
    /// any other response or a challenge the phone cannot answer.
    pub fn digest_answer(
        &self,
        creds: &phoneprov_httpauth::Credentials,
        method: &str,
        uri: &str,
        body: &[u8],
        cnonce: &str,
    ) -> Option<(&'static str, String)> {
        use phoneprov_httpauth::{authorization, best_challenge, parse_challenges};
        let (asked, answer) = match self.code {
            401 => ("WWW-Authenticate", "Authorization"),
            407 => ("Proxy-Authenticate", "Proxy-Authorization"),
            _ => return None,
        };
        let all: Vec<_> = self
            .header_all(asked)
            .filter_map(|v| parse_challenges(v).ok())
            .flatten()
            .collect();
        let ch = best_challenge(&all)?;
        Some((
            answer,
            authorization(ch, creds, method, uri, body, cnonce, 1),
        ))
    }
}

/// Header lines, folded continuations joined, compact names expanded.
fn parse_headers<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> Result<Vec<(String, String)>, SipError> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // Folded continuation (RFC 3261 §7.3.1).
            let Some(last) = headers.last_mut() else {
                return Err(SipError::Header(shorten(line)));
            };
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(SipError::Header(shorten(line)));
        };
        let name = name.trim();
        if name.is_empty() || name.contains(' ') {
            return Err(SipError::Header(shorten(line)));
        }
        if headers.len() >= MAX_HEADERS {
            return Err(SipError::TooManyHeaders);
        }
        headers.push((expand(name).to_string(), value.trim().to_string()));
    }
    Ok(headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTIFY: &str = "NOTIFY sip:000e08abcdef@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nf: <sip:pbx@127.0.0.1>;tag=1\r\nTo: <sip:000e08abcdef@127.0.0.1>\r\nCall-ID: abc@127.0.0.1\r\nCSeq: 1 NOTIFY\r\nEvent: check-sync;reboot=true\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn r_rule_6_parses_notify_and_builds_its_answer() {
        let r = SipRequest::parse(NOTIFY.as_bytes()).unwrap();
        assert_eq!(r.method, "NOTIFY");
        assert_eq!(r.header("from"), Some("<sip:pbx@127.0.0.1>;tag=1"));
        let (pkg, params) = r.event().unwrap();
        assert_eq!(pkg, "check-sync");
        assert_eq!(params, vec![("reboot".to_string(), "true".to_string())]);
        let resp = String::from_utf8(r.response(200, "OK", "t1", &[])).unwrap();
        assert!(
            resp.starts_with(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
            ),
            "{resp}"
        );
        assert!(
            resp.contains("To: <sip:000e08abcdef@127.0.0.1>;tag=t1\r\n"),
            "{resp}"
        );
        assert!(resp.contains("CSeq: 1 NOTIFY\r\n"), "{resp}");
    }

    #[test]
    fn stream_framing_waits_for_the_body() {
        let msg = NOTIFY.replace("Content-Length: 0", "Content-Length: 5");
        let whole = format!("{msg}hello");
        assert_eq!(message_len(&whole.as_bytes()[..20]), Ok(None));
        assert_eq!(message_len(&whole.as_bytes()[..whole.len() - 1]), Ok(None));
        let mut two = whole.clone().into_bytes();
        two.extend_from_slice(whole.as_bytes());
        assert_eq!(message_len(&two), Ok(Some(whole.len())));
        assert_eq!(SipRequest::parse(whole.as_bytes()).unwrap().body, b"hello");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for (bytes, want) in [
            (&b"hello"[..], "blank line"),
            (b"NOTIFY sip:x\r\n\r\n", "start line"),
            (b"NOTIFY sip:x SIP/2.0\r\nVia x\r\n\r\n", "header line"),
            (b"NOTIFY sip:x SIP/2.0\r\nVia: x\r\n\r\n", "From"),
        ] {
            let e = SipRequest::parse(bytes).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        for (len, want) in [("99", "shorter"), ("-1", "Content-Length")] {
            let m = format!(
                "{}ab",
                NOTIFY.replace("Content-Length: 0", &format!("l: {len}"))
            );
            let e = SipRequest::parse(m.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        let huge = format!("{}{}", NOTIFY, "x".repeat(MAX_MESSAGE));
        assert_eq!(SipRequest::parse(huge.as_bytes()), Err(SipError::TooLarge));
        let big = NOTIFY.replace("Content-Length: 0", "Content-Length: 100000");
        assert_eq!(message_len(big.as_bytes()), Err(SipError::TooLarge));
        // Its head is what a stream reader hands on: too large to parse,
        // and framed so the body can be skipped.
        let head_end = big.find("\r\n\r\n").unwrap() + 4;
        assert_eq!(
            SipRequest::parse(&big.as_bytes()[..head_end]),
            Err(SipError::TooLarge)
        );
        assert_eq!(
            oversize_frame(format!("\r\n{big}").as_bytes()),
            Some((head_end + 2, head_end + 2 + 100000))
        );
        assert_eq!(oversize_frame(&big.as_bytes()[..head_end - 1]), None);
        assert_eq!(oversize_frame(NOTIFY.as_bytes()), None);
    }
}
