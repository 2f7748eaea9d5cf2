//! The CA on disk: layout, file modes, refusal to overwrite, reload.

use std::os::unix::fs::PermissionsExt;

use phoneprov_pki::{
    ensure_ca, init_ca, init_ca_force, load_ca, phone_identity_from_der, summarize_pem, PkiError,
};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_creates_layout_with_private_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data/ca");
    let files = init_ca(
        &dir,
        "Lab CA",
        &[
            "pv.telco.net/mailto:admin@telco.net".into(),
            "10.1.2.3".into(),
        ],
    )
    .unwrap();
    assert_eq!(files.dir, dir);
    assert_eq!(mode(&files.ca_key()), 0o600);
    assert_eq!(mode(&files.server_key()), 0o600);
    assert_eq!(
        mode(&files.ca_cert()) & 0o600,
        0o600,
        "ca.pem must stay readable"
    );
    assert_eq!(mode(&dir), 0o700);
    let ca = summarize_pem(&std::fs::read(files.ca_cert()).unwrap()).unwrap();
    assert!(ca.is_ca && ca.subject.contains("CN=Lab CA"), "{ca:?}");
    let server = summarize_pem(&std::fs::read(files.server_cert()).unwrap()).unwrap();
    assert!(!server.is_ca);
    assert_eq!(server.issuer, ca.subject);
    assert_eq!(
        server.subject_alt_names,
        ["DNS:pv.telco.net", "IP:10.1.2.3"]
    );
    assert!(std::fs::read_to_string(files.ca_key())
        .unwrap()
        .contains("BEGIN PRIVATE KEY"));
}

#[test]
fn init_refuses_to_replace_an_existing_ca_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let files = init_ca(tmp.path(), "A", &[]).unwrap();
    let first = std::fs::read(files.ca_cert()).unwrap();
    let err = init_ca(tmp.path(), "B", &[]).unwrap_err();
    assert!(matches!(err, PkiError::CaExists { .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(
        std::fs::read(files.ca_cert()).unwrap(),
        first,
        "CA was modified"
    );

    // A loose key with mode 0644 is reset to 0600 by --force.
    std::fs::set_permissions(files.ca_key(), std::fs::Permissions::from_mode(0o644)).unwrap();
    init_ca_force(tmp.path(), "B", &[]).unwrap();
    assert_ne!(std::fs::read(files.ca_cert()).unwrap(), first);
    assert_eq!(mode(&files.ca_key()), 0o600);
}

#[test]
fn load_issues_certs_that_chain_to_the_saved_ca() {
    let tmp = tempfile::tempdir().unwrap();
    init_ca(tmp.path(), "A", &[]).unwrap();
    let ca = load_ca(tmp.path()).unwrap();
    let phone = ca
        .issue_phone("AA-BB-CC-DD-EE-FF", "SN1", "CP-7841-3PCC")
        .unwrap();
    let summary = summarize_pem(phone.cert_pem.as_bytes()).unwrap();
    assert_eq!(
        summary.issuer,
        summarize_pem(ca.cert_pem().as_bytes()).unwrap().subject
    );
    assert_eq!(
        phone_identity_from_der(&phone.cert_der().unwrap())
            .unwrap()
            .mac,
        "aabbccddeeff"
    );
    // Keys never show up in Debug output.
    assert!(!format!("{phone:?}").contains("PRIVATE KEY"));
    assert!(!format!("{ca:?}").contains("PRIVATE KEY"));
}

#[test]
fn load_without_ca_says_to_run_init() {
    let tmp = tempfile::tempdir().unwrap();
    let err = load_ca(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("phoneprov ca init"), "{err}");
}

#[test]
fn load_rejects_a_key_from_another_ca() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    init_ca(a.path(), "A", &[]).unwrap();
    init_ca(b.path(), "B", &[]).unwrap();
    std::fs::copy(b.path().join("ca.key"), a.path().join("ca.key")).unwrap();
    let err = load_ca(a.path()).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn ensure_creates_once_then_loads_and_reissues_a_missing_server_cert() {
    let tmp = tempfile::tempdir().unwrap();
    let (files, created) = ensure_ca(tmp.path(), "A", &[]).unwrap();
    assert!(created);
    let ca_pem = std::fs::read(files.ca_cert()).unwrap();
    std::fs::remove_file(files.server_cert()).unwrap();
    let (_, created) = ensure_ca(tmp.path(), "A", &[]).unwrap();
    assert!(!created);
    assert_eq!(std::fs::read(files.ca_cert()).unwrap(), ca_pem);
    assert!(files.server_cert().exists());
}

#[test]
fn bad_server_name_leaves_no_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let err = init_ca(&dir, "A", &["not a name!".into()]).unwrap_err();
    assert!(
        matches!(
            err,
            PkiError::BadField {
                field: "server name",
                ..
            }
        ),
        "{err}"
    );
    assert!(!dir.exists());
}
