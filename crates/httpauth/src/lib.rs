//! # phoneprov-httpauth: HTTP Basic and Digest authentication, both ends
//!
//! Profile downloads may require HTTP authentication (R-HTTP-4,
//! `Profile_Authentication_Type`): the server answers 401/407 with Basic or
//! Digest challenges and the phone answers them (at most twice, which is the
//! resync engine's rule, not this crate's). The phone side of phoneprov and
//! the server side share this one crate so they compute the same hashes.
//!
//! Sans-IO: no sockets, no clock (but for the [`AuthGuard`] shell). Times are Unix seconds passed in; client
//! nonces are passed in by the caller.
//!
//! ## Client (phone)
//! [`parse_challenges`] reads a `WWW-Authenticate` value (several challenges
//! per header, quoted strings with escapes), [`best_challenge`] picks Digest
//! over Basic and SHA-256 over MD5, [`authorization`] computes the header
//! value (RFC 7616 §3.4, `MD5`, `MD5-sess`, `SHA-256`, `SHA-256-sess`,
//! `qop=auth` preferred over `auth-int`, RFC 2069 mode without qop).
//!
//! ## Server
//! [`NonceManager`] issues stateless HMAC-signed, timestamped nonces and
//! remembers the highest nonce count per nonce (bounded) to refuse replays;
//! [`challenge_headers`] writes one `WWW-Authenticate` per algorithm,
//! SHA-256 first; [`parse_authorization`] and [`verify_digest`] /
//! [`verify_basic`] check the answer in constant time. See the [`server`]
//! module docs for the order of the calls.
//!
//! ## Throttle
//! [`AuthGuard`] ([`throttle`] module) logs, counts and slows down failed
//! authentication per client address and per user, on every door.
//!
//! ## Example
//! ```
//! use phoneprov_httpauth::*;
//! use std::time::Duration;
//!
//! let nonces = NonceManager::new([7; 32], Duration::from_secs(300));
//! let nonce = nonces.issue(1_000);
//! let header = challenge_headers("prov", &[Algorithm::Md5, Algorithm::Sha256], &nonce, false)
//!     .join(", ");
//! // phone side
//! let challenges = parse_challenges(&header).unwrap();
//! let ch = best_challenge(&challenges).unwrap();
//! let creds = Credentials::new("phone", "secret");
//! let auth = authorization(ch, &creds, "GET", "/cfg.xml", b"", "c1", 1);
//! // server side
//! let Authorization::Digest(resp) = parse_authorization(&auth).unwrap() else { panic!() };
//! assert_eq!(resp.algorithm, Algorithm::Sha256);
//! assert!(verify_digest(&resp, "GET", Secret::Password("secret"), b""));
//! assert_eq!(nonces.record(&resp, 1_001), NonceStatus::Valid);
//! assert_eq!(nonces.record(&resp, 1_002), NonceStatus::Replayed);
//! ```
//!
//! ## Hand-written parts
//! The header grammar ([`parse`](crate::parse) module) and the Digest
//! computation are written here: the Digest crates on crates.io
//! (`digest_auth`, `http-auth`) are client-only, pick the *first* challenge
//! rather than the strongest, and have no server side; the hashing itself
//! uses RustCrypto (`md-5`, `sha2`, `hmac`), and answers are compared with
//! the workspace's constant-time `phoneprov_types::secret_eq` (`subtle`).

mod algorithm;
mod client;
mod error;
mod parse;
pub mod server;
pub mod throttle;

pub use algorithm::{compute_response, Algorithm, Qop, ResponseInput};
pub use client::{
    authorization, basic, best_challenge, parse_challenges, Challenge, Credentials, DigestChallenge,
};
pub use error::AuthError;
pub use server::{
    basic_challenge, challenge_headers, parse_authorization, verify_basic, verify_digest,
    Authorization, DigestResponse, NonceManager, NonceStatus, Secret, DEFAULT_REPLAY_CAPACITY,
};
pub use throttle::{retry_after_secs, AuthGuard, Throttle, ThrottleSettings};
