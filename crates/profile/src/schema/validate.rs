//! Value grammars of the schema types, and typed parsers the phone engine
//! uses (`parse_bool`, `parse_periodic`, `parse_retry_schedule`,
//! `parse_firewall_config`). Hand-written: each grammar is a few lines and
//! specific to the phone firmware (no crate implements them).

use super::{ParamSpec, ParamType, ScheduleKind};
use crate::Severity;

/// Why a value does not fit its parameter: a stable code, the reason, and
/// what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    /// Stable code (`invalid-bool`, `localized-bool`, `int-range`, …).
    pub code: &'static str,
    pub reason: String,
    pub hint: Option<String>,
}

fn bad(code: &'static str, reason: impl Into<String>, hint: impl Into<String>) -> Invalid {
    Invalid {
        code,
        reason: reason.into(),
        hint: Some(hint.into()),
    }
}

/// Booleans as phones read them: `Yes`/`No`, `true`/`false`, `1`/`0`, any case.
pub fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim();
    for (t, f) in [("yes", "no"), ("true", "false"), ("1", "0")] {
        if v.eq_ignore_ascii_case(t) {
            return Some(true);
        }
        if v.eq_ignore_ascii_case(f) {
            return Some(false);
        }
    }
    None
}

/// Words of the translated web UI that people paste into profiles (the
/// Korean, Japanese and French guides print `예`, `はい`, `Oui`…). Phones do
/// not accept them. Returns the meaning, so a lint can say what to write.
pub fn localized_bool(value: &str) -> Option<bool> {
    const YES: &[&str] = &[
        "예", "네", "はい", "oui", "ja", "sí", "si", "是", "да", "sim",
    ];
    const NO: &[&str] = &[
        "아니요",
        "아니오",
        "いいえ",
        "non",
        "nein",
        "否",
        "нет",
        "não",
        "nao",
    ];
    let v = value.trim().to_lowercase();
    if YES.contains(&v.as_str()) {
        Some(true)
    } else if NO.contains(&v.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// A `Resync_Periodic` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Periodic {
    /// Every N seconds (0: never).
    Every(u32),
    /// Successive intervals; the last one repeats.
    Sequence(Vec<u32>),
    /// N seconds plus a random 0..=R.
    Random { base: u32, spread: u32 },
}

fn seconds(s: &str) -> Result<u32, Invalid> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "invalid-schedule",
            format!("`{t}` is not a number of seconds"),
            "write whole seconds, e.g. `3600`",
        ));
    }
    t.parse::<u32>().map_err(|_| {
        bad(
            "invalid-schedule",
            format!("`{t}` seconds is too large"),
            "use at most 4294967295",
        )
    })
}

/// Parses `N`, `a,b,c` or `N+R` (R-RESULT, R-FLOW-5).
pub fn parse_periodic(value: &str) -> Result<Periodic, Invalid> {
    let v = value.trim();
    if let Some((n, r)) = v.split_once('+') {
        return Ok(Periodic::Random {
            base: seconds(n)?,
            spread: seconds(r)?,
        });
    }
    if v.contains(',') {
        return Ok(Periodic::Sequence(parse_list(v)?));
    }
    Ok(Periodic::Every(seconds(v)?))
}

fn parse_list(v: &str) -> Result<Vec<u32>, Invalid> {
    v.split(',').map(seconds).collect()
}

/// Parses a retry delay: `N` or a backoff list `60,120,240,…,86400`; the
/// last entry repeats. `0` alone means no retry.
pub fn parse_retry_schedule(value: &str) -> Result<Vec<u32>, Invalid> {
    parse_list(value.trim())
}

/// One `Firewall_Config` port entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirewallRule {
    pub tcp: bool,
    pub first: u16,
    pub last: u16,
}

/// A parsed `Firewall_Config` (R-SEC-5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirewallConfig {
    pub no_icmp_ping: bool,
    pub no_icmp_unreachable: bool,
    pub no_cisco_tftp: bool,
    pub ports: Vec<FirewallRule>,
}

