//! The R-SEC rules the engine owns: `Restricted_Access_Domains` (R-SEC-1),
//! the `User-Agent` header (R-HTTP-3), `Profile_Authentication_Type`
//! (R-HTTP-4) and the firewall (`Firewall`, `Firewall_Config`, R-SEC-5).
//!
//! Firewall (what a simulator can do): with `Firewall=Enabled` (the
//! default) and `NO_CISCO_TFTP`, the phone does not open its TFTP client
//! ports (UDP 53240-53245), so a TFTP transfer from a server port other
//! than 69 fails and one from port 69 works, as the seeds say
//! ([`tftp_blocked`]). `NO_ICMP_PING`/`NO_ICMP_UNREACHABLE` (no ICMP in a
//! user-space simulator) and the `UDP:`/`TCP:` ports opened for custom
//! apps are shown in the status ([`firewall_status`]) and change nothing
//! else: the simulator's own listeners (SIP, triggers, connection
//! requests) are the ports a phone keeps open by default.
//!
//! Domain matching (decision): the list is comma-separated, entries trimmed
//! and compared case-insensitively, a trailing `.` ignored. A host is
//! allowed when it equals an entry or is a subdomain of it
//! (`a.prov.example` is inside `prov.example`; `evilprov.example` is not).
//! An IP address host is allowed only when the list holds that exact
//! address. An empty list allows everything.

/// Whether `host` may be used under `Restricted_Access_Domains = list`.
pub fn domain_allowed(list: &str, host: &str) -> bool {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut entries = list
        .split(',')
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .peekable();
    if entries.peek().is_none() {
        return true;
    }
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    entries.any(|d| {
        host == d
            || (!is_ip && host.len() > d.len() && host.ends_with(&d) && {
                host.as_bytes()[host.len() - d.len() - 1] == b'.'
            })
    })
}

/// `Profile_Authentication_Type` (R-HTTP-4): which credentials answer a
/// 401 challenge when the rule carries no `--uid`/`--pwd` (those always
/// win).
///
/// * `Disabled`: none; a challenged download fails (class C).
/// * `Basic Http Authentication` (the default): the profile account the
///   user entered on the phone ([`PhoneConfig::credentials`](crate::PhoneConfig)),
///   answering Basic or Digest.
/// * `XSI Authentication`: the XSI credentials, per
///   `XSI_Authentication_Type`: `Login_User_ID`/`Login_Password`, or line
///   1's SIP credentials (`Auth_ID_1_`, else `User_ID_1_`, and
///   `Password_1_`).
///
/// Values are compared trimmed and case-insensitively (the seeds write
/// `Basic Http Authentication ` with a trailing space); an unknown value
/// is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileAuth {
    Disabled,
    Basic,
    Xsi,
}

impl ProfileAuth {
    /// The setting named by `value`.
    pub fn parse(value: &str) -> ProfileAuth {
        match value.trim().to_ascii_lowercase().as_str() {
            "disabled" => ProfileAuth::Disabled,
            "xsi authentication" => ProfileAuth::Xsi,
            _ => ProfileAuth::Basic,
        }
    }
}

/// `Cisco-<PN>/<firmware> (<MAC>)` (R-HTTP-3), MAC as 12 lowercase hex
/// digits, e.g. `Cisco-CP-8841-3PCC/11.0 (00562b043615)`.
pub fn default_user_agent(pn: &str, swver: &str, mac12: &str) -> String {
    format!("Cisco-{pn}/{swver} ({mac12})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_sec_1_domain_matching() {
        assert!(domain_allowed("", "anything.example"));
        assert!(domain_allowed(" , ", "anything.example"));
        let list = "prov.example, Other.ORG.";
        assert!(domain_allowed(list, "prov.example"));
        assert!(domain_allowed(list, "a.b.prov.example"));
        assert!(domain_allowed(list, "PROV.EXAMPLE."));
        assert!(domain_allowed(list, "other.org"));
        assert!(!domain_allowed(list, "evilprov.example"));
        assert!(!domain_allowed(list, "example"));
        assert!(!domain_allowed(list, "10.0.0.1"));
        assert!(domain_allowed("10.0.0.1", "10.0.0.1"));
        assert!(!domain_allowed("0.0.1", "10.0.0.1"));
    }

    #[test]
    fn r_http_4_profile_authentication_type_values() {
        assert_eq!(
            ProfileAuth::parse("Basic Http Authentication "),
            ProfileAuth::Basic
        );
        assert_eq!(ProfileAuth::parse("disabled"), ProfileAuth::Disabled);
        assert_eq!(ProfileAuth::parse(" XSI Authentication"), ProfileAuth::Xsi);
        assert_eq!(ProfileAuth::parse(""), ProfileAuth::Basic);
    }

    #[test]
    fn r_http_3_user_agent_shape() {
        assert_eq!(
            default_user_agent("CP-8841-3PCC", "11.0", "00562b043615"),
            "Cisco-CP-8841-3PCC/11.0 (00562b043615)"
        );
    }
}

