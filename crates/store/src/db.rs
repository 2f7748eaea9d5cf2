//! The one database layer under every repository: a [`Database`] target
//! (SQLite data directory or PostgreSQL URL), a connection of either
//! backend ([`Conn`]) and the statement runner the repositories write
//! their SQL against ([`Exec`]).
//!
//! # Writing a query (read this before adding one)
//! Every repository method runs its SQL through [`Exec`]: `exec`, `rows`,
//! `row`, `one`, with parameters built by the [`vals!`] macro. A query is
//! written **once**, in the dialect both backends accept:
//! - placeholders `?1`, `?2`, … (rewritten to `$1`, `$2` for PostgreSQL);
//! - integers are `i64` (`BIGINT` columns in PostgreSQL), booleans are
//!   stored as 0/1 integers, times are Unix milliseconds;
//! - new row ids come from `INSERT … RETURNING id` (never
//!   `last_insert_rowid`);
//! - upserts are `ON CONFLICT (…) DO UPDATE SET col = excluded.col`, and
//!   the old value is named with the table (`coalesce(excluded.v, t.v)`);
//!   PostgreSQL rejects a bare column name there as ambiguous;
//! - a subquery in `FROM` has an alias (`… FROM (SELECT …) AS e`).
//!
//! Where the dialects really differ (`FOR UPDATE SKIP LOCKED`, pragmas,
//! DDL) the method matches on [`Exec::dialect`], and the compiler makes it
//! name both arms. Schema changes go into `schema.rs`'s list, whose steps
//! carry a SQLite and a PostgreSQL text each (a step without its
//! PostgreSQL form does not compile). The store's tests run every
//! repository against both backends (`tests/support`), so a query one
//! backend rejects fails a test.
//!
//! # Why this layer and the sync `postgres` client
//! The repository traits are synchronous: the CLI is synchronous and the
//! server calls the store from `spawn_blocking` threads and from the
//! timeline writer's thread. The `postgres` crate is tokio-postgres (the
//! maintained async driver) wrapped in a private current-thread runtime,
//! so it fits those callers with no `block_on` of our own; each [`Store`]
//! owns one connection, as it owns one SQLite connection, and the callers'
//! existing pools of stores are the connection pool (no second pool to
//! size). It must not be called on an async worker thread (the runtime
//! inside would panic): the callers already keep store calls on blocking
//! threads because SQLite blocks too. sqlx's PostgreSQL driver would do,
//! but sqlx's SQLite driver cannot share a build with rusqlite, and two
//! SQL layers (sqlx for one backend, rusqlite for the other) would make
//! every query twice; a thin value type over both drivers keeps one.
//!
//! [`Store`]: crate::Store

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use postgres::types::{IsNull, ToSql, Type};
use postgres::GenericClient;

use crate::error::{DbError, Result, StoreError};
use crate::pg_tls::ConnectError;

/// Where the store lives: a SQLite data directory (the default) or a
/// PostgreSQL database shared by several nodes (issue 13).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Database {
    /// The data directory holding `phoneprov.db`.
    Sqlite(PathBuf),
    /// A `postgres://` (or `postgresql://`) URL, libpq style:
    /// `postgres://USER:PASSWORD@HOST:PORT/DBNAME?sslmode=require`.
    Postgres(String),
}

impl Database {
    /// Parses a database URL: `postgres://…` / `postgresql://…`, or
    /// `sqlite:DIR` (the data directory, as `--data DIR`). The error is one
    /// line that says what to write.
    pub fn parse(text: &str) -> std::result::Result<Database, String> {
        let text = text.trim();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            text.parse::<postgres::Config>().map_err(|e| {
                format!(
                    "database URL {}: {e}; write postgres://USER:PASSWORD@HOST:PORT/DBNAME",
                    redact(text)
                )
            })?;
            return Ok(Database::Postgres(text.to_string()));
        }
        if let Some(rest) = text.strip_prefix("sqlite:") {
            let dir = rest.strip_prefix("//").unwrap_or(rest);
            if dir.is_empty() {
                return Err("database URL sqlite: names no directory; write sqlite:DIR (the data directory)".into());
            }
            return Ok(Database::Sqlite(PathBuf::from(dir)));
        }
        Err(format!(
            "database URL {:?} is neither postgres://… nor sqlite:DIR; write postgres://USER:PASSWORD@HOST:PORT/DBNAME or sqlite:DIR",
            redact(text)
        ))
    }

    /// The SQLite data directory, if this is one.
    pub fn sqlite_dir(&self) -> Option<&Path> {
        match self {
            Database::Sqlite(dir) => Some(dir),
            Database::Postgres(_) => None,
        }
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }
}

