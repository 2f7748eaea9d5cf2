//! Start-up, listeners and shutdown.
//!
//! [`Server::start`] prepares the data directory (database, example
//! templates, development CA), compiles config and templates, binds every
//! listener (so a port in use fails the start with one line) and spawns:
//! one accept loop per TCP listener (HTTP, HTTPS, admin; one task per connection,
//! hyper HTTP/1.x with keep-alive, header-size and header-read-time
//! limits), the TFTP server, the syslog receiver and the ACS (the services
//! come from [`crate::services`]). [`Server::shutdown`] stops them all
//! together: no more accepting, in-flight requests and transfers finish
//! (bounded by `limits.drain_secs`), the ACS requeues the tasks of open
//! sessions, the status writer and the syslog filer are flushed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::{Bound, Config};
use crate::error::ServerError;
use crate::http::{handle, ConnInfo};
use crate::metrics_setup::Proto;
use crate::policy::Policy;
use crate::render::RenderCache;
use crate::services::{spawn_syslog, Services};
use crate::state::AppState;
use crate::store_io::{ReadPool, StatusWriter};
use crate::templates::TemplateSet;
use crate::tftp_front::TftpFront;
use crate::tls::tls_config;

/// Everything [`Server::start`] needs.
pub struct StartOptions {
    /// Data directory (created if missing).
    pub data_dir: PathBuf,
    /// The config (file + overrides already applied).
    pub config: Config,
    /// Re-read on reload; `None` keeps `config`.
    pub config_file: Option<PathBuf>,
    /// Re-applied after every reload (CLI flags win over the file).
    pub overrides: Arc<dyn Fn(&mut Config) + Send + Sync>,
}

impl StartOptions {
    /// Options with no config file and no overrides.
    pub fn new(data_dir: PathBuf, config: Config) -> StartOptions {
        StartOptions {
            data_dir,
            config,
            config_file: None,
            overrides: Arc::new(|_| {}),
        }
    }
}

/// A running server.
pub struct Server {
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The ACS drains its own sessions (their sent tasks are requeued), so
    /// it is awaited without the listeners' drain bound.
    acs: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("state", &self.state)
            .finish()
    }
}

/// Example templates written into a new data directory.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "default.xml.j2",
        include_str!("../../../examples/templates/default.xml.j2"),
    ),
    (
        "bootstrap.xml.j2",
        include_str!("../../../examples/templates/bootstrap.xml.j2"),
    ),
    (
        "model/CP-8841-3PCC.xml.j2",
        include_str!("../../../examples/templates/model/CP-8841-3PCC.xml.j2"),
    ),
    (
        "group/lab.xml.j2",
        include_str!("../../../examples/templates/group/lab.xml.j2"),
    ),
];

fn data_err(path: &Path) -> impl Fn(std::io::Error) -> ServerError + '_ {
    move |error| ServerError::DataDir {
        path: path.to_path_buf(),
        error,
    }
}

/// Creates the data directory layout; writes the example templates when
/// the templates directory does not exist yet.
fn prepare_dirs(policy: &Policy) -> Result<(), ServerError> {
    let d = &policy.dirs;
    // A new data directory is 0700: it holds the keys (issue 12 item 4).
    let mut mkdir = std::fs::DirBuilder::new();
    mkdir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut mkdir, 0o700);
    mkdir.create(&d.data).map_err(data_err(&d.data))?;
    // Probe writability now: SQLite would otherwise fail later, less clearly.
    let probe = d.data.join(".phoneprov-write-test");
    std::fs::write(&probe, b"").map_err(data_err(&d.data))?;
    let _ = std::fs::remove_file(&probe);
    if !d.templates.exists() {
        for (name, text) in EXAMPLES {
            let path = d.templates.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(data_err(parent))?;
            }
            std::fs::write(&path, text).map_err(data_err(&path))?;
        }
    }
    for dir in [&d.static_root, &d.firmware_root] {
        std::fs::create_dir_all(dir).map_err(data_err(dir))?;
    }
    Ok(())
}

async fn bind_tcp(proto: &'static str, addr: SocketAddr) -> Result<TcpListener, ServerError> {
    listen_tcp(addr).map_err(|error| ServerError::Bind { proto, addr, error })
}

/// Pending connections a listener holds before the kernel drops SYNs
/// (capped by `net.core.somaxconn`).
pub const LISTEN_BACKLOG: u32 = 4096;

