//! The sans-IO CPE session machine (SPEC R-TR69-2, R-TR69-3).
//!
//! One [`CpeSession`] per session. [`CpeSession::start`] gives the Inform
//! body; every HTTP answer goes to [`CpeSession::handle_response`], which
//! says what to POST next ([`CpeStep::Post`], an empty body being the
//! CWMP "empty POST") or that the session is over ([`CpeStep::Done`]).
//!
//! After InformResponse the CPE sends its queued requests (TransferComplete,
//! GetRPCMethods) unless the ACS set HoldRequests, then an empty POST; each
//! ACS request is answered through the [`DataModel`]; an empty ACS response
//! (204) ends the session unless held requests remain, which are sent then.

use std::collections::VecDeque;

use crate::data_model::{dispatch, DataModel};
use crate::fault::Fault;
use crate::model::*;
use crate::{parse_envelope, write_envelope, SoapError};

/// What the CPE shell does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpeStep {
    /// POST this body to the ACS (empty: the empty POST).
    Post(Vec<u8>),
    /// The session is over: close the connection, then perform recorded
    /// reboots/resets/downloads.
    Done,
}

/// Why the CPE session failed; the shell retries later with
/// `RetryCount` incremented (TR-069 3.2.1.1 back-off).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpeError {
    /// An HTTP status the session cannot continue with.
    #[error("the ACS answered HTTP {0}; check the ACS URL and credentials (answer 401 with Digest in the shell before calling the session)")]
    Status(u16),
    /// The ACS sent something unreadable.
    #[error("the ACS sent a malformed envelope: {0}")]
    Malformed(#[from] SoapError),
    /// The ACS refused the session or a request with a fault.
    #[error("the ACS answered with {0}")]
    AcsFault(Fault),
    /// The ACS sent a message that does not fit the session state.
    #[error("the ACS sent {0} out of order; retry the session later")]
    OutOfOrder(String),
    /// `handle_response` was called after the session ended.
    #[error("the session is already over; start a new CpeSession")]
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Informing,
    Requesting,
    Serving,
    Done,
}

/// The CPE side of one CWMP session.
#[derive(Debug)]
pub struct CpeSession {
    inform: Inform,
    version: CwmpVersion,
    state: State,
    pending: VecDeque<Rpc>,
    completed: Vec<Rpc>,
    refused: Vec<(Rpc, Fault)>,
    hold: bool,
    acs_max_envelopes: Option<u32>,
    next_id: u64,
    handled: Vec<String>,
    faults_sent: usize,
}

impl CpeSession {
    /// A session that will send `inform`, in CWMP 1.0 (the version every
    /// ACS understands; see [`CpeSession::with_version`]).
    pub fn new(inform: Inform) -> CpeSession {
        CpeSession {
            inform,
            version: CwmpVersion::V1_0,
            state: State::New,
            pending: VecDeque::new(),
            completed: Vec::new(),
            refused: Vec::new(),
            hold: false,
            acs_max_envelopes: None,
            next_id: 1,
            handled: Vec::new(),
            faults_sent: 0,
        }
    }

    /// Uses another CWMP version for every envelope of the session.
    pub fn with_version(mut self, version: CwmpVersion) -> CpeSession {
        self.version = version;
        self
    }

    /// Queues a CPE request (TransferComplete, GetRPCMethods) to send after
    /// InformResponse.
    pub fn queue_request(&mut self, rpc: Rpc) {
        self.pending.push_back(rpc);
    }

    /// The Inform POST body. Call once, first.
    pub fn start(&mut self) -> Vec<u8> {
        self.state = State::Informing;
        let mut env = Envelope::new(
            self.version,
            Some(self.id()),
            Rpc::Inform(self.inform.clone()),
        );
        if self.version == CwmpVersion::V1_0 && self.pending.is_empty() {
            env.no_more_requests = Some(true);
        }
        write_envelope(&env)
    }

    /// MaxEnvelopes of the ACS's InformResponse.
    pub fn acs_max_envelopes(&self) -> Option<u32> {
        self.acs_max_envelopes
    }

    /// CPE requests the ACS acknowledged (e.g. TransferComplete: forget
    /// the transfer result).
    pub fn completed_requests(&self) -> &[Rpc] {
        &self.completed
    }

    /// CPE requests not acknowledged (unsent, or refused with a fault):
    /// queue them in the next session.
    pub fn pending_requests(&self) -> impl Iterator<Item = &Rpc> {
        self.pending
            .iter()
            .chain(self.refused.iter().map(|(r, _)| r))
    }

