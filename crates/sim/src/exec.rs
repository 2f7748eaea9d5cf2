//! Executes one [`FetchRequest`] with `phoneprov-transport` and reads the
//! outcome back as the [`FetchResult`] the engine classifies (R-RESULT).
//! The engine follows redirects and answers 401/407 itself, so exactly one
//! transfer happens per request here; only DNS SRV (R-SRV) may try several
//! targets, in RFC 2782 order, for that one request.
//!
//! What the phone's parameters decide per transfer (R-SEC): the TLS
//! configuration (`TLS_Cipher_List`, the client certificate) and the
//! manual proxy (`Proxy_Mode=Manual`, `Proxy_Host`,
//! `Proxy_Port`, `Proxy_Server_Requires_Authentication`, `Proxy_Username`,
//! `Proxy_Password`). `Restricted_Access_Domains` and `User-Agent` are the
//! engine's (it never emits a request outside the list).
//!
//! Host-name validation (R-SEC-3 decision): always on for HTTPS
//! provisioning, upgrade and reports; no parameter turns it off here
//! (`TLS_Name_Validate_n_` is about SIP over TLS on line n).
//!
//! Trust: the fleet's `--ca` (or the built-in roots) plus the phone's
//! installed custom CA (`Custom_CA_Rule`, `Phone::custom_ca_pem`) as an
//! additional anchor. The activation service is reached with the fleet's
//! trust only.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use phoneprov_phone::{FetchRequest, FetchResult, ParamStore, Scheme};
use phoneprov_pki::{client_config, ClientTls};
use phoneprov_transport::rustls::ClientConfig;
use phoneprov_transport::{
    resolve_srv, tftp_get, HttpClient, HttpClientConfig, HttpRequest, Proxy, Resolver,
    SyslogSender, TftpOptions, TlsSessions, TransportError,
};

use crate::config::{ClientCerts, SimConfig};

/// `(TLS_Cipher_List, custom CA PEM)`: what a shared TLS configuration
/// depends on.
type TlsKey = (String, Option<Vec<u8>>);

/// Network context shared by every phone of a fleet.
pub struct Net {
    pub(crate) resolver: Resolver,
    trust_pem: Option<Vec<u8>>,
    client_certs: ClientCerts,
    connect_timeout: Duration,
    request_timeout: Duration,
    /// Shared configurations for phones without a client certificate, one
    /// per distinct (`TLS_Cipher_List`, custom CA).
    shared_tls: Mutex<HashMap<TlsKey, Arc<ClientConfig>>>,
    /// Each phone's own TLS sessions (`--tls-resumption`).
    tls_sessions: TlsSessions,
    pub(crate) syslog: SyslogSender,
    tftp: TftpOptions,
}

/// Why a transfer could not even start (a local problem, not the server's).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The client certificate files could not be read.
    #[error("cannot read client certificate {path}: {err}; run `phoneprov ca issue-fleet -o DIR` for these MACs or pass --client-certs none")]
    CertFile { path: String, err: std::io::Error },
    /// The TLS configuration could not be built.
    #[error("TLS configuration: {0}")]
    Tls(String),
}

/// The one transfer's outcome plus what the report counts.
pub struct Executed {
    pub result: FetchResult,
    /// The address connected to, for `$SERVIP` (known for IP literals).
    pub server_ip: Option<String>,
    /// Body bytes received.
    pub bytes: u64,
}

impl Net {
    /// The context for `cfg`.
    pub fn new(cfg: &SimConfig) -> Net {
        let resolver = match cfg.dns {
            Some(addr) => Resolver::with_server(addr),
            None => Resolver::system(),
        };
        let mut syslog = SyslogSender::new("phoneprov-sim", "phoneprov");
        syslog.resolver = resolver.clone();
        let tftp = TftpOptions {
            resolver: resolver.clone(),
            ..TftpOptions::default()
        };
        Net {
            resolver,
            trust_pem: cfg.trust_pem.clone(),
            client_certs: cfg.client_certs.clone(),
            connect_timeout: cfg.connect_timeout,
            request_timeout: cfg.request_timeout,
            shared_tls: Mutex::new(HashMap::new()),
            tls_sessions: TlsSessions::new(cfg.tls_resumption),
            syslog,
            tftp,
        }
    }

    /// Whether phone `mac` has a client certificate (`$CCERT`).
    pub fn has_client_cert(&self, mac: &str) -> bool {
        match &self.client_certs {
            ClientCerts::None => false,
            ClientCerts::Dir(dir) => dir.join(format!("{mac}.pem")).is_file(),
        }
    }

