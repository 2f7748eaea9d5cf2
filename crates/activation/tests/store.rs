//! `ActivationStore` on a real SQLite file: bindings by MAC and serial
//! range (R-ACT-1), codes single use and expiring on an injected clock,
//! short codes (R-ACT-2), validation, and coexistence with the inventory.

use std::time::Duration;

use phoneprov_activation::{ActivationError, ActivationStore, EnteredCode, RedeemError, Target};
use phoneprov_store::{EventKind, Mac, Store};

const URL: &str = "https://prov.example.com/$MA.xml";
const T0: i64 = 1_700_000_000_000;

fn mac(s: &str) -> Mac {
    Mac::parse(s).unwrap()
}

fn open() -> (tempfile::TempDir, ActivationStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = ActivationStore::open(dir.path()).unwrap();
    (dir, s)
}

#[test]
fn r_act_1_mac_binding_with_model_filter_and_rebind() {
    let (_d, mut s) = open();
    let m = mac("00:0E:08:AB:CD:EF");
    assert_eq!(s.lookup(m, Some("CP-8841-3PCC"), None).unwrap(), None);
    s.bind(&Target::Mac(m), URL, Some("CP-8841-3PCC"), T0)
        .unwrap();
    let b = s.lookup(m, Some("cp-8841-3pcc"), None).unwrap().unwrap();
    assert_eq!(b.url, URL);
    assert_eq!(b.mac.as_deref(), Some("000e08abcdef"));
    assert_eq!(
        s.lookup(m, Some("CP-6841-3PCC"), None).unwrap(),
        None,
        "model filter"
    );
    // Rebinding replaces (one binding per MAC), and drops the filter.
    s.bind(
        &Target::Mac(m),
        "http://other.example.com/x.xml",
        None,
        T0 + 1,
    )
    .unwrap();
    let b = s.lookup(m, Some("CP-6841-3PCC"), None).unwrap().unwrap();
    assert_eq!(b.url, "http://other.example.com/x.xml");
    assert_eq!(s.list().unwrap().bindings.len(), 1);
    assert!(s.unbind(&Target::Mac(m)).unwrap());
    assert!(!s.unbind(&Target::Mac(m)).unwrap());
    assert_eq!(s.lookup(m, None, None).unwrap(), None);
}

#[test]
fn r_act_1_serial_ranges_match_fixed_width_serials() {
    let (_d, mut s) = open();
    let t = Target::from_parts(None, Some("88012ba00000"), Some("88012BA09999")).unwrap();
    s.bind(&t, URL, None, T0).unwrap();
    let m = mac("000e08000001");
    for (serial, hit) in [
        ("88012BA00000", true),
        ("88012ba05000", true),
        ("88012BA09999", true),
        ("88012BA10000", false),
        ("88012BA0999", false), // shorter: not in a fixed-width range
        ("88012BA099990", false),
    ] {
        assert_eq!(
            s.lookup(m, None, Some(serial)).unwrap().is_some(),
            hit,
            "{serial}"
        );
    }
    // A MAC binding wins over a range; the newest overlapping range wins.
    let narrow = Target::from_parts(None, Some("88012BA05000"), Some("88012BA05999")).unwrap();
    s.bind(&narrow, "http://narrow.example.com/a.xml", None, T0)
        .unwrap();
    let b = s.lookup(m, None, Some("88012BA05001")).unwrap().unwrap();
    assert_eq!(b.url, "http://narrow.example.com/a.xml");
    s.bind(&Target::Mac(m), "http://mac.example.com/a.xml", None, T0)
        .unwrap();
    let b = s.lookup(m, None, Some("88012BA05001")).unwrap().unwrap();
    assert_eq!(b.url, "http://mac.example.com/a.xml");
    assert!(s.unbind(&narrow).unwrap());
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let (_d, mut s) = open();
    let m = Target::Mac(mac("000e08000001"));
    for bad in [
        "",
        "#disabled",
        "gds://",
        "tftp://host",
        "relative.cfg",
        "ftp://x/a",
    ] {
        let e = s.bind(&m, bad, None, T0).unwrap_err();
        assert!(matches!(e, ActivationError::Url { .. }), "{bad}: {e}");
        assert!(e.to_string().contains("bad profile URL"), "{e}");
    }
    for (f, t) in [("B", "A"), ("A1", "A10"), ("", "A"), ("A-1", "A-2")] {
        let e = Target::from_parts(None, Some(f), Some(t)).unwrap_err();
        assert!(
            matches!(e, ActivationError::SerialRange { .. }),
            "{f}..{t}: {e}"
        );
    }
    assert!(matches!(
        Target::from_parts(Some("000e08000001"), Some("A"), Some("B")),
        Err(ActivationError::Target)
    ));
    assert!(matches!(
        Target::from_parts(Some("zz"), None, None),
        Err(ActivationError::Mac(_))
    ));
    assert!(matches!(
        s.issue_codes(URL, 0, Duration::from_secs(1), T0),
        Err(ActivationError::Count(0))
    ));
    assert!(matches!(
        s.add_short_code("12", URL, T0),
        Err(ActivationError::Code(_))
    ));
    let l = s.list().unwrap();
    assert!(l.bindings.is_empty() && l.codes.is_empty() && l.short_codes.is_empty());
}

