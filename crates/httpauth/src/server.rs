//! Server side (the provisioning server): challenges, stateless nonces with
//! replay protection, and checking what phones answer (R-HTTP-4).
//!
//! Order of operations for one request:
//! 1. [`parse_authorization`]; for Digest compare `realm` with yours and
//!    `uri` with the request-target;
//! 2. [`NonceManager::check`] the nonce (cheap, no state);
//! 3. [`verify_digest`] against the stored password or HA1;
//! 4. [`NonceManager::record`] the nonce count: only *after* the response
//!    verified, so forged requests cannot burn a client's counts.
//!
//! On `Stale` answer 401 with `stale=true` ([`challenge_headers`]) so the
//! client retries silently with a fresh nonce.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use phoneprov_types::secret_eq;
use sha2::Sha256;

use crate::algorithm::{compute_response, Algorithm, Qop, ResponseInput};
use crate::parse::{parse_items, quote};
use crate::AuthError;

type HmacSha256 = Hmac<Sha256>;

/// Nonces from up to this far in the future are accepted (clock skew
/// between nodes sharing a secret).
const FUTURE_SKEW_SECS: u64 = 60;
/// Default bound of the replay map.
pub const DEFAULT_REPLAY_CAPACITY: usize = 65_536;
const MAC_LEN: usize = 16;
const NONCE_RAW_LEN: usize = 8 + 8 + MAC_LEN;

/// What [`NonceManager`] thinks of a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Ours and fresh.
    Valid,
    /// Ours but expired (or forgotten under memory pressure): answer 401
    /// with `stale=true`.
    Stale,
    /// Not ours (bad MAC, bad encoding, from the future) or no nonce count.
    Invalid,
    /// The nonce count was already used: a replayed request.
    Replayed,
}

struct ReplayState {
    /// nonce → (issue time, highest nc seen).
    seen: HashMap<String, (u64, u32)>,
    /// First-use order, for eviction.
    order: VecDeque<String>,
    /// Newest issue time of a nonce evicted while still fresh: nonces issued
    /// up to then and not in `seen` are answered `Stale`, so eviction can
    /// never re-open a replay.
    evicted_upto: Option<u64>,
}

/// Issues and checks Digest nonces.
///
/// A nonce is `base64url(issue_time ‖ counter ‖ HMAC-SHA256(secret,
/// issue_time ‖ counter)[..16])`: checking it needs no state, so several
/// server nodes sharing `secret` accept each other's nonces. Replay
/// protection (highest `nc` per nonce) is per node and bounded in memory.
pub struct NonceManager {
    secret: [u8; 32],
    ttl: Duration,
    counter: AtomicU64,
    capacity: usize,
    state: Mutex<ReplayState>,
}

