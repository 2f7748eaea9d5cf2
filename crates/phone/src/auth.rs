//! Answers to HTTP 401/407 challenges (R-HTTP-4): Basic and Digest
//! (RFC 7617, RFC 7616: MD5 and SHA-256, `qop=auth`/`auth-int`, or the
//! RFC 2069 form without qop).
//!
//! This is a small adapter: the engine calls only [`answer`]. It is
//! hand-written because `phoneprov-httpauth` (the workspace's shared
//! sans-IO Basic/Digest crate) was still a placeholder when this crate was
//! written; once it ships `parse_challenges`/`best_challenge`/
//! `authorization`, `answer` should delegate to it and this file shrinks
//! to the call.

use crate::types::Credentials;
use base64::Engine as _;
use md5::Md5;
use sha2::{Digest as _, Sha256};

/// One parsed challenge: scheme and its parameters (names lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses one `WWW-Authenticate` / `Proxy-Authenticate` value. Several
/// challenges in one value are split at a scheme token that follows a comma.
pub fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        // A token followed by whitespace (or end) starts a challenge; a
        // token followed by '=' is a parameter of the current one.
        let tok_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let tok = &rest[..tok_end];
        let after = rest[tok_end..].trim_start();
        if tok.is_empty() {
            rest = rest[1..].trim_start();
            continue;
        }
        if !after.starts_with('=') || out.is_empty() {
            if after.starts_with('=') {
                // token68 or garbage before any scheme: skip it.
                rest = after.trim_start_matches('=').trim_start();
                continue;
            }
            out.push(Challenge {
                scheme: tok.to_ascii_lowercase(),
                params: Vec::new(),
            });
            rest = after.trim_start_matches(',').trim_start();
            continue;
        }
        let after = after[1..].trim_start();
        let (val, remaining) = if let Some(q) = after.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            (v, &q[end.min(q.len())..])
        } else {
            let e = after.find(',').unwrap_or(after.len());
            (after[..e].trim().to_string(), &after[e..])
        };
        if let Some(last) = out.last_mut() {
            last.params.push((tok.to_ascii_lowercase(), val));
        }
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn h(algo: &str, data: &[u8]) -> String {
    if algo.starts_with("sha-256") {
        hex(&Sha256::digest(data))
    } else {
        hex(&Md5::digest(data))
    }
}

/// Inputs of one answer besides the challenge headers.
pub struct Request<'a> {
    pub creds: &'a Credentials,
    pub method: &'a str,
    pub uri: &'a str,
    pub body: &'a [u8],
    pub cnonce: &'a str,
    pub nc: u32,
}

/// The `Authorization` value answering the best challenge among `values`
/// (Digest SHA-256, then Digest MD5, then Basic); `None` when none is
/// supported.
pub fn answer(values: &[&str], req: &Request<'_>) -> Option<String> {
    let all: Vec<Challenge> = values.iter().flat_map(|v| parse_challenges(v)).collect();
    let digest_algo = |c: &Challenge| c.param("algorithm").unwrap_or("MD5").to_ascii_lowercase();
    let best = all
        .iter()
        .filter(|c| c.scheme == "digest" && c.param("nonce").is_some())
        .filter(|c| {
            matches!(
                digest_algo(c).as_str(),
                "md5" | "sha-256" | "md5-sess" | "sha-256-sess"
            )
        })
        .max_by_key(|c| digest_algo(c).starts_with("sha-256"));
    if let Some(c) = best {
        return Some(digest(c, &digest_algo(c), req));
    }
    all.iter().find(|c| c.scheme == "basic").map(|_| {
        let raw = format!("{}:{}", req.creds.user, req.creds.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    })
}

fn digest(c: &Challenge, algo: &str, req: &Request<'_>) -> String {
    let realm = c.param("realm").unwrap_or("");
    let nonce = c.param("nonce").unwrap_or("");
    let qops: Vec<String> = c
        .param("qop")
        .map(|q| {
            q.split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let qop = if qops.iter().any(|q| q == "auth") {
        Some("auth")
    } else if qops.iter().any(|q| q == "auth-int") {
        Some("auth-int")
    } else {
        None
    };
    let mut ha1 = h(
        algo,
        format!("{}:{realm}:{}", req.creds.user, req.creds.password).as_bytes(),
    );
    if algo.ends_with("-sess") {
        ha1 = h(algo, format!("{ha1}:{nonce}:{}", req.cnonce).as_bytes());
    }
    let a2 = if qop == Some("auth-int") {
        format!("{}:{}:{}", req.method, req.uri, h(algo, req.body))
    } else {
        format!("{}:{}", req.method, req.uri)
    };
    let ha2 = h(algo, a2.as_bytes());
    let nc = format!("{:08x}", req.nc);
    let response = match qop {
        Some(q) => h(
            algo,
            format!("{ha1}:{nonce}:{nc}:{}:{q}:{ha2}", req.cnonce).as_bytes(),
        ),
        None => h(algo, format!("{ha1}:{nonce}:{ha2}").as_bytes()),
    };
    let algo_name = c.param("algorithm").unwrap_or("MD5");
    let mut out = format!(
        "Digest username=\"{}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{}\", algorithm={algo_name}, response=\"{response}\"",
        req.creds.user, req.uri
    );
    if let Some(q) = qop {
        out.push_str(&format!(", qop={q}, nc={nc}, cnonce=\"{}\"", req.cnonce));
    }
    if let Some(o) = c.param("opaque") {
        out.push_str(&format!(", opaque=\"{o}\""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            user: "Mufasa".into(),
            password: "Circle of Life".into(),
        }
    }

    #[test]
    fn r_http_4_rfc7616_md5_example() {
        // RFC 7616 §3.9.1 example.
        let ch = r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let c = creds();
        let a = answer(
            &[ch],
            &Request {
                creds: &c,
                method: "GET",
                uri: "/dir/index.html",
                body: b"",
                cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                nc: 1,
            },
        )
        .unwrap();
        assert!(
            a.contains("response=\"8ca523f5e9506fed4657c9700eebdbec\""),
            "{a}"
        );
        assert!(a.contains("qop=auth, nc=00000001"), "{a}");
    }

    #[test]
    fn r_http_4_rfc7616_sha256_preferred() {
        let md5 = r#"Digest realm="http-auth@example.org", qop="auth", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let sha = r#"Digest realm="http-auth@example.org", qop="auth", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let c = creds();
        let a = answer(
            &[md5, sha],
            &Request {
                creds: &c,
                method: "GET",
                uri: "/dir/index.html",
                body: b"",
                cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                nc: 1,
            },
        )
        .unwrap();
        assert!(
            a.contains(
                "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""
            ),
            "{a}"
        );
    }

    #[test]
    fn r_http_4_basic() {
        let c = Credentials {
            user: "Aladdin".into(),
            password: "open sesame".into(),
        };
        let a = answer(
            &["Basic realm=\"WallyWorld\""],
            &Request {
                creds: &c,
                method: "GET",
                uri: "/",
                body: b"",
                cnonce: "x",
                nc: 1,
            },
        );
        assert_eq!(a.as_deref(), Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
        assert_eq!(
            answer(
                &["Negotiate"],
                &Request {
                    creds: &c,
                    method: "GET",
                    uri: "/",
                    body: b"",
                    cnonce: "x",
                    nc: 1
                }
            ),
            None
        );
    }
}
