//! Staged firmware rollouts (issue 14 item 5b): tables `rollouts` and
//! `rollout_devices` (schema v10). The decisions (when a wave starts,
//! when the health gate halts) are made by the sans-IO machine in
//! `phoneprov-api` (module `rollout`); this module only stores them.
//!
//! A rollout row holds the firmware target (`version`, `file` under the
//! firmware directory), the selection as given (JSON), the waves
//! (cumulative percents of the selection), the health gate (failure
//! threshold in percent, wave timeout, soak time), the push rate, and
//! where it stands: `state` (`running`, `paused`, `halted`, `done`,
//! `rolled-back`), the wave started last (`-1`: none yet), when it started,
//! when its soak ends, and why it halted.
//!
//! Each device of the selection gets a `rollout_devices` row at creation
//! (the selection is a snapshot: devices added later are not part of it)
//! with its wave and a result: `waiting` → `upgrading` when its wave
//! starts → `success` or `failed` (with the reported reason) as its
//! reports come in; `skipped` when it left the inventory before its wave;
//! `rolled-back` after a roll back.
//!
//! # How a device's firmware target switches (decision)
//! Starting a wave writes the target into two device variables,
//! [`FIRMWARE_VERSION_VAR`] and [`FIRMWARE_FILE_VAR`], which win over the
//! configured `[firmware]` targets when the server renders the device's
//! `Upgrade_Rule` (crate `phoneprov-server`, `Policy::firmware_for`). The
//! values the device had before are kept in its row, and a roll back
//! writes them back (or removes the variables when it had none) for every
//! device whose variables still hold this rollout's target (an operator's
//! later edit is left alone). Variables, rather than a table the renderer
//! joins, keep the profile path's one device read, invalidate the render
//! cache through the device's hash, show on the device page and in
//! exports, and can be set by hand for a single phone.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::console::{device_where, DeviceQuery};
use crate::db::{vals, Dialect, Exec, Row, Val};
use crate::error::Result;
use crate::model::{now_ms, Event};
use crate::store::{event_from_row, Store};
use crate::Mac;

/// The device variable holding a per-device firmware version target.
pub const FIRMWARE_VERSION_VAR: &str = "firmware_version";
/// The device variable holding a per-device firmware image (a file under
/// the firmware directory).
pub const FIRMWARE_FILE_VAR: &str = "firmware_file";

/// A rollout to create.
#[derive(Debug, Clone)]
pub struct NewRollout<'a> {
    /// The target version.
    pub version: &'a str,
    /// The image, relative to the firmware directory.
    pub file: &'a str,
    /// The selection, as JSON.
    pub selection: &'a str,
    /// Cumulative percents, increasing, the last 100.
    pub waves: &'a [u32],
    /// A wave halts the rollout when more than this percent of its devices
    /// failed.
    pub threshold_pct: u32,
    /// How long a wave waits for its devices' reports.
    pub wave_timeout_ms: i64,
    /// How long a healthy wave is watched before the next starts.
    pub soak_ms: i64,
    /// Resyncs pushed per second when a wave starts (0: none; phones take
    /// the target at their next periodic resync).
    pub push_rate: u32,
    /// Who asked (console user, `api`, `cli`).
    pub created_by: &'a str,
}

/// A rollout and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// Rollout id.
    pub id: i64,
    /// The target version.
    pub version: String,
    /// The image file.
    pub file: String,
    /// The selection as given.
    pub selection: serde_json::Value,
    /// Cumulative percents of the selection per wave.
    pub waves: Vec<u32>,
    /// Failure threshold, percent.
    pub threshold_pct: u32,
    /// Wave timeout, ms.
    pub wave_timeout_ms: i64,
    /// Soak time, ms.
    pub soak_ms: i64,
    /// Resyncs pushed per second (0: none).
    pub push_rate: u32,
    /// `running`, `paused`, `halted`, `done` or `rolled-back`.
    pub state: String,
    /// The wave started last (0-based; -1: none yet).
    pub wave: i64,
    /// When that wave started, Unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave_started_ms: Option<i64>,
    /// When the soak after the current wave ends (a healthy wave).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soak_until_ms: Option<i64>,
    /// Why it halted (or was paused, rolled back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Devices in the selection.
    pub total: i64,
    /// Who asked.
    pub created_by: String,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub updated_ms: i64,
    /// Unix ms; absent while running, paused or halted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<i64>,
}

