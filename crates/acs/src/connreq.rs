//! Connection requests (TR-069 3.2.2): an HTTP `GET` to the CPE's
//! `ManagementServer.ConnectionRequestURL`, answering its `401` with Digest
//! (or Basic) credentials; `200`/`204` means the CPE will open a session
//! with `6 CONNECTION REQUEST`.
//!
//! The client is the workspace's one HTTP stack towards phones,
//! `phoneprov-transport` (the same one the push resync and the simulated
//! phones use): two requests at most, no redirects, which is all a
//! connection request needs. Only `http://` URLs: CPEs listen for
//! connection requests on plain HTTP (TR-069 forbids requiring TLS for
//! them).

use std::time::Duration;

use http::Uri;
use phoneprov_httpauth::{authorization, best_challenge, parse_challenges, Credentials};
use phoneprov_transport::{HttpClient, HttpClientConfig, HttpRequest};
use serde::Serialize;

use crate::acs::Acs;
use crate::error::AcsError;

/// How long one connection request may take in all.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection request achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionRequestOutcome {
    /// The URL used.
    pub url: String,
    /// The CPE's final HTTP status (200 or 204 on success).
    pub status: u16,
    /// Whether the CPE asked for credentials and got them.
    pub authenticated: bool,
}

async fn get_once(
    client: &HttpClient,
    url: &str,
    auth: Option<&str>,
) -> Result<(u16, Vec<String>), String> {
    let mut req = HttpRequest::new("GET", url);
    if let Some(a) = auth {
        req = req.with_header("Authorization", a);
    }
    let resp = client.send(req).await.map_err(|e| e.to_string())?;
    let challenges = resp
        .header_all("www-authenticate")
        .into_iter()
        .map(str::to_string)
        .collect();
    Ok((resp.status, challenges))
}

/// Sends a connection request to `url` with `creds` for the 401.
pub async fn send_connection_request(
    url: &str,
    creds: Option<&Credentials>,
) -> Result<ConnectionRequestOutcome, AcsError> {
    let fail = |why: String| AcsError::ConnectionRequest {
        url: url.to_string(),
        why,
    };
    let uri: Uri = url.parse().map_err(|e| fail(format!("not a URL: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(fail(
            "only http:// connection request URLs are supported".into(),
        ));
    }
    // TLS is never used (http:// only), but the client wants a config.
    let tls = phoneprov_pki::client_config(&phoneprov_pki::ClientTls::default())
        .map_err(|e| fail(e.to_string()))?;
    let mut config = HttpClientConfig::new(tls);
    config.connect_timeout = TIMEOUT;
    config.request_timeout = TIMEOUT;
    config.max_body = 64 << 10;
    let client = HttpClient::new(config);
    let attempt = async {
        let (status, challenges) = get_once(&client, url, None).await?;
        if status != 401 {
            return Ok((status, false));
        }
        let creds = creds.ok_or("the CPE asks for credentials and none are configured (acs.connection_request.username/password)")?;
        let parsed = challenges
            .iter()
            .filter_map(|c| parse_challenges(c).ok())
            .flatten()
            .collect::<Vec<_>>();
        let ch =
            best_challenge(&parsed).ok_or("the CPE's 401 offers no Basic or Digest challenge")?;
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let cnonce = format!("{:016x}", rand::random::<u64>());
        let header = authorization(ch, creds, "GET", target, b"", &cnonce, 1);
        let (status, _) = get_once(&client, url, Some(&header)).await?;
        Ok((status, true))
    };
    let (status, authenticated) = tokio::time::timeout(TIMEOUT, attempt)
        .await
        .map_err(|_| fail(format!("no answer within {TIMEOUT:?}")))?
        .map_err(|e: String| fail(e))?;
    if status == 200 || status == 204 {
        Ok(ConnectionRequestOutcome {
            url: url.to_string(),
            status,
            authenticated,
        })
    } else {
        Err(fail(format!(
            "the CPE answered HTTP {status}; check the connection request credentials"
        )))
    }
}

impl Acs {
    /// Asks the device to open a session now: `GET` to the
    /// `ConnectionRequestURL` cached from its Informs, Digest with the
    /// cached `ConnectionRequestUsername`/`Password` or the configured ones.
    pub async fn connection_request(
        &self,
        mac: phoneprov_store::Mac,
    ) -> Result<ConnectionRequestOutcome, AcsError> {
        let acs = self.clone();
        let key = mac.to_string();
        let (url, user, pass) = tokio::task::spawn_blocking(move || {
            let db = &acs.inner.db;
            let get = |leaf: &str| -> Result<Option<String>, AcsError> {
                for root in ["Device", "InternetGatewayDevice"] {
                    let path = format!("{root}.ManagementServer.{leaf}");
                    if let Some((Some(v), _)) = db.dm_param(&key, &path)? {
                        if !v.is_empty() {
                            return Ok(Some(v));
                        }
                    }
                }
                Ok(None)
            };
            let cfg = &acs.inner.settings.connection_request;
            let url = get("ConnectionRequestURL")?;
            let user = get("ConnectionRequestUsername")?.unwrap_or_else(|| cfg.username.clone());
            let pass = get("ConnectionRequestPassword")?.unwrap_or_else(|| cfg.password.clone());
            Ok::<_, AcsError>((url, user, pass))
        })
        .await
        .map_err(|e| AcsError::Internal(e.to_string()))??;
        let url = url.ok_or_else(|| AcsError::NoConnectionRequestUrl(mac.to_string()))?;
        let creds = (!user.is_empty()).then(|| Credentials::new(user, pass));
        send_connection_request(&url, creds.as_ref()).await
    }
}
