//! `phoneprov device ...` end to end: the real binary on a temp data dir.

use std::path::Path;
use std::process::{Command, Output};

use phoneprov_store::{Mac, Store};

const BIN: &str = env!("CARGO_BIN_EXE_phoneprov");

/// Runs `phoneprov device ARGS --data DIR`.
fn device(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("device")
        .args(args)
        .arg("--data")
        .arg(dir)
        .env_remove("PHONEPROV_DATA")
        .output()
        .expect("run phoneprov")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[track_caller]
fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstderr: {}",
        o.status,
        stderr(&o)
    );
    stdout(&o)
}

/// Asserts failure with exactly one stderr line containing `want`.
#[track_caller]
fn fails_one_line(o: Output, want: &str) {
    assert!(!o.status.success(), "should fail; stdout: {}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(want), "want {want:?} in: {err}");
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn add_show_list_rm_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let out = ok(device(
        &d,
        &[
            "add",
            "00:0E:08:AB:CD:EF",
            "--model",
            "CP-8841-3PCC",
            "--serial",
            "SN9",
            "--group",
            "sales",
            "--var",
            "user=1001",
            "--var",
            "display name=Alice B",
        ],
    ));
    assert_eq!(out.trim(), "added 000e08abcdef");
    ok(device(&d, &["add", "000e08000002", "--group", "support"]));
    fails_one_line(device(&d, &["add", "00-0e-08-ab-cd-ef"]), "already exists");

    let shown = json(&ok(device(&d, &["show", "000E08ABCDEF", "--json"])));
    assert_eq!(shown["mac"], "000e08abcdef");
    assert_eq!(shown["model"], "CP-8841-3PCC");
    assert_eq!(shown["serial"], "SN9");
    assert_eq!(shown["vars"]["display name"], "Alice B");
    let key = shown["key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 32);
    let text = ok(device(&d, &["show", "000e08abcdef"]));
    assert!(text.contains(&format!("key:          {key}")), "{text}");
    assert!(text.contains("  user = 1001"), "{text}");

    let list = json(&ok(device(&d, &["list", "--json"])));
    let macs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["mac"].as_str().unwrap())
        .collect();
    assert_eq!(macs, ["000e08000002", "000e08abcdef"]);
    assert!(list[0].get("key").is_none(), "list never prints keys");
    let sales = json(&ok(device(&d, &["list", "--json", "--group", "sales"])));
    assert_eq!(sales.as_array().unwrap().len(), 1);
    let table = ok(device(&d, &["list"]));
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(
        table
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("000e08abcdef  CP-8841-3PCC"),
        "{table}"
    );
    assert!(!table.contains(&key));

    assert_eq!(
        ok(device(&d, &["rm", "000e08abcdef"])).trim(),
        "removed 000e08abcdef"
    );
    fails_one_line(
        device(&d, &["rm", "000e08abcdef"]),
        "no device 000e08abcdef",
    );
    fails_one_line(
        device(&d, &["show", "000e08abcdef"]),
        "no device 000e08abcdef",
    );
    let empty = json(&ok(device(&d, &["list", "--json", "--group", "sales"])));
    assert_eq!(empty, serde_json::json!([]));
}

#[test]
fn bad_input_is_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    fails_one_line(
        device(&d, &["add", "00:0e:08:ab:cd"]),
        "bad MAC \"00:0e:08:ab:cd\"",
    );
    fails_one_line(
        device(&d, &["add", "000e08abcdef", "--var", "novalue"]),
        "NAME=VALUE",
    );
    // Read-only commands do not invent an inventory for a mistyped --data.
    fails_one_line(device(&d, &["list"]), "no device inventory");
    assert!(!d.join("phoneprov.db").exists());
    // Unwritable data dir (below a regular file: fails even as root).
    let file = tmp.path().join("f");
    std::fs::write(&file, "x").unwrap();
    fails_one_line(
        device(&file.join("d"), &["add", "000e08abcdef"]),
        "cannot create data directory",
    );
    fails_one_line(
        device(
            &d,
            &["import", tmp.path().join("missing.csv").to_str().unwrap()],
        ),
        "cannot open",
    );
}

