//! Out-of-order and malformed input to both session machines (R-TR69-2):
//! every case ends the session cleanly with the documented HTTP status or
//! SOAP fault, and no task is lost.

mod common;

use common::*;
use phoneprov_cwmp::*;

fn env_bytes(version: CwmpVersion, id: &str, rpc: Rpc) -> Vec<u8> {
    write_envelope(&Envelope::new(version, Some(id.into()), rpc))
}

fn inform_bytes() -> Vec<u8> {
    env_bytes(
        CwmpVersion::V1_3,
        "i1",
        Rpc::Inform(inform(&phone_model(), vec![Event::new(EventCode::Boot)])),
    )
}

fn protocol_error(reply: &AcsReply) -> bool {
    reply
        .events
        .iter()
        .any(|e| matches!(e, AcsEvent::ProtocolError(_)))
}

fn fault_of(reply: &AcsReply) -> (Option<String>, CwmpVersion, Fault) {
    let env = parse_envelope(&reply.body).expect("fault body parses");
    let Rpc::Fault(f) = env.body else {
        panic!("not a fault: {:?}", env.body)
    };
    (env.id, env.version, f)
}

#[test]
fn r_tr69_2_acs_empty_post_before_inform_is_400() {
    let mut acs = AcsSession::new(AcsConfig::default());
    let r = acs.handle_request(b"");
    assert_eq!((r.status, r.done), (400, true));
    assert!(protocol_error(&r));
    // The session is over: even a valid Inform is refused now.
    assert_eq!(acs.handle_request(&inform_bytes()).status, 400);
}

#[test]
fn r_tr69_2_acs_response_before_inform_gets_fault_8003_in_its_version() {
    let mut acs = AcsSession::new(AcsConfig::default());
    let r = acs.handle_request(&env_bytes(
        CwmpVersion::V1_2,
        "x9",
        Rpc::GetParameterValuesResponse(vec![]),
    ));
    assert_eq!((r.status, r.done), (500, true));
    let (id, version, fault) = fault_of(&r);
    assert_eq!(id.as_deref(), Some("x9"));
    assert_eq!(version, CwmpVersion::V1_2);
    assert_eq!(fault.code, FaultCode::ACS_INVALID_ARGUMENTS);
}

#[test]
fn r_tr69_2_acs_malformed_soap_is_400_and_keeps_the_task() {
    for junk in [
        &b"<SOAP-ENV:Envelope><SOAP-ENV:Body><cwmp:Inform>"[..],
        b"not xml at all",
        b"<Envelope><Body><AddObjectResponse><Status>300</Status></AddObjectResponse></Body></Envelope>",
    ] {
        let mut acs = AcsSession::new(AcsConfig::default());
        acs.enqueue(Task::new("t", Rpc::GetRPCMethods));
        assert_eq!(acs.handle_request(&inform_bytes()).status, 200);
        assert_eq!(acs.handle_request(b"").status, 200, "task sent");
        let r = acs.handle_request(junk);
        assert_eq!((r.status, r.done), (400, true));
        assert!(protocol_error(&r));
        assert_eq!(acs.unfinished_tasks(), [Task::new("t", Rpc::GetRPCMethods)]);
    }
}

#[test]
fn r_tr69_2_acs_unknown_rpc_gets_8000_and_the_session_goes_on() {
    let mut acs = AcsSession::new(AcsConfig::default());
    acs.handle_request(&inform_bytes());
    let r = acs.handle_request(&env_bytes(
        CwmpVersion::V1_3,
        "u1",
        Rpc::Unknown {
            method: "RequestDownload".into(),
        },
    ));
    assert_eq!((r.status, r.done), (500, false));
    let (id, version, fault) = fault_of(&r);
    assert_eq!((id.as_deref(), version), (Some("u1"), CwmpVersion::V1_3));
    assert_eq!(fault.code, FaultCode::ACS_METHOD_NOT_SUPPORTED);
    // An ACS-direction request sent by a CPE is refused the same way.
    let r = acs.handle_request(&env_bytes(CwmpVersion::V1_3, "u2", Rpc::FactoryReset));
    assert_eq!(fault_of(&r).2.code, FaultCode::ACS_METHOD_NOT_SUPPORTED);
    let r = acs.handle_request(b"");
    assert_eq!((r.status, r.done), (204, true));
}

