//! The phone's parameter store with `ua` semantics (R-FMT-2): explicit
//! values from profiles and rule assignments, the `ua` attribute kept with
//! each, factory defaults from the schema for everything else.
//!
//! Shared defaults, per-phone deltas (issue 16): the defaults live once in
//! the schema table (`phoneprov_profile::schema`); a store holds only the
//! values that differ from them (a profile value equal to the default, with
//! no `ua` or its default `ua`, is not kept), so a phone fed a full 1 000-line profile keeps a
//! few hundred entries.
//!
//! A store made [`ParamStore::for_model`] is the phone of that model: it has
//! exactly the model's parameters (`Line_Enable_3_` does not exist on a
//! CP-6821-3PCC), and [`ParamStore::apply_report`] applies a profile the way
//! the phone does: names the model does not have are ignored and reported,
//! values that do not parse for the parameter's type are refused (the old
//! value stays) and reported. Values set directly with [`ParamStore::set`]
//! are kept whatever the name (initial settings of a simulated phone).
//!
//! Names are stored canonically: a seed alias (`Log_Resync_Request_Msg`)
//! is stored under the schema name it stands for (`Log_Request_Msg`).

use phoneprov_profile::schema::{self, ModelInfo};
use phoneprov_profile::{Access, FlatProfile};
use serde::Serialize;

/// One explicitly set parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub value: String,
    /// The `ua` attribute last seen for it (R-FMT-2).
    pub access: Option<Access>,
}

/// Parameter values: explicit entries over schema defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamStore {
    /// Sorted by name; a vector (kept at its exact size after a profile)
    /// takes half the memory of a B-tree for a phone's few hundred deltas.
    entries: Entries,
    /// The phone's model: only its parameters exist. `None`: every model's.
    model: Option<&'static ModelInfo>,
}

/// Explicit entries sorted by name (serialized as a map).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entries(Vec<(Box<str>, Entry)>);

impl Entries {
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(name))
    }
    fn get(&self, name: &str) -> Option<&Entry> {
        self.find(name).ok().map(|i| &self.0[i].1)
    }
    fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }
    fn remove(&mut self, name: &str) {
        if let Ok(i) = self.find(name) {
            self.0.remove(i);
        }
    }
    fn get_mut(&mut self, name: &str) -> Option<&mut Entry> {
        self.find(name).ok().map(|i| &mut self.0[i].1)
    }
    fn insert(&mut self, name: String, e: Entry) {
        match self.find(&name) {
            Ok(i) => self.0[i].1 = e,
            Err(i) => self.0.insert(i, (name.into_boxed_str(), e)),
        }
    }
    fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.0.iter().map(|(k, e)| (&**k, e))
    }
}

impl Serialize for ParamStore {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.entries.iter())
    }
}

