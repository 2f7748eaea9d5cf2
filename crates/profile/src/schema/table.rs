//! Loads the schema table: `data/params.tsv` and `data/models.tsv`,
//! compiled in with `include_str!` and parsed once per process (a few
//! hundred rows: well under a millisecond). Both files are written by
//! `data/gen_params.py`; a test checks the script and the files agree.

use std::sync::OnceLock;

use serde::Serialize;

use super::{Index, ModelSet, ParamSpec, ParamType, Per, ScheduleKind};

/// The factory `Profile_Rule` of newer firmware (`/$PSN.xml`); the schema
/// default stays `/$PN.cfg` as SPEC R-RULE-4 decides.
pub const PROFILE_RULE_NEWER_DEFAULT: &str = "/$PSN.xml";

const PARAMS: &str = include_str!("../../data/params.tsv");
const MODELS: &str = include_str!("../../data/models.tsv");

/// Where parameters without an explicit TR-069 path live (TR-106 vendor
/// extension form; the simulator's CPE and the ACS use the same names).
pub const PROFILE_PREFIX: &str = "Device.X_CISCO_Profile.";

/// Seed and older-firmware names accepted for a parameter.
const ALIASES: &[(&str, &[&str])] = &[
    ("Log_Request_Msg", &["Log_Resync_Request_Msg"]),
    ("Log_Success_Msg", &["Log_Resync_Success_Msg"]),
    ("Log_Failure_Msg", &["Log_Resync_Failure_Msg"]),
    // The 11.x administration guides name the extension mobility session
    // timer `Session Timer(m)`.
    ("Inactivity_Timer_m_", &["Session_Timer_m_"]),
    // Other spellings the guides' cfg.xml examples use (8800 MPP AG 11.3(1)+).
    ("Report_to_Server", &["Report_To_Server"]),
    ("Periodic_Upload_To_Server", &["periodic_upload_to_server"]),
];

/// One-line descriptions of the entries SPEC.md describes.
const DOCS: &[(&str, &str)] = &[
    (
        "Profile_Rule",
        "First profile rule. Newer firmware ships `/$PSN.xml` as the factory value instead.",
    ),
    (
        "Resync_Periodic",
        "Seconds between successful resyncs (`N`, `a,b,c`, `N+R`); 0 disables.",
    ),
    (
        "Resync_Error_Retry_Delay",
        "Seconds before retrying a failed resync, or a backoff list; 0: no retry.",
    ),
    (
        "Firewall_Config",
        "Firewall options: NO_ICMP_PING, UDP:p[:q], TCP:p[:q], …",
    ),
    (
        "TLS_Cipher_List",
        "OpenSSL cipher string; blank or invalid uses the default list.",
    ),
    (
        "User_Agent",
        "User-Agent override; empty sends `Cisco-<PN>/<firmware> (<MAC>)`.",
    ),
];

/// One phone model and its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    /// Product name, e.g. `CP-8851-3PCC`.
    pub pn: &'static str,
    /// Series: `6800`, `7800` or `8800`.
    pub family: &'static str,
    /// Extensions (lines): `Line_Enable_1_` … `Line_Enable_{ext}_`.
    pub ext: u16,
    /// Line keys: `Extended_Function_1_` … `Extended_Function_{keys}_`.
    pub keys: u16,
    /// Attendant console units the model takes (0: none).
    pub units: u16,
    /// Keys per attendant console unit.
    pub unit_keys: u16,
    #[serde(skip)]
    pub(crate) bit: u32,
}

impl ModelInfo {
    /// The four model digits (`8851`).
    pub fn number(&self) -> &'static str {
        self.pn.get(3..7).unwrap_or(self.pn)
    }
}

/// Every model, in table order.
pub fn models() -> &'static [ModelInfo] {
    static M: OnceLock<Vec<ModelInfo>> = OnceLock::new();
    M.get_or_init(|| {
        MODELS
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, l)| {
                let f: Vec<&'static str> = l.split('\t').collect();
                let n = |s: &str| s.parse::<u16>().expect("models.tsv count");
                ModelInfo {
                    pn: f[0],
                    family: f[1],
                    ext: n(f[2]),
                    keys: n(f[3]),
                    units: n(f[4]),
                    unit_keys: n(f[5]),
                    bit: 1 << i,
                }
            })
            .collect()
    })
}

