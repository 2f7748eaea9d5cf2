//! Two `phoneprov serve` nodes on one PostgreSQL database (issue 13 item
//! 4), each with its own data directory, as behind a load balancer: what
//! one node is told, the other serves; the admin token and the Digest
//! nonce secret are the database's, so either node takes the other's; the
//! status writes of both land in the one timeline; a change made through
//! one node is served by the other at its next request, through the
//! database's change notices (`LISTEN/NOTIFY`), also after the listening
//! connections were cut. The database is a
//! fresh one in the throwaway cluster of `phoneprov_testpeers::pg`.

mod serve_support;

use std::time::{Duration, Instant};

use phoneprov_httpauth::{authorization, parse_challenges, Credentials};
use serve_support::*;

/// Plain HTTP only (the shared development CA has its own test); the
/// admin listener on a free port.
const LISTEN: &[&str] = &[
    "--tftp",
    "off",
    "--https",
    "off",
    "--syslog",
    "off",
    "--acs",
    "off",
    "--http",
    "127.0.0.1:0",
];

/// Device rows are read at every request (no 2 s trust window), and the
/// phone's profile needs Digest credentials.
const CONFIG: &str = "[profiles]\ndevice_ttl_ms = 0\n\n[[auth]]\nmacs = [\"000e08abcdef\"]\nusers = { alice = \"s3cret\" }\nschemes = [\"digest\"]\n";

fn node(url: &str) -> Served {
    start_listening(LISTEN, Some(CONFIG), &["--database-url", url], |_| {})
}

