//! Helpers for the interop tests: peer lookup (a missing peer fails the test
//! and names `scripts/install-peers`), free ports, peers killed on drop,
//! nginx with a generated configuration, and a dev CA from `phoneprov-pki`.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use phoneprov_pki::{client_config, Ca, ClientTls};
use phoneprov_transport::rustls;
use phoneprov_transport::{HttpClient, HttpClientConfig, HttpRequest};

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

/// A dev CA with a server certificate and a phone certificate.
pub struct Pki {
    pub ca: Ca,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub phone_cert_pem: String,
    pub phone_key_pem: String,
}

impl Pki {
    /// Server certificate for `names`, phone certificate for MAC 0011223344ab.
    pub fn new(names: &[&str]) -> Pki {
        let ca = Ca::generate("phoneprov test CA").unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let server = ca.issue_server(&names).unwrap();
        let phone = ca
            .issue_phone("00:11:22:33:44:ab", "SN123", "CP-8841-3PCC")
            .unwrap();
        Pki {
            ca,
            server_cert_pem: server.cert_pem.clone(),
            server_key_pem: server.key_pem.clone(),
            phone_cert_pem: phone.cert_pem.clone(),
            phone_key_pem: phone.key_pem.clone(),
        }
    }

    /// Writes `ca.pem`, `server.pem`, `server.key` into `dir`.
    pub fn write_server_files(&self, dir: &Path) {
        write_public(&dir.join("ca.pem"), self.ca.cert_pem().as_bytes());
        write_public(&dir.join("server.pem"), self.server_cert_pem.as_bytes());
        write_public(&dir.join("server.key"), self.server_key_pem.as_bytes());
    }

    /// The phone's TLS configuration (trusting this CA), with or without
    /// its client certificate.
    pub fn client_tls(&self, with_client_cert: bool) -> Arc<rustls::ClientConfig> {
        client_config(&ClientTls {
            trust_pem: Some(self.ca.cert_pem().as_bytes().to_vec()),
            client_cert_pem: with_client_cert.then(|| self.phone_cert_pem.as_bytes().to_vec()),
            client_key_pem: with_client_cert.then(|| self.phone_key_pem.as_bytes().to_vec()),
            validate_name: true,
            cipher_list: None,
        })
        .unwrap()
    }
}

/// TLS config trusting nothing useful (for plain-http tests).
pub fn default_tls() -> Arc<rustls::ClientConfig> {
    client_config(&ClientTls::default()).unwrap()
}

/// A client with short timeouts.
pub fn client(tls: Arc<rustls::ClientConfig>) -> HttpClient {
    let mut cfg = HttpClientConfig::new(tls);
    cfg.connect_timeout = Duration::from_secs(3);
    cfg.request_timeout = Duration::from_secs(10);
    HttpClient::new(cfg)
}

/// A GET with a phone User-Agent (R-HTTP-3).
pub fn get(url: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        url: url.into(),
        headers: vec![(
            "User-Agent".into(),
            "Cisco-CP-8841-3PCC/11.0 (0011223344ab)".into(),
        )],
        body: Vec::new(),
    }
}
