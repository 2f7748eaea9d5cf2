//! Configuration checks shared by `phoneprov serve` (at start, before
//! anything is bound or written) and `phoneprov config check` (issue 17
//! item 2, like `nginx -t`), so the two can never disagree.
//!
//! [`check`] looks at a config and a data directory without creating
//! anything (it probes writability with a file it removes at once) and
//! returns every problem found, one line each, naming the setting and
//! what to do:
//!
//! - the data directory exists (or can be created) and is writable;
//! - the static and firmware roots serve no secret (issue 12 item 1): a
//!   root that is or contains the data directory, `ca/`, the database,
//!   the admin token, the templates, the TLS key or the config file, or
//!   that lies inside `ca/`, is refused, and so is a system directory
//!   (`/`, `/etc`, `/proc`, ...) that the operator does not own;
//! - private files (CA key, server key, database and its WAL/SHM, admin
//!   token) are not readable by group or others (issue 12 item 4), with
//!   the `chmod` to run;
//! - the HTTPS certificate, key and client CA load;
//! - the templates compile;
//! - no two TCP listeners share an address.
//!
//! Problems that do not stop the server (a firmware image not there yet,
//! an ACS with no credentials) are warnings.

use std::path::{Component, Path, PathBuf};

use crate::config::{ClientAuthMode, Config, Listen};
use crate::policy::Policy;
use crate::templates::TemplateSet;

/// What [`check`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Problems that stop `serve` (and make `config check` exit non-zero).
    pub errors: Vec<String>,
    /// Problems worth a line at start.
    pub warnings: Vec<String>,
}

impl Report {
    /// Whether nothing stops the server.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The first error and how many more there are, as one line (what
    /// `serve` prints when it refuses to start).
    pub fn summary(&self) -> Option<String> {
        let first = self.errors.first()?;
        Some(match self.errors.len() {
            1 => first.clone(),
            n => format!("{first} (and {} more: run `phoneprov config check`)", n - 1),
        })
    }
}

/// The listeners of a config with their names, in the order `serve`
/// prints them.
pub fn listeners(cfg: &Config) -> [(&'static str, &'static str, Listen); 7] {
    let l = &cfg.listen;
    [
        ("tftp", "tftp", l.tftp),
        ("http", "http", l.http),
        ("https", "https", l.https),
        ("syslog", "udp", l.syslog),
        ("acs", "http", l.acs),
        (
            "admin",
            if cfg.admin_tls() { "https" } else { "http" },
            l.admin,
        ),
        ("acs-tls", "https", l.acs_tls),
    ]
}

/// File name of the admin token (owned by `phoneprov-api`, which this
/// crate does not depend on).
const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Runs every check on `cfg` with data directory `data`.
pub fn check(cfg: &Config, data: &Path) -> Report {
    let mut r = Report::default();
    check_data_dir(data, &mut r);
    if !r.ok() {
        // Everything below lives in the data directory.
        return r;
    }
    let policy = Policy::new(cfg.clone(), data);
    check_roots(cfg, &policy, &mut r);
    let before = r.errors.len();
    check_private_files(cfg, data, &mut r);
    if r.errors.len() == before {
        // (An exposed key would be reported twice.)
        check_tls(cfg, data, &mut r);
    }
    check_templates(cfg, &policy, &mut r);
    check_firmware(cfg, &policy, &mut r);
    check_listeners(cfg, &mut r);
    if let Some(w) = cfg.acs_warning() {
        r.warnings.push(w);
    }
    r.warnings.extend(cfg.admin_warnings());
    check_basic(cfg, &mut r);
    r
}

