//! Hand-written recursive-descent parser of the rule grammar (see the crate
//! docs). One function per grammar element; errors carry the byte range and
//! a fix hint. Besides the tree it records where `--key`/`--uid`/`--pwd`
//! values lie, so the lint can tell where `$SA`..`$SD` are allowed.

use crate::ast::{
    Alternative, Assignment, Comparison, Condition, Op, Operand, OptionSpec, ProfileRule,
};
use crate::context::gpp_macro_name;
use crate::error::RuleError;
use crate::url;
use std::ops::Range;
use std::str::FromStr;

/// Parse result with the side information the lint needs.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub rule: ProfileRule,
    /// Byte ranges of `--key`/`--uid`/`--pwd` values.
    pub secret_ranges: Vec<Range<usize>>,
}

const OP_HINT: &str = "use one of = eq != ne < lt <= le > gt >= ge";
const OPTIONS_HINT: &str =
    "known options: --key SECRET, --uid USER, --pwd PASS, --alias a..p, --post WHAT, --srv";

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    secret_ranges: Vec<Range<usize>>,
}

/// Length of a `$(NAME[:p[:q]])` macro starting at `i`, if one is there; the
/// scanners treat it as one unit so its `)` does not close a group.
fn paren_macro_len(s: &str, i: usize) -> Option<usize> {
    let rest = s.get(i..)?;
    if !rest.starts_with("$(") {
        return None;
    }
    let body_len = rest[2..]
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b':')
        .count();
    (rest.as_bytes().get(2 + body_len) == Some(&b')')).then_some(body_len + 3)
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn err<T>(
        &self,
        pos: usize,
        end: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Result<T, RuleError> {
        Err(RuleError::syntax(pos, end, message, hint))
    }

    /// Bytes of the next char (for error spans), at least 1.
    fn here_end(&self) -> usize {
        self.pos + self.peek().map_or(0, char::len_utf8)
    }

    fn rule(&mut self) -> Result<ProfileRule, RuleError> {
        self.skip_ws();
        if self.at_end() {
            return Ok(ProfileRule::default());
        }
        if self.peek() == Some('#') {
            let rest = self.src[self.pos + 1..].trim_end().to_string();
            return Ok(ProfileRule {
                disabled: Some(rest),
                alternatives: Vec::new(),
            });
        }
        let mut alternatives = Vec::new();
        let mut starts = Vec::new();
        loop {
            self.skip_ws();
            starts.push(self.pos);
            alternatives.push(self.alternative()?);
            self.skip_ws();
            match self.peek() {
                None => break,
                Some('|') => self.bump(),
                Some(_) => {
                    let end = self.src[self.pos..]
                        .find(char::is_whitespace)
                        .map_or(self.src.len(), |e| self.pos + e);
                    return self.err(
                        self.pos,
                        end,
                        format!("unexpected `{}` after the URL", &self.src[self.pos..end]),
                        "separate alternatives with `|`, and percent-encode spaces inside a URL (`%20`)",
                    );
                }
            }
        }
        let last = alternatives.len() - 1;
        if let Some(i) = alternatives[..last]
            .iter()
            .position(|a| a.condition.is_none())
        {
            return self.err(
                starts[i],
                starts[i + 1],
                format!("alternative {} has no condition but is not the last one, so the ones after it could never be used", i + 1),
                "give it a condition `( ... )?`, or move it to the end as the fallback",
            );
        }
        Ok(ProfileRule {
            disabled: None,
            alternatives,
        })
    }

    /// Index of the `)` closing the group opened at `open`.
    fn group_end(&self, open: usize) -> Result<usize, RuleError> {
        let b = self.src.as_bytes();
        let mut i = open + 1;
        while i < b.len() {
            match b[i] {
                b')' => return Ok(i),
                b'"' => {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                b'$' => i += paren_macro_len(self.src, i).unwrap_or(1),
                _ => i += 1,
            }
        }
        self.err(
            open,
            open + 1,
            "unclosed `(`",
            "close a condition with `)?` or assignments with `)!`",
        )
    }

    fn alternative(&mut self) -> Result<Alternative, RuleError> {
        let mut condition = None;
        let mut assignments = Vec::new();
        let mut seen_assign = false;
        while self.peek() == Some('(') {
            let open = self.pos;
            let close = self.group_end(open)?;
            let kind = self.src[close + 1..].chars().next();
            self.pos = open + 1;
            match kind {
                Some('?') if condition.is_none() && !seen_assign => {
                    condition = Some(self.condition(close)?)
                }
                Some('?') => {
                    return self.err(
                        open,
                        close + 2,
                        "a second condition, or a condition after assignments",
                        "write one condition first: `(A and B)? (a = \"x\")! url`",
                    )
                }
                Some('!') if !seen_assign => {
                    assignments = self.assignments(close)?;
                    seen_assign = true;
                }
                Some('!') => {
                    return self.err(
                        open,
                        close + 2,
                        "a second assignment group",
                        "put all assignments in one `( ... ; ... )!` group",
                    )
                }
                _ => {
                    return self.err(
                        close,
                        close + 1,
                        "a `( ... )` group must end with `)?` (condition) or `)!` (assignments)",
                        "add `?` after a condition or `!` after assignments",
                    )
                }
            }
            self.pos = close + 2;
            self.skip_ws();
        }
        let options = if self.peek() == Some('[') {
            self.options()?
        } else {
            Vec::new()
        };
        self.skip_ws();
        let url_start = self.pos;
        while self.peek().is_some_and(|c| !c.is_whitespace() && c != '|') {
            self.bump();
        }
        let url_text = &self.src[url_start..self.pos];
        match url_text.chars().next() {
            None => {
                return self.err(
                    url_start,
                    self.here_end(),
                    "missing URL",
                    "end each alternative with a URL such as `tftp://server/$PN.cfg` or `/$PN.cfg`",
                )
            }
            Some('(') => {
                return self.err(
                    url_start,
                    url_start + 1,
                    "condition or assignments after the options",
                    "write `( ... )?` then `( ... )!` then `[ ... ]` then the URL",
                )
            }
            Some('[') => {
                return self.err(
                    url_start,
                    url_start + 1,
                    "a second option bracket",
                    "put all options in one bracket: `[--key K --srv]`",
                )
            }
            Some(c @ ('#' | '"')) => {
                return self.err(
                    url_start,
                    url_start + 1,
                    format!("a URL cannot start with `{c}`"),
                    "write the URL as `[scheme://][server[:port]]/path`",
                )
            }
            Some(_) => {}
        }
        let srv = options.contains(&OptionSpec::Srv);
        if let Err((kind, r)) = url::split(url_text, srv, true) {
            return Err(RuleError::Url {
                pos: url_start + r.start,
                end: url_start + r.end.max(r.start + 1).min(url_text.len()),
                url: url_text.to_string(),
                kind,
            });
        }
        Ok(Alternative {
            condition,
            assignments,
            options,
            url: url_text.to_string(),
        })
    }

    /// A `"quoted string"` at `self.pos`; returns the unescaped text and the
    /// byte range of its content.
    fn quoted(&mut self) -> Result<(String, Range<usize>), RuleError> {
        let open = self.pos;
        self.bump();
        let start = self.pos;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return self.err(
                        open,
                        self.src.len(),
                        "unterminated quoted string",
                        "close it with `\"`; write `\\\"` for a quote inside",
                    )
                }
                Some('"') => {
                    let end = self.pos;
                    self.bump();
                    return Ok((out, start..end));
                }
                Some('\\') => {
                    self.bump();
                    match self.peek() {
                        Some(c @ ('"' | '\\')) => {
                            out.push(c);
                            self.bump();
                        }
                        _ => out.push('\\'),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.bump();
                }
            }
        }
    }

    /// A bare word up to whitespace or a char where `stop` holds; `$(...)`
    /// macros are taken whole.
    fn bare(&mut self, limit: usize, stop: impl Fn(&str) -> bool) -> Range<usize> {
        let start = self.pos;
        while self.pos < limit {
            if let Some(n) = paren_macro_len(self.src, self.pos) {
                if self.pos + n <= limit {
                    self.pos += n;
                    continue;
                }
            }
            let rest = &self.src[self.pos..limit];
            if rest.starts_with(char::is_whitespace) || stop(rest) {
                break;
            }
            self.bump();
        }
        start..self.pos
    }

    fn operand(&mut self, close: usize) -> Result<Operand, RuleError> {
        if self.peek() == Some('"') && self.pos < close {
            return Ok(Operand::Quoted(self.quoted()?.0));
        }
        let r = self.bare(close, |s| {
            s.starts_with(['"', ')', '(', '=', '<', '>', '|', ';']) || s.starts_with("!=")
        });
        if r.is_empty() {
            return self.err(
                self.pos,
                self.here_end(),
                "expected a value to compare",
                "write a macro (`$SWVER`), a word (`sip8845.11-3-2MPP0001-609`, `1`) or a \"quoted string\"",
            );
        }
        Ok(Operand::Bare(self.src[r].to_string()))
    }

    fn op(&mut self) -> Result<Op, RuleError> {
        let rest = &self.src[self.pos..];
        for (sym, op) in [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("!=", Op::Ne),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if rest.starts_with(sym) {
                self.pos += sym.len();
                return Ok(op);
            }
        }
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let op = match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            _ => {
                return self.err(
                    self.pos,
                    if word.is_empty() {
                        self.here_end()
                    } else {
                        self.pos + word.len()
                    },
                    "expected a comparison operator",
                    OP_HINT,
                )
            }
        };
        self.pos += 2;
        if self
            .peek()
            .is_some_and(|c| !c.is_whitespace() && c != '"' && c != ')')
        {
            return self.err(
                self.pos - 2,
                self.here_end(),
                "a word operator must be followed by a space",
                OP_HINT,
            );
        }
        Ok(op)
    }

    fn condition(&mut self, close: usize) -> Result<Condition, RuleError> {
        let mut comparisons = Vec::new();
        loop {
            self.skip_ws();
            let start = self.pos;
            let left = self.operand(close)?;
            self.skip_ws();
            let op = self.op()?;
            self.skip_ws();
            let right = self.operand(close)?;
            if op.is_ordering()
                && (matches!(left, Operand::Quoted(_)) || matches!(right, Operand::Quoted(_)))
            {
                return self.err(
                    start,
                    self.pos,
                    format!(
                        "`{}` compares integers and firmware versions, not quoted strings",
                        op.word()
                    ),
                    "remove the quotes, or compare strings with eq / ne",
                );
            }
            comparisons.push(Comparison { left, op, right });
            self.skip_ws();
            if self.pos >= close {
                break;
            }
            let word: String = self.src[self.pos..close]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            if !word.eq_ignore_ascii_case("and") {
                return self.err(
                    self.pos,
                    self.pos + word.len().max(1),
                    "expected `and` or the end of the condition `)?`",
                    "join comparisons with `and`; quote values that contain spaces",
                );
            }
            self.pos += 3;
        }
        Ok(Condition { comparisons })
    }

    fn assignment_name(&mut self, close: usize) -> Result<String, RuleError> {
        let start = self.pos;
        let dollar = self.peek() == Some('$');
        if dollar {
            self.bump();
        }
        let r = self.bare(close, |s| {
            !s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        });
        let name = &self.src[r];
        if name.is_empty() {
            return self.err(
                start,
                self.here_end(),
                "expected a parameter name",
                "write `a = \"value\"` (GPP_A) or a parameter name such as `GPP_B`",
            );
        }
        match gpp_macro_name(name) {
            Some(g)
                if dollar || name.len() <= 2 || name.to_ascii_uppercase().starts_with("GPP_") =>
            {
                Ok(format!("GPP_{g}"))
            }
            _ if dollar => self.err(
                start,
                self.pos,
                format!("`${name}` cannot be assigned"),
                "assign general purpose parameters: `$A`..`$P`, `a`..`p`, or full parameter names",
            ),
            _ => Ok(name.to_string()),
        }
    }

    fn assignments(&mut self, close: usize) -> Result<Vec<Assignment>, RuleError> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            if self.pos >= close {
                if out.is_empty() {
                    return self.err(
                        close,
                        close + 2,
                        "empty assignment group",
                        "write `(a = \"value\"; b = \"value\")!` or remove the group",
                    );
                }
                return Ok(out);
            }
            let name = self.assignment_name(close)?;
            self.skip_ws();
            if self.peek() != Some('=') || self.pos >= close {
                return self.err(
                    self.pos,
                    self.here_end(),
                    "expected `=` after the parameter name",
                    "write `name = \"value\"`",
                );
            }
            self.bump();
            self.skip_ws();
            let value = if self.peek() == Some('"') && self.pos < close {
                self.quoted()?.0
            } else {
                let r = self.bare(close, |s| s.starts_with([';', ')', '"']));
                if r.is_empty() {
                    return self.err(
                        self.pos,
                        self.here_end(),
                        "expected a value after `=`",
                        "write `name = \"value\"` (use `\"\"` for an empty value)",
                    );
                }
                self.src[r].to_string()
            };
            out.push(Assignment { name, value });
            self.skip_ws();
            if self.peek() == Some(';') && self.pos < close {
                self.bump();
            } else if self.pos < close {
                return self.err(
                    self.pos,
                    self.here_end(),
                    "expected `;` between assignments",
                    "separate assignments with `;` and quote values that contain spaces",
                );
            }
        }
    }

    fn option_value(
        &mut self,
        opt_start: usize,
        name: &str,
    ) -> Result<(String, Range<usize>), RuleError> {
        self.skip_ws();
        if self.peek() == Some('"') {
            return self.quoted();
        }
        let r = self.bare(self.src.len(), |s| s.starts_with(']'));
        let v = &self.src[r.clone()];
        if v.is_empty() || v.starts_with("--") {
            return self.err(
                opt_start,
                r.end.max(opt_start + name.len() + 2),
                format!("option --{name} needs a value"),
                format!(
                    "write `--{name} VALUE`; quote values with spaces: `--{name} \"my value\"`"
                ),
            );
        }
        Ok((v.to_string(), r))
    }

    fn options(&mut self) -> Result<Vec<OptionSpec>, RuleError> {
        let open = self.pos;
        self.bump();
        let mut out: Vec<OptionSpec> = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => {
                    return self.err(
                        open,
                        open + 1,
                        "unclosed `[`",
                        "close the options with `]` before the URL",
                    )
                }
                Some(']') => {
                    self.bump();
                    return Ok(out);
                }
                _ => {}
            }
            let start = self.pos;
            if !self.src[self.pos..].contains(']') {
                return self.err(
                    open,
                    open + 1,
                    "unclosed `[`",
                    "close the options with `]` before the URL",
                );
            }
            if !self.src[self.pos..].starts_with("--") {
                let end = self.bare(self.src.len(), |s| s.starts_with(']')).end;
                return self.err(
                    start,
                    end.max(start + 1),
                    format!(
                        "expected an option, found `{}`",
                        &self.src[start..end.max(start + 1).min(self.src.len())]
                    ),
                    OPTIONS_HINT,
                );
            }
            self.pos += 2;
            let name_r = self.bare(self.src.len(), |s| {
                !s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
            let name = self.src[name_r.clone()].to_ascii_lowercase();
            let opt =
                match name.as_str() {
                    "srv" => OptionSpec::Srv,
                    "key" | "uid" | "pwd" => {
                        let (v, r) = self.option_value(start, &name)?;
                        self.secret_ranges.push(r);
                        match name.as_str() {
                            "key" => OptionSpec::Key(v),
                            "uid" => OptionSpec::Uid(v),
                            _ => OptionSpec::Pwd(v),
                        }
                    }
                    "post" => OptionSpec::Post(self.option_value(start, &name)?.0),
                    "alias" => {
                        let (v, r) = self.option_value(start, &name)?;
                        match gpp_macro_name(&v).filter(|g| g.len() == 1) {
                            Some(g) => OptionSpec::Alias(g.chars().next().expect("one letter")),
                            None => return self.err(
                                r.start,
                                r.end.max(r.start + 1),
                                format!("`--alias {v}` does not name a GPP"),
                                "write `--alias a` .. `--alias p`: the GPP holding the alias map",
                            ),
                        }
                    }
                    _ => {
                        return self.err(
                            start,
                            name_r.end.max(start + 2),
                            format!("unknown option `--{name}`"),
                            OPTIONS_HINT,
                        )
                    }
                };
            if out.iter().any(|o| o.name() == opt.name()) {
                return self.err(
                    start,
                    self.pos,
                    format!("option --{} given twice", opt.name()),
                    "keep one of them",
                );
            }
            out.push(opt);
        }
    }
}

/// Parses a rule, also returning where secret option values lie.
pub(crate) fn parse_detailed(text: &str) -> Result<Parsed, RuleError> {
    let mut p = Parser {
        src: text,
        pos: 0,
        secret_ranges: Vec::new(),
    };
    let rule = p.rule()?;
    Ok(Parsed {
        rule,
        secret_ranges: p.secret_ranges,
    })
}

impl ProfileRule {
    /// Parses a rule (R-RULE); the URL is checked as far as it can be before
    /// macro expansion. Empty text gives an empty rule; `#...` a disabled one.
    pub fn parse(text: &str) -> Result<ProfileRule, RuleError> {
        parse_detailed(text).map(|p| p.rule)
    }
}

impl FromStr for ProfileRule {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProfileRule::parse(s)
    }
}
