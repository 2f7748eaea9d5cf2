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
/// variables and recorded status, and the whole timeline (read through
/// `sqlite3` or `psql`, whichever backend the server runs on).
fn snapshot(s: &Served) -> String {
    query(
        &s.data(),
        "SELECT 'device', mac, vars, coalesce(firmware, '-'), coalesce(last_ip, '-'), \
         coalesce(last_outcome, '-') FROM devices ORDER BY mac; \
         SELECT 'event', id, mac, kind, message FROM events ORDER BY id;",
    )
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
        snap.contains(&format!("device|{MAC}|{{}}|11.3.7|127.0.0.1|success")),
        "{snap}"
    );
    assert!(
        snap.contains(&format!("device|{OTHER_MAC}|{{}}|-|127.0.0.1|success")),
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

/// Issue 12: over the ACS's HTTPS listener a client certificate proves
/// one device. The attack: curl with device B's certificate (`MAC`)
/// posting device A's Inform (`OTHER_MAC`'s serial): 403, a WARN in the
/// fail2ban form, nothing written. A's own certificate, and a session
/// without a certificate (`client_auth = "optional"`, the default), get
/// in as before.
#[test]
fn r_sec_acs_tls_refuses_another_devices_certificate() {
    let cfg = r#"
[acs]
auth = "digest"
users = { cpe = "cpe-secret" }
"#;
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
        "off",
        "--acs-tls",
        "127.0.0.1:0",
    ];
    let s = start_listening(&listen, Some(cfg), &[], |d| {
        add_device(d, MAC, &[]);
        add_device(d, OTHER_MAC, &[]);
    });
    let url = format!(
        "https://localhost:{}/",
        s.acs_tls.expect("acs-tls listening").port()
    );
    let certs = s.dir.path().join("certs");
    let (b_pem, b_key) = issue_cert(&s.data(), MAC, &certs);
    let (a_pem, a_key) = issue_cert(&s.data(), OTHER_MAC, &certs);
    let ca = s.ca_pem();
    let inform = s.dir.path().join("inform.xml");
    std::fs::write(&inform, CPE_INFORM).unwrap();
    let inform = format!("@{}", inform.display());
    let post = |cert: Option<(&std::path::Path, &std::path::Path)>| {
        let mut args = vec![
            "--cacert",
            ca.to_str().unwrap(),
            "-m",
            "10",
            "--digest",
            "-u",
            "cpe:cpe-secret",
            "-H",
            "Content-Type: text/xml",
            "--data-binary",
            &inform,
            &url,
        ];
        if let Some((pem, key)) = cert {
            args.extend(["--cert", pem.to_str().unwrap()]);
            args.extend(["--key", key.to_str().unwrap()]);
        }
        let (code, body) = curl(&args);
        (code, String::from_utf8_lossy(&body).into_owned())
    };
    sentinel(&s, &format!("/{MAC}.cfg"));
    let before = snapshot(&s);

    // The attack: B's certificate, A's Inform.
    let (code, body) = post(Some((&b_pem, &b_key)));
    assert_eq!(code, 403, "{body}");
    assert!(!body.contains("InformResponse"), "{body}");
    let log = s.stderr_until("door=acs", Duration::from_secs(10));
    let warned = format!(
        "client certificate names another device: door=acs client=127.0.0.1 cert_mac={MAC} device={OTHER_MAC}"
    );
    assert!(log.iter().any(|l| l.contains(&warned)), "{log:#?}");
    sentinel(&s, &format!("/Cisco/{MAC}.cfg"));
    assert_eq!(
        without(&snapshot(&s), &format!("/Cisco/{MAC}.cfg")),
        without(&before, &format!("/Cisco/{MAC}.cfg")),
        "the refused Inform changed the database"
    );
    assert_eq!(
        metric(&s, "phoneprov_auth_failures_total{door=\"acs\"}"),
        "phoneprov_auth_failures_total{door=\"acs\"} 1"
    );

    // A's own certificate: the InformResponse, and the Inform recorded.
    let (code, body) = post(Some((&a_pem, &a_key)));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("InformResponse"), "{body}");
    assert!(s.events_until(OTHER_MAC, "Inform").contains("1 BOOT"));
    // No certificate: as before (the certificate is optional here).
    let (code, body) = post(None);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("InformResponse"), "{body}");
}

