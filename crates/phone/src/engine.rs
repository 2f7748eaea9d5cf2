//! The [`Phone`] state machine: inputs, timers, the idle rule and the
//! queue of pending work. The three operations live in their own files
//! (`resync.rs`, `upgrade.rs`, `report.rs`) as further `impl Phone` blocks.

use crate::custom_ca::{CaOp, CustomCa};
use crate::fetch::{classify, InFlight, Retry, Verdict};
use crate::report::ReportOp;
use crate::resync::ResyncOp;
use crate::schedule;
use crate::status::Stats;
use crate::store::ParamStore;
use crate::types::{Action, Class, Credentials, FetchId, Input, PhoneConfig, PhoneIdentity, Time};
use crate::upgrade::{PendingInstall, UpgradeOp};
use phoneprov_rule::{MacroContext, ProfileRule};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// Seconds between evaluations of `Resync_Trigger_n` while one is set
/// (conditions may read time-varying macros such as `$PRVTMR`).
pub const TRIGGER_POLL_SECS: u64 = 60;

/// The operation in progress (at most one at a time: a phone has one
/// provisioning client).
#[derive(Debug)]
pub(crate) enum Op {
    Resync(ResyncOp),
    Upgrade(UpgradeOp),
    /// An accepted image whose reboot waits for the call to end.
    Install(PendingInstall),
    Report(ReportOp),
    /// The `Custom_CA_Rule` fetch.
    CustomCa(CaOp),
}

/// A resync waiting to run: from the configured rules, or one shot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResyncSource {
    Configured,
    /// `ResyncNow { rule: Some(..) }`: rule text and default server.
    OneShot(String, Option<String>),
}

/// An upgrade waiting to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UpgradeSource {
    /// Evaluate `Upgrade_Rule`.
    Rule,
    /// `UpgradeNow { url }`.
    Explicit(String),
}

/// One virtual phone's provisioning client. See the crate docs. Each
/// field is one concern; the state data of each lives in its own type.
#[derive(Debug)]
pub struct Phone {
    /// Who the phone is.
    pub(crate) id: Ident,
    pub(crate) params: ParamStore,
    pub(crate) rng: ChaCha8Rng,
    /// What the phone was set up with (DHCP server, certificate, account).
    pub(crate) setup: Setup,
    /// The actions for the driver, and the id of the next fetch.
    pub(crate) out: Outbox,
    pub(crate) now: Time,
    /// Power, network and call: the conditions the inputs report.
    pub(crate) env: Conditions,
    pub(crate) op: Option<Op>,
    /// `Custom_CA_Rule`'s state ([`crate::custom_ca`]).
    pub(crate) custom_ca: CustomCa,
    /// The resync schedule: timers and what waits for them.
    pub(crate) resync: ResyncState,
    /// Firmware upgrade: what waits, retry, blocked rule, last install.
    pub(crate) upgrade: UpgradeState,
    /// Report upload: what waits.
    pub(crate) report: ReportState,
    pub(crate) stats: Stats,
}

/// Who the phone is: its identity and the forms derived from it once.
#[derive(Debug)]
pub(crate) struct Ident {
    /// `swver` follows upgrades.
    pub(crate) identity: PhoneIdentity,
    /// `$MA`: the MAC as 12 lowercase hex digits.
    pub(crate) mac12: String,
    /// The identity part of the macro context (MAC forms parsed once).
    pub(crate) base_ctx: MacroContext,
}

/// What the engine has for the driver.
#[derive(Debug)]
pub(crate) struct Outbox {
    pub(crate) actions: VecDeque<Action>,
    pub(crate) next_fetch_id: u64,
}

/// A report upload asked for and not started yet (`Some(rule)`; the
/// inner `None` is `Report_Rule`).
#[derive(Debug, Default)]
pub(crate) struct ReportState {
    pub(crate) pending: Option<Option<String>>,
}

/// What the phone was set up with, from its [`PhoneConfig`].
#[derive(Debug)]
pub(crate) struct Setup {
    /// Server used by rules that name none (DHCP option 66/150/…, R-RULE-1).
    pub(crate) default_server: Option<String>,
    /// A unique client certificate is installed (`$CCERT`).
    pub(crate) client_cert: bool,
    /// What the user entered for profile downloads (401 challenges of a
    /// rule without `--uid`/`--pwd`).
    pub(crate) credentials: Option<Credentials>,
}

