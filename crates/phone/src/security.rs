//! The R-SEC rules the engine owns: `Restricted_Access_Domains` (R-SEC-1),
//! the `User-Agent` header (R-HTTP-3) and `Profile_Authentication_Type`
//! (R-HTTP-4).
//!
//! Domain matching (decision): the list is comma-separated, entries trimmed
//! and compared case-insensitively, a trailing `.` ignored. A host is
//! allowed when it equals an entry or is a subdomain of it
//! (`a.prov.example` is inside `prov.example`; `evilprov.example` is not).
//! An IP address host is allowed only when the list holds that exact
//! address. An empty list allows everything.

/// Whether `host` may be used under `Restricted_Access_Domains = list`.
pub fn domain_allowed(list: &str, host: &str) -> bool {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut entries = list
        .split(',')
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .peekable();
    if entries.peek().is_none() {
        return true;
    }
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    entries.any(|d| {
        host == d
            || (!is_ip && host.len() > d.len() && host.ends_with(&d) && {
                host.as_bytes()[host.len() - d.len() - 1] == b'.'
            })
    })
}

/// `Profile_Authentication_Type` (R-HTTP-4): which credentials answer a
/// 401 challenge when the rule carries no `--uid`/`--pwd` (those always
/// win).
///
/// * `Disabled`: none; a challenged download fails (class C).
/// * `Basic Http Authentication` (the default): the profile account the
///   user entered on the phone ([`PhoneConfig::credentials`](crate::PhoneConfig)),
///   answering Basic or Digest.
/// * `XSI Authentication`: the XSI credentials, per
///   `XSI_Authentication_Type`: `Login_User_ID`/`Login_Password`, or line
///   1's SIP credentials (`Auth_ID_1_`, else `User_ID_1_`, and
///   `Password_1_`).
///
/// Values are compared trimmed and case-insensitively (the seeds write
/// `Basic Http Authentication ` with a trailing space); an unknown value
/// is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileAuth {
    Disabled,
    Basic,
    Xsi,
}

impl ProfileAuth {
    /// The setting named by `value`.
    pub fn parse(value: &str) -> ProfileAuth {
        match value.trim().to_ascii_lowercase().as_str() {
            "disabled" => ProfileAuth::Disabled,
            "xsi authentication" => ProfileAuth::Xsi,
            _ => ProfileAuth::Basic,
        }
    }
}

/// `Cisco-<PN>/<firmware> (<MAC>)` (R-HTTP-3), MAC as 12 lowercase hex
/// digits, e.g. `Cisco-CP-8841-3PCC/11.0 (00562b043615)`.
pub fn default_user_agent(pn: &str, swver: &str, mac12: &str) -> String {
    format!("Cisco-{pn}/{swver} ({mac12})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_sec_1_domain_matching() {
        assert!(domain_allowed("", "anything.example"));
        assert!(domain_allowed(" , ", "anything.example"));
        let list = "prov.example, Other.ORG.";
        assert!(domain_allowed(list, "prov.example"));
        assert!(domain_allowed(list, "a.b.prov.example"));
        assert!(domain_allowed(list, "PROV.EXAMPLE."));
        assert!(domain_allowed(list, "other.org"));
        assert!(!domain_allowed(list, "evilprov.example"));
        assert!(!domain_allowed(list, "example"));
        assert!(!domain_allowed(list, "10.0.0.1"));
        assert!(domain_allowed("10.0.0.1", "10.0.0.1"));
        assert!(!domain_allowed("0.0.1", "10.0.0.1"));
    }

    #[test]
    fn r_http_4_profile_authentication_type_values() {
        assert_eq!(
            ProfileAuth::parse("Basic Http Authentication "),
            ProfileAuth::Basic
        );
        assert_eq!(ProfileAuth::parse("disabled"), ProfileAuth::Disabled);
        assert_eq!(ProfileAuth::parse(" XSI Authentication"), ProfileAuth::Xsi);
        assert_eq!(ProfileAuth::parse(""), ProfileAuth::Basic);
    }

    #[test]
    fn r_http_3_user_agent_shape() {
        assert_eq!(
            default_user_agent("CP-8841-3PCC", "11.0", "00562b043615"),
            "Cisco-CP-8841-3PCC/11.0 (00562b043615)"
        );
    }
}
