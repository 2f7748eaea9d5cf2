//! End to end (R-ACT, R-FLOW-1/4): the sans-IO phone machine, driven by a
//! small shell with a hyper client, against the real router served on a
//! loopback TCP listener, through every customization state:
//! Open→Aborted (DHCP), Open→Pending→Custom Pending→Acquired,
//! Pending→Unavailable, manual→Aborted, GDS code and short code
//! (GDS-Pending→GDS-Acquired), resync failure → backoff → Pending again
//! (both Custom-Pending→Pending and GDS-Pending→Pending), reboot keeps the
//! state, factory reset → Open. Time is virtual: the retry timer is
//! "fired" by jumping the phone's clock, never by sleeping.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, Method, Request, StatusCode};
use axum::routing::get;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use phoneprov_activation::{
    bearer_guard, is_gds_rule, parse_redirect, router, ActivationId as PhoneIdentity,
    ActivationRequest, ActivationService, BackoffPolicy, CodeAnswer, CustomizationMachine,
    CustomizationState as S, Input, Output, Persisted, QueryAnswer, MIN_RETRY_DELAY_MS,
};
use phoneprov_store::{EventKind, Mac, Store};
use serde_json::json;

const TOKEN: &str = "e2e-token";
type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The provider's profile server: `/profiles/NAME` answers 200, except that
/// the next `fail` requests answer 500.
async fn profile(
    State(fail): State<Arc<AtomicU32>>,
    Path(name): Path<String>,
) -> (StatusCode, String) {
    let failing = fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        (StatusCode::INTERNAL_SERVER_ERROR, "down".into())
    } else {
        (
            StatusCode::OK,
            format!("<flat-profile><GPP_A>{name}</GPP_A></flat-profile>"),
        )
    }
}

struct Server {
    base: String,
    fail: Arc<AtomicU32>,
    client: HttpClient,
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_path_buf();
        let svc = ActivationService::open(&data, bearer_guard(TOKEN.into())).unwrap();
        let fail = Arc::new(AtomicU32::new(0));
        let app = router(svc).merge(
            axum::Router::new()
                .route("/profiles/{name}", get(profile))
                .with_state(fail.clone()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap()
        });
        Server {
            base: format!("http://{addr}"),
            fail,
            client: Client::builder(TokioExecutor::new()).build_http(),
            _dir: dir,
            data,
        }
    }

    async fn request(
        &self,
        method: Method,
        uri: &str,
        body: Option<serde_json::Value>,
        token: bool,
    ) -> (StatusCode, Bytes) {
        let mut req = Request::builder().method(method).uri(uri);
        if token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(v.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let resp = self
            .client
            .request(req.body(body).unwrap())
            .await
            .unwrap_or_else(|e| panic!("request to {uri} failed: {e}"));
        let st = resp.status();
        (st, resp.into_body().collect().await.unwrap().to_bytes())
    }

    async fn admin(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (st, b) = self
            .request(
                Method::POST,
                &format!("{}{path}", self.base),
                Some(body),
                true,
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
        serde_json::from_slice(&b).unwrap()
    }

    fn url(&self, name: &str) -> String {
        format!("{}/profiles/{name}", self.base)
    }
}

/// The phone shell: carries out the machine's outputs over HTTP and feeds
/// the answers back; records every state the machine passes through.
struct Phone<'a> {
    srv: &'a Server,
    m: CustomizationMachine,
    now: phoneprov_phone::Time,
    timer: Option<phoneprov_phone::Time>,
    trace: Vec<S>,
    requests: u32,
}

impl<'a> Phone<'a> {
    fn new(srv: &'a Server, mac: &str) -> Self {
        let m = CustomizationMachine::new(
            ident(mac),
            BackoffPolicy::default(),
            u64::from_str_radix(mac, 16).unwrap(),
        );
        Phone {
            srv,
            m,
            now: phoneprov_phone::Time(1_000_000),
            timer: None,
            trace: vec![],
            requests: 0,
        }
    }

