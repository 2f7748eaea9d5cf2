//! API errors and their JSON form `{ "error": "...", "hint": "..." }`.
//!
//! Every error says what was wrong (`error`) and what to do (`hint`), with
//! the HTTP status a client can branch on. CSV import failures add `rows`
//! (one entry per bad line) so a client can show them all at once.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use phoneprov_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::push::PushError;

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ErrorBody {
    /// What was wrong.
    pub error: String,
    /// What to do about it.
    pub hint: String,
    /// For a rejected CSV import: every bad row, in file order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<RowError>,
}

/// One rejected CSV row.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// What is wrong with the row.
    pub error: String,
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or wrong `Authorization: Bearer` token.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The request is malformed (bad MAC, bad JSON, bad query).
    #[error("{error}")]
    BadRequest {
        /// What was wrong.
        error: String,
        /// What to do.
        hint: String,
    },
    /// A CSV import was rejected; nothing was imported.
    #[error("{error}")]
    Import {
        /// Summary.
        error: String,
        /// The bad rows.
        rows: Vec<RowError>,
    },
    /// No such device.
    #[error("no device {0} in the inventory")]
    NotFound(String),
    /// No such API route.
    #[error("no API route {0}")]
    NoRoute(String),
    /// POST of a device that exists.
    #[error("device {0} already exists")]
    Exists(String),
    /// A push resync failed.
    #[error(transparent)]
    Push(#[from] PushError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(mac) => ApiError::NotFound(mac.to_string()),
            StoreError::Exists(mac) => ApiError::Exists(mac.to_string()),
            other => ApiError::Store(other),
        }
    }
}

impl ApiError {
    /// A 400 with its hint.
    pub fn bad_request(error: impl Into<String>, hint: impl Into<String>) -> Self {
        ApiError::BadRequest {
            error: error.into(),
            hint: hint.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest { .. } | ApiError::Import { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::Exists(_) => StatusCode::CONFLICT,
            ApiError::Push(PushError::NoAddress { .. }) => StatusCode::CONFLICT,
            ApiError::Push(PushError::BadPhone { .. }) => StatusCode::BAD_REQUEST,
            ApiError::Push(_) => StatusCode::BAD_GATEWAY,
            ApiError::Store(StoreError::Busy(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        let hint = match self {
            ApiError::Unauthorized(_) => {
                "send `Authorization: Bearer TOKEN` with the token from admin.token in the server's data directory".to_string()
            }
            ApiError::BadRequest { hint, .. } => hint.clone(),
            ApiError::Import { .. } => {
                "fix the listed lines and send the whole file again; nothing was imported".to_string()
            }
            ApiError::NotFound(_) => "list devices with GET /api/v1/devices, or add it with POST /api/v1/devices".to_string(),
            ApiError::NoRoute(_) => "see GET /api/v1/openapi.json for the routes".to_string(),
            ApiError::Exists(mac) => format!("update it with PUT /api/v1/devices/{mac}, or DELETE it first"),
            ApiError::Push(e) => e.hint(),
            ApiError::Store(StoreError::Busy(_)) => "retry in a moment".to_string(),
            ApiError::Store(_) => "see the server log; check the data directory's disk and permissions".to_string(),
            ApiError::Internal(_) => "retry; if it persists, report it with the server log".to_string(),
        };
        let rows = match self {
            ApiError::Import { rows, .. } => rows.clone(),
            _ => Vec::new(),
        };
        let error = match self {
            ApiError::Push(e) => e.what(),
            other => other.to_string(),
        };
        ErrorBody { error, hint, rows }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "api: request failed");
        }
        let mut resp = (status, Json(self.body())).into_response();
        if let ApiError::Unauthorized(why) = self {
            // RFC 6750 §3: a missing token gets a bare challenge, a wrong
            // one `error="invalid_token"`.
            let challenge = if why.starts_with("missing") {
                "Bearer realm=\"phoneprov\""
            } else {
                "Bearer realm=\"phoneprov\", error=\"invalid_token\""
            };
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        resp
    }
}
