//! The engine's vocabulary: virtual time, identity and configuration, the
//! inputs a driver feeds in and the actions it takes out (DESIGN.md
//! "sans-IO cores": nothing here touches a socket or a clock).

use phoneprov_rule::ResolvedUrl;
use serde::{Deserialize, Serialize};

/// A point in virtual time: milliseconds since 1970-01-01T00:00 **local
/// wall-clock time** of the phone. The engine never reads a clock; the
/// driver passes `now` with every call. Local (not UTC) so that
/// `Resync_At__HHmm_` needs nothing else: the time of day is `ms % 86 400 000`.
/// A real-time driver passes `SystemTime` since the epoch plus the phone's
/// UTC offset; a simulator passes any monotonic virtual clock.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Time(pub u64);

impl Time {
    /// `s` seconds after the epoch.
    pub fn from_secs(s: u64) -> Time {
        Time(s * 1000)
    }

    /// Milliseconds since the epoch.
    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// This time plus `s` seconds.
    pub fn plus_secs(self, s: u64) -> Time {
        Time(self.0.saturating_add(s.saturating_mul(1000)))
    }

    /// This time plus `ms` milliseconds.
    pub fn plus_millis(self, ms: u64) -> Time {
        Time(self.0.saturating_add(ms))
    }

    /// Milliseconds since local midnight (for `Resync_At__HHmm_`).
    pub fn ms_of_day(self) -> u64 {
        self.0 % 86_400_000
    }
}

/// Who the phone is: the values behind `$MA`, `$SN`, `$PN`, `$PSN`,
/// `$SWVER`, `$HWVER` (R-MACRO).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhoneIdentity {
    /// MAC address in any form `phoneprov_rule::MacroContext::with_mac`
    /// accepts (`000e08abcdef`, `00:0e:08:ab:cd:ef`, …).
    pub mac: String,
    pub serial: String,
    /// Product name, e.g. `CP-8841-3PCC`.
    pub pn: String,
    /// Product series number, e.g. `8841`.
    pub psn: String,
    /// Running firmware version (`$SWVER`); replaced by each upgrade.
    pub swver: String,
    pub hwver: String,
}

/// User name and password for HTTP authentication (R-HTTP-4); `Debug`
/// never prints the password.
pub use phoneprov_httpauth::Credentials;

/// Everything [`Phone::new`](crate::Phone::new) needs.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    pub identity: PhoneIdentity,
    /// Parameters set before the first boot (factory profile, manual
    /// entry): `(name, value)`, applied in order.
    pub initial_params: Vec<(String, String)>,
    /// Seed of the engine's random numbers (`Resync_Random_Delay`, `N+R`
    /// schedules, Digest cnonces): the same seed and inputs give the same
    /// actions.
    pub seed: u64,
    /// Server used by rules that name none (DHCP option 66/150/…, R-RULE-1),
    /// optionally with `:port`.
    pub default_server: Option<String>,
    /// Whether a unique client certificate is installed (`$CCERT`).
    pub client_cert_installed: bool,
    /// Credentials the user entered on the phone for profile downloads;
    /// used for 401 challenges when the rule has no `--uid`/`--pwd`.
    pub credentials: Option<Credentials>,
}

impl PhoneConfig {
    /// A configuration with no initial parameters, seed 0, no default
    /// server, no client certificate and no credentials.
    pub fn new(identity: PhoneIdentity) -> Self {
        PhoneConfig {
            identity,
            initial_params: Vec::new(),
            seed: 0,
            default_server: None,
            client_cert_installed: false,
            credentials: None,
        }
    }
}

/// Identifies one fetch; the driver hands it back in [`Input::FetchDone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FetchId(pub u64);

/// Why a fetch is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Purpose {
    /// A profile for rule `rule_index` (0 = `Profile_Rule`, 1 = `_B`, …;
    /// 0 also for a one-shot rule from `ResyncNow`).
    Profile { rule_index: usize },
    /// A firmware image (`Upgrade_Rule` or `UpgradeNow`).
    Firmware,
    /// A report upload (`Report_Rule`).
    Report,
    /// The custom CA file (`Custom_CA_Rule`, [`crate::custom_ca`]).
    CustomCa,
}

/// A transfer the driver must perform, then answer with
/// [`Input::FetchDone`] carrying the same `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    pub id: FetchId,
    pub purpose: Purpose,
    /// Scheme, host, port and path (with query) to fetch.
    pub url: ResolvedUrl,
    /// `GET`, `POST` or `PUT` (ignored for TFTP, which always reads).
    pub method: String,
    /// Request headers, `User-Agent` always, `Authorization` /
    /// `Proxy-Authorization` when answering a challenge, `Content-Type`
    /// with a body.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Resolve `url.host` through DNS SRV first (R-SRV).
    pub srv: bool,
}

