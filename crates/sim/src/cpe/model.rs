//! The TR-069 data model of one virtual phone (R-TR69-2, R-TR69-4): a
//! [`MemoryDataModel`] (types, writable flags, notification attributes,
//! the Line table) filled from the engine's parameters, plus the writes
//! the ACS made that the phone must receive.
//!
//! # Paths (R-TR69-4)
//! Every profile parameter is at the TR-069 path the schema table gives
//! it (`phoneprov_profile::schema::tr069_path`: `TLS_Cipher_List` =
//! `Device.X_CISCO_SecuritySettings.TLSCipherList`, the same mapping the
//! ACS uses to accept XML names in tasks; every other one
//! `Device.X_CISCO_Profile.<XML name>`, the TR-106 vendor-extension form,
//! a `.` in the name written `_`), writable, `xsd:string` with the value
//! exactly as the phone stores it. A phone's model holds exactly its
//! product's parameters, each instance of an indexed one up to the
//! model's count (issue 16: no Wi-Fi profile on a CP-8851-3PCC, five
//! `Line_Enable_n_`); secrets read back empty. Values set by the ACS are checked against the
//! schema (9007 with the reason). The Line table
//! (`Device.Services.VoiceService.1.VoiceProfile.1.Line.{i}.`) is the
//! AddObject/DeleteObject target; `DirectoryNumber` and `CallerIDName` of
//! instance *i* write through to `User_ID_i_` / `Display_Name_i_`, and
//! deleting the instance clears them on the phone.
//!
//! `Device.DeviceInfo.*`, `Device.ManagementServer.*` and the MAC address
//! are the agent's own (read-only except the ManagementServer settings an
//! ACS may change; passwords read back empty as TR-069 requires).

use phoneprov_cwmp::{
    DataModel, Download, DownloadAccepted, Fault, FaultCode, MemoryDataModel, ParameterAttribute,
    ParameterFault, ParameterInfo, ParameterValue, SetParameterAttribute, ValueType,
};
use phoneprov_phone::PhoneIdentity;
use phoneprov_profile::schema;

/// Where profile parameters without an explicit schema path live.
pub use phoneprov_profile::schema::PROFILE_PREFIX;
/// The Line table.
pub const LINES: &str = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";
/// The ManagementServer object.
pub const MS: &str = "Device.ManagementServer.";
/// Software version (changes with each firmware install).
pub const SW: &str = "Device.DeviceInfo.SoftwareVersion";
/// Status of the custom CA installed by Download (`X 000E08 Custom CA`).
pub const CUSTOM_CA: &str = "Device.X_CISCO_SecuritySettings.CustomCAStatus";
/// The MAC address (lets the ACS find the device in its inventory).
pub const MAC_PARAM: &str = "Device.Ethernet.Interface.1.MACAddress";

/// The agent's ManagementServer values when the model is (re)built.
#[derive(Debug, Clone, Default)]
pub struct MgmtInit {
    pub acs_url: String,
    pub username: String,
    pub password: String,
    pub interval: u64,
    pub cr_url: String,
    pub cr_username: String,
    pub cr_password: String,
}

/// One phone's data model.
#[derive(Debug, Clone)]
pub struct PhoneModel {
    /// The parameters, attributes and recorded ACS actions.
    pub mem: MemoryDataModel,
    /// `(XML name, value)` the ACS set, not yet sent to the phone.
    pending: Vec<(String, String)>,
    /// The phone's product name (its model decides its parameters).
    pn: String,
}

/// The TR-069 path of XML parameter `xml`: the schema's (R-TR69-4:
/// explicit, else `Device.X_CISCO_Profile.<name>` with `.` as `_`); for a
/// name the schema does not know, the same form; `None` for names that
/// cannot be a path segment.
pub fn path_of(xml: &str) -> Option<String> {
    if let Some(p) = schema::tr069_path(xml) {
        return Some(p);
    }
    let ok = !xml.is_empty()
        && xml
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then(|| format!("{PROFILE_PREFIX}{xml}"))
}

