//! Reading a phone's identity back out of its client certificate
//! (R-HTTPS-5: subject `OU=<PN>, L=<SN>, S=<MAC>`).
//!
//! The server calls this on the certificate the TLS layer has already
//! verified, then uses [`PhoneIdentity::authorizes_mac`] so that a certificate
//! for one MAC never gets another MAC's profile.

use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::PkiError;
use phoneprov_types::Mac;

/// Who a client certificate says the phone is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PhoneIdentity {
    /// `S` (stateOrProvinceName): the MAC, 12 lowercase hex digits.
    pub mac: String,
    /// `L` (localityName): the serial number, when present.
    pub serial: Option<String>,
    /// `OU` (organizationalUnitName): the product name, e.g. `CP-8841-3PCC`.
    pub model: Option<String>,
}

impl PhoneIdentity {
    /// True when this certificate may fetch resources for `requested_mac`
    /// (any spelling). A malformed `requested_mac` is never authorised.
    pub fn authorizes_mac(&self, requested_mac: &str) -> bool {
        Mac::parse(requested_mac).is_ok_and(|m| m.to_string() == self.mac)
    }
}

/// Extracts the phone identity from a DER certificate's subject. The MAC is
/// normalised, so certificates from other CAs that spell it with colons or
/// capitals still work. Does not verify the certificate: only call it on one
/// the TLS handshake has verified.
pub fn phone_identity_from_der(cert_der: &[u8]) -> Result<PhoneIdentity, PkiError> {
    let (_, cert) =
        X509Certificate::from_der(cert_der).map_err(|e| PkiError::X509(e.to_string()))?;
    let subject = cert.subject();
    let first = |mut it: Box<
        dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>> + '_,
    >| { it.find_map(|a| a.as_str().ok().map(str::to_string)) };
    let not_phone = || PkiError::NotAPhoneCert {
        subject: subject.to_string(),
    };
    let mac_text = first(Box::new(subject.iter_state_or_province())).ok_or_else(not_phone)?;
    let mac = Mac::parse(&mac_text).map_err(|_| not_phone())?.to_string();
    Ok(PhoneIdentity {
        mac,
        serial: first(Box::new(subject.iter_locality())).filter(|s| !s.is_empty()),
        model: first(Box::new(subject.iter_organizational_unit())).filter(|s| !s.is_empty()),
    })
}

/// The identity of a TLS peer, from rustls' `peer_certificates()`: `Ok(None)`
/// when the client sent no certificate (optional client auth).
pub fn identity_from_peer_certs(
    certs: Option<&[CertificateDer<'_>]>,
) -> Result<Option<PhoneIdentity>, PkiError> {
    match certs.and_then(|c| c.first()) {
        Some(leaf) => phone_identity_from_der(leaf).map(Some),
        None => Ok(None),
    }
}

/// The subject of the leaf certificate a TLS peer presented (RFC 4514
/// text, as `openssl x509 -subject` shows it), for the access log; `None`
/// without a certificate or when it does not parse.
pub fn subject_from_peer_certs(certs: Option<&[CertificateDer<'_>]>) -> Option<String> {
    let leaf = certs?.first()?;
    let (_, cert) = X509Certificate::from_der(leaf).ok()?;
    Some(cert.subject().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ca;

    #[test]
    fn identity_round_trips_through_a_phone_cert() {
        // R-HTTPS-5: OU=<PN>, L=<SN>, S=<MAC> come back out unchanged.
        let ca = Ca::generate("test CA").unwrap();
        let issued = ca
            .issue_phone("00:56:2B:04:36:15", "CCQ2114A0B1", "CP-8841-3PCC")
            .unwrap();
        let id = phone_identity_from_der(&issued.cert_der().unwrap()).unwrap();
        assert_eq!(
            id,
            PhoneIdentity {
                mac: "00562b043615".into(),
                serial: Some("CCQ2114A0B1".into()),
                model: Some("CP-8841-3PCC".into()),
            }
        );
        assert!(id.authorizes_mac("00-56-2b-04-36-15"));
        assert!(!id.authorizes_mac("00562b043616"));
        assert!(!id.authorizes_mac("not a mac"));
    }

    #[test]
    fn empty_serial_and_model_are_absent() {
        let ca = Ca::generate("test CA").unwrap();
        let issued = ca.issue_phone("aabbccddeeff", "", "").unwrap();
        let id = phone_identity_from_der(&issued.cert_der().unwrap()).unwrap();
        assert_eq!(
            (id.mac.as_str(), id.serial, id.model),
            ("aabbccddeeff", None, None)
        );
    }

    #[test]
    fn server_cert_is_not_a_phone() {
        let ca = Ca::generate("test CA").unwrap();
        let server = ca.issue_server(&[]).unwrap();
        let err = phone_identity_from_der(&server.cert_der().unwrap()).unwrap_err();
        assert!(matches!(err, PkiError::NotAPhoneCert { .. }), "{err}");
        assert!(err.to_string().contains("phoneprov ca issue"));
    }

    #[test]
    fn garbage_der_is_an_x509_error() {
        assert!(matches!(
            phone_identity_from_der(b"nope"),
            Err(PkiError::X509(_))
        ));
    }

    #[test]
    fn peer_without_certificate_has_no_identity() {
        assert_eq!(identity_from_peer_certs(None).unwrap(), None);
        assert_eq!(identity_from_peer_certs(Some(&[])).unwrap(), None);
    }

    #[test]
    fn bad_subject_fields_are_refused() {
        let ca = Ca::generate("test CA").unwrap();
        assert!(matches!(
            ca.issue_phone("xyz", "", ""),
            Err(PkiError::BadMac(_))
        ));
        let long = "x".repeat(65);
        assert!(matches!(
            ca.issue_phone("aabbccddeeff", &long, ""),
            Err(PkiError::BadField { .. })
        ));
        assert!(matches!(
            ca.issue_phone("aabbccddeeff", "", "a\nb"),
            Err(PkiError::BadField { .. })
        ));
    }
}
