//! The console's group and activation pages (issue 14 item 3, "Templates
//! and groups" and "Activation") in headless chromium against a real
//! `phoneprov serve` (`browser_support`): the group list with device
//! counts, templates and firmware targets from the config; a group's page
//! previewing one device's rendered profile; activation codes created in
//! the page, listed, printed, redeemed by a phone and revoked; a help desk
//! user who sees no create or revoke control and whose forged POSTs are
//! refused with nothing written.

mod serve_support;

mod browser_support;

use std::path::Path;

use browser_support::*;
use serde_json::Value;
use serve_support::*;

/// Firmware targets: one per model, one for group `sales`.
const CONFIG: &str = "[firmware.models.\"CP-8841-3PCC\"]\nversion = \"11.3.7\"\nfile = \"sip88xx.11-3-7.loads\"\n\n[firmware.groups.sales]\nversion = \"12.0.1\"\nfile = \"sip88xx.12-0-1.loads\"\n";
const DEFAULT: &str =
    "<flat-profile>\n  <Display_Name_1_>{{ user }}</Display_Name_1_>\n</flat-profile>\n";
const SALES: &str =
    "<flat-profile>\n  <Display_Name_1_>{{ user }} (sales)</Display_Name_1_>\n</flat-profile>\n";
/// Devices 0..12 are in `sales`, 12..20 in `support`.
const SALES_N: usize = 12;
const ALL_N: usize = 20;

fn group_of(i: usize) -> &'static str {
    if i < SALES_N {
        "sales"
    } else {
        "support"
    }
}

fn start() -> Served {
    start_with(Some(CONFIG), &[], |data: &Path| {
        std::fs::create_dir_all(data.join("templates/group")).unwrap();
        std::fs::write(data.join("templates/default.xml.j2"), DEFAULT).unwrap();
        std::fs::write(data.join("templates/group/sales.xml.j2"), SALES).unwrap();
        let mut csv = String::from("mac,model,group,user\n");
        for i in 0..ALL_N {
            let (mac, user) = device_n(i);
            csv.push_str(&format!("{mac},CP-8841-3PCC,{},{user}\n", group_of(i)));
        }
        import_csv(data, &csv);
        add_console_users(data);
    })
}

