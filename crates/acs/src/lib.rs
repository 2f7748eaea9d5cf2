//! `phoneprov-acs`: the TR-069 ACS of `phoneprov serve` (SPEC §10,
//! R-TR69-2, R-TR69-3, R-TR69-4), the network shell around the sans-IO
//! [`phoneprov_cwmp::AcsSession`], with a durable per-device task queue.
//!
//! # What it does
//! - **Sessions** (port 7547 by default): [`Acs::serve`] runs a hyper 1
//!   HTTP/1.1 server. Inform → InformResponse → CPE requests
//!   (TransferComplete, GetRPCMethods) → the CPE's empty POST → queued
//!   tasks one by one → `204`. One session per TCP connection; a CPE that
//!   reconnects mid-session is found again by the `phoneprov_cwmp` cookie.
//!   `Expect: 100-continue` works (the body is read only after
//!   authentication), bodies are size-limited (413), and idle sessions
//!   are reaped with their tasks requeued.
//! - **CPE authentication** ([`AcsAuth`]): none, Basic or Digest
//!   (SHA-256 and MD5 offered, RFC 7616, `phoneprov-httpauth`), against
//!   shared or per-CPE credentials; every 401 carries a fresh nonce.
//! - **Task queue** (`acs_tasks` in `<data>/phoneprov.db`): tasks are
//!   queued with [`Acs::enqueue`] or `POST /api/v1/devices/{mac}/tasks`
//!   ([`TaskRpc`], every ACS request of R-TR69-2), claimed by the device's
//!   next session (`queued` → `sent` → `done`/`fault`, Downloads answered
//!   with status 1 wait in `transferring` for their TransferComplete,
//!   matched by CommandKey). A task `sent` in a session that dies is
//!   requeued: nothing is lost.
//! - **Presets** ([`Preset`]): tasks queued automatically (ahead of the
//!   others) when an Inform carries `0 BOOTSTRAP`, `1 BOOT` or
//!   `2 PERIODIC`.
//! - **Downloads**: firmware, vendor configuration file (the rendered
//!   profile: the URL defaults to [`AcsSettings::profile_url`]) and custom
//!   CA (`X 000E08 Custom CA`); TransferComplete completes the task and
//!   adds an `upgrade` event to the device timeline.
//! - **Data model cache** (`acs_datamodel`): values from Informs,
//!   GetParameterValues and successful SetParameterValues, writability
//!   from GetParameterNames; cleared on `0 BOOTSTRAP`. Paths and XML
//!   parameter names are one store (R-TR69-4): tasks accept either name
//!   and the cache shows both ([`task::to_tr069_path`]).
//! - **Timeline**: every Inform of a device the inventory knows (by serial
//!   number, or by a `…MACAddress` parameter, or a serial that is a MAC)
//!   is appended as an `inform` event; unknown CPEs are served or refused
//!   ([`UnknownCpes`]).
//! - **Connection requests** ([`Acs::connection_request`]): HTTP `GET` to
//!   the cached `ConnectionRequestURL` with Digest credentials.
//!
//! # Using it from `phoneprov serve`
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use phoneprov_acs::{Acs, AcsSettings};
//! let acs = Acs::open(std::path::Path::new("phoneprov-data"), AcsSettings::default())?;
//! let admin = acs.api_router(); // mount behind the admin-token middleware
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:7547").await?;
//! acs.serve(listener, std::future::pending::<()>()).await;
//! # drop(admin); Ok(()) }
//! ```
//!
//! # Why partly hand-written
//! HTTP is hyper/axum, authentication `phoneprov-httpauth`, storage
//! `phoneprov-store` (which owns all SQL), CWMP `phoneprov-cwmp`. What is written here is the glue no
//! crate provides: session bookkeeping by connection and cookie, the task
//! table, and the mapping of session events to rows. The connection
//! request client is `phoneprov-transport`'s, the one HTTP stack towards
//! phones: two raw requests with full control of the `Authorization`
//! header.

mod acs;
mod api;
mod auth;
mod config;
mod connreq;
pub mod db;
mod error;
mod http;
mod session_log;
pub mod task;

pub use acs::Acs;
pub use api::Guard;
pub use config::{AcsAuth, AcsSettings, ConnectionRequestSettings, Preset, UnknownCpes};
pub use connreq::{send_connection_request, ConnectionRequestOutcome};
pub use db::{enqueue, DataModelEntry, TaskRecord, TaskState};
pub use error::AcsError;
pub use http::{AcsIo, Upgrade, Upgraded};
pub use session_log::{SessionEnd, SessionLog, SessionSummary};
pub use task::{
    parse_request, DownloadKind, DownloadSpec, SetAttribute, SetValue, TaskOptions, TaskRpc,
};
