//! `phoneprov serve`: parses the flags and runs `phoneprov_server::serve::run`
//! (see the `phoneprov-server` docs). `--config FILE` reads a TOML file (see
//! `examples/phoneprov.toml`); `--http/--https/--tftp/--syslog/--acs/--acs-tls/
//! --admin ADDR|off` override it, at start and after every SIGHUP reload;
//! `--database-url`, `--migrate`: see `cmd_db`.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use phoneprov_server::{Config, Listen, ListenOverrides, StartOptions};

/// Arguments of `phoneprov serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// `--data DIR`, `--config FILE` (see `sysconf`).
    #[command(flatten)]
    pub paths: crate::sysconf::DataArgs,
    /// HTTP listen address (ADDR:PORT, PORT, or off).
    #[arg(long, value_name = "ADDR", value_parser = Listen::parse)]
    pub http: Option<Listen>,
    /// HTTPS listen address (ADDR:PORT, PORT, or off).
    #[arg(long, value_name = "ADDR", value_parser = Listen::parse)]
    pub https: Option<Listen>,
    /// TFTP listen address (ADDR:PORT, PORT, or off).
    #[arg(long, value_name = "ADDR", value_parser = Listen::parse)]
    pub tftp: Option<Listen>,
    /// Syslog (UDP) listen address (ADDR:PORT, PORT, or off).
    #[arg(long, value_name = "ADDR", value_parser = Listen::parse)]
    pub syslog: Option<Listen>,
    /// TR-069 ACS listen address (ADDR:PORT, PORT, or off; default
    /// 0.0.0.0:7547). CPE credentials and presets: [acs] in --config.
    #[arg(long, value_name = "ADDR", value_parser = Listen::parse)]
    pub acs: Option<Listen>,
    /// Admin listener address: /api/v1, /metrics, the OpenAPI document
    /// (ADDR:PORT, PORT, or off; default 127.0.0.1:9080; HTTPS when [tls]
    /// cert is set).
    #[arg(long, value_name = "ADDR", value_parser = Listen::parse)]
    pub admin: Option<Listen>,
    /// TR-069 ACS over HTTPS, with the HTTPS certificates (ADDR:PORT, PORT, or off; default off).
    #[arg(long, value_name = "ADDR", value_parser = Listen::parse)]
    pub acs_tls: Option<Listen>,
    #[command(flatten)]
    pub db: crate::cmd_db::ServeDb,
}

/// Runs the server until SIGTERM/Ctrl-C; returns the exit code.
pub fn run(args: ServeArgs) -> anyhow::Result<i32> {
    let flags = ListenOverrides {
        tftp: args.tftp,
        http: args.http,
        https: args.https,
        syslog: args.syslog,
        acs: args.acs,
        admin: args.admin,
        acs_tls: args.acs_tls,
    };
    let resolved = args.paths.resolve()?;
    let mut cfg = resolved.config;
    crate::logging::init_stderr(cfg.log.level.as_deref())?;
    flags.apply(&mut cfg);
    args.db.apply(&mut cfg);
    let mut opts = StartOptions::new(resolved.data, cfg);
    opts.config_file = resolved.file;
    opts.overrides = Arc::new(move |c: &mut Config| flags.apply(c));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("phoneprov-serve")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(phoneprov_server::serve::run(opts))?;
    Ok(0)
}
