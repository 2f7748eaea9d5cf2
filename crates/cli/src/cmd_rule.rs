//! `phoneprov rule ...` subcommands.
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum RuleCommand {}

pub fn run(cmd: RuleCommand) -> anyhow::Result<i32> {
    match cmd {}
}
