//! [`AppState`]: everything the listeners share, behind one `Arc`.
//!
//! The parts that a reload (SIGHUP) replaces, the compiled
//! [`Policy`](crate::policy::Policy) and
//! the [`TemplateSet`], sit in `ArcSwap`s: a request loads both once
//! (a few atomic operations, no lock) and keeps a consistent view even if a
//! reload lands mid-request. The REST API is mounted through an
//! [`ApiHandler`].

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;

use crate::auth::{Authenticator, DigestAuth};
use crate::config::{Bound, Config};
use crate::error::ServerError;
use crate::policy::Policy;
use crate::render::RenderCache;
use crate::store_io::{ReadPool, StatusWriter};
use crate::templates::TemplateSet;

/// A mounted HTTP handler (the REST API under `/api/`): gets the request
/// with its body already read (bounded by the body limit) and returns the
/// response. Framework-neutral so an axum `Router` can be wrapped with
/// `tower::ServiceExt::oneshot` plus a body collect.
pub type ApiHandler = Arc<
    dyn Fn(http::Request<Bytes>) -> Pin<Box<dyn Future<Output = http::Response<Bytes>> + Send>>
        + Send
        + Sync,
>;

/// Shared server state.
pub struct AppState {
    /// Reloadable policy.
    pub policy: ArcSwap<Policy>,
    /// Reloadable templates.
    pub templates: ArcSwap<TemplateSet>,
    /// The HTTPS listener's TLS settings (certificate, key, client CA,
    /// client-certificate policy, ciphers), rebuilt on reload: a renewed
    /// certificate takes effect at SIGHUP for new connections. `None` when
    /// HTTPS is off.
    pub tls: arc_swap::ArcSwapOption<tokio_rustls::TlsAcceptor>,
    /// The admin listener's TLS settings (`[tls] cert`, no client
    /// certificate), rebuilt on reload; `None` when it speaks plain HTTP.
    pub admin_tls: arc_swap::ArcSwapOption<tokio_rustls::TlsAcceptor>,
    /// Bumped on every reload; part of every render-cache check.
    pub generation: AtomicU64,
    /// Device reads.
    pub reader: Arc<ReadPool>,
    /// Status/event writes.
    pub status: StatusWriter,
    /// Device and rendered-profile caches.
    pub cache: RenderCache,
    /// HTTP authentication backend.
    pub auth: Box<dyn Authenticator>,
    /// Failed-authentication log, counters and slow-down, shared by every
    /// door (issue 12 item 3).
    pub auth_guard: Arc<phoneprov_httpauth::AuthGuard>,
    /// Where the listeners are.
    pub bound: Bound,
    /// Mounted `/api/` handler.
    pub api: Option<ApiHandler>,
    /// Prometheus exposition.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Config file to re-read on reload (None: built-in defaults + flags).
    pub config_file: Option<PathBuf>,
    /// Applied on top of every (re)loaded config file.
    pub overrides: Arc<dyn Fn(&mut Config) + Send + Sync>,
    /// The access log (`[log]`), reopened on every reload.
    pub access_log: crate::access_log::AccessLog,
    /// Requests for MACs not in the inventory: counted and summarised
    /// (issue 12 item 2).
    pub unknown: crate::unknown::UnknownDevices,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("generation", &self.generation)
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Re-reads the config file (if any), the templates and the HTTPS
    /// certificate files. On any error
    /// nothing changes and the error is returned (the caller logs it).
    /// Listener addresses are not changed by a reload.
    pub fn reload(&self) -> Result<u64, ServerError> {
        // logrotate sends SIGHUP (or SIGUSR1) after moving the file.
        self.access_log.reopen();
        let old = self.policy.load();
        let mut cfg = match &self.config_file {
            Some(p) => Config::load(p)?,
            None => old.config.clone(),
        };
        (self.overrides)(&mut cfg);
        let policy = Policy::new(cfg, &old.dirs.data);
        let next = self.generation() + 1;
        let templates = TemplateSet::load(&policy.dirs.templates, next)?;
        // Build the new TLS settings before swapping anything: a missing or
        // bad certificate fails the whole reload.
        let tls = match self.tls.load().is_some() {
            true => Some(Arc::new(tokio_rustls::TlsAcceptor::from(
                crate::tls::tls_config(&policy.config, &old.dirs.data)?,
            ))),
            false => None,
        };
        let admin_tls = match self.admin_tls.load().is_some() && policy.config.admin_tls() {
            true => Some(Arc::new(tokio_rustls::TlsAcceptor::from(
                crate::tls::admin_tls_config(&policy.config, &old.dirs.data)?,
            ))),
            false => self.admin_tls.load_full(),
        };
        self.tls.store(tls);
        self.admin_tls.store(admin_tls);
        self.policy.store(Arc::new(policy));
        self.templates.store(Arc::new(templates));
        self.generation.store(next, Ordering::Release);
        Ok(next)
    }

    /// Builds the authenticator for a config, signing nonces with
    /// `nonce_secret` (the database's, `crate::auth::shared_nonce_secret`).
    pub fn default_auth(cfg: &Config, nonce_secret: [u8; 32]) -> Box<dyn Authenticator> {
        Box::new(DigestAuth::with_secret(
            &cfg.auth_settings.realm,
            nonce_secret,
            std::time::Duration::from_secs(cfg.auth_settings.nonce_ttl_secs),
        ))
    }
}
