//! The services `phoneprov serve` runs beside the provisioning listeners,
//! opened before any socket is bound (so a broken data directory fails the
//! start before anything listens):
//!
//! * the admin REST API (`phoneprov-api`, bearer token in
//!   `DATA/admin.token`), mounted at `/api/` on the HTTP(S) ports;
//! * the activation service (`phoneprov-activation`, SPEC R-ACT): its admin
//!   routes (`/api/v1/activation/...`) and the phones' routes
//!   (`/activation/v1/...`) in the same mounted handler;
//! * the TR-069 ACS (`phoneprov-acs`, R-TR69) when `[listen] acs` is on:
//!   its task API (`/api/v1/devices/{mac}/tasks`, `/datamodel`,
//!   `/connection-request`) in the mounted handler, and its own listener
//!   (bound with the others by [`crate::Server::start`]);
//! * the operator's console (`phoneprov-console`, issue 14) at `/ui/`, in
//!   the same mounted handler as the API, with its own sign-in (users and
//!   sessions; see that crate);
//! * the syslog filer (`phoneprov-syslog`, R-LOG): one thread that files
//!   each received message in the device's timeline.
//!
//! Every admin route takes the same bearer token; the phones' endpoints
//! take none.

use std::path::Path;

use phoneprov_store::Database;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::ServerError;
use crate::state::ApiHandler;

/// Queue length of the syslog filer (messages waiting for the database).
const SYSLOG_QUEUE: usize = 65_536;

/// The opened services, not yet serving.
pub(crate) struct Services {
    /// `/api/` and `/activation/` handler for the HTTP(S) listeners.
    pub api: ApiHandler,
    /// The ACS when `[listen] acs` is on.
    pub acs: Option<phoneprov_acs::Acs>,
    /// The syslog filer when `[listen] syslog` is on (its thread runs
    /// from now on; it files what the receiver hands it).
    pub filer: Option<crate::syslog_filing::StoreFiler>,
}

fn setup_err<'a>(service: &'static str, data: &'a Path) -> impl Fn(String) -> ServerError + 'a {
    move |message| ServerError::Service {
        service,
        dir: data.to_path_buf(),
        message,
    }
}

impl Services {
    /// Opens the API, activation service, ACS (if on) and syslog filer on
    /// the data directory (which exists by now).
    pub fn open(
        data: &Path,
        db: &Database,
        cfg: &Config,
        auth_guard: Arc<phoneprov_httpauth::AuthGuard>,
        state: Arc<std::sync::OnceLock<Arc<crate::AppState>>>,
    ) -> Result<Services, ServerError> {
        let api_state = phoneprov_api::ApiState::open_db(data, db)
            .map_err(|e| setup_err("admin API", data)(e.to_string()))?;
        let templates: Arc<dyn phoneprov_api::templates::TemplateEditor> =
            Arc::new(crate::template_change::ServerTemplates {
                state: state.clone(),
                db: db.clone(),
            });
        api_state.set_templates(templates.clone());
        phoneprov_api::bulk::spawn_stale_sweeper(db.clone())
            .map_err(|e| setup_err("bulk-job sweeper", data)(e.to_string()))?;
        // `guard_api` below authenticates every `/api/v1/` request (the
        // admin token and the users' role tokens, issue 14 item 2) and
        // applies the role rules, as it does for the ACS's routes; the
        // service's own guard would accept the admin token only, and refuse
        // an admin user's token.
        let behind_guard_api: phoneprov_activation::AdminGuard = Arc::new(|_| true);
        let activation = phoneprov_activation::ActivationService::open_db(db, behind_guard_api)
            .map_err(|e| setup_err("activation service", data)(e.to_string()))?;
        let mut extra = api_state.guard_api(phoneprov_activation::router(activation));
        let mut doc = phoneprov_api::activation_doc();
        let acs = match cfg.listen.acs.addr().or(cfg.listen.acs_tls.addr()) {
            Some(_) => {
                let acs = phoneprov_acs::Acs::open_db(db, cfg.acs.clone())
                    .map_err(|e| setup_err("ACS", data)(e.to_string()))?;
                extra = extra.merge(api_state.guard_api(acs.api_router()));
                api_state.set_acs(acs.clone());
                doc.merge(phoneprov_api::acs_doc());
                Some(acs)
            }
            None => None,
        };
        let console = phoneprov_console::Console::open(
            db,
            phoneprov_console::ConsoleOptions {
                idle: phoneprov_console::auth::DEFAULT_IDLE,
                guard: auth_guard,
                acs: acs.clone(),
                preview: Arc::new(crate::console_glue::LatePreview(state)),
                templates: Some(templates),
            },
        )
        .map_err(|e| setup_err("console", data)(e.to_string()))?;
        console.warm_overview();
        extra = extra.merge(console.router());
        let api: ApiHandler = Arc::new(phoneprov_api::bytes_handler_with(
            api_state,
            extra,
            Some(doc),
        ));
        let filer = match cfg.listen.syslog.addr() {
            Some(_) => {
                let err = setup_err("syslog filer", data);
                let store = phoneprov_store::Store::connect(db).map_err(|e| err(e.to_string()))?;
                let index =
                    crate::syslog_filing::IpIndex::load(&store).map_err(|e| err(e.to_string()))?;
                let writer =
                    phoneprov_store::TimelineWriter::for_db(db).map_err(|e| err(e.to_string()))?;
                Some(crate::syslog_filing::StoreFiler::spawn(
                    writer,
                    store,
                    index,
                    SYSLOG_QUEUE,
                ))
            }
            None => None,
        };
        Ok(Services { api, acs, filer })
    }
}

/// Runs the syslog receiver on `socket` until `stop` completes, then stops
/// the filer once everything it was handed is written.
pub(crate) fn spawn_syslog(
    socket: UdpSocket,
    filer: crate::syslog_filing::StoreFiler,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = phoneprov_syslog::run_receiver(socket, filer.sink(), stop).await {
            tracing::error!(error = %e, "syslog receiver stopped");
            eprintln!("phoneprov serve: syslog receiver stopped: {e}");
        }
        let _ = tokio::task::spawn_blocking(move || filer.shutdown()).await;
    })
}
