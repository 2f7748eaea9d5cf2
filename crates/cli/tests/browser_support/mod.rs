//! Shared helpers of the console's browser tests (`console_browser*.rs`,
//! issue 14): a real `phoneprov serve` with imported devices and console
//! users, and [`Browser`], headless chromium driven over the W3C WebDriver
//! protocol by `chromedriver`.
//!
//! WebDriver is plain JSON over HTTP; the helper speaks it with curl (the
//! HTTP client every `serve_*` test already uses) rather than adding a
//! WebDriver crate: the handful of commands below is all it needs.
//! chromium and chromedriver come from `scripts/install-peers`; a missing
//! one is a failure naming that script, never a skip. On a failure the
//! page's screenshot and HTML are kept and their paths printed.
//!
//! A test file declares `mod serve_support;` and then `mod browser_support;`.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::serve_support::{curl, import_csv, start_with, Served, BIN};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in WebDriver answers.
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The password of the admin `ann` that [`start_console`] adds.
pub const ADMIN_PW: &str = "admin-pass-1";
/// The password of the help desk user `hal` that [`start_console`] adds.
pub const HELPDESK_PW: &str = "helpdesk-pass-1";

/// The MAC and the `user` variable of imported device `i`: the values
/// are all five digits, so no value is a prefix of another.
pub fn device_n(i: usize) -> (String, String) {
    (
        format!("000e08{:06x}", 0x100000 + i),
        format!("{}", 10000 + i),
    )
}

/// `phoneprov user add NAME --role ROLE` with the password on stdin.
pub fn add_user(data: &Path, name: &str, role: &str, password: &str) {
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

/// Serve with `devices` imported devices (see [`device_n`], model
/// CP-8841-3PCC), an admin `ann` ([`ADMIN_PW`]) and a help desk user `hal`
/// ([`HELPDESK_PW`]).
pub fn start_console(devices: usize) -> Served {
    start_with(None, &[], |data| {
        let mut csv = String::from("mac,model,user\n");
        for i in 0..devices {
            let (mac, user) = device_n(i);
            csv.push_str(&format!("{mac},CP-8841-3PCC,{user}\n"));
        }
        import_csv(data, &csv);
        add_console_users(data);
    })
}

/// The admin `ann` ([`ADMIN_PW`]) and the help desk user `hal`
/// ([`HELPDESK_PW`]).
pub fn add_console_users(data: &Path) {
    add_user(data, "ann", "admin", ADMIN_PW);
    add_user(data, "hal", "helpdesk", HELPDESK_PW);
}

/// The port of a chromedriver started with `--port=0`, from the line it
/// prints on standard output (`ChromeDriver was started successfully on
/// port 36649.`); the rest of its output is read and dropped. `Err`: what
/// it printed instead.
fn driver_port(stdout: std::process::ChildStdout) -> Result<u16, String> {
    use std::io::BufRead as _;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let port = line
                .strip_prefix("ChromeDriver was started successfully on port ")
                .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok());
            match (port, tx.take()) {
                (Some(p), Some(tx)) => {
                    let _ = tx.send(Ok(p));
                }
                (None, t) => {
                    seen.push(line);
                    tx = t;
                }
                (Some(_), None) => {}
            }
        }
        if let Some(tx) = tx {
            let _ = tx.send(Err(seen.join("\n")));
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(r) => r.map_err(|out| format!("chromedriver stopped without saying its port: {out}")),
        Err(_) => Err("chromedriver did not say its port within 30 s".into()),
    }
}

/// A chromedriver process and one headless chromium session.
pub struct Browser {
    driver: Option<Child>,
    base: String,
    session: String,
    /// Chromium's profile and, on failure, the screenshot and page HTML.
    dir: Option<tempfile::TempDir>,
}

