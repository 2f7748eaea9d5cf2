//! Report uploads (`Report_Rule`, `HTTP_Report_Method`) and the status
//! document used by `--post` resyncs (R-HTTP-2).
//!
//! `Report_Rule` accepts two options the rule grammar does not know,
//! removed before parsing: `--delta` (only parameters whose value differs
//! from the schema default) and `--status` (the status parameters below).
//! Without either, the report holds every parameter in effect (explicit
//! ones and every schema default). `--delta --status` holds both parts.
//! The body is a `<flat-profile>` document; with `--key` it is encrypted as
//! `openssl enc -aes-256-cbc -k KEY` would (`phoneprov_crypto::encode`);
//! without `--key` but with an RFC 8188 key in `IKM_HTTP_Encrypt_Content`
//! it is sent as `Content-Encoding: aes128gcm`.
//!
//! Parameters the schema marks secret (passwords, keys, PINs,
//! `IKM_HTTP_Encrypt_Content`) are left out of every report.
//!
//! Status parameters: `Product_Name`, `Product_Series`, `Serial_Number`,
//! `MAC_Address`, `Software_Version`, `Hardware_Version`,
//! `Client_Certificate`, `Provisioning_State` ($PRVST),
//! `Upgrade_State` ($UPGST), `Last_Resync_Class`, `Resync_Count`.

use crate::engine::{Op, Phone};
use crate::fetch::{InFlight, Verdict};
use crate::types::{Action, FetchId, Purpose};
use phoneprov_crypto::{encode, EncodeOptions, Scheme as Cipher};
use phoneprov_profile::{schema, FlatProfile};
use phoneprov_rule::ProfileRule;

#[derive(Debug)]
pub(crate) struct ReportOp {
    fl: InFlight,
}

/// `(rule without --delta/--status, delta, status)`.
pub fn split_report_options(text: &str) -> (String, bool, bool) {
    let mut t = text.to_string();
    let mut flags = [false; 2];
    for (i, opt) in ["--delta", "--status"].iter().enumerate() {
        while let Some(p) = t.find(opt) {
            flags[i] = true;
            t.replace_range(p..p + opt.len(), "");
        }
    }
    // Drop option brackets left empty.
    while let Some(open) = t.find('[') {
        match t[open..].find(']') {
            Some(close) if t[open + 1..open + close].trim().is_empty() => {
                t.replace_range(open..=open + close, "");
            }
            _ => break,
        }
    }
    (t.trim().to_string(), flags[0], flags[1])
}

impl Phone {
    /// The status parameters (module docs), as a profile.
    pub fn status_profile(&self) -> FlatProfile {
        let ctx = self.macro_context();
        let mut p = FlatProfile::new();
        let id = &self.id.identity;
        p.set("Product_Name", &id.pn);
        p.set("Product_Series", &id.psn);
        p.set("Serial_Number", &id.serial);
        p.set("MAC_Address", ctx.get("MAC").unwrap_or(""));
        p.set("Software_Version", &id.swver);
        p.set("Hardware_Version", &id.hwver);
        p.set("Client_Certificate", ctx.get("CCERT").unwrap_or(""));
        p.set("Provisioning_State", ctx.get("PRVST").unwrap_or(""));
        p.set("Upgrade_State", ctx.get("UPGST").unwrap_or(""));
        p.set(
            "Last_Resync_Class",
            &self
                .stats
                .last_class
                .map(|c| format!("{c:?}"))
                .unwrap_or_default(),
        );
        p.set("Resync_Count", &self.stats.resyncs_started.to_string());
        p
    }

    /// The report document for the given flags (module docs).
    pub fn report_xml(&self, delta: bool, status: bool) -> String {
        let mut p = FlatProfile::new();
        if delta || !status {
            if !delta {
                for spec in schema::all().iter().filter(|s| !s.secret) {
                    for name in spec.instances() {
                        p.set(&name, self.params.get_or_empty(&name));
                    }
                }
            }
            let entries: Vec<_> = if delta {
                self.params.delta().collect()
            } else {
                self.params.iter().collect()
            };
            for (k, e) in entries {
                // Secrets (passwords, `IKM_HTTP_Encrypt_Content`, R-FMT-7)
                // never leave the phone in a report.
                if !schema::lookup(k).is_some_and(|s| s.secret) {
                    p.set_with_access(k, &e.value, e.access);
                }
            }
        }
        if status {
            p.merge(&self.status_profile());
        }
        p.to_xml()
    }

