//! The typed CWMP message model (SPEC R-TR69-2, R-TR69-3): one [`Envelope`]
//! per SOAP message, its [`Rpc`] body, and the structs TR-069 defines for
//! the RPC arguments. Values that TR-069 types as `dateTime` stay strings:
//! CPEs send them in many shapes (with or without zone, the "unknown time"
//! `0001-01-01T00:00:00Z`), and the session machines only pass them through.

use std::fmt;

use crate::fault::Fault;

/// The CWMP namespace version of an envelope (`urn:dslforum-org:cwmp-1-N`).
///
/// The ACS answers in the version the CPE used in its Inform, so a 1.0-only
/// CPE is never sent an envelope in a namespace it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CwmpVersion {
    /// `urn:dslforum-org:cwmp-1-0` (TR-069 Amendment 1; has NoMoreRequests).
    V1_0,
    /// `urn:dslforum-org:cwmp-1-1`.
    V1_1,
    /// `urn:dslforum-org:cwmp-1-2`.
    V1_2,
    /// `urn:dslforum-org:cwmp-1-3`.
    V1_3,
    /// `urn:dslforum-org:cwmp-1-4`.
    V1_4,
}

impl CwmpVersion {
    /// Every version, oldest first.
    pub const ALL: [CwmpVersion; 5] = [
        CwmpVersion::V1_0,
        CwmpVersion::V1_1,
        CwmpVersion::V1_2,
        CwmpVersion::V1_3,
        CwmpVersion::V1_4,
    ];

    /// The namespace URI of this version.
    pub fn namespace(self) -> &'static str {
        match self {
            CwmpVersion::V1_0 => "urn:dslforum-org:cwmp-1-0",
            CwmpVersion::V1_1 => "urn:dslforum-org:cwmp-1-1",
            CwmpVersion::V1_2 => "urn:dslforum-org:cwmp-1-2",
            CwmpVersion::V1_3 => "urn:dslforum-org:cwmp-1-3",
            CwmpVersion::V1_4 => "urn:dslforum-org:cwmp-1-4",
        }
    }

    /// The version whose namespace URI is `uri` (exact match, after trimming).
    pub fn from_namespace(uri: &str) -> Option<CwmpVersion> {
        CwmpVersion::ALL
            .into_iter()
            .find(|v| v.namespace() == uri.trim())
    }
}

impl fmt::Display for CwmpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.namespace()["urn:dslforum-org:cwmp-".len()..])
    }
}

/// One SOAP message: the header fields CWMP defines and the RPC in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Namespace version used for the `cwmp:` elements.
    pub version: CwmpVersion,
    /// `cwmp:ID` header (sent with `mustUnderstand="1"`): the ACS or CPE
    /// echoes the ID of a request in its response.
    pub id: Option<String>,
    /// `cwmp:HoldRequests` header (ACS → CPE only): `true` forbids the CPE
    /// to send its own requests in its next POSTs.
    pub hold_requests: Option<bool>,
    /// `cwmp:NoMoreRequests` header (CWMP 1.0 only, deprecated later): the
    /// CPE will send no more requests in this session.
    pub no_more_requests: Option<bool>,
    /// The RPC carried in the SOAP body.
    pub body: Rpc,
}

impl Envelope {
    /// An envelope with only an ID header.
    pub fn new(version: CwmpVersion, id: Option<String>, body: Rpc) -> Envelope {
        Envelope {
            version,
            id,
            hold_requests: None,
            no_more_requests: None,
            body,
        }
    }
}

