//! Staged firmware rollouts (issue 14 item 5b): a firmware target rolled
//! out to a selection in waves (default 1 %, 10 %, 50 %, 100 %) behind a
//! health gate read from what the phones report.
//!
//! The pieces:
//! - [`machine`]: the sans-IO decisions (start the next wave, soak, halt,
//!   done), tested on a virtual clock;
//! - [`judge`]: what one device's reports since its switch say (sans IO
//!   too): a syslog line the R-LOG classifier reads as an upgrade failure
//!   or success (`Log_Upgrade_Failure_Msg`, `Log_Upgrade_Success_Msg`), an
//!   `upgrade` event (a TR-069 TransferComplete, or the server's own
//!   record of a firmware fetch that failed, e.g. a missing image), or the
//!   device announcing the target version in its User-Agent;
//! - this module's shell: [`create`] (the selection's devices get their
//!   waves), [`step_all`] (one pass over the running rollouts: judge the
//!   current wave, apply the machine's decision), [`resume`], and
//!   [`drive`], the server's loop that runs `step_all` every [`TICK`] on a
//!   blocking thread and pushes resyncs to a started wave's phones;
//! - the store's `rollouts` and `rollout_devices` tables (schema v10),
//!   which hold everything: the driver keeps no state of its own, so the
//!   API, the console and the CLI (which only write rows: create, pause,
//!   resume, roll back) act on a rollout the server drives, a restarted
//!   server goes on where it stopped, and nodes sharing a PostgreSQL
//!   database step each rollout once (`Store::advance_rollout` moves only
//!   from the state it read).
//!
//! How a wave reaches the phones: starting a wave writes the target into
//! the devices' `firmware_version`/`firmware_file` variables, which the
//! server renders into their profile's `Upgrade_Rule` (see the store's
//! `rollout` module); phones take it at their next resync, or at once when
//! the rollout pushes resyncs (`push_rate` per second; the push goes where
//! bulk resyncs go: the device's `push_url` or last address).
//!
//! Decisions: a halted rollout stays halted until an operator resumes it
//! (the next wave then starts at once: resuming is the operator accepting
//! the failed wave) or rolls it back (the switched devices get their
//! previous firmware variables back). Resuming a paused rollout restarts
//! the current wave's timeout. The image file is checked for a safe name,
//! not for existence: the firmware directory belongs to the server, and a
//! missing image shows as every phone of the first wave failing with a
//! 404, which halts the rollout there.

pub mod http;
pub mod machine;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use phoneprov_store::{
    now_ms, Database, Device, EventKind, Mac, NewRollout, Outcome, Rollout, RolloutDevice,
    RolloutStep, Selection, Store, StoreError, WaveCount, WaveMember,
};
use phoneprov_syslog::{classify, PhoneLogKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use machine::{Decision, Phase, Plan, Tally};

/// How often the driver steps the running rollouts.
pub const TICK: Duration = Duration::from_secs(1);
/// The wave timeout when none is given.
pub const DEFAULT_WAVE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Failed devices a status lists.
pub const LISTED_FAILURES: usize = 100;

/// A rollout as the API takes it (the CLI and the console build one).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutRequest {
    /// The target firmware version (what phones announce once upgraded).
    pub version: String,
    /// The image, a file under the server's firmware directory (served
    /// at `/firmware/FILE`).
    pub file: String,
    /// Which devices: the device list's filter (`q`, `model`, `group`,
    /// `outcome`, `firmware`, `older`), `macs`, or `all`.
    #[schema(value_type = Object)]
    pub selection: Selection,
    /// Cumulative percents of the selection per wave, increasing, ending
    /// at 100 (default `[1, 10, 50, 100]`).
    #[serde(default)]
    pub waves: Option<Vec<u32>>,
    /// A wave halts the rollout when more than this percent of its
    /// devices failed (default 10).
    #[serde(default)]
    pub threshold_pct: Option<u32>,
    /// How long a wave waits for its devices' reports; silent devices
    /// then count as failed (humantime, default `30m`).
    #[serde(default)]
    pub wave_timeout: Option<String>,
    /// How long a healthy wave is watched before the next starts
    /// (humantime, default `0s`).
    #[serde(default)]
    pub soak: Option<String>,
    /// Resyncs pushed per second to a started wave's phones (0: none,
    /// phones take the target at their next periodic resync; default 10).
    #[serde(default)]
    pub push_rate: Option<u32>,
}

