//! What a profile template sees (R-TPL): the device's variables at the top
//! level, then `mac`, `mac_colon`, `serial`, `model`, `group`, `vars` (all
//! variables as a map), `server` (`http`, `https`, `tftp` base URLs as
//! phones reach them), `profile_rule`, `upgrade_rule` and `firmware`
//! (`version`, `file`, or none). Built-in names win over variables of the
//! same name.

use std::collections::BTreeMap;

use minijinja::Value;
use phoneprov_store::Device;

use crate::config::{Bound, FirmwareTarget};

/// Base URLs of the listeners as seen by phones.
#[derive(Debug, Clone, Default)]
pub struct ServerUrls {
    /// `http://host:port` or empty when off.
    pub http: String,
    /// `https://host:port` or empty.
    pub https: String,
    /// `tftp://host:port` or empty.
    pub tftp: String,
}

impl ServerUrls {
    /// The base for generated rules: HTTP when it listens, else HTTPS.
    pub fn base(&self) -> &str {
        if self.http.is_empty() {
            &self.https
        } else {
            &self.http
        }
    }
}

/// Builds the listener URLs for `host` (the port is left out when it is
/// the scheme's default).
pub fn server_urls(bound: &Bound, host: &str) -> ServerUrls {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let url = |scheme: &str, addr: Option<std::net::SocketAddr>, default: u16| {
        addr.map_or(String::new(), |a| {
            if a.port() == default {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}:{}", a.port())
            }
        })
    };
    ServerUrls {
        http: url("http", bound.http, 80),
        https: url("https", bound.https, 443),
        tftp: url("tftp", bound.tftp, 69),
    }
}

/// The generated values a template sees beside the device row.
#[derive(Debug)]
pub struct Generated<'a> {
    /// Listener URLs.
    pub urls: &'a ServerUrls,
    /// The `Profile_Rule` text.
    pub profile_rule: &'a str,
    /// The `Upgrade_Rule` text (empty: no firmware target).
    pub upgrade_rule: &'a str,
    /// The device's firmware target.
    pub firmware: Option<&'a FirmwareTarget>,
}

/// The template context of `device`.
pub fn template_context(device: &Device, g: &Generated<'_>) -> Value {
    let mut ctx: BTreeMap<String, Value> = device
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let b = device.mac.bytes();
    let colon = format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5]
    );
    let server: BTreeMap<&str, String> = [
        ("http", g.urls.http.clone()),
        ("https", g.urls.https.clone()),
        ("tftp", g.urls.tftp.clone()),
    ]
    .into();
    let firmware = g
        .firmware
        .map(|t| BTreeMap::from([("version", t.version.clone()), ("file", t.file.clone())]));
    let builtins: [(&str, Value); 10] = [
        ("mac", device.mac.to_string().into()),
        ("mac_colon", colon.into()),
        ("serial", device.serial.clone().into()),
        ("model", device.model.clone().into()),
        ("group", device.group.clone().into()),
        ("vars", Value::from(device.vars.clone())),
        ("server", Value::from(server)),
        ("profile_rule", g.profile_rule.into()),
        ("upgrade_rule", g.upgrade_rule.into()),
        ("firmware", firmware.map_or(Value::from(()), Value::from)),
    ];
    for (k, v) in builtins {
        ctx.insert(k.to_string(), v);
    }
    Value::from(ctx)
}
