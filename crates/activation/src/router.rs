//! The HTTP face of the activation service: [`router`] for `phoneprov serve`.
//!
//! Phone endpoints (no authentication: a phone has nothing to log in with;
//! what protects them is that only bound MACs and valid codes get an
//! answer, and codes are 10^16-space, single-use and expiring):
//!
//! | route | answer |
//! |---|---|
//! | `GET /activation/v1/query?mac=&model=&serial=` | 200 redirect profile, 404 no provider, 400 bad MAC |
//! | `POST /activation/v1/code` `{"mac","code"}` | 200 redirect profile, 404 unknown code, 410 used/expired, 400 malformed |
//!
//! `code` is the keypad text: 16 digits, or `#` and a 3–16 digit short code.
//!
//! Admin endpoints (every one passes the caller's [`AdminGuard`] first;
//! refused → 401 with `WWW-Authenticate: Bearer`), JSON in and out. Errors,
//! on these and on the phone endpoints, are the admin API's one shape
//! `{"error": "...", "hint": "..."}`
//! ([`phoneprov_types::http_error::ApiError`]):
//!
//! | route | what |
//! |---|---|
//! | `GET /api/v1/activation` | [`Listing`] of bindings, codes, short codes |
//! | `POST /api/v1/activation/bindings` [`BindBody`] | 201 [`Binding`] |
//! | `POST /api/v1/activation/unbind` [`UnbindBody`] | 200 `{"removed":true}`, 404 if nothing matched |
//! | `POST /api/v1/activation/codes` [`CodesBody`] | 201 `{"codes":[IssuedCode...]}` or `{"short_code":ShortCode}` |
//!
//! The store is synchronous SQLite; every handler runs it on
//! `spawn_blocking` behind one mutex (activation traffic is a trickle:
//! phones ask once in their life).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use phoneprov_store::{Mac, Outcome};
use phoneprov_types::http_error::{ApiError, INTERNAL_HINT};
use phoneprov_types::{IdBy, Identified};
use serde::{Deserialize, Serialize};

use crate::codes::EnteredCode;
use crate::error::{ActivationError, RedeemError};
use crate::store::{ActivationStore, Binding, IssuedCode, Listing, ShortCode, Target};
use phoneprov_phone::activation::{redirect_profile, REDIRECT_CONTENT_TYPE};

/// Decides whether an admin request may pass, from its headers. The server
/// supplies it (its bearer token, its auth scheme); see [`bearer_guard`].
pub type AdminGuard = Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync>;

/// The service's clock, Unix ms. Injected so tests can expire codes.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Default lifetime of codes issued through the API without `ttl_secs`.
pub const DEFAULT_CODE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Shared state of [`router`]: the store, the admin guard and the clock.
#[derive(Clone)]
pub struct ActivationService {
    store: Arc<Mutex<ActivationStore>>,
    guard: AdminGuard,
    clock: Clock,
}

impl std::fmt::Debug for ActivationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivationService").finish_non_exhaustive()
    }
}

impl ActivationService {
    /// Wraps a store; the clock is the system clock.
    pub fn new(store: ActivationStore, guard: AdminGuard) -> Self {
        ActivationService {
            store: Arc::new(Mutex::new(store)),
            guard,
            clock: Arc::new(phoneprov_store::now_ms),
        }
    }

    /// Opens the store of data directory `dir`.
    pub fn open(dir: &std::path::Path, guard: AdminGuard) -> Result<Self, ActivationError> {
        Ok(Self::new(ActivationStore::open(dir)?, guard))
    }

    /// [`open`](Self::open) on a database of either backend (issue 13).
    pub fn open_db(
        db: &phoneprov_store::Database,
        guard: AdminGuard,
    ) -> Result<Self, ActivationError> {
        Ok(Self::new(ActivationStore::open_db(db)?, guard))
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs `f` on the store off the async runtime.
    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut ActivationStore, i64) -> Result<T, ActivationError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        let now = (self.clock)();
        tokio::task::spawn_blocking(move || {
            let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut s, now)
        })
        .await
        .map_err(|e| ApiError::internal(format!("activation task failed: {e}")))?
        .map_err(ApiError::from)
    }
}

/// A guard accepting `Authorization: Bearer TOKEN` (constant-time compare).
pub fn bearer_guard(token: String) -> AdminGuard {
    Arc::new(move |h: &HeaderMap| {
        let Some(given) = h
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        phoneprov_types::secret_eq(given.trim().as_bytes(), token.as_bytes())
    })
}

