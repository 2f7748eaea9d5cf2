//! `phoneprov-api`: the admin REST API of `phoneprov serve` and push resync.
//!
//! [`router`] serves, under `/api/v1`:
//!
//! | route | what |
//! |---|---|
//! | `GET /devices?group=G&limit=N&after=MAC` | list in MAC order (no keys), paged by `x-next-after` |
//! | `POST /devices` | add; answers 201 with the new key |
//! | `GET /devices/{mac}` | show, with the key |
//! | `PUT /devices/{mac}` | create or replace serial/model/group/vars (key kept) |
//! | `PATCH /devices/{mac}?dry_run=true&force=true` | set some fields and variables, checked, all or nothing; previewed and linted first (see [`fleet`]) |
//! | `DELETE /devices/{mac}` | remove with its timeline |
//! | `POST /devices/import` | CSV body, all or nothing, bad lines listed; a `key` column carries keys |
//! | `GET /devices/export?format=csv\|json&with_keys=true` | the import's CSV or JSON |
//! | `GET /devices/pending` | auto-registered devices awaiting approval |
//! | `POST /devices/{mac}/approve`, `/reject` | decide on one (see [`fleet`]) |
//! | `GET /devices/{mac}/events?limit=N` | timeline, oldest first |
//! | `POST /devices/{mac}/resync` | push resync to the phone (R-RULE-6) |
//! | `GET /templates`, `GET/PUT/DELETE /templates/{name}?dry_run=true&force=true` | profile templates, each change previewed on every device first (see [`templates`]) |
//! | `GET /openapi.json` | the OpenAPI 3 document (no token) |
//!
//! Every other route needs `Authorization: Bearer TOKEN`: the admin token,
//! kept in the database and mirrored in `DATA/admin.token` ([`admin_token`]),
//! or a console user's token (`phoneprov user token NAME`) that carries the
//! user's role; without one the answer is 401 with `WWW-Authenticate:
//! Bearer`. A help desk token gets 403 on anything its role may not do
//! (the rule book is `phoneprov_store::Role::may`, shared with the console;
//! see [`Caller`]), and device JSON without keys and with secret variables
//! masked. Errors are JSON `{ "error", "hint" }`
//! (plus `rows` for a rejected import); see [`ErrorBody`].
//!
//! [`router_with`] / [`bytes_handler_with`] merge more routes into the same
//! handler: `phoneprov serve` adds the ACS task API
//! (`/api/v1/devices/{mac}/tasks`, `/datamodel`, `/connection-request`) and
//! the activation service (`/api/v1/activation/...`, `/activation/v1/...`),
//! guarded by [`ApiState::admin_guard`], and their OpenAPI paths
//! ([`acs_doc`], [`activation_doc`]) join the document.
//!
//! [`push_resync`] is also what `phoneprov device resync` calls, through
//! [`resync_device`].
//!
//! Choices: axum (the server's HTTP stack), `utoipa` for the OpenAPI
//! document (derived from the handlers, so it cannot drift),
//! `phoneprov-transport` (the one HTTP client towards phones) for pushes,
//! the `metrics` facade for counters (exported by
//! the server's Prometheus recorder on `/metrics`; see [`metrics`]).
//! The token comparison and the XML escape of the Execute object are the
//! workspace's ones (`phoneprov_types::secret_eq`, `phoneprov_types::xml`).
//!
//! Mounting in the server:
//! ```no_run
//! # async fn f(data: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
//! let state = phoneprov_api::ApiState::open(data)?;
//! let app = axum::Router::new().merge(phoneprov_api::router(state));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

mod access;
pub mod bulk;
mod error;
mod extra_doc;
pub mod fleet;
mod jobs;
pub mod metrics;
#[cfg(test)]
mod mount_tests;
mod openapi;
mod push;
pub mod rollout;
mod routes;
mod state;
pub mod templates;
mod token;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

pub use access::Caller;
pub use error::{AdminError, ApiError, ErrorBody, RowError};
pub use extra_doc::{acs_doc, activation_doc};
pub use openapi::ApiDoc;
pub use push::{
    device_address, encode_rule_query, execute_xml, notify_resync, phone_base_url, push,
    push_resync, push_target, record_push, record_push_pending, resync_device, resync_with_store,
    PushError, PushMethod, PushOutcome, PushPending, PushTarget, SIP_CONTACT_VAR, SIP_PASSWORD_VAR,
    SIP_PUSH_WAIT, SIP_USER_VAR,
};
pub use routes::{
    DeviceView, EventView, ImportResult, NewDeviceBody, ResyncBody, StatusView, UpdateDeviceBody,
    NEXT_AFTER_HEADER,
};
pub use state::{AdminGuard, ApiState, SetupError};
pub use token::{admin_token, ensure_admin_token, TokenError, ADMIN_TOKEN_SECRET, TOKEN_FILE};

/// Largest CSV accepted by `POST /devices/import` (256 MiB, about four
/// million short rows); bigger files go through `phoneprov device import`.
pub const MAX_IMPORT_BYTES: usize = 256 << 20;

/// The `/api/v1` router, ready to merge into the server's.
pub fn router(state: ApiState) -> Router {
    router_with(state, Router::new(), None)
}

