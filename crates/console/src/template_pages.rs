//! The template pages (issue 14 items 3 and 5a): `/ui/templates`, the
//! template tree (default → model → group → device, then the files they
//! include), and `/ui/templates/{name}`, the source with a form to change
//! it. "Preview" renders and lints every device's profile with the changed
//! template and shows the report (devices changed, parameters changed,
//! devices with new lint errors); "Save" does the same and refuses (422,
//! the failing devices named) when any device would get a lint error,
//! unless "save anyway" is ticked. The decision is
//! `phoneprov_api::templates::preview_then_save`, the API's. Help desk
//! users read templates but cannot preview or change them.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;
use minijinja::value::Serde;
use phoneprov_api::templates::{
    check_template_name, preview_then_save, ChangeReport, TemplateEditor, TemplateError,
};

use crate::pages::{post_form, redirect, redirect_signed, signed_page, Ctx, Page};
use crate::Console;

pub(crate) fn router(console: Console) -> Router {
    Router::new()
        .route("/ui/templates", get(list))
        .route("/ui/templates/{*name}", get(show).post(change))
        .with_state(console)
}

/// The tree level of a template name.
fn level(name: &str) -> (u8, &'static str) {
    match name.split('/').next() {
        _ if name == "default.xml.j2" => (0, "default"),
        Some("model") => (1, "model"),
        Some("group") => (2, "group"),
        Some("device") => (3, "device"),
        _ if name == "bootstrap.xml.j2" => (4, "bootstrap"),
        _ => (5, "included"),
    }
}

impl Console {
    fn editor(&self, ctx: &Ctx) -> Result<Arc<dyn TemplateEditor>, Response> {
        self.inner.templates.clone().ok_or_else(|| {
            self.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Templates are edited through phoneprov serve; this console has no template access.",
                Some(ctx),
            )
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, TemplateError> + Send + 'static,
    ) -> Result<T, TemplateError> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| TemplateError::Unavailable(format!("task failed: {e}")))?
    }

    fn template_error(&self, e: &TemplateError, ctx: &Ctx) -> Response {
        let status = match e {
            TemplateError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            TemplateError::NotFound(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        self.error(status, &format!("{e}. Nothing was saved."), Some(ctx))
    }
}

async fn list(State(c): State<Console>, req: Request<axum::body::Body>) -> Page {
    let ctx = signed_page(&c, &req, "/ui/templates").await?;
    let ed = c.editor(&ctx)?;
    let mut names = match c.blocking(move || ed.names()).await {
        Ok(n) => n,
        Err(e) => return Err(c.template_error(&e, &ctx)),
    };
    names.sort_by(|a, b| level(a).0.cmp(&level(b).0).then_with(|| a.cmp(b)));
    let rows: Vec<_> = names
        .iter()
        .map(|n| context! { name => n, level => level(n).1 })
        .collect();
    Ok(c.show("templates.html", &ctx, context! { templates => rows }))
}

async fn show(
    State(c): State<Console>,
    Path(name): Path<String>,
    req: Request<axum::body::Body>,
) -> Page {
    let here = format!("/ui/templates/{name}");
    let ctx = signed_page(&c, &req, &here).await?;
    if name == "new" {
        // The "new template" form: `?name=group/sales.xml.j2`.
        let q = req.uri().query().unwrap_or("");
        let wanted = serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()
            .and_then(|v| v.into_iter().find(|(k, _)| k == "name").map(|(_, v)| v))
            .unwrap_or_default();
        if let Err(e) = check_template_name(wanted.trim()) {
            return Err(c.template_error(&e, &ctx));
        }
        return Err(redirect(&format!("/ui/templates/{}", wanted.trim())));
    }
    if let Err(e) = check_template_name(&name) {
        return Err(c.template_error(&e, &ctx));
    }
    let ed = c.editor(&ctx)?;
    let n = name.clone();
    let (source, exists) = match c.blocking(move || ed.source(&n)).await {
        Ok(s) => (s, true),
        Err(TemplateError::NotFound(_)) => (String::new(), false),
        Err(e) => return Err(c.template_error(&e, &ctx)),
    };
    let saved = req.uri().query() == Some("done=saved");
    Ok(c.show(
        "template.html",
        &ctx,
        context! { name, source, exists, notice => saved.then_some("Saved; the server reloaded its templates.") },
    ))
}

async fn change(
    State(c): State<Console>,
    Path(name): Path<String>,
    req: Request<axum::body::Body>,
) -> Page {
    let here = format!("/ui/templates/{name}");
    let (ctx, f) = post_form(&c, req, 4 << 20, &here).await?;
    c.allowed(
        &ctx,
        phoneprov_store::Action::EditTemplates,
        "Only admins change templates; ask an admin. Nothing was saved.",
    )?;
    let ed = c.editor(&ctx)?;
    let source = f
        .get("source")
        .cloned()
        .unwrap_or_default()
        .replace("\r\n", "\n");
    let action = f.get("action").map(String::as_str).unwrap_or("preview");
    let remove = action == "remove";
    let dry_run = action == "preview";
    let force = f.get("force").is_some_and(|v| v == "on" || v == "true");
    let (n, src) = (name.clone(), source.clone());
    let out = c
        .blocking(move || {
            preview_then_save(&*ed, &n, (!remove).then_some(src.as_str()), dry_run, force)
        })
        .await;
    let show_report = |status, report: &ChangeReport, refused: bool| {
        c.show_status(
            status,
            "template.html",
            &ctx,
            context! {
                name => name.clone(),
                source => source.clone(),
                exists => true,
                report => Serde(report),
                refused,
                force,
            },
        )
    };
    match out {
        Err(e) => Err(c.template_error(&e, &ctx)),
        Ok(Err(report)) => {
            tracing::info!(user = %ctx.user, template = %name, devices = report.lint_errors.len(), "console: template change refused (lint errors)");
            Ok(show_report(StatusCode::UNPROCESSABLE_ENTITY, &report, true))
        }
        Ok(Ok(report)) if !report.saved => Ok(show_report(StatusCode::OK, &report, false)),
        Ok(Ok(report)) => {
            tracing::info!(user = %ctx.user, template = %name, removed = remove, devices_changed = report.devices_changed, "console: template saved");
            let to = if remove {
                "/ui/templates".to_string()
            } else {
                format!("/ui/templates/{name}?done=saved")
            };
            redirect_signed(&c, &ctx, &to)
        }
    }
}
