//! The sim's TR-069 CPE agent against the real ACS (`phoneprov-acs` on
//! loopback, a temporary data directory), files from a real nginx:
//! every RPC of R-TR69-2 queued as ACS tasks and their effect on the
//! virtual phone, every event of R-TR69-3 seen in the ACS's timeline,
//! connection requests with Digest, discovery from DHCP options 43/60
//! (R-TR69-1), and an ACS that answers garbage or drops the connection.

use std::path::Path;
use std::time::Duration;

use phoneprov_acs::{Acs, AcsAuth, AcsSettings, TaskRecord, TaskRpc, TaskState};
use phoneprov_httpauth::Credentials;
use phoneprov_profile::schema;
use phoneprov_sim::{run_fleet, DhcpLease, Fleet, RunMode, SimConfig, Tr069Config};
use phoneprov_store::{EventKind, Mac, NewDevice, Store};
use phoneprov_testpeers::Nginx;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

const MAC: &str = "000e08000001";
const LINES: &str = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";

fn mac() -> Mac {
    Mac::parse(MAC).unwrap()
}

struct RunningAcs {
    acs: Acs,
    url: String,
    dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for RunningAcs {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The ACS with the sim's first phone in its inventory.
async fn start_acs(settings: AcsSettings) -> RunningAcs {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut dev = NewDevice::new(mac());
    dev.serial = Some("SN000001".into());
    store.add_device(&dev).unwrap();
    drop(store);
    let acs = Acs::open(dir.path(), settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let server = acs.clone();
    tokio::spawn(async move {
        server
            .serve(listener, async {
                let _ = rx.await;
            })
            .await
    });
    RunningAcs {
        acs,
        url,
        dir,
        stop: Some(tx),
    }
}

fn open_settings() -> AcsSettings {
    AcsSettings {
        auth: AcsAuth::None,
        ..AcsSettings::default()
    }
}

/// The Inform messages of the phone's timeline, oldest first.
fn informs(dir: &Path) -> Vec<String> {
    let store = Store::open(dir).unwrap();
    let mut v: Vec<String> = store
        .events(mac(), 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::Inform)
        .map(|e| e.message)
        .collect();
    v.reverse();
    v
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..600 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn wait_inform(acs: &RunningAcs, event: &str) {
    let dir = acs.dir.path().to_path_buf();
    wait_for(&format!("an Inform with {event}"), || {
        informs(&dir).iter().any(|m| m.contains(event))
    })
    .await;
}

fn enqueue(acs: &RunningAcs, v: Value) -> i64 {
    let rpc: TaskRpc = serde_json::from_value(v).unwrap();
    acs.acs.enqueue(mac(), rpc).unwrap().id
}

/// Waits until task `id` is done or faulted (not queued/sent/transferring).
async fn finished(acs: &RunningAcs, id: i64) -> TaskRecord {
    let mut last = None;
    for _ in 0..600 {
        let t = acs.acs.task(mac(), id).unwrap().unwrap();
        if matches!(t.state, TaskState::Done | TaskState::Fault) {
            return t;
        }
        last = Some(t);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} never finished: {last:?}");
}

/// `GET` on the phone's trigger listener; the status JSON or body text.
async fn get(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

async fn status(addr: std::net::SocketAddr) -> Value {
    let (st, body) = get(addr, "/status.json").await;
    assert_eq!(st, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn wait_param(addr: std::net::SocketAddr, name: &str, want: &str) {
    for _ in 0..400 {
        if status(addr).await["params"][name] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{name} never became {want:?}: {}",
        status(addr).await["params"]
    );
}

fn tr069(acs_url: &str) -> Tr069Config {
    Tr069Config {
        acs_url: Some(acs_url.to_string()),
        acs_username: "cpe".into(),
        acs_password: "cpe-pw".into(),
        cr_listen: Some("127.0.0.1:0".parse().unwrap()),
        cr_username: "cr".into(),
        cr_password: "cr-pw".into(),
        inform_interval: None,
        retry_min_wait: Duration::from_millis(100),
        bootstrapped: false,
    }
}

/// R-TR69-2 and R-TR69-3 end to end: each RPC through the ACS's task
/// queue, its stored result and its effect on the phone; each event in
/// the ACS's timeline.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rpc_and_event_against_the_real_acs() {
    let files = Nginx::start("", "", |_| {});
    files.write(
        "000e08000001.xml",
        b"<flat-profile><GPP_A>boot</GPP_A></flat-profile>",
    );
    files.write(
        "change.xml",
        b"<flat-profile><GPP_C>changed-by-resync</GPP_C></flat-profile>",
    );
    files.write(
        "cfg2.xml",
        b"<flat-profile><GPP_D>from-config-download</GPP_D></flat-profile>",
    );
    let image = phoneprov_phone::upgrade::make_image("sip88xx.12-0-2MPP", b"image");
    files.write("sip88xx.12-0-2MPP.loads", &image);
    let custom_ca = phoneprov_pki::Ca::generate("ACS Custom CA").unwrap();
    files.write("ca.pem", custom_ca.cert_pem().as_bytes());
    // Not a certificate: the engine refuses it (9018), nothing installed.
    files.write(
        "bad-ca.pem",
        b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    );
    let base = format!("http://127.0.0.1:{}", files.port);
    let settings = AcsSettings {
        users: [("cpe".to_string(), "cpe-pw".to_string())].into(),
        connection_request: phoneprov_acs::ConnectionRequestSettings {
            username: "cr".into(),
            password: "cr-pw".into(),
        },
        ..AcsSettings::default()
    };
    let acs = start_acs(settings).await;
    let mut cfg = SimConfig::new(1);
    cfg.mode = RunMode::Forever;
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.params = vec![
        ("Profile_Rule".into(), format!("{base}/$MA.xml")),
        ("GPP_B".into(), "initial".into()),
        ("GPP_C".into(), "initial".into()),
    ];
    cfg.tr069 = tr069(&acs.url);
    let fleet = Fleet::start(cfg).await.unwrap();
    let phone = fleet.local_addr().unwrap();
    wait_inform(&acs, "0 BOOTSTRAP").await;
    assert!(informs(acs.dir.path())[0].contains("1 BOOT"));

    // Parameters, attributes, names, objects; faults for bad input.
    let methods = enqueue(&acs, json!({"rpc":"GetRPCMethods"}));
    let gpv = enqueue(
        &acs,
        json!({"rpc":"GetParameterValues","names":["Device.DeviceInfo.","TLS_Cipher_List"]}),
    );
    let spv = enqueue(
        &acs,
        json!({"rpc":"SetParameterValues","values":[
            {"name":"TLS_Cipher_List","value":"HIGH:!aNULL"},
            {"name":"Device.X_CISCO_Profile.GPP_B","value":"set-by-acs"}],"parameter_key":"pk-1"}),
    );
    let bad_spv = enqueue(
        &acs,
        json!({"rpc":"SetParameterValues","values":[{"name":"Device.X_CISCO_Profile.Provision_Enable","value":"maybe"}]}),
    );
    let gpn = enqueue(
        &acs,
        json!({"rpc":"GetParameterNames","path":"Device.ManagementServer.","next_level":true}),
    );
    let spa = enqueue(
        &acs,
        json!({"rpc":"SetParameterAttributes","attributes":[{"name":"Device.X_CISCO_Profile.GPP_C","notification":2}]}),
    );
    let gpa = enqueue(
        &acs,
        json!({"rpc":"GetParameterAttributes","names":["Device.X_CISCO_Profile.GPP_C"]}),
    );
    let add1 = enqueue(&acs, json!({"rpc":"AddObject","object_name":LINES}));
    let add2 = enqueue(&acs, json!({"rpc":"AddObject","object_name":LINES}));
    let line = enqueue(
        &acs,
        json!({"rpc":"SetParameterValues","values":[{"name":format!("{LINES}1.DirectoryNumber"),"value":"1001"}]}),
    );
    let del = enqueue(
        &acs,
        json!({"rpc":"DeleteObject","object_name":format!("{LINES}2.")}),
    );
    let unknown = enqueue(
        &acs,
        json!({"rpc":"GetParameterValues","names":["Device.NoSuch.Thing"]}),
    );
    let cr = acs.acs.connection_request(mac()).await.unwrap();
    assert!(cr.authenticated, "Digest was asked for and answered");
    let r = finished(&acs, methods).await.result.unwrap();
    for m in ["GetRPCMethods", "Download", "FactoryReset", "AddObject"] {
        assert!(r["methods"].as_array().unwrap().contains(&json!(m)), "{r}");
    }
    let r = finished(&acs, gpv).await.result.unwrap();
    let values = r["values"].as_array().unwrap();
    let find = |n: &str| {
        values
            .iter()
            .find(|v| v["name"] == n)
            .map(|v| v["value"].clone())
    };
    assert_eq!(
        find("Device.DeviceInfo.SoftwareVersion"),
        Some(json!("11.0.1"))
    );
    assert_eq!(
        find("Device.DeviceInfo.SerialNumber"),
        Some(json!("SN000001"))
    );
    assert!(find("Device.X_CISCO_SecuritySettings.TLSCipherList").is_some());
    assert_eq!(finished(&acs, spv).await.state, TaskState::Done);
    wait_param(phone, "TLS_Cipher_List", "HIGH:!aNULL").await;
    wait_param(phone, "GPP_B", "set-by-acs").await;
    let f = finished(&acs, bad_spv).await;
    assert_eq!(f.state, TaskState::Fault);
    assert_eq!(
        f.result.unwrap()["fault"]["parameter_faults"][0]["code"],
        9007
    );
    let names = finished(&acs, gpn).await.result.unwrap();
    assert!(names["names"].as_array().unwrap().contains(
        &json!({"name":"Device.ManagementServer.PeriodicInformInterval","writable":true})
    ));
    assert_eq!(finished(&acs, spa).await.state, TaskState::Done);
    let a = finished(&acs, gpa).await.result.unwrap();
    assert_eq!(a["attributes"][0]["notification"], 2);
    assert_eq!(
        finished(&acs, add1).await.result.unwrap()["instance_number"],
        1
    );
    assert_eq!(
        finished(&acs, add2).await.result.unwrap()["instance_number"],
        2
    );
    assert_eq!(finished(&acs, line).await.state, TaskState::Done);
    wait_param(phone, "User_ID_1_", "1001").await;
    assert_eq!(finished(&acs, del).await.state, TaskState::Done);
    let f = finished(&acs, unknown).await;
    assert_eq!(f.result.unwrap()["fault"]["code"], 9005);
    wait_inform(&acs, "6 CONNECTION REQUEST").await;

    // 4 VALUE CHANGE: the phone's own resync changes GPP_C (active).
    let (st, _) = get(phone, &format!("/admin/resync?{base}/change.xml")).await;
    assert_eq!(st, 200);
    wait_inform(&acs, "4 VALUE CHANGE").await;
    let dm = acs.acs.data_model(mac()).unwrap();
    let gpp_c = dm.iter().find(|e| e.path == "Device.X_CISCO_Profile.GPP_C");
    assert_eq!(gpp_c.unwrap().value.as_deref(), Some("changed-by-resync"));

    // Downloads: firmware (the engine upgrades and reboots), vendor
    // configuration file (applied as a profile), custom CA.
    let fw = enqueue(
        &acs,
        json!({"rpc":"Download","file_type":"firmware","url":format!("{base}/sip88xx.12-0-2MPP.loads")}),
    );
    let conf = enqueue(
        &acs,
        json!({"rpc":"Download","file_type":"config","url":format!("{base}/cfg2.xml")}),
    );
    let ca = enqueue(
        &acs,
        json!({"rpc":"Download","file_type":"ca","url":format!("{base}/ca.pem")}),
    );
    let missing = enqueue(
        &acs,
        json!({"rpc":"Download","file_type":"ca","url":format!("{base}/nope.pem")}),
    );
    let bad_ca = enqueue(
        &acs,
        json!({"rpc":"Download","file_type":"ca","url":format!("{base}/bad-ca.pem")}),
    );
    acs.acs.connection_request(mac()).await.unwrap();
    for id in [fw, conf, ca] {
        let t = finished(&acs, id).await;
        assert_eq!(t.state, TaskState::Done, "{t:?}");
        assert_eq!(t.result.unwrap()["transfer_complete"]["fault_code"], 0);
    }
    let t = finished(&acs, missing).await;
    assert_eq!(t.state, TaskState::Fault, "a 404 is a failed transfer");
    assert_eq!(t.result.unwrap()["transfer_complete"]["fault_code"], 9016);
    let t = finished(&acs, bad_ca).await;
    assert_eq!(t.state, TaskState::Fault, "not a certificate");
    let tc = &t.result.unwrap()["transfer_complete"];
    assert_eq!(tc["fault_code"], 9018, "{tc}");
    assert!(
        tc["fault_string"]
            .as_str()
            .unwrap()
            .contains("not a certificate"),
        "{tc}"
    );
    // The good CA stays installed and shows in the phone's status.
    assert_eq!(
        status(phone).await["custom_ca"]["info"],
        "Installed: ACS Custom CA"
    );
    assert_eq!(status(phone).await["swver"], "sip88xx.12-0-2MPP");
    wait_param(phone, "GPP_D", "from-config-download").await;
    wait_inform(&acs, "7 TRANSFER COMPLETE").await;
    wait_inform(&acs, "M Download").await;

    // Periodic inform every second, Reboot, and the CA's status.
    let periodic = enqueue(
        &acs,
        json!({"rpc":"SetParameterValues","values":[{"name":"Device.ManagementServer.PeriodicInformInterval","value":"1","type":"unsignedInt"}]}),
    );
    let ca_status = enqueue(
        &acs,
        json!({"rpc":"GetParameterValues","names":["Device.X_CISCO_SecuritySettings.CustomCAStatus"]}),
    );
    let reboot = enqueue(&acs, json!({"rpc":"Reboot","command_key":"rb-1"}));
    acs.acs.connection_request(mac()).await.unwrap();
    assert_eq!(finished(&acs, periodic).await.state, TaskState::Done);
    let v = finished(&acs, ca_status).await.result.unwrap();
    assert!(v["values"][0]["value"]
        .as_str()
        .unwrap()
        .starts_with("Installed"));
    assert_eq!(finished(&acs, reboot).await.state, TaskState::Done);
    wait_inform(&acs, "M Reboot").await;
    wait_inform(&acs, "2 PERIODIC").await;

    // FactoryReset: the phone's own settings are gone, BOOTSTRAP again.
    let boots = |d: &Path| {
        informs(d)
            .iter()
            .filter(|m| m.contains("0 BOOTSTRAP"))
            .count()
    };
    assert_eq!(boots(acs.dir.path()), 1);
    let reset = enqueue(&acs, json!({"rpc":"FactoryReset"}));
    acs.acs.connection_request(mac()).await.unwrap();
    assert_eq!(finished(&acs, reset).await.state, TaskState::Done);
    let dir = acs.dir.path().to_path_buf();
    wait_for("a second 0 BOOTSTRAP", || boots(&dir) >= 2).await;
    wait_param(phone, "GPP_B", "initial").await;
    assert_eq!(
        status(phone).await["swver"],
        "sip88xx.12-0-2MPP",
        "firmware stays"
    );

    let all = informs(acs.dir.path()).join("\n");
    for e in [
        "0 BOOTSTRAP",
        "1 BOOT",
        "2 PERIODIC",
        "4 VALUE CHANGE",
        "6 CONNECTION REQUEST",
        "7 TRANSFER COMPLETE",
        "M Download",
        "M Reboot",
    ] {
        assert!(all.contains(e), "no Inform with {e}:\n{all}");
    }
    fleet.shutdown_handle().shutdown();
    let report = fleet.wait().await;
    let c = report.cwmp.clone().expect("TR-069 in the report");
    assert!(c.sessions_ok >= 6, "{c:?}");
    assert!(c.faults_sent >= 2, "{c:?}");
    assert_eq!((c.transfers_ok, c.transfers_failed), (3, 2), "{c:?}");
    assert!(c.connection_requests >= 4, "{c:?}");
    assert!(report.to_text().contains("tr069 sessions ok"));
}

/// TR-069 3.2.2: a connection request needs the phone's Digest
/// credentials; without them or with a wrong password: 401 and no session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_request_needs_digest() {
    let acs = start_acs(open_settings()).await;
    let mut cfg = SimConfig::new(1);
    cfg.mode = RunMode::Forever;
    cfg.tr069 = tr069(&acs.url);
    let fleet = Fleet::start(cfg).await.unwrap();
    wait_inform(&acs, "0 BOOTSTRAP").await;
    let url = format!("http://{}/tr069/{MAC}", fleet.cr_addr().unwrap());
    let before = informs(acs.dir.path()).len();
    let curl = |args: &[&str]| {
        let out = std::process::Command::new(phoneprov_testpeers::peer("curl"))
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(args)
            .arg(&url)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(curl(&[]), "401");
    assert_eq!(curl(&["--digest", "-u", "cr:wrong"]), "401");
    assert_eq!(curl(&["--digest", "-u", "someone:cr-pw"]), "401");
    let other = url.replace(MAC, "000e08999999");
    let out = std::process::Command::new(phoneprov_testpeers::peer("curl"))
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &other])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(informs(acs.dir.path()).len(), before, "no session");
    let ok = phoneprov_acs::send_connection_request(&url, Some(&Credentials::new("cr", "cr-pw")))
        .await
        .unwrap();
    assert!(ok.authenticated);
    wait_inform(&acs, "6 CONNECTION REQUEST").await;
    fleet.shutdown_handle().shutdown();
    let c = fleet.wait().await.cwmp.unwrap();
    assert_eq!(c.connection_requests, 1);
    assert!(c.connection_requests_refused >= 2, "{c:?}");
}

/// R-TR69-1: the ACS comes from option 43 when option 60 is
/// `dslforum.org`; `--once` runs one session per phone and reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_tr69_1_acs_from_dhcp_options_once() {
    let acs = start_acs(open_settings()).await;
    let mut cfg = SimConfig::new(2);
    cfg.lease = DhcpLease::parse(["60=dslforum.org", &format!("43=01 {}", acs.url)]).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(60), run_fleet(cfg))
        .await
        .expect("the --once fleet ends")
        .unwrap();
    let c = report.cwmp.expect("the lease named an ACS");
    assert_eq!(c.sessions_ok, 2, "{c:?}");
    assert_eq!(c.session_latency_ms.count, 2);
    assert!(informs(acs.dir.path())[0].contains("0 BOOTSTRAP"));
    // Phones already bootstrapped with the ACS start with a periodic session.
    let mut cfg = SimConfig::new(1);
    cfg.tr069.acs_url = Some(acs.url.clone());
    cfg.tr069.bootstrapped = true;
    let report = run_fleet(cfg).await.unwrap();
    assert_eq!(report.cwmp.unwrap().sessions_ok, 1);
    let newest = &informs(acs.dir.path())[0];
    assert!(newest.contains("[2 PERIODIC]"), "{newest}");
    // A phone that never resyncs (Provision_Enable = No, as in
    // scripts/bench-inform) still ends after its one session: the TR-069
    // agent keeps a control sender for the phone's life, so the phone must
    // not wait for every sender to drop.
    let mut cfg = SimConfig::new(2);
    cfg.tr069.acs_url = Some(acs.url.clone());
    cfg.tr069.bootstrapped = true;
    cfg.params = vec![("Provision_Enable".into(), "No".into())];
    let report = tokio::time::timeout(Duration::from_secs(60), run_fleet(cfg))
        .await
        .expect("a --once fleet whose phones never resync ends after its sessions")
        .unwrap();
    assert_eq!(report.phones_without_resync, 2, "{}", report.to_text());
    assert_eq!(report.cwmp.unwrap().sessions_ok, 2);
    // Without the vendor class the option is not an ACS.
    let mut cfg = SimConfig::new(1);
    cfg.lease = DhcpLease::parse([format!("43={}", acs.url).as_str()]).unwrap();
    let report = run_fleet(cfg).await.unwrap();
    assert!(report.cwmp.is_none());
}

/// Reads one HTTP/1.1 message (head and `Content-Length` body) from `r`.
async fn read_message(r: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
        let n = r.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed inside a message");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Bad input: an ACS connection that drops mid-session (after the
/// InformResponse, when the empty POST is sent), then one that answers
/// garbage; the agent retries with back-off and the third attempt
/// completes. No phone is stuck: the `--once` fleet ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_dropped_connections_are_retried() {
    let acs = start_acs(open_settings()).await;
    let upstream = acs
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}/", proxy.local_addr().unwrap());
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut c, _)) = proxy.accept().await {
            n += 1;
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut u = tokio::net::TcpStream::connect(upstream).await.unwrap();
                match n {
                    // The session's connection carries the Inform and its
                    // response, then drops at the empty POST.
                    1 => {
                        let inform = read_message(&mut c).await;
                        u.write_all(&inform).await.unwrap();
                        let response = read_message(&mut u).await;
                        c.write_all(&response).await.unwrap();
                        let _ = c.read(&mut [0u8; 4096]).await;
                    }
                    2 => {
                        let _ = read_message(&mut c).await;
                        let _ = c
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n<garbage>")
                            .await;
                    }
                    _ => {
                        let _ = tokio::io::copy_bidirectional(&mut c, &mut u).await;
                    }
                }
            });
        }
    });
    let mut cfg = SimConfig::new(1);
    cfg.tr069.acs_url = Some(proxy_url);
    cfg.tr069.retry_min_wait = Duration::from_millis(50);
    let report = tokio::time::timeout(Duration::from_secs(60), run_fleet(cfg))
        .await
        .expect("the phone is not stuck")
        .unwrap();
    let c = report.cwmp.unwrap();
    assert_eq!((c.sessions_failed, c.sessions_ok), (2, 1), "{c:?}");
    assert_eq!(c.errors.len(), 2, "{:?}", c.errors);
    assert!(informs(acs.dir.path()).len() >= 2);
}

