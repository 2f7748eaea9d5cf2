//! The access log of `phoneprov serve` (issue 17 item 4, `[log] access`,
//! `[log] format`): every kind of line (an HTTP fetch, a TFTP transfer with
//! tftp-hpa's client, a failed Digest with curl, a certificate for another
//! device and one from a foreign CA, an HTTPS fetch with the phone's own
//! certificate, a CWMP session over curl, an activation query) with every
//! field checked, in text and in JSON; HTTPS resumption seen by openssl
//! s_client; the WARN lines for the failed Digest and the refused
//! certificate in their fail2ban form; reopened on SIGUSR1 after a
//! logrotate-style move.

mod serve_support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serve_support::*;

/// Waits until `file` has at least `n` lines.
fn lines(file: &Path, n: usize) -> Vec<String> {
    for _ in 0..300 {
        let t = std::fs::read_to_string(file).unwrap_or_default();
        let l: Vec<String> = t.lines().map(str::to_string).collect();
        if l.len() >= n {
            return l;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "{} has fewer than {n} lines: {:?}",
        file.display(),
        std::fs::read_to_string(file)
    );
}

fn https_get(s: &Served, cert: (&Path, &Path), extra: &[&str]) -> String {
    let connect = format!("127.0.0.1:{}", s.https.unwrap().port());
    let mut child = Command::new(phoneprov_testpeers::peer("openssl"))
        .args(["s_client", "-ign_eof", "-connect", &connect])
        .arg("-CAfile")
        .arg(s.ca_pem())
        .arg("-cert")
        .arg(cert.0)
        .arg("-key")
        .arg(cert.1)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let req = format!(
        "GET /{MAC}.cfg HTTP/1.1\r\nHost: localhost\r\nUser-Agent: s_client\r\nConnection: close\r\n\r\n"
    );
    let _ = child.stdin.take().unwrap().write_all(req.as_bytes());
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One access-log line, every field; read from a text line ([`parse_text`])
/// or a JSON one ([`parse_json`]), so one expectation checks both formats.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    client: String,
    method: String,
    target: String,
    version: String,
    status: String,
    bytes: u64,
    ua: Option<String>,
    proto: String,
    mac: Option<String>,
    id: Option<String>,
    proof: Option<String>,
    tls: Option<String>,
    resumed: Option<bool>,
    cert: Option<String>,
    /// CWMP only: rpcs, tasks, faults.
    counts: Option<(u64, u64, u64)>,
}

/// A `-` field is none.
fn opt(v: &str) -> Option<String> {
    (v != "-").then(|| v.to_string())
}

/// Checks the time (RFC 3339 UTC with milliseconds) and `ms` (a
/// non-negative duration under the test's own length).
fn check_time_and_ms(time: &str, ms: f64, line: &str) {
    assert_eq!(time.len(), "2026-12-06T21:00:00.000Z".len(), "{line}");
    assert!(
        time.ends_with('Z') && time.as_bytes()[10] == b'T' && time.as_bytes()[19] == b'.',
        "{line}"
    );
    assert!(humantime::parse_rfc3339(time).is_ok(), "{line}");
    assert!((0.0..60_000.0).contains(&ms), "{line}");
}

/// `client - - [time] "METHOD target VERSION" status bytes "-" "UA"` then
/// `key=value` fields, in this order.
fn parse_text(line: &str) -> Line {
    let (client, rest) = line
        .split_once(" - - [")
        .unwrap_or_else(|| panic!("{line}"));
    let (time, rest) = rest.split_once("] \"").unwrap();
    let (request, rest) = rest.split_once("\" ").unwrap();
    let mut req = request.splitn(3, ' ');
    let (method, target, version) = (
        req.next().unwrap(),
        req.next().unwrap(),
        req.next().unwrap(),
    );
    let (status, rest) = rest.split_once(' ').unwrap();
    let (bytes, rest) = rest.split_once(" \"-\" \"").unwrap();
    let (ua, rest) = rest.split_once("\" ").unwrap();
    let mut fields = Vec::new();
    let mut rest = rest;
    while !rest.is_empty() {
        let (k, r) = rest.split_once('=').unwrap_or_else(|| panic!("{line}"));
        let (v, r) = if let Some(q) = r.strip_prefix('"') {
            let end = q.find('"').unwrap();
            (&q[..end], q[end + 1..].trim_start())
        } else {
            r.split_once(' ').unwrap_or((r, ""))
        };
        fields.push((k.to_string(), v.to_string()));
        rest = r;
    }
    let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    let mut want = vec![
        "proto", "ms", "mac", "id", "proof", "tls", "resumed", "cert",
    ];
    if keys.len() > want.len() {
        want.extend(["rpcs", "tasks", "faults"]);
    }
    assert_eq!(keys, want, "{line}");
    let f = |k: &str| fields.iter().find(|(n, _)| n == k).unwrap().1.clone();
    check_time_and_ms(time, f("ms").parse().unwrap(), line);
    Line {
        client: client.to_string(),
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        status: status.to_string(),
        bytes: bytes.parse().unwrap(),
        ua: opt(ua),
        proto: f("proto"),
        mac: opt(&f("mac")),
        id: opt(&f("id")),
        proof: opt(&f("proof")),
        tls: opt(&f("tls")),
        resumed: opt(&f("resumed")).map(|r| r == "yes"),
        cert: opt(&f("cert")),
        counts: (keys.len() > 8).then(|| {
            (
                f("rpcs").parse().unwrap(),
                f("tasks").parse().unwrap(),
                f("faults").parse().unwrap(),
            )
        }),
    }
}

fn parse_json(line: &str) -> Line {
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = vec![
        "bytes",
        "cert",
        "client",
        "client_port",
        "id",
        "mac",
        "method",
        "ms",
        "proof",
        "proto",
        "resumed",
        "status",
        "target",
        "time",
        "tls",
        "user_agent",
        "version",
    ];
    if v.get("rpcs").is_some() {
        want.extend(["faults", "rpcs", "tasks"]);
        want.sort_unstable();
    }
    assert_eq!(keys, want, "{line}");
    check_time_and_ms(v["time"].as_str().unwrap(), v["ms"].as_f64().unwrap(), line);
    let s = |k: &str| v[k].as_str().map(str::to_string);
    Line {
        client: s("client").unwrap(),
        method: s("method").unwrap(),
        target: s("target").unwrap(),
        version: s("version").unwrap(),
        status: match &v["status"] {
            serde_json::Value::Number(n) => n.to_string(),
            other => other.as_str().unwrap().to_string(),
        },
        bytes: v["bytes"].as_u64().unwrap(),
        ua: s("user_agent"),
        proto: s("proto").unwrap(),
        mac: s("mac"),
        id: s("id"),
        proof: s("proof"),
        tls: s("tls"),
        resumed: v["resumed"].as_bool(),
        cert: s("cert"),
        counts: v.get("rpcs").map(|_| {
            (
                v["rpcs"].as_u64().unwrap(),
                v["tasks"].as_u64().unwrap(),
                v["faults"].as_u64().unwrap(),
            )
        }),
    }
}

/// A line with the common fields of a plain request from 127.0.0.1.
fn expect(proto: &str, method: &str, target: &str, status: &str, bytes: u64) -> Line {
    Line {
        client: "127.0.0.1".into(),
        method: method.into(),
        target: target.into(),
        version: "HTTP/1.1".into(),
        status: status.into(),
        bytes,
        ua: None,
        proto: proto.into(),
        mac: None,
        id: None,
        proof: None,
        tls: None,
        resumed: None,
        cert: None,
        counts: None,
    }
}

const AUTH_MAC: &str = "000e08000002";
const ACT_MAC: &str = "000e08000021";

/// The subject of a certificate `phoneprov ca issue` made for `mac`, as
/// RFC 4514 text in the certificate's order.
fn issued_subject(mac: &str) -> String {
    format!("OU=CP-8841-3PCC, L=SN1, ST={mac}, CN={mac}")
}

/// A CWMP POST over curl with the cookie jar (empty body: the CPE's empty
/// POST): (status, body).
fn cwmp(url: &str, jar: &Path, body: &str) -> (u16, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.xml");
    std::fs::write(&file, body).unwrap();
    let data = format!("@{}", file.display());
    let jar = jar.to_str().unwrap();
    curl(&[
        "-m",
        "10",
        "-b",
        jar,
        "-c",
        jar,
        "-X",
        "POST",
        "-H",
        "Content-Type: text/xml",
        "--data-binary",
        &data,
        url,
    ])
}

const INFORM: &str = r#"<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Header><cwmp:ID soap:mustUnderstand="1">1</cwmp:ID></soap:Header><soap:Body><cwmp:Inform><DeviceId><Manufacturer>Cisco</Manufacturer><OUI>000E08</OUI><ProductClass>CP-8841-3PCC</ProductClass><SerialNumber>FCH2231A7QX</SerialNumber></DeviceId><Event><EventStruct><EventCode>1 BOOT</EventCode><CommandKey></CommandKey></EventStruct></Event><MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2026-12-01T00:00:00Z</CurrentTime><RetryCount>0</RetryCount><ParameterList><ParameterValueStruct><Name>Device.DeviceInfo.SoftwareVersion</Name><Value>11.3.7</Value></ParameterValueStruct><ParameterValueStruct><Name>Device.LAN.MACAddress</Name><Value>00:0e:08:ab:cd:ef</Value></ParameterValueStruct></ParameterList></cwmp:Inform></soap:Body></soap:Envelope>"#;

const SW: &str = "Device.DeviceInfo.SoftwareVersion";

fn gpv_response(id: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Header><cwmp:ID soap:mustUnderstand="1">{id}</cwmp:ID></soap:Header><soap:Body><cwmp:GetParameterValuesResponse><ParameterList><ParameterValueStruct><Name>{SW}</Name><Value>11.3.8</Value></ParameterValueStruct></ParameterList></cwmp:GetParameterValuesResponse></soap:Body></soap:Envelope>"#
    )
}

