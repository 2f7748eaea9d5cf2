//! The operator's console (`/ui/`, issue 14) in a real browser: headless
//! chromium driven over the W3C WebDriver protocol by `chromedriver`,
//! against a real `phoneprov serve` with 2000 imported devices.
//!
//! WebDriver is plain JSON over HTTP; the test speaks it with curl (the
//! HTTP client every `serve_*` test already uses) rather than adding a
//! WebDriver crate: the handful of commands below is all it needs.
//! chromium and chromedriver come from `scripts/install-peers`; a missing
//! one is a failure naming that script, never a skip. On a failure the
//! page's screenshot and HTML are kept and their paths printed.

mod serve_support;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serve_support::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const DEVICES: usize = 2000;
const ADMIN_PW: &str = "admin-pass-1";
const HELPDESK_PW: &str = "helpdesk-pass-1";

/// The MAC and the `user` variable of imported device `i`: the values
/// are all five digits, so no value is a prefix of another.
fn device_n(i: usize) -> (String, String) {
    (
        format!("000e08{:06x}", 0x100000 + i),
        format!("{}", 10000 + i),
    )
}

/// `phoneprov user add NAME --role ROLE` with the password on stdin.
fn add_user(data: &Path, name: &str, role: &str, password: &str) {
    let mut child = Command::new(BIN)
        .args(["user", "add", name, "--role", role, "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "user add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Serve with [`DEVICES`] imported devices, an admin `ann` and a help desk
/// user `hal`.
fn start_console() -> Served {
    start_with(None, &[], |data| {
        let mut csv = String::from("mac,model,user\n");
        for i in 0..DEVICES {
            let (mac, user) = device_n(i);
            csv.push_str(&format!("{mac},CP-8841-3PCC,{user}\n"));
        }
        let file = data.parent().unwrap().join("devices.csv");
        std::fs::write(&file, csv).unwrap();
        let out = Command::new(BIN)
            .args(["device", "import"])
            .arg(&file)
            .arg("--data")
            .arg(data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "device import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        add_user(data, "ann", "admin", ADMIN_PW);
        add_user(data, "hal", "helpdesk", HELPDESK_PW);
    })
}

/// A free loopback port (bound then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A chromedriver process and one headless chromium session.
struct Browser {
    driver: Option<Child>,
    base: String,
    session: String,
    /// Chromium's profile and, on failure, the screenshot and page HTML.
    dir: Option<tempfile::TempDir>,
}

impl Browser {
    fn start() -> Browser {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: run scripts/install-peers (it installs chromium and chromium-driver)"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                dir.path().join("chromedriver.log").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{CHROMEDRIVER} does not start ({e}): run scripts/install-peers")
            });
        let mut b = Browser {
            driver: Some(driver),
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            dir: Some(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (code, body) = curl(&[&format!("{}/status", b.base)]);
            if code == 200
                && serde_json::from_slice::<Value>(&body)
                    .ok()
                    .map(|v| v["value"]["ready"] == true)
                    == Some(true)
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = b.dir().join("profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000",
                         format!("--user-data-dir={}", profile.display())],
            },
        }}});
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        // Find elements for up to 10 s (pages load after a click).
        b.cmd("POST", "/timeouts", Some(json!({"implicit": 10000})));
        b
    }

    fn dir(&self) -> PathBuf {
        self.dir.as_ref().unwrap().path().to_path_buf()
    }

    /// One WebDriver call: the HTTP status and the whole answer.
    fn call_raw(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let body = body.map(|b| b.to_string());
        let mut args = vec!["-X", method, &url, "-H", "Content-Type: application/json"];
        if let Some(b) = &body {
            args.extend(["--data-binary", b]);
        }
        let (code, out) = curl(&args);
        let v: Value = serde_json::from_slice(&out)
            .unwrap_or_else(|_| panic!("{method} {path}: HTTP {code}, not JSON"));
        (code, v)
    }

    /// One WebDriver call; returns the answer's `value`, panics on an error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (code, v) = self.call_raw(method, path, body);
        assert_eq!(code, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    /// A call on this session.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }

    fn type_in(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    /// The text of the element `css` selects. Pages that refresh a part of
    /// themselves (the device and bulk-job pages, every 2 s) can replace
    /// the element between finding and reading it ("stale element
    /// reference"): then it is found again, five times at most.
    fn text(&self, css: &str) -> String {
        for attempt in 1..=5 {
            let e = self.find(css);
            let path = format!("/session/{}/element/{e}/text", self.session);
            let (code, v) = self.call_raw("GET", &path, None);
            if code != 200 && v["value"]["error"] == "stale element reference" && attempt < 5 {
                continue;
            }
            assert_eq!(code, 200, "GET {path}: {v}");
            return v["value"].as_str().unwrap().to_string();
        }
        unreachable!("the last attempt returns or panics")
    }

    fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn url(&self) -> String {
        self.cmd("GET", "/url", None).as_str().unwrap().to_string()
    }

    /// Signs in through the form (the browser keeps the session cookie).
    fn sign_in(&self, admin: &str, user: &str, password: &str) {
        self.cmd("DELETE", "/cookie", None);
        self.goto(&format!("{admin}/ui/login"));
        self.type_in("#user", user);
        self.type_in("#password", password);
        self.click("#sign-in");
    }

    /// Saves a PNG screenshot of the page at `png` (WebDriver answers
    /// base64; `base64 -d` decodes it). Errors are ignored: this also runs
    /// while a failed test unwinds.
    fn screenshot(&self, png: &Path) {
        let url = format!("{}/session/{}/screenshot", self.base, self.session);
        let (_, shot) = curl(&[&url]);
        if let Ok(v) = serde_json::from_slice::<Value>(&shot) {
            let b64 = self.dir().join("shot.b64");
            let _ = std::fs::write(&b64, v["value"].as_str().unwrap_or_default());
            if let (Ok(i), Ok(o)) = (std::fs::File::open(&b64), std::fs::File::create(png)) {
                let _ = Command::new("base64").arg("-d").stdin(i).stdout(o).status();
            }
        }
    }

    /// With `PHONEPROV_SCREENSHOTS=DIR` set, saves the page as `DIR/NAME.png`
    /// (how docs/screenshots/ is made).
    fn doc_shot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("PHONEPROV_SCREENSHOTS") {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            self.screenshot(&dir.join(format!("{name}.png")));
        }
    }

    /// Saves the screenshot (`failure.png`) and the page HTML
    /// (`failure.html`); returns their paths.
    fn save_failure(&self) -> (PathBuf, PathBuf) {
        let dir = self.dir();
        let html = dir.join("failure.html");
        let png = dir.join("failure.png");
        let url = format!("{}/session/{}/source", self.base, self.session);
        let (_, src) = curl(&[&url]);
        if let Ok(v) = serde_json::from_slice::<Value>(&src) {
            let _ = std::fs::write(&html, v["value"].as_str().unwrap_or_default());
        }
        self.screenshot(&png);
        (png, html)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.session.is_empty() {
            let (png, html) = self.save_failure();
            let kept = self.dir.take().unwrap().keep();
            eprintln!(
                "console_browser failed: screenshot {}, page HTML {}, chromedriver log {}",
                png.display(),
                html.display(),
                kept.join("chromedriver.log").display()
            );
        }
        if !self.session.is_empty() {
            let url = format!("{}/session/{}", self.base, self.session);
            let _ = curl(&["-X", "DELETE", &url]);
        }
        if let Some(mut c) = self.driver.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Issue 14 items 1 and 2 (R-CONSOLE): a wrong password is refused and
/// logged; an admin finds one device among 2000 by a variable value and
/// sees its key; a help desk user on the same page does not.
#[test]
fn console_in_headless_chromium() {
    let s = start_console();
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
}

/// The value of the first hidden `csrf` input in `html`.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf input") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// Issue 14 item 2: a signed-in POST without the CSRF token is refused
/// and changes nothing; the same POST with the page's token is accepted
/// (it is the token, not the session, that was missing).
#[test]
fn post_without_csrf_token_is_refused() {
    let s = start_console();
    let admin = format!("http://{}", s.admin.unwrap());
    let jar_dir = tempfile::tempdir().unwrap();
    let jar = jar_dir.path().join("jar");
    let jar = jar.to_str().unwrap();
    let (code, page) = curl(&["-c", jar, "-b", jar, &format!("{admin}/ui/login")]);
    assert_eq!(code, 200);
    let token = csrf_of(&String::from_utf8_lossy(&page));
    let form = format!("csrf={token}&next=%2Fui%2Foverview&user=ann&password={ADMIN_PW}");
    let (code, _) = curl(&[
        "-c",
        jar,
        "-b",
        jar,
        "--data",
        &form,
        &format!("{admin}/ui/login"),
    ]);
    assert_eq!(code, 303, "sign-in redirects");
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
