//! HTTP Digest against Apache httpd's mod_auth_digest (R-HTTP-4; the engine
//! answers the 401, the driver sends one request per Fetch), and a plain
//! fetch of a partitioned profile (R-RULE-3) from `python3 -m http.server`.

mod common;

use common::{one_phone, param};
use phoneprov_sim::run_fleet;

const REALM: &str = "phoneprov sim";
fn apache(user: &str, pass: &str) -> phoneprov_testpeers::Apache {
    phoneprov_testpeers::Apache::start(REALM, user, pass, |d| {
        common::write_public(
            &d.join("htdocs/digest/basic.xml"),
            b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n",
        );
    })
}

#[tokio::test]
async fn r_http_4_digest_against_apache() {
    let a = apache("Mufasa", "Circle of Life");
    let ok = format!(
        "[--uid Mufasa --pwd \"Circle of Life\"] http://127.0.0.1:{}/digest/basic.xml",
        a.port
    );
    let r = run_fleet(one_phone(&[("Profile_Rule", &ok)]))
        .await
        .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    assert_eq!(r.fetches, 2, "challenge, then the answer");
    let bad = format!(
        "[--uid Mufasa --pwd nope] http://127.0.0.1:{}/digest/basic.xml",
        a.port
    );
    let r = run_fleet(one_phone(&[("Profile_Rule", &bad)]))
        .await
        .unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());
}

#[tokio::test]
async fn r_rule_3_partitioned_profile_from_python_http_server() {
    let server = common::python_http(&[
        (
            "basic.txt",
            b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n",
        ),
        (
            "basic2.txt",
            b"<flat-profile><GPP_B>ABCD</GPP_B></flat-profile>\n",
        ),
    ]);
    let port = server.port;
    let r = run_fleet(one_phone(&[
        (
            "Profile_Rule",
            &format!("http://127.0.0.1:{port}/basic.txt"),
        ),
        (
            "Profile_Rule_B",
            &format!("http://127.0.0.1:{port}/basic2.txt"),
        ),
    ]))
    .await
    .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    assert_eq!(param(&r, "GPP_B").as_deref(), Some("ABCD"));
    assert_eq!(r.fetches, 2);
}