/// A TCP listener on `addr` with `SO_REUSEADDR` and a backlog of
/// [`LISTEN_BACKLOG`]. `TcpListener::bind` (std, mio, tokio) listens with
/// a backlog of 128: under a boot storm the accept queue overflowed, the
/// kernel dropped SYNs and those phones waited for the 1 s SYN
/// retransmission (thousands per 20 000-session run of the Inform
/// benchmark, `nstat` `TcpExtListenOverflows`).
pub fn listen_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

impl Server {
    /// Prepares everything and starts listening. Returns once every
    /// listener is bound; see [`Server::bound`] for the addresses.
    pub async fn start(opts: StartOptions) -> Result<Server, ServerError> {
        let metrics = crate::metrics_setup::install();
        let cfg = opts.config;
        let data = opts.data_dir;
        let policy = Policy::new(cfg.clone(), &data);
        prepare_dirs(&policy)?;
        // Re-resolve now that the directories exist (canonical paths).
        let policy = Policy::new(cfg.clone(), &data);
        let templates = TemplateSet::load(&policy.dirs.templates, 1)?;
        // The schema check first (issue 13): a newer schema, an older one
        // without --migrate, an unreachable database or a refused login
        // stop the start with one line before anything else opens it. The
        // stores are synchronous (PostgreSQL's client runs a runtime of
        // its own), so they are opened off the async workers.
        let db = crate::database::target(None, &cfg.database, &data);
        let auth_guard = Arc::new(phoneprov_httpauth::AuthGuard::new(cfg.throttle.clone()));
        let state_cell: Arc<OnceLock<Arc<AppState>>> = Arc::new(OnceLock::new());
        let (reader, status, services, nonce_secret) = tokio::task::block_in_place(|| {
            let mut first = crate::database::open_for_serve(&db, cfg.database.migrates())?;
            crate::database::record_served(&data, &db)?;
            let reader = ReadPool::open(&db)?;
            let status = StatusWriter::start(&db, cfg.store.retention())?;
            let services =
                Services::open(&data, &db, &cfg, auth_guard.clone(), state_cell.clone())?;
            crate::tls::share_development_ca(&mut first, &cfg, &data)?;
            let nonce_secret = crate::auth::shared_nonce_secret(&mut first).map_err(|message| {
                ServerError::Service {
                    service: "Digest nonce secret",
                    dir: data.clone(),
                    message,
                }
            })?;
            Ok::<_, ServerError>((reader, status, services, nonce_secret))
        })?;

        // The HTTPS listener's TLS settings, shared with the ACS's HTTPS
        // listener (`[listen] acs_tls`); built once the development CA is
        // the database's (several nodes, issue 13).
        let tls = match cfg.listen.https.addr().or(cfg.listen.acs_tls.addr()) {
            Some(_) => Some(TlsAcceptor::from(tls_config(&cfg, &data)?)),
            None => None,
        };
        let admin_tls = match cfg.listen.admin.addr() {
            Some(_) if cfg.admin_tls() => Some(TlsAcceptor::from(crate::tls::admin_tls_config(
                &cfg, &data,
            )?)),
            _ => None,
        };
        let access_log =
            crate::access_log::AccessLog::open(&cfg.log, &data).map_err(|message| {
                ServerError::ConfigValue {
                    file: "[log] access".into(),
                    message,
                }
            })?;

        // Bind everything before serving anything: a port in use is one
        // clear error and nothing is left half-started.
        let http_l = match cfg.listen.http.addr() {
            Some(a) => Some(bind_tcp("http", a).await?),
            None => None,
        };
        let https_l = match cfg.listen.https.addr() {
            Some(a) => Some(bind_tcp("https", a).await?),
            None => None,
        };
        let syslog_s = match cfg.listen.syslog.addr() {
            Some(addr) => Some(
                UdpSocket::bind(addr)
                    .await
                    .map_err(|error| ServerError::Bind {
                        proto: "syslog",
                        addr,
                        error,
                    })?,
            ),
            None => None,
        };
        let tftp_s = match cfg.listen.tftp.addr() {
            Some(addr) => Some(
                phoneprov_tftp::Server::bind(
                    addr,
                    LateTftp(state_cell.clone(), Default::default()),
                )
                .await
                .map_err(|e| match e {
                    phoneprov_tftp::ServerError::Bind { addr, error } => ServerError::Bind {
                        proto: "tftp",
                        addr,
                        error,
                    },
                    other => ServerError::Bind {
                        proto: "tftp",
                        addr,
                        error: std::io::Error::other(other.to_string()),
                    },
                })?,
            ),
            None => None,
        };
        // Bound last, so the other listeners' errors come first (as before
        // the ACS and the admin listener existed).
        let acs_l = match (&services.acs, cfg.listen.acs.addr()) {
            (Some(_), Some(a)) => Some(bind_tcp("acs", a).await?),
            _ => None,
        };
        let admin_l = match cfg.listen.admin.addr() {
            Some(a) => Some(bind_tcp("admin", a).await?),
            None => None,
        };
        let acs_tls_l = match (&services.acs, cfg.listen.acs_tls.addr()) {
            (Some(_), Some(a)) => Some(bind_tcp("acs-tls", a).await?),
            _ => None,
        };
        let local = |r: std::io::Result<SocketAddr>| r.ok();
        let bound = Bound {
            http: http_l.as_ref().and_then(|l| local(l.local_addr())),
            https: https_l.as_ref().and_then(|l| local(l.local_addr())),
            tftp: tftp_s.as_ref().and_then(|s| local(s.local_addr())),
            syslog: syslog_s.as_ref().and_then(|s| local(s.local_addr())),
            acs: acs_l.as_ref().and_then(|l| local(l.local_addr())),
            admin: admin_l.as_ref().and_then(|l| local(l.local_addr())),
            acs_tls: acs_tls_l.as_ref().and_then(|l| local(l.local_addr())),
        };
        let state = Arc::new(AppState {
            auth: AppState::default_auth(&cfg, nonce_secret),
            auth_guard: auth_guard.clone(),
            cache: RenderCache::new(cfg.profiles.cache_entries),
            policy: ArcSwap::from_pointee(policy),
            templates: ArcSwap::from_pointee(templates),
            tls: arc_swap::ArcSwapOption::from(tls.clone().map(Arc::new)),
            admin_tls: arc_swap::ArcSwapOption::from(admin_tls.map(Arc::new)),
            generation: AtomicU64::new(1),
            reader,
            status,
            bound,
            api: Some(services.api),
            metrics,
            config_file: opts.config_file,
            overrides: opts.overrides,
            access_log,
            unknown: Default::default(),
        });
        let _ = state_cell.set(state.clone());
        // Other nodes' changes (issue 13): PostgreSQL only.
        tokio::task::block_in_place(|| crate::changes::spawn(&db, &state))?;

        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let drain = Duration::from_secs(cfg.limits.drain_secs);
        for (l, door) in [
            (http_l, Door::Http),
            (https_l, Door::Https),
            (admin_l, Door::Admin),
        ] {
            if let Some(l) = l {
                tasks.push(tokio::spawn(accept_loop(
                    l,
                    state.clone(),
                    door,
                    stop_rx.clone(),
                    drain,
                )));
            }
        }
        if let Some(s) = tftp_s {
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let stopped = async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                if let Err(e) = s.serve_until(stopped).await {
                    tracing::error!(error = %e, "TFTP server failed");
                }
            }));
        }
        if let (Some(sock), Some(filer)) = (syslog_s, services.filer) {
            let mut rx = stop_rx.clone();
            let stopped = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            tasks.push(spawn_syslog(sock, filer, stopped));
        }
        {
            // Staged firmware rollouts (issue 14 item 5b): steps the
            // running ones every second, on a blocking thread.
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(phoneprov_api::rollout::drive(
                db.clone(),
                async move {
                    let _ = rx.wait_for(|s| *s).await;
                },
            )));
        }
        let acs = match services.acs {
            Some(acs) if acs_l.is_some() || acs_tls_l.is_some() => {
                // The ACS door of the throttle (issue 12 item 6).
                acs.set_auth_guard(auth_guard.clone());
                // One access-log line per CWMP session (issue 17 item 4).
                if state.access_log.enabled() {
                    acs.set_session_log(crate::access_log::cwmp_sessions(state.access_log.clone()));
                }
                let mut rx = stop_rx.clone();
                let tls = acs_tls_l.map(|l| (l, acs_upgrade(state.clone())));
                Some(tokio::spawn(acs.serve_listeners(acs_l, tls, async move {
                    let _ = rx.wait_for(|s| *s).await;
                })))
            }
            _ => None,
        };
        Ok(Server {
            state,
            stop,
            tasks,
            acs,
        })
    }

    /// Where the listeners are bound (actual ports after port 0).
    pub fn bound(&self) -> Bound {
        self.state.bound
    }

    /// The shared state (for mounting the API, tests, benchmarks).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Re-reads config and templates (SIGHUP). On error nothing changes.
    pub fn reload(&self) -> Result<u64, ServerError> {
        self.state.reload()
    }

    /// Graceful stop of everything together: no new connections,
    /// transfers or syslog messages; in-flight requests and transfers
    /// finish (bounded by `limits.drain_secs`), open CWMP sessions end and
    /// their sent tasks are requeued, queued status writes and syslog
    /// messages are flushed.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let drain = Duration::from_secs(self.state.policy.load().config.limits.drain_secs + 1);
        let listeners = async {
            for t in self.tasks.drain(..) {
                let abort = t.abort_handle();
                if tokio::time::timeout(drain, t).await.is_err() {
                    abort.abort();
                }
            }
        };
        let acs = async {
            if let Some(t) = self.acs.take() {
                let _ = t.await;
            }
        };
        tokio::join!(listeners, acs);
        self.state.status.flush().await;
        // Every access-log line of the finished requests is on disk.
        let log = self.state.access_log.clone();
        let _ = tokio::task::spawn_blocking(move || log.flush()).await;
    }
}

