//! Bulk jobs (issue 14 item 4): push a resync to, or queue an ACS task
//! for, every device of a [`Selection`] at a rate, with progress.
//!
//! One runner, [`run_job`], serves the three doors: the API
//! (`POST /api/v1/bulk-jobs`, then `GET /api/v1/bulk-jobs/{id}` for
//! progress, `DELETE` to cancel), the console (bulk selection on the
//! device list, a job page) and the CLI (`phoneprov device resync --group
//! G --rate 50`, which runs the job in its own process with a progress
//! bar). The job and its counts live in the store (`bulk_jobs`), so a job
//! started by the CLI shows in the console and a cancel from any node
//! stops it at its next progress write.
//!
//! The selection is walked in MAC order, a page at a time (a keyset scan,
//! so a million devices cost no more per page than a thousand). Devices
//! are handed out at `rate` per second by a tokio interval and handled
//! concurrently (a slow phone does not slow the rate; at most
//! [`MAX_IN_FLIGHT`] at once). Each device ends `succeeded`, `failed`
//! (the push was refused or the phone unreachable; the first reasons are
//! kept) or `skipped` (no known address, or not in the inventory).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use phoneprov_acs::{parse_request, Acs, TaskOptions, TaskRpc};
use phoneprov_store::{
    BulkJob, BulkProgress, ConsoleRepo, Database, Device, Mac, NewBulkJob, Selection, Store,
    StoreError,
};
use serde::Deserialize;
use tokio::task::JoinSet;
use utoipa::ToSchema;

use crate::push::{push, push_target, record_push};

/// Most devices handled at once.
pub const MAX_IN_FLIGHT: usize = 256;
/// Highest rate, devices per second.
pub const MAX_RATE: u32 = 1000;
/// The rate when none is given.
pub const DEFAULT_RATE: u32 = 10;
/// Devices read per page of the selection.
const PAGE: u64 = 500;
/// How often progress is written.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// A `running` job with no progress written for this long lost its runner
/// (the process was killed): [`spawn_stale_sweeper`] marks it
/// `interrupted`. A live runner writes at least once per device handled
/// (1 s at the lowest rate) plus one push (15 s at most), so a minute is
/// far from a live job on any node.
pub const STALE_AFTER: Duration = Duration::from_secs(60);
/// How often [`spawn_stale_sweeper`] looks.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Starts the thread of `phoneprov serve` that marks jobs left `running`
/// by a dead runner (a killed `serve` or CLI) as `interrupted`, at start
/// and every few seconds after ([`STALE_AFTER`]). A plain thread: the
/// store must not run on an async worker. Failures are logged and retried.
pub fn spawn_stale_sweeper(
    db: phoneprov_store::Database,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("bulk-job-sweeper".into())
        .spawn(move || {
            let mut store = None;
            loop {
                if store.is_none() {
                    store = phoneprov_store::Store::connect(&db)
                        .map_err(|e| tracing::warn!("bulk-job sweeper: cannot open the store: {e}"))
                        .ok();
                }
                if let Some(s) = store.as_mut() {
                    let before = phoneprov_store::now_ms() - STALE_AFTER.as_millis() as i64;
                    match s.interrupt_stale_bulk_jobs(before) {
                        Ok(0) => {}
                        Ok(n) => tracing::warn!(jobs = n, "bulk jobs whose runner stopped (no progress for a minute) marked interrupted; start them again"),
                        Err(e) => {
                            tracing::warn!("bulk-job sweeper: {e}");
                            store = None;
                        }
                    }
                }
                std::thread::sleep(SWEEP_EVERY);
            }
        })
}

/// A bulk job as the API takes it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// `resync` (push a resync to each phone, R-RULE-6) or `task` (queue
    /// `task` for each device's next CWMP session).
    pub action: String,
    /// The ACS task for `task`, as `POST /api/v1/devices/{mac}/tasks`
    /// takes it (with `expires_after` and `max_attempts` if wanted).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub task: Option<serde_json::Value>,
    /// Which devices: the device list's filter (`q`, `model`, `group`,
    /// `outcome`, `firmware`, `older`), `macs`, or `all`.
    #[schema(value_type = Object)]
    pub selection: Selection,
    /// Devices per second (1 to 1000; default 10).
    #[serde(default)]
    pub rate: Option<u32>,
}

/// What a job does to each device.
#[derive(Debug, Clone)]
pub enum BulkAction {
    /// Push a resync (GET /admin/resync) to the device's address.
    Resync,
    /// Queue this task (and ask the CPE to connect, when an ACS is given).
    Task(TaskRpc, TaskOptions),
}