/// The text of the first element whose name ends in `:ID`.
fn cwmp_id(xml: &str) -> String {
    let start = xml.find(":ID").expect("a cwmp:ID header");
    let rest = &xml[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find('<').unwrap();
    rest[open..open + close].trim().to_string()
}

/// A self-signed certificate naming `mac` the way phones' do, from a CA
/// the server does not know.
fn foreign_cert(dir: &Path, mac: &str) -> (PathBuf, PathBuf) {
    let (pem, key) = (dir.join("foreign.pem"), dir.join("foreign.key"));
    let subj = format!("/OU=CP-8841-3PCC/L=SN9/ST={mac}/CN={mac}");
    let o = peer(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            &subj,
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            pem.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (pem, key)
}

/// Runs every kind of access (HTTP, TFTP, failed Digest, another device's
/// certificate, a foreign CA's, the phone's own, a CWMP session, an
/// activation query) against a server logging to `file` with `format`,
/// and checks each line, parsed by `parse`, field by field.
fn every_kind_of_line(format: &str, parse: fn(&str) -> Line) {
    let file = format!("access.{format}");
    let config = format!(
        r#"[log]
access = "{file}"
format = "{format}"

[[auth]]
macs = ["{AUTH_MAC}"]
users = {{ phone = "right password" }}
schemes = ["digest"]

[acs]
auth = "none"

[security]
preprovision_networks = ["127.0.0.2/32"]
"#
    );
    let s = start_with(Some(&config), &[], |d| {
        add_device(d, MAC, &["--model", "CP-8841-3PCC"]);
        add_device(d, AUTH_MAC, &[]);
        let dd = d.to_str().unwrap();
        let rule = "https://prov.example.com/$MA.xml";
        let o = phoneprov(&[
            "activation",
            "bind",
            "--mac",
            ACT_MAC,
            "--url",
            rule,
            "--data",
            dd,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    });
    let log = s.data().join(&file);
    let mut n = 0;
    let mut next = |what: &str| -> Line {
        n += 1;
        let l = lines(&log, n);
        assert!(l.len() <= n + 1, "{what}: more lines than accesses: {l:#?}");
        parse(&l[n - 1])
    };

    // 1. HTTP: the MAC from the path, nothing proved it.
    let ua = format!("Cisco-CP-8841-3PCC/11.0 ({MAC})");
    let (code, body) = curl(&["-A", &ua, &s.http_url(&format!("/{MAC}.cfg?x=1"))]);
    assert_eq!(code, 200);
    assert_eq!(
        next("http"),
        Line {
            ua: Some(ua.clone()),
            mac: Some(MAC.into()),
            id: Some("path".into()),
            ..expect(
                "http",
                "GET",
                &format!("/{MAC}.cfg?x=1"),
                "200",
                body.len() as u64
            )
        }
    );
    // A profile-shaped path without a MAC: the User-Agent names the phone.
    let (code, body) = curl(&["-A", &ua, &s.http_url("/firmware/none.bin")]);
    assert_eq!(code, 404);
    assert_eq!(
        next("firmware by UA"),
        Line {
            ua: Some(ua.clone()),
            mac: Some(MAC.into()),
            id: Some("ua".into()),
            ..expect(
                "http",
                "GET",
                "/firmware/none.bin",
                "404",
                body.len() as u64
            )
        }
    );

    // 2. TFTP with tftp-hpa's client, binary mode.
    let dir = tempfile::tempdir().unwrap();
    let tftp = s.tftp.unwrap();
    let o = Command::new("tftp")
        .current_dir(dir.path())
        .args(["-m", "binary", "127.0.0.1", &tftp.port().to_string()])
        .args(["-c", "get", &format!("{MAC}.cfg"), "got"])
        .output()
        .expect("tftp (tftp-hpa) is needed for this test: scripts/install-peers");
    let size = std::fs::metadata(dir.path().join("got"))
        .unwrap_or_else(|_| panic!("tftp got nothing: {o:?}"))
        .len();
    assert!(size > 0);
    assert_eq!(
        next("tftp"),
        Line {
            version: "octet".into(),
            mac: Some(MAC.into()),
            id: Some("path".into()),
            ..expect("tftp", "RRQ", &format!("{MAC}.cfg"), "ok", size)
        }
    );
    // A file that is not there: the refusal's line, nothing sent. (A
    // transfer's line is written when it ends, with the bytes the client
    // acknowledged: the whole file above.)
    let o = Command::new("tftp")
        .current_dir(dir.path())
        .args(["-m", "binary", "127.0.0.1", &tftp.port().to_string()])
        .args(["-c", "get", "missing.bin", "none"])
        .output()
        .expect("tftp (tftp-hpa) is needed for this test: scripts/install-peers");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Error code 1")
            || String::from_utf8_lossy(&o.stderr).contains("Error code 1"),
        "{o:?}"
    );
    assert_eq!(
        next("tftp not found"),
        Line {
            version: "octet".into(),
            ..expect("tftp", "RRQ", "missing.bin", "not-found", 0)
        }
    );

    // 3. A failed Digest: curl's first request (no credentials) and its
    // answer with the wrong password are both 401, nothing proved.
    let url = s.http_url(&format!("/{AUTH_MAC}.cfg"));
    let (code, body) = curl(&["--digest", "-u", "phone:wrong", "-A", "curl-digest", &url]);
    assert_eq!(code, 401);
    for leg in ["challenge", "wrong password"] {
        assert_eq!(
            next(leg),
            Line {
                ua: Some("curl-digest".into()),
                mac: Some(AUTH_MAC.into()),
                id: Some("path".into()),
                ..expect(
                    "http",
                    "GET",
                    &format!("/{AUTH_MAC}.cfg"),
                    "401",
                    body.len() as u64
                )
            },
            "{leg}"
        );
    }
    let warn = s.stderr_until("authentication failed", Duration::from_secs(10));
    let warn = warn
        .iter()
        .find(|l| l.contains("authentication failed"))
        .unwrap_or_else(|| panic!("no WARN for the failed Digest: {warn:?}"));
    assert!(warn.contains("WARN"), "{warn}");
    assert!(
        warn.contains("authentication failed: door=profile client=127.0.0.1 user=\"phone\""),
        "fail2ban's failregex `authentication failed: door=\\S+ client=<HOST> ` must match: {warn}"
    );

    // The right password: the challenge, then 200 proved by it.
    let (code, body) = curl(&[
        "--digest",
        "-u",
        "phone:right password",
        "-A",
        "curl-digest",
        &url,
    ]);
    assert_eq!(code, 200);
    let challenge = next("challenge");
    assert_eq!(challenge.status, "401");
    assert_eq!(challenge.proof, None);
    assert_eq!(
        next("right password"),
        Line {
            ua: Some("curl-digest".into()),
            mac: Some(AUTH_MAC.into()),
            id: Some("path".into()),
            proof: Some("password".into()),
            ..expect(
                "http",
                "GET",
                &format!("/{AUTH_MAC}.cfg"),
                "200",
                body.len() as u64
            )
        }
    );
    // From a pre-provisioning network: proved by the source address.
    let (code, body) = curl(&[
        "--interface",
        "127.0.0.2",
        "-A",
        "bootstrap",
        &s.http_url(&format!("/{MAC}.cfg")),
    ]);
    assert_eq!(code, 200);
    assert_eq!(
        next("preprovision"),
        Line {
            client: "127.0.0.2".into(),
            ua: Some("bootstrap".into()),
            mac: Some(MAC.into()),
            id: Some("path".into()),
            proof: Some("source".into()),
            ..expect(
                "http",
                "GET",
                &format!("/{MAC}.cfg"),
                "200",
                body.len() as u64
            )
        }
    );

    // 4. HTTPS with the phone's own certificate: proved by it.
    let certs = s.dir.path().join("certs");
    let (pem, key) = issue_cert(&s.data(), MAC, &certs);
    let cacert = s.ca_pem();
    let tls_args = |pem: &Path, key: &Path| {
        vec![
            "--tlsv1.3".to_string(),
            "--cacert".into(),
            cacert.to_str().unwrap().into(),
            "--cert".into(),
            pem.to_str().unwrap().into(),
            "--key".into(),
            key.to_str().unwrap().into(),
            "-A".into(),
            "phone-tls".into(),
        ]
    };
    let https = |args: Vec<String>, path: &str| {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        let url = s.https_url(path);
        a.push(&url);
        curl(&a)
    };
    let (code, body) = https(tls_args(&pem, &key), &format!("/{MAC}.cfg"));
    assert_eq!(code, 200);
    let tls = |l: Line, cert: Option<String>| Line {
        tls: Some("TLSv1.3".into()),
        resumed: Some(false),
        cert,
        ua: Some("phone-tls".into()),
        ..l
    };
    assert_eq!(
        next("https own cert"),
        tls(
            Line {
                mac: Some(MAC.into()),
                id: Some("path".into()),
                proof: Some("cert".into()),
                ..expect(
                    "https",
                    "GET",
                    &format!("/{MAC}.cfg"),
                    "200",
                    body.len() as u64
                )
            },
            Some(issued_subject(MAC))
        )
    );

    // 5. Another device's certificate: 403, the path's MAC, the
    // certificate's subject, nothing proved.
    let other = s.dir.path().join("other");
    let (opem, okey) = issue_cert(&s.data(), OTHER_MAC, &other);
    let (code, body) = https(tls_args(&opem, &okey), &format!("/{MAC}.cfg"));
    assert_eq!(code, 403);
    assert_eq!(
        next("https other cert"),
        tls(
            Line {
                mac: Some(MAC.into()),
                id: Some("path".into()),
                ..expect(
                    "https",
                    "GET",
                    &format!("/{MAC}.cfg"),
                    "403",
                    body.len() as u64
                )
            },
            Some(issued_subject(OTHER_MAC))
        )
    );

    // 6. A certificate from a foreign CA: the handshake is refused.
    let (fpem, fkey) = foreign_cert(s.dir.path(), MAC);
    let (code, _) = https(tls_args(&fpem, &fkey), &format!("/{MAC}.cfg"));
    assert_eq!(code, 0, "served with a foreign certificate");
    assert_eq!(
        next("foreign cert"),
        Line {
            version: "-".into(),
            ..expect("https", "-", "-", "tls-refused", 0)
        }
    );
    let warn = s.stderr_until("TLS client certificate refused", Duration::from_secs(10));
    let warn = warn
        .iter()
        .find(|l| l.contains("TLS client certificate refused"))
        .unwrap_or_else(|| panic!("no WARN for the foreign certificate: {warn:?}"));
    assert!(
        warn.contains("WARN") && warn.contains("client=127.0.0.1"),
        "{warn}"
    );

    // 7. A CWMP session: Inform, the queued task, its answer, 204.
    let auth = s.admin_auth();
    let task = format!(r#"{{"rpc":"GetParameterValues","names":["{SW}"]}}"#);
    let (code, _) = curl(&[
        "-m",
        "10",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &task,
        &s.admin_url(&format!("/api/v1/devices/{MAC}/tasks")),
    ]);
    assert_eq!(code, 201);
    // The admin listener's requests are logged too (no device).
    let admin = next("admin");
    assert_eq!(
        (admin.method.as_str(), admin.status.as_str(), admin.mac),
        ("POST", "201", None)
    );
    assert_eq!(admin.target, format!("/api/v1/devices/{MAC}/tasks"));
    let acs = format!("http://{}/", s.acs.unwrap());
    let jar = dir.path().join("jar");
    let (code, r1) = cwmp(&acs, &jar, INFORM);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&r1));
    let (code, r2) = cwmp(&acs, &jar, "");
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&r2));
    let id = cwmp_id(&String::from_utf8_lossy(&r2));
    let (code, r3) = cwmp(&acs, &jar, &gpv_response(&id));
    assert_eq!(code, 204);
    assert_eq!(
        next("cwmp"),
        Line {
            version: "-".into(),
            mac: Some(MAC.into()),
            id: Some("inform".into()),
            counts: Some((1, 1, 0)),
            ..expect(
                "cwmp",
                "CWMP",
                "000E08-CP-8841-3PCC-FCH2231A7QX",
                "done",
                (r1.len() + r2.len() + r3.len()) as u64
            )
        }
    );

    // 8. An activation query on the phones' port: the MAC from the query.
    let target = format!("/activation/v1/query?mac={ACT_MAC}&model=CP-8841-3PCC");
    let (code, body) = curl(&["-A", "phone-act", &s.http_url(&target)]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        next("activation"),
        Line {
            ua: Some("phone-act".into()),
            mac: Some(ACT_MAC.into()),
            id: Some("query".into()),
            ..expect("http", "GET", &target, "200", body.len() as u64)
        }
    );
    // One line per access, none more: a last request's line is the 16th.
    let (code, _) = curl(&[&s.http_url("/last.txt")]);
    assert_eq!(code, 404);
    let last = next("last");
    assert_eq!(last.target, "/last.txt");
    let all = lines(&log, 16);
    assert_eq!(all.len(), 16, "{all:#?}");
}

