//! # phoneprov-pki: the provisioning CA and TLS configurations
//!
//! Phones fetch their profiles over HTTPS (R-HTTPS-5). The server proves who
//! it is with a certificate signed by the *provisioning CA* the phones trust;
//! each phone proves who it is with a unique client certificate from the same
//! CA whose subject holds `OU=<PN>, L=<SN>, S=<MAC>` (S = stateOrProvinceName,
//! OID 2.5.4.8, MAC as 12 lowercase hex digits). The server can require that
//! certificate (mutual TLS), refuse other clients, and pick the device, and
//! therefore the profile, from it ([`phone_identity_from_der`],
//! [`PhoneIdentity::authorizes_mac`]): a certificate for one MAC never gets
//! another MAC's profile. The fleet simulator presents the same certificates
//! and trusts the same CA ([`client_config`]).
//!
//! This crate is that CA (a development/lab CA created in the data directory
//! at first start, [`ensure_ca`]), the issuing of phone and server
//! certificates, and the rustls configurations for both ends
//! ([`server_config`], [`client_config`]), including the phone-side
//! `TLS_Name_Validate` (R-SEC-3) and `TLS_Cipher_List` (R-SEC-2) settings.
//!
//! ## File layout (`phoneprov ca init`: `<data>/ca/`)
//! | file | content | mode |
//! |------|---------|------|
//! | `ca.pem` | CA certificate (give it to phones / the simulator) | 0644 |
//! | `ca.key` | CA private key (PKCS#8, ECDSA P-256) | 0600 |
//! | `server.pem` | HTTPS server certificate (CN = first name, SANs = all names) | 0644 |
//! | `server.key` | its private key | 0600 |
//!
//! Phone certificates go wherever `phoneprov ca issue -o DIR` puts them
//! (`DIR/<mac>.pem`, `DIR/<mac>.key`).
//!
//! ## Security notes
//! * Key files are created with mode 0600 and the CA directory with 0700 at
//!   creation time (no chmod race). Existing CA files are never overwritten
//!   unless asked ([`init_ca_force`]).
//! * Keys are never logged: [`IssuedCert`] and [`Ca`] redact them in `Debug`,
//!   and error messages only name files.
//! * TLS uses rustls with the ring provider only: no OpenSSL, no aws-lc.
//! * `validate_name = false` skips only the host-name check; the chain is
//!   still verified against the trust anchors ([`PhoneServerVerifier`]).
//! * This is a lab/operator CA with no revocation (no CRL/OCSP); replace it
//!   with `ca init --force` if its key leaks, then re-issue phone certs.
//!
//! ## Hand-written parts
//! The OpenSSL cipher-string evaluator ([`map_cipher_list`]) is hand-written
//! because no crate evaluates OpenSSL cipher strings without linking OpenSSL.
//! Everything else uses rcgen, rustls, rustls-pki-types and x509-parser.

mod ca;
mod cipher;
mod client;
mod error;
mod files;
mod identity;
mod server;
mod summary;

pub use ca::{
    ensure_ca, init_ca, init_ca_force, load_ca, Ca, CaFiles, IssuedCert, CA_CERT_FILE, CA_KEY_FILE,
    DEFAULT_SERVER_NAMES, SERVER_CERT_FILE, SERVER_KEY_FILE,
};
pub use cipher::{map_cipher_list, CipherOutcome, CipherSelection};
pub use client::{
    check_trust_anchors, client_config, ClientTls, PhoneServerVerifier, TrustAnchors,
};
pub use error::PkiError;
pub use files::check_private_file;
pub use identity::{
    identity_from_peer_certs, phone_identity_from_der, subject_from_peer_certs, PhoneIdentity,
};
pub use server::{server_config, ClientAuth, SESSION_CACHE_ENTRIES};
pub use summary::{summarize_der, summarize_pem, CertSummary};

/// Re-exported so callers use the same rustls version as this crate.
pub use rustls;
