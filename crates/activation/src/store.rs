//! [`ActivationStore`]: bindings, activation codes and short codes, kept in
//! the inventory's SQLite file (`<data>/phoneprov.db`).
//!
//! The tables are this crate's own (`activation_*`, created with `CREATE
//! TABLE IF NOT EXISTS` on a second rusqlite connection), so the store
//! crate's versioned schema is untouched and an inventory without
//! activation data never carries empty tables it does not use. The file is
//! in WAL mode (the store crate sets it), so the CLI can bind while
//! `phoneprov serve` answers phones. Every write is one `BEGIN IMMEDIATE`
//! transaction, as in the store crate.
//!
//! Times are Unix milliseconds passed in by the caller (`now_ms`), never
//! read here: expiry is tested with an injected clock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use phoneprov_rule::ProfileRule;
use phoneprov_store::{EventKind, Mac, NewEvent, Outcome, Store, DB_FILE};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::codes::{generate_activation_code, validate_short_code, EnteredCode};
use crate::error::{ActivationError, RedeemError};

/// Most codes one `issue_codes` call makes.
pub const MAX_CODES_PER_CALL: u32 = 10_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS activation_bindings (
    id          INTEGER PRIMARY KEY,
    mac         TEXT UNIQUE,        -- 12 lowercase hex digits, or NULL for a serial range
    serial_from TEXT,               -- inclusive, upper case, same length as serial_to
    serial_to   TEXT,
    model       TEXT,               -- optional $PN filter
    url         TEXT NOT NULL,      -- the provider's profile rule
    source      TEXT NOT NULL,      -- 'operator', or the code that bound it
    created_ms  INTEGER NOT NULL,
    UNIQUE (serial_from, serial_to)
);
CREATE TABLE IF NOT EXISTS activation_codes (
    code       TEXT PRIMARY KEY,    -- 16 digits
    url        TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms    INTEGER,
    used_by    TEXT                 -- MAC that redeemed it
);
CREATE TABLE IF NOT EXISTS activation_short_codes (
    code       TEXT PRIMARY KEY,    -- 3 to 16 digits
    url        TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
";

/// Which devices a binding covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One phone.
    Mac(Mac),
    /// Every serial `s` with `from <= s <= to`, compared as text of the same
    /// length (serials are fixed-width, `88012BA01234`), case-insensitive.
    Serials {
        /// Lower bound, inclusive.
        from: String,
        /// Upper bound, inclusive.
        to: String,
    },
}

impl Target {
    /// Builds a target from the optional pieces the CLI and API receive,
    /// checking the MAC and the range.
    pub fn from_parts(
        mac: Option<&str>,
        serial_from: Option<&str>,
        serial_to: Option<&str>,
    ) -> Result<Target, ActivationError> {
        match (mac, serial_from, serial_to) {
            (Some(m), None, None) => Ok(Target::Mac(Mac::parse(m)?)),
            (None, Some(f), Some(t)) => {
                let (from, to) = validate_serial_range(f, t)?;
                Ok(Target::Serials { from, to })
            }
            _ => Err(ActivationError::Target),
        }
    }
}

/// One binding (a row of `activation_bindings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// Row id.
    pub id: i64,
    /// The phone, for a MAC binding.
    pub mac: Option<String>,
    /// Range start, for a serial binding.
    pub serial_from: Option<String>,
    /// Range end, for a serial binding.
    pub serial_to: Option<String>,
    /// Only phones of this model match, when set.
    pub model: Option<String>,
    /// The provider's profile rule the phone is redirected to.
    pub url: String,
    /// `operator`, or the (masked) code whose redemption made it.
    pub source: String,
    /// When made, Unix ms.
    pub created_ms: i64,
}

/// One issued activation code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCode {
    /// The 16 digits.
    pub code: String,
    /// Where it redirects.
    pub url: String,
    /// When issued, Unix ms.
    pub created_ms: i64,
    /// Not accepted from this instant on, Unix ms.
    pub expires_ms: i64,
    /// When redeemed.
    pub used_ms: Option<i64>,
    /// Which MAC redeemed it.
    pub used_by: Option<String>,
}

