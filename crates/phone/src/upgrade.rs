//! Firmware upgrades (R-FLOW-3, R-FLOW-5): `Upgrade_Enable`,
//! `Upgrade_Rule` evaluated after every resync (its conditions see
//! `$SWVER`), `Downgrade_Rev_Limit`, `Upgrade_Error_Retry_Delay`, idle
//! only, a simulated install and reboot, then `Resync_After_Upgrade_Attempt`.
//!
//! # The image's version (decision)
//! The engine simulates firmware, so an image names its own version:
//! 1. a body whose first line is `PHONEPROV-FIRMWARE <version>` has that
//!    version (the rest of the body is the image);
//! 2. otherwise a file name `<stem>.loads` whose stem holds a `.`
//!    (`sip8845.11-3-2MPP0001-609.loads`) has version `<stem>`
//!    (`sip8845.11-3-2MPP0001-609`);
//! 3. otherwise the image is refused (final failure).
//!
//! Before fetching, an automatic upgrade is skipped when the file name
//! (rule 2) already equals `$SWVER`, or when the selected URL is the one
//! the running firmware was installed from. This is what ends a
//! multi-stage chain such as
//! `($SWVER lt 11.0.1)? http://s/stage1.loads | ($SWVER lt 12.0.1)? http://s/stage2.loads | http://s/final.loads`:
//! after `final.loads` is installed the rule still selects it, and it is
//! not fetched again.
//!
//! # Failures (decision)
//! *Final* (no automatic retry until `Upgrade_Rule`'s text or the URL it
//! selects changes): a bad rule or URL, a host outside
//! `Restricted_Access_Domains`, an image without a version, an image below
//! `Downgrade_Rev_Limit`. *Retryable*: every transfer failure (HTTP
//! status, timeout, TFTP errors, authentication), retried after
//! `Upgrade_Error_Retry_Delay` seconds; a delay of 0 makes them final too
//! (otherwise the resync that follows each attempt would retry at once,
//! forever). `UpgradeNow` ignores these blocks but not the limit.

use crate::engine::{Op, Phone, ResyncSource, UpgradeSource};
use crate::fetch::{InFlight, Verdict};
use crate::types::{Action, FetchId, Purpose};
use phoneprov_rule::{compare_versions, ProfileRule, ResolvedUrl, Scheme};
use std::cmp::Ordering;

/// First-line marker of a simulated firmware image.
pub const FIRMWARE_MAGIC: &str = "PHONEPROV-FIRMWARE ";

/// The version a file name gives (`<stem>.loads`, stem holding a `.`).
pub fn name_version(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let file = path.rsplit('/').next().unwrap_or(path);
    let lower = file.to_ascii_lowercase();
    let stem = lower
        .strip_suffix(".loads")
        .map(|_| &file[..file.len() - 6])?;
    (stem.contains('.') && !stem.starts_with('.')).then(|| stem.to_string())
}

/// The version of a fetched image (module docs).
pub fn image_version(path: &str, body: &[u8]) -> Option<String> {
    let first = body.split(|&b| b == b'\n').next().unwrap_or(body);
    if let Some(v) = std::str::from_utf8(first)
        .ok()
        .and_then(|l| l.strip_prefix(FIRMWARE_MAGIC))
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        return Some(v.to_string());
    }
    name_version(path)
}

/// Builds a simulated image body of `version` (for servers and tests).
pub fn make_image(version: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("{FIRMWARE_MAGIC}{version}\n").into_bytes();
    out.extend_from_slice(payload);
    out
}

/// An accepted image waiting for the phone to become idle.
#[derive(Debug)]
pub(crate) struct PendingInstall {
    version: String,
    url: ResolvedUrl,
    server_ip: Option<String>,
}

#[derive(Debug)]
pub(crate) struct UpgradeOp {
    fl: InFlight,
    /// `rule text \n url`, blocked after a final failure (automatic only).
    key: Option<String>,
}

