//! CSV import: `phoneprov device import FILE.csv`.
//!
//! One streaming pass, constant memory, all or nothing:
//! 1. Rows are parsed one at a time (the `csv` crate, byte records so
//!    non-UTF-8 is reported per row instead of aborting the file), checked,
//!    given a fresh key, and inserted through one prepared statement into a
//!    `TEMP` staging table. The staging table is private to this connection
//!    and lives in a temporary file, so this phase holds no lock on the
//!    inventory (the server keeps writing statuses) and memory stays at the
//!    page cache size whatever the file size. Its primary key catches a MAC
//!    repeated in the file.
//! 2. If there were bad rows and `skip_bad` is off, the staging table is
//!    dropped: nothing changed. Otherwise ONE `BEGIN IMMEDIATE` transaction
//!    merges it into `devices` with a single `INSERT … SELECT … ON CONFLICT
//!    DO UPDATE` in MAC order (existing devices keep their key, creation
//!    time and status). That transaction is the commit point: a kill before
//!    its COMMIT leaves the inventory as it was, a kill after it loses
//!    nothing. This replaces "batched transactions" on the inventory, which
//!    could not be all-or-nothing, and keeps the write lock for the few
//!    seconds of the merge instead of the whole parse.
//!
//! On PostgreSQL the rows are streamed with one `COPY … FROM STDIN`
//! (binary format) into a session `TEMP` table without constraints
//! (`pg_temp.import_raw`), bad rows too (with their reason): a round trip
//! per row was most of an import's time. One query then reports the bad
//! rows and the repeated MACs, in file order, with the same texts as on
//! SQLite; the staging table (`pg_temp.import_staging`, one row per MAC,
//! the first in the file) is built from it in one statement, and the merge
//! is the same statement in one transaction. Bad rows therefore reach the
//! observer when the file has been read, not as each is found; the SQLite
//! page-cache pragmas have no counterpart.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Read;

use crate::db::{vals, Dialect, Exec};
use crate::error::{BadRow, Result, StoreError};
use crate::key::DeviceKey;
use crate::model::now_ms;
use crate::store::{Store, UPSERT_TAIL};
use crate::Mac;

/// How to treat bad rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import the good rows even if some are bad (bad rows are still
    /// reported). Off: any bad row means nothing is imported.
    pub skip_bad: bool,
}

/// Callbacks during an import (the CLI prints bad rows and drives a
/// progress bar). All methods have empty defaults.
pub trait ImportObserver {
    /// A rejected row, in file order, as soon as it is found.
    fn bad_row(&mut self, _row: &BadRow) {}
    /// Rows read so far; called every [`PROGRESS_EVERY`] rows.
    fn progress(&mut self, _rows: u64) {}
    /// Parsing is done; the merge into the inventory starts.
    fn merging(&mut self) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;
impl ImportObserver for NoObserver {}

/// How often [`ImportObserver::progress`] is called.
pub const PROGRESS_EVERY: u64 = 10_000;

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Devices that were not in the inventory before.
    pub created: u64,
    /// Devices already there, updated (keys kept).
    pub updated: u64,
    /// Bad rows skipped (only non-zero with `skip_bad`).
    pub skipped: u64,
}

/// Where each header column goes.
enum Column {
    Mac,
    Serial,
    Model,
    Group,
    /// A key the phone already holds (migration from another server).
    Key,
    Var(String),
}

