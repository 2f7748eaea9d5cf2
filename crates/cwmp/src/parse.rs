//! Envelope parsing: element tree → [`Envelope`].
//!
//! Tolerance rules (what real CPEs and ACSes send):
//! - elements are matched by local name whatever their prefix or namespace;
//! - a missing `Header` means no ID / HoldRequests / NoMoreRequests;
//! - a missing or empty field reads as the empty string, `0` or `false`;
//! - `SOAP-ENC:arrayType` counts are ignored (the children are counted);
//! - a missing `xsi:type` reads as `xsd:string`;
//! - names, keys, URLs and numbers are trimmed; parameter values are not.
//!
//! The CWMP version is taken from the namespace of the RPC element, else of
//! the `ID` header, else from the first `urn:dslforum-org:cwmp-1-N` found in
//! the text, else 1.0.

use crate::dom::{self, Element};
use crate::fault::{Fault, FaultCode, ParameterFault};
use crate::model::*;
use crate::SoapError;

/// Parses one SOAP envelope (a CWMP message) from an HTTP body.
///
/// Elements are matched by local name whatever the prefix; a missing
/// Header, missing or empty fields (read as empty, `0` or `false`), wrong
/// `arrayType` counts and a missing `xsi:type` (read as `xsd:string`) are
/// tolerated. The version comes from the RPC element's namespace, else the
/// `ID` header's, else the first CWMP namespace in the text, else 1.0.
///
/// An empty HTTP body is not an envelope: callers treat it as the "empty
/// POST" / "empty response" of the session protocol before calling this;
/// an envelope whose `Body` is empty returns [`SoapError::EmptyBody`].
pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope, SoapError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| SoapError::NotUtf8(e.valid_up_to()))?;
    if text.trim().is_empty() {
        return Err(SoapError::EmptyMessage);
    }
    let root = dom::parse(text)?;
    if root.name != "Envelope" {
        return Err(SoapError::NotEnvelope(root.name));
    }
    let body = root.child("Body").ok_or(SoapError::NoBody)?;
    let header = root.child("Header");
    let id_el = header.and_then(|h| h.child("ID"));
    let rpc_el = body.children.first().ok_or(SoapError::EmptyBody)?;
    let version = [rpc_el, id_el.unwrap_or(rpc_el)]
        .iter()
        .find_map(|e| e.ns.as_deref().and_then(CwmpVersion::from_namespace))
        .or_else(|| sniff_version(text))
        .unwrap_or(CwmpVersion::V1_0);
    let flag = |name: &str| {
        header
            .and_then(|h| h.child(name))
            .map(|e| parse_bool(&e.text))
    };
    Ok(Envelope {
        version,
        id: id_el.map(|e| e.text.trim().to_string()),
        hold_requests: flag("HoldRequests"),
        no_more_requests: flag("NoMoreRequests"),
        body: parse_rpc(rpc_el)?,
    })
}

fn sniff_version(text: &str) -> Option<CwmpVersion> {
    let at = text.find("urn:dslforum-org:cwmp-1-")?;
    let uri = text.get(at..at + "urn:dslforum-org:cwmp-1-0".len())?;
    CwmpVersion::from_namespace(uri)
}

fn parse_bool(s: &str) -> bool {
    matches!(s.trim(), "1" | "true" | "TRUE" | "True")
}

/// Field access with the tolerance rules, for one RPC element.
struct Fields<'a> {
    el: &'a Element,
    rpc: &'a str,
}

impl<'a> Fields<'a> {
    fn text(&self, name: &str) -> String {
        self.el
            .child(name)
            .map(|c| c.text.trim().to_string())
            .unwrap_or_default()
    }

    fn raw(&self, name: &str) -> String {
        self.el
            .child(name)
            .map(|c| c.text.clone())
            .unwrap_or_default()
    }

    fn bool(&self, name: &str) -> bool {
        self.el.child(name).is_some_and(|c| parse_bool(&c.text))
    }

    fn num<T: std::str::FromStr + Default>(&self, name: &str) -> Result<T, SoapError> {
        let v = self.text(name);
        if v.is_empty() {
            return Ok(T::default());
        }
        v.parse().map_err(|_| SoapError::InvalidField {
            rpc: self.rpc.to_string(),
            field: name.to_string(),
            value: v.chars().take(40).collect(),
        })
    }

