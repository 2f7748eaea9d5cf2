//! Template change preview (issue 14 item 5a) end to end: the admin API's
//! `PUT/DELETE /api/v1/templates/{name}` (`?dry_run=true`, `?force=true`)
//! on a real `phoneprov serve` with 1 000 devices, and `phoneprov template
//! diff` on the same kind of data directory. A change that breaks lint on
//! 3 of 1 000 devices is refused with exactly those 3 named and nothing
//! written; a harmless change shows its counts and, saved, is served.

mod serve_support;

use std::path::Path;

use phoneprov_api::ErrorBody;
use serve_support::*;

const DEFAULT: &str = "<flat-profile>\n  <Display_Name_1_>{{ name }}</Display_Name_1_>\n  <SIP_Port_1_>5060</SIP_Port_1_>\n</flat-profile>\n";
/// Takes the port from a variable: three devices hold 99999.
const BREAKING: &str = "<flat-profile>\n  <Display_Name_1_>{{ name }}</Display_Name_1_>\n  <SIP_Port_1_>{{ port }}</SIP_Port_1_>\n</flat-profile>\n";
/// Changes the display name of every device, breaks nothing.
const HARMLESS: &str = "<flat-profile>\n  <Display_Name_1_>{{ name }} (sales)</Display_Name_1_>\n  <SIP_Port_1_>5060</SIP_Port_1_>\n</flat-profile>\n";
/// The devices whose `port` is out of range.
const BROKEN: [&str; 3] = ["000e08000005", "000e080001f4", "000e080003e7"];

/// 1 000 devices (port 99999 on [`BROKEN`]) and `default.xml.j2`.
fn prepare(data: &Path) {
    std::fs::create_dir_all(data.join("templates")).unwrap();
    std::fs::write(data.join("templates/default.xml.j2"), DEFAULT).unwrap();
    let mut csv = String::from("mac,model,group,name,port\n");
    for i in 0..1000u32 {
        let port = if [5, 500, 999].contains(&i) {
            99999
        } else {
            5060 + i % 3
        };
        csv.push_str(&format!(
            "00:0e:08:00:{:02x}:{:02x},CP-8841-3PCC,sales,user{i},{port}\n",
            i / 256,
            i % 256
        ));
    }
    import_csv(data, &csv);
}

/// `curl -X METHOD` with the admin token and `body` as the request body.
fn call(
    s: &Served,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value, String) {
    let auth = s.admin_auth();
    let url = s.admin_url(path);
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let mut args = vec!["-X", method, "-H", auth.as_str(), url.as_str()];
    let data_arg;
    if let Some(b) = body {
        std::fs::write(tmp.path(), b).unwrap();
        data_arg = format!("@{}", tmp.path().display());
        args.extend([
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            data_arg.as_str(),
        ]);
    }
    let (code, bytes) = curl(&args);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        code,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        text,
    )
}

fn on_disk(s: &Served) -> String {
    std::fs::read_to_string(s.data().join("templates/default.xml.j2")).unwrap()
}

