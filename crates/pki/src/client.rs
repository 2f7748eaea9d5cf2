//! rustls client configuration for the phone side (fleet simulator):
//! custom trust anchors, the phone's client certificate, `TLS_Name_Validate`
//! (R-SEC-3) and `TLS_Cipher_List` (R-SEC-2).
//!
//! A phone's custom CA (`Custom_CA_Rule`) is an *additional* trust anchor
//! ([`ClientTls::extra_trust_pem`]): it is added to the provisioning CA or
//! to the built-in roots, never replaces them. [`check_trust_anchors`]
//! reads such a file the way the configuration will (every PEM
//! certificate must parse and be usable as an anchor).
//!
//! Name validation is done by [`PhoneServerVerifier`], which wraps rustls'
//! `WebPkiServerVerifier`: the chain is always verified against the trust
//! anchors (signature, validity, EKU), and only a wrong *name* is treated
//! specially:
//! * `validate_name = false`: the name mismatch is ignored (chain still checked);
//! * `validate_name = true`: SANs are checked first (webpki); when they do not
//!   match, the certificate's CN is compared, cut at the first `/`, because
//!   R-HTTPS-5 lets the CN hold `fqdn/more` (`pv.telco.net/mailto:admin@...`).
//!   The CN comparison is exact (ASCII case-insensitive, trailing dot ignored;
//!   an IP server name must equal a CN that parses as the same IP); CN
//!   wildcards are not honoured.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::server::{cert_chain, private_key, provider, root_store};
use crate::{map_cipher_list, PkiError};

/// Phone-side TLS settings. `Debug` redacts the private key.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// Trust anchors (the provisioning CA, PEM). `None` means the public web
    /// roots built into the binary (Mozilla's list via `webpki-roots`), like
    /// a phone's factory trust store.
    pub trust_pem: Option<Vec<u8>>,
    /// The phone's client certificate chain, PEM.
    pub client_cert_pem: Option<Vec<u8>>,
    /// The phone's private key, PEM. Never logged.
    pub client_key_pem: Option<Vec<u8>>,
    /// Further trust anchors (PEM), added to `trust_pem` or to the built-in
    /// roots: the phone's custom CA (`Custom_CA_Rule`).
    pub extra_trust_pem: Option<Vec<u8>>,
    /// `TLS_Name_Validate` (default Yes).
    pub validate_name: bool,
    /// `TLS_Cipher_List`, OpenSSL syntax; `None` or blank means the default.
    pub cipher_list: Option<String>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = |v: &Option<Vec<u8>>| v.as_ref().map(Vec::len);
        f.debug_struct("ClientTls")
            .field("trust_pem_len", &len(&self.trust_pem))
            .field("extra_trust_pem_len", &len(&self.extra_trust_pem))
            .field("client_cert_pem_len", &len(&self.client_cert_pem))
            .field(
                "client_key_pem",
                &self.client_key_pem.as_ref().map(|_| "<redacted>"),
            )
            .field("validate_name", &self.validate_name)
            .field("cipher_list", &self.cipher_list)
            .finish()
    }
}

impl Default for ClientTls {
    fn default() -> Self {
        ClientTls {
            trust_pem: None,
            extra_trust_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            validate_name: true,
            cipher_list: None,
        }
    }
}

/// What [`check_trust_anchors`] found in a custom CA file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAnchors {
    /// The first certificate's subject CN (its whole subject when it has
    /// no CN): what a phone's status shows as "Installed: CN".
    pub common_name: String,
    /// How many certificates the file holds.
    pub count: usize,
}

/// Reads a custom CA file: at least one PEM certificate, each a valid
/// X.509 certificate rustls takes as a trust anchor.
pub fn check_trust_anchors(pem: &[u8]) -> Result<TrustAnchors, PkiError> {
    let certs = cert_chain(pem)?;
    let mut roots = RootCertStore::empty();
    for c in &certs {
        roots.add(c.clone())?;
    }
    let (_, first) =
        X509Certificate::from_der(&certs[0]).map_err(|e| PkiError::X509(e.to_string()))?;
    let cn = first
        .subject()
        .iter_common_name()
        .find_map(|cn| cn.as_str().ok().map(str::to_string));
    Ok(TrustAnchors {
        common_name: cn.unwrap_or_else(|| first.subject().to_string()),
        count: certs.len(),
    })
}

