//! The whole phone as one sans-IO state machine: the resync engine
//! ([`Phone`]), the customization client ([`CustomizationMachine`],
//! R-ACT) and the triggers (web `/admin/resync`, `/CGI/Execute`, SIP
//! NOTIFY, R-RULE-6), behind one [`Input`]/[`Action`] vocabulary, one
//! [`Device::poll_timeout`] and one [`Time`] (DESIGN.md "sans-IO cores",
//! composed like `quinn-proto`'s endpoint and connections).
//!
//! A driver loops: feed [`Input`]s with [`Device::handle_input`], call
//! [`Device::handle_timeout`] at [`Device::poll_timeout`], carry out what
//! [`Device::poll_action`] returns (fetches, activation requests, SIP
//! answers, syslog). `phoneprov sim` is such a driver; a test is another,
//! on a virtual clock (`tests/device.rs` runs hours of phone time in
//! microseconds).
//!
//! # The engine waits for activation (R-FLOW-4)
//! With activation configured ([`ActivationSetup`]), a factory-fresh phone
//! whose lease gave no provisioning server has nothing to resync from (its
//! default rule `/$PN.cfg` names no server), so the engine is **held
//! powered off** while the customization machine works at boot. Its
//! `ApplyProfileRule` sets `Profile_Rule` and powers the engine on (the
//! boot resync is the provider resync), or resyncs a running engine.
//! Everything else powers the engine on at once: a lease with a server
//! (→ Aborted), a final state at boot, manual provisioning (a `SetParams`
//! of a `Profile_Rule` that is not `gds://`, R-ACT-1), and any trigger
//! that needs a running phone. The engine's `ResyncFinished` after an
//! applied URL is the machine's `ResyncResult` (class A = ok). A typed
//! code (`--gds-code` once the server gave no provider, or
//! [`Input::GdsCode`]) is submitted in Open, Pending and Unavailable.
//!
//! # SIP registration (R-SEC-3, R-SEC-6)
//! Lines with `Proxy_n_` and `User_ID_n_` register over `SIP_Transport_n_`
//! (UDP, TCP, TLS) with `Proxy_n_` (or `Outbound_Proxy_n_`) once the
//! engine runs and again when their settings change; see
//! [`crate::register`]. A reboot registers every line again. A request
//! that arrives on a line's registration flow (the registrar's NOTIFY) is
//! decided like one from `--sip-listen` and answered on that flow.
//!
//! # Reboot and factory reset
//! [`Input::Reboot`] keeps the parameters and restores the machine from
//! its [`Persisted`] record (what a phone keeps in flash);
//! [`Input::FactoryReset`] rebuilds the engine from the initial
//! configuration (the installed firmware stays) and the machine goes back
//! to Open, so the next boot queries again (R-ACT-1).
//!
//! # SIP NOTIFY (R-RULE-6)
//! See [`crate::sip`] for the messages. `NOTIFY` with `Event: check-sync`
//! or `resync` resyncs when `Resync_From_SIP` is Yes (200; 403 when No);
//! `;reboot=true` reboots instead (the boot resync follows
//! `Resync_On_Reset`). A `<…Execute>` body runs its items (`Resync:RULE`,
//! `Upgrade:URL`). When `Auth_Resync-Reboot_1_` is Yes (the default) and line
//! 1 has a password (`Password_1_`, user `Auth_ID_1_` or else
//! `User_ID_1_`), the NOTIFY must carry a Digest `Authorization` (RFC
//! 3261 §22, MD5, `qop=auth`) answering the phone's 401 challenge; a
//! missing or wrong one is answered 401 again and nothing runs. Every
//! refused or malformed request is one [`Action::RequestRefused`] line;
//! the phone keeps its state. Before any of that, a request over UDP
//! passes the phone's firewall or is dropped without an answer
//! ([`crate::security`], R-SEC-5).

use std::collections::VecDeque;

use phoneprov_httpauth::{
    challenge_headers, parse_authorization, verify_digest, Algorithm, Authorization, NonceManager,
    NonceStatus, Secret,
};

