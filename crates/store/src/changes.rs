//! Telling the other nodes that a device changed (issue 13): PostgreSQL
//! `LISTEN/NOTIFY`.
//!
//! Every write of a device row's rendered fields (add, upsert, variable,
//! group or approval change, removal) sends `NOTIFY phoneprov_devices,
//! '<mac>'` **inside its own transaction** ([`notify_device`]), and the
//! CSV import's commit and a `db copy` into PostgreSQL send `'*'` (every
//! device). PostgreSQL delivers a notification only when its transaction
//! commits, and to every listening connection, the writer's own node
//! included. Each `serve` node keeps one [`ChangeListener`] on a
//! connection of its own and drops the named device's cached row (and so
//! its rendered profile) when told; after that connection was lost it
//! cannot know what it missed, so a reconnect reports
//! [`DeviceChange::All`]. Status writes (`last_seen_ms`, …) send nothing: they
//! do not change a profile, and they are the hot path.
//!
//! SQLite has no other node: [`notify_device`] does nothing there and
//! [`ChangeListener::open`] returns `None`.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use crate::db::{pg_err, vals, Database, Dialect, Exec, PgConn};
use crate::error::Result;
use crate::Mac;

/// The notification channel.
pub const CHANGE_CHANNEL: &str = "phoneprov_devices";

/// The payload meaning "every device".
const ALL: &str = "*";

/// The `application_name` of a node's listening connection (so an
/// operator, or a test, can find it in `pg_stat_activity`).
pub const LISTEN_APPLICATION: &str = "phoneprov-listen";

/// What a node must forget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChange {
    /// One device's row changed (or was removed).
    Device(Mac),
    /// Anything may have changed: after an import or a copy, and after
    /// the listening connection was (re)established.
    All,
}

/// Queues the change notice of `mac` (`None`: every device) in the
/// caller's transaction; PostgreSQL sends it at commit. Nothing on
/// SQLite.
pub(crate) fn notify_device(x: &mut Exec<'_, '_>, mac: Option<Mac>) -> Result<()> {
    if x.dialect() == Dialect::Postgres {
        let payload = mac.map_or_else(|| ALL.to_string(), |m| m.to_string());
        x.exec(
            &format!("SELECT pg_notify('{CHANGE_CHANNEL}', ?1)"),
            vals![payload],
        )?;
    }
    Ok(())
}

/// A node's listening connection (PostgreSQL only).
pub struct ChangeListener {
    conn: PgConn,
    listening: bool,
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListener")
            .field("listening", &self.listening)
            .finish()
    }
}

impl ChangeListener {
    /// A listener for `db`: `None` for SQLite (one node, nothing to
    /// hear). Connects now; a failure is the same error as opening a
    /// store.
    pub fn open(db: &Database) -> Result<Option<ChangeListener>> {
        match db {
            Database::Sqlite(_) => Ok(None),
            Database::Postgres(url) => Ok(Some(ChangeListener {
                conn: PgConn::connect_as(url, LISTEN_APPLICATION)?,
                listening: false,
            })),
        }
    }

    /// Waits up to `timeout` for notices and returns them (empty: none
    /// came). The first call, and the first after the connection was
    /// lost, (re)connects, `LISTEN`s and returns [`DeviceChange::All`] at once.
    /// A lost connection is [`crate::StoreError::Unavailable`]; call
    /// again to reconnect.
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<DeviceChange>> {
        if !self.listening || self.conn.is_closed() {
            self.listening = false;
            let client = self.conn.client()?;
            if let Err(e) = client.batch_execute(&format!("LISTEN {CHANGE_CHANNEL}")) {
                let e = pg_err(e);
                self.conn.after(&e);
                return Err(e);
            }
            self.listening = true;
            return Ok(vec![DeviceChange::All]);
        }
        let client = self.conn.client()?;
        let mut out = Vec::new();
        let mut notices = client.notifications();
        let mut failed = None;
        match notices.timeout_iter(timeout).next() {
            Ok(Some(n)) => out.push(parse(n.payload())),
            Ok(None) => {}
            Err(e) => failed = Some(pg_err(e)),
        }
        if failed.is_none() {
            // Whatever else has already arrived, without waiting.
            let mut pending = notices.iter();
            loop {
                match pending.next() {
                    Ok(Some(n)) => out.push(parse(n.payload())),
                    Ok(None) => break,
                    Err(e) => {
                        failed = Some(pg_err(e));
                        break;
                    }
                }
            }
        }
        drop(notices);
        if failed.is_none() && self.conn.is_closed() {
            failed = Some(crate::StoreError::Unavailable(crate::DbError::new(
                std::io::Error::other("the listening connection was closed"),
            )));
        }
        if let Some(e) = failed {
            self.listening = false;
            self.conn.drop_client();
            // Notices read before the loss are covered by the `All` that
            // the reconnect returns.
            return Err(e);
        }
        Ok(out)
    }
}

fn parse(payload: &str) -> DeviceChange {
    match Mac::parse(payload) {
        Ok(mac) if payload != ALL => DeviceChange::Device(mac),
        // "*", or anything this build does not understand: forget all.
        _ => DeviceChange::All,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        let mac = Mac::parse("000e08abcdef").unwrap();
        assert_eq!(parse("000e08abcdef"), DeviceChange::Device(mac));
        assert_eq!(parse("*"), DeviceChange::All);
        assert_eq!(parse("garbage"), DeviceChange::All);
    }
}