/// Why a rollout operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// The request is wrong.
    #[error("{0}")]
    Bad(String),
    /// No such rollout.
    #[error("no rollout {0}")]
    NotFound(i64),
    /// The rollout's state does not allow it.
    #[error("rollout {id} is {state}; {what}")]
    State {
        /// The rollout.
        id: i64,
        /// Its state.
        state: String,
        /// What can be done.
        what: &'static str,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn duration_ms(what: &str, text: Option<&str>, default: Duration) -> Result<i64, RolloutError> {
    let d = match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => default,
        Some(t) => humantime::parse_duration(t).map_err(|e| {
            RolloutError::Bad(format!("{what} {t:?}: {e}; write e.g. 90s, 30m or 2h"))
        })?,
    };
    Ok(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A safe image name: relative, no `..`, no backslash, no control
/// characters.
fn check_file(file: &str) -> Result<(), RolloutError> {
    let bad = file.trim().is_empty()
        || file.starts_with('/')
        || file.contains('\\')
        || file.chars().any(char::is_control)
        || file
            .split('/')
            .any(|p| p == ".." || p == "." || p.is_empty());
    if bad {
        return Err(RolloutError::Bad(format!(
            "file {file:?}: give the image's path under the firmware directory, e.g. cp8841-12.0.1.loads"
        )));
    }
    Ok(())
}

/// The checked parts of a request.
struct Checked {
    waves: Vec<u32>,
    threshold_pct: u32,
    wave_timeout_ms: i64,
    soak_ms: i64,
    push_rate: u32,
}

impl RolloutRequest {
    fn check(&self) -> Result<Checked, RolloutError> {
        if self.version.trim().is_empty() || self.version.chars().any(char::is_control) {
            return Err(RolloutError::Bad(
                "version: give the version phones announce once upgraded, e.g. 12.0.1".into(),
            ));
        }
        check_file(&self.file)?;
        self.selection.check().map_err(RolloutError::Bad)?;
        let waves = self
            .waves
            .clone()
            .unwrap_or_else(|| machine::DEFAULT_WAVES.to_vec());
        machine::check_waves(&waves).map_err(RolloutError::Bad)?;
        let threshold_pct = self.threshold_pct.unwrap_or(machine::DEFAULT_THRESHOLD_PCT);
        if threshold_pct > 100 {
            return Err(RolloutError::Bad(format!(
                "threshold {threshold_pct} %: give 0 to 100"
            )));
        }
        let push_rate = self.push_rate.unwrap_or(crate::bulk::DEFAULT_RATE);
        if push_rate > crate::bulk::MAX_RATE {
            return Err(RolloutError::Bad(format!(
                "push rate {push_rate}/s: give 0 to {}",
                crate::bulk::MAX_RATE
            )));
        }
        Ok(Checked {
            waves,
            threshold_pct,
            wave_timeout_ms: duration_ms(
                "wave timeout",
                self.wave_timeout.as_deref(),
                DEFAULT_WAVE_TIMEOUT,
            )?,
            soak_ms: duration_ms("soak", self.soak.as_deref(), Duration::ZERO)?,
            push_rate,
        })
    }
}

/// Records a rollout for `req` (every selected device gets its wave, in
/// MAC order); the server's driver starts its first wave within a
/// [`TICK`]. Nothing is written when the request is wrong or selects no
/// device. A filter (or `all`) is written by the database in one
/// statement ([`Store::create_rollout_matching`]), and so is a list of
/// MACs ([`Store::create_rollout`], the list sorted); the waves are
/// [`machine::wave_of_each`]'s.
pub fn create(
    store: &mut Store,
    req: &RolloutRequest,
    created_by: &str,
) -> Result<Rollout, RolloutError> {
    let c = req.check()?;
    let selection = serde_json::to_string(&req.selection).unwrap_or_default();
    let new = NewRollout {
        version: req.version.trim(),
        file: req.file.trim(),
        selection: &selection,
        waves: &c.waves,
        threshold_pct: c.threshold_pct,
        wave_timeout_ms: c.wave_timeout_ms,
        soak_ms: c.soak_ms,
        push_rate: c.push_rate,
        created_by,
    };
    let macs = req.selection.mac_list().map_err(RolloutError::Bad)?;
    let id = if macs.is_empty() {
        let q = req.selection.query(now_ms()).map_err(RolloutError::Bad)?;
        store.create_rollout_matching(&new, &q)?
    } else {
        Some(store.create_rollout(&new, &macs)?)
    };
    let id = id.ok_or_else(|| {
        RolloutError::Bad(
            "the selection matches no device; check it with phoneprov device list".into(),
        )
    })?;
    store.rollout(id)?.ok_or(RolloutError::NotFound(id))
}

/// What one device's reports say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing yet.
    Pending,
    /// Upgraded.
    Success,
    /// Failed, with the reported reason.
    Failed(String),
}

