//! The JSON form of a task (what `POST /api/v1/devices/{mac}/tasks` takes
//! and what the task table stores) and of its result.
//!
//! [`TaskRpc`] names every ACS→CPE request of R-TR69-2. It is stored as
//! JSON rather than as a SOAP envelope so the API can show it back as sent,
//! and converted to a [`phoneprov_cwmp::Rpc`] only when a session claims it
//! (that is when the Download CommandKey, which names the task, is known).
//! Parameter names may be TR-069 paths or XML parameter names of the
//! profile schema (R-TR69-4): [`to_tr069_path`] maps the latter.

use phoneprov_cwmp::{
    Download, Fault, FileType, ParameterValue, Rpc, SetParameterAttribute, ValueType,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One ACS→CPE request, as the REST API and presets describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rpc", deny_unknown_fields)]
pub enum TaskRpc {
    /// `{"rpc":"GetParameterValues","names":["Device.DeviceInfo."]}`
    GetParameterValues {
        /// Full names or partial paths ending in `.`; XML names allowed.
        names: Vec<String>,
    },
    /// `{"rpc":"SetParameterValues","values":[{"name":…,"value":…}]}`
    SetParameterValues {
        /// The values; `type` defaults to the cached type, else `string`.
        values: Vec<SetValue>,
        /// ParameterKey the CPE stores once applied.
        #[serde(default)]
        parameter_key: String,
    },
    /// `{"rpc":"GetParameterNames","path":"Device.","next_level":true}`
    GetParameterNames {
        /// Partial path (empty: root).
        #[serde(default)]
        path: String,
        /// Only the next level.
        #[serde(default)]
        next_level: bool,
    },
    /// `{"rpc":"GetParameterAttributes","names":[…]}`
    GetParameterAttributes {
        /// Names or partial paths.
        names: Vec<String>,
    },
    /// `{"rpc":"SetParameterAttributes","attributes":[{"name":…,"notification":2}]}`
    SetParameterAttributes {
        /// One entry per parameter.
        attributes: Vec<SetAttribute>,
    },
    /// `{"rpc":"AddObject","object_name":"Device.X.Line."}`
    AddObject {
        /// Multi-instance object path, ending in `.`.
        object_name: String,
        /// ParameterKey.
        #[serde(default)]
        parameter_key: String,
    },
    /// `{"rpc":"DeleteObject","object_name":"Device.X.Line.2."}`
    DeleteObject {
        /// Instance path, ending in `.`.
        object_name: String,
        /// ParameterKey.
        #[serde(default)]
        parameter_key: String,
    },
    /// `{"rpc":"Reboot"}`: the CPE informs `M Reboot` with the CommandKey.
    Reboot {
        /// CommandKey (default: `phoneprov-task-<id>`).
        #[serde(default)]
        command_key: String,
    },
    /// `{"rpc":"FactoryReset"}`.
    FactoryReset,
    /// `{"rpc":"Download","file_type":"firmware","url":"http://…"}`.
    Download(DownloadSpec),
    /// `{"rpc":"GetRPCMethods"}`.
    GetRPCMethods,
}

/// One value of a SetParameterValues task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetValue {
    /// TR-069 path or XML name.
    pub name: String,
    /// The value.
    pub value: String,
    /// `xsd` type name (`string`, `boolean`, `unsignedInt`, …).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// One entry of a SetParameterAttributes task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetAttribute {
    /// TR-069 path or XML name.
    pub name: String,
    /// 0 off, 1 passive, 2 active; absent: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<u8>,
    /// Access list; absent: unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_list: Option<Vec<String>>,
}

/// What to download: firmware, a vendor configuration file (a rendered
/// profile) or a custom CA certificate (R-TR69-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadSpec {
    /// `firmware`, `config` or `ca`.
    pub file_type: DownloadKind,
    /// Where the CPE fetches it. For `config` it may be left out when the
    /// ACS has a `profile_url` template (the rendered profile's URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// File server user (empty: none).
    #[serde(default)]
    pub username: String,
    /// File server password.
    #[serde(default)]
    pub password: String,
    /// Size in bytes, 0 unknown.
    #[serde(default)]
    pub file_size: u64,
    /// Target file name.
    #[serde(default)]
    pub target_file_name: String,
    /// Seconds before the CPE starts.
    #[serde(default)]
    pub delay_seconds: u32,
    /// CommandKey (default: `phoneprov-task-<id>`), echoed by
    /// TransferComplete and `M Download`.
    #[serde(default)]
    pub command_key: String,
}

