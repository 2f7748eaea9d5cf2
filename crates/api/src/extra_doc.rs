//! OpenAPI paths of the routes `phoneprov serve` merges into the admin API
//! ([`crate::router_with`]): the ACS task API (`phoneprov-acs`, SPEC
//! R-TR69-2) and the activation service (`phoneprov-activation`, R-ACT).
//!
//! Those crates do not depend on `utoipa`, so their paths are described
//! here with `#[utoipa::path]` on documentation-only functions; request and
//! answer bodies are free-form JSON objects with an example, not derived
//! schemas, except errors: all three answer with the one [`ErrorBody`]. The routes themselves live in their crates, so this list can
//! drift: the server's end-to-end test (`crates/cli/tests/
//! serve_acs_activation.rs`) checks that every path listed here is served
//! by a running `phoneprov serve`.

#![allow(dead_code)] // the functions exist only to carry their attributes

use utoipa::OpenApi;

use crate::ErrorBody;

/// The ACS task, data-model and connection-request API.
#[derive(OpenApi)]
#[openapi(
    paths(create_task, list_tasks, get_task, cancel_task, data_model, connection_request),
    tags((name = "acs", description = "TR-069 tasks for a device's next CWMP session (R-TR69-2)"))
)]
struct AcsDoc;

/// The activation service: admin endpoints and the phones' endpoints.
#[derive(OpenApi)]
#[openapi(
    paths(list_activation, bind, unbind, issue_codes, phone_query, phone_code),
    tags(
        (name = "activation", description = "Bind phones to providers, issue activation codes (R-ACT)"),
        (name = "phones", description = "What phones call: no token")
    )
)]
struct ActivationDoc;

/// The OpenAPI paths of `phoneprov_acs::Acs::api_router`.
pub fn acs_doc() -> utoipa::openapi::OpenApi {
    AcsDoc::openapi()
}

/// The OpenAPI paths of `phoneprov_activation::router`.
pub fn activation_doc() -> utoipa::openapi::OpenApi {
    ActivationDoc::openapi()
}

