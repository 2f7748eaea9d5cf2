//! Our HTTP client against nginx (R-HTTP-2, R-HTTPS-5, R-RESULT): static
//! files, raw redirect/error statuses with `Location`, Basic auth answered
//! with `phoneprov-httpauth`, HTTPS with a `phoneprov-pki` dev CA and mutual
//! TLS (`ssl_verify_client on`).

mod common;

use common::{client, get, Nginx, Pki};
use phoneprov_httpauth::{authorization, best_challenge, parse_challenges, Credentials};
use phoneprov_transport::{ClassHint, HttpRequest, TransportError};

const REDIRECTS: &str = "
    location = /moved { return 301 /cfg/new.xml; }
    location = /found { return 302 http://other.example/x.xml; }
    location = /gone { return 404; }
    location = /busy { return 503; }
    location = /ua { return 200 \"$http_user_agent|$http_connection|$request_method|$request_body\"; }
    location = /conn { return 200 \"$connection|$connection_requests|$http_connection|$request_method\"; }
    location = /last { keepalive_requests 2; return 200 \"$connection|$connection_requests\"; }
    location /secure/ { auth_basic \"phoneprov\"; auth_basic_user_file {dir}/htpasswd; }
";

fn start_plain() -> Nginx {
    let n = Nginx::start("", REDIRECTS, |d| {
        common::write_public(&d.join("htpasswd"), b"phone:{PLAIN}s3cret\n");
    });
    n.write(
        "basic.txt",
        b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n",
    );
    n.write("secure/phone.xml", b"<flat-profile/>\n");
    n
}

#[tokio::test]
async fn r_http_2_static_file_200() {
    let n = start_plain();
    let c = client(common::default_tls());
    let r = c
        .send(get(&format!("http://127.0.0.1:{}/basic.txt", n.port)))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n"
    );
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
}

#[tokio::test]
async fn r_http_3_headers_sent_and_connection_close() {
    let n = start_plain();
    let c = client(common::default_tls());
    let r = c
        .send(get(&format!("http://127.0.0.1:{}/ua", n.port)))
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "Cisco-CP-8841-3PCC/11.0 (0011223344ab)|close|GET|"
    );
    assert_eq!(r.header("connection"), Some("close"));
}

#[tokio::test]
async fn r_result_raw_statuses_and_location() {
    let n = start_plain();
    let c = client(common::default_tls());
    let base = format!("http://127.0.0.1:{}", n.port);
    let r = c.send(get(&format!("{base}/moved"))).await.unwrap();
    assert_eq!(r.status, 301, "redirects are not followed");
    assert!(
        r.header("location").unwrap().ends_with("/cfg/new.xml"),
        "{:?}",
        r.headers
    );
    let r = c.send(get(&format!("{base}/found"))).await.unwrap();
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some("http://other.example/x.xml"))
    );
    assert_eq!(
        c.send(get(&format!("{base}/gone"))).await.unwrap().status,
        404
    );
    assert_eq!(
        c.send(get(&format!("{base}/busy"))).await.unwrap().status,
        503
    );
    assert_eq!(
        c.send(get(&format!("{base}/no-such.xml")))
            .await
            .unwrap()
            .status,
        404
    );
}

#[tokio::test]
async fn r_http_4_basic_auth_with_httpauth_crate() {
    let n = start_plain();
    let c = client(common::default_tls());
    let url = format!("http://127.0.0.1:{}/secure/phone.xml", n.port);
    let first = c.send(get(&url)).await.unwrap();
    assert_eq!(first.status, 401, "no auth retry in the transport");
    let chs = parse_challenges(&first.header_all("www-authenticate").join(", ")).unwrap();
    let ch = best_challenge(&chs).unwrap();
    let mut req = get(&url);
    let auth = authorization(
        ch,
        &Credentials::new("phone", "s3cret"),
        "GET",
        "/secure/phone.xml",
        b"",
        "",
        1,
    );
    req.headers.push(("Authorization".into(), auth));
    let r = c.send(req).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"<flat-profile/>\n");
}

#[tokio::test]
async fn r_http_2_post_body_sent() {
    let n = start_plain();
    let c = client(common::default_tls());
    let req = HttpRequest {
        method: "POST".into(),
        url: format!("http://127.0.0.1:{}/ua", n.port),
        headers: vec![
            ("User-Agent".into(), "x".into()),
            ("Content-Type".into(), "text/plain".into()),
        ],
        body: b"mac=0011223344ab".to_vec(),
    };
    let r = c.send(req).await.unwrap();
    assert_eq!(r.status, 200);
    // nginx's $request_body is only filled for proxied locations; the POST
    // still went through with its method.
    assert!(
        String::from_utf8_lossy(&r.body).contains("|POST|"),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn body_over_max_is_too_large() {
    let n = start_plain();
    n.write("big.bin", &vec![b'x'; 10_000]);
    let mut cfg = phoneprov_transport::HttpClientConfig::new(common::default_tls());
    cfg.max_body = 1000;
    let c = phoneprov_transport::HttpClient::new(cfg);
    let e = c
        .send(get(&format!("http://127.0.0.1:{}/big.bin", n.port)))
        .await
        .unwrap_err();
    assert_eq!(e, TransportError::TooLarge);
    assert_eq!(e.class_hint(), ClassHint::OtherFailure);
}

fn start_tls(pki: &Pki, verify_client: bool) -> Nginx {
    let verify = if verify_client {
        "ssl_verify_client on;\n    ssl_client_certificate {dir}/ca.pem;"
    } else {
        ""
    };
    let body = format!(
        "    ssl_certificate {{dir}}/server.pem;\n    ssl_certificate_key {{dir}}/server.key;\n    {verify}\n\
         location = /whoami {{ return 200 \"$ssl_client_s_dn|$ssl_server_name\"; }}\n"
    );
    let n = Nginx::start("ssl", &body, |d| pki.write_server_files(d));
    n.write("basic.txt", b"secure profile\n");
    n
}

#[tokio::test]
async fn r_https_5_server_cert_from_dev_ca() {
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    let n = start_tls(&pki, false);
    let c = client(pki.client_tls(false));
    let r = c
        .send(get(&format!("https://localhost:{}/basic.txt", n.port)))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"secure profile\n"[..])
    );
    let r = c
        .send(get(&format!("https://localhost:{}/whoami", n.port)))
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&r.body), "|localhost", "SNI = host");
    // A client trusting another CA refuses the server.
    let other = Pki::new(&["localhost"]);
    let e = client(other.client_tls(false))
        .send(get(&format!("https://localhost:{}/basic.txt", n.port)))
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::Tls(_)), "{e:?}");
}

