//! Push resync (R-RULE-6): tell a phone to resync now, optionally with a
//! one-off profile rule.
//!
//! A phone accepts the request two ways:
//! - [`PushMethod::Get`]: `GET http://PHONE/admin/resync?RULE` (no `?` when
//!   there is no rule: the phone then runs its own Profile_Rule…_D);
//! - [`PushMethod::ExecuteXml`]: `POST http://PHONE/CGI/Execute` with
//!   `<CP-xxxx-3PCCExecute><ExecuteItem URL="Resync:RULE"/></CP-xxxx-3PCCExecute>`;
//! - [`PushMethod::SipNotify`]: a SIP `NOTIFY` with `Event: check-sync` (the
//!   Execute object as its body when there is a rule) to the device's
//!   [`SIP_CONTACT_VAR`] variable, as a PBX does, through the workspace's
//!   one SIP sender (`phoneprov_transport::send_notify`: UDP with RFC 3261
//!   retransmission, TCP, TLS). A device with that variable is pushed by
//!   NOTIFY unless a method or a phone address is given ([`push_target`]).
//!
//! The rule is percent-encoded for the query (space, quotes, brackets, `%`,
//! `&`, `+`, `#`, non-ASCII…; `/`, `:`, `$`, `=` and `-` stay readable) and
//! XML-escaped for the attribute (`percent-encoding`'s set type, and the
//! workspace's one XML escaper, `phoneprov_types::xml`).
//!
//! HTTP goes through the workspace's one client stack towards phones,
//! `phoneprov-transport` (hyper + rustls on the *ring* provider; TLS from
//! `phoneprov_pki::client_config` with the public web roots), no redirects
//! followed (a phone does not redirect an admin request; following one
//! could send the rule elsewhere), a 5 s connect and 15 s total timeout.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use phoneprov_store::{now_ms, Database, EventKind, Mac, NewEvent, Store, StoreError};
use phoneprov_transport::{HttpClient, HttpClientConfig, HttpRequest};
use phoneprov_types::xml::{escape, XmlContext};
use serde::Serialize;
use url::Url;
use utoipa::ToSchema;

/// How to deliver the resync request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PushMethod {
    /// `GET /admin/resync?RULE`.
    #[default]
    Get,
    /// `POST /CGI/Execute` with the XML Execute object.
    #[serde(alias = "execute")]
    ExecuteXml,
    /// SIP `NOTIFY` `Event: check-sync` to the device's `sip_contact`.
    #[serde(alias = "sip")]
    SipNotify,
}

impl PushMethod {
    /// `get` or `execute-xml` (the JSON and metric label spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            PushMethod::Get => "get",
            PushMethod::ExecuteXml => "execute-xml",
            PushMethod::SipNotify => "sip-notify",
        }
    }
}

/// What the phone answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PushOutcome {
    /// The URL requested (the SIP Request-URI for a NOTIFY).
    pub url: String,
    /// How.
    pub method: PushMethod,
    /// The phone's HTTP (or SIP) status (2xx: accepted).
    pub status: u16,
    /// The start of the phone's answer (at most 512 bytes, lossy UTF-8;
    /// the reason phrase for SIP).
    pub body: String,
}

/// How long `POST /devices/{mac}/resync` waits for a SIP phone's answer
/// before it answers 202 ([`PushPending`]). A NOTIFY over UDP to a silent
/// phone retransmits until RFC 3261 timer F (64·T1 = 32 s); 4 s covers the
/// first four transmissions (0, 0.5, 1.5 and 3.5 s), so a phone that
/// answers, even after a lost datagram, still gets its answer in the
/// response, and nobody's request hangs for half a minute.
pub const SIP_PUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(4);