impl std::str::FromStr for Database {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Database, String> {
        Database::parse(s)
    }
}

/// The target with any password replaced by `***` (safe to log).
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(dir) => write!(f, "sqlite:{}", dir.display()),
            Database::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A URL with the password of its user part and any `password=` option
/// replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let end = out[start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@').map(|i| start + i) {
            if let Some(colon) = out[start..at].find(':').map(|i| start + i) {
                out.replace_range(colon + 1..at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (base, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{base}{}", query.join("&"));
    }
    out
}

/// Which SQL dialect a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A parameter or column value, the same for both backends.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    /// A PostgreSQL `text[]` (set-based writes; SQLite has no arrays).
    TextArray(Vec<Option<String>>),
    /// A PostgreSQL `bigint[]`.
    IntArray(Vec<Option<i64>>),
}

impl From<i64> for Val<'_> {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<bool> for Val<'_> {
    fn from(v: bool) -> Self {
        Val::Bool(v)
    }
}
impl<'a> From<&'a str> for Val<'a> {
    fn from(v: &'a str) -> Self {
        Val::Text(Cow::Borrowed(v))
    }
}
impl<'a> From<&'a String> for Val<'a> {
    fn from(v: &'a String) -> Self {
        Val::Text(Cow::Borrowed(v))
    }
}
impl From<String> for Val<'_> {
    fn from(v: String) -> Self {
        Val::Text(Cow::Owned(v))
    }
}
impl<'a> From<&'a [u8]> for Val<'a> {
    fn from(v: &'a [u8]) -> Self {
        Val::Bytes(Cow::Borrowed(v))
    }
}
impl From<Vec<Option<String>>> for Val<'_> {
    fn from(v: Vec<Option<String>>) -> Self {
        Val::TextArray(v)
    }
}
impl From<Vec<Option<i64>>> for Val<'_> {
    fn from(v: Vec<Option<i64>>) -> Self {
        Val::IntArray(v)
    }
}
impl<'a, T: Into<Val<'a>>> From<Option<T>> for Val<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}

/// Parameters of one statement: `vals![a, b]` is `&[Val::from(a), …]`.
macro_rules! vals {
    ($($e:expr),* $(,)?) => {
        &[$($crate::db::Val::from($e)),*] as &[$crate::db::Val<'_>]
    };
}
pub(crate) use vals;

/// One result row.
#[derive(Debug)]
pub(crate) struct Row(Vec<Val<'static>>);

/// A column could not be read as the type asked for.
#[derive(Debug, thiserror::Error)]
#[error("column {col}: expected {want}, found {found}")]
struct ColumnType {
    col: usize,
    want: &'static str,
    found: String,
}

/// Types a column can be read as.
pub(crate) trait FromVal: Sized {
    const NAME: &'static str;
    fn from_val(v: &Val<'_>) -> Option<Self>;
}

impl FromVal for i64 {
    const NAME: &'static str = "integer";
    fn from_val(v: &Val<'_>) -> Option<Self> {
        match v {
            Val::Int(i) => Some(*i),
            Val::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }
}
impl FromVal for bool {
    const NAME: &'static str = "boolean";
    fn from_val(v: &Val<'_>) -> Option<Self> {
        match v {
            Val::Int(i) => Some(*i != 0),
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }
}
impl FromVal for String {
    const NAME: &'static str = "text";
    fn from_val(v: &Val<'_>) -> Option<Self> {
        match v {
            Val::Text(t) => Some(t.to_string()),
            _ => None,
        }
    }
}
impl FromVal for Vec<u8> {
    const NAME: &'static str = "bytes";
    fn from_val(v: &Val<'_>) -> Option<Self> {
        match v {
            Val::Bytes(b) => Some(b.to_vec()),
            _ => None,
        }
    }
}
impl<T: FromVal> FromVal for Option<T> {
    const NAME: &'static str = T::NAME;
    fn from_val(v: &Val<'_>) -> Option<Self> {
        match v {
            Val::Null => Some(None),
            v => T::from_val(v).map(Some),
        }
    }
}

impl Row {
    /// The row's values, in column order (`db copy` moves them as they are).
    pub(crate) fn into_vals(self) -> Vec<Val<'static>> {
        self.0
    }

    /// Column `i` as a `T`.
    pub(crate) fn get<T: FromVal>(&self, i: usize) -> Result<T> {
        let v = self.0.get(i).unwrap_or(&Val::Null);
        T::from_val(v).ok_or_else(|| {
            StoreError::Db(DbError::new(ColumnType {
                col: i,
                want: T::NAME,
                found: format!("{v:?}"),
            }))
        })
    }
}

impl rusqlite::ToSql for Val<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Val::Null => ValueRef::Null,
            Val::Int(i) => ValueRef::Integer(*i),
            Val::Bool(b) => ValueRef::Integer(i64::from(*b)),
            Val::Text(t) => ValueRef::Text(t.as_bytes()),
            Val::Bytes(b) => ValueRef::Blob(b),
            Val::TextArray(_) | Val::IntArray(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "arrays are PostgreSQL-only parameters".into(),
                ))
            }
        }))
    }
}

