//! `phoneprov device resync` against a fake phone (std TcpListener thread,
//! no extra dev-dependencies): GET with the rule, --execute POST, the exit
//! codes 0 / 1 (phone refused) / 2 (bad MAC, no inventory). R-RULE-6.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;

/// Answers each connection with `status`, sending "METHOD TARGET BODY" on `tx`.
fn fake_phone(status: u16) -> (String, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let mut conn = conn.unwrap();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let mut len = 0;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let mut parts = line.split_whitespace();
            let (m, t) = (parts.next().unwrap(), parts.next().unwrap());
            tx.send(format!("{m} {t} {}", String::from_utf8_lossy(&body)))
                .unwrap();
            write!(
                conn,
                "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            )
            .unwrap();
        }
    });
    (addr, rx)
}

#[test]
fn r_rule_6_device_resync_cli() {
    let bin = env!("CARGO_BIN_EXE_phoneprov");
    let dir = tempfile::tempdir().unwrap();
    let (phone, seen) = fake_phone(200);
    let out = Command::new(bin)
        .args([
            "device",
            "resync",
            "00:0e:08:ab:cd:ef",
            "--phone",
            &phone,
            "--rule",
            "[--key k] http://p/$MA.xml",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("answered HTTP 200"));
    assert_eq!(
        seen.recv().unwrap(),
        "GET /admin/resync?%5B--key%20k%5D%20http://p/$MA.xml "
    );

    let out = Command::new(bin)
        .args([
            "device",
            "resync",
            "000e08abcdef",
            "--execute",
            "--phone",
            &phone,
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        seen.recv().unwrap(),
        "POST /CGI/Execute <CP-xxxx-3PCCExecute><ExecuteItem URL=\"Resync\"/></CP-xxxx-3PCCExecute>"
    );

    let (refusing, _seen) = fake_phone(403);
    let out = Command::new(bin)
        .args([
            "device",
            "resync",
            "000e08abcdef",
            "--phone",
            &refusing,
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 403"));

    for (args, needle) in [
        (vec!["zz"], "bad MAC"),
        (vec!["000e08abcdef"], "no device inventory"),
    ] {
        let out = Command::new(bin)
            .args(["device", "resync"])
            .args(&args)
            .arg("--data")
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// Issue 13: `device resync` reads the phone's address from, and records
/// the push in, the inventory on PostgreSQL (`--database-url`), not a
/// SQLite file in `--data`.
#[test]
fn r_rule_6_device_resync_on_postgres() {
    let bin = env!("CARGO_BIN_EXE_phoneprov");
    let url = phoneprov_testpeers::pg().fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(bin)
            .args(args)
            .args(["--database-url", &url, "--data"])
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(run(&["db", "migrate"]));
    ok(run(&["device", "add", "000e08abcdef"]));
    // Never seen: the inventory on PostgreSQL says it has no address (a
    // SQLite read would have said there is no inventory at all).
    let out = run(&["device", "resync", "000e08abcdef"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no known IP address"), "{err}");
    let out = run(&["device", "resync", "000e08000001"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no device 000e08000001"), "{err}");
    // With the phone's address: pushed and recorded in its timeline.
    let (phone, seen) = fake_phone(200);
    let said = ok(run(&[
        "device",
        "resync",
        "000e08abcdef",
        "--phone",
        &phone,
    ]));
    assert!(said.contains("answered HTTP 200"), "{said}");
    assert_eq!(seen.recv().unwrap(), "GET /admin/resync ");
    let events = ok(run(&["device", "events", "000e08abcdef"]));
    assert!(events.contains("push resync sent to"), "{events}");
    assert!(
        !dir.path().join("phoneprov.db").exists(),
        "nothing went to a SQLite file"
    );
}
