//! SIP registration of the lines that use TLS (R-SEC-3, R-SEC-6): the
//! sans-IO part. A line `n` with `SIP_Transport_n_ = TLS`, `Proxy_n_` set,
//! `Line_Enable_n_` and `Register_n_` Yes and a `User_ID_n_` registers
//! with its proxy over TLS; `TLS_Name_Validate_n_` (default Yes) says
//! whether the proxy's certificate must match the name in `Proxy_n_`
//! (Yes: SAN, else CN; No: the chain only). The driver carries out
//! [`Action::SipRegister`] (one REGISTER client transaction, a Digest
//! challenge answered with `Auth_ID_n_`/`User_ID_n_` and `Password_n_`)
//! and answers with [`Input::RegisterDone`](crate::Input::RegisterDone).
//!
//! The status shows each line: `registered`, `tls error` (with the
//! reason: a name mismatch says which setting decides), `failed`
//! (another answer or network error) or `registering`. A registered line
//! refreshes at half its `Register_Expires_n_`; a failed one retries
//! after `Reg_Retry_Intvl` (default 30 s). A proxy outside
//! `Restricted_Access_Domains` is refused without a REGISTER (R-SEC-1).
//! Lines over UDP/TCP do not register in the simulator (nothing in it
//! needs them).

use crate::security::domain_allowed;
use crate::store::ParamStore;
use crate::types::{Action, Credentials, Time};

/// The most lines a phone model has.
const MAX_LINES: u8 = 16;

/// One REGISTER to send ([`Action::SipRegister`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRequest {
    /// The line (1-based).
    pub line: u8,
    /// `Proxy_n_`'s host (a name or an IP address).
    pub host: String,
    /// `Proxy_n_`'s port, else 5061.
    pub port: u16,
    /// `User_ID_n_`: the address of record's user part.
    pub user: String,
    /// Answers a 401/407 challenge: `Auth_ID_n_` (else `User_ID_n_`) and
    /// `Password_n_`.
    pub credentials: Option<Credentials>,
    /// `Register_Expires_n_`, seconds.
    pub expires: u32,
    /// `TLS_Name_Validate_n_`.
    pub validate_name: bool,
}

/// How a REGISTER ended ([`Input::RegisterDone`](crate::Input::RegisterDone)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// A final answer from the proxy.
    Answered { code: u16, reason: String },
    /// The TLS handshake failed (certificate name, chain, protocol).
    Tls(String),
    /// Anything else: connection refused, no answer, not SIP.
    Failed(String),
}

/// Where one line is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LineState {
    Registering,
    Registered,
    TlsError(String),
    Failed(String),
}

#[derive(Debug, Clone)]
struct Line {
    req: RegisterRequest,
    state: LineState,
    /// The next REGISTER (refresh or retry).
    next_at: Option<Time>,
    registrations: u64,
}

/// The lines that register over TLS and their state.
#[derive(Debug, Default)]
pub(crate) struct Registrations {
    lines: Vec<Line>,
}

/// The REGISTER line `n` needs per its parameters, if any.
fn wanted(p: &ParamStore, n: u8) -> Option<RegisterRequest> {
    let get = |name: &str| p.get_or_empty(&format!("{name}_{n}_")).trim().to_string();
    let yes = |name: &str| p.get_bool(&format!("{name}_{n}_"), true);
    if !get("SIP_Transport").eq_ignore_ascii_case("TLS") || !yes("Line_Enable") || !yes("Register")
    {
        return None;
    }
    let proxy = get("Proxy");
    let user = get("User_ID");
    if proxy.is_empty() || user.is_empty() {
        return None;
    }
    let (host, port) = crate::proxy::host_port(&proxy, 5061)?;
    let password = get("Password");
    let credentials = (!password.is_empty()).then(|| {
        let auth = get("Auth_ID");
        Credentials::new(if auth.is_empty() { &user } else { &auth }, &password)
    });
    Some(RegisterRequest {
        line: n,
        host,
        port,
        user,
        credentials,
        expires: get("Register_Expires")
            .parse::<u32>()
            .unwrap_or(3600)
            .max(32),
        validate_name: yes("TLS_Name_Validate"),
    })
}

