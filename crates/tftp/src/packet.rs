//! TFTP wire format (RFC 1350, OACK from RFC 2347): one [`Packet`] enum with
//! [`Packet::parse`] and [`Packet::encode`].
//!
//! Parsing never panics on any input (fuzzed by `fuzz/fuzz_targets/tftp_packet.rs`)
//! and `parse(encode(p)) == p` for every packet `parse` returns, so the codec
//! can be property-tested and fuzzed as a pair.

use bytes::Bytes;
use std::fmt;

/// Opcode numbers of RFC 1350 and RFC 2347.
mod opcode {
    pub const RRQ: u16 = 1;
    pub const WRQ: u16 = 2;
    pub const DATA: u16 = 3;
    pub const ACK: u16 = 4;
    pub const ERROR: u16 = 5;
    pub const OACK: u16 = 6;
}

/// Transfer mode of a request (RFC 1350 §5). `mail` is obsolete and refused
/// by the server with ERROR 4, but it still parses so the refusal is clean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Text: lines end in CR LF on the wire, a bare CR is sent as CR NUL.
    Netascii,
    /// Raw bytes.
    Octet,
    /// Obsolete RFC 1350 mail mode.
    Mail,
}

impl Mode {
    /// The lowercase name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Netascii => "netascii",
            Mode::Octet => "octet",
            Mode::Mail => "mail",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        // Mode names are case-insensitive (RFC 1350 §5).
        match s.to_ascii_lowercase().as_str() {
            "netascii" => Some(Mode::Netascii),
            "octet" => Some(Mode::Octet),
            "mail" => Some(Mode::Mail),
            _ => None,
        }
    }
}

/// TFTP error codes (RFC 1350 §5, RFC 2347 for code 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// 0: not defined, see the message.
    pub const UNDEFINED: ErrorCode = ErrorCode(0);
    /// 1: file not found.
    pub const FILE_NOT_FOUND: ErrorCode = ErrorCode(1);
    /// 2: access violation.
    pub const ACCESS_VIOLATION: ErrorCode = ErrorCode(2);
    /// 3: disk full or allocation exceeded.
    pub const DISK_FULL: ErrorCode = ErrorCode(3);
    /// 4: illegal TFTP operation.
    pub const ILLEGAL_OPERATION: ErrorCode = ErrorCode(4);
    /// 5: unknown transfer ID.
    pub const UNKNOWN_TID: ErrorCode = ErrorCode(5);
    /// 6: file already exists.
    pub const FILE_EXISTS: ErrorCode = ErrorCode(6);
    /// 7: no such user.
    pub const NO_SUCH_USER: ErrorCode = ErrorCode(7);
    /// 8: option negotiation refused (RFC 2347).
    pub const OPTION_REFUSED: ErrorCode = ErrorCode(8);
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            0 => "error",
            1 => "file not found",
            2 => "access violation",
            3 => "disk full or allocation exceeded",
            4 => "illegal TFTP operation",
            5 => "unknown transfer ID",
            6 => "file already exists",
            7 => "no such user",
            8 => "option negotiation refused",
            _ => "unknown error code",
        };
        write!(f, "{} ({name})", self.0)
    }
}

/// A read or write request: file name, mode and RFC 2347 options in the
/// order they were sent (names keep their case; compare case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The file name exactly as the client sent it.
    pub filename: String,
    /// Transfer mode.
    pub mode: Mode,
    /// Options as (name, value) pairs.
    pub options: Vec<(String, String)>,
}

/// One TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Read request (opcode 1).
    Rrq(Request),
    /// Write request (opcode 2).
    Wrq(Request),
    /// Data block (opcode 3); `block` is the 16-bit on-wire number.
    Data {
        /// Block number modulo 65536.
        block: u16,
        /// Payload, at most the negotiated block size.
        data: Bytes,
    },
    /// Acknowledgement (opcode 4).
    Ack {
        /// Block number modulo 65536 (0 acknowledges an OACK or a WRQ).
        block: u16,
    },
    /// Error (opcode 5); ends the transfer.
    Error {
        /// Error code.
        code: ErrorCode,
        /// Human-readable message.
        message: String,
    },
    /// Option acknowledgement (opcode 6, RFC 2347).
    Oack {
        /// Accepted options as (name, value) pairs.
        options: Vec<(String, String)>,
    },
}

