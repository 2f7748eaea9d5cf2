//! `phoneprov sim`: run virtual phones against a provisioning server
//! (issue 5 item 7). Flags become a `phoneprov_sim::SimConfig`; the fleet
//! runs on its own multi-thread tokio runtime; a progress bar shows on a
//! terminal (stderr); the report goes to stdout (text or `--json`). Under
//! `--once` the exit status is 1 when any phone ended in class B or C.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use phoneprov_sim::{ClientCerts, Fleet, RunMode, SimConfig};

/// Simulate phones that boot, discover their server and resync.
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Number of phones.
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// MAC of the first phone (12 hex digits); the others count up.
    #[arg(long, default_value = "000e08000001")]
    pub mac_base: String,
    /// Product name ($PN).
    #[arg(long, default_value = "CP-8841-3PCC")]
    pub pn: String,
    /// Serial of the first phone; a trailing number counts up like `ca issue-fleet`.
    #[arg(long, default_value = "SN000001")]
    pub sn_base: String,
    /// Firmware version ($SWVER).
    #[arg(long, default_value = "11.0.1")]
    pub swver: String,
    /// Parameter set before the first boot, e.g. Profile_Rule=http://host/$MA.xml (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Simulated DHCP option, e.g. 66=10.0.0.5 or 160=http://host/p.xml (repeatable).
    #[arg(long = "dhcp-option", value_name = "N=VALUE")]
    pub dhcp_options: Vec<String>,
    /// File of DHCP options, one N=VALUE per line.
    #[arg(long, value_name = "FILE")]
    pub dhcp_file: Option<PathBuf>,
    /// Run a real DHCP exchange per phone on this interface before it
    /// provisions (needs root or CAP_NET_RAW): DHCPv4 on port 68, DHCPv6 on
    /// port 546 to ff02::1:2, as the phones' IP_Mode says (--param
    /// IP_Mode="IPv4 Only" | "IPv6 Only" | "Dual Mode"; without it, IPv4
    /// only). Dual mode reads the v4 options first, then the v6 ones in
    /// DHCPv6_Option_To_Use order. The server's options win,
    /// --dhcp-option/--dhcp-file fill in what it does not send.
    #[arg(long, value_name = "IFACE")]
    pub dhcp_interface: Option<String>,
    /// With --dhcp-interface: seconds a phone tries before it gives up
    /// (its status says so; the fleet goes on).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub dhcp_timeout: u64,
    /// DNS server for names and SRV lookups (default: the first server of
    /// DHCP option 6, else the system resolver).
    #[arg(long, value_name = "ADDR:PORT")]
    pub dns: Option<SocketAddr>,
    /// Port asked on the DNS servers of DHCP option 6 (default 53).
    #[arg(long, value_name = "PORT")]
    pub dns_port: Option<u16>,
    /// Trusted CA (PEM) for HTTPS (default: public web roots).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// DIR holding <mac>.pem/<mac>.key per phone (from `ca issue-fleet`), or `none`.
    #[arg(long, value_name = "DIR|none", default_value = "none")]
    pub client_certs: String,
    /// The profile account a user entered on each phone, USER:PASSWORD: it
    /// answers a profile server's 401 when the rule has no --uid/--pwd and
    /// Profile_Authentication_Type is "Basic Http Authentication" (the
    /// default). Prefer the environment variable: a command line is visible
    /// to every user of the machine.
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "PHONEPROV_SIM_PROFILE_ACCOUNT",
        hide_env_values = true
    )]
    pub profile_account: Option<String>,
    /// Serve /<mac>/admin/resync, /admin/upgrade, /CGI/Execute and /status.json here.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Listen for SIP (UDP and TCP) here: NOTIFY `Event: check-sync` or
    /// `resync` to sip:MAC@ADDR resyncs the phone (Resync_From_SIP).
    #[arg(long, value_name = "ADDR:PORT")]
    pub sip_listen: Option<SocketAddr>,
    /// Power every phone on at the same instant and resync at once.
    #[arg(long)]
    pub boot_storm: bool,
    /// Boot, resync once, exit with the outcome (the default without --duration).
    #[arg(long, conflicts_with = "duration")]
    pub once: bool,
    /// Run on real time for this many seconds (0: until Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Transfers in flight at most.
    #[arg(long, default_value_t = 2000)]
    pub concurrency: usize,
    /// Seed of the phones' random numbers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Transfer timeout in seconds (connect timeout is min(5, this)).
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// TR-069 ACS URL (R-TR69): each phone runs a CPE agent (default: from DHCP options 43/125 with 60=dslforum.org).
    #[arg(long, value_name = "URL")]
    pub acs: Option<String>,
    /// User name for the ACS (HTTP Digest or Basic).
    #[arg(long, value_name = "USER", default_value = "")]
    pub acs_user: String,
    /// Password for the ACS.
    #[arg(long, value_name = "PASSWORD", default_value = "")]
    pub acs_password: String,
    /// Serve TR-069 connection requests (GET /tr069/<mac>, Digest) here.
    #[arg(long, value_name = "ADDR:PORT")]
    pub cr_listen: Option<SocketAddr>,
    /// ConnectionRequestUsername of every phone (empty: no authentication).
    #[arg(long, value_name = "USER", default_value = "")]
    pub cr_user: String,
    /// ConnectionRequestPassword of every phone.
    #[arg(long, value_name = "PASSWORD", default_value = "")]
    pub cr_password: String,
    /// PeriodicInformInterval in seconds (default 3600; 0: no periodic inform).
    #[arg(long, value_name = "SECS")]
    pub inform_interval: Option<u64>,
    /// Phones already bootstrapped with this ACS: the first session is a
    /// periodic one (2 PERIODIC) instead of 0 BOOTSTRAP + 1 BOOT (periodic-inform load tests).
    #[arg(long)]
    pub acs_bootstrapped: bool,
    /// Print the report as JSON (with --count 1: every final parameter value).
    #[arg(long)]
    pub json: bool,
    /// Activation service base URL (R-ACT): phones with no provisioning server from DHCP ask it who provisions them.
    #[arg(long, value_name = "URL")]
    pub activation: Option<String>,
    /// gds:// code each phone types when the activation service gives it no provider (16 digits or #SHORT).
    #[arg(long, value_name = "CODE", requires = "activation")]
    pub gds_code: Option<String>,
    /// Longest real wait for an activation retry, in ms; the phone's clock jumps the rest of the backoff.
    #[arg(long, value_name = "MS", requires = "activation")]
    pub activation_retry_wait: Option<u64>,
    /// Resume TLS sessions when a phone reconnects over HTTPS (each phone
    /// its own sessions, like a phone's TLS stack); off: every handshake full.
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub tls_resumption: bool,
}

