#!/usr/bin/env python3
"""Generates params.tsv and models.tsv: the parameter schema of the 6800,
7800 and 8800 multiplatform phones (firmware 11.x/12.x).

Run `python3 crates/profile/data/gen_params.py [OUT_DIR]` after editing
(OUT_DIR defaults to this directory); the Rust crate compiles the two TSV files in with
include_str! and a test checks they are what this script writes.

The facts (XML names, value types, allowed values, defaults, `ua`
defaults) come from the phones' administration guides' parameter tables
and the phones' own cfg.xml; no prose is copied. Sections follow the web
UI tabs. Name placeholders:
  {ext}   one per extension (line) of the model  (Line_Enable_{ext}_)
  {key}   one per line key of the model          (Extended_Function_{key}_)
  {ukey}  one per key of an attendant console unit
  {1-16}  a fixed numeric range; {A-P} a fixed letter range
Types: bool | int:MIN-MAX | enum:a|b|c | str | secret str (flag s) |
url:scheme,... | host | hostport | ip | ipv4 | rule | template | dhcp4 |
dhcp6 | domains | firewall | ciphers | periodic | retry | hhmm | tone |
cadence | dialplan | keylist | kv | dst | hex:MAX | decimal:MIN-MAX |
tz | date | clock | codec
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# pn, family, extensions, line keys, attendant console units, keys per unit.
# Key expansion modules (8800 AG 11.3(1)+, KEM chapter): an 8851 takes 2, an
# 8861/8865 3; a unit has 18 keys x 2 pages (single LCD) or 14 x 2 (dual
# LCD), so up to 36 keys. A 6851 takes one unit of 14 keys x 2 pages (6800
# AG 11.3(1)+, KEM chapter).
# Lines: the 88xx desk phones have 5 extensions and 5 line keys (issue 16:
# "a 6821 has 2 lines, an 8851 has 5"; no page of the 8800 MPP guide we
# could reach states the count). Key expansion module keys are separate
# (Unit_n_Key_m_), so every model has as many line keys as extensions.
MODELS = [
    ("CP-6821-3PCC", "6800", 2, 2, 0, 0),
    ("CP-6841-3PCC", "6800", 4, 4, 0, 0),
    ("CP-6851-3PCC", "6800", 4, 4, 1, 28),
    ("CP-6861-3PCC", "6800", 4, 4, 0, 0),
    ("CP-6871-3PCC", "6800", 6, 6, 0, 0),
    ("CP-7811-3PCC", "7800", 1, 1, 0, 0),
    ("CP-7821-3PCC", "7800", 2, 2, 0, 0),
    ("CP-7841-3PCC", "7800", 4, 4, 0, 0),
    ("CP-7861-3PCC", "7800", 16, 16, 0, 0),
    ("CP-7832-3PCC", "7800", 1, 1, 0, 0),
    ("CP-8811-3PCC", "8800", 5, 5, 0, 0),
    ("CP-8841-3PCC", "8800", 5, 5, 0, 0),
    ("CP-8845-3PCC", "8800", 5, 5, 0, 0),
    ("CP-8851-3PCC", "8800", 5, 5, 2, 36),
    ("CP-8861-3PCC", "8800", 5, 5, 3, 36),
    ("CP-8865-3PCC", "8800", 5, 5, 3, 36),
    ("CP-8832-3PCC", "8800", 1, 1, 0, 0),
]

ROWS = []
SECTION = ["System"]


def sec(name):
    SECTION[0] = name


def P(name, kind="str", default="", ua="na", models="all", flags="", since="", tr069="", spec=""):
    ROWS.append((name, SECTION[0], kind, default, ua, flags, models, since, tr069, spec))


def S(name, default="", **kw):
    """A secret string (passwords, keys, PINs)."""
    P(name, kw.pop("kind", "str"), default, flags="s", **kw)


YN = "bool"
EN_DIS = "enum:Enabled|Disabled"
PORT = "int:1-65535"
PORT0 = "int:0-65535"
SECS = "int:0-2147483647"
DSCP = "hex:255"

VIDEO = "8845,8865"
WIFI = "6861,8861,8865"
KEM = "6851,8851,8861,8865"
BT = "8845,8851,8861,8865"
USB = "8851,8861,8865"

# ---------------------------------------------------------------- System
sec("System")
P("Restricted_Access_Domains", "domains", spec="R-SEC-1")
P("Enable_Web_Server", YN, "Yes")
# 6800 RN 12.0(3): Https on port 443 is the factory setting from 12.0(3);
# the defaults here are the 11.x ones.
P("Enable_Protocol", "enum:Http|Https", "Http")
P("Enable_Direct_Action_Url", YN, "Yes")
P("Session_Max_Timeout", "int:60-86400", "3600")
P("Session_Idle_Timeout", "int:60-86400", "3600")
P("Web_Server_Port", PORT, "80")
P("Enable_Web_Admin_Access", YN, "Yes")
S("Admin_Password")
S("User_Password", ua="rw")
P("Phone-UI-readonly", YN, "No")
P("Phone-UI-User-Mode", YN, "No")
P("User_Password_Prompt", YN, "Yes")
P("Display_Password_Warnings", YN, since="12.0(3)")  # 6800 RN 12.0(3)
P("Block_Nonproxy_SIP", YN, "No")
P("Protect_IVR_FactoryReset", YN, "No")
P("Power_Negotiation", YN, "Yes", models="6800,8800")
P("Enable_Power_Save_Mode", YN, "No", models="6800")
P("Signaling_Protocol", "enum:SIP", "SIP")
P("SSH_Access", YN, "No", models="7800,8800")
P("SSH_User_ID", models="7800,8800")
S("SSH_Password", models="7800,8800")
P("Enable_CSRF_Protection", YN, "Yes")
P("Webex_Onboard_Enable", YN, "Yes", spec="R-ACT-2")
P("Webex_Metrics_Service", YN, "No")
P("Metrics_Enable", YN, since="12.0(2)")
P("Peer_Firmware_Sharing", YN, "Yes", spec="R-SEC-6")
P("Peer_Firmware_Sharing_Log_Server", "hostport")
P("Asset_ID")

# ---------------------------------------------------------------- Network
sec("Network")
P("IP_Mode", "enum:IPv4 Only|IPv6 Only|Dual Mode", "Dual Mode")
P("Preferred_IP_Mode", "enum:IPv4|IPv6", "IPv4")
P("Network_Configuration")
# ua from the MPP AG (common 6800/7800/8800) installation chapter's cfg.xml.
P("Connection_Type", "enum:DHCP|Static IP", "DHCP", ua="rw")
P("Static_IP", "ipv4", ua="rw")
P("NetMask", "ipv4", ua="rw")
P("Gateway", "ipv4", ua="rw")
P("Primary_DNS", "ip", spec="R-SEC-6")
P("Secondary_DNS", "ip")
P("IPv6_Connection_Type", "enum:DHCP|Static IP", "DHCP")
P("IPv6_Static_IP", "ip")
P("Prefix_Length", "int:1-128", "1")
P("IPv6_Gateway", "ip")
P("IPv6_Primary_DNS", "ip")
P("IPv6_Secondary_DNS", "ip")
P("Broadcast_Echo", EN_DIS, "Disabled")
P("Auto_Config", EN_DIS, "Enabled")
P("Enable_802.1X_Authentication", YN, "No", ua="rw", spec="R-SEC-6")
P("EAP_Type", "enum:EAP-FAST|PEAP-GTC|PEAP-MSCHAPV2|EAP-TLS", "EAP-FAST")
P("EAP_User_ID")
S("EAP_Password")
P("Host_Name")
P("Domain")
P("DNS_Server_Order", "enum:Manual|Manual,DHCP|DHCP,Manual", "Manual,DHCP")
P("DNS_Query_Mode", "enum:Parallel|Sequential", "Parallel")
P("DNS_Caching_Enable", YN, "Yes")
P("Switch_Port_Config", "enum:AUTO|10 HALF|10 FULL|100 HALF|100 FULL|1000 FULL", "AUTO")
P("PC_Port_Config", "enum:AUTO|10 HALF|10 FULL|100 HALF|100 FULL|1000 FULL", "AUTO")
P("PC_PORT_Enable", YN, "Yes")
P("Enable_PC_Port_Mirror", YN, "No")
P("Syslog_Server", "hostport", spec="R-LOG-1")
P("Syslog_Identifier", "enum:None|$MA|$MAU|$MAC|$SN", "None")
P("Debug_Level", "enum:EMERGENCY|ALERT|CRITICAL|ERROR|WARNING|NOTICE|INFO|DEBUG", "NOTICE")
P("Primary_NTP_Server", "host")
P("Secondary_NTP_Server", "host")
P("Enable_SSLv3", YN, "No")
P("Use_Config_TOS", YN, "No")
# MPP AG (common), VLAN Settings table: VLAN ID 0-4095, startup delay 1-300.
P("Enable_VLAN", YN, "No", ua="rw")
P("VLAN_ID", "int:0-4095", "1", ua="rw")
P("PC_Port_VLAN_ID", "int:0-4095", "1")
P("Enable_CDP", YN, "Yes")
P("Enable_LLDP-MED", YN, "Yes")
P("Network_Startup_Delay", "int:1-300", "3")
P("Disable_DF", YN, "Yes")
P("DHCP_VLAN_Option")  # Null, or 128-149, 151-158, 161-254
# Wi-Fi Settings and Wi-Fi Profile (n) tables, MPP AG (common) installation
# chapter: four profiles; WPS is a 6861 feature.
P("Phone-wifi-on", YN, "Yes", ua="rw", models=WIFI)
P("Phone-wifi-type", "enum:WLAN|WPS", "WLAN", models="6861")
P("Network_Name_{1-4}_", ua="rw", models=WIFI)
P("Security_Mode_{1-4}_", "enum:Auto|EAP-FAST|PEAP-GTC|PEAP-MSCHAPV2|PSK|WEP|None", "PSK", ua="rw", models=WIFI)
P("Wi-Fi_User_ID_{1-4}_", ua="rw", models=WIFI)
S("Wi-Fi_Password_{1-4}_", ua="rw", models=WIFI)
S("WEP_Key_{1-4}_", ua="rw", models=WIFI)
S("PSK_Passphrase_{1-4}_", ua="rw", models=WIFI)
# The guide's example for Frequency Band repeats PSK_Passphrase; the name
# here follows the web field like its neighbours.
P("Frequency_Band_{1-4}_", "enum:Auto|2.4 GHz|5 GHz", "Auto", ua="rw", models=WIFI)
# Older (11.x) Wi-Fi profile names, as the SPA-style WirelessProfileEntry
# group writes them.
P("profileName_{1-4}_", models=WIFI)
P("ssid_{1-4}_", models=WIFI)
P("securityMode_{1-4}_", "enum:None|WEP|PSK|EAP-FAST|PEAP-GTC|PEAP-MSCHAPV2|Auto (PEAP-GTC or PEAP-MSCHAPV2)|EAP-TLS|Disable", "Disable", models=WIFI)
P("cipherType_{1-4}_", models=WIFI)
P("frequencyMode_{1-4}_", "enum:AUTO|2.4 GHz|5 GHz", "AUTO", models=WIFI)
P("eapType_{1-4}_", models=WIFI)
P("identity_{1-4}_", models=WIFI)
S("password_{1-4}_", models=WIFI)
S("passphrase_{1-4}_", models=WIFI)
S("pskKey_{1-4}_", models=WIFI)
S("wepKey_{1-4}_", models=WIFI)
P("wepKeyId_{1-4}_", models=WIFI)
P("wepKeyLen_{1-4}_", models=WIFI)
P("profileEnable_{1-4}_", models=WIFI)
P("profileLock_{1-4}_", models=WIFI)

# ---------------------------------------------------------------- SIP (global)
sec("SIP")
P("Max_Forward", "int:1-255", "70")
P("Max_Redirection", "int:0-255", "5")
P("Max_Auth", "int:0-255", "2")
P("SIP_User_Agent_Name", default="$VERSION")
P("SIP_Server_Name", default="$VERSION")
P("SIP_Reg_User_Agent_Name")
P("SIP_Accept_Language")
P("DTMF_Relay_MIME_Type", default="application/dtmf-relay")
P("Hook_Flash_MIME_Type", default="application/hook-flash")
P("Remove_Last_Reg", YN, "No")
P("Use_Compact_Header", YN, "No")
P("Escape_Display_Name", YN, "Yes")
P("Talk_Package", YN, "No")
P("Hold_Package", YN, "No")
P("Conference_Package", YN, "No")
P("RFC_2543_Call_Hold", YN, "Yes")
P("Random_REG_CID_on_Reboot", YN, "No")
P("SIP_TCP_Port_Min", PORT, "5060")
P("SIP_TCP_Port_Max", PORT, "5080")
P("Caller_ID_Header", "enum:PAID-RPID-FROM|PAID-FROM|RPID-PAID-FROM|RPID-FROM|FROM", "PAID-RPID-FROM")
P("Hold_Target_Before_Refer", YN, "No")
P("Dialog_SDP_Enable", YN, "No")
P("Keep_Referee_When_Refer_Failed", YN, "No")
P("Display_Diversion_Info", YN, "No")
P("Display_Anonymous_From_Header", YN, "No")
P("Sip_Accept_Encoding", "enum:none|gzip", "none")
P("Disable_Local_Name_To_Header", YN, "No")
P("SIP_IP_Preference", "enum:IPv4|IPv6", "IPv4")
P("Disable_Local_Name_In_To_Header", YN, "No")
P("SIP_T1", "decimal:0-64", ".5")
P("SIP_T2", "decimal:0-64", "4")
P("SIP_T4", "decimal:0-64", "5")
P("SIP_Timer_B", "decimal:0-64", "16")
P("SIP_Timer_F", "decimal:0-64", "16")
P("SIP_Timer_H", "decimal:0-64", "16")
P("SIP_Timer_D", "decimal:0-64", "16")
P("SIP_Timer_J", "decimal:0-64", "16")
P("INVITE_Expires", "int:0-2000000", "240")
P("ReINVITE_Expires", "int:0-2000000", "30")
P("Reg_Min_Expires", "int:1-7200", "1")
P("Reg_Max_Expires", "int:1-2000000", "7200")
P("Reg_Retry_Intvl", "int:1-2147483647", "30")
P("Reg_Retry_Long_Intvl", "int:1-2147483647", "1200")
P("Reg_Retry_Random_Delay", SECS, "0")
P("Reg_Retry_Long_Random_Delay", SECS, "0")
P("Reg_Retry_Intvl_Cap", SECS, "0")
P("Sub_Min_Expires", "int:0-2000000", "10")
P("Sub_Max_Expires", "int:0-2000000", "7200")
P("Sub_Retry_Intvl", "int:0-2147483647", "10")
P("SIT1_RSC")
P("SIT2_RSC")
P("SIT3_RSC")
P("SIT4_RSC")
P("Try_Backup_RSC")
P("Retry_Reg_RSC")
P("RTP_Port_Min", "int:2048-49151", "16384")
P("RTP_Port_Max", "int:2048-49151", "16482")
P("RTP_Packet_Size", "decimal:0.01-0.13", "0.020")
P("Max_RTP_ICMP_Err", "int:0-255", "0")
P("RTCP_Tx_Interval", "int:0-255", "0")
P("No_UDP_Checksum", YN, "No")
P("Symmetric_RTP", YN, "No")
P("Stats_In_BYE", YN, "No")
# Auto from 12.0(5) (6800 RN 12.0(5)).
P("SDP_IP_Preference", "enum:IPv4|IPv6|Auto", "IPv4")
P("Preferred_Video_Codec", "enum:H264 BP0|H264 HP", "H264 BP0", models=VIDEO)
P("G722.2_Dynamic_Payload", "int:96-127", "96")
P("iLBC_Dynamic_Payload", "int:96-127", "97")
P("iSAC_Dynamic_Payload", "int:96-127", "98", models="8800")
P("OPUS_Dynamic_Payload", "int:96-127", "99")
P("H264_BP0_Dynamic_Payload", "int:96-127", "110", models=VIDEO)
P("H264_HP_Dynamic_Payload", "int:96-127", "112", models=VIDEO)
P("AVT_Dynamic_Payload", "int:96-127", "101")
P("AVT_16kHz_Dynamic_Payload", "int:96-127", "107")
P("AVT_48kHz_Dynamic_Payload", "int:96-127", "108")
P("INFOREQ_Dynamic_Payload", "int:96-127")
P("G711u_Codec_Name", default="PCMU")
P("G711a_Codec_Name", default="PCMA")
P("G729a_Codec_Name", default="G729a")
P("G729b_Codec_Name", default="G729b")
P("G722_Codec_Name", default="G722")
P("G722.2_Codec_Name", default="G722.2")
P("iLBC_Codec_Name", default="iLBC")
P("iSAC_Codec_Name", default="iSAC", models="8800")
P("OPUS_Codec_Name", default="OPUS")
P("AVT_Codec_Name", default="telephone-event")
P("H264_BP0_Codec_Name", default="H264", models=VIDEO)
P("H264_HP_Codec_Name", default="H264", models=VIDEO)
P("Handle_VIA_received", YN, "No")
P("Handle_VIA_rport", YN, "No")
P("Insert_VIA_received", YN, "No")
P("Insert_VIA_rport", YN, "No")
P("Substitute_VIA_Addr", YN, "No")
P("Send_Resp_To_Src_Port", YN, "No")
P("STUN_Enable", YN, "No")
P("STUN_Test_Enable", YN, "No")
P("STUN_Server", "hostport")
P("EXT_IP", "ip")
P("EXT_RTP_Port_Min", PORT0, "0")
P("NAT_Keep_Alive_Intvl", "int:0-65535", "15")
P("Redirect_Keep_Alive", YN, "No")
P("ICE_Enable", YN, "No")
P("ICE_STUN_Enable", YN, "No", since="11.3(2)")
P("TURN_Enable", YN, "No")
P("TURN_Server", "hostport")
P("TURN_Username")
S("TURN_Password")

# ---------------------------------------------------------------- Provisioning
sec("Provisioning")
P("Provision_Enable", YN, "Yes", spec="R-FLOW-5")
P("Resync_On_Reset", YN, "Yes", spec="R-FLOW-5")
P("Resync_Random_Delay", "int:0-65535", "2", spec="R-RESULT")
P("Resync_At__HHmm_", "hhmm", spec="R-FLOW-5")
P("Resync_At_Random_Delay", "int:0-65535", "600", spec="R-FLOW-5")
P("Resync_Periodic", "periodic", "3600", spec="R-RESULT")
P("Resync_Error_Retry_Delay", "retry", "3600", spec="R-RESULT")
P("Forced_Resync_Delay", "int:0-65535", "14400", spec="R-FLOW-5")
P("Resync_From_SIP", YN, "Yes", spec="R-RULE-6")
P("Resync_After_Upgrade_Attempt", YN, "Yes", spec="R-FLOW-3")
P("Resync_Trigger_{1-2}", spec="R-FLOW-5")
P("Resync_Fails_On_FNF", YN, "Yes", spec="R-RESULT")
P("Profile_Authentication_Type", "enum:Disabled|Basic Http Authentication|XSI Authentication", "Basic Http Authentication", spec="R-HTTP-4")
P("Profile_Rule", "rule", "/$PN.cfg", spec="R-RULE-4")
P("Profile_Rule_{B-D}", "rule", spec="R-RULE-3")
P("DHCP_Option_To_Use", "dhcp4", "66,160,159,150,60,43,125", spec="R-DHCP-1")
P("DHCPv6_Option_To_Use", "dhcp6", "17,160,159", spec="R-DHCP-1")
P("Log_Request_Msg", "template", "$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH", spec="R-LOG-2")
P("Log_Success_Msg", "template", "$PN $MAC -- Successful resync $SCHEME://$SERVIP:$PORT$PATH", spec="R-LOG-2")
P("Log_Failure_Msg", "template", "$PN $MAC -- Resync failed: $ERR", spec="R-LOG-2")
P("User_Configurable_Resync", YN, "Yes")
P("Report_Rule", "rule", spec="R-HTTP-2")
P("HTTP_Report_Method", "enum:POST|PUT", "POST", spec="R-HTTP-2")
# 8800 MPP AG 11.3(1)+, "Third-Party Call Control Setup": `Report_to_Server`,
# 600-259200 s (its example writes `periodic_upload_to_server`: an alias).
P("Report_to_Server", "enum:On Request|On Local Change|Periodically", "On Request")
P("Periodic_Upload_To_Server", "int:600-259200", "3600")
P("Upload_Delay_On_Local_Change", "int:10-900", "60")
P("Custom_CA_Rule", "rule", spec="R-SEC-1")
P("HTTP_User_Agent_Name", default="$VERSION ($MA)")
P("User_Agent", "template", spec="R-HTTP-3")
P("HTTP_Version", "enum:HTTP/1.0|HTTP/1.1", "HTTP/1.1")
P("PRT_Upload_Rule", "rule")
P("PRT_Upload_Method", "enum:POST|PUT", "POST")
P("PRT_Max_Timer", "int:15-1440")
P("PRT_Name")
P("PRT_HTTP_Header")
P("PRT_HTTP_Header_Value")
P("PRT_Upload_at_Crash", YN, since="12.0(2)")
S("IKM_HTTP_Encrypt_Content", spec="R-FMT-7")
P("GPP_{A-P}", spec="R-MACRO")
S("GPP_S{A-D}", spec="R-MACRO")
P("Activation_Code_Enable", YN, "No")
P("Activation_Code_Host")

# ---------------------------------------------------------------- Upgrade
sec("Upgrade")
P("Upgrade_Enable", YN, "Yes", spec="R-FLOW-3")
P("Upgrade_Error_Retry_Delay", SECS, "3600", spec="R-SEC-6")
P("Downgrade_Rev_Limit", spec="R-FLOW-3")
P("Upgrade_Rule", "rule", spec="R-FLOW-3")
P("Log_Upgrade_Request_Msg", "template", "$PN $MAC -- Requesting upgrade $SCHEME://$SERVIP:$PORT$PATH", spec="R-LOG-2")
P("Log_Upgrade_Success_Msg", "template", "$PN $MAC -- Successful upgrade $SCHEME://$SERVIP:$PORT$PATH", spec="R-LOG-2")
P("Log_Upgrade_Failure_Msg", "template", "$PN $MAC -- Upgrade failed: $ERR", spec="R-LOG-2")
P("Peer_Firmware_Sharing_Enable", YN, "No")
P("Cisco_Headset_Upgrade_Rule", "rule")

# ---------------------------------------------------------------- TR-069
sec("TR-069")
P("Enable_TR-069", YN, "No", spec="R-TR69-2")
P("ACS_URL", "url:http,https")
P("ACS_Username")
S("ACS_Password")
P("ACS_URL_In_Use", ua="ro")
P("Connection_Request_Username")
S("Connection_Request_Password")
P("Connection_Request_URL", ua="ro")
P("Periodic_Inform_Interval", SECS, "20")
P("Periodic_Inform_Enable", YN, "Yes")
P("TR-069_Traceability", YN, "No")
P("CWMP_V1.2_Support", YN, "Yes")
P("TR-069_VoiceObject_Init", YN, "Yes")
P("TR-069_DHCPOption_Init", YN, "Yes")
P("TR-069_Fallback_Support", YN, "No")
P("BACKUP_ACS_URL", "url:http,https")
P("BACKUP_ACS_User")
S("BACKUP_ACS_Password")

# ---------------------------------------------------------------- Security
sec("Security")
# Checked against the 7832 MPP AG 11.3(1)+ security chapter (firewall,
# cipher list, name validation, media plane security, 802.1X, HTTP proxy:
# the proxy entries are ua="rw" there).
P("TLS_Cipher_List", "ciphers", tr069="Device.X_CISCO_SecuritySettings.TLSCipherList", spec="R-SEC-2")
P("TLS_Min_Version", "enum:TLS 1.0|TLS 1.1|TLS 1.2|TLS 1.3", "TLS 1.1", since="12.0(2)")
P("TLS_Name_Validate_{ext}_", YN, "Yes", spec="R-SEC-3")
P("Proxy_Mode", "enum:Auto|Manual|Off", "Off", spec="R-SEC-4", ua="rw")
P("Use_Auto_Discovery__WPAD_", YN, "Yes", spec="R-SEC-4", ua="rw")
P("PAC_URL", "url:tftp,http,https", spec="R-SEC-4", ua="rw")
P("Proxy_Host", "host", spec="R-SEC-4", ua="rw")
P("Proxy_Port", PORT, "3128", spec="R-SEC-4", ua="rw")
P("Proxy_Server_Requires_Authentication", YN, "No", spec="R-SEC-4", ua="rw")
P("Proxy_Username", spec="R-SEC-4", ua="rw")
S("Proxy_Password", ua="rw", spec="R-SEC-4")
P("Firewall", EN_DIS, "Enabled", spec="R-SEC-5")
P("Firewall_Config", "firewall", spec="R-SEC-5")
P("VPN_Server", "host", spec="R-SEC-6")
P("VPN_User_Name", spec="R-SEC-6")
S("VPN_Password", spec="R-SEC-6")
P("VPN_Tunnel_Group", spec="R-SEC-6")
P("Connect_on_Bootup", YN, "No", spec="R-SEC-6")
P("Enable_VPN_Connection", YN, "No")
P("Syslog_Server_IP", "hostport", spec="R-LOG-1")

# ---------------------------------------------------------------- Time
sec("Time")
P("Set_Local_Date__mm_dd_yyyy_", "date")
P("Set_Local_Time__HH_mm_", "clock")
P("Time_Zone", "tz", "GMT-08:00")
P("Time_Offset__HH_mm_", "clock")
P("Ignore_DHCP_Time_Offset", YN, "Yes")
P("Daylight_Saving_Time_Rule", "dst", "start=3/-1/7/2;end=10/-1/7/2;save=1")
P("Daylight_Saving_Time_Enable", YN, "Yes")
P("Time_Format", "enum:12hr|24hr", "12hr", ua="rw")
P("Date_Format", "enum:month/day|day/month", "month/day", ua="rw")
P("NTP_Enable", YN, "Yes")

# ---------------------------------------------------------------- Regional
sec("Regional")
TONES = [
    ("Dial_Tone", "350@-19,440@-19;10(*/0/1+2)"),
    ("Outside_Dial_Tone", "420@-16;10(*/0/1)"),
    ("Prompt_Tone", "520@-19,620@-19;10(*/0/1+2)"),
    ("Busy_Tone", "480@-19,620@-19;10(.5/.5/1+2)"),
    ("Reorder_Tone", "480@-19,620@-19;10(.25/.25/1+2)"),
    ("Off_Hook_Warning_Tone", "480@-10,620@0;10(.125/.125/1+2)"),
    ("Ring_Back_Tone", "440@-19,480@-19;*(2/4/1+2)"),
    ("Call_Waiting_Tone", "440@-10;30(.3/9.7/1)"),
    ("Confirm_Tone", "600@-16;1(.25/.25/1)"),
    ("MWI_Dial_Tone", "350@-19,440@-19;2(.1/.1/1+2);10(*/0/1+2)"),
    ("Cfwd_Dial_Tone", "350@-19,440@-19;2(.2/.2/1+2);10(*/0/1+2)"),
    ("Holding_Tone", "600@-19;25(.1/.1/1,.1/.1/1,.1/9.5/1)"),
    ("Conference_Tone", "350@-19;20(.1/.1/1,.1/9.7/1)"),
    ("Secure_Call_Indication_Tone", "397@-19,507@-19;15(0/2/0,.2/.1/1,.1/2.1/2)"),
    ("Page_Tone", "600@-16;.3(.05/0.05/1)"),
    ("Alert_Tone", "600@-19;.2(.05/0.05/1)"),
    ("System_Beep", "600@-16;.1(.05/0.05/1)"),
    ("Call_Pickup_Tone", "440@-10;30(.3/9.7/1)"),
]
for n, d in TONES:
    P(n, "tone", d)
CADENCES = ["60(2/4)", "60(.3/.2,1/.2,.3/4)", "60(.8/.4,.8/4)", "60(.4/.2,.3/.2,.8/4)",
            "60(.2/.2,.2/.2,.2/.2,1/4)", "60(.2/.4,.2/.4,.2/4)", "60(4.5/4)",
            "60(0.25/9.75)", "60(.4/.2,.4/2)"]
for i, d in enumerate(CADENCES, 1):
    P("Cadence_%d" % i, "cadence", d)
P("Reorder_Delay", "int:0-255", "255")
P("Interdigit_Long_Timer", "int:0-64", "10")
P("Interdigit_Short_Timer", "int:0-64", "3")
CODES = [
    ("Call_Return_Code", "*69"), ("Blind_Transfer_Code", "*88"),
    ("Cfwd_All_Act_Code", "*72"), ("Cfwd_All_Deact_Code", "*73"),
    ("Cfwd_Busy_Act_Code", "*90"), ("Cfwd_Busy_Deact_Code", "*91"),
    ("Cfwd_No_Ans_Act_Code", "*92"), ("Cfwd_No_Ans_Deact_Code", "*93"),
    ("CW_Act_Code", "*56"), ("CW_Deact_Code", "*57"),
    ("CW_Per_Call_Act_Code", "*71"), ("CW_Per_Call_Deact_Code", "*70"),
    ("Block_CID_Act_Code", "*67"), ("Block_CID_Deact_Code", "*68"),
    ("Block_CID_Per_Call_Act_Code", "*81"), ("Block_CID_Per_Call_Deact_Code", "*82"),
    ("Block_ANC_Act_Code", "*77"), ("Block_ANC_Deact_Code", "*87"),
    ("DND_Act_Code", "*78"), ("DND_Deact_Code", "*79"),
    ("Secure_All_Call_Act_Code", "*16"), ("Secure_No_Call_Act_Code", "*17"),
    ("Secure_One_Call_Act_Code", "*18"), ("Secure_One_Call_Deact_Code", "*19"),
    ("Paging_Code", "*96"), ("Call_Park_Code", "*38"), ("Call_Pickup_Code", "*36"),
    ("Call_Unpark_Code", "*39"), ("Group_Call_Pickup_Code", "*37"),
    ("Media_Loopback_Code", "*03"),
    ("Referral_Services_Codes", ""), ("Feature_Dial_Services_Codes", ""),
    ("Service_Annc_Base_Number", ""), ("Service_Annc_Extension_Codes", ""),
    ("Prefer_G711u_Code", "*017110"), ("Force_G711u_Code", "*027110"),
    ("Prefer_G711a_Code", "*017111"), ("Force_G711a_Code", "*027111"),
    ("Prefer_G722_Code", "*01722"), ("Force_G722_Code", "*02722"),
    ("Prefer_G722.2_Code", "*01724"), ("Force_G722.2_Code", "*02724"),
    ("Prefer_G729a_Code", "*01729"), ("Force_G729a_Code", "*02729"),
    ("Prefer_iLBC_Code", "*01016"), ("Force_iLBC_Code", "*02016"),
    ("Prefer_ISAC_Code", "*01026"), ("Force_ISAC_Code", "*02026"),
    ("Prefer_OPUS_Code", "*01056"), ("Force_OPUS_Code", "*02056"),
]
for n, d in CODES:
    P(n, default=d)
P("Dictionary_Server_Script")
P("Replace_Unresolved_Caller_Name_with_Number", YN, since="11.3(2)")
P("Language_Selection", default="English-US")
P("Locale", "enum:en-US|en-CA|en-AU|en-GB|fr-FR|fr-CA|es-ES|it-IT|de-DE|nn-NO|pt-PT|nl-NL|sv-SE|pt-BZ|es-MX|en-NZ|da-DK|ru-RU|pl-PL|tr-TR|cs-CZ|hu-HU|fi-FI|sk-SK|bg-BG|hr-HR|ja-JP|ko-KR|zh-CN|zh-HK", "en-US")

# ---------------------------------------------------------------- Phone
sec("Phone")
P("Station_Name")
P("Station_Display_Name")
P("Voice_Mail_Number")
P("Text_Logo")
P("Logo_Type", "enum:Default|Download Picture|Text Logo", "Default")
P("Logo_URL", "url:http,https,tftp")
P("Background_Picture_Type", "enum:Default|Download Picture|Logo", "Default", ua="rw")
P("Picture_Download_URL", "url:http,https,tftp", ua="rw")
P("Wallpaper_Download_URL", "url:http,https,tftp", models="8800")
# 8800 MPP AG 11.3(1)+, "Phone Information and Display Configuration".
P("Boot_Display", "enum:Default|Download Picture|Logo|Text", "Default", models="8800")
P("Text_Display", models="8800")
P("Phone_Background", "enum:Default|Download Picture|Logo", models="8800")
P("Device_Config_Version")  # up to 64 characters
P("Keep_Focus_On_Active_Call", YN, "No")
P("Peripheral_Inventory_Enable", YN)
P("Screen_Saver_Enable", YN, "No", ua="rw")
P("Screen_Saver_Type", "enum:Clock|Download Picture|Logo|Lock", "Clock", ua="rw")
P("Screen_Saver_Wait", "int:1-65535", "300", ua="rw")
P("Screen_Saver_Refresh_Period", "int:0-255", "10", ua="rw")
P("Back_Light_Timer", "enum:1m|5m|30m|Always On", "5m", ua="rw", spec="R-SEC-6")
P("Display_Brightness", "int:4-15", "15", ua="rw", models="7800,8800")
P("Bluetooth_Mode", "enum:Phone|Handsfree|Both", "Phone", models=BT)
P("Line", "int:1-16", "5", models=BT)
P("Line_ID_Mapping", "enum:Horizontal First|Vertical First", "Horizontal First", models="7821,7841,7861,8800")
P("SCA_Barge-In-Enable", YN, "No")
P("SCA_Sticky_Auto_Line_Seize", YN, "No")
# One call per line from 12.0(4) (7800 RN 12.0(4)).
P("Call_Appearances_Per_Line", "int:1-10", "2")
P("Enable_Call_Recording", YN, "No")
P("Record_Method", "enum:SIPINFO|SIPREC", "SIPINFO")
P("Silent_Ring_Duration", "int:1-65535", "60")
P("Ring{1-12}", "kv")
P("EM_Enable", YN, "No")
P("EM_User_Domain")
P("Inactivity_Timer_m_", "int:1-1440", "480")
P("Countdown_Timer_s_", "int:1-60", "10")
P("Preferred_Password_Input_Mode", "enum:Alphanumeric|Numeric", "Alphanumeric")
P("Miss_Call_Shortcut", YN, "No")
P("Enable_Missed_Call_Notification", YN, "Yes")
P("Enable_Voicemail_Notification", YN, "Yes")
P("Hoteling_Subscription_Expires_{ext}_", "int:1-999999", "3600")
# Directory and BroadSoft XSI
P("Directory_Enable", YN, "No")
P("XSI_Host_Server", "host")
P("XSI_Authentication_Type", "enum:Login Credentials|SIP Credentials", "Login Credentials")
P("Login_User_ID")
S("Login_Password")
P("Directory_Name")
P("CallLog_Enable", YN, "No")
P("CallLog_Associated_Line", "int:1-10", "1")
P("Display_Recents_From", "enum:Phone|Server", "Phone")
P("XMPP_Enable", YN, "No")
P("XMPP_Server", "host")
P("XMPP_Port", PORT0)
P("XMPP_User_ID")
S("XMPP_Password")
P("Login_Invisible", YN, "No")
P("XMPP_Retry_Intvl", "int:0-65535", "30")
P("Directory_Type", "enum:Enterprise|Group|Personal|Enterprise Common|Group Common", "Enterprise")
P("Directory_User_ID")
S("Directory_Password")
P("Personal_Directory_Enable", YN, "Yes")
P("Search_All_Directories", YN, "No")
P("Browse_Mode_Enable", YN, since="11.3(2)")
P("Search_All_Enable", YN, since="11.3(2)")
P("Max_Display_Records", since="11.3(2)")
P("Directory_Individual_Mode_Enable", YN, since="11.3(2)")
for d in ["Personal", "Group", "Enterprise", "GroupCommon", "EnterpriseCommon"]:
    P("Directory_%s_Enable" % d, YN, since="11.3(2)")
    P("Directory_%s_Name" % d, since="11.3(2)")
P("LDAP_Dir_Enable", YN, "No")
P("LDAP_Corp_Dir_Name")
P("LDAP_Server", "url:ldap,ldaps", spec="R-SEC-6")
P("LDAP_StartTLS_Enable", YN, "No", since="11.3(2)", spec="R-SEC-6")
P("LDAP_Search_Base")
P("LDAP_Client_DN")
P("LDAP_Username")
S("LDAP_Password")
P("LDAP_Auth_Method", "enum:None|Simple|DIGEST-MD5", "None")
P("LDAP_Last_Name_Filter")
P("LDAP_First_Name_Filter")
P("LDAP_Search_Item_{3-4}")
P("LDAP_Item_{3-4}_Filter")
P("LDAP_Display_Attrs")
P("LDAP_Number_Mapping")
P("LDAP_Server_Port", PORT, "389")
# XML services
P("XML_Directory_Service_Name")
P("XML_Directory_Service_URL", "url:http,https")
P("XML_Application_Service_Name")
P("XML_Application_Service_URL", "url:http,https")
P("XML_User_Name")
S("XML_Password")
P("CISCO_XML_EXE_Enable", YN, "No")
P("CISCO_XML_EXE_Auth_Mode", "enum:Trusted|Local Credential|Remote Credential", "Trusted")
# Paging
P("Group_Paging_Script", "kv", "pggrp=224.168.168.168:34560;name=All;num=800;listen=yes;")
# 11.3(1) and later: one script per paging group (empty by default from 11.3(2)).
P("Group_{1-10}_Paging_Script", "kv", since="11.3(1)")
P("Auto_Answer_Page", YN, "Yes", ua="rw")
# Programmable softkeys
P("Programmable_Softkey_Enable", YN, "No")
KEYLISTS = [
    ("Idle_Key_List", "em_login;acd_login;acd_logout;astate;avail;unavail;redial;recents;cfwd;dnd;lcr;pickup;gpickup;unpark;em_logout;guestin;guestout;"),
    ("Missed_Call_Key_List", "lcr|1;miss|4;"),
    ("Off_Hook_Key_List", "option;redial;cancel;dir;cfwd;dnd;lcr;unpark;pickup;gpickup;"),
    ("Dialing_Input_Key_List", "option|1;call|2;delchar|3;cancel|4;"),
    ("Progressing_Key_List", "endcall|2;"),
    ("Connected_Key_List", "bxfer|1;xfer|2;endcall|3;conf|4;hold;crdstart;crdstop;confLx;xferLx;park;phold;flash;dnd;"),
    ("Start-Xfer_Key_List", "hold|1;endcall|2;xfer|4;crdstart;crdstop;dnd;"),
    ("Start-Conf_Key_List", "hold|1;endcall|2;conf|3;crdstart;crdstop;dnd;"),
    ("Conferencing_Key_List", "hold|1;endcall|2;join|4;crdstart;crdstop;dnd;"),
    ("Releasing_Key_List", "endcall|2;"),
    ("Hold_Key_List", "resume|1;endcall|2;newcall|3;redial;dir;cfwd;dnd;crdstart;crdstop;"),
    ("Ringing_Key_List", "answer|1;ignore|2;"),
    ("Shared_Active_Key_List", "newcall|1;barge|2;bargesilent|3;cfwd|4;dnd|5;crdstart;crdstop;"),
    ("Shared_Held_Key_List", "resume|1;barge|2;cfwd|3;dnd|4;crdstart;crdstop;"),
]
for n, d in KEYLISTS:
    P(n, "keylist", d)
P("PSK_{1-16}", "kv")
# Phone general (feature keys)
P("Conference_Single_Hardkey", YN, "No", models="7800,8800")
P("Peer_Firmware_Sharing_Server", "hostport")
P("Feature_Key_Sync_Server", "host")
P("Handset_Key_Lock", YN, "No")

# ---------------------------------------------------------------- Line Key
sec("Line Key")
P("Extension_{key}_", "enum:1|2|3|4|5|6|7|8|9|10|11|12|13|14|15|16|Disabled", "{n}")
P("Short_Name_{key}_", default="$USER")
P("Share_Call_Appearance_{key}_", "enum:private|shared", "private")
P("Extended_Function_{key}_", "kv")
P("Customizable_PLK_Options", default="sd;")

# ---------------------------------------------------------------- Ext (per line)
sec("Ext")
P("Line_Enable_{ext}_", YN, "Yes")
P("Share_Ext_{ext}_", "enum:private|shared", "private")
P("Shared_User_ID_{ext}_")
P("Subscription_Expires_{ext}_", "int:10-65535", "3600")
P("Restrict_MWI_{ext}_", YN, "No")
P("NAT_Mapping_Enable_{ext}_", YN, "No")
P("NAT_Keep_Alive_Enable_{ext}_", YN, "No")
P("NAT_Keep_Alive_Msg_{ext}_", default="$NOTIFY")
P("NAT_Keep_Alive_Dest_{ext}_", default="$PROXY")
P("SIP_TOS_DiffServ_Value_{ext}_", DSCP, "0x68")
P("RTP_TOS_DiffServ_Value_{ext}_", DSCP, "0xb8")
P("Video_TOS_DiffServ_Value_{ext}_", DSCP, "0x80", models=VIDEO)
P("SIP_Transport_{ext}_", "enum:UDP|TCP|TLS|AUTO", "UDP", spec="R-SEC-6")
P("SIP_Port_{ext}_", PORT, "5060")
P("SIP_100REL_Enable_{ext}_", YN, "No")
P("EXT_SIP_Port_{ext}_", PORT0, "0")
P("Auth_Resync-Reboot_{ext}_", YN, "Yes")
P("SIP_Proxy-Require_{ext}_")
P("SIP_Remote-Party-ID_{ext}_", YN, "Yes")
P("Referor_Bye_Delay_{ext}_", "int:0-65535", "4")
P("Refer-To_Target_Contact_{ext}_", YN, "No")
P("Referee_Bye_Delay_{ext}_", "int:0-65535", "0")
P("Refer_Target_Bye_Delay_{ext}_", "int:0-65535", "0")
P("Sticky_183_{ext}_", YN, "No")
P("Auth_INVITE_{ext}_", YN, "No", spec="R-SEC-6")
P("Ntfy_Refer_On_1xx-To-Inv_{ext}_", YN, "Yes")
P("Set_G729_annexb_{ext}_", "enum:none|no|yes|follow silence supp setting", "yes")
P("Set_iLBC_mode_{ext}_", "enum:20|30", "20")
P("User_Equal_Phone_{ext}_", YN, "No")
P("Call_Recording_Protocol_{ext}_", "enum:SIPINFO|SIPREC", "SIPREC")
P("Privacy_Header_{ext}_", "enum:Disabled|none|header|session|user|id", "Disabled")
P("P-Early-Media_Support_{ext}_", YN, "No")
P("Call_Information_Enable_{ext}_", YN, "No")
P("Disposition_Code_Enable_{ext}_", YN, "No")
P("Trace_Enable_{ext}_", YN, "No")
P("Emergency_Escalation_Enable_{ext}_", YN, "No")
P("Queue_Status_Notification_Enable_{ext}_", YN, "No")
P("Secure_Call_Option_{ext}_", "enum:Optional|Required|Strict", "Optional")
P("Auto_Available_After_Sign-In_{ext}_", YN, since="11.3(2)")
P("Feature_Activation_Code_Sync_{ext}_", YN, since="11.3(2)")
P("Auth_Support_RFC8760_{ext}_", since="12.0(2)")
P("Anywhere_Enable_{ext}_", YN, "Yes")
P("Block_CID_Enable_{ext}_", YN, "No")
P("CFWD_Enable_{ext}_", YN, "No")
P("DND_Enable_{ext}_", YN, "No")
P("H264_BP0_Enable_{ext}_", YN, "Yes", models=VIDEO)
P("H264_BP1_Enable_{ext}_", YN, "Yes", models=VIDEO)
P("H264_HP_Enable_{ext}_", YN, "Yes", models=VIDEO)
# The guide's cfg.xml example spells it `Viedo_`.
P("Video_Encryption_Method_{ext}_", "enum:AES 128|AES 256 GCM", "AES 128", models=VIDEO)
P("Voice_Quality_Report_Address_{ext}_", "hostport")
P("Voice_Quality_Report_Group_{ext}_")  # 7800 MPP AG 11.3(1)+, VQM SIP PUBLISH
P("VQ_Report_Interval_{ext}_", "int:0-65535", "0")
P("MediaSec_Request_{ext}_", YN, "No", spec="R-SEC-6")
P("MediaSec_Over_TLS_Only_{ext}_", YN, "No", spec="R-SEC-6")
P("SIP_Debug_Option_{ext}_", "enum:none|1-line|1-line excl. OPT|1-line excl. NTFY|1-line excl. REG|1-line excl. OPT/NTFY/REG|full|full excl. OPT|full excl. NTFY|full excl. REG|full excl. OPT/NTFY/REG", "none")
P("Blind_Attn-Xfer_Enable_{ext}_", YN, "No")
P("Message_Waiting_{ext}_", YN, "No")
P("Auth_Page_{ext}_", YN, "No")
P("Default_Ring_{ext}_", "enum:No Ring|1|2|3|4|5|6|7|8|9|10|11|12", "1", ua="rw")
P("Auth_Page_Realm_{ext}_")
P("Conference_Bridge_URL_{ext}_")
S("Auth_Page_Password_{ext}_")
P("Mailbox_ID_{ext}_")
P("Voice_Mail_Server_{ext}_", "hostport")
P("Voice_Mail_Subscribe_Interval_{ext}_", "int:10-2147483647", "86400")
P("Broadsoft_ACD_{ext}_", YN, "No")
P("Auto_Ans_Page_On_Active_Call_{ext}_", YN, "Yes")
P("Feature_Key_Sync_{ext}_", YN, "No")
P("Call_Park_Monitor_Enable_{ext}_", YN, "No")
P("Enable_Broadsoft_Hoteling_{ext}_", YN, "No")
P("Enable_XSI_Line_{ext}_", YN, "No")
P("Proxy_{ext}_", "hostport", spec="R-SEC-1")
P("Outbound_Proxy_{ext}_", "hostport")
P("Alternate_Proxy_{ext}_", "hostport")
P("Alternate_Outbound_Proxy_{ext}_", "hostport")
P("Use_OB_Proxy_In_Dialog_{ext}_", YN, "Yes")
P("Register_{ext}_", YN, "Yes")
P("Make_Call_Without_Reg_{ext}_", YN, "No")
P("Register_Expires_{ext}_", "int:32-2000000", "3600")
P("Ans_Call_Without_Reg_{ext}_", YN, "No")
P("Use_DNS_SRV_{ext}_", YN, "No")
P("DNS_SRV_Auto_Prefix_{ext}_", YN, "No")
P("Proxy_Fallback_Intvl_{ext}_", "int:0-65535", "3600")
P("Proxy_Redundancy_Method_{ext}_", "enum:Normal|Based on SRV Port", "Normal")
P("Dual_Registration_{ext}_", YN, "No")
P("Auto_Register_When_Failover_{ext}_", YN, "No")
P("TLS_Name_Validate_Line_{ext}_", YN, "Yes")
P("Display_Name_{ext}_", spec="R-SEC-6")
P("User_ID_{ext}_", spec="R-FMT-8")
S("Password_{ext}_", spec="R-FMT-8")
P("Auth_ID_{ext}_")
P("Reversed_Auth_Realm_{ext}_")
P("SIP_URI_{ext}_")
P("XSI_Host_Server_{ext}_", "host")
P("XSI_Authentication_Type_{ext}_", "enum:Login Credentials|SIP Credentials", "Login Credentials")
P("Login_User_ID_{ext}_")
S("Login_Password_{ext}_")
P("Preferred_Codec_{ext}_", "codec", "G711u")
P("Use_Pref_Codec_Only_{ext}_", YN, "No")
P("Second_Preferred_Codec_{ext}_", "codec", "Unspecified")
P("Third_Preferred_Codec_{ext}_", "codec", "Unspecified")
P("G711u_Enable_{ext}_", YN, "Yes")
P("G711a_Enable_{ext}_", YN, "Yes")
P("G729a_Enable_{ext}_", YN, "Yes")
P("G722_Enable_{ext}_", YN, "Yes")
P("G722.2_Enable_{ext}_", YN, "No")
P("iLBC_Enable_{ext}_", YN, "Yes")
P("iSAC_Enable_{ext}_", YN, "No", models="8800")
P("OPUS_Enable_{ext}_", YN, "Yes")
P("Silence_Supp_Enable_{ext}_", YN, "No")
P("DTMF_Tx_Method_{ext}_", "enum:InBand|AVT|INFO|Auto|InBand+INFO|AVT+INFO", "Auto")
P("Codec_Negotiation_{ext}_", "enum:Default|List All", "Default")
P("Encryption_Method_{ext}_", "enum:AES 128|AES 256 GCM", "AES 128")
P("Video_Enable_{ext}_", YN, "Yes", models=VIDEO)
P("Dial_Plan_{ext}_", "dialplan", "(*xx|[3469]11|0|00|[2-9]xxxxxx|1xxx[2-9]xxxxxxS0|xxxxxxxxxxxx.)")
P("Caller_ID_Map_{ext}_")
P("Enable_URI_Dialing_{ext}_", YN, "No")
P("Emergency_Number_{ext}_")
P("Log_Missed_Calls_for_EXT_{ext}", YN, "Yes")
# E911 geolocation (one set per phone)
P("Company_UUID")
P("Primary_Request_URL", "url:https")
P("Secondary_Request_URL", "url:https")

# ---------------------------------------------------------------- Audio
sec("Audio")
P("Ringer_Volume", "int:0-15", "9", ua="rw")
# 7800 MPP AG 11.3(1)+, Audio Configuration: speaker 11 (8 in the 11.x guide).
P("Speaker_Volume", "int:0-15", "11", ua="rw")
P("Handset_Volume", "int:0-15", "10", ua="rw")
P("Headset_Volume", "int:0-15", "10", ua="rw")
P("Bluetooth_Volume", "int:0-15", "9", ua="rw", models=BT)
P("Ehook_Enable", YN, "No")
P("Electronic_HookSwitch", "enum:Disabled|Plantronics|Jabra", "Disabled")
P("Preferred_Audio_Device", "enum:None|Speaker|Headset|Bluetooth", "None", ua="rw")
P("Handset_Wideband_Enable", YN, "Yes", models="7800,8800")
P("Headset_Wideband_Enable", YN, "Yes", models="7800,8800")
P("Acoustic_Echo_Cancellation", YN, "Yes")
P("Compliant_Standard", "enum:TIA|ETSI", "TIA")

# ---------------------------------------------------------------- Call features
sec("Call Features")
for n in ["Conference_Serv", "Attn_Transfer_Serv", "Blind_Transfer_Serv", "DND_Serv",
          "Block_ANC_Serv", "Block_CID_Serv", "Secure_Call_Serv", "Cfwd_All_Serv",
          "Cfwd_Busy_Serv", "Cfwd_No_Ans_Serv", "Paging_Serv", "Call_Park_Serv",
          "Call_Pick_Up_Serv", "Group_Call_Pick_Up_Serv", "ACD_Login_Serv",
          "Reverse_Phone_Lookup_Serv", "Phone_Lock_Serv"]:
    P(n, YN, "Yes")
P("Call_Recording_Serv", YN, "No")
P("Service_Annc_Serv", YN, "No")
P("Hold_Reminder_Timer", "int:0-65535", "0", ua="rw")
P("Hold_Reminder_Ring", "enum:No Ring|1|2|3|4|5|6|7|8|9|10|11|12", "2", ua="rw")
P("Shared_Line_DND_Cfwd_Enable", YN, "Yes")
P("BXfer_To_Starcode_Enable", YN, "No")
P("BXfer_On_Speed_Dial_Enable", YN, "No")
P("BXfer_To_Remote_Party_Number_Enable", YN, "No")

# ---------------------------------------------------------------- User
sec("User")
P("Cfwd_Setting", YN, "Yes", ua="rw")
P("Cfwd_All_Dest", ua="rw")
P("Cfwd_Busy_Dest", ua="rw")
P("Cfwd_No_Ans_Dest", ua="rw")
P("Cfwd_No_Ans_Delay", "int:0-255", "20", ua="rw")
# The 12.x names of the User tab's Call Forward section (MPP AG, common
# 6800/7800/8800, "Call Features Configuration").
P("Cfwd_All", YN, "No", ua="rw")
P("Cfwd_Busy", YN, "No", ua="rw")
P("Cfwd_No_Answer", YN, "No", ua="rw")
P("Cfwd_No_Answer_Dest", ua="rw")
P("Cfwd_No_Answer_Delay", "int:0-255", "20", ua="rw")
P("Forward_Softkey", "enum:All Cfwds|Only the Cfwd All", "All Cfwds")
P("Auto_Collapse_Into_Line_Key", YN, "No", ua="rw", models="8800")
P("Speed_Dial_{2-9}_Name", ua="rw")
P("Speed_Dial_{2-9}_Number", ua="rw")
P("CW_Setting", YN, "Yes", ua="rw")
P("Block_CID_Setting", YN, "No", ua="rw")
P("Block_ANC_Setting", YN, "No", ua="rw")
P("DND_Setting", YN, "No", ua="rw")
P("Secure_Call_Setting", YN, "No")
P("Handset_LED_Alert", "enum:Voicemail|Voicemail, Missed Call", "Voicemail", ua="rw")
P("Dial_Assistance", YN, "No")
P("Alert_Tone_Off", YN, "No", ua="rw")
P("Softkey_Navigation_Style", "enum:More|Scroll", "More", ua="rw", models="6800,7800")
P("Camera_Profile_{1-4}_Brightness", "int:0-100", "50", models=VIDEO)
P("Self_View_Enable", YN, "Yes", models=VIDEO)
P("Transmit_Resolution", "enum:Auto|1280x720|864x480|640x360|432x240", "Auto", models=VIDEO)
# MPP AG (common), Video Configuration chapter.
P("Camera_Exposure", "int:0-15", "8", models=VIDEO)
sec("Phone")
P("Bandwidth_Allowance", "enum:Auto|2 Mbps|1 Mbps|750 Kbps|500 Kbps|250 Kbps", "Auto", models=VIDEO)
P("Video_Serv", YN, models=VIDEO)  # no default stated
sec("User")

# ---------------------------------------------------------------- Attendant console
sec("Attendant Console")
P("Subscribe_Expires", "int:10-2147483647", "1800")
P("Subscribe_Retry_Interval", "int:1-86400", "30")
P("Number_of_Units", "int:0-3", "0", models=KEM)
P("Unit_1_Key_{ukey}_", "kv", models=KEM)
P("Unit_2_Key_{ukey}_", "kv", models="8851,8861,8865")
P("Unit_3_Key_{ukey}_", "kv", models="8861,8865")
P("Subscribe_Delay", "int:0-255", "1")
P("Server_Type", "enum:Broadsoft|BroadSoft|SPA9000|Asterisk|RFC3265_4235|Sylantro", "Broadsoft")
P("BLF_List_URI")
P("Use_Line_Keys_For_BLF_List", YN, "No")
P("BLF_List", "enum:Show|Hide", "Show")
P("Call_Pickup_Audio_Notification", YN, "No")
P("Attendant_Console_LCD_Brightness", "int:1-15", "12", models="8851,8861,8865")
P("Attendant_Console_LCD_Contrast", "int:4-12", models="6851")
P("BLF_Label_Display_Mode", "enum:Name|Ext|Both", "Name")
P("BLF_Callpark_On_Line_Key_Enable", YN, since="12.0(4)")  # 7800 RN 12.0(4)
P("Attendant_Console_Call_Pickup_Code", default="*98")
P("Attendant_Console_Font_Size", "int:8-16", "10", models=KEM)
P("KEM_Type", "enum:BEKEM|CP-8800-Audio|CP-8800-Video", "CP-8800-Video", models="8851,8861,8865")


def main():
    import sys
    out_dir = sys.argv[1] if len(sys.argv) > 1 else HERE
    models = {m[0][3:7] for m in MODELS}
    fams = {m[1] for m in MODELS}
    seen = set()
    out = ["name\tsection\ttype\tdefault\tua\tflags\tmodels\tsince\ttr069\tspec"]
    for r in ROWS:
        assert "\t" not in "".join(r) and "\n" not in "".join(r), r
        assert r[0] not in seen, "duplicate " + r[0]
        seen.add(r[0])
        if r[6] != "all":
            for m in r[6].split(","):
                assert m in models or m in fams, (r[0], m)
        out.append("\t".join(r))
    with open(os.path.join(out_dir, "params.tsv"), "w") as f:
        f.write("\n".join(out) + "\n")
    with open(os.path.join(out_dir, "models.tsv"), "w") as f:
        f.write("pn\tfamily\text\tkeys\tunits\tunit_keys\n")
        for m in MODELS:
            f.write("\t".join(str(x) for x in m) + "\n")
    print("%d entries" % len(ROWS))


if __name__ == "__main__":
    main()
