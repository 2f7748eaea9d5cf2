//! Interop with the real `openssl` and `curl` programs (R-HTTPS-5, R-SEC-2):
//! OpenSSL must accept our certificates, read the phone subject the way the
//! seeds' CGI does, and complete (or refuse) mutual-TLS handshakes with a
//! server built from `server_config`.

mod common;

use std::process::Output;

use common::{spawn_server, write};
use phoneprov_pki::{map_cipher_list, server_config, Ca, ClientAuth, IssuedCert};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const MAC: &str = "00562b043615";
const SN: &str = "CCQ2114A0B1";
const PN: &str = "CP-8841-3PCC";

/// Runs a peer program; a missing program fails the test with a clear message.
async fn run(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot run `{program}` ({e}): install it (scripts/ installs the test peers)")
    });
    let mut pipe = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        pipe.write_all(data).await.unwrap();
    }
    drop(pipe);
    tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("`{program}` did not finish within 20 s"))
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Files {
    _dir: tempfile::TempDir,
    ca: String,
    phone_cert: String,
    phone_key: String,
    rogue_cert: String,
    rogue_key: String,
}

fn files(ca: &Ca, phone: &IssuedCert) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let p = |path: std::path::PathBuf| path.to_str().unwrap().to_string();
    let rogue = Ca::generate("rogue")
        .unwrap()
        .issue_phone(MAC, SN, PN)
        .unwrap();
    Files {
        ca: p(write(dir.path(), "ca.pem", ca.cert_pem())),
        phone_cert: p(write(dir.path(), "phone.pem", &phone.cert_pem)),
        phone_key: p(write(dir.path(), "phone.key", &phone.key_pem)),
        rogue_cert: p(write(dir.path(), "rogue.pem", &rogue.cert_pem)),
        rogue_key: p(write(dir.path(), "rogue.key", &rogue.key_pem)),
        _dir: dir,
    }
}

fn setup() -> (Ca, IssuedCert, IssuedCert, Files) {
    let ca = Ca::generate("phoneprov interop CA").unwrap();
    let server = ca.issue_server(&[]).unwrap();
    let phone = ca.issue_phone(MAC, SN, PN).unwrap();
    let f = files(&ca, &phone);
    (ca, server, phone, f)
}

