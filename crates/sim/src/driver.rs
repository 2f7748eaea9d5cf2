//! Runs one [`Device`] on tokio: `loop { carry out the actions; wait for
//! the transfer or activation exchange in flight, a trigger, or the next
//! timer }`. Everything the phone decides (resyncs, activation, SIP
//! answers) is in the sans-IO device; this loop only executes.
//!
//! One task per phone, holding only the device, a channel receiver and at
//! most one transfer future (the engine runs one operation at a time), so
//! 100 000 phones cost 100 000 small tasks. A fleet-wide semaphore bounds
//! the transfers in flight (`--concurrency`): phones wait for a slot, not
//! for file descriptors.
//!
//! Time: the phone's local wall clock is UTC (`SystemTime` since the
//! epoch) plus a per-phone skew, both kept by the sans-IO
//! [`Pacer`] (`phoneprov_phone::pacing`), which also decides when a
//! `--once` phone is done: for the boot resync of a `--boot-storm`, and
//! for every later timer under [`RunMode::Once`], it moves the skew
//! forward so the timer is due now (the phone "fast-forwards"). Without
//! `--boot-storm` the boot resync waits its `Resync_Random_Delay` spread
//! (default 0–2 s) in real time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use phoneprov_phone::pacing::{Pacer, RunPolicy, Step};
use phoneprov_phone::{Action, Class, Device, DeviceConfig, FetchRequest, Input, Phone, Purpose};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::activation::{ActivationExec, Exchange};
use crate::config::RunMode;
use crate::exec::{Executed, Net};
use crate::report::FleetStats;

/// What the trigger listener sends to one phone.
#[derive(Debug)]
pub enum Control {
    /// Feed this input now (resync/upgrade/report triggers, R-RULE-6;
    /// `Reboot`, `FactoryReset`, SIP requests).
    Input(Input),
    /// Answer with `status_json` plus the current parameter values.
    Status(oneshot::Sender<serde_json::Value>),
    /// Answer with the current parameter values and software version
    /// only (the CPE agent's data model refresh before each session;
    /// cheaper than [`Control::Status`]'s JSON).
    Params(oneshot::Sender<PhoneParams>),
    /// The user typed a `gds://` code (R-ACT-2); the reply says whether
    /// it was submitted.
    GdsCode(String, oneshot::Sender<Result<(), String>>),
}

/// The phone's parameter values (sorted by name) and software version.
#[derive(Debug, Clone, Default)]
pub struct PhoneParams {
    pub values: Vec<(String, String)>,
    pub swver: String,
    /// The installed custom CA (`Custom_CA_Rule` or a TR-069 Download):
    /// an additional trust anchor for the TR-069 sessions too.
    pub custom_ca: Option<Vec<u8>>,
}

/// What one phone ended with.
#[derive(Debug, Clone)]
pub struct PhoneOutcome {
    pub mac: String,
    /// Class of the last resync; `None` if it never finished one.
    pub last_class: Option<Class>,
    pub last_error: Option<String>,
    /// Every parameter with a value, secrets masked (only kept when
    /// asked, `--count 1`).
    pub params: Option<Vec<(String, String)>>,
    pub status: Option<serde_json::Value>,
    /// The customization state (R-ACT) when `--activation` is on.
    pub customization: Option<phoneprov_phone::activation::CustomizationState>,
}

