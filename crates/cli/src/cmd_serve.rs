//! `phoneprov serve`: the provisioning server (`phoneprov-server`), with
//! the TR-069 ACS (`phoneprov-acs`, SPEC R-TR69) and the activation service
//! (`phoneprov-activation`, R-ACT) in the same process.
//!
//! With no flags it creates `./phoneprov-data` (database, example
//! templates, development CA) and listens on TFTP 6969, HTTP 8080,
//! HTTPS 8443, syslog 5514 and the ACS on 7547, printing one line per
//! listener with the actual address (tests pass port 0 and read it back).
//! `--config FILE` reads a TOML file (see `examples/phoneprov.toml`);
//! `--http/--https/--tftp/--syslog/--acs ADDR|off` override it. SIGHUP
//! reloads config, templates and the HTTPS certificate files (anything
//! broken keeps the running set; the `[acs]` settings are read at start
//! only); SIGTERM or Ctrl-C drains in-flight requests, transfers and CWMP
//! sessions, then exits 0.
//!
//! One handler answers `/api/` and `/activation/` on the HTTP(S) ports
//! (`phoneprov_api::bytes_handler_with`): the admin API, the ACS task API
//! (`/api/v1/devices/{mac}/tasks`, `/datamodel`, `/connection-request`;
//! only while the ACS listens) and the activation service's admin
//! (`/api/v1/activation/...`) and phone (`/activation/v1/...`) endpoints.
//! Every admin route takes the same bearer token (`DATA/admin.token`);
//! the phones' endpoints take none.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use phoneprov_server::{Config, Listen, Server, StartOptions};

/// Arguments of `phoneprov serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Data directory (database, CA, templates, static, firmware).
    /// Default: the config's data_dir, else ./phoneprov-data.
    #[arg(long = "data", value_name = "DIR", env = "PHONEPROV_DATA")]
    pub data: Option<PathBuf>,
    /// TOML configuration file (see examples/phoneprov.toml).
    #[arg(long, value_name = "FILE", env = "PHONEPROV_CONFIG")]
    pub config: Option<PathBuf>,
    /// HTTP listen address (ADDR:PORT, PORT, or off).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub http: Option<Listen>,
    /// HTTPS listen address (ADDR:PORT, PORT, or off).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub https: Option<Listen>,
    /// TFTP listen address (ADDR:PORT, PORT, or off).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub tftp: Option<Listen>,
    /// Syslog (UDP) listen address (ADDR:PORT, PORT, or off).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub syslog: Option<Listen>,
    /// TR-069 ACS listen address (ADDR:PORT, PORT, or off; default
    /// 0.0.0.0:7547). CPE credentials and presets: [acs] in --config.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub acs: Option<Listen>,
}

fn parse_listen(s: &str) -> Result<Listen, String> {
    Listen::parse(s)
}

impl ServeArgs {
    /// Applies the listener flags on top of a config.
    fn apply(&self, cfg: &mut Config) {
        if let Some(l) = self.http {
            cfg.listen.http = l;
        }
        if let Some(l) = self.https {
            cfg.listen.https = l;
        }
        if let Some(l) = self.tftp {
            cfg.listen.tftp = l;
        }
        if let Some(l) = self.syslog {
            cfg.listen.syslog = l;
        }
        if let Some(l) = self.acs {
            cfg.listen.acs = l;
        }
    }
}

