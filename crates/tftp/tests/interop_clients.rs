//! Interop, their clients against our server (R-TFTP-1): curl, tftp-hpa,
//! atftp (windowsize 8, blksize 1024) and busybox fetch every test file from
//! an in-process server on 127.0.0.1 and must get it byte-exact.

mod common;

use common::{peer, run_ok, write_files, TestServer};
use std::process::Command;

fn setup() -> (
    tempfile::TempDir,
    Vec<(String, Vec<u8>)>,
    TestServer,
    tempfile::TempDir,
) {
    let root = tempfile::tempdir().unwrap();
    let files = write_files(root.path());
    let server = TestServer::start(root.path());
    let out = tempfile::tempdir().unwrap();
    (root, files, server, out)
}

fn check(out: &std::path::Path, expected: &[u8], who: &str, name: &str) {
    let got = std::fs::read(out).unwrap_or_else(|e| panic!("{who} {name}: no output file: {e}"));
    assert!(
        got == expected,
        "{who} {name}: got {} bytes, expected {}",
        got.len(),
        expected.len()
    );
}

#[test]
fn r_tftp_interop_curl_client() {
    let curl = peer("curl");
    let (_root, files, server, out) = setup();
    let port = server.addr.port();
    for (name, data) in &files {
        for blksize in [None, Some("1428")] {
            let o = out.path().join(format!("{name}.{blksize:?}"));
            let mut cmd = Command::new(&curl);
            cmd.args(["-s", "-S", "-o"]).arg(&o);
            if let Some(b) = blksize {
                cmd.args(["--tftp-blksize", b]);
            }
            cmd.arg(format!("tftp://127.0.0.1:{port}/{name}"));
            run_ok(&mut cmd);
            check(&o, data, "curl", name);
        }
    }
    // A missing file is an error for curl (exit 68: TFTP file not found).
    let st = Command::new(&curl)
        .args(["-s", "-o", "/dev/null"])
        .arg(format!("tftp://127.0.0.1:{port}/missing.cfg"))
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(68));
}

#[test]
fn r_tftp_interop_tftp_hpa_client() {
    let tftp = peer("tftp");
    let (root, files, server, out) = setup();
    let port = server.addr.port().to_string();
    for (name, data) in &files {
        let o = out.path().join(name);
        run_ok(
            Command::new(&tftp)
                .args(["127.0.0.1", &port, "-m", "binary", "-c", "get", name])
                .arg(&o),
        );
        check(&o, data, "tftp-hpa", name);
    }
    // netascii: a Unix text file comes back unchanged after the round trip.
    let text = b"line one\nline two\nbare\rcr\n".repeat(200);
    std::fs::write(root.path().join("text.txt"), &text).unwrap();
    let o = out.path().join("text.txt");
    run_ok(
        Command::new(&tftp)
            .args(["127.0.0.1", &port, "-m", "ascii", "-c", "get", "text.txt"])
            .arg(&o),
    );
    check(&o, &text, "tftp-hpa ascii", "text.txt");
}

#[test]
fn r_tftp_interop_atftp_client_with_windowsize() {
    let atftp = peer("atftp");
    let (_root, files, server, out) = setup();
    let port = server.addr.port().to_string();
    for (name, data) in &files {
        let o = out.path().join(name);
        run_ok(
            Command::new(&atftp)
                .args(["--option", "windowsize 8", "--option", "blksize 1024"])
                .args(["-g", "-r", name, "-l"])
                .arg(&o)
                .args(["127.0.0.1", &port]),
        );
        check(&o, data, "atftp", name);
    }
}

#[test]
fn r_tftp_interop_busybox_client() {
    let busybox = peer("busybox");
    let (_root, files, server, out) = setup();
    let port = server.addr.port().to_string();
    for (name, data) in &files {
        for blksize in ["512", "1024"] {
            let o = out.path().join(format!("{name}.{blksize}"));
            run_ok(
                Command::new(&busybox)
                    .args(["tftp", "-g", "-r", name, "-l"])
                    .arg(&o)
                    .args(["-b", blksize, "127.0.0.1", &port]),
            );
            check(&o, data, "busybox", name);
        }
    }
}
