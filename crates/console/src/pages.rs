//! The `/ui` routes: sign-in, overview, device list, device page and its
//! actions. Every handler checks the session first (and, for a POST, the
//! CSRF token) before it reads or writes anything; store calls run on the
//! blocking pool.
//!
//! Helpers return `Result<_, Response>` (the page to send instead); a
//! response is big, but it is built once per refused request, so boxing it
//! would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::value::Serde;
use minijinja::{context, Value as V};
use phoneprov_store::{
    now_ms, ConsoleRepo, Device, DeviceQuery, DeviceSort, Inventory, Mac, NewDevice, Outcome, Role,
    Selection, Store, Timeline,
};
use serde::Serialize;

mod activation;
mod groups;
mod rollouts;

use crate::auth::{self, Session};
use crate::view;
use crate::{Console, OverTls};

/// The Content-Security-Policy of every answer: nothing inline, nothing
/// from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Rows per page of the device list.
const PAGE: u64 = 50;
/// Timeline events shown on the device page.
const TIMELINE: usize = 50;
/// The door name of the throttle and the log line.
const DOOR: &str = "console";

/// RPCs a help desk user may queue (they only read): the rule book's.
use phoneprov_store::READ_ONLY_RPCS;

pub(crate) fn router(console: Console) -> Router {
    Router::new()
        .route("/ui", get(home))
        .route("/ui/", get(home))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/overview", get(overview))
        .route("/ui/devices", get(devices))
        .route("/ui/devices/{mac}", get(device))
        .route("/ui/devices/{mac}/live", get(live))
        .route("/ui/devices/{mac}/vars", post(set_vars))
        .route("/ui/devices/{mac}/resync", post(resync))
        .route("/ui/devices/{mac}/tasks", post(queue_task))
        .route("/ui/devices/{mac}/tasks/{id}/cancel", post(cancel_task))
        .route("/ui/bulk", post(start_bulk))
        .route("/ui/bulk/{id}", get(bulk_page))
        .route("/ui/bulk/{id}/cancel", post(cancel_bulk))
        .route("/ui/rollouts", get(rollouts::list).post(rollouts::start))
        .route("/ui/rollouts/{id}", get(rollouts::show))
        .route("/ui/rollouts/{id}/{op}", post(rollouts::act))
        .route("/ui/groups", get(groups::list))
        .route("/ui/groups/{name}", get(groups::show))
        .route("/ui/activation", get(activation::show))
        .route("/ui/activation/codes", post(activation::create_codes))
        .route("/ui/activation/print", get(activation::print))
        .route(
            "/ui/activation/codes/{code}/revoke",
            post(activation::revoke),
        )
        .route("/ui/assets/{file}", get(asset))
        .fallback(not_found)
        .with_state(console)
}

/// A signed-in request.
pub(crate) struct Ctx {
    pub(crate) user: String,
    role: Role,
    session: Session,
    csrf: String,
    secure: bool,
}

impl Ctx {
    pub(crate) fn admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The rule book's answer for this user (`phoneprov_store::Role::may`,
    /// shared with the REST API).
    pub(crate) fn may(&self, action: phoneprov_store::Action<'_>) -> bool {
        self.role.may(action)
    }
}

fn secure(headers_ext: &axum::http::Extensions) -> bool {
    headers_ext.get::<OverTls>().is_some_and(|t| t.0)
}

/// The page wrapper: security headers on every answer, and the refreshed
/// session cookie when signed in.
fn page(status: StatusCode, body: String, ctx: Option<&Ctx>, key: &[u8]) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    security_headers(h);
    if let Some(ctx) = ctx {
        refresh_cookie(key, ctx, &mut resp);
    }
    resp
}

/// Re-issues the session cookie with a fresh "last request" time.
fn refresh_cookie(key: &[u8], ctx: &Ctx, r: &mut Response) {
    let s = Session {
        last_ms: now_ms(),
        ..ctx.session.clone()
    };
    let cookie = auth::set_cookie(auth::SESSION_COOKIE, &s.encode(key), ctx.secure, None);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

pub(crate) fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    security_headers(r.headers_mut());
    r
}

/// What a page handler answers: `Err` is the page to send instead of the
/// one asked for (the sign-in redirect, a refusal, an error), so the
/// checks at the top of a handler end with `?`.
pub(crate) type Page = Result<Response, Response>;

/// The signed-in user of a GET to `here` (where sign-in comes back to),
/// or the answer to send instead.
pub(crate) fn signed_page(
    c: &Console,
    req: &Request<axum::body::Body>,
    here: &str,
) -> impl std::future::Future<Output = Result<Ctx, Response>> + Send + 'static {
    c.signed_in(req.headers(), req.extensions(), here)
}

/// The redirect after a done POST (303 to `to`), with the session cookie
/// refreshed.
pub(crate) fn redirect_signed(c: &Console, ctx: &Ctx, to: &str) -> Page {
    let mut r = redirect(to);
    refresh_cookie(&c.inner.key, ctx, &mut r);
    Ok(r)
}

/// A numeric id from the path, or the "No WHAT ID." page (404).
pub(crate) fn path_id(c: &Console, ctx: &Ctx, id: &str, what: &str) -> Result<i64, Response> {
    id.parse::<i64>().map_err(|_| {
        c.error(
            StatusCode::NOT_FOUND,
            &format!("No {what} {id:?}."),
            Some(ctx),
        )
    })
}

