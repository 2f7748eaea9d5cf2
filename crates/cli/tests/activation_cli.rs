//! `phoneprov activation bind|unbind|code|list` (R-ACT) through the real
//! binary: what it prints, what it stores, and that every bad input (MAC,
//! URL, code length, count, serial range) is one clear error line, a
//! non-zero exit, and nothing changed.

use std::path::Path;
use std::process::Output;

use phoneprov_activation::{ActivationStore, EnteredCode};
use phoneprov_store::Mac;

const URL: &str = "https://prov.example.com/$MA.xml";

fn phoneprov(data: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_phoneprov"))
        .arg("activation")
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("PHONEPROV_DATA")
        .output()
        .expect("run phoneprov")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Exit non-zero with exactly one line on stderr that contains `needle`.
fn fails(out: &Output, needle: &str) {
    assert!(!out.status.success(), "should fail: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

#[test]
fn bind_list_unbind_by_mac_and_serial_range() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = ok(&phoneprov(
        d,
        &[
            "bind",
            "--mac",
            "00:0E:08:AB:CD:EF",
            "--url",
            URL,
            "--model",
            "CP-8841-3PCC",
        ],
    ));
    assert_eq!(out.trim(), format!("bound 000e08abcdef to {URL}"));
    let out = ok(&phoneprov(
        d,
        &[
            "bind",
            "--serial-from",
            "88012BA00000",
            "--serial-to",
            "88012BA09999",
            "--url",
            "http://p.example.com/a.xml",
        ],
    ));
    assert!(out.contains("serials 88012BA00000..88012BA09999"), "{out}");

    let s = ActivationStore::open(d).unwrap();
    let mac = Mac::parse("000e08abcdef").unwrap();
    assert_eq!(
        s.lookup(mac, Some("CP-8841-3PCC"), None)
            .unwrap()
            .unwrap()
            .url,
        URL
    );
    let other = Mac::parse("000e08000001").unwrap();
    assert!(s
        .lookup(other, None, Some("88012BA00042"))
        .unwrap()
        .is_some());

    let table = ok(&phoneprov(d, &["list"]));
    assert!(
        table.contains("bindings: 2") && table.contains("CP-8841-3PCC"),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&phoneprov(d, &["list", "--json"]))).unwrap();
    assert_eq!(json["bindings"].as_array().unwrap().len(), 2);

    assert!(
        ok(&phoneprov(d, &["unbind", "--mac", "000e08abcdef"])).contains("removed 000e08abcdef")
    );
    let again = phoneprov(d, &["unbind", "--mac", "000e08abcdef"]);
    assert_eq!(again.status.code(), Some(1), "nothing to remove");
    ok(&phoneprov(
        d,
        &[
            "unbind",
            "--serial-from",
            "88012BA00000",
            "--serial-to",
            "88012BA09999",
        ],
    ));
    let json: serde_json::Value =
        serde_json::from_str(&ok(&phoneprov(d, &["list", "--json"]))).unwrap();
    assert!(json["bindings"].as_array().unwrap().is_empty());
}

#[test]
fn code_prints_fresh_single_use_codes_and_short_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = ok(&phoneprov(
        d,
        &["code", "--url", URL, "--count", "5", "--ttl", "2h"],
    ));
    let codes: Vec<&str> = out.lines().collect();
    assert_eq!(codes.len(), 5, "{out}");
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 16 && c.bytes().all(|b| b.is_ascii_digit())),
        "{out}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&ok(&phoneprov(d, &["code", "--url", URL, "--json"]))).unwrap();
    let c = &json[0];
    let ttl = c["expires_ms"].as_i64().unwrap() - c["created_ms"].as_i64().unwrap();
    assert_eq!(ttl, 7 * 24 * 3600 * 1000, "default ttl 7d");

    assert_eq!(
        ok(&phoneprov(d, &["code", "--url", URL, "--short", "4321"])).trim(),
        "#4321"
    );

    // The codes work: one redemption each, the second phone is refused.
    let mut s = ActivationStore::open(d).unwrap();
    let a = Mac::parse("000e08000001").unwrap();
    let b = Mac::parse("000e08000002").unwrap();
    let code = EnteredCode::parse(codes[0]).unwrap();
    assert!(s
        .redeem(a, &code, phoneprov_store::now_ms())
        .unwrap()
        .is_ok());
    assert!(s
        .redeem(b, &code, phoneprov_store::now_ms())
        .unwrap()
        .is_err());
    let short = EnteredCode::parse("#4321").unwrap();
    assert!(s
        .redeem(b, &short, phoneprov_store::now_ms())
        .unwrap()
        .is_ok());

    // The table masks codes; --json shows them.
    let table = ok(&phoneprov(d, &["list"]));
    assert!(
        !table.contains(codes[0]) && table.contains(&format!("************{}", &codes[0][12..])),
        "{table}"
    );
    assert!(
        table.contains("used by 000e08000001") && table.contains("#4321"),
        "{table}"
    );
    assert!(ok(&phoneprov(d, &["list", "--json"])).contains(codes[0]));

    ok(&phoneprov(d, &["unbind", "--short", "4321"]));
    let json: serde_json::Value =
        serde_json::from_str(&ok(&phoneprov(d, &["list", "--json"]))).unwrap();
    assert!(json["short_codes"].as_array().unwrap().is_empty(), "{json}");
    // The phone it onboarded stays bound (its binding names the short code).
    assert_eq!(json["bindings"][1]["source"], "code #4321", "{json}");
}