#[test]
fn api_previews_refuses_a_lint_breaking_change_and_saves_a_harmless_one() {
    let s = start_with(None, &[], prepare);
    let url = "/api/v1/templates/default.xml.j2";

    // The list and the source.
    let (code, list, _) = call(&s, "GET", "/api/v1/templates", None);
    assert_eq!(code, 200);
    assert_eq!(list, serde_json::json!(["default.xml.j2"]));
    let (code, _, src) = call(&s, "GET", url, None);
    assert_eq!((code, src.as_str()), (200, DEFAULT));

    // A dry run of the breaking change: the report names exactly the 3.
    let (code, r, text) = call(&s, "PUT", &format!("{url}?dry_run=true"), Some(BREAKING));
    assert_eq!(code, 200, "{text}");
    assert_eq!(r["devices_checked"], 1000);
    assert_eq!(r["saved"], false);
    let macs: Vec<&str> = r["lint_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["mac"].as_str().unwrap())
        .collect();
    assert_eq!(macs, BROKEN);
    assert!(
        r["lint_errors"][0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("SIP_Port_1_"),
        "{text}"
    );
    // 5060 stays on a third of the fleet; the rest changes.
    assert_eq!(r["devices_changed"], 1000 - 334 + 1, "{text}");
    let to_99999 = r["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["new"] == "99999")
        .unwrap();
    assert_eq!(
        (to_99999["name"].as_str(), to_99999["count"].as_u64()),
        (Some("SIP_Port_1_"), Some(3))
    );
    assert_eq!(on_disk(&s), DEFAULT, "a dry run writes nothing");

    // Saving it is refused: 422, the same 3 devices, nothing written.
    let (code, _, text) = call(&s, "PUT", url, Some(BREAKING));
    assert_eq!(code, 422, "{text}");
    let e: ErrorBody = serde_json::from_str(&text).unwrap();
    let named: Vec<&str> = e.devices.iter().map(|d| d.mac.as_str()).collect();
    assert_eq!(named, BROKEN);
    assert!(e.error.contains("3 of 1000 devices"), "{}", e.error);
    assert!(e.hint.contains("force"), "{}", e.hint);
    assert_eq!(on_disk(&s), DEFAULT, "a refused change writes nothing");

    // A harmless change: counts, then saved and reloaded.
    let (code, r, text) = call(&s, "PUT", &format!("{url}?dry_run=true"), Some(HARMLESS));
    assert_eq!(code, 200, "{text}");
    assert_eq!(
        (
            r["devices_changed"].as_u64(),
            r["lint_errors"].as_array().unwrap().len()
        ),
        (Some(1000), 0)
    );
    // One distinct change per user name: the first 200 are listed.
    assert_eq!(r["params"].as_array().unwrap().len(), 200);
    assert_eq!(r["params_truncated"], true);
    assert_eq!(r["params"][0]["name"], "Display_Name_1_");
    let (code, r, text) = call(&s, "PUT", url, Some(HARMLESS));
    assert_eq!((code, r["saved"].as_bool()), (200, Some(true)), "{text}");
    assert_eq!(on_disk(&s), HARMLESS);
    // The server reloaded: the same change again changes nothing.
    let (_, r, _) = call(&s, "PUT", &format!("{url}?dry_run=true"), Some(HARMLESS));
    assert_eq!(r["devices_changed"], 0);

    // force saves a breaking change.
    let (code, r, text) = call(&s, "PUT", &format!("{url}?force=true"), Some(BREAKING));
    assert_eq!((code, r["saved"].as_bool()), (200, Some(true)), "{text}");
    assert_eq!(r["lint_errors"].as_array().unwrap().len(), 3);
    assert_eq!(on_disk(&s), BREAKING);
}

#[test]
fn api_bad_template_changes_are_refused_and_write_nothing() {
    let s = start_with(None, &[], prepare);
    for (method, path, body, code, needle) in [
        (
            "PUT",
            "/api/v1/templates/group/.hidden.xml.j2",
            Some(DEFAULT),
            400,
            "unsafe path segment",
        ),
        (
            "PUT",
            "/api/v1/templates/group/sales.xml",
            Some(DEFAULT),
            400,
            "does not end in .j2",
        ),
        (
            "PUT",
            "/api/v1/templates/device/00:0e:08:00:00:01.xml.j2",
            Some(DEFAULT),
            400,
            "template name",
        ),
        (
            "PUT",
            "/api/v1/templates/default.xml.j2",
            Some("{% if %}"),
            400,
            "does not compile",
        ),
        (
            "DELETE",
            "/api/v1/templates/group/nope.xml.j2",
            None,
            400,
            "no template group/nope.xml.j2",
        ),
        (
            "PUT",
            "/api/v1/templates/default.xml.j2?dry_run=maybe",
            Some(DEFAULT),
            400,
            "dry_run",
        ),
    ] {
        let (got, _, text) = call(&s, method, path, body);
        assert_eq!(got, code, "{method} {path}: {text}");
        let e: ErrorBody =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: {text}"));
        assert!(e.error.contains(needle), "{method} {path}: {}", e.error);
    }
    assert_eq!(on_disk(&s), DEFAULT);
    let names: Vec<_> = std::fs::read_dir(s.data().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "nothing else written: {names:?}");
    // Removing default.xml.j2 would leave every device without a profile.
    let (code, _, text) = call(&s, "DELETE", "/api/v1/templates/default.xml.j2", None);
    assert_eq!(code, 422, "{text}");
    let e: ErrorBody = serde_json::from_str(&text).unwrap();
    assert_eq!(e.devices.len(), 1000);
    assert!(
        e.devices[0].errors[0].contains("no template"),
        "{:?}",
        e.devices[0]
    );
    // Without the token: 401.
    let (code, _) = curl(&[&s.admin_url("/api/v1/templates")]);
    assert_eq!(code, 401);
}

fn diff(data: &Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write as _;
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["template", "diff"])
        .args(args)
        .args(["--data", data.to_str().unwrap()]);
    cmd.env_remove("PHONEPROV_DATA")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_template_diff_names_the_three_broken_devices_and_counts_a_harmless_change() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    prepare(&data);
    let new = dir.path().join("new.j2");
    std::fs::write(&new, BREAKING).unwrap();

    let (code, out, err) = diff(&data, &["default.xml.j2", new.to_str().unwrap()], None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with("default.xml.j2: 1000 devices checked, 667 would change\n"),
        "{out}"
    );
    assert!(
        out.contains("SIP_Port_1_: \"5060\" -> \"99999\" (3 devices)"),
        "{out}"
    );
    assert!(out.contains("lint errors on 3 devices"), "{out}");
    for mac in BROKEN {
        assert!(
            out.contains(&format!("  {mac}: default.xml.j2:3:")),
            "{mac}: {out}"
        );
    }
    assert_eq!(out.matches("error[").count(), 3, "{out}");

    let (code, out, err) = diff(&data, &["default.xml.j2", "-", "--json"], Some(HARMLESS));
    assert_eq!(code, 0, "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (r["devices_checked"].as_u64(), r["devices_changed"].as_u64()),
        (Some(1000), Some(1000))
    );
    assert_eq!(r["lint_errors"], serde_json::json!([]));
    assert_eq!(
        std::fs::read_to_string(data.join("templates/default.xml.j2")).unwrap(),
        DEFAULT,
        "diff writes nothing"
    );

    // Bad input: one error line, exit 2, nothing written.
    let (code, _, err) = diff(&data, &["group/../x.j2", new.to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("phoneprov: error: template name") && err.lines().count() == 1,
        "{err}"
    );
    let (code, _, err) = diff(&data, &["default.xml.j2", "-"], Some("{% if %}"));
    assert_eq!(code, 2);
    assert!(err.contains("syntax error"), "{err}");
    let (code, _, err) = diff(&data, &["default.xml.j2", "/nonexistent.j2"], None);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read /nonexistent.j2"), "{err}");
    // A data directory `serve` never started in has no templates yet: the
    // one error line says what to do.
    std::fs::rename(data.join("templates"), dir.path().join("off")).unwrap();
    let (code, _, err) = diff(&data, &["default.xml.j2", new.to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert!(
        err.contains("no templates in") && err.contains("run `phoneprov serve` once"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