impl Console {
    async fn store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut s)
        })
        .await
        .map_err(|e| format!("store task failed: {e}"))?
    }

    /// The 403 page `refusal` unless the user's role may do `action` (the
    /// rule book, `phoneprov_store::Role::may`); nothing is done.
    pub(crate) fn allowed(
        &self,
        ctx: &Ctx,
        action: phoneprov_store::Action<'_>,
        refusal: &str,
    ) -> Result<(), Response> {
        if ctx.may(action) {
            Ok(())
        } else {
            Err(self.error(StatusCode::FORBIDDEN, refusal, Some(ctx)))
        }
    }

    /// The 403 page unless the user may queue `rpc`: admins any, help desk
    /// users the read-only ones.
    fn rpc_allowed(&self, ctx: &Ctx, rpc: &phoneprov_acs::TaskRpc) -> Result<(), Response> {
        if ctx.may(phoneprov_store::Action::Task(rpc.method())) {
            return Ok(());
        }
        Err(self.error(
            StatusCode::FORBIDDEN,
            &format!(
                "Help desk users queue read-only tasks only ({}); {} needs an admin.",
                READ_ONLY_RPCS.join(", "),
                rpc.method()
            ),
            Some(ctx),
        ))
    }

    /// [`Console::store`] for a page: a store error is the 500 page.
    pub(crate) async fn load<T: Send + 'static>(
        &self,
        ctx: &Ctx,
        f: impl FnOnce(&mut Store) -> Result<T, String> + Send + 'static,
    ) -> Result<T, Response> {
        let out = self.store(f).await;
        out.map_err(|e| self.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(ctx)))
    }

    /// The signed-in user of a request, or the answer to send instead
    /// (a redirect to the sign-in page).
    pub(crate) fn signed_in(
        &self,
        headers: &HeaderMap,
        ext: &axum::http::Extensions,
        here: &str,
    ) -> impl std::future::Future<Output = Result<Ctx, Response>> + Send + 'static {
        // What is needed of the request is read now, so the future holds
        // no borrow of it (a request body is not `Sync`).
        let value = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| auth::cookie(c, auth::SESSION_COOKIE))
            .map(str::to_string);
        let secure = secure(ext);
        let here = here.to_string();
        let c = self.clone();
        async move {
            let to_login = || redirect(&format!("/ui/login?next={}", url_escape(&here)));
            let Some(session) =
                value.and_then(|v| Session::decode(&v, &c.inner.key, now_ms(), c.inner.idle))
            else {
                return Err(to_login());
            };
            let name = session.user.clone();
            let user = c
                .store(move |s| s.console_user(&name).map_err(|e| e.to_string()))
                .await
                .map_err(|e| c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, None))?;
            let Some(user) = user else {
                return Err(to_login());
            };
            Ok(Ctx {
                csrf: session.csrf(&c.inner.key),
                user: user.name,
                role: user.role,
                session,
                secure,
            })
        }
    }

    /// A message page (errors, refusals).
    pub(crate) fn error(&self, status: StatusCode, message: &str, ctx: Option<&Ctx>) -> Response {
        let body = view::render(
            &self.inner.env,
            "message.html",
            context! {
                title => status.canonical_reason().unwrap_or("Error"),
                message => message,
                user => ctx.map(|c| c.user.clone()),
                role => ctx.map(|c| c.role.as_str()),
                csrf => ctx.map(|c| c.csrf.clone()),
            },
        )
        .unwrap_or_else(|e| e);
        page(status, body, ctx, &self.inner.key)
    }

    pub(crate) fn show(&self, name: &str, ctx: &Ctx, extra: minijinja::Value) -> Response {
        self.show_status(StatusCode::OK, name, ctx, extra)
    }

    /// [`Console::show`] with another status (a refused form).
    pub(crate) fn show_status(
        &self,
        status: StatusCode,
        name: &str,
        ctx: &Ctx,
        extra: minijinja::Value,
    ) -> Response {
        let base = context! {
            user => ctx.user.clone(),
            role => ctx.role.as_str(),
            admin => ctx.admin(),
            csrf => ctx.csrf.clone(),
        };
        match view::render(&self.inner.env, name, context! { ..base, ..extra }) {
            Ok(body) => page(status, body, Some(ctx), &self.inner.key),
            Err(e) => self.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(ctx)),
        }
    }
}

pub(crate) fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `application/x-www-form-urlencoded` fields (the last value of a name
/// wins; an unparsable body has no fields).
fn form_fields(body: &[u8]) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map(|v| v.into_iter().collect())
        .unwrap_or_default()
}

async fn home() -> Response {
    redirect("/ui/overview")
}

async fn not_found(State(c): State<Console>) -> Response {
    c.error(
        StatusCode::NOT_FOUND,
        "No such page. Start from the overview: /ui/overview",
        None,
    )
}

async fn asset(Path(file): Path<String>) -> Response {
    match view::ASSETS.iter().find(|a| a.0 == file) {
        Some((_, ctype, body)) => {
            let mut r = (*body).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=300"),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            r
        }
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

#[derive(serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only local console paths are followed after sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_string()
        }
        _ => "/ui/overview".to_string(),
    }
}

async fn login_form(
    State(c): State<Console>,
    Query(q): Query<NextQuery>,
    req: Request<axum::body::Body>,
) -> Response {
    login_page(
        &c,
        q.next.as_deref(),
        None,
        secure(req.extensions()),
        StatusCode::OK,
    )
}

