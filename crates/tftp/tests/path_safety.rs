//! Path safety of [`DirHandler`] (R-TFTP-1: paths are relative to the
//! virtual root): no escape through `..`, absolute paths, backslashes, NUL,
//! `%`-escapes or symlinks pointing outside. Each attempt must end in the
//! one ERROR 1 answer that a missing file gets, never in content.

mod common;

use phoneprov_tftp::{
    resolve_path, ClientError, DirHandler, ErrorCode, Handler, HandlerError, Mode, ReadRequest,
    TftpClient,
};
use std::path::Path;

const SECRET: &[u8] = b"outside secret";

struct Tree {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn tree() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("ok.txt"), b"ok").unwrap();
    std::fs::write(root.join("sub/inner.txt"), b"inner").unwrap();
    std::fs::write(outside.join("secret.txt"), SECRET).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("link")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("linkdir")).unwrap();
    std::os::unix::fs::symlink(root.join("ok.txt"), root.join("inlink")).unwrap();
    let root = std::fs::canonicalize(root).unwrap();
    Tree {
        _tmp: tmp,
        root,
        outside,
    }
}

fn attacks(outside: &Path) -> Vec<String> {
    let abs = outside.join("secret.txt").display().to_string();
    vec![
        "../outside/secret.txt".into(),
        "sub/../../outside/secret.txt".into(),
        "..".into(),
        abs.clone(),
        format!("//{abs}"),
        "/etc/passwd".into(),
        "..\\outside\\secret.txt".into(),
        "sub\\..\\ok.txt".into(),
        "ok.txt\0../outside/secret.txt".into(),
        "%2e%2e/outside/secret.txt".into(),
        "%2E%2E%2Foutside%2Fsecret.txt".into(),
        "ok%2etxt".into(),
        "link".into(),
        "linkdir/secret.txt".into(),
        "sub".into(),
        "".into(),
    ]
}

#[test]
fn r_tftp_dir_handler_never_escapes_the_root() {
    let t = tree();
    for attack in attacks(&t.outside) {
        match resolve_path(&t.root, &attack) {
            Ok(p) => panic!("{attack:?} resolved to {}", p.display()),
            Err(e) => assert_eq!(e.code(), ErrorCode::FILE_NOT_FOUND, "{attack:?}: {e}"),
        }
    }
    for ok in [
        "ok.txt",
        "/ok.txt",
        "sub/inner.txt",
        "./sub//inner.txt",
        "inlink",
    ] {
        let p = resolve_path(&t.root, ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        assert!(p.starts_with(&t.root));
    }
}

#[tokio::test]
async fn r_tftp_dir_handler_read_refuses_with_error_codes() {
    let t = tree();
    let h = DirHandler::new(&t.root).unwrap();
    let req = |path: &str| ReadRequest {
        path: path.into(),
        client: "127.0.0.1:1".parse().unwrap(),
        mode: Mode::Octet,
        options: phoneprov_tftp::TransferOptions {
            blksize: 512,
            windowsize: 1,
            timeout: std::time::Duration::from_secs(1),
            tsize: None,
        },
    };
    // Not there and not allowed get one answer (issue 12 item 5: no
    // symlink-existence oracle).
    for name in [
        "../outside/secret.txt",
        "missing.cfg",
        "link",
        "linkdir/secret.txt",
        "sub",
    ] {
        assert_eq!(
            h.read(req(name)).await.err(),
            Some(HandlerError::not_served()),
            "{name}"
        );
    }
    match h.read(req("ok.txt")).await.unwrap() {
        phoneprov_tftp::Content::Bytes(b) => assert_eq!(&b[..], b"ok"),
        other => panic!("small file should be bytes: {other:?}"),
    }
    assert!(DirHandler::new(t.root.join("nope")).is_err());
    assert!(DirHandler::new(t.root.join("ok.txt")).is_err());
}

#[test]
fn r_tftp_server_answers_escapes_with_error_1_or_2_over_the_wire() {
    let t = tree();
    let server = common::TestServer::start(&t.root);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = TftpClient::default();
    for attack in attacks(&t.outside) {
        if attack.contains('\0') {
            continue; // cannot be put in an RRQ string; covered above
        }
        match rt.block_on(client.get(server.addr, &attack)) {
            Ok(data) => panic!("{attack:?} returned {} bytes", data.len()),
            // One answer for every refusal (issue 12 item 5).
            Err(ClientError::NotFound { .. }) => {}
            Err(e) => panic!("{attack:?}: unexpected error {e}"),
        }
    }
    assert_eq!(
        rt.block_on(client.get(server.addr, "/sub/inner.txt"))
            .unwrap(),
        b"inner"
    );
}
