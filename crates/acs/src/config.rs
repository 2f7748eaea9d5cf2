//! ACS settings, deserializable from the `[acs]` table of the server's
//! TOML file (every field has a default, so `[acs]` alone works).

use std::collections::BTreeMap;
use std::time::Duration;

use phoneprov_cwmp::{EventCode, Inform};
use serde::Deserialize;

use crate::task::TaskRpc;

/// How CPEs authenticate to the ACS (TR-069 3.4.4: Basic only over TLS,
/// Digest otherwise; Basic on plain HTTP is accepted for lab use).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcsAuth {
    /// No authentication (lab networks).
    None,
    /// HTTP Basic (RFC 7617).
    Basic,
    /// HTTP Digest (RFC 7616), SHA-256 and MD5 offered.
    #[default]
    Digest,
}

/// What to do with CPEs that map to no device of the inventory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownCpes {
    /// Serve them (their Informs are not in any timeline).
    #[default]
    Allow,
    /// Answer their Inform with `403 Forbidden`.
    Deny,
}

/// A task queued automatically when an Inform carries one of `events`.
///
/// ```toml
/// [[acs.presets]]
/// events = ["0 BOOTSTRAP", "1 BOOT"]
/// rpc = "GetParameterValues"
/// names = ["Device.DeviceInfo.", "Device.ManagementServer."]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Preset {
    /// Event codes (`0 BOOTSTRAP`, `1 BOOT`, `2 PERIODIC`) that trigger it.
    pub events: Vec<String>,
    /// The request (same JSON/TOML shape as the REST API's tasks).
    #[serde(flatten)]
    pub task: TaskRpc,
}

impl Preset {
    /// Whether `inform` triggers this preset. Only `0 BOOTSTRAP`, `1 BOOT`
    /// and `2 PERIODIC` do (SPEC §10 issue text).
    pub fn applies(&self, inform: &Inform) -> bool {
        self.events.iter().any(|e| {
            let code = EventCode::parse(e);
            matches!(
                code,
                EventCode::Bootstrap | EventCode::Boot | EventCode::Periodic
            ) && inform.has_event(&code)
        })
    }
}

/// Credentials for connection requests to CPEs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ConnectionRequestSettings {
    /// Used when the cached data model has no
    /// `ManagementServer.ConnectionRequestUsername`.
    pub username: String,
    /// Used when the cached data model has no
    /// `ManagementServer.ConnectionRequestPassword` (CPEs return it empty
    /// on GetParameterValues, so it is cached only when the ACS set it).
    pub password: String,
}

/// Settings of the ACS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcsSettings {
    /// CPE authentication.
    pub auth: AcsAuth,
    /// Realm of the challenges.
    pub realm: String,
    /// user → password. One entry for shared (global) credentials, or one
    /// per CPE (e.g. the serial number as user name).
    pub users: BTreeMap<String, String>,
    /// Unknown CPEs.
    pub unknown_cpes: UnknownCpes,
    /// Presets.
    pub presets: Vec<Preset>,
    /// Largest POST body accepted (bytes); larger gets `413`.
    pub body_limit: usize,
    /// A connection or session silent this long is dropped and its sent
    /// tasks requeued (TR-069 suggests at least 30 s).
    pub idle_timeout_secs: u64,
    /// Send HoldRequests with the ACS's messages.
    pub hold_requests: bool,
    /// Connection request credentials.
    pub connection_request: ConnectionRequestSettings,
    /// URL of a device's rendered profile, `{mac}` replaced by its MAC:
    /// the default URL of a `config` Download.
    pub profile_url: Option<String>,
}

impl Default for AcsSettings {
    fn default() -> Self {
        AcsSettings {
            auth: AcsAuth::Digest,
            realm: "phoneprov-acs".into(),
            users: BTreeMap::new(),
            unknown_cpes: UnknownCpes::Allow,
            presets: Vec::new(),
            body_limit: 1 << 20,
            idle_timeout_secs: 60,
            hold_requests: false,
            connection_request: ConnectionRequestSettings::default(),
            profile_url: None,
        }
    }
}

impl AcsSettings {
    /// The idle timeout as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoneprov_cwmp::Event;

    #[test]
    fn settings_and_presets_read_from_toml() {
        let s: AcsSettings = toml::from_str(
            r#"
            auth = "basic"
            unknown_cpes = "deny"
            users = { cpe1 = "pw1" }
            [[presets]]
            events = ["0 BOOTSTRAP", "2 PERIODIC"]
            rpc = "GetParameterValues"
            names = ["Device.DeviceInfo."]
            "#,
        )
        .unwrap();
        assert_eq!(s.auth, AcsAuth::Basic);
        assert_eq!(s.unknown_cpes, UnknownCpes::Deny);
        assert_eq!(s.users["cpe1"], "pw1");
        let p = &s.presets[0];
        assert_eq!(
            p.task,
            TaskRpc::GetParameterValues {
                names: vec!["Device.DeviceInfo.".into()]
            }
        );
        let mut inform = Inform {
            events: vec![Event::new(EventCode::ValueChange)],
            ..Inform::default()
        };
        assert!(!p.applies(&inform));
        inform.events.push(Event::new(EventCode::Periodic));
        assert!(p.applies(&inform));
    }
}