    fn list(&self, name: &str) -> &'a [Element] {
        self.el
            .child(name)
            .map(|c| c.children.as_slice())
            .unwrap_or_default()
    }

    fn strings(&self, name: &str) -> Vec<String> {
        self.list(name)
            .iter()
            .map(|c| c.text.trim().to_string())
            .collect()
    }

    fn sub(&self, el: &'a Element) -> Fields<'a> {
        Fields { el, rpc: self.rpc }
    }
}

fn parameter_values(f: &Fields<'_>, name: &str) -> Vec<ParameterValue> {
    f.list(name)
        .iter()
        .map(|p| {
            let s = f.sub(p);
            let value = p.child("Value");
            ParameterValue {
                name: s.text("Name"),
                value: s.raw("Value"),
                kind: value
                    .and_then(|v| v.attr("type"))
                    .map(value_type)
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn value_type(s: &str) -> ValueType {
    match ValueType::parse(s) {
        ValueType::Other(o) if !crate::write::is_xml_name(&o) => ValueType::String,
        t => t,
    }
}

fn parse_rpc(el: &Element) -> Result<Rpc, SoapError> {
    let name = el.name.as_str();
    let f = Fields { el, rpc: name };
    Ok(match name {
        "Inform" => {
            let d = el.child("DeviceId");
            let d = d.map(|d| f.sub(d));
            let dt = |n: &str| d.as_ref().map(|d| d.text(n)).unwrap_or_default();
            Rpc::Inform(Inform {
                device_id: DeviceId {
                    manufacturer: dt("Manufacturer"),
                    oui: dt("OUI"),
                    product_class: dt("ProductClass"),
                    serial_number: dt("SerialNumber"),
                },
                events: f
                    .list("Event")
                    .iter()
                    .map(|e| {
                        let e = f.sub(e);
                        Event {
                            code: EventCode::parse(&e.text("EventCode")),
                            command_key: e.text("CommandKey"),
                        }
                    })
                    .collect(),
                max_envelopes: f.num("MaxEnvelopes")?,
                current_time: f.text("CurrentTime"),
                retry_count: f.num("RetryCount")?,
                parameters: parameter_values(&f, "ParameterList"),
            })
        }
        "InformResponse" => Rpc::InformResponse {
            max_envelopes: f.num("MaxEnvelopes")?,
        },
        "TransferComplete" => {
            let fs = el.child("FaultStruct").map(|e| f.sub(e));
            Rpc::TransferComplete(TransferComplete {
                command_key: f.text("CommandKey"),
                fault_code: fs
                    .as_ref()
                    .map(|s| s.num("FaultCode"))
                    .transpose()?
                    .unwrap_or(0),
                fault_string: fs.map(|s| s.text("FaultString")).unwrap_or_default(),
                start_time: f.text("StartTime"),
                complete_time: f.text("CompleteTime"),
            })
        }
        "TransferCompleteResponse" => Rpc::TransferCompleteResponse,
        "GetRPCMethods" => Rpc::GetRPCMethods,
        "GetRPCMethodsResponse" => Rpc::GetRPCMethodsResponse(f.strings("MethodList")),
        "SetParameterValues" => Rpc::SetParameterValues {
            list: parameter_values(&f, "ParameterList"),
            parameter_key: f.text("ParameterKey"),
        },
        "SetParameterValuesResponse" => Rpc::SetParameterValuesResponse {
            status: f.num("Status")?,
        },
        "GetParameterValues" => Rpc::GetParameterValues {
            names: f.strings("ParameterNames"),
        },
        "GetParameterValuesResponse" => {
            Rpc::GetParameterValuesResponse(parameter_values(&f, "ParameterList"))
        }
        "GetParameterNames" => Rpc::GetParameterNames {
            path: f.text("ParameterPath"),
            next_level: f.bool("NextLevel"),
        },
        "GetParameterNamesResponse" => Rpc::GetParameterNamesResponse(
            f.list("ParameterList")
                .iter()
                .map(|p| {
                    let p = f.sub(p);
                    ParameterInfo {
                        name: p.text("Name"),
                        writable: p.bool("Writable"),
                    }
                })
                .collect(),
        ),
        "SetParameterAttributes" => {
            let mut out = Vec::new();
            for p in f.list("ParameterList") {
                let p = f.sub(p);
                out.push(SetParameterAttribute {
                    name: p.text("Name"),
                    notification_change: p.bool("NotificationChange"),
                    notification: p.num("Notification")?,
                    access_list_change: p.bool("AccessListChange"),
                    access_list: p.strings("AccessList"),
                });
            }
            Rpc::SetParameterAttributes(out)
        }
        "SetParameterAttributesResponse" => Rpc::SetParameterAttributesResponse,
        "GetParameterAttributes" => Rpc::GetParameterAttributes {
            names: f.strings("ParameterNames"),
        },
        "GetParameterAttributesResponse" => {
            let mut out = Vec::new();
            for p in f.list("ParameterList") {
                let p = f.sub(p);
                out.push(ParameterAttribute {
                    name: p.text("Name"),
                    notification: p.num("Notification")?,
                    access_list: p.strings("AccessList"),
                });
            }
            Rpc::GetParameterAttributesResponse(out)
        }
        "AddObject" => Rpc::AddObject {
            object_name: f.text("ObjectName"),
            parameter_key: f.text("ParameterKey"),
        },
        "AddObjectResponse" => Rpc::AddObjectResponse {
            instance_number: f.num("InstanceNumber")?,
            status: f.num("Status")?,
        },
        "DeleteObject" => Rpc::DeleteObject {
            object_name: f.text("ObjectName"),
            parameter_key: f.text("ParameterKey"),
        },
        "DeleteObjectResponse" => Rpc::DeleteObjectResponse {
            status: f.num("Status")?,
        },
        "Reboot" => Rpc::Reboot {
            command_key: f.text("CommandKey"),
        },
        "RebootResponse" => Rpc::RebootResponse,
        "FactoryReset" => Rpc::FactoryReset,
        "FactoryResetResponse" => Rpc::FactoryResetResponse,
        "Download" => Rpc::Download(Download {
            command_key: f.text("CommandKey"),
            file_type: FileType::parse(&f.text("FileType")),
            url: f.text("URL"),
            username: f.text("Username"),
            password: f.raw("Password"),
            file_size: f.num("FileSize")?,
            target_file_name: f.text("TargetFileName"),
            delay_seconds: f.num("DelaySeconds")?,
            success_url: f.text("SuccessURL"),
            failure_url: f.text("FailureURL"),
        }),
        "DownloadResponse" => Rpc::DownloadResponse {
            status: f.num("Status")?,
            start_time: f.text("StartTime"),
            complete_time: f.text("CompleteTime"),
        },
        "Fault" => Rpc::Fault(parse_fault(el)?),
        other if crate::write::is_xml_name(other) => Rpc::Unknown {
            method: other.to_string(),
        },
        other => return Err(SoapError::UnknownElement(other.chars().take(40).collect())),
    })
}

/// Reads a SOAP Fault: the CWMP fault is in `detail/Fault`; a bare SOAP
/// fault without CWMP detail becomes 8002/9002-style internal error with
/// the SOAP `faultstring` as message.
fn parse_fault(el: &Element) -> Result<Fault, SoapError> {
    let soap = Fields { el, rpc: "Fault" };
    let Some(cwmp) = el.child("detail").and_then(|d| d.child("Fault")) else {
        return Ok(Fault::with_message(
            FaultCode::INTERNAL_ERROR,
            soap.text("faultstring"),
        ));
    };
    let f = soap.sub(cwmp);
    let mut parameter_faults = Vec::new();
    for p in cwmp.children_named("SetParameterValuesFault") {
        let p = f.sub(p);
        parameter_faults.push(ParameterFault {
            name: p.text("ParameterName"),
            code: FaultCode(p.num("FaultCode")?),
            message: p.text("FaultString"),
        });
    }
    Ok(Fault {
        code: FaultCode(f.num("FaultCode")?),
        message: f.text("FaultString"),
        parameter_faults,
    })
}
