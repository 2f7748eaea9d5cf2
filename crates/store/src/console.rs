//! [`ConsoleRepo`]: what the operator's console (issue 14, crate
//! `phoneprov-console`) reads and writes: its users (table
//! `console_users`, schema version 6), the device search behind its device
//! list, and the fleet overview's counts.
//!
//! The search and the counts are built for a million devices
//! (`scripts/bench-console` measures them through the console):
//!
//! * a text query matches a MAC prefix (the primary key's range) or the
//!   prefix of a serial number or variable value (the `device_terms` index,
//!   kept by triggers, see `schema.rs`). Each way to match is its own
//!   subquery with the filters and `ORDER BY … LIMIT` one page, so a
//!   prefix that matches a quarter of the fleet (an OUI) still reads one
//!   page; a term prefix matching many devices (`1`, every user id) walks
//!   the devices in the list's order and tests their terms instead of
//!   sorting every match (see `page_sql`);
//! * filters (model, group, outcome, firmware, last seen before) are plain
//!   column tests; pages are keyset pages ([`DeviceQuery::after_mac`],
//!   [`DeviceQuery::after_seen`]), in MAC order or by last seen (through
//!   `devices_by_seen`), so page 10 000 costs what page 1 does;
//!   `offset` stays for old bookmarks;
//! * the overview's group-bys read the v6 indexes only (index-only scans),
//!   and resyncs per hour read `events_by_kind_time`; at a million devices
//!   that is still about two seconds on SQLite, so the console keeps the
//!   counts between views (`phoneprov-console`'s `counts` module).
//!
//! Every query is written once for both backends (see the `db` module);
//! the search index's triggers are the one per-dialect part (`schema.rs`).
//!
//! The password hash is stored as given (an argon2 PHC string made by the
//! console crate); the store never sees a password.

use crate::db::{vals, Exec, Row, Val};
use crate::error::{Result, StoreError};
use crate::model::{now_ms, Device, Event, EventKind, Outcome};
use crate::store::{event_from_row, RawDevice, Store, DEVICE_COLS};

/// A console user's role (issue 14 item 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, keys and templates included.
    Admin,
    /// View, resync and read-only tasks; never a key.
    Helpdesk,
}

impl Role {
    /// The stored and printed spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Helpdesk => "helpdesk",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = crate::UnknownName;
    fn from_str(s: &str) -> std::result::Result<Role, crate::UnknownName> {
        match s {
            "admin" => Ok(Role::Admin),
            "helpdesk" => Ok(Role::Helpdesk),
            _ => Err(crate::UnknownName {
                what: "role",
                got: s.to_string(),
                expected: "admin, helpdesk",
            }),
        }
    }
}

/// One console user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    /// Sign-in name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// argon2 PHC string of the password.
    pub pw_hash: String,
    /// When added, Unix ms.
    pub created_ms: i64,
    /// When the password or role last changed, Unix ms.
    pub updated_ms: i64,
}

/// The outcome filter of the device list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenFilter {
    /// The last resync ended this way.
    Outcome(Outcome),
    /// Never fetched anything.
    Never,
}

/// The order of the device list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSort {
    /// By MAC (the primary key).
    #[default]
    Mac,
    /// Most recently seen first (never-seen devices last).
    LastSeen,
}

/// A device list query: all given parts must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceQuery {
    /// Text: a MAC prefix (12 hex digits or fewer, separators already
    /// removed, lower case) and/or a term prefix (serial number or variable
    /// value, lower-cased); see [`DeviceQuery::text`].
    pub mac_prefix: Option<String>,
    /// Serial or variable value prefix, lower-cased.
    pub term_prefix: Option<String>,
    /// Exact model.
    pub model: Option<String>,
    /// Exact group.
    pub group: Option<String>,
    /// Last outcome, or never seen.
    pub seen: Option<SeenFilter>,
    /// Exact firmware.
    pub firmware: Option<String>,
    /// Last seen before this time (Unix ms); never-seen devices excluded.
    pub seen_before_ms: Option<i64>,
    /// Order.
    pub sort: DeviceSort,
    /// Only devices after this one in the list's order (keyset paging:
    /// the last MAC of the previous page; bulk jobs walk MAC order so).
    pub after_mac: Option<String>,
    /// In last-seen order, when that device was last seen (`Some(None)`:
    /// never), so the next page starts after (this time, `after_mac`).
    pub after_seen: Option<Option<i64>>,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
}

impl DeviceQuery {
    /// Sets the text parts from what an operator typed: a MAC in any
    /// notation (`00:0E:08:AB`, `000e.08ab`, `000E08-AB…`) becomes a MAC
    /// prefix, and any text is also a serial/variable value prefix (a
    /// user id such as `1001` is also valid hex).
    pub fn text(&mut self, typed: &str) {
        let typed = typed.trim();
        if typed.is_empty() {
            return;
        }
        let hex: String = typed
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | '.' | ' '))
            .collect();
        if !hex.is_empty() && hex.len() <= 12 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            self.mac_prefix = Some(hex.to_ascii_lowercase());
        }
        self.term_prefix = Some(typed.to_ascii_lowercase());
    }
}

