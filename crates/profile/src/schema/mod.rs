//! The parameter schema: every parameter of the 6800, 7800 and 8800
//! multiplatform phones (firmware 11.x/12.x), as data.
//!
//! The table is `data/params.tsv` (one row per parameter; indexed families
//! such as `User_ID_{ext}_` or `GPP_{A-P}` are one row each) and
//! `data/models.tsv` (each model's extension, line-key and attendant
//! console counts), both written by `data/gen_params.py` and compiled in
//! with `include_str!`; `table.rs` parses them once per process. Each
//! [`ParamSpec`] holds the value type, the factory default, the `ua`
//! default, whether the value is a secret, the section (web UI tab), the
//! models that have it, the firmware that introduced it where known, its
//! TR-069 path (R-TR69-4) and the requirement it comes from. The phone
//! engine reads defaults and typed values from here; the server and `lint`
//! validate with it. Value grammars are in `validate.rs`.

mod table;
mod validate;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

pub use table::{models, ModelInfo, PROFILE_PREFIX, PROFILE_RULE_NEWER_DEFAULT};
pub use validate::{
    localized_bool, parse_bool, parse_firewall_config, parse_periodic, parse_retry_schedule,
    FirewallConfig, FirewallRule, Invalid, Periodic,
};

/// What an index counts, and so how many instances a model has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Per {
    /// A fixed range, the same on every model (`PSK_1`…`PSK_16`).
    Fixed,
    /// One per extension (line) of the model (`Line_Enable_{ext}_`).
    Ext,
    /// One per line key of the model (`Extended_Function_{key}_`).
    Key,
    /// One per key of an attendant console unit (`Unit_1_Key_{ukey}_`).
    UnitKey,
}

/// How an entry's name is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Index {
    /// A single parameter.
    None,
    /// `prefix` + `min..=max` + `suffix`, e.g. `User_ID_1_` … `User_ID_16_`;
    /// `max` is the largest count of any model (see [`ParamSpec::count_on`]).
    Number { min: u16, max: u16, per: Per },
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
    /// A decimal number (`.5`, `0.020`) in `min..=max` thousandths.
    Decimal { min_milli: i64, max_milli: i64 },
    /// A hexadecimal byte such as a DiffServ value (`0x68`), at most `max`.
    Hex { max: u32 },
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
    /// An IPv4 address (or a netmask).
    Ipv4,
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
    /// A call progress tone script: `350@-19,440@-19;10(*/0/1+2)`.
    Tone,
    /// A ring cadence script: `60(.3/.2,1/.2,.3/4)`.
    Cadence,
    /// A dial plan: `(*xx|[3469]11|0|00|[2-9]xxxxxx|…)`.
    DialPlan,
    /// A softkey list: `bxfer|1;xfer|2;endcall|3;conf;`.
    KeyList,
    /// `;`-separated `key=value` pairs (extended functions, ring scripts,
    /// paging groups, programmable softkeys, attendant console keys).
    KeyValues,
    /// A daylight saving rule: `start=3/-1/7/2;end=10/-1/7/2;save=1`.
    DstRule,
    /// A time zone name `GMT`, `GMT+hh:mm` or `GMT-hh:mm`.
    TimeZone,
    /// A date `mm/dd/yyyy`.
    Date,
    /// A clock time or offset `HH/mm` or `HH:mm` (optionally signed).
    Clock,
    /// A codec name of the preferred-codec lists.
    Codec,
}

impl ParamType {
    /// Whether a value of this type is parsed (and can therefore be
    /// refused) rather than kept as free text: booleans, numbers,
    /// enumerations and codecs. An empty value of such a type with a
    /// default is an error in lint, and the phone keeps its old value
    /// when one does not parse.
    pub fn is_parsed(&self) -> bool {
        matches!(
            self,
            ParamType::Bool
                | ParamType::Int { .. }
                | ParamType::Enum(_)
                | ParamType::Decimal { .. }
                | ParamType::Hex { .. }
                | ParamType::Codec
        )
    }

    /// Whether the type says more than "any string".
    pub fn is_narrower_than_string(&self) -> bool {
        !matches!(self, ParamType::String | ParamType::Template)
    }