const FIREWALL_HINT: &str = "comma-separated NO_ICMP_PING, NO_ICMP_UNREACHABLE, NO_CISCO_TFTP, \
                             UDP:p, UDP:p:q, TCP:p, TCP:p:q (at most 5 UDP and 5 TCP entries), \
                             e.g. `NO_ICMP_PING,TCP:12000,UDP:8000:8010`";

/// Parses `Firewall_Config`: comma-separated keywords (R-SEC-5).
pub fn parse_firewall_config(value: &str) -> Result<FirewallConfig, Invalid> {
    let mut cfg = FirewallConfig::default();
    let v = value.trim();
    if v.is_empty() {
        return Ok(cfg);
    }
    let port = |s: &str, item: &str| -> Result<u16, Invalid> {
        s.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            bad(
                "invalid-firewall-config",
                format!("`{s}` in `{item}` is not a port number (1-65535)"),
                FIREWALL_HINT,
            )
        })
    };
    for raw in v.split(',') {
        let item = raw.trim();
        match item {
            "NO_ICMP_PING" => cfg.no_icmp_ping = true,
            "NO_ICMP_UNREACHABLE" => cfg.no_icmp_unreachable = true,
            "NO_CISCO_TFTP" => cfg.no_cisco_tftp = true,
            _ => {
                let mut parts = item.split(':');
                let proto = parts.next().unwrap_or_default();
                let tcp = match proto {
                    "TCP" => true,
                    "UDP" => false,
                    _ => {
                        let hint = if item.is_empty() {
                            "remove the empty entry (two commas in a row or a trailing comma)"
                                .to_string()
                        } else {
                            FIREWALL_HINT.to_string()
                        };
                        return Err(bad(
                            "invalid-firewall-config",
                            format!("unknown Firewall_Config entry `{item}`"),
                            hint,
                        ));
                    }
                };
                let rest: Vec<&str> = parts.collect();
                let (first, last) = match rest.as_slice() {
                    [p] => {
                        let p = port(p, item)?;
                        (p, p)
                    }
                    [p, q] => (port(p, item)?, port(q, item)?),
                    _ => {
                        return Err(bad(
                            "invalid-firewall-config",
                            format!("`{item}` must be `{proto}:port` or `{proto}:first:last`"),
                            FIREWALL_HINT,
                        ))
                    }
                };
                if first > last {
                    return Err(bad(
                        "invalid-firewall-config",
                        format!("port range `{item}` runs backwards"),
                        format!("write `{proto}:{last}:{first}`"),
                    ));
                }
                cfg.ports.push(FirewallRule { tcp, first, last });
                let count = cfg.ports.iter().filter(|r| r.tcp == tcp).count();
                if count > 5 {
                    return Err(bad(
                        "invalid-firewall-config",
                        format!("more than 5 {proto} entries"),
                        format!("merge {proto} ports into ranges (`{proto}:first:last`); at most 5 {proto} entries are allowed"),
                    ));
                }
            }
        }
    }
    Ok(cfg)
}

fn check_cipher_list(v: &str) -> Result<(), Invalid> {
    const HINT: &str = "OpenSSL cipher-string syntax: names separated by `:`, each optionally \
                        prefixed by `!`, `-` or `+`, combined with `+`, plus `@STRENGTH` or \
                        `@SECLEVEL=n`; e.g. `RSA:!aNULL:!eNULL`";
    if v.is_empty() {
        return Ok(());
    }
    let word = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.=".contains(&b))
    };
    for item in v.split([':', ',', ' ']) {
        if item.is_empty() {
            return Err(bad(
                "invalid-cipher-list",
                "empty entry in the cipher list",
                HINT,
            ));
        }
        if item == "@STRENGTH" {
            continue;
        }
        if let Some(level) = item.strip_prefix("@SECLEVEL=") {
            if level.len() == 1 && (b'0'..=b'5').contains(&level.as_bytes()[0]) {
                continue;
            }
            return Err(bad(
                "invalid-cipher-list",
                format!("bad security level `{item}`"),
                HINT,
            ));
        }
        let body = item.strip_prefix(['!', '-', '+']).unwrap_or(item);
        if !body.split('+').all(word) {
            return Err(bad(
                "invalid-cipher-list",
                format!("`{item}` is not a cipher name"),
                HINT,
            ));
        }
    }
    Ok(())
}

