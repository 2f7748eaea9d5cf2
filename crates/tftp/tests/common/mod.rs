//! Helpers shared by the integration tests: an in-process server on its own
//! thread, peer-program lookup (a missing peer fails the test and names
//! `scripts/install-peers`), free ports and test files.
#![allow(dead_code)]

use phoneprov_tftp::{ClientConfig, DirHandler, Server, TftpClient};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Our server serving `root` on 127.0.0.1:<free port>, stopped on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(root: &Path) -> TestServer {
        let handler = DirHandler::new(root).expect("test root exists");
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let server = Server::bind("127.0.0.1:0".parse().unwrap(), handler)
                    .await
                    .expect("bind test server");
                addr_tx.send(server.local_addr().unwrap()).unwrap();
                server
                    .serve_until(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server started");
        TestServer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Path of a peer program; panics with the fix when it is missing.
pub fn peer(program: &str) -> PathBuf {
    let p = Path::new(program);
    if p.is_absolute() {
        assert!(
            p.exists(),
            "peer program {program} is missing: run scripts/install-peers"
        );
        return p.to_path_buf();
    }
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
    {
        let c = Path::new(dir).join(program);
        if c.is_file() {
            return c;
        }
    }
    panic!("peer program {program} is not installed: run scripts/install-peers");
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Deterministic pseudo-random content.
pub fn content(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..size)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

/// The test files: (name, content). Sizes: tiny, exactly 8 blocks of 512
/// (and 4 of 1024), exactly 3 blocks of 1428, and a multi-MB file.
pub fn write_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let files = vec![
        ("small.cfg".to_string(), content(1000, 1)),
        ("exact512x8.bin".to_string(), content(4096, 2)),
        ("exact1428x3.bin".to_string(), content(1428 * 3, 3)),
        ("big.bin".to_string(), content(3 * 1024 * 1024 + 7, 4)),
    ];
    for (name, data) in &files {
        std::fs::write(dir.join(name), data).unwrap();
    }
    files
}

/// Kills the child on drop.
pub struct ChildGuard(pub Child);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a peer client and asserts it exited 0.
pub fn run_ok(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): stdout {} stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until a TFTP server at `addr` answers (any answer, even an error).
pub fn wait_for_server(addr: SocketAddr, probe: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = TftpClient::new(ClientConfig {
        timeout: Duration::from_millis(200),
        retries: 0,
        ..ClientConfig::default()
    });
    let start = Instant::now();
    loop {
        match rt.block_on(client.get(addr, probe)) {
            Ok(_) => return,
            Err(e) if e.kind() != phoneprov_tftp::ClientErrorKind::Timeout => return,
            Err(e) => assert!(
                start.elapsed() < Duration::from_secs(10),
                "server at {addr} never answered: {e}"
            ),
        }
    }
}