#[test]
fn r_tr69_2_acs_second_inform_and_unsolicited_response_end_the_session() {
    let mut acs = AcsSession::new(AcsConfig::default());
    acs.enqueue(Task::new("t", Rpc::GetRPCMethods));
    acs.handle_request(&inform_bytes());
    let r = acs.handle_request(&inform_bytes());
    assert_eq!(r.status, 500);
    assert_eq!(fault_of(&r).2.code, FaultCode::ACS_INVALID_ARGUMENTS);
    assert_eq!(acs.unfinished_tasks().len(), 1, "queued task not lost");

    let mut acs = AcsSession::new(AcsConfig::default());
    acs.handle_request(&inform_bytes());
    let r = acs.handle_request(&env_bytes(CwmpVersion::V1_3, "r", Rpc::RebootResponse));
    assert_eq!((r.status, r.done), (400, true));
    assert!(protocol_error(&r));
}

#[test]
fn r_tr69_2_acs_wrong_response_or_empty_post_while_task_is_out() {
    let mut acs = AcsSession::new(AcsConfig::default());
    acs.enqueue(Task::new("gpv", Rpc::GetParameterValues { names: vec![] }));
    acs.handle_request(&inform_bytes());
    let sent = acs.handle_request(b"");
    let id = parse_envelope(&sent.body).unwrap().id.unwrap();
    let r = acs.handle_request(&env_bytes(CwmpVersion::V1_3, &id, Rpc::RebootResponse));
    assert_eq!(r.status, 400);
    assert_eq!(acs.unfinished_tasks()[0].id, "gpv");

    let mut acs = AcsSession::new(AcsConfig::default());
    acs.enqueue(Task::new("gpv", Rpc::GetParameterValues { names: vec![] }));
    acs.handle_request(&inform_bytes());
    acs.handle_request(b"");
    let r = acs.handle_request(b"");
    assert_eq!((r.status, r.done), (400, true));
    assert_eq!(acs.unfinished_tasks()[0].id, "gpv");
}

#[test]
fn r_tr69_2_acs_skips_tasks_that_are_not_acs_requests() {
    let mut acs = AcsSession::new(AcsConfig::default());
    acs.enqueue(Task::new("bad", Rpc::InformResponse { max_envelopes: 1 }));
    acs.enqueue(Task::new("good", Rpc::FactoryReset));
    acs.handle_request(&inform_bytes());
    let r = acs.handle_request(b"");
    assert!(matches!(&r.events[0], AcsEvent::TaskFault { task_id, .. } if task_id == "bad"));
    assert!(matches!(&r.events[1], AcsEvent::TaskSent { task_id, .. } if task_id == "good"));
    assert_eq!(parse_envelope(&r.body).unwrap().body, Rpc::FactoryReset);
}

#[test]
fn r_tr69_2_acs_empty_envelope_is_an_empty_post_and_inform_after_204_restarts() {
    let mut acs = AcsSession::new(AcsConfig::default());
    acs.handle_request(&inform_bytes());
    let empty_env = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#;
    let r = acs.handle_request(empty_env);
    assert_eq!((r.status, r.done), (204, true));
    assert!(acs.is_done());
    // Same connection, new session.
    let r = acs.handle_request(&inform_bytes());
    assert_eq!(r.status, 200);
    assert!(matches!(r.events[0], AcsEvent::Inform(_)));
}

fn cpe_after_start() -> (CpeSession, MemoryDataModel) {
    let model = phone_model();
    let mut cpe = CpeSession::new(inform(&model, vec![Event::new(EventCode::Boot)]));
    let body = cpe.start();
    let env = parse_envelope(&body).unwrap();
    assert_eq!(env.no_more_requests, Some(true), "1.0 with nothing pending");
    (cpe, model)
}