fn is_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn check_host(v: &str, allow_port: bool) -> Result<(), Invalid> {
    if v.is_empty() {
        return Ok(());
    }
    if v.contains("://") {
        return Err(bad(
            "invalid-host",
            format!("`{v}` is a URL, but a host name or IP address is expected"),
            "drop the scheme, e.g. `proxy.example.com`",
        ));
    }
    let (host, port) = split_host_port(v);
    let host_ok = host.parse::<std::net::IpAddr>().is_ok() || is_hostname(host);
    if !host_ok {
        return Err(bad(
            "invalid-host",
            format!("`{host}` is not a host name or IP address"),
            "write a name such as `pv.example.com` or an address such as `192.0.2.10`",
        ));
    }
    if let Some(p) = port {
        if !allow_port {
            return Err(bad(
                "invalid-host",
                format!("`{v}` has a port, but this parameter takes a host only"),
                "set the port in its own parameter",
            ));
        }
        check_port(p)?;
    }
    Ok(())
}

fn split_host_port(v: &str) -> (&str, Option<&str>) {
    if let Some(rest) = v.strip_prefix('[') {
        if let Some((h, tail)) = rest.split_once(']') {
            return (h, tail.strip_prefix(':'));
        }
    }
    match v.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (v, None),
    }
}

fn check_port(p: &str) -> Result<(), Invalid> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(()),
        _ => Err(bad(
            "invalid-port",
            format!("`{p}` is not a port number"),
            "use 1-65535",
        )),
    }
}

fn check_url(v: &str, schemes: &[&str]) -> Result<(), Invalid> {
    if v.is_empty() {
        return Ok(());
    }
    let list = schemes.join("://, ") + "://";
    let Some((scheme, rest)) = v.split_once("://") else {
        return Err(bad(
            "invalid-url",
            format!("`{v}` has no scheme"),
            format!("start the URL with one of {list}"),
        ));
    };
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(bad(
            "invalid-url",
            format!("scheme `{scheme}` is not supported here"),
            format!("use one of {list}"),
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = split_host_port(authority);
    if host.is_empty() || !(host.parse::<std::net::IpAddr>().is_ok() || is_hostname(host)) {
        return Err(bad(
            "invalid-url",
            format!("`{authority}` in `{v}` is not a host name or address"),
            format!("write {scheme}://host[:port]/path"),
        ));
    }
    if let Some(p) = port {
        check_port(p)?;
    }
    Ok(())
}

fn check_dhcp(v: &str, v6: bool) -> Result<(), Invalid> {
    let max: u32 = if v6 { 65_535 } else { 254 };
    let hint = if v6 {
        "comma-separated DHCPv6 option codes, e.g. `17,160,159`"
    } else {
        "comma-separated DHCP option codes (1-254), e.g. `66,160,159,150,60,43,125`"
    };
    if v.is_empty() {
        return Ok(());
    }
    let mut seen = Vec::new();
    for item in v.split(',') {
        let t = item.trim();
        let n = t
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                bad(
                    "invalid-dhcp-options",
                    format!("`{t}` is not a DHCP option code"),
                    hint,
                )
            })?;
        if seen.contains(&n) {
            return Err(bad(
                "invalid-dhcp-options",
                format!("option {n} is listed twice"),
                "list each option once, in the order to try them",
            ));
        }
        seen.push(n);
    }
    Ok(())
}

fn check_domains(v: &str) -> Result<(), Invalid> {
    if v.is_empty() {
        return Ok(());
    }
    for d in v.split(',').map(str::trim) {
        if !is_hostname(d) {
            return Err(bad(
                "invalid-domain-list",
                format!("`{d}` is not a domain name"),
                "comma-separated domain names, e.g. `voiceip.com, voiceipl.com`",
            ));
        }
    }
    Ok(())
}