    /// The TLS configuration for this phone now. Without a client
    /// certificate it is shared (one per distinct setting); with one it is
    /// built for this transfer and dropped after it.
    fn tls(
        &self,
        mac: &str,
        params: &ParamStore,
        custom_ca: Option<&[u8]>,
    ) -> Result<Arc<ClientConfig>, SetupError> {
        let cipher_list = params.get_or_empty("TLS_Cipher_List").trim().to_string();
        let mut opts = ClientTls {
            trust_pem: self.trust_pem.clone(),
            extra_trust_pem: custom_ca.map(<[u8]>::to_vec),
            client_cert_pem: None,
            client_key_pem: None,
            // R-SEC-3: always on for provisioning, upgrade and reports.
            validate_name: true,
            // R-SEC-2: blank or invalid falls back to the default list
            // (map_cipher_list does the fallback).
            cipher_list: (!cipher_list.is_empty()).then(|| cipher_list.clone()),
        };
        if let ClientCerts::Dir(dir) = &self.client_certs {
            opts.client_cert_pem = Some(read(&dir.join(format!("{mac}.pem")))?);
            opts.client_key_pem = Some(read(&dir.join(format!("{mac}.key")))?);
            return client_config(&opts).map_err(|e| SetupError::Tls(e.to_string()));
        }
        let key = (cipher_list, custom_ca.map(<[u8]>::to_vec));
        let mut cache = self.shared_tls.lock().expect("tls cache lock");
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let c = client_config(&opts).map_err(|e| SetupError::Tls(e.to_string()))?;
        cache.insert(key, c.clone());
        Ok(c)
    }

    pub(crate) fn http_client(
        &self,
        mac: &str,
        params: &ParamStore,
        custom_ca: Option<&[u8]>,
    ) -> Result<HttpClient, SetupError> {
        // The phone's TLS settings: a change builds a new configuration
        // (and drops the phone's kept sessions).
        let settings = format!(
            "{}|{}",
            params.get_or_empty("TLS_Cipher_List").trim(),
            ca_tag(custom_ca)
        );
        let tls = self
            .tls_sessions
            .config_for(mac, &settings, || self.tls(mac, params, custom_ca))?;
        let mut cfg = HttpClientConfig::new(tls);
        cfg.proxy = proxy(params);
        cfg.connect_timeout = self.connect_timeout;
        cfg.request_timeout = self.request_timeout;
        cfg.resolver = self.resolver.clone();
        Ok(HttpClient::new(cfg))
    }

    /// Performs `req` for phone `mac` with its current parameters and
    /// installed custom CA.
    pub async fn execute(
        &self,
        mac: &str,
        params: &ParamStore,
        custom_ca: Option<&[u8]>,
        req: &FetchRequest,
    ) -> Executed {
        let server_ip = req
            .url
            .host
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| ip.to_string());
        let result = match req.url.scheme {
            Scheme::Tftp if req.srv => {
                // R-SRV-1: srv_name gives the SPEC's message for TFTP.
                let e = phoneprov_transport::srv_name(Scheme::Tftp, &req.url.host)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "TFTP scheme is not supported in SRV lookups".into());
                FetchResult::Refused(e)
            }
            Scheme::Tftp => {
                let mut opts = self.tftp.clone();
                opts.client.timeout = opts.client.timeout.min(self.connect_timeout);
                let fut = tftp_get(&req.url.host, req.url.port, &req.url.path, &opts);
                match tokio::time::timeout(self.request_timeout, fut).await {
                    Ok(Ok(body)) => FetchResult::TftpOk(body),
                    Ok(Err(e)) => map_error(e),
                    Err(_) => FetchResult::Timeout,
                }
            }
            Scheme::Http | Scheme::Https => match self.http_client(mac, params, custom_ca) {
                Err(e) => FetchResult::Refused(e.to_string()),
                Ok(client) if req.srv => self.http_srv(&client, req).await,
                Ok(client) => {
                    let http = to_http(req, &req.url.to_url_string());
                    match client.send(http).await {
                        Ok(r) => FetchResult::Http {
                            status: r.status,
                            headers: r.headers,
                            body: r.body,
                        },
                        Err(e) => map_error(e),
                    }
                }
            },
            Scheme::Gds => FetchResult::Refused(
                "gds:// activation-code onboarding is not simulated; use an http(s) or tftp rule"
                    .into(),
            ),
        };
        let bytes = match &result {
            FetchResult::Http { body, .. } | FetchResult::TftpOk(body) => body.len() as u64,
            _ => 0,
        };
        Executed {
            result,
            server_ip,
            bytes,
        }
    }

    /// R-SRV-2/3/4: query `_ciscoprov-http(s)`, try the targets in RFC 2782
    /// order until one answers, validating HTTPS against the original domain.
    async fn http_srv(&self, client: &HttpClient, req: &FetchRequest) -> FetchResult {
        // RFC 2782 weighted choice: a fresh generator per lookup (thread_rng
        // is not Send across the await).
        let mut seeded = rand::rngs::StdRng::from_entropy();
        let res =
            match resolve_srv(&self.resolver, req.url.scheme, &req.url.host, &mut seeded).await {
                Ok(r) => r,
                Err(e) => return map_error(e),
            };
        let mut last = None;
        for url in res.urls(req.url.scheme, &req.url.path) {
            let http = to_http(req, &url);
            let sent = if req.url.scheme == Scheme::Https {
                client
                    .send_with_server_name(http, &res.tls_server_name)
                    .await
            } else {
                client.send(http).await
            };
            match sent {
                Ok(r) => {
                    return FetchResult::Http {
                        status: r.status,
                        headers: r.headers,
                        body: r.body,
                    }
                }
                Err(e) => last = Some(e),
            }
        }
        last.map(map_error).unwrap_or_else(|| {
            FetchResult::DnsError(format!("{} has no usable SRV target", res.query))
        })
    }
}

