//! Helpers shared by the session tests: a phone-like data model, Informs,
//! and an in-memory driver that plays the HTTP exchange between the two
//! session machines while recording every RPC that crosses the wire.
#![allow(dead_code)]

use phoneprov_cwmp::*;
use std::collections::BTreeSet;

pub const SW: &str = "Device.DeviceInfo.SoftwareVersion";
pub const CR_URL: &str = "Device.ManagementServer.ConnectionRequestURL";
pub const PKEY: &str = "Device.ManagementServer.ParameterKey";
pub const INTERVAL: &str = "Device.ManagementServer.PeriodicInformInterval";
pub const CIPHERS: &str = "Device.X_CISCO_SecuritySettings.TLSCipherList";
pub const TIME_ENABLE: &str = "Device.Time.Enable";
pub const LINES: &str = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";

/// A Cisco 3PCC-like data model.
pub fn phone_model() -> MemoryDataModel {
    let mut m = MemoryDataModel::new();
    m.insert(
        "Device.DeviceInfo.Manufacturer",
        "Cisco",
        ValueType::String,
        false,
    )
    .insert(SW, "sip88xx.12-0-1MPP-407", ValueType::String, false)
    .insert(
        CR_URL,
        "http://192.168.1.57:7547/cr",
        ValueType::String,
        false,
    )
    .insert(PKEY, "", ValueType::String, false)
    .insert(INTERVAL, "3600", ValueType::UnsignedInt, true)
    .insert(CIPHERS, "", ValueType::String, true)
    .insert(TIME_ENABLE, "1", ValueType::Boolean, true)
    .add_table(
        LINES,
        &[
            ("Enable", "0", ValueType::Boolean, true),
            ("DirectoryNumber", "", ValueType::String, true),
        ],
    );
    m
}

pub fn device() -> DeviceId {
    DeviceId {
        manufacturer: "Cisco".into(),
        oui: "000E08".into(),
        product_class: "CP-8841-3PCC".into(),
        serial_number: "FCH2231A7QX".into(),
    }
}

/// An Inform with `events` and the forced parameters from `model`.
pub fn inform(model: &MemoryDataModel, events: Vec<Event>) -> Inform {
    Inform {
        device_id: device(),
        events,
        max_envelopes: 1,
        current_time: "2026-11-21T20:00:00Z".into(),
        retry_count: 0,
        parameters: [SW, CR_URL, PKEY]
            .iter()
            .map(|n| ParameterValue::string(*n, model.value(n).unwrap()))
            .collect(),
    }
}

/// What one session produced.
#[derive(Debug, Default)]
pub struct Transcript {
    pub events: Vec<AcsEvent>,
    /// Method names seen on the wire (both directions, `Fault` included).
    pub methods: BTreeSet<String>,
    /// HTTP statuses the ACS answered, in order.
    pub statuses: Vec<u16>,
    /// Every ACS envelope as parsed (to check versions and headers).
    pub acs_envelopes: Vec<Envelope>,
}

impl Transcript {
    pub fn done(&self) -> Vec<(String, Rpc)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                AcsEvent::TaskDone { task_id, response } => {
                    Some((task_id.clone(), response.clone()))
                }
                _ => None,
            })
            .collect()
    }

    pub fn faults(&self) -> Vec<(String, Fault)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                AcsEvent::TaskFault { task_id, fault } => Some((task_id.clone(), fault.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn response(&self, task: &str) -> Rpc {
        self.done()
            .into_iter()
            .find(|(id, _)| id == task)
            .unwrap_or_else(|| panic!("task {task} has no response in {:?}", self.events))
            .1
    }
}

fn note(methods: &mut BTreeSet<String>, body: &[u8]) -> Option<Envelope> {
    if body.is_empty() {
        return None;
    }
    let env = parse_envelope(body).expect("every body on the wire parses");
    methods.insert(env.body.method_name().to_string());
    Some(env)
}

/// Runs one whole session between the two machines, in memory.
pub fn run(
    acs: &mut AcsSession,
    cpe: &mut CpeSession,
    model: &mut MemoryDataModel,
    source: &mut dyn TaskSource,
) -> Transcript {
    let mut t = Transcript::default();
    let mut body = cpe.start();
    for _ in 0..200 {
        note(&mut t.methods, &body);
        let mut step = acs.handle(&body);
        let reply = loop {
            match step {
                AcsStep::Reply(r) => break r,
                AcsStep::NeedTasks(device) => {
                    let fetched = source.next_task(&device).into_iter().collect();
                    step = acs.tasks_fetched(Ok(fetched));
                }
            }
        };
        t.events.extend(reply.events.iter().cloned());
        t.statuses.push(reply.status);
        if let Some(env) = note(&mut t.methods, &reply.body) {
            t.acs_envelopes.push(env);
        }
        match cpe.handle_response(reply.status, &reply.body, model) {
            Ok(CpeStep::Post(b)) => body = b,
            Ok(CpeStep::Done) => {
                assert!(reply.done, "the CPE ended but the ACS did not");
                return t;
            }
            Err(e) => panic!("CPE failed: {e}; transcript {t:?}"),
        }
    }
    panic!("session did not end: {t:?}")
}

/// The test shell's task storage: asked on [`AcsStep::NeedTasks`].
pub trait TaskSource {
    /// The next task for `device`, if any.
    fn next_task(&mut self, device: &DeviceId) -> Option<Task>;
}

/// A [`TaskSource`] with nothing in it.
pub struct Empty;

impl TaskSource for Empty {
    fn next_task(&mut self, _: &DeviceId) -> Option<Task> {
        None
    }
}