    /// A short name of the type (`bool`, `int 1-65535`, `enum`, …) for listings.
    pub fn describe(&self) -> String {
        match self {
            ParamType::Bool => "bool (Yes/No)".into(),
            ParamType::Int { min, max } => format!("int {min}-{max}"),
            ParamType::Decimal {
                min_milli,
                max_milli,
            } => format!(
                "decimal {}-{}",
                *min_milli as f64 / 1000.0,
                *max_milli as f64 / 1000.0
            ),
            ParamType::Hex { max } => format!("hex 0x0-{max:#x}"),
            ParamType::Enum(v) => format!("enum {}", v.join("|")),
            ParamType::String => "string".into(),
            ParamType::Url(s) => format!("url {}", s.join(",")),
            ParamType::Host { port: true } => "host[:port]".into(),
            ParamType::Host { port: false } => "host".into(),
            ParamType::IpAddr => "ip address".into(),
            ParamType::Ipv4 => "ipv4 address".into(),
            ParamType::Rule => "rule".into(),
            ParamType::Template => "template".into(),
            ParamType::DhcpOptions { v6: false } => "dhcp option list".into(),
            ParamType::DhcpOptions { v6: true } => "dhcpv6 option list".into(),
            ParamType::DomainList => "domain list".into(),
            ParamType::FirewallConfig => "firewall config".into(),
            ParamType::CipherList => "cipher list".into(),
            ParamType::Schedule(ScheduleKind::Periodic) => "periodic schedule".into(),
            ParamType::Schedule(ScheduleKind::RetryBackoff) => "retry schedule".into(),
            ParamType::Schedule(ScheduleKind::TimeOfDay) => "time of day HHmm".into(),
            ParamType::Tone => "tone script".into(),
            ParamType::Cadence => "cadence script".into(),
            ParamType::DialPlan => "dial plan".into(),
            ParamType::KeyList => "softkey list".into(),
            ParamType::KeyValues => "key=value list".into(),
            ParamType::DstRule => "daylight saving rule".into(),
            ParamType::TimeZone => "time zone".into(),
            ParamType::Date => "date mm/dd/yyyy".into(),
            ParamType::Clock => "time HH/mm".into(),
            ParamType::Codec => "codec".into(),
        }
    }
}

/// A set of models, one bit per row of `models.tsv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ModelSet(pub u32);

impl ModelSet {
    /// Whether `m` is in the set.
    pub fn contains(&self, m: &ModelInfo) -> bool {
        self.0 & m.bit != 0
    }
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
    /// The `ua` attribute a phone's own cfg.xml shows for it (`na`, `ro`, `rw`).
    pub ua: &'static str,
    /// A password, key or PIN: never echoed in status, reports, events or lint.
    pub secret: bool,
    /// The web UI section (tab) it belongs to.
    pub section: &'static str,
    /// The models that have it.
    pub models: ModelSet,
    /// Firmware release that introduced it, where known (empty otherwise).
    pub since: &'static str,
    /// TR-069 path of a non-indexed parameter (R-TR69-4): the table's
    /// explicit path, else `Device.X_CISCO_Profile.<XML name>`. Indexed
    /// entries: `None`; use [`tr069_path`] with the instance name.
    pub tr069: Option<&'static str>,
    /// Other names accepted for this parameter (older firmware, seeds).
    pub aliases: &'static [&'static str],
    /// Requirement id the entry comes from (empty when none applies).
    pub spec: &'static str,
    /// One line on what it does (only for the entries SPEC.md describes).
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
            Index::Number { min, max, .. } => {
                let mid = name.strip_prefix(self.prefix)?.strip_suffix(self.suffix)?;
                let ok = !mid.is_empty()
                    && !mid.starts_with('0')
                    && mid.bytes().all(|b| b.is_ascii_digit())
                    && mid.parse::<u16>().is_ok_and(|n| (min..=max).contains(&n));
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

    /// Every concrete name of this entry on any model (for suggestions
    /// and listings).
    pub fn instances(&self) -> Vec<String> {
        match self.index {
            Index::None => vec![self.prefix.to_string()],
            Index::Number { min, max, .. } => {
                (min..=max).map(|n| self.instance(&n.to_string())).collect()
            }
            Index::Letter { first, last } => (first..=last)
                .map(|c| self.instance(&c.to_string()))
                .collect(),
        }
    }

    /// The concrete names this entry has on model `m` (none when the
    /// model lacks it).
    pub fn instances_on(&self, m: &ModelInfo) -> Vec<String> {
        if !self.models.contains(m) {
            return Vec::new();
        }
        match self.index {
            Index::Number { min, .. } => (min..=self.count_on(m).saturating_add(min - 1))
                .map(|n| self.instance(&n.to_string()))
                .collect(),
            _ => self.instances(),
        }
    }

    /// The highest index model `m` has for a numbered entry (`ext` 2 on a
    /// CP-6821: `Line_Enable_1_`, `Line_Enable_2_`); for others the
    /// number of instances.
    pub fn count_on(&self, m: &ModelInfo) -> u16 {
        match self.index {
            Index::None => 1,
            Index::Letter { first, last } => (last as u16) - (first as u16) + 1,
            Index::Number { min, max, per } => match per {
                Per::Fixed => max - min + 1,
                Per::Ext => m.ext,
                Per::Key => m.keys,
                Per::UnitKey => m.unit_keys,
            },
        }
    }

    /// Whether the concrete `name` (an instance of this entry) exists on
    /// model `m`: the model has the parameter and, for per-extension or
    /// per-key names, the index is within the model's count.
    pub fn exists_on(&self, name: &str, m: &ModelInfo) -> bool {
        if !self.models.contains(m) {
            return false;
        }
        match (self.index, self.index_of(name)) {
            (Index::Number { per, .. }, Some(Some(i))) if per != Per::Fixed => {
                i.parse::<u16>().is_ok_and(|n| n <= self.count_on(m))
            }
            _ => true,
        }
    }

    /// The factory default.
    pub fn default_value(&self) -> &'static str {
        self.default
    }

    /// The factory default of the concrete `name`, an instance of this
    /// entry: an entry whose table default is [`INDEX_DEFAULT`] defaults to
    /// its own index (`Extension_3_` is `3` until set; the administration
    /// guides' "Default: n").
    pub fn default_for(&self, name: &str) -> &'static str {
        if self.default != INDEX_DEFAULT {
            return self.default;
        }
        match self.index_of(name) {
            Some(Some(i)) => index_str(i).unwrap_or(self.default),
            _ => self.default,
        }
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
    /// Indexed entries by prefix (the name before the index).
    indexed: HashMap<&'static str, Vec<&'static ParamSpec>>,
    by_path: HashMap<&'static str, &'static ParamSpec>,
    /// `(prefix with `.` as `_`, prefix)` of the entries whose name has a dot.
    dotted: Vec<(String, &'static str)>,
}

