//! Failed-authentication throttle (issue 12 item 3): guessing is seen
//! (a WARN line and a counter per failure) and slowed down per client
//! address and per user, without ever locking a real phone out.
//!
//! [`Throttle`] is the sans-IO core (the caller passes the time);
//! [`AuthGuard`] is the thread-safe shell every door shares (profiles,
//! reports, the ACS, the admin API), which logs and counts.
//!
//! ## The design, and why it cannot lock a real phone out
//!
//! - **Per client address: refusal before checking.** Each failure from an
//!   address is a strike. After [`ThrottleSettings::free_failures`]
//!   strikes, the address must wait `base_delay * 2^(strikes - free - 1)`
//!   (at most [`ThrottleSettings::max_delay_secs`]) after its last failure
//!   before its credentials are checked again; until then its requests are
//!   answered `429 Too Many Requests` with `Retry-After`, without looking
//!   at the credentials (so a waiting attacker learns nothing and firing
//!   in parallel does not help). One guesser gets `free_failures` guesses,
//!   then one guess per delay, the delay doubling up to the cap.
//! - **Per user: slower failures, never refusal.** Failures naming a user
//!   (from any address) are counted too; past `free_failures` the `401` of
//!   a failed attempt for that user is held back by the same exponential
//!   delay, at most [`ThrottleSettings::max_reply_delay_ms`]. A right
//!   password is never delayed or refused by the user counter: an attacker
//!   guessing a phone's user name from elsewhere cannot keep the phone
//!   out, which a per-user lock would.
//! - A success clears the address's strikes; strikes are forgotten
//!   [`ThrottleSettings::forget_after_secs`] after the last failure, so no
//!   state is permanent. The tables are bounded
//!   ([`ThrottleSettings::max_tracked`]); when full, expired entries are
//!   swept and new keys beyond the bound are not tracked (the counter and
//!   the log still see them).
//!
//! The only phone that can be slowed is one sharing its address with the
//! guesser (behind the same NAT) — and it is slowed (429 with
//! `Retry-After`, which the phone's retry honours), never locked: the
//! wait is capped and ends by itself.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `[throttle]` settings. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleSettings {
    /// Failures an address or user gets before the delays start.
    pub free_failures: u32,
    /// First delay, in milliseconds; doubles with every further failure.
    pub base_delay_ms: u64,
    /// Longest wait for an address, in seconds.
    pub max_delay_secs: u64,
    /// Longest hold-back of one failed reply for a user, in milliseconds.
    pub max_reply_delay_ms: u64,
    /// Strikes are forgotten this long after the last failure (seconds).
    pub forget_after_secs: u64,
    /// Addresses and users tracked at most (each).
    pub max_tracked: usize,
    /// `false` turns slowing off (failures are still logged and counted).
    pub enabled: bool,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            free_failures: 5,
            base_delay_ms: 500,
            max_delay_secs: 60,
            max_reply_delay_ms: 2_000,
            forget_after_secs: 900,
            max_tracked: 100_000,
            enabled: true,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Strikes {
    count: u32,
    last: Instant,
}

/// The sans-IO throttle: strike tables and the delay arithmetic.
#[derive(Debug)]
pub struct Throttle {
    s: ThrottleSettings,
    addrs: HashMap<IpAddr, Strikes>,
    users: HashMap<String, Strikes>,
}

impl Throttle {
    /// An empty throttle.
    pub fn new(settings: ThrottleSettings) -> Throttle {
        Throttle {
            s: settings,
            addrs: HashMap::new(),
            users: HashMap::new(),
        }
    }

    /// The delay earned by `count` strikes.
    pub fn penalty(&self, count: u32) -> Duration {
        if count <= self.s.free_failures {
            return Duration::ZERO;
        }
        let doublings = (count - self.s.free_failures - 1).min(32);
        let ms = self.s.base_delay_ms.saturating_mul(1u64 << doublings);
        Duration::from_millis(ms).min(Duration::from_secs(self.s.max_delay_secs))
    }

    fn forget(&self) -> Duration {
        Duration::from_secs(self.s.forget_after_secs)
    }

