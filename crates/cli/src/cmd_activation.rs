//! `phoneprov activation ...`: the self-hosted activation service's data
//! (SPEC R-ACT, `phoneprov-activation`): bind phones (by MAC or serial
//! range) to a provider's profile rule, issue activation codes and short
//! codes, list and unbind.
//!
//! Like `phoneprov device`, every command takes `--data DIR`,
//! `--config FILE` and `--database-url URL` (the database as `serve` finds
//! it, SQLite or PostgreSQL, see [`crate::sysconf`]) and works while
//! `phoneprov serve` has the database open. MACs, URLs (checked with the rule parser)
//! and code lengths are validated before anything is written, so a mistake
//! is one error line, exit status 2, and nothing changed.

use std::io::{self, Write};
use std::time::Duration;

use clap::{Args, Subcommand};
use phoneprov_activation::{
    mask, validate_short_code, validate_url, ActivationStore, Listing, Target, MAX_CODES_PER_CALL,
};
use phoneprov_store::now_ms;

use crate::cmd_device::DataDir;

/// Which phones: a MAC or a serial range.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// One phone's MAC (000e08abcdef, 00:0E:08:AB:CD:EF or 00-0e-08-ab-cd-ef).
    #[arg(long, conflicts_with_all = ["serial_from", "serial_to"])]
    mac: Option<String>,
    /// First serial of a range (inclusive; same length as --serial-to).
    #[arg(long, requires = "serial_to")]
    serial_from: Option<String>,
    /// Last serial of a range (inclusive).
    #[arg(long, requires = "serial_from")]
    serial_to: Option<String>,
}

impl TargetArgs {
    fn target(&self) -> anyhow::Result<Target> {
        Ok(Target::from_parts(
            self.mac.as_deref(),
            self.serial_from.as_deref(),
            self.serial_to.as_deref(),
        )?)
    }
}

