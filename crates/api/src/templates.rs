//! Profile templates over the API, with change safety (issue 14 item 5a).
//!
//! | route | what |
//! |---|---|
//! | `GET /templates` | the template files' names |
//! | `GET /templates/{name}` | one template's source (`text/plain`) |
//! | `PUT /templates/{name}?dry_run=true&force=true` | replace or add one (body: the source) |
//! | `DELETE /templates/{name}?dry_run=true&force=true` | remove one |
//!
//! Before a change is saved the server renders the profile of **every**
//! device with the current templates and with the changed ones (its real
//! render path), lints the new profiles and answers a [`ChangeReport`]: how
//! many devices change, which parameters (name, old → new, how many
//! devices), and each device whose new profile has lint errors its current
//! one does not. With `dry_run=true` nothing is saved. Without it a change
//! that would add lint errors to any device is refused with 422 and those
//! devices listed in the error's `devices`, unless `force=true`.
//!
//! The rendering lives in the server (it owns the templates and the
//! config): it lends it through [`TemplateEditor`], which the console's
//! template page uses too. Without one (the API mounted alone) these routes
//! answer 503.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

pub use phoneprov_types::http_error::DeviceErrors;

use crate::error::AdminError;
use crate::routes::query;
use crate::state::ApiState;
use phoneprov_types::http_error::{ApiError, ErrorBody};

/// At most this many distinct parameter changes are listed in a report
/// (the most frequent first); `params_truncated` says when more exist.
pub const MAX_LISTED_PARAMS: usize = 200;

/// What a template change (or a device change, `PATCH
/// /devices/{mac}?dry_run=true`) does to the fleet.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ChangeReport {
    /// The template changed (`group/sales.xml.j2`), or the device change
    /// (`device 000e08abcdef: group, port`).
    pub template: String,
    /// `true` when the template is removed.
    pub removed: bool,
    /// Devices rendered.
    pub devices_checked: u64,
    /// Devices in the inventory (`devices_checked` unless `incomplete`).
    #[serde(default)]
    pub devices_total: u64,
    /// The preview stopped before rendering every device: through the
    /// API and the console it may take half the request deadline
    /// (`limits.request_timeout_secs`). Its counts and lint errors are
    /// those of the first `devices_checked` devices in MAC order; a save
    /// on an incomplete preview is refused unless `force=true` (`phoneprov
    /// template diff` on the server checks every device, without a limit).
    #[serde(default)]
    pub incomplete: bool,
    /// Devices whose profile changes.
    pub devices_changed: u64,
    /// Parameter changes, the most frequent first: one entry per
    /// (name, old, new), with the number of devices.
    pub params: Vec<ParamChange>,
    /// More distinct changes exist than are listed.
    pub params_truncated: bool,
    /// Devices whose new profile has lint errors the current one has not
    /// (or that no longer renders), in MAC order.
    pub lint_errors: Vec<DeviceErrors>,
    /// Whether the change was saved.
    pub saved: bool,
}

/// One parameter change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ParamChange {
    /// Parameter name (`Display_Name_1_`).
    pub name: String,
    /// Value before (`None`: not set); secrets read `(secret)`.
    pub old: Option<String>,
    /// Value after (`None`: no longer set); secrets read `(secret)`.
    pub new: Option<String>,
    /// Devices with this change.
    pub count: u64,
}

/// Why a template change cannot be previewed or saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A name outside the template layout.
    #[error("{0}")]
    BadName(String),
    /// The new source does not compile (or breaks another template).
    #[error("{0}")]
    Compile(String),
    /// No such template (GET or DELETE).
    #[error("no template {0}")]
    NotFound(String),
    /// The server is not ready, or the files cannot be written.
    #[error("{0}")]
    Unavailable(String),
}

