//! HTTP(S) request handling (R-HTTP, R-HTTPS, R-RESULT).
//!
//! Routing on the phones' ports, in order: `/activation/…` (the mounted
//! handler's phone routes: activation queries, R-ACT); path safety
//! (400 for `..`, `%2e%2e`, backslash, NUL); `/firmware/…` (Range);
//! profile path patterns → the device's profile; otherwise the static
//! directory; otherwise 404 (firmware, profiles and static files through
//! the identification pipeline, [`crate::pipeline`], as on TFTP). GET and
//! HEAD fetch; POST on a profile path is a resync (body stored as an event
//! once the request is admitted, profile returned); POST/PUT elsewhere is
//! a report (`Report_Rule`; body decrypted with the device key when
//! encrypted, stored as an event). The admin surface (`/api/v1`,
//! `/metrics`: [`crate::admin`]) is answered on the admin listener only,
//! or first on these ports too with `[listen] admin_on_phone_ports`.
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
//! one queued for the device less than `FOLD_WINDOW` ago is folded by the
//! pipeline's record step (one mutex probe; no message is formatted or
//! queued, so the status writer thread is not woken). Last-seen bookkeeping is therefore
//! coalesced to one write per device, outcome and address per 10 s window;
//! every change (another status code, address, firmware, path) is written.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::{Body, Incoming};
use phoneprov_pki::PhoneIdentity;
use phoneprov_store::{EventKind, Mac, Outcome};

use crate::files::{file_response, simple, RespBody};
use crate::metrics_setup::{record_http, Proto};
use crate::mount::{api, read_body};
use crate::paths::decode_path;
use crate::pipeline::{Answer, Credentials, Named, Refusal, Request as Identify, Ua};
use crate::policy::Policy;
use crate::state::AppState;
use crate::store_io::StatusMsg;
use phoneprov_types::Identified;

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
    /// TLS version and resumption (HTTPS only), for the access log.
    pub tls: Option<crate::access_log::TlsInfo>,
    /// The client certificate's subject (HTTPS with a certificate, and
    /// only when the access log is on).
    pub cert_subject: Option<String>,
    /// The connection came on the admin listener ([`crate::admin`]).
    pub admin: bool,
}

type Resp = Response<RespBody>;

/// hyper service entry point: routes, bounds the time, counts.
pub async fn handle(
    state: Arc<AppState>,
    conn: Arc<ConnInfo>,
    mut req: Request<Incoming>,
) -> Result<Resp, Infallible> {
    // One consistent view of the config for the whole request.
    let policy = state.policy.load_full();
    // The console (`/ui/`, a mounted handler) marks its cookies `Secure`
    // over HTTPS; it is reached on the admin listener only (or the phones'
    // ports with `admin_on_phone_ports`), so a phone's request does not
    // pay for the extension map.
    if conn.admin || policy.config.listen.admin_on_phone_ports {
        req.extensions_mut()
            .insert(phoneprov_console::OverTls(conn.proto == Proto::Https));
    }
    let timeout = policy.config.request_timeout();
    let start = std::time::Instant::now();
    // The access log needs the request line after the request is consumed
    // (both clones share the request's bytes: no copy).
    let access = state.access_log.enabled().then(|| {
        let ua = req.headers().get(header::USER_AGENT).cloned();
        (req.method().clone(), req.uri().clone(), req.version(), ua)
    });
    // The device the request named, filled in by the identification
    // pipeline (or the activation service) for the access log.
    let mut named = Named::default();
    let routed = async {
        if conn.admin {
            crate::admin::route(&state, conn.peer, req)
                .await
                .unwrap_or_else(|_| crate::admin::not_admin())
        } else {
            route(&state, policy, &conn, req, &mut named).await
        }
    };
    let resp = match tokio::time::timeout(timeout, routed).await {
        Ok(r) => r,
        Err(_) => simple(StatusCode::REQUEST_TIMEOUT, "request timed out\n"),
    };
    let bytes = resp
        .body()
        .size_hint()
        .exact()
        .or_else(|| {
            resp.headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok())
        })
        .unwrap_or(0);
    let took = start.elapsed();
    if !conn.admin {
        record_http(conn.proto, resp.status().as_u16(), bytes, took);
    }
    if let Some((method, target, version, ua)) = access {
        state.access_log.log(&crate::access_log::Entry {
            proto: conn.proto.as_str(),
            client: conn.peer,
            method: method.as_str(),
            target: target.path_and_query().map_or("/", |p| p.as_str()),
            version: match version {
                http::Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            },
            status: crate::access_log::Status::Http(resp.status().as_u16()),
            bytes,
            duration: took,
            user_agent: ua.as_ref().and_then(|v| v.to_str().ok()),
            tls: conn.tls,
            cert_subject: conn.cert_subject.as_deref(),
            id: named
                .id
                .or_else(|| resp.extensions().get::<Identified>().copied()),
            proof: named.proof.as_str(),
            session: None,
        });
    }
    Ok(resp)
}

