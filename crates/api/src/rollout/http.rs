//! `/api/v1/rollouts`: staged firmware rollouts (issue 14 item 5b) over
//! the shell of [`crate::rollout`]: create, list, status, pause, resume,
//! roll back. The server's driver does the rest.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use phoneprov_store::{now_ms, Rollout};

use super::{RolloutError, RolloutRequest, RolloutStatus};
use crate::error::{AdminError, ErrorBody};
use crate::state::ApiState;

/// An example body, for the hints.
const EXAMPLE: &str = r#"send e.g. {"version":"12.0.1","file":"cp8841-12.0.1.loads","selection":{"group":"sales"},"waves":[1,10,50,100],"threshold_pct":10,"wave_timeout":"30m","push_rate":10}"#;

impl From<RolloutError> for AdminError {
    fn from(e: RolloutError) -> Self {
        match e {
            RolloutError::Bad(m) => AdminError::bad_request(m, EXAMPLE),
            RolloutError::NotFound(id) => AdminError::NoSuch {
                what: format!("rollout {id}"),
                hint: "list the rollouts with GET /api/v1/rollouts",
            },
            e @ RolloutError::State { .. } => AdminError::Conflict {
                error: e.to_string(),
                hint: "see its state with GET /api/v1/rollouts/{id}".into(),
            },
            RolloutError::Store(s) => AdminError::from(s),
        }
    }
}

/// Starts a staged rollout of a firmware target to the selection. Answers
/// at once; the server starts its first wave within a second. Follow it
/// with `GET /api/v1/rollouts/{id}`.
#[utoipa::path(post, path = "/api/v1/rollouts", tag = "rollouts",
    request_body(content = RolloutRequest, content_type = "application/json",
        example = json!({"version": "12.0.1", "file": "cp8841-12.0.1.loads",
            "selection": {"group": "sales"}, "waves": [1, 10, 50, 100], "threshold_pct": 10})),
    responses(
        (status = 202, description = "The rollout, running", body = Object),
        (status = 400, description = "Bad target, selection, waves or gate; or no device selected", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create_rollout(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Rollout>), AdminError> {
    let req: RolloutRequest = serde_json::from_slice(&body)
        .map_err(|e| AdminError::bad_request(format!("bad rollout: {e}"), EXAMPLE))?;
    let r = state
        .with_store(move |s| Ok(super::create(s, &req, "api")?))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(r)))
}

/// The rollouts, newest first (at most 100).
#[utoipa::path(get, path = "/api/v1/rollouts", tag = "rollouts",
    responses(
        (status = 200, description = "Rollouts and where they stand", body = Object),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_rollouts(
    State(state): State<ApiState>,
) -> Result<Json<Vec<Rollout>>, AdminError> {
    Ok(Json(state.with_store(|s| Ok(s.rollouts(100)?)).await?))
}

/// One rollout: its state (`running`, `paused`, `halted`, `done`,
/// `rolled-back`), the wave started last, why it halted, the devices per
/// wave and result, and the failed devices with what they reported.
#[utoipa::path(get, path = "/api/v1/rollouts/{id}", tag = "rollouts",
    params(("id" = i64, Path, description = "Rollout id")),
    responses(
        (status = 200, description = "The rollout's status: its fields, `counts` per wave and result, `failed` devices with their reasons", body = Object),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such rollout", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_rollout(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<RolloutStatus>, AdminError> {
    Ok(Json(
        state.with_store(move |s| Ok(super::status(s, id)?)).await?,
    ))
}

/// Pauses a running rollout: no wave starts and no halt is decided until
/// it is resumed (devices already switched keep their target).
#[utoipa::path(post, path = "/api/v1/rollouts/{id}/pause", tag = "rollouts",
    params(("id" = i64, Path, description = "Rollout id")),
    responses(
        (status = 200, description = "The rollout, paused", body = Object),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
        (status = 404, description = "No such rollout", body = ErrorBody),
        (status = 409, description = "Not running", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn pause_rollout(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<Rollout>, AdminError> {
    Ok(Json(
        state.with_store(move |s| Ok(super::pause(s, id)?)).await?,
    ))
}

/// Resumes a paused rollout, or a halted one (its next wave starts now:
/// the operator accepts the failed wave).
#[utoipa::path(post, path = "/api/v1/rollouts/{id}/resume", tag = "rollouts",
    params(("id" = i64, Path, description = "Rollout id")),
    responses(
        (status = 200, description = "The rollout, running", body = Object),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
        (status = 404, description = "No such rollout", body = ErrorBody),
        (status = 409, description = "Neither paused nor halted", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn resume_rollout(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<Rollout>, AdminError> {
    let db = state.database();
    let (r, started) = state
        .with_store(move |s| Ok(super::resume(s, id, now_ms())?))
        .await?;
    if let Some(w) = started.filter(|w| w.push_rate > 0 && !w.devices.is_empty()) {
        let store = tokio::task::spawn_blocking(move || phoneprov_store::Store::connect(&db))
            .await
            .map_err(|e| AdminError::Internal(e.to_string()))??;
        tokio::spawn(super::push_wave(
            std::sync::Arc::new(std::sync::Mutex::new(store)),
            w,
        ));
    }
    Ok(Json(r))
}

/// Rolls a rollout back: every device it switched gets the firmware
/// variables it had before (its phone goes back at its next resync).
#[utoipa::path(post, path = "/api/v1/rollouts/{id}/rollback", tag = "rollouts",
    params(("id" = i64, Path, description = "Rollout id")),
    responses(
        (status = 200, description = "The rollout, rolled back, with how many devices went back", body = Object),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
        (status = 404, description = "No such rollout", body = ErrorBody),
        (status = 409, description = "Rolled back already", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn roll_back_rollout(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, AdminError> {
    let (n, r) = state
        .with_store(move |s| Ok(super::roll_back(s, id, "api")?))
        .await?;
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["rolled_back_devices"] = n.into();
    Ok(Json(v))
}
