//! Requests handed whole to a mounted handler ([`AppState::api`]: the
//! admin API, the ACS task API, the activation service): the body read
//! within `limits.max_body_bytes` ([`read_body`], also used for reports),
//! the client address passed on, the admin door of the throttle.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Incoming};

use crate::files::{simple, RespBody};
use crate::state::AppState;

type Resp = Response<RespBody>;

/// Reads a request body within the configured limit; `Err` is the response.
pub async fn read_body(
    state: &AppState,
    req: Request<Incoming>,
) -> Result<(http::request::Parts, Bytes), Resp> {
    let limit = state.policy.load().config.limits.max_body_bytes;
    let too_big = || simple(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    if req.body().size_hint().lower() > limit {
        return Err(too_big());
    }
    let (parts, body) = req.into_parts();
    match Limited::new(body, limit as usize).collect().await {
        Ok(c) => Ok((parts, c.to_bytes())),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_big())
        }
        Err(_) => Err(simple(StatusCode::BAD_REQUEST, "bad request body\n")),
    }
}

/// Hands a request to the mounted handler ([`AppState::api`]): the admin
/// API on the admin surface, the activation queries on the phones' ports.
pub async fn api(state: &Arc<AppState>, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    let Some(handler) = state.api.clone() else {
        return simple(StatusCode::NOT_FOUND, "no API mounted\n");
    };
    let (mut parts, body) = match read_body(state, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // The client address reaches the handlers as axum's `ConnectInfo`: the
    // activation service records it with each phone's query (R-ACT).
    parts.extensions.insert(peer);
    // The admin door of the throttle (issue 12 item 3): a request that
    // presents a token is gated per address; a 401 for a presented token
    // is a failure, anything else a success. (Requests without a token
    // neither count nor clear: an attacker cannot reset its strikes with
    // the public routes.)
    const DOOR: &str = "admin";
    let ip = peer.ip();
    let presented = parts.headers.contains_key(header::AUTHORIZATION);
    if presented {
        if let Some(wait) = state.auth_guard.gate(DOOR, ip) {
            return Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .header(header::RETRY_AFTER, phoneprov_httpauth::retry_after_secs(wait))
                .body(RespBody::full(Bytes::from_static(
                    b"{\"error\":\"too many failed authentications from this address\",\"hint\":\"retry after the Retry-After delay with the token from admin.token\"}\n",
                )))
                .expect("valid 429");
        }
    }
    let resp = handler(Request::from_parts(parts, body)).await;
    if presented {
        if resp.status() == StatusCode::UNAUTHORIZED {
            let hold = state.auth_guard.failed(DOOR, ip, None);
            if !hold.is_zero() {
                tokio::time::sleep(hold).await;
            }
        } else {
            state.auth_guard.succeeded(ip);
        }
    }
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, RespBody::full(body))
}
