//! `sipp` (Debian `sip-tester`) as a SIP UAS on loopback, over UDP (`u1`)
//! or TCP (`t1`), with its message trace (`-trace_msg`) kept for the test
//! to read; and `stunnel4` terminating TLS in front of it (Debian's sipp
//! has no TLS: `sipp -t l1` says it must be built with OpenSSL).
//!
//! The REGISTER scenarios the phone's registration tests share are
//! [`register_uas`] (200, optionally after a pause: the phone retransmits
//! meanwhile over UDP), [`register_digest`] (401, then sipp's
//! `verifyauth` decides between 200 and 403) and [`register_silent`]
//! (the REGISTER is read and never answered); [`sipp_answer`] writes one
//! response of a scenario.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{holds_socket, open_tempdir, peer, try_wait_tcp, with_free_port, Guard};

/// A sipp UAS scenario that receives a NOTIFY with `Event: check-sync`
/// (checked), then does `rest` (e.g. a [`sipp_answer`]).
pub fn check_sync_uas(rest: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="notify uas">
  <recv request="NOTIFY">
    <action>
      <ereg regexp="check-sync" search_in="hdr" header="Event:" check_it="true" assign_to="ev"/>
    </action>
  </recv>
  <Reference variables="ev"/>
  {rest}
</scenario>
"#
    )
}

/// One sipp `<send>` of a response to the last request: `status` (`200
/// OK`), `attrs` on the element (` next="done"`), `extra` header lines
/// (each ending in a newline).
pub fn sipp_answer(status: &str, attrs: &str, extra: &str) -> String {
    format!(
        "  <send{attrs}>\n    <![CDATA[\nSIP/2.0 {status}\n[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n[last_CSeq:]\n{extra}Content-Length: 0\n\n    ]]>\n  </send>\n"
    )
}

fn scenario(name: &str, body: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"{name}\">\n{body}</scenario>\n")
}

/// The registrar's 200: the Contact back, `Expires: 3600`.
fn registered(attrs: &str) -> String {
    sipp_answer("200 OK", attrs, "[last_Contact:]\nExpires: 3600\n")
}

/// Every REGISTER gets 200 with its Contact and `Expires: 3600`, after
/// `pause_ms` (0: at once).
pub fn register_uas(pause_ms: u32) -> String {
    let pause = if pause_ms > 0 {
        format!("  <pause milliseconds=\"{pause_ms}\"/>\n")
    } else {
        String::new()
    };
    let body = format!("  <recv request=\"REGISTER\"/>\n{pause}{}", registered(""));
    scenario("register uas", &body)
}

/// The REGISTER is read and never answered (the phone's timer F).
pub fn register_silent() -> String {
    scenario(
        "register, no answer",
        "  <recv request=\"REGISTER\"/>\n  <pause milliseconds=\"600000\"/>\n",
    )
}

/// The registrar challenges (401, Digest MD5) and sipp checks the answer
/// (`verifyauth`, user `auth1001`, password `s3cret`): 200, else 403.
pub fn register_digest() -> String {
    let challenge = sipp_answer(
        "401 Unauthorized",
        "",
        "WWW-Authenticate: Digest realm=\"pbx\", nonce=\"4f6e3c2a1b\", algorithm=MD5\n",
    );
    let body = format!(
        r#"  <recv request="REGISTER"/>
{challenge}  <recv request="REGISTER">
    <action>
      <verifyauth assign_to="authvalid" username="auth1001" password="s3cret"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="good"/>
{}  <label id="good"/>
{}  <label id="done"/>
"#,
        sipp_answer("403 Forbidden", " next=\"done\"", ""),
        registered("")
    );
    scenario("register uas with digest", &body)
}

/// A running sipp UAS on 127.0.0.1:`port`.
pub struct SippUas {
    _child: Guard,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SippUas {
    /// sipp's message trace so far: every message it received and sent.
    pub fn messages(&self) -> String {
        let mut all = String::new();
        for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if e.file_name().to_string_lossy().ends_with("_messages.log") {
                all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        all
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Starts sipp with `scenario` over `transport` (`u1` or `t1`) and waits
/// until it holds its socket.
pub fn sipp_uas(transport: &str, scenario: &str) -> SippUas {
    let dir = open_tempdir();
    let d = dir.path().to_path_buf();
    std::fs::write(d.join("uas.xml"), scenario).unwrap();
    let udp = transport == "u1";
    let (child, port) = with_free_port(|port| {
        let log = d.join(format!("sipp-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(peer("sipp"))
            .arg("-sf")
            .arg(d.join("uas.xml"))
            .args(["-t", transport, "-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-nostdin", "-trace_err", "-trace_msg"])
            .current_dir(&d)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let ready = if udp {
            wait_udp(port, &mut child, &log)
        } else {
            try_wait_tcp(port, &mut child, &log)
        };
        match ready {
            Ok(()) => Ok((Guard(child), port)),
            // sipp's own words for a port taken meanwhile.
            Err(e) if e.contains("Unable to bind main socket") => Err(format!("port taken: {e}")),
            Err(e) => Err(e),
        }
    });
    SippUas {
        _child: child,
        port,
        dir,
    }
}

/// Waits until `child` holds a UDP socket on `port` (10 s at most).
fn wait_udp(port: u16, child: &mut std::process::Child, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "peer exited with {status} before binding UDP {port}; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            ));
        }
        if holds_socket(child.id(), port, &["/proc/net/udp", "/proc/net/udp6"], None) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("peer did not bind UDP {port}"))
}

/// stunnel4 accepting TLS on 127.0.0.1 (a free port) with `cert`/`key`
/// and handing the stream to 127.0.0.1:`connect`; `extra` is added to
/// the service section (`verify = 2`, `CAfile = …`). The peer and its
/// port; its log is `dir/stunnel-PORT.log`.
pub fn stunnel(dir: &Path, cert: &Path, key: &Path, connect: u16, extra: &str) -> (Guard, u16) {
    with_free_port(|port| {
        let conf = dir.join(format!("stunnel-{port}.conf"));
        let log = stunnel_log(dir, port);
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\noutput = {}\n[sip]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{connect}\ncert = {}\nkey = {}\n{extra}",
                log.display(),
                cert.display(),
                key.display(),
            ),
        )
        .unwrap();
        let mut child = Command::new(peer("stunnel4"))
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        try_wait_tcp(port, &mut child, &log)?;
        Ok((Guard(child), port))
    })
}

/// Where [`stunnel`] on `port` logs.
pub fn stunnel_log(dir: &Path, port: u16) -> PathBuf {
    dir.join(format!("stunnel-{port}.log"))
}
