//! The phone's HTTP proxy settings (R-SEC-4), sans-IO: which mode
//! `Proxy_Mode` selects, where the PAC file is (`PAC_URL`, or WPAD: DHCP
//! option 252, else `http://wpad.<domain>/wpad.dat`), and the parser of
//! what `FindProxyForURL(url, host)` returns (`DIRECT`, `PROXY host:port`,
//! `;`-separated, tried in order: fail-over).
//!
//! The PAC script itself is evaluated by `phoneprov-transport` (a
//! JavaScript engine, boa); this module holds only what needs no I/O.
//!
//! **Decisions**:
//! - A result entry `PROXY host` without a port uses port 80 (the HTTP
//!   default, as browsers do). `HTTP host:port` is read like `PROXY`.
//! - `HTTPS`, `SOCKS`, `SOCKS4` and `SOCKS5` entries are skipped (the
//!   phone's provisioning client speaks only to HTTP proxies); a result
//!   with nothing usable left is an error.
//! - Any other keyword, a bad host or port, an empty result, more than
//!   [`MAX_ENTRIES`] entries or more than [`MAX_RESULT_LEN`] bytes is an
//!   error: the caller shows a status line and goes `DIRECT` (as when the
//!   PAC file cannot be fetched or throws).

use crate::ParamStore;

/// Longest `FindProxyForURL` result read.
pub const MAX_RESULT_LEN: usize = 4096;
/// Most entries of one result.
pub const MAX_ENTRIES: usize = 16;

/// One entry of a PAC result.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProxyChoice {
    /// Connect to the origin server.
    Direct,
    /// Through the HTTP proxy at `host:port`.
    Proxy {
        /// Name or address (an IPv6 address without brackets).
        host: String,
        /// TCP port.
        port: u16,
    },
}

impl std::fmt::Display for ProxyChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyChoice::Direct => f.write_str("DIRECT"),
            ProxyChoice::Proxy { host, port } if host.contains(':') => {
                write!(f, "PROXY [{host}]:{port}")
            }
            ProxyChoice::Proxy { host, port } => write!(f, "PROXY {host}:{port}"),
        }
    }
}

/// Why a PAC result was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacResultError {
    /// Nothing but white space.
    #[error("FindProxyForURL returned an empty result")]
    Empty,
    /// Longer than [`MAX_RESULT_LEN`] or more than [`MAX_ENTRIES`] entries.
    #[error("FindProxyForURL returned a result longer than {MAX_RESULT_LEN} bytes or {MAX_ENTRIES} entries")]
    TooLong,
    /// An entry that is not `DIRECT`, `PROXY host[:port]` or a skipped kind.
    #[error("FindProxyForURL returned {0:?}, which is not DIRECT or PROXY host:port")]
    Garbage(String),
    /// Only entries the phone cannot use (`SOCKS`, `HTTPS`).
    #[error("FindProxyForURL returned only proxies the phone cannot use (SOCKS/HTTPS): {0:?}")]
    NothingUsable(String),
}

/// Parses a `FindProxyForURL` result into the choices to try in order.
pub fn parse_pac_result(s: &str) -> Result<Vec<ProxyChoice>, PacResultError> {
    if s.len() > MAX_RESULT_LEN {
        return Err(PacResultError::TooLong);
    }
    let mut out = Vec::new();
    let mut seen = 0usize;
    for entry in s.split(';') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        seen += 1;
        if seen > MAX_ENTRIES {
            return Err(PacResultError::TooLong);
        }
        let garbage = || PacResultError::Garbage(entry.to_string());
        let mut words = entry.split_ascii_whitespace();
        let kind = words.next().ok_or_else(garbage)?.to_ascii_uppercase();
        let target = words.next();
        if words.next().is_some() {
            return Err(garbage());
        }
        match (kind.as_str(), target) {
            ("DIRECT", None) => out.push(ProxyChoice::Direct),
            ("PROXY" | "HTTP", Some(t)) => {
                let (host, port) = host_port(t, 80).ok_or_else(garbage)?;
                out.push(ProxyChoice::Proxy { host, port });
            }
            ("HTTPS" | "SOCKS" | "SOCKS4" | "SOCKS5", Some(t)) if host_port(t, 80).is_some() => {}
            _ => return Err(garbage()),
        }
    }
    if seen == 0 {
        return Err(PacResultError::Empty);
    }
    if out.is_empty() {
        return Err(PacResultError::NothingUsable(s.trim().to_string()));
    }
    out.dedup();
    Ok(out)
}

/// `host[:port]`, `[v6][:port]`; `default` when the port is absent.
pub(crate) fn host_port(t: &str, default: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = t.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        h.parse::<std::net::Ipv6Addr>().ok()?;
        match after {
            "" => (h, None),
            p => (h, Some(p.strip_prefix(':')?)),
        }
    } else {
        match t.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (t, None),
        }
    };
    let ok_host = !host.is_empty()
        && host.len() <= 253
        && (host.contains(':')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'));
    if !ok_host {
        return None;
    }
    let port = match port {
        None => default,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return None,
        },
    };
    Some((host.to_string(), port))
}

/// What `Proxy_Mode` selects (R-SEC-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyMode {
    /// `Off` (the default) or anything unknown: no proxy.
    Off,
    /// `Manual`: `Proxy_Host`/`Proxy_Port` (the transport reads them).
    Manual,
    /// `Auto`: a PAC file, from `PAC_URL` or WPAD.
    Auto(PacSource),
}