/// The devices awaiting approval (auto-registered), in MAC order.
fn pending_macs(s: &Served) -> Vec<String> {
    snapshot(s)
        .lines()
        .filter(|l| l.starts_with("device|") && l.contains(PENDING))
        .map(|l| l.split('|').nth(1).unwrap().to_string())
        .collect()
}

/// How [`snapshot`] shows a pending device's variables.
const PENDING: &str = "\"phoneprov_status\":\"pending\"";

/// 1 000 invented MACs from `from` (curl URL globbing), all answered
/// like unknown devices.
fn sweep(s: &Served, from: &str, prefix: &str) {
    let url = s.http_url(&format!("/{prefix}[000-999].cfg"));
    let out = peer(
        "curl",
        &[
            "-s",
            "--interface",
            from,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\n",
            &url,
        ],
    );
    let codes = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(codes.lines().count(), 1000);
    assert!(codes.lines().all(|c| c == "404"), "{codes}");
}

/// Issue 12: `auto_register = true` is bounded by a global cap on
/// pending rows. The attack: 1 000 invented MACs from one address, with
/// the per-address rate out of the way: exactly the cap is written, every
/// request is answered and counted like an unknown device.
#[test]
fn r_sec_auto_registration_stops_at_the_pending_cap() {
    let cfg = "[profiles]\nauto_register = true\nauto_register_per_minute = 100000\n\
               auto_register_max_pending = 20\n";
    let s = start_with(Some(cfg), &[], |d| add_device(d, MAC, &[]));
    sweep(&s, "127.0.0.1", "0a0b0c0d0");
    // The writer has done everything queued before the sentinel.
    sentinel(&s, &format!("/{MAC}.cfg"));
    let pending = pending_macs(&s);
    assert_eq!(pending.len(), 20, "{pending:?}");
    assert!(
        pending.iter().all(|m| m.starts_with("0a0b0c0d0")),
        "{pending:?}"
    );
    assert_eq!(
        metric(&s, "phoneprov_unknown_devices_total{proto=\"http\"}"),
        "phoneprov_unknown_devices_total{proto=\"http\"} 1000"
    );
    // A pending device is still 404, and is not registered twice.
    let (code, _) = curl(&[&s.http_url(&format!("/{}.cfg", pending[0]))]);
    assert_eq!(code, 404);
}

/// Issue 12: auto-registration per client address and minute. The
/// attack: 1 000 invented MACs from 127.0.0.1 with 5 a minute allowed:
/// 5 rows; another address still registers its own phone.
#[test]
fn r_sec_auto_registration_is_rate_limited_per_address() {
    let cfg = "[profiles]\nauto_register = true\nauto_register_per_minute = 5\n";
    let s = start_with(Some(cfg), &[], |d| add_device(d, MAC, &[]));
    let before = snapshot(&s);
    sweep(&s, "127.0.0.1", "0a0b0c0d1");
    let new_phone = "0a0b0c0d2001";
    let (code, _) = curl(&[
        "--interface",
        "127.0.0.2",
        &s.http_url(&format!("/{new_phone}.cfg")),
    ]);
    assert_eq!(code, 404);
    sentinel(&s, &format!("/{MAC}.cfg"));
    let pending = pending_macs(&s);
    assert_eq!(pending.len(), 6, "{pending:?}");
    assert_eq!(
        pending
            .iter()
            .filter(|m| m.starts_with("0a0b0c0d1"))
            .count(),
        5,
        "{pending:?}"
    );
    assert!(pending.contains(&new_phone.to_string()), "{pending:?}");
    // Nothing else was written: no events for the sweep.
    let after = snapshot(&s);
    let events = |snap: &str| {
        snap.lines()
            .filter(|l| l.starts_with("event|") && !l.contains(MAC))
            .count()
    };
    assert_eq!(events(&after), events(&before), "{after}");
    assert_eq!(
        metric(&s, "phoneprov_unknown_devices_total{proto=\"http\"}"),
        "phoneprov_unknown_devices_total{proto=\"http\"} 1001"
    );
}