impl Phone {
    pub(crate) fn start_upgrade(&mut self, src: UpgradeSource) {
        let explicit = matches!(src, UpgradeSource::Explicit(_));
        if !self.params.get_bool("Upgrade_Enable", true) {
            if explicit {
                self.refuse("upgrade refused: Upgrade_Enable is No");
            }
            return;
        }
        let text = match &src {
            UpgradeSource::Rule => {
                if self.upgrade.retry_at.is_some() {
                    return; // its timer queues the retry
                }
                self.params.get_or_empty("Upgrade_Rule").trim().to_string()
            }
            UpgradeSource::Explicit(u) => u.clone(),
        };
        if text.is_empty() {
            return;
        }
        let rule_key = |url: &str| (!explicit).then(|| format!("{text}\n{url}"));
        if !explicit && self.upgrade.blocked.as_deref() == rule_key("").as_deref() {
            return; // the rule itself was bad, and has not changed
        }
        let rule = match ProfileRule::parse(&text) {
            Ok(r) => r,
            Err(e) => {
                return self.upgrade_failed(
                    format!("bad upgrade rule: {e}"),
                    None,
                    None,
                    true,
                    rule_key(""),
                )
            }
        };
        let sel = match rule.select(&self.macro_context()) {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                return self.upgrade_failed(
                    format!("bad upgrade rule: {e}"),
                    None,
                    None,
                    true,
                    rule_key(""),
                )
            }
        };
        let url_text = sel.url.to_string();
        let key = rule_key(&url_text);
        if !explicit {
            if key.is_some() && self.upgrade.blocked == key {
                return;
            }
            let running = &self.id.identity.swver;
            if self
                .upgrade
                .installed_from
                .as_ref()
                .is_some_and(|(u, v)| *u == url_text && v == running)
                || name_version(&sel.url.path).as_deref() == Some(running.as_str())
            {
                return;
            }
        }
        if sel.url.scheme == Scheme::Gds {
            return self.upgrade_failed(
                "gds:// is not a firmware location".into(),
                Some(&sel.url),
                None,
                true,
                key,
            );
        }
        if let Err(e) = self.check_domain(&sel.url) {
            return self.upgrade_failed(e, Some(&sel.url), None, true, key);
        }
        self.stats.upgrades_started += 1;
        self.syslog("Log_Upgrade_Request_Msg", Some(&sel.url), None, None);
        let mut fl = self.in_flight(Purpose::Firmware, &sel);
        self.send(&mut fl);
        self.op = Some(Op::Upgrade(UpgradeOp { fl, key }));
    }

    pub(crate) fn upgrade_fetch_done(
        &mut self,
        mut op: UpgradeOp,
        id: FetchId,
        verdict: Verdict,
        server_ip: Option<String>,
    ) {
        if op.fl.id != id {
            self.stats.stale_results += 1;
            self.op = Some(Op::Upgrade(op));
            return;
        }
        if server_ip.is_some() {
            op.fl.server_ip = server_ip;
        }
        let Some(verdict) = self.drive(&mut op.fl, verdict) else {
            self.op = Some(Op::Upgrade(op));
            return;
        };
        let url = op.fl.url.clone();
        let ip = op.fl.server_ip.clone();
        match verdict {
            Verdict::Body { body, .. } => {
                let Some(version) = image_version(&url.path, &body) else {
                    return self.upgrade_failed(
                        format!(
                            "{url}: image has no version (no `{}` header line, no <name>.<version>.loads file name)",
                            FIRMWARE_MAGIC.trim()
                        ),
                        Some(&url),
                        ip.as_deref(),
                        true,
                        op.key,
                    );
                };
                let limit = self
                    .params
                    .get_or_empty("Downgrade_Rev_Limit")
                    .trim()
                    .to_string();
                if !limit.is_empty() && compare_versions(&version, &limit) == Ordering::Less {
                    return self.upgrade_failed(
                        format!(
                            "image version {version} is below Downgrade_Rev_Limit {limit}; refused"
                        ),
                        Some(&url),
                        ip.as_deref(),
                        true,
                        op.key,
                    );
                }
                self.op = None;
                self.stats.last_upgrade_at = Some(self.now);
                self.stats.last_upgrade_error = None;
                self.upgrade.blocked = None;
                self.upgrade.installed_from = Some((url.to_string(), version.clone()));
                if version == self.id.identity.swver {
                    // Already running it: nothing to install.
                    self.syslog("Log_Upgrade_Success_Msg", Some(&url), ip.as_deref(), None);
                    self.out.actions.push_back(Action::UpgradeFinished {
                        ok: true,
                        error: None,
                        final_failure: false,
                    });
                    return self.after_upgrade_attempt();
                }
                let install = PendingInstall {
                    version,
                    url,
                    server_ip: ip,
                };
                if self.env.in_call {
                    // Downloaded during a call that started meanwhile:
                    // the reboot waits for the call to end (R-FLOW-5).
                    self.op = Some(Op::Install(install));
                } else {
                    self.install(install);
                }
            }
            Verdict::Fail { error, .. } => {
                let no_retry = self.params.get_u64("Upgrade_Error_Retry_Delay", 3600) == 0;
                self.upgrade_failed(error, Some(&url), ip.as_deref(), no_retry, op.key)
            }
            Verdict::Redirect(_) | Verdict::Challenge { .. } => {
                unreachable!("drive() handles redirects and challenges")
            }
        }
    }

    /// The simulated install: new `$SWVER`, `Reboot`, boot again.
    pub(crate) fn install(&mut self, p: PendingInstall) {
        self.op = None;
        self.id.identity.swver = p.version.clone();
        self.stats.upgrades_ok += 1;
        self.syslog(
            "Log_Upgrade_Success_Msg",
            Some(&p.url),
            p.server_ip.as_deref(),
            None,
        );
        self.out.actions.push_back(Action::UpgradeFinished {
            ok: true,
            error: None,
            final_failure: false,
        });
        self.out.actions.push_back(Action::Reboot {
            new_swver: p.version,
        });
        self.stats.reboots += 1;
        self.boot(true);
    }

    fn upgrade_failed(
        &mut self,
        err: String,
        url: Option<&ResolvedUrl>,
        ip: Option<&str>,
        final_failure: bool,
        key: Option<String>,
    ) {
        self.op = None;
        self.stats.upgrades_failed += 1;
        self.stats.last_upgrade_at = Some(self.now);
        self.stats.last_upgrade_error = Some(err.clone());
        self.syslog("Log_Upgrade_Failure_Msg", url, ip, Some(&err));
        if let Some(k) = key {
            if final_failure {
                self.upgrade.blocked = Some(k);
            } else {
                let d = self.params.get_u64("Upgrade_Error_Retry_Delay", 3600);
                self.upgrade.retry_at = Some(self.now.plus_secs(d));
            }
        }
        self.out.actions.push_back(Action::UpgradeFinished {
            ok: false,
            error: Some(err),
            final_failure,
        });
        self.after_upgrade_attempt();
    }

    fn after_upgrade_attempt(&mut self) {
        if self.params.get_bool("Resync_After_Upgrade_Attempt", true) {
            self.request_resync(ResyncSource::Configured);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_flow_3_image_versions() {
        assert_eq!(
            name_version("/fw/sip8845.11-3-2MPP0001-609.loads?x=1").as_deref(),
            Some("sip8845.11-3-2MPP0001-609")
        );
        assert_eq!(name_version("/fw/final.loads"), None);
        assert_eq!(name_version("/fw/a.b.bin"), None);
        assert_eq!(
            image_version("/final.loads", &make_image("12.5.0", b"\0\x01")).as_deref(),
            Some("12.5.0")
        );
        assert_eq!(image_version("/final.loads", b"garbage"), None);
        assert_eq!(
            image_version("/sip.12-0-1.loads", b"garbage").as_deref(),
            Some("sip.12-0-1")
        );
    }
}
