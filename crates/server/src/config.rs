//! The server configuration: a TOML file (`--config FILE`, documented in
//! `examples/phoneprov.toml`) plus command-line overrides.
//!
//! Every field has a default, so `phoneprov serve` with no file works
//! (DESIGN.md "embedded default"). Relative paths are resolved against the
//! data directory. Unknown keys are refused (`deny_unknown_fields`): a typo
//! in a security policy must not silently fall back to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::error::ServerError;

/// Where one listener binds, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// Bind this address (port 0 picks a free port).
    On(SocketAddr),
    /// The listener is disabled.
    Off,
}

impl Listen {
    /// Parses `off`, `ADDR:PORT`, `:PORT` or a bare `PORT` (all addresses).
    pub fn parse(text: &str) -> Result<Listen, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("off") {
            return Ok(Listen::Off);
        }
        if let Ok(port) = t.trim_start_matches(':').parse::<u16>() {
            return Ok(Listen::On(SocketAddr::from(([0, 0, 0, 0], port))));
        }
        t.parse::<SocketAddr>().map(Listen::On).map_err(|_| {
            format!(
                "bad listen address {t:?}: write ADDR:PORT (0.0.0.0:8080, [::]:8080), PORT, or off"
            )
        })
    }

    /// The address when on.
    pub fn addr(self) -> Option<SocketAddr> {
        match self {
            Listen::On(a) => Some(a),
            Listen::Off => None,
        }
    }
}

