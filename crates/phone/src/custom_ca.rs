//! The custom CA (`Custom_CA_Rule`, R-SEC-1): a certificate file fetched
//! like a profile whose certificates become **additional** trust anchors
//! for HTTPS provisioning, upgrade, reports and TR-069 (the driver reads
//! them with [`Phone::custom_ca_pem`] and adds them to the phone's TLS
//! trust, `phoneprov_pki::ClientTls::extra_trust_pem`).
//!
//! When: at every boot when the rule is set, and whenever its text
//! changes (a profile, manual entry or TR-069 write). It runs before a
//! waiting resync, so a boot with both rules trusts the new CA for the
//! boot resync. The rule uses the profile-rule syntax (`[--uid u --pwd p]`,
//! conditions, macros) and `Restricted_Access_Domains` applies. A TR-069
//! Download of a custom CA file ([`Input::InstallCustomCa`](crate::Input))
//! installs the same way.
//!
//! A file that is not a certificate, a failed transfer or a refused host
//! changes nothing: the previous CA (or none) stays, the status says
//! "Last provisioning failed at …" with the reason, and
//! [`Action::CustomCaFinished`] carries the same line. An empty rule
//! after a set one removes the installed CA.
//!
//! Status (the seeds' "Custom CA Info"): `Custom CA Provisioning Status`
//! = `Last provisioning succeeded at mm/dd/yyyy HH:MM:SS` (or `failed`),
//! `Custom CA Info` = `Installed: <CN of the first certificate>` or
//! `Not Installed`.

use crate::engine::{Op, Phone};
use crate::fetch::{InFlight, Verdict};
use crate::types::{Action, FetchId, Purpose, Time};
use phoneprov_rule::ProfileRule;
use serde_json::{json, Value};

/// An installed custom CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledCa {
    /// The certificates as fetched (PEM).
    pub pem: Vec<u8>,
    /// CN of the first certificate (the status shows it).
    pub common_name: String,
    /// Certificates in the file.
    pub count: usize,
    /// Where it came from (the URL, or the TR-069 Download's URL).
    pub source: String,
}

/// The last provisioning attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaAttempt {
    pub ok: bool,
    pub at: Time,
    /// Why it failed.
    pub error: Option<String>,
}

/// The custom CA's state data (held by the engine).
#[derive(Debug, Clone, Default)]
pub(crate) struct CustomCa {
    pub(crate) installed: Option<InstalledCa>,
    pub(crate) last: Option<CaAttempt>,
    /// The rule text last acted on (change detection).
    rule_seen: String,
    /// A fetch is wanted (boot or rule change).
    pub(crate) pending: bool,
}

/// The custom CA fetch in flight.
#[derive(Debug)]
pub(crate) struct CaOp {
    fl: InFlight,
}

/// `mm/dd/yyyy HH:MM:SS` of a [`Time`] (the phone's local clock).
fn stamp(t: Time) -> String {
    let secs = (t.0 / 1000) as i64;
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(d) => format!(
            "{:02}/{:02}/{:04} {:02}:{:02}:{:02}",
            u8::from(d.month()),
            d.day(),
            d.year(),
            d.hour(),
            d.minute(),
            d.second()
        ),
        Err(_) => format!("{secs} s"),
    }
}

impl Phone {
    /// The installed custom CA's certificates (PEM), to add to the trust
    /// anchors of every HTTPS transfer and TR-069 session.
    pub fn custom_ca_pem(&self) -> Option<&[u8]> {
        self.custom_ca.installed.as_ref().map(|c| c.pem.as_slice())
    }

    /// The installed custom CA.
    pub fn custom_ca(&self) -> Option<&InstalledCa> {
        self.custom_ca.installed.as_ref()
    }

    /// The last custom CA provisioning attempt.
    pub fn custom_ca_attempt(&self) -> Option<&CaAttempt> {
        self.custom_ca.last.as_ref()
    }

    /// The seeds' "Custom CA Info" block (module docs) for the status page.
    pub(crate) fn custom_ca_status(&self) -> Value {
        let c = &self.custom_ca;
        let provisioning = match &c.last {
            None => "Never provisioned".to_string(),
            Some(a) if a.ok => format!("Last provisioning succeeded at {}", stamp(a.at)),
            Some(a) => format!("Last provisioning failed at {}", stamp(a.at)),
        };
        let info = match &c.installed {
            Some(i) => format!("Installed: {}", i.common_name),
            None => "Not Installed".to_string(),
        };
        json!({
            "provisioning_status": provisioning,
            "info": info,
            "rule": self.params.get_or_empty("Custom_CA_Rule").trim(),
            "source": c.installed.as_ref().map(|i| i.source.clone()),
            "certificates": c.installed.as_ref().map_or(0, |i| i.count),
            "error": c.last.as_ref().and_then(|a| a.error.clone()),
        })
    }

