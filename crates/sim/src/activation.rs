//! The activation client of each virtual phone (SPEC §11 R-ACT, R-FLOW-1/4,
//! R-RULE-5): the tokio shell around `phoneprov-activation`'s sans-IO
//! [`CustomizationMachine`].
//!
//! # What it does
//! With `--activation URL` ([`SimConfig::activation`](crate::SimConfig)),
//! every phone owns an [`ActivationClient`] inside its driver task (no
//! extra task: the driver's `select!` waits on the client's one HTTP
//! exchange and its retry timer beside the engine's transfer and timers).
//! The client feeds the machine and carries out its outputs:
//!
//! | machine output | what the shell does |
//! |---|---|
//! | `QueryActivation` | `GET URL/activation/v1/query?mac=&model=&serial=` |
//! | `SubmitCode` | `POST URL/activation/v1/code` `{"mac","code"}` |
//! | `ApplyProfileRule` | engine `SetParams(Profile_Rule)`, then a resync (see below); the next `ResyncFinished` is the machine's `ResyncResult` (class A = ok) |
//! | `ScheduleRetry` / `CancelRetry` | arm / drop the retry timer on the phone's clock |
//! | `CodeInvalid` | the trigger that typed the code answers 400 |
//!
//! The HTTP exchanges go through the simulator's own [`Net`] with the
//! phone's parameters, so the trusted CA (`--ca`), the phone's client
//! certificate (`--client-certs DIR`), `TLS_Name_Validate`,
//! `TLS_Cipher_List` and the manual proxy apply exactly as to a resync;
//! each exchange holds a `--concurrency` slot. Answers: 200 with a redirect
//! profile → redirect ([`phoneprov_activation::parse_redirect`]); 404 →
//! unbound (query) or rejected (code); 410 or 400 to a code → rejected;
//! anything else (5xx, a body that is not a redirect profile, a closed
//! connection, a timeout) → error: Pending with a backoff retry, nothing
//! applied (R-ACT-3).
//!
//! # The engine waits for activation (design)
//! A factory-fresh phone without a provisioning server has nothing to
//! resync from (its default rule `/$PN.cfg` names no server), so the
//! engine is **held powered off** while the machine works at boot: the
//! lease gave no server (R-FLOW-4: DHCP wins, then the activation service)
//! and the state is not final. An `ApplyProfileRule` sets `Profile_Rule`
//! on the held engine and powers it on, so the boot resync
//! (`Resync_On_Reset`) is the provider resync; an engine already running
//! gets `SetParams` then `ResyncNow` instead. Everything else powers the
//! engine on at once: a lease with a server or `--acs` (→ Aborted), a final state at
//! boot (Acquired after a reboot uses its stored `Profile_Rule`, no query),
//! manual provisioning, and any trigger that needs a running phone
//! (`/admin/resync`, `/admin/upgrade`, reports).
//!
//! Manual provisioning (R-ACT-1) is a `SetParams` that sets `Profile_Rule`
//! to anything but `gds://`: a `--param Profile_Rule=...` at first boot or
//! `POST /<mac>/admin/params` later. It ends activation (Aborted) until a
//! factory reset.
//!
//! # GDS codes (R-ACT-2, R-RULE-5)
//! A code is typed from the trigger `POST /<mac>/activation/code` (body: the
//! keypad text) at any time, or from `--gds-code CODE` once per power-up
//! when the activation server gave this phone no provider (R-FLOW-4 order:
//! EDOS first, then GDS). Accepted → GDS-Pending → its resync →
//! GDS-Acquired; rejected → Pending with a retry.
//!
//! # Reboot and factory reset
//! `POST /<mac>/admin/reboot` restores the machine from its [`Persisted`]
//! record (exactly what a phone keeps in flash) and boots it again; the
//! engine keeps its parameters. `POST /<mac>/admin/factory-reset` rebuilds
//! the engine from the fleet's initial parameters and the machine goes back
//! to Open, so the next boot queries again (R-ACT-1).
//!
//! # Time
//! Retries are due on the phone's clock (UTC plus the driver's skew). Under
//! `--once` a phone makes one activation round and stops when the machine
//! is final or has armed a retry (like the engine's one resync). In real
//! time the retry waits; `--activation-retry-wait MS` caps the real wait
//! and jumps the phone's clock over the rest, the fast-forward the driver
//! does under `--once`, so a test sees the 60 s, 120 s, ... backoff of
//! firmware 12.0(3) without waiting for it.

mod wire;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use phoneprov_activation::{
    is_gds_rule, BackoffPolicy, CodeAnswer, CustomizationMachine, CustomizationState,
    Input as MInput, Output, PhoneIdentity, QueryAnswer,
};
use phoneprov_phone::{Input, ParamStore, Phone, PhoneConfig, Time};
use tokio::sync::{oneshot, Semaphore};