impl ToSql for Val<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Val::Int(i) if *ty == Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
            Val::Int(i) if *ty == Type::BOOL => (*i != 0).to_sql(ty, out),
            Val::Int(i) => i.to_sql(ty, out),
            Val::Bool(b) if *ty == Type::BOOL => b.to_sql(ty, out),
            Val::Bool(b) => i64::from(*b).to_sql(ty, out),
            Val::Text(t) => t.as_ref().to_sql(ty, out),
            Val::Bytes(b) => b.as_ref().to_sql(ty, out),
            Val::TextArray(v) => v.to_sql(ty, out),
            Val::IntArray(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn lite_row(r: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match r.get_ref(i)? {
            ValueRef::Null => Val::Null,
            ValueRef::Integer(v) => Val::Int(v),
            ValueRef::Real(v) => Val::Int(v as i64),
            ValueRef::Text(t) => Val::Text(Cow::Owned(String::from_utf8_lossy(t).into_owned())),
            ValueRef::Blob(b) => Val::Bytes(Cow::Owned(b.to_vec())),
        });
    }
    Ok(Row(out))
}

fn pg_row(r: &postgres::Row) -> std::result::Result<Row, postgres::Error> {
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        out.push(if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map_or(Val::Null, Val::Int)
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?
                .map_or(Val::Null, |v| Val::Int(v.into()))
        } else if *ty == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?
                .map_or(Val::Null, |v| Val::Int(v.into()))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?
                .map_or(Val::Null, Val::Bool)
        } else if *ty == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)?
                .map_or(Val::Null, |v| Val::Bytes(Cow::Owned(v)))
        } else {
            r.try_get::<_, Option<String>>(i)?
                .map_or(Val::Null, |v| Val::Text(Cow::Owned(v)))
        });
    }
    Ok(Row(out))
}

/// `?N` placeholders to PostgreSQL's `$N` (outside string literals).
pub(crate) fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_str = false;
    for c in sql.chars() {
        if c == '\'' {
            in_str = !in_str;
        }
        out.push(if c == '?' && !in_str { '$' } else { c });
    }
    out
}

/// Prepared PostgreSQL statements of one connection, by SQL text.
pub(crate) type Stmts = HashMap<String, postgres::Statement>;

