//! [`FlatProfile`]: the parsed form of a flat-profile XML document (R-FMT-1…4)
//! and its canonical serialization.
//!
//! Parameters keep document order; when a name appears twice the last one
//! wins (the phone applies elements in order, so the later value is what the
//! device ends up with) and the earlier ones are dropped.

use std::collections::HashMap;
use std::fmt;

use phoneprov_types::xml::{escape, XmlContext};
use serde::Serialize;

use crate::position::LineIndex;
use crate::scan::{self, Scan};
use crate::schema;

/// The user's access to a parameter on the phone UI: the `ua` attribute
/// (R-FMT-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// `ua="na"`: hidden from the user.
    Na,
    /// `ua="ro"`: shown, read-only.
    Ro,
    /// `ua="rw"`: the user may change it.
    Rw,
}

impl Access {
    /// The attribute value (`na`, `ro`, `rw`).
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Na => "na",
            Access::Ro => "ro",
            Access::Rw => "rw",
        }
    }

    /// Parses an attribute value; exact lowercase, as phones compare it.
    pub fn from_attr(v: &str) -> Option<Access> {
        match v {
            "na" => Some(Access::Na),
            "ro" => Some(Access::Ro),
            "rw" => Some(Access::Rw),
            _ => None,
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One parameter of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    /// Element name, e.g. `User_ID_1_`.
    pub name: String,
    /// Trimmed value with line breaks folded to spaces (R-FMT-3).
    pub value: String,
    /// The `ua` attribute, when present.
    pub access: Option<Access>,
    /// 1-based line of the start tag in the source (0 when set by code).
    pub line: u32,
    /// 1-based column (in characters) of the start tag's `<`.
    pub column: u32,
}

/// What an [`UnknownElement`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownKind {
    /// A parameter element whose name the schema does not know. It is kept
    /// in [`FlatProfile::params`] (a newer firmware may know it).
    Parameter,
    /// A wrapper other than `<device>` / `<flat-profile>`; its parameters
    /// are still read.
    Container,
}

/// An element the schema does not know, reported but not dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownElement {
    pub name: String,
    pub kind: UnknownKind,
    pub line: u32,
    pub column: u32,
}

/// A fatal XML error from [`FlatProfile::parse`]: the first one in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}; {hint}")]
pub struct XmlError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Stable code shared with [`lint`](crate::lint) (`xml-tag-mismatch`, …).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

/// A parsed flat profile: ordered parameters plus the unknown elements seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlatProfile {
    params: Vec<Param>,
    unknown: Vec<UnknownElement>,
}

/// Containers that are part of the format (R-FMT-1).
pub(crate) const KNOWN_CONTAINERS: [&str; 2] = ["flat-profile", "device"];

const BOM: &str = "\u{feff}";

impl FlatProfile {
    /// An empty profile.
    pub fn new() -> Self {
        Self::default()
    }

    /// Strict parse: the first XML error (with its position and a fix hint)
    /// fails the whole document, as a phone rejects a corrupt profile
    /// (R-RESULT class B). Schema problems (unknown names, bad values) are
    /// not errors here; see [`lint`](crate::lint).
    pub fn parse(xml: &str) -> Result<FlatProfile, XmlError> {
        let xml = xml.strip_prefix(BOM).unwrap_or(xml);
        let scan = scan::scan(xml, false);
        let idx = LineIndex::new(xml);
        if let Some(p) = scan.first_error() {
            let (line, column) = idx.line_col(p.offset);
            return Err(XmlError {
                line,
                column,
                code: p.code,
                message: p.message.clone(),
                hint: p.hint.clone().unwrap_or_default(),
            });
        }
        Ok(Self::from_scan(&scan, &idx))
    }

