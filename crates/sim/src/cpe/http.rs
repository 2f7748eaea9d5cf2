//! HTTP for the CPE agent, on `phoneprov-transport`'s client (rustls):
//! the session's POSTs to the ACS ([`AcsConn`]: one kept-alive connection
//! for the whole session as TR-069 3.4.1 asks, the session cookie kept,
//! `401` answered with Digest or Basic, TR-069 3.4.4) and the GET of a
//! Download ([`fetch`], a connection of its own).

use std::sync::Arc;

use axum::http::Uri;
use phoneprov_cwmp::session::{cookie_from_header, CONTENT_TYPE, COOKIE_NAME};
use phoneprov_httpauth::{authorization, best_challenge, parse_challenges, Challenge, Credentials};
use phoneprov_transport::{HttpClient, HttpRequest, HttpResponse, HttpSession};

/// The request target (path and query) of `url`, for Digest's `uri`.
fn target_of(url: &str) -> String {
    url.parse::<Uri>()
        .ok()
        .and_then(|u| u.path_and_query().map(|p| p.as_str().to_string()))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into())
}

/// The challenge of a `401`, if it offers Basic or Digest.
fn challenge_of(resp: &HttpResponse) -> Option<Challenge> {
    let parsed: Vec<Challenge> = resp
        .header_all("www-authenticate")
        .into_iter()
        .filter_map(|h| parse_challenges(h).ok())
        .flatten()
        .collect();
    best_challenge(&parsed).cloned()
}

fn cnonce() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// One CWMP session's HTTP side.
pub struct AcsConn {
    http: HttpSession,
    url: String,
    target: String,
    creds: Option<Credentials>,
    cookie: Option<String>,
    challenge: Option<(Challenge, String)>,
    /// Send `Authorization` on the next POST: after a `401`, and on every
    /// POST once a Basic challenge came. Digest is answered per challenge
    /// only: the ACS authenticates the connection (fresh nonce per
    /// connection), so the rest of the session's POSTs carry none, as
    /// most CPEs do.
    authorize: bool,
    nc: u32,
    user_agent: String,
}

impl AcsConn {
    /// A session to `url` with these credentials (`None`: a `401` fails).
    pub fn new(
        client: Arc<HttpClient>,
        url: &str,
        creds: Option<Credentials>,
        user_agent: String,
    ) -> AcsConn {
        AcsConn {
            http: client.session(),
            url: url.to_string(),
            target: target_of(url),
            creds,
            cookie: None,
            challenge: None,
            authorize: false,
            nc: 0,
            user_agent,
        }
    }

    fn request(&mut self, body: &[u8]) -> HttpRequest {
        let mut headers = vec![("User-Agent".to_string(), self.user_agent.clone())];
        if !body.is_empty() {
            headers.push(("Content-Type".into(), CONTENT_TYPE.into()));
            headers.push(("SOAPAction".into(), String::new()));
        }
        if let Some(c) = &self.cookie {
            headers.push(("Cookie".into(), format!("{COOKIE_NAME}={c}")));
        }
        if let (Some((ch, cn)), Some(creds), true) = (&self.challenge, &self.creds, self.authorize)
        {
            self.nc += 1;
            let a = authorization(ch, creds, "POST", &self.target, body, cn, self.nc);
            headers.push(("Authorization".into(), a));
        }
        HttpRequest {
            method: "POST".into(),
            url: self.url.clone(),
            headers,
            body: body.to_vec(),
        }
    }

    /// POSTs `body`; a `401` is answered once with the credentials.
    /// Returns the final status and body, or why the POST failed.
    pub async fn post(&mut self, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
        for attempt in 0..2 {
            let req = self.request(body);
            let resp = self
                .http
                .send(req)
                .await
                .map_err(|e| format!("POST {}: {e}", self.url))?;
            if let Some(c) = resp.header("set-cookie").and_then(cookie_from_header) {
                self.cookie = Some(c.to_string());
            }
            if resp.status == 401 && attempt == 0 && self.creds.is_some() {
                let Some(ch) = challenge_of(&resp) else {
                    return Err("the ACS's 401 offers no Basic or Digest challenge".into());
                };
                self.authorize = true;
                self.challenge = Some((ch, cnonce()));
                self.nc = 0;
                continue;
            }
            if resp.status == 401 {
                return Err(format!(
                    "the ACS answered 401: {} (set --acs-user/--acs-password)",
                    if self.creds.is_some() {
                        "wrong credentials"
                    } else {
                        "it wants credentials"
                    }
                ));
            }
            self.authorize = matches!(self.challenge, Some((Challenge::Basic { .. }, _)));
            return Ok((resp.status, resp.body));
        }
        unreachable!("the loop returns on its second pass")
    }
}

/// GETs `url` (a Download), answering one `401` with `creds`. `Ok` only
/// for `200`; the error is the TR-069 fault to report with its text.
pub async fn fetch(
    client: &HttpClient,
    url: &str,
    creds: Option<&Credentials>,
) -> Result<Vec<u8>, (phoneprov_cwmp::FaultCode, String)> {
    use phoneprov_cwmp::FaultCode;
    let mut auth: Option<String> = None;
    for _ in 0..2 {
        let mut headers = Vec::new();
        if let Some(a) = &auth {
            headers.push(("Authorization".to_string(), a.clone()));
        }
        let resp = client
            .send(HttpRequest {
                method: "GET".into(),
                url: url.to_string(),
                headers,
                body: Vec::new(),
            })
            .await
            .map_err(|e| {
                (
                    FaultCode::FILE_SERVER_UNREACHABLE,
                    format!("GET {url}: {e}"),
                )
            })?;
        match resp.status {
            200 => return Ok(resp.body),
            401 if auth.is_none() => {
                let (Some(ch), Some(c)) = (challenge_of(&resp), creds) else {
                    return Err((
                        FaultCode::FILE_AUTH_FAILURE,
                        format!("GET {url}: 401 and no usable credentials"),
                    ));
                };
                auth = Some(authorization(
                    &ch,
                    c,
                    "GET",
                    &target_of(url),
                    b"",
                    &cnonce(),
                    1,
                ));
            }
            401 => {
                return Err((
                    FaultCode::FILE_AUTH_FAILURE,
                    format!("GET {url}: the file server refused the credentials"),
                ))
            }
            s => {
                return Err((
                    FaultCode::FILE_ACCESS_FAILURE,
                    format!("GET {url}: HTTP {s}"),
                ))
            }
        }
    }
    Err((FaultCode::FILE_AUTH_FAILURE, format!("GET {url}: 401")))
}
