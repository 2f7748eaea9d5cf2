//! The one error type of this crate.
//!
//! Every message says what was wrong and what to do about it, because the CLI
//! prints it verbatim as a single line. Messages never contain key material.

use std::path::PathBuf;

/// Everything that can go wrong while creating, loading or using the CA.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// `init_ca` found an existing CA and was not asked to replace it.
    #[error(
        "a CA already exists in {dir}: keep it, or pass --force (init_ca_force) to replace it; \
         every certificate it issued will then stop verifying"
    )]
    CaExists {
        /// The CA directory.
        dir: PathBuf,
    },
    /// `load_ca` found no CA.
    #[error("no CA found in {dir} (missing {missing}): run `phoneprov ca init` first")]
    CaMissing {
        /// The CA directory.
        dir: PathBuf,
        /// The missing file name.
        missing: &'static str,
    },
    /// A private key file is readable by group or others (issue 12 item 4).
    #[error(
        "private key {path} has mode {mode:o}, readable by other users; run `chmod 600 {path}`"
    )]
    KeyExposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading or writing a file failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done (`read`, `write`, `create directory`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A MAC address is not in one of the spellings [`Mac`] accepts.
    ///
    /// [`Mac`]: phoneprov_types::Mac
    #[error(transparent)]
    BadMac(#[from] phoneprov_types::MacError),
    /// A subject field (serial number, product name, server name) is unusable.
    #[error("invalid {field} `{value}`: {why}")]
    BadField {
        /// The field (`serial number`, `product name`, `server name`, ...).
        field: &'static str,
        /// The offending value.
        value: String,
        /// What is wrong and what is accepted.
        why: &'static str,
    },
    /// PEM input held no certificate or no key.
    #[error(
        "no {what} found in the PEM input: pass a PEM file with a `-----BEGIN {label}-----` block"
    )]
    PemMissing {
        /// What was looked for (`certificate`, `private key`).
        what: &'static str,
        /// The PEM label to expect.
        label: &'static str,
    },
    /// PEM input could not be decoded.
    #[error("cannot decode PEM {what}: {detail}; check that the file is an unmodified PEM file")]
    PemBad {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// A certificate could not be parsed as X.509.
    #[error("cannot parse X.509 certificate: {0}; is it really a certificate in DER/PEM form?")]
    X509(String),
    /// A phone certificate lacks the `S=<MAC>` subject attribute.
    #[error(
        "the certificate subject `{subject}` has no usable stateOrProvinceName (S=<MAC>): \
         it is not a phone certificate issued by `phoneprov ca issue`"
    )]
    NotAPhoneCert {
        /// The subject as text.
        subject: String,
    },
    /// A client certificate was given without its key, or the other way round.
    #[error("a client certificate needs both the certificate and its private key; {0} is missing")]
    ClientCertIncomplete(&'static str),
    /// rcgen refused to build a certificate.
    #[error("cannot generate the certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("invalid TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The client verifier could not be built (e.g. the client CA PEM holds no usable CA).
    #[error("cannot build the client-certificate verifier: {0}; check the client CA PEM")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
}

impl PkiError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        PkiError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
