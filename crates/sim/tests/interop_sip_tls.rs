//! SIP over TLS from the simulated phone (R-SEC-3, R-SEC-6): line 1 with
//! `SIP_Transport_1_ = TLS` registers with `Proxy_1_`, and
//! `TLS_Name_Validate_1_` decides whether the proxy's certificate must
//! name it. Real peers: Debian's `sipp` has no TLS (`sipp -t l1`: "To use
//! a TLS transport you must compile SIPp with OpenSSL"), so `stunnel4`
//! terminates TLS with a server certificate for `localhost` and hands the
//! stream to a `sipp` UAS over TCP that answers REGISTER with 200.
//!
//! A second registrar challenges with Digest and sipp verifies the
//! answer made from `Auth_ID_1_`/`Password_1_`.
//!
//! Cases: `localhost` (the certificate's name) → registered; `127.0.0.1`
//! (not in the certificate) with validation on → refused, a `tls error`
//! status line naming the setting; the same with validation off →
//! registered; the chain is still checked: without the test CA (`--ca`)
//! the same phone is refused (unknown issuer).
//!
//! A proxy that requires a client certificate (stunnel `verifyChain`,
//! `requireCert`, the fleet CA): the phone with its unique certificate
//! (`--client-certs`, R-HTTPS-5) registers and stunnel logs the
//! certificate it accepted; a phone without one → `tls error`
//! (`CertificateRequired`, the proxy requires a client certificate).

mod common;

use common::{register_digest, register_uas, sipp_uas, stunnel, stunnel_log, Guard, Pki, SippUas};
use phoneprov_sim::config::ClientCerts;
use phoneprov_sim::run_fleet;

/// sipp as a REGISTER UAS over TCP (the shared scenarios of
/// `phoneprov-testpeers`), and stunnel in front of it over TLS; the TLS
/// port.
struct Registrar {
    _stunnel: Guard,
    _sipp: SippUas,
    port: u16,
}

fn registrar(pki: &Pki, scenario: &str) -> Registrar {
    let sipp = sipp_uas("t1", scenario);
    let (guard, port) = stunnel(
        sipp.dir(),
        &pki.path("server.pem"),
        &pki.path("server.key"),
        sipp.port,
        "",
    );
    Registrar {
        _stunnel: guard,
        _sipp: sipp,
        port,
    }
}

/// Runs one phone whose line 1 registers with `proxy` over TLS; its
/// status object for line 1.
async fn line1(pki: Option<&Pki>, proxy: &str, validate: &str) -> serde_json::Value {
    line1_with(pki, proxy, validate, &[]).await
}

async fn line1_with(
    pki: Option<&Pki>,
    proxy: &str,
    validate: &str,
    extra: &[(&str, &str)],
) -> serde_json::Value {
    line1_of(phone_cfg(pki, proxy, validate, extra)).await
}

/// The configuration of one phone whose line 1 registers with `proxy`
/// over TLS.
fn phone_cfg(
    pki: Option<&Pki>,
    proxy: &str,
    validate: &str,
    extra: &[(&str, &str)],
) -> phoneprov_sim::SimConfig {
    let mut params = vec![
        ("Provision_Enable", "No"),
        ("SIP_Transport_1_", "TLS"),
        ("Proxy_1_", proxy),
        ("User_ID_1_", "1001"),
        ("TLS_Name_Validate_1_", validate),
    ];
    params.extend_from_slice(extra);
    let mut cfg = common::one_phone(&params);
    // Without the test CA the phone trusts only the built-in roots.
    cfg.trust_pem = pki.map(|p| std::fs::read(p.path("ca.pem")).unwrap());
    cfg
}

/// Runs the phone; its status object for line 1.
async fn line1_of(cfg: phoneprov_sim::SimConfig) -> serde_json::Value {
    let report = run_fleet(cfg).await.unwrap();
    let status = report.status.expect("a one-phone fleet keeps its status");
    status["sip"]["lines"][0].clone()
}

