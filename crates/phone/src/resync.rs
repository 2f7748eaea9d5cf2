//! The resync operation (R-RULE-3, R-RESULT, R-LOG): the four profile
//! rules in order, each selected with the phone's macros, its assignments
//! applied before its fetch, the profile decoded and applied atomically;
//! the first failure ends the resync (the next one starts again from
//! `Profile_Rule`).
//!
//! Syslog (R-LOG-1): one `Log_Request_Msg` before each rule's fetch and one
//! `Log_Success_Msg` / `Log_Failure_Msg` when that fetch ends, so a
//! resync of N rules sends up to 2N lines, each naming the URL in question.

use crate::engine::{Op, Phone, ResyncSource};
use crate::fetch::{InFlight, Verdict};
use crate::types::{Action, Class, Credentials, FetchId, Purpose};
use phoneprov_crypto::{decode, DecodeOptions};
use phoneprov_profile::alias::AliasMap;
use phoneprov_profile::FlatProfile;
use phoneprov_rule::{ProfileRule, ResolvedUrl, Scheme, Selection};

/// The configured rules, in evaluation order (R-RULE-3).
pub const PROFILE_RULES: [&str; 4] = [
    "Profile_Rule",
    "Profile_Rule_B",
    "Profile_Rule_C",
    "Profile_Rule_D",
];

#[derive(Debug)]
pub(crate) struct ResyncOp {
    source: ResyncSource,
    next_rule: usize,
    current: Option<RuleFetch>,
}

#[derive(Debug)]
struct RuleFetch {
    fl: InFlight,
    key: Option<String>,
    alias: Option<char>,
}

/// Why a fetched profile could not be applied (class B).
fn decode_profile(
    phone: &Phone,
    body: &[u8],
    content_encoding: Option<&str>,
    key: Option<&str>,
    alias: Option<char>,
) -> Result<FlatProfile, String> {
    let names_gcm = content_encoding.is_some_and(|c| c.to_ascii_lowercase().contains("aes128gcm"));
    let ikm = phone.ikm();
    let key = match key {
        Some(k) => Some(k),
        None if names_gcm => ikm.as_deref(),
        None => None,
    };
    let decoded = decode(
        body,
        &DecodeOptions {
            key: key.map(str::as_bytes),
            content_encoding,
            ..DecodeOptions::default()
        },
    )
    .map_err(|e| format!("cannot decode profile: {e}"))?;
    match alias {
        Some(letter) => {
            let map_text = phone.params.get_or_empty(&format!("GPP_{letter}"));
            let map = AliasMap::parse(map_text)
                .map_err(|e| format!("bad alias map in GPP_{letter}: {e}"))?;
            let text = String::from_utf8(decoded.plain)
                .map_err(|_| "profile is not UTF-8 text".to_string())?;
            map.apply(&text)
                .map_err(|e| format!("cannot apply alias map GPP_{letter}: {e}"))
        }
        None => {
            FlatProfile::parse_bytes(&decoded.plain).map_err(|e| format!("corrupt profile: {e:?}"))
        }
    }
}

impl Phone {
    /// `IKM_HTTP_Encrypt_Content`: the RFC 8188 input keying material, a
    /// secret string whose bytes are the key (R-FMT-7); `None` when empty.
    pub(crate) fn ikm(&self) -> Option<String> {
        let v = self.params.get_or_empty("IKM_HTTP_Encrypt_Content");
        (!v.is_empty()).then(|| v.to_string())
    }

    pub(crate) fn start_resync(&mut self, source: ResyncSource) {
        self.stats.resyncs_started += 1;
        self.stats.last_resync_started_at = Some(self.now);
        self.advance_resync(ResyncOp {
            source,
            next_rule: 0,
            current: None,
        });
    }

    /// Evaluates rules from `op.next_rule` until one needs a fetch, or all
    /// are done (class A), or one fails.
    fn advance_resync(&mut self, mut op: ResyncOp) {
        loop {
            let (text, default_server, name) = match &op.source {
                ResyncSource::Configured => {
                    let Some(name) = PROFILE_RULES.get(op.next_rule) else {
                        return self.finish_resync(Class::A, None);
                    };
                    (self.params.get_or_empty(name).to_string(), None, *name)
                }
                ResyncSource::OneShot(text, from) => {
                    if op.next_rule > 0 {
                        return self.finish_resync(Class::A, None);
                    }
                    (text.clone(), from.clone(), "resync request")
                }
            };
            let index = op.next_rule;
            op.next_rule += 1;
            let rule = match ProfileRule::parse(&text) {
                Ok(r) => r,
                Err(e) => {
                    return self.resync_failed(Class::C, format!("{name}: bad rule: {e}"), None)
                }
            };
            let mut ctx = self.macro_context();
            if let Some(d) = &default_server {
                ctx.set_default_server(d);
            }
            let Some(alt) = rule.alternatives().iter().find(|a| a.condition_holds(&ctx)) else {
                continue;
            };
            let mut sel: Selection = match alt.resolve(&ctx) {
                Ok(s) => s,
                Err(e) => return self.resync_failed(Class::C, format!("{name}: {e}"), None),
            };
            // Assignments apply before the fetch, and the URL and options
            // see them (`(f = 1)! http://s/$F.xml` fetches `/1.xml`).
            let mut changed = Vec::new();
            for (k, v) in &sel.assignments {
                if self.params.set(k, v) {
                    changed.push(crate::store::canonical(k));
                }
            }
            if !changed.is_empty() {
                self.out
                    .actions
                    .push_back(Action::ParamsApplied { changed });
                let mut ctx = self.macro_context();
                if let Some(d) = &default_server {
                    ctx.set_default_server(d);
                }
                sel = match alt.resolve(&ctx) {
                    Ok(s) => s,
                    Err(e) => return self.resync_failed(Class::C, format!("{name}: {e}"), None),
                };
            }
            if sel.url.scheme == Scheme::Gds {
                return self.resync_failed(
                    Class::C,
                    format!("{name}: gds:// activation is not handled by the resync engine"),
                    Some(&sel.url),
                );
            }
            if let Err(e) = self.check_domain(&sel.url) {
                return self.resync_failed(Class::C, e, Some(&sel.url));
            }
            let mut fl = self.in_flight(Purpose::Profile { rule_index: index }, &sel);
            if let Some(what) = &sel.options.post {
                fl.method = "POST".into();
                let (body, ct) = self.post_body(what);
                fl.body = body;
                fl.content_type = Some(ct);
            }
            self.syslog("Log_Request_Msg", Some(&sel.url), None, None);
            self.send(&mut fl);
            op.current = Some(RuleFetch {
                fl,
                key: sel.options.key.clone(),
                alias: sel.options.alias,
            });
            self.op = Some(Op::Resync(op));
            return;
        }
    }

