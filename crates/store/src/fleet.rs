//! Fleet operations on the inventory (issue 14 item 4): `device set`
//! (validated field and variable changes, all or nothing), approval of
//! auto-registered devices, and the name and value rules they share with
//! the CSV import's `key` column.
//!
//! # Approval of auto-registered devices
//! With `[profiles] auto_register = true` the server adds an unknown phone
//! that asks for a profile as a device whose variable [`STATUS_VAR`]
//! (`phoneprov_status`) is `pending`, and keeps answering it 404 until an
//! operator decides ([`Approval`]):
//! - **approve**: the variable is removed; the next request is served like
//!   any device's (templates by model and group as usual).
//! - **reject**: the variable becomes `rejected`; the device stays in the
//!   inventory so it is not registered again at its next request, and the
//!   server keeps answering 404. A rejected device can still be approved
//!   later, or removed with `device rm`.
//!
//! The state is a variable, not a column, because that is how the server
//! already marks it and because it travels with `device export`/`import`.

use std::collections::BTreeMap;

use crate::db::vals;
use crate::error::{Result, StoreError};
use crate::key::DeviceKey;
use crate::model::{now_ms, Device, NewDevice};
use crate::store::{device_on, write_device, Store};
use crate::Mac;

/// The device variable holding the approval state of an auto-registered
/// device (`pending` or `rejected`; absent once approved).
pub const STATUS_VAR: &str = "phoneprov_status";

/// Longest variable name accepted by [`check_var_name`].
pub const MAX_VAR_NAME: usize = 64;
/// Longest variable value accepted by [`check_var_value`].
pub const MAX_VAR_VALUE: usize = 4096;

/// Column names of the CSV import/export; they cannot be variable names.
pub const RESERVED_NAMES: [&str; 5] = ["mac", "serial", "model", "group", "key"];

/// Where an auto-registered device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// Registered by the server, waiting for an operator: 404.
    Pending,
    /// Approved (or never auto-registered): served.
    Approved,
    /// Refused by an operator: kept, still 404.
    Rejected,
}

impl Approval {
    /// The approval state a device's variables say.
    pub fn of(vars: &BTreeMap<String, String>) -> Approval {
        match vars.get(STATUS_VAR).map(String::as_str) {
            Some("pending") => Approval::Pending,
            Some("rejected") => Approval::Rejected,
            _ => Approval::Approved,
        }
    }

    /// Whether the server must keep refusing the device's profile.
    pub fn is_held(vars: &BTreeMap<String, String>) -> bool {
        Approval::of(vars) != Approval::Approved
    }
}

/// Checks a device variable name: 1 to [`MAX_VAR_NAME`] characters, a
/// letter or `_` first, then letters, digits, `_`, `-` or `.` (so it can be
/// named in a template and a CSV header), and not one of
/// [`RESERVED_NAMES`]. The error says what to do.
pub fn check_var_name(name: &str) -> std::result::Result<(), String> {
    let ok_first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok_first || !ok_rest || name.len() > MAX_VAR_NAME {
        return Err(format!(
            "bad variable name {name:?}: use 1 to {MAX_VAR_NAME} characters, a letter or _ first, \
             then letters, digits, _, - or ."
        ));
    }
    if RESERVED_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "{name:?} is a device field, not a variable: set it as {}=VALUE",
            name.to_ascii_lowercase()
        ));
    }
    Ok(())
}

/// Checks a variable (or serial, model, group) value: at most
/// [`MAX_VAR_VALUE`] bytes and no control characters (a newline in a
/// value would forge lines in listings and CSV exports).
pub fn check_var_value(name: &str, value: &str) -> std::result::Result<(), String> {
    if value.len() > MAX_VAR_VALUE {
        return Err(format!(
            "value of {name} is {} bytes long; keep it under {MAX_VAR_VALUE}",
            value.len()
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!(
            "value of {name} contains the control character {:?}; remove it",
            c
        ));
    }
    Ok(())
}

/// One change of `device set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `serial=…` (`None`: clear).
    Serial(Option<String>),
    /// `model=…`.
    Model(Option<String>),
    /// `group=…`.
    Group(Option<String>),
    /// Any other name: a variable (`None`: remove it).
    Var(String, Option<String>),
}