fn parse_header(fields: &csv::ByteRecord) -> Result<Vec<Column>> {
    let hint = "the first line must name the columns, e.g. mac,serial,model,group,user,password";
    let mut cols = Vec::with_capacity(fields.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in fields.iter().enumerate() {
        let name = std::str::from_utf8(raw)
            .map_err(|_| {
                StoreError::ImportHeader(format!(
                    "column {} name is not valid UTF-8; save the file as UTF-8",
                    i + 1
                ))
            })?
            .trim_start_matches('\u{feff}')
            .trim();
        if name.is_empty() {
            return Err(StoreError::ImportHeader(format!(
                "column {} has no name; {hint}",
                i + 1
            )));
        }
        let lower = name.to_ascii_lowercase();
        if let Some(first) = seen.insert(lower.clone(), i) {
            return Err(StoreError::ImportHeader(format!(
                "column name {name:?} appears twice (columns {} and {}); give each column its own name",
                first + 1,
                i + 1
            )));
        }
        cols.push(match lower.as_str() {
            "mac" => Column::Mac,
            "serial" => Column::Serial,
            "model" => Column::Model,
            "group" => Column::Group,
            "key" => Column::Key,
            _ => Column::Var(name.to_string()),
        });
    }
    if !cols.iter().any(|c| matches!(c, Column::Mac)) {
        let names: Vec<String> = fields
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_string())
            .collect();
        return Err(StoreError::ImportHeader(format!(
            "no `mac` column (found: {}); {hint}",
            names.join(", ")
        )));
    }
    Ok(cols)
}

/// One checked row, ready for staging.
struct Row {
    mac: Mac,
    serial: Option<String>,
    model: Option<String>,
    group: Option<String>,
    vars: BTreeMap<String, String>,
    key: Option<DeviceKey>,
}

fn parse_row(cols: &[Column], rec: &csv::ByteRecord) -> std::result::Result<Row, String> {
    if rec.len() != cols.len() {
        return Err(format!(
            "has {} field(s) but the header names {}; quote fields that contain commas",
            rec.len(),
            cols.len()
        ));
    }
    let mut row = Row {
        mac: Mac::from_bytes([0; 6]),
        serial: None,
        model: None,
        group: None,
        vars: BTreeMap::new(),
        key: None,
    };
    for (col, raw) in cols.iter().zip(rec.iter()) {
        let text = std::str::from_utf8(raw).map_err(|_| {
            let name = match col {
                Column::Mac => "mac",
                Column::Serial => "serial",
                Column::Model => "model",
                Column::Group => "group",
                Column::Key => "key",
                Column::Var(n) => n,
            };
            format!("column `{name}` is not valid UTF-8; save the file as UTF-8")
        })?;
        let text = text.trim();
        let value = (!text.is_empty()).then(|| text.to_string());
        match col {
            Column::Mac => row.mac = Mac::parse(text).map_err(|e| e.to_string())?,
            Column::Serial => row.serial = value,
            Column::Model => row.model = value,
            Column::Group => row.group = value,
            Column::Key => {
                row.key = value.map(|k| DeviceKey::from_imported(&k)).transpose()?;
            }
            Column::Var(name) => {
                if let Some(v) = value {
                    row.vars.insert(name.clone(), v);
                }
            }
        }
    }
    Ok(row)
}

/// Counts physical lines for error messages. The `csv` crate's own
/// `Position::line()` is off after blank lines and with CRLF endings
/// (csv 1.4), while its byte offset is right but points at the line
/// terminators it skipped before the record. This reader wrapper remembers
/// where the `\r`/`\n` bytes are (only those not yet behind the parser, so
/// a few kilobytes at most) to turn a byte offset into a line number.
struct LineTee<R> {
    inner: R,
    offset: u64,
    /// Offsets and bytes of the `\r` and `\n` at or after the last query.
    marks: VecDeque<(u64, u8)>,
    /// Newlines already dropped from `marks`.
    newlines_before: u64,
}

impl<R: Read> Read for LineTee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.marks.push_back((self.offset + i as u64, b));
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> LineTee<R> {
    fn new(inner: R) -> Self {
        LineTee {
            inner,
            offset: 0,
            marks: VecDeque::new(),
            newlines_before: 0,
        }
    }

    /// 1-based line of the record whose position (as `csv` reports it) is
    /// `byte`. Calls must come with non-decreasing `byte`.
    fn line_of(&mut self, byte: u64) -> u64 {
        while let Some(&(o, c)) = self.marks.front() {
            if o >= byte {
                break;
            }
            self.newlines_before += u64::from(c == b'\n');
            self.marks.pop_front();
        }
        // Skip the run of line terminators the record position points at.
        let mut line = self.newlines_before + 1;
        for (expect, &(o, c)) in (byte..).zip(self.marks.iter()) {
            if o != expect {
                break;
            }
            line += u64::from(c == b'\n');
        }
        line
    }
}

