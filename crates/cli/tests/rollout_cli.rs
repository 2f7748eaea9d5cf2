//! Issue 14 item 5b's Done-when case with the real programs: `phoneprov
//! serve` and 100 `phoneprov sim` phones (firmware 11.0.1) resyncing every
//! few seconds and logging to the server's syslog. A fifth of them refuse
//! the new image (their profile sets `Downgrade_Rev_Limit` above it, so
//! the phone engine's own check fails the upgrade and the phone logs
//! `Upgrade failed: …`, R-LOG). `phoneprov rollout start` rolls firmware
//! 12.0.1 out in waves of 10 %, 50 %, 100 %: the first wave (10 phones, 2
//! of them refusing) halts the rollout at 20 % > 10 %, naming both
//! phones and the phones' reason, while the 8 others upgrade and the rest
//! of the fleet never gets the target. Then `rollout resume` starts wave
//! 2, `rollout pause` holds it, and `rollout rollback` takes every
//! switched device back (the profile's Upgrade_Rule goes away).

mod serve_support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serve_support::*;

const KEY: &str = "rollout-test-key-0123456789";
const PHONES: u32 = 100;

fn mac(i: u32) -> String {
    format!("000e0800{:04x}", i + 1)
}

/// Phone `i` refuses the image (every fifth, starting with the first).
fn refuses(i: u32) -> bool {
    i.is_multiple_of(5)
}

struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rollout(data: &str, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut all = vec!["rollout"];
    all.extend_from_slice(args);
    all.extend(["--data", data]);
    let out = phoneprov(&all);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.code().unwrap_or(-1), v, format!("{stdout}{err}"))
}

/// Polls `rollout status ID --json` until `done` says so (deadline 120 s).
fn status_until(
    data: &str,
    id: &str,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, v, text) = rollout(data, &["status", id, "--json"]);
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "waited for {what}: {text}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn count(st: &serde_json::Value, wave: i64, result: &str) -> i64 {
    st["counts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["wave"] == wave && c["result"] == result)
        .map(|c| c["devices"].as_i64().unwrap())
        .sum()
}

