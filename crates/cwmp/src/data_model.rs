//! The CPE's data model as seen by [`crate::CpeSession`]: the caller
//! implements [`DataModel`] (the phone simulator maps it onto its profile
//! parameters, R-TR69-4), and the session turns each ACS request into one
//! call and the result into the response or fault envelope.

use crate::fault::{Fault, FaultCode};
use crate::model::*;

/// Access to the CPE's parameters and actions. Methods return a [`Fault`]
/// (9000–9019) to refuse; the session sends it to the ACS.
///
/// Actions that TR-069 performs *after* the session (reboot, factory reset,
/// the transfer of a Download) must only be recorded here; the CPE shell
/// performs them when [`crate::CpeSession`] reports the session done.
pub trait DataModel {
    /// GetParameterValues: full names and partial paths (ending in `.`;
    /// the empty string is the whole tree). Unknown name → 9005.
    fn get_values(&mut self, names: &[String]) -> Result<Vec<ParameterValue>, Fault>;

    /// SetParameterValues, all or nothing: on any error return
    /// [`Fault::set_parameter_values`] with one entry per bad parameter
    /// (9005 unknown, 9006 wrong type, 9007 invalid value, 9008 not
    /// writable). Returns the status (0 applied, 1 after reboot).
    fn set_values(&mut self, list: &[ParameterValue], parameter_key: &str) -> Result<u8, Fault>;

    /// GetParameterNames for `path` (empty: root).
    fn get_names(&mut self, path: &str, next_level: bool) -> Result<Vec<ParameterInfo>, Fault>;

    /// GetParameterAttributes.
    fn get_attributes(&mut self, names: &[String]) -> Result<Vec<ParameterAttribute>, Fault> {
        let _ = names;
        Err(Fault::new(FaultCode::METHOD_NOT_SUPPORTED))
    }

    /// SetParameterAttributes (notification and access lists).
    fn set_attributes(&mut self, list: &[SetParameterAttribute]) -> Result<(), Fault> {
        let _ = list;
        Err(Fault::new(FaultCode::METHOD_NOT_SUPPORTED))
    }

    /// AddObject: returns (instance number, status).
    fn add_object(&mut self, object_name: &str, parameter_key: &str) -> Result<(u32, u8), Fault> {
        let _ = (object_name, parameter_key);
        Err(Fault::new(FaultCode::METHOD_NOT_SUPPORTED))
    }

    /// DeleteObject: returns the status.
    fn delete_object(&mut self, object_name: &str, parameter_key: &str) -> Result<u8, Fault> {
        let _ = (object_name, parameter_key);
        Err(Fault::new(FaultCode::METHOD_NOT_SUPPORTED))
    }

    /// Reboot: record it; reboot after the session, then inform with
    /// `1 BOOT` and `M Reboot` carrying `command_key`.
    fn reboot(&mut self, command_key: &str) -> Result<(), Fault>;

    /// FactoryReset: record it; reset after the session, then inform with
    /// `0 BOOTSTRAP`.
    fn factory_reset(&mut self) -> Result<(), Fault> {
        Err(Fault::new(FaultCode::METHOD_NOT_SUPPORTED))
    }

    /// Download: validate and record it; the transfer runs after the
    /// session and its result goes into a TransferComplete of a later
    /// session (events `7 TRANSFER COMPLETE` + `M Download`).
    fn download(&mut self, download: &Download) -> Result<DownloadAccepted, Fault> {
        let _ = download;
        Err(Fault::new(FaultCode::METHOD_NOT_SUPPORTED))
    }

    /// The methods reported in GetRPCMethodsResponse.
    fn rpc_methods(&self) -> Vec<String> {
        CPE_METHODS.iter().map(|m| m.to_string()).collect()
    }
}

/// The DownloadResponse of an accepted Download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadAccepted {
    /// 0: done and applied; 1: will complete later (TransferComplete).
    pub status: u8,
    /// Start time (`0001-01-01T00:00:00Z` when status is 1).
    pub start_time: String,
    /// Completion time (`0001-01-01T00:00:00Z` when status is 1).
    pub complete_time: String,
}

impl DownloadAccepted {
    /// Status 1: the transfer happens after the session.
    pub fn later() -> DownloadAccepted {
        DownloadAccepted {
            status: 1,
            start_time: UNKNOWN_TIME.into(),
            complete_time: UNKNOWN_TIME.into(),
        }
    }
}

/// Answers one ACS request through `model`: the response RPC or a fault.
pub(crate) fn dispatch(model: &mut dyn DataModel, rpc: Rpc) -> Rpc {
    let result = match rpc {
        Rpc::GetRPCMethods => Ok(Rpc::GetRPCMethodsResponse(model.rpc_methods())),
        Rpc::SetParameterValues {
            list,
            parameter_key,
        } => model
            .set_values(&list, &parameter_key)
            .map(|status| Rpc::SetParameterValuesResponse { status }),
        Rpc::GetParameterValues { names } => model
            .get_values(&names)
            .map(Rpc::GetParameterValuesResponse),
        Rpc::GetParameterNames { path, next_level } => model
            .get_names(&path, next_level)
            .map(Rpc::GetParameterNamesResponse),
        Rpc::SetParameterAttributes(list) => model
            .set_attributes(&list)
            .map(|()| Rpc::SetParameterAttributesResponse),
        Rpc::GetParameterAttributes { names } => model
            .get_attributes(&names)
            .map(Rpc::GetParameterAttributesResponse),
        Rpc::AddObject {
            object_name,
            parameter_key,
        } => model
            .add_object(&object_name, &parameter_key)
            .map(|(instance_number, status)| Rpc::AddObjectResponse {
                instance_number,
                status,
            }),
        Rpc::DeleteObject {
            object_name,
            parameter_key,
        } => model
            .delete_object(&object_name, &parameter_key)
            .map(|status| Rpc::DeleteObjectResponse { status }),
        Rpc::Reboot { command_key } => model.reboot(&command_key).map(|()| Rpc::RebootResponse),
        Rpc::FactoryReset => model.factory_reset().map(|()| Rpc::FactoryResetResponse),
        Rpc::Download(d) => model.download(&d).map(|a| Rpc::DownloadResponse {
            status: a.status,
            start_time: a.start_time,
            complete_time: a.complete_time,
        }),
        other => Err(Fault::with_message(
            FaultCode::METHOD_NOT_SUPPORTED,
            format!("the CPE does not support {}", other.method_name()),
        )),
    };
    result.unwrap_or_else(Rpc::Fault)
}
