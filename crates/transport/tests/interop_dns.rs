//! DNS against dnsmasq (SPEC §7, R-HTTPS-6): SRV records come back through
//! a configured DNS server and are ordered; a name with several A records
//! is tried address by address; HTTPS to an SRV target validates the
//! certificate against the original domain (R-SRV-4).

mod common;

use std::net::SocketAddr;

use common::{dnsmasq, get, Nginx, Pki};
use phoneprov_rule::Scheme;
use phoneprov_transport::{resolve_srv, HttpClient, HttpClientConfig, Resolver, TransportError};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn seed_records() -> Vec<String> {
    // R-SRV-5 seed example: priority 10, weights 60/20 and 50/30, port 5060.
    [
        "--srv-host=_ciscoprov-https._tls.example.com,pr1.example.com,5060,10,60",
        "--srv-host=_ciscoprov-https._tls.example.com,pr2.example.com,5060,10,20",
        "--srv-host=_ciscoprov-http._tcp.example.com,px1.example.com,5060,10,50",
        "--srv-host=_ciscoprov-http._tcp.example.com,px2.example.com,5060,10,30",
        "--address=/pr1.example.com/127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[tokio::test]
async fn r_srv_2_5_seed_records_through_dnsmasq() {
    let d = dnsmasq(&seed_records());
    let resolver = Resolver::with_server(d.addr);
    let mut rng = StdRng::seed_from_u64(3);
    let r = resolve_srv(&resolver, Scheme::Https, "example.com", &mut rng)
        .await
        .unwrap();
    assert_eq!(r.query, "_ciscoprov-https._tls.example.com");
    assert_eq!(r.tls_server_name, "example.com");
    let mut targets: Vec<(String, u16, u16, u16)> = r
        .targets
        .iter()
        .map(|t| (t.target.clone(), t.port, t.priority, t.weight))
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        vec![
            ("pr1.example.com".into(), 5060, 10, 60),
            ("pr2.example.com".into(), 5060, 10, 20)
        ]
    );
    let r = resolve_srv(&resolver, Scheme::Http, "example.com", &mut rng)
        .await
        .unwrap();
    let mut names: Vec<String> = r.targets.iter().map(|t| t.target.clone()).collect();
    names.sort();
    assert_eq!(names, ["px1.example.com", "px2.example.com"]);
    assert!(r
        .urls(Scheme::Http, "/a.xml")
        .iter()
        .all(|u| u.ends_with(":5060/a.xml")));
    let e = resolve_srv(&resolver, Scheme::Tftp, "example.com", &mut rng)
        .await
        .unwrap_err();
    assert!(e
        .to_string()
        .contains("TFTP scheme is not supported in SRV lookups"));
    let e = resolve_srv(&resolver, Scheme::Https, "nothing.example.com", &mut rng)
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::Dns(_)), "{e:?}");
    assert_eq!(
        resolver.lookup_host("pr1.example.com", 80).await.unwrap(),
        vec![SocketAddr::from(([127, 0, 0, 1], 80))]
    );
}

#[tokio::test]
async fn r_https_6_several_a_records_tried_in_turn() {
    let n = Nginx::start("", "", |_| {});
    n.write("basic.txt", b"ok\n");
    let d = dnsmasq(&[
        "--host-record=multi.example.com,127.0.0.2".into(),
        "--host-record=multi.example.com,127.0.0.3".into(),
        "--host-record=multi.example.com,127.0.0.1".into(),
        "--host-record=dead.example.com,127.0.0.2".into(),
        "--host-record=dead.example.com,127.0.0.3".into(),
    ]);
    let resolver = Resolver::with_server(d.addr);
    let mut addrs = resolver
        .lookup_host("multi.example.com", n.port)
        .await
        .unwrap();
    addrs.sort();
    assert_eq!(addrs.len(), 3, "{addrs:?}");
    let mut cfg = HttpClientConfig::new(common::default_tls());
    cfg.resolver = resolver;
    let c = HttpClient::new(cfg);
    // Whatever order DNS gives, the two closed addresses are skipped.
    let r = c
        .send(get(&format!(
            "http://multi.example.com:{}/basic.txt",
            n.port
        )))
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok\n"[..]));
    // None answers: the error lists every address tried.
    let e = c
        .send(get(&format!(
            "http://dead.example.com:{}/basic.txt",
            n.port
        )))
        .await
        .unwrap_err();
    let TransportError::Connect(text) = &e else {
        panic!("{e:?}")
    };
    assert!(
        text.contains(&format!("127.0.0.2:{}", n.port))
            && text.contains(&format!("127.0.0.3:{}", n.port)),
        "{text}"
    );
    let e = c
        .send(get("http://unknown.example.com/x"))
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::Dns(_)), "{e:?}");
}

#[tokio::test]
async fn r_srv_4_tls_validates_against_original_domain() {
    // The certificate names only the original domain, not the SRV target.
    let pki = Pki::new(&["example.com"]);
    let n = Nginx::start(
        "ssl",
        "    ssl_certificate {dir}/server.pem;\n    ssl_certificate_key {dir}/server.key;\n",
        |d| pki.write_server_files(d),
    );
    n.write("prov.xml", b"<flat-profile/>\n");
    let d = dnsmasq(&[
        format!(
            "--srv-host=_ciscoprov-https._tls.example.com,pr1.example.com,{},10,60",
            n.port
        ),
        "--address=/pr1.example.com/127.0.0.1".into(),
    ]);
    let resolver = Resolver::with_server(d.addr);
    let srv = resolve_srv(
        &resolver,
        Scheme::Https,
        "example.com",
        &mut StdRng::seed_from_u64(1),
    )
    .await
    .unwrap();
    let url = srv.urls(Scheme::Https, "/prov.xml").remove(0);
    assert_eq!(url, format!("https://pr1.example.com:{}/prov.xml", n.port));
    let mut cfg = HttpClientConfig::new(pki.client_tls(false));
    cfg.resolver = resolver;
    let c = HttpClient::new(cfg);
    let r = c
        .send_with_server_name(get(&url), &srv.tls_server_name)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"<flat-profile/>\n"[..])
    );
    // Validating against the target name fails: the certificate does not name it.
    let e = c.send(get(&url)).await.unwrap_err();
    assert!(matches!(e, TransportError::Tls(_)), "{e:?}");
}
