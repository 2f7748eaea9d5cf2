//! Runs one [`Phone`] engine on tokio: `loop { carry out the actions;
//! wait for the transfer in flight, a trigger, or the next timer }`.
//!
//! One task per phone, holding only the engine, a channel receiver and at
//! most one transfer future (the engine runs one operation at a time), so
//! 100 000 phones cost 100 000 small tasks. A fleet-wide semaphore bounds
//! the transfers in flight (`--concurrency`): phones wait for a slot, not
//! for file descriptors.
//!
//! Time: [`Time`] is the phone's local wall clock; the simulator uses UTC
//! (`SystemTime` since the epoch) plus a per-phone skew. For the boot
//! resync of a `--boot-storm`, and for every later timer under
//! [`RunMode::Once`], the driver does not sleep until the engine's next
//! timer: it moves the skew forward so the timer is due now (the phone
//! "fast-forwards"). Without `--boot-storm` the boot resync waits its
//! `Resync_Random_Delay` spread (default 0–2 s) in real time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use phoneprov_phone::{Action, Class, FetchRequest, Input, Phone, PhoneConfig, Purpose, Time};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::config::RunMode;
use crate::exec::{Executed, Net};
use crate::report::FleetStats;

/// What the trigger listener sends to one phone.
#[derive(Debug)]
pub enum Control {
    /// Feed this input now (resync/upgrade/report triggers, R-RULE-6).
    Input(Input),
    /// Answer with `status_json` plus the current parameter values.
    Status(oneshot::Sender<serde_json::Value>),
    /// Answer with the current parameter values and software version
    /// only (the CPE agent's data model refresh before each session;
    /// cheaper than [`Control::Status`]'s JSON).
    Params(oneshot::Sender<PhoneParams>),
    /// TR-069 FactoryReset (R-TR69-2): a fresh engine from the initial
    /// configuration, powered on (the CPE agent then informs `0 BOOTSTRAP`).
    FactoryReset,
    /// An activation trigger (`gds://` code, reboot): [`crate::activation`].
    Activation(crate::activation::ActivationControl),
}

/// The phone's parameter values (sorted by name) and software version.
#[derive(Debug, Clone, Default)]
pub struct PhoneParams {
    pub values: Vec<(String, String)>,
    pub swver: String,
}

/// What one phone ended with.
#[derive(Debug, Clone)]
pub struct PhoneOutcome {
    pub mac: String,
    /// Class of the last resync; `None` if it never finished one.
    pub last_class: Option<Class>,
    pub last_error: Option<String>,
    /// Every parameter with a value (only kept when asked, `--count 1`).
    pub params: Option<Vec<(String, String)>>,
    pub status: Option<serde_json::Value>,
    /// The customization state (R-ACT) when `--activation` is on.
    pub customization: Option<phoneprov_activation::CustomizationState>,
}

/// Everything a phone task needs.
pub(crate) struct PhoneTask {
    pub cfg: PhoneConfig,
    pub net: Arc<Net>,
    pub stats: Arc<FleetStats>,
    pub slots: Arc<Semaphore>,
    pub mode: RunMode,
    pub boot_storm: bool,
    pub control: mpsc::Receiver<Control>,
    pub shutdown: watch::Receiver<bool>,
    pub keep_params: bool,
    /// The phone's TR-069 agent ([`crate::cpe`]) gets a copy of the
    /// outcome actions (`ParamsApplied`, `ResyncFinished`,
    /// `UpgradeFinished`, `Reboot`, `RequestRefused`): value changes,
    /// download results and reboots.
    pub cpe_events: Option<mpsc::UnboundedSender<Action>>,
    /// The phone's activation client (`--activation`, R-ACT); it decides
    /// when the engine powers on.
    pub activation: Option<crate::activation::ActivationClient>,
}

type Transfer = Pin<Box<dyn Future<Output = (FetchRequest, Executed)> + Send>>;

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Current parameter values of `phone`, sorted by name.
pub fn param_values(phone: &Phone) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = phone
        .params()
        .iter()
        .map(|(k, e)| (k.to_string(), e.value.clone()))
        .collect();
    v.sort();
    v
}

fn status_of(phone: &Phone) -> serde_json::Value {
    let mut s = phone.status_json();
    if let Some(obj) = s.as_object_mut() {
        let params: serde_json::Map<String, serde_json::Value> = param_values(phone)
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        obj.insert("params".into(), serde_json::Value::Object(params));
    }
    s
}

/// The status page, with the activation client's part when there is one.
fn status_with(
    phone: &Phone,
    act: Option<&crate::activation::ActivationClient>,
    now_ms: u64,
) -> serde_json::Value {
    let mut s = status_of(phone);
    if let (Some(a), Some(obj)) = (act, s.as_object_mut()) {
        obj.insert("activation".into(), a.status(now_ms));
    }
    s
}

