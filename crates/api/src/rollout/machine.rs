//! The rollout machine, sans IO: given where a rollout stands
//! ([`Phase`]), the time and what the current wave's devices reported
//! ([`Tally`]), [`decide`] says what happens next ([`Decision`]). It reads
//! no clock and no database; the shell (module `rollout`) feeds it from
//! the store and carries its decisions out, and the tests drive it on a
//! virtual clock.
//!
//! # The health gate (decisions)
//! - A wave *fails* when more than `threshold_pct` percent of its devices
//!   reported a failed upgrade (`failed × 100 > threshold × size`): the
//!   rollout halts at once, without waiting for the rest of the wave
//!   (failures only add up), and the halt names the failed devices with
//!   their reasons.
//! - A wave *passes* when every device reported and the gate held; then
//!   the next wave starts, after the soak time when one is set. The gate
//!   is still checked during the soak (a late failure halts).
//! - A wave that reaches its timeout with devices still silent is judged
//!   with the silent ones counted as failures: a phone that never came
//!   back is not healthy.
//! - After the last wave passes, the rollout is done.
//!
//! Wave sizes: wave `i` covers the selection up to `ceil(total × p_i /
//! 100)` devices (cumulative percents `p_i`), so a 1 % first wave of 100
//! devices is one device, and any non-empty selection puts at least one
//! device in the first wave.

/// The waves when none are given: cumulative percents.
pub const DEFAULT_WAVES: [u32; 4] = [1, 10, 50, 100];
/// The failure threshold when none is given, percent.
pub const DEFAULT_THRESHOLD_PCT: u32 = 10;
/// How many failures a halt's reason names.
pub const NAMED_FAILURES: usize = 20;

/// A rollout's fixed parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// How many waves.
    pub waves: usize,
    /// Failure threshold, percent.
    pub threshold_pct: u32,
    /// How long a wave waits for reports, ms.
    pub wave_timeout_ms: i64,
    /// How long a passed wave is watched before the next, ms.
    pub soak_ms: i64,
}

/// Where a running rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No wave started yet.
    NotStarted,
    /// Wave `wave` started at `started_ms`; waiting for its reports.
    Watching {
        /// The wave (0-based).
        wave: usize,
        /// When it started.
        started_ms: i64,
    },
    /// Wave `wave` passed; the next starts at `until_ms`.
    Soaking {
        /// The wave (0-based).
        wave: usize,
        /// When it started.
        started_ms: i64,
        /// When the soak ends.
        until_ms: i64,
    },
}

/// What the current wave's devices reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Devices switched in the wave.
    pub size: u64,
    /// Devices that reported a successful upgrade.
    pub succeeded: u64,
    /// Devices that reported a failure: (MAC, reason).
    pub failed: Vec<(String, String)>,
}

impl Tally {
    /// Devices that said nothing yet.
    pub fn silent(&self) -> u64 {
        self.size
            .saturating_sub(self.succeeded)
            .saturating_sub(self.failed.len() as u64)
    }
}

/// What happens next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing yet.
    Wait,
    /// Switch the devices of wave `wave` (0-based) to the target.
    StartWave {
        /// The wave.
        wave: usize,
    },
    /// The wave passed; start the next at `until_ms`.
    Soak {
        /// When the soak ends.
        until_ms: i64,
    },
    /// Stop: the gate failed. The reason is one paragraph for operators.
    Halt {
        /// Why.
        reason: String,
    },
    /// The last wave passed.
    Done,
}

/// Whether `failed` of `size` devices exceeds the threshold.
pub fn over_threshold(failed: u64, size: u64, threshold_pct: u32) -> bool {
    u128::from(failed) * 100 > u128::from(threshold_pct) * u128::from(size)
}

/// The next step of a running rollout (module docs).
pub fn decide(plan: &Plan, phase: Phase, now_ms: i64, tally: &Tally) -> Decision {
    let (wave, started_ms, soak_until) = match phase {
        Phase::NotStarted => {
            return if plan.waves == 0 {
                Decision::Done
            } else {
                Decision::StartWave { wave: 0 }
            }
        }
        Phase::Watching { wave, started_ms } => (wave, started_ms, None),
        Phase::Soaking {
            wave,
            started_ms,
            until_ms,
        } => (wave, started_ms, Some(until_ms)),
    };
    let failed = tally.failed.len() as u64;
    if over_threshold(failed, tally.size, plan.threshold_pct) {
        return Decision::Halt {
            reason: halt_reason(plan, wave, tally, None),
        };
    }
    if let Some(until) = soak_until {
        return if now_ms >= until {
            next_wave(plan, wave, now_ms, true)
        } else {
            Decision::Wait
        };
    }
    let silent = tally.silent();
    if silent == 0 {
        return next_wave(plan, wave, now_ms, false);
    }
    if now_ms.saturating_sub(started_ms) >= plan.wave_timeout_ms {
        if over_threshold(failed + silent, tally.size, plan.threshold_pct) {
            return Decision::Halt {
                reason: halt_reason(plan, wave, tally, Some(silent)),
            };
        }
        return next_wave(plan, wave, now_ms, false);
    }
    Decision::Wait
}

