//! The phone side's provisioning client as a sans-IO state machine: one
//! virtual phone, driven by a virtual clock (SPEC §1–§9, §12; DESIGN.md
//! "sans-IO cores", modelled on `quinn-proto`).
//!
//! No IO happens here: no sockets, no clock reads, no threads. A driver
//! (the tokio shell, `phoneprov sim`, or a test) feeds [`Input`]s and
//! timeouts and carries out the [`Action`]s. The same code runs one phone
//! in a unit test or 100 000 in the fleet simulator.
//!
//! # How a driver uses it
//! ```
//! use phoneprov_phone::*;
//! let id = PhoneIdentity {
//!     mac: "000e08abcdef".into(), serial: "88012BA01234".into(),
//!     pn: "CP-8841-3PCC".into(), psn: "8841".into(),
//!     swver: "11.0.1".into(), hwver: "1".into(),
//! };
//! let mut cfg = PhoneConfig::new(id);
//! cfg.initial_params = vec![("Profile_Rule".into(), "tftp://192.168.1.200/basic.txt".into())];
//! let mut phone = Phone::new(cfg);
//! let mut now = Time(0);
//! phone.handle_input(Input::PowerOn, now);
//! loop {
//!     while let Some(action) = phone.poll_action() {
//!         if let Action::Fetch(req) = action {
//!             // Perform req (TFTP/HTTP) for real, then report the result:
//!             let body = b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>".to_vec();
//!             phone.handle_input(Input::FetchDone { id: req.id, result: FetchResult::TftpOk(body), server_ip: None }, now);
//!         }
//!     }
//!     if phone.params().get("GPP_A") == Some("12345678") { break; }
//!     // Sleep until the next timer (a virtual clock just jumps there).
//!     now = phone.poll_timeout().expect("a resync is scheduled");
//!     phone.handle_timeout(now);
//! }
//! ```
//! # The whole phone: [`Device`]
//! [`Phone`] is the resync engine. [`Device`] composes it with the
//! customization client ([`activation`], R-ACT: the engine waits while
//! the activation service is asked, `gds://` codes, reboot and factory
//! reset) and the triggers (`/admin/resync`, `/CGI/Execute`, SIP NOTIFY
//! via [`sip`]) and the SIP registration of lines over UDP, TCP and TLS
//! ([`register`]: RFC 3261 timers E and F on the phone's clock,
//! `TLS_Name_Validate_n_`) behind the same [`Input`]/[`Action`]
//! vocabulary, one [`Device::poll_timeout`] and one [`Time`]. `phoneprov
//! sim` drives a `Device` per phone with the decisions of a
//! [`pacing::Pacer`] (the phone's clock under `--once`, when it is done);
//! `tests/device.rs` and `tests/pacing.rs` drive them on a virtual clock.
//!
//! Time is [`Time`]: virtual milliseconds of **local wall-clock time**, so
//! `Resync_At__HHmm_` is `now % 1 day`. Fetch results may arrive at any
//! later time; answers with a stale [`FetchId`] are ignored.
//!
//! # State machine
//! ```text
//!   Off --PowerOn--> Idle <--------------------------------------+
//!                     |  timer / trigger / ResyncNow / NetworkUp |
//!                     v  (waits while a call is up, until        |
//!                  pending   CallEnded or Forced_Resync_Delay)   |
//!                     |                                          |
//!          Resyncing: rule 0..3 ── select ── assignments ── Fetch|
//!                     |   301/302 refetch, 401/407 answer ≤2     |
//!                     |   body → decode → parse → apply (atomic) |
//!                     |   first failure ends it: class B / C ----+ retry timer
//!                     |   all done: class A ---------------------+ periodic timer
//!                     v
//!          Upgrading (idle only; after each resync, on retry timer,
//!                     UpgradeNow) ── image ── Reboot{new_swver} ── boot
//!          Reporting (ReportNow) ── PUT/POST report
//! ```
//! One operation runs at a time; resync requests coalesce while one waits.
//! Priority when the phone is free: resync, then upgrade, then report.
//!
//! # Inputs and outputs
//! * [`Input`]: power, network, call start/end, fetch results, and the
//!   triggers the driver exposes (`/admin/resync?RULE`, the XML Execute
//!   object via [`parse_execute_xml`], `/admin/upgrade?URL`, report now).
//! * [`Action`]: [`FetchRequest`]s (with `User-Agent`, `Authorization`,
//!   method and body), syslog lines, changed parameters, outcome notices,
//!   `Reboot`. [`Phone::poll_timeout`] says when to call
//!   [`Phone::handle_timeout`].
//! * [`Phone::params`], [`Phone::stats`], [`Phone::status_json`] for
//!   status pages.
//!
//! # Behaviour in brief (details in each module)
//! * Result classes and retries: [`fetch`] (R-RESULT table, 5 redirect
//!   hops, 2 authentication answers) and [`schedule`] (all timing forms).
//! * Profiles: `--key` / `Content-Encoding: aes128gcm` (key from `--key`,
//!   else the secret string `IKM_HTTP_Encrypt_Content`, R-FMT-7), gzip,
//!   `--alias` (map in GPP_x), `--post`. A profile that
//!   does not decode or parse applies nothing and is class B.
//! * Firmware: [`upgrade`] (version rule, final vs retryable failures).
//! * Reports: [`report`]. Syslog (R-LOG): one line before and one after
//!   each profile rule's fetch and each firmware fetch (so a resync of two
//!   rules sends up to four lines, each naming its URL), from the `Log_*`
//!   templates (seed names `Log_Resync_*` accepted), macro-expanded with
//!   `$SCHEME $SERV $SERVIP $PORT $PATH $ERR` of that request; `$SERVIP` is
//!   the address the driver reports in `FetchDone`, else the host name. An
//!   empty template or no `Syslog_Server`/`Syslog_Server_IP` sends nothing.
//! * Timing: [`schedule`]. `Resync_Random_Delay` spreads the boot resync
//!   and every periodic interval. The upgrade rule is evaluated after every
//!   resync (any class), on its retry timer and on `UpgradeNow`.
//! * `Custom_CA_Rule`: [`custom_ca`] (an additional trust anchor the
//!   driver adds to HTTPS and TR-069, status like the seeds' "Custom CA
//!   Info").
//! * `Restricted_Access_Domains`, `User-Agent` and
//!   `Profile_Authentication_Type`: [`security`]. Reports never hold a
//!   secret parameter ([`report`]).
//! * `Resync_Trigger_n`: evaluated after every input and every
//!   [`TRIGGER_POLL_SECS`] while set; edge-triggered (a resync when the
//!   condition turns true; one already true at power-on does not fire, the
//!   boot resync covers it). Conditions use the rule syntax, with or without
//!   the `( … )?` wrapper; `$PRVTMR`/`$UPGTMR` are seconds since the last
//!   resync / upgrade attempt, `$PRVST`/`$UPGST` 0 none, 1 ok, 2 failed.
//! * `Provision_Enable = No`: no resync, upgrade or report starts; timers
//!   are disarmed and requests are answered with `RequestRefused`.
//!
//! # Why some of it is hand-written
//! The engine itself is this project's logic. Rules, macros, profiles and
//! crypto come from the workspace crates; XML Execute objects are read with
//! `quick-xml`, redirect URLs with `url`, randomness is `rand_chacha`
//! (seeded, reproducible), and HTTP Basic/Digest answers ([`auth`]) come
//! from the workspace's `phoneprov-httpauth`, shared with the server side.

pub mod activation;
pub mod auth;
mod context;
pub mod custom_ca;
mod device;
mod engine;
pub mod execute;
pub mod fetch;
pub mod inform;
pub mod pacing;
pub mod proxy;
pub mod register;
pub mod report;
mod resync;
pub mod schedule;
pub mod security;
pub mod sip;
pub mod sip_txn;
mod status;
pub mod store;
mod types;
pub mod upgrade;

pub use device::{ActivationSetup, Device, DeviceConfig};
pub use engine::{Phone, TRIGGER_POLL_SECS};
pub use execute::{parse_execute_xml, ExecuteCommand, ExecuteError, ExecuteItem};
pub use inform::Tr069Setup;
pub use phoneprov_cwmp::{Event as InformEvent, EventCode};
pub use phoneprov_rule::{ResolvedUrl, Scheme};
pub use resync::PROFILE_RULES;
pub use status::Stats;
pub use store::ParamStore;
pub use types::{
    header, Action, Class, Credentials, FetchId, FetchRequest, FetchResult, Input, PhoneConfig,
    PhoneIdentity, Purpose, Time,
};