#[test]
fn import_good_bad_skip_bad_and_reimport_keeps_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let good = tmp.path().join("good.csv");
    std::fs::write(
        &good,
        "mac,serial,model,group,user,password\n000e08000001,SN1,CP-8841-3PCC,sales,1001,pw1\n00:0e:08:00:00:02,SN2,CP-6841-3PCC,sales,1002,pw2\n",
    )
    .unwrap();
    let out = ok(device(&d, &["import", good.to_str().unwrap()]));
    assert!(
        out.starts_with("imported 2 devices (2 new, 0 updated) in "),
        "{out}"
    );
    let key1 = json(&ok(device(&d, &["show", "000e08000001", "--json"])))["key"].clone();

    let bad = tmp.path().join("bad.csv");
    let mut bytes = b"mac,model,user\n000e08000001,CP-7841-3PCC,2001\nnot-a-mac,X,1\n000e08000004,X\n000e08000001,X,3\n".to_vec();
    bytes.extend_from_slice(b"000e08000006,\xff,6\n000e08000007,Y,7\n");
    std::fs::write(&bad, &bytes).unwrap();
    let o = device(&d, &["import", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 5, "four bad rows and the verdict: {err}");
    let name = bad.display().to_string();
    assert!(
        lines[0].starts_with(&format!("phoneprov: {name}:3: bad MAC")),
        "{err}"
    );
    assert!(
        lines[1].starts_with(&format!("phoneprov: {name}:4: has 2 field(s)")),
        "{err}"
    );
    assert!(
        lines[2].contains(":5: MAC 000e08000001 appears again (first on line 2)"),
        "{err}"
    );
    assert!(
        lines[3].contains(":6: column `model` is not valid UTF-8"),
        "{err}"
    );
    assert!(
        lines[4].contains("4 bad row(s), nothing imported") && lines[4].contains("--skip-bad"),
        "{err}"
    );
    // Nothing changed.
    let list = json(&ok(device(&d, &["list", "--json"])));
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["model"], "CP-8841-3PCC");

    let o = device(&d, &["import", "--skip-bad", bad.to_str().unwrap()]);
    let out = ok(o);
    assert!(
        out.starts_with("imported 2 devices (1 new, 1 updated)")
            && out.contains("skipped 4 bad row(s)"),
        "{out}"
    );
    let one = json(&ok(device(&d, &["show", "000e08000001", "--json"])));
    assert_eq!(one["model"], "CP-7841-3PCC");
    assert_eq!(one["vars"]["user"], "2001");
    assert_eq!(one["key"], key1, "re-import keeps the key");
    assert_eq!(
        json(&ok(device(&d, &["list", "--json"])))
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // A header without a `mac` column.
    let nomac = tmp.path().join("nomac.csv");
    std::fs::write(&nomac, "serial,model\nSN,X\n").unwrap();
    fails_one_line(
        device(&d, &["import", nomac.to_str().unwrap()]),
        "line 1: no `mac` column",
    );
}

#[test]
fn events_and_status_from_the_status_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let out = ok(device(
        &d,
        &["stress-status", "--count", "4", "--mac", "000e08abcdef"],
    ));
    assert_eq!(out.lines().collect::<Vec<_>>(), ["1", "2", "3", "4"]);
    let ev = json(&ok(device(
        &d,
        &["events", "000e08abcdef", "--json", "--limit", "2"],
    )));
    let msgs: Vec<&str> = ev
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs, ["seq 3", "seq 4"]);
    assert_eq!(ev[0]["kind"], "report");
    assert_eq!(ev[0]["outcome"], "success");
    let text = ok(device(&d, &["events", "000e08abcdef"]));
    assert_eq!(text.lines().count(), 4);
    assert!(text.lines().last().unwrap().ends_with("seq 4"), "{text}");
    let shown = json(&ok(device(&d, &["show", "000e08abcdef", "--json"])));
    assert_eq!(shown["status"]["firmware"], "seq-4");
    assert_eq!(shown["status"]["ip"], "127.0.0.1");
    assert_eq!(shown["status"]["last_outcome"], "success");
    fails_one_line(
        device(&d, &["events", "000e08000000"]),
        "no device 000e08000000",
    );
}