    /// Body and content type of a `--post WHAT` resync: the status document
    /// for `status`/`identity`, else the (macro-expanded) text itself.
    pub(crate) fn post_body(&self, what: &str) -> (Vec<u8>, String) {
        match what.trim().to_ascii_lowercase().as_str() {
            "status" | "identity" => (
                self.status_profile().to_xml().into_bytes(),
                "application/xml".into(),
            ),
            _ => (
                what.as_bytes().to_vec(),
                "application/x-www-form-urlencoded".into(),
            ),
        }
    }

    pub(crate) fn start_report(&mut self, rule: Option<String>) {
        let text = rule.unwrap_or_else(|| self.params.get_or_empty("Report_Rule").to_string());
        let (text, delta, status) = split_report_options(&text);
        if text.is_empty() {
            return self.report_done(false, Some("Report_Rule is empty".into()));
        }
        let sel = match ProfileRule::parse(&text).map(|r| r.select(&self.macro_context())) {
            Ok(Ok(Some(s))) => s,
            Ok(Ok(None)) => {
                return self.report_done(false, Some("no Report_Rule alternative applies".into()))
            }
            Ok(Err(e)) | Err(e) => {
                return self.report_done(false, Some(format!("bad Report_Rule: {e}")))
            }
        };
        if let Err(e) = self.check_domain(&sel.url) {
            self.syslog("Log_Failure_Msg", Some(&sel.url), None, Some(&e));
            return self.report_done(false, Some(e));
        }
        let xml = self.report_xml(delta, status);
        // `--key`: openssl enc AES-256-CBC; else an RFC 8188 key in
        // IKM_HTTP_Encrypt_Content: aes128gcm with `Content-Encoding`.
        let (cipher, key, encoding) = match (&sel.options.key, self.ikm()) {
            (Some(k), _) => (Some(Cipher::Aes256Cbc), Some(k.clone()), None),
            (None, Some(ikm)) => (Some(Cipher::Aes128Gcm), Some(ikm), Some("aes128gcm")),
            (None, None) => (None, None, None),
        };
        let (body, ct) = match cipher {
            Some(scheme) => {
                let opts = EncodeOptions {
                    scheme: Some(scheme),
                    key: key.map(String::into_bytes),
                    ..EncodeOptions::default()
                };
                match encode(xml.as_bytes(), &opts) {
                    Ok(b) => (b, "application/octet-stream"),
                    Err(e) => {
                        return self.report_done(false, Some(format!("cannot encrypt report: {e}")))
                    }
                }
            }
            None => (xml.into_bytes(), "application/xml"),
        };
        let mut fl = self.in_flight(Purpose::Report, &sel);
        fl.method = self
            .params
            .get_or_empty("HTTP_Report_Method")
            .trim()
            .to_ascii_uppercase();
        if fl.method != "PUT" {
            fl.method = "POST".into();
        }
        fl.body = body;
        fl.content_type = Some(ct.into());
        if let Some(e) = encoding {
            fl.extra_headers
                .push(("Content-Encoding".to_string(), e.to_string()));
        }
        self.stats.reports_started += 1;
        self.send(&mut fl);
        self.op = Some(Op::Report(ReportOp { fl }));
    }

    pub(crate) fn report_fetch_done(
        &mut self,
        mut op: ReportOp,
        id: FetchId,
        verdict: Verdict,
        server_ip: Option<String>,
    ) {
        if op.fl.id != id {
            self.stats.stale_results += 1;
            self.op = Some(Op::Report(op));
            return;
        }
        if server_ip.is_some() {
            op.fl.server_ip = server_ip;
        }
        let Some(verdict) = self.drive(&mut op.fl, verdict) else {
            self.op = Some(Op::Report(op));
            return;
        };
        self.op = None;
        match verdict {
            Verdict::Body { .. } => self.report_done(true, None),
            Verdict::Fail { error, .. } => self.report_done(false, Some(error)),
            _ => unreachable!("drive() handles redirects and challenges"),
        }
    }

    fn report_done(&mut self, ok: bool, error: Option<String>) {
        if ok {
            self.stats.reports_ok += 1;
        } else {
            self.stats.reports_failed += 1;
        }
        self.out
            .actions
            .push_back(Action::ReportFinished { ok, error });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_options_are_stripped() {
        assert_eq!(
            split_report_options("[--delta] http://h/r/$MA.xml"),
            ("http://h/r/$MA.xml".into(), true, false)
        );
        assert_eq!(
            split_report_options("[--key k --status --delta] http://h/r"),
            ("[--key k  ] http://h/r".into(), true, true)
        );
        assert_eq!(
            split_report_options("http://h/r"),
            ("http://h/r".into(), false, false)
        );
    }
}
