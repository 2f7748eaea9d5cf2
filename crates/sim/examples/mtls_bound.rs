//! The "physical bound" for a mutual-TLS boot storm: a bare tokio-rustls
//! server that requires a client certificate, completes the handshake,
//! answers one fixed HTTP response and closes, driven by the simulator's
//! own client path (`phoneprov_sim::run_fleet`: per-phone rustls configs
//! from `DIR/<mac>.pem/.key`, one connection per phone). Whatever
//! `phoneprov serve` achieves with the same certificates is compared with
//! the handshakes per second printed here.
//!
//! ```text
//! cargo run --release -p phoneprov-sim --example mtls_bound -- [COUNT] [CONCURRENCY]
//! cargo run --release -p phoneprov-sim --example mtls_bound -- --serve SERVER.pem SERVER.key CLIENT_CA.pem
//! ```
//! The first form runs server and simulator in one process (defaults: 2000
//! phones, concurrency 2000; certificates issued in a temp dir first, not
//! timed). The `--serve` form runs only the bare accept loop in its own
//! process and prints `listening on ADDR`; `scripts/bench-boot-storm`
//! points the very same `phoneprov sim` command at it and at `phoneprov
//! serve` in turn, so the two rates differ only by the server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use phoneprov_pki::{server_config, Ca, ClientAuth};
use phoneprov_sim::{run_fleet, ClientCerts, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BODY: &str = "<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n";

#[tokio::main]
async fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("--serve") {
        let [_, cert, key, ca] = argv.as_slice() else {
            eprintln!("usage: mtls_bound --serve SERVER.pem SERVER.key CLIENT_CA.pem");
            std::process::exit(2);
        };
        let read = |p: &String| std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        let tls = server_config(
            &read(cert),
            &read(key),
            Some(&read(ca)),
            ClientAuth::Required,
        )
        .expect("server config");
        let listener = listen_local();
        println!("listening on {}", listener.local_addr().unwrap());
        accept_loop(listener, tls, Arc::new(AtomicU64::new(0))).await;
        return;
    }
    let mut args = argv.into_iter();
    let count: u64 = args
        .next()
        .map(|s| s.parse().expect("COUNT"))
        .unwrap_or(2000);
    let concurrency: usize = args
        .next()
        .map(|s| s.parse().expect("CONCURRENCY"))
        .unwrap_or(2000);

    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::generate("mtls bound CA").expect("CA");
    let server = ca
        .issue_server(&["127.0.0.1".to_string()])
        .expect("server cert");
    let mut sim = SimConfig::new(count);
    sim.mac_base = "000e08100000".into();
    let t = Instant::now();
    for i in 0..count {
        let id = sim.identity(i).expect("identity");
        let p = ca
            .issue_phone(&id.mac, &id.serial, &id.pn)
            .expect("phone cert");
        std::fs::write(dir.path().join(format!("{}.pem", id.mac)), &p.cert_pem).unwrap();
        std::fs::write(dir.path().join(format!("{}.key", id.mac)), &p.key_pem).unwrap();
    }
    eprintln!(
        "issued {count} phone certificates in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let tls = server_config(
        server.cert_pem.as_bytes(),
        server.key_pem.as_bytes(),
        Some(ca.cert_pem().as_bytes()),
        ClientAuth::Required,
    )
    .expect("server config");
    let listener = listen_local();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicU64::new(0));
    tokio::spawn(accept_loop(listener, tls, handshakes.clone()));

    sim.params = vec![(
        "Profile_Rule".into(),
        format!("https://127.0.0.1:{port}/$MA.xml"),
    )];
    sim.trust_pem = Some(ca.cert_pem().as_bytes().to_vec());
    sim.client_certs = ClientCerts::Dir(dir.path().to_path_buf());
    sim.boot_storm = true;
    sim.concurrency = concurrency;
    let t = Instant::now();
    let report = run_fleet(sim).await.expect("fleet");
    let secs = t.elapsed().as_secs_f64();
    let n = handshakes.load(Ordering::Relaxed);
    print!("{}", report.to_text());
    println!(
        "mtls_bound: {n} mutual-TLS handshakes in {secs:.2}s = {:.0} handshakes/s ({} phones resynced, class A {})",
        n as f64 / secs,
        count,
        report.resyncs.a
    );
}

/// Accepts TCP, completes the mutual-TLS handshake (client certificate
/// required), reads one request head, answers a fixed profile and closes:
/// everything `phoneprov serve` does per phone except the work of a
/// provisioning server.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
    handshakes: Arc<AtomicU64>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let h = handshakes.clone();
        tokio::spawn(async move {
            let Ok(mut s) = acceptor.accept(tcp).await else {
                return;
            };
            h.fetch_add(1, Ordering::Relaxed);
            let mut buf = vec![0u8; 4096];
            let mut got = 0;
            while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") && got < buf.len() {
                match s.read(&mut buf[got..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got += n,
                }
            }
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
                BODY.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
            let _ = s.shutdown().await;
        });
    }
}

/// A loopback listener with the backlog `phoneprov serve` uses
/// (`phoneprov_server::LISTEN_BACKLOG`), so the comparison is not about
/// the kernel's accept queue: `TcpListener::bind` listens with 128.
fn listen_local() -> tokio::net::TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    socket.listen(4096).unwrap()
}
