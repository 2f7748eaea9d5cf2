//! `phoneprov serve` is the server library's product (issue 11 item 1):
//! the binary's `cmd_serve.rs` only parses flags (at most 80 lines, and it
//! assembles none of the services itself), and no library crate depends
//! on `phoneprov-server` (it depends on api, acs, activation and syslog,
//! never the other way round).

use std::path::Path;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
}

#[test]
fn cmd_serve_only_parses_flags() {
    let path = workspace().join("crates/cli/src/cmd_serve.rs");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines = text.lines().count();
    assert!(
        lines <= 80,
        "{} has {lines} lines: move assembly into crates/server",
        path.display()
    );
    for service in [
        "phoneprov_api",
        "phoneprov_acs",
        "phoneprov_activation",
        "phoneprov_syslog",
        "Server::start",
    ] {
        assert!(
            !text.contains(service),
            "{} uses {service}: the server library assembles the services",
            path.display()
        );
    }
}

#[test]
fn no_library_crate_depends_on_the_server() {
    let crates = workspace().join("crates");
    let mut dependents = Vec::new();
    for e in std::fs::read_dir(&crates).unwrap() {
        let dir = e.unwrap().path();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if name != "server"
            && manifest
                .lines()
                .any(|l| l.trim_start().starts_with("phoneprov-server"))
        {
            dependents.push(name);
        }
    }
    dependents.sort();
    assert_eq!(
        dependents,
        ["cli"],
        "only the binary depends on phoneprov-server"
    );
}
