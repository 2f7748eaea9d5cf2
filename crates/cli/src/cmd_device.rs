//! `phoneprov device ...`: manage the device inventory (`phoneprov-store`).
//!
//! Every command takes `--data DIR` and `--config FILE` (the data
//! directory as `serve` finds it, see [`crate::sysconf`]) and works while `phoneprov serve` has the same
//! database open (WAL mode; see the store crate docs). Read-only commands
//! refuse a directory without a database instead of creating one, so a
//! mistyped `--data` is an error rather than an empty listing. MACs are
//! parsed by the command (not clap) so a bad one is a single error line.
//! Output streams: `list` of a million devices never holds them in memory.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use phoneprov_store::{
    now_ms, Approval, BadRow, Change, Device, Event, EventKind, ExportFormat, ImportObserver,
    ImportOptions, Mac, NewDevice, NewEvent, Outcome, Store, StoreError,
};

/// Where the inventory lives: `--data`, `--config` (see [`crate::sysconf`]).
pub use crate::sysconf::StoreArgs as DataDir;

#[derive(Subcommand, Debug)]
pub enum DeviceCommand {
    /// Import devices from a CSV file (`-` reads standard input).
    ///
    /// The header row names the columns: `mac`, `serial`, `model`, `group`,
    /// `key`; every other column becomes a device variable. A MAC already
    /// in the inventory is updated and keeps its key, unless its row has a
    /// `key`: a key the phone already holds (migrating phones from another
    /// server; `device export --with-keys` writes this format). Any bad row
    /// is reported with its line number and nothing is imported, unless
    /// --skip-bad.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Import the good rows even if some rows are bad.
        #[arg(long)]
        skip_bad: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Add one device; a fresh secret key is generated for it.
    Add {
        /// MAC as 000e08abcdef, 00:0E:08:AB:CD:EF or 00-0e-08-ab-cd-ef.
        mac: String,
        /// Serial number ($SN).
        #[arg(long)]
        serial: Option<String>,
        /// Product name ($PN), e.g. CP-8841-3PCC.
        #[arg(long)]
        model: Option<String>,
        /// Template group.
        #[arg(long)]
        group: Option<String>,
        /// A device variable, NAME=VALUE (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// List devices in MAC order.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Only devices of this group.
        #[arg(long)]
        group: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Show one device, including its secret key.
    Show {
        /// The device's MAC.
        mac: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Set fields and variables of a device: NAME=VALUE… (`serial`, `model`,
    /// `group` or a variable name; an empty VALUE removes it). Every pair is
    /// checked first: one bad pair and nothing is written.
    Set {
        /// The device's MAC.
        mac: String,
        /// NAME=VALUE pairs.
        #[arg(value_name = "NAME=VALUE", required = true)]
        pairs: Vec<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Export the inventory in the import's CSV format (or JSON), to
    /// standard output or --output. Keys only with --with-keys.
    Export {
        /// Include each device's secret key (a `key` column): for moving
        /// phones that already hold their keys to another server. Keep the
        /// file secret.
        #[arg(long)]
        with_keys: bool,
        /// csv (the import's format) or json.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Only devices of this group.
        #[arg(long)]
        group: Option<String>,
        /// Write to this file (created 0600) instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        data: DataDir,
    },
    /// List auto-registered devices awaiting approval (`[profiles]
    /// auto_register = true`); the server answers them 404 until approved.
    Pending {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Approve an auto-registered (pending or rejected) device: its next
    /// request gets its profile.
    Approve {
        /// The device's MAC.
        mac: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Reject a pending device: it stays in the inventory (so it is not
    /// registered again) and keeps getting 404; `device rm` forgets it.
    Reject {
        /// The device's MAC.
        mac: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Remove a device and its event timeline.
    Rm {
        /// The device's MAC.
        mac: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Ask a phone to resync now (SPEC R-RULE-6): `GET /admin/resync?RULE`,
    /// or with `--execute` a POST of an Execute XML object to `/CGI/Execute`.
    Resync(crate::cmd_device_resync::ResyncArgs),
    /// Queue a TR-069 task for the device's next CWMP session, e.g.
    /// '{"rpc":"GetParameterValues","names":["Device.DeviceInfo."]}', with
    /// --expires-after and --max-attempts (issue 14).
    Task(crate::cmd_device_task::TaskArgs),
    /// Show a device's timeline (resyncs, upgrades, syslog, reports), oldest first.
    Events {
        /// The device's MAC.
        mac: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// How many of the latest events to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        data: DataDir,
    },
    /// Test helper: records COUNT statuses and events for one device, printing
    /// each sequence number after its commit (used by the kill -9 test).
    #[command(hide = true)]
    StressStatus {
        /// How many status writes.
        #[arg(long)]
        count: u64,
        /// The device written to (added if missing).
        #[arg(long, default_value = "0e0000000001")]
        mac: String,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs a device subcommand; returns the process exit code.
pub fn run(cmd: DeviceCommand) -> anyhow::Result<i32> {
    match cmd {
        DeviceCommand::Import {
            file,
            skip_bad,
            data,
        } => import(&file, skip_bad, &data),
        DeviceCommand::Add {
            mac,
            serial,
            model,
            group,
            vars,
            data,
        } => {
            let mut dev = NewDevice::new(parse_mac(&mac)?);
            dev.serial = serial;
            dev.model = model;
            dev.group = group;
            for v in &vars {
                let (name, value) = v
                    .split_once('=')
                    .filter(|(n, _)| !n.trim().is_empty())
                    .with_context(|| format!("bad --var {v:?}: write it as NAME=VALUE"))?;
                dev.vars.insert(name.trim().to_string(), value.to_string());
            }
            let added = data.open()?.add_device(&dev)?;
            println!("added {}", added.mac);
            Ok(0)
        }
        DeviceCommand::List { json, group, data } => {
            let store = data.open_existing()?;
            ignore_broken_pipe(list(&store, group.as_deref(), json))
        }
        DeviceCommand::Show { mac, json, data } => {
            let mac = parse_mac(&mac)?;
            let store = data.open_existing()?;
            let dev = store.device(mac)?.ok_or(StoreError::NotFound(mac))?;
            ignore_broken_pipe(show(&dev, json))
        }
        DeviceCommand::Rm { mac, data } => {
            let mac = parse_mac(&mac)?;
            if !data.open_existing()?.remove_device(mac)? {
                return Err(StoreError::NotFound(mac).into());
            }
            println!("removed {mac}");
            Ok(0)
        }
        DeviceCommand::Set { mac, pairs, data } => {
            let mac = parse_mac(&mac)?;
            let changes =
                Change::parse_all(&pairs).map_err(|e| anyhow::anyhow!("{e}; nothing written"))?;
            let dev = data.open_existing()?.set_fields(mac, &changes)?;
            println!("set {} on {}", pairs.len(), dev.mac);
            Ok(0)
        }
        DeviceCommand::Export {
            with_keys,
            format,
            group,
            output,
            data,
        } => export(
            with_keys,
            &format,
            group.as_deref(),
            output.as_deref(),
            &data,
        ),
        DeviceCommand::Pending { json, data } => {
            let store = data.open_existing()?;
            let devs = store.pending_devices()?;
            ignore_broken_pipe(print_pending(&devs, json))
        }
        DeviceCommand::Approve { mac, data } => {
            let mac = parse_mac(&mac)?;
            data.open_existing()?
                .set_approval(mac, Approval::Approved)?;
            println!("approved {mac}");
            Ok(0)
        }
        DeviceCommand::Reject { mac, data } => {
            let mac = parse_mac(&mac)?;
            data.open_existing()?
                .set_approval(mac, Approval::Rejected)?;
            println!("rejected {mac}");
            Ok(0)
        }
        DeviceCommand::Resync(args) => crate::cmd_device_resync::run_resync(args),
        DeviceCommand::Task(args) => crate::cmd_device_task::run_task(args),
        DeviceCommand::Events {
            mac,
            json,
            limit,
            data,
        } => {
            let mac = parse_mac(&mac)?;
            let store = data.open_existing()?;
            let events = store.events(mac, limit)?;
            if events.is_empty() && store.device(mac)?.is_none() {
                return Err(StoreError::NotFound(mac).into());
            }
            ignore_broken_pipe(print_events(&events, json))
        }
        DeviceCommand::StressStatus { count, mac, data } => {
            stress_status(count, parse_mac(&mac)?, &data)
        }
    }
}

fn parse_mac(s: &str) -> anyhow::Result<Mac> {
    Ok(Mac::parse(s)?)
}

/// `phoneprov device list | head` closes the pipe early: that is success.
fn ignore_broken_pipe(r: anyhow::Result<()>) -> anyhow::Result<i32> {
    match r {
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe) =>
        {
            Ok(0)
        }
        Err(e) => Err(e),
        Ok(()) => Ok(0),
    }
}

/// RFC 3339 UTC with milliseconds, or `-`.
fn time(ms: Option<i64>) -> String {
    match ms.and_then(|ms| u64::try_from(ms).ok()) {
        Some(ms) => {
            humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
        }
        None => "-".to_string(),
    }
}

fn or_dash(s: Option<&str>) -> &str {
    s.unwrap_or("-")
}

/// Progress bar (on a terminal only) and bad-row lines on stderr.
struct CliObserver {
    file: String,
    bar: Option<ProgressBar>,
}

impl ImportObserver for CliObserver {
    fn bad_row(&mut self, row: &BadRow) {
        let line = format!("phoneprov: {}:{}: {}", self.file, row.line, row.why);
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
    fn merging(&mut self) {
        if let Some(bar) = &self.bar {
            bar.set_message("committing");
        }
    }
}

fn import(file: &Path, skip_bad: bool, data: &DataDir) -> anyhow::Result<i32> {
    let start = Instant::now();
    let name = file.display().to_string();
    let (input, len): (Box<dyn Read>, Option<u64>) = if name == "-" {
        (Box::new(io::stdin().lock()), None)
    } else {
        let f = File::open(file).with_context(|| {
            format!("cannot open {name}; give the path of a CSV file (or - for standard input)")
        })?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    let bar = io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(len.unwrap_or(0));
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}",
        )
        .expect("static template is valid");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let input: Box<dyn Read> = match &bar {
        Some(bar) => Box::new(bar.wrap_read(input)),
        None => input,
    };
    let mut store = data.open()?;
    let mut obs = CliObserver {
        file: name.clone(),
        bar: bar.clone(),
    };
    let result = store.import_csv(
        io::BufReader::new(input),
        ImportOptions { skip_bad },
        &mut obs,
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = result.with_context(|| format!("import of {name}"))?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "imported {} devices ({} new, {} updated) in {secs:.2} s{}",
        summary.created + summary.updated,
        summary.created,
        summary.updated,
        if summary.skipped > 0 {
            format!("; skipped {} bad row(s)", summary.skipped)
        } else {
            String::new()
        }
    );
    Ok(0)
}

/// `device export`: the store writes; this picks the output and warns
/// about keys.
fn export(
    with_keys: bool,
    format: &str,
    group: Option<&str>,
    output: Option<&Path>,
    data: &DataDir,
) -> anyhow::Result<i32> {
    let format: ExportFormat = format.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let store = data.open_existing()?;
    let summary = match output {
        Some(path) => {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let file = opts.open(path).with_context(|| {
                format!(
                    "cannot write {}; give a path in a writable directory",
                    path.display()
                )
            })?;
            store.export::<anyhow::Error, _>(BufWriter::new(file), format, group, with_keys)?
        }
        None => {
            let r = store.export::<anyhow::Error, _>(
                BufWriter::new(io::stdout().lock()),
                format,
                group,
                with_keys,
            );
            match r {
                Ok(s) => s,
                Err(e) => return ignore_broken_pipe(Err(e)),
            }
        }
    };
    eprintln!(
        "phoneprov: exported {} device(s){}",
        summary.devices,
        if with_keys {
            " WITH their secret keys: keep the file secret, delete it after the import"
        } else {
            " (no keys; --with-keys adds them)"
        }
    );
    Ok(0)
}

fn print_pending(devs: &[Device], json: bool) -> anyhow::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(devs)?)?;
    } else {
        writeln!(
            out,
            "{:<12}  {:<16}  {:<14}  {:<24}  IP",
            "MAC", "MODEL", "SERIAL", "REGISTERED"
        )?;
        for d in devs {
            writeln!(
                out,
                "{:<12}  {:<16}  {:<14}  {:<24}  {}",
                d.mac,
                or_dash(d.model.as_deref()),
                or_dash(d.serial.as_deref()),
                time(Some(d.created_ms)),
                or_dash(d.status.ip.as_deref()),
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

fn list(store: &Store, group: Option<&str>, json: bool) -> anyhow::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        write!(out, "[")?;
        let mut first = true;
        store.for_each_device(group, |d| {
            let sep = if first { "\n" } else { ",\n" };
            first = false;
            write!(out, "{sep}{}", serde_json::to_string(&d)?)?;
            Ok::<_, anyhow::Error>(())
        })?;
        writeln!(out, "{}]", if first { "" } else { "\n" })?;
    } else {
        writeln!(
            out,
            "{:<12}  {:<16}  {:<14}  {:<12}  {:<24}  {:<15}  {:<10}  OUTCOME",
            "MAC", "MODEL", "SERIAL", "GROUP", "LAST SEEN", "IP", "FIRMWARE"
        )?;
        store.for_each_device(group, |d| {
            writeln!(
                out,
                "{:<12}  {:<16}  {:<14}  {:<12}  {:<24}  {:<15}  {:<10}  {}",
                d.mac,
                or_dash(d.model.as_deref()),
                or_dash(d.serial.as_deref()),
                or_dash(d.group.as_deref()),
                time(d.status.last_seen_ms),
                or_dash(d.status.ip.as_deref()),
                or_dash(d.status.firmware.as_deref()),
                d.status.last_outcome.map_or("-", Outcome::as_str),
            )?;
            Ok::<_, anyhow::Error>(())
        })?;
    }
    out.flush()?;
    Ok(())
}

fn show(d: &Device, json: bool) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(d)?;
        // The key is left out of `Serialize` on purpose; `show` is the one
        // place that prints it.
        v["key"] = d.key.expose_secret().into();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    let s = &d.status;
    let rows = [
        ("mac", d.mac.to_string()),
        ("serial", or_dash(d.serial.as_deref()).to_string()),
        ("model", or_dash(d.model.as_deref()).to_string()),
        ("group", or_dash(d.group.as_deref()).to_string()),
        ("key", d.key.expose_secret().to_string()),
        ("created", time(Some(d.created_ms))),
        ("updated", time(Some(d.updated_ms))),
        ("last seen", time(s.last_seen_ms)),
        ("ip", or_dash(s.ip.as_deref()).to_string()),
        ("firmware", or_dash(s.firmware.as_deref()).to_string()),
        (
            "last outcome",
            s.last_outcome.map_or("-", Outcome::as_str).to_string(),
        ),
    ];
    for (k, v) in rows {
        writeln!(out, "{:<13} {v}", format!("{k}:"))?;
    }
    writeln!(out, "vars:")?;
    for (k, v) in &d.vars {
        writeln!(out, "  {k} = {v}")?;
    }
    Ok(())
}

/// Event text comes from phones (syslog, reports): control characters
/// (ANSI escapes, newlines that would forge the next line) are printed
/// escaped, `\u{1b}` and `\n`, as is a backslash (`\\`) so the escaped
/// form cannot be forged either (issue 12 item 5).
fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || c == '\\') {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if c.is_control() || c == '\\' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

fn print_events(events: &[Event], json: bool) -> anyhow::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(events)?)?;
    } else {
        for e in events {
            writeln!(
                out,
                "{:<24}  {:<10}  {:<9}  {:<15}  {}",
                time(Some(e.at_ms)),
                e.kind.as_str(),
                e.outcome.map_or("-", Outcome::as_str),
                or_dash(e.source_ip.as_deref()),
                escape_controls(&e.message)
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Status writer for the durability test: each line printed on stdout is
/// a sequence number whose status write and event were both committed.
fn stress_status(count: u64, mac: Mac, data: &DataDir) -> anyhow::Result<i32> {
    let mut store = data.open()?;
    match store.add_device(&NewDevice::new(mac)) {
        Ok(_) | Err(StoreError::Exists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut out = io::stdout().lock();
    for seq in 1..=count {
        let firmware = format!("seq-{seq}");
        store.record_status(mac, ip, Some(&firmware), Some(Outcome::Success))?;
        store.append_event(&NewEvent {
            mac,
            at_ms: now_ms(),
            kind: EventKind::Report,
            outcome: Some(Outcome::Success),
            source_ip: Some(ip),
            message: format!("seq {seq}"),
        })?;
        writeln!(out, "{seq}")?;
        out.flush()?;
    }
    Ok(0)
}

#[cfg(test)]
mod escape_tests {
    use super::escape_controls;

    #[test]
    fn control_characters_and_backslashes_are_escaped() {
        assert_eq!(escape_controls("plain text"), "plain text");
        assert_eq!(
            escape_controls("a\u{1b}[31mred\nforged line\r\\n"),
            "a\\u{1b}[31mred\\nforged line\\r\\\\n"
        );
        assert_eq!(escape_controls("caf\u{e9} \u{7f}"), "caf\u{e9} \\u{7f}");
    }
}
