//! The TFTP front end (R-TFTP-1): a [`phoneprov_tftp::Handler`] that runs
//! each read request through the identification pipeline
//! ([`crate::pipeline`]), as HTTP does: device profiles by path pattern
//! (encrypted, or the bootstrap profile to clients in
//! `preprovision_networks`), firmware under `firmware/`, and static files.
//! Path safety: NUL, backslash, `%` and `..` are refused here; files are
//! then resolved by the TFTP crate's `resolve_path` (canonical path must
//! stay inside the root). Every refusal reaches the client as the one
//! [`HandlerError::not_served`] answer.

use std::sync::Arc;

use bytes::Bytes;
use phoneprov_tftp::{Content, Handler, HandlerError, ReadRequest, TransferEnd, TransferError};

use crate::metrics_setup::{record_tftp, Proto};
use crate::pipeline::{Answer, Named, Refusal, Request, Ua};
use crate::state::AppState;

/// TFTP handler over the shared state.
#[derive(Debug, Clone)]
pub struct TftpFront {
    /// Shared state.
    pub state: Arc<AppState>,
    /// The transfers under way: what the pipeline found, kept for the
    /// access-log line written when the transfer ends.
    pub transfers: Arc<Transfers>,
}

/// The device each running TFTP transfer named, by client address (one
/// transfer per client port), from the read request to the transfer's end.
#[derive(Debug, Default)]
pub struct Transfers(std::sync::Mutex<std::collections::HashMap<std::net::SocketAddr, Named>>);

/// Transfers remembered at most (a client flooding read requests cannot
/// grow the map; past it a line loses its device, not its existence).
const TRANSFERS_MAX: usize = 100_000;

impl Handler for TftpFront {
    async fn read(&self, request: ReadRequest) -> Result<Content, HandlerError> {
        let start = std::time::Instant::now();
        let (r, named) = self.read_inner(&request).await;
        let (outcome, bytes) = match &r {
            Ok(Content::Bytes(b)) => ("ok", b.len() as u64),
            Ok(Content::Reader { size, .. }) => ("ok", size.unwrap_or(0)),
            Err(HandlerError::NotFound(_)) => ("not-found", 0),
            Err(HandlerError::AccessDenied(_)) => ("denied", 0),
            Err(_) => ("error", 0),
        };
        let took = start.elapsed();
        record_tftp(outcome, bytes, took);
        // The access log, like the metric, keeps the difference for the
        // operator; the wire answer below does not. A transfer's line is
        // written when it ends ([`Handler::finished`]), with the bytes
        // really sent.
        if r.is_ok() {
            if self.state.access_log.enabled() {
                let mut t = self.transfers.0.lock().unwrap_or_else(|p| p.into_inner());
                if t.len() < TRANSFERS_MAX {
                    t.insert(request.client, named);
                }
            }
        } else {
            self.log(&request, outcome, 0, took, named);
        }
        // Not there, not allowed, unknown, pending or refused device: one
        // answer on the wire (issue 12 item 5, and the same answer for
        // unknown and unauthorised devices); the metric above keeps the
        // difference for the operator.
        r.map_err(|e| match e {
            HandlerError::NotFound(_) | HandlerError::AccessDenied(_) => HandlerError::not_served(),
            other => other,
        })
    }

    fn finished(&self, request: &ReadRequest, end: &TransferEnd<'_>) {
        if !self.state.access_log.enabled() {
            return;
        }
        let named = self
            .transfers
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&request.client)
            .unwrap_or_default();
        let outcome = match end.error {
            None => "ok",
            Some(TransferError::Timeout { .. }) => "timeout",
            Some(TransferError::Remote { .. }) => "client-error",
            Some(TransferError::Aborted { .. }) => "aborted",
            Some(_) => "error",
        };
        self.log(request, outcome, end.bytes, end.duration, named);
    }
}

impl TftpFront {
    /// The access-log line of a read request: refused, or its transfer
    /// ended.
    fn log(
        &self,
        request: &ReadRequest,
        outcome: &'static str,
        bytes: u64,
        took: std::time::Duration,
        named: Named,
    ) {
        self.state.access_log.log(&crate::access_log::Entry {
            proto: Proto::Tftp.as_str(),
            client: request.client,
            method: "RRQ",
            target: &request.path,
            version: match request.mode {
                phoneprov_tftp::Mode::Netascii => "netascii",
                _ => "octet",
            },
            status: crate::access_log::Status::Outcome(outcome),
            bytes,
            duration: took,
            user_agent: None,
            tls: None,
            cert_subject: None,
            id: named.id,
            proof: named.proof.as_str(),
            session: None,
        });
    }
}

impl TftpFront {
    async fn read_inner(&self, request: &ReadRequest) -> (Result<Content, HandlerError>, Named) {
        let state = &self.state;
        let policy = state.policy.load_full();
        if request.path.contains(['\0', '\\', '%']) || request.path.split('/').any(|c| c == "..") {
            let denied = HandlerError::AccessDenied("path not allowed".into());
            return (Err(denied), Named::default());
        }
        let path = if request.path.starts_with('/') {
            request.path.clone()
        } else {
            format!("/{}", request.path)
        };
        let local = state
            .bound
            .tftp
            .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
        let ask = Request {
            proto: Proto::Tftp,
            path: &path,
            peer: request.client,
            local,
            host: None,
            ua: Ua::default(),
            identity: None,
            credentials: None,
            if_none_match: None,
            can_redirect: false,
            posted: None,
        };
        let (answer, named) = crate::pipeline::run(state, &policy, &ask).await;
        let content = match answer {
            Answer::Profile { rendered, .. } => Ok(Content::Bytes(Bytes::clone(&rendered.body))),
            Answer::File(Ok(file)) => open_file(&file).await,
            Answer::File(Err(e)) => Err(e),
            Answer::NotFound(why) => Err(HandlerError::NotFound(why.into())),
            Answer::Refused(Refusal::Unavailable) => {
                Err(HandlerError::Other("inventory unavailable".into()))
            }
            Answer::Refused(Refusal::NoCredentials) => {
                // `[[auth]]` covers the device: the unknown device's answer.
                Err(HandlerError::NotFound("unknown device".into()))
            }
            Answer::Refused(r) => {
                // No certificates nor credentials on TFTP; kept total.
                tracing::warn!(refusal = ?r, "TFTP request refused");
                Err(HandlerError::AccessDenied("not allowed".into()))
            }
            Answer::Redirect { .. } => Err(HandlerError::Other("device moved".into())),
            Answer::RenderFailed => {
                Err(HandlerError::Other("profile could not be rendered".into()))
            }
        };
        (content, named)
    }
}

async fn open_file(path: &std::path::Path) -> Result<Content, HandlerError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|_| HandlerError::NotFound("no such file".into()))?;
    let size = file.metadata().await.ok().map(|m| m.len());
    Ok(Content::Reader {
        reader: Box::pin(file),
        size,
    })
}
