//! Server nonces (R-HTTP-4): stateless validity, staleness after the TTL,
//! forgery detection, replay protection by nonce count, bounded memory.

use phoneprov_httpauth::*;
use std::time::Duration;

fn response_for(nonce: &str, nc: u32) -> DigestResponse {
    let header = challenge_headers("r", &[Algorithm::Md5], nonce, false).join(", ");
    let chs = parse_challenges(&header).unwrap();
    let auth = authorization(
        &chs[0],
        &Credentials::new("u", "p"),
        "GET",
        "/x",
        b"",
        "c",
        nc,
    );
    match parse_authorization(&auth).unwrap() {
        Authorization::Digest(d) => d,
        other => panic!("{other:?}"),
    }
}

#[test]
fn r_http_4_nonce_valid_then_stale() {
    let m = NonceManager::new([1; 32], Duration::from_secs(60));
    let n = m.issue(1000);
    assert_eq!(m.check(&n, 1000), NonceStatus::Valid);
    assert_eq!(m.check(&n, 1060), NonceStatus::Valid);
    assert_eq!(m.check(&n, 1061), NonceStatus::Stale);
    assert_ne!(m.issue(1000), n, "two nonces in the same second differ");
}

#[test]
fn r_http_4_nonce_forged_or_foreign_is_invalid() {
    let m = NonceManager::new([1; 32], Duration::from_secs(60));
    let other = NonceManager::new([2; 32], Duration::from_secs(60));
    let n = m.issue(1000);
    assert_eq!(other.check(&n, 1000), NonceStatus::Invalid, "other secret");
    // Flip one character of the MAC part.
    let mut bytes = n.clone().into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        m.check(&String::from_utf8(bytes).unwrap(), 1000),
        NonceStatus::Invalid
    );
    assert_eq!(m.check("not a nonce", 1000), NonceStatus::Invalid);
    assert_eq!(m.check("", 1000), NonceStatus::Invalid);
    // Issued far in the future (clock trouble or forgery with a leaked secret).
    assert_eq!(m.check(&m.issue(5000), 1000), NonceStatus::Invalid);
    // Nodes sharing a secret accept each other's nonces.
    let twin = NonceManager::new([1; 32], Duration::from_secs(60));
    assert_eq!(twin.check(&n, 1001), NonceStatus::Valid);
}

#[test]
fn r_http_4_replayed_nc_is_rejected() {
    let m = NonceManager::new([3; 32], Duration::from_secs(60));
    let n = m.issue(100);
    assert_eq!(m.record(&response_for(&n, 1), 100), NonceStatus::Valid);
    assert_eq!(m.record(&response_for(&n, 1), 101), NonceStatus::Replayed);
    assert_eq!(m.record(&response_for(&n, 2), 101), NonceStatus::Valid);
    assert_eq!(m.record(&response_for(&n, 2), 101), NonceStatus::Replayed);
    assert_eq!(
        m.record(&response_for(&n, 1), 101),
        NonceStatus::Replayed,
        "going back"
    );
    assert_eq!(
        m.record(&response_for(&n, 5), 101),
        NonceStatus::Valid,
        "gaps allowed"
    );
    assert_eq!(m.record(&response_for(&n, 6), 500), NonceStatus::Stale);
    let mut no_qop = response_for(&m.issue(100), 1);
    no_qop.nc = None;
    assert_eq!(m.record(&no_qop, 100), NonceStatus::Invalid);
}

#[test]
fn r_http_4_replay_map_is_bounded_and_eviction_does_not_reopen_replays() {
    let m = NonceManager::with_capacity([4; 32], Duration::from_secs(600), 4);
    let nonces: Vec<String> = (0..10).map(|i| m.issue(100 + i)).collect();
    for n in &nonces {
        assert_eq!(m.record(&response_for(n, 1), 110), NonceStatus::Valid);
    }
    // The first nonces were evicted: replaying them must not succeed.
    for n in &nonces[..6] {
        let st = m.record(&response_for(n, 1), 110);
        assert!(
            matches!(st, NonceStatus::Stale | NonceStatus::Replayed),
            "{st:?}"
        );
    }
    for n in &nonces[6..] {
        assert_eq!(m.record(&response_for(n, 1), 110), NonceStatus::Replayed);
    }
    // A nonce issued after the evictions still works.
    assert_eq!(
        m.record(&response_for(&m.issue(111), 1), 111),
        NonceStatus::Valid
    );
}

#[test]
fn r_http_4_challenge_headers_sha256_first() {
    let h = challenge_headers(
        "prov",
        &[Algorithm::Md5, Algorithm::Sha256, Algorithm::Md5],
        "N",
        true,
    );
    assert_eq!(h.len(), 2);
    assert!(h[0].contains("algorithm=SHA-256"), "{h:?}");
    assert!(h[1].contains("algorithm=MD5"), "{h:?}");
    for line in &h {
        assert!(
            line.contains("stale=true") && line.contains("qop=\"auth\""),
            "{line}"
        );
        let chs = parse_challenges(line).unwrap();
        assert!(matches!(&chs[0], Challenge::Digest(d) if d.stale && d.nonce == "N"));
    }
    assert_eq!(
        parse_challenges(&basic_challenge("a\"b")).unwrap(),
        vec![Challenge::Basic {
            realm: "a\"b".into()
        }]
    );
}