/// Everything a phone task needs.
pub(crate) struct PhoneTask {
    /// Taken by [`PhoneTask::run`] (the device owns it from then on).
    pub cfg: Option<DeviceConfig>,
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
    /// The activation executor (`--activation`, R-ACT).
    pub activation: Option<ActivationExec>,
    /// Where SIP answers go (`--sip-listen`).
    pub sip: Option<Arc<crate::sip::SipListener>>,
    /// The lease's options 6, 15, 42 (NTP), 56 (message) for the status
    /// page (shared by the fleet).
    pub lease_status: Arc<serde_json::Value>,
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

/// Parameter values as the status page and the `--json` report show
/// them: a secret's value is never echoed (issue 16; R-FMT-7 for
/// `IKM_HTTP_Encrypt_Content`), only whether it is set (`********`).
fn shown_values(phone: &Phone) -> Vec<(String, String)> {
    param_values(phone)
        .into_iter()
        .map(|(k, v)| {
            let secret = phoneprov_profile::schema::lookup(&k).is_some_and(|s| s.secret);
            if secret && !v.is_empty() {
                (k, "********".into())
            } else {
                (k, v)
            }
        })
        .collect()
}

fn shown_params(phone: &Phone) -> serde_json::Map<String, serde_json::Value> {
    shown_values(phone)
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect()
}

/// The status page: the device's, with the lease, the PAC outcome and
/// every parameter value.
fn status_of(dev: &Device, lease: &serde_json::Value, net: &Net) -> serde_json::Value {
    let mut s = dev.status_json();
    if let Some(obj) = s.as_object_mut() {
        obj.insert("dhcp".into(), lease.clone());
        if let Some(p) = net.pac_status() {
            obj.insert("proxy".into(), p);
        }
        let params = shown_params(dev.engine());
        obj.insert("params".into(), serde_json::Value::Object(params));
    }
    s
}

/// Carries out one message of the trigger listener.
fn answer_control(
    dev: &mut Device,
    pace: &mut Pacer,
    c: Control,
    lease: &serde_json::Value,
    net: &Net,
) {
    match c {
        Control::Status(reply) => {
            let _ = reply.send(status_of(dev, lease, net));
        }
        Control::Params(reply) => {
            let _ = reply.send(PhoneParams {
                values: param_values(dev.engine()),
                swver: dev.engine().identity().swver.clone(),
                custom_ca: dev.engine().custom_ca_pem().map(<[u8]>::to_vec),
            });
        }
        Control::GdsCode(code, reply) => {
            let _ = reply.send(dev.type_code(code, pace.now(wall_ms())));
        }
        Control::Input(input) => pace.input(dev, input, wall_ms()),
    }
}

/// The operations in flight of one phone (at most one transfer, one
/// activation exchange); a reboot drops them.
#[derive(Default)]
struct InFlight {
    transfer: Option<Transfer>,
    queued: std::collections::VecDeque<FetchRequest>,
    exchange: Option<Exchange>,
    /// The flows of the lines' REGISTERs.
    sip: crate::sip_flows::SipFlows,
    resync_started: Option<Instant>,
}

impl PhoneTask {
    /// Runs the phone until `--once` is satisfied, or shutdown. The
    /// decisions (the phone's clock, when it is done) are the
    /// [`Pacer`]'s; this loop carries out actions and feeds inputs.
    pub async fn run(mut self) -> PhoneOutcome {
        let cfg = self.cfg.take().expect("a phone task runs once");
        let mac = cfg.phone.identity.mac.clone();
        let mut dev = Device::new(cfg);
        let mut pace = Pacer::new(RunPolicy {
            once: self.mode == RunMode::Once,
            boot_storm: self.boot_storm,
            activation_retry_wait_ms: self.activation.as_ref().and_then(|a| a.retry_wait_ms()),
            inform_attempts: crate::cpe::agent::ONCE_ATTEMPTS,
            inputs_held: self.cpe_events.is_some(),
        });
        pace.input(&mut dev, Input::PowerOn, wall_ms());
        let mut fl = InFlight::default();
        let mut syslog_sends = tokio::task::JoinSet::new();
        loop {
            while let Some(action) = dev.poll_action() {
                pace.on_action(&action);
                self.carry(&mac, &dev, action, &mut fl, &mut syslog_sends);
            }
            if fl.transfer.is_none() {
                if let Some(req) = fl.queued.pop_front() {
                    fl.transfer = Some(self.start_transfer(&mac, dev.engine(), req));
                }
            }
            let sleep_ms = match pace.step(&dev, wall_ms(), fl.transfer.is_none()) {
                Step::Stop => break,
                Step::Wait(ms) => ms,
            };
            let sleep = async {
                match sleep_ms {
                    Some(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
                    None => std::future::pending().await,
                }
            };
            let inputs_open = pace.inputs_open();
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => break,
                (req, ex) = async { fl.transfer.as_mut().expect("guarded").await }, if fl.transfer.is_some() => {
                    fl.transfer = None;
                    self.stats.bytes.add(ex.bytes);
                    let done = Input::FetchDone { id: req.id, result: ex.result, server_ip: ex.server_ip };
                    pace.input(&mut dev, done, wall_ms());
                }
                answer = async { fl.exchange.as_mut().expect("guarded").await }, if fl.exchange.is_some() => {
                    fl.exchange = None;
                    pace.input(&mut dev, answer, wall_ms());
                }
                Some(input) = fl.sip.next() => pace.input(&mut dev, input, wall_ms()),
                msg = self.control.recv(), if inputs_open => match msg {
                    Some(c) => {
                        if matches!(c, Control::Input(Input::Reboot | Input::FactoryReset)) {
                            // The operations die with the power; answers of
                            // transfers started before must not arrive.
                            fl = InFlight::default();
                        }
                        answer_control(&mut dev, &mut pace, c, &self.lease_status, &self.net);
                    }
                    None => pace.inputs_closed(),
                },
                _ = sleep => pace.on_timer(&mut dev, wall_ms()),
            }
        }
        while syslog_sends.join_next().await.is_some() {}
        let stats = dev.engine().stats();
        PhoneOutcome {
            mac,
            last_class: stats.last_class,
            last_error: stats.last_error.clone(),
            params: self.keep_params.then(|| shown_values(dev.engine())),
            status: self
                .keep_params
                .then(|| status_of(&dev, &self.lease_status, &self.net)),
            customization: dev.customization(),
        }
    }