fn index() -> &'static NameIndex {
    static IDX: OnceLock<NameIndex> = OnceLock::new();
    IDX.get_or_init(|| {
        let mut exact = HashMap::new();
        let mut indexed: HashMap<&'static str, Vec<&'static ParamSpec>> = HashMap::new();
        let mut by_path = HashMap::new();
        for spec in table::specs() {
            match spec.index {
                Index::None => {
                    exact.insert(spec.prefix, spec);
                }
                _ => indexed.entry(spec.prefix).or_default().push(spec),
            }
            for a in spec.aliases {
                exact.insert(*a, spec);
            }
            if let Some(p) = spec.tr069 {
                by_path.insert(p, spec);
            }
        }
        let dotted = table::specs()
            .iter()
            .filter(|s| s.prefix.contains('.'))
            .map(|s| (s.prefix.replace('.', "_"), s.prefix))
            .collect();
        NameIndex {
            exact,
            indexed,
            by_path,
            dotted,
        }
    })
}

/// The entry for an XML element name, resolving indexed names
/// (`User_ID_3_` → `User_ID_n_`) and aliases (`Log_Resync_Request_Msg`).
/// No allocation: indexed names are found by the prefix before each
/// digit run (or before a final letter).
pub fn lookup(name: &str) -> Option<&'static ParamSpec> {
    let idx = index();
    if let Some(s) = idx.exact.get(name) {
        return Some(s);
    }
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            if let Some(found) = idx
                .indexed
                .get(&name[..i])
                .and_then(|c| c.iter().find(|s| s.index_of(name).is_some()))
            {
                return Some(found);
            }
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    // Letter-indexed names end in the letter (`GPP_B`, `Profile_Rule_C`).
    let head = &name[..name.len() - name.chars().next_back()?.len_utf8()];
    idx.indexed
        .get(head)
        .and_then(|c| c.iter().find(|s| s.index_of(name).is_some()))
        .copied()
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

/// The TR-069 path of a (possibly indexed) XML name (R-TR69-4): the
/// table's explicit path, else `Device.X_CISCO_Profile.<name>` with `.`
/// written as `_` (a path segment cannot hold a dot).
pub fn tr069_path(name: &str) -> Option<String> {
    let spec = lookup(name)?;
    if let (Index::None, Some(p)) = (spec.index, spec.tr069) {
        return Some(p.to_string());
    }
    Some(table::generated_path(&canonical_name(name)?))
}

/// The entry with this TR-069 path (`Device.X_CISCO_SecuritySettings.TLSCipherList`).
pub fn by_tr069_path(path: &str) -> Option<&'static ParamSpec> {
    index().by_path.get(path).copied()
}

