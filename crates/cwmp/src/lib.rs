//! `phoneprov-cwmp`: the TR-069 (CWMP) wire layer and sans-IO ACS and CPE
//! session machines (SPEC §10, R-TR69-2 and R-TR69-3).
//!
//! # Envelope model
//! Every CWMP message is an [`Envelope`]: the [`CwmpVersion`] of its `cwmp`
//! namespace, the header fields (`cwmp:ID`, `HoldRequests`,
//! `NoMoreRequests`) and one [`Rpc`] in the body. [`Rpc`] has a variant for
//! every request and response of R-TR69-2 in both directions (Inform,
//! TransferComplete, GetRPCMethods, Set/GetParameterValues,
//! Set/GetParameterAttributes, GetParameterNames, Add/DeleteObject, Reboot,
//! FactoryReset, Download), [`Rpc::Fault`] for SOAP faults carrying CWMP
//! faults (8000–8005 from the ACS, 9000–9019 from the CPE, with
//! `SetParameterValuesFault` details), and [`Rpc::Unknown`] for methods this
//! crate does not model, so they can be refused with the right `cwmp:ID`.
//! [`parse_envelope`] and [`write_envelope`] convert between bytes and the
//! model; `write(parse(x))` parses back to the same envelope (tested with
//! proptest and by the `soap_parse` fuzz target).
//!
//! # Versions and tolerance
//! CWMP 1.0 to 1.4 (`urn:dslforum-org:cwmp-1-0` … `-1-4`) are read; the
//! version is the namespace of the RPC element (else of the ID header, else
//! the first CWMP namespace in the text, else 1.0). The ACS answers in the
//! version of the CPE's Inform. Elements are matched by local name whatever
//! the prefix (`soap:`, `SOAP-ENV:`, `soapenv:`, `cwmp:`, `ns1:`, default
//! namespace). A missing Header, missing or empty fields, wrong
//! `arrayType` counts and a missing `xsi:type` are tolerated (see
//! [`parse_envelope`]).
//!
//! # Session machines (sans-IO)
//! - [`AcsSession`]: one per CWMP session on the ACS side. Feed it each
//!   HTTP POST body, get an [`AcsReply`] (HTTP status, body, [`AcsEvent`]s).
//!   Inform → InformResponse; CPE requests (TransferComplete,
//!   GetRPCMethods) answered; on the CPE's empty POST, queued [`Task`]s
//!   are sent one by one (from [`AcsSession::enqueue`], the shell's
//!   storage through [`AcsStep::NeedTasks`], or the presets hook run on `0 BOOTSTRAP` / `1 BOOT` / `2 PERIODIC`);
//!   `204 No Content` when none are left. Tasks sent but never answered are
//!   returned by [`AcsSession::unfinished_tasks`] for requeueing.
//! - [`CpeSession`]: one per session on the CPE side. It produces the
//!   Inform, sends pending CPE requests (TransferComplete), then the empty
//!   POST, and answers each ACS request through the caller's
//!   [`DataModel`]. [`MemoryDataModel`] is an in-memory data model for
//!   tests and the phone simulator.
//!
//! # Example: one session, both machines, no IO
//! ```
//! use phoneprov_cwmp::*;
//!
//! let mut model = MemoryDataModel::new();
//! model.insert("Device.DeviceInfo.SoftwareVersion", "12.0.1", ValueType::String, false);
//! let inform = Inform {
//!     device_id: DeviceId {
//!         manufacturer: "Cisco".into(),
//!         oui: "000E08".into(),
//!         product_class: "CP-8841-3PCC".into(),
//!         serial_number: "FCH2231A7QX".into(),
//!     },
//!     events: vec![Event::new(EventCode::Boot)],
//!     max_envelopes: 1,
//!     ..Inform::default()
//! };
//! let mut acs = AcsSession::new(AcsConfig::default());
//! let names = vec!["Device.DeviceInfo.".to_string()];
//! acs.enqueue(Task::new("t1", Rpc::GetParameterValues { names }));
//! let mut cpe = CpeSession::new(inform).with_version(CwmpVersion::V1_2);
//! let mut body = cpe.start();
//! let mut events = Vec::new();
//! loop {
//!     // The shells carry `body` in an HTTP POST and the reply back.
//!     let reply = acs.handle_request(&body);
//!     events.extend(reply.events);
//!     match cpe.handle_response(reply.status, &reply.body, &mut model)? {
//!         CpeStep::Post(next) => body = next,
//!         CpeStep::Done => break,
//!     }
//! }
//! assert_eq!(acs.version(), CwmpVersion::V1_2);
//! assert!(events.iter().any(|e| matches!(
//!     e,
//!     AcsEvent::TaskDone { task_id, response: Rpc::GetParameterValuesResponse(v) }
//!         if task_id == "t1" && v[0].value == "12.0.1"
//! )));
//! # Ok::<(), CpeError>(())
//! ```
//!
//! # What the shells must do (HTTP is not in this crate)
//! - **ACS shell** (`phoneprov serve`, port 7547): accept `POST` on the ACS
//!   URL; key sessions by connection first and, when the CPE reconnects,
//!   by the session cookie ([`session::new_cookie_value`],
//!   [`session::set_cookie_header`], [`session::cookie_from_header`]); pass
//!   each body to [`AcsSession::handle_request`], answer with the reply's
//!   status and body (`Content-Type: text/xml; charset="utf-8"` when the
//!   body is not empty); drop the session when [`AcsReply::done`] and the
//!   connection closes, after calling [`AcsSession::unfinished_tasks`] to
//!   requeue what was not answered. Ignore `SOAPAction` (CPEs send it
//!   empty, quoted, with the method name or not at all); answer with
//!   `Content-Type: text/xml; charset="utf-8"` ([`session::CONTENT_TYPE`]). Answer `Expect: 100-continue` with
//!   `100 Continue` before reading the body (hyper does this when the body
//!   is polled), or with `417` to make the CPE resend without it; never
//!   wait for a body that the CPE holds back until it sees the 100.
//!   Authenticate the CPE (HTTP Digest or Basic over TLS) before feeding
//!   the machine. Time out sessions whose CPE goes quiet (TR-069 suggests
//!   30 s or more) and requeue their unfinished tasks; limit body sizes
//!   (the parser also bounds depth and element count). Connection requests (ask a CPE to open a session): send
//!   an HTTP `GET` to the `Device.ManagementServer.ConnectionRequestURL`
//!   of the last Inform, answer the `401` with Digest credentials
//!   (`ConnectionRequestUsername`/`Password`), expect `200`/`204`; the
//!   CPE then informs with `6 CONNECTION REQUEST`.
//! - **CPE shell** (phone simulator): POST [`CpeSession::start`]'s body to
//!   the ACS URL, return each HTTP answer to [`CpeSession::handle_response`]
//!   and POST what it asks for, keeping cookies the ACS sets; on `401`
//!   retry the same body with Digest credentials (the machine never sees
//!   the 401). Validate incoming connection requests (Digest against
//!   `ConnectionRequestUsername`/`Password`, rate limiting) and start a
//!   session with `6 CONNECTION REQUEST`. Perform reboots, factory resets
//!   and downloads the [`DataModel`] recorded after the session ends, then
//!   inform with `M Reboot` / `M Download` + `7 TRANSFER COMPLETE`.
//!
//! # Why partly hand-written
//! XML is read and written with `quick-xml`; the CWMP mapping on top of it
//! is hand-written because no maintained Rust crate models CWMP (the few
//! `tr069`/`cwmp` crates are unmaintained, serde-based and reject the
//! prefix and namespace variants real CPEs send).

