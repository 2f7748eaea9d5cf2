//! `phoneprov-store`: the device inventory of the provisioning server.
//!
//! `phoneprov serve` renders per-device profiles from it (R-HTTP-2: "the
//! server may generate the profile from a customer database on the fly";
//! the `$MA`/`$SN`/`$PN` macros of R-MACRO come from its columns) and the
//! `phoneprov device …` commands manage it. It lives in one of two
//! backends, named by a [`Database`]: the data directory's SQLite file
//! [`DB_FILE`] (`phoneprov.db`; the default, `--data DIR` or `sqlite:DIR`),
//! or a PostgreSQL database shared by several `serve` nodes
//! (`postgres://…`, issue 13). [`Store::connect`] opens either.
//!
//! It owns every table of that file and all SQL of phoneprov, behind typed
//! repositories: the inventory and timeline ([`Inventory`], [`Timeline`]), the
//! ACS's task queue and data-model cache ([`AcsRepo`]) and the activation
//! service's bindings and codes ([`ActivationRepo`]), named server secrets
//! ([`SecretRepo`]). No driver type appears in their signatures; [`Store`]
//! implements them all on both backends, with each query written once
//! (the `db` module says how to add one: read it before adding SQL).
//!
//! # Schema (one ordered list of migrations, each in both dialects)
//! - `devices`, keyed by MAC (12 lowercase hex digits, the `$MA` form; see
//!   [`Mac`]): `serial`, `model` (`$PN`), `grp`, `vars` (JSON object of free
//!   variables: account user, password, display name…), `secret_key` (see
//!   [`DeviceKey`]), `created_ms`/`updated_ms`, and the status the server
//!   writes: `last_seen_ms`, `last_ip`, `firmware` (from the User-Agent,
//!   R-HTTP-3), `last_outcome` (R-RESULT classes, [`Outcome`]).
//! - `events`: the device timeline (`id`, `mac`, `at_ms`, `kind`, `outcome`,
//!   `source_ip`, `message`), indexed by `(mac, id)`.
//!
//! - `acs_tasks`, `acs_datamodel` (version 2), `activation_*` (version 3),
//!   `events_by_time` (version 4), `secrets` (version 5), `console_users`,
//!   `device_terms` and the console's indexes (version 6, [`ConsoleRepo`]).
//!
//! Details and the reasons for each choice are in `schema.rs`; the
//! PostgreSQL version lives in the table `schema_version`.
//!
//! # Concurrency and durability
//! PostgreSQL: every write is a transaction committed (synchronously, as
//! the server is configured) before the call returns; several nodes share
//! the database, and the ACS claim and activation redemption are safe
//! across them (`acs`, `activation` modules). The rest of this section is
//! about SQLite.
//!
//! Every command must work while `phoneprov serve` has the same file open,
//! so the database runs in **WAL mode**: readers never wait for a writer,
//! writes are short `BEGIN IMMEDIATE` transactions, and a writer that finds
//! the lock taken waits up to [`BUSY_TIMEOUT`] instead of failing. A big
//! import parses into a private temporary table first and holds the write
//! lock only for its final merge (see the `import` module).
//!
//! `synchronous = NORMAL`: in WAL mode a COMMIT appends the transaction's
//! pages and a commit frame to the `-wal` file with `write(2)` before it
//! returns; only the fsync is deferred to checkpoints. Once `write(2)` has
//! returned the data is in the kernel's page cache, which belongs to the
//! OS, not the process, so **killing the process (even `kill -9`) at any
//! moment loses no acknowledged write**: the next open replays the WAL up
//! to the last complete commit frame and ignores a torn tail (frames carry
//! checksums). What NORMAL gives up, compared with FULL, is the last few
//! transactions on a power cut or kernel crash, and never consistency. That
//! is the right trade for status writes arriving at fleet rate (an fsync
//! per status would cap them at the disk's flush rate); the
//! `device_kill9` test in the CLI crate checks the process-crash promise in
//! a loop, together with all-or-nothing imports.
//!
//! # Why rusqlite
//! The inventory is used from synchronous code (the CLI, a bulk import that
//! is one tight loop over prepared statements) and from the server through
//! `spawn_blocking`; rusqlite is a thin, well-kept binding with prepared
//! statement caching and direct control over pragmas and transaction modes
//! (`BEGIN IMMEDIATE`), and the `bundled` feature pins a known SQLite
//! (WAL, upsert, `WITHOUT ROWID`) with no system library needed. sqlx's
//! async pool adds nothing for an embedded file and its SQLite driver cannot
//! share a build with rusqlite ≥ 0.40. PostgreSQL goes through the
//! `postgres` crate (tokio-postgres behind a synchronous client; TLS by
//! rustls): why, and how one SQL text serves both, is in the `db` module.
//!
//! Hand-written here: the CSV-to-device mapping. CSV parsing itself is the
//! `csv` crate; the MAC type is `phoneprov-types`' [`Mac`] (re-exported here),
//! shared with every other crate that names phones.