/// Runs statements on a connection, inside a transaction or not. The one
/// way repositories reach the database (see the module docs).
pub(crate) enum Exec<'c, 't> {
    Lite(&'c rusqlite::Connection),
    Pg(&'c mut postgres::Client, &'c mut Stmts),
    PgTx(&'c mut postgres::Transaction<'t>, &'c mut Stmts),
}

fn pg_prepare<C: GenericClient>(
    c: &mut C,
    stmts: &mut Stmts,
    sql: &str,
) -> std::result::Result<postgres::Statement, postgres::Error> {
    if let Some(s) = stmts.get(sql) {
        return Ok(s.clone());
    }
    let s = c.prepare(&pg_sql(sql))?;
    stmts.insert(sql.to_string(), s.clone());
    Ok(s)
}

fn pg_params<'a>(p: &'a [Val<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    p.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn pg_rows<C: GenericClient>(
    c: &mut C,
    stmts: &mut Stmts,
    sql: &str,
    p: &[Val<'_>],
) -> Result<Vec<Row>> {
    let st = pg_prepare(c, stmts, sql).map_err(pg_err)?;
    let rows = c.query(&st, &pg_params(p)).map_err(pg_err)?;
    rows.iter().map(|r| pg_row(r).map_err(pg_err)).collect()
}

fn pg_exec<C: GenericClient>(
    c: &mut C,
    stmts: &mut Stmts,
    sql: &str,
    p: &[Val<'_>],
) -> Result<u64> {
    let st = pg_prepare(c, stmts, sql).map_err(pg_err)?;
    c.execute(&st, &pg_params(p)).map_err(pg_err)
}

impl Exec<'_, '_> {
    /// The dialect of the connection.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Exec::Lite(_) => Dialect::Sqlite,
            Exec::Pg(..) | Exec::PgTx(..) => Dialect::Postgres,
        }
    }

    /// Runs a statement; returns the rows it changed.
    pub(crate) fn exec(&mut self, sql: &str, p: &[Val<'_>]) -> Result<u64> {
        match self {
            Exec::Lite(c) => {
                Ok(c.prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(p.iter()))? as u64)
            }
            Exec::Pg(c, s) => pg_exec(*c, s, sql, p),
            Exec::PgTx(c, s) => pg_exec(*c, s, sql, p),
        }
    }

    /// Runs a query; returns all its rows.
    pub(crate) fn rows(&mut self, sql: &str, p: &[Val<'_>]) -> Result<Vec<Row>> {
        match self {
            Exec::Lite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let rows =
                    st.query_map(rusqlite::params_from_iter(p.iter()), |r| lite_row(r, n))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Exec::Pg(c, s) => pg_rows(*c, s, sql, p),
            Exec::PgTx(c, s) => pg_rows(*c, s, sql, p),
        }
    }

    /// The first row of a query, if any.
    pub(crate) fn row(&mut self, sql: &str, p: &[Val<'_>]) -> Result<Option<Row>> {
        Ok(self.rows(sql, p)?.into_iter().next())
    }

    /// The first row of a query that always returns one.
    pub(crate) fn one(&mut self, sql: &str, p: &[Val<'_>]) -> Result<Row> {
        self.row(sql, p)?.ok_or_else(|| {
            StoreError::Db(DbError::new(std::io::Error::other(format!(
                "no row returned by {sql}"
            ))))
        })
    }

    /// Runs several statements without parameters (DDL).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<()> {
        match self {
            Exec::Lite(c) => Ok(c.execute_batch(sql)?),
            Exec::Pg(c, _) => c.batch_execute(sql).map_err(pg_err),
            Exec::PgTx(c, _) => c.batch_execute(sql).map_err(pg_err),
        }
    }
}

/// A PostgreSQL `COPY … FROM STDIN` in progress ([`Exec::copy_in`]):
/// rows of [`Val`]s in the binary format.
pub(crate) struct CopyIn<'a>(postgres::binary_copy::BinaryCopyInWriter<'a>);

impl CopyIn<'_> {
    /// Sends one row (buffered: the driver sends them in chunks).
    pub(crate) fn row(&mut self, vals: &[Val<'_>]) -> Result<()> {
        self.0.write(&pg_params(vals)).map_err(pg_err)
    }
}

impl Exec<'_, '_> {
    /// PostgreSQL only: `COPY target FROM STDIN (FORMAT binary)`, where
    /// `target` is `table (col, …)` of the column `types`; `f` writes
    /// the rows. Returns the number of rows copied. An error from `f`
    /// aborts the copy (and so the transaction around it). One statement
    /// for any number of rows, instead of a round trip per row.
    pub(crate) fn copy_in(
        &mut self,
        target: &str,
        types: &[Type],
        f: impl FnOnce(&mut CopyIn<'_>) -> Result<()>,
    ) -> Result<u64> {
        let sql = format!("COPY {target} FROM STDIN (FORMAT binary)");
        let writer = match self {
            Exec::Lite(_) => {
                return Err(StoreError::Internal(
                    "COPY is a PostgreSQL statement; SQLite inserts row by row".into(),
                ))
            }
            Exec::Pg(c, _) => c.copy_in(sql.as_str()),
            Exec::PgTx(c, _) => c.copy_in(sql.as_str()),
        }
        .map_err(pg_err)?;
        let mut w = CopyIn(postgres::binary_copy::BinaryCopyInWriter::new(
            writer, types,
        ));
        f(&mut w)?;
        w.0.finish().map_err(pg_err)
    }
}

/// SQLSTATE classes and codes that mean the server or the connection is
/// gone (the request may succeed once it is back).
fn pg_unavailable(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code == "57P01" // admin_shutdown
        || code == "57P02" // crash_shutdown
        || code == "57P03" // cannot_connect_now
}

/// A PostgreSQL error as a store error: connection loss is
/// [`StoreError::Unavailable`], lock conflicts [`StoreError::Busy`].
pub(crate) fn pg_err(e: postgres::Error) -> StoreError {
    let code = e.code().map(|c| c.code().to_string());
    match code.as_deref() {
        Some(c) if pg_unavailable(c) => StoreError::Unavailable(DbError::new(e)),
        Some("40001" | "40P01" | "55P03") => StoreError::Busy(DbError::new(e)),
        Some("25006") => StoreError::ReadOnly(DbError::new(e)),
        Some(_) => StoreError::Db(DbError::new(e)),
        None if e.is_closed() || io_cause(&e) => StoreError::Unavailable(DbError::new(e)),
        None => StoreError::Db(DbError::new(e)),
    }
}

fn io_cause(e: &postgres::Error) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if s.is::<std::io::Error>() {
            return true;
        }
        src = s.source();
    }
    false
}

/// How long a connection attempt may take before the database counts as
/// unavailable (the URL's `connect_timeout` wins when given).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One PostgreSQL connection that reconnects on the next use after it
/// was lost.
pub(crate) struct PgConn {
    url: String,
    config: postgres::Config,
    client: Option<postgres::Client>,
    stmts: Stmts,
}

impl Drop for PgConn {
    /// The client's own drop runs a small runtime to say goodbye to the
    /// server; on a thread that drives async tasks that would panic, so
    /// there it is dropped on a thread of its own.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::Builder::new()
                    .name("phoneprov-pg-close".into())
                    .spawn(move || drop(client));
            }
        }
    }
}