mod acs;
mod cpe;
mod data_model;
mod dom;
mod fault;
#[doc(hidden)]
pub mod fuzzing;
mod memory_model;
mod model;
mod parse;
pub mod session;
mod write;

pub use acs::{AcsConfig, AcsEvent, AcsReply, AcsSession, AcsStep, PresetFn, Task};
pub use cpe::{CpeError, CpeSession, CpeStep};
pub use data_model::{DataModel, DownloadAccepted};
pub use fault::{Fault, FaultCode, ParameterFault};
pub use memory_model::{MemoryDataModel, Param};
pub use model::*;
pub use parse::parse_envelope;
pub use write::write_envelope;

/// Why bytes could not be read as a CWMP envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapError {
    /// Empty HTTP body: in CWMP that is an "empty POST", not an envelope.
    #[error("the message is empty: treat an empty HTTP body as the CWMP empty POST/response instead of parsing it")]
    EmptyMessage,
    /// Not UTF-8.
    #[error("the message is not UTF-8 (invalid byte at offset {0}): CWMP envelopes must be sent as UTF-8")]
    NotUtf8(usize),
    /// Not well-formed XML.
    #[error("malformed XML: {0}; send a well-formed SOAP envelope")]
    Xml(String),
    /// Too deep or too many elements.
    #[error("the envelope nests deeper than {} elements or has more than {} elements; split the request", dom::MAX_DEPTH, dom::MAX_ELEMENTS)]
    TooLarge,
    /// The root element is not `Envelope`.
    #[error("the root element is <{0}>, not a SOAP <Envelope>; send a SOAP 1.1 envelope")]
    NotEnvelope(String),
    /// No `Body`.
    #[error("the SOAP envelope has no <Body>; put the CWMP RPC inside <SOAP-ENV:Body>")]
    NoBody,
    /// `Body` has no RPC element.
    #[error("the SOAP <Body> is empty; send an empty HTTP body instead of an empty envelope, or put an RPC in the body")]
    EmptyBody,
    /// The body element is not a usable name.
    #[error("the SOAP body holds <{0}>, which is not a CWMP RPC name")]
    UnknownElement(String),
    /// A numeric field does not parse.
    #[error("{rpc}: field <{field}> has value {value:?}, which is not a valid number; send a decimal number in range")]
    InvalidField {
        /// The RPC being read.
        rpc: String,
        /// The element name.
        field: String,
        /// The offending value (first 40 characters).
        value: String,
    },
}
