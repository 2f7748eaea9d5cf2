//! Helpers for the interop tests: peer lookup (a missing peer fails the test
//! and names `scripts/install-peers`), free ports, peers killed on drop,
//! nginx with a generated configuration, and a dev CA from `phoneprov-pki`.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use phoneprov_pki::{client_config, Ca, ClientTls};
use phoneprov_transport::rustls;
use phoneprov_transport::{HttpClient, HttpClientConfig, HttpRequest};

pub use phoneprov_testpeers::*;

/// A dev CA with a server certificate and a phone certificate.
pub struct Pki {
    pub ca: Ca,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub phone_cert_pem: String,
    pub phone_key_pem: String,
}

impl Pki {
    /// Server certificate for `names`, phone certificate for MAC 0011223344ab.
    pub fn new(names: &[&str]) -> Pki {
        let ca = Ca::generate("phoneprov test CA").unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let server = ca.issue_server(&names).unwrap();
        let phone = ca
            .issue_phone("00:11:22:33:44:ab", "SN123", "CP-8841-3PCC")
            .unwrap();
        Pki {
            ca,
            server_cert_pem: server.cert_pem.clone(),
            server_key_pem: server.key_pem.clone(),
            phone_cert_pem: phone.cert_pem.clone(),
            phone_key_pem: phone.key_pem.clone(),
        }
    }

    /// Writes `ca.pem`, `server.pem`, `server.key` into `dir`.
    pub fn write_server_files(&self, dir: &Path) {
        write_public(&dir.join("ca.pem"), self.ca.cert_pem().as_bytes());
        write_public(&dir.join("server.pem"), self.server_cert_pem.as_bytes());
        write_public(&dir.join("server.key"), self.server_key_pem.as_bytes());
    }

    /// The phone's TLS configuration (trusting this CA), with or without
    /// its client certificate.
    pub fn client_tls(&self, with_client_cert: bool) -> Arc<rustls::ClientConfig> {
        client_config(&ClientTls {
            trust_pem: Some(self.ca.cert_pem().as_bytes().to_vec()),
            extra_trust_pem: None,
            client_cert_pem: with_client_cert.then(|| self.phone_cert_pem.as_bytes().to_vec()),
            client_key_pem: with_client_cert.then(|| self.phone_key_pem.as_bytes().to_vec()),
            validate_name: true,
            cipher_list: None,
        })
        .unwrap()
    }
}

/// TLS config trusting nothing useful (for plain-http tests).
pub fn default_tls() -> Arc<rustls::ClientConfig> {
    client_config(&ClientTls::default()).unwrap()
}

/// A client with short timeouts.
pub fn client(tls: Arc<rustls::ClientConfig>) -> HttpClient {
    let mut cfg = HttpClientConfig::new(tls);
    cfg.connect_timeout = Duration::from_secs(3);
    cfg.request_timeout = Duration::from_secs(10);
    HttpClient::new(cfg)
}

/// A GET with a phone User-Agent (R-HTTP-3).
pub fn get(url: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        url: url.into(),
        headers: vec![(
            "User-Agent".into(),
            "Cisco-CP-8841-3PCC/11.0 (0011223344ab)".into(),
        )],
        body: Vec::new(),
    }
}