/// One short code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortCode {
    /// 3 to 16 digits (typed after `#`).
    pub code: String,
    /// Where it redirects.
    pub url: String,
    /// When made, Unix ms.
    pub created_ms: i64,
}

/// Everything, for `phoneprov activation list` and `GET /api/v1/activation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// MAC bindings first (by MAC), then serial ranges (by start).
    pub bindings: Vec<Binding>,
    /// Activation codes, newest first.
    pub codes: Vec<IssuedCode>,
    /// Short codes, by digits.
    pub short_codes: Vec<ShortCode>,
}

/// Checks that `url` is a provisioning rule a phone can be redirected to:
/// it parses (`phoneprov_rule::ProfileRule::parse`), is neither empty nor
/// disabled, and does not point back at `gds://` (a redirect to onboarding
/// would loop). Returns it trimmed.
pub fn validate_url(url: &str) -> Result<String, ActivationError> {
    let bad = |why: String| ActivationError::Url {
        url: url.chars().take(200).collect(),
        why,
    };
    let t = url.trim();
    let rule = ProfileRule::parse(t).map_err(|e| bad(e.to_string()))?;
    if rule.is_empty() || rule.is_disabled() {
        return Err(bad("it is empty or disabled (starts with `#`)".into()));
    }
    if rule
        .alternatives()
        .iter()
        .any(|a| a.url.trim_start().to_ascii_lowercase().starts_with("gds:"))
    {
        return Err(bad(
            "it is `gds://`, which would send the phone back to activation-code entry".into(),
        ));
    }
    Ok(t.to_string())
}

/// Checks a serial range: both ends non-empty, alphanumeric, of the same
/// length, `from <= to`. Returns both in upper case.
pub fn validate_serial_range(from: &str, to: &str) -> Result<(String, String), ActivationError> {
    let (f, t) = (
        from.trim().to_ascii_uppercase(),
        to.trim().to_ascii_uppercase(),
    );
    let bad = |why| ActivationError::SerialRange {
        from: from.chars().take(40).collect(),
        to: to.chars().take(40).collect(),
        why,
    };
    if f.is_empty() || t.is_empty() {
        return Err(bad("both ends are needed"));
    }
    if !f
        .bytes()
        .chain(t.bytes())
        .all(|b| b.is_ascii_alphanumeric())
    {
        return Err(bad("serials are letters and digits only"));
    }
    if f.len() != t.len() {
        return Err(bad(
            "both ends must have the same number of characters (serials compare as fixed-width text)",
        ));
    }
    if f > t {
        return Err(bad(
            "the first serial must not sort after the second; swap them",
        ));
    }
    Ok((f, t))
}

/// The activation tables plus the inventory (for the device timeline).
pub struct ActivationStore {
    conn: Connection,
    events: Store,
    path: PathBuf,
}

impl std::fmt::Debug for ActivationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivationStore")
            .field("path", &self.path)
            .finish()
    }
}

const BINDING_COLS: &str = "id, mac, serial_from, serial_to, model, url, source, created_ms";
const CODE_COLS: &str = "code, url, created_ms, expires_ms, used_ms, used_by";

impl ActivationStore {
    /// Opens (creating if needed) the data directory's database and the
    /// activation tables.
    pub fn open(dir: &Path) -> Result<ActivationStore, ActivationError> {
        // The store crate creates the directory, the file, WAL mode and its
        // own schema; we add ours beside it.
        Self::with_inventory(dir, Store::open(dir)?)
    }

    /// Like [`open`](Self::open), but fails with the store's `NoDatabase`
    /// error when `dir` holds no database: for commands that read or
    /// remove, where a mistyped `--data` must not create an empty one.
    pub fn open_existing(dir: &Path) -> Result<ActivationStore, ActivationError> {
        Self::with_inventory(dir, Store::open_existing(dir)?)
    }