#[test]
fn bad_input_is_one_line_nonzero_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    fails(
        &phoneprov(&d, &["bind", "--mac", "00:0e:08:ab:cd", "--url", URL]),
        "bad MAC",
    );
    fails(
        &phoneprov(
            &d,
            &["bind", "--mac", "000e08abcdef", "--url", "configs/x.cfg"],
        ),
        "bad profile URL",
    );
    fails(
        &phoneprov(&d, &["bind", "--mac", "000e08abcdef", "--url", "gds://"]),
        "bad profile URL",
    );
    fails(
        &phoneprov(
            &d,
            &[
                "bind",
                "--serial-from",
                "B0",
                "--serial-to",
                "A0",
                "--url",
                URL,
            ],
        ),
        "bad serial range",
    );
    fails(
        &phoneprov(&d, &["bind", "--url", URL]),
        "either a MAC or a serial range",
    );
    fails(
        &phoneprov(&d, &["code", "--url", URL, "--short", "12"]),
        "3 to 16 digits",
    );
    fails(
        &phoneprov(&d, &["code", "--url", URL, "--short", "12345678901234567"]),
        "3 to 16 digits",
    );
    fails(
        &phoneprov(&d, &["code", "--url", URL, "--short", "12a4"]),
        "not a digit",
    );
    fails(
        &phoneprov(&d, &["code", "--url", URL, "--count", "0"]),
        "1 to 10000",
    );
    fails(
        &phoneprov(&d, &["code", "--url", "ftp://x/y"]),
        "bad profile URL",
    );
    assert!(
        !d.exists(),
        "no data directory was created by a refused command"
    );
    fails(&phoneprov(&d, &["list"]), "");
    assert!(!d.exists(), "list does not create a database");

    // With data present, a refused command leaves it as it was.
    ok(&phoneprov(
        &d,
        &["bind", "--mac", "000e08abcdef", "--url", URL],
    ));
    let before = ok(&phoneprov(&d, &["list", "--json"]));
    fails(
        &phoneprov(&d, &["bind", "--mac", "000e08abcdef", "--url", "#off"]),
        "bad profile URL",
    );
    fails(
        &phoneprov(&d, &["code", "--url", URL, "--short", "1"]),
        "3 to 16 digits",
    );
    assert_eq!(ok(&phoneprov(&d, &["list", "--json"])), before);
}