/// HTTP Basic on plain HTTP (issue 12 item 5): off unless `[security]
/// allow_basic_over_http = true`, which is worth a warning; a Basic-only
/// `[[auth]]` rule then cannot be satisfied over plain HTTP, also said.
fn check_basic(cfg: &Config, r: &mut Report) {
    use crate::config::AuthScheme;
    if cfg.acs.auth == phoneprov_acs::AcsAuth::Basic
        && cfg.listen.acs.addr().is_some()
        && !cfg.security.allow_basic_over_http
    {
        r.errors.push(
            "acs.auth = \"basic\" on the plain-HTTP ACS listener would send CPE passwords in clear text: use auth = \"digest\", serve the ACS over HTTPS only ([listen] acs = \"off\", acs_tls = 7548), or set [security] allow_basic_over_http = true".into(),
        );
    }
    if cfg.security.allow_basic_over_http {
        r.warnings.push(
            "[security] allow_basic_over_http = true: passwords cross plain HTTP in clear text with Basic ([[auth]], the ACS); prefer Digest or HTTPS and remove the setting".into(),
        );
        return;
    }
    if cfg.listen.http.addr().is_none() || cfg.auth.is_empty() {
        return;
    }
    for (i, rule) in cfg.auth.iter().enumerate() {
        if !rule.schemes.contains(&AuthScheme::Digest) {
            r.warnings.push(format!(
                "[[auth]] #{}: schemes = [\"basic\"] only, and Basic is not offered on plain HTTP: its devices can authenticate over HTTPS only; add \"digest\" to schemes, or set [security] allow_basic_over_http = true",
                i + 1
            ));
        }
    }
}

/// `p` made absolute and free of `.`/`..`, with symbolic links resolved in
/// the part that exists (a root that does not exist yet is compared by
/// what it will be).
pub fn real_path(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut clean = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    // Canonicalize the longest existing ancestor, keep the rest.
    let mut tail = Vec::new();
    let mut head = clean.as_path();
    loop {
        if let Ok(c) = std::fs::canonicalize(head) {
            let mut out = c;
            for t in tail.iter().rev() {
                out.push(t);
            }
            return out;
        }
        match (head.parent(), head.file_name()) {
            (Some(parent), Some(name)) => {
                tail.push(name.to_os_string());
                head = parent;
            }
            _ => return clean,
        }
    }
}

fn check_data_dir(data: &Path, r: &mut Report) {
    let shown = data.display();
    match std::fs::metadata(data) {
        Ok(m) if !m.is_dir() => {
            r.errors.push(format!(
                "data directory {shown} is not a directory; pass a directory with --data (or data_dir in the config)"
            ));
        }
        Ok(_) => {
            if let Err(e) = probe_write(data) {
                r.errors.push(format!(
                    "data directory {shown} is not writable ({e}); make it writable by the server's user or pass another --data"
                ));
            }
        }
        Err(_) => {
            // Created at start: the nearest existing ancestor must be a
            // writable directory.
            let mut up = data.parent();
            while let Some(p) = up {
                let p = if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                };
                match std::fs::metadata(p) {
                    Ok(m) if m.is_dir() => {
                        if let Err(e) = probe_write(p) {
                            r.errors.push(format!(
                                "data directory {shown} is not writable: cannot create it in {} ({e}); create it for the server's user or pass a writable directory with --data",
                                p.display()
                            ));
                        }
                        return;
                    }
                    Ok(_) => {
                        r.errors.push(format!(
                            "data directory {shown} is not writable: cannot create it, {} is not a directory; pass a writable directory with --data",
                            p.display()
                        ));
                        return;
                    }
                    Err(_) => up = p.parent(),
                }
            }
        }
    }
}

