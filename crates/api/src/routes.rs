//! The `/api/v1` handlers and their JSON shapes.
//!
//! Each handler parses and checks its input itself (MACs through
//! `Mac::parse`, bodies as `Result<Json<_>, _>`), so every bad request gets
//! the same `{error, hint}` body instead of axum's plain-text rejections.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use phoneprov_store::{
    BadRow, ConsoleRepo as _, Device, DeviceQuery, Event, ImportObserver, ImportOptions, Mac,
    NewDevice, StoreError,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::Caller;
use crate::error::{AdminError, ErrorBody, RowError};
use crate::push::{
    push, push_target, record_push, record_push_pending, PushError, PushMethod, PushOutcome,
    PushPending, PushTarget, SIP_PUSH_WAIT,
};
use crate::state::ApiState;

/// What a device looks like in the API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct DeviceView {
    /// 12 lowercase hex digits (`$MA`).
    pub mac: String,
    /// `$SN`.
    pub serial: Option<String>,
    /// `$PN`, e.g. `CP-8841-3PCC`.
    pub model: Option<String>,
    /// Template group.
    pub group: Option<String>,
    /// Free template variables; for a help desk caller a secret one
    /// (`sip_password`: a name with `pass`, `secret` or `key`) reads
    /// `(secret)`.
    pub vars: BTreeMap<String, String>,
    /// When added, Unix ms.
    pub created_ms: i64,
    /// When last changed by an operator, Unix ms.
    pub updated_ms: i64,
    /// What the server last saw of it.
    pub status: StatusView,
    /// The device's secret profile key; only in `GET /devices/{mac}`, and
    /// never for a help desk caller.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<String>,
}

/// Last seen status of a device.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct StatusView {
    /// Unix ms.
    pub last_seen_ms: Option<i64>,
    /// Source IP of its last request.
    pub ip: Option<String>,
    /// Firmware from its User-Agent.
    pub firmware: Option<String>,
    /// `success`, `not-found`, `corrupt` or `failed` (R-RESULT).
    pub last_outcome: Option<String>,
}

impl DeviceView {
    pub(crate) fn from_device(d: Device, with_key: bool) -> Self {
        DeviceView {
            mac: d.mac.to_string(),
            key: with_key.then(|| d.key.expose_secret().to_string()),
            serial: d.serial,
            model: d.model,
            group: d.group,
            vars: d.vars,
            created_ms: d.created_ms,
            updated_ms: d.updated_ms,
            status: StatusView {
                last_seen_ms: d.status.last_seen_ms,
                ip: d.status.ip,
                firmware: d.status.firmware,
                last_outcome: d.status.last_outcome.map(|o| o.to_string()),
            },
        }
    }
}

impl DeviceView {
    /// The view as `caller` may see it: without the key and with secret
    /// variables masked unless the role sees keys (issue 14 item 2).
    pub fn for_caller(mut self, caller: &Caller) -> Self {
        if !caller.sees_secrets() {
            self.key = None;
            for (name, value) in self.vars.iter_mut() {
                if phoneprov_store::is_secret_var(name) {
                    *value = phoneprov_store::SECRET_MASK.to_string();
                }
            }
        }
        self
    }
}

/// Body of `POST /devices`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeviceBody {
    /// `000e08abcdef`, `00:0E:08:AB:CD:EF` or `00-0e-08-ab-cd-ef`.
    pub mac: String,
    /// `$SN`.
    #[serde(default)]
    pub serial: Option<String>,
    /// `$PN`.
    #[serde(default)]
    pub model: Option<String>,
    /// Template group.
    #[serde(default)]
    pub group: Option<String>,
    /// Template variables.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

/// Body of `PUT /devices/{mac}`: replaces the operator's fields (left-out
/// fields become empty); key, creation time and status are kept.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDeviceBody {
    /// `$SN`.
    #[serde(default)]
    pub serial: Option<String>,
    /// `$PN`.
    #[serde(default)]
    pub model: Option<String>,
    /// Template group.
    #[serde(default)]
    pub group: Option<String>,
    /// Template variables (the whole map).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

