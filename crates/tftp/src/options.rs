//! Option negotiation: RFC 2347 (OACK), RFC 2348 (blksize), RFC 2349
//! (timeout, tsize) and RFC 7440 (windowsize).
//!
//! The server side turns a request's option list into [`TransferOptions`] and
//! the OACK list, or an [`OptionError`] that becomes ERROR 8. The client side
//! checks that an OACK only narrows what was asked for.

use std::time::Duration;

/// Smallest block size allowed by RFC 2348.
pub const MIN_BLKSIZE: u16 = 8;
/// Largest block size allowed by RFC 2348.
pub const MAX_BLKSIZE: u16 = 65464;
/// RFC 1350 block size, used when no blksize was negotiated.
pub const DEFAULT_BLKSIZE: u16 = 512;

/// The parameters one transfer runs with once negotiation is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferOptions {
    /// Bytes per DATA block (RFC 2348), 512 when not negotiated.
    pub blksize: u16,
    /// Blocks sent before an ACK is awaited (RFC 7440), 1 when not negotiated.
    pub windowsize: u16,
    /// Retransmission timeout (RFC 2349 when negotiated).
    pub timeout: Duration,
    /// Transfer size in bytes when known (RFC 2349).
    pub tsize: Option<u64>,
}

/// An option the peer sent that cannot be honoured; answered with ERROR 8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// Value is not a decimal number.
    #[error("option {name} has value {value:?}, which is not a decimal number")]
    NotANumber {
        /// Option name.
        name: &'static str,
        /// Value as sent.
        value: String,
    },
    /// Value outside the range of its RFC.
    #[error("option {name}={value} is outside {min}..={max}: ask for a value in that range")]
    OutOfRange {
        /// Option name.
        name: &'static str,
        /// Value as sent.
        value: u64,
        /// Lowest allowed.
        min: u64,
        /// Highest allowed.
        max: u64,
    },
    /// The same option twice.
    #[error("option {0} appears twice in the request: send each option once")]
    Duplicate(&'static str),
    /// An OACK contained something the client did not ask for or widened it.
    #[error("server's OACK has {name}={value}, which the client did not ask for or widens what it asked")]
    Unrequested {
        /// Option name.
        name: String,
        /// Value as sent.
        value: String,
    },
    /// tsize larger than the server accepts for an upload.
    #[error("upload of {size} bytes exceeds the server's limit of {max} bytes")]
    TooLarge {
        /// Announced size.
        size: u64,
        /// Configured limit.
        max: u64,
    },
}

/// Options a request asked for, parsed and range-checked but not yet
/// narrowed by the server's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestedOptions {
    /// blksize, 8..=65464.
    pub blksize: Option<u16>,
    /// timeout in seconds, 1..=255.
    pub timeout: Option<u8>,
    /// tsize (0 in a read request, the size in a write request).
    pub tsize: Option<u64>,
    /// windowsize, 1..=65535.
    pub windowsize: Option<u16>,
}

fn number(name: &'static str, value: &str, min: u64, max: u64) -> Result<u64, OptionError> {
    let v: u64 = value.trim().parse().map_err(|_| OptionError::NotANumber {
        name,
        value: value.to_string(),
    })?;
    if v < min || v > max {
        return Err(OptionError::OutOfRange {
            name,
            value: v,
            min,
            max,
        });
    }
    Ok(v)
}

impl RequestedOptions {
    /// Parses the options of an RRQ/WRQ. Unknown options are ignored
    /// (RFC 2347: the server simply leaves them out of the OACK).
    pub fn parse(options: &[(String, String)]) -> Result<RequestedOptions, OptionError> {
        let mut r = RequestedOptions::default();
        fn set<T>(slot: &mut Option<T>, name: &'static str, v: T) -> Result<(), OptionError> {
            if slot.is_some() {
                return Err(OptionError::Duplicate(name));
            }
            *slot = Some(v);
            Ok(())
        }
        for (name, value) in options {
            match name.to_ascii_lowercase().as_str() {
                "blksize" => {
                    let v = number("blksize", value, MIN_BLKSIZE.into(), MAX_BLKSIZE.into())?;
                    set(&mut r.blksize, "blksize", v as u16)?
                }
                "timeout" => {
                    let v = number("timeout", value, 1, 255)?;
                    set(&mut r.timeout, "timeout", v as u8)?
                }
                "tsize" => {
                    let v = number("tsize", value, 0, u64::MAX)?;
                    set(&mut r.tsize, "tsize", v)?
                }
                "windowsize" => {
                    let v = number("windowsize", value, 1, 65535)?;
                    set(&mut r.windowsize, "windowsize", v as u16)?
                }
                _ => {}
            }
        }
        Ok(r)
    }

    /// Whether any option this crate understands was requested (an OACK is
    /// sent only then, RFC 2347).
    pub fn any(&self) -> bool {
        self.blksize.is_some()
            || self.timeout.is_some()
            || self.tsize.is_some()
            || self.windowsize.is_some()
    }