/// The conditions the inputs report: power, network, a call in progress
/// (R-FLOW-5: a call postpones resyncs and upgrades).
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    pub(crate) powered: bool,
    pub(crate) network_up: bool,
    pub(crate) in_call: bool,
}

/// The resync schedule's state (R-FLOW-5, R-RESULT): its timers, what waits for
/// them and the counters they depend on (state data in a state type).
#[derive(Debug, Default)]
pub(crate) struct ResyncState {
    /// Periodic, retry or boot resync timer.
    pub(crate) at: Option<Time>,
    /// `Resync_At__HHmm_` timer and the value it was computed from.
    pub(crate) daily_at: Option<Time>,
    pub(crate) daily_spec: String,
    /// A resync asked for and not started yet (its source).
    pub(crate) pending: Option<ResyncSource>,
    /// When a resync postponed by a call is forced (`Forced_Resync_Delay`).
    pub(crate) forced_at: Option<Time>,
    pub(crate) forced: bool,
    pub(crate) periodic_step: usize,
    pub(crate) consecutive_failures: u32,
    pub(crate) trigger_state: [bool; 2],
    pub(crate) trigger_at: Option<Time>,
}

/// The firmware upgrade's state (R-FLOW-3).
#[derive(Debug, Default)]
pub(crate) struct UpgradeState {
    /// An upgrade asked for and not started yet.
    pub(crate) pending: Option<UpgradeSource>,
    pub(crate) retry_at: Option<Time>,
    /// `rule text \n url` of the last final upgrade failure.
    pub(crate) blocked: Option<String>,
    /// URL of the image installed last, with the version it gave.
    pub(crate) installed_from: Option<(String, String)>,
}

impl Phone {
    /// A powered-off phone. Send [`Input::PowerOn`] to boot it.
    pub fn new(cfg: PhoneConfig) -> Self {
        let mut params = ParamStore::for_model(&cfg.identity.pn);
        for (k, v) in &cfg.initial_params {
            params.set(k, v);
        }
        let base_ctx = MacroContext::new()
            .with_mac(&cfg.identity.mac)
            .unwrap_or_default();
        let mac12 = base_ctx.get("MA").unwrap_or_default().to_string();
        Phone {
            id: Ident {
                mac12,
                base_ctx,
                identity: cfg.identity,
            },
            params,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            setup: Setup {
                default_server: cfg.default_server,
                client_cert: cfg.client_cert_installed,
                credentials: cfg.credentials,
            },
            out: Outbox {
                actions: VecDeque::new(),
                next_fetch_id: 1,
            },
            now: Time(0),
            env: Conditions::default(),
            op: None,
            custom_ca: Default::default(),
            resync: ResyncState::default(),
            upgrade: UpgradeState::default(),
            report: ReportState::default(),
            stats: Stats::default(),
        }
    }

    /// The parameter store (values in effect, `ua`, unknown parameters).
    pub fn params(&self) -> &ParamStore {
        &self.params
    }

    /// The phone's identity; `swver` follows upgrades.
    pub fn identity(&self) -> &PhoneIdentity {
        &self.id.identity
    }

    /// Counters and last outcomes.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Whether a call is up.
    pub fn in_call(&self) -> bool {
        self.env.in_call
    }