impl Change {
    /// Parses `NAME=VALUE` (an empty value clears the field or removes the
    /// variable); `serial`, `model` and `group` name the device's fields,
    /// any other valid name a variable. `key` is refused (keys are
    /// generated, or imported with `device import`).
    pub fn parse(pair: &str) -> std::result::Result<Change, String> {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!(
                "bad pair {pair:?}: write NAME=VALUE (an empty VALUE removes the variable)"
            ));
        };
        Change::new(name, value)
    }

    /// The change setting `name` to `value` (checked as [`Change::parse`]
    /// does; an empty value clears): the API's `{"NAME": "VALUE"}` form.
    pub fn new(name: &str, value: &str) -> std::result::Result<Change, String> {
        let value = (!value.is_empty()).then(|| value.to_string());
        if let Some(v) = &value {
            check_var_value(name, v)?;
        }
        Ok(match name.to_ascii_lowercase().as_str() {
            "serial" => Change::Serial(value),
            "model" => Change::Model(value),
            "group" => Change::Group(value),
            "key" => {
                return Err(
                    "the key cannot be set with `set`: it is generated, or carried by \
                     `device import` with a key column"
                        .to_string(),
                )
            }
            "mac" => return Err("the MAC is the device's name and cannot be changed".to_string()),
            _ => {
                check_var_name(name)?;
                Change::Var(name.to_string(), value)
            }
        })
    }

    /// Parses every pair; the first bad one is the error, naming it.
    pub fn parse_all<S: AsRef<str>>(pairs: &[S]) -> std::result::Result<Vec<Change>, String> {
        if pairs.is_empty() {
            return Err("nothing to set: give at least one NAME=VALUE".to_string());
        }
        pairs.iter().map(|p| Change::parse(p.as_ref())).collect()
    }

    fn apply(&self, dev: &mut NewDevice) {
        match self {
            Change::Serial(v) => dev.serial = v.clone(),
            Change::Model(v) => dev.model = v.clone(),
            Change::Group(v) => dev.group = v.clone(),
            Change::Var(n, Some(v)) => {
                dev.vars.insert(n.clone(), v.clone());
            }
            Change::Var(n, None) => {
                dev.vars.remove(n);
            }
        }
    }
}

/// `dev` as it would be after `changes` (nothing written): what a
/// preview renders (`PATCH /devices/{mac}?dry_run=true`).
pub fn with_changes(dev: &Device, changes: &[Change]) -> Device {
    let mut fields = editable(dev);
    for c in changes {
        c.apply(&mut fields);
    }
    Device {
        serial: fields.serial,
        model: fields.model,
        group: fields.group,
        vars: fields.vars,
        ..dev.clone()
    }
}

/// The operator's fields of a stored device.
fn editable(d: &Device) -> NewDevice {
    NewDevice {
        mac: d.mac,
        serial: d.serial.clone(),
        model: d.model.clone(),
        group: d.group.clone(),
        vars: d.vars.clone(),
    }
}

impl Store {
    /// Applies `changes` to an existing device in one transaction (read,
    /// change, write: a concurrent `set` of another variable is not lost);
    /// key, creation time and status are kept. Returns the stored device.
    pub fn set_fields(&mut self, mac: Mac, changes: &[Change]) -> Result<Device> {
        self.modify(mac, |dev| {
            for c in changes {
                c.apply(dev);
            }
            Ok(())
        })
    }

    /// Approves or rejects an auto-registered device (see the module
    /// docs). Approving works on a pending or rejected device, rejecting on
    /// a pending one; anything else is [`StoreError::State`].
    pub fn set_approval(&mut self, mac: Mac, to: Approval) -> Result<Device> {
        self.modify(mac, |dev| {
            let now = Approval::of(&dev.vars);
            match (now, to) {
                (Approval::Pending | Approval::Rejected, Approval::Approved) => {
                    dev.vars.remove(STATUS_VAR);
                }
                (Approval::Pending, Approval::Rejected) => {
                    dev.vars.insert(STATUS_VAR.into(), "rejected".into());
                }
                (Approval::Approved, _) => {
                    return Err(StoreError::State {
                        error: format!("device {mac} is not awaiting approval"),
                        hint: "see the devices awaiting approval with `phoneprov device pending`"
                            .into(),
                    })
                }
                (Approval::Rejected, _) => {
                    return Err(StoreError::State {
                        error: format!("device {mac} is rejected already"),
                        hint: format!(
                            "approve it with `phoneprov device approve {mac}`, or remove it with `phoneprov device rm {mac}`"
                        ),
                    })
                }
                (Approval::Pending, Approval::Pending) => {}
            }
            Ok(())
        })
    }

