//! URLs of the rule dialect (R-RULE-1, R-RULE-5):
//! `[scheme://][server[:port]]/path`.
//!
//! Checked twice: statically at parse time on the raw text (parts holding a
//! `$` macro are left for later, and a URL starting with `$` is not checked at
//! all, since a macro may hold a whole URL), and fully at selection time after
//! macro expansion, when the default server is known. The path is kept as
//! written (no percent-decoding or normalisation): TFTP and HTTP servers get
//! exactly what the administrator wrote.

use crate::error::UrlErrorKind;
use serde::Serialize;
use std::fmt;
use std::ops::Range;

/// Transfer scheme of a resolved URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Tftp,
    Http,
    Https,
    /// Activation-code onboarding (R-RULE-5, R-ACT-2): no server needed.
    Gds,
}

impl Scheme {
    /// Case-insensitive parse of `tftp`, `http`, `https`, `gds`.
    pub fn parse(s: &str) -> Option<Scheme> {
        match s.to_ascii_lowercase().as_str() {
            "tftp" => Some(Scheme::Tftp),
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            "gds" => Some(Scheme::Gds),
            _ => None,
        }
    }

    /// Lowercase name, as in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Tftp => "tftp",
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Gds => "gds",
        }
    }

    /// 69, 80, 443 (R-RULE-1); 0 for gds, which has no port.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Tftp => 69,
            Scheme::Http => 80,
            Scheme::Https => 443,
            Scheme::Gds => 0,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule URL after macro expansion and defaulting; ready to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedUrl {
    pub scheme: Scheme,
    /// Host name or address; IPv6 without brackets; empty for bare `gds://`.
    pub host: String,
    /// Explicit port or the scheme's default (0 for gds).
    pub port: u16,
    /// From the first `/` after the server, as written (may hold `?query`);
    /// empty only for gds.
    pub path: String,
}

impl ResolvedUrl {
    /// `scheme://host[:port]/path`, the port left out when it is the default.
    pub fn to_url_string(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ResolvedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(&self.path)
    }
}

/// A URL problem with its byte range in the URL text.
pub(crate) type UrlProblem = (UrlErrorKind, Range<usize>);

/// Outcome of resolution.
#[derive(Debug)]
pub(crate) enum ResolveError {
    Url(UrlProblem),
    MissingServer,
}

fn is_scheme(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-'))
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        })
}

/// Parses `host[:port]` / `[v6][:port]`; `lenient` skips parts holding `$`.
fn parse_authority(
    a: &str,
    base: usize,
    lenient: bool,
) -> Result<(String, Option<u16>), UrlProblem> {
    let span = base..base + a.len();
    if a.contains('@') {
        return Err((UrlErrorKind::UserInfo, span));
    }
    let (host, port, bracketed) = if let Some(rest) = a.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or((UrlErrorKind::InvalidHost(a.into()), span.clone()))?;
        let v6 = &rest[..close];
        if v6.parse::<std::net::Ipv6Addr>().is_err() && !(lenient && v6.contains('$')) {
            return Err((UrlErrorKind::InvalidHost(a.into()), span));
        }
        let after = &rest[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err((UrlErrorKind::InvalidHost(a.into()), span)),
        };
        (v6, port, true)
    } else {
        match a.split_once(':') {
            Some((h, p)) => (h, Some(p), false),
            None => (a, None, false),
        }
    };
    let checked_later = lenient && host.contains('$');
    if !(bracketed || checked_later || valid_host(host)) {
        return Err((UrlErrorKind::InvalidHost(host.into()), span));
    }
    let port = match port {
        None => None,
        Some(p) if lenient && p.contains('$') => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|c| c.is_ascii_digit()) => Some(n),
            _ => return Err((UrlErrorKind::InvalidPort(p.into()), span)),
        },
    };
    Ok((host.to_string(), port))
}

/// A URL split into its parts, hosts validated.
#[derive(Debug)]
pub(crate) struct Parts {
    pub scheme: Scheme,
    /// `None`: use the default server.
    pub server: Option<(String, Option<u16>)>,
    pub path: String,
}

/// Splits and checks a URL. `lenient` (parse time): parts holding `$` are
/// not checked, and a URL starting with `$` is not checked at all (`Ok(None)`).
pub(crate) fn split(text: &str, srv: bool, lenient: bool) -> Result<Option<Parts>, UrlProblem> {
    let all = 0..text.len();
    if lenient && text.starts_with('$') {
        return Ok(None);
    }
    if let Some((i, c)) = text
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        return Err((UrlErrorKind::BadCharacter(c), i..i + c.len_utf8()));
    }
    let (scheme, rest_at) = match text.find("://") {
        Some(i) if is_scheme(&text[..i]) => {
            let s = Scheme::parse(&text[..i])
                .ok_or_else(|| (UrlErrorKind::UnsupportedScheme(text[..i].into()), 0..i))?;
            (s, i + 3)
        }
        _ => (Scheme::Tftp, 0),
    };
    let explicit_scheme = rest_at > 0;
    if srv && scheme == Scheme::Tftp {
        return Err((UrlErrorKind::SrvWithTftp, all));
    }
    let rest = &text[rest_at..];
    let slash = rest.find('/');
    let (authority, path) = match slash {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if !explicit_scheme {
        let looks_like_server = !authority.starts_with('.')
            && (authority.contains('.')
                || authority.contains(':')
                || authority.starts_with('[')
                || authority.contains('$')
                || authority.eq_ignore_ascii_case("localhost"));
        if slash.is_none() || (!authority.is_empty() && !looks_like_server) {
            return Err((UrlErrorKind::RelativePath, all));
        }
    }
    if path.is_empty() && scheme != Scheme::Gds {
        return Err((UrlErrorKind::MissingPath, all));
    }
    let server = if authority.is_empty() {
        None
    } else {
        Some(parse_authority(authority, rest_at, lenient)?)
    };
    Ok(Some(Parts {
        scheme,
        server,
        path: path.to_string(),
    }))
}

