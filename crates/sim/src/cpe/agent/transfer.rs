//! Downloads of one phone (R-TR69-2 Download, R-TR69-3 `7 TRANSFER
//! COMPLETE` + `M Download`): firmware through the engine's upgrade,
//! vendor configuration files through a one-shot resync, custom CA
//! certificates fetched here and installed by the engine
//! (`Input::InstallCustomCa`, a trust anchor for HTTPS and TR-069); each
//! ends in a queued TransferComplete.

use std::time::Duration;

use phoneprov_cwmp::{Download, EventCode, FaultCode, FileType, TransferComplete};
use phoneprov_httpauth::Credentials;
use phoneprov_phone::{Action, Class, Input};
use tokio::time::Instant;

use super::Agent;
use crate::cpe::http::fetch;
use crate::cpe::model::CUSTOM_CA;
use crate::cpe::now_rfc3339;
use crate::driver::Control;

/// Which engine outcome a download waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Awaited {
    Upgrade,
    Resync,
    CustomCa,
}

impl Agent {
    /// Performs one Download and queues its TransferComplete.
    pub(super) async fn download(&mut self, d: Download) {
        if d.delay_seconds > 0 {
            let wait = Duration::from_secs(u64::from(d.delay_seconds));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.shutdown.changed() => return,
            }
        }
        let start_time = now_rfc3339();
        let rule = if d.username.is_empty() {
            d.url.clone()
        } else {
            format!("[--uid {} --pwd {}]{}", d.username, d.password, d.url)
        };
        let result = match &d.file_type {
            FileType::Firmware => {
                let input = Input::UpgradeNow { url: rule };
                self.phone_job(input, Awaited::Upgrade).await
            }
            FileType::VendorConfig => {
                let input = Input::ResyncNow {
                    rule: Some(rule),
                    from_host: None,
                };
                self.phone_job(input, Awaited::Resync).await
            }
            FileType::CustomCa => self.install_ca(&d).await,
            other => Err((
                FaultCode::INVALID_ARGUMENTS,
                format!("unsupported FileType {:?}", other.to_wire()),
            )),
        };
        self.shared.stats.cwmp.transfer(result.is_ok());
        let (fault_code, fault_string) = match result {
            Ok(()) => (0, String::new()),
            Err((c, s)) => (c.0, s),
        };
        self.transfers.push(TransferComplete {
            command_key: d.command_key.clone(),
            fault_code,
            fault_string,
            start_time,
            complete_time: now_rfc3339(),
        });
        self.add_event(EventCode::TransferComplete, "").await;
        self.add_event(EventCode::MDownload, &d.command_key).await;
    }

    async fn install_ca(&mut self, d: &Download) -> Result<(), (FaultCode, String)> {
        let creds = (!d.username.is_empty()).then(|| Credentials::new(&d.username, &d.password));
        let client = self
            .acs_client()
            .map_err(|e| (FaultCode::INTERNAL_ERROR, e))?;
        let pem = fetch(&client, &d.url, creds.as_ref()).await?;
        let input = Input::InstallCustomCa {
            pem,
            source: d.url.clone(),
        };
        self.phone_job(input, Awaited::CustomCa).await?;
        self.refresh().await;
        let shown = self.custom_ca.as_ref().map(Vec::len).unwrap_or(0);
        self.model()
            .set_own(CUSTOM_CA, &format!("Installed ({shown} bytes)"));
        Ok(())
    }

    /// Feeds the engine `input` and waits for its outcome.
    async fn phone_job(
        &mut self,
        input: Input,
        awaited: Awaited,
    ) -> Result<(), (FaultCode, String)> {
        let gone = || (FaultCode::INTERNAL_ERROR, "the phone stopped".to_string());
        self.control
            .send(Control::Input(input))
            .await
            .map_err(|_| gone())?;
        let limit = self.shared.request_timeout * 4 + Duration::from_secs(10);
        let deadline = Instant::now() + limit;
        loop {
            let a = tokio::select! {
                a = self.phone_events.recv() => a.ok_or_else(gone)?,
                _ = tokio::time::sleep_until(deadline) => {
                    return Err((FaultCode::DOWNLOAD_FAILURE, format!("no result within {limit:?}")));
                }
            };
            let fail = |e: &Option<String>| {
                let why = e.clone().unwrap_or_else(|| "download failed".into());
                Some(Err((FaultCode::DOWNLOAD_FAILURE, why)))
            };
            let outcome = match (&a, awaited) {
                (Action::UpgradeFinished { ok: true, .. }, Awaited::Upgrade) => Some(Ok(())),
                (Action::UpgradeFinished { error, .. }, Awaited::Upgrade) => fail(error),
                (
                    Action::ResyncFinished {
                        class: Class::A, ..
                    },
                    Awaited::Resync,
                ) => Some(Ok(())),
                (Action::ResyncFinished { class, error }, Awaited::Resync) => fail(&Some(format!(
                    "class {class:?}: {}",
                    error.as_deref().unwrap_or("")
                ))),
                (Action::CustomCaFinished { ok: true, .. }, Awaited::CustomCa) => Some(Ok(())),
                (Action::CustomCaFinished { error, .. }, Awaited::CustomCa) => Some(Err((
                    FaultCode::FILE_CORRUPTED,
                    error.clone().unwrap_or_else(|| "custom CA refused".into()),
                ))),
                (Action::RequestRefused { reason }, _) => {
                    Some(Err((FaultCode::REQUEST_DENIED, reason.clone())))
                }
                _ => None,
            };
            self.on_phone(a).await;
            if let Some(o) = outcome {
                return o;
            }
        }
    }
}
