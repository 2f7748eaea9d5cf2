//! The phones' own web endpoints (R-RULE-6), all virtual phones behind one
//! `--listen ADDR:PORT`:
//!
//! | request | effect |
//! |---|---|
//! | `GET /<mac>/admin/resync[?RULE]` | resync now (from `RULE`, one shot) |
//! | `GET /<mac>/admin/upgrade?URL` | upgrade now from `URL` |
//! | `POST /<mac>/CGI/Execute` | XML `<…Execute><ExecuteItem URL="Resync:RULE"/>` (raw or form field `XML=`) |
//! | `GET /<mac>/status.json` | the engine's status plus every parameter value |
//! | `POST /<mac>/admin/params` | manual provisioning: form `NAME=VALUE&...` → `SetParams` (R-FLOW-1 C) |
//! | `POST /<mac>/admin/reboot` | power-cycle (parameters and customization state kept) |
//! | `POST /<mac>/admin/factory-reset` | factory reset (initial parameters, customization Open) |
//! | `POST /<mac>/activation/code` | type a `gds://` code (body: 16 digits or `#` + 3–16 digits, R-ACT-2) |
//!
//! `<mac>` is the phone's MAC in any usual form. With a single phone the
//! bare paths (`/admin/resync?…`) reach it too. The query is the rule text,
//! percent-decoded (`[--key x]` arrives as `%5B--key%20x%5D`). The host
//! that sent the request is the default server of a rule without one
//! (R-RULE-1). axum serves; the routing is a prefix split done here
//! because the phone part of the path is optional.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use phoneprov_phone::{parse_execute_xml, Input};
use tokio::sync::{mpsc, oneshot};

use crate::driver::Control;

/// MAC (12 lowercase hex) → the phone's control channel.
pub type Registry = HashMap<String, mpsc::Sender<Control>>;

struct Shared {
    phones: Registry,
    /// The only phone, for bare paths (`--count 1`).
    single: Option<mpsc::Sender<Control>>,
}

/// Serves the trigger endpoints on `listener` until the task is aborted.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    phones: Registry,
) -> tokio::task::JoinHandle<()> {
    let single = (phones.len() == 1)
        .then(|| phones.values().next().cloned())
        .flatten();
    let shared = Arc::new(Shared { phones, single });
    let app = axum::Router::new().fallback(handle).with_state(shared);
    tokio::spawn(async move {
        let svc = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, svc).await {
            tracing::warn!("trigger listener stopped: {e}");
        }
    })
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], body.into()).into_response()
}

