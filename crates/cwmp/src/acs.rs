//! The sans-IO ACS session machine (SPEC R-TR69-2, R-TR69-3).
//!
//! One [`AcsSession`] per CWMP session. The shell feeds it every HTTP POST
//! body of the session and sends back the [`AcsReply`]. The flow is:
//!
//! 1. the CPE's Inform → InformResponse (in the CPE's CWMP version);
//! 2. CPE requests (TransferComplete, GetRPCMethods) → their responses;
//! 3. the CPE's empty POST → the first queued [`Task`] (one envelope per
//!    HTTP response), each response or fault → the next task. When its own
//!    queue is empty the session asks the shell for more with
//!    [`AcsStep::NeedTasks`] (the shell fetches them from its storage, off
//!    its async workers, and answers with [`AcsSession::tasks_fetched`]):
//!    the machine never calls out, so it holds no callback into storage
//!    and a failed fetch is a session error (fault 8002), never "no tasks";
//! 4. nothing left → `204 No Content`: the ACS is done. If the ACS held the
//!    CPE's requests (HoldRequests), the CPE may now send them and the
//!    session goes on at step 2.
//!
//! Errors end the session: malformed SOAP, or a response nobody asked for,
//! gets HTTP 400; a request out of order (anything before Inform, a second
//! Inform) gets a SOAP fault 8003 with HTTP 500 (SOAP 1.1 HTTP binding); an
//! unknown method gets fault 8000 and the session continues. A task that was
//! sent but not answered is never lost: [`AcsSession::unfinished_tasks`]
//! hands it back for the next session.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use crate::fault::{Fault, FaultCode};
use crate::model::*;
use crate::{parse_envelope, write_envelope, SoapError};

/// Work for the CPE: an ACS→CPE request and the caller's id for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The caller's id (e.g. a database row), echoed in [`AcsEvent`]s.
    pub id: String,
    /// The request to send (GetParameterValues, Download, …).
    pub rpc: Rpc,
}

impl Task {
    /// A task.
    pub fn new(id: impl Into<String>, rpc: Rpc) -> Task {
        Task { id: id.into(), rpc }
    }
}

/// The presets hook: called with the Inform when it carries `0 BOOTSTRAP`,
/// `1 BOOT` or `2 PERIODIC`; the tasks it returns are queued ahead of
/// the tasks already enqueued.
pub type PresetFn = Arc<dyn Fn(&Inform) -> Vec<Task> + Send + Sync>;

/// What handling a POST (or a fetch answer) produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcsStep {
    /// Send this answer.
    Reply(AcsReply),
    /// The session's own queue is empty: fetch the next tasks of this
    /// device (none, one or a few) and pass them to
    /// [`AcsSession::tasks_fetched`], which continues the same POST.
    NeedTasks(DeviceId),
}

/// ACS session settings; cheap to clone (one per server, copied into each
/// session).
#[derive(Clone)]
pub struct AcsConfig {
    /// MaxEnvelopes in InformResponse (TR-069 requires 1).
    pub max_envelopes: u32,
    /// Send `HoldRequests=1` with InformResponse and every task, so the CPE
    /// sends its own requests only after the ACS's tasks are done.
    pub hold_requests: bool,
    /// Presets hook (see [`PresetFn`]).
    pub presets: Option<PresetFn>,
}

impl Default for AcsConfig {
    fn default() -> Self {
        AcsConfig {
            max_envelopes: 1,
            hold_requests: false,
            presets: None,
        }
    }
}

impl fmt::Debug for AcsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcsConfig")
            .field("max_envelopes", &self.max_envelopes)
            .field("hold_requests", &self.hold_requests)
            .field("presets", &self.presets.as_ref().map(|_| "fn"))
            .finish()
    }
}

/// What happened while handling one POST, for the shell to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcsEvent {
    /// The session's Inform: device id, events, parameters.
    Inform(Inform),
    /// A TransferComplete (match `command_key` to the Download task).
    TransferComplete(TransferComplete),
    /// A task was sent to the CPE with this `cwmp:ID`.
    TaskSent {
        /// The task's id.
        task_id: String,
        /// The `cwmp:ID` used.
        cwmp_id: String,
    },
    /// The CPE answered a task.
    TaskDone {
        /// The task's id.
        task_id: String,
        /// The response RPC.
        response: Rpc,
    },
    /// The CPE answered a task with a fault (or the task was not a valid
    /// ACS request and was not sent).
    TaskFault {
        /// The task's id.
        task_id: String,
        /// The fault.
        fault: Fault,
    },
    /// The CPE broke the protocol; the session ends.
    ProtocolError(String),
    /// The shell could not fetch the session's tasks
    /// ([`AcsSession::tasks_fetched`] with an error); the session ends with
    /// a SOAP fault 8002.
    TaskFetchFailed(String),
}

