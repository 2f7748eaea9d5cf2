//! The REST API of the ACS (axum), for the admin API of `phoneprov serve`:
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/api/v1/devices/{mac}/tasks` | queue a task ([`TaskRpc`](crate::task::TaskRpc) JSON, optionally `expires_after`, `max_attempts`) → 201 + task |
//! | GET | `/api/v1/devices/{mac}/tasks` | the device's tasks, newest first (`?limit=`) |
//! | GET | `/api/v1/devices/{mac}/tasks/{id}` | one task with its result |
//! | DELETE | `/api/v1/devices/{mac}/tasks/{id}` | cancel a queued task (200 + task; 409 once sent or finished) |
//! | GET | `/api/v1/devices/{mac}/datamodel` | the cached data model (path, XML name, value, type, writable) |
//! | POST | `/api/v1/devices/{mac}/connection-request` | ask the CPE to connect now |
//!
//! [`Acs::api_router`] has **no authentication of its own**: the server
//! mounts it behind its admin-token middleware. [`Acs::api_router_guarded`]
//! takes a guard instead, for callers without one. Errors are the admin
//! API's one shape, `{"error": "...", "hint": "..."}`
//! ([`phoneprov_types::http_error::ApiError`]), with 400 (bad MAC or task),
//! 401, 404, 502 (the CPE did not accept the connection request) or 500.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use phoneprov_store::Mac;
use phoneprov_types::http_error::{ApiError, INTERNAL_HINT};
use serde::Deserialize;

use crate::acs::Acs;
use crate::error::AcsError;

/// An example task body, for the hints.
const TASK_EXAMPLE: &str = r#"{"rpc":"GetParameterValues","names":["Device.DeviceInfo."]}"#;

impl From<AcsError> for ApiError {
    fn from(e: AcsError) -> Self {
        let (status, hint) = match &e {
            AcsError::Task(_) => (
                StatusCode::BAD_REQUEST,
                format!("fix the task and send it again, e.g. {TASK_EXAMPLE}"),
            ),
            AcsError::NoConnectionRequestUrl(_) => (
                StatusCode::NOT_FOUND,
                "queue the task anyway: it runs at the device's next Inform".to_string(),
            ),
            AcsError::ConnectionRequest { .. } => (
                StatusCode::BAD_GATEWAY,
                "check that the CPE is reachable from the server and that [acs] connection_request credentials match the CPE's; the task stays queued for its next Inform".to_string(),
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_HINT.to_string()),
        };
        ApiError::new(status, e.to_string(), hint)
    }
}

fn parse_mac(s: &str) -> Result<Mac, ApiError> {
    Ok(Mac::parse(s)?)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AcsError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

async fn create_task(
    State(acs): State<Acs>,
    Path(mac): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mac = parse_mac(&mac)?;
    let (rpc, opts) = crate::task::parse_request(&body).map_err(|e| {
        ApiError::bad_request(
            format!("bad task JSON: {e}"),
            format!("send e.g. {TASK_EXAMPLE}, optionally with \"expires_after\":\"1h\" and \"max_attempts\":3"),
        )
    })?;
    let task = blocking(move || acs.enqueue_with(mac, rpc, opts)).await?;
    Ok((StatusCode::CREATED, Json(task)).into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn list_tasks(
    State(acs): State<Acs>,
    Path(mac): Path<String>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let mac = parse_mac(&mac)?;
    let limit = q.limit.unwrap_or(100);
    let tasks = blocking(move || acs.tasks(mac, limit)).await?;
    Ok(Json(tasks).into_response())
}

async fn get_task(
    State(acs): State<Acs>,
    path: Result<Path<(String, i64)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((mac, id)) = path?;
    let mac = parse_mac(&mac)?;
    match blocking(move || acs.task(mac, id)).await? {
        Some(t) => Ok(Json(t).into_response()),
        None => Err(ApiError::not_found(
            format!("no task {id} for {mac}"),
            format!("list them with GET /api/v1/devices/{mac}/tasks"),
        )),
    }
}

async fn cancel_task(
    State(acs): State<Acs>,
    path: Result<Path<(String, i64)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((mac, id)) = path?;
    let mac = parse_mac(&mac)?;
    match blocking(move || acs.cancel_task(mac, id)).await? {
        Some((true, t)) => Ok(Json(t).into_response()),
        Some((false, t)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "task {id} of {mac} is {} and cannot be cancelled",
                t.state.as_str()
            ),
            "only a queued task can be cancelled; a sent one runs to its end",
        )),
        None => Err(ApiError::not_found(
            format!("no task {id} for {mac}"),
            format!("list them with GET /api/v1/devices/{mac}/tasks"),
        )),
    }
}

async fn data_model(State(acs): State<Acs>, Path(mac): Path<String>) -> Result<Response, ApiError> {
    let mac = parse_mac(&mac)?;
    let dm = blocking(move || acs.data_model(mac)).await?;
    Ok(Json(dm).into_response())
}

async fn connection_request(
    State(acs): State<Acs>,
    Path(mac): Path<String>,
) -> Result<Response, ApiError> {
    let mac = parse_mac(&mac)?;
    let out = acs.connection_request(mac).await?;
    Ok(Json(out).into_response())
}

/// A predicate on request headers deciding whether an API call is allowed.
pub type Guard = Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync>;

impl Acs {
    /// The task, data-model and connection-request API (see the module
    /// table). No authentication: mount it behind the admin middleware.
    pub fn api_router(&self) -> Router {
        Router::new()
            .route(
                "/api/v1/devices/{mac}/tasks",
                post(create_task).get(list_tasks),
            )
            .route(
                "/api/v1/devices/{mac}/tasks/{id}",
                get(get_task).delete(cancel_task),
            )
            .route("/api/v1/devices/{mac}/datamodel", get(data_model))
            .route(
                "/api/v1/devices/{mac}/connection-request",
                post(connection_request),
            )
            .with_state(self.clone())
    }

    /// [`Acs::api_router`] answering `401` to requests `guard` refuses.
    pub fn api_router_guarded(&self, guard: Guard) -> Router {
        self.api_router().layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let allowed = guard(req.headers());
                let missing = !req.headers().contains_key(header::AUTHORIZATION);
                async move {
                    if allowed {
                        next.run(req).await
                    } else {
                        ApiError::unauthorized_token(missing).into_response()
                    }
                }
            },
        ))
    }
}
