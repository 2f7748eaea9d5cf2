//! `send_notify` over TLS (R-RULE-6, issue 15 Deliver 2: serve and
//! `phoneprov device resync --sip sips:…` send NOTIFY over UDP, TCP *and
//! TLS*): a real `sipp` UAS behind `stunnel4` (Debian's sipp has no TLS)
//! receives the NOTIFY `check-sync` over `sips:` and answers 200; a server
//! certificate from a CA the sender does not trust, or one that does not
//! name the host, is refused before anything is sent (host-name
//! validation always on, R-SEC-3).

use phoneprov_testpeers::{check_sync_uas, sipp_answer, sipp_uas, stunnel, Guard, SippUas};
use phoneprov_transport::{send_notify, NotifyOptions, SipContact, SipSendError};

/// The sender's TLS configuration trusting `ca_pem`, names validated.
fn trusting(ca_pem: &str) -> NotifyOptions {
    let tls = phoneprov_pki::client_config(&phoneprov_pki::ClientTls {
        trust_pem: Some(ca_pem.as_bytes().to_vec()),
        validate_name: true,
        ..phoneprov_pki::ClientTls::default()
    })
    .unwrap();
    NotifyOptions {
        event: "check-sync".into(),
        tls: Some(tls),
        ..NotifyOptions::default()
    }
}

/// sipp (TCP) behind stunnel presenting a certificate for its names.
struct TlsPhone {
    ca: phoneprov_pki::Ca,
    port: u16,
    _stunnel: Guard,
    sipp: SippUas,
}

fn phone_over_tls(names: &[&str]) -> TlsPhone {
    let ca = phoneprov_pki::Ca::generate("notify tls test CA").unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let server = ca.issue_server(&names).unwrap();
    let sipp = sipp_uas("t1", &check_sync_uas(&sipp_answer("200 OK", "", "")));
    let cert = sipp.dir().join("server.pem");
    let key = sipp.dir().join("server.key");
    std::fs::write(&cert, &server.cert_pem).unwrap();
    std::fs::write(&key, &server.key_pem).unwrap();
    let (guard, port) = stunnel(sipp.dir(), &cert, &key, sipp.port, "");
    TlsPhone {
        ca,
        port,
        _stunnel: guard,
        sipp,
    }
}

#[tokio::test]
async fn r_rule_6_notify_over_tls_answered_200() {
    let p = phone_over_tls(&["127.0.0.1"]);
    let c = SipContact::parse(&format!("sips:000e08abcdef@127.0.0.1:{}", p.port)).unwrap();
    let out = send_notify(&c, &trusting(p.ca.cert_pem())).await.unwrap();
    assert_eq!((out.code, out.reason.as_str()), (200, "OK"), "{out:?}");
    assert_eq!(out.transmissions, 1, "no retransmission over TLS");
    // sipp saw the NOTIFY (decrypted by stunnel) with the phone's URI.
    let seen = p.sipp.messages();
    assert!(
        seen.contains("NOTIFY sips:000e08abcdef@127.0.0.1"),
        "{seen}"
    );
    assert!(seen.contains("Event: check-sync"), "{seen}");
    assert!(seen.contains("Via: SIP/2.0/TLS"), "{seen}");
}

#[tokio::test]
async fn r_rule_6_notify_over_tls_refuses_an_untrusted_or_misnamed_certificate() {
    // Another CA: refused in the handshake, nothing reaches sipp.
    let p = phone_over_tls(&["127.0.0.1"]);
    let other = phoneprov_pki::Ca::generate("someone else").unwrap();
    let c = SipContact::parse(&format!("sips:000e08abcdef@127.0.0.1:{}", p.port)).unwrap();
    let err = send_notify(&c, &trusting(other.cert_pem()))
        .await
        .unwrap_err();
    assert!(matches!(err, SipSendError::Tls(..)), "{err}");
    assert!(!p.sipp.messages().contains("NOTIFY"));

    // The right CA, a certificate for another name: refused too.
    let p = phone_over_tls(&["prov.example"]);
    let c = SipContact::parse(&format!("sips:000e08abcdef@127.0.0.1:{}", p.port)).unwrap();
    let err = send_notify(&c, &trusting(p.ca.cert_pem()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SipSendError::Tls(_, why) if why.contains("not valid for name")),
        "{err}"
    );
    assert!(!p.sipp.messages().contains("NOTIFY"));
}