/// The three Download file types of R-TR69-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DownloadKind {
    /// `1 Firmware Upgrade Image`.
    Firmware,
    /// `3 Vendor Configuration File`.
    Config,
    /// `X 000E08 Custom CA`.
    Ca,
}

/// Why a task description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// A name is neither a TR-069 path nor a known XML parameter name.
    #[error("parameter {0:?} is neither a TR-069 path (Device.… / InternetGatewayDevice.…) nor an XML parameter name of the schema; use the full TR-069 path")]
    UnknownName(String),
    /// Download of a config without URL and without `profile_url`.
    #[error(
        "Download of a config file needs \"url\" (or configure the ACS's profile_url template)"
    )]
    NoUrl,
    /// Bad notification value.
    #[error("notification {0} for {1:?} is not 0, 1 or 2")]
    BadNotification(u8, String),
    /// Bad `expires_after` or `max_attempts`.
    #[error("{0}")]
    BadOption(String),
}

/// Most sends a task may ask for (`max_attempts`).
pub const MAX_ATTEMPTS_LIMIT: i64 = 100;

/// A task's own retry limit and deadline (issue 14 item 4), given beside
/// the task in its JSON (`"expires_after":"1h"`, `"max_attempts":3`) or
/// by the CLI's `--expires-after` / `--max-attempts`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskOptions {
    /// How long after queueing the task may still be sent; `None`: no
    /// deadline.
    pub expires_after: Option<std::time::Duration>,
    /// Sends without an answer before it is given up; `None`: the default
    /// ([`phoneprov_store::DEFAULT_TASK_ATTEMPTS`]).
    pub max_attempts: Option<i64>,
}

impl TaskOptions {
    /// Parses `--expires-after` (humantime: `90s`, `30m`, `1h`, `2days`)
    /// and `--max-attempts` (1 ..= [`MAX_ATTEMPTS_LIMIT`]).
    pub fn parse(
        expires_after: Option<&str>,
        max_attempts: Option<i64>,
    ) -> Result<Self, TaskError> {
        let expires_after = expires_after
            .map(|t| {
                humantime::parse_duration(t)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        TaskError::BadOption(format!(
                            "expires_after {t:?} is not a duration; write e.g. \"90s\", \"30m\", \"1h\" or \"2days\""
                        ))
                    })
            })
            .transpose()?;
        if let Some(n) = max_attempts.filter(|n| !(1..=MAX_ATTEMPTS_LIMIT).contains(n)) {
            return Err(TaskError::BadOption(format!(
                "max_attempts {n} is out of range; give 1 to {MAX_ATTEMPTS_LIMIT}"
            )));
        }
        Ok(TaskOptions {
            expires_after,
            max_attempts,
        })
    }

    /// The stored limits of a task queued at `now_ms`.
    pub fn limits(&self, now_ms: i64) -> phoneprov_store::TaskLimits {
        let d = phoneprov_store::TaskLimits::default();
        phoneprov_store::TaskLimits {
            max_attempts: self.max_attempts.unwrap_or(d.max_attempts),
            expires_ms: self
                .expires_after
                .map(|e| now_ms.saturating_add(i64::try_from(e.as_millis()).unwrap_or(i64::MAX))),
        }
    }
}

