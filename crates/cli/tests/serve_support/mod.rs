//! Shared helpers of the `serve_*` tests: start the real `phoneprov serve`
//! on port 0 in a temporary data directory, read back the printed
//! addresses, run peers (curl, openssl), kill the server at the end.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_phoneprov");
pub const MAC: &str = "000e08abcdef";
pub const OTHER_MAC: &str = "000e08000001";

/// A `[throttle]` with long delays so a guessing test never depends on
/// its own speed: 3 free failures, then 30 s waits (issue 12 item 3).
pub const SLOW_THROTTLE: &str = "
[throttle]
free_failures = 3
base_delay_ms = 30000
max_delay_secs = 60
max_reply_delay_ms = 200
";

/// A running `phoneprov serve`.
pub struct Served {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    pub tftp: Option<SocketAddr>,
    pub syslog: Option<SocketAddr>,
    /// The TR-069 ACS listener (`--acs`).
    pub acs: Option<SocketAddr>,
    /// The admin listener (`--admin`: `/api/v1`, `/metrics`); see
    /// [`Served::admin_url`].
    pub admin: Option<SocketAddr>,
    /// The TR-069 ACS's HTTPS listener (`--acs-tls`).
    pub acs_tls: Option<SocketAddr>,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The data directory inside a fresh temp dir.
pub fn data_dir(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data")
}

/// Port-0 listener flags for every protocol.
pub const ALL_PORT0: &[&str] = &[
    "--http",
    "127.0.0.1:0",
    "--https",
    "127.0.0.1:0",
    "--tftp",
    "127.0.0.1:0",
    "--syslog",
    "127.0.0.1:0",
    "--acs",
    "127.0.0.1:0",
    "--admin",
    "127.0.0.1:0",
];

/// `PHONEPROV_TEST_BACKEND=postgres` (issue 13 item 5, the second pass
/// of `scripts/test`): the server of every `serve_*` test runs on a fresh
/// database of the throwaway PostgreSQL cluster, holding what the test's
/// `prepare` put in the data directory's SQLite file (`phoneprov db
/// copy`). Tests that pass their own `--database-url` keep it.
fn postgres_backend(data: &Path, extra: &[&str]) -> Option<String> {
    if std::env::var("PHONEPROV_TEST_BACKEND").as_deref() != Ok("postgres")
        || extra.contains(&"--database-url")
    {
        return None;
    }
    let url = phoneprov_testpeers::pg().fresh_db();
    let from = format!("sqlite:{}", data.display());
    let args: Vec<&str> = if data.join("phoneprov.db").is_file() {
        vec!["db", "copy", "--from", &from, "--to", &url]
    } else {
        vec!["db", "migrate", "--database-url", &url]
    };
    let out = Command::new(BIN).args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(url)
}

/// The database of each data directory served by [`postgres_backend`],
/// so that [`phoneprov`] runs `device …` on what the server reads.
fn backends() -> &'static std::sync::Mutex<std::collections::HashMap<PathBuf, String>> {
    static MAP: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<PathBuf, String>>> =
        std::sync::OnceLock::new();
    MAP.get_or_init(Default::default)
}

/// Starts the server with `config` (TOML text, written to `serve.toml`)
/// and extra arguments; `prepare` runs on the data dir first (devices,
/// templates, files).
pub fn start_with(config: Option<&str>, extra: &[&str], prepare: impl FnOnce(&Path)) -> Served {
    start_listening(ALL_PORT0, config, extra, prepare)
}

