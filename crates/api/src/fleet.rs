//! Fleet operations of the inventory (issue 14 item 4), under `/api/v1`:
//!
//! | route | what |
//! |---|---|
//! | `PATCH /devices/{mac}?dry_run=true&force=true` | `{"NAME": "VALUE", …}`: set fields and variables, all or nothing (`""` clears); the profile is previewed and linted first (group, firmware target and variable changes), 422 on new lint errors |
//! | `GET /devices/export?format=csv\|json&with_keys=true&group=G` | the import's CSV, or JSON |
//! | `GET /devices/pending` | auto-registered devices awaiting approval |
//! | `POST /devices/{mac}/approve`, `POST /devices/{mac}/reject` | decide on one |
//!
//! The checks and the writes are the store's ([`phoneprov_store::Change`],
//! [`phoneprov_store::Approval`], [`phoneprov_store::Store::export`]); the
//! CLI calls the same functions. An export with keys says so in the
//! `x-phoneprov-keys: included` header.

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use phoneprov_store::{Approval, Change, ExportFormat};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{AdminError, ErrorBody};
use crate::routes::{json_body, parse_mac, query, DeviceView};
use crate::state::ApiState;

/// Header on an export that carries keys.
pub const KEYS_HEADER: &str = "x-phoneprov-keys";

