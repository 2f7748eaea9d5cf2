//! Interop, our client against their servers (R-TFTP-1): tftpd-hpa
//! (`in.tftpd`, blksize/tsize but no windowsize, so a windowsize request must
//! fall back to lockstep) and atftpd (speaks RFC 7440 windowsize). Both run
//! as child processes on a free 127.0.0.1 port.

mod common;

use common::{free_udp_port, peer, wait_for_server, write_files, ChildGuard};
use phoneprov_tftp::{ClientConfig, ClientErrorKind, Mode, TftpClient};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

fn start_tftpd_hpa(dir: &std::path::Path) -> (ChildGuard, SocketAddr) {
    let port = free_udp_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(peer("in.tftpd"))
        .args(["-L", "-u", "root", "-a"])
        .arg(addr.to_string())
        .arg("-s")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start in.tftpd (run scripts/install-peers)");
    let guard = ChildGuard(child);
    wait_for_server(addr, "small.cfg");
    (guard, addr)
}

fn start_atftpd(dir: &std::path::Path) -> (ChildGuard, SocketAddr) {
    let port = free_udp_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(phoneprov_testpeers::atftpd())
        .args([
            "--daemon",
            "--no-fork",
            "--logfile",
            "/dev/null",
            "--user",
            "root",
            "--group",
            "root",
        ])
        .args(["--port", &port.to_string(), "--bind-address", "127.0.0.1"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start atftpd (run scripts/install-peers)");
    let guard = ChildGuard(child);
    wait_for_server(addr, "small.cfg");
    (guard, addr)
}

fn configs() -> Vec<(&'static str, ClientConfig)> {
    vec![
        ("defaults", ClientConfig::default()),
        (
            "blksize 1428",
            ClientConfig {
                blksize: Some(1428),
                ..ClientConfig::default()
            },
        ),
        (
            "blksize 1024 windowsize 8",
            ClientConfig {
                blksize: Some(1024),
                windowsize: Some(8),
                ..ClientConfig::default()
            },
        ),
        (
            "no options",
            ClientConfig {
                tsize: false,
                ..ClientConfig::default()
            },
        ),
    ]
}

fn fetch_all(addr: SocketAddr, files: &[(String, Vec<u8>)], who: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (label, config) in configs() {
        let client = TftpClient::new(config);
        for (name, data) in files {
            let got = rt
                .block_on(client.get(addr, name))
                .unwrap_or_else(|e| panic!("{who}, {label}, {name}: {e}"));
            assert!(
                got == *data,
                "{who}, {label}, {name}: {} bytes, expected {}",
                got.len(),
                data.len()
            );
        }
    }
    // The phone side needs "not found" told apart from other failures.
    let err = rt
        .block_on(TftpClient::default().get(addr, "missing.cfg"))
        .unwrap_err();
    assert_eq!(err.kind(), ClientErrorKind::NotFound, "{who}: {err}");
}

#[test]
fn r_tftp_interop_our_client_against_tftpd_hpa() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path());
    let (_server, addr) = start_tftpd_hpa(dir.path());
    fetch_all(addr, &files, "tftpd-hpa");
    // netascii: tftpd-hpa converts LF to CR LF, we convert back.
    let text = b"a\nbb\nccc\n".repeat(300);
    std::fs::write(dir.path().join("t.txt"), &text).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = TftpClient::new(ClientConfig {
        mode: Mode::Netascii,
        ..ClientConfig::default()
    });
    assert_eq!(rt.block_on(client.get(addr, "t.txt")).unwrap(), text);
    // Writing into a file.
    let out = dir.path().join("out.bin");
    let n = rt
        .block_on(TftpClient::default().get_to_file(addr, "big.bin", &out))
        .unwrap();
    assert_eq!(n.bytes, files[3].1.len() as u64);
    assert!(std::fs::read(&out).unwrap() == files[3].1);
    // tftpd-hpa 5.2 knows no windowsize: the OACK leaves it out and we run
    // lockstep with the blksize it granted.
    let client = TftpClient::new(ClientConfig {
        blksize: Some(1024),
        windowsize: Some(8),
        ..ClientConfig::default()
    });
    let mut sink = Vec::new();
    let f = rt
        .block_on(client.get_to_writer(addr, "big.bin", &mut sink))
        .unwrap();
    assert_eq!((f.options.blksize, f.options.windowsize), (1024, 1));
    assert_eq!(f.options.tsize, Some(files[3].1.len() as u64));
    assert!(sink == files[3].1);
}

#[test]
fn r_tftp_interop_our_client_against_atftpd_windowsize() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path());
    let (_server, addr) = start_atftpd(dir.path());
    fetch_all(addr, &files, "atftpd");
    // atftpd grants windowsize: check that we really ran windowed.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = TftpClient::new(ClientConfig {
        blksize: Some(1428),
        windowsize: Some(16),
        ..ClientConfig::default()
    });
    let mut got = Vec::new();
    let f = rt
        .block_on(client.get_to_writer(addr, "big.bin", &mut got))
        .unwrap();
    assert_eq!((f.options.blksize, f.options.windowsize), (1428, 16));
    assert!(got == files[3].1);
}

#[test]
fn r_tftp_client_times_out_on_a_silent_port() {
    let port = free_udp_port();
    let _silent = std::net::UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = TftpClient::new(ClientConfig {
        timeout: std::time::Duration::from_millis(100),
        retries: 2,
        ..ClientConfig::default()
    });
    let err = rt
        .block_on(client.get(format!("127.0.0.1:{port}").parse().unwrap(), "x"))
        .unwrap_err();
    assert_eq!(err.kind(), ClientErrorKind::Timeout, "{err}");
}
