//! Template change preview (issue 14 item 5a): what a change to one
//! template file would do to every device's profile, before it is saved.
//!
//! [`template_change_report`] renders each device's profile with the
//! current [`TemplateSet`] and with the changed one through the server's
//! own render path ([`crate::render::plaintext`], the function that makes
//! the profiles the phones get), lints the new profile for the device's
//! model and compares the two parameter by parameter. [`changed_set`]
//! builds the changed set from the template directory. [`ServerTemplates`]
//! lends both to the admin API and the console
//! ([`phoneprov_api::templates::TemplateEditor`]) and saves a change
//! (write the file, reload). `phoneprov template diff` calls the same two
//! functions on a data directory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use phoneprov_api::templates::{
    ChangeReport, DeviceErrors, ParamChange, TemplateEditor, TemplateError, MAX_LISTED_PARAMS,
};
use phoneprov_profile::lint::{lint_str_with, LintOptions, Severity};
use phoneprov_profile::FlatProfile;
use phoneprov_store::{Database, Device, Store, StoreError};

use crate::config::Bound;
use crate::policy::Policy;
use crate::render::{plaintext, Variant};
use crate::state::AppState;
use crate::templates::{read_sources, TemplateSet};

/// The template set of `dir` with `name` replaced by `source` (`None`:
/// removed). A source that does not compile, or that breaks a template
/// extending or including it, is [`TemplateError::Compile`].
pub fn changed_set(
    dir: &Path,
    name: &str,
    source: Option<&str>,
    generation: u64,
) -> Result<TemplateSet, TemplateError> {
    let mut files = read_sources(dir).map_err(|e| TemplateError::Unavailable(e.to_string()))?;
    let had = files.iter().any(|(n, _)| n == name);
    files.retain(|(n, _)| n != name);
    match source {
        Some(s) => files.push((name.to_string(), s.to_string())),
        None if !had => return Err(TemplateError::NotFound(name.to_string())),
        None => {}
    }
    TemplateSet::from_sources(files, generation).map_err(|e| TemplateError::Compile(e.to_string()))
}

/// One device's profile: its parameters, and its lint errors (or the render
/// failure) as `code: message` lines.
struct Rendered {
    params: BTreeMap<String, String>,
    errors: Vec<String>,
}

fn render_one(
    bound: &Bound,
    policy: &Policy,
    templates: &TemplateSet,
    device: &Device,
    host: &str,
) -> Rendered {
    match plaintext(bound, policy, templates, device, Variant::Encrypted, host) {
        Err(e) => Rendered {
            params: BTreeMap::new(),
            errors: vec![format!("does not render: {e}")],
        },
        Ok((template, xml)) => {
            let opts = LintOptions {
                model: device
                    .model
                    .as_deref()
                    .and_then(phoneprov_profile::schema::model),
                ..LintOptions::default()
            };
            let errors = lint_str_with(&template, &xml, opts)
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.to_string().lines().next().unwrap_or("").to_string())
                .collect();
            let params = FlatProfile::parse(&xml)
                .map(|p| {
                    p.entries()
                        .into_iter()
                        .map(|(n, v, _)| (n.to_string(), shown(n, v)))
                        .collect()
                })
                .unwrap_or_default();
            Rendered { params, errors }
        }
    }
}

/// A value as a report shows it: secrets (schema flag, or a rule carrying
/// `--key`) read `(secret)`.
fn shown(name: &str, value: &str) -> String {
    let secret = phoneprov_profile::schema::lookup(name).is_some_and(|s| s.secret)
        || value.contains("--key");
    if secret && !value.is_empty() {
        "(secret)".to_string()
    } else {
        value.to_string()
    }
}

/// An error line without its `file:line:col: ` prefix, so the same error
/// from another template (or line) compares equal.
fn error_key(e: &str) -> &str {
    e.find(": error[").map_or(e, |i| &e[i + 2..])
}

