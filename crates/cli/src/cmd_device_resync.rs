//! `phoneprov device resync MAC`: ask a phone to resync now (R-RULE-6).
//!
//! Thin glue over `phoneprov_api::resync_device`: the phone is reached at
//! `--phone HOST[:PORT]`, else at the device's last seen IP from the
//! inventory in `--data`. `GET /admin/resync?RULE` by default, or the XML
//! Execute object POSTed to `/CGI/Execute` with `--execute`. The push is
//! recorded in the device's timeline (`phoneprov device events MAC`).
//!
//! Exit codes: 0 the phone accepted (2xx); 1 the phone answered but refused
//! (non-2xx: it is up, the request was wrong or not allowed); 2 everything
//! else (bad MAC or address, no inventory, unreachable phone).

use anyhow::Context;
use clap::Args;
use phoneprov_api::{resync_device, PushError, PushMethod};
use phoneprov_store::Mac;

use crate::cmd_device::DataDir;

/// Arguments of `phoneprov device resync`.
#[derive(Args, Debug)]
pub struct ResyncArgs {
    /// The device's MAC (000e08abcdef, 00:0E:08:AB:CD:EF or 00-0e-08-ab-cd-ef).
    pub mac: String,
    /// The phone's address: HOST, HOST:PORT or http(s)://HOST[:PORT].
    /// Default: the device's last seen IP, port 80.
    #[arg(long, value_name = "HOST:PORT")]
    pub phone: Option<String>,
    /// A one-off profile rule, e.g. '[--key K] http://prov/$MA.xml'.
    /// Default: the phone runs its own Profile_Rule … Profile_Rule_D.
    #[arg(long)]
    pub rule: Option<String>,
    /// POST the XML Execute object to /CGI/Execute instead of
    /// GET /admin/resync?RULE.
    #[arg(long)]
    pub execute: bool,
    #[command(flatten)]
    pub data: DataDir,
}

/// Runs `phoneprov device resync`; returns the process exit code.
pub fn run_resync(args: ResyncArgs) -> anyhow::Result<i32> {
    let mac = Mac::parse(&args.mac)?;
    let method = if args.execute {
        PushMethod::ExecuteXml
    } else {
        PushMethod::Get
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(resync_device(
        &args.data.dir()?,
        mac,
        args.phone.as_deref(),
        args.rule.as_deref(),
        method,
    ));
    match result {
        Ok(out) => {
            let how = match method {
                PushMethod::Get => "GET",
                PushMethod::ExecuteXml => "POST",
            };
            println!(
                "resync requested from {mac}: {how} {} answered HTTP {}",
                out.url, out.status
            );
            Ok(0)
        }
        Err(e @ PushError::Refused { .. }) => {
            eprintln!("phoneprov: error: {e}");
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}
