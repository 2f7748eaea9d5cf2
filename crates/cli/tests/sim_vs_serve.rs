//! Both halves talking: `phoneprov sim` (the phone side) against
//! `phoneprov serve` (the server side). A phone with its client certificate
//! fetches its bootstrap profile over mutual TLS (R-HTTPS-5), which hands it
//! its key; then it fetches its encrypted per-device profile over plain
//! HTTP with `[--key ...]` (R-FMT-7), and its syslog messages land in the
//! device's timeline on the server (R-LOG-1).

mod serve_support;

use serve_support::*;
use std::process::Command;

fn sim(args: &[String]) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_phoneprov"))
        .arg("sim")
        .args(args)
        .output()
        .expect("run phoneprov sim");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "sim printed no JSON ({e}): {} / {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), v, stderr)
}

#[test]
fn sim_phone_bootstraps_over_mtls_then_resyncs_encrypted_and_logs_to_serve() {
    let s = start_with(None, &[], |d| {
        add_device(
            d,
            MAC,
            &[
                "--model",
                "CP-8841-3PCC",
                "--serial",
                "SN1",
                "--var",
                "display_name=Alice",
            ],
        )
    });
    let certs = s.dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    issue_cert(&s.data(), MAC, &certs);
    let https = s.https.expect("https listener");
    let syslog = s.syslog.expect("syslog listener");
    let common = |rule: &str| -> Vec<String> {
        vec![
            "--count".into(),
            "1".into(),
            "--mac-base".into(),
            MAC.into(),
            "--pn".into(),
            "CP-8841-3PCC".into(),
            "--once".into(),
            "--json".into(),
            "--ca".into(),
            s.ca_pem().display().to_string(),
            "--client-certs".into(),
            certs.display().to_string(),
            "--param".into(),
            format!("Profile_Rule={rule}"),
            "--param".into(),
            format!("Syslog_Server=127.0.0.1:{}", syslog.port()),
        ]
    };

    // 1. Bootstrap over mutual TLS: the profile carries the device's key.
    let (code, v, err) = sim(&common(&format!(
        "https://127.0.0.1:{}/$MA.cfg",
        https.port()
    )));
    assert_eq!(code, 0, "bootstrap resync failed: {v} / {err}");
    assert_eq!(v["resyncs"]["A"], 1, "{v}");
    let key = s.key(MAC);
    let rule = v["final_params"]["Profile_Rule"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        rule.contains(&key),
        "bootstrap did not hand the phone its key: {rule:?}"
    );
    assert!(rule.contains("--key"), "{rule:?}");

    // 2. The rule it was given: encrypted per-device profile over HTTP.
    let (code, v, err) = sim(&common(&rule));
    assert_eq!(code, 0, "encrypted resync failed: {v} / {err}");
    assert_eq!(v["resyncs"]["A"], 1, "{v}");
    assert_eq!(v["final_params"]["Display_Name_1_"], "Alice", "{v}");

    // 3. The phone's syslog lines are filed in its timeline on the server.
    let events = s.events_until(MAC, "Successful resync");
    assert!(
        events.contains("Successful resync"),
        "no syslog in the timeline: {events}"
    );
}