#[test]
fn r_tr69_2_cpe_fails_cleanly_on_bad_acs_answers() {
    let (mut cpe, mut m) = cpe_after_start();
    assert_eq!(
        cpe.handle_response(401, b"", &mut m),
        Err(CpeError::Status(401))
    );
    assert_eq!(cpe.handle_response(200, b"", &mut m), Err(CpeError::Ended));

    let (mut cpe, mut m) = cpe_after_start();
    let fault = Fault::new(FaultCode::ACS_REQUEST_DENIED);
    let body = env_bytes(CwmpVersion::V1_0, "cpe-1", Rpc::Fault(fault.clone()));
    assert_eq!(
        cpe.handle_response(500, &body, &mut m),
        Err(CpeError::AcsFault(fault))
    );

    let (mut cpe, mut m) = cpe_after_start();
    let body = env_bytes(CwmpVersion::V1_0, "a", Rpc::FactoryReset);
    assert!(matches!(
        cpe.handle_response(200, &body, &mut m),
        Err(CpeError::OutOfOrder(_))
    ));
    assert_eq!(m.factory_resets, 0, "request before InformResponse not run");

    let (mut cpe, mut m) = cpe_after_start();
    assert!(matches!(
        cpe.handle_response(200, b"<broken", &mut m),
        Err(CpeError::Malformed(_))
    ));
    assert!(cpe.is_done());
}

#[test]
fn r_tr69_2_cpe_answers_unknown_methods_with_9000() {
    let (mut cpe, mut m) = cpe_after_start();
    let ir = env_bytes(
        CwmpVersion::V1_0,
        "cpe-1",
        Rpc::InformResponse { max_envelopes: 1 },
    );
    assert_eq!(
        cpe.handle_response(200, &ir, &mut m),
        Ok(CpeStep::Post(Vec::new()))
    );
    let req = env_bytes(
        CwmpVersion::V1_0,
        "acs-1",
        Rpc::Unknown {
            method: "Upload".into(),
        },
    );
    let Ok(CpeStep::Post(body)) = cpe.handle_response(200, &req, &mut m) else {
        panic!()
    };
    let env = parse_envelope(&body).unwrap();
    assert_eq!(env.id.as_deref(), Some("acs-1"), "response echoes the ID");
    let Rpc::Fault(f) = env.body else { panic!() };
    assert_eq!(f.code, FaultCode::METHOD_NOT_SUPPORTED);
    assert_eq!(cpe.handle_response(204, b"", &mut m), Ok(CpeStep::Done));
}

#[test]
fn r_tr69_2_cpe_keeps_a_refused_transfer_complete_for_the_next_session() {
    let model = phone_model();
    let mut m = model.clone();
    let mut cpe = CpeSession::new(inform(
        &model,
        vec![Event::new(EventCode::TransferComplete)],
    ));
    let tc = Rpc::TransferComplete(TransferComplete {
        command_key: "fw-9".into(),
        ..TransferComplete::default()
    });
    cpe.queue_request(tc.clone());
    cpe.start();
    let ir = env_bytes(
        CwmpVersion::V1_0,
        "cpe-1",
        Rpc::InformResponse { max_envelopes: 1 },
    );
    let Ok(CpeStep::Post(sent)) = cpe.handle_response(200, &ir, &mut m) else {
        panic!()
    };
    assert_eq!(parse_envelope(&sent).unwrap().body, tc);
    let retry = Rpc::Fault(Fault::new(FaultCode::ACS_RETRY_REQUEST));
    let r = env_bytes(CwmpVersion::V1_0, "cpe-2", retry);
    assert_eq!(
        cpe.handle_response(500, &r, &mut m),
        Ok(CpeStep::Post(Vec::new())),
        "not resent in this session"
    );
    assert_eq!(cpe.handle_response(204, b"", &mut m), Ok(CpeStep::Done));
    assert_eq!(cpe.pending_requests().collect::<Vec<_>>(), [&tc]);
    assert_eq!(
        cpe.refused_requests()[0].1.code,
        FaultCode::ACS_RETRY_REQUEST
    );
}

