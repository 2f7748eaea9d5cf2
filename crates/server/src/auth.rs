//! HTTP authentication for profile downloads (R-HTTP-4, R-RESULT 401):
//! Basic (RFC 7617) and Digest (RFC 7616: MD5 and SHA-256, `qop=auth`,
//! expiring nonces, replay refused), per device or group credentials
//! (`[[auth]]` rules, resolved by the caller).
//!
//! This is the pluggable check the request handler calls through
//! [`Authenticator`]. The protocol itself is `phoneprov-httpauth`, the
//! sans-IO Basic/Digest implementation the phone side and the ACS use too,
//! so server and phones compute the same hashes: header parsing
//! ([`parse_authorization`]), stateless HMAC-signed nonces with replay
//! memory ([`NonceManager`]), constant-time checks ([`verify_digest`],
//! [`verify_basic`]) and the challenge headers. What stays here is the
//! policy: which schemes a rule allows, `qop=auth` only (RFC 2069 digests
//! have no replay protection), only the challenged algorithms, and the
//! clock.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use phoneprov_httpauth::{
    basic_challenge, challenge_headers, parse_authorization, verify_basic, verify_digest,
    Algorithm, Authorization, DigestResponse, NonceManager, NonceStatus, Qop, Secret,
};
use rand::RngCore as _;

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

/// The algorithms challenged (and so accepted), strongest first.
const ALGORITHMS: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

/// The built-in Basic + Digest authenticator on `phoneprov-httpauth`.
pub struct DigestAuth {
    realm: String,
    nonces: NonceManager,
}

impl std::fmt::Debug for DigestAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestAuth")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// Unix seconds (the clock `NonceManager` works in).
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Name of the Digest nonce secret in the database's secrets.
pub const NONCE_SECRET: &str = "digest-nonce";

/// The Digest nonce secret of the installation: the one stored in the
/// database, or a new random one stored now (the first node to store one
/// wins a race). Nodes sharing a database share it, so a nonce one node
/// issued is valid on the others (issue 13).
pub fn shared_nonce_secret(db: &mut impl phoneprov_store::SecretRepo) -> Result<[u8; 32], String> {
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    let stored = db
        .ensure_secret(NONCE_SECRET, &fresh)
        .map_err(|e| e.to_string())?;
    <[u8; 32]>::try_from(stored.as_slice()).map_err(|_| {
        format!(
            "the stored secret `{NONCE_SECRET}` is {} bytes, not 32; delete it and restart every node",
            stored.len()
        )
    })
}

impl DigestAuth {
    /// A new authenticator with a random nonce secret; nonces expire after
    /// `nonce_ttl` (whole seconds).
    pub fn new(realm: &str, nonce_ttl: Duration) -> DigestAuth {
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        DigestAuth::with_secret(realm, secret, nonce_ttl)
    }

    /// An authenticator signing nonces with `secret` (see
    /// [`shared_nonce_secret`]); its nonce counter starts at a random
    /// value, so nodes sharing the secret never issue the same nonce.
    pub fn with_secret(realm: &str, secret: [u8; 32], nonce_ttl: Duration) -> DigestAuth {
        DigestAuth {
            realm: realm.to_string(),
            nonces: NonceManager::new(secret, nonce_ttl).counter_from(rand::random()),
        }
    }

    /// Issues a fresh nonce.
    pub fn nonce(&self) -> String {
        self.nonces.issue(now_secs())
    }

