//! The activation executor of each virtual phone (SPEC §11 R-ACT,
//! R-FLOW-1/4, R-RULE-5): the HTTP side of the customization client that
//! `phoneprov_phone::Device` runs (the machine, the engine held at boot,
//! GDS codes, reboot and factory reset are all there, sans-IO).
//!
//! With `--activation URL` ([`SimConfig::activation`](crate::SimConfig)),
//! the driver carries out the device's two activation actions:
//!
//! | device action | what the executor does |
//! |---|---|
//! | `Activation(Query)` | `GET URL/activation/v1/query?mac=&model=&serial=` |
//! | `Activation(SubmitCode)` | `POST URL/activation/v1/code` `{"mac","code"}` |
//!
//! and feeds the answer back (`Input::QueryAnswer` / `Input::CodeAnswer`).
//! The exchanges go through the simulator's own [`Net`](crate::exec::Net)
//! with the phone's parameters, so the trusted CA (`--ca`), the phone's
//! client certificate (`--client-certs DIR`), `TLS_Name_Validate`,
//! `TLS_Cipher_List` and the manual proxy apply exactly as to a resync;
//! each exchange holds a `--concurrency` slot. Answers: 200 with a redirect
//! profile → redirect (`phoneprov_phone::activation::parse_redirect`); 404
//! → unbound (query) or rejected (code); 410 or 400 to a code → rejected;
//! anything else (5xx, a body that is not a redirect profile, a closed
//! connection, a timeout) → error: Pending with a backoff retry, nothing
//! applied (R-ACT-3).
//!
//! # Time
//! Retries are due on the phone's clock (UTC plus the driver's skew). Under
//! `--once` a phone makes one activation round and stops when the machine
//! is final or has armed a retry (like the engine's one resync). In real
//! time the retry waits; `--activation-retry-wait MS` caps the real wait
//! and jumps the phone's clock over the rest, the fast-forward the driver
//! does under `--once`, so a test sees the 60 s, 120 s, ... backoff of
//! firmware 12.0(3) without waiting for it.

mod wire;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use phoneprov_phone::activation::ActivationRequest;
use phoneprov_phone::{Input, ParamStore, PhoneConfig};
use tokio::sync::Semaphore;

use crate::exec::Net;
use wire::Wire;
pub use wire::{code_answer, query_answer, validate_base_url};

/// Fleet-wide activation settings (from `SimConfig`).
#[derive(Debug, Clone)]
pub struct ActivationSettings {
    /// Base URL of the activation service (`http(s)://host[:port]`).
    pub base_url: String,
    /// `--gds-code`: typed when the server gave no provider.
    pub gds_code: Option<String>,
    /// `--activation-retry-wait`: the longest real wait for a retry.
    pub retry_wait: Option<Duration>,
}

/// One activation exchange in flight; its output is the device's input.
pub(crate) type Exchange = Pin<Box<dyn Future<Output = Input> + Send>>;

/// The activation executor of one phone.
pub(crate) struct ActivationExec {
    wire: Wire,
    settings: Arc<ActivationSettings>,
}

impl ActivationExec {
    pub fn new(
        settings: Arc<ActivationSettings>,
        net: Arc<Net>,
        slots: Arc<Semaphore>,
        cfg: &PhoneConfig,
    ) -> Self {
        let wire = Wire {
            net,
            slots,
            base_url: settings.base_url.clone(),
            user_agent: format!(
                "Cisco-{}/{} ({})",
                cfg.identity.pn,
                cfg.identity.swver,
                cfg.identity.mac.to_ascii_uppercase()
            ),
        };
        ActivationExec { wire, settings }
    }

    /// The longest real wait for a retry, ms.
    pub fn retry_wait_ms(&self) -> Option<u64> {
        self.settings.retry_wait.map(|d| d.as_millis() as u64)
    }

    /// The exchange for one of the device's activation requests.
    pub fn start(&self, params: &ParamStore, req: &ActivationRequest) -> Exchange {
        match req {
            ActivationRequest::Query { mac, model, serial } => {
                let fut = self.wire.query(params, mac, model, serial);
                Box::pin(async move { Input::QueryAnswer(fut.await) })
            }
            ActivationRequest::SubmitCode { mac, code } => {
                let fut = self.wire.code(params, mac, code);
                Box::pin(async move { Input::CodeAnswer(fut.await) })
            }
        }
    }
}