fn split_pair<'a>(flag: &str, s: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim(), v)),
        _ => anyhow::bail!("{flag} {s:?}: expected NAME=VALUE"),
    }
}

/// The configuration the flags describe.
pub fn config(args: &SimArgs) -> anyhow::Result<SimConfig> {
    let mut cfg = SimConfig::new(args.count);
    cfg.mac_base = args.mac_base.clone();
    cfg.pn = args.pn.clone();
    cfg.sn_base = args.sn_base.clone();
    cfg.swver = args.swver.clone();
    for p in &args.params {
        let (k, v) = split_pair("--param", p)?;
        cfg.params.push((k.to_string(), v.to_string()));
    }
    let mut lines: Vec<String> = Vec::new();
    if let Some(f) = &args.dhcp_file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read --dhcp-file {}", f.display()))?;
        lines.extend(text.lines().map(str::to_string));
    }
    let from_file = lines.len();
    lines.extend(args.dhcp_options.iter().cloned());
    cfg.lease = phoneprov_sim::DhcpLease::parse(lines.iter().map(String::as_str)).map_err(
        |e| {
            if e.line > from_file {
                anyhow::anyhow!(
                    "--dhcp-option {:?} is not N=VALUE with N a DHCP option number 1-254 (e.g. --dhcp-option 66=10.0.0.5)",
                    e.text
                )
            } else {
                anyhow::anyhow!("--dhcp-file: {e}")
            }
        },
    )?;
    cfg.dhcp_interface = args.dhcp_interface.clone();
    cfg.dhcp_timeout = Duration::from_secs(args.dhcp_timeout.max(1));
    cfg.dns = args.dns;
    cfg.dns_port = args.dns_port;
    if let Some(ca) = &args.ca {
        cfg.trust_pem =
            Some(std::fs::read(ca).with_context(|| format!("cannot read --ca {}", ca.display()))?);
    }
    cfg.client_certs = if args.client_certs.eq_ignore_ascii_case("none") {
        ClientCerts::None
    } else {
        let dir = PathBuf::from(&args.client_certs);
        anyhow::ensure!(
            dir.is_dir(),
            "--client-certs {}: not a directory (give the OUTDIR of `phoneprov ca issue-fleet`, or `none`)",
            dir.display()
        );
        ClientCerts::Dir(dir)
    };
    if let Some(account) = &args.profile_account {
        let (user, password) = account.split_once(':').ok_or_else(|| {
            anyhow::anyhow!(
                "--profile-account: give USER:PASSWORD (the account a user enters on the phone when its profile server asks)"
            )
        })?;
        anyhow::ensure!(
            !user.is_empty(),
            "--profile-account: the user name before ':' is empty; give USER:PASSWORD"
        );
        cfg.profile_account = Some(phoneprov_sim::Credentials::new(user, password));
    }
    cfg.listen = args.listen;
    cfg.sip_listen = args.sip_listen;
    cfg.boot_storm = args.boot_storm;
    cfg.mode = match args.duration {
        None => RunMode::Once,
        Some(0) => RunMode::Forever,
        Some(s) => RunMode::For(Duration::from_secs(s)),
    };
    cfg.concurrency = args.concurrency;
    cfg.activation = args.activation.clone();
    cfg.gds_code = args.gds_code.clone();
    cfg.activation_retry_wait = args.activation_retry_wait.map(Duration::from_millis);
    cfg.tr069.acs_url = args.acs.clone();
    cfg.tr069.acs_username = args.acs_user.clone();
    cfg.tr069.acs_password = args.acs_password.clone();
    cfg.tr069.cr_listen = args.cr_listen;
    cfg.tr069.cr_username = args.cr_user.clone();
    cfg.tr069.cr_password = args.cr_password.clone();
    cfg.tr069.inform_interval = args.inform_interval;
    cfg.tr069.bootstrapped = args.acs_bootstrapped;
    cfg.seed = args.seed;
    cfg.tls_resumption = args.tls_resumption;
    cfg.request_timeout = Duration::from_secs(args.timeout.max(1));
    cfg.connect_timeout = cfg.request_timeout.min(Duration::from_secs(5));
    Ok(cfg)
}

