//! RFC 7616 §3.9.1 worked example (R-HTTP-4): the Mufasa responses for MD5
//! and SHA-256, computed by the client from the RFC's own challenge headers
//! and accepted by the server side.

use phoneprov_httpauth::*;

const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
const MD5_RESPONSE: &str = "8ca523f5e9506fed4657c9700eebdbec";
const SHA256_RESPONSE: &str = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";

/// The two challenges of the RFC example, in one header as a proxy may join them.
fn rfc_header() -> String {
    format!(
        "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, \
         nonce=\"{NONCE}\", opaque=\"{OPAQUE}\", \
         Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, \
         nonce=\"{NONCE}\", opaque=\"{OPAQUE}\""
    )
}

fn mufasa() -> Credentials {
    Credentials::new("Mufasa", "Circle of Life")
}

fn response_of(auth: &str) -> DigestResponse {
    match parse_authorization(auth).unwrap() {
        Authorization::Digest(d) => d,
        other => panic!("expected Digest, got {other:?}"),
    }
}

#[test]
fn r_http_4_rfc7616_parse_example_challenges() {
    let chs = parse_challenges(&rfc_header()).unwrap();
    assert_eq!(chs.len(), 2);
    let Challenge::Digest(d) = &chs[1] else {
        panic!("{chs:?}")
    };
    assert_eq!(d.realm, "http-auth@example.org");
    assert_eq!(d.nonce, NONCE);
    assert_eq!(d.opaque.as_deref(), Some(OPAQUE));
    assert_eq!(d.algorithm, Algorithm::Md5);
    assert_eq!(d.qop, vec![Qop::Auth, Qop::AuthInt]);
    assert!(!d.stale);
}

#[test]
fn r_http_4_rfc7616_md5_response() {
    let chs = parse_challenges(&rfc_header()).unwrap();
    let auth = authorization(&chs[1], &mufasa(), "GET", "/dir/index.html", b"", CNONCE, 1);
    let resp = response_of(&auth);
    assert_eq!(resp.response, MD5_RESPONSE);
    assert_eq!(resp.nc, Some(1));
    assert_eq!(resp.qop, Some(Qop::Auth));
    assert_eq!(resp.opaque.as_deref(), Some(OPAQUE));
    assert!(auth.contains("nc=00000001"), "{auth}");
    assert!(verify_digest(
        &resp,
        "GET",
        Secret::Password("Circle of Life"),
        b""
    ));
    let ha1 = Algorithm::Md5.ha1_plain("Mufasa", "http-auth@example.org", "Circle of Life");
    assert!(verify_digest(&resp, "GET", Secret::Ha1(&ha1), b""));
    assert!(!verify_digest(
        &resp,
        "GET",
        Secret::Password("circle of life"),
        b""
    ));
    assert!(!verify_digest(
        &resp,
        "POST",
        Secret::Password("Circle of Life"),
        b""
    ));
}

#[test]
fn r_http_4_rfc7616_sha256_response_and_preference() {
    let chs = parse_challenges(&rfc_header()).unwrap();
    let best = best_challenge(&chs).unwrap();
    let Challenge::Digest(d) = best else {
        panic!("{best:?}")
    };
    assert_eq!(d.algorithm, Algorithm::Sha256, "SHA-256 preferred");
    let auth = authorization(best, &mufasa(), "GET", "/dir/index.html", b"", CNONCE, 1);
    let resp = response_of(&auth);
    assert_eq!(resp.response, SHA256_RESPONSE);
    assert_eq!(resp.algorithm, Algorithm::Sha256);
    assert!(verify_digest(
        &resp,
        "GET",
        Secret::Password("Circle of Life"),
        b""
    ));
}

#[test]
fn r_http_4_best_challenge_order() {
    // Digest MD5 beats Basic even when Basic comes first; Other is never picked.
    let chs = parse_challenges(
        "Basic realm=\"b\", Negotiate, Digest realm=\"d\", nonce=\"n\", qop=\"auth\"",
    )
    .unwrap();
    assert!(matches!(best_challenge(&chs), Some(Challenge::Digest(_))));
    let chs = parse_challenges("Negotiate, Digest realm=\"d\", nonce=\"n\", algorithm=SHA-512-256")
        .unwrap();
    assert!(matches!(chs[1], Challenge::Other { .. }), "{chs:?}");
    assert_eq!(best_challenge(&chs), None);
    let chs = parse_challenges("Basic realm=\"only\"").unwrap();
    let auth = authorization(
        best_challenge(&chs).unwrap(),
        &mufasa(),
        "GET",
        "/",
        b"",
        "",
        1,
    );
    assert_eq!(auth, "Basic TXVmYXNhOkNpcmNsZSBvZiBMaWZl");
    assert_eq!(
        parse_authorization(&auth).unwrap(),
        Authorization::Basic {
            user: "Mufasa".into(),
            pass: "Circle of Life".into()
        }
    );
}

#[test]
fn r_http_4_challenge_flags_and_missing_params() {
    let chs = parse_challenges(
        "Digest realm=\"r\", nonce=\"n\", stale=TRUE, algorithm=md5-sess, qop=\"auth-int\", userhash=true, domain=\"/a /b\"",
    )
    .unwrap();
    let Challenge::Digest(d) = &chs[0] else {
        panic!()
    };
    assert!(d.stale);
    assert_eq!(d.algorithm, Algorithm::Md5Sess);
    assert_eq!(d.qop, vec![Qop::AuthInt]);
    assert_eq!(d.domain.as_deref(), Some("/a /b"));
    assert_eq!(
        parse_challenges("Digest realm=\"r\"").unwrap_err(),
        AuthError::MissingParam {
            header: "challenge",
            param: "nonce"
        }
    );
}

#[test]
fn r_http_4_auth_int_and_rfc2069_modes_verify() {
    for header in [
        "Digest realm=\"r\", nonce=\"n1\", qop=\"auth-int\", algorithm=SHA-256-sess",
        "Digest realm=\"r\", nonce=\"n1\"",
    ] {
        let chs = parse_challenges(header).unwrap();
        let auth = authorization(&chs[0], &mufasa(), "POST", "/p?x=1", b"body", "cn", 7);
        let resp = response_of(&auth);
        assert!(
            verify_digest(&resp, "POST", Secret::Password("Circle of Life"), b"body"),
            "{auth}"
        );
        if resp.qop == Some(Qop::AuthInt) {
            assert!(!verify_digest(
                &resp,
                "POST",
                Secret::Password("Circle of Life"),
                b"other"
            ));
        }
    }
}

#[test]
fn r_http_4_authorization_parse_errors() {
    assert!(matches!(
        parse_authorization("Bearer abc").unwrap_err(),
        AuthError::UnsupportedScheme(_)
    ));
    // base64 of "nocolon": no `:` separator.
    assert_eq!(
        parse_authorization("Basic bm9jb2xvbg==").unwrap_err(),
        AuthError::BadBasic
    );
    assert!(parse_authorization("Basic !!!").is_err());
    assert!(matches!(
        parse_authorization("Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"x\", qop=auth, nc=1, cnonce=\"c\"")
            .unwrap_err(),
        AuthError::BadValue { param: "nc", .. }
    ));
    assert!(matches!(
        parse_authorization("Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\"")
            .unwrap_err(),
        AuthError::MissingParam {
            param: "response",
            ..
        }
    ));
}
