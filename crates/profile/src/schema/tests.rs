//! Schema table and value grammar tests (R-SEC, R-DHCP, R-RESULT, R-TR69-4).

use super::*;

/// Every parameter the issue and SPEC §12 name has an entry.
#[test]
fn every_named_parameter_is_in_the_schema() {
    let names = [
        "Provision_Enable",
        "Resync_On_Reset",
        "Resync_Random_Delay",
        "Resync_At__HHmm_",
        "Resync_At_Random_Delay",
        "Resync_Periodic",
        "Resync_Error_Retry_Delay",
        "Forced_Resync_Delay",
        "Resync_From_SIP",
        "Resync_After_Upgrade_Attempt",
        "Resync_Trigger_1",
        "Resync_Trigger_2",
        "Resync_Fails_On_FNF",
        "Profile_Authentication_Type",
        "Profile_Rule",
        "Profile_Rule_B",
        "Profile_Rule_C",
        "Profile_Rule_D",
        "DHCP_Option_To_Use",
        "DHCPv6_Option_To_Use",
        "Log_Request_Msg",
        "Log_Success_Msg",
        "Log_Failure_Msg",
        "Log_Upgrade_Request_Msg",
        "Log_Upgrade_Success_Msg",
        "Log_Upgrade_Failure_Msg",
        "Upgrade_Enable",
        "Upgrade_Error_Retry_Delay",
        "Downgrade_Rev_Limit",
        "Upgrade_Rule",
        "Report_Rule",
        "HTTP_Report_Method",
        "User_Agent",
        "IKM_HTTP_Encrypt_Content",
        "GPP_A",
        "GPP_P",
        "GPP_SA",
        "GPP_SD",
        "Restricted_Access_Domains",
        "TLS_Cipher_List",
        "TLS_Name_Validate_1_",
        "Proxy_Mode",
        "Use_Auto_Discovery__WPAD_",
        "PAC_URL",
        "Proxy_Host",
        "Proxy_Port",
        "Proxy_Server_Requires_Authentication",
        "Proxy_Username",
        "Proxy_Password",
        "Firewall",
        "Firewall_Config",
        "SIP_Transport_1_",
        "Auth_INVITE_1_",
        "MediaSec_Request_1_",
        "MediaSec_Over_TLS_Only_1_",
        "LDAP_Server",
        "LDAP_StartTLS_Enable",
        "VPN_Server",
        "VPN_User_Name",
        "VPN_Password",
        "VPN_Tunnel_Group",
        "Connect_on_Bootup",
        "Enable_802.1X_Authentication",
        "Webex_Onboard_Enable",
        "Peer_Firmware_Sharing",
        "Primary_DNS",
        "Back_Light_Timer",
        "Proxy_1_",
        "Display_Name_1_",
        "User_ID_1_",
        "Password_1_",
        "Syslog_Server",
        "Syslog_Server_IP",
        "Log_Resync_Request_Msg",
        "Log_Resync_Success_Msg",
        "Log_Resync_Failure_Msg",
    ];
    let missing: Vec<_> = names.iter().filter(|n| lookup(n).is_none()).collect();
    assert!(missing.is_empty(), "not in the schema: {missing:?}");
}

#[test]
fn indexed_names_resolve_to_one_entry() {
    let a = lookup("User_ID_1_").unwrap();
    let b = lookup("User_ID_16_").unwrap();
    assert!(std::ptr::eq(a, b));
    assert_eq!(a.name, "User_ID_n_");
    for bad in [
        "User_ID_0_",
        "User_ID_17_",
        "User_ID_01_",
        "User_ID_1",
        "User_ID__",
        "GPP_Q",
        "GPP_AA",
        "Profile_Rule_A",
        "Profile_Rule_E",
    ] {
        assert!(lookup(bad).is_none(), "{bad} should not resolve");
    }
    assert_eq!(lookup("GPP_SB").unwrap().name, "GPP_S[A-D]");
    assert_eq!(lookup("Profile_Rule_C").unwrap().name, "Profile_Rule_[B-D]");
    assert_eq!(lookup("Resync_Trigger_2").unwrap().name, "Resync_Trigger_n");
    assert!(lookup("Resync_Trigger_3").is_none());
    assert_eq!(lookup("Proxy_Mode").unwrap().name, "Proxy_Mode");
    assert_eq!(lookup("Proxy_2_").unwrap().name, "Proxy_n_");
    assert_eq!(lookup("GPP_A").unwrap().instances().len(), 16);
}

