//! `phoneprov config check [--config FILE] [--data DIR]`: reads the
//! configuration the way `phoneprov serve` would, runs the same checks
//! `serve` runs at start (`phoneprov_server::check`: paths, served roots,
//! key permissions, certificates, templates, listeners) and prints the
//! effective listeners, every warning and every error, one line each.
//! Exits 0 when `serve` would start, 1 otherwise (like `nginx -t`).
//! Nothing is created or changed.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use phoneprov_server::{check, Config, Listen};

/// `phoneprov config ...`.
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check a configuration like `serve` does at start, print the
    /// effective listeners, exit non-zero on any error (like `nginx -t`).
    Check(CheckArgs),
}

/// Arguments of `phoneprov config check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// TOML configuration file (default: the built-in defaults).
    #[arg(long, value_name = "FILE", env = "PHONEPROV_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory. Default: the config's data_dir, else ./phoneprov-data.
    #[arg(long = "data", value_name = "DIR", env = "PHONEPROV_DATA")]
    pub data: Option<PathBuf>,
}

/// Runs the command; returns the exit code.
pub fn run(cmd: ConfigCommand) -> anyhow::Result<i32> {
    let ConfigCommand::Check(args) = cmd;
    let name = args.config.as_ref().map_or_else(
        || "(built-in defaults)".to_string(),
        |p| p.display().to_string(),
    );
    let cfg = match &args.config {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("phoneprov config check: error: {e}");
                eprintln!("phoneprov config check: configuration {name} test failed");
                return Ok(1);
            }
        },
        None => Config::default(),
    };
    let data = check::data_dir(args.data, &cfg);
    let report = check::check(&cfg, &data);
    let mut out = std::io::stdout().lock();
    writeln!(out, "phoneprov config check: data in {}", data.display())?;
    for (name, scheme, listen) in check::listeners(&cfg) {
        match listen {
            Listen::On(a) => writeln!(out, "phoneprov config check: {name:<6} {scheme}://{a}")?,
            Listen::Off => writeln!(out, "phoneprov config check: {name:<6} off")?,
        }
    }
    out.flush()?;
    for w in &report.warnings {
        eprintln!("phoneprov config check: warning: {w}");
    }
    for e in &report.errors {
        eprintln!("phoneprov config check: error: {e}");
    }
    if report.ok() {
        writeln!(out, "phoneprov config check: configuration {name} is ok")?;
        Ok(0)
    } else {
        eprintln!(
            "phoneprov config check: configuration {name} test failed ({} error{})",
            report.errors.len(),
            if report.errors.len() == 1 { "" } else { "s" }
        );
        Ok(1)
    }
}
