//! Passwords, sessions and CSRF tokens (issue 14 item 2). Sans-IO: every
//! function takes the time and the key it needs.
//!
//! * Passwords: argon2id with the crate's default parameters, stored as the
//!   PHC string (salt and parameters inside), verified in constant time by
//!   the `argon2` crate.
//! * Sessions: a signed cookie, not a server-side table, so a session made
//!   on one node works on every node sharing the database (issue 13): the
//!   HMAC-SHA256 key is the `console-session` secret of the store's
//!   [`phoneprov_store::SecretRepo`]. The cookie carries the user name, the
//!   sign-in time and the time of the last request; a cookie idle longer
//!   than the idle timeout is refused, and every answered request re-issues
//!   it with a fresh "last" time. The user's role is read from the store on
//!   each request, so removing a user or changing a role takes effect at
//!   once.
//! * CSRF: every form carries `csrf`, the HMAC of the session's user and
//!   sign-in time (the login form: of the `pp_login` nonce cookie); a POST
//!   without the right one is refused with 403 before anything is written.

use std::time::Duration;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "pp_session";
/// Name of the login form's nonce cookie.
pub const LOGIN_COOKIE: &str = "pp_login";
/// Name of the store secret keying sessions and CSRF tokens.
pub const SESSION_SECRET: &str = "console-session";
/// Default idle timeout.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30 * 60);
/// Shortest password `user add`/`passwd` accept.
pub const MIN_PASSWORD: usize = 8;

/// argon2id PHC string of `password`.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters and a generated salt cannot fail")
        .to_string()
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so an unknown
/// name costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("no such user; never matches"))
}

/// A verified session cookie's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The user.
    pub user: String,
    /// Sign-in time, Unix ms (names the session for its CSRF token).
    pub issued_ms: i64,
    /// Last request, Unix ms.
    pub last_ms: i64,
}

type HmacSha256 = Hmac<Sha256>;

fn mac_of(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

impl Session {
    /// The cookie value: `base64(user|issued|last).base64(hmac)`.
    pub fn encode(&self, key: &[u8]) -> String {
        let payload = format!("{}|{}|{}", self.issued_ms, self.last_ms, self.user);
        let sig = mac_of(key, &[b"session", payload.as_bytes()]);
        format!("{}.{}", B64.encode(payload), B64.encode(sig))
    }

    /// Verifies a cookie value at `now_ms`: `None` when forged, malformed
    /// or idle longer than `idle`.
    pub fn decode(value: &str, key: &[u8], now_ms: i64, idle: Duration) -> Option<Session> {
        let (payload, sig) = value.split_once('.')?;
        let payload = B64.decode(payload).ok()?;
        let sig = B64.decode(sig).ok()?;
        let want = mac_of(key, &[b"session", &payload]);
        if !phoneprov_types::secret_eq(&sig, &want) {
            return None;
        }
        let text = String::from_utf8(payload).ok()?;
        let mut it = text.splitn(3, '|');
        let issued_ms: i64 = it.next()?.parse().ok()?;
        let last_ms: i64 = it.next()?.parse().ok()?;
        let user = it.next()?.to_string();
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        if now_ms.saturating_sub(last_ms) > idle_ms || last_ms > now_ms + 60_000 {
            return None;
        }
        Some(Session {
            user,
            issued_ms,
            last_ms,
        })
    }

    /// The CSRF token of this session.
    pub fn csrf(&self, key: &[u8]) -> String {
        B64.encode(mac_of(
            key,
            &[
                b"csrf",
                self.user.as_bytes(),
                self.issued_ms.to_string().as_bytes(),
            ],
        ))
    }
}

/// The CSRF token of the login form for the nonce in its cookie.
pub fn login_csrf(key: &[u8], nonce: &str) -> String {
    B64.encode(mac_of(key, &[b"login", nonce.as_bytes()]))
}

/// A fresh random nonce (the login cookie).
pub fn nonce() -> String {
    use rand::RngCore as _;
    let mut b = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut b);
    B64.encode(b)
}

/// Whether a submitted CSRF token is the expected one (constant time).
pub fn csrf_ok(given: Option<&str>, expected: &str) -> bool {
    given.is_some_and(|g| phoneprov_types::secret_eq(g.as_bytes(), expected.as_bytes()))
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/ui`, `Secure`
/// over HTTPS; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/ui; HttpOnly; SameSite=Strict");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct horsf"));
        assert!(!verify_password("not a phc string", "x"));
        assert!(!verify_password(dummy_hash(), ""));
    }

    #[test]
    fn sessions_are_signed_and_expire_when_idle() {
        let key = b"k1";
        let s = Session {
            user: "ann|x".into(),
            issued_ms: 1_000,
            last_ms: 5_000,
        };
        let c = s.encode(key);
        let idle = Duration::from_secs(60);
        assert_eq!(Session::decode(&c, key, 6_000, idle), Some(s.clone()));
        assert_eq!(Session::decode(&c, b"k2", 6_000, idle), None, "other key");
        assert_eq!(Session::decode(&c, key, 65_001, idle), None, "idle");
        // Changing any byte of the payload breaks the signature.
        let (p, sig) = c.split_once('.').unwrap();
        let forged = B64.encode(
            B64.decode(p)
                .unwrap()
                .iter()
                .map(|b| b ^ 1)
                .collect::<Vec<_>>(),
        );
        assert_eq!(
            Session::decode(&format!("{forged}.{sig}"), key, 6_000, idle),
            None
        );
        assert_ne!(s.csrf(key), s.csrf(b"k2"));
        assert!(csrf_ok(Some(&s.csrf(key)), &s.csrf(key)));
        assert!(!csrf_ok(None, &s.csrf(key)));
    }

    #[test]
    fn cookies_parse_and_carry_the_flags() {
        assert_eq!(
            cookie("a=1; pp_session=x.y; b=2", SESSION_COOKIE),
            Some("x.y")
        );
        assert_eq!(cookie("a=1", SESSION_COOKIE), None);
        let c = set_cookie(SESSION_COOKIE, "v", true, None);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(!set_cookie(SESSION_COOKIE, "v", false, None).contains("Secure"));
    }
}