#[test]
fn no_two_entries_claim_the_same_name() {
    for spec in all() {
        for name in spec.instances() {
            let found = lookup(&name).unwrap();
            assert!(
                std::ptr::eq(found, spec),
                "{name} resolves to {} not {}",
                found.name,
                spec.name
            );
        }
    }
}

#[test]
fn defaults_follow_the_spec() {
    let cases = [
        ("Profile_Rule", "/$PN.cfg"),
        ("Resync_Periodic", "3600"),
        ("Resync_Error_Retry_Delay", "3600"),
        ("Resync_Random_Delay", "2"),
        ("Resync_At_Random_Delay", "600"),
        ("Forced_Resync_Delay", "14400"),
        ("Upgrade_Error_Retry_Delay", "3600"),
        ("DHCP_Option_To_Use", "66,160,159,150,60,43,125"),
        ("DHCPv6_Option_To_Use", "17,160,159"),
        (
            "Log_Request_Msg",
            "$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH",
        ),
        (
            "Log_Resync_Success_Msg",
            "$PN $MAC -- Successful resync $SCHEME://$SERVIP:$PORT$PATH",
        ),
        ("Log_Failure_Msg", "$PN $MAC -- Resync failed: $ERR"),
        (
            "Log_Upgrade_Failure_Msg",
            "$PN $MAC -- Upgrade failed: $ERR",
        ),
        ("Proxy_Mode", "Off"),
        ("Use_Auto_Discovery__WPAD_", "Yes"),
        ("Proxy_Port", "3128"),
        ("Proxy_Server_Requires_Authentication", "No"),
        ("Firewall", "Enabled"),
        ("TLS_Name_Validate_3_", "Yes"),
        ("SIP_Transport_1_", "UDP"),
        ("Auth_INVITE_1_", "No"),
        ("MediaSec_Request_1_", "No"),
        ("MediaSec_Over_TLS_Only_1_", "No"),
        ("Connect_on_Bootup", "No"),
        ("Webex_Onboard_Enable", "Yes"),
    ];
    for (name, want) in cases {
        assert_eq!(default_of(name), Some(want), "{name}");
    }
    // Every default is valid for its own type (templates and rules included).
    for spec in all() {
        for name in spec.instances() {
            assert_eq!(
                spec.validate(spec.default_for(&name)),
                Ok(()),
                "default of {name}"
            );
        }
    }
    // "Default: n": a line key's extension is its own number.
    assert_eq!(default_of("Extension_1_"), Some("1"));
    assert_eq!(default_of("Extension_7_"), Some("7"));
}

#[test]
fn aliases_map_to_canonical_names() {
    assert_eq!(
        canonical_name("Log_Resync_Request_Msg").as_deref(),
        Some("Log_Request_Msg")
    );
    assert_eq!(canonical_name("User_ID_2_").as_deref(), Some("User_ID_2_"));
    assert_eq!(canonical_name("Nope"), None);
}

/// R-TR69-4: `Device.X_CISCO_SecuritySettings.TLSCipherList` = `TLS_Cipher_List`.
#[test]
fn r_tr69_4_lookup_by_path() {
    let s = by_tr069_path("Device.X_CISCO_SecuritySettings.TLSCipherList").unwrap();
    assert_eq!(s.name, "TLS_Cipher_List");
    assert_eq!(
        lookup("TLS_Cipher_List").unwrap().tr069,
        Some("Device.X_CISCO_SecuritySettings.TLSCipherList")
    );
    assert!(by_tr069_path("Device.Nope").is_none());
}

fn check(name: &str, value: &str) -> Result<(), &'static str> {
    validate(name, value)
        .expect("known name")
        .map_err(|e| e.code)
}

#[test]
fn booleans_accept_phone_spellings_and_flag_translations() {
    for v in ["Yes", "no", "TRUE", "false", "1", "0"] {
        assert_eq!(check("Auth_INVITE_1_", v), Ok(()), "{v}");
    }
    for v in ["예", "はい", "Oui", "non", "いいえ", "아니요"] {
        assert_eq!(
            check("LDAP_StartTLS_Enable", v),
            Err("localized-bool"),
            "{v}"
        );
    }
    assert_eq!(check("Auth_INVITE_1_", "maybe"), Err("invalid-bool"));
    assert_eq!(check("Auth_INVITE_1_", ""), Err("empty-value"));
    assert_eq!(parse_bool("YES"), Some(true));
    assert_eq!(parse_bool("0"), Some(false));
    assert_eq!(localized_bool("예"), Some(true));
}