/// The XML parameter a TR-069 path writes to on the phone: the schema's
/// inverse mapping (R-TR69-4, the one the ACS uses), else a
/// `Device.X_CISCO_Profile.<name>` the schema does not know (a parameter
/// the phone holds from a profile), else the Line table's write-through.
pub fn xml_of(path: &str) -> Option<String> {
    if let Some(xml) = schema::xml_name_of_path(path) {
        return Some(xml);
    }
    if let Some(rest) = path.strip_prefix(PROFILE_PREFIX) {
        return (!rest.is_empty() && !rest.contains('.')).then(|| rest.to_string());
    }
    let (n, leaf) = path.strip_prefix(LINES)?.split_once('.')?;
    let n: u16 = n.parse().ok().filter(|n| (1..=16).contains(n))?;
    match leaf {
        "DirectoryNumber" => Some(format!("User_ID_{n}_")),
        "CallerIDName" => Some(format!("Display_Name_{n}_")),
        _ => None,
    }
}

/// A secret's value reads back empty over TR-069 (passwords, keys, PINs:
/// the schema's secret flag; the agent's own `*Password` parameters too).
fn is_secret_path(path: &str) -> bool {
    path.ends_with("Password")
        || xml_of(path)
            .and_then(|x| schema::lookup(&x))
            .is_some_and(|s| s.secret)
}

/// One model's schema parameters (concrete XML name, TR-069 path,
/// factory default) and the data model every phone of it starts from;
/// computed once per process and model (the last one: a product name the
/// schema does not know, with every model's parameters).
struct ModelTables {
    entries: Vec<(String, String, &'static str)>,
    by_name: std::collections::HashMap<String, usize>,
    template: MemoryDataModel,
}

fn tables(pn: &str) -> &'static ModelTables {
    static T: std::sync::OnceLock<Vec<ModelTables>> = std::sync::OnceLock::new();
    let all = T.get_or_init(|| {
        let models = schema::models();
        (0..=models.len())
            .map(|i| build_tables(models.get(i)))
            .collect()
    });
    let i = schema::model(pn)
        .and_then(|m| schema::models().iter().position(|x| x.pn == m.pn))
        .unwrap_or(all.len() - 1);
    &all[i]
}

/// What every phone's model starts from: the fixed DeviceInfo values,
/// every parameter of its model (each instance of the indexed ones) at its
/// default and the Line
/// table. Cloning it is several times cheaper than inserting a few hundred
/// parameters per phone (a fleet builds one model per phone at its first
/// session).
fn build_tables(model: Option<&schema::ModelInfo>) -> ModelTables {
    // Every concrete name of the model, indexed instances included
    // (R-TR69-4); a product the schema does not know: every name.
    let names: Vec<(String, &'static schema::ParamSpec)> = match model {
        Some(m) => schema::names_on(m).collect(),
        None => schema::all()
            .iter()
            .flat_map(|s| s.instances().into_iter().map(move |n| (n, s)))
            .collect(),
    };
    let entries: Vec<_> = names
        .into_iter()
        .filter_map(|(n, s)| {
            let path = path_of(&n)?;
            let default = s.default_for(&n);
            Some((n, path, default))
        })
        .collect();
    let by_name = entries
        .iter()
        .enumerate()
        .map(|(i, (name, _, _))| (name.clone(), i))
        .collect();
    let mut m = MemoryDataModel::new();
    for (n, v) in [
        ("Device.RootDataModelVersion", "2.11"),
        ("Device.DeviceInfo.Manufacturer", "Cisco"),
        (CUSTOM_CA, "None"),
    ] {
        m.insert(n, v, ValueType::String, false);
    }
    m.add_table(
        LINES,
        &[
            ("Enable", "false", ValueType::Boolean, true),
            ("DirectoryNumber", "", ValueType::String, true),
            ("CallerIDName", "", ValueType::String, true),
        ],
    );
    for (_, path, default) in &entries {
        if m.param(path).is_none() {
            m.insert(path, default, ValueType::String, true);
        }
    }
    ModelTables {
        entries,
        by_name,
        template: m,
    }
}

