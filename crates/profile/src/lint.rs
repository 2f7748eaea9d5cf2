//! Profile lint (R-FMT-5 and the schema): malformed XML, unknown parameter
//! names (with a "did you mean"), values that break the schema, rules and
//! templates that `phoneprov-rule` rejects, duplicates. Every diagnostic
//! carries file, 1-based line and column, a stable code and a fix hint.
//! The XML reader recovers from errors, so one run reports them all.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::alias::AliasMap;
use crate::position::LineIndex;
use crate::profile::KNOWN_CONTAINERS;
use crate::rulecheck::{self, RuleProblem};
use crate::scan::{self, Leaf};
use crate::schema::{self, Index, ModelInfo, ParamSpec, ParamType};
pub use crate::Severity;

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
    pub severity: Severity,
    /// Stable code: `xml-*` for XML structure, `unknown-param`,
    /// `invalid-*`/`localized-bool`/… for values, `rule-*`/`template-*`
    /// from `phoneprov-rule`.
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}[{}]: {}",
            self.file, self.line, self.column, self.code, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, "\n  = help: {h}")?;
        }
        Ok(())
    }
}

/// What the lint knows about where the profile goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct LintOptions<'a> {
    /// The target phone model (`--model CP-6821-3PCC`, or the device's
    /// model in `serve`): parameters the model lacks are warnings.
    pub model: Option<&'a ModelInfo>,
    /// The profile is served in plain over HTTP: secrets in it are warnings.
    pub plain_http: bool,
}

/// Lints a file's bytes: UTF-8 is checked first (a BOM is fine); invalid
/// bytes are reported and the rest is linted anyway. Sorted by line/column.
pub fn lint_bytes(file: &str, bytes: &[u8]) -> Vec<Diagnostic> {
    lint_bytes_with(file, bytes, LintOptions::default())
}

/// [`lint_bytes`] for a target model and transport.
pub fn lint_bytes_with(file: &str, bytes: &[u8], opts: LintOptions<'_>) -> Vec<Diagnostic> {
    match std::str::from_utf8(bytes) {
        Ok(text) => lint_str_with(file, text, opts),
        Err(e) => {
            let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            let good = good.strip_prefix('\u{feff}').unwrap_or(good);
            let (line, column) = LineIndex::new(good).line_col(good.len());
            let mut out = vec![Diagnostic {
                file: file.to_string(),
                line,
                column,
                severity: Severity::Error,
                code: "xml-encoding".into(),
                message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                hint: Some("save the profile as UTF-8 (phones read profiles as UTF-8 only)".into()),
            }];
            let lossy = String::from_utf8_lossy(bytes);
            out.extend(lint_str_with(file, &lossy, opts));
            out.sort_by_key(|d| (d.line, d.column));
            out
        }
    }
}

/// Lints profile text. Sorted by line/column.
pub fn lint_str(file: &str, text: &str) -> Vec<Diagnostic> {
    lint_str_with(file, text, LintOptions::default())
}

/// [`lint_str`] for a target model and transport.
pub fn lint_str_with(file: &str, text: &str, opts: LintOptions<'_>) -> Vec<Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let idx = LineIndex::new(text);
    let scan = scan::scan(text, false);
    let mut ctx = Ctx {
        file,
        idx: &idx,
        out: Vec::new(),
    };
    for p in &scan.problems {
        ctx.push(
            p.offset,
            p.severity,
            p.code,
            p.message.clone(),
            p.hint.clone(),
        );
    }
    for c in &scan.containers {
        if !KNOWN_CONTAINERS.contains(&c.name.as_str()) {
            ctx.push(
                c.offset + 1,
                Severity::Warning,
                "unknown-container",
                format!("unknown wrapper element `<{}>`", c.name),
                Some(
                    "flat profiles use `<flat-profile>`, optionally inside `<device>`; \
                     parameters inside other wrappers are still read"
                        .into(),
                ),
            );
        }
    }
    check_duplicates(&mut ctx, &scan.leaves);
    // The section of the last known parameter: an unknown name's "did
    // you mean" must be plausible there.
    let mut section = "";
    for leaf in scan.leaves.iter().filter(|l| !l.recovered) {
        if let Some(s) = check_leaf(&mut ctx, leaf, opts, section) {
            section = s;
        }
    }
    let mut out = ctx.out;
    out.sort_by_key(|d| (d.line, d.column));
    out
}

struct Ctx<'a> {
    file: &'a str,
    idx: &'a LineIndex<'a>,
    out: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn push(
        &mut self,
        offset: usize,
        severity: Severity,
        code: &str,
        message: String,
        hint: Option<String>,
    ) {
        let (line, column) = self.idx.line_col(offset);
        self.out.push(Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            severity,
            code: code.to_string(),
            message,
            hint,
        });
    }
}

