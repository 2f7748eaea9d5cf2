//! Fleet-wide `phoneprov device resync` and `device task` (issue 14 item
//! 4): the selection flags, and the job run in this process through
//! `phoneprov_api::bulk::run_here` (the runner the API and the console
//! use) with a progress bar on standard error and a summary (`--json`:
//! the job as JSON) on standard output. The job is recorded in the
//! database, so the console's jobs page shows it too. A task job sends
//! each CPE a connection request, as the API's jobs do.
//!
//! Exit codes: 0 every device succeeded or was skipped; 1 some failed
//! (listed); 2 the job could not run (bad selection, no inventory).

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use phoneprov_api::bulk::{BulkRequest, DEFAULT_RATE};
use phoneprov_store::{BulkJob, Selection};

use crate::cmd_device::DataDir;

/// Which devices, for a fleet-wide resync or task.
#[derive(Args, Debug, Default)]
pub struct SelectionArgs {
    /// Devices of this group.
    #[arg(long)]
    pub group: Option<String>,
    /// Devices of this model.
    #[arg(long)]
    pub model: Option<String>,
    /// The device list's search: a MAC prefix (any notation), a serial or
    /// a variable value prefix.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Devices whose last outcome is this (A, B, C…, or never).
    #[arg(long)]
    pub outcome: Option<String>,
    /// Devices running this firmware.
    #[arg(long)]
    pub firmware: Option<String>,
    /// Devices last seen more than this many days ago.
    #[arg(long, value_name = "DAYS")]
    pub older: Option<String>,
    /// These devices, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "MAC,MAC…")]
    pub macs: Vec<String>,
    /// Every device.
    #[arg(long)]
    pub all: bool,
    /// Devices per second (1 to 1000).
    #[arg(long, value_name = "N/s", default_value_t = DEFAULT_RATE.to_string())]
    pub rate: String,
    /// Print the finished job as JSON instead of a summary line.
    #[arg(long)]
    pub json: bool,
}

impl SelectionArgs {
    /// Whether any selection flag was given.
    pub fn given(&self) -> bool {
        self.selection() != Selection::default()
    }

    pub(crate) fn selection(&self) -> Selection {
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        Selection {
            q: s(&self.filter),
            model: s(&self.model),
            group: s(&self.group),
            outcome: s(&self.outcome),
            firmware: s(&self.firmware),
            older: s(&self.older),
            macs: self.macs.clone(),
            all: self.all,
        }
    }

    /// The rate: `50` or `50/s` (a rollout's push rate may be 0).
    pub(crate) fn rate(&self) -> anyhow::Result<u32> {
        let r = self.rate.trim().trim_end_matches("/s");
        r.parse().map_err(|_| {
            anyhow::anyhow!(
                "--rate {:?} is not N or N/s (devices per second)",
                self.rate
            )
        })
    }
}

/// Runs `action` (`resync`, or `task` with its JSON) over the selection
/// here; returns the exit code.
pub fn run_bulk(
    action: &str,
    task: Option<serde_json::Value>,
    sel: &SelectionArgs,
    data: &DataDir,
) -> anyhow::Result<i32> {
    let req = BulkRequest {
        action: action.into(),
        task,
        selection: sel.selection(),
        rate: Some(sel.rate()?),
    };
    let plan = req
        .plan()
        .map_err(|e| anyhow::anyhow!("{e}; nothing sent"))?;
    let db = data.open_existing()?.database().clone();
    // A task job asks each CPE to connect now, as the API's does, with
    // the configuration's `[acs] connection_request` credentials (best
    // effort: a CPE that cannot be reached runs it at its next Inform).
    let acs = match &plan.action {
        phoneprov_api::bulk::BulkAction::Task(..) => {
            let settings = data.data.resolve()?.config.acs;
            Some(phoneprov_acs::Acs::open_db(&db, settings)?)
        }
        phoneprov_api::bulk::BulkAction::Resync => None,
    };
    let bar = if sel.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .expect("static template is valid"),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let job = rt.block_on(phoneprov_api::bulk::run_here(&db, plan, acs, "cli", |j| {
        bar.set_length(u64::try_from(j.total).unwrap_or(0));
        bar.set_position(u64::try_from(j.handled()).unwrap_or(0));
        bar.set_message(counts(j));
    }))?;
    bar.finish_and_clear();
    if sel.json {
        println!("{}", serde_json::to_string_pretty(&job)?);
    } else {
        println!(
            "bulk job {} {}: {} devices, {}",
            job.id,
            job.state,
            job.total,
            counts(&job)
        );
        for f in job.failures.as_array().into_iter().flatten().take(10) {
            eprintln!(
                "phoneprov: {}: {}",
                f["mac"].as_str().unwrap_or("?"),
                f["error"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(if job.failed > 0 { 1 } else { 0 })
}

fn counts(j: &BulkJob) -> String {
    format!(
        "{} succeeded, {} failed, {} skipped",
        j.succeeded, j.failed, j.skipped
    )
}