use crate::activation::{
    is_gds_rule, ActivationId, ActivationRequest, BackoffPolicy, CodeAnswer, CustomizationMachine,
    CustomizationState, Input as MInput, Output, QueryAnswer,
};
use crate::inform::{InformSchedule, Tr069Setup};
use crate::register::Registrations;
use crate::sip::{SipError, SipOutput, SipRequest, SipResponse, SipTransport, MAX_MESSAGE};
use crate::store::ParamStore;
use crate::types::{Action, Class, Credentials, Input, PhoneConfig, Time};
use crate::{parse_execute_xml, Phone};

/// How many state changes and retry delays the status page keeps.
const HISTORY_MAX: usize = 32;

/// Activation settings of one device.
#[derive(Debug, Clone, Default)]
pub struct ActivationSetup {
    /// The activation service's base URL (shown in status only: the
    /// executor sends the requests).
    pub server: String,
    /// The lease gave a provisioning server (option 66/150/160): DHCP wins
    /// and activation is Aborted at boot (R-FLOW-4).
    pub dhcp_server: bool,
    /// A code the user types once the server gave no provider
    /// (`--gds-code`, R-FLOW-4: activation service first, then GDS).
    pub gds_code: Option<String>,
    /// Backoff jitter seed (per phone, so a fleet spreads out).
    pub seed: u64,
}

/// Everything [`Device::new`] needs.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    pub phone: PhoneConfig,
    /// `None`: no activation client; the engine boots at power-on.
    pub activation: Option<ActivationSetup>,
    /// `None`: no TR-069 agent (no ACS configured or discovered).
    pub tr069: Option<Tr069Setup>,
    /// The port SIP requests arrive on ([`Input::Sip`]): the executor's
    /// listener, which stands for the phone's SIP port; `None`:
    /// `SIP_Port_1_` (5060). The firewall decides on it (R-SEC-5,
    /// [`crate::security`]).
    pub sip_port: Option<u16>,
}

/// Where the customization client is: its state data (R-ACT).
#[derive(Debug)]
struct Customization {
    setup: ActivationSetup,
    id: ActivationId,
    policy: BackoffPolicy,
    machine: CustomizationMachine,
    /// An activation request is out; its answer is awaited.
    exchange: bool,
    /// The machine waits for the engine's next resync result.
    awaiting_resync: bool,
    /// A code was typed this power cycle.
    code_typed: bool,
    history: Vec<CustomizationState>,
    /// Backoff delays armed so far, ms (R-ACT-3).
    delays: Vec<u64>,
    queries: u64,
    codes_sent: u64,
    last_error: Option<String>,
}

/// The SIP side's state: the Digest nonces it issued (built at the first
/// challenge) and the tag of its responses.
#[derive(Debug, Default)]
struct SipState {
    nonces: Option<NonceManager>,
    notifies: u64,
    refused: u64,
    /// The last refusal's line (status `sip.last_refused`): what a user
    /// of the simulator sees without a log.
    last_refused: Option<String>,
}

/// Where a SIP request came from; its answer goes back the same way.
#[derive(Debug, Clone, Copy)]
enum SipFrom {
    /// The fleet's `--sip-listen` socket or one of its connections.
    Listener { transport: SipTransport, conn: u64 },
    /// A line's registration flow ([`crate::register`]).
    Flow(u64),
}

/// One phone: engine, customization client and triggers. See the module docs.
#[derive(Debug)]
pub struct Device {
    cfg: DeviceConfig,
    engine: Phone,
    /// The engine runs (false while activation holds it at boot).
    engine_on: bool,
    custom: Option<Customization>,
    cwmp: Option<InformSchedule>,
    sip: SipState,
    /// The lines that register ([`crate::register`]).
    regs: Registrations,
    actions: VecDeque<Action>,
    now: Time,
}

impl Device {
    /// A powered-off device; send [`Input::PowerOn`] to boot it.
    pub fn new(cfg: DeviceConfig) -> Device {
        let engine = Phone::new(cfg.phone.clone());
        let custom = cfg.activation.clone().map(|setup| {
            let id = ActivationId {
                mac: engine.id.mac12.clone(),
                model: cfg.phone.identity.pn.clone(),
                serial: cfg.phone.identity.serial.clone(),
            };
            let policy = policy(&cfg.phone);
            Customization {
                machine: CustomizationMachine::new(id.clone(), policy, setup.seed),
                setup,
                id,
                policy,
                exchange: false,
                awaiting_resync: false,
                code_typed: false,
                history: vec![CustomizationState::Open],
                delays: Vec::new(),
                queries: 0,
                codes_sent: 0,
                last_error: None,
            }
        });
        let cwmp = cfg.tr069.clone().map(InformSchedule::new);
        Device {
            cwmp,
            cfg,
            engine,
            engine_on: false,
            custom,
            sip: SipState::default(),
            regs: Registrations::default(),
            actions: VecDeque::new(),
            now: Time(0),
        }
    }

