//! Envelope writing: [`Envelope`] → SOAP XML, with quick-xml's writer.
//!
//! Output follows the TR-069 schema literally so strict CPEs accept it:
//! `SOAP-ENV`/`SOAP-ENC`/`xsd`/`xsi`/`cwmp` prefixes, `cwmp:ID` and
//! `cwmp:HoldRequests` with `SOAP-ENV:mustUnderstand="1"`, unqualified
//! argument elements, `SOAP-ENC:arrayType` with the real item count, and an
//! `xsi:type` on every `ParameterValueStruct` value. Text is escaped by the
//! workspace's one escaper, `phoneprov_types::xml::escape` (not quick-xml's),
//! so a `\r` in a value survives as `&#13;` instead of being turned into
//! `\n` by the reader's end-of-line rules.

use phoneprov_types::xml::{escape, XmlContext};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event as XmlEvent};
use quick_xml::Writer;

use crate::fault::Fault;
use crate::model::*;

const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP_ENC: &str = "http://schemas.xmlsoap.org/soap/encoding/";
const XSD: &str = "http://www.w3.org/2001/XMLSchema";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// True if `s` can be written as an element or type name unchanged (ASCII
/// letters, digits, `_ - .`, starting with a letter or `_`).
pub(crate) fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

struct W {
    w: Writer<Vec<u8>>,
}

impl W {
    fn ev(&mut self, e: XmlEvent<'_>) {
        self.w
            .write_event(e)
            .expect("writing XML into a Vec cannot fail");
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let el = BytesStart::new(name).with_attributes(attrs.iter().copied());
        self.ev(XmlEvent::Start(el));
    }

    fn end(&mut self, name: &str) {
        self.ev(XmlEvent::End(BytesEnd::new(name)));
    }

    fn leaf_with(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        if !text.is_empty() {
            self.ev(XmlEvent::Text(BytesText::from_escaped(escape(
                text,
                XmlContext::Text,
            ))));
        }
        self.end(name);
    }

    fn leaf(&mut self, name: &str, text: &str) {
        self.leaf_with(name, &[], text);
    }

    fn bool(&mut self, name: &str, v: bool) {
        self.leaf(name, if v { "1" } else { "0" });
    }

    fn num(&mut self, name: &str, v: impl ToString) {
        self.leaf(name, &v.to_string());
    }

    fn array_start(&mut self, name: &str, item_type: &str, n: usize) {
        let t = format!("{item_type}[{n}]");
        self.start(name, &[("SOAP-ENC:arrayType", t.as_str())]);
    }

    fn strings(&mut self, name: &str, items: &[String]) {
        self.array_start(name, "xsd:string", items.len());
        for s in items {
            self.leaf("string", s);
        }
        self.end(name);
    }

    fn values(&mut self, name: &str, list: &[ParameterValue]) {
        self.array_start(name, "cwmp:ParameterValueStruct", list.len());
        for p in list {
            self.start("ParameterValueStruct", &[]);
            self.leaf("Name", &p.name);
            let t = format!("xsd:{}", p.kind.as_str());
            self.leaf_with("Value", &[("xsi:type", t.as_str())], &p.value);
            self.end("ParameterValueStruct");
        }
        self.end(name);
    }

    fn header_flag(&mut self, name: &str, v: bool, must_understand: bool) {
        let attrs: &[(&str, &str)] = if must_understand {
            &[("SOAP-ENV:mustUnderstand", "1")]
        } else {
            &[]
        };
        self.leaf_with(name, attrs, if v { "1" } else { "0" });
    }
}