const STAGING_DDL: &str = "
DROP TABLE IF EXISTS temp.import_staging;
CREATE TEMP TABLE import_staging (
    mac        TEXT    NOT NULL PRIMARY KEY,
    line       INTEGER NOT NULL,
    serial     TEXT,
    model      TEXT,
    grp        TEXT,
    vars       TEXT    NOT NULL,
    secret_key TEXT    NOT NULL,
    key_given  INTEGER NOT NULL   -- 1: from the file's key column
) WITHOUT ROWID;
";

/// PostgreSQL: every row of the file as read, bad ones with `bad` (the
/// reason) and no MAC; no key, so `COPY` only appends.
const STAGING_DDL_PG: &str = r#"
DROP TABLE IF EXISTS pg_temp.import_staging;
DROP TABLE IF EXISTS pg_temp.import_raw;
CREATE TEMP TABLE import_raw (
    line       BIGINT NOT NULL,
    mac        TEXT COLLATE "C",
    serial     TEXT,
    model      TEXT,
    grp        TEXT,
    vars       TEXT,
    secret_key TEXT,
    key_given  BIGINT,
    bad        TEXT
);
"#;

/// The columns `COPY` fills, and their types.
const RAW_COPY: &str =
    "pg_temp.import_raw (line, mac, serial, model, grp, vars, secret_key, key_given, bad)";
const RAW_TYPES: [postgres::types::Type; 9] = {
    use postgres::types::Type;
    [
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::TEXT,
    ]
};

/// PostgreSQL: the bad rows and the repeats of a MAC (each with the line
/// of its first good row), in file order.
const RAW_REJECTS: &str = "SELECT line, bad, mac, first FROM (\
    SELECT line, bad, mac, min(line) FILTER (WHERE bad IS NULL) OVER (PARTITION BY mac) AS first \
    FROM pg_temp.import_raw) AS r \
    WHERE bad IS NOT NULL OR line > first ORDER BY line";

/// PostgreSQL: the staging table, the first good row of each MAC.
const RAW_TO_STAGING: &str = "
CREATE TEMP TABLE import_staging AS
    SELECT DISTINCT ON (mac) mac, line, serial, model, grp, vars, secret_key, key_given
    FROM pg_temp.import_raw WHERE bad IS NULL ORDER BY mac, line;
ALTER TABLE pg_temp.import_staging ADD PRIMARY KEY (mac);
ANALYZE pg_temp.import_staging;
DROP TABLE pg_temp.import_raw;
";

/// The text of a repeated MAC.
fn repeated(mac: &str, first: i64) -> String {
    format!("MAC {mac} appears again (first on line {first}); keep one row per device")
}

/// A checked row as staged: MAC, serial, model, group, variables (JSON),
/// key, whether the key came from the file.
type Staged = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    DeviceKey,
    i64,
);

fn staged(row: Row) -> Staged {
    let vars = serde_json::to_string(&row.vars).expect("a string map always serializes");
    let given = i64::from(row.key.is_some());
    let key = row.key.unwrap_or_else(DeviceKey::generate);
    (
        row.mac.to_string(),
        row.serial,
        row.model,
        row.group,
        vars,
        key,
        given,
    )
}

/// The staging table's qualified name in each dialect.
fn staging(x: &Exec<'_, '_>) -> &'static str {
    match x.dialect() {
        Dialect::Sqlite => "temp.import_staging",
        Dialect::Postgres => "pg_temp.import_staging",
    }
}

