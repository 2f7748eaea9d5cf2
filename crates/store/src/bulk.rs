//! Bulk jobs (issue 14 item 4): a resync or an ACS task for every device
//! of a selection, sent at a rate, with progress that the API, the console
//! and the CLI read back (table `bulk_jobs`, schema v9).
//!
//! A job row holds what to do (`action`, the task JSON for `task`), the
//! selection as given (JSON, shown back to operators), the rate, its state
//! (`running` → `done`, `cancelled` or `interrupted`), the counts
//! (`total`, `succeeded`, `failed`, `skipped`), the last MAC handed out
//! (`cursor`: the selection is walked in MAC order) and the first
//! [`MAX_FAILURES`] failures with their reasons. The runner (crate
//! `phoneprov-api`, module `bulk`) writes progress with
//! [`Store::bulk_progress`], which answers the job's state, so a cancel
//! from any node stops it at its next progress write.

use serde::Serialize;

use crate::db::{vals, Row};
use crate::error::Result;
use crate::model::now_ms;
use crate::store::Store;

/// How many failures a job keeps with their reasons (the counts go on).
pub const MAX_FAILURES: usize = 100;

/// A job to create.
#[derive(Debug, Clone, Copy)]
pub struct NewBulkJob<'a> {
    /// `resync` or `task`.
    pub action: &'a str,
    /// The task JSON (`task` jobs).
    pub task: Option<&'a str>,
    /// The selection, as JSON.
    pub selection: &'a str,
    /// Devices per second.
    pub rate_per_s: i64,
    /// How many devices the selection matched when the job was made.
    pub total: i64,
    /// Who asked (console user, `api`, `cli`).
    pub created_by: &'a str,
}

/// A bulk job and its progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkJob {
    /// Job id.
    pub id: i64,
    /// `resync` or `task`.
    pub action: String,
    /// The task JSON of a `task` job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<serde_json::Value>,
    /// The selection as given.
    pub selection: serde_json::Value,
    /// Devices per second.
    pub rate_per_s: i64,
    /// `running`, `done`, `cancelled` or `interrupted`.
    pub state: String,
    /// Devices matched.
    pub total: i64,
    /// Devices done.
    pub succeeded: i64,
    /// Devices whose push or queueing failed.
    pub failed: i64,
    /// Devices skipped (no known address, gone meanwhile).
    pub skipped: i64,
    /// The last MAC handed out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The first failures: `[{"mac":…,"error":…}]`.
    pub failures: serde_json::Value,
    /// Who asked.
    pub created_by: String,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub updated_ms: i64,
    /// Unix ms; absent while running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<i64>,
}

impl BulkJob {
    /// Devices handled so far.
    pub fn handled(&self) -> i64 {
        self.succeeded + self.failed + self.skipped
    }
}

/// Progress to record: counts since the job started, the cursor and new
/// failures (appended up to [`MAX_FAILURES`]).
#[derive(Debug, Clone, Default)]
pub struct BulkProgress {
    /// Devices done.
    pub succeeded: i64,
    /// Devices failed.
    pub failed: i64,
    /// Devices skipped.
    pub skipped: i64,
    /// The last MAC handed out.
    pub cursor: Option<String>,
    /// New failures: (MAC, reason).
    pub new_failures: Vec<(String, String)>,
}

const COLS: &str = "id, action, task, selection, rate_per_s, state, total, succeeded, failed, \
     skipped, cursor, failures, created_by, created_ms, updated_ms, finished_ms";

fn job_row(r: &Row) -> Result<BulkJob> {
    let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    Ok(BulkJob {
        id: r.get(0)?,
        action: r.get(1)?,
        task: json(r.get(2)?),
        selection: json(r.get(3)?).unwrap_or_default(),
        rate_per_s: r.get(4)?,
        state: r.get(5)?,
        total: r.get(6)?,
        succeeded: r.get(7)?,
        failed: r.get(8)?,
        skipped: r.get(9)?,
        cursor: r.get(10)?,
        failures: json(r.get(11)?).unwrap_or_else(|| serde_json::json!([])),
        created_by: r.get(12)?,
        created_ms: r.get(13)?,
        updated_ms: r.get(14)?,
        finished_ms: r.get(15)?,
    })
}