/// The HTTP answer to one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsReply {
    /// 200 (envelope), 204 (nothing more), 400 (bad input, session ended),
    /// 500 (SOAP fault, per the SOAP 1.1 HTTP binding).
    pub status: u16,
    /// The envelope to send (empty for 204 and 400).
    pub body: Vec<u8>,
    /// What happened.
    pub events: Vec<AcsEvent>,
    /// The ACS has nothing more to say: the shell may forget the session
    /// once the connection closes (after [`AcsSession::unfinished_tasks`]).
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitInform,
    Active,
    /// [`AcsStep::NeedTasks`] was returned; waiting for
    /// [`AcsSession::tasks_fetched`].
    AwaitTasks,
    /// 204 sent; the CPE may still send held requests.
    Idle,
    Closed,
}

#[derive(Debug)]
struct InFlight {
    task: Task,
    expect: String,
}

/// The ACS side of one CWMP session. See the module docs for the flow.
#[derive(Debug)]
pub struct AcsSession {
    config: AcsConfig,
    state: State,
    version: CwmpVersion,
    inform: Option<Inform>,
    queue: VecDeque<Task>,
    in_flight: Option<InFlight>,
    next_id: u64,
    /// Events of the POST being handled while tasks are fetched.
    pending: Vec<AcsEvent>,
}

impl AcsSession {
    /// A session waiting for the CPE's Inform.
    pub fn new(config: AcsConfig) -> AcsSession {
        AcsSession {
            config,
            state: State::AwaitInform,
            version: CwmpVersion::V1_0,
            inform: None,
            queue: VecDeque::new(),
            in_flight: None,
            next_id: 1,
            pending: Vec::new(),
        }
    }

    /// Queues an ACS→CPE request for this session (sent after the CPE's
    /// empty POST, in order).
    pub fn enqueue(&mut self, task: Task) {
        self.queue.push_back(task);
    }

    /// The Inform of this session, once received.
    pub fn inform(&self) -> Option<&Inform> {
        self.inform.as_ref()
    }

    /// The CPE's identity, once the Inform is received.
    pub fn device(&self) -> Option<&DeviceId> {
        self.inform.as_ref().map(|i| &i.device_id)
    }

    /// The CWMP version the CPE used (1.0 until the Inform is read).
    pub fn version(&self) -> CwmpVersion {
        self.version
    }