impl FetchRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// The first header with this name (case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What happened to a [`FetchRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchResult {
    /// An HTTP response (any status; redirects are NOT followed by the
    /// driver: the engine follows 301/302 itself, R-RESULT).
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A TFTP transfer that completed.
    TftpOk(Vec<u8>),
    /// TFTP error 1 (file not found): class B.
    TftpNotFound,
    /// Any other TFTP error: class C.
    TftpError(String),
    /// No answer in time: class C.
    Timeout,
    ConnectError(String),
    DnsError(String),
    TlsError(String),
    /// The driver refused the request (policy, e.g. a proxy rule): class C.
    Refused(String),
}

/// Outcome class of a resync (R-RESULT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Class {
    /// Success: next resync per `Resync_Periodic` + `Resync_Random_Delay`.
    A,
    /// File not found or corrupt profile: next per `Resync_Error_Retry_Delay`.
    B,
    /// Any other failure: next per `Resync_Error_Retry_Delay`.
    C,
}

/// Inputs a driver feeds the engine with [`Phone::handle_input`](crate::Phone::handle_input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Power on (or reboot) with the network up: boot resync per
    /// `Resync_On_Reset`, timers armed.
    PowerOn,
    /// The network went down: due resyncs wait for `NetworkUp`.
    NetworkDown,
    /// The network came back up: a resync (R-FLOW-5).
    NetworkUp,
    /// A (simulated) call started: the phone is no longer idle.
    CallStarted,
    /// The call ended: a resync or upgrade that waited runs now.
    CallEnded,
    /// The answer to [`Action::Fetch`].
    FetchDone {
        id: FetchId,
        result: FetchResult,
        /// The address the driver connected to, for `$SERVIP`; `None`
        /// leaves `$SERVIP` as the host name.
        server_ip: Option<String>,
    },
    /// `/admin/resync[?RULE]` or `<ExecuteItem URL="Resync:RULE"/>`
    /// (R-RULE-6): resync now, from `rule` (one shot, not stored) or from
    /// the configured rules when `None`.
    ResyncNow {
        rule: Option<String>,
        /// The host that sent the request: default server of `rule`
        /// (R-RULE-1).
        from_host: Option<String>,
    },
    /// `/admin/upgrade?URL`: upgrade now from this rule text.
    UpgradeNow { url: String },
    /// A custom CA file that arrived another way (TR-069 Download, file
    /// type `3 … CA`): installed as `Custom_CA_Rule`'s would be; the
    /// outcome is [`Action::CustomCaFinished`].
    InstallCustomCa { pem: Vec<u8>, source: String },
    /// Upload a report now per `Report_Rule` (or `rule` when given).
    ReportNow { rule: Option<String> },
    /// Manual provisioning (web UI or keypad, R-FLOW-1 C): set parameters
    /// as a profile would. Timers read the new values from the next
    /// scheduling decision on.
    SetParams { params: Vec<(String, String)> },
    /// The DHCP lease (option 66/150/159/160) or the operator changed the
    /// server used by rules without one (R-RULE-1).
    SetDefaultServer { server: Option<String> },
    /// Power-cycle (`/admin/reboot`, TR-069 Reboot): parameters and the
    /// persisted customization state are kept, the operation in progress
    /// dies. Handled by [`Device`](crate::Device); the bare engine treats
    /// it as `PowerOn`.
    Reboot,
    /// Factory reset: parameters from the initial configuration, the
    /// customization state back to Open (R-ACT-1); the installed firmware
    /// stays. [`Device`](crate::Device) only.
    FactoryReset,
    /// The activation server's answer to [`ActivationRequest::Query`](crate::activation::ActivationRequest).
    /// [`Device`](crate::Device) only.
    QueryAnswer(crate::activation::QueryAnswer),
    /// The activation server's answer to [`ActivationRequest::SubmitCode`](crate::activation::ActivationRequest).
    /// [`Device`](crate::Device) only.
    CodeAnswer(crate::activation::CodeAnswer),
    /// The user typed this after the `gds://` rule (R-ACT-2, R-RULE-5);
    /// a malformed code or a state that takes none is a
    /// [`Action::RequestRefused`]. [`Device`](crate::Device) only.
    GdsCode(String),
    /// A SIP request arrived (R-RULE-6: NOTIFY `check-sync` / `resync`);
    /// the answer is [`Action::SipResponse`]. [`Device`](crate::Device) only.
    Sip(crate::sip::SipInput),
    /// The ACS's connection request was accepted (the executor checked its
    /// Digest credentials): a session now with `6 CONNECTION REQUEST`
    /// (R-TR69-3). [`Device`](crate::Device) only.
    ConnectionRequest,
    /// An event the executor's data model produced (`4 VALUE CHANGE`,
    /// `7 TRANSFER COMPLETE`, `M Download`, `M Reboot`) for the next
    /// Inform. [`Device`](crate::Device) only.
    Tr069Event(phoneprov_cwmp::Event),
    /// The session of [`Action::Inform`] ended: `Ok` when the ACS ended
    /// it normally, else what went wrong (back-off, TR-069 3.2.1.1).
    /// [`Device`](crate::Device) only.
    InformDone(Result<(), String>),
    /// ManagementServer values after a session: periodic inform and
    /// whether the ACS URL changed (`0 BOOTSTRAP` with the new one).
    /// [`Device`](crate::Device) only.
    Tr069Settings {
        periodic_enable: bool,
        interval_s: u64,
        new_acs: bool,
    },
    /// The flow of [`Action::SipOpen`] is open; `local` is this side's
    /// `ip:port` (R-SEC-3, [`crate::register`]). [`Device`](crate::Device) only.
    SipOpened { flow: u64, local: String },
    /// A message arrived on the flow (one datagram, or one message framed
    /// from the stream). [`Device`](crate::Device) only.
    SipReceived { flow: u64, bytes: Vec<u8> },
    /// The flow could not open, or broke. [`Device`](crate::Device) only.
    SipFlowFailed {
        flow: u64,
        error: crate::register::FlowError,
    },
}

