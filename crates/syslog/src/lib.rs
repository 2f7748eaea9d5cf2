//! `phoneprov-syslog`: the syslog side of the provisioning server (R-LOG).
//!
//! Phones configured with a syslog server send one message when a resync or
//! upgrade starts and one when it ends (R-LOG-1), from macro-expanded
//! templates such as `$PN $MAC -- Successful resync $SCHEME://…` (R-LOG-2,
//! R-LOG-3). This crate turns those datagrams into device timeline events:
//!
//! - [`parse`]: sans-IO parser for RFC 3164 and RFC 5424 (structured data,
//!   BOM), tolerant of the phones' header-less lines; never fails, never
//!   panics (proptest + the `syslog_parse` fuzz target).
//!   [`SyslogMessage::to_wire`] is its inverse for well-formed messages.
//! - [`find_mac`] and [`classify`]: whose message it is and which of the six
//!   R-LOG events (resync/upgrade × request/success/failure) it reports.
//! - [`run_receiver`]: the tokio UDP loop calling a sink with [`Received`].
//!
//! No storage here: filing a message into the device timeline (matched by
//! MAC in the text, else by sender IP) is the server's
//! (`phoneprov_server::syslog_filing`), so this crate depends on no
//! database and the phone-side tools can use the parser alone.
//!
//! ```
//! use phoneprov_syslog::{parse, classify, find_mac, PhoneLogKind};
//! let m = parse(b"<134>ATA192-MPP 00:0e:08:ab:cd:ef -- Successful resync tftp://192.168.1.200/basic.txt");
//! assert_eq!(find_mac(&m.msg).unwrap().to_string(), "000e08abcdef");
//! assert_eq!(classify(&m.msg), PhoneLogKind::ResyncSuccess);
//! ```
//!
//! # Why the parser is hand-written
//! The one maintained tolerant parser, `syslog_loose`, converts timestamps
//! to `chrono` values with a guessed year and, for a line without a
//! timestamp, guesses hostname and tag from the first words, which turns
//! the phone's `ATA192-MPP 00:0e:08:… -- …` into a "host" and an "app".
//! Here timestamps stay text (phones without NTP send 1970 or `Jan 1`; the
//! server files the receive time) and a header-less line is all message
//! (RFC 3164 §4.3.3), which is what classification needs. The grammar is a
//! few hundred lines, and a formatter was needed anyway for round-trip
//! tests. MAC spellings are `phoneprov_types::Mac`'s.

mod classify;
mod message;
mod parse;
mod receiver;

pub use classify::{classify, find_mac, PhoneLogKind};
pub use message::{Format, SdElement, SyslogMessage};
pub use parse::{parse, DEFAULT_PRI};
pub use receiver::{run_receiver, ReceiveError, Received, MAX_DATAGRAM};

/// The `syslog_parse` fuzz target's body (also replayed over the corpus by
/// a normal test): parse, classify, format the result and parse that again.
/// Nothing here may panic, whatever the bytes.
#[doc(hidden)]
pub fn fuzz_entry(data: &[u8]) {
    let m = parse(data);
    let _ = classify(&m.msg);
    let _ = find_mac(&m.msg);
    let again = parse(m.to_wire().as_bytes());
    let _ = (again.pri(), again.severity_name());
}