/// A valid value of `spec` other than `current`: the type's own choices,
/// then the defaults of the schema's other parameters of the same type.
fn other_value(spec: &schema::ParamSpec, name: &str, current: &str) -> Option<String> {
    use schema::ParamType as T;
    let mut c: Vec<String> = match spec.kind {
        T::Bool => vec!["Yes".into(), "No".into()],
        T::Int { min, max } => vec![min.to_string(), max.to_string()],
        T::Decimal { min_milli, .. } => vec![format!("{}", min_milli as f64 / 1000.0)],
        T::Hex { max } => vec!["0x0".into(), format!("{max:#x}")],
        T::Enum(v) => v.iter().map(|s| s.to_string()).collect(),
        T::Url(s) => s.iter().map(|s| format!("{s}://walk.invalid/x")).collect(),
        T::Host { port: true } => vec!["walk.invalid:5061".into()],
        T::IpAddr | T::Ipv4 => vec!["10.9.8.7".into()],
        T::Host { port: false } | T::DomainList => vec!["walk.invalid".into()],
        T::Rule => vec!["http://walk.invalid/$MA.cfg".into()],
        T::DhcpOptions { v6: false } => vec!["66,160,159".into()],
        T::DhcpOptions { v6: true } => vec!["17,160".into()],
        T::CipherList => vec!["HIGH".into()],
        T::Schedule(schema::ScheduleKind::TimeOfDay) => vec!["0130".into()],
        T::Schedule(_) => vec!["3600".into(), "60".into()],
        T::TimeZone => vec!["GMT+01:00".into(), "GMT".into()],
        T::Date => vec!["01/02/2030".into()],
        T::Clock => vec!["02/00".into()],
        T::KeyValues => vec!["fnc=sd;ext=1001".into()],
        T::DialPlan => vec!["(xx.)".into()],
        T::FirewallConfig => vec!["NO_CISCO_TFTP".into()],
        T::DstRule => vec!["start=4/1/7/2;end=9/-1/7/2;save=1".into()],
        _ => vec!["walk".into()],
    };
    c.extend(
        schema::all()
            .iter()
            .filter(|o| o.kind == spec.kind)
            .map(|o| o.default.to_string()),
    );
    c.push(format!("{name}-walk"));
    c.into_iter()
        .find(|v| v != current && !v.is_empty() && spec.validate(v).is_ok())
}