/// Every CWMP RPC this crate speaks (R-TR69-2), requests and responses in
/// both directions, plus SOAP faults.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rpc {
    // ---- CPE → ACS requests and their responses ----
    /// Opens every session.
    Inform(Inform),
    /// `MaxEnvelopes` is how many envelopes the ACS accepts per HTTP POST
    /// (TR-069 requires 1).
    InformResponse {
        max_envelopes: u32,
    },
    /// Result of a Download started in an earlier session.
    TransferComplete(TransferComplete),
    TransferCompleteResponse,
    // ---- both directions ----
    GetRPCMethods,
    GetRPCMethodsResponse(Vec<String>),
    // ---- ACS → CPE requests and their responses ----
    SetParameterValues {
        list: Vec<ParameterValue>,
        parameter_key: String,
    },
    /// Status 0: applied; 1: applied, takes effect after a reboot.
    SetParameterValuesResponse {
        status: u8,
    },
    GetParameterValues {
        names: Vec<String>,
    },
    GetParameterValuesResponse(Vec<ParameterValue>),
    GetParameterNames {
        path: String,
        next_level: bool,
    },
    GetParameterNamesResponse(Vec<ParameterInfo>),
    SetParameterAttributes(Vec<SetParameterAttribute>),
    SetParameterAttributesResponse,
    GetParameterAttributes {
        names: Vec<String>,
    },
    GetParameterAttributesResponse(Vec<ParameterAttribute>),
    AddObject {
        object_name: String,
        parameter_key: String,
    },
    AddObjectResponse {
        instance_number: u32,
        status: u8,
    },
    DeleteObject {
        object_name: String,
        parameter_key: String,
    },
    DeleteObjectResponse {
        status: u8,
    },
    Reboot {
        command_key: String,
    },
    RebootResponse,
    FactoryReset,
    FactoryResetResponse,
    Download(Download),
    /// Status 0: downloaded and applied; 1: not finished yet (a
    /// TransferComplete follows in a later session).
    DownloadResponse {
        status: u8,
        start_time: String,
        complete_time: String,
    },
    /// A SOAP fault carrying a CWMP fault (8000–8005 from the ACS,
    /// 9000–9019 from the CPE).
    Fault(Fault),
    /// An RPC this crate does not know (e.g. `Upload`, `ScheduleInform`),
    /// kept so the receiver can answer "method not supported" (8000/9000)
    /// with the right `cwmp:ID`.
    Unknown {
        method: String,
    },
}

impl Rpc {
    /// The element name of this RPC in the SOAP body (`Fault` for faults).
    pub fn method_name(&self) -> &str {
        match self {
            Rpc::Inform(_) => "Inform",
            Rpc::InformResponse { .. } => "InformResponse",
            Rpc::TransferComplete(_) => "TransferComplete",
            Rpc::TransferCompleteResponse => "TransferCompleteResponse",
            Rpc::GetRPCMethods => "GetRPCMethods",
            Rpc::GetRPCMethodsResponse(_) => "GetRPCMethodsResponse",
            Rpc::SetParameterValues { .. } => "SetParameterValues",
            Rpc::SetParameterValuesResponse { .. } => "SetParameterValuesResponse",
            Rpc::GetParameterValues { .. } => "GetParameterValues",
            Rpc::GetParameterValuesResponse(_) => "GetParameterValuesResponse",
            Rpc::GetParameterNames { .. } => "GetParameterNames",
            Rpc::GetParameterNamesResponse(_) => "GetParameterNamesResponse",
            Rpc::SetParameterAttributes(_) => "SetParameterAttributes",
            Rpc::SetParameterAttributesResponse => "SetParameterAttributesResponse",
            Rpc::GetParameterAttributes { .. } => "GetParameterAttributes",
            Rpc::GetParameterAttributesResponse(_) => "GetParameterAttributesResponse",
            Rpc::AddObject { .. } => "AddObject",
            Rpc::AddObjectResponse { .. } => "AddObjectResponse",
            Rpc::DeleteObject { .. } => "DeleteObject",
            Rpc::DeleteObjectResponse { .. } => "DeleteObjectResponse",
            Rpc::Reboot { .. } => "Reboot",
            Rpc::RebootResponse => "RebootResponse",
            Rpc::FactoryReset => "FactoryReset",
            Rpc::FactoryResetResponse => "FactoryResetResponse",
            Rpc::Download(_) => "Download",
            Rpc::DownloadResponse { .. } => "DownloadResponse",
            Rpc::Fault(_) => "Fault",
            Rpc::Unknown { method } => method,
        }
    }

    /// True for responses (including faults), false for requests.
    pub fn is_response(&self) -> bool {
        matches!(self, Rpc::Fault(_)) || self.method_name().ends_with("Response")
    }

    /// The response method name that answers this request
    /// (`Some("InformResponse")` for Inform), `None` for responses.
    pub fn response_name(&self) -> Option<String> {
        (!self.is_response() && !matches!(self, Rpc::Unknown { .. }))
            .then(|| format!("{}Response", self.method_name()))
    }
}

/// The RPC methods a CPE built on [`crate::CpeSession`] supports, as
/// reported in its GetRPCMethodsResponse.
pub const CPE_METHODS: [&str; 11] = [
    "GetRPCMethods",
    "SetParameterValues",
    "GetParameterValues",
    "GetParameterNames",
    "SetParameterAttributes",
    "GetParameterAttributes",
    "AddObject",
    "DeleteObject",
    "Reboot",
    "FactoryReset",
    "Download",
];