impl<'de> Deserialize<'de> for Listen {
    /// A port number or a string; anything else (a port out of range, a
    /// float, a boolean) gets a message that says what to write instead of
    /// serde's "did not match any variant" (issue 17 item 2).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const HINT: &str =
            "write a port (8080), \"ADDR:PORT\" (\"0.0.0.0:8080\", \"[::]:8080\") or \"off\"";
        impl serde::de::Visitor<'_> for V {
            type Value = Listen;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a listen address: ")?;
                f.write_str(HINT)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Listen, E> {
                u16::try_from(v)
                    .map(|p| Listen::On(SocketAddr::from(([0, 0, 0, 0], p))))
                    .map_err(|_| E::custom(format!("port {v} is not a port (0-65535): {HINT}")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Listen, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Listen, E> {
                Err(E::custom(format!("{v} is not a port: {HINT}")))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Listen, E> {
                Err(E::custom(format!("{v} is not a listen address: {HINT}")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Listen, E> {
                Listen::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Listener addresses (`[listen]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenConfig {
    /// TFTP (UDP), default `0.0.0.0:6969`.
    pub tftp: Listen,
    /// Plain HTTP, default `0.0.0.0:8080`.
    pub http: Listen,
    /// HTTPS, default `0.0.0.0:8443`.
    pub https: Listen,
    /// Syslog (UDP), default `0.0.0.0:5514`.
    pub syslog: Listen,
    /// TR-069 ACS (CWMP over HTTP, R-TR69), default `0.0.0.0:7547`, the
    /// port TR-069 assigns. Settings in `[acs]`.
    pub acs: Listen,
    /// The admin listener (issue 17 item 3): `/api/v1`, `/metrics`, the
    /// OpenAPI document and the console; default `127.0.0.1:9080`, HTTPS
    /// when `[tls] cert` is set. The phones' ports serve only what phones
    /// fetch.
    pub admin: Listen,
    /// Also serve the admin routes on the phones' HTTP(S) ports (the
    /// single-port behaviour before the admin listener; the bearer token
    /// then crosses the phones' network). A warning at start says so.
    pub admin_on_phone_ports: bool,
    /// TR-069 ACS over HTTPS (issue 12 item 5), default off: the same ACS
    /// (one session table) with the HTTPS listener's certificate, key,
    /// client CA and `[tls] client_auth`. TR-069 expects HTTPS for
    /// anything beyond a lab; 7548 is customary.
    pub acs_tls: Listen,
}

impl Default for ListenConfig {
    fn default() -> Self {
        let any = |p: u16| Listen::On(SocketAddr::from(([0, 0, 0, 0], p)));
        ListenConfig {
            tftp: any(6969),
            http: any(8080),
            https: any(8443),
            syslog: any(5514),
            acs: any(7547),
            admin: Listen::On(SocketAddr::from(([127, 0, 0, 1], 9080))),
            admin_on_phone_ports: false,
            acs_tls: Listen::Off,
        }
    }
}

/// Bound addresses of the listeners (known after binding).
#[derive(Debug, Clone, Copy, Default)]
pub struct Bound {
    /// TFTP.
    pub tftp: Option<SocketAddr>,
    /// HTTP.
    pub http: Option<SocketAddr>,
    /// HTTPS.
    pub https: Option<SocketAddr>,
    /// Syslog.
    pub syslog: Option<SocketAddr>,
    /// TR-069 ACS.
    pub acs: Option<SocketAddr>,
    /// The admin listener.
    pub admin: Option<SocketAddr>,
    /// TR-069 ACS over HTTPS.
    pub acs_tls: Option<SocketAddr>,
}

/// Listener addresses given on the command line (`--http ADDR|off`, ...):
/// each one that is set replaces the config's, at start and after every
/// reload.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListenOverrides {
    /// `--tftp`.
    pub tftp: Option<Listen>,
    /// `--http`.
    pub http: Option<Listen>,
    /// `--https`.
    pub https: Option<Listen>,
    /// `--syslog`.
    pub syslog: Option<Listen>,
    /// `--acs`.
    pub acs: Option<Listen>,
    /// `--admin`.
    pub admin: Option<Listen>,
    /// `--acs-tls`.
    pub acs_tls: Option<Listen>,
}

impl ListenOverrides {
    /// Writes the set addresses into `cfg`.
    pub fn apply(&self, cfg: &mut Config) {
        let l = &mut cfg.listen;
        for (to, from) in [
            (&mut l.tftp, self.tftp),
            (&mut l.http, self.http),
            (&mut l.https, self.https),
            (&mut l.syslog, self.syslog),
            (&mut l.acs, self.acs),
            (&mut l.admin, self.admin),
            (&mut l.acs_tls, self.acs_tls),
        ] {
            if let Some(a) = from {
                *to = a;
            }
        }
    }
}

/// Client certificate policy (`[tls] client_auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuthMode {
    /// Never ask.
    Off,
    /// Ask; clients without a certificate still connect (default).
    #[default]
    Optional,
    /// Mutual TLS: refuse clients without a phone certificate.
    Required,
}

/// `[tls]`: HTTPS certificate and client-certificate policy (R-HTTPS-5).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Server certificate chain (PEM). Default: the development CA's
    /// `ca/server.pem`, created at first start.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub key: Option<PathBuf>,
    /// CA whose phone certificates are accepted. Default: `ca/ca.pem`.
    pub client_ca: Option<PathBuf>,
    /// `off`, `optional` (default) or `required`.
    pub client_auth: ClientAuthMode,
    /// Names for the development server certificate (default localhost,
    /// 127.0.0.1, ::1). Only used when the dev CA creates it.
    pub server_names: Vec<String>,
}

/// Profile encryption scheme (`[profiles] encryption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Encryption {
    /// `openssl enc -aes-256-cbc -k KEY` format (default).
    #[default]
    Aes256cbc,
    /// RFC 8188 with `Content-Encoding: aes128gcm` over HTTP.
    Aes128gcm,
}

/// `[profiles]`: how profiles are found, rendered and encoded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfilesConfig {
    /// Request path patterns that name a device's profile. Macros: `$MA`
    /// (MAC), `$PSN`, `$PN`, `$SN`. Matched in order.
    pub paths: Vec<String>,
    /// Encryption for plain HTTP and TFTP (never off: R-SEC, issue 4 item 4).
    pub encryption: Encryption,
    /// gzip before encrypting (R-FMT-6).
    pub gzip: bool,
    /// Refuse to serve a rendered profile with lint errors (500 + event).
    pub strict: bool,
    /// Rendered profiles kept in memory (most recently used).
    pub cache_entries: usize,
    /// How long a device row read from the database is trusted before it is
    /// read again (changes made by `phoneprov device` show up after this).
    pub device_ttl_ms: u64,
    /// Unknown devices are added to the inventory as pending (still 404
    /// until an admin approves them).
    pub auto_register: bool,
    /// Auto-registrations allowed per client address and minute (a token
    /// bucket of this size, refilled evenly); beyond it an unknown MAC is
    /// answered and counted like any unknown device, and not written.
    pub auto_register_per_minute: u32,
    /// No auto-registration while this many devices await approval (the
    /// pending rows of the whole database).
    pub auto_register_max_pending: u64,
    /// Base host name put into the URLs of generated rules
    /// (`Profile_Rule`, `Upgrade_Rule`). Default: the request's Host header,
    /// else the listener's address.
    pub public_host: Option<String>,
}

impl Default for ProfilesConfig {
    fn default() -> Self {
        ProfilesConfig {
            paths: [
                "/$MA.cfg",
                "/$MA.xml",
                "/ata$MA.cfg",
                "/Cisco/$MA.cfg",
                "/$PSN.xml",
                "/$PN.cfg",
            ]
            .map(String::from)
            .to_vec(),
            encryption: Encryption::default(),
            gzip: true,
            strict: true,
            cache_entries: 100_000,
            device_ttl_ms: 2_000,
            auto_register: false,
            auto_register_per_minute: 30,
            auto_register_max_pending: 1_000,
            public_host: None,
        }
    }
}

/// `[security]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// In-house pre-provisioning networks (CIDR): clients from these (any
    /// protocol) get the plaintext bootstrap profile carrying their key.
    pub preprovision_networks: Vec<IpNet>,
    /// Serve the bootstrap profile over HTTPS to clients without a client
    /// certificate (off by default: anyone could fetch any key).
    pub bootstrap_without_client_cert: bool,
    /// Offer and accept HTTP Basic authentication (`[[auth]]`) on plain
    /// HTTP too. Off by default: Basic sends the password itself, so it is
    /// only offered over HTTPS, and plain HTTP offers Digest (issue 12
    /// item 5). Turning it on logs a warning at start.
    pub allow_basic_over_http: bool,
}

/// One `[[auth]]` entry: who must authenticate and with which credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthRule {
    /// Devices (any MAC spelling) this rule covers.
    #[serde(default)]
    pub macs: Vec<String>,
    /// Groups this rule covers.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Applies to every device.
    #[serde(default)]
    pub all: bool,
    /// user → password.
    pub users: BTreeMap<String, String>,
    /// `basic` and/or `digest` (default both).
    #[serde(default = "default_schemes")]
    pub schemes: Vec<AuthScheme>,
}

/// HTTP authentication scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthScheme {
    /// RFC 7617.
    Basic,
    /// RFC 7616 (MD5 and SHA-256, qop=auth).
    Digest,
}

fn default_schemes() -> Vec<AuthScheme> {
    vec![AuthScheme::Digest, AuthScheme::Basic]
}

/// `[reports]`: who may POST a report (`Report_Rule`, issue 12 item 2).
///
/// ```toml
/// [reports]
/// auth = "profiles"   # default: the [[auth]] rule that covers the device's profile
/// # auth = "none"     # no credentials for reports (a lab; the body is still
/// #                   # decrypted with the device key when encrypted)
/// # auth = "users"    # every report authenticates with these:
/// # users = { reporter = "password" }
/// # schemes = ["digest"]
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Which credentials a report needs.
    pub auth: ReportAuth,
    /// With `auth = "users"`: user → password.
    pub users: BTreeMap<String, String>,
    /// With `auth = "users"`: `basic` and/or `digest` (default both; Basic
    /// only over HTTPS unless `allow_basic_over_http`).
    pub schemes: Vec<AuthScheme>,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            auth: ReportAuth::Profiles,
            users: BTreeMap::new(),
            schemes: default_schemes(),
        }
    }
}

/// `[reports] auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportAuth {
    /// The `[[auth]]` rule covering the device, as for its profile.
    Profiles,
    /// No credentials.
    None,
    /// `[reports] users`, for every device.
    Users,
}