    async fn feed(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(i) = queue.pop_front() {
            let out = self.m.handle(self.now, i);
            self.trace.push(self.m.state());
            for o in out {
                match o {
                    Output::Request(ActivationRequest::Query { mac, model, serial }) => {
                        let uri = format!(
                            "{}/activation/v1/query?mac={mac}&model={model}&serial={serial}",
                            self.srv.base
                        );
                        self.requests += 1;
                        let (st, body) = self.srv.request(Method::GET, &uri, None, false).await;
                        queue.push_back(Input::QueryAnswer(match st {
                            StatusCode::OK => parse_redirect(&body)
                                .map(QueryAnswer::Redirect)
                                .unwrap_or_else(|e| QueryAnswer::Error(e.to_string())),
                            StatusCode::NOT_FOUND => QueryAnswer::Unbound,
                            other => QueryAnswer::Error(other.to_string()),
                        }));
                    }
                    Output::Request(ActivationRequest::SubmitCode { mac, code }) => {
                        let uri = format!("{}/activation/v1/code", self.srv.base);
                        self.requests += 1;
                        let body = json!({"mac": mac, "code": code.to_string()});
                        let (st, body) = self
                            .srv
                            .request(Method::POST, &uri, Some(body), false)
                            .await;
                        queue.push_back(Input::CodeAnswer(match st {
                            StatusCode::OK => parse_redirect(&body)
                                .map(CodeAnswer::Redirect)
                                .unwrap_or_else(|e| CodeAnswer::Error(e.to_string())),
                            StatusCode::NOT_FOUND | StatusCode::GONE => CodeAnswer::Rejected,
                            other => CodeAnswer::Error(other.to_string()),
                        }));
                    }
                    Output::ApplyProfileRule { url } => {
                        let (st, _) = self.srv.request(Method::GET, &url, None, false).await;
                        queue.push_back(Input::ResyncResult {
                            ok: st == StatusCode::OK,
                        });
                    }
                    Output::ScheduleRetry { at } => self.timer = Some(at),
                    Output::CancelRetry => self.timer = None,
                    Output::CodeInvalid(e) => panic!("code refused by the phone: {e}"),
                }
            }
        }
    }

    /// Jumps the virtual clock to the armed retry and fires it.
    async fn fire_retry(&mut self) -> u64 {
        let at = self.timer.take().expect("a retry is armed");
        let waited = at.0 - self.now.0;
        self.now = at;
        self.feed(Input::RetryTimer).await;
        waited
    }

    fn take_trace(&mut self) -> Vec<S> {
        std::mem::take(&mut self.trace)
    }
}

fn ident(mac: &str) -> PhoneIdentity {
    PhoneIdentity {
        mac: mac.into(),
        model: "CP-8841-3PCC".into(),
        serial: "88012BA01234".into(),
    }
}