/// What [`ParamStore::apply_report`] did with a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Names whose value in effect changed (canonical, in profile order).
    pub changed: Vec<String>,
    /// Names the phone does not have (unknown, or not on its model):
    /// ignored, as the phone ignores them; the caller logs them.
    pub ignored: Vec<String>,
    /// `(name, reason)` for values refused because they do not parse for
    /// the parameter's type (booleans, numbers, enumerations): the
    /// previous value stays. The reason never holds a secret's value.
    pub rejected: Vec<(String, String)>,
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

    /// The store of a phone of model `pn` (`CP-6821-3PCC`): only that
    /// model's parameters exist. An unknown model gets every parameter.
    pub fn for_model(pn: &str) -> Self {
        ParamStore {
            entries: Entries::default(),
            model: schema::model(pn),
        }
    }

    /// The model the store was made for.
    pub fn model(&self) -> Option<&'static ModelInfo> {
        self.model
    }

    /// Whether the phone has this parameter (known to the schema and, for a
    /// store with a model, present on it with an index in its range).
    pub fn has(&self, name: &str) -> bool {
        match (schema::lookup(name), self.model) {
            (Some(spec), Some(m)) => spec.exists_on(name, m),
            (Some(_), None) => true,
            (None, _) => false,
        }
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
        if let Some(m) = self.model {
            if !spec.exists_on(name, m) {
                return None;
            }
        }
        if spec.aliases.contains(&name) {
            if let Some(e) = self.entries.get(spec.prefix) {
                return Some(e.value.as_str());
            }
        }
        Some(spec.default_for(name))
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

    /// Sets a value and its `ua`; returns whether the value in effect
    /// changed. A value equal to the default, with no `ua` or the default
    /// `ua`, is not kept (the default is shared): only deltas take memory.
    pub fn set_with_access(&mut self, name: &str, value: &str, access: Option<Access>) -> bool {
        let c = canonical(name);
        let value = value.trim();
        let before = self.get(&c).map(str::to_string);
        let changed = before.as_deref() != Some(value);
        let at_default = schema::lookup(&c).is_some_and(|spec| {
            spec.default_for(&c) == value && access.is_none_or(|a| a.as_str() == spec.ua)
        });
        if at_default {
            self.entries.remove(&c);
        } else {
            match self.entries.get_mut(&c) {
                Some(e) => {
                    if e.value != value {
                        e.value = value.to_string();
                    }
                    e.access = access;
                }
                None => {
                    self.entries.insert(
                        c,
                        Entry {
                            value: value.to_string(),
                            access,
                        },
                    );
                }
            }
        }
        changed
    }

    /// Applies every parameter of a profile, in order (R-RULE-3: later
    /// profiles override earlier ones); returns the names whose value
    /// changed. See [`ParamStore::apply_report`] for what is skipped.
    pub fn apply(&mut self, profile: &FlatProfile) -> Vec<String> {
        self.apply_report(profile).changed
    }

    /// Applies a profile the way the phone does: a parameter without `ua`
    /// keeps the `ua` it had; names the phone does not have are ignored and
    /// values that do not parse for their type are refused (both reported).
    pub fn apply_report(&mut self, profile: &FlatProfile) -> Applied {
        let mut out = Applied::default();
        for p in profile.params() {
            let Some(spec) = schema::lookup(&p.name) else {
                out.ignored.push(p.name.clone());
                continue;
            };
            if self.model.is_some_and(|m| !spec.exists_on(&p.name, m)) {
                out.ignored.push(p.name.clone());
                continue;
            }
            let value = p.value.trim();
            if spec.kind.is_parsed() {
                if let Err(e) = spec.validate(value) {
                    let reason = if spec.secret {
                        e.code.to_string()
                    } else {
                        e.reason
                    };
                    out.rejected.push((p.name.clone(), reason));
                    continue;
                }
            }
            let access = p
                .access
                .or_else(|| self.entry(&p.name).and_then(|e| e.access));
            if self.set_with_access(&p.name, value, access) {
                let c = canonical(&p.name);
                if !out.changed.contains(&c) {
                    out.changed.push(c);
                }
            }
        }
        self.entries.0.shrink_to_fit();
        out
    }

    /// Explicitly set parameters, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter()
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
        let applied = s.apply_report(&p);
        assert_eq!(applied.changed, vec!["GPP_A"]);
        // The phone ignores names it does not have, and says so.
        assert_eq!(applied.ignored, vec!["X_Vendor_Thing"]);
        assert_eq!(s.get("GPP_A"), Some("12345678"));
        assert_eq!(s.entry("GPP_A").unwrap().access, Some(Access::Na));
        assert_eq!(s.get("X_Vendor_Thing"), None);
        // A value equal to the default takes no memory.
        assert!(!s.is_set("Resync_Periodic"));
        // A later profile without ua keeps the stored ua.
        let p2 = FlatProfile::parse("<flat-profile><GPP_A>1</GPP_A></flat-profile>").unwrap();
        s.apply(&p2);
        assert_eq!(s.entry("GPP_A").unwrap().access, Some(Access::Na));
        let delta: Vec<&str> = s.delta().map(|(k, _)| k).collect();
        assert_eq!(delta, vec!["GPP_A"]);
        // Set directly (initial settings), an unknown name is kept.
        s.set("X_Vendor_Thing", "7");
        assert_eq!(s.get("X_Vendor_Thing"), Some("7"));
    }

    #[test]
    fn a_phone_of_a_model_has_exactly_its_parameters() {
        let mut s = ParamStore::for_model("CP-6821-3PCC");
        assert_eq!(s.get("Line_Enable_2_"), Some("Yes"));
        assert_eq!(s.get("Line_Enable_3_"), None, "a 6821 has 2 lines");
        assert_eq!(s.get("ssid_1_"), None, "no Wi-Fi on a 6821");
        let p = FlatProfile::parse(
            "<flat-profile><Line_Enable_3_>Yes</Line_Enable_3_><Line_Enable_2_>No</Line_Enable_2_>\
             <SIP_Port_1_>99999</SIP_Port_1_><Register_Expires_1_>600</Register_Expires_1_>\
             <Enable_VLAN>maybe</Enable_VLAN><Password_1_>pw</Password_1_></flat-profile>",
        )
        .unwrap();
        let a = s.apply_report(&p);
        assert_eq!(a.ignored, vec!["Line_Enable_3_"]);
        let rejected: Vec<&str> = a.rejected.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(rejected, vec!["SIP_Port_1_", "Enable_VLAN"]);
        assert_eq!(
            s.get("SIP_Port_1_"),
            Some("5060"),
            "refused: the old value stays"
        );
        assert_eq!(s.get("Register_Expires_1_"), Some("600"));
        assert_eq!(
            a.changed,
            vec!["Line_Enable_2_", "Register_Expires_1_", "Password_1_"]
        );
        let big = ParamStore::for_model("CP-8851-3PCC");
        assert_eq!(big.get("Line_Enable_5_"), Some("Yes"));
        assert_eq!(big.get("Line_Enable_6_"), None, "an 8851 has 5 lines");
    }

    #[test]
    fn r_log_2_seed_alias_names_are_canonical() {
        let mut s = ParamStore::new();
        s.set("Log_Resync_Request_Msg", "");
        assert_eq!(s.get("Log_Request_Msg"), Some(""));
        assert!(s.is_set("Log_Request_Msg"));
    }
}