/// A selection of devices as an operator gives it (issue 14 item 4): the
/// device list's filter (the console's query string, the API's JSON, the
/// CLI's flags), a list of MACs, or the whole fleet (`all`). One of them
/// must be given, so an empty form never reaches every device.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Selection {
    /// Text: a MAC prefix in any notation, a serial or a variable value.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub q: String,
    /// Exact model.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// Exact group.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Last outcome (`A`, `B`, `C`…) or `never`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub outcome: String,
    /// Exact firmware.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub firmware: String,
    /// Last seen more than this many days ago.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub older: String,
    /// These devices (any MAC notation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub macs: Vec<String>,
    /// Every device.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

impl Selection {
    fn filters(&self) -> [&String; 6] {
        [
            &self.q,
            &self.model,
            &self.group,
            &self.outcome,
            &self.firmware,
            &self.older,
        ]
    }

    /// Whether something was selected, and the selection's parts parse.
    pub fn check(&self) -> std::result::Result<(), String> {
        let filtered = self.filters().iter().any(|f| !f.trim().is_empty());
        if !filtered && self.macs.is_empty() && !self.all {
            return Err(
                "select devices: a filter (q, model, group, outcome, firmware, older), \
                 a list of MACs, or all"
                    .into(),
            );
        }
        if !self.macs.is_empty() && (filtered || self.all) {
            return Err("give either a list of MACs or a filter, not both".into());
        }
        self.query(0)?;
        self.mac_list()?;
        Ok(())
    }