impl PhoneModel {
    /// The model of a phone with these explicit parameters: a copy of its
    /// model's template (every schema parameter of the model at its
    /// default, the Line table), then the phone's own values.
    pub fn new(id: &PhoneIdentity, explicit: &[(String, String)], ms: &MgmtInit) -> PhoneModel {
        let table = tables(&id.pn);
        let mut m = table.template.clone();
        let oui = id.mac.get(..6).unwrap_or("000e08").to_ascii_uppercase();
        let mac = id
            .mac
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":");
        let ro = |m: &mut MemoryDataModel, n: &str, v: &str| {
            m.insert(n, v, ValueType::String, false);
        };
        ro(&mut m, "Device.DeviceInfo.ManufacturerOUI", &oui);
        ro(&mut m, "Device.DeviceInfo.ProductClass", &id.pn);
        ro(&mut m, "Device.DeviceInfo.SerialNumber", &id.serial);
        ro(&mut m, "Device.DeviceInfo.HardwareVersion", &id.hwver);
        ro(&mut m, SW, &id.swver);
        ro(&mut m, MAC_PARAM, &mac);
        let ms_params: [(&str, &str, ValueType, bool); 9] = [
            ("URL", &ms.acs_url, ValueType::String, true),
            ("Username", &ms.username, ValueType::String, true),
            ("Password", &ms.password, ValueType::String, true),
            ("PeriodicInformEnable", "true", ValueType::Boolean, true),
            (
                "PeriodicInformInterval",
                &ms.interval.to_string(),
                ValueType::UnsignedInt,
                true,
            ),
            ("ParameterKey", "", ValueType::String, false),
            ("ConnectionRequestURL", &ms.cr_url, ValueType::String, false),
            (
                "ConnectionRequestUsername",
                &ms.cr_username,
                ValueType::String,
                true,
            ),
            (
                "ConnectionRequestPassword",
                &ms.cr_password,
                ValueType::String,
                true,
            ),
        ];
        for (leaf, v, k, w) in ms_params {
            m.insert(&format!("{MS}{leaf}"), v, k, w);
        }
        let mut model = PhoneModel {
            mem: m,
            pending: Vec::new(),
            pn: id.pn.clone(),
        };
        // The template holds the defaults: only the explicit values differ.
        for (xml, value) in explicit {
            match table.by_name.get(xml.as_str()) {
                Some(&i) => model.set_or_insert(&table.entries[i].1, value),
                None => {
                    if let Some(path) = path_of(xml) {
                        model.set_or_insert(&path, value);
                    }
                }
            }
        }
        model
    }

    /// Takes the phone's current values; a changed value of a parameter
    /// with notification on is recorded for `4 VALUE CHANGE`.
    pub fn refresh(&mut self, explicit: &[(String, String)], swver: &str) {
        // Every schema parameter of the model (explicit value
        // or default), then the explicit entries the table does not cover.
        let table = tables(&self.pn);
        let mut values: Vec<&str> = table.entries.iter().map(|(_, _, d)| *d).collect();
        let mut others = Vec::new();
        for (xml, value) in explicit {
            match table.by_name.get(xml.as_str()) {
                Some(&i) => values[i] = value,
                None => others.push((xml, value)),
            }
        }
        for ((_, path, _), value) in table.entries.iter().zip(values) {
            self.set_or_insert(path, value);
        }
        for (xml, value) in others {
            if let Some(path) = path_of(xml) {
                self.set_or_insert(&path, value);
            }
        }
        self.mem.set_local(SW, swver);
    }

    /// A phone value: a local change of a known parameter, else a new
    /// writable string parameter.
    fn set_or_insert(&mut self, path: &str, value: &str) {
        if !self.mem.set_local(path, value) {
            self.mem.insert(path, value, ValueType::String, true);
        }
    }

    /// The ACS's writes for the phone, in order (XML names).
    pub fn take_phone_writes(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.pending)
    }

    /// A ManagementServer value (`leaf` e.g. `PeriodicInformInterval`).
    pub fn ms(&self, leaf: &str) -> &str {
        self.mem.value(&format!("{MS}{leaf}")).unwrap_or("")
    }

    /// Sets a value the agent owns (read-only ones included).
    pub fn set_own(&mut self, path: &str, value: &str) {
        self.mem.set_local(path, value);
    }
}

fn bad_value(name: &str, why: String) -> ParameterFault {
    ParameterFault {
        name: name.to_string(),
        code: FaultCode::INVALID_PARAMETER_VALUE,
        message: why,
    }
}

