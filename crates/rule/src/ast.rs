//! Syntax tree of a profile rule (R-RULE) and its canonical text.
//!
//! The tree keeps macro text unexpanded (expansion happens per device at
//! [`ProfileRule::select`](crate::ProfileRule::select)); `Display` writes the
//! canonical form, which parses back to an equal tree:
//! `(L op R and ...)? (GPP_A = "v"; ...)! [--key "k" --srv] url | ...`.

use std::fmt;

/// A parsed profile rule: `Profile_Rule*`, `Upgrade_Rule`, `Report_Rule`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileRule {
    /// `Some(text after '#')` for a disabled rule.
    pub(crate) disabled: Option<String>,
    /// Empty for an empty or disabled rule.
    pub(crate) alternatives: Vec<Alternative>,
}

impl ProfileRule {
    /// A rule starting with `#` is disabled: it selects nothing.
    pub fn is_disabled(&self) -> bool {
        self.disabled.is_some()
    }

    /// An empty rule (empty text) selects nothing either.
    pub fn is_empty(&self) -> bool {
        self.disabled.is_none() && self.alternatives.is_empty()
    }

    /// The alternatives, in evaluation order.
    pub fn alternatives(&self) -> &[Alternative] {
        &self.alternatives
    }

    /// Builds a rule from alternatives (not checked: use `parse` on its
    /// `Display` to validate).
    pub fn from_alternatives(alternatives: Vec<Alternative>) -> Self {
        ProfileRule {
            disabled: None,
            alternatives,
        }
    }
}

/// One `|`-separated alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    pub condition: Option<Condition>,
    pub assignments: Vec<Assignment>,
    /// In written order; no option appears twice.
    pub options: Vec<OptionSpec>,
    /// Raw URL text, macros unexpanded.
    pub url: String,
}

/// `( comparison and comparison ... )?`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub comparisons: Vec<Comparison>,
}

/// `left op right`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub left: Operand,
    pub op: Op,
    pub right: Operand,
}

/// Comparison operator (`=`/`eq`, `!=`/`ne`, `<`/`lt`, `<=`/`le`, `>`/`gt`, `>=`/`ge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    /// The word form written by `Display`.
    pub fn word(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Gt => "gt",
            Op::Ge => "ge",
        }
    }

    /// `lt`/`le`/`gt`/`ge`: allowed on integers and versions only.
    pub fn is_ordering(self) -> bool {
        !matches!(self, Op::Eq | Op::Ne)
    }
}

/// A comparison operand; macros are expanded in both kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A word such as `$SWVER`, `sip8845.11-3-2MPP0001-609`, `1`.
    Bare(String),
    /// A `"quoted string"` (escapes `\"`, `\\` removed).
    Quoted(String),
}

impl Operand {
    /// The text before macro expansion.
    pub fn text(&self) -> &str {
        match self {
            Operand::Bare(s) | Operand::Quoted(s) => s,
        }
    }
}

/// `NAME = "value"` inside `( ... )!`; `name` is the full parameter name
/// (`a` and `$A` become `GPP_A`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    /// Raw value, macros unexpanded.
    pub value: String,
}

/// One URL option inside `[ ... ]` (R-RULE-2). Values are raw (unexpanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionSpec {
    /// `--key SECRET`: the profile is encrypted (R-FMT-7).
    Key(String),
    /// `--uid USER`: HTTP authentication user.
    Uid(String),
    /// `--pwd PASS`: HTTP authentication password.
    Pwd(String),
    /// `--alias x`: remap with the alias map held in GPP_X (R-FMT-8); uppercase letter.
    Alias(char),
    /// `--post WHAT`: resync by HTTP POST with WHAT in the body.
    Post(String),
    /// `--srv`: resolve the host through DNS SRV (R-SRV).
    Srv,
}

impl OptionSpec {
    /// The option's name without `--`.
    pub fn name(&self) -> &'static str {
        match self {
            OptionSpec::Key(_) => "key",
            OptionSpec::Uid(_) => "uid",
            OptionSpec::Pwd(_) => "pwd",
            OptionSpec::Alias(_) => "alias",
            OptionSpec::Post(_) => "post",
            OptionSpec::Srv => "srv",
        }
    }
}

/// Writes `"..."` with `\` and `"` escaped.
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

/// Option values are written bare when the parser would read them back as is.
fn option_value_is_bare(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.starts_with('"')
        && !s.contains("$(")
        && s.chars()
            .all(|c| !c.is_whitespace() && c != ']' && c != '"' && c != '\\')
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Bare(s) => f.write_str(s),
            Operand::Quoted(s) => write_quoted(f, s),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.left, self.op.word(), self.right)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, c) in self.comparisons.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str(")?")
    }
}

impl fmt::Display for OptionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--{}", self.name())?;
        let value = match self {
            OptionSpec::Srv => return Ok(()),
            OptionSpec::Alias(c) => return write!(f, " {}", c.to_ascii_lowercase()),
            OptionSpec::Key(v) | OptionSpec::Uid(v) | OptionSpec::Pwd(v) | OptionSpec::Post(v) => v,
        };
        f.write_str(" ")?;
        if option_value_is_bare(value) {
            f.write_str(value)
        } else {
            write_quoted(f, value)
        }
    }
}

impl fmt::Display for Alternative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.condition {
            write!(f, "{c} ")?;
        }
        if !self.assignments.is_empty() {
            f.write_str("(")?;
            for (i, a) in self.assignments.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{} = ", a.name)?;
                write_quoted(f, &a.value)?;
            }
            f.write_str(")! ")?;
        }
        if !self.options.is_empty() {
            f.write_str("[")?;
            for (i, o) in self.options.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{o}")?;
            }
            f.write_str("] ")?;
        }
        f.write_str(&self.url)
    }
}

impl fmt::Display for ProfileRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.disabled {
            return write!(f, "#{d}");
        }
        for (i, a) in self.alternatives.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}