/// The report being built: one device's before and after at a time.
struct Tally {
    report: ChangeReport,
    changes: HashMap<(String, Option<String>, Option<String>), u64>,
}

impl Tally {
    fn new(label: &str, removed: bool) -> Tally {
        Tally {
            report: ChangeReport {
                template: label.to_string(),
                removed,
                ..ChangeReport::default()
            },
            changes: HashMap::new(),
        }
    }

    fn add(&mut self, mac: &str, before: Rendered, after: Rendered) {
        let report = &mut self.report;
        report.devices_checked += 1;
        if before.params != after.params || before.errors != after.errors {
            report.devices_changed += 1;
        }
        let names: BTreeSet<&String> = before.params.keys().chain(after.params.keys()).collect();
        for n in names {
            let (o, v) = (before.params.get(n), after.params.get(n));
            if o != v {
                *self
                    .changes
                    .entry((n.clone(), o.cloned(), v.cloned()))
                    .or_default() += 1;
            }
        }
        let had: BTreeSet<&str> = before.errors.iter().map(|e| error_key(e)).collect();
        let fresh: Vec<String> = after
            .errors
            .iter()
            .filter(|e| !had.contains(error_key(e)))
            .cloned()
            .collect();
        if !fresh.is_empty() {
            report.lint_errors.push(DeviceErrors {
                mac: mac.to_string(),
                errors: fresh,
            });
        }
    }

    fn finish(self) -> ChangeReport {
        let mut report = self.report;
        let mut params: Vec<ParamChange> = self
            .changes
            .into_iter()
            .map(|((name, old, new), count)| ParamChange {
                name,
                old,
                new,
                count,
            })
            .collect();
        params.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.old.cmp(&b.old))
        });
        report.devices_total = report.devices_checked;
        report.params_truncated = params.len() > MAX_LISTED_PARAMS;
        params.truncate(MAX_LISTED_PARAMS);
        report.params = params;
        report
    }
}

/// Why the walk over the devices ended early.
enum Walk {
    Store(StoreError),
    /// The preview's time ran out.
    Deadline,
}

impl From<StoreError> for Walk {
    fn from(e: StoreError) -> Walk {
        Walk::Store(e)
    }
}

/// Renders every device of `store` with `old` and with `new`, in MAC
/// order; see the module docs. `name` and `removed` only label the
/// report. With a `deadline` the preview stops there: the report is then
/// `incomplete`, its counts and lint errors those of the first
/// `devices_checked` of `devices_total` devices (a million devices take
/// about a minute of CPU, longer than an HTTP request may).
#[allow(clippy::too_many_arguments)]
pub fn template_change_report(
    bound: &Bound,
    policy: &Policy,
    old: &TemplateSet,
    new: &TemplateSet,
    name: &str,
    removed: bool,
    store: &Store,
    host: &str,
    deadline: Option<Instant>,
) -> Result<ChangeReport, StoreError> {
    let mut tally = Tally::new(name, removed);
    let walked = store.for_each_device(None, |d| {
        if deadline.is_some_and(|t| Instant::now() >= t) {
            return Err(Walk::Deadline);
        }
        let before = render_one(bound, policy, old, &d, host);
        let after = render_one(bound, policy, new, &d, host);
        tally.add(&d.mac.to_string(), before, after);
        Ok(())
    });
    let incomplete = match walked {
        Ok(()) => false,
        Err(Walk::Deadline) => true,
        Err(Walk::Store(e)) => return Err(e),
    };
    let mut report = tally.finish();
    if incomplete {
        report.incomplete = true;
        report.devices_total = store.count_devices(None)?;
    }
    Ok(report)
}

