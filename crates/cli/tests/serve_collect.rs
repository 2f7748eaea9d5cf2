//! `phoneprov serve` collection and admin API end to end: syslog from the
//! real util-linux `logger` (RFC 3164 and RFC 5424) lands in the device
//! timeline (R-LOG-1..3; issue 4 item 8), and the REST API under /api/v1
//! answers with the admin token and refuses without it (issue 4 item 2).

mod serve_support;

use serve_support::*;

#[test]
fn r_log_syslog_from_logger_lands_in_the_device_timeline() {
    let s = start_with(None, &[], |d| {
        add_device(d, MAC, &["--model", "CP-8841-3PCC"])
    });
    let syslog = s.syslog.expect("syslog listener");
    let port = syslog.port().to_string();
    let colon_mac: Vec<String> = (0..6).map(|i| MAC[i * 2..i * 2 + 2].to_string()).collect();
    let colon_mac = colon_mac.join(":");
    let msg = format!("CP-8841-3PCC {colon_mac} -- Successful resync http://10.0.0.1:80/{MAC}.cfg");
    let out = peer(
        "logger",
        &["-n", "127.0.0.1", "-P", &port, "-d", "--rfc3164", &msg],
    );
    assert!(out.status.success(), "logger failed");
    let events = s.events_until(MAC, "Successful resync");
    assert!(
        events.contains("Successful resync"),
        "syslog message not filed: {events}"
    );

    let msg = format!("CP-8841-3PCC {colon_mac} -- Resync failed: 404 Not Found");
    let out = peer(
        "logger",
        &["-n", "127.0.0.1", "-P", &port, "-d", "--rfc5424", &msg],
    );
    assert!(out.status.success(), "logger failed");
    let events = s.events_until(MAC, "Resync failed");
    assert!(
        events.contains("Resync failed"),
        "RFC 5424 message not filed: {events}"
    );
}

#[test]
fn admin_api_needs_the_token_and_lists_devices() {
    let s = start_with(None, &[], |d| {
        add_device(d, MAC, &["--model", "CP-8841-3PCC"])
    });
    let (status, _) = curl(&["-s", &s.admin_url("/api/v1/devices")]);
    assert_eq!(
        status, 401,
        "the API must refuse a request without the admin token"
    );
    let token = std::fs::read_to_string(s.data().join("admin.token")).unwrap();
    let auth = format!("Authorization: Bearer {}", token.trim());
    let (status, body) = curl(&["-s", "-H", &auth, &s.admin_url("/api/v1/devices")]);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v.to_string().contains(MAC),
        "device missing from the API listing: {v}"
    );
    let (status, body) = curl(&["-s", &s.admin_url("/api/v1/openapi.json")]);
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with('3'),
        "not an OpenAPI 3 document"
    );
}