#[derive(Subcommand, Debug)]
pub enum ActivationCommand {
    /// Bind a phone (or a serial range) to a provider's profile rule.
    ///
    /// The phone's activation query is then answered with a redirect
    /// profile setting Profile_Rule to the rule. Binding the same MAC or the
    /// same range again replaces the earlier binding.
    Bind {
        #[command(flatten)]
        target: TargetArgs,
        /// The provider's profile rule, e.g. https://prov.example.com/$MA.xml.
        #[arg(long)]
        url: String,
        /// Only phones of this model ($PN) match.
        #[arg(long)]
        model: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Remove a binding (by MAC or exact range) or a short code.
    Unbind {
        #[command(flatten)]
        target: TargetArgs,
        /// Remove this short code instead.
        #[arg(long, conflicts_with_all = ["mac", "serial_from", "serial_to"])]
        short: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Issue single-use 16-digit activation codes, or make a short code.
    ///
    /// A user onboards a phone whose Profile_Rule is gds:// by typing the
    /// code; a short code is typed after `#` and can be used by many phones.
    Code {
        /// The profile rule the codes redirect to.
        #[arg(long)]
        url: String,
        /// How many activation codes.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// How long the codes stay valid (e.g. 7d, 12h, 30m).
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// Make this short code (3 to 16 digits) instead of activation codes.
        #[arg(long, value_name = "DIGITS", conflicts_with_all = ["count", "ttl"])]
        short: Option<String>,
        /// Print JSON instead of one code per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// List bindings, activation codes (masked) and short codes.
    List {
        /// Print JSON (codes in full) instead of tables.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs one `phoneprov activation` command; returns the exit status.
pub fn run(cmd: ActivationCommand) -> anyhow::Result<i32> {
    match cmd {
        ActivationCommand::Bind {
            target,
            url,
            model,
            data,
        } => {
            let target = target.target()?;
            validate_url(&url)?;
            let b = ActivationStore::with_store(data.open()?)?.bind(
                &target,
                &url,
                model.as_deref(),
                now_ms(),
            )?;
            println!(
                "bound {} to {}",
                who(&b.mac, &b.serial_from, &b.serial_to),
                b.url
            );
            Ok(0)
        }
        ActivationCommand::Unbind {
            target,
            short,
            data,
        } => {
            let (removed, what) = match short {
                Some(d) => {
                    validate_short_code(&d)?;
                    (
                        ActivationStore::with_store(data.open_existing()?)?
                            .remove_short_code(&d)?,
                        format!("short code #{d}"),
                    )
                }
                None => {
                    let t = target.target()?;
                    let what = match &t {
                        Target::Mac(m) => m.to_string(),
                        Target::Serials { from, to } => format!("serials {from}..{to}"),
                    };
                    (
                        ActivationStore::with_store(data.open_existing()?)?.unbind(&t)?,
                        what,
                    )
                }
            };
            if removed {
                println!("removed {what}");
                Ok(0)
            } else {
                eprintln!(
                    "phoneprov: {what} was not bound; `phoneprov activation list` shows what is"
                );
                Ok(1)
            }
        }
        ActivationCommand::Code {
            url,
            count,
            ttl,
            short,
            json,
            data,
        } => {
            // Everything is checked before the data directory is touched.
            validate_url(&url)?;
            match &short {
                Some(d) => validate_short_code(d)?,
                None if count == 0 || count > MAX_CODES_PER_CALL => {
                    anyhow::bail!(
                        "cannot issue {count} codes at once; ask for 1 to {MAX_CODES_PER_CALL}"
                    )
                }
                None => {}
            }
            let mut store = ActivationStore::with_store(data.open()?)?;
            let mut out = io::stdout().lock();
            match short {
                Some(d) => {
                    let s = store.add_short_code(&d, &url, now_ms())?;
                    if json {
                        serde_json::to_writer_pretty(&mut out, &s)?;
                        writeln!(out)?;
                    } else {
                        writeln!(out, "#{}", s.code)?;
                    }
                }
                None => {
                    let codes = store.issue_codes(&url, count, ttl, now_ms())?;
                    if json {
                        serde_json::to_writer_pretty(&mut out, &codes)?;
                        writeln!(out)?;
                    } else {
                        for c in &codes {
                            writeln!(out, "{}", c.code)?;
                        }
                    }
                }
            }
            Ok(0)
        }
        ActivationCommand::List { json, data } => {
            let listing = ActivationStore::with_store(data.open_existing()?)?.list()?;
            let mut out = io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &listing)?;
                writeln!(out)?;
            } else {
                print_tables(&mut out, &listing, now_ms())?;
            }
            Ok(0)
        }
    }
}

fn who(mac: &Option<String>, from: &Option<String>, to: &Option<String>) -> String {
    match (mac, from, to) {
        (Some(m), _, _) => m.clone(),
        (None, Some(f), Some(t)) => format!("serials {f}..{t}"),
        _ => "?".into(),
    }
}

/// Human tables; activation codes masked (they are bearer secrets: `--json`
/// prints them in full for whoever needs to hand them out again).
fn print_tables(out: &mut impl Write, l: &Listing, now: i64) -> io::Result<()> {
    writeln!(out, "bindings: {}", l.bindings.len())?;
    for b in &l.bindings {
        writeln!(
            out,
            "  {:<28} {:<14} {}  ({})",
            who(&b.mac, &b.serial_from, &b.serial_to),
            b.model.as_deref().unwrap_or("-"),
            b.url,
            b.source
        )?;
    }
    writeln!(out, "codes: {}", l.codes.len())?;
    for c in &l.codes {
        let state = match (&c.used_by, c.expires_ms <= now) {
            (Some(m), _) => format!("used by {m}"),
            (None, true) => "expired".into(),
            (None, false) => "unused".into(),
        };
        writeln!(out, "  {}  {:<22} {}", mask(&c.code), state, c.url)?;
    }
    writeln!(out, "short codes: {}", l.short_codes.len())?;
    for s in &l.short_codes {
        writeln!(out, "  #{:<17} {}", s.code, s.url)?;
    }
    Ok(())
}
