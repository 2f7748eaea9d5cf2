//! Property: whatever the server challenges with and whatever the
//! credentials, method, URI and body, the client's answer verifies on the
//! server side, and a different password never does (R-HTTP-4).

use phoneprov_httpauth::*;
use proptest::prelude::*;
use std::time::Duration;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn r_http_4_client_server_roundtrip(
        algs in prop::collection::vec(algorithm(), 1..4),
        realm in "[ -~]{0,20}",
        user in "[ -9;-~]{1,12}",
        password in "\\PC{0,16}",
        wrong in "\\PC{0,16}",
        method in prop::sample::select(vec!["GET", "POST", "HEAD"]),
        uri in "/[!-~]{0,30}",
        body in prop::collection::vec(any::<u8>(), 0..40),
        cnonce in "[A-Za-z0-9+/]{1,24}",
        nc in 1u32..,
        now in 0u64..4_000_000_000,
    ) {
        let m = NonceManager::new([9; 32], Duration::from_secs(300));
        let nonce = m.issue(now);
        let header = challenge_headers(&realm, &algs, &nonce, false).join(", ");
        let chs = parse_challenges(&header).unwrap();
        prop_assert_eq!(chs.len(), { let mut a = algs.clone(); a.sort(); a.dedup(); a.len() });
        let best = best_challenge(&chs).unwrap();
        let creds = Credentials::new(user.clone(), password.clone());
        let auth = authorization(best, &creds, method, &uri, &body, &cnonce, nc);
        let Authorization::Digest(resp) = parse_authorization(&auth).unwrap() else {
            panic!("not digest: {auth}");
        };
        prop_assert_eq!(&resp.username, &user);
        prop_assert_eq!(&resp.realm, &realm);
        prop_assert_eq!(&resp.uri, &uri);
        prop_assert_eq!(resp.nc, Some(nc));
        let strongest = algs.iter().copied().max_by_key(|a| match a {
            Algorithm::Sha256 => 4, Algorithm::Sha256Sess => 3, Algorithm::Md5 => 2, Algorithm::Md5Sess => 1,
        }).unwrap();
        prop_assert_eq!(resp.algorithm, strongest);
        prop_assert!(verify_digest(&resp, method, Secret::Password(&password), &body));
        if wrong != password {
            prop_assert!(!verify_digest(&resp, method, Secret::Password(&wrong), &body));
        }
        prop_assert_eq!(m.record(&resp, now), NonceStatus::Valid);
        prop_assert_eq!(m.record(&resp, now), NonceStatus::Replayed);
    }

    #[test]
    fn r_http_4_basic_roundtrip(user in "[ -9;-~]{0,12}", pass in "\\PC{0,16}") {
        let auth = basic(&Credentials::new(user.clone(), pass.clone()));
        prop_assert_eq!(parse_authorization(&auth).unwrap(), Authorization::Basic { user: user.clone(), pass: pass.clone() });
        prop_assert!(verify_basic(&user, &pass, &user, &pass));
    }

    #[test]
    fn r_http_4_parsers_never_panic(s in "\\PC{0,80}") {
        let _ = parse_challenges(&s);
        let _ = parse_authorization(&s);
    }
}