/// Fully resolves an expanded URL against the default server.
pub(crate) fn resolve(
    text: &str,
    default_server: Option<&str>,
    srv: bool,
) -> Result<ResolvedUrl, ResolveError> {
    let parts = split(text, srv, false)
        .map_err(ResolveError::Url)?
        .expect("strict split always gives parts");
    let (host, port) = match parts.server {
        Some(s) => s,
        None if parts.scheme == Scheme::Gds => (String::new(), None),
        None => {
            let d = default_server
                .filter(|d| !d.is_empty())
                .ok_or(ResolveError::MissingServer)?;
            parse_authority(d, 0, false).map_err(|(k, _)| ResolveError::Url((k, 0..text.len())))?
        }
    };
    Ok(ResolvedUrl {
        scheme: parts.scheme,
        host,
        port: port.unwrap_or(parts.scheme.default_port()),
        path: parts.path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> ResolvedUrl {
        resolve(text, Some("10.0.0.1"), false).unwrap()
    }

    fn err(text: &str) -> UrlErrorKind {
        match resolve(text, Some("10.0.0.1"), false) {
            Err(ResolveError::Url((k, _))) => k,
            other => panic!("{text}: expected a URL error, got {other:?}"),
        }
    }

    #[test]
    fn r_rule_1_defaults() {
        let u = r("tftp://192.168.1.200/basic.cfg");
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.path.as_str()),
            (Scheme::Tftp, "192.168.1.200", 69, "/basic.cfg")
        );
        assert_eq!(r("http://s/a").port, 80);
        assert_eq!(r("HTTPS://s/a").port, 443);
        let u = r("/CP.cfg");
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port),
            (Scheme::Tftp, "10.0.0.1", 69)
        );
        let u = r("prov.telco.com:6900/x.cfg");
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port),
            (Scheme::Tftp, "prov.telco.com", 6900)
        );
        assert_eq!(r("tftp:///a.cfg").host, "10.0.0.1");
        assert_eq!(r("localhost/a").host, "localhost");
    }

    #[test]
    fn r_rule_1_display_omits_default_port() {
        assert_eq!(r("tftp://h:69/a").to_url_string(), "tftp://h/a");
        assert_eq!(r("tftp://h:6900/a").to_string(), "tftp://h:6900/a");
        assert_eq!(
            r("https://[2001:db8::1]:8443/a?x=1").to_string(),
            "https://[2001:db8::1]:8443/a?x=1"
        );
        assert_eq!(r("https://[2001:db8::1]/a").host, "2001:db8::1");
    }

    #[test]
    fn r_rule_5_gds() {
        let u = r("gds://");
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.path.as_str()),
            (Scheme::Gds, "", 0, "")
        );
        assert_eq!(u.to_string(), "gds://");
    }

    #[test]
    fn url_errors() {
        assert_eq!(err("basic.cfg"), UrlErrorKind::RelativePath);
        assert_eq!(err("configs/basic.cfg"), UrlErrorKind::RelativePath);
        assert_eq!(err("./basic.cfg"), UrlErrorKind::RelativePath);
        assert_eq!(
            err("ftp://h/a"),
            UrlErrorKind::UnsupportedScheme("ftp".into())
        );
        assert_eq!(err("tftp://h"), UrlErrorKind::MissingPath);
        assert_eq!(err("tftp://h:0/a"), UrlErrorKind::InvalidPort("0".into()));
        assert_eq!(
            err("tftp://h:70000/a"),
            UrlErrorKind::InvalidPort("70000".into())
        );
        assert_eq!(err("tftp://h:+5/a"), UrlErrorKind::InvalidPort("+5".into()));
        assert_eq!(
            err("tftp://a..b/a"),
            UrlErrorKind::InvalidHost("a..b".into())
        );
        assert_eq!(err("http://u:p@h/a"), UrlErrorKind::UserInfo);
        assert_eq!(err("http://h/a b"), UrlErrorKind::BadCharacter(' '));
        assert_eq!(resolve("https://h/a", None, true).unwrap().port, 443);
        assert!(matches!(
            resolve("tftp://h/a", None, true),
            Err(ResolveError::Url((UrlErrorKind::SrvWithTftp, _)))
        ));
        assert!(matches!(
            resolve("/a", None, false),
            Err(ResolveError::MissingServer)
        ));
    }

    #[test]
    fn lenient_split_skips_macros() {
        assert!(split("$A", false, true).unwrap().is_none());
        assert!(split("tftp://$SERV:$PORT/x", false, true).is_ok());
        assert!(split("ata$MA.cfg", false, true).is_err());
    }
}