/// The server's side of template changes: read, preview, save.
pub trait TemplateEditor: Send + Sync {
    /// Names of the template files, sorted.
    fn names(&self) -> Result<Vec<String>, TemplateError>;
    /// One template's source.
    fn source(&self, name: &str) -> Result<String, TemplateError>;
    /// What replacing `name` with `source` (`None`: removing it) would do.
    /// Blocking (it reads every device): call from a blocking thread.
    fn preview(&self, name: &str, source: Option<&str>) -> Result<ChangeReport, TemplateError>;
    /// What changing devices would do to their profiles: each `(current,
    /// changed)` pair rendered with the live templates, in the same report
    /// (`PATCH /devices/{mac}?dry_run=true`). Blocking.
    fn preview_devices(
        &self,
        label: &str,
        pairs: &[(phoneprov_store::Device, phoneprov_store::Device)],
    ) -> Result<ChangeReport, TemplateError>;
    /// Saves the change and reloads the templates. Blocking.
    fn save(&self, name: &str, source: Option<&str>) -> Result<(), TemplateError>;
}

/// Checks a template name: `default.xml.j2`, `bootstrap.xml.j2`,
/// `model/PN.xml.j2`, `group/G.xml.j2`, `device/MAC.xml.j2` or another
/// relative `*.j2` path (for `include`), segments of letters, digits, `.`,
/// `_` and `-` that do not start with a dot.
pub fn check_template_name(name: &str) -> Result<(), TemplateError> {
    let bad = |why: &str| {
        TemplateError::BadName(format!(
            "template name {name:?} {why}: use default.xml.j2, model/PN.xml.j2, group/NAME.xml.j2 or device/MAC.xml.j2"
        ))
    };
    if !name.ends_with(".j2") {
        return Err(bad("does not end in .j2"));
    }
    let segments: Vec<&str> = name.split('/').collect();
    if segments.len() > 3 {
        return Err(bad("is nested too deep"));
    }
    for s in &segments {
        if s.is_empty()
            || s.starts_with('.')
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(bad("has an empty or unsafe path segment"));
        }
    }
    if let ["device", file] = segments.as_slice() {
        let mac = file.trim_end_matches(".xml.j2");
        if mac.len() != 12
            || !mac
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("names no MAC as 12 lowercase hex digits"));
        }
    }
    Ok(())
}

/// `?dry_run=true&force=true`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangeQuery {
    /// Only report; save nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Save even when the change adds lint errors.
    #[serde(default)]
    pub force: bool,
}

impl From<TemplateError> for AdminError {
    fn from(e: TemplateError) -> Self {
        match e {
            TemplateError::BadName(m) => AdminError::bad_request(m, "see GET /api/v1/templates"),
            TemplateError::Compile(m) => AdminError::bad_request(
                format!("the template does not compile: {m}"),
                "fix the template; nothing was saved",
            ),
            TemplateError::NotFound(n) => AdminError::bad_request(
                format!("no template {n}"),
                "list them with GET /api/v1/templates",
            ),
            TemplateError::Unavailable(m) => AdminError::Internal(m),
        }
    }
}

/// The refusal of a change that would add lint errors: 422, the devices
/// listed (the error line names up to five). `fix` opens the hint: what
/// to mend (`"fix the template"` for a template change; for a change to a
/// device, the change itself or the template it renders with).
pub fn refusal(report: &ChangeReport, fix: &str) -> ApiError {
    if report.lint_errors.is_empty() && report.incomplete {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the preview of {} checked {} of {} devices in the time a request may take, with no new lint errors; nothing was saved",
                report.template, report.devices_checked, report.devices_total
            ),
            "check every device with `phoneprov template diff NAME FILE` on the server (no time limit), then save with ?force=true",
        );
    }
    let n = report.lint_errors.len();
    let named: Vec<&str> = report
        .lint_errors
        .iter()
        .take(5)
        .map(|d| d.mac.as_str())
        .collect();
    let more = if n > 5 { ", …" } else { "" };
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!(
            "the change to {} would make lint errors on {n} of {} devices: {}{more}; nothing was saved",
            report.template,
            report.devices_checked,
            named.join(", ")
        ),
        format!("{fix} (see each device's errors), preview with ?dry_run=true, or save anyway with ?force=true"),
    )
    .with_devices(report.lint_errors.clone())
}

