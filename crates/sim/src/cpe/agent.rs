//! One phone's CPE agent: the executor of the device's TR-069 side. The
//! device (`phoneprov_phone::Device`) decides when to inform and with
//! which events (R-TR69-3, back-off, periodic inform, connection
//! requests); the agent runs the CWMP session it asks for over HTTP
//! against its data model, reports the result, and carries out what the
//! session asked for (reboot, factory reset, downloads; R-TR69-2). See
//! the module docs of [`crate::cpe`] for how it shares the phone with the
//! driver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use phoneprov_cwmp::{
    CpeSession, CpeStep, CwmpVersion, DeviceId, Event, EventCode, Inform, ParameterValue, Rpc,
    TransferComplete,
};
use phoneprov_httpauth::Credentials;
use phoneprov_phone::{Action, InformEvent, Input, PhoneConfig};
use phoneprov_transport::HttpClient;
use tokio::sync::{mpsc, oneshot, watch};

use super::http::AcsConn;
use super::model::{MgmtInit, PhoneModel, MAC_PARAM, MS, SW};
use super::{now_rfc3339, Tr069Config};

mod transfer;
use crate::driver::{param_values, Control};
use crate::report::FleetStats;

/// Attempts of the one session under `--once`.
pub(crate) const ONCE_ATTEMPTS: u32 = 3;
/// A session with more POSTs than this is abandoned (an ACS that never
/// sends its empty response).
const MAX_STEPS: usize = 10_000;

/// What every agent of a fleet shares.
pub(crate) struct Shared {
    pub client: Arc<HttpClient>,
    /// The fleet's `--ca` (the ACS client's trust), to which a phone's
    /// custom CA is added.
    pub trust_pem: Option<Vec<u8>>,
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
    cr_creds: Arc<Mutex<(String, String)>>,
    shutdown: watch::Receiver<bool>,
    /// Built at first use (a session, a change to watch), so phones
    /// waiting for their `--once` session hold no model.
    model: Option<PhoneModel>,
    acs_url: String,
    /// The ACS this phone discovered (its own lease's option 43/125, or
    /// the fleet's): where a factory reset sends it back to.
    discovered_acs: String,
    changes: Vec<ParameterValue>,
    transfers: Vec<TransferComplete>,
    /// `(PeriodicInformEnable, PeriodicInformInterval)` last told the device.
    periodic: (bool, u64),
    /// The phone's installed custom CA as of the last refresh, and the
    /// ACS client built with it as an additional trust anchor.
    custom_ca: Option<Vec<u8>>,
    ca_client: Option<(Vec<u8>, Arc<HttpClient>)>,
    /// A session the device asked for while the agent was busy (a
    /// download waiting for the engine's outcome).
    deferred: Option<(Vec<Event>, u32)>,
}

fn event(code: EventCode, key: &str) -> Event {
    Event {
        code,
        command_key: key.to_string(),
    }
}