#[tokio::test]
async fn r_act_every_customization_state_against_the_real_server() {
    let srv = Server::start().await;

    // Open → Aborted: DHCP gave a server; the activation server is never asked.
    let mut p = Phone::new(&srv, "000e08000001");
    assert_eq!(p.m.state(), S::Open);
    p.feed(Input::Boot { dhcp_server: true }).await;
    assert_eq!(p.take_trace(), [S::Aborted]);
    assert_eq!(p.requests, 0);

    // Open → Pending → Custom Pending → Acquired.
    srv.admin(
        "/api/v1/activation/bindings",
        json!({"mac": "000e08000002", "url": srv.url("a.xml")}),
    )
    .await;
    let mut p = Phone::new(&srv, "000e08000002");
    p.feed(Input::Boot { dhcp_server: false }).await;
    assert_eq!(p.take_trace(), [S::Pending, S::CustomPending, S::Acquired]);
    assert_eq!(p.m.url(), Some(srv.url("a.xml").as_str()));
    // A reboot keeps Acquired (persisted as JSON) and asks nothing.
    let saved = serde_json::to_string(p.m.persisted()).unwrap();
    let restored: Persisted = serde_json::from_str(&saved).unwrap();
    p.m = CustomizationMachine::restore(ident("000e08000002"), BackoffPolicy::default(), restored);
    let before = p.requests;
    p.feed(Input::Boot { dhcp_server: false }).await;
    assert_eq!(p.take_trace(), [S::Acquired]);
    assert_eq!(p.requests, before, "no activation query after Acquired");
    // Factory reset → Open; this time DHCP answers first → Aborted.
    p.feed(Input::FactoryReset).await;
    assert_eq!(p.take_trace(), [S::Open]);
    p.feed(Input::Boot { dhcp_server: true }).await;
    assert_eq!(p.take_trace(), [S::Aborted]);

    // Pending → Unavailable (nobody bound it), retried with backoff; then
    // manual provisioning → Aborted, which drops the retry.
    let mut p = Phone::new(&srv, "000e08000003");
    p.feed(Input::Boot { dhcp_server: false }).await;
    assert_eq!(p.take_trace(), [S::Pending, S::Unavailable]);
    let waited = p.fire_retry().await;
    assert!(waited >= MIN_RETRY_DELAY_MS, "{waited}");
    assert_eq!(p.take_trace(), [S::Pending, S::Unavailable]);
    assert!(p.timer.is_some());
    p.feed(Input::ManualProvisioning).await;
    assert_eq!(p.take_trace(), [S::Aborted]);
    assert_eq!(p.timer, None);
    let before = p.requests;
    p.feed(Input::Boot { dhcp_server: false }).await;
    assert_eq!(p.requests, before, "no activation query after Aborted");

    // GDS: `gds://` rule, 16-digit code → GDS-Pending → GDS-Acquired.
    let issued = srv
        .admin(
            "/api/v1/activation/codes",
            json!({"url": srv.url("gds.xml"), "count": 1}),
        )
        .await;
    let code = issued["codes"][0]["code"].as_str().unwrap().to_string();
    assert!(is_gds_rule("gds://"));
    let mut p = Phone::new(&srv, "000e08000004");
    p.feed(Input::Boot { dhcp_server: false }).await; // unbound → Unavailable
    p.take_trace();
    p.feed(Input::GdsCode(code.clone())).await;
    assert_eq!(
        p.take_trace(),
        [S::GdsPending, S::GdsPending, S::GdsAcquired]
    );
    assert_eq!(
        p.timer, None,
        "entering a code dropped the Unavailable retry"
    );
    // The code is spent: another phone typing it is refused (410) and
    // falls back to Pending with a retry (GDS-Pending → Pending).
    let mut q = Phone::new(&srv, "000e08000005");
    q.feed(Input::GdsCode(code)).await;
    assert_eq!(q.take_trace(), [S::GdsPending, S::Pending]);
    assert!(q.timer.is_some());

    // Short code `#` + digits, reusable by several phones.
    srv.admin(
        "/api/v1/activation/codes",
        json!({"url": srv.url("short.xml"), "short": "555"}),
    )
    .await;
    for mac in ["000e08000006", "000e08000007"] {
        let mut p = Phone::new(&srv, mac);
        p.feed(Input::GdsCode("#555".into())).await;
        assert_eq!(
            p.take_trace(),
            [S::GdsPending, S::GdsPending, S::GdsAcquired]
        );
        assert_eq!(p.m.url(), Some(srv.url("short.xml").as_str()));
    }

    // Custom Pending → (resync fails) → Pending, backoff ≥ 60 s, retry →
    // Pending → Custom Pending → Acquired.
    srv.admin(
        "/api/v1/activation/bindings",
        json!({"mac": "000e08000008", "url": srv.url("flaky.xml")}),
    )
    .await;
    let mut p = Phone::new(&srv, "000e08000008");
    srv.fail.store(1, Ordering::SeqCst);
    p.feed(Input::Boot { dhcp_server: false }).await;
    assert_eq!(p.take_trace(), [S::Pending, S::CustomPending, S::Pending]);
    let waited = p.fire_retry().await;
    assert!(
        (MIN_RETRY_DELAY_MS..=MIN_RETRY_DELAY_MS * 11 / 10).contains(&waited),
        "{waited}"
    );
    assert_eq!(p.take_trace(), [S::Pending, S::CustomPending, S::Acquired]);

    // GDS-Pending → (resync fails) → Pending; the retry asks by MAC, which
    // the redemption bound → Custom Pending → Acquired.
    let issued = srv
        .admin(
            "/api/v1/activation/codes",
            json!({"url": srv.url("gds2.xml")}),
        )
        .await;
    let code = issued["codes"][0]["code"].as_str().unwrap().to_string();
    let mut p = Phone::new(&srv, "000e08000009");
    srv.fail.store(2, Ordering::SeqCst);
    p.feed(Input::GdsCode(code)).await;
    assert_eq!(p.take_trace(), [S::GdsPending, S::GdsPending, S::Pending]);
    let first = p.fire_retry().await;
    assert_eq!(
        p.take_trace(),
        [S::Pending, S::CustomPending, S::Pending],
        "second failure"
    );
    let second = p.fire_retry().await;
    assert!(second > first, "backoff grows: {first} then {second}");
    assert_eq!(p.take_trace(), [S::Pending, S::CustomPending, S::Acquired]);

    // Every answer is on the phones' timelines.
    let inv = Store::open_existing(&srv.data).unwrap();
    let ev = inv.events(Mac::parse("000e08000009").unwrap(), 50).unwrap();
    assert_eq!(ev.len(), 3, "{ev:?}"); // code + two queries
    assert!(ev.iter().all(|e| e.kind == EventKind::Activation));
    assert!(
        ev.iter()
            .all(|e| e.source_ip.as_deref() == Some("127.0.0.1")),
        "{ev:?}"
    );
    assert!(inv
        .events(Mac::parse("000e08000001").unwrap(), 10)
        .unwrap()
        .is_empty());
}
