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
    // An empty value is "unset" for parameters whose factory value is
    // empty (`<INFOREQ_Dynamic_Payload/>`); typed ones with a default need one.
    if v.is_empty() && spec.default.is_empty() {
        return Ok(());
    }
    if v.is_empty() && spec.kind.is_parsed() {
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
        ParamType::Ipv4 => {
            if v.is_empty() || v.parse::<std::net::Ipv4Addr>().is_ok() {
                Ok(())
            } else {
                Err(bad(
                    "invalid-ip",
                    format!("`{v}` is not an IPv4 address"),
                    "write four numbers 0-255, e.g. `192.168.1.10`",
                ))
            }
        }
        ParamType::Decimal {
            min_milli,
            max_milli,
        } => check_decimal(v, min_milli, max_milli),
        ParamType::Hex { max } => check_hex(v, max),
        ParamType::Tone => check_tone(v),
        ParamType::Cadence => check_cadence(v),
        ParamType::DialPlan => check_dial_plan(v),
        ParamType::KeyList => check_key_list(v),
        ParamType::KeyValues => check_key_values(v),
        ParamType::DstRule => check_dst(v),
        ParamType::TimeZone => check_time_zone(v),
        ParamType::Date => check_date(v),
        ParamType::Clock => check_clock(v),
        ParamType::Codec => {
            if CODECS.contains(&v) {
                Ok(())
            } else {
                Err(bad(
                    "invalid-enum",
                    format!("`{v}` is not a codec of {name}"),
                    format!("accepted values: {}", CODECS.join(", ")),
                ))
            }
        }
    }
}

/// Codec names of the preferred-codec lists.
const CODECS: &[&str] = &[
    "G711u",
    "G711a",
    "G729a",
    "G722",
    "G722.2",
    "iLBC",
    "iSAC",
    "OPUS",
    "Unspecified",
];

fn is_decimal(t: &str) -> bool {
    let t = t.strip_prefix('-').unwrap_or(t);
    let (a, b) = t.split_once('.').unwrap_or((t, ""));
    (!a.is_empty() || !b.is_empty())
        && a.bytes().all(|c| c.is_ascii_digit())
        && b.bytes().all(|c| c.is_ascii_digit())
}

fn check_decimal(v: &str, min: i64, max: i64) -> Result<(), Invalid> {
    let range = format!("{}-{}", min as f64 / 1000.0, max as f64 / 1000.0);
    let n = is_decimal(v)
        .then(|| v.parse::<f64>().ok())
        .flatten()
        .ok_or_else(|| {
            bad(
                "invalid-number",
                format!("`{v}` is not a number"),
                format!("write a decimal number in {range}, e.g. `.5`"),
            )
        })?;
    let m = (n * 1000.0).round() as i64;
    if (min..=max).contains(&m) {
        Ok(())
    } else {
        Err(bad(
            "int-range",
            format!("{v} is outside {range}"),
            format!("use a value in {range}"),
        ))
    }
}

fn check_hex(v: &str, max: u32) -> Result<(), Invalid> {
    let digits = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X"));
    match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
        Some(n) if n <= max => Ok(()),
        Some(_) => Err(bad(
            "int-range",
            format!("{v} is above {max:#x}"),
            format!("use 0x00-{max:#04x}"),
        )),
        None => Err(bad(
            "invalid-hex",
            format!("`{v}` is not a hexadecimal value"),
            "write 0x followed by hex digits, e.g. `0x68`",
        )),
    }
}

const TONE_HINT: &str =
    "a tone script is `FREQ@LEVEL[,FREQ@LEVEL];DURATION(ON/OFF/FREQS[,…])[;…]`, \
                         e.g. `350@-19,440@-19;10(*/0/1+2)`";

/// `DURATION(ON/OFF[/FREQS],…)` with `*` for "forever".
fn check_segments(
    part: &str,
    with_freqs: bool,
    hint: &str,
    code: &'static str,
) -> Result<(), Invalid> {
    let err = |why: String| Err(bad(code, why, hint));
    let Some((dur, rest)) = part.split_once('(') else {
        return err(format!("`{part}` has no `(`"));
    };
    let Some(body) = rest.strip_suffix(')') else {
        return err(format!("`{part}` does not end in `)`"));
    };
    if !(dur == "*" || is_decimal(dur)) {
        return err(format!("`{dur}` is not a duration"));
    }
    for seg in body.split(',') {
        let f: Vec<&str> = seg.split('/').collect();
        let ok = match (with_freqs, f.as_slice()) {
            (true, [on, off, freqs]) => {
                (*on == "*" || is_decimal(on))
                    && (*off == "*" || is_decimal(off))
                    && freqs
                        .split('+')
                        .all(|x| x.parse::<u8>().is_ok_and(|n| n <= 6))
            }
            (false, [on, off]) => is_decimal(on) && is_decimal(off),
            _ => false,
        };
        if !ok {
            return err(format!("`{seg}` is not an on/off segment"));
        }
    }
    Ok(())
}

fn check_tone(v: &str) -> Result<(), Invalid> {
    let mut parts = v.split(';');
    let freqs = parts.next().unwrap_or_default();
    for f in freqs.split(',') {
        let ok = f
            .split_once('@')
            .is_some_and(|(hz, lvl)| hz.parse::<u16>().is_ok() && is_decimal(lvl));
        if !ok {
            return Err(bad(
                "invalid-tone",
                format!("`{f}` is not FREQ@LEVEL"),
                TONE_HINT,
            ));
        }
    }
    let mut any = false;
    for p in parts.filter(|p| !p.is_empty()) {
        check_segments(p, true, TONE_HINT, "invalid-tone")?;
        any = true;
    }
    if any {
        Ok(())
    } else {
        Err(bad(
            "invalid-tone",
            "the tone has no cadence part",
            TONE_HINT,
        ))
    }
}