/// Where a rollout's machine goes next ([`Store::advance_rollout`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutStep {
    /// The new state.
    pub state: String,
    /// The wave started last.
    pub wave: i64,
    /// When it started.
    pub wave_started_ms: Option<i64>,
    /// When its soak ends.
    pub soak_until_ms: Option<i64>,
    /// Why (a halt).
    pub reason: Option<String>,
}

impl Rollout {
    /// The machine's part of the row.
    pub fn step(&self) -> RolloutStep {
        RolloutStep {
            state: self.state.clone(),
            wave: self.wave,
            wave_started_ms: self.wave_started_ms,
            soak_until_ms: self.soak_until_ms,
            reason: self.reason.clone(),
        }
    }

    /// Whether nothing more will happen to it.
    pub fn is_finished(&self) -> bool {
        matches!(self.state.as_str(), "done" | "rolled-back")
    }
}

/// One device of a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutDevice {
    /// The device.
    pub mac: String,
    /// Its wave (0-based).
    pub wave: i64,
    /// `waiting`, `upgrading`, `success`, `failed`, `skipped` or
    /// `rolled-back`.
    pub result: String,
    /// What it reported (a failure's reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When its target switched, Unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_ms: Option<i64>,
}

/// A device of a wave with what it reported since its target switched
/// ([`Store::rollout_wave_reports`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveMember {
    /// The device.
    pub mac: Mac,
    /// Its result so far.
    pub result: String,
    /// The firmware version it last announced (User-Agent); `None` when
    /// the device is gone or never said.
    pub firmware: Option<String>,
    /// Its `syslog` and `upgrade` events since its target switched,
    /// oldest first.
    pub events: Vec<Event>,
}

/// Devices of a rollout per wave and result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaveCount {
    /// The wave (0-based).
    pub wave: i64,
    /// The result.
    pub result: String,
    /// How many devices.
    pub devices: i64,
}

const COLS: &str = "id, version, file, selection, waves, threshold_pct, wave_timeout_ms, \
     soak_ms, push_rate, state, wave, wave_started_ms, soak_until_ms, reason, total, \
     created_by, created_ms, updated_ms, finished_ms";

fn rollout_row(r: &Row) -> Result<Rollout> {
    let json = |s: String| serde_json::from_str::<serde_json::Value>(&s).unwrap_or_default();
    let waves: String = r.get(4)?;
    Ok(Rollout {
        id: r.get(0)?,
        version: r.get(1)?,
        file: r.get(2)?,
        selection: json(r.get(3)?),
        waves: serde_json::from_str(&waves).unwrap_or_default(),
        threshold_pct: u32::try_from(r.get::<i64>(5)?).unwrap_or(0),
        wave_timeout_ms: r.get(6)?,
        soak_ms: r.get(7)?,
        push_rate: u32::try_from(r.get::<i64>(8)?).unwrap_or(0),
        state: r.get(9)?,
        wave: r.get(10)?,
        wave_started_ms: r.get(11)?,
        soak_until_ms: r.get(12)?,
        reason: r.get(13)?,
        total: r.get(14)?,
        created_by: r.get(15)?,
        created_ms: r.get(16)?,
        updated_ms: r.get(17)?,
        finished_ms: r.get(18)?,
    })
}

/// Reads a device's variables, lets `f` change them, writes them back
/// when changed (telling the other nodes, see `changes`); `false` when
/// the device is not in the inventory.
fn edit_vars(
    x: &mut Exec<'_, '_>,
    mac: &str,
    now: i64,
    f: impl FnOnce(&mut BTreeMap<String, String>),
) -> Result<bool> {
    let Some(row) = x.row("SELECT vars FROM devices WHERE mac = ?1", vals![mac])? else {
        return Ok(false);
    };
    let text: String = row.get(0)?;
    let mut vars: BTreeMap<String, String> = serde_json::from_str(&text).unwrap_or_default();
    let before = vars.clone();
    f(&mut vars);
    if vars != before {
        let text = serde_json::to_string(&vars).expect("a string map always serializes");
        x.exec(
            "UPDATE devices SET vars = ?2, updated_ms = ?3 WHERE mac = ?1",
            vals![mac, text, now],
        )?;
        // The other nodes drop their cached row (issue 13).
        if let Ok(m) = Mac::parse(mac) {
            crate::changes::notify_device(x, Some(m))?;
        }
    }
    Ok(true)
}

