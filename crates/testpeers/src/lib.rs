//! Test-only helpers shared by the interop tests of several crates: peer
//! lookup (a missing peer fails the test and names `scripts/install-peers`),
//! free loopback ports, peers stopped on drop (SIGTERM, then SIGKILL), and
//! nginx and Apache httpd (Digest and Basic directories) with generated
//! configurations. Used as a dev-dependency only.
//!
//! Peers that Debian does not install on `PATH` live in the peers
//! directory ([`peers_dir`]: `$PHONEPROV_PEERS_DIR`, default
//! `/opt/phoneprov-peers`, the same variable `scripts/install-peers`
//! reads): atftpd unpacked beside tftpd-hpa ([`atftpd`]) and a Python
//! virtual environment with the PyPI peers such as `http_ece`
//! ([`venv_python`]), because a stock Debian refuses `pip install` into
//! its own Python (PEP 668).
//!
//! Throwaway PostgreSQL clusters and databases: [`pg`], [`PgCluster`]
//! (module `pgcluster`). sipp as a REGISTER UAS and stunnel4 in front of
//! it: [`sipp_uas`], [`stunnel`] (module `sipp`).
//!
//! A DHCP lab (a network namespace, a veth pair, dnsmasq serving DHCP in
//! the namespace): [`DhcpLab`] (module `netns`).

mod netns;
mod pgcluster;
pub use netns::DhcpLab;
pub use pgcluster::{pg, pg_bin, PgCluster};
mod sipp;
pub use sipp::{
    check_sync_uas, register_digest, register_silent, register_uas, sipp_answer, sipp_uas, stunnel,
    stunnel_log, SippUas,
};

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// The directory `scripts/install-peers` fills with the peers that are
/// not on `PATH`: `$PHONEPROV_PEERS_DIR`, else `/opt/phoneprov-peers`.
pub fn peers_dir() -> PathBuf {
    std::env::var_os("PHONEPROV_PEERS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/phoneprov-peers"))
}

/// A file under [`peers_dir`]; a missing one fails the test and names the
/// script that installs it.
pub fn in_peers_dir(rel: &str) -> PathBuf {
    let p = peers_dir().join(rel);
    assert!(
        p.is_file(),
        "peer {} is missing: run scripts/install-peers (with the same PHONEPROV_PEERS_DIR)",
        p.display()
    );
    p
}

/// The python3 of the peers' virtual environment (`<peers>/venv`), which
/// has the PyPI peers (`http_ece`) installed.
pub fn venv_python() -> PathBuf {
    in_peers_dir("venv/bin/python3")
}

/// atftpd, unpacked beside tftpd-hpa (the two conflict as packages).
pub fn atftpd() -> PathBuf {
    in_peers_dir("atftpd/usr/sbin/atftpd")
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
    if let Err(e) = try_wait_tcp(port, child, log) {
        panic!("{e}");
    }
}

/// [`wait_tcp`] that returns the failure instead of panicking; a peer that
/// exited because its port was taken meanwhile is recognisable (its message starts with `port taken`), so [`with_free_port`] can try
/// another port.
pub fn try_wait_tcp(port: u16, child: &mut Child, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let taken = text.contains("Address already in use")
                || text.contains("address already in use")
                || text.contains("Address in use");
            return Err(format!(
                "{}peer exited with {status} before listening on {port}; log:\n{text}",
                if taken { "port taken: " } else { "" }
            ));
        }
        // Connecting is not enough: another test's listener may hold the
        // port, and would accept for a peer that is about to fail its bind.
        if listens_on(child.id(), port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "peer did not listen on port {port}; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    ))
}

/// Whether process `pid` holds a TCP socket listening on `port` (Linux:
/// the listening sockets' inodes from `/proc/net/tcp{,6}` against the
/// process's open file descriptors).
pub fn listens_on(pid: u32, port: u16) -> bool {
    holds_socket(pid, port, &["/proc/net/tcp", "/proc/net/tcp6"], Some("0A"))
}

