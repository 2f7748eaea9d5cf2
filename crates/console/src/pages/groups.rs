//! The group pages (issue 14 item 3, "Templates and groups"):
//! `/ui/groups` lists every group a device, a `group/NAME.xml.j2`
//! template or a `[firmware.groups]` target names, with its device count,
//! whether it has a template and its firmware target; the configured
//! targets per model are listed beside it. `/ui/groups/{name}` shows the
//! group's devices (linked, paged), the lint findings of each listed
//! device's rendered profile, the group's template, and the profile of
//! one chosen device (`?device=MAC`, a bookmark) as the server renders it
//! (the server's `ProfilePreview`, the device page's; the profile text
//! only for admins, as there). Firmware targets are read-only here: they
//! live in the config file (or per device, written by a staged rollout).

use axum::extract::{Path, State};
use axum::http::{Request, StatusCode};
use minijinja::context;
use minijinja::value::{Serde, Value as V};
use phoneprov_api::templates::{check_template_name, TemplateError};
use phoneprov_store::{ConsoleRepo, DeviceQuery, Mac};
use serde::Serialize;

use super::{device_row, host_of, signed_page, url_escape, Page, PAGE};
use crate::Console;

/// Most groups the list shows.
const MAX_GROUPS: usize = 2000;

#[derive(Serialize)]
struct GroupRow {
    name: String,
    devices: u64,
    template: Option<String>,
    firmware: Option<String>,
}

/// The template file of group `name`.
fn template_of(name: &str) -> String {
    format!("group/{name}.xml.j2")
}

impl Console {
    /// The names of the group templates (`group/NAME.xml.j2` → NAME);
    /// empty when the console has no template access.
    async fn group_templates(&self) -> Result<Vec<String>, TemplateError> {
        let Some(ed) = self.inner.templates.clone() else {
            return Ok(Vec::new());
        };
        let names = tokio::task::spawn_blocking(move || ed.names())
            .await
            .map_err(|e| TemplateError::Unavailable(format!("task failed: {e}")))??;
        Ok(names
            .iter()
            .filter_map(|n| n.strip_prefix("group/")?.strip_suffix(".xml.j2"))
            .map(str::to_string)
            .collect())
    }
}

/// Every group, and the firmware targets per model.
pub(super) async fn list(State(c): State<Console>, req: Request<axum::body::Body>) -> Page {
    let ctx = signed_page(&c, &req, "/ui/groups").await?;
    let counts = c
        .load(&ctx, |s| {
            s.group_counts(MAX_GROUPS).map_err(|e| e.to_string())
        })
        .await?;
    let templates = c
        .group_templates()
        .await
        .map_err(|e| c.error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string(), Some(&ctx)))?;
    let fw = c.inner.preview.firmware_targets();
    let mut rows: std::collections::BTreeMap<String, GroupRow> = Default::default();
    fn row<'a>(
        rows: &'a mut std::collections::BTreeMap<String, GroupRow>,
        name: &str,
    ) -> &'a mut GroupRow {
        rows.entry(name.to_string()).or_insert_with(|| GroupRow {
            name: name.to_string(),
            devices: 0,
            template: None,
            firmware: None,
        })
    }
    let mut ungrouped = 0;
    for (g, n) in &counts {
        match g {
            Some(g) => row(&mut rows, g).devices = *n,
            None => ungrouped = *n,
        }
    }
    for t in &templates {
        row(&mut rows, t).template = Some(template_of(t));
    }
    for t in &fw.groups {
        row(&mut rows, &t.name).firmware = Some(format!("{} ({})", t.version, t.file));
    }
    let rows: Vec<GroupRow> = rows.into_values().collect();
    Ok(c.show(
        "groups.html",
        &ctx,
        context! {
            groups => V::from(Serde(&rows)),
            ungrouped,
            models => V::from(Serde(&fw.models)),
            truncated => counts.len() >= MAX_GROUPS,
        },
    ))
}

/// The `?device=MAC&page=N` of a group page.
#[derive(Debug, Default, serde::Deserialize)]
struct GroupParams {
    #[serde(default)]
    device: String,
    #[serde(default)]
    page: String,
}

