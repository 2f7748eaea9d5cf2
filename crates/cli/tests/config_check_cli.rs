//! `phoneprov config check` (issue 17 item 2) and the same checks at
//! `phoneprov serve` start (issue 12 items 1 and 4), run as the careless
//! operator and the attacker of issue 12 would: a static or firmware root
//! over the secrets, a world-readable CA key, a port that is not a port, a
//! missing certificate, an unwritable data directory. Each refusal is one
//! line naming the setting, and a refused `serve` writes nothing.

mod serve_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serve_support::*;

fn check(config: Option<&str>, data: &Path) -> Output {
    let dir = data.parent().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["config", "check", "--data", data.to_str().unwrap()]);
    if let Some(text) = config {
        let file = dir.join("check.toml");
        std::fs::write(&file, text).unwrap();
        cmd.args(["--config", file.to_str().unwrap()]);
    }
    // No system config (/etc/phoneprov) may leak into the test.
    cmd.env("PHONEPROV_SYSCONFDIR", dir)
        .env_remove("PHONEPROV_CONFIG")
        .env_remove("PHONEPROV_DATA")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn errors(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(": error: ")).collect()
}

#[test]
fn a_good_config_prints_the_effective_listeners_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = check(
        Some("[listen]\nhttp = \"127.0.0.1:18080\"\nhttps = 18443\ntftp = \"off\"\n"),
        &data,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("http   http://127.0.0.1:18080"), "{stdout}");
    assert!(stdout.contains("https  https://0.0.0.0:18443"), "{stdout}");
    assert!(stdout.contains("tftp   off"), "{stdout}");
    assert!(stdout.contains("acs    http://0.0.0.0:7547"), "{stdout}");
    assert!(stdout.contains("is ok"), "{stdout}");
    assert!(errors(&stderr).is_empty(), "{stderr}");
    // Nothing was created.
    assert!(!data.exists(), "config check created the data directory");

    // A data directory `serve` made is fine too.
    let s = start_default();
    let out = check(None, &s.data());
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

#[test]
fn a_port_that_is_not_a_port_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (value, needle) in [
        ("70000", "port 70000 is not a port"),
        ("\"80a\"", "bad listen address \"80a\""),
        ("true", "true is not a listen address"),
    ] {
        let out = check(Some(&format!("[listen]\nhttp = {value}\n")), &data);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let e = errors(&stderr);
        assert_eq!(e.len(), 1, "{stderr}");
        assert!(
            e[0].contains(needle) && e[0].contains("check.toml:2:"),
            "{stderr}"
        );
        assert!(!stderr.contains("untagged"), "{stderr}");
    }
}

#[test]
fn a_missing_certificate_and_an_unwritable_data_dir_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = check(
        Some("[tls]\ncert = \"/nonexistent/server.pem\"\nkey = \"/nonexistent/server.key\"\n"),
        &data,
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        errors(&stderr)
            .iter()
            .any(|l| l.contains("[tls] cert") && l.contains("/nonexistent/server.pem")),
        "{stderr}"
    );
    // (The tests run as root, whom permissions do not stop: a data
    // directory below a regular file is what cannot be written.)
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let out = check(None, &file.join("data"));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        errors(&stderr)
            .iter()
            .any(|l| l.contains("not writable") && l.contains("not a directory")),
        "{stderr}"
    );
}

#[test]
fn a_broken_template_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("templates")).unwrap();
    std::fs::write(data.join("templates/default.xml.j2"), "<a>{% for %}</a>").unwrap();
    let out = check(None, &data);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        errors(&stderr).iter().any(|l| l.contains("default.xml.j2")),
        "{stderr}"
    );
}