impl Store {
    /// Imports devices from CSV (header row: `mac`, `serial`, `model`,
    /// `group`, `key` in any order and letter case; every other column is a
    /// device variable, an empty cell leaves it unset). A MAC already in
    /// the inventory is updated and keeps its key, unless the row has a
    /// `key` (a key the phone already holds, checked by
    /// [`DeviceKey::from_imported`]): that key is stored for new and
    /// existing devices alike, and a bad one is a bad row. Bad rows (wrong field
    /// count, bad MAC, MAC repeated in the file, non-UTF-8) go to
    /// `obs.bad_row` with their line number; unless `opts.skip_bad`, any of
    /// them makes the import fail with [`StoreError::ImportRejected`] and
    /// change nothing.
    pub fn import_csv<R: Read>(
        &mut self,
        input: R,
        opts: ImportOptions,
        obs: &mut dyn ImportObserver,
    ) -> Result<ImportSummary> {
        let result = self.import_inner(input, opts, obs);
        // Leave no staging data behind and give the cache back, whatever
        // happened (the connection may live on in the server).
        let _ = self.run(|x| match x.dialect() {
            Dialect::Sqlite => {
                x.batch("DROP TABLE IF EXISTS temp.import_staging; PRAGMA main.cache_size = -2000;")
            }
            Dialect::Postgres => x.batch(
                "DROP TABLE IF EXISTS pg_temp.import_staging; DROP TABLE IF EXISTS pg_temp.import_raw",
            ),
        });
        result
    }

