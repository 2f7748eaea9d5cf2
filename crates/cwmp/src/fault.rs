//! CWMP faults (TR-069 A.5): ACS fault codes 8000–8005, CPE fault codes
//! 9000–9019, and the per-parameter `SetParameterValuesFault` details.

use std::fmt;

/// A CWMP fault code. Kept as a number so vendor codes (9800–9899) and
/// future codes survive a round trip; the constants name the standard ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FaultCode(pub u32);

#[allow(missing_docs)]
impl FaultCode {
    // ACS faults (sent by the ACS to the CPE).
    pub const ACS_METHOD_NOT_SUPPORTED: FaultCode = FaultCode(8000);
    pub const ACS_REQUEST_DENIED: FaultCode = FaultCode(8001);
    pub const ACS_INTERNAL_ERROR: FaultCode = FaultCode(8002);
    pub const ACS_INVALID_ARGUMENTS: FaultCode = FaultCode(8003);
    pub const ACS_RESOURCES_EXCEEDED: FaultCode = FaultCode(8004);
    pub const ACS_RETRY_REQUEST: FaultCode = FaultCode(8005);
    // CPE faults (sent by the CPE to the ACS).
    pub const METHOD_NOT_SUPPORTED: FaultCode = FaultCode(9000);
    pub const REQUEST_DENIED: FaultCode = FaultCode(9001);
    pub const INTERNAL_ERROR: FaultCode = FaultCode(9002);
    pub const INVALID_ARGUMENTS: FaultCode = FaultCode(9003);
    pub const RESOURCES_EXCEEDED: FaultCode = FaultCode(9004);
    pub const INVALID_PARAMETER_NAME: FaultCode = FaultCode(9005);
    pub const INVALID_PARAMETER_TYPE: FaultCode = FaultCode(9006);
    pub const INVALID_PARAMETER_VALUE: FaultCode = FaultCode(9007);
    pub const NON_WRITABLE_PARAMETER: FaultCode = FaultCode(9008);
    pub const NOTIFICATION_REJECTED: FaultCode = FaultCode(9009);
    pub const DOWNLOAD_FAILURE: FaultCode = FaultCode(9010);
    pub const UPLOAD_FAILURE: FaultCode = FaultCode(9011);
    pub const TRANSFER_AUTH_FAILURE: FaultCode = FaultCode(9012);
    pub const UNSUPPORTED_TRANSFER_PROTOCOL: FaultCode = FaultCode(9013);
    pub const MULTICAST_JOIN_FAILURE: FaultCode = FaultCode(9014);
    pub const FILE_SERVER_UNREACHABLE: FaultCode = FaultCode(9015);
    pub const FILE_ACCESS_FAILURE: FaultCode = FaultCode(9016);
    pub const DOWNLOAD_INCOMPLETE: FaultCode = FaultCode(9017);
    pub const FILE_CORRUPTED: FaultCode = FaultCode(9018);
    pub const FILE_AUTH_FAILURE: FaultCode = FaultCode(9019);
}

impl FaultCode {
    /// The standard description of the code (TR-069 Tables 73 and 74).
    pub fn description(self) -> &'static str {
        match self.0 {
            8000 | 9000 => "Method not supported",
            8001 | 9001 => "Request denied",
            8002 | 9002 => "Internal error",
            8003 | 9003 => "Invalid arguments",
            8004 | 9004 => "Resources exceeded",
            8005 => "Retry request",
            9005 => "Invalid parameter name",
            9006 => "Invalid parameter type",
            9007 => "Invalid parameter value",
            9008 => "Attempt to set a non-writable parameter",
            9009 => "Notification request rejected",
            9010 => "Download failure",
            9011 => "Upload failure",
            9012 => "File transfer server authentication failure",
            9013 => "Unsupported protocol for file transfer",
            9014 => "Download failure: unable to join multicast group",
            9015 => "Download failure: unable to contact file server",
            9016 => "Download failure: unable to access file",
            9017 => "Download failure: unable to complete download",
            9018 => "Download failure: file corrupted",
            9019 => "Download failure: file authentication failure",
            9800..=9899 => "Vendor defined fault",
            _ => "Unknown fault",
        }
    }

    /// The SOAP `faultcode` for this CWMP code: `Client` when the sender
    /// of the request was at fault (bad arguments), `Server` otherwise.
    pub fn soap_faultcode(self) -> &'static str {
        match self.0 {
            8003 | 9003 | 9005..=9008 => "Client",
            _ => "Server",
        }
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.description())
    }
}

/// One `SetParameterValuesFault` entry: why one parameter of a
/// SetParameterValues was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParameterFault {
    /// The parameter the ACS tried to set.
    pub name: String,
    /// 9005, 9006, 9007, 9008, …
    pub code: FaultCode,
    /// Human-readable reason.
    pub message: String,
}

/// A CWMP fault carried in a SOAP Fault's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fault {
    /// The CWMP fault code.
    pub code: FaultCode,
    /// `FaultString`.
    pub message: String,
    /// Per-parameter details (SetParameterValues only; fault 9003 then).
    pub parameter_faults: Vec<ParameterFault>,
}

impl Fault {
    /// A fault with the standard description as its message.
    pub fn new(code: FaultCode) -> Fault {
        Fault::with_message(code, code.description())
    }

    /// A fault with a specific message.
    pub fn with_message(code: FaultCode, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
            parameter_faults: Vec::new(),
        }
    }

    /// The SetParameterValues fault: 9003 carrying per-parameter details.
    pub fn set_parameter_values(parameter_faults: Vec<ParameterFault>) -> Fault {
        Fault {
            code: FaultCode::INVALID_ARGUMENTS,
            message: FaultCode::INVALID_ARGUMENTS.description().into(),
            parameter_faults,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CWMP fault {}: {}", self.code.0, self.message)?;
        for p in &self.parameter_faults {
            write!(f, "; {}: {} {}", p.name, p.code.0, p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Fault {}
