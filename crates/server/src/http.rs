//! HTTP(S) request handling (R-HTTP, R-HTTPS, R-RESULT).
//!
//! Routing, in order: `/metrics`; `/api/…` and `/activation/…` (mounted
//! handler: admin API, ACS tasks, activation service); path safety
//! (400 for `..`, `%2e%2e`, backslash, NUL); `/firmware/…` (Range);
//! profile path patterns → the device's profile; otherwise the static
//! directory; otherwise 404. GET and HEAD fetch; POST on a profile path is a
//! resync (body stored as an event, profile returned); POST/PUT elsewhere is
//! a report (`Report_Rule`; body decrypted with the device key when
//! encrypted, stored as an event).
//!
//! Status codes follow the phone's result classes (SPEC §6): 404 for an
//! unknown or pending device (class B), 401 with Basic and Digest
//! challenges, 403 when a client certificate names another MAC, 301/302 for
//! a moved device, 500 when the profile cannot be rendered (class C).
//!
//! The steady-state profile request (issue 4) is kept allocation-light:
//! the config is loaded once per request, the path is decoded without a
//! copy when it has no `%`, counters are pre-resolved handles, the response
//! headers are static or cached values, and a status repeat identical to the
//! one queued for the device less than `FOLD_WINDOW` ago is folded right
//! here (one mutex probe; no message is formatted or queued, so the status
//! writer thread is not woken). Last-seen bookkeeping is therefore
//! coalesced to one write per device, outcome and address per 10 s window;
//! every change (another status code, address, firmware, path) is written.

use std::borrow::Cow;
use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Incoming};
use phoneprov_pki::PhoneIdentity;
use phoneprov_store::{EventKind, Mac, NewDevice, Outcome};

use crate::auth::AuthResult;
use crate::files::{file_response, RespBody};
use crate::metrics_setup::{handles, record_code, Proto};
use crate::paths::{decode_path, parse_user_agent};
use crate::render::{DevEntry, Variant};
use crate::state::{is_pending, vars, AppState, Policy};
use crate::store_io::{StatusMsg, FOLD_WINDOW};

/// What is known about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// HTTP or HTTPS.
    pub proto: Proto,
    /// Client address.
    pub peer: SocketAddr,
    /// Local address the request arrived on.
    pub local: SocketAddr,
    /// The verified client certificate's identity (HTTPS only).
    pub identity: Option<PhoneIdentity>,
}

/// Owned User-Agent facts (R-HTTP-3).
#[derive(Debug, Clone, Default)]
struct Ua {
    model: Option<String>,
    firmware: Option<String>,
    mac: Option<Mac>,
}

type Resp = Response<RespBody>;

/// The parts of a request the profile path reads (GET keeps its body
/// stream, POST has consumed it).
struct ReqView<'a> {
    method: &'a Method,
    uri: &'a http::Uri,
    headers: &'a http::HeaderMap,
}

fn simple(status: StatusCode, text: &'static str) -> Resp {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(RespBody::full(Bytes::from_static(text.as_bytes())))
        .expect("static response")
}

/// hyper service entry point: routes, bounds the time, counts.
pub async fn handle(
    state: Arc<AppState>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Result<Resp, Infallible> {
    // One consistent view of the config for the whole request.
    let policy = state.policy.load_full();
    let timeout = policy.config.request_timeout();
    let resp = match tokio::time::timeout(timeout, route(&state, policy, &conn, req)).await {
        Ok(r) => r,
        Err(_) => simple(StatusCode::REQUEST_TIMEOUT, "request timed out\n"),
    };
    let bytes = resp.body().size_hint().exact().unwrap_or(0);
    record_code(conn.proto, resp.status().as_u16(), bytes);
    Ok(resp)
}

async fn route(
    state: &Arc<AppState>,
    policy: Arc<Policy>,
    conn: &ConnInfo,
    req: Request<Incoming>,
) -> Resp {
    let raw_path = req.uri().path();
    if raw_path == "/metrics" && req.method() == Method::GET {
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(RespBody::full(state.metrics.render()))
            .expect("static response");
    }
    // The mounted handler also answers the activation service's phone
    // endpoints (`/activation/v1/...`, SPEC R-ACT).
    if raw_path.starts_with("/api/") || raw_path.starts_with("/activation/") {
        return api(state, conn, req).await;
    }
    let path = match decode_path(raw_path) {
        Ok(p) => p,
        Err(_) => return simple(StatusCode::BAD_REQUEST, "bad request path\n"),
    };
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_user_agent)
        .map(|u| Ua {
            model: Some(u.model.to_string()),
            firmware: Some(u.firmware.to_string()),
            mac: u.mac,
        })
        .unwrap_or_default();
    match *req.method() {
        Method::GET | Method::HEAD => {
            let head = req.method() == Method::HEAD;
            let view = ReqView {
                method: req.method(),
                uri: req.uri(),
                headers: req.headers(),
            };
            get(state, &policy, conn, &view, &path, &ua, head).await
        }
        Method::POST | Method::PUT => {
            // The body is read below, so the path cannot borrow the request.
            let path = path.into_owned();
            post(state, &policy, conn, req, &path, &ua).await
        }
        _ => Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET, HEAD, POST, PUT")
            .body(RespBody::empty())
            .expect("static response"),
    }
}

