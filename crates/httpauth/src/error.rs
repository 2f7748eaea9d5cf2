//! Errors of header parsing. Messages say what was wrong with the header and
//! what to do about it, because they end up in phone logs and server logs
//! where the reader cannot see the raw header.

/// Why a `WWW-Authenticate` or `Authorization` header could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The header breaks the RFC 7235 grammar.
    #[error("malformed authentication header at byte {at}: {what}; fix the server or client that sent it")]
    Syntax {
        /// Byte offset of the problem.
        at: usize,
        /// What was expected.
        what: &'static str,
    },
    /// A Digest header lacks a parameter RFC 7616 requires.
    #[error("Digest {header} lacks the `{param}` parameter; the peer does not follow RFC 7616")]
    MissingParam {
        /// `challenge` or `response`.
        header: &'static str,
        /// The missing parameter.
        param: &'static str,
    },
    /// A parameter has a value this implementation cannot use.
    #[error(
        "Digest parameter `{param}` has the unsupported value {value:?}; use one of {expected}"
    )]
    BadValue {
        /// The parameter.
        param: &'static str,
        /// The value received.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// `Authorization: Basic` with invalid base64 or no `:`.
    #[error("Basic credentials are not base64 of `user:password`; resend them correctly encoded")]
    BadBasic,
    /// An authorization scheme other than Basic or Digest.
    #[error("unsupported authorization scheme {0:?}; use Basic or Digest")]
    UnsupportedScheme(String),
    /// An empty header.
    #[error(
        "empty authentication header; the peer must send at least one challenge or credentials"
    )]
    Empty,
}