    fn with_inventory(dir: &Path, events: Store) -> Result<ActivationStore, ActivationError> {
        let path = dir.join(DB_FILE);
        let db = |cause| ActivationError::Db {
            path: path.clone(),
            cause,
        };
        let conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(15)).map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(ActivationStore { conn, events, path })
    }

    fn db(&self, cause: rusqlite::Error) -> ActivationError {
        ActivationError::Db {
            path: self.path.clone(),
            cause,
        }
    }

    /// Binds `target` to `url` (validated), replacing an earlier binding of
    /// the same MAC or the same exact range.
    pub fn bind(
        &mut self,
        target: &Target,
        url: &str,
        model: Option<&str>,
        now_ms: i64,
    ) -> Result<Binding, ActivationError> {
        let url = validate_url(url)?;
        let model = model.map(str::trim).filter(|m| !m.is_empty());
        self.bind_raw(target, &url, model, "operator", now_ms)
    }

    fn bind_raw(
        &mut self,
        target: &Target,
        url: &str,
        model: Option<&str>,
        source: &str,
        now_ms: i64,
    ) -> Result<Binding, ActivationError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_err(&self.path, e))?;
        let id: i64 = match target {
            Target::Mac(mac) => tx.query_row(
                "INSERT INTO activation_bindings (mac, model, url, source, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(mac) DO UPDATE SET model = excluded.model, url = excluded.url,
                     source = excluded.source, created_ms = excluded.created_ms
                 RETURNING id",
                params![mac.to_string(), model, url, source, now_ms],
                |r| r.get(0),
            ),
            Target::Serials { from, to } => tx.query_row(
                "INSERT INTO activation_bindings (serial_from, serial_to, model, url, source, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(serial_from, serial_to) DO UPDATE SET model = excluded.model,
                     url = excluded.url, source = excluded.source, created_ms = excluded.created_ms
                 RETURNING id",
                params![from, to, model, url, source, now_ms],
                |r| r.get(0),
            ),
        }
        .map_err(|e| db_err(&self.path, e))?;
        let b = tx
            .query_row(
                &format!("SELECT {BINDING_COLS} FROM activation_bindings WHERE id = ?1"),
                [id],
                binding_row,
            )
            .map_err(|e| db_err(&self.path, e))?;
        tx.commit().map_err(|e| db_err(&self.path, e))?;
        Ok(b)
    }

    /// Removes the binding of exactly this MAC or range; `false` if none.
    pub fn unbind(&mut self, target: &Target) -> Result<bool, ActivationError> {
        let n = match target {
            Target::Mac(mac) => self.conn.execute(
                "DELETE FROM activation_bindings WHERE mac = ?1",
                [mac.to_string()],
            ),
            Target::Serials { from, to } => self.conn.execute(
                "DELETE FROM activation_bindings WHERE serial_from = ?1 AND serial_to = ?2",
                [from, to],
            ),
        }
        .map_err(|e| self.db(e))?;
        Ok(n > 0)
    }

    /// Issues `count` fresh single-use activation codes for `url`, valid for
    /// `ttl` from `now_ms`. A (vanishingly unlikely) collision with an
    /// existing code draws again.
    pub fn issue_codes(
        &mut self,
        url: &str,
        count: u32,
        ttl: Duration,
        now_ms: i64,
    ) -> Result<Vec<IssuedCode>, ActivationError> {
        let url = validate_url(url)?;
        if count == 0 || count > MAX_CODES_PER_CALL {
            return Err(ActivationError::Count(count));
        }
        let expires_ms = now_ms.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_err(&self.path, e))?;
        let mut out = Vec::with_capacity(count as usize);
        {
            let mut ins = tx
                .prepare(
                    "INSERT OR IGNORE INTO activation_codes (code, url, created_ms, expires_ms)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(|e| db_err(&self.path, e))?;
            while out.len() < count as usize {
                let code = generate_activation_code();
                let n = ins
                    .execute(params![code, url, now_ms, expires_ms])
                    .map_err(|e| db_err(&self.path, e))?;
                if n == 1 {
                    out.push(IssuedCode {
                        code,
                        url: url.clone(),
                        created_ms: now_ms,
                        expires_ms,
                        used_ms: None,
                        used_by: None,
                    });
                }
            }
        }
        tx.commit().map_err(|e| db_err(&self.path, e))?;
        Ok(out)
    }

    /// Makes `#digits` redirect to `url` (reusable, no expiry). Refuses
    /// digits already taken by another URL; the same pair again is a no-op.
    pub fn add_short_code(
        &mut self,
        digits: &str,
        url: &str,
        now_ms: i64,
    ) -> Result<ShortCode, ActivationError> {
        validate_short_code(digits)?;
        let url = validate_url(url)?;
        let n = self
            .conn
            .execute(
                "INSERT INTO activation_short_codes (code, url, created_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(code) DO NOTHING",
                params![digits, url, now_ms],
            )
            .map_err(|e| self.db(e))?;
        let existing = self.short_code(digits)?.expect("just inserted or present");
        if n == 0 && existing.url != url {
            return Err(ActivationError::ShortTaken(digits.to_string()));
        }
        Ok(existing)
    }

    /// Removes a short code; `false` if there was none.
    pub fn remove_short_code(&mut self, digits: &str) -> Result<bool, ActivationError> {
        validate_short_code(digits)?;
        let n = self
            .conn
            .execute(
                "DELETE FROM activation_short_codes WHERE code = ?1",
                [digits],
            )
            .map_err(|e| self.db(e))?;
        Ok(n > 0)
    }

    fn short_code(&self, digits: &str) -> Result<Option<ShortCode>, ActivationError> {
        self.conn
            .query_row(
                "SELECT code, url, created_ms FROM activation_short_codes WHERE code = ?1",
                [digits],
                |r| {
                    Ok(ShortCode {
                        code: r.get(0)?,
                        url: r.get(1)?,
                        created_ms: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.db(e))
    }

    /// The binding answering a phone's query (R-ACT-1): the MAC's own
    /// binding if its model filter matches, otherwise the newest serial
    /// range holding `serial` whose model filter matches. `None`: no
    /// provider for this phone (it goes Unavailable).
    pub fn lookup(
        &self,
        mac: Mac,
        model: Option<&str>,
        serial: Option<&str>,
    ) -> Result<Option<Binding>, ActivationError> {
        let model = model.map(str::trim).unwrap_or("");
        let by_mac = self
            .conn
            .query_row(
                &format!(
                    "SELECT {BINDING_COLS} FROM activation_bindings
                     WHERE mac = ?1 AND (model IS NULL OR model = ?2 COLLATE NOCASE)"
                ),
                params![mac.to_string(), model],
                binding_row,
            )
            .optional()
            .map_err(|e| self.db(e))?;
        if by_mac.is_some() {
            return Ok(by_mac);
        }
        let Some(serial) = serial.map(|s| s.trim().to_ascii_uppercase()) else {
            return Ok(None);
        };
        if serial.is_empty() {
            return Ok(None);
        }
        self.conn
            .query_row(
                &format!(
                    "SELECT {BINDING_COLS} FROM activation_bindings
                     WHERE mac IS NULL AND length(serial_from) = length(?1)
                       AND serial_from <= ?1 AND serial_to >= ?1
                       AND (model IS NULL OR model = ?2 COLLATE NOCASE)
                     ORDER BY id DESC LIMIT 1"
                ),
                params![serial, model],
                binding_row,
            )
            .optional()
            .map_err(|e| self.db(e))
    }

    /// Redeems a typed code for phone `mac` at `now_ms`.
    ///
    /// An activation code is single use: the first phone to redeem it owns
    /// it; the same phone asking again (its answer was lost, or it is
    /// retrying after a failed resync) gets the URL again, any other phone
    /// gets [`RedeemError::Used`]. An unused code past its expiry is
    /// [`RedeemError::Expired`]. Short codes are reusable.
    ///
    /// A successful redemption also binds `mac` to the URL, so the phone's
    /// retry path of firmware 12.0(3) (GDS-Pending → Pending, R-ACT-3),
    /// which asks by MAC, finds its provider again.
    pub fn redeem(
        &mut self,
        mac: Mac,
        code: &EnteredCode,
        now_ms: i64,
    ) -> Result<Result<String, RedeemError>, ActivationError> {
        let url = match code {
            EnteredCode::Short(d) => match self.short_code(d)? {
                Some(s) => s.url,
                None => return Ok(Err(RedeemError::Unknown)),
            },
            EnteredCode::Activation(d) => {
                let tx = self
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(|e| db_err(&self.path, e))?;
                let row = tx
                    .query_row(
                        &format!("SELECT {CODE_COLS} FROM activation_codes WHERE code = ?1"),
                        [d],
                        code_row,
                    )
                    .optional()
                    .map_err(|e| db_err(&self.path, e))?;
                let verdict = match row {
                    None => Err(RedeemError::Unknown),
                    Some(c) => match c.used_by {
                        Some(by) if by == mac.to_string() => Ok(c.url),
                        Some(_) => Err(RedeemError::Used),
                        None if now_ms >= c.expires_ms => Err(RedeemError::Expired),
                        None => {
                            tx.execute(
                                "UPDATE activation_codes SET used_ms = ?1, used_by = ?2
                                 WHERE code = ?3 AND used_by IS NULL",
                                params![now_ms, mac.to_string(), d],
                            )
                            .map_err(|e| db_err(&self.path, e))?;
                            Ok(c.url)
                        }
                    },
                };
                tx.commit().map_err(|e| db_err(&self.path, e))?;
                match verdict {
                    Ok(u) => u,
                    Err(e) => return Ok(Err(e)),
                }
            }
        };
        self.bind_raw(
            &Target::Mac(mac),
            &url,
            None,
            &format!("code {}", code.masked()),
            now_ms,
        )?;
        Ok(Ok(url))
    }

    /// All bindings, codes and short codes.
    pub fn list(&self) -> Result<Listing, ActivationError> {
        let bindings = self.collect(
            &format!(
                "SELECT {BINDING_COLS} FROM activation_bindings
                 ORDER BY mac IS NULL, mac, serial_from, serial_to"
            ),
            binding_row,
        )?;
        let codes = self.collect(
            &format!("SELECT {CODE_COLS} FROM activation_codes ORDER BY created_ms DESC, code"),
            code_row,
        )?;
        let short_codes = self.collect(
            "SELECT code, url, created_ms FROM activation_short_codes ORDER BY code",
            |r| {
                Ok(ShortCode {
                    code: r.get(0)?,
                    url: r.get(1)?,
                    created_ms: r.get(2)?,
                })
            },
        )?;
        Ok(Listing {
            bindings,
            codes,
            short_codes,
        })
    }

    fn collect<T>(
        &self,
        sql: &str,
        f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, ActivationError> {
        let mut st = self.conn.prepare(sql).map_err(|e| self.db(e))?;
        let rows = st.query_map([], f).map_err(|e| self.db(e))?;
        rows.collect::<rusqlite::Result<Vec<T>>>()
            .map_err(|e| self.db(e))
    }

    /// Appends an activation event to the phone's timeline (`EventKind::Activation`).
    pub fn record(
        &mut self,
        mac: Mac,
        at_ms: i64,
        outcome: Option<Outcome>,
        source_ip: Option<std::net::IpAddr>,
        message: String,
    ) -> Result<(), ActivationError> {
        self.events.append_event(&NewEvent {
            mac,
            at_ms,
            kind: EventKind::Activation,
            outcome,
            source_ip,
            message,
        })?;
        Ok(())
    }

    /// The inventory handle (for reading the timeline in tests and tools).
    pub fn inventory(&self) -> &Store {
        &self.events
    }
}

fn db_err(path: &Path, cause: rusqlite::Error) -> ActivationError {
    ActivationError::Db {
        path: path.to_path_buf(),
        cause,
    }
}

fn binding_row(r: &Row<'_>) -> rusqlite::Result<Binding> {
    Ok(Binding {
        id: r.get(0)?,
        mac: r.get(1)?,
        serial_from: r.get(2)?,
        serial_to: r.get(3)?,
        model: r.get(4)?,
        url: r.get(5)?,
        source: r.get(6)?,
        created_ms: r.get(7)?,
    })
}

fn code_row(r: &Row<'_>) -> rusqlite::Result<IssuedCode> {
    Ok(IssuedCode {
        code: r.get(0)?,
        url: r.get(1)?,
        created_ms: r.get(2)?,
        expires_ms: r.get(3)?,
        used_ms: r.get(4)?,
        used_by: r.get(5)?,
    })
}