/// Runs `phoneprov sim`.
pub fn run(args: SimArgs) -> anyhow::Result<i32> {
    let cfg = config(&args)?;
    let once = cfg.mode == RunMode::Once;
    let count = cfg.count;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let report = rt.block_on(async move {
        let fleet = Fleet::start(cfg).await?;
        if let Some(addr) = fleet.local_addr() {
            eprintln!(
                "phone endpoints on http://{addr}/ (/<mac>/admin/resync?RULE, /<mac>/status.json)"
            );
        }
        if let Some(acs) = fleet.acs_url() {
            eprintln!("TR-069: informing {acs}");
        }
        if let Some(addr) = fleet.cr_addr() {
            eprintln!("TR-069 connection requests on http://{addr}/tr069/<mac>");
        }
        let stop = fleet.shutdown_handle();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.shutdown();
            }
        });
        let bar = progress(&fleet, once, count);
        let report = fleet.wait().await;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        anyhow::Ok(report)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(if once { report.once_exit_code() } else { 0 })
}

fn progress(fleet: &Fleet, once: bool, count: u64) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = if once {
        ProgressBar::new(count)
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} phones {msg} ({elapsed})")
            .expect("static template"),
    );
    let stats = fleet.stats();
    let b = bar.clone();
    tokio::spawn(async move {
        loop {
            b.set_position(stats.phones_done.get());
            b.set_message(format!(
                "A {} B {} C {}",
                stats.resyncs_a.get(),
                stats.resyncs_b.get(),
                stats.resyncs_c.get()
            ));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    Some(bar)
}
