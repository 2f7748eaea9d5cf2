//! `phoneprov sim --activation URL` end to end (SPEC §11 R-ACT): the real
//! `phoneprov serve` (its activation service, bindings and codes made with
//! `phoneprov activation bind|code` in the same data directory), the
//! provider's profile on `python3 -m http.server`, and the simulator's
//! `--once --json` report: customization state, state history and the
//! final `Profile_Rule`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_phoneprov");

use phoneprov_testpeers::{python_http, Guard, PythonHttp};

/// The provider: `python3 -m http.server` with `p.xml` setting GPP_A.
fn provider() -> PythonHttp {
    python_http(&[(
        "p.xml",
        b"<flat-profile><GPP_A>from-provider</GPP_A></flat-profile>\n",
    )])
}

/// `phoneprov activation ARGS --data DATA`, which must succeed.
fn activation(data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("activation")
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("PHONEPROV_DATA")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// `phoneprov serve` with only HTTP on port 0; its base URL.
fn serve(data: &Path) -> (Guard, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .arg("--data")
        .arg(data)
        .args(["--http", "127.0.0.1:0", "--https", "off", "--tftp", "off"])
        .args(["--syslog", "off", "--acs", "off", "--admin", "off"])
        .env_remove("PHONEPROV_DATA")
        .env_remove("PHONEPROV_CONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let g = Guard(child);
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve printed its HTTP address")
            .unwrap();
        if let Some(u) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            break u.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (g, url)
}

fn sim(args: &[&str]) -> Output {
    Command::new(BIN).arg("sim").args(args).output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?} stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn history(v: &serde_json::Value) -> Vec<String> {
    v["status"]["activation"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sim_activation_once_json_acquired_unavailable_and_gds() {
    let provider = provider();
    let port = provider.port;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rule = format!("http://127.0.0.1:{port}/p.xml");
    activation(&data, &["bind", "--mac", "000e08000001", "--url", &rule]);
    let (_s, url) = serve(&data);

    // Bound: Open → Pending → Custom Pending → Acquired, provider applied.
    let out = sim(&[
        "--count",
        "1",
        "--activation",
        &url,
        "--once",
        "--json",
        "--boot-storm",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["status"]["activation"]["state"], "Acquired");
    assert_eq!(
        history(&v),
        ["Open", "Pending", "Custom Pending", "Acquired"]
    );
    assert_eq!(v["customization"]["Acquired"], 1);
    assert_eq!(v["final_params"]["Profile_Rule"], rule.as_str());
    assert_eq!(v["final_params"]["GPP_A"], "from-provider");

    // Unbound: Unavailable with a retry armed, nothing applied, exit 1.
    let out = sim(&[
        "--mac-base",
        "000e08000009",
        "--activation",
        &url,
        "--once",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["customization"]["Unavailable"], 1, "{v}");
    assert!(v["status"]["activation"]["retry_at"].is_u64());
    assert!(v["final_params"].get("Profile_Rule").is_none(), "{v}");

    // A gds:// code for that phone: GDS-Pending → GDS-Acquired.
    let code = activation(&data, &["code", "--url", &rule]);
    let out = sim(&[
        "--mac-base",
        "000e08000009",
        "--param",
        "Profile_Rule=gds://",
        "--activation",
        &url,
        "--gds-code",
        code.trim(),
        "--once",
        "--json",
        "--boot-storm",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(
        history(&v),
        [
            "Open",
            "Pending",
            "Unavailable",
            "GDS-Pending",
            "GDS-Acquired"
        ]
    );
    assert_eq!(v["final_params"]["Profile_Rule"], rule.as_str());
    assert_eq!(v["final_params"]["GPP_A"], "from-provider");

    // Text report counts the state.
    let out = sim(&["--activation", &url, "--once", "--boot-storm"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("customization: Acquired 1"), "{text}");
}

#[test]
fn sim_activation_bad_flags_are_one_clear_line() {
    for (args, needle) in [
        (&["--activation", "ftp://x"][..], "--activation"),
        (
            &["--activation", "http://127.0.0.1:9", "--gds-code", "12"][..],
            "--gds-code",
        ),
    ] {
        let out = sim(args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
        assert!(err.contains(needle), "{err}");
    }
}