fn next_wave(plan: &Plan, wave: usize, now_ms: i64, soaked: bool) -> Decision {
    if wave + 1 >= plan.waves {
        Decision::Done
    } else if plan.soak_ms > 0 && !soaked {
        Decision::Soak {
            until_ms: now_ms.saturating_add(plan.soak_ms),
        }
    } else {
        Decision::StartWave { wave: wave + 1 }
    }
}

fn halt_reason(plan: &Plan, wave: usize, tally: &Tally, silent: Option<u64>) -> String {
    let failed = tally.failed.len() as u64 + silent.unwrap_or(0);
    let pct = if tally.size == 0 {
        0.0
    } else {
        failed as f64 * 100.0 / tally.size as f64
    };
    let mut s = format!(
        "wave {} of {}: {failed} of {} devices failed ({pct:.0} %, more than the {} % threshold)",
        wave + 1,
        plan.waves,
        tally.size,
        plan.threshold_pct
    );
    if let Some(n) = silent.filter(|n| *n > 0) {
        s.push_str(&format!(
            ", {n} of them silent after the {} s wave timeout",
            plan.wave_timeout_ms / 1000
        ));
    }
    if !tally.failed.is_empty() {
        s.push_str("; failed: ");
        let named: Vec<String> = tally
            .failed
            .iter()
            .take(NAMED_FAILURES)
            .map(|(mac, why)| format!("{mac} ({why})"))
            .collect();
        s.push_str(&named.join(", "));
        if tally.failed.len() > NAMED_FAILURES {
            s.push_str(&format!(
                ", and {} more",
                tally.failed.len() - NAMED_FAILURES
            ));
        }
    }
    s
}

/// Checks waves given as cumulative percents: 1 to 100, increasing, the
/// last 100.
pub fn check_waves(waves: &[u32]) -> Result<(), String> {
    let ok = !waves.is_empty()
        && waves.iter().all(|p| (1..=100).contains(p))
        && waves.windows(2).all(|w| w[0] < w[1])
        && waves.last() == Some(&100);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "waves {waves:?}: give increasing cumulative percents from 1 to 100 ending at 100, e.g. 1,10,50,100"
        ))
    }
}

