//! What the server lends the operator's console (`phoneprov-console`,
//! mounted at `/ui/`): profile rendering with the live templates and
//! config, and the configured firmware targets. The console is opened before the server state exists, so it
//! reads the state through a cell filled once the listeners are bound (as
//! the TFTP handler does).

use std::sync::{Arc, OnceLock};

use phoneprov_console::{FirmwareRow, FirmwareTargets, Preview, ProfilePreview};
use phoneprov_store::Device;

use crate::state::AppState;

/// [`ProfilePreview`] over the server state, once it exists.
pub(crate) struct LatePreview(pub Arc<OnceLock<Arc<AppState>>>);

impl ProfilePreview for LatePreview {
    fn preview(&self, device: &Device, host: &str) -> Result<Preview, String> {
        let state = self
            .0
            .get()
            .ok_or_else(|| "the server is still starting; reload in a moment".to_string())?;
        let policy = state.policy.load();
        let templates = state.templates.load();
        // The host the phones' URLs name: `public_host`, else the one the
        // console was reached by (its port dropped), as for a phone.
        let host = crate::pipeline::url_host_of(&policy, &state.bound, Some(host));
        crate::render::preview(&state.bound, &policy, &templates, device, &host)
            .map_err(|e| e.to_string())
    }

    fn firmware_targets(&self) -> FirmwareTargets {
        let Some(state) = self.0.get() else {
            return FirmwareTargets::default();
        };
        let policy = state.policy.load();
        let rows = |m: &std::collections::BTreeMap<String, crate::config::FirmwareTarget>| {
            m.iter()
                .map(|(name, t)| FirmwareRow {
                    name: name.clone(),
                    version: t.version.clone(),
                    file: t.file.clone(),
                })
                .collect()
        };
        FirmwareTargets {
            models: rows(&policy.config.firmware.models),
            groups: rows(&policy.config.firmware.groups),
        }
    }
}
