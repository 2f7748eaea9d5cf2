//! End-to-end tests of `phoneprov profile ...` and `phoneprov rule ...`,
//! against the real `openssl` and `gzip` programs (both directions).
//! SPEC ids: R-FMT-5..8, R-MACRO, R-RULE.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn phoneprov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phoneprov"))
        .args(args)
        .env_remove("PHONEPROV_KEY")
        .output()
        .expect("run phoneprov")
}

fn peer(program: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed: run scripts/install-peers"
    );
    Command::new(program)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const BASIC: &str = "<flat-profile>\n  <GPP_A> 12345678\n</GPP_A>\n  <Resync_Periodic>30</Resync_Periodic>\n</flat-profile>\n";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

/// SPEC §13: `openssl enc -aes-256-cbc -k MyOwnSecret` of a gzipped profile
/// decodes with `[--key MyOwnSecret]`; our output decrypts with openssl.
#[test]
fn encrypt_decode_interop_with_openssl_and_gzip_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "basic.txt", BASIC.as_bytes());

    // Their output, decoded by us: gzip then openssl enc (sha256 and md5).
    let gz = dir.path().join("basic.txt.gz");
    let out = peer("gzip").arg("-c").arg(&plain).output().unwrap();
    assert!(out.status.success());
    std::fs::write(&gz, &out.stdout).unwrap();
    for md in ["sha256", "md5"] {
        let enc = dir.path().join(format!("basic-{md}.cfg"));
        let st = peer("openssl")
            .args(["enc", "-aes-256-cbc", "-k", "MyOwnSecret", "-md", md, "-in"])
            .arg(&gz)
            .arg("-out")
            .arg(&enc)
            .status()
            .unwrap();
        assert!(st.success());
        let o = phoneprov(&[
            "profile",
            "decode",
            "--key",
            "MyOwnSecret",
            enc.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "decode failed: {}", stderr(&o));
        assert_eq!(stdout(&o), BASIC, "md {md}");
        let o = phoneprov(&[
            "profile",
            "params",
            "--key",
            "MyOwnSecret",
            enc.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), "GPP_A=12345678\nResync_Periodic=30\n");
    }

    // Our output, decoded by them: openssl enc -d then gzip -d.
    let ours = dir.path().join("ours.cfg");
    let o = phoneprov(&[
        "profile",
        "encrypt",
        "--key",
        "MyOwnSecret",
        "--gzip",
        &plain,
        "-o",
        ours.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dec = peer("openssl")
        .args(["enc", "-d", "-aes-256-cbc", "-k", "MyOwnSecret", "-in"])
        .arg(&ours)
        .output()
        .unwrap();
    assert!(dec.status.success(), "openssl could not decrypt our output");
    let mut gunzip = peer("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    gunzip.stdin.take().unwrap().write_all(&dec.stdout).unwrap();
    let g = gunzip.wait_with_output().unwrap();
    assert!(g.status.success());
    assert_eq!(String::from_utf8(g.stdout).unwrap(), BASIC);

    // md5 variant for older firmware.
    let o = phoneprov(&[
        "profile",
        "encrypt",
        "--key",
        "k",
        "--md",
        "md5",
        &plain,
        "-o",
        ours.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let dec = peer("openssl")
        .args(["enc", "-d", "-aes-256-cbc", "-md", "md5", "-k", "k", "-in"])
        .arg(&ours)
        .output()
        .unwrap();
    assert!(dec.status.success());
    assert_eq!(String::from_utf8(dec.stdout).unwrap(), BASIC);
}

#[test]
fn wrong_key_is_one_clear_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "basic.xml", BASIC.as_bytes());
    let enc = dir.path().join("basic.cfg").display().to_string();
    assert!(
        phoneprov(&["profile", "encrypt", "--key", "right", &plain, "-o", &enc])
            .status
            .success()
    );
    let o = phoneprov(&["profile", "decode", "--key", "wrong", &enc]);
    assert!(!o.status.success());
    assert!(o.stdout.is_empty(), "garbage written on a wrong key");
    let err = stderr(&o);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "expected one line, got: {err}"
    );
    assert!(
        err.contains("key"),
        "the error should mention the key: {err}"
    );
    // Encrypted but no key given: says to pass --key.
    let o = phoneprov(&["profile", "decode", &enc]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--key"), "{}", stderr(&o));
}

#[test]
fn encrypt_refuses_a_malformed_profile_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.xml",
        b"<flat-profile><Auth_INVITE_1>Yes</Auth_INVITE_1_></flat-profile>",
    );
    let out = dir.path().join("out.cfg");
    let o = phoneprov(&[
        "profile",
        "encrypt",
        "--key",
        "k",
        &bad,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(!out.exists(), "nothing may be written for bad input");
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn unreadable_input_is_one_line_and_nonzero() {
    let o = phoneprov(&["profile", "decode", "/nonexistent/profile.cfg"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/profile.cfg"), "{err}");
}

/// SPEC R-FMT-5: every malformed seed example is reported, exit 1; JSON too.
#[test]
fn lint_reports_seed_malformations_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.xml",
        "<flat-profile>\n<Auth_INVITE_1>Yes</Auth_INVITE_1_>\n</flat-profile>\n".as_bytes(),
    );
    let o = phoneprov(&["profile", "lint", &bad]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let text = stdout(&o);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with(&format!("{bad}:2:")), "{first}");
    assert!(first.contains(": error["), "{first}");

    let o = phoneprov(&["profile", "lint", "--format", "json", &bad]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = &v.as_array().unwrap()[0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["line"], 2);
    assert!(first["code"].as_str().is_some());

    let clean = write(dir.path(), "ok.xml", BASIC.as_bytes());
    let o = phoneprov(&["profile", "lint", &clean]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

/// SPEC R-FMT-8 worked example through the CLI.
#[test]
fn params_with_alias_map() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = write(
        dir.path(),
        "customer.xml",
        b"<customer-account>\n  <SIP-number> 17775551234</SIP-number>\n  <SIP-password>512835</SIP-password>\n</customer-account>\n",
    );
    let map = "/customer-account/SIP-number = /flat-profile/User_ID_1_ ; /customer-account/SIP-password = /flat-profile/Password_1_ ;";
    let o = phoneprov(&["profile", "params", "--alias-map", map, &foreign]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "User_ID_1_=17775551234\nPassword_1_=512835\n");
}

/// Issue 16: an 8851 has 5 lines. `lint --model` warns on `Line_Enable_6_`
/// (exit 0: a warning), `params --model --json` lists `_1_`..`_5_`.
#[test]
fn lint_and_params_know_an_8851_has_five_lines() {
    let dir = tempfile::tempdir().unwrap();
    let five = write(
        dir.path(),
        "five.xml",
        b"<flat-profile>\n<Line_Enable_5_>Yes</Line_Enable_5_>\n</flat-profile>\n",
    );
    let six = write(
        dir.path(),
        "six.xml",
        b"<flat-profile>\n<Line_Enable_6_>Yes</Line_Enable_6_>\n</flat-profile>\n",
    );
    let o = phoneprov(&["profile", "lint", "--model", "CP-8851-3PCC", &five]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(!stdout(&o).contains("not-on-model"), "{}", stdout(&o));
    let o = phoneprov(&["profile", "lint", "--model", "CP-8851-3PCC", &six]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(
        text.contains(&format!("{six}:2:")) && text.contains("warning[not-on-model]"),
        "{text}"
    );
    assert!(text.contains("has 5 of these (1-5)"), "{text}");

    let o = phoneprov(&["profile", "params", "--model", "CP-8851-3PCC", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    let lines: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with("Line_Enable_"))
        .collect();
    assert_eq!(
        lines,
        [
            "Line_Enable_1_",
            "Line_Enable_2_",
            "Line_Enable_3_",
            "Line_Enable_4_",
            "Line_Enable_5_"
        ]
    );
    let ext3 = rows.iter().find(|r| r["name"] == "Extension_3_").unwrap();
    assert_eq!(ext3["default"], "3");
    assert!(!names.contains(&"Phone-wifi-on"), "no Wi-Fi on an 8851");
}

/// SPEC R-MACRO examples through `rule expand`.
#[test]
fn rule_expand_examples() {
    let o = phoneprov(&[
        "rule",
        "expand",
        "--mac",
        "000e08012345",
        "--gpp",
        "B=Dj6Lmp23Q",
        "tftp://prov.telco.com/cisco/$B/$MA.cfg",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "tftp://prov.telco.com/cisco/Dj6Lmp23Q/000e08012345.cfg"
    );

    let o = phoneprov(&[
        "rule",
        "expand",
        "--pn",
        "CP-6841-3PCC",
        "--server",
        "10.0.0.5",
        "--json",
        "/$PN.cfg",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["url"]["scheme"], "tftp");
    assert_eq!(v["url"]["host"], "10.0.0.5");
    assert_eq!(v["url"]["port"], 69);
    assert_eq!(v["url"]["path"], "/CP-6841-3PCC.cfg");

    let o = phoneprov(&[
        "rule",
        "expand",
        "--json",
        "[--key MyOwnSecret ] tftp://prov.telco.com:6900/cisco/config/$PN.cfg",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["url"]["port"], 6900);
    assert_eq!(v["options"]["key"], "MyOwnSecret");

    // Malformed rule: non-zero, one line.
    let o = phoneprov(&["rule", "expand", "[--key http://x/y"]);
    assert!(!o.status.success());
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
}
