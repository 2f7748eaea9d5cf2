//! [`MemoryDataModel`]: an in-memory TR-069 data model for tests and the
//! phone simulator: typed parameters with a writable flag, notification
//! attributes and access lists, multi-instance tables (AddObject /
//! DeleteObject), and a record of the actions the ACS asked for.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::data_model::{DataModel, DownloadAccepted};
use crate::fault::{Fault, FaultCode, ParameterFault};
use crate::model::*;

/// One parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Current value.
    pub value: String,
    /// Declared type (values are checked against it: 9007).
    pub kind: ValueType,
    /// Whether the ACS may set it (else 9008).
    pub writable: bool,
    /// 0 off, 1 passive, 2 active notification.
    pub notification: u8,
    /// Access list.
    pub access_list: Vec<String>,
}

/// The in-memory data model. Parameter paths are TR-069 paths
/// (`Device.DeviceInfo.SoftwareVersion`); objects are the prefixes ending
/// in `.`.
#[derive(Debug, Clone, Default)]
pub struct MemoryDataModel {
    /// Names are shared (`Arc<str>`): a simulator fleet clones one
    /// template model per phone, and cloning then copies no name.
    params: BTreeMap<Arc<str>, Param>,
    objects: BTreeSet<Arc<str>>,
    /// Multi-instance table path (`…Line.`) → parameters of a new instance.
    tables: BTreeMap<String, Vec<(String, Param)>>,
    next_instance: BTreeMap<String, u32>,
    changes: BTreeSet<String>,
    /// CommandKeys of Reboot requests, in order.
    pub reboots: Vec<String>,
    /// Number of FactoryReset requests.
    pub factory_resets: u32,
    /// Accepted Download requests, in order.
    pub downloads: Vec<Download>,
    /// ParameterKey of the last Set/Add/Delete.
    pub parameter_key: String,
}

/// Where the ParameterKey is published, if the model has the parameter.
const PARAMETER_KEY: &str = "Device.ManagementServer.ParameterKey";

fn invalid_name(name: &str) -> Fault {
    Fault::with_message(
        FaultCode::INVALID_PARAMETER_NAME,
        format!("no parameter or object named {name:?}"),
    )
}

impl MemoryDataModel {
    /// An empty model.
    pub fn new() -> MemoryDataModel {
        MemoryDataModel::default()
    }

    fn add_objects_of(&mut self, name: &str) {
        for (i, c) in name.char_indices() {
            if c == '.' && !self.objects.contains(&name[..=i]) {
                self.objects.insert(name[..=i].into());
            }
        }
    }

    /// Adds (or replaces) a parameter.
    pub fn insert(
        &mut self,
        name: &str,
        value: &str,
        kind: ValueType,
        writable: bool,
    ) -> &mut MemoryDataModel {
        self.add_objects_of(name);
        self.params.insert(
            name.into(),
            Param {
                value: value.to_string(),
                kind,
                writable,
                notification: 0,
                access_list: Vec::new(),
            },
        );
        self
    }

    /// Declares a multi-instance table `path` (ending in `.`, e.g.
    /// `Device.Services.VoiceService.1.VoiceProfile.1.Line.`) whose new
    /// instances get `template` parameters (name suffix, value, type,
    /// writable).
    pub fn add_table(
        &mut self,
        path: &str,
        template: &[(&str, &str, ValueType, bool)],
    ) -> &mut MemoryDataModel {
        self.add_objects_of(path);
        let template = template
            .iter()
            .map(|(n, v, k, w)| {
                let p = Param {
                    value: v.to_string(),
                    kind: k.clone(),
                    writable: *w,
                    notification: 0,
                    access_list: Vec::new(),
                };
                (n.to_string(), p)
            })
            .collect();
        self.tables.insert(path.to_string(), template);
        self
    }