/// Where an `Auto` phone's PAC file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacSource {
    /// `Use_Auto_Discovery__WPAD_=Yes` (the default): DHCP option 252,
    /// else `http://wpad.<domain>/wpad.dat` with the DHCP domain.
    Wpad,
    /// `Use_Auto_Discovery__WPAD_=No`: this `PAC_URL` (empty: none set).
    Url(String),
}

/// The mode the parameters select.
pub fn proxy_mode(params: &ParamStore) -> ProxyMode {
    let mode = params
        .get_or_empty("Proxy_Mode")
        .trim()
        .to_ascii_lowercase();
    match mode.as_str() {
        "manual" => ProxyMode::Manual,
        "auto" if params.get_bool("Use_Auto_Discovery__WPAD_", true) => {
            ProxyMode::Auto(PacSource::Wpad)
        }
        "auto" => ProxyMode::Auto(PacSource::Url(
            params.get_or_empty("PAC_URL").trim().to_string(),
        )),
        _ => ProxyMode::Off,
    }
}

/// The WPAD URL: DHCP option 252 when the lease has one, else
/// `http://wpad.<domain>/wpad.dat` for the DHCP domain (option 15);
/// `None` with neither.
pub fn wpad_url(option_252: Option<&str>, domain: Option<&str>) -> Option<String> {
    if let Some(u) = option_252.map(str::trim).filter(|u| !u.is_empty()) {
        return Some(u.to_string());
    }
    let d = domain?.trim().trim_end_matches('.');
    (!d.is_empty()).then(|| format!("http://wpad.{d}/wpad.dat"))
}

/// The fuzz target's entry (`fuzz/fuzz_targets/pac_result.rs`) and the
/// corpus replay test's: parses `data` as a PAC result and checks what
/// must hold for any input.
pub fn fuzz_entry(data: &[u8]) -> Result<Vec<ProxyChoice>, PacResultError> {
    let s = String::from_utf8_lossy(data);
    let r = parse_pac_result(&s);
    if let Ok(choices) = &r {
        assert!(!choices.is_empty() && choices.len() <= MAX_ENTRIES);
        // The choices printed back parse to themselves.
        let text: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
        let again = parse_pac_result(&text.join("; ")).expect("printed choices parse");
        assert_eq!(&again, choices);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(h: &str, p: u16) -> ProxyChoice {
        ProxyChoice::Proxy {
            host: h.into(),
            port: p,
        }
    }

    #[test]
    fn r_sec_4_pac_results() {
        assert_eq!(parse_pac_result("DIRECT"), Ok(vec![ProxyChoice::Direct]));
        assert_eq!(
            parse_pac_result(" PROXY p1.lan:3128; proxy 10.0.0.2:8080 ;DIRECT; "),
            Ok(vec![
                px("p1.lan", 3128),
                px("10.0.0.2", 8080),
                ProxyChoice::Direct
            ])
        );
        assert_eq!(parse_pac_result("PROXY p"), Ok(vec![px("p", 80)]));
        assert_eq!(
            parse_pac_result("PROXY [2001:db8::1]:3128"),
            Ok(vec![px("2001:db8::1", 3128)])
        );
        assert_eq!(
            parse_pac_result("SOCKS s:1080; PROXY p:1"),
            Ok(vec![px("p", 1)])
        );
        assert!(matches!(
            parse_pac_result("SOCKS5 s:1080"),
            Err(PacResultError::NothingUsable(_))
        ));
        assert_eq!(parse_pac_result("  ; "), Err(PacResultError::Empty));
        for bad in [
            "undefined",
            "PROXY",
            "DIRECT x",
            "PROXY a b",
            "PROXY h:0",
            "PROXY h:99999",
            "PROXY h:+1",
            "PROXY bad/host:1",
            "PROXY [zz]:1",
            "[object Object]",
        ] {
            assert!(
                matches!(parse_pac_result(bad), Err(PacResultError::Garbage(_))),
                "{bad}"
            );
        }
        let many = vec!["DIRECT"; MAX_ENTRIES + 1].join(";");
        assert_eq!(parse_pac_result(&many), Err(PacResultError::TooLong));
        assert_eq!(
            parse_pac_result(&"x".repeat(MAX_RESULT_LEN + 1)),
            Err(PacResultError::TooLong)
        );
        assert_eq!(px("::1", 1).to_string(), "PROXY [::1]:1");
    }

    #[test]
    fn r_sec_4_mode_and_wpad() {
        let mut p = ParamStore::new();
        assert_eq!(proxy_mode(&p), ProxyMode::Off);
        p.set("Proxy_Mode", "Auto");
        assert_eq!(proxy_mode(&p), ProxyMode::Auto(PacSource::Wpad));
        p.set("Use_Auto_Discovery__WPAD_", "No");
        p.set("PAC_URL", " http://pac.lan/p.pac ");
        assert_eq!(
            proxy_mode(&p),
            ProxyMode::Auto(PacSource::Url("http://pac.lan/p.pac".into()))
        );
        p.set("Proxy_Mode", "manual");
        assert_eq!(proxy_mode(&p), ProxyMode::Manual);
        assert_eq!(
            wpad_url(Some("http://x/y.pac"), Some("a.test")).as_deref(),
            Some("http://x/y.pac")
        );
        assert_eq!(
            wpad_url(None, Some("a.test.")).as_deref(),
            Some("http://wpad.a.test/wpad.dat")
        );
        assert_eq!(wpad_url(Some(" "), None), None);
    }
}