/// The same report for device changes (issue 14 item 5a: a group, a
/// firmware target variable, any field or variable): each `(current,
/// changed)` pair rendered with the live `templates` and compared.
pub fn device_change_report(
    bound: &Bound,
    policy: &Policy,
    templates: &TemplateSet,
    label: &str,
    pairs: &[(Device, Device)],
    host: &str,
) -> ChangeReport {
    let mut tally = Tally::new(label, false);
    for (old, new) in pairs {
        let before = render_one(bound, policy, templates, old, host);
        let after = render_one(bound, policy, templates, new, host);
        tally.add(&old.mac.to_string(), before, after);
    }
    tally.finish()
}

/// [`template_change_report`] without a running server (`phoneprov
/// template diff`): the config's templates directory and listener
/// addresses, and the devices of `store`.
pub fn offline_report(
    config: &crate::config::Config,
    data: &Path,
    store: &Store,
    name: &str,
    source: Option<&str>,
) -> Result<ChangeReport, TemplateError> {
    phoneprov_api::templates::check_template_name(name)?;
    let policy = Policy::new(config.clone(), data);
    if !policy.dirs.templates.is_dir() {
        // A data directory `serve` never started in: it writes the
        // default templates at its first start.
        return Err(TemplateError::Compile(format!(
            "no templates in {} yet: run `phoneprov serve` once (it writes the default templates there), or create the directory",
            policy.dirs.templates.display()
        )));
    }
    let old = TemplateSet::load(&policy.dirs.templates, 1)
        .map_err(|e| TemplateError::Compile(format!("the current templates do not load: {e}")))?;
    let new = changed_set(&policy.dirs.templates, name, source, 2)?;
    let l = &config.listen;
    let bound = Bound {
        tftp: l.tftp.addr(),
        http: l.http.addr(),
        https: l.https.addr(),
        syslog: l.syslog.addr(),
        acs: l.acs.addr(),
        admin: l.admin.addr(),
        acs_tls: l.acs_tls.addr(),
    };
    let host = crate::pipeline::url_host_of(&policy, &bound, None);
    template_change_report(
        &bound,
        &policy,
        &old,
        &new,
        name,
        source.is_none(),
        store,
        &host,
        None,
    )
    .map_err(|e| TemplateError::Unavailable(e.to_string()))
}

/// How long a preview through the API or the console may render: half
/// the request deadline (`limits.request_timeout_secs`, 30 s by default),
/// so the answer (an `incomplete` report past it) still reaches the
/// client; `phoneprov template diff` has no limit.
pub fn preview_budget(config: &crate::config::Config) -> Duration {
    config.request_timeout() / 2
}

/// [`TemplateEditor`] over the running server: the live templates, the
/// template directory and the database.
pub(crate) struct ServerTemplates {
    /// The server state, once the listeners are bound.
    pub state: Arc<OnceLock<Arc<AppState>>>,
    /// The database (one connection per preview: previews are rare).
    pub db: Database,
}

impl ServerTemplates {
    fn state(&self) -> Result<&Arc<AppState>, TemplateError> {
        self.state.get().ok_or_else(|| {
            TemplateError::Unavailable("the server is still starting; retry in a moment".into())
        })
    }

    fn path(&self, name: &str) -> Result<PathBuf, TemplateError> {
        phoneprov_api::templates::check_template_name(name)?;
        Ok(self.state()?.policy.load().dirs.templates.join(name))
    }
}

impl TemplateEditor for ServerTemplates {
    fn names(&self) -> Result<Vec<String>, TemplateError> {
        let dir = self.state()?.policy.load().dirs.templates.clone();
        let mut names: Vec<String> = read_sources(&dir)
            .map_err(|e| TemplateError::Unavailable(e.to_string()))?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        names.sort();
        Ok(names)
    }

    fn source(&self, name: &str) -> Result<String, TemplateError> {
        let path = self.path(name)?;
        std::fs::read_to_string(&path).map_err(|_| TemplateError::NotFound(name.to_string()))
    }

