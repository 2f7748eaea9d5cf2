//! The TR-069 CPE executor of each virtual phone (SPEC §10, R-TR69-1 … 4):
//! the tokio shell around `phoneprov-cwmp`'s sans-IO [`CpeSession`].
//!
//! # Design: the device schedules, the agent executes
//! *When* to inform and with which events (boot, bootstrap, periodic,
//! connection request, the TR-069 back-off and `RetryCount`) is decided by
//! each phone's sans-IO `phoneprov_phone::Device` (its `inform` module),
//! on the phone's clock, tested on a virtual clock. Its
//! `Action::Inform { events, retry_count }` reaches the agent ([`agent`]),
//! a task per phone that runs the session over HTTP against its data
//! model and answers `Input::InformDone`. The device stays the one owner
//! of the parameters; the agent holds a clone of the phone's [`Control`]
//! sender and receives a copy of the device's outcome actions (the
//! driver's `cpe_events`):
//!
//! * **Reads**: before each session, and whenever the engine reports
//!   `ParamsApplied`, the agent asks the driver for a snapshot
//!   (`Control::Status`) and refreshes its data model ([`model`]). A
//!   changed value of a parameter with notification on is a
//!   `4 VALUE CHANGE` (active: a session now; passive: in the next one).
//! * **Writes**: SetParameterValues is applied to the agent's model
//!   (all-or-nothing, checked against the profile schema) and forwarded as
//!   `Input::SetParams` with the XML names, so the phone's status page and
//!   final parameters show it. The phone's `ParamsApplied` for it finds
//!   the model already equal: no `VALUE CHANGE` for the ACS's own writes.
//! * **Actions after the session**: Reboot → `M Reboot` then
//!   `Input::Reboot` (the device adds `1 BOOT`); FactoryReset →
//!   `Input::FactoryReset` (a fresh engine from the initial configuration;
//!   the device queues `0 BOOTSTRAP` + `1 BOOT`);
//!   Download firmware → `Input::UpgradeNow` (the engine fetches the image
//!   over HTTP(S), installs it and reboots), vendor configuration file →
//!   `Input::ResyncNow` with the URL as a one-shot rule (fetched and applied
//!   as a profile), custom CA → fetched by the agent and kept; the result
//!   goes into a TransferComplete with `7 TRANSFER COMPLETE` + `M Download`.
//!
//! Sharing the engine state behind a lock was the alternative; the channel
//! keeps the driver's single-owner loop (DESIGN.md "thin async shells")
//! and costs one snapshot per session.
//!
//! # Events (R-TR69-3)
//! `0 BOOTSTRAP` on first contact and after a factory reset or an ACS URL
//! change, `1 BOOT` after every boot (power on, Reboot, firmware install),
//! `2 PERIODIC` every `PeriodicInformInterval` s while
//! `PeriodicInformEnable`, `4 VALUE CHANGE`, `6 CONNECTION REQUEST`,
//! `7 TRANSFER COMPLETE` + `M Download`, `M Reboot`. Events stay queued
//! in the device until a session delivers them; failed sessions are
//! retried with the TR-069 3.2.1.1 back-off (`retry_min_wait` × 2^n,
//! random within the window, capped at n = 10) and `RetryCount` in the
//! Inform. The agent adds the events of its data model (`4 VALUE CHANGE`,
//! transfers, `M Reboot`) with `Input::Tr069Event`.
//!
//! # Connection requests
//! One listener (`--cr-listen ADDR:PORT`) for the whole fleet routes
//! `GET /tr069/<mac>` to the phone ([`connreq`]); HTTP Digest (RFC 7616,
//! `phoneprov-httpauth`'s server side) against the phone's
//! `ConnectionRequestUsername`/`Password`; accepted →
//! `Input::ConnectionRequest` to the device: a session with
//! `6 CONNECTION REQUEST` at once, even during a back-off. The URL is in every Inform
//! (`Device.ManagementServer.ConnectionRequestURL`).
//!
//! # Discovery (R-TR69-1)
//! `--acs URL`, else DHCP option 43 or 125 when option 60 is
//! `dslforum.org` (the vendor class the phone sends), via
//! `phoneprov_transport::provisioning_target` restricted to `43,125`.
//!
//! # `--once`
//! Each phone runs one Inform session (up to three attempts with the
//! back-off; the driver waits for it before the phone ends); sessions, faults and latency go to the
//! fleet report ([`CwmpReport`]). At most `--concurrency` sessions are in
//! flight (a semaphore of their own, beside the engines' transfers); the
//! latency is measured from the Inform POST, not from the wait for a slot.