#[tokio::test]
async fn r_sec_3_register_over_tls_follows_tls_name_validate() {
    let pki = Pki::new(&["localhost"], &[]);
    let reg = registrar(&pki, &register_uas(0));
    let port = reg.port;

    let ok = line1(Some(&pki), &format!("localhost:{port}"), "Yes").await;
    assert_eq!(ok["state"], "registered", "{ok}");
    assert_eq!(ok["transport"], "TLS");
    assert_eq!(ok["name_validate"], true);

    let refused = line1(Some(&pki), &format!("127.0.0.1:{port}"), "Yes").await;
    assert_eq!(refused["state"], "tls error", "{refused}");
    let why = refused["detail"].as_str().unwrap();
    assert!(why.contains("not valid for name \"127.0.0.1\""), "{why}");
    assert!(why.contains("TLS_Name_Validate_1_ is Yes"), "{why}");

    let unchecked = line1(Some(&pki), &format!("127.0.0.1:{port}"), "No").await;
    assert_eq!(unchecked["state"], "registered", "{unchecked}");
    assert_eq!(unchecked["name_validate"], false);
    assert_eq!(unchecked["registrations"], 1);

    // Validation off still checks the chain: an unknown CA is refused.
    let untrusted = line1(None, &format!("localhost:{port}"), "No").await;
    assert_eq!(untrusted["state"], "tls error", "{untrusted}");
    let why = untrusted["detail"].as_str().unwrap();
    assert!(
        why.contains("UnknownIssuer") || why.contains("unknown issuer"),
        "{why}"
    );
}

/// The registrar challenges (401, Digest MD5) and sipp checks the answer
/// (`verifyauth` with `Auth_ID_1_`/`Password_1_`): 200, else 403.
#[tokio::test]
async fn r_sec_3_register_over_tls_answers_the_digest_challenge() {
    let pki = Pki::new(&["localhost"], &[]);
    let reg = registrar(&pki, &register_digest());
    let proxy = format!("localhost:{}", reg.port);
    let creds = [("Auth_ID_1_", "auth1001"), ("Password_1_", "s3cret")];
    let ok = line1_with(Some(&pki), &proxy, "Yes", &creds).await;
    assert_eq!(
        ok["state"], "registered",
        "sipp verified the Digest answer: {ok}"
    );

    let wrong = [("Auth_ID_1_", "auth1001"), ("Password_1_", "wrong")];
    let refused = line1_with(Some(&pki), &proxy, "Yes", &wrong).await;
    assert_eq!(refused["state"], "failed", "{refused}");
    assert_eq!(refused["detail"], "403 Forbidden");
}

/// R-HTTPS-5 on SIP: a proxy that requires a client certificate (stunnel
/// with `verifyChain`/`requireCert` and the fleet CA) accepts the phone
/// that has its unique certificate (`--client-certs DIR`, as for HTTPS)
/// and refuses one without: `tls error` saying a certificate is required.
#[tokio::test]
async fn r_https_5_sip_over_tls_presents_the_phones_client_certificate() {
    let pki = Pki::new(&["localhost"], &[("000e08000001", "SN0001")]);
    let sipp = sipp_uas("t1", &register_uas(0));
    let require = format!(
        "verifyChain = yes\nrequireCert = yes\nCAfile = {}\n",
        pki.path("ca.pem").display()
    );
    let (_stunnel, port) = stunnel(
        sipp.dir(),
        &pki.path("server.pem"),
        &pki.path("server.key"),
        sipp.port,
        &require,
    );
    let proxy = format!("localhost:{port}");

    let mut cfg = phone_cfg(Some(&pki), &proxy, "Yes", &[]);
    cfg.client_certs = ClientCerts::Dir(pki.path("phones"));
    let ok = line1_of(cfg).await;
    assert_eq!(ok["state"], "registered", "{ok}");
    let log = common::wait_log(&stunnel_log(sipp.dir(), port), "Certificate accepted");
    assert!(
        log.contains("000e08000001"),
        "stunnel saw the phone's certificate:\n{log}"
    );

    let refused = line1_of(phone_cfg(Some(&pki), &proxy, "Yes", &[])).await;
    assert_eq!(refused["state"], "tls error", "{refused}");
    let why = refused["detail"].as_str().unwrap();
    assert!(why.contains("requires a client certificate"), "{why}");
}
