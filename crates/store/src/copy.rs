//! [`copy_database`]: a whole installation from one database to another
//! (`phoneprov db copy`, issue 13 item 3): SQLite to PostgreSQL when a
//! provider scales out, and back. Every table moves, device keys and the
//! server's secrets included, so phones in the field keep decrypting their
//! profiles and the admin token stays the same.
//!
//! How:
//! - the target is migrated to this build's schema first; the source must
//!   already be at it (`phoneprov db migrate` on it otherwise), so the
//!   columns match;
//! - a target holding any row is refused unless `force`, which empties it
//!   first;
//! - the whole copy is **one transaction on the target**: a copy that
//!   fails half-way leaves the target as it was. The source is read in one
//!   read transaction (a SQLite snapshot: `serve` may keep running on a
//!   SQLite source);
//! - each table is read in pages in key order and written with multi-row
//!   `INSERT`s of [`BATCH`] rows, ids kept; PostgreSQL's id sequences are
//!   moved past the copied ids afterwards;
//! - at the end the rows of every table are counted on both sides and must
//!   match ([`CopyError::Mismatch`] otherwise).
//!
//! [`TABLES`] names every table of the schema; a store test checks that
//! the list covers whatever the migrations create, so a table added
//! later cannot be left behind silently.

use crate::db::{Dialect, Exec, Val};
use crate::error::{Result, StoreError};
use crate::store::Store;

/// Why [`copy_database`] refused or failed (the target is unchanged).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Reading or writing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The source's schema is not this build's.
    #[error("the source database's schema is version {found}, this phoneprov's is {known}; run `phoneprov db migrate` on the source first (or use the phoneprov that wrote it)")]
    Source {
        /// The source's version.
        found: i64,
        /// This build's.
        known: i64,
    },
    /// The target holds rows and `force` was not given.
    #[error("the target database is not empty ({table} has {rows} rows); pass --force to replace everything in it")]
    TargetNotEmpty {
        /// The first non-empty table.
        table: &'static str,
        /// Its rows.
        rows: u64,
    },
    /// The counts differ after the copy.
    #[error("row counts differ after the copy (source {source_counts}, target {target_counts}); the target's transaction committed: rerun with --force")]
    Mismatch {
        /// Rows per table in the source.
        source_counts: String,
        /// Rows per table in the target.
        target_counts: String,
    },
}

/// Rows per `INSERT` statement.
pub const BATCH: usize = 500;

/// One table: its columns (in order) and the key its pages follow.
struct Table {
    name: &'static str,
    cols: &'static [&'static str],
    key: &'static [&'static str],
    /// The column filled by a sequence in PostgreSQL.
    serial: Option<&'static str>,
}

/// Every table of the schema (what the migrations create).
const TABLES: &[Table] = &[
    Table {
        name: "devices",
        cols: &[
            "mac",
            "serial",
            "model",
            "grp",
            "vars",
            "secret_key",
            "created_ms",
            "updated_ms",
            "last_seen_ms",
            "last_ip",
            "firmware",
            "last_outcome",
        ],
        key: &["mac"],
        serial: None,
    },
    Table {
        name: "events",
        cols: &[
            "id",
            "mac",
            "at_ms",
            "kind",
            "outcome",
            "source_ip",
            "message",
        ],
        key: &["id"],
        serial: Some("id"),
    },
    Table {
        name: "acs_tasks",
        cols: &[
            "id",
            "mac",
            "method",
            "rpc",
            "state",
            "priority",
            "source",
            "command_key",
            "attempts",
            "result",
            "created_ms",
            "updated_ms",
            "max_attempts",
            "expires_ms",
        ],
        key: &["id"],
        serial: Some("id"),
    },
    Table {
        name: "bulk_jobs",
        cols: &[
            "id",
            "action",
            "task",
            "selection",
            "rate_per_s",
            "state",
            "total",
            "succeeded",
            "failed",
            "skipped",
            "cursor",
            "failures",
            "created_by",
            "created_ms",
            "updated_ms",
            "finished_ms",
        ],
        key: &["id"],
        serial: Some("id"),
    },
    Table {
        name: "rollouts",
        cols: &[
            "id",
            "version",
            "file",
            "selection",
            "waves",
            "threshold_pct",
            "wave_timeout_ms",
            "soak_ms",
            "push_rate",
            "state",
            "wave",
            "wave_started_ms",
            "soak_until_ms",
            "reason",
            "total",
            "created_by",
            "created_ms",
            "updated_ms",
            "finished_ms",
        ],
        key: &["id"],
        serial: Some("id"),
    },
    Table {
        name: "rollout_devices",
        cols: &[
            "rollout_id",
            "mac",
            "wave",
            "result",
            "reason",
            "prev_version",
            "prev_file",
            "assigned_ms",
        ],
        key: &["rollout_id", "mac"],
        serial: None,
    },
    Table {
        name: "acs_datamodel",
        cols: &["mac", "path", "value", "type", "writable", "updated_ms"],
        key: &["mac", "path"],
        serial: None,
    },
    Table {
        name: "activation_bindings",
        cols: &[
            "id",
            "mac",
            "serial_from",
            "serial_to",
            "model",
            "url",
            "source",
            "created_ms",
        ],
        key: &["id"],
        serial: Some("id"),
    },
    Table {
        name: "activation_codes",
        cols: &[
            "code",
            "url",
            "created_ms",
            "expires_ms",
            "used_ms",
            "used_by",
        ],
        key: &["code"],
        serial: None,
    },
    Table {
        name: "activation_short_codes",
        cols: &["code", "url", "created_ms"],
        key: &["code"],
        serial: None,
    },
    Table {
        name: "secrets",
        cols: &["name", "value", "created_ms"],
        key: &["name"],
        serial: None,
    },
    Table {
        name: "console_users",
        cols: &[
            "name",
            "role",
            "pw_hash",
            "created_ms",
            "updated_ms",
            "api_token",
        ],
        key: &["name"],
        serial: None,
    },
    // Filled by the target's triggers as `devices` is copied (schema v6):
    // the copied rows are already there (see DERIVED).
    Table {
        name: "device_terms",
        cols: &["term", "mac"],
        key: &["term", "mac"],
        serial: None,
    },
];