/// Runs the server until SIGTERM/Ctrl-C; returns the exit code.
pub fn run(args: ServeArgs) -> anyhow::Result<i32> {
    init_logging();
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    args.apply(&mut cfg);
    let data = args
        .data
        .clone()
        .or_else(|| cfg.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("phoneprov-data"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("phoneprov-serve")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(args, cfg, data))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(args: ServeArgs, cfg: Config, data: PathBuf) -> anyhow::Result<i32> {
    let flags = args.clone();
    let acs_listen = cfg.listen.acs;
    let acs_settings = cfg.acs.clone();
    let acs_warning = cfg.acs_warning();
    let mut opts = StartOptions::new(data.clone(), cfg);
    opts.config_file = args.config.clone();
    opts.overrides = Arc::new(move |c: &mut Config| flags.apply(c));
    // The admin REST API (/api/v1, bearer token in DATA/admin.token) and the
    // syslog receiver that files each phone's messages in its timeline.
    if let Err(e) = std::fs::create_dir_all(&data) {
        anyhow::bail!(
            "data directory {} is not writable ({e}); pass a writable directory with --data",
            data.display()
        );
    }
    let api_state = phoneprov_api::ApiState::open(&data)
        .with_context(|| format!("cannot set up the admin API in {}", data.display()))?;
    let guard = api_state.admin_guard();
    // The activation service is plain HTTP(S) routes; the ACS also needs
    // its own listener, bound once the others are up (so their errors come
    // first, as before there was an ACS).
    let activation = phoneprov_activation::ActivationService::open(&data, guard.clone())
        .with_context(|| format!("cannot set up the activation service in {}", data.display()))?;
    let mut extra = phoneprov_activation::router(activation);
    let mut doc = phoneprov_api::activation_doc();
    let acs = match acs_listen.addr() {
        Some(addr) => {
            let acs = phoneprov_acs::Acs::open(&data, acs_settings)
                .with_context(|| format!("cannot set up the ACS in {}", data.display()))?;
            extra = extra.merge(acs.api_router_guarded(guard));
            doc.merge(phoneprov_api::acs_doc());
            Some((acs, addr))
        }
        None => None,
    };
    opts.api = Some(Arc::new(phoneprov_api::bytes_handler_with(
        api_state,
        extra,
        Some(doc),
    )));
    let filer_store = phoneprov_store::Store::open(&data)?;
    let ip_index = phoneprov_syslog::IpIndex::load(&filer_store)?;
    let filer = phoneprov_syslog::StoreFiler::spawn(filer_store, ip_index, 65_536);
    opts.syslog = Some(Box::new(move |sock, _state| {
        let sink = filer.sink();
        tokio::spawn(async move {
            // The filer thread lives as long as this task holds it.
            let _filer = filer;
            if let Err(e) =
                phoneprov_syslog::run_receiver(sock, sink, std::future::pending::<()>()).await
            {
                eprintln!("phoneprov serve: syslog receiver stopped: {e}");
            }
        })
    }));
    let server = Server::start(opts).await?;
    let acs = match acs {
        Some((acs, addr)) => match phoneprov_server::listen_tcp(addr) {
            Ok(listener) => Some((acs, listener)),
            Err(e) => {
                server.shutdown().await;
                anyhow::bail!(
                    "cannot listen on acs {addr}: {e}; stop the program using it or pick another port (--acs ADDR or off, or [listen] acs in the config)"
                );
            }
        },
        None => None,
    };
    // The ACS stops with the rest: `stop` fires on SIGTERM/Ctrl-C, then its
    // open sessions end and their sent tasks are requeued.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (acs_addr, acs_task) = match acs {
        Some((acs, listener)) => {
            let addr = listener.local_addr().ok();
            let task = tokio::spawn(acs.serve(listener, async {
                let _ = stopped.await;
            }));
            (addr, Some(task))
        }
        None => (None, None),
    };
    // Install the handlers before printing the addresses: whoever reads
    // them may signal at once.
    let signals = Signals::new();
    let b = server.bound();
    let mut out = std::io::stdout().lock();
    writeln!(out, "phoneprov serve: data in {}", data.display())?;
    eprintln!(
        "phoneprov serve: admin API at /api/v1 (bearer token in {})",
        data.join("admin.token").display()
    );
    if let Some(w) = acs_warning {
        eprintln!("phoneprov serve: warning: {w}");
    }
    let lines = [
        ("tftp", "tftp", b.tftp),
        ("http", "http", b.http),
        ("https", "https", b.https),
        ("syslog", "udp", b.syslog),
        ("acs", "http", acs_addr),
    ];
    for (name, scheme, addr) in lines {
        if let Some(a) = addr {
            writeln!(
                out,
                "phoneprov serve: {name:<6} listening on {scheme}://{a}"
            )?;
        }
    }
    out.flush()?;
    drop(out);
    signals.wait_for_stop(&server).await;
    eprintln!("phoneprov serve: stopping; letting in-flight requests and transfers finish");
    let _ = stop.send(());
    let acs_done = async {
        if let Some(task) = acs_task {
            let _ = task.await;
        }
    };
    tokio::join!(server.shutdown(), acs_done);
    Ok(0)
}

/// SIGTERM and SIGHUP streams (Ctrl-C is always handled).
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    /// Handles SIGHUP (reload) until SIGTERM or Ctrl-C.
    async fn wait_for_stop(mut self, server: &Server) {
        let (Some(term), Some(hup)) = (self.term.as_mut(), self.hup.as_mut()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return,
                _ = term.recv() => return,
                _ = hup.recv() => match server.reload() {
                    Ok(generation) => eprintln!("phoneprov serve: reloaded config and templates (generation {generation})"),
                    Err(e) => eprintln!("phoneprov serve: reload failed, keeping the running config and templates: {e}"),
                },
            }
        }
    }
}