/// Judges a wave member against the target `version` (module docs): its
/// latest upgrade report wins; announcing the target version is success.
pub fn judge(m: &WaveMember, version: &str) -> Verdict {
    if m.firmware.as_deref() == Some(version) {
        return Verdict::Success;
    }
    let mut v = Verdict::Pending;
    for e in &m.events {
        match e.kind {
            EventKind::Syslog => match classify(&e.message) {
                PhoneLogKind::UpgradeFailure => v = Verdict::Failed(e.message.clone()),
                PhoneLogKind::UpgradeSuccess => v = Verdict::Success,
                _ => {}
            },
            EventKind::Upgrade => match e.outcome {
                // A TransferComplete without fault: installed.
                Some(Outcome::Success) if e.message.starts_with("TransferComplete") => {
                    v = Verdict::Success
                }
                // The server served the image: not installed yet.
                Some(Outcome::Success) | None => {}
                Some(o) => v = Verdict::Failed(format!("{o}: {}", e.message)),
            },
            _ => {}
        }
    }
    v
}

fn plan_of(r: &Rollout) -> Plan {
    Plan {
        waves: r.waves.len(),
        threshold_pct: r.threshold_pct,
        wave_timeout_ms: r.wave_timeout_ms,
        soak_ms: r.soak_ms,
    }
}

fn phase_of(r: &Rollout, now: i64) -> Phase {
    let Ok(wave) = usize::try_from(r.wave) else {
        return Phase::NotStarted;
    };
    let started_ms = r.wave_started_ms.unwrap_or(now);
    match r.soak_until_ms {
        Some(until_ms) => Phase::Soaking {
            wave,
            started_ms,
            until_ms,
        },
        None => Phase::Watching { wave, started_ms },
    }
}

