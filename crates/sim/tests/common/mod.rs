//! Helpers for the interop tests: peer lookup (a missing peer fails the test
//! and names `scripts/install-peers`), free ports, peers killed on drop,
//! nginx, tftpd-hpa and dnsmasq (all from phoneprov-testpeers), a dev CA from
//! `phoneprov-pki` with per-MAC phone certificates, one-phone configs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use phoneprov_testpeers::*;

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

    /// nginx on HTTPS with this server certificate (no client certificate
    /// asked).
    pub fn nginx_https(&self) -> Nginx {
        let body = format!(
            "    ssl_certificate {};\n    ssl_certificate_key {};\n",
            self.path("server.pem").display(),
            self.path("server.key").display()
        );
        Nginx::start("ssl", &body, |_| {})
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

/// A profile with one value, for the DHCP labs' nginx.
pub const BASIC: &str = "<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n";

/// `n` phones from `mac_base` on a [`DhcpLab`]'s interface, a `--once`
/// boot storm with short timeouts.
pub fn dhcp_fleet(lab: &DhcpLab, n: u64, mac_base: &str) -> phoneprov_sim::SimConfig {
    let mut cfg = phoneprov_sim::SimConfig::new(n);
    cfg.mac_base = mac_base.into();
    cfg.dhcp_interface = Some(lab.host_if.clone());
    cfg.dhcp_timeout = Duration::from_secs(20);
    cfg.boot_storm = true;
    cfg.connect_timeout = Duration::from_secs(3);
    cfg.request_timeout = Duration::from_secs(10);
    cfg
}

/// Runs a `--once` fleet to its end (90 s at most).
pub async fn run_once(cfg: phoneprov_sim::SimConfig) -> phoneprov_sim::FleetReport {
    tokio::time::timeout(Duration::from_secs(90), phoneprov_sim::run_fleet(cfg))
        .await
        .expect("the --once fleet ends")
        .unwrap()
}

/// `000e08000101` → `00:0e:08:00:01:01` (dnsmasq's spelling).
pub fn colon(mac: &str) -> String {
    mac.as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

/// A phone's status `dhcp` object from the report, by MAC.
pub fn phone_dhcp(r: &phoneprov_sim::FleetReport, mac: &str) -> serde_json::Value {
    let d = r.dhcp.as_ref().expect("a DHCP section in the report");
    d.phones
        .iter()
        .find(|p| p["mac"] == mac)
        .unwrap_or_else(|| panic!("{mac} not in {:?}", d.phones))["dhcp"]
        .clone()
}