    /// At boot: a set rule is fetched again.
    pub(crate) fn custom_ca_boot(&mut self) {
        let rule = self
            .params
            .get_or_empty("Custom_CA_Rule")
            .trim()
            .to_string();
        self.custom_ca.pending = !rule.is_empty();
        self.custom_ca.rule_seen = rule;
    }

    /// After every change: a new rule text is fetched; an emptied one
    /// removes the installed CA.
    pub(crate) fn custom_ca_check_rule(&mut self) {
        let rule = self.params.get_or_empty("Custom_CA_Rule").trim();
        if rule == self.custom_ca.rule_seen {
            return;
        }
        self.custom_ca.rule_seen = rule.to_string();
        if rule.is_empty() {
            self.custom_ca.pending = false;
            if self.custom_ca.installed.take().is_some() {
                self.out.actions.push_back(Action::CustomCaFinished {
                    ok: true,
                    error: None,
                });
            }
        } else {
            self.custom_ca.pending = true;
        }
    }

    /// Starts the `Custom_CA_Rule` fetch (or fails at once).
    pub(crate) fn start_custom_ca(&mut self) {
        self.custom_ca.pending = false;
        let text = self
            .params
            .get_or_empty("Custom_CA_Rule")
            .trim()
            .to_string();
        let sel = match ProfileRule::parse(&text).map(|r| r.select(&self.macro_context())) {
            Ok(Ok(Some(s))) => s,
            Ok(Ok(None)) => return, // no alternative applies: nothing to fetch
            Ok(Err(e)) | Err(e) => {
                return self.custom_ca_done(Err(format!("bad Custom_CA_Rule `{text}`: {e}")))
            }
        };
        if let Err(e) = self.check_domain(&sel.url) {
            return self.custom_ca_done(Err(format!("Custom_CA_Rule {e}")));
        }
        let mut fl = self.in_flight(Purpose::CustomCa, &sel);
        self.send(&mut fl);
        self.op = Some(Op::CustomCa(CaOp { fl }));
    }

    pub(crate) fn custom_ca_fetch_done(
        &mut self,
        mut op: CaOp,
        id: FetchId,
        verdict: Verdict,
        server_ip: Option<String>,
    ) {
        if op.fl.id != id {
            self.stats.stale_results += 1;
            self.op = Some(Op::CustomCa(op));
            return;
        }
        if server_ip.is_some() {
            op.fl.server_ip = server_ip;
        }
        let Some(verdict) = self.drive(&mut op.fl, verdict) else {
            self.op = Some(Op::CustomCa(op));
            return;
        };
        self.op = None;
        let url = op.fl.url.to_string();
        match verdict {
            Verdict::Body { body, .. } => {
                let r = self.install_custom_ca(body, url);
                self.custom_ca_done(r);
            }
            Verdict::Fail { error, .. } => {
                self.custom_ca_done(Err(format!("custom CA {url}: {error}")))
            }
            _ => unreachable!("drive() handles redirects and challenges"),
        }
    }

    /// Installs `pem` when it holds usable certificates; else the reason,
    /// and the previous CA stays.
    pub(crate) fn install_custom_ca(&mut self, pem: Vec<u8>, source: String) -> Result<(), String> {
        match phoneprov_pki::check_trust_anchors(&pem) {
            Ok(t) => {
                self.custom_ca.installed = Some(InstalledCa {
                    pem,
                    common_name: t.common_name,
                    count: t.count,
                    source,
                });
                Ok(())
            }
            Err(e) => Err(format!(
                "custom CA {source} is not a certificate file ({e}); the phone keeps its previous custom CA"
            )),
        }
    }

    /// Records the outcome of an attempt and tells the driver.
    pub(crate) fn custom_ca_done(&mut self, result: Result<(), String>) {
        let error = result.err();
        self.custom_ca.last = Some(CaAttempt {
            ok: error.is_none(),
            at: self.now,
            error: error.clone(),
        });
        self.out.actions.push_back(Action::CustomCaFinished {
            ok: error.is_none(),
            error,
        });
    }
}