#[tokio::test]
async fn r_https_5_openssl_verifies_phone_cert_and_reads_ou_l_st() {
    let (_ca, server, _phone, f) = setup();
    let out = run(
        "openssl",
        &["verify", "-CAfile", &f.ca, &f.phone_cert],
        None,
    )
    .await;
    assert!(
        out.status.success(),
        "openssl verify failed: {}",
        text(&out)
    );
    assert!(text(&out).contains(": OK"), "{}", text(&out));

    // Purpose check: the phone cert is a TLS client cert, not a server cert.
    let out = run(
        "openssl",
        &[
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            &f.ca,
            &f.phone_cert,
        ],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));

    let out = run(
        "openssl",
        &["verify", "-CAfile", &f.ca, &f.rogue_cert],
        None,
    )
    .await;
    assert!(
        !out.status.success(),
        "openssl accepted a foreign cert: {}",
        text(&out)
    );

    let out = run(
        "openssl",
        &["x509", "-noout", "-subject", "-in", &f.phone_cert],
        None,
    )
    .await;
    let subject = text(&out);
    for part in [
        format!("OU = {PN}"),
        format!("L = {SN}"),
        format!("ST = {MAC}"),
    ] {
        assert!(
            subject.contains(&part),
            "subject {subject:?} lacks {part:?}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let server_pem = write(dir.path(), "server.pem", &server.cert_pem);
    let out = run(
        "openssl",
        &[
            "verify",
            "-purpose",
            "sslserver",
            "-CAfile",
            &f.ca,
            server_pem.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(
        "openssl",
        &[
            "x509",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
            server_pem.to_str().unwrap(),
        ],
        None,
    )
    .await;
    let sans = text(&out);
    assert!(
        sans.contains("DNS:localhost")
            && sans.contains("IP Address:127.0.0.1")
            && sans.contains("IP Address:0:0:0:0:0:0:0:1"),
        "{sans}"
    );
}

#[tokio::test]
async fn r_https_5_openssl_s_client_mutual_tls_against_server_config() {
    let (ca, server, _phone, f) = setup();
    let config = server_config(
        server.cert_pem.as_bytes(),
        server.key_pem.as_bytes(),
        Some(ca.cert_pem().as_bytes()),
        ClientAuth::Required,
    )
    .unwrap();
    let mut srv = spawn_server(config).await;
    let connect = format!("127.0.0.1:{}", srv.port);
    let request = b"GET / HTTP/1.0\r\n\r\n".as_slice();
    let base = [
        "s_client",
        "-connect",
        &connect,
        "-servername",
        "localhost",
        "-CAfile",
        &f.ca,
        "-verify_return_error",
        "-ign_eof",
        "-alpn",
        "http/1.1",
    ];

    // With the phone cert: handshake completes and the server names the phone.
    let mut args = base.to_vec();
    args.extend(["-cert", &f.phone_cert, "-key", &f.phone_key]);
    let out = run("openssl", &args, Some(request)).await;
    let t = text(&out);
    assert!(out.status.success(), "s_client failed: {t}");
    assert!(t.contains("Verify return code: 0 (ok)"), "{t}");
    assert!(t.contains("ALPN protocol: http/1.1"), "{t}");
    assert!(t.contains(&format!("\"mac\":\"{MAC}\"")), "{t}");
    assert_eq!(srv.next().await.unwrap().unwrap().mac, MAC);

    // Without a cert (TLS 1.3): the server refuses; no HTTP answer comes back.
    let out = run("openssl", &base, Some(request)).await;
    let t = text(&out);
    assert!(
        !t.contains("HTTP/1.1 200"),
        "server answered a client without cert: {t}"
    );
    assert!(t.contains("alert"), "{t}");
    assert!(srv.next().await.is_err());

    // Without a cert (TLS 1.2): the handshake itself fails.
    let mut args = base.to_vec();
    args.push("-tls1_2");
    let out = run("openssl", &args, Some(request)).await;
    assert!(
        !out.status.success(),
        "TLS 1.2 handshake without cert succeeded: {}",
        text(&out)
    );
    assert!(srv.next().await.is_err());

    // A cert from another CA is refused too.
    let mut args = base.to_vec();
    args.extend(["-tls1_2", "-cert", &f.rogue_cert, "-key", &f.rogue_key]);
    let out = run("openssl", &args, Some(request)).await;
    assert!(
        !out.status.success(),
        "foreign cert accepted: {}",
        text(&out)
    );
    assert!(srv.next().await.is_err());
}

#[tokio::test]
async fn r_https_5_curl_gets_the_identity_the_server_extracted() {
    let (ca, server, _phone, f) = setup();
    let config = server_config(
        server.cert_pem.as_bytes(),
        server.key_pem.as_bytes(),
        Some(ca.cert_pem().as_bytes()),
        ClientAuth::Required,
    )
    .unwrap();
    let mut srv = spawn_server(config).await;
    let url = format!("https://localhost:{}/", srv.port);
    let resolve = format!("localhost:{}:127.0.0.1", srv.port);
    let out = run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "--resolve",
            &resolve,
            "--cacert",
            &f.ca,
            "--cert",
            &f.phone_cert,
            "--key",
            &f.phone_key,
            &url,
        ],
        None,
    )
    .await;
    assert!(out.status.success(), "curl failed: {}", text(&out));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"mac": MAC, "serial": SN, "model": PN})
    );
    assert!(srv.next().await.is_ok());

    let out = run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "--resolve",
            &resolve,
            "--cacert",
            &f.ca,
            &url,
        ],
        None,
    )
    .await;
    assert!(
        !out.status.success(),
        "curl without a client cert got through: {}",
        text(&out)
    );
    assert!(srv.next().await.is_err());
}

/// R-SEC-2: our mapping equals what OpenSSL itself selects from the suites
/// rustls implements, in the same order.
#[tokio::test]
async fn r_sec_2_cipher_mapping_agrees_with_openssl_ciphers() {
    let ours = |s: &str| map_cipher_list(s).tls12_openssl_names();
    let table = map_cipher_list("ALL").tls12_openssl_names();
    for s in [
        "ECDHE+AESGCM",
        "HIGH",
        "DEFAULT",
        "aRSA",
        "ECDSA",
        "AES256:@STRENGTH",
        "kEECDH",
        "EECDH+CHACHA20",
        "HIGH:!CHACHA20:CHACHA20",
        "HIGH:-CHACHA20:CHACHA20",
        "HIGH:+AES128",
        "AES128:AES256:@STRENGTH",
        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
        "aRSA:garbage",
    ] {
        let out = run("openssl", &["ciphers", "-tls1_2", "-s", s], None).await;
        assert!(out.status.success(), "openssl ciphers {s}: {}", text(&out));
        let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .trim()
            .split(':')
            .filter(|n| table.contains(n))
            .map(str::to_string)
            .collect();
        assert_eq!(ours(s), theirs, "cipher string {s:?}");
    }
    // Strings OpenSSL accepts but that leave none of rustls' suites.
    for s in ["RSA:!aNULL:!eNULL", "AES128-SHA"] {
        let out = run("openssl", &["ciphers", "-tls1_2", "-s", s], None).await;
        let theirs = String::from_utf8_lossy(&out.stdout);
        assert!(table.iter().all(|n| !theirs.contains(n)), "{s}: {theirs}");
        assert!(map_cipher_list(s).is_default(), "{s}");
    }
    // OpenSSL rejects garbage; we fall back to the default list.
    let out = run("openssl", &["ciphers", "garbage"], None).await;
    assert!(!out.status.success());
    assert!(map_cipher_list("garbage").is_default());
}