/// The device a profile path names: path MAC, then client certificate, then
/// User-Agent. `None` when the path is not a profile path or names no MAC.
fn profile_mac(policy: &Policy, path: &str, ua: &Ua, conn: &ConnInfo) -> Option<Option<Mac>> {
    let cert_mac = conn.identity.as_ref().and_then(|i| Mac::parse(&i.mac).ok());
    policy
        .patterns
        .iter()
        .find_map(|p| p.matches(path))
        .map(|m| m.mac.or(cert_mac).or(ua.mac))
}

/// The host phones should use in generated URLs.
fn url_host<'a>(policy: &'a Policy, req_host: Option<&'a str>, local: IpAddr) -> Cow<'a, str> {
    if let Some(h) = &policy.config.profiles.public_host {
        return Cow::Borrowed(h);
    }
    if let Some(h) = req_host {
        let host = if let Some(rest) = h.strip_prefix('[') {
            rest.split(']').next().unwrap_or(rest)
        } else {
            h.rsplit_once(':').map_or(h, |(a, _)| a)
        };
        if !host.is_empty()
            && host
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-:".contains(&c))
        {
            return Cow::Borrowed(host);
        }
    }
    Cow::Owned(local.to_string())
}

/// Queues a status update and event; the device's fold memory is reset
/// so the next ordinary resync is recorded again.
fn seen(
    state: &AppState,
    mac: Mac,
    ip: IpAddr,
    ua: &Ua,
    outcome: Outcome,
    kind: EventKind,
    message: String,
) {
    state.cache.reset_fold(mac);
    send_seen(state, mac, ip, ua, outcome, kind, message);
}

fn send_seen(
    state: &AppState,
    mac: Mac,
    ip: IpAddr,
    ua: &Ua,
    outcome: Outcome,
    kind: EventKind,
    message: String,
) {
    state.status.send(StatusMsg::Seen {
        mac,
        ip,
        firmware: ua.firmware.clone(),
        outcome: Some(outcome),
        kind,
        message,
    });
}

/// Header values validated once (`from_static` checks every byte on
/// every call); cloning a static `HeaderValue` copies a pointer.
static HEADER_VALUES: std::sync::LazyLock<[HeaderValue; 4]> = std::sync::LazyLock::new(|| {
    [
        "no-cache",
        "application/octet-stream",
        "application/xml",
        "aes128gcm",
    ]
    .map(HeaderValue::from_static)
});

/// The value for `no-cache` or one of the static strings a
/// [`crate::render::Rendered`] carries.
fn header_value(v: &'static str) -> HeaderValue {
    let i = match v {
        "no-cache" => 0,
        "application/octet-stream" => 1,
        "application/xml" => 2,
        "aes128gcm" => 3,
        other => return HeaderValue::from_static(other),
    };
    HEADER_VALUES[i].clone()
}

/// [`seen`] for the common profile answers (`tail`: "200", "304", "404,
/// unknown device", ...): an identical repeat (same protocol, path,
/// answer, address and firmware) within [`FOLD_WINDOW`] of the one last
/// queued for this device is only counted
/// (`phoneprov_status_folded_total`), exactly as the writer thread would
/// fold it, but without formatting or queueing anything.
#[allow(clippy::too_many_arguments)]
fn seen_folded(
    state: &AppState,
    entry: &DevEntry,
    conn: &ConnInfo,
    mac: Mac,
    ua: &Ua,
    outcome: Outcome,
    path: &str,
    tail: &'static str,
) {
    let ip = conn.peer.ip();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        conn.proto as u8,
        path,
        tail,
        ip,
        ua.firmware.as_deref(),
        outcome.as_str(),
    )
        .hash(&mut h);
    let key = h.finish();
    let now = Instant::now();
    {
        let mut last = entry.last_status.lock().unwrap_or_else(|p| p.into_inner());
        if last.1 == key && last.0.is_some_and(|t| now.duration_since(t) < FOLD_WINDOW) {
            drop(last);
            handles().status_folded.increment(1);
            return;
        }
        *last = (Some(now), key);
    }
    send_seen(
        state,
        mac,
        ip,
        ua,
        outcome,
        EventKind::Resync,
        format!("{} {path}: {tail}", conn.proto.as_str()),
    );
}