#[test]
fn r_act_2_activation_codes_are_single_use_and_expire() {
    let (_d, mut s) = open();
    let ttl = Duration::from_secs(3600);
    let codes = s.issue_codes(URL, 50, ttl, T0).unwrap();
    assert_eq!(codes.len(), 50);
    let distinct: std::collections::HashSet<_> = codes.iter().map(|c| &c.code).collect();
    assert_eq!(distinct.len(), 50);
    for c in &codes {
        assert_eq!(c.code.len(), 16);
        assert_eq!(c.expires_ms, T0 + 3_600_000);
    }
    let (a, b) = (mac("000e08000001"), mac("000e08000002"));
    let code = EnteredCode::Activation(codes[0].code.clone());
    assert_eq!(s.redeem(a, &code, T0 + 10).unwrap(), Ok(URL.to_string()));
    // The same phone again (lost answer, retry): same URL.
    assert_eq!(s.redeem(a, &code, T0 + 20).unwrap(), Ok(URL.to_string()));
    // Another phone: used.
    assert_eq!(s.redeem(b, &code, T0 + 30).unwrap(), Err(RedeemError::Used));
    // Redeeming bound the MAC, so the retry path by MAC query finds it.
    assert_eq!(s.lookup(a, None, None).unwrap().unwrap().url, URL);
    assert!(s
        .lookup(a, None, None)
        .unwrap()
        .unwrap()
        .source
        .contains("****"));
    // Expiry: the instant of expiry is already too late.
    let late = EnteredCode::Activation(codes[1].code.clone());
    assert_eq!(
        s.redeem(b, &late, T0 + 3_600_000).unwrap(),
        Err(RedeemError::Expired)
    );
    let ok = EnteredCode::Activation(codes[2].code.clone());
    assert_eq!(
        s.redeem(b, &ok, T0 + 3_599_999).unwrap(),
        Ok(URL.to_string())
    );
    // Unknown.
    let wrong = EnteredCode::Activation("0000000000000000".into());
    let wrong = if codes.iter().any(|c| c.code == wrong.digits()) {
        EnteredCode::Activation("0000000000000001".into())
    } else {
        wrong
    };
    assert_eq!(s.redeem(b, &wrong, T0).unwrap(), Err(RedeemError::Unknown));
    let listed = s.list().unwrap();
    let used: Vec<_> = listed
        .codes
        .iter()
        .filter(|c| c.used_by.is_some())
        .collect();
    assert_eq!(used.len(), 2);
}

