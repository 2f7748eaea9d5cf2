//! One identification pipeline for HTTP and TFTP (issue 11 item 3): the
//! same table of cases runs through HTTP (curl) and TFTP (tftp-hpa's
//! client) against two servers built from the same data, and the answers
//! and what each server recorded are compared. Where the protocols differ
//! by design (documented in `phoneprov_server::pipeline`), the case says so.

use std::path::PathBuf;
use std::process::Command;

use phoneprov_server::{Config, Server, StartOptions};
use phoneprov_store::{Mac, NewDevice, Outcome, Store};
use phoneprov_testpeers::peer;

const KNOWN: &str = "000e08aa0001";
const PENDING: &str = "000e08aa0002";
const MOVED: &str = "000e08aa0003";
const AUTHED: &str = "000e08aa0004";
const UNKNOWN: &str = "000e08aa0009";
const STATIC_TEXT: &str = "static file body\n";
const FIRMWARE: &[u8] = b"\x00firmware image\xff";

/// What a client got, protocol-neutral.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    /// The device's full profile, encrypted with its key.
    Encrypted,
    /// The plaintext bootstrap profile carrying the device's key.
    Bootstrap,
    /// A file's exact bytes.
    File(&'static str),
    /// 404 / TFTP error 1.
    NotFound,
    /// 400, 403 / TFTP error 2.
    Refused,
    /// 301/302 to this location.
    Redirect(String),
    /// 401.
    AuthRequired,
    /// Anything else (the text says what).
    Other(String),
}

/// What the server recorded for the case's device after the request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recorded {
    /// The device row exists, and is pending.
    row: Option<bool>,
    /// Its last outcome.
    last_outcome: Option<Outcome>,
    /// Timeline events for it.
    events: usize,
}

struct Case {
    name: &'static str,
    path: String,
    mac: &'static str,
    http: Got,
    /// `None`: the same as over HTTP.
    tftp: Option<Got>,
}

fn case(name: &'static str, path: &str, mac: &'static str, http: Got) -> Case {
    Case {
        name,
        path: path.to_string(),
        mac,
        http,
        tftp: None,
    }
}

fn lan_cases() -> Vec<Case> {
    vec![
        case(
            "known device",
            &format!("/{KNOWN}.cfg"),
            KNOWN,
            Got::Encrypted,
        ),
        case(
            "unknown device",
            &format!("/{UNKNOWN}.cfg"),
            UNKNOWN,
            Got::NotFound,
        ),
        case(
            "pending device",
            &format!("/{PENDING}.cfg"),
            PENDING,
            Got::NotFound,
        ),
        Case {
            tftp: Some(Got::Encrypted), // no redirect answer in TFTP
            ..case(
                "moved device",
                &format!("/{MOVED}.cfg"),
                MOVED,
                Got::Redirect("http://new.example.com/moved.cfg".into()),
            )
        },
        Case {
            // No credentials in TFTP: answered as an unknown device
            // (issue 12 item 5).
            tftp: Some(Got::NotFound),
            ..case(
                "[[auth]] device without credentials",
                &format!("/{AUTHED}.cfg"),
                AUTHED,
                Got::AuthRequired,
            )
        },
        case("static file", "/hello.txt", KNOWN, Got::File("static")),
        case(
            "firmware file",
            "/firmware/fw.bin",
            KNOWN,
            Got::File("firmware"),
        ),
        case("missing static file", "/nothere.txt", KNOWN, Got::NotFound),
        Case {
            // TFTP answers "not there" and "not allowed" alike (issue 12
            // item 5: no existence oracle).
            tftp: Some(Got::NotFound),
            ..case("traversal", "/../secret.txt", KNOWN, Got::Refused)
        },
        // A second request from the same place: folded, nothing new.
        case(
            "known device again",
            &format!("/{KNOWN}.cfg"),
            KNOWN,
            Got::Encrypted,
        ),
    ]
}

fn staging_cases() -> Vec<Case> {
    vec![
        case(
            "pre-provisioning network",
            &format!("/{KNOWN}.cfg"),
            KNOWN,
            Got::Bootstrap,
        ),
        case(
            "pending device on the pre-provisioning network",
            &format!("/{PENDING}.cfg"),
            PENDING,
            Got::NotFound,
        ),
    ]
}

const LAN: &str = r#"
[profiles]
auto_register = true

[[auth]]
macs = ["000e08aa0004"]
users = { "u" = "secret" }
"#;

const STAGING: &str = r#"
[security]
preprovision_networks = ["127.0.0.0/8"]
"#;

/// A data directory with the table's devices and files, and a server on
/// loopback ports (HTTP and TFTP; the rest off).
struct Fixture {
    _dir: tempfile::TempDir,
    data: PathBuf,
    rt: tokio::runtime::Runtime,
    server: Option<Server>,
}