/// The TFTP handler exists before the state does (the TFTP port is part
/// of the state); it reads the state from a cell filled right after.
struct LateTftp(
    Arc<OnceLock<Arc<AppState>>>,
    Arc<crate::tftp_front::Transfers>,
);

impl LateTftp {
    fn front(&self) -> Option<TftpFront> {
        Some(TftpFront {
            state: self.0.get()?.clone(),
            transfers: self.1.clone(),
        })
    }
}

impl phoneprov_tftp::Handler for LateTftp {
    async fn read(
        &self,
        request: phoneprov_tftp::ReadRequest,
    ) -> Result<phoneprov_tftp::Content, phoneprov_tftp::HandlerError> {
        let Some(front) = self.front() else {
            return Err(phoneprov_tftp::HandlerError::Other("starting up".into()));
        };
        phoneprov_tftp::Handler::read(&front, request).await
    }

    fn finished(
        &self,
        request: &phoneprov_tftp::ReadRequest,
        end: &phoneprov_tftp::TransferEnd<'_>,
    ) {
        if let Some(front) = self.front() {
            phoneprov_tftp::Handler::finished(&front, request, end)
        }
    }
}

/// Completes once the stop flag is set (the guard `wait_for` returns is
/// not `Send`, so it must not live in the `select!`).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