/// Models whose parameters together cover every schema entry.
fn covering_models() -> Vec<&'static schema::ModelInfo> {
    let mut picked: Vec<&schema::ModelInfo> = Vec::new();
    for spec in schema::all() {
        if picked.iter().any(|m| spec.models.contains(m)) {
            continue;
        }
        // The model with the most entries among those that have this one.
        let best = schema::models()
            .iter()
            .filter(|m| spec.models.contains(m))
            .max_by_key(|m| schema::names_on(m).count())
            .unwrap_or_else(|| panic!("{}: on no model", spec.name));
        picked.push(best);
    }
    picked
}

/// R-TR69-4: the whole schema through the ACS and a real simulated CPE.
/// For each parameter of each model of a covering set: the ACS maps the
/// XML name to the schema's path, a GetParameterValues by XML name gets
/// the phone's value (secrets empty), and a SetParameterValues by path
/// changes the phone's XML parameter (its status page shows it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_tr69_4_every_schema_parameter_through_the_acs_and_the_cpe() {
    let models = covering_models();
    let mut walked = 0;
    for model in &models {
        let acs = start_acs(AcsSettings {
            connection_request: phoneprov_acs::ConnectionRequestSettings {
                username: "cr".into(),
                password: "cr-pw".into(),
            },
            ..open_settings()
        })
        .await;
        let mut cfg = SimConfig::new(1);
        cfg.pn = model.pn.to_string();
        cfg.mode = RunMode::Forever;
        cfg.listen = Some("127.0.0.1:0".parse().unwrap());
        cfg.params = vec![("Resync_On_Reset".into(), "No".into())];
        cfg.tr069 = tr069(&acs.url);
        let fleet = Fleet::start(cfg).await.unwrap();
        let phone = fleet.local_addr().unwrap();
        wait_inform(&acs, "0 BOOTSTRAP").await;
        let names: Vec<(String, &schema::ParamSpec)> = schema::names_on(model).collect();
        let before = status(phone).await["params"].clone();
        let shown = |name: &str, spec: &schema::ParamSpec| -> String {
            match before[name].as_str() {
                Some(v) => v.to_string(),
                None => spec.default_for(name).to_string(),
            }
        };

        // By XML name: the ACS stores the schema's path and the CPE answers.
        let xml: Vec<String> = names.iter().map(|(n, _)| n.clone()).collect();
        let gpv = enqueue(&acs, json!({"rpc":"GetParameterValues","names":xml}));
        let TaskRpc::GetParameterValues { names: sent } =
            acs.acs.task(mac(), gpv).unwrap().unwrap().rpc
        else {
            panic!("the task is a GetParameterValues");
        };
        acs.acs.connection_request(mac()).await.unwrap();
        let t = finished(&acs, gpv).await;
        assert_eq!(t.state, TaskState::Done, "{} {:?}", model.pn, t.result);
        let result = t.result.unwrap();
        let values = result["values"].as_array().unwrap();
        assert_eq!(values.len(), names.len(), "{}", model.pn);
        let mut sets = Vec::new();
        let mut want = Vec::new();
        let mut stuck = Vec::new();
        for (((name, spec), path), v) in names.iter().zip(&sent).zip(values) {
            assert_eq!(Some(path), schema::tr069_path(name).as_ref(), "{name}");
            assert_eq!(&v["name"], path, "{name}");
            let phone_value = if spec.secret {
                String::new()
            } else {
                shown(name, spec)
            };
            assert_eq!(v["value"], phone_value, "{} {name} = {path}", model.pn);
            let current = shown(name, spec);
            // A one-value enumeration (`Signaling_Protocol`: SIP) can
            // only be written with the value it has.
            let new = match (other_value(spec, name, &current), spec.kind) {
                (Some(v), _) => v,
                (None, schema::ParamType::Enum([only])) => only.to_string(),
                (None, _) => {
                    stuck.push(format!("{name} ({:?}) = {current:?}", spec.kind));
                    continue;
                }
            };
            sets.push(json!({"name": path, "value": new}));
            let seen = if spec.secret { "********".into() } else { new };
            want.push((name.clone(), seen));
        }

        assert!(stuck.is_empty(), "no other valid value for {stuck:#?}");

        // By path: each write reaches the phone's XML parameter.
        let ids: Vec<i64> = sets
            .chunks(400)
            .map(|c| enqueue(&acs, json!({"rpc":"SetParameterValues","values":c})))
            .collect();
        acs.acs.connection_request(mac()).await.unwrap();
        for id in ids {
            let t = finished(&acs, id).await;
            assert_eq!(t.state, TaskState::Done, "{} {:?}", model.pn, t.result);
        }
        // What the status page shows; a value equal to the default may
        // not be stored explicitly.
        let value = |p: &Value, n: &str| {
            p[n].as_str()
                .map(str::to_string)
                .unwrap_or_else(|| schema::default_of(n).unwrap_or_default().to_string())
        };
        let mut after = Value::Null;
        for _ in 0..400 {
            after = status(phone).await["params"].clone();
            if want.iter().all(|(n, v)| value(&after, n) == *v) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for (n, v) in &want {
            assert_eq!(
                value(&after, n),
                *v,
                "{}: {n} after SetParameterValues",
                model.pn
            );
        }
        walked += names.len();
        fleet.shutdown_handle().shutdown();
        fleet.wait().await;
    }
    let pns: Vec<&str> = models.iter().map(|m| m.pn).collect();
    eprintln!("R-TR69-4: {walked} parameters walked on {pns:?}");
    assert!(walked > schema::all().len(), "{walked} names on {pns:?}");
}

