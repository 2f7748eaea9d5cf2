//! curl (a third-party client) against a tiny tokio HTTP server that uses
//! this crate's server side (R-HTTP-4): `curl --digest` must get 200 on the
//! second leg for SHA-256 and MD5 challenges, `curl --basic` on the first,
//! and wrong passwords must end in 401.

mod common;

use phoneprov_httpauth::*;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const REALM: &str = "phoneprov test";
const USER: &str = "phone";
const PASS: &str = "s3cr\"et pass";

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Digest(&'static [Algorithm]),
    Basic,
}

struct State {
    mode: Mode,
    nonces: NonceManager,
    challenges: AtomicUsize,
    accepted: Mutex<Vec<Option<Algorithm>>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Decides the answer to one request: `(status, WWW-Authenticate values)`.
fn decide(st: &State, method: &str, target: &str, authz: Option<&str>) -> (u16, Vec<String>) {
    let parsed = authz.map(parse_authorization);
    match (st.mode, parsed) {
        (Mode::Basic, Some(Ok(Authorization::Basic { user, pass })))
            if verify_basic(&user, &pass, USER, PASS) =>
        {
            st.accepted.lock().unwrap().push(None);
            (200, vec![])
        }
        (Mode::Basic, _) => (401, vec![basic_challenge(REALM)]),
        (Mode::Digest(algs), parsed) => {
            let mut stale = false;
            if let Some(Ok(Authorization::Digest(d))) = parsed {
                if d.realm == REALM && d.uri == target && d.username == USER {
                    match st.nonces.check(&d.nonce, now()) {
                        NonceStatus::Valid
                            if verify_digest(&d, method, Secret::Password(PASS), b"")
                                && st.nonces.record(&d, now()) == NonceStatus::Valid =>
                        {
                            st.accepted.lock().unwrap().push(Some(d.algorithm));
                            return (200, vec![]);
                        }
                        NonceStatus::Stale => stale = true,
                        _ => {}
                    }
                }
            }
            st.challenges.fetch_add(1, Ordering::SeqCst);
            (
                401,
                challenge_headers(REALM, algs, &st.nonces.issue(now()), stale),
            )
        }
    }
}

async fn serve(listener: TcpListener, st: Arc<State>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let st = st.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 2048];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 32_768 {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let text = String::from_utf8_lossy(&buf).to_string();
            let mut lines = text.split("\r\n");
            let mut req_line = lines.next().unwrap_or_default().split(' ');
            let method = req_line.next().unwrap_or_default().to_string();
            let target = req_line.next().unwrap_or_default().to_string();
            let authz = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v.trim().to_string());
            let (status, challenges) = decide(&st, &method, &target, authz.as_deref());
            let body = if status == 200 {
                "<flat-profile/>\n"
            } else {
                "denied\n"
            };
            let mut resp = format!(
                "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                if status == 200 { "OK" } else { "Unauthorized" },
                body.len()
            );
            for c in challenges {
                resp.push_str(&format!("WWW-Authenticate: {c}\r\n"));
            }
            resp.push_str("\r\n");
            resp.push_str(body);
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

/// Starts the server on its own runtime thread; returns its address.
fn start(mode: Mode) -> (SocketAddr, Arc<State>) {
    let st = Arc::new(State {
        mode,
        nonces: NonceManager::new([42; 32], Duration::from_secs(60)),
        challenges: AtomicUsize::new(0),
        accepted: Mutex::new(Vec::new()),
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let st2 = st.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            serve(l, st2).await;
        });
    });
    (rx.recv().unwrap(), st)
}

/// Runs curl and returns the final HTTP status it printed.
fn curl(addr: SocketAddr, flag: &str, password: &str) -> String {
    let out = Command::new(common::peer("curl"))
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
            flag,
        ])
        .arg("-u")
        .arg(format!("{USER}:{password}"))
        .arg(format!("http://{addr}/cfg/phone.xml?mac=0011"))
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn r_http_4_curl_digest_sha256_and_md5_offered() {
    let (addr, st) = start(Mode::Digest(&[Algorithm::Md5, Algorithm::Sha256]));
    assert_eq!(curl(addr, "--digest", PASS), "200");
    assert_eq!(st.challenges.load(Ordering::SeqCst), 1, "one 401, then 200");
    let used = st.accepted.lock().unwrap().clone();
    assert_eq!(used.len(), 1);
    assert!(
        matches!(used[0], Some(Algorithm::Sha256 | Algorithm::Md5)),
        "{used:?}"
    );
}

#[test]
fn r_http_4_curl_digest_each_algorithm_alone() {
    for algs in [&[Algorithm::Md5][..], &[Algorithm::Sha256][..]] {
        let (addr, st) = start(Mode::Digest(algs));
        assert_eq!(curl(addr, "--digest", PASS), "200", "{algs:?}");
        assert_eq!(st.accepted.lock().unwrap().as_slice(), &[Some(algs[0])]);
    }
}

#[test]
fn r_http_4_curl_digest_wrong_password_is_401() {
    let (addr, st) = start(Mode::Digest(&[Algorithm::Sha256, Algorithm::Md5]));
    assert_eq!(curl(addr, "--digest", "wrong"), "401");
    assert!(st.accepted.lock().unwrap().is_empty());
}

#[test]
fn r_http_4_curl_basic() {
    let (addr, st) = start(Mode::Basic);
    assert_eq!(curl(addr, "--basic", PASS), "200");
    assert_eq!(st.accepted.lock().unwrap().len(), 1);
    assert_eq!(curl(addr, "--basic", "nope"), "401");
}

#[test]
fn r_http_4_replayed_authorization_is_refused() {
    // Our own client answers once; replaying the same header must fail.
    let (addr, _st) = start(Mode::Digest(&[Algorithm::Sha256]));
    let first = common::raw_get(addr.port(), "/p.xml", None);
    assert_eq!(first.status, 401);
    let chs = parse_challenges(&first.all("www-authenticate").join(", ")).unwrap();
    let auth = authorization(
        best_challenge(&chs).unwrap(),
        &Credentials::new(USER, PASS),
        "GET",
        "/p.xml",
        b"",
        "abc",
        1,
    );
    assert_eq!(
        common::raw_get(addr.port(), "/p.xml", Some(&auth)).status,
        200
    );
    assert_eq!(
        common::raw_get(addr.port(), "/p.xml", Some(&auth)).status,
        401,
        "replay"
    );
}