/// Queues a TR-069 request for the device's next CWMP session.
///
/// The body is one task: `{"rpc": "GetParameterValues", "names": [...]}`,
/// `SetParameterValues` (`values`), `GetParameterNames`, `AddObject`,
/// `DeleteObject`, `Reboot`, `FactoryReset`, `Download` (firmware,
/// vendor configuration file, custom CA), `GetParameterAttributes`,
/// `SetParameterAttributes`, `GetRPCMethods`. Parameter names may be TR-069
/// paths or XML names (R-TR69-4).
///
/// Beside `rpc`, optional limits (issue 14): `expires_after` (a duration,
/// `"90s"`, `"30m"`, `"1h"`, `"2days"`): a task still queued then becomes
/// `expired` and is never sent; `max_attempts` (1 to 100, default 5): a
/// task sent that often without an answer becomes `fault`. Either way its
/// `result` says why.
#[utoipa::path(post, path = "/api/v1/devices/{mac}/tasks", tag = "acs",
    params(("mac" = String, Path, description = "The device's MAC, any spelling")),
    request_body(content = Object, content_type = "application/json",
        example = json!({"rpc": "GetParameterValues", "names": ["Device.DeviceInfo.SoftwareVersion"], "expires_after": "1h", "max_attempts": 3})),
    responses(
        (status = 201, description = "The queued task (`state` = `queued`)", body = Object,
            example = json!({"id": 1, "mac": "000e08abcdef", "state": "queued", "source": "api", "attempts": 0, "max_attempts": 3, "expires_ms": 1767225600000_i64, "result": null})),
        (status = 400, description = "Bad MAC or task JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token and a task that is not read-only (GetParameterValues, GetParameterNames, GetParameterAttributes, GetRPCMethods)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
fn create_task() {}

/// The device's tasks, newest first.
#[utoipa::path(get, path = "/api/v1/devices/{mac}/tasks", tag = "acs",
    params(("mac" = String, Path, description = "The device's MAC"),
        ("limit" = Option<usize>, Query, description = "At most this many (default 100)")),
    responses(
        (status = 200, description = "Tasks: `state` is queued, sent, transferring, done or fault; `result` holds the answer or fault", body = [Object]),
        (status = 400, description = "Bad MAC", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
fn list_tasks() {}

/// One task with its result.
#[utoipa::path(get, path = "/api/v1/devices/{mac}/tasks/{id}", tag = "acs",
    params(("mac" = String, Path, description = "The device's MAC"),
        ("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = Object,
            example = json!({"id": 1, "state": "done", "result": {"values": [{"name": "Device.DeviceInfo.SoftwareVersion", "value": "sip88xx.12-0-1MPP-407"}]}})),
        (status = 404, description = "No such task for this device", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
fn get_task() {}

/// Cancels a queued task: it is never sent (state `cancelled`). A task
/// already sent or finished is not changed (409, its state named).
#[utoipa::path(delete, path = "/api/v1/devices/{mac}/tasks/{id}", tag = "acs",
    params(("mac" = String, Path, description = "The device's MAC"),
        ("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "Cancelled; the task", body = Object,
            example = json!({"id": 2, "state": "cancelled", "result": {"cancelled": "by an operator"}})),
        (status = 404, description = "No such task for this device", body = ErrorBody),
        (status = 409, description = "Already sent or finished", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
fn cancel_task() {}

/// The cached data model of the device (from Informs and answers).
#[utoipa::path(get, path = "/api/v1/devices/{mac}/datamodel", tag = "acs",
    params(("mac" = String, Path, description = "The device's MAC")),
    responses(
        (status = 200, description = "Entries: TR-069 path, XML name, value, type, writable", body = [Object]),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
fn data_model() {}

/// Asks the CPE to open a session now (HTTP GET to its cached
/// ConnectionRequestURL, with Digest credentials).
#[utoipa::path(post, path = "/api/v1/devices/{mac}/connection-request", tag = "acs",
    params(("mac" = String, Path, description = "The device's MAC")),
    responses(
        (status = 200, description = "The CPE accepted", body = Object),
        (status = 404, description = "No ConnectionRequestURL known for the device", body = ErrorBody),
        (status = 502, description = "The CPE did not accept", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
fn connection_request() {}

/// Bindings, activation codes and short codes.
#[utoipa::path(get, path = "/api/v1/activation", tag = "activation",
    responses(
        (status = 200, description = "`{bindings, codes, short_codes}` (codes masked)", body = Object),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
    ),
    security(("bearer" = [])))]
fn list_activation() {}

/// Binds a phone (MAC) or a serial range to a provider's profile rule.
#[utoipa::path(post, path = "/api/v1/activation/bindings", tag = "activation",
    request_body(content = Object, content_type = "application/json",
        example = json!({"mac": "000e08abcdef", "url": "https://prov.example.com/$MA.xml", "model": null})),
    responses(
        (status = 201, description = "The binding", body = Object),
        (status = 400, description = "Bad MAC, range or rule URL", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
    ),
    security(("bearer" = [])))]
fn bind() {}

/// Removes a binding (MAC or exact range) or a short code (`short`).
#[utoipa::path(post, path = "/api/v1/activation/unbind", tag = "activation",
    request_body(content = Object, content_type = "application/json",
        example = json!({"mac": "000e08abcdef"})),
    responses(
        (status = 200, description = "`{\"removed\": true}`", body = Object),
        (status = 404, description = "Nothing matched", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
    ),
    security(("bearer" = [])))]
fn unbind() {}

/// Issues single-use 16-digit activation codes, or makes a short code.
#[utoipa::path(post, path = "/api/v1/activation/codes", tag = "activation",
    request_body(content = Object, content_type = "application/json",
        example = json!({"url": "https://prov.example.com/$MA.xml", "count": 1, "ttl_secs": 604800})),
    responses(
        (status = 201, description = "`{\"codes\": [...]}`, or `{\"short_code\": ...}` when `short` was given", body = Object),
        (status = 400, description = "Bad URL, count or short code", body = ErrorBody),
        (status = 409, description = "The short code exists", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "A help desk token may not do this", body = ErrorBody),
    ),
    security(("bearer" = [])))]
fn issue_codes() {}

/// A phone's activation query: who provisions it?
#[utoipa::path(get, path = "/activation/v1/query", tag = "phones",
    params(("mac" = String, Query, description = "`$MA`"),
        ("model" = Option<String>, Query, description = "`$PN`"),
        ("serial" = Option<String>, Query, description = "`$SN`")),
    responses(
        (status = 200, description = "Redirect profile setting Profile_Rule", content_type = "text/xml"),
        (status = 404, description = "No provider bound to this phone", body = ErrorBody),
        (status = 400, description = "Bad MAC", body = ErrorBody),
    ))]
fn phone_query() {}

/// A phone redeems the code its user typed (16 digits, or `#` and a
/// 3–16 digit short code).
#[utoipa::path(post, path = "/activation/v1/code", tag = "phones",
    request_body(content = Object, content_type = "application/json",
        example = json!({"mac": "000e08abcdef", "code": "1234567890123456"})),
    responses(
        (status = 200, description = "Redirect profile setting Profile_Rule", content_type = "text/xml"),
        (status = 404, description = "Unknown code", body = ErrorBody),
        (status = 410, description = "Code already used or expired", body = ErrorBody),
        (status = 400, description = "Malformed code or MAC", body = ErrorBody),
    ))]
fn phone_code() {}
