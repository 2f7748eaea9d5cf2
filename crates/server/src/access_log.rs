//! The access log (issue 17 item 4, `[log] access`, `[log] format`): one
//! line per HTTP(S) request, TFTP read request, CWMP session and
//! activation query, like nginx's `access_log` and tftpd-hpa's `-v`.
//!
//! Each line holds the time (RFC 3339, UTC, milliseconds), the protocol,
//! the client address, the request (`GET /path HTTP/1.1`, the TFTP file
//! name, or for a CWMP session the CPE's
//! `OUI-ProductClass-SerialNumber`), the status (HTTP
//! status code, the TFTP outcome `ok`, `not-found`, `denied`, `error`,
//! `timeout`, `client-error`, `aborted`, or the CWMP session's end), the
//! bytes of the body (TFTP: the bytes sent and acknowledged), the time to answer (CWMP: the session's length), the
//! User-Agent, and:
//! - `mac` and `id`: the device the request named and where its MAC came
//!   from (`path`, `ua`, `cert`, `query` for the activation service,
//!   `inform` for CWMP), as the identification pipeline
//!   ([`crate::pipeline::Named`]) or the service found it, never parsed
//!   again for the log; `-` when none (a static file, a refused handshake);
//! - `proof`: what proved the device (`cert`, `password` for `[[auth]]`
//!   Basic/Digest, `source` for an address in
//!   `security.preprovision_networks`, `-` for nothing);
//! - `tls`, `resumed`, `cert`: over HTTPS, the TLS version, whether the
//!   session was resumed and the client certificate's subject;
//! - `rpcs`, `tasks`, `faults`: for a CWMP session, the RPCs the ACS sent,
//!   how many of them were queued tasks, how many the CPE faulted.
//!
//! Two formats: `text` (nginx `combined`, then every field above as
//! `key=value`, always present, `-` when empty) and `json` (one object per
//! line, `null` when empty).
//!
//! Lines are formatted by the request's task into a reused per-thread
//! buffer (the time text is formatted once per second, numbers with
//! `itoa`), appended to one pending buffer under a short lock, and written
//! by one thread of the log's own with a single `write` per batch: when
//! 64 KiB are pending, every 100 ms, at a reopen and at shutdown
//! ([`AccessLog::flush`]), so a slow disk never holds a request and a busy
//! server does not pay a system call per line (nginx `access_log ...
//! buffer= flush=`). When 8 MiB are pending (the disk is stuck) further
//! lines are dropped and counted in `phoneprov_access_log_dropped_total`.
//! [`AccessLog::reopen`] (SIGHUP, SIGUSR1) reopens the file for logrotate;
//! the lines logged before it go to the old file.
//!
//! A TLS handshake that fails (a refused client certificate among others)
//! gets a line too, `"- - -" tls-refused`, and refused client certificates
//! a WARN on stderr naming the client address (fail2ban-friendly:
//! `TLS client certificate refused client=ADDR reason=...`).
//!
//! A TFTP line is written when the transfer ends
//! ([`phoneprov_tftp::Handler::finished`]: `bytes` is what the client
//! acknowledged, the status `ok`, `timeout`, `client-error`, `aborted` or
//! `error`), or when the read request is refused (`not-found`, `denied`,
//! `error`, nothing sent).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use phoneprov_types::Identified;

/// `[log]`: the access log.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `"off"` (default), `"stdout"`, or a file (relative: to the data
    /// directory), appended to and reopened on SIGHUP/SIGUSR1.
    pub access: String,
    /// `"text"` (default) or `"json"`.
    pub format: AccessFormat,
    /// stderr log filter of `phoneprov serve` (`tracing` `EnvFilter`
    /// syntax: `warn`, `info`, `info,phoneprov_acs=debug`); default
    /// `warn`. `RUST_LOG`, when set, wins.
    pub level: Option<String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            access: "off".into(),
            format: AccessFormat::Text,
            level: None,
        }
    }
}

/// Line format of the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AccessFormat {
    /// nginx `combined` followed by `key=value` fields.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The TLS side of an HTTPS connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: &'static str,
    /// The session was resumed (abbreviated handshake).
    pub resumed: bool,
}

