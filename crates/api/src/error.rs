//! What an admin API request can fail with ([`AdminError`]), and how each
//! failure becomes the workspace's one error answer,
//! [`phoneprov_types::http_error::ApiError`]: `{"error": "...", "hint":
//! "..."}` with the HTTP status a client can branch on. CSV import failures
//! add `rows` (one entry per bad line) so a client can show them all at
//! once. The ACS task API and the activation service answer with the same
//! type.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use phoneprov_store::StoreError;
pub use phoneprov_types::http_error::{ApiError, ErrorBody, RowError};

use crate::push::PushError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
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
    /// No such bulk job, rollout, ... (not a device).
    #[error("no {what}")]
    NoSuch {
        /// What, with its id: `bulk job 5`, `rollout 5`.
        what: String,
        /// Where to list them.
        hint: &'static str,
    },
    /// The caller's role may not do this (issue 14 item 2).
    #[error("{role} users cannot {what}")]
    Forbidden {
        /// The caller's role.
        role: phoneprov_store::Role,
        /// What was refused (`phoneprov_store::Action::describe`).
        what: String,
    },
    /// No such API route.
    #[error("no API route {0}")]
    NoRoute(String),
    /// POST of a device that exists.
    #[error("device {0} already exists")]
    Exists(String),
    /// The device's state does not allow the operation (409).
    #[error("{error}")]
    Conflict {
        /// What is wrong.
        error: String,
        /// What to do.
        hint: String,
    },
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

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(mac) => AdminError::NotFound(mac.to_string()),
            StoreError::Exists(mac) => AdminError::Exists(mac.to_string()),
            StoreError::State { error, hint } => AdminError::Conflict { error, hint },
            other => AdminError::Store(other),
        }
    }
}

impl AdminError {
    /// A 400 with its hint.
    pub fn bad_request(error: impl Into<String>, hint: impl Into<String>) -> Self {
        AdminError::BadRequest {
            error: error.into(),
            hint: hint.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AdminError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AdminError::BadRequest { .. } | AdminError::Import { .. } => StatusCode::BAD_REQUEST,
            AdminError::NotFound(_) | AdminError::NoSuch { .. } | AdminError::NoRoute(_) => {
                StatusCode::NOT_FOUND
            }
            AdminError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AdminError::Exists(_) | AdminError::Conflict { .. } => StatusCode::CONFLICT,
            AdminError::Push(PushError::NoAddress { .. } | PushError::NoSipContact { .. }) => {
                StatusCode::CONFLICT
            }
            AdminError::Push(PushError::BadPhone { .. } | PushError::BadSipContact { .. }) => {
                StatusCode::BAD_REQUEST
            }
            AdminError::Push(_) => StatusCode::BAD_GATEWAY,
            AdminError::Store(StoreError::Busy(_) | StoreError::Unavailable(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AdminError::Store(_) | AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            AdminError::Unauthorized(_) => {
                phoneprov_types::http_error::ADMIN_TOKEN_HINT.to_string()
            }
            AdminError::BadRequest { hint, .. } | AdminError::Conflict { hint, .. } => hint.clone(),
            AdminError::Import { .. } => {
                "fix the listed lines and send the whole file again; nothing was imported"
                    .to_string()
            }
            AdminError::NotFound(_) => {
                "list devices with GET /api/v1/devices, or add it with POST /api/v1/devices"
                    .to_string()
            }
            AdminError::NoSuch { hint, .. } => hint.to_string(),
            AdminError::Forbidden { .. } => {
                "ask an admin, or use the admin token (`DATA/admin.token`) or an admin user's token (`phoneprov user token NAME`)".to_string()
            }
            AdminError::NoRoute(_) => "see GET /api/v1/openapi.json for the routes".to_string(),
            AdminError::Exists(mac) => {
                format!("update it with PUT /api/v1/devices/{mac}, or DELETE it first")
            }
            AdminError::Push(e) => e.hint(),
            AdminError::Store(StoreError::Busy(_)) => "retry in a moment".to_string(),
            AdminError::Store(StoreError::Unavailable(_)) => {
                "the database is unreachable; the server reconnects by itself: retry in a moment (nothing was changed)".to_string()
            }
            AdminError::Store(_) => {
                "see the server log; check the data directory's disk and permissions".to_string()
            }
            AdminError::Internal(_) => phoneprov_types::http_error::INTERNAL_HINT.to_string(),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> ApiError {
        let (status, hint) = (e.status(), e.hint());
        match e {
            // RFC 6750 §3: a missing token gets a bare challenge, a wrong
            // one `error="invalid_token"`.
            AdminError::Unauthorized(why) => {
                ApiError::unauthorized(why, why.starts_with("missing"))
            }
            AdminError::Push(p) => ApiError::new(status, p.what(), hint),
            AdminError::Import { error, rows } => {
                ApiError::bad_request(error, hint).with_rows(rows)
            }
            other => ApiError::new(status, other.to_string(), hint),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        if let AdminError::Store(e @ StoreError::Unavailable(_)) = &self {
            tracing::warn!("admin API answers 503: {e}");
        }
        ApiError::from(self).into_response()
    }
}