pub mod agent;
pub mod connreq;
pub mod http;
pub mod model;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use phoneprov_phone::{Action, PhoneConfig};
use phoneprov_transport::{
    provisioning_target, DhcpLease, DhcpTarget, HttpClient, HttpClientConfig, Resolver,
};
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::{RunMode, SimConfig};
use crate::driver::Control;
use crate::report::{FleetStats, Percentiles};
use crate::SimError;

/// TR-069 settings of a fleet (`--acs`, `--acs-user`, `--acs-password`,
/// `--cr-listen`, `--cr-user`, `--cr-password`, `--inform-interval`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tr069Config {
    /// The ACS URL; `None`: from the lease (options 43/125), else off.
    pub acs_url: Option<String>,
    /// ACS credentials (HTTP Digest or Basic); empty user: none.
    pub acs_username: String,
    /// ACS password.
    pub acs_password: String,
    /// Where the connection-request listener binds; `None`: no listener
    /// (an empty `ConnectionRequestURL`).
    pub cr_listen: Option<SocketAddr>,
    /// Connection-request user name; empty: requests are not authenticated.
    pub cr_username: String,
    /// Connection-request password.
    pub cr_password: String,
    /// Initial `PeriodicInformInterval` in seconds (default 3600).
    pub inform_interval: Option<u64>,
    /// TR-069 back-off base (the spec's 5 s); tests shorten it.
    pub retry_min_wait: Duration,
    /// The phones were bootstrapped with this ACS before the run: the first
    /// session carries `2 PERIODIC` (the periodic timer firing on a running
    /// phone) instead of `0 BOOTSTRAP` + `1 BOOT`. For periodic-inform
    /// load tests.
    pub bootstrapped: bool,
}

impl Default for Tr069Config {
    fn default() -> Self {
        Tr069Config {
            acs_url: None,
            acs_username: String::new(),
            acs_password: String::new(),
            cr_listen: None,
            cr_username: String::new(),
            cr_password: String::new(),
            inform_interval: None,
            retry_min_wait: Duration::from_secs(5),
            bootstrapped: false,
        }
    }
}

impl Tr069Config {
    /// The ACS the phones use: `--acs`, else the lease's option 43/125
    /// (only with option 60 = `dslforum.org`, R-TR69-1).
    pub fn acs_url(&self, lease: &DhcpLease) -> Option<String> {
        if let Some(u) = self.acs_url.as_ref().filter(|u| !u.trim().is_empty()) {
            return Some(u.trim().to_string());
        }
        match provisioning_target(lease, "43,125") {
            Some(DhcpTarget::AcsUrl(u)) => Some(u),
            _ => None,
        }
    }

