//! The schema table (data only). Defaults come from SPEC.md; sources are
//! cited per entry (`spec`). Indexed line parameters go up to 16 lines, the
//! largest line count of the multiplatform phone family.

use super::ParamType::{self, *};
use super::{Index, ParamSpec, ScheduleKind};

const LINES: u16 = 16;

/// The factory `Profile_Rule` of newer firmware (`/$PSN.xml`); the schema
/// default stays `/$PN.cfg` as SPEC R-RULE-4 decides.
pub const PROFILE_RULE_NEWER_DEFAULT: &str = "/$PSN.xml";
const DELAY: ParamType = Int {
    min: 0,
    max: 2_147_483_647,
};
const PORT: ParamType = Int {
    min: 1,
    max: 65_535,
};
const ON_OFF: ParamType = Enum(&["Enabled", "Disabled"]);

const fn p(name: &'static str, kind: ParamType, default: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        prefix: name,
        suffix: "",
        index: Index::None,
        kind,
        default,
        tr069: None,
        aliases: &[],
        spec: "",
        doc: "",
    }
}

/// A line-indexed family; `name` is the pattern with `n`, e.g. `User_ID_n_`.
const fn n(
    name: &'static str,
    prefix: &'static str,
    suffix: &'static str,
    kind: ParamType,
    default: &'static str,
) -> ParamSpec {
    ParamSpec {
        prefix,
        suffix,
        index: Index::Number { max: LINES },
        ..p(name, kind, default)
    }
}

/// A letter-indexed family, e.g. `GPP_[A-P]`.
const fn letters(
    name: &'static str,
    prefix: &'static str,
    first: char,
    last: char,
    kind: ParamType,
    default: &'static str,
) -> ParamSpec {
    ParamSpec {
        prefix,
        index: Index::Letter { first, last },
        ..p(name, kind, default)
    }
}

impl ParamSpec {
    const fn spec(self, spec: &'static str, doc: &'static str) -> Self {
        ParamSpec { spec, doc, ..self }
    }
    const fn tr(self, path: &'static str) -> Self {
        ParamSpec {
            tr069: Some(path),
            ..self
        }
    }
    const fn alias(self, aliases: &'static [&'static str]) -> Self {
        ParamSpec { aliases, ..self }
    }
    const fn max(self, max: u16) -> Self {
        ParamSpec {
            index: Index::Number { max },
            ..self
        }
    }
}

