//! [`AppState`]: everything the listeners share, behind one `Arc`.
//!
//! The parts that a reload (SIGHUP) replaces, the compiled [`Policy`] and
//! the [`TemplateSet`], sit in `ArcSwap`s: a request loads both once
//! (a few atomic operations, no lock) and keeps a consistent view even if a
//! reload lands mid-request. Hook points for the REST API and the syslog
//! receiver crates are [`ApiHandler`] and the `syslog` argument of
//! [`crate::Server::start`].

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use phoneprov_store::Mac;

use crate::auth::{Authenticator, DigestAuth};
use crate::config::{AuthRule, Config, FirmwareTarget};
use crate::error::ServerError;
use crate::paths::PathPattern;
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

/// The config compiled for fast per-request use.
#[derive(Debug)]
pub struct Policy {
    /// The source config.
    pub config: Config,
    /// Compiled `[profiles] paths`.
    pub patterns: Vec<PathPattern>,
    /// First pattern containing `$MA`, with the macro left in, for rules.
    pub rule_path: String,
    /// `[[auth]]` by MAC.
    auth_by_mac: HashMap<Mac, usize>,
    /// `[[auth]]` by group.
    auth_by_group: HashMap<String, usize>,
    /// `[[auth]]` with `all = true`.
    auth_all: Option<usize>,
    /// `[redirects]`.
    pub redirects: HashMap<Mac, String>,
    /// Resolved directories.
    pub dirs: Dirs,
}

/// Directories, absolute or relative to the working directory.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// Data directory.
    pub data: PathBuf,
    /// Templates.
    pub templates: PathBuf,
    /// Static files (canonical when it exists).
    pub static_root: PathBuf,
    /// Firmware (canonical when it exists).
    pub firmware_root: PathBuf,
}

impl Policy {
    /// Compiles a checked config.
    pub fn new(config: Config, data: &Path) -> Policy {
        let resolve = |p: &Option<PathBuf>, default: &str| {
            let p = p.clone().unwrap_or_else(|| PathBuf::from(default));
            let p = if p.is_absolute() { p } else { data.join(p) };
            std::fs::canonicalize(&p).unwrap_or(p)
        };
        let dirs = Dirs {
            data: data.to_path_buf(),
            templates: resolve(&config.templates_dir, "templates"),
            static_root: resolve(&config.static_dir, "static"),
            firmware_root: resolve(&config.firmware_dir, "firmware"),
        };
        let patterns = config
            .profiles
            .paths
            .iter()
            .map(|p| PathPattern::parse(p).expect("checked by Config::check"))
            .collect();
        let rule_path = config
            .profiles
            .paths
            .iter()
            .find(|p| p.contains("$MA"))
            .cloned()
            .unwrap_or_else(|| "/$MA.cfg".into());
        let mut auth_by_mac = HashMap::new();
        let mut auth_by_group = HashMap::new();
        let mut auth_all = None;
        for (i, rule) in config.auth.iter().enumerate() {
            for m in &rule.macs {
                if let Ok(mac) = Mac::parse(m) {
                    auth_by_mac.insert(mac, i);
                }
            }
            for g in &rule.groups {
                auth_by_group.insert(g.clone(), i);
            }
            if rule.all {
                auth_all = Some(i);
            }
        }
        let redirects = config
            .redirects
            .iter()
            .filter_map(|(m, u)| Mac::parse(m).ok().map(|m| (m, u.clone())))
            .collect();
        Policy {
            config,
            patterns,
            rule_path,
            auth_by_mac,
            auth_by_group,
            auth_all,
            redirects,
            dirs,
        }
    }

    /// The auth rule covering a device (MAC first, then group, then all).
    pub fn auth_for(&self, mac: Mac, group: Option<&str>) -> Option<&AuthRule> {
        self.auth_by_mac
            .get(&mac)
            .or_else(|| group.and_then(|g| self.auth_by_group.get(g)))
            .or(self.auth_all.as_ref())
            .map(|&i| &self.config.auth[i])
    }

    /// The firmware target of a device (group wins over model).
    pub fn firmware_for(
        &self,
        group: Option<&str>,
        model: Option<&str>,
    ) -> Option<&FirmwareTarget> {
        let fw = &self.config.firmware;
        group
            .and_then(|g| fw.groups.get(g))
            .or_else(|| model.and_then(|m| fw.models.get(m)))
    }
}

/// Bound addresses of the listeners (known after binding).
#[derive(Debug, Clone, Copy, Default)]
pub struct Bound {
    /// TFTP.
    pub tftp: Option<SocketAddr>,
    /// HTTP.
    pub http: Option<SocketAddr>,
    /// HTTPS.
    pub https: Option<SocketAddr>,
    /// Syslog.
    pub syslog: Option<SocketAddr>,
    /// TR-069 ACS.
    pub acs: Option<SocketAddr>,
}

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
                crate::server::tls_config(&policy.config, &old.dirs.data)?,
            ))),
            false => None,
        };
        self.tls.store(tls);
        self.policy.store(Arc::new(policy));
        self.templates.store(Arc::new(templates));
        self.generation.store(next, Ordering::Release);
        Ok(next)
    }

    /// Builds the authenticator for a config.
    pub fn default_auth(cfg: &Config) -> Box<dyn Authenticator> {
        Box::new(DigestAuth::new(
            &cfg.auth_settings.realm,
            std::time::Duration::from_secs(cfg.auth_settings.nonce_ttl_secs),
        ))
    }
}

/// Device variables that mean something to the server.
pub mod vars {
    /// `pending` marks an auto-registered device awaiting approval (404
    /// until an admin removes it or sets it to `approved`).
    pub const STATUS: &str = "phoneprov_status";
    /// A URL: the device has moved; answered with a redirect.
    pub const REDIRECT: &str = "redirect";
}

/// Whether a device is awaiting approval.
pub fn is_pending(vars: &BTreeMap<String, String>) -> bool {
    vars.get(vars::STATUS).is_some_and(|v| v == "pending")
}
