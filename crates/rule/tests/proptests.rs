//! Property tests: canonical text round trip of generated rules (R-RULE),
//! expansion never panics and `$$` escaping (R-MACRO), version ordering laws,
//! and parse/lint totality on arbitrary text.

use phoneprov_rule::{
    compare_versions, escape, expand, lint_rule, lint_template, Alternative, Assignment,
    Comparison, Condition, MacroContext, Op, Operand, OptionSpec, ProfileRule,
};
use proptest::prelude::*;

fn bare() -> impl Strategy<Value = Operand> {
    prop_oneof![
        "[A-Za-z0-9_.$-]{1,12}",
        Just("$(MA:0:6)".to_string()),
        Just("sip8845.11-3-2MPP0001-609".to_string()),
        Just("and".to_string()),
    ]
    .prop_map(Operand::Bare)
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![3 => bare(), 1 => "\\PC{0,10}".prop_map(Operand::Quoted)]
}

fn comparison() -> impl Strategy<Value = Comparison> {
    let op = prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Lt),
        Just(Op::Le),
        Just(Op::Gt),
        Just(Op::Ge)
    ];
    (operand(), op, operand()).prop_map(|(left, op, right)| {
        let quoted = matches!(left, Operand::Quoted(_)) || matches!(right, Operand::Quoted(_));
        let op = if quoted && op.is_ordering() {
            Op::Ne
        } else {
            op
        };
        Comparison { left, op, right }
    })
}

fn assignment() -> impl Strategy<Value = Assignment> {
    let gpp = prop_oneof![
        "[A-P]".prop_map(|l| format!("GPP_{l}")),
        "S[A-D]".prop_map(|l| format!("GPP_{l}"))
    ];
    let name = prop_oneof![gpp, "[A-Z][a-z][A-Za-z0-9_]{1,12}"];
    (name, "\\PC{0,10}").prop_map(|(name, value)| Assignment { name, value })
}

fn options() -> impl Strategy<Value = Vec<OptionSpec>> {
    let v = || "\\PC{0,8}";
    (
        proptest::option::of(v()),
        proptest::option::of(v()),
        proptest::option::of(v()),
        proptest::option::of(proptest::char::range('A', 'P')),
        proptest::option::of(v()),
        any::<bool>(),
    )
        .prop_map(|(k, u, p, a, post, srv)| {
            let mut o = Vec::new();
            o.extend(k.map(OptionSpec::Key));
            o.extend(u.map(OptionSpec::Uid));
            o.extend(p.map(OptionSpec::Pwd));
            o.extend(a.map(OptionSpec::Alias));
            o.extend(post.map(OptionSpec::Post));
            if srv {
                o.push(OptionSpec::Srv);
            }
            o
        })
        .prop_shuffle()
}

fn url(srv: bool) -> impl Strategy<Value = String> {
    let scheme = if srv {
        prop_oneof![Just("http://"), Just("https://")].boxed()
    } else {
        prop_oneof![Just(""), Just("tftp://"), Just("http://"), Just("https://")].boxed()
    };
    let host = prop_oneof![
        Just(""),
        Just("h.example"),
        Just("10.0.0.1"),
        Just("[2001:db8::1]"),
        Just("h.example:6900"),
        Just("$SERV")
    ];
    let path = "/[A-Za-z0-9_.$/?=-]{0,12}";
    // Without a scheme a leading `[` would open the options: IPv6 needs a scheme.
    let structured = (scheme, host, path).prop_map(|(s, h, p)| {
        let h = if s.is_empty() && h.starts_with('[') {
            "h.example"
        } else {
            h
        };
        format!("{s}{h}{p}")
    });
    if srv {
        structured.boxed()
    } else {
        prop_oneof![
            8 => structured,
            1 => Just("$A".to_string()),
            1 => Just("gds://".to_string()),
        ]
        .boxed()
    }
}

fn alternative(needs_condition: bool) -> impl Strategy<Value = Alternative> {
    let cond = proptest::collection::vec(comparison(), 1..4)
        .prop_map(|comparisons| Condition { comparisons });
    let condition = if needs_condition {
        cond.prop_map(Some).boxed()
    } else {
        proptest::option::of(cond).boxed()
    };
    (
        condition,
        proptest::collection::vec(assignment(), 0..3),
        options(),
    )
        .prop_flat_map(|(condition, assignments, options)| {
            let srv = options.contains(&OptionSpec::Srv);
            url(srv).prop_map(move |url| Alternative {
                condition: condition.clone(),
                assignments: assignments.clone(),
                options: options.clone(),
                url,
            })
        })
}

fn rule() -> impl Strategy<Value = ProfileRule> {
    (
        proptest::collection::vec(alternative(true), 0..3),
        alternative(false),
    )
        .prop_map(|(mut alts, last)| {
            alts.push(last);
            ProfileRule::from_alternatives(alts)
        })
}

