//! The phone's customization client (SPEC §11 R-ACT, R-FLOW-1/4,
//! R-RULE-5): the sans-IO [`CustomizationMachine`] with its backoff
//! ([`BackoffPolicy`]), what a typed code is ([`EnteredCode`]) and what
//! the activation server's answer means ([`parse_redirect`]).
//!
//! This is the phone half of activation; `phoneprov-activation` keeps the
//! server half (store, router, code generation) and re-exports these
//! types, so both halves read codes and redirect profiles with one parser.
//! [`crate::Device`] composes the machine with the resync engine.

mod backoff;
mod code;
pub mod machine;
mod redirect;

pub use backoff::{BackoffPolicy, MIN_RETRY_DELAY_MS};
pub use code::{
    mask, validate_short_code, CodeError, EnteredCode, ACTIVATION_CODE_LEN, SHORT_CODE_MAX,
    SHORT_CODE_MIN,
};
pub use machine::{
    is_gds_rule, ActivationId, ActivationRequest, CodeAnswer, CustomizationMachine,
    CustomizationState, Input, Output, Persisted, QueryAnswer,
};
pub use redirect::{
    parse_redirect, redirect_profile, RedirectError, PROFILE_RULE, REDIRECT_CONTENT_TYPE,
};
