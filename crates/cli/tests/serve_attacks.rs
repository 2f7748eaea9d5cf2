//! Issue 12, written as the attacks against a real `phoneprov serve`: each
//! test sends the exact requests, asserts the refusal, and asserts that
//! the database (devices, their recorded status, the timeline) did not
//! change. "Did not change" is read after a sentinel: a legitimate request
//! queued behind the attack through the one timeline writer, so anything
//! the attack had queued would be written by then.

mod serve_support;

use std::time::Duration;

use serve_support::*;

/// Everything an attack could have written: device rows with their
/// recorded status, and the whole timeline.
fn snapshot(s: &Served) -> String {
    let db = s.data().join("phoneprov.db");
    let out = peer(
        "sqlite3",
        &[
            "-readonly",
            db.to_str().unwrap(),
            "SELECT 'device', mac, coalesce(firmware, '-'), coalesce(last_ip, '-'), \
             coalesce(last_outcome, '-') FROM devices ORDER BY mac; \
             SELECT 'event', id, mac, kind, message FROM events ORDER BY id;",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A legitimate request that writes a new event for `mac` (a path not
/// asked before), waited for: whatever was queued before it is written.
fn sentinel_for(s: &Served, mac: &str, path: &str) {
    let (code, _) = curl(&[&s.http_url(path)]);
    assert_eq!(code, 200, "{path}");
    let events = s.events_until(mac, path);
    assert!(events.contains(path), "{events}");
}

fn sentinel(s: &Served, path: &str) {
    sentinel_for(s, MAC, path)
}

/// A `snapshot` without the lines containing `needle` (the sentinel's
/// event).
fn without(snap: &str, needle: &str) -> String {
    snap.lines()
        .filter(|l| !l.contains(needle))
        .collect::<Vec<_>>()
        .join("\n")
}

fn metric(s: &Served, name: &str) -> String {
    let (code, body) = curl(&[&s.admin_url("/metrics")]);
    assert_eq!(code, 200);
    String::from_utf8_lossy(&body)
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_default()
        .to_string()
}

/// Issue 12 item 2: 300 GETs for unknown MACs, firmware downloads naming
/// unknown MACs in the User-Agent, and 60 KB POSTs to unknown MACs'
/// profile paths: all 404 (the firmware file itself is served), nothing
/// written, every request counted, and one log line (a summary follows at
/// most once a minute).
#[test]
fn r_sec_an_unknown_mac_sweep_writes_nothing_and_is_counted() {
    let s = start_with(None, &[], |d| {
        add_device(d, MAC, &[]);
        std::fs::create_dir_all(d.join("firmware")).unwrap();
        std::fs::write(d.join("firmware/fw.bin"), b"image").unwrap();
    });
    sentinel(&s, &format!("/{MAC}.cfg"));
    let before = snapshot(&s);
    // The sweep: 000e08f00000 .. 000e08f00299 (curl URL globbing).
    let url = s.http_url("/000e08f00[000-299].cfg");
    let out = peer(
        "curl",
        &["-s", "-o", "/dev/null", "-w", "%{http_code}\n", &url],
    );
    let codes = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(codes.lines().count(), 300);
    assert!(codes.lines().all(|c| c == "404"), "{codes}");
    // Firmware downloads whose User-Agent names unknown MACs.
    for i in 0..5 {
        let ua = format!("Cisco-CP-8841-3PCC/6.6.6 (000e08f1000{i})");
        let (code, body) = curl(&["-A", &ua, &s.http_url("/firmware/fw.bin")]);
        assert_eq!((code, body.as_slice()), (200, b"image".as_slice()));
    }
    // 60 KB POSTs to unknown MACs' profile paths.
    let big = "A".repeat(60 * 1024);
    for i in 0..5 {
        let url = s.http_url(&format!("/000e08f2000{i}.cfg"));
        let (code, _) = curl(&["--data-binary", &big, &url]);
        assert_eq!(code, 404);
    }
    sentinel(&s, &format!("/Cisco/{MAC}.cfg"));
    assert_eq!(
        without(&snapshot(&s), &format!("/Cisco/{MAC}.cfg")),
        without(&before, &format!("/Cisco/{MAC}.cfg")),
        "the attack changed the database"
    );
    assert_eq!(
        metric(&s, "phoneprov_unknown_devices_total{proto=\"http\"}"),
        "phoneprov_unknown_devices_total{proto=\"http\"} 310"
    );
    let log = s.stderr_until("unknown device: ", Duration::from_secs(10));
    let said: Vec<_> = log
        .iter()
        .filter(|l| l.contains("unknown device"))
        .collect();
    assert_eq!(said.len(), 1, "{log:#?}");
    assert!(said[0].contains("000e08f00000 from 127.0.0.1"), "{said:?}");
}

const AUTH: &str = r#"
[[auth]]
macs = ["000e08abcdef"]
users = { phone = "right password" }
schemes = ["digest"]
"#;

/// Issue 12 item 2: a User-Agent claiming a firmware version sets nothing
/// unless the request proved which device it came from. Attack: a bare
/// User-Agent on a device without `[[auth]]`, on a firmware download, and
/// a wrong password on one with `[[auth]]`; then the phone itself,
/// authenticated, sets it.
#[test]
fn r_sec_only_an_authenticated_request_sets_the_recorded_firmware() {
    let s = start_with(Some(AUTH), &[], |d| {
        add_device(d, MAC, &[]);
        add_device(d, OTHER_MAC, &[]);
        std::fs::create_dir_all(d.join("firmware")).unwrap();
        std::fs::write(d.join("firmware/fw.bin"), b"image").unwrap();
    });
    let forged = |mac: &str| format!("Cisco-CP-8841-3PCC/6.6.6-forged ({mac})");
    // Served (no [[auth]] on OTHER_MAC), but the firmware is not taken.
    let (code, _) = curl(&[
        "-A",
        &forged(OTHER_MAC),
        &s.http_url(&format!("/{OTHER_MAC}.cfg")),
    ]);
    assert_eq!(code, 200);
    let (code, _) = curl(&["-A", &forged(MAC), &s.http_url("/firmware/fw.bin")]);
    assert_eq!(code, 200);
    let (code, _) = curl(&[
        "-A",
        &forged(MAC),
        "--digest",
        "-u",
        "phone:wrong",
        &s.http_url(&format!("/{MAC}.cfg")),
    ]);
    assert_eq!(code, 401);
    // The phone, authenticated.
    let ua = format!("Cisco-CP-8841-3PCC/11.3.7 ({MAC})");
    let (code, _) = curl(&[
        "-A",
        &ua,
        "--digest",
        "-u",
        "phone:right password",
        &s.http_url(&format!("/{MAC}.cfg")),
    ]);
    assert_eq!(code, 200);
    s.events_until(MAC, "200");
    let snap = snapshot(&s);
    assert!(!snap.contains("forged"), "{snap}");
    assert!(
        snap.contains(&format!("device|{MAC}|11.3.7|127.0.0.1|success")),
        "{snap}"
    );
    assert!(
        snap.contains(&format!("device|{OTHER_MAC}|-|127.0.0.1|success")),
        "{snap}"
    );
}

/// Issue 12 item 5: a client that sends the password with Basic over
/// plain HTTP (anyone on the path reads it) is refused and Basic is not
/// offered there; `[security] allow_basic_over_http = true` turns it back
/// on, with a warning at start.
#[test]
fn r_sec_basic_over_plain_http_is_refused_unless_allowed() {
    let s = start_with(Some(AUTH), &[], |d| {
        add_device(d, MAC, &[]);
        add_device(d, OTHER_MAC, &[]);
    });
    let before = snapshot(&s);
    let url = s.http_url(&format!("/{MAC}.cfg"));
    let (code, headers, _) = curl_headers(&["--basic", "-u", "phone:right password", &url]);
    assert_eq!(code, 401);
    assert!(!headers.contains("basic"), "{headers}");
    // OTHER_MAC has no [[auth]]: its fetch is the sentinel.
    sentinel_for(&s, OTHER_MAC, &format!("/{OTHER_MAC}.cfg"));
    assert_eq!(
        without(&snapshot(&s), OTHER_MAC),
        without(&before, OTHER_MAC),
        "the refused request changed the database"
    );

    let basic = r#"
[[auth]]
macs = ["000e08abcdef"]
users = { phone = "right password" }
schemes = ["basic"]
"#;
    // Basic-only without the setting: a warning that plain HTTP cannot
    // authenticate these devices.
    let s = start_with(Some(basic), &[], |d| add_device(d, MAC, &[]));
    let log = s.stderr_until("[[auth]] #1", Duration::from_secs(10));
    assert!(
        log.iter()
            .any(|l| l.contains("warning: [[auth]] #1: schemes = [\"basic\"] only")),
        "{log:#?}"
    );
    let (code, _) = curl(&[
        "--basic",
        "-u",
        "phone:right password",
        &s.http_url(&format!("/{MAC}.cfg")),
    ]);
    assert_eq!(code, 401);
    drop(s);
    let allowed = format!("{basic}\n[security]\nallow_basic_over_http = true\n");
    let s = start_with(Some(&allowed), &[], |d| add_device(d, MAC, &[]));
    let log = s.stderr_until("allow_basic_over_http", Duration::from_secs(10));
    assert!(
        log.iter()
            .any(|l| l.contains("warning: [security] allow_basic_over_http = true")),
        "{log:#?}"
    );
    let (code, _) = curl(&[
        "--basic",
        "-u",
        "phone:right password",
        &s.http_url(&format!("/{MAC}.cfg")),
    ]);
    assert_eq!(code, 200);
}

/// Issue 12 item 2, `[reports] auth`: reports with their own credentials
/// (`users`): a forged report without them, or with a profile password,
/// is refused and stores nothing; the reporter's is stored. `none` lets
/// reports in without credentials while profiles keep theirs.
#[test]
fn r_sec_reports_follow_their_own_policy() {
    let cfg = r#"
[[auth]]
all = true
users = { phone = "right password" }
schemes = ["digest"]

[reports]
auth = "users"
users = { reporter = "report password" }
schemes = ["digest"]
"#;
    let s = start_with(Some(cfg), &[], |d| add_device(d, MAC, &[]));
    let url = s.http_url(&format!("/report/{MAC}.xml"));
    let forged = "<report>forged</report>";
    for creds in [None, Some("phone:right password"), Some("reporter:wrong")] {
        let mut a = vec!["--data-binary", forged, url.as_str()];
        if let Some(c) = creds {
            a.extend(["--digest", "-u", c]);
        }
        let (code, _) = curl(&a);
        assert_eq!(code, 401, "{a:?}");
    }
    let (code, _) = curl(&[
        "--digest",
        "-u",
        "reporter:report password",
        "--data-binary",
        "<report>genuine</report>",
        &url,
    ]);
    assert_eq!(code, 200);
    let events = s.events_until(MAC, "genuine");
    assert!(
        events.contains("genuine") && !events.contains("forged"),
        "{events}"
    );
    drop(s);

    let open = cfg.replace(
        "auth = \"users\"\nusers = { reporter = \"report password\" }\nschemes = [\"digest\"]",
        "auth = \"none\"",
    );
    let s = start_with(Some(&open), &[], |d| add_device(d, MAC, &[]));
    let url = s.http_url(&format!("/report/{MAC}.xml"));
    let (code, _) = curl(&["--data-binary", "<report>lab</report>", &url]);
    assert_eq!(code, 200);
    let (code, _) = curl(&[&s.http_url(&format!("/{MAC}.cfg"))]);
    assert_eq!(code, 401, "profiles keep their credentials");
    assert!(s.events_until(MAC, "lab").contains("lab"));
}

const CPE_INFORM: &str = r#"<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Header><cwmp:ID soap:mustUnderstand="1">1</cwmp:ID></soap:Header><soap:Body><cwmp:Inform><DeviceId><Manufacturer>Cisco</Manufacturer><OUI>000E08</OUI><ProductClass>CP-8841-3PCC</ProductClass><SerialNumber>000E08000001</SerialNumber></DeviceId><Event><EventStruct><EventCode>1 BOOT</EventCode><CommandKey></CommandKey></EventStruct></Event><MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2026-12-01T00:00:00Z</CurrentTime><RetryCount>0</RetryCount><ParameterList><ParameterValueStruct><Name>Device.DeviceInfo.SoftwareVersion</Name><Value>11.3.7</Value></ParameterValueStruct></ParameterList></cwmp:Inform></soap:Body></soap:Envelope>"#;

/// Issue 12 items 5 and 6: the ACS over HTTPS (`--acs-tls`, the HTTPS
/// listener's certificates) with curl and with the simulated CPE; and the
/// ACS door of the throttle: wrong CPE passwords from 127.0.0.2 are WARN
/// lines (`door=acs`), counted, and past the free failures answered 429
/// unchecked, while the CPE itself still gets in.
#[test]
fn r_sec_acs_over_tls_and_acs_guessing_is_throttled() {
    let cfg = r#"
[acs]
auth = "digest"
users = { cpe = "cpe-secret" }

[security]
preprovision_networks = ["127.0.0.1/32"]
"#;
    let cfg = format!("{cfg}{SLOW_THROTTLE}");
    let listen = [
        "--http",
        "127.0.0.1:0",
        "--https",
        "off",
        "--tftp",
        "off",
        "--syslog",
        "off",
        "--acs",
        "127.0.0.1:0",
        "--acs-tls",
        "127.0.0.1:0",
    ];
    let s = start_listening(&listen, Some(&cfg), &[], |d| add_device(d, OTHER_MAC, &[]));
    let tls_url = format!(
        "https://localhost:{}/",
        s.acs_tls.expect("acs-tls listening").port()
    );
    let plain_url = format!("http://{}/", s.acs.unwrap());
    let ca = s.ca_pem();
    let ca = ca.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inform = dir.path().join("inform.xml");
    std::fs::write(&inform, CPE_INFORM).unwrap();
    let inform = format!("@{}", inform.display());
    let post = |url: &str, creds: &str, from: &str| {
        let (code, body) = curl(&[
            "--interface",
            from,
            "--cacert",
            ca,
            "-m",
            "10",
            "--digest",
            "-u",
            creds,
            "-H",
            "Content-Type: text/xml",
            "--data-binary",
            &inform,
            url,
        ]);
        (code, String::from_utf8_lossy(&body).into_owned())
    };
    // curl over TLS: Digest, then the InformResponse.
    let (code, body) = post(&tls_url, "cpe:cpe-secret", "127.0.0.1");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("InformResponse"), "{body}");
    // Plain HTTP is not TLS on the TLS port.
    let (code, _) = curl(&[
        "-m",
        "10",
        "--data-binary",
        "x",
        &tls_url.replace("https", "http"),
    ]);
    assert_ne!(code, 200);

    // The guessing, on the plain ACS port.
    let codes: Vec<u16> = (0..6)
        .map(|i| post(&plain_url, &format!("cpe:guess{i}"), "127.0.0.2").0)
        .collect();
    assert_eq!(codes, [401, 401, 401, 401, 429, 429]);
    let log = s.stderr_until("door=acs", Duration::from_secs(10));
    let failed = log
        .iter()
        .filter(|l| l.contains("authentication failed: door=acs client=127.0.0.2 user=\"cpe\""))
        .count();
    assert_eq!(failed, 4, "{log:#?}");
    assert!(
        !log.iter().any(|l| l.contains("guess")),
        "a password was logged"
    );
    assert_eq!(
        metric(&s, "phoneprov_auth_failures_total{door=\"acs\"}"),
        "phoneprov_auth_failures_total{door=\"acs\"} 4"
    );
    // The CPE itself, from its own address, still gets in.
    let (code, body) = post(&plain_url, "cpe:cpe-secret", "127.0.0.1");
    assert_eq!(code, 200, "{body}");

    // The simulated CPE with an https:// ACS URL and the CA.
    let profile = format!("Profile_Rule=http://{}/$MA.cfg", s.http.unwrap());
    let out = phoneprov(&[
        "sim",
        "--count",
        "1",
        "--once",
        "--json",
        "--ca",
        ca,
        "--acs",
        &tls_url,
        "--acs-user",
        "cpe",
        "--acs-password",
        "cpe-secret",
        "--param",
        &profile,
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["cwmp"]["sessions_ok"], 1, "{report:#}");
    assert_eq!(report["cwmp"]["sessions_failed"], 0, "{report:#}");
}