async fn route(
    state: &Arc<AppState>,
    policy: Arc<Policy>,
    conn: &ConnInfo,
    req: Request<Incoming>,
    named: &mut Named,
) -> Resp {
    // The old single-port behaviour, when the config asks for it (a
    // warning at start says what it exposes).
    let req = if policy.config.listen.admin_on_phone_ports {
        match crate::admin::route(state, conn.peer, req).await {
            Ok(resp) => return resp,
            Err(req) => req,
        }
    } else {
        req
    };
    // The mounted handler also answers the activation service's phone
    // endpoints (`/activation/v1/...`, SPEC R-ACT).
    if req.uri().path().starts_with("/activation/") {
        let path = req.uri().path().to_string();
        let resp = api(state, conn.peer, req).await;
        crate::metrics_setup::record_activation(&path, resp.status().as_u16());
        return resp;
    }
    let (parts, body) = req.into_parts();
    let path = match decode_path(parts.uri.path()) {
        Ok(p) => p,
        Err(_) => return simple(StatusCode::BAD_REQUEST, "bad request path\n"),
    };
    let ua = Ua::parse(
        parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    );
    match parts.method {
        Method::GET | Method::HEAD => {
            let head = parts.method == Method::HEAD;
            let ask = identify(conn, &parts, &path, ua, None);
            let answer;
            (answer, *named) = crate::pipeline::run(state, &policy, &ask).await;
            respond(answer, &parts, head).await
        }
        Method::POST | Method::PUT => {
            // The body is read below, so the path cannot borrow the request.
            let path = path.into_owned();
            let req = Request::from_parts(parts, body);
            post(state, &policy, conn, req, &path, ua, named).await
        }
        _ => Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET, HEAD, POST, PUT")
            .body(RespBody::empty())
            .expect("static response"),
    }
}

/// Step 1 of the pipeline for HTTP(S): what the request says.
fn identify<'a>(
    conn: &'a ConnInfo,
    parts: &'a http::request::Parts,
    path: &'a str,
    ua: Ua,
    posted: Option<String>,
) -> Identify<'a> {
    let header = |h| parts.headers.get(h).and_then(|v| v.to_str().ok());
    Identify {
        proto: conn.proto,
        path,
        peer: conn.peer,
        local: conn.local,
        host: header(header::HOST),
        ua,
        identity: conn.identity.as_ref(),
        credentials: Some(Credentials {
            method: parts.method.as_str(),
            uri: parts
                .uri
                .path_and_query()
                .map_or(parts.uri.path(), |p| p.as_str()),
            authorization: header(header::AUTHORIZATION),
        }),
        if_none_match: header(header::IF_NONE_MATCH),
        can_redirect: true,
        posted,
    }
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

