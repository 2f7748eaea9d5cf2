//! The HTTPS listener's rustls settings from `[tls]` (built at start and
//! rebuilt on every reload, so a renewed certificate takes effect at
//! SIGHUP), and the development CA shared through the database when
//! several nodes use one ([`share_development_ca`], issue 13).

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
    let ca_dir = data.join("ca");
    if needs_ca(cfg) {
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

/// Whether `[tls]` leaves a file to the development CA (the server
/// certificate, or the client CA of a client-certificate check).
fn needs_ca(cfg: &Config) -> bool {
    let tls = &cfg.tls;
    tls.cert.is_none() || (tls.client_auth != ClientAuthMode::Off && tls.client_ca.is_none())
}

/// The secret holding the shared development CA: `{"cert":PEM,"key":PEM}`.
const SHARED_CA: &str = "development-ca";

/// `Debug` is not derived: the key must not reach a log.
#[derive(serde::Serialize, serde::Deserialize, PartialEq)]
struct CaPair {
    cert: String,
    key: String,
}

/// On PostgreSQL, makes `<data>/ca` hold the development CA that every
/// node sharing the database signs with (issue 13): the first node to
/// start stores its CA (the one in `ca/`, or a new one) in the database's
/// secrets; a node without `ca/` writes the stored one there (its own
/// server certificate is then issued by it). A node whose `ca/` holds a
/// different CA is refused with one line (it may be the CA its phones
/// trust: the operator decides). A CA this start just created gives way
/// to the stored one. SQLite: nothing (one node).
pub fn share_development_ca(
    store: &mut phoneprov_store::Store,
    cfg: &Config,
    data: &Path,
) -> Result<(), ServerError> {
    use phoneprov_store::SecretRepo;
    if !store.database().is_postgres() {
        return Ok(());
    }
    let files = phoneprov_pki::CaFiles {
        dir: data.join("ca"),
    };
    let local = || -> Option<CaPair> {
        Some(CaPair {
            cert: std::fs::read_to_string(files.ca_cert()).ok()?,
            key: std::fs::read_to_string(files.ca_key()).ok()?,
        })
    };
    let stored = |v: Vec<u8>| {
        serde_json::from_slice::<CaPair>(&v).map_err(|e| {
            ServerError::Tls(format!(
                "the development CA stored in the database does not parse ({e}); \
                 delete the secret '{SHARED_CA}' to store this node's"
            ))
        })
    };
    let mut mine = local();
    let mut created = false;
    if mine.is_none() {
        if let Some(v) = store.secret(SHARED_CA)? {
            return write_ca(&files, &stored(v)?);
        }
        let uses_tls = cfg.listen.https.addr().is_some()
            || cfg.listen.acs_tls.addr().is_some()
            || (cfg.listen.admin.addr().is_some() && cfg.admin_tls());
        if !(uses_tls && needs_ca(cfg)) {
            return Ok(());
        }
        phoneprov_pki::ensure_ca(
            &files.dir,
            "phoneprov development CA",
            &cfg.tls.server_names,
        )
        .map_err(|e| ServerError::Tls(e.to_string()))?;
        created = true;
        mine = local();
    }
    let Some(mine) = mine else {
        return Err(ServerError::Tls(format!(
            "cannot read the development CA in {}",
            files.dir.display()
        )));
    };
    let json = serde_json::to_vec(&mine).expect("strings serialize");
    let shared = stored(store.ensure_secret(SHARED_CA, &json)?)?;
    if shared == mine {
        Ok(())
    } else if created {
        // Another node stored its CA first (a race at first start).
        write_ca(&files, &shared)
    } else {
        Err(ServerError::Tls(format!(
            "{} is not the development CA that the other nodes on this database sign with; \
             move {} away to use the shared one (phones that trusted this node's CA then need \
             the new ca.pem)",
            files.ca_cert().display(),
            files.dir.display()
        )))
    }
}

/// Writes `ca` as the CA files (the key 0600) and removes the server
/// certificate issued by any other CA, to be issued again by this one.
fn write_ca(files: &phoneprov_pki::CaFiles, ca: &CaPair) -> Result<(), ServerError> {
    let io = |path: &Path, e: std::io::Error| {
        ServerError::Tls(format!("cannot write {}: {e}", path.display()))
    };
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&files.dir)
            .map_err(|e| io(&files.dir, e))?;
    }
    for path in [files.server_cert(), files.server_key()] {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path, e)),
            _ => {}
        }
    }
    phoneprov_pki::IssuedCert {
        cert_pem: ca.cert.clone(),
        key_pem: ca.key.clone(),
    }
    .write(&files.ca_cert(), &files.ca_key(), true)
    .map_err(|e| ServerError::Tls(e.to_string()))?;
    Ok(())
}
