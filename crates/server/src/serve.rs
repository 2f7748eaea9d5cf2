//! `phoneprov serve` as one call: [`run`] starts the [`Server`] (every
//! listener bound before any is served), announces the listeners, reloads
//! on SIGHUP and stops everything together on SIGTERM or Ctrl-C.
//!
//! The announcement is the *ready point* ([`ready`]): it runs once every
//! listener (TFTP, HTTP, HTTPS, syslog, ACS, admin) is bound and serving and the
//! signal handlers are installed, so whoever reads the printed addresses
//! may connect or signal at once. It also sends systemd's `READY=1`
//! (`sd_notify`, for `Type=notify`), and `STOPPING=1` on SIGTERM.

use std::io::Write as _;
use std::path::Path;

use crate::config::Bound;
use crate::error::ServerError;
use crate::server::{Server, StartOptions};

/// Runs the server until SIGTERM or Ctrl-C, then drains and returns.
pub async fn run(opts: StartOptions) -> Result<(), ServerError> {
    let data = opts.data_dir.clone();
    // The checks of `phoneprov config check` (issue 17 item 2, issue 12
    // items 1 and 4): a served root over a secret, an exposed key, a
    // missing certificate, a broken template stop the start with one line
    // before anything is created or bound.
    let report = crate::check::check(&opts.config, &data);
    if let Some(e) = report.summary() {
        return Err(ServerError::Check(e));
    }
    let admin_scheme = if opts.config.admin_tls() {
        "https"
    } else {
        "http"
    };
    let server = Server::start(opts).await?;
    // Install the handlers before announcing: whoever reads the addresses
    // may signal at once.
    let signals = Signals::new();
    ready(&data, &server.bound(), admin_scheme, &report.warnings);
    signals.wait_for_stop(&server).await;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    eprintln!("phoneprov serve: stopping; letting in-flight requests and transfers finish");
    server.shutdown().await;
    Ok(())
}

/// The ready point: every listener is bound and serving. Prints one line
/// per listener with its actual address on stdout (tests pass port 0 and
/// read it back), and the admin-token and configuration notes on stderr.
fn ready(data: &Path, b: &Bound, admin_scheme: &str, warnings: &[String]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "phoneprov serve: data in {}", data.display());
    match b.admin {
        Some(a) => eprintln!(
            "phoneprov serve: admin API at {admin_scheme}://{a}/api/v1, metrics at /metrics (bearer token in {})",
            data.join(phoneprov_api::TOKEN_FILE).display()
        ),
        None => eprintln!("phoneprov serve: admin listener off ([listen] admin)"),
    }
    for w in warnings {
        eprintln!("phoneprov serve: warning: {w}");
    }
    let lines = [
        ("tftp", "tftp", b.tftp),
        ("http", "http", b.http),
        ("https", "https", b.https),
        ("syslog", "udp", b.syslog),
        ("acs", "http", b.acs),
        ("admin", admin_scheme, b.admin),
        ("acs-tls", "https", b.acs_tls),
    ];
    for (name, scheme, addr) in lines {
        if let Some(a) = addr {
            let _ = writeln!(
                out,
                "phoneprov serve: {name:<6} listening on {scheme}://{a}"
            );
        }
    }
    let _ = out.flush();
    // systemd Type=notify (the Debian package's unit): ready once every
    // listener is bound. Without $NOTIFY_SOCKET this does nothing.
    if let Err(e) = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("listening"),
    ]) {
        eprintln!("phoneprov serve: warning: cannot tell systemd that the server is ready: {e}");
    }
}

/// SIGTERM and SIGHUP streams (Ctrl-C is always handled).
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
    usr1: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
            usr1: signal(SignalKind::user_defined1()).ok(),
        }
    }

    /// Handles SIGHUP (reload) and SIGUSR1 (reopen the access log) until
    /// SIGTERM or Ctrl-C.
    async fn wait_for_stop(mut self, server: &Server) {
        let (Some(term), Some(hup), Some(usr1)) =
            (self.term.as_mut(), self.hup.as_mut(), self.usr1.as_mut())
        else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return,
                _ = term.recv() => return,
                _ = usr1.recv() => server.state().access_log.reopen(),
                _ = hup.recv() => match server.reload() {
                    Ok(generation) => eprintln!("phoneprov serve: reloaded config and templates (generation {generation})"),
                    Err(e) => eprintln!("phoneprov serve: reload failed, keeping the running config and templates: {e}"),
                },
            }
        }
    }
}
