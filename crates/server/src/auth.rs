//! HTTP authentication for profile downloads (R-HTTP-4, R-RESULT 401):
//! Basic (RFC 7617) and Digest (RFC 7616: MD5 and SHA-256, `qop=auth`,
//! expiring nonces, replay refused).
//!
//! This is the pluggable check the request handler calls through
//! [`Authenticator`]; the `phoneprov-httpauth` crate (sans-IO, being written
//! in parallel) is meant to replace [`DigestAuth`] behind the same trait.
//! Until then the Digest server side is hand-written here (no maintained
//! crate does server-side RFC 7616 with nonce management).
//!
//! Nonces are stateless to issue (`base64url(time ‖ random ‖ HMAC)`, so a
//! forged or expired nonce is rejected without lookups) and tracked only
//! once used: the highest `nc` seen per nonce, so a replayed request (same
//! or lower `nc`) is refused. The table is pruned of expired nonces.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use md5::Md5;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::config::AuthScheme;

/// Outcome of checking an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    /// Credentials are good; the user name.
    Ok(String),
    /// Missing or wrong: send the challenges (`stale` for an expired nonce).
    Challenge {
        /// RFC 7616 `stale=true`: the password was right, the nonce old.
        stale: bool,
    },
}

/// What the request handler needs from an authentication backend.
pub trait Authenticator: Send + Sync {
    /// Checks `authorization` for a request of `method` on `uri` against
    /// `users` (name → password), accepting only `schemes`.
    fn check(
        &self,
        method: &str,
        uri: &str,
        authorization: Option<&str>,
        users: &BTreeMap<String, String>,
        schemes: &[AuthScheme],
    ) -> AuthResult;

    /// `WWW-Authenticate` values to send with a 401.
    fn challenges(&self, schemes: &[AuthScheme], stale: bool) -> Vec<String>;
}

/// The built-in Basic + Digest implementation.
pub struct DigestAuth {
    realm: String,
    secret: [u8; 32],
    ttl: Duration,
    opaque: String,
    used: Mutex<HashMap<String, (u64, u64)>>, // nonce -> (issued_ms, highest nc)
}

impl std::fmt::Debug for DigestAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestAuth")
            .field("realm", &self.realm)
            .finish()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Constant-time equality (length leaks, content does not).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Clone, Copy)]
enum Alg {
    Md5,
    Sha256,
}

