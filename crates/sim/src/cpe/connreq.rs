//! The connection-request listener (TR-069 3.2.2, R-TR69-3 `6 CONNECTION
//! REQUEST`): one `--cr-listen ADDR:PORT` for the fleet, `GET /tr069/<mac>`
//! per phone, HTTP Digest (RFC 7616, SHA-256 and MD5 offered, every `401`
//! with a fresh nonce, nonce counts checked against replay) with the
//! phone's current `ConnectionRequestUsername`/`Password`. An accepted
//! request answers `200` and wakes the phone's agent, which opens a
//! session at once; a refused one answers `401` and changes nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use phoneprov_httpauth::{
    challenge_headers, parse_authorization, Algorithm, Authorization, NonceManager, NonceStatus,
    Secret,
};
use phoneprov_phone::Input;
use tokio::sync::mpsc;

use crate::driver::Control;

use crate::report::FleetStats;

/// The path prefix of connection-request URLs.
pub const PATH_PREFIX: &str = "/tr069/";
const REALM: &str = "phoneprov-sim";

/// What the listener knows of one phone.
pub(crate) struct CrEntry {
    /// The phone's control channel: an accepted request is
    /// `Input::ConnectionRequest` to its device (which merges requests
    /// arriving while one is pending).
    pub notify: mpsc::Sender<Control>,
    /// The current `ConnectionRequestUsername` and `Password`; an empty
    /// user name accepts requests without credentials.
    pub creds: Arc<Mutex<(String, String)>>,
}

/// MAC (12 lowercase hex) → phone.
pub(crate) type CrRegistry = HashMap<String, CrEntry>;

struct Shared {
    phones: CrRegistry,
    nonces: NonceManager,
    stats: Arc<FleetStats>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Serves connection requests on `listener` until the task is aborted.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    phones: CrRegistry,
    stats: Arc<FleetStats>,
) -> tokio::task::JoinHandle<()> {
    let shared = Arc::new(Shared {
        phones,
        nonces: NonceManager::new(rand::random(), Duration::from_secs(300)),
        stats,
    });
    let app = axum::Router::new().fallback(handle).with_state(shared);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("connection-request listener stopped: {e}");
        }
    })
}

fn challenge(shared: &Shared, stale: bool) -> Response {
    let nonce = shared.nonces.issue(unix_now());
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        "connection request needs Digest credentials (ConnectionRequestUsername/Password)\n",
    )
        .into_response();
    for h in challenge_headers(REALM, &[Algorithm::Sha256, Algorithm::Md5], &nonce, stale) {
        if let Ok(v) = h.parse() {
            resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

/// Whether the request's credentials are right; `Err(stale)` otherwise.
fn check(
    shared: &Shared,
    headers: &HeaderMap,
    target: &str,
    user: &str,
    pass: &str,
) -> Result<(), bool> {
    let Some(Ok(Authorization::Digest(resp))) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(parse_authorization)
    else {
        return Err(false);
    };
    if resp.username != user || resp.realm != REALM || resp.uri != target {
        return Err(false);
    }
    let now = unix_now();
    match shared.nonces.check(&resp.nonce, now) {
        NonceStatus::Valid => {}
        NonceStatus::Stale => return Err(true),
        _ => return Err(false),
    }
    if !phoneprov_httpauth::verify_digest(&resp, "GET", Secret::Password(pass), b"") {
        return Err(false);
    }
    match shared.nonces.record(&resp, now) {
        NonceStatus::Valid => Ok(()),
        NonceStatus::Stale => Err(true),
        _ => Err(false),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "use GET\n").into_response();
    }
    let mac = uri
        .path()
        .strip_prefix(PATH_PREFIX)
        .map(|m| m.trim_end_matches('/').to_ascii_lowercase());
    let Some(entry) = mac.as_deref().and_then(|m| shared.phones.get(m)) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no phone here; connection-request URLs are {PATH_PREFIX}<mac>\n"),
        )
            .into_response();
    };
    let (user, pass) = entry.creds.lock().expect("creds lock").clone();
    if !user.is_empty() {
        let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        if let Err(stale) = check(&shared, &headers, target, &user, &pass) {
            if headers.contains_key(header::AUTHORIZATION) {
                shared.stats.cwmp.connection_request(false);
            }
            return challenge(&shared, stale);
        }
    }
    shared.stats.cwmp.connection_request(true);
    let _ = entry
        .notify
        .try_send(Control::Input(Input::ConnectionRequest));
    (StatusCode::OK, "").into_response()
}