/// Why bytes are not a TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Fewer than 2 bytes, or a header cut short.
    #[error("TFTP packet too short ({0} bytes): a packet needs an opcode and its fixed fields")]
    TooShort(usize),
    /// Opcode outside 1..=6.
    #[error("unknown TFTP opcode {0}: expected 1 (RRQ) to 6 (OACK)")]
    UnknownOpcode(u16),
    /// A string field is not terminated by NUL.
    #[error("TFTP {0} is not NUL-terminated: the sender must end every string with a zero byte")]
    Unterminated(&'static str),
    /// A string field is not UTF-8.
    #[error("TFTP {0} is not valid UTF-8: use ASCII file names and options")]
    NotUtf8(&'static str),
    /// Mode is not netascii, octet or mail.
    #[error("unknown TFTP mode {0:?}: use \"octet\" or \"netascii\"")]
    UnknownMode(String),
    /// An option name without a value.
    #[error("TFTP option {0:?} has no value: options come in name/value pairs")]
    OptionWithoutValue(String),
}

fn split_strings<'a>(mut rest: &'a [u8], what: &'static str) -> Result<Vec<&'a str>, PacketError> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(PacketError::Unterminated(what))?;
        let s = std::str::from_utf8(&rest[..nul]).map_err(|_| PacketError::NotUtf8(what))?;
        out.push(s);
        rest = &rest[nul + 1..];
    }
    Ok(out)
}

fn parse_options(strings: &[&str]) -> Result<Vec<(String, String)>, PacketError> {
    let mut options = Vec::with_capacity(strings.len() / 2);
    for pair in strings.chunks(2) {
        match pair {
            [name, value] => options.push((name.to_string(), value.to_string())),
            [name] => return Err(PacketError::OptionWithoutValue(name.to_string())),
            _ => unreachable!("chunks(2) yields one or two items"),
        }
    }
    Ok(options)
}

fn parse_request(body: &[u8]) -> Result<Request, PacketError> {
    let strings = split_strings(body, "request field")?;
    if strings.len() < 2 {
        return Err(PacketError::Unterminated("request file name or mode"));
    }
    let mode =
        Mode::parse(strings[1]).ok_or_else(|| PacketError::UnknownMode(strings[1].into()))?;
    Ok(Request {
        filename: strings[0].to_string(),
        mode,
        options: parse_options(&strings[2..])?,
    })
}

impl Packet {
    /// Parses one datagram.
    pub fn parse(bytes: &[u8]) -> Result<Packet, PacketError> {
        if bytes.len() < 2 {
            return Err(PacketError::TooShort(bytes.len()));
        }
        let op = u16::from_be_bytes([bytes[0], bytes[1]]);
        let body = &bytes[2..];
        let u16_at = |b: &[u8]| -> Result<u16, PacketError> {
            if b.len() < 2 {
                Err(PacketError::TooShort(bytes.len()))
            } else {
                Ok(u16::from_be_bytes([b[0], b[1]]))
            }
        };
        match op {
            opcode::RRQ => Ok(Packet::Rrq(parse_request(body)?)),
            opcode::WRQ => Ok(Packet::Wrq(parse_request(body)?)),
            opcode::DATA => Ok(Packet::Data {
                block: u16_at(body)?,
                data: Bytes::copy_from_slice(&body[2..]),
            }),
            // Trailing bytes after an ACK's block number are ignored, as
            // tftpd-hpa and most stacks do (some add padding).
            opcode::ACK => Ok(Packet::Ack {
                block: u16_at(body)?,
            }),
            opcode::ERROR => {
                let code = ErrorCode(u16_at(body)?);
                // Lenient: a missing final NUL is accepted, invalid UTF-8 is
                // replaced, since the message only ends up in a log line.
                let msg = &body[2..];
                let msg = match msg.iter().position(|&b| b == 0) {
                    Some(n) => &msg[..n],
                    None => msg,
                };
                Ok(Packet::Error {
                    code,
                    message: String::from_utf8_lossy(msg).into_owned(),
                })
            }
            opcode::OACK => {
                let strings = split_strings(body, "option")?;
                Ok(Packet::Oack {
                    options: parse_options(&strings)?,
                })
            }
            other => Err(PacketError::UnknownOpcode(other)),
        }
    }