impl PgConn {
    /// Connects now (so a bad URL or password fails at open).
    pub(crate) fn connect(url: &str) -> Result<PgConn> {
        PgConn::connect_as(url, "phoneprov")
    }

    /// [`PgConn::connect`] naming the connection `application` (unless
    /// the URL names it).
    pub(crate) fn connect_as(url: &str, application: &str) -> Result<PgConn> {
        let mut config: postgres::Config = url.parse().map_err(|e| StoreError::Connect {
            target: redact(url),
            cause: DbError::new(e),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name(application);
        }
        let mut conn = PgConn {
            url: url.to_string(),
            config,
            client: None,
            stmts: Stmts::new(),
        };
        conn.client()?;
        Ok(conn)
    }

    /// Whether the connection is gone (or was never made).
    pub(crate) fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(|c| c.is_closed())
    }

    /// Drops the connection; the next use reconnects.
    pub(crate) fn drop_client(&mut self) {
        self.stmts.clear();
        self.client = None;
    }

    /// The connection, (re)connecting first when there is none.
    pub(crate) fn client(&mut self) -> Result<&mut postgres::Client> {
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
        if self.client.is_none() {
            self.stmts.clear();
            let client = crate::pg_tls::connect(&self.config).map_err(|e| {
                let target = redact(&self.url);
                match e {
                    // Refused by the server for a reason that will not
                    // pass by itself (wrong password, no such database
                    // or role), or a TLS setup that cannot work.
                    ConnectError::Pg(e) if e.code().is_some_and(|c| !pg_unavailable(c.code())) => {
                        StoreError::Connect {
                            target,
                            cause: DbError::new(e),
                        }
                    }
                    ConnectError::Tls(why) => StoreError::Connect {
                        target,
                        cause: DbError::new(std::io::Error::other(why)),
                    },
                    ConnectError::Pg(e) => StoreError::Unavailable(DbError::new(
                        std::io::Error::other(format!("cannot connect to {target}: {e}")),
                    )),
                }
            })?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("just set"))
    }

    /// After an error: a lost connection is dropped (the next use
    /// reconnects) and prepared statements are forgotten.
    pub(crate) fn after(&mut self, e: &StoreError) {
        self.stmts.clear();
        if matches!(e, StoreError::Unavailable(_)) {
            self.client = None;
        }
    }
}