// Unit tests name the crate as integration tests do, so both share the
// two-backend test support (`tests/support`).
#[cfg(test)]
extern crate self as phoneprov_store;
#[cfg(test)]
#[path = "../tests/support/mod.rs"]
#[macro_use]
mod test_support;

mod access;
mod acs;
mod activation;
mod bulk;
mod changes;
mod console;
mod copy;
mod db;
mod error;
mod export;
mod fleet;
mod import;
mod key;
mod lookup;
mod model;
mod pg_tls;
mod repo;
mod retention;
mod rollout;
mod schema;
mod secrets;
mod store;
mod writer;

pub use access::{
    api_token_hash, is_secret_var, new_api_token, Action, ApiTokenRepo, READ_ONLY_RPCS,
    SECRET_MASK, SECRET_NAME_PARTS,
};
pub use acs::{
    AcsRepo, Claimed, DmEntry, DmUpdate, FinishWrite, InformRecord, InformWrite, NewTask,
    SessionWrite, TaskLimits, TaskRow, TaskState, ValueAndType, DEFAULT_TASK_ATTEMPTS,
};
pub use activation::{
    ActivationListing, ActivationRepo, BindTarget, Binding, CodeUse, IssuedCode, ShortCode,
};
pub use bulk::{BulkJob, BulkProgress, NewBulkJob, MAX_FAILURES};
pub use changes::{ChangeListener, DeviceChange, CHANGE_CHANNEL, LISTEN_APPLICATION};
pub use console::{
    ConsoleRepo, ConsoleUser, DeviceQuery, DeviceSort, FleetCounts, Role, SeenFilter, Selection,
    TOP_N,
};
pub use copy::{copied_tables, copy_database, table_counts, CopyCounts, CopyError, BATCH};
pub use db::{Database, CONNECT_TIMEOUT};
pub use error::{BadRow, DbError, Result, StoreError};
pub use export::{ExportFormat, ExportSummary};
pub use fleet::{
    check_var_name, check_var_value, with_changes, Approval, Change, MAX_VAR_NAME, MAX_VAR_VALUE,
    RESERVED_NAMES, STATUS_VAR,
};
pub use import::{ImportObserver, ImportOptions, ImportSummary, NoObserver, PROGRESS_EVERY};
pub use key::{DeviceKey, KEY_BYTES};
pub use lookup::Lookups;
pub use model::{
    now_ms, Device, DeviceStatus, Event, EventKind, NewDevice, NewEvent, Outcome, UnknownName,
};
pub use phoneprov_types::{Mac, MacError};
pub use repo::{Inventory, Timeline};
pub use retention::{
    Pruned, Retention, StoreSettings, DEFAULT_EVENTS_MAX_AGE, DEFAULT_EVENTS_MAX_PER_DEVICE,
    DEFAULT_EVENTS_MAX_TOTAL, PRUNE_BATCH,
};
pub use rollout::{
    NewRollout, Rollout, RolloutDevice, RolloutStep, WaveCount, WaveMember, FIRMWARE_FILE_VAR,
    FIRMWARE_VERSION_VAR,
};
pub use schema::{SchemaStatus, BUSY_TIMEOUT, SCHEMA_VERSION};
pub use secrets::SecretRepo;
pub use store::{StatusUpdate, Store, DB_FILE, DEVICE_PAGE};
pub use writer::{Seen, StatusNote, TimelineWriter, FOLD_WINDOW, WRITER_QUEUE};
