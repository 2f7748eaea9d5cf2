//! `phoneprov-server`: the provisioning server core behind `phoneprov serve`
//! (SPEC §1 R-FLOW, §5 R-TFTP/R-HTTP/R-HTTPS, §6 R-RESULT, §9 R-LOG).
//!
//! # Architecture
//! ```text
//!  TFTP (udp) ──► tftp_front ─┐               pipeline (one for all three)
//!  HTTP  (tcp) ─► http ───────┼─► extract ─► retrieve ─► decide ─► produce ─► record
//!  HTTPS (tcp) ─► rustls+http ┘   (path,      (device    (cert,     (render:   (status,
//!  syslog (udp) ─► phoneprov-syslog  UA, cert,  cache)    auth,      context →  timeline)
//!  ACS (tcp) ───► phoneprov-acs      source)              redirect,  rules →       │
//!  /activation/ (phone ports) ─► phoneprov-activation       variant)  encode)      ▼
//!  admin (tcp): /api/v1, /metrics ─► admin ─► phoneprov-api, -acs, -activation
//!                                                             StatusWriter (batched)
//!                                                                     ▼
//!               phoneprov-store (SQLite, WAL)  ◄── ReadPool (spawn_blocking)
//! ```
//! * **Serve product** ([`serve::run`], [`Server::start`], `services`):
//!   the admin API, activation service, ACS and syslog filer are opened,
//!   then every listener is bound, then everything is served; SIGTERM
//!   stops them all together. The `phoneprov serve` binary only parses
//!   flags.
//! * **Identification** ([`pipeline`]): one pipeline for HTTP, HTTPS and
//!   TFTP; its module docs list what each protocol does and why.
//! * **Listeners** ([`Server::start`]): every socket is bound before
//!   anything is served, so a port in use is one clear error. HTTP/1.0 and
//!   1.1 (keep-alive, chunked) come from hyper; TLS from rustls through
//!   `phoneprov-pki`'s server configuration (ring provider, client
//!   certificates off/optional/required); TFTP from `phoneprov-tftp`.
//! * **[`AppState`]**: one `Arc` shared by all listeners: the compiled
//!   config ([`state::Policy`]) and templates in `ArcSwap`s (SIGHUP swaps
//!   them atomically, a request sees one consistent version), the read
//!   pool, the status writer, the caches, the authenticator, the metrics
//!   handle, and the mounted REST API ([`ApiHandler`]: `/api/` on the
//!   admin listener, see [`admin`]; `/activation/` on the phones' ports).
//! * **Render** ([`render`]): device row → most specific template
//!   (`device/<mac>`, `group/<g>`, `model/<PN>`, `default`; see
//!   [`templates`]) → context ([`context`]) → minijinja with XML escaping
//!   → `Profile_Rule` and `Upgrade_Rule` built with the rule crate's syntax
//!   tree and inserted when missing ([`rules`]) → lint (`strict`: errors
//!   give 500 + event) → gzip (optional) → AES-256-CBC (`openssl enc`
//!   format) or aes128gcm with the device key → strong ETag ([`encode`]).
//! * **Cache**: device rows by MAC for `device_ttl_ms`, rendered output by
//!   (MAC, variant) while (template generation, row hash, host) match; a
//!   warm request touches neither SQLite nor a cipher.
//! * **Status writer** ([`store_io`]): every served profile/firmware request
//!   queues a status update + event with `try_send`; one thread drains the
//!   queue in batches (status folded per MAC). Full queue: dropped and
//!   counted, never blocking a request.
//!
//! # Security policy
//! * Over plain HTTP and TFTP a device profile only ever leaves encrypted
//!   with that device's key. The key itself is delivered by the plaintext
//!   *bootstrap* profile (`Profile_Rule = [--key K] http://…/$MA.cfg`),
//!   served only over HTTPS to a client whose verified certificate names
//!   that MAC (or to any HTTPS client with
//!   `security.bootstrap_without_client_cert`), or over any protocol to
//!   addresses in `security.preprovision_networks` (a staging network the
//!   operator trusts).
//! * A client certificate for MAC X asking for MAC Y's profile gets 403 and
//!   an event. Unknown devices get 404 (class B); with
//!   `profiles.auto_register` they are added with variable
//!   `phoneprov_status = pending` and keep getting 404 until an admin
//!   approves them.
//! * Paths are percent-decoded once and refused (400) with `..`, NUL or a
//!   backslash; files are then resolved by canonical path inside the static
//!   or firmware root only. Request heads above `limits.max_header_bytes`
//!   get 431, bodies above `limits.max_body_bytes` 413, slow requests 408.
//! * Keys and profile bodies are never logged (the store's `DeviceKey` has
//!   no `Display`; render errors carry template names and lint codes only).
//!   Report bodies are stored as events on purpose (R-HTTP-2 tracking).
//!
//! # Hand-written parts
//! Path patterns (the phone's own macro syntax), the User-Agent parser and
//! the Digest server side (no maintained crate manages server nonces; the
//! `phoneprov-httpauth` crate will take over behind [`auth::Authenticator`]).

pub mod access_log;
pub mod admin;
pub mod auth;
mod changes;
pub mod check;
pub mod config;
mod console_glue;
pub mod context;
pub mod database;
pub mod decide;
pub mod encode;
mod error;
pub mod extract;
pub mod files;
pub mod http;
pub mod metrics_setup;
mod mount;
pub mod paths;
pub mod pipeline;
pub mod policy;
pub mod record;
pub mod render;
pub mod rules;
pub mod serve;
mod server;
mod services;
pub mod state;
pub mod store_io;
pub mod syslog_filing;
pub mod template_change;
pub mod templates;
mod tftp_front;
mod tls;
pub mod unknown;

pub use config::{Bound, Config, Listen, ListenOverrides};
pub use error::ServerError;
pub use server::{listen_tcp, Server, StartOptions, LISTEN_BACKLOG};
pub use state::{ApiHandler, AppState};
pub use tftp_front::TftpFront;
