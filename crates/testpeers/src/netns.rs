//! A DHCP lab for interop tests: a network namespace and a veth pair
//! (`ip netns add`, `ip link add ... type veth peer ...`), one end in the
//! namespace with the server's address, the other in the root namespace
//! with the host's; dnsmasq serving DHCP (and DNS on port 53) inside the
//! namespace on its end. Both ends have IPv6 too: duplicate address
//! detection is off on both (so the link-local addresses the DHCPv6
//! client sends from, and `fd00:A:B::1/64` on the namespace's end,
//! `::2` on the host's, are usable at once), and [`DhcpLab::dnsmasq`]
//! serves DHCPv6 for `fd00:A:B::100`-`::1ff` as well. Names are unique per lab (process id and a
//! counter), the subnet is one no route of the host uses yet, and
//! everything is removed on drop.
//!
//! Creating a namespace needs root or CAP_NET_ADMIN: without it
//! [`DhcpLab::new`] fails the test with a line saying so (it never skips).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::{peer, Guard};

static LABS: AtomicU32 = AtomicU32::new(0);

/// Runs `ip ARGS`, returning its stderr on failure.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new(peer("ip"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A namespace, a veth pair into it, and (after [`DhcpLab::dnsmasq`]) a
/// DHCP server on the namespace's end.
pub struct DhcpLab {
    /// The namespace's name.
    pub ns: String,
    /// The root namespace's end (the phones' `--dhcp-interface`).
    pub host_if: String,
    /// The namespace's end (dnsmasq's interface).
    pub ns_if: String,
    /// `10.N.M.0/24`: the host end is `.1`.
    pub host_ip: Ipv4Addr,
    /// The server's address (`.2`, in the namespace): DHCP and DNS.
    pub server_ip: Ipv4Addr,
    /// The server's IPv6 address (`fd00:A:B::1`, in the namespace): DNS;
    /// DHCPv6 answers from its link-local address.
    pub server_ip6: Ipv6Addr,
    /// The host end's IPv6 address (`fd00:A:B::2`).
    pub host_ip6: Ipv6Addr,
    dir: tempfile::TempDir,
    dnsmasq: Option<Guard>,
}

