//! Producing a device's profile, and its caches.
//!
//! [`render`] runs three stages, each in its own module:
//! `device row → template (most specific) → context` ([`crate::context`])
//! `→ minijinja → Profile_Rule / Upgrade_Rule inserted when missing`
//! ([`crate::rules`], through the rule crate's syntax tree) `→ lint
//! (strict: refuse errors) → gzip → encrypt with the device key → ETag`
//! ([`crate::encode`]).
//!
//! Two bounded caches (`quick_cache`, CLOCK-Pro eviction, sharded, no
//! global lock):
//! * device rows by MAC, trusted for `device_ttl_ms` (changes made by
//!   `phoneprov device …` in another process show up after at most that),
//!   including "unknown MAC" answers so a flood of bogus MACs costs one
//!   lookup per TTL; on PostgreSQL a changed row is also dropped as soon
//!   as the database's change notice arrives ([`crate::changes`]), so
//!   every node serves a change at its next request;
//! * rendered output by `(MAC, variant)`, valid while the template/config
//!   generation, the hash of the device row and the URL host are unchanged.
//!
//! So a steady-state request costs two cache probes and no database or
//! crypto work; the output (and its ETag) stays byte-identical until
//! something it depends on changes, which makes `If-None-Match` work even
//! though each encryption uses a fresh salt.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use phoneprov_store::{Device, Mac, StoreError};
use quick_cache::sync::Cache;

use crate::config::Bound;
use crate::context::{server_urls, template_context, Generated};
use crate::encode::EncodeError;
use crate::policy::Policy;
use crate::rules::{insert_param, profile_rule, upgrade_rule};
use crate::store_io::ReadPool;
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
    /// formatting or queueing anything (see the pipeline's record step).
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
    /// Bumped by every [`RenderCache::forget`]: a row read while a change
    /// notice was applied may predate the change, so it is not kept.
    forgets: std::sync::atomic::AtomicU64,
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
            forgets: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The device row, from cache when fresh enough.
    pub async fn device(
        &self,
        reader: &Arc<ReadPool>,
        mac: Mac,
        ttl: Duration,
    ) -> Result<Arc<DevEntry>, StoreError> {
        let old = self.devices.get(&mac);
        if let Some(e) = &old {
            if e.fetched.elapsed() < ttl {
                return Ok(e.clone());
            }
        }
        let forgets = self.forgets.load(std::sync::atomic::Ordering::Acquire);
        let device = reader.device(mac).await?;
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
        if self.forgets.load(std::sync::atomic::Ordering::Acquire) == forgets {
            self.devices.insert(mac, entry.clone());
        }
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

    /// Forgets a device (after auto-registration, or told by the
    /// database that its row changed). Its rendered profiles go with it:
    /// each is checked against its row's hash.
    pub fn forget(&self, mac: Mac) {
        self.forgets
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.devices.remove(&mac);
    }

    /// Forgets every device (a change notice for all of them, or the
    /// notices' connection was lost and some may have been missed).
    pub fn forget_all(&self) {
        self.forgets
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.devices.clear();
    }

    /// The rendered profile, from cache when still valid. The bool says
    /// whether it was a cache hit.
    pub fn profile(
        &self,
        bound: &Bound,
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
            bound, policy, templates, device, dev.hash, variant, host,
        )?);
        self.rendered.insert(key, r.clone());
        Ok((r, false))
    }
}

/// The plaintext profile of `device` (template name, XML with the rules
/// inserted), before lint and encoding: what [`render`] encodes and what
/// the console's device page shows ([`preview`]).
pub(crate) fn plaintext(
    bound: &Bound,
    policy: &Policy,
    templates: &TemplateSet,
    device: &Device,
    variant: Variant,
    host: &str,
) -> Result<(String, String), RenderError> {
    let urls = server_urls(bound, host);
    let key = device.key.expose_secret();
    let profile_rule =
        profile_rule(format!("{}{}", urls.base(), policy.rule_path), key).to_string();
    let firmware = policy.firmware_for(device);
    let upgrade_rule = firmware
        .as_ref()
        .map(|t| upgrade_rule(urls.base(), &t.file))
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
    let ctx = template_context(
        device,
        &Generated {
            urls: &urls,
            profile_rule: &profile_rule,
            upgrade_rule: &upgrade_rule,
            firmware: firmware.as_deref(),
        },
    );
    let mut xml = templates
        .render(&template, ctx)
        .map_err(|message| RenderError::Template {
            template: template.clone(),
            message,
        })?;
    if variant == Variant::Encrypted {
        insert_param(&mut xml, "Profile_Rule", &profile_rule);
        if !upgrade_rule.is_empty() {
            insert_param(&mut xml, "Upgrade_Rule", &upgrade_rule);
        }
    }
    Ok((template, xml))
}

/// The console's view of a device's profile (issue 14): the plaintext the
/// phone decrypts, with every lint finding (not only errors), whatever
/// `strict` says.
pub fn preview(
    bound: &Bound,
    policy: &Policy,
    templates: &TemplateSet,
    device: &Device,
    host: &str,
) -> Result<phoneprov_console::Preview, RenderError> {
    let (template, xml) = plaintext(bound, policy, templates, device, Variant::Encrypted, host)?;
    let opts = phoneprov_profile::lint::LintOptions {
        model: device
            .model
            .as_deref()
            .and_then(phoneprov_profile::schema::model),
        ..Default::default()
    };
    let findings = phoneprov_profile::lint::lint_str_with(&template, &xml, opts)
        .iter()
        .map(|d| d.to_string().lines().next().unwrap_or("").to_string())
        .collect();
    Ok(phoneprov_console::Preview {
        template,
        xml,
        findings,
    })
}

/// Renders and encodes one profile (a cache miss).
fn render(
    bound: &Bound,
    policy: &Policy,
    templates: &TemplateSet,
    device: &Device,
    dev_hash: u64,
    variant: Variant,
    host: &str,
) -> Result<Rendered, RenderError> {
    let cfg = &policy.config.profiles;
    let key = device.key.expose_secret();
    let mac = device.mac.to_string();
    let (template, xml) = plaintext(bound, policy, templates, device, variant, host)?;
    let encoded = crate::encode::lint(&template, &xml, cfg.strict, &mac, device.model.as_deref())
        .and_then(|_| match variant {
            Variant::Bootstrap => Ok(crate::encode::plain(xml)),
            Variant::Encrypted => crate::encode::encrypted(&xml, key, cfg),
        })
        .map_err(|e| match e {
            EncodeError::Lint { count, first } => RenderError::Lint {
                template,
                count,
                first,
            },
            EncodeError::Crypto(e) => RenderError::Encode(e),
        })?;
    Ok(Rendered {
        generation: templates.generation(),
        dev_hash,
        host: host.into(),
        body: Bytes::from(encoded.body),
        etag: encoded.etag,
        content_encoding: encoded.content_encoding,
        content_type: encoded.content_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
