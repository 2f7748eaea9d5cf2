//! The render pipeline and its caches.
//!
//! `device row → template (most specific) → minijinja render → auto-insert
//! Profile_Rule / Upgrade_Rule → lint (strict: refuse errors) → gzip →
//! encrypt with the device key → ETag`.
//!
//! Two bounded caches (`quick_cache`, CLOCK-Pro eviction, sharded, no
//! global lock):
//! * device rows by MAC, trusted for `device_ttl_ms` (changes made by
//!   `phoneprov device …` in another process show up after at most that),
//!   including "unknown MAC" answers so a flood of bogus MACs costs one
//!   lookup per TTL;
//! * rendered output by `(MAC, variant)`, valid while the template/config
//!   generation, the hash of the device row and the URL host are unchanged.
//!
//! So a steady-state request costs two cache probes and no database or
//! crypto work; the output (and its ETag) stays byte-identical until
//! something it depends on changes, which makes `If-None-Match` work even
//! though each encryption uses a fresh salt.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use phoneprov_crypto::{EncodeOptions, Scheme};
use phoneprov_profile::lint::{lint_str, Severity};
use phoneprov_store::{Device, Mac, StoreError};
use quick_cache::sync::Cache;

use crate::config::Encryption;
use crate::state::{AppState, Policy};
use crate::templates::{Selector, TemplateSet, BOOTSTRAP_TEMPLATE};

/// Which form of a device's profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The full profile, gzipped (if configured) and encrypted with the
    /// device key: what plain HTTP and TFTP serve.
    Encrypted,
    /// The plaintext bootstrap profile carrying the key in its
    /// `Profile_Rule`: HTTPS with a matching client certificate, or TFTP
    /// from a pre-provisioning network.
    Bootstrap,
}

/// A cached device lookup.
#[derive(Debug)]
pub struct DevEntry {
    /// `None`: not in the inventory.
    pub device: Option<Arc<Device>>,
    /// Hash of everything rendering reads from the row.
    pub hash: u64,
    fetched: Instant,
    /// The last status message queued for this device: (when, hash of
    /// its content). Lets the request path fold identical repeats before
    /// formatting or queueing anything (see `http::seen_folded`).
    pub last_status: std::sync::Mutex<(Option<Instant>, u64)>,
}

/// A rendered, encoded profile.
#[derive(Debug)]
pub struct Rendered {
    generation: u64,
    dev_hash: u64,
    host: Box<str>,
    /// Bytes to send.
    pub body: Bytes,
    /// Strong ETag, quoted.
    pub etag: http::HeaderValue,
    /// `Content-Encoding` to send (`aes128gcm`), if any.
    pub content_encoding: Option<&'static str>,
    /// `Content-Type` to send.
    pub content_type: &'static str,
}

/// Why a profile could not be produced. Messages never hold the key or
/// the profile text.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RenderError {
    /// No template applies (not even `default.xml.j2`).
    #[error("no template for this device: add templates/default.xml.j2")]
    NoTemplate,
    /// minijinja failed.
    #[error("template {template}: {message}")]
    Template {
        /// Template name.
        template: String,
        /// minijinja's message.
        message: String,
    },
    /// Strict lint found errors.
    #[error("rendered profile from {template} has {count} lint error(s), first: {first}")]
    Lint {
        /// Template name.
        template: String,
        /// Number of errors.
        count: usize,
        /// The first error, one line.
        first: String,
    },
    /// Encryption failed.
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// The two caches.
pub struct RenderCache {
    devices: Cache<Mac, Arc<DevEntry>>,
    rendered: Cache<(Mac, Variant), Arc<Rendered>>,
}

impl std::fmt::Debug for RenderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderCache")
            .field("devices", &self.devices.len())
            .field("rendered", &self.rendered.len())
            .finish()
    }
}

/// Hash of the parts of a row that rendering reads.
pub fn device_hash(d: &Device) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        &d.serial,
        &d.model,
        &d.group,
        &d.vars,
        d.key.expose_secret(),
        d.updated_ms,
    )
        .hash(&mut h);
    h.finish()
}

impl RenderCache {
    /// Caches holding up to `entries` devices and rendered profiles.
    pub fn new(entries: usize) -> RenderCache {
        RenderCache {
            devices: Cache::new(entries.max(16)),
            rendered: Cache::new(entries.max(16)),
        }
    }

