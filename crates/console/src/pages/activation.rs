//! The activation page (issue 14 item 3, "Activation"; SPEC R-ACT):
//! `/ui/activation` shows the activation service's bindings (by MAC or
//! serial range, and which code made each), its single-use codes with
//! their use (unused, expired, or redeemed by which device and when) and
//! its short codes. Admins create codes from a form (how many, for which
//! profile rule, valid how long), print a batch
//! (`/ui/activation/print?batch=MS`, a page without navigation) and revoke
//! an unused code (it expires at once). Help desk users see the page with
//! the codes masked (a code is a bearer secret) and no create or revoke
//! control; a forged POST gets the 403 page. Everything goes through
//! `phoneprov_activation::ActivationStore`, what the CLI and the API use.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use minijinja::context;
use minijinja::value::{Serde, Value as V};
use phoneprov_activation::{
    mask, ActivationError, ActivationStore, IssuedCode, DEFAULT_CODE_TTL, MAX_CODES_PER_CALL,
};
use phoneprov_store::now_ms;
use serde::Serialize;

use super::{post_form, redirect_signed, signed_page, Ctx, Page};
use crate::{view, Console};

/// Most codes the page lists (newest first).
const LIST: usize = 500;

/// The create form as typed (echoed back when refused).
#[derive(Debug, Default, Clone, Serialize)]
struct CodeForm {
    url: String,
    count: String,
    ttl: String,
}

#[derive(Serialize)]
struct CodeRow {
    /// The code (admins) or its mask (help desk).
    code: String,
    /// The full code, for the revoke form (admins only).
    full: Option<String>,
    url: String,
    created: String,
    expires: String,
    state: &'static str,
    used_by: Option<String>,
    used: String,
    batch: i64,
}

fn code_row(c: &IssuedCode, admin: bool, now: i64) -> CodeRow {
    CodeRow {
        code: if admin { c.code.clone() } else { mask(&c.code) },
        full: admin.then(|| c.code.clone()),
        url: c.url.clone(),
        created: view::rfc3339(Some(c.created_ms)),
        expires: view::rfc3339(Some(c.expires_ms)),
        state: match (&c.used_by, c.expires_ms <= now) {
            (Some(_), _) => "used",
            (None, true) => "expired",
            (None, false) => "unused",
        },
        used_by: c.used_by.clone(),
        used: view::rfc3339(c.used_ms),
        batch: c.created_ms,
    }
}

impl Console {
    /// Runs `f` on the activation store on the blocking pool; an error is
    /// the 500 page.
    async fn activation<T: Send + 'static>(
        &self,
        ctx: &Ctx,
        f: impl FnOnce(&mut ActivationStore) -> Result<T, ActivationError> + Send + 'static,
    ) -> Result<Result<T, ActivationError>, Response> {
        let a = self.inner.activation.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = a.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut s)
        })
        .await
        .map_err(|e| {
            self.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("activation task failed: {e}"),
                Some(ctx),
            )
        })
    }

    /// The activation page with `form` (and its refusal) at `status`.
    async fn activation_page(
        &self,
        ctx: &Ctx,
        form: CodeForm,
        error: Option<String>,
        notice: Option<String>,
        status: StatusCode,
    ) -> Page {
        let listing = self.activation(ctx, |s| s.list()).await?.map_err(|e| {
            self.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), Some(ctx))
        })?;
        let now = now_ms();
        let codes: Vec<CodeRow> = listing
            .codes
            .iter()
            .take(LIST)
            .map(|c| code_row(c, ctx.admin(), now))
            .collect();
        let count = |state: &str| codes.iter().filter(|c| c.state == state).count();
        Ok(self.show_status(
            status,
            "activation.html",
            ctx,
            context! {
                bindings => V::from(Serde(&listing.bindings.iter().map(|b| context! {
                    who => match (&b.mac, &b.serial_from, &b.serial_to) {
                        (Some(m), _, _) => m.clone(),
                        (None, Some(f), Some(t)) => format!("serials {f} to {t}"),
                        _ => String::new(),
                    },
                    mac => b.mac.clone(),
                    model => b.model.clone(),
                    url => b.url.clone(),
                    source => b.source.clone(),
                    created => view::rfc3339(Some(b.created_ms)),
                }).collect::<Vec<_>>())),
                codes => V::from(Serde(&codes)),
                total_codes => listing.codes.len(),
                unused => count("unused"),
                used => count("used"),
                expired => count("expired"),
                short_codes => V::from(Serde(&listing.short_codes)),
                form => V::from(Serde(&form)),
                error,
                notice,
                max => MAX_CODES_PER_CALL,
            },
        ))
    }
}

/// The page.
pub(super) async fn show(State(c): State<Console>, req: Request<axum::body::Body>) -> Page {
    let ctx = signed_page(&c, &req, "/ui/activation").await?;
    let notice = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<HashMap<String, String>>(q).ok())
        .and_then(|q| match q.get("done").map(String::as_str) {
            Some("codes") => Some(format!(
                "Created {} codes.",
                q.get("n").map_or("the", String::as_str)
            )),
            Some("revoked") => Some("Code revoked: it expired now.".to_string()),
            _ => None,
        });
    let form = CodeForm {
        count: "10".into(),
        ttl: "7d".into(),
        ..CodeForm::default()
    };
    c.activation_page(&ctx, form, None, notice, StatusCode::OK)
        .await
}

