//! The manual HTTP proxy (R-SEC-4) with nginx as the proxy: the phone's
//! `Proxy_Mode=Manual`, `Proxy_Host`, `Proxy_Port` send the request in
//! absolute form to nginx (the rule's host, `prov.example`, is never
//! resolved by the phone), and `Proxy_Server_Requires_Authentication` with
//! `Proxy_Username`/`Proxy_Password` adds `Proxy-Authorization: Basic`;
//! nginx answers 407 unless it is right (then class C).

mod common;

use common::{one_phone, param, Nginx};
use phoneprov_sim::run_fleet;

#[tokio::test]
async fn r_sec_4_manual_proxy_with_basic_credentials() {
    let origin = Nginx::start("", "", |_| {});
    origin.write(
        "basic.xml",
        b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>",
    );
    // base64("phone:pw")
    let body = format!(
        "    location / {{\n      if ($http_proxy_authorization != \"Basic cGhvbmU6cHc=\") {{ return 407; }}\n      \
         proxy_pass http://127.0.0.1:{};\n    }}\n",
        origin.port
    );
    let proxy = Nginx::start("", &body, |_| {});
    let port = proxy.port.to_string();
    let run = |password: &'static str| {
        run_fleet(one_phone(&[
            ("Profile_Rule", "http://prov.example/basic.xml"),
            ("Proxy_Mode", "Manual"),
            ("Proxy_Host", "127.0.0.1"),
            ("Proxy_Port", &port),
            ("Proxy_Server_Requires_Authentication", "Yes"),
            ("Proxy_Username", "phone"),
            ("Proxy_Password", password),
        ]))
    };
    let r = run("pw").await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    common::wait_log(
        &proxy.dir.path().join("access.log"),
        "GET http://prov.example:80/basic.xml",
    );
    let r = run("wrong").await.unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());
}
