//! The parsed form of one syslog datagram and its formatter.
//!
//! The formatter exists so that the parser can be checked by round trip
//! (format, parse, compare: see the proptests) and so that tests and the
//! phone simulator can emit exactly what a phone or `logger` would send.

use std::fmt::Write as _;

/// Which wire format a message was parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// BSD syslog, RFC 3164: `<PRI>Mmm dd hh:mm:ss HOST TAG: MSG`. Also
    /// what a datagram without a recognisable header is treated as
    /// (RFC 3164 §4.3.3: the whole content becomes the MSG).
    Rfc3164,
    /// RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`.
    Rfc5424,
}

/// One structured-data element of an RFC 5424 message
/// (`[timeQuality tzKnown="1" isSynced="0"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement {
    /// The SD-ID (`timeQuality`, `origin`, `exampleSDID@32473`).
    pub id: String,
    /// The parameters in order, values unescaped.
    pub params: Vec<(String, String)>,
}

/// One syslog message. Header fields the sender left out (or sent as the
/// RFC 5424 nil value `-`) are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage {
    /// Facility, 0..=23 (`PRI / 8`); 1 (user) when the datagram had no PRI.
    pub facility: u8,
    /// Severity, 0 (emergency) ..= 7 (debug); 5 (notice) without a PRI.
    pub severity: u8,
    /// The timestamp exactly as sent (RFC 3164 `Mmm dd hh:mm:ss` or an
    /// RFC 3339 time). Kept as text: phones often have no clock yet (they
    /// send `Jan  1 00:00:12` before NTP), so the receive time is what the
    /// server files, and this is only shown.
    pub timestamp: Option<String>,
    /// HOSTNAME field.
    pub hostname: Option<String>,
    /// RFC 3164 TAG (without `[pid]` and `:`) or RFC 5424 APP-NAME.
    pub app_name: Option<String>,
    /// The `[pid]` of an RFC 3164 tag or the RFC 5424 PROCID.
    pub proc_id: Option<String>,
    /// RFC 5424 MSGID.
    pub msg_id: Option<String>,
    /// RFC 5424 structured data (empty for `-` and for RFC 3164).
    pub structured_data: Vec<SdElement>,
    /// The free-text message, without a leading UTF-8 BOM and without
    /// trailing newlines or NULs. Invalid UTF-8 is replaced by U+FFFD.
    pub msg: String,
    /// The format it was parsed as.
    pub format: Format,
}

impl SyslogMessage {
    /// `PRI` = facility × 8 + severity.
    pub fn pri(&self) -> u16 {
        u16::from(self.facility) * 8 + u16::from(self.severity)
    }

    /// The severity keyword (`emerg` … `debug`), as `logger -p` spells it.
    pub fn severity_name(&self) -> &'static str {
        const NAMES: [&str; 8] = [
            "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
        ];
        NAMES[usize::from(self.severity & 7)]
    }

    /// Formats the message in its [`Format`]: the exact bytes a sender
    /// would put in one datagram. Fields that cannot be represented
    /// (a hostname with a space) are written as they are, so only
    /// well-formed messages round-trip through [`crate::parse`].
    pub fn to_wire(&self) -> String {
        let mut out = format!("<{}>", self.pri());
        match self.format {
            Format::Rfc3164 => {
                if let Some(ts) = &self.timestamp {
                    out.push_str(ts);
                    out.push(' ');
                    if let Some(h) = &self.hostname {
                        out.push_str(h);
                        out.push(' ');
                    }
                    if let Some(tag) = &self.app_name {
                        out.push_str(tag);
                        if let Some(pid) = &self.proc_id {
                            let _ = write!(out, "[{pid}]");
                        }
                        out.push_str(": ");
                    }
                }
                out.push_str(&self.msg);
            }
            Format::Rfc5424 => {
                let nil = |f: &Option<String>| f.clone().unwrap_or_else(|| "-".to_string());
                let _ = write!(
                    out,
                    "1 {} {} {} {} {} ",
                    nil(&self.timestamp),
                    nil(&self.hostname),
                    nil(&self.app_name),
                    nil(&self.proc_id),
                    nil(&self.msg_id)
                );
                if self.structured_data.is_empty() {
                    out.push('-');
                }
                for el in &self.structured_data {
                    out.push('[');
                    out.push_str(&el.id);
                    for (k, v) in &el.params {
                        let _ = write!(out, " {k}=\"");
                        for c in v.chars() {
                            if matches!(c, '"' | '\\' | ']') {
                                out.push('\\');
                            }
                            out.push(c);
                        }
                        out.push('"');
                    }
                    out.push(']');
                }
                if !self.msg.is_empty() {
                    out.push(' ');
                    out.push_str(&self.msg);
                }
            }
        }
        out
    }
}