/// Previews, then saves unless `dry_run` or refused: the one decision the
/// API, the console and the CLI share. `Err(Ok(report))` is a refusal.
pub fn preview_then_save(
    editor: &dyn TemplateEditor,
    name: &str,
    source: Option<&str>,
    dry_run: bool,
    force: bool,
) -> Result<Result<ChangeReport, ChangeReport>, TemplateError> {
    check_template_name(name)?;
    let mut report = editor.preview(name, source)?;
    if dry_run {
        return Ok(Ok(report));
    }
    // A change is saved unchecked only when asked: lint errors on a
    // device, or devices the preview had no time to render.
    if (!report.lint_errors.is_empty() || report.incomplete) && !force {
        return Ok(Err(report));
    }
    editor.save(name, source)?;
    report.saved = true;
    Ok(Ok(report))
}

pub(crate) fn editor(state: &ApiState) -> Result<Arc<dyn TemplateEditor>, AdminError> {
    state.templates().ok_or_else(|| {
        AdminError::Internal(
            "templates are edited through phoneprov serve (this API was mounted without them)"
                .into(),
        )
    })
}

/// Lists the template files.
#[utoipa::path(get, path = "/api/v1/templates", tag = "templates",
    responses(
        (status = 200, description = "Template names, sorted", body = [String]),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_templates(
    State(state): State<ApiState>,
) -> Result<Json<Vec<String>>, AdminError> {
    let ed = editor(&state)?;
    let names = tokio::task::spawn_blocking(move || ed.names())
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))??;
    Ok(Json(names))
}

/// One template's source.
#[utoipa::path(get, path = "/api/v1/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "Template path, e.g. group/sales.xml.j2")),
    responses(
        (status = 200, description = "The source", content_type = "text/plain", body = String),
        (status = 400, description = "Bad or unknown name", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_template(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    check_template_name(&name)?;
    let ed = editor(&state)?;
    let src = tokio::task::spawn_blocking(move || ed.source(&name))
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))??;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], src).into_response())
}

async fn change(
    state: ApiState,
    name: String,
    source: Option<String>,
    q: Result<Query<ChangeQuery>, QueryRejection>,
) -> Result<Response, AdminError> {
    let q = query(q, "?dry_run=true")?;
    let ed = editor(&state)?;
    let user = name.clone();
    let out = tokio::task::spawn_blocking(move || {
        preview_then_save(&*ed, &name, source.as_deref(), q.dry_run, q.force)
    })
    .await
    .map_err(|e| AdminError::Internal(e.to_string()))??;
    match out {
        Ok(report) => {
            if report.saved {
                tracing::info!(template = %user, devices_changed = report.devices_changed, lint_errors = report.lint_errors.len(), "admin API: template changed");
            }
            Ok(Json(report).into_response())
        }
        Err(report) => Ok(refusal(&report, "fix the template").into_response()),
    }
}