fn login_page(
    c: &Console,
    next: Option<&str>,
    error: Option<&str>,
    secure: bool,
    status: StatusCode,
) -> Response {
    let nonce = auth::nonce();
    let body = view::render(
        &c.inner.env,
        "login.html",
        context! {
            next => safe_next(next),
            csrf => auth::login_csrf(&c.inner.key, &nonce),
            error => error,
        },
    )
    .unwrap_or_else(|e| e);
    let mut resp = page(status, body, None, &c.inner.key);
    let cookie = auth::set_cookie(auth::LOGIN_COOKIE, &nonce, secure, Some(600));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login(State(c): State<Console>, req: Request<axum::body::Body>) -> Response {
    let (parts, body) = req.into_parts();
    let body = match read_body(&c, body, 1 << 16).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    login_inner(c, peer, &parts.headers, secure(&parts.extensions), &body).await
}

async fn login_inner(
    c: Console,
    ip: std::net::IpAddr,
    headers: &HeaderMap,
    secure: bool,
    body: &[u8],
) -> Response {
    let f = form_fields(body);
    let next = f.get("next").map(String::as_str);
    let nonce = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| auth::cookie(h, auth::LOGIN_COOKIE))
        .unwrap_or("");
    if nonce.is_empty()
        || !auth::csrf_ok(
            f.get("csrf").map(String::as_str),
            &auth::login_csrf(&c.inner.key, nonce),
        )
    {
        return login_page(
            &c,
            next,
            Some("The sign-in form expired or was not sent by this page; sign in again."),
            secure,
            StatusCode::FORBIDDEN,
        );
    }
    if let Some(wait) = c.inner.guard.gate(DOOR, ip) {
        let mut r = login_page(
            &c,
            next,
            Some("Too many failed sign-ins from this address; wait and try again."),
            secure,
            StatusCode::TOO_MANY_REQUESTS,
        );
        if let Ok(v) =
            HeaderValue::from_str(&phoneprov_httpauth::retry_after_secs(wait).to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let name = f.get("user").cloned().unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let lookup = name.clone();
    let ok = c
        .store(move |s| {
            let user = s.console_user(&lookup).map_err(|e| e.to_string())?;
            // Verify against a dummy hash for unknown names: same cost.
            let hash = user
                .as_ref()
                .map_or(auth::dummy_hash(), |u| u.pw_hash.as_str());
            Ok(auth::verify_password(hash, &password) && user.is_some())
        })
        .await;
    match ok {
        Ok(true) => {
            c.inner.guard.succeeded(ip);
            let now = now_ms();
            let s = Session {
                user: name,
                issued_ms: now,
                last_ms: now,
            };
            let mut r = redirect(&safe_next(next));
            let h = r.headers_mut();
            for cookie in [
                auth::set_cookie(auth::SESSION_COOKIE, &s.encode(&c.inner.key), secure, None),
                auth::set_cookie(auth::LOGIN_COOKIE, "", secure, Some(0)),
            ] {
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    h.append(header::SET_COOKIE, v);
                }
            }
            r
        }
        Ok(false) => {
            let hold = c.inner.guard.failed(DOOR, ip, Some(&name));
            if !hold.is_zero() {
                tokio::time::sleep(hold).await;
            }
            login_page(
                &c,
                next,
                Some("Wrong user name or password."),
                secure,
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(e) => c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, None),
    }
}

/// Checks the CSRF token of a signed-in POST.
fn check_csrf(c: &Console, ctx: &Ctx, f: &HashMap<String, String>) -> Result<(), Response> {
    if auth::csrf_ok(f.get("csrf").map(String::as_str), &ctx.csrf) {
        Ok(())
    } else {
        Err(c.error(
            StatusCode::FORBIDDEN,
            "Refused: this form has no valid CSRF token (it was not sent by a console page, \
             or the session changed). Reload the page and submit again.",
            Some(ctx),
        ))
    }
}

/// A signed-in POST: session, then CSRF, then the form's fields.
/// The body of a form POST, at most `limit` bytes (413 beyond).
async fn read_body(
    c: &Console,
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        c.error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("The form is larger than {limit} bytes."),
            None,
        )
    })
}

/// A signed-in form POST to `here`: the session, then the form with its
/// CSRF token checked (nothing is done for a request without one).
pub(crate) async fn post_form(
    c: &Console,
    req: Request<axum::body::Body>,
    limit: usize,
    here: &str,
) -> Result<(Ctx, HashMap<String, String>), Response> {
    let (parts, body) = req.into_parts();
    let body = read_body(c, body, limit).await?;
    let ctx = c.signed_in(&parts.headers, &parts.extensions, here).await?;
    let f = form_fields(&body);
    check_csrf(c, &ctx, &f)?;
    Ok((ctx, f))
}

/// [`post_form`] to a device page, with the device's MAC parsed.
async fn device_post(
    c: &Console,
    req: Request<axum::body::Body>,
    limit: usize,
    mac: &str,
) -> Result<(Ctx, HashMap<String, String>, Mac), Response> {
    let (ctx, f) = post_form(c, req, limit, &format!("/ui/devices/{mac}")).await?;
    let mac = parse_mac(c, &ctx, mac)?;
    Ok((ctx, f, mac))
}

async fn logout(State(c): State<Console>, req: Request<axum::body::Body>) -> Page {
    let (ctx, _) = post_form(&c, req, 1 << 16, "/ui/overview").await?;
    let mut r = redirect("/ui/login");
    let cookie = auth::set_cookie(auth::SESSION_COOKIE, "", ctx.secure, Some(0));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[derive(Serialize)]
struct Count {
    label: String,
    count: u64,
    href: String,
}

fn outcome_label(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Success) => "A: success",
        Some(Outcome::NotFound) => "B: not found",
        Some(Outcome::Corrupt) => "B: corrupt",
        Some(Outcome::Failed) => "C: failed",
        None => "seen, no outcome",
    }
}