/// A NOTIFY still waiting for the phone's answer after [`SIP_PUSH_WAIT`]:
/// the request is recorded on the timeline now, and the phone's answer
/// (or the timeout) when the transaction ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PushPending {
    /// The SIP Request-URI.
    pub url: String,
    /// How (`sip-notify`).
    pub method: PushMethod,
    /// Always `true`.
    pub pending: bool,
    /// What happens next.
    pub message: String,
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// `--phone` / `phone` is not an address.
    #[error("bad phone address {phone:?}: {why}; give HOST, HOST:PORT or http://HOST:PORT")]
    BadPhone {
        /// As given.
        phone: String,
        /// What is wrong.
        why: String,
    },
    /// The device has no last-seen IP and no address was given.
    #[error("device {mac} has no known IP address (it has not contacted the server yet); give the phone's address with --phone HOST[:PORT] (API: \"phone\")")]
    NoAddress {
        /// The device.
        mac: Mac,
    },
    /// A NOTIFY was asked for and the device has no SIP contact.
    #[error("device {mac} has no sip_contact variable; set it (phoneprov device set {mac} sip_contact=sip:USER@HOST:PORT) or push by HTTP (method get)")]
    NoSipContact {
        /// The device.
        mac: Mac,
    },
    /// The SIP contact is not a SIP URI.
    #[error("bad SIP contact {contact:?} (device variable sip_contact); give sip:USER@HOST[:PORT][;transport=udp|tcp|tls] or sips:USER@HOST[:PORT]")]
    BadSipContact {
        /// As given.
        contact: String,
    },
    /// The request could not be sent or no answer came.
    #[error("cannot reach the phone at {url}: {cause}; check that it is on, that the address is right and that its web server is enabled")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// The transport error, with its causes.
        cause: String,
    },
    /// The phone answered with a non-2xx status.
    #[error("the phone at {url} refused the resync with HTTP {status}; {}", status_hint(*.status))]
    Refused {
        /// The URL tried.
        url: String,
        /// Its status.
        status: u16,
    },
    /// The phone answered the NOTIFY with a non-2xx status.
    #[error("the phone at {url} refused the NOTIFY with {code} {reason}; {}", sip_hint(*.code))]
    SipRefused {
        /// The Request-URI.
        url: String,
        /// The SIP status code.
        code: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => "the phone's web server requires an admin login or forbids remote resync; enable it on the phone",
        404 => "this phone does not offer that endpoint; try the other method (--execute toggles /CGI/Execute)",
        _ => "check the phone's logs",
    }
}

fn sip_hint(code: u16) -> &'static str {
    match code {
        401 | 407 => "the phone asks for Digest credentials: set the device variables sip_user and sip_password (its line 1 account)",
        403 => "the phone does not take resyncs from SIP (Resync_From_SIP is No)",
        489 => "the phone does not know the check-sync event",
        _ => "see the phone's log",
    }
}

impl PushError {
    /// The "what was wrong" half of the message (for `{error, hint}`).
    pub fn what(&self) -> String {
        let full = self.to_string();
        match self {
            PushError::Store(_) => full,
            _ => full
                .split_once("; ")
                .map_or(full.clone(), |(what, _)| what.to_string()),
        }
    }

    /// The "what to do" half.
    pub fn hint(&self) -> String {
        let full = self.to_string();
        match self {
            PushError::Store(_) => "check the data directory".to_string(),
            _ => full
                .split_once("; ")
                .map_or(String::new(), |(_, hint)| hint.to_string()),
        }
    }
}

/// Characters escaped in the rule query: controls, space, `"#%&'+<>[\]^`{|}`
/// and everything non-ASCII. `&`/`+` because a phone may decode the query
/// as a form; brackets because RFC 3986 forbids them outside hosts.
const RULE_QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The rule as it goes after `?` in `/admin/resync?RULE`.
pub fn encode_rule_query(rule: &str) -> String {
    utf8_percent_encode(rule, RULE_QUERY).to_string()
}

/// The XML Execute object for `rule` (`Resync` alone when there is none).
pub fn execute_xml(rule: Option<&str>) -> String {
    let url = match rule.filter(|r| !r.is_empty()) {
        Some(r) => format!("Resync:{}", escape(r, XmlContext::Attr)),
        None => "Resync".to_string(),
    };
    format!("<CP-xxxx-3PCCExecute><ExecuteItem URL=\"{url}\"/></CP-xxxx-3PCCExecute>")
}