/// A task request as the API and the console take it: the [`TaskRpc`]
/// JSON, optionally with `expires_after` (a duration string) and
/// `max_attempts` (an integer) beside `rpc`. An unknown RPC or field is
/// refused with serde's message.
pub fn parse_request(json: &[u8]) -> Result<(TaskRpc, TaskOptions), String> {
    let mut v: Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let (expires, max) = match v.as_object_mut() {
        Some(o) => (o.remove("expires_after"), o.remove("max_attempts")),
        None => (None, None),
    };
    let expires = match &expires {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => {
            return Err(format!(
                "expires_after must be a string like \"1h\", not {other}"
            ))
        }
    };
    let max = match &max {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_i64()
                .ok_or_else(|| format!("max_attempts must be an integer, not {n}"))?,
        ),
    };
    let opts = TaskOptions::parse(expires, max).map_err(|e| e.to_string())?;
    let rpc = serde_json::from_value(v).map_err(|e| e.to_string())?;
    Ok((rpc, opts))
}

/// The TR-069 path for `name`: the path the profile schema gives an XML
/// name (R-TR69-4, `TLS_Cipher_List` →
/// `Device.X_CISCO_SecuritySettings.TLSCipherList`; an XML name may hold
/// a dot, `G722.2_Enable_1_`), else `name` itself when it is a path
/// (contains a `.`).
pub fn to_tr069_path(name: &str) -> Result<String, TaskError> {
    if let Some(path) = phoneprov_profile::schema::tr069_path(name) {
        return Ok(path);
    }
    if name.is_empty() || name.contains('.') {
        return Ok(name.to_string());
    }
    Err(TaskError::UnknownName(name.to_string()))
}

/// The XML parameter name of a TR-069 path, if the schema maps one
/// (indexed names included: `Device.X_CISCO_Profile.User_ID_3_`).
pub fn xml_name(path: &str) -> Option<String> {
    phoneprov_profile::schema::xml_name_of_path(path)
}

fn paths(names: &[String]) -> Result<Vec<String>, TaskError> {
    names.iter().map(|n| to_tr069_path(n)).collect()
}