    /// The resync engine (parameters, identity, counters).
    pub fn engine(&self) -> &Phone {
        &self.engine
    }

    /// The parameter store.
    pub fn params(&self) -> &ParamStore {
        self.engine.params()
    }

    /// Whether the engine runs (false while activation holds it at boot).
    pub fn engine_on(&self) -> bool {
        self.engine_on
    }

    /// The customization state, when activation is configured.
    pub fn customization(&self) -> Option<CustomizationState> {
        self.custom.as_ref().map(|c| c.machine.state())
    }

    /// Nothing in flight and nothing to do before the activation retry:
    /// the end of an activation round (true without activation).
    pub fn activation_settled(&self) -> bool {
        self.custom.as_ref().is_none_or(|c| {
            !c.exchange
                && !c.awaiting_resync
                && (c.machine.state().is_final() || c.machine.retry_at().is_some())
        })
    }

    /// When the activation retry is due.
    pub fn activation_retry_at(&self) -> Option<Time> {
        self.custom.as_ref().and_then(|c| c.machine.retry_at())
    }

    /// The engine's next timer.
    pub fn engine_timeout(&self) -> Option<Time> {
        self.engine.poll_timeout()
    }

    /// The earliest time [`handle_timeout`](Self::handle_timeout) has work.
    pub fn poll_timeout(&self) -> Option<Time> {
        let inform = self.cwmp.as_ref().and_then(|c| c.poll_timeout());
        [
            self.engine.poll_timeout(),
            self.activation_retry_at(),
            inform,
            self.regs.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next action, in the order they were produced.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Feeds one input at `now` (which must not go backwards).
    pub fn handle_input(&mut self, input: Input, now: Time) {
        self.now = self.now.max(now);
        match input {
            Input::PowerOn => {
                self.with_cwmp(|c, now| c.boot(now));
                self.boot()
            }
            Input::ConnectionRequest => self.with_cwmp(|c, _| c.connection_request()),
            Input::Tr069Event(e) => self.with_cwmp(|c, _| c.add(e.code, &e.command_key)),
            Input::InformDone(result) => {
                if let Some(c) = self.cwmp.as_mut() {
                    c.done(result, self.now, &mut self.engine.rng);
                }
            }
            Input::Tr069Settings {
                periodic_enable,
                interval_s,
                new_acs,
            } => self.with_cwmp(|c, now| c.settings(periodic_enable, interval_s, new_acs, now)),
            Input::Reboot => {
                self.with_cwmp(|c, now| c.boot(now));
                if let Some(c) = self.custom.as_mut() {
                    // Only what a phone keeps in flash survives.
                    let kept = c.machine.persisted().clone();
                    c.machine = CustomizationMachine::restore(c.id.clone(), c.policy, kept);
                    c.exchange = false;
                    c.awaiting_resync = false;
                }
                self.boot();
            }
            Input::FactoryReset => {
                self.with_cwmp(|c, now| c.factory_reset(now));
                let mut pc = self.cfg.phone.clone();
                pc.identity.swver = self.engine.identity().swver.clone();
                self.engine = Phone::new(pc);
                self.engine_on = false;
                if let Some(c) = self.custom.as_mut() {
                    let outs = c.machine.handle(self.now, MInput::FactoryReset);
                    drop(outs); // only CancelRetry: the machine is Open again
                    c.exchange = false;
                    c.awaiting_resync = false;
                    c.history = vec![CustomizationState::Open];
                    c.delays.clear();
                }
                self.boot();
            }
            Input::QueryAnswer(a) => {
                if self.take_exchange() {
                    if let QueryAnswer::Error(e) = &a {
                        self.note_error(e.clone());
                    }
                    self.feed(MInput::QueryAnswer(a));
                }
            }
            Input::CodeAnswer(a) => {
                if self.take_exchange() {
                    if let CodeAnswer::Error(e) = &a {
                        self.note_error(e.clone());
                    }
                    self.feed(MInput::CodeAnswer(a));
                }
            }
            Input::GdsCode(text) => {
                if let Err(reason) = self.type_code(text, now) {
                    self.actions.push_back(Action::RequestRefused { reason });
                }
            }
            Input::Sip(msg) => {
                let from = SipFrom::Listener {
                    transport: msg.transport,
                    conn: msg.conn,
                };
                self.on_sip(&msg.peer, &msg.bytes, from);
            }
            Input::SipOpened { flow, local } => {
                let mut out = Vec::new();
                self.regs
                    .opened(flow, local, self.now, &mut self.engine.rng, &mut out);
                self.actions.extend(out);
            }
            Input::SipReceived { flow, bytes } => {
                let peer = self.regs.flow_peer(flow);
                if let (Err(_), Some(peer)) = (SipResponse::parse(&bytes), peer) {
                    // A request on a line's flow (the registrar's NOTIFY):
                    // decided like one from the listener, answered on the flow.
                    self.on_sip(&peer, &bytes, SipFrom::Flow(flow));
                } else {
                    let mut out = Vec::new();
                    let p = &self.engine.params;
                    let rng = &mut self.engine.rng;
                    self.regs.received(flow, &bytes, p, self.now, rng, &mut out);
                    self.actions.extend(out);
                }
            }
            Input::SipFlowFailed { flow, error } => {
                let mut out = Vec::new();
                let p = self.engine.params();
                self.regs.flow_failed(flow, error, p, self.now, &mut out);
                self.actions.extend(out);
            }
            Input::SetParams { params } => {
                let manual = params.iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case("Profile_Rule")
                        && !v.trim().is_empty()
                        && !is_gds_rule(v)
                });
                if manual {
                    self.feed(MInput::ManualProvisioning);
                    if let Some(c) = self.custom.as_mut() {
                        c.exchange = false;
                        c.awaiting_resync = false;
                    }
                }
                self.engine_input(Input::SetParams { params });
                if !self.engine_on && self.customization().is_some_and(|s| s.is_final()) {
                    self.power_on();
                }
            }
            i @ (Input::ResyncNow { .. } | Input::UpgradeNow { .. } | Input::ReportNow { .. }) => {
                if !self.engine_on {
                    self.power_on();
                }
                self.engine_input(i);
            }
            other => self.engine_input(other),
        }
        self.pump();
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        self.now = self.now.max(now);
        if self.activation_retry_at().is_some_and(|t| t <= self.now) {
            self.feed(MInput::RetryTimer);
        }
        if self.engine.poll_timeout().is_some_and(|t| t <= self.now) {
            self.engine.handle_timeout(self.now);
        }
        self.with_cwmp(|c, now| c.on_timer(now));
        let mut out = Vec::new();
        let p = &self.engine.params;
        self.regs
            .on_timer(p, self.now, &mut self.engine.rng, &mut out);
        self.actions.extend(out);
        self.pump();
    }

