//! Installing phoneprov as a service (issue 17 item 1): the Debian package
//! that `scripts/build-deb` makes from the binary these tests run (no
//! second build), checked with `dpkg-deb -I/-c`, unpacked with `dpkg -x`
//! into a throwaway root and its unit checked with `systemd-analyze
//! verify`; the `/etc/phoneprov/phoneprov.toml` lookup of every data
//! command (through `PHONEPROV_SYSCONFDIR`); and the `sd_notify` readiness
//! of `serve` (`Type=notify`).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use phoneprov_testpeers::{free_port, free_udp_port, peer};

const BIN: &str = env!("CARGO_BIN_EXE_phoneprov");
const MAC: &str = "000e08abcdef";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the .deb from the test binary (uncompressed: quick) into `dir`.
fn build_deb(dir: &Path) -> PathBuf {
    let out = run(Command::new(repo().join("scripts/build-deb"))
        .arg("--binary")
        .arg(BIN)
        .arg("--out")
        .arg(dir)
        .args(["--compress", "none"]));
    let deb = PathBuf::from(text(&out).trim());
    assert!(deb.is_file(), "build-deb printed {deb:?}");
    deb
}

/// The phoneprov binary with no data flags and `PHONEPROV_SYSCONFDIR`.
fn phoneprov(bin: &Path, sysconfdir: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env_remove("PHONEPROV_DATA")
        .env_remove("PHONEPROV_CONFIG")
        .env("PHONEPROV_SYSCONFDIR", sysconfdir);
    c
}

