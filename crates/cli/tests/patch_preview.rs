//! Issue 14 item 5a for device changes: `PATCH /api/v1/devices/{mac}`
//! under a real `phoneprov serve` previews the changed profile with the
//! template preview's report (`?dry_run=true` writes nothing), refuses a
//! change that adds lint errors with 422 naming the device, and saves it
//! with `?force=true`.

mod serve_support;

use serve_support::*;

const TEMPLATE: &str = "<flat-profile>\n  <Display_Name_1_>{{ name }}</Display_Name_1_>\n  <SIP_Port_1_>{{ port }}</SIP_Port_1_>\n</flat-profile>\n";

fn patch(s: &Served, query: &str, body: &str) -> (u16, serde_json::Value) {
    let auth = s.admin_auth();
    let url = s.admin_url(&format!("/api/v1/devices/{MAC}{query}"));
    let (code, bytes) = curl(&[
        "-X",
        "PATCH",
        "-H",
        &auth,
        "-H",
        "content-type: application/json",
        "-d",
        body,
        &url,
    ]);
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{code}: {}", String::from_utf8_lossy(&bytes)));
    (code, v)
}

#[test]
fn a_lint_breaking_device_change_is_previewed_refused_and_forced() {
    let s = start_with(None, &[], |d| {
        std::fs::create_dir_all(d.join("templates")).unwrap();
        std::fs::write(d.join("templates/default.xml.j2"), TEMPLATE).unwrap();
        add_device(
            d,
            MAC,
            &[
                "--model",
                "CP-8841-3PCC",
                "--var",
                "name=Desk",
                "--var",
                "port=5060",
            ],
        );
    });
    // Dry run: the report, nothing written.
    let (code, r) = patch(&s, "?dry_run=true", r#"{"port":"99999","group":"sales"}"#);
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["devices_checked"], 1, "{r}");
    assert_eq!(r["devices_changed"], 1, "{r}");
    assert_eq!(r["saved"], false, "{r}");
    let p = &r["params"][0];
    assert_eq!(
        (p["name"].as_str(), p["old"].as_str(), p["new"].as_str()),
        (Some("SIP_Port_1_"), Some("5060"), Some("99999")),
        "{r}"
    );
    assert_eq!(r["lint_errors"][0]["mac"], MAC, "{r}");
    assert!(r["template"].as_str().unwrap().contains(MAC), "{r}");
    assert_eq!(s.device_json(MAC)["vars"]["port"], "5060");
    // Without force: 422, the device named, nothing written.
    let (code, e) = patch(&s, "", r#"{"port":"99999"}"#);
    assert_eq!(code, 422, "{e}");
    assert!(e["error"].as_str().unwrap().contains(MAC), "{e}");
    let hint = e["hint"].as_str().unwrap();
    assert!(
        hint.starts_with("fix the change or the device's template"),
        "the change was to the device: {e}"
    );
    assert!(hint.contains("force"), "{e}");
    assert_eq!(e["devices"][0]["mac"], MAC, "{e}");
    assert_eq!(s.device_json(MAC)["vars"]["port"], "5060");
    // A harmless change saves as before; force saves a breaking one.
    let (code, d) = patch(&s, "", r#"{"name":"Front desk"}"#);
    assert_eq!(
        (code, d["vars"]["name"].as_str()),
        (200, Some("Front desk")),
        "{d}"
    );
    let (code, d) = patch(&s, "?force=true", r#"{"port":"99999"}"#);
    assert_eq!(
        (code, d["vars"]["port"].as_str()),
        (200, Some("99999")),
        "{d}"
    );
    // Bad input: a bad query or name, nothing written.
    let (code, e) = patch(&s, "?dry_run=maybe", r#"{"port":"1"}"#);
    assert_eq!(code, 400, "{e}");
    let (code, e) = patch(&s, "?dry_run=true", r#"{"bad name":"1"}"#);
    assert_eq!(code, 400, "{e}");
    assert_eq!(s.device_json(MAC)["vars"]["port"], "99999");
}
