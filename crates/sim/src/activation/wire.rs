//! The HTTP side of the activation client: the two phone requests of the
//! activation service (`GET /activation/v1/query`, `POST
//! /activation/v1/code`, see `phoneprov_activation::router`) sent through
//! the simulator's [`Net`] with the phone's parameters (trusted CA, client
//! certificate, `TLS_Name_Validate`, `TLS_Cipher_List`, manual proxy), and
//! their answers read as the machine's inputs. One clear rule for bad
//! answers: anything but a redirect profile, a 404 or (to a code) a
//! 400/410 is an error, so the machine backs off and applies nothing.

use std::future::Future;
use std::sync::Arc;

use phoneprov_phone::activation::{parse_redirect, CodeAnswer, EnteredCode, QueryAnswer};
use phoneprov_phone::ParamStore;
use phoneprov_transport::{HttpRequest, HttpResponse};
use tokio::sync::Semaphore;

use crate::exec::Net;

/// What one phone needs to talk to the activation service.
pub(super) struct Wire {
    pub net: Arc<Net>,
    pub slots: Arc<Semaphore>,
    /// `http(s)://host[:port]`, no trailing slash.
    pub base_url: String,
    /// `Cisco-<PN>/<SWVER> (<MA>)`, like the engine's default (R-HTTP-3).
    pub user_agent: String,
}

impl Wire {
    /// `GET /activation/v1/query?mac=&model=&serial=`.
    pub fn query(
        &self,
        params: &ParamStore,
        mac: &str,
        model: &str,
        serial: &str,
    ) -> impl Future<Output = QueryAnswer> + Send + 'static {
        let url = format!(
            "{}/activation/v1/query?mac={}&model={}&serial={}",
            self.base_url,
            enc(mac),
            enc(model),
            enc(serial)
        );
        let fut = self.send(params, mac, self.request("GET", url, Vec::new()));
        async move { query_answer(fut.await) }
    }

    /// `POST /activation/v1/code` `{"mac","code"}`.
    pub fn code(
        &self,
        params: &ParamStore,
        mac: &str,
        code: &EnteredCode,
    ) -> impl Future<Output = CodeAnswer> + Send + 'static {
        let url = format!("{}/activation/v1/code", self.base_url);
        let text = match code {
            EnteredCode::Activation(d) => d.clone(),
            EnteredCode::Short(d) => format!("#{d}"),
        };
        let body = serde_json::json!({ "mac": mac, "code": text }).to_string();
        let mut req = self.request("POST", url, body.into_bytes());
        req.headers
            .push(("Content-Type".into(), "application/json".into()));
        let fut = self.send(params, mac, req);
        async move { code_answer(fut.await) }
    }

    fn request(&self, method: &str, url: String, body: Vec<u8>) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            url,
            headers: vec![("User-Agent".into(), self.user_agent.clone())],
            body,
        }
    }

    /// One exchange through the phone's TLS and proxy settings, holding a
    /// `--concurrency` slot.
    fn send(
        &self,
        params: &ParamStore,
        mac: &str,
        req: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, String>> + Send + 'static {
        let net = self.net.clone();
        let slots = self.slots.clone();
        let params = params.clone();
        let mac = mac.to_string();
        async move {
            let _permit = slots
                .acquire_owned()
                .await
                .map_err(|_| "the fleet is stopping".to_string())?;
            let client = net
                .http_client(&mac, &params, None)
                .map_err(|e| e.to_string())?;
            client
                .send(req)
                .await
                .map_err(|e| format!("activation server: {e}"))
        }
    }
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The server's answer to a query, as the machine reads it.
pub fn query_answer(r: Result<HttpResponse, String>) -> QueryAnswer {
    match r {
        Err(e) => QueryAnswer::Error(e),
        Ok(resp) => match resp.status {
            200 => match parse_redirect(&resp.body) {
                Ok(url) => QueryAnswer::Redirect(url),
                Err(e) => QueryAnswer::Error(e.to_string()),
            },
            404 => QueryAnswer::Unbound,
            s => QueryAnswer::Error(format!("activation server answered HTTP {s} to the query")),
        },
    }
}

/// The server's answer to a code, as the machine reads it.
pub fn code_answer(r: Result<HttpResponse, String>) -> CodeAnswer {
    match r {
        Err(e) => CodeAnswer::Error(e),
        Ok(resp) => match resp.status {
            200 => match parse_redirect(&resp.body) {
                Ok(url) => CodeAnswer::Redirect(url),
                Err(e) => CodeAnswer::Error(e.to_string()),
            },
            400 | 404 | 410 => CodeAnswer::Rejected,
            s => CodeAnswer::Error(format!("activation server answered HTTP {s} to the code")),
        },
    }
}

/// Checks `--activation URL` (one clear line when wrong).
pub fn validate_base_url(url: &str) -> Result<String, String> {
    let t = url.trim().trim_end_matches('/');
    let lower = t.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(t.to_string()),
        _ => Err(format!(
            "--activation {url:?}: expected the activation service's base URL, http(s)://HOST[:PORT] (e.g. https://activation.example.com:8443)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> Result<HttpResponse, String> {
        Ok(HttpResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn r_act_answers_map_to_machine_inputs() {
        let ok = phoneprov_phone::activation::redirect_profile("http://p/$MA.xml");
        assert_eq!(
            query_answer(resp(200, &ok)),
            QueryAnswer::Redirect("http://p/$MA.xml".into())
        );
        assert_eq!(query_answer(resp(404, "")), QueryAnswer::Unbound);
        assert!(matches!(query_answer(resp(500, "")), QueryAnswer::Error(_)));
        assert!(matches!(
            query_answer(resp(200, "garbage <<")),
            QueryAnswer::Error(_)
        ));
        assert!(matches!(
            query_answer(Err("closed".into())),
            QueryAnswer::Error(_)
        ));
        assert_eq!(code_answer(resp(410, "")), CodeAnswer::Rejected);
        assert_eq!(code_answer(resp(404, "")), CodeAnswer::Rejected);
        assert!(matches!(code_answer(resp(502, "")), CodeAnswer::Error(_)));
    }

    #[test]
    fn base_url_is_checked() {
        assert_eq!(
            validate_base_url("http://127.0.0.1:9/").unwrap(),
            "http://127.0.0.1:9"
        );
        assert!(validate_base_url("ftp://x").is_err());
        assert!(validate_base_url("http://").is_err());
    }
}
