//! DNS SRV discovery of the provisioning server (SPEC §7, R-SRV-1..5):
//! `[--srv] https://example.com/...` queries `_ciscoprov-https._tls.example.com`,
//! orders the records per RFC 2782 and yields the targets to try in turn;
//! TLS then validates against the *original* domain, not the target
//! (R-SRV-4), which is why [`SrvResolution::tls_server_name`] is separate.

use rand::Rng;

use phoneprov_rule::Scheme;

use crate::{Resolver, TransportError};

/// One SRV record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative chance among equal priorities.
    pub weight: u16,
    /// Port to connect to.
    pub port: u16,
    /// Host to connect to (no trailing dot).
    pub target: String,
}

/// The SRV query name for `scheme` and `domain` (R-SRV-1, R-SRV-2).
pub fn srv_name(scheme: Scheme, domain: &str) -> Result<String, TransportError> {
    let domain = domain.trim_end_matches('.');
    match scheme {
        Scheme::Https => Ok(format!("_ciscoprov-https._tls.{domain}")),
        Scheme::Http => Ok(format!("_ciscoprov-http._tcp.{domain}")),
        Scheme::Tftp => Err(TransportError::BadUrl(
            "TFTP scheme is not supported in SRV lookups".to_string(),
        )),
        Scheme::Gds => Err(TransportError::BadUrl(
            "gds scheme is not supported in SRV lookups; use http or https".to_string(),
        )),
    }
}

/// RFC 2782 order: ascending priority; within one priority, repeatedly pick
/// a record at random with probability proportional to its weight (weight-0
/// records are placed first and so have a small chance, and are ordered
/// uniformly among themselves when all weights are 0). **Decision**
/// (R-SRV-3): the seed's "lower weight first" is not followed.
pub fn order_srv(records: &[SrvRecord], rng: &mut impl Rng) -> Vec<SrvRecord> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(sorted.len());
    for group in sorted.chunk_by(|a, b| a.priority == b.priority) {
        let mut rest = group.to_vec();
        // "Any order, except that all those with weight 0 are placed at the
        // beginning": shuffle, then move the zero weights to the front.
        for i in (1..rest.len()).rev() {
            rest.swap(i, rng.gen_range(0..=i));
        }
        rest.sort_by_key(|r| r.weight != 0);
        while !rest.is_empty() {
            let total: u32 = rest.iter().map(|r| u32::from(r.weight)).sum();
            let pick = rng.gen_range(0..=total);
            let mut running = 0u32;
            let idx = rest
                .iter()
                .position(|r| {
                    running += u32::from(r.weight);
                    running >= pick
                })
                .unwrap_or(0);
            out.push(rest.remove(idx));
        }
    }
    out
}

/// Result of an SRV discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvResolution {
    /// The name queried.
    pub query: String,
    /// The original domain: what HTTPS certificates are validated against
    /// (R-SRV-4). Pass it to [`crate::HttpClient::send_with_server_name`].
    pub tls_server_name: String,
    /// Records in the order to try them.
    pub targets: Vec<SrvRecord>,
}

impl SrvResolution {
    /// `scheme://target:port<path>` for each target, in order (R-SRV-2).
    pub fn urls(&self, scheme: Scheme, path: &str) -> Vec<String> {
        self.targets
            .iter()
            .map(|t| format!("{scheme}://{}:{}{path}", t.target, t.port))
            .collect()
    }
}

/// Queries the SRV records for `scheme`/`domain` and orders them.
/// No records is a [`TransportError::Dns`] error.
pub async fn resolve_srv(
    resolver: &Resolver,
    scheme: Scheme,
    domain: &str,
    rng: &mut impl Rng,
) -> Result<SrvResolution, TransportError> {
    let query = srv_name(scheme, domain)?;
    let records = resolver.lookup_srv(&query).await?;
    if records.is_empty() {
        return Err(TransportError::Dns(format!(
            "{query} has no SRV records offering the service"
        )));
    }
    Ok(SrvResolution {
        tls_server_name: domain.trim_end_matches('.').to_string(),
        targets: order_srv(&records, rng),
        query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_srv_1_2_names() {
        assert_eq!(
            srv_name(Scheme::Https, "example.com").unwrap(),
            "_ciscoprov-https._tls.example.com"
        );
        assert_eq!(
            srv_name(Scheme::Http, "example.com.").unwrap(),
            "_ciscoprov-http._tcp.example.com"
        );
        let err = srv_name(Scheme::Tftp, "example.com").unwrap_err();
        assert!(
            err.to_string()
                .contains("TFTP scheme is not supported in SRV lookups"),
            "{err}"
        );
    }

    #[test]
    fn r_srv_2_urls_from_targets() {
        let r = SrvResolution {
            query: "q".into(),
            tls_server_name: "example.com".into(),
            targets: vec![SrvRecord {
                priority: 10,
                weight: 60,
                port: 5060,
                target: "pr1.example.com".into(),
            }],
        };
        assert_eq!(
            r.urls(Scheme::Https, "/cfg.xml"),
            vec!["https://pr1.example.com:5060/cfg.xml"]
        );
    }
}