/// Builds the phone's client configuration (ALPN `http/1.1`).
pub fn client_config(opts: &ClientTls) -> Result<Arc<rustls::ClientConfig>, PkiError> {
    let provider = match opts.cipher_list.as_deref() {
        Some(list) => map_cipher_list(list).provider(),
        None => provider(),
    };
    let verifier = PhoneServerVerifier::with_provider(
        opts.trust_pem.as_deref(),
        opts.extra_trust_pem.as_deref(),
        opts.validate_name,
        provider.clone(),
    )?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&opts.client_cert_pem, &opts.client_key_pem) {
        (Some(cert), Some(key)) => {
            builder.with_client_auth_cert(cert_chain(cert)?, private_key(key)?)?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => return Err(PkiError::ClientCertIncomplete("the private key")),
        (None, Some(_)) => return Err(PkiError::ClientCertIncomplete("the certificate")),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Server certificate verifier implementing `TLS_Name_Validate` and the
/// R-HTTPS-5 CN form; see the module docs.
#[derive(Debug)]
pub struct PhoneServerVerifier {
    inner: Arc<WebPkiServerVerifier>,
    validate_name: bool,
}

impl PhoneServerVerifier {
    /// A verifier trusting `trust_pem` (or the built-in web roots when
    /// `None`), using the ring provider.
    pub fn new(trust_pem: Option<&[u8]>, validate_name: bool) -> Result<Arc<Self>, PkiError> {
        Self::with_provider(trust_pem, None, validate_name, provider())
    }

    fn with_provider(
        trust_pem: Option<&[u8]>,
        extra_trust_pem: Option<&[u8]>,
        validate_name: bool,
        provider: Arc<CryptoProvider>,
    ) -> Result<Arc<Self>, PkiError> {
        let mut roots = match trust_pem {
            Some(pem) => root_store(pem)?,
            None => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        };
        if let Some(extra) = extra_trust_pem {
            for cert in cert_chain(extra)? {
                roots.add(cert)?;
            }
        }
        let inner =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
        Ok(Arc::new(PhoneServerVerifier {
            inner,
            validate_name,
        }))
    }
}

impl ServerCertVerifier for PhoneServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        // WebPkiServerVerifier checks the chain before the name, so a
        // name error means the chain itself was fine.
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.validate_name || cn_matches(end_entity, server_name) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Does any subject CN (cut at the first `/`) name `server_name`?
fn cn_matches(end_entity: &CertificateDer<'_>, server_name: &ServerName<'_>) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(end_entity) else {
        return false;
    };
    let matched = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(|cn| cn.split('/').next().unwrap_or_default())
        .any(|host| host_matches(host, server_name));
    matched
}

fn host_matches(host: &str, server_name: &ServerName<'_>) -> bool {
    match server_name {
        ServerName::DnsName(dns) => {
            let want = dns.as_ref().trim_end_matches('.');
            !want.is_empty() && host.trim_end_matches('.').eq_ignore_ascii_case(want)
        }
        ServerName::IpAddress(ip) => host.parse::<IpAddr>().is_ok_and(|h| h == IpAddr::from(*ip)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ca;

    fn verify(
        v: &PhoneServerVerifier,
        cert_pem: &str,
        name: &str,
    ) -> Result<ServerCertVerified, Error> {
        let der = crate::ca::first_cert_der(cert_pem.as_bytes()).unwrap();
        let name = ServerName::try_from(name.to_string()).unwrap();
        v.verify_server_cert(&der, &[], &name, &[], UnixTime::now())
    }

    fn is_name_error(r: &Result<ServerCertVerified, Error>) -> bool {
        matches!(
            r,
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        )
    }

    #[test]
    fn name_validation_on_checks_sans() {
        // R-SEC-3 TLS_Name_Validate = Yes.
        let ca = Ca::generate("CA").unwrap();
        let server = ca
            .issue_server(&["pv.telco.net".into(), "10.0.0.5".into()])
            .unwrap();
        let v = PhoneServerVerifier::new(Some(ca.cert_pem().as_bytes()), true).unwrap();
        assert!(verify(&v, &server.cert_pem, "pv.telco.net").is_ok());
        assert!(verify(&v, &server.cert_pem, "PV.Telco.Net").is_ok());
        assert!(verify(&v, &server.cert_pem, "10.0.0.5").is_ok());
        assert!(is_name_error(&verify(
            &v,
            &server.cert_pem,
            "other.telco.net"
        )));
        assert!(is_name_error(&verify(&v, &server.cert_pem, "10.0.0.6")));
    }

    #[test]
    fn name_validation_off_still_checks_the_chain() {
        // R-SEC-3 TLS_Name_Validate = No: wrong name accepted, foreign CA not.
        let ca = Ca::generate("CA").unwrap();
        let server = ca.issue_server(&["pv.telco.net".into()]).unwrap();
        let v = PhoneServerVerifier::new(Some(ca.cert_pem().as_bytes()), false).unwrap();
        assert!(verify(&v, &server.cert_pem, "other.telco.net").is_ok());
        let rogue = Ca::generate("rogue")
            .unwrap()
            .issue_server(&["pv.telco.net".into()])
            .unwrap();
        let err = verify(&v, &rogue.cert_pem, "pv.telco.net").unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidCertificate(CertificateError::UnknownIssuer)
            ),
            "{err:?}"
        );
    }

    #[test]
    fn cn_with_slash_tail_names_the_server() {
        // R-HTTPS-5: CN=pv.telco.net/mailto:admin@telco.net, SANs elsewhere.
        let ca = Ca::generate("CA").unwrap();
        let server = ca
            .issue_server_custom(
                "pv.telco.net/mailto:admin@telco.net",
                &["backup.telco.net".into()],
            )
            .unwrap();
        let v = PhoneServerVerifier::new(Some(ca.cert_pem().as_bytes()), true).unwrap();
        assert!(verify(&v, &server.cert_pem, "backup.telco.net").is_ok());
        assert!(verify(&v, &server.cert_pem, "pv.telco.net").is_ok());
        assert!(is_name_error(&verify(&v, &server.cert_pem, "pv.telco")));
        assert!(is_name_error(&verify(&v, &server.cert_pem, "telco.net")));
    }

    #[test]
    fn issue_server_puts_the_cn_host_in_the_sans() {
        let ca = Ca::generate("CA").unwrap();
        let server = ca
            .issue_server(&[
                "pv.telco.net/mailto:admin@telco.net".into(),
                "127.0.0.1".into(),
            ])
            .unwrap();
        let summary = crate::summarize_pem(server.cert_pem.as_bytes()).unwrap();
        assert!(
            summary
                .subject
                .contains("CN=pv.telco.net/mailto:admin@telco.net"),
            "{}",
            summary.subject
        );
        assert_eq!(
            summary.subject_alt_names,
            ["DNS:pv.telco.net", "IP:127.0.0.1"]
        );
    }

    /// `Custom_CA_Rule`: the custom CA is added to the provisioning CA
    /// (or the built-in roots); servers of either verify.
    #[test]
    fn custom_ca_is_an_additional_anchor() {
        let prov = Ca::generate("Prov CA").unwrap();
        let custom = Ca::generate("Custom CA").unwrap();
        let by_custom = custom.issue_server(&["pv.example".into()]).unwrap();
        let by_prov = prov.issue_server(&["pv.example".into()]).unwrap();
        let p = Some(prov.cert_pem().as_bytes());
        let c = Some(custom.cert_pem().as_bytes());
        let only_prov = PhoneServerVerifier::with_provider(p, None, true, provider()).unwrap();
        assert!(verify(&only_prov, &by_custom.cert_pem, "pv.example").is_err());
        let both = PhoneServerVerifier::with_provider(p, c, true, provider()).unwrap();
        assert!(verify(&both, &by_custom.cert_pem, "pv.example").is_ok());
        assert!(verify(&both, &by_prov.cert_pem, "pv.example").is_ok());
        assert!(is_name_error(&verify(
            &both,
            &by_custom.cert_pem,
            "other.example"
        )));
        let web = PhoneServerVerifier::with_provider(None, c, true, provider()).unwrap();
        assert!(verify(&web, &by_custom.cert_pem, "pv.example").is_ok());
        let bad = PhoneServerVerifier::with_provider(p, Some(b"not pem"), true, provider());
        assert!(bad.is_err());
    }

    #[test]
    fn check_trust_anchors_reads_the_cn_and_refuses_non_certificates() {
        let a = Ca::generate("Custom CA").unwrap();
        let b = Ca::generate("Second CA").unwrap();
        let two = format!("{}{}", a.cert_pem(), b.cert_pem());
        let t = check_trust_anchors(two.as_bytes()).unwrap();
        assert_eq!(t.common_name, "Custom CA");
        assert_eq!(t.count, 2);
        assert!(check_trust_anchors(b"<html>this is not a certificate</html>").is_err());
        let junk = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(check_trust_anchors(junk).is_err());
    }

    #[test]
    fn client_cert_without_key_is_refused() {
        let ca = Ca::generate("CA").unwrap();
        let phone = ca.issue_phone("aabbccddeeff", "SN1", "PN").unwrap();
        let opts = ClientTls {
            trust_pem: Some(ca.cert_pem().as_bytes().to_vec()),
            client_cert_pem: Some(phone.cert_pem.clone().into_bytes()),
            ..ClientTls::default()
        };
        let err = client_config(&opts).unwrap_err();
        assert!(matches!(err, PkiError::ClientCertIncomplete(_)), "{err}");
        let full = ClientTls {
            client_key_pem: Some(phone.key_pem.into_bytes()),
            ..opts
        };
        assert!(client_config(&full).is_ok());
        assert!(
            !format!("{full:?}").contains("PRIVATE KEY"),
            "key leaked into Debug"
        );
    }

    #[test]
    fn cipher_list_restricts_the_offered_suites() {
        let opts = ClientTls {
            cipher_list: Some("ECDHE+CHACHA20".into()),
            ..ClientTls::default()
        };
        let cfg = client_config(&opts).unwrap();
        let tls12: Vec<_> = cfg
            .crypto_provider()
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12)
            .map(|s| s.suite())
            .collect();
        assert_eq!(
            tls12,
            [
                rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            ]
        );
        assert!(
            client_config(&ClientTls::default()).unwrap().alpn_protocols == [b"http/1.1".to_vec()]
        );
    }
}