impl DataModel for PhoneModel {
    fn get_values(&mut self, names: &[String]) -> Result<Vec<ParameterValue>, Fault> {
        let mut v = self.mem.get_values(names)?;
        for p in &mut v {
            if is_secret_path(&p.name) {
                p.value.clear();
            }
        }
        Ok(v)
    }

    fn set_values(&mut self, list: &[ParameterValue], parameter_key: &str) -> Result<u8, Fault> {
        let mut faults = Vec::new();
        let mut writes = Vec::new();
        for pv in list {
            let Some(xml) = xml_of(&pv.name) else {
                continue;
            };
            if self.mem.param(&pv.name).is_none() {
                continue; // the memory model answers 9005
            }
            if let Some(Err(e)) = schema::validate(&xml, pv.value.trim()) {
                faults.push(bad_value(&pv.name, format!("{xml}: {e}")));
            }
            writes.push((xml, pv.value.clone()));
        }
        if !faults.is_empty() {
            return Err(Fault::set_parameter_values(faults));
        }
        let status = self.mem.set_values(list, parameter_key)?;
        self.pending.extend(writes);
        Ok(status)
    }

    fn get_names(&mut self, path: &str, next_level: bool) -> Result<Vec<ParameterInfo>, Fault> {
        self.mem.get_names(path, next_level)
    }

    fn get_attributes(&mut self, names: &[String]) -> Result<Vec<ParameterAttribute>, Fault> {
        self.mem.get_attributes(names)
    }

    fn set_attributes(&mut self, list: &[SetParameterAttribute]) -> Result<(), Fault> {
        self.mem.set_attributes(list)
    }

    fn add_object(&mut self, object_name: &str, parameter_key: &str) -> Result<(u32, u8), Fault> {
        self.mem.add_object(object_name, parameter_key)
    }

    fn delete_object(&mut self, object_name: &str, parameter_key: &str) -> Result<u8, Fault> {
        let status = self.mem.delete_object(object_name, parameter_key)?;
        for leaf in ["DirectoryNumber", "CallerIDName"] {
            if let Some(xml) = xml_of(&format!("{object_name}{leaf}")) {
                self.pending.push((xml, String::new()));
            }
        }
        Ok(status)
    }

    fn reboot(&mut self, command_key: &str) -> Result<(), Fault> {
        self.mem.reboot(command_key)
    }

    fn factory_reset(&mut self) -> Result<(), Fault> {
        self.mem.factory_reset()
    }