/// [`start_with`] with the listener flags `listen` (pairs like `--tftp
/// off`, `--http 127.0.0.1:0`) instead of [`ALL_PORT0`]; the printed
/// address of every listener not `off` is read back. Without an
/// `--admin` pair the admin listener gets `127.0.0.1:0` (never the
/// default port 9080, which parallel tests would share).
pub fn start_listening(
    listen: &[&str],
    config: Option<&str>,
    extra: &[&str],
    prepare: impl FnOnce(&Path),
) -> Served {
    let mut listen = listen.to_vec();
    if !listen.contains(&"--admin") {
        listen.extend(["--admin", "127.0.0.1:0"]);
    }
    let listen = &listen[..];
    let listeners = listen
        .chunks(2)
        .filter(|p| p.get(1) != Some(&"off"))
        .count();
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(&dir);
    std::fs::create_dir_all(&data).unwrap();
    prepare(&data);
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .arg("--data")
        .arg(&data)
        .args(listen)
        .args(extra);
    if let Some(url) = postgres_backend(&data, extra) {
        cmd.arg("--database-url").arg(&url);
        backends().lock().unwrap().insert(data.clone(), url);
    }
    if let Some(c) = config {
        let p = dir.path().join("serve.toml");
        std::fs::write(&p, c).unwrap();
        cmd.arg("--config").arg(p);
    }
    // No /etc/phoneprov/phoneprov.toml of this machine leaks in.
    cmd.env_remove("PHONEPROV_DATA")
        .env_remove("PHONEPROV_CONFIG")
        .env("PHONEPROV_SYSCONFDIR", dir.path().join("no-sysconfdir"))
        .env("RUST_LOG", "warn");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("phoneprov binary runs");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut served = Served {
        child: Some(child),
        dir,
        http: None,
        https: None,
        tftp: None,
        syslog: None,
        acs: None,
        admin: None,
        acs_tls: None,
        stderr: rx,
    };
    let stdout = served.child.as_mut().unwrap().stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    for _ in 0..listeners {
        let line = match lines.next() {
            Some(Ok(l)) => l,
            _ => {
                let err: Vec<String> = served.stderr.try_iter().collect();
                panic!("server stopped before printing its addresses; stderr: {err:?}");
            }
        };
        let line = if line.contains("data in") {
            lines.next().unwrap().unwrap()
        } else {
            line
        };
        let addr: SocketAddr = line
            .rsplit("://")
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("no address in {line:?}"));
        let proto = line.split_whitespace().nth(2).unwrap();
        match proto {
            "http" => served.http = Some(addr),
            "https" => served.https = Some(addr),
            "tftp" => served.tftp = Some(addr),
            "syslog" => served.syslog = Some(addr),
            "acs" => served.acs = Some(addr),
            "admin" => served.admin = Some(addr),
            "acs-tls" => served.acs_tls = Some(addr),
            other => panic!("unexpected listener {other} in {line:?}"),
        }
    }
    // Keep stdout drained so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    served
}

/// Starts with the default config and one known device.
pub fn start_default() -> Served {
    start_with(None, &[], |d| {
        add_device(d, MAC, &["--model", "CP-8841-3PCC"])
    })
}

