//! Where the store lives and what happens to its schema (issue 13): the
//! logic of `phoneprov db status|migrate` and of `serve`'s start.
//!
//! * [`target`]: the database in effect: `--database-url` /
//!   `PHONEPROV_DATABASE_URL` (passed in by the CLI), else `[database] url`,
//!   else the SQLite file of the data directory.
//! * [`command_target`]: the same for a command (`device`, `activation`,
//!   `db`...), which refuses to fall back to the data directory's SQLite
//!   file while `serve` on that directory runs on PostgreSQL: serve
//!   records its PostgreSQL database (password redacted) in
//!   `DATA/served-database` ([`record_served`]) and removes the record
//!   when it serves SQLite, so a forgotten `--database-url` is one line
//!   and exit 2, not writes the server never sees.
//! * [`open_for_serve`]: `serve` refuses a schema newer than this build
//!   knows, and brings an older (or empty) one up to date only when told
//!   (`--migrate`, `[database] auto_migrate`; true by default for SQLite
//!   only: several nodes share a PostgreSQL schema, so upgrading it is an
//!   operator's step). A database that cannot be reached or refuses the
//!   login is one line and exit 2, like every start error.
//! * [`status`] and [`migrate`]: the two `db` commands. `status` changes
//!   nothing (a SQLite data directory without a database file is reported
//!   empty, not created).
//!
//! The migration list itself and the SQL are the store's
//! (`phoneprov_store::Store::migrate`, one list for both backends).

use std::path::Path;

use phoneprov_store::{Database, SchemaStatus, Store, StoreError, DB_FILE};
use serde::Serialize;

use crate::config::DatabaseConfig;
use crate::error::ServerError;

/// The database in effect: `flag` (the CLI's `--database-url`, already
/// including `PHONEPROV_DATABASE_URL`), else the config's `url`, else the
/// SQLite database of `data`.
pub fn target(flag: Option<&Database>, cfg: &DatabaseConfig, data: &Path) -> Database {
    flag.or(cfg.url.as_ref())
        .cloned()
        .unwrap_or_else(|| Database::Sqlite(data.to_path_buf()))
}

/// The file in the data directory that names the PostgreSQL database
/// `serve` on it uses (see [`record_served`]).
pub const SERVED_RECORD: &str = "served-database";

/// [`target`] for a command: when it resolves to the SQLite file of
/// `data` (no flag, no `[database] url`) while `data` holds a
/// [`SERVED_RECORD`], the command would write where the server never
/// reads: [`ServerError::ServedElsewhere`], which says what to pass. An
/// explicit `--database-url sqlite:DIR` is taken as asked.
pub fn command_target(
    flag: Option<&Database>,
    cfg: &DatabaseConfig,
    data: &Path,
) -> Result<Database, ServerError> {
    let db = target(flag, cfg, data);
    if flag.is_some() || cfg.url.is_some() {
        return Ok(db);
    }
    let record = data.join(SERVED_RECORD);
    match std::fs::read_to_string(&record) {
        Ok(served) => Err(ServerError::ServedElsewhere {
            data: data.to_path_buf(),
            served: served.trim().to_string(),
            record,
        }),
        Err(_) => Ok(db),
    }
}

/// `serve`'s note of the database it uses, for [`command_target`]: on
/// PostgreSQL it writes the URL (password redacted) to
/// `data/`[`SERVED_RECORD`]; on SQLite it removes a stale record.
pub fn record_served(data: &Path, db: &Database) -> Result<(), ServerError> {
    let record = data.join(SERVED_RECORD);
    let done = match db {
        Database::Postgres(_) => std::fs::write(&record, format!("{db}\n")),
        Database::Sqlite(_) => match std::fs::remove_file(&record) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    };
    done.map_err(|error| ServerError::DataDir {
        path: record,
        error,
    })
}

/// Where a schema stands compared with this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaState {
    /// No phoneprov schema yet (version 0).
    Empty,
    /// Older than this build: `phoneprov db migrate`.
    Older,
    /// This build's version.
    Current,
    /// Written by a newer phoneprov: this build refuses it.
    Newer,
}

