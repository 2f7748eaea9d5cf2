//! End to end: the TR-069 ACS (SPEC R-TR69-2) and the activation service
//! (R-ACT-1, R-ACT-2) inside the real `phoneprov serve`, driven with curl
//! the way a CPE, a phone and an operator would:
//! - a CWMP session with Digest, cookies and recorded Inform envelopes
//!   (CWMP 1.0 with a `cwmp:` prefix; 1.4 with other prefixes and no
//!   Header), a GetParameterValues task queued and read back through the
//!   admin API on the HTTP port;
//! - activation bindings through the API and through `phoneprov activation
//!   bind` while the server runs, the phone query, a single-use code;
//! - the OpenAPI document's ACS and activation paths all served;
//! - `--acs off`, and `--acs` on a port in use (one error line).

mod serve_support;

use std::path::Path;
use std::process::Command;

use serve_support::*;

/// HTTP and the ACS on port 0, the rest off.
const LISTEN: &[&str] = &[
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
];

const CPE_USER: &str = "cpe";
const CPE_PASS: &str = "cpe-secret";
const SW: &str = "Device.DeviceInfo.SoftwareVersion";

/// A Cisco 3PCC Inform as recorded (CWMP 1.0, `SOAP-ENV:`/`cwmp:`
/// prefixes, `cwmp:ID` header), with the test phone's MAC parameter.
const INFORM_1_0: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="urn:dslforum-org:cwmp-1-0">
<SOAP-ENV:Header>
<cwmp:ID SOAP-ENV:mustUnderstand="1">1</cwmp:ID>
</SOAP-ENV:Header>
<SOAP-ENV:Body>
<cwmp:Inform>
<DeviceId>
<Manufacturer>Cisco</Manufacturer>
<OUI>000E08</OUI>
<ProductClass>CP-8841-3PCC</ProductClass>
<SerialNumber>FCH2231A7QX</SerialNumber>
</DeviceId>
<Event SOAP-ENC:arrayType="cwmp:EventStruct[1]">
<EventStruct>
<EventCode>1 BOOT</EventCode>
<CommandKey></CommandKey>
</EventStruct>
</Event>
<MaxEnvelopes>1</MaxEnvelopes>
<CurrentTime>2026-11-21T19:58:03+00:00</CurrentTime>
<RetryCount>0</RetryCount>
<ParameterList SOAP-ENC:arrayType="cwmp:ParameterValueStruct[4]">
<ParameterValueStruct>
<Name>Device.DeviceInfo.SoftwareVersion</Name>
<Value xsi:type="xsd:string">sip88xx.12-0-1MPP-407</Value>
</ParameterValueStruct>
<ParameterValueStruct>
<Name>Device.ManagementServer.ConnectionRequestURL</Name>
<Value xsi:type="xsd:string">http://192.168.1.57:7547/cr/a9d03c1e</Value>
</ParameterValueStruct>
<ParameterValueStruct>
<Name>Device.ManagementServer.ParameterKey</Name>
<Value xsi:type="xsd:string"></Value>
</ParameterValueStruct>
<ParameterValueStruct>
<Name>Device.LAN.MACAddress</Name>
<Value xsi:type="xsd:string">00:0e:08:ab:cd:ef</Value>
</ParameterValueStruct>
</ParameterList>
</cwmp:Inform>
</SOAP-ENV:Body>
</SOAP-ENV:Envelope>
"#;

/// Another CPE's Inform: CWMP 1.4, `s:`/`c:` prefixes, no Header, the
/// serial number a MAC.
const INFORM_1_4_NO_HEADER: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:e="http://schemas.xmlsoap.org/soap/encoding/" xmlns:x="http://www.w3.org/2001/XMLSchema" xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns:c="urn:dslforum-org:cwmp-1-4"><s:Body><c:Inform><DeviceId><Manufacturer>Cisco</Manufacturer><OUI>000E08</OUI><ProductClass>CP-7841-3PCC</ProductClass><SerialNumber>000E08000001</SerialNumber></DeviceId><Event e:arrayType="c:EventStruct[1]"><EventStruct><EventCode>2 PERIODIC</EventCode><CommandKey/></EventStruct></Event><MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2026-11-21T20:01:12Z</CurrentTime><RetryCount>0</RetryCount><ParameterList e:arrayType="c:ParameterValueStruct[1]"><ParameterValueStruct><Name>Device.DeviceInfo.SoftwareVersion</Name><Value i:type="x:string">sip78xx.12-0-1MPP-407</Value></ParameterValueStruct></ParameterList></c:Inform></s:Body></s:Envelope>"#;

