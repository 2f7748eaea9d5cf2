//! `Custom_CA_Rule` (R-SEC-1, issue 15 item 4) on the virtual clock: the
//! CA is fetched before the boot resync, installed as an extra trust
//! anchor (`Phone::custom_ca_pem`), shown like the seeds' "Custom CA
//! Info"; a file that is not a certificate, a refused host or a failed
//! transfer keeps the previous CA and the phone keeps resyncing.

mod common;

use common::*;
use phoneprov_phone::*;

const CA_URL: &str = "http://ca.prov.example/custom-ca.pem";
const PROFILE: &str = "http://prov.example/p.xml";

fn ca_pem(cn: &str) -> Vec<u8> {
    phoneprov_pki::Ca::generate(cn)
        .unwrap()
        .cert_pem()
        .as_bytes()
        .to_vec()
}

fn ca_results(h: &Harness) -> Vec<(bool, Option<String>)> {
    h.log
        .iter()
        .filter_map(|(_, a)| match a {
            Action::CustomCaFinished { ok, error } => Some((*ok, error.clone())),
            _ => None,
        })
        .collect()
}

fn params(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut p = vec![
        ("Profile_Rule", PROFILE),
        ("Resync_Random_Delay", "0"),
        ("Resync_Periodic", "0"),
    ];
    p.extend_from_slice(extra);
    p
}

#[test]
fn r_sec_custom_ca_fetched_before_the_boot_resync_and_shown_in_status() {
    let pem = ca_pem("Telco Custom CA");
    let mut h = Harness::new(
        &params(&[("Custom_CA_Rule", CA_URL)]),
        routes(&[
            (CA_URL, vec![http(200, &[], &pem)]),
            (PROFILE, vec![ok_xml(&profile(&[("GPP_A", "1")]))]),
        ]),
    );
    h.power_on();
    let f = h.fetches();
    assert_eq!(f[0].1.purpose, Purpose::CustomCa);
    assert_eq!(f[0].1.url.to_string(), CA_URL);
    assert_eq!(f[1].1.purpose, Purpose::Profile { rule_index: 0 });
    assert_eq!(h.classes(), vec![Class::A]);
    assert_eq!(h.phone.custom_ca_pem(), Some(pem.as_slice()));
    assert_eq!(ca_results(&h), vec![(true, None)]);
    let s = h.phone.status_json();
    assert_eq!(s["custom_ca"]["info"], "Installed: Telco Custom CA");
    assert_eq!(
        s["custom_ca"]["provisioning_status"],
        "Last provisioning succeeded at 01/01/1970 00:00:00"
    );
    assert_eq!(s["custom_ca"]["certificates"], 1);
}

#[test]
fn r_sec_custom_ca_not_a_certificate_keeps_the_previous_one() {
    let good = ca_pem("First CA");
    let mut h = Harness::new(
        &params(&[("Custom_CA_Rule", CA_URL)]),
        routes(&[
            (CA_URL, vec![http(200, &[], &good)]),
            (
                "http://ca.prov.example/bad.pem",
                vec![http(200, &[], b"<html>Not a certificate</html>")],
            ),
            (PROFILE, vec![ok_xml(&profile(&[("GPP_A", "1")]))]),
        ]),
    );
    h.power_on();
    assert_eq!(h.phone.custom_ca().unwrap().common_name, "First CA");
    h.clear_log();
    h.input(Input::SetParams {
        params: vec![(
            "Custom_CA_Rule".into(),
            "http://ca.prov.example/bad.pem".into(),
        )],
    });
    let r = ca_results(&h);
    assert_eq!(r.len(), 1);
    assert!(!r[0].0);
    let e = r[0].1.clone().unwrap();
    assert!(e.contains("is not a certificate file"), "{e}");
    assert!(e.contains("keeps its previous custom CA"), "{e}");
    // The previous CA stays installed; the status says the last attempt
    // failed and why.
    assert_eq!(h.phone.custom_ca_pem(), Some(good.as_slice()));
    let s = h.phone.status_json();
    assert_eq!(s["custom_ca"]["info"], "Installed: First CA");
    assert!(s["custom_ca"]["provisioning_status"]
        .as_str()
        .unwrap()
        .starts_with("Last provisioning failed at "));
    assert!(s["custom_ca"]["error"]
        .as_str()
        .unwrap()
        .contains("not a certificate"));
    // The phone keeps working: the next resync runs and succeeds.
    h.input(Input::ResyncNow {
        rule: None,
        from_host: None,
    });
    assert_eq!(h.last_class(), Class::A);
    // An emptied rule removes the CA.
    h.input(Input::SetParams {
        params: vec![("Custom_CA_Rule".into(), "".into())],
    });
    assert_eq!(h.phone.custom_ca_pem(), None);
    assert_eq!(h.phone.status_json()["custom_ca"]["info"], "Not Installed");
}

