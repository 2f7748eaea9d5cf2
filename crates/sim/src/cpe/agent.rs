//! One phone's CPE agent: when to inform and with which events
//! (R-TR69-3), one CWMP session over HTTP, and what happens after it
//! (reboot, factory reset, downloads; R-TR69-2). See the module docs of
//! [`crate::cpe`] for how it shares the phone with the engine's driver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use phoneprov_cwmp::{
    CpeSession, CpeStep, CwmpVersion, DeviceId, Event, EventCode, Inform, ParameterValue, Rpc,
    TransferComplete,
};
use phoneprov_httpauth::Credentials;
use phoneprov_phone::{Action, Input, PhoneConfig};
use phoneprov_transport::HttpClient;
use rand::Rng;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::http::AcsConn;
use super::model::{MgmtInit, PhoneModel, MAC_PARAM, MS, SW};
use super::{now_rfc3339, Tr069Config};

mod transfer;
use crate::driver::{param_values, Control};
use crate::report::FleetStats;

/// Attempts of the one session under `--once`.
const ONCE_ATTEMPTS: u32 = 3;
/// A session with more POSTs than this is abandoned (an ACS that never
/// sends its empty response).
const MAX_STEPS: usize = 10_000;

/// What every agent of a fleet shares.
pub(crate) struct Shared {
    pub client: Arc<HttpClient>,
    pub acs_url: String,
    pub cfg: Tr069Config,
    /// `http://HOST:PORT/tr069/` of the connection-request listener.
    pub cr_base: Option<String>,
    pub once: bool,
    pub stats: Arc<FleetStats>,
    pub request_timeout: Duration,
    /// Sessions in flight at most (`--concurrency`, a budget of its own
    /// beside the engines' transfers): 100 000 phones informing at once
    /// queue here instead of exhausting file descriptors.
    pub slots: Arc<tokio::sync::Semaphore>,
}

/// One phone's agent.
pub(crate) struct Agent {
    shared: Arc<Shared>,
    pcfg: PhoneConfig,
    control: mpsc::Sender<Control>,
    phone_events: mpsc::UnboundedReceiver<Action>,
    phone_open: bool,
    cr: mpsc::Receiver<()>,
    cr_open: bool,
    cr_creds: Arc<Mutex<(String, String)>>,
    shutdown: watch::Receiver<bool>,
    /// Built at first use (a session, a change to watch), so phones
    /// waiting for their `--once` session hold no model.
    model: Option<PhoneModel>,
    acs_url: String,
    events: Vec<Event>,
    changes: Vec<ParameterValue>,
    transfers: Vec<TransferComplete>,
    retries: u32,
    retry_at: Option<Instant>,
    next_periodic: Option<Instant>,
    periodic: (bool, u64),
    custom_ca: Option<Vec<u8>>,
}

fn event(code: EventCode, key: &str) -> Event {
    Event {
        code,
        command_key: key.to_string(),
    }
}

/// TR-069 3.2.1.1: retry `n` (1-based) waits a random time in
/// `[m·2^(n-1), m·2^n]`, `n` capped at 10.
pub fn backoff(min_wait: Duration, n: u32) -> Duration {
    let n = n.clamp(1, 10);
    let lo = min_wait.as_millis() as u64 * (1 << (n - 1));
    let hi = lo * 2;
    Duration::from_millis(rand::thread_rng().gen_range(lo..=hi.max(lo)))
}

