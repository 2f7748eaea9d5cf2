//! Every metric family the workspace emits (`counter!`, `gauge!`,
//! `histogram!` with a `phoneprov_` name in any crate's `src/`) is listed
//! in [`FAMILIES`], so each is scraped with `# HELP` (issue 17 item 5) and
//! a new series cannot be added without its description.

use phoneprov_server::metrics_setup::FAMILIES;

fn sources(dir: &std::path::Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(std::fs::read_to_string(&p).unwrap());
        }
    }
}

#[test]
fn every_emitted_family_is_described() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut texts = Vec::new();
    for c in std::fs::read_dir(&crates).unwrap() {
        let src = c.unwrap().path().join("src");
        if src.is_dir() {
            sources(&src, &mut texts);
        }
    }
    let mut found = 0;
    for text in &texts {
        for mac in ["counter!(", "gauge!(", "histogram!("] {
            for (i, _) in text.match_indices(mac) {
                let rest = text[i + mac.len()..].trim_start();
                let Some(name) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) else {
                    continue;
                };
                if !name.starts_with("phoneprov_") {
                    continue;
                }
                found += 1;
                assert!(
                    FAMILIES.iter().any(|f| f.0 == name),
                    "{name} is emitted but not described in metrics_setup::FAMILIES"
                );
            }
        }
    }
    assert!(found >= 20, "only {found} emitting call sites found");
}
