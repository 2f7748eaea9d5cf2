//! Whole CWMP sessions over real HTTP on loopback: `CpeSession` +
//! `MemoryDataModel` against the ACS (R-TR69-2, R-TR69-3, R-TR69-4).

mod common;

use common::*;
use phoneprov_acs::{AcsSettings, Preset, TaskRpc, TaskState};
use phoneprov_cwmp::*;
use phoneprov_store::{EventKind, Store};
use serde_json::json;

fn task(v: serde_json::Value) -> TaskRpc {
    serde_json::from_value(v).unwrap()
}

/// R-TR69-2: every ACS request of the list, queued through the task
/// table, is sent in one session and its result stored; the data model is
/// cached; the Inform lands in the device timeline (known by serial).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_session_runs_every_rpc_kind_and_stores_results() {
    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let settings = AcsSettings {
        profile_url: Some("http://prov.example:8080/cfg/{mac}.xml".into()),
        ..open_settings()
    };
    let acs = start(dir.path(), settings).await;
    let tasks = [
        json!({"rpc":"GetParameterValues","names":["Device.DeviceInfo."]}),
        // XML name → TR-069 path (R-TR69-4).
        json!({"rpc":"SetParameterValues","values":[{"name":"TLS_Cipher_List","value":"RSA:!aNULL"},{"name":INTERVAL,"value":"600"}],"parameter_key":"k1"}),
        json!({"rpc":"GetParameterNames","path":"Device.ManagementServer.","next_level":true}),
        json!({"rpc":"SetParameterAttributes","attributes":[{"name":INTERVAL,"notification":2}]}),
        json!({"rpc":"GetParameterAttributes","names":[INTERVAL]}),
        json!({"rpc":"AddObject","object_name":LINES}),
        json!({"rpc":"DeleteObject","object_name":format!("{LINES}1.")}),
        json!({"rpc":"Download","file_type":"firmware","url":"http://fw.example/sip88xx.12-0-2.loads"}),
        json!({"rpc":"Download","file_type":"config"}),
        json!({"rpc":"Download","file_type":"ca","url":"http://prov.example/ca.pem"}),
        json!({"rpc":"GetRPCMethods"}),
        json!({"rpc":"GetParameterValues","names":["Device.NoSuch.Thing"]}),
        json!({"rpc":"Reboot"}),
        json!({"rpc":"FactoryReset"}),
    ];
    let mut ids = Vec::new();
    for t in &tasks {
        ids.push(acs.acs.enqueue(mac(), task(t.clone())).unwrap().id);
    }
    let mut model = phone_model();
    let mut cpe = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, SERIAL, vec![EventCode::Periodic]);
    let done = run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    assert_eq!(done.handled_requests().len(), tasks.len());
    assert_eq!(*cpe.statuses.last().unwrap(), 204);
    assert_eq!(cpe.connects, 1, "one session, one connection");

    let get = |i: usize| acs.acs.task(mac(), ids[i]).unwrap().unwrap();
    let gpv = get(0);
    assert_eq!(gpv.state, TaskState::Done);
    let values = gpv.result.unwrap()["values"].as_array().unwrap().clone();
    assert!(values
        .iter()
        .any(|v| v["name"] == SW && v["value"] == "sip88xx.12-0-1MPP-407"));
    assert_eq!(get(1).state, TaskState::Done);
    assert_eq!(model.value(CIPHERS), Some("RSA:!aNULL"));
    assert_eq!(model.value(INTERVAL), Some("600"));
    let names = get(2).result.unwrap()["names"].as_array().unwrap().clone();
    assert!(names.contains(&json!({"name": INTERVAL, "writable": true})));
    assert_eq!(get(3).state, TaskState::Done);
    assert_eq!(get(4).result.unwrap()["attributes"][0]["notification"], 2);
    assert_eq!(get(5).result.unwrap()["instance_number"], 1);
    assert_eq!(get(6).state, TaskState::Done);
    // Downloads accepted for later: waiting for TransferComplete.
    for i in 7..=9 {
        assert_eq!(get(i).state, TaskState::Transferring, "task {i}");
    }
    let types: Vec<FileType> = model
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
    assert_eq!(
        model.downloads[1].url,
        "http://prov.example:8080/cfg/000e08abcdef.xml"
    );
    assert!(get(10).result.unwrap()["methods"]
        .as_array()
        .unwrap()
        .contains(&json!("Download")));
    let fault = get(11);
    assert_eq!(fault.state, TaskState::Fault);
    assert_eq!(fault.result.unwrap()["fault"]["code"], 9005);
    assert_eq!(get(12).state, TaskState::Done);
    assert_eq!(model.reboots, [format!("phoneprov-task-{}", ids[12])]);
    assert_eq!(get(13).state, TaskState::Done);
    assert_eq!(model.factory_resets, 1);

    // Data model cache: Inform values, GPV values, set values, names.
    let dm = acs.acs.data_model(mac()).unwrap();
    let find = |p: &str| dm.iter().find(|e| e.path == p).cloned();
    assert_eq!(
        find(SW).unwrap().value.as_deref(),
        Some("sip88xx.12-0-1MPP-407")
    );
    let ciphers = find(CIPHERS).unwrap();
    assert_eq!(ciphers.value.as_deref(), Some("RSA:!aNULL"));
    assert_eq!(ciphers.xml_name.as_deref(), Some("TLS_Cipher_List"));
    assert_eq!(find(INTERVAL).unwrap().writable, Some(true));
    assert_eq!(find(INTERVAL).unwrap().value.as_deref(), Some("600"));

    // Timeline: the Inform of the known device (found by serial).
    let store = Store::open(dir.path()).unwrap();
    let events = store.events(mac(), 10).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Inform);
    assert!(
        events[0].message.contains("2 PERIODIC"),
        "{}",
        events[0].message
    );
    let dev = store.device(mac()).unwrap().unwrap();
    assert_eq!(
        dev.status.firmware.as_deref(),
        Some("sip88xx.12-0-1MPP-407")
    );
    assert_eq!(dev.status.ip.as_deref(), Some("127.0.0.1"));

    // Next session: TransferComplete for the firmware Download, matched
    // by CommandKey, finishes the task and adds an upgrade event.
    let fw_key = get(7).command_key.unwrap();
    let mut inf = inform(
        &model,
        SERIAL,
        vec![EventCode::TransferComplete, EventCode::Boot],
    );
    inf.events.push(Event {
        code: EventCode::MDownload,
        command_key: fw_key.clone(),
    });
    let mut session = CpeSession::new(inf);
    session.queue_request(Rpc::TransferComplete(TransferComplete {
        command_key: fw_key,
        fault_code: 0,
        start_time: "2026-11-21T20:01:00Z".into(),
        complete_time: "2026-11-21T20:02:00Z".into(),
        ..TransferComplete::default()
    }));
    let mut cpe = HttpCpe::new(acs.addr, None);
    let done = run_session(&mut cpe, session, &mut model).await.unwrap();
    assert_eq!(done.completed_requests().len(), 1);
    let fw = get(7);
    assert_eq!(fw.state, TaskState::Done);
    assert_eq!(fw.result.unwrap()["transfer_complete"]["fault_code"], 0);
    // The upgrade event is queued behind the session's writes but not
    // acknowledged (the session has no later write to wait for): poll.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let events = loop {
        let events = store.events(mac(), 10).unwrap();
        if events.iter().any(|e| e.kind == EventKind::Upgrade)
            || std::time::Instant::now() > deadline
        {
            break events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(events.iter().any(|e| e.kind == EventKind::Upgrade));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::Inform)
            .count(),
        2
    );
    acs.stop().await;
}