/// Tables the target's triggers fill from other tables: their rows are
/// inserted with `ON CONFLICT DO NOTHING` (and still counted).
const DERIVED: &[&str] = &["device_terms"];

/// The names of the tables [`copy_database`] moves.
pub fn copied_tables() -> Vec<&'static str> {
    TABLES.iter().map(|t| t.name).collect()
}

/// Rows per table after a copy (the same on both sides).
pub type CopyCounts = Vec<(&'static str, u64)>;

fn count(x: &mut Exec<'_, '_>, table: &str) -> Result<u64> {
    let n: i64 = x
        .one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
        .get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Row counts of every copied table.
pub fn table_counts(store: &Store) -> Result<CopyCounts> {
    store.run(|x| {
        TABLES
            .iter()
            .map(|t| Ok((t.name, count(x, t.name)?)))
            .collect()
    })
}

/// Copies every table of `from` into `to` (see the module docs);
/// `progress(table, rows_done, rows_total)` is called after each batch.
pub fn copy_database(
    from: &Store,
    to: &mut Store,
    force: bool,
    mut progress: impl FnMut(&str, u64, u64),
) -> std::result::Result<CopyCounts, CopyError> {
    let st = from.schema_status()?;
    if !st.current() {
        return Err(CopyError::Source {
            found: st.found,
            known: st.known,
        });
    }
    to.migrate()?;
    let before = table_counts(to)?;
    if !force {
        if let Some((table, n)) = before.iter().find(|(_, n)| *n > 0) {
            return Err(CopyError::TargetNotEmpty { table, rows: *n });
        }
    }
    let totals = table_counts(from)?;
    to.tx(|w| {
        if force {
            for t in TABLES {
                w.exec(&format!("DELETE FROM {}", t.name), &[])?;
            }
        }
        from.tx_deferred(|r| {
            for (t, (_, total)) in TABLES.iter().zip(&totals) {
                copy_table(r, w, t, *total, &mut progress)?;
            }
            Ok(())
        })?;
        if w.dialect() == Dialect::Postgres {
            for t in TABLES {
                if let Some(col) = t.serial {
                    w.one(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence('{0}', '{col}'), \
                             COALESCE((SELECT MAX({col}) FROM {0}), 0) + 1, false)",
                            t.name
                        ),
                        &[],
                    )?;
                }
            }
        }
        crate::changes::notify_device(w, None)?;
        Ok(())
    })?;
    let after = table_counts(to)?;
    if after != totals {
        return Err(CopyError::Mismatch {
            source_counts: format!("{totals:?}"),
            target_counts: format!("{after:?}"),
        });
    }
    Ok(after)
}

