//! Helpers for the interop tests: peer lookup (a missing peer fails the test
//! and names `scripts/install-peers`), free ports, peers killed on drop,
//! nginx with a generated configuration, tftpd-hpa, dnsmasq, a dev CA from
//! `phoneprov-pki` with per-MAC phone certificates, one-phone configs.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::time::{Duration, Instant};

/// Absolute path of a peer program, or a panic that says how to get it.
pub fn peer(name: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    for dir in path.split(':').chain(["/usr/sbin", "/sbin", "/usr/bin"]) {
        let p = PathBuf::from(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("peer program `{name}` not found: run scripts/install-peers (it installs every interop peer)");
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A UDP port that was free a moment ago on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills and reaps the child on drop.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        // SIGTERM first: nginx's master and apache's parent then stop their
        // workers; a bare SIGKILL would leave the workers orphaned.
        let pid = self.0.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts TCP on 127.0.0.1:`port` (10 s at most).
pub fn wait_tcp(port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "peer exited with {status} before listening; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "peer did not listen on port {port}; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A temp dir readable by the unprivileged workers peers drop to as root.
pub fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A running nginx; `dir` holds its config, logs and document root `www/`.
pub struct Nginx {
    pub port: u16,
    pub dir: tempfile::TempDir,
    _guard: Guard,
}

impl Nginx {
    /// Starts nginx with one `server` block listening on a free port;
    /// `listen_extra` is appended to `listen` (e.g. `ssl`), `server_body`
    /// goes inside the block. `{dir}` in `server_body` is replaced with the
    /// temp dir, and `setup` may write files into it before start.
    pub fn start(listen_extra: &str, server_body: &str, setup: impl FnOnce(&Path)) -> Nginx {
        let bin = peer("nginx");
        let dir = open_tempdir();
        let d = dir.path();
        std::fs::create_dir_all(d.join("www")).unwrap();
        std::fs::set_permissions(d.join("www"), std::fs::Permissions::from_mode(0o755)).unwrap();
        setup(d);
        let port = free_port();
        let root = d.display().to_string();
        let body = server_body.replace("{dir}", &root);
        let conf = format!(
            "worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {root}/access.log;\n  client_body_temp_path {root}/body;\n\
             proxy_temp_path {root}/proxy;\n  fastcgi_temp_path {root}/fastcgi;\n\
             uwsgi_temp_path {root}/uwsgi;\n  scgi_temp_path {root}/scgi;\n  default_type text/plain;\n\
             server {{\n    listen 127.0.0.1:{port} {listen_extra};\n    root {root}/www;\n{body}\n  }}\n}}\n"
        );
        std::fs::write(d.join("nginx.conf"), conf).unwrap();
        let log = d.join("stderr.log");
        let child = Command::new(bin)
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .arg("-e")
            .arg(d.join("error.log"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start nginx");
        let mut guard = Guard(child);
        wait_tcp(port, &mut guard.0, &log);
        Nginx {
            port,
            dir,
            _guard: guard,
        }
    }

    /// Writes `www/<name>` (world-readable).
    pub fn write(&self, name: &str, content: &[u8]) {
        write_public(&self.dir.path().join("www").join(name), content);
    }
}

/// Writes a world-readable file.
pub fn write_public(path: &Path, content: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// A dev CA, a server certificate for `names`, and phone certificates for
/// the simulator's MACs written as `DIR/<mac>.pem/.key` (like
/// `phoneprov ca issue-fleet`).
pub struct Pki {
    pub ca: phoneprov_pki::Ca,
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new(names: &[&str], phones: &[(&str, &str)]) -> Pki {
        let ca = phoneprov_pki::Ca::generate("phoneprov sim test CA").unwrap();
        let dir = open_tempdir();
        let d = dir.path();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let server = ca.issue_server(&names).unwrap();
        write_public(&d.join("ca.pem"), ca.cert_pem().as_bytes());
        write_public(&d.join("server.pem"), server.cert_pem.as_bytes());
        write_public(&d.join("server.key"), server.key_pem.as_bytes());
        std::fs::create_dir_all(d.join("phones")).unwrap();
        for (mac, sn) in phones {
            let p = ca.issue_phone(mac, sn, "CP-8841-3PCC").unwrap();
            std::fs::write(d.join("phones").join(format!("{mac}.pem")), &p.cert_pem).unwrap();
            std::fs::write(d.join("phones").join(format!("{mac}.key")), &p.key_pem).unwrap();
        }
        Pki { ca, dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// tftpd-hpa serving a temp dir on a free UDP port.
pub struct Tftpd {
    pub port: u16,
    pub dir: tempfile::TempDir,
    _guard: Guard,
}

pub fn tftpd() -> Tftpd {
    let bin = peer("in.tftpd");
    let dir = open_tempdir();
    let port = free_udp_port();
    let child = Command::new(bin)
        .args(["-L", "-a"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-s")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start in.tftpd");
    let mut guard = Guard(child);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        guard.0.try_wait().unwrap().is_none(),
        "in.tftpd exited at start"
    );
    Tftpd {
        port,
        dir,
        _guard: guard,
    }
}

/// dnsmasq answering on a free port with `args` records.
pub struct Dnsmasq {
    pub addr: std::net::SocketAddr,
    _guard: Guard,
    _dir: tempfile::TempDir,
}

pub fn dnsmasq(args: &[String]) -> Dnsmasq {
    let bin = peer("dnsmasq");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("dnsmasq.log");
    let child = Command::new(bin)
        .args([
            "--no-daemon",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
        ])
        .args([
            "--no-resolv",
            "--no-hosts",
            "--pid-file",
            "--log-facility=-",
        ])
        .arg(format!("--port={port}"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start dnsmasq");
    let mut guard = Guard(child);
    wait_tcp(port, &mut guard.0, &log);
    Dnsmasq {
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        _guard: guard,
        _dir: dir,
    }
}

/// A one-phone configuration (MAC 000e08000001) with these parameters,
/// short timeouts, once, `boot_storm` (no 0-2 s boot spread: fast tests).
pub fn one_phone(params: &[(&str, &str)]) -> phoneprov_sim::SimConfig {
    let mut cfg = phoneprov_sim::SimConfig::new(1);
    cfg.params = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    cfg.connect_timeout = Duration::from_secs(3);
    cfg.request_timeout = Duration::from_secs(10);
    cfg.boot_storm = true;
    cfg
}

/// The content of `path` once it contains `needle` (peers write their logs
/// after answering; 5 s at most), else a panic showing it.
pub fn wait_log(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(needle) {
            return log;
        }
        if Instant::now() > deadline {
            panic!("{} never contained {needle:?}:\n{log}", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The final value of `name` in a `--count 1` report.
pub fn param(report: &phoneprov_sim::FleetReport, name: &str) -> Option<String> {
    report.final_params.as_ref().unwrap().get(name).cloned()
}
