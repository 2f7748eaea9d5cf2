//! The phone's remote-customization state machine (R-ACT), sans-IO.
//!
//! [`CustomizationMachine::handle`] takes an [`Input`] and the virtual time
//! `now` (the phone's one [`Time`]), updates the state and returns [`Output`]s for the shell to
//! carry out (ask the activation server, submit a code, set `Profile_Rule`
//! and resync, arm or cancel the retry timer). It never touches a socket or
//! a clock, so a test walks every state in microseconds and the fleet
//! simulator runs thousands of phones on one runtime. [`Persisted`] is what
//! the phone keeps across reboots; store it after every `handle`.
//!
//! # Transitions
//! "Non-final" below is Open, Pending, Custom Pending, Unavailable and
//! GDS-Pending; the final states are Aborted, Acquired and GDS-Acquired
//! (R-ACT-3: retries stop there). An input not listed for a state is
//! ignored: state unchanged, no output (a stale answer, a timer that fired
//! after a reboot, keypad entry while a resync is under way).
//!
//! | state | input | → state | outputs |
//! |---|---|---|---|
//! | non-final | boot, DHCP gave a server | Aborted | cancel retry (R-ACT-1) |
//! | Open, Pending, Unavailable | boot, no DHCP server | Pending | query |
//! | Custom Pending | boot, no DHCP server | Custom Pending | apply URL (resync on reset) |
//! | GDS-Pending, URL known | boot, no DHCP server | GDS-Pending | apply URL |
//! | GDS-Pending, code sent | boot, no DHCP server | Pending | query (the code may be spent; the server bound the MAC) |
//! | Pending (query sent) | answer: URL | Custom Pending | apply URL |
//! | Pending (query sent) | answer: unbound | Unavailable | schedule retry |
//! | Pending (query sent) | answer: error | Pending | schedule retry |
//! | Custom Pending | resync ok | Acquired | |
//! | Custom Pending | resync failed | Pending | schedule retry (R-ACT-3) |
//! | GDS-Pending, URL known | resync ok | GDS-Acquired | |
//! | GDS-Pending, URL known | resync failed | Pending | schedule retry (R-ACT-3) |
//! | non-final | manual provisioning | Aborted | cancel retry (R-ACT-1) |
//! | Open, Pending, Unavailable | `gds://` code, well formed | GDS-Pending | cancel retry, submit code |
//! | Open, Pending, Unavailable | `gds://` code, malformed | unchanged | code invalid |
//! | GDS-Pending (code sent) | code answer: URL | GDS-Pending | apply URL |
//! | GDS-Pending (code sent) | code answer: rejected / error | Pending | schedule retry (R-ACT-3) |
//! | Pending, Unavailable (retry armed) | retry timer, due | Pending | query |
//! | any | factory reset | Open | cancel retry |
//!
//! Nothing leads from Aborted, Acquired or GDS-Acquired to a query or a
//! code submission except a factory reset (R-ACT-1: "the activation server
//! is not used again until factory reset").
//!
//! Retry delays follow [`BackoffPolicy`] (R-ACT-3); the attempt counter is
//! reset when a state is final or on factory reset, and by nothing else, so
//! a phone flapping between Pending and Custom Pending keeps backing off.

use serde::{Deserialize, Serialize};

use super::backoff::BackoffPolicy;
use super::code::{CodeError, EnteredCode};
use crate::types::Time;

/// The customization states of R-ACT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CustomizationState {
    /// Factory fresh: nothing tried yet.
    Open,
    /// No remote customization (DHCP gave a server, or manual provisioning).
    Aborted,
    /// The activation server is being asked (or will be, when the retry is due).
    Pending,
    /// The provider's URL is known; its first resync is under way.
    CustomPending,
    /// The provider's profile was applied.
    Acquired,
    /// The activation server knows no provider for this phone.
    Unavailable,
    /// An activation or short code was entered (`gds://`); redeeming it or
    /// resyncing from its URL is under way.
    GdsPending,
    /// The profile named by the code was applied.
    GdsAcquired,
}