impl Registrations {
    /// Re-reads the parameters: a line whose settings changed (or that
    /// appeared) registers now; a line that no longer registers is gone.
    pub(crate) fn update(&mut self, p: &ParamStore, out: &mut Vec<Action>) {
        let mut lines = Vec::new();
        for n in 1..=MAX_LINES {
            let Some(req) = wanted(p, n) else { continue };
            match self.lines.iter().position(|l| l.req == req) {
                Some(i) => lines.push(self.lines.swap_remove(i)),
                None => {
                    // R-SEC-1: a proxy outside the list is refused.
                    let list = p.get_or_empty("Restricted_Access_Domains");
                    let state = if domain_allowed(list, &req.host) {
                        out.push(Action::SipRegister(req.clone()));
                        LineState::Registering
                    } else {
                        LineState::Failed(format!(
                            "Proxy_{}_ refused: host `{}` is not in Restricted_Access_Domains ({})",
                            req.line,
                            req.host,
                            list.trim()
                        ))
                    };
                    lines.push(Line {
                        req,
                        state,
                        next_at: None,
                        registrations: 0,
                    });
                }
            }
        }
        self.lines = lines;
    }

    /// After a power cut every line registers again.
    pub(crate) fn reset(&mut self) {
        self.lines.clear();
    }

    /// The answer for `line`.
    pub(crate) fn done(&mut self, line: u8, outcome: RegisterOutcome, p: &ParamStore, now: Time) {
        let Some(l) = self.lines.iter_mut().find(|l| l.req.line == line) else {
            return; // the line stopped registering meanwhile
        };
        let retry = p.get_u64("Reg_Retry_Intvl", 30).max(1) * 1000;
        l.state = match outcome {
            RegisterOutcome::Answered { code, .. } if (200..300).contains(&code) => {
                l.registrations += 1;
                l.next_at = Some(Time(now.0 + u64::from(l.req.expires) * 500));
                LineState::Registered
            }
            RegisterOutcome::Answered { code, reason } => {
                l.next_at = Some(Time(now.0 + retry));
                LineState::Failed(format!("{code} {reason}"))
            }
            RegisterOutcome::Tls(e) => {
                l.next_at = Some(Time(now.0 + retry));
                // rustls words a name mismatch "certificate not valid for name".
                let hint = if l.req.validate_name && e.contains("not valid for name") {
                    format!(
                        "{e}: the certificate of {} does not name it (TLS_Name_Validate_{}_ is Yes)",
                        l.req.host, l.req.line
                    )
                } else {
                    e
                };
                LineState::TlsError(hint)
            }
            RegisterOutcome::Failed(e) => {
                l.next_at = Some(Time(now.0 + retry));
                LineState::Failed(e)
            }
        };
    }

    /// Whether every line has had an answer (true without lines).
    pub(crate) fn settled(&self) -> bool {
        self.lines.iter().all(|l| l.state != LineState::Registering)
    }

    pub(crate) fn poll_timeout(&self) -> Option<Time> {
        self.lines.iter().filter_map(|l| l.next_at).min()
    }

    /// Refreshes and retries due at `now`.
    pub(crate) fn on_timer(&mut self, now: Time, out: &mut Vec<Action>) {
        for l in &mut self.lines {
            if l.next_at.is_some_and(|t| t <= now) {
                l.next_at = None;
                if l.state != LineState::Registered {
                    l.state = LineState::Registering;
                }
                out.push(Action::SipRegister(l.req.clone()));
            }
        }
    }