#[test]
fn a_rollout_to_100_sim_phones_halts_after_its_first_wave_then_resumes_pauses_and_rolls_back() {
    let s = start_with(None, &[], |d| {
        let mut csv = String::from("mac,model,group,key,downgrade_limit\n");
        for i in 0..PHONES {
            let limit = if refuses(i) { "99" } else { "" };
            csv.push_str(&format!("{},CP-8841-3PCC,fleet,{KEY},{limit}\n", mac(i)));
        }
        import_csv(d, &csv);
        std::fs::create_dir_all(d.join("templates")).unwrap();
        std::fs::write(
            d.join("templates/default.xml.j2"),
            "<flat-profile>\n  <Resync_Periodic>3</Resync_Periodic>\n  <Resync_Random_Delay>1</Resync_Random_Delay>\n\
             {% if downgrade_limit %}  <Downgrade_Rev_Limit>{{ downgrade_limit }}</Downgrade_Rev_Limit>\n{% endif %}</flat-profile>\n",
        )
        .unwrap();
        std::fs::create_dir_all(d.join("firmware")).unwrap();
        std::fs::write(
            d.join("firmware/cp-12.0.1.loads"),
            "PHONEPROV-FIRMWARE 12.0.1\nimage",
        )
        .unwrap();
    });
    let data = s.data();
    let d = data.to_str().unwrap();
    let http = s.http.expect("http listener");
    let syslog = s.syslog.expect("syslog listener");
    let _sim = Sim(Command::new(BIN)
        .args([
            "sim",
            "--count",
            &PHONES.to_string(),
            "--mac-base",
            &mac(0),
            "--duration",
            "600",
        ])
        .args([
            "--param",
            &format!("Profile_Rule=[--key {KEY}] http://{http}/$MA.cfg"),
        ])
        .args([
            "--param",
            &format!("Syslog_Server=127.0.0.1:{}", syslog.port()),
        ])
        .args(["--param", "Resync_Random_Delay=1"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(s.dir.path().join("sim.err")).unwrap())
        .spawn()
        .expect("run phoneprov sim"));
    // Every phone has resynced once.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = query(
            &data,
            "SELECT count(*) FROM devices WHERE last_outcome = 'success'",
        );
        if n.trim() == PHONES.to_string() {
            break;
        }
        let err = std::fs::read_to_string(s.dir.path().join("sim.err")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "the sim phones did not all resync ({n}): {err}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // Bad input: one line, nothing started.
    let (code, _, text) = rollout(
        d,
        &[
            "start",
            "--all",
            "--fw-version",
            "12.0.1",
            "--file",
            "cp.loads",
            "--waves",
            "50,10",
        ],
    );
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("ending at 100") && text.contains("nothing started"),
        "{text}"
    );
    let (code, _, text) = rollout(d, &["status"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no rollout yet"), "{text}");

    let (code, r, text) = rollout(
        d,
        &[
            "start",
            "--group",
            "fleet",
            "--fw-version",
            "12.0.1",
            "--file",
            "cp-12.0.1.loads",
            "--waves",
            "10,50,100",
            "--rate",
            "0",
            "--wave-timeout",
            "2m",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{text}");
    let id = r["id"].as_i64().unwrap().to_string();
    assert_eq!(r["total"], PHONES, "{r}");

    // The gate: wave 1 halts with both refusing phones named, and the
    // phones' own reason.
    let st = status_until(d, &id, "the halt", |v| v["state"] == "halted");
    assert_eq!(st["wave"], 0, "halted in its first wave: {st:#}");
    let reason = st["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("wave 1 of 3: 2 of 10 devices failed (20 %"),
        "{reason}"
    );
    let failed: Vec<&str> = st["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["mac"].as_str().unwrap())
        .collect();
    assert_eq!(failed, [mac(0), mac(5)], "{st:#}");
    for f in st["failed"].as_array().unwrap() {
        assert!(
            f["reason"]
                .as_str()
                .unwrap()
                .contains("Downgrade_Rev_Limit"),
            "{f}"
        );
        assert!(reason.contains(f["mac"].as_str().unwrap()), "{reason}");
    }
    assert_eq!(
        count(&st, 1, "waiting") + count(&st, 2, "waiting"),
        90,
        "the rest never switched: {st:#}"
    );
    // The 8 others of wave 1 upgrade (their reports are still read).
    let st = status_until(d, &id, "wave 1's 8 upgrades", |v| {
        count(v, 0, "success") == 8
    });
    assert_eq!(st["state"], "halted");
    assert_eq!(
        query(
            &data,
            "SELECT count(DISTINCT mac) FROM events WHERE kind = 'syslog' \
             AND message LIKE '%Successful upgrade%'"
        )
        .trim(),
        "8",
        "only wave 1's healthy phones upgraded"
    );
    // The CLI's summary names the failures too; a halted status exits 1.
    let (code, _, text) = rollout(d, &["status", &id]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("halted") && text.contains(&format!("failed {} (wave 1)", mac(5))),
        "{text}"
    );

    // Resume: the operator accepts wave 1; wave 2 (40 phones, 8 refusing)
    // starts. Pause holds it.
    let (code, r, text) = rollout(d, &["resume", &id, "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        (r["state"].as_str(), r["wave"].as_i64()),
        (Some("running"), Some(1)),
        "{r}"
    );
    let (code, r, text) = rollout(d, &["pause", &id, "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(r["state"], "paused");
    let (code, _, text) = rollout(d, &["pause", &id]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("only a running rollout can be paused"),
        "{text}"
    );
    assert!(s.device_json(&mac(10))["vars"]["firmware_file"] == "cp-12.0.1.loads");

    // Roll back: the 50 switched devices lose the target.
    let (code, r, text) = rollout(d, &["rollback", &id, "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        (r["state"].as_str(), r["rolled_back_devices"].as_u64()),
        (Some("rolled-back"), Some(50)),
        "{r}"
    );
    for i in [0, 1, 10, 49] {
        let v = s.device_json(&mac(i));
        assert!(v["vars"].get("firmware_file").is_none(), "{v}");
    }
    // The profile the server hands phone 1 (fetched with curl, decrypted
    // with openssl) carried the image's Upgrade_Rule before; now it has
    // none (within the device cache's 2 s).
    let url = format!("http://{http}/{}.cfg", mac(1));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = curl(&[&url]);
        assert_eq!(code, 200);
        let xml = openssl_decrypt(&body, KEY);
        if !xml.contains("Upgrade_Rule") {
            break;
        }
        assert!(xml.contains("/firmware/cp-12.0.1.loads"), "{xml}");
        assert!(
            Instant::now() < deadline,
            "the rolled-back profile still names the image: {xml}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