impl TaskRpc {
    /// The CWMP method name.
    pub fn method(&self) -> &'static str {
        match self {
            TaskRpc::GetParameterValues { .. } => "GetParameterValues",
            TaskRpc::SetParameterValues { .. } => "SetParameterValues",
            TaskRpc::GetParameterNames { .. } => "GetParameterNames",
            TaskRpc::GetParameterAttributes { .. } => "GetParameterAttributes",
            TaskRpc::SetParameterAttributes { .. } => "SetParameterAttributes",
            TaskRpc::AddObject { .. } => "AddObject",
            TaskRpc::DeleteObject { .. } => "DeleteObject",
            TaskRpc::Reboot { .. } => "Reboot",
            TaskRpc::FactoryReset => "FactoryReset",
            TaskRpc::Download(_) => "Download",
            TaskRpc::GetRPCMethods => "GetRPCMethods",
        }
    }

    /// Checks the description and maps XML names to TR-069 paths, so the
    /// stored form is what will be sent. `profile_url` is the ACS's
    /// template for config downloads (`{mac}` replaced by `mac`).
    pub fn normalize(mut self, mac: &str, profile_url: Option<&str>) -> Result<Self, TaskError> {
        match &mut self {
            TaskRpc::GetParameterValues { names } | TaskRpc::GetParameterAttributes { names } => {
                *names = paths(names)?;
            }
            TaskRpc::SetParameterValues { values, .. } => {
                for v in values {
                    v.name = to_tr069_path(&v.name)?;
                }
            }
            TaskRpc::SetParameterAttributes { attributes } => {
                for a in attributes {
                    a.name = to_tr069_path(&a.name)?;
                    if let Some(n) = a.notification.filter(|n| *n > 2) {
                        return Err(TaskError::BadNotification(n, a.name.clone()));
                    }
                }
            }
            TaskRpc::Download(d) if d.url.as_deref().unwrap_or("").is_empty() => {
                match (d.file_type, profile_url) {
                    (DownloadKind::Config, Some(t)) => d.url = Some(t.replace("{mac}", mac)),
                    _ => return Err(TaskError::NoUrl),
                }
            }
            _ => {}
        }
        Ok(self)
    }

    /// Whether [`TaskRpc::to_rpc`] asks for cached parameter types (a
    /// SetParameterValues value without `type`).
    pub fn needs_types(&self) -> bool {
        matches!(self, TaskRpc::SetParameterValues { values, .. } if values.iter().any(|v| v.kind.is_none()))
    }

    /// The CWMP request for task `id`; `kind_of` gives the cached type of
    /// a parameter for SetParameterValues values without `type`.
    pub fn to_rpc(&self, id: i64, kind_of: &dyn Fn(&str) -> Option<String>) -> Rpc {
        let key = |k: &str| {
            if k.is_empty() {
                format!("phoneprov-task-{id}")
            } else {
                k.to_string()
            }
        };
        match self.clone() {
            TaskRpc::GetParameterValues { names } => Rpc::GetParameterValues { names },
            TaskRpc::SetParameterValues {
                values,
                parameter_key,
            } => Rpc::SetParameterValues {
                list: values
                    .into_iter()
                    .map(|v| {
                        let kind = v.kind.or_else(|| kind_of(&v.name));
                        let kind = kind.map(|k| ValueType::parse(&k)).unwrap_or_default();
                        ParameterValue::new(v.name, v.value, kind)
                    })
                    .collect(),
                parameter_key,
            },
            TaskRpc::GetParameterNames { path, next_level } => {
                Rpc::GetParameterNames { path, next_level }
            }
            TaskRpc::GetParameterAttributes { names } => Rpc::GetParameterAttributes { names },
            TaskRpc::SetParameterAttributes { attributes } => Rpc::SetParameterAttributes(
                attributes
                    .into_iter()
                    .map(|a| SetParameterAttribute {
                        name: a.name,
                        notification_change: a.notification.is_some(),
                        notification: a.notification.unwrap_or(0),
                        access_list_change: a.access_list.is_some(),
                        access_list: a.access_list.unwrap_or_default(),
                    })
                    .collect(),
            ),
            TaskRpc::AddObject {
                object_name,
                parameter_key,
            } => Rpc::AddObject {
                object_name,
                parameter_key,
            },
            TaskRpc::DeleteObject {
                object_name,
                parameter_key,
            } => Rpc::DeleteObject {
                object_name,
                parameter_key,
            },
            TaskRpc::Reboot { command_key } => Rpc::Reboot {
                command_key: key(&command_key),
            },
            TaskRpc::FactoryReset => Rpc::FactoryReset,
            TaskRpc::Download(d) => Rpc::Download(Download {
                command_key: key(&d.command_key),
                file_type: match d.file_type {
                    DownloadKind::Firmware => FileType::Firmware,
                    DownloadKind::Config => FileType::VendorConfig,
                    DownloadKind::Ca => FileType::CustomCa,
                },
                url: d.url.unwrap_or_default(),
                username: d.username,
                password: d.password,
                file_size: d.file_size,
                target_file_name: d.target_file_name,
                delay_seconds: d.delay_seconds,
                ..Download::default()
            }),
            TaskRpc::GetRPCMethods => Rpc::GetRPCMethods,
        }
    }
}

fn values_json(list: &[ParameterValue]) -> Value {
    list.iter()
        .map(|p| json!({"name": p.name, "value": p.value, "type": p.kind.as_str()}))
        .collect()
}

/// The JSON result stored for a CPE response.
pub fn response_json(rpc: &Rpc) -> Value {
    match rpc {
        Rpc::GetParameterValuesResponse(v) => json!({"values": values_json(v)}),
        Rpc::SetParameterValuesResponse { status } => json!({ "status": status }),
        Rpc::GetParameterNamesResponse(v) => json!({"names": v
            .iter()
            .map(|p| json!({"name": p.name, "writable": p.writable}))
            .collect::<Vec<_>>()}),
        Rpc::GetParameterAttributesResponse(v) => json!({"attributes": v
            .iter()
            .map(|a| json!({"name": a.name, "notification": a.notification, "access_list": a.access_list}))
            .collect::<Vec<_>>()}),
        Rpc::AddObjectResponse {
            instance_number,
            status,
        } => json!({"instance_number": instance_number, "status": status}),
        Rpc::DeleteObjectResponse { status } => json!({ "status": status }),
        Rpc::DownloadResponse {
            status,
            start_time,
            complete_time,
        } => json!({"status": status, "start_time": start_time, "complete_time": complete_time}),
        Rpc::GetRPCMethodsResponse(m) => json!({ "methods": m }),
        other => json!({ "response": other.method_name() }),
    }
}

