//! The simulator against nginx (a server no one here wrote): static and
//! `openssl enc`-encrypted profiles, the R-RESULT table through `return`
//! (301/302 followed, 404 = B, 503 = C), Basic auth via `auth_basic`
//! (R-HTTP-4), HTTPS with `ssl_verify_client on` and per-MAC phone
//! certificates (R-HTTPS-5), `TLS_Name_Validate`, `TLS_Cipher_List`
//! fallback (R-SEC-2/3), `Restricted_Access_Domains` (R-SEC-1), the
//! custom CA (`Custom_CA_Rule` served by nginx, trusted for nginx's
//! HTTPS), the User-Agent (R-HTTP-3) and syslog (R-LOG).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{one_phone, param, Nginx, Pki};
use phoneprov_sim::{run_fleet, ClientCerts};

const BASIC: &str = "<flat-profile>\n  <GPP_A> 12345678\n</GPP_A>\n</flat-profile>\n";

fn nginx_static() -> Nginx {
    let n = Nginx::start(
        "",
        "    location = /r301 { return 301 $scheme://$http_host/basic.xml; }\n\
             location = /r302 { return 302 $scheme://$http_host/basic.xml; }\n\
             location = /r404 { return 404; }\n\
             location = /r503 { return 503; }\n\
             location = /r403 { return 403; }\n\
             location /auth/ { auth_basic \"prov\"; auth_basic_user_file {dir}/htpasswd; }\n",
        |d| common::write_public(&d.join("htpasswd"), b"phone:{PLAIN}s3cret\n"),
    );
    n.write("basic.xml", BASIC.as_bytes());
    n.write("auth/basic.xml", BASIC.as_bytes());
    n
}

#[tokio::test]
async fn r_flow_2_static_profile_sets_gpp_a_and_sends_user_agent() {
    let n = nginx_static();
    let rule = format!("http://127.0.0.1:{}/basic.xml", n.port);
    let r = run_fleet(one_phone(&[("Profile_Rule", &rule)]))
        .await
        .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    assert_eq!(r.once_exit_code(), 0);
    assert!(r.bytes >= BASIC.len() as u64);
    // R-HTTP-3: Cisco-<PN>/<ver> (<MAC>).
    common::wait_log(
        &n.dir.path().join("access.log"),
        "Cisco-CP-8841-3PCC/11.0.1 (000e08000001)",
    );
}

#[tokio::test]
async fn r_fmt_7_openssl_enc_profile_with_key_rule() {
    let n = nginx_static();
    let plain = n.dir.path().join("plain.xml");
    std::fs::write(&plain, BASIC).unwrap();
    let enc = n.dir.path().join("www/basic.cfg");
    let out = Command::new(common::peer("openssl"))
        .args(["enc", "-aes-256-cbc", "-k", "MyOwnSecret", "-in"])
        .arg(&plain)
        .arg("-out")
        .arg(&enc)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::write_public(&enc, &std::fs::read(&enc).unwrap());
    let rule = format!("[--key MyOwnSecret ] http://127.0.0.1:{}/basic.cfg", n.port);
    let r = run_fleet(one_phone(&[("Profile_Rule", &rule)]))
        .await
        .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    // Without the key the body is not a profile: class B (corrupt).
    let rule = format!("http://127.0.0.1:{}/basic.cfg", n.port);
    let r = run_fleet(one_phone(&[("Profile_Rule", &rule)]))
        .await
        .unwrap();
    assert_eq!(r.resyncs.b, 1, "{}", r.to_text());
    assert_eq!(r.once_exit_code(), 1);
}

#[tokio::test]
async fn r_result_table_through_nginx_return() {
    let n = nginx_static();
    for (path, class) in [
        ("r301", 'A'),
        ("r302", 'A'),
        ("r404", 'B'),
        ("r503", 'C'),
        ("r403", 'C'),
    ] {
        let rule = format!("http://127.0.0.1:{}/{path}", n.port);
        let r = run_fleet(one_phone(&[("Profile_Rule", &rule)]))
            .await
            .unwrap();
        let got = (r.resyncs.a, r.resyncs.b, r.resyncs.c);
        let want = match class {
            'A' => (1, 0, 0),
            'B' => (0, 1, 0),
            _ => (0, 0, 1),
        };
        assert_eq!(got, want, "{path}: {}", r.to_text());
        assert_eq!(r.once_exit_code(), (class != 'A') as i32, "{path}");
        if class == 'A' {
            assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"), "{path}");
            assert_eq!(r.fetches, 2, "{path}: one request per hop");
        }
    }
}