/// Judges the current wave's devices, records their results, and tallies
/// them.
fn tally(store: &mut Store, r: &Rollout) -> Result<Tally, StoreError> {
    if r.wave < 0 {
        return Ok(Tally::default());
    }
    let members = store.rollout_wave_reports(r.id, r.wave)?;
    let mut t = Tally {
        size: members.len() as u64,
        ..Tally::default()
    };
    let mut changed: Vec<(Mac, &'static str, Option<String>)> = Vec::new();
    for m in &members {
        let (result, reason) = match judge(m, &r.version) {
            Verdict::Pending => ("upgrading", None),
            Verdict::Success => {
                t.succeeded += 1;
                ("success", None)
            }
            Verdict::Failed(why) => {
                t.failed.push((m.mac.to_string(), why.clone()));
                ("failed", Some(why))
            }
        };
        if m.result != result || reason.is_some() {
            changed.push((m.mac, result, reason));
        }
    }
    if !changed.is_empty() {
        let rows: Vec<(Mac, &str, Option<&str>)> = changed
            .iter()
            .map(|(m, r, w)| (*m, *r, w.as_deref()))
            .collect();
        store.set_rollout_results(r.id, &rows)?;
    }
    Ok(t)
}

/// A wave just started: the devices to push a resync to.
#[derive(Debug, Clone)]
pub struct WaveStart {
    /// The rollout.
    pub rollout: i64,
    /// Resyncs per second (0: none).
    pub push_rate: u32,
    /// The switched devices.
    pub devices: Vec<Device>,
}

/// Starts wave `wave` of `r`: switches its devices, then moves the row
/// from `from`; returns the switched devices.
fn start_wave(
    store: &mut Store,
    r: &Rollout,
    from: &RolloutStep,
    wave: usize,
    now: i64,
) -> Result<WaveStart, StoreError> {
    let wave = wave as i64;
    let macs = store.switch_rollout_wave(r.id, wave, &r.version, &r.file)?;
    let to = RolloutStep {
        state: "running".into(),
        wave,
        wave_started_ms: Some(now),
        soak_until_ms: None,
        reason: None,
    };
    store.advance_rollout(r.id, from, &to)?;
    let mut devices = Vec::new();
    if r.push_rate > 0 {
        for m in macs {
            if let Some(d) = store.device(m)? {
                devices.push(d);
            }
        }
    }
    tracing::info!(rollout = r.id, wave = wave + 1, "rollout wave started");
    Ok(WaveStart {
        rollout: r.id,
        push_rate: r.push_rate,
        devices,
    })
}

/// One step of a running rollout at `now` (module docs); returns the wave
/// it started, if any.
pub fn step(store: &mut Store, r: &Rollout, now: i64) -> Result<Option<WaveStart>, StoreError> {
    if r.state != "running" {
        // A paused or halted rollout's wave keeps being judged until its
        // timeout, so its status shows the late reports too.
        let watching = r
            .wave_started_ms
            .is_some_and(|t| now.saturating_sub(t) < r.wave_timeout_ms);
        if watching && matches!(r.state.as_str(), "paused" | "halted") {
            tally(store, r)?;
        }
        return Ok(None);
    }
    let t = tally(store, r)?;
    let from = r.step();
    let to = |state: &str, reason: Option<String>, soak: Option<i64>| RolloutStep {
        state: state.to_string(),
        reason,
        soak_until_ms: soak,
        ..from.clone()
    };
    match machine::decide(&plan_of(r), phase_of(r, now), now, &t) {
        Decision::Wait => Ok(None),
        Decision::StartWave { wave } => start_wave(store, r, &from, wave, now).map(Some),
        Decision::Soak { until_ms } => {
            store.advance_rollout(r.id, &from, &to("running", None, Some(until_ms)))?;
            Ok(None)
        }
        Decision::Halt { reason } => {
            tracing::warn!(rollout = r.id, %reason, "rollout halted");
            store.advance_rollout(r.id, &from, &to("halted", Some(reason), None))?;
            Ok(None)
        }
        Decision::Done => {
            tracing::info!(rollout = r.id, "rollout done");
            store.advance_rollout(r.id, &from, &to("done", None, None))?;
            Ok(None)
        }
    }
}

/// One pass over every unfinished rollout at `now`; returns the waves
/// started. A rollout whose step fails is logged and skipped.
pub fn step_all(store: &mut Store, now: i64) -> Result<Vec<WaveStart>, StoreError> {
    let mut started = Vec::new();
    for r in store.active_rollouts()? {
        match step(store, &r, now) {
            Ok(Some(w)) => started.push(w),
            Ok(None) => {}
            Err(e) => tracing::warn!(rollout = r.id, error = %e, "rollout step failed"),
        }
    }
    Ok(started)
}

/// Pauses a running rollout: no wave starts and no halt is decided until
/// it is resumed.
pub fn pause(store: &mut Store, id: i64) -> Result<Rollout, RolloutError> {
    match store.set_rollout_state(id, &["running"], "paused", None)? {
        Some((true, r)) => Ok(r),
        Some((false, r)) => Err(RolloutError::State {
            id,
            state: r.state,
            what: "only a running rollout can be paused",
        }),
        None => Err(RolloutError::NotFound(id)),
    }
}

/// Resumes a paused rollout (its current wave's timeout starts again) or
/// a halted one (the next wave starts now; a rollout halted on its last
/// wave is done). Returns the rollout and the wave started, if any.
pub fn resume(
    store: &mut Store,
    id: i64,
    now: i64,
) -> Result<(Rollout, Option<WaveStart>), RolloutError> {
    let r = store.rollout(id)?.ok_or(RolloutError::NotFound(id))?;
    let from = r.step();
    let mut to = RolloutStep {
        state: "running".into(),
        reason: None,
        ..from.clone()
    };
    let mut started = None;
    match r.state.as_str() {
        "paused" => {
            if r.wave >= 0 && r.soak_until_ms.is_none() {
                to.wave_started_ms = Some(now);
            }
            if !store.advance_rollout(id, &from, &to)? {
                return Err(RolloutError::State {
                    id,
                    state: "changing".into(),
                    what: "it changed meanwhile; try again",
                });
            }
        }
        "halted" => {
            let next = usize::try_from(r.wave + 1).unwrap_or(0);
            if next >= r.waves.len() {
                to.state = "done".into();
                store.advance_rollout(id, &from, &to)?;
            } else {
                let paused = RolloutStep {
                    state: "halted".into(),
                    ..from.clone()
                };
                started = Some(start_wave(store, &r, &paused, next, now)?);
            }
        }
        other => {
            return Err(RolloutError::State {
                id,
                state: other.to_string(),
                what: "only a paused or halted rollout can be resumed",
            })
        }
    }
    let r = store.rollout(id)?.ok_or(RolloutError::NotFound(id))?;
    Ok((r, started))
}

/// Rolls a rollout back: its switched devices get their previous
/// firmware variables (phones downgrade at their next resync, as their
/// `Upgrade_Rule` and `Downgrade_Rev_Limit` allow). Returns how many
/// devices went back and the rollout.
pub fn roll_back(store: &mut Store, id: i64, by: &str) -> Result<(u64, Rollout), RolloutError> {
    let r = store.rollout(id)?.ok_or(RolloutError::NotFound(id))?;
    if r.state == "rolled-back" {
        return Err(RolloutError::State {
            id,
            state: r.state,
            what: "it was rolled back already",
        });
    }
    let reason = format!("rolled back by {by} (was {})", r.state);
    store
        .roll_back_rollout(id, &reason)?
        .ok_or(RolloutError::NotFound(id))
}

/// A rollout with its devices' counts and failures: the rollout's fields,
/// `counts` and `failed`.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutStatus {
    /// The rollout.
    #[serde(flatten)]
    pub rollout: Rollout,
    /// Devices per wave and result.
    pub counts: Vec<WaveCount>,
    /// The failed devices with their reasons (the first 100 in MAC order).
    pub failed: Vec<RolloutDevice>,
}

