//! One logical request and its retries (R-RESULT, R-HTTP-4): redirects
//! followed at once up to [`MAX_REDIRECTS`] hops, 401/407 answered at most
//! [`MAX_AUTH_ANSWERS`] times, and the classification of every
//! [`FetchResult`] into the outcome classes of the R-RESULT table.

use crate::auth;
use crate::types::{header, Class, Credentials, FetchId, FetchRequest, FetchResult, Purpose};
use phoneprov_rule::{ResolvedUrl, Scheme};

/// 301/302 hops followed for one request; one more is class C.
pub const MAX_REDIRECTS: u32 = 5;
/// 401/407 challenges answered for one request (R-HTTP-4); a third is C.
pub const MAX_AUTH_ANSWERS: u32 = 2;

/// The R-RESULT reading of one fetch result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx or TFTP data: the body, and the HTTP `Content-Encoding` if any.
    Body {
        body: Vec<u8>,
        content_encoding: Option<String>,
    },
    /// 301/302 with a `Location`: fetch there at once.
    Redirect(String),
    /// 401 (`proxy` false) or 407 (`proxy` true) with its challenges.
    Challenge {
        proxy: bool,
        challenges: Vec<String>,
    },
    /// A failure of class B or C; `not_found` marks 404 / TFTP file not
    /// found (what `Resync_Fails_On_FNF = No` forgives).
    Fail {
        class: Class,
        error: String,
        not_found: bool,
    },
}

fn fail(class: Class, error: impl Into<String>) -> Verdict {
    Verdict::Fail {
        class,
        error: error.into(),
        not_found: false,
    }
}

/// Reads a fetch result row by row of the R-RESULT table.
pub fn classify(result: FetchResult) -> Verdict {
    match result {
        FetchResult::Http {
            status,
            headers,
            body,
        } => match status {
            200..=299 => Verdict::Body {
                body,
                content_encoding: header(&headers, "content-encoding").map(str::to_string),
            },
            301 | 302 => match header(&headers, "location") {
                Some(l) if !l.trim().is_empty() => Verdict::Redirect(l.trim().to_string()),
                _ => fail(Class::C, format!("HTTP {status} without a Location header")),
            },
            401 | 407 => {
                let name = if status == 401 {
                    "www-authenticate"
                } else {
                    "proxy-authenticate"
                };
                let challenges = headers
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
                    .collect();
                Verdict::Challenge {
                    proxy: status == 407,
                    challenges,
                }
            }
            404 => Verdict::Fail {
                class: Class::B,
                error: "HTTP 404 file not found".into(),
                not_found: true,
            },
            _ => fail(Class::C, format!("HTTP {status}")),
        },
        FetchResult::TftpOk(body) => Verdict::Body {
            body,
            content_encoding: None,
        },
        FetchResult::TftpNotFound => Verdict::Fail {
            class: Class::B,
            error: "TFTP file not found".into(),
            not_found: true,
        },
        FetchResult::TftpError(e) => fail(Class::C, format!("TFTP error: {e}")),
        FetchResult::Timeout => fail(Class::C, "timeout"),
        FetchResult::ConnectError(e) => fail(Class::C, format!("connection error: {e}")),
        FetchResult::DnsError(e) => fail(Class::C, format!("DNS error: {e}")),
        FetchResult::TlsError(e) => fail(Class::C, format!("TLS error: {e}")),
        FetchResult::Refused(e) => fail(Class::C, format!("refused: {e}")),
    }
}

/// Resolves a `Location` value against the URL that answered: absolute
/// `http(s)://` URLs, or an absolute path on the same server. Anything
/// else is an error (class C).
pub fn resolve_location(base: &ResolvedUrl, location: &str) -> Result<ResolvedUrl, String> {
    if location.starts_with('/') && !location.starts_with("//") {
        return Ok(ResolvedUrl {
            path: location.to_string(),
            ..base.clone()
        });
    }
    let u = url::Url::parse(location)
        .map_err(|e| format!("bad redirect Location `{location}`: {e}"))?;
    let scheme = match u.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        "tftp" => Scheme::Tftp,
        s => return Err(format!("redirect to unsupported scheme `{s}`")),
    };
    let host = match u.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(format!("redirect Location `{location}` has no host")),
    };
    let mut path = u.path().to_string();
    if let Some(q) = u.query() {
        path.push('?');
        path.push_str(q);
    }
    Ok(ResolvedUrl {
        scheme,
        host,
        port: u.port().unwrap_or(scheme.default_port()),
        path,
    })
}

/// A request in flight with its redirect and authentication state.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub id: FetchId,
    pub purpose: Purpose,
    pub url: ResolvedUrl,
    pub method: String,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    /// Further headers (`Content-Encoding` of an encrypted report).
    pub extra_headers: Vec<(String, String)>,
    pub srv: bool,
    /// `--uid/--pwd` or configured credentials for 401.
    pub creds: Option<Credentials>,
    /// Credentials for 407 (proxy).
    pub proxy_creds: Option<Credentials>,
    pub redirects: u32,
    pub auth_answers: u32,
    /// `Authorization` or `Proxy-Authorization` to send.
    pub auth_header: Option<(String, String)>,
    /// The address the last answer came from (`$SERVIP`).
    pub server_ip: Option<String>,
}