#[test]
fn ints_enums_and_addresses() {
    assert_eq!(check("Proxy_Port", "3128"), Ok(()));
    assert_eq!(check("Proxy_Port", "0"), Err("int-range"));
    assert_eq!(check("Proxy_Port", "31x"), Err("invalid-int"));
    assert_eq!(
        check("Profile_Authentication_Type", "Basic Http Authentication"),
        Ok(())
    );
    assert_eq!(
        check("Profile_Authentication_Type", "basic"),
        Err("invalid-enum")
    );
    assert_eq!(check("Back_Light_Timer", "Always On"), Ok(()));
    assert_eq!(check("Primary_DNS", "10.89.68.150"), Ok(()));
    assert_eq!(check("Primary_DNS", "dns.example.com"), Err("invalid-ip"));
    assert_eq!(check("Proxy_Host", "proxy.example.com"), Ok(()));
    assert_eq!(
        check("Proxy_Host", "http://proxy.example.com"),
        Err("invalid-host")
    );
    assert_eq!(check("Syslog_Server", "192.168.1.210:514"), Ok(()));
    assert_eq!(check("Proxy_1_", "sip.example.com:5060"), Ok(()));
    assert_eq!(
        check("PAC_URL", "http://proxy.department.branch.example.com/pac"),
        Ok(())
    );
    assert_eq!(
        check("PAC_URL", "ftp://x.example.com/pac"),
        Err("invalid-url")
    );
    assert_eq!(check("LDAP_Server", "ldaps://10.45.76.79"), Ok(()));
    assert_eq!(check("LDAP_Server", "ldap://dir.example.com:389"), Ok(()));
    assert_eq!(check("LDAP_Server", "dir.example.com"), Err("invalid-url"));
    assert_eq!(
        check("Restricted_Access_Domains", "voiceip.com, voiceipl.com"),
        Ok(())
    );
    assert_eq!(
        check("Restricted_Access_Domains", "voiceip.com,,x"),
        Err("invalid-domain-list")
    );
}

/// R-DHCP-1 option lists.
#[test]
fn dhcp_option_lists() {
    assert_eq!(
        check("DHCP_Option_To_Use", "66,160,159,150,60,43,125"),
        Ok(())
    );
    assert_eq!(check("DHCP_Option_To_Use", "66, 160"), Ok(()));
    assert_eq!(
        check("DHCP_Option_To_Use", "66,300"),
        Err("invalid-dhcp-options")
    );
    assert_eq!(
        check("DHCP_Option_To_Use", "66,66"),
        Err("invalid-dhcp-options")
    );
    assert_eq!(
        check("DHCP_Option_To_Use", "66,"),
        Err("invalid-dhcp-options")
    );
    assert_eq!(check("DHCPv6_Option_To_Use", "17,160,159"), Ok(()));
}

/// R-SEC-5 Firewall_Config grammar.
#[test]
fn r_sec_5_firewall_config() {
    let cfg = parse_firewall_config("NO_ICMP_PING,TCP:12000,UDP:8000:8010").unwrap();
    assert!(cfg.no_icmp_ping && !cfg.no_cisco_tftp);
    assert_eq!(
        cfg.ports,
        vec![
            FirewallRule {
                tcp: true,
                first: 12000,
                last: 12000
            },
            FirewallRule {
                tcp: false,
                first: 8000,
                last: 8010
            }
        ]
    );
    assert_eq!(check("Firewall_Config", "NO_ICMP_PING"), Ok(()));
    assert_eq!(
        check("Firewall_Config", "NO_ICMP_UNREACHABLE, NO_CISCO_TFTP"),
        Ok(())
    );
    assert_eq!(
        check("Firewall_Config", "UDP:1,UDP:2,UDP:3,UDP:4,UDP:5,TCP:1"),
        Ok(())
    );
    for bad in [
        "UDP:1,UDP:2,UDP:3,UDP:4,UDP:5,UDP:6",
        "TCP:0",
        "TCP:9:1",
        "TCP:1:2:3",
        "SCTP:5",
        "no_icmp_ping",
        "NO_ICMP_PING,",
        "UDP:",
    ] {
        assert_eq!(
            check("Firewall_Config", bad),
            Err("invalid-firewall-config"),
            "{bad}"
        );
    }
}

