//! Replays every seed of the `syslog_parse` fuzz target through the same
//! entry point, so a corpus crash is a normal test failure.

#[test]
fn syslog_parse_corpus_replays_without_panic() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/syslog_parse");
    let mut n = 0;
    for entry in
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
    {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        phoneprov_syslog::fuzz_entry(&bytes);
        n += 1;
    }
    assert!(n > 0, "corpus {} is empty", dir.display());
}
