//! `phoneprov profile ...` subcommands.
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {}

pub fn run(cmd: ProfileCommand) -> anyhow::Result<i32> {
    match cmd {}
}