async fn overview(State(c): State<Console>, req: Request<axum::body::Body>) -> Page {
    let ctx = signed_page(&c, &req, "/ui/overview").await?;
    // Counts, the chart and the recent errors: kept between views
    // (crate::counts).
    let overview = Arc::clone(&c.inner.overview);
    let counted = tokio::task::spawn_blocking(move || overview.get())
        .await
        .map_err(|e| format!("count task failed: {e}"))
        .and_then(|r| r);
    let snap = match counted {
        Ok(x) => x,
        Err(e) => return Err(c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(&ctx))),
    };
    let (counts, hours) = (&snap.counts, &snap.hours);
    let mut outcomes = vec![Count {
        label: "never seen".into(),
        count: counts.never_seen,
        href: "/ui/devices?outcome=never".into(),
    }];
    outcomes.extend(counts.by_outcome.iter().map(|(o, n)| Count {
        label: outcome_label(*o).into(),
        count: *n,
        href: format!("/ui/devices?outcome={}", o.map_or("", |o| o.as_str())),
    }));
    let named = |rows: &[(Option<String>, u64)], param: &str| -> Vec<Count> {
        rows.iter()
            .map(|(v, n)| Count {
                label: v.clone().unwrap_or_else(|| "(not set)".into()),
                count: *n,
                href: match v {
                    Some(v) => format!("/ui/devices?{param}={}", url_escape(v)),
                    None => "/ui/devices".into(),
                },
            })
            .collect()
    };
    let bars = view::bars(snap.at_ms, hours);
    let total_resyncs: u64 = bars.iter().map(|b| b.count).sum();
    let errors: Vec<_> = snap.errors.iter().map(event_view).collect();
    Ok(c.show(
        "overview.html",
        &ctx,
        context! {
            total => counts.total,
            counted_at => view::rfc3339(Some(snap.at_ms)),
            outcomes => V::from(Serde(&outcomes)),
            models => V::from(Serde(named(&counts.by_model, "model"))),
            firmwares => V::from(Serde(named(&counts.by_firmware, "firmware"))),
            bars => V::from(Serde(&bars)),
            chart_w => view::CHART_W,
            chart_h => view::CHART_H,
            total_resyncs => total_resyncs,
            errors => V::from(Serde(&errors)),
        },
    ))
}

#[derive(Serialize)]
struct EventView {
    id: i64,
    mac: String,
    at: String,
    kind: &'static str,
    outcome: Option<&'static str>,
    bad: bool,
    source_ip: Option<String>,
    message: String,
}

fn event_view(e: &phoneprov_store::Event) -> EventView {
    EventView {
        id: e.id,
        mac: e.mac.to_string(),
        at: view::rfc3339(Some(e.at_ms)),
        kind: e.kind.as_str(),
        outcome: e.outcome.map(|o| o.as_str()),
        bad: matches!(e.outcome, Some(o) if o != Outcome::Success),
        source_ip: e.source_ip.clone(),
        message: e.message.clone(),
    }
}

#[derive(Serialize)]
struct DeviceRow {
    mac: String,
    serial: Option<String>,
    model: Option<String>,
    group: Option<String>,
    firmware: Option<String>,
    last_seen: String,
    outcome: Option<&'static str>,
}

fn device_row(d: &Device) -> DeviceRow {
    DeviceRow {
        mac: d.mac.to_string(),
        serial: d.serial.clone(),
        model: d.model.clone(),
        group: d.group.clone(),
        firmware: d.status.firmware.clone(),
        last_seen: view::rfc3339(d.status.last_seen_ms),
        outcome: d.status.last_outcome.map(|o| o.as_str()),
    }
}

/// The device list's query string, as typed (echoed into the form).
#[derive(Debug, Default, Clone, serde::Deserialize, Serialize)]
struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    firmware: String,
    #[serde(default)]
    older: String,
    #[serde(default)]
    sort: String,
    /// Page number, shown; with no `after`, the rows before are skipped
    /// (bookmarks of old).
    #[serde(default)]
    page: String,
    /// Keyset paging: the last MAC of the previous page.
    #[serde(default)]
    after: String,
    /// Keyset paging in last-seen order: when that device was last seen
    /// (Unix ms, or `never`).
    #[serde(default)]
    seen: String,
}

impl ListParams {
    /// The store query, or what is wrong with the parameters.
    fn query(&self, now: i64) -> Result<DeviceQuery, String> {
        let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let mut q = self.selection().query(now).map_err(|e| {
            let mut c = e.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })?;
        q.limit = PAGE + 1;
        q.sort = match self.sort.trim() {
            "" | "mac" => DeviceSort::Mac,
            "seen" => DeviceSort::LastSeen,
            s => return Err(format!("Bad sort {s:?}: use mac or seen")),
        };
        let page: u64 = match opt(&self.page) {
            None => 1,
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| format!("Bad page {p:?}: pages count from 1"))?,
        };
        match opt(&self.after) {
            // Keyset paging (issue 14: pages stay fast deep in a million
            // devices); `page` is then only shown.
            Some(after) => {
                let mac =
                    Mac::parse(&after).map_err(|e| format!("Bad page start {after:?}: {e}"))?;
                q.after_mac = Some(mac.to_string());
                if q.sort == DeviceSort::LastSeen {
                    q.after_seen = Some(match self.seen.trim() {
                        "never" => None,
                        t => Some(t.parse().map_err(|_| {
                            format!("Bad page start {t:?}: give a time in Unix ms or never")
                        })?),
                    });
                }
            }
            None => q.offset = (page - 1) * PAGE,
        }
        Ok(q)
    }

    /// The list's filter as a bulk job's selection.
    fn selection(&self) -> Selection {
        Selection {
            q: self.q.clone(),
            model: self.model.clone(),
            group: self.group.clone(),
            outcome: self.outcome.clone(),
            firmware: self.firmware.clone(),
            older: self.older.clone(),
            ..Selection::default()
        }
    }

    fn page_no(&self) -> u64 {
        self.page.trim().parse().unwrap_or(1).max(1)
    }

    /// This list's URL at its first page.
    fn first_href(&self) -> String {
        self.href(1, None)
    }

    /// This list's URL at the page after `last` (keyset paging).
    fn next_href(&self, last: &Device) -> String {
        self.href(self.page_no() + 1, Some(last))
    }

    /// This list's URL at page `page`, starting after `last`.
    fn href(&self, page: u64, last: Option<&Device>) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("q", &self.q),
            ("model", &self.model),
            ("group", &self.group),
            ("outcome", &self.outcome),
            ("firmware", &self.firmware),
            ("older", &self.older),
            ("sort", &self.sort),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", url_escape(v)));
            }
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if let Some(d) = last {
            parts.push(format!("after={}", d.mac));
            if self.sort.trim() == "seen" {
                match d.status.last_seen_ms {
                    Some(t) => parts.push(format!("seen={t}")),
                    None => parts.push("seen=never".into()),
                }
            }
        }
        format!("/ui/devices?{}", parts.join("&"))
    }
}