    /// Types a code (R-ACT-2): `Ok` when it was submitted, else what to do.
    pub fn type_code(&mut self, text: String, now: Time) -> Result<(), String> {
        use CustomizationState as S;
        self.now = self.now.max(now);
        let Some(c) = self.custom.as_mut() else {
            return Err(
                "activation is not configured on this phone (phoneprov sim: --activation URL)"
                    .into(),
            );
        };
        let st = c.machine.state();
        if !matches!(st, S::Open | S::Pending | S::Unavailable) {
            return Err(format!(
                "the phone takes no activation code in state {st}; a factory reset starts over"
            ));
        }
        c.code_typed = true;
        c.exchange = false; // a query in flight is abandoned: the code wins
        let before = c.codes_sent;
        let outs = c.machine.handle(self.now, MInput::GdsCode(text));
        let err = outs.iter().find_map(|o| match o {
            Output::CodeInvalid(e) => Some(e.to_string()),
            _ => None,
        });
        self.carry(outs);
        self.pump();
        let sent = self.custom.as_ref().is_some_and(|c| c.codes_sent > before);
        match err {
            Some(e) => Err(e),
            None if sent => Ok(()),
            None => Err("the code was not submitted".into()),
        }
    }

    /// Whether every line that registers has had an answer.
    pub fn registrations_settled(&self) -> bool {
        self.regs.settled()
    }