    /// Before checking credentials from `addr`: `Some(wait)` means answer
    /// 429 with `Retry-After: wait` and do not check them.
    pub fn gate(&mut self, now: Instant, addr: IpAddr) -> Option<Duration> {
        if !self.s.enabled {
            return None;
        }
        let st = *self.addrs.get(&addr)?;
        if now.saturating_duration_since(st.last) > self.forget() {
            self.addrs.remove(&addr);
            return None;
        }
        let until = st.last + self.penalty(st.count);
        (now < until).then(|| until - now)
    }

    /// Records a failure from `addr` (naming `user`, if any); returns how
    /// long to hold back the failure reply.
    pub fn failure(&mut self, now: Instant, addr: IpAddr, user: Option<&str>) -> Duration {
        let forget = self.forget();
        let max = self.s.max_tracked;
        strike(&mut self.addrs, addr, now, forget, max);
        let count = match user {
            Some(u) => strike(&mut self.users, u.to_string(), now, forget, max),
            None => 0,
        };
        if !self.s.enabled {
            return Duration::ZERO;
        }
        self.penalty(count)
            .min(Duration::from_millis(self.s.max_reply_delay_ms))
    }

    /// Records a success from `addr`: its strikes are cleared.
    pub fn success(&mut self, addr: IpAddr) {
        self.addrs.remove(&addr);
    }

    /// Tracked addresses and users (for tests and metrics).
    pub fn tracked(&self) -> (usize, usize) {
        (self.addrs.len(), self.users.len())
    }
}

/// Adds a strike to `key`; returns its count (0 when the table is full).
fn strike<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Strikes>,
    key: K,
    now: Instant,
    forget: Duration,
    max: usize,
) -> u32 {
    if !map.contains_key(&key) && map.len() >= max {
        map.retain(|_, s| now.saturating_duration_since(s.last) <= forget);
        if map.len() >= max {
            return 0;
        }
    }
    let e = map.entry(key).or_insert(Strikes {
        count: 0,
        last: now,
    });
    if now.saturating_duration_since(e.last) > forget {
        e.count = 0;
    }
    e.count = e.count.saturating_add(1);
    e.last = now;
    e.count
}

/// The shell shared by every door: a locked [`Throttle`], the WARN line
/// and the counters.
///
/// Log lines (target `phoneprov::auth`, level WARN), stable for fail2ban
/// (`failregex = authentication failed: door=\S+ client=<HOST> `):
///
/// ```text
/// authentication failed: door=profile client=192.0.2.7 user="alice"
/// authentication throttled: door=profile client=192.0.2.7 retry_after=4s
/// ```
///
/// Metrics: `phoneprov_auth_failures_total{door}` and
/// `phoneprov_auth_throttled_total{door}`.
#[derive(Debug)]
pub struct AuthGuard {
    throttle: Mutex<Throttle>,
}

