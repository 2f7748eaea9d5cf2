//! Issue 14's Done-when browser cases about the fleet, each against a real
//! `phoneprov serve` and headless chromium (WebDriver over curl, like
//! `console_browser.rs`), with real `phoneprov sim` phones where a phone
//! must answer:
//! - the device page: edit a variable and see the rendered profile change
//!   (a malformed name or value is refused in the page, nothing written);
//!   push a resync to a running sim phone and see the events arrive on
//!   the same page without a reload (the timeline's live part); queue a
//!   GetParameterValues for the sim's TR-069 CPE and see its result; a
//!   task queued while the CPE is silent is cancelled from the page; a
//!   task with an unknown RPC is refused, nothing queued;
//! - the template page: a change that breaks lint on 3 of 1 000 devices
//!   is refused with those 3 MACs named, the file unchanged;
//! - 100 sim phones: a bulk resync of their group at 50/s from the device
//!   list, followed on the job page until done; a staged rollout whose
//!   image a fifth of them refuse halts after its first wave, shown on
//!   `/ui/rollouts/{id}` with the reason and the failed devices.
//!
//! Every wait polls with a deadline. A failing case keeps the page's
//! screenshot and HTML (their paths are printed; `browser_support`).

mod browser_support;
mod serve_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use browser_support::*;
use serde_json::{json, Value};
use serve_support::*;

/// The longest wait for anything a phone or the server does.
const WAIT: Duration = Duration::from_secs(90);

/// Polls `check` every 100 ms until it gives a value; panics with `what`
/// and the last observation after [`WAIT`].
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) => assert!(Instant::now() < deadline, "waited for {what}: {last}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running `phoneprov sim`, killed on drop.
struct Sim(Child);

impl Sim {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The port `phoneprov sim` printed on its stderr (the file `err`) in the
/// line starting with `prefix` (`phone endpoints on http://`): the sim
/// listens on port 0 and says where, and prints it once it listens.
fn sim_port(err: &Path, prefix: &str) -> u16 {
    wait_for(&format!("the sim's line {prefix:?}"), || {
        let text = std::fs::read_to_string(err).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split('/').next()?.rsplit(':').next()?.parse().ok())
            .ok_or(text)
    })
}

/// The `push_url` of a device behind the sim's phone endpoints on `port`.
fn push_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/{{mac}}/")
}

/// What the fleet cases add to the shared [`Browser`]: reads through the
/// page's own JavaScript, so a live part replaced between two WebDriver
/// calls is never a stale element.
impl Browser {
    /// Runs `script` in the page with `args` (WebDriver's execute/sync).
    fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The text of every element `css` selects, in document order.
    fn texts(&self, css: &str) -> Vec<String> {
        let v = self.js(
            "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText);",
            json!([css]),
        );
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The text of the first element `css` selects ("" when none does).
    fn text_of(&self, css: &str) -> String {
        self.texts(css).into_iter().next().unwrap_or_default()
    }

    /// Sets a form field's value as a whole (text with newlines or control
    /// characters that typing cannot carry).
    fn set_value(&self, css: &str, value: &str) {
        let done = self.js(
            "const e = document.querySelector(arguments[0]); if (!e) return false; e.value = arguments[1]; return true;",
            json!([css, value]),
        );
        assert_eq!(done, true, "no {css} on {}", self.url());
    }

    /// Polls the text of `css` until `ok` accepts it.
    fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        wait_for(what, || {
            let t = self.text_of(css);
            if ok(&t) {
                Ok(t)
            } else {
                Err(format!("{css} reads {t:?}"))
            }
        })
    }

    /// Marks the current document; [`Browser::same_document`] tells
    /// whether the page was reloaded since.
    fn mark_document(&self) {
        self.js("window.__fleetMark = 1; return null;", json!([]));
    }

    fn same_document(&self) -> bool {
        self.js("return window.__fleetMark === 1;", json!([])) == true
    }
}

