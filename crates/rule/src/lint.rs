//! Lint of rule values (`Profile_Rule*`, `Upgrade_Rule`, `Report_Rule`) and
//! macro templates (`Log_*_Msg`), per the rule/profile lint contract: parse
//! errors are `Error`, macro oddities are `Warning`; spans are byte ranges
//! into the linted text. Codes are stable (see [`codes`]).

use crate::macros::{is_known, scan, Piece, MACRO_NAMES, SECRET_NAMES};
use crate::parser::parse_detailed;
use serde::Serialize;
use std::ops::Range;

/// Stable problem codes. Parse errors use [`crate::RuleError::code`]
/// (`rule-syntax`, `rule-relative-path`, `rule-unsupported-scheme`,
/// `rule-invalid-host`, `rule-invalid-port`, `rule-missing-path`,
/// `rule-srv-tftp`, `rule-userinfo`, `rule-bad-character`).
pub mod codes {
    pub const SYNTAX: &str = "rule-syntax";
    pub const RELATIVE_PATH: &str = "rule-relative-path";
    /// `$NAME` / `$(NAME)` that is not a known macro: stays literal.
    pub const UNKNOWN_MACRO: &str = "rule-unknown-macro";
    /// `$MACfoo`: expands as `$MAC` + `foo`.
    pub const AMBIGUOUS_MACRO: &str = "rule-ambiguous-macro";
    /// `$SA`..`$SD` outside `--key`/`--uid`/`--pwd`: stays literal.
    pub const SECRET_MACRO: &str = "rule-secret-macro";
    /// A `$` that starts no macro, or a malformed `$(`.
    pub const MACRO_SYNTAX: &str = "rule-macro-syntax";
    pub const TEMPLATE_UNKNOWN_MACRO: &str = "template-unknown-macro";
    pub const TEMPLATE_AMBIGUOUS_MACRO: &str = "template-ambiguous-macro";
    pub const TEMPLATE_SECRET_MACRO: &str = "template-secret-macro";
    pub const TEMPLATE_MACRO_SYNTAX: &str = "template-macro-syntax";
}

/// Severity of a lint problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a rule or template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleProblem {
    /// Byte offset into the text where the problem starts.
    pub start: usize,
    /// Byte offset (exclusive).
    pub end: usize,
    pub severity: Severity,
    /// Stable code, e.g. `rule-syntax`, `rule-unknown-macro`, `rule-relative-path`.
    pub code: &'static str,
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

fn warning(r: Range<usize>, code: &'static str, message: String, hint: String) -> RuleProblem {
    RuleProblem {
        start: r.start,
        end: r.end,
        severity: Severity::Warning,
        code,
        message,
        hint: Some(hint),
    }
}

/// A suggestion for an unknown name: same name uppercased, or a close one.
fn suggest(name: &str) -> Option<String> {
    let up = name.to_ascii_uppercase();
    if is_known(&up, true) {
        return Some(up);
    }
    MACRO_NAMES
        .iter()
        .map(|k| (strsim::levenshtein(&up, k), *k))
        .filter(|(d, k)| *d <= 2 && *d < k.len())
        .min()
        .map(|(_, k)| k.to_string())
}

struct Codes {
    unknown: &'static str,
    ambiguous: &'static str,
    secret: &'static str,
    syntax: &'static str,
}

/// Macro warnings; `secret_ok(range)` says whether `$SA`..`$SD` expand there.
fn macro_problems(
    text: &str,
    codes: &Codes,
    secret_ok: impl Fn(&Range<usize>) -> bool,
) -> Vec<RuleProblem> {
    let mut out = Vec::new();
    for piece in scan(text, true) {
        match piece {
            Piece::Unknown { range, name } => {
                let hint = match suggest(&name) {
                    Some(s) => format!("did you mean `${s}`? Macro names are case-sensitive; write `$$` for a literal `$`"),
                    None => "see the known macro names (MA, MAU, MAC, PN, SN, A..P, ...); write `$$` for a literal `$`".into(),
                };
                out.push(warning(
                    range.clone(),
                    codes.unknown,
                    format!("unknown macro `{}` stays literal", &text[range]),
                    hint,
                ));
            }
            Piece::Macro {
                range, name, rest, ..
            } => {
                if SECRET_NAMES.contains(&name.as_str()) && !secret_ok(&range) {
                    out.push(warning(
                        range.clone(),
                        codes.secret,
                        format!("`{}` (GPP_{name}) expands only inside --key, --uid and --pwd values; here it stays literal", &text[range]),
                        format!("move it into an option such as `[--key ${name}]`, or use a GPP from A to P"),
                    ));
                } else if !rest.is_empty() {
                    let whole = range.start..rest.end;
                    out.push(warning(
                        whole.clone(),
                        codes.ambiguous,
                        format!(
                            "`{}` expands as `${name}` followed by `{}`",
                            &text[whole],
                            &text[rest.clone()]
                        ),
                        format!(
                            "write `$({name}){}` to make that explicit",
                            &text[rest.clone()]
                        ),
                    ));
                }
            }
            Piece::Malformed(range) => out.push(warning(
                range.clone(),
                codes.syntax,
                format!("`{}` starts no macro and stays literal", &text[range]),
                "write `$$` for a literal `$`, or `$NAME`, `$(NAME)`, `$(NAME:p)`, `$(NAME:p:q)`"
                    .into(),
            )),
            Piece::Literal(_) | Piece::Dollar(_) => {}
        }
    }
    out
}

/// Problems in a rule value (`Profile_Rule*`, `Upgrade_Rule`, `Report_Rule`):
/// parse errors are `Error`, macro oddities `Warning`. An empty rule or a rule
/// starting with `#` (disabled) has no problems.
pub fn lint_rule(rule: &str) -> Vec<RuleProblem> {
    let trimmed = rule.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Vec::new();
    }
    let codes = Codes {
        unknown: codes::UNKNOWN_MACRO,
        ambiguous: codes::AMBIGUOUS_MACRO,
        secret: codes::SECRET_MACRO,
        syntax: codes::MACRO_SYNTAX,
    };
    let mut out = Vec::new();
    let secret_ranges = match parse_detailed(rule) {
        Ok(p) => Some(p.secret_ranges),
        Err(e) => {
            let (start, end) = e.span().unwrap_or((0, rule.len()));
            out.push(RuleProblem {
                start,
                end,
                severity: Severity::Error,
                code: e.code(),
                message: e.problem(),
                hint: e.hint(),
            });
            None
        }
    };
    out.extend(macro_problems(rule, &codes, |r| {
        // Without a parse tree, where secrets are allowed is unknown: stay quiet.
        secret_ranges
            .as_ref()
            .is_none_or(|ranges| ranges.iter().any(|s| s.start <= r.start && r.end <= s.end))
    }));
    out.sort_by_key(|p| (p.start, p.end));
    out
}

/// Problems in a macro template (`Log_*_Msg`): macro oddities as `Warning`
/// (`$SA`..`$SD` never expand in templates).
pub fn lint_template(template: &str) -> Vec<RuleProblem> {
    let codes = Codes {
        unknown: codes::TEMPLATE_UNKNOWN_MACRO,
        ambiguous: codes::TEMPLATE_AMBIGUOUS_MACRO,
        secret: codes::TEMPLATE_SECRET_MACRO,
        syntax: codes::TEMPLATE_MACRO_SYNTAX,
    };
    macro_problems(template, &codes, |_| false)
}