/// Queues a GetParameterValues of the software version; returns its id.
fn queue_software_read(acs: &Running) -> i64 {
    acs.acs
        .enqueue(
            mac(),
            task(json!({"rpc":"GetParameterValues","names":[SW]})),
        )
        .unwrap()
        .id
}

/// A task sent in a session whose connection drops goes back to the
/// queue, and the device's next session completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_requeues_the_task_for_the_next_session() {
    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let acs = start(dir.path(), open_settings()).await;
    let id = queue_software_read(&acs);
    let mut model = phone_model();
    let mut cpe = HttpCpe::new(acs.addr, None);
    let mut session = CpeSession::new(inform(&model, SERIAL, vec![EventCode::Periodic]));
    let (status, body) = cpe.post(&session.start()).await;
    assert_eq!(status, 200);
    let CpeStep::Post(empty) = session.handle_response(status, &body, &mut model).unwrap() else {
        panic!("session ended early")
    };
    let (status, body) = cpe.post(&empty).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("GetParameterValues"));
    assert_eq!(
        acs.acs.task(mac(), id).unwrap().unwrap().state,
        TaskState::Sent
    );
    cpe.drop_connection(); // never answers

    let mut cpe = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, SERIAL, vec![EventCode::Periodic]);
    run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    let t = acs.acs.task(mac(), id).unwrap().unwrap();
    assert_eq!(t.state, TaskState::Done);
    assert_eq!(t.attempts, 2);
    acs.stop().await;
}

