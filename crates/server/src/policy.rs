//! [`Policy`]: the config compiled for fast per-request use (path
//! patterns, `[[auth]]` and `[redirects]` by MAC, resolved directories),
//! and the device variables that mean something to the server.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use phoneprov_store::Mac;

use crate::config::{AuthRule, AuthScheme, Config, FirmwareTarget, ReportAuth};
use crate::metrics_setup::Proto;
use crate::paths::PathPattern;

/// The config compiled for fast per-request use.
#[derive(Debug)]
pub struct Policy {
    /// The source config.
    pub config: Config,
    /// Compiled `[profiles] paths`.
    pub patterns: Vec<PathPattern>,
    /// First pattern containing `$MA`, with the macro left in, for rules.
    pub rule_path: String,
    /// `[[auth]]` by MAC.
    auth_by_mac: HashMap<Mac, usize>,
    /// `[[auth]]` by group.
    auth_by_group: HashMap<String, usize>,
    /// `[[auth]]` with `all = true`.
    auth_all: Option<usize>,
    /// `[redirects]`.
    pub redirects: HashMap<Mac, String>,
    /// `[reports] auth = "users"` as a rule.
    reports_rule: Option<AuthRule>,
    /// Resolved directories.
    pub dirs: Dirs,
}

/// Directories, absolute or relative to the working directory.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// Data directory.
    pub data: PathBuf,
    /// Templates.
    pub templates: PathBuf,
    /// Static files (canonical when it exists).
    pub static_root: PathBuf,
    /// Firmware (canonical when it exists).
    pub firmware_root: PathBuf,
}

impl Policy {
    /// Compiles a checked config.
    pub fn new(config: Config, data: &Path) -> Policy {
        let resolve = |p: &Option<PathBuf>, default: &str| {
            let p = p.clone().unwrap_or_else(|| PathBuf::from(default));
            let p = if p.is_absolute() { p } else { data.join(p) };
            std::fs::canonicalize(&p).unwrap_or(p)
        };
        let dirs = Dirs {
            data: data.to_path_buf(),
            templates: resolve(&config.templates_dir, "templates"),
            static_root: resolve(&config.static_dir, "static"),
            firmware_root: resolve(&config.firmware_dir, "firmware"),
        };
        let patterns = config
            .profiles
            .paths
            .iter()
            .map(|p| PathPattern::parse(p).expect("checked by Config::check"))
            .collect();
        let rule_path = config
            .profiles
            .paths
            .iter()
            .find(|p| p.contains("$MA"))
            .cloned()
            .unwrap_or_else(|| "/$MA.cfg".into());
        let mut auth_by_mac = HashMap::new();
        let mut auth_by_group = HashMap::new();
        let mut auth_all = None;
        for (i, rule) in config.auth.iter().enumerate() {
            for m in &rule.macs {
                if let Ok(mac) = Mac::parse(m) {
                    auth_by_mac.insert(mac, i);
                }
            }
            for g in &rule.groups {
                auth_by_group.insert(g.clone(), i);
            }
            if rule.all {
                auth_all = Some(i);
            }
        }
        let redirects = config
            .redirects
            .iter()
            .filter_map(|(m, u)| Mac::parse(m).ok().map(|m| (m, u.clone())))
            .collect();
        let reports_rule = (config.reports.auth == ReportAuth::Users).then(|| AuthRule {
            macs: Vec::new(),
            groups: Vec::new(),
            all: true,
            users: config.reports.users.clone(),
            schemes: config.reports.schemes.clone(),
        });
        Policy {
            reports_rule,
            config,
            patterns,
            rule_path,
            auth_by_mac,
            auth_by_group,
            auth_all,
            redirects,
            dirs,
        }
    }

    /// The auth rule covering a device (MAC first, then group, then all).
    pub fn auth_for(&self, mac: Mac, group: Option<&str>) -> Option<&AuthRule> {
        self.auth_by_mac
            .get(&mac)
            .or_else(|| group.and_then(|g| self.auth_by_group.get(g)))
            .or(self.auth_all.as_ref())
            .map(|&i| &self.config.auth[i])
    }

    /// The rule a report for a device must pass (`[reports] auth`): its
    /// profile's `[[auth]]` rule, none, or `[reports] users`.
    pub fn report_auth_for(&self, mac: Mac, group: Option<&str>) -> Option<&AuthRule> {
        match self.config.reports.auth {
            ReportAuth::Profiles => self.auth_for(mac, group),
            ReportAuth::None => None,
            ReportAuth::Users => self.reports_rule.as_ref(),
        }
    }

    /// The schemes of `rule` offered and accepted on `proto`: Basic sends
    /// the password itself, so on plain HTTP it is left out unless
    /// `[security] allow_basic_over_http = true` (issue 12 item 5; Digest
    /// stays offered everywhere).
    pub fn schemes<'r>(&self, rule: &'r AuthRule, proto: Proto) -> Cow<'r, [AuthScheme]> {
        if proto == Proto::Https || self.config.security.allow_basic_over_http {
            return Cow::Borrowed(&rule.schemes);
        }
        Cow::Owned(
            rule.schemes
                .iter()
                .copied()
                .filter(|s| *s != AuthScheme::Basic)
                .collect(),
        )
    }

    /// The firmware target of a device: its own variables
    /// `firmware_version` and `firmware_file` when both are set (what a
    /// staged rollout writes, issue 14 item 5b; see `phoneprov_store`'s
    /// rollout module), else its group's, else its model's.
    pub fn firmware_for(
        &self,
        device: &phoneprov_store::Device,
    ) -> Option<Cow<'_, FirmwareTarget>> {
        let own = |name: &str| {
            device
                .vars
                .get(name)
                .filter(|v: &&String| !v.trim().is_empty())
        };
        if let (Some(version), Some(file)) = (
            own(phoneprov_store::FIRMWARE_VERSION_VAR),
            own(phoneprov_store::FIRMWARE_FILE_VAR),
        ) {
            return Some(Cow::Owned(FirmwareTarget {
                version: version.clone(),
                file: file.clone(),
            }));
        }
        let fw = &self.config.firmware;
        device
            .group
            .as_deref()
            .and_then(|g| fw.groups.get(g))
            .or_else(|| device.model.as_deref().and_then(|m| fw.models.get(m)))
            .map(Cow::Borrowed)
    }
}

/// Device variables that mean something to the server.
pub mod vars {
    /// `pending` marks an auto-registered device awaiting approval,
    /// `rejected` one an operator refused (both 404; `phoneprov device
    /// approve` removes it). See `phoneprov_store::Approval`.
    pub const STATUS: &str = phoneprov_store::STATUS_VAR;
    /// A URL: the device has moved; answered with a redirect.
    pub const REDIRECT: &str = "redirect";
}

/// Whether a device is awaiting approval or was rejected (its profile
/// is refused either way).
pub fn is_pending(vars: &BTreeMap<String, String>) -> bool {
    phoneprov_store::Approval::is_held(vars)
}