async fn devices(State(c): State<Console>, req: Request<axum::body::Body>) -> Page {
    let here = req
        .uri()
        .path_and_query()
        .map_or("/ui/devices".to_string(), |p| p.as_str().to_string());
    let ctx = signed_page(&c, &req, &here).await?;
    let params: ListParams = match Query::<ListParams>::try_from_uri(req.uri()) {
        Ok(Query(p)) => p,
        Err(e) => {
            return Err(c.error(
                StatusCode::BAD_REQUEST,
                &format!("Bad device list query: {e}"),
                Some(&ctx),
            ))
        }
    };
    let (rows, error) = match params.query(now_ms()) {
        Err(e) => (Vec::new(), Some(e)),
        Ok(q) => match c
            .store(move |s| s.search_devices(&q).map_err(|e| e.to_string()))
            .await
        {
            Ok(rows) => (rows, None),
            Err(e) => return Err(c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(&ctx))),
        },
    };
    let more = rows.len() as u64 > PAGE;
    let next = more.then(|| params.next_href(&rows[PAGE as usize - 1]));
    let rows: Vec<DeviceRow> = rows.iter().take(PAGE as usize).map(device_row).collect();
    let page = params.page_no();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mac_hint = rows.is_empty().then(|| mac_hint(&params.q)).flatten();
    let mut r = c.show(
        "devices.html",
        &ctx,
        context! {
            p => V::from(Serde(&params)),
            rows => V::from(Serde(&rows)),
            error => error,
            mac_hint => mac_hint,
            page => page,
            first => (page > 1).then(|| params.first_href()),
            next => next,
        },
    );
    if r.status() == StatusCode::OK {
        *r.status_mut() = status;
    }
    Ok(r)
}

/// Why a search that found nothing is no MAC, when it looks like one
/// was meant (12 or more letters and digits, all hex digits or grouped by
/// `:`, `-` or `.`): the MAC parser's message says what is wrong and how
/// to write it. A shorter text is a MAC prefix or another search term.
fn mac_hint(q: &str) -> Option<String> {
    let q = q.trim();
    let shaped = q
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '.'));
    let digits = || q.chars().filter(char::is_ascii_alphanumeric);
    let grouped = q.contains([':', '-', '.']);
    if !shaped || digits().count() < 12 || !(grouped || digits().all(|c| c.is_ascii_hexdigit())) {
        return None;
    }
    Mac::parse(q).err().map(|e| e.to_string())
}

/// Why a variables form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct VarError {
    /// 1-based line of the form's text.
    pub line: usize,
    /// What is wrong and how to write it.
    pub message: String,
}

/// Parses `NAME=VALUE` lines (blank lines ignored), each name and value
/// checked by the store's rules (`phoneprov_store::check_var_name`,
/// `check_var_value`). Every bad line is reported.
pub fn parse_vars(text: &str) -> Result<BTreeMap<String, String>, Vec<VarError>> {
    let mut vars = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        let Some((name, value)) = l.split_once('=') else {
            errors.push(VarError {
                line,
                message: format!("{l:?} has no '=': write NAME=VALUE"),
            });
            continue;
        };
        let name = name.trim();
        // The store's rules, the same as `device set` and the API's.
        if let Err(message) = phoneprov_store::check_var_name(name)
            .and_then(|()| phoneprov_store::check_var_value(name, value))
        {
            errors.push(VarError { line, message });
            continue;
        }
        if vars.insert(name.to_string(), value.to_string()).is_some() {
            errors.push(VarError {
                line,
                message: format!("{name} is given twice"),
            });
        }
    }
    if errors.is_empty() {
        Ok(vars)
    } else {
        Err(errors)
    }
}

fn parse_mac(c: &Console, ctx: &Ctx, mac: &str) -> Result<Mac, Response> {
    Mac::parse(mac).map_err(|e| {
        c.error(
            StatusCode::BAD_REQUEST,
            &format!("Bad MAC in the address: {e}"),
            Some(ctx),
        )
    })
}

fn host_of(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost")
        .to_string()
}

/// Everything the device page shows; `form` keeps a refused variables
/// text so the operator can fix it.
struct DeviceForm {
    vars_text: Option<String>,
    errors: Vec<String>,
    notice: Option<String>,
}

async fn device(
    State(c): State<Console>,
    Path(mac): Path<String>,
    req: Request<axum::body::Body>,
) -> Page {
    let here = format!("/ui/devices/{mac}");
    let ctx = signed_page(&c, &req, &here).await?;
    let mac = parse_mac(&c, &ctx, &mac)?;
    let notice = req
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("done="))
        .map(|d| match d {
            "vars" => "Variables saved.".to_string(),
            "resync" => "Resync pushed.".to_string(),
            "task" => "Task queued.".to_string(),
            "cancel" => "Task cancelled.".to_string(),
            _ => String::new(),
        })
        .filter(|s| !s.is_empty());
    device_page(
        &c,
        &ctx,
        mac,
        &host_of(req.headers()),
        DeviceForm {
            vars_text: None,
            errors: Vec::new(),
            notice,
        },
        StatusCode::OK,
    )
    .await
}