/// [`router`] with `extra` routes merged in, and `extra_doc` (their
/// OpenAPI paths, e.g. [`acs_doc`] and [`activation_doc`] merged) added to
/// the document served at `/api/v1/openapi.json`.
///
/// `phoneprov serve` merges the ACS task API
/// (`/api/v1/devices/{mac}/tasks`, ...) and the activation service
/// (`/api/v1/activation/...`, `/activation/v1/...`) this way. A merged
/// route wins over the `/api/v1` fallback (an exact or `{param}` segment
/// beats the fallback's catch-all), so only paths nobody serves get the
/// JSON "no API route" answer. The extra routes bring their own
/// authentication (build them with [`ApiState::admin_guard`]); the
/// request counter covers them too.
pub fn router_with(
    state: ApiState,
    extra: Router,
    extra_doc: Option<utoipa::openapi::OpenApi>,
) -> Router {
    let mut doc = <ApiDoc as utoipa::OpenApi>::openapi();
    if let Some(more) = extra_doc {
        doc.merge(more);
    }
    let doc = std::sync::Arc::new(doc);
    let protected = Router::new()
        .route(
            "/devices",
            get(routes::list_devices).post(routes::add_device),
        )
        .route(
            "/devices/import",
            post(routes::import_devices).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route(
            "/devices/{mac}",
            get(routes::show_device)
                .put(routes::update_device)
                .patch(fleet::set_device)
                .delete(routes::remove_device),
        )
        .route("/devices/export", get(fleet::export_devices))
        .route("/devices/pending", get(fleet::pending_devices))
        .route("/devices/{mac}/approve", post(fleet::approve_device))
        .route("/devices/{mac}/reject", post(fleet::reject_device))
        .route("/devices/{mac}/events", get(routes::device_events))
        .route("/devices/{mac}/resync", post(routes::resync_device))
        .route(
            "/bulk-jobs",
            get(jobs::list_bulk_jobs).post(jobs::create_bulk_job),
        )
        .route(
            "/bulk-jobs/{id}",
            get(jobs::get_bulk_job).delete(jobs::cancel_bulk_job),
        )
        .route("/templates", get(templates::list_templates))
        .route(
            "/templates/{*name}",
            get(templates::get_template)
                .put(templates::put_template)
                .delete(templates::delete_template),
        )
        .route(
            "/rollouts",
            get(rollout::http::list_rollouts).post(rollout::http::create_rollout),
        )
        .route("/rollouts/{id}", get(rollout::http::get_rollout))
        .route("/rollouts/{id}/pause", post(rollout::http::pause_rollout))
        .route("/rollouts/{id}/resume", post(rollout::http::resume_rollout))
        .route(
            "/rollouts/{id}/rollback",
            post(rollout::http::roll_back_rollout),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            access::require_token,
        ));
    let api = Router::new()
        .route(
            "/openapi.json",
            get(openapi::openapi_json).layer(axum::Extension(doc)),
        )
        .merge(protected)
        .fallback(routes::no_route)
        .layer(middleware::from_fn(routes::count_requests))
        .with_state(state);
    Router::new()
        .nest("/api/v1", api)
        .merge(extra.layer(middleware::from_fn(routes::count_requests)))
}

/// A boxed response future of [`bytes_handler`].
pub type BytesResponse =
    std::pin::Pin<Box<dyn std::future::Future<Output = http::Response<Bytes>> + Send>>;

/// The router as a plain `http::Request<Bytes>` → `http::Response<Bytes>`
/// function, for a server that drives hyper itself and hands whole
/// requests to the API (`phoneprov serve`'s `ApiHandler`:
/// `Arc::new(phoneprov_api::bytes_handler(state))`). Paths must keep their
/// `/api/v1` prefix. A `std::net::SocketAddr` in the request's extensions
/// (the client's address, put there by the server) is handed to the
/// handlers as axum's `ConnectInfo`, so the activation service records the
/// phone's address in its timeline events.
pub fn bytes_handler(
    state: ApiState,
) -> impl Fn(http::Request<Bytes>) -> BytesResponse + Send + Sync + Clone + 'static {
    bytes_handler_with(state, Router::new(), None)
}

/// [`bytes_handler`] over [`router_with`]: the admin API plus `extra`
/// routes (the ACS task API and the activation service in `phoneprov
/// serve`), with `extra_doc` added to the OpenAPI document.
pub fn bytes_handler_with(
    state: ApiState,
    extra: Router,
    extra_doc: Option<utoipa::openapi::OpenApi>,
) -> impl Fn(http::Request<Bytes>) -> BytesResponse + Send + Sync + Clone + 'static {
    use tower::ServiceExt as _;
    let app = router_with(state, extra, extra_doc);
    move |mut req: http::Request<Bytes>| {
        let app = app.clone();
        if let Some(peer) = req.extensions().get::<std::net::SocketAddr>().copied() {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        Box::pin(async move {
            let resp = match app.oneshot(req.map(axum::body::Body::from)).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            let (parts, body) = resp.into_parts();
            // Handlers build their bodies in memory, so this cannot fail
            // short of a bug; answer 500 rather than panic if it does.
            match axum::body::to_bytes(body, usize::MAX).await {
                Ok(bytes) => http::Response::from_parts(parts, bytes),
                Err(e) => {
                    let body = ApiError::internal(format!("response body: {e}")).body;
                    let mut resp = http::Response::new(Bytes::from(
                        serde_json::to_vec(&body).unwrap_or_default(),
                    ));
                    *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    resp
                }
            }
        }) as BytesResponse
    }
}
