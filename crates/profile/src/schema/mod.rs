//! The parameter schema: every parameter phoneprov knows, as data.
//!
//! One [`ParamSpec`] per parameter (indexed families such as `User_ID_n_`
//! or `GPP_A`…`GPP_P` are one entry each), holding the value type, the
//! factory default, the TR-069 path where the source documents give one
//! (R-TR69-4) and the requirement it comes from. The phone engine reads
//! defaults and typed values from here; the server and `lint` validate with
//! it. The table itself is in `table.rs`; value grammars in `validate.rs`.

mod table;
mod validate;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

pub use table::PROFILE_RULE_NEWER_DEFAULT;
pub use validate::{
    localized_bool, parse_bool, parse_firewall_config, parse_periodic, parse_retry_schedule,
    FirewallConfig, FirewallRule, Invalid, Periodic,
};

/// How an entry's name is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Index {
    /// A single parameter.
    None,
    /// `prefix` + `1..=max` + `suffix`, e.g. `User_ID_1_` … `User_ID_16_`.
    Number { max: u16 },
    /// `prefix` + one letter in `first..=last` + `suffix`, e.g. `GPP_A` … `GPP_P`.
    Letter { first: char, last: char },
}

/// Which schedule grammar a [`ParamType::Schedule`] value follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ScheduleKind {
    /// `Resync_Periodic`: `N` seconds, a list `a,b,c` (successive
    /// intervals, the last one repeating) or `N+R` (N plus a random 0..R).
    Periodic,
    /// `Resync_Error_Retry_Delay`: `N`, or a comma list backoff schedule
    /// (`60,120,240,…,86400`, the last one repeating).
    RetryBackoff,
    /// `Resync_At__HHmm_`: empty (off) or a time of day `HHmm`.
    TimeOfDay,
}

/// Value type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ParamType {
    /// `Yes`/`No` (also `true`/`false`/`1`/`0`, any case).
    Bool,
    /// A decimal integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// One of a fixed list of values (case-sensitive).
    Enum(&'static [&'static str]),
    /// Free text.
    String,
    /// A URL with one of these schemes (empty = unset).
    Url(&'static [&'static str]),
    /// A host name or IP address, with `:port` when `port` is true.
    Host { port: bool },
    /// An IPv4 or IPv6 address.
    IpAddr,
    /// A profile/upgrade/report rule (R-RULE), checked by `phoneprov-rule`.
    Rule,
    /// A macro template (R-MACRO, R-LOG), checked by `phoneprov-rule`.
    Template,
    /// A comma list of DHCP option codes (R-DHCP-1).
    DhcpOptions { v6: bool },
    /// A comma list of domain names (R-SEC-1).
    DomainList,
    /// The `Firewall_Config` keyword list (R-SEC-5).
    FirewallConfig,
    /// An OpenSSL cipher string (R-SEC-2).
    CipherList,
    /// A resync schedule.
    Schedule(ScheduleKind),
}

/// One schema entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamSpec {
    /// Display name; indexed entries show their pattern (`User_ID_n_`,
    /// `GPP_[A-P]`).
    pub name: &'static str,
    /// Name before the index (the whole name when not indexed).
    pub prefix: &'static str,
    /// Name after the index.
    pub suffix: &'static str,
    pub index: Index,
    pub kind: ParamType,
    /// Factory default value.
    pub default: &'static str,
    /// TR-069 path, where known.
    pub tr069: Option<&'static str>,
    /// Other names accepted for this parameter (older firmware, seeds).
    pub aliases: &'static [&'static str],
    /// Requirement id the entry comes from.
    pub spec: &'static str,
    /// One line on what it does.
    pub doc: &'static str,
}

impl ParamSpec {
    /// Does `name` name this parameter (or one instance of it)?
    pub fn matches(&self, name: &str) -> bool {
        self.index_of(name).is_some() || self.aliases.contains(&name)
    }