    /// The next queued action, in the order the engine produced them.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.actions.pop_front()
    }

    /// The earliest time [`handle_timeout`](Self::handle_timeout) has work;
    /// `None` when no timer is armed.
    pub fn poll_timeout(&self) -> Option<Time> {
        if !self.env.powered {
            return None;
        }
        [
            self.resync.at,
            self.resync.daily_at,
            self.resync.forced_at,
            self.resync.trigger_at,
            self.upgrade.retry_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Feeds one input at time `now` (which must not go backwards).
    pub fn handle_input(&mut self, input: Input, now: Time) {
        self.now = self.now.max(now);
        match input {
            Input::PowerOn | Input::Reboot => self.boot(false),
            Input::NetworkDown => self.env.network_up = false,
            Input::NetworkUp => {
                let was_down = !self.env.network_up;
                self.env.network_up = true;
                if self.env.powered && was_down {
                    self.request_resync(ResyncSource::Configured);
                }
            }
            Input::CallStarted => self.env.in_call = true,
            Input::CallEnded => {
                self.env.in_call = false;
            }
            Input::FetchDone {
                id,
                result,
                server_ip,
            } => self.on_fetch_done(id, classify(result), server_ip),
            Input::ResyncNow { rule, from_host } => {
                if !self.env.powered {
                    return self.refuse("the phone is not powered on");
                }
                if !self.provisioning_enabled() {
                    return self.refuse("resync refused: Provision_Enable is No");
                }
                let src = match rule {
                    Some(r) if !r.trim().is_empty() => {
                        if let Err(e) = ProfileRule::parse(&r) {
                            return self.refuse(&format!("resync refused: bad rule `{r}`: {e}"));
                        }
                        ResyncSource::OneShot(r, from_host)
                    }
                    _ => ResyncSource::Configured,
                };
                self.request_resync(src);
            }
            Input::UpgradeNow { url } => {
                if !self.env.powered {
                    return self.refuse("the phone is not powered on");
                }
                if !self.provisioning_enabled() {
                    return self.refuse("upgrade refused: Provision_Enable is No");
                }
                if !self.params.get_bool("Upgrade_Enable", true) {
                    return self.refuse("upgrade refused: Upgrade_Enable is No");
                }
                self.upgrade.pending = Some(UpgradeSource::Explicit(url));
            }
            Input::SetParams { params } => {
                let mut changed = Vec::new();
                for (k, v) in &params {
                    if self.params.set(k, v) {
                        changed.push(crate::store::canonical(k));
                    }
                }
                if !changed.is_empty() {
                    self.out.actions.push_back(Action::ParamsApplied { changed });
                }
            }
            Input::SetDefaultServer { server } => self.setup.default_server = server,
            Input::InstallCustomCa { pem, source } => {
                let r = self.install_custom_ca(pem, source);
                self.custom_ca_done(r);
            }
            Input::ReportNow { rule } => {
                if !self.env.powered {
                    return self.refuse("the phone is not powered on");
                }
                if !self.provisioning_enabled() {
                    return self.refuse("report refused: Provision_Enable is No");
                }
                self.report.pending = Some(rule);
            }
            Input::FactoryReset
            | Input::QueryAnswer(_)
            | Input::CodeAnswer(_)
            | Input::GdsCode(_)
            | Input::Sip(_)
            | Input::ConnectionRequest
            | Input::Tr069Event(_)
            | Input::InformDone(_)
            | Input::SipOpened { .. }
            | Input::SipReceived { .. }
            | Input::SipFlowFailed { .. }
            | Input::Tr069Settings { .. } => {
                return self.refuse(
                    "this input needs the whole device (phoneprov_phone::Device), not the bare resync engine",
                )
            }
        }
        self.after_change();
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        self.now = self.now.max(now);
        if !self.env.powered {
            return;
        }
        let now = self.now;
        if self.resync.at.is_some_and(|t| t <= now) {
            self.resync.at = None;
            self.request_resync(ResyncSource::Configured);
        }
        if self.resync.daily_at.is_some_and(|t| t <= now) {
            self.resync.daily_at = None;
            self.resync.daily_spec.clear();
            self.request_resync(ResyncSource::Configured);
        }
        if self.resync.forced_at.is_some_and(|t| t <= now) {
            self.resync.forced_at = None;
            self.resync.forced = true;
        }
        if self.upgrade.retry_at.is_some_and(|t| t <= now) {
            self.upgrade.retry_at = None;
            if self.upgrade.pending.is_none() {
                self.upgrade.pending = Some(UpgradeSource::Rule);
            }
        }
        if self.resync.trigger_at.is_some_and(|t| t <= now) {
            self.resync.trigger_at = None;
        }
        self.after_change();
    }

    pub(crate) fn refuse(&mut self, reason: &str) {
        self.stats.refused += 1;
        self.out.actions.push_back(Action::RequestRefused {
            reason: reason.to_string(),
        });
    }

    pub(crate) fn provisioning_enabled(&self) -> bool {
        self.params.get_bool("Provision_Enable", true)
    }

    /// Power-on or reboot after an upgrade.
    pub(crate) fn boot(&mut self, after_upgrade: bool) {
        self.env.powered = true;
        self.env.network_up = true;
        self.env.in_call = false;
        self.op = None;
        self.resync.pending = None;
        self.upgrade.pending = None;
        self.report.pending = None;
        self.resync.forced_at = None;
        self.resync.forced = false;
        self.resync.periodic_step = 0;
        self.resync.at = None;
        self.resync.daily_at = None;
        self.resync.daily_spec.clear();
        self.stats.boots += 1;
        self.resync.trigger_state = [0, 1].map(|i| self.trigger_holds(i));
        self.resync.trigger_at = None;
        if !self.provisioning_enabled() {
            return;
        }
        self.custom_ca_boot();
        let boot_resync = self.params.get_bool("Resync_On_Reset", true)
            || (after_upgrade && self.params.get_bool("Resync_After_Upgrade_Attempt", true));
        if boot_resync {
            let d = self.params.get_u64("Resync_Random_Delay", 2);
            let ms = schedule::spread_ms(&mut self.rng, d);
            self.resync.at = Some(self.now.plus_millis(ms));
        } else {
            self.schedule_periodic();
        }
    }

    /// Arms the periodic timer after a success (or a boot without resync).
    pub(crate) fn schedule_periodic(&mut self) {
        let value = self.params.get_or_empty("Resync_Periodic").to_string();
        self.resync.at = schedule::periodic_secs(&value, self.resync.periodic_step, &mut self.rng)
            .map(|s| {
                let d = self.params.get_u64("Resync_Random_Delay", 2);
                let spread = schedule::spread_ms(&mut self.rng, d);
                self.now.plus_secs(s).plus_millis(spread)
            });
        self.resync.periodic_step += 1;
    }

    /// Arms the retry timer after the `consecutive_failures`-th failure.
    pub(crate) fn schedule_retry(&mut self) {
        let value = self
            .params
            .get_or_empty("Resync_Error_Retry_Delay")
            .to_string();
        self.resync.at = schedule::retry_secs(&value, self.resync.consecutive_failures)
            .map(|s| self.now.plus_secs(s));
    }

    /// Marks a resync as wanted (coalescing with one already waiting; the
    /// latest source wins) and arms `Forced_Resync_Delay` if a call holds it.
    pub(crate) fn request_resync(&mut self, src: ResyncSource) {
        if !self.provisioning_enabled() {
            return;
        }
        match (&self.resync.pending, &src) {
            (Some(ResyncSource::OneShot(..)), ResyncSource::Configured) => {}
            _ => self.resync.pending = Some(src),
        }
        if self.env.in_call && self.resync.forced_at.is_none() && !self.resync.forced {
            let d = self.params.get_u64("Forced_Resync_Delay", 14_400);
            self.resync.forced_at = Some(self.now.plus_secs(d));
        }
    }

    /// Re-arms derived timers and starts waiting work when the phone is
    /// free. Called after every input and timeout.
    pub(crate) fn after_change(&mut self) {
        if !self.env.powered {
            return;
        }
        if !self.provisioning_enabled() {
            self.resync.at = None;
            self.resync.daily_at = None;
            self.resync.forced_at = None;
            self.resync.trigger_at = None;
            self.upgrade.retry_at = None;
            self.resync.pending = None;
            self.upgrade.pending = None;
            self.report.pending = None;
            return;
        }
        self.check_triggers();
        self.arm_daily();
        self.custom_ca_check_rule();
        if matches!(self.op, Some(Op::Install(_))) && !self.env.in_call {
            if let Some(Op::Install(p)) = self.op.take() {
                self.install(p);
            }
        }
        loop {
            if self.op.is_some() || !self.env.network_up {
                return;
            }
            if self.custom_ca.pending {
                // Before a waiting resync: its HTTPS may need the new CA.
                self.start_custom_ca();
            } else if self.resync.pending.is_some() && (!self.env.in_call || self.resync.forced) {
                let src = self.resync.pending.take().expect("checked");
                self.resync.forced = false;
                self.resync.forced_at = None;
                self.start_resync(src);
            } else if self.upgrade.pending.is_some() && !self.env.in_call {
                let src = self.upgrade.pending.take().expect("checked");
                self.start_upgrade(src);
            } else if self.report.pending.is_some() && !self.env.in_call {
                let rule = self.report.pending.take().expect("checked");
                self.start_report(rule);
            } else {
                return;
            }
            // Starting may finish at once (nothing to fetch); loop again.
            self.check_triggers();
        }
    }

    fn arm_daily(&mut self) {
        let spec = self
            .params
            .get_or_empty("Resync_At__HHmm_")
            .trim()
            .to_string();
        if spec == self.resync.daily_spec && (self.resync.daily_at.is_some() || spec.is_empty()) {
            return;
        }
        self.resync.daily_spec = spec.clone();
        self.resync.daily_at = schedule::next_daily(self.now, &spec).map(|t| {
            let d = self.params.get_u64("Resync_At_Random_Delay", 600);
            t.plus_millis(schedule::spread_ms(&mut self.rng, d))
        });
    }

    fn trigger_holds(&self, i: usize) -> bool {
        let text = self
            .params
            .get_or_empty(&format!("Resync_Trigger_{}", i + 1))
            .trim()
            .to_string();
        if text.is_empty() {
            return false;
        }
        let cond = match text.strip_prefix('(').and_then(|t| t.strip_suffix(")?")) {
            Some(inner) => inner.to_string(),
            None => text,
        };
        match ProfileRule::parse(&format!("({cond})? tftp://trigger.invalid/t")) {
            Ok(rule) => rule
                .alternatives()
                .first()
                .is_some_and(|a| a.condition_holds(&self.macro_context())),
            Err(_) => false,
        }
    }

    /// `Resync_Trigger_n`: a resync when a condition turns true (edge
    /// triggered, so a condition that stays true does not loop).
    fn check_triggers(&mut self) {
        let mut any = false;
        for i in 0..2 {
            let set = !self
                .params
                .get_or_empty(&format!("Resync_Trigger_{}", i + 1))
                .trim()
                .is_empty();
            any |= set;
            let holds = self.trigger_holds(i);
            if holds && !self.resync.trigger_state[i] {
                self.stats.triggers_fired += 1;
                self.request_resync(ResyncSource::Configured);
            }
            self.resync.trigger_state[i] = holds;
        }
        if any {
            if self.resync.trigger_at.is_none() {
                self.resync.trigger_at = Some(self.now.plus_secs(TRIGGER_POLL_SECS));
            }
        } else {
            self.resync.trigger_at = None;
        }
    }

    /// A fresh fetch id.
    pub(crate) fn fetch_id(&mut self) -> FetchId {
        let id = FetchId(self.out.next_fetch_id);
        self.out.next_fetch_id += 1;
        id
    }

    /// Emits the fetch for `fl` under a new id.
    pub(crate) fn send(&mut self, fl: &mut InFlight) {
        fl.id = self.fetch_id();
        self.stats.fetches += 1;
        let req = fl.request(&self.user_agent());
        self.out.actions.push_back(Action::Fetch(req));
    }

    /// A random Digest client nonce.
    pub(crate) fn cnonce(&mut self) -> String {
        use rand::Rng;
        format!("{:016x}", self.rng.gen::<u64>())
    }

    /// Follows redirects and answers challenges for `fl`; returns the
    /// verdict when it is a body or a failure, `None` when a new fetch was
    /// sent.
    pub(crate) fn drive(&mut self, fl: &mut InFlight, verdict: Verdict) -> Option<Verdict> {
        let retry = match verdict {
            Verdict::Redirect(loc) => match fl.redirect(&loc) {
                Retry::Again => match self.check_domain(&fl.url) {
                    Ok(()) => Retry::Again,
                    Err(e) => Retry::Fail(Class::C, e),
                },
                other => other,
            },
            Verdict::Challenge { proxy, challenges } => {
                let cnonce = self.cnonce();
                fl.answer(proxy, &challenges, &cnonce)
            }
            v => return Some(v),
        };
        match retry {
            Retry::Again => {
                self.send(fl);
                None
            }
            Retry::Fail(class, error) => Some(Verdict::Fail {
                class,
                error,
                not_found: false,
            }),
        }
    }

    fn on_fetch_done(&mut self, id: FetchId, verdict: Verdict, server_ip: Option<String>) {
        let Some(op) = self.op.take() else {
            self.stats.stale_results += 1;
            return;
        };
        match op {
            Op::Resync(r) => self.resync_fetch_done(r, id, verdict, server_ip),
            Op::Upgrade(u) => self.upgrade_fetch_done(u, id, verdict, server_ip),
            Op::Report(r) => self.report_fetch_done(r, id, verdict, server_ip),
            Op::CustomCa(c) => self.custom_ca_fetch_done(c, id, verdict, server_ip),
            other @ Op::Install(_) => {
                self.stats.stale_results += 1;
                self.op = Some(other);
            }
        }
    }
}
