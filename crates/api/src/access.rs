//! Who is calling and whether they may (issue 14 item 2): the bearer
//! token becomes a [`Caller`] (the admin token is an admin; a console
//! user's API token, from `phoneprov user token NAME`, carries that user's
//! role), and each request becomes a `phoneprov_store::Action` that
//! [`Role::may`](phoneprov_store::Role::may) decides: the console's rule
//! book, so the help desk may do the same through the API as in the
//! console. A refusal is 403 in the one error shape, with a hint.
//!
//! The middleware guards the API's own routes ([`require_token`]) and the
//! routes merged in from the ACS and the activation service
//! ([`ApiState::guard_api`]). Two routes decide by their body (a bulk job
//! and an ACS task are read-only or not by their RPC): for a non-admin the
//! body is read here with the handler's own parser; a body that does not
//! parse goes on to the handler, which refuses it with its 400.

use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use phoneprov_store::{Action, ApiTokenRepo as _, Role};
use phoneprov_types::secret_eq;

use crate::error::AdminError;
use crate::routes::presented_token;
use crate::state::ApiState;

/// The authenticated caller of a request, in its extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `admin-token` for the admin token, else the console user's name.
    pub name: String,
    /// What they may do.
    pub role: Role,
}

impl Caller {
    /// Whether the caller may see keys and secret variables.
    pub fn sees_secrets(&self) -> bool {
        self.role.may(Action::Keys)
    }
}

/// Largest body read here to decide a bulk job or task (the handlers'
/// own limits are far below).
const MAX_DECIDE_BODY: usize = 1 << 20;

impl ApiState {
    /// The caller behind `headers`' bearer token: 401 without one or with
    /// one nobody holds.
    pub(crate) async fn caller(&self, headers: &HeaderMap) -> Result<Caller, AdminError> {
        let Some(tok) = presented_token(headers) else {
            return Err(AdminError::Unauthorized("missing admin token"));
        };
        if secret_eq(tok.as_bytes(), self.token().as_bytes()) {
            return Ok(Caller {
                name: "admin-token".into(),
                role: Role::Admin,
            });
        }
        if tok.is_empty() || tok.len() > 256 {
            return Err(AdminError::Unauthorized("wrong admin token"));
        }
        let tok = tok.to_string();
        let user = self
            .with_store(move |s| Ok(s.user_by_api_token(&tok)?))
            .await?;
        match user {
            Some(u) => Ok(Caller {
                name: u.name,
                role: u.role,
            }),
            None => Err(AdminError::Unauthorized("wrong admin token")),
        }
    }

    /// `router` (ACS or activation routes) behind the same token and role
    /// checks as the API's own routes, for its paths under `/api/v1/`;
    /// other paths (the activation service's phone side) pass untouched.
    pub fn guard_api(&self, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(
            self.clone(),
            |State(state): State<ApiState>, req: Request, next: Next| async move {
                if !req.uri().path().starts_with("/api/v1/") {
                    return next.run(req).await;
                }
                authorize(state, req, next).await
            },
        ))
    }
}

/// Auth middleware of the API's own routes.
pub(crate) async fn require_token(
    State(state): State<ApiState>,
    req: Request,
    next: Next,
) -> Response {
    authorize(state, req, next).await
}

async fn authorize(state: ApiState, req: Request, next: Next) -> Response {
    let caller = match state.caller(req.headers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let mut req = req;
    if caller.role != Role::Admin {
        let (r, decision) = decide(caller.role, req).await;
        req = r;
        if let Err(e) = decision {
            return e.into_response();
        }
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The request's path below `/api/v1` (the API's own routes see it
/// stripped, merged routes see it whole).
fn api_path(req: &Request) -> String {
    let full = req
        .extensions()
        .get::<OriginalUri>()
        .map(|u| u.0.path().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    full.strip_prefix("/api/v1").unwrap_or(&full).to_string()
}

/// Decides a non-admin's request; the request comes back (its body read
/// and put back when the decision needed it).
async fn decide(role: Role, req: Request) -> (Request, Result<(), AdminError>) {
    let path = api_path(&req);
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    let by_body = matches!(
        (&method, seg.as_slice()),
        (&Method::POST, ["bulk-jobs"]) | (&Method::POST, ["devices", _, "tasks"])
    );
    if !by_body {
        let a = action_of(&method, &seg);
        return (req, check(role, a));
    }
    // A bulk job or a task: read-only or not by its RPC.
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_DECIDE_BODY).await {
        Ok(b) => b,
        Err(e) => {
            let e = AdminError::bad_request(
                format!("cannot read the body: {e}"),
                "send a JSON body under 1 MiB",
            );
            return (Request::from_parts(parts, Body::empty()), Err(e));
        }
    };
    // `None`: the body does not parse; the handler refuses it with its 400.
    let rpc: Option<Option<&'static str>> = if seg[0] == "bulk-jobs" {
        crate::bulk::rpc_of_request(&bytes)
    } else {
        phoneprov_acs::task::parse_request(&bytes)
            .ok()
            .map(|(rpc, _)| Some(rpc.method()))
    };
    let decision = match rpc {
        None => Ok(()),
        Some(None) => check(role, Action::Resync),
        Some(Some(rpc)) => check(role, Action::Task(rpc)),
    };
    (Request::from_parts(parts, Body::from(bytes)), decision)
}

fn check(role: Role, action: Action<'_>) -> Result<(), AdminError> {
    if role.may(action) {
        Ok(())
    } else {
        Err(AdminError::Forbidden {
            role,
            what: action.describe(),
        })
    }
}

/// What a request does, from its method and path below `/api/v1`
/// (bodies aside): anything not named here needs an admin.
fn action_of(method: &Method, seg: &[&str]) -> Action<'static> {
    match (method, seg) {
        (&Method::GET, ["devices", "export"]) => Action::Keys,
        // Before the catch-all GET: reading a key or certificate is a key
        // action whatever the method.
        (_, ["devices", _, "key" | "certificate" | "cert", ..]) => Action::Keys,
        (&Method::GET, ["activation", ..]) => Action::Activation,
        (&Method::GET, _) => Action::View,
        (&Method::POST, ["devices", _, "resync" | "connection-request"]) => Action::Resync,
        (&Method::DELETE, ["devices", _, "tasks", _]) | (&Method::DELETE, ["bulk-jobs", _]) => {
            Action::Cancel
        }
        (_, ["templates", ..]) => Action::EditTemplates,
        (_, ["rollouts", ..]) => Action::Rollouts,
        (_, ["activation", ..]) => Action::Activation,
        _ => Action::EditDevices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GET of a device's key or certificate is a key action, not a read
    /// the help desk may make; other GETs are reads.
    #[test]
    fn key_and_certificate_reads_are_key_actions() {
        for seg in [
            ["devices", "000e08abcdef", "key"],
            ["devices", "000e08abcdef", "cert"],
            ["devices", "000e08abcdef", "certificate"],
        ] {
            assert_eq!(action_of(&Method::GET, &seg), Action::Keys, "{seg:?}");
            assert_eq!(action_of(&Method::POST, &seg), Action::Keys, "{seg:?}");
        }
        assert_eq!(
            action_of(&Method::GET, &["devices", "000e08abcdef"]),
            Action::View
        );
        assert!(!Role::Helpdesk.may(action_of(&Method::GET, &["devices", "x", "key"])));
    }
}