impl SchemaState {
    fn of(s: SchemaStatus) -> SchemaState {
        match s.found {
            0 => SchemaState::Empty,
            f if f < s.known => SchemaState::Older,
            f if f == s.known => SchemaState::Current,
            _ => SchemaState::Newer,
        }
    }
}

/// What `phoneprov db status` reports (its `--json` form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbStatus {
    /// The database, password redacted.
    pub database: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The schema version it holds (0: none).
    pub found: i64,
    /// The newest version this build knows.
    pub known: i64,
    /// `found` compared with `known`.
    pub state: SchemaState,
}

impl DbStatus {
    fn new(db: &Database, s: SchemaStatus) -> DbStatus {
        DbStatus {
            database: db.to_string(),
            backend: if db.is_postgres() {
                "postgres"
            } else {
                "sqlite"
            },
            found: s.found,
            known: s.known,
            state: SchemaState::of(s),
        }
    }

    /// One line for people.
    pub fn line(&self) -> String {
        let what = match self.state {
            SchemaState::Empty => "no schema yet; run `phoneprov db migrate`".to_string(),
            SchemaState::Older => format!(
                "older than this phoneprov's ({}); run `phoneprov db migrate`",
                self.known
            ),
            SchemaState::Current => "up to date".to_string(),
            SchemaState::Newer => format!(
                "newer than this phoneprov's ({}); upgrade phoneprov",
                self.known
            ),
        };
        format!(
            "database {} ({}): schema version {}: {what}",
            self.database, self.backend, self.found
        )
    }
}

/// The schema of `db`, changing nothing.
pub fn status(db: &Database) -> Result<DbStatus, ServerError> {
    if let Database::Sqlite(dir) = db {
        if !dir.join(DB_FILE).is_file() {
            let known = phoneprov_store::SCHEMA_VERSION;
            return Ok(DbStatus::new(db, SchemaStatus { found: 0, known }));
        }
    }
    let found = Store::connect_unmigrated(db).and_then(|s| s.schema_status());
    Ok(DbStatus::new(db, found.map_err(|e| one_shot(db, e))?))
}

/// Brings `db` up to this build's schema (creating it when empty);
/// returns the status before and after. A newer schema is refused.
pub fn migrate(db: &Database) -> Result<(DbStatus, DbStatus), ServerError> {
    let run = || {
        let mut store = Store::connect_unmigrated(db)?;
        let before = store.migrate()?;
        Ok((before, store.schema_status()?))
    };
    let (before, after) = run().map_err(|e| one_shot(db, e))?;
    Ok((DbStatus::new(db, before), DbStatus::new(db, after)))
}

/// `serve`'s start: connects to `db` and checks its schema, migrating an
/// older one only when `migrate` is set. Every failure is one line
/// ([`ServerError::Database`]) that says what to do.
pub fn open_for_serve(db: &Database, migrate: bool) -> Result<Store, ServerError> {
    Store::connect_with(db, migrate).map_err(|e| one_shot(db, e))
}

/// A command's open of a store that must already exist (`device list`,
/// `activation list`...): a SQLite directory without a database or a
/// PostgreSQL database without phoneprov's schema is an error (nothing
/// created); otherwise as [`open_for_serve`].
pub fn open_existing(db: &Database, migrate: bool) -> Result<Store, ServerError> {
    Store::open_existing_with(db, migrate).map_err(|e| one_shot(db, e))
}

/// `phoneprov db copy`: every table of `from` into `to` (see
/// `phoneprov_store::copy_database`: one transaction on the target, counts
/// verified, a non-empty target refused unless `force`). The source is
/// not changed (not even migrated).
pub fn copy(
    from: &Database,
    to: &Database,
    force: bool,
    progress: impl FnMut(&str, u64, u64),
) -> Result<phoneprov_store::CopyCounts, ServerError> {
    let fail = |message: String| ServerError::Database {
        target: format!("copy {from} to {to}"),
        message,
    };
    if from == to {
        return Err(fail("source and target are the same database".into()));
    }
    if let Database::Sqlite(dir) = from {
        if !dir.join(DB_FILE).is_file() {
            return Err(fail(format!(
                "the source has no {DB_FILE}; write sqlite:DIR with the data directory that holds it"
            )));
        }
    }
    let src = Store::connect_unmigrated(from).map_err(|e| one_shot(from, e))?;
    let mut dst = Store::connect_unmigrated(to).map_err(|e| one_shot(to, e))?;
    phoneprov_store::copy_database(&src, &mut dst, force, progress).map_err(|e| fail(e.to_string()))
}