#[test]
fn deb_package_holds_binary_unit_config_man_pages_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());
    let name = deb.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with(&format!("phoneprov_{}_", env!("CARGO_PKG_VERSION"))),
        "{name}"
    );

    let info = text(&run(Command::new(peer("dpkg-deb")).arg("-I").arg(&deb)));
    for field in [
        "Package: phoneprov",
        &format!("Version: {}", env!("CARGO_PKG_VERSION")),
        "Depends: libc6 (>= ",
        "conffiles",
        "postinst",
    ] {
        assert!(info.contains(field), "no {field:?} in dpkg-deb -I:\n{info}");
    }
    let listing = text(&run(Command::new(peer("dpkg-deb")).arg("-c").arg(&deb)));
    for path in [
        "./usr/bin/phoneprov",
        "./usr/lib/systemd/system/phoneprov.service",
        "./usr/lib/sysusers.d/phoneprov.conf",
        "./etc/phoneprov/phoneprov.toml",
        "./usr/share/man/man1/phoneprov.1.gz",
        "./usr/share/man/man1/phoneprov-serve.1.gz",
        "./usr/share/man/man1/phoneprov-device-import.1.gz",
        "./usr/share/bash-completion/completions/phoneprov",
        "./usr/share/zsh/vendor-completions/_phoneprov",
        "./usr/share/fish/vendor_completions.d/phoneprov.fish",
        "./usr/share/doc/phoneprov/examples/phoneprov.toml",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(path)),
            "{path} missing from the package:\n{listing}"
        );
    }
    // The hidden packaging command has no page of its own.
    assert!(!listing.contains("phoneprov-generate"), "{listing}");
    let conffiles = text(&run(Command::new(peer("dpkg-deb"))
        .args(["-I"])
        .arg(&deb)
        .arg("conffiles")));
    assert_eq!(conffiles.trim(), "/etc/phoneprov/phoneprov.toml");

    let root = dir.path().join("root");
    run(Command::new(peer("dpkg")).arg("-x").arg(&deb).arg(&root));
    let bin = root.join("usr/bin/phoneprov");
    let mode = std::fs::metadata(&bin).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    let version = text(&run(Command::new(&bin).arg("--version")));
    assert_eq!(
        version.trim(),
        format!("phoneprov {}", env!("CARGO_PKG_VERSION"))
    );
    // Man pages are real roff for the real flags.
    let page = run(Command::new(peer("gzip"))
        .arg("-dc")
        .arg(root.join("usr/share/man/man1/phoneprov-serve.1.gz")));
    let page = text(&page);
    assert!(
        page.starts_with(".ie") || page.contains(".TH phoneprov-serve"),
        "{page}"
    );
    assert!(page.contains("\\-\\-https"), "{page}");
    let bash =
        std::fs::read_to_string(root.join("usr/share/bash-completion/completions/phoneprov"))
            .unwrap();
    assert!(bash.contains("complete") && bash.contains("serve") && bash.contains("--data"));
    let fish =
        std::fs::read_to_string(root.join("usr/share/fish/vendor_completions.d/phoneprov.fish"))
            .unwrap();
    assert!(fish.contains("complete -c phoneprov"), "{fish}");

    // The unit: every option the issue names.
    let unit =
        std::fs::read_to_string(root.join("usr/lib/systemd/system/phoneprov.service")).unwrap();
    for line in [
        "Type=notify",
        "ExecStart=/usr/bin/phoneprov serve",
        "User=phoneprov",
        "StateDirectory=phoneprov",
        "ConfigurationDirectory=phoneprov",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "no {line} in the unit:\n{unit}"
        );
    }
    let sysusers = std::fs::read_to_string(root.join("usr/lib/sysusers.d/phoneprov.conf")).unwrap();
    assert!(
        sysusers.lines().any(|l| l.starts_with("u phoneprov ")),
        "{sysusers}"
    );

    // The packaged config: standard ports, and the installed binary reads
    // it with no flags: no data_dir in it, so the data is /var/lib/phoneprov.
    let etc = root.join("etc/phoneprov");
    let conf = std::fs::read_to_string(etc.join("phoneprov.toml")).unwrap();
    for l in [
        "tftp = \"0.0.0.0:69\"",
        "http = \"0.0.0.0:80\"",
        "https = \"0.0.0.0:443\"",
        "syslog = \"0.0.0.0:514\"",
        "acs = \"0.0.0.0:7547\"",
        "admin = \"127.0.0.1:9080\"",
    ] {
        assert!(conf.contains(l), "no {l} in the default config:\n{conf}");
    }
    let out = phoneprov(&bin, &etc)
        .args(["device", "list"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if Path::new("/var/lib/phoneprov/phoneprov.db").exists() {
        // An installed phoneprov on this machine: its inventory is listed.
        assert!(out.status.success(), "{err}");
    } else {
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("/var/lib/phoneprov/phoneprov.db"), "{err}");
    }
    // The packaged config parses and serves (listeners moved to free
    // loopback ports, data to a temp dir): it starts and prints its data dir.
    let data = dir.path().join("data");
    let mut served = ServeChild::start(
        phoneprov(&bin, &etc)
            .arg("serve")
            .arg("--data")
            .arg(&data)
            .args(port0_flags()),
    );
    let first = served.line();
    assert_eq!(
        first,
        format!("phoneprov serve: data in {}", data.display())
    );

    verify_unit(&root);
}

