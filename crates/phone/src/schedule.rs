//! Resync timing (R-FLOW-5, R-RESULT): `Resync_Periodic` in its three
//! forms, `Resync_Error_Retry_Delay` with backoff lists,
//! `Resync_At__HHmm_`. Pure functions of the parameter text, a step
//! counter and the engine's seeded random generator.
//!
//! Forms (documented for operators):
//! - `Resync_Periodic = N`: N seconds after each success (0: no periodic
//!   resync); `a,b,c`: the k-th interval since boot is the k-th entry, the
//!   last repeating; `N+R`: N plus a uniformly random 0..=R seconds. In
//!   every form `Resync_Random_Delay` seconds of random spread (0..=D) are
//!   added, so a fleet does not hit the server in lock step.
//! - `Resync_Error_Retry_Delay = N`: N seconds after each failure, 0 =
//!   never retry; a list `60,120,240` steps by consecutive failure and
//!   stays at the last entry (a 0 entry also means no retry).
//! - `Resync_At__HHmm_ = HHmm`: daily at that local time plus a random
//!   0..=`Resync_At_Random_Delay` seconds; independent of the periodic
//!   timer (both run).
//! - Unparsable values fall back to the schema default's behaviour.

use crate::types::Time;
use phoneprov_profile::schema::{parse_periodic, parse_retry_schedule, Periodic};
use rand::Rng;

/// Uniform random milliseconds in `0..=max_s` seconds.
pub fn spread_ms(rng: &mut impl Rng, max_s: u64) -> u64 {
    if max_s == 0 {
        0
    } else {
        rng.gen_range(0..=max_s.saturating_mul(1000))
    }
}

/// Seconds until the next periodic resync for the `step`-th interval since
/// boot (0-based), before `Resync_Random_Delay`; `None` disables it.
pub fn periodic_secs(value: &str, step: usize, rng: &mut impl Rng) -> Option<u64> {
    let p = parse_periodic(value).unwrap_or(Periodic::Every(3600));
    let s = match p {
        Periodic::Every(n) => n as u64,
        Periodic::Sequence(list) => list.get(step).or(list.last()).copied().unwrap_or(0) as u64,
        Periodic::Random { base, spread } => {
            if base == 0 && spread == 0 {
                0
            } else {
                base as u64 + rng.gen_range(0..=spread as u64)
            }
        }
    };
    (s > 0).then_some(s)
}

/// Seconds before retrying after the `failures`-th consecutive failure
/// (1-based); `None`: no retry.
pub fn retry_secs(value: &str, failures: u32) -> Option<u64> {
    let list = parse_retry_schedule(value).unwrap_or_else(|_| vec![3600]);
    let i = (failures.max(1) - 1) as usize;
    let s = list.get(i).or(list.last()).copied().unwrap_or(0) as u64;
    (s > 0).then_some(s)
}

/// `HHmm` → milliseconds after midnight; `None` for empty or invalid.
pub fn parse_hhmm(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.len() != 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: u64 = v[..2].parse().ok()?;
    let m: u64 = v[2..].parse().ok()?;
    (h < 24 && m < 60).then_some((h * 60 + m) * 60_000)
}

/// The next local time strictly after `now` whose time of day is `hhmm`.
pub fn next_daily(now: Time, hhmm: &str) -> Option<Time> {
    let at = parse_hhmm(hhmm)?;
    let midnight = now.0 - now.ms_of_day();
    let today = midnight + at;
    Some(Time(if today > now.0 {
        today
    } else {
        today + 86_400_000
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn r_result_periodic_forms() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(periodic_secs("30", 0, &mut rng), Some(30));
        assert_eq!(periodic_secs("0", 0, &mut rng), None);
        assert_eq!(periodic_secs("10,20,30", 0, &mut rng), Some(10));
        assert_eq!(periodic_secs("10,20,30", 2, &mut rng), Some(30));
        assert_eq!(periodic_secs("10,20,30", 9, &mut rng), Some(30));
        for _ in 0..100 {
            let s = periodic_secs("100+50", 0, &mut rng).unwrap();
            assert!((100..=150).contains(&s), "{s}");
        }
        assert_eq!(periodic_secs("garbage", 0, &mut rng), Some(3600));
    }

    #[test]
    fn r_result_retry_forms() {
        assert_eq!(retry_secs("30", 1), Some(30));
        assert_eq!(retry_secs("30", 7), Some(30));
        assert_eq!(retry_secs("0", 1), None);
        assert_eq!(retry_secs("60,120,240", 1), Some(60));
        assert_eq!(retry_secs("60,120,240", 2), Some(120));
        assert_eq!(retry_secs("60,120,240", 3), Some(240));
        assert_eq!(retry_secs("60,120,240", 10), Some(240));
    }

    #[test]
    fn r_flow_5_daily() {
        assert_eq!(parse_hhmm("0230"), Some(9_000_000));
        assert_eq!(parse_hhmm("2400"), None);
        assert_eq!(parse_hhmm(""), None);
        let day = 86_400_000;
        let now = Time(3 * day + 3_600_000); // day 3, 01:00
        assert_eq!(next_daily(now, "0230"), Some(Time(3 * day + 9_000_000)));
        assert_eq!(next_daily(now, "0030"), Some(Time(4 * day + 1_800_000)));
        assert_eq!(next_daily(now, "0100"), Some(Time(4 * day + 3_600_000)));
    }
}