#[test]
fn every_kind_of_line_has_every_field_in_text() {
    every_kind_of_line("text", parse_text);
}

#[test]
fn every_kind_of_line_has_every_field_in_json() {
    every_kind_of_line("json", parse_json);
}

/// HTTPS resumption as openssl s_client sees it (`resumed`), and
/// logrotate: the file moved, SIGUSR1, the next line starts a new file.
#[test]
fn resumption_is_logged_and_the_log_is_reopened_on_sigusr1() {
    let s = start_with(Some("[log]\naccess = \"access.log\"\n"), &[], |d| {
        add_device(d, MAC, &[])
    });
    let log = s.data().join("access.log");
    let certs = s.dir.path().join("certs");
    let (pem, key) = issue_cert(&s.data(), MAC, &certs);
    let sess = s.dir.path().join("sess.pem");
    let sess = sess.to_str().unwrap();
    let first = https_get(&s, (&pem, &key), &["-tls1_3", "-sess_out", sess]);
    assert!(first.contains("HTTP/1.1 200"), "{first}");
    let again = https_get(&s, (&pem, &key), &["-tls1_3", "-sess_in", sess]);
    assert!(again.contains("Reused, TLSv1.3"), "{again}");
    let l = lines(&log, 2);
    for (line, resumed) in [(&l[0], false), (&l[1], true)] {
        let p = parse_text(line);
        assert_eq!(p.resumed, Some(resumed), "{line}");
        assert_eq!(p.tls.as_deref(), Some("TLSv1.3"), "{line}");
        assert_eq!(p.cert, Some(issued_subject(MAC)), "{line}");
        assert_eq!(p.proof.as_deref(), Some("cert"), "{line}");
        assert_eq!(p.ua.as_deref(), Some("s_client"), "{line}");
    }

    std::fs::rename(&log, s.dir.path().join("access.log.1")).unwrap();
    s.signal("USR1");
    // The reopen is queued behind the signal; poll until a request's line
    // lands in a new file.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (code, _) = curl(&[&s.http_url("/000e08999998.cfg")]);
        assert_eq!(code, 404);
        if log.exists() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not reopened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let l = lines(&log, 1);
    assert!(l[0].contains("/000e08999998.cfg"), "{}", l[0]);
    let old = std::fs::read_to_string(s.dir.path().join("access.log.1")).unwrap();
    assert!(old.lines().count() >= 2, "{old}");
}