impl Browser {
    /// The cells' text of every row `css` selects (`#timeline tbody tr`).
    fn rows(&self, css: &str) -> Vec<Vec<String>> {
        let v = self.js(
            "return Array.from(document.querySelectorAll(arguments[0])).map(r => Array.from(r.cells).map(c => c.innerText.trim()));",
            json!([css]),
        );
        serde_json::from_value(v).unwrap()
    }
}

const PHONE: &str = "000e08000001";
const PHONE_KEY: &str = "fleet-browser-key-0123456789";
const CPE_USER: &str = "cpe";
const CPE_PASS: &str = "cpe-secret-1";

/// The timeline's rows of the phone's own profile fetches (kind resync
/// with an outcome; a push has none).
fn fetches(b: &Browser) -> usize {
    b.rows("#timeline tbody tr")
        .iter()
        .filter(|r| r.len() == 5 && r[1] == "resync" && !r[2].is_empty())
        .count()
}

/// The timeline's rows of pushes sent.
fn pushes(b: &Browser) -> usize {
    b.rows("#timeline tbody tr")
        .iter()
        .filter(|r| r.len() == 5 && r[4].starts_with("push resync sent"))
        .count()
}

/// Waits out [`phoneprov_store::FOLD_WINDOW`] from `since` (when the
/// phone's last fetch was seen): the server folds a fetch identical to
/// the device's previous one within that window into the first event (a
/// resync storm costs one write), so a pushed fetch shows as a new
/// timeline row only after it. A documented window, not a race.
fn past_fold_window(since: Instant) {
    let until = since + phoneprov_store::FOLD_WINDOW + Duration::from_millis(500);
    if let Some(rest) = until.checked_duration_since(Instant::now()) {
        std::thread::sleep(rest);
    }
}

/// The ACS tasks table: (id, rpc, state, result) per row.
fn tasks(b: &Browser) -> Vec<(String, String, String, String)> {
    b.rows("#tasks tbody tr")
        .into_iter()
        .filter(|r| r.len() == 7)
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone(), r[5].clone()))
        .collect()
}

