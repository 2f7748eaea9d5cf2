//! CPE authentication: Digest and Basic, with our HTTP CPE and with curl
//! (`curl --digest -u u:p --data-binary @inform.xml`), wrong credentials
//! refused with 401, `Expect: 100-continue` honoured.

mod common;

use std::process::Command;

use common::*;
use phoneprov_acs::{AcsAuth, AcsSettings, TaskState};
use phoneprov_cwmp::*;
use phoneprov_httpauth::Credentials;
use serde_json::json;

fn settings(auth: AcsAuth) -> AcsSettings {
    AcsSettings {
        auth,
        users: [("cpe-FCH2231A7QX".to_string(), "s3cret".to_string())].into(),
        ..AcsSettings::default()
    }
}

fn inform_file(dir: &std::path::Path) -> std::path::PathBuf {
    let model = phone_model();
    let env = Envelope::new(
        CwmpVersion::V1_0,
        Some("curl-1".into()),
        Rpc::Inform(inform(&model, SERIAL, vec![EventCode::Boot])),
    );
    let path = dir.join("inform.xml");
    std::fs::write(&path, write_envelope(&env)).unwrap();
    path
}

/// Runs curl; returns (HTTP status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let out_dir = tempfile::tempdir().unwrap();
    let body_path = out_dir.path().join("body");
    let out = Command::new("curl")
        .args(["-s", "-o"])
        .arg(&body_path)
        .args(["-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("curl must be installed for this interop test (apt-get install curl)");
    let code = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let body = std::fs::read_to_string(&body_path).unwrap_or_default();
    (code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_cpe_runs_a_session_and_wrong_credentials_get_401() {
    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let acs = start(dir.path(), settings(AcsAuth::Digest)).await;
    let id = acs
        .acs
        .enqueue(
            mac(),
            serde_json::from_value(json!({"rpc":"GetParameterValues","names":[SW]})).unwrap(),
        )
        .unwrap()
        .id;
    let mut model = phone_model();
    let creds = Credentials::new("cpe-FCH2231A7QX", "s3cret");
    let mut cpe = HttpCpe::new(acs.addr, Some(creds));
    let inf = inform(&model, SERIAL, vec![EventCode::Periodic]);
    run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    assert_eq!(cpe.statuses[0], 401, "first POST is challenged");
    assert_eq!(
        acs.acs.task(mac(), id).unwrap().unwrap().state,
        TaskState::Done
    );

    let mut bad = HttpCpe::new(acs.addr, Some(Credentials::new("cpe-FCH2231A7QX", "nope")));
    let inf = inform(&model, SERIAL, vec![EventCode::Periodic]);
    let err = run_session(&mut bad, CpeSession::new(inf), &mut model)
        .await
        .unwrap_err();
    assert_eq!(err, CpeError::Status(401));
    let mut anon = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, SERIAL, vec![EventCode::Periodic]);
    let err = run_session(&mut anon, CpeSession::new(inf), &mut model)
        .await
        .unwrap_err();
    assert_eq!(err, CpeError::Status(401));
    acs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_digest_and_basic_post_an_inform() {
    let dir = tempfile::tempdir().unwrap();
    let file = inform_file(dir.path());
    let data = format!("@{}", file.display());
    let acs = start(dir.path(), settings(AcsAuth::Digest)).await;
    let url = format!("http://{}/", acs.addr);
    let args = [
        "--digest",
        "-u",
        "cpe-FCH2231A7QX:s3cret",
        "--data-binary",
        &data,
    ];
    let (code, body) = tokio::task::spawn_blocking({
        let url = url.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        move || {
            curl(
                &[
                    args.iter().map(String::as_str).collect::<Vec<_>>(),
                    vec![&url],
                ]
                .concat(),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("InformResponse"), "{body}");
    assert!(body.contains("curl-1"), "the cwmp:ID is echoed: {body}");

    // Expect: 100-continue with Digest.
    let (code, body) = tokio::task::spawn_blocking({
        let (url, data) = (url.clone(), data.clone());
        move || {
            curl(&[
                "--digest",
                "-u",
                "cpe-FCH2231A7QX:s3cret",
                "-H",
                "Expect: 100-continue",
                "--data-binary",
                &data,
                &url,
            ])
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("InformResponse"));

    let (code, _) = tokio::task::spawn_blocking({
        let (url, data) = (url.clone(), data.clone());
        move || {
            curl(&[
                "--digest",
                "-u",
                "cpe-FCH2231A7QX:wrong",
                "--data-binary",
                &data,
                &url,
            ])
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 401);
    acs.stop().await;

    let acs = start(dir.path(), settings(AcsAuth::Basic)).await;
    let url = format!("http://{}/", acs.addr);
    let (code, body) = tokio::task::spawn_blocking({
        let (url, data) = (url.clone(), data.clone());
        move || {
            curl(&[
                "--basic",
                "-u",
                "cpe-FCH2231A7QX:s3cret",
                "--data-binary",
                &data,
                &url,
            ])
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("InformResponse"));
    let (code, _) = tokio::task::spawn_blocking(move || {
        curl(&[
            "--basic",
            "-u",
            "cpe-FCH2231A7QX:bad",
            "--data-binary",
            &data,
            &url,
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, 401);
    acs.stop().await;
}

/// Bodies over the limit get 413; GET gets 405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_and_method() {
    let dir = tempfile::tempdir().unwrap();
    let s = AcsSettings {
        body_limit: 1000,
        ..open_settings()
    };
    let acs = start(dir.path(), s).await;
    let mut cpe = HttpCpe::new(acs.addr, None);
    let (status, _) = cpe.post(&vec![b' '; 5000]).await;
    assert_eq!(status, 413);
    let url = format!("http://{}/", acs.addr);
    let (code, _) = tokio::task::spawn_blocking(move || curl(&[&url]))
        .await
        .unwrap();
    assert_eq!(code, 405);
    acs.stop().await;
}

/// Issue 17 item 4: a session authenticated by Digest reports
/// `password` to the access log, and a session given up by its CPE for a
/// newer one of the same device gets its line too (`superseded`), once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_lines_say_password_and_superseded() {
    use phoneprov_acs::{SessionEnd, SessionSummary};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let acs = start(dir.path(), settings(AcsAuth::Digest)).await;
    let lines: Arc<Mutex<Vec<SessionSummary>>> = Arc::default();
    let sink = lines.clone();
    acs.acs.set_session_log(Arc::new(move |s: &SessionSummary| {
        sink.lock().unwrap().push(s.clone())
    }));
    acs.acs
        .enqueue(
            mac(),
            serde_json::from_value(json!({"rpc":"GetParameterValues","names":[SW]})).unwrap(),
        )
        .unwrap();
    let creds = || Some(Credentials::new("cpe-FCH2231A7QX", "s3cret"));
    let mut model = phone_model();
    // The first session stops after its Inform (the CPE gives it up) ...
    let mut first = HttpCpe::new(acs.addr, creds());
    let mut abandoned = CpeSession::new(inform(&model, SERIAL, vec![EventCode::Periodic]));
    let (status, _) = first.post(&abandoned.start()).await;
    assert_eq!(status, 200);
    assert!(
        lines.lock().unwrap().is_empty(),
        "the session is not over yet"
    );
    // ... and the device's next session, on a new connection, runs whole.
    let mut second = HttpCpe::new(acs.addr, creds());
    run_session(
        &mut second,
        CpeSession::new(inform(&model, SERIAL, vec![EventCode::Periodic])),
        &mut model,
    )
    .await
    .unwrap();
    // A finished session's line is written when its connection closes.
    second.drop_connection();
    let wait = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while lines.lock().unwrap().len() < 2 && std::time::Instant::now() < wait {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    first.drop_connection();
    let got: Vec<(SessionEnd, bool, u32, Option<String>)> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|s| (s.end, s.password, s.tasks, s.mac.map(|m| m.to_string())))
        .collect();
    assert_eq!(
        got,
        vec![
            (SessionEnd::Superseded, true, 0, Some(MAC.to_string())),
            (SessionEnd::Done, true, 1, Some(MAC.to_string())),
        ]
    );
    acs.stop().await;
    assert_eq!(lines.lock().unwrap().len(), 2, "no second line at shutdown");

    // Without credentials configured, nothing is proved.
    let open = tempfile::tempdir().unwrap();
    add_phone(open.path());
    let acs = start(open.path(), open_settings()).await;
    let lines: Arc<Mutex<Vec<SessionSummary>>> = Arc::default();
    let sink = lines.clone();
    acs.acs.set_session_log(Arc::new(move |s: &SessionSummary| {
        sink.lock().unwrap().push(s.clone())
    }));
    let mut cpe = HttpCpe::new(acs.addr, None);
    run_session(
        &mut cpe,
        CpeSession::new(inform(&model, SERIAL, vec![EventCode::Periodic])),
        &mut model,
    )
    .await
    .unwrap();
    cpe.drop_connection();
    let wait = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while lines.lock().unwrap().is_empty() && std::time::Instant::now() < wait {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    acs.stop().await;
    let got: Vec<(SessionEnd, bool)> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|s| (s.end, s.password))
        .collect();
    assert_eq!(got, vec![(SessionEnd::Done, false)]);
}