    /// The device row, from cache when fresh enough.
    pub async fn device(
        &self,
        state: &AppState,
        mac: Mac,
        ttl: Duration,
    ) -> Result<Arc<DevEntry>, StoreError> {
        let old = self.devices.get(&mac);
        if let Some(e) = &old {
            if e.fetched.elapsed() < ttl {
                return Ok(e.clone());
            }
        }
        let device = state.reader.device(mac).await?;
        let hash = device.as_ref().map_or(0, device_hash);
        // The status-folding memory survives the refresh.
        let last = old.map_or((None, 0), |e| {
            *e.last_status.lock().unwrap_or_else(|p| p.into_inner())
        });
        let entry = Arc::new(DevEntry {
            device: device.map(Arc::new),
            hash,
            fetched: Instant::now(),
            last_status: std::sync::Mutex::new(last),
        });
        self.devices.insert(mac, entry.clone());
        Ok(entry)
    }

    /// Clears a device's status-folding memory: after any other status
    /// message for it, the next ordinary resync is recorded again (as the
    /// writer thread, comparing with the last message, would).
    pub fn reset_fold(&self, mac: Mac) {
        if let Some(e) = self.devices.get(&mac) {
            *e.last_status.lock().unwrap_or_else(|p| p.into_inner()) = (None, 0);
        }
    }

    /// Forgets a device (after auto-registration).
    pub fn forget(&self, mac: Mac) {
        self.devices.remove(&mac);
    }

    /// The rendered profile, from cache when still valid. The bool says
    /// whether it was a cache hit.
    pub fn profile(
        &self,
        state: &AppState,
        policy: &Policy,
        templates: &TemplateSet,
        dev: &DevEntry,
        variant: Variant,
        host: &str,
    ) -> Result<(Arc<Rendered>, bool), RenderError> {
        let device = dev
            .device
            .as_ref()
            .expect("callers check the device exists");
        let generation = templates.generation();
        let key = (device.mac, variant);
        if let Some(r) = self.rendered.get(&key) {
            if r.generation == generation && r.dev_hash == dev.hash && &*r.host == host {
                crate::metrics_setup::handles().cache_hit.increment(1);
                return Ok((r, true));
            }
        }
        crate::metrics_setup::handles().cache_miss.increment(1);
        let r = Arc::new(render(
            state, policy, templates, device, dev.hash, variant, host,
        )?);
        self.rendered.insert(key, r.clone());
        Ok((r, false))
    }
}

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

