//! phoneprov serve vs nginx (issue 4 and issue 17 benchmarks).
//!
//! Imports `BENCH_DEVICES` devices (default 1000), starts the server
//! in-process (its own tokio runtime, `BENCH_THREADS` workers, default 2)
//! with its access log on (`[log] access`, text, to a file), fetches every
//! device's encrypted profile once and writes those exact bytes into a
//! directory that nginx (`worker_processes BENCH_THREADS`, `daemon off`,
//! same certificate and key, TLS 1.2/1.3, `access_log` to a file in the
//! default `combined` format, `ssl_session_cache shared:SSL:10m` and
//! `ssl_session_tickets on`, and the suite order phoneprov uses:
//! `ssl_prefer_server_ciphers on`, TLS 1.3 AES-128-GCM first; the suite
//! each side negotiated is printed) serves; phoneprov issues TLS 1.3 tickets and
//! keeps TLS 1.2 sessions (rustls ticketer, `phoneprov_pki::server`). One
//! load client drives both, side by side in one run:
//!   (a) HTTP keep-alive: `BENCH_CONNS` connections (default 32), each
//!       looping GETs over the devices for `BENCH_SECS` seconds (default
//!       3); target >= 1.2x nginx;
//!   (b) HTTPS, a new TLS connection per request, resumed: one rustls
//!       client config (and so one session store) per server and run,
//!       shared by all connections, like a phone that reconnects within
//!       minutes; target >= 1.0x;
//!   (c) HTTPS, a new connection per request with resumption disabled in
//!       the client: a full handshake every time; target >= 1.5x.
//! The share of resumed handshakes is printed for (b) and (c). Each case
//! is run `BENCH_RUNS` times (default 5) per server, alternating; the
//! medians and the ratio phoneprov/nginx are printed, with each server's
//! CPU time per request (nginx: utime + stime of its master and workers
//! from `/proc/PID/stat`; phoneprov, in-process: the process's less the
//! load client's threads, named `load`, and the main thread) and the
//! ratio nginx/phoneprov of those (> 1: phoneprov is cheaper), since the
//! load client shares the machine's cores with both. Both access
//! logs' line counts are checked against the requests served. Nothing is
//! asserted about timings. `BENCH_RSS=N` instead imports N devices
//! (e.g. 1000000), starts the server, touches 1000 of them and prints
//! VmRSS.
//!
//! `BENCH_CASES=a` (any of `abc`) runs only those cases.
//!
//! `BENCH_PROFILE=N` runs phoneprov alone for an instruction profile:
//!
//! ```sh
//! for n in 1000 3000; do BENCH_PROFILE=$n valgrind --tool=callgrind \
//!   --callgrind-out-file=cg-$n.out --toggle-collect='*accept_loop*' \
//!   --toggle-collect='*writer_loop*' target/release/deps/vs_nginx-* --bench; done
//! ```
//!
//! (the difference of the two totals / 2000 = server instructions per
//! steady-state request: connection task plus status writer thread; the
//! load client and the runtime's own scheduling are not counted).
//!
//! Run: `cargo bench -p phoneprov-server --bench vs_nginx`.

