//! The one error answer of every admin route (the REST API, the ACS task
//! API, the activation service's admin and phone endpoints):
//!
//! ```json
//! {"error": "what was wrong", "hint": "what to do about it"}
//! ```
//!
//! with the HTTP status a client can branch on, plus `rows` (one entry per
//! bad line) for a rejected CSV import, and `devices` (each with its lint
//! errors) for a template change refused because it would break them. Each crate keeps its own error enum
//! (what can fail there) and converts it into [`ApiError`], which is the
//! only thing that writes the JSON.

use std::fmt;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The hint of every refused admin token.
pub const ADMIN_TOKEN_HINT: &str =
    "send `Authorization: Bearer TOKEN` with the token from admin.token in the server's data directory";

/// The hint of an internal failure.
pub const INTERNAL_HINT: &str = "retry; if it persists, report it with the server log";

/// The body of every error response. Reading one refuses unknown fields,
/// so a test that parses an answer into it checks the whole shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What was wrong.
    pub error: String,
    /// What to do about it.
    pub hint: String,
    /// For a rejected CSV import: every bad row, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<RowError>,
    /// For a refused template change (422): every device whose profile the
    /// change would break, with its lint errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceErrors>,
}

/// A device and the lint errors its profile would have.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceErrors {
    /// The device's MAC (12 lowercase hex digits).
    pub mac: String,
    /// One line per error (`template:line:col: error[code]: message`).
    pub errors: Vec<String>,
}

/// One rejected CSV row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowError {
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// What is wrong with the row.
    pub error: String,
}

/// An error answer: status, body and, for a refused token, the
/// `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: ErrorBody,
    challenge: Option<&'static str>,
}

impl ApiError {
    /// An error with its status and hint.
    pub fn new(status: StatusCode, error: impl Into<String>, hint: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                hint: hint.into(),
                rows: Vec::new(),
                devices: Vec::new(),
            },
            challenge: None,
        }
    }

    /// A 400.
    pub fn bad_request(error: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, hint)
    }

    /// A 404.
    pub fn not_found(error: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error, hint)
    }

    /// A 500 for a failure the client cannot fix (a panicked task, a
    /// database error); `what` is logged and shown.
    pub fn internal(what: impl fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {what}"),
            INTERNAL_HINT,
        )
    }

    /// A 401 for a missing (`missing == true`) or wrong admin token, with
    /// the RFC 6750 §3 challenge: bare for a missing token,
    /// `error="invalid_token"` for a wrong one.
    pub fn unauthorized(error: impl Into<String>, missing: bool) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, error, ADMIN_TOKEN_HINT);
        e.challenge = Some(if missing {
            "Bearer realm=\"phoneprov\""
        } else {
            "Bearer realm=\"phoneprov\", error=\"invalid_token\""
        });
        e
    }

    /// [`ApiError::unauthorized`] with the standard text: `missing admin
    /// token` or `wrong admin token`.
    pub fn unauthorized_token(missing: bool) -> Self {
        let what = if missing {
            "missing admin token"
        } else {
            "wrong admin token"
        };
        Self::unauthorized(what, missing)
    }

    /// Adds the devices a refused template change would break.
    pub fn with_devices(mut self, devices: Vec<DeviceErrors>) -> Self {
        self.body.devices = devices;
        self
    }

    /// Adds the bad rows of a rejected import.
    pub fn with_rows(mut self, rows: Vec<RowError>) -> Self {
        self.body.rows = rows;
        self
    }
}

impl From<crate::MacError> for ApiError {
    fn from(e: crate::MacError) -> ApiError {
        ApiError::bad_request(e.what(), e.hint())
    }
}

/// A body that is not the JSON the route takes: 400.
impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> ApiError {
        ApiError::bad_request(
            e.body_text(),
            "send Content-Type: application/json and a body as GET /api/v1/openapi.json describes",
        )
    }
}

/// A query string the route cannot read: 400.
impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> ApiError {
        ApiError::bad_request(
            e.body_text(),
            "see GET /api/v1/openapi.json for the route's query parameters",
        )
    }
}

/// A path segment of the wrong type (a task id that is not a number): 400.
impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> ApiError {
        ApiError::bad_request(
            e.body_text(),
            "see GET /api/v1/openapi.json for the route's path",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.body.error)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, error = %self.body.error, "admin request failed");
        }
        let json = serde_json::to_vec(&self.body).expect("an ErrorBody always serializes");
        let mut resp = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response();
        if let Some(c) = self.challenge {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_error_and_hint_and_rows_only_when_given() {
        let e = ApiError::bad_request("bad MAC \"zz\"", "write it as 000e08abcdef");
        let v = serde_json::to_value(&e.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": "bad MAC \"zz\"", "hint": "write it as 000e08abcdef"})
        );
        let e = e.with_rows(vec![RowError {
            line: 3,
            error: "bad MAC".into(),
        }]);
        let v = serde_json::to_value(&e.body).unwrap();
        assert_eq!(v["rows"][0]["line"], 3);
        assert_eq!(serde_json::from_value::<ErrorBody>(v).unwrap(), e.body);
        let extra = serde_json::json!({"error": "x", "hint": "y", "code": 3});
        assert!(serde_json::from_value::<ErrorBody>(extra).is_err());
    }

    #[test]
    fn response_carries_status_json_and_challenge() {
        let r = ApiError::unauthorized("missing admin token", true).into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"phoneprov\""
        );
        let r = ApiError::unauthorized("wrong admin token", false).into_response();
        assert!(r.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
        let r = ApiError::internal("boom").into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!r.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