async fn device_page(
    c: &Console,
    ctx: &Ctx,
    mac: Mac,
    host: &str,
    form: DeviceForm,
    status: StatusCode,
) -> Page {
    let dev = match c
        .store(move |s| s.device(mac).map_err(|e| e.to_string()))
        .await
    {
        Ok(Some(d)) => d,
        Ok(None) => {
            return Err(c.error(
                StatusCode::NOT_FOUND,
                &format!("No device {mac} in the inventory; find devices on /ui/devices"),
                Some(ctx),
            ))
        }
        Err(e) => return Err(c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(ctx))),
    };
    let preview = {
        let p = c.inner.preview.clone();
        let d = dev.clone();
        let host = host.to_string();
        tokio::task::spawn_blocking(move || p.preview(&d, &host))
            .await
            .unwrap_or_else(|e| Err(format!("render task failed: {e}")))
    };
    let live = match live_context(c, ctx, mac).await {
        Ok(x) => x,
        Err(e) => return Err(c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(ctx))),
    };
    // Help desk users see secret variables (`sip_password`) masked: the
    // rule book's predicate (issue 14 item 2).
    let shown_vars: std::collections::BTreeMap<&str, &str> = dev
        .vars
        .iter()
        .map(|(k, v)| {
            let hide = !ctx.admin() && phoneprov_store::is_secret_var(k);
            (
                k.as_str(),
                if hide {
                    phoneprov_store::SECRET_MASK
                } else {
                    v.as_str()
                },
            )
        })
        .collect();
    let vars_text = form.vars_text.unwrap_or_else(|| {
        shown_vars
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()
    });
    let (template, xml, findings, render_error) = match preview {
        Ok(p) => (Some(p.template), Some(p.xml), p.findings, None),
        Err(e) => (None, None, Vec::new(), Some(e)),
    };
    let mut r = c.show(
        "device.html",
        ctx,
        context! {
            d => V::from(Serde(device_row(&dev))),
            created => view::rfc3339(Some(dev.created_ms)),
            updated => view::rfc3339(Some(dev.updated_ms)),
            ip => dev.status.ip.clone(),
            vars => V::from(Serde(&shown_vars)),
            vars_text => vars_text,
            errors => form.errors,
            notice => form.notice,
            key => ctx.admin().then(|| dev.key.expose_secret().to_string()),
            template => template,
            xml => if ctx.admin() { xml } else { None },
            findings => findings,
            render_error => render_error,
            acs => c.inner.acs.is_some(),
            live => live,
            rpcs => V::from(Serde(if ctx.admin() { None } else { Some(READ_ONLY_RPCS) })),
        },
    );
    if r.status() == StatusCode::OK {
        *r.status_mut() = status;
    }
    Ok(r)
}

#[derive(Serialize)]
struct TaskView {
    id: i64,
    rpc: String,
    method: &'static str,
    state: String,
    attempts: i64,
    max_attempts: i64,
    expires: Option<String>,
    result: Option<String>,
    created: String,
    updated: String,
}

async fn live_context(c: &Console, _ctx: &Ctx, mac: Mac) -> Result<minijinja::Value, String> {
    let events = c
        .store(move |s| Timeline::events(s, mac, TIMELINE).map_err(|e| e.to_string()))
        .await?;
    let tasks = match c.inner.acs.clone() {
        Some(acs) => tokio::task::spawn_blocking(move || acs.tasks(mac, 20))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|t| TaskView {
                id: t.id,
                method: t.rpc.method(),
                rpc: serde_json::to_string(&t.rpc).unwrap_or_default(),
                state: serde_json::to_value(t.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                attempts: t.attempts,
                max_attempts: t.max_attempts,
                expires: t.expires_ms.map(|ms| view::rfc3339(Some(ms))),
                result: t
                    .result
                    .map(|r| serde_json::to_string_pretty(&r).unwrap_or_default()),
                created: view::rfc3339(Some(t.created_ms)),
                updated: view::rfc3339(Some(t.updated_ms)),
            })
            .collect(),
        None => Vec::new(),
    };
    let events: Vec<_> = events.iter().rev().map(event_view).collect();
    Ok(context! {
        mac => mac.to_string(),
        events => V::from(Serde(&events)),
        tasks => V::from(Serde(&tasks)),
        acs => c.inner.acs.is_some(),
    })
}

async fn live(
    State(c): State<Console>,
    Path(mac): Path<String>,
    req: Request<axum::body::Body>,
) -> Page {
    let here = format!("/ui/devices/{mac}");
    let ctx = signed_page(&c, &req, &here).await?;
    let mac = parse_mac(&c, &ctx, &mac)?;
    match live_context(&c, &ctx, mac).await {
        Ok(live) => Ok(c.show("live.html", &ctx, context! { live => live })),
        Err(e) => Err(c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(&ctx))),
    }
}