#[tokio::test]
async fn r_http_4_basic_auth_answered_by_the_engine() {
    let n = nginx_static();
    let ok = format!(
        "[--uid phone --pwd s3cret] http://127.0.0.1:{}/auth/basic.xml",
        n.port
    );
    let r = run_fleet(one_phone(&[("Profile_Rule", &ok)]))
        .await
        .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    let bad = format!(
        "[--uid phone --pwd wrong] http://127.0.0.1:{}/auth/basic.xml",
        n.port
    );
    let r = run_fleet(one_phone(&[("Profile_Rule", &bad)]))
        .await
        .unwrap();
    assert_eq!(
        r.resyncs.c,
        1,
        "401 answered twice, then C: {}",
        r.to_text()
    );
}

/// R-HTTP-4 / issue 15 item 4: `Profile_Authentication_Type` picks the
/// credentials that answer nginx's `auth_basic` when the rule carries no
/// `--uid`: `XSI Authentication` with `Login_User_ID`/`Login_Password`, or
/// with line 1's SIP credentials (`XSI_Authentication_Type=SIP
/// Credentials`); `Disabled` answers nothing (class C, one request).
#[tokio::test]
async fn r_http_4_profile_authentication_type_against_nginx_basic_auth() {
    let n = nginx_static();
    let rule = format!("http://127.0.0.1:{}/auth/basic.xml", n.port);
    let run = |extra: &[(&str, &str)]| {
        let mut p = vec![("Profile_Rule", rule.as_str())];
        p.extend_from_slice(extra);
        run_fleet(one_phone(&p))
    };
    let xsi_login = [
        ("Profile_Authentication_Type", "XSI Authentication"),
        ("Login_User_ID", "phone"),
        ("Login_Password", "s3cret"),
    ];
    let r = run(&xsi_login).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    let xsi_sip = [
        ("Profile_Authentication_Type", "XSI Authentication"),
        ("XSI_Authentication_Type", "SIP Credentials"),
        ("User_ID_1_", "1001"),
        ("Auth_ID_1_", "phone"),
        ("Password_1_", "s3cret"),
    ];
    let r = run(&xsi_sip).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    // The same account with the type Disabled: the 401 is not answered.
    let disabled = [
        ("Profile_Authentication_Type", "Disabled"),
        ("Login_User_ID", "phone"),
        ("Login_Password", "s3cret"),
    ];
    let r = run(&disabled).await.unwrap();
    assert_eq!((r.resyncs.c, r.fetches), (1, 1), "{}", r.to_text());
    // Wrong XSI password: answered, refused by nginx, class C.
    let wrong = [
        ("Profile_Authentication_Type", "XSI Authentication"),
        ("Login_User_ID", "phone"),
        ("Login_Password", "nope"),
    ];
    let r = run(&wrong).await.unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());
    let (ok, log) = by_user(&n, "200");
    assert_eq!(ok, 2, "nginx accepted the two XSI accounts: {log}");
    let (refused, log) = by_user(&n, "401");
    assert_eq!(refused, 2, "and refused the wrong password twice: {log}");
}

/// R-HTTP-4: with `Profile_Authentication_Type` at its default (`Basic
/// Http Authentication`) the profile account the user entered
/// (`--profile-account`, `SimConfig::profile_account`) answers nginx's
/// `auth_basic` for a rule without `--uid`; without an account the 401 is
/// not answered (class C, one request); a wrong account is refused.
#[tokio::test]
async fn r_http_4_the_profile_account_answers_basic_auth() {
    let n = nginx_static();
    let rule = format!("http://127.0.0.1:{}/auth/basic.xml", n.port);
    let run = |account: Option<(&str, &str)>| {
        let mut cfg = one_phone(&[("Profile_Rule", rule.as_str())]);
        cfg.profile_account = account.map(|(u, p)| phoneprov_phone::Credentials::new(u, p));
        run_fleet(cfg)
    };
    let r = run(Some(("phone", "s3cret"))).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    let r = run(None).await.unwrap();
    assert_eq!((r.resyncs.c, r.fetches), (1, 1), "{}", r.to_text());
    let r = run(Some(("phone", "nope"))).await.unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());
    let (ok, log) = by_user(&n, "200");
    assert_eq!(ok, 1, "nginx accepted the account: {log}");
    // The engine answers a challenge twice before it gives up (as with
    // XSI above).
    let (refused, log) = by_user(&n, "401");
    assert_eq!(refused, 2, "and refused the wrong password twice: {log}");
}