    /// A parameter.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.get(name)
    }

    /// A parameter's value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(|p| p.value.as_str())
    }

    /// All parameters, by name.
    pub fn params(&self) -> &BTreeMap<Arc<str>, Param> {
        &self.params
    }

    /// The parameters a CPE puts in every Inform (TR-069 "forced inform"
    /// parameters, TR-181 names), those the model has, for
    /// [`Inform::parameters`].
    pub fn inform_parameters(&self) -> Vec<ParameterValue> {
        const FORCED: [&str; 7] = [
            "Device.RootDataModelVersion",
            "Device.DeviceInfo.HardwareVersion",
            "Device.DeviceInfo.SoftwareVersion",
            "Device.DeviceInfo.ProvisioningCode",
            "Device.ManagementServer.ParameterKey",
            "Device.ManagementServer.ConnectionRequestURL",
            "Device.ManagementServer.AliasBasedAddressing",
        ];
        FORCED.iter().filter_map(|n| self.value_of(n)).collect()
    }

    /// A change made on the device (user, local provisioning): recorded
    /// for `4 VALUE CHANGE` when the parameter's notification is on.
    /// Returns false if the parameter does not exist.
    pub fn set_local(&mut self, name: &str, value: &str) -> bool {
        let Some(p) = self.params.get_mut(name) else {
            return false;
        };
        if p.value != value {
            if p.notification > 0 {
                self.changes.insert(name.to_string());
            }
            value.clone_into(&mut p.value);
        }
        true
    }

    /// The changed parameters to put into the next Inform's ParameterList
    /// (with `4 VALUE CHANGE`), clearing the record.
    pub fn take_value_changes(&mut self) -> Vec<ParameterValue> {
        std::mem::take(&mut self.changes)
            .into_iter()
            .filter_map(|n| self.value_of(&n))
            .collect()
    }

    /// True if a change with active notification (2) is recorded: the
    /// CPE should open a session now rather than at the next periodic one.
    pub fn has_active_change(&self) -> bool {
        self.changes.iter().any(|n| {
            self.params
                .get(n.as_str())
                .is_some_and(|p| p.notification == 2)
        })
    }

    fn value_of(&self, name: &str) -> Option<ParameterValue> {
        self.params
            .get(name)
            .map(|p| ParameterValue::new(name, p.value.clone(), p.kind.clone()))
    }

    /// Parameter names matched by a full name or partial path.
    fn resolve(&self, name: &str) -> Result<Vec<String>, Fault> {
        if name.is_empty() || name.ends_with('.') {
            if !name.is_empty() && !self.objects.contains(name) {
                return Err(invalid_name(name));
            }
            Ok(self
                .params
                .keys()
                .filter(|k| k.starts_with(name))
                .map(|k| k.to_string())
                .collect())
        } else if self.params.contains_key(name) {
            Ok(vec![name.to_string()])
        } else {
            Err(invalid_name(name))
        }
    }

    fn set_parameter_key(&mut self, key: &str) {
        self.parameter_key = key.to_string();
        if let Some(p) = self.params.get_mut(PARAMETER_KEY) {
            p.value = key.to_string();
        }
    }

    /// `Table.N.` → the table path, if it is an instance of a table.
    fn table_of(&self, object: &str) -> Option<String> {
        let inner = object.strip_suffix('.')?;
        let (table, n) = inner.rsplit_once('.')?;
        n.parse::<u32>().ok()?;
        let table = format!("{table}.");
        self.tables.contains_key(&table).then_some(table)
    }
}

impl DataModel for MemoryDataModel {
    fn get_values(&mut self, names: &[String]) -> Result<Vec<ParameterValue>, Fault> {
        let mut out = Vec::new();
        for name in names {
            for n in self.resolve(name)? {
                out.extend(self.value_of(&n));
            }
        }
        Ok(out)
    }

    fn set_values(&mut self, list: &[ParameterValue], parameter_key: &str) -> Result<u8, Fault> {
        let mut faults = Vec::new();
        for pv in list {
            let fault = |code: FaultCode, message: String| ParameterFault {
                name: pv.name.clone(),
                code,
                message,
            };
            match self.params.get(pv.name.as_str()) {
                None => faults.push(fault(
                    FaultCode::INVALID_PARAMETER_NAME,
                    "no such parameter".into(),
                )),
                Some(p) if !p.writable => faults.push(fault(
                    FaultCode::NON_WRITABLE_PARAMETER,
                    "the parameter is read-only".into(),
                )),
                Some(p) if pv.kind != p.kind && pv.kind != ValueType::String => faults.push(fault(
                    FaultCode::INVALID_PARAMETER_TYPE,
                    format!("expected xsd:{}", p.kind.as_str()),
                )),
                Some(p) if !p.kind.accepts(&pv.value) => faults.push(fault(
                    FaultCode::INVALID_PARAMETER_VALUE,
                    format!("{:?} is not a valid xsd:{}", pv.value, p.kind.as_str()),
                )),
                Some(_) => {}
            }
        }
        if !faults.is_empty() {
            return Err(Fault::set_parameter_values(faults));
        }
        for pv in list {
            if let Some(p) = self.params.get_mut(pv.name.as_str()) {
                p.value = pv.value.clone();
            }
        }
        self.set_parameter_key(parameter_key);
        Ok(0)
    }