impl Agent {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        shared: Arc<Shared>,
        pcfg: PhoneConfig,
        control: mpsc::Sender<Control>,
        phone_events: mpsc::UnboundedReceiver<Action>,
        cr: mpsc::Receiver<()>,
        cr_creds: Arc<Mutex<(String, String)>>,
        shutdown: watch::Receiver<bool>,
    ) -> Agent {
        let acs_url = shared.acs_url.clone();
        let interval = shared.cfg.inform_interval.unwrap_or(3600);
        Agent {
            shared,
            pcfg,
            control,
            phone_events,
            phone_open: true,
            cr,
            cr_open: true,
            cr_creds,
            shutdown,
            model: None,
            acs_url,
            events: Vec::new(),
            changes: Vec::new(),
            transfers: Vec::new(),
            retries: 0,
            retry_at: None,
            next_periodic: None,
            periodic: (true, interval),
            custom_ca: None,
        }
    }

    /// The ManagementServer values of a freshly built model.
    fn mgmt_init(shared: &Shared, pcfg: &PhoneConfig, acs_url: &str) -> MgmtInit {
        let c = &shared.cfg;
        MgmtInit {
            acs_url: acs_url.to_string(),
            username: c.acs_username.clone(),
            password: c.acs_password.clone(),
            interval: c.inform_interval.unwrap_or(3600),
            cr_url: shared
                .cr_base
                .as_ref()
                .map(|b| format!("{b}{}", pcfg.identity.mac))
                .unwrap_or_default(),
            cr_username: c.cr_username.clone(),
            cr_password: c.cr_password.clone(),
        }
    }

    /// The model of the phone as the initial configuration makes it.
    fn fresh_model(shared: &Shared, pcfg: &PhoneConfig, acs_url: &str) -> PhoneModel {
        let phone = phoneprov_phone::Phone::new(pcfg.clone());
        let ms = Self::mgmt_init(shared, pcfg, acs_url);
        PhoneModel::new(&pcfg.identity, &param_values(&phone), &ms)
    }

    /// The data model, built from the initial configuration if needed.
    fn model(&mut self) -> &mut PhoneModel {
        let (shared, pcfg, url) = (&self.shared, &self.pcfg, &self.acs_url);
        self.model
            .get_or_insert_with(|| Self::fresh_model(shared, pcfg, url))
    }

    fn add_event(&mut self, code: EventCode, key: &str) {
        let e = event(code, key);
        let single = !matches!(e.code, EventCode::MReboot | EventCode::MDownload);
        let present = self
            .events
            .iter()
            .any(|x| x.code == e.code && (single || x.command_key == e.command_key));
        if !present {
            self.events.push(e);
        }
    }

    fn schedule_periodic(&mut self) {
        let (on, secs) = self.periodic;
        self.next_periodic = (on && secs > 0).then(|| Instant::now() + Duration::from_secs(secs));
    }

    /// Runs until shutdown (or, under `--once`, after one session).
    pub(crate) async fn run(mut self) {
        if self.shared.cfg.bootstrapped {
            self.add_event(EventCode::Periodic, "");
        } else {
            self.add_event(EventCode::Bootstrap, "");
            self.add_event(EventCode::Boot, "");
        }
        self.schedule_periodic();
        loop {
            let due = !self.events.is_empty() && self.retry_at.is_none_or(|t| t <= Instant::now());
            if due {
                // Boxed: the HTTP futures are large, and a phone waiting for its
                // session should not carry their state.
                let result = Box::pin(self.session()).await;
                match &result {
                    Ok(()) => {
                        self.retries = 0;
                        self.retry_at = None;
                    }
                    Err(e) => {
                        tracing::info!("{}: TR-069 session failed: {e}", self.pcfg.identity.mac);
                        self.shared.stats.cwmp.session_failed(e);
                        self.retries += 1;
                        let wait = backoff(self.shared.cfg.retry_min_wait, self.retries);
                        self.retry_at = Some(Instant::now() + wait);
                    }
                }
                if self.shared.once && (result.is_ok() || self.retries >= ONCE_ATTEMPTS) {
                    break;
                }
                Box::pin(self.after_session()).await;
                continue;
            }
            let retry = self.retry_at.filter(|_| !self.events.is_empty());
            let wake = [retry, self.next_periodic].into_iter().flatten().min();
            let sleep = async {
                match wake {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => break,
                msg = self.cr.recv(), if self.cr_open => match msg {
                    Some(()) => {
                        self.add_event(EventCode::ConnectionRequest, "");
                        self.retry_at = None;
                    }
                    None => self.cr_open = false,
                },
                a = self.phone_events.recv(), if self.phone_open => match a {
                    Some(a) => self.on_phone(a).await,
                    None => self.phone_open = false,
                },
                _ = sleep => {
                    if self.next_periodic.is_some_and(|t| t <= Instant::now()) {
                        self.add_event(EventCode::Periodic, "");
                        let secs = self.periodic.1.max(1);
                        self.next_periodic = self.next_periodic.map(|t| t + Duration::from_secs(secs));
                    }
                }
            }
        }
    }

    /// Bookkeeping for an outcome action of the engine.
    async fn on_phone(&mut self, a: Action) {
        match a {
            // Without a model no notification is set: nothing to watch.
            Action::ParamsApplied { .. } if self.model.is_some() => {
                self.refresh().await;
                if self.model().mem.has_active_change() {
                    let changed = self.model().mem.take_value_changes();
                    self.merge_changes(changed);
                }
            }
            Action::Reboot { new_swver } => {
                if let Some(m) = self.model.as_mut() {
                    m.set_own(SW, &new_swver);
                }
                self.add_event(EventCode::Boot, "");
            }
            _ => {}
        }
    }

    fn merge_changes(&mut self, changed: Vec<ParameterValue>) {
        if changed.is_empty() {
            return;
        }
        for c in changed {
            self.changes.retain(|x| x.name != c.name);
            self.changes.push(c);
        }
        self.add_event(EventCode::ValueChange, "");
    }

    /// Takes the phone's current parameters into the model.
    /// Takes the phone's current values into the data model (building it
    /// from them at first use).
    async fn refresh(&mut self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Params(tx)).await.is_err() {
            return;
        }
        let Ok(now) = rx.await else { return };
        match &mut self.model {
            Some(model) => model.refresh(&now.values, &now.swver),
            None => {
                let mut identity = self.pcfg.identity.clone();
                identity.swver = now.swver;
                let ms = Self::mgmt_init(&self.shared, &self.pcfg, &self.acs_url);
                self.model = Some(PhoneModel::new(&identity, &now.values, &ms));
            }
        }
    }

    async fn flush_writes(&mut self) {
        let params = self.model().take_phone_writes();
        if !params.is_empty() {
            let _ = self
                .control
                .send(Control::Input(Input::SetParams { params }))
                .await;
        }
    }

    fn inform(&mut self) -> Inform {
        let model = self.model();
        let mut parameters = model.mem.inform_parameters();
        if let Some(v) = model.mem.value(MAC_PARAM) {
            parameters.push(ParameterValue::string(MAC_PARAM, v));
        }
        for c in &self.changes {
            if !parameters.iter().any(|p| p.name == c.name) {
                parameters.push(c.clone());
            }
        }
        let id = &self.pcfg.identity;
        Inform {
            device_id: DeviceId {
                manufacturer: "Cisco".into(),
                oui: id.mac.get(..6).unwrap_or_default().to_ascii_uppercase(),
                product_class: id.pn.clone(),
                serial_number: id.serial.clone(),
            },
            events: self.events.clone(),
            max_envelopes: 1,
            current_time: now_rfc3339(),
            retry_count: self.retries,
            parameters,
        }
    }

    /// One whole session: Inform, TransferCompletes, the ACS's requests.
    async fn session(&mut self) -> Result<(), String> {
        let slots = self.shared.slots.clone();
        let _permit = slots.acquire_owned().await.expect("semaphore never closed");
        self.refresh().await;
        let passive = self.model().mem.take_value_changes();
        self.merge_changes(passive);
        let mut session = CpeSession::new(self.inform()).with_version(CwmpVersion::V1_2);
        for tc in &self.transfers {
            session.queue_request(Rpc::TransferComplete(tc.clone()));
        }
        let user = self.model().ms("Username").to_string();
        let pass = self.model().ms("Password").to_string();
        let creds = (!user.is_empty()).then(|| Credentials::new(user, pass));
        let sw = self.model().mem.value(SW).unwrap_or("").to_string();
        let id = &self.pcfg.identity;
        let ua = format!("Cisco-{}/{sw} ({})", id.pn, id.mac);
        let mut conn = AcsConn::new(self.shared.client.clone(), &self.acs_url, creds, ua);
        let started = std::time::Instant::now();
        let mut body = session.start();
        for _ in 0..MAX_STEPS {
            let (status, resp) = conn.post(&body).await?;
            let step = session.handle_response(status, &resp, self.model());
            self.flush_writes().await;
            match step.map_err(|e| e.to_string())? {
                CpeStep::Post(next) => body = next,
                CpeStep::Done => {
                    self.delivered(&session);
                    let ms = started.elapsed().as_millis() as u64;
                    let rpcs = session.handled_requests().len();
                    let faults = session.faults_sent();
                    self.shared.stats.cwmp.session_ok(ms, rpcs, faults);
                    return Ok(());
                }
            }
        }
        Err(format!(
            "the ACS did not end the session within {MAX_STEPS} messages"
        ))
    }

    /// After a successful session: its events are delivered; transfers the
    /// ACS did not acknowledge stay for the next one.
    fn delivered(&mut self, session: &CpeSession) {
        self.events.clear();
        self.changes.clear();
        let done = session.completed_requests();
        self.transfers
            .retain(|t| !done.contains(&Rpc::TransferComplete(t.clone())));
        for t in self.transfers.clone() {
            self.add_event(EventCode::TransferComplete, "");
            self.add_event(EventCode::MDownload, &t.command_key);
        }
    }

    /// What the session asked for: settings, downloads, reboot, reset.
    async fn after_session(&mut self) {
        if self.model().mem.factory_resets > 0 {
            let _ = self.control.send(Control::Input(Input::FactoryReset)).await;
            self.acs_url = self.shared.acs_url.clone();
            self.model = None;
            self.custom_ca = None;
            self.transfers.clear();
            self.changes.clear();
            self.events.clear();
            self.add_event(EventCode::Bootstrap, "");
            self.add_event(EventCode::Boot, "");
            self.apply_settings();
            return;
        }
        let mem = &mut self.model().mem;
        let reboots = std::mem::take(&mut mem.reboots);
        let downloads = std::mem::take(&mut mem.downloads);
        self.apply_settings();
        for d in downloads {
            self.download(d).await;
        }
        if !reboots.is_empty() {
            let _ = self.control.send(Control::Input(Input::Reboot)).await;
            self.add_event(EventCode::Boot, "");
            for k in reboots {
                self.add_event(EventCode::MReboot, &k);
            }
        }
    }

    /// ManagementServer values the ACS may have changed.
    fn apply_settings(&mut self) {
        let url = self.model().ms("URL").trim().to_string();
        if !url.is_empty() && url != self.acs_url {
            // A new ACS: first contact with it (TR-069 3.2.1).
            self.acs_url = url;
            self.add_event(EventCode::Bootstrap, "");
        }
        let on = matches!(self.model().ms("PeriodicInformEnable").trim(), "true" | "1");
        let secs = self
            .model()
            .ms("PeriodicInformInterval")
            .trim()
            .parse()
            .unwrap_or(self.periodic.1);
        if (on, secs) != self.periodic {
            self.periodic = (on, secs);
            self.schedule_periodic();
        }
        let model = self.model();
        let pass = model
            .mem
            .value(&format!("{MS}ConnectionRequestPassword"))
            .unwrap_or("");
        let creds = (
            model.ms("ConnectionRequestUsername").to_string(),
            pass.to_string(),
        );
        *self.cr_creds.lock().expect("creds lock") = creds;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_windows_double_up_to_the_tenth_retry() {
        let m = Duration::from_secs(5);
        for n in 1..=12u32 {
            let k = 1u64 << (n.min(10) - 1);
            let w = backoff(m, n);
            assert!(
                w >= m * k as u32 && w <= m * 2 * k as u32,
                "retry {n}: {w:?}"
            );
        }
        assert!(backoff(m, 0) >= m, "retry 0 counts as the first");
    }
}
