//! Replays every seed of `fuzz/corpus/soap_parse/` through the fuzz entry
//! point, so the corpus is exercised by `cargo test` without a fuzzer.

#[test]
fn soap_parse_corpus_replays_without_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/soap_parse");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        phoneprov_cwmp::fuzzing::soap_parse(&data);
        n += 1;
    }
    assert!(n > 0, "corpus {} is empty", dir.display());
}

#[test]
fn soap_parse_corpus_holds_parsable_envelopes_of_every_version_seen() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/soap_parse");
    let mut versions = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(env) = phoneprov_cwmp::parse_envelope(&data) {
            versions.insert(env.version);
        }
    }
    assert_eq!(
        versions.len(),
        5,
        "seeds cover CWMP 1.0 to 1.4: {versions:?}"
    );
}
