//! Errors of rule parsing, URL resolution and context building.
//!
//! Every message says what was wrong, where (byte offset into the rule text
//! when known) and how to fix it, because these messages reach administrators
//! through `phoneprov profile lint` and `phoneprov rule expand`.

use std::fmt;

/// What is wrong with a URL, at parse time (raw text) or at selection time
/// (after macro expansion). `Display` gives the problem and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlErrorKind {
    /// No server and no leading `/` (`basic.cfg`, `configs/basic.cfg`).
    RelativePath,
    /// A scheme other than tftp, http, https, gds.
    UnsupportedScheme(String),
    /// The server part is not a host name, an IPv4 or a bracketed IPv6 address.
    InvalidHost(String),
    /// The port is not a number in 1..=65535.
    InvalidPort(String),
    /// A scheme and server but no `/path` (`tftp://host`).
    MissingPath,
    /// `--srv` with a TFTP URL (R-SRV-1).
    SrvWithTftp,
    /// `user:pass@host` in the URL.
    UserInfo,
    /// Whitespace or control characters in the URL.
    BadCharacter(char),
}

impl UrlErrorKind {
    /// Stable lint code of this problem.
    pub fn code(&self) -> &'static str {
        match self {
            UrlErrorKind::RelativePath => "rule-relative-path",
            UrlErrorKind::UnsupportedScheme(_) => "rule-unsupported-scheme",
            UrlErrorKind::InvalidHost(_) => "rule-invalid-host",
            UrlErrorKind::InvalidPort(_) => "rule-invalid-port",
            UrlErrorKind::MissingPath => "rule-missing-path",
            UrlErrorKind::SrvWithTftp => "rule-srv-tftp",
            UrlErrorKind::UserInfo => "rule-userinfo",
            UrlErrorKind::BadCharacter(_) => "rule-bad-character",
        }
    }

    /// What is wrong, in a few words.
    pub fn problem(&self) -> String {
        match self {
            UrlErrorKind::RelativePath => "the URL is a relative path".into(),
            UrlErrorKind::UnsupportedScheme(s) => format!("unsupported scheme `{s}`"),
            UrlErrorKind::InvalidHost(h) => format!("invalid server `{h}`"),
            UrlErrorKind::InvalidPort(p) => format!("invalid port `{p}`"),
            UrlErrorKind::MissingPath => "the URL has no file path".into(),
            UrlErrorKind::SrvWithTftp => "TFTP scheme is not supported in SRV lookups".into(),
            UrlErrorKind::UserInfo => "credentials in the URL (`user:pass@`)".into(),
            UrlErrorKind::BadCharacter(c) => format!("character {c:?} is not allowed in a URL"),
        }
    }

    /// How to fix it.
    pub fn hint(&self) -> String {
        match self {
            UrlErrorKind::RelativePath => {
                "start the path with `/` to fetch from the default server (`/$PN.cfg`), or name the server (`tftp://192.168.1.200/basic.cfg`)".into()
            }
            UrlErrorKind::UnsupportedScheme(_) => "use tftp://, http://, https:// or gds://".into(),
            UrlErrorKind::InvalidHost(_) => {
                "write a host name, an IPv4 address or a bracketed IPv6 address ([2001:db8::1])".into()
            }
            UrlErrorKind::InvalidPort(_) => "write a port number between 1 and 65535, or leave it out for the scheme's default".into(),
            UrlErrorKind::MissingPath => "add the file to fetch after the server, e.g. `/$PN.cfg`".into(),
            UrlErrorKind::SrvWithTftp => "use http:// or https:// with --srv, or remove --srv".into(),
            UrlErrorKind::UserInfo => "remove `user:pass@` and put the credentials in `[--uid USER --pwd PASS]`".into(),
            UrlErrorKind::BadCharacter(_) => "percent-encode it (`%20` for a space) or remove it".into(),
        }
    }
}

impl fmt::Display for UrlErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; fix: {}", self.problem(), self.hint())
    }
}

/// Error of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The rule text does not follow the grammar (see the crate docs).
    #[error("rule syntax error at byte {pos}: {message}; fix: {hint}")]
    Syntax {
        pos: usize,
        end: usize,
        message: String,
        hint: String,
    },
    /// The URL of an alternative is wrong as written in the rule.
    #[error("bad URL `{url}` at byte {pos}: {kind}")]
    Url {
        pos: usize,
        end: usize,
        url: String,
        kind: UrlErrorKind,
    },
    /// The URL became wrong after macro expansion (a macro value is odd).
    #[error("bad URL `{url}` after macro expansion (rule text `{template}`): {kind}")]
    ExpandedUrl {
        template: String,
        url: String,
        kind: UrlErrorKind,
    },
    /// The rule names no server and the context has no default server.
    #[error("URL `{url}` names no server and no default server is known; fix: name the server in the rule (`tftp://host/...`) or give the default server (DHCP option 66, or set_default_server)")]
    MissingServer { url: String },
    /// `with_mac` got something that is not a MAC address.
    #[error("bad MAC address `{input}`; fix: give 12 hex digits, optionally in colon, dash or dotted form (000e08012345, 00:0e:08:01:23:45, 00-0E-08-01-23-45, 000e.0801.2345)")]
    BadMac { input: String },
    /// `set_gpp` got a name that is not a general purpose parameter.
    #[error("`{name}` is not a general purpose parameter; fix: use a letter a..p (GPP_A..GPP_P) or sa..sd (GPP_SA..GPP_SD), optionally written as GPP_X")]
    BadGppName { name: String },
}

impl RuleError {
    /// Byte range in the rule text, when the error comes from parsing.
    pub fn span(&self) -> Option<(usize, usize)> {
        match self {
            RuleError::Syntax { pos, end, .. } | RuleError::Url { pos, end, .. } => {
                Some((*pos, *end))
            }
            _ => None,
        }
    }

    /// Stable lint code (`rule-syntax`, `rule-relative-path`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            RuleError::Syntax { .. } => "rule-syntax",
            RuleError::Url { kind, .. } | RuleError::ExpandedUrl { kind, .. } => kind.code(),
            RuleError::MissingServer { .. } => "rule-missing-server",
            RuleError::BadMac { .. } => "bad-mac",
            RuleError::BadGppName { .. } => "bad-gpp-name",
        }
    }

    /// The problem without position and hint (for lint messages).
    pub fn problem(&self) -> String {
        match self {
            RuleError::Syntax { message, .. } => message.clone(),
            RuleError::Url { kind, .. } | RuleError::ExpandedUrl { kind, .. } => kind.problem(),
            other => other.to_string(),
        }
    }

    /// How to fix it, for errors that have a separate hint.
    pub fn hint(&self) -> Option<String> {
        match self {
            RuleError::Syntax { hint, .. } => Some(hint.clone()),
            RuleError::Url { kind, .. } | RuleError::ExpandedUrl { kind, .. } => Some(kind.hint()),
            _ => None,
        }
    }

    pub(crate) fn syntax(
        pos: usize,
        end: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        RuleError::Syntax {
            pos,
            end: end.max(pos),
            message: message.into(),
            hint: hint.into(),
        }
    }
}