/// Every command works while another process ("the server") has the
/// database open, here with a read cursor held open across the commands.
#[test]
fn commands_work_while_the_database_is_open_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    ok(device(&d, &["add", "000e08000001"]));
    ok(device(&d, &["add", "000e08000002"]));
    let csv = tmp.path().join("more.csv");
    std::fs::write(&csv, "mac\n000e08000003\n000e08000004\n").unwrap();
    let mut server = Store::open(&d).unwrap();
    let reader = Store::open(&d).unwrap();
    let mut seen = 0;
    reader
        .for_each_device(None, |_dev| {
            seen += 1;
            if seen == 1 {
                ok(device(&d, &["import", csv.to_str().unwrap()]));
                ok(device(&d, &["add", "000e08000005"]));
                ok(device(&d, &["rm", "000e08000002"]));
                ok(device(&d, &["list"]));
            }
            Ok::<_, phoneprov_store::StoreError>(())
        })
        .unwrap();
    server
        .record_status(
            Mac::parse("000e08000003").unwrap(),
            "192.0.2.1".parse().unwrap(),
            Some("12.0"),
            None,
        )
        .unwrap();
    let list = json(&ok(device(&d, &["list", "--json"])));
    let macs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["mac"].as_str().unwrap())
        .collect();
    assert_eq!(
        macs,
        [
            "000e08000001",
            "000e08000003",
            "000e08000004",
            "000e08000005"
        ]
    );
    assert_eq!(list[1]["status"]["firmware"], "12.0");
}

#[test]
fn import_from_standard_input() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let mut child = Command::new(BIN)
        .args(["device", "import", "-", "--data"])
        .arg(&d)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"mac,model\n000e08000001,CP-8841-3PCC\nbad,x\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).starts_with("phoneprov: -:3: bad MAC"),
        "{}",
        stderr(&o)
    );
    let store = Store::open_existing(&d).unwrap();
    assert_eq!(store.count_devices(None).unwrap(), 0, "nothing imported");
}

/// Issue 14 item 4: `device set` (checked, all or nothing), `export` with
/// and without keys and its import into another data directory with the
/// same keys, `pending`/`approve`/`reject`.
#[test]
fn set_export_import_with_keys_and_approval() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    ok(device(&d, &["add", "000e08000001", "--var", "user=1001"]));
    ok(device(&d, &["add", "000e08000002", "--group", "sales"]));

    let out = ok(device(
        &d,
        &[
            "set",
            "00:0e:08:00:00:01",
            "display_name=Front desk",
            "user=",
            "group=ops",
        ],
    ));
    assert_eq!(out, "set 3 on 000e08000001\n");
    for (pair, want) in [
        ("bad name=x", "bad variable name"),
        ("noequals", "write NAME=VALUE"),
        ("key=abcdefgh", "cannot be set"),
    ] {
        fails_one_line(
            device(&d, &["set", "000e08000001", "display_name=changed", pair]),
            want,
        );
    }
    fails_one_line(device(&d, &["set", "000e0800000g", "a=b"]), "MAC");
    fails_one_line(
        device(&d, &["set", "000e08000009", "a=b"]),
        "no device 000e08000009",
    );
    let shown = json(&ok(device(&d, &["show", "000e08000001", "--json"])));
    assert_eq!(
        shown["vars"],
        serde_json::json!({"display_name": "Front desk"})
    );
    assert_eq!(shown["group"], "ops");

    // Without keys: no key column, and stderr says how to get them.
    let o = device(&d, &["export"]);
    let csv = ok(o.clone());
    assert_eq!(
        csv,
        "mac,serial,model,group,display_name\n000e08000001,,,ops,Front desk\n000e08000002,,,sales,\n"
    );
    assert!(stderr(&o).contains("no keys"), "{}", stderr(&o));
    // With keys, to a file: stderr warns, the file is 0600.
    let file = tmp.path().join("export.csv");
    let o = device(&d, &["export", "--with-keys", "-o", file.to_str().unwrap()]);
    assert!(
        stderr(&o).contains("WITH their secret keys"),
        "{}",
        stderr(&o)
    );
    ok(o);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let d2 = tmp.path().join("other");
    ok(device(&d2, &["import", file.to_str().unwrap()]));
    for mac in ["000e08000001", "000e08000002"] {
        let a = json(&ok(device(&d, &["show", mac, "--json"])));
        let b = json(&ok(device(&d2, &["show", mac, "--json"])));
        assert_eq!(a["key"], b["key"], "{mac} keeps its key");
        assert_eq!(a["vars"], b["vars"]);
    }
    let j = json(&ok(device(
        &d,
        &["export", "--format", "json", "--group", "sales"],
    )));
    assert_eq!(j.as_array().unwrap().len(), 1);
    assert!(j[0].get("key").is_none());
    fails_one_line(device(&d, &["export", "--format", "xml"]), "csv or json");

    // Approval: a device the server registered is pending.
    ok(device(
        &d,
        &["set", "000e08000002", "phoneprov_status=pending"],
    ));
    let pending = ok(device(&d, &["pending"]));
    assert!(
        pending.lines().nth(1).unwrap().starts_with("000e08000002"),
        "{pending}"
    );
    assert_eq!(pending.lines().count(), 2);
    fails_one_line(
        device(&d, &["approve", "000e08000001"]),
        "not awaiting approval",
    );
    assert_eq!(
        ok(device(&d, &["reject", "000e08000002"])),
        "rejected 000e08000002\n"
    );
    assert_eq!(
        json(&ok(device(&d, &["pending", "--json"]))),
        serde_json::json!([])
    );
    assert_eq!(
        ok(device(&d, &["approve", "000e08000002"])),
        "approved 000e08000002\n"
    );
    let shown = json(&ok(device(&d, &["show", "000e08000002", "--json"])));
    assert!(shown["vars"].get("phoneprov_status").is_none());
}