    /// Checks the URL before anything starts.
    pub fn validate(&self, lease: &DhcpLease) -> Result<(), crate::SimError> {
        if let Some(u) = self.acs_url(lease) {
            let lower = u.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                return Err(crate::SimError::Config(format!(
                    "--acs {u:?}: the ACS URL must start with http:// or https:// (e.g. http://acs.example.com:7547/)"
                )));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Count(AtomicU64);

impl Count {
    fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Live TR-069 counters of a fleet.
#[derive(Debug, Default)]
pub struct CwmpStats {
    sessions_ok: Count,
    sessions_failed: Count,
    rpcs: Count,
    faults_sent: Count,
    connection_requests: Count,
    connection_requests_refused: Count,
    transfers_ok: Count,
    transfers_failed: Count,
    session_ms: Mutex<Vec<u32>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl CwmpStats {
    pub(crate) fn session_ok(&self, ms: u64, rpcs: usize, faults: usize) {
        self.sessions_ok.inc();
        self.rpcs.0.fetch_add(rpcs as u64, Ordering::Relaxed);
        self.faults_sent
            .0
            .fetch_add(faults as u64, Ordering::Relaxed);
        self.session_ms
            .lock()
            .expect("lock")
            .push(ms.min(u32::MAX as u64) as u32);
    }

    pub(crate) fn session_failed(&self, error: &str) {
        self.sessions_failed.inc();
        let mut errors = self.errors.lock().expect("lock");
        if errors.len() < 64 || errors.contains_key(error) {
            *errors.entry(error.to_string()).or_default() += 1;
        }
    }

    pub(crate) fn connection_request(&self, accepted: bool) {
        if accepted {
            self.connection_requests.inc()
        } else {
            self.connection_requests_refused.inc()
        }
    }

    pub(crate) fn transfer(&self, ok: bool) {
        if ok {
            self.transfers_ok.inc()
        } else {
            self.transfers_failed.inc()
        }
    }

    /// Sessions finished so far (for tests and progress).
    pub fn sessions_ok(&self) -> u64 {
        self.sessions_ok.get()
    }

    /// The report as of now.
    pub fn report(&self) -> CwmpReport {
        CwmpReport {
            sessions_ok: self.sessions_ok.get(),
            sessions_failed: self.sessions_failed.get(),
            rpcs_answered: self.rpcs.get(),
            faults_sent: self.faults_sent.get(),
            connection_requests: self.connection_requests.get(),
            connection_requests_refused: self.connection_requests_refused.get(),
            transfers_ok: self.transfers_ok.get(),
            transfers_failed: self.transfers_failed.get(),
            session_latency_ms: Percentiles::of(&self.session_ms.lock().expect("lock")),
            errors: self.errors.lock().expect("lock").clone(),
        }
    }
}

/// The TR-069 part of the fleet report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CwmpReport {
    /// Sessions that ended normally (the ACS's empty response).
    pub sessions_ok: u64,
    /// Attempts that failed (HTTP error, garbage, dropped connection).
    pub sessions_failed: u64,
    /// ACS requests answered.
    pub rpcs_answered: u64,
    /// ACS requests answered with a CWMP fault.
    pub faults_sent: u64,
    /// Connection requests accepted.
    pub connection_requests: u64,
    /// Connection requests refused (401: missing or wrong credentials).
    pub connection_requests_refused: u64,
    /// Downloads that completed (TransferComplete fault 0).
    pub transfers_ok: u64,
    /// Downloads that failed.
    pub transfers_failed: u64,
    /// One whole session, Inform to the ACS's empty response.
    pub session_latency_ms: Percentiles,
    /// Failure texts and how often (the first 64 distinct).
    pub errors: BTreeMap<String, u64>,
}

impl CwmpReport {
    /// One text line (plus the first errors) for the human report.
    pub fn to_text(&self) -> String {
        let l = &self.session_latency_ms;
        let mut s = format!(
            "tr069 sessions ok {} failed {}  rpcs {} (faults {})  conn-requests {} (refused {})  transfers ok {} failed {}\ntr069 session ms  p50 {} p90 {} p99 {} max {}\n",
            self.sessions_ok,
            self.sessions_failed,
            self.rpcs_answered,
            self.faults_sent,
            self.connection_requests,
            self.connection_requests_refused,
            self.transfers_ok,
            self.transfers_failed,
            l.p50,
            l.p90,
            l.p99,
            l.max
        );
        for (e, n) in self.errors.iter().take(5) {
            s.push_str(&format!("  {n} x {e}\n"));
        }
        s
    }
}

/// The agents of a fleet and their connection-request listener.
pub(crate) struct CpeFleet {
    shared: Arc<agent::Shared>,
    registry: connreq::CrRegistry,
    listener: Option<tokio::net::TcpListener>,
    cr_addr: Option<SocketAddr>,
    cr_task: Option<JoinHandle<()>>,
    agents: Vec<JoinHandle<()>>,
}

impl CpeFleet {
    /// `None` when no ACS is configured or discovered; binds `--cr-listen`.
    /// `leased` is an ACS that some phone's own lease names (option
    /// 43/125 from its DHCP exchange) when the fleet's lease names none.
    pub(crate) async fn start(
        cfg: &SimConfig,
        stats: Arc<FleetStats>,
        leased: Option<String>,
    ) -> Result<Option<CpeFleet>, SimError> {
        let t = &cfg.tr069;
        t.validate(&cfg.lease)?;
        let Some(acs_url) = t.acs_url(&cfg.lease).or(leased) else {
            return Ok(None);
        };
        let tls = phoneprov_pki::client_config(&phoneprov_pki::ClientTls {
            trust_pem: cfg.trust_pem.clone(),
            extra_trust_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            validate_name: true,
            cipher_list: None,
        })
        .map_err(|e| SimError::Config(format!("TLS for the ACS: {e}")))?;
        let mut hc = HttpClientConfig::new(tls);
        hc.connect_timeout = cfg.connect_timeout;
        hc.request_timeout = cfg.request_timeout;
        hc.resolver = match cfg.dns {
            Some(a) => Resolver::with_server(a),
            None => Resolver::system(),
        };
        let (listener, cr_addr) = match t.cr_listen {
            Some(addr) => {
                let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    SimError::Config(format!(
                        "cannot listen on --cr-listen {addr}: {e}; pick a free ADDR:PORT"
                    ))
                })?;
                let mut a = l
                    .local_addr()
                    .map_err(|e| SimError::Config(format!("--cr-listen {addr}: {e}")))?;
                if a.ip().is_unspecified() {
                    // The URL must name an address the ACS can reach;
                    // loopback is the one that always exists.
                    a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                (Some(l), Some(a))
            }
            None => (None, None),
        };
        let shared = Arc::new(agent::Shared {
            client: Arc::new(HttpClient::new(hc)),
            trust_pem: cfg.trust_pem.clone(),
            acs_url,
            cfg: t.clone(),
            cr_base: cr_addr.map(|a| format!("http://{a}{}", connreq::PATH_PREFIX)),
            once: cfg.mode == RunMode::Once,
            stats,
            request_timeout: cfg.request_timeout,
            slots: Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1))),
        });
        Ok(Some(CpeFleet {
            shared,
            registry: Default::default(),
            listener,
            cr_addr,
            cr_task: None,
            agents: Vec::new(),
        }))
    }

