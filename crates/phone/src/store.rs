//! The phone's parameter store with `ua` semantics (R-FMT-2): explicit
//! values from profiles and rule assignments, the `ua` attribute kept with
//! each, factory defaults from the schema for everything else, and
//! parameters the schema does not know kept as given (a newer firmware's
//! names must survive a resync on an older one).
//!
//! Names are stored canonically: a seed alias (`Log_Resync_Request_Msg`)
//! is stored under the schema name it stands for (`Log_Request_Msg`).

use phoneprov_profile::schema;
use phoneprov_profile::{Access, FlatProfile};
use serde::Serialize;
use std::collections::BTreeMap;

/// One explicitly set parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub value: String,
    /// The `ua` attribute last seen for it (R-FMT-2).
    pub access: Option<Access>,
}

/// Parameter values: explicit entries over schema defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ParamStore {
    entries: BTreeMap<String, Entry>,
}

/// The name a parameter is stored under (schema aliases resolved).
pub fn canonical(name: &str) -> String {
    schema::canonical_name(name).unwrap_or_else(|| name.to_string())
}

impl ParamStore {
    /// An empty store: every known parameter reads as its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value in effect: explicit, else the schema default, else `None`
    /// (an unknown parameter never set).
    pub fn get(&self, name: &str) -> Option<&str> {
        // Fast path: names are stored canonically, so a hit needs no
        // schema lookup (the engine reads parameters very often).
        if let Some(e) = self.entries.get(name) {
            return Some(e.value.as_str());
        }
        // One schema lookup gives both the canonical name and the default.
        let spec = schema::lookup(name)?;
        if spec.aliases.contains(&name) {
            if let Some(e) = self.entries.get(spec.prefix) {
                return Some(e.value.as_str());
            }
        }
        Some(spec.default)
    }

    /// The value in effect, or `""`.
    pub fn get_or_empty(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// The explicit entry, if the parameter was ever set.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.get(&canonical(name))
    }

    /// The explicit value stored under exactly this (canonical) name, with
    /// no schema lookup: for hot paths reading names known to be canonical.
    pub fn explicit(&self, canonical_name: &str) -> Option<&str> {
        self.entries.get(canonical_name).map(|e| e.value.as_str())
    }

    /// Whether the parameter was ever set explicitly.
    pub fn is_set(&self, name: &str) -> bool {
        self.entries.contains_key(&canonical(name))
    }

    /// A `Yes`/`No` parameter (`default` when unset or unreadable).
    pub fn get_bool(&self, name: &str, default: bool) -> bool {
        self.get(name)
            .and_then(schema::parse_bool)
            .unwrap_or(default)
    }

    /// A whole number of seconds (`default` when unset or unreadable).
    pub fn get_u64(&self, name: &str, default: u64) -> u64 {
        self.get(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    }

    /// Sets a value (trimmed, as profiles do, R-FMT-3) keeping the stored
    /// `ua`; returns whether the value in effect changed.
    pub fn set(&mut self, name: &str, value: &str) -> bool {
        let access = self.entry(name).and_then(|e| e.access);
        self.set_with_access(name, value, access)
    }

    /// Sets a value and its `ua`; returns whether the value in effect changed.
    pub fn set_with_access(&mut self, name: &str, value: &str, access: Option<Access>) -> bool {
        let c = canonical(name);
        let value = value.trim();
        let before = self.get(&c).map(str::to_string);
        self.entries.insert(
            c,
            Entry {
                value: value.to_string(),
                access,
            },
        );
        before.as_deref() != Some(value)
    }

    /// Applies every parameter of a profile, in order (R-RULE-3: later
    /// profiles override earlier ones); returns the names whose value
    /// changed. A parameter without `ua` keeps the `ua` it had.
    pub fn apply(&mut self, profile: &FlatProfile) -> Vec<String> {
        let mut changed = Vec::new();
        for p in profile.params() {
            let access = p
                .access
                .or_else(|| self.entry(&p.name).and_then(|e| e.access));
            if self.set_with_access(&p.name, &p.value, access) {
                let c = canonical(&p.name);
                if !changed.contains(&c) {
                    changed.push(c);
                }
            }
        }
        changed
    }

    /// Explicitly set parameters, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Explicit parameters whose value differs from the schema default
    /// (unknown parameters always count as differing): `--delta` reports.
    pub fn delta(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.iter()
            .filter(|(k, e)| schema::default_of(k) != Some(e.value.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_fmt_2_defaults_values_ua_and_unknown() {
        let mut s = ParamStore::new();
        assert_eq!(s.get("Resync_Periodic"), Some("3600"));
        assert_eq!(s.get("X_Vendor_Thing"), None);
        let p = FlatProfile::parse(
            r#"<flat-profile><GPP_A ua="na"> 12345678
</GPP_A><X_Vendor_Thing>7</X_Vendor_Thing><Resync_Periodic>3600</Resync_Periodic></flat-profile>"#,
        )
        .unwrap();
        let changed = s.apply(&p);
        assert_eq!(changed, vec!["GPP_A", "X_Vendor_Thing"]);
        assert_eq!(s.get("GPP_A"), Some("12345678"));
        assert_eq!(s.entry("GPP_A").unwrap().access, Some(Access::Na));
        assert_eq!(s.get("X_Vendor_Thing"), Some("7"));
        // A later profile without ua keeps the stored ua.
        let p2 = FlatProfile::parse("<flat-profile><GPP_A>1</GPP_A></flat-profile>").unwrap();
        s.apply(&p2);
        assert_eq!(s.entry("GPP_A").unwrap().access, Some(Access::Na));
        let delta: Vec<&str> = s.delta().map(|(k, _)| k).collect();
        assert_eq!(delta, vec!["GPP_A", "X_Vendor_Thing"]);
    }

    #[test]
    fn r_log_2_seed_alias_names_are_canonical() {
        let mut s = ParamStore::new();
        s.set("Log_Resync_Request_Msg", "");
        assert_eq!(s.get("Log_Request_Msg"), Some(""));
        assert!(s.is_set("Log_Request_Msg"));
    }
}