/// One access: what a line says.
#[derive(Debug)]
pub struct Entry<'a> {
    /// `http`, `https`, `tftp` ([`crate::metrics_setup::Proto::as_str`]) or `cwmp`.
    pub proto: &'static str,
    /// The client.
    pub client: SocketAddr,
    /// HTTP method (TFTP: `RRQ`).
    pub method: &'a str,
    /// Path with query (TFTP: the file name asked for).
    pub target: &'a str,
    /// `HTTP/1.1` (TFTP: `octet` or `netascii`).
    pub version: &'a str,
    /// HTTP status code, or the TFTP outcome.
    pub status: Status,
    /// Body bytes (TFTP: the bytes the client acknowledged).
    pub bytes: u64,
    /// Time to answer.
    pub duration: Duration,
    /// The User-Agent header.
    pub user_agent: Option<&'a str>,
    /// HTTPS only.
    pub tls: Option<TlsInfo>,
    /// The subject of the client certificate (HTTPS only).
    pub cert_subject: Option<&'a str>,
    /// The device the request named, and how.
    pub id: Option<Identified>,
    /// What proved the device (`-`, `source`, `password`, `cert`:
    /// [`crate::decide::Proof::as_str`]).
    pub proof: &'static str,
    /// A CWMP session's counts.
    pub session: Option<SessionCounts>,
}

/// What a CWMP session did, for its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCounts {
    /// RPCs the ACS sent (tasks and presets).
    pub rpcs: u32,
    /// Of those, queued tasks.
    pub tasks: u32,
    /// RPCs the CPE answered with a fault.
    pub faults: u32,
}

/// The ACS's hook ([`phoneprov_acs::Acs::set_session_log`]): one line per
/// finished CWMP session, `"CWMP OUI-ProductClass-Serial -"`, the way it
/// ended as the status, the ACS's answer bytes, the session's length, the
/// MAC the Inform named (`id=inform`) and the RPC counts.
pub fn cwmp_sessions(log: AccessLog) -> phoneprov_acs::SessionLog {
    std::sync::Arc::new(move |s: &phoneprov_acs::SessionSummary| {
        log.log(&Entry {
            proto: "cwmp",
            client: s
                .client
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
            method: "CWMP",
            target: s.device.as_deref().unwrap_or("-"),
            version: "-",
            status: Status::Outcome(s.end.as_str()),
            bytes: s.bytes,
            duration: s.duration,
            user_agent: None,
            tls: None,
            cert_subject: None,
            id: s
                .mac
                .map(|m| Identified::new(m, phoneprov_types::IdBy::Inform)),
            proof: match (s.cert, s.password) {
                (true, _) => "cert",
                (false, true) => "password",
                (false, false) => "-",
            },
            session: Some(SessionCounts {
                rpcs: s.rpcs,
                tasks: s.tasks,
                faults: s.faults,
            }),
        })
    })
}

/// An HTTP status code or a TFTP outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// HTTP.
    Http(u16),
    /// TFTP: `ok`, `not-found`, `denied`, `error`, `timeout`,
    /// `client-error`, `aborted`; HTTPS before any
    /// request: `tls-refused` (handshake failed or timed out).
    Outcome(&'static str),
}

/// Pending lines are handed to the writer once they reach this size...
const BATCH: usize = 64 * 1024;
/// ...or this long after they were written, whichever comes first.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Pending bytes at most (the writer is stuck on a slow disk): further
/// lines are dropped and counted.
const PENDING_MAX: usize = 8 * 1024 * 1024;

/// What the request tasks tell the writer thread.
enum Ctl {
    /// The pending lines reached [`BATCH`].
    Wake,
    /// Write these lines (all logged before the reopen), then reopen.
    Reopen(Vec<u8>),
    /// Write everything pending, then answer.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// The lines formatted but not yet written, shared by the request tasks
/// (appending, under a short lock) and the writer thread (taking all).
type Pending = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

struct Shared {
    pending: Pending,
    ctl: std::sync::Mutex<Sender<Ctl>>,
    format: AccessFormat,
}

/// The access log of a running server: off, or a buffer its writer
/// thread empties.
#[derive(Clone)]
pub struct AccessLog {
    inner: Option<std::sync::Arc<Shared>>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("enabled", &self.enabled())
            .finish()
    }
}

