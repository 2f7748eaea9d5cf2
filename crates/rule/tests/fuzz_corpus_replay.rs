//! Replays every seed of the `rule_parse` fuzz corpus through the same entry
//! point as the fuzz target (`phoneprov_rule::fuzzing::rule_parse`), so the
//! seeds stay valid inputs and any crash found by the fuzzer and added to the
//! corpus becomes a regression test.

use std::path::PathBuf;

#[test]
fn replay_rule_parse_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/rule_parse");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus dir {} unreadable: {e}", dir.display()));
    let mut n = 0;
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_file() {
            let data = std::fs::read(&path).expect("read seed");
            phoneprov_rule::fuzzing::rule_parse(&data);
            n += 1;
        }
    }
    assert!(n > 0, "corpus dir {} is empty", dir.display());
}

#[test]
fn corpus_seeds_cover_valid_and_invalid_rules() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/rule_parse");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    assert!(phoneprov_rule::ProfileRule::parse(&read("multi_stage_upgrade")).is_ok());
    assert!(phoneprov_rule::ProfileRule::parse(&read("all_options")).is_ok());
    assert!(phoneprov_rule::ProfileRule::parse(&read("broken_everything")).is_err());
}