fn copy_table(
    r: &mut Exec<'_, '_>,
    w: &mut Exec<'_, '_>,
    t: &Table,
    total: u64,
    progress: &mut impl FnMut(&str, u64, u64),
) -> Result<()> {
    let cols = t.cols.join(", ");
    let key = t.key.join(", ");
    let first = format!("SELECT {cols} FROM {} ORDER BY {key} LIMIT {BATCH}", t.name);
    let holes: Vec<String> = (1..=t.key.len()).map(|i| format!("?{i}")).collect();
    let next = format!(
        "SELECT {cols} FROM {} WHERE ({key}) > ({}) ORDER BY {key} LIMIT {BATCH}",
        t.name,
        holes.join(", ")
    );
    let key_at: Vec<usize> = t
        .key
        .iter()
        .map(|k| {
            t.cols
                .iter()
                .position(|c| c == k)
                .expect("key among the columns")
        })
        .collect();
    let mut after: Option<Vec<Val<'static>>> = None;
    let mut done = 0u64;
    loop {
        let rows = match &after {
            None => r.rows(&first, &[])?,
            Some(k) => r.rows(&next, k)?,
        };
        if rows.is_empty() {
            return Ok(());
        }
        let n = rows.len();
        let vals: Vec<Vec<Val<'static>>> = rows.into_iter().map(|row| row.into_vals()).collect();
        after = vals
            .last()
            .map(|last| key_at.iter().map(|&i| last[i].clone()).collect());
        let width = t.cols.len();
        let tuples: Vec<String> = (0..n)
            .map(|row| {
                let p: Vec<String> = (1..=width)
                    .map(|c| format!("?{}", row * width + c))
                    .collect();
                format!("({})", p.join(", "))
            })
            .collect();
        let conflict = if DERIVED.contains(&t.name) {
            " ON CONFLICT DO NOTHING"
        } else {
            ""
        };
        let insert = format!(
            "INSERT INTO {} ({cols}) VALUES {}{conflict}",
            t.name,
            tuples.join(", ")
        );
        let flat: Vec<Val<'static>> = vals.into_iter().flatten().collect();
        w.exec(&insert, &flat)?;
        done += n as u64;
        progress(t.name, done, total.max(done));
        if n < BATCH {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Database, Mac, NewDevice, NewEvent, SecretRepo};

    /// Every table the migrations create is in [`TABLES`] (so `db copy`
    /// cannot leave a new one behind), on SQLite.
    #[test]
    fn the_copy_covers_every_table_of_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut names: Vec<String> = store
            .run(|x| {
                x.rows(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' ORDER BY name",
                    &[],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect()
            })
            .unwrap();
        let mut ours: Vec<String> = copied_tables().iter().map(|s| s.to_string()).collect();
        names.sort();
        ours.sort();
        assert_eq!(names, ours, "add the new table to copy.rs TABLES");
    }

    fn fill(s: &mut Store, n: usize) {
        for i in 0..n {
            let mac = Mac::parse(&format!("000e08{i:06x}")).unwrap();
            let mut d = NewDevice::new(mac);
            d.vars.insert("display_name".into(), format!("Phone {i}"));
            s.add_device(&d).unwrap();
            s.append_event(&NewEvent {
                mac,
                at_ms: i as i64,
                kind: crate::EventKind::Resync,
                outcome: Some(crate::Outcome::Success),
                source_ip: None,
                message: format!("resync {i}"),
            })
            .unwrap();
        }
        s.ensure_secret("admin-token", b"tok").unwrap();
    }

    /// SQLite → PostgreSQL → SQLite keeps every row, the device keys and
    /// the secrets; a non-empty target is refused without `force`; ids
    /// written after a copy to PostgreSQL do not collide.
    #[test]
    fn sqlite_to_postgres_and_back_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let mut lite = Store::open(dir.path()).unwrap();
        fill(&mut lite, BATCH + 7);
        let pg_url = phoneprov_testpeers::pg().fresh_db();
        let mut pg = Store::connect_unmigrated(&Database::Postgres(pg_url)).unwrap();
        let mut seen = Vec::new();
        let counts = copy_database(&lite, &mut pg, false, |t, d, n| {
            seen.push((t.to_string(), d, n))
        })
        .unwrap();
        assert!(
            counts.contains(&("devices", BATCH as u64 + 7)),
            "{counts:?}"
        );
        assert!(counts.contains(&("events", BATCH as u64 + 7)), "{counts:?}");
        assert!(
            seen.contains(&("devices".to_string(), BATCH as u64 + 7, BATCH as u64 + 7)),
            "{seen:?}"
        );
        let mac = Mac::parse("000e08000003").unwrap();
        let a = lite.device(mac).unwrap().unwrap();
        let b = pg.device(mac).unwrap().unwrap();
        assert_eq!(a, b, "the device, its key and variables");
        assert_eq!(
            pg.secret("admin-token").unwrap().as_deref(),
            Some(&b"tok"[..])
        );
        // The sequence moved past the copied ids.
        let id = pg
            .append_event(&NewEvent {
                mac,
                at_ms: 1,
                kind: crate::EventKind::Resync,
                outcome: None,
                source_ip: None,
                message: "after".into(),
            })
            .unwrap();
        assert!(id > BATCH as i64 + 7, "{id}");

        let e = copy_database(&lite, &mut pg, false, |_, _, _| {}).unwrap_err();
        assert!(matches!(e, CopyError::TargetNotEmpty { .. }), "{e}");
        assert!(e.to_string().contains("--force"), "{e}");

        let back = tempfile::tempdir().unwrap();
        let mut lite2 = Store::open(back.path()).unwrap();
        lite2.ensure_secret("admin-token", b"other").unwrap();
        copy_database(&pg, &mut lite2, true, |_, _, _| {}).unwrap();
        assert_eq!(lite2.device(mac).unwrap().unwrap(), a);
        assert_eq!(lite2.count_devices(None).unwrap(), BATCH as u64 + 7);
        assert_eq!(lite2.events(mac, 10).unwrap().len(), 2);
        assert_eq!(
            lite2.secret("admin-token").unwrap().as_deref(),
            Some(&b"tok"[..])
        );
    }
}