/// `scheme://host[:port]` of a phone given as `HOST`, `HOST:PORT`, an IPv6
/// address (bare or bracketed) or an `http(s)://` URL (its path is ignored).
pub fn phone_base_url(phone: &str) -> Result<Url, PushError> {
    let bad = |why: &str| PushError::BadPhone {
        phone: phone.to_string(),
        why: why.to_string(),
    };
    let phone_t = phone.trim();
    if phone_t.is_empty() {
        return Err(bad("it is empty"));
    }
    let text = if phone_t.contains("://") {
        phone_t.to_string()
    } else if let Ok(IpAddr::V6(v6)) = phone_t.parse::<IpAddr>() {
        format!("http://[{v6}]")
    } else {
        if phone_t.contains(['/', '?', '#', '@', ' ']) {
            return Err(bad(
                "a bare address cannot hold '/', '?', '#', '@' or spaces",
            ));
        }
        format!("http://{phone_t}")
    };
    let mut url = Url::parse(&text).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    // A path ending in '/' is a prefix the phone's endpoints live under
    // (`push_url`); anything else is dropped.
    if !url.path().ends_with('/') {
        url.set_path("/");
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// Sends a resync request to the phone at `phone` (see [`phone_base_url`];
/// the SIP contact for [`PushMethod::SipNotify`]), with `rule` (`None` or
/// empty: the phone's own rules) by `method`.
/// Succeeds only on a 2xx answer.
pub async fn push_resync(
    phone: &str,
    rule: Option<&str>,
    method: PushMethod,
) -> Result<PushOutcome, PushError> {
    if method == PushMethod::SipNotify {
        // `phone` is then the SIP contact.
        return notify_resync(phone, rule, None).await;
    }
    let base = phone_base_url(phone)?;
    let rule = rule.filter(|r| !r.is_empty());
    let tls = phoneprov_pki::client_config(&phoneprov_pki::ClientTls::default()).map_err(|e| {
        PushError::Unreachable {
            url: base.to_string(),
            cause: error_chain(&e),
        }
    })?;
    let mut config = HttpClientConfig::new(tls);
    config.connect_timeout = Duration::from_secs(5);
    config.request_timeout = Duration::from_secs(15);
    let client = HttpClient::new(config);
    let user_agent = concat!("phoneprov/", env!("CARGO_PKG_VERSION"));
    let (url, request) = match method {
        PushMethod::Get => {
            let mut url = base
                .join("admin/resync")
                .expect("a fixed relative path joins");
            if let Some(r) = rule {
                url.set_query(Some(&encode_rule_query(r)));
            }
            let req = HttpRequest::new("GET", url.as_str()).with_header("User-Agent", user_agent);
            (url, req)
        }
        PushMethod::ExecuteXml | PushMethod::SipNotify => {
            let url = base
                .join("CGI/Execute")
                .expect("a fixed relative path joins");
            let req = HttpRequest::new("POST", url.as_str())
                .with_header("User-Agent", user_agent)
                .with_header("Content-Type", "text/xml; charset=utf-8")
                .with_body(execute_xml(rule));
            (url, req)
        }
    };
    let resp = client
        .send(request)
        .await
        .map_err(|e| PushError::Unreachable {
            url: url.to_string(),
            cause: error_chain(&e),
        })?;
    let (status, body) = (resp.status, resp.body);
    if !(200..300).contains(&status) {
        return Err(PushError::Refused {
            url: url.to_string(),
            status,
        });
    }
    let shown = &body[..body.len().min(512)];
    Ok(PushOutcome {
        url: url.to_string(),
        method,
        status,
        body: String::from_utf8_lossy(shown).into_owned(),
    })
}

/// The device variable that says where a phone takes push requests when
/// its last seen IP is not it (NAT, a port other than 80, the simulator's
/// one listener for many phones): `http://HOST:PORT/PREFIX/`, with
/// `{mac}` replaced by the device's MAC (issue 14).
pub const PUSH_URL_VAR: &str = "push_url";

/// Where to push a resync to `dev`: its [`PUSH_URL_VAR`] variable, else
/// its last seen IP; `None` when neither is known.
pub fn device_address(dev: &phoneprov_store::Device) -> Option<String> {
    match dev.vars.get(PUSH_URL_VAR) {
        Some(u) if !u.trim().is_empty() => Some(u.replace("{mac}", &dev.mac.to_string())),
        _ => dev.status.ip.clone(),
    }
}

/// The device variable holding the phone's SIP contact
/// (`sip:1001@10.0.0.5:5060;transport=tcp`, `sips:…`): with it, a push
/// resync from the API, the console or `phoneprov device resync` is a SIP
/// `NOTIFY` check-sync (R-RULE-6). `sip_user` / `sip_password` answer the
/// phone's Digest challenge (its line 1 account) when present.
pub const SIP_CONTACT_VAR: &str = "sip_contact";
/// The Digest user for a NOTIFY challenge (see [`SIP_CONTACT_VAR`]).
pub const SIP_USER_VAR: &str = "sip_user";
/// The Digest password for a NOTIFY challenge (see [`SIP_CONTACT_VAR`]).
pub const SIP_PASSWORD_VAR: &str = "sip_password";

/// Where and how one push goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushTarget {
    /// HTTP to the phone's web server.
    Http {
        /// `HOST[:PORT]` or a URL (see [`phone_base_url`]).
        address: String,
        /// GET or the Execute object.
        method: PushMethod,
    },
    /// SIP NOTIFY to the phone's contact.
    Sip {
        /// The contact URI.
        contact: String,
        /// Digest `(user, password)` for a challenge.
        credentials: Option<(String, String)>,
    },
}

impl PushTarget {
    /// Where it goes: the phone's address or the SIP contact.
    pub fn destination(&self) -> &str {
        match self {
            PushTarget::Http { address, .. } => address,
            PushTarget::Sip { contact, .. } => contact,
        }
    }

    /// The method label.
    pub fn method(&self) -> PushMethod {
        match self {
            PushTarget::Http { method, .. } => *method,
            PushTarget::Sip { .. } => PushMethod::SipNotify,
        }
    }
}

fn var(dev: &phoneprov_store::Device, name: &str) -> Option<String> {
    dev.vars
        .get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// How to push to `dev`: `method` when given; without one, a NOTIFY when
/// the device has a [`SIP_CONTACT_VAR`] and no `phone` address was
/// given, else HTTP GET. `phone` overrides the address (the contact, for
/// a NOTIFY).
pub fn push_target(
    dev: Option<&phoneprov_store::Device>,
    mac: Mac,
    phone: Option<&str>,
    method: Option<PushMethod>,
) -> Result<PushTarget, PushError> {
    let contact = dev.and_then(|d| var(d, SIP_CONTACT_VAR));
    let sip = match method {
        Some(PushMethod::SipNotify) => true,
        Some(_) => false,
        None => phone.is_none() && contact.is_some(),
    };
    if sip {
        let contact = phone
            .map(str::to_string)
            .or(contact)
            .ok_or(PushError::NoSipContact { mac })?;
        let credentials =
            dev.and_then(|d| Some((var(d, SIP_USER_VAR)?, var(d, SIP_PASSWORD_VAR)?)));
        return Ok(PushTarget::Sip {
            contact,
            credentials,
        });
    }
    let address = match (phone, dev) {
        (Some(p), _) => p.to_string(),
        (None, Some(d)) => device_address(d).ok_or(PushError::NoAddress { mac })?,
        (None, None) => return Err(PushError::NoAddress { mac }),
    };
    Ok(PushTarget::Http {
        address,
        method: method.unwrap_or_default(),
    })
}

/// Sends one push to `target` with `rule`; succeeds only on a 2xx answer.
pub async fn push(target: &PushTarget, rule: Option<&str>) -> Result<PushOutcome, PushError> {
    match target {
        PushTarget::Http { address, method } => push_resync(address, rule, *method).await,
        PushTarget::Sip {
            contact,
            credentials,
        } => notify_resync(contact, rule, credentials.as_ref()).await,
    }
}

/// A SIP `NOTIFY` `Event: check-sync` to `contact` (R-RULE-6), with the
/// Execute object of `rule` as its body when there is one; `sips:` and
/// `transport=tls` trust the public web roots, like the HTTPS push.
pub async fn notify_resync(
    contact: &str,
    rule: Option<&str>,
    credentials: Option<&(String, String)>,
) -> Result<PushOutcome, PushError> {
    use phoneprov_transport::{send_notify, NotifyOptions, SipContact, SipSendError};
    let parsed = SipContact::parse(contact).map_err(|_| PushError::BadSipContact {
        contact: contact.to_string(),
    })?;
    let url = parsed.uri();
    let unreachable = |cause: String| PushError::Unreachable {
        url: url.clone(),
        cause,
    };
    let tls = phoneprov_pki::client_config(&phoneprov_pki::ClientTls::default())
        .map_err(|e| unreachable(error_chain(&e)))?;
    let opts = NotifyOptions {
        event: "check-sync".into(),
        body: rule.filter(|r| !r.is_empty()).map(|r| {
            (
                "application/xml".to_string(),
                execute_xml(Some(r)).into_bytes(),
            )
        }),
        credentials: credentials.map(|(u, p)| phoneprov_transport::Credentials::new(u, p.clone())),
        tls: Some(tls),
        t1: None,
    };
    let out = send_notify(&parsed, &opts).await.map_err(|e| match e {
        SipSendError::BadContact(_) => PushError::BadSipContact {
            contact: contact.to_string(),
        },
        other => unreachable(other.to_string()),
    })?;
    if !(200..300).contains(&out.code) {
        return Err(PushError::SipRefused {
            url,
            code: out.code,
            reason: out.reason,
        });
    }
    Ok(PushOutcome {
        url,
        method: PushMethod::SipNotify,
        status: out.code,
        body: out.reason,
    })
}

/// Records on the device's timeline that a NOTIFY to `url` is still
/// waiting for the phone's answer ([`SIP_PUSH_WAIT`]).
pub fn record_push_pending(store: &mut Store, mac: Mac, url: &str) -> Result<i64, StoreError> {
    store.append_event(&NewEvent {
        mac,
        at_ms: now_ms(),
        kind: EventKind::Resync,
        outcome: None,
        source_ip: None,
        message: format!(
            "push resync sent by SIP NOTIFY to {url}: no answer after {} s, still retransmitting (the outcome follows)",
            SIP_PUSH_WAIT.as_secs()
        ),
    })
}

/// Appends the push to the device's timeline (`resync` event, no outcome:
/// the phone reports the result itself through syslog, R-LOG-1).
pub fn record_push(
    store: &mut Store,
    mac: Mac,
    result: &Result<PushOutcome, PushError>,
) -> Result<i64, StoreError> {
    let message = match result {
        Ok(o) if o.method == PushMethod::SipNotify => format!(
            "push resync sent by SIP NOTIFY to {} (phone answered {} {})",
            o.url, o.status, o.body
        ),
        Ok(o) => format!(
            "push resync sent to {} (phone answered HTTP {})",
            o.url, o.status
        ),
        Err(e) => format!("push resync failed: {}", e.what()),
    };
    store.append_event(&NewEvent {
        mac,
        at_ms: now_ms(),
        kind: EventKind::Resync,
        outcome: None,
        source_ip: None,
        message,
    })
}

/// What `phoneprov device resync MAC` does: pushes to `phone`, or to the
/// device's last seen IP from the inventory in `db` (the data directory's
/// SQLite file or PostgreSQL), and records the push in the device's
/// timeline when the device is in the inventory.
///
/// With `phone` given the inventory is optional (a missing database is not
/// an error: pushing to a phone needs no inventory). The store is opened
/// and used on the blocking pool (the PostgreSQL client is synchronous);
/// see [`resync_with_store`] for a store already open.
pub async fn resync_device(
    db: &Database,
    mac: Mac,
    phone: Option<&str>,
    rule: Option<&str>,
    method: Option<PushMethod>,
) -> Result<PushOutcome, PushError> {
    let db = db.clone();
    let optional = phone.is_some();
    let store = blocking(move || match Store::open_existing_db(&db) {
        Ok(s) => Ok(Some(s)),
        Err(_) if optional => Ok(None),
        Err(e) => Err(e.into()),
    })
    .await?;
    let store = store.map(|s| Arc::new(Mutex::new(s)));
    resync_with_store(store, mac, phone, rule, method).await
}

/// [`resync_device`] on a store already open (the console's): the
/// phone's address (or SIP contact, [`push_target`]) and the timeline
/// entry are read and written on the blocking pool. `None`: no inventory
/// (then `phone` is needed).
pub async fn resync_with_store(
    store: Option<Arc<Mutex<Store>>>,
    mac: Mac,
    phone: Option<&str>,
    rule: Option<&str>,
    method: Option<PushMethod>,
) -> Result<PushOutcome, PushError> {
    let given = phone.map(str::to_string);
    let target = match store.clone() {
        Some(s) => {
            blocking(move || {
                let dev = lock(&s).device(mac)?;
                if dev.is_none() && given.is_none() {
                    return Err(StoreError::NotFound(mac).into());
                }
                push_target(dev.as_ref(), mac, given.as_deref(), method)
            })
            .await?
        }
        None => push_target(None, mac, phone, method)?,
    };
    let result = push(&target, rule).await;
    crate::metrics::record_push(target.method(), &result);
    let Some(s) = store else {
        return result;
    };
    blocking(move || {
        let mut s = lock(&s);
        let known = s.device(mac).map(|d| d.is_some()).unwrap_or(false);
        if known {
            if let Err(e) = record_push(&mut s, mac, &result) {
                tracing::warn!(error = %e, "push resync: cannot record the event");
            }
        }
        Ok(result)
    })
    .await?
}

/// A poisoned lock only means a panic elsewhere mid-call: the store's
/// transactions rolled back, so it is still usable.
fn lock(s: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs store work on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PushError> + Send + 'static,
) -> Result<T, PushError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Internal(format!("store task failed: {e}")))?
}