#[test]
fn an_access_log_that_cannot_be_opened_stops_serve_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.toml");
    std::fs::write(&conf, "[log]\naccess = \"/nonexistent-dir/a.log\"\n").unwrap();
    let data = dir.path().join("data");
    let mut args = vec!["serve", "--data", data.to_str().unwrap()];
    args.extend(["--config", conf.to_str().unwrap(), "--http", "127.0.0.1:0"]);
    for p in ["--https", "--tftp", "--syslog", "--acs", "--admin"] {
        args.extend([p, "off"]);
    }
    let out = phoneprov(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent-dir/a.log"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_refused_client_certificate_is_an_access_line_and_a_warning() {
    let s = start_with(
        Some("[tls]\nclient_auth = \"required\"\n[log]\naccess = \"access.log\"\n"),
        &[],
        |d| add_device(d, MAC, &[]),
    );
    // No client certificate in required mode: the handshake is refused.
    let (code, _) = curl(&[
        "--cacert",
        s.ca_pem().to_str().unwrap(),
        &s.https_url("/x.cfg"),
    ]);
    assert_eq!(code, 0, "served without a client certificate");
    let l = lines(&s.data().join("access.log"), 1);
    assert!(
        l[0].starts_with("127.0.0.1 - - [") && l[0].contains("] \"- - -\" tls-refused 0 "),
        "{}",
        l[0]
    );
    assert!(l[0].contains("proto=https"), "{}", l[0]);
    let warn = s.stderr_until("TLS client certificate refused", Duration::from_secs(10));
    let line = warn
        .iter()
        .find(|l| l.contains("TLS client certificate refused"))
        .unwrap_or_else(|| panic!("no warning on stderr: {warn:?}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("client=127.0.0.1"), "{line}");
}

#[test]
fn a_bad_log_level_stops_serve_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.toml");
    std::fs::write(&conf, "[log]\nlevel = \"info=verbose\"\n").unwrap();
    let data = dir.path().join("data");
    let mut args = vec!["serve", "--data", data.to_str().unwrap()];
    args.extend(["--config", conf.to_str().unwrap()]);
    for p in [
        "--http", "--https", "--tftp", "--syslog", "--acs", "--admin",
    ] {
        args.extend([p, "off"]);
    }
    let out = std::process::Command::new(BIN)
        .args(&args)
        .env_remove("RUST_LOG")
        .env_remove("PHONEPROV_CONFIG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("[log] level \"info=verbose\""), "{err}");
    assert!(!data.exists(), "a refused serve created {}", data.display());
}