/// Builds the listener URLs for `host`.
pub fn server_urls(state: &AppState, host: &str) -> ServerUrls {
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
        http: url("http", state.bound.http, 80),
        https: url("https", state.bound.https, 443),
        tftp: url("tftp", state.bound.tftp, 69),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Adds `<name>value</name>` before `</flat-profile>` unless the profile
/// already sets `name` (the template's choice wins).
pub fn insert_param(xml: &mut String, name: &str, value: &str) {
    if xml.contains(&format!("<{name}>")) || xml.contains(&format!("<{name} ")) {
        return;
    }
    if let Some(at) = xml.rfind("</flat-profile>") {
        xml.insert_str(at, &format!("  <{name}>{}</{name}>\n", xml_escape(value)));
    }
}

fn render(
    state: &AppState,
    policy: &Policy,
    templates: &TemplateSet,
    device: &Device,
    dev_hash: u64,
    variant: Variant,
    host: &str,
) -> Result<Rendered, RenderError> {
    let cfg = &policy.config.profiles;
    let urls = server_urls(state, host);
    let base = if urls.http.is_empty() {
        &urls.https
    } else {
        &urls.http
    };
    let key = device.key.expose_secret();
    // A base64url key may start with `--` (1 in 4096), which the rule
    // syntax would read as the next option: quote such keys.
    let profile_rule = if key.starts_with('-') {
        format!("[--key \"{key}\"] {base}{}", policy.rule_path)
    } else {
        format!("[--key {key}] {base}{}", policy.rule_path)
    };
    let firmware = policy.firmware_for(device.group.as_deref(), device.model.as_deref());
    let fw_base = if urls.http.is_empty() {
        &urls.https
    } else {
        &urls.http
    };
    let upgrade_rule = firmware
        .map(|t| format!("{fw_base}/firmware/{}", t.file))
        .unwrap_or_default();
    let mac = device.mac.to_string();
    let template = match variant {
        Variant::Bootstrap => BOOTSTRAP_TEMPLATE.to_string(),
        Variant::Encrypted => templates
            .resolve(Selector {
                mac: &mac,
                group: device.group.as_deref(),
                model: device.model.as_deref(),
            })
            .ok_or(RenderError::NoTemplate)?,
    };
    let mut ctx: BTreeMap<String, minijinja::Value> = device
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), minijinja::Value::from(v.as_str())))
        .collect();
    let b = device.mac.bytes();
    let colon = format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5]
    );
    let set = |ctx: &mut BTreeMap<String, minijinja::Value>, k: &str, v: minijinja::Value| {
        ctx.insert(k.to_string(), v);
    };
    set(&mut ctx, "mac", mac.as_str().into());
    set(&mut ctx, "mac_colon", colon.into());
    set(&mut ctx, "serial", device.serial.clone().into());
    set(&mut ctx, "model", device.model.clone().into());
    set(&mut ctx, "group", device.group.clone().into());
    set(
        &mut ctx,
        "vars",
        minijinja::Value::from(device.vars.clone()),
    );
    let server: BTreeMap<&str, String> = [
        ("http", urls.http.clone()),
        ("https", urls.https.clone()),
        ("tftp", urls.tftp.clone()),
    ]
    .into();
    set(&mut ctx, "server", minijinja::Value::from(server));
    set(&mut ctx, "profile_rule", profile_rule.as_str().into());
    set(&mut ctx, "upgrade_rule", upgrade_rule.as_str().into());
    let fw = firmware
        .map(|t| BTreeMap::from([("version", t.version.clone()), ("file", t.file.clone())]));
    set(
        &mut ctx,
        "firmware",
        fw.map_or(minijinja::Value::from(()), minijinja::Value::from),
    );
    let mut xml = templates
        .render(&template, minijinja::Value::from(ctx))
        .map_err(|message| RenderError::Template {
            template: template.clone(),
            message,
        })?;
    if variant == Variant::Encrypted {
        // Keep the key on the phone across resyncs, and point it at its
        // target firmware (issue 4 items 4 and 7).
        insert_param(&mut xml, "Profile_Rule", &profile_rule);
        if !upgrade_rule.is_empty() {
            insert_param(&mut xml, "Upgrade_Rule", &upgrade_rule);
        }
    }
    let errors: Vec<_> = lint_str(&template, &xml)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if !errors.is_empty() {
        let first = errors[0]
            .to_string()
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        if cfg.strict {
            return Err(RenderError::Lint {
                template,
                count: errors.len(),
                first,
            });
        }
        tracing::warn!(%mac, template, count = errors.len(), first, "serving a profile with lint errors (strict = false)");
    }
    let (body, content_encoding, content_type) = match variant {
        Variant::Bootstrap => (xml.into_bytes(), None, "application/xml"),
        Variant::Encrypted => {
            let scheme = match cfg.encryption {
                Encryption::Aes256cbc => Scheme::Aes256Cbc,
                Encryption::Aes128gcm => Scheme::Aes128Gcm,
            };
            let opts = EncodeOptions {
                scheme: Some(scheme),
                key: Some(device.key.expose_secret().as_bytes().to_vec()),
                gzip: cfg.gzip,
                ..EncodeOptions::default()
            };
            let body = phoneprov_crypto::encode(xml.as_bytes(), &opts)
                .map_err(|e| RenderError::Encode(e.to_string()))?;
            let ce = (scheme == Scheme::Aes128Gcm).then_some("aes128gcm");
            (body, ce, "application/octet-stream")
        }
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    let etag = http::HeaderValue::from_str(&format!(
        "\"{:016x}{:04x}\"",
        h.finish(),
        body.len() & 0xffff
    ))
    .expect("hex is a valid header value");
    Ok(Rendered {
        generation: templates.generation(),
        dev_hash,
        host: host.into(),
        body: Bytes::from(body),
        etag,
        content_encoding,
        content_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_param_adds_missing_and_keeps_existing() {
        let mut x = "<flat-profile>\n  <A>1</A>\n</flat-profile>\n".to_string();
        insert_param(&mut x, "Profile_Rule", "[--key k] http://h/$MA.cfg?a&b");
        assert!(
            x.contains(
                "<Profile_Rule>[--key k] http://h/$MA.cfg?a&amp;b</Profile_Rule>\n</flat-profile>"
            ),
            "{x}"
        );
        let before = x.clone();
        insert_param(&mut x, "Profile_Rule", "other");
        assert_eq!(x, before);
        let mut y =
            "<flat-profile><Upgrade_Rule ua=\"na\">x</Upgrade_Rule></flat-profile>".to_string();
        insert_param(&mut y, "Upgrade_Rule", "z");
        assert!(!y.contains(">z<"));
    }

    #[test]
    fn device_hash_changes_with_vars() {
        let mut store = phoneprov_store::Store::open(tempfile::tempdir().unwrap().path()).unwrap();
        let mut nd = phoneprov_store::NewDevice::new(Mac::parse("000e08abcdef").unwrap());
        let (d1, _) = store.upsert_device(&nd).unwrap();
        nd.vars.insert("a".into(), "1".into());
        let d2 = Device {
            vars: nd.vars.clone(),
            ..d1.clone()
        };
        assert_ne!(device_hash(&d1), device_hash(&d2));
        assert_eq!(device_hash(&d1), device_hash(&d1.clone()));
    }
}
