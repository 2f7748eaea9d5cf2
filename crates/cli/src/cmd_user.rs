//! `phoneprov user add|passwd|rm|token|list`: the operator console's users
//! (issue 14). The logic (name rules, argon2 hashing, storage) is
//! `phoneprov_console::users`; this file parses flags and reads the
//! password from standard input (one line), so it never shows up in `ps`
//! or shell history: `printf '%s\n' "$PW" | phoneprov user add ann --role admin`.

use std::io::{self, BufRead, IsTerminal, Write};

use clap::Subcommand;
use phoneprov_console::users;
use phoneprov_store::Role;

use crate::sysconf::StoreArgs as DataArgs;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a console user; the password is read from standard input.
    Add {
        /// Sign-in name (a-z, 0-9, '.', '_', '-').
        name: String,
        /// admin (everything) or helpdesk (view, resync, read-only tasks; no keys).
        #[arg(long)]
        role: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Set a user's password, read from standard input.
    Passwd {
        /// Sign-in name.
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove a user; their sessions end at their next request.
    Rm {
        /// Sign-in name.
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Print a new bearer token for the REST API with the user's role
    /// (admin or helpdesk), replacing the user's earlier one; the server
    /// keeps only its SHA-256. `--revoke` removes it.
    Token {
        /// Sign-in name.
        name: String,
        /// Remove the user's token instead.
        #[arg(long)]
        revoke: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List users and roles.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

/// One line of standard input, without its line end (a prompt on a
/// terminal; the password is echoed there, so prefer a pipe).
fn read_password() -> anyhow::Result<String> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
        io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn run(cmd: UserCommand) -> anyhow::Result<i32> {
    match cmd {
        UserCommand::Add { name, role, data } => {
            let role: Role = role.parse()?;
            users::check_name(&name)?;
            let password = read_password()?;
            users::add(&mut data.open()?, &name, role, &password)?;
            println!("added {role} {name}");
        }
        UserCommand::Passwd { name, data } => {
            let mut store = data.open_existing()?;
            let password = read_password()?;
            users::passwd(&mut store, &name, &password)?;
            println!("password of {name} changed");
        }
        UserCommand::Rm { name, data } => {
            users::remove(&mut data.open_existing()?, &name)?;
            println!("removed {name}");
        }
        UserCommand::Token { name, revoke, data } => {
            let mut store = data.open_existing()?;
            match users::api_token(&mut store, &name, !revoke)? {
                Some(token) => println!("{token}"),
                None => println!("API token of {name} revoked"),
            }
        }
        UserCommand::List { data } => {
            let store = data.open_existing()?;
            for u in users::list(&store)? {
                println!("{}\t{}", u.name, u.role);
            }
        }
    }
    Ok(0)
}
