//! CLI tests of `phoneprov tftp serve|get` (R-TFTP-1): a round trip through
//! the real binary, and the one-line errors for a missing root, a port in
//! use and a missing remote file.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_phoneprov");

struct Serve(Child);
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `phoneprov tftp serve` on a free port; returns it and its address.
fn serve(root: &std::path::Path) -> (Serve, String) {
    let mut child = Command::new(BIN)
        .args(["tftp", "serve", "--listen", "127.0.0.1:0", "--root"])
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("phoneprov tftp: serving "), "{line:?}");
    let addr = line.trim().rsplit("udp://").next().unwrap().to_string();
    (Serve(child), addr)
}

fn one_error_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.lines().count(), 1, "stderr: {err:?}");
    assert!(err.starts_with("phoneprov: error: "), "stderr: {err:?}");
    err
}

#[test]
fn r_tftp_cli_serve_and_get_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(dir.path().join("firmware.bin"), &data).unwrap();
    let (mut server, addr) = serve(dir.path());
    let out_file = dir.path().join("got.bin");
    let st = Command::new(BIN)
        .args(["tftp", "get", "--blksize", "1428", "--windowsize", "8"])
        .arg(format!("tftp://{addr}/firmware.bin"))
        .arg("-o")
        .arg(&out_file)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(std::fs::read(&out_file).unwrap() == data);
    // Without -o the file goes to stdout.
    let out = Command::new(BIN)
        .args(["tftp", "get", "--timeout", "2"])
        .arg(format!("tftp://{addr}/firmware.bin"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout == data);
    // SIGTERM is a graceful stop: exit status 0.
    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = server.0.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
}

#[test]
fn r_tftp_cli_get_not_found_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = serve(dir.path());
    let out = Command::new(BIN)
        .args(["tftp", "get"])
        .arg(format!("tftp://{addr}/missing.cfg"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = one_error_line(&out);
    assert!(err.contains("not found"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn r_tftp_cli_serve_missing_root_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["tftp", "serve", "--listen", "127.0.0.1:0", "--root"])
        .arg(dir.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = one_error_line(&out);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn r_tftp_cli_serve_port_in_use_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = Command::new(BIN)
        .args(["tftp", "serve", "--root"])
        .arg(dir.path())
        .args(["--listen", &addr.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = one_error_line(&out);
    assert!(err.contains(&addr.to_string()), "{err}");
}

#[test]
fn r_tftp_cli_get_bad_url_is_one_line() {
    let out = Command::new(BIN)
        .args(["tftp", "get", "http://example.invalid/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    one_error_line(&out);
}