fn check_cadence(v: &str) -> Result<(), Invalid> {
    const HINT: &str = "a cadence is `DURATION(ON/OFF[,ON/OFF…])`, e.g. `60(.3/.2,1/.2,.3/4)`";
    for p in v.split(';').filter(|p| !p.is_empty()) {
        check_segments(p, false, HINT, "invalid-cadence")?;
    }
    Ok(())
}

fn check_dial_plan(v: &str) -> Result<(), Invalid> {
    const HINT: &str = "a dial plan is `(pattern|pattern|…)` of digits, x, ., [ranges], \
                        <translations> and S/L timers, e.g. `(*xx|[2-9]xxxxxx|1xxx[2-9]xxxxxxS0)`";
    let mut stack = Vec::new();
    for (i, c) in v.char_indices() {
        match c {
            '(' | '[' | '<' => stack.push(c),
            ')' | ']' | '>' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '<',
                };
                if stack.pop() != Some(want) {
                    return Err(bad(
                        "invalid-dial-plan",
                        format!("`{c}` at offset {i} closes nothing"),
                        HINT,
                    ));
                }
            }
            _ => {}
        }
    }
    match stack.last() {
        None => Ok(()),
        Some(c) => Err(bad(
            "invalid-dial-plan",
            format!("`{c}` is never closed"),
            HINT,
        )),
    }
}

fn check_key_list(v: &str) -> Result<(), Invalid> {
    for item in v.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, pos) = item.split_once('|').unwrap_or((item, "1"));
        let key_ok = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !key_ok || pos.parse::<u8>().is_err() {
            return Err(bad(
                "invalid-key-list",
                format!("`{item}` is not a softkey entry"),
                "write `name[|position];…`, e.g. `bxfer|1;xfer|2;endcall|3;`",
            ));
        }
    }
    Ok(())
}

fn check_key_values(v: &str) -> Result<(), Invalid> {
    for item in v.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let ok = item.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        if !ok {
            return Err(bad(
                "invalid-key-values",
                format!("`{item}` is not key=value"),
                "write `key=value;key=value`, e.g. `fnc=blf+sd+cp;sub=1001@example.com`",
            ));
        }
    }
    Ok(())
}

fn check_dst(v: &str) -> Result<(), Invalid> {
    const HINT: &str = "write `start=M/D/W/H[:m[:s]];end=M/D/W/H[:m[:s]];save=H[:m[:s]]`, \
                        e.g. `start=3/-1/7/2;end=10/-1/7/2;save=1`";
    let mut keys = Vec::new();
    for item in v.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((k, val)) = item.split_once('=') else {
            return Err(bad(
                "invalid-dst-rule",
                format!("`{item}` is not key=value"),
                HINT,
            ));
        };
        let num = |s: &str| {
            let s = s.strip_prefix(['-', '+']).unwrap_or(s);
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
        };
        let ok = match k {
            "start" | "end" => {
                let f: Vec<&str> = val.split('/').collect();
                f.len() == 4
                    && f[..3].iter().all(|x| num(x))
                    && f[3].split(':').count() <= 3
                    && f[3].split(':').all(num)
            }
            "save" => val.split(':').count() <= 3 && val.split(':').all(num),
            _ => false,
        };
        if !ok {
            return Err(bad(
                "invalid-dst-rule",
                format!("`{item}` is not a valid {k} entry"),
                HINT,
            ));
        }
        keys.push(k);
    }
    if v.is_empty() || (keys.contains(&"start") && keys.contains(&"end")) {
        Ok(())
    } else {
        Err(bad(
            "invalid-dst-rule",
            "the rule needs both start= and end=",
            HINT,
        ))
    }
}

fn check_time_zone(v: &str) -> Result<(), Invalid> {
    let ok = v == "GMT"
        || v.strip_prefix("GMT")
            .and_then(|r| r.strip_prefix(['+', '-']))
            .and_then(|r| r.split_once(':'))
            .is_some_and(|(h, m)| {
                h.len() == 2
                    && m.len() == 2
                    && h.parse::<u8>().is_ok_and(|h| h <= 14)
                    && m.parse::<u8>().is_ok_and(|m| m < 60)
            });
    if ok {
        Ok(())
    } else {
        Err(bad(
            "invalid-time-zone",
            format!("`{v}` is not a time zone"),
            "write GMT, GMT+hh:mm or GMT-hh:mm, e.g. `GMT-06:00`",
        ))
    }
}

fn check_date(v: &str) -> Result<(), Invalid> {
    let f: Vec<&str> = v.split('/').collect();
    let ok = f.len() == 3
        && f[0].parse::<u8>().is_ok_and(|m| (1..=12).contains(&m))
        && f[1].parse::<u8>().is_ok_and(|d| (1..=31).contains(&d))
        && f[2].len() == 4
        && f[2].parse::<u16>().is_ok();
    if ok {
        Ok(())
    } else {
        Err(bad(
            "invalid-date",
            format!("`{v}` is not a date"),
            "write mm/dd/yyyy, e.g. `12/31/2026`",
        ))
    }
}

fn check_clock(v: &str) -> Result<(), Invalid> {
    let t = v.strip_prefix(['+', '-']).unwrap_or(v);
    let ok = t.split_once(['/', ':']).is_some_and(|(h, m)| {
        h.parse::<u8>().is_ok_and(|h| h < 24) && m.parse::<u8>().is_ok_and(|m| m < 60)
    });
    if ok {
        Ok(())
    } else {
        Err(bad(
            "invalid-time",
            format!("`{v}` is not a time"),
            "write HH/mm (24-hour), e.g. `14/30`",
        ))
    }
}
