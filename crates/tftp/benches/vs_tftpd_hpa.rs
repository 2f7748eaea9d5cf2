//! Side-by-side benchmark against tftpd-hpa on loopback (R-TFTP-1, DESIGN
//! "speed is measured by benchmarks"). The same client (ours) fetches from
//! both servers; each figure is the median of a few rounds.
//!
//! (a) 4 KB files fetched by 50 concurrent clients, files/s (target ≥ 2×);
//! (b) one 32 MB file at blksize 1428, MB/s (target ≥ 1×);
//! (c) ours at windowsize 16 vs tftpd-hpa's (b) (target ≥ 4×).
//!
//! Run: `cargo bench -p phoneprov-tftp --bench vs_tftpd_hpa`.

use phoneprov_tftp::{ClientConfig, DirHandler, Server, TftpClient};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;
const CLIENTS: usize = 50;
const FILES_PER_CLIENT: usize = 20;
const BIG: usize = 32 * 1024 * 1024;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn start_tftpd_hpa(dir: &Path) -> (Kill, SocketAddr) {
    let exe = ["/usr/sbin/in.tftpd", "/sbin/in.tftpd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("in.tftpd (tftpd-hpa) is not installed: run scripts/install-peers");
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(exe)
        .args(["-L", "-u", "root", "-a", &addr.to_string(), "-s"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start in.tftpd");
    std::thread::sleep(Duration::from_millis(300));
    (Kill(child), addr)
}

fn start_ours(dir: &Path) -> (tokio::sync::oneshot::Sender<()>, SocketAddr) {
    let handler = DirHandler::new(dir).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = Server::bind("127.0.0.1:0".parse().unwrap(), handler)
                .await
                .unwrap();
            tx.send(server.local_addr().unwrap()).unwrap();
            server
                .serve_until(async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
        });
    });
    (stop_tx, rx.recv().unwrap())
}

/// (a): files/s with CLIENTS concurrent clients each fetching FILES_PER_CLIENT files.
fn small_files(rt: &tokio::runtime::Runtime, addr: SocketAddr) -> f64 {
    let client = Arc::new(TftpClient::new(ClientConfig::default()));
    let start = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..FILES_PER_CLIENT {
                    let name = format!("small{}.bin", (c + i) % CLIENTS);
                    let data = client.get(addr, &name).await.expect("small file");
                    assert_eq!(data.len(), 4096);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    (CLIENTS * FILES_PER_CLIENT) as f64 / start.elapsed().as_secs_f64()
}

/// (b)/(c): MB/s for the 32 MB file.
fn big_file(rt: &tokio::runtime::Runtime, addr: SocketAddr, windowsize: Option<u16>) -> f64 {
    let client = TftpClient::new(ClientConfig {
        blksize: Some(1428),
        windowsize,
        ..ClientConfig::default()
    });
    let start = Instant::now();
    let data = rt.block_on(client.get(addr, "big.bin")).expect("big file");
    assert_eq!(data.len(), BIG);
    BIG as f64 / 1e6 / start.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing
    // useful either: always run, it is bounded.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..CLIENTS {
        std::fs::write(
            dir.path().join(format!("small{i}.bin")),
            vec![i as u8; 4096],
        )
        .unwrap();
    }
    let big: Vec<u8> = (0..BIG).map(|i| (i * 31 + i / 977) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();

    let (_hpa, hpa_addr) = start_tftpd_hpa(dir.path());
    let (_stop, our_addr) = start_ours(dir.path());
    // One client thread, the same for both servers.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Warm up both (page cache, first fork).
    small_files(&rt, hpa_addr);
    small_files(&rt, our_addr);

    let mut a_hpa = Vec::new();
    let mut a_ours = Vec::new();
    let mut b_hpa = Vec::new();
    let mut b_ours = Vec::new();
    let mut c_ours = Vec::new();
    // Between phases, let the previous phase's leftovers (client dally
    // sockets, server processes) wind down so they do not count against the
    // next measurement.
    let settle = || std::thread::sleep(Duration::from_millis(1200));
    for _ in 0..ROUNDS {
        a_hpa.push(small_files(&rt, hpa_addr));
        settle();
        a_ours.push(small_files(&rt, our_addr));
        settle();
        b_hpa.push(big_file(&rt, hpa_addr, None));
        b_ours.push(big_file(&rt, our_addr, None));
        c_ours.push(big_file(&rt, our_addr, Some(16)));
        eprintln!(
            "  round: (a) hpa {:.0} ours {:.0} files/s; (b) hpa {:.1} ours {:.1} MB/s; (c) ours {:.1} MB/s",
            a_hpa.last().unwrap(),
            a_ours.last().unwrap(),
            b_hpa.last().unwrap(),
            b_ours.last().unwrap(),
            c_ours.last().unwrap()
        );
    }
    let (a_hpa, a_ours) = (median(a_hpa), median(a_ours));
    let (b_hpa, b_ours, c_ours) = (median(b_hpa), median(b_ours), median(c_ours));
    println!("vs_tftpd_hpa: medians of {ROUNDS} rounds on loopback, same client (phoneprov-tftp) for both servers");
    println!(
        "(a) 4 KB files, {CLIENTS} concurrent clients: tftpd-hpa {a_hpa:.0} files/s, phoneprov {a_ours:.0} files/s, ratio {:.2}x (target >= 2x)",
        a_ours / a_hpa
    );
    println!(
        "(b) 32 MB, blksize 1428: tftpd-hpa {b_hpa:.1} MB/s, phoneprov {b_ours:.1} MB/s, ratio {:.2}x (target >= 1x)",
        b_ours / b_hpa
    );
    println!(
        "(c) 32 MB, blksize 1428, windowsize 16: phoneprov {c_ours:.1} MB/s vs tftpd-hpa (b) {b_hpa:.1} MB/s, ratio {:.2}x (target >= 4x)",
        c_ours / b_hpa
    );
}
