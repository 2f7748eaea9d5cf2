//! Inventory export: `phoneprov device export [--with-keys] [--format
//! csv|json]` and `GET /api/v1/devices/export` (issue 14 item 4).
//!
//! The CSV form is the import's own format (`mac,serial,model,group`, then
//! `key` with keys, then one column per variable name found in the
//! selection, sorted), so an export imports back unchanged, keys
//! included: how a provider moves phones that already hold their keys to
//! another server. The JSON form is an array of the devices as `device
//! list --json` prints them, plus `key` with keys.
//!
//! Keys are only written when asked for (`with_keys`); the callers say so
//! on stderr or in the answer's headers. The CSV takes two passes over the
//! inventory (variable names, then rows), each streamed in MAC order so
//! memory stays flat for a million devices; a variable name that appears
//! between the passes (the server keeps running) fails the export with
//! [`StoreError::State`] rather than dropping the value.

use std::collections::BTreeSet;
use std::io::Write;

use crate::error::StoreError;
use crate::store::Store;

/// Output format of [`Store::export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// The import's CSV (header row; one column per variable).
    #[default]
    Csv,
    /// A JSON array of device objects.
    Json,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            _ => Err(format!("unknown export format {s:?}; use csv or json")),
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Devices written.
    pub devices: u64,
    /// Whether their keys were included.
    pub with_keys: bool,
}

impl Store {
    /// Writes the devices (optionally of one group) to `out` in MAC order;
    /// keys only with `with_keys`. `E` is the caller's error type (it must
    /// take the store's errors and the writer's).
    pub fn export<E, W>(
        &self,
        out: W,
        format: ExportFormat,
        group: Option<&str>,
        with_keys: bool,
    ) -> Result<ExportSummary, E>
    where
        E: From<StoreError> + From<std::io::Error>,
        W: Write,
    {
        let mut n = 0u64;
        match format {
            ExportFormat::Csv => {
                let mut names = BTreeSet::new();
                self.for_each_device(group, |d| {
                    names.extend(d.vars.into_keys());
                    Ok::<_, StoreError>(())
                })?;
                let mut w = csv::Writer::from_writer(out);
                let mut header = vec!["mac", "serial", "model", "group"];
                if with_keys {
                    header.push("key");
                }
                header.extend(names.iter().map(String::as_str));
                w.write_record(&header).map_err(csv_io)?;
                self.for_each_device(group, |d| {
                    let mut rec = vec![
                        d.mac.to_string(),
                        d.serial.unwrap_or_default(),
                        d.model.unwrap_or_default(),
                        d.group.unwrap_or_default(),
                    ];
                    if with_keys {
                        rec.push(d.key.expose_secret().to_string());
                    }
                    if let Some(new) = d.vars.keys().find(|k| !names.contains(*k)) {
                        return Err(StoreError::State {
                            error: format!(
                                "device {} got the variable {new:?} during the export",
                                d.mac
                            ),
                            hint: "export again (the inventory changed while it was written)"
                                .into(),
                        }
                        .into());
                    }
                    rec.extend(
                        names
                            .iter()
                            .map(|k| d.vars.get(k).cloned().unwrap_or_default()),
                    );
                    w.write_record(&rec).map_err(csv_io)?;
                    n += 1;
                    Ok::<_, E>(())
                })?;
                w.flush()?;
            }
            ExportFormat::Json => {
                let mut w = std::io::BufWriter::new(out);
                w.write_all(b"[")?;
                self.for_each_device(group, |d| {
                    let mut v = serde_json::to_value(&d).map_err(std::io::Error::other)?;
                    if with_keys {
                        v["key"] = d.key.expose_secret().into();
                    }
                    w.write_all(if n == 0 { b"\n" } else { b",\n" })?;
                    serde_json::to_writer(&mut w, &v).map_err(std::io::Error::other)?;
                    n += 1;
                    Ok::<_, E>(())
                })?;
                w.write_all(if n == 0 { b"]\n" } else { b"\n]\n" })?;
                w.flush()?;
            }
        }
        Ok(ExportSummary {
            devices: n,
            with_keys,
        })
    }
}