/// The CPE's GetParameterValuesResponse to request `id`.
fn gpv_response(id: &str, value: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="urn:dslforum-org:cwmp-1-0">
<SOAP-ENV:Header><cwmp:ID SOAP-ENV:mustUnderstand="1">{id}</cwmp:ID></SOAP-ENV:Header>
<SOAP-ENV:Body><cwmp:GetParameterValuesResponse>
<ParameterList SOAP-ENC:arrayType="cwmp:ParameterValueStruct[1]">
<ParameterValueStruct><Name>{SW}</Name><Value xsi:type="xsd:string">{value}</Value></ParameterValueStruct>
</ParameterList>
</cwmp:GetParameterValuesResponse></SOAP-ENV:Body>
</SOAP-ENV:Envelope>
"#
    )
}

fn start(config: Option<&str>) -> Served {
    start_listening(LISTEN, config, &[], |d| {
        add_device(d, MAC, &["--model", "CP-8841-3PCC"])
    })
}

fn token(s: &Served) -> String {
    std::fs::read_to_string(s.data().join("admin.token"))
        .unwrap()
        .trim()
        .to_string()
}

fn acs_url(s: &Served) -> String {
    format!("http://{}/", s.acs.expect("the ACS listener line"))
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// The admin API with the token: (status, JSON or null).
fn admin(s: &Served, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let auth = format!("Authorization: Bearer {}", token(s));
    let url = s.admin_url(path);
    let mut args = vec!["-m", "10", "-X", method, "-H", &auth];
    if let Some(b) = body {
        args.extend(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    args.push(&url);
    let (code, body) = curl(&args);
    let v = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (code, v)
}

/// One CWMP POST from a CPE: Digest credentials, the cookie jar `jar`,
/// `body` (empty: the CPE's empty POST). Returns (status, body).
fn cwmp(s: &Served, jar: &Path, user: &str, pass: &str, body: &str) -> (u16, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.xml");
    std::fs::write(&file, body).unwrap();
    let data = format!("@{}", file.display());
    let creds = format!("{user}:{pass}");
    let jar = jar.to_str().unwrap();
    let url = acs_url(s);
    let mut args = vec![
        "-m", "10", "--digest", "-u", &creds, "-b", jar, "-c", jar, "-X", "POST",
    ];
    if !body.is_empty() {
        args.extend([
            "-H",
            "Content-Type: text/xml; charset=\"utf-8\"",
            "-H",
            "SOAPAction:",
        ]);
    }
    args.extend(["--data-binary", &data, &url]);
    let (code, out) = curl(&args);
    (code, String::from_utf8_lossy(&out).into_owned())
}

/// The text of the first element whose name ends in `:ID`.
fn cwmp_id(xml: &str) -> String {
    let start = xml.find(":ID").expect("a cwmp:ID header");
    let rest = &xml[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find('<').unwrap();
    rest[open..open + close].trim().to_string()
}

#[test]
fn r_tr69_2_session_over_curl_runs_a_task_queued_through_the_api() {
    let s = start(Some(&format!(
        "[acs]\nauth = \"digest\"\nusers = {{ {CPE_USER} = \"{CPE_PASS}\" }}\n"
    )));
    let tasks = format!("/api/v1/devices/{MAC}/tasks");

    // Queue a GetParameterValues on the admin listener, with the token.
    let (code, task) = admin(
        &s,
        "POST",
        &tasks,
        Some(&format!(
            r#"{{"rpc":"GetParameterValues","names":["{SW}"]}}"#
        )),
    );
    assert_eq!(code, 201, "{task}");
    assert_eq!(task["state"], "queued");
    let id = task["id"].as_i64().unwrap();
    // No token, wrong token: 401, nothing queued.
    let (code, _) = curl(&[
        "-m",
        "10",
        "-X",
        "POST",
        "--data-binary",
        "{}",
        &s.admin_url(&tasks),
    ]);
    assert_eq!(code, 401);
    let (code, _) = curl(&[
        "-m",
        "10",
        "-H",
        "Authorization: Bearer nope",
        &s.admin_url(&format!("{tasks}/{id}")),
    ]);
    assert_eq!(code, 401);

    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("cookies");
    // Wrong CPE password: 401, no session.
    let (code, _) = cwmp(&s, &jar, CPE_USER, "wrong", INFORM_1_0);
    assert_eq!(code, 401);
    // Inform → InformResponse, in the Inform's namespace, echoing its ID.
    let (code, resp) = cwmp(&s, &jar, CPE_USER, CPE_PASS, INFORM_1_0);
    assert_eq!(code, 200, "{resp}");
    assert!(resp.contains("InformResponse"), "{resp}");
    assert!(resp.contains("urn:dslforum-org:cwmp-1-0"), "{resp}");
    assert!(!resp.contains("cwmp-1-4"), "{resp}");
    assert_eq!(cwmp_id(&resp), "1");
    // Empty POST → the queued GetParameterValues.
    let (code, req) = cwmp(&s, &jar, CPE_USER, CPE_PASS, "");
    assert_eq!(code, 200, "{req}");
    assert!(
        req.contains("GetParameterValues") && req.contains(SW),
        "{req}"
    );
    assert!(req.contains("urn:dslforum-org:cwmp-1-0"), "{req}");
    let rid = cwmp_id(&req);
    // The answer → nothing more to do: 204 ends the session.
    let (code, end) = cwmp(
        &s,
        &jar,
        CPE_USER,
        CPE_PASS,
        &gpv_response(&rid, "sip88xx.12-0-2MPP-9"),
    );
    assert_eq!(code, 204, "{end}");

    let (code, t) = admin(&s, "GET", &format!("{tasks}/{id}"), None);
    assert_eq!(code, 200, "{t}");
    assert_eq!(t["state"], "done", "{t}");
    let values = t["result"]["values"].as_array().unwrap();
    assert!(
        values
            .iter()
            .any(|v| v["name"] == SW && v["value"] == "sip88xx.12-0-2MPP-9"),
        "{t}"
    );
    let (code, list) = admin(&s, "GET", &tasks, None);
    assert_eq!(code, 200);
    assert_eq!(list[0]["id"], id);
    // The data model cache holds the answered value.
    let (code, dm) = admin(&s, "GET", &format!("/api/v1/devices/{MAC}/datamodel"), None);
    assert_eq!(code, 200);
    assert!(
        dm.as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == SW && e["value"] == "sip88xx.12-0-2MPP-9"),
        "{dm}"
    );

    // Another CPE: CWMP 1.4, other prefixes, no Header. Answered in 1.4;
    // with nothing queued its empty POST ends the session at once.
    let jar2 = dir.path().join("cookies2");
    let (code, resp) = cwmp(&s, &jar2, CPE_USER, CPE_PASS, INFORM_1_4_NO_HEADER);
    assert_eq!(code, 200, "{resp}");
    assert!(resp.contains("InformResponse"), "{resp}");
    assert!(resp.contains("urn:dslforum-org:cwmp-1-4"), "{resp}");
    assert!(!resp.contains("cwmp-1-0"), "{resp}");
    let (code, _) = cwmp(&s, &jar2, CPE_USER, CPE_PASS, "");
    assert_eq!(code, 204);

    // The session writes went through the group writer: two Informs and
    // one task result, in at most three commits.
    let (code, metrics) = curl(&[&s.admin_url("/metrics")]);
    assert_eq!(code, 200);
    let metrics = String::from_utf8_lossy(&metrics);
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    let (writes, groups) = (
        value("phoneprov_acs_writes_total "),
        value("phoneprov_acs_write_groups_total "),
    );
    assert_eq!(writes, 3, "{metrics}");
    assert!((1..=writes).contains(&groups), "{metrics}");
}

#[test]
fn r_act_bindings_queries_and_single_use_codes_through_the_server() {
    let s = start(None);
    let data = s.data();
    let rule = "https://prov.example.com/$MA.xml";

    // No token: refused, nothing bound.
    let bind = format!(r#"{{"mac":"{MAC}","url":"{rule}"}}"#);
    let (code, _) = curl(&[
        "-m",
        "10",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &bind,
        &s.admin_url("/api/v1/activation/bindings"),
    ]);
    assert_eq!(code, 401);
    let query = |mac: &str| {
        let (code, hdr, body) = curl_headers(&[
            "-m",
            "10",
            &s.http_url(&format!(
                "/activation/v1/query?mac={mac}&model=CP-8841-3PCC&serial=FCH2231A7QX"
            )),
        ]);
        (code, hdr, String::from_utf8_lossy(&body).into_owned())
    };
    let (code, _, body) = query(MAC);
    assert_eq!(code, 404, "{body}");

    // Bound through the API: the query answers the redirect profile.
    let (code, b) = admin(&s, "POST", "/api/v1/activation/bindings", Some(&bind));
    assert_eq!(code, 201, "{b}");
    let (code, hdr, body) = query(MAC);
    assert_eq!(code, 200, "{body}");
    assert!(hdr.contains("content-type: application/xml"), "{hdr}");
    assert!(body.contains("<flat-profile>"), "{body}");
    assert!(
        body.contains(&format!("<Profile_Rule ua=\"na\">{rule}</Profile_Rule>")),
        "{body}"
    );
    // The answer is on the phone's timeline with the address it came from.
    let events = s.events_until(MAC, "127.0.0.1");
    assert!(events.contains("127.0.0.1"), "{events}");

    // Bound with the CLI while the server runs (same database).
    let other_rule = "http://other.example.com/$MA.cfg";
    let out = phoneprov(&[
        "activation",
        "bind",
        "--mac",
        OTHER_MAC,
        "--url",
        other_rule,
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, _, body) = query(OTHER_MAC);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(other_rule), "{body}");

    // An unbound phone: 404 with the documented one-line answer.
    let (code, _, body) = query("000e08999999");
    assert_eq!(code, 404);
    let err = json(body.as_bytes());
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("no provider is bound"),
        "{err}"
    );
    // A bad MAC: 400.
    assert_eq!(query("nonsense").0, 400);

    // An activation code issued through the API works once (R-ACT-2).
    let gds_rule = "https://gds.example.com/$MA.xml";
    let (code, issued) = admin(
        &s,
        "POST",
        "/api/v1/activation/codes",
        Some(&format!(r#"{{"url":"{gds_rule}"}}"#)),
    );
    assert_eq!(code, 201, "{issued}");
    let code_digits = issued["codes"][0]["code"].as_str().unwrap().to_string();
    assert_eq!(code_digits.len(), 16);
    let redeem = |mac: &str| {
        let body = format!(r#"{{"mac":"{mac}","code":"{code_digits}"}}"#);
        let (code, out) = curl(&[
            "-m",
            "10",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body,
            &s.http_url("/activation/v1/code"),
        ]);
        (code, String::from_utf8_lossy(&out).into_owned())
    };
    let (code, body) = redeem("000e08777777");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(gds_rule), "{body}");
    let (code, body) = redeem("000e08888888");
    assert_eq!(code, 410, "{body}");

    // The listing shows both bindings and the spent code.
    let (code, listing) = admin(&s, "GET", "/api/v1/activation", None);
    assert_eq!(code, 200);
    let text = listing.to_string();
    assert!(text.contains(MAC) && text.contains(OTHER_MAC), "{text}");
}

#[test]
fn openapi_lists_the_acs_and_activation_routes_and_the_server_serves_them() {
    let s = start(None);
    let (code, body) = curl(&["-m", "10", &s.admin_url("/api/v1/openapi.json")]);
    assert_eq!(code, 200);
    let doc = json(&body);
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/devices/{mac}/tasks",
        "/api/v1/devices/{mac}/tasks/{id}",
        "/api/v1/devices/{mac}/datamodel",
        "/api/v1/devices/{mac}/connection-request",
        "/api/v1/activation",
        "/api/v1/activation/bindings",
        "/api/v1/activation/unbind",
        "/api/v1/activation/codes",
        "/activation/v1/query",
        "/activation/v1/code",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the document");
    }
    // Every documented route exists on the running server: without a
    // token it is refused or rejected, never 404/405. The admin routes are
    // on the admin listener, the phones' activation queries on the phones'
    // port (issue 17 item 3).
    for (path, ops) in paths {
        let uri = path.replace("{mac}", MAC).replace("{id}", "1");
        let url = if uri.starts_with("/api/") {
            s.admin_url(&uri)
        } else {
            s.http_url(&uri)
        };
        for method in ops.as_object().unwrap().keys() {
            let m = method.to_uppercase();
            let (code, body) = curl(&["-m", "10", "-X", &m, &url]);
            assert!(
                code != 404 && code != 405 && code != 0,
                "{m} {path}: {code} {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

#[test]
fn acs_off_serves_no_task_api() {
    let mut listen = LISTEN.to_vec();
    *listen.last_mut().unwrap() = "off";
    let s = start_listening(&listen, None, &[], |_| {});
    assert!(s.acs.is_none());
    let (code, body) = admin(&s, "GET", &format!("/api/v1/devices/{MAC}/tasks"), None);
    assert_eq!(code, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("no API route"),
        "{body}"
    );
    // The activation service is still there.
    let (code, _) = admin(&s, "GET", "/api/v1/activation", None);
    assert_eq!(code, 200);
}

#[test]
fn acs_port_in_use_is_one_line_and_non_zero_exit() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--data", dir.path().to_str().unwrap()])
        .args(["--http", "127.0.0.1:0", "--https", "off", "--tftp", "off"])
        .args(["--syslog", "off", "--acs", &port, "--admin", "off"])
        .env_remove("PHONEPROV_CONFIG")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("cannot listen on acs {port}")) && err.contains("--acs"),
        "{err}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "no listener reported as up"
    );
}