/// The ACS claims a device's first tasks in the Inform's transaction
/// (group commit): a CPE that drops right after the InformResponse leaves
/// a task claimed but never sent, and the device's next session still
/// gets and completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_claimed_with_the_inform_survives_a_drop_before_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let acs = start(dir.path(), open_settings()).await;
    let id = queue_software_read(&acs);
    let model = phone_model();
    let mut cpe = HttpCpe::new(acs.addr, None);
    let mut session = CpeSession::new(inform(&model, SERIAL, vec![EventCode::Periodic]));
    let (status, _) = cpe.post(&session.start()).await;
    assert_eq!(status, 200);
    assert_eq!(
        acs.acs.task(mac(), id).unwrap().unwrap().state,
        TaskState::Sent,
        "claimed with the Inform"
    );
    cpe.drop_connection(); // before the empty POST

    let mut model = phone_model();
    let mut cpe = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, SERIAL, vec![EventCode::Periodic]);
    let done = run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    assert_eq!(done.handled_requests(), ["GetParameterValues"]);
    let t = acs.acs.task(mac(), id).unwrap().unwrap();
    assert_eq!((t.state, t.attempts), (TaskState::Done, 2));
    acs.stop().await;
}

/// TR-069 3.4.1: a CPE that reconnects mid-session with the session
/// cookie continues the same session on the new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_continues_a_session_on_a_new_connection() {
    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let acs = start(dir.path(), open_settings()).await;
    let id = queue_software_read(&acs);
    let mut model = phone_model();
    let mut cpe = HttpCpe::new(acs.addr, None);
    let mut session = CpeSession::new(inform(&model, SERIAL, vec![EventCode::Periodic]));
    let (status, body) = cpe.post(&session.start()).await;
    assert!(cpe.cookie.is_some(), "the InformResponse sets the cookie");
    let mut next = session.handle_response(status, &body, &mut model).unwrap();
    let mut first = true;
    while let CpeStep::Post(b) = next {
        if first {
            cpe.drop_connection(); // reconnect before the empty POST
            first = false;
        }
        let (status, body) = cpe.post(&b).await;
        next = session.handle_response(status, &body, &mut model).unwrap();
    }
    assert_eq!(cpe.connects, 2);
    assert_eq!(session.handled_requests(), ["GetParameterValues"]);
    assert_eq!(
        acs.acs.task(mac(), id).unwrap().unwrap().state,
        TaskState::Done
    );
    acs.stop().await;
}

/// Malformed SOAP ends the session with 400 and leaves nothing stuck: the
/// same connection can start a proper session afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_soap_gets_400_and_no_stuck_session() {
    let dir = tempfile::tempdir().unwrap();
    let acs = start(dir.path(), open_settings()).await;
    let mut cpe = HttpCpe::new(acs.addr, None);
    let (status, _) = cpe.post(b"<soap:Envelope><broken").await;
    assert_eq!(status, 400);
    assert_eq!(acs.acs.active_sessions(), 0);
    // Empty POST with no session: 400 too.
    let (status, _) = cpe.post(b"").await;
    assert_eq!(status, 400);
    assert_eq!(acs.acs.active_sessions(), 0);
    let mut model = phone_model();
    let inf = inform(&model, SERIAL, vec![EventCode::Boot]);
    run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    cpe.drop_connection();
    // The finished session is forgotten once the connection closes.
    for _ in 0..100 {
        if acs.acs.active_sessions() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(acs.acs.active_sessions(), 0);
    acs.stop().await;
}