/// Creates and removes a file in `dir`.
fn probe_write(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".phoneprov-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

/// The data directory's private things a served root must never reach.
fn secrets(cfg: &Config, policy: &Policy, data: &Path) -> Vec<(PathBuf, String, bool)> {
    // (path, what, may a root lie inside it)
    let mut s = vec![
        (
            data.to_path_buf(),
            "the data directory (database, keys, admin token)".to_string(),
            true,
        ),
        (data.join("ca"), "the CA directory (ca/)".into(), false),
        (
            data.join(phoneprov_store::DB_FILE),
            "the database (every device key)".into(),
            false,
        ),
        (data.join(ADMIN_TOKEN_FILE), "the admin token".into(), false),
        (
            policy.dirs.templates.clone(),
            "the templates (profile secrets)".into(),
            false,
        ),
    ];
    let rel = |p: &PathBuf| resolve(p, data);
    if let Some(k) = &cfg.tls.key {
        s.push((rel(k), "the TLS key ([tls] key)".into(), false));
    }
    if let Some(f) = &cfg.source {
        s.push((f.clone(), "the config file".into(), false));
    }
    s.into_iter()
        .map(|(p, what, inside_ok)| (real_path(&p), what, inside_ok))
        .collect()
}

/// A path of the config: absolute, or relative to the data directory.
fn resolve(p: &Path, data: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        data.join(p)
    }
}

/// System directories a served root must not be or be inside.
const SYSTEM_TREES: &[&str] = &["/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/run"];
/// Directories a served root must not be (they hold everybody's files).
const SYSTEM_DIRS: &[&str] = &[
    "/", "/usr", "/var", "/var/lib", "/home", "/bin", "/sbin", "/lib", "/opt",
];

fn check_roots(cfg: &Config, policy: &Policy, r: &mut Report) {
    let secrets = secrets(cfg, policy, &policy.dirs.data);
    let roots = [
        ("static_dir", &cfg.static_dir, &policy.dirs.static_root),
        (
            "firmware_dir",
            &cfg.firmware_dir,
            &policy.dirs.firmware_root,
        ),
    ];
    for (setting, given, resolved) in roots {
        let root = real_path(resolved);
        let shown = given.as_ref().map_or_else(
            || resolved.display().to_string(),
            |g| g.display().to_string(),
        );
        let fix = format!(
            "serve {setting} from a directory of its own (default <data>/{})",
            if setting == "static_dir" {
                "static"
            } else {
                "firmware"
            }
        );
        if SYSTEM_DIRS.iter().any(|d| root == Path::new(d))
            || SYSTEM_TREES.iter().any(|d| root.starts_with(d))
        {
            r.errors.push(format!(
                "{setting} = {shown:?} ({}) is a system directory the server must not publish; {fix}",
                root.display()
            ));
            continue;
        }
        for (secret, what, inside_ok) in &secrets {
            let how = if &root == secret {
                "is"
            } else if secret.starts_with(&root) {
                "contains"
            } else if !inside_ok && root.starts_with(secret) {
                "is inside"
            } else {
                continue;
            };
            r.errors.push(format!(
                "{setting} = {shown:?} ({}) {how} {what} at {}: anyone could download it; {fix}",
                root.display(),
                secret.display()
            ));
            break;
        }
    }
}

fn check_private_files(cfg: &Config, data: &Path, r: &mut Report) {
    let ca = phoneprov_pki::CaFiles {
        dir: data.join("ca"),
    };
    let db = data.join(phoneprov_store::DB_FILE);
    let mut files = vec![
        ca.ca_key(),
        ca.server_key(),
        db.clone(),
        PathBuf::from(format!("{}-wal", db.display())),
        PathBuf::from(format!("{}-shm", db.display())),
        data.join(ADMIN_TOKEN_FILE),
    ];
    if let Some(k) = &cfg.tls.key {
        files.push(resolve(k, data));
    }
    for f in files {
        if let Err(e) = phoneprov_pki::check_private_file(&f) {
            r.errors.push(e.to_string());
        }
    }
}

