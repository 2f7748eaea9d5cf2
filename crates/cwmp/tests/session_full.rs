//! Full ACS↔CPE sessions in memory (R-TR69-2, R-TR69-3): both machines
//! driven against each other over a phone's life — bootstrap with every
//! ACS RPC (and the CPE's own GetRPCMethods), reboot and transfer complete
//! with HoldRequests, periodic + value change with presets, connection
//! request with a TaskSource, and a dropped connection whose task is
//! requeued. Together the sessions put every RPC of R-TR69-2 and every
//! event of R-TR69-3 on the wire, checked at the end.

mod common;

use common::*;
use phoneprov_cwmp::*;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

fn gpv(names: &[&str]) -> Rpc {
    Rpc::GetParameterValues {
        names: names.iter().map(|s| s.to_string()).collect(),
    }
}

fn download(key: &str, file_type: FileType, url: &str) -> Rpc {
    Rpc::Download(Download {
        command_key: key.into(),
        file_type,
        url: url.into(),
        ..Download::default()
    })
}

struct Fleet {
    model: MemoryDataModel,
    methods: BTreeSet<String>,
    events: BTreeSet<String>,
}

impl Fleet {
    fn session(
        &mut self,
        acs: &mut AcsSession,
        mut cpe: CpeSession,
        source: &mut dyn TaskSource,
    ) -> (Transcript, CpeSession) {
        let t = run(acs, &mut cpe, &mut self.model, source);
        self.methods.extend(t.methods.iter().cloned());
        for e in &t.events {
            if let AcsEvent::Inform(i) = e {
                self.events
                    .extend(i.events.iter().map(|e| e.code.as_str().to_string()));
            }
        }
        (t, cpe)
    }
}

