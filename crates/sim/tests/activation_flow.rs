//! The activation client of the virtual phones (SPEC §11 R-ACT-1/2/3,
//! R-FLOW-1/4) against the real activation service
//! (`phoneprov_activation::router` on axum, SQLite in a temp dir) and a
//! real profile server (nginx): every customization state, the backoff,
//! reboot and factory reset, manual provisioning, and bad servers.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Nginx, Pki};
use phoneprov_activation::{bearer_guard, router, ActivationService};
use phoneprov_sim::ClientCerts;
use phoneprov_sim::{Fleet, RunMode, SimConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MAC: &str = "000e08000001";
const TOKEN: &str = "admin-token";

/// The activation service on 127.0.0.1:0 with a counter of phone requests.
struct Activation {
    addr: SocketAddr,
    phone_requests: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Activation {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Activation {
    async fn start() -> Activation {
        let dir = tempfile::tempdir().unwrap();
        let svc = ActivationService::open(dir.path(), bearer_guard(TOKEN.into())).unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let app = router(svc).layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                if req.uri().path().starts_with("/activation/") {
                    c.fetch_add(1, Ordering::SeqCst);
                }
                next.run(req)
            },
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Activation {
            addr,
            phone_requests: count,
            _dir: dir,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> usize {
        self.phone_requests.load(Ordering::SeqCst)
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let (st, text) = http(
            self.addr,
            "POST",
            path,
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            &body.to_string(),
        )
        .await;
        assert!(st == 200 || st == 201, "{path}: {st} {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn bind(&self, mac: &str, url: &str) {
        self.admin(
            "/api/v1/activation/bindings",
            serde_json::json!({ "mac": mac, "url": url }),
        )
        .await;
    }

    async fn issue_code(&self, url: &str) -> String {
        let v = self
            .admin(
                "/api/v1/activation/codes",
                serde_json::json!({ "url": url, "count": 1 }),
            )
            .await;
        v["codes"][0]["code"].as_str().unwrap().to_string()
    }
}

/// One HTTP/1.1 exchange over a fresh connection: (status, body).
async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    (status, body)
}

/// nginx serving `p/<MAC>.xml` (GPP_A = `provider`) and `c/<MAC>.xml`
/// (GPP_B = `coded`); anything else is 404.
fn profiles() -> Nginx {
    let n = Nginx::start("", "", |_| {});
    n.write(
        &format!("p/{MAC}.xml"),
        b"<flat-profile><GPP_A>provider</GPP_A></flat-profile>",
    );
    n.write(
        &format!("c/{MAC}.xml"),
        b"<flat-profile><GPP_B>coded</GPP_B></flat-profile>",
    );
    n
}

fn phone(act: &str) -> SimConfig {
    let mut cfg = common::one_phone(&[]);
    cfg.activation = Some(act.to_string());
    cfg
}

fn live(act: &str) -> SimConfig {
    let mut cfg = phone(act);
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.mode = RunMode::Forever;
    cfg.activation_retry_wait = Some(Duration::from_millis(200));
    cfg
}

fn history(status: &Value) -> Vec<String> {
    status["activation"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

async fn status(addr: SocketAddr) -> Value {
    let (st, body) = http(addr, "GET", &format!("/{MAC}/status.json"), &[], "").await;
    assert_eq!(st, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Polls the phone's status until `pred` holds (15 s at most).
async fn wait_status(addr: SocketAddr, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        last = status(addr).await;
        if pred(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never {what}: {}", last["activation"]);
}

fn state_is(want: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["activation"]["state"] == want
}

#[tokio::test]
async fn r_act_1_bound_mac_open_pending_custom_pending_acquired() {
    let act = Activation::start().await;
    let n = profiles();
    let rule = format!("http://127.0.0.1:{}/p/$MA.xml", n.port);
    act.bind(MAC, &rule).await;
    let report = Fleet::start(phone(&act.url())).await.unwrap().wait().await;
    let status = report.status.clone().unwrap();
    assert_eq!(
        history(&status),
        ["Open", "Pending", "Custom Pending", "Acquired"]
    );
    assert_eq!(report.customization["Acquired"], 1, "{}", report.to_text());
    assert!(report.to_text().contains("customization: Acquired 1"));
    assert_eq!(common::param(&report, "Profile_Rule").unwrap(), rule);
    assert_eq!(common::param(&report, "GPP_A").unwrap(), "provider");
    assert_eq!(report.resyncs.a, 1);
    assert_eq!(act.seen(), 1, "one query");
    assert_eq!(report.once_exit_code(), 0);
}

#[tokio::test]
async fn r_act_1_dhcp_server_aborts_without_asking() {
    let act = Activation::start().await;
    let n = profiles();
    act.bind(MAC, "http://127.0.0.1:9/never.xml").await;
    let mut cfg = phone(&act.url());
    // Option 160 names the provisioning profile: DHCP wins (R-FLOW-4).
    cfg.lease =
        phoneprov_sim::DhcpLease::parse([
            format!("160=http://127.0.0.1:{}/p/$MA.xml", n.port).as_str()
        ])
        .unwrap();
    let report = Fleet::start(cfg).await.unwrap().wait().await;
    assert_eq!(report.customization["Aborted"], 1, "{}", report.to_text());
    assert_eq!(common::param(&report, "GPP_A").unwrap(), "provider");
    // Option 66 too: a TFTP server for the default rule.
    let mut cfg = phone(&act.url());
    cfg.lease = phoneprov_sim::DhcpLease::parse(["66=127.0.0.1"]).unwrap();
    cfg.request_timeout = Duration::from_secs(2);
    let report = Fleet::start(cfg).await.unwrap().wait().await;
    assert_eq!(report.customization["Aborted"], 1, "{}", report.to_text());
    assert_eq!(
        history(report.status.as_ref().unwrap()),
        ["Open", "Aborted"]
    );
    assert_eq!(act.seen(), 0, "the activation server saw nothing");
}

#[tokio::test]
async fn r_act_3_unavailable_then_bound_is_retried_with_backoff() {
    let act = Activation::start().await;
    let n = profiles();
    let fleet = Fleet::start(live(&act.url())).await.unwrap();
    let addr = fleet.local_addr().unwrap();
    let s = wait_status(addr, "three failed queries", |v| {
        v["activation"]["state"] == "Unavailable" && v["activation"]["attempt"].as_u64() >= Some(3)
    })
    .await;
    // 60 s, 120 s, 240 s (+ up to 10 % jitter) on the phone's clock.
    let delays: Vec<u64> = s["activation"]["retry_delays_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect();
    for (i, base) in [60_000u64, 120_000, 240_000].iter().enumerate() {
        assert!(
            delays[i] >= *base && delays[i] <= base + base / 10,
            "retry {i}: {delays:?}"
        );
    }
    assert_eq!(s["activation"]["engine_on"], false, "held while activating");
    act.bind(MAC, &format!("http://127.0.0.1:{}/p/$MA.xml", n.port))
        .await;
    let s = wait_status(addr, "Acquired", state_is("Acquired")).await;
    assert_eq!(s["params"]["GPP_A"], "provider");
    let h = history(&s);
    assert_eq!(h[..3], ["Open", "Pending", "Unavailable"]);
    assert_eq!(h[h.len() - 3..], ["Pending", "Custom Pending", "Acquired"]);
    fleet.shutdown_handle().shutdown();
    let report = fleet.wait().await;
    assert_eq!(report.customization["Acquired"], 1);
}

#[tokio::test]
async fn r_act_3_provider_404_goes_back_to_pending_with_a_retry() {
    let act = Activation::start().await;
    let n = profiles();
    act.bind(MAC, &format!("http://127.0.0.1:{}/missing/$MA.xml", n.port))
        .await;
    let report = Fleet::start(phone(&act.url())).await.unwrap().wait().await;
    let s = report.status.clone().unwrap();
    assert_eq!(
        history(&s),
        ["Open", "Pending", "Custom Pending", "Pending"]
    );
    assert!(s["activation"]["retry_at"].is_u64(), "{s}");
    assert_eq!(s["activation"]["url"], Value::Null);
    assert_eq!(report.resyncs.b, 1, "{}", report.to_text());
    assert_eq!(report.customization["Pending"], 1);
    assert_eq!(common::param(&report, "GPP_A").unwrap_or_default(), "");
}

#[tokio::test]
async fn r_act_2_gds_code_accepted_then_gds_acquired() {
    let act = Activation::start().await;
    let n = profiles();
    let code = act
        .issue_code(&format!("http://127.0.0.1:{}/c/$MA.xml", n.port))
        .await;
    let mut cfg = phone(&act.url());
    cfg.params.push(("Profile_Rule".into(), "gds://".into()));
    cfg.gds_code = Some(code.clone());
    let report = Fleet::start(cfg.clone()).await.unwrap().wait().await;
    let s = report.status.clone().unwrap();
    // R-FLOW-4: the activation server first, then the code.
    assert_eq!(
        history(&s),
        [
            "Open",
            "Pending",
            "Unavailable",
            "GDS-Pending",
            "GDS-Acquired"
        ]
    );
    assert_eq!(common::param(&report, "GPP_B").unwrap(), "coded");
    assert_eq!(report.customization["GDS-Acquired"], 1);
    assert_eq!(act.seen(), 2, "one query, one code");
    // Redeeming bound the MAC: the next query of this phone finds it.
    // The same (single-use) code on another phone: rejected → Pending.
    cfg.mac_base = "000e08000002".into();
    let report = Fleet::start(cfg.clone()).await.unwrap().wait().await;
    let s = report.status.clone().unwrap();
    assert_eq!(
        history(&s),
        ["Open", "Pending", "Unavailable", "GDS-Pending", "Pending"]
    );
    assert!(s["activation"]["retry_at"].is_u64());
    assert_eq!(common::param(&report, "GPP_B").unwrap_or_default(), "");
    assert_eq!(report.once_exit_code(), 1, "no resync");
    // A code whose profile is missing: GDS-Pending → resync fails (404,
    // class B) → Pending with a retry (R-ACT-3).
    cfg.mac_base = "000e08000003".into();
    cfg.gds_code = Some(
        act.issue_code(&format!("http://127.0.0.1:{}/gone/$MA.xml", n.port))
            .await,
    );
    let report = Fleet::start(cfg).await.unwrap().wait().await;
    let s = report.status.clone().unwrap();
    assert_eq!(
        history(&s),
        ["Open", "Pending", "Unavailable", "GDS-Pending", "Pending"]
    );
    assert_eq!(report.resyncs.b, 1, "{}", report.to_text());
    assert!(s["activation"]["retry_at"].is_u64());
}

#[tokio::test]
async fn r_act_2_code_trigger_unknown_expired_and_malformed() {
    let act = Activation::start().await;
    let n = profiles();
    let fleet = Fleet::start(live(&act.url())).await.unwrap();
    let addr = fleet.local_addr().unwrap();
    wait_status(addr, "Unavailable", state_is("Unavailable")).await;
    let post = |body: &'static str| async move {
        http(addr, "POST", &format!("/{MAC}/activation/code"), &[], body).await
    };
    let (st, text) = post("12ab").await;
    assert_eq!(st, 400, "malformed: {text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    let (st, _) = post("1234 5678 1234 5678").await;
    assert_eq!(st, 200, "well formed: submitted");
    let s = wait_status(addr, "rejected", |v| {
        history(v).ends_with(&["GDS-Pending".to_string(), "Pending".to_string()])
    })
    .await;
    assert!(s["activation"]["retry_at"].is_u64());
    // An expired code (ttl 0) is rejected too (410).
    let v = act
        .admin(
            "/api/v1/activation/codes",
            serde_json::json!({ "url": format!("http://127.0.0.1:{}/c/$MA.xml", n.port), "ttl_secs": 0 }),
        )
        .await;
    let expired = v["codes"][0]["code"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (st, _) = http(
        addr,
        "POST",
        &format!("/{MAC}/activation/code"),
        &[],
        &expired,
    )
    .await;
    assert_eq!(st, 200);
    let s = wait_status(addr, "expired code rejected", |v| {
        v["activation"]["codes_sent"] == 2
            && v["activation"]["state"] != "GDS-Pending"
            && v["activation"]["waiting"] == "none"
    })
    .await;
    assert_ne!(
        s["activation"]["state"], "GDS-Acquired",
        "{}",
        s["activation"]
    );
    assert_eq!(s["params"]["GPP_B"].as_str().unwrap_or(""), "");
    fleet.shutdown_handle().shutdown();
    fleet.wait().await;
}

#[tokio::test]
async fn r_act_1_acquired_survives_reboot_and_factory_reset_starts_over() {
    let act = Activation::start().await;
    let n = profiles();
    act.bind(MAC, &format!("http://127.0.0.1:{}/p/$MA.xml", n.port))
        .await;
    let fleet = Fleet::start(live(&act.url())).await.unwrap();
    let addr = fleet.local_addr().unwrap();
    wait_status(addr, "Acquired", state_is("Acquired")).await;
    assert_eq!(act.seen(), 1);
    let (st, _) = http(addr, "POST", &format!("/{MAC}/admin/reboot"), &[], "").await;
    assert_eq!(st, 200);
    let s = wait_status(addr, "rebooted and resynced", |v| {
        v["counters"]["boots"] == 2 && v["counters"]["resyncs_ok"] == 2
    })
    .await;
    assert_eq!(s["activation"]["state"], "Acquired");
    assert_eq!(s["params"]["GPP_A"], "provider", "params kept");
    assert_eq!(act.seen(), 1, "no query after Acquired (R-ACT-1)");
    let (st, _) = http(
        addr,
        "POST",
        &format!("/{MAC}/admin/factory-reset"),
        &[],
        "",
    )
    .await;
    assert_eq!(st, 200);
    let s = wait_status(addr, "acquired again", |v| {
        v["activation"]["state"] == "Acquired" && v["activation"]["queries"] == 2
    })
    .await;
    assert_eq!(
        history(&s),
        ["Open", "Pending", "Custom Pending", "Acquired"]
    );
    assert_eq!(act.seen(), 2, "factory reset → Open → asks again");
    fleet.shutdown_handle().shutdown();
    fleet.wait().await;
}

#[tokio::test]
async fn r_act_1_manual_provisioning_aborts() {
    let act = Activation::start().await;
    let n = profiles();
    let fleet = Fleet::start(live(&act.url())).await.unwrap();
    let addr = fleet.local_addr().unwrap();
    wait_status(addr, "Unavailable", state_is("Unavailable")).await;
    let body = format!(
        "Profile_Rule=http%3A%2F%2F127.0.0.1%3A{}%2Fp%2F%24MA.xml",
        n.port
    );
    let (st, text) = http(addr, "POST", &format!("/{MAC}/admin/params"), &[], &body).await;
    assert_eq!(st, 200, "{text}");
    let s = wait_status(addr, "Aborted and provisioned", |v| {
        v["activation"]["state"] == "Aborted" && v["params"]["GPP_A"] == "provider"
    })
    .await;
    assert_eq!(s["activation"]["retry_at"], Value::Null);
    let seen = act.seen();
    // The backoff timer is gone: no more queries however long we wait.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(act.seen(), seen, "no query after Aborted");
    fleet.shutdown_handle().shutdown();
    let report = fleet.wait().await;
    assert_eq!(report.customization["Aborted"], 1);
}

/// A server that reads one request and answers `reply` (or closes).
async fn bad_server(reply: &'static [u8]) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(reply).await;
            let _ = s.shutdown().await;
        }
    });
    (addr, task)
}

#[tokio::test]
async fn bad_activation_servers_leave_the_phone_pending_and_unchanged() {
    let cases: [(&str, &[u8]); 3] = [
        (
            "garbage",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\n<<garbage",
        ),
        (
            "500",
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
        ("closed", b""),
    ];
    for (name, reply) in cases {
        let (addr, task) = bad_server(reply).await;
        let report = Fleet::start(phone(&format!("http://{addr}")))
            .await
            .unwrap()
            .wait()
            .await;
        task.abort();
        let s = report.status.clone().unwrap();
        assert_eq!(
            history(&s),
            ["Open", "Pending"],
            "{name}: {}",
            s["activation"]
        );
        assert!(s["activation"]["retry_at"].is_u64(), "{name}: retry armed");
        assert!(
            s["activation"]["last_error"]
                .as_str()
                .is_some_and(|e| !e.is_empty()),
            "{name}: {}",
            s["activation"]
        );
        assert_eq!(
            common::param(&report, "Profile_Rule"),
            None,
            "{name}: nothing applied (factory default rule)"
        );
        assert_eq!(report.resyncs.a + report.resyncs.b + report.resyncs.c, 0);
        assert_eq!(report.customization["Pending"], 1);
    }
}

#[tokio::test]
async fn bad_flags_are_one_clear_line() {
    let mut cfg = SimConfig::new(1);
    cfg.activation = Some("ftp://x".into());
    let e = Fleet::start(cfg).await.err().unwrap().to_string();
    assert!(e.contains("--activation") && !e.contains('\n'), "{e}");
    let mut cfg = SimConfig::new(1);
    cfg.activation = Some("http://127.0.0.1:9".into());
    cfg.gds_code = Some("12".into());
    let e = Fleet::start(cfg).await.err().unwrap().to_string();
    assert!(e.contains("--gds-code"), "{e}");
}

/// nginx with `ssl_verify_client on` in front of the activation service
/// (`/activation/` proxied) and serving the provider's profile.
fn nginx_mtls_front(pki: &Pki, act: &Activation) -> Nginx {
    let body = format!(
        "    ssl_certificate {s};\n    ssl_certificate_key {k};\n\
         ssl_client_certificate {ca};\n    ssl_verify_client on;\n\
         location /activation/ {{ proxy_pass http://{a}; }}\n",
        s = pki.path("server.pem").display(),
        k = pki.path("server.key").display(),
        ca = pki.path("ca.pem").display(),
        a = act.addr,
    );
    let n = Nginx::start("ssl", &body, |_| {});
    n.write(
        &format!("p/{MAC}.xml"),
        b"<flat-profile><GPP_A>provider</GPP_A></flat-profile>",
    );
    n
}

#[tokio::test]
async fn r_act_1_https_activation_uses_the_phone_ca_and_client_certificate() {
    let act = Activation::start().await;
    let pki = Pki::new(&["127.0.0.1"], &[(MAC, "SN000001")]);
    let n = nginx_mtls_front(&pki, &act);
    let ca = std::fs::read(pki.path("ca.pem")).unwrap();
    let rule = format!("https://127.0.0.1:{}/p/$MA.xml", n.port);
    act.bind(MAC, &rule).await;
    let base = format!("https://127.0.0.1:{}", n.port);
    let mut cfg = phone(&base);
    cfg.trust_pem = Some(ca.clone());
    cfg.client_certs = ClientCerts::Dir(pki.path("phones"));
    let report = Fleet::start(cfg).await.unwrap().wait().await;
    assert_eq!(report.customization["Acquired"], 1, "{}", report.to_text());
    assert_eq!(common::param(&report, "GPP_A").unwrap(), "provider");
    assert_eq!(act.seen(), 1);
    // Without a client certificate nginx refuses the exchange: Pending,
    // retry armed, the server behind it never asked.
    let mut cfg = phone(&base);
    cfg.trust_pem = Some(ca);
    let report = Fleet::start(cfg).await.unwrap().wait().await;
    let s = report.status.clone().unwrap();
    assert_eq!(history(&s), ["Open", "Pending"], "{}", s["activation"]);
    assert!(s["activation"]["retry_at"].is_u64());
    assert_eq!(act.seen(), 1);
    // An untrusted server (no --ca: public roots): TLS fails, Pending.
    let mut cfg = phone(&base);
    cfg.client_certs = ClientCerts::Dir(pki.path("phones"));
    let report = Fleet::start(cfg).await.unwrap().wait().await;
    let s = report.status.clone().unwrap();
    assert_eq!(s["activation"]["state"], "Pending", "{}", s["activation"]);
    assert_eq!(act.seen(), 1);
}

/// R-FLOW-4 chain: with no provisioning server from DHCP, the DNS SRV
/// record of the option-15 domain (asked of the option-6 DNS server,
/// dnsmasq) gives the rule and the activation service is not asked; an SRV
/// answer pointing nowhere gives a status line, the phone keeps its rule,
/// and the chain goes on to the activation service.
#[tokio::test]
async fn r_flow_4_dhcp_then_dns_srv_then_activation() {
    let act = Activation::start().await;
    let n = profiles();
    n.write(
        "CP-8841-3PCC.cfg",
        b"<flat-profile><GPP_C>by-srv</GPP_C></flat-profile>",
    );
    act.bind(MAC, &format!("http://127.0.0.1:{}/p/$MA.xml", n.port))
        .await;
    let port = n.port;
    let d = common::dnsmasq(&[
        format!("--srv-host=_ciscoprov-https._tls.good.test,pr1.good.test,{port},10,60"),
        "--address=/pr1.good.test/127.0.0.1".into(),
        format!("--srv-host=_ciscoprov-https._tls.bad.test,nowhere.bad.test,{port},10,60"),
    ]);
    let run = |domain: &str| {
        let mut cfg = phone(&act.url());
        cfg.lease = phoneprov_sim::DhcpLease::parse(
            ["6=127.0.0.1".to_string(), format!("15={domain}")]
                .iter()
                .map(String::as_str),
        )
        .unwrap();
        cfg.dns_port = Some(d.addr.port());
        cfg
    };
    // SRV points at a target with an address: the rule is set, activation
    // aborted without a query. (nginx speaks plain HTTP on the target port,
    // so the HTTPS resync itself fails: what counts here is the chain.)
    let report = Fleet::start(run("good.test")).await.unwrap().wait().await;
    let st = report.status.clone().unwrap();
    assert_eq!(
        st["dhcp"]["srv"]["rule"], "[--srv] https://good.test/$PN.cfg",
        "{st}"
    );
    assert_eq!(
        common::param(&report, "Profile_Rule").unwrap(),
        "[--srv] https://good.test/$PN.cfg"
    );
    assert_eq!(report.customization["Aborted"], 1, "{}", report.to_text());
    assert_eq!(act.seen(), 0, "DNS SRV came before the activation service");

    // SRV pointing nowhere: one status line, the factory rule kept, and the
    // activation service asked next.
    let report = Fleet::start(run("bad.test")).await.unwrap().wait().await;
    let st = report.status.clone().unwrap();
    let line = st["dhcp"]["srv"]["error"].as_str().unwrap_or_default();
    assert!(
        line.contains("_ciscoprov-https._tls.bad.test points nowhere")
            && line.contains("nowhere.bad.test"),
        "{st}"
    );
    // The SRV step set nothing: the rule is the one activation gave.
    assert!(common::param(&report, "Profile_Rule")
        .unwrap()
        .ends_with("/p/$MA.xml"));
    assert_eq!(report.customization["Acquired"], 1, "{}", report.to_text());
    assert_eq!(common::param(&report, "GPP_A").unwrap(), "provider");
    assert_eq!(act.seen(), 1, "the activation service came next");

    // A domain without any SRV record: the same fall-through.
    let report = Fleet::start(run("none.test")).await.unwrap().wait().await;
    let st = report.status.clone().unwrap();
    assert!(
        st["dhcp"]["srv"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("_ciscoprov-https._tls.none.test")),
        "{st}"
    );
    assert_eq!(report.customization["Acquired"], 1, "{}", report.to_text());
}