/// `[auth_settings]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Realm in challenges.
    pub realm: String,
    /// Digest nonce lifetime in seconds.
    pub nonce_ttl_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            realm: "phoneprov".into(),
            nonce_ttl_secs: 300,
        }
    }
}

/// A firmware target (`[firmware.models."PN"]`, `[firmware.groups.G]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct FirmwareTarget {
    /// Version string (for templates and logs).
    pub version: String,
    /// Image file, relative to the firmware directory.
    pub file: String,
}

/// `[firmware]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FirmwareConfig {
    /// Targets by product name (`$PN`).
    pub models: BTreeMap<String, FirmwareTarget>,
    /// Targets by group (win over models).
    pub groups: BTreeMap<String, FirmwareTarget>,
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request head (431 above it). hyper's floor is 8192.
    pub max_header_bytes: usize,
    /// Largest request body (413 above it).
    pub max_body_bytes: u64,
    /// Whole-request deadline in seconds (head and body).
    pub request_timeout_secs: u64,
    /// Grace period for in-flight transfers on SIGTERM, in seconds.
    pub drain_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            drain_secs: 10,
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The data directory (database, CA, templates…). The CLI's `--data`
    /// wins over this.
    pub data_dir: Option<PathBuf>,
    /// Templates (default `<data>/templates`).
    pub templates_dir: Option<PathBuf>,
    /// Static files served as they are (default `<data>/static`).
    pub static_dir: Option<PathBuf>,
    /// Firmware images (default `<data>/firmware`), served under `/firmware/`.
    pub firmware_dir: Option<PathBuf>,
    /// Listeners.
    pub listen: ListenConfig,
    /// HTTPS.
    pub tls: TlsConfig,
    /// Profiles.
    pub profiles: ProfilesConfig,
    /// Security policy.
    pub security: SecurityConfig,
    /// HTTP authentication rules.
    pub auth: Vec<AuthRule>,
    /// Realm and nonce lifetime.
    pub auth_settings: AuthSettings,
    /// Who may POST reports (`[reports]`).
    pub reports: ReportsConfig,
    /// Moved devices: MAC → URL (answered with `redirect_status`). A device
    /// variable `redirect` does the same per device.
    pub redirects: BTreeMap<String, String>,
    /// 301 or 302 (default).
    pub redirect_status: Option<u16>,
    /// Firmware targets.
    pub firmware: FirmwareConfig,
    /// Request limits.
    pub limits: Limits,
    /// The TR-069 ACS (`[acs]`, `[[acs.presets]]`): CPE authentication,
    /// unknown-CPE policy, presets, the profile URL of config Downloads.
    /// The keys are those of [`phoneprov_acs::AcsSettings`]; read at start
    /// (a SIGHUP reload does not change a running ACS).
    pub acs: phoneprov_acs::AcsSettings,
    /// The timeline's retention (`[store] events_max_age`,
    /// `events_max_per_device`, `events_max_total`), pruned in the
    /// background by the writer.
    pub store: phoneprov_store::StoreSettings,
    /// The access log (`[log] access`, `[log] format`); opened at start,
    /// reopened (not re-read) on SIGHUP and SIGUSR1.
    pub log: crate::access_log::LogConfig,
    /// `[throttle]`: how failed authentication is slowed down on every
    /// door (profiles, admin API, ACS); see [`phoneprov_httpauth::throttle`].
    /// Read at start.
    pub throttle: phoneprov_httpauth::ThrottleSettings,
    /// `[database]`: where the store lives (issue 13). Read at start.
    pub database: DatabaseConfig,
    /// The file it was read from (not a TOML key).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[database]`: the store's location and migration policy (issue 13).
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://USER:PASSWORD@HOST:PORT/DBNAME[?sslmode=require]` for a
    /// database shared by several nodes, or `sqlite:DIR`; absent: the
    /// SQLite file of the data directory. `serve --database-url` and
    /// `PHONEPROV_DATABASE_URL` win over it. (`Database`'s `Debug` hides
    /// the password.)
    #[serde(deserialize_with = "database_url")]
    pub url: Option<phoneprov_store::Database>,
    /// Whether `serve` brings an older schema up to date by itself.
    /// Default: true for SQLite (the embedded default), false for
    /// PostgreSQL (several nodes share the schema: migrate with
    /// `phoneprov db migrate` or `serve --migrate`).
    pub auto_migrate: Option<bool>,
}

