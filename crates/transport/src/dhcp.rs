//! The DHCP lease as the phone side sees it (SPEC §8, R-DHCP-1/2): option
//! numbers with text values, and which option tells the phone where to
//! provision from, following `DHCP_Option_To_Use`.
//!
//! The lease is a model, not a DHCP client: the fleet simulator and tests
//! give it as `N=VALUE` lines (a file or strings), e.g. `66=tftp.example.com`,
//! `160=https://pv.example.com/$MA.xml`, `60=dslforum.org`; DHCPv6 options
//! as `v6:N=VALUE` (e.g. `v6:17=tftp://[2001:db8::5]`). The DHCP clients
//! ([`crate::DhcpClient`], [`crate::Dhcp6Client`]) turn a real ACK or
//! REPLY into the same lease.
//!
//! **Decision** (R-DHCP-1, dual stack): the DHCPv4 options are read first,
//! in `DHCP_Option_To_Use` order; only when none of them names a target are
//! the DHCPv6 options read, in `DHCPv6_Option_To_Use` order
//! ([`provisioning_target_dual`]). DHCPv6 option 17 (vendor-specific
//! information) is read like 43: the URL inside it, else its first word as a
//! TFTP server.
//!
//! Option 60 goes both ways: the phone *sends* it as its vendor class
//! ([`vendor_class`], `dslforum.org` while its TR-069 client is on, as the
//! seeds describe: "the phone identifies itself with dslforum.org to the
//! ACS"), and a server that recognised it echoes it, which is what makes
//! options 43 and 125 an ACS URL.

use std::collections::BTreeMap;
use std::path::Path;

/// `DHCP_Option_To_Use` default (R-DHCP-1).
pub const DEFAULT_DHCP_OPTION_ORDER: &str = "66,160,159,150,60,43,125";
/// `DHCPv6_Option_To_Use` default (R-DHCP-1).
pub const DEFAULT_DHCPV6_OPTION_ORDER: &str = "17,160,159";
/// Option 60 value that marks a TR-069 ACS in 43/125 (R-TR69-1).
pub const TR069_VENDOR_CLASS: &str = "dslforum.org";

/// Options of one lease, by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhcpLease {
    /// Option number → value as text.
    pub options: BTreeMap<u8, String>,
    /// DHCPv6 option number → value as text (`v6:N=VALUE`).
    pub options_v6: BTreeMap<u16, String>,
}

/// A lease line that is not `N=VALUE` with N in 1..=254.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DHCP lease line {line}: {text:?} is not `N=VALUE` (N a DHCP option number 1-254) or `v6:N=VALUE` (N a DHCPv6 option number 1-65535); fix the lease file")]
pub struct LeaseError {
    /// 1-based line (or item) number.
    pub line: usize,
    /// The offending text.
    pub text: String,
}

impl DhcpLease {
    /// Parses `N=VALUE` items; blank lines and `#` comments are skipped.
    /// Values keep inner spaces; surrounding whitespace is trimmed.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<DhcpLease, LeaseError> {
        let mut options = BTreeMap::new();
        let mut options_v6 = BTreeMap::new();
        for (i, raw) in items.into_iter().enumerate() {
            let item = raw.trim();
            if item.is_empty() || item.starts_with('#') {
                continue;
            }
            let err = || LeaseError {
                line: i + 1,
                text: item.to_string(),
            };
            let (n, v) = item.split_once('=').ok_or_else(err)?;
            let n = n.trim();
            if let Some(n6) = n.strip_prefix("v6:") {
                let n6: u16 = n6.trim().parse().map_err(|_| err())?;
                if n6 == 0 {
                    return Err(err());
                }
                options_v6.insert(n6, v.trim().to_string());
                continue;
            }
            let n: u8 = n.parse().map_err(|_| err())?;
            if n == 0 || n == 255 {
                return Err(err());
            }
            options.insert(n, v.trim().to_string());
        }
        Ok(DhcpLease {
            options,
            options_v6,
        })
    }

    /// Parses a lease file, one `N=VALUE` per line.
    pub fn from_file(path: &Path) -> Result<DhcpLease, std::io::Error> {
        let text = std::fs::read_to_string(path)?;
        DhcpLease::parse(text.lines()).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }

    fn get(&self, n: u8) -> Option<&str> {
        self.options
            .get(&n)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn get_v6(&self, n: u16) -> Option<&str> {
        self.options_v6
            .get(&n)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// The option-60 vendor class the phone sends in its DHCP requests
/// (R-DHCP-2, R-TR69-1): `dslforum.org` while its TR-069 client is on
/// (so the server answers with an ACS in 43/125), else none.
pub fn vendor_class(tr069_enabled: bool) -> Option<&'static str> {
    tr069_enabled.then_some(TR069_VENDOR_CLASS)
}

/// [`provisioning_target`] over the DHCPv4 options, then the DHCPv6 options
/// in `v6_order` (`DHCPv6_Option_To_Use`, default `17,160,159`).
pub fn provisioning_target_dual(
    lease: &DhcpLease,
    v4_order: &str,
    v6_order: &str,
) -> Option<DhcpTarget> {
    provisioning_target(lease, v4_order).or_else(|| {
        v6_order
            .split(',')
            .filter_map(|n| n.trim().parse::<u16>().ok())
            .find_map(|n| {
                let v = lease.get_v6(n)?;
                match n {
                    160 => Some(DhcpTarget::ProvisioningUrl(v.to_string())),
                    159 => Some(DhcpTarget::ProvisioningServerIp(v.to_string())),
                    17 => Some(match acs_url(v) {
                        Some(url) => DhcpTarget::ProvisioningUrl(url),
                        None => DhcpTarget::TftpServer(
                            v.split([',', ' ']).find(|s| !s.is_empty())?.to_string(),
                        ),
                    }),
                    _ => None,
                }
            })
    })
}

/// Where the lease says to provision from (R-DHCP-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhcpTarget {
    /// Option 66 (TFTP server name) or 150 (TFTP server address; the first
    /// of a list): the default server for `tftp://` rules.
    TftpServer(String),
    /// Option 160: a provisioning URL.
    ProvisioningUrl(String),
    /// Option 159: the provisioning server's IP.
    ProvisioningServerIp(String),
    /// Option 43 or 125 when option 60 is `dslforum.org`: a TR-069 ACS URL.
    AcsUrl(String),
}

