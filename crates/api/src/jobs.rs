//! `/api/v1/bulk-jobs`: fleet-wide resyncs and ACS tasks (issue 14 item
//! 4), over the runner in [`crate::bulk`].

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use phoneprov_store::BulkJob;

use crate::bulk::{BulkError, BulkRequest};
use crate::error::{AdminError, ErrorBody};
use crate::state::ApiState;

/// An example body, for the hints.
const EXAMPLE: &str = r#"send e.g. {"action":"resync","selection":{"group":"sales"},"rate":50} or {"action":"task","task":{"rpc":"GetParameterValues","names":["Device.DeviceInfo."]},"selection":{"macs":["000e08abcdef"]}}"#;

impl AdminError {
    pub(crate) fn no_bulk_job(id: i64) -> AdminError {
        AdminError::NoSuch {
            what: format!("bulk job {id}"),
            hint: "list the bulk jobs with GET /api/v1/bulk-jobs",
        }
    }
}

impl From<BulkError> for AdminError {
    fn from(e: BulkError) -> Self {
        match e {
            BulkError::Bad(m) => AdminError::bad_request(m, EXAMPLE),
            BulkError::Store(s) => AdminError::from(s),
            BulkError::Gone(id) => AdminError::no_bulk_job(id),
        }
    }
}

/// Starts a bulk job: a resync pushed to, or an ACS task queued for,
/// every device of the selection at `rate` per second. Answers at once
/// with the job; follow its progress with `GET /api/v1/bulk-jobs/{id}`.
#[utoipa::path(post, path = "/api/v1/bulk-jobs", tag = "devices",
    request_body(content = BulkRequest, content_type = "application/json",
        example = json!({"action": "resync", "selection": {"group": "sales"}, "rate": 50})),
    responses(
        (status = 202, description = "The job, running", body = Object),
        (status = 400, description = "Bad action, task, selection or rate", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token and a task job that is not read-only", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create_bulk_job(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<(StatusCode, Json<BulkJob>), AdminError> {
    let req: BulkRequest = serde_json::from_slice(&body)
        .map_err(|e| AdminError::bad_request(format!("bad bulk job: {e}"), EXAMPLE))?;
    let plan = req
        .plan()
        .map_err(|e| AdminError::bad_request(e, EXAMPLE))?;
    let job = crate::bulk::start(&state.database(), plan, state.acs(), "api").await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// The bulk jobs, newest first (at most 100).
#[utoipa::path(get, path = "/api/v1/bulk-jobs", tag = "devices",
    responses(
        (status = 200, description = "Jobs with their progress", body = Object),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_bulk_jobs(
    State(state): State<ApiState>,
) -> Result<Json<Vec<BulkJob>>, AdminError> {
    let jobs = state.with_store(|s| Ok(s.bulk_jobs(100)?)).await?;
    Ok(Json(jobs))
}

/// One bulk job: state (`running`, `done`, `cancelled`, `interrupted`),
/// `total`, `succeeded`, `failed`, `skipped` and the first failures.
#[utoipa::path(get, path = "/api/v1/bulk-jobs/{id}", tag = "devices",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = Object),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_bulk_job(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<BulkJob>, AdminError> {
    state
        .with_store(move |s| s.bulk_job(id)?.ok_or_else(|| AdminError::no_bulk_job(id)))
        .await
        .map(Json)
}

/// Cancels a running bulk job: no device is handed out after its next
/// progress write (a quarter second); those already handed out finish.
#[utoipa::path(delete, path = "/api/v1/bulk-jobs/{id}", tag = "devices",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job, cancelled", body = Object),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job already ended", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn cancel_bulk_job(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<BulkJob>, AdminError> {
    state
        .with_store(move |s| match s.cancel_bulk_job(id)? {
            Some((true, j)) => Ok(j),
            Some((false, j)) => Err(AdminError::Conflict {
                error: format!("bulk job {id} is {} and cannot be cancelled", j.state),
                hint: "only a running job can be cancelled".into(),
            }),
            None => Err(AdminError::no_bulk_job(id)),
        })
        .await
        .map(Json)
}
