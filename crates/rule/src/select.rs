//! Evaluation of a parsed rule for one device: conditions, then the chosen
//! alternative's URL, options and assignments, all macro-expanded with the
//! device's [`MacroContext`] (R-RULE, R-MACRO).

use crate::ast::{Alternative, Comparison, Op, OptionSpec, ProfileRule};
use crate::context::MacroContext;
use crate::error::RuleError;
use crate::macros::{expand, expand_secret};
use crate::url::{self, ResolveError, ResolvedUrl};
use crate::version::{compare_versions, values_equal};
use serde::Serialize;
use std::cmp::Ordering;

/// URL options of the selected alternative, macro-expanded (`SA`..`SD` only
/// in key, uid and pwd).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleOptions {
    pub key: Option<String>,
    pub uid: Option<String>,
    pub pwd: Option<String>,
    /// Uppercase GPP letter holding the alias map (`'A'` for GPP_A).
    pub alias: Option<char>,
    pub post: Option<String>,
    pub srv: bool,
}

/// What a rule selects for one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selection {
    pub url: ResolvedUrl,
    pub options: RuleOptions,
    /// Full parameter names (`GPP_A`) and macro-expanded values, in order.
    pub assignments: Vec<(String, String)>,
}

fn holds(c: &Comparison, ctx: &MacroContext) -> bool {
    let l = expand(c.left.text(), ctx);
    let r = expand(c.right.text(), ctx);
    match c.op {
        Op::Eq => values_equal(&l, &r),
        Op::Ne => !values_equal(&l, &r),
        op => {
            let ord = compare_versions(&l, &r);
            match op {
                Op::Lt => ord == Ordering::Less,
                Op::Le => ord != Ordering::Greater,
                Op::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }
        }
    }
}

impl Alternative {
    /// Whether this alternative's condition holds (true without condition).
    pub fn condition_holds(&self, ctx: &MacroContext) -> bool {
        self.condition
            .as_ref()
            .is_none_or(|c| c.comparisons.iter().all(|cmp| holds(cmp, ctx)))
    }

    /// Expands and resolves this alternative regardless of its condition.
    pub fn resolve(&self, ctx: &MacroContext) -> Result<Selection, RuleError> {
        let mut options = RuleOptions::default();
        for o in &self.options {
            match o {
                OptionSpec::Key(v) => options.key = Some(expand_secret(v, ctx)),
                OptionSpec::Uid(v) => options.uid = Some(expand_secret(v, ctx)),
                OptionSpec::Pwd(v) => options.pwd = Some(expand_secret(v, ctx)),
                OptionSpec::Alias(c) => options.alias = Some(*c),
                OptionSpec::Post(v) => options.post = Some(expand(v, ctx)),
                OptionSpec::Srv => options.srv = true,
            }
        }
        let expanded = expand(&self.url, ctx);
        let url =
            url::resolve(&expanded, ctx.default_server(), options.srv).map_err(|e| match e {
                ResolveError::MissingServer => RuleError::MissingServer {
                    url: expanded.clone(),
                },
                ResolveError::Url((kind, _)) => RuleError::ExpandedUrl {
                    template: self.url.clone(),
                    url: expanded.clone(),
                    kind,
                },
            })?;
        let assignments = self
            .assignments
            .iter()
            .map(|a| (a.name.clone(), expand(&a.value, ctx)))
            .collect();
        Ok(Selection {
            url,
            options,
            assignments,
        })
    }
}

impl ProfileRule {
    /// Evaluates conditions (macro-expanded) and returns the first true
    /// alternative, resolved; `None` when the rule is empty, disabled, or no
    /// condition holds. Errors come from the selected alternative's URL
    /// (e.g. no server and no default server).
    pub fn select(&self, ctx: &MacroContext) -> Result<Option<Selection>, RuleError> {
        match self.alternatives.iter().find(|a| a.condition_holds(ctx)) {
            Some(a) => a.resolve(ctx).map(Some),
            None => Ok(None),
        }
    }
}