#[tokio::test]
async fn r_https_5_mutual_tls_client_certificate() {
    let pki = Pki::new(&["localhost"]);
    let n = start_tls(&pki, true);
    let url = format!("https://localhost:{}/whoami", n.port);
    let r = client(pki.client_tls(true)).send(get(&url)).await.unwrap();
    assert_eq!(r.status, 200);
    let dn = String::from_utf8_lossy(&r.body).to_string();
    for part in ["OU=CP-8841-3PCC", "L=SN123", "ST=0011223344ab"] {
        assert!(dn.contains(part), "client DN {dn:?} lacks {part}");
    }
    // Without the client certificate nginx refuses the request (400).
    let r = client(pki.client_tls(false)).send(get(&url)).await.unwrap();
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn r_https_6_connection_refused_lists_addresses() {
    let port = common::free_port();
    let e = client(common::default_tls())
        .send(get(&format!("http://127.0.0.1:{port}/x")))
        .await
        .unwrap_err();
    let TransportError::Connect(text) = &e else {
        panic!("{e:?}")
    };
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert_eq!(e.class_hint(), ClassHint::OtherFailure);
}

#[tokio::test]
async fn bad_urls() {
    let c = client(common::default_tls());
    for url in ["tftp://h/x", "http:///nohost", "::"] {
        let e = c.send(get(url)).await.unwrap_err();
        assert!(matches!(e, TransportError::BadUrl(_)), "{url}: {e:?}");
    }
}

/// Sends `reqs` in turn on the session; every answer must be 200. Returns
/// the bodies.
async fn send_all(
    s: &mut phoneprov_transport::HttpSession,
    reqs: impl Iterator<Item = HttpRequest>,
) -> Vec<String> {
    let mut bodies = Vec::new();
    for req in reqs {
        let r = s.send(req).await.unwrap();
        assert_eq!(r.status, 200);
        bodies.push(String::from_utf8(r.body).unwrap());
    }
    bodies
}

/// TR-069 3.4.1: a CWMP session's POSTs share one kept-alive connection
/// ([`HttpSession`](phoneprov_transport::HttpSession)); nginx numbers its
/// connections and the requests on each, so both are checked from the
/// server's side.
#[tokio::test]
async fn session_keeps_one_connection_for_its_requests() {
    let n = start_plain();
    let c = client(common::default_tls());
    let mut s = c.session();
    let url = format!("http://127.0.0.1:{}/conn", n.port);
    let posts = (0..3).map(|i| {
        let mut req = get(&url);
        req.method = "POST".into();
        req.body = format!("<soap-envelope n={i}/>").into_bytes();
        req
    });
    let seen = send_all(&mut s, posts).await;
    let conn = seen[0].split('|').next().unwrap().to_string();
    assert_eq!(
        seen,
        (1..=3)
            .map(|k| format!("{conn}|{k}||POST"))
            .collect::<Vec<_>>(),
        "one connection, requests 1..3, no Connection: close sent"
    );
    assert_eq!(s.connections(), 1);
    // A plain send still closes its connection (phones fetching profiles).
    let r = c.send(get(&url)).await.unwrap();
    assert!(String::from_utf8_lossy(&r.body).ends_with("|1|close|GET"));
}

/// When the server ends the connection (nginx `keepalive_requests 2`
/// answers the second request with `Connection: close`), the session opens
/// a new one for the next request and loses none.
#[tokio::test]
async fn session_reconnects_after_the_server_closes() {
    let n = start_plain();
    let c = client(common::default_tls());
    let mut s = c.session();
    let url = format!("http://127.0.0.1:{}/last", n.port);
    let bodies = send_all(&mut s, (0..5).map(|_| get(&url))).await;
    let per_conn: Vec<&str> = bodies
        .iter()
        .map(|b| b.split('|').nth(1).unwrap())
        .collect();
    assert_eq!(per_conn, ["1", "2", "1", "2", "1"], "{bodies:?}");
    assert_eq!(s.connections(), 3);
}

/// A server that closes after every answer without saying so (python3's
/// HTTP/1.0 `http.server`): every request still gets its response.
#[tokio::test]
async fn session_survives_a_server_without_keep_alive() {
    let py = phoneprov_testpeers::python_http(&[("a.txt", b"alpha\n")]);
    let c = client(common::default_tls());
    let mut s = c.session();
    for _ in 0..3 {
        let r = s
            .send(get(&format!("http://127.0.0.1:{}/a.txt", py.port)))
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"alpha\n".as_slice()));
    }
    assert_eq!(s.connections(), 3);
}
