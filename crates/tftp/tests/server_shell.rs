//! Tests of the tokio server shell (R-TFTP-1): a handler rendering content
//! per request, an async reader of unknown size, many concurrent transfers
//! on one runtime, graceful shutdown, the concurrency and rate limits, and
//! uploads (WRQ) from tftp-hpa with a size cap, and the transfer-end hook.

mod common;

use phoneprov_tftp::{
    ClientConfig, ClientError, ClientErrorKind, Content, ErrorCode, Handler, HandlerError,
    ReadRequest, Server, ServerLimits, TftpClient, TransferEnd, TransferError,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Renders `<device path=... blksize=...>` for `*.cfg`, streams `slow.bin`
/// through a pipe in small chunks with no size, refuses the rest.
#[derive(Clone, Default)]
struct Render {
    served: Arc<AtomicUsize>,
    /// Every [`Handler::finished`] call: path, bytes, error.
    ends: Arc<std::sync::Mutex<Vec<End>>>,
}

/// What [`Handler::finished`] heard: path, bytes, error text.
type End = (String, u64, Option<String>);

const SLOW_LEN: usize = 300_000;

fn slow_content() -> Vec<u8> {
    (0..SLOW_LEN).map(|i| (i % 251) as u8).collect()
}

impl Handler for Render {
    fn finished(&self, r: &ReadRequest, end: &TransferEnd<'_>) {
        self.ends.lock().unwrap().push((
            r.path.clone(),
            end.bytes,
            end.error.map(|e| e.to_string()),
        ));
    }

    async fn read(&self, r: ReadRequest) -> Result<Content, HandlerError> {
        self.served.fetch_add(1, Ordering::Relaxed);
        if r.path == "slow.bin" || r.path == "slower.bin" {
            let pause = Duration::from_millis(if r.path == "slow.bin" { 2 } else { 15 });
            let (mut tx, rx) = tokio::io::duplex(4096);
            tokio::spawn(async move {
                for chunk in slow_content().chunks(7000) {
                    if tx.write_all(chunk).await.is_err() {
                        return; // the transfer was stopped
                    }
                    tokio::time::sleep(pause).await;
                }
            });
            return Ok(Content::Reader {
                reader: Box::pin(rx),
                size: None,
            });
        }
        if r.path == "secret.cfg" {
            return Err(HandlerError::AccessDenied("not for you".into()));
        }
        match r.path.strip_suffix(".cfg") {
            Some(dev) => Ok(Content::Bytes(
                format!(
                    "<flat-profile><device>{dev}</device><ip>{}</ip><blk>{}</blk></flat-profile>",
                    r.client.ip(),
                    r.options.blksize
                )
                .into(),
            )),
            None => Err(HandlerError::NotFound(format!(
                "{} is not a profile",
                r.path
            ))),
        }
    }
}

async fn start(
    handler: Render,
    limits: ServerLimits,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), handler)
        .await
        .unwrap()
        .with_limits(limits);
    let addr = server.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve_until(async {
                let _ = rx.await;
            })
            .await
            .unwrap()
    });
    (addr, tx, task)
}

#[tokio::test]
async fn r_tftp_handler_renders_per_request_and_streams_unknown_size() {
    let (addr, _stop, _task) = start(Render::default(), ServerLimits::default()).await;
    let client = TftpClient::new(ClientConfig {
        blksize: Some(1024),
        ..ClientConfig::default()
    });
    let got = client.get(addr, "SEP001122334455.cfg").await.unwrap();
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "<flat-profile><device>SEP001122334455</device><ip>127.0.0.1</ip><blk>1024</blk></flat-profile>"
    );
    let mut out = Vec::new();
    let f = client
        .get_to_writer(addr, "slow.bin", &mut out)
        .await
        .unwrap();
    assert!(out == slow_content());
    assert_eq!(f.options.tsize, None, "unknown size: no tsize in the OACK");
    let err = client.get(addr, "firmware.bin").await.unwrap_err();
    assert_eq!(err.kind(), ClientErrorKind::NotFound);
    match client.get(addr, "secret.cfg").await.unwrap_err() {
        ClientError::Transfer {
            cause: TransferError::Remote { code, .. },
            ..
        } => assert_eq!(code, ErrorCode::ACCESS_VIOLATION),
        e => panic!("expected ERROR 2, got {e}"),
    }
}

