//! The HTTPS listener's rustls settings from `[tls]` (built at start and
//! rebuilt on every reload, so a renewed certificate takes effect at
//! SIGHUP).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{ClientAuthMode, Config};
use crate::error::ServerError;

fn read_pem(path: &Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path)
        .map_err(|e| ServerError::Tls(format!("cannot read {}: {e}", path.display())))
}

/// Builds the rustls server config from `[tls]`, creating the development
/// CA under `<data>/ca` when a file is not configured.
pub fn tls_config(
    cfg: &Config,
    data: &Path,
) -> Result<Arc<phoneprov_pki::rustls::ServerConfig>, ServerError> {
    let tls = &cfg.tls;
    let needs_ca =
        tls.cert.is_none() || (tls.client_auth != ClientAuthMode::Off && tls.client_ca.is_none());
    let ca_dir = data.join("ca");
    if needs_ca {
        let names = tls.server_names.clone();
        phoneprov_pki::ensure_ca(&ca_dir, "phoneprov development CA", &names)
            .map_err(|e| ServerError::Tls(e.to_string()))?;
    }
    let files = phoneprov_pki::CaFiles { dir: ca_dir };
    let rel = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            data.join(p)
        }
    };
    let cert = read_pem(
        &tls.cert
            .as_ref()
            .map(rel)
            .unwrap_or_else(|| files.server_cert()),
    )?;
    let key = read_pem(
        &tls.key
            .as_ref()
            .map(rel)
            .unwrap_or_else(|| files.server_key()),
    )?;
    let client_auth = match tls.client_auth {
        ClientAuthMode::Off => phoneprov_pki::ClientAuth::Off,
        ClientAuthMode::Optional => phoneprov_pki::ClientAuth::Optional,
        ClientAuthMode::Required => phoneprov_pki::ClientAuth::Required,
    };
    let client_ca = match tls.client_auth {
        ClientAuthMode::Off => None,
        _ => Some(read_pem(
            &tls.client_ca
                .as_ref()
                .map(rel)
                .unwrap_or_else(|| files.ca_cert()),
        )?),
    };
    phoneprov_pki::server_config(&cert, &key, client_ca.as_deref(), client_auth)
        .map_err(|e| ServerError::Tls(e.to_string()))
}

/// The admin listener's rustls settings: the `[tls]` certificate and key,
/// no client certificate asked (admins authenticate with the bearer
/// token; issue 17 item 3).
pub fn admin_tls_config(
    cfg: &Config,
    data: &Path,
) -> Result<Arc<phoneprov_pki::rustls::ServerConfig>, ServerError> {
    let mut admin = cfg.clone();
    admin.tls.client_auth = ClientAuthMode::Off;
    tls_config(&admin, data)
}