/// Issue 14 item 4: `device task` queues a task with its own limits (the
/// flags win over the JSON's keys); bad input is one line and queues
/// nothing; the expired task stops at the next claim and says why.
#[test]
fn task_with_expiry_and_attempts() {
    use phoneprov_store::AcsRepo;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    ok(device(
        &d,
        &["add", "000e08aa0001", "--model", "CP-8841-3PCC"],
    ));
    let gpv = r#"{"rpc":"GetParameterValues","names":["Device.DeviceInfo."],"max_attempts":9}"#;
    let t = json(&ok(device(
        &d,
        &[
            "task",
            "000e08aa0001",
            gpv,
            "--expires-after",
            "1h",
            "--max-attempts",
            "3",
        ],
    )));
    assert_eq!(t["state"], "queued");
    assert_eq!(t["max_attempts"], 3, "the flag wins: {t}");
    assert!(t["expires_ms"].as_i64().unwrap() > phoneprov_store::now_ms() + 3_500_000);
    let t = json(&ok(device(&d, &["task", "000e08aa0001", gpv])));
    assert_eq!(t["max_attempts"], 9, "the JSON's own key: {t}");
    for (args, want) in [
        (
            vec!["task", "000e08aa0001", r#"{"rpc":"Explode"}"#],
            "bad task JSON",
        ),
        (
            vec![
                "task",
                "000e08aa0001",
                r#"{"rpc":"Reboot"}"#,
                "--expires-after",
                "soon",
            ],
            "expires_after \"soon\"",
        ),
        (
            vec![
                "task",
                "000e08aa0001",
                r#"{"rpc":"Reboot"}"#,
                "--max-attempts",
                "0",
            ],
            "max_attempts 0",
        ),
        (
            vec!["task", "000e08aa0002", r#"{"rpc":"Reboot"}"#],
            "000e08aa0002",
        ),
        (vec!["task", "zz", r#"{"rpc":"Reboot"}"#], "zz"),
    ] {
        fails_one_line(device(&d, &args), want);
    }
    let mut s = Store::open_existing(&d).unwrap();
    assert_eq!(
        s.tasks("000e08aa0001", 10).unwrap().len(),
        2,
        "bad input queued nothing"
    );
    let t = json(&ok(device(
        &d,
        &[
            "task",
            "000e08aa0001",
            r#"{"rpc":"Reboot"}"#,
            "--expires-after",
            "1ms",
        ],
    )));
    let deadline = t["expires_ms"].as_i64().unwrap();
    while phoneprov_store::now_ms() <= deadline {
        std::thread::yield_now();
    }
    let claimed = s.claim_tasks("000e08aa0001", 10).unwrap();
    assert_eq!(claimed.len(), 2, "the two GPVs are sent");
    let row = s
        .task("000e08aa0001", t["id"].as_i64().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(row.state, "expired");
    assert!(row.result.unwrap().contains("expires_after"));
}