impl Fixture {
    fn start(config_text: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("static")).unwrap();
        std::fs::create_dir_all(data.join("firmware")).unwrap();
        std::fs::write(data.join("static/hello.txt"), STATIC_TEXT).unwrap();
        std::fs::write(data.join("firmware/fw.bin"), FIRMWARE).unwrap();
        std::fs::write(data.join("secret.txt"), "top secret").unwrap();
        let mut store = Store::open(&data).unwrap();
        let add = |store: &mut Store, mac: &str, vars: &[(&str, &str)]| {
            let mut nd = NewDevice::new(Mac::parse(mac).unwrap());
            nd.vars
                .insert("display_name".into(), format!("phone {mac}"));
            for (k, v) in vars {
                nd.vars.insert(k.to_string(), v.to_string());
            }
            store.upsert_device(&nd).unwrap();
        };
        add(&mut store, KNOWN, &[]);
        add(&mut store, PENDING, &[("phoneprov_status", "pending")]);
        add(
            &mut store,
            MOVED,
            &[("redirect", "http://new.example.com/moved.cfg")],
        );
        add(&mut store, AUTHED, &[]);
        drop(store);
        let file = dir.path().join("phoneprov.toml");
        let listen =
            "[listen]\nhttp = \"127.0.0.1:0\"\ntftp = \"127.0.0.1:0\"\nhttps = \"off\"\nsyslog = \"off\"\nacs = \"off\"\nadmin = \"off\"\n";
        std::fs::write(&file, format!("{config_text}\n{listen}")).unwrap();
        let cfg = Config::load(&file).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt
            .block_on(Server::start(StartOptions::new(data.clone(), cfg)))
            .unwrap();
        Fixture {
            _dir: dir,
            data,
            rt,
            server: Some(server),
        }
    }

    fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    fn key(&self, mac: &str) -> String {
        let store = Store::open(&self.data).unwrap();
        let d = store.device(Mac::parse(mac).unwrap()).unwrap().unwrap();
        d.key.expose_secret().to_string()
    }

    /// Classifies a body the server sent with success.
    fn classify(&self, mac: &str, body: &[u8]) -> Got {
        if body == STATIC_TEXT.as_bytes() {
            return Got::File("static");
        }
        if body == FIRMWARE {
            return Got::File("firmware");
        }
        let key = self.key(mac);
        if body.starts_with(b"Salted__") {
            let opts = phoneprov_crypto::DecodeOptions {
                key: Some(key.as_bytes()),
                content_encoding: None,
                max_plain: 1 << 20,
            };
            return match phoneprov_crypto::decode(body, &opts) {
                Ok(d) if String::from_utf8_lossy(&d.plain).contains(&format!("phone {mac}")) => {
                    Got::Encrypted
                }
                Ok(_) => Got::Other("decrypts, but is not this device's profile".into()),
                Err(e) => Got::Other(format!("does not decrypt with the device key: {e}")),
            };
        }
        let text = String::from_utf8_lossy(body);
        if text.contains("<Profile_Rule>") && text.contains(&key) {
            return Got::Bootstrap;
        }
        Got::Other(format!("unexpected body: {text:.200}"))
    }

    fn http(&self, case: &Case) -> Got {
        let addr = self.server().bound().http.unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("body");
        let o = Command::new(peer("curl"))
            .args([
                "-s",
                "--path-as-is",
                "--max-time",
                "10",
                "-o",
                out.to_str().unwrap(),
                "-w",
                "%{http_code} %{redirect_url}",
            ])
            .arg(format!("http://{addr}{}", case.path))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&o.stdout).to_string();
        let (code, location) = said.split_once(' ').unwrap_or((&said, ""));
        let body = std::fs::read(&out).unwrap_or_default();
        match code {
            "200" => self.classify(case.mac, &body),
            "301" | "302" => Got::Redirect(location.to_string()),
            "401" => Got::AuthRequired,
            "400" | "403" => Got::Refused,
            "404" => Got::NotFound,
            other => Got::Other(format!("HTTP {other}")),
        }
    }

    fn tftp(&self, case: &Case) -> Got {
        let addr = self.server().bound().tftp.unwrap();
        let tmp = tempfile::tempdir().unwrap();
        // tftp-hpa sends the name verbatim: no leading '/' as a phone
        // would send it (`$MA.cfg`), except for the traversal case.
        let name = case.path.trim_start_matches('/');
        let o = Command::new(peer("tftp"))
            .current_dir(tmp.path())
            .args([
                "-m",
                "binary",
                &addr.ip().to_string(),
                &addr.port().to_string(),
                "-c",
                "get",
                name,
                "got",
            ])
            .output()
            .unwrap();
        let said =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        if said.contains("Error code 1") {
            return Got::NotFound;
        }
        if said.contains("Error code 2") {
            return Got::Refused;
        }
        if said.to_lowercase().contains("error") || said.contains("timed out") {
            return Got::Other(format!("tftp: {}", said.trim()));
        }
        let body = std::fs::read(tmp.path().join("got")).unwrap_or_default();
        self.classify(case.mac, &body)
    }

    fn recorded(&self, mac: &str) -> Recorded {
        self.rt.block_on(self.server().state().status.flush());
        let store = Store::open(&self.data).unwrap();
        let mac = Mac::parse(mac).unwrap();
        let row = store.device(mac).unwrap();
        Recorded {
            row: row
                .as_ref()
                .map(|d| d.vars.get("phoneprov_status").map(String::as_str) == Some("pending")),
            last_outcome: row.and_then(|d| d.status.last_outcome),
            events: store.events(mac, 1000).unwrap().len(),
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// Runs `cases` over HTTP on one server and over TFTP on another (same
/// data and config) and compares what each client got and each server
/// recorded.
fn run_table(config: &str, cases: &[Case]) {
    let http = Fixture::start(config);
    let tftp = Fixture::start(config);
    // The pipeline is the same, so are the keys it would serve.
    let mut failures = Vec::new();
    for c in cases {
        let got_http = http.http(c);
        let got_tftp = tftp.tftp(c);
        let want_tftp = c.tftp.clone().unwrap_or_else(|| c.http.clone());
        if got_http != c.http {
            failures.push(format!(
                "{}: HTTP got {got_http:?}, want {:?}",
                c.name, c.http
            ));
        }
        if got_tftp != want_tftp {
            failures.push(format!(
                "{}: TFTP got {got_tftp:?}, want {want_tftp:?}",
                c.name
            ));
        }
        let rec_http = http.recorded(c.mac);
        let rec_tftp = tftp.recorded(c.mac);
        // The recorded state is the same unless the protocols answer
        // differently by design; then it follows the answer.
        if c.tftp.is_none() && rec_http != rec_tftp {
            failures.push(format!(
                "{}: recorded differently: HTTP {rec_http:?}, TFTP {rec_tftp:?}",
                c.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_same_cases_give_the_same_answers_over_http_and_tftp() {
    run_table(LAN, &lan_cases());
}

#[test]
fn the_pre_provisioning_network_gets_the_bootstrap_profile_over_http_and_tftp() {
    run_table(STAGING, &staging_cases());
}

#[test]
fn what_the_table_cases_record() {
    // The shared answers above are compared; here what they record is
    // pinned down on one protocol (TFTP: the one that used to lack
    // auto-registration), and nothing at all for a refused request (HTTP).
    let f = Fixture::start(LAN);
    let unknown = &lan_cases()[1];
    assert_eq!(f.tftp(unknown), Got::NotFound);
    let r = f.recorded(UNKNOWN);
    assert_eq!(r.row, Some(true), "auto-registered as pending: {r:?}");
    assert_eq!(
        r.events, 0,
        "an unknown MAC is counted, not a timeline row: {r:?}"
    );
    let known = &lan_cases()[0];
    assert_eq!(f.tftp(known), Got::Encrypted);
    let r = f.recorded(KNOWN);
    assert_eq!(r.last_outcome, Some(Outcome::Success), "{r:?}");
    assert_eq!(r.events, 1, "{r:?}");
    assert_eq!(f.tftp(known), Got::Encrypted);
    assert_eq!(f.recorded(KNOWN).events, 1, "an identical repeat is folded");

    let authed = &lan_cases()[4];
    assert_eq!(f.http(authed), Got::AuthRequired);
    assert_eq!(
        f.recorded(AUTHED),
        Recorded {
            row: Some(false),
            last_outcome: None,
            events: 0
        },
        "a request that fails authentication records nothing"
    );
    // Over TFTP (no credentials), the same: nothing, and the unknown
    // device's answer.
    assert_eq!(f.tftp(authed), Got::NotFound);
    assert_eq!(
        f.recorded(AUTHED),
        Recorded {
            row: Some(false),
            last_outcome: None,
            events: 0
        },
        "[[auth]] over TFTP records nothing"
    );

    // The timeline texts of a redirect and a firmware download.
    let moved = &lan_cases()[3];
    assert!(matches!(f.http(moved), Got::Redirect(_)));
    assert_eq!(f.recorded(MOVED).events, 1);
    let texts = |mac: &str| -> Vec<String> {
        let store = Store::open(&f.data).unwrap();
        let events = store.events(Mac::parse(mac).unwrap(), 100).unwrap();
        events.into_iter().map(|e| e.message).collect()
    };
    assert_eq!(
        texts(MOVED),
        [format!(
            "http /{MOVED}.cfg: 302 to http://new.example.com/moved.cfg"
        )]
    );
    let addr = f.server().bound().http.unwrap();
    let o = Command::new(peer("curl"))
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-A"])
        .arg(format!("Cisco-CP-8841-3PCC/11.3.7 ({KNOWN})"))
        .arg(format!("http://{addr}/firmware/fw.bin"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "200");
    f.recorded(KNOWN);
    assert!(
        texts(KNOWN).contains(&"http /firmware/fw.bin 200".to_string()),
        "{:?}",
        texts(KNOWN)
    );
}