enum Sink {
    Stdout,
    File(PathBuf),
}

thread_local! {
    /// Each thread's line buffer, reused (no allocation per line).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(512));
}

impl AccessLog {
    /// No access log.
    pub fn off() -> AccessLog {
        AccessLog { inner: None }
    }

    /// Opens the log `[log]` asks for; a file that cannot be opened is an
    /// error naming it.
    pub fn open(cfg: &LogConfig, data_dir: &Path) -> Result<AccessLog, String> {
        let sink = match cfg.access.trim() {
            "" | "off" => return Ok(AccessLog::off()),
            "stdout" => Sink::Stdout,
            path => {
                let p = Path::new(path);
                Sink::File(if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    data_dir.join(p)
                })
            }
        };
        let out = open_sink(&sink)?;
        let (tx, rx) = channel();
        let pending = Pending::default();
        let theirs = pending.clone();
        std::thread::Builder::new()
            .name("phoneprov-access-log".into())
            .spawn(move || write_loop(rx, theirs, sink, out))
            .map_err(|e| format!("cannot start the access log writer: {e}"))?;
        Ok(AccessLog {
            inner: Some(std::sync::Arc::new(Shared {
                pending,
                ctl: std::sync::Mutex::new(tx),
                format: cfg.format,
            })),
        })
    }

    /// Whether lines are written at all (callers skip the work when not).
    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Adds the line for `e`.
    pub fn log(&self, e: &Entry<'_>) {
        let Some(sh) = &self.inner else { return };
        SCRATCH.with_borrow_mut(|line| {
            line.clear();
            match sh.format {
                AccessFormat::Text => text_line(line, e, SystemTime::now()),
                AccessFormat::Json => {
                    line.extend_from_slice(json_line(e, SystemTime::now()).as_bytes())
                }
            }
            let mut p = sh.pending.lock().unwrap_or_else(|p| p.into_inner());
            if p.len() + line.len() > PENDING_MAX {
                drop(p);
                metrics::counter!("phoneprov_access_log_dropped_total").increment(1);
                return;
            }
            let before = p.len();
            p.extend_from_slice(line);
            let full = before < BATCH && p.len() >= BATCH;
            drop(p);
            if full {
                sh.send(Ctl::Wake);
            }
        });
    }

    /// Reopens the file (after logrotate moved it); the lines logged
    /// before go to the old file.
    pub fn reopen(&self) {
        if let Some(sh) = &self.inner {
            let before = std::mem::take(&mut *sh.pending.lock().unwrap_or_else(|p| p.into_inner()));
            sh.send(Ctl::Reopen(before));
        }
    }

    /// Writes every line logged so far and waits until it is written
    /// (at shutdown; blocking).
    pub fn flush(&self) {
        if let Some(sh) = &self.inner {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            sh.send(Ctl::Flush(tx));
            let _ = rx.recv_timeout(Duration::from_secs(5));
        }
    }
}

impl Shared {
    fn send(&self, c: Ctl) {
        let _ = self.ctl.lock().unwrap_or_else(|p| p.into_inner()).send(c);
    }
}

fn open_sink(sink: &Sink) -> Result<Box<dyn Write + Send>, String> {
    Ok(match sink {
        Sink::Stdout => Box::new(std::io::stdout()),
        Sink::File(p) => Box::new(open_file(p).map_err(|e| {
            format!(
                "cannot open the access log {}: {e}; fix [log] access (a writable file, \"stdout\" or \"off\")",
                p.display()
            )
        })?),
    })
}

fn open_file(p: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(p)
}

