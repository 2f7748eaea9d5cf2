//! Session cookie helpers for the ACS shell.
//!
//! A CWMP session is one TCP connection in the simple case, but CPEs may
//! reconnect between POSTs; TR-069 (3.4.1) asks the ACS to use an HTTP
//! cookie to tie those POSTs to the same session. The shell keys its
//! [`crate::AcsSession`]s by connection first, then by this cookie. The
//! machine itself never sees HTTP headers, so these are plain functions;
//! randomness comes from the caller (sans-IO: no RNG in this crate).

/// `Content-Type` of non-empty CWMP bodies, both directions.
pub const CONTENT_TYPE: &str = "text/xml; charset=\"utf-8\"";

/// Name of the session cookie the ACS sets.
pub const COOKIE_NAME: &str = "phoneprov_cwmp";

/// A cookie value from 16 random bytes (from the shell's CSPRNG), as 32
/// lowercase hex digits.
pub fn new_cookie_value(random: [u8; 16]) -> String {
    random.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Set-Cookie` header value for a session cookie. No `Secure` flag:
/// the same ACS may be reached over plain HTTP on a lab network; the shell
/// appends `; Secure` when it serves TLS.
pub fn set_cookie_header(value: &str) -> String {
    format!("{COOKIE_NAME}={value}; Path=/; HttpOnly")
}

/// The session cookie's value in a `Cookie` request header, if present.
pub fn cookie_from_header(header: &str) -> Option<&str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == COOKIE_NAME).then(|| v.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_round_trips_through_headers() {
        let v = new_cookie_value([0xab; 16]);
        assert_eq!(v.len(), 32);
        let set = set_cookie_header(&v);
        let sent = set.split(';').next().unwrap();
        assert_eq!(
            cookie_from_header(&format!("other=1; {sent}")),
            Some(v.as_str())
        );
        assert_eq!(cookie_from_header("other=1"), None);
    }
}