fn check_duplicates(ctx: &mut Ctx<'_>, leaves: &[Leaf]) {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, l) in leaves.iter().enumerate() {
        last.insert(&l.name, i);
    }
    for (i, l) in leaves.iter().enumerate() {
        let j = last[l.name.as_str()];
        if j != i {
            let (line, _) = ctx.idx.line_col(leaves[j].offset);
            ctx.push(
                l.offset,
                Severity::Warning,
                "duplicate-param",
                format!(
                    "`{}` is set again on line {line}; the last value wins",
                    l.name
                ),
                Some("remove the earlier element (phones apply elements in order)".into()),
            );
        }
    }
}

/// File offset of byte `i` of the leaf's value.
fn value_pos(leaf: &Leaf, i: usize) -> usize {
    if leaf.value_exact {
        leaf.value_offset + i.min(leaf.value.len())
    } else {
        leaf.value_offset
    }
}

/// Checks one element; returns its section when the name is known.
fn check_leaf(
    ctx: &mut Ctx<'_>,
    leaf: &Leaf,
    opts: LintOptions<'_>,
    section: &str,
) -> Option<&'static str> {
    let Some(spec) = schema::lookup(&leaf.name) else {
        let hint = match suggest_in(&leaf.name, section) {
            Some(s) => format!("did you mean `{s}`? (names are case-sensitive)"),
            None => "not a parameter of the 6800/7800/8800 multiplatform phones \
                     (see `phoneprov profile params --model PN`); the phone ignores it"
                .to_string(),
        };
        ctx.push(
            leaf.offset + 1,
            Severity::Warning,
            "unknown-param",
            format!("unknown parameter `{}`", leaf.name),
            Some(hint),
        );
        return None;
    };
    if let Some(m) = opts.model {
        if !spec.exists_on(&leaf.name, m) {
            let why = if spec.models.contains(m) {
                format!(
                    "the {} has {} of these (1-{})",
                    m.pn,
                    spec.count_on(m),
                    spec.count_on(m)
                )
            } else {
                format!("the {} does not have this parameter", m.pn)
            };
            ctx.push(
                leaf.offset + 1,
                Severity::Warning,
                "not-on-model",
                format!("`{}` does not exist on a {}: {why}", leaf.name, m.pn),
                Some(format!(
                    "the phone ignores it; remove it from the {} profile, or check the \
                     model (`phoneprov profile params --model {}`)",
                    m.pn, m.pn
                )),
            );
        }
    }
    if let Some(m) = opts.model {
        check_extension_reference(ctx, leaf, spec, m);
    }
    if spec.secret && opts.plain_http && !leaf.value.is_empty() {
        ctx.push(
            leaf.offset + 1,
            Severity::Warning,
            "secret-over-http",
            format!(
                "`{}` is a secret and this profile is served in plain over HTTP",
                leaf.name
            ),
            Some(
                "serve it over HTTPS, or encrypt the profile (`phoneprov profile encrypt`)".into(),
            ),
        );
    }
    if leaf.trailing_space && spec.secret {
        ctx.push(
            value_pos(leaf, leaf.value.len()),
            Severity::Warning,
            "value-whitespace",
            format!(
                "trailing whitespace in the value of `{}` (a secret; value not shown): \
                 phones trim values",
                leaf.name
            ),
            Some(format!("remove the space before `</{}>`", leaf.name)),
        );
    } else if leaf.trailing_space {
        let accepted = match spec.kind {
            ParamType::Enum(values) => format!(
                "; accepted values: {}",
                values
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ParamType::Bool => "; accepted values: `Yes`, `No`".to_string(),
            _ => String::new(),
        };
        ctx.push(
            value_pos(leaf, leaf.value.len()),
            Severity::Warning,
            "value-whitespace",
            format!(
                "trailing whitespace in the value of `{}`: phones trim values, so this reads as `{}`",
                leaf.name, leaf.value
            ),
            Some(format!("remove the space before `</{}>`{accepted}", leaf.name)),
        );
    }
    check_value(ctx, leaf, spec);
    Some(spec.section)
}

/// Entries whose value names an extension (line) of the phone: a line key's
/// `Extension_n_` and the call log's line. Line keys, extensions and key
/// expansion module keys (`Unit_n_Key_m_`, never an extension) are counted
/// apart in `models.tsv`.
const EXTENSION_VALUED: &[&str] = &["Extension_", "CallLog_Associated_Line"];