/// A timeline event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct EventView {
    /// Increasing id.
    pub id: i64,
    /// Unix ms.
    pub at_ms: i64,
    /// `resync`, `upgrade`, `syslog`, `report`, `inform` or `activation`.
    pub kind: String,
    /// R-RESULT outcome, if any.
    pub outcome: Option<String>,
    /// Where it came from.
    pub source_ip: Option<String>,
    /// Free text.
    pub message: String,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        EventView {
            id: e.id,
            at_ms: e.at_ms,
            kind: e.kind.to_string(),
            outcome: e.outcome.map(|o| o.to_string()),
            source_ip: e.source_ip,
            message: e.message,
        }
    }
}

/// Result of a CSV import.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ImportResult {
    /// New devices.
    pub created: u64,
    /// Devices updated (keys kept).
    pub updated: u64,
}

/// Body of `POST /devices/{mac}/resync` (all fields optional).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResyncBody {
    /// `HOST[:PORT]` or `http(s)://HOST[:PORT]`; default: the device's last
    /// seen IP.
    #[serde(default)]
    pub phone: Option<String>,
    /// A one-off profile rule; default: the phone's own rules.
    #[serde(default)]
    pub rule: Option<String>,
    /// `get` (`/admin/resync?RULE`), `execute-xml` (`/CGI/Execute`) or
    /// `sip-notify` (SIP NOTIFY check-sync to the device's `sip_contact`
    /// variable, or to `phone` as a SIP URI). Default: `sip-notify` when
    /// the device has `sip_contact` and no `phone` is given, else `get`.
    #[serde(default)]
    pub method: Option<PushMethod>,
}

/// `?group=` of `GET /devices`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only devices of this group.
    pub group: Option<String>,
    /// At most this many devices (1..=100000). Without it every device is
    /// returned in one answer, which for a large fleet is a big document.
    pub limit: Option<usize>,
    /// Only devices whose MAC sorts after this one: pass the
    /// `x-next-after` header of the previous page to get the next.
    pub after: Option<String>,
}

/// Header naming the last MAC of a full page (`?limit=`): pass it as
/// `?after=` for the next page. Absent on the last page.
pub const NEXT_AFTER_HEADER: &str = "x-next-after";

/// Largest `?limit=` of `GET /devices`.
const MAX_PAGE: usize = 100_000;

/// `?limit=` of `GET /devices/{mac}/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// How many of the latest events (default 50, at most 10000).
    pub limit: Option<usize>,
}

pub(crate) fn parse_mac(s: &str) -> Result<Mac, AdminError> {
    Mac::parse(s).map_err(|e| AdminError::bad_request(e.what(), e.hint()))
}

pub(crate) fn json_body<T>(
    body: Result<Json<T>, JsonRejection>,
    example: &str,
) -> Result<T, AdminError> {
    body.map(|Json(b)| b).map_err(|e| {
        AdminError::bad_request(
            e.body_text(),
            format!("send Content-Type: application/json and a body like {example}"),
        )
    })
}

pub(crate) fn query<T>(
    q: Result<Query<T>, QueryRejection>,
    example: &str,
) -> Result<T, AdminError> {
    q.map(|Query(q)| q)
        .map_err(|e| AdminError::bad_request(e.body_text(), format!("use a query like {example}")))
}

/// The token of an `Authorization: Bearer TOKEN` header (scheme name in
/// any case), if there is one.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
}

/// Counts every API request by method and status.
pub(crate) async fn count_requests(req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let resp = next.run(req).await;
    crate::metrics::record_request(&method, resp.status().as_u16());
    resp
}

/// Unknown route under `/api/v1`.
pub(crate) async fn no_route(req: Request) -> AdminError {
    AdminError::NoRoute(format!("{} {}", req.method(), req.uri().path()))
}