/// Replaces or adds a template, after rendering and linting every
/// device's profile with it.
#[utoipa::path(put, path = "/api/v1/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "Template path, e.g. group/sales.xml.j2"), ChangeQuery),
    request_body(content = String, content_type = "text/plain", description = "The new source"),
    responses(
        (status = 200, description = "The report (`saved` says whether it was saved)", body = ChangeReport),
        (status = 400, description = "Bad name, not UTF-8, or the template does not compile", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
        (status = 422, description = "Refused: lint errors on the devices listed in `devices`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn put_template(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    q: Result<Query<ChangeQuery>, QueryRejection>,
    body: Bytes,
) -> Result<Response, AdminError> {
    let source = String::from_utf8(body.to_vec()).map_err(|_| {
        AdminError::bad_request("the template is not UTF-8", "send the source as UTF-8 text")
    })?;
    change(state, name, Some(source), q).await
}

/// Removes a template, after rendering and linting every device's
/// profile without it.
#[utoipa::path(delete, path = "/api/v1/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "Template path"), ChangeQuery),
    responses(
        (status = 200, description = "The report", body = ChangeReport),
        (status = 400, description = "Bad or unknown name", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
        (status = 422, description = "Refused: lint errors on the devices listed in `devices`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn delete_template(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    q: Result<Query<ChangeQuery>, QueryRejection>,
) -> Result<Response, AdminError> {
    change(state, name, None, q).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// An editor whose preview answers `report` and records saves.
    struct Fixed {
        report: ChangeReport,
        saved: Mutex<u32>,
    }

    impl TemplateEditor for Fixed {
        fn names(&self) -> Result<Vec<String>, TemplateError> {
            Ok(vec![])
        }
        fn source(&self, name: &str) -> Result<String, TemplateError> {
            Err(TemplateError::NotFound(name.into()))
        }
        fn preview(&self, _: &str, _: Option<&str>) -> Result<ChangeReport, TemplateError> {
            Ok(self.report.clone())
        }
        fn preview_devices(
            &self,
            _: &str,
            _: &[(phoneprov_store::Device, phoneprov_store::Device)],
        ) -> Result<ChangeReport, TemplateError> {
            Ok(self.report.clone())
        }
        fn save(&self, _: &str, _: Option<&str>) -> Result<(), TemplateError> {
            *self.saved.lock().unwrap() += 1;
            Ok(())
        }
    }

    /// A preview that ran out of time (1 000 000 devices through the API)
    /// saves nothing unless forced, and its refusal says how many devices
    /// were checked and what to run for the rest.
    #[test]
    fn an_incomplete_preview_is_not_saved_unless_forced() {
        let ed = Fixed {
            report: ChangeReport {
                template: "default.xml.j2".into(),
                devices_checked: 120_000,
                devices_total: 1_000_000,
                incomplete: true,
                ..ChangeReport::default()
            },
            saved: Mutex::new(0),
        };
        let src = Some("<flat-profile/>");
        let refused = preview_then_save(&ed, "default.xml.j2", src, false, false)
            .unwrap()
            .unwrap_err();
        assert_eq!(*ed.saved.lock().unwrap(), 0);
        let e = refusal(&refused, "fix the template");
        let body = serde_json::to_value(&e.body).unwrap();
        let text = body.to_string();
        assert!(text.contains("checked 120000 of 1000000 devices"), "{text}");
        assert!(text.contains("phoneprov template diff"), "{text}");
        // A dry run answers the incomplete report; force saves.
        let dry = preview_then_save(&ed, "default.xml.j2", src, true, false)
            .unwrap()
            .unwrap();
        assert!(dry.incomplete && !dry.saved);
        let forced = preview_then_save(&ed, "default.xml.j2", src, false, true)
            .unwrap()
            .unwrap();
        assert!(forced.saved);
        assert_eq!(*ed.saved.lock().unwrap(), 1);
        // A complete preview without lint errors saves.
        let ed = Fixed {
            report: ChangeReport {
                devices_checked: 3,
                devices_total: 3,
                ..ChangeReport::default()
            },
            saved: Mutex::new(0),
        };
        assert!(
            preview_then_save(&ed, "default.xml.j2", src, false, false)
                .unwrap()
                .unwrap()
                .saved
        );
    }

    #[test]
    fn names_follow_the_layout() {
        for ok in [
            "default.xml.j2",
            "group/sales.xml.j2",
            "model/CP-8841-3PCC.xml.j2",
            "device/000e08abcdef.xml.j2",
            "common/lines.j2",
        ] {
            assert_eq!(check_template_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "default.xml",
            "../etc/passwd.j2",
            "group/.hidden.j2",
            "group//x.j2",
            "device/00:0e:08:ab:cd:ef.xml.j2",
            "device/000E08ABCDEF.xml.j2",
            "a/b/c/d.j2",
            "group/sa les.xml.j2",
        ] {
            assert!(check_template_name(bad).is_err(), "{bad}");
        }
    }
}