/// What to do after a verdict that is not final.
pub enum Retry {
    /// Send the (updated) request again under a new id.
    Again,
    /// Give up with this class and error.
    Fail(Class, String),
}

impl InFlight {
    /// The request the driver performs.
    pub fn request(&self, user_agent: &str) -> FetchRequest {
        let mut headers = vec![("User-Agent".to_string(), user_agent.to_string())];
        if let Some(h) = &self.auth_header {
            headers.push(h.clone());
        }
        if let Some(ct) = &self.content_type {
            headers.push(("Content-Type".to_string(), ct.clone()));
        }
        headers.extend(self.extra_headers.iter().cloned());
        FetchRequest {
            id: self.id,
            purpose: self.purpose,
            url: self.url.clone(),
            method: self.method.clone(),
            headers,
            body: self.body.clone(),
            srv: self.srv,
        }
    }

    /// Follows a redirect (the caller checks the new host's domain).
    pub fn redirect(&mut self, location: &str) -> Retry {
        if self.redirects >= MAX_REDIRECTS {
            return Retry::Fail(
                Class::C,
                format!("more than {MAX_REDIRECTS} redirects (last to {location})"),
            );
        }
        match resolve_location(&self.url, location) {
            Ok(u) => {
                if u.host != self.url.host || u.port != self.url.port {
                    self.auth_header = None;
                }
                self.url = u;
                self.srv = false;
                self.redirects += 1;
                Retry::Again
            }
            Err(e) => Retry::Fail(Class::C, e),
        }
    }

    /// Answers a 401/407 challenge (at most [`MAX_AUTH_ANSWERS`] times).
    pub fn answer(&mut self, proxy: bool, challenges: &[String], cnonce: &str) -> Retry {
        let status = if proxy { 407 } else { 401 };
        if self.auth_answers >= MAX_AUTH_ANSWERS {
            return Retry::Fail(
                Class::C,
                format!(
                    "HTTP {status}: authentication failed after {MAX_AUTH_ANSWERS} answers; check --uid/--pwd"
                ),
            );
        }
        let creds = if proxy {
            self.proxy_creds.as_ref().or(self.creds.as_ref())
        } else {
            self.creds.as_ref()
        };
        let Some(creds) = creds else {
            return Retry::Fail(
                Class::C,
                format!("HTTP {status}: authentication required and no credentials configured"),
            );
        };
        let values: Vec<&str> = challenges.iter().map(String::as_str).collect();
        let req = auth::Request {
            creds,
            method: &self.method,
            uri: &self.url.path,
            body: &self.body,
            cnonce,
            nc: self.auth_answers + 1,
        };
        match auth::answer(&values, &req) {
            Some(v) => {
                let name = if proxy {
                    "Proxy-Authorization"
                } else {
                    "Authorization"
                };
                self.auth_header = Some((name.to_string(), v));
                self.auth_answers += 1;
                Retry::Again
            }
            None => Retry::Fail(
                Class::C,
                format!(
                    "HTTP {status}: no supported challenge (Basic or Digest) in {challenges:?}"
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> FetchResult {
        FetchResult::Http {
            status,
            headers: vec![],
            body: vec![],
        }
    }

    #[test]
    fn r_result_table_rows() {
        let class = |r| match classify(r) {
            Verdict::Fail { class, .. } => Some(class),
            _ => None,
        };
        for s in [
            300, 303, 304, 307, 308, 400, 403, 405, 418, 500, 501, 502, 503, 504, 599, 199,
        ] {
            assert_eq!(class(http(s)), Some(Class::C), "{s}");
        }
        assert_eq!(class(http(404)), Some(Class::B));
        assert_eq!(class(http(301)), Some(Class::C), "301 without Location");
        assert_eq!(class(FetchResult::TftpNotFound), Some(Class::B));
        assert_eq!(class(FetchResult::Timeout), Some(Class::C));
        assert!(matches!(classify(http(200)), Verdict::Body { .. }));
        assert!(matches!(
            classify(http(407)),
            Verdict::Challenge { proxy: true, .. }
        ));
    }

    #[test]
    fn location_forms() {
        let base = ResolvedUrl {
            scheme: Scheme::Http,
            host: "a.example".into(),
            port: 8080,
            path: "/x".into(),
        };
        let u = resolve_location(&base, "/y?z=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("a.example", 8080, "/y?z=1")
        );
        let u = resolve_location(&base, "https://b.example/p").unwrap();
        assert_eq!((u.scheme, u.port), (Scheme::Https, 443));
        assert!(resolve_location(&base, "ftp://b/p").is_err());
        assert!(resolve_location(&base, "not a url").is_err());
    }
}