use crate::exec::Net;
use wire::Wire;
pub use wire::{code_answer, query_answer, validate_base_url};

/// How many state changes the status page keeps.
const HISTORY_MAX: usize = 32;

/// Fleet-wide activation settings (from `SimConfig`).
#[derive(Debug, Clone)]
pub struct ActivationSettings {
    /// Base URL of the activation service (`http(s)://host[:port]`).
    pub base_url: String,
    /// `--gds-code`: typed when the server gave no provider.
    pub gds_code: Option<String>,
    /// `--activation-retry-wait`: the longest real wait for a retry.
    pub retry_wait: Option<Duration>,
}

/// Activation triggers of one phone (from the `--listen` endpoints).
#[derive(Debug)]
pub enum ActivationControl {
    /// The user typed a `gds://` code; the reply says whether it was taken.
    GdsCode(String, oneshot::Sender<Result<(), String>>),
    /// Power-cycle: the persisted customization state and the parameters
    /// are kept (factory reset is the driver's `Control::FactoryReset`).
    Reboot,
}

/// What the client needs from the fleet to run one phone.
pub(crate) struct ClientParts {
    pub settings: Arc<ActivationSettings>,
    pub net: Arc<Net>,
    pub slots: Arc<Semaphore>,
    /// The lease (or `--acs`) gave a provisioning server (R-FLOW-4).
    pub dhcp_server: bool,
    /// Backoff jitter seed (per phone).
    pub seed: u64,
}

type Exchange = Pin<Box<dyn Future<Output = MInput> + Send>>;

/// The activation client of one phone; see the module docs.
pub(crate) struct ActivationClient {
    parts: ClientParts,
    id: PhoneIdentity,
    policy: BackoffPolicy,
    /// The HTTP side: requests and answers.
    wire: Wire,
    machine: CustomizationMachine,
    exchange: Option<Exchange>,
    retry_at: Option<u64>,
    awaiting_resync: bool,
    engine_on: bool,
    /// Set when the client powered the engine on (the driver re-arms its
    /// boot fast-forward).
    powered_now: bool,
    code_typed: bool,
    history: Vec<CustomizationState>,
    /// The backoff delays armed so far (R-ACT-3), last [`HISTORY_MAX`].
    delays: Vec<u64>,
    queries: u64,
    codes_sent: u64,
    last_error: Option<String>,
}

impl ActivationClient {
    /// A factory-fresh phone (state Open) for the engine configured by `cfg`.
    pub fn new(parts: ClientParts, cfg: &PhoneConfig) -> Self {
        let id = PhoneIdentity {
            mac: cfg.identity.mac.clone(),
            model: cfg.identity.pn.clone(),
            serial: cfg.identity.serial.clone(),
        };
        let policy = policy(cfg);
        let machine = CustomizationMachine::new(id.clone(), policy, parts.seed);
        let wire = Wire {
            net: parts.net.clone(),
            slots: parts.slots.clone(),
            base_url: parts.settings.base_url.clone(),
            user_agent: format!(
                "Cisco-{}/{} ({})",
                cfg.identity.pn,
                cfg.identity.swver,
                cfg.identity.mac.to_ascii_uppercase()
            ),
        };
        ActivationClient {
            parts,
            id,
            policy,
            wire,
            machine,
            exchange: None,
            retry_at: None,
            awaiting_resync: false,
            engine_on: false,
            powered_now: false,
            code_typed: false,
            history: vec![CustomizationState::Open],
            delays: Vec::new(),
            queries: 0,
            codes_sent: 0,
            last_error: None,
        }
    }

    /// The customization state.
    pub fn state(&self) -> CustomizationState {
        self.machine.state()
    }

    /// Whether this power cycle has booted the engine.
    pub fn engine_on(&self) -> bool {
        self.engine_on
    }

    /// True once after the client powered the engine on.
    pub fn take_powered_now(&mut self) -> bool {
        std::mem::take(&mut self.powered_now)
    }

    /// Nothing in flight and nothing to do before the retry: the end of an
    /// activation round (the `--once` stop rule).
    pub fn settled(&self) -> bool {
        self.exchange.is_none()
            && !self.awaiting_resync
            && (self.state().is_final() || self.retry_at.is_some())
    }

    /// When the armed retry is due (phone clock, ms).
    pub fn retry_at(&self) -> Option<u64> {
        self.retry_at
    }

    /// The longest real wait for a retry, ms.
    pub fn retry_wait_ms(&self) -> Option<u64> {
        self.parts.settings.retry_wait.map(|d| d.as_millis() as u64)
    }