/// A fresh database of the test cluster, migrated by `phoneprov db
/// migrate`; its URL.
fn migrated_db() -> String {
    let url = phoneprov_testpeers::pg().fresh_db();
    let out = phoneprov(&["db", "migrate", "--database-url", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    url
}

/// [`CONFIG`] with device rows trusted for an hour: a change reaches the
/// other node only through the database's change notice (`LISTEN`).
fn node_trusting_rows(url: &str) -> Served {
    let cfg = CONFIG.replace("device_ttl_ms = 0", "device_ttl_ms = 3600000");
    start_listening(LISTEN, Some(&cfg), &["--database-url", url], |_| {})
}

/// `sql` on `url`'s database through `psql`: the result rows.
fn psql(url: &str, sql: &str) -> String {
    let args = [
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        url,
        "-c",
        sql,
    ];
    let out = peer("psql", &args);
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How many nodes listen on `url`'s database (their connection has run
/// its `LISTEN`).
fn listening(url: &str) -> usize {
    let sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'phoneprov-listen' \
               AND datname = current_database() AND state = 'idle' AND query LIKE 'LISTEN%'";
    psql(url, sql).trim().parse().unwrap()
}

/// Cuts every node's listening connection to `url`'s database, as an
/// operator's `pg_terminate_backend` would; returns how many.
fn cut_listeners(url: &str) -> usize {
    let sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
               WHERE application_name = 'phoneprov-listen' AND datname = current_database()";
    psql(url, sql).lines().filter(|l| l.trim() == "t").count()
}

fn token(s: &Served) -> String {
    std::fs::read_to_string(s.data().join("admin.token"))
        .unwrap()
        .trim()
        .to_string()
}

/// The admin API of `s` with `tok`: (status, JSON or null).
fn admin(
    s: &Served,
    tok: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let auth = format!("Authorization: Bearer {tok}");
    let url = s.admin_url(path);
    let mut args = vec!["-m", "10", "-X", method, "-H", &auth];
    if let Some(b) = body {
        args.extend(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    args.push(&url);
    let (code, body) = curl(&args);
    (
        code,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// Sets the phone's `display_name` through node `s`'s API.
fn rename(s: &Served, tok: &str, name: &str) {
    let body = format!(r#"{{"vars":{{"display_name":"{name}"}}}}"#);
    let (code, v) = admin(
        s,
        tok,
        "PUT",
        &format!("/api/v1/devices/{MAC}"),
        Some(&body),
    );
    assert_eq!(code, 200, "{v}");
}

/// A fresh nonce's challenge from `s` for the phone's profile.
fn challenge(s: &Served) -> phoneprov_httpauth::Challenge {
    // The head as sent (curl_headers lowercases it; nonces are base64url).
    let url = s.http_url(&format!("/{MAC}.cfg"));
    let out = peer(
        "curl",
        &["-s", "-m", "10", "-o", "/dev/null", "-D", "-", &url],
    );
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:") && l.contains("SHA-256"))
        .unwrap_or_else(|| panic!("no Digest SHA-256 challenge: {head}"));
    let value = line.split_once(':').unwrap().1.trim();
    parse_challenges(value).unwrap().remove(0)
}

/// The phone's profile from `s`, answering `ch` (nonce count `nc`),
/// decrypted with `key`.
fn profile(s: &Served, ch: &phoneprov_httpauth::Challenge, nc: u32, key: &str) -> (u16, String) {
    let path = format!("/{MAC}.cfg");
    let auth = authorization(
        ch,
        &Credentials::new("alice", "s3cret"),
        "GET",
        &path,
        b"",
        "c0ffee",
        nc,
    );
    let hdr = format!("Authorization: {auth}");
    let (code, body) = curl(&["-m", "10", "-H", &hdr, &s.http_url(&path)]);
    if code != 200 {
        return (code, String::from_utf8_lossy(&body).into_owned());
    }
    (code, openssl_decrypt(&body, key))
}

#[test]
fn a_change_through_node_a_is_served_by_node_b_with_shared_secrets() {
    let url = migrated_db();
    let a = node_trusting_rows(&url);
    let b = node_trusting_rows(&url);

    // One admin token for both nodes, mirrored in each data directory.
    let tok = token(&a);
    assert_eq!(token(&b), tok);

    let body = format!(r#"{{"mac":"{MAC}","vars":{{"display_name":"Alice"}}}}"#);
    let (code, dev) = admin(&a, &tok, "POST", "/api/v1/devices", Some(&body));
    assert_eq!(code, 201, "{dev}");
    let key = dev["key"]
        .as_str()
        .expect("the new device's key")
        .to_string();
    // Node B knows the device and its key (both from the database).
    let (code, seen) = admin(&b, &tok, "GET", &format!("/api/v1/devices/{MAC}"), None);
    assert_eq!(
        (code, seen["key"].as_str()),
        (200, Some(key.as_str())),
        "{seen}"
    );

    // A nonce issued by node A is taken by node B, and the profile B
    // renders holds the variable set through A.
    let ch = challenge(&a);
    let (code, xml) = profile(&b, &ch, 1, &key);
    assert_eq!(code, 200, "{xml}");
    assert!(xml.contains("Alice"), "{xml}");

    // Changed through A: B's very next answer has it, although B trusts
    // its cached row for an hour (the change notice dropped it).
    rename(&a, &tok, "Bob");
    let (code, xml) = profile(&b, &ch, 2, &key);
    assert_eq!(code, 200, "{xml}");
    assert!(xml.contains("Bob") && !xml.contains("Alice"), "{xml}");
    // And the reverse direction: B's nonce on A.
    let (code, xml) = profile(&a, &challenge(&b), 1, &key);
    assert_eq!(code, 200, "{xml}");

    // Both listening connections cut, then a change through A: B's
    // listener reconnects by itself and drops its rows, so B serves the
    // change long before its hour (polled: the reconnect takes a moment).
    assert_eq!(cut_listeners(&url), 2, "one listening connection per node");
    rename(&a, &tok, "Carol");
    let deadline = Instant::now() + Duration::from_secs(30);
    let ch = challenge(&b);
    for nc in 1.. {
        let (code, xml) = profile(&b, &ch, nc, &key);
        assert_eq!(code, 200, "{xml}");
        if xml.contains("Carol") {
            break;
        }
        assert!(Instant::now() < deadline, "B still serves {xml}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // And once it listens again, the next change is at once again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while listening(&url) < 2 {
        assert!(Instant::now() < deadline, "the nodes did not listen again");
        std::thread::sleep(Duration::from_millis(50));
    }
    rename(&a, &tok, "Dave");
    let (code, xml) = profile(&b, &challenge(&b), 1, &key);
    assert_eq!(code, 200, "{xml}");
    assert!(xml.contains("Dave") && !xml.contains("Carol"), "{xml}");

    // B's status writes are in the timeline A reads (A served one
    // success; each node folds only its own repeats).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, ev) = admin(
            &a,
            &tok,
            "GET",
            &format!("/api/v1/devices/{MAC}/events"),
            None,
        );
        assert_eq!(code, 200, "{ev}");
        let n = ev.as_array().map_or(0, |e| {
            e.iter()
                .filter(|e| e["kind"] == "resync" && e["outcome"] == "success")
                .count()
        });
        if n >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "events of both nodes: {ev}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The database disappears during a run (issue 13, bad input): requests
/// that need it get 503 and the log says why; once it is back the same
/// `serve` answers again, without a restart.
#[test]
fn a_database_that_disappears_gives_503_then_recovers_without_restart() {
    let cluster = phoneprov_testpeers::PgCluster::start();
    let url = cluster.fresh_db();
    let out = phoneprov(&["db", "migrate", "--database-url", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = node(&url);
    let tok = token(&s);
    let body = format!(r#"{{"mac":"{MAC}","vars":{{"display_name":"Alice"}}}}"#);
    let (code, dev) = admin(&s, &tok, "POST", "/api/v1/devices", Some(&body));
    assert_eq!(code, 201, "{dev}");
    let key = dev["key"].as_str().unwrap().to_string();
    let (code, xml) = profile(&s, &challenge(&s), 1, &key);
    assert_eq!(code, 200, "{xml}");

    cluster.stop();
    let (code, body) = curl(&["-m", "20", &s.http_url(&format!("/{MAC}.cfg"))]);
    assert_eq!(code, 503, "{}", String::from_utf8_lossy(&body));
    let (code, err) = admin(&s, &tok, "GET", &format!("/api/v1/devices/{MAC}"), None);
    assert_eq!(code, 503, "{err}");
    assert!(
        err["hint"].as_str().unwrap_or("").contains("retry"),
        "{err}"
    );
    // Nothing is acknowledged that was not committed.
    let body = r#"{"vars":{"display_name":"Lost"}}"#;
    let (code, _) = admin(
        &s,
        &tok,
        "PUT",
        &format!("/api/v1/devices/{MAC}"),
        Some(body),
    );
    assert_eq!(code, 503);
    let log = s.stderr_until("database", Duration::from_secs(5));
    assert!(log.iter().any(|l| l.contains("database")), "{log:?}");

    cluster.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, xml) = profile(&s, &challenge(&s), 1, &key);
        if code == 200 {
            assert!(
                xml.contains("Alice"),
                "the refused write did not land: {xml}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {code} {xml}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, v) = admin(&s, &tok, "GET", &format!("/api/v1/devices/{MAC}"), None);
    assert_eq!(
        (code, v["vars"]["display_name"].as_str()),
        (200, Some("Alice")),
        "{v}"
    );
}

const SW: &str = "Device.DeviceInfo.SoftwareVersion";

/// Both nodes with their ACS on; CPEs authenticate with Digest.
fn acs_node(url: &str) -> Served {
    let mut listen = LISTEN.to_vec();
    let at = listen.iter().position(|a| *a == "--acs").unwrap();
    listen[at + 1] = "127.0.0.1:0";
    let cfg = format!("{CONFIG}\n[acs]\nauth = \"digest\"\nusers = {{ cpe = \"cpe-secret\" }}\n");
    start_listening(&listen, Some(&cfg), &["--database-url", url], |_| {})
}

/// A CWMP 1.4 Inform of the test phone (its serial number is its MAC).
fn inform() -> String {
    inform_with("")
}

/// [`inform`] carrying `params` (`ParameterValueStruct` elements).
fn inform_with(params: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:e="http://schemas.xmlsoap.org/soap/encoding/" xmlns:c="urn:dslforum-org:cwmp-1-4"><s:Header><c:ID s:mustUnderstand="1">i1</c:ID></s:Header><s:Body><c:Inform><DeviceId><Manufacturer>Cisco</Manufacturer><OUI>000E08</OUI><ProductClass>CP-8841-3PCC</ProductClass><SerialNumber>{}</SerialNumber></DeviceId><Event e:arrayType="c:EventStruct[1]"><EventStruct><EventCode>2 PERIODIC</EventCode><CommandKey/></EventStruct></Event><MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2026-12-07T00:00:00Z</CurrentTime><RetryCount>0</RetryCount><ParameterList>{params}</ParameterList></c:Inform></s:Body></s:Envelope>"#,
        MAC.to_ascii_uppercase()
    )
}

/// The CPE's answer to GetParameterValues request `id`.
fn gpv_answer(id: &str, value: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="urn:dslforum-org:cwmp-1-4"><s:Header><c:ID s:mustUnderstand="1">{id}</c:ID></s:Header><s:Body><c:GetParameterValuesResponse><ParameterList><ParameterValueStruct><Name>{SW}</Name><Value>{value}</Value></ParameterValueStruct></ParameterList></c:GetParameterValuesResponse></s:Body></s:Envelope>"#
    )
}

/// One CWMP POST of the CPE to `s`'s ACS (cookie jar `jar`; empty body:
/// the CPE's empty POST). Returns (status, body).
fn cwmp(s: &Served, jar: &std::path::Path, body: &str) -> (u16, String) {
    cwmp_to(s.acs.expect("ACS listener"), jar, body)
}

/// [`cwmp`] to the ACS at `acs`.
fn cwmp_to(acs: std::net::SocketAddr, jar: &std::path::Path, body: &str) -> (u16, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.xml");
    std::fs::write(&file, body).unwrap();
    let data = format!("@{}", file.display());
    let jar = jar.to_str().unwrap();
    let url = format!("http://{acs}/");
    let mut args = vec![
        "-m",
        "10",
        "--digest",
        "-u",
        "cpe:cpe-secret",
        "-b",
        jar,
        "-c",
        jar,
    ];
    if !body.is_empty() {
        args.extend(["-H", "Content-Type: text/xml", "-H", "SOAPAction:"]);
    }
    args.extend(["--data-binary", &data, &url]);
    let (code, out) = curl(&args);
    (code, String::from_utf8_lossy(&out).into_owned())
}

/// The text of the `:ID` header element.
fn cwmp_id(xml: &str) -> String {
    let rest = &xml[xml.find(":ID").expect("a cwmp ID header")..];
    let open = rest.find('>').unwrap() + 1;
    rest[open..open + rest[open..].find('<').unwrap()].to_string()
}

/// ACS tasks on one queue (issue 13 item 4): a task queued through node
/// A runs once on the CPE informing node B, and one queued through B on
/// a session on A; node A killed (`kill -9`) with a task sent and unanswered: the CPE's
/// next session, on B, gets it again and its answer is recorded once.
#[test]
fn acs_tasks_queued_on_one_node_run_exactly_once_on_the_other() {
    let url = migrated_db();
    let mut a = acs_node(&url);
    let b = acs_node(&url);
    let tok = token(&a);
    let body = format!(r#"{{"mac":"{MAC}","model":"CP-8841-3PCC"}}"#);
    assert_eq!(
        admin(&a, &tok, "POST", "/api/v1/devices", Some(&body)).0,
        201
    );
    let tasks = format!("/api/v1/devices/{MAC}/tasks");
    let gpv = format!(r#"{{"rpc":"GetParameterValues","names":["{SW}"]}}"#);
    let queue = |s: &Served| -> i64 {
        let (code, t) = admin(s, &tok, "POST", &tasks, Some(&gpv));
        assert_eq!(code, 201, "{t}");
        t["id"].as_i64().unwrap()
    };
    let task = |s: &Served, id: i64| admin(s, &tok, "GET", &format!("{tasks}/{id}"), None).1;
    let dir = tempfile::tempdir().unwrap();

    // Queued through A, run by a session on B.
    let id = queue(&a);
    let jar = dir.path().join("b1");
    let (code, resp) = cwmp(&b, &jar, &inform());
    assert_eq!(code, 200, "{resp}");
    let (code, req) = cwmp(&b, &jar, "");
    assert!(
        code == 200 && req.contains("GetParameterValues"),
        "{code} {req}"
    );
    let (code, _) = cwmp(&b, &jar, &gpv_answer(&cwmp_id(&req), "v1"));
    assert_eq!(code, 204);
    let t = task(&a, id);
    assert_eq!(
        (t["state"].as_str(), t["attempts"].as_i64()),
        (Some("done"), Some(1)),
        "{t}"
    );
    // Nothing left for a session on A.
    let jar = dir.path().join("a1");
    assert_eq!(cwmp(&a, &jar, &inform()).0, 200);
    assert_eq!(cwmp(&a, &jar, "").0, 204);

    // The other way round: queued through B, run by a session on A.
    let id = queue(&b);
    let jar = dir.path().join("a2");
    assert_eq!(cwmp(&a, &jar, &inform()).0, 200);
    let (code, req) = cwmp(&a, &jar, "");
    assert!(
        code == 200 && req.contains("GetParameterValues"),
        "{code} {req}"
    );
    assert_eq!(cwmp(&a, &jar, &gpv_answer(&cwmp_id(&req), "v2")).0, 204);
    let t = task(&b, id);
    assert_eq!(
        (t["state"].as_str(), t["attempts"].as_i64()),
        (Some("done"), Some(1)),
        "{t}"
    );

    // A dies with the task sent and unanswered; the CPE retries on B.
    let id = queue(&a);
    let jar = dir.path().join("a3");
    assert_eq!(cwmp(&a, &jar, &inform()).0, 200);
    let (code, req) = cwmp(&a, &jar, "");
    assert!(
        code == 200 && req.contains("GetParameterValues"),
        "{code} {req}"
    );
    a.signal("KILL");
    a.wait_exit(Duration::from_secs(10));
    assert_eq!(task(&b, id)["state"], "sent");
    let jar = dir.path().join("b3");
    assert_eq!(cwmp(&b, &jar, &inform()).0, 200);
    let (code, req) = cwmp(&b, &jar, "");
    assert!(
        code == 200 && req.contains("GetParameterValues"),
        "{code} {req}"
    );
    assert_eq!(cwmp(&b, &jar, &gpv_answer(&cwmp_id(&req), "v3")).0, 204);
    let t = task(&b, id);
    assert_eq!(t["state"], "done", "{t}");
    assert_eq!(t["attempts"], 2, "sent by A, then by B: {t}");
    let values = t["result"]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(values.iter().any(|v| v["value"] == "v3"), "{t}");
    // Every earlier task stays done once.
    let (_, list) = admin(&b, &tok, "GET", &tasks, None);
    let states: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["state"].as_str())
        .collect();
    assert_eq!(states, ["done", "done", "done"], "{list}");
}

/// Activation codes are single-use across nodes (issue 13 item 4): codes
/// issued through A, each redeemed at the same moment by one phone on A
/// and another on B: exactly one redemption per code succeeds (200), the
/// other gets 410.
#[test]
fn an_activation_code_is_redeemed_once_across_nodes() {
    let url = migrated_db();
    let a = node(&url);
    let b = node(&url);
    let tok = token(&a);
    let rule = "https://gds.example.com/$MA.xml";
    let redeem = |http: std::net::SocketAddr, mac: &str, code: &str| -> u16 {
        let body = format!(r#"{{"mac":"{mac}","code":"{code}"}}"#);
        let url = format!("http://{http}/activation/v1/code");
        let h = "Content-Type: application/json";
        curl(&["-m", "10", "-H", h, "--data-binary", &body, &url]).0
    };
    let (ha, hb) = (a.http.unwrap(), b.http.unwrap());
    for round in 0..5 {
        let (code, issued) = admin(
            &a,
            &tok,
            "POST",
            "/api/v1/activation/codes",
            Some(&format!(r#"{{"url":"{rule}"}}"#)),
        );
        assert_eq!(code, 201, "{issued}");
        let digits = issued["codes"][0]["code"].as_str().unwrap().to_string();
        let (ma, mb) = (
            format!("000e0877{round:04x}"),
            format!("000e0888{round:04x}"),
        );
        let (ra, rb) = std::thread::scope(|sc| {
            let ja = sc.spawn(|| redeem(ha, &ma, &digits));
            let jb = sc.spawn(|| redeem(hb, &mb, &digits));
            (ja.join().unwrap(), jb.join().unwrap())
        });
        let mut got = [ra, rb];
        got.sort();
        assert_eq!(got, [200, 410], "round {round}: A {ra}, B {rb}");
    }
}

/// Connection requests from either node (issue 13 item 4): the CPE's
/// connection-request URL, cached from its Inform on node A, is used by
/// node B as well as by A.
#[test]
fn connection_requests_work_from_either_node() {
    use std::io::{BufRead as _, Write as _};
    let url = migrated_db();
    let a = acs_node(&url);
    let b = acs_node(&url);
    let tok = token(&a);
    let body = format!(r#"{{"mac":"{MAC}"}}"#);
    assert_eq!(
        admin(&a, &tok, "POST", "/api/v1/devices", Some(&body)).0,
        201
    );
    // The CPE's connection-request listener: answers 200, reports paths.
    let cpe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cr = format!("http://{}/cr/a9d03c1e", cpe.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in cpe.incoming() {
            let Ok(mut c) = conn else { break };
            let mut line = String::new();
            let mut r = std::io::BufReader::new(c.try_clone().unwrap());
            let _ = r.read_line(&mut line);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tx.send(line);
        }
    });
    let param = format!(
        "<ParameterValueStruct><Name>Device.ManagementServer.ConnectionRequestURL</Name><Value>{cr}</Value></ParameterValueStruct>"
    );
    let jar = tempfile::tempdir().unwrap();
    let jar = jar.path().join("a");
    assert_eq!(cwmp(&a, &jar, &inform_with(&param)).0, 200);
    assert_eq!(cwmp(&a, &jar, "").0, 204);
    let path = format!("/api/v1/devices/{MAC}/connection-request");
    for s in [&b, &a] {
        let (code, v) = admin(s, &tok, "POST", &path, None);
        assert_eq!(code, 200, "{v}");
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the CPE was asked");
        assert!(line.starts_with("GET /cr/a9d03c1e "), "{line}");
    }
}

/// One `phoneprov sim --once --json` phone with its key, resyncing from
/// `http` (the node its Profile_Rule names): (exit code, report).
fn sim_phone(mac: &str, key: &str, http: std::net::SocketAddr) -> (i32, serde_json::Value) {
    let rule = format!("Profile_Rule=[--key \"{key}\"] http://{http}/$MA.cfg");
    let out = std::process::Command::new(BIN)
        .args([
            "sim",
            "--count",
            "1",
            "--mac-base",
            mac,
            "--once",
            "--json",
            "--param",
            &rule,
        ])
        .output()
        .expect("run phoneprov sim");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "sim printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// `phoneprov sim` phones spread across both nodes (half the
/// Profile_Rules name each): all resync; a variable changed through A
/// reaches a phone resyncing from B; the resyncs served by B are in the
/// timeline A shows.
#[test]
fn sim_phones_on_both_nodes_see_changes_made_on_either() {
    let url = migrated_db();
    let plain = |url: &str| {
        let cfg = "[profiles]\ndevice_ttl_ms = 0\n";
        start_listening(LISTEN, Some(cfg), &["--database-url", url], |_| {})
    };
    let a = plain(&url);
    let b = plain(&url);
    let tok = token(&a);
    let macs = [
        "000e08000011",
        "000e08000012",
        "000e08000013",
        "000e08000014",
    ];
    let mut keys = Vec::new();
    for (i, mac) in macs.iter().enumerate() {
        let body = format!(r#"{{"mac":"{mac}","vars":{{"display_name":"Phone {i}"}}}}"#);
        let (code, dev) = admin(&a, &tok, "POST", "/api/v1/devices", Some(&body));
        assert_eq!(code, 201, "{dev}");
        keys.push(dev["key"].as_str().unwrap().to_string());
    }
    let (ha, hb) = (a.http.unwrap(), b.http.unwrap());
    for (i, mac) in macs.iter().enumerate() {
        let node = if i < 2 { ha } else { hb };
        let (code, v) = sim_phone(mac, &keys[i], node);
        assert_eq!(code, 0, "{mac}: {v}");
        assert_eq!(
            v["final_params"]["Display_Name_1_"],
            format!("Phone {i}"),
            "{v}"
        );
    }
    // Changed through A; the first phone now resyncs from B.
    let body = r#"{"vars":{"display_name":"Renamed"}}"#;
    let (code, v) = admin(
        &a,
        &tok,
        "PUT",
        &format!("/api/v1/devices/{}", macs[0]),
        Some(body),
    );
    assert_eq!(code, 200, "{v}");
    let (code, v) = sim_phone(macs[0], &keys[0], hb);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["final_params"]["Display_Name_1_"], "Renamed", "{v}");
    // A phone B served, in the timeline read through A.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, ev) = admin(
            &a,
            &tok,
            "GET",
            &format!("/api/v1/devices/{}/events", macs[3]),
            None,
        );
        if ev
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["kind"] == "resync"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no resync of a phone B served: {ev}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The development CA lives in the database (issue 13): the first node
/// stores the CA it made, the second writes that one into its own `ca/`
/// and serves HTTPS with a certificate it signed, so one `ca.pem` is what
/// phones trust whichever node answers. A node whose `ca/` holds another
/// CA is refused with one line and exit 2 (it may be the CA its phones
/// trust), and its files are left as they were.
#[test]
fn every_node_signs_with_the_development_ca_of_the_database() {
    let url = migrated_db();
    let mut https: Vec<&str> = LISTEN.to_vec();
    let at = https.iter().position(|a| *a == "--https").unwrap();
    https[at + 1] = "127.0.0.1:0";
    let tls_node = || start_listening(&https, None, &["--database-url", &url], |_| {});
    let a = tls_node();
    let b = tls_node();
    let ca = |s: &Served| std::fs::read_to_string(s.data().join("ca/ca.pem")).unwrap();
    assert_eq!(ca(&a), ca(&b), "one development CA for both nodes");
    // B's HTTPS certificate verifies against A's ca.pem.
    let a_ca = a.data().join("ca/ca.pem");
    for s in [&a, &b] {
        let url = format!("https://127.0.0.1:{}/", s.https.unwrap().port());
        let out = peer(
            "curl",
            &[
                "-s",
                "-m",
                "10",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                a_ca.to_str().unwrap(),
                &url,
            ],
        );
        assert!(
            out.status.success(),
            "{url} with A's ca.pem: curl exit {:?}",
            out.status.code()
        );
    }

    // A third node with a CA of its own is refused, its CA untouched.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = phoneprov(&["ca", "init", "--data", data.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let own = std::fs::read_to_string(data.join("ca/ca.pem")).unwrap();
    let mut args = vec![
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--database-url",
        &url,
        "--admin",
        "off",
    ];
    args.extend(https.iter().copied());
    let mut child = std::process::Command::new(BIN)
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve with another CA started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("is not the development CA that the other nodes on this database sign with"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(
        std::fs::read_to_string(data.join("ca/ca.pem")).unwrap(),
        own
    );
}
