//! Issue 16: a corpus of real profiles (the administration guides' own
//! example XML, and profiles written the way the open-source provisioning
//! servers' templates write them for these phones: their parameter names,
//! values made up here) lints with no unknown parameter and no error; a
//! broken copy of each gets the expected findings. Also: per-model line
//! counts, secrets, "did you mean" plausibility, and the generated table
//! matching its generator.

use std::path::PathBuf;

use phoneprov_profile::lint::{lint_bytes_with, Diagnostic, LintOptions, Severity};
use phoneprov_profile::schema::{self, ParamType};
use phoneprov_profile::FlatProfile;

fn corpus() -> Vec<(PathBuf, &'static str)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    [
        ("guide-dns-srv.xml", "CP-8851-3PCC"),
        ("guide-activation-code.xml", "CP-8841-3PCC"),
        ("guide-gpp.xml", "CP-6821-3PCC"),
        ("issue-16-names.xml", "CP-6821-3PCC"),
        ("wazo-style-7841.xml", "CP-7841-3PCC"),
        ("fusionpbx-style-8851.xml", "CP-8851-3PCC"),
        ("guide-8865-sections.xml", "CP-8865-3PCC"),
    ]
    .into_iter()
    .map(|(f, m)| (dir.join(f), m))
    .collect()
}

fn lint(text: &str, model: &str, plain_http: bool) -> Vec<Diagnostic> {
    let m = schema::model(model).expect("known model");
    lint_bytes_with(
        "p.xml",
        text.as_bytes(),
        LintOptions {
            model: Some(m),
            plain_http,
        },
    )
}

fn codes(d: &[Diagnostic]) -> Vec<&str> {
    d.iter().map(|d| d.code.as_str()).collect()
}