/// The writer thread: every [`FLUSH_EVERY`], when woken, at a reopen, a
/// flush and when the log is dropped, swaps the pending lines out and
/// writes them with one `write` (two buffers, reused).
fn write_loop(rx: Receiver<Ctl>, pending: Pending, sink: Sink, mut out: Box<dyn Write + Send>) {
    let mut spare: Vec<u8> = Vec::with_capacity(BATCH * 2);
    let write_pending = |out: &mut Box<dyn Write + Send>, spare: &mut Vec<u8>| {
        spare.clear();
        std::mem::swap(
            &mut *pending.lock().unwrap_or_else(|p| p.into_inner()),
            spare,
        );
        if !spare.is_empty() {
            let _ = out.write_all(spare);
            let _ = out.flush();
        }
    };
    loop {
        match rx.recv_timeout(FLUSH_EVERY) {
            Ok(Ctl::Wake) | Err(RecvTimeoutError::Timeout) => write_pending(&mut out, &mut spare),
            Ok(Ctl::Reopen(before)) => {
                let _ = out.write_all(&before);
                let _ = out.flush();
                match open_sink(&sink) {
                    Ok(w) => out = w,
                    Err(e) => eprintln!("phoneprov serve: {e}"),
                }
            }
            Ok(Ctl::Flush(done)) => {
                write_pending(&mut out, &mut spare);
                let _ = done.send(());
            }
            Err(RecvTimeoutError::Disconnected) => {
                write_pending(&mut out, &mut spare);
                return;
            }
        }
    }
}

/// Appends `s` escaped like `str::escape_debug` (control characters,
/// quotes and backslashes), copied as is in the common case.
fn push_escaped(line: &mut Vec<u8>, s: &str) {
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\'' && b != b'\\')
    {
        line.extend_from_slice(s.as_bytes());
    } else {
        let _ = write!(line, "{}", s.escape_debug());
    }
}