    /// The option list a client puts in its request.
    pub fn to_list(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        if let Some(b) = self.blksize {
            v.push(("blksize".into(), b.to_string()));
        }
        if let Some(t) = self.timeout {
            v.push(("timeout".into(), t.to_string()));
        }
        if let Some(t) = self.tsize {
            v.push(("tsize".into(), t.to_string()));
        }
        if let Some(w) = self.windowsize {
            v.push(("windowsize".into(), w.to_string()));
        }
        v
    }

    /// Server side: narrows the request to the server's limits. Returns the
    /// transfer parameters (tsize left for the caller, who knows the size).
    pub fn negotiate(
        &self,
        max_blksize: u16,
        max_windowsize: u16,
        default_timeout: Duration,
    ) -> TransferOptions {
        TransferOptions {
            // RFC 2348: the server may answer with a smaller block size.
            blksize: self
                .blksize
                .map(|b| b.min(max_blksize.max(MIN_BLKSIZE)))
                .unwrap_or(DEFAULT_BLKSIZE),
            windowsize: self
                .windowsize
                .map(|w| w.min(max_windowsize.max(1)))
                .unwrap_or(1),
            timeout: self
                .timeout
                .map(|t| Duration::from_secs(t.into()))
                .unwrap_or(default_timeout),
            tsize: None,
        }
    }

    /// The OACK list for negotiated options: only those that were asked for,
    /// tsize only when the size is known.
    pub fn oack_list(&self, negotiated: &TransferOptions) -> Vec<(String, String)> {
        let mut v = Vec::new();
        if self.blksize.is_some() {
            v.push(("blksize".into(), negotiated.blksize.to_string()));
        }
        if let Some(t) = self.timeout {
            v.push(("timeout".into(), t.to_string()));
        }
        if self.tsize.is_some() {
            if let Some(size) = negotiated.tsize {
                v.push(("tsize".into(), size.to_string()));
            }
        }
        if self.windowsize.is_some() {
            v.push(("windowsize".into(), negotiated.windowsize.to_string()));
        }
        v
    }

    /// Client side: checks an OACK against what was asked for and returns the
    /// parameters to run with.
    pub fn accept_oack(
        &self,
        oack: &[(String, String)],
        local_timeout: Duration,
    ) -> Result<TransferOptions, OptionError> {
        let mut t = TransferOptions {
            blksize: DEFAULT_BLKSIZE,
            windowsize: 1,
            timeout: local_timeout,
            tsize: None,
        };
        for (name, value) in oack {
            let unrequested = || OptionError::Unrequested {
                name: name.clone(),
                value: value.clone(),
            };
            match name.to_ascii_lowercase().as_str() {
                "blksize" => {
                    let asked = self.blksize.ok_or_else(unrequested)?;
                    let v = number("blksize", value, MIN_BLKSIZE.into(), asked.into())
                        .map_err(|_| unrequested())?;
                    t.blksize = v as u16;
                }
                "windowsize" => {
                    let asked = self.windowsize.ok_or_else(unrequested)?;
                    let v =
                        number("windowsize", value, 1, asked.into()).map_err(|_| unrequested())?;
                    t.windowsize = v as u16;
                }
                "timeout" => {
                    self.timeout.ok_or_else(unrequested)?;
                    let v = number("timeout", value, 1, 255)?;
                    t.timeout = Duration::from_secs(v);
                }
                "tsize" => {
                    self.tsize.ok_or_else(unrequested)?;
                    t.tsize = Some(number("tsize", value, 0, u64::MAX)?);
                }
                _ => return Err(unrequested()),
            }
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn r_tftp_blksize_range_is_enforced() {
        assert!(RequestedOptions::parse(&opts(&[("blksize", "7")])).is_err());
        assert!(RequestedOptions::parse(&opts(&[("blksize", "65465")])).is_err());
        assert!(RequestedOptions::parse(&opts(&[("BLKSIZE", "abc")])).is_err());
        let r = RequestedOptions::parse(&opts(&[("blksize", "65464"), ("foo", "bar")])).unwrap();
        assert_eq!(r.blksize, Some(65464));
        assert_eq!(r.negotiate(1468, 64, Duration::from_secs(1)).blksize, 1468);
    }

    #[test]
    fn r_tftp_windowsize_range_is_enforced() {
        assert!(RequestedOptions::parse(&opts(&[("windowsize", "0")])).is_err());
        assert!(RequestedOptions::parse(&opts(&[("windowsize", "65536")])).is_err());
        assert!(RequestedOptions::parse(&opts(&[("windowsize", "65535")])).is_ok());
    }

    #[test]
    fn oack_that_widens_is_refused() {
        let r = RequestedOptions {
            blksize: Some(1024),
            ..Default::default()
        };
        assert!(r
            .accept_oack(&opts(&[("blksize", "2048")]), Duration::from_secs(1))
            .is_err());
        assert!(r
            .accept_oack(&opts(&[("windowsize", "4")]), Duration::from_secs(1))
            .is_err());
        let t = r
            .accept_oack(&opts(&[("blksize", "512")]), Duration::from_secs(1))
            .unwrap();
        assert_eq!(t.blksize, 512);
    }
}
