//! GPP alias maps (R-FMT-8): rename elements of a foreign XML document
//! (a customer database export) onto flat-profile parameters.
//!
//! Syntax, as held in a GPP (one line, no newlines):
//! `/customer-account/SIP-number = /flat-profile/User_ID_1_ ;
//! /customer-account/SIP-password = /flat-profile/Password_1_ ;`
//! — at most 30 `source = /flat-profile/Name` mappings, `;`-separated,
//! whitespace around tokens ignored.

use crate::position::LineIndex;
use crate::scan::{self, is_valid_name};
use crate::{FlatProfile, XmlError};

/// The most mappings one alias map may hold (R-FMT-8).
pub const MAX_MAPPINGS: usize = 30;

/// Errors from parsing or applying an alias map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    #[error("alias map has {count} mappings, the limit is {MAX_MAPPINGS}; split the document or drop mappings")]
    TooMany { count: usize },
    #[error(
        "alias mapping {index} `{text}` has no `=`; write `/source/path = /flat-profile/Name`"
    )]
    MissingEquals { index: usize, text: String },
    #[error("alias mapping {index}: bad path `{path}`: {reason}; write an absolute element path such as `/customer-account/SIP-number`")]
    BadPath {
        index: usize,
        path: String,
        reason: &'static str,
    },
    #[error("alias mapping {index}: target `{path}` must be `/flat-profile/Name` (a parameter of the flat profile)")]
    BadTarget { index: usize, path: String },
    #[error("alias map is empty; write at least one `/source/path = /flat-profile/Name ;`")]
    Empty,
    #[error("the foreign document is not well-formed XML: {0}")]
    Xml(#[from] XmlError),
}

/// One `source = /flat-profile/target` mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Absolute element path in the foreign document, e.g. `/customer-account/SIP-number`.
    pub source: String,
    /// Parameter name, e.g. `User_ID_1_`.
    pub target: String,
}

/// A parsed alias map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasMap {
    mappings: Vec<Mapping>,
}

fn check_path(index: usize, path: &str) -> Result<Vec<&str>, AliasError> {
    let fail = |reason| AliasError::BadPath {
        index,
        path: path.to_string(),
        reason,
    };
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| fail("it does not start with `/`"))?;
    let segs: Vec<&str> = rest.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err(fail(
            "it has an empty element name (`//` or a trailing `/`)",
        ));
    }
    if !segs.iter().all(|s| is_valid_name(s)) {
        return Err(fail(
            "an element name contains characters XML names cannot hold",
        ));
    }
    Ok(segs)
}

impl AliasMap {
    /// Parses the GPP text (R-FMT-8).
    pub fn parse(text: &str) -> Result<AliasMap, AliasError> {
        let items: Vec<&str> = text
            .split(';')
            .map(|s| s.trim_matches(scan::is_xml_space))
            .filter(|s| !s.is_empty())
            .collect();
        if items.len() > MAX_MAPPINGS {
            return Err(AliasError::TooMany { count: items.len() });
        }
        if items.is_empty() {
            return Err(AliasError::Empty);
        }
        let mut mappings = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let index = i + 1;
            let (src, dst) = item
                .split_once('=')
                .ok_or_else(|| AliasError::MissingEquals {
                    index,
                    text: item.to_string(),
                })?;
            let (src, dst) = (
                src.trim_matches(scan::is_xml_space),
                dst.trim_matches(scan::is_xml_space),
            );
            check_path(index, src)?;
            let target = match check_path(index, dst)?.as_slice() {
                ["flat-profile", name] => name.to_string(),
                _ => {
                    return Err(AliasError::BadTarget {
                        index,
                        path: dst.to_string(),
                    })
                }
            };
            mappings.push(Mapping {
                source: src.to_string(),
                target,
            });
        }
        Ok(AliasMap { mappings })
    }

    /// The mappings, in map order.
    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// Reads a foreign XML document and returns the flat profile it means:
    /// each element whose path is a mapping source sets the mapped
    /// parameter (value trimmed as usual); elements inside a
    /// `<flat-profile>` pass through unchanged; everything else is ignored.
    pub fn apply(&self, foreign_xml: &str) -> Result<FlatProfile, AliasError> {
        let xml = foreign_xml.strip_prefix('\u{feff}').unwrap_or(foreign_xml);
        let scan = scan::scan(xml, true);
        let idx = LineIndex::new(xml);
        if let Some(p) = scan.first_error() {
            let (line, column) = idx.line_col(p.offset);
            return Err(AliasError::Xml(XmlError {
                line,
                column,
                code: p.code,
                message: p.message.clone(),
                hint: p.hint.clone().unwrap_or_default(),
            }));
        }
        let mut out = scan::Scan::default();
        for leaf in &scan.leaves {
            if let Some(m) = self.mappings.iter().find(|m| m.source == leaf.path) {
                let mut l = leaf.clone();
                l.name = m.target.clone();
                out.leaves.push(l);
            } else if leaf
                .path
                .rsplit_once('/')
                .is_some_and(|(parent, _)| parent.split('/').any(|s| s == "flat-profile"))
            {
                out.leaves.push(leaf.clone());
            }
        }
        Ok(FlatProfile::from_scan(&out, &idx))
    }
}