    fn import_inner<R: Read>(
        &mut self,
        input: R,
        opts: ImportOptions,
        obs: &mut dyn ImportObserver,
    ) -> Result<ImportSummary> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LineTee::new(input));
        let csv_err = |e: csv::Error| match e.into_kind() {
            csv::ErrorKind::Io(io) => StoreError::ImportRead(io),
            other => StoreError::ImportRead(std::io::Error::other(format!("{other:?}"))),
        };
        let mut rec = csv::ByteRecord::new();
        if !rdr.read_byte_record(&mut rec).map_err(csv_err)? {
            return Err(StoreError::ImportHeader(
                "the file is empty; the first line must name the columns, e.g. mac,serial,model,group".into(),
            ));
        }
        let cols = parse_header(&rec)?;

        // SQLite: bigger page caches (64 MiB each) for the staging b-tree
        // and the merge, bounded so memory stays flat whatever the file
        // size, and an on-disk temp store whatever the build default.
        self.run(|x| match x.dialect() {
            Dialect::Sqlite => {
                x.batch(
                    "PRAGMA temp_store = FILE; PRAGMA temp.cache_size = -65536; \
                     PRAGMA main.cache_size = -65536;",
                )?;
                x.batch(STAGING_DDL)
            }
            Dialect::Postgres => x.batch(STAGING_DDL_PG),
        })?;

        let mut bad = 0u64;
        let mut rows = 0u64;
        // Each data record: its line, and the checked row or why not.
        let mut next = |rows: &mut u64,
                        obs: &mut dyn ImportObserver|
         -> Result<Option<(u64, std::result::Result<Row, String>)>> {
            if !rdr.read_byte_record(&mut rec).map_err(csv_err)? {
                return Ok(None);
            }
            *rows += 1;
            if rows.is_multiple_of(PROGRESS_EVERY) {
                obs.progress(*rows);
            }
            let byte = rec.position().map(|p| p.byte()).unwrap_or(0);
            let line = rdr.get_mut().line_of(byte);
            Ok(Some((line, parse_row(&cols, &rec))))
        };
        // Touches the staging table only: no lock on the inventory.
        self.tx_deferred(|x| match x.dialect() {
            Dialect::Sqlite => {
                let insert = "INSERT INTO temp.import_staging \
                    (mac, line, serial, model, grp, vars, secret_key, key_given) \
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(mac) DO NOTHING";
                let first_line = "SELECT line FROM temp.import_staging WHERE mac = ?1";
                while let Some((line, row)) = next(&mut rows, obs)? {
                    let row = match row {
                        Ok(row) => row,
                        Err(why) => {
                            bad += 1;
                            obs.bad_row(&BadRow { line, why });
                            continue;
                        }
                    };
                    let (mac, serial, model, group, vars, key, given) = staged(row);
                    let n = x.exec(
                        insert,
                        vals![
                            mac.as_str(),
                            line as i64,
                            serial,
                            model,
                            group,
                            vars,
                            key.expose_secret(),
                            given
                        ],
                    )?;
                    if n == 0 {
                        let first: i64 = x.one(first_line, vals![mac.as_str()])?.get(0)?;
                        bad += 1;
                        obs.bad_row(&BadRow {
                            line,
                            why: repeated(&mac, first),
                        });
                    }
                }
                Ok(())
            }
            Dialect::Postgres => {
                x.copy_in(RAW_COPY, &RAW_TYPES, |w| {
                    while let Some((line, row)) = next(&mut rows, obs)? {
                        match row {
                            Ok(row) => {
                                let (mac, serial, model, group, vars, key, given) = staged(row);
                                w.row(vals![
                                    line as i64,
                                    mac,
                                    serial,
                                    model,
                                    group,
                                    vars,
                                    key.expose_secret(),
                                    given,
                                    None::<&str>
                                ])?;
                            }
                            Err(why) => {
                                w.row(vals![
                                    line as i64,
                                    None::<&str>,
                                    None::<&str>,
                                    None::<&str>,
                                    None::<&str>,
                                    None::<&str>,
                                    None::<&str>,
                                    None::<i64>,
                                    why
                                ])?;
                            }
                        }
                    }
                    Ok(())
                })?;
                for r in x.rows(RAW_REJECTS, &[])? {
                    let line: i64 = r.get(0)?;
                    let why = match r.get::<Option<String>>(1)? {
                        Some(why) => why,
                        None => repeated(&r.get::<String>(2)?, r.get(3)?),
                    };
                    bad += 1;
                    obs.bad_row(&BadRow {
                        line: line as u64,
                        why,
                    });
                }
                x.batch(RAW_TO_STAGING)
            }
        })?;
        obs.progress(rows);
        if bad > 0 && !opts.skip_bad {
            return Err(StoreError::ImportRejected { bad });
        }

        obs.merging();
        let (updated, merged) = self.tx(|x| {
            let table = staging(x);
            let updated: i64 = x
                .one(
                    &format!(
                        "SELECT count(*) FROM {table} s \
                         WHERE EXISTS (SELECT 1 FROM devices d WHERE d.mac = s.mac)"
                    ),
                    &[],
                )?
                .get(0)?;
            // `WHERE true` resolves the parsing ambiguity between a
            // SELECT's join clause and the upsert's ON CONFLICT (SQLite
            // docs, "upsert").
            let merged = x.exec(
                &format!(
                    "INSERT INTO devices (mac, serial, model, grp, vars, secret_key, created_ms, updated_ms) \
                     SELECT mac, serial, model, grp, vars, secret_key, ?1, ?1 \
                     FROM {table} WHERE true ORDER BY mac {UPSERT_TAIL}"
                ),
                vals![now_ms()],
            )?;
            // A key from the file replaces the stored one (the upsert
            // keeps existing keys): the phone holds that key.
            x.exec(
                &format!(
                    "UPDATE devices SET secret_key = (SELECT s.secret_key FROM {table} s \
                     WHERE s.mac = devices.mac) \
                     WHERE mac IN (SELECT mac FROM {table} WHERE key_given = 1)"
                ),
                &[],
            )?;
            crate::changes::notify_device(x, None)?;
            Ok((updated, merged))
        })?;
        let updated = updated as u64;
        Ok(ImportSummary {
            created: merged - updated,
            updated,
            skipped: bad,
        })
    }
}