async fn set_vars(
    State(c): State<Console>,
    Path(mac): Path<String>,
    req: Request<axum::body::Body>,
) -> Page {
    let host = host_of(req.headers());
    let (ctx, f, mac) = device_post(&c, req, 1 << 20, &mac).await?;
    c.allowed(
        &ctx,
        phoneprov_store::Action::EditDevices,
        "Only admins change variables; ask an admin.",
    )?;
    let text = f.get("vars").cloned().unwrap_or_default();
    match parse_vars(&text) {
        Err(errors) => {
            device_page(
                &c,
                &ctx,
                mac,
                &host,
                DeviceForm {
                    vars_text: Some(text),
                    errors: errors.iter().map(|e| e.to_string()).collect(),
                    notice: Some("Nothing was saved.".into()),
                },
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Ok(vars) => {
            let saved = c
                .store(move |s| {
                    let Some(d) = s.device(mac).map_err(|e| e.to_string())? else {
                        return Ok(false);
                    };
                    let nd = NewDevice {
                        mac,
                        serial: d.serial,
                        model: d.model,
                        group: d.group,
                        vars,
                    };
                    Inventory::upsert_device(s, &nd).map_err(|e| e.to_string())?;
                    Ok(true)
                })
                .await;
            match saved {
                Ok(true) => {
                    tracing::info!(user = %ctx.user, %mac, "console: variables changed");
                    redirect_signed(&c, &ctx, &format!("/ui/devices/{mac}?done=vars"))
                }
                Ok(false) => Err(c.error(
                    StatusCode::NOT_FOUND,
                    &format!("No device {mac}; it was removed meanwhile"),
                    Some(&ctx),
                )),
                Err(e) => Err(c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(&ctx))),
            }
        }
    }
}

async fn resync(
    State(c): State<Console>,
    Path(mac): Path<String>,
    req: Request<axum::body::Body>,
) -> Page {
    let (ctx, _, mac) = device_post(&c, req, 1 << 16, &mac).await?;
    let out = phoneprov_api::resync_with_store(
        Some(c.inner.store.clone()),
        mac,
        None,
        None,
        // GET to the last seen IP, or a SIP NOTIFY to the device's
        // `sip_contact` variable (issue 15).
        None,
    )
    .await;
    match out {
        Ok(o) if (200..300).contains(&o.status) => {
            tracing::info!(user = %ctx.user, %mac, "console: resync pushed");
            redirect_signed(&c, &ctx, &format!("/ui/devices/{mac}?done=resync"))
        }
        Ok(o) => Err(c.error(
            StatusCode::BAD_GATEWAY,
            &format!(
                "The phone refused the resync ({} {}): {}",
                o.method.as_str(),
                o.status,
                o.body
            ),
            Some(&ctx),
        )),
        Err(e) => Err(c.error(
            StatusCode::BAD_GATEWAY,
            &format!("Resync not pushed: {e}"),
            Some(&ctx),
        )),
    }
}

async fn queue_task(
    State(c): State<Console>,
    Path(mac): Path<String>,
    req: Request<axum::body::Body>,
) -> Page {
    let (ctx, f, mac) = device_post(&c, req, 1 << 20, &mac).await?;
    let Some(acs) = c.inner.acs.clone() else {
        return Err(c.error(
            StatusCode::CONFLICT,
            "The ACS is off: set [listen] acs in the config to queue TR-069 tasks.",
            Some(&ctx),
        ));
    };
    let text = f.get("task").cloned().unwrap_or_default();
    let parsed = phoneprov_acs::parse_request(text.as_bytes()).and_then(|(rpc, opts)| {
        // The form's own fields win over the same keys in the JSON.
        let field = |k: &str| f.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let max = field("max_attempts")
            .map(|m| {
                m.parse::<i64>()
                    .map_err(|_| format!("max_attempts {m:?} is not a whole number"))
            })
            .transpose()?;
        let form = phoneprov_acs::TaskOptions::parse(field("expires_after"), max)
            .map_err(|e| e.to_string())?;
        Ok((
            rpc,
            phoneprov_acs::TaskOptions {
                expires_after: form.expires_after.or(opts.expires_after),
                max_attempts: form.max_attempts.or(opts.max_attempts),
            },
        ))
    });
    let (rpc, opts) = match parsed {
        Ok(r) => r,
        Err(e) => {
            return Err(c.error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Bad task, nothing queued: {e}. Example: \
                     {{\"rpc\":\"GetParameterValues\",\"names\":[\"Device.DeviceInfo.\"]}}"
                ),
                Some(&ctx),
            ))
        }
    };
    c.rpc_allowed(&ctx, &rpc)?;
    let queued = {
        let acs = acs.clone();
        tokio::task::spawn_blocking(move || acs.enqueue_with(mac, rpc, opts))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
    };
    match queued {
        Ok(t) => {
            tracing::info!(user = %ctx.user, %mac, task = t.id, "console: task queued");
            // Ask the CPE to come now; when it cannot be reached the task
            // waits for its next periodic Inform.
            if let Err(e) = acs.connection_request(mac).await {
                tracing::info!(%mac, error = %e, "console: connection request not sent");
            }
            redirect_signed(&c, &ctx, &format!("/ui/devices/{mac}?done=task"))
        }
        Err(e) => Err(c.error(
            StatusCode::BAD_REQUEST,
            &format!("Task not queued: {e}"),
            Some(&ctx),
        )),
    }
}

/// Cancels a queued ACS task (issue 14 item 4); help desk users may too
/// (cancelling writes nothing to the device).
async fn cancel_task(
    State(c): State<Console>,
    Path((mac, id)): Path<(String, i64)>,
    req: Request<axum::body::Body>,
) -> Page {
    let (ctx, _, mac) = device_post(&c, req, 1 << 16, &mac).await?;
    let Some(acs) = c.inner.acs.clone() else {
        return Err(c.error(StatusCode::CONFLICT, "The ACS is off.", Some(&ctx)));
    };
    let out = tokio::task::spawn_blocking(move || acs.cancel_task(mac, id))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match out {
        Ok(Some((true, _))) => {
            tracing::info!(user = %ctx.user, %mac, task = id, "console: task cancelled");
            redirect_signed(&c, &ctx, &format!("/ui/devices/{mac}?done=cancel"))
        }
        Ok(Some((false, t))) => Err(c.error(
            StatusCode::CONFLICT,
            &format!(
                "Task {id} is {} and cannot be cancelled: only a queued task can.",
                t.state.as_str()
            ),
            Some(&ctx),
        )),
        Ok(None) => Err(c.error(
            StatusCode::NOT_FOUND,
            &format!("No task {id} for {mac}."),
            Some(&ctx),
        )),
        Err(e) => Err(c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(&ctx))),
    }
}