/// R-SEC-2 OpenSSL cipher strings.
#[test]
fn r_sec_2_cipher_list() {
    for ok in [
        "RSA:!aNULL:!eNULL",
        "ECDHE+AESGCM:!MD5",
        "HIGH:@STRENGTH",
        "DEFAULT:@SECLEVEL=2",
        "",
        "-RC4:+AES256-SHA",
    ] {
        assert_eq!(check("TLS_Cipher_List", ok), Ok(()), "{ok}");
    }
    for bad in ["RSA::X", "RSA:!", "a;b", "@SECLEVEL=9", "RSA:"] {
        assert_eq!(
            check("TLS_Cipher_List", bad),
            Err("invalid-cipher-list"),
            "{bad}"
        );
    }
}

#[test]
fn schedules() {
    assert_eq!(parse_periodic("30"), Ok(Periodic::Every(30)));
    assert_eq!(
        parse_periodic("60,120,3600"),
        Ok(Periodic::Sequence(vec![60, 120, 3600]))
    );
    assert_eq!(
        parse_periodic("3600+600"),
        Ok(Periodic::Random {
            base: 3600,
            spread: 600
        })
    );
    assert_eq!(
        parse_retry_schedule("60,120,240,480,86400"),
        Ok(vec![60, 120, 240, 480, 86400])
    );
    assert_eq!(parse_retry_schedule("0"), Ok(vec![0]));
    assert_eq!(check("Resync_Periodic", "1h"), Err("invalid-schedule"));
    assert_eq!(
        check("Resync_Error_Retry_Delay", "60,,120"),
        Err("invalid-schedule")
    );
    assert_eq!(check("Resync_At__HHmm_", "0230"), Ok(()));
    assert_eq!(check("Resync_At__HHmm_", ""), Ok(()));
    assert_eq!(check("Resync_At__HHmm_", "2460"), Err("invalid-schedule"));
}

#[test]
fn rules_are_checked_by_the_rule_crate() {
    assert_eq!(
        check(
            "Profile_Rule",
            "[--key MyOwnSecret ] tftp://192.168.1.200/basic.cfg"
        ),
        Ok(())
    );
    assert_eq!(check("Profile_Rule", "gds://"), Ok(()));
    assert_eq!(check("Profile_Rule_B", ""), Ok(()));
    assert!(check("Profile_Rule", "[--nope] tftp://x.example.com/a").is_err());
}

/// R-TR69-4: every concrete name of every model has one TR-069 path, and
/// that path leads back to the name (the ACS and the CPE share it).
#[test]
fn r_tr69_4_every_name_has_a_path_that_maps_back() {
    let mut total = 0;
    for m in models() {
        let mut seen = HashMap::new();
        for (name, spec) in names_on(m) {
            let path = tr069_path(&name).unwrap_or_else(|| panic!("{name}: no path"));
            assert!(
                path.starts_with("Device.X_CISCO_"),
                "{name}: {path} is not a vendor extension"
            );
            assert_eq!(
                xml_name_of_path(&path).as_deref(),
                Some(name.as_str()),
                "{path}"
            );
            assert!(std::ptr::eq(lookup(&name).unwrap(), spec), "{name}");
            if let Some(other) = seen.insert(path.clone(), name.clone()) {
                panic!("{name} and {other} share {path} on {}", m.pn);
            }
            total += 1;
        }
    }
    assert!(total > 10_000, "{total} names over all models");
    assert_eq!(
        xml_name_of_path("Device.X_CISCO_Profile.G722_2_Enable_1_").as_deref(),
        Some("G722.2_Enable_1_")
    );
    assert_eq!(
        xml_name_of_path("Device.X_CISCO_Profile.User_ID_3_").as_deref(),
        Some("User_ID_3_")
    );
    // Not schema names: unknown, an index past the table, an alias's
    // spelling (its path is the canonical name's), a nested path.
    for p in [
        "Device.X_CISCO_Profile.No_Such",
        "Device.X_CISCO_Profile.User_ID_99_",
        "Device.X_CISCO_Profile.Log_Resync_Request_Msg",
        "Device.X_CISCO_Profile.A.B",
        "Device.X_CISCO_Profile.",
        "Device.DeviceInfo.SoftwareVersion",
    ] {
        assert_eq!(xml_name_of_path(p), None, "{p}");
    }
}