    /// Devices awaiting approval, in MAC order (a scan of the inventory:
    /// the state is a variable, see the module docs).
    pub fn pending_devices(&self) -> Result<Vec<Device>> {
        let mut out = Vec::new();
        self.for_each_device(None, |d| {
            if Approval::of(&d.vars) == Approval::Pending {
                out.push(d);
            }
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    /// How many devices await approval, counted in SQL (the server's cap
    /// on auto-registration, `[profiles] auto_register_max_pending`, asks
    /// before each registration). The `device_terms` index narrows the
    /// count to devices with some variable valued `pending`, so the cost
    /// follows the pending rows, not the inventory; the JSON text then
    /// keeps those whose [`STATUS_VAR`] is `pending` (variables are
    /// written as compact JSON by one serializer).
    pub fn pending_count(&self) -> Result<u64> {
        let pattern = format!("%\"{STATUS_VAR}\":\"pending\"%");
        let n: i64 = self.run(|x| {
            x.one(
                "SELECT count(*) FROM devices WHERE mac IN \
                 (SELECT mac FROM device_terms WHERE term = 'pending') AND vars LIKE ?1",
                vals![pattern.as_str()],
            )?
            .get(0)
        })?;
        Ok(n as u64)
    }

    /// Read, change with `f`, write back, in one write transaction;
    /// nothing is written when `f` fails.
    fn modify(&mut self, mac: Mac, f: impl FnOnce(&mut NewDevice) -> Result<()>) -> Result<Device> {
        self.tx(|x| {
            let stored = device_on(x, mac)?.ok_or(StoreError::NotFound(mac))?;
            let mut dev = editable(&stored);
            f(&mut dev)?;
            // The row exists: the upsert keeps its key (the fresh one is
            // unused), creation time and status.
            write_device(x, &dev, &DeviceKey::generate(), now_ms(), true)?;
            device_on(x, mac)?.ok_or(StoreError::NotFound(mac))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestDb;

    fn store_with(db: &TestDb, mac: &str) -> (Store, Mac) {
        let mut s = db.store();
        let mac = Mac::parse(mac).unwrap();
        let mut nd = NewDevice::new(mac);
        nd.vars.insert("user".into(), "1001".into());
        nd.model = Some("CP-8841-3PCC".into());
        s.add_device(&nd).unwrap();
        (s, mac)
    }

    on_both! {
        fn set_changes_fields_and_variables_and_keeps_the_key(db: &TestDb) {
            let (mut s, mac) = store_with(db, "000e08aaaa01");
            let before = s.device(mac).unwrap().unwrap();
            let changes =
                Change::parse_all(&["display_name=Front desk", "user=", "group=sales"]).unwrap();
            let after = s.set_fields(mac, &changes).unwrap();
            assert_eq!(after.vars.get("display_name").unwrap(), "Front desk");
            assert!(!after.vars.contains_key("user"), "an empty value removes");
            assert_eq!(after.group.as_deref(), Some("sales"));
            assert_eq!(after.model.as_deref(), Some("CP-8841-3PCC"));
            assert_eq!(after.key, before.key);
            assert_eq!(after.created_ms, before.created_ms);
        }
    }

    #[test]
    fn bad_pairs_are_refused_naming_the_problem() {
        for (pair, want) in [
            ("noequals", "write NAME=VALUE"),
            ("1abc=x", "bad variable name"),
            ("a b=x", "bad variable name"),
            ("key=abc", "cannot be set"),
            ("mac=000e08000001", "cannot be changed"),
            ("user=a\nb", "control character"),
        ] {
            let err = Change::parse(pair).unwrap_err();
            assert!(err.contains(want), "{pair}: {err}");
        }
        assert!(Change::parse_all::<&str>(&[]).is_err());
        let long = format!("n={}", "x".repeat(MAX_VAR_VALUE + 1));
        assert!(Change::parse(&long).unwrap_err().contains("bytes long"));
    }

    on_both! {
        fn set_of_an_unknown_device_is_not_found_and_writes_nothing(db: &TestDb) {
            let (mut s, _) = store_with(db, "000e08aaaa01");
            let other = Mac::parse("000e08aaaa02").unwrap();
            let err = s
                .set_fields(other, &[Change::Var("a".into(), Some("b".into()))])
                .unwrap_err();
            assert!(matches!(err, StoreError::NotFound(m) if m == other));
            assert_eq!(s.count_devices(None).unwrap(), 1);
        }
    }

    on_both! {
        fn approve_and_reject_follow_the_states(db: &TestDb) {
            let (mut s, mac) = store_with(db, "000e08aaaa01");
            // Not auto-registered: nothing to approve.
            let err = s.set_approval(mac, Approval::Approved).unwrap_err();
            assert!(matches!(err, StoreError::State { .. }), "{err}");
            // Another variable valued `pending` is not the approval state.
            let mut noted = NewDevice::new(Mac::parse("000e08aaaa02").unwrap());
            noted.vars.insert("note".into(), "Pending".into());
            s.add_device(&noted).unwrap();
            assert_eq!(s.pending_count().unwrap(), 0);
            s.set_fields(
                mac,
                &[Change::Var(STATUS_VAR.into(), Some("pending".into()))],
            )
            .unwrap();
            assert_eq!(s.pending_devices().unwrap().len(), 1);
            assert_eq!(s.pending_count().unwrap(), 1);
            let d = s.set_approval(mac, Approval::Rejected).unwrap();
            assert_eq!(Approval::of(&d.vars), Approval::Rejected);
            assert!(Approval::is_held(&d.vars));
            assert!(s.pending_devices().unwrap().is_empty());
            assert_eq!(s.pending_count().unwrap(), 0, "rejected is not pending");
            assert!(s.set_approval(mac, Approval::Rejected).is_err());
            let d = s.set_approval(mac, Approval::Approved).unwrap();
            assert!(!d.vars.contains_key(STATUS_VAR));
            assert_eq!(d.vars.get("user").unwrap(), "1001", "other variables kept");
            assert!(!Approval::is_held(&d.vars));
        }
    }
}