/// One open connection of either backend.
pub(crate) enum Conn {
    Lite(rusqlite::Connection),
    Pg(Box<PgConn>),
}

impl Conn {
    /// Runs `f` outside an explicit transaction (each statement commits
    /// by itself): reads, and single-statement writes.
    pub(crate) fn run<T>(&mut self, f: impl FnOnce(&mut Exec<'_, '_>) -> Result<T>) -> Result<T> {
        match self {
            Conn::Lite(c) => f(&mut Exec::Lite(c)),
            Conn::Pg(pg) => {
                let r = (|| {
                    pg.client()?;
                    let PgConn { client, stmts, .. } = &mut **pg;
                    let client = client.as_mut().expect("connected above");
                    f(&mut Exec::Pg(client, stmts))
                })();
                if let Err(e) = &r {
                    pg.after(e);
                }
                r
            }
        }
    }

    /// Runs `f` in one transaction (SQLite `BEGIN IMMEDIATE`: the write
    /// lock up front; PostgreSQL `BEGIN`, read committed): committed when
    /// `f` returns `Ok`, rolled back otherwise. Nothing is acknowledged
    /// before its COMMIT has returned.
    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&mut Exec<'_, '_>) -> Result<T>) -> Result<T> {
        self.transaction(rusqlite::TransactionBehavior::Immediate, f)
    }

    /// [`Conn::write`] whose SQLite transaction takes no lock until it
    /// writes to the main database (work on temporary tables).
    pub(crate) fn write_deferred<T>(
        &mut self,
        f: impl FnOnce(&mut Exec<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        self.transaction(rusqlite::TransactionBehavior::Deferred, f)
    }

    fn transaction<T>(
        &mut self,
        lite: rusqlite::TransactionBehavior,
        f: impl FnOnce(&mut Exec<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        match self {
            Conn::Lite(c) => {
                let tx = c.transaction_with_behavior(lite)?;
                let out = f(&mut Exec::Lite(&tx))?;
                tx.commit()?;
                Ok(out)
            }
            Conn::Pg(pg) => {
                let r = (|| {
                    pg.client()?;
                    let PgConn { client, stmts, .. } = &mut **pg;
                    let client = client.as_mut().expect("connected above");
                    let mut tx = client.transaction().map_err(pg_err)?;
                    let out = f(&mut Exec::PgTx(&mut tx, stmts))?;
                    tx.commit().map_err(pg_err)?;
                    Ok(out)
                })();
                if let Err(e) = &r {
                    pg.after(e);
                }
                r
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_parse_and_print_without_passwords() {
        let pg =
            Database::parse("postgres://pp:hunter2@db.example:5432/pp?sslmode=require").unwrap();
        assert!(pg.is_postgres());
        assert_eq!(
            pg.to_string(),
            "postgres://pp:***@db.example:5432/pp?sslmode=require"
        );
        assert_eq!(format!("{pg:?}"), pg.to_string());
        let opt =
            Database::parse("postgresql://pp@db/pp?password=hunter2&sslmode=disable").unwrap();
        assert_eq!(
            opt.to_string(),
            "postgresql://pp@db/pp?password=***&sslmode=disable"
        );
        assert_eq!(
            Database::parse("sqlite:/var/lib/phoneprov").unwrap(),
            Database::Sqlite("/var/lib/phoneprov".into())
        );
        assert_eq!(
            "sqlite://data".parse::<Database>().unwrap().sqlite_dir(),
            Some(Path::new("data"))
        );
        for bad in [
            "mysql://u:hunter2@db/pp",
            "sqlite:",
            "/var/lib/phoneprov",
            "",
        ] {
            let e = Database::parse(bad).unwrap_err();
            assert!(!e.contains("hunter2") && !e.contains('\n'), "{e}");
            assert!(e.contains("postgres://") || e.contains("sqlite:DIR"), "{e}");
        }
        let e = Database::parse("postgres://u:hunter2@db/pp?sslmode=sometimes").unwrap_err();
        assert!(!e.contains("hunter2") && e.contains("sslmode"), "{e}");
    }

    #[test]
    fn placeholders_become_dollars_outside_string_literals() {
        assert_eq!(
            pg_sql("SELECT '?1', x FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', x FROM t WHERE a = $1 AND b = $12"
        );
    }
}
