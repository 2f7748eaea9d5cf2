//! `phoneprov template diff NAME FILE [--json]`: what saving FILE as the
//! template NAME (`group/sales.xml.j2`) would do to every device, before
//! it is saved (issue 14 item 5a): devices changed, parameters changed
//! (old → new, how many devices) and each device whose profile would get
//! lint errors. The rendering is the server's
//! (`phoneprov_server::template_change::offline_report`), on the data directory and
//! database `serve` uses; nothing is written. Exits 1 when a device would
//! get lint errors (the API and the console refuse such a save without
//! `force`), 0 otherwise.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use phoneprov_api::templates::ChangeReport;

use crate::sysconf::StoreArgs;

#[derive(Subcommand, Debug)]
pub enum TemplateCommand {
    /// Preview a template change on every device: what changes, and which
    /// devices would get lint errors (nothing is saved).
    Diff {
        /// Template name under the templates directory (default.xml.j2,
        /// model/PN.xml.j2, group/NAME.xml.j2, device/MAC.xml.j2).
        name: String,
        /// The new source ('-' reads standard input); omit with --remove.
        #[arg(required_unless_present = "remove")]
        file: Option<PathBuf>,
        /// Preview removing the template instead.
        #[arg(long, conflicts_with = "file")]
        remove: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(cmd: TemplateCommand) -> anyhow::Result<i32> {
    let TemplateCommand::Diff {
        name,
        file,
        remove,
        json,
        store,
    } = cmd;
    let source = match (&file, remove) {
        (_, true) => None,
        (Some(p), false) if p.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the template from standard input")?;
            Some(s)
        }
        (Some(p), false) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {} (UTF-8 text expected)", p.display()))?,
        ),
        (None, false) => anyhow::bail!("give the new template FILE, or --remove"),
    };
    let resolved = store.data.resolve()?;
    let db = store.open_existing()?;
    let report = phoneprov_server::template_change::offline_report(
        &resolved.config,
        &resolved.data,
        &db,
        &name,
        source.as_deref(),
    )?;
    let text = match json {
        true => format!("{}\n", serde_json::to_string_pretty(&report)?),
        false => human(&report),
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) ends the output quietly.
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    Ok(if report.lint_errors.is_empty() { 0 } else { 1 })
}

/// Devices listed with their errors in the terminal report (all of them
/// with `--json`).
const HUMAN_DEVICES: usize = 20;

fn value(v: &Option<String>) -> String {
    v.as_ref().map_or("(unset)".into(), |v| format!("{v:?}"))
}

/// The report as lines for a terminal.
fn human(r: &ChangeReport) -> String {
    let mut out = format!(
        "{}{}: {} devices checked, {} would change\n",
        r.template,
        if r.removed { " (removed)" } else { "" },
        r.devices_checked,
        r.devices_changed
    );
    for p in &r.params {
        out.push_str(&format!(
            "  {}: {} -> {} ({} device{})\n",
            p.name,
            value(&p.old),
            value(&p.new),
            p.count,
            if p.count == 1 { "" } else { "s" }
        ));
    }
    if r.params_truncated {
        out.push_str("  … (more changes; see --json)\n");
    }
    if r.lint_errors.is_empty() {
        out.push_str("no new lint errors\n");
    } else {
        out.push_str(&format!(
            "lint errors on {} device{} (a save would be refused without force):\n",
            r.lint_errors.len(),
            if r.lint_errors.len() == 1 { "" } else { "s" }
        ));
        for d in r.lint_errors.iter().take(HUMAN_DEVICES) {
            for e in &d.errors {
                out.push_str(&format!("  {}: {e}\n", d.mac));
            }
        }
        if r.lint_errors.len() > HUMAN_DEVICES {
            out.push_str(&format!(
                "  … and {} more devices (see --json)\n",
                r.lint_errors.len() - HUMAN_DEVICES
            ));
        }
    }
    out
}