impl CustomizationState {
    /// Every state, in the order of the SPEC.
    pub const ALL: [CustomizationState; 8] = [
        CustomizationState::Open,
        CustomizationState::Aborted,
        CustomizationState::Pending,
        CustomizationState::CustomPending,
        CustomizationState::Acquired,
        CustomizationState::Unavailable,
        CustomizationState::GdsPending,
        CustomizationState::GdsAcquired,
    ];

    /// Aborted, Acquired, GDS-Acquired: activation is over (R-ACT-1/3).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CustomizationState::Aborted
                | CustomizationState::Acquired
                | CustomizationState::GdsAcquired
        )
    }

    /// The spelling of the seeds (`Custom Pending`, `GDS-Acquired`).
    pub fn as_str(self) -> &'static str {
        match self {
            CustomizationState::Open => "Open",
            CustomizationState::Aborted => "Aborted",
            CustomizationState::Pending => "Pending",
            CustomizationState::CustomPending => "Custom Pending",
            CustomizationState::Acquired => "Acquired",
            CustomizationState::Unavailable => "Unavailable",
            CustomizationState::GdsPending => "GDS-Pending",
            CustomizationState::GdsAcquired => "GDS-Acquired",
        }
    }
}

impl std::fmt::Display for CustomizationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the activation server said to a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryAnswer {
    /// 200 with a redirect profile: the provider's `Profile_Rule`.
    Redirect(String),
    /// 404: no provider bound to this phone.
    Unbound,
    /// No usable answer (network error, 5xx, unreadable body).
    Error(String),
}

/// What the activation server said to a submitted code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeAnswer {
    /// 200 with a redirect profile.
    Redirect(String),
    /// 404 (unknown) or 410 (used, expired).
    Rejected,
    /// No usable answer.
    Error(String),
}

/// Something that happened to the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Power-on or reboot; `dhcp_server` is true when DHCP handed out a
    /// provisioning server (option 66/150/160), which wins (R-FLOW-4).
    Boot {
        /// DHCP gave a provisioning server.
        dhcp_server: bool,
    },
    /// The activation server's answer to [`ActivationRequest::Query`].
    QueryAnswer(QueryAnswer),
    /// The resync from the URL of [`Output::ApplyProfileRule`] ended.
    ResyncResult {
        /// The profile was fetched and applied.
        ok: bool,
    },
    /// The user or admin provisioned the phone by hand (web UI, keypad).
    ManualProvisioning,
    /// `Profile_Rule` is `gds://` (R-RULE-5) and the user typed this text:
    /// 16 digits, or `#` and a 3–16 digit short code (R-ACT-2).
    GdsCode(String),
    /// The activation server's answer to [`ActivationRequest::SubmitCode`].
    CodeAnswer(CodeAnswer),
    /// Factory reset: everything is forgotten.
    FactoryReset,
    /// The timer of [`Output::ScheduleRetry`] fired.
    RetryTimer,
}

/// A request to the activation server; the answer comes back as
/// [`Input::QueryAnswer`] or [`Input::CodeAnswer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivationRequest {
    /// Ask the activation server (`GET /activation/v1/query`).
    Query {
        /// `$MA`.
        mac: String,
        /// `$PN`.
        model: String,
        /// `$SN`.
        serial: String,
    },
    /// Redeem a code (`POST /activation/v1/code`).
    SubmitCode {
        /// `$MA`.
        mac: String,
        /// The code.
        code: EnteredCode,
    },
}