/// A store error of a one-shot use (a command, serve's start) as one
/// line: there is no "next request" to reconnect on.
fn one_shot(db: &Database, error: StoreError) -> ServerError {
    ServerError::Database {
        target: db.to_string(),
        message: match error {
            StoreError::Unavailable(cause) => format!(
                "cannot reach it ({cause}); check that PostgreSQL is running and that the URL's host and port are right"
            ),
            other => other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `db status` on a data directory without a database creates
    /// nothing; `migrate` creates the schema; `serve` without `--migrate`
    /// refuses the empty SQLite database only when told not to migrate.
    #[test]
    fn status_changes_nothing_and_migrate_brings_the_schema_up_to_date() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let db = target(None, &DatabaseConfig::default(), &data);
        assert_eq!(db, Database::Sqlite(data.clone()));
        let st = status(&db).unwrap();
        assert_eq!(st.state, SchemaState::Empty);
        assert!(st.line().contains("phoneprov db migrate"), "{}", st.line());
        assert!(!data.exists(), "status created the data directory");

        let Err(e) = open_for_serve(&db, false) else {
            panic!("an empty database was served without --migrate")
        };
        let e = e.to_string();
        assert!(e.contains("phoneprov db migrate"), "{e}");

        let (before, after) = migrate(&db).unwrap();
        assert_eq!(before.found, 0);
        assert_eq!(after.state, SchemaState::Current);
        assert_eq!(after.found, phoneprov_store::SCHEMA_VERSION);
        assert_eq!(status(&db).unwrap(), after);
        open_for_serve(&db, false).expect("a current schema needs no --migrate");
    }

    /// serve on PostgreSQL records its database (password redacted); a
    /// command without a URL then refuses the data directory's SQLite
    /// file, one with a URL or `[database] url` gets it; serve on SQLite
    /// removes the record.
    #[test]
    fn a_command_without_the_url_of_a_postgres_serve_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let none = DatabaseConfig::default();
        let pg = Database::parse("postgres://phoneprov:s3cret@db1:5432/prov").unwrap();
        record_served(data, &pg).unwrap();
        let written = std::fs::read_to_string(data.join(SERVED_RECORD)).unwrap();
        assert!(!written.contains("s3cret"), "{written}");
        let e = command_target(None, &none, data).unwrap_err().to_string();
        assert!(
            e.starts_with("serve on ")
                && e.contains("uses PostgreSQL postgres://phoneprov:***@db1:5432/prov"),
            "{e}"
        );
        assert!(
            e.contains("--database-url") && e.contains(SERVED_RECORD),
            "{e}"
        );
        assert_eq!(command_target(Some(&pg), &none, data).unwrap(), pg);
        let sqlite = Database::Sqlite(data.to_path_buf());
        assert_eq!(command_target(Some(&sqlite), &none, data).unwrap(), sqlite);
        let cfg = DatabaseConfig {
            url: Some(pg.clone()),
            auto_migrate: None,
        };
        assert_eq!(command_target(None, &cfg, data).unwrap(), pg);

        record_served(data, &sqlite).unwrap();
        assert!(!data.join(SERVED_RECORD).exists());
        assert_eq!(command_target(None, &none, data).unwrap(), sqlite);
        record_served(data, &sqlite).expect("no record to remove is fine");
    }

    /// The flag wins over the config, the config over the data directory.
    #[test]
    fn the_flag_wins_over_the_config() {
        let flag = Database::parse("postgres://a@h1/x").unwrap();
        let cfg = DatabaseConfig {
            url: Some(Database::parse("postgres://b@h2/y").unwrap()),
            auto_migrate: None,
        };
        let data = Path::new("/nonexistent");
        assert_eq!(target(Some(&flag), &cfg, data), flag);
        assert_eq!(target(None, &cfg, data), cfg.url.clone().unwrap());
    }
}