use rand::SeedableRng as _;

/// Tells custom CAs apart in the per-phone settings key (length and
/// hash; the shared cache keys on the bytes themselves).
fn ca_tag(custom_ca: Option<&[u8]>) -> String {
    use std::hash::{Hash, Hasher};
    match custom_ca {
        None => "no-ca".into(),
        Some(pem) => {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            pem.hash(&mut h);
            format!("ca-{}-{:016x}", pem.len(), h.finish())
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, SetupError> {
    std::fs::read(path).map_err(|err| SetupError::CertFile {
        path: path.display().to_string(),
        err,
    })
}

fn to_http(req: &FetchRequest, url: &str) -> HttpRequest {
    HttpRequest {
        method: req.method.clone(),
        url: url.to_string(),
        headers: req.headers.clone(),
        body: req.body.clone(),
    }
}

/// The manual proxy (R-SEC-4), `None` unless `Proxy_Mode` is `Manual` with
/// a `Proxy_Host`. `Auto` (WPAD/PAC) is not simulated and goes direct.
pub fn proxy(params: &ParamStore) -> Option<Proxy> {
    if !params
        .get_or_empty("Proxy_Mode")
        .trim()
        .eq_ignore_ascii_case("manual")
    {
        return None;
    }
    let host = params.get_or_empty("Proxy_Host").trim().to_string();
    if host.is_empty() {
        return None;
    }
    let port = params
        .get_or_empty("Proxy_Port")
        .trim()
        .parse()
        .unwrap_or(3128);
    let basic_auth = params
        .get_bool("Proxy_Server_Requires_Authentication", false)
        .then(|| {
            (
                params.get_or_empty("Proxy_Username").to_string(),
                params.get_or_empty("Proxy_Password").to_string(),
            )
        });
    Some(Proxy {
        host,
        port,
        basic_auth,
    })
}

/// Transport failures as the engine's results (class B only for TFTP
/// file-not-found; everything else is class C, R-RESULT).
pub fn map_error(e: TransportError) -> FetchResult {
    let text = e.to_string();
    match e {
        TransportError::Dns(_) => FetchResult::DnsError(text),
        TransportError::Connect(_) | TransportError::Protocol(_) => FetchResult::ConnectError(text),
        TransportError::Tls(_) => FetchResult::TlsError(text),
        TransportError::Timeout => FetchResult::Timeout,
        TransportError::TftpNotFound(_) => FetchResult::TftpNotFound,
        TransportError::TftpAccess(_) | TransportError::Tftp(_) => FetchResult::TftpError(text),
        TransportError::TooLarge | TransportError::BadUrl(_) => FetchResult::Refused(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_sec_4_manual_proxy_from_params() {
        let mut p = ParamStore::new();
        assert_eq!(proxy(&p), None);
        p.set("Proxy_Mode", "Manual");
        p.set("Proxy_Host", "proxy.lan");
        assert_eq!(proxy(&p).unwrap().port, 3128);
        assert_eq!(proxy(&p).unwrap().basic_auth, None);
        p.set("Proxy_Port", "8080");
        p.set("Proxy_Server_Requires_Authentication", "Yes");
        p.set("Proxy_Username", "u");
        p.set("Proxy_Password", "pw");
        let px = proxy(&p).unwrap();
        assert_eq!(px.port, 8080);
        assert_eq!(px.basic_auth, Some(("u".into(), "pw".into())));
        p.set("Proxy_Mode", "Off");
        assert_eq!(proxy(&p), None);
    }

    #[test]
    fn r_result_transport_errors_map_to_classes() {
        assert_eq!(
            map_error(TransportError::TftpNotFound("x".into())),
            FetchResult::TftpNotFound
        );
        assert!(matches!(
            map_error(TransportError::Connect("refused".into())),
            FetchResult::ConnectError(_)
        ));
        assert_eq!(map_error(TransportError::Timeout), FetchResult::Timeout);
    }
}