    /// Starts the agent of one phone; returns the sender the phone's
    /// driver copies its outcome actions to. `own_acs` is the ACS of the
    /// phone's own lease (R-TR69-1, `--dhcp-interface`), else the fleet's
    /// is used; `--acs` wins over both.
    pub(crate) fn add_phone(
        &mut self,
        pc: &PhoneConfig,
        control: mpsc::Sender<Control>,
        shutdown: watch::Receiver<bool>,
        own_acs: Option<String>,
    ) -> mpsc::UnboundedSender<Action> {
        let (etx, erx) = mpsc::unbounded_channel();
        let creds = Arc::new(Mutex::new((
            self.shared.cfg.cr_username.clone(),
            self.shared.cfg.cr_password.clone(),
        )));
        if self.listener.is_some() {
            let entry = connreq::CrEntry {
                notify: control.clone(),
                creds: creds.clone(),
            };
            self.registry.insert(pc.identity.mac.clone(), entry);
        }
        let discovered = match &self.shared.cfg.acs_url {
            Some(u) if !u.trim().is_empty() => None,
            _ => own_acs,
        };
        let a = agent::Agent::new(
            self.shared.clone(),
            pc.clone(),
            control,
            erx,
            creds,
            shutdown,
            discovered,
        );
        self.agents.push(tokio::spawn(a.run()));
        etx
    }

    /// Serves connection requests (after every phone was added).
    pub(crate) fn serve(&mut self) {
        if let Some(l) = self.listener.take() {
            let phones = std::mem::take(&mut self.registry);
            self.cr_task = Some(connreq::serve(l, phones, self.shared.stats.clone()));
        }
    }

    /// The device side of TR-069 for each phone (R-TR69-3 scheduling).
    pub(crate) fn setup(&self) -> phoneprov_phone::Tr069Setup {
        let c = &self.shared.cfg;
        phoneprov_phone::Tr069Setup {
            interval_s: c.inform_interval.unwrap_or(3600),
            retry_min_wait_ms: c.retry_min_wait.as_millis() as u64,
            bootstrapped: c.bootstrapped,
        }
    }

    /// The ACS URL in use.
    pub(crate) fn acs_url(&self) -> &str {
        &self.shared.acs_url
    }

    /// The connection-request listener's address.
    pub(crate) fn cr_addr(&self) -> Option<SocketAddr> {
        self.cr_addr
    }

    /// Waits for every agent, then stops the listener.
    pub(crate) async fn wait(self) {
        for h in self.agents {
            let _ = h.await;
        }
        if let Some(t) = self.cr_task {
            t.abort();
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of now (TR-069 `dateTime`, UTC).
pub(crate) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days,
/// H. Hinnant's algorithm).
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_tr69_1_acs_from_flag_or_lease_43_125() {
        let mut c = Tr069Config::default();
        let lease =
            DhcpLease::parse(["60=dslforum.org", "43=1 http://acs.example:7547/cwmp"]).unwrap();
        assert_eq!(
            c.acs_url(&lease).as_deref(),
            Some("http://acs.example:7547/cwmp")
        );
        let no60 = DhcpLease::parse(["43=http://acs.example/"]).unwrap();
        assert_eq!(c.acs_url(&no60), None, "option 60 must be dslforum.org");
        let l125 = DhcpLease::parse([
            "60=dslforum.org",
            "66=tftp",
            "125=3561 1 https://a.example/",
        ])
        .unwrap();
        assert_eq!(c.acs_url(&l125).as_deref(), Some("https://a.example/"));
        c.acs_url = Some("http://flag.example/".into());
        assert_eq!(c.acs_url(&lease).as_deref(), Some("http://flag.example/"));
        c.acs_url = Some("ftp://x/".into());
        assert!(c
            .validate(&lease)
            .unwrap_err()
            .to_string()
            .contains("http://"));
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_305_600), "2026-11-22T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
    }
}