impl Alg {
    fn hash(self, data: &str) -> String {
        match self {
            Alg::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            Alg::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

impl DigestAuth {
    /// A new authenticator with a random nonce secret.
    pub fn new(realm: &str, nonce_ttl: Duration) -> DigestAuth {
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let mut opaque = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut opaque);
        DigestAuth {
            realm: realm.to_string(),
            secret,
            ttl: nonce_ttl,
            opaque: b64(&opaque),
            used: Mutex::new(HashMap::new()),
        }
    }

    fn mac(&self, body: &[u8]) -> [u8; 16] {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(body);
        h.update(self.secret);
        let full = h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// Issues a fresh nonce.
    pub fn nonce(&self) -> String {
        let mut body = [0u8; 16];
        body[..8].copy_from_slice(&now_ms().to_be_bytes());
        rand::thread_rng().fill_bytes(&mut body[8..]);
        let mut all = body.to_vec();
        all.extend_from_slice(&self.mac(&body));
        b64(&all)
    }

    /// `Some(issued_ms)` for a nonce this server issued.
    fn nonce_time(&self, nonce: &str) -> Option<u64> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()?;
        if raw.len() != 32 || !ct_eq(&raw[16..], &self.mac(&raw[..16])) {
            return None;
        }
        Some(u64::from_be_bytes(raw[..8].try_into().ok()?))
    }

    fn check_digest(
        &self,
        method: &str,
        uri: &str,
        params: &HashMap<String, String>,
        users: &BTreeMap<String, String>,
    ) -> AuthResult {
        let deny = AuthResult::Challenge { stale: false };
        let get = |k: &str| params.get(k).map(String::as_str);
        let (Some(user), Some(realm), Some(nonce), Some(d_uri), Some(response)) = (
            get("username"),
            get("realm"),
            get("nonce"),
            get("uri"),
            get("response"),
        ) else {
            return deny;
        };
        let alg = match get("algorithm").unwrap_or("MD5") {
            a if a.eq_ignore_ascii_case("MD5") => Alg::Md5,
            a if a.eq_ignore_ascii_case("SHA-256") => Alg::Sha256,
            _ => return deny,
        };
        // qop=auth is required (RFC 2069 digests have no replay protection).
        let (Some("auth"), Some(nc_text), Some(cnonce)) = (get("qop"), get("nc"), get("cnonce"))
        else {
            return deny;
        };
        if realm != self.realm || d_uri != uri {
            return deny;
        }
        let Some(pass) = users.get(user) else {
            return deny;
        };
        let Some(issued) = self.nonce_time(nonce) else {
            return deny;
        };
        let Ok(nc) = u64::from_str_radix(nc_text, 16) else {
            return deny;
        };
        let ha1 = alg.hash(&format!("{user}:{realm}:{pass}"));
        let ha2 = alg.hash(&format!("{method}:{d_uri}"));
        let want = alg.hash(&format!("{ha1}:{nonce}:{nc_text}:{cnonce}:auth:{ha2}"));
        if !ct_eq(want.as_bytes(), response.to_ascii_lowercase().as_bytes()) {
            return deny;
        }
        let now = now_ms();
        let ttl = self.ttl.as_millis() as u64;
        if now.saturating_sub(issued) > ttl {
            return AuthResult::Challenge { stale: true };
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.len() > 100_000 {
            used.retain(|_, (t, _)| now.saturating_sub(*t) <= ttl);
        }
        let entry = used.entry(nonce.to_string()).or_insert((issued, 0));
        if nc <= entry.1 {
            // Replay: the same (or an older) request counter again.
            return deny;
        }
        entry.1 = nc;
        AuthResult::Ok(user.to_string())
    }
}

/// Parses `key=value, key="quoted value"` lists of an auth header.
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(q) = rest.strip_prefix('"') {
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
            value = v;
            rest = q[end.min(q.len())..].trim_start();
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start_matches(',').trim_start();
        out.insert(key, value);
    }
    out
}

impl Authenticator for DigestAuth {
    fn check(
        &self,
        method: &str,
        uri: &str,
        authorization: Option<&str>,
        users: &BTreeMap<String, String>,
        schemes: &[AuthScheme],
    ) -> AuthResult {
        let deny = AuthResult::Challenge { stale: false };
        let Some(h) = authorization else { return deny };
        let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") && schemes.contains(&AuthScheme::Basic) {
            let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
                return deny;
            };
            let Ok(text) = String::from_utf8(raw) else {
                return deny;
            };
            let Some((user, pass)) = text.split_once(':') else {
                return deny;
            };
            return match users.get(user) {
                Some(p) if ct_eq(p.as_bytes(), pass.as_bytes()) => AuthResult::Ok(user.to_string()),
                _ => deny,
            };
        }
        if scheme.eq_ignore_ascii_case("digest") && schemes.contains(&AuthScheme::Digest) {
            return self.check_digest(method, uri, &parse_params(rest), users);
        }
        deny
    }