/// Issue 11: the session asks for work with `NeedTasks` (it calls nothing
/// out); the events of the POST that asked (a task's response) come with
/// the answer to the fetch, and a failed fetch is a session error: SOAP
/// fault 8002, HTTP 500, the session over, never "no tasks" (204).
#[test]
fn r_tr69_2_acs_asks_for_tasks_and_a_failed_fetch_is_fault_8002() {
    let mut acs = AcsSession::new(AcsConfig::default());
    let AcsStep::Reply(r) = acs.handle(&inform_bytes()) else {
        panic!("the Inform is answered without tasks")
    };
    assert_eq!(r.status, 200);
    let AcsStep::NeedTasks(device) = acs.handle(b"") else {
        panic!("an empty queue asks the shell")
    };
    assert_eq!(device, common::device());
    let AcsStep::Reply(r) = acs.tasks_fetched(Ok(vec![Task::new("t1", Rpc::FactoryReset)])) else {
        panic!("a fetched task is sent")
    };
    assert!(matches!(&r.events[..], [AcsEvent::TaskSent { task_id, .. }] if task_id == "t1"));
    let answer = env_bytes(CwmpVersion::V1_3, "acs-1", Rpc::FactoryResetResponse);
    let AcsStep::NeedTasks(_) = acs.handle(&answer) else {
        panic!("the next task is asked for")
    };
    let AcsStep::Reply(r) = acs.tasks_fetched(Err("disk I/O error".into())) else {
        panic!("a failed fetch is answered")
    };
    assert!(
        matches!(&r.events[0], AcsEvent::TaskDone { task_id, .. } if task_id == "t1"),
        "the response's event is kept: {:?}",
        r.events
    );
    assert!(matches!(&r.events[1], AcsEvent::TaskFetchFailed(w) if w == "disk I/O error"));
    assert_eq!((r.status, r.done), (500, true));
    let (_, _, fault) = fault_of(&r);
    assert_eq!(fault.code, FaultCode::ACS_INTERNAL_ERROR);
    assert!(acs.is_done());
    assert!(
        acs.unfinished_tasks().is_empty(),
        "nothing was lost in the machine"
    );
}

/// Issue 11: the shell may take the events of the POST that asked for
/// tasks before it fetches (to record a task's result and claim the next
/// tasks in one commit); the reply to the fetch then carries only what
/// came after, so nothing is reported twice.
#[test]
fn r_tr69_2_events_taken_before_the_fetch_are_not_repeated() {
    let mut acs = AcsSession::new(AcsConfig::default());
    let AcsStep::Reply(_) = acs.handle(&inform_bytes()) else {
        panic!("the Inform is answered without tasks")
    };
    let AcsStep::NeedTasks(_) = acs.handle(b"") else {
        panic!("an empty queue asks the shell")
    };
    assert!(
        acs.take_pending_events().is_empty(),
        "an empty POST has none"
    );
    let AcsStep::Reply(_) = acs.tasks_fetched(Ok(vec![Task::new("t1", Rpc::FactoryReset)])) else {
        panic!("a fetched task is sent")
    };
    let answer = env_bytes(CwmpVersion::V1_3, "acs-1", Rpc::FactoryResetResponse);
    let AcsStep::NeedTasks(_) = acs.handle(&answer) else {
        panic!("the next task is asked for")
    };
    let early = acs.take_pending_events();
    assert!(
        matches!(&early[..], [AcsEvent::TaskDone { task_id, .. }] if task_id == "t1"),
        "the response's event is handed over before the fetch: {early:?}"
    );
    let AcsStep::Reply(r) = acs.tasks_fetched(Ok(Vec::new())) else {
        panic!("an empty fetch is answered")
    };
    assert_eq!((r.status, r.done), (204, true));
    assert!(r.events.is_empty(), "not reported twice: {:?}", r.events);
}
