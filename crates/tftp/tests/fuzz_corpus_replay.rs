//! Replays every seed of `fuzz/corpus/tftp_packet/` through the fuzz entry
//! point, so the corpus is exercised by `cargo test` without a fuzzer.

#[test]
fn tftp_packet_corpus_replays_without_panic() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/tftp_packet");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        phoneprov_tftp::fuzzing::tftp_packet(&data);
        n += 1;
    }
    assert!(n > 0, "corpus {} is empty", dir.display());
}

#[test]
fn corpus_seeds_cover_every_opcode() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/tftp_packet");
    let mut ops = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(p) = phoneprov_tftp::Packet::parse(&data) {
            ops.insert(data[1]);
            assert_eq!(phoneprov_tftp::Packet::parse(&p.encode()).unwrap(), p);
        }
    }
    assert_eq!(ops.into_iter().collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
}