/// Polls `ends` until it holds `n` entries (a transfer's end is reported
/// after its last ACK, which the client does not wait for).
async fn wait_ends(r: &Render, n: usize) -> Vec<End> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ends = r.ends.lock().unwrap().clone();
        if ends.len() >= n || std::time::Instant::now() > deadline {
            return ends;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Issue 17: the handler hears when each transfer ends, with the bytes the
/// client acknowledged (for the access log) and the error that stopped
/// it; a refused request gets no call.
#[tokio::test]
async fn r_tftp_transfer_end_reports_bytes_sent_and_errors() {
    let render = Render::default();
    let (addr, _stop, _task) = start(render.clone(), ServerLimits::default()).await;
    let client = TftpClient::new(ClientConfig::default());
    let got = client.get(addr, "A.cfg").await.unwrap();
    let mut out = Vec::new();
    client
        .get_to_writer(addr, "slow.bin", &mut out)
        .await
        .unwrap();
    assert!(client.get(addr, "firmware.bin").await.is_err());
    let mut ends = wait_ends(&render, 2).await;
    ends.sort();
    assert_eq!(
        ends,
        vec![
            ("A.cfg".to_string(), got.len() as u64, None),
            ("slow.bin".to_string(), SLOW_LEN as u64, None),
        ]
    );
    // A client that takes one 512-byte block, then answers ERROR: the end
    // says so, with the one block it acknowledged.
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(b"\0\x01slow.bin\0octet\0", addr)
        .await
        .unwrap();
    let mut buf = [0u8; 600];
    let (n, tid) = sock.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..4], n), (&b"\0\x03\0\x01"[..], 516), "DATA 1");
    sock.send_to(b"\0\x04\0\x01", tid).await.unwrap();
    let _ = sock.recv_from(&mut buf).await.unwrap();
    sock.send_to(b"\0\x05\0\0enough\0", tid).await.unwrap();
    let ends = wait_ends(&render, 3).await;
    let (path, bytes, error) = ends.get(2).cloned().expect("a third transfer end");
    assert_eq!((path.as_str(), bytes), ("slow.bin", 512));
    assert!(error.unwrap_or_default().contains("enough"), "{ends:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_tftp_many_concurrent_transfers_on_one_runtime() {
    let handler = Render::default();
    let served = handler.served.clone();
    let (addr, _stop, _task) = start(handler, ServerLimits::default()).await;
    let client = Arc::new(TftpClient::new(ClientConfig {
        windowsize: Some(4),
        ..ClientConfig::default()
    }));
    // Each transfer holds two sockets (client and server side): stay within
    // the open-file limit of the machine running the tests.
    let n = 2000.min(open_file_limit().saturating_sub(200) / 2);
    assert!(
        n >= 400,
        "open-file limit too low for this test: raise ulimit -n"
    );
    let mut tasks = Vec::new();
    for i in 0..n {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("dev{i}");
            let got = client.get(addr, &format!("{name}.cfg")).await.unwrap();
            assert!(String::from_utf8(got).unwrap().contains(&name));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // At least one handler call per transfer; more when a slow first answer
    // made a client resend its RRQ (a duplicate request is a new transfer,
    // stopped by the client's ERROR 5).
    assert!(served.load(Ordering::Relaxed) >= n);
}

/// Waits until the handler has been asked once (the transfer is running).
async fn wait_served(served: &AtomicUsize) {
    for _ in 0..1000 {
        if served.load(Ordering::Relaxed) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never called its handler");
}

/// Soft RLIMIT_NOFILE from /proc (Linux), or a conservative guess.
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(1024)
}

#[tokio::test]
async fn r_tftp_graceful_shutdown_lets_running_transfers_finish() {
    let handler = Render::default();
    let served = handler.served.clone();
    let (addr, stop, task) = start(handler, ServerLimits::default()).await;
    let client = TftpClient::default();
    let running = tokio::spawn({
        let client = client.clone();
        async move { client.get(addr, "slower.bin").await }
    });
    wait_served(&served).await;
    stop.send(()).unwrap();
    let got = running.await.unwrap().unwrap();
    assert!(got == slow_content(), "transfer cut short by shutdown");
    task.await.unwrap();
    // Stopped: nobody answers any more.
    let quick = TftpClient::new(ClientConfig {
        timeout: Duration::from_millis(100),
        retries: 1,
        ..ClientConfig::default()
    });
    let err = quick.get(addr, "a.cfg").await.unwrap_err();
    assert_eq!(err.kind(), ClientErrorKind::Timeout, "{err}");
}

#[tokio::test]
async fn r_tftp_concurrency_and_rate_limits_refuse_cleanly() {
    let limits = ServerLimits {
        max_transfers: 1,
        per_client_rate: None,
    };
    let handler = Render::default();
    let served = handler.served.clone();
    let (addr, _stop, _task) = start(handler, limits).await;
    let client = TftpClient::default();
    let slow = tokio::spawn({
        let client = client.clone();
        async move { client.get(addr, "slower.bin").await }
    });
    wait_served(&served).await;
    match client.get(addr, "a.cfg").await.unwrap_err() {
        ClientError::Transfer {
            cause: TransferError::Remote { message, .. },
            ..
        } => assert!(message.contains("busy"), "{message}"),
        e => panic!("expected busy, got {e}"),
    }
    assert!(slow.await.unwrap().unwrap() == slow_content());

    let limits = ServerLimits {
        max_transfers: 100,
        per_client_rate: Some(0.1),
    };
    let (addr, _stop2, _task2) = start(Render::default(), limits).await;
    // A burst of one request, then refused until the bucket refills (10 s).
    client.get(addr, "a.cfg").await.unwrap();
    let err = client.get(addr, "b.cfg").await.unwrap_err();
    assert!(err.to_string().contains("too many requests"), "{err}");
}

#[test]
fn r_tftp_uploads_from_tftp_hpa_with_size_cap() {
    let tftp = common::peer("tftp");
    let up = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, _stop) = rt.block_on(async {
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), Render::default())
            .await
            .unwrap()
            .with_uploads(up.path().to_path_buf(), 100_000)
            .unwrap();
        let addr = server.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.serve_until(async {
            let _ = rx.await;
        }));
        (addr, tx)
    });
    let port = addr.port().to_string();
    let small = common::content(50_000, 9);
    std::fs::write(src.path().join("log.bin"), &small).unwrap();
    common::run_ok(
        std::process::Command::new(&tftp)
            .current_dir(src.path())
            .args(["127.0.0.1", &port, "-m", "binary", "-c", "put", "log.bin"]),
    );
    // The server renames the upload into place right after its final ACK.
    let target = up.path().join("log.bin");
    for _ in 0..100 {
        if target.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(std::fs::read(&target).unwrap() == small);
    // Over the cap: refused, nothing left behind.
    std::fs::write(src.path().join("huge.bin"), common::content(200_000, 1)).unwrap();
    let out = std::process::Command::new(&tftp)
        .current_dir(src.path())
        .args(["127.0.0.1", &port, "-m", "binary", "-c", "put", "huge.bin"])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("Error code 3"), "tftp-hpa said: {said}");
    std::thread::sleep(Duration::from_millis(100));
    let left: Vec<_> = std::fs::read_dir(up.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("log.bin")]);
    // No overwrite, no escape.
    for name in ["log.bin", "../escape.bin"] {
        let out = std::process::Command::new(&tftp)
            .current_dir(src.path())
            .args([
                "127.0.0.1",
                &port,
                "-m",
                "binary",
                "-c",
                "put",
                "log.bin",
                name,
            ])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("Error code"), "{name}: tftp-hpa said: {said}");
    }
    assert!(!up.path().parent().unwrap().join("escape.bin").exists());
}

#[test]
fn r_tftp_uploads_are_refused_when_not_configured() {
    let tftp = common::peer("tftp");
    let root = tempfile::tempdir().unwrap();
    let server = common::TestServer::start(root.path());
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("x.bin"), b"data").unwrap();
    let out = std::process::Command::new(&tftp)
        .current_dir(src.path())
        .args([
            "127.0.0.1",
            &server.addr.port().to_string(),
            "-m",
            "binary",
            "-c",
            "put",
            "x.bin",
        ])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("Error code 2"), "tftp-hpa said: {said}");
    assert!(!root.path().join("x.bin").exists());
}
