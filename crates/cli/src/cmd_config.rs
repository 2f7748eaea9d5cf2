//! `phoneprov config check [--config FILE] [--data DIR]`: reads the
//! configuration the way `phoneprov serve` would, runs the same checks
//! `serve` runs at start (`phoneprov_server::check`: paths, served roots,
//! key permissions, certificates, templates, listeners) and prints the
//! effective listeners, every warning and every error, one line each.
//! Exits 0 when `serve` would start, 1 otherwise (like `nginx -t`).
//! Nothing is created or changed.

use std::io::Write as _;

use clap::{Args, Subcommand};
use phoneprov_server::{check, Listen};

/// `phoneprov config ...`.
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check a configuration like `serve` does at start, print the
    /// effective listeners, exit non-zero on any error (like `nginx -t`).
    Check(CheckArgs),
}

/// Arguments of `phoneprov config check`: the same `--config` and
/// `--data` lookup as `serve` (`/etc/phoneprov/phoneprov.toml` when it
/// exists).
#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    data: crate::sysconf::DataArgs,
}

/// Runs the command; returns the exit code.
pub fn run(cmd: ConfigCommand) -> anyhow::Result<i32> {
    let ConfigCommand::Check(args) = cmd;
    let resolved = match args.data.resolve() {
        Ok(r) => r,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|e| e.to_string()).collect();
            eprintln!("phoneprov config check: error: {}", chain.join(": "));
            eprintln!("phoneprov config check: configuration test failed");
            return Ok(1);
        }
    };
    let name = resolved.file.as_ref().map_or_else(
        || "(built-in defaults)".to_string(),
        |p| p.display().to_string(),
    );
    let (cfg, data) = (resolved.config, resolved.data);
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
