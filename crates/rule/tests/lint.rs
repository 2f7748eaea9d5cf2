//! `lint_rule` / `lint_template` per the rule/profile lint contract.

use phoneprov_rule::{codes, lint_rule, lint_template, Severity};

#[test]
fn clean_rules_have_no_problems() {
    for rule in [
        "",
        "   ",
        "#anything (goes",
        "  # disabled",
        "/$PN.cfg",
        "tftp://192.168.1.200/ata$MA.cfg",
        "[--key $SA --uid $(SB:0:4)] https://h.example/$MAU.xml",
        "($SWVER ne sip8845.11-3-2MPP0001-609)? http://s/a.loads | http://s/b.loads",
        "gds://",
        "http://h.example/$$literal",
    ] {
        assert_eq!(lint_rule(rule), vec![], "{rule:?}");
    }
}

#[test]
fn parse_errors_are_errors_with_span_and_hint() {
    let p = lint_rule("[--key k] basic.cfg");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].severity, Severity::Error);
    assert_eq!(p[0].code, codes::RELATIVE_PATH);
    assert_eq!((p[0].start, p[0].end), (10, 19));
    assert!(p[0].hint.as_deref().unwrap().contains('/'));

    let p = lint_rule("/a | /b");
    assert_eq!(p[0].code, codes::SYNTAX);
    assert_eq!(p[0].severity, Severity::Error);
    assert!(p[0].message.contains("no condition"), "{}", p[0].message);
}

#[test]
fn unknown_macros_are_warnings_with_suggestions() {
    let rule = "tftp://h.example/$STRANGE$MAU-$ma-$(PNX).cfg";
    let p = lint_rule(rule);
    let got: Vec<(&str, &str, Severity)> = p
        .iter()
        .map(|x| (x.code, &rule[x.start..x.end], x.severity))
        .collect();
    assert_eq!(
        got,
        vec![
            (codes::UNKNOWN_MACRO, "$STRANGE", Severity::Warning),
            (codes::UNKNOWN_MACRO, "$ma", Severity::Warning),
            (codes::UNKNOWN_MACRO, "$(PNX)", Severity::Warning),
        ]
    );
    assert!(
        p[1].hint.as_deref().unwrap().contains("`$MA`"),
        "{:?}",
        p[1].hint
    );
    assert!(
        p[2].hint.as_deref().unwrap().contains("did you mean"),
        "{:?}",
        p[2].hint
    );
}

#[test]
fn ambiguous_secret_and_malformed_macros() {
    let rule = "[--key $SA] http://h.example/$MACfoo/$SB/$(MA:x)";
    let p = lint_rule(rule);
    let got: Vec<(&str, &str)> = p.iter().map(|x| (x.code, &rule[x.start..x.end])).collect();
    assert_eq!(
        got,
        vec![
            (codes::AMBIGUOUS_MACRO, "$MACfoo"),
            (codes::SECRET_MACRO, "$SB"),
            (codes::MACRO_SYNTAX, "$("),
        ]
    );
    assert!(p[0].hint.as_deref().unwrap().contains("$(MAC)foo"));
    assert!(p.iter().all(|x| x.severity == Severity::Warning));
}

#[test]
fn a_parse_error_still_reports_macro_warnings() {
    let p = lint_rule("/a/$ZZZ | /b");
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].severity, Severity::Error);
    assert_eq!(p[1].code, codes::UNKNOWN_MACRO);
}

#[test]
fn templates() {
    assert_eq!(
        lint_template("$PN $MAC -- Successful resync $SCHEME://$SERVIP:$PORT$PATH"),
        vec![]
    );
    assert_eq!(lint_template(""), vec![]);
    let t = "$PN $MACX $SA cost $ 5";
    let p = lint_template(t);
    let got: Vec<(&str, &str)> = p.iter().map(|x| (x.code, &t[x.start..x.end])).collect();
    assert_eq!(
        got,
        vec![
            (codes::TEMPLATE_AMBIGUOUS_MACRO, "$MACX"),
            (codes::TEMPLATE_SECRET_MACRO, "$SA"),
            (codes::TEMPLATE_MACRO_SYNTAX, "$"),
        ]
    );
}

#[test]
fn problems_serialize() {
    let p = lint_rule("basic.cfg");
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v[0]["severity"], "error");
    assert_eq!(v[0]["code"], "rule-relative-path");
}

#[test]
fn spans_stay_on_char_boundaries() {
    // A multi-byte character where an operator is expected.
    let text = "($A é 1)? /a";
    let p = lint_rule(text);
    assert_eq!(p[0].code, codes::SYNTAX);
    assert_eq!(&text[p[0].start..p[0].end], "é");
}