/// `systemd-analyze verify` on the unit of the unpacked package, with the
/// throwaway root as `--root` so `ExecStart=/usr/bin/phoneprov` is the
/// packaged binary and `Documentation=man:` finds the packaged page. The
/// root also gets the host's own systemd targets (the unit's `After=` and
/// `WantedBy=` name them) and `/bin/kill` (`ExecReload`), as a real system
/// has them. Any warning fails the test.
fn verify_unit(root: &Path) {
    let analyze = peer("systemd-analyze");
    let units = root.join("usr/lib/systemd/system");
    for entry in std::fs::read_dir("/usr/lib/systemd/system")
        .expect("/usr/lib/systemd/system of the systemd package: run scripts/install-peers")
    {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "target") {
            std::fs::copy(&p, units.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::copy(peer("kill"), root.join("usr/bin/kill")).unwrap();
    for link in ["bin", "lib"] {
        std::os::unix::fs::symlink(format!("usr/{link}"), root.join(link)).unwrap();
    }
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .arg("phoneprov.service")
        .env("MANPATH", root.join("usr/share/man"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify failed: {err}");
    assert!(
        err.trim().is_empty(),
        "systemd-analyze verify warned: {err}"
    );
    // The check is real: a misspelt option in the same root is reported.
    let unit = units.join("phoneprov.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(&unit, text.replace("NoNewPrivileges=", "NoNewPrivilege=")).unwrap();
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .arg("phoneprov.service")
        .env("MANPATH", root.join("usr/share/man"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Unknown key 'NoNewPrivilege'"), "{err}");
}

fn port0_flags() -> Vec<&'static str> {
    let mut v = Vec::new();
    for p in [
        "--http", "--https", "--tftp", "--syslog", "--acs", "--admin",
    ] {
        v.extend([p, "127.0.0.1:0"]);
    }
    v
}

/// A `phoneprov serve` child, killed on drop; its stdout read line by line.
struct ServeChild {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl ServeChild {
    fn start(cmd: &mut Command) -> ServeChild {
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        ServeChild { child, lines }
    }

    fn line(&mut self) -> String {
        self.lines
            .next()
            .expect("serve printed a line")
            .expect("stdout is text")
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn every_data_command_reads_the_system_config_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    let data = dir.path().join("var-lib");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("phoneprov.toml"),
        format!("data_dir = {:?}\n", data.to_str().unwrap()),
    )
    .unwrap();
    let bin = Path::new(BIN);
    run(phoneprov(bin, &etc).args(["device", "add", MAC, "--model", "CP-8841-3PCC"]));
    assert!(data.join("phoneprov.db").is_file());
    let list = text(&run(phoneprov(bin, &etc).args(["device", "list"])));
    assert!(
        list.contains("00:0e:08:ab:cd:ef") || list.contains(MAC),
        "{list}"
    );
    run(phoneprov(bin, &etc).args(["ca", "init"]));
    assert!(data.join("ca/ca.pem").is_file());
    run(phoneprov(bin, &etc)
        .args(["activation", "bind", "--mac", MAC, "--url"])
        .arg("https://prov.example.com/$MA.xml"));
    let bound = text(&run(phoneprov(bin, &etc).args(["activation", "list"])));
    assert!(bound.contains("prov.example.com"), "{bound}");
    // --data still wins over the file.
    let other = dir.path().join("other");
    let out = phoneprov(bin, &etc)
        .args(["device", "list", "--data"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(other.to_str().unwrap()));
    // serve with no flags at all but the ports: the same data directory.
    let mut served = ServeChild::start(phoneprov(bin, &etc).arg("serve").args(port0_flags()));
    assert_eq!(
        served.line(),
        format!("phoneprov serve: data in {}", data.display())
    );
    // A broken system config is one error line naming the file.
    std::fs::write(etc.join("phoneprov.toml"), "data_dir = 5\n").unwrap();
    let out = phoneprov(bin, &etc)
        .args(["device", "list"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("phoneprov.toml"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Without a system config the checkout default stays.
    let empty = dir.path().join("no-etc");
    let cwd = dir.path().join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    run(phoneprov(bin, &empty)
        .current_dir(&cwd)
        .args(["device", "add", MAC]));
    assert!(cwd.join("phoneprov-data/phoneprov.db").is_file());
}

#[test]
fn serve_tells_systemd_it_is_ready_once_every_listener_is_bound() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let (http, https, acs, admin) = (free_port(), free_port(), free_port(), free_port());
    let (tftp, syslog) = (free_udp_port(), free_udp_port());
    let addr = |p: u16| format!("127.0.0.1:{p}");
    let _served = ServeChild::start(
        Command::new(BIN)
            .env("NOTIFY_SOCKET", &sock_path)
            .env("PHONEPROV_SYSCONFDIR", dir.path().join("no-etc"))
            .arg("serve")
            .arg("--data")
            .arg(dir.path().join("data"))
            .args([
                "--http",
                &addr(http),
                "--https",
                &addr(https),
                "--acs",
                &addr(acs),
                "--admin",
                &addr(admin),
            ])
            .args(["--tftp", &addr(tftp), "--syslog", &addr(syslog)]),
    );
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("READY=1 within 30 s");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.lines().any(|l| l == "READY=1"), "{msg:?}");
    // Ready means bound: every TCP listener accepts at once and the UDP
    // ports are taken.
    for port in [http, https, acs, admin] {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("READY=1 before port {port} listened: {e}"));
    }
    for port in [tftp, syslog] {
        assert!(
            std::net::UdpSocket::bind(("127.0.0.1", port)).is_err(),
            "READY=1 before UDP port {port} was bound"
        );
    }
}