/// Starts a bulk job from the device list (issue 14 item 4): the checked
/// devices (`mac_<MAC>` boxes) or every device matching the list's search
/// (`f_*` fields), then shows the job's page.
async fn start_bulk(State(c): State<Console>, req: Request<axum::body::Body>) -> Page {
    let (ctx, f) = post_form(&c, req, 1 << 20, "/ui/devices").await?;
    let field = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let mut selection = Selection::default();
    if field("scope") == "filter" {
        selection = Selection {
            q: field("f_q"),
            model: field("f_model"),
            group: field("f_group"),
            outcome: field("f_outcome"),
            firmware: field("f_firmware"),
            older: field("f_older"),
            ..Selection::default()
        };
        if selection == Selection::default() {
            selection.all = true;
        }
    } else {
        selection.macs = f
            .keys()
            .filter_map(|k| k.strip_prefix("mac_"))
            .map(str::to_string)
            .collect();
        if selection.macs.is_empty() {
            return Err(c.error(
                StatusCode::BAD_REQUEST,
                "No device selected: tick the devices, or choose \"every device matching this search\". Nothing was sent.",
                Some(&ctx),
            ));
        }
    }
    let action = field("action");
    let task = if action == "task" {
        match serde_json::from_str::<serde_json::Value>(&field("task")) {
            Ok(t) => Some(t),
            Err(e) => {
                return Err(c.error(
                    StatusCode::BAD_REQUEST,
                    &format!("Bad task JSON, nothing queued: {e}."),
                    Some(&ctx),
                ))
            }
        }
    } else {
        None
    };
    let rate = match field("rate").parse::<u32>() {
        Ok(r) => r,
        Err(_) => {
            return Err(c.error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Bad rate {:?}: give devices per second, 1 to 1000. Nothing was sent.",
                    field("rate")
                ),
                Some(&ctx),
            ))
        }
    };
    let req = phoneprov_api::bulk::BulkRequest {
        action,
        task,
        selection,
        rate: Some(rate),
    };
    let plan = match req.plan() {
        Ok(p) => p,
        Err(e) => {
            return Err(c.error(
                StatusCode::BAD_REQUEST,
                &format!("Bulk job not started: {e}."),
                Some(&ctx),
            ))
        }
    };
    if let phoneprov_api::bulk::BulkAction::Task(rpc, _) = &plan.action {
        c.rpc_allowed(&ctx, rpc)?;
    }
    let by = format!("console:{}", ctx.user);
    match phoneprov_api::bulk::start(&c.inner.db, plan, c.inner.acs.clone(), &by).await {
        Ok(job) => {
            tracing::info!(user = %ctx.user, job = job.id, total = job.total, "console: bulk job started");
            redirect_signed(&c, &ctx, &format!("/ui/bulk/{}", job.id))
        }
        Err(e) => Err(c.error(
            StatusCode::BAD_REQUEST,
            &format!("Bulk job not started: {e}."),
            Some(&ctx),
        )),
    }
}

/// A bulk job's page; its `#live-inner` part is refreshed by the page
/// itself every 2 s (console.js), so progress shows without reloading.
async fn bulk_page(
    State(c): State<Console>,
    Path(id): Path<String>,
    req: Request<axum::body::Body>,
) -> Page {
    let here = format!("/ui/bulk/{id}");
    let ctx = signed_page(&c, &req, &here).await?;
    let id = path_id(&c, &ctx, &id, "bulk job")?;
    let job = match c
        .store(move |s| s.bulk_job(id).map_err(|e| e.to_string()))
        .await
    {
        Ok(Some(j)) => j,
        Ok(None) => {
            return Err(c.error(
                StatusCode::NOT_FOUND,
                &format!("No bulk job {id}."),
                Some(&ctx),
            ))
        }
        Err(e) => return Err(c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(&ctx))),
    };
    Ok(c.show(
        "bulk.html",
        &ctx,
        context! {
            job => V::from(Serde(&job)),
            handled => job.handled(),
            selection => job.selection.to_string(),
            task => job.task.as_ref().map(|t| t.to_string()),
            failures => V::from(Serde(&view::failure_groups(&job.failures))),
            kept => job.failures.as_array().map_or(0, Vec::len),
            created => view::rfc3339(Some(job.created_ms)),
        },
    ))
}

/// Cancels a running bulk job.
async fn cancel_bulk(
    State(c): State<Console>,
    Path(id): Path<i64>,
    req: Request<axum::body::Body>,
) -> Page {
    let (ctx, _) = post_form(&c, req, 1 << 16, &format!("/ui/bulk/{id}")).await?;
    match c
        .store(move |s| s.cancel_bulk_job(id).map_err(|e| e.to_string()))
        .await
    {
        Ok(Some(_)) => {
            tracing::info!(user = %ctx.user, job = id, "console: bulk job cancelled");
            redirect_signed(&c, &ctx, &format!("/ui/bulk/{id}"))
        }
        Ok(None) => Err(c.error(
            StatusCode::NOT_FOUND,
            &format!("No bulk job {id}."),
            Some(&ctx),
        )),
        Err(e) => Err(c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(&ctx))),
    }
}

#[cfg(test)]
mod tests {
    use super::mac_hint;

    #[test]
    fn mac_hint_names_a_mistyped_mac_and_leaves_other_searches_alone() {
        for typed in ["000e081004d20", "00:0e:08:zz:cd:ef", "000e.0810.04d2.00"] {
            let hint = mac_hint(typed).unwrap_or_else(|| panic!("{typed}: no hint"));
            assert!(hint.starts_with("bad MAC"), "{typed}: {hint}");
        }
        // A MAC, a MAC prefix, a user id, a serial, a name: no hint.
        for typed in [
            "00:0E:08:10:04:D2",
            "000e.0810.04d2",
            "00:0e:08",
            "10000",
            "FCH2231A7QXZ",
            "Front desk",
        ] {
            assert_eq!(mac_hint(typed), None, "{typed}");
        }
    }
}