    /// Encodes the packet into a new buffer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded packet to `out` (lets hot paths reuse a buffer).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        fn put_str(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        fn put_request(out: &mut Vec<u8>, op: u16, r: &Request) {
            out.extend_from_slice(&op.to_be_bytes());
            put_str(out, &r.filename);
            put_str(out, r.mode.as_str());
            for (n, v) in &r.options {
                put_str(out, n);
                put_str(out, v);
            }
        }
        match self {
            Packet::Rrq(r) => put_request(out, opcode::RRQ, r),
            Packet::Wrq(r) => put_request(out, opcode::WRQ, r),
            Packet::Data { block, data } => encode_data(out, *block, data),
            Packet::Ack { block } => {
                out.extend_from_slice(&opcode::ACK.to_be_bytes());
                out.extend_from_slice(&block.to_be_bytes());
            }
            Packet::Error { code, message } => {
                out.extend_from_slice(&opcode::ERROR.to_be_bytes());
                out.extend_from_slice(&code.0.to_be_bytes());
                // A NUL inside the message would cut it short on the wire.
                out.extend(message.bytes().filter(|&b| b != 0));
                out.push(0);
            }
            Packet::Oack { options } => {
                out.extend_from_slice(&opcode::OACK.to_be_bytes());
                for (n, v) in options {
                    put_str(out, n);
                    put_str(out, v);
                }
            }
        }
    }
}

/// Writes a DATA packet straight from a slice (no `Bytes` needed on the
/// sender's hot path).
pub fn encode_data(out: &mut Vec<u8>, block: u16, data: &[u8]) {
    out.reserve(4 + data.len());
    out.extend_from_slice(&opcode::DATA.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(data);
}

/// Encodes an ACK.
pub fn encode_ack(block: u16) -> Vec<u8> {
    Packet::Ack { block }.encode()
}

/// Encodes an ERROR.
pub fn encode_error(code: ErrorCode, message: &str) -> Vec<u8> {
    Packet::Error {
        code,
        message: message.to_string(),
    }
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrq_with_options_round_trips() {
        let p = Packet::Rrq(Request {
            filename: "ata000e08012345.cfg".into(),
            mode: Mode::Octet,
            options: vec![
                ("blksize".into(), "1428".into()),
                ("tsize".into(), "0".into()),
            ],
        });
        let b = p.encode();
        assert_eq!(&b[..2], &[0, 1]);
        assert_eq!(Packet::parse(&b).unwrap(), p);
    }

    #[test]
    fn mode_is_case_insensitive() {
        let p = Packet::parse(b"\x00\x01f\x00OCTET\x00").unwrap();
        assert!(matches!(
            p,
            Packet::Rrq(Request {
                mode: Mode::Octet,
                ..
            })
        ));
    }

    #[test]
    fn malformed_packets_are_errors() {
        assert_eq!(Packet::parse(b"\x00"), Err(PacketError::TooShort(1)));
        assert_eq!(
            Packet::parse(b"\x00\x09"),
            Err(PacketError::UnknownOpcode(9))
        );
        assert!(Packet::parse(b"\x00\x01file").is_err());
        assert!(Packet::parse(b"\x00\x01file\x00bogus\x00").is_err());
        assert!(Packet::parse(b"\x00\x01f\x00octet\x00blksize\x00").is_err());
        assert!(Packet::parse(b"\x00\x03\x00").is_err());
    }

    #[test]
    fn error_without_nul_is_accepted() {
        let p = Packet::parse(b"\x00\x05\x00\x01missing").unwrap();
        assert_eq!(
            p,
            Packet::Error {
                code: ErrorCode::FILE_NOT_FOUND,
                message: "missing".into()
            }
        );
    }
}