    /// True once the ACS sent `204` or ended the session on an error.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Idle | State::Closed)
    }

    /// Tasks not completed: the one sent but never answered (the CPE
    /// dropped the connection) and those never sent. Call when the shell
    /// drops the session and requeue them for the device's next session.
    pub fn unfinished_tasks(&mut self) -> Vec<Task> {
        let mut out: Vec<Task> = self.in_flight.take().map(|f| f.task).into_iter().collect();
        out.extend(self.queue.drain(..));
        out
    }

    /// Handles one HTTP POST body (empty for the CPE's empty POST) for a
    /// shell without task storage: only [`AcsSession::enqueue`]d tasks and
    /// presets are sent.
    pub fn handle_request(&mut self, body: &[u8]) -> AcsReply {
        let mut step = self.handle(body);
        loop {
            match step {
                AcsStep::Reply(reply) => return reply,
                AcsStep::NeedTasks(_) => step = self.tasks_fetched(Ok(Vec::new())),
            }
        }
    }

    /// Handles one HTTP POST body (empty for the CPE's empty POST). On
    /// [`AcsStep::NeedTasks`] the answer to this POST comes from
    /// [`AcsSession::tasks_fetched`].
    pub fn handle(&mut self, body: &[u8]) -> AcsStep {
        self.handle_inner(body)
    }

    /// The events of the POST that asked for tasks (a task's response,
    /// …), taken while [`AcsStep::NeedTasks`] waits for its answer, so the
    /// shell can record them before it fetches (and claim the next tasks
    /// in the same commit as a task's result). The reply of
    /// [`AcsSession::tasks_fetched`] then carries only the events that
    /// came after; without this call it carries them all.
    pub fn take_pending_events(&mut self) -> Vec<AcsEvent> {
        std::mem::take(&mut self.pending)
    }

    /// The shell's answer to [`AcsStep::NeedTasks`]: the tasks fetched
    /// (in order; empty when the device has none left), or why the fetch
    /// failed. A failure ends the session with a SOAP fault 8002 (HTTP
    /// 500) and [`AcsEvent::TaskFetchFailed`]: the shell's tasks stay in
    /// its storage for the device's next session.
    pub fn tasks_fetched(&mut self, fetched: Result<Vec<Task>, String>) -> AcsStep {
        let mut events = std::mem::take(&mut self.pending);
        if self.state != State::AwaitTasks {
            events.push(AcsEvent::ProtocolError(
                "tasks_fetched without NeedTasks (a bug of the shell)".into(),
            ));
            return AcsStep::Reply(self.close(500, Vec::new(), events));
        }
        self.state = State::Active;
        match fetched {
            Ok(tasks) if tasks.is_empty() => AcsStep::Reply(self.idle(events)),
            Ok(tasks) => {
                self.queue.extend(tasks);
                self.next_or_done(events)
            }
            Err(why) => {
                events.push(AcsEvent::TaskFetchFailed(why.clone()));
                let fault = Fault::with_message(
                    FaultCode::ACS_INTERNAL_ERROR,
                    "the ACS cannot read its task queue; retry later",
                );
                let body = self.envelope(None, Rpc::Fault(fault));
                AcsStep::Reply(self.close(500, body, events))
            }
        }
    }

    fn handle_inner(&mut self, body: &[u8]) -> AcsStep {
        let mut events = Vec::new();
        if self.state == State::AwaitTasks {
            events.push(AcsEvent::ProtocolError(
                "POST while the ACS waits for its task queue (a bug of the shell)".into(),
            ));
            return AcsStep::Reply(self.close(500, Vec::new(), events));
        }
        if self.state == State::Closed {
            events.push(AcsEvent::ProtocolError(
                "POST after the session ended; start a new session with an Inform".into(),
            ));
            return AcsStep::Reply(self.close(400, Vec::new(), events));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return self.on_empty(events);
        }
        let env = match parse_envelope(body) {
            Ok(env) => env,
            Err(SoapError::EmptyBody) => return self.on_empty(events),
            Err(e) => {
                events.push(AcsEvent::ProtocolError(format!("malformed envelope: {e}")));
                return AcsStep::Reply(self.close(400, Vec::new(), events));
            }
        };
        if self.state == State::AwaitInform || self.state == State::Idle {
            if let Rpc::Inform(inform) = env.body {
                // An Inform after 204 on the same connection starts a new
                // session (nothing is pending then).
                return AcsStep::Reply(self.on_inform(env.version, env.id, inform, events));
            }
            if self.state == State::AwaitInform {
                self.version = env.version;
                let msg = format!(
                    "expected Inform to open the session, got {}",
                    env.body.method_name()
                );
                events.push(AcsEvent::ProtocolError(msg.clone()));
                let fault = Fault::with_message(FaultCode::ACS_INVALID_ARGUMENTS, msg);
                let body = self.envelope(env.id, Rpc::Fault(fault));
                return AcsStep::Reply(self.close(500, body, events));
            }
        }
        match env.body {
            Rpc::Inform(_) => {
                let msg = "second Inform in one session".to_string();
                events.push(AcsEvent::ProtocolError(msg.clone()));
                let fault = Fault::with_message(FaultCode::ACS_INVALID_ARGUMENTS, msg);
                let body = self.envelope(env.id, Rpc::Fault(fault));
                AcsStep::Reply(self.close(500, body, events))
            }
            Rpc::TransferComplete(tc) => {
                events.push(AcsEvent::TransferComplete(tc));
                AcsStep::Reply(self.answer(env.id, Rpc::TransferCompleteResponse, events))
            }
            Rpc::GetRPCMethods => {
                let methods = ACS_METHODS.iter().map(|m| m.to_string()).collect();
                AcsStep::Reply(self.answer(env.id, Rpc::GetRPCMethodsResponse(methods), events))
            }
            rpc if rpc.is_response() => self.on_response(rpc, events),
            other => {
                // Unknown methods and ACS-direction requests sent by a CPE.
                let fault = Fault::with_message(
                    FaultCode::ACS_METHOD_NOT_SUPPORTED,
                    format!("the ACS does not support {}", other.method_name()),
                );
                AcsStep::Reply(self.answer(env.id, Rpc::Fault(fault), events))
            }
        }
    }

    fn on_inform(
        &mut self,
        version: CwmpVersion,
        id: Option<String>,
        inform: Inform,
        mut events: Vec<AcsEvent>,
    ) -> AcsReply {
        self.version = version;
        self.state = State::Active;
        let preset_events = [EventCode::Bootstrap, EventCode::Boot, EventCode::Periodic];
        if let Some(presets) = &self.config.presets {
            if preset_events.iter().any(|e| inform.has_event(e)) {
                // Presets go first: they set the baseline that the
                // shell's own tasks may refine.
                for task in presets(&inform).into_iter().rev() {
                    self.queue.push_front(task);
                }
            }
        }
        events.push(AcsEvent::Inform(inform.clone()));
        self.inform = Some(inform);
        let mut env = Envelope::new(
            self.version,
            id,
            Rpc::InformResponse {
                max_envelopes: self.config.max_envelopes,
            },
        );
        env.hold_requests = self.config.hold_requests.then_some(true);
        self.reply(200, write_envelope(&env), events)
    }

    fn on_response(&mut self, rpc: Rpc, mut events: Vec<AcsEvent>) -> AcsStep {
        let Some(flight) = self.in_flight.take() else {
            events.push(AcsEvent::ProtocolError(format!(
                "{} received but no request is outstanding",
                rpc.method_name()
            )));
            return AcsStep::Reply(self.close(400, Vec::new(), events));
        };
        match rpc {
            Rpc::Fault(fault) => events.push(AcsEvent::TaskFault {
                task_id: flight.task.id,
                fault,
            }),
            rpc if rpc.method_name() == flight.expect => events.push(AcsEvent::TaskDone {
                task_id: flight.task.id,
                response: rpc,
            }),
            rpc => {
                events.push(AcsEvent::ProtocolError(format!(
                    "expected {} for task {}, got {}",
                    flight.expect,
                    flight.task.id,
                    rpc.method_name()
                )));
                self.in_flight = Some(flight);
                return AcsStep::Reply(self.close(400, Vec::new(), events));
            }
        }
        self.next_or_done(events)
    }

    fn on_empty(&mut self, mut events: Vec<AcsEvent>) -> AcsStep {
        if self.state == State::AwaitInform {
            events.push(AcsEvent::ProtocolError(
                "empty POST before Inform; a session starts with an Inform".into(),
            ));
            return AcsStep::Reply(self.close(400, Vec::new(), events));
        }
        if let Some(f) = &self.in_flight {
            events.push(AcsEvent::ProtocolError(format!(
                "empty POST while task {} awaits {}",
                f.task.id, f.expect
            )));
            return AcsStep::Reply(self.close(400, Vec::new(), events));
        }
        self.next_or_done(events)
    }

    /// Sends the next queued task, or asks for more ([`AcsStep::NeedTasks`]).
    fn next_or_done(&mut self, mut events: Vec<AcsEvent>) -> AcsStep {
        loop {
            let Some(task) = self.queue.pop_front() else {
                return match self.device().cloned() {
                    Some(device) => {
                        self.state = State::AwaitTasks;
                        self.pending = events;
                        AcsStep::NeedTasks(device)
                    }
                    None => AcsStep::Reply(self.idle(events)),
                };
            };
            let sendable = !matches!(
                task.rpc,
                Rpc::Inform(_) | Rpc::TransferComplete(_) | Rpc::Unknown { .. }
            ) && !task.rpc.is_response();
            let Some(expect) = task.rpc.response_name().filter(|_| sendable) else {
                events.push(AcsEvent::TaskFault {
                    task_id: task.id,
                    fault: Fault::with_message(
                        FaultCode::ACS_INVALID_ARGUMENTS,
                        format!(
                            "{} is not an ACS request; queue GetParameterValues, Download, …",
                            task.rpc.method_name()
                        ),
                    ),
                });
                continue;
            };
            let cwmp_id = format!("acs-{}", self.next_id);
            self.next_id += 1;
            let mut env = Envelope::new(self.version, Some(cwmp_id.clone()), task.rpc.clone());
            env.hold_requests = self.config.hold_requests.then_some(true);
            events.push(AcsEvent::TaskSent {
                task_id: task.id.clone(),
                cwmp_id,
            });
            self.in_flight = Some(InFlight { task, expect });
            self.state = State::Active;
            return AcsStep::Reply(self.reply(200, write_envelope(&env), events));
        }
    }

    /// Nothing more to send: `204 No Content`.
    fn idle(&mut self, events: Vec<AcsEvent>) -> AcsReply {
        self.state = State::Idle;
        AcsReply {
            status: 204,
            body: Vec::new(),
            events,
            done: true,
        }
    }

    fn answer(&mut self, id: Option<String>, rpc: Rpc, events: Vec<AcsEvent>) -> AcsReply {
        self.state = State::Active;
        let status = if matches!(rpc, Rpc::Fault(_)) {
            500
        } else {
            200
        };
        let body = self.envelope(id, rpc);
        self.reply(status, body, events)
    }

    fn envelope(&self, id: Option<String>, rpc: Rpc) -> Vec<u8> {
        write_envelope(&Envelope::new(self.version, id, rpc))
    }

    fn reply(&self, status: u16, body: Vec<u8>, events: Vec<AcsEvent>) -> AcsReply {
        AcsReply {
            status,
            body,
            events,
            done: false,
        }
    }

    fn close(&mut self, status: u16, body: Vec<u8>, events: Vec<AcsEvent>) -> AcsReply {
        self.state = State::Closed;
        AcsReply {
            status,
            body,
            events,
            done: true,
        }
    }
}