/// An error and its causes on one line (the reason may sit in the chain).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_rule_6_query_encoding_keeps_urls_readable() {
        assert_eq!(
            encode_rule_query("[--key My Secret] tftp://192.168.1.200:69/$MA.cfg"),
            "%5B--key%20My%20Secret%5D%20tftp://192.168.1.200:69/$MA.cfg"
        );
        assert_eq!(encode_rule_query("a&b+c%d#é"), "a%26b%2Bc%25d%23%C3%A9");
    }

    #[test]
    fn r_rule_6_execute_object_escapes_the_rule() {
        assert_eq!(
            execute_xml(Some("[--key a\"b&<c>] http://s/x.xml")),
            "<CP-xxxx-3PCCExecute><ExecuteItem URL=\"Resync:[--key a&quot;b&amp;&lt;c&gt;] http://s/x.xml\"/></CP-xxxx-3PCCExecute>"
        );
        assert_eq!(
            execute_xml(None),
            "<CP-xxxx-3PCCExecute><ExecuteItem URL=\"Resync\"/></CP-xxxx-3PCCExecute>"
        );
    }

    #[test]
    fn phone_addresses() {
        let ok = |p: &str| phone_base_url(p).unwrap().to_string();
        assert_eq!(ok("10.0.0.5"), "http://10.0.0.5/");
        assert_eq!(ok("10.0.0.5:8080"), "http://10.0.0.5:8080/");
        assert_eq!(ok("phone.lan"), "http://phone.lan/");
        assert_eq!(ok("::1"), "http://[::1]/");
        assert_eq!(ok("[::1]:81"), "http://[::1]:81/");
        assert_eq!(ok("https://p:8443/admin/x?y"), "https://p:8443/");
        for bad in [
            "",
            "ftp://x",
            "a b",
            "10.0.0.5/x",
            "http://",
            "host:notaport",
        ] {
            assert!(
                matches!(phone_base_url(bad), Err(PushError::BadPhone { .. })),
                "{bad}"
            );
        }
    }
}