    fn get_names(&mut self, path: &str, next_level: bool) -> Result<Vec<ParameterInfo>, Fault> {
        if !path.is_empty() && !path.ends_with('.') {
            let p = self.params.get(path).ok_or_else(|| invalid_name(path))?;
            if next_level {
                return Err(Fault::with_message(
                    FaultCode::INVALID_ARGUMENTS,
                    "NextLevel must be false for a parameter name",
                ));
            }
            return Ok(vec![ParameterInfo {
                name: path.to_string(),
                writable: p.writable,
            }]);
        }
        if !path.is_empty() && !self.objects.contains(path) {
            return Err(invalid_name(path));
        }
        let objects = self.objects.iter().map(|o| ParameterInfo {
            name: o.to_string(),
            writable: self.tables.contains_key(&**o),
        });
        let params = self.params.iter().map(|(n, p)| ParameterInfo {
            name: n.to_string(),
            writable: p.writable,
        });
        let mut out: Vec<ParameterInfo> = objects
            .chain(params)
            .filter(|i| {
                let Some(rest) = i.name.strip_prefix(path) else {
                    return false;
                };
                if next_level {
                    let rest = rest.strip_suffix('.').unwrap_or(rest);
                    !rest.is_empty() && !rest.contains('.')
                } else {
                    !rest.is_empty() || !path.is_empty()
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn get_attributes(&mut self, names: &[String]) -> Result<Vec<ParameterAttribute>, Fault> {
        let mut out = Vec::new();
        for name in names {
            for n in self.resolve(name)? {
                let p = &self.params[n.as_str()];
                out.push(ParameterAttribute {
                    name: n,
                    notification: p.notification,
                    access_list: p.access_list.clone(),
                });
            }
        }
        Ok(out)
    }

    fn set_attributes(&mut self, list: &[SetParameterAttribute]) -> Result<(), Fault> {
        let mut targets = Vec::new();
        for a in list {
            if a.notification > 2 {
                return Err(Fault::with_message(
                    FaultCode::INVALID_ARGUMENTS,
                    format!("Notification {} is not 0, 1 or 2", a.notification),
                ));
            }
            targets.push((a, self.resolve(&a.name)?));
        }
        for (a, names) in targets {
            for n in names {
                let p = self.params.get_mut(n.as_str()).expect("resolved");
                if a.notification_change {
                    p.notification = a.notification;
                }
                if a.access_list_change {
                    p.access_list = a.access_list.clone();
                }
            }
        }
        Ok(())
    }

    fn add_object(&mut self, object_name: &str, parameter_key: &str) -> Result<(u32, u8), Fault> {
        let template = self
            .tables
            .get(object_name)
            .cloned()
            .ok_or_else(|| invalid_name(object_name))?;
        let next = self
            .next_instance
            .entry(object_name.to_string())
            .or_insert(1);
        let n = *next;
        *next += 1;
        let instance = format!("{object_name}{n}.");
        self.objects.insert(instance.as_str().into());
        for (suffix, p) in template {
            let name = format!("{instance}{suffix}");
            self.add_objects_of(&name);
            self.params.insert(name.into(), p);
        }
        self.set_parameter_key(parameter_key);
        Ok((n, 0))
    }

    fn delete_object(&mut self, object_name: &str, parameter_key: &str) -> Result<u8, Fault> {
        if self.table_of(object_name).is_none() || !self.objects.contains(object_name) {
            return Err(invalid_name(object_name));
        }
        self.params.retain(|k, _| !k.starts_with(object_name));
        self.objects.retain(|k| !k.starts_with(object_name));
        self.set_parameter_key(parameter_key);
        Ok(0)
    }

    fn reboot(&mut self, command_key: &str) -> Result<(), Fault> {
        self.reboots.push(command_key.to_string());
        Ok(())
    }

    fn factory_reset(&mut self) -> Result<(), Fault> {
        self.factory_resets += 1;
        Ok(())
    }

    fn download(&mut self, download: &Download) -> Result<DownloadAccepted, Fault> {
        if download.url.is_empty() {
            return Err(Fault::with_message(
                FaultCode::INVALID_ARGUMENTS,
                "Download without URL",
            ));
        }
        if let FileType::Other(t) | FileType::Vendor { name: t, .. } = &download.file_type {
            return Err(Fault::with_message(
                FaultCode::INVALID_ARGUMENTS,
                format!("unsupported FileType {t:?}"),
            ));
        }
        if !["http://", "https://", "tftp://"]
            .iter()
            .any(|s| download.url.starts_with(s))
        {
            return Err(Fault::with_message(
                FaultCode::UNSUPPORTED_TRANSFER_PROTOCOL,
                format!("cannot download {:?}", download.url),
            ));
        }
        self.downloads.push(download.clone());
        Ok(DownloadAccepted::later())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> MemoryDataModel {
        let mut m = MemoryDataModel::new();
        m.insert("Device.A.X", "1", ValueType::UnsignedInt, true)
            .insert("Device.A.B.Y", "y", ValueType::String, false)
            .add_table("Device.T.", &[("V", "", ValueType::String, true)]);
        m
    }

    fn names(v: Vec<ParameterInfo>) -> Vec<String> {
        v.into_iter().map(|i| i.name).collect()
    }

    #[test]
    fn get_names_next_level_and_full_subtree() {
        let mut m = model();
        assert_eq!(names(m.get_names("", true).unwrap()), ["Device."]);
        assert_eq!(
            names(m.get_names("Device.A.", true).unwrap()),
            ["Device.A.B.", "Device.A.X"]
        );
        assert_eq!(
            names(m.get_names("Device.A.", false).unwrap()),
            ["Device.A.", "Device.A.B.", "Device.A.B.Y", "Device.A.X"]
        );
        let table = m.get_names("Device.", true).unwrap();
        assert!(table.contains(&ParameterInfo {
            name: "Device.T.".into(),
            writable: true
        }));
        assert_eq!(
            m.get_names("Device.A.X", true).unwrap_err().code,
            FaultCode::INVALID_ARGUMENTS
        );
        assert_eq!(
            m.get_names("Device.Nope.", false).unwrap_err().code,
            FaultCode::INVALID_PARAMETER_NAME
        );
    }

    #[test]
    fn objects_add_delete_and_refusals() {
        let mut m = model();
        assert_eq!(m.add_object("Device.T.", "k1").unwrap(), (1, 0));
        assert_eq!(m.value("Device.T.1.V"), Some(""));
        assert_eq!(m.value(PARAMETER_KEY), None, "no ParameterKey parameter");
        assert_eq!(m.parameter_key, "k1");
        for bad in ["Device.A.", "Device.T", "Device.T.9."] {
            assert_eq!(
                m.delete_object(bad, "").unwrap_err().code,
                FaultCode::INVALID_PARAMETER_NAME,
                "{bad}"
            );
        }
        assert_eq!(
            m.add_object("Device.A.", "").unwrap_err().code,
            FaultCode::INVALID_PARAMETER_NAME
        );
        assert_eq!(m.delete_object("Device.T.1.", "k2"), Ok(0));
        assert!(m.get_values(&["Device.T.1.".into()]).is_err());
        assert_eq!(
            m.add_object("Device.T.", "").unwrap().0,
            2,
            "numbers not reused"
        );
    }

    #[test]
    fn set_values_type_checks_and_value_change_tracking() {
        let mut m = model();
        let wrong_type = ParameterValue::new("Device.A.X", "1", ValueType::Boolean);
        let f = m.set_values(&[wrong_type], "").unwrap_err();
        assert_eq!(
            f.parameter_faults[0].code,
            FaultCode::INVALID_PARAMETER_TYPE
        );
        // Setting by the ACS does not notify; local changes do.
        let attrs = [SetParameterAttribute {
            name: "Device.A.".into(),
            notification_change: true,
            notification: 1,
            access_list_change: false,
            access_list: vec![],
        }];
        m.set_attributes(&attrs).unwrap();
        m.set_values(&[ParameterValue::string("Device.A.X", "7")], "")
            .unwrap();
        assert!(m.take_value_changes().is_empty());
        assert!(m.set_local("Device.A.X", "8"));
        assert!(!m.has_active_change(), "passive notification");
        assert_eq!(
            m.take_value_changes(),
            [ParameterValue::new(
                "Device.A.X",
                "8",
                ValueType::UnsignedInt
            )]
        );
        assert!(!m.set_local("Device.Nope", "1"));
        let mut bad = attrs[0].clone();
        bad.notification = 3;
        assert_eq!(
            m.set_attributes(&[bad]).unwrap_err().code,
            FaultCode::INVALID_ARGUMENTS
        );
    }

    #[test]
    fn inform_parameters_are_the_forced_ones_present() {
        let mut m = model();
        assert!(m.inform_parameters().is_empty());
        m.insert(
            "Device.DeviceInfo.SoftwareVersion",
            "12.0.1",
            ValueType::String,
            false,
        )
        .insert(PARAMETER_KEY, "pk", ValueType::String, false);
        let names: Vec<_> = m.inform_parameters().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["Device.DeviceInfo.SoftwareVersion", PARAMETER_KEY]);
    }

    #[test]
    fn downloads_are_validated_before_being_recorded() {
        let mut m = model();
        let mut d = Download {
            file_type: FileType::Other("9 Whatever".into()),
            url: "http://x/".into(),
            ..Download::default()
        };
        assert_eq!(
            m.download(&d).unwrap_err().code,
            FaultCode::INVALID_ARGUMENTS
        );
        d.file_type = FileType::VendorConfig;
        d.url.clear();
        assert!(m.download(&d).is_err());
        d.url = "tftp://10.0.0.1/cfg.xml".into();
        assert_eq!(m.download(&d).unwrap().status, 1);
        assert_eq!(m.downloads.len(), 1);
    }
}