/// Issue 12: syslog lines naming MACs not in the inventory, and reports
/// that cannot be decrypted with the device key, write nothing and are
/// counted. The attack: `logger` with 20 invented MACs, then curl
/// posting garbage "encrypted" reports (OpenSSL `Salted__` and RFC 8188
/// `aes128gcm`) for a known device; then the phone's own syslog line is
/// filed, and the database is otherwise unchanged.
#[test]
fn r_sec_syslog_and_reports_for_no_known_device_write_nothing() {
    let s = start_with(None, &[], |d| add_device(d, MAC, &[]));
    sentinel(&s, &format!("/{MAC}.cfg"));
    let before = snapshot(&s);
    let port = s.syslog.expect("syslog listener").port().to_string();
    let logger = |msg: &str| {
        let out = peer(
            "logger",
            &["-n", "127.0.0.1", "-P", &port, "-d", "--rfc3164", msg],
        );
        assert!(out.status.success(), "logger failed");
    };
    for i in 0..20 {
        logger(&format!(
            "CP-8841-3PCC 0a:0b:0c:0d:0e:{i:02x} -- Successful resync http://evil/x.cfg"
        ));
    }
    // MAC-less from the same address: the invented MACs taught the
    // server nothing about it.
    logger("CP-8841-3PCC -- Registered line 1");
    let url = s.http_url(&format!("/report/{MAC}.xml"));
    let (code, _) = curl(&["--data-binary", "Salted__garbagegarbage", &url]);
    assert_eq!(code, 400);
    let (code, _) = curl(&[
        "-H",
        "Content-Encoding: aes128gcm",
        "--data-binary",
        "not an RFC 8188 body at all",
        &url,
    ]);
    assert_eq!(code, 400);
    // The phone's own line, filed after the invented ones (one filer
    // thread, in order), then a request through the same writer.
    let mac_colons: Vec<&str> = (0..6).map(|i| &MAC[i * 2..i * 2 + 2]).collect();
    logger(&format!(
        "CP-8841-3PCC {} -- Successful resync http://s/genuine.cfg",
        mac_colons.join(":")
    ));
    assert!(s.events_until(MAC, "genuine.cfg").contains("genuine.cfg"));
    sentinel(&s, &format!("/Cisco/{MAC}.cfg"));
    let changed = |snap: &str| {
        snap.lines()
            .filter(|l| !l.contains("genuine.cfg") && !l.contains(&format!("/Cisco/{MAC}.cfg")))
            .filter(|l| !l.starts_with("device|"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        changed(&snapshot(&s)),
        changed(&before),
        "events were written"
    );
    let devices = |snap: &str| snap.lines().filter(|l| l.starts_with("device|")).count();
    assert_eq!(devices(&snapshot(&s)), 1);
    assert_eq!(
        metric(&s, "phoneprov_unknown_devices_total{proto=\"syslog\"}"),
        "phoneprov_unknown_devices_total{proto=\"syslog\"} 20"
    );
    assert_eq!(
        metric(&s, "phoneprov_syslog_filed_total{result=\"unmatched\"}"),
        "phoneprov_syslog_filed_total{result=\"unmatched\"} 1"
    );
    assert_eq!(
        metric(
            &s,
            "phoneprov_reports_refused_total{reason=\"undecryptable\"}"
        ),
        "phoneprov_reports_refused_total{reason=\"undecryptable\"} 2"
    );
}