async fn get(
    state: &Arc<AppState>,
    policy: &Arc<Policy>,
    conn: &ConnInfo,
    req: &ReqView<'_>,
    path: &str,
    ua: &Ua,
    head: bool,
) -> Resp {
    if let Some(rest) = path.strip_prefix("/firmware/") {
        let who = ua
            .mac
            .or_else(|| conn.identity.as_ref().and_then(|i| Mac::parse(&i.mac).ok()));
        let resp = serve_file(&policy.dirs.firmware_root, rest, req, head).await;
        if let Some(mac) = who {
            let ok = resp.status().is_success();
            let outcome = if ok {
                Outcome::Success
            } else {
                Outcome::NotFound
            };
            seen(
                state,
                mac,
                conn.peer.ip(),
                ua,
                outcome,
                EventKind::Upgrade,
                format!("{} {path} {}", conn.proto.as_str(), resp.status().as_u16()),
            );
        }
        return resp;
    }
    match profile_mac(policy, path, ua, conn) {
        Some(Some(mac)) => profile(state, policy, conn, req, path, ua, mac, head).await,
        // A profile-shaped path that names no device (`/$PN.cfg` from a
        // phone without a MAC in its User-Agent): maybe a static file.
        _ => serve_file(&policy.dirs.static_root, path, req, head).await,
    }
}

async fn serve_file(root: &std::path::Path, rel: &str, req: &ReqView<'_>, head: bool) -> Resp {
    let root = root.to_path_buf();
    let rel = rel.to_string();
    let resolved = tokio::task::spawn_blocking(move || phoneprov_tftp::resolve_path(&root, &rel))
        .await
        .ok();
    let Some(Ok(file)) = resolved else {
        return simple(StatusCode::NOT_FOUND, "not found\n");
    };
    let range = req.headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    match file_response(&file, range, head).await {
        Ok(r) => r,
        Err(_) => simple(StatusCode::NOT_FOUND, "not found\n"),
    }
}