impl Browser {
    pub fn start() -> Browser {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: run scripts/install-peers (it installs chromium and chromium-driver)"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        // Port 0: chromedriver binds a free port itself and says which
        // (a port picked here and released could be taken meanwhile).
        let mut driver = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .arg(format!(
                "--log-path={}",
                dir.path().join("chromedriver.log").display()
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{CHROMEDRIVER} does not start ({e}): run scripts/install-peers")
            });
        let port = match driver_port(driver.stdout.take().expect("piped")) {
            Ok(p) => p,
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("{e}");
            }
        };
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

    pub fn dir(&self) -> PathBuf {
        self.dir.as_ref().unwrap().path().to_path_buf()
    }

    /// One WebDriver call: the HTTP status and the whole answer.
    pub fn call_raw(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
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
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (code, v) = self.call_raw(method, path, body);
        assert_eq!(code, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    /// A call on this session.
    pub fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }

    pub fn type_in(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    /// The text of the element `css` selects. Pages that refresh a part of
    /// themselves (the device and bulk-job pages, every 2 s) can replace
    /// the element between finding and reading it ("stale element
    /// reference"): then it is found again, five times at most.
    pub fn text(&self, css: &str) -> String {
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

    pub fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn url(&self) -> String {
        self.cmd("GET", "/url", None).as_str().unwrap().to_string()
    }

    /// Signs in through the form (the browser keeps the session cookie).
    pub fn sign_in(&self, admin: &str, user: &str, password: &str) {
        self.cmd("DELETE", "/cookie", None);
        self.goto(&format!("{admin}/ui/login"));
        self.type_in("#user", user);
        self.type_in("#password", password);
        self.click("#sign-in");
    }

    /// Saves a PNG screenshot of the page at `png` (WebDriver answers
    /// base64; `base64 -d` decodes it). Errors are ignored: this also runs
    /// while a failed test unwinds.
    pub fn screenshot(&self, png: &Path) {
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
    pub fn doc_shot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("PHONEPROV_SCREENSHOTS") {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            self.screenshot(&dir.join(format!("{name}.png")));
        }
    }

    /// Saves the screenshot (`failure.png`) and the page HTML
    /// (`failure.html`); returns their paths.
    pub fn save_failure(&self) -> (PathBuf, PathBuf) {
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
                "browser test failed: screenshot {}, page HTML {}, chromedriver log {}",
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

/// The value of the first hidden `csrf` input in `html`.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf input") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// A console session held by curl in a cookie jar: for requests a browser
/// would not send (a POST without the page's CSRF token, a forged form).
pub struct CurlSession {
    _dir: tempfile::TempDir,
    jar: String,
}

impl CurlSession {
    /// Signs in through `/ui/login` on the admin listener `admin`
    /// (`http://HOST:PORT`), with the login form's own CSRF token.
    pub fn sign_in(admin: &str, user: &str, password: &str) -> CurlSession {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("jar").to_str().unwrap().to_string();
        let s = CurlSession { _dir: dir, jar };
        let (code, page) = s.get(&format!("{admin}/ui/login"));
        assert_eq!(code, 200);
        let form = format!(
            "csrf={}&next=%2Fui%2Foverview&user={user}&password={password}",
            csrf_of(&page)
        );
        let (code, _) = s.post(&format!("{admin}/ui/login"), &form);
        assert_eq!(code, 303, "sign-in redirects");
        s
    }

    /// GET `url` with the session: the status and the body.
    pub fn get(&self, url: &str) -> (u16, String) {
        let (code, body) = curl(&["-c", &self.jar, "-b", &self.jar, url]);
        (code, String::from_utf8_lossy(&body).into_owned())
    }

    /// POST the url-encoded `form` to `url` with the session.
    pub fn post(&self, url: &str, form: &str) -> (u16, String) {
        let (code, body) = curl(&["-c", &self.jar, "-b", &self.jar, "--data", form, url]);
        (code, String::from_utf8_lossy(&body).into_owned())
    }

    /// The cookie jar's path, for curl calls of one's own.
    pub fn jar(&self) -> &str {
        &self.jar
    }
}