/// A checked bulk request.
#[derive(Debug, Clone)]
pub struct BulkPlan {
    /// What to do.
    pub action: BulkAction,
    /// The task JSON as given (`task` jobs), for the job row.
    pub task_json: Option<String>,
    /// Which devices.
    pub selection: Selection,
    /// Devices per second.
    pub rate: u32,
}

/// The RPC of a bulk job's JSON body, for the role check
/// ([`crate::access`]): `Some(None)` a resync job, `Some(Some(rpc))` a
/// task job, `None` a body [`BulkRequest::plan`] refuses (its handler
/// answers 400).
pub(crate) fn rpc_of_request(body: &[u8]) -> Option<Option<&'static str>> {
    let req: BulkRequest = serde_json::from_slice(body).ok()?;
    match req.plan().ok()?.action {
        BulkAction::Resync => Some(None),
        BulkAction::Task(rpc, _) => Some(Some(rpc.method())),
    }
}

impl BulkRequest {
    /// Checks the request: one clear message when something is wrong.
    pub fn plan(&self) -> Result<BulkPlan, String> {
        let rate = self.rate.unwrap_or(DEFAULT_RATE);
        if !(1..=MAX_RATE).contains(&rate) {
            return Err(format!(
                "rate {rate}/s is out of range; give 1 to {MAX_RATE}"
            ));
        }
        self.selection.check()?;
        let (action, task_json) = match (self.action.as_str(), &self.task) {
            ("resync", None) => (BulkAction::Resync, None),
            ("resync", Some(_)) => return Err("a resync job takes no task".into()),
            ("task", Some(t)) => {
                let json = t.to_string();
                let (rpc, opts) = parse_request(json.as_bytes())
                    .map_err(|e| format!("bad task JSON: {e}"))?;
                (BulkAction::Task(rpc, opts), Some(json))
            }
            ("task", None) => {
                return Err(
                    r#"a task job needs "task", e.g. {"rpc":"GetParameterValues","names":["Device.DeviceInfo."]}"#
                        .into(),
                )
            }
            (other, _) => return Err(format!("action {other:?} is not resync or task")),
        };
        Ok(BulkPlan {
            action,
            task_json,
            selection: self.selection.clone(),
            rate,
        })
    }
}

/// How one device ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Pushed or queued.
    Succeeded,
    /// Refused or unreachable: why.
    Failed(String),
    /// Not attempted: why.
    Skipped(String),
}

/// Why a job could not start.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The request is wrong.
    #[error("{0}")]
    Bad(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The job vanished (removed from the database meanwhile).
    #[error("bulk job {0} is gone from the database")]
    Gone(i64),
}

type ItemFuture = Pin<Box<dyn Future<Output = ItemOutcome> + Send>>;

/// Runs blocking store work off the async workers (the PostgreSQL client
/// must not run on one).
async fn with_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, BulkError> {
    let store = store.clone();
    Ok(tokio::task::spawn_blocking(move || {
        let mut s = store.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    })
    .await
    .map_err(|e| BulkError::Bad(format!("bulk job worker stopped: {e}")))??)
}

/// A store connection of the job's own.
async fn connect(db: &Database) -> Result<Arc<Mutex<Store>>, BulkError> {
    let db = db.clone();
    let store = tokio::task::spawn_blocking(move || Store::connect(&db))
        .await
        .map_err(|e| BulkError::Bad(format!("bulk job worker stopped: {e}")))??;
    Ok(Arc::new(Mutex::new(store)))
}

/// Records a job for `plan` and runs it in the background (a tokio task
/// of the caller's runtime); returns the job as created. The API and the
/// console start jobs this way; with `acs`, task jobs queue through it
/// and ask each CPE to connect.
pub async fn start(
    db: &Database,
    plan: BulkPlan,
    acs: Option<Acs>,
    created_by: &str,
) -> Result<BulkJob, BulkError> {
    let store = connect(db).await?;
    let job = create_job(&store, &plan, created_by).await?;
    let id = job.id;
    tokio::spawn(async move {
        if let Err(e) = run_job(store, id, plan, acs, |_| {}).await {
            tracing::warn!(job = id, error = %e, "bulk job stopped");
        }
    });
    Ok(job)
}