    /// The index `name` carries for this entry: `Some(None)` for a plain
    /// name, `Some(Some("3"))` for `User_ID_3_`, `None` when it does not match.
    fn index_of<'n>(&self, name: &'n str) -> Option<Option<&'n str>> {
        match self.index {
            Index::None => (name == self.prefix).then_some(None),
            Index::Number { max } => {
                let mid = name.strip_prefix(self.prefix)?.strip_suffix(self.suffix)?;
                let ok = !mid.is_empty()
                    && !mid.starts_with('0')
                    && mid.bytes().all(|b| b.is_ascii_digit())
                    && mid.parse::<u16>().is_ok_and(|n| (1..=max).contains(&n));
                ok.then_some(Some(mid))
            }
            Index::Letter { first, last } => {
                let mid = name.strip_prefix(self.prefix)?.strip_suffix(self.suffix)?;
                let mut chars = mid.chars();
                let c = chars.next()?;
                (chars.next().is_none() && (first..=last).contains(&c)).then_some(Some(mid))
            }
        }
    }

    /// The concrete name of instance `i` (`1`, `2`, … or `A`, `B`, …);
    /// for non-indexed entries the name itself.
    pub fn instance(&self, i: &str) -> String {
        match self.index {
            Index::None => self.prefix.to_string(),
            _ => format!("{}{i}{}", self.prefix, self.suffix),
        }
    }

    /// Every concrete name of this entry (for suggestions and listings).
    pub fn instances(&self) -> Vec<String> {
        match self.index {
            Index::None => vec![self.prefix.to_string()],
            Index::Number { max } => (1..=max).map(|n| self.instance(&n.to_string())).collect(),
            Index::Letter { first, last } => (first..=last)
                .map(|c| self.instance(&c.to_string()))
                .collect(),
        }
    }

    /// The factory default.
    pub fn default_value(&self) -> &'static str {
        self.default
    }

    /// Checks a (trimmed) value against the type. Rules are checked with
    /// `phoneprov_rule::lint_rule` (errors only); templates always pass here
    /// (unknown macros are lint warnings, not invalid values).
    pub fn validate(&self, value: &str) -> Result<(), Invalid> {
        validate::validate(self, value)
    }
}

struct NameIndex {
    exact: HashMap<&'static str, &'static ParamSpec>,
    indexed: Vec<&'static ParamSpec>,
}

fn index() -> &'static NameIndex {
    static IDX: OnceLock<NameIndex> = OnceLock::new();
    IDX.get_or_init(|| {
        let mut exact = HashMap::new();
        let mut indexed = Vec::new();
        for spec in table::SPECS {
            match spec.index {
                Index::None => {
                    exact.insert(spec.prefix, spec);
                }
                _ => indexed.push(spec),
            }
            for a in spec.aliases {
                exact.insert(*a, spec);
            }
        }
        NameIndex { exact, indexed }
    })
}

/// The entry for an XML element name, resolving indexed names
/// (`User_ID_3_` → `User_ID_n_`) and aliases (`Log_Resync_Request_Msg`).
pub fn lookup(name: &str) -> Option<&'static ParamSpec> {
    let idx = index();
    if let Some(s) = idx.exact.get(name) {
        return Some(s);
    }
    idx.indexed
        .iter()
        .copied()
        .find(|s| s.index_of(name).is_some())
}

/// The canonical name for `name`: itself, or the parameter an alias
/// stands for (`Log_Resync_Request_Msg` → `Log_Request_Msg`).
pub fn canonical_name(name: &str) -> Option<String> {
    let spec = lookup(name)?;
    if spec.aliases.contains(&name) {
        return Some(spec.prefix.to_string());
    }
    Some(name.to_string())
}

/// The entry with this TR-069 path (`Device.X_CISCO_SecuritySettings.TLSCipherList`).
pub fn by_tr069_path(path: &str) -> Option<&'static ParamSpec> {
    table::SPECS.iter().find(|s| s.tr069 == Some(path))
}

/// All entries, in table order.
pub fn all() -> &'static [ParamSpec] {
    table::SPECS
}

/// The factory default of a (possibly indexed) parameter name.
pub fn default_of(name: &str) -> Option<&'static str> {
    lookup(name).map(|s| s.default)
}

/// Validates `value` for the parameter `name`; `None` when the name is unknown.
pub fn validate(name: &str, value: &str) -> Option<Result<(), Invalid>> {
    lookup(name).map(|s| s.validate(value))
}

#[cfg(test)]
mod tests;