/// Whether process `pid` holds a socket on local `port` listed in
/// `tables` (`/proc/net/...`), in `state` when given (`0A`: listening).
fn holds_socket(pid: u32, port: u16, tables: &[&str], state: Option<&str>) -> bool {
    let want = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in tables {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && f[1].ends_with(&want) && state.is_none_or(|s| f[3] == s) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .any(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
}

/// Starts a peer on a port that was free a moment ago, and again on another
/// one (five tries) when `start` says the port was taken before the peer
/// bound it: picking a free port and handing it to another program is a
/// race that parallel tests lose now and then. `start` gets the port and
/// returns the running peer, or an error starting with `port taken` to
/// retry, or any other error to fail at once.
pub fn with_free_port<T>(mut start: impl FnMut(u16) -> Result<T, String>) -> T {
    let mut last = String::new();
    for _ in 0..5 {
        match start(free_port()) {
            Ok(t) => return t,
            Err(e) if e.starts_with("port taken") => last = e,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("five ports in a row were taken; last: {last}")
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
        let (port, guard) = with_free_port(|port| {
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
            let child = Command::new(&bin)
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
            try_wait_tcp(port, &mut guard.0, &log)?;
            Ok((port, guard))
        });
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

/// Apache httpd modules the [`Apache`] fixture loads (Debian paths).
const APACHE_MODULES: &[(&str, &str)] = &[
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authn_core_module", "mod_authn_core.so"),
    ("authn_file_module", "mod_authn_file.so"),
    ("auth_digest_module", "mod_auth_digest.so"),
    ("auth_basic_module", "mod_auth_basic.so"),
    ("authz_user_module", "mod_authz_user.so"),
];

/// A running Apache httpd (Debian's `apache2`) whose document root
/// `htdocs/` has two protected directories for one user: `digest/`
/// (mod_auth_digest, MD5) and `basic/` (mod_auth_basic). The password
/// files are written here: `htdigest` (`user:realm:md5(user:realm:pass)`)
/// and `htpasswd` in the `{SHA}` form; both hashes come from python3 (a
/// peer already) so this crate needs no hash dependency.
pub struct Apache {
    pub port: u16,
    pub dir: tempfile::TempDir,
    _guard: Guard,
}

impl Apache {
    /// Starts apache2 on a free port; `setup` may write files under
    /// `htdocs/` (use [`write_public`]: the workers run as `nobody`).
    pub fn start(realm: &str, user: &str, pass: &str, setup: impl FnOnce(&Path)) -> Apache {
        let bin = peer("apache2");
        let dir = open_tempdir();
        let d = dir.path();
        for sub in ["", "digest", "basic"] {
            let p = d.join("htdocs").join(sub);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        setup(d);
        let ha1 = python_hash("md5", &format!("{user}:{realm}:{pass}"), false);
        write_public(
            &d.join("htdigest"),
            format!("{user}:{realm}:{ha1}\n").as_bytes(),
        );
        let sha1 = python_hash("sha1", pass, true);
        write_public(
            &d.join("htpasswd"),
            format!("{user}:{{SHA}}{sha1}\n").as_bytes(),
        );
        let (port, guard) = with_free_port(|port| {
            let modules: String = APACHE_MODULES
                .iter()
                .map(|(name, file)| format!("LoadModule {name} /usr/lib/apache2/modules/{file}\n"))
                .collect();
            let conf = format!(
                "ServerRoot \"{root}\"\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\n{modules}\
                 User nobody\nGroup nogroup\n\
                 PidFile \"{root}/httpd.pid\"\nErrorLog \"{root}/error.log\"\nLogLevel info\n\
                 DefaultRuntimeDir \"{root}\"\nMutex file:{root} default\n\
                 StartServers 1\nServerLimit 1\nThreadsPerChild 4\nMaxRequestWorkers 4\n\
                 DocumentRoot \"{root}/htdocs\"\n\
                 <Directory \"{root}/htdocs/digest\">\n  AuthType Digest\n  AuthName \"{realm}\"\n  \
                 AuthDigestProvider file\n  AuthUserFile \"{root}/htdigest\"\n  Require valid-user\n</Directory>\n\
                 <Directory \"{root}/htdocs/basic\">\n  AuthType Basic\n  AuthName \"{realm}\"\n  \
                 AuthBasicProvider file\n  AuthUserFile \"{root}/htpasswd\"\n  Require valid-user\n</Directory>\n",
                root = d.display()
            );
            let conf_path = d.join("httpd.conf");
            std::fs::write(&conf_path, conf).unwrap();
            let log = d.join("stderr.log");
            let child = Command::new(&bin)
                .arg("-f")
                .arg(&conf_path)
                .arg("-DFOREGROUND")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("start apache2");
            let mut guard = Guard(child);
            try_wait_tcp(port, &mut guard.0, &log).map_err(|e| {
                let errlog = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
                if errlog.contains("Address already in use") && !e.starts_with("port taken") {
                    format!("port taken: {e}")
                } else {
                    e
                }
            })?;
            Ok((port, guard))
        });
        Apache {
            port,
            dir,
            _guard: guard,
        }
    }
}

/// `hashlib.<algo>(text)` by python3, as hex or (with `base64`) base64.
fn python_hash(algo: &str, text: &str, base64: bool) -> String {
    let code = if base64 {
        format!("import hashlib,base64,sys; print(base64.b64encode(hashlib.{algo}(sys.argv[1].encode()).digest()).decode())")
    } else {
        format!("import hashlib,sys; print(hashlib.{algo}(sys.argv[1].encode()).hexdigest())")
    };
    let out = Command::new(peer("python3"))
        .args(["-c", &code, text])
        .output()
        .expect("run python3");
    assert!(out.status.success(), "python3 failed to hash");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// tftpd-hpa (`in.tftpd`) serving a temp dir on a free UDP port.
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
    // UDP has no accept: give it a moment to bind, checking it is alive.
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

/// dnsmasq answering DNS on a free port (UDP and TCP) with `args` records
/// (`--srv-host=...`, `--host-record=...`).
pub struct Dnsmasq {
    pub addr: std::net::SocketAddr,
    _guard: Guard,
    _dir: tempfile::TempDir,
}

pub fn dnsmasq(args: &[String]) -> Dnsmasq {
    let bin = peer("dnsmasq");
    let dir = tempfile::tempdir().unwrap();
    let (port, guard) = with_free_port(|port| {
        let log = dir.path().join("dnsmasq.log");
        let child = Command::new(&bin)
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
        try_wait_tcp(port, &mut guard.0, &log)?;
        Ok((port, guard))
    });
    Dnsmasq {
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        _guard: guard,
        _dir: dir,
    }
}

/// `python3 -m http.server` serving a temp dir of files on a free port.
pub struct PythonHttp {
    pub port: u16,
    pub dir: tempfile::TempDir,
    _guard: Guard,
}

/// Starts `python3 -m http.server` with these `(name, content)` files.
pub fn python_http(files: &[(&str, &[u8])]) -> PythonHttp {
    let dir = open_tempdir();
    for (name, content) in files {
        write_public(&dir.path().join(name), content);
    }
    let (port, guard) = with_free_port(|port| {
        let log = dir.path().join("http.log");
        let child = Command::new(peer("python3"))
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start python3 -m http.server");
        let mut guard = Guard(child);
        try_wait_tcp(port, &mut guard.0, &log)?;
        Ok((port, guard))
    });
    PythonHttp {
        port,
        dir,
        _guard: guard,
    }
}

/// tinyproxy, the HTTP proxy, on a free port of 127.0.0.1 (foreground);
/// `dir/tinyproxy.log` records each request line it forwards.
pub struct Tinyproxy {
    pub port: u16,
    pub dir: tempfile::TempDir,
    _guard: Guard,
}

impl Tinyproxy {
    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tinyproxy.log")).unwrap_or_default()
    }
}

pub fn tinyproxy() -> Tinyproxy {
    let bin = peer("tinyproxy");
    let dir = open_tempdir();
    let log = dir.path().join("tinyproxy.log");
    let (port, guard) = with_free_port(|port| {
        // The log is written after tinyproxy drops to `nobody`.
        std::fs::write(&log, "").unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
        let conf = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "User nobody\nGroup nogroup\nPort {port}\nListen 127.0.0.1\nTimeout 30\n\
                 LogFile \"{}\"\nLogLevel Info\nMaxClients 50\nAllow 127.0.0.1\n",
                log.display()
            ),
        )
        .unwrap();
        let stderr = dir.path().join("stderr.log");
        let child = Command::new(&bin)
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start tinyproxy");
        let mut guard = Guard(child);
        try_wait_tcp(port, &mut guard.0, &log)?;
        Ok((port, guard))
    });
    Tinyproxy {
        port,
        dir,
        _guard: guard,
    }
}

/// The seeds of fuzz target `target` (`fuzz/corpus/<target>/`), sorted by
/// name, for the corpus replay tests.
pub fn fuzz_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("dir entry").path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read seed"))
        })
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_free_port_tries_another_port_when_one_was_taken() {
        let mut ports = Vec::new();
        let got = with_free_port(|port| {
            ports.push(port);
            if ports.len() < 3 {
                Err(format!("port taken: {port}"))
            } else {
                Ok(port)
            }
        });
        assert_eq!(ports.len(), 3);
        assert_eq!(got, ports[2]);
    }

    #[test]
    fn a_peer_that_lost_its_port_is_reported_as_port_taken() {
        // A real program that fails to bind a held port: python3's server.
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut child = Command::new(peer("python3"))
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let err = try_wait_tcp(port, &mut child, &log).unwrap_err();
        assert!(err.starts_with("port taken"), "{err}");
    }
}
