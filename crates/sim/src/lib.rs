//! # phoneprov-sim: virtual phones on tokio
//!
//! The thin async shell around `phoneprov-phone`'s sans-IO engine
//! (DESIGN.md "sans-IO cores, thin async shells"): one engine runs one
//! phone in a test, or 100 000 in `phoneprov sim`, against real servers.
//!
//! * [`driver`]: one task per phone: carry out the device's actions, then
//!   wait for the transfer in flight, a trigger or the next timer (the
//!   decisions are `phoneprov_phone::pacing`'s). One request per `Fetch`
//!   (the engine follows 301/302 and answers 401/407).
//! * [`exec`]: a `FetchRequest` → `phoneprov-transport` (HTTP/HTTPS with
//!   rustls, the manual proxy, DNS SRV in RFC 2782 order, TFTP) →
//!   `FetchResult`; the REGISTER of a line over TLS with
//!   `TLS_Name_Validate_n_`. TLS per phone from `TLS_Cipher_List`, the
//!   trusted CA and `DIR/<mac>.pem/.key` (R-SEC,
//!   R-HTTPS-5); configurations without a client certificate are shared,
//!   per-phone ones are built for a transfer and dropped after it.
//! * [`dhcp_client`]: `--dhcp-interface`: one UDP socket on port 68 for the
//!   fleet, each phone's DHCPv4 exchange (the sans-IO
//!   `phoneprov_transport::DhcpClient`) before it provisions.
//! * [`fleet`]: identities, the DHCP lease in `DHCP_Option_To_Use` then
//!   `DHCPv6_Option_To_Use` order (R-DHCP), the DNS SRV step of the
//!   discovery chain ([`discovery`], R-FLOW-4), `--concurrency` (a semaphore over transfers, so 100 000
//!   phones do not exhaust file descriptors), `--boot-storm`, `--once`.
//! * [`triggers`]: `/<mac>/admin/resync?RULE`, `/admin/upgrade?URL`,
//!   `POST /CGI/Execute`, `/status.json` on one `--listen` (R-RULE-6).
//! * [`report`]: resyncs by class A/B/C, upgrades, latency p50/p90/p99,
//!   bytes, resyncs per second, phones per customization state.
//! * [`activation`]: the activation executor (`--activation URL`, R-ACT):
//!   the HTTP side of the customization client that each phone's
//!   `phoneprov_phone::Device` runs (asks the activation service who
//!   provisions a phone without a DHCP server, redeems `gds://` codes from
//!   `--gds-code` and `POST /<mac>/activation/code`, the 12.0(3) backoff;
//!   the state survives `/admin/reboot` and is reset by
//!   `/admin/factory-reset`).
//! * [`sip`]: `--sip-listen ADDR:PORT`, UDP and TCP: NOTIFY `check-sync`
//!   / `resync` to `sip:MAC@ADDR` (R-RULE-6), answered by the device.
//!
//! ```no_run
//! # async fn f() -> Result<(), phoneprov_sim::SimError> {
//! use phoneprov_sim::{run_fleet, SimConfig};
//! let mut cfg = SimConfig::new(1);
//! cfg.params.push(("Profile_Rule".into(), "http://127.0.0.1:8080/$MA.xml".into()));
//! let report = run_fleet(cfg).await?;
//! println!("{}", report.to_text());
//! std::process::exit(report.once_exit_code());
//! # }
//! ```
//!
//! * [`cpe`]: the TR-069 CPE agent of each phone (SPEC §10): ACS from
//!   `--acs` or DHCP options 43/125 with 60 = `dslforum.org`, Inform with
//!   the R-TR69-3 events, every RPC of R-TR69-2 against the phone's
//!   parameters (XML names ↔ TR-069 paths, R-TR69-4), Digest-protected
//!   connection requests on `--cr-listen`, periodic inform, back-off.
//!
//! Syslog actions go to `Syslog_Server` over UDP (`SyslogSender`, R-LOG).
//! `Proxy_Mode=Auto` evaluates the PAC file (`PAC_URL` or WPAD) with boa
//! ([`exec`]). Not simulated: `gds://` as a resync rule (class C;
//! the onboarding itself runs in [`activation`] with `--activation`).
//!
//! ## Hand-written parts
//! The trigger routing (the `/<mac>` prefix is optional, so axum's router
//! cannot express it) and the percentile computation (exact, over a
//! `Vec<u32>`: smaller than a histogram crate for this use), and raising
//! the open-file soft limit (two `libc` calls; `--concurrency` sockets must
//! fit). Everything
//! networked is `phoneprov-transport` (hyper, rustls, hickory) and axum.

pub mod activation;
pub mod config;
pub mod cpe;
pub mod dhcp_client;
pub mod discovery;
pub mod driver;
pub mod exec;
pub mod fleet;
pub mod report;
pub mod sip;
mod sip_flows;
pub mod triggers;

pub use config::{psn_of, serial_for, ClientCerts, RunMode, SimConfig};
pub use cpe::{CwmpReport, Tr069Config};
pub use driver::{Control, PhoneOutcome};
pub use fleet::{lease_effect, run_fleet, Fleet, LeaseEffect, ShutdownHandle};
pub use phoneprov_phone::Credentials;
pub use phoneprov_transport::DhcpLease;
pub use report::{ClassCounts, FleetReport, FleetStats, Percentiles};

/// Why a simulation could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A flag or value is wrong.
    #[error("{0}")]
    Config(String),
    /// The trigger listener could not bind.
    #[error("cannot listen on {addr}: {err}; pick a free --listen ADDR:PORT")]
    Listen { addr: String, err: String },
    /// The DHCP socket could not be opened on `--dhcp-interface`.
    #[error("--dhcp-interface {iface}: {err}; give an existing interface (`ip link`), and run as root or with CAP_NET_RAW and CAP_NET_BIND_SERVICE (DHCP client port 68, DHCPv6 546, SO_BINDTODEVICE)")]
    Dhcp { iface: String, err: String },
}