/// A value naming an extension the model does not have (`Extension_2_` =
/// `7` on a CP-8851-3PCC, which has 5) is a `not-on-model` warning.
fn check_extension_reference(ctx: &mut Ctx<'_>, leaf: &Leaf, spec: &ParamSpec, m: &ModelInfo) {
    if !EXTENSION_VALUED.contains(&spec.prefix) {
        return;
    }
    let Ok(n) = leaf.value.trim().parse::<u16>() else {
        return;
    };
    if n > m.ext {
        ctx.push(
            value_pos(leaf, 0),
            Severity::Warning,
            "not-on-model",
            format!(
                "<{}> names extension {n}, and the {} has {} (1-{})",
                leaf.name, m.pn, m.ext, m.ext
            ),
            Some(format!(
                "use an extension of the model (1-{}) or `Disabled`",
                m.ext
            )),
        );
    }
}

fn check_value(ctx: &mut Ctx<'_>, leaf: &Leaf, spec: &ParamSpec) {
    match spec.kind {
        ParamType::Rule => report_rule_problems(ctx, leaf, rulecheck::rule(&leaf.value)),
        ParamType::Template => report_rule_problems(ctx, leaf, rulecheck::template(&leaf.value)),
        _ => {
            if let Err(inv) = spec.validate(&leaf.value) {
                ctx.push(
                    value_pos(leaf, 0),
                    Severity::Error,
                    inv.code,
                    format!("<{}>: {}", leaf.name, inv.reason),
                    inv.hint,
                );
            } else if is_gpp(spec) && looks_like_alias_map(&leaf.value) {
                if let Err(e) = AliasMap::parse(&leaf.value) {
                    ctx.push(
                        value_pos(leaf, 0),
                        Severity::Error,
                        "invalid-alias-map",
                        format!(
                            "<{}> holds an alias map that does not parse: {e}",
                            leaf.name
                        ),
                        Some("see R-FMT-8: `/src/path = /flat-profile/Name ;` …".into()),
                    );
                }
            }
        }
    }
}

fn is_gpp(spec: &ParamSpec) -> bool {
    spec.prefix.starts_with("GPP_")
}

fn looks_like_alias_map(v: &str) -> bool {
    v.starts_with('/') && v.contains('=')
}

fn report_rule_problems(ctx: &mut Ctx<'_>, leaf: &Leaf, problems: Vec<RuleProblem>) {
    for p in problems {
        ctx.push(
            value_pos(leaf, p.start),
            p.severity,
            p.code,
            format!("<{}>: {}", leaf.name, p.message),
            p.hint,
        );
    }
}

/// The known parameter name closest to `name`, if one is close enough
/// (any section).
pub fn suggest(name: &str) -> Option<String> {
    suggest_in(name, "")
}

/// The known parameter name closest to `name` when it is both close (a
/// small edit distance, case ignored) and plausible: in `section` (the
/// section of the parameters around it), or sharing its first word.
/// `Primary_NTP_Server` is far from `Primary_DNS`: no suggestion.
pub fn suggest_in(name: &str, section: &str) -> Option<String> {
    let lower = name.to_lowercase();
    let first_word = |s: &str| {
        s.split(['_', '-'])
            .next()
            .unwrap_or_default()
            .to_lowercase()
    };
    let word = first_word(name);
    let limit = match lower.chars().count() {
        0..=5 => 1,
        6..=12 => 2,
        _ => 3,
    };
    let digits: String = name
        .split('_')
        .rev()
        .find(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("1")
        .to_string();
    let mut best: Option<(usize, String)> = None;
    let mut consider = |cand: String, spec: &ParamSpec| {
        let d = strsim::osa_distance(&lower, &cand.to_lowercase());
        if d > limit {
            return;
        }
        let plausible = d == 0 || spec.section == section || first_word(&cand) == word;
        if plausible && best.as_ref().is_none_or(|(b, _)| d < *b) {
            best = Some((d, cand));
        }
    };
    // The distance is at least the difference in length: candidates whose
    // length is out of reach are skipped before any allocation (schema
    // names are ASCII, so bytes count characters). A profile full of
    // unknown names lints in milliseconds, not hundreds of them.
    let target = lower.chars().count();
    let near = |len: usize| len.abs_diff(target) <= limit;
    let fixed = |spec: &ParamSpec| spec.prefix.len() + spec.suffix.len();
    for spec in schema::all() {
        match spec.index {
            Index::None if near(spec.prefix.len()) => consider(spec.prefix.to_string(), spec),
            Index::None => {}
            Index::Number { min, max, .. } => {
                let n = digits
                    .parse::<u16>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .unwrap_or(min)
                    .to_string();
                if near(fixed(spec) + n.len()) {
                    consider(spec.instance(&n), spec);
                }
            }
            Index::Letter { .. } if near(fixed(spec) + 1) => {
                spec.instances().into_iter().for_each(|n| consider(n, spec))
            }
            Index::Letter { .. } => {}
        }
        spec.aliases
            .iter()
            .filter(|a| near(a.len()))
            .for_each(|a| consider(a.to_string(), spec));
    }
    best.map(|(_, n)| n)
}
