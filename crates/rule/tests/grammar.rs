//! One test per grammar element and per parse error of the rule dialect
//! (R-RULE-1, R-RULE-2), through the public API.

use phoneprov_rule::{Op, Operand, OptionSpec, ProfileRule, RuleError, UrlErrorKind};

fn parse(text: &str) -> ProfileRule {
    ProfileRule::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn syntax_err(text: &str) -> (usize, usize, String) {
    match ProfileRule::parse(text) {
        Err(RuleError::Syntax {
            pos, end, message, ..
        }) => (pos, end, message),
        other => panic!("{text:?}: expected a syntax error, got {other:?}"),
    }
}

fn url_err(text: &str) -> UrlErrorKind {
    match ProfileRule::parse(text) {
        Err(RuleError::Url { kind, .. }) => kind,
        other => panic!("{text:?}: expected a URL error, got {other:?}"),
    }
}

#[test]
fn r_rule_plain_url() {
    let r = parse("  tftp://192.168.1.200/ata$MA.cfg  ");
    assert_eq!(r.alternatives().len(), 1);
    let a = &r.alternatives()[0];
    assert_eq!(a.url, "tftp://192.168.1.200/ata$MA.cfg");
    assert!(a.condition.is_none() && a.options.is_empty() && a.assignments.is_empty());
    assert_eq!(r.to_string(), "tftp://192.168.1.200/ata$MA.cfg");
    let via_fromstr: ProfileRule = "tftp://192.168.1.200/ata$MA.cfg".parse().unwrap();
    assert_eq!(via_fromstr, r);
}

#[test]
fn r_rule_empty_and_disabled() {
    let r = parse("   ");
    assert!(r.is_empty() && !r.is_disabled());
    let r = parse(" #tftp://x.y/a.cfg");
    assert!(r.is_disabled());
    assert!(r.alternatives().is_empty());
    assert_eq!(r.to_string(), "#tftp://x.y/a.cfg");
    // A disabled rule is not checked: it may hold anything.
    assert!(parse("# not (a rule").is_disabled());
}

#[test]
fn r_rule_2_options() {
    let r = parse(
        "[--key \"my secret\" --uid u --pwd p --alias b --post status --srv] https://h.example/x",
    );
    assert_eq!(
        r.alternatives()[0].options,
        vec![
            OptionSpec::Key("my secret".into()),
            OptionSpec::Uid("u".into()),
            OptionSpec::Pwd("p".into()),
            OptionSpec::Alias('B'),
            OptionSpec::Post("status".into()),
            OptionSpec::Srv,
        ]
    );
    assert_eq!(
        r.to_string(),
        "[--key \"my secret\" --uid u --pwd p --alias b --post status --srv] https://h.example/x"
    );
    // Trailing space inside the bracket, as in the seed (R-FMT-7 example).
    let r = parse("[--key MyOwnSecret ] tftp://192.168.1.200/basic.cfg");
    assert_eq!(
        r.alternatives()[0].options,
        vec![OptionSpec::Key("MyOwnSecret".into())]
    );
    assert_eq!(
        parse("[--alias GPP_P]/a.xml").alternatives()[0].options,
        vec![OptionSpec::Alias('P')]
    );
    assert_eq!(parse("[]/a.xml").alternatives()[0].options, vec![]);
}

#[test]
fn r_rule_2_option_errors() {
    for (text, needle) in [
        ("[--nope x] /a", "unknown option `--nope`"),
        ("[--key] /a", "--key needs a value"),
        ("[--key --uid u] /a", "--key needs a value"),
        ("[--key a --key b] /a", "given twice"),
        ("[--alias q] /a", "does not name a GPP"),
        ("[--alias sa] /a", "does not name a GPP"),
        ("[key x] /a", "expected an option"),
        ("[--key x /a", "unclosed `[`"),
        ("[--key \"x] /a", "unterminated quoted string"),
        ("[--key x] [--srv] https://h.x/a", "a second option bracket"),
    ] {
        let (_, _, msg) = syntax_err(text);
        assert!(msg.contains(needle), "{text:?}: {msg}");
    }
}

#[test]
fn r_rule_conditions_and_operators() {
    let r = parse(
        "($SWVER ne sip8845.11-3-2MPP0001-609 and $A = \"x y\" AND 3<=$B)? http://s/a | http://s/b",
    );
    let c = r.alternatives()[0].condition.as_ref().unwrap();
    assert_eq!(c.comparisons.len(), 3);
    assert_eq!(c.comparisons[0].op, Op::Ne);
    assert_eq!(
        c.comparisons[0].right,
        Operand::Bare("sip8845.11-3-2MPP0001-609".into())
    );
    assert_eq!(c.comparisons[1].right, Operand::Quoted("x y".into()));
    assert_eq!(
        (c.comparisons[2].left.text(), c.comparisons[2].op),
        ("3", Op::Le)
    );
    assert_eq!(
        r.to_string(),
        "($SWVER ne sip8845.11-3-2MPP0001-609 and $A eq \"x y\" and 3 le $B)? http://s/a | http://s/b"
    );
    for (sym, op) in [
        ("=", Op::Eq),
        ("eq", Op::Eq),
        ("!=", Op::Ne),
        ("NE", Op::Ne),
        ("<", Op::Lt),
        ("lt", Op::Lt),
        ("<=", Op::Le),
        ("le", Op::Le),
        (">", Op::Gt),
        ("gt", Op::Gt),
        (">=", Op::Ge),
        ("ge", Op::Ge),
    ] {
        let r = parse(&format!("( $UPGST {sym} 1 )? /a"));
        assert_eq!(
            r.alternatives()[0].condition.as_ref().unwrap().comparisons[0].op,
            op,
            "{sym}"
        );
    }
    // `$(...)` macros inside a condition do not close it.
    let r = parse("($(MA:0:6) eq 000e08)? /a");
    assert_eq!(
        r.alternatives()[0].condition.as_ref().unwrap().comparisons[0]
            .left
            .text(),
        "$(MA:0:6)"
    );
    // Escaped quote inside a quoted operand.
    let r = parse(r#"($A eq "say \"hi\" \\ )")? /a"#);
    assert_eq!(
        r.alternatives()[0].condition.as_ref().unwrap().comparisons[0].right,
        Operand::Quoted(r#"say "hi" \ )"#.into())
    );
}

#[test]
fn r_rule_condition_errors() {
    for (text, needle) in [
        (
            "($A lt \"x\")? /a",
            "compares integers and firmware versions",
        ),
        ("(\"x\" ge 1)? /a", "not quoted strings"),
        ("($A eq)? /a", "expected a value"),
        ("($A xx 1)? /a", "expected a comparison operator"),
        ("($A eq1 b)? /a", "must be followed by a space"),
        ("($A eqb)? /a", "expected a comparison operator"),
        ("($A eq 1 or $B eq 2)? /a", "expected `and`"),
        ("($A eq 1 and)? /a", "expected a value"),
        ("($A eq 1 /a", "unclosed `(`"),
        ("($A eq 1) /a", "must end with `)?`"),
        ("($A eq 1)? ($B eq 1)? /a", "a second condition"),
        ("(a = \"1\")! ($B eq 1)? /a", "condition after assignments"),
        ("/a | ($A eq 1)? /b", "alternative 1 has no condition"),
        ("($A eq 1)? /a | /b | /c", "alternative 2 has no condition"),
        ("($A eq 1)? /a |", "missing URL"),
        ("($A eq 1)?", "missing URL"),
    ] {
        let (_, _, msg) = syntax_err(text);
        assert!(msg.contains(needle), "{text:?}: {msg}");
    }
}

#[test]
fn r_rule_error_positions() {
    let (pos, end, _) = syntax_err("/a | /b");
    assert_eq!((pos, end), (0, 5));
    let (pos, end, _) = syntax_err("[--nope x] /a");
    assert_eq!((pos, end), (1, 7));
    let e = ProfileRule::parse("tftp://h/a extra").unwrap_err();
    assert_eq!(e.span(), Some((11, 16)));
    let msg = e.to_string();
    assert!(msg.contains("byte 11") && msg.contains("fix:"), "{msg}");
}

#[test]
fn r_rule_assignments() {
    let r = parse("( $A = \"x\" ; b = \"y\"; GPP_C = z; Resync_Periodic = \"30\" ; sa=\"s\";)! /a");
    let got: Vec<(&str, &str)> = r.alternatives()[0]
        .assignments
        .iter()
        .map(|a| (a.name.as_str(), a.value.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("GPP_A", "x"),
            ("GPP_B", "y"),
            ("GPP_C", "z"),
            ("Resync_Periodic", "30"),
            ("GPP_SA", "s")
        ]
    );
    assert_eq!(
        r.to_string(),
        "(GPP_A = \"x\"; GPP_B = \"y\"; GPP_C = \"z\"; Resync_Periodic = \"30\"; GPP_SA = \"s\")! /a"
    );
    let r = parse("(a = $(MA:0:6))! /a");
    assert_eq!(r.alternatives()[0].assignments[0].value, "$(MA:0:6)");
}

#[test]
fn r_rule_assignment_errors() {
    for (text, needle) in [
        ("()! /a", "empty assignment group"),
        ("( a \"x\" )! /a", "expected `=`"),
        ("( a = )! /a", "expected a value"),
        ("( a = \"1\" b = \"2\")! /a", "expected `;`"),
        ("( $PN = \"1\")! /a", "cannot be assigned"),
        ("( = \"1\")! /a", "expected a parameter name"),
        ("(a=\"1\")! (b=\"2\")! /a", "a second assignment group"),
        (
            "[--srv] (a=\"1\")! https://h.x/a",
            "condition or assignments after the options",
        ),
    ] {
        let (_, _, msg) = syntax_err(text);
        assert!(msg.contains(needle), "{text:?}: {msg}");
    }
}

#[test]
fn r_rule_1_url_errors_at_parse_time() {
    assert_eq!(url_err("basic.cfg"), UrlErrorKind::RelativePath);
    assert_eq!(url_err("ata$MA.cfg"), UrlErrorKind::RelativePath);
    assert_eq!(
        url_err("ftp://h.x/a"),
        UrlErrorKind::UnsupportedScheme("ftp".into())
    );
    assert_eq!(url_err("tftp://h.x"), UrlErrorKind::MissingPath);
    assert_eq!(
        url_err("tftp://h.x:99999/a"),
        UrlErrorKind::InvalidPort("99999".into())
    );
    assert_eq!(url_err("[--srv] tftp://h.x/a"), UrlErrorKind::SrvWithTftp);
    assert_eq!(url_err("[--srv] /a"), UrlErrorKind::SrvWithTftp);
    let e = ProfileRule::parse("[--key k] basic.cfg").unwrap_err();
    assert_eq!(e.code(), "rule-relative-path");
    assert_eq!(e.span(), Some((10, 19)));
    assert!(e.to_string().contains("start the path with `/`"), "{e}");
    // Macros where the structure is decided at expansion time are accepted.
    parse("$A");
    parse("tftp://$SERV:$PORT/$PATH");
    parse("gds://");
    parse("[--srv] https://example.com/$PSN.xml");
    // URLs cannot start with '#' or a quote (the canonical text would change meaning).
    assert!(syntax_err("[--srv] #h.x/a").2.contains("cannot start with"));
}