/// One group: its devices with their lint findings, its template, its
/// firmware target and one device's rendered profile.
pub(super) async fn show(
    State(c): State<Console>,
    Path(name): Path<String>,
    req: Request<axum::body::Body>,
) -> Page {
    let here = req
        .uri()
        .path_and_query()
        .map_or(format!("/ui/groups/{name}"), |p| p.as_str().to_string());
    let ctx = signed_page(&c, &req, &here).await?;
    let bad = |status, m: String| c.error(status, &m, Some(&ctx));
    if check_template_name(&template_of(&name)).is_err() {
        return Err(bad(
            StatusCode::NOT_FOUND,
            format!(
                "No group {name:?}: group names are letters, digits, '.', '_' and '-'. \
                 The groups are listed on /ui/groups."
            ),
        ));
    }
    let params = serde_urlencoded::from_str::<GroupParams>(req.uri().query().unwrap_or(""))
        .unwrap_or_default();
    let page: u64 = match params.page.trim() {
        "" => 1,
        p => p.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
            bad(
                StatusCode::BAD_REQUEST,
                format!("Bad page {p:?}: pages count from 1."),
            )
        })?,
    };
    let chosen = match params.device.trim() {
        "" => None,
        m => Some(Mac::parse(m).map_err(|e| {
            bad(
                StatusCode::BAD_REQUEST,
                format!("Bad device {m:?} to preview: {e}"),
            )
        })?),
    };
    let q = DeviceQuery {
        group: Some(name.clone()),
        limit: PAGE + 1,
        offset: (page - 1) * PAGE,
        ..DeviceQuery::default()
    };
    let (devices, total, chosen_dev) = c
        .load(&ctx, move |s| {
            let err = |e: phoneprov_store::StoreError| e.to_string();
            let devices = s.search_devices(&q).map_err(err)?;
            let total = s.count_matching(&q).map_err(err)?;
            let chosen = match chosen {
                Some(m) => Some((m, s.device(m).map_err(err)?)),
                None => None,
            };
            Ok((devices, total, chosen))
        })
        .await?;
    let fw = c.inner.preview.firmware_targets();
    let target = fw.groups.iter().find(|t| t.name == name).cloned();
    let template = match c.inner.templates.clone() {
        None => None,
        Some(ed) => {
            let t = template_of(&name);
            match tokio::task::spawn_blocking(move || ed.source(&t)).await {
                Ok(Ok(src)) => Some(src),
                Ok(Err(TemplateError::NotFound(_))) => None,
                Ok(Err(e)) => return Err(bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
                Err(e) => return Err(bad(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
            }
        }
    };
    if total == 0 && template.is_none() && target.is_none() {
        return Err(bad(
            StatusCode::NOT_FOUND,
            format!(
                "No group {name:?}: no device, group template or firmware target names it. \
                 The groups are listed on /ui/groups."
            ),
        ));
    }
    // The device to preview: the chosen one (it must be in this group),
    // else the first listed.
    let preview_dev = match chosen_dev {
        Some((m, None)) => {
            return Err(bad(
                StatusCode::NOT_FOUND,
                format!("No device {m} in the inventory; pick one of group {name}'s devices."),
            ))
        }
        Some((m, Some(d))) if d.group.as_deref() != Some(name.as_str()) => {
            return Err(bad(
                StatusCode::BAD_REQUEST,
                format!(
                    "Device {m} is not in group {name} (its group: {}); pick one of this group's devices.",
                    d.group.as_deref().unwrap_or("none")
                ),
            ))
        }
        Some((_, Some(d))) => Some(d),
        None => devices.first().cloned(),
    };
    let more = devices.len() as u64 > PAGE;
    let listed: Vec<_> = devices.into_iter().take(PAGE as usize).collect();
    // Each listed device's profile is rendered and linted (the device
    // page's renderer), and the chosen one shown.
    let host = host_of(req.headers());
    let p = c.inner.preview.clone();
    let to_render = listed.clone();
    let chosen_for_render = preview_dev.clone();
    let (lint, preview) = tokio::task::spawn_blocking(move || {
        let lint: Vec<(String, Result<usize, String>)> = to_render
            .iter()
            .map(|d| {
                (
                    d.mac.to_string(),
                    p.preview(d, &host).map(|p| p.findings.len()),
                )
            })
            .collect();
        let preview = chosen_for_render.map(|d| p.preview(&d, &host));
        (lint, preview)
    })
    .await
    .map_err(|e| bad(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    #[derive(Serialize)]
    struct Row {
        #[serde(flatten)]
        d: super::DeviceRow,
        findings: Option<usize>,
        render_error: Option<String>,
    }
    let rows: Vec<Row> = listed
        .iter()
        .zip(lint)
        .map(|(d, (_, l))| Row {
            d: device_row(d),
            findings: l.as_ref().ok().copied(),
            render_error: l.err(),
        })
        .collect();
    let with_findings = rows
        .iter()
        .filter(|r| r.findings.unwrap_or(0) > 0 || r.render_error.is_some())
        .count();
    let (p_template, p_xml, p_findings, p_error) = match preview {
        Some(Ok(p)) => (Some(p.template), Some(p.xml), p.findings, None),
        Some(Err(e)) => (None, None, Vec::new(), Some(e)),
        None => (None, None, Vec::new(), None),
    };
    let href = |page: u64| {
        let mut h = format!("/ui/groups/{}?", url_escape(&name));
        if let Some(d) = &preview_dev {
            h.push_str(&format!("device={}&", d.mac));
        }
        h.push_str(&format!("page={page}"));
        h
    };
    Ok(c.show(
        "group.html",
        &ctx,
        context! {
            name => name.clone(),
            template_name => template_of(&name),
            template => template,
            target => V::from(Serde(&target)),
            models => V::from(Serde(&fw.models)),
            total,
            rows => V::from(Serde(&rows)),
            with_findings,
            page,
            prev => (page > 1).then(|| href(page - 1)),
            next => more.then(|| href(page + 1)),
            chosen => preview_dev.as_ref().map(|d| d.mac.to_string()),
            p_template,
            p_xml => if ctx.admin() { p_xml } else { None },
            p_findings,
            p_error,
        },
    ))
}