/// `Firewall` (anything but `Disabled` is on) and the parsed
/// `Firewall_Config` (one the schema refuses never reaches the store, so
/// one that does not parse here counts as empty).
fn firewall(params: &crate::ParamStore) -> (bool, phoneprov_profile::schema::FirewallConfig) {
    let enabled = !params
        .get_or_empty("Firewall")
        .trim()
        .eq_ignore_ascii_case("disabled");
    let cfg =
        phoneprov_profile::schema::parse_firewall_config(params.get_or_empty("Firewall_Config"))
            .unwrap_or_default();
    (enabled, cfg)
}

/// Why the firewall drops a TFTP transfer from server port `port`
/// (`NO_CISCO_TFTP` with `Firewall=Enabled` and a port other than 69),
/// `None` when it passes.
pub fn tftp_blocked(params: &crate::ParamStore, port: u16) -> Option<String> {
    let (enabled, cfg) = firewall(params);
    (enabled && cfg.no_cisco_tftp && port != 69).then(|| {
        format!(
            "TFTP from server port {port} blocked by the phone's firewall (Firewall_Config NO_CISCO_TFTP keeps UDP 53240-53245 closed; use port 69 or remove NO_CISCO_TFTP)"
        )
    })
}

/// The `firewall` object of the status page.
pub fn firewall_status(params: &crate::ParamStore) -> serde_json::Value {
    let (enabled, cfg) = firewall(params);
    let ports = |tcp: bool| -> Vec<String> {
        cfg.ports
            .iter()
            .filter(|r| r.tcp == tcp)
            .map(|r| {
                if r.first == r.last {
                    r.first.to_string()
                } else {
                    format!("{}-{}", r.first, r.last)
                }
            })
            .collect()
    };
    serde_json::json!({
        "enabled": enabled,
        "no_icmp_ping": enabled && cfg.no_icmp_ping,
        "no_icmp_unreachable": enabled && cfg.no_icmp_unreachable,
        "tftp_client_ports_open": !(enabled && cfg.no_cisco_tftp),
        "open_udp": ports(false),
        "open_tcp": ports(true),
    })
}

#[cfg(test)]
mod firewall_tests {
    use super::*;
    use crate::ParamStore;

    #[test]
    fn r_sec_5_no_cisco_tftp_blocks_only_non_69_ports() {
        let mut p = ParamStore::new();
        assert_eq!(tftp_blocked(&p, 6969), None);
        p.set(
            "Firewall_Config",
            "NO_ICMP_PING, NO_CISCO_TFTP, TCP:12000, UDP:8000:8010",
        );
        assert!(tftp_blocked(&p, 6969).unwrap().contains("NO_CISCO_TFTP"));
        assert_eq!(tftp_blocked(&p, 69), None);
        let s = firewall_status(&p);
        assert_eq!(s["tftp_client_ports_open"], false);
        assert_eq!(s["no_icmp_ping"], true);
        assert_eq!(s["open_tcp"][0], "12000");
        assert_eq!(s["open_udp"][0], "8000-8010");
        p.set("Firewall", "Disabled");
        assert_eq!(tftp_blocked(&p, 6969), None);
        assert_eq!(firewall_status(&p)["tftp_client_ports_open"], true);
    }
}
