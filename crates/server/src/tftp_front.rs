//! The TFTP side (R-TFTP-1): a [`phoneprov_tftp::Handler`] that serves the
//! same things as HTTP: device profiles by path pattern (encrypted, or the
//! bootstrap profile to clients in `preprovision_networks`), firmware
//! under `firmware/`, and static files. Path safety is the TFTP crate's
//! `resolve_path` (NUL, backslash, `%`, `..` refused; canonical path must
//! stay inside the root); the profile patterns only ever yield a MAC.

use std::sync::Arc;

use bytes::Bytes;
use phoneprov_store::{EventKind, Outcome};
use phoneprov_tftp::{Content, Handler, HandlerError, ReadRequest};

use crate::metrics_setup::{record, Proto};
use crate::render::Variant;
use crate::state::{is_pending, AppState};
use crate::store_io::StatusMsg;

/// TFTP handler over the shared state.
#[derive(Debug, Clone)]
pub struct TftpFront {
    /// Shared state.
    pub state: Arc<AppState>,
}

impl Handler for TftpFront {
    async fn read(&self, request: ReadRequest) -> Result<Content, HandlerError> {
        let r = self.read_inner(&request).await;
        match &r {
            Ok(Content::Bytes(b)) => record(Proto::Tftp, "ok", b.len() as u64),
            Ok(Content::Reader { size, .. }) => record(Proto::Tftp, "ok", size.unwrap_or(0)),
            Err(HandlerError::NotFound(_)) => record(Proto::Tftp, "not-found", 0),
            Err(HandlerError::AccessDenied(_)) => record(Proto::Tftp, "denied", 0),
            Err(_) => record(Proto::Tftp, "error", 0),
        }
        r
    }
}

impl TftpFront {
    async fn read_inner(&self, request: &ReadRequest) -> Result<Content, HandlerError> {
        let state = &self.state;
        let policy = state.policy.load_full();
        if request.path.contains(['\0', '\\', '%']) || request.path.split('/').any(|c| c == "..") {
            return Err(HandlerError::AccessDenied("path not allowed".into()));
        }
        let path = if request.path.starts_with('/') {
            request.path.clone()
        } else {
            format!("/{}", request.path)
        };
        let ip = request.client.ip();
        if let Some(rest) = path.strip_prefix("/firmware/") {
            return open_file(&policy.dirs.firmware_root, rest).await;
        }
        let Some(mac) = policy
            .patterns
            .iter()
            .find_map(|p| p.matches(&path))
            .and_then(|m| m.mac)
        else {
            return open_file(&policy.dirs.static_root, &path).await;
        };
        let seen = |outcome: Outcome, message: String| {
            state.cache.reset_fold(mac);
            state.status.send(StatusMsg::Seen {
                mac,
                ip,
                firmware: None,
                outcome: Some(outcome),
                kind: EventKind::Resync,
                message,
            })
        };
        let ttl = std::time::Duration::from_millis(policy.config.profiles.device_ttl_ms);
        let entry = state
            .cache
            .device(state, mac, ttl)
            .await
            .map_err(|e| HandlerError::Other(format!("inventory unavailable: {e}")))?;
        let Some(device) = entry.device.as_ref() else {
            seen(Outcome::NotFound, format!("tftp {path}: unknown device"));
            return Err(HandlerError::NotFound("unknown device".into()));
        };
        if is_pending(&device.vars) {
            seen(
                Outcome::NotFound,
                format!("tftp {path}: device pending approval"),
            );
            return Err(HandlerError::NotFound("device pending approval".into()));
        }
        let preprov = policy
            .config
            .security
            .preprovision_networks
            .iter()
            .any(|n| n.contains(&ip));
        let variant = if preprov {
            Variant::Bootstrap
        } else {
            Variant::Encrypted
        };
        let host = policy
            .config
            .profiles
            .public_host
            .clone()
            .unwrap_or_else(|| {
                state.bound.tftp.map_or("127.0.0.1".into(), |a| {
                    if a.ip().is_unspecified() {
                        "127.0.0.1".into()
                    } else {
                        a.ip().to_string()
                    }
                })
            });
        let templates = state.templates.load();
        match state
            .cache
            .profile(state, &policy, &templates, &entry, variant, &host)
        {
            Ok((r, _)) => {
                seen(Outcome::Success, format!("tftp {path}"));
                Ok(Content::Bytes(Bytes::clone(&r.body)))
            }
            Err(e) => {
                tracing::error!(%mac, error = %e, "profile render failed");
                seen(Outcome::Failed, format!("tftp {path}: {e}"));
                Err(HandlerError::Other("profile could not be rendered".into()))
            }
        }
    }
}

async fn open_file(root: &std::path::Path, rel: &str) -> Result<Content, HandlerError> {
    let root = root.to_path_buf();
    let rel = rel.to_string();
    let path = tokio::task::spawn_blocking(move || phoneprov_tftp::resolve_path(&root, &rel))
        .await
        .map_err(|e| HandlerError::Other(format!("lookup failed: {e}")))??;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| HandlerError::NotFound("no such file".into()))?;
    let size = file.metadata().await.ok().map(|m| m.len());
    Ok(Content::Reader {
        reader: Box::pin(file),
        size,
    })
}
