//! Issue 14 item 4: a bulk job whose runner died (the process killed with
//! SIGKILL mid-job) does not stay `running` forever: `phoneprov serve`
//! marks it `interrupted` once it has written no progress for
//! `phoneprov_api::bulk::STALE_AFTER` (its sweeper runs at start and every
//! few seconds).

mod serve_support;

use std::time::{Duration, Instant};

use serve_support::*;

#[test]
fn a_job_left_running_by_a_killed_runner_shows_interrupted_after_restart() {
    let s = start_with(None, &[], |data| {
        let d = data.to_str().unwrap();
        let mut csv = String::from("mac,group\n");
        for i in 0..100 {
            csv.push_str(&format!("000e080000{i:02x},g\n"));
        }
        std::fs::create_dir_all(data).unwrap();
        let file = data.join("devices.csv");
        std::fs::write(&file, csv).unwrap();
        let out = phoneprov(&["device", "import", file.to_str().unwrap(), "--data", d]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // 100 devices at one a second: the job runs for 100 s; kill it
        // once its row exists.
        let mut job = std::process::Command::new(BIN)
            .args([
                "device", "resync", "--group", "g", "--rate", "1", "--data", d,
            ])
            .env_remove("PHONEPROV_DATA")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while query(
            data,
            "SELECT count(*) FROM bulk_jobs WHERE state = 'running'",
        )
        .trim()
            != "1"
        {
            assert!(Instant::now() < deadline, "the CLI job never started");
            std::thread::sleep(Duration::from_millis(100));
        }
        job.kill().unwrap();
        job.wait().unwrap();
    });
    let auth = s.admin_auth();
    let url = s.admin_url("/api/v1/bulk-jobs/1");
    let state = |_: ()| {
        let (code, body) = curl(&["-H", &auth, &url]);
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
        let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
        (j["state"].as_str().unwrap().to_string(), j)
    };
    let deadline = Instant::now() + phoneprov_api::bulk::STALE_AFTER + Duration::from_secs(60);
    loop {
        let (st, j) = state(());
        if st == "interrupted" {
            assert!(j["finished_ms"].as_i64().is_some(), "{j}");
            assert!(j["handled"].as_i64().unwrap_or(0) < 100, "{j}");
            break;
        }
        assert_eq!(st, "running", "{j}");
        assert!(Instant::now() < deadline, "still running: {j}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let lines = s.stderr_until("marked interrupted", Duration::from_secs(10));
    assert!(lines.iter().any(|l| l.contains("jobs=1")), "{lines:?}");
}