fn ctx() -> MacroContext {
    let mut c = MacroContext::new().with_mac("000e08012345").unwrap();
    c.set("PN", "CP-8841-3PCC");
    c.set_gpp("a", "$MA$(PN)$$").unwrap();
    c.set_default_server("10.9.9.9");
    c
}

// Default config: 256 cases, more with PROPTEST_CASES=n.
proptest! {

    /// R-RULE: Display writes canonical text that parses back to the same rule.
    #[test]
    fn display_parse_round_trip(r in rule()) {
        let text = r.to_string();
        let back = ProfileRule::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&back, &r, "text: {}", text);
        prop_assert_eq!(back.to_string(), text);
        // Selecting never panics and a selection, if any, has a printable URL.
        if let Ok(Some(s)) = back.select(&ctx()) {
            prop_assert!(s.url.to_url_string().contains("://"));
        }
    }

    /// Disabled rules keep their text.
    #[test]
    fn disabled_round_trip(body in "\\PC{0,20}") {
        let text = format!("#{}", body.trim_end());
        let r = ProfileRule::parse(&text).unwrap();
        prop_assert!(r.is_disabled());
        prop_assert_eq!(r.to_string(), text);
    }

    /// R-MACRO: expansion is total, on any text and on macro-dense text.
    #[test]
    fn expand_never_panics(s in "\\PC{0,40}", t in "[$():0-9A-Za-z_]{0,40}") {
        let c = ctx();
        let _ = expand(&s, &c);
        let _ = expand(&t, &c);
        let _ = phoneprov_rule::expand_secret(&t, &c);
    }

    /// R-MACRO `$$`: escaped text expands back to itself (no re-expansion),
    /// and text without `$` is left alone.
    #[test]
    fn dollar_escape_round_trip(s in "[$()A-Za-z0-9:_ ./-]{0,40}") {
        let c = ctx();
        prop_assert_eq!(expand(&escape(&s), &c), s.clone());
        let no_dollar = s.replace('$', "");
        prop_assert_eq!(expand(&no_dollar, &c), no_dollar.clone());
        // Values are inserted verbatim: GPP_A holds `$MA$(PN)$$` literally.
        prop_assert_eq!(expand(&format!("{no_dollar}$(A)"), &c), format!("{no_dollar}$MA$(PN)$$"));
    }

    /// Version ordering is a total order consistent with its reverse, and
    /// numeric on integers.
    #[test]
    fn version_order_laws(a in "[a-z0-9.-]{0,12}", b in "[a-z0-9.-]{0,12}", x in any::<u64>(), y in any::<u64>()) {
        prop_assert_eq!(compare_versions(&a, &b), compare_versions(&b, &a).reverse());
        prop_assert_eq!(compare_versions(&a, &a), std::cmp::Ordering::Equal);
        prop_assert_eq!(compare_versions(&x.to_string(), &y.to_string()), x.cmp(&y));
    }

    /// Parse, select and lint are total on arbitrary text; lint spans are
    /// valid char-boundary ranges.
    #[test]
    fn parse_and_lint_are_total(s in "\\PC{0,60}", t in "[ ()?!\\[\\]$|\"a-z=;:/.-]{0,60}") {
        for text in [&s, &t] {
            if let Ok(r) = ProfileRule::parse(text) {
                let _ = r.select(&ctx());
                // Whatever parses has a canonical form that parses to the same tree.
                let again = ProfileRule::parse(&r.to_string());
                prop_assert_eq!(again, Ok(r), "{:?}", text);
            }
            for p in lint_rule(text).into_iter().chain(lint_template(text)) {
                prop_assert!(p.start <= p.end && p.end <= text.len());
                prop_assert!(text.is_char_boundary(p.start) && text.is_char_boundary(p.end));
            }
        }
    }

    /// The fuzz target's invariants hold on arbitrary bytes and on text made
    /// of the rule grammar's own characters.
    #[test]
    fn fuzz_entry_invariants(bytes in proptest::collection::vec(any::<u8>(), 0..80),
                             t in "[ ()?!\\[\\]$|\"a-zA-Z0-9=<>;:/.#\\-]{0,80}") {
        phoneprov_rule::fuzzing::rule_parse(&bytes);
        phoneprov_rule::fuzzing::rule_parse(t.as_bytes());
    }

    /// Same, on sequences of grammar tokens, which reach deep parser states.
    #[test]
    fn fuzz_entry_on_token_soup(tokens in proptest::collection::vec(proptest::sample::select(vec![
        "(", ")?", ")!", ")", "[", "]", "--key", "--uid", "--pwd", "--post", "--alias", "--srv", "a", "$A", "$SA",
        "GPP_B", "eq", "lt", "ge", "!=", "<=", "=", "and", "\"x y\"", "\"", "\\", "|", ";", "/a", "tftp://h.x/b",
        "https://[::1]:8443/c", "h.x:70/d", "$(MA:1:2)", "$(", "$$", "#", "gds://", "sip8845.11-3-2MPP0001-609", "é",
        " ", " ", " ",
    ]), 0..24)) {
        phoneprov_rule::fuzzing::rule_parse(tokens.concat().as_bytes());
    }
}