    /// Whether a REGISTER transaction is in flight: its timers (E, F)
    /// run in real time, so a driver must not fast-forward the clock.
    pub fn sip_in_flight(&self) -> bool {
        self.regs.in_flight()
    }

    /// Whether a TR-069 session is under way: its HTTP exchange runs in
    /// real time, so a driver must not fast-forward the clock (it would
    /// run the periodic informs due meanwhile one after another).
    pub fn inform_in_session(&self) -> bool {
        self.cwmp.as_ref().is_some_and(|c| c.in_session())
    }

    /// The status page: the engine's, with the customization client's.
    pub fn status_json(&self) -> serde_json::Value {
        let mut s = self.engine.status_json();
        if let Some(obj) = s.as_object_mut() {
            if let Some(c) = &self.custom {
                let p = c.machine.persisted();
                let retry_at = c.machine.retry_at();
                obj.insert(
                    "activation".into(),
                    serde_json::json!({
                        "state": c.machine.state().as_str(),
                        "history": c.history.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                        "server": c.setup.server,
                        "url": p.url,
                        "attempt": p.attempt,
                        "retry_at": retry_at.map(|t| t.0),
                        "retry_in_ms": retry_at.map(|t| t.0.saturating_sub(self.now.0)),
                        "retry_delays_ms": c.delays,
                        "queries": c.queries,
                        "codes_sent": c.codes_sent,
                        "waiting": if c.exchange { "server" } else if c.awaiting_resync { "resync" } else { "none" },
                        "engine_on": self.engine_on,
                        "last_error": c.last_error,
                    }),
                );
            }
            if let Some(c) = &self.cwmp {
                obj.insert("tr069".into(), c.status(self.now));
            }
            obj.insert(
                "firewall".into(),
                crate::security::firewall_status(
                    self.engine.params(),
                    &self.engine.identity().pn,
                    self.sip_port(),
                ),
            );
            obj.insert(
                "sip".into(),
                serde_json::json!({
                    "notifies": self.sip.notifies,
                    "refused": self.sip.refused,
                    "last_refused": self.sip.last_refused,
                    "lines": self.regs.status(),
                }),
            );
        }
        s
    }

    // ---- composition -------------------------------------------------

    fn with_cwmp(&mut self, f: impl FnOnce(&mut InformSchedule, Time)) {
        if let Some(c) = self.cwmp.as_mut() {
            f(c, self.now);
        }
    }

    /// Whether the TR-069 agent is done under `--once`: a session ended
    /// normally, or `attempts` failed (true without TR-069).
    pub fn inform_settled(&self, attempts: u32) -> bool {
        self.cwmp.as_ref().is_none_or(|c| {
            !c.in_session() && (c.sessions_ok > 0 || c.sessions_failed >= u64::from(attempts))
        })
    }

    fn engine_input(&mut self, input: Input) {
        self.engine.handle_input(input, self.now);
    }

    /// Moves the engine's actions out, feeding its resync results to the
    /// customization machine (which may give the engine more inputs).
    fn pump(&mut self) {
        let mut changed = false;
        while let Some(a) = self.engine.poll_action() {
            changed |= matches!(a, Action::ParamsApplied { .. });
            let finished = match &a {
                Action::ResyncFinished { class, .. } => Some(*class == Class::A),
                _ => None,
            };
            if matches!(a, Action::Reboot { .. }) {
                // The firmware install rebooted the engine: `1 BOOT`.
                self.with_cwmp(|c, now| c.boot(now));
            }
            self.actions.push_back(a);
            if let Some(ok) = finished {
                if let Some(c) = self.custom.as_mut() {
                    if std::mem::take(&mut c.awaiting_resync) {
                        self.feed(MInput::ResyncResult { ok });
                    }
                }
            }
        }
        if changed && self.engine_on {
            self.update_registrations();
        }
        if let Some(c) = self.cwmp.as_mut() {
            if let Some((events, retry_count)) = c.start(self.now) {
                self.actions.push_back(Action::Inform {
                    events,
                    retry_count,
                });
            }
        }
    }

    /// The lines that register follow the parameters.
    fn update_registrations(&mut self) {
        let mut out = Vec::new();
        let ua = self.engine.user_agent();
        let p = &self.engine.params;
        let rng = &mut self.engine.rng;
        self.regs.update(p, &ua, self.now, rng, &mut out);
        self.actions.extend(out);
    }