/// Lines of nginx's access log by user `phone` answered `code`, and the log.
fn by_user(n: &Nginx, code: &str) -> (usize, String) {
    let log = std::fs::read_to_string(n.dir.path().join("access.log")).unwrap_or_default();
    let count = log
        .lines()
        .filter(|l| l.contains(" - phone [") && l.contains(&format!("\" {code} ")))
        .count();
    (count, log)
}

fn nginx_mtls(pki: &Pki) -> Nginx {
    let body = format!(
        "    ssl_certificate {s};\n    ssl_certificate_key {k};\n\
         ssl_client_certificate {ca};\n    ssl_verify_client on;\n\
         location = /gppd.xml {{ return 200 \"<flat-profile><GPP_D>$ssl_client_s_dn</GPP_D></flat-profile>\"; }}\n",
        s = pki.path("server.pem").display(),
        k = pki.path("server.key").display(),
        ca = pki.path("ca.pem").display(),
    );
    let n = Nginx::start("ssl", &body, |_| {});
    n.write("basic.xml", BASIC.as_bytes());
    n
}

#[tokio::test]
async fn r_https_5_mutual_tls_with_per_mac_certificates() {
    let pki = Pki::new(&["localhost", "127.0.0.1"], &[("000e08000001", "SN000001")]);
    let n = nginx_mtls(&pki);
    let ca = std::fs::read(pki.path("ca.pem")).unwrap();
    let rule = format!("https://127.0.0.1:{}/gppd.xml", n.port);
    let mut cfg = one_phone(&[("Profile_Rule", &rule)]);
    cfg.trust_pem = Some(ca.clone());
    cfg.client_certs = ClientCerts::Dir(pki.path("phones"));
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    // SPEC §13: the server saw OU=PN, L=SN, S=MAC (nginx prints ST=).
    let dn = param(&r, "GPP_D").unwrap();
    assert!(dn.contains("OU=CP-8841-3PCC"), "{dn}");
    assert!(dn.contains("L=SN000001"), "{dn}");
    assert!(dn.contains("ST=000e08000001"), "{dn}");

    // No client certificate: nginx refuses (400), class C.
    let mut cfg = one_phone(&[("Profile_Rule", &rule)]);
    cfg.trust_pem = Some(ca.clone());
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());

    // Untrusted server (no --ca: public roots): class C.
    let mut cfg = one_phone(&[("Profile_Rule", &rule)]);
    cfg.client_certs = ClientCerts::Dir(pki.path("phones"));
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());
}

#[tokio::test]
async fn r_sec_2_3_name_validation_and_cipher_list_fallback() {
    // The certificate names only `prov.example`; the rule uses 127.0.0.1.
    let pki = Pki::new(&["prov.example"], &[("000e08000001", "SN000001")]);
    let n = nginx_mtls(&pki);
    let ca = std::fs::read(pki.path("ca.pem")).unwrap();
    let rule = format!("https://127.0.0.1:{}/basic.xml", n.port);
    let run = |extra: Vec<(&'static str, &'static str)>| {
        let mut p = vec![("Profile_Rule", rule.as_str())];
        p.extend(extra);
        let mut cfg = one_phone(&p);
        cfg.trust_pem = Some(ca.clone());
        cfg.client_certs = ClientCerts::Dir(pki.path("phones"));
        run_fleet(cfg)
    };
    let r = run(vec![]).await.unwrap();
    assert_eq!(r.resyncs.c, 1, "name mismatch is refused: {}", r.to_text());
    // R-SEC-3 decision: no parameter turns host-name validation off for
    // HTTPS provisioning (a bare `TLS_Name_Validate`, or line 1's).
    let r = run(vec![
        ("TLS_Name_Validate", "No"),
        ("TLS_Name_Validate_1_", "No"),
    ])
    .await
    .unwrap();
    assert_eq!(r.resyncs.c, 1, "still refused: {}", r.to_text());
    assert!(
        r.to_text().contains("not valid for name"),
        "the error names the cause: {}",
        r.to_text()
    );

    // R-SEC-2: a list rustls cannot offer falls back to the default list.
    let pki = Pki::new(&["127.0.0.1"], &[("000e08000001", "SN000001")]);
    let n = nginx_mtls(&pki);
    let ca = std::fs::read(pki.path("ca.pem")).unwrap();
    let rule = format!("https://127.0.0.1:{}/basic.xml", n.port);
    for list in ["RSA:!aNULL:!eNULL", "%%garbage"] {
        let mut cfg = one_phone(&[("Profile_Rule", &rule), ("TLS_Cipher_List", list)]);
        cfg.trust_pem = Some(ca.clone());
        cfg.client_certs = ClientCerts::Dir(pki.path("phones"));
        let r = run_fleet(cfg).await.unwrap();
        assert_eq!(r.resyncs.a, 1, "{list}: {}", r.to_text());
    }
}

