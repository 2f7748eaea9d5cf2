//! The provisioning CA: creation, loading, and issuing phone and server
//! certificates (R-HTTPS-5).
//!
//! Keys are ECDSA P-256 (fast to generate for large simulated fleets and
//! understood by every TLS stack the project talks to). Serial numbers are
//! derived by rcgen from the SHA-256 of the subject public key, so every
//! certificate (each with a fresh key) has a distinct serial.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, DnsName};
use time::{Duration, OffsetDateTime};

use crate::files::{check_private_file, create_private_dir, read_text, write_file, Secrecy};
use crate::PkiError;
use phoneprov_types::Mac;

/// CA certificate file name inside the CA directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// CA private key file name (mode 0600).
pub const CA_KEY_FILE: &str = "ca.key";
/// Server certificate file name (issued by the CA at `init_ca`).
pub const SERVER_CERT_FILE: &str = "server.pem";
/// Server private key file name (mode 0600).
pub const SERVER_KEY_FILE: &str = "server.key";
/// Server names used when none are given: enough for local tests and the
/// fleet simulator on the same host.
pub const DEFAULT_SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Longest OU / L value accepted (X.520 upper bound for organizationalUnitName).
const MAX_FIELD_LEN: usize = 64;

/// Where the CA files live. All paths are inside [`CaFiles::dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaFiles {
    /// The CA directory (the CLI uses `<data>/ca`).
    pub dir: PathBuf,
}

impl CaFiles {
    /// `dir/ca.pem`: the CA certificate phones and the simulator trust.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }
    /// `dir/ca.key`: the CA private key (0600).
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join(CA_KEY_FILE)
    }
    /// `dir/server.pem`: the HTTPS server certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join(SERVER_CERT_FILE)
    }
    /// `dir/server.key`: the HTTPS server private key (0600).
    pub fn server_key(&self) -> PathBuf {
        self.dir.join(SERVER_KEY_FILE)
    }
}

/// A freshly issued certificate and its private key, both PEM.
///
/// `Debug` leaves the key out so it never ends up in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The certificate (one `CERTIFICATE` block).
    pub cert_pem: String,
    /// The PKCS#8 private key (one `PRIVATE KEY` block). Secret.
    pub key_pem: String,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl IssuedCert {
    /// The certificate as DER.
    pub fn cert_der(&self) -> Result<CertificateDer<'static>, PkiError> {
        first_cert_der(self.cert_pem.as_bytes())
    }

    /// Writes the certificate (0644) and key (0600). Without `overwrite`,
    /// existing files are left alone and reported as an error.
    pub fn write(
        &self,
        cert_path: &Path,
        key_path: &Path,
        overwrite: bool,
    ) -> Result<(), PkiError> {
        write_file(
            key_path,
            self.key_pem.as_bytes(),
            Secrecy::Private,
            overwrite,
            false,
        )?;
        write_file(
            cert_path,
            self.cert_pem.as_bytes(),
            Secrecy::Public,
            overwrite,
            false,
        )
    }
}

