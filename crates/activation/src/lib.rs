//! `phoneprov-activation`: the self-hosted activation (zero-touch
//! redirect) service and the phone-side customization state machine
//! (SPEC §11 R-ACT, R-FLOW-1/4, R-RULE-5).
//!
//! A factory-fresh phone that gets no provisioning server from DHCP asks an
//! activation server "who provisions me?" with its MAC, model and serial.
//! The operator has bound it (by MAC, or by a serial range of a shipment)
//! to a provider's profile rule, and the answer is a tiny redirect profile
//! setting `Profile_Rule`. Phones nobody bound can be onboarded by the user
//! typing a 16-digit activation code (after the `gds://` rule) or a short
//! code (`#` and 3–16 digits).
//!
//! # Server half
//! - [`ActivationStore`]: bindings, codes and short codes in the
//!   inventory's SQLite file (`<data>/phoneprov.db`, own `activation_*`
//!   tables), every answer recorded on the device timeline
//!   (`EventKind::Activation`).
//! - [`router`]: the phone endpoints (`/activation/v1/...`) and the admin
//!   endpoints (`/api/v1/activation/...`, behind a caller-supplied
//!   [`AdminGuard`]) as an `axum::Router` that `phoneprov serve` merges.
//! - Codes come from the OS CSPRNG ([`generate_activation_code`]).
//!
//! # Phone half (re-exported from `phoneprov_phone::activation`)
//! The client machine lives in the phone crate, where `phoneprov_phone::Device`
//! composes it with the resync engine; it is re-exported here for callers
//! that know it by this crate.
//! - [`CustomizationMachine`]: the states Open, Aborted, Pending, Custom
//!   Pending, Acquired, Unavailable, GDS-Pending, GDS-Acquired, sans-IO on
//!   a virtual clock, with the exponential backoff of firmware 12.0(3)
//!   ([`BackoffPolicy`]) and the rule that a phone in Acquired or Aborted
//!   never asks again until factory reset. The transition table is in the
//!   [`machine`] module docs. [`Persisted`] survives reboots.
//! - [`parse_redirect`] reads the server's answer with the same flat-profile
//!   code the server wrote it with.
//!
//! # Hand-written, and why
//! - The state machine and backoff: they are the behaviour being specified
//!   (R-ACT-3), a dozen lines of arithmetic; backoff crates (`backoff`,
//!   `backon`) own the sleeping and the clock, which a sans-IO machine must
//!   not, and they do not persist an attempt counter across reboots.
//! - Code generation and parsing: 16 uniform digits from `OsRng` and a
//!   digit check; no crate does this dialect's `#` short-code rule.
//!
//! Everything else is crates: axum for HTTP, `phoneprov-store` for the
//! tables (it owns all SQL),
//! `rand`/`rand_chacha` for randomness (seeded ChaCha8 for reproducible
//! jitter), `phoneprov-rule` to validate URLs, `phoneprov-profile` for the
//! redirect XML.

mod codes;
mod error;
mod router;
mod store;

pub use codes::{
    generate_activation_code, mask, validate_short_code, CodeError, EnteredCode,
    ACTIVATION_CODE_LEN, SHORT_CODE_MAX, SHORT_CODE_MIN,
};
pub use error::{ActivationError, RedeemError};
pub use phoneprov_phone::activation::{
    is_gds_rule, machine, parse_redirect, redirect_profile, ActivationId, ActivationRequest,
    BackoffPolicy, CodeAnswer, CustomizationMachine, CustomizationState, Input, Output, Persisted,
    QueryAnswer, RedirectError, MIN_RETRY_DELAY_MS, PROFILE_RULE, REDIRECT_CONTENT_TYPE,
};
pub use router::{
    bearer_guard, router, ActivationService, AdminGuard, BindBody, Clock, CodeBody, CodesBody,
    Issued, QueryParams, UnbindBody, DEFAULT_CODE_TTL,
};
pub use store::{
    validate_serial_range, validate_url, ActivationStore, Binding, IssuedCode, Listing, ShortCode,
    Target, MAX_CODES_PER_CALL,
};