#[allow(clippy::too_many_arguments)]
async fn profile(
    state: &Arc<AppState>,
    policy: &Arc<Policy>,
    conn: &ConnInfo,
    req: &ReqView<'_>,
    path: &str,
    ua: &Ua,
    mac: Mac,
    head: bool,
) -> Resp {
    let ip = conn.peer.ip();
    let what = || format!("{} {path}", conn.proto.as_str());
    // A certificate for MAC X never gets MAC Y's profile.
    if let Some(id) = &conn.identity {
        if !id.authorizes_mac(&mac.to_string()) {
            seen(
                state,
                mac,
                ip,
                ua,
                Outcome::Failed,
                EventKind::Resync,
                format!("{}: 403, client certificate is for {}", what(), id.mac),
            );
            tracing::warn!(%mac, cert_mac = %id.mac, %ip, "client certificate names another device");
            return simple(
                StatusCode::FORBIDDEN,
                "client certificate does not match this device\n",
            );
        }
    }
    let ttl = std::time::Duration::from_millis(policy.config.profiles.device_ttl_ms);
    let entry = match state.cache.device(state, mac, ttl).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(%mac, error = %e, "device lookup failed");
            return simple(StatusCode::SERVICE_UNAVAILABLE, "inventory unavailable\n");
        }
    };
    let Some(device) = entry.device.clone() else {
        if policy.config.profiles.auto_register {
            let mut nd = NewDevice::new(mac);
            nd.model = ua
                .model
                .clone()
                .or_else(|| conn.identity.as_ref().and_then(|i| i.model.clone()));
            nd.serial = conn.identity.as_ref().and_then(|i| i.serial.clone());
            nd.vars.insert(vars::STATUS.into(), "pending".into());
            state.status.send(StatusMsg::Register(nd));
            state.cache.forget(mac);
        }
        seen_folded(
            state,
            &entry,
            conn,
            mac,
            ua,
            Outcome::NotFound,
            path,
            "404, unknown device",
        );
        return simple(StatusCode::NOT_FOUND, "unknown device\n");
    };
    if is_pending(&device.vars) {
        seen_folded(
            state,
            &entry,
            conn,
            mac,
            ua,
            Outcome::NotFound,
            path,
            "404, device pending approval",
        );
        return simple(StatusCode::NOT_FOUND, "device pending approval\n");
    }
    if let Some(url) = policy
        .redirects
        .get(&mac)
        .or_else(|| device.vars.get(vars::REDIRECT))
    {
        let status = match policy.config.redirect_status {
            Some(301) => StatusCode::MOVED_PERMANENTLY,
            _ => StatusCode::FOUND,
        };
        if let Ok(loc) = HeaderValue::from_str(url) {
            seen(
                state,
                mac,
                ip,
                ua,
                Outcome::Success,
                EventKind::Resync,
                format!("{}: {} to {url}", what(), status.as_u16()),
            );
            return Response::builder()
                .status(status)
                .header(header::LOCATION, loc)
                .body(RespBody::empty())
                .expect("valid redirect");
        }
    }
    if let Some(rule) = policy.auth_for(mac, device.group.as_deref()) {
        let authz = req
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let uri = req
            .uri
            .path_and_query()
            .map_or(req.uri.path(), |p| p.as_str());
        match state
            .auth
            .check(req.method.as_str(), uri, authz, &rule.users, &rule.schemes)
        {
            AuthResult::Ok(_) => {}
            AuthResult::Challenge { stale } => {
                let mut b = Response::builder().status(StatusCode::UNAUTHORIZED);
                for c in state.auth.challenges(&rule.schemes, stale) {
                    b = b.header(header::WWW_AUTHENTICATE, c);
                }
                return b
                    .body(RespBody::full(Bytes::from_static(
                        b"authentication required\n",
                    )))
                    .expect("valid challenge");
            }
        }
    }
    let cert_matches = conn.identity.is_some();
    let variant = if conn.proto == Proto::Https
        && (cert_matches || policy.config.security.bootstrap_without_client_cert)
    {
        Variant::Bootstrap
    } else {
        Variant::Encrypted
    };
    let host = url_host(
        policy,
        req.headers.get(header::HOST).and_then(|v| v.to_str().ok()),
        conn.local.ip(),
    );
    let templates = state.templates.load();
    let rendered = match state
        .cache
        .profile(state, policy, &templates, &entry, variant, &host)
    {
        Ok((r, _hit)) => r,
        Err(e) => {
            let outcome = match e {
                crate::render::RenderError::Lint { .. } => Outcome::Corrupt,
                _ => Outcome::Failed,
            };
            tracing::error!(%mac, error = %e, "profile render failed");
            seen(
                state,
                mac,
                ip,
                ua,
                outcome,
                EventKind::Resync,
                format!("{}: 500, {e}", what()),
            );
            return simple(
                StatusCode::INTERNAL_SERVER_ERROR,
                "profile could not be rendered\n",
            );
        }
    };
    let not_modified = req
        .headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t.as_bytes() == rendered.etag.as_bytes())
        });
    seen_folded(
        state,
        &entry,
        conn,
        mac,
        ua,
        Outcome::Success,
        path,
        if not_modified { "304" } else { "200" },
    );
    let body = if head || not_modified {
        RespBody::empty()
    } else {
        RespBody::Full(Some(rendered.body.clone()))
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::ETAG, rendered.etag.clone());
    h.insert(header::CACHE_CONTROL, header_value("no-cache"));
    if not_modified {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return resp;
    }
    h.insert(header::CONTENT_TYPE, header_value(rendered.content_type));
    if let Some(ce) = rendered.content_encoding {
        h.insert(header::CONTENT_ENCODING, header_value(ce));
    }
    if head {
        h.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(rendered.body.len()),
        );
    }
    resp
}

/// Reads a request body within the configured limit; `Err` is the response.
async fn read_body(
    state: &AppState,
    req: Request<Incoming>,
) -> Result<(http::request::Parts, Bytes), Resp> {
    let limit = state.policy.load().config.limits.max_body_bytes;
    let too_big = || simple(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    if req.body().size_hint().lower() > limit {
        return Err(too_big());
    }
    let (parts, body) = req.into_parts();
    match Limited::new(body, limit as usize).collect().await {
        Ok(c) => Ok((parts, c.to_bytes())),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_big())
        }
        Err(_) => Err(simple(StatusCode::BAD_REQUEST, "bad request body\n")),
    }
}

