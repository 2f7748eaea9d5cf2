//! Throwaway PostgreSQL clusters for tests (issue 13): `initdb` into a
//! temporary directory, the server on a free loopback port, a fresh
//! database per test.
//!
//! - [`pg`]: the cluster shared by every test of this process, started on
//!   first use and removed when the process exits (a small watchdog shell,
//!   running beside the server, stops it and deletes its directory once
//!   the test process is gone: a Rust `static` is never dropped).
//! - [`PgCluster::start`]: a private cluster, stopped and deleted on
//!   drop, for tests that stop and restart the server ([`PgCluster::stop`],
//!   [`PgCluster::restart`]) without disturbing the others.
//! - [`PgCluster::fresh_db`]: a new empty database and its URL.
//!
//! `initdb` refuses to run as root, so as root the programs run as the
//! `postgres` user (`runuser -u postgres --`) in a directory it owns.
//! Binaries come from `/usr/lib/postgresql/<newest>/bin` (Debian's
//! layout) or `$PHONEPROV_PG_BIN`; a missing PostgreSQL fails the test and
//! names `scripts/install-peers`. `fsync = off`: the cluster is thrown
//! away, and a killed *client* (what the tests kill) loses nothing either
//! way; commits stay synchronous.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use crate::free_port;

/// A running PostgreSQL cluster on 127.0.0.1.
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    owned: bool,
    /// The shared cluster's watchdog (it outlives this process on purpose).
    _watchdog: Option<std::process::Child>,
}

/// The directory of PostgreSQL's server programs.
pub fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("PHONEPROV_PG_BIN").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL server programs (initdb, pg_ctl) not found under /usr/lib/postgresql: \
             run scripts/install-peers (it installs the `postgresql` package), or set PHONEPROV_PG_BIN"
        ),
    }
}

fn is_root() -> bool {
    // The effective uid, without a libc dependency.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A command run as the `postgres` user when we are root.
fn as_pg(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}; run scripts/install-peers"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The cluster shared by this test process (started on first use).
pub fn pg() -> &'static PgCluster {
    static SHARED: OnceLock<PgCluster> = OnceLock::new();
    SHARED.get_or_init(|| PgCluster::init(false))
}

impl PgCluster {
    /// A private cluster, stopped and deleted on drop.
    pub fn start() -> PgCluster {
        PgCluster::init(true)
    }

    fn init(owned: bool) -> PgCluster {
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("phoneprov-pg-")
            .tempdir()
            .expect("temp dir for PostgreSQL")
            .keep();
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["postgres:postgres"]).arg(&dir);
                    c
                },
                "chown of the PostgreSQL directory",
            );
        }
        let mut initdb = as_pg(&bin.join("initdb"));
        initdb.arg("-D").arg(dir.join("data")).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb");
        let mut cluster = PgCluster {
            bin,
            dir,
            port: free_port(),
            owned,
            _watchdog: None,
        };
        cluster.restart();
        if !owned {
            cluster._watchdog = Some(cluster.watchdog());
        }
        cluster
    }

    /// Stops the cluster's server and deletes its directory once this
    /// process has exited.
    fn watchdog(&self) -> std::process::Child {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; \
             '{pg_ctl}' -D '{data}' stop -m immediate >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.dir.join("data").display(),
            dir = self.dir.display(),
        );
        let mut c = as_pg(Path::new("/bin/sh"));
        c.args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c.spawn().expect("PostgreSQL watchdog")
    }

    /// (Re)starts the server on its port and waits until it accepts
    /// connections.
    pub fn restart(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c max_connections=300",
            self.port,
            self.dir.display()
        );
        let mut c = as_pg(&self.bin.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "30", "-o", &opts, "start"]);
        run(c, "pg_ctl start");
    }

    /// Turns TLS on with this certificate and key (PEM files), restarting
    /// the server: clients may then ask for `sslmode=require`.
    pub fn enable_tls(&self, cert: &Path, key: &Path) {
        let data = self.dir.join("data");
        for (from, to) in [(cert, "server.crt"), (key, "server.key")] {
            std::fs::copy(from, data.join(to)).expect("copy TLS file into the cluster");
            let mut chmod = Command::new("chmod");
            chmod.arg("600").arg(data.join(to));
            run(chmod, "chmod of a TLS file");
            if is_root() {
                let mut chown = Command::new("chown");
                chown.arg("postgres:postgres").arg(data.join(to));
                run(chown, "chown of a TLS file");
            }
        }
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .expect("postgresql.conf");
        std::io::Write::write_all(
            &mut conf,
            b"\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
        )
        .expect("append to postgresql.conf");
        self.stop();
        self.restart();
    }

    /// Stops the server now (fast shutdown: connections are cut).
    pub fn stop(&self) {
        let mut c = as_pg(&self.bin.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-m", "fast", "stop"]);
        run(c, "pg_ctl stop");
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` (user `postgres`, no password: the
    /// cluster trusts loopback).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a new empty database; returns its URL.
    pub fn fresh_db(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut c = Command::new(self.bin.join("createdb"));
        c.args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(&name);
        run(c, "createdb");
        self.url(&name)
    }

    /// The server's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let mut c = as_pg(&self.bin.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = c.status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
