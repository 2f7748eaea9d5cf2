//! The server crate's modules form no import cycle (issue 11 "Done when"):
//! a module that refers to another (`use crate::x`, `crate::x::f()`,
//! `crate::{x, y}`) must not be referred to back by it, directly or through
//! other modules. Modules are the top-level files and directories of
//! `src/`; a nested file counts as its top-level module, and `super::`
//! from a nested file stays inside that module.
//!
//! Comments (`//`, `/* */`) and string literals are skipped, so a doc link
//! such as ``[`crate::server`]`` is not an import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `(top-level module, source)` for every `.rs` file under `src/` except
/// `lib.rs` (the root declares modules and re-exports; it is no module).
fn sources(src: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("src/ is readable") {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter(|p| p != &src.join("lib.rs"))
        .map(|p| {
            let rel = p.strip_prefix(src).unwrap();
            let first = rel.components().next().unwrap().as_os_str();
            let module = Path::new(first)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (module, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The source with comments, string and char literals blanked out.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) {
            // Raw string r"..." / r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            while j < b.len() && !b[j..].starts_with(&close) {
                j += 1;
            }
            i = j + close.len();
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // 'x' (a lifetime has no closing quote two bytes on).
            i += 3;
            out.push_str("' '");
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            // '\n', '\'', '\u{..}'.
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            let c = src[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level names a source refers to through `crate::`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `phoneprov_crate::` and the like
        }
        let t = rest.trim_start();
        if let Some(group) = t.strip_prefix('{') {
            // `crate::{a::X, b, c::{..}}`: the names at depth 1.
            let mut depth = 1;
            let mut expect_name = true;
            let mut i = 0;
            let g = group.as_bytes();
            while i < g.len() && depth > 0 {
                match g[i] {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    b',' if depth == 1 => expect_name = true,
                    c if depth == 1 && expect_name && (c.is_ascii_alphabetic() || c == b'_') => {
                        let name = ident_at(&group[i..]);
                        refs.insert(name.to_string());
                        i += name.len();
                        expect_name = false;
                        continue;
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            let name = ident_at(t);
            if !name.is_empty() {
                refs.insert(name.to_string());
            }
        }
    }
    refs
}

/// Module graph: module → modules it refers to (self-references dropped;
/// names that are not modules, such as items `lib.rs` re-exports, are
/// resolved to nothing).
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources(src);
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (m, text) in &files {
        for r in crate_refs(&code_only(text)) {
            if modules.contains(&r) && &r != m {
                g.get_mut(m).unwrap().insert(r);
            }
        }
    }
    g
}

/// One cycle, as a path `a -> b -> ... -> a`, if any.
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        mark: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        mark.insert(n.to_string(), Mark::Open);
        stack.push(n.to_string());
        for next in &g[n] {
            match mark[next.as_str()] {
                Mark::Open => {
                    let from = stack.iter().position(|s| s == next).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, g, mark, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        mark.insert(n.to_string(), Mark::Done);
        None
    }
    let mut mark: BTreeMap<String, Mark> = g.keys().map(|k| (k.clone(), Mark::New)).collect();
    for n in g.keys() {
        if mark[n.as_str()] == Mark::New {
            if let Some(c) = visit(n, g, &mut mark, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn server_modules_have_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    assert!(g.len() > 5, "found the modules: {:?}", g.keys());
    // The checker sees real imports (it would miss cycles otherwise).
    assert!(g["server"].contains("state"), "{g:?}");
    if let Some(cycle) = find_cycle(&g) {
        panic!(
            "import cycle among crates/server/src modules: {}\n(full graph: {g:#?})",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_checker_finds_cycles_and_reads_grouped_imports() {
    let refs = crate_refs(&code_only(
        "use crate::{a::X, b, c::{d, e}};\n// crate::f in a comment\nlet s = \"crate::g\";\nlet y = crate::h::run();\nuse phoneprov_crate::i;\n",
    ));
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["a", "b", "c", "h"].map(String::from)
    );
    let edges = |pairs: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    assert_eq!(
        find_cycle(&edges(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(["a", "b", "c", "a"].map(String::from).to_vec())
    );
    assert_eq!(
        find_cycle(&edges(&[("a", "b"), ("b", "c"), ("a", "c")])),
        None
    );
}
