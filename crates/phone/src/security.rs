//! The R-SEC rules the engine owns: `Restricted_Access_Domains` (R-SEC-1),
//! the `User-Agent` header (R-HTTP-3), `Profile_Authentication_Type`
//! (R-HTTP-4) and the firewall (`Firewall`, `Firewall_Config`, R-SEC-5).
//!
//! Firewall (what a simulator can do; **decision**, session 7). The seeds
//! list the ports a phone keeps open with `Firewall=Enabled` (the
//! default): the SIP/UDP port of every enabled line whose
//! `SIP_Transport_n_` is UDP or AUTO, the TR-069 connection-request port
//! when TR-069 is on, the web server, DHCP, and the TFTP client ports
//! 53240-53245; `Firewall_Config` closes some (`NO_CISCO_TFTP`, the ICMP
//! answers) and opens `UDP:p[:q]`/`TCP:p[:q]` for custom apps. A simulated
//! phone has no ports of its own: the fleet's listeners stand for them
//! (the `--sip-listen` port is every phone's SIP port, `--cr-listen` its
//! connection-request port). What follows from that:
//! * `NO_CISCO_TFTP`: the phone does not open its TFTP client ports, so a
//!   TFTP transfer from a server port other than 69 fails and one from
//!   port 69 works ([`tftp_blocked`]).
//! * SIP over UDP: a datagram reaches the phone only while its SIP/UDP
//!   port is open: an enabled line (`Line_Enable_n_`) uses UDP or AUTO,
//!   or `Firewall_Config` opens the listener's port with `UDP:p[:q]`.
//!   Otherwise the firewall drops it: no answer at all, one refusal line
//!   ([`sip_udp_blocked`]). With the default settings (line 1, UDP) the
//!   port is open, as on a phone.
//! * SIP over TCP: the listener's TCP side stands for the connection a
//!   phone keeps to its proxy (an established flow, which a firewall
//!   passes); it is not filtered, so `TCP:` ranges change nothing for SIP.
//! * Connection requests: the seeds open the connection-request port
//!   whenever TR-069 is on, and the simulator has a connection-request
//!   listener only then: never filtered.
//! * `NO_ICMP_PING`/`NO_ICMP_UNREACHABLE`: a user-space simulator sends and
//!   answers no ICMP; shown in the status only ([`firewall_status`]), as
//!   are the open ranges.
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

/// Why the firewall drops a SIP datagram that arrived on UDP `port` (the
/// port the executor's listener stands for, module docs) of a phone of
/// model `pn`; `None` when it passes.
pub fn sip_udp_blocked(params: &crate::ParamStore, pn: &str, port: u16) -> Option<String> {
    let (enabled, cfg) = firewall(params);
    if !enabled || sip_udp_line(params, pn) {
        return None;
    }
    if cfg
        .ports
        .iter()
        .any(|r| !r.tcp && (r.first..=r.last).contains(&port))
    {
        return None;
    }
    Some(format!(
        "SIP over UDP to port {port} dropped by the phone's firewall: no enabled line uses SIP_Transport UDP or AUTO and Firewall_Config opens no UDP:{port} (add UDP:{port} to Firewall_Config, or set Firewall to Disabled)"
    ))
}

/// Whether an enabled line of model `pn` keeps the SIP/UDP port open
/// (`SIP_Transport_n_` UDP, the default, or AUTO).
fn sip_udp_line(params: &crate::ParamStore, pn: &str) -> bool {
    let lines = phoneprov_profile::schema::model(pn).map_or(1, |m| m.ext.max(1));
    (1..=lines).any(|n| {
        let transport = params
            .get(&format!("SIP_Transport_{n}_"))
            .unwrap_or("UDP")
            .trim()
            .to_ascii_uppercase();
        params.get_bool(&format!("Line_Enable_{n}_"), true)
            && matches!(transport.as_str(), "UDP" | "AUTO")
    })
}

/// The `firewall` object of the status page; `pn` and `sip_port` (the
/// port the SIP listener stands for) give `sip_udp_open`.
pub fn firewall_status(params: &crate::ParamStore, pn: &str, sip_port: u16) -> serde_json::Value {
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
        "sip_udp_open": sip_udp_blocked(params, pn, sip_port).is_none(),
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
        let s = firewall_status(&p, "CP-8841-3PCC", 5060);
        assert_eq!(s["tftp_client_ports_open"], false);
        assert_eq!(s["no_icmp_ping"], true);
        assert_eq!(s["open_tcp"][0], "12000");
        assert_eq!(s["open_udp"][0], "8000-8010");
        p.set("Firewall", "Disabled");
        assert_eq!(tftp_blocked(&p, 6969), None);
        assert_eq!(
            firewall_status(&p, "CP-8841-3PCC", 5060)["tftp_client_ports_open"],
            true
        );
    }

    #[test]
    fn r_sec_5_sip_udp_port_open_while_a_line_uses_udp_or_a_range_opens_it() {
        let pn = "CP-8841-3PCC";
        let lines = phoneprov_profile::schema::model(pn).unwrap().ext;
        assert!(lines > 1);
        let mut p = ParamStore::new();
        // Defaults: line 1 (every line) on UDP.
        assert_eq!(sip_udp_blocked(&p, pn, 5060), None);
        // Every line on TLS/TCP: the SIP/UDP port is closed.
        for n in 1..=lines {
            let t = if n % 2 == 0 { "TCP" } else { "TLS" };
            p.set(&format!("SIP_Transport_{n}_"), t);
        }
        let why = sip_udp_blocked(&p, pn, 5060).unwrap();
        assert!(why.contains("add UDP:5060 to Firewall_Config"), "{why}");
        assert_eq!(firewall_status(&p, pn, 5060)["sip_udp_open"], false);
        // AUTO on the last line opens it again; a disabled AUTO line does not.
        p.set(&format!("SIP_Transport_{lines}_"), "auto");
        assert_eq!(sip_udp_blocked(&p, pn, 5060), None);
        p.set(&format!("Line_Enable_{lines}_"), "No");
        assert!(sip_udp_blocked(&p, pn, 5060).is_some());
        // A UDP range covering the port opens it; a TCP one or another
        // range does not.
        p.set("Firewall_Config", "TCP:5060, UDP:7000:7010");
        assert!(sip_udp_blocked(&p, pn, 5060).is_some());
        assert_eq!(sip_udp_blocked(&p, pn, 7005), None);
        assert!(sip_udp_blocked(&p, pn, 7011).is_some());
        // Firewall=Disabled opens everything.
        p.set("Firewall", "Disabled");
        assert_eq!(sip_udp_blocked(&p, pn, 5060), None);
    }
}