impl Agent {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        shared: Arc<Shared>,
        pcfg: PhoneConfig,
        control: mpsc::Sender<Control>,
        phone_events: mpsc::UnboundedReceiver<Action>,
        cr_creds: Arc<Mutex<(String, String)>>,
        shutdown: watch::Receiver<bool>,
        own_acs: Option<String>,
    ) -> Agent {
        let acs_url = own_acs.unwrap_or_else(|| shared.acs_url.clone());
        let interval = shared.cfg.inform_interval.unwrap_or(3600);
        Agent {
            shared,
            pcfg,
            control,
            phone_events,
            cr_creds,
            shutdown,
            model: None,
            discovered_acs: acs_url.clone(),
            acs_url,
            changes: Vec::new(),
            transfers: Vec::new(),
            periodic: (true, interval),
            deferred: None,
            custom_ca: None,
            ca_client: None,
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

    /// Queues an event for the device's next Inform.
    async fn add_event(&mut self, code: EventCode, key: &str) {
        let e = event(code, key);
        self.input(Input::Tr069Event(e)).await;
    }

    async fn input(&self, input: Input) {
        let _ = self.control.send(Control::Input(input)).await;
    }

    /// Runs until shutdown, or the phone's end: sessions when the device
    /// asks (`Action::Inform`), value changes from its outcome actions.
    pub(crate) async fn run(mut self) {
        loop {
            let a = match self.deferred.take() {
                Some((events, retry_count)) => Some(Action::Inform {
                    events,
                    retry_count,
                }),
                None => tokio::select! {
                    biased;
                    _ = self.shutdown.changed() => break,
                    a = self.phone_events.recv() => a,
                },
            };
            match a {
                Some(Action::Inform {
                    events,
                    retry_count,
                }) => {
                    // Boxed: the HTTP futures are large, and a phone waiting
                    // for its session should not carry their state.
                    let result = Box::pin(self.session(events, retry_count)).await;
                    if let Err(e) = &result {
                        tracing::info!("{}: TR-069 session failed: {e}", self.pcfg.identity.mac);
                        self.shared.stats.cwmp.session_failed(e);
                    }
                    let ok = result.is_ok();
                    self.input(Input::InformDone(result)).await;
                    if ok {
                        self.delivered().await;
                        if !self.shared.once {
                            Box::pin(self.after_session()).await;
                        }
                    }
                }
                Some(other) => self.on_phone(other).await,
                None => break,
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
                    self.merge_changes(changed).await;
                }
            }
            // The device adds `1 BOOT` itself.
            Action::Reboot { new_swver } => {
                if let Some(m) = self.model.as_mut() {
                    m.set_own(SW, &new_swver);
                }
            }
            Action::Inform {
                events,
                retry_count,
            } => self.deferred = Some((events, retry_count)),
            _ => {}
        }
    }

    async fn merge_changes(&mut self, changed: Vec<ParameterValue>) {
        if changed.is_empty() {
            return;
        }
        for c in changed {
            self.changes.retain(|x| x.name != c.name);
            self.changes.push(c);
        }
        self.add_event(EventCode::ValueChange, "").await;
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
        self.custom_ca = now.custom_ca;
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

    fn inform(&mut self, events: Vec<Event>, retry_count: u32) -> Inform {
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
            events,
            max_envelopes: 1,
            current_time: now_rfc3339(),
            retry_count,
            parameters,
        }
    }

    /// One whole session: Inform, TransferCompletes, the ACS's requests.
    async fn session(&mut self, events: Vec<InformEvent>, retry_count: u32) -> Result<(), String> {
        let slots = self.shared.slots.clone();
        let _permit = slots.acquire_owned().await.expect("semaphore never closed");
        self.refresh().await;
        let mut events = events;
        let passive = self.model().mem.take_value_changes();
        if !passive.is_empty() && !events.iter().any(|e| e.code == EventCode::ValueChange) {
            events.push(event(EventCode::ValueChange, ""));
        }
        for c in passive {
            self.changes.retain(|x| x.name != c.name);
            self.changes.push(c);
        }
        let inform = self.inform(events, retry_count);
        let mut session = CpeSession::new(inform).with_version(CwmpVersion::V1_2);
        for tc in &self.transfers {
            session.queue_request(Rpc::TransferComplete(tc.clone()));
        }
        let user = self.model().ms("Username").to_string();
        let pass = self.model().ms("Password").to_string();
        let creds = (!user.is_empty()).then(|| Credentials::new(user, pass));
        let sw = self.model().mem.value(SW).unwrap_or("").to_string();
        let id = &self.pcfg.identity;
        let ua = format!("Cisco-{}/{sw} ({})", id.pn, id.mac);
        let client = self.acs_client()?;
        let mut conn = AcsConn::new(client, &self.acs_url, creds, ua);
        let started = std::time::Instant::now();
        let mut body = session.start();
        for _ in 0..MAX_STEPS {
            let (status, resp) = conn.post(&body).await?;
            let step = session.handle_response(status, &resp, self.model());
            self.flush_writes().await;
            match step.map_err(|e| e.to_string())? {
                CpeStep::Post(next) => body = next,
                CpeStep::Done => {
                    let done = session.completed_requests();
                    self.transfers
                        .retain(|t| !done.contains(&Rpc::TransferComplete(t.clone())));
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

    /// The fleet's ACS client, or one that also trusts the phone's custom
    /// CA (R-TR69: a custom CA is a trust anchor for TR-069 too; host-name
    /// validation stays on).
    fn acs_client(&mut self) -> Result<Arc<HttpClient>, String> {
        let Some(pem) = &self.custom_ca else {
            return Ok(self.shared.client.clone());
        };
        if let Some((p, c)) = &self.ca_client {
            if p == pem {
                return Ok(c.clone());
            }
        }
        let tls = phoneprov_pki::client_config(&phoneprov_pki::ClientTls {
            trust_pem: self.shared.trust_pem.clone(),
            extra_trust_pem: Some(pem.clone()),
            validate_name: true,
            ..phoneprov_pki::ClientTls::default()
        })
        .map_err(|e| format!("TLS for the ACS with the custom CA: {e}"))?;
        let mut cfg = self.shared.client.config().clone();
        cfg.tls = tls;
        let c = Arc::new(HttpClient::new(cfg));
        self.ca_client = Some((pem.clone(), c.clone()));
        Ok(c)
    }

    /// After a successful session: its value changes are delivered;
    /// transfers the ACS did not acknowledge stay for the next one.
    async fn delivered(&mut self) {
        self.changes.clear();
        for t in self.transfers.clone() {
            self.add_event(EventCode::TransferComplete, "").await;
            self.add_event(EventCode::MDownload, &t.command_key).await;
        }
    }

    /// What the session asked for: settings, downloads, reboot, reset.
    async fn after_session(&mut self) {
        if self.model().mem.factory_resets > 0 {
            // The device drops its events and bootstraps again.
            self.input(Input::FactoryReset).await;
            self.acs_url = self.discovered_acs.clone();
            self.model = None;
            self.custom_ca = None;
            self.ca_client = None;
            self.transfers.clear();
            self.changes.clear();
            self.periodic = (true, self.shared.cfg.inform_interval.unwrap_or(3600));
            self.apply_settings().await;
            return;
        }
        let mem = &mut self.model().mem;
        let reboots = std::mem::take(&mut mem.reboots);
        let downloads = std::mem::take(&mut mem.downloads);
        self.apply_settings().await;
        for d in downloads {
            self.download(d).await;
        }
        if !reboots.is_empty() {
            for k in reboots {
                self.add_event(EventCode::MReboot, &k).await;
            }
            // The device adds `1 BOOT`.
            self.input(Input::Reboot).await;
        }
    }

    /// ManagementServer values the ACS may have changed, told the device.
    async fn apply_settings(&mut self) {
        let url = self.model().ms("URL").trim().to_string();
        let mut new_acs = false;
        if !url.is_empty() && url != self.acs_url {
            // A new ACS: first contact with it (TR-069 3.2.1).
            self.acs_url = url;
            new_acs = true;
        }
        let on = matches!(self.model().ms("PeriodicInformEnable").trim(), "true" | "1");
        let secs = self
            .model()
            .ms("PeriodicInformInterval")
            .trim()
            .parse()
            .unwrap_or(self.periodic.1);
        if (on, secs) != self.periodic || new_acs {
            self.periodic = (on, secs);
            self.input(Input::Tr069Settings {
                periodic_enable: on,
                interval_s: secs,
                new_acs,
            })
            .await;
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