    fn preview(&self, name: &str, source: Option<&str>) -> Result<ChangeReport, TemplateError> {
        phoneprov_api::templates::check_template_name(name)?;
        let state = self.state()?;
        let policy = state.policy.load();
        let old = state.templates.load();
        let new = changed_set(&policy.dirs.templates, name, source, old.generation())?;
        let host = crate::pipeline::url_host_of(&policy, &state.bound, None);
        let deadline = Instant::now() + preview_budget(&policy.config);
        let store =
            Store::connect(&self.db).map_err(|e| TemplateError::Unavailable(e.to_string()))?;
        template_change_report(
            &state.bound,
            &policy,
            &old,
            &new,
            name,
            source.is_none(),
            &store,
            &host,
            Some(deadline),
        )
        .map_err(|e| TemplateError::Unavailable(e.to_string()))
    }

    fn preview_devices(
        &self,
        label: &str,
        pairs: &[(Device, Device)],
    ) -> Result<ChangeReport, TemplateError> {
        let state = self.state()?;
        let policy = state.policy.load();
        let templates = state.templates.load();
        let host = crate::pipeline::url_host_of(&policy, &state.bound, None);
        Ok(device_change_report(
            &state.bound,
            &policy,
            &templates,
            label,
            pairs,
            &host,
        ))
    }

    fn save(&self, name: &str, source: Option<&str>) -> Result<(), TemplateError> {
        let path = self.path(name)?;
        let state = self.state()?;
        let before = std::fs::read_to_string(&path).ok();
        let io = |e: std::io::Error| TemplateError::Unavailable(format!("{}: {e}", path.display()));
        match source {
            Some(s) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                let tmp = path.with_extension("j2.tmp");
                std::fs::write(&tmp, s).map_err(io)?;
                std::fs::rename(&tmp, &path).map_err(io)?;
            }
            None => std::fs::remove_file(&path).map_err(io)?,
        }
        if let Err(e) = state.reload() {
            // Put the file back: the running set stays what it was.
            let _ = match &before {
                Some(b) => std::fs::write(&path, b),
                None => std::fs::remove_file(&path),
            };
            return Err(TemplateError::Compile(format!(
                "the reload failed, the change was undone: {e}"
            )));
        }
        tracing::info!(
            template = name,
            removed = source.is_none(),
            "template saved and reloaded"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoneprov_store::{Mac, NewDevice};

    fn set(value: &str) -> TemplateSet {
        let src = format!(
            "<flat-profile>\n  <Resync_Periodic>{value}</Resync_Periodic>\n</flat-profile>\n"
        );
        TemplateSet::from_sources(vec![("default.xml.j2".into(), src)], 1).unwrap()
    }

    /// A preview whose deadline has passed stops before the next device:
    /// it says so and counts the fleet; without a deadline every device
    /// is rendered.
    #[test]
    fn a_preview_past_its_deadline_is_incomplete_and_counts_the_fleet() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        for i in 0..5u8 {
            let mac = Mac::parse(&format!("000e080000{i:02x}")).unwrap();
            store.add_device(&NewDevice::new(mac)).unwrap();
        }
        let policy = Policy::new(crate::config::Config::default(), dir.path());
        let bound = Bound::default();
        let (old, new) = (set("3600"), set("7200"));
        let report = |deadline| {
            template_change_report(
                &bound,
                &policy,
                &old,
                &new,
                "default.xml.j2",
                false,
                &store,
                "127.0.0.1",
                deadline,
            )
            .unwrap()
        };
        let late = report(Some(Instant::now()));
        assert!(late.incomplete);
        assert_eq!((late.devices_checked, late.devices_total), (0, 5));
        assert_eq!(late.devices_changed, 0);
        for whole in [
            report(None),
            report(Some(Instant::now() + Duration::from_secs(600))),
        ] {
            assert!(!whole.incomplete);
            assert_eq!((whole.devices_checked, whole.devices_total), (5, 5));
            assert_eq!(whole.devices_changed, 5);
            assert_eq!(whole.params[0].name, "Resync_Periodic");
            assert_eq!(whole.params[0].count, 5);
        }
    }
}
