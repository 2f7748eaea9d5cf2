//! Retry schedule of failed activation, firmware 12.0(3) onwards (R-ACT-3).
//!
//! The seeds say only that failed activation is retried "with exponential
//! backoff" and that `Resync_Error_Retry_Delay` should stay at or above
//! 60 s. **Decision** (documented, since the vendor publishes no numbers):
//!
//! ```text
//! delay(n) = min(base · 2^n, cap) · (1 + j),  n = 0, 1, 2, ...
//! base     = max(Resync_Error_Retry_Delay, 60 s)   (default 60 s)
//! cap      = max(cap setting, base)               (default 3600 s)
//! j        ∈ [0, jitter)  drawn from ChaCha8(seed, n)  (default jitter 0.1)
//! ```
//!
//! so the first retry comes after 60–66 s, then 120–132 s, 240–264 s, …,
//! and every retry after the eighth waits one to 1.1 hours. Jitter is only
//! ever added, so no retry comes sooner than the floor of 60 s, and it
//! spreads a fleet that failed together (a provider outage) instead of
//! having every phone hit the server in the same second. The jitter of
//! attempt `n` is a pure function of `(seed, n)`: the persisted machine
//! keeps only the seed and the attempt number, and a test replays a
//! schedule exactly.

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The floor the seeds set for `Resync_Error_Retry_Delay` (R-ACT-3).
pub const MIN_RETRY_DELAY_MS: u64 = 60_000;

/// The backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BackoffPolicy {
    /// First delay, ms (`Resync_Error_Retry_Delay`); raised to 60 s if lower.
    pub base_ms: u64,
    /// Largest delay before jitter, ms; raised to `base_ms` if lower.
    pub cap_ms: u64,
    /// Largest fraction added at random (0.1 = up to +10 %); clamped to [0, 1].
    pub jitter: f64,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            base_ms: MIN_RETRY_DELAY_MS,
            cap_ms: 3_600_000,
            jitter: 0.1,
        }
    }
}

impl BackoffPolicy {
    /// A policy from the phone's `Resync_Error_Retry_Delay` (seconds), with
    /// the default cap and jitter.
    pub fn from_retry_delay_s(seconds: u64) -> Self {
        BackoffPolicy {
            base_ms: seconds.saturating_mul(1000),
            ..BackoffPolicy::default()
        }
    }

    /// The delay before retry number `attempt` (0 for the first retry).
    pub fn delay_ms(&self, attempt: u32, seed: u64) -> u64 {
        let base = self.base_ms.max(MIN_RETRY_DELAY_MS);
        let cap = self.cap_ms.max(base);
        let raw = base.saturating_mul(1u64 << attempt.min(62)).min(cap);
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        if jitter == 0.0 {
            return raw;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ u64::from(attempt).rotate_left(32));
        let j: f64 = rng.gen_range(0.0..jitter);
        raw.saturating_add((raw as f64 * j) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_act_3_schedule_doubles_from_60s_to_the_cap() {
        let p = BackoffPolicy {
            jitter: 0.0,
            ..BackoffPolicy::default()
        };
        let got: Vec<u64> = (0..10).map(|n| p.delay_ms(n, 7) / 1000).collect();
        assert_eq!(got, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]);
        assert_eq!(p.delay_ms(u32::MAX, 7), 3_600_000, "no overflow far out");
    }

    #[test]
    fn r_act_3_retry_delay_never_below_60s() {
        let p = BackoffPolicy::from_retry_delay_s(5);
        for n in 0..20 {
            assert!(p.delay_ms(n, n.into()) >= MIN_RETRY_DELAY_MS, "attempt {n}");
        }
        let p = BackoffPolicy::from_retry_delay_s(300);
        assert!(p.delay_ms(0, 1) >= 300_000);
    }

    #[test]
    fn jitter_is_bounded_seeded_and_spreads_a_fleet() {
        let p = BackoffPolicy::default();
        let mut distinct = std::collections::HashSet::new();
        for seed in 0..200u64 {
            for n in 0..8 {
                let d = p.delay_ms(n, seed);
                let raw = (60_000u64 << n).min(3_600_000);
                assert!(d >= raw && d < raw + raw / 10 + 1, "seed {seed} n {n}: {d}");
                assert_eq!(d, p.delay_ms(n, seed), "same seed, same delay");
            }
            distinct.insert(p.delay_ms(0, seed));
        }
        assert!(
            distinct.len() > 150,
            "jitter spreads phones: {}",
            distinct.len()
        );
    }
}
