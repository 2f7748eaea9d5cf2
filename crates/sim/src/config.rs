//! What a simulation run is: the fleet's identities (MACs, serials,
//! product), the parameters and DHCP lease every phone starts with, the
//! network context (DNS server, trust anchors, client certificates) and how
//! long to run (`--once` or real time). [`SimConfig`] is what
//! `phoneprov sim` builds from its flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use phoneprov_phone::PhoneIdentity;
use phoneprov_transport::DhcpLease;
use phoneprov_types::Mac;

use crate::SimError;

/// Where each phone's client certificate comes from (R-HTTPS-5, R-SEC).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ClientCerts {
    /// No client certificate (`--client-certs none`, `$CCERT` = Not Installed).
    #[default]
    None,
    /// `DIR/<mac>.pem` and `DIR/<mac>.key` per phone, as written by
    /// `phoneprov ca issue-fleet`; loaded at each HTTPS fetch and dropped
    /// after it, so 100 000 phones do not hold 100 000 TLS configurations.
    Dir(PathBuf),
}

/// How long the fleet runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Boot, resync once (plus an upgrade the resync asks for), stop. Timers
    /// are skipped (the phone's clock jumps to its next timer) so the run
    /// takes as long as the transfers, not as long as the delays.
    Once,
    /// Real time for this long.
    For(Duration),
    /// Real time until [`crate::Fleet::shutdown`] (or Ctrl-C in the CLI).
    Forever,
}

/// One simulation run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of phones (1 to a few hundred thousand).
    pub count: u64,
    /// MAC of the first phone; the others follow (`mac_base + i`).
    pub mac_base: String,
    /// Product name (`$PN`), e.g. `CP-8841-3PCC`.
    pub pn: String,
    /// Product series (`$PSN`); `None` takes the first digit run of `pn`.
    pub psn: Option<String>,
    /// Serial of the first phone; a trailing number counts up like
    /// `phoneprov ca issue-fleet --sn-base` (so `L=` in the certificate matches).
    pub sn_base: String,
    /// Firmware version (`$SWVER`, User-Agent).
    pub swver: String,
    /// Parameters set before the first boot (`--param NAME=VALUE`).
    pub params: Vec<(String, String)>,
    /// The simulated DHCP lease (`--dhcp-option N=VALUE`), read in
    /// `DHCP_Option_To_Use` order (R-DHCP).
    pub lease: DhcpLease,
    /// `--dhcp-interface IFACE`: each phone runs a real DHCPv4 exchange on
    /// this interface before it provisions ([`crate::dhcp_client`]); the
    /// options the server sends win, `--dhcp-option` fills in the rest.
    pub dhcp_interface: Option<String>,
    /// `--dhcp-timeout SECS`: a phone without a lease after this long
    /// gives up (its status says so; the fleet goes on).
    pub dhcp_timeout: Duration,
    /// DNS server for names and SRV lookups; `None` = the first server of
    /// DHCP option 6, else the system resolver.
    pub dns: Option<SocketAddr>,
    /// `--dns-port N`: the port asked on the DNS servers of option 6
    /// (default 53; tests run dnsmasq on a free port).
    pub dns_port: Option<u16>,
    /// Trust anchors (the provisioning CA, PEM); `None` = public web roots.
    pub trust_pem: Option<Vec<u8>>,
    /// Per-phone client certificates.
    pub client_certs: ClientCerts,
    /// The profile account every phone's user entered (R-HTTP-4): the
    /// credentials that answer a profile server's 401 when the rule has no
    /// `--uid`/`--pwd` and `Profile_Authentication_Type` is `Basic Http
    /// Authentication` (the default).
    pub profile_account: Option<phoneprov_phone::Credentials>,
    /// Trigger listener (`/admin/resync`, `/CGI/Execute`, `/status.json`).
    pub listen: Option<SocketAddr>,
    /// SIP listener, UDP and TCP on one address (`--sip-listen`): NOTIFY
    /// `check-sync` / `resync` (R-RULE-6), see [`crate::sip`].
    pub sip_listen: Option<SocketAddr>,
    /// All phones power on at the same instant and resync at once
    /// (otherwise the boot resync is spread by `Resync_Random_Delay`).
    pub boot_storm: bool,
    /// Once or real time.
    pub mode: RunMode,
    /// Transfers in flight at most (file descriptors, server load).
    pub concurrency: usize,
    /// Seed of each phone's engine (`seed + index`).
    pub seed: u64,
    /// TCP connect timeout per address.
    pub connect_timeout: Duration,
    /// Whole-transfer timeout.
    pub request_timeout: Duration,
    /// The TR-069 CPE agent (SPEC §10): ACS, credentials, connection
    /// requests, periodic inform. Off unless an ACS URL is given here or
    /// the lease names one (options 43/125 with 60 = `dslforum.org`).
    pub tr069: crate::cpe::Tr069Config,
    /// Base URL of the activation service (`--activation URL`, R-ACT):
    /// phones without a provisioning server from DHCP ask it who
    /// provisions them ([`crate::activation`]). `None`: not simulated.
    pub activation: Option<String>,
    /// `--gds-code CODE`: typed by each phone the activation server gave
    /// no provider (R-ACT-2).
    pub gds_code: Option<String>,
    /// `--activation-retry-wait MS`: the longest real wait for an
    /// activation retry; the phone's clock jumps the rest of the backoff.
    pub activation_retry_wait: Option<Duration>,
    /// `--tls-resumption on|off` (default on): each phone resumes its own
    /// earlier TLS sessions when it reconnects, like a phone's TLS stack
    /// (`phoneprov_transport::TlsSessions`); off makes every HTTPS
    /// handshake a full one.
    pub tls_resumption: bool,
}