/// The wave (0-based) of each of `total` devices taken in order, for
/// cumulative percents `waves` (module docs).
pub fn wave_of_each(total: usize, waves: &[u32]) -> Vec<usize> {
    let mut out = Vec::with_capacity(total);
    for (i, p) in waves.iter().enumerate() {
        let upto = (total * *p as usize).div_ceil(100).min(total);
        while out.len() < upto {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn plan(waves: usize, soak_ms: i64) -> Plan {
        Plan {
            waves,
            threshold_pct: 10,
            wave_timeout_ms: 30 * MIN,
            soak_ms,
        }
    }

    fn tally(size: u64, ok: u64, failed: &[&str]) -> Tally {
        Tally {
            size,
            succeeded: ok,
            failed: failed
                .iter()
                .map(|m| (m.to_string(), "image refused".to_string()))
                .collect(),
        }
    }

    /// A small driver on a virtual clock: applies decisions to the phase
    /// as the shell does, records them.
    struct Sim {
        plan: Plan,
        phase: Phase,
        now: i64,
        log: Vec<Decision>,
        halted: Option<String>,
        done: bool,
    }

    impl Sim {
        fn new(plan: Plan) -> Sim {
            Sim {
                plan,
                phase: Phase::NotStarted,
                now: 0,
                log: Vec::new(),
                halted: None,
                done: false,
            }
        }

        fn tick(&mut self, advance_ms: i64, t: &Tally) -> Decision {
            self.now += advance_ms;
            let d = decide(&self.plan, self.phase, self.now, t);
            match &d {
                Decision::Wait => {}
                Decision::StartWave { wave } => {
                    self.phase = Phase::Watching {
                        wave: *wave,
                        started_ms: self.now,
                    }
                }
                Decision::Soak { until_ms } => {
                    if let Phase::Watching { wave, started_ms } = self.phase {
                        self.phase = Phase::Soaking {
                            wave,
                            started_ms,
                            until_ms: *until_ms,
                        }
                    }
                }
                Decision::Halt { reason } => self.halted = Some(reason.clone()),
                Decision::Done => self.done = true,
            }
            if d != Decision::Wait {
                self.log.push(d.clone());
            }
            d
        }
    }

    #[test]
    fn wave_sizes_are_cumulative_ceilings() {
        let w = wave_of_each(100, &DEFAULT_WAVES);
        let count = |i| w.iter().filter(|x| **x == i).count();
        assert_eq!((count(0), count(1), count(2), count(3)), (1, 9, 40, 50));
        assert_eq!(
            wave_of_each(3, &[10, 100]),
            [0, 1, 1],
            "a first wave is never empty"
        );
        assert_eq!(wave_of_each(0, &[10, 100]), Vec::<usize>::new());
        assert_eq!(wave_of_each(10, &[10, 50, 100]).len(), 10);
    }

    #[test]
    fn waves_are_checked() {
        assert!(check_waves(&DEFAULT_WAVES).is_ok());
        for bad in [
            &[][..],
            &[10, 50],
            &[50, 10, 100],
            &[0, 100],
            &[10, 10, 100],
            &[10, 120],
        ] {
            let e = check_waves(bad).unwrap_err();
            assert!(e.contains("ending at 100"), "{e}");
        }
    }

    /// The Done-when case on a virtual clock: 100 devices, every fifth
    /// fails; a 10 % first wave has 2 failures of 10 and halts there,
    /// naming them, before the second wave starts.
    #[test]
    fn a_wave_over_the_threshold_halts_and_names_the_failures() {
        let mut m = Sim::new(plan(3, 0));
        assert_eq!(
            m.tick(0, &Tally::default()),
            Decision::StartWave { wave: 0 }
        );
        assert_eq!(
            m.tick(MIN, &tally(10, 3, &[])),
            Decision::Wait,
            "reports still coming"
        );
        assert_eq!(
            m.tick(MIN, &tally(10, 4, &["000e08000005"])),
            Decision::Wait,
            "1 of 10 is not over 10 %"
        );
        let d = m.tick(MIN, &tally(10, 5, &["000e08000005", "000e0800000a"]));
        let Decision::Halt { reason } = d else {
            panic!("{d:?}")
        };
        assert!(
            reason.starts_with("wave 1 of 3: 2 of 10 devices failed (20 %"),
            "{reason}"
        );
        assert!(
            reason.contains("000e08000005 (image refused)") && reason.contains("000e0800000a"),
            "{reason}"
        );
        assert_eq!(
            m.log
                .iter()
                .filter(|d| matches!(d, Decision::StartWave { .. }))
                .count(),
            1
        );
    }

    #[test]
    fn healthy_waves_follow_each_other_after_the_soak_then_done() {
        let mut m = Sim::new(plan(3, 5 * MIN));
        m.tick(0, &Tally::default());
        assert_eq!(
            m.tick(MIN, &tally(1, 1, &[])),
            Decision::Soak { until_ms: 6 * MIN }
        );
        assert_eq!(m.tick(MIN, &tally(1, 1, &[])), Decision::Wait, "soaking");
        assert_eq!(
            m.tick(4 * MIN, &tally(1, 1, &[])),
            Decision::StartWave { wave: 1 }
        );
        assert_eq!(
            m.tick(MIN, &tally(9, 9, &[])),
            Decision::Soak { until_ms: 12 * MIN }
        );
        assert_eq!(
            m.tick(6 * MIN, &tally(9, 9, &[])),
            Decision::StartWave { wave: 2 }
        );
        assert_eq!(
            m.tick(MIN, &tally(90, 90, &[])),
            Decision::Done,
            "no soak after the last wave"
        );
        assert!(m.done && m.halted.is_none());
    }

    #[test]
    fn a_failure_during_the_soak_halts() {
        let mut m = Sim::new(plan(2, 10 * MIN));
        m.tick(0, &Tally::default());
        assert!(matches!(
            m.tick(MIN, &tally(5, 5, &[])),
            Decision::Soak { .. }
        ));
        let d = m.tick(MIN, &tally(5, 4, &["000e08000003"]));
        assert!(matches!(d, Decision::Halt { .. }), "{d:?}");
    }

    #[test]
    fn silent_devices_count_as_failed_at_the_timeout() {
        let mut m = Sim::new(plan(2, 0));
        m.tick(0, &Tally::default());
        assert_eq!(m.tick(29 * MIN, &tally(10, 8, &[])), Decision::Wait);
        let d = m.tick(MIN, &tally(10, 8, &[]));
        let Decision::Halt { reason } = d else {
            panic!("{d:?}")
        };
        assert!(
            reason.contains("2 of 10 devices failed") && reason.contains("2 of them silent"),
            "{reason}"
        );

        // One silent device of 10 is within the gate: the next wave.
        let mut m = Sim::new(plan(2, 0));
        m.tick(0, &Tally::default());
        assert_eq!(
            m.tick(30 * MIN, &tally(10, 9, &[])),
            Decision::StartWave { wave: 1 }
        );
    }

    #[test]
    fn a_long_failure_list_is_cut() {
        let macs: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = macs.iter().map(String::as_str).collect();
        let d = decide(
            &plan(2, 0),
            Phase::Watching {
                wave: 0,
                started_ms: 0,
            },
            1,
            &tally(30, 0, &refs),
        );
        let Decision::Halt { reason } = d else {
            panic!("{d:?}")
        };
        assert!(reason.ends_with("and 10 more"), "{reason}");
        assert!(over_threshold(11, 100, 10) && !over_threshold(10, 100, 10));
        assert!(!over_threshold(0, 0, 0), "an empty wave passes");
    }
}