impl AuthGuard {
    /// A guard with these settings.
    pub fn new(settings: ThrottleSettings) -> AuthGuard {
        AuthGuard {
            throttle: Mutex::new(Throttle::new(settings)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.throttle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Call before checking credentials from `addr` at `door`; `Some(wait)`
    /// means answer 429 with `Retry-After` (whole seconds, at least 1)
    /// without checking them.
    pub fn gate(&self, door: &'static str, addr: IpAddr) -> Option<Duration> {
        let wait = self.lock().gate(Instant::now(), addr)?;
        metrics::counter!("phoneprov_auth_throttled_total", "door" => door).increment(1);
        tracing::warn!(
            target: "phoneprov::auth",
            "authentication throttled: door={door} client={addr} retry_after={}s",
            retry_after_secs(wait)
        );
        Some(wait)
    }

    /// Call when credentials from `addr` were wrong (or missing where a
    /// phone must present them, after a challenge); returns how long to
    /// hold back the reply. `user` is the name the client claimed.
    pub fn failed(&self, door: &'static str, addr: IpAddr, user: Option<&str>) -> Duration {
        metrics::counter!("phoneprov_auth_failures_total", "door" => door).increment(1);
        match user {
            // Debug quoting: a user name cannot forge a log line.
            Some(u) => tracing::warn!(
                target: "phoneprov::auth",
                "authentication failed: door={door} client={addr} user={u:?}"
            ),
            None => tracing::warn!(
                target: "phoneprov::auth",
                "authentication failed: door={door} client={addr}"
            ),
        }
        self.lock().failure(Instant::now(), addr, user)
    }

    /// Call when credentials from `addr` were right.
    pub fn succeeded(&self, addr: IpAddr) {
        self.lock().success(addr);
    }
}

/// The user name an `Authorization` header (Basic or Digest) claims, for
/// the per-user count and the log line; `None` when it does not parse.
pub fn claimed_user(header: &str) -> Option<String> {
    match crate::server::parse_authorization(header).ok()? {
        crate::server::Authorization::Basic { user, .. } => Some(user),
        crate::server::Authorization::Digest(d) => Some(d.username),
    }
}

/// `Retry-After` value for a wait: whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ThrottleSettings {
        ThrottleSettings {
            free_failures: 2,
            base_delay_ms: 100,
            max_delay_secs: 1,
            max_reply_delay_ms: 300,
            forget_after_secs: 60,
            max_tracked: 3,
            enabled: true,
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
    const PHONE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));

    #[test]
    fn delays_grow_exponentially_to_the_cap() {
        let t = Throttle::new(settings());
        let ms = |n| t.penalty(n).as_millis();
        assert_eq!([ms(0), ms(1), ms(2)], [0, 0, 0]);
        assert_eq!([ms(3), ms(4), ms(5), ms(6)], [100, 200, 400, 800]);
        assert_eq!([ms(7), ms(100), ms(u32::MAX)], [1000, 1000, 1000]);
    }

    #[test]
    fn an_address_is_gated_after_its_free_failures_and_the_phone_is_not() {
        let mut t = Throttle::new(settings());
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(t.gate(t0, A), None);
            t.failure(t0, A, Some("phone"));
        }
        assert_eq!(t.gate(t0, A), None, "free failures are free");
        t.failure(t0, A, Some("phone"));
        assert_eq!(t.gate(t0, A), Some(Duration::from_millis(100)));
        assert_eq!(
            t.gate(t0 + Duration::from_millis(40), A),
            Some(Duration::from_millis(60))
        );
        assert_eq!(t.gate(t0 + Duration::from_millis(100), A), None);
        // The phone's own address is never gated by the attacker's strikes,
        // even though they name the phone's user.
        assert_eq!(t.gate(t0, PHONE), None);
        t.success(PHONE);
        // A success clears the address.
        t.success(A);
        assert_eq!(t.gate(t0, A), None);
    }

    #[test]
    fn user_failures_hold_back_replies_up_to_the_reply_cap_only() {
        let mut t = Throttle::new(settings());
        let t0 = Instant::now();
        let delays: Vec<u128> = (0..6)
            .map(|i| {
                let from = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i));
                t.failure(t0, from, Some("phone")).as_millis()
            })
            .collect();
        assert_eq!(delays, [0, 0, 100, 200, 300, 300]);
        assert_eq!(
            t.failure(t0, A, None),
            Duration::ZERO,
            "no user, no hold-back"
        );
    }

    #[test]
    fn strikes_are_forgotten_and_tables_are_bounded() {
        let mut t = Throttle::new(settings());
        let t0 = Instant::now();
        for _ in 0..5 {
            t.failure(t0, A, None);
        }
        assert!(t.gate(t0, A).is_some());
        let later = t0 + Duration::from_secs(61);
        assert_eq!(t.gate(later, A), None);
        assert_eq!(t.tracked().0, 0);
        for i in 0..10 {
            t.failure(
                later,
                IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i)),
                None,
            );
        }
        assert_eq!(t.tracked().0, 3, "bounded by max_tracked");
        let much_later = later + Duration::from_secs(61);
        t.failure(much_later, A, None);
        assert_eq!(t.tracked().0, 1, "expired entries swept when full");
    }

    #[test]
    fn disabled_throttle_never_slows() {
        let mut t = Throttle::new(ThrottleSettings {
            enabled: false,
            ..settings()
        });
        let t0 = Instant::now();
        for _ in 0..20 {
            assert_eq!(t.failure(t0, A, Some("u")), Duration::ZERO);
        }
        assert_eq!(t.gate(t0, A), None);
    }

    #[test]
    fn claimed_user_reads_basic_and_digest() {
        assert_eq!(claimed_user("Basic YWxpY2U6cHc=").as_deref(), Some("alice"));
        assert_eq!(
            claimed_user(r#"Digest username="bob", realm="r", nonce="n", uri="/", response="00""#)
                .as_deref(),
            Some("bob")
        );
        assert_eq!(claimed_user("Bearer x"), None);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