/// Sets fields and variables of a device.
///
/// Each member names `serial`, `model`, `group` or a variable; an empty
/// value clears it. Every name and value is checked first: one bad pair
/// and nothing is written.
///
/// Change safety (issue 14 item 5a): under `phoneprov serve` the device's
/// profile is rendered with the change first (a new group, a firmware
/// target variable `firmware_version`/`firmware_file`, any variable) and
/// linted; `?dry_run=true` answers that report (the template preview's
/// shape) and writes nothing; a change that adds lint errors is refused
/// with 422 (the device named, its errors in `devices`) unless
/// `?force=true`.
#[utoipa::path(patch, path = "/api/v1/devices/{mac}", tag = "devices",
    params(("mac" = String, Path, description = "The device's MAC"), crate::templates::ChangeQuery),
    request_body(content = BTreeMap<String, String>, content_type = "application/json",
        description = r#"e.g. `{"display_name":"Front desk","group":"sales","old_var":""}`"#),
    responses(
        (status = 200, description = "Changed (key kept); with ?dry_run=true the preview report instead, nothing written", body = DeviceView),
        (status = 400, description = "Bad MAC, name or value; nothing written", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
        (status = 422, description = "Refused: the changed profile has lint errors (listed in `devices`); nothing written", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn set_device(
    State(state): State<ApiState>,
    Path(mac): Path<String>,
    q: Result<Query<crate::templates::ChangeQuery>, QueryRejection>,
    body: Result<Json<BTreeMap<String, String>>, JsonRejection>,
) -> Result<Response, AdminError> {
    let mac = parse_mac(&mac)?;
    let q = query(q, "?dry_run=true or ?force=true")?;
    let pairs = json_body(body, r#"{"display_name":"Front desk","group":"sales"}"#)?;
    let bad = |e: String| {
        AdminError::bad_request(
            e,
            "send a JSON object of NAME: VALUE strings; names are serial, model, group or \
             variable names; nothing was written",
        )
    };
    if pairs.is_empty() {
        return Err(bad("nothing to set".into()));
    }
    let changes = pairs
        .iter()
        .map(|(n, v)| Change::new(n, v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let editor = state.templates();
    if editor.is_none() && q.dry_run {
        return Err(crate::templates::editor(&state)
            .err()
            .unwrap_or_else(|| AdminError::Internal("no template renderer".into())));
    }
    if let Some(ed) = editor {
        let names: Vec<&str> = pairs.keys().map(String::as_str).collect();
        let label = format!("device {mac}: {}", names.join(", "));
        let current = state
            .with_store(move |s| s.device(mac)?.ok_or(AdminError::NotFound(mac.to_string())))
            .await?;
        let changed = phoneprov_store::with_changes(&current, &changes);
        let report =
            tokio::task::spawn_blocking(move || ed.preview_devices(&label, &[(current, changed)]))
                .await
                .map_err(|e| AdminError::Internal(e.to_string()))??;
        if q.dry_run {
            return Ok(Json(report).into_response());
        }
        if !report.lint_errors.is_empty() && !q.force {
            return Ok(crate::templates::refusal(
                &report,
                "fix the change or the device's template",
            )
            .into_response());
        }
    }
    let dev = state
        .with_store(move |s| Ok(s.set_fields(mac, &changes)?))
        .await?;
    Ok(Json(DeviceView::from_device(dev, false)).into_response())
}

/// `?format=&with_keys=&group=` of the export.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `csv` (default; the import's format) or `json`.
    pub format: Option<String>,
    /// Include each device's secret key (`key` column / member).
    #[serde(default)]
    pub with_keys: bool,
    /// Only devices of this group.
    pub group: Option<String>,
}

/// Exports the inventory (or a group) in the import's CSV format or as
/// JSON; keys only with `with_keys=true`.
#[utoipa::path(get, path = "/api/v1/devices/export", tag = "devices",
    params(ExportQuery),
    responses(
        (status = 200, description = "text/csv or application/json; `x-phoneprov-keys: included` when keys are in it", content_type = "text/csv"),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn export_devices(
    State(state): State<ApiState>,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, AdminError> {
    let q = query(q, "?format=csv&with_keys=true&group=sales")?;
    let format: ExportFormat = q
        .format
        .as_deref()
        .unwrap_or("csv")
        .parse()
        .map_err(|e: String| AdminError::bad_request(e, "use ?format=csv or ?format=json"))?;
    let with_keys = q.with_keys;
    let body = state
        .with_store(move |s| {
            let mut out = Vec::new();
            s.export::<phoneprov_store::StoreError, _>(
                &mut out,
                format,
                q.group.as_deref(),
                with_keys,
            )?;
            Ok(out)
        })
        .await?;
    if with_keys {
        tracing::info!("inventory exported with device keys through the API");
    }
    let ctype = match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Json => "application/json",
    };
    let mut resp = ([(header::CONTENT_TYPE, ctype)], body).into_response();
    if with_keys {
        resp.headers_mut()
            .insert(KEYS_HEADER, header::HeaderValue::from_static("included"));
    }
    Ok(resp)
}

/// Auto-registered devices awaiting approval, in MAC order.
#[utoipa::path(get, path = "/api/v1/devices/pending", tag = "devices",
    responses(
        (status = 200, description = "Pending devices (no keys)", body = [DeviceView]),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn pending_devices(
    State(state): State<ApiState>,
    axum::Extension(caller): axum::Extension<crate::Caller>,
) -> Result<Json<Vec<DeviceView>>, AdminError> {
    let devs = state.with_store(|s| Ok(s.pending_devices()?)).await?;
    Ok(Json(
        devs.into_iter()
            .map(|d| DeviceView::from_device(d, false).for_caller(&caller))
            .collect(),
    ))
}

async fn decide(
    state: ApiState,
    mac: String,
    to: Approval,
) -> Result<Json<DeviceView>, AdminError> {
    let mac = parse_mac(&mac)?;
    let dev = state
        .with_store(move |s| Ok(s.set_approval(mac, to)?))
        .await?;
    Ok(Json(DeviceView::from_device(dev, false)))
}

/// Approves an auto-registered (pending or rejected) device: its next
/// request gets its profile.
#[utoipa::path(post, path = "/api/v1/devices/{mac}/approve", tag = "devices",
    params(("mac" = String, Path, description = "The device's MAC")),
    responses(
        (status = 200, description = "Approved", body = DeviceView),
        (status = 400, description = "Bad MAC", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
        (status = 409, description = "The device awaits no approval", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn approve_device(
    State(state): State<ApiState>,
    Path(mac): Path<String>,
) -> Result<Json<DeviceView>, AdminError> {
    decide(state, mac, Approval::Approved).await
}

/// Rejects a pending device: it stays in the inventory (so it is not
/// registered again) and keeps getting 404.
#[utoipa::path(post, path = "/api/v1/devices/{mac}/reject", tag = "devices",
    params(("mac" = String, Path, description = "The device's MAC")),
    responses(
        (status = 200, description = "Rejected", body = DeviceView),
        (status = 400, description = "Bad MAC", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
        (status = 409, description = "The device is not pending", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn reject_device(
    State(state): State<ApiState>,
    Path(mac): Path<String>,
) -> Result<Json<DeviceView>, AdminError> {
    decide(state, mac, Approval::Rejected).await
}
