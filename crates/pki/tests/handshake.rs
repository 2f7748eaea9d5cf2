//! In-process rustls handshakes over tokio loopback (R-HTTPS-5): server from
//! `server_config`, phone from `client_config`, certificates from `Ca`.

mod common;

use common::{fetch, spawn_server};
use phoneprov_pki::{server_config, Ca, ClientAuth, ClientTls, IssuedCert, PhoneIdentity};

struct Pki {
    ca: Ca,
    server: IssuedCert,
    phone: IssuedCert,
    rogue_phone: IssuedCert,
}

fn pki() -> Pki {
    let ca = Ca::generate("phoneprov test CA").unwrap();
    let server = ca.issue_server(&[]).unwrap();
    let phone = ca
        .issue_phone("00562b043615", "CCQ2114A0B1", "CP-8841-3PCC")
        .unwrap();
    let rogue_phone = Ca::generate("rogue CA")
        .unwrap()
        .issue_phone("00562b043615", "CCQ2114A0B1", "CP-8841-3PCC")
        .unwrap();
    Pki {
        ca,
        server,
        phone,
        rogue_phone,
    }
}

fn server(p: &Pki, auth: ClientAuth) -> std::sync::Arc<phoneprov_pki::rustls::ServerConfig> {
    server_config(
        p.server.cert_pem.as_bytes(),
        p.server.key_pem.as_bytes(),
        Some(p.ca.cert_pem().as_bytes()),
        auth,
    )
    .unwrap()
}

fn client(p: &Pki, cert: Option<&IssuedCert>) -> ClientTls {
    ClientTls {
        trust_pem: Some(p.ca.cert_pem().as_bytes().to_vec()),
        client_cert_pem: cert.map(|c| c.cert_pem.clone().into_bytes()),
        client_key_pem: cert.map(|c| c.key_pem.clone().into_bytes()),
        ..ClientTls::default()
    }
}

fn expected() -> PhoneIdentity {
    PhoneIdentity {
        mac: "00562b043615".into(),
        serial: Some("CCQ2114A0B1".into()),
        model: Some("CP-8841-3PCC".into()),
    }
}

#[tokio::test]
async fn required_client_auth_good_phone_cert_server_sees_identity() {
    let p = pki();
    let mut srv = spawn_server(server(&p, ClientAuth::Required)).await;
    let body = fetch(srv.port, "localhost", &client(&p, Some(&p.phone)))
        .await
        .unwrap();
    assert_eq!(srv.next().await.unwrap(), Some(expected()));
    let echoed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echoed["mac"], "00562b043615");
    assert_eq!(echoed["serial"], "CCQ2114A0B1");
    assert_eq!(echoed["model"], "CP-8841-3PCC");
}

#[tokio::test]
async fn required_client_auth_without_cert_fails() {
    let p = pki();
    let mut srv = spawn_server(server(&p, ClientAuth::Required)).await;
    let result = fetch(srv.port, "localhost", &client(&p, None)).await;
    assert!(
        result.is_err(),
        "client got a response without a certificate: {result:?}"
    );
    let seen = srv.next().await;
    let err = seen.expect_err("server accepted a client without certificate");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

#[tokio::test]
async fn required_client_auth_cert_from_another_ca_fails() {
    let p = pki();
    let mut srv = spawn_server(server(&p, ClientAuth::Required)).await;
    let result = fetch(srv.port, "localhost", &client(&p, Some(&p.rogue_phone))).await;
    assert!(result.is_err(), "{result:?}");
    let err = srv
        .next()
        .await
        .expect_err("server accepted a foreign certificate");
    assert!(
        err.contains("UnknownIssuer") || err.contains("unknown"),
        "{err}"
    );
}

#[tokio::test]
async fn optional_client_auth_accepts_both_and_rejects_foreign() {
    let p = pki();
    let mut srv = spawn_server(server(&p, ClientAuth::Optional)).await;
    let body = fetch(srv.port, "localhost", &client(&p, None))
        .await
        .unwrap();
    assert_eq!(body, "null");
    assert_eq!(srv.next().await.unwrap(), None);

    fetch(srv.port, "localhost", &client(&p, Some(&p.phone)))
        .await
        .unwrap();
    assert_eq!(srv.next().await.unwrap(), Some(expected()));

    let result = fetch(srv.port, "localhost", &client(&p, Some(&p.rogue_phone))).await;
    assert!(result.is_err(), "{result:?}");
    assert!(srv.next().await.is_err());
}

#[tokio::test]
async fn client_auth_off_does_not_ask_for_a_certificate() {
    let p = pki();
    let mut srv = spawn_server(server(&p, ClientAuth::Off)).await;
    fetch(srv.port, "localhost", &client(&p, Some(&p.phone)))
        .await
        .unwrap();
    assert_eq!(srv.next().await.unwrap(), None);
}

#[tokio::test]
async fn phone_refuses_server_from_another_ca() {
    let p = pki();
    let rogue = Ca::generate("rogue CA").unwrap().issue_server(&[]).unwrap();
    let config = server_config(
        rogue.cert_pem.as_bytes(),
        rogue.key_pem.as_bytes(),
        None,
        ClientAuth::Off,
    )
    .unwrap();
    let srv = spawn_server(config).await;
    // Even with name validation off the chain must verify (R-SEC-3).
    let mut opts = client(&p, None);
    opts.validate_name = false;
    let err = fetch(srv.port, "localhost", &opts).await.unwrap_err();
    assert!(
        err.contains("UnknownIssuer") || err.contains("unknown"),
        "{err}"
    );
}

#[tokio::test]
async fn name_validation_over_a_real_handshake() {
    // R-SEC-3: the server cert names localhost/127.0.0.1/::1 only.
    let p = pki();
    let srv = spawn_server(server(&p, ClientAuth::Off)).await;
    let mut opts = client(&p, None);
    fetch(srv.port, "127.0.0.1", &opts).await.unwrap();
    let err = fetch(srv.port, "pv.telco.net", &opts).await.unwrap_err();
    assert!(
        err.contains("NotValidForName") || err.contains("not valid for name"),
        "{err}"
    );
    opts.validate_name = false;
    fetch(srv.port, "pv.telco.net", &opts).await.unwrap();
}

#[tokio::test]
async fn client_auth_on_without_client_ca_is_a_config_error() {
    let p = pki();
    let err = server_config(
        p.server.cert_pem.as_bytes(),
        p.server.key_pem.as_bytes(),
        None,
        ClientAuth::Required,
    )
    .unwrap_err();
    assert!(err.to_string().contains("client CA"), "{err}");
    let alpn = server(&p, ClientAuth::Off).alpn_protocols.clone();
    assert_eq!(alpn, [b"http/1.1".to_vec()]);
}
