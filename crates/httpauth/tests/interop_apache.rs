//! This crate's client side against Apache httpd (R-HTTP-4): Apache's
//! mod_auth_digest challenge is parsed, answered, and Apache says 200;
//! likewise mod_auth_basic. The password file is written here in
//! `htdigest` format (`user:realm:md5(user:realm:pass)`).

mod common;

use phoneprov_httpauth::*;

const REALM: &str = "phoneprov apache";
const USER: &str = "Mufasa";
const PASS: &str = "Circle of Life";
fn start_apache() -> phoneprov_testpeers::Apache {
    phoneprov_testpeers::Apache::start(REALM, USER, PASS, |d| {
        for sub in ["digest", "basic"] {
            phoneprov_testpeers::write_public(
                &d.join("htdocs").join(sub).join("phone.xml"),
                b"<flat-profile/>\n",
            );
        }
    })
}

#[test]
fn r_http_4_client_digest_against_apache() {
    let apache = start_apache();
    let target = "/digest/phone.xml";
    let first = common::raw_get(apache.port, target, None);
    assert_eq!(first.status, 401);
    let header = first.all("www-authenticate").join(", ");
    let chs = parse_challenges(&header).unwrap();
    let best = best_challenge(&chs).unwrap_or_else(|| panic!("no usable challenge in {header}"));
    assert!(
        matches!(best, Challenge::Digest(d) if d.realm == REALM && d.algorithm == Algorithm::Md5),
        "{best:?}"
    );
    let creds = Credentials::new(USER, PASS);
    let auth = authorization(best, &creds, "GET", target, b"", "0a4f113b", 1);
    assert_eq!(
        common::raw_get(apache.port, target, Some(&auth)).status,
        200,
        "{auth}"
    );
    // Next request with the same nonce and a higher count is fine too.
    let auth2 = authorization(best, &creds, "GET", target, b"", "0a4f113c", 2);
    assert_eq!(
        common::raw_get(apache.port, target, Some(&auth2)).status,
        200
    );
    // A wrong password is refused.
    let bad = authorization(
        best,
        &Credentials::new(USER, "wrong"),
        "GET",
        target,
        b"",
        "x",
        3,
    );
    assert_eq!(common::raw_get(apache.port, target, Some(&bad)).status, 401);
}

#[test]
fn r_http_4_client_basic_against_apache() {
    let apache = start_apache();
    let target = "/basic/phone.xml";
    let first = common::raw_get(apache.port, target, None);
    assert_eq!(first.status, 401);
    let chs = parse_challenges(&first.all("www-authenticate").join(", ")).unwrap();
    assert_eq!(
        chs,
        vec![Challenge::Basic {
            realm: REALM.into()
        }]
    );
    let auth = authorization(
        &chs[0],
        &Credentials::new(USER, PASS),
        "GET",
        target,
        b"",
        "",
        1,
    );
    assert_eq!(
        common::raw_get(apache.port, target, Some(&auth)).status,
        200
    );
}