/// Issue 14 Done-when, the device page with one real `phoneprov sim`
/// phone that is also a TR-069 CPE of the server's ACS: edit a variable
/// and see the profile change (bad names and values refused, nothing
/// written); push a resync and see the phone's fetch arrive without a
/// reload; a GetParameterValues result; a task queued while the CPE is
/// silent, cancelled from the page; an unknown RPC refused.
#[test]
fn device_page_edits_pushes_and_runs_tasks_on_a_sim_phone() {
    let config = format!("[acs]\nauth = \"digest\"\nusers = {{ {CPE_USER} = \"{CPE_PASS}\" }}\n");
    let s = start_with(Some(&config), &[], |data| {
        std::fs::create_dir_all(data.join("templates")).unwrap();
        std::fs::write(
            data.join("templates/default.xml.j2"),
            "<flat-profile>\n  <Resync_Periodic>3600</Resync_Periodic>\n  \
             <Display_Name_1_>{{ display_name }}</Display_Name_1_>\n</flat-profile>\n",
        )
        .unwrap();
        import_csv(
            data,
            &format!(
                "mac,serial,model,key,display_name\n\
                 {PHONE},SN000001,CP-8841-3PCC,{PHONE_KEY},Front desk\n"
            ),
        );
        add_user(data, "ann", "admin", ADMIN_PW);
    });
    let admin = format!("http://{}", s.admin.unwrap());
    let http = s.http.unwrap();
    let acs = s.acs.expect("the ACS listener");
    let mut sim = Sim(Command::new(BIN)
        .args([
            "sim",
            "--count",
            "1",
            "--mac-base",
            PHONE,
            "--duration",
            "600",
        ])
        .args(["--listen", "127.0.0.1:0", "--cr-listen", "127.0.0.1:0"])
        .args(["--acs", &format!("http://{acs}/")])
        .args(["--acs-user", CPE_USER, "--acs-password", CPE_PASS])
        .args(["--inform-interval", "0"])
        .args([
            "--param",
            &format!("Profile_Rule=[--key {PHONE_KEY}] http://{http}/$MA.cfg"),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(s.dir.path().join("sim.err")).unwrap())
        .spawn()
        .expect("run phoneprov sim"));
    let push_port = sim_port(&s.dir.path().join("sim.err"), "phone endpoints on http://");
    // Where pushes reach the phone (the sim's one listener for its phones).
    let out = phoneprov(&[
        "device",
        "set",
        PHONE,
        &format!("push_url={}", push_url(push_port)),
        "--data",
        s.data().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "device set: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let b = Browser::start();
    b.sign_in(&admin, "ann", ADMIN_PW);
    b.find("body");
    let page = format!("{admin}/ui/devices/{PHONE}");
    b.goto(&page);
    assert_eq!(b.text("h1"), format!("Device {PHONE}"));
    // The phone's boot: its first fetch and its first Inform, shown by
    // the timeline's live part.
    wait_for(
        "the phone's boot fetch and Inform on the device page",
        || {
            let rows = b.rows("#timeline tbody tr");
            let inform = rows.iter().any(|r| r.len() == 5 && r[1] == "inform");
            if fetches(&b) >= 1 && inform {
                Ok(())
            } else {
                Err(format!("{rows:?}"))
            }
        },
    );
    let mut last_fetch = Instant::now();

    // (1) Edit a variable: the rendered profile on the same page follows.
    assert!(
        b.text_of("#profile")
            .contains("<Display_Name_1_>Front desk</Display_Name_1_>"),
        "{}",
        b.text_of("#profile")
    );
    let push_line = format!("push_url={}", push_url(push_port));
    b.set_value("#vars", &format!("display_name=Reception 2\n{push_line}\n"));
    b.click("#save-vars");
    b.wait_text("#notice", "the saved notice", |t| t == "Variables saved.");
    assert!(
        b.text_of("#profile")
            .contains("<Display_Name_1_>Reception 2</Display_Name_1_>"),
        "the rendered profile follows the edit: {}",
        b.text_of("#profile")
    );
    assert_eq!(s.device_json(PHONE)["vars"]["display_name"], "Reception 2");
    // A malformed name and a malformed value: both lines named, nothing
    // written, the typed text kept for fixing.
    let before = s.device_json(PHONE)["vars"].clone();
    b.set_value(
        "#vars",
        &format!("display name=Lobby\n{push_line}\ntitle=bell\u{7}here\n"),
    );
    b.click("#save-vars");
    let errors = b.wait_text("#var-errors", "the variable errors", |t| !t.is_empty());
    assert!(
        errors.contains("line 1") && errors.contains("line 3"),
        "both bad lines named: {errors}"
    );
    assert_eq!(b.text_of("#notice"), "Nothing was saved.");
    assert_eq!(s.device_json(PHONE)["vars"], before, "nothing written");
    assert!(
        b.text_of("#profile").contains("Reception 2"),
        "the profile shown is still the saved one"
    );

    // (2) Push a resync from the page: the push is recorded, and the
    // phone's fetch it triggers reaches the page.
    past_fold_window(last_fetch);
    b.goto(&page);
    let fetched = fetches(&b);
    b.click("#resync");
    b.wait_text("#notice", "the push notice", |t| t == "Resync pushed.");
    wait_for("the push and the phone's fetch on the page", || {
        let (p, f) = (pushes(&b), fetches(&b));
        if p >= 1 && f > fetched {
            Ok(())
        } else {
            Err(format!("{p} pushes, {f} fetches (before {fetched})"))
        }
    });
    last_fetch = Instant::now();
    // The live part: with this very document open (no navigation, no
    // reload), another push and its fetch appear in it.
    past_fold_window(last_fetch);
    b.mark_document();
    let (p0, f0) = (pushes(&b), fetches(&b));
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        &s.admin_auth(),
        &s.admin_url(&format!("/api/v1/devices/{PHONE}/resync")),
    ]);
    assert!(
        (200..300).contains(&code),
        "API push: {code} {}",
        String::from_utf8_lossy(&body)
    );
    wait_for("the new events in the open page", || {
        let (p, f) = (pushes(&b), fetches(&b));
        if p > p0 && f > f0 {
            Ok(())
        } else {
            Err(format!("{p} pushes (was {p0}), {f} fetches (was {f0})"))
        }
    });
    assert!(b.same_document(), "the events came without a reload");

    // (3) A GetParameterValues from the task form: the CPE is asked at
    // once (connection request) and its answer shows in the page.
    let sw = "Device.DeviceInfo.SoftwareVersion";
    b.set_value(
        "#task",
        &format!(r#"{{"rpc":"GetParameterValues","names":["{sw}"]}}"#),
    );
    b.click("#queue-task");
    b.wait_text("#notice", "the queued notice", |t| t == "Task queued.");
    let done = wait_for("the task's result on the page", || {
        let t = tasks(&b);
        match t.iter().find(|t| t.1.contains("GetParameterValues")) {
            Some(row) if row.2 == "done" => Ok(row.clone()),
            _ => Err(format!("{t:?}")),
        }
    });
    assert!(
        done.3.contains(sw) && done.3.contains("11.0.1"),
        "the result names the parameter and the sim's version: {done:?}"
    );
    b.doc_shot("device-tasks");

    // A task with an unknown RPC: a clear message, nothing queued.
    let queued_before = tasks(&b).len();
    b.set_value("#task", r#"{"rpc":"FrobnicateEverything"}"#);
    b.click("#queue-task");
    let msg = b.wait_text("main .error", "the refusal of the unknown RPC", |t| {
        t.contains("Bad task, nothing queued")
    });
    assert!(
        msg.contains("FrobnicateEverything"),
        "the RPC is named: {msg}"
    );
    b.goto(&page);
    assert_eq!(tasks(&b).len(), queued_before, "nothing queued");

    // The CPE falls silent (the sim stops): a task queued now waits, and
    // the page cancels it.
    sim.stop();
    b.set_value(
        "#task",
        r#"{"rpc":"GetParameterNames","path":"Device.","next_level":true}"#,
    );
    b.click("#queue-task");
    b.wait_text("#notice", "the queued notice", |t| t == "Task queued.");
    let waiting = wait_for("the silent CPE's task queued", || {
        let t = tasks(&b);
        match t.iter().find(|t| t.1.contains("GetParameterNames")) {
            Some(row) if row.2 == "queued" => Ok(row.clone()),
            _ => Err(format!("{t:?}")),
        }
    });
    // The live part is replaced only when it changed: a keyboard user's
    // focus on the Cancel button survives two of the page's polls.
    let cancel = format!("cancel-{}", waiting.0);
    let polls = || {
        b.js(
            "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/live')).length;",
            json!([]),
        )
        .as_u64()
        .unwrap()
    };
    b.js(
        "document.getElementById(arguments[0]).focus(); return null;",
        json!([cancel]),
    );
    let seen = polls();
    wait_for("two polls of the live part", || {
        if polls() >= seen + 2 {
            Ok(())
        } else {
            Err(format!("{} polls since the focus", polls() - seen))
        }
    });
    assert_eq!(
        b.js("return document.activeElement.id;", json!([])),
        cancel.as_str(),
        "the focus survives the polls"
    );
    b.click(&format!("#{cancel}"));
    b.wait_text("#notice", "the cancel notice", |t| t == "Task cancelled.");
    let t = tasks(&b);
    let row = t.iter().find(|t| t.0 == waiting.0).unwrap();
    assert_eq!(row.2, "cancelled", "{t:?}");
    assert_eq!(
        b.js(
            "return document.getElementById(arguments[0]) === null;",
            json!([format!("cancel-{}", waiting.0)])
        ),
        true,
        "no cancel button left for a cancelled task"
    );
}

/// The template before the change, and one that takes the SIP port from a
/// variable: three of the 1 000 devices hold 99999 (as in
/// `template_change.rs`, which proves the same through the API).
const TEMPLATE: &str = "<flat-profile>\n  <Display_Name_1_>{{ name }}</Display_Name_1_>\n  <SIP_Port_1_>5060</SIP_Port_1_>\n</flat-profile>\n";
const BREAKING: &str = "<flat-profile>\n  <Display_Name_1_>{{ name }}</Display_Name_1_>\n  <SIP_Port_1_>{{ port }}</SIP_Port_1_>\n</flat-profile>\n";
const BROKEN: [&str; 3] = ["000e08000005", "000e080001f4", "000e080003e7"];

/// Issue 14 Done-when: a template change that breaks lint on 3 of 1 000
/// devices. The preview names the 3; the save is refused in the page with
/// the same 3 named, and the file on disk is unchanged.
#[test]
fn template_save_breaking_lint_on_3_of_1000_is_refused_in_the_page() {
    let s = start_with(None, &[], |data| {
        std::fs::create_dir_all(data.join("templates")).unwrap();
        std::fs::write(data.join("templates/default.xml.j2"), TEMPLATE).unwrap();
        let mut csv = String::from("mac,model,group,name,port\n");
        for i in 0..1000u32 {
            let port = if [5, 500, 999].contains(&i) {
                99999
            } else {
                5060 + i % 3
            };
            csv.push_str(&format!(
                "000e0800{i:04x},CP-8841-3PCC,sales,user{i},{port}\n"
            ));
        }
        import_csv(data, &csv);
        add_user(data, "ann", "admin", ADMIN_PW);
    });
    let file = s.data().join("templates/default.xml.j2");
    let admin = format!("http://{}", s.admin.unwrap());
    let b = Browser::start();
    b.sign_in(&admin, "ann", ADMIN_PW);
    b.find("body");
    b.goto(&format!("{admin}/ui/templates/default.xml.j2"));
    assert_eq!(b.text("h1"), "Template default.xml.j2");

    // The preview: 3 devices named, nothing written.
    b.set_value("#source", BREAKING);
    b.click("#preview");
    b.wait_text("#checked", "the preview's counts", |t| t == "1000");
    let named: Vec<String> = b
        .texts("#lint-errors > li > a")
        .into_iter()
        .map(|t| t.trim().to_string())
        .collect();
    assert_eq!(named, BROKEN, "the preview names exactly the 3");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TEMPLATE);

    // The save: refused in the page, the same 3 named, the file unchanged.
    b.click("#save");
    let refused = b.wait_text("#refused", "the refusal", |t| !t.is_empty());
    assert!(
        refused.contains("3 of 1000 devices"),
        "the refusal counts them: {refused}"
    );
    for mac in BROKEN {
        assert!(refused.contains(mac), "{mac} named: {refused}");
    }
    assert_eq!(b.text_of("#h-report"), "Refused: nothing was saved");
    b.doc_shot("template");
    assert!(
        b.text_of("#lint-errors").contains("SIP_Port_1_"),
        "each device's lint error: {}",
        b.text_of("#lint-errors")
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        TEMPLATE,
        "the template file is unchanged"
    );
    // The typed change stays in the form to fix.
    assert_eq!(
        b.js("return document.getElementById('source').value;", json!([])),
        BREAKING
    );
}

const FLEET: u32 = 100;
const FLEET_KEY: &str = "fleet-rollout-key-0123456789";

fn fleet_mac(i: u32) -> String {
    format!("000e0800{:04x}", i + 1)
}

/// Phone `i` refuses the new image (every fifth, from the first).
fn refuses(i: u32) -> bool {
    i.is_multiple_of(5)
}

/// The fleet's inventory as CSV: group `fleet`, one key, the refusing
/// phones' `downgrade_limit`, and `push_url` when the sim's phone
/// endpoints are known (`port`).
fn fleet_csv(port: Option<u16>) -> String {
    let mut csv = String::from("mac,model,group,key,downgrade_limit");
    csv.push_str(if port.is_some() { ",push_url\n" } else { "\n" });
    for i in 0..FLEET {
        let limit = if refuses(i) { "99" } else { "" };
        csv.push_str(&format!(
            "{},CP-8841-3PCC,fleet,{FLEET_KEY},{limit}",
            fleet_mac(i)
        ));
        if let Some(p) = port {
            csv.push_str(&format!(",{}", push_url(p)));
        }
        csv.push('\n');
    }
    csv
}

/// Issue 14 Done-when, 100 real `phoneprov sim` phones in group `fleet`:
/// (a) from the device list filtered on the group, a bulk resync at 50/s
/// followed on the job page until done (every phone answered); (b) a
/// staged rollout started from `/ui/rollouts` whose image a fifth of the
/// phones refuse (`Downgrade_Rev_Limit` above it, as in `rollout_cli.rs`)
/// halts after its first wave: its page shows the state, the reason and
/// the two failed phones with the reason they reported.
#[test]
fn bulk_resync_and_a_halting_rollout_on_100_sim_phones() {
    let s = start_with(None, &[], |data| {
        import_csv(data, &fleet_csv(None));
        std::fs::create_dir_all(data.join("templates")).unwrap();
        std::fs::write(
            data.join("templates/default.xml.j2"),
            "<flat-profile>\n  <Resync_Periodic>10</Resync_Periodic>\n  <Resync_Random_Delay>1</Resync_Random_Delay>\n\
             {% if downgrade_limit %}  <Downgrade_Rev_Limit>{{ downgrade_limit }}</Downgrade_Rev_Limit>\n{% endif %}</flat-profile>\n",
        )
        .unwrap();
        std::fs::create_dir_all(data.join("firmware")).unwrap();
        std::fs::write(
            data.join("firmware/cp-12.0.1.loads"),
            "PHONEPROV-FIRMWARE 12.0.1\nimage",
        )
        .unwrap();
        add_user(data, "ann", "admin", ADMIN_PW);
    });
    let data = s.data();
    let http = s.http.expect("http listener");
    let syslog = s.syslog.expect("syslog listener");
    let _sim = Sim(Command::new(BIN)
        .args([
            "sim",
            "--count",
            &FLEET.to_string(),
            "--mac-base",
            &fleet_mac(0),
        ])
        .args(["--duration", "600"])
        .args(["--listen", "127.0.0.1:0"])
        .args([
            "--param",
            &format!("Profile_Rule=[--key {FLEET_KEY}] http://{http}/$MA.cfg"),
        ])
        .args([
            "--param",
            &format!("Syslog_Server=127.0.0.1:{}", syslog.port()),
        ])
        .args(["--param", "Resync_Random_Delay=1"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(s.dir.path().join("sim.err")).unwrap())
        .spawn()
        .expect("run phoneprov sim"));
    // Where pushes reach the phones: the same rows again, with push_url.
    let push_port = sim_port(&s.dir.path().join("sim.err"), "phone endpoints on http://");
    import_csv(&data, &fleet_csv(Some(push_port)));
    // The pushes go where the server's database says: the rows just
    // imported are there (on PostgreSQL, not in the directory's file).
    for i in [0, FLEET - 1] {
        assert_eq!(
            s.device_json(&fleet_mac(i))["vars"]["push_url"],
            push_url(push_port).as_str(),
            "the server's inventory has the push_url of {}",
            fleet_mac(i)
        );
    }
    wait_for("every sim phone's first resync", || {
        let n = query(
            &data,
            "SELECT count(*) FROM devices WHERE last_outcome = 'success'",
        );
        if n.trim() == FLEET.to_string() {
            Ok(())
        } else {
            Err(format!(
                "{} resynced; sim stderr: {}",
                n.trim(),
                std::fs::read_to_string(s.dir.path().join("sim.err")).unwrap_or_default()
            ))
        }
    });

    let admin = format!("http://{}", s.admin.unwrap());
    let b = Browser::start();
    b.sign_in(&admin, "ann", ADMIN_PW);
    b.find("body");

    // (a) Bulk resync of the group at 50/s from the filtered device list.
    b.goto(&format!("{admin}/ui/devices?group=fleet"));
    b.find("#devices");
    b.click("#scope option[value='filter']");
    b.click("#action option[value='resync']");
    b.type_in("#rate", "50");
    b.click("#bulk-start");
    assert!(b.text("h1").starts_with("Bulk job"), "{}", b.source());
    let job_url = b.url();
    b.mark_document();
    let mut seen: Vec<u32> = Vec::new();
    wait_for("the bulk job's end on its page", || {
        let handled = b.text_of("#handled");
        let n: u32 = handled
            .split(" of ")
            .next()
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("#handled reads {handled:?}"))?;
        if seen.last() != Some(&n) {
            seen.push(n);
        }
        let state = b.text_of("#job-state");
        if state == "running" {
            Err(format!("{handled}, {state}"))
        } else {
            Ok(())
        }
    });
    assert!(b.same_document(), "the progress came in the open page");
    assert_eq!(b.url(), job_url);
    assert_eq!(b.text_of("#job-state"), "done");
    assert_eq!(b.text_of("#handled"), format!("{FLEET} of {FLEET}"));
    assert_eq!(b.text_of("#succeeded"), FLEET.to_string());
    assert_eq!(b.text_of("#failed"), "0");
    b.doc_shot("bulk-job");
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {seen:?}"
    );
    assert_eq!(
        query(
            &data,
            "SELECT count(DISTINCT mac) FROM events WHERE message LIKE 'push resync sent%'"
        )
        .trim(),
        FLEET.to_string(),
        "every phone of the group got its push"
    );

    // (b) A staged rollout from the rollouts page: waves 10/50/100 %, the
    // 10 % gate. Wave 1 (10 phones, 2 refusing) halts it.
    b.goto(&format!("{admin}/ui/rollouts"));
    b.type_in("#version", "12.0.1");
    b.type_in("#file", "cp-12.0.1.loads");
    b.type_in("#group", "fleet");
    b.type_in("#waves", "10,50,100");
    b.type_in("#threshold", "10");
    b.type_in("#wave_timeout", "2m");
    b.type_in("#rate", "10");
    b.click("#start-rollout button[type='submit']");
    let state = b.wait_text("#state", "the rollout's page", |t| !t.is_empty());
    assert!(
        b.url().contains("/ui/rollouts/"),
        "the start shows the rollout's page: {} ({state})",
        b.url()
    );
    b.mark_document();
    b.wait_text("#state", "the halt on the rollout's page", |t| {
        t == "halted"
    });
    assert!(b.same_document(), "the halt came in the open page");
    assert_eq!(b.text_of("#wave"), "1 of 3");
    let reason = b.text_of("#reason");
    assert!(
        reason.starts_with("wave 1 of 3: 2 of 10 devices failed (20 %"),
        "{reason}"
    );
    let failed = b.texts("#failed li");
    assert_eq!(failed.len(), 2, "{failed:?}");
    b.doc_shot("rollout");
    for (line, i) in failed.iter().zip([0, 5]) {
        assert!(line.starts_with(&fleet_mac(i)), "{line}");
        assert!(line.contains("(wave 1)"), "{line}");
        assert!(
            line.contains("Downgrade_Rev_Limit"),
            "the phone's reason: {line}"
        );
        assert!(reason.contains(&fleet_mac(i)), "{reason}");
    }
    // The other 90 never got the target.
    let waiting: u32 = b
        .rows("#counts tbody tr")
        .iter()
        .filter(|r| r.len() == 3 && r[0] != "1" && r[1] == "waiting")
        .map(|r| r[2].parse::<u32>().unwrap())
        .sum();
    assert_eq!(waiting, 90, "{:?}", b.rows("#counts tbody tr"));
    assert!(
        s.device_json(&fleet_mac(10))["vars"]
            .get("firmware_file")
            .is_none(),
        "a wave-2 phone was never switched"
    );
}