/// The XML name (concrete, indexed names included) whose TR-069 path is
/// `path` (R-TR69-4): the inverse of [`tr069_path`] over the whole schema,
/// so the ACS and the simulated CPE read one name space.
/// `Device.X_CISCO_Profile.G722_2_Enable_1_` → `G722.2_Enable_1_`;
/// `None` for a path no schema name has (an alias's own spelling
/// included: the path of an alias is its canonical name's).
pub fn xml_name_of_path(path: &str) -> Option<String> {
    if let Some(spec) = by_tr069_path(path) {
        return Some(spec.prefix.to_string());
    }
    let rest = path.strip_prefix(PROFILE_PREFIX)?;
    if rest.is_empty() || rest.contains('.') {
        return None;
    }
    let is_ours = |name: &str| tr069_path(name).is_some_and(|p| p == path);
    if is_ours(rest) {
        return Some(rest.to_string());
    }
    // A name whose XML form has a dot (`G722.2_Enable_1_`,
    // `Enable_802.1X_Authentication`): the path writes it `_`.
    index()
        .dotted
        .iter()
        .filter_map(|(flat, prefix)| {
            rest.strip_prefix(flat)
                .map(|tail| format!("{prefix}{tail}"))
        })
        .find(|n| is_ours(n))
}

/// Every concrete XML name model `m` has (each instance of an indexed
/// entry up to the model's count), with its entry, in table order: what
/// a CPE of that model exposes over TR-069 (R-TR69-4).
pub fn names_on(m: &ModelInfo) -> impl Iterator<Item = (String, &'static ParamSpec)> + '_ {
    all()
        .iter()
        .flat_map(move |s| s.instances_on(m).into_iter().map(move |n| (n, s)))
}

/// All entries, in table order.
pub fn all() -> &'static [ParamSpec] {
    table::specs()
}

/// The table default of an indexed entry whose instances default to their
/// own index (see [`ParamSpec::default_for`]).
pub const INDEX_DEFAULT: &str = "{n}";

/// `i` as a `'static` string for the indexes entries use (1..=64).
fn index_str(i: &str) -> Option<&'static str> {
    static NUMS: OnceLock<Vec<String>> = OnceLock::new();
    let nums = NUMS.get_or_init(|| (0..=64).map(|n| n.to_string()).collect());
    let n: usize = i.parse().ok()?;
    nums.get(n).map(String::as_str)
}

/// The factory default of a (possibly indexed) parameter name.
pub fn default_of(name: &str) -> Option<&'static str> {
    lookup(name).map(|s| s.default_for(name))
}

/// Validates `value` for the parameter `name`; `None` when the name is unknown.
pub fn validate(name: &str, value: &str) -> Option<Result<(), Invalid>> {
    lookup(name).map(|s| s.validate(value))
}

/// The model a product name names: `CP-6821-3PCC`, `CP-6821-3PCC-K9`,
/// `6821` or `cp-6821` (the four digits decide).
pub fn model(pn: &str) -> Option<&'static ModelInfo> {
    let digits: String = pn
        .trim()
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    models().iter().find(|m| m.number() == digits)
}

/// Counts for `profile params --stats` and the closing note: entries and
/// concrete names per model family and per section, and how many entries
/// have a type narrower than "string".
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub entries: usize,
    pub narrower_than_string: usize,
    pub secrets: usize,
    /// `(section, entries)` in table order.
    pub per_section: Vec<(&'static str, usize)>,
    /// `(model, concrete parameter names)`.
    pub per_model: Vec<(&'static str, usize)>,
    /// `(family, entries any model of the family has)`.
    pub per_family: Vec<(&'static str, usize)>,
}

/// Computes [`Stats`].
pub fn stats() -> Stats {
    let all = all();
    let mut per_section: Vec<(&'static str, usize)> = Vec::new();
    for s in all {
        match per_section.iter_mut().find(|(n, _)| *n == s.section) {
            Some((_, c)) => *c += 1,
            None => per_section.push((s.section, 1)),
        }
    }
    let per_model = models()
        .iter()
        .map(|m| {
            let n = all.iter().map(|s| s.instances_on(m).len()).sum();
            (m.pn, n)
        })
        .collect();
    let mut per_family: Vec<(&'static str, usize)> = Vec::new();
    for m in models() {
        if per_family.iter().any(|(f, _)| *f == m.family) {
            continue;
        }
        let fam: Vec<_> = models().iter().filter(|x| x.family == m.family).collect();
        let n = all
            .iter()
            .filter(|s| fam.iter().any(|x| s.models.contains(x)))
            .count();
        per_family.push((m.family, n));
    }
    Stats {
        entries: all.len(),
        narrower_than_string: all
            .iter()
            .filter(|s| s.kind.is_narrower_than_string())
            .count(),
        secrets: all.iter().filter(|s| s.secret).count(),
        per_section,
        per_model,
        per_family,
    }
}

#[cfg(test)]
mod tests;