    fn boot(&mut self) {
        self.engine_on = false;
        let mut out = Vec::new();
        self.regs.reset(&mut out);
        self.actions.extend(out);
        let Some(c) = self.custom.as_mut() else {
            return self.power_on();
        };
        c.code_typed = false;
        let dhcp_server = c.setup.dhcp_server;
        if !c.machine.state().is_final() && manual_rule(self.engine.params()) {
            // A Profile_Rule set before the first boot is manual
            // provisioning (R-FLOW-1 C, R-ACT-1).
            self.feed(MInput::ManualProvisioning);
        }
        self.feed(MInput::Boot { dhcp_server });
        if !self.engine_on && (dhcp_server || self.customization().is_some_and(|s| s.is_final())) {
            self.power_on();
        }
    }

    /// Boots the engine (its boot resync runs the configured rules).
    fn power_on(&mut self) {
        self.engine_input(Input::PowerOn);
        self.engine_on = true;
        self.actions.push_back(Action::PoweredOn);
        self.update_registrations();
        let awaiting = self.custom.as_ref().is_some_and(|c| c.awaiting_resync);
        if awaiting && !self.engine.params().get_bool("Resync_On_Reset", true) {
            self.engine_input(Input::ResyncNow {
                rule: None,
                from_host: None,
            });
        }
    }

    fn take_exchange(&mut self) -> bool {
        self.custom
            .as_mut()
            .is_some_and(|c| std::mem::take(&mut c.exchange))
    }

    fn note_error(&mut self, e: String) {
        if let Some(c) = self.custom.as_mut() {
            c.last_error = Some(e);
        }
    }

    /// Feeds the machine one input and carries out its outputs.
    fn feed(&mut self, input: MInput) {
        let Some(c) = self.custom.as_mut() else {
            return;
        };
        let outs = c.machine.handle(self.now, input);
        self.carry(outs);
        // R-FLOW-4: the code prompt once the server gave no provider.
        let Some(c) = self.custom.as_ref() else {
            return;
        };
        let prompt = !c.exchange
            && !c.code_typed
            && matches!(
                c.machine.state(),
                CustomizationState::Unavailable | CustomizationState::Pending
            )
            && c.machine.retry_at().is_some();
        if let (true, Some(code)) = (prompt, c.setup.gds_code.clone()) {
            if let Err(e) = self.type_code(code, self.now) {
                self.note_error(format!("--gds-code: {e}"));
            }
        }
    }

    fn carry(&mut self, outs: Vec<Output>) {
        for o in outs {
            let Some(c) = self.custom.as_mut() else {
                return;
            };
            match o {
                Output::Request(r) => {
                    match r {
                        ActivationRequest::Query { .. } => c.queries += 1,
                        ActivationRequest::SubmitCode { .. } => c.codes_sent += 1,
                    }
                    c.exchange = true;
                    self.actions.push_back(Action::Activation(r));
                }
                Output::ApplyProfileRule { url } => {
                    c.awaiting_resync = true;
                    self.engine_input(Input::SetParams {
                        params: vec![("Profile_Rule".into(), url)],
                    });
                    if self.engine_on {
                        self.engine_input(Input::ResyncNow {
                            rule: None,
                            from_host: None,
                        });
                    } else {
                        self.power_on();
                    }
                }
                Output::ScheduleRetry { at } => {
                    if c.delays.len() >= HISTORY_MAX {
                        c.delays.remove(0);
                    }
                    c.delays.push(at.0.saturating_sub(self.now.0));
                }
                Output::CancelRetry => {}
                Output::CodeInvalid(e) => c.last_error = Some(e.to_string()),
            }
        }
        if let Some(c) = self.custom.as_mut() {
            let st = c.machine.state();
            if c.history.last() != Some(&st) {
                if c.history.len() >= HISTORY_MAX {
                    c.history.remove(1);
                }
                c.history.push(st);
            }
        }
    }

    // ---- SIP (R-RULE-6) ---------------------------------------------

    fn sip_refuse(&mut self, peer: &str, why: String) {
        self.sip.refused += 1;
        let reason = format!("SIP from {peer}: {why}");
        self.sip.last_refused = Some(reason.clone());
        self.actions.push_back(Action::RequestRefused { reason });
    }