/// Records a job for `plan` and runs it here to its end, calling
/// `on_progress` with the job as stored at each progress write; returns
/// the job as it ended (`phoneprov device resync --group G`). Without an
/// ACS, task jobs are queued in the store and run at each device's next
/// Inform.
pub async fn run_here(
    db: &Database,
    plan: BulkPlan,
    acs: Option<Acs>,
    created_by: &str,
    on_progress: impl Fn(&BulkJob) + Send,
) -> Result<BulkJob, BulkError> {
    let store = connect(db).await?;
    let job = create_job(&store, &plan, created_by).await?;
    on_progress(&job);
    run_job(store, job.id, plan, acs, on_progress).await
}

/// Creates the job row for `plan` (counting the selection); returns it.
async fn create_job(
    store: &Arc<Mutex<Store>>,
    plan: &BulkPlan,
    created_by: &str,
) -> Result<BulkJob, BulkError> {
    let q = plan
        .selection
        .query(phoneprov_store::now_ms())
        .map_err(BulkError::Bad)?;
    let macs = plan.selection.mac_list().map_err(BulkError::Bad)?;
    let (plan2, by) = (plan.clone(), created_by.to_string());
    let selection = serde_json::to_string(&plan.selection).unwrap_or_default();
    let job = with_store(store, move |s| {
        let total = if macs.is_empty() {
            s.count_matching(&q)?
        } else {
            macs.len() as u64
        };
        let action = match plan2.action {
            BulkAction::Resync => "resync",
            BulkAction::Task(..) => "task",
        };
        let id = s.create_bulk_job(&NewBulkJob {
            action,
            task: plan2.task_json.as_deref(),
            selection: &selection,
            rate_per_s: i64::from(plan2.rate),
            total: i64::try_from(total).unwrap_or(i64::MAX),
            created_by: &by,
        })?;
        Ok((id, s.bulk_job(id)?))
    })
    .await?;
    job.1.ok_or(BulkError::Gone(job.0))
}

/// What handles one device.
fn item_fn(
    store: Arc<Mutex<Store>>,
    action: BulkAction,
    acs: Option<Acs>,
) -> Arc<dyn Fn(Device) -> ItemFuture + Send + Sync> {
    Arc::new(move |dev: Device| -> ItemFuture {
        let (store, action, acs) = (store.clone(), action.clone(), acs.clone());
        Box::pin(async move {
            match action {
                BulkAction::Resync => resync_one(&store, dev).await,
                BulkAction::Task(rpc, opts) => task_one(&store, acs, dev.mac, rpc, opts).await,
            }
        })
    })
}

pub(crate) async fn resync_one(store: &Arc<Mutex<Store>>, dev: Device) -> ItemOutcome {
    // HTTP GET to the last seen address, or a NOTIFY to the device's
    // sip_contact (issue 15).
    let target = match push_target(Some(&dev), dev.mac, None, None) {
        Ok(t) => t,
        Err(_) => return ItemOutcome::Skipped("no known address (never seen)".into()),
    };
    let result = push(&target, None).await;
    crate::metrics::record_push(target.method(), &result);
    let mac = dev.mac;
    let outcome = match &result {
        Ok(_) => ItemOutcome::Succeeded,
        Err(e) => ItemOutcome::Failed(e.to_string()),
    };
    if let Err(e) = with_store(store, move |s| record_push(s, mac, &result)).await {
        tracing::warn!(%mac, error = %e, "bulk resync: cannot record the event");
    }
    outcome
}

async fn task_one(
    store: &Arc<Mutex<Store>>,
    acs: Option<Acs>,
    mac: Mac,
    rpc: TaskRpc,
    opts: TaskOptions,
) -> ItemOutcome {
    let queued = match acs.clone() {
        Some(acs) => tokio::task::spawn_blocking(move || acs.enqueue_with(mac, rpc, opts))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string())),
        None => {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                let mut s = store.lock().unwrap_or_else(|e| e.into_inner());
                phoneprov_acs::enqueue(&mut s, mac, rpc, opts, None)
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
        }
    };
    match queued {
        Err(e) => ItemOutcome::Failed(e),
        Ok(_) => {
            // Best effort: a CPE that cannot be reached runs the task at
            // its next periodic Inform.
            if let Some(acs) = acs {
                if let Err(e) = acs.connection_request(mac).await {
                    tracing::debug!(%mac, error = %e, "bulk task: no connection request");
                }
            }
            ItemOutcome::Succeeded
        }
    }
}