/// Issue 15 item 4: `Custom_CA_Rule` fetched from nginx over HTTP makes
/// nginx's HTTPS (a certificate of a CA the fleet does not trust) usable;
/// a file that is not a certificate is a status line and the phone keeps
/// resyncing.
#[tokio::test]
async fn r_sec_custom_ca_rule_is_a_trust_anchor_for_https() {
    // The custom CA signs nginx's certificate; the fleet trusts another CA.
    let custom = Pki::new(&["127.0.0.1"], &[]);
    let fleet_ca = Pki::new(&["prov.example"], &[]);
    let body = format!(
        "    ssl_certificate {s};\n    ssl_certificate_key {k};\n",
        s = custom.path("server.pem").display(),
        k = custom.path("server.key").display(),
    );
    let https = Nginx::start("ssl", &body, |_| {});
    https.write("basic.xml", BASIC.as_bytes());
    let plain = nginx_static();
    plain.write("ca.pem", custom.ca.cert_pem().as_bytes());
    plain.write("not-a-ca.pem", b"<html>maintenance page</html>");
    let https_rule = format!("https://127.0.0.1:{}/basic.xml", https.port);
    let ca_rule = format!("http://127.0.0.1:{}/ca.pem", plain.port);
    let run = |params: Vec<(&str, String)>| {
        let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut cfg = one_phone(&p);
        cfg.trust_pem = Some(fleet_ca.ca.cert_pem().as_bytes().to_vec());
        run_fleet(cfg)
    };

    // Without the rule: unknown issuer, class C.
    let r = run(vec![("Profile_Rule", https_rule.clone())])
        .await
        .unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());

    // With it: the CA is fetched first, the HTTPS resync succeeds.
    let r = run(vec![
        ("Profile_Rule", https_rule.clone()),
        ("Custom_CA_Rule", ca_rule.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    let st = &r.status.as_ref().unwrap()["custom_ca"];
    assert_eq!(st["info"], "Installed: phoneprov sim test CA", "{st}");
    assert!(st["provisioning_status"]
        .as_str()
        .unwrap()
        .starts_with("Last provisioning succeeded at "));
    common::wait_log(&plain.dir.path().join("access.log"), "GET /ca.pem");

    // Not a certificate: a clear status line, nothing installed, and the
    // phone keeps working (its HTTP resync succeeds).
    let http_rule = format!("http://127.0.0.1:{}/basic.xml", plain.port);
    let bad = format!("http://127.0.0.1:{}/not-a-ca.pem", plain.port);
    let r = run(vec![("Profile_Rule", http_rule), ("Custom_CA_Rule", bad)])
        .await
        .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    let st = &r.status.as_ref().unwrap()["custom_ca"];
    assert_eq!(st["info"], "Not Installed", "{st}");
    assert!(
        st["error"]
            .as_str()
            .unwrap()
            .contains("is not a certificate file"),
        "{st}"
    );
}

/// Issue 15 item 4: the custom CA is a trust anchor for the firmware
/// upgrade too, and host-name validation stays on there whatever
/// `TLS_Name_Validate` says (R-SEC-3): nginx serves the image over HTTPS
/// with a certificate of a CA the fleet does not trust.
#[tokio::test]
async fn r_sec_custom_ca_rule_is_a_trust_anchor_for_the_upgrade() {
    let custom = Pki::new(&["127.0.0.1"], &[]);
    let fleet_ca = Pki::new(&["prov.example"], &[]);
    let https = custom.nginx_https();
    https.write("sip88xx.12-0-1MPP.loads", b"firmware image");
    let plain = nginx_static();
    plain.write("ca.pem", custom.ca.cert_pem().as_bytes());
    let profile_rule = format!("http://127.0.0.1:{}/basic.xml", plain.port);
    let image = format!("https://127.0.0.1:{}/sip88xx.12-0-1MPP.loads", https.port);
    let ca_rule = format!("http://127.0.0.1:{}/ca.pem", plain.port);
    let run = |extra: Vec<(&'static str, String)>| {
        let mut p = vec![
            ("Profile_Rule", profile_rule.clone()),
            ("Upgrade_Rule", image.clone()),
            ("TLS_Name_Validate", "No".to_string()),
        ];
        p.extend(extra);
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut cfg = one_phone(&p);
        cfg.trust_pem = Some(fleet_ca.ca.cert_pem().as_bytes().to_vec());
        run_fleet(cfg)
    };

    // Without the custom CA: the image's server is not trusted.
    let r = run(vec![]).await.unwrap();
    assert_eq!(
        (r.upgrades_ok, r.upgrades_failed),
        (0, 1),
        "{}",
        r.to_text()
    );
    let st = r.status.as_ref().unwrap();
    assert_eq!(st["swver"], "11.0.1", "{st}");
    assert!(
        !std::fs::read_to_string(https.dir.path().join("access.log"))
            .unwrap_or_default()
            .contains(".loads")
    );

    // With it: the image is fetched over HTTPS and installed.
    let r = run(vec![("Custom_CA_Rule", ca_rule.clone())])
        .await
        .unwrap();
    assert_eq!(
        (r.upgrades_ok, r.upgrades_failed),
        (1, 0),
        "{}",
        r.to_text()
    );
    let st = r.status.as_ref().unwrap();
    assert_ne!(st["swver"], "11.0.1", "{st}");
    common::wait_log(
        &https.dir.path().join("access.log"),
        "GET /sip88xx.12-0-1MPP.loads",
    );

    // The custom CA, but an image host its certificate does not name
    // (`localhost`): refused although TLS_Name_Validate is No.
    let by_name = format!("https://localhost:{}/sip88xx.12-0-1MPP.loads", https.port);
    let r = run(vec![("Custom_CA_Rule", ca_rule), ("Upgrade_Rule", by_name)])
        .await
        .unwrap();
    assert_eq!(
        (r.upgrades_ok, r.upgrades_failed),
        (0, 1),
        "{}",
        r.to_text()
    );
    let err = r.status.as_ref().unwrap()["last_upgrade"]["error"].to_string();
    assert!(err.contains("not valid for name"), "{err}");
}

#[tokio::test]
async fn r_sec_1_restricted_domains_refuse_before_any_request() {
    let n = nginx_static();
    let rule = format!("http://127.0.0.1:{}/basic.xml", n.port);
    let r = run_fleet(one_phone(&[
        ("Profile_Rule", &rule),
        ("Restricted_Access_Domains", "prov.example"),
    ]))
    .await
    .unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());
    assert_eq!(r.fetches, 0);
    let log = std::fs::read_to_string(n.dir.path().join("access.log")).unwrap_or_default();
    assert!(!log.contains("basic.xml"), "{log}");
}

#[tokio::test]
async fn r_log_syslog_lines_reach_a_udp_socket() {
    let n = nginx_static();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = sock.local_addr().unwrap().to_string();
    let rule = format!("http://127.0.0.1:{}/basic.xml", n.port);
    let r = run_fleet(one_phone(&[
        ("Profile_Rule", &rule),
        ("Syslog_Server", &server),
        ("Log_Resync_Request_Msg", ""),
        (
            "Log_Resync_Success_Msg",
            "$PN $MA -- Successful resync $SCHEME://$SERVIP:$PORT$PATH",
        ),
    ]))
    .await
    .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    let mut buf = vec![0u8; 2048];
    let len = tokio::time::timeout(Duration::from_secs(5), sock.recv(&mut buf))
        .await
        .expect("a syslog datagram within 5 s")
        .unwrap();
    let msg = String::from_utf8_lossy(&buf[..len]).to_string();
    let want = format!(
        "CP-8841-3PCC 000e08000001 -- Successful resync http://127.0.0.1:{}/basic.xml",
        n.port
    );
    assert!(msg.ends_with(&want), "{msg:?} should end with {want:?}");
    assert!(msg.starts_with('<'), "RFC 3164 PRI: {msg:?}");
}