    /// One status object per line.
    pub(crate) fn status(&self) -> Vec<serde_json::Value> {
        self.lines
            .iter()
            .map(|l| {
                let (state, detail) = match &l.state {
                    LineState::Registering => ("registering", None),
                    LineState::Registered => ("registered", None),
                    LineState::TlsError(e) => ("tls error", Some(e.clone())),
                    LineState::Failed(e) => ("failed", Some(e.clone())),
                };
                serde_json::json!({
                    "line": l.req.line,
                    "transport": "TLS",
                    "proxy": format!("{}:{}", l.req.host, l.req.port),
                    "name_validate": l.req.validate_name,
                    "state": state,
                    "detail": detail,
                    "registrations": l.registrations,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(extra: &[(&str, &str)]) -> ParamStore {
        let mut p = ParamStore::new();
        for (k, v) in [
            ("SIP_Transport_1_", "TLS"),
            ("Proxy_1_", "sip.example.com:5071"),
            ("User_ID_1_", "1001"),
        ]
        .iter()
        .chain(extra)
        {
            p.set(k, v);
        }
        p
    }

    #[test]
    fn only_tls_lines_with_proxy_and_user_register() {
        let p = params(&[("Password_1_", "pw"), ("TLS_Name_Validate_1_", "No")]);
        let r = wanted(&p, 1).unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.user.as_str()),
            ("sip.example.com", 5071, "1001")
        );
        assert!(!r.validate_name);
        assert_eq!(r.credentials.unwrap().user, "1001");
        assert_eq!(r.expires, 3600);
        for off in [
            ("SIP_Transport_1_", "UDP"),
            ("Proxy_1_", ""),
            ("User_ID_1_", ""),
            ("Line_Enable_1_", "No"),
            ("Register_1_", "No"),
        ] {
            assert_eq!(wanted(&params(&[off]), 1), None, "{off:?}");
        }
        let proxy = |v: &str| wanted(&params(&[("Proxy_1_", v)]), 1).map(|r| (r.host, r.port));
        assert_eq!(proxy("[2001:db8::1]"), Some(("2001:db8::1".into(), 5061)));
        assert_eq!(proxy("h"), Some(("h".into(), 5061)));
        assert_eq!(proxy("h:x"), None);
    }

    #[test]
    fn refresh_at_half_expiry_retry_after_failure_and_a_clear_name_error() {
        let p = params(&[("Register_Expires_1_", "600")]);
        let mut r = Registrations::default();
        let mut out = Vec::new();
        r.update(&p, &mut out);
        assert_eq!(out.len(), 1);
        assert!(!r.settled());
        // Unchanged settings: no second REGISTER.
        r.update(&p, &mut out);
        assert_eq!(out.len(), 1);
        let ok = RegisterOutcome::Answered {
            code: 200,
            reason: "OK".into(),
        };
        r.done(1, ok, &p, Time(1000));
        assert!(r.settled());
        assert_eq!(r.poll_timeout(), Some(Time(301_000)));
        assert_eq!(r.status()[0]["state"], "registered");
        r.on_timer(Time(301_000), &mut out);
        assert_eq!(out.len(), 2);
        let tls = RegisterOutcome::Tls(
            "invalid peer certificate: certificate not valid for name \"h\"".into(),
        );
        r.done(1, tls, &p, Time(302_000));
        assert_eq!(r.poll_timeout(), Some(Time(332_000)));
        let s = &r.status()[0];
        assert_eq!(s["state"], "tls error");
        let d = s["detail"].as_str().unwrap();
        assert!(d.contains("TLS_Name_Validate_1_ is Yes"), "{d}");
        // R-SEC-1: a proxy outside Restricted_Access_Domains is refused.
        let mut fenced = Registrations::default();
        let mut none = Vec::new();
        fenced.update(
            &params(&[("Restricted_Access_Domains", "pbx.example.net")]),
            &mut none,
        );
        assert!(none.is_empty());
        assert!(fenced.settled());
        let d = fenced.status()[0]["detail"].as_str().unwrap().to_string();
        assert!(d.contains("not in Restricted_Access_Domains"), "{d}");
        // The line turned off: forgotten.
        r.update(&params(&[("Register_1_", "No")]), &mut out);
        assert!(r.status().is_empty());
        assert_eq!(r.poll_timeout(), None);
    }
}
