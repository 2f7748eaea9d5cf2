//! Digest algorithms and the response computation of RFC 7616 §3.4, shared
//! by the client ([`crate::authorization`]) and the server
//! ([`crate::verify_digest`]) so both ends can never disagree.

use md5::Md5;
use sha2::{Digest as _, Sha256};
use std::fmt;

/// A Digest hash algorithm (RFC 7616 §3.3). The `-sess` variants fold the
/// client nonce into HA1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `MD5`, the RFC 2617 default; what most phones and Apache speak.
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`, preferred when offered (RFC 7616 §3.7).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl Algorithm {
    /// All supported algorithms, strongest first.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Md5,
        Algorithm::Md5Sess,
    ];

    /// Case-insensitive parse of the `algorithm` parameter.
    pub fn parse(s: &str) -> Option<Algorithm> {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "MD5-SESS" => Some(Algorithm::Md5Sess),
            "SHA-256" => Some(Algorithm::Sha256),
            "SHA-256-SESS" => Some(Algorithm::Sha256Sess),
            _ => None,
        }
    }

    /// The name as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Whether this is a `-sess` variant.
    pub fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// Preference rank used by [`crate::best_challenge`] (higher is better).
    pub(crate) fn strength(self) -> u8 {
        match self {
            Algorithm::Sha256 => 4,
            Algorithm::Sha256Sess => 3,
            Algorithm::Md5 => 2,
            Algorithm::Md5Sess => 1,
        }
    }

    /// Lowercase hex of the hash of `data`.
    pub fn hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex(&Md5::digest(data)),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex(&Sha256::digest(data)),
        }
    }

    /// `H(user:realm:password)`: what a password file stores instead of the
    /// password (`htdigest` stores the MD5 one).
    pub fn ha1_plain(self, user: &str, realm: &str, password: &str) -> String {
        self.hex(format!("{user}:{realm}:{password}").as_bytes())
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Quality of protection (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authenticates the request line only.
    Auth,
    /// `auth-int`: also hashes the body into HA2.
    AuthInt,
}

impl Qop {
    /// Case-insensitive parse.
    pub fn parse(s: &str) -> Option<Qop> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auth" => Some(Qop::Auth),
            "auth-int" => Some(Qop::AuthInt),
            _ => None,
        }
    }

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

/// Everything the response hash covers besides HA1's inputs.
#[derive(Debug, Clone, Copy)]
pub struct ResponseInput<'a> {
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Server nonce.
    pub nonce: &'a str,
    /// Client nonce (only used with a qop or a `-sess` algorithm).
    pub cnonce: &'a str,
    /// Nonce count, written as 8 hex digits.
    pub nc: u32,
    /// `None`: RFC 2069 compatibility (no qop).
    pub qop: Option<Qop>,
    /// Request method.
    pub method: &'a str,
    /// The `uri` parameter, exactly as sent.
    pub uri: &'a str,
    /// Request body (hashed for `auth-int`).
    pub body: &'a [u8],
}

/// The `response` value from `H(user:realm:password)` (RFC 7616 §3.4.1).
pub fn compute_response(ha1_plain: &str, input: &ResponseInput<'_>) -> String {
    let alg = input.algorithm;
    let ha1 = if alg.is_sess() {
        alg.hex(format!("{ha1_plain}:{}:{}", input.nonce, input.cnonce).as_bytes())
    } else {
        ha1_plain.to_string()
    };
    let ha2 = match input.qop {
        Some(Qop::AuthInt) => {
            alg.hex(format!("{}:{}:{}", input.method, input.uri, alg.hex(input.body)).as_bytes())
        }
        _ => alg.hex(format!("{}:{}", input.method, input.uri).as_bytes()),
    };
    match input.qop {
        Some(qop) => alg.hex(
            format!(
                "{ha1}:{}:{:08x}:{}:{}:{ha2}",
                input.nonce,
                input.nc,
                input.cnonce,
                qop.as_str()
            )
            .as_bytes(),
        ),
        None => alg.hex(format!("{ha1}:{}:{ha2}", input.nonce).as_bytes()),
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