/// The next page of the selection after `cursor`, in MAC order (missing
/// MACs of a list come back as `Err(mac)`).
async fn next_page(
    store: &Arc<Mutex<Store>>,
    sel: &Selection,
    macs: &Arc<Vec<Mac>>,
    cursor: Option<Mac>,
) -> Result<Vec<Result<Device, Mac>>, BulkError> {
    if macs.is_empty() {
        let mut q = sel
            .query(phoneprov_store::now_ms())
            .map_err(BulkError::Bad)?;
        q.after_mac = cursor.map(|m| m.to_string());
        q.limit = PAGE;
        return with_store(store, move |s| {
            Ok(s.search_devices(&q)?.into_iter().map(Ok).collect())
        })
        .await;
    }
    let start = cursor.map_or(0, |c| macs.partition_point(|m| *m <= c));
    let chunk: Vec<Mac> = macs
        .iter()
        .skip(start)
        .take(PAGE as usize)
        .copied()
        .collect();
    with_store(store, move |s| {
        chunk
            .into_iter()
            .map(|m| Ok(s.device(m)?.ok_or(m)))
            .collect()
    })
    .await
}

/// Runs job `job` to its end: hands out the selection at the plan's
/// rate, writes progress every quarter second (calling `on_progress` with
/// the job as stored), stops early when the job is cancelled, and returns
/// the job as it ended.
async fn run_job(
    store: Arc<Mutex<Store>>,
    job: i64,
    plan: BulkPlan,
    acs: Option<Acs>,
    on_progress: impl Fn(&BulkJob) + Send,
) -> Result<BulkJob, BulkError> {
    let macs = Arc::new(plan.selection.mac_list().map_err(BulkError::Bad)?);
    let handle = item_fn(store.clone(), plan.action.clone(), acs);
    let period = Duration::from_secs_f64(1.0 / f64::from(plan.rate.max(1)));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut progress = BulkProgress::default();
    let mut in_flight: JoinSet<(Mac, ItemOutcome)> = JoinSet::new();
    let mut last_write = tokio::time::Instant::now();
    let mut cursor: Option<Mac> = None;
    let mut cancelled = false;
    'pages: loop {
        let page = next_page(&store, &plan.selection, &macs, cursor).await?;
        if page.is_empty() {
            break;
        }
        for item in page {
            let mac = match &item {
                Ok(d) => d.mac,
                Err(m) => *m,
            };
            cursor = Some(mac);
            tick.tick().await;
            while in_flight.len() >= MAX_IN_FLIGHT {
                if let Some(Ok((m, o))) = in_flight.join_next().await {
                    count(&mut progress, m, o);
                }
            }
            while let Some(Ok((m, o))) = in_flight.try_join_next() {
                count(&mut progress, m, o);
            }
            match item {
                Ok(dev) => {
                    let h = handle.clone();
                    in_flight.spawn(async move { (mac, h(dev).await) });
                }
                Err(m) => count(
                    &mut progress,
                    m,
                    ItemOutcome::Skipped("not in the inventory".into()),
                ),
            }
            if last_write.elapsed() >= PROGRESS_EVERY {
                last_write = tokio::time::Instant::now();
                progress.cursor = cursor.map(|m| m.to_string());
                if write_progress(&store, job, &mut progress, &on_progress).await? {
                    cancelled = true;
                    break 'pages;
                }
            }
        }
    }
    while let Some(r) = in_flight.join_next().await {
        if let Ok((m, o)) = r {
            count(&mut progress, m, o);
        }
    }
    progress.cursor = cursor.map(|m| m.to_string());
    write_progress(&store, job, &mut progress, &on_progress).await?;
    let end = if cancelled { "cancelled" } else { "done" };
    let done = with_store(&store, move |s| s.finish_bulk_job(job, end))
        .await?
        .ok_or(BulkError::Gone(job))?;
    on_progress(&done);
    Ok(done)
}

fn count(p: &mut BulkProgress, mac: Mac, o: ItemOutcome) {
    match o {
        ItemOutcome::Succeeded => p.succeeded += 1,
        ItemOutcome::Skipped(_) => p.skipped += 1,
        ItemOutcome::Failed(why) => {
            p.failed += 1;
            p.new_failures.push((mac.to_string(), why));
        }
    }
}

/// Writes progress; `true` when the job was cancelled meanwhile.
async fn write_progress(
    store: &Arc<Mutex<Store>>,
    job: i64,
    p: &mut BulkProgress,
    on_progress: &(impl Fn(&BulkJob) + Send),
) -> Result<bool, BulkError> {
    let snapshot = p.clone();
    p.new_failures.clear();
    let (state, now) = with_store(store, move |s| {
        let state = s.bulk_progress(job, &snapshot)?;
        Ok((state, s.bulk_job(job)?))
    })
    .await?;
    if let Some(j) = now {
        on_progress(&j);
    }
    Ok(state.as_deref() != Some("running"))
}