/// `GET /api/v1/activation` with the admin token: the listing.
fn listing(s: &Served) -> Value {
    let (code, body) = curl(&["-H", &s.admin_auth(), &s.admin_url("/api/v1/activation")]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// Issue 14 item 3: the group list and a group's page, with the profile
/// preview of a chosen device; bad input gets a clear page; the help desk
/// sees the lint findings but not the decrypted profile.
#[test]
fn group_pages_preview_a_devices_profile() {
    let s = start();
    let admin = format!("http://{}", s.admin.unwrap());
    let b = Browser::start();
    b.sign_in(&admin, "ann", ADMIN_PW);
    b.find("body");
    b.goto(&format!("{admin}/ui/groups"));
    let rows = b.text("#groups tbody");
    let sales = rows.lines().find(|l| l.starts_with("sales")).unwrap();
    assert!(sales.contains(&SALES_N.to_string()), "{sales}");
    assert!(sales.contains("group/sales.xml.j2"), "{sales}");
    assert!(sales.contains("12.0.1 (sip88xx.12-0-1.loads)"), "{sales}");
    let support = rows.lines().find(|l| l.starts_with("support")).unwrap();
    assert!(
        support.contains(&(ALL_N - SALES_N).to_string()),
        "{support}"
    );
    assert!(support.contains("none (model or default)"), "{support}");
    assert!(support.contains("per model"), "{support}");
    assert!(b.text("#model-targets").contains("11.3.7"));
    b.doc_shot("groups");

    // The group's page: its target, template, devices with lint counts.
    b.click("#groups a[href='/ui/groups/sales']");
    assert_eq!(b.text("h1"), "Group sales");
    assert!(b.text("#group-target").contains("12.0.1"));
    assert!(b.text("#group-template").contains("group/sales.xml.j2"));
    assert_eq!(b.text("#group-devices tbody").lines().count(), SALES_N);
    // Preview device 3 (bookmarkable: ?device=MAC).
    let (mac, user) = device_n(3);
    b.click(&format!("#preview-{mac}"));
    assert!(b.url().contains(&format!("device={mac}")), "{}", b.url());
    assert!(b.text("#h-preview").contains(&mac));
    assert!(b.text("#preview-template").contains("group/sales.xml.j2"));
    assert!(
        b.text("#preview-profile")
            .contains(&format!("{user} (sales)")),
        "the group template rendered for {mac}"
    );
    b.doc_shot("group");
    // The same by typing a MAC in another notation into the form.
    let (mac5, user5) = device_n(5);
    b.type_in("#device", &mac5.to_ascii_uppercase());
    b.click("#preview");
    assert!(b
        .text("#preview-profile")
        .contains(&format!("{user5} (sales)")));

    // Bad input: an unknown group, a device of another group, no MAC.
    b.goto(&format!("{admin}/ui/groups/nosuch"));
    assert!(
        b.text("main").contains("No group \"nosuch\""),
        "{}",
        b.source()
    );
    let (other, _) = device_n(15);
    b.goto(&format!("{admin}/ui/groups/sales?device={other}"));
    assert!(
        b.text("main")
            .contains(&format!("Device {other} is not in group sales")),
        "{}",
        b.source()
    );
    b.goto(&format!("{admin}/ui/groups/sales?device=zz"));
    assert!(
        b.text("main").contains("Bad device \"zz\""),
        "{}",
        b.source()
    );

    // Help desk: the preview's lint, no decrypted profile.
    b.sign_in(&admin, "hal", HELPDESK_PW);
    b.find("body");
    b.goto(&format!("{admin}/ui/groups/sales?device={mac}"));
    assert!(b.text("#preview-template").contains("group/sales.xml.j2"));
    assert!(!b.source().contains("id=\"preview-profile\""));
    assert!(
        !b.source().contains(&s.key(&mac)),
        "no key for the help desk"
    );
}

/// Issue 14 item 3 ("Activation", Done-when "create activation codes"):
/// an admin creates codes in the page (a bad count is refused with
/// nothing written), sees them listed and printable, sees a phone's
/// redemption, and revokes one; the help desk sees masked codes and no
/// control, and its forged POSTs are refused with nothing written.
#[test]
fn activation_codes_created_listed_and_revoked() {
    let s = start();
    let admin = format!("http://{}", s.admin.unwrap());
    let b = Browser::start();
    b.sign_in(&admin, "ann", ADMIN_PW);
    b.find("body");
    b.goto(&format!("{admin}/ui/activation"));
    let url = "http://prov.example.com/cfg/$MA.xml";

    // A bad count: the page says so, keeps the form, writes nothing.
    b.type_in("#code-url", url);
    b.type_in("#code-count", "twelve");
    b.click("#create");
    assert!(
        b.text("#code-error")
            .starts_with("Bad number of codes \"twelve\""),
        "{}",
        b.text("#code-error")
    );
    assert!(b.text("#code-error").ends_with("No code was created."));
    assert!(b.source().contains(url), "the form keeps the URL");
    assert_eq!(listing(&s)["codes"].as_array().unwrap().len(), 0);

    // Five codes.
    b.type_in("#code-count", "5");
    b.click("#create");
    assert_eq!(b.text("#notice"), "Created 5 codes.");
    let codes: Vec<String> = listing(&s)["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 5);
    let table = b.text("#codes tbody");
    for c in &codes {
        assert!(table.contains(c), "{c} listed: {table}");
    }
    assert_eq!(table.matches("unused").count(), 5, "{table}");

    // The printable batch.
    b.click(&format!(
        "a[href='/ui/activation/print?batch={}']",
        listing(&s)["codes"][0]["created_ms"]
    ));
    let printed = b.text("#print-codes tbody");
    assert_eq!(printed.lines().count(), 5, "{printed}");
    for c in &codes {
        assert!(printed.contains(c), "{c} printed");
    }
    b.doc_shot("activation-print");

    // A phone redeems one (the phones' endpoint); the page shows by whom.
    let (mac, _) = device_n(2);
    let body = format!(r#"{{"mac":"{mac}","code":"{}"}}"#, codes[1]);
    let (code, answer) = curl(&[
        "-H",
        "Content-Type: application/json",
        "--data",
        &body,
        &format!("http://{}/activation/v1/code", s.http.unwrap()),
    ]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&answer));
    b.goto(&format!("{admin}/ui/activation"));
    let table = b.text("#codes tbody");
    let used = table.lines().find(|l| l.contains(&codes[1])).unwrap();
    assert!(used.contains("used") && used.contains(&mac), "{used}");
    assert!(b.text("#bindings").contains(&mac));

    // Revoke one: it expires now.
    b.click(&format!("#revoke-{}", codes[0]));
    assert_eq!(b.text("#notice"), "Code revoked: it expired now.");
    let revoked = listing(&s)["codes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == codes[0].as_str())
        .unwrap()
        .clone();
    assert!(revoked["used_by"].is_null());
    let table = b.text("#codes tbody");
    assert_eq!(table.matches("unused").count(), 3, "{table}");
    assert_eq!(table.matches("expired").count(), 1, "{table}");
    b.doc_shot("activation");

    // Help desk: masked codes, no create or revoke control.
    b.sign_in(&admin, "hal", HELPDESK_PW);
    b.find("body");
    b.goto(&format!("{admin}/ui/activation"));
    assert_eq!(b.text("h1"), "Activation");
    let page = b.source();
    assert!(!page.contains("id=\"create-codes\""), "no create form");
    assert!(!page.contains("/revoke"), "no revoke button");
    for c in &codes {
        assert!(!page.contains(c.as_str()), "code {c} is masked");
    }
    b.goto(&format!("{admin}/ui/activation/print"));
    assert!(b.text("main").contains("Only admins print"));

    // Forged POSTs with the help desk's own session and CSRF token.
    let hal = CurlSession::sign_in(&admin, "hal", HELPDESK_PW);
    let (_, page) = hal.get(&format!("{admin}/ui/activation"));
    let token = csrf_of(&page);
    let before = listing(&s);
    let (code, body) = hal.post(
        &format!("{admin}/ui/activation/codes"),
        &format!("csrf={token}&url=http%3A%2F%2Fevil.example%2F&count=3&ttl=7d"),
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("Only admins create or revoke"), "{body}");
    let (code, _) = hal.post(
        &format!("{admin}/ui/activation/codes/{}/revoke", codes[2]),
        &format!("csrf={token}"),
    );
    assert_eq!(code, 403);
    assert_eq!(listing(&s), before, "nothing written");
    // And an admin's POST without the CSRF token.
    let ann = CurlSession::sign_in(&admin, "ann", ADMIN_PW);
    let (code, _) = ann.post(
        &format!("{admin}/ui/activation/codes"),
        "url=http%3A%2F%2Fprov.example.com%2F&count=3",
    );
    assert_eq!(code, 403);
    assert_eq!(listing(&s), before, "nothing written");
}

/// The first overview after a start shows the counts `serve` made as it
/// started (issue 14: counting 1 000 000 devices took 0.7-4.3 s in the
/// first view): the page's "counted at" time is before the view was asked
/// for. The page gives whole seconds, so the view is asked for two
/// seconds after serve was up: counts made for the view would read that
/// second or later.
#[test]
fn the_first_overview_after_a_start_shows_the_counts_made_at_start() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let s = start();
    let up = SystemTime::now();
    let whole = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let asked = loop {
        let now = SystemTime::now();
        if whole(now) >= whole(up) + 2 {
            break now;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let admin = format!("http://{}", s.admin.unwrap());
    let c = CurlSession::sign_in(&admin, "ann", ADMIN_PW);
    let (code, page) = c.get(&format!("{admin}/ui/overview"));
    assert_eq!(code, 200, "{page}");
    let at = page
        .split("<small id=\"counted\">")
        .nth(1)
        .and_then(|r| r.split("datetime=\"").nth(1))
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no counted-at time: {page}"));
    let counted = humantime::parse_rfc3339(at).unwrap();
    assert!(
        whole(counted) < whole(asked),
        "counted at {at}, not before the first view ({})",
        humantime::format_rfc3339_seconds(asked)
    );
    assert!(
        page.contains(&format!("id=\"total\">{ALL_N} devices<")),
        "the warmed counts have the {ALL_N} devices: {page}"
    );
}

/// A bulk job's page groups the kept failures by reason, the most
/// frequent first, with a few MACs each (a job that failed on 100 phones
/// for one reason was a page of 100 lines): a real `serve`, a bulk resync
/// through the API whose pushes go to two closed URLs, the page read with
/// a signed-in console session.
#[test]
fn a_bulk_jobs_page_groups_its_failures_by_reason() {
    // Port 1 on two loopback addresses: nothing listens there, every push
    // is refused (the push goes to the URL's host and port).
    let host = |n: u8| format!("127.0.0.{n}:1");
    let s = start_with(None, &[], |data: &Path| {
        let mut csv = String::from("mac,model,group,push_url\n");
        for i in 0..9 {
            let (mac, _) = device_n(i);
            let to = host(if i < 6 { 1 } else { 2 });
            csv.push_str(&format!(
                "{mac},CP-8841-3PCC,bulk,http://{to}/admin/resync\n"
            ));
        }
        import_csv(data, &csv);
        add_console_users(data);
    });
    let body = serde_json::json!({
        "action": "resync",
        "selection": {"group": "bulk"},
        "rate": 100,
    })
    .to_string();
    let (code, out) = curl(&[
        "-H",
        &s.admin_auth(),
        "-H",
        "content-type: application/json",
        "--data",
        &body,
        &s.admin_url("/api/v1/bulk-jobs"),
    ]);
    assert!(
        (200..300).contains(&code),
        "{code} {}",
        String::from_utf8_lossy(&out)
    );
    let job: Value = serde_json::from_slice(&out).unwrap();
    let id = job["id"].as_i64().expect("job id");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let job = loop {
        let (code, out) = curl(&[
            "-H",
            &s.admin_auth(),
            &s.admin_url(&format!("/api/v1/bulk-jobs/{id}")),
        ]);
        assert_eq!(code, 200);
        let j: Value = serde_json::from_slice(&out).unwrap();
        if j["state"] != "running" {
            break j;
        }
        assert!(std::time::Instant::now() < deadline, "still running: {j}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(job["failed"], 9, "{job}");

    let admin = format!("http://{}", s.admin.unwrap());
    let c = CurlSession::sign_in(&admin, "ann", ADMIN_PW);
    let (code, page) = c.get(&format!("{admin}/ui/bulk/{id}"));
    assert_eq!(code, 200, "{page}");
    let table = page
        .split("<table id=\"failures\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no failures table: {page}"));
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 2, "one row per reason: {table}");
    for (row, (a, n)) in rows.iter().zip([(1, 6), (2, 3)]) {
        assert!(row.contains(&host(a)), "{row}");
        assert!(row.contains(&format!("class=\"count\">{n}<")), "{row}");
    }
    // The six of the first reason: five linked, one counted.
    assert_eq!(
        rows[0].matches("href=\"/ui/devices/").count(),
        5,
        "{}",
        rows[0]
    );
    assert!(rows[0].contains(" and 1 more"), "{}", rows[0]);
    assert!(
        rows[1].contains(&format!("href=\"/ui/devices/{}\"", device_n(6).0)),
        "{}",
        rows[1]
    );
}