fn check_time_of_day(v: &str) -> Result<(), Invalid> {
    let ok = v.is_empty()
        || (v.len() == 4
            && v.bytes().all(|b| b.is_ascii_digit())
            && v[..2].parse::<u8>().is_ok_and(|h| h < 24)
            && v[2..].parse::<u8>().is_ok_and(|m| m < 60));
    if ok {
        Ok(())
    } else {
        Err(bad(
            "invalid-schedule",
            format!("`{v}` is not a time of day"),
            "write HHmm on a 24-hour clock, e.g. `0230`; leave empty to disable",
        ))
    }
}

pub(super) fn validate(spec: &ParamSpec, v: &str) -> Result<(), Invalid> {
    let name = spec.name;
    if v.is_empty()
        && matches!(
            spec.kind,
            ParamType::Bool | ParamType::Int { .. } | ParamType::Enum(_)
        )
    {
        return Err(bad(
            "empty-value",
            format!("{name} is empty"),
            format!(
                "write a value, or remove the element to keep the default `{}`",
                spec.default
            ),
        ));
    }
    match spec.kind {
        ParamType::Bool => {
            if parse_bool(v).is_some() {
                return Ok(());
            }
            if let Some(b) = localized_bool(v) {
                let want = if b { "Yes" } else { "No" };
                return Err(bad(
                    "localized-bool",
                    format!("`{v}` is a translated UI word; {name} takes Yes or No"),
                    format!(
                        "write `{want}` (profiles use the English values whatever the UI language)"
                    ),
                ));
            }
            Err(bad(
                "invalid-bool",
                format!("`{v}` is not a boolean"),
                format!("write `Yes` or `No` (default `{}`)", spec.default),
            ))
        }
        ParamType::Int { min, max } => {
            let n: i64 = v.parse().map_err(|_| {
                bad(
                    "invalid-int",
                    format!("`{v}` is not a whole number"),
                    format!(
                        "write a number from {min} to {max} (default `{}`)",
                        spec.default
                    ),
                )
            })?;
            if (min..=max).contains(&n) {
                Ok(())
            } else {
                Err(bad(
                    "int-range",
                    format!("{n} is outside {min}..={max}"),
                    format!(
                        "write a number from {min} to {max} (default `{}`)",
                        spec.default
                    ),
                ))
            }
        }
        ParamType::Enum(values) => {
            if values.contains(&v) {
                return Ok(());
            }
            let list = values
                .iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let close = values
                .iter()
                .map(|x| {
                    (
                        strsim::normalized_levenshtein(&x.to_lowercase(), &v.to_lowercase()),
                        x,
                    )
                })
                .filter(|(s, _)| *s >= 0.6)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            let hint = match close {
                Some((_, x)) => format!("did you mean `{x}`? Accepted values: {list}"),
                None => format!("accepted values: {list}"),
            };
            Err(bad(
                "invalid-enum",
                format!("`{v}` is not a value of {name}"),
                hint,
            ))
        }
        ParamType::String | ParamType::Template => Ok(()),
        ParamType::Url(schemes) => check_url(v, schemes),
        ParamType::Host { port } => check_host(v, port),
        ParamType::IpAddr => {
            if v.is_empty() || v.parse::<std::net::IpAddr>().is_ok() {
                Ok(())
            } else {
                Err(bad(
                    "invalid-ip",
                    format!("`{v}` is not an IP address"),
                    "write an IPv4 (`10.89.68.150`) or IPv6 address",
                ))
            }
        }
        ParamType::Rule => match crate::rulecheck::rule(v)
            .into_iter()
            .find(|p| p.severity == Severity::Error)
        {
            Some(p) => Err(Invalid {
                code: p.code,
                reason: p.message,
                hint: p.hint,
            }),
            None => Ok(()),
        },
        ParamType::DhcpOptions { v6 } => check_dhcp(v, v6),
        ParamType::DomainList => check_domains(v),
        ParamType::FirewallConfig => parse_firewall_config(v).map(|_| ()),
        ParamType::CipherList => check_cipher_list(v),
        ParamType::Schedule(ScheduleKind::Periodic) => parse_periodic(v).map(|_| ()),
        ParamType::Schedule(ScheduleKind::RetryBackoff) => parse_retry_schedule(v).map(|_| ()),
        ParamType::Schedule(ScheduleKind::TimeOfDay) => check_time_of_day(v),
    }
}
