//! Issue 14 item 2 through a real `phoneprov serve`: `phoneprov user token
//! NAME` prints a bearer token with the user's role. A help desk token
//! reads the device without its key or SIP password, queues a read-only
//! task, and is refused (403, the one error shape) on key export, variable
//! edits, templates and write tasks; the admin token keeps working.

mod serve_support;

use serve_support::{add_device, curl, phoneprov, phoneprov_stdin, start_with, MAC};

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_desk_token_reads_and_is_refused_writes() {
    let s = start_with(None, &[], |d| {
        add_device(
            d,
            MAC,
            &["--model", "CP-8841-3PCC", "--var", "sip_password=hunter2"],
        )
    });
    let data = s.data();
    let d = data.to_str().unwrap();
    ok(phoneprov_stdin(
        &["user", "add", "hd", "--role", "helpdesk", "--data", d],
        b"longenough-pw\n",
    ));
    let token = ok(phoneprov(&["user", "token", "hd", "--data", d]));
    let token = token.trim();
    assert_eq!(token.len(), 64, "{token}");
    // Only the hash is in the database.
    let stored = serve_support::query(&data, "SELECT api_token FROM console_users");
    assert!(!stored.contains(token), "{stored}");
    assert_eq!(stored.trim().len(), 64, "{stored}");
    let auth = format!("authorization: Bearer {token}");
    let (code, body) = curl(&["-H", &auth, &s.admin_url(&format!("/api/v1/devices/{MAC}"))]);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v.get("key").is_none(), "{v}");
    assert_eq!(v["vars"]["sip_password"], "(secret)");
    assert!(!body.contains("hunter2"));
    let task = r#"{"rpc":"GetParameterValues","names":["Device.DeviceInfo."]}"#;
    let tasks = s.admin_url(&format!("/api/v1/devices/{MAC}/tasks"));
    let (code, body) = curl(&[
        "-H",
        &auth,
        "-H",
        "content-type: application/json",
        "-d",
        task,
        &tasks,
    ]);
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&body));
    let refused = [
        vec!["-X", "GET", "/api/v1/devices/export?with_keys=true"],
        vec![
            "-X",
            "PATCH",
            "-d",
            r#"{"sip_password":"x"}"#,
            "/api/v1/devices/000e08abcdef",
        ],
        vec![
            "-X",
            "PUT",
            "--data-binary",
            "<flat-profile/>",
            "/api/v1/templates/default.xml.j2",
        ],
        vec![
            "-X",
            "POST",
            "-d",
            r#"{"rpc":"Reboot"}"#,
            "/api/v1/devices/000e08abcdef/tasks",
        ],
        vec!["-X", "POST", "-d", "{}", "/api/v1/activation/codes"],
    ];
    for args in refused {
        let (last, rest) = args.split_last().unwrap();
        let url = s.admin_url(last);
        let mut all = vec!["-H", &auth, "-H", "content-type: application/json"];
        all.extend_from_slice(rest);
        all.push(&url);
        let (code, body) = curl(&all);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(code, 403, "{args:?}: {v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .starts_with("helpdesk users cannot"),
            "{v}"
        );
        assert!(v["hint"].as_str().unwrap().contains("admin"), "{v}");
    }
    // Nothing written; the admin token sees the key and the password.
    let v = s.device_json(MAC);
    assert_eq!(v["vars"]["sip_password"], "hunter2");
    assert!(v["key"].as_str().is_some());
    // Revoked: 401.
    ok(phoneprov(&["user", "token", "hd", "--revoke", "--data", d]));
    let (code, _) = curl(&["-H", &auth, &s.admin_url("/api/v1/devices")]);
    assert_eq!(code, 401);
    // An admin user's token has the admin's rights on the merged routes
    // too (the activation service's, the ACS's).
    ok(phoneprov_stdin(
        &["user", "add", "ann", "--role", "admin", "--data", d],
        b"longenough-pw\n",
    ));
    let admin = ok(phoneprov(&["user", "token", "ann", "--data", d]));
    let admin = format!("authorization: Bearer {}", admin.trim());
    let (code, body) = curl(&[
        "-H",
        &admin,
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"url":"https://prov.example.com/$MA.xml","count":2}"#,
        &s.admin_url("/api/v1/activation/codes"),
    ]);
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&body));
    let (code, body) = curl(&["-H", &admin, &s.admin_url("/api/v1/activation")]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let (code, body) = curl(&["-H", &admin, &tasks]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    // Bad input: no such user, one line, non-zero exit.
    let out = phoneprov(&["user", "token", "nobody", "--data", d]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no user \"nobody\""), "{err}");
}