/// `Some(mac12)` when `s` reads as a MAC.
pub(crate) fn mac_of(s: &str) -> Option<String> {
    phoneprov_types::Mac::parse(s).ok().map(|m| m.to_string())
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The XML of a `/CGI/Execute` body: raw, or the form field `XML=`.
fn execute_body(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let t = s.trim();
    match t.strip_prefix("XML=") {
        Some(rest) => decode(&rest.replace('+', " ")),
        None => t.to_string(),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let (phone, rest) = {
        let trimmed = path.trim_start_matches('/');
        let (first, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        match mac_of(first) {
            Some(mac) => match shared.phones.get(&mac) {
                Some(tx) => (tx.clone(), format!("/{rest}")),
                None => return text(StatusCode::NOT_FOUND, format!("no simulated phone {mac}\n")),
            },
            None => match &shared.single {
                Some(tx) => (tx.clone(), path.to_string()),
                None => {
                    return text(
                        StatusCode::NOT_FOUND,
                        "several phones: prefix the path with the MAC, e.g. /000e08000001/admin/resync\n",
                    )
                }
            },
        }
    };
    let from_host = Some(peer.ip().to_string());
    let query = uri.query().map(decode).filter(|q| !q.trim().is_empty());
    let input = match (&method, rest.as_str()) {
        (&Method::GET, "/admin/resync") => Input::ResyncNow {
            rule: query,
            from_host,
        },
        (&Method::GET, "/admin/upgrade") => match query {
            Some(url) => Input::UpgradeNow { url },
            None => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "give the firmware rule: /admin/upgrade?URL\n",
                )
            }
        },
        (&Method::POST, "/CGI/Execute") => {
            let xml = execute_body(&body);
            let items = match parse_execute_xml(&xml) {
                Ok(items) => items,
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e}\n")),
            };
            let inputs: Vec<Input> = items
                .iter()
                .filter_map(|i| i.to_input(from_host.as_deref()))
                .collect();
            if inputs.is_empty() {
                return text(
                    StatusCode::BAD_REQUEST,
                    "no ExecuteItem this phone can act on (expected URL=\"Resync:RULE\")\n",
                );
            }
            for input in inputs {
                if phone.send(Control::Input(input)).await.is_err() {
                    return text(StatusCode::SERVICE_UNAVAILABLE, "the phone has stopped\n");
                }
            }
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/xml")],
                "<CiscoIPPhoneResponse><ResponseItem Status=\"0\" Data=\"\" URL=\"\"/></CiscoIPPhoneResponse>\n",
            )
                .into_response();
        }
        (&Method::POST, "/admin/params") => {
            let params = form_pairs(&body);
            if params.is_empty() {
                return text(
                    StatusCode::BAD_REQUEST,
                    "give the parameters as a form body: NAME=VALUE&NAME=VALUE\n",
                );
            }
            Input::SetParams { params }
        }
        (&Method::POST, "/admin/reboot") => {
            return send(&phone, Control::Input(Input::Reboot)).await
        }
        (&Method::POST, "/admin/factory-reset") => {
            return send(&phone, Control::Input(Input::FactoryReset)).await
        }
        (&Method::POST, "/activation/code") => {
            let code = String::from_utf8_lossy(&body).trim().to_string();
            let (tx, rx) = oneshot::channel();
            let c = Control::GdsCode(code, tx);
            if phone.send(c).await.is_err() {
                return text(StatusCode::SERVICE_UNAVAILABLE, "the phone has stopped\n");
            }
            return match rx.await {
                Ok(Ok(())) => text(StatusCode::OK, "OK\n"),
                Ok(Err(e)) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
                Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "the phone has stopped\n"),
            };
        }
        (&Method::GET, "/status.json") => {
            let (tx, rx) = oneshot::channel();
            if phone.send(Control::Status(tx)).await.is_err() {
                return text(StatusCode::SERVICE_UNAVAILABLE, "the phone has stopped\n");
            }
            return match rx.await {
                Ok(v) => (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    v.to_string(),
                )
                    .into_response(),
                Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "the phone has stopped\n"),
            };
        }
        _ => {
            return text(
                StatusCode::NOT_FOUND,
                format!("unknown phone endpoint {method} {rest}\n"),
            )
        }
    };
    match phone.send(Control::Input(input)).await {
        Ok(()) => text(StatusCode::OK, "OK\n"),
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "the phone has stopped\n"),
    }
}

/// Sends one control message; 200 `OK` or 503.
async fn send(phone: &mpsc::Sender<Control>, c: Control) -> Response {
    match phone.send(c).await {
        Ok(()) => text(StatusCode::OK, "OK\n"),
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "the phone has stopped\n"),
    }
}

/// `A=1&B=x%20y` → `[("A","1"),("B","x y")]` (form encoding, `+` is a space).
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .trim()
        .split('&')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let k = decode(&k.replace('+', " "));
            (!k.trim().is_empty()).then(|| (k.trim().to_string(), decode(&v.replace('+', " "))))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_and_execute_bodies() {
        assert_eq!(mac_of("00:0E:08:AB:CD:EF").as_deref(), Some("000e08abcdef"));
        assert_eq!(mac_of("admin"), None);
        assert_eq!(execute_body(b"XML=%3CA%3E+x"), "<A> x");
        assert_eq!(execute_body(b" <A/> "), "<A/>");
        assert_eq!(
            form_pairs(b"Profile_Rule=http%3A%2F%2Fh%2Fp.xml&GPP_A=a+b&junk"),
            vec![
                ("Profile_Rule".to_string(), "http://h/p.xml".to_string()),
                ("GPP_A".to_string(), "a b".to_string())
            ]
        );
        assert_eq!(
            decode("%5B--key%20k%5D%20http://h/p"),
            "[--key k] http://h/p"
        );
    }
}
