//! `phoneprov rule ...`: evaluate a profile rule the way a phone would.
//!
//! The phone engine and this command share `phoneprov-rule`, so what `rule
//! expand` prints is exactly the URL a virtual phone will fetch.

use anyhow::{bail, Context};
use clap::Subcommand;
use phoneprov_rule::{MacroContext, ProfileRule};

#[derive(Subcommand, Debug)]
pub enum RuleCommand {
    /// Evaluate a rule (conditions, assignments, options, macros) and print
    /// the chosen alternative's URL.
    ///
    /// Example: `phoneprov rule expand --mac 000e08012345 --gpp B=Dj6Lmp23Q
    /// 'tftp://prov.telco.com/cisco/$B/$MA.cfg'` prints
    /// `tftp://prov.telco.com/cisco/Dj6Lmp23Q/000e08012345.cfg`.
    Expand {
        /// The phone's MAC address (12 hex digits, colons or dashes allowed).
        #[arg(long, default_value = "000e08012345")]
        mac: String,
        /// Serial number ($SN).
        #[arg(long)]
        sn: Option<String>,
        /// Product name ($PN), e.g. CP-8841-3PCC.
        #[arg(long)]
        pn: Option<String>,
        /// Product series number ($PSN).
        #[arg(long)]
        psn: Option<String>,
        /// Firmware version ($SWVER), e.g. sip8845.11-3-2MPP0001-609.
        #[arg(long)]
        swver: Option<String>,
        /// Server used when the rule names none (the DHCP option 66 server).
        #[arg(long)]
        server: Option<String>,
        /// A general purpose parameter, `B=value` or `GPP_B=value` (repeatable).
        #[arg(long = "gpp", value_name = "X=VALUE")]
        gpps: Vec<String>,
        /// Any other macro variable, `NAME=value` (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Print an object with scheme, host, port, path, options and assignments.
        #[arg(long)]
        json: bool,
        /// The rule, e.g. `[--key secret] https://prov.example.com/$MA.cfg`.
        rule: String,
    },
}

fn split_assignment(text: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => bail!("{flag} {text:?}: expected NAME=VALUE"),
    }
}

pub fn run(cmd: RuleCommand) -> anyhow::Result<i32> {
    match cmd {
        RuleCommand::Expand {
            mac,
            sn,
            pn,
            psn,
            swver,
            server,
            gpps,
            vars,
            json,
            rule,
        } => {
            let mut ctx = MacroContext::new().with_mac(&mac).context("bad --mac")?;
            for (name, value) in [("SN", sn), ("PN", pn), ("PSN", psn), ("SWVER", swver)] {
                if let Some(v) = value {
                    ctx.set(name, v);
                }
            }
            if let Some(s) = server {
                ctx.set_default_server(&s);
            }
            for g in &gpps {
                let (name, value) = split_assignment(g, "--gpp")?;
                ctx.set_gpp(&name, value)
                    .with_context(|| format!("bad --gpp {g:?}"))?;
            }
            for v in &vars {
                let (name, value) = split_assignment(v, "--var")?;
                ctx.set(&name, value);
            }
            let parsed = ProfileRule::parse(&rule).context("cannot parse the rule")?;
            if parsed.is_disabled() {
                bail!("the rule is disabled (it starts with '#'); remove the '#' to enable it");
            }
            let selection = parsed.select(&ctx).context("cannot evaluate the rule")?;
            let Some(selection) = selection else {
                if json {
                    println!("null");
                } else {
                    eprintln!(
                        "phoneprov: no alternative of the rule matched (every condition was false)"
                    );
                }
                return Ok(1);
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&selection)?);
            } else {
                println!("{}", selection.url);
            }
            Ok(0)
        }
    }
}
