//! Name resolution: the system resolver (tokio's `lookup_host`, which honours
//! `/etc/hosts` and nsswitch) or one configured DNS server `ADDR:PORT`
//! through hickory (used against dnsmasq in tests, and by simulated phones
//! that get `Primary_DNS` from their profile). SRV queries always go through
//! hickory (system configuration from `/etc/resolv.conf` by default).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use crate::srv::SrvRecord;
use crate::TransportError;

/// Which DNS the client asks. Cheap to clone.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    server: Option<SocketAddr>,
    hickory: OnceLock<Result<TokioResolver, String>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.inner.server {
            None => f.write_str("Resolver(system)"),
            Some(s) => write!(f, "Resolver({s})"),
        }
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::system()
    }
}

impl Resolver {
    /// The system resolver.
    pub fn system() -> Resolver {
        Resolver {
            inner: Arc::new(Inner {
                server: None,
                hickory: OnceLock::new(),
            }),
        }
    }

    /// Ask only the DNS server at `server` (UDP, TCP fallback), nothing else
    /// (no `/etc/hosts`).
    pub fn with_server(server: SocketAddr) -> Resolver {
        Resolver {
            inner: Arc::new(Inner {
                server: Some(server),
                hickory: OnceLock::new(),
            }),
        }
    }

    /// Parses a DNS server as an operator writes it (`Primary_DNS`,
    /// `--dns`): `ADDR` (port 53), `ADDR:PORT`, `[V6]:PORT` or a bare IPv6
    /// address.
    pub fn from_server_str(s: &str) -> Result<Resolver, TransportError> {
        let s = s.trim();
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Resolver::with_server(addr));
        }
        if let Ok(ip) = s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(Resolver::with_server(SocketAddr::new(ip, 53)));
        }
        Err(TransportError::BadUrl(format!(
            "DNS server {s:?} is not ADDR or ADDR:PORT (an IP address, not a name)"
        )))
    }

    /// The configured server, if any.
    pub fn server(&self) -> Option<SocketAddr> {
        self.inner.server
    }

    fn hickory(&self) -> Result<&TokioResolver, TransportError> {
        let built = self.inner.hickory.get_or_init(|| {
            let mut opts = ResolverOpts::default();
            opts.timeout = Duration::from_secs(3);
            opts.attempts = 2;
            let builder = match self.inner.server {
                Some(addr) => {
                    let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                    for c in &mut ns.connections {
                        c.port = addr.port();
                    }
                    TokioResolver::builder_with_config(
                        ResolverConfig::from_name_servers(vec![ns]),
                        TokioRuntimeProvider::default(),
                    )
                }
                None => TokioResolver::builder_tokio().map_err(|e| {
                    format!("cannot read the system DNS configuration (/etc/resolv.conf): {e}")
                })?,
            };
            builder
                .with_options(opts)
                .build()
                .map_err(|e| format!("cannot set up the DNS resolver: {e}"))
        });
        built.as_ref().map_err(|e| TransportError::Dns(e.clone()))
    }

    /// Every address of `host` (an IP literal is returned as is), in the
    /// order DNS gave them, each with `port` (R-HTTPS-6: callers try them in
    /// turn).
    pub async fn lookup_host(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, TransportError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let addrs: Vec<SocketAddr> = if self.inner.server.is_none() {
            tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| TransportError::Dns(format!("{host}: {e}")))?
                .collect()
        } else {
            self.hickory()?
                .lookup_ip(host)
                .await
                .map_err(|e| TransportError::Dns(format!("{host}: {e}")))?
                .iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect()
        };
        if addrs.is_empty() {
            return Err(TransportError::Dns(format!("{host} has no address")));
        }
        let mut unique = Vec::with_capacity(addrs.len());
        for a in addrs {
            if !unique.contains(&a) {
                unique.push(a);
            }
        }
        Ok(unique)
    }

    /// The SRV records of `name` (unordered, as DNS returned them). A lone
    /// record with target `.` means "no service" (RFC 2782) and yields an
    /// empty list.
    pub async fn lookup_srv(&self, name: &str) -> Result<Vec<SrvRecord>, TransportError> {
        let lookup = self
            .hickory()?
            .srv_lookup(name)
            .await
            .map_err(|e| TransportError::Dns(format!("SRV {name}: {e}")))?;
        let records: Vec<SrvRecord> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some(SrvRecord {
                    priority: srv.priority,
                    weight: srv.weight,
                    port: srv.port,
                    target: srv.target.to_utf8().trim_end_matches('.').to_string(),
                }),
                _ => None,
            })
            .collect();
        if records.len() == 1 && records[0].target.is_empty() {
            return Ok(Vec::new());
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_strings() {
        let r = |s| Resolver::from_server_str(s).map(|r| r.server());
        assert_eq!(
            r("127.0.0.1:5353").unwrap(),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(r("10.0.0.1").unwrap(), Some("10.0.0.1:53".parse().unwrap()));
        assert_eq!(r("[::1]:54").unwrap(), Some("[::1]:54".parse().unwrap()));
        assert_eq!(r("::1").unwrap(), Some("[::1]:53".parse().unwrap()));
        assert!(r("dns.example.com").is_err());
        assert_eq!(Resolver::system().server(), None);
    }

    #[tokio::test]
    async fn ip_literals_skip_dns() {
        let r = Resolver::with_server("127.0.0.1:9".parse().unwrap());
        assert_eq!(
            r.lookup_host("[::1]", 80).await.unwrap(),
            vec!["[::1]:80".parse().unwrap()]
        );
        assert_eq!(
            r.lookup_host("192.0.2.1", 8).await.unwrap(),
            vec!["192.0.2.1:8".parse().unwrap()]
        );
    }
}