/// The activation routes, ready to `merge` into the server's router.
///
/// ```no_run
/// # async fn f(data: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
/// use phoneprov_activation::{bearer_guard, router, ActivationService};
/// let svc = ActivationService::open(data, bearer_guard("secret".into()))?;
/// let app = axum::Router::new().merge(router(svc));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
/// # Ok(()) }
/// ```
/// With `into_make_service_with_connect_info`, events record the phone's
/// address; without it they record none.
pub fn router(svc: ActivationService) -> Router {
    let admin = Router::new()
        .route("/api/v1/activation", get(list))
        .route("/api/v1/activation/bindings", post(bind))
        .route("/api/v1/activation/unbind", post(unbind))
        .route("/api/v1/activation/codes", post(issue))
        .route_layer(middleware::from_fn_with_state(svc.clone(), guard));
    Router::new()
        .route("/activation/v1/query", get(query))
        .route("/activation/v1/code", post(code))
        .merge(admin)
        .with_state(svc)
}

impl From<ActivationError> for ApiError {
    fn from(e: ActivationError) -> Self {
        let (status, hint) = match &e {
            ActivationError::Mac(m) => (StatusCode::BAD_REQUEST, m.hint()),
            ActivationError::Url { .. } => (
                StatusCode::BAD_REQUEST,
                "give a provisioning rule such as https://prov.example.com/$MA.xml",
            ),
            ActivationError::Code(_) => (
                StatusCode::BAD_REQUEST,
                "an activation code is 16 digits; a short code is `#` and 3 to 16 digits",
            ),
            ActivationError::SerialRange { .. } => (
                StatusCode::BAD_REQUEST,
                "give serial_from and serial_to of the same length, serial_from first",
            ),
            ActivationError::Target => (
                StatusCode::BAD_REQUEST,
                "send either \"mac\" or both \"serial_from\" and \"serial_to\"",
            ),
            ActivationError::ShortTaken(_) => (
                StatusCode::CONFLICT,
                "pick other digits, or remove it first with POST /api/v1/activation/unbind {\"short\": \"DIGITS\"}",
            ),
            ActivationError::Count(_) => (StatusCode::BAD_REQUEST, "ask for 1 to 10000 codes"),
            ActivationError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_HINT),
        };
        ApiError::new(status, e.to_string(), hint)
    }
}

async fn guard(State(svc): State<ActivationService>, req: Request, next: Next) -> Response {
    if (svc.guard)(req.headers()) {
        return next.run(req).await;
    }
    ApiError::unauthorized_token(!req.headers().contains_key(header::AUTHORIZATION)).into_response()
}

fn xml(url: &str) -> Response {
    (
        [(header::CONTENT_TYPE, REDIRECT_CONTENT_TYPE)],
        redirect_profile(url),
    )
        .into_response()
}

fn peer(ext: &axum::http::Extensions) -> Option<IpAddr> {
    ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// Query string of the phone's activation query.
#[derive(Debug, Deserialize)]
pub struct QueryParams {
    /// `$MA` (any accepted MAC spelling).
    pub mac: String,
    /// `$PN`.
    pub model: Option<String>,
    /// `$SN`.
    pub serial: Option<String>,
}

/// The answer for the phone `mac` named, marked with it for the server's
/// access log ([`Identified`], `id=query`).
fn named(mac: Mac, answer: Result<Response, ApiError>) -> Response {
    let mut resp = answer.into_response();
    resp.extensions_mut()
        .insert(Identified::new(mac, IdBy::Query));
    resp
}

async fn query(
    State(svc): State<ActivationService>,
    ext: axum::http::Extensions,
    q: Result<Query<QueryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let mac = Mac::parse(&q.mac)?;
    Ok(named(mac, query_for(svc, ext, mac, q).await))
}

async fn query_for(
    svc: ActivationService,
    ext: axum::http::Extensions,
    mac: Mac,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let ip = peer(&ext);
    let found = svc
        .with_store(move |s, now| {
            let b = s.lookup(mac, q.model.as_deref(), q.serial.as_deref())?;
            let who = format!(
                "model={} serial={}",
                q.model.as_deref().unwrap_or("-"),
                q.serial.as_deref().unwrap_or("-")
            );
            let (outcome, msg) = match &b {
                Some(b) => (
                    Outcome::Success,
                    format!("activation query ({who}): redirect to {}", b.url),
                ),
                None => (
                    Outcome::NotFound,
                    format!("activation query ({who}): no provider bound"),
                ),
            };
            s.record(mac, now, Some(outcome), ip, msg)?;
            Ok(b)
        })
        .await?;
    match found {
        Some(b) => Ok(xml(&b.url)),
        None => Err(ApiError::not_found(
            format!("no provider is bound to {mac}"),
            format!("bind it with `phoneprov activation bind --mac {mac} --url RULE`"),
        )),
    }
}

/// Body of `POST /activation/v1/code`.
#[derive(Debug, Deserialize, Serialize)]
pub struct CodeBody {
    /// `$MA`.
    pub mac: String,
    /// Keypad text: 16 digits or `#` + 3–16 digits.
    pub code: String,
}

async fn code(
    State(svc): State<ActivationService>,
    ext: axum::http::Extensions,
    body: Result<Json<CodeBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let mac = Mac::parse(&body.mac)?;
    Ok(named(mac, code_for(svc, ext, mac, body).await))
}

async fn code_for(
    svc: ActivationService,
    ext: axum::http::Extensions,
    mac: Mac,
    body: CodeBody,
) -> Result<Response, ApiError> {
    let entered = EnteredCode::parse(&body.code).map_err(ActivationError::from)?;
    let ip = peer(&ext);
    let verdict = svc
        .with_store(move |s, now| {
            let v = s.redeem(mac, &entered, now)?;
            let (outcome, msg) = match &v {
                Ok(url) => (
                    Outcome::Success,
                    format!("code {}: redirect to {url}", entered.masked()),
                ),
                Err(e) => (
                    Outcome::NotFound,
                    format!("code {}: refused: {e}", entered.masked()),
                ),
            };
            s.record(mac, now, Some(outcome), ip, msg)?;
            Ok(v)
        })
        .await?;
    match verdict {
        Ok(url) => Ok(xml(&url)),
        Err(e @ RedeemError::Unknown) => Err(ApiError::not_found(
            e.to_string(),
            "check the digits and type the code again",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::GONE,
            e.to_string(),
            "ask your provider for a new activation code",
        )),
    }
}

async fn list(State(svc): State<ActivationService>) -> Result<Json<Listing>, ApiError> {
    Ok(Json(svc.with_store(|s, _| s.list()).await?))
}

/// Body of `POST /api/v1/activation/bindings`: a MAC or a serial range.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct BindBody {
    /// One phone.
    pub mac: Option<String>,
    /// Serial range start.
    pub serial_from: Option<String>,
    /// Serial range end.
    pub serial_to: Option<String>,
    /// The provider's profile rule.
    pub url: String,
    /// Only phones of this model.
    pub model: Option<String>,
}