/// Presets run on 0 BOOTSTRAP / 1 BOOT / 2 PERIODIC, ahead of queued
/// tasks, and not on other events; BOOTSTRAP clears the cached model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presets_run_first_and_bootstrap_clears_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let settings = AcsSettings {
        presets: vec![Preset {
            events: vec!["1 BOOT".into(), "0 BOOTSTRAP".into()],
            task: task(
                json!({"rpc":"GetParameterNames","path":"Device.ManagementServer.","next_level":false}),
            ),
        }],
        ..open_settings()
    };
    let acs = start(dir.path(), settings).await;
    let mut model = phone_model();
    let id = acs
        .acs
        .enqueue(
            mac(),
            task(json!({"rpc":"GetParameterValues","names":[CIPHERS]})),
        )
        .unwrap()
        .id;
    let mut cpe = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, SERIAL, vec![EventCode::Boot]);
    let done = run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    // The preset was queued after the API task but is sent first.
    assert_eq!(
        done.handled_requests(),
        ["GetParameterNames", "GetParameterValues"]
    );
    let tasks = acs.acs.tasks(mac(), 10).unwrap();
    assert_eq!(tasks.len(), 2);
    let preset = tasks.iter().find(|t| t.source == "preset").unwrap();
    assert_eq!(preset.state, TaskState::Done);
    assert!(preset.id > id);
    assert_eq!(
        acs.acs.task(mac(), id).unwrap().unwrap().state,
        TaskState::Done
    );
    assert!(acs
        .acs
        .data_model(mac())
        .unwrap()
        .iter()
        .any(|e| e.path == INTERVAL));

    // 4 VALUE CHANGE: no preset.
    let mut cpe = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, SERIAL, vec![EventCode::ValueChange]);
    run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    assert_eq!(acs.acs.tasks(mac(), 10).unwrap().len(), 2);

    // 0 BOOTSTRAP: cache cleared, then refilled from the Inform + preset.
    let mut cpe = HttpCpe::new(acs.addr, None);
    let mut bare = phone_model();
    bare.insert(SW, "other", ValueType::String, false);
    let mut inf = inform(&bare, SERIAL, vec![EventCode::Bootstrap]);
    inf.parameters.retain(|p| p.name == SW);
    let mut tiny = MemoryDataModel::new();
    tiny.insert(SW, "other", ValueType::String, false);
    tiny.insert(
        "Device.ManagementServer.URL",
        "http://acs",
        ValueType::String,
        false,
    );
    run_session(&mut cpe, CpeSession::new(inf), &mut tiny)
        .await
        .unwrap();
    let dm = acs.acs.data_model(mac()).unwrap();
    let paths: Vec<&str> = dm.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, [SW, "Device.ManagementServer.URL"]);
    acs.stop().await;
}

/// Unknown CPEs: served by default (no timeline event), refused with
/// 403 when `unknown_cpes = "deny"`; a CPE whose MAC parameter is in the
/// inventory is known even with an unknown serial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_cpes_allowed_or_denied_and_mac_parameters_identify() {
    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let acs = start(dir.path(), open_settings()).await;
    let mut model = phone_model();
    let mut cpe = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, "NOTKNOWN1", vec![EventCode::Boot]);
    run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    // Known by its MAC parameter.
    let mut inf = inform(&model, "NOTKNOWN2", vec![EventCode::Boot]);
    inf.parameters.push(ParameterValue::string(
        "Device.Ethernet.Interface.1.MACAddress",
        "00:0E:08:AB:CD:EF",
    ));
    let mut cpe = HttpCpe::new(acs.addr, None);
    run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    let store = Store::open(dir.path()).unwrap();
    let ev = store.events(mac(), 10).unwrap();
    assert_eq!(ev.len(), 1);
    assert!(ev[0].message.contains("NOTKNOWN2"));
    acs.stop().await;

    let settings = AcsSettings {
        unknown_cpes: phoneprov_acs::UnknownCpes::Deny,
        ..open_settings()
    };
    let acs = start(dir.path(), settings).await;
    let mut cpe = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, "NOTKNOWN1", vec![EventCode::Boot]);
    let err = run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap_err();
    assert_eq!(err, CpeError::Status(403));
    assert_eq!(acs.acs.active_sessions(), 0);
    let mut cpe = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, SERIAL, vec![EventCode::Boot]);
    run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    acs.stop().await;
}