/// The pipeline's answer as an HTTP response.
async fn respond(answer: Answer, parts: &http::request::Parts, head: bool) -> Resp {
    match answer {
        Answer::Profile {
            rendered,
            not_modified,
        } => {
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
        Answer::File(Ok(file)) => {
            let range = parts
                .headers
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok());
            match file_response(&file, range, head).await {
                Ok(r) => r,
                Err(_) => simple(StatusCode::NOT_FOUND, "not found\n"),
            }
        }
        Answer::File(Err(_)) => simple(StatusCode::NOT_FOUND, "not found\n"),
        Answer::NotFound("device pending approval") => {
            simple(StatusCode::NOT_FOUND, "device pending approval\n")
        }
        Answer::NotFound(_) => simple(StatusCode::NOT_FOUND, "unknown device\n"),
        Answer::Redirect {
            permanent,
            location,
        } => {
            let status = if permanent {
                StatusCode::MOVED_PERMANENTLY
            } else {
                StatusCode::FOUND
            };
            Response::builder()
                .status(status)
                .header(header::LOCATION, location)
                .body(RespBody::empty())
                .expect("the pipeline checked the location")
        }
        Answer::Refused(Refusal::CertMismatch { .. }) => simple(
            StatusCode::FORBIDDEN,
            "client certificate does not match this device\n",
        ),
        Answer::Refused(Refusal::Throttled(wait)) => Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header(
                header::RETRY_AFTER,
                phoneprov_httpauth::retry_after_secs(wait),
            )
            .body(RespBody::full(Bytes::from_static(
                b"too many failed authentications from this address; retry later\n",
            )))
            .expect("valid 429"),
        Answer::Refused(Refusal::Challenge(challenges, _)) => {
            let mut b = Response::builder().status(StatusCode::UNAUTHORIZED);
            for c in challenges {
                b = b.header(header::WWW_AUTHENTICATE, c);
            }
            b.body(RespBody::full(Bytes::from_static(
                b"authentication required\n",
            )))
            .expect("valid challenge")
        }
        // Only TFTP (no credentials) is refused this way; kept total.
        Answer::Refused(Refusal::NoCredentials) => {
            simple(StatusCode::UNAUTHORIZED, "authentication required\n")
        }
        Answer::Refused(Refusal::Unavailable) => {
            simple(StatusCode::SERVICE_UNAVAILABLE, "inventory unavailable\n")
        }
        Answer::RenderFailed => simple(
            StatusCode::INTERNAL_SERVER_ERROR,
            "profile could not be rendered\n",
        ),
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

/// Queues a status update and event for a report (`firmware`: the
/// User-Agent's, only for a report that proved its device).
fn seen(
    state: &AppState,
    mac: Mac,
    ip: std::net::IpAddr,
    firmware: Option<String>,
    outcome: Option<Outcome>,
    message: String,
) {
    state.cache.reset_fold(mac);
    state.status.send(StatusMsg::Seen {
        mac,
        ip,
        firmware,
        outcome,
        kind: EventKind::Report,
        message,
    });
}

async fn post(
    state: &Arc<AppState>,
    policy: &Arc<Policy>,
    conn: &ConnInfo,
    req: Request<Incoming>,
    path: &str,
    ua: Ua,
    named: &mut Named,
) -> Resp {
    let ce = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (parts, body) = match read_body(state, req).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    // Resync by POST (R-HTTP-2): the body is kept for tracking once the
    // request is admitted, the answer is the profile.
    let mut ask = identify(conn, &parts, path, ua, None);
    if let crate::pipeline::Target::Profile(_) = crate::pipeline::target(policy, &ask) {
        let text = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]).into_owned();
        ask.posted = Some(text);
        let answer;
        (answer, *named) = crate::pipeline::run(state, policy, &ask).await;
        return respond(answer, &parts, false).await;
    }
    let Some(id) = mac_in_path(path)
        .map(|m| Identified::new(m, phoneprov_types::IdBy::Path))
        .or_else(|| ask.named_by_cert_or_ua())
    else {
        return simple(StatusCode::NOT_FOUND, "report names no device\n");
    };
    let mac = id.mac;
    named.id = Some(id);
    let ua = ask.ua;
    if let Some(id) = &conn.identity {
        if !id.authorizes_mac(&mac.to_string()) {
            return simple(
                StatusCode::FORBIDDEN,
                "client certificate does not match this device\n",
            );
        }
    }
    let ttl = std::time::Duration::from_millis(policy.config.profiles.device_ttl_ms);
    let entry = match state.cache.device(&state.reader, mac, ttl).await {
        Ok(e) => e,
        Err(_) => return simple(StatusCode::SERVICE_UNAVAILABLE, "inventory unavailable\n"),
    };
    // Reports go through the same `[[auth]]` rules as profiles, or their
    // own (`[reports] auth`, issue 12 item 2): nothing is stored for a
    // report that fails them, and an unknown MAC that a rule covers gets
    // the same challenge as a known one.
    let group = entry.device.as_ref().and_then(|d| d.group.as_deref());
    let mut identified = conn.identity.is_some();
    if let (Some(rule), Some(c)) = (policy.report_auth_for(mac, group), ask.credentials.as_ref()) {
        identified = true;
        let schemes = policy.schemes(rule, conn.proto);
        if let Err(refusal) =
            crate::decide::authenticate(state, rule, &schemes, c, conn.peer.ip(), "report")
        {
            if let crate::pipeline::Refusal::Challenge(_, hold) = &refusal {
                tokio::time::sleep(*hold).await;
            }
            return respond(Answer::Refused(refusal), &parts, false).await;
        }
    }
    let Some(device) = entry.device.clone() else {
        state.unknown.note(conn.proto, mac, conn.peer.ip());
        return simple(StatusCode::NOT_FOUND, "unknown device\n");
    };
    named.proof = match (conn.identity.is_some(), identified) {
        (true, _) => crate::decide::Proof::Certificate,
        (false, true) => crate::decide::Proof::Password,
        _ => crate::decide::Proof::None,
    };
    let firmware = ua.firmware.clone().filter(|_| identified);
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
                // Not proven to come from the device (issue 12): no event,
                // counted instead, and said at debug level only (anyone
                // can send garbage).
                metrics::counter!("phoneprov_reports_refused_total", "reason" => "undecryptable")
                    .increment(1);
                tracing::debug!(%mac, ip = %conn.peer.ip(), error = %e, "undecryptable report not recorded");
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
    seen(
        state,
        mac,
        conn.peer.ip(),
        firmware,
        None,
        format!("{} {path}: {text}", parts.method),
    );
    simple(StatusCode::OK, "report stored\n")
}