/// Session 1: bootstrap. Presets add GetRPCMethods and GetParameterNames;
/// the shell queues every other ACS RPC, including a SetParameterValues
/// that fails with 9005, 9007 and 9008 at once.
fn bootstrap(fleet: &mut Fleet) {
    let presets: PresetFn = Arc::new(|inform: &Inform| {
        if inform.has_event(&EventCode::Bootstrap) {
            vec![
                Task::new("p-methods", Rpc::GetRPCMethods),
                Task::new(
                    "p-names",
                    Rpc::GetParameterNames {
                        path: "Device.ManagementServer.".into(),
                        next_level: true,
                    },
                ),
            ]
        } else {
            vec![]
        }
    });
    let mut acs = AcsSession::new(AcsConfig {
        presets: Some(presets),
        ..AcsConfig::default()
    });
    let tasks = [
        ("gpv", gpv(&["Device.DeviceInfo.", INTERVAL])),
        (
            "spv-ok",
            Rpc::SetParameterValues {
                list: vec![
                    ParameterValue::string(CIPHERS, "RSA:!aNULL:!eNULL"),
                    ParameterValue::new(INTERVAL, "600", ValueType::UnsignedInt),
                ],
                parameter_key: "pk-1".into(),
            },
        ),
        (
            "spv-bad",
            Rpc::SetParameterValues {
                list: vec![
                    ParameterValue::string("Device.NoSuch.Param", "x"),
                    ParameterValue::new(INTERVAL, "soon", ValueType::UnsignedInt),
                    ParameterValue::string(SW, "hacked"),
                    ParameterValue::new(TIME_ENABLE, "0", ValueType::Boolean),
                ],
                parameter_key: "pk-bad".into(),
            },
        ),
        (
            "spa",
            Rpc::SetParameterAttributes(vec![SetParameterAttribute {
                name: CIPHERS.into(),
                notification_change: true,
                notification: 2,
                access_list_change: true,
                access_list: vec!["Subscriber".into()],
            }]),
        ),
        (
            "gpa",
            Rpc::GetParameterAttributes {
                names: vec![CIPHERS.into()],
            },
        ),
        (
            "add",
            Rpc::AddObject {
                object_name: LINES.into(),
                parameter_key: "pk-2".into(),
            },
        ),
        (
            "add2",
            Rpc::AddObject {
                object_name: LINES.into(),
                parameter_key: "pk-3".into(),
            },
        ),
        (
            "del",
            Rpc::DeleteObject {
                object_name: format!("{LINES}1."),
                parameter_key: "pk-4".into(),
            },
        ),
        (
            "dl-fw",
            download(
                "fw-1",
                FileType::Firmware,
                "http://prov.example.com/fw/sip88xx.12-0-2MPP.loads",
            ),
        ),
        (
            "dl-cfg",
            download(
                "cfg-1",
                FileType::VendorConfig,
                "https://prov.example.com/cfg/000e08abcdef.xml",
            ),
        ),
        (
            "dl-ca",
            download(
                "ca-1",
                FileType::CustomCa,
                "https://prov.example.com/ca.pem",
            ),
        ),
        (
            "dl-ftp",
            download("ftp-1", FileType::Firmware, "ftp://old.example.com/fw"),
        ),
        (
            "reboot",
            Rpc::Reboot {
                command_key: "reboot-1".into(),
            },
        ),
        ("reset", Rpc::FactoryReset),
    ];
    for (id, rpc) in tasks {
        acs.enqueue(Task::new(id, rpc));
    }
    let inform = inform(
        &fleet.model,
        vec![
            Event::new(EventCode::Bootstrap),
            Event::new(EventCode::Boot),
        ],
    );
    let mut cpe = CpeSession::new(inform).with_version(CwmpVersion::V1_4);
    cpe.queue_request(Rpc::GetRPCMethods);
    let (t, cpe) = fleet.session(&mut acs, cpe, &mut Empty);

    // The ACS answered in the CPE's version, one envelope per response.
    assert_eq!(acs.version(), CwmpVersion::V1_4);
    assert!(t
        .acs_envelopes
        .iter()
        .all(|e| e.version == CwmpVersion::V1_4));
    assert_eq!(t.statuses.last(), Some(&204));
    assert_eq!(cpe.acs_max_envelopes(), Some(1));
    assert!(acs.unfinished_tasks().is_empty());
    // GetRPCMethods from the CPE was answered by the ACS.
    assert_eq!(cpe.completed_requests(), &[Rpc::GetRPCMethods]);
    assert!(t.acs_envelopes.iter().any(|e| e.body
        == Rpc::GetRPCMethodsResponse(ACS_METHODS.iter().map(|m| m.to_string()).collect())));

    // Presets ran first, then the queued tasks, in order.
    let order: Vec<String> = t
        .events
        .iter()
        .filter_map(|e| match e {
            AcsEvent::TaskSent { task_id, .. } => Some(task_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(order[..3], ["p-methods", "p-names", "gpv"]);
    assert_eq!(order.len(), 16);

    let Rpc::GetRPCMethodsResponse(methods) = t.response("p-methods") else {
        panic!()
    };
    assert!(methods.iter().any(|m| m == "Download"));
    let Rpc::GetParameterNamesResponse(names) = t.response("p-names") else {
        panic!()
    };
    let names: Vec<_> = names
        .iter()
        .map(|i| (i.name.as_str(), i.writable))
        .collect();
    assert_eq!(
        names,
        [(CR_URL, false), (PKEY, false), (INTERVAL, true)],
        "NextLevel lists the direct children"
    );
    let Rpc::GetParameterValuesResponse(values) = t.response("gpv") else {
        panic!()
    };
    assert_eq!(values.len(), 3, "partial path expands: {values:?}");
    assert_eq!(
        values[2],
        ParameterValue::new(INTERVAL, "3600", ValueType::UnsignedInt)
    );

    assert_eq!(
        t.response("spv-ok"),
        Rpc::SetParameterValuesResponse { status: 0 }
    );
    assert_eq!(fleet.model.value(CIPHERS), Some("RSA:!aNULL:!eNULL"));
    assert_eq!(
        fleet.model.value(PKEY),
        Some("pk-4"),
        "ParameterKey published"
    );

    // 9005 invalid name, 9007 invalid value, 9008 non-writable, all or
    // nothing: Time.Enable (valid) was not applied.
    let faults = t.faults();
    assert_eq!(faults.len(), 2, "{faults:?}");
    let (id, spv_fault) = &faults[0];
    assert_eq!(id, "spv-bad");
    assert_eq!(spv_fault.code, FaultCode::INVALID_ARGUMENTS);
    let codes: Vec<_> = spv_fault
        .parameter_faults
        .iter()
        .map(|p| (p.name.as_str(), p.code))
        .collect();
    assert_eq!(
        codes,
        [
            ("Device.NoSuch.Param", FaultCode::INVALID_PARAMETER_NAME),
            (INTERVAL, FaultCode::INVALID_PARAMETER_VALUE),
            (SW, FaultCode::NON_WRITABLE_PARAMETER),
        ]
    );
    assert_eq!(fleet.model.value(TIME_ENABLE), Some("1"));
    assert_eq!(fleet.model.value(INTERVAL), Some("600"));

    assert_eq!(t.response("spa"), Rpc::SetParameterAttributesResponse);
    assert_eq!(
        t.response("gpa"),
        Rpc::GetParameterAttributesResponse(vec![ParameterAttribute {
            name: CIPHERS.into(),
            notification: 2,
            access_list: vec!["Subscriber".into()],
        }])
    );
    assert_eq!(
        t.response("add"),
        Rpc::AddObjectResponse {
            instance_number: 1,
            status: 0
        }
    );
    assert_eq!(
        t.response("add2"),
        Rpc::AddObjectResponse {
            instance_number: 2,
            status: 0
        }
    );
    assert_eq!(t.response("del"), Rpc::DeleteObjectResponse { status: 0 });
    assert!(fleet.model.value(&format!("{LINES}1.Enable")).is_none());
    assert_eq!(fleet.model.value(&format!("{LINES}2.Enable")), Some("0"));

    for id in ["dl-fw", "dl-cfg", "dl-ca"] {
        let Rpc::DownloadResponse { status, .. } = t.response(id) else {
            panic!()
        };
        assert_eq!(status, 1, "transfer completes after the session");
    }
    assert_eq!(faults[1].0, "dl-ftp");
    assert_eq!(faults[1].1.code, FaultCode::UNSUPPORTED_TRANSFER_PROTOCOL);
    let types: Vec<_> = fleet
        .model
        .downloads
        .iter()
        .map(|d| d.file_type.clone())
        .collect();
    assert_eq!(
        types,
        [
            FileType::Firmware,
            FileType::VendorConfig,
            FileType::CustomCa
        ]
    );
    assert_eq!(t.response("reboot"), Rpc::RebootResponse);
    assert_eq!(t.response("reset"), Rpc::FactoryResetResponse);
    assert_eq!(fleet.model.reboots, ["reboot-1"]);
    assert_eq!(fleet.model.factory_resets, 1);
}

/// Session 2: after the reboot and the firmware transfer. The ACS holds
/// the CPE's requests, so its task goes first, then the CPE sends the
/// TransferComplete it held after the ACS's 204.
fn after_reboot_with_hold_requests(fleet: &mut Fleet) {
    let mut acs = AcsSession::new(AcsConfig {
        hold_requests: true,
        max_envelopes: 1,
        presets: None,
    });
    acs.enqueue(Task::new("sw", gpv(&[SW])));
    let inform = inform(
        &fleet.model,
        vec![
            Event::new(EventCode::Boot),
            Event {
                code: EventCode::MReboot,
                command_key: "reboot-1".into(),
            },
            Event::new(EventCode::TransferComplete),
            Event {
                code: EventCode::MDownload,
                command_key: "fw-1".into(),
            },
        ],
    );
    let mut cpe = CpeSession::new(inform);
    let tc = TransferComplete {
        command_key: "fw-1".into(),
        fault_code: 0,
        fault_string: String::new(),
        start_time: "2026-11-21T20:05:00Z".into(),
        complete_time: "2026-11-21T20:06:00Z".into(),
    };
    cpe.queue_request(Rpc::TransferComplete(tc.clone()));
    let (t, cpe) = fleet.session(&mut acs, cpe, &mut Empty);

    // InformResponse and the task carry HoldRequests.
    assert_eq!(t.acs_envelopes[0].hold_requests, Some(true));
    assert_eq!(
        t.acs_envelopes[0].body,
        Rpc::InformResponse { max_envelopes: 1 }
    );
    assert_eq!(acs.version(), CwmpVersion::V1_0);
    let pos = |pred: &dyn Fn(&AcsEvent) -> bool| t.events.iter().position(pred).unwrap();
    let task_done = pos(&|e| matches!(e, AcsEvent::TaskDone { .. }));
    let tc_at = pos(&|e| *e == AcsEvent::TransferComplete(tc.clone()));
    assert!(task_done < tc_at, "held request came after the ACS's task");
    // 200 InformResponse, 200 task, 204, 200 TransferCompleteResponse, 204.
    assert_eq!(t.statuses, [200, 200, 204, 200, 204]);
    assert_eq!(cpe.completed_requests(), &[Rpc::TransferComplete(tc)]);
    assert_eq!(cpe.pending_requests().count(), 0);
    let Some(AcsEvent::Inform(i)) = t.events.first() else {
        panic!()
    };
    assert_eq!(i.max_envelopes, 1);
}

/// Session 3: periodic inform carrying a value change of a parameter with
/// active notification; the presets hook runs on 2 PERIODIC.
fn periodic_with_value_change(fleet: &mut Fleet) {
    assert!(fleet.model.set_local(CIPHERS, "HIGH:!aNULL"));
    assert!(fleet.model.has_active_change());
    let mut inform = inform(
        &fleet.model,
        vec![
            Event::new(EventCode::Periodic),
            Event::new(EventCode::ValueChange),
        ],
    );
    inform.parameters.extend(fleet.model.take_value_changes());
    let presets: PresetFn = Arc::new(|i: &Inform| {
        i.has_event(&EventCode::Periodic)
            .then(|| Task::new("periodic-gpv", gpv(&[INTERVAL])))
            .into_iter()
            .collect()
    });
    let mut acs = AcsSession::new(AcsConfig {
        presets: Some(presets),
        ..AcsConfig::default()
    });
    let cpe = CpeSession::new(inform).with_version(CwmpVersion::V1_2);
    let (t, _) = fleet.session(&mut acs, cpe, &mut Empty);
    let Some(AcsEvent::Inform(seen)) = t.events.first() else {
        panic!()
    };
    assert_eq!(seen.parameter(CIPHERS), Some("HIGH:!aNULL"));
    assert_eq!(
        t.response("periodic-gpv"),
        Rpc::GetParameterValuesResponse(vec![ParameterValue::new(
            INTERVAL,
            "600",
            ValueType::UnsignedInt
        )])
    );
    assert!(fleet.model.take_value_changes().is_empty());
}

struct Queue(VecDeque<Task>, Vec<DeviceId>);

impl TaskSource for Queue {
    fn next_task(&mut self, device: &DeviceId) -> Option<Task> {
        self.1.push(device.clone());
        self.0.pop_front()
    }
}

/// Session 4: a connection request; tasks come from a [`TaskSource`].
fn connection_request_with_task_source(fleet: &mut Fleet) {
    let mut source = Queue(
        VecDeque::from([Task::new(
            "cr-spv",
            Rpc::SetParameterValues {
                list: vec![ParameterValue::string(
                    format!("{LINES}2.DirectoryNumber"),
                    "1001",
                )],
                parameter_key: "pk-cr".into(),
            },
        )]),
        Vec::new(),
    );
    let mut acs = AcsSession::new(AcsConfig::default());
    let inform = inform(&fleet.model, vec![Event::new(EventCode::ConnectionRequest)]);
    let cpe = CpeSession::new(inform).with_version(CwmpVersion::V1_1);
    let (t, _) = fleet.session(&mut acs, cpe, &mut source);
    assert_eq!(
        t.response("cr-spv"),
        Rpc::SetParameterValuesResponse { status: 0 }
    );
    assert_eq!(
        fleet.model.value(&format!("{LINES}2.DirectoryNumber")),
        Some("1001")
    );
    assert!(source.1.iter().all(|d| *d == device()) && source.1.len() == 2);
}

/// Sessions 5 and 6: the CPE drops the connection while a task is out;
/// the task (and the one behind it) is requeued and done next time.
fn dropped_connection_requeue(fleet: &mut Fleet) {
    let mut acs = AcsSession::new(AcsConfig::default());
    acs.enqueue(Task::new("lost", gpv(&[SW])));
    acs.enqueue(Task::new(
        "behind",
        Rpc::Reboot {
            command_key: "reboot-2".into(),
        },
    ));
    let mut cpe = CpeSession::new(inform(&fleet.model, vec![Event::new(EventCode::Periodic)]));
    let r = acs.handle_request(&cpe.start());
    let CpeStep::Post(empty) = cpe
        .handle_response(r.status, &r.body, &mut fleet.model)
        .unwrap()
    else {
        panic!()
    };
    let r = acs.handle_request(&empty);
    assert!(matches!(&r.events[..], [AcsEvent::TaskSent { task_id, .. }] if task_id == "lost"));
    // The connection drops here: the CPE never answers.
    let unfinished = acs.unfinished_tasks();
    let ids: Vec<_> = unfinished.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["lost", "behind"]);
    assert!(acs.unfinished_tasks().is_empty(), "handed back once");

    let mut acs = AcsSession::new(AcsConfig::default());
    for task in unfinished {
        acs.enqueue(task);
    }
    let cpe = CpeSession::new(inform(&fleet.model, vec![Event::new(EventCode::Periodic)]));
    let (t, _) = fleet.session(&mut acs, cpe, &mut Empty);
    assert_eq!(t.done().len(), 2);
    assert_eq!(fleet.model.reboots, ["reboot-1", "reboot-2"]);
}

#[test]
fn r_tr69_2_r_tr69_3_full_life_of_a_phone_exercises_every_rpc_and_event() {
    let mut fleet = Fleet {
        model: phone_model(),
        methods: BTreeSet::new(),
        events: BTreeSet::new(),
    };
    bootstrap(&mut fleet);
    after_reboot_with_hold_requests(&mut fleet);
    periodic_with_value_change(&mut fleet);
    connection_request_with_task_source(&mut fleet);
    dropped_connection_requeue(&mut fleet);

    let rpcs = [
        "GetRPCMethods",
        "SetParameterValues",
        "GetParameterValues",
        "SetParameterAttributes",
        "GetParameterAttributes",
        "GetParameterNames",
        "AddObject",
        "DeleteObject",
        "Reboot",
        "FactoryReset",
        "Inform",
        "Download",
        "TransferComplete",
    ];
    for rpc in rpcs {
        assert!(fleet.methods.contains(rpc), "{rpc} never sent");
        let response = format!("{rpc}Response");
        assert!(fleet.methods.contains(&response), "{response} never sent");
    }
    assert!(fleet.methods.contains("Fault"));
    let events = [
        EventCode::Bootstrap,
        EventCode::Boot,
        EventCode::Periodic,
        EventCode::ValueChange,
        EventCode::ConnectionRequest,
        EventCode::TransferComplete,
        EventCode::MDownload,
        EventCode::MReboot,
    ];
    for e in events {
        assert!(fleet.events.contains(e.as_str()), "{e} never informed");
    }
}
