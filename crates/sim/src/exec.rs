//! Executes one [`FetchRequest`] with `phoneprov-transport` and reads the
//! outcome back as the [`FetchResult`] the engine classifies (R-RESULT).
//! The engine follows redirects and answers 401/407 itself, so exactly one
//! transfer happens per request here; only DNS SRV (R-SRV) may try several
//! targets, in RFC 2782 order, for that one request.
//!
//! What the phone's parameters decide per transfer (R-SEC): the TLS
//! configuration (`TLS_Cipher_List`, the client certificate) and the
//! proxy: `Proxy_Mode=Manual` (`Proxy_Host`, `Proxy_Port`,
//! `Proxy_Server_Requires_Authentication`, `Proxy_Username`,
//! `Proxy_Password`), or `Proxy_Mode=Auto`: the PAC file of `PAC_URL`, or
//! with `Use_Auto_Discovery__WPAD_=Yes` the WPAD URL (DHCP option 252, else
//! `http://wpad.<option 15>/wpad.dat`), fetched directly (HTTP, HTTPS or
//! TFTP) once per fleet and URL, and its `FindProxyForURL(url, host)`
//! evaluated per transfer ([`phoneprov_transport::find_proxy`]). The
//! entries of the result are tried in order: a proxy that cannot be
//! reached (connect error, timeout, DNS) passes to the next entry. A PAC
//! file that cannot be fetched, does not load, throws, runs past its
//! limits or returns garbage sends the transfer `DIRECT` (**Decision**:
//! the seeds say nothing; browsers do the same) and sets the status line
//! of [`Net::pac_status`] (the `proxy` object of `/status.json`). The
//! activation service is reached with the manual proxy only. `Restricted_Access_Domains` and `User-Agent` are the
//! engine's (it never emits a request outside the list).
//!
//! Host-name validation (R-SEC-3 decision): always on for HTTPS
//! provisioning, upgrade and reports; no parameter turns it off here.
//! `TLS_Name_Validate_n_` applies to SIP over TLS on line n: the REGISTER
//! of [`Net::register`] (`phoneprov_phone::register`).
//!
//! Firewall (R-SEC-5): `NO_CISCO_TFTP` drops TFTP from a server port
//! other than 69 (`phoneprov_phone::security::tftp_blocked`).
//!
//! Trust: the fleet's `--ca` (or the built-in roots) plus the phone's
//! installed custom CA (`Custom_CA_Rule`, `Phone::custom_ca_pem`) as an
//! additional anchor. The activation service is reached with the fleet's
//! trust only.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use phoneprov_phone::proxy::{proxy_mode, PacSource, ProxyChoice, ProxyMode};
use phoneprov_phone::register::{FlowError, LineTransport, SipFlow};
use phoneprov_phone::{FetchRequest, FetchResult, ParamStore, Scheme};
use phoneprov_pki::{client_config, ClientTls};
use phoneprov_transport::rustls::ClientConfig;
use phoneprov_transport::{
    find_proxy, resolve_srv, tftp_get, HttpClient, HttpClientConfig, HttpRequest, PacLimits, Proxy,
    Resolver, SipConn, SyslogSender, TftpOptions, TlsSessions, TransportError, MAX_PAC_LEN,
};

use crate::config::{ClientCerts, SimConfig};

