//! The DNS SRV step of the automatic discovery chain (R-FLOW-4: DHCP, then
//! DNS SRV, then the activation service, then GDS).
//!
//! When the DHCP lease names no provisioning server (no option of
//! `DHCP_Option_To_Use` / `DHCPv6_Option_To_Use` gives one) and nobody set
//! a `Profile_Rule`, the phone asks the DNS servers of option 6 for
//! `_ciscoprov-https._tls.<domain of option 15>` (R-SRV-2). When the answer
//! holds at least one target with an address, the phone's rule becomes
//! `[--srv] https://<domain><path of the factory rule>` (default
//! `/$PN.cfg`, R-RULE-4): every resync then resolves the SRV records again,
//! tries the targets in RFC 2782 order, and validates certificates against
//! the DHCP domain, not the target (R-SRV-4), which is what the `--srv`
//! rule already does in [`crate::exec`]. The activation service is then not
//! asked (the phone has a server, R-ACT-1).
//!
//! An answer that points nowhere (no records, the RFC 2782 "no service"
//! record `.`, or targets without an address), or no answer at all, leaves
//! the rule as it was and the chain goes on to the activation service; the
//! reason is one status line (the `dhcp.srv` object of `/status.json` and a
//! log line).
//!
//! **Decision**: the SRV step runs once per fleet at power-on (all phones
//! share one lease, so they would all get the same answer), not per phone.

use phoneprov_rule::Scheme;
use phoneprov_transport::{resolve_srv, Resolver};
use rand::SeedableRng;

/// What the SRV step found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvStep {
    /// The name asked (`_ciscoprov-https._tls.<domain>`).
    pub query: String,
    /// `Ok(rule)`: the phone's new `Profile_Rule`; `Err(line)`: why the
    /// step gave nothing (the phone keeps its settings).
    pub outcome: Result<String, String>,
}

impl SrvStep {
    /// The `srv` object of the status page.
    pub fn status(&self) -> serde_json::Value {
        match &self.outcome {
            Ok(rule) => serde_json::json!({"query": self.query, "rule": rule}),
            Err(e) => serde_json::json!({"query": self.query, "error": e}),
        }
    }
}

/// Runs the SRV step for `domain` (option 15) with `resolver` (the DNS of
/// option 6); `factory_rule` is the rule the phone would otherwise use
/// (its path is kept).
pub async fn srv_step(resolver: &Resolver, domain: &str, factory_rule: &str) -> SrvStep {
    let domain = domain.trim().trim_end_matches('.');
    let query = phoneprov_transport::srv_name(Scheme::Https, domain).unwrap_or_default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let outcome = match resolve_srv(resolver, Scheme::Https, domain, &mut rng).await {
        Err(e) => Err(format!(
            "DNS SRV discovery: {e}; the phone keeps its settings and tries the activation service"
        )),
        Ok(res) => {
            let mut reasons = Vec::new();
            let mut reachable = false;
            for t in &res.targets {
                match resolver.lookup_host(&t.target, t.port).await {
                    Ok(_) => {
                        reachable = true;
                        break;
                    }
                    Err(e) => reasons.push(e.to_string()),
                }
            }
            if reachable {
                Ok(format!(
                    "[--srv] https://{domain}{}",
                    rule_path(factory_rule)
                ))
            } else {
                Err(format!(
                    "DNS SRV discovery: {query} points nowhere ({}); the phone keeps its settings and tries the activation service",
                    reasons.join("; ")
                ))
            }
        }
    };
    SrvStep { query, outcome }
}

/// The path of a rule (`/$PN.cfg`, `tftp://h/x.cfg` → `/x.cfg`), `/$PN.cfg`
/// when it has none.
fn rule_path(rule: &str) -> String {
    let rule = rule.trim();
    let after_scheme = match rule.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or(""),
        None => rule.find('/').map(|i| &rule[i..]).unwrap_or(""),
    };
    if after_scheme.len() > 1 {
        after_scheme.to_string()
    } else {
        "/$PN.cfg".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_rule_4_path_of_the_factory_rule() {
        assert_eq!(rule_path("/$PN.cfg"), "/$PN.cfg");
        assert_eq!(rule_path("tftp://h/x/y.cfg"), "/x/y.cfg");
        assert_eq!(rule_path("http://h"), "/$PN.cfg");
        assert_eq!(rule_path(""), "/$PN.cfg");
    }
}