pub(super) fn specs() -> &'static [ParamSpec] {
    static S: OnceLock<Vec<ParamSpec>> = OnceLock::new();
    S.get_or_init(|| {
        PARAMS
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| parse_row(l).unwrap_or_else(|e| panic!("params.tsv: {e}: {l}")))
            .collect()
    })
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn leak_list(items: Vec<&'static str>) -> &'static [&'static str] {
    Box::leak(items.into_boxed_slice())
}

/// `Device.X_CISCO_Profile.<name>`, dots written as `_`.
pub(super) fn generated_path(name: &str) -> String {
    format!("{PROFILE_PREFIX}{}", name.replace('.', "_"))
}

fn model_set(field: &str) -> Result<ModelSet, String> {
    if field == "all" {
        return Ok(ModelSet(u32::MAX));
    }
    let mut bits = 0;
    for item in field.split(',') {
        let hit: Vec<_> = models()
            .iter()
            .filter(|m| m.family == item || m.number() == item)
            .collect();
        if hit.is_empty() {
            return Err(format!("unknown model or family `{item}`"));
        }
        bits |= hit.iter().fold(0, |b, m| b | m.bit);
    }
    Ok(ModelSet(bits))
}

fn parse_kind(t: &'static str) -> Result<ParamType, String> {
    let (head, arg) = t.split_once(':').unwrap_or((t, ""));
    let range = |a: &str| -> Result<(i64, i64), String> {
        let (lo, hi) = a.split_once('-').ok_or("range needs MIN-MAX")?;
        Ok((
            lo.parse().map_err(|_| format!("bad min `{lo}`"))?,
            hi.parse().map_err(|_| format!("bad max `{hi}`"))?,
        ))
    };
    let milli = |s: &str| -> Result<i64, String> {
        s.parse::<f64>()
            .map(|f| (f * 1000.0).round() as i64)
            .map_err(|_| format!("bad number `{s}`"))
    };
    Ok(match head {
        "bool" => ParamType::Bool,
        "int" => {
            let (min, max) = range(arg)?;
            ParamType::Int { min, max }
        }
        "decimal" => {
            let (lo, hi) = arg.split_once('-').ok_or("decimal needs MIN-MAX")?;
            ParamType::Decimal {
                min_milli: milli(lo)?,
                max_milli: milli(hi)?,
            }
        }
        "hex" => ParamType::Hex {
            max: arg.parse().map_err(|_| "hex needs MAX")?,
        },
        "enum" => ParamType::Enum(leak_list(arg.split('|').collect())),
        "str" => ParamType::String,
        "url" => ParamType::Url(leak_list(arg.split(',').collect())),
        "host" => ParamType::Host { port: false },
        "hostport" => ParamType::Host { port: true },
        "ip" => ParamType::IpAddr,
        "ipv4" => ParamType::Ipv4,
        "rule" => ParamType::Rule,
        "template" => ParamType::Template,
        "dhcp4" => ParamType::DhcpOptions { v6: false },
        "dhcp6" => ParamType::DhcpOptions { v6: true },
        "domains" => ParamType::DomainList,
        "firewall" => ParamType::FirewallConfig,
        "ciphers" => ParamType::CipherList,
        "periodic" => ParamType::Schedule(ScheduleKind::Periodic),
        "retry" => ParamType::Schedule(ScheduleKind::RetryBackoff),
        "hhmm" => ParamType::Schedule(ScheduleKind::TimeOfDay),
        "tone" => ParamType::Tone,
        "cadence" => ParamType::Cadence,
        "dialplan" => ParamType::DialPlan,
        "keylist" => ParamType::KeyList,
        "kv" => ParamType::KeyValues,
        "dst" => ParamType::DstRule,
        "tz" => ParamType::TimeZone,
        "date" => ParamType::Date,
        "clock" => ParamType::Clock,
        "codec" => ParamType::Codec,
        _ => return Err(format!("unknown type `{t}`")),
    })
}

/// Splits `Line_Enable_{ext}_` into prefix, index and suffix, and gives
/// the display name (`Line_Enable_n_`, `GPP_[A-P]`).
fn parse_name(
    pattern: &'static str,
) -> Result<(&'static str, &'static str, Index, &'static str), String> {
    let Some(open) = pattern.find('{') else {
        return Ok((pattern, "", Index::None, pattern));
    };
    let close = pattern.find('}').ok_or("unclosed `{`")?;
    let (prefix, var, suffix) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let numbered = |min, max, per| Index::Number { min, max, per };
    let max_of = |f: fn(&ModelInfo) -> u16| models().iter().map(f).max().unwrap_or(1);
    let index = match var {
        "ext" => numbered(1, max_of(|m| m.ext), Per::Ext),
        "key" => numbered(1, max_of(|m| m.keys), Per::Key),
        "ukey" => numbered(1, max_of(|m| m.unit_keys), Per::UnitKey),
        _ => {
            let (lo, hi) = var
                .split_once('-')
                .ok_or("index needs {ext}, {key}, {ukey} or a range")?;
            match (lo.parse::<u16>(), hi.parse::<u16>()) {
                (Ok(a), Ok(b)) => numbered(a, b, Per::Fixed),
                _ => {
                    let (a, b) = (lo.chars().next(), hi.chars().next());
                    match (a, b) {
                        (Some(first), Some(last)) if lo.len() == 1 && hi.len() == 1 => {
                            Index::Letter { first, last }
                        }
                        _ => return Err(format!("bad index `{var}`")),
                    }
                }
            }
        }
    };
    let display = match index {
        Index::Letter { first, last } => leak(format!("{prefix}[{first}-{last}]{suffix}")),
        _ => leak(format!("{prefix}n{suffix}")),
    };
    Ok((prefix, suffix, index, display))
}

fn parse_row(line: &'static str) -> Result<ParamSpec, String> {
    let f: Vec<&'static str> = line.split('\t').collect();
    let [pattern, section, kind, default, ua, flags, models, since, tr069, spec] = f[..] else {
        return Err(format!("{} fields, want 10", f.len()));
    };
    let (prefix, suffix, index, name) = parse_name(pattern)?;
    let tr069 = match (index, tr069) {
        (Index::None, "") => Some(leak(generated_path(prefix))),
        (Index::None, p) => Some(p),
        _ => None,
    };
    let aliases = ALIASES
        .iter()
        .find(|(n, _)| *n == pattern)
        .map_or(&[][..], |(_, a)| *a);
    let doc = DOCS
        .iter()
        .find(|(n, _)| *n == pattern)
        .map_or("", |(_, d)| *d);
    Ok(ParamSpec {
        name,
        prefix,
        suffix,
        index,
        kind: parse_kind(kind)?,
        default,
        ua,
        secret: flags.contains('s'),
        section,
        models: model_set(models)?,
        since,
        tr069,
        aliases,
        spec,
        doc,
    })
}