async fn bind(
    State(svc): State<ActivationService>,
    b: Result<Json<BindBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Binding>), ApiError> {
    let Json(b) = b?;
    let target = Target::from_parts(
        b.mac.as_deref(),
        b.serial_from.as_deref(),
        b.serial_to.as_deref(),
    )?;
    let made = svc
        .with_store(move |s, now| s.bind(&target, &b.url, b.model.as_deref(), now))
        .await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Body of `POST /api/v1/activation/unbind`: a MAC, a serial range, or a
/// short code to remove.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct UnbindBody {
    /// One phone.
    pub mac: Option<String>,
    /// Serial range start.
    pub serial_from: Option<String>,
    /// Serial range end.
    pub serial_to: Option<String>,
    /// A short code's digits.
    pub short: Option<String>,
}

async fn unbind(
    State(svc): State<ActivationService>,
    b: Result<Json<UnbindBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(b) = b?;
    let removed = match b.short {
        Some(d) if b.mac.is_none() && b.serial_from.is_none() && b.serial_to.is_none() => {
            svc.with_store(move |s, _| s.remove_short_code(&d)).await?
        }
        _ => {
            let t = Target::from_parts(
                b.mac.as_deref(),
                b.serial_from.as_deref(),
                b.serial_to.as_deref(),
            )?;
            svc.with_store(move |s, _| s.unbind(&t)).await?
        }
    };
    if removed {
        Ok(Json(serde_json::json!({ "removed": true })))
    } else {
        Err(ApiError::not_found(
            "nothing matched",
            "`GET /api/v1/activation` lists what is bound",
        ))
    }
}

/// Body of `POST /api/v1/activation/codes`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct CodesBody {
    /// Where the codes redirect.
    pub url: String,
    /// How many activation codes (default 1).
    pub count: Option<u32>,
    /// Lifetime in seconds (default 7 days).
    pub ttl_secs: Option<u64>,
    /// Make this short code instead of activation codes.
    pub short: Option<String>,
}

/// Answer of `POST /api/v1/activation/codes`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Issued {
    /// Activation codes.
    Codes {
        /// The new codes.
        codes: Vec<IssuedCode>,
    },
    /// A short code.
    Short {
        /// The short code.
        short_code: ShortCode,
    },
}

async fn issue(
    State(svc): State<ActivationService>,
    b: Result<Json<CodesBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let Json(b) = b?;
    let issued = match b.short {
        Some(d) => {
            let url = b.url;
            Issued::Short {
                short_code: svc
                    .with_store(move |s, now| s.add_short_code(&d, &url, now))
                    .await?,
            }
        }
        None => {
            let ttl = b
                .ttl_secs
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_CODE_TTL);
            let count = b.count.unwrap_or(1);
            let url = b.url;
            Issued::Codes {
                codes: svc
                    .with_store(move |s, now| s.issue_codes(&url, count, ttl, now))
                    .await?,
            }
        }
    };
    Ok((StatusCode::CREATED, Json(issued)))
}