pub(super) static SPECS: &[ParamSpec] = &[
    // --- Provisioning (R-FLOW-5, R-RULE, R-RESULT) ---
    p("Provision_Enable", Bool, "Yes").spec("R-FLOW-5", "Master switch for resyncs."),
    p("Resync_On_Reset", Bool, "Yes").spec("R-FLOW-5", "Resync at power-on."),
    p(
        "Resync_Random_Delay",
        Int {
            min: 0,
            max: 65_535,
        },
        "2",
    )
    .spec(
        "R-RESULT",
        "Random spread (seconds) added before the boot resync.",
    ),
    p("Resync_At__HHmm_", Schedule(ScheduleKind::TimeOfDay), "")
        .spec("R-FLOW-5", "Daily resync time HHmm; empty disables it."),
    p(
        "Resync_At_Random_Delay",
        Int {
            min: 0,
            max: 65_535,
        },
        "600",
    )
    .spec(
        "R-FLOW-5",
        "Random spread (seconds) after Resync_At__HHmm_.",
    ),
    p("Resync_Periodic", Schedule(ScheduleKind::Periodic), "3600").spec(
        "R-RESULT",
        "Seconds between successful resyncs (`N`, `a,b,c`, `N+R`); 0 disables.",
    ),
    p(
        "Resync_Error_Retry_Delay",
        Schedule(ScheduleKind::RetryBackoff),
        "3600",
    )
    .spec(
        "R-RESULT",
        "Seconds before retrying a failed resync, or a backoff list; 0: no retry.",
    ),
    p(
        "Forced_Resync_Delay",
        Int {
            min: 0,
            max: 65_535,
        },
        "14400",
    )
    .spec(
        "R-FLOW-5",
        "Longest wait for the phone to become idle before a resync.",
    ),
    p("Resync_From_SIP", Bool, "Yes").spec("R-RULE-6", "Accept resync requests by SIP NOTIFY."),
    p("Resync_After_Upgrade_Attempt", Bool, "Yes")
        .spec("R-FLOW-3", "Resync after every upgrade attempt."),
    n("Resync_Trigger_n", "Resync_Trigger_", "", String, "")
        .max(2)
        .spec("R-FLOW-5", "Condition that triggers a resync."),
    p("Resync_Fails_On_FNF", Bool, "Yes").spec(
        "R-RESULT",
        "A missing file (404) counts as a failed resync.",
    ),
    p(
        "Profile_Authentication_Type",
        Enum(&[
            "Disabled",
            "Basic Http Authentication",
            "XSI Authentication",
        ]),
        "Disabled",
    )
    .spec(
        "R-HTTP-4",
        "HTTP authentication used for profile downloads.",
    ),
    p("Profile_Rule", Rule, "/$PN.cfg").spec(
        "R-RULE-4",
        "First profile rule. Newer firmware ships `/$PSN.xml` as the factory value instead.",
    ),
    letters("Profile_Rule_[B-D]", "Profile_Rule_", 'B', 'D', Rule, "").spec(
        "R-RULE-3",
        "Further profile rules, evaluated in order after Profile_Rule.",
    ),
    p(
        "DHCP_Option_To_Use",
        DhcpOptions { v6: false },
        "66,160,159,150,60,43,125",
    )
    .spec(
        "R-DHCP-1",
        "DHCP options searched for the provisioning server, in order.",
    ),
    p(
        "DHCPv6_Option_To_Use",
        DhcpOptions { v6: true },
        "17,160,159",
    )
    .spec(
        "R-DHCP-1",
        "DHCPv6 options searched for the provisioning server, in order.",
    ),
    p(
        "Log_Request_Msg",
        Template,
        "$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH",
    )
    .alias(&["Log_Resync_Request_Msg"])
    .spec(
        "R-LOG-2",
        "Syslog message when a resync starts; empty sends nothing.",
    ),
    p(
        "Log_Success_Msg",
        Template,
        "$PN $MAC -- Successful resync $SCHEME://$SERVIP:$PORT$PATH",
    )
    .alias(&["Log_Resync_Success_Msg"])
    .spec("R-LOG-2", "Syslog message after a successful resync."),
    p(
        "Log_Failure_Msg",
        Template,
        "$PN $MAC -- Resync failed: $ERR",
    )
    .alias(&["Log_Resync_Failure_Msg"])
    .spec("R-LOG-2", "Syslog message after a failed resync."),
    p(
        "Log_Upgrade_Request_Msg",
        Template,
        "$PN $MAC -- Requesting upgrade $SCHEME://$SERVIP:$PORT$PATH",
    )
    .spec("R-LOG-2", "Syslog message when an upgrade starts."),
    p(
        "Log_Upgrade_Success_Msg",
        Template,
        "$PN $MAC -- Successful upgrade $SCHEME://$SERVIP:$PORT$PATH",
    )
    .spec("R-LOG-2", "Syslog message after a successful upgrade."),
    p(
        "Log_Upgrade_Failure_Msg",
        Template,
        "$PN $MAC -- Upgrade failed: $ERR",
    )
    .spec("R-LOG-2", "Syslog message after a failed upgrade."),
    p("Upgrade_Enable", Bool, "Yes").spec("R-FLOW-3", "Allow firmware upgrades."),
    p("Upgrade_Error_Retry_Delay", DELAY, "3600")
        .spec("R-SEC-6", "Seconds before retrying a failed upgrade."),
    p("Downgrade_Rev_Limit", String, "").spec(
        "R-FLOW-3",
        "Lowest firmware revision an upgrade rule may install.",
    ),
    p("Upgrade_Rule", Rule, "").spec("R-FLOW-3", "Rule naming the firmware image to install."),
    p("Report_Rule", Rule, "").spec("R-HTTP-2", "Where the phone uploads its status report."),
    p("HTTP_Report_Method", Enum(&["POST", "PUT"]), "POST")
        .spec("R-HTTP-2", "HTTP method used for Report_Rule uploads."),
    p("User_Agent", Template, "").spec(
        "R-HTTP-3",
        "User-Agent override; empty sends `Cisco-<PN>/<firmware> (<MAC>)`.",
    ),
    p("IKM_HTTP_Encrypt_Content", Bool, "No")
        .spec("R-FMT-7", "Encrypt HTTP report content (RFC 8188)."),
    letters("GPP_[A-P]", "GPP_", 'A', 'P', String, "").spec(
        "R-MACRO",
        "General purpose parameters, readable as $A…$P; alias maps live here.",
    ),
    letters("GPP_S[A-D]", "GPP_S", 'A', 'D', String, "").spec(
        "R-MACRO",
        "Secure general purpose parameters (hidden from the UI).",
    ),
    // --- Security (R-SEC) ---
    p("Restricted_Access_Domains", DomainList, "").spec(
        "R-SEC-1",
        "Only these domains may serve profiles, firmware, reports, proxies.",
    ),
    p("TLS_Cipher_List", CipherList, "")
        .tr("Device.X_CISCO_SecuritySettings.TLSCipherList")
        .spec(
            "R-SEC-2",
            "OpenSSL cipher string; blank or invalid uses the default list.",
        ),
    n(
        "TLS_Name_Validate_n_",
        "TLS_Name_Validate_",
        "_",
        Bool,
        "Yes",
    )
    .spec(
        "R-SEC-3",
        "Check the server certificate's SAN/CN against the host.",
    ),
    p("Proxy_Mode", Enum(&["Auto", "Manual", "Off"]), "Off").spec(
        "R-SEC-4",
        "HTTP proxy for provisioning, upgrade and reports.",
    ),
    p("Use_Auto_Discovery__WPAD_", Bool, "Yes")
        .spec("R-SEC-4", "Find the PAC file by WPAD (Proxy_Mode Auto)."),
    p("PAC_URL", Url(&["tftp", "http", "https"]), "")
        .spec("R-SEC-4", "PAC file URL when WPAD is off."),
    p("Proxy_Host", Host { port: false }, "").spec("R-SEC-4", "Manual proxy host (no scheme)."),
    p("Proxy_Port", PORT, "3128").spec("R-SEC-4", "Manual proxy port."),
    p("Proxy_Server_Requires_Authentication", Bool, "No").spec(
        "R-SEC-4",
        "Send Proxy_Username/Proxy_Password to the proxy.",
    ),
    p("Proxy_Username", String, "").spec("R-SEC-4", "Proxy user name."),
    p("Proxy_Password", String, "").spec("R-SEC-4", "Proxy password."),
    p("Firewall", ON_OFF, "Enabled").spec("R-SEC-5", "Built-in firewall."),
    p("Firewall_Config", FirewallConfig, "").spec(
        "R-SEC-5",
        "Firewall options: NO_ICMP_PING, UDP:p[:q], TCP:p[:q], …",
    ),
    n(
        "SIP_Transport_n_",
        "SIP_Transport_",
        "_",
        Enum(&["UDP", "TCP", "TLS", "AUTO"]),
        "UDP",
    )
    .spec("R-SEC-6", "SIP transport of line n."),
    n("Auth_INVITE_n_", "Auth_INVITE_", "_", Bool, "No")
        .spec("R-SEC-6", "Challenge incoming INVITEs on line n."),
    n("MediaSec_Request_n_", "MediaSec_Request_", "_", Bool, "No").spec(
        "R-SEC-6",
        "The phone starts media-plane security negotiation.",
    ),
    n(
        "MediaSec_Over_TLS_Only_n_",
        "MediaSec_Over_TLS_Only_",
        "_",
        Bool,
        "No",
    )
    .spec("R-SEC-6", "Media security only when SIP runs over TLS."),
    p("LDAP_Server", Url(&["ldap", "ldaps"]), "").spec(
        "R-SEC-6",
        "Directory server, `ldaps://host[:636]` or `ldap://host[:port]`.",
    ),
    p("LDAP_StartTLS_Enable", Bool, "No").spec("R-SEC-6", "Upgrade ldap:// with StartTLS."),
    p("VPN_Server", Host { port: false }, "").spec("R-SEC-6", "VPN server IP or FQDN."),
    p("VPN_User_Name", String, "").spec("R-SEC-6", "VPN user name."),
    p("VPN_Password", String, "").spec("R-SEC-6", "VPN password."),
    p("VPN_Tunnel_Group", String, "").spec("R-SEC-6", "VPN tunnel group."),
    p("Connect_on_Bootup", Bool, "No").spec("R-SEC-6", "Connect the VPN after a reboot."),
    p("Enable_802.1X_Authentication", Bool, "No").spec("R-SEC-6", "802.1X port authentication."),
    p("Webex_Onboard_Enable", Bool, "Yes").spec("R-ACT-2", "Allow Webex cloud onboarding."),
    p("Peer_Firmware_Sharing", Bool, "Yes").spec(
        "R-SEC-6",
        "Share firmware images with peer phones on the LAN.",
    ),
    p("Primary_DNS", IpAddr, "").spec("R-SEC-6", "DNS server address."),
    p(
        "Back_Light_Timer",
        Enum(&["1m", "5m", "30m", "Always On"]),
        "5m",
    )
    .spec("R-SEC-6", "Screen backlight timeout."),
    n("Proxy_n_", "Proxy_", "_", Host { port: true }, "")
        .spec("R-SEC-1", "SIP proxy of line n (host[:port])."),
    n("Display_Name_n_", "Display_Name_", "_", String, "")
        .spec("R-SEC-6", "Caller name shown for line n."),
    n("User_ID_n_", "User_ID_", "_", String, "").spec("R-FMT-8", "SIP user of line n."),
    n("Password_n_", "Password_", "_", String, "").spec("R-FMT-8", "SIP password of line n."),
    p("Syslog_Server", Host { port: true }, "").spec(
        "R-LOG-1",
        "Syslog destination host[:port] for resync/upgrade messages.",
    ),
    p("Syslog_Server_IP", Host { port: true }, "").spec(
        "R-LOG-1",
        "Syslog destination (older name used by the seeds' ATA examples).",
    ),
];
