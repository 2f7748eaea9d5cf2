//! Hearing other nodes' changes (issue 13): on PostgreSQL one thread per
//! `serve` keeps a [`ChangeListener`] and drops the cached row of every
//! device the database says changed ([`RenderCache::forget`]), or every
//! row after an import, a copy or a lost listening connection. The write
//! sends its notice in its own transaction (`phoneprov_store`'s
//! `changes` module), so a change made through any node, or by
//! `phoneprov device …`, is served by every node at its next request
//! instead of after `device_ttl_ms`. The TTL stays as the bound while
//! the listening connection is down (it reconnects by itself, with a log
//! line when lost and when back). SQLite: no thread.
//!
//! [`RenderCache::forget`]: crate::render::RenderCache::forget

use std::sync::{Arc, Weak};
use std::time::Duration;

use phoneprov_store::{ChangeListener, Database, DeviceChange, StoreError};

use crate::state::AppState;

/// How long one wait lasts: also how soon the thread notices that the
/// server was dropped.
const WAIT: Duration = Duration::from_millis(500);
/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Starts the listening thread for `db` (nothing for SQLite). It ends
/// when the server's state is dropped.
pub(crate) fn spawn(db: &Database, state: &Arc<AppState>) -> Result<(), StoreError> {
    let Some(mut listener) = ChangeListener::open(db)? else {
        return Ok(());
    };
    // LISTEN before serving: no change made after the start is missed.
    listener.wait(Duration::ZERO)?;
    let state = Arc::downgrade(state);
    std::thread::Builder::new()
        .name("phoneprov-listen".into())
        .spawn(move || run(listener, state))
        .map_err(|e| StoreError::Unavailable(phoneprov_store::DbError::new(e)))?;
    Ok(())
}

fn run(mut listener: ChangeListener, state: Weak<AppState>) {
    let mut backoff = Duration::from_millis(100);
    let mut lost = false;
    loop {
        let got = listener.wait(WAIT);
        let Some(state) = state.upgrade() else { return };
        match got {
            Ok(changes) => {
                if lost {
                    tracing::warn!("change notices from the database: listening again; every cached device row was dropped");
                    lost = false;
                }
                backoff = Duration::from_millis(100);
                for c in changes {
                    match c {
                        DeviceChange::Device(mac) => state.cache.forget(mac),
                        DeviceChange::All => state.cache.forget_all(),
                    }
                }
            }
            Err(e) => {
                if !lost {
                    tracing::warn!(error = %e, "change notices from the database lost; reconnecting (meanwhile other nodes' changes show up within profiles.device_ttl_ms)");
                    lost = true;
                }
                drop(state);
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