/// Finds a 12-hex-digit MAC among the path's segments (report URLs such
/// as `/report/$MA.xml`).
fn mac_in_path(path: &str) -> Option<Mac> {
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_hexdigit() && (i == 0 || !b[i - 1].is_ascii_hexdigit()) {
            let n = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            if n == 12 {
                return Mac::parse(&path[i..i + 12]).ok();
            }
            i += n;
        } else {
            i += 1;
        }
    }
    None
}

async fn post(
    state: &Arc<AppState>,
    policy: &Arc<Policy>,
    conn: &ConnInfo,
    req: Request<Incoming>,
    path: &str,
    ua: &Ua,
) -> Resp {
    let profile_target = profile_mac(policy, path, ua, conn);
    let ce = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (parts, body) = match read_body(state, req).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let cert_mac = conn.identity.as_ref().and_then(|i| Mac::parse(&i.mac).ok());
    if let Some(Some(mac)) = profile_target {
        // Resync by POST (R-HTTP-2): keep the body for tracking, answer
        // with the profile.
        let text = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]).into_owned();
        state.cache.reset_fold(mac);
        state.status.send(StatusMsg::Seen {
            mac,
            ip: conn.peer.ip(),
            firmware: ua.firmware.clone(),
            outcome: None,
            kind: EventKind::Resync,
            message: format!("POST {path}: {text}"),
        });
        let view = ReqView {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
        };
        return profile(state, policy, conn, &view, path, ua, mac, false).await;
    }
    let Some(mac) = mac_in_path(path).or(cert_mac).or(ua.mac) else {
        return simple(StatusCode::NOT_FOUND, "report names no device\n");
    };
    if let Some(id) = &conn.identity {
        if !id.authorizes_mac(&mac.to_string()) {
            return simple(
                StatusCode::FORBIDDEN,
                "client certificate does not match this device\n",
            );
        }
    }
    let ttl = std::time::Duration::from_millis(policy.config.profiles.device_ttl_ms);
    let entry = match state.cache.device(state, mac, ttl).await {
        Ok(e) => e,
        Err(_) => return simple(StatusCode::SERVICE_UNAVAILABLE, "inventory unavailable\n"),
    };
    let Some(device) = entry.device.clone() else {
        return simple(StatusCode::NOT_FOUND, "unknown device\n");
    };
    let encrypted =
        body.starts_with(b"Salted__") || ce.as_deref().is_some_and(|c| c.contains("aes128gcm"));
    let plain: Vec<u8> = if encrypted {
        let opts = phoneprov_crypto::DecodeOptions {
            key: Some(device.key.expose_secret().as_bytes()),
            content_encoding: ce.as_deref(),
            max_plain: policy.config.limits.max_body_bytes as usize * 4,
        };
        match phoneprov_crypto::decode(&body, &opts) {
            Ok(d) => d.plain,
            Err(e) => {
                seen(
                    state,
                    mac,
                    conn.peer.ip(),
                    ua,
                    Outcome::Corrupt,
                    EventKind::Report,
                    format!("{} {path}: undecryptable report: {e}", parts.method),
                );
                return simple(
                    StatusCode::BAD_REQUEST,
                    "report could not be decrypted with the device key\n",
                );
            }
        }
    } else {
        body.to_vec()
    };
    let text = String::from_utf8_lossy(&plain[..plain.len().min(64 * 1024)]).into_owned();
    state.cache.reset_fold(mac);
    state.status.send(StatusMsg::Seen {
        mac,
        ip: conn.peer.ip(),
        firmware: ua.firmware.clone(),
        outcome: None,
        kind: EventKind::Report,
        message: format!("{} {path}: {text}", parts.method),
    });
    simple(StatusCode::OK, "report stored\n")
}

async fn api(state: &Arc<AppState>, conn: &ConnInfo, req: Request<Incoming>) -> Resp {
    let Some(handler) = state.api.clone() else {
        return simple(StatusCode::NOT_FOUND, "no API mounted\n");
    };
    let (mut parts, body) = match read_body(state, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // The client address reaches the handlers as axum's `ConnectInfo`: the
    // activation service records it with each phone's query (R-ACT).
    parts.extensions.insert(conn.peer);
    let resp = handler(Request::from_parts(parts, body)).await;
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, RespBody::full(body))
}
