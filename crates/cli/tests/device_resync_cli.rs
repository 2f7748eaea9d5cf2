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

/// Runs `phoneprov ARGS --data DIR`.
fn run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_phoneprov"))
        .args(args)
        .arg("--data")
        .arg(dir)
        .env_remove("PHONEPROV_DATA")
        .output()
        .unwrap()
}

/// Issue 14 item 4: `device resync --group G --rate N --json` pushes to
/// every phone of the group at its `push_url`, skips one never seen, and
/// sums up; `device task --group G JSON` queues for each; bad selections
/// are one line, exit 2, nothing sent.
#[test]
fn fleet_wide_resync_and_task_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (phone, seen) = fake_phone(200);
    let push = format!("push_url=http://{phone}/{{mac}}/");
    for mac in ["000e08000001", "000e08000002", "000e08000003"] {
        let out = run(d, &["device", "add", mac, "--group", "g", "--var", &push]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(run(d, &["device", "add", "000e08000004", "--group", "g"])
        .status
        .success());
    assert!(run(
        d,
        &[
            "device",
            "add",
            "000e08000005",
            "--group",
            "other",
            "--var",
            &push
        ]
    )
    .status
    .success());

    let out = run(
        d,
        &[
            "device", "resync", "--group", "g", "--rate", "100/s", "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(job["state"], "done");
    assert_eq!(
        (
            job["total"].as_i64(),
            job["succeeded"].as_i64(),
            job["failed"].as_i64(),
            job["skipped"].as_i64()
        ),
        (Some(4), Some(3), Some(0), Some(1)),
        "{job}"
    );
    let mut got: Vec<String> = (0..3).map(|_| seen.recv().unwrap()).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "GET /000e08000001/admin/resync ",
            "GET /000e08000002/admin/resync ",
            "GET /000e08000003/admin/resync ",
        ]
    );
    assert!(
        seen.try_recv().is_err(),
        "the other group's phone was not asked"
    );

    let out = run(
        d,
        &[
            "device",
            "task",
            "--group",
            "g",
            r#"{"rpc":"GetRPCMethods"}"#,
            "--max-attempts",
            "2",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("4 devices, 4 succeeded, 0 failed, 0 skipped"),
        "{text}"
    );
    let s = phoneprov_store::Store::open_existing(d).unwrap();
    use phoneprov_store::AcsRepo;
    let t = s.tasks("000e08000004", 5).unwrap();
    assert_eq!((t.len(), t[0].max_attempts), (1, 2));
    assert!(s.tasks("000e08000005", 5).unwrap().is_empty());

    for (args, needle) in [
        (
            vec!["device", "resync"],
            "give the device's MAC, or a selection",
        ),
        (
            vec!["device", "resync", "000e08000001", "--group", "g"],
            "not both",
        ),
        (
            vec!["device", "resync", "--group", "g", "--rate", "0"],
            "rate 0",
        ),
        (
            vec!["device", "resync", "--group", "g", "--rate", "fast"],
            "--rate \"fast\"",
        ),
        (
            vec!["device", "resync", "--group", "g", "--phone", "10.0.0.1"],
            "for one device",
        ),
        (vec!["device", "resync", "--macs", "zz"], "zz"),
        (vec!["device", "resync", "--outcome", "great"], "outcome"),
        (
            vec!["device", "task", r#"{"rpc":"Reboot"}"#],
            "give MAC JSON",
        ),
        (
            vec!["device", "task", "--group", "g", r#"{"rpc":"Explode"}"#],
            "bad task JSON",
        ),
    ] {
        let out = run(d, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: want {needle:?} in {err}");
    }
    assert!(seen.try_recv().is_err(), "bad input sent nothing");
    let jobs = s.bulk_jobs(10).unwrap();
    assert_eq!(jobs.len(), 2, "bad input started no job");
}
