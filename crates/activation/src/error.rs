//! Errors of the activation service. Each message says what was wrong and
//! what to do, because they reach operators through the CLI and the admin
//! API verbatim.

use crate::codes::CodeError;

/// Anything the activation store or its validation can refuse.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// The MAC does not parse.
    #[error(transparent)]
    Mac(#[from] phoneprov_store::MacError),
    /// The profile URL is not a usable provisioning rule.
    #[error("bad profile URL {url:?}: {why}; give a provisioning rule such as https://prov.example.com/$MA.xml")]
    Url {
        /// As given.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// A code or short code of the wrong shape.
    #[error(transparent)]
    Code(#[from] CodeError),
    /// A serial range that is empty or mixes lengths.
    #[error("bad serial range {from:?}..{to:?}: {why}")]
    SerialRange {
        /// Lower bound as given.
        from: String,
        /// Upper bound as given.
        to: String,
        /// What is wrong and how to fix it.
        why: &'static str,
    },
    /// Something other than exactly one of a MAC or a serial range.
    #[error("say which devices: give either a MAC or a serial range (from and to), not both and not neither")]
    Target,
    /// A short code already names another profile.
    #[error("short code #{0} is already in use; pick other digits or remove it first with `phoneprov activation unbind --short {0}`")]
    ShortTaken(String),
    /// A `--count` outside 1..=10000.
    #[error("cannot issue {0} codes at once; ask for 1 to 10000")]
    Count(u32),
    /// The inventory (events, data directory) failed.
    #[error(transparent)]
    Store(#[from] phoneprov_store::StoreError),
}

/// Why a typed code could not be redeemed (the phone side sees the HTTP
/// status: 404 and 410).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedeemError {
    /// No such activation or short code (HTTP 404).
    #[error("no such code; check the digits and type it again")]
    Unknown,
    /// The activation code was already used by another phone (HTTP 410).
    #[error("this activation code was already used; ask your provider for a new one")]
    Used,
    /// The activation code expired (HTTP 410).
    #[error("this activation code has expired; ask your provider for a new one")]
    Expired,
}
