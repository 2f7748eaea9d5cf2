//! [`ApiState`]: what every handler shares.
//!
//! The store is one database connection behind `Arc<Mutex<Store>>`, used
//! only inside `spawn_blocking` so SQLite never blocks a tokio worker.
//! One connection serialises the API's own queries, which is fine for
//! admin traffic (a handful of requests, each a few milliseconds; a big CSV
//! import holds it for its merge, and other API calls wait). The server's
//! hot paths (profile rendering, status writes, syslog filing) open their
//! own `Store`s: SQLite in WAL mode lets them read while the API writes,
//! so the API never slows the phones down. Opening a `Store` per request
//! was the alternative; it re-runs the schema check and pragmas each time
//! for no gain at this traffic.

use std::path::Path;
use std::sync::{Arc, Mutex};

use phoneprov_store::{Database, Store, StoreError};

use axum::http::HeaderMap;

use crate::error::AdminError;
use crate::routes::presented_token;
use crate::token::{admin_token, TokenError};
use phoneprov_types::secret_eq;

/// Decides from its headers whether a request may use an admin route
/// ([`ApiState::admin_guard`]).
pub type AdminGuard = Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync>;

/// Shared state of the API router. Cloning is cheap (one `Arc`).
#[derive(Clone, Debug)]
pub struct ApiState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<Mutex<Store>>,
    token: String,
    db: phoneprov_store::Database,
    acs: std::sync::OnceLock<phoneprov_acs::Acs>,
    templates: std::sync::OnceLock<Editor>,
}

/// The server's template editor (not `Debug` itself).
struct Editor(Arc<dyn crate::templates::TemplateEditor>);

impl std::fmt::Debug for Editor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TemplateEditor")
    }
}

/// Why [`ApiState::open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The admin token.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The inventory.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiState {
    /// Opens (creating if needed) the inventory and the admin token of
    /// `data_dir` (the token lives in the database, see [`admin_token`]).
    pub fn open(data_dir: &Path) -> Result<ApiState, SetupError> {
        ApiState::open_db(data_dir, &Database::Sqlite(data_dir.to_path_buf()))
    }

    /// [`ApiState::open`] with the store in `db` (either backend); the
    /// token file is mirrored in `data_dir`.
    pub fn open_db(data_dir: &Path, db: &Database) -> Result<ApiState, SetupError> {
        let mut store = Store::connect(db)?;
        let token = admin_token(data_dir, &mut store)?;
        Ok(ApiState::new(store, token))
    }

    /// State from an open store and the admin token.
    pub fn new(store: Store, admin_token: String) -> ApiState {
        let db = store.database().clone();
        ApiState {
            inner: Arc::new(Inner {
                store: Arc::new(Mutex::new(store)),
                token: admin_token,
                db,
                acs: std::sync::OnceLock::new(),
                templates: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Hands the ACS to bulk task jobs (they then ask each CPE to connect
    /// now); set once, when `[listen] acs` is on.
    pub fn set_acs(&self, acs: phoneprov_acs::Acs) {
        let _ = self.inner.acs.set(acs);
    }

    /// Hands the template routes the server's renderer (set once, by
    /// `phoneprov serve`).
    pub fn set_templates(&self, editor: Arc<dyn crate::templates::TemplateEditor>) {
        let _ = self.inner.templates.set(Editor(editor));
    }

    pub(crate) fn templates(&self) -> Option<Arc<dyn crate::templates::TemplateEditor>> {
        self.inner.templates.get().map(|e| e.0.clone())
    }

    pub(crate) fn acs(&self) -> Option<phoneprov_acs::Acs> {
        self.inner.acs.get().cloned()
    }

    /// The database bulk jobs open their own connection to.
    pub(crate) fn database(&self) -> phoneprov_store::Database {
        self.inner.db.clone()
    }

    /// A predicate accepting exactly the requests [`crate::router`]'s own
    /// routes accept (`Authorization: Bearer <admin token>`, compared in
    /// constant time), for routes merged in with [`crate::router_with`]:
    /// it has the type of `phoneprov_acs::Guard` and
    /// `phoneprov_activation::AdminGuard`.
    pub fn admin_guard(&self) -> AdminGuard {
        let state = self.clone();
        Arc::new(move |headers: &HeaderMap| {
            presented_token(headers)
                .is_some_and(|t| secret_eq(t.as_bytes(), state.token().as_bytes()))
        })
    }

    pub(crate) fn token(&self) -> &str {
        &self.inner.token
    }

    /// Runs `f` with the store on the blocking pool.
    pub(crate) async fn with_store<T, F>(&self, f: F) -> Result<T, AdminError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, AdminError> + Send + 'static,
    {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves SQLite consistent
            // (transactions roll back), so the poison is ignored.
            let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| AdminError::Internal(format!("store task failed: {e}")))?
    }
}