    /// The port SIP requests arrive on (see [`DeviceConfig::sip_port`]).
    fn sip_port(&self) -> u16 {
        self.cfg.sip_port.unwrap_or_else(|| {
            let p = self.params().get_or_empty("SIP_Port_1_");
            p.trim().parse().unwrap_or(5060)
        })
    }

    fn on_sip(&mut self, peer: &str, bytes: &[u8], from: SipFrom) {
        // The firewall sees what reaches the listener; a line's own flow
        // is a conversation the phone opened.
        if let SipFrom::Listener {
            transport: SipTransport::Udp,
            ..
        } = from
        {
            let pn = &self.engine.identity().pn;
            if let Some(why) = crate::security::sip_udp_blocked(self.params(), pn, self.sip_port())
            {
                // A firewall drops: no answer at all (R-SEC-5).
                return self.sip_refuse(peer, why);
            }
        }
        let answer = |bytes: Vec<u8>| match from {
            SipFrom::Listener { transport, conn } => Action::SipResponse(SipOutput {
                transport,
                peer: peer.to_string(),
                conn,
                bytes,
            }),
            SipFrom::Flow(flow) => Action::SipSend { flow, bytes },
        };
        let req = match SipRequest::parse(bytes) {
            Ok(r) => r,
            Err(e) => {
                // Without Via/CSeq there is nobody to answer (RFC 3261
                // §16.3 drops such a request); too large is answered when
                // the head can be read.
                let head = SipRequest::parse_head(&bytes[..bytes.len().min(MAX_MESSAGE)]);
                let reply = match (&e, head) {
                    (SipError::TooLarge, Ok((r, _))) => {
                        Some(r.response(513, "Message Too Large", self.tag(), &[]))
                    }
                    _ => None,
                };
                self.sip_refuse(peer, format!("malformed request dropped: {e}"));
                if let Some(b) = reply {
                    self.actions.push_back(answer(b));
                }
                return;
            }
        };
        let tag = self.tag().to_string();
        let (code, reason, extra): (u16, &str, Vec<(&str, String)>) =
            match req.method.to_ascii_uppercase().as_str() {
                "ACK" => return,
                "OPTIONS" => (200, "OK", vec![("Allow", "NOTIFY, OPTIONS".into())]),
                "NOTIFY" => match self.notify(peer, &req) {
                    Ok(()) => (200, "OK", vec![]),
                    Err((code, reason, extra)) => (code, reason, extra),
                },
                m => {
                    self.sip_refuse(
                        peer,
                        format!("method {m} not accepted (only NOTIFY and OPTIONS)"),
                    );
                    (
                        405,
                        "Method Not Allowed",
                        vec![("Allow", "NOTIFY, OPTIONS".into())],
                    )
                }
            };
        self.actions
            .push_back(answer(req.response(code, reason, &tag, &extra)));
    }

    /// The `To` tag of this phone's answers.
    fn tag(&self) -> &str {
        self.engine.id.mac12.as_str()
    }