    /// Carries out one action of the device.
    fn carry(
        &self,
        mac: &str,
        dev: &Device,
        action: Action,
        fl: &mut InFlight,
        syslog_sends: &mut tokio::task::JoinSet<()>,
    ) {
        if let Some(tx) = &self.cpe_events {
            if matches!(
                action,
                Action::Inform { .. }
                    | Action::ParamsApplied { .. }
                    | Action::ResyncFinished { .. }
                    | Action::UpgradeFinished { .. }
                    | Action::Reboot { .. }
                    | Action::RequestRefused { .. }
                    | Action::ReportFinished { .. }
                    | Action::CustomCaFinished { .. }
            ) {
                let _ = tx.send(action.clone());
            }
        }
        match action {
            Action::Fetch(req) => {
                if matches!(req.purpose, Purpose::Profile { .. }) && fl.resync_started.is_none() {
                    fl.resync_started = Some(Instant::now());
                }
                fl.queued.push_back(req);
            }
            Action::Syslog { server, message } => {
                self.stats.syslog.inc();
                let net = self.net.clone();
                // Sent beside the phone's loop, but awaited before the
                // phone ends: under --once the process exits right after
                // the last resync, and its closing message
                // (Log_Success_Msg) must still leave.
                while syslog_sends.try_join_next().is_some() {}
                syslog_sends.spawn(async move {
                    if let Err(e) = net.syslog.send(&server, &message).await {
                        tracing::debug!("syslog to {server}: {e}");
                    }
                });
            }
            Action::ResyncFinished { class, error } => {
                let ms = fl
                    .resync_started
                    .take()
                    .map(|t| t.elapsed().as_millis() as u64);
                self.stats.record_resync(class, error.as_deref(), ms);
            }
            Action::UpgradeFinished { ok, .. } => self.stats.record_upgrade(ok),
            Action::Reboot { .. } => self.stats.reboots.inc(),
            Action::Activation(r) => {
                fl.exchange = self.activation.as_ref().map(|x| x.start(dev.params(), &r));
            }
            Action::SipOpen(flow) => {
                let params = dev.params().clone();
                let ca = dev.engine().custom_ca_pem().map(<[u8]>::to_vec);
                fl.sip
                    .open(self.net.clone(), mac.to_string(), params, ca, flow);
            }
            Action::SipSend { flow, bytes } => fl.sip.send(flow, bytes),
            Action::SipClose { flow } => fl.sip.close(flow),
            Action::SipResponse(out) => {
                if let Some(sip) = &self.sip {
                    sip.respond(out);
                }
            }
            Action::RequestRefused { reason } => tracing::info!("{mac}: {reason}"),
            Action::ParamsIgnored { unknown, rejected } => {
                // As the phone logs them: ignored, the rest applied.
                if !unknown.is_empty() {
                    tracing::info!(
                        "{mac}: profile parameters ignored (not on this phone): {}",
                        unknown.join(", ")
                    );
                }
                for (name, reason) in rejected {
                    tracing::info!("{mac}: profile value of {name} refused: {reason}");
                }
            }
            Action::CustomCaFinished { ok, error } => match error {
                Some(e) => tracing::info!("{mac}: {e}"),
                None => tracing::debug!("{mac}: custom CA updated (ok {ok})"),
            },
            Action::PoweredOn
            | Action::ReportFinished { .. }
            | Action::ParamsApplied { .. }
            | Action::Inform { .. } => {}
        }
    }

    fn start_transfer(&self, mac: &str, phone: &Phone, req: FetchRequest) -> Transfer {
        let net = self.net.clone();
        let slots = self.slots.clone();
        let stats = self.stats.clone();
        let mac = mac.to_string();
        // The parameters and custom CA as of now decide TLS and proxy for
        // this transfer.
        let params = phone.params().clone();
        let custom_ca = phone.custom_ca_pem().map(<[u8]>::to_vec);
        Box::pin(async move {
            let _permit = slots.acquire_owned().await.expect("semaphore never closed");
            let t = Instant::now();
            let ex = net.execute(&mac, &params, custom_ca.as_deref(), &req).await;
            stats.record_fetch(t.elapsed().as_millis() as u64);
            (req, ex)
        })
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;
    use phoneprov_phone::{PhoneConfig, PhoneIdentity};

    /// Issue 16: `/status.json` never echoes a secret's value.
    #[test]
    fn status_hides_secrets() {
        let mut cfg = PhoneConfig::new(PhoneIdentity {
            mac: "000e08aabbcc".into(),
            serial: "SN".into(),
            pn: "CP-7841-3PCC".into(),
            psn: "7841".into(),
            swver: "11.3.1".into(),
            hwver: "1".into(),
        });
        cfg.initial_params = vec![
            ("Password_1_".into(), "hunter2".into()),
            ("User_ID_1_".into(), "1001".into()),
        ];
        let s = serde_json::Value::Object(shown_params(&Phone::new(cfg))).to_string();
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("\"Password_1_\":\"********\""), "{s}");
        assert!(s.contains("\"User_ID_1_\":\"1001\""), "{s}");
    }
}