/// Lists devices in MAC order (keys not included).
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    params(ListQuery),
    responses(
        (status = 200, description = "Devices in MAC order; with ?limit=, a full page carries an `x-next-after` header", body = [DeviceView]),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_devices(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, AdminError> {
    let q = query(q, "?group=sales&limit=1000&after=000e08abcdef")?;
    if q.limit.is_some_and(|n| n == 0 || n > MAX_PAGE) {
        return Err(AdminError::bad_request(
            format!("limit {} is out of range", q.limit.unwrap_or(0)),
            format!("use a limit from 1 to {MAX_PAGE}, and ?after= for the next page"),
        ));
    }
    let after = q.after.as_deref().map(parse_mac).transpose()?;
    // One keyset page of the console's device query (issue 14 at scale):
    // `mac > after ORDER BY mac LIMIT n`, so page 10 000 reads what page 1
    // does. No count of the fleet per call: the answer is a bare array
    // (clients page with `x-next-after`, never by a total), and serve's
    // `phoneprov_devices` gauge is read at every scrape.
    let query = DeviceQuery {
        group: q.group,
        after_mac: after.map(|m| m.to_string()),
        limit: q.limit.map_or(u64::MAX, |n| n as u64),
        ..DeviceQuery::default()
    };
    let devices = state
        .with_store(move |s| {
            Ok(s.search_devices(&query)?
                .into_iter()
                .map(|d| DeviceView::from_device(d, false).for_caller(&caller))
                .collect::<Vec<_>>())
        })
        .await?;
    let full = q.limit.is_some_and(|n| devices.len() >= n);
    let next = full
        .then(|| devices.last().map(|d| d.mac.clone()))
        .flatten();
    let mut resp = Json(devices).into_response();
    if let Some(mac) = next {
        if let Ok(v) = header::HeaderValue::from_str(&mac) {
            resp.headers_mut().insert(NEXT_AFTER_HEADER, v);
        }
    }
    Ok(resp)
}

/// Adds a device with a fresh secret key.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices",
    request_body = NewDeviceBody,
    responses(
        (status = 201, description = "Created; includes the new key", body = DeviceView),
        (status = 400, description = "Bad MAC or body", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
        (status = 409, description = "The MAC exists already", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn add_device(
    State(state): State<ApiState>,
    body: Result<Json<NewDeviceBody>, JsonRejection>,
) -> Result<(StatusCode, Json<DeviceView>), AdminError> {
    let b = json_body(body, r#"{"mac":"000e08abcdef","model":"CP-8841-3PCC"}"#)?;
    let dev = NewDevice {
        mac: parse_mac(&b.mac)?,
        serial: b.serial,
        model: b.model,
        group: b.group,
        vars: b.vars,
    };
    let stored = state.with_store(move |s| Ok(s.add_device(&dev)?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceView::from_device(stored, true)),
    ))
}

/// Shows one device, including its secret key.
#[utoipa::path(get, path = "/api/v1/devices/{mac}", tag = "devices",
    params(("mac" = String, Path, description = "The device's MAC")),
    responses(
        (status = 200, description = "The device with its key (a help desk caller gets no key, and secret variables read `(secret)`)", body = DeviceView),
        (status = 400, description = "Bad MAC", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn show_device(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(mac): Path<String>,
) -> Result<Json<DeviceView>, AdminError> {
    let mac = parse_mac(&mac)?;
    let dev = state
        .with_store(move |s| s.device(mac)?.ok_or(AdminError::NotFound(mac.to_string())))
        .await?;
    Ok(Json(DeviceView::from_device(dev, true).for_caller(&caller)))
}

/// Creates or replaces a device's serial, model, group and variables.
#[utoipa::path(put, path = "/api/v1/devices/{mac}", tag = "devices",
    params(("mac" = String, Path, description = "The device's MAC")),
    request_body = UpdateDeviceBody,
    responses(
        (status = 200, description = "Updated (key kept)", body = DeviceView),
        (status = 201, description = "Created", body = DeviceView),
        (status = 400, description = "Bad MAC or body", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn update_device(
    State(state): State<ApiState>,
    Path(mac): Path<String>,
    body: Result<Json<UpdateDeviceBody>, JsonRejection>,
) -> Result<(StatusCode, Json<DeviceView>), AdminError> {
    let mac = parse_mac(&mac)?;
    let b = json_body(body, r#"{"model":"CP-8841-3PCC","vars":{"user":"1001"}}"#)?;
    let dev = NewDevice {
        mac,
        serial: b.serial,
        model: b.model,
        group: b.group,
        vars: b.vars,
    };
    let (stored, created) = state
        .with_store(move |s| Ok(s.upsert_device(&dev)?))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(DeviceView::from_device(stored, false))))
}

/// Removes a device and its timeline.
#[utoipa::path(delete, path = "/api/v1/devices/{mac}", tag = "devices",
    params(("mac" = String, Path, description = "The device's MAC")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Bad MAC", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn remove_device(
    State(state): State<ApiState>,
    Path(mac): Path<String>,
) -> Result<StatusCode, AdminError> {
    let mac = parse_mac(&mac)?;
    let removed = state.with_store(move |s| Ok(s.remove_device(mac)?)).await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminError::NotFound(mac.to_string()))
    }
}

/// Collects bad rows (up to a limit) for the error body.
struct CollectRows(Vec<RowError>, u64);

/// At most this many bad rows are listed in one answer (all are counted).
const MAX_LISTED_ROWS: usize = 1000;

impl ImportObserver for CollectRows {
    fn bad_row(&mut self, row: &BadRow) {
        self.1 += 1;
        if self.0.len() < MAX_LISTED_ROWS {
            self.0.push(RowError {
                line: row.line,
                error: row.why.clone(),
            });
        }
    }
}

/// Imports devices from CSV, all or nothing.
///
/// The header names the columns (`mac`, `serial`, `model`, `group`; any
/// other column is a variable). Any bad row rejects the whole file with
/// every bad line listed (the first 1000).
#[utoipa::path(post, path = "/api/v1/devices/import", tag = "devices",
    request_body(content = String, content_type = "text/csv",
        description = "CSV with a header row, e.g. `mac,model,group,user`"),
    responses(
        (status = 200, description = "Imported", body = ImportResult),
        (status = 400, description = "Bad rows or header; nothing imported", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn import_devices(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<ImportResult>, AdminError> {
    let summary = state
        .with_store(move |s| {
            let mut rows = CollectRows(Vec::new(), 0);
            match s.import_csv(&body[..], ImportOptions { skip_bad: false }, &mut rows) {
                Ok(sum) => {
                    crate::metrics::record_device_count(s.count_devices(None)?);
                    Ok(ImportResult {
                        created: sum.created,
                        updated: sum.updated,
                    })
                }
                Err(StoreError::ImportRejected { bad }) => Err(AdminError::Import {
                    error: format!("{bad} bad row(s), nothing imported"),
                    rows: rows.0,
                }),
                Err(StoreError::ImportHeader(why)) => Err(AdminError::Import {
                    error: format!("bad header line: {why}"),
                    rows: vec![RowError {
                        line: 1,
                        error: why,
                    }],
                }),
                Err(e) => Err(e.into()),
            }
        })
        .await?;
    Ok(Json(summary))
}

/// A device's latest events, oldest first.
#[utoipa::path(get, path = "/api/v1/devices/{mac}/events", tag = "devices",
    params(("mac" = String, Path, description = "The device's MAC"), EventsQuery),
    responses(
        (status = 200, description = "Events, oldest first", body = [EventView]),
        (status = 400, description = "Bad MAC or limit", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn device_events(
    State(state): State<ApiState>,
    Path(mac): Path<String>,
    q: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<Vec<EventView>>, AdminError> {
    let mac = parse_mac(&mac)?;
    let limit = query(q, "?limit=50")?.limit.unwrap_or(50);
    if limit == 0 || limit > 10_000 {
        return Err(AdminError::bad_request(
            format!("limit {limit} is out of range"),
            "use a limit from 1 to 10000",
        ));
    }
    let events = state.with_store(move |s| Ok(s.events(mac, limit)?)).await?;
    Ok(Json(events.into_iter().map(EventView::from).collect()))
}

/// Asks the phone to resync now (R-RULE-6), at its last seen IP unless
/// `phone` is given; the request is recorded in the device's timeline.
#[utoipa::path(post, path = "/api/v1/devices/{mac}/resync", tag = "devices",
    params(("mac" = String, Path, description = "The device's MAC")),
    request_body(content = Option<ResyncBody>, content_type = "application/json",
        description = "Optional; an empty body uses the device's IP, its own rules and GET"),
    responses(
        (status = 200, description = "The phone accepted the request", body = PushOutcome),
        (status = 202, description = "A SIP NOTIFY got no answer within 4 s (a silent phone over UDP is retried for 32 s): recorded on the timeline now, its outcome when it ends", body = PushPending),
        (status = 400, description = "Bad MAC, body or phone address", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
        (status = 409, description = "No known IP for the device and no phone given (or sip-notify without a sip_contact variable)", body = ErrorBody),
        (status = 502, description = "The phone is unreachable or refused", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn resync_device(
    State(state): State<ApiState>,
    Path(mac): Path<String>,
    body: Bytes,
) -> Result<Response, AdminError> {
    let mac = parse_mac(&mac)?;
    let b: ResyncBody = if body.iter().all(u8::is_ascii_whitespace) {
        ResyncBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            AdminError::bad_request(
                format!("bad resync body: {e}"),
                r#"send {"rule":"http://prov/$MA.xml","method":"get"} or no body"#,
            )
        })?
    };
    let (given, method) = (b.phone.clone(), b.method);
    let target = state
        .with_store(move |s| {
            let Some(dev) = s.device(mac)? else {
                return Err(AdminError::NotFound(mac.to_string()));
            };
            Ok(push_target(Some(&dev), mac, given.as_deref(), method)?)
        })
        .await?;
    let sip = matches!(target, PushTarget::Sip { .. });
    let dest = target.destination().to_string();
    let mut pushing = tokio::spawn(async move {
        let result = push(&target, b.rule.as_deref()).await;
        crate::metrics::record_push(target.method(), &result);
        result
    });
    // A NOTIFY to a silent phone retransmits for 32 s: answer 202 after
    // SIP_PUSH_WAIT, and record the outcome when it comes.
    let joined = if sip {
        match tokio::time::timeout(SIP_PUSH_WAIT, &mut pushing).await {
            Ok(j) => j,
            Err(_) => {
                let url = dest.clone();
                state
                    .with_store(move |s| {
                        if s.device(mac)?.is_some() {
                            record_push_pending(s, mac, &url)?;
                        }
                        Ok(())
                    })
                    .await?;
                let later = state.clone();
                tokio::spawn(async move {
                    let result = pushing.await.unwrap_or_else(|e| {
                        Err(PushError::Unreachable {
                            url: String::new(),
                            cause: format!("push task failed: {e}"),
                        })
                    });
                    let _ = later
                        .with_store(move |s| {
                            if s.device(mac)?.is_some() {
                                record_push(s, mac, &result)?;
                            }
                            Ok(())
                        })
                        .await;
                });
                let body = PushPending {
                    url: dest,
                    method: PushMethod::SipNotify,
                    pending: true,
                    message: format!(
                        "no answer from the phone after {} s; the NOTIFY is still retransmitted and its outcome goes to GET /api/v1/devices/{mac}/events",
                        SIP_PUSH_WAIT.as_secs()
                    ),
                };
                return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
            }
        }
    } else {
        (&mut pushing).await
    };
    let result = joined.map_err(|e| AdminError::Internal(format!("push task failed: {e}")))?;
    let result = state
        .with_store(move |s| {
            // The device may have been removed meanwhile: then there is no
            // timeline to write to, which is not the caller's problem.
            if s.device(mac)?.is_some() {
                record_push(s, mac, &result)?;
            }
            Ok(result)
        })
        .await?;
    Ok(Json(result?).into_response())
}
