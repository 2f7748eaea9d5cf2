//! The ACS's view of its rows: the store's task rows and data-model cache
//! decoded into this crate's types. All SQL is in `phoneprov-store`
//! ([`AcsRepo`], tables `acs_tasks` and `acs_datamodel` of the data
//! directory's database); this module only turns JSON columns into
//! [`TaskRpc`] and results, and back.

use phoneprov_store::{AcsRepo, Lookups, Mac, NewTask, Store, StoreError, TaskRow};
use serde::Serialize;
use serde_json::Value;

pub use phoneprov_store::{DmUpdate, TaskState, ValueAndType};

use crate::error::AcsError;
use crate::task::{xml_name, TaskOptions, TaskRpc};

/// A stored task, as the REST API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRecord {
    /// Row id.
    pub id: i64,
    /// Device MAC (12 lowercase hex digits).
    pub mac: String,
    /// The request, as given (XML names already mapped to paths).
    pub rpc: TaskRpc,
    /// Current state.
    pub state: TaskState,
    /// `api` or `preset`.
    pub source: String,
    /// CommandKey sent (Reboot, Download).
    pub command_key: Option<String>,
    /// How many times it was sent.
    pub attempts: i64,
    /// Response or fault, as JSON.
    pub result: Option<Value>,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub updated_ms: i64,
    /// Sends without an answer before it is given up (`fault`).
    pub max_attempts: i64,
    /// Unix ms after which it is not sent any more (`expired`); absent:
    /// no deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
}

/// One cached parameter of a device's data model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataModelEntry {
    /// TR-069 path.
    pub path: String,
    /// The XML parameter name the schema gives this path (R-TR69-4).
    pub xml_name: Option<String>,
    /// Last known value (absent when only the name is known).
    pub value: Option<String>,
    /// `xsd` type name.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Writable, from GetParameterNames.
    pub writable: Option<bool>,
    /// Unix ms.
    pub updated_ms: i64,
}

/// A reported value (Inform, GetParameterValuesResponse) as a cache
/// update: value and type; the writable flag is kept.
pub(crate) fn reported(p: &phoneprov_cwmp::ParameterValue) -> DmUpdate {
    DmUpdate {
        path: p.name.clone(),
        value: Some(p.value.clone()),
        kind: Some(p.kind.as_str().to_string()),
        writable: None,
    }
}

/// The task as stored: its method and JSON.
pub(crate) fn task_json(rpc: &TaskRpc) -> Result<(String, String), AcsError> {
    let json = serde_json::to_string(rpc).map_err(|e| AcsError::Internal(e.to_string()))?;
    Ok((rpc.method().to_string(), json))
}

/// A claimed task's JSON, decoded.
pub(crate) fn decode_task(id: i64, json: &str) -> Result<TaskRpc, AcsError> {
    serde_json::from_str(json).map_err(|e| AcsError::BadTask {
        id,
        why: format!("rpc: {e}"),
    })
}

/// Queues `rpc` for `mac` with its limits and reads the row back.
pub(crate) fn insert_task(
    store: &mut Store,
    mac: &str,
    rpc: &TaskRpc,
    source: &str,
    opts: TaskOptions,
) -> Result<TaskRecord, AcsError> {
    let (method, json) = task_json(rpc)?;
    let id = store.queue_task(
        mac,
        NewTask {
            method: &method,
            rpc: &json,
        },
        source,
        opts.limits(phoneprov_store::now_ms()),
    )?;
    store
        .task(mac, id)?
        .map(record)
        .transpose()?
        .ok_or_else(|| AcsError::Internal(format!("task {id} vanished after insert")))
}

/// Queues `rpc` for `mac` in `store` (XML parameter names mapped to
/// TR-069 paths first, a config Download without URL given `profile_url`)
/// with its own limits: what the API, the console, bulk jobs and
/// `phoneprov device task` all call. Blocking.
pub fn enqueue(
    store: &mut Store,
    mac: phoneprov_store::Mac,
    rpc: TaskRpc,
    opts: TaskOptions,
    profile_url: Option<&str>,
) -> Result<TaskRecord, AcsError> {
    let mac = mac.to_string();
    let rpc = rpc.normalize(&mac, profile_url)?;
    insert_task(store, &mac, &rpc, "api", opts)
}