/// Writes one SOAP envelope (UTF-8, with an XML declaration).
pub fn write_envelope(env: &Envelope) -> Vec<u8> {
    let mut w = W {
        w: Writer::new(Vec::with_capacity(1024)),
    };
    w.ev(XmlEvent::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    w.start(
        "SOAP-ENV:Envelope",
        &[
            ("xmlns:SOAP-ENV", SOAP_ENV),
            ("xmlns:SOAP-ENC", SOAP_ENC),
            ("xmlns:xsd", XSD),
            ("xmlns:xsi", XSI),
            ("xmlns:cwmp", env.version.namespace()),
        ],
    );
    if env.id.is_some() || env.hold_requests.is_some() || env.no_more_requests.is_some() {
        w.start("SOAP-ENV:Header", &[]);
        if let Some(id) = &env.id {
            w.leaf_with("cwmp:ID", &[("SOAP-ENV:mustUnderstand", "1")], id);
        }
        if let Some(h) = env.hold_requests {
            w.header_flag("cwmp:HoldRequests", h, true);
        }
        if let Some(n) = env.no_more_requests {
            w.header_flag("cwmp:NoMoreRequests", n, false);
        }
        w.end("SOAP-ENV:Header");
    }
    w.start("SOAP-ENV:Body", &[]);
    write_rpc(&mut w, &env.body);
    w.end("SOAP-ENV:Body");
    w.end("SOAP-ENV:Envelope");
    w.w.into_inner()
}

fn write_rpc(w: &mut W, rpc: &Rpc) {
    if let Rpc::Fault(f) = rpc {
        write_fault(w, f);
        return;
    }
    let name = format!("cwmp:{}", rpc.method_name());
    w.start(&name, &[]);
    match rpc {
        Rpc::Inform(i) => {
            w.start("DeviceId", &[]);
            w.leaf("Manufacturer", &i.device_id.manufacturer);
            w.leaf("OUI", &i.device_id.oui);
            w.leaf("ProductClass", &i.device_id.product_class);
            w.leaf("SerialNumber", &i.device_id.serial_number);
            w.end("DeviceId");
            w.array_start("Event", "cwmp:EventStruct", i.events.len());
            for e in &i.events {
                w.start("EventStruct", &[]);
                w.leaf("EventCode", e.code.as_str());
                w.leaf("CommandKey", &e.command_key);
                w.end("EventStruct");
            }
            w.end("Event");
            w.num("MaxEnvelopes", i.max_envelopes);
            w.leaf("CurrentTime", &i.current_time);
            w.num("RetryCount", i.retry_count);
            w.values("ParameterList", &i.parameters);
        }
        Rpc::InformResponse { max_envelopes } => w.num("MaxEnvelopes", max_envelopes),
        Rpc::TransferComplete(t) => {
            w.leaf("CommandKey", &t.command_key);
            w.start("FaultStruct", &[]);
            w.num("FaultCode", t.fault_code);
            w.leaf("FaultString", &t.fault_string);
            w.end("FaultStruct");
            w.leaf("StartTime", &t.start_time);
            w.leaf("CompleteTime", &t.complete_time);
        }
        Rpc::GetRPCMethodsResponse(m) => w.strings("MethodList", m),
        Rpc::SetParameterValues {
            list,
            parameter_key,
        } => {
            w.values("ParameterList", list);
            w.leaf("ParameterKey", parameter_key);
        }
        Rpc::SetParameterValuesResponse { status } | Rpc::DeleteObjectResponse { status } => {
            w.num("Status", status)
        }
        Rpc::GetParameterValues { names } | Rpc::GetParameterAttributes { names } => {
            w.strings("ParameterNames", names)
        }
        Rpc::GetParameterValuesResponse(list) => w.values("ParameterList", list),
        Rpc::GetParameterNames { path, next_level } => {
            w.leaf("ParameterPath", path);
            w.bool("NextLevel", *next_level);
        }
        Rpc::GetParameterNamesResponse(list) => {
            w.array_start("ParameterList", "cwmp:ParameterInfoStruct", list.len());
            for p in list {
                w.start("ParameterInfoStruct", &[]);
                w.leaf("Name", &p.name);
                w.bool("Writable", p.writable);
                w.end("ParameterInfoStruct");
            }
            w.end("ParameterList");
        }
        Rpc::SetParameterAttributes(list) => {
            w.array_start(
                "ParameterList",
                "cwmp:SetParameterAttributesStruct",
                list.len(),
            );
            for p in list {
                w.start("SetParameterAttributesStruct", &[]);
                w.leaf("Name", &p.name);
                w.bool("NotificationChange", p.notification_change);
                w.num("Notification", p.notification);
                w.bool("AccessListChange", p.access_list_change);
                w.strings("AccessList", &p.access_list);
                w.end("SetParameterAttributesStruct");
            }
            w.end("ParameterList");
        }
        Rpc::GetParameterAttributesResponse(list) => {
            w.array_start("ParameterList", "cwmp:ParameterAttributeStruct", list.len());
            for p in list {
                w.start("ParameterAttributeStruct", &[]);
                w.leaf("Name", &p.name);
                w.num("Notification", p.notification);
                w.strings("AccessList", &p.access_list);
                w.end("ParameterAttributeStruct");
            }
            w.end("ParameterList");
        }
        Rpc::AddObject {
            object_name,
            parameter_key,
        }
        | Rpc::DeleteObject {
            object_name,
            parameter_key,
        } => {
            w.leaf("ObjectName", object_name);
            w.leaf("ParameterKey", parameter_key);
        }
        Rpc::AddObjectResponse {
            instance_number,
            status,
        } => {
            w.num("InstanceNumber", instance_number);
            w.num("Status", status);
        }
        Rpc::Reboot { command_key } => w.leaf("CommandKey", command_key),
        Rpc::Download(d) => {
            w.leaf("CommandKey", &d.command_key);
            w.leaf("FileType", &d.file_type.to_wire());
            w.leaf("URL", &d.url);
            w.leaf("Username", &d.username);
            w.leaf("Password", &d.password);
            w.num("FileSize", d.file_size);
            w.leaf("TargetFileName", &d.target_file_name);
            w.num("DelaySeconds", d.delay_seconds);
            w.leaf("SuccessURL", &d.success_url);
            w.leaf("FailureURL", &d.failure_url);
        }
        Rpc::DownloadResponse {
            status,
            start_time,
            complete_time,
        } => {
            w.num("Status", status);
            w.leaf("StartTime", start_time);
            w.leaf("CompleteTime", complete_time);
        }
        Rpc::TransferCompleteResponse
        | Rpc::GetRPCMethods
        | Rpc::SetParameterAttributesResponse
        | Rpc::RebootResponse
        | Rpc::FactoryReset
        | Rpc::FactoryResetResponse
        | Rpc::Unknown { .. } => {}
        Rpc::Fault(_) => unreachable!("handled above"),
    }
    w.end(&name);
}

fn write_fault(w: &mut W, f: &Fault) {
    w.start("SOAP-ENV:Fault", &[]);
    w.leaf("faultcode", f.code.soap_faultcode());
    w.leaf("faultstring", "CWMP fault");
    w.start("detail", &[]);
    w.start("cwmp:Fault", &[]);
    w.num("FaultCode", f.code.0);
    w.leaf("FaultString", &f.message);
    for p in &f.parameter_faults {
        w.start("SetParameterValuesFault", &[]);
        w.leaf("ParameterName", &p.name);
        w.num("FaultCode", p.code.0);
        w.leaf("FaultString", &p.message);
        w.end("SetParameterValuesFault");
    }
    w.end("cwmp:Fault");
    w.end("detail");
    w.end("SOAP-ENV:Fault");
}
