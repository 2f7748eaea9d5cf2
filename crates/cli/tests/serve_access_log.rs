//! The access log of `phoneprov serve` (issue 17 item 4, `[log] access`,
//! `[log] format`): one line per HTTP request (curl), per HTTPS request
//! with a client certificate (openssl s_client, a full then a resumed
//! session) and per TFTP read (curl's TFTP client), in text and JSON, and
//! reopened on SIGUSR1 after a logrotate-style move.

mod serve_support;

use std::io::Write as _;
use std::path::Path;
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

#[test]
fn text_access_log_has_a_line_per_request_and_transfer() {
    let s = start_with(Some("[log]\naccess = \"access.log\"\n"), &[], |d| {
        add_device(d, MAC, &[])
    });
    let log = s.data().join("access.log");
    let ua = format!("Cisco-CP-8841-3PCC/11.0 ({MAC})");
    let (code, body) = curl(&["-A", &ua, &s.http_url(&format!("/{MAC}.cfg?x=1"))]);
    assert_eq!(code, 200);
    let l = lines(&log, 1);
    let line = &l[0];
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        line.contains(&format!(
            "] \"GET /{MAC}.cfg?x=1 HTTP/1.1\" 200 {} \"-\" \"{ua}\" proto=http ms=",
            body.len()
        )),
        "{line}"
    );
    // The time is RFC 3339 UTC with milliseconds.
    let time = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
    assert_eq!(time.len(), "2026-12-06T21:00:00.000Z".len(), "{time}");
    assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    assert!(!line.contains("tls="), "{line}");

    let (code, _) = curl(&[&s.http_url("/000e08999999.cfg")]);
    assert_eq!(code, 404);
    let l = lines(&log, 2);
    assert!(
        l[1].contains("\"GET /000e08999999.cfg HTTP/1.1\" 404 "),
        "{}",
        l[1]
    );

    // HTTPS with the phone's certificate: TLS version, resumption, MAC.
    let certs = s.dir.path().join("certs");
    let (pem, key) = issue_cert(&s.data(), MAC, &certs);
    let sess = s.dir.path().join("sess.pem");
    let sess = sess.to_str().unwrap();
    let first = https_get(&s, (&pem, &key), &["-tls1_3", "-sess_out", sess]);
    assert!(first.contains("HTTP/1.1 200"), "{first}");
    let again = https_get(&s, (&pem, &key), &["-tls1_3", "-sess_in", sess]);
    assert!(again.contains("Reused, TLSv1.3"), "{again}");
    let l = lines(&log, 4);
    for (line, resumed) in [(&l[2], "no"), (&l[3], "yes")] {
        assert!(
            line.contains(&format!("\"GET /{MAC}.cfg HTTP/1.1\" 200 ")),
            "{line}"
        );
        assert!(
            line.ends_with(&format!(
                "\"s_client\" proto=https ms={} tls=TLSv1.3 resumed={resumed} cert_mac={MAC}",
                line.split(" ms=")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
            )),
            "{line}"
        );
    }

    // TFTP: the file name, outcome and size.
    let tftp = format!("tftp://{}/{MAC}.cfg", s.tftp.unwrap());
    let got = s.dir.path().join("got");
    let o = peer(
        "curl",
        &["-s", "--max-time", "10", "-o", got.to_str().unwrap(), &tftp],
    );
    assert!(o.status.success());
    let size = std::fs::metadata(&got).unwrap().len();
    let l = lines(&log, 5);
    assert!(
        l[4].contains(&format!(
            "\"RRQ {MAC}.cfg octet\" ok {size} \"-\" \"-\" proto=tftp"
        )),
        "{}",
        l[4]
    );

    // logrotate: move the file, SIGUSR1, the next line starts a new file.
    std::fs::rename(&log, s.dir.path().join("access.log.1")).unwrap();
    s.signal("USR1");
    std::thread::sleep(Duration::from_millis(200));
    let (code, _) = curl(&[&s.http_url("/000e08999998.cfg")]);
    assert_eq!(code, 404);
    let l = lines(&log, 1);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].contains("/000e08999998.cfg"), "{}", l[0]);
}

#[test]
fn json_access_log_lines_parse() {
    let s = start_with(
        Some("[log]\naccess = \"access.json\"\nformat = \"json\"\n"),
        &[],
        |d| add_device(d, MAC, &[]),
    );
    let (code, body) = curl(&["-A", "phone/1", &s.http_url(&format!("/{MAC}.cfg"))]);
    assert_eq!(code, 200);
    let l = lines(&s.data().join("access.json"), 1);
    let v: serde_json::Value = serde_json::from_str(&l[0]).unwrap();
    assert_eq!(v["proto"], "http");
    assert_eq!(v["client"], "127.0.0.1");
    assert_eq!(v["method"], "GET");
    assert_eq!(v["target"], format!("/{MAC}.cfg"));
    assert_eq!(v["status"], 200);
    assert_eq!(v["bytes"], body.len() as u64);
    assert_eq!(v["user_agent"], "phone/1");
    assert!(v["ms"].as_f64().unwrap() >= 0.0);
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
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