impl DhcpLab {
    /// Creates the namespace and the veth pair, addresses them and brings
    /// them up. Panics (the test fails) when that is not allowed.
    pub fn new() -> DhcpLab {
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{n}", std::process::id() % 100_000);
        let ns = format!("ppdhcp{id}");
        let host_if = format!("pph{id}");
        let ns_if = format!("ppn{id}");
        let routes = Command::new(peer("ip"))
            .args(["-4", "route", "show", "table", "all"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let seed = (std::process::id() as usize).wrapping_mul(31) + n as usize * 7;
        let (a, b) = (0..4000)
            .map(|k| {
                let x = seed + k;
                (200 + (x / 250) % 50, 1 + x % 250)
            })
            .find(|(a, b)| !routes.contains(&format!("10.{a}.{b}.")))
            .expect("a free 10.x.y.0/24 subnet");
        let host_ip = Ipv4Addr::new(10, a as u8, b as u8, 1);
        let server_ip = Ipv4Addr::new(10, a as u8, b as u8, 2);
        if let Err(e) = ip(&["netns", "add", &ns]) {
            panic!(
                "the DHCP interop test needs root or CAP_NET_ADMIN to create a network namespace and a veth pair; {e}"
            );
        }
        let prefix = |last: u16| Ipv6Addr::new(0xfd00, a as u16, b as u16, 0, 0, 0, 0, last);
        let lab = DhcpLab {
            ns,
            host_if,
            ns_if,
            host_ip,
            server_ip,
            server_ip6: prefix(1),
            host_ip6: prefix(2),
            dir: crate::open_tempdir(),
            dnsmasq: None,
        };
        let steps: Vec<Vec<String>> = vec![
            vec![
                "link".into(),
                "add".into(),
                lab.host_if.clone(),
                "type".into(),
                "veth".into(),
                "peer".into(),
                "name".into(),
                lab.ns_if.clone(),
            ],
            vec![
                "link".into(),
                "set".into(),
                lab.ns_if.clone(),
                "netns".into(),
                lab.ns.clone(),
            ],
            vec![
                "addr".into(),
                "add".into(),
                format!("{host_ip}/24"),
                "dev".into(),
                lab.host_if.clone(),
            ],
            vec![
                "link".into(),
                "set".into(),
                lab.host_if.clone(),
                "up".into(),
            ],
            lab.in_ns(&["addr", "add", &format!("{server_ip}/24"), "dev", &lab.ns_if]),
            lab.in_ns(&["link", "set", &lab.ns_if, "up"]),
            lab.in_ns(&["link", "set", "lo", "up"]),
        ];
        for (k, s) in steps.into_iter().enumerate() {
            // IPv6 on, no DAD, before the ends come up (k 3: the host
            // end's `up`; k 5: the namespace end's).
            if k == 3 {
                lab.ipv6_sysctls(None, &lab.host_if);
            }
            if k == 5 {
                lab.ipv6_sysctls(Some(&lab.ns), &lab.ns_if);
            }
            let args: Vec<&str> = s.iter().map(String::as_str).collect();
            if let Err(e) = ip(&args) {
                panic!("setting up the DHCP lab failed (needs root or CAP_NET_ADMIN): {e}");
            }
        }
        let v6: Vec<Vec<String>> = vec![
            lab.in_ns(&[
                "-6",
                "addr",
                "add",
                &format!("{}/64", lab.server_ip6),
                "dev",
                &lab.ns_if,
                "nodad",
            ]),
            [
                "-6",
                "addr",
                "add",
                &format!("{}/64", lab.host_ip6),
                "dev",
                &lab.host_if,
                "nodad",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ];
        for s in v6 {
            let args: Vec<&str> = s.iter().map(String::as_str).collect();
            if let Err(e) = ip(&args) {
                panic!("setting up the DHCP lab's IPv6 failed: {e}");
            }
        }
        lab
    }

    /// `disable_ipv6=0`, `accept_dad=0` on `iface` (in namespace `ns`).
    fn ipv6_sysctls(&self, ns: Option<&str>, iface: &str) {
        for (key, value) in [("disable_ipv6", "0"), ("accept_dad", "0")] {
            let path = format!("/proc/sys/net/ipv6/conf/{iface}/{key}");
            let mut cmd = match ns {
                Some(ns) => {
                    let mut c = Command::new(peer("ip"));
                    c.args(["netns", "exec", ns]).arg(peer("sh"));
                    c
                }
                None => Command::new(peer("sh")),
            };
            let out = cmd
                .arg("-c")
                .arg(format!("echo {value} > {path}"))
                .output()
                .map_err(|e| e.to_string());
            match out {
                Ok(o) if o.status.success() => {}
                Ok(o) => panic!(
                    "setting {path} to {value} failed (needs root): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => panic!("setting {path} to {value} failed: {e}"),
            }
        }
    }

    fn in_ns(&self, args: &[&str]) -> Vec<String> {
        ["-n", &self.ns]
            .iter()
            .chain(args)
            .map(|s| s.to_string())
            .collect()
    }

    /// dnsmasq's lease file.
    pub fn lease_file(&self) -> PathBuf {
        self.dir.path().join("dnsmasq.leases")
    }

    /// dnsmasq's log (`--log-dhcp`).
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("dnsmasq.log")
    }

    /// The lease file's text.
    pub fn leases(&self) -> String {
        std::fs::read_to_string(self.lease_file()).unwrap_or_default()
    }

    /// The log's text.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// `10.N.M.last`.
    pub fn addr(&self, last: u8) -> Ipv4Addr {
        let o = self.host_ip.octets();
        Ipv4Addr::new(o[0], o[1], o[2], last)
    }

    /// Starts dnsmasq in the namespace: DHCP for `.100`-`.199` and DHCPv6
    /// for `fd00:A:B::100`-`::1ff` on its veth end (with `--log-dhcp`, a
    /// lease file), DNS on port 53 of [`DhcpLab::server_ip`] and
    /// [`DhcpLab::server_ip6`], and `args` (`--dhcp-option=...`,
    /// `--srv-host=...`). Waits until it logs its DHCP ranges.
    pub fn dnsmasq(&mut self, args: &[String]) {
        self.start_dnsmasq(args, Some((0x100, 0x1ff)))
    }

    /// [`DhcpLab::dnsmasq`] without DHCPv6 (no IPv6 range: dnsmasq does
    /// not answer a SOLICIT).
    pub fn dnsmasq_v4_only(&mut self, args: &[String]) {
        self.start_dnsmasq(args, None)
    }

    /// [`DhcpLab::dnsmasq`] with the DHCPv6 range `fd00:A:B::first` to
    /// `::last` (e.g. one address, to run it out).
    pub fn dnsmasq_v6_range(&mut self, args: &[String], first: u16, last: u16) {
        self.start_dnsmasq(args, Some((first, last)))
    }

    /// `fd00:A:B::last`.
    pub fn addr6(&self, last: u16) -> Ipv6Addr {
        let s = self.server_ip6.segments();
        Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, last)
    }

    fn start_dnsmasq(&mut self, args: &[String], range6: Option<(u16, u16)>) {
        let v6 = range6.is_some();
        let mut v6_args = Vec::new();
        if let Some((first, last)) = range6 {
            v6_args.push(format!("--listen-address={}", self.server_ip6));
            v6_args.push(format!(
                "--dhcp-range={},{},64,1h",
                self.addr6(first),
                self.addr6(last)
            ));
        }
        let log = self.log_file();
        let child = Command::new(peer("ip"))
            .args(["netns", "exec", &self.ns])
            .arg(peer("dnsmasq"))
            .args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--pid-file",
                "--user=root",
                "--bind-interfaces",
                "--no-ping",
                "--dhcp-authoritative",
                "--log-dhcp",
                "--log-queries",
                "--port=53",
            ])
            .arg(format!("--interface={}", self.ns_if))
            .arg(format!("--listen-address={}", self.server_ip))
            .arg(format!(
                "--dhcp-range={},{},255.255.255.0,1h",
                self.addr(100),
                self.addr(199)
            ))
            .args(&v6_args)
            .arg(format!("--dhcp-leasefile={}", self.lease_file().display()))
            .arg(format!("--log-facility={}", log.display()))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dnsmasq in the namespace");
        let mut guard = Guard(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains("DHCP, IP range") && (!v6 || log.contains("DHCPv6, IP range")) {
                break;
            }
            if let Ok(Some(status)) = guard.0.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = guard.0.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("dnsmasq exited with {status}: {err}\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "dnsmasq never logged its DHCP range:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.dnsmasq = Some(guard);
    }

    /// The lab's directory (for files the test writes beside the logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for DhcpLab {
    fn default() -> Self {
        DhcpLab::new()
    }
}

impl Drop for DhcpLab {
    fn drop(&mut self) {
        self.dnsmasq.take();
        // Deleting the namespace deletes its veth end, and with it the pair.
        let _ = ip(&["netns", "del", &self.ns]);
        let _ = ip(&["link", "del", &self.host_if]);
    }
}