    fn check_digest(
        &self,
        method: &str,
        uri: &str,
        resp: &DigestResponse,
        users: &BTreeMap<String, String>,
        now: u64,
    ) -> AuthResult {
        let deny = AuthResult::Challenge { stale: false };
        if resp.realm != self.realm
            || resp.uri != uri
            || resp.qop != Some(Qop::Auth)
            || !ALGORITHMS.contains(&resp.algorithm)
        {
            return deny;
        }
        let Some(pass) = users.get(&resp.username) else {
            return deny;
        };
        let fresh = match self.nonces.check(&resp.nonce, now) {
            NonceStatus::Valid => true,
            NonceStatus::Stale => false,
            NonceStatus::Invalid | NonceStatus::Replayed => return deny,
        };
        if !verify_digest(resp, method, Secret::Password(pass), b"") {
            return deny;
        }
        if !fresh {
            // Right password, old nonce: the client retries silently.
            return AuthResult::Challenge { stale: true };
        }
        // Recorded only after the response verified, so forged requests
        // cannot burn a client's nonce counts.
        match self.nonces.record(resp, now) {
            NonceStatus::Valid => AuthResult::Ok(resp.username.clone()),
            NonceStatus::Stale => AuthResult::Challenge { stale: true },
            NonceStatus::Invalid | NonceStatus::Replayed => deny,
        }
    }
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
        let Some(Ok(parsed)) = authorization.map(parse_authorization) else {
            return deny;
        };
        match parsed {
            Authorization::Basic { user, pass } if schemes.contains(&AuthScheme::Basic) => {
                match users.get(&user) {
                    Some(p) if verify_basic(&user, &pass, &user, p) => AuthResult::Ok(user),
                    _ => deny,
                }
            }
            Authorization::Digest(resp) if schemes.contains(&AuthScheme::Digest) => {
                self.check_digest(method, uri, &resp, users, now_secs())
            }
            _ => deny,
        }
    }

    fn challenges(&self, schemes: &[AuthScheme], stale: bool) -> Vec<String> {
        let mut out = Vec::new();
        for s in schemes {
            match s {
                AuthScheme::Digest => {
                    out.extend(challenge_headers(
                        &self.realm,
                        &ALGORITHMS,
                        &self.nonce(),
                        stale,
                    ));
                }
                AuthScheme::Basic => out.push(basic_challenge(&self.realm)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use phoneprov_httpauth::{authorization, parse_challenges, Challenge, Credentials};

    fn users() -> BTreeMap<String, String> {
        [("alice".to_string(), "s3cret".to_string())].into()
    }
    const BOTH: &[AuthScheme] = &[AuthScheme::Digest, AuthScheme::Basic];

    /// What a phone answers to the challenge for `alg` (through the
    /// client half of `phoneprov-httpauth`).
    fn answer(a: &DigestAuth, alg: Algorithm, nonce: &str, nc: u32, pass: &str) -> String {
        let header = challenge_headers(&a.realm, &[alg], nonce, false).join(", ");
        let ch = parse_challenges(&header).unwrap().remove(0);
        assert!(matches!(ch, Challenge::Digest(_)));
        authorization(
            &ch,
            &Credentials::new("alice", pass),
            "GET",
            "/x.cfg",
            b"",
            "abc",
            nc,
        )
    }

    #[test]
    fn basic_accepts_the_right_password_only() {
        let a = DigestAuth::new("phoneprov", Duration::from_secs(60));
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let good = format!("Basic {}", b64("alice:s3cret"));
        let bad = format!("Basic {}", b64("alice:nope"));
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
        for alg in ALGORITHMS {
            let n = a.nonce();
            let h1 = answer(&a, alg, &n, 1, "s3cret");
            assert_eq!(
                a.check("GET", "/x.cfg", Some(&h1), &users(), BOTH),
                AuthResult::Ok("alice".into())
            );
            // Replay of the same nc is refused; the next nc is fine.
            assert_eq!(
                a.check("GET", "/x.cfg", Some(&h1), &users(), BOTH),
                AuthResult::Challenge { stale: false }
            );
            let h2 = answer(&a, alg, &n, 2, "s3cret");
            assert_eq!(
                a.check("GET", "/x.cfg", Some(&h2), &users(), BOTH),
                AuthResult::Ok("alice".into())
            );
            let wrong = answer(&a, alg, &a.nonce(), 1, "bad");
            assert!(matches!(
                a.check("GET", "/x.cfg", Some(&wrong), &users(), BOTH),
                AuthResult::Challenge { stale: false }
            ));
            // Another request-target than the one signed.
            let h3 = answer(&a, alg, &n, 3, "s3cret");
            assert!(matches!(
                a.check("GET", "/y.cfg", Some(&h3), &users(), BOTH),
                AuthResult::Challenge { stale: false }
            ));
        }
        // Digest refused where only Basic is configured.
        let h = answer(&a, Algorithm::Md5, &a.nonce(), 1, "s3cret");
        assert!(matches!(
            a.check("GET", "/x.cfg", Some(&h), &users(), &[AuthScheme::Basic]),
            AuthResult::Challenge { .. }
        ));
    }

    /// Two nodes on one database (issue 13): the secret stored by the
    /// first is the second's, so a nonce node A issued is accepted by node
    /// B, and the two never issue the same nonce.
    #[test]
    fn nodes_sharing_a_database_accept_each_others_nonces() {
        let db = tempfile::tempdir().unwrap();
        let mut sa = phoneprov_store::Store::open(db.path()).unwrap();
        let mut sb = phoneprov_store::Store::open(db.path()).unwrap();
        let ttl = Duration::from_secs(60);
        let secret = shared_nonce_secret(&mut sa).unwrap();
        assert_eq!(shared_nonce_secret(&mut sb).unwrap(), secret);
        let a = DigestAuth::with_secret("phoneprov", secret, ttl);
        let b = DigestAuth::with_secret("phoneprov", secret, ttl);
        let from_a = a.nonce();
        assert_ne!(from_a, b.nonce());
        let h = answer(&a, Algorithm::Sha256, &from_a, 1, "s3cret");
        assert_eq!(
            b.check("GET", "/x.cfg", Some(&h), &users(), BOTH),
            AuthResult::Ok("alice".into())
        );
        // Another database, another secret: A's nonce is refused there.
        let other_db = tempfile::tempdir().unwrap();
        let mut so = phoneprov_store::Store::open(other_db.path()).unwrap();
        let c = DigestAuth::with_secret("phoneprov", shared_nonce_secret(&mut so).unwrap(), ttl);
        let h = answer(&a, Algorithm::Sha256, &from_a, 2, "s3cret");
        assert_eq!(
            c.check("GET", "/x.cfg", Some(&h), &users(), BOTH),
            AuthResult::Challenge { stale: false }
        );
    }

    #[test]
    fn forged_and_expired_nonces_fail() {
        let a = DigestAuth::new("phoneprov", Duration::from_secs(60));
        let other = DigestAuth::new("phoneprov", Duration::from_secs(60));
        let forged = answer(&a, Algorithm::Md5, &other.nonce(), 1, "s3cret");
        assert_eq!(
            a.check("GET", "/x.cfg", Some(&forged), &users(), BOTH),
            AuthResult::Challenge { stale: false }
        );
        // Issued 2 minutes ago with a 60 s lifetime: stale, not denied.
        let old = a.nonces.issue(now_secs() - 120);
        let h = answer(&a, Algorithm::Sha256, &old, 1, "s3cret");
        assert_eq!(
            a.check("GET", "/x.cfg", Some(&h), &users(), BOTH),
            AuthResult::Challenge { stale: true }
        );
        // An expired nonce with the wrong password is a plain denial.
        let h = answer(&a, Algorithm::Sha256, &old, 1, "bad");
        assert_eq!(
            a.check("GET", "/x.cfg", Some(&h), &users(), BOTH),
            AuthResult::Challenge { stale: false }
        );
    }

    #[test]
    fn challenges_offer_both_algorithms_and_basic() {
        let a = DigestAuth::new("r", Duration::from_secs(1));
        let c = a.challenges(BOTH, false);
        assert_eq!(c.len(), 3);
        assert!(c[0].contains("algorithm=SHA-256") && c[1].contains("algorithm=MD5"));
        assert!(c[0].contains("qop=\"auth\""));
        assert!(c[2].starts_with("Basic realm=\"r\""));
        assert!(a.challenges(&[AuthScheme::Digest], true)[0].ends_with("stale=true"));
    }
}