/// Issue 15 item 4 (R-TR69, R-SEC-3): the custom CA is a trust anchor for
/// TR-069 too. The ACS is reached over HTTPS (stunnel4 in front of it)
/// with a certificate of a CA the fleet does not trust: without
/// `Custom_CA_Rule` every session fails in the handshake; with it (the
/// certificate fetched from nginx at boot) the session succeeds; by a
/// name the certificate does not hold it fails although
/// `TLS_Name_Validate` is No (host-name validation always on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_tr69_custom_ca_is_a_trust_anchor_for_an_https_acs() {
    let acs = start_acs(open_settings()).await;
    let acs_port: u16 = acs
        .url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let custom = phoneprov_pki::Ca::generate("custom ACS CA").unwrap();
    let fleet_ca = phoneprov_pki::Ca::generate("fleet CA").unwrap();
    let server = custom.issue_server(&["127.0.0.1".to_string()]).unwrap();
    let dir = phoneprov_testpeers::open_tempdir();
    let (cert, key) = (dir.path().join("acs.pem"), dir.path().join("acs.key"));
    std::fs::write(&cert, &server.cert_pem).unwrap();
    std::fs::write(&key, &server.key_pem).unwrap();
    let (_stunnel, tls_port) = phoneprov_testpeers::stunnel(dir.path(), &cert, &key, acs_port, "");
    let files = Nginx::start("", "", |_| {});
    files.write("ca.pem", custom.cert_pem().as_bytes());
    let ca_rule = format!("http://127.0.0.1:{}/ca.pem", files.port);
    let run = |host: &str, ca_rule: Option<&str>| {
        let mut cfg = SimConfig::new(1);
        cfg.trust_pem = Some(fleet_ca.cert_pem().as_bytes().to_vec());
        cfg.tr069 = tr069(&format!("https://{host}:{tls_port}/"));
        cfg.params = vec![
            ("Resync_Periodic".into(), "0".into()),
            ("TLS_Name_Validate".into(), "No".into()),
        ];
        if let Some(r) = ca_rule {
            cfg.params.push(("Custom_CA_Rule".into(), r.to_string()));
        }
        async move {
            tokio::time::timeout(Duration::from_secs(60), run_fleet(cfg))
                .await
                .expect("the --once fleet ends")
                .unwrap()
        }
    };

    let r = run("127.0.0.1", None).await;
    let c = r.cwmp.unwrap();
    assert_eq!(c.sessions_ok, 0, "{c:?}");
    assert!(c.sessions_failed >= 1, "{c:?}");
    assert!(
        informs(acs.dir.path()).is_empty(),
        "nothing reached the ACS"
    );

    let r = run("127.0.0.1", Some(&ca_rule)).await;
    let text = r.to_text();
    let c = r.cwmp.unwrap();
    assert_eq!(c.sessions_ok, 1, "{c:?} {text}");
    assert!(informs(acs.dir.path())[0].contains("0 BOOTSTRAP"));

    let before = informs(acs.dir.path()).len();
    let r = run("localhost", Some(&ca_rule)).await;
    let c = r.cwmp.unwrap();
    assert_eq!(c.sessions_ok, 0, "{c:?}");
    let errors = format!("{:?}", c.errors);
    assert!(errors.contains("not valid for name"), "{errors}");
    assert_eq!(informs(acs.dir.path()).len(), before);
}