fn database_url<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<phoneprov_store::Database>, D::Error> {
    let text = String::deserialize(d)?;
    phoneprov_store::Database::parse(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

impl DatabaseConfig {
    /// Whether the configured database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.url.as_ref().is_some_and(|u| u.is_postgres())
    }

    /// The effective migration policy (see [`DatabaseConfig::auto_migrate`]).
    pub fn migrates(&self) -> bool {
        self.auto_migrate.unwrap_or(!self.is_postgres())
    }
}

impl Config {
    /// Reads and checks a TOML file. Errors carry `file:line:column`.
    pub fn load(path: &Path) -> Result<Config, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServerError::ConfigRead {
            path: path.to_path_buf(),
            error: e,
        })?;
        let mut cfg = Config::parse(&text, &path.display().to_string())?;
        cfg.source = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Parses TOML text; `name` is used in error messages.
    pub fn parse(text: &str, name: &str) -> Result<Config, ServerError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ServerError::ConfigSyntax {
                file: name.to_string(),
                line,
                column: col,
                message: e.message().trim().to_string(),
            }
        })?;
        cfg.check(name)?;
        Ok(cfg)
    }

    fn check(&self, name: &str) -> Result<(), ServerError> {
        let bad = |what: String| ServerError::ConfigValue {
            file: name.to_string(),
            message: what,
        };
        if let Some(s) = self.redirect_status {
            if s != 301 && s != 302 {
                return Err(bad(format!("redirect_status = {s}: use 301 or 302")));
            }
        }
        for p in &self.profiles.paths {
            crate::paths::PathPattern::parse(p).map_err(bad)?;
        }
        for mac in self.redirects.keys() {
            phoneprov_store::Mac::parse(mac).map_err(|e| bad(format!("[redirects]: {e}")))?;
        }
        for rule in &self.auth {
            for mac in &rule.macs {
                phoneprov_store::Mac::parse(mac).map_err(|e| bad(format!("[[auth]] macs: {e}")))?;
            }
            if rule.users.is_empty() {
                return Err(bad(
                    "[[auth]] entry without users: add users = { name = \"password\" }".into(),
                ));
            }
        }
        if self.reports.auth == ReportAuth::Users && self.reports.users.is_empty() {
            return Err(bad(
                "[reports] auth = \"users\" without users: add users = { name = \"password\" }, or use auth = \"profiles\"".into(),
            ));
        }
        if self.reports.schemes.is_empty() {
            return Err(bad(
                "[reports] schemes = []: write [\"digest\"], [\"basic\"] or both".into(),
            ));
        }
        if self.profiles.cache_entries == 0 {
            return Err(bad("profiles.cache_entries = 0: use at least 1".into()));
        }
        self.check_acs().map_err(bad)
    }

    /// `[acs]` values serde cannot check: a preset that could never fire
    /// or never be sent, a profile URL that is not one per device.
    fn check_acs(&self) -> Result<(), String> {
        let acs = &self.acs;
        if let Some(url) = &acs.profile_url {
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || !url.contains("{mac}")
            {
                return Err(format!(
                    "acs.profile_url = {url:?}: write an http:// or https:// URL containing {{mac}}, e.g. \"http://prov.example.com:8080/{{mac}}.cfg\""
                ));
            }
        }
        for (i, p) in acs.presets.iter().enumerate() {
            let n = i + 1;
            if p.events.is_empty() {
                return Err(format!(
                    "[[acs.presets]] #{n} has no events: add events = [\"0 BOOTSTRAP\"] (or \"1 BOOT\", \"2 PERIODIC\")"
                ));
            }
            for e in &p.events {
                if !matches!(e.trim(), "0 BOOTSTRAP" | "1 BOOT" | "2 PERIODIC") {
                    return Err(format!(
                        "[[acs.presets]] #{n}: event {e:?} never triggers a preset; use \"0 BOOTSTRAP\", \"1 BOOT\" or \"2 PERIODIC\""
                    ));
                }
            }
            p.task
                .clone()
                .normalize("000000000000", acs.profile_url.as_deref())
                .map_err(|e| format!("[[acs.presets]] #{n}: {e}"))?;
        }
        if acs.body_limit < 4096 {
            return Err(format!(
                "acs.body_limit = {}: use at least 4096 bytes (an Inform is a few KiB)",
                acs.body_limit
            ));
        }
        if let Some(user) = acs.users.keys().find(|u| u.is_empty() || u.contains(':')) {
            return Err(format!(
                "acs.users: user name {user:?} is empty or contains ':'; pick another name"
            ));
        }
        Ok(())
    }

    /// Why the ACS would refuse every CPE, if it would: authentication on
    /// but no `[acs] users`. `phoneprov serve` prints it as a warning (the
    /// default configuration is in this state, on purpose: no CPE is
    /// trusted until credentials are configured).
    pub fn acs_warning(&self) -> Option<String> {
        (self.listen.acs != Listen::Off
            && self.acs.auth != phoneprov_acs::AcsAuth::None
            && self.acs.users.is_empty())
        .then(|| {
            "the ACS refuses every CPE: [acs] auth needs credentials; add users = { \"cpe\" = \"password\" } under [acs], or set auth = \"none\" on a lab network".to_string()
        })
    }

    /// Whether the admin listener speaks HTTPS: when `[tls] cert` names
    /// the operator's certificate (the development CA's certificate is
    /// for phones; on the default loopback address plain HTTP is enough).
    pub fn admin_tls(&self) -> bool {
        self.tls.cert.is_some()
    }

    /// Warnings about the admin surface (issue 17 item 3): the admin routes
    /// on the phones' ports, or the bearer token in clear on a
    /// non-loopback admin address.
    pub fn admin_warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.listen.admin_on_phone_ports {
            w.push("[listen] admin_on_phone_ports = true: /api/v1 and /metrics are also served on the phones' HTTP(S) ports, so the admin token crosses the phones' network; remove it and use the admin listener ([listen] admin)".to_string());
        }
        if let Some(a) = self.listen.admin.addr() {
            if !a.ip().is_loopback() && !self.admin_tls() {
                w.push(format!("[listen] admin ({a}) is plain HTTP on a non-loopback address: the admin token crosses the network in clear; set [tls] cert and key for HTTPS or bind it to 127.0.0.1"));
            }
        }
        w
    }

    /// Request deadline.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.limits.request_timeout_secs.max(1))
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_documented_defaults() {
        let c = Config::parse("", "x.toml").unwrap();
        assert_eq!(c.listen.http, Listen::parse("0.0.0.0:8080").unwrap());
        assert_eq!(c.listen.tftp.addr().unwrap().port(), 6969);
        assert_eq!(c.profiles.encryption, Encryption::Aes256cbc);
        assert_eq!(c.tls.client_auth, ClientAuthMode::Optional);
    }

    #[test]
    fn listen_accepts_port_numbers_off_and_addresses() {
        let c = Config::parse(
            "[listen]\nhttp = 80\nhttps = \"127.0.0.1:443\"\ntftp = \"off\"\nsyslog = \":514\"\n",
            "x.toml",
        )
        .unwrap();
        assert_eq!(c.listen.http.addr().unwrap().port(), 80);
        assert_eq!(c.listen.https, Listen::parse("127.0.0.1:443").unwrap());
        assert_eq!(c.listen.tftp, Listen::Off);
        assert_eq!(c.listen.syslog.addr().unwrap().port(), 514);
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let e = Config::parse("[listen]\nhttp = 80\n[profiles\n", "my.toml").unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("my.toml:3:"), "{s}");
        let e = Config::parse("\n\n[limits]\nmax_body = 3\n", "my.toml").unwrap_err();
        assert!(e.to_string().starts_with("my.toml:4:"), "{e}");
    }

    #[test]
    fn documented_example_config_parses() {
        let text = include_str!("../../../examples/phoneprov.toml");
        let c = Config::parse(text, "examples/phoneprov.toml").unwrap();
        assert_eq!(c.listen.https.addr().unwrap().port(), 8443);
        assert!(c.profiles.gzip && c.profiles.strict);
        assert_eq!(c.listen.acs.addr().unwrap().port(), 7547);
        assert_eq!(c.acs, phoneprov_acs::AcsSettings::default());
        assert_eq!(c.store, phoneprov_store::StoreSettings::default());
    }

    /// Issue 13: `[database]`: SQLite migrates by itself unless told not
    /// to, PostgreSQL only when told; the password never reaches a debug
    /// print; a URL of another kind is one clear error.
    #[test]
    fn database_section_and_migration_defaults() {
        let none = Config::parse("", "x.toml").unwrap();
        assert_eq!(none.database.url, None);
        assert!(none.database.migrates());
        let pg = Config::parse(
            "[database]\nurl = \"postgres://pp:hunter2@db:5432/pp\"\n",
            "x.toml",
        )
        .unwrap();
        assert!(pg.database.is_postgres());
        assert!(!pg.database.migrates());
        let dbg = format!("{:?}", pg.database);
        assert!(
            !dbg.contains("hunter2") && dbg.contains("pp:***@db"),
            "{dbg}"
        );
        let told = Config::parse(
            "[database]\nurl = \"postgresql://db/pp\"\nauto_migrate = true\n",
            "x.toml",
        )
        .unwrap();
        assert!(told.database.migrates());
        let lite = Config::parse("[database]\nauto_migrate = false\n", "x.toml").unwrap();
        assert!(!lite.database.migrates());
        let e = Config::parse("[database]\nurl = \"mysql://u:hunter2@db/pp\"\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("postgres://USER") && !e.contains("hunter2"),
            "{e}"
        );
        assert!(Config::parse("[database]\nuri = \"x\"\n", "x.toml").is_err());
    }

    /// Issue 11: `[store]` retention keys; a bad age is one clear error.
    #[test]
    fn store_retention_settings() {
        let c = Config::parse(
            "[store]\nevents_max_age = \"30days\"\nevents_max_per_device = 0\n",
            "x.toml",
        )
        .unwrap();
        let r = c.store.retention();
        assert_eq!(r.max_age, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(r.max_per_device, None, "0 is no limit");
        assert_eq!(r.max_total, Some(phoneprov_store::DEFAULT_EVENTS_MAX_TOTAL));
        let capped = Config::parse("[store]\nevents_max_total = 5000\n", "x.toml").unwrap();
        assert_eq!(capped.store.retention().max_total, Some(5000));
        let off = Config::parse("[store]\nevents_max_age = \"off\"\n", "x.toml").unwrap();
        assert_eq!(off.store.events_max_age, None);
        assert_eq!(
            off.store.events_max_per_device,
            phoneprov_store::DEFAULT_EVENTS_MAX_PER_DEVICE
        );
        let e = Config::parse("[store]\nevents_max_age = \"soon\"\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml:2") && e.contains("90days"), "{e}");
    }

    #[test]
    fn acs_listener_and_settings() {
        let c = Config::parse("", "x.toml").unwrap();
        assert_eq!(c.listen.acs, Listen::parse("0.0.0.0:7547").unwrap());
        assert_eq!(c.acs, phoneprov_acs::AcsSettings::default());
        assert!(
            c.acs_warning().is_some(),
            "digest without users refuses all"
        );
        let c = Config::parse(
            "[listen]\nacs = \"off\"\n[acs]\nauth = \"basic\"\nrealm = \"r\"\nusers = { cpe = \"pw\" }\n\
             unknown_cpes = \"deny\"\nprofile_url = \"http://prov:8080/{mac}.cfg\"\n\
             [acs.connection_request]\nusername = \"acs\"\npassword = \"crpw\"\n\
             [[acs.presets]]\nevents = [\"0 BOOTSTRAP\"]\nrpc = \"Download\"\nfile_type = \"config\"\n",
            "x.toml",
        )
        .unwrap();
        assert_eq!(c.listen.acs, Listen::Off);
        assert_eq!(c.acs.auth, phoneprov_acs::AcsAuth::Basic);
        assert_eq!(c.acs.users["cpe"], "pw");
        assert_eq!(c.acs.unknown_cpes, phoneprov_acs::UnknownCpes::Deny);
        assert_eq!(c.acs.connection_request.password, "crpw");
        assert_eq!(c.acs.presets.len(), 1);
        assert!(c.acs_warning().is_none());
        let c = Config::parse("[acs]\nauth = \"none\"\n", "x").unwrap();
        assert!(c.acs_warning().is_none());
    }

    #[test]
    fn bad_acs_values_are_one_line_errors() {
        for (text, needle) in [
            ("[acs]\nauth = \"ntlm\"\n", "x:2:"),
            ("[acs]\nuser = { a = \"b\" }\n", "x:2:"),
            ("[acs]\nprofile_url = \"ftp://x/{mac}\"\n", "{mac}"),
            ("[acs]\nprofile_url = \"http://x/all.cfg\"\n", "{mac}"),
            ("[[acs.presets]]\nevents = [\"4 VALUE CHANGE\"]\nrpc = \"Reboot\"\n", "never triggers"),
            ("[[acs.presets]]\nevents = []\nrpc = \"Reboot\"\n", "no events"),
            ("[[acs.presets]]\nevents = [\"1 BOOT\"]\nrpc = \"Download\"\nfile_type = \"config\"\n", "#1"),
            ("[acs]\nbody_limit = 10\n", "body_limit"),
            ("[listen]\nacs = \"nowhere\"\n", "x:2:"),
        ] {
            let e = Config::parse(text, "x").unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Config::parse("redirect_status = 303\n", "x").is_err());
        assert!(Config::parse("[profiles]\npaths = [\"/$XX.cfg\"]\n", "x").is_err());
        assert!(Config::parse("[redirects]\nnotamac = \"http://x\"\n", "x").is_err());
        assert!(Config::parse("[listen]\nhttp = \"nowhere\"\n", "x").is_err());
    }

    #[test]
    fn a_port_that_is_not_a_port_says_what_to_write() {
        for (text, needle) in [
            ("[listen]\nhttp = 70000\n", "port 70000 is not a port"),
            ("[listen]\nhttp = -1\n", "port -1 is not a port"),
            ("[listen]\nhttp = 80.5\n", "80.5 is not a port"),
            ("[listen]\nhttp = true\n", "true is not a listen address"),
            ("[listen]\nhttp = \"80a\"\n", "bad listen address \"80a\""),
            ("[listen]\nhttp = [80]\n", "a listen address"),
        ] {
            let e = Config::parse(text, "x").unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(e.starts_with("x:2:"), "{e}");
            assert!(!e.contains("untagged"), "{e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }
}