/// A session whose CPE goes quiet mid-session is reaped after the idle
/// timeout and its sent task requeued; stopping the server requeues the
/// task of a session still open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_reaped_and_shutdown_requeues() {
    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let settings = AcsSettings {
        idle_timeout_secs: 1,
        ..open_settings()
    };
    let acs = start(dir.path(), settings).await;
    let id = acs
        .acs
        .enqueue(mac(), task(json!({"rpc":"Reboot"})))
        .unwrap()
        .id;
    // Inform + empty POST, then silence with the connection open.
    let open_until_sent = |addr| async move {
        let mut model = phone_model();
        let mut cpe = HttpCpe::new(addr, None);
        let mut session = CpeSession::new(inform(&model, SERIAL, vec![EventCode::Periodic]));
        let (status, body) = cpe.post(&session.start()).await;
        let CpeStep::Post(empty) = session.handle_response(status, &body, &mut model).unwrap()
        else {
            panic!("session ended early")
        };
        let (_, body) = cpe.post(&empty).await;
        assert!(String::from_utf8_lossy(&body).contains("Reboot"));
        cpe
    };
    let cpe = open_until_sent(acs.addr).await;
    assert_eq!(
        acs.acs.task(mac(), id).unwrap().unwrap().state,
        TaskState::Sent
    );
    let mut requeued = false;
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        if acs.acs.task(mac(), id).unwrap().unwrap().state == TaskState::Queued {
            requeued = true;
            break;
        }
    }
    assert!(requeued, "the reaper requeues the task of a silent session");
    assert_eq!(acs.acs.active_sessions(), 0);
    drop(cpe);

    let _cpe = open_until_sent(acs.addr).await;
    assert_eq!(
        acs.acs.task(mac(), id).unwrap().unwrap().state,
        TaskState::Sent
    );
    let handle = acs.acs.clone();
    acs.stop().await;
    assert_eq!(
        handle.task(mac(), id).unwrap().unwrap().state,
        TaskState::Queued
    );
    assert_eq!(handle.active_sessions(), 0);
}

/// Runs `sql` on the data directory's database with the sqlite3 program
/// (a second, independent client of the file).
fn sqlite3(dir: &std::path::Path, sql: &str) {
    let out = std::process::Command::new("sqlite3")
        .arg(dir.join(phoneprov_store::DB_FILE))
        .arg(sql)
        .output()
        .expect("sqlite3 is missing: run scripts/install-peers");
    assert!(
        out.status.success(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 11: the session asks for its tasks through events and the shell
/// fetches them off the async workers; a database error while fetching is
/// a session error: the CPE gets a SOAP fault 8002 (HTTP 500), never an
/// empty "nothing to do" 204, and the task stays queued for the device's
/// next session, which completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_fetch_ends_the_session_with_a_fault_and_keeps_the_task_queued() {
    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let acs = start(dir.path(), open_settings()).await;
    let mut model = phone_model();
    let mut cpe = HttpCpe::new(acs.addr, None);
    let mut session = CpeSession::new(inform(&model, SERIAL, vec![EventCode::Periodic]));
    let (status, body) = cpe.post(&session.start()).await;
    assert_eq!(status, 200, "the Inform is answered (nothing queued yet)");
    let CpeStep::Post(empty) = session.handle_response(status, &body, &mut model).unwrap() else {
        panic!("session ended early")
    };
    // A task arrives during the session; then every claim fails.
    let id = queue_software_read(&acs);
    sqlite3(
        dir.path(),
        "CREATE TRIGGER fail_claims BEFORE UPDATE ON acs_tasks \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    );
    let (status, body) = cpe.post(&empty).await;
    assert_eq!(status, 500, "{}", String::from_utf8_lossy(&body));
    let env = parse_envelope(&body).expect("a SOAP fault envelope");
    let Rpc::Fault(fault) = env.body else {
        panic!("not a fault: {:?}", env.body)
    };
    assert_eq!(fault.code, FaultCode::ACS_INTERNAL_ERROR);
    assert!(
        !fault.message.contains("injected"),
        "no database detail reaches the CPE: {}",
        fault.message
    );
    let t = acs.acs.task(mac(), id).unwrap().unwrap();
    assert_eq!((t.state, t.attempts), (TaskState::Queued, 0));
    assert_eq!(acs.acs.active_sessions(), 0, "the session is over");

    sqlite3(dir.path(), "DROP TRIGGER fail_claims;");
    let mut cpe = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, SERIAL, vec![EventCode::Periodic]);
    let done = run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    assert_eq!(done.handled_requests(), ["GetParameterValues"]);
    let t = acs.acs.task(mac(), id).unwrap().unwrap();
    assert_eq!((t.state, t.attempts), (TaskState::Done, 1));
    acs.stop().await;
}