impl SimConfig {
    /// One phone (`000e08000001`, `CP-8841-3PCC`, firmware `11.0.1`), no
    /// parameters, once, concurrency 2000, 5 s connect / 30 s transfer.
    pub fn new(count: u64) -> SimConfig {
        SimConfig {
            count,
            mac_base: "000e08000001".into(),
            pn: "CP-8841-3PCC".into(),
            psn: None,
            sn_base: "SN000001".into(),
            swver: "11.0.1".into(),
            params: Vec::new(),
            lease: DhcpLease::default(),
            dhcp_interface: None,
            dhcp_timeout: Duration::from_millis(phoneprov_transport::DEFAULT_GIVE_UP_MS),
            dns: None,
            dns_port: None,
            trust_pem: None,
            client_certs: ClientCerts::None,
            profile_account: None,
            listen: None,
            sip_listen: None,
            boot_storm: false,
            mode: RunMode::Once,
            concurrency: 2000,
            seed: 1,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            tr069: crate::cpe::Tr069Config::default(),
            activation: None,
            gds_code: None,
            activation_retry_wait: None,
            tls_resumption: true,
        }
    }

    /// Checks the numbers before anything starts.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.count == 0 {
            return Err(SimError::Config("--count must be at least 1".into()));
        }
        if self.concurrency == 0 {
            return Err(SimError::Config("--concurrency must be at least 1".into()));
        }
        let first =
            Mac::parse(&self.mac_base).map_err(|e| SimError::Config(format!("--mac-base: {e}")))?;
        let last = first.checked_add(self.count - 1);
        if let Some(url) = &self.activation {
            crate::activation::validate_base_url(url).map_err(SimError::Config)?;
        }
        if let Some(code) = &self.gds_code {
            phoneprov_phone::activation::EnteredCode::parse(code).map_err(|e| {
                SimError::Config(format!(
                    "--gds-code: {e} (give 16 digits, or # and a 3-16 digit short code)"
                ))
            })?;
        }
        if last.is_none() {
            return Err(SimError::Config(format!(
                "{} MACs from {first} run past ffffffffffff: lower --count or --mac-base",
                self.count
            )));
        }
        Ok(())
    }

    /// The identity of phone `index` (0-based).
    pub fn identity(&self, index: u64) -> Result<PhoneIdentity, SimError> {
        let mac = Mac::parse(&self.mac_base)
            .map_err(|e| SimError::Config(format!("--mac-base: {e}")))?
            .checked_add(index)
            .ok_or_else(|| SimError::Config("MAC range overflow: lower --count".into()))?
            .to_string();
        Ok(PhoneIdentity {
            mac,
            serial: serial_for(&self.sn_base, index),
            pn: self.pn.clone(),
            psn: self.psn.clone().unwrap_or_else(|| psn_of(&self.pn)),
            swver: self.swver.clone(),
            hwver: "1".into(),
        })
    }

    /// The value of `--param NAME` (last one wins), case-insensitive.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serial `index` after `base`, counting up a trailing number with its
/// width kept (`SN000001` + 2 = `SN000003`), exactly like
/// `phoneprov ca issue-fleet`, so the certificate's `L=` matches.
pub fn serial_for(base: &str, index: u64) -> String {
    let digits = base.chars().rev().take_while(char::is_ascii_digit).count();
    let (prefix, number) = base.split_at(base.len() - digits);
    match number.parse::<u64>() {
        Ok(n) => format!("{prefix}{:0width$}", n + index, width = digits),
        Err(_) => format!("{base}{index}"),
    }
}

/// `CP-8841-3PCC` → `8841`: the first run of digits (the whole name when
/// there is none).
pub fn psn_of(pn: &str) -> String {
    let digits: String = pn
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    if digits.is_empty() {
        pn.to_string()
    } else {
        digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_count_up_like_issue_fleet() {
        let mut c = SimConfig::new(3);
        c.mac_base = "00:0E:08:00:00:FF".into();
        let id = c.identity(1).unwrap();
        assert_eq!(id.mac, "000e08000100");
        assert_eq!(id.serial, "SN000002");
        assert_eq!(id.psn, "8841");
        assert_eq!(serial_for("ABC", 4), "ABC4");
        assert_eq!(psn_of("ATA192-MPP"), "192");
    }

    #[test]
    fn validate_rejects_overflow_and_zero() {
        let mut c = SimConfig::new(2);
        c.mac_base = "ffffffffffff".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("lower --count"));
        c = SimConfig::new(0);
        assert!(c.validate().is_err());
        c = SimConfig::new(1);
        c.mac_base = "zz".into();
        assert!(c.validate().is_err());
    }
}
