//! `phoneprov ca ...` end to end (R-HTTPS-5): init, issue, issue-fleet,
//! show, and the error paths an operator hits.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use assert_cmd::Command;
use phoneprov_pki::{load_ca, phone_identity_from_der, IssuedCert, PhoneIdentity};

fn phoneprov() -> Command {
    let mut cmd = Command::cargo_bin("phoneprov").unwrap();
    cmd.env_remove("PHONEPROV_DATA").arg("ca");
    cmd
}

fn data_arg(data: &Path) -> [String; 2] {
    ["--data".into(), data.to_str().unwrap().into()]
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn init(data: &Path) {
    let out = phoneprov()
        .arg("init")
        .args(data_arg(data))
        .output()
        .unwrap();
    assert!(out.status.success(), "ca init failed: {}", stderr(&out));
}

fn identity(cert: &Path) -> PhoneIdentity {
    let pem = std::fs::read_to_string(cert).unwrap();
    let issued = IssuedCert {
        cert_pem: pem,
        key_pem: String::new(),
    };
    phone_identity_from_der(&issued.cert_der().unwrap()).unwrap()
}

#[test]
fn init_creates_the_ca_and_refuses_a_second_time() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = phoneprov()
        .args([
            "init",
            "--name",
            "Lab CA",
            "--server-name",
            "pv.telco.net/mailto:admin@telco.net",
        ])
        .args(data_arg(&data))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("sha256"), "{stdout}");
    assert!(!stdout.contains("PRIVATE KEY"), "a key was printed");
    let ca_dir = data.join("ca");
    for f in ["ca.pem", "ca.key", "server.pem", "server.key"] {
        assert!(ca_dir.join(f).exists(), "{f} missing");
    }
    let mode = std::fs::metadata(ca_dir.join("ca.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let out = phoneprov()
        .arg("init")
        .args(data_arg(&data))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );

    let before = std::fs::read(ca_dir.join("ca.pem")).unwrap();
    let out = phoneprov()
        .args(["init", "--force"])
        .args(data_arg(&data))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(std::fs::read(ca_dir.join("ca.pem")).unwrap(), before);
}

#[test]
fn issue_writes_a_phone_cert_for_any_mac_spelling() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let outdir = tmp.path().join("certs");
    let out = phoneprov()
        .args([
            "issue",
            "--mac",
            "00:56:2B:04:36:15",
            "--sn",
            "CCQ2114A0B1",
            "--pn",
            "CP-8841-3PCC",
            "-o",
        ])
        .arg(&outdir)
        .args(data_arg(&data))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let cert = outdir.join("00562b043615.pem");
    let key = outdir.join("00562b043615.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        identity(&cert),
        PhoneIdentity {
            mac: "00562b043615".into(),
            serial: Some("CCQ2114A0B1".into()),
            model: Some("CP-8841-3PCC".into()),
        }
    );
    // Real OpenSSL agrees that it chains to the CA.
    let verify = std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(data.join("ca/ca.pem"))
        .arg(&cert)
        .output()
        .expect("cannot run `openssl`: install it");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // Issuing again without --force refuses and keeps the first cert.
    let before = std::fs::read(&cert).unwrap();
    let out = phoneprov()
        .args([
            "issue",
            "--mac",
            "00-56-2b-04-36-15",
            "--sn",
            "X",
            "--pn",
            "Y",
            "-o",
        ])
        .arg(&outdir)
        .args(data_arg(&data))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&cert).unwrap(), before);
}

#[test]
fn bad_mac_is_one_clear_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let outdir = tmp.path().join("certs");
    let out = phoneprov()
        .args([
            "issue",
            "--mac",
            "00:56:2B:04:36",
            "--sn",
            "S",
            "--pn",
            "P",
            "-o",
        ])
        .arg(&outdir)
        .args(data_arg(&data))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad MAC \"00:56:2B:04:36\"") && err.contains("000e.08ab.cdef"),
        "{err}"
    );
    assert!(!outdir.exists());
}

#[test]
fn issue_without_a_ca_says_to_run_init() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("nothing");
    let out = phoneprov()
        .args([
            "issue",
            "--mac",
            "00562b043615",
            "--sn",
            "S",
            "--pn",
            "P",
            "-o",
        ])
        .arg(tmp.path().join("certs"))
        .args(data_arg(&data))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("phoneprov ca init"), "{err}");
    let out = phoneprov()
        .arg("show")
        .args(data_arg(&data))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("phoneprov ca init"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn issue_fleet_counts_macs_and_serials() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let outdir = tmp.path().join("fleet");
    let out = phoneprov()
        .args([
            "issue-fleet",
            "--mac-base",
            "0056.2b04.36fe",
            "--count",
            "3",
            "--pn",
            "CP-7841-3PCC",
        ])
        .args(["--sn-base", "FCH0009", "-o"])
        .arg(&outdir)
        .args(data_arg(&data))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = [
        ("00562b0436fe", "FCH0009"),
        ("00562b0436ff", "FCH0010"),
        ("00562b043700", "FCH0011"),
    ];
    for (mac, sn) in expected {
        let id = identity(&outdir.join(format!("{mac}.pem")));
        assert_eq!((id.mac.as_str(), id.serial.as_deref()), (mac, Some(sn)));
        assert!(outdir.join(format!("{mac}.key")).exists());
    }
    let csv = std::fs::read_to_string(outdir.join("fleet.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(
        csv.contains("00562b0436ff,FCH0010,CP-7841-3PCC,00562b0436ff.pem,00562b0436ff.key"),
        "{csv}"
    );
    let ca = load_ca(&data.join("ca")).unwrap();
    assert_eq!(
        std::fs::read_to_string(outdir.join("ca.pem")).unwrap(),
        ca.cert_pem()
    );

    let out = phoneprov()
        .args([
            "issue-fleet",
            "--mac-base",
            "fffffffffffe",
            "--count",
            "3",
            "--pn",
            "P",
            "-o",
        ])
        .arg(tmp.path().join("f2"))
        .args(data_arg(&data))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("ffffffffffff"), "{}", stderr(&out));
}

#[test]
fn show_prints_text_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init(&data);
    let out = phoneprov()
        .args(["show", "--json"])
        .args(data_arg(&data))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ca"]["is_ca"], true);
    assert_eq!(doc["server"]["is_ca"], false);
    let sans: Vec<&str> = doc["server"]["subject_alt_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(sans, ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]);
    let fp = doc["ca"]["sha256_fingerprint"]
        .as_str()
        .unwrap()
        .to_string();

    // The fingerprint matches OpenSSL's.
    let openssl = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(data.join("ca/ca.pem"))
        .output()
        .expect("cannot run `openssl`: install it");
    assert!(
        String::from_utf8_lossy(&openssl.stdout).contains(&fp),
        "{fp}"
    );

    let out = phoneprov()
        .arg("show")
        .args(data_arg(&data))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CA: ") && text.contains(&fp) && text.contains("DNS:localhost"),
        "{text}"
    );
}
