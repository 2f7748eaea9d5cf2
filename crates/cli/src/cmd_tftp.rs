//! `phoneprov tftp ...` subcommands.
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum TftpCommand {}

/// Runs a TFTP subcommand; returns the process exit code.
pub fn run(cmd: TftpCommand) -> anyhow::Result<i32> {
    match cmd {}
}
