//! `phoneprov`: one binary for the whole provisioning platform.
//!
//! Subcommands follow the cargo/git style. Each family lives in its own
//! module (`profile`, `rule`, `tftp`, ...) so this file only wires clap to
//! them. Library crates use `thiserror`; this binary turns every error into
//! one clear line on stderr and a non-zero exit (see [`report_error`]).

mod cmd_activation;
mod cmd_ca;
mod cmd_config;
mod cmd_db;
mod cmd_device;
mod cmd_device_bulk;
mod cmd_device_resync;
mod cmd_device_task;
mod cmd_generate;
mod cmd_profile;
mod cmd_rollout;
mod cmd_rule;
mod cmd_serve;
mod cmd_sim;
mod cmd_template;
mod cmd_tftp;
mod cmd_user;
mod logging;
mod sysconf;

use clap::{Parser, Subcommand};

/// Provisioning platform for multiplatform SIP phone fleets.
///
/// Serves per-device, encrypted profiles over TFTP, HTTP and HTTPS from a
/// device inventory, and simulates the phones that fetch them.
///
/// Start the server with `phoneprov serve` (creates ./phoneprov-data, listens
/// on TFTP 6969, HTTP 8080, HTTPS 8443, syslog 5514, TR-069 ACS 7547; an
/// installed system reads /etc/phoneprov/phoneprov.toml and keeps its data
/// in /var/lib/phoneprov), add phones with
/// `phoneprov device import devices.csv`, issue phone certificates with
/// `phoneprov ca issue`, and play the phones with `phoneprov sim`. Check a
/// profile with `phoneprov profile lint FILE`.
#[derive(Parser, Debug)]
#[command(name = "phoneprov", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Activation service: bind phones to providers, issue activation codes.
    #[command(subcommand)]
    Activation(cmd_activation::ActivationCommand),
    /// Manage the provisioning CA and issue server and phone certificates.
    #[command(subcommand)]
    Ca(cmd_ca::CaCommand),
    /// Check the configuration like `serve` does at start (`config check`).
    #[command(subcommand)]
    Config(cmd_config::ConfigCommand),
    /// Database schema: status and migrations (SQLite or PostgreSQL).
    #[command(subcommand)]
    Db(cmd_db::DbCommand),
    /// Manage the device inventory (import, add, list, show, rm, events, resync).
    #[command(subcommand)]
    Device(cmd_device::DeviceCommand),
    /// Write man pages or shell completions (used by packaging).
    #[command(subcommand, hide = true)]
    Generate(cmd_generate::GenerateCommand),
    /// Check, encrypt, decode and list flat profiles (XML).
    #[command(subcommand)]
    Profile(cmd_profile::ProfileCommand),
    /// Staged firmware rollouts with a health gate (start, status, pause, resume, rollback).
    #[command(subcommand)]
    Rollout(cmd_rollout::RolloutCommand),
    /// Expand a profile rule the way a phone would.
    #[command(subcommand)]
    Rule(cmd_rule::RuleCommand),
    /// Run the provisioning server (TFTP, HTTP, HTTPS, syslog, TR-069 ACS, activation).
    Serve(cmd_serve::ServeArgs),
    /// Simulate phones that boot, discover their server and resync.
    Sim(Box<cmd_sim::SimArgs>),
    /// Preview a profile template change on every device (template diff).
    #[command(subcommand)]
    Template(cmd_template::TemplateCommand),
    /// Serve a directory over TFTP or fetch a file with the TFTP client.
    #[command(subcommand)]
    Tftp(cmd_tftp::TftpCommand),
    /// Manage the operator console's users (add, passwd, rm, list).
    #[command(subcommand)]
    User(cmd_user::UserCommand),
}

/// mimalloc instead of glibc's malloc: the server and the simulator make
/// many small short-lived allocations per request (HTTP heads, XML trees,
/// SQL parameters) from several threads, where glibc's arenas spent a
/// fifth of the CPU in `malloc`/`free`/`malloc_consolidate` under the
/// TR-069 Inform benchmark (perf, issue 6).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Activation(cmd) => cmd_activation::run(cmd),
        Command::Ca(cmd) => cmd_ca::run(cmd),
        Command::Config(cmd) => cmd_config::run(cmd),
        Command::Db(cmd) => cmd_db::run(cmd),
        Command::Device(cmd) => cmd_device::run(cmd),
        Command::Generate(cmd) => cmd_generate::run(cmd),
        Command::Profile(cmd) => cmd_profile::run(cmd),
        Command::Rollout(cmd) => cmd_rollout::run(cmd),
        Command::Rule(cmd) => cmd_rule::run(cmd),
        Command::Template(cmd) => cmd_template::run(cmd),
        Command::Tftp(cmd) => cmd_tftp::run(cmd),
        Command::Serve(args) => cmd_serve::run(args),
        Command::Sim(args) => cmd_sim::run(*args),
        Command::User(cmd) => cmd_user::run(cmd),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => report_error(err),
    }
}

/// Prints one line `phoneprov: error: ...` (the error and its causes joined
/// with `: `) and exits with status 2.
fn report_error(err: anyhow::Error) -> ! {
    let chain: Vec<String> = err.chain().map(|e| e.to_string()).collect();
    eprintln!("phoneprov: error: {}", chain.join(": "));
    std::process::exit(2)
}