fn check_tls(cfg: &Config, data: &Path, r: &mut Report) {
    if cfg.listen.https == Listen::Off && cfg.listen.acs_tls == Listen::Off {
        return;
    }
    let tls = &cfg.tls;
    for (setting, p) in [("cert", &tls.cert), ("key", &tls.key)] {
        if let Some(p) = p {
            let p = resolve(p, data);
            if !p.is_file() {
                r.errors.push(format!(
                    "[tls] {setting} = {:?}: no such file; fix the path or remove the setting to use the development CA",
                    p.display()
                ));
                return;
            }
        }
    }
    if tls.cert.is_some() != tls.key.is_some() {
        r.errors.push(
            "[tls] cert and key go together: set both, or neither for the development CA".into(),
        );
        return;
    }
    let needs_ca =
        tls.cert.is_none() || (tls.client_auth != ClientAuthMode::Off && tls.client_ca.is_none());
    let ca = phoneprov_pki::CaFiles {
        dir: data.join("ca"),
    };
    if needs_ca && !(ca.ca_cert().is_file() && ca.ca_key().is_file()) {
        // Nothing to load yet; `serve` creates the development CA.
        return;
    }
    if needs_ca && tls.cert.is_none() && !(ca.server_cert().is_file() && ca.server_key().is_file())
    {
        return;
    }
    if let Err(e) = crate::tls::tls_config(cfg, data) {
        r.errors.push(e.to_string());
    }
}

fn check_templates(cfg: &Config, policy: &Policy, r: &mut Report) {
    let dir = &policy.dirs.templates;
    if !dir.exists() {
        if cfg.templates_dir.is_some() {
            r.errors.push(format!(
                "templates_dir = {:?}: no such directory; fix the path or remove the setting",
                dir.display()
            ));
        }
        // The default one is filled with the examples at first start.
        return;
    }
    if let Err(e) = TemplateSet::load(dir, 1) {
        r.errors.push(e.to_string());
    }
}

fn check_firmware(cfg: &Config, policy: &Policy, r: &mut Report) {
    let fw = &cfg.firmware;
    for (kind, name, target) in fw
        .models
        .iter()
        .map(|(k, t)| ("models", k, t))
        .chain(fw.groups.iter().map(|(k, t)| ("groups", k, t)))
    {
        let path = policy.dirs.firmware_root.join(&target.file);
        if !path.is_file() {
            r.warnings.push(format!(
                "[firmware.{kind}.{name:?}] file {:?} is not in {} yet; phones asking for it get 404",
                target.file,
                policy.dirs.firmware_root.display()
            ));
        }
    }
}

