//! TLS session resumption per client (issue 17 item 6): a phone keeps the
//! TLS sessions (TLS 1.3 tickets, TLS 1.2 session IDs and tickets) of its
//! own earlier connections and offers them when it reconnects, so the
//! bootstrap, profile and firmware fetches of one boot pay one full
//! handshake. [`TlsSessions`] keeps, per client key (the phone's MAC), that
//! client's TLS configuration with a session store of its own: a fleet
//! simulator's phones never resume each other's sessions (a resumed
//! session carries the identity of the certificate that made it).
//!
//! rustls resumes a session only with the very configuration objects (the
//! server-certificate verifier and the client-certificate resolver) that
//! made it, so the configuration itself is kept per client and rebuilt
//! only when the client's TLS settings change; with resumption off nothing
//! is kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::client::{ClientSessionMemoryCache, Resumption};

/// Server names whose sessions one client keeps (its provisioning server,
/// a redirect target, a firmware host).
const SERVERS_PER_CLIENT: usize = 4;

/// One client's configuration and the settings it was built for.
struct Kept {
    settings: String,
    config: Arc<rustls::ClientConfig>,
}

/// Per-client TLS configurations with their own session stores, or
/// resumption off for every client. Cloning shares them.
#[derive(Clone)]
pub struct TlsSessions {
    kept: Option<Arc<Mutex<HashMap<String, Kept>>>>,
}

impl std::fmt::Debug for TlsSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clients = self
            .kept
            .as_ref()
            .map(|k| k.lock().map(|m| m.len()).unwrap_or(0));
        f.debug_struct("TlsSessions")
            .field("enabled", &self.kept.is_some())
            .field("clients", &clients)
            .finish()
    }
}

impl TlsSessions {
    /// Resumption on (each client its own sessions) or off (every
    /// handshake full, nothing kept).
    pub fn new(enabled: bool) -> TlsSessions {
        TlsSessions {
            kept: enabled.then(Default::default),
        }
    }

    /// Whether sessions are resumed.
    pub fn enabled(&self) -> bool {
        self.kept.is_some()
    }

    /// `client`'s TLS configuration. `settings` names everything `build`
    /// depends on (trust, name validation, cipher list, certificate): while
    /// it stays the same the kept configuration, with the sessions of the
    /// client's earlier connections, is returned; otherwise `build` makes a
    /// new one (and the old sessions are dropped). With resumption off,
    /// `build`'s configuration with resumption disabled.
    pub fn config_for<E>(
        &self,
        client: &str,
        settings: &str,
        build: impl FnOnce() -> Result<Arc<rustls::ClientConfig>, E>,
    ) -> Result<Arc<rustls::ClientConfig>, E> {
        let Some(kept) = &self.kept else {
            let mut config = (*build()?).clone();
            config.resumption = Resumption::disabled();
            return Ok(Arc::new(config));
        };
        if let Some(k) = kept.lock().expect("tls sessions lock").get(client) {
            if k.settings == settings {
                return Ok(k.config.clone());
            }
        }
        let mut config = (*build()?).clone();
        config.resumption =
            Resumption::store(Arc::new(ClientSessionMemoryCache::new(SERVERS_PER_CLIENT)));
        let config = Arc::new(config);
        kept.lock().expect("tls sessions lock").insert(
            client.to_string(),
            Kept {
                settings: settings.to_string(),
                config: config.clone(),
            },
        );
        Ok(config)
    }
}