#[test]
fn r_sec_1_custom_ca_rule_outside_restricted_domains_is_refused() {
    let mut h = Harness::new(
        &params(&[
            ("Custom_CA_Rule", "http://evil.example/ca.pem"),
            ("Restricted_Access_Domains", "prov.example"),
        ]),
        routes(&[(PROFILE, vec![ok_xml(&profile(&[("GPP_A", "1")]))])]),
    );
    h.power_on();
    assert_eq!(h.fetch_urls(), vec![PROFILE.to_string()], "no CA fetch");
    let r = ca_results(&h);
    assert!(!r[0].0);
    assert!(
        r[0].1
            .as_deref()
            .unwrap()
            .contains("not in Restricted_Access_Domains"),
        "{r:?}"
    );
    assert_eq!(h.phone.custom_ca_pem(), None);
    assert_eq!(h.last_class(), Class::A);
}

#[test]
fn r_sec_custom_ca_rule_from_a_profile_and_transfer_failures() {
    let pem = ca_pem("Profile CA");
    let mut h = Harness::new(
        &params(&[]),
        routes(&[
            (
                PROFILE,
                vec![ok_xml(&profile(&[("Custom_CA_Rule", CA_URL)]))],
            ),
            (CA_URL, vec![http(503, &[], b""), http(200, &[], &pem)]),
        ]),
    );
    h.power_on();
    // The profile set the rule: fetched after the resync; 503 fails.
    let r = ca_results(&h);
    assert_eq!(r.len(), 1);
    assert!(r[0].1.as_deref().unwrap().contains("503"), "{r:?}");
    assert_eq!(h.phone.custom_ca_pem(), None);
    // Unchanged rule: no refetch on a resync; the next boot fetches again.
    h.input(Input::ResyncNow {
        rule: None,
        from_host: None,
    });
    assert_eq!(ca_results(&h).len(), 1);
    h.input(Input::Reboot);
    assert_eq!(ca_results(&h).len(), 2);
    assert_eq!(h.phone.custom_ca().unwrap().common_name, "Profile CA");
}

#[test]
fn r_tr69_2_downloaded_custom_ca_is_installed_or_refused() {
    let mut h = Harness::new(&params(&[]), routes(&[]));
    h.power_on();
    h.input(Input::InstallCustomCa {
        pem: b"garbage".to_vec(),
        source: "http://acs/ca.pem".into(),
    });
    assert_eq!(h.phone.custom_ca_pem(), None);
    let pem = ca_pem("ACS CA");
    h.input(Input::InstallCustomCa {
        pem: pem.clone(),
        source: "http://acs/ca.pem".into(),
    });
    assert_eq!(h.phone.custom_ca_pem(), Some(pem.as_slice()));
    let r = ca_results(&h);
    assert_eq!(r.len(), 2);
    assert!(!r[0].0 && r[1].0, "{r:?}");
}

/// Files that look like certificates and are not: a private key (PEM, no
/// CERTIFICATE block), a CERTIFICATE block whose body is not DER, and
/// an empty file. Each is one clear error; nothing is installed and
/// the boot resync still runs.
#[test]
fn r_sec_custom_ca_a_private_key_or_a_broken_pem_is_refused() {
    let key = phoneprov_pki::Ca::generate("Key Only")
        .unwrap()
        .issue_server(&["prov.example".to_string()])
        .unwrap()
        .key_pem;
    let broken =
        b"-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    for (name, body) in [
        ("a private key", key.as_bytes().to_vec()),
        ("a broken CERTIFICATE block", broken.to_vec()),
        ("an empty file", Vec::new()),
    ] {
        let mut h = Harness::new(
            &params(&[("Custom_CA_Rule", CA_URL)]),
            routes(&[
                (CA_URL, vec![http(200, &[], &body)]),
                (PROFILE, vec![ok_xml(&profile(&[("GPP_A", "1")]))]),
            ]),
        );
        h.power_on();
        let r = ca_results(&h);
        assert_eq!(r.len(), 1, "{name}");
        assert!(!r[0].0, "{name}");
        let e = r[0].1.clone().unwrap();
        assert!(e.contains("is not a certificate file"), "{name}: {e}");
        assert_eq!(h.phone.custom_ca_pem(), None, "{name}");
        assert_eq!(h.phone.status_json()["custom_ca"]["info"], "Not Installed");
        assert_eq!(h.last_class(), Class::A, "{name}: the phone keeps working");
    }
}
