//! Client side (the phone): read the server's challenges, pick the best one
//! and compute the `Authorization` value (R-HTTP-4). Retrying at most twice
//! is the resync engine's job; this module is pure computation.

use base64::Engine as _;

use crate::algorithm::{compute_response, Algorithm, Qop, ResponseInput};
use crate::parse::{parse_items, quote, Item};
use crate::AuthError;

/// One challenge from a `WWW-Authenticate` / `Proxy-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="..."`.
    Basic {
        /// Protection space (empty if the server sent none).
        realm: String,
    },
    /// `Digest ...` with a supported algorithm.
    Digest(DigestChallenge),
    /// Another scheme, or a Digest challenge this crate cannot answer
    /// (kept so callers can log what the server offered).
    Other {
        /// Scheme as sent.
        scheme: String,
        /// Why it cannot be answered.
        reason: String,
    },
}

/// The parameters of a Digest challenge (RFC 7616 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// Protection space.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque value to echo back.
    pub opaque: Option<String>,
    /// Hash algorithm (MD5 when absent).
    pub algorithm: Algorithm,
    /// Offered qop values; empty means RFC 2069 compatibility.
    pub qop: Vec<Qop>,
    /// `stale=true`: the previous nonce expired but the credentials were
    /// right, so retry with the new nonce without asking the user.
    pub stale: bool,
    /// `domain`, if sent.
    pub domain: Option<String>,
}

/// User name and password (`Profile_Authentication` credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password. Never printed by `Debug`.
    pub password: String,
}

impl Credentials {
    /// Convenience constructor.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Parses every challenge of a `WWW-Authenticate` (or `Proxy-Authenticate`)
/// value. Several headers may be joined with `", "` first.
///
/// A Digest challenge without `realm` or `nonce` is an error (the server is
/// broken); one with an unknown algorithm or only unknown qop values becomes
/// [`Challenge::Other`] so that a Basic or other Digest challenge in the same
/// header can still be answered. `userhash` and `charset` are ignored: the
/// user name is always sent in the clear, which every server accepts.
pub fn parse_challenges(www_authenticate: &str) -> Result<Vec<Challenge>, AuthError> {
    parse_items(www_authenticate)?
        .into_iter()
        .map(challenge_from_item)
        .collect()
}

fn challenge_from_item(item: Item) -> Result<Challenge, AuthError> {
    if item.scheme.eq_ignore_ascii_case("basic") {
        return Ok(Challenge::Basic {
            realm: item.param("realm").unwrap_or_default().to_string(),
        });
    }
    if !item.scheme.eq_ignore_ascii_case("digest") {
        return Ok(Challenge::Other {
            reason: format!("scheme {} is not supported", item.scheme),
            scheme: item.scheme,
        });
    }
    let missing = |param| AuthError::MissingParam {
        header: "challenge",
        param,
    };
    let realm = item.param("realm").ok_or(missing("realm"))?.to_string();
    let nonce = item.param("nonce").ok_or(missing("nonce"))?.to_string();
    let algorithm = match item.param("algorithm") {
        None => Algorithm::Md5,
        Some(a) => match Algorithm::parse(a) {
            Some(a) => a,
            None => {
                return Ok(Challenge::Other {
                    scheme: item.scheme.clone(),
                    reason: format!("Digest algorithm {a} is not supported"),
                })
            }
        },
    };
    let qop = match item.param("qop") {
        None => Vec::new(),
        Some(list) => {
            let qop: Vec<Qop> = list.split(',').filter_map(Qop::parse).collect();
            if qop.is_empty() {
                return Ok(Challenge::Other {
                    scheme: item.scheme.clone(),
                    reason: format!("Digest qop {list:?} is not supported"),
                });
            }
            qop
        }
    };
    Ok(Challenge::Digest(DigestChallenge {
        realm,
        nonce,
        opaque: item.param("opaque").map(str::to_string),
        algorithm,
        qop,
        stale: item
            .param("stale")
            .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        domain: item.param("domain").map(str::to_string),
    }))
}

/// The challenge to answer: Digest over Basic, SHA-256 over MD5 (RFC 7616
/// §3.7 asks clients to pick the strongest algorithm they support);
/// `None` when nothing offered can be answered.
pub fn best_challenge(challenges: &[Challenge]) -> Option<&Challenge> {
    challenges
        .iter()
        .filter_map(|c| match c {
            Challenge::Digest(d) => Some((10 + d.algorithm.strength(), c)),
            Challenge::Basic { .. } => Some((0, c)),
            Challenge::Other { .. } => None,
        })
        // max_by_key returns the last maximum; keep the server's order on ties.
        .fold(
            None,
            |best: Option<(u8, &Challenge)>, (rank, c)| match best {
                Some((r, _)) if r >= rank => best,
                _ => Some((rank, c)),
            },
        )
        .map(|(_, c)| c)
}

/// The `Authorization` (or `Proxy-Authorization`) header value answering
/// `ch` for a request `method uri` with `body`.
///
/// `uri` is the request-target exactly as sent on the request line (path and
/// query). `cnonce` should be fresh random text per nonce; `nc` counts the
/// requests made with this nonce, starting at 1. With both `auth` and
/// `auth-int` offered, `auth` is used (phones never sign bodies).
/// For [`Challenge::Other`] this still returns Basic credentials, which is
/// what a caller that ignored [`best_challenge`] gets.
pub fn authorization(
    ch: &Challenge,
    creds: &Credentials,
    method: &str,
    uri: &str,
    body: &[u8],
    cnonce: &str,
    nc: u32,
) -> String {
    let d = match ch {
        Challenge::Digest(d) => d,
        Challenge::Basic { .. } | Challenge::Other { .. } => return basic(creds),
    };
    let qop = if d.qop.contains(&Qop::Auth) {
        Some(Qop::Auth)
    } else {
        d.qop.first().copied()
    };
    let ha1 = d
        .algorithm
        .ha1_plain(&creds.user, &d.realm, &creds.password);
    let response = compute_response(
        &ha1,
        &ResponseInput {
            algorithm: d.algorithm,
            nonce: &d.nonce,
            cnonce,
            nc,
            qop,
            method,
            uri,
            body,
        },
    );
    let mut out = format!(
        "Digest username={}, realm={}, uri={}, algorithm={}, nonce={}",
        quote(&creds.user),
        quote(&d.realm),
        quote(uri),
        d.algorithm,
        quote(&d.nonce),
    );
    if let Some(qop) = qop {
        out.push_str(&format!(
            ", nc={nc:08x}, cnonce={}, qop={}",
            quote(cnonce),
            qop.as_str()
        ));
    }
    out.push_str(&format!(", response=\"{response}\""));
    if let Some(opaque) = &d.opaque {
        out.push_str(&format!(", opaque={}", quote(opaque)));
    }
    out
}

/// `Basic base64(user:password)` (RFC 7617).
pub fn basic(creds: &Credentials) -> String {
    let raw = format!("{}:{}", creds.user, creds.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}