/// The status of rollout `id`.
pub fn status(store: &Store, id: i64) -> Result<RolloutStatus, RolloutError> {
    let rollout = store.rollout(id)?.ok_or(RolloutError::NotFound(id))?;
    Ok(RolloutStatus {
        counts: store.rollout_counts(id)?,
        failed: store.rollout_devices(id, Some("failed"), LISTED_FAILURES)?,
        rollout,
    })
}

/// Pushes a resync to each device of a started wave at its rate (best
/// effort: a phone that cannot be reached takes the target at its next
/// periodic resync).
pub async fn push_wave(store: Arc<Mutex<Store>>, w: WaveStart) {
    if w.push_rate == 0 || w.devices.is_empty() {
        return;
    }
    let period = Duration::from_secs_f64(1.0 / f64::from(w.push_rate));
    let mut tick = tokio::time::interval(period);
    let mut set = tokio::task::JoinSet::new();
    for d in w.devices {
        tick.tick().await;
        let store = store.clone();
        set.spawn(async move { crate::bulk::resync_one(&store, d).await });
    }
    while set.join_next().await.is_some() {}
}

/// The server's driver: every [`TICK`], [`step_all`] on a blocking
/// thread with a store connection of its own, and the started waves'
/// resyncs pushed; until `stop` completes.
pub async fn drive(db: Database, stop: impl Future<Output = ()> + Send) {
    tokio::pin!(stop);
    let mut store: Option<Arc<Mutex<Store>>> = None;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {}
        }
        let s = match &store {
            Some(s) => s.clone(),
            None => {
                let db = db.clone();
                match tokio::task::spawn_blocking(move || Store::connect(&db)).await {
                    Ok(Ok(s)) => {
                        let s = Arc::new(Mutex::new(s));
                        store = Some(s.clone());
                        s
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "rollout driver: cannot open the store");
                        continue;
                    }
                    Err(_) => continue,
                }
            }
        };
        let s2 = s.clone();
        let started = tokio::task::spawn_blocking(move || {
            let mut g = s2.lock().unwrap_or_else(|p| p.into_inner());
            step_all(&mut g, now_ms())
        })
        .await;
        match started {
            Ok(Ok(waves)) => {
                for w in waves {
                    tokio::spawn(push_wave(s.clone(), w));
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "rollout driver: store failed; reconnecting");
                store = None;
            }
            Err(e) => tracing::warn!(error = %e, "rollout driver: step panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoneprov_store::Event;

    fn member(firmware: Option<&str>, events: &[(EventKind, Option<Outcome>, &str)]) -> WaveMember {
        let mac = Mac::parse("000e08000001").unwrap();
        WaveMember {
            mac,
            result: "upgrading".into(),
            firmware: firmware.map(str::to_string),
            events: events
                .iter()
                .enumerate()
                .map(|(i, (kind, outcome, msg))| Event {
                    id: i as i64,
                    mac,
                    at_ms: 0,
                    kind: *kind,
                    outcome: *outcome,
                    source_ip: None,
                    message: msg.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn judge_reads_syslog_transfer_complete_fetches_and_the_user_agent() {
        use EventKind::{Resync, Syslog, Upgrade};
        let fail = "CP-8841-3PCC 000e08000001 -- Upgrade failed: image version 12.0 is below Downgrade_Rev_Limit 99; refused";
        assert_eq!(judge(&member(None, &[]), "12.0"), Verdict::Pending);
        assert_eq!(
            judge(
                &member(None, &[(Syslog, Some(Outcome::Failed), fail)]),
                "12.0"
            ),
            Verdict::Failed(fail.into())
        );
        let ok = "CP-8841-3PCC 000e08000001 -- Successful upgrade http://s/firmware/x.loads -- ";
        assert_eq!(
            judge(
                &member(
                    None,
                    &[
                        (Syslog, Some(Outcome::Failed), fail),
                        (Syslog, Some(Outcome::Success), ok)
                    ]
                ),
                "12.0"
            ),
            Verdict::Success,
            "the latest report wins (a retry that worked)"
        );
        let resync_fail = "CP-8841-3PCC 000e08000001 -- Resync failed: timeout";
        assert_eq!(
            judge(
                &member(
                    None,
                    &[
                        (Syslog, Some(Outcome::Failed), resync_fail),
                        (Resync, Some(Outcome::Failed), "x")
                    ]
                ),
                "12.0"
            ),
            Verdict::Pending,
            "a resync failure is not the upgrade's"
        );
        assert_eq!(
            judge(
                &member(
                    None,
                    &[(Upgrade, Some(Outcome::Success), "GET /firmware/x.loads")]
                ),
                "12.0"
            ),
            Verdict::Pending,
            "served is not installed"
        );
        assert_eq!(
            judge(
                &member(
                    None,
                    &[(Upgrade, Some(Outcome::NotFound), "GET /firmware/x.loads")]
                ),
                "12.0"
            ),
            Verdict::Failed("not-found: GET /firmware/x.loads".into())
        );
        assert_eq!(
            judge(
                &member(
                    None,
                    &[(
                        Upgrade,
                        Some(Outcome::Success),
                        "TransferComplete \"k\": fault 0 "
                    )]
                ),
                "12.0"
            ),
            Verdict::Success
        );
        assert_eq!(
            judge(
                &member(Some("12.0"), &[(Syslog, Some(Outcome::Failed), fail)]),
                "12.0"
            ),
            Verdict::Success,
            "announcing the target"
        );
    }

    #[test]
    fn bad_requests_say_what_to_write() {
        let good = RolloutRequest {
            version: "12.0".into(),
            file: "fw/cp-12.0.loads".into(),
            selection: Selection {
                group: "sales".into(),
                ..Selection::default()
            },
            ..RolloutRequest::default()
        };
        let c = good.check().unwrap();
        assert_eq!(
            (c.waves, c.threshold_pct, c.wave_timeout_ms, c.soak_ms),
            (vec![1, 10, 50, 100], 10, 1_800_000, 0)
        );
        let cases: Vec<(RolloutRequest, &str)> = vec![
            (
                RolloutRequest {
                    version: " ".into(),
                    ..good.clone()
                },
                "version",
            ),
            (
                RolloutRequest {
                    file: "../etc/passwd".into(),
                    ..good.clone()
                },
                "under the firmware directory",
            ),
            (
                RolloutRequest {
                    file: "/abs.loads".into(),
                    ..good.clone()
                },
                "under the firmware directory",
            ),
            (
                RolloutRequest {
                    selection: Selection::default(),
                    ..good.clone()
                },
                "select devices",
            ),
            (
                RolloutRequest {
                    waves: Some(vec![50, 10]),
                    ..good.clone()
                },
                "ending at 100",
            ),
            (
                RolloutRequest {
                    threshold_pct: Some(101),
                    ..good.clone()
                },
                "0 to 100",
            ),
            (
                RolloutRequest {
                    wave_timeout: Some("soon".into()),
                    ..good.clone()
                },
                "wave timeout",
            ),
            (
                RolloutRequest {
                    push_rate: Some(5000),
                    ..good.clone()
                },
                "push rate",
            ),
        ];
        for (req, want) in cases {
            let e = req.check().err().expect("refused").to_string();
            assert!(e.contains(want), "{e} (wanted {want})");
        }
    }
}