/// A SIP flow's failure as the registration machine reads it: a TLS
/// handshake or alert is a `tls error`, anything else a network failure.
pub(crate) fn flow_error(e: phoneprov_transport::SipSendError) -> FlowError {
    match e {
        phoneprov_transport::SipSendError::Tls(_, e) => FlowError::Tls(e),
        e => FlowError::Network(e.to_string()),
    }
}

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
    /// The WPAD URL of the lease (option 252, else `wpad.<domain>`).
    wpad: Option<String>,
    /// PAC files fetched, by URL.
    pac_files: tokio::sync::Mutex<HashMap<String, Arc<str>>>,
    /// The last PAC outcome: the URL and what it gave (or why not).
    pac_status: Mutex<Option<(String, String)>>,
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
            wpad: phoneprov_phone::proxy::wpad_url(
                cfg.lease.options.get(&252).map(String::as_str),
                cfg.lease.options.get(&15).map(String::as_str),
            ),
            pac_files: tokio::sync::Mutex::new(HashMap::new()),
            pac_status: Mutex::new(None),
        }
    }

    /// The `proxy` object of `/status.json`: the PAC URL last used and
    /// what its `FindProxyForURL` gave, or why the phone went `DIRECT`.
    pub fn pac_status(&self) -> Option<serde_json::Value> {
        let s = self.pac_status.lock().expect("pac status lock");
        s.as_ref()
            .map(|(url, line)| serde_json::json!({"pac_url": url, "status": line}))
    }

    fn set_pac_status(&self, url: &str, line: String) {
        *self.pac_status.lock().expect("pac status lock") = Some((url.to_string(), line));
    }

    /// The routes to try for `req` under the phone's proxy settings: `None`
    /// is direct (R-SEC-4).
    async fn routes(
        &self,
        mac: &str,
        params: &ParamStore,
        custom_ca: Option<&[u8]>,
        req: &FetchRequest,
    ) -> Vec<Option<Proxy>> {
        let source = match proxy_mode(params) {
            ProxyMode::Off => return vec![None],
            ProxyMode::Manual => return vec![proxy(params)],
            ProxyMode::Auto(s) => s,
        };
        let url = match source {
            PacSource::Url(u) if !u.is_empty() => u,
            PacSource::Url(_) => {
                self.set_pac_status(
                    "",
                    "Proxy_Mode is Auto with WPAD off and no PAC_URL; going DIRECT".into(),
                );
                return vec![None];
            }
            PacSource::Wpad => match &self.wpad {
                Some(u) => u.clone(),
                None => {
                    self.set_pac_status(
                        "",
                        "WPAD found no PAC file (no DHCP option 252 or 15); going DIRECT".into(),
                    );
                    return vec![None];
                }
            },
        };
        let script = match self.pac_file(mac, params, custom_ca, &url).await {
            Ok(s) => s,
            Err(e) => {
                self.set_pac_status(&url, format!("{e}; going DIRECT"));
                return vec![None];
            }
        };
        let target = req.url.to_url_string();
        let my_ip = std::net::IpAddr::from([127, 0, 0, 1]);
        match find_proxy(
            script,
            &target,
            &req.url.host,
            &self.resolver,
            my_ip,
            PacLimits::default(),
        )
        .await
        {
            Ok(choices) => {
                let line: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
                self.set_pac_status(&url, line.join("; "));
                let auth = proxy_auth(params);
                choices
                    .into_iter()
                    .map(|c| match c {
                        ProxyChoice::Direct => None,
                        ProxyChoice::Proxy { host, port } => Some(Proxy {
                            host,
                            port,
                            basic_auth: auth.clone(),
                        }),
                    })
                    .collect()
            }
            Err(e) => {
                tracing::warn!("{mac}: PAC file {url}: {e}; going DIRECT");
                self.set_pac_status(&url, format!("{e}; going DIRECT"));
                vec![None]
            }
        }
    }

    /// The PAC file at `url`, fetched directly once per fleet (only a
    /// fetched file is kept: a failure is retried at the next transfer).
    async fn pac_file(
        &self,
        mac: &str,
        params: &ParamStore,
        custom_ca: Option<&[u8]>,
        url: &str,
    ) -> Result<Arc<str>, String> {
        let mut files = self.pac_files.lock().await;
        if let Some(script) = files.get(url) {
            return Ok(script.clone());
        }
        let fail = |e: String| format!("cannot fetch the PAC file {url}: {e}");
        let body = if let Some(rest) = url.strip_prefix("tftp://") {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => {
                    (h, p.parse().map_err(|_| fail("bad port".into()))?)
                }
                _ => (authority, 69),
            };
            tftp_get(host, port, &format!("/{path}"), &self.tftp)
                .await
                .map_err(|e| fail(e.to_string()))?
        } else {
            let client = self
                .http_client_via(mac, params, custom_ca, None)
                .map_err(|e| fail(e.to_string()))?;
            let resp = client
                .send(HttpRequest {
                    method: "GET".into(),
                    url: url.to_string(),
                    headers: Vec::new(),
                    body: Vec::new(),
                })
                .await
                .map_err(|e| fail(e.to_string()))?;
            if resp.status != 200 {
                return Err(fail(format!("HTTP {}", resp.status)));
            }
            resp.body
        };
        if body.len() > MAX_PAC_LEN {
            return Err(fail(format!("larger than {MAX_PAC_LEN} bytes")));
        }
        let script: Arc<str> = String::from_utf8(body)
            .map_err(|_| fail("not UTF-8 text".into()))?
            .into();
        files.insert(url.to_string(), script.clone());
        Ok(script)
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

    /// Opens the flow of [`phoneprov_phone::Action::SipOpen`]: a UDP
    /// socket or TCP connection to the line's proxy, or a TLS session
    /// trusting the fleet's CA and the phone's custom CA, with host-name
    /// validation per `TLS_Name_Validate_n_` (R-SEC-3; the only place a
    /// phone parameter turns it off), presenting the phone's unique client
    /// certificate (`--client-certs DIR`, R-HTTPS-5) when it has one, as
    /// for HTTPS: a proxy that requires one accepts the phone. The
    /// connection and the handshake are bounded by `--connect-timeout`
    /// (the machine's timer F ends the flow sooner when it is shorter).
    pub(crate) async fn sip_open(
        &self,
        mac: &str,
        params: &ParamStore,
        custom_ca: Option<&[u8]>,
        flow: &SipFlow,
    ) -> Result<SipConn, FlowError> {
        use phoneprov_transport::{SipContact, SipTransportKind};
        let transport = match flow.transport {
            LineTransport::Udp => SipTransportKind::Udp,
            LineTransport::Tcp => SipTransportKind::Tcp,
            LineTransport::Tls => SipTransportKind::Tls,
        };
        let tls = if transport == SipTransportKind::Tls {
            let cipher_list = params.get_or_empty("TLS_Cipher_List").trim().to_string();
            let mut opts = ClientTls {
                trust_pem: self.trust_pem.clone(),
                extra_trust_pem: custom_ca.map(<[u8]>::to_vec),
                validate_name: flow.validate_name,
                cipher_list: (!cipher_list.is_empty()).then_some(cipher_list),
                ..ClientTls::default()
            };
            if self.has_client_cert(mac) {
                if let ClientCerts::Dir(dir) = &self.client_certs {
                    let read = |ext: &str| {
                        let path = dir.join(format!("{mac}.{ext}"));
                        std::fs::read(&path).map_err(|e| {
                            FlowError::Tls(format!("client certificate {}: {e}", path.display()))
                        })
                    };
                    opts.client_cert_pem = Some(read("pem")?);
                    opts.client_key_pem = Some(read("key")?);
                }
            }
            let c = client_config(&opts)
                .map_err(|e| FlowError::Tls(format!("TLS configuration: {e}")))?;
            // SIP, not HTTP: no ALPN.
            let mut c = (*c).clone();
            c.alpn_protocols.clear();
            Some(Arc::new(c))
        } else {
            None
        };
        let contact = SipContact {
            user: None,
            host: flow.host.clone(),
            port: flow.port,
            transport,
        };
        SipConn::open(&contact, tls, self.connect_timeout)
            .await
            .map_err(flow_error)
    }

    pub(crate) fn http_client(
        &self,
        mac: &str,
        params: &ParamStore,
        custom_ca: Option<&[u8]>,
    ) -> Result<HttpClient, SetupError> {
        self.http_client_via(mac, params, custom_ca, proxy(params))
    }

    /// The phone's HTTP client through `via` (`None`: direct).
    fn http_client_via(
        &self,
        mac: &str,
        params: &ParamStore,
        custom_ca: Option<&[u8]>,
        via: Option<Proxy>,
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
        cfg.proxy = via;
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
            Scheme::Tftp => match phoneprov_phone::security::tftp_blocked(params, req.url.port) {
                Some(why) => FetchResult::ConnectError(why),
                None => {
                    let mut opts = self.tftp.clone();
                    opts.client.timeout = opts.client.timeout.min(self.connect_timeout);
                    let fut = tftp_get(&req.url.host, req.url.port, &req.url.path, &opts);
                    match tokio::time::timeout(self.request_timeout, fut).await {
                        Ok(Ok(body)) => FetchResult::TftpOk(body),
                        Ok(Err(e)) => map_error(e),
                        Err(_) => FetchResult::Timeout,
                    }
                }
            },
            Scheme::Http | Scheme::Https => {
                let routes = self.routes(mac, params, custom_ca, req).await;
                self.http_routes(mac, params, custom_ca, req, routes).await
            }
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

    /// Sends `req` through each route in turn until one is reached (a
    /// proxy that cannot be reached passes to the next, R-SEC-4).
    async fn http_routes(
        &self,
        mac: &str,
        params: &ParamStore,
        custom_ca: Option<&[u8]>,
        req: &FetchRequest,
        routes: Vec<Option<Proxy>>,
    ) -> FetchResult {
        let mut last = FetchResult::Refused("no route".into());
        let n = routes.len();
        for (i, via) in routes.into_iter().enumerate() {
            let through_proxy = via.is_some();
            let client = match self.http_client_via(mac, params, custom_ca, via) {
                Ok(c) => c,
                Err(e) => return FetchResult::Refused(e.to_string()),
            };
            if req.srv {
                return self.http_srv(&client, req).await;
            }
            match client.send(to_http(req, &req.url.to_url_string())).await {
                Ok(r) => {
                    return FetchResult::Http {
                        status: r.status,
                        headers: r.headers,
                        body: r.body,
                    }
                }
                Err(e) => {
                    let unreachable = matches!(
                        e,
                        TransportError::Connect(_)
                            | TransportError::Timeout
                            | TransportError::Dns(_)
                    );
                    last = map_error(e);
                    if !(through_proxy && unreachable && i + 1 < n) {
                        return last;
                    }
                }
            }
        }
        last
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
/// a `Proxy_Host` (`Auto` is [`Net::routes`]' PAC evaluation).
pub fn proxy(params: &ParamStore) -> Option<Proxy> {
    if proxy_mode(params) != ProxyMode::Manual {
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
    Some(Proxy {
        host,
        port,
        basic_auth: proxy_auth(params),
    })
}

/// `Proxy_Username`/`Proxy_Password` when
/// `Proxy_Server_Requires_Authentication` is Yes.
fn proxy_auth(params: &ParamStore) -> Option<(String, String)> {
    params
        .get_bool("Proxy_Server_Requires_Authentication", false)
        .then(|| {
            (
                params.get_or_empty("Proxy_Username").to_string(),
                params.get_or_empty("Proxy_Password").to_string(),
            )
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