/// Something the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this request to the activation server.
    Request(ActivationRequest),
    /// Set `Profile_Rule` to `url` and resync from it now.
    ApplyProfileRule {
        /// The provider's rule.
        url: String,
    },
    /// Feed [`Input::RetryTimer`] at this virtual time (replaces any earlier timer).
    ScheduleRetry {
        /// When the retry is due.
        at: Time,
    },
    /// Drop the retry timer.
    CancelRetry,
    /// The typed code is malformed; tell the user and let them type again.
    CodeInvalid(CodeError),
}

/// Who the phone is, as it tells the activation server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationId {
    /// `$MA`, 12 lowercase hex digits.
    pub mac: String,
    /// `$PN`, e.g. `CP-8841-3PCC`.
    pub model: String,
    /// `$SN`.
    pub serial: String,
}

/// What the phone keeps across reboots (serialize it anywhere).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Persisted {
    /// The customization state.
    pub state: CustomizationState,
    /// The provider's rule, once known.
    pub url: Option<String>,
    /// Retries made since the last final state (backoff exponent).
    pub attempt: u32,
    /// When the armed retry is due.
    pub retry_at: Option<Time>,
    /// Jitter seed (per phone, so a fleet spreads out).
    pub seed: u64,
}

/// Which answer the machine waits for (not persisted: a reboot restarts
/// the step, see the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Query,
    Code,
    Resync,
}

/// The sans-IO customization machine of one phone.
#[derive(Debug, Clone)]
pub struct CustomizationMachine {
    id: ActivationId,
    policy: BackoffPolicy,
    p: Persisted,
    waiting: Option<Waiting>,
}

impl CustomizationMachine {
    /// A factory-fresh phone (state Open).
    pub fn new(id: ActivationId, policy: BackoffPolicy, seed: u64) -> Self {
        CustomizationMachine {
            id,
            policy,
            p: Persisted {
                state: CustomizationState::Open,
                url: None,
                attempt: 0,
                retry_at: None,
                seed,
            },
            waiting: None,
        }
    }

    /// A phone coming back with what it persisted; feed [`Input::Boot`] next.
    pub fn restore(id: ActivationId, policy: BackoffPolicy, persisted: Persisted) -> Self {
        CustomizationMachine {
            id,
            policy,
            p: persisted,
            waiting: None,
        }
    }

    /// What to persist now.
    pub fn persisted(&self) -> &Persisted {
        &self.p
    }

    /// The current state.
    pub fn state(&self) -> CustomizationState {
        self.p.state
    }

    /// The provider's rule, once known.
    pub fn url(&self) -> Option<&str> {
        self.p.url.as_deref()
    }

    /// When the armed retry is due.
    pub fn retry_at(&self) -> Option<Time> {
        self.p.retry_at
    }

