//! Errors of the ACS crate: each says what was wrong and what to do.

/// Why an ACS operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AcsError {
    /// The database (inventory, task queue, data-model cache) failed.
    #[error("ACS database: {0}")]
    Store(#[from] phoneprov_store::StoreError),
    /// A stored task row could not be read back.
    #[error("stored task {id} is unreadable ({why}); delete the row from acs_tasks")]
    BadTask {
        /// Row id.
        id: i64,
        /// Why.
        why: String,
    },
    /// The task description was refused.
    #[error(transparent)]
    Task(#[from] crate::task::TaskError),
    /// No connection request URL is known for the device.
    #[error("no ConnectionRequestURL is known for {0}; wait for the device's first Inform (or GetParameterValues Device.ManagementServer.)")]
    NoConnectionRequestUrl(String),
    /// The connection request failed.
    #[error("connection request to {url} failed: {why}")]
    ConnectionRequest {
        /// The CPE's URL.
        url: String,
        /// What went wrong.
        why: String,
    },
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}
