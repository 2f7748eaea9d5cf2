//! Replays every file of `fuzz/corpus/xml_parse/` through the same entry
//! point as the `xml_parse` fuzz target (no panics, round trip holds).

#[test]
fn replay_xml_parse_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/xml_parse");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {dir}: {e}")) {
        let path = entry.unwrap().path();
        if path.is_file() {
            let data = std::fs::read(&path).unwrap();
            let r = std::panic::catch_unwind(|| phoneprov_profile::fuzzing::xml_parse(&data));
            assert!(r.is_ok(), "{} panics", path.display());
            n += 1;
        }
    }
    assert!(n >= 5, "corpus {dir} holds only {n} files");
}
