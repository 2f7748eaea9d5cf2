//! Answers to HTTP 401/407 challenges (R-HTTP-4): Basic and Digest
//! (RFC 7617, RFC 7616: MD5, SHA-256 and their -sess forms, `qop=auth`,
//! `auth-int`, or the RFC 2069 form without qop), through the workspace's
//! shared sans-IO crate `phoneprov-httpauth`, so the phone computes exactly
//! what the provisioning server verifies. This adapter only gathers the
//! challenge headers and picks the strongest challenge.

use crate::types::Credentials;
use phoneprov_httpauth::{authorization, best_challenge, parse_challenges};

/// Inputs of one answer besides the challenge headers.
pub struct Request<'a> {
    pub creds: &'a Credentials,
    pub method: &'a str,
    /// The request-target as sent (path and query).
    pub uri: &'a str,
    pub body: &'a [u8],
    pub cnonce: &'a str,
    pub nc: u32,
}

/// The `Authorization` value answering the best challenge among the
/// `WWW-Authenticate` (or `Proxy-Authenticate`) header `values`: Digest
/// SHA-256, then Digest MD5, then Basic. `None` when nothing offered can
/// be answered. A header that does not parse is skipped, so one broken
/// challenge does not hide a good one in another header.
pub fn answer(values: &[&str], req: &Request<'_>) -> Option<String> {
    let all: Vec<_> = values
        .iter()
        .filter_map(|v| parse_challenges(v).ok())
        .flatten()
        .collect();
    let ch = best_challenge(&all)?;
    Some(authorization(
        ch, req.creds, req.method, req.uri, req.body, req.cnonce, req.nc,
    ))
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
        assert!(a.contains("qop=auth") && a.contains("nc=00000001"), "{a}");
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
