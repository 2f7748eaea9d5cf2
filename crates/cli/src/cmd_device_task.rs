//! `phoneprov device task MAC JSON`: queue a TR-069 task for a device's
//! next CWMP session, with its own retry limit and deadline (issue 14
//! item 4); `phoneprov device task --group G JSON --rate 50` queues it for
//! every device of a selection (`crate::cmd_device_bulk`). Thin glue over
//! `phoneprov_acs::enqueue`, the same call the API and the console make.

use clap::Args;
use phoneprov_acs::{parse_request, TaskOptions};
use phoneprov_store::{Mac, StoreError};

use crate::cmd_device::DataDir;
use crate::cmd_device_bulk::{run_bulk, SelectionArgs};

/// Arguments of `phoneprov device task`.
#[derive(Args, Debug)]
pub struct TaskArgs {
    /// MAC JSON for one device; JSON alone with a selection (--group,
    /// --model, --filter, --macs, --all…). JSON is the task as the API
    /// takes it, e.g. '{"rpc":"GetParameterValues","names":["Device.DeviceInfo."]}'.
    #[arg(value_name = "[MAC] JSON", num_args = 1..=2, required = true)]
    pub targets: Vec<String>,
    /// A still queued task becomes `expired` after this long (90s, 30m,
    /// 1h, 2days) and is never sent.
    #[arg(long, value_name = "DURATION")]
    pub expires_after: Option<String>,
    /// Sends without an answer before the task is given up as `fault`
    /// (1 to 100; default 5).
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<i64>,
    #[command(flatten)]
    pub sel: SelectionArgs,
    #[command(flatten)]
    pub data: DataDir,
}

/// Runs `phoneprov device task`; prints the queued task as JSON (one
/// device) or the bulk job's summary (a selection).
pub fn run_task(args: TaskArgs) -> anyhow::Result<i32> {
    let (mac, json) = match (args.targets.as_slice(), args.sel.given()) {
        ([mac, json], false) => (Some(mac.as_str()), json.as_str()),
        ([json], true) => (None, json.as_str()),
        ([_, _], true) => anyhow::bail!(
            "give either a MAC or a selection (--group, --model, --filter, --macs, --all), not both"
        ),
        _ => anyhow::bail!(
            "give MAC JSON for one device, or JSON with a selection (--group, --model, --filter, --macs, --all)"
        ),
    };
    let (rpc, in_json) = parse_request(json.as_bytes())
        .map_err(|e| anyhow::anyhow!("bad task JSON: {e}; nothing queued"))?;
    let flags = TaskOptions::parse(args.expires_after.as_deref(), args.max_attempts)?;
    let Some(mac) = mac else {
        // The flags go into the task's JSON, which the bulk job stores.
        let mut task: serde_json::Value = serde_json::from_str(json)?;
        if let Some(e) = &args.expires_after {
            task["expires_after"] = e.clone().into();
        }
        if let Some(m) = args.max_attempts {
            task["max_attempts"] = m.into();
        }
        return run_bulk("task", Some(task), &args.sel, &args.data);
    };
    let mac = Mac::parse(mac)?;
    let opts = TaskOptions {
        expires_after: flags.expires_after.or(in_json.expires_after),
        max_attempts: flags.max_attempts.or(in_json.max_attempts),
    };
    let mut store = args.data.open_existing()?;
    if store.device(mac)?.is_none() {
        return Err(StoreError::NotFound(mac).into());
    }
    let task = phoneprov_acs::enqueue(&mut store, mac, rpc, opts, None)?;
    println!("{}", serde_json::to_string_pretty(&task)?);
    Ok(0)
}