/// The RPC methods an ACS built on [`crate::AcsSession`] supports.
pub const ACS_METHODS: [&str; 3] = ["Inform", "GetRPCMethods", "TransferComplete"];

/// `DeviceId` of an Inform: who the CPE is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DeviceId {
    /// e.g. `Cisco`.
    pub manufacturer: String,
    /// IEEE OUI in 6 hex digits, e.g. `000E08`.
    pub oui: String,
    /// e.g. `CP-8841-3PCC`.
    pub product_class: String,
    /// e.g. the MAC address or serial number.
    pub serial_number: String,
}

impl DeviceId {
    /// The `OUI-ProductClass-SerialNumber` key ACSes conventionally use
    /// to name a device (GenieACS style).
    pub fn key(&self) -> String {
        format!("{}-{}-{}", self.oui, self.product_class, self.serial_number)
    }
}

/// An Inform event code (R-TR69-3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventCode {
    /// `0 BOOTSTRAP`: first contact with this ACS (or after factory reset).
    Bootstrap,
    /// `1 BOOT`: the CPE restarted.
    Boot,
    /// `2 PERIODIC`: periodic inform interval elapsed.
    Periodic,
    /// `3 SCHEDULED`.
    Scheduled,
    /// `4 VALUE CHANGE`: a parameter with notification on changed.
    ValueChange,
    /// `6 CONNECTION REQUEST`: the ACS asked the CPE to connect.
    ConnectionRequest,
    /// `7 TRANSFER COMPLETE`: a TransferComplete is pending.
    TransferComplete,
    /// `M Reboot`: the reboot was caused by the Reboot RPC (CommandKey set).
    MReboot,
    /// `M Download`: the transfer was caused by the Download RPC.
    MDownload,
    /// Any other code, kept verbatim (e.g. `8 DIAGNOSTICS COMPLETE`).
    Other(String),
}

impl EventCode {
    /// Codes with a dedicated variant, for iteration in tests.
    pub const KNOWN: [EventCode; 9] = [
        EventCode::Bootstrap,
        EventCode::Boot,
        EventCode::Periodic,
        EventCode::Scheduled,
        EventCode::ValueChange,
        EventCode::ConnectionRequest,
        EventCode::TransferComplete,
        EventCode::MReboot,
        EventCode::MDownload,
    ];

    /// The wire form, e.g. `0 BOOTSTRAP`.
    pub fn as_str(&self) -> &str {
        match self {
            EventCode::Bootstrap => "0 BOOTSTRAP",
            EventCode::Boot => "1 BOOT",
            EventCode::Periodic => "2 PERIODIC",
            EventCode::Scheduled => "3 SCHEDULED",
            EventCode::ValueChange => "4 VALUE CHANGE",
            EventCode::ConnectionRequest => "6 CONNECTION REQUEST",
            EventCode::TransferComplete => "7 TRANSFER COMPLETE",
            EventCode::MReboot => "M Reboot",
            EventCode::MDownload => "M Download",
            EventCode::Other(s) => s,
        }
    }

    /// Parses the wire form; case and inner spacing of known codes are
    /// forgiven (`1  boot` is `1 BOOT`), unknown codes are kept trimmed.
    pub fn parse(s: &str) -> EventCode {
        let norm = s.split_whitespace().collect::<Vec<_>>().join(" ");
        EventCode::KNOWN
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(&norm))
            .unwrap_or(EventCode::Other(norm))
    }
}

impl fmt::Display for EventCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `EventStruct` of an Inform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    /// The event code.
    pub code: EventCode,
    /// The CommandKey of the RPC that caused `M …` events; empty otherwise.
    pub command_key: String,
}

impl Event {
    /// An event without a CommandKey.
    pub fn new(code: EventCode) -> Event {
        Event {
            code,
            command_key: String::new(),
        }
    }
}

/// The Inform request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inform {
    /// Who the CPE is.
    pub device_id: DeviceId,
    /// Why the CPE connects.
    pub events: Vec<Event>,
    /// Envelopes per HTTP response the CPE accepts (TR-069 requires 1).
    pub max_envelopes: u32,
    /// CPE time (`dateTime`).
    pub current_time: String,
    /// How many times this session was retried after failures.
    pub retry_count: u32,
    /// Forced inform parameters and changed values.
    pub parameters: Vec<ParameterValue>,
}

impl Inform {
    /// True if the Inform carries the event `code`.
    pub fn has_event(&self, code: &EventCode) -> bool {
        self.events.iter().any(|e| &e.code == code)
    }

