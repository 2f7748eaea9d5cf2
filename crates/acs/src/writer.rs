//! Group commit for the CWMP session hot path: the Inform's writes and a
//! task's result go to one writer thread with a connection of its own,
//! which takes every write waiting at that moment and commits them in one
//! transaction (`phoneprov_store::AcsRepo::session_writes`), then answers each.
//!
//! Why: a WAL commit appends every page the transaction dirtied (task
//! table and index, data-model cache, device row, timeline) and was a
//! fifth of the server's CPU with one commit per message under the Inform
//! benchmark (issue 6). Sessions that arrive together now share pages and
//! one commit. Durability is unchanged: the HTTP answer that acknowledges a
//! message is sent only after the commit that holds its writes.
//!
//! Batches form by themselves: while one commits, the next writes queue
//! up. A write alone is committed at once (no timer, no added latency).

use std::path::Path;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::error::AcsError;
use phoneprov_store::{AcsRepo, Claimed, SessionWrite, Store};

/// Writes taken into one transaction, at most.
const MAX_GROUP: usize = 256;

type Reply = oneshot::Sender<Result<Vec<Claimed>, AcsError>>;

/// Handle of the writer thread; the thread ends when the last handle is
/// dropped.
pub(crate) struct GroupWriter {
    jobs: mpsc::Sender<(SessionWrite, Reply)>,
}

impl GroupWriter {
    /// Opens the writer's connection to `db_path` and starts its thread.
    pub(crate) fn start(data_dir: &Path) -> Result<GroupWriter, AcsError> {
        let mut db = Store::open(data_dir)?;
        let (jobs, queue) = mpsc::channel::<(SessionWrite, Reply)>();
        std::thread::Builder::new()
            .name("acs-writer".into())
            .spawn(move || run(&mut db, &queue))
            .map_err(|e| AcsError::Internal(format!("cannot start the ACS writer thread: {e}")))?;
        Ok(GroupWriter { jobs })
    }

    /// Writes `w` with whatever else is waiting; resolves after the commit.
    pub(crate) async fn write(&self, w: SessionWrite) -> Result<Vec<Claimed>, AcsError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((w, reply))
            .map_err(|_| AcsError::Internal("the ACS writer thread stopped".into()))?;
        answer
            .await
            .map_err(|_| AcsError::Internal("the ACS writer thread stopped".into()))?
    }
}

fn run(db: &mut Store, queue: &mpsc::Receiver<(SessionWrite, Reply)>) {
    let mut writes = Vec::with_capacity(MAX_GROUP);
    let mut replies = Vec::with_capacity(MAX_GROUP);
    while let Ok((w, r)) = queue.recv() {
        writes.push(w);
        replies.push(r);
        while writes.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok((w, r)) => {
                    writes.push(w);
                    replies.push(r);
                }
                Err(_) => break,
            }
        }
        // `phoneprov_acs_writes_total / phoneprov_acs_write_groups_total` is
        // the average group size (how much the group commit saves). Looked
        // up per group, not once: the ACS opens before `serve` installs the
        // Prometheus recorder.
        metrics::counter!("phoneprov_acs_write_groups_total").increment(1);
        metrics::counter!("phoneprov_acs_writes_total").increment(writes.len() as u64);
        let results = db.session_writes(&writes);
        for (reply, result) in replies.drain(..).zip(results) {
            let _ = reply.send(result.map_err(AcsError::from));
        }
        writes.clear();
    }
}
