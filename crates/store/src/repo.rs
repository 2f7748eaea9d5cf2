//! The inventory and timeline repositories as traits: what every backend
//! implements (the ACS's [`crate::AcsRepo`] and the activation service's
//! [`crate::ActivationRepo`] are the other two). [`Store`] is the SQLite
//! backend: its inherent methods are the implementation and these impls
//! delegate to them, so existing callers keep calling `store.device(…)`
//! while code written against `impl Inventory + Timeline` runs on either
//! backend. The PostgreSQL backend of issue 13 is a second set of impls.
//!
//! The traits are synchronous: callers run them on blocking threads
//! (`spawn_blocking`) or on the timeline writer's thread; a PostgreSQL
//! backend runs them on a pooled synchronous client. Backend-specific SQL
//! (upserts, the task claim's `FOR UPDATE SKIP LOCKED`) stays inside the
//! methods.

use std::net::IpAddr;

use crate::error::Result;
use crate::model::{Device, Event, NewDevice, NewEvent, Outcome};
use crate::retention::{Pruned, Retention};
use crate::store::{StatusUpdate, Store};
use crate::Mac;

/// Devices and their variables.
pub trait Inventory {
    /// Adds a new device with a fresh key; fails if the MAC exists.
    fn add_device(&mut self, dev: &NewDevice) -> Result<Device>;
    /// Creates or updates a device (keeping key, creation time, status);
    /// returns it and whether it was created.
    fn upsert_device(&mut self, dev: &NewDevice) -> Result<(Device, bool)>;
    /// One device.
    fn device(&self, mac: Mac) -> Result<Option<Device>>;
    /// The device with this serial number.
    fn mac_by_serial(&self, serial: &str) -> Result<Option<Mac>>;
    /// Removes a device and its events; `false` if it was not there.
    fn remove_device(&mut self, mac: Mac) -> Result<bool>;
    /// Devices (optionally of one group) in MAC order.
    fn devices(&self, group: Option<&str>) -> Result<Vec<Device>>;
    /// Number of devices (optionally of one group).
    fn count_devices(&self, group: Option<&str>) -> Result<u64>;
    /// Devices by the outcome of their last request (`None`: none yet).
    fn outcome_counts(&self) -> Result<Vec<(Option<Outcome>, u64)>>;
}

/// Device status and the timeline.
pub trait Timeline {
    /// Records what the server saw of a device (`None` keeps a value).
    fn record_status(
        &mut self,
        mac: Mac,
        ip: IpAddr,
        firmware: Option<&str>,
        outcome: Option<Outcome>,
    ) -> Result<()>;
    /// Appends one event; returns its id.
    fn append_event(&mut self, ev: &NewEvent) -> Result<i64>;
    /// Status updates and events in one transaction; returns the MACs not
    /// in the inventory.
    fn write_batch(
        &mut self,
        statuses: &[StatusUpdate<'_>],
        events: &[NewEvent],
    ) -> Result<Vec<Mac>>;
    /// The latest `limit` events of a device, oldest first.
    fn events(&self, mac: Mac, limit: usize) -> Result<Vec<Event>>;
    /// One bounded retention pass at `now_ms`.
    fn prune_timeline(&mut self, policy: &Retention, now_ms: i64, limit: u64) -> Result<Pruned>;
}

impl Inventory for Store {
    fn add_device(&mut self, dev: &NewDevice) -> Result<Device> {
        Store::add_device(self, dev)
    }
    fn upsert_device(&mut self, dev: &NewDevice) -> Result<(Device, bool)> {
        Store::upsert_device(self, dev)
    }
    fn device(&self, mac: Mac) -> Result<Option<Device>> {
        Store::device(self, mac)
    }
    fn mac_by_serial(&self, serial: &str) -> Result<Option<Mac>> {
        Store::mac_by_serial(self, serial)
    }
    fn remove_device(&mut self, mac: Mac) -> Result<bool> {
        Store::remove_device(self, mac)
    }
    fn devices(&self, group: Option<&str>) -> Result<Vec<Device>> {
        Store::devices(self, group)
    }
    fn count_devices(&self, group: Option<&str>) -> Result<u64> {
        Store::count_devices(self, group)
    }
    fn outcome_counts(&self) -> Result<Vec<(Option<Outcome>, u64)>> {
        Store::outcome_counts(self)
    }
}

impl Timeline for Store {
    fn record_status(
        &mut self,
        mac: Mac,
        ip: IpAddr,
        firmware: Option<&str>,
        outcome: Option<Outcome>,
    ) -> Result<()> {
        Store::record_status(self, mac, ip, firmware, outcome)
    }
    fn append_event(&mut self, ev: &NewEvent) -> Result<i64> {
        Store::append_event(self, ev)
    }
    fn write_batch(
        &mut self,
        statuses: &[StatusUpdate<'_>],
        events: &[NewEvent],
    ) -> Result<Vec<Mac>> {
        Store::write_batch(self, statuses, events)
    }
    fn events(&self, mac: Mac, limit: usize) -> Result<Vec<Event>> {
        Store::events(self, mac, limit)
    }
    fn prune_timeline(&mut self, policy: &Retention, now_ms: i64, limit: u64) -> Result<Pruned> {
        Store::prune_timeline(self, policy, now_ms, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventKind;
    use crate::test_support::TestDb;

    /// Code written against the traits only (as a backend-neutral caller
    /// would be) runs on the SQLite backend.
    fn register_and_log(db: &mut (impl Inventory + Timeline), mac: Mac) -> Vec<String> {
        db.add_device(&NewDevice::new(mac)).unwrap();
        db.append_event(&NewEvent {
            mac,
            at_ms: 1,
            kind: EventKind::Resync,
            outcome: Some(Outcome::Success),
            source_ip: None,
            message: "hello".into(),
        })
        .unwrap();
        assert_eq!(db.count_devices(None).unwrap(), 1);
        db.events(mac, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    on_both! {
        /// Both backends implement the repository traits.
        fn backends_implement_the_repository_traits(db: &TestDb) {
            let mut store = db.store();
            let mac = Mac::parse("000e08abcdef").unwrap();
            assert_eq!(register_and_log(&mut store, mac), ["hello"]);
            assert!(Inventory::device(&store, mac).unwrap().is_some());
        }
    }
}