    /// The value of parameter `name` in the ParameterList.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }
}

/// The XML Schema type of a parameter value (`xsi:type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum ValueType {
    /// `xsd:string` (also assumed when `xsi:type` is missing).
    #[default]
    String,
    /// `xsd:int`.
    Int,
    /// `xsd:unsignedInt`.
    UnsignedInt,
    /// `xsd:long`.
    Long,
    /// `xsd:unsignedLong`.
    UnsignedLong,
    /// `xsd:boolean` (`0`/`1`/`true`/`false`).
    Boolean,
    /// `xsd:dateTime`.
    DateTime,
    /// `xsd:base64Binary`.
    Base64,
    /// `xsd:hexBinary`.
    HexBinary,
    /// Any other type name (local part only), kept verbatim.
    Other(String),
}

impl ValueType {
    /// Types with a dedicated variant.
    pub const KNOWN: [ValueType; 9] = [
        ValueType::String,
        ValueType::Int,
        ValueType::UnsignedInt,
        ValueType::Long,
        ValueType::UnsignedLong,
        ValueType::Boolean,
        ValueType::DateTime,
        ValueType::Base64,
        ValueType::HexBinary,
    ];

    /// The local type name, e.g. `unsignedInt`.
    pub fn as_str(&self) -> &str {
        match self {
            ValueType::String => "string",
            ValueType::Int => "int",
            ValueType::UnsignedInt => "unsignedInt",
            ValueType::Long => "long",
            ValueType::UnsignedLong => "unsignedLong",
            ValueType::Boolean => "boolean",
            ValueType::DateTime => "dateTime",
            ValueType::Base64 => "base64",
            ValueType::HexBinary => "hexBinary",
            ValueType::Other(s) => s,
        }
    }

    /// Parses an `xsi:type` value, whatever its prefix (`xsd:int`, `int`).
    pub fn parse(s: &str) -> ValueType {
        let local = s.trim().rsplit(':').next().unwrap_or_default();
        if local == "base64Binary" {
            return ValueType::Base64;
        }
        ValueType::KNOWN
            .into_iter()
            .find(|k| k.as_str() == local)
            .unwrap_or_else(|| ValueType::Other(local.to_string()))
    }

    /// Whether `value` is a valid lexical form of this type. Used by
    /// [`crate::MemoryDataModel`] to answer 9007 (invalid value).
    pub fn accepts(&self, value: &str) -> bool {
        let v = value.trim();
        match self {
            ValueType::Int => v.parse::<i32>().is_ok(),
            ValueType::UnsignedInt => v.parse::<u32>().is_ok(),
            ValueType::Long => v.parse::<i64>().is_ok(),
            ValueType::UnsignedLong => v.parse::<u64>().is_ok(),
            ValueType::Boolean => matches!(v, "0" | "1" | "true" | "false"),
            ValueType::DateTime => {
                v.len() >= 19 && v.as_bytes()[4] == b'-' && v.as_bytes()[10] == b'T'
            }
            ValueType::HexBinary => {
                v.len().is_multiple_of(2) && v.bytes().all(|b| b.is_ascii_hexdigit())
            }
            ValueType::String | ValueType::Base64 | ValueType::Other(_) => true,
        }
    }
}

/// A `ParameterValueStruct`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParameterValue {
    /// Full parameter path, e.g. `Device.DeviceInfo.SoftwareVersion`.
    pub name: String,
    /// Value as written on the wire (not trimmed).
    pub value: String,
    /// `xsi:type` of the value.
    pub kind: ValueType,
}

impl ParameterValue {
    /// A parameter value of type `kind`.
    pub fn new(name: impl Into<String>, value: impl Into<String>, kind: ValueType) -> Self {
        ParameterValue {
            name: name.into(),
            value: value.into(),
            kind,
        }
    }

    /// An `xsd:string` parameter value.
    pub fn string(name: impl Into<String>, value: impl Into<String>) -> Self {
        ParameterValue::new(name, value, ValueType::String)
    }
}

/// A `ParameterInfoStruct` of GetParameterNamesResponse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParameterInfo {
    /// Parameter or object path (objects end with `.`).
    pub name: String,
    /// Whether SetParameterValues (or AddObject, for objects) is allowed.
    pub writable: bool,
}