    fn challenges(&self, schemes: &[AuthScheme], stale: bool) -> Vec<String> {
        let mut out = Vec::new();
        let stale = if stale { ", stale=true" } else { "" };
        for s in schemes {
            match s {
                AuthScheme::Digest => {
                    for alg in ["SHA-256", "MD5"] {
                        out.push(format!(
                            "Digest realm=\"{}\", qop=\"auth\", algorithm={alg}, nonce=\"{}\", opaque=\"{}\"{stale}",
                            self.realm,
                            self.nonce(),
                            self.opaque
                        ));
                    }
                }
                AuthScheme::Basic => {
                    out.push(format!("Basic realm=\"{}\", charset=\"UTF-8\"", self.realm))
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> BTreeMap<String, String> {
        [("alice".to_string(), "s3cret".to_string())].into()
    }
    const BOTH: &[AuthScheme] = &[AuthScheme::Digest, AuthScheme::Basic];

    fn digest_header(
        a: &DigestAuth,
        alg: Alg,
        alg_name: &str,
        nonce: &str,
        nc: &str,
        pass: &str,
    ) -> String {
        let ha1 = alg.hash(&format!("alice:phoneprov:{pass}"));
        let ha2 = alg.hash("GET:/x.cfg");
        let resp = alg.hash(&format!("{ha1}:{nonce}:{nc}:abc:auth:{ha2}"));
        let _ = a;
        format!("Digest username=\"alice\", realm=\"phoneprov\", nonce=\"{nonce}\", uri=\"/x.cfg\", algorithm={alg_name}, qop=auth, nc={nc}, cnonce=\"abc\", response=\"{resp}\"")
    }

    #[test]
    fn basic_accepts_the_right_password_only() {
        let a = DigestAuth::new("phoneprov", Duration::from_secs(60));
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
        );
        let bad = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:nope")
        );
        assert_eq!(
            a.check("GET", "/x", Some(&good), &users(), BOTH),
            AuthResult::Ok("alice".into())
        );
        assert_eq!(
            a.check("GET", "/x", Some(&bad), &users(), BOTH),
            AuthResult::Challenge { stale: false }
        );
        // Basic refused where only Digest is configured.
        assert!(matches!(
            a.check("GET", "/x", Some(&good), &users(), &[AuthScheme::Digest]),
            AuthResult::Challenge { .. }
        ));
    }

    #[test]
    fn digest_md5_and_sha256_work_and_replays_fail() {
        let a = DigestAuth::new("phoneprov", Duration::from_secs(60));
        for (alg, name) in [(Alg::Md5, "MD5"), (Alg::Sha256, "SHA-256")] {
            let n = a.nonce();
            let h1 = digest_header(&a, alg, name, &n, "00000001", "s3cret");
            assert_eq!(
                a.check("GET", "/x.cfg", Some(&h1), &users(), BOTH),
                AuthResult::Ok("alice".into())
            );
            // Replay of the same nc is refused; the next nc is fine.
            assert!(matches!(
                a.check("GET", "/x.cfg", Some(&h1), &users(), BOTH),
                AuthResult::Challenge { stale: false }
            ));
            let h2 = digest_header(&a, alg, name, &n, "00000002", "s3cret");
            assert_eq!(
                a.check("GET", "/x.cfg", Some(&h2), &users(), BOTH),
                AuthResult::Ok("alice".into())
            );
            let wrong = digest_header(&a, alg, name, &a.nonce(), "00000001", "bad");
            assert!(matches!(
                a.check("GET", "/x.cfg", Some(&wrong), &users(), BOTH),
                AuthResult::Challenge { .. }
            ));
        }
    }

    #[test]
    fn forged_and_expired_nonces_fail() {
        let a = DigestAuth::new("phoneprov", Duration::from_millis(0));
        let other = DigestAuth::new("phoneprov", Duration::from_secs(60));
        let forged = digest_header(&a, Alg::Md5, "MD5", &other.nonce(), "00000001", "s3cret");
        assert_eq!(
            a.check("GET", "/x.cfg", Some(&forged), &users(), BOTH),
            AuthResult::Challenge { stale: false }
        );
        let n = a.nonce();
        std::thread::sleep(Duration::from_millis(5));
        let old = digest_header(&a, Alg::Md5, "MD5", &n, "00000001", "s3cret");
        assert_eq!(
            a.check("GET", "/x.cfg", Some(&old), &users(), BOTH),
            AuthResult::Challenge { stale: true }
        );
    }

    #[test]
    fn challenges_offer_both_algorithms_and_basic() {
        let a = DigestAuth::new("r", Duration::from_secs(1));
        let c = a.challenges(BOTH, false);
        assert_eq!(c.len(), 3);
        assert!(c[0].contains("algorithm=SHA-256") && c[1].contains("algorithm=MD5"));
        assert!(c[2].starts_with("Basic realm=\"r\""));
        assert!(a.challenges(&[AuthScheme::Digest], true)[0].ends_with("stale=true"));
    }

    #[test]
    fn params_parse_quoted_and_bare_values() {
        let p = parse_params("username=\"a\\\"b\", nc=00000001, qop=auth,uri=\"/x, y\"");
        assert_eq!(p["username"], "a\"b");
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["qop"], "auth");
        assert_eq!(p["uri"], "/x, y");
    }
}