    /// Power-on: the machine's boot input; the engine boots unless held.
    pub fn boot(&mut self, phone: &mut Phone, now: u64) {
        self.engine_on = false;
        self.code_typed = false;
        if !self.state().is_final() && manual_rule(phone.params()) {
            // A Profile_Rule set before the first boot is manual
            // provisioning (R-FLOW-1 C, R-ACT-1).
            self.feed(phone, MInput::ManualProvisioning, now);
        }
        let dhcp_server = self.parts.dhcp_server;
        self.feed(phone, MInput::Boot { dhcp_server }, now);
        if !self.engine_on && (dhcp_server || self.state().is_final()) {
            self.power_on(phone, now);
        }
    }

    /// The engine finished a resync (`class A` = `ok`).
    pub fn on_resync_finished(&mut self, phone: &mut Phone, ok: bool, now: u64) {
        if std::mem::take(&mut self.awaiting_resync) {
            self.feed(phone, MInput::ResyncResult { ok }, now);
        }
    }

    /// A trigger input is about to reach the engine: manual provisioning
    /// ends activation; inputs that need a running phone power it on.
    pub fn before_engine_input(&mut self, phone: &mut Phone, input: &Input, now: u64) {
        match input {
            Input::SetParams { params } => {
                let manual = params.iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case("Profile_Rule")
                        && !v.trim().is_empty()
                        && !is_gds_rule(v)
                });
                if manual {
                    self.feed(phone, MInput::ManualProvisioning, now);
                    self.reset_io();
                }
            }
            Input::ResyncNow { .. } | Input::UpgradeNow { .. } | Input::ReportNow { .. }
                if !self.engine_on =>
            {
                self.power_on(phone, now);
            }
            _ => {}
        }
    }

    /// After a trigger input: a manually provisioned phone is released.
    pub fn after_engine_input(&mut self, phone: &mut Phone, now: u64) {
        if !self.engine_on && self.state().is_final() {
            self.power_on(phone, now);
        }
    }

    /// An activation trigger (`/activation/code`, `/admin/reboot`).
    pub fn control(&mut self, phone: &mut Phone, c: ActivationControl, now: u64) {
        match c {
            ActivationControl::GdsCode(text, reply) => {
                let _ = reply.send(self.type_code(phone, text, now));
            }
            ActivationControl::Reboot => {
                // Only what a phone keeps in flash survives.
                let kept = self.machine.persisted().clone();
                self.machine = CustomizationMachine::restore(self.id.clone(), self.policy, kept);
                self.retry_at = self.machine.retry_at_ms();
                self.reset_io();
                self.boot(phone, now);
            }
        }
    }

    /// The driver replaced the engine by a factory-fresh one (not yet
    /// powered on): the machine goes back to Open and boots (R-ACT-1).
    pub fn factory_reset(&mut self, phone: &mut Phone, now: u64) {
        self.feed(phone, MInput::FactoryReset, now);
        self.reset_io();
        self.retry_at = None;
        self.history = vec![CustomizationState::Open];
        self.delays.clear();
        self.boot(phone, now);
    }

    fn reset_io(&mut self) {
        self.exchange = None;
        self.awaiting_resync = false;
    }

    /// Types a code (trigger or `--gds-code`).
    fn type_code(&mut self, phone: &mut Phone, text: String, now: u64) -> Result<(), String> {
        use CustomizationState as S;
        let st = self.state();
        if !matches!(st, S::Open | S::Pending | S::Unavailable) {
            return Err(format!(
                "the phone takes no activation code in state {st}; a factory reset (POST /<mac>/admin/factory-reset) starts over"
            ));
        }
        self.code_typed = true;
        self.exchange = None; // a query in flight is abandoned: the code wins
        let before = self.codes_sent;
        let outs = self.machine.handle(now, MInput::GdsCode(text));
        let mut err = None;
        for o in &outs {
            if let Output::CodeInvalid(e) = o {
                err = Some(format!("{e}"));
            }
        }
        self.carry(phone, outs, now);
        match err {
            Some(e) => Err(e),
            None if self.codes_sent > before => Ok(()),
            None => Err("the code was not submitted".into()),
        }
    }

    /// The retry timer: true when it was due and fed.
    pub fn on_timer(&mut self, phone: &mut Phone, now: u64) -> bool {
        match self.retry_at {
            Some(at) if at <= now => {
                self.retry_at = None;
                self.feed(phone, MInput::RetryTimer, now);
                true
            }
            _ => false,
        }
    }

    /// Waits for the exchange in flight (pending forever when none).
    pub async fn next_answer(&mut self) -> MInput {
        match self.exchange.as_mut() {
            Some(f) => {
                let a = f.await;
                self.exchange = None;
                a
            }
            None => std::future::pending().await,
        }
    }

    /// Whether an exchange is in flight.
    pub fn busy(&self) -> bool {
        self.exchange.is_some()
    }

    /// Feeds one input and carries out the outputs.
    pub fn feed(&mut self, phone: &mut Phone, input: MInput, now: u64) {
        if let MInput::QueryAnswer(QueryAnswer::Error(e))
        | MInput::CodeAnswer(CodeAnswer::Error(e)) = &input
        {
            self.last_error = Some(e.clone());
        }
        let outs = self.machine.handle(now, input);
        self.carry(phone, outs, now);
        // R-FLOW-4: the code prompt once the server gave no provider.
        if self.exchange.is_none()
            && !self.code_typed
            && matches!(
                self.state(),
                CustomizationState::Unavailable | CustomizationState::Pending
            )
            && self.retry_at.is_some()
        {
            if let Some(code) = self.parts.settings.gds_code.clone() {
                if let Err(e) = self.type_code(phone, code, now) {
                    tracing::warn!("{}: --gds-code: {e}", self.id.mac);
                    self.last_error = Some(e);
                }
            }
        }
    }

    fn carry(&mut self, phone: &mut Phone, outs: Vec<Output>, now: u64) {
        for o in outs {
            match o {
                Output::QueryActivation { mac, model, serial } => {
                    self.queries += 1;
                    let fut = self.wire.query(phone.params(), &mac, &model, &serial);
                    self.exchange = Some(Box::pin(async move { MInput::QueryAnswer(fut.await) }));
                }
                Output::SubmitCode { mac, code } => {
                    self.codes_sent += 1;
                    let fut = self.wire.code(phone.params(), &mac, &code);
                    self.exchange = Some(Box::pin(async move { MInput::CodeAnswer(fut.await) }));
                }
                Output::ApplyProfileRule { url } => self.apply(phone, url, now),
                Output::ScheduleRetry { at_ms } => {
                    if self.delays.len() >= HISTORY_MAX {
                        self.delays.remove(0);
                    }
                    self.delays.push(at_ms.saturating_sub(now));
                    self.retry_at = Some(at_ms);
                }
                Output::CancelRetry => self.retry_at = None,
                Output::CodeInvalid(e) => self.last_error = Some(e.to_string()),
            }
        }
        let st = self.state();
        if self.history.last() != Some(&st) {
            if self.history.len() >= HISTORY_MAX {
                self.history.remove(1);
            }
            self.history.push(st);
        }
        if st.is_final() {
            self.retry_at = None;
        }
    }

    /// `Profile_Rule = url`, then the resync the machine waits for.
    fn apply(&mut self, phone: &mut Phone, url: String, now: u64) {
        let t = Time(now);
        phone.handle_input(
            Input::SetParams {
                params: vec![("Profile_Rule".into(), url)],
            },
            t,
        );
        self.awaiting_resync = true;
        if self.engine_on {
            phone.handle_input(
                Input::ResyncNow {
                    rule: None,
                    from_host: None,
                },
                t,
            );
        } else {
            self.power_on(phone, now);
        }
    }

    /// Boots the engine (its boot resync runs the configured rules).
    fn power_on(&mut self, phone: &mut Phone, now: u64) {
        let t = Time(now);
        phone.handle_input(Input::PowerOn, t);
        self.engine_on = true;
        self.powered_now = true;
        if self.awaiting_resync && !phone.params().get_bool("Resync_On_Reset", true) {
            phone.handle_input(
                Input::ResyncNow {
                    rule: None,
                    from_host: None,
                },
                t,
            );
        }
    }

    /// The `activation` object of the status page.
    pub fn status(&self, now: u64) -> serde_json::Value {
        let p = self.machine.persisted();
        serde_json::json!({
            "state": self.state().as_str(),
            "history": self.history.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "server": self.parts.settings.base_url,
            "url": p.url,
            "attempt": p.attempt,
            "retry_at": self.retry_at,
            "retry_in_ms": self.retry_at.map(|at| at.saturating_sub(now)),
            "retry_delays_ms": self.delays,
            "queries": self.queries,
            "codes_sent": self.codes_sent,
            "waiting": if self.exchange.is_some() { "server" } else if self.awaiting_resync { "resync" } else { "none" },
            "engine_on": self.engine_on,
            "last_error": self.last_error,
        })
    }
}

/// A trigger for a phone without an activation client (no
/// `--activation`): a reboot still works; a code is refused.
pub(crate) fn control_without_client(phone: &mut Phone, c: ActivationControl, now: u64) {
    match c {
        ActivationControl::GdsCode(_, reply) => {
            let _ = reply.send(Err(
                "activation is not simulated in this run; start `phoneprov sim` with --activation URL"
                    .into(),
            ));
        }
        ActivationControl::Reboot => phone.handle_input(Input::PowerOn, Time(now)),
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
