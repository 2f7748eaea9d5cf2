//! The admin surface (issue 17 item 3): what the admin listener
//! (`[listen] admin`, default `127.0.0.1:9080`, HTTPS when `[tls] cert` is
//! set) serves, kept off the phones' ports.
//!
//! This module is the one place where admin routes are mounted:
//! [`is_admin_path`] says which paths belong to the admin surface and
//! [`route`] answers them. Today: `/metrics` (Prometheus) and `/api/…` (the
//! mounted [`ApiHandler`](crate::state::ApiHandler): the REST API, its
//! OpenAPI document at `/api/v1/openapi.json`, the ACS task API and the
//! activation service's admin routes) and `/ui/` (the operator's console,
//! merged into the same handler). To add a surface, add its prefix to [`ADMIN_PREFIXES`] and answer it in
//! [`route`] (or merge its axum router into the API handler built in
//! [`crate::services`], which already answers everything under the
//! prefixes it is handed).
//!
//! The phones' ports ([`crate::http`]) never answer these paths, unless
//! `[listen] admin_on_phone_ports = true` (the old single-port behaviour,
//! warned about at start).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::files::RespBody;
use crate::state::AppState;

/// Path prefixes of the admin surface (besides the exact `/metrics`).
/// `/ui/` is the operator's console (`phoneprov-console`, merged into the
/// API handler by [`crate::services`]).
pub const ADMIN_PREFIXES: &[&str] = &["/api/", "/ui/"];

/// Whether `path` belongs to the admin surface.
pub fn is_admin_path(path: &str) -> bool {
    path == "/metrics" || path == "/ui" || ADMIN_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// Answers a request on the admin surface; hands the request back when
/// its path is not an admin path (the caller decides: [`not_admin`] on
/// the admin listener, the phone routes on a phone port).
pub async fn route(
    state: &Arc<AppState>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<RespBody>, Request<Incoming>> {
    let path = req.uri().path();
    if !is_admin_path(path) {
        return Err(req);
    }
    if path == "/metrics" {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Ok(Response::builder()
                .status(StatusCode::METHOD_NOT_ALLOWED)
                .header(header::ALLOW, "GET, HEAD")
                .body(RespBody::empty())
                .expect("static response"));
        }
        match state.reader.outcome_counts().await {
            Ok(counts) => crate::metrics_setup::set_device_counts(counts),
            Err(e) => tracing::warn!(error = %e, "cannot count the devices for /metrics"),
        }
        return Ok(Response::builder()
            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(RespBody::full(state.metrics.render()))
            .expect("static response"));
    }
    Ok(crate::mount::api(state, peer, req).await)
}

/// The admin listener's answer for a path outside the admin surface.
pub fn not_admin() -> Response<RespBody> {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "application/json")
        .body(RespBody::full(Bytes::from_static(
            b"{\"error\":\"not an admin route\",\"hint\":\"the admin listener serves /api/v1 (see /api/v1/openapi.json), the console at /ui/ and /metrics; profiles, firmware and reports are on the phones' ports\"}\n",
        )))
        .expect("static response")
}
