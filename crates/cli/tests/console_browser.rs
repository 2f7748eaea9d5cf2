//! The operator's console (`/ui/`, issue 14) in a real browser: headless
//! chromium driven over the W3C WebDriver protocol by `chromedriver`,
//! against a real `phoneprov serve` with 10 000 imported devices. The
//! WebDriver helper is `browser_support`.

mod browser_support;
mod serve_support;

use std::time::Duration;

use browser_support::*;
use serve_support::*;

const DEVICES: usize = 10_000;

/// Issue 14 items 1 and 2 (R-CONSOLE): a wrong password is refused and
/// logged; an admin finds one device among 10 000 by a variable value and
/// by its MAC in other notations, a filter that matches nothing says so,
/// and sees its key; a help desk user on the same page does not.
#[test]
fn console_in_headless_chromium() {
    let s = start_console(DEVICES);
    let admin = format!("http://{}", s.admin.unwrap());
    let b = Browser::start();

    // (1) Wrong password: the page says so, serve's stderr has the WARN.
    b.sign_in(&admin, "ann", "not-the-password");
    assert_eq!(b.text("#login-error"), "Wrong user name or password.");
    let err = s.stderr_until(
        "authentication failed: door=console",
        Duration::from_secs(10),
    );
    assert!(
        err.iter()
            .any(|l| l.contains("WARN") && l.contains("authentication failed: door=console")),
        "no WARN line in serve's stderr: {err:?}"
    );

    // (2) Admin signs in and finds device 1234 by its `user` value.
    b.sign_in(&admin, "ann", ADMIN_PW);
    b.find("body"); // the page after the redirect
    b.doc_shot("overview");
    assert!(
        !b.url().contains("/ui/login"),
        "still on the sign-in page: {}",
        b.url()
    );
    let (mac, user) = device_n(1234);
    b.goto(&format!("{admin}/ui/devices"));
    b.find("#devices");
    b.doc_shot("devices");
    b.type_in("#q", &user);
    b.click("#search");
    let rows = b.text("#devices tbody");
    assert_eq!(
        rows.lines().count(),
        1,
        "one device matches {user} among {DEVICES}: {rows}"
    );
    assert!(rows.contains(&mac), "{rows}");
    // The same device by its MAC in other notations (Cisco's dotted
    // form, upper case with dashes): the search normalises them.
    for typed in [
        format!("{}.{}.{}", &mac[0..4], &mac[4..8], &mac[8..12]),
        mac.as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap().to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("-"),
    ] {
        b.goto(&format!("{admin}/ui/devices"));
        b.type_in("#q", &typed);
        b.click("#search");
        let rows = b.text("#devices tbody");
        assert_eq!(rows.lines().count(), 1, "{typed} finds one device: {rows}");
        assert!(rows.contains(&mac), "{typed}: {rows}");
    }
    // A MAC with one digit too many is no MAC: "no device", and why; a
    // filter matching nothing says "no device", with no table.
    b.goto(&format!("{admin}/ui/devices"));
    b.type_in("#q", &format!("{mac}0"));
    b.click("#search");
    assert_eq!(b.text("#no-match"), "No device matches these filters.");
    let hint = b.text("#mac-hint");
    assert!(
        hint.contains("not as a MAC") && hint.contains("it must have 12 hex digits"),
        "{hint}"
    );
    b.goto(&format!("{admin}/ui/devices?model=CP-9999-3PCC&q={user}"));
    assert_eq!(b.text("#no-match"), "No device matches these filters.");
    let page = b.source();
    assert!(!page.contains("id=\"devices\""), "no list: {page}");
    assert!(!page.contains("mac-hint"), "a user id is no MAC: {page}");
    b.goto(&format!("{admin}/ui/devices?q={user}"));
    b.click(&format!("#devices a[href='/ui/devices/{mac}']"));
    assert_eq!(b.text("h1"), format!("Device {mac}"));
    let key = s.key(&mac);
    assert!(!key.is_empty());
    assert!(
        b.source().contains(&key),
        "the admin's device page carries the key"
    );
    b.doc_shot("device");

    // (2b) Issue 14 item 4: bulk selection on the device list. Tick the
    // device, queue a task for the selection, and wait on the job page
    // for its end (its progress part refreshes itself while it runs).
    b.goto(&format!("{admin}/ui/devices?q={user}"));
    b.click(&format!("#sel-{mac}"));
    b.click("#action option[value='task']");
    b.type_in("#rate", "50");
    b.click("#bulk-start");
    assert!(b.text("h1").starts_with("Bulk job"), "{}", b.source());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while b.text("#job-state") == "running" {
        assert!(
            std::time::Instant::now() < deadline,
            "the job page never showed the end"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(b.text("#job-state"), "done");
    assert_eq!(b.text("#succeeded"), "1");
    assert_eq!(b.text("#handled"), "1 of 1");

    // (3) The help desk user on the same page: no key anywhere in it.
    b.sign_in(&admin, "hal", HELPDESK_PW);
    b.find("body");
    b.goto(&format!("{admin}/ui/devices/{mac}"));
    assert_eq!(b.text("h1"), format!("Device {mac}"));
    assert_eq!(b.text("#key"), "hidden (admins only)");
    assert!(
        !b.source().contains(&key),
        "the help desk page must not carry the device key"
    );

    // (4) The help desk user on a template: no edit controls, and a save
    // posted with the page's own CSRF token is refused by the server (403,
    // the reason in the page), the file unchanged. The API's refusal is in
    // user_token.rs.
    let page_url = format!("{admin}/ui/templates/default.xml.j2");
    b.goto(&page_url);
    assert!(
        b.source().contains("Only admins change templates."),
        "{}",
        b.source()
    );
    assert!(
        !b.source().contains("id=\"save\""),
        "a save button for the help desk"
    );
    let file = s.data().join("templates/default.xml.j2");
    let before = std::fs::read_to_string(&file).unwrap();
    let hal = CurlSession::sign_in(&admin, "hal", HELPDESK_PW);
    let (code, page) = hal.get(&page_url);
    assert_eq!(code, 200);
    let form = format!(
        "csrf={}&action=save&source=%3Cflat-profile%2F%3E",
        csrf_of(&page)
    );
    let (code, body) = hal.post(&page_url, &form);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("Only admins change templates"), "{body}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        before,
        "file unchanged"
    );
}

/// Issue 14 item 2: a signed-in POST without the CSRF token is refused
/// and changes nothing; the same POST with the page's token is accepted
/// (it is the token, not the session, that was missing).
#[test]
fn post_without_csrf_token_is_refused() {
    let s = start_console(DEVICES);
    let admin = format!("http://{}", s.admin.unwrap());
    let session = CurlSession::sign_in(&admin, "ann", ADMIN_PW);
    let jar = session.jar();
    let (mac, _) = device_n(7);
    let page_url = format!("{admin}/ui/devices/{mac}");
    let (code, page) = curl(&["-b", jar, &page_url]);
    assert_eq!(code, 200, "signed in");
    let token = csrf_of(&String::from_utf8_lossy(&page));
    let vars_url = format!("{page_url}/vars");
    let before = s.device_json(&mac)["vars"].clone();

    let (code, body) = curl(&["-b", jar, "--data", "vars=user%3D99999", &vars_url]);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("CSRF"), "{body}");
    let (code, _) = curl(&[
        "-b",
        jar,
        "--data",
        "csrf=forged&vars=user%3D99999",
        &vars_url,
    ]);
    assert_eq!(code, 403);
    assert_eq!(s.device_json(&mac)["vars"], before, "nothing changed");

    // A form over the 1 MiB limit, even with the token, is 413: nothing
    // read past the limit, nothing written.
    let big = tempfile::NamedTempFile::new().unwrap();
    let mut form = format!("csrf={token}&vars=user%3D99999&pad=");
    form.push_str(&"x".repeat(1 << 20));
    std::fs::write(big.path(), form).unwrap();
    let (code, _) = curl(&[
        "-b",
        jar,
        "--data-binary",
        &format!("@{}", big.path().display()),
        &vars_url,
    ]);
    assert_eq!(code, 413);
    assert_eq!(s.device_json(&mac)["vars"], before, "nothing changed");

    // The same POST with the page's token is accepted.
    let (code, body) = curl(&[
        "-b",
        jar,
        "--data",
        &format!("csrf={token}&vars=user%3D99999"),
        &vars_url,
    ]);
    assert_eq!(code, 303, "{}", String::from_utf8_lossy(&body));
    assert_eq!(s.device_json(&mac)["vars"]["user"], "99999");
}