    /// CPE requests the ACS refused in this session, with its faults.
    pub fn refused_requests(&self) -> &[(Rpc, Fault)] {
        &self.refused
    }

    /// Method names of the ACS requests answered so far, in order.
    pub fn handled_requests(&self) -> &[String] {
        &self.handled
    }

    /// How many of the ACS's requests were answered with a Fault.
    pub fn faults_sent(&self) -> usize {
        self.faults_sent
    }

    /// True once [`CpeStep::Done`] was returned.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Handles the ACS's HTTP answer to the last POST.
    pub fn handle_response(
        &mut self,
        status: u16,
        body: &[u8],
        model: &mut dyn DataModel,
    ) -> Result<CpeStep, CpeError> {
        let result = self.step(status, body, model);
        if result.is_err() {
            self.state = State::Done;
        }
        result
    }

    fn step(
        &mut self,
        status: u16,
        body: &[u8],
        model: &mut dyn DataModel,
    ) -> Result<CpeStep, CpeError> {
        if matches!(self.state, State::Done | State::New) {
            return Err(CpeError::Ended);
        }
        let empty = body.iter().all(u8::is_ascii_whitespace);
        if !(status == 200 || status == 204 || (status == 500 && !empty)) {
            return Err(CpeError::Status(status));
        }
        let env = if empty {
            None
        } else {
            match parse_envelope(body) {
                Ok(env) => Some(env),
                Err(SoapError::EmptyBody) => None,
                Err(e) => return Err(e.into()),
            }
        };
        match (self.state, env) {
            (State::Informing, Some(env)) => match env.body {
                Rpc::InformResponse { max_envelopes } => {
                    self.acs_max_envelopes = Some(max_envelopes);
                    self.hold = env.hold_requests == Some(true);
                    Ok(self.next_cpe_message())
                }
                Rpc::Fault(f) => Err(CpeError::AcsFault(f)),
                other => Err(CpeError::OutOfOrder(other.method_name().into())),
            },
            (State::Informing, None) => Err(CpeError::OutOfOrder("an empty response".into())),
            (State::Requesting, Some(env)) => {
                let sent = self.pending.pop_front().expect("Requesting has a request");
                match env.body {
                    Rpc::Fault(f) => {
                        // Not resent in this session; reported by
                        // pending_requests() for the next one (8005: retry).
                        self.refused.push((sent, f));
                    }
                    ref r if Some(r.method_name().to_string()) == sent.response_name() => {
                        self.completed.push(sent);
                        self.hold = env.hold_requests == Some(true);
                    }
                    other => return Err(CpeError::OutOfOrder(other.method_name().into())),
                }
                Ok(self.next_cpe_message())
            }
            (State::Requesting, None) => Err(CpeError::OutOfOrder("an empty response".into())),
            (State::Serving, None) => {
                // An empty response carries no HoldRequests: held requests
                // may go now; the ACS then answers and ends again.
                self.hold = false;
                if self.pending.is_empty() {
                    self.state = State::Done;
                    Ok(CpeStep::Done)
                } else {
                    Ok(self.next_cpe_message())
                }
            }
            (State::Serving, Some(env)) => {
                if env.body.is_response() {
                    return Err(match env.body {
                        Rpc::Fault(f) => CpeError::AcsFault(f),
                        other => CpeError::OutOfOrder(other.method_name().into()),
                    });
                }
                self.hold = env.hold_requests == Some(true);
                self.handled.push(env.body.method_name().to_string());
                let response = dispatch(model, env.body);
                self.faults_sent += usize::from(matches!(response, Rpc::Fault(_)));
                let out = Envelope::new(self.version, env.id, response);
                Ok(CpeStep::Post(write_envelope(&out)))
            }
            (State::New | State::Done, _) => Err(CpeError::Ended),
        }
    }

    fn next_cpe_message(&mut self) -> CpeStep {
        match self.pending.front().cloned() {
            Some(rpc) if !self.hold => {
                let env = Envelope::new(self.version, Some(self.id()), rpc);
                self.state = State::Requesting;
                CpeStep::Post(write_envelope(&env))
            }
            _ => {
                self.state = State::Serving;
                CpeStep::Post(Vec::new())
            }
        }
    }

    fn id(&mut self) -> String {
        let id = format!("cpe-{}", self.next_id);
        self.next_id += 1;
        id
    }
}