impl Store {
    /// Records a new `running` job; returns its id.
    pub fn create_bulk_job(&mut self, j: &NewBulkJob<'_>) -> Result<i64> {
        let now = now_ms();
        self.tx(|x| {
            x.one(
                "INSERT INTO bulk_jobs (action, task, selection, rate_per_s, state, total, \
                 succeeded, failed, skipped, failures, created_by, created_ms, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4, 'running', ?5, 0, 0, 0, '[]', ?6, ?7, ?7) RETURNING id",
                vals![
                    j.action,
                    j.task,
                    j.selection,
                    j.rate_per_s,
                    j.total,
                    j.created_by,
                    now
                ],
            )?
            .get(0)
        })
    }

    /// One job.
    pub fn bulk_job(&self, id: i64) -> Result<Option<BulkJob>> {
        self.run(|x| {
            x.row(
                &format!("SELECT {COLS} FROM bulk_jobs WHERE id = ?1"),
                vals![id],
            )
        })?
        .as_ref()
        .map(job_row)
        .transpose()
    }

    /// The newest jobs first.
    pub fn bulk_jobs(&self, limit: usize) -> Result<Vec<BulkJob>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|x| {
            x.rows(
                &format!("SELECT {COLS} FROM bulk_jobs ORDER BY id DESC LIMIT ?1"),
                vals![limit],
            )
        })?
        .iter()
        .map(job_row)
        .collect()
    }

    /// Writes a running job's progress; returns its state afterwards
    /// (`cancelled` tells the runner to stop), `None` when it is gone.
    pub fn bulk_progress(&mut self, id: i64, p: &BulkProgress) -> Result<Option<String>> {
        self.tx(|x| {
            let Some(row) = x.row(
                "SELECT state, failures FROM bulk_jobs WHERE id = ?1",
                vals![id],
            )?
            else {
                return Ok(None);
            };
            let (state, failures): (String, String) = (row.get(0)?, row.get(1)?);
            let mut list: Vec<serde_json::Value> =
                serde_json::from_str(&failures).unwrap_or_default();
            for (mac, error) in &p.new_failures {
                if list.len() >= MAX_FAILURES {
                    break;
                }
                list.push(serde_json::json!({"mac": mac, "error": error}));
            }
            x.exec(
                "UPDATE bulk_jobs SET succeeded = ?2, failed = ?3, skipped = ?4, \
                 cursor = coalesce(?5, cursor), failures = ?6, updated_ms = ?7 WHERE id = ?1",
                vals![
                    id,
                    p.succeeded,
                    p.failed,
                    p.skipped,
                    p.cursor.as_deref(),
                    serde_json::Value::Array(list).to_string(),
                    now_ms()
                ],
            )?;
            Ok(Some(state))
        })
    }

    /// Ends a running job as `state` (`done` or `interrupted`); a
    /// cancelled job stays cancelled. Returns the job.
    pub fn finish_bulk_job(&mut self, id: i64, state: &str) -> Result<Option<BulkJob>> {
        let now = now_ms();
        self.run(|x| {
            x.exec(
                "UPDATE bulk_jobs SET state = ?2, finished_ms = ?3, updated_ms = ?3 \
                 WHERE id = ?1 AND state = 'running'",
                vals![id, state, now],
            )
        })?;
        self.run(|x| {
            x.exec(
                "UPDATE bulk_jobs SET finished_ms = ?2 WHERE id = ?1 AND finished_ms IS NULL",
                vals![id, now],
            )
        })?;
        self.bulk_job(id)
    }

    /// Cancels a running job (its runner stops at its next progress
    /// write). Returns whether this call cancelled it and the job;
    /// `None` when there is no such job.
    pub fn cancel_bulk_job(&mut self, id: i64) -> Result<Option<(bool, BulkJob)>> {
        let n = self.run(|x| {
            x.exec(
                "UPDATE bulk_jobs SET state = 'cancelled', updated_ms = ?2 \
                 WHERE id = ?1 AND state = 'running'",
                vals![id, now_ms()],
            )
        })?;
        Ok(self.bulk_job(id)?.map(|j| (n > 0, j)))
    }

    /// Marks `running` jobs that have written no progress since
    /// `stale_before_ms` as `interrupted` (their runner died with its
    /// process); returns how many.
    pub fn interrupt_stale_bulk_jobs(&mut self, stale_before_ms: i64) -> Result<u64> {
        let now = now_ms();
        self.run(|x| {
            x.exec(
                "UPDATE bulk_jobs SET state = 'interrupted', finished_ms = ?2, updated_ms = ?2 \
                 WHERE state = 'running' AND updated_ms < ?1",
                vals![stale_before_ms, now],
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestDb;

    on_both! {
        /// Issue 14 item 4: a job's progress, failures (kept up to the
        /// limit), cancel (seen by the runner's next write) and finish.
        fn bulk_job_progress_cancel_and_finish(db: &TestDb) {
            let mut s = db.store();
            let id = s
                .create_bulk_job(&NewBulkJob {
                    action: "resync",
                    task: None,
                    selection: r#"{"group":"sales"}"#,
                    rate_per_s: 50,
                    total: 3,
                    created_by: "cli",
                })
                .unwrap();
            let j = s.bulk_job(id).unwrap().unwrap();
            assert_eq!((j.state.as_str(), j.total, j.handled()), ("running", 3, 0));
            assert_eq!(j.selection["group"], "sales");
            let p = BulkProgress {
                succeeded: 1,
                failed: 1,
                skipped: 0,
                cursor: Some("000e08000002".into()),
                new_failures: vec![("000e08000002".into(), "refused".into())],
            };
            assert_eq!(s.bulk_progress(id, &p).unwrap().as_deref(), Some("running"));
            let many: Vec<_> = (0..2 * MAX_FAILURES).map(|i| (format!("m{i}"), "x".to_string())).collect();
            let p2 = BulkProgress { new_failures: many, failed: 201, cursor: None, ..p.clone() };
            s.bulk_progress(id, &p2).unwrap();
            let j = s.bulk_job(id).unwrap().unwrap();
            assert_eq!(j.failures.as_array().unwrap().len(), MAX_FAILURES);
            assert_eq!(j.failures[0]["error"], "refused");
            assert_eq!(j.cursor.as_deref(), Some("000e08000002"), "a None cursor keeps it");
            let (did, j) = s.cancel_bulk_job(id).unwrap().unwrap();
            assert!(did);
            assert_eq!(j.state, "cancelled");
            assert_eq!(s.bulk_progress(id, &p).unwrap().as_deref(), Some("cancelled"));
            let (did, _) = s.cancel_bulk_job(id).unwrap().unwrap();
            assert!(!did, "cancelled once");
            let j = s.finish_bulk_job(id, "done").unwrap().unwrap();
            assert_eq!(j.state, "cancelled", "finishing keeps a cancel");
            assert!(j.finished_ms.is_some());
            assert!(s.cancel_bulk_job(9999).unwrap().is_none());
            assert_eq!(s.bulk_jobs(10).unwrap().len(), 1);
            let other = s
                .create_bulk_job(&NewBulkJob {
                    action: "task",
                    task: Some(r#"{"rpc":"Reboot"}"#),
                    selection: "{}",
                    rate_per_s: 1,
                    total: 0,
                    created_by: "api",
                })
                .unwrap();
            assert_eq!(s.interrupt_stale_bulk_jobs(now_ms() + 1).unwrap(), 1);
            let j = s.bulk_job(other).unwrap().unwrap();
            assert_eq!(j.state, "interrupted");
            assert_eq!(j.task.unwrap()["rpc"], "Reboot");
        }
    }
}
