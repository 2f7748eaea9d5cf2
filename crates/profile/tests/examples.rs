//! The example profiles: every `examples/profiles/*.xml` lints clean, and
//! `bad/seed-malformations.xml` shows every R-FMT-5 malformation.

use std::path::PathBuf;

use phoneprov_profile::lint::{lint_bytes, Severity};
use phoneprov_profile::FlatProfile;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/profiles")
}

#[test]
fn clean_examples_have_no_diagnostics() {
    let mut n = 0;
    for entry in std::fs::read_dir(dir()).expect("examples/profiles exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            let bytes = std::fs::read(&path).unwrap();
            let d = lint_bytes(&path.display().to_string(), &bytes);
            assert!(
                d.is_empty(),
                "{}:\n{}",
                path.display(),
                d.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            FlatProfile::parse_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 3, "expected at least 3 clean examples, found {n}");
}

#[test]
fn bad_example_shows_every_seed_malformation() {
    let path = dir().join("bad/seed-malformations.xml");
    let d = lint_bytes("bad.xml", &std::fs::read(path).unwrap());
    let find = |code: &str, line: u32| d.iter().find(|x| x.code == code && x.line == line);
    assert_eq!(
        find("xml-tag-mismatch", 7).map(|x| x.severity),
        Some(Severity::Error)
    );
    assert_eq!(
        find("xml-attr-no-space", 8).map(|x| x.severity),
        Some(Severity::Error)
    );
    assert_eq!(
        find("xml-attr-no-space", 9).map(|x| x.severity),
        Some(Severity::Error)
    );
    assert_eq!(
        find("localized-bool", 10).map(|x| x.severity),
        Some(Severity::Error)
    );
    assert_eq!(
        find("value-whitespace", 11).map(|x| x.severity),
        Some(Severity::Warning)
    );
    assert!(find("unknown-param", 12).is_some());
    assert!(d.len() >= 12, "{}", d.len());
}