fn set_or_remove(vars: &mut BTreeMap<String, String>, name: &str, value: Option<String>) {
    match value {
        Some(v) => vars.insert(name.to_string(), v),
        None => vars.remove(name),
    };
}

/// The `rollouts` row of a new rollout (`running`, no wave yet, `total`
/// devices); returns its id.
fn insert_rollout(x: &mut Exec<'_, '_>, r: &NewRollout<'_>, total: i64) -> Result<i64> {
    let now = now_ms();
    let waves = serde_json::to_string(r.waves).expect("numbers always serialize");
    x.one(
        "INSERT INTO rollouts (version, file, selection, waves, threshold_pct, \
         wave_timeout_ms, soak_ms, push_rate, state, wave, total, created_by, \
         created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'running', \
         -1, ?9, ?10, ?11, ?11) RETURNING id",
        vals![
            r.version,
            r.file,
            r.selection,
            waves,
            i64::from(r.threshold_pct),
            r.wave_timeout_ms,
            r.soak_ms,
            i64::from(r.push_rate),
            total,
            r.created_by,
            now
        ],
    )?
    .get(0)
}

/// The wave of device `k` (1-based) of `n`, as SQL over columns `k` and
/// `n`: the first wave whose cumulative percent `p` covers it, that is
/// `k <= ceil(n * p / 100)`, or `100 * (k - 1) < n * p` (the rollout
/// machine's `wave_of_each`). The percents are validated numbers (u32),
/// written into the statement.
fn wave_case(waves: &[u32]) -> String {
    let mut case = String::from("CASE");
    for (i, p) in waves.iter().enumerate() {
        case.push_str(&format!(" WHEN 100 * (k - 1) < n * {p} THEN {i}"));
    }
    case.push_str(&format!(" ELSE {} END", waves.len().saturating_sub(1)));
    case
}

impl Store {
    /// Records a `running` rollout (no wave started yet) for a list of
    /// devices (`macs`, numbered in the order given: the API gives them
    /// sorted, without repeats) with one `INSERT … SELECT` from the list
    /// passed as one parameter (a `text[]` on PostgreSQL, a JSON array on
    /// SQLite); each device gets its wave as in
    /// [`Store::create_rollout_matching`]. Returns the rollout's id.
    pub fn create_rollout(&mut self, r: &NewRollout<'_>, macs: &[Mac]) -> Result<i64> {
        let case = wave_case(r.waves);
        self.tx(|x| {
            let n = i64::try_from(macs.len()).unwrap_or(i64::MAX);
            let id = insert_rollout(x, r, n)?;
            let texts: Vec<String> = macs.iter().map(Mac::to_string).collect();
            // The one per-dialect part: the list numbered from 1 (`k`);
            // its length is `n`.
            let (numbered, list) = match x.dialect() {
                Dialect::Sqlite => (
                    "SELECT value AS mac, key + 1 AS k, CAST(?3 AS BIGINT) AS n \
                     FROM json_each(?2)",
                    Val::from(serde_json::to_string(&texts).expect("strings always serialize")),
                ),
                Dialect::Postgres => (
                    "SELECT u.mac, u.k, CAST(?3 AS BIGINT) AS n \
                     FROM unnest(?2::text[]) WITH ORDINALITY AS u(mac, k)",
                    Val::TextArray(texts.into_iter().map(Some).collect()),
                ),
            };
            x.exec(
                &format!(
                    "INSERT INTO rollout_devices (rollout_id, mac, wave, result) \
                     SELECT ?1, mac, {case}, 'waiting' FROM ({numbered}) AS m"
                ),
                &[Val::Int(id), list, Val::Int(n)],
            )?;
            Ok(id)
        })
    }

    /// Records a `running` rollout for the devices matching `q` (the
    /// device list's filter; its order and paging are not used) with one
    /// `INSERT … SELECT`: the database numbers the matches in MAC order
    /// and gives each its wave ([`wave_case`]). A million devices are one
    /// statement, not a million. `None` (nothing written) when no device
    /// matches.
    pub fn create_rollout_matching(
        &mut self,
        r: &NewRollout<'_>,
        q: &DeviceQuery,
    ) -> Result<Option<i64>> {
        let (filter, mut args) = device_where(q);
        let case = wave_case(r.waves);
        let id_arg = args.len() + 1;
        let sql = format!(
            "INSERT INTO rollout_devices (rollout_id, mac, wave, result) \
             SELECT ?{id_arg}, mac, {case}, 'waiting' FROM (SELECT mac, \
             row_number() OVER (ORDER BY mac) AS k, count(*) OVER () AS n \
             FROM devices{filter}) AS m"
        );
        self.tx(|x| {
            let id = insert_rollout(x, r, 0)?;
            args.push(Val::Int(id));
            let n = x.exec(&sql, &args)?;
            if n == 0 {
                x.exec("DELETE FROM rollouts WHERE id = ?1", vals![id])?;
                return Ok(None);
            }
            x.exec(
                "UPDATE rollouts SET total = ?2 WHERE id = ?1",
                vals![id, i64::try_from(n).unwrap_or(i64::MAX)],
            )?;
            Ok(Some(id))
        })
    }