fn check_listeners(cfg: &Config, r: &mut Report) {
    let tcp: Vec<_> = listeners(cfg)
        .into_iter()
        .filter(|(n, _, _)| matches!(*n, "http" | "https" | "acs" | "admin" | "acs-tls"))
        .filter_map(|(n, _, l)| l.addr().map(|a| (n, a)))
        .filter(|(_, a)| a.port() != 0)
        .collect();
    for (i, (n1, a1)) in tcp.iter().enumerate() {
        for (n2, a2) in &tcp[i + 1..] {
            let overlap = a1.port() == a2.port()
                && (a1.ip() == a2.ip() || a1.ip().is_unspecified() || a2.ip().is_unspecified());
            if overlap {
                r.errors.push(format!(
                    "[listen] {n1} ({a1}) and {n2} ({a2}) use the same port; give each its own"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::parse(text, "t.toml").unwrap()
    }

    fn errors(text: &str, data: &Path) -> Vec<String> {
        check(&cfg(text), data).errors
    }

    #[test]
    fn default_config_in_a_fresh_directory_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let r = check(&cfg(""), &dir.path().join("data"));
        assert!(r.ok(), "{r:?}");
    }

    #[test]
    fn r_sec_static_or_firmware_root_over_secrets_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("ca")).unwrap();
        let parent = dir.path().display().to_string();
        for (text, needle) in [
            ("static_dir = \".\"\n", "static_dir = \".\""),
            ("firmware_dir = \"..\"\n", "contains the data directory"),
            (
                &format!("static_dir = \"{parent}\"\n"),
                "contains the data directory",
            ),
            ("static_dir = \"ca\"\n", "is the CA directory"),
            ("firmware_dir = \"ca/sub\"\n", "is inside the CA directory"),
            ("static_dir = \"phoneprov.db\"\n", "is the database"),
            ("static_dir = \"templates\"\n", "is the templates"),
            ("firmware_dir = \"/etc\"\n", "system directory"),
            ("firmware_dir = \"/etc/ssl\"\n", "system directory"),
            ("static_dir = \"/\"\n", "system directory"),
            ("static_dir = \"./static/../.\"\n", "is the data directory"),
        ] {
            let e = errors(text, &data);
            assert_eq!(e.len(), 1, "{text}: {e:?}");
            assert!(e[0].contains(needle), "{text}: {e:?}");
        }
        // The default layout and a root beside the data directory are fine.
        assert!(errors("", &data).is_empty());
        let beside = dir.path().join("www");
        assert!(errors(&format!("static_dir = \"{}\"\n", beside.display()), &data).is_empty());
    }

    #[test]
    fn a_root_containing_the_config_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let www = dir.path().join("www");
        std::fs::create_dir_all(&www).unwrap();
        let file = www.join("serve.toml");
        let text = format!("static_dir = \"{}\"\n", www.display());
        std::fs::write(&file, &text).unwrap();
        let c = Config::load(&file).unwrap();
        let e = check(&c, &data).errors;
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("contains the config file"), "{e:?}");
    }

    #[cfg(unix)]
    #[test]
    fn exposed_private_files_are_refused_with_the_chmod() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        phoneprov_pki::init_ca(&data.join("ca"), "t", &[]).unwrap();
        std::fs::write(data.join("phoneprov.db"), b"").unwrap();
        std::fs::set_permissions(data.join("phoneprov.db"), PermissionsExt::from_mode(0o600))
            .unwrap();
        assert!(errors("", &data).is_empty(), "{:?}", errors("", &data));
        for f in ["ca/ca.key", "ca/server.key", "phoneprov.db"] {
            let p = data.join(f);
            std::fs::set_permissions(&p, PermissionsExt::from_mode(0o644)).unwrap();
            let e = errors("", &data);
            assert_eq!(e.len(), 1, "{f}: {e:?}");
            assert!(
                e[0].contains(&format!("chmod 600 {}", p.display())),
                "{e:?}"
            );
            std::fs::set_permissions(&p, PermissionsExt::from_mode(0o600)).unwrap();
        }
    }

    #[test]
    fn missing_certificate_and_unwritable_data_dir_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let e = errors(
            "[tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"k.pem\"\n",
            &data,
        );
        assert!(
            e.iter()
                .any(|e| e.contains("[tls] cert") && e.contains("no such file")),
            "{e:?}"
        );
        // A data directory under a regular file cannot be created.
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let e = errors("", &file.join("data"));
        assert!(e.iter().any(|e| e.contains("is not a directory")), "{e:?}");
        let e = errors("", &file);
        assert!(e.iter().any(|e| e.contains("is not a directory")), "{e:?}");
    }

    #[test]
    fn a_broken_template_and_clashing_listeners_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("templates")).unwrap();
        std::fs::write(data.join("templates/default.xml.j2"), "{% if %}").unwrap();
        let e = errors("", &data);
        assert!(e.iter().any(|e| e.contains("default.xml.j2")), "{e:?}");
        std::fs::remove_file(data.join("templates/default.xml.j2")).unwrap();
        let e = errors("[listen]\nhttp = 8080\nacs = \"127.0.0.1:8080\"\n", &data);
        assert!(e.iter().any(|e| e.contains("same port")), "{e:?}");
    }

    #[test]
    fn summary_counts_the_rest() {
        let r = Report {
            errors: vec!["a".into(), "b".into(), "c".into()],
            warnings: vec![],
        };
        assert_eq!(
            r.summary().unwrap(),
            "a (and 2 more: run `phoneprov config check`)"
        );
    }
}
