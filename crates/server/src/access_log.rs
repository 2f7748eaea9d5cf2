//! The access log (issue 17 item 4, `[log] access`, `[log] format`): one
//! line per HTTP(S) request, TFTP read request, CWMP session and
//! activation query, like nginx's `access_log` and tftpd-hpa's `-v`.
//!
//! Each line holds the time (RFC 3339, UTC, milliseconds), the protocol,
//! the client address, the request (`GET /path HTTP/1.1`, the TFTP file
//! name, or for a CWMP session the CPE's
//! `OUI-ProductClass-SerialNumber`), the status (HTTP
//! status code, the TFTP outcome `ok`, `not-found`, `denied`, `error`, or
//! the CWMP session's end), the bytes of the body (TFTP: of the file
//! offered), the time to answer (CWMP: the session's length), the
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
//! Lines are formatted by the request's task and written by one thread of
//! the log's own (buffered, flushed whenever the queue is empty), so a
//! slow disk never holds a request; when the queue (65 536 lines) is full
//! the line is dropped and counted in `phoneprov_access_log_dropped_total`.
//! [`AccessLog::reopen`] (SIGHUP, SIGUSR1) reopens the file for logrotate.
//!
//! A TLS handshake that fails (a refused client certificate among others)
//! gets a line too, `"- - -" tls-refused`, and refused client certificates
//! a WARN on stderr naming the client address (fail2ban-friendly:
//! `TLS client certificate refused client=ADDR reason=...`).
//!
//! Limitation: a TFTP line is written when the read request is answered
//! (file found or refused, its size), not when the transfer ends.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use phoneprov_types::Identified;

/// Lines queued for the writer thread at most.
const QUEUE: usize = 65_536;

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
    /// Body bytes (TFTP: the file's size).
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
    /// TFTP: `ok`, `not-found`, `denied`, `error`; HTTPS before any
    /// request: `tls-refused` (handshake failed or timed out).
    Outcome(&'static str),
}

enum Msg {
    Line(String),
    Reopen,
}

/// The access log of a running server: off, or a queue to its writer.
#[derive(Debug, Clone)]
pub struct AccessLog {
    tx: Option<SyncSender<Msg>>,
    format: AccessFormat,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Line(_) => "Line",
            Msg::Reopen => "Reopen",
        })
    }
}

enum Sink {
    Stdout,
    File(PathBuf),
}

impl AccessLog {
    /// No access log.
    pub fn off() -> AccessLog {
        AccessLog {
            tx: None,
            format: AccessFormat::Text,
        }
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
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("phoneprov-access-log".into())
            .spawn(move || write_loop(rx, sink, out))
            .map_err(|e| format!("cannot start the access log writer: {e}"))?;
        Ok(AccessLog {
            tx: Some(tx),
            format: cfg.format,
        })
    }

    /// Whether lines are written at all (callers skip the work when not).
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues the line for `e`.
    pub fn log(&self, e: &Entry<'_>) {
        let Some(tx) = &self.tx else { return };
        let line = match self.format {
            AccessFormat::Text => text_line(e, SystemTime::now()),
            AccessFormat::Json => json_line(e, SystemTime::now()),
        };
        if let Err(TrySendError::Full(_)) = tx.try_send(Msg::Line(line)) {
            metrics::counter!("phoneprov_access_log_dropped_total").increment(1);
        }
    }

    /// Reopens the file (after logrotate moved it).
    pub fn reopen(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(Msg::Reopen);
        }
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

fn write_loop(rx: Receiver<Msg>, sink: Sink, out: Box<dyn Write + Send>) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Line(l) => {
                    let _ = out.write_all(l.as_bytes());
                }
                Msg::Reopen => {
                    let _ = out.flush();
                    match open_sink(&sink) {
                        Ok(w) => out = BufWriter::with_capacity(64 * 1024, w),
                        Err(e) => eprintln!("phoneprov serve: {e}"),
                    }
                }
            }
            next = match rx.try_recv() {
                Ok(m) => Some(m),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => None,
            };
        }
        let _ = out.flush();
    }
    let _ = out.flush();
}

fn status_text(s: Status) -> String {
    match s {
        Status::Http(c) => c.to_string(),
        Status::Outcome(o) => o.to_string(),
    }
}

/// `client - - [time] "METHOD target VERSION" status bytes "-" "UA"` then
/// `proto= ms= mac= id= proof= tls= resumed= cert=` and for CWMP
/// `rpcs= tasks=` (nginx `combined` plus fields).
fn text_line(e: &Entry<'_>, now: SystemTime) -> String {
    use std::fmt::Write as _;
    let mut line = format!(
        "{} - - [{}] \"{} {} {}\" {} {} \"-\" \"{}\" proto={} ms={:.3}",
        e.client.ip(),
        humantime::format_rfc3339_millis(now),
        e.method,
        e.target.escape_debug(),
        e.version,
        status_text(e.status),
        e.bytes,
        e.user_agent.unwrap_or("-").escape_debug(),
        e.proto,
        e.duration.as_secs_f64() * 1000.0,
    );
    let _ = match e.id {
        Some(id) => write!(line, " mac={} id={}", id.mac, id.by.as_str()),
        None => write!(line, " mac=- id=-"),
    };
    let _ = write!(line, " proof={}", e.proof);
    let _ = match e.tls {
        Some(t) => write!(
            line,
            " tls={} resumed={}",
            t.version,
            if t.resumed { "yes" } else { "no" }
        ),
        None => write!(line, " tls=- resumed=-"),
    };
    let _ = match e.cert_subject {
        Some(c) => write!(line, " cert=\"{}\"", c.escape_debug()),
        None => write!(line, " cert=-"),
    };
    if let Some(c) = e.session {
        let _ = write!(
            line,
            " rpcs={} tasks={} faults={}",
            c.rpcs, c.tasks, c.faults
        );
    }
    line.push('\n');
    line
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
        let l = text_line(&entry(), t);
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
            text_line(&cwmp, t),
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
        let text = text_line(&e, t);
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