    /// One rollout.
    pub fn rollout(&self, id: i64) -> Result<Option<Rollout>> {
        self.run(|x| {
            x.row(
                &format!("SELECT {COLS} FROM rollouts WHERE id = ?1"),
                vals![id],
            )
        })?
        .as_ref()
        .map(rollout_row)
        .transpose()
    }

    /// The newest rollouts first.
    pub fn rollouts(&self, limit: usize) -> Result<Vec<Rollout>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|x| {
            x.rows(
                &format!("SELECT {COLS} FROM rollouts ORDER BY id DESC LIMIT ?1"),
                vals![limit],
            )
        })?
        .iter()
        .map(rollout_row)
        .collect()
    }

    /// The rollouts not finished (`running`, `paused`, `halted`), oldest
    /// first (what the driver steps).
    pub fn active_rollouts(&self) -> Result<Vec<Rollout>> {
        self.run(|x| {
            x.rows(
                &format!(
                    "SELECT {COLS} FROM rollouts WHERE state IN ('running', 'paused', 'halted') \
                     ORDER BY id"
                ),
                vals![],
            )
        })?
        .iter()
        .map(rollout_row)
        .collect()
    }

    /// Moves rollout `id` from `from` (as read) to `to`, unless it changed
    /// meanwhile (a pause from another door, another node's driver);
    /// returns whether it moved. `done` and `rolled-back` set its finish
    /// time.
    pub fn advance_rollout(
        &mut self,
        id: i64,
        from: &RolloutStep,
        to: &RolloutStep,
    ) -> Result<bool> {
        let now = now_ms();
        let finished = matches!(to.state.as_str(), "done" | "rolled-back").then_some(now);
        let n = self.run(|x| {
            x.exec(
                "UPDATE rollouts SET state = ?2, wave = ?3, wave_started_ms = ?4, \
                 soak_until_ms = ?5, reason = ?6, updated_ms = ?7, \
                 finished_ms = coalesce(?8, finished_ms) \
                 WHERE id = ?1 AND state = ?9 AND wave = ?10 \
                 AND coalesce(soak_until_ms, -1) = ?11",
                vals![
                    id,
                    to.state.as_str(),
                    to.wave,
                    to.wave_started_ms,
                    to.soak_until_ms,
                    to.reason.as_deref(),
                    now,
                    finished,
                    from.state.as_str(),
                    from.wave,
                    from.soak_until_ms.unwrap_or(-1)
                ],
            )
        })?;
        Ok(n > 0)
    }

    /// Sets rollout `id`'s state to `to` when it is in one of `from`
    /// (pause: running → paused; resume: paused or halted → running),
    /// with `reason`. Returns whether it changed and the rollout; `None`
    /// when there is no such rollout.
    pub fn set_rollout_state(
        &mut self,
        id: i64,
        from: &[&str],
        to: &str,
        reason: Option<&str>,
    ) -> Result<Option<(bool, Rollout)>> {
        let Some(r) = self.rollout(id)? else {
            return Ok(None);
        };
        if !from.contains(&r.state.as_str()) {
            return Ok(Some((false, r)));
        }
        let to_step = RolloutStep {
            state: to.to_string(),
            reason: reason.map(str::to_string),
            ..r.step()
        };
        let moved = self.advance_rollout(id, &r.step(), &to_step)?;
        let now = self.rollout(id)?;
        Ok(now.map(|r| (moved, r)))
    }

    /// Starts wave `wave` of rollout `id`: every `waiting` device of the
    /// wave gets the target in its firmware variables (the values it had
    /// are kept) and becomes `upgrading`; one no longer in the inventory
    /// becomes `skipped`. Returns the switched devices, in MAC order.
    pub fn switch_rollout_wave(
        &mut self,
        id: i64,
        wave: i64,
        version: &str,
        file: &str,
    ) -> Result<Vec<Mac>> {
        let now = now_ms();
        self.tx(|x| {
            let macs: Vec<String> = x
                .rows(
                    "SELECT mac FROM rollout_devices WHERE rollout_id = ?1 AND wave = ?2 \
                     AND result = 'waiting' ORDER BY mac",
                    vals![id, wave],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect::<Result<_>>()?;
            let mut switched = Vec::with_capacity(macs.len());
            for mac in macs {
                // Claimed first: on PostgreSQL a second node's driver
                // switching the same wave waits on the row and then finds
                // it taken, so the kept values are never our own target.
                let claimed = x.exec(
                    "UPDATE rollout_devices SET result = 'upgrading', assigned_ms = ?3 \
                     WHERE rollout_id = ?1 AND mac = ?2 AND result = 'waiting'",
                    vals![id, mac.as_str(), now],
                )?;
                if claimed == 0 {
                    continue;
                }
                let mut prev = (None, None);
                let known = edit_vars(x, &mac, now, |v| {
                    prev = (
                        v.get(FIRMWARE_VERSION_VAR).cloned(),
                        v.get(FIRMWARE_FILE_VAR).cloned(),
                    );
                    v.insert(FIRMWARE_VERSION_VAR.into(), version.into());
                    v.insert(FIRMWARE_FILE_VAR.into(), file.into());
                })?;
                if known {
                    x.exec(
                        "UPDATE rollout_devices SET prev_version = ?3, prev_file = ?4 \
                         WHERE rollout_id = ?1 AND mac = ?2",
                        vals![id, mac.as_str(), prev.0, prev.1],
                    )?;
                    if let Ok(m) = Mac::parse(&mac) {
                        switched.push(m);
                    }
                } else {
                    x.exec(
                        "UPDATE rollout_devices SET result = 'skipped', assigned_ms = NULL, \
                         reason = 'not in the inventory' WHERE rollout_id = ?1 AND mac = ?2",
                        vals![id, mac.as_str()],
                    )?;
                }
            }
            Ok(switched)
        })
    }

    /// The switched devices of wave `wave` with their announced firmware
    /// and their `syslog` and `upgrade` events since their switch (what
    /// the health gate judges).
    pub fn rollout_wave_reports(&self, id: i64, wave: i64) -> Result<Vec<WaveMember>> {
        let (members, events) = self.run(|x| {
            let members = x.rows(
                "SELECT r.mac, r.result, d.firmware FROM rollout_devices r \
                 LEFT JOIN devices d ON d.mac = r.mac \
                 WHERE r.rollout_id = ?1 AND r.wave = ?2 AND r.assigned_ms IS NOT NULL \
                 ORDER BY r.mac",
                vals![id, wave],
            )?;
            let events = x.rows(
                "SELECT e.id, e.mac, e.at_ms, e.kind, e.outcome, e.source_ip, e.message \
                 FROM rollout_devices r JOIN events e ON e.mac = r.mac \
                 WHERE r.rollout_id = ?1 AND r.wave = ?2 AND r.assigned_ms IS NOT NULL \
                 AND e.at_ms >= r.assigned_ms AND e.kind IN ('syslog', 'upgrade') \
                 ORDER BY e.id",
                vals![id, wave],
            )?;
            Ok((members, events))
        })?;
        let mut by_mac: BTreeMap<Mac, Vec<Event>> = BTreeMap::new();
        for r in &events {
            let e = event_from_row(r)?;
            by_mac.entry(e.mac).or_default().push(e);
        }
        let mut out = Vec::with_capacity(members.len());
        for r in &members {
            let mac: String = r.get(0)?;
            let Ok(mac) = Mac::parse(&mac) else { continue };
            out.push(WaveMember {
                mac,
                result: r.get(1)?,
                firmware: r.get(2)?,
                events: by_mac.remove(&mac).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Records devices' results (`success`, `failed`, `upgrading`) with
    /// their reasons; devices rolled back or skipped keep theirs.
    pub fn set_rollout_results(
        &mut self,
        id: i64,
        results: &[(Mac, &str, Option<&str>)],
    ) -> Result<()> {
        self.tx(|x| {
            for (mac, result, reason) in results {
                x.exec(
                    "UPDATE rollout_devices SET result = ?3, reason = ?4 \
                     WHERE rollout_id = ?1 AND mac = ?2 \
                     AND result IN ('upgrading', 'success', 'failed')",
                    vals![id, mac.to_string(), *result, *reason],
                )?;
            }
            Ok(())
        })
    }

    /// Devices of rollout `id` in MAC order: all, or those with `result`.
    pub fn rollout_devices(
        &self,
        id: i64,
        result: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RolloutDevice>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|x| {
            x.rows(
                "SELECT mac, wave, result, reason, assigned_ms FROM rollout_devices \
                 WHERE rollout_id = ?1 AND result = coalesce(?2, result) ORDER BY mac LIMIT ?3",
                vals![id, result, limit],
            )
        })?
        .iter()
        .map(|r| {
            Ok(RolloutDevice {
                mac: r.get(0)?,
                wave: r.get(1)?,
                result: r.get(2)?,
                reason: r.get(3)?,
                assigned_ms: r.get(4)?,
            })
        })
        .collect()
    }

    /// Devices of rollout `id` per wave and result.
    pub fn rollout_counts(&self, id: i64) -> Result<Vec<WaveCount>> {
        self.run(|x| {
            x.rows(
                "SELECT wave, result, count(*) FROM rollout_devices WHERE rollout_id = ?1 \
                 GROUP BY wave, result ORDER BY wave, result",
                vals![id],
            )
        })?
        .iter()
        .map(|r| {
            Ok(WaveCount {
                wave: r.get(0)?,
                result: r.get(1)?,
                devices: r.get(2)?,
            })
        })
        .collect()
    }

    /// Rolls rollout `id` back: every switched device whose firmware
    /// variables still hold this rollout's target gets the values it had
    /// before (module docs) and becomes `rolled-back`; devices not yet
    /// switched stay as they are; the rollout ends `rolled-back` with
    /// `reason`. Returns how many devices went back and the rollout;
    /// `None` when there is no such rollout. Rolling back twice changes
    /// nothing more.
    pub fn roll_back_rollout(&mut self, id: i64, reason: &str) -> Result<Option<(u64, Rollout)>> {
        let Some(r) = self.rollout(id)? else {
            return Ok(None);
        };
        let now = now_ms();
        let n = self.tx(|x| {
            let rows = x.rows(
                "SELECT mac, prev_version, prev_file FROM rollout_devices WHERE rollout_id = ?1 \
                 AND result IN ('upgrading', 'success', 'failed') ORDER BY mac",
                vals![id],
            )?;
            let mut n = 0;
            for row in &rows {
                let (mac, pv, pf): (String, Option<String>, Option<String>) =
                    (row.get(0)?, row.get(1)?, row.get(2)?);
                edit_vars(x, &mac, now, |v| {
                    let ours = v.get(FIRMWARE_VERSION_VAR) == Some(&r.version)
                        && v.get(FIRMWARE_FILE_VAR) == Some(&r.file);
                    if ours {
                        set_or_remove(v, FIRMWARE_VERSION_VAR, pv);
                        set_or_remove(v, FIRMWARE_FILE_VAR, pf);
                    }
                })?;
                x.exec(
                    "UPDATE rollout_devices SET result = 'rolled-back' \
                     WHERE rollout_id = ?1 AND mac = ?2",
                    vals![id, mac.as_str()],
                )?;
                n += 1;
            }
            x.exec(
                "UPDATE rollouts SET state = 'rolled-back', reason = ?2, updated_ms = ?3, \
                 finished_ms = ?3, soak_until_ms = NULL WHERE id = ?1",
                vals![id, reason, now],
            )?;
            Ok(n)
        })?;
        Ok(self.rollout(id)?.map(|r| (n, r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, NewDevice, NewEvent, Outcome};
    use crate::test_support::TestDb;

    fn mac(i: u8) -> Mac {
        Mac::parse(&format!("000e080000{i:02x}")).unwrap()
    }

    on_both! {
        /// A rollout on a filter is one INSERT … SELECT: the matches in
        /// MAC order, each in the first wave whose cumulative percent
        /// covers it (`ceil(n * p / 100)` devices); a filter matching
        /// nothing writes nothing.
        fn rollout_on_a_filter_numbers_the_matches_into_waves(db: &TestDb) {
            let mut s = db.store();
            for i in 1..=12u8 {
                let mut d = NewDevice::new(mac(i));
                d.group = Some(if i % 3 == 0 { "other" } else { "sales" }.into());
                s.add_device(&d).unwrap();
            }
            let new = |waves| NewRollout {
                version: "12.0",
                file: "new.loads",
                selection: r#"{"group":"sales"}"#,
                waves,
                threshold_pct: 10,
                wave_timeout_ms: 60_000,
                soak_ms: 0,
                push_rate: 0,
                created_by: "cli",
            };
            let q = DeviceQuery {
                group: Some("sales".into()),
                ..DeviceQuery::default()
            };
            // 8 matches; 10 % -> 1 device, 50 % -> 4, 100 % -> 8.
            let id = s
                .create_rollout_matching(&new(&[10, 50, 100]), &q)
                .unwrap()
                .unwrap();
            assert_eq!(s.rollout(id).unwrap().unwrap().total, 8);
            let got: Vec<(String, i64, String)> = s
                .rollout_devices(id, None, 100)
                .unwrap()
                .into_iter()
                .map(|d| (d.mac, d.wave, d.result))
                .collect();
            let sales = [1u8, 2, 4, 5, 7, 8, 10, 11];
            let waves = [0, 1, 1, 1, 2, 2, 2, 2];
            let want: Vec<(String, i64, String)> = sales
                .iter()
                .zip(waves)
                .map(|(i, w)| (mac(*i).to_string(), w, "waiting".to_string()))
                .collect();
            assert_eq!(got, want);
            // One wave of 100 %: everyone in wave 0.
            let id = s.create_rollout_matching(&new(&[100]), &q).unwrap().unwrap();
            let d = s.rollout_devices(id, None, 100).unwrap();
            assert_eq!(d.len(), 8);
            assert!(d.iter().all(|d| d.wave == 0));
            // A filter that matches nothing leaves no rollout behind.
            let before = s.rollouts(100).unwrap().len();
            let none = DeviceQuery {
                group: Some("nobody".into()),
                ..DeviceQuery::default()
            };
            assert_eq!(s.create_rollout_matching(&new(&[100]), &none).unwrap(), None);
            assert_eq!(s.rollouts(100).unwrap().len(), before);
        }
    }

    on_both! {
        /// Issue 14 item 5b: a rollout's devices switch wave by wave
        /// (their old firmware variables kept), their reports since the
        /// switch are read back, results recorded, the state moves only
        /// from what was read, and a roll back restores the variables.
        fn rollout_waves_reports_and_roll_back(db: &TestDb) {
            let mut s = db.store();
            for i in 1..=4u8 {
                let mut d = NewDevice::new(mac(i));
                if i == 2 {
                    d.vars.insert(FIRMWARE_VERSION_VAR.into(), "11.0".into());
                    d.vars.insert(FIRMWARE_FILE_VAR.into(), "old.loads".into());
                }
                d.vars.insert("display_name".into(), format!("Phone {i}"));
                s.add_device(&d).unwrap();
            }
            let gone = mac(9);
            // 5 listed: 50 % -> the first 3 (in the order given) in wave 0.
            let members = [mac(1), mac(2), gone, mac(3), mac(4)];
            let id = s
                .create_rollout(
                    &NewRollout {
                        version: "12.0",
                        file: "new.loads",
                        selection: r#"{"group":"sales"}"#,
                        waves: &[50, 100],
                        threshold_pct: 10,
                        wave_timeout_ms: 60_000,
                        soak_ms: 0,
                        push_rate: 5,
                        created_by: "cli",
                    },
                    &members,
                )
                .unwrap();
            let r = s.rollout(id).unwrap().unwrap();
            assert_eq!((r.state.as_str(), r.wave, r.total), ("running", -1, 5));
            assert_eq!(r.waves, [50, 100]);
            assert_eq!(r.selection["group"], "sales");
            assert_eq!(s.active_rollouts().unwrap().len(), 1);

            // An event before the switch is not the wave's.
            let ev = |m: Mac, kind, outcome, msg: &str| NewEvent {
                mac: m,
                at_ms: now_ms(),
                kind,
                outcome,
                source_ip: None,
                message: msg.into(),
            };
            s.append_event(&ev(mac(1), EventKind::Syslog, Some(Outcome::Failed), "before")).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));

            let switched = s.switch_rollout_wave(id, 0, "12.0", "new.loads").unwrap();
            assert_eq!(switched, [mac(1), mac(2)]);
            let d1 = s.device(mac(1)).unwrap().unwrap();
            assert_eq!(d1.vars.get(FIRMWARE_FILE_VAR).map(String::as_str), Some("new.loads"));
            assert_eq!(d1.vars.get("display_name").map(String::as_str), Some("Phone 1"));
            assert!(!s.device(mac(3)).unwrap().unwrap().vars.contains_key(FIRMWARE_FILE_VAR));
            assert!(s.switch_rollout_wave(id, 0, "12.0", "new.loads").unwrap().is_empty(), "once");

            s.append_event(&ev(mac(1), EventKind::Syslog, Some(Outcome::Failed), "Upgrade failed: bad image")).unwrap();
            s.append_event(&ev(mac(1), EventKind::Resync, Some(Outcome::Success), "GET /x.cfg")).unwrap();
            s.append_event(&ev(mac(3), EventKind::Syslog, None, "not in the wave")).unwrap();
            s.record_status(mac(2), "127.0.0.1".parse().unwrap(), Some("12.0"), None).unwrap();
            let w = s.rollout_wave_reports(id, 0).unwrap();
            assert_eq!(w.len(), 2, "{w:?}");
            assert_eq!(w[0].mac, mac(1));
            let msgs: Vec<_> = w[0].events.iter().map(|e| e.message.as_str()).collect();
            assert_eq!(msgs, ["Upgrade failed: bad image"], "only syslog/upgrade since the switch");
            assert_eq!(w[1].firmware.as_deref(), Some("12.0"));
            assert!(w[1].events.is_empty());

            s.set_rollout_results(id, &[(mac(1), "failed", Some("bad image")), (mac(2), "success", None)]).unwrap();
            let failed = s.rollout_devices(id, Some("failed"), 10).unwrap();
            assert_eq!(failed.len(), 1);
            assert_eq!((failed[0].mac.as_str(), failed[0].reason.as_deref()), ("000e08000001", Some("bad image")));
            let skipped = s.rollout_devices(id, Some("skipped"), 10).unwrap();
            assert_eq!(skipped[0].mac, gone.to_string());
            let counts = s.rollout_counts(id).unwrap();
            assert!(counts.contains(&WaveCount { wave: 1, result: "waiting".into(), devices: 2 }), "{counts:?}");
            assert_eq!(s.rollout_devices(id, None, 100).unwrap().len(), 5);

            // The machine's step moves only from what was read.
            let read = s.rollout(id).unwrap().unwrap().step();
            let next = RolloutStep { wave: 0, wave_started_ms: Some(1), ..read.clone() };
            assert!(s.advance_rollout(id, &read, &next).unwrap());
            assert!(!s.advance_rollout(id, &read, &next).unwrap(), "stale: already moved");
            let (did, r) = s.set_rollout_state(id, &["running"], "paused", Some("by hand")).unwrap().unwrap();
            assert!(did);
            assert_eq!((r.state.as_str(), r.wave, r.reason.as_deref()), ("paused", 0, Some("by hand")));
            assert_eq!(s.active_rollouts().unwrap().len(), 1, "paused is still active");
            let (did, _) = s.set_rollout_state(id, &["running"], "paused", None).unwrap().unwrap();
            assert!(!did, "not running");
            assert!(s.set_rollout_state(9999, &["running"], "paused", None).unwrap().is_none());

            // Roll back: device 1 loses the variables, device 2 gets its
            // old ones back; device 3 (not switched) is untouched.
            let (n, r) = s.roll_back_rollout(id, "bad firmware").unwrap().unwrap();
            assert_eq!((n, r.state.as_str()), (2, "rolled-back"));
            assert!(r.finished_ms.is_some() && r.is_finished());
            let d1 = s.device(mac(1)).unwrap().unwrap();
            assert!(!d1.vars.contains_key(FIRMWARE_FILE_VAR) && !d1.vars.contains_key(FIRMWARE_VERSION_VAR));
            assert_eq!(d1.vars.get("display_name").map(String::as_str), Some("Phone 1"));
            let d2 = s.device(mac(2)).unwrap().unwrap();
            assert_eq!(d2.vars.get(FIRMWARE_FILE_VAR).map(String::as_str), Some("old.loads"));
            assert_eq!(d2.vars.get(FIRMWARE_VERSION_VAR).map(String::as_str), Some("11.0"));
            assert_eq!(s.rollout_devices(id, Some("rolled-back"), 10).unwrap().len(), 2);
            let (n, _) = s.roll_back_rollout(id, "again").unwrap().unwrap();
            assert_eq!(n, 0, "rolling back twice changes nothing more");
            assert!(s.active_rollouts().unwrap().is_empty());
            assert_eq!(s.rollouts(10).unwrap()[0].id, id);
        }
    }
}