/// A `SetParameterAttributesStruct`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SetParameterAttribute {
    /// Parameter path (or partial path ending in `.`).
    pub name: String,
    /// Whether `notification` is to be applied.
    pub notification_change: bool,
    /// 0 off, 1 passive, 2 active notification.
    pub notification: u8,
    /// Whether `access_list` is to be applied.
    pub access_list_change: bool,
    /// Entities allowed to write besides the ACS (`Subscriber`).
    pub access_list: Vec<String>,
}

/// A `ParameterAttributeStruct` of GetParameterAttributesResponse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParameterAttribute {
    /// Parameter path.
    pub name: String,
    /// 0 off, 1 passive, 2 active notification.
    pub notification: u8,
    /// Entities allowed to write besides the ACS.
    pub access_list: Vec<String>,
}

/// The `FileType` argument of Download.
///
/// TR-069 has no file type for a custom CA certificate; phoneprov uses the
/// vendor-specific form `X <OUI> <name>` that TR-069 reserves for that, with
/// Cisco's OUI `000E08` (the OUI of the SPEC's example MACs): the wire
/// string is `X 000E08 Custom CA` ([`FileType::CUSTOM_CA`]). When parsing,
/// any `X <OUI> Custom CA` is read as [`FileType::CustomCa`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FileType {
    /// `1 Firmware Upgrade Image`.
    Firmware,
    /// `2 Web Content`.
    WebContent,
    /// `3 Vendor Configuration File`.
    VendorConfig,
    /// `X 000E08 Custom CA` (see the type's doc).
    CustomCa,
    /// Another vendor-specific type `X <OUI> <name>`.
    Vendor {
        /// 6 hex digits.
        oui: String,
        /// Free-form name.
        name: String,
    },
    /// Anything else, kept verbatim (trimmed).
    Other(String),
}

impl FileType {
    /// Wire string of [`FileType::CustomCa`].
    pub const CUSTOM_CA: &'static str = "X 000E08 Custom CA";

    /// The wire form.
    pub fn to_wire(&self) -> String {
        match self {
            FileType::Firmware => "1 Firmware Upgrade Image".into(),
            FileType::WebContent => "2 Web Content".into(),
            FileType::VendorConfig => "3 Vendor Configuration File".into(),
            FileType::CustomCa => FileType::CUSTOM_CA.into(),
            FileType::Vendor { oui, name } => format!("X {oui} {name}"),
            FileType::Other(s) => s.clone(),
        }
    }

    /// Parses the wire form. Standard types are recognised by their number
    /// (CPEs and ACSes disagree on the spelling after it).
    pub fn parse(s: &str) -> FileType {
        let norm = s.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut parts = norm.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("1"), Some(_), _) => FileType::Firmware,
            (Some("2"), Some(_), _) => FileType::WebContent,
            (Some("3"), Some(_), _) => FileType::VendorConfig,
            (Some("X"), Some(oui), Some(name)) => {
                if name.eq_ignore_ascii_case("Custom CA") {
                    FileType::CustomCa
                } else {
                    FileType::Vendor {
                        oui: oui.to_string(),
                        name: name.to_string(),
                    }
                }
            }
            _ => FileType::Other(norm),
        }
    }
}

/// The Download request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Download {
    /// Echoed in TransferComplete and in the `M Download` event.
    pub command_key: String,
    /// What is downloaded.
    pub file_type: FileType,
    /// Where from (HTTP, HTTPS, FTP, TFTP URL).
    pub url: String,
    /// Credentials for the file server (empty: none).
    pub username: String,
    /// Credentials for the file server (empty: none).
    pub password: String,
    /// Size in bytes, 0 if unknown.
    pub file_size: u64,
    /// Name to store the file as (may be empty).
    pub target_file_name: String,
    /// Seconds to wait before starting.
    pub delay_seconds: u32,
    /// Browser redirect URLs (web content only; usually empty).
    pub success_url: String,
    /// Browser redirect URLs (web content only; usually empty).
    pub failure_url: String,
}

impl Default for FileType {
    /// Firmware: the most common Download.
    fn default() -> Self {
        FileType::Firmware
    }
}

/// The TransferComplete request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransferComplete {
    /// CommandKey of the Download.
    pub command_key: String,
    /// 0 on success, else a 9xxx fault code.
    pub fault_code: u32,
    /// Fault text (empty on success).
    pub fault_string: String,
    /// `dateTime` the transfer started.
    pub start_time: String,
    /// `dateTime` the transfer ended.
    pub complete_time: String,
}

/// The "unknown time" value TR-069 uses for absent dateTimes.
pub const UNKNOWN_TIME: &str = "0001-01-01T00:00:00Z";