impl std::fmt::Debug for NonceManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceManager")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl NonceManager {
    /// A manager with nonces valid for `ttl` and the default replay bound.
    pub fn new(secret: [u8; 32], ttl: Duration) -> NonceManager {
        NonceManager::with_capacity(secret, ttl, DEFAULT_REPLAY_CAPACITY)
    }

    /// Same, remembering at most `capacity` nonces for replay protection.
    pub fn with_capacity(secret: [u8; 32], ttl: Duration, capacity: usize) -> NonceManager {
        NonceManager {
            secret,
            ttl,
            counter: AtomicU64::new(0),
            capacity: capacity.max(1),
            state: Mutex::new(ReplayState {
                seen: HashMap::new(),
                order: VecDeque::new(),
                evicted_upto: None,
            }),
        }
    }

    /// The same manager issuing its nonces from counter value `start`.
    /// Nodes sharing one secret (issue 13) start from different random
    /// values: two nodes issuing equal nonces in the same second would let
    /// one node's replay memory refuse the other's client.
    pub fn counter_from(self, start: u64) -> NonceManager {
        self.counter.store(start, Ordering::Relaxed);
        self
    }

    fn mac(&self, data: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(data);
        mac
    }

    /// A fresh nonce issued at `now` (Unix seconds).
    pub fn issue(&self, now: u64) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut raw = Vec::with_capacity(NONCE_RAW_LEN);
        raw.extend_from_slice(&now.to_be_bytes());
        raw.extend_from_slice(&n.to_be_bytes());
        let tag = self.mac(&raw).finalize().into_bytes();
        raw.extend_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Issue time of a nonce if its MAC is right.
    fn issued_at(&self, nonce: &str) -> Option<u64> {
        let raw = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        if raw.len() != NONCE_RAW_LEN {
            return None;
        }
        let (body, tag) = raw.split_at(16);
        self.mac(body).verify_truncated_left(tag).ok()?;
        Some(u64::from_be_bytes(body[..8].try_into().ok()?))
    }

    /// Stateless check of `nonce` at `now`: `Valid`, `Stale` or `Invalid`.
    pub fn check(&self, nonce: &str, now: u64) -> NonceStatus {
        match self.issued_at(nonce) {
            None => NonceStatus::Invalid,
            Some(t) if t > now.saturating_add(FUTURE_SKEW_SECS) => NonceStatus::Invalid,
            Some(t) if now.saturating_sub(t) > self.ttl.as_secs() => NonceStatus::Stale,
            Some(_) => NonceStatus::Valid,
        }
    }

    /// Records the nonce count of a *verified* response; `Replayed` when
    /// `nc` is not higher than every count seen before with this nonce.
    /// Responses without a nonce count (RFC 2069 mode, which
    /// [`challenge_headers`] never offers) are `Invalid`.
    pub fn record(&self, resp: &DigestResponse, now: u64) -> NonceStatus {
        let status = self.check(&resp.nonce, now);
        if status != NonceStatus::Valid {
            return status;
        }
        let (Some(nc), Some(issued)) = (resp.nc, self.issued_at(&resp.nonce)) else {
            return NonceStatus::Invalid;
        };
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, highest)) = st.seen.get_mut(&resp.nonce) {
            if nc <= *highest {
                return NonceStatus::Replayed;
            }
            *highest = nc;
            return NonceStatus::Valid;
        }
        if st.evicted_upto.is_some_and(|upto| issued <= upto) {
            return NonceStatus::Stale;
        }
        let ttl = self.ttl.as_secs();
        // Drop expired entries at the front: they would be Stale anyway.
        while let Some(front) = st.order.front() {
            match st.seen.get(front) {
                Some(&(t, _)) if now.saturating_sub(t) > ttl => {
                    let key = st.order.pop_front().unwrap_or_default();
                    st.seen.remove(&key);
                }
                _ => break,
            }
        }
        while st.seen.len() >= self.capacity {
            let Some(key) = st.order.pop_front() else {
                break;
            };
            if let Some((t, _)) = st.seen.remove(&key) {
                st.evicted_upto = Some(st.evicted_upto.map_or(t, |u| u.max(t)));
            }
        }
        st.seen.insert(resp.nonce.clone(), (issued, nc));
        st.order.push_back(resp.nonce.clone());
        NonceStatus::Valid
    }
}

/// `WWW-Authenticate` values, one per algorithm, strongest (SHA-256) first,
/// all with `qop="auth"` (RFC 7616 §3.7: clients pick the first they
/// support, and old clients skip SHA-256 and answer the MD5 one).
pub fn challenge_headers(
    realm: &str,
    algorithms: &[Algorithm],
    nonce: &str,
    stale: bool,
) -> Vec<String> {
    let mut algs = algorithms.to_vec();
    algs.sort_by_key(|a| std::cmp::Reverse(a.strength()));
    algs.dedup();
    algs.into_iter()
        .map(|alg| {
            let mut h = format!(
                "Digest realm={}, qop=\"auth\", algorithm={alg}, nonce={}",
                quote(realm),
                quote(nonce)
            );
            if stale {
                h.push_str(", stale=true");
            }
            h
        })
        .collect()
}

/// `Basic realm="..."` (RFC 7617), for servers that also accept Basic.
pub fn basic_challenge(realm: &str) -> String {
    format!("Basic realm={}, charset=\"UTF-8\"", quote(realm))
}

/// A parsed `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub enum Authorization {
    /// RFC 7617 credentials.
    Basic {
        /// User name.
        user: String,
        /// Password (not printed by `Debug`).
        pass: String,
    },
    /// RFC 7616 response.
    Digest(DigestResponse),
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Authorization::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("pass", &"<redacted>")
                .finish(),
            Authorization::Digest(d) => d.fmt(f),
        }
    }
}

/// The parameters of `Authorization: Digest ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestResponse {
    /// User name.
    pub username: String,
    /// Realm the client answered.
    pub realm: String,
    /// Nonce it used.
    pub nonce: String,
    /// The `uri` parameter; must match the request-target.
    pub uri: String,
    /// The response hash (hex).
    pub response: String,
    /// Algorithm (MD5 when absent).
    pub algorithm: Algorithm,
    /// qop chosen, if any.
    pub qop: Option<Qop>,
    /// Nonce count (present with a qop).
    pub nc: Option<u32>,
    /// Client nonce (present with a qop).
    pub cnonce: Option<String>,
    /// Opaque echo.
    pub opaque: Option<String>,
    /// `userhash=true` (not offered by this server, so never verifies).
    pub userhash: bool,
}