/// The first option in `option_order` (comma-separated numbers, e.g.
/// `DHCP_Option_To_Use`) that the lease carries and that names a target.
/// Unknown or non-numeric entries in the order are skipped; option 60 by
/// itself names nothing (it qualifies 43 and 125).
pub fn provisioning_target(lease: &DhcpLease, option_order: &str) -> Option<DhcpTarget> {
    let tr069 = lease
        .get(60)
        .is_some_and(|v| v.eq_ignore_ascii_case(TR069_VENDOR_CLASS));
    option_order
        .split(',')
        .filter_map(|n| n.trim().parse::<u8>().ok())
        .find_map(|n| {
            let v = lease.get(n)?;
            match n {
                66 => Some(DhcpTarget::TftpServer(v.to_string())),
                150 => v
                    .split([',', ' '])
                    .find(|s| !s.is_empty())
                    .map(|s| DhcpTarget::TftpServer(s.to_string())),
                160 => Some(DhcpTarget::ProvisioningUrl(v.to_string())),
                159 => Some(DhcpTarget::ProvisioningServerIp(v.to_string())),
                43 | 125 if tr069 => acs_url(v).map(DhcpTarget::AcsUrl),
                _ => None,
            }
        })
}

/// The ACS URL in an option 43/125 value: the value itself when it is a
/// URL, else the first `http://` or `https://` URL inside it (vendor
/// sub-option framing around it is ignored).
fn acs_url(v: &str) -> Option<String> {
    let lower = v.to_ascii_lowercase();
    let start = lower.find("https://").or_else(|| lower.find("http://"))?;
    let url: String = v[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ',' && !c.is_control())
        .collect();
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(items: &[&str]) -> DhcpLease {
        DhcpLease::parse(items.iter().copied()).unwrap()
    }

    #[test]
    fn r_dhcp_1_default_order_prefers_66_then_160() {
        let l = lease(&[
            "160=https://pv/$MA.xml",
            "66=tftp.example.com",
            "150=10.0.0.9",
        ]);
        assert_eq!(
            provisioning_target(&l, DEFAULT_DHCP_OPTION_ORDER),
            Some(DhcpTarget::TftpServer("tftp.example.com".into()))
        );
        let l = lease(&["160=https://pv/$MA.xml", "159=10.1.1.1", "150=10.0.0.9"]);
        assert_eq!(
            provisioning_target(&l, DEFAULT_DHCP_OPTION_ORDER),
            Some(DhcpTarget::ProvisioningUrl("https://pv/$MA.xml".into()))
        );
        let l = lease(&["159=10.1.1.1", "150=10.0.0.9"]);
        assert_eq!(
            provisioning_target(&l, DEFAULT_DHCP_OPTION_ORDER),
            Some(DhcpTarget::ProvisioningServerIp("10.1.1.1".into()))
        );
    }

    #[test]
    fn r_dhcp_2_option_150_first_address_and_custom_order() {
        let l = lease(&["150=10.0.0.9,10.0.0.10", "66=t"]);
        assert_eq!(
            provisioning_target(&l, "150,66"),
            Some(DhcpTarget::TftpServer("10.0.0.9".into()))
        );
        assert_eq!(
            provisioning_target(&l, " 66 , x, 150"),
            Some(DhcpTarget::TftpServer("t".into()))
        );
        assert_eq!(provisioning_target(&l, "160,159"), None);
        assert_eq!(provisioning_target(&l, ""), None);
    }

    #[test]
    fn r_tr69_1_acs_only_with_dslforum_vendor_class() {
        let l = lease(&["43=http://acs.example.com:7547/cwmp"]);
        assert_eq!(provisioning_target(&l, DEFAULT_DHCP_OPTION_ORDER), None);
        let l = lease(&["60=dslforum.org", "43=http://acs.example.com:7547/cwmp"]);
        assert_eq!(
            provisioning_target(&l, DEFAULT_DHCP_OPTION_ORDER),
            Some(DhcpTarget::AcsUrl(
                "http://acs.example.com:7547/cwmp".into()
            ))
        );
        let l = lease(&[
            "60=DSLForum.org",
            "125=3561 sub1 https://acs.example.net/x, more",
        ]);
        assert_eq!(
            provisioning_target(&l, DEFAULT_DHCP_OPTION_ORDER),
            Some(DhcpTarget::AcsUrl("https://acs.example.net/x".into()))
        );
        let l = lease(&["60=dslforum.org", "43=no url here"]);
        assert_eq!(provisioning_target(&l, DEFAULT_DHCP_OPTION_ORDER), None);
    }

    #[test]
    fn r_dhcp_2_empty_values_are_absent() {
        let l = lease(&["66=", "160=  http://x/y  "]);
        assert_eq!(
            provisioning_target(&l, DEFAULT_DHCP_OPTION_ORDER),
            Some(DhcpTarget::ProvisioningUrl("http://x/y".into()))
        );
    }

    #[test]
    fn r_dhcp_1_v6_options_after_v4_in_their_own_order() {
        let l = lease(&[
            "v6:160=https://pv6/$MA.xml",
            "v6:17=tftp6.example.com",
            "v6:159=2001:db8::9",
        ]);
        assert_eq!(provisioning_target(&l, DEFAULT_DHCP_OPTION_ORDER), None);
        assert_eq!(
            provisioning_target_dual(&l, DEFAULT_DHCP_OPTION_ORDER, DEFAULT_DHCPV6_OPTION_ORDER),
            Some(DhcpTarget::TftpServer("tftp6.example.com".into()))
        );
        assert_eq!(
            provisioning_target_dual(&l, DEFAULT_DHCP_OPTION_ORDER, "159,160"),
            Some(DhcpTarget::ProvisioningServerIp("2001:db8::9".into()))
        );
        assert_eq!(
            provisioning_target_dual(&l, DEFAULT_DHCP_OPTION_ORDER, "160"),
            Some(DhcpTarget::ProvisioningUrl("https://pv6/$MA.xml".into()))
        );
        // A v4 target wins over every v6 option.
        let l = lease(&["66=tftp4", "v6:160=https://pv6/x"]);
        assert_eq!(
            provisioning_target_dual(&l, DEFAULT_DHCP_OPTION_ORDER, DEFAULT_DHCPV6_OPTION_ORDER),
            Some(DhcpTarget::TftpServer("tftp4".into()))
        );
        // Option 17 with a URL inside is a provisioning URL.
        let l = lease(&["v6:17=9 1 http://pv6.example/p.xml"]);
        assert_eq!(
            provisioning_target_dual(&l, "", DEFAULT_DHCPV6_OPTION_ORDER),
            Some(DhcpTarget::ProvisioningUrl(
                "http://pv6.example/p.xml".into()
            ))
        );
        assert!(DhcpLease::parse(["v6:0=x"]).is_err());
        assert!(DhcpLease::parse(["v6:70000=x"]).is_err());
        assert_eq!(vendor_class(true), Some("dslforum.org"));
        assert_eq!(vendor_class(false), None);
    }

    #[test]
    fn lease_parse_errors_and_file() {
        assert_eq!(DhcpLease::parse(["66=a", "bogus"]).unwrap_err().line, 2);
        assert!(DhcpLease::parse(["300=a"]).is_err());
        assert!(DhcpLease::parse(["0=a"]).is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lease");
        std::fs::write(&p, "# lease\n\n66=tftp.lan\n42=10.0.0.1\n").unwrap();
        let l = DhcpLease::from_file(&p).unwrap();
        assert_eq!(l.options.len(), 2);
        assert_eq!(l.options[&42], "10.0.0.1");
        std::fs::write(&p, "x\n").unwrap();
        let e = DhcpLease::from_file(&p).unwrap_err();
        assert!(e.to_string().contains("N=VALUE"), "{e}");
    }
}