/// An admin's form POST, or the 403 page (nothing written).
async fn admin_form(
    c: &Console,
    req: Request<axum::body::Body>,
) -> Result<(Ctx, HashMap<String, String>), Response> {
    let (ctx, f) = post_form(c, req, 1 << 16, "/ui/activation").await?;
    c.allowed(&ctx, phoneprov_store::Action::Activation, "Only admins create or revoke activation codes; help desk users can view them. Nothing was changed.")?;
    Ok((ctx, f))
}

/// Creates codes from the form, then shows them on the page.
pub(super) async fn create_codes(State(c): State<Console>, req: Request<axum::body::Body>) -> Page {
    let (ctx, f) = admin_form(&c, req).await?;
    let field = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let form = CodeForm {
        url: field("url"),
        count: field("count"),
        ttl: field("ttl"),
    };
    let refuse = |form: CodeForm, why: String| {
        let c = c.clone();
        let ctx = &ctx;
        async move {
            c.activation_page(
                ctx,
                form,
                Some(format!("{why}. No code was created.")),
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let count = match form.count.parse::<u32>() {
        Ok(n) if (1..=MAX_CODES_PER_CALL).contains(&n) => n,
        _ => {
            let why = format!(
                "Bad number of codes {:?}: give a whole number from 1 to {MAX_CODES_PER_CALL}",
                form.count
            );
            return refuse(form, why).await;
        }
    };
    let ttl = if form.ttl.is_empty() {
        DEFAULT_CODE_TTL
    } else {
        match humantime::parse_duration(&form.ttl) {
            Ok(d) if d >= Duration::from_secs(60) => d,
            _ => {
                let why = format!(
                    "Bad validity {:?}: give a duration of a minute or more, like 7d or 12h",
                    form.ttl
                );
                return refuse(form, why).await;
            }
        }
    };
    let url = form.url.clone();
    let issued = c
        .activation(&ctx, move |s| s.issue_codes(&url, count, ttl, now_ms()))
        .await?;
    match issued {
        Ok(codes) => {
            let batch = codes.first().map_or(0, |c| c.created_ms);
            tracing::info!(user = %ctx.user, count = codes.len(), "console: activation codes created");
            redirect_signed(
                &c,
                &ctx,
                &format!(
                    "/ui/activation?done=codes&n={}&batch={batch}#codes",
                    codes.len()
                ),
            )
        }
        Err(e) => refuse(form, e.to_string().trim_end_matches('.').to_string()).await,
    }
}

/// Revokes one unused code.
pub(super) async fn revoke(
    State(c): State<Console>,
    Path(code): Path<String>,
    req: Request<axum::body::Body>,
) -> Page {
    let (ctx, _) = admin_form(&c, req).await?;
    let digits = code.clone();
    let out = c
        .activation(&ctx, move |s| s.revoke_code(&digits, now_ms()))
        .await?;
    match out {
        Ok(Some(r)) if r.used_by.is_some() => Err(c.error(
            StatusCode::CONFLICT,
            &format!(
                "Code {} was already redeemed by {}; revoking changes nothing. Remove that phone's binding instead (phoneprov activation unbind --mac {}).",
                mask(&code),
                r.used_by.as_deref().unwrap_or(""),
                r.used_by.as_deref().unwrap_or("")
            ),
            Some(&ctx),
        )),
        Ok(Some(_)) => {
            tracing::info!(user = %ctx.user, code = %mask(&code), "console: activation code revoked");
            redirect_signed(&c, &ctx, "/ui/activation?done=revoked#codes")
        }
        Ok(None) => Err(c.error(
            StatusCode::NOT_FOUND,
            &format!("No activation code {}. Nothing was changed.", mask(&code)),
            Some(&ctx),
        )),
        Err(e) => Err(c.error(StatusCode::BAD_REQUEST, &e.to_string(), Some(&ctx))),
    }
}

/// A printable list of unused codes: one batch (`?batch=MS`, the creation
/// time the page links), or every unused code. Admins only (the codes are
/// shown in full).
pub(super) async fn print(State(c): State<Console>, req: Request<axum::body::Body>) -> Page {
    let here = req
        .uri()
        .path_and_query()
        .map_or("/ui/activation/print".to_string(), |p| {
            p.as_str().to_string()
        });
    let ctx = signed_page(&c, &req, &here).await?;
    c.allowed(
        &ctx,
        phoneprov_store::Action::Activation,
        "Only admins print activation codes (they are shown in full).",
    )?;
    let q: HashMap<String, String> =
        serde_urlencoded::from_str(req.uri().query().unwrap_or("")).unwrap_or_default();
    let batch = match q.get("batch").map(|b| b.trim()).filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => Some(b.parse::<i64>().map_err(|_| {
            c.error(
                StatusCode::BAD_REQUEST,
                &format!("Bad batch {b:?}: follow the Print link of /ui/activation."),
                Some(&ctx),
            )
        })?),
    };
    let listing = c.activation(&ctx, |s| s.list()).await?.map_err(|e| {
        c.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
            Some(&ctx),
        )
    })?;
    let now = now_ms();
    let codes: Vec<CodeRow> = listing
        .codes
        .iter()
        .filter(|c| c.used_by.is_none() && c.expires_ms > now)
        .filter(|c| batch.is_none_or(|b| c.created_ms == b))
        .map(|c| code_row(c, true, now))
        .collect();
    Ok(c.show(
        "activation_print.html",
        &ctx,
        context! { codes => V::from(Serde(&codes)), batch },
    ))
}
