//! `phoneprov rollout start|status|pause|resume|rollback` (issue 14 item
//! 5b): staged firmware rollouts through `phoneprov_api::rollout` (the
//! shell the API and the console use). The commands write the database;
//! the running server's driver starts the waves and applies the health
//! gate, so `start` returns at once and `status` shows where it stands.
//!
//! Exit codes: 0 done; 1 `status` of a halted rollout (its failures are
//! listed); 2 bad input or no such rollout (nothing written).

use clap::Subcommand;
use phoneprov_api::rollout::{self, RolloutRequest, RolloutStatus};
use phoneprov_store::{now_ms, Rollout};

use crate::cmd_device::DataDir;
use crate::cmd_device_bulk::SelectionArgs;

/// Parsed once per run, so the size of `Start` costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum RolloutCommand {
    /// Start a staged rollout of a firmware target to a selection.
    ///
    /// The selection flags are those of `device resync` (`--group`,
    /// `--model`, `--filter`, `--macs`, `--all`…); `--rate` is how many
    /// resyncs per second are pushed to a wave's phones when it starts
    /// (0: none, phones take the target at their next periodic resync).
    Start {
        /// The target version (what phones announce once upgraded).
        #[arg(long, value_name = "VERSION")]
        fw_version: String,
        /// The image, a file under the server's firmware directory.
        #[arg(long, value_name = "FILE")]
        file: String,
        /// Cumulative percents per wave, ending at 100.
        #[arg(
            long,
            value_delimiter = ',',
            value_name = "P,P…",
            default_value = "1,10,50,100"
        )]
        waves: Vec<u32>,
        /// Halt when more than this percent of a wave's devices failed.
        #[arg(long, value_name = "PERCENT", default_value_t = 10)]
        threshold: u32,
        /// How long a wave waits for reports (silent devices then count
        /// as failed).
        #[arg(long, value_name = "DURATION", default_value = "30m")]
        wave_timeout: String,
        /// How long a healthy wave is watched before the next starts.
        #[arg(long, value_name = "DURATION", default_value = "0s")]
        soak: String,
        #[command(flatten)]
        sel: SelectionArgs,
        #[command(flatten)]
        data: DataDir,
    },
    /// Show a rollout (the newest without ID): its state, waves, counts
    /// and failed devices with their reasons.
    Status {
        /// Rollout id.
        id: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Pause a running rollout.
    Pause {
        /// Rollout id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Resume a paused rollout, or a halted one (its next wave starts now).
    Resume {
        /// Rollout id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Roll a rollout back: its devices get their previous firmware target.
    Rollback {
        /// Rollout id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDir,
    },
}

fn print(r: &Rollout, json: bool, extra: Option<(&str, u64)>) -> anyhow::Result<()> {
    if json {
        let mut v = serde_json::to_value(r)?;
        if let Some((k, n)) = extra {
            v[k] = n.into();
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", summary(r));
        if let Some((_, n)) = extra {
            println!("{n} devices back on their previous firmware target");
        }
    }
    Ok(())
}

fn summary(r: &Rollout) -> String {
    let wave = if r.wave < 0 {
        "no wave started yet".to_string()
    } else {
        format!(
            "wave {} of {} ({} %)",
            r.wave + 1,
            r.waves.len(),
            r.waves[r.wave as usize]
        )
    };
    let mut s = format!(
        "rollout {} {}: firmware {} ({}) to {} devices, {wave}",
        r.id, r.state, r.version, r.file, r.total
    );
    if let Some(why) = &r.reason {
        s.push_str(&format!("\n  {why}"));
    }
    s
}

fn print_status(st: &RolloutStatus, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(st)?);
        return Ok(());
    }
    println!("{}", summary(&st.rollout));
    for c in &st.counts {
        println!("  wave {}: {} {}", c.wave + 1, c.devices, c.result);
    }
    for f in &st.failed {
        println!(
            "  failed {} (wave {}): {}",
            f.mac,
            f.wave + 1,
            f.reason.as_deref().unwrap_or("?")
        );
    }
    Ok(())
}

/// Runs a `rollout` subcommand; returns the exit code.
pub fn run(cmd: RolloutCommand) -> anyhow::Result<i32> {
    match cmd {
        RolloutCommand::Start {
            fw_version,
            file,
            waves,
            threshold,
            wave_timeout,
            soak,
            sel,
            data,
        } => {
            let req = RolloutRequest {
                version: fw_version,
                file,
                selection: sel.selection(),
                waves: Some(waves),
                threshold_pct: Some(threshold),
                wave_timeout: Some(wave_timeout),
                soak: Some(soak),
                push_rate: Some(sel.rate()?),
            };
            let mut store = data.open_existing()?;
            let r = rollout::create(&mut store, &req, "cli")
                .map_err(|e| anyhow::anyhow!("{e}; nothing started"))?;
            print(&r, sel.json, None)?;
            if !sel.json {
                println!("the running server starts wave 1 within a second; follow it with phoneprov rollout status {}", r.id);
            }
            Ok(0)
        }
        RolloutCommand::Status { id, json, data } => {
            let store = data.open_existing()?;
            let id = match id {
                Some(id) => id,
                None => store.rollouts(1)?.first().map(|r| r.id).ok_or_else(|| {
                    anyhow::anyhow!("no rollout yet; start one with phoneprov rollout start")
                })?,
            };
            let st = rollout::status(&store, id)?;
            print_status(&st, json)?;
            Ok(if st.rollout.state == "halted" { 1 } else { 0 })
        }
        RolloutCommand::Pause { id, json, data } => {
            let r = rollout::pause(&mut data.open_existing()?, id)?;
            print(&r, json, None)?;
            Ok(0)
        }
        RolloutCommand::Resume { id, json, data } => {
            // A wave started here (a halted rollout resumed) is pushed at
            // the rollout's rate before the command returns, as the
            // server's driver and the API push theirs.
            let mut store = data.open_existing()?;
            let db = store.database().clone();
            let (r, started) = rollout::resume(&mut store, id, now_ms())?;
            drop(store);
            print(&r, json, None)?;
            if let Some(w) = started.filter(|w| w.push_rate > 0 && !w.devices.is_empty()) {
                let n = w.devices.len();
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                let store = std::sync::Arc::new(std::sync::Mutex::new(
                    phoneprov_store::Store::connect(&db)?,
                ));
                rt.block_on(rollout::push_wave(store, w));
                if !json {
                    println!("pushed a resync to the {n} devices of the new wave");
                }
            }
            Ok(0)
        }
        RolloutCommand::Rollback { id, json, data } => {
            let (n, r) = rollout::roll_back(&mut data.open_existing()?, id, "cli")?;
            print(&r, json, Some(("rolled_back_devices", n)))?;
            Ok(0)
        }
    }
}