#[test]
fn r_act_2_short_codes_are_reusable_and_unique() {
    let (_d, mut s) = open();
    s.add_short_code("1234", URL, T0).unwrap();
    s.add_short_code("1234", URL, T0).unwrap(); // same pair: no-op
    let e = s
        .add_short_code("1234", "http://x.example.com/a.xml", T0)
        .unwrap_err();
    assert!(matches!(e, ActivationError::ShortTaken(_)), "{e}");
    let code = EnteredCode::Short("1234".into());
    for i in 1..=3 {
        let m = mac(&format!("000e0800000{i}"));
        assert_eq!(s.redeem(m, &code, T0).unwrap(), Ok(URL.to_string()));
    }
    assert_eq!(
        s.redeem(mac("000e08000009"), &EnteredCode::Short("999".into()), T0)
            .unwrap(),
        Err(RedeemError::Unknown)
    );
    assert!(s.remove_short_code("1234").unwrap());
    assert_eq!(
        s.redeem(mac("000e08000001"), &code, T0).unwrap(),
        Err(RedeemError::Unknown)
    );
}

#[test]
fn shares_the_inventory_file_and_records_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = ActivationStore::open(dir.path()).unwrap();
    let m = mac("000e08abcdef");
    s.bind(&Target::Mac(m), URL, None, T0).unwrap();
    s.record(m, T0, None, None, "hello".into()).unwrap();
    assert!(dir.path().join(phoneprov_store::DB_FILE).is_file());
    let inv = Store::open_existing(dir.path()).unwrap();
    let ev = inv.events(m, 10).unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, EventKind::Activation);
    assert_eq!(inv.integrity_check().unwrap(), ["ok"]);
    drop(s);
    // Reopening keeps the activation tables (CREATE TABLE IF NOT EXISTS).
    let s = ActivationStore::open(dir.path()).unwrap();
    assert_eq!(s.list().unwrap().bindings.len(), 1);
}

/// Single use holds across connections (several server nodes, or the
/// server and a CLI, on one file): of eight phones racing for one code
/// through their own connections, exactly one gets it.
#[test]
fn r_act_2_single_use_holds_under_concurrent_redemption() {
    let dir = tempfile::tempdir().unwrap();
    let code = {
        let mut s = ActivationStore::open(dir.path()).unwrap();
        s.issue_codes(URL, 1, Duration::from_secs(60), T0).unwrap()[0]
            .code
            .clone()
    };
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (1..=8)
        .map(|i| {
            let (path, code, barrier) = (dir.path().to_path_buf(), code.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut s = ActivationStore::open(&path).unwrap();
                barrier.wait();
                let m = mac(&format!("000e0800000{i}"));
                s.redeem(m, &EnteredCode::Activation(code), T0 + 1).unwrap()
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(_) | Err(RedeemError::Used))));
}

/// Issue 14 item 3 (the console's activation page): a revoked code is
/// refused like an expired one; revoking a redeemed code changes nothing
/// (the phone keeps its binding); an unknown code is `None`.
#[test]
fn revoked_codes_are_refused_and_redeemed_ones_stay() {
    let (_d, mut s) = open();
    let codes = s
        .issue_codes(URL, 2, Duration::from_secs(3600), T0)
        .unwrap();
    let a = mac("000e08000001");
    let used = EnteredCode::Activation(codes[1].code.clone());
    assert_eq!(s.redeem(a, &used, T0 + 5).unwrap(), Ok(URL.to_string()));

    let r = s.revoke_code(&codes[0].code, T0 + 10).unwrap().unwrap();
    assert_eq!(r.expires_ms, T0 + 10);
    let typed = EnteredCode::Activation(codes[0].code.clone());
    assert_eq!(
        s.redeem(a, &typed, T0 + 11).unwrap(),
        Err(RedeemError::Expired)
    );
    let kept = s.revoke_code(&codes[1].code, T0 + 20).unwrap().unwrap();
    assert_eq!(kept.used_by.as_deref(), Some("000e08000001"));
    assert_eq!(
        kept.expires_ms,
        T0 + 3_600_000,
        "a redeemed code is unchanged"
    );
    assert_eq!(s.redeem(a, &used, T0 + 30).unwrap(), Ok(URL.to_string()));
    assert!(s.revoke_code("1234567890123456", T0).unwrap().is_none());
}