fn csv_io(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestDb;
    use crate::{Mac, NewDevice, NoObserver};

    fn sample(db: &TestDb) -> Store {
        let mut s = db.store();
        for (mac, grp, var) in [
            ("000e08000002", "sales", ("user", "1002")),
            ("000e08000001", "ops", ("display", "Desk, \"one\"")),
        ] {
            let mut nd = NewDevice::new(Mac::parse(mac).unwrap());
            nd.group = Some(grp.into());
            nd.model = Some("CP-8841-3PCC".into());
            nd.vars.insert(var.0.into(), var.1.into());
            s.add_device(&nd).unwrap();
        }
        s
    }

    fn export(s: &Store, f: ExportFormat, group: Option<&str>, keys: bool) -> String {
        let mut out = Vec::new();
        s.export::<StoreError, _>(&mut out, f, group, keys).unwrap();
        String::from_utf8(out).unwrap()
    }

    on_both! {
        fn csv_export_without_keys_has_no_key_column(db: &TestDb) {
            let s = sample(db);
            let text = export(&s, ExportFormat::Csv, None, false);
            assert_eq!(
                text,
                "mac,serial,model,group,display,user\n\
                 000e08000001,,CP-8841-3PCC,ops,\"Desk, \"\"one\"\"\",\n\
                 000e08000002,,CP-8841-3PCC,sales,,1002\n"
            );
            let key = s
                .device(Mac::parse("000e08000001").unwrap())
                .unwrap()
                .unwrap()
                .key;
            assert!(!text.contains(key.expose_secret()));
            let only_sales = export(&s, ExportFormat::Csv, Some("sales"), false);
            assert_eq!(
                only_sales,
                "mac,serial,model,group,user\n000e08000002,,CP-8841-3PCC,sales,1002\n"
            );
        }
    }

    on_both! {
        /// The migration path: export with keys, import into another
        /// inventory, every device keeps its key and variables.
        fn csv_export_with_keys_imports_back_with_the_same_keys(db: &TestDb) {
            let src = sample(db);
            let text = export(&src, ExportFormat::Csv, None, true);
            let other = if db.is_postgres() { TestDb::postgres() } else { TestDb::sqlite() };
            let mut dst = other.store();
            // One device exists already at the destination with another key:
            // the imported key replaces it.
            dst.add_device(&NewDevice::new(Mac::parse("000e08000002").unwrap()))
                .unwrap();
            let sum = dst
                .import_csv(text.as_bytes(), Default::default(), &mut NoObserver)
                .unwrap();
            assert_eq!((sum.created, sum.updated), (1, 1));
            assert_eq!(
                src.devices(None).unwrap(),
                dst.devices(None)
                    .unwrap()
                    .iter()
                    .map(|d| {
                        let mut d = d.clone();
                        let s = src.device(d.mac).unwrap().unwrap();
                        d.created_ms = s.created_ms;
                        d.updated_ms = s.updated_ms;
                        d
                    })
                    .collect::<Vec<_>>()
            );
        }
    }

    on_both! {
        fn a_bad_key_in_the_import_is_a_bad_row_and_nothing_is_imported(db: &TestDb) {
            let mut s = db.store();
            let csv = "mac,key\n000e08000001,goodkey123\n000e08000002,bad key here\n";
            #[derive(Default)]
            struct Rows(Vec<String>);
            impl crate::ImportObserver for Rows {
                fn bad_row(&mut self, row: &crate::BadRow) {
                    self.0.push(row.to_string());
                }
            }
            let mut rows = Rows::default();
            let err = s
                .import_csv(csv.as_bytes(), Default::default(), &mut rows)
                .unwrap_err();
            assert!(
                matches!(err, StoreError::ImportRejected { bad: 1 }),
                "{err}"
            );
            assert_eq!(rows.0.len(), 1);
            assert!(
                rows.0[0].starts_with("line 3: key has a character"),
                "{:?}",
                rows.0
            );
            assert!(!rows.0[0].contains("bad key here"));
            assert_eq!(s.count_devices(None).unwrap(), 0);
        }
    }

    on_both! {
        fn json_export_adds_keys_only_when_asked(db: &TestDb) {
            let s = sample(db);
            let plain: serde_json::Value =
                serde_json::from_str(&export(&s, ExportFormat::Json, None, false)).unwrap();
            assert_eq!(plain.as_array().unwrap().len(), 2);
            assert!(plain[0].get("key").is_none());
            assert_eq!(plain[1]["vars"]["user"], "1002");
            let keyed: serde_json::Value =
                serde_json::from_str(&export(&s, ExportFormat::Json, None, true)).unwrap();
            let want = s
                .device(Mac::parse("000e08000001").unwrap())
                .unwrap()
                .unwrap();
            assert_eq!(keyed[0]["key"], want.key.expose_secret());
            let empty: serde_json::Value =
                serde_json::from_str(&export(&s, ExportFormat::Json, Some("none"), false)).unwrap();
            assert_eq!(empty, serde_json::json!([]));
            assert!("xml".parse::<ExportFormat>().is_err());
        }
    }
}