/// The JSON result stored for a CPE fault.
pub fn fault_json(fault: &Fault) -> Value {
    json!({
        "fault": {
            "code": fault.code.0,
            "message": fault.message,
            "parameter_faults": fault.parameter_faults.iter()
                .map(|p| json!({"name": p.name, "code": p.code.0, "message": p.message}))
                .collect::<Vec<_>>(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_names_map_to_tr069_paths_r_tr69_4() {
        assert_eq!(
            to_tr069_path("TLS_Cipher_List").unwrap(),
            "Device.X_CISCO_SecuritySettings.TLSCipherList"
        );
        assert_eq!(
            xml_name("Device.X_CISCO_SecuritySettings.TLSCipherList").as_deref(),
            Some("TLS_Cipher_List")
        );
        assert_eq!(to_tr069_path("Device.A.").unwrap(), "Device.A.");
        // Issue 16: every schema name has a path, indexed ones included.
        assert_eq!(
            to_tr069_path("Line_Enable_2_").unwrap(),
            "Device.X_CISCO_Profile.Line_Enable_2_"
        );
        assert_eq!(
            xml_name("Device.X_CISCO_Profile.Primary_NTP_Server").as_deref(),
            Some("Primary_NTP_Server")
        );
        // A name with a dot is an XML name, not a path.
        assert_eq!(
            to_tr069_path("G722.2_Enable_1_").unwrap(),
            "Device.X_CISCO_Profile.G722_2_Enable_1_"
        );
        assert_eq!(
            xml_name("Device.X_CISCO_Profile.User_ID_3_").as_deref(),
            Some("User_ID_3_")
        );
        assert!(matches!(
            to_tr069_path("No_Such_Param_Here"),
            Err(TaskError::UnknownName(_))
        ));
    }

    #[test]
    fn every_rpc_of_the_list_parses_from_json() {
        let bodies = [
            r#"{"rpc":"GetParameterValues","names":["Device.DeviceInfo."]}"#,
            r#"{"rpc":"SetParameterValues","values":[{"name":"TLS_Cipher_List","value":"RSA"}]}"#,
            r#"{"rpc":"GetParameterNames","path":"Device.","next_level":true}"#,
            r#"{"rpc":"GetParameterAttributes","names":["Device."]}"#,
            r#"{"rpc":"SetParameterAttributes","attributes":[{"name":"Device.A","notification":2}]}"#,
            r#"{"rpc":"AddObject","object_name":"Device.T."}"#,
            r#"{"rpc":"DeleteObject","object_name":"Device.T.1."}"#,
            r#"{"rpc":"Reboot"}"#,
            r#"{"rpc":"FactoryReset"}"#,
            r#"{"rpc":"Download","file_type":"firmware","url":"http://x/fw.bin"}"#,
            r#"{"rpc":"Download","file_type":"ca","url":"http://x/ca.pem"}"#,
            r#"{"rpc":"GetRPCMethods"}"#,
        ];
        for b in bodies {
            let t: TaskRpc = serde_json::from_str(b).unwrap_or_else(|e| panic!("{b}: {e}"));
            let t = t.normalize("000e08abcdef", None).unwrap();
            let rpc = t.to_rpc(7, &|_| None);
            assert_eq!(rpc.method_name(), t.method());
        }
    }

    #[test]
    fn config_download_defaults_to_the_rendered_profile_url() {
        let t: TaskRpc =
            serde_json::from_str(r#"{"rpc":"Download","file_type":"config"}"#).unwrap();
        assert_eq!(t.clone().normalize("m", None), Err(TaskError::NoUrl));
        let t = t
            .normalize("000e08abcdef", Some("http://p/{mac}.xml"))
            .unwrap();
        let Rpc::Download(d) = t.to_rpc(3, &|_| None) else {
            panic!()
        };
        assert_eq!(d.url, "http://p/000e08abcdef.xml");
        assert_eq!(d.file_type, FileType::VendorConfig);
        assert_eq!(d.command_key, "phoneprov-task-3");
    }
}