/// Issue 12 item 4: a world-readable CA key is refused by `config check`,
/// `serve` and `ca issue`, each with the chmod to run; nothing is issued.
#[test]
fn a_world_readable_ca_key_is_refused_everywhere_with_the_chmod() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let init = phoneprov(&["ca", "init", "--data", d]);
    assert!(init.status.success(), "{:?}", init);
    let key = data.join("ca/ca.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let chmod = format!("chmod 600 {}", key.display());

    let out = check(None, &data);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        errors(&stderr).iter().any(|l| l.contains(&chmod)),
        "{stderr}"
    );

    let certs = dir.path().join("certs");
    let out = phoneprov(&[
        "ca",
        "issue",
        "--data",
        d,
        "--mac",
        MAC,
        "--sn",
        "SN1",
        "--pn",
        "CP-8841-3PCC",
        "--out",
        certs.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&chmod), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        !certs.join(format!("{MAC}.key")).exists(),
        "a certificate was issued with an exposed CA key"
    );

    let out = Command::new(BIN)
        .args(["serve", "--data", d])
        .args(ALL_PORT0)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&chmod), "{stderr}");
    assert!(
        !data.join("phoneprov.db").exists(),
        "a refused serve created the database"
    );
}

/// Issue 12 item 1, the configuration slip: `static_dir = "."` (the data
/// directory), a root above it, `firmware_dir = "/etc"`. `serve` refuses to
/// start (so `GET /admin.token`, `/phoneprov.db` and TFTP `ca/ca.key` are
/// never served) with one line naming the setting, and writes nothing.
#[test]
fn r_sec_a_static_or_firmware_root_over_the_secrets_stops_serve() {
    for (config, setting) in [
        ("static_dir = \".\"\n", "static_dir = \".\""),
        ("static_dir = \"..\"\n", "static_dir = \"..\""),
        ("firmware_dir = \"/etc\"\n", "firmware_dir = \"/etc\""),
        ("firmware_dir = \"ca\"\n", "firmware_dir = \"ca\""),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let cfg = dir.path().join("serve.toml");
        std::fs::write(&cfg, config).unwrap();
        let out = Command::new(BIN)
            .args(["serve", "--data", data.to_str().unwrap()])
            .args(["--config", cfg.to_str().unwrap()])
            .args(ALL_PORT0)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{config}: {stderr}");
        let errs: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errs.len(), 1, "{stderr}");
        assert!(errs[0].contains(setting), "{config}: {stderr}");
        assert!(out.stdout.is_empty(), "a refused serve listened: {:?}", out);
        assert!(!data.exists(), "a refused serve wrote {}", data.display());

        let out = check(Some(config), &data);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            errors(&stderr).iter().any(|l| l.contains(setting)),
            "{stderr}"
        );
    }
}

/// Issue 12 item 4: a new data directory is 0700, the keys, the database
/// and its WAL/SHM, and the admin token 0600.
#[test]
fn key_material_is_created_private() {
    let s = start_with(None, &[], |d| add_device(d, MAC, &[]));
    let (code, _) = curl(&["-s", &s.http_url(&format!("/{MAC}.cfg"))]);
    assert_eq!(code, 200);
    let data = s.data();
    for f in [
        "ca/ca.key",
        "ca/server.key",
        "phoneprov.db",
        "phoneprov.db-wal",
        "phoneprov.db-shm",
        "admin.token",
    ] {
        let mode = std::fs::metadata(data.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f} has mode {mode:o}");
    }
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh");
    let added = phoneprov(&["device", "add", MAC, "--data", fresh.to_str().unwrap()]);
    assert!(added.status.success(), "{added:?}");
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "new data directory has mode {mode:o}");
}

/// Issue 12 item 5: an idle server stops at SIGTERM without waiting out
/// the drain period (600 s here; the bound below is ten times shorter).
#[test]
fn sigterm_on_an_idle_server_does_not_wait_for_the_drain_period() {
    let mut s = start_with(Some("[limits]\ndrain_secs = 600\n"), &[], |_| {});
    let (code, _) = curl(&["-s", &s.http_url("/nothing-here")]);
    assert_eq!(code, 404);
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(60)), Some(0));
}