/// What the engine asks the driver to do, from [`Phone::poll_action`](crate::Phone::poll_action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Perform this transfer and answer with [`Input::FetchDone`].
    Fetch(FetchRequest),
    /// Send this line to the syslog server (`host[:port]`, R-LOG).
    Syslog { server: String, message: String },
    /// Parameters whose value changed (profile applied or rule assignments).
    ParamsApplied { changed: Vec<String> },
    /// A profile named parameters this phone does not have (unknown, or not
    /// on its model) or values that do not parse for their type: the phone
    /// ignored them, as the real one does; the driver logs them. Reasons
    /// never hold a secret's value.
    ParamsIgnored {
        unknown: Vec<String>,
        rejected: Vec<(String, String)>,
    },
    /// A resync ended (all rules done, or the first failure).
    ResyncFinished {
        class: Class,
        /// What went wrong (the `$ERR` text); `None` on success.
        error: Option<String>,
    },
    /// A firmware upgrade attempt ended.
    UpgradeFinished {
        ok: bool,
        error: Option<String>,
        /// No automatic retry until `Upgrade_Rule` (or what it selects)
        /// changes.
        final_failure: bool,
    },
    /// The simulated install is done: the phone reboots into `new_swver`.
    /// The engine has already booted again (no `PowerOn` needed).
    Reboot { new_swver: String },
    /// A report upload ended.
    ReportFinished { ok: bool, error: Option<String> },
    /// The custom CA changed or an attempt failed ([`crate::custom_ca`]):
    /// `ok` with the new trust anchors in place (or removed), else why the
    /// previous ones stay.
    CustomCaFinished { ok: bool, error: Option<String> },
    /// A request input was not acted on (provisioning disabled, bad rule…).
    RequestRefused { reason: String },
    /// The resync engine powered on (boot, reboot, or released by the
    /// customization client): its boot timers are armed.
    PoweredOn,
    /// Send this request to the activation server; answer with
    /// [`Input::QueryAnswer`] or [`Input::CodeAnswer`].
    Activation(crate::activation::ActivationRequest),
    /// Send this SIP response on the connection (or to the address) the
    /// request of [`Input::Sip`] came from.
    SipResponse(crate::sip::SipOutput),
    /// Run one CWMP session now: an Inform with these events and
    /// `RetryCount`; answer with [`Input::InformDone`].
    Inform {
        events: Vec<phoneprov_cwmp::Event>,
        retry_count: u32,
    },
    /// Open a flow to a line's proxy (a UDP socket, a TCP connection or
    /// a TLS session, R-SEC-3, [`crate::register`]); answer with
    /// [`Input::SipOpened`] or [`Input::SipFlowFailed`], then feed every
    /// message that arrives on it as [`Input::SipReceived`].
    SipOpen(crate::register::SipFlow),
    /// Send these bytes on the flow (a datagram, or on the stream).
    SipSend { flow: u64, bytes: Vec<u8> },
    /// Close the flow; inputs about it are ignored from now on.
    SipClose { flow: u64 },
}