/// A loaded CA that can issue certificates.
pub struct Ca {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl Ca {
    /// Creates a new self-signed CA in memory (nothing is written). Tests and
    /// the simulator use this for throw-away CAs; operators use [`init_ca`].
    pub fn generate(common_name: &str) -> Result<Ca, PkiError> {
        check_field("CA name", common_name, false)?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "phoneprov");
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(365 * 20);
        let cert = params.self_signed(&key)?;
        let cert_pem = cert.pem();
        let cert_der = cert.der().clone();
        Ok(Ca {
            cert_pem,
            cert_der,
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads a CA from its certificate and PKCS#8 key (PEM). Refuses a key
    /// that does not belong to the certificate.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, PkiError> {
        let cert_der = first_cert_der(cert_pem.as_bytes())?;
        let key = KeyPair::from_pem(key_pem).map_err(|e| PkiError::PemBad {
            what: "CA private key",
            detail: e.to_string(),
        })?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| PkiError::X509(e.to_string()))?;
        if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(PkiError::PemBad {
                what: "CA key pair",
                detail: "the private key does not match the CA certificate".into(),
            });
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)?;
        Ok(Ca {
            cert_pem: cert_pem.to_string(),
            cert_der,
            issuer,
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The CA private key, PEM (only for writing `ca.key`; never log it).
    pub(crate) fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// Issues a phone client certificate whose subject is
    /// `OU=<pn>, L=<serial>, ST=<mac>, CN=<mac>` (R-HTTPS-5: `S` is
    /// stateOrProvinceName, OID 2.5.4.8). The MAC is normalised to 12
    /// lowercase hex digits; an empty `serial` or `pn` leaves that attribute
    /// out. Extended key usage: clientAuth only.
    pub fn issue_phone(&self, mac: &str, serial: &str, pn: &str) -> Result<IssuedCert, PkiError> {
        let mac = Mac::parse(mac)?.to_string();
        check_field("serial number", serial, true)?;
        check_field("product name", pn, true)?;
        let mut dn = DistinguishedName::new();
        if !pn.is_empty() {
            dn.push(DnType::OrganizationalUnitName, pn);
        }
        if !serial.is_empty() {
            dn.push(DnType::LocalityName, serial);
        }
        dn.push(DnType::StateOrProvinceName, mac.as_str());
        dn.push(DnType::CommonName, mac.as_str());
        let mut params = leaf_params(dn, 365 * 20);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    /// Issues an HTTPS server certificate for `names` (DNS names, IP
    /// addresses, and the R-HTTPS-5 form `fqdn/more`). An empty list means
    /// [`DEFAULT_SERVER_NAMES`].
    ///
    /// CN is the first non-IP name as given (so `pv.telco.net/mailto:...`
    /// keeps its tail); every name also becomes a SAN, DNS names cut at the
    /// first `/`.
    pub fn issue_server(&self, names: &[String]) -> Result<IssuedCert, PkiError> {
        let names: Vec<String> = if names.is_empty() {
            DEFAULT_SERVER_NAMES.iter().map(|s| s.to_string()).collect()
        } else {
            names.to_vec()
        };
        let cn = names
            .iter()
            .find(|n| n.parse::<IpAddr>().is_err())
            .unwrap_or(&names[0])
            .clone();
        self.issue_server_custom(&cn, &names)
    }

    /// Issues a server certificate with an explicit CN and SAN list. Useful to
    /// build servers whose name is only in the CN (to exercise the R-HTTPS-5
    /// CN check) or only in the SANs.
    pub fn issue_server_custom(
        &self,
        common_name: &str,
        sans: &[String],
    ) -> Result<IssuedCert, PkiError> {
        check_field("server common name", common_name, false)?;
        let mut san_list: Vec<SanType> = Vec::new();
        for name in sans {
            let san = server_san(name)?;
            if !san_list.contains(&san) {
                san_list.push(san);
            }
        }
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "phoneprov");
        dn.push(DnType::CommonName, common_name);
        let mut params = leaf_params(dn, 365 * 5);
        params.subject_alt_names = san_list;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Result<IssuedCert, PkiError> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Parameters shared by every end-entity certificate.
fn leaf_params(dn: DistinguishedName, days: i64) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    // A day of slack: phones often boot with a wrong clock before NTP.
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(days);
    params
}

/// One server name as a SAN: an IP address, or a DNS name (cut at `/`).
fn server_san(name: &str) -> Result<SanType, PkiError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let host = name.split('/').next().unwrap_or_default();
    DnsName::try_from(host).map_err(|_| PkiError::BadField {
        field: "server name",
        value: name.to_string(),
        why: "expected a DNS name (optionally followed by `/more`) or an IP address",
    })?;
    Ok(SanType::DnsName(host.to_string().try_into()?))
}

/// Rejects values that would make odd or unreadable subjects.
fn check_field(field: &'static str, value: &str, may_be_empty: bool) -> Result<(), PkiError> {
    let bad = |why| {
        Err(PkiError::BadField {
            field,
            value: value.to_string(),
            why,
        })
    };
    if value.is_empty() && !may_be_empty {
        return bad("it must not be empty");
    }
    if value.chars().count() > MAX_FIELD_LEN {
        return bad("at most 64 characters are allowed");
    }
    if value.chars().any(char::is_control) {
        return bad("control characters are not allowed");
    }
    Ok(())
}

/// The first `CERTIFICATE` block of a PEM input.
pub(crate) fn first_cert_der(pem: &[u8]) -> Result<CertificateDer<'static>, PkiError> {
    match CertificateDer::pem_slice_iter(pem).next() {
        Some(Ok(der)) => Ok(der),
        Some(Err(e)) => Err(PkiError::PemBad {
            what: "certificate",
            detail: e.to_string(),
        }),
        None => Err(PkiError::PemMissing {
            what: "certificate",
            label: "CERTIFICATE",
        }),
    }
}

/// Creates a CA (and a server certificate for `server_names`, empty meaning
/// [`DEFAULT_SERVER_NAMES`]) in `dir`. Refuses with [`PkiError::CaExists`]
/// when `ca.pem` or `ca.key` is already there, so an existing CA, and every
/// phone certificate it issued, is never replaced by accident.
pub fn init_ca(
    dir: &Path,
    common_name: &str,
    server_names: &[String],
) -> Result<CaFiles, PkiError> {
    init_ca_inner(dir, common_name, server_names, false)
}

/// Like [`init_ca`] but replaces an existing CA and server certificate.
pub fn init_ca_force(
    dir: &Path,
    common_name: &str,
    server_names: &[String],
) -> Result<CaFiles, PkiError> {
    init_ca_inner(dir, common_name, server_names, true)
}

/// Loads the CA in `dir`, creating it first when there is none (the server's
/// first start). Returns the files and whether they were just created. A
/// missing server certificate next to an existing CA is issued again.
pub fn ensure_ca(
    dir: &Path,
    common_name: &str,
    server_names: &[String],
) -> Result<(CaFiles, bool), PkiError> {
    let files = CaFiles {
        dir: dir.to_path_buf(),
    };
    if !files.ca_cert().exists() && !files.ca_key().exists() {
        return Ok((init_ca(dir, common_name, server_names)?, true));
    }
    let ca = load_ca(dir)?;
    if !files.server_cert().exists() || !files.server_key().exists() {
        ca.issue_server(server_names)?
            .write(&files.server_cert(), &files.server_key(), true)?;
    }
    Ok((files, false))
}

fn init_ca_inner(
    dir: &Path,
    common_name: &str,
    server_names: &[String],
    force: bool,
) -> Result<CaFiles, PkiError> {
    let files = CaFiles {
        dir: dir.to_path_buf(),
    };
    if !force && (files.ca_cert().exists() || files.ca_key().exists()) {
        return Err(PkiError::CaExists { dir: files.dir });
    }
    // Build everything in memory first so a bad server name leaves no files.
    let ca = Ca::generate(common_name)?;
    let server = ca.issue_server(server_names)?;
    create_private_dir(dir)?;
    write_file(
        &files.ca_key(),
        ca.key_pem().as_bytes(),
        Secrecy::Private,
        force,
        true,
    )?;
    write_file(
        &files.ca_cert(),
        ca.cert_pem().as_bytes(),
        Secrecy::Public,
        force,
        true,
    )?;
    server.write(&files.server_cert(), &files.server_key(), true)?;
    Ok(files)
}

/// Loads the CA from `dir/ca.pem` and `dir/ca.key`.
pub fn load_ca(dir: &Path) -> Result<Ca, PkiError> {
    let files = CaFiles {
        dir: dir.to_path_buf(),
    };
    for (path, name) in [
        (files.ca_cert(), CA_CERT_FILE),
        (files.ca_key(), CA_KEY_FILE),
    ] {
        if !path.exists() {
            return Err(PkiError::CaMissing {
                dir: dir.to_path_buf(),
                missing: name,
            });
        }
    }
    check_private_file(&files.ca_key())?;
    let cert = read_text(&files.ca_cert())?;
    let key = read_text(&files.ca_key())?;
    Ca::from_pem(&cert, &key)
}
