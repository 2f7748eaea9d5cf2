//! CPE authentication (TR-069 3.4.4) on top of `phoneprov-httpauth`:
//! Basic or Digest against per-CPE or shared credentials, a `401` with a
//! fresh nonce whenever a connection has not authenticated yet.
//!
//! A connection that authenticated once stays authenticated (CPEs commonly
//! send `Authorization` only on the first POST of a connection); a request
//! that does carry `Authorization` is always checked.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use phoneprov_httpauth::{
    basic_challenge, challenge_headers, parse_authorization, verify_basic, verify_digest,
    Algorithm, Authorization, NonceManager, NonceStatus, Secret,
};

use crate::config::{AcsAuth, AcsSettings};

/// How long a Digest nonce stays valid: one CWMP session is well under it.
const NONCE_TTL: Duration = Duration::from_secs(300);

/// The outcome of checking one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthOutcome {
    /// Authenticated as this user (`None` when authentication is off).
    Ok(Option<String>),
    /// Answer 401 with these `WWW-Authenticate` values (`true`: the
    /// nonce was stale and the password right, not a failed guess).
    Challenge(Vec<String>, bool),
}

pub(crate) struct CpeAuth {
    mode: AcsAuth,
    realm: String,
    users: BTreeMap<String, String>,
    nonces: NonceManager,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl CpeAuth {
    pub(crate) fn new(settings: &AcsSettings) -> CpeAuth {
        CpeAuth {
            mode: settings.auth,
            realm: settings.realm.clone(),
            users: settings.users.clone(),
            nonces: NonceManager::new(rand::random(), NONCE_TTL),
        }
    }

    /// Whether a request must be checked even without `Authorization`.
    pub(crate) fn required(&self) -> bool {
        self.mode != AcsAuth::None
    }

    fn challenge(&self, stale: bool) -> AuthOutcome {
        let values = match self.mode {
            AcsAuth::None => Vec::new(),
            AcsAuth::Basic => vec![basic_challenge(&self.realm)],
            AcsAuth::Digest => challenge_headers(
                &self.realm,
                &[Algorithm::Sha256, Algorithm::Md5],
                &self.nonces.issue(unix_now()),
                stale,
            ),
        };
        AuthOutcome::Challenge(values, stale)
    }

    /// Checks a request's `Authorization` header (`None`: absent).
    pub(crate) fn check(&self, method: &str, target: &str, header: Option<&str>) -> AuthOutcome {
        if self.mode == AcsAuth::None {
            return AuthOutcome::Ok(None);
        }
        let Some(parsed) = header.and_then(|h| parse_authorization(h).ok()) else {
            return self.challenge(false);
        };
        match (self.mode, parsed) {
            (AcsAuth::Basic, Authorization::Basic { user, pass }) => match self.users.get(&user) {
                Some(p) if verify_basic(&user, &pass, &user, p) => AuthOutcome::Ok(Some(user)),
                _ => self.challenge(false),
            },
            (AcsAuth::Digest, Authorization::Digest(resp)) => {
                let now = unix_now();
                let target_ok = resp.uri == target
                    || resp
                        .uri
                        .split_once("://")
                        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                        == Some(target);
                if resp.realm != self.realm || !target_ok {
                    return self.challenge(false);
                }
                match self.nonces.check(&resp.nonce, now) {
                    NonceStatus::Valid => {}
                    NonceStatus::Stale => return self.challenge(true),
                    _ => return self.challenge(false),
                }
                let Some(password) = self.users.get(&resp.username) else {
                    return self.challenge(false);
                };
                if !verify_digest(&resp, method, Secret::Password(password), b"") {
                    return self.challenge(false);
                }
                match self.nonces.record(&resp, now) {
                    NonceStatus::Valid => AuthOutcome::Ok(Some(resp.username)),
                    NonceStatus::Stale => self.challenge(true),
                    _ => self.challenge(false),
                }
            }
            _ => self.challenge(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoneprov_httpauth::{authorization, best_challenge, parse_challenges, Credentials};

    fn settings(mode: AcsAuth) -> AcsSettings {
        AcsSettings {
            auth: mode,
            users: [("cpe".to_string(), "pw".to_string())].into(),
            ..AcsSettings::default()
        }
    }

    #[test]
    fn digest_round_trip_and_replay_refused() {
        let auth = CpeAuth::new(&settings(AcsAuth::Digest));
        let AuthOutcome::Challenge(ch, _) = auth.check("POST", "/", None) else {
            panic!("no challenge")
        };
        let chs = parse_challenges(&ch.join(", ")).unwrap();
        let best = best_challenge(&chs).unwrap();
        let good = authorization(
            best,
            &Credentials::new("cpe", "pw"),
            "POST",
            "/",
            b"",
            "c",
            1,
        );
        assert_eq!(
            auth.check("POST", "/", Some(&good)),
            AuthOutcome::Ok(Some("cpe".into()))
        );
        // Same nc again: a replay.
        assert!(matches!(
            auth.check("POST", "/", Some(&good)),
            AuthOutcome::Challenge(..)
        ));
        let bad = authorization(
            best,
            &Credentials::new("cpe", "no"),
            "POST",
            "/",
            b"",
            "c",
            2,
        );
        assert!(matches!(
            auth.check("POST", "/", Some(&bad)),
            AuthOutcome::Challenge(..)
        ));
        // Each challenge carries a fresh nonce.
        let AuthOutcome::Challenge(ch2, _) = auth.check("POST", "/", None) else {
            panic!()
        };
        assert_ne!(ch, ch2);
    }

    #[test]
    fn basic_checks_the_password() {
        let auth = CpeAuth::new(&settings(AcsAuth::Basic));
        let creds = phoneprov_httpauth::basic(&Credentials::new("cpe", "pw"));
        assert_eq!(
            auth.check("POST", "/", Some(&creds)),
            AuthOutcome::Ok(Some("cpe".into()))
        );
        let wrong = phoneprov_httpauth::basic(&Credentials::new("cpe", "x"));
        assert!(matches!(
            auth.check("POST", "/", Some(&wrong)),
            AuthOutcome::Challenge(..)
        ));
    }
}