    /// A GET request for a selection, with its credentials.
    pub(crate) fn in_flight(&self, purpose: Purpose, sel: &Selection) -> InFlight {
        let creds = match (&sel.options.uid, &sel.options.pwd) {
            (Some(u), p) => Some(Credentials {
                user: u.clone(),
                password: p.clone().unwrap_or_default(),
            }),
            (None, _) => self.profile_account(),
        };
        let pu = self.params.get_or_empty("Proxy_Username");
        let proxy_creds = (!pu.is_empty()).then(|| Credentials {
            user: pu.to_string(),
            password: self.params.get_or_empty("Proxy_Password").to_string(),
        });
        InFlight {
            id: FetchId(0),
            purpose,
            url: sel.url.clone(),
            method: "GET".into(),
            body: Vec::new(),
            content_type: None,
            extra_headers: Vec::new(),
            srv: sel.options.srv,
            creds,
            proxy_creds,
            redirects: 0,
            auth_answers: 0,
            auth_header: None,
            server_ip: None,
        }
    }

    pub(crate) fn resync_fetch_done(
        &mut self,
        mut op: ResyncOp,
        id: FetchId,
        verdict: Verdict,
        server_ip: Option<String>,
    ) {
        let Some(mut cur) = op.current.take() else {
            self.stats.stale_results += 1;
            self.op = Some(Op::Resync(op));
            return;
        };
        if cur.fl.id != id {
            self.stats.stale_results += 1;
            op.current = Some(cur);
            self.op = Some(Op::Resync(op));
            return;
        }
        if server_ip.is_some() {
            cur.fl.server_ip = server_ip;
        }
        let Some(verdict) = self.drive(&mut cur.fl, verdict) else {
            op.current = Some(cur);
            self.op = Some(Op::Resync(op));
            return;
        };
        let url = cur.fl.url.clone();
        let ip = cur.fl.server_ip.clone();
        match verdict {
            Verdict::Body {
                body,
                content_encoding,
            } => match decode_profile(
                self,
                &body,
                content_encoding.as_deref(),
                cur.key.as_deref(),
                cur.alias,
            ) {
                Ok(profile) => {
                    let applied = self.params.apply_report(&profile);
                    self.stats.profiles_applied += 1;
                    if !applied.changed.is_empty() {
                        self.out.actions.push_back(Action::ParamsApplied {
                            changed: applied.changed,
                        });
                    }
                    if !applied.ignored.is_empty() || !applied.rejected.is_empty() {
                        self.out.actions.push_back(Action::ParamsIgnored {
                            unknown: applied.ignored,
                            rejected: applied.rejected,
                        });
                    }
                    self.syslog("Log_Success_Msg", Some(&url), ip.as_deref(), None);
                    self.advance_resync(op);
                }
                Err(e) => self.resync_failed_at(Class::B, e, &url, ip.as_deref()),
            },
            Verdict::Fail {
                class,
                error,
                not_found,
            } => {
                if not_found && !self.params.get_bool("Resync_Fails_On_FNF", true) {
                    // R-RESULT: with Resync_Fails_On_FNF = No a missing
                    // file is a success; go on with the next rule.
                    self.syslog("Log_Success_Msg", Some(&url), ip.as_deref(), None);
                    self.advance_resync(op);
                } else {
                    self.resync_failed_at(class, error, &url, ip.as_deref());
                }
            }
            Verdict::Redirect(_) | Verdict::Challenge { .. } => {
                unreachable!("drive() handles redirects and challenges")
            }
        }
    }

    fn resync_failed_at(&mut self, class: Class, err: String, url: &ResolvedUrl, ip: Option<&str>) {
        self.syslog("Log_Failure_Msg", Some(url), ip, Some(&err));
        self.finish_resync(class, Some(err));
    }

    fn resync_failed(&mut self, class: Class, err: String, url: Option<&ResolvedUrl>) {
        self.syslog("Log_Failure_Msg", url, None, Some(&err));
        self.finish_resync(class, Some(err));
    }

    fn finish_resync(&mut self, class: Class, error: Option<String>) {
        self.op = None;
        self.stats.record_resync(class, error.clone(), self.now);
        self.out
            .actions
            .push_back(Action::ResyncFinished { class, error });
        if class == Class::A {
            self.resync.consecutive_failures = 0;
            self.schedule_periodic();
        } else {
            self.resync.consecutive_failures += 1;
            self.schedule_retry();
        }
        if self.params.get_bool("Upgrade_Enable", true)
            && !self.params.get_or_empty("Upgrade_Rule").trim().is_empty()
            && self.upgrade.pending.is_none()
        {
            self.upgrade.pending = Some(crate::engine::UpgradeSource::Rule);
        }
    }
}
