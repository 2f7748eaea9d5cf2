//! `phoneprov device task MAC JSON`: queue a TR-069 task for a device's
//! next CWMP session, with its own retry limit and deadline (issue 14
//! item 4). Thin glue over `phoneprov_acs::enqueue`, the same call the
//! API and the console make.

use clap::Args;
use phoneprov_acs::{parse_request, TaskOptions};
use phoneprov_store::{Mac, StoreError};

use crate::cmd_device::DataDir;

/// Arguments of `phoneprov device task`.
#[derive(Args, Debug)]
pub struct TaskArgs {
    /// The device's MAC.
    pub mac: String,
    /// The task as the API takes it, e.g.
    /// '{"rpc":"GetParameterValues","names":["Device.DeviceInfo."]}'.
    pub task: String,
    /// A still queued task becomes `expired` after this long (90s, 30m,
    /// 1h, 2days) and is never sent.
    #[arg(long, value_name = "DURATION")]
    pub expires_after: Option<String>,
    /// Sends without an answer before the task is given up as `fault`
    /// (1 to 100; default 5).
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<i64>,
    #[command(flatten)]
    pub data: DataDir,
}

/// Runs `phoneprov device task`; prints the queued task as JSON.
pub fn run_task(args: TaskArgs) -> anyhow::Result<i32> {
    let mac = Mac::parse(&args.mac)?;
    let (rpc, in_json) = parse_request(args.task.as_bytes())
        .map_err(|e| anyhow::anyhow!("bad task JSON: {e}; nothing queued"))?;
    let flags = TaskOptions::parse(args.expires_after.as_deref(), args.max_attempts)?;
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