fn http1_builder(cfg: &Config) -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(Duration::from_secs(cfg.limits.request_timeout_secs.max(1)))
        .max_buf_size(cfg.limits.max_header_bytes.max(8192));
    b
}

/// Which TCP listener an accept loop serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    /// The phones' plain HTTP port.
    Http,
    /// The phones' HTTPS port.
    Https,
    /// The admin listener ([`crate::admin`]): HTTPS when `[tls] cert` is
    /// set, no client certificate asked.
    Admin,
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<AppState>,
    door: Door,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) {
    let admin = door == Door::Admin;
    let graceful = GracefulShutdown::new();
    let builder = http1_builder(&state.policy.load().config);
    let local = listener.local_addr().ok();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stopped(&mut stop) => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().ok().or(local).unwrap_or(peer);
        let state = state.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        // HTTPS: the TLS settings of the moment (SIGHUP may have renewed
        // the certificate since the listener started).
        let tls = match door {
            Door::Http => None,
            Door::Https => state.tls.load_full(),
            Door::Admin => state.admin_tls.load_full(),
        };
        let proto = if tls.is_some() {
            Proto::Https
        } else {
            Proto::Http
        };
        tokio::spawn(async move {
            match tls {
                None => {
                    let conn = Arc::new(ConnInfo {
                        proto,
                        peer,
                        local,
                        identity: None,
                        tls: None,
                        cert_subject: None,
                        admin,
                    });
                    let svc = hyper::service::service_fn(move |req| {
                        handle(state.clone(), conn.clone(), req)
                    });
                    let _ = watcher
                        .watch(builder.serve_connection(TokioIo::new(tcp), svc))
                        .await;
                }
                Some(acceptor) => {
                    // A handshake gets as long as a request
                    // (`limits.request_timeout_secs`): in a boot storm the
                    // handshakes queue for the CPU, and a fixed 10 s cut
                    // 0.07 % of 100 000 phones off (class C).
                    let limit = state.policy.load().config.request_timeout();
                    let hs = tokio::time::timeout(limit, acceptor.accept(tcp)).await;
                    let stream = match hs {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            if !admin {
                                crate::metrics_setup::record_handshake_failure();
                            }
                            tls_refused(&state, peer, false, Some(e));
                            return;
                        }
                        Err(_) => {
                            if !admin {
                                crate::metrics_setup::record_handshake_failure();
                            }
                            tls_refused(&state, peer, true, None);
                            return;
                        }
                    };
                    let tls_conn = stream.get_ref().1;
                    let identity =
                        phoneprov_pki::identity_from_peer_certs(tls_conn.peer_certificates())
                            .ok()
                            .flatten();
                    let tls = crate::access_log::TlsInfo {
                        version: match tls_conn.protocol_version() {
                            Some(phoneprov_pki::rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
                            Some(phoneprov_pki::rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
                            _ => "TLS",
                        },
                        resumed: tls_conn.handshake_kind()
                            == Some(phoneprov_pki::rustls::HandshakeKind::Resumed),
                    };
                    let conn = Arc::new(ConnInfo {
                        proto,
                        peer,
                        local,
                        identity,
                        tls: Some(tls),
                        cert_subject: state
                            .access_log
                            .enabled()
                            .then(|| {
                                phoneprov_pki::subject_from_peer_certs(tls_conn.peer_certificates())
                            })
                            .flatten(),
                        admin,
                    });
                    let svc = hyper::service::service_fn(move |req| {
                        handle(state.clone(), conn.clone(), req)
                    });
                    let _ = watcher
                        .watch(builder.serve_connection(TokioIo::new(stream), svc))
                        .await;
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open after the drain period");
    }
}

/// A failed TLS handshake: an access-log line, and a WARN naming the
/// client when its certificate was refused (missing in `required` mode,
/// or not from the client CA); other failures (scanners, timeouts) are
/// DEBUG only.
/// The TLS handshake of the ACS's HTTPS listener (`[listen] acs_tls`,
/// issue 12 item 5): the HTTPS listener's settings of the moment
/// (certificate, client CA, `client_auth`; renewed at SIGHUP), the same
/// handshake time limit, and the same log of refused handshakes. The
/// client certificate's MAC goes with the stream (an Inform of another
/// device is refused by the ACS).
fn acs_upgrade(state: Arc<AppState>) -> phoneprov_acs::Upgrade {
    Arc::new(move |tcp, peer| {
        let state = state.clone();
        Box::pin(async move {
            let acceptor = state.tls.load_full()?;
            let limit = state.policy.load().config.request_timeout();
            match tokio::time::timeout(limit, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    // The certificate's MAC (issue 12): each Inform on this
                    // connection must be that device's.
                    let cert_mac = phoneprov_pki::identity_from_peer_certs(
                        stream.get_ref().1.peer_certificates(),
                    )
                    .ok()
                    .flatten()
                    .and_then(|id| phoneprov_types::Mac::parse(&id.mac).ok());
                    Some(phoneprov_acs::Upgraded {
                        io: Box::new(stream),
                        cert_mac,
                    })
                }
                Ok(Err(e)) => {
                    tls_refused(&state, peer, false, Some(e));
                    None
                }
                Err(_) => {
                    tls_refused(&state, peer, true, None);
                    None
                }
            }
        })
    })
}

fn tls_refused(state: &AppState, peer: SocketAddr, timed_out: bool, error: Option<std::io::Error>) {
    use phoneprov_pki::rustls::Error as TlsError;
    let tls_error = error
        .as_ref()
        .and_then(|e| e.get_ref())
        .and_then(|e| e.downcast_ref::<TlsError>());
    match tls_error {
        Some(e @ (TlsError::InvalidCertificate(_) | TlsError::NoCertificatesPresented)) => {
            tracing::warn!(client = %peer.ip(), reason = %e, "TLS client certificate refused");
        }
        _ if timed_out => tracing::debug!(client = %peer.ip(), "TLS handshake timed out"),
        _ => tracing::debug!(client = %peer.ip(), error = ?error, "TLS handshake failed"),
    }
    state.access_log.log(&crate::access_log::Entry {
        proto: Proto::Https.as_str(),
        client: peer,
        method: "-",
        target: "-",
        version: "-",
        status: crate::access_log::Status::Outcome("tls-refused"),
        bytes: 0,
        duration: std::time::Duration::ZERO,
        user_agent: None,
        tls: None,
        cert_subject: None,
        id: None,
        proof: "-",
        session: None,
    });
}