fn show(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn real_profiles_lint_without_unknown_names_or_errors() {
    let mut total = 0;
    for (path, model) in corpus() {
        let text = std::fs::read_to_string(&path).unwrap();
        let d = lint(&text, model, false);
        let bad: Vec<_> = d
            .iter()
            .filter(|d| {
                d.severity == Severity::Error
                    || d.code == "unknown-param"
                    || d.code == "not-on-model"
            })
            .cloned()
            .collect();
        assert!(bad.is_empty(), "{}:\n{}", path.display(), show(&bad));
        total += FlatProfile::parse(&text).unwrap().params().len();
    }
    assert!(total > 900, "corpus has {total} parameters");
}

/// Replaces the value of the first element named `name` in `text`.
fn set_value(text: &str, name: &str, value: &str) -> String {
    let open = text.find(&format!("<{name}")).expect("element present");
    let gt = open + text[open..].find('>').unwrap();
    if text[..gt].ends_with('/') {
        return format!("{}>{value}</{name}>{}", &text[..gt - 1], &text[gt + 1..]);
    }
    let close = gt + text[gt..].find(&format!("</{name}>")).unwrap();
    format!("{}{value}{}", &text[..=gt], &text[close..])
}

fn insert(text: &str, xml: &str) -> String {
    let at = text.rfind("</flat-profile>").unwrap();
    format!("{}{xml}\n{}", &text[..at], &text[at..])
}

/// One element of each kind in the profile, by schema type.
fn first_of(p: &FlatProfile, want: fn(&ParamType) -> bool) -> Option<String> {
    p.params()
        .iter()
        .find(|x| schema::lookup(&x.name).is_some_and(|s| want(&s.kind)))
        .map(|x| x.name.clone())
}

#[test]
fn broken_copies_get_the_expected_findings() {
    for (path, model) in corpus() {
        let text = std::fs::read_to_string(&path).unwrap();
        let p = FlatProfile::parse(&text).unwrap();
        let m = schema::model(model).unwrap();
        let mut broken = text.clone();
        let mut want = vec!["unknown-param", "not-on-model"];
        // A typo in a name: unknown, with a suggestion of the real name.
        broken = insert(
            &broken,
            "<Primary_NPT_Server>pool.ntp.org</Primary_NPT_Server>",
        );
        // A line one past the model's count.
        let ext = m.ext + 1;
        broken = insert(
            &broken,
            &format!("<Line_Enable_{ext}_>Yes</Line_Enable_{ext}_>"),
        );
        if let Some(n) = first_of(&p, |k| *k == ParamType::Bool) {
            broken = set_value(&broken, &n, "Maybe");
            want.push("invalid-bool");
        }
        if let Some(n) = first_of(&p, |k| matches!(k, ParamType::Int { .. })) {
            broken = set_value(&broken, &n, "99999999999");
            want.push("int-range");
        }
        if let Some(n) = first_of(&p, |k| matches!(k, ParamType::Enum(_))) {
            broken = set_value(&broken, &n, "Bogus Value");
            want.push("invalid-enum");
        }
        let d = lint(&broken, model, false);
        let got = codes(&d);
        for w in &want {
            assert!(
                got.contains(w),
                "{}: no {w} in\n{}",
                path.display(),
                show(&d)
            );
        }
        let typo = d
            .iter()
            .find(|d| d.message.contains("Primary_NPT_Server"))
            .unwrap();
        assert!(
            typo.hint
                .as_deref()
                .unwrap()
                .contains("`Primary_NTP_Server`"),
            "{typo}"
        );
        let errors = d.iter().filter(|d| d.severity == Severity::Error).count();
        assert_eq!(errors, want.len() - 2, "{}:\n{}", path.display(), show(&d));
    }
}

#[test]
fn per_model_counts_decide_which_lines_exist() {
    let line =
        |n: u16| format!("<flat-profile><Line_Enable_{n}_>Yes</Line_Enable_{n}_></flat-profile>");
    let on = |model: &str, n: u16| !codes(&lint(&line(n), model, false)).contains(&"not-on-model");
    assert!(on("CP-6821-3PCC", 2));
    assert!(!on("CP-6821-3PCC", 3), "a 6821 has 2 lines");
    assert!(on("CP-7861-3PCC", 16));
    // Issue 16: "an 8851 has 5 — `Line_Enable_6_` is wrong for an 8851".
    for pn in [
        "CP-8811-3PCC",
        "CP-8841-3PCC",
        "CP-8845-3PCC",
        "CP-8851-3PCC",
        "CP-8861-3PCC",
        "CP-8865-3PCC",
    ] {
        assert!(on(pn, 5), "{pn} has 5 lines");
        assert!(!on(pn, 6), "{pn} has 5 lines");
    }
    let d = lint(&line(6), "CP-8851-3PCC", false);
    assert!(
        d[0].message.contains("does not exist on a CP-8851-3PCC")
            && d[0].message.contains("has 5 of these (1-5)"),
        "{}",
        show(&d)
    );
    assert!(!on("CP-7811-3PCC", 2));
    // Model-specific parameters.
    let x = "<flat-profile><ssid_1_>voice</ssid_1_><Unit_3_Key_1_>fnc=blf;sub=1@x</Unit_3_Key_1_></flat-profile>";
    let d = lint(x, "CP-8851-3PCC", false);
    assert_eq!(
        codes(&d),
        ["not-on-model", "not-on-model"],
        "Wi-Fi is not on an 8851, and it takes two key expansion modules:\n{}",
        show(&d)
    );
    let two = "<flat-profile><Unit_2_Key_36_>fnc=blf;sub=1@x</Unit_2_Key_36_></flat-profile>";
    assert!(codes(&lint(two, "CP-8851-3PCC", false)).is_empty());
    assert!(codes(&lint(x, "CP-8861-3PCC", false)).is_empty());
    assert_eq!(
        codes(&lint(x, "CP-6851-3PCC", false)),
        ["not-on-model", "not-on-model"]
    );
    // Without a model, any model's name is fine.
    assert!(codes(&phoneprov_profile::lint::lint_str("p.xml", x)).is_empty());
    let m = schema::model("CP-6821-3PCC").unwrap();
    let s = schema::lookup("Line_Enable_1_").unwrap();
    assert_eq!(s.instances_on(m), ["Line_Enable_1_", "Line_Enable_2_"]);
    assert_eq!(schema::model("cp-8851-3pcc-k9").unwrap().pn, "CP-8851-3PCC");
}

/// Line keys, extensions and key expansion module keys stay consistent:
/// every model has one line key per extension, a line key or the call log
/// cannot name an extension the model lacks, and KEM keys are counted per
/// unit, apart from the line keys.
#[test]
fn line_keys_extensions_and_kem_units_agree() {
    for m in schema::models() {
        assert_eq!(m.keys, m.ext, "{}: one line key per extension", m.pn);
        assert_eq!(m.units == 0, m.unit_keys == 0, "{}", m.pn);
        let units = schema::all()
            .iter()
            .filter(|s| s.prefix.starts_with("Unit_") && s.models.contains(m))
            .count() as u16;
        assert_eq!(units, m.units, "{}: Unit_n_Key_m_ rows per unit", m.pn);
    }
    let m = schema::model("CP-8851-3PCC").unwrap();
    let names = |p: &str| schema::lookup(p).unwrap().instances_on(m);
    assert_eq!(names("Extended_Function_1_").len(), 5);
    assert_eq!(names("Line_Enable_1_").len(), 5);
    assert_eq!(names("Unit_2_Key_1_").len(), 36);
    assert!(names("Unit_3_Key_1_").is_empty(), "an 8851 takes 2 units");
    let key = |v: &str| {
        format!("<flat-profile><Extension_2_>{v}</Extension_2_><CallLog_Associated_Line>{v}</CallLog_Associated_Line></flat-profile>")
    };
    assert!(codes(&lint(&key("5"), "CP-8851-3PCC", false)).is_empty());
    assert!(codes(&lint(&key("Disabled"), "CP-8851-3PCC", false)) == ["invalid-int"]);
    let d = lint(&key("7"), "CP-8851-3PCC", false);
    assert_eq!(codes(&d), ["not-on-model", "not-on-model"], "{}", show(&d));
    assert!(d[0].message.contains("names extension 7"), "{}", show(&d));
    assert_eq!(
        codes(&lint(&key("7"), "CP-7861-3PCC", false)),
        Vec::<&str>::new()
    );
}

#[test]
fn secrets_are_flagged_over_http_and_never_echoed() {
    let x = "<flat-profile><Password_1_>hunter2-secret </Password_1_><Admin_Password>adm-secret</Admin_Password><User_ID_1_>1001</User_ID_1_></flat-profile>";
    let d = lint(x, "CP-7841-3PCC", true);
    assert_eq!(
        codes(&d)
            .iter()
            .filter(|c| **c == "secret-over-http")
            .count(),
        2,
        "{}",
        show(&d)
    );
    let all = show(&d);
    assert!(
        !all.contains("hunter2") && !all.contains("adm-secret"),
        "{all}"
    );
    assert!(codes(&lint(x, "CP-7841-3PCC", false)) == ["value-whitespace"]);
    for n in [
        "Password_3_",
        "Admin_Password",
        "ACS_Password",
        "GPP_SA",
        "LDAP_Password",
    ] {
        assert!(schema::lookup(n).unwrap().secret, "{n}");
    }
    assert!(!schema::lookup("User_ID_1_").unwrap().secret);
}

#[test]
fn did_you_mean_only_when_close_and_plausible() {
    use phoneprov_profile::lint::suggest;
    assert_eq!(
        suggest("Primary_NPT_Server").as_deref(),
        Some("Primary_NTP_Server")
    );
    assert_eq!(
        suggest("primary_ntp_server").as_deref(),
        Some("Primary_NTP_Server")
    );
    assert_eq!(suggest("Primary_Time_Server"), None, "not Primary_DNS");
    assert_eq!(suggest("Line_Enabel_3_").as_deref(), Some("Line_Enable_3_"));
    assert_eq!(suggest("Completely_Unrelated_Thing"), None);
    assert_eq!(suggest("X_Vendor"), None);
}

/// The counts the closing note asks for (printed; `cargo test
/// -- --nocapture` shows them).
#[test]
fn schema_counts() {
    let st = schema::stats();
    println!("{}", serde_json::to_string_pretty(&st).unwrap());
    assert!(st.entries >= 600, "{}", st.entries);
    assert!(st.narrower_than_string * 10 >= st.entries * 6);
    for fam in ["6800", "7800", "8800"] {
        assert!(st.per_family.iter().any(|(f, n)| *f == fam && *n > 500));
    }
    let sections: Vec<&str> = st.per_section.iter().map(|(s, _)| *s).collect();
    for s in [
        "System",
        "Network",
        "Provisioning",
        "Upgrade",
        "TR-069",
        "Security",
        "Time",
        "Regional",
        "Phone",
        "Line Key",
        "Ext",
        "Audio",
        "Call Features",
        "User",
        "Attendant Console",
    ] {
        assert!(sections.contains(&s), "section {s}");
    }
}

/// The checked-in TSV files are exactly what `data/gen_params.py` writes.
#[test]
fn table_matches_its_generator() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let out = std::env::temp_dir().join(format!("phoneprov-gen-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let st = std::process::Command::new("python3")
        .arg(dir.join("gen_params.py"))
        .arg(&out)
        .status()
        .expect("python3 runs (install it: it regenerates the schema table)");
    assert!(st.success());
    for f in ["params.tsv", "models.tsv"] {
        let want = std::fs::read_to_string(out.join(f)).unwrap();
        let have = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(
            want == have,
            "{f} differs from gen_params.py output: run the script"
        );
    }
    std::fs::remove_dir_all(&out).ok();
}