    /// The list of MACs, parsed, sorted and without repeats (empty when
    /// the selection is a filter).
    pub fn mac_list(&self) -> std::result::Result<Vec<crate::Mac>, String> {
        let mut out = self
            .macs
            .iter()
            .map(|m| crate::Mac::parse(m).map_err(|e| e.to_string()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The filter as a device query in MAC order (paging left to the
    /// caller); `now` dates the `older` filter.
    pub fn query(&self, now: i64) -> std::result::Result<DeviceQuery, String> {
        let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let mut q = DeviceQuery {
            model: opt(&self.model),
            group: opt(&self.group),
            firmware: opt(&self.firmware),
            ..DeviceQuery::default()
        };
        q.text(&self.q);
        q.seen = match self.outcome.trim() {
            "" => None,
            "never" => Some(SeenFilter::Never),
            o => {
                Some(SeenFilter::Outcome(o.parse::<Outcome>().map_err(|e| {
                    format!("bad outcome filter: {e} (or never)")
                })?))
            }
        };
        if let Some(days) = opt(&self.older) {
            let days: u32 = days.parse().map_err(|_| {
                format!("bad \"last seen more than N days ago\" filter {days:?}: give a whole number of days")
            })?;
            q.seen_before_ms = Some(now - i64::from(days) * 86_400_000);
        }
        Ok(q)
    }
}

/// The fleet overview's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetCounts {
    /// Every device.
    pub total: u64,
    /// Devices that never fetched anything.
    pub never_seen: u64,
    /// Seen devices by last outcome (`None`: seen, no outcome recorded).
    pub by_outcome: Vec<(Option<Outcome>, u64)>,
    /// The most common models, most devices first (`None`: not set).
    pub by_model: Vec<(Option<String>, u64)>,
    /// The most common firmware versions, most devices first.
    pub by_firmware: Vec<(Option<String>, u64)>,
}

/// How many rows of a group-by the overview shows.
pub const TOP_N: usize = 20;

/// The console's storage.
pub trait ConsoleRepo {
    /// One user.
    fn console_user(&self, name: &str) -> Result<Option<ConsoleUser>>;
    /// Adds a user; `false` (nothing written) if the name exists.
    fn add_console_user(&mut self, user: &ConsoleUser) -> Result<bool>;
    /// Replaces a user's password hash; `false` if there is no such user.
    fn set_console_password(&mut self, name: &str, pw_hash: &str) -> Result<bool>;
    /// Removes a user; `false` if there was none.
    fn remove_console_user(&mut self, name: &str) -> Result<bool>;
    /// Every user, by name.
    fn console_users(&self) -> Result<Vec<ConsoleUser>>;
    /// One page of the device list.
    fn search_devices(&self, q: &DeviceQuery) -> Result<Vec<Device>>;
    /// The overview's counts.
    fn fleet_counts(&self) -> Result<FleetCounts>;
    /// How many devices match `q` (its order and paging ignored).
    fn count_matching(&self, q: &DeviceQuery) -> Result<u64>;
    /// Events of `kind` per hour since `since_ms`: (hour start in Unix ms,
    /// count), oldest first, hours without events left out.
    fn events_per_hour(&self, kind: EventKind, since_ms: i64) -> Result<Vec<(i64, u64)>>;
    /// The latest events with a failing outcome (not-found, corrupt,
    /// failed), newest first.
    fn recent_failures(&self, limit: usize) -> Result<Vec<Event>>;
    /// Devices per group (`None`: no group), by group name, at most
    /// `limit` groups (the console's group list).
    fn group_counts(&self, limit: usize) -> Result<Vec<(Option<String>, u64)>>;
}

pub(crate) fn decode_user(r: &Row) -> Result<ConsoleUser> {
    let name: String = r.get(0)?;
    let role: String = r.get(1)?;
    let role = role.parse().map_err(|e: crate::UnknownName| {
        StoreError::Internal(format!("console user {name:?}: {e}"))
    })?;
    Ok(ConsoleUser {
        name,
        role,
        pw_hash: r.get(2)?,
        created_ms: r.get(3)?,
        updated_ms: r.get(4)?,
    })
}

pub(crate) const USER_COLS: &str = "name, role, pw_hash, created_ms, updated_ms";

/// The upper bound of a prefix range: every string starting with `p` is
/// `>= p` and `< p + U+10FFFF`.
fn prefix_end(p: &str) -> String {
    format!("{p}\u{10FFFF}")
}

/// Above this many matching search terms, a text search no longer sorts
/// the matches: it walks the devices in the list's order and tests each
/// one's terms, which finds a page after about `limit / share` devices
/// (a short prefix such as `1` matches every user id).
const TERM_SORT_CAP: i64 = 20_000;

/// Where a page starts (keyset paging: no rows are read and skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Keyset<'a> {
    /// The first page (or [`DeviceQuery::offset`]).
    Start,
    /// MAC order, after this MAC.
    Mac(&'a str),
    /// Last-seen order, after a seen device (time, MAC).
    Seen(i64, &'a str),
    /// Last-seen order, after a never-seen device (they come last, by MAC).
    Never(&'a str),
    /// Last-seen order, the never-seen devices from the first.
    NeverFromStart,
}

impl<'a> Keyset<'a> {
    fn of(q: &'a DeviceQuery) -> Keyset<'a> {
        match (q.sort, q.after_mac.as_deref(), q.after_seen) {
            (_, None, _) => Keyset::Start,
            (DeviceSort::Mac, Some(m), _) => Keyset::Mac(m),
            (DeviceSort::LastSeen, Some(m), Some(Some(t))) => Keyset::Seen(t, m),
            (DeviceSort::LastSeen, Some(m), Some(None)) => Keyset::Never(m),
            // A MAC alone in last-seen order: the caller meant MAC order.
            (DeviceSort::LastSeen, Some(m), None) => Keyset::Mac(m),
        }
    }
}

/// A query's parameters, numbered as they are pushed.
#[derive(Default)]
struct Args(Vec<Val<'static>>);

impl Args {
    fn push(&mut self, v: Val<'static>) -> String {
        self.0.push(v);
        format!("?{}", self.0.len())
    }
}

/// The clauses of a device query other than its text (filters and the
/// keyset). With `walk`, the equality filters are written so that no
/// index serves them (`col || '' = ?`, the same test): the database then
/// walks the list's order (the last-seen index) and tests each device,
/// instead of reading every device of a common model and sorting them.
fn filter_clauses(
    q: &DeviceQuery,
    keyset: &Keyset<'_>,
    walk: bool,
    args: &mut Args,
) -> Vec<String> {
    let mut clauses: Vec<String> = Vec::new();
    let test = if walk { " || ''" } else { "" };
    for (col, val) in [
        ("model", &q.model),
        ("grp", &q.group),
        ("firmware", &q.firmware),
    ] {
        if let Some(v) = val {
            let a = args.push(Val::from(v.clone()));
            clauses.push(format!("{col}{test} = {a}"));
        }
    }
    match q.seen {
        Some(SeenFilter::Never) => clauses.push("last_seen_ms IS NULL".into()),
        Some(SeenFilter::Outcome(o)) => {
            let a = args.push(Val::from(o.as_str().to_string()));
            clauses.push(format!("last_outcome{test} = {a}"));
        }
        None => {}
    }
    if let Some(t) = q.seen_before_ms {
        let a = args.push(Val::Int(t));
        clauses.push(format!("last_seen_ms < {a}"));
    }
    match keyset {
        Keyset::Start => {}
        Keyset::Mac(m) => {
            let a = args.push(Val::from(m.to_string()));
            clauses.push(format!("mac > {a}"));
        }
        // Written as a range on `last_seen_ms` (its index) and a test.
        Keyset::Seen(t, m) => {
            let t = args.push(Val::Int(*t));
            let m = args.push(Val::from(m.to_string()));
            clauses.push(format!(
                "last_seen_ms <= {t} AND (last_seen_ms < {t} OR mac > {m})"
            ));
        }
        Keyset::Never(m) => {
            let a = args.push(Val::from(m.to_string()));
            clauses.push(format!("last_seen_ms IS NULL AND mac > {a}"));
        }
        Keyset::NeverFromStart => clauses.push("last_seen_ms IS NULL".into()),
    }
    clauses
}

fn where_sql(clauses: &[String]) -> String {
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    }
}

/// The `WHERE` clause and parameters of a device query, every match
/// included (counts: its order and paging are not used).
pub(crate) fn device_where(q: &DeviceQuery) -> (String, Vec<Val<'static>>) {
    let mut args = Args::default();
    let mut text: Vec<String> = Vec::new();
    if let Some(p) = &q.mac_prefix {
        let a = args.push(Val::from(p.clone()));
        let b = args.push(Val::from(prefix_end(p)));
        text.push(format!(
            "SELECT mac FROM devices WHERE mac >= {a} AND mac < {b}"
        ));
    }
    if let Some(p) = &q.term_prefix {
        let a = args.push(Val::from(p.clone()));
        let b = args.push(Val::from(prefix_end(p)));
        text.push(format!(
            "SELECT mac FROM device_terms WHERE term >= {a} AND term < {b}"
        ));
    }
    let mut clauses = Vec::new();
    if !text.is_empty() {
        clauses.push(format!("mac IN ({})", text.join(" UNION ")));
    }
    clauses.extend(filter_clauses(q, &Keyset::of(q), false, &mut args));
    (where_sql(&clauses), args.0)
}

/// One page of a device query as SQL, from `keyset` on, `limit` rows
/// after skipping `offset`; `None` when the text can match nothing.
///
/// A text query is each of its ways to match (MAC range; serial or
/// variable value), each with the filters and its own `ORDER BY … LIMIT`
/// of `offset + limit` rows, so no way reads more than a page of its
/// matches in the list's order, and the page is the first rows of their
/// union. A term prefix is first counted (up to `cap`, [`TERM_SORT_CAP`]): none,
/// and that way is left out; a few, and their devices are looked up and
/// sorted; many, and the devices are walked in order, each tested. The
/// same goes for equality filters in last-seen order (no text).
fn page_sql(
    x: &mut Exec<'_, '_>,
    q: &DeviceQuery,
    keyset: &Keyset<'_>,
    limit: u64,
    cap: i64,
) -> Result<Option<(String, Vec<Val<'static>>)>> {
    let order = match q.sort {
        DeviceSort::Mac => "mac",
        DeviceSort::LastSeen => "last_seen_ms DESC NULLS LAST, mac",
    };
    let take = i64::try_from(limit.saturating_add(q.offset)).unwrap_or(i64::MAX);
    let mut args = Args::default();
    let mut ways: Vec<String> = Vec::new();
    if let Some(p) = &q.mac_prefix {
        let a = args.push(Val::from(p.clone()));
        let b = args.push(Val::from(prefix_end(p)));
        ways.push(format!("mac >= {a} AND mac < {b}"));
    }
    if let Some(p) = &q.term_prefix {
        let (lo, hi) = (p.clone(), prefix_end(p));
        let n: i64 = x
            .one(
                "SELECT count(*) FROM (SELECT 1 FROM device_terms \
                 WHERE term >= ?1 AND term < ?2 LIMIT ?3) AS t",
                &[Val::from(lo.clone()), Val::from(hi.clone()), Val::Int(cap)],
            )?
            .get(0)?;
        if n > 0 {
            let a = args.push(Val::from(lo));
            let b = args.push(Val::from(hi));
            ways.push(if n < cap {
                format!("mac IN (SELECT mac FROM device_terms WHERE term >= {a} AND term < {b})")
            } else {
                format!(
                    "EXISTS (SELECT 1 FROM device_terms t WHERE t.mac = devices.mac \
                     AND t.term >= {a} AND t.term < {b})"
                )
            });
        }
    }
    let text = q.mac_prefix.is_some() || q.term_prefix.is_some();
    if text && ways.is_empty() {
        return Ok(None);
    }
    // Last-seen order with equality filters that many devices match (a
    // model, an outcome): walk the order and test (see filter_clauses).
    let equal = q.model.is_some()
        || q.group.is_some()
        || q.firmware.is_some()
        || matches!(q.seen, Some(SeenFilter::Outcome(_)));
    // Each filter is counted alone (an index-only count up to `cap`):
    // counting them together reads a device row per match of one of them.
    let walk = q.sort == DeviceSort::LastSeen && !text && equal && {
        let mut many = true;
        for one in [
            DeviceQuery {
                model: q.model.clone(),
                ..DeviceQuery::default()
            },
            DeviceQuery {
                group: q.group.clone(),
                ..DeviceQuery::default()
            },
            DeviceQuery {
                firmware: q.firmware.clone(),
                ..DeviceQuery::default()
            },
            DeviceQuery {
                seen: q.seen.filter(|s| *s != SeenFilter::Never),
                ..DeviceQuery::default()
            },
        ] {
            let mut probe = Args::default();
            let c = filter_clauses(&one, &Keyset::Start, false, &mut probe);
            if c.is_empty() {
                continue;
            }
            let lim = probe.push(Val::Int(cap));
            let n: i64 = x
                .one(
                    &format!(
                        "SELECT count(*) FROM (SELECT 1 FROM devices{} LIMIT {lim}) AS f",
                        where_sql(&c)
                    ),
                    &probe.0,
                )?
                .get(0)?;
            many &= n >= cap;
        }
        many
    };
    let filters = filter_clauses(q, keyset, walk, &mut args);
    let filter = if ways.is_empty() {
        where_sql(&filters)
    } else {
        let lim = args.push(Val::Int(take));
        let each: Vec<String> = ways
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let mut c = vec![w.clone()];
                c.extend(filters.iter().cloned());
                format!(
                    "SELECT mac FROM (SELECT mac FROM devices{} ORDER BY {order} LIMIT {lim}) AS w{i}",
                    where_sql(&c)
                )
            })
            .collect();
        format!(" WHERE mac IN ({})", each.join(" UNION "))
    };
    let lim = args.push(Val::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    let off = args.push(Val::Int(i64::try_from(q.offset).unwrap_or(i64::MAX)));
    Ok(Some((
        format!(
            "SELECT {DEVICE_COLS} FROM devices{filter} ORDER BY {order} LIMIT {lim} OFFSET {off}"
        ),
        args.0,
    )))
}

/// [`ConsoleRepo::search_devices`] with the term-sorting cap given
/// (tests run both ways of a text search).
fn search(store: &Store, q: &DeviceQuery, cap: i64) -> Result<Vec<Device>> {
    let keyset = Keyset::of(q);
    let rows = store.run(|x| {
        let mut rows = match page_sql(x, q, &keyset, q.limit, cap)? {
            Some((sql, args)) => x.rows(&sql, &args)?,
            None => return Ok(Vec::new()),
        };
        // Last-seen order ends with the never-seen devices, by MAC: a
        // page that runs out of seen ones goes on with them.
        let short = (rows.len() as u64) < q.limit;
        if short && matches!(keyset, Keyset::Seen(..)) && q.seen != Some(SeenFilter::Never) {
            let rest = q.limit - rows.len() as u64;
            let tail = DeviceQuery {
                offset: 0,
                ..q.clone()
            };
            if let Some((sql, args)) = page_sql(x, &tail, &Keyset::NeverFromStart, rest, cap)? {
                rows.extend(x.rows(&sql, &args)?);
            }
        }
        Ok(rows)
    })?;
    rows.iter()
        .map(|r| RawDevice::from_row(r)?.decode())
        .collect()
}

impl ConsoleRepo for Store {
    fn console_user(&self, name: &str) -> Result<Option<ConsoleUser>> {
        self.run(|x| {
            x.row(
                &format!("SELECT {USER_COLS} FROM console_users WHERE name = ?1"),
                vals![name],
            )
        })?
        .as_ref()
        .map(decode_user)
        .transpose()
    }

    fn add_console_user(&mut self, user: &ConsoleUser) -> Result<bool> {
        let n = self.tx(|x| {
            x.exec(
                "INSERT INTO console_users (name, role, pw_hash, created_ms, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
                vals![
                    &user.name,
                    user.role.as_str(),
                    &user.pw_hash,
                    user.created_ms,
                    user.updated_ms
                ],
            )
        })?;
        Ok(n == 1)
    }

    fn set_console_password(&mut self, name: &str, pw_hash: &str) -> Result<bool> {
        let n = self.tx(|x| {
            x.exec(
                "UPDATE console_users SET pw_hash = ?2, updated_ms = ?3 WHERE name = ?1",
                vals![name, pw_hash, now_ms()],
            )
        })?;
        Ok(n == 1)
    }

    fn remove_console_user(&mut self, name: &str) -> Result<bool> {
        let n = self.tx(|x| x.exec("DELETE FROM console_users WHERE name = ?1", vals![name]))?;
        Ok(n == 1)
    }

    fn console_users(&self) -> Result<Vec<ConsoleUser>> {
        self.run(|x| {
            x.rows(
                &format!("SELECT {USER_COLS} FROM console_users ORDER BY name"),
                vals![],
            )
        })?
        .iter()
        .map(decode_user)
        .collect()
    }

    fn search_devices(&self, q: &DeviceQuery) -> Result<Vec<Device>> {
        search(self, q, TERM_SORT_CAP)
    }

    fn count_matching(&self, q: &DeviceQuery) -> Result<u64> {
        let (filter, args) = device_where(q);
        let sql = format!("SELECT count(*) FROM devices{filter}");
        let n: i64 = self.run(|x| x.one(&sql, &args)?.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn fleet_counts(&self) -> Result<FleetCounts> {
        self.run(|x| {
            let mut count = |sql: &str| -> Result<u64> {
                let n: i64 = x.one(sql, vals![])?.get(0)?;
                Ok(n as u64)
            };
            let total = count("SELECT count(*) FROM devices")?;
            let never_seen = count("SELECT count(*) FROM devices WHERE last_seen_ms IS NULL")?;
            let mut grouped = |col: &str, extra: &str| -> Result<Vec<(Option<String>, u64)>> {
                x.rows(
                    &format!(
                        "SELECT {col}, count(*) AS n FROM devices{extra} GROUP BY {col} \
                         ORDER BY n DESC, {col} LIMIT {TOP_N}"
                    ),
                    vals![],
                )?
                .iter()
                .map(|r| Ok((r.get::<Option<String>>(0)?, r.get::<i64>(1)? as u64)))
                .collect()
            };
            let by_outcome = grouped("last_outcome", " WHERE last_outcome IS NOT NULL")?
                .into_iter()
                .map(|(o, n)| Ok((o.map(|o| o.parse::<Outcome>()).transpose()?, n)))
                .collect::<std::result::Result<Vec<_>, crate::UnknownName>>()
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            let by_model = grouped("model", "")?;
            let by_firmware = grouped("firmware", " WHERE firmware IS NOT NULL")?;
            Ok(FleetCounts {
                total,
                never_seen,
                by_outcome,
                by_model,
                by_firmware,
            })
        })
    }

    fn events_per_hour(&self, kind: EventKind, since_ms: i64) -> Result<Vec<(i64, u64)>> {
        self.run(|x| {
            x.rows(
                "SELECT at_ms / 3600000 AS h, count(*) FROM events \
                 WHERE kind = ?1 AND at_ms >= ?2 GROUP BY h ORDER BY h",
                vals![kind.as_str(), since_ms],
            )
        })?
        .iter()
        .map(|r| Ok((r.get::<i64>(0)? * 3_600_000, r.get::<i64>(1)? as u64)))
        .collect()
    }

    fn recent_failures(&self, limit: usize) -> Result<Vec<Event>> {
        self.run(|x| {
            x.rows(
                "SELECT id, mac, at_ms, kind, outcome, source_ip, message FROM events \
                 WHERE outcome IN ('not-found', 'corrupt', 'failed') ORDER BY id DESC LIMIT ?1",
                vals![i64::try_from(limit).unwrap_or(i64::MAX)],
            )
        })?
        .iter()
        .map(event_from_row)
        .collect()
    }

    fn group_counts(&self, limit: usize) -> Result<Vec<(Option<String>, u64)>> {
        self.run(|x| {
            x.rows(
                "SELECT grp, count(*) FROM devices GROUP BY grp \
                 ORDER BY grp IS NOT NULL, grp LIMIT ?1",
                vals![i64::try_from(limit).unwrap_or(i64::MAX)],
            )
        })?
        .iter()
        .map(|r| Ok((r.get::<Option<String>>(0)?, r.get::<i64>(1)? as u64)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestDb;
    use crate::{Mac, NewDevice, NewEvent};

    fn dev(mac: &str, serial: &str, vars: &[(&str, &str)]) -> NewDevice {
        let mut d = NewDevice::new(Mac::parse(mac).unwrap());
        d.serial = Some(serial.into());
        d.model = Some("CP-8841".into());
        d.vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        d
    }

    fn macs(s: &Store, q: &DeviceQuery) -> Vec<String> {
        s.search_devices(q)
            .unwrap()
            .into_iter()
            .map(|d| d.mac.to_string())
            .collect()
    }

    fn text(t: &str) -> DeviceQuery {
        let mut q = DeviceQuery {
            limit: 50,
            ..DeviceQuery::default()
        };
        q.text(t);
        q
    }

    on_both! {
    /// The search finds devices by MAC prefix in any notation, by serial
    /// and by variable value (case-insensitive), follows updates and
    /// removals through the triggers, and never matches a password.
    fn search_by_mac_serial_and_variable_follows_updates(db: &TestDb) {
        let mut s = db.store();
        s.add_device(&dev(
            "000e08aa0001",
            "SN-ONE",
            &[("user_id", "4711"), ("display_name", "Alice Smith"), ("sip_password", "hunter2")],
        ))
        .unwrap();
        s.add_device(&dev("000e08bb0002", "SN-TWO", &[("user_id", "4712")]))
            .unwrap();
        assert_eq!(macs(&s, &text("00:0E:08:AA")), ["000e08aa0001"]);
        assert_eq!(macs(&s, &text("000E.08bb")), ["000e08bb0002"]);
        assert_eq!(macs(&s, &text("sn-two")), ["000e08bb0002"]);
        assert_eq!(macs(&s, &text("alice")), ["000e08aa0001"]);
        assert_eq!(macs(&s, &text("471")), ["000e08aa0001", "000e08bb0002"]);
        assert!(macs(&s, &text("hunter2")).is_empty(), "passwords are not indexed");
        assert!(macs(&s, &text("nobody")).is_empty());
        // An update replaces the terms; a removal drops them.
        s.upsert_device(&dev("000e08aa0001", "SN-ONE", &[("display_name", "Bob")]))
            .unwrap();
        assert!(macs(&s, &text("alice")).is_empty());
        assert_eq!(macs(&s, &text("bob")), ["000e08aa0001"]);
        s.remove_device(Mac::parse("000e08aa0001").unwrap()).unwrap();
        assert!(macs(&s, &text("bob")).is_empty());
    }

    }

    on_both! {
        /// The console's group list: devices per group by name, the
        /// devices without a group first, cut at the limit.
        fn group_counts_by_name(db: &TestDb) {
            let mut s = db.store();
            for (i, g) in [Some("sales"), Some("ops"), None, Some("sales")].into_iter().enumerate() {
                let mut d = dev(&format!("000e08ee000{i}"), &format!("G{i}"), &[]);
                d.group = g.map(str::to_string);
                s.add_device(&d).unwrap();
            }
            assert_eq!(
                s.group_counts(10).unwrap(),
                [(None, 1), (Some("ops".into()), 1), (Some("sales".into()), 2)]
            );
            assert_eq!(s.group_counts(2).unwrap().len(), 2);
        }
    }

    on_both! {
        /// Issue 14 item 4: a bulk job's selection walks its devices in
        /// MAC order a keyset page at a time, counts them, and refuses an
        /// empty or contradictory selection.
        fn selection_pages_after_a_mac_and_counts(db: &TestDb) {
            let mut s = db.store();
            for i in 0..7u8 {
                let mut d = dev(&format!("000e08dd000{i}"), &format!("S{i}"), &[]);
                d.group = Some(if i % 2 == 0 { "even" } else { "odd" }.into());
                s.add_device(&d).unwrap();
            }
            let sel = Selection { group: "even".into(), ..Selection::default() };
            sel.check().unwrap();
            let mut q = sel.query(now_ms()).unwrap();
            assert_eq!(s.count_matching(&q).unwrap(), 4);
            q.limit = 2;
            assert_eq!(macs(&s, &q), ["000e08dd0000", "000e08dd0002"]);
            q.after_mac = Some("000e08dd0002".into());
            assert_eq!(macs(&s, &q), ["000e08dd0004", "000e08dd0006"]);
            q.after_mac = Some("000e08dd0006".into());
            assert!(macs(&s, &q).is_empty());
            let all = Selection { all: true, ..Selection::default() };
            assert_eq!(s.count_matching(&all.query(0).unwrap()).unwrap(), 7);
            let list = Selection {
                macs: vec!["00:0E:08:DD:00:03".into(), "000e08dd0001".into(), "000e08dd0003".into()],
                ..Selection::default()
            };
            assert_eq!(list.mac_list().unwrap().len(), 2, "sorted, without repeats");
            for (bad, want) in [
                (Selection::default(), "select devices"),
                (Selection { macs: vec!["zz".into()], ..Selection::default() }, "zz"),
                (Selection { macs: vec!["000e08dd0001".into()], all: true, ..Selection::default() }, "not both"),
                (Selection { older: "ten".into(), ..Selection::default() }, "ten"),
            ] {
                let e = bad.check().unwrap_err();
                assert!(e.contains(want), "{e}");
            }
        }
    }

    on_both! {
    /// Filters, paging and the overview's counts.
    fn filters_paging_and_counts(db: &TestDb) {
        let mut s = db.store();
        for i in 0..5u8 {
            s.add_device(&dev(&format!("000e08cc000{i}"), &format!("S{i}"), &[]))
                .unwrap();
        }
        let ip = "192.0.2.1".parse().unwrap();
        let m0 = Mac::parse("000e08cc0000").unwrap();
        s.record_status(m0, ip, Some("12.0.1"), Some(Outcome::Failed))
            .unwrap();
        s.append_event(&NewEvent {
            mac: m0,
            at_ms: now_ms(),
            kind: EventKind::Resync,
            outcome: Some(Outcome::Failed),
            source_ip: None,
            message: "render failed".into(),
        })
        .unwrap();
        let q = DeviceQuery {
            seen: Some(SeenFilter::Outcome(Outcome::Failed)),
            limit: 10,
            ..DeviceQuery::default()
        };
        assert_eq!(macs(&s, &q), ["000e08cc0000"]);
        let q = DeviceQuery {
            seen: Some(SeenFilter::Never),
            limit: 2,
            offset: 2,
            ..DeviceQuery::default()
        };
        assert_eq!(macs(&s, &q), ["000e08cc0003", "000e08cc0004"]);
        let c = s.fleet_counts().unwrap();
        assert_eq!(c.total, 5);
        assert_eq!(c.never_seen, 4);
        assert_eq!(c.by_outcome, [(Some(Outcome::Failed), 1)]);
        assert_eq!(c.by_model, [(Some("CP-8841".to_string()), 5)]);
        assert_eq!(c.by_firmware, [(Some("12.0.1".to_string()), 1)]);
        let hours = s.events_per_hour(EventKind::Resync, 0).unwrap();
        assert_eq!(hours.iter().map(|h| h.1).sum::<u64>(), 1);
        assert_eq!(s.recent_failures(5).unwrap()[0].message, "render failed");
    }

    }

    /// Every page of `q` by keyset paging (the last row of a page starts
    /// the next), with the term-sorting cap `cap`.
    fn walk(s: &Store, q: &DeviceQuery, cap: i64) -> Vec<String> {
        let mut q = q.clone();
        let mut out = Vec::new();
        loop {
            let page = search(s, &q, cap).unwrap();
            let Some(last) = page.last() else { break };
            q.after_mac = Some(last.mac.to_string());
            if q.sort == DeviceSort::LastSeen {
                q.after_seen = Some(last.status.last_seen_ms);
            }
            out.extend(page.iter().map(|d| d.mac.to_string()));
            assert!(out.len() <= 100, "paging does not end: {out:?}");
        }
        out
    }

    on_both! {
    /// Issue 14 at scale: keyset pages in MAC and last-seen order give every
    /// matching device once, in order, across the seen/never-seen border
    /// and equal last-seen times; a text search gives the same rows whether
    /// its term matches are sorted or walked (the two plans a term's number
    /// of matches chooses between), and matches nothing without a query.
    fn keyset_pages_and_both_text_plans_give_the_same_rows(db: &TestDb) {
        let mut s = db.store();
        let ip = "192.0.2.1".parse().unwrap();
        for i in 0..12u8 {
            let user = format!("{}", 4700 + u32::from(i));
            let mut d = dev(&format!("000e08ee00{i:02x}"), &format!("SN{i}"), &[("user_id", &user)]);
            d.model = Some(if i % 3 == 0 { "CP-7841" } else { "CP-8841" }.into());
            s.add_device(&d).unwrap();
            if i % 4 != 3 {
                s.record_status(Mac::parse(&format!("000e08ee00{i:02x}")).unwrap(), ip, None, Some(Outcome::Success))
                    .unwrap();
            }
        }
        // Equal last-seen times for a few, so the MAC breaks ties.
        s.run(|x| x.exec(
            "UPDATE devices SET last_seen_ms = 1000 + (CASE WHEN mac < '000e08ee0005' THEN 0 ELSE length(mac) + 0 END) \
             WHERE last_seen_ms IS NOT NULL", &[])).unwrap();
        let all = |sort| DeviceQuery { sort, limit: 5, ..DeviceQuery::default() };
        let by_mac: Vec<String> = (0..12).map(|i| format!("000e08ee00{i:02x}")).collect();
        assert_eq!(walk(&s, &all(DeviceSort::Mac), TERM_SORT_CAP), by_mac);
        let mut big = all(DeviceSort::LastSeen);
        big.limit = 100;
        let once = macs(&s, &big);
        assert_eq!(once.len(), 12);
        assert_eq!(walk(&s, &all(DeviceSort::LastSeen), TERM_SORT_CAP), once, "keyset = one long page");
        assert_eq!(&once[9..], ["000e08ee0003", "000e08ee0007", "000e08ee000b"], "never seen last, by MAC");
        // Filters in last-seen order: sorted (few) or walked (many).
        for outcome in [None, Some(SeenFilter::Outcome(Outcome::Success))] {
            let mut q = all(DeviceSort::LastSeen);
            q.model = Some("CP-8841".into());
            q.seen = outcome;
            let sorted = walk(&s, &q, TERM_SORT_CAP);
            assert_eq!(sorted.len(), if outcome.is_some() { 6 } else { 8 });
            assert_eq!(walk(&s, &q, 1), sorted, "{outcome:?}");
        }
        for sort in [DeviceSort::Mac, DeviceSort::LastSeen] {
            for typed in ["47", "4711", "sn1", "000e08ee", "000E08-EE-00-0", "zz"] {
                let mut q = all(sort);
                q.text(typed);
                let sorted = walk(&s, &q, TERM_SORT_CAP);
                assert_eq!(walk(&s, &q, 1), sorted, "{typed:?} {sort:?}");
                let mut q = all(sort);
                q.text(typed);
                q.model = Some("CP-8841".into());
                assert_eq!(walk(&s, &q, 1), walk(&s, &q, TERM_SORT_CAP), "{typed:?} {sort:?} + model");
            }
        }
        let mut q = all(DeviceSort::Mac);
        q.text("47");
        assert_eq!(walk(&s, &q, 1).len(), 12);
        q.text("4711");
        assert_eq!(walk(&s, &q, 1), ["000e08ee000b"]);
    }
    }

    on_both! {
    /// Users: add once, change the password, list, remove.
    fn users_add_passwd_list_remove(db: &TestDb) {
        let mut s = db.store();
        let u = ConsoleUser {
            name: "ann".into(),
            role: Role::Helpdesk,
            pw_hash: "h1".into(),
            created_ms: 1,
            updated_ms: 1,
        };
        assert!(s.add_console_user(&u).unwrap());
        assert!(!s.add_console_user(&u).unwrap(), "names are unique");
        assert!(s.set_console_password("ann", "h2").unwrap());
        assert!(!s.set_console_password("bob", "h2").unwrap());
        let got = s.console_user("ann").unwrap().unwrap();
        assert_eq!((got.role, got.pw_hash.as_str()), (Role::Helpdesk, "h2"));
        assert_eq!(s.console_users().unwrap().len(), 1);
        assert!(s.remove_console_user("ann").unwrap());
        assert!(!s.remove_console_user("ann").unwrap());
    }
    }
}