    fn download(&mut self, download: &Download) -> Result<DownloadAccepted, Fault> {
        if download.url.starts_with("tftp://") {
            return Err(Fault::with_message(
                FaultCode::UNSUPPORTED_TRANSFER_PROTOCOL,
                "the simulated phone downloads over http:// and https:// only",
            ));
        }
        self.mem.download(download)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> PhoneIdentity {
        PhoneIdentity {
            mac: "000e08abcdef".into(),
            serial: "SN1".into(),
            pn: "CP-8841-3PCC".into(),
            psn: "8841".into(),
            swver: "11.0.1".into(),
            hwver: "1".into(),
        }
    }

    #[test]
    fn r_tr69_4_xml_names_and_paths_map_both_ways() {
        let tls = "Device.X_CISCO_SecuritySettings.TLSCipherList";
        assert_eq!(path_of("TLS_Cipher_List").as_deref(), Some(tls));
        assert_eq!(xml_of(tls).as_deref(), Some("TLS_Cipher_List"));
        assert_eq!(
            path_of("Resync_Periodic").as_deref(),
            Some("Device.X_CISCO_Profile.Resync_Periodic")
        );
        assert_eq!(
            xml_of(&format!("{LINES}3.DirectoryNumber")).as_deref(),
            Some("User_ID_3_")
        );
        assert_eq!(xml_of("Device.DeviceInfo.SoftwareVersion"), None);
        assert_eq!(path_of("bad name"), None);
    }

    #[test]
    fn set_values_are_checked_and_queued_for_the_phone() {
        let mut m = PhoneModel::new(&id(), &[], &MgmtInit::default());
        let p = "Device.X_CISCO_Profile.Resync_Periodic";
        assert!(m.mem.value(p).is_some());
        let bad = ParameterValue::string("Device.X_CISCO_Profile.Provision_Enable", "maybe");
        let f = m.set_values(&[bad], "").unwrap_err();
        assert_eq!(
            f.parameter_faults[0].code,
            FaultCode::INVALID_PARAMETER_VALUE
        );
        assert!(m.take_phone_writes().is_empty(), "all or nothing");
        m.set_values(&[ParameterValue::string(p, "600")], "k")
            .unwrap();
        assert_eq!(
            m.take_phone_writes(),
            [("Resync_Periodic".to_string(), "600".to_string())]
        );
        let ro = ParameterValue::string(SW, "x");
        assert_eq!(
            m.set_values(&[ro], "").unwrap_err().parameter_faults[0].code,
            FaultCode::NON_WRITABLE_PARAMETER
        );
        // A change on the phone with notification on is recorded.
        let attr = SetParameterAttribute {
            name: p.into(),
            notification_change: true,
            notification: 2,
            access_list_change: false,
            access_list: vec![],
        };
        m.set_attributes(&[attr]).unwrap();
        m.refresh(&[("Resync_Periodic".into(), "600".into())], "11.0.1");
        assert!(!m.mem.has_active_change(), "the ACS's own write");
        m.refresh(&[("Resync_Periodic".into(), "900".into())], "11.0.1");
        assert!(m.mem.has_active_change());
    }

    #[test]
    fn issue_16_a_phone_has_its_models_parameters_at_the_tables_paths() {
        let wifi = "Device.X_CISCO_Profile.Phone-wifi-on";
        let mut pn = id();
        pn.pn = "CP-8851-3PCC".into();
        let m = PhoneModel::new(&pn, &[], &MgmtInit::default());
        assert!(m.mem.value(wifi).is_none(), "no Wi-Fi on an 8851");
        // An 8851 has 5 lines (issue 16): its store ignores `Line_Enable_6_`,
        // so the TR-069 model shows line 5 and no line 6.
        let mut store = phoneprov_phone::ParamStore::for_model("CP-8851-3PCC");
        let p = phoneprov_profile::FlatProfile::parse(
            "<flat-profile><Line_Enable_5_>No</Line_Enable_5_>\
             <Line_Enable_6_>Yes</Line_Enable_6_></flat-profile>",
        )
        .unwrap();
        assert_eq!(store.apply_report(&p).ignored, ["Line_Enable_6_"]);
        let explicit: Vec<(String, String)> = store
            .iter()
            .map(|(k, e)| (k.to_string(), e.value.clone()))
            .collect();
        let lines = PhoneModel::new(&pn, &explicit, &MgmtInit::default());
        let line = |n: u16| format!("Device.X_CISCO_Profile.Line_Enable_{n}_");
        assert_eq!(lines.mem.value(&line(5)), Some("No"));
        assert!(lines.mem.value(&line(6)).is_none(), "an 8851 has 5 lines");
        assert_eq!(
            m.mem.value("Device.X_CISCO_Profile.Primary_NTP_Server"),
            Some("")
        );
        pn.pn = "CP-8861-3PCC".into();
        let mut m = PhoneModel::new(
            &pn,
            &[("Admin_Password".into(), "s3cret".into())],
            &MgmtInit::default(),
        );
        assert_eq!(m.mem.value(wifi), Some("Yes"));
        // Secrets read back empty.
        let p = "Device.X_CISCO_Profile.Admin_Password";
        let v = m.get_values(&[p.to_string()]).unwrap();
        assert_eq!(v[0].value, "");
        // Names with a dot: `_` in the path, mapped back.
        assert_eq!(
            path_of("G722.2_Enable_1_").as_deref(),
            Some("Device.X_CISCO_Profile.G722_2_Enable_1_")
        );
        assert_eq!(
            xml_of("Device.X_CISCO_Profile.G722_2_Enable_1_").as_deref(),
            Some("G722.2_Enable_1_")
        );
        assert_eq!(
            xml_of("Device.X_CISCO_Profile.Enable_802_1X_Authentication").as_deref(),
            Some("Enable_802.1X_Authentication")
        );
    }
}
