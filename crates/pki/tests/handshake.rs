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
        extra_trust_pem: None,
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
async fn r_https_5_required_client_auth_good_phone_cert_server_sees_identity() {
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
async fn r_https_5_required_client_auth_without_cert_fails() {
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
async fn r_https_5_required_client_auth_cert_from_another_ca_fails() {
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
async fn r_https_5_optional_client_auth_accepts_both_and_rejects_foreign() {
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
async fn r_https_5_phone_refuses_server_from_another_ca() {
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
async fn r_sec_3_name_validation_over_a_real_handshake() {
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

/// R-SEC-2 end to end: against a TLS 1.2-only server with an ECDSA
/// certificate, `TLS_Cipher_List` decides the suite, and a list with no
/// usable suite (`aRSA`) makes the handshake fail.
#[tokio::test]
async fn r_sec_2_cipher_list_decides_the_tls12_suite() {
    use phoneprov_pki::rustls;
    use rustls::pki_types::pem::PemObject;
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    let p = pki();
    let chain = vec![p.server.cert_der().unwrap()];
    let key =
        rustls::pki_types::PrivateKeyDer::from_pem_slice(p.server.key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(std::sync::Arc::new(config));
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });

    let connect = |list: &'static str| {
        let mut opts = client(&p, None);
        opts.cipher_list = Some(list.into());
        let connector = TlsConnector::from(phoneprov_pki::client_config(&opts).unwrap());
        async move {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            connector
                .connect(name, tcp)
                .await
                .map(|tls| tls.get_ref().1.negotiated_cipher_suite().unwrap().suite())
                .map_err(|e| e.to_string())
        }
    };
    assert_eq!(
        connect("ECDHE+CHACHA20").await.unwrap(),
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    );
    assert_eq!(
        connect("AES128").await.unwrap(),
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    );
    // Blank falls back to the default list, which works.
    assert!(connect("").await.is_ok());
    // Only RSA-authenticated suites: nothing in common with an ECDSA server.
    let err = connect("aRSA").await.unwrap_err();
    assert!(
        err.to_lowercase().contains("handshake") || err.contains("alert"),
        "{err}"
    );
}

/// Issue 17: of a client's default list (AES-256-GCM first), the server
/// picks in its own order: TLS 1.3 AES-128-GCM, whose SHA-256 key schedule
/// the CPU's SHA extensions run.
#[tokio::test]
async fn the_server_prefers_aes128_gcm_in_its_own_order() {
    use phoneprov_pki::rustls;
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    let p = pki();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(server(&p, ClientAuth::Off));
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = acceptor.accept(tcp).await;
    });
    let client = phoneprov_pki::client_config(&client(&p, None)).unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = TlsConnector::from(client).connect(name, tcp).await.unwrap();
    let conn = tls.get_ref().1;
    assert_eq!(
        conn.negotiated_cipher_suite().unwrap().suite(),
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
    );
}