/// Parses an `Authorization` (or `Proxy-Authorization`) value.
pub fn parse_authorization(header: &str) -> Result<Authorization, AuthError> {
    let item = parse_items(header)?
        .into_iter()
        .next()
        .ok_or(AuthError::Empty)?;
    if item.scheme.eq_ignore_ascii_case("basic") {
        let raw = STANDARD
            .decode(item.token68.as_deref().ok_or(AuthError::BadBasic)?)
            .map_err(|_| AuthError::BadBasic)?;
        let raw = String::from_utf8(raw).map_err(|_| AuthError::BadBasic)?;
        let (user, pass) = raw.split_once(':').ok_or(AuthError::BadBasic)?;
        return Ok(Authorization::Basic {
            user: user.to_string(),
            pass: pass.to_string(),
        });
    }
    if !item.scheme.eq_ignore_ascii_case("digest") {
        return Err(AuthError::UnsupportedScheme(item.scheme));
    }
    let req = |param: &'static str| {
        item.param(param)
            .map(str::to_string)
            .ok_or(AuthError::MissingParam {
                header: "response",
                param,
            })
    };
    let algorithm = match item.param("algorithm") {
        None => Algorithm::Md5,
        Some(a) => Algorithm::parse(a).ok_or_else(|| AuthError::BadValue {
            param: "algorithm",
            value: a.to_string(),
            expected: "MD5, MD5-sess, SHA-256, SHA-256-sess",
        })?,
    };
    let qop = match item.param("qop") {
        None => None,
        Some(q) => Some(Qop::parse(q).ok_or_else(|| AuthError::BadValue {
            param: "qop",
            value: q.to_string(),
            expected: "auth, auth-int",
        })?),
    };
    let (nc, cnonce) = if qop.is_some() {
        let nc_text = req("nc")?;
        let nc = u32::from_str_radix(&nc_text, 16)
            .ok()
            .filter(|_| nc_text.len() == 8)
            .ok_or(AuthError::BadValue {
                param: "nc",
                value: nc_text,
                expected: "8 hex digits",
            })?;
        (Some(nc), Some(req("cnonce")?))
    } else {
        (None, item.param("cnonce").map(str::to_string))
    };
    Ok(Authorization::Digest(DigestResponse {
        username: req("username")?,
        realm: req("realm")?,
        nonce: req("nonce")?,
        uri: req("uri")?,
        response: req("response")?,
        algorithm,
        qop,
        nc,
        cnonce,
        opaque: item.param("opaque").map(str::to_string),
        userhash: item
            .param("userhash")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    }))
}

/// What the server knows about the user's secret.
#[derive(Clone, Copy)]
pub enum Secret<'a> {
    /// The password itself.
    Password(&'a str),
    /// `H(user:realm:password)` in hex for the response's algorithm (what
    /// an `htdigest` file holds for MD5).
    Ha1(&'a str),
}

/// Whether `resp` is right for a request `method` with `body` (body only
/// matters for `auth-int`). Compares in constant time. Checks neither the
/// nonce's freshness ([`NonceManager`]) nor that `realm` and `uri` match the
/// request: the caller does those.
pub fn verify_digest(resp: &DigestResponse, method: &str, secret: Secret<'_>, body: &[u8]) -> bool {
    if resp.userhash {
        return false;
    }
    let ha1 = match secret {
        Secret::Password(p) => resp.algorithm.ha1_plain(&resp.username, &resp.realm, p),
        Secret::Ha1(h) => h.to_ascii_lowercase(),
    };
    let expected = compute_response(
        &ha1,
        &ResponseInput {
            algorithm: resp.algorithm,
            nonce: &resp.nonce,
            cnonce: resp.cnonce.as_deref().unwrap_or_default(),
            nc: resp.nc.unwrap_or(0),
            qop: resp.qop,
            method,
            uri: &resp.uri,
            body,
        },
    );
    let got = resp.response.to_ascii_lowercase();
    secret_eq(expected.as_bytes(), got.as_bytes())
}

/// Whether Basic credentials match, compared in constant time.
pub fn verify_basic(user: &str, pass: &str, expected_user: &str, expected_pass: &str) -> bool {
    // `&`, not `&&`: both are compared whatever the first gives.
    secret_eq(user.as_bytes(), expected_user.as_bytes())
        & secret_eq(pass.as_bytes(), expected_pass.as_bytes())
}