    /// Feeds one input at virtual time `now`; see the module table.
    pub fn handle(&mut self, now: Time, input: Input) -> Vec<Output> {
        use CustomizationState as S;
        let st = self.p.state;
        let mut out = Vec::new();
        match input {
            Input::FactoryReset => {
                self.cancel_retry(&mut out);
                let seed = self.p.seed;
                *self = CustomizationMachine::new(self.id.clone(), self.policy, seed);
            }
            _ if st.is_final() => {}
            Input::Boot { dhcp_server: true } | Input::ManualProvisioning => {
                self.finish(S::Aborted, &mut out);
            }
            Input::Boot { dhcp_server: false } => match (st, self.p.url.clone()) {
                (S::CustomPending, Some(url)) | (S::GdsPending, Some(url)) => {
                    self.cancel_retry(&mut out);
                    self.waiting = Some(Waiting::Resync);
                    out.push(Output::ApplyProfileRule { url });
                }
                _ => self.query(&mut out),
            },
            Input::QueryAnswer(ans) if st == S::Pending && self.waiting == Some(Waiting::Query) => {
                match ans {
                    QueryAnswer::Redirect(url) => self.apply(S::CustomPending, url, &mut out),
                    QueryAnswer::Unbound => self.fail(now, S::Unavailable, &mut out),
                    QueryAnswer::Error(_) => self.fail(now, S::Pending, &mut out),
                }
            }
            Input::ResyncResult { ok } if self.waiting == Some(Waiting::Resync) => {
                let done = match st {
                    S::CustomPending => S::Acquired,
                    _ => S::GdsAcquired,
                };
                if ok {
                    self.finish(done, &mut out);
                } else {
                    self.p.url = None;
                    self.fail(now, S::Pending, &mut out);
                }
            }
            Input::GdsCode(text) if matches!(st, S::Open | S::Pending | S::Unavailable) => {
                match EnteredCode::parse(&text) {
                    Ok(code) => {
                        self.cancel_retry(&mut out);
                        self.p.state = S::GdsPending;
                        self.p.url = None;
                        self.waiting = Some(Waiting::Code);
                        out.push(Output::Request(ActivationRequest::SubmitCode {
                            mac: self.id.mac.clone(),
                            code,
                        }));
                    }
                    Err(e) => out.push(Output::CodeInvalid(e)),
                }
            }
            Input::CodeAnswer(ans)
                if st == S::GdsPending && self.waiting == Some(Waiting::Code) =>
            {
                match ans {
                    CodeAnswer::Redirect(url) => self.apply(S::GdsPending, url, &mut out),
                    CodeAnswer::Rejected | CodeAnswer::Error(_) => {
                        self.fail(now, S::Pending, &mut out)
                    }
                }
            }
            Input::RetryTimer
                if matches!(st, S::Pending | S::Unavailable)
                    && self.p.retry_at.is_some_and(|at| now >= at) =>
            {
                self.p.retry_at = None;
                self.p.state = S::Pending;
                self.send_query(&mut out);
            }
            _ => {}
        }
        out
    }

    /// Arms a retry and moves to `to` (R-ACT-3).
    fn fail(&mut self, now: Time, to: CustomizationState, out: &mut Vec<Output>) {
        let at = now.plus_millis(self.policy.delay_ms(self.p.attempt, self.p.seed));
        self.p.attempt = self.p.attempt.saturating_add(1);
        self.p.state = to;
        self.p.retry_at = Some(at);
        self.waiting = None;
        out.push(Output::ScheduleRetry { at });
    }

    fn apply(&mut self, to: CustomizationState, url: String, out: &mut Vec<Output>) {
        self.p.state = to;
        self.p.url = Some(url.clone());
        self.waiting = Some(Waiting::Resync);
        out.push(Output::ApplyProfileRule { url });
    }

    fn finish(&mut self, to: CustomizationState, out: &mut Vec<Output>) {
        self.cancel_retry(out);
        self.p.state = to;
        self.p.attempt = 0;
        self.waiting = None;
        if to == CustomizationState::Aborted {
            self.p.url = None;
        }
    }

    fn query(&mut self, out: &mut Vec<Output>) {
        self.cancel_retry(out);
        self.p.state = CustomizationState::Pending;
        self.p.url = None;
        self.send_query(out);
    }

    fn send_query(&mut self, out: &mut Vec<Output>) {
        self.waiting = Some(Waiting::Query);
        out.push(Output::Request(ActivationRequest::Query {
            mac: self.id.mac.clone(),
            model: self.id.model.clone(),
            serial: self.id.serial.clone(),
        }));
    }

    fn cancel_retry(&mut self, out: &mut Vec<Output>) {
        if self.p.retry_at.take().is_some() {
            out.push(Output::CancelRetry);
        }
    }
}

/// True when `rule` is the `gds://` onboarding rule (R-RULE-5): the shell
/// then prompts for a code and feeds [`Input::GdsCode`].
pub fn is_gds_rule(rule: &str) -> bool {
    phoneprov_rule::ProfileRule::parse(rule).is_ok_and(|r| {
        r.alternatives().len() == 1
            && r.alternatives()[0]
                .url
                .trim()
                .to_ascii_lowercase()
                .starts_with("gds://")
    })
}