    /// A NOTIFY: `Ok` = 200 and the resync (or reboot, or items) started.
    #[allow(clippy::type_complexity)]
    fn notify(
        &mut self,
        peer: &str,
        req: &SipRequest,
    ) -> Result<(), (u16, &'static str, Vec<(&'static str, String)>)> {
        let Some((event, params)) = req.event() else {
            self.sip_refuse(
                peer,
                "NOTIFY without an Event header; send `Event: check-sync`".into(),
            );
            return Err((400, "Missing Event Header", vec![]));
        };
        if !matches!(event.as_str(), "check-sync" | "resync") {
            self.sip_refuse(peer, format!("NOTIFY with event {event:?} ignored; this phone resyncs on `check-sync` and `resync`"));
            return Err((
                489,
                "Bad Event",
                vec![("Allow-Events", "check-sync, resync".into())],
            ));
        }
        if !self.params().get_bool("Resync_From_SIP", true) {
            self.sip_refuse(peer, "NOTIFY refused: Resync_From_SIP is No".into());
            return Err((403, "Forbidden", vec![]));
        }
        if let Err(challenge) = self.sip_auth(peer, req) {
            return Err((401, "Unauthorized", challenge));
        }
        self.sip.notifies += 1;
        let from_host = peer
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(['[', ']']).to_string());
        if !req.body.iter().all(u8::is_ascii_whitespace) {
            let xml = String::from_utf8_lossy(&req.body).to_string();
            let items = match parse_execute_xml(&xml) {
                Ok(items) => items,
                Err(e) => {
                    self.sip_refuse(peer, format!("NOTIFY body refused: {e}"));
                    return Err((400, "Bad Execute Object", vec![]));
                }
            };
            let inputs: Vec<Input> = items
                .iter()
                .filter_map(|i| i.to_input(from_host.as_deref()))
                .collect();
            if inputs.is_empty() {
                self.sip_refuse(peer, "NOTIFY body holds no ExecuteItem this phone can act on (expected URL=\"Resync:RULE\")".into());
                return Err((400, "No Executable Item", vec![]));
            }
            for i in inputs {
                self.handle_input(i, self.now);
            }
            return Ok(());
        }
        if params.iter().any(|(k, v)| k == "reboot" && v == "true") {
            self.handle_input(Input::Reboot, self.now);
        } else {
            self.handle_input(
                Input::ResyncNow {
                    rule: None,
                    from_host: None,
                },
                self.now,
            );
        }
        Ok(())
    }

    /// `Auth_Resync-Reboot_1_`: the NOTIFY must answer the phone's Digest
    /// challenge with line 1's credentials. `Err` holds the challenge.
    fn sip_auth(
        &mut self,
        peer: &str,
        req: &SipRequest,
    ) -> Result<(), Vec<(&'static str, String)>> {
        if !self.params().get_bool("Auth_Resync-Reboot_1_", true) {
            return Ok(());
        }
        let Some(Credentials { user, password }) = self.engine.line1_credentials() else {
            return Ok(());
        };
        let realm = self.engine.identity().pn.clone();
        let secs = self.now.0 / 1000;
        let rng = &mut self.engine.rng;
        let nonces = self.sip.nonces.get_or_insert_with(|| {
            use rand::RngCore;
            let mut secret = [0u8; 32];
            rng.fill_bytes(&mut secret);
            NonceManager::new(secret, std::time::Duration::from_secs(300))
        });
        let mut stale = false;
        if let Some(Ok(Authorization::Digest(d))) =
            req.header("Authorization").map(parse_authorization)
        {
            let right = d.username == user
                && d.realm == realm
                && verify_digest(&d, &req.method, Secret::Password(&password), &req.body);
            if right {
                match nonces.record(&d, secs) {
                    NonceStatus::Valid => return Ok(()),
                    NonceStatus::Stale => stale = true,
                    _ => {}
                }
            }
        }
        let nonce = nonces.issue(secs);
        let h = challenge_headers(&realm, &[Algorithm::Md5], &nonce, stale);
        let why = if req.header("Authorization").is_some() {
            "NOTIFY refused: wrong or stale Digest credentials (Auth_Resync-Reboot_1_ is Yes; line 1's user and password)"
        } else {
            "NOTIFY challenged: Auth_Resync-Reboot_1_ is Yes, answer with line 1's Digest credentials"
        };
        self.sip_refuse(peer, why.into());
        Err(h.into_iter().map(|v| ("WWW-Authenticate", v)).collect())
    }
}

/// R-ACT-3: the backoff base is the phone's `Resync_Error_Retry_Delay`
/// (its first number; the policy raises it to 60 s).
fn policy(cfg: &PhoneConfig) -> BackoffPolicy {
    let secs = cfg
        .initial_params
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case("Resync_Error_Retry_Delay"))
        .and_then(|(_, v)| v.split(',').next()?.trim().parse().ok())
        .unwrap_or(60);
    BackoffPolicy::from_retry_delay_s(secs)
}

/// A `Profile_Rule` set by hand: non-empty, not `gds://`, not the default.
fn manual_rule(params: &ParamStore) -> bool {
    match params.get("Profile_Rule") {
        Some(r) => {
            let r = r.trim();
            !r.is_empty() && !is_gds_rule(r) && r != "/$PN.cfg"
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_rule_excludes_gds_and_default() {
        let mut p = ParamStore::new();
        assert!(!manual_rule(&p));
        p.set("Profile_Rule", "gds://");
        assert!(!manual_rule(&p));
        p.set("Profile_Rule", "/$PN.cfg");
        assert!(!manual_rule(&p));
        p.set("Profile_Rule", "http://x/y.xml");
        assert!(manual_rule(&p));
    }
}