fn push_num(line: &mut Vec<u8>, n: impl itoa::Integer) {
    line.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

thread_local! {
    /// The second of the last line's time, and its RFC 3339 text up to the
    /// seconds (`2023-11-14T22:13:20`): formatted once per second.
    static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
}

/// `2023-11-14T22:13:20.123Z`.
fn push_time(line: &mut Vec<u8>, now: SystemTime) {
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (cached, mut text) = SECOND.get();
    if cached != secs {
        let s = humantime::format_rfc3339_seconds(now).to_string();
        text.copy_from_slice(&s.as_bytes()[..19]);
        SECOND.set((secs, text));
    }
    line.extend_from_slice(&text);
    let ms = since.subsec_millis();
    line.extend_from_slice(&[
        b'.',
        b'0' + (ms / 100) as u8,
        b'0' + (ms / 10 % 10) as u8,
        b'0' + (ms % 10) as u8,
        b'Z',
    ]);
}

/// `client - - [time] "METHOD target VERSION" status bytes "-" "UA"` then
/// `proto= ms= mac= id= proof= tls= resumed= cert=` and for CWMP
/// `rpcs= tasks=` (nginx `combined` plus fields), appended to `line`.
fn text_line(line: &mut Vec<u8>, e: &Entry<'_>, now: SystemTime) {
    let _ = write!(line, "{}", e.client.ip());
    line.extend_from_slice(b" - - [");
    push_time(line, now);
    line.extend_from_slice(b"] \"");
    line.extend_from_slice(e.method.as_bytes());
    line.push(b' ');
    push_escaped(line, e.target);
    line.push(b' ');
    line.extend_from_slice(e.version.as_bytes());
    line.extend_from_slice(b"\" ");
    match e.status {
        Status::Http(c) => push_num(line, c),
        Status::Outcome(o) => line.extend_from_slice(o.as_bytes()),
    }
    line.push(b' ');
    push_num(line, e.bytes);
    line.extend_from_slice(b" \"-\" \"");
    push_escaped(line, e.user_agent.unwrap_or("-"));
    line.extend_from_slice(b"\" proto=");
    line.extend_from_slice(e.proto.as_bytes());
    // Milliseconds with three decimals, rounded to the microsecond.
    let micros = (e.duration.as_nanos() + 500) / 1000;
    line.extend_from_slice(b" ms=");
    push_num(line, micros / 1000);
    let frac = (micros % 1000) as u16;
    line.extend_from_slice(&[
        b'.',
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
    match e.id {
        Some(id) => {
            line.extend_from_slice(b" mac=");
            let _ = write!(line, "{}", id.mac);
            line.extend_from_slice(b" id=");
            line.extend_from_slice(id.by.as_str().as_bytes());
        }
        None => line.extend_from_slice(b" mac=- id=-"),
    }
    line.extend_from_slice(b" proof=");
    line.extend_from_slice(e.proof.as_bytes());
    match e.tls {
        Some(t) => {
            line.extend_from_slice(b" tls=");
            line.extend_from_slice(t.version.as_bytes());
            line.extend_from_slice(if t.resumed {
                b" resumed=yes"
            } else {
                b" resumed=no"
            });
        }
        None => line.extend_from_slice(b" tls=- resumed=-"),
    }
    match e.cert_subject {
        Some(c) => {
            line.extend_from_slice(b" cert=\"");
            push_escaped(line, c);
            line.push(b'"');
        }
        None => line.extend_from_slice(b" cert=-"),
    }
    if let Some(c) = e.session {
        line.extend_from_slice(b" rpcs=");
        push_num(line, c.rpcs);
        line.extend_from_slice(b" tasks=");
        push_num(line, c.tasks);
        line.extend_from_slice(b" faults=");
        push_num(line, c.faults);
    }
    line.push(b'\n');
}

fn json_line(e: &Entry<'_>, now: SystemTime) -> String {
    let mut v = serde_json::json!({
        "time": humantime::format_rfc3339_millis(now).to_string(),
        "proto": e.proto,
        "client": e.client.ip().to_string(),
        "client_port": e.client.port(),
        "method": e.method,
        "target": e.target,
        "version": e.version,
        "bytes": e.bytes,
        "ms": (e.duration.as_secs_f64() * 1_000_000.0).round() / 1000.0,
        "user_agent": e.user_agent,
    });
    v["status"] = match e.status {
        Status::Http(c) => serde_json::json!(c),
        Status::Outcome(o) => serde_json::json!(o),
    };
    v["mac"] = serde_json::json!(e.id.map(|i| i.mac.to_string()));
    v["id"] = serde_json::json!(e.id.map(|i| i.by.as_str()));
    v["proof"] = serde_json::json!((e.proof != "-").then_some(e.proof));
    v["tls"] = serde_json::json!(e.tls.map(|t| t.version));
    v["resumed"] = serde_json::json!(e.tls.map(|t| t.resumed));
    v["cert"] = serde_json::json!(e.cert_subject);
    if let Some(c) = e.session {
        v["rpcs"] = serde_json::json!(c.rpcs);
        v["tasks"] = serde_json::json!(c.tasks);
        v["faults"] = serde_json::json!(c.faults);
    }
    let mut line = escape_controls(v.to_string());
    line.push('\n');
    line
}

/// JSON text with the control characters serde_json leaves raw (DEL and
/// the C1 range, which some terminals obey) written as `\uXXXX`; they can
/// only occur inside strings, where that escape means the same character.
fn escape_controls(json: String) -> String {
    if !json.chars().any(char::is_control) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn text(e: &Entry<'_>, t: SystemTime) -> String {
        let mut line = Vec::new();
        text_line(&mut line, e, t);
        String::from_utf8(line).unwrap()
    }

    fn entry() -> Entry<'static> {
        Entry {
            proto: "https",
            client: "10.0.0.7:40000".parse().unwrap(),
            method: "GET",
            target: "/000e08abcdef.cfg",
            version: "HTTP/1.1",
            status: Status::Http(200),
            bytes: 1234,
            duration: Duration::from_micros(1500),
            user_agent: Some("Cisco-CP-8841-3PCC/11.0 (000e08abcdef) \"x\""),
            tls: Some(TlsInfo {
                version: "TLSv1.3",
                resumed: true,
            }),
            cert_subject: Some("OU=CP-8841-3PCC, L=SN1, ST=000e08abcdef"),
            id: Some(Identified::new(
                "000e08abcdef".parse().unwrap(),
                phoneprov_types::IdBy::Path,
            )),
            proof: "cert",
            session: None,
        }
    }

    #[test]
    fn text_line_is_combined_plus_fields() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let l = text(&entry(), t);
        assert_eq!(
            l,
            "10.0.0.7 - - [2023-11-14T22:13:20.123Z] \"GET /000e08abcdef.cfg HTTP/1.1\" 200 1234 \"-\" \"Cisco-CP-8841-3PCC/11.0 (000e08abcdef) \\\"x\\\"\" proto=https ms=1.500 mac=000e08abcdef id=path proof=cert tls=TLSv1.3 resumed=yes cert=\"OU=CP-8841-3PCC, L=SN1, ST=000e08abcdef\"\n"
        );
        let cwmp = Entry {
            proto: "cwmp",
            method: "CWMP",
            target: "000E08-SN1",
            version: "-",
            status: Status::Outcome("done"),
            user_agent: None,
            tls: None,
            cert_subject: None,
            id: None,
            proof: "-",
            session: Some(SessionCounts {
                rpcs: 3,
                tasks: 1,
                faults: 0,
            }),
            ..entry()
        };
        assert_eq!(
            text(&cwmp, t),
            "10.0.0.7 - - [2023-11-14T22:13:20.123Z] \"CWMP 000E08-SN1 -\" done 1234 \"-\" \"-\" proto=cwmp ms=1.500 mac=- id=- proof=- tls=- resumed=- cert=- rpcs=3 tasks=1 faults=0\n"
        );
    }

    /// Issue 12 item 5: a TFTP file name or User-Agent carrying terminal
    /// escapes, newlines or C1 controls cannot forge a log line or drive
    /// the terminal of whoever tails the log: every control character is
    /// escaped, in both formats, and a line stays one line.
    #[test]
    fn control_characters_are_escaped_in_both_formats() {
        let t = SystemTime::UNIX_EPOCH;
        let nasty = "/a\u{1b}[2J\r\n10.0.0.1 - - [x] \"GET /admin\"\u{7f}\u{9b}31m\t.cfg";
        let e = Entry {
            proto: "tftp",
            target: nasty,
            user_agent: Some(nasty),
            ..entry()
        };
        let text = super::tests::text(&e, t);
        let json = json_line(&e, t);
        for line in [&text, &json] {
            assert_eq!(line.matches('\n').count(), 1, "{line:?}");
            assert!(line.ends_with('\n'));
            let body = line.trim_end_matches('\n');
            assert!(
                !body.chars().any(char::is_control),
                "a raw control character in {line:?}"
            );
        }
        assert!(text.contains("/a\\u{1b}[2J\\r\\n10.0.0.1"), "{text}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["target"], nasty, "JSON keeps the exact text, escaped");
    }

    #[test]
    fn json_line_has_every_field() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let v: serde_json::Value = serde_json::from_str(&json_line(&entry(), t)).unwrap();
        assert_eq!(v["time"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["status"], 200);
        assert_eq!(v["bytes"], 1234);
        assert_eq!(v["ms"], 1.5);
        assert_eq!(v["tls"], "TLSv1.3");
        assert_eq!(v["resumed"], true);
        assert_eq!(v["cert"], "OU=CP-8841-3PCC, L=SN1, ST=000e08abcdef");
        assert_eq!(v["mac"], "000e08abcdef");
        assert_eq!(v["id"], "path");
        assert_eq!(v["proof"], "cert");
        assert!(v.get("rpcs").is_none());
        assert_eq!(v["client"], "10.0.0.7");
    }

    #[test]
    fn a_file_log_is_written_and_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            access: "access.log".into(),
            format: AccessFormat::Text,
            level: None,
        };
        let log = AccessLog::open(&cfg, dir.path()).unwrap();
        log.log(&entry());
        let path = dir.path().join("access.log");
        let wait = |p: &Path, n: usize| {
            for _ in 0..200 {
                let t = std::fs::read_to_string(p).unwrap_or_default();
                if t.lines().count() >= n {
                    return t;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            panic!("{} has fewer than {n} lines", p.display());
        };
        assert!(wait(&path, 1).contains("\"GET /000e08abcdef.cfg HTTP/1.1\" 200"));
        // logrotate: move the file, reopen, the next line lands in a new one.
        std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
        log.reopen();
        log.log(&entry());
        assert_eq!(wait(&path, 1).lines().count(), 1);
        assert_eq!(wait(&dir.path().join("access.log.1"), 1).lines().count(), 1);
        let bad = LogConfig {
            access: "/nonexistent-dir/access.log".into(),
            format: AccessFormat::Json,
            level: None,
        };
        let e = AccessLog::open(&bad, dir.path()).unwrap_err();
        assert!(e.contains("/nonexistent-dir/access.log"), "{e}");
    }
}
