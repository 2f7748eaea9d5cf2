//! `phoneprov-console`: the operator's web console of `phoneprov serve`
//! (issue 14), mounted at `/ui/` beside the admin API.
//!
//! # Stack, and why
//! Server-rendered HTML: axum handlers (the API's framework, so the console
//! merges into the same mounted router) and **minijinja** templates (already
//! the profile template engine of the workspace; HTML auto-escaping on the
//! `.html` templates). Templates, the stylesheet and one small script are
//! embedded in the binary with `include_str!`: no CDN, nothing fetched at
//! run time, no Node toolchain. The script (`assets/console.js`, ~60
//! lines, hand-written: it is too small for a library) does two things,
//! both optional: it shows `<time>` elements in the browser's time zone and
//! refreshes the live parts of the device page (timeline, tasks) by polling
//! an HTML fragment every two seconds. Every page reads fully without
//! JavaScript; every action is a plain HTML form (works without it too).
//! A single-page app was the alternative; it would need a JSON API for
//! every view, a build step and a bigger attack surface for the same pages.
//!
//! # Safety (issue 14 item 2)
//! Users with roles `admin` and `helpdesk` (`phoneprov user add|passwd|rm|
//! list`, [`users`]), argon2 hashes, signed session cookies that work across
//! nodes sharing a database, a CSRF token on every form, a strict
//! Content-Security-Policy (`default-src 'none'`, scripts and styles from
//! `'self'` only, no inline script or style), an idle timeout, and failed
//! sign-ins logged as `authentication failed: door=console client=ADDR
//! user="NAME"` and slowed by the server's throttle
//! (`phoneprov_httpauth::AuthGuard`); see [`auth`]. Help desk users view,
//! push resyncs and queue read-only ACS tasks; they never see a device key
//! or a decrypted profile and cannot change variables. The API's bearer
//! token is unchanged.
//!
//! # Pages
//! `/ui/overview` (counts by outcome, model and firmware linking to the
//! filtered list, resyncs per hour over 24 h as an inline SVG chart, recent
//! errors), `/ui/devices` (search and filters in the query string, so a
//! filtered list is a bookmark), `/ui/devices/{mac}` (identity, variables,
//! status, rendered profile with lint findings, live timeline and ACS
//! tasks, push resync), `/ui/templates` (the template tree, each change
//! previewed on every device and refused when it would break lint; see
//! `template_pages`), `/ui/groups` and `/ui/groups/{name}` (devices per
//! group, the group's template, firmware targets, and a device's rendered
//! profile with its lint findings; see `pages::groups`), `/ui/activation`
//! (bindings, codes with their use; admins create and revoke codes, with a
//! printable list; see `pages::activation`). The store side of the search is
//! [`phoneprov_store::ConsoleRepo`].

pub mod auth;
mod counts;
mod pages;
mod template_pages;
pub mod users;
mod view;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use phoneprov_store::{Database, Device, SecretRepo, Store, StoreError};

pub use pages::{parse_vars, VarError};

/// What the server renders for the device page: the profile as the phone
/// would receive it, before encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The template used.
    pub template: String,
    /// The profile text (XML), with the key inside its `Profile_Rule`.
    pub xml: String,
    /// Lint findings, one line each (severity first).
    pub findings: Vec<String>,
}

/// A configured firmware target (`[firmware.models."PN"]` or
/// `[firmware.groups.G]`), as the console shows it (read-only: targets
/// change in the config file, or per device through a staged rollout).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FirmwareRow {
    /// The model (product name) or group the target is for.
    pub name: String,
    /// The version.
    pub version: String,
    /// The image file, relative to the firmware directory.
    pub file: String,
}

/// The configured firmware targets: by model and by group (a group's
/// wins over its devices' model's).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FirmwareTargets {
    /// By model, sorted by name.
    pub models: Vec<FirmwareRow>,
    /// By group, sorted by name.
    pub groups: Vec<FirmwareRow>,
}

/// Renders a device's profile for the console; implemented by the server
/// (which owns templates and config). `host` is the name the console was
/// reached by (it goes into the URLs of the profile).
pub trait ProfilePreview: Send + Sync {
    /// The profile, or why it cannot be rendered (one line).
    fn preview(&self, device: &Device, host: &str) -> Result<Preview, String>;
    /// The firmware targets of the running config (the group pages).
    fn firmware_targets(&self) -> FirmwareTargets;
}

/// Marks a request that came over TLS (put in the request's extensions by
/// the server), so cookies get `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverTls(pub bool);

/// Why the console could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The activation tables.
    #[error(transparent)]
    Activation(#[from] phoneprov_activation::ActivationError),
}

/// Settings of [`Console::open`].
pub struct ConsoleOptions {
    /// A session idle longer than this is refused.
    pub idle: Duration,
    /// The failed-sign-in log and slow-down (shared with the server's
    /// other doors).
    pub guard: Arc<phoneprov_httpauth::AuthGuard>,
    /// The ACS, when on (tasks on the device page).
    pub acs: Option<phoneprov_acs::Acs>,
    /// Profile rendering.
    pub preview: Arc<dyn ProfilePreview>,
    /// Template reading, preview and saving (the server's; `None`: the
    /// template pages say they are unavailable).
    pub templates: Option<Arc<dyn phoneprov_api::templates::TemplateEditor>>,
}

/// The console: state shared by its handlers. Cheap to clone.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Mutex<Store>>,
    key: Vec<u8>,
    idle: Duration,
    guard: Arc<phoneprov_httpauth::AuthGuard>,
    acs: Option<phoneprov_acs::Acs>,
    preview: Arc<dyn ProfilePreview>,
    templates: Option<Arc<dyn phoneprov_api::templates::TemplateEditor>>,
    env: minijinja::Environment<'static>,
    db: Database,
    overview: Arc<counts::OverviewCounts>,
    /// Codes and bindings of the activation service (`/ui/activation`).
    activation: Arc<Mutex<phoneprov_activation::ActivationStore>>,
}

impl Console {
    /// Opens the console: its own connection to the store `db` (SQLite
    /// data directory or PostgreSQL) and the session key (created in the
    /// store on first use, so every node sharing the database signs and
    /// accepts the same cookies). Push resync reads the phone's address
    /// and records the push through this connection too.
    pub fn open(db: &Database, opts: ConsoleOptions) -> Result<Console, ConsoleError> {
        let mut store = Store::connect(db)?;
        let key = store.ensure_secret(auth::SESSION_SECRET, &fresh_key())?;
        Ok(Console {
            inner: Arc::new(Inner {
                store: Arc::new(Mutex::new(store)),
                key,
                idle: opts.idle,
                guard: opts.guard,
                acs: opts.acs,
                preview: opts.preview,
                templates: opts.templates,
                env: view::environment(),
                db: db.clone(),
                overview: Arc::new(counts::OverviewCounts::new(db.clone())),
                activation: Arc::new(Mutex::new(phoneprov_activation::ActivationStore::open_db(
                    db,
                )?)),
            }),
        })
    }

    /// Counts the overview's numbers in the background now (`serve` calls
    /// this as it starts), so the first `/ui/overview` after a start shows
    /// them instead of counting while the operator waits (issue 14; see
    /// `counts`).
    pub fn warm_overview(&self) {
        self.inner.overview.warm();
    }

    /// The `/ui` routes, to merge into the server's mounted router.
    pub fn router(&self) -> axum::Router {
        pages::router(self.clone()).merge(template_pages::router(self.clone()))
    }
}

fn fresh_key() -> Vec<u8> {
    use rand::RngCore as _;
    let mut k = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    k
}