impl Served {
    pub fn data(&self) -> PathBuf {
        data_dir(&self.dir)
    }
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http.unwrap())
    }
    /// A URL on the admin listener (`/api/v1/...`, `/metrics`): plain HTTP
    /// unless the test's config sets `[tls] cert` (then see
    /// [`Served::admin_https_url`]).
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin.expect("admin listener"))
    }
    /// The admin listener's URL when it speaks HTTPS (`[tls] cert` set).
    pub fn admin_https_url(&self, path: &str) -> String {
        format!(
            "https://localhost:{}{path}",
            self.admin.expect("admin listener").port()
        )
    }
    /// The admin token (`DATA/admin.token`) as an `Authorization` header.
    pub fn admin_auth(&self) -> String {
        let token = std::fs::read_to_string(self.data().join("admin.token")).unwrap();
        format!("Authorization: Bearer {}", token.trim())
    }
    pub fn https_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https.unwrap().port())
    }
    pub fn ca_pem(&self) -> PathBuf {
        self.data().join("ca/ca.pem")
    }
    /// Stderr lines printed so far (waits up to `wait` for one containing
    /// `needle`, if given).
    pub fn stderr_until(&self, needle: &str, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut all = Vec::new();
        while Instant::now() < deadline {
            while let Ok(l) = self.stderr.try_recv() {
                all.push(l);
            }
            if all.iter().any(|l| l.contains(needle)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        all
    }
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
    /// Waits for exit; returns the status code.
    pub fn wait_exit(&mut self, wait: Duration) -> Option<i32> {
        let deadline = Instant::now() + wait;
        let child = self.child.as_mut().unwrap();
        while Instant::now() < deadline {
            if let Some(st) = child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
    /// A device's JSON (`device show --json`).
    pub fn device_json(&self, mac: &str) -> serde_json::Value {
        let out = phoneprov(&[
            "device",
            "show",
            mac,
            "--json",
            "--data",
            self.data().to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
    pub fn key(&self, mac: &str) -> String {
        self.device_json(mac)["key"].as_str().unwrap().to_string()
    }
    /// Event lines of a device, polling until one contains `needle`.
    pub fn events_until(&self, mac: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = phoneprov(&[
                "device",
                "events",
                mac,
                "--data",
                self.data().to_str().unwrap(),
            ]);
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            if text.contains(needle) || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Runs `sql` on the database the server of `data` uses, read-only:
/// `sqlite3` on the data directory's file, or `psql` on the PostgreSQL
/// database of the second pass ([`postgres_backend`]). Both print rows
/// as `a|b|c` lines, so a snapshot reads the same on either.
pub fn query(data: &Path, sql: &str) -> String {
    let url = backends().lock().unwrap().get(data).cloned();
    let out = match url {
        Some(url) => {
            let mut args = vec!["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", &url];
            // One `-c` per statement: every result is printed.
            for statement in sql.split(';').filter(|q| !q.trim().is_empty()) {
                args.extend(["-c", statement]);
            }
            peer("psql", &args)
        }
        None => {
            let db = data.join("phoneprov.db");
            peer("sqlite3", &["-readonly", db.to_str().unwrap(), sql])
        }
    };
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the binary; with `--data DIR` of a server on PostgreSQL
/// ([`postgres_backend`]) it gets that server's `--database-url`.
pub fn phoneprov(args: &[&str]) -> Output {
    phoneprov_stdin(args, b"")
}

/// [`phoneprov`] with `input` on standard input (a password).
pub fn phoneprov_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write as _;
    let url = args
        .iter()
        .position(|a| *a == "--data")
        .and_then(|i| args.get(i + 1))
        .filter(|_| !args.contains(&"--database-url"))
        .and_then(|d| backends().lock().unwrap().get(Path::new(d)).cloned());
    let mut child = Command::new(BIN)
        .args(args)
        .args(url.iter().flat_map(|u| ["--database-url", u.as_str()]))
        .env_remove("PHONEPROV_DATA")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A command that reads nothing may exit before the write: ignore EPIPE.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// `phoneprov device add MAC ARGS --data DIR`.
pub fn add_device(data: &Path, mac: &str, args: &[&str]) {
    let d = data.to_str().unwrap();
    let mut all = vec!["device", "add", mac, "--data", d];
    all.extend_from_slice(args);
    let out = phoneprov(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a peer program; fails clearly when it is missing.
pub fn peer(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is needed for this test (scripts/install-peers): {e}")
        })
}

/// curl returning (status code, body bytes). `-s` and `-o` are added.
pub fn curl(args: &[&str]) -> (u16, Vec<u8>) {
    let out_dir = tempfile::tempdir().unwrap();
    let body = out_dir.path().join("body");
    let mut all = vec!["-s", "-o", body.to_str().unwrap(), "-w", "%{http_code}"];
    all.extend_from_slice(args);
    let out = peer("curl", &all);
    let code: u16 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (code, std::fs::read(&body).unwrap_or_default())
}

/// curl with headers dumped: (status, headers text lowercased, body).
pub fn curl_headers(args: &[&str]) -> (u16, String, Vec<u8>) {
    let out_dir = tempfile::tempdir().unwrap();
    let hdr = out_dir.path().join("hdr");
    let mut all = vec!["-D", hdr.to_str().unwrap()];
    all.extend_from_slice(args);
    let (code, body) = curl(&all);
    (
        code,
        std::fs::read_to_string(&hdr)
            .unwrap_or_default()
            .to_ascii_lowercase(),
        body,
    )
}

/// `openssl enc -d -aes-256-cbc -k KEY` then gunzip when gzipped.
pub fn openssl_decrypt(data: &[u8], key: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.bin");
    std::fs::write(&input, data).unwrap();
    let out = peer(
        "openssl",
        &[
            "enc",
            "-d",
            "-aes-256-cbc",
            "-k",
            key,
            "-in",
            input.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "openssl enc -d failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = out.stdout;
    if plain.starts_with(&[0x1f, 0x8b]) {
        let mut child = Command::new("gzip")
            .args(["-dc"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("gzip is needed for this test");
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(&plain).unwrap();
        let mut s = String::new();
        child.stdout.take().unwrap().read_to_string(&mut s).unwrap();
        assert!(child.wait().unwrap().success());
        s
    } else {
        String::from_utf8(plain).unwrap()
    }
}

/// Issues a phone certificate with `phoneprov ca issue` into `out`.
pub fn issue_cert(data: &Path, mac: &str, out: &Path) -> (PathBuf, PathBuf) {
    let o = Command::new(BIN)
        .args([
            "ca",
            "issue",
            "--mac",
            mac,
            "--sn",
            "SN1",
            "--pn",
            "CP-8841-3PCC",
            "--data",
        ])
        .arg(data)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        out.join(format!("{mac}.pem")),
        out.join(format!("{mac}.key")),
    )
}

/// Whether `xml` has `<Profile_Rule>[--key KEY] REST`: a key starting with
/// `-` (base64url, 1 in 64) is quoted so the rule does not read it as an
/// option, with the quotes raw or XML-escaped depending on the writer.
pub fn has_profile_rule(xml: &str, key: &str, rest: &str) -> bool {
    let forms = if key.starts_with('-') {
        vec![format!("\"{key}\""), format!("&quot;{key}&quot;")]
    } else {
        vec![key.to_string()]
    };
    forms
        .iter()
        .any(|k| xml.contains(&format!("<Profile_Rule>[--key {k}] {rest}")))
}

/// `phoneprov device import` of `csv` (a header line, then devices) into
/// the data directory `data`, through [`phoneprov`]: once a server of
/// `data` runs on PostgreSQL ([`postgres_backend`]) the rows go to that
/// server's database, not to the directory's SQLite file it no longer
/// reads.
pub fn import_csv(data: &Path, csv: &str) {
    let file = data.parent().unwrap().join("devices.csv");
    std::fs::write(&file, csv).unwrap();
    let out = phoneprov(&[
        "device",
        "import",
        file.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "device import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
