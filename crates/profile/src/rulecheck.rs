//! Adapter to `phoneprov-rule`'s lint entry points (the rule/profile lint
//! contract), kept in one place so the schema and the lint use the same calls.

pub(crate) use phoneprov_rule::RuleProblem;

/// Problems in a rule value (`Profile_Rule*`, `Upgrade_Rule`, `Report_Rule`).
pub(crate) fn rule(value: &str) -> Vec<RuleProblem> {
    phoneprov_rule::lint_rule(value)
}

/// Problems in a macro template (`Log_*_Msg`, `User_Agent`).
pub(crate) fn template(value: &str) -> Vec<RuleProblem> {
    phoneprov_rule::lint_template(value)
}