/// A stored row as the API shows it.
pub(crate) fn record(row: TaskRow) -> Result<TaskRecord, AcsError> {
    let id = row.id;
    let bad = |why: String| AcsError::BadTask { id, why };
    Ok(TaskRecord {
        id,
        rpc: decode_task(id, &row.rpc)?,
        state: TaskState::parse(&row.state).ok_or_else(|| bad(format!("state {:?}", row.state)))?,
        result: row
            .result
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| bad(format!("result: {e}")))?,
        mac: row.mac,
        source: row.source,
        command_key: row.command_key,
        attempts: row.attempts,
        created_ms: row.created_ms,
        updated_ms: row.updated_ms,
        max_attempts: row.max_attempts,
        expires_ms: row.expires_ms,
    })
}

/// The cached data model of `mac`, with the XML names of the schema.
pub(crate) fn data_model(store: &Store, mac: &str) -> Result<Vec<DataModelEntry>, AcsError> {
    Ok(store
        .data_model(mac)?
        .into_iter()
        .map(|e| DataModelEntry {
            xml_name: xml_name(&e.path),
            path: e.path,
            value: e.value,
            kind: e.kind,
            writable: e.writable,
            updated_ms: e.updated_ms,
        })
        .collect())
}

/// The ACS's connection for reads and the rare write off the session hot
/// path (queueing from the API, requeueing, TransferComplete), used
/// under a mutex and only for short statements.
pub(crate) struct Db {
    store: std::sync::Mutex<Store>,
    /// PostgreSQL: a call from async code leaves the worker first.
    remote: bool,
    /// PostgreSQL: the Inform's lookups (device by serial number or MAC),
    /// batched with those of the other sessions on a connection of their
    /// own (`phoneprov_store::Lookups`), instead of one round trip each
    /// under the mutex.
    lookups: Option<Lookups>,
}

impl Db {
    /// `store` for the mutexed connection; on PostgreSQL a second
    /// connection is opened for the batched lookups.
    pub(crate) fn new(store: Store) -> Result<Db, StoreError> {
        let lookups = match store.database() {
            db if db.is_postgres() => Some(Lookups::for_db(db)?),
            _ => None,
        };
        Ok(Db {
            remote: store.database().is_postgres(),
            store: std::sync::Mutex::new(store),
            lookups,
        })
    }

    /// The MAC of the inventory device with this serial number (an
    /// Inform's first read).
    pub(crate) async fn mac_by_serial(&self, serial: &str) -> Result<Option<Mac>, StoreError> {
        match &self.lookups {
            Some(l) => l.mac_by_serial(serial).await,
            None => self.with(|s| s.mac_by_serial(serial)),
        }
    }

    /// Whether the inventory has `mac`.
    pub(crate) async fn known(&self, mac: Mac) -> Result<bool, StoreError> {
        Ok(match &self.lookups {
            Some(l) => l.device(mac).await?,
            None => self.with(|s| s.device(mac))?,
        }
        .is_some())
    }

    /// The store; a panic while it was held leaves SQLite consistent
    /// (transactions roll back), so the poison is ignored.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the store, from async code too. On PostgreSQL, on a
    /// worker of a multi-thread runtime, the call runs in
    /// `block_in_place`: the synchronous client must not run on an async
    /// worker (issue 13). On SQLite the short reads the session makes
    /// (an indexed lookup, microseconds) run inline, as a hand-over of
    /// the worker costs more than they do (issue 11's Inform benchmark).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let run = || f(&mut self.lock());
        match tokio::runtime::Handle::try_current() {
            Ok(h)
                if self.remote
                    && h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
            {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        }
    }

    /// One cached value and type of `mac`'s data model.
    pub(crate) fn dm_param(&self, mac: &str, path: &str) -> Result<Option<ValueAndType>, AcsError> {
        Ok(self.lock().dm_param(mac, path)?)
    }
}