use phoneprov_testpeers::free_port;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use phoneprov_pki::rustls;
use phoneprov_server::{Config, Listen, Server, StartOptions};
use phoneprov_store::{Mac, Store};
use rustls::pki_types as rustls_pki_types;
use rustls_pki_types::pem::PemObject as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mac_of(i: u64) -> Mac {
    let b = (0x0e08_0000_0000u64 + i).to_be_bytes();
    Mac::from_bytes([b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn import(data: &Path, n: u64) {
    let csv = data.join("devices.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    writeln!(f, "mac,model,group,display_name,user_id").unwrap();
    for i in 0..n {
        writeln!(f, "{},CP-8841-3PCC,,Phone {i},{}", mac_of(i), 1000 + i).unwrap();
    }
    drop(f);
    let mut store = Store::open(data).unwrap();
    store
        .import_csv(
            std::fs::File::open(&csv).unwrap(),
            Default::default(),
            &mut phoneprov_store::NoObserver,
        )
        .unwrap();
}

/// Reads one HTTP/1.1 response (Content-Length bodies only); returns the
/// status code.
async fn read_response<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            let need = end + 4 + len;
            while buf.len() < need {
                let n = s.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn get<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    mac: Mac,
    buf: &mut Vec<u8>,
    close: bool,
) -> std::io::Result<u16> {
    let conn = if close { "close" } else { "keep-alive" };
    let req = format!("GET /{mac}.cfg HTTP/1.1\r\nHost: localhost\r\nConnection: {conn}\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    read_response(s, buf).await
}

struct Load {
    conns: u64,
    secs: u64,
    devices: u64,
}

async fn keepalive(addr: SocketAddr, load: &Load) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..load.conns {
        let (done, stop, devices) = (done.clone(), stop.clone(), load.devices);
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = Vec::with_capacity(4096);
            let mut i = c * 7919;
            while !stop.load(Ordering::Relaxed) {
                let st = get(&mut s, mac_of(i % devices), &mut buf, false)
                    .await
                    .unwrap();
                assert_eq!(st, 200);
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(load.secs)).await;
    stop.store(true, Ordering::Relaxed);
    let n = done.load(Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    n as f64 / secs
}

/// The load client's verifier: any server certificate, but a real check
/// of the handshake signature (what an HTTPS load generator such as
/// h2load does with verification off).
#[derive(Debug)]
struct HandshakeOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for HandshakeOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Requests per second over new TLS connections, and the share of them
/// that resumed a session (`resume`: one session store shared by every
/// connection of the run; else resumption disabled, full handshakes).
async fn tls_per_request(
    addr: SocketAddr,
    ca_pem: &[u8],
    load: &Load,
    resume: bool,
) -> (f64, f64, String) {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    if std::env::var("BENCH_CLIENT_VERIFY").as_deref() != Ok("chain") {
        // Like h2load and wrk, the load client does not check the server's
        // certificate chain (the same for both servers); it still checks
        // the handshake signature, so each server does its full share of
        // the handshake. BENCH_CLIENT_VERIFY=chain checks the chain too.
        cfg.dangerous()
            .set_certificate_verifier(Arc::new(HandshakeOnly(provider)));
    }
    if !resume {
        // A full handshake every time, for both servers.
        cfg.resumption = rustls::client::Resumption::disabled();
    }
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let done = Arc::new(AtomicU64::new(0));
    let resumed = Arc::new(AtomicU64::new(0));
    let suite = Arc::new(std::sync::OnceLock::new());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..load.conns {
        let (done, stop, devices, connector, resumed, suite) = (
            done.clone(),
            stop.clone(),
            load.devices,
            connector.clone(),
            resumed.clone(),
            suite.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut buf = Vec::with_capacity(4096);
            let mut i = c * 7919;
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            while !stop.load(Ordering::Relaxed) {
                let tcp = TcpStream::connect(addr).await.unwrap();
                tcp.set_nodelay(true).unwrap();
                let mut s = connector.connect(name.clone(), tcp).await.unwrap();
                if let Some(cs) = s.get_ref().1.negotiated_cipher_suite() {
                    let _ = suite.set(format!("{:?}", cs.suite()));
                }
                if s.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                    resumed.fetch_add(1, Ordering::Relaxed);
                }
                let st = get(&mut s, mac_of(i % devices), &mut buf, true)
                    .await
                    .unwrap();
                assert_eq!(st, 200);
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(load.secs)).await;
    stop.store(true, Ordering::Relaxed);
    let n = done.load(Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    let all = done.load(Ordering::Relaxed).max(1) as f64;
    (
        n as f64 / secs,
        resumed.load(Ordering::Relaxed) as f64 / all,
        suite.get().cloned().unwrap_or_default(),
    )
}

/// nginx, stopped with SIGTERM (then SIGKILL) on drop so its workers go too.
type Nginx = phoneprov_testpeers::Guard;

fn start_nginx(
    dir: &Path,
    root: &Path,
    ca_dir: &Path,
    threads: u64,
) -> (Nginx, u32, SocketAddr, SocketAddr) {
    let (p1, p2) = (free_port(), free_port());
    let conf = format!(
        "worker_processes {threads};\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n\
           keepalive_requests 10000000;\n  default_type application/octet-stream;\n\
           ssl_protocols TLSv1.2 TLSv1.3;\n  ssl_session_cache shared:SSL:10m;\n  ssl_session_tickets on;\n\
           ssl_prefer_server_ciphers on;\n  ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;\n\
           server {{\n    listen 127.0.0.1:{p1} backlog=4096;\n    listen 127.0.0.1:{p2} ssl backlog=4096;\n\
             ssl_certificate {ca}/server.pem;\n    ssl_certificate_key {ca}/server.key;\n\
             root {root};\n    etag on;\n  }}\n}}\n",
        d = dir.display(),
        ca = ca_dir.display(),
        root = root.display(),
    );
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("nginx")
        .args([
            "-p",
            dir.to_str().unwrap(),
            "-c",
            path.to_str().unwrap(),
            "-e",
            dir.join("error.log").to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx (Debian nginx-light) is needed for this benchmark");
    let a1: SocketAddr = format!("127.0.0.1:{p1}").parse().unwrap();
    let a2: SocketAddr = format!("127.0.0.1:{p2}").parse().unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(a1).is_ok() && std::net::TcpStream::connect(a2).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id();
    (phoneprov_testpeers::Guard(child), pid, a1, a2)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// utime + stime of `/proc/<path>/stat`, in seconds (USER_HZ = 100).
fn cpu_secs(stat: &str) -> f64 {
    let Ok(t) = std::fs::read_to_string(format!("/proc/{stat}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which may hold spaces: state is 3rd.
    let rest = t.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// CPU seconds spent so far by the in-process server: the whole process
/// (threads that ended included) less the load client's threads (named
/// `load`) and the main thread, which drives the client.
fn serve_cpu() -> f64 {
    let me = std::process::id();
    let mut client = cpu_secs(&format!("{me}/task/{me}"));
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let tid = t.file_name().to_string_lossy().to_string();
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == "load" {
            client += cpu_secs(&format!("{me}/task/{tid}"));
        }
    }
    cpu_secs("self") - client
}

/// CPU seconds spent so far by nginx: its master and every worker.
fn nginx_cpu(master: u32) -> f64 {
    let mut sum = cpu_secs(&master.to_string());
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = p.file_name().to_string_lossy().to_string();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid == Some(master) {
            sum += cpu_secs(&name);
        }
    }
    sum
}

fn vm_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")
                .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap())
        })
        .unwrap()
}

fn server_config() -> Config {
    let mut cfg = Config::default();
    cfg.listen.http = Listen::parse("127.0.0.1:0").unwrap();
    cfg.listen.https = Listen::parse("127.0.0.1:0").unwrap();
    cfg.listen.tftp = Listen::Off;
    cfg.listen.syslog = Listen::Off;
    cfg.listen.acs = Listen::Off;
    cfg.listen.admin = Listen::Off;
    cfg.tls.client_auth = phoneprov_server::config::ClientAuthMode::Off;
    cfg
}

fn rss_mode(n: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let t0 = Instant::now();
    import(&data, n);
    println!("imported {n} devices in {:.1}s", t0.elapsed().as_secs_f64());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let before = vm_rss_kb();
        let server = Server::start(StartOptions::new(data.clone(), server_config()))
            .await
            .unwrap();
        let addr = server.bound().http.unwrap();
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        for i in 0..1000 {
            let mac = mac_of(i * (n / 1000).max(1));
            let status = get(&mut s, mac, &mut buf, false).await.unwrap();
            if status != 200 {
                server.state().status.flush().await;
                let ev = Store::open(&data).unwrap().events(mac, 3).unwrap();
                panic!("{mac}: HTTP {status}; events: {ev:?}");
            }
        }
        println!(
            "VmRSS with {n} devices imported, 1000 touched: {} MB (process before start: {} MB)",
            vm_rss_kb() / 1024,
            before / 1024
        );
        server.shutdown().await;
    });
}

/// `BENCH_PROFILE=N`: N sequential keep-alive GETs on one connection
/// against phoneprov only (1 server worker), after one warm-up pass over
/// the devices; for `valgrind --tool=callgrind`, whose instruction counts
/// divided by N are the per-request cost (see README "Benchmarks").
fn profile_mode(n: u64) {
    let devices = env_num("BENCH_DEVICES", 1000);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    import(&data, devices);
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Under valgrind a pass over the devices takes longer than the 2 s
    // device TTL: keep rows cached so only the steady state is measured.
    let mut cfg = server_config();
    cfg.profiles.device_ttl_ms = 3_600_000;
    let server = server_rt
        .block_on(Server::start(StartOptions::new(data.clone(), cfg)))
        .unwrap();
    let addr = server.bound().http.unwrap();
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = Vec::new();
        let pause = Duration::from_millis(env_num("BENCH_PAUSE_MS", 0));
        for i in 0..devices + n {
            if i == devices && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let st = get(&mut s, mac_of(i % devices), &mut buf, false)
                .await
                .unwrap();
            assert_eq!(st, 200);
        }
    });
    println!("profile mode: {n} requests after {devices} warm-up requests");
    for l in server.state().metrics.render().lines() {
        if l.starts_with("phoneprov_render_cache") || l.starts_with("phoneprov_status") {
            println!("  {l}");
        }
    }
    server_rt.block_on(server.shutdown());
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Some(n) = std::env::var("BENCH_PROFILE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return profile_mode(n);
    }
    if let Some(n) = std::env::var("BENCH_RSS").ok().and_then(|v| v.parse().ok()) {
        return rss_mode(n);
    }
    let load = Load {
        conns: env_num("BENCH_CONNS", 32),
        secs: env_num("BENCH_SECS", 3),
        devices: env_num("BENCH_DEVICES", 1000),
    };
    let threads = env_num("BENCH_THREADS", 2);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    import(&data, load.devices);

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads as usize)
        .thread_name("serve")
        .enable_all()
        .build()
        .unwrap();
    // The access log on, to a file, as nginx's (issue 17).
    let our_log = tmp.path().join("phoneprov-access.log");
    let mut cfg = server_config();
    cfg.log.access = our_log.to_str().unwrap().to_string();
    let server = server_rt
        .block_on(Server::start(StartOptions::new(data.clone(), cfg)))
        .unwrap();
    let ours_http = server.bound().http.unwrap();
    let ours_https = server.bound().https.unwrap();
    // The load client's threads are named so that their CPU time can be
    // told apart from the server's.
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load")
        .enable_all()
        .build()
        .unwrap();

    // Pre-render: the exact bytes phoneprov serves, as files for nginx.
    let root: PathBuf = tmp.path().join("nginx-root");
    std::fs::create_dir_all(&root).unwrap();
    client_rt.block_on(async {
        let mut s = TcpStream::connect(ours_http).await.unwrap();
        let mut buf = Vec::new();
        for i in 0..load.devices {
            let mac = mac_of(i);
            assert_eq!(get(&mut s, mac, &mut buf, false).await.unwrap(), 200);
            let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            std::fs::write(root.join(format!("{mac}.cfg")), &buf[end..]).unwrap();
        }
    });
    let ca_dir = data.join("ca");
    let ca_pem = std::fs::read(ca_dir.join("ca.pem")).unwrap();
    let (nginx, nginx_pid, ng_http, ng_https) =
        start_nginx(&tmp.path().join("nginx"), &root, &ca_dir, threads);

    let runs = env_num("BENCH_RUNS", 5);
    println!(
        "vs_nginx: {} devices, {} connections, {}s per run, {} server threads/workers, {runs} runs each, access logs on",
        load.devices, load.conns, load.secs, threads
    );
    let mut results = Vec::new();
    for (name, target, ours, theirs, mode) in [
        ("(a) HTTP keep-alive", 1.2, ours_http, ng_http, 0),
        (
            "(b) HTTPS new connection, resumed",
            1.0,
            ours_https,
            ng_https,
            1,
        ),
        (
            "(c) HTTPS new connection, full handshake",
            1.5,
            ours_https,
            ng_https,
            2,
        ),
    ] {
        // `BENCH_CASES=a` (or `bc`, ...) runs only those cases, e.g. under
        // `perf record`.
        let letter = &name[1..2];
        if !std::env::var("BENCH_CASES").map_or(true, |c| c.contains(letter)) {
            continue;
        }
        let (mut a, mut b, mut ra, mut rb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // CPU microseconds per request of each server, per run.
        let (mut ca, mut cb) = (Vec::new(), Vec::new());
        let mut suites = (String::new(), String::new());
        for _ in 0..runs {
            client_rt.block_on(async {
                let c0 = serve_cpu();
                let t0 = Instant::now();
                let (x, rx, sx) = match mode {
                    0 => (keepalive(ours, &load).await, 0.0, String::new()),
                    _ => tls_per_request(ours, &ca_pem, &load, mode == 1).await,
                };
                ca.push((serve_cpu() - c0) * 1e6 / (x * t0.elapsed().as_secs_f64()));
                let c0 = nginx_cpu(nginx_pid);
                let t0 = Instant::now();
                let (y, ry, sy) = match mode {
                    0 => (keepalive(theirs, &load).await, 0.0, String::new()),
                    _ => tls_per_request(theirs, &ca_pem, &load, mode == 1).await,
                };
                cb.push((nginx_cpu(nginx_pid) - c0) * 1e6 / (y * t0.elapsed().as_secs_f64()));
                a.push(x);
                b.push(y);
                ra.push(rx);
                rb.push(ry);
                suites = (sx, sy);
            });
        }
        let ratios: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x / y).collect();
        // > 1: phoneprov spends less CPU per request than nginx.
        let cpu_ratios: Vec<f64> = ca.iter().zip(&cb).map(|(x, y)| y / x).collect();
        let (ma, mb, mr) = (median(a), median(b), median(ratios.clone()));
        let (mca, mcb, mcr) = (median(ca), median(cb), median(cpu_ratios.clone()));
        let resumed = if mode == 0 {
            String::new()
        } else {
            format!(
                ", resumed {:.0}% / {:.0}%, suite {} / {}",
                median(ra) * 100.0,
                median(rb) * 100.0,
                suites.0,
                suites.1
            )
        };
        let list = |v: &[f64]| {
            v.iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!(
            "{name}: phoneprov {ma:.0} req/s, nginx {mb:.0} req/s{resumed}; ratio of medians {:.2}x, median of per-run ratios {mr:.2}x (runs: {})",
            ma / mb,
            list(&ratios)
        );
        println!(
            "{name}: CPU per request phoneprov {mca:.1} us, nginx {mcb:.1} us; nginx/phoneprov median of per-run ratios {mcr:.2}x (runs: {})",
            list(&cpu_ratios)
        );
        results.push((name, mr, mcr, target));
    }
    drop(nginx);
    server_rt.block_on(server.shutdown());
    // Both access logs really logged (no timing is asserted).
    let count = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    println!(
        "access log lines: phoneprov {}, nginx {}",
        count(&our_log),
        count(&tmp.path().join("nginx").join("access.log"))
    );
    println!(
        "load average at the end: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    for (name, r, c, target) in results {
        println!("ratio {name}: {r:.2}x req/s (target >= {target:.1}x), {c:.2}x CPU per request (nginx/phoneprov)");
    }
}