    /// [`parse`](Self::parse) for raw bytes: the text must be UTF-8 (a
    /// leading byte-order mark is accepted).
    pub fn parse_bytes(bytes: &[u8]) -> Result<FlatProfile, XmlError> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Self::parse(s),
            Err(e) => {
                let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
                let (line, column) = LineIndex::new(good).line_col(good.len());
                Err(XmlError {
                    line,
                    column,
                    code: "xml-encoding",
                    message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                    hint: "save the profile as UTF-8 (phones read profiles as UTF-8 only)".into(),
                })
            }
        }
    }

    pub(crate) fn from_scan(scan: &Scan, idx: &LineIndex<'_>) -> FlatProfile {
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(scan.leaves.len());
        for (i, leaf) in scan.leaves.iter().enumerate() {
            last.insert(leaf.name.as_str(), i);
        }
        let mut params = Vec::with_capacity(last.len());
        let mut unknown = Vec::new();
        for (i, leaf) in scan.leaves.iter().enumerate() {
            if last.get(leaf.name.as_str()) != Some(&i) {
                continue;
            }
            let (line, column) = idx.line_col(leaf.offset);
            if schema::lookup(&leaf.name).is_none() {
                unknown.push(UnknownElement {
                    name: leaf.name.clone(),
                    kind: UnknownKind::Parameter,
                    line,
                    column,
                });
            }
            params.push(Param {
                name: leaf.name.clone(),
                value: leaf.value.clone(),
                access: leaf.access,
                line,
                column,
            });
        }
        for c in &scan.containers {
            if !KNOWN_CONTAINERS.contains(&c.name.as_str()) {
                let (line, column) = idx.line_col(c.offset);
                unknown.push(UnknownElement {
                    name: c.name.clone(),
                    kind: UnknownKind::Container,
                    line,
                    column,
                });
            }
        }
        unknown.sort_by_key(|u| (u.line, u.column));
        FlatProfile { params, unknown }
    }

    /// Parameters in document order, duplicates resolved (last wins).
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Elements the schema does not know, in document order.
    pub fn unknown_elements(&self) -> &[UnknownElement] {
        &self.unknown
    }

    /// The value of `name`, if the profile sets it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.param(name).map(|p| p.value.as_str())
    }

    /// The value the device runs with: the profile's value, else the
    /// schema's factory default (`None` for names neither sets).
    pub fn effective(&self, name: &str) -> Option<&str> {
        self.get(name).or_else(|| schema::default_of(name))
    }

    /// The whole entry for `name`.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Sets `name` to `value` (normalized as a parsed value would be: trimmed,
    /// line breaks folded) keeping its place and `ua`, or appends it.
    /// `name` should be a valid element name; [`to_xml`](Self::to_xml) writes
    /// it as given.
    pub fn set(&mut self, name: &str, value: &str) {
        let value = scan::normalize_value(value);
        match self.params.iter_mut().find(|p| p.name == name) {
            Some(p) => p.value = value,
            None => self.params.push(Param {
                name: name.to_string(),
                value,
                access: None,
                line: 0,
                column: 0,
            }),
        }
    }

    /// Like [`set`](Self::set), also setting the `ua` attribute.
    pub fn set_with_access(&mut self, name: &str, value: &str, access: Option<Access>) {
        self.set(name, value);
        if let Some(p) = self.params.iter_mut().find(|p| p.name == name) {
            p.access = access;
        }
    }

    /// Removes `name`; returns its value if it was set.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let i = self.params.iter().position(|p| p.name == name)?;
        Some(self.params.remove(i).value)
    }

    /// Overlays `other` on `self`: each of its parameters is set in turn
    /// (partitioned profiles, R-RULE-3: later rules override earlier ones).
    pub fn merge(&mut self, other: &FlatProfile) {
        for p in &other.params {
            self.set_with_access(&p.name, &p.value, p.access);
        }
    }

    /// `(name, value, ua)` triples: the content of the profile without
    /// source positions, for comparisons.
    pub fn entries(&self) -> Vec<(&str, &str, Option<Access>)> {
        self.params
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str(), p.access))
            .collect()
    }

    /// Canonical XML: a `<flat-profile>` root, one parameter per line,
    /// indented by two spaces, `ua` when set, `&`, `<` and `>` escaped.
    /// [`parse`](Self::parse) of the output gives back the same entries.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(32 + self.params.len() * 48);
        out.push_str("<flat-profile>\n");
        for p in &self.params {
            out.push_str("  <");
            out.push_str(&p.name);
            if let Some(a) = p.access {
                out.push_str(" ua=\"");
                out.push_str(a.as_str());
                out.push('"');
            }
            out.push('>');
            out.push_str(&escape(&p.value, XmlContext::Text));
            out.push_str("</");
            out.push_str(&p.name);
            out.push_str(">\n");
        }
        out.push_str("</flat-profile>\n");
        out
    }
}