impl PhoneTask {
    /// Runs the phone until `--once` is satisfied, or shutdown.
    pub async fn run(mut self) -> PhoneOutcome {
        let mac = self.cfg.identity.mac.clone();
        let mut phone = Phone::new(self.cfg.clone());
        let mut skew: u64 = 0;
        let now = |skew: u64| Time(wall_ms() + skew);
        let mut act = self.activation.take();
        match act.as_mut() {
            Some(a) => a.boot(&mut phone, now(skew).0),
            None => phone.handle_input(Input::PowerOn, now(skew)),
        }
        // The boot timer is fast-forwarded under --boot-storm (all at once)
        // and under --once; otherwise Resync_Random_Delay spreads it.
        let mut boot_timer = true;
        let mut transfer: Option<Transfer> = None;
        let mut queued: std::collections::VecDeque<FetchRequest> = Default::default();
        let mut resync_started: Option<Instant> = None;
        let mut done = false;
        let mut upgrading = false;
        let mut control_open = true;
        let mut syslog_sends = tokio::task::JoinSet::new();
        loop {
            while let Some(action) = phone.poll_action() {
                if let Some(tx) = &self.cpe_events {
                    if !matches!(action, Action::Fetch(_) | Action::Syslog { .. }) {
                        let _ = tx.send(action.clone());
                    }
                }
                match action {
                    Action::Fetch(req) => {
                        if matches!(req.purpose, Purpose::Profile { .. })
                            && resync_started.is_none()
                        {
                            resync_started = Some(Instant::now());
                        }
                        if req.purpose == Purpose::Firmware {
                            upgrading = true;
                        }
                        queued.push_back(req);
                    }
                    Action::Syslog { server, message } => {
                        self.stats.syslog.inc();
                        let net = self.net.clone();
                        // Sent beside the phone's loop, but awaited before
                        // the phone ends: under --once the process exits
                        // right after the last resync, and its closing
                        // message (Log_Success_Msg) must still leave.
                        while syslog_sends.try_join_next().is_some() {}
                        syslog_sends.spawn(async move {
                            if let Err(e) = net.syslog.send(&server, &message).await {
                                tracing::debug!("syslog to {server}: {e}");
                            }
                        });
                    }
                    Action::ResyncFinished { class, error } => {
                        let ms = resync_started
                            .take()
                            .map(|t| t.elapsed().as_millis() as u64);
                        self.stats.record_resync(class, error.as_deref(), ms);
                        if let Some(a) = act.as_mut() {
                            a.on_resync_finished(&mut phone, class == Class::A, now(skew).0);
                        }
                        if self.mode == RunMode::Once {
                            done = true;
                        }
                    }
                    Action::UpgradeFinished { ok, .. } => {
                        upgrading = false;
                        self.stats.record_upgrade(ok);
                    }
                    Action::Reboot { .. } => {
                        upgrading = false;
                        self.stats.reboots.inc();
                    }
                    Action::ReportFinished { .. }
                    | Action::ParamsApplied { .. }
                    | Action::RequestRefused { .. } => {
                        if let Action::RequestRefused { reason } = &action {
                            tracing::info!("{mac}: {reason}");
                        }
                    }
                }
            }
            if transfer.is_none() {
                if let Some(req) = queued.pop_front() {
                    transfer = Some(self.start_transfer(&mac, &phone, req));
                }
            }
            if act.as_mut().is_some_and(|a| a.take_powered_now()) {
                boot_timer = true;
            }
            // --once with activation: one round (final, or a retry armed).
            let act_settled = act.as_ref().is_none_or(|a| a.settled());
            let act_held_done = self.mode == RunMode::Once
                && act.as_ref().is_some_and(|a| !a.engine_on() && a.settled());
            if ((done && act_settled) || act_held_done)
                && transfer.is_none()
                && queued.is_empty()
                && !upgrading
            {
                break;
            }
            let timeout = phone.poll_timeout();
            if self.mode == RunMode::Once
                && transfer.is_none()
                && timeout.is_none()
                && !control_open
                && act_settled
            {
                // Nothing can happen any more (e.g. Provision_Enable = No):
                // the phone ends without a resync.
                break;
            }
            if transfer.is_none() {
                if let Some(t) = timeout {
                    let n = now(skew);
                    let once = self.mode == RunMode::Once;
                    // The boot resync keeps its Resync_Random_Delay spread
                    // unless --boot-storm; every other timer is skipped
                    // under --once.
                    let fast = if boot_timer {
                        self.boot_storm
                            || (once && !phone.params().get_bool("Resync_On_Reset", true))
                    } else {
                        once
                    };
                    if fast && t > n {
                        skew += t.0 - n.0;
                    }
                }
            }
            let act_at = act.as_ref().and_then(|a| a.retry_at());
            if let (Some(at), Some(wait)) = (act_at, act.as_ref().and_then(|a| a.retry_wait_ms())) {
                // --activation-retry-wait: jump the phone's clock over the
                // rest of the backoff (the fast-forward of --once).
                let n = now(skew).0;
                if at > n + wait {
                    skew += at - n - wait;
                }
            }
            let wake = match (timeout.map(|t| t.0), act_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep_ms = wake.map(|t| t.saturating_sub(now(skew).0));
            let sleep = async {
                match sleep_ms {
                    Some(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => break,
                (req, ex) = async { transfer.as_mut().expect("guarded").await }, if transfer.is_some() => {
                    transfer = None;
                    self.stats.bytes.add(ex.bytes);
                    phone.handle_input(Input::FetchDone { id: req.id, result: ex.result, server_ip: ex.server_ip }, now(skew));
                }
                answer = async { act.as_mut().expect("guarded").next_answer().await }, if act.as_ref().is_some_and(|a| a.busy()) => {
                    if let Some(a) = act.as_mut() {
                        a.feed(&mut phone, answer, now(skew).0);
                    }
                }
                msg = self.control.recv(), if control_open => match msg {
                    Some(Control::Input(input)) => match act.as_mut() {
                        Some(a) => {
                            a.before_engine_input(&mut phone, &input, now(skew).0);
                            phone.handle_input(input, now(skew));
                            a.after_engine_input(&mut phone, now(skew).0);
                        }
                        None => phone.handle_input(input, now(skew)),
                    },
                    Some(Control::Status(reply)) => { let _ = reply.send(status_with(&phone, act.as_ref(), now(skew).0)); }
                    Some(Control::Params(reply)) => {
                        let _ = reply.send(PhoneParams {
                            values: param_values(&phone),
                            swver: phone.identity().swver.clone(),
                        });
                    }
                    Some(Control::Activation(c)) => {
                        if matches!(c, crate::activation::ActivationControl::Reboot) {
                            // The engine's operation dies with the power.
                            transfer = None;
                            queued.clear();
                            upgrading = false;
                            resync_started = None;
                        }
                        match act.as_mut() {
                            Some(a) => a.control(&mut phone, c, now(skew).0),
                            None => crate::activation::control_without_client(&mut phone, c, now(skew).0),
                        }
                    }
                    Some(Control::FactoryReset) => {
                        // A fresh engine: answers of transfers started by the
                        // old one must not reach it.
                        transfer = None;
                        queued.clear();
                        upgrading = false;
                        resync_started = None;
                        // The installed firmware survives a factory reset.
                        let mut cfg = self.cfg.clone();
                        cfg.identity.swver = phone.identity().swver.clone();
                        phone = Phone::new(cfg);
                        match act.as_mut() {
                            // R-ACT-1: back to Open; activation decides the power-on.
                            Some(a) => a.factory_reset(&mut phone, now(skew).0),
                            None => phone.handle_input(Input::PowerOn, now(skew)),
                        }
                    }
                    None => control_open = false,
                },
                _ = sleep => {
                    let n = now(skew);
                    let act_fired = act.as_mut().is_some_and(|a| a.on_timer(&mut phone, n.0));
                    if !act_fired || timeout.is_some_and(|t| t <= n) {
                        boot_timer = false;
                        phone.handle_timeout(n);
                    }
                }
            }
        }
        while syslog_sends.join_next().await.is_some() {}
        let stats = phone.stats();
        PhoneOutcome {
            mac,
            last_class: stats.last_class,
            last_error: stats.last_error.clone(),
            params: self.keep_params.then(|| param_values(&phone)),
            status: self
                .keep_params
                .then(|| status_with(&phone, act.as_ref(), now(skew).0)),
            customization: act.as_ref().map(|a| a.state()),
        }
    }

    fn start_transfer(&self, mac: &str, phone: &Phone, req: FetchRequest) -> Transfer {
        let net = self.net.clone();
        let slots = self.slots.clone();
        let stats = self.stats.clone();
        let mac = mac.to_string();
        // The parameters as of now decide TLS and proxy for this transfer.
        let params = phone.params().clone();
        Box::pin(async move {
            let _permit = slots.acquire_owned().await.expect("semaphore never closed");
            let t = Instant::now();
            let ex = net.execute(&mac, &params, &req).await;
            stats.record_fetch(t.elapsed().as_millis() as u64);
            (req, ex)
        })
    }
}
