//! The console's rollout pages (issue 14 item 5b): the list with a form to
//! start one (`/ui/rollouts`), a rollout's page (`/ui/rollouts/{id}`: its
//! state, why it halted, devices per wave and result, the failed devices
//! with what they reported; refreshed in place like the bulk job page),
//! and its pause, resume and roll back buttons. Everything goes through
//! `phoneprov_api::rollout`, the shell the API and the CLI use; the
//! server's driver starts the waves. Help desk users see the pages; only
//! admins start, pause, resume or roll back.

use axum::extract::{Path, State};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use minijinja::value::Serde;
use minijinja::{context, Value as V};
use phoneprov_api::rollout::{self, RolloutRequest};
use phoneprov_store::{now_ms, Selection};

use super::{path_id, post_form, redirect_signed, signed_page, Ctx, Page};
use crate::{view, Console};

/// An admin's form POST, or the refusal to send.
async fn admin_form(
    c: &Console,
    req: Request<axum::body::Body>,
    here: &str,
) -> Result<(Ctx, std::collections::HashMap<String, String>), Response> {
    let (ctx, f) = post_form(c, req, 1 << 16, here).await?;
    c.allowed(&ctx, phoneprov_store::Action::Rollouts, "Rollouts are started, paused, resumed and rolled back by admins; help desk users can watch them.")?;
    Ok((ctx, f))
}

/// The rollouts, newest first, and the start form.
pub(super) async fn list(State(c): State<Console>, req: Request<axum::body::Body>) -> Page {
    let ctx = signed_page(&c, &req, "/ui/rollouts").await?;
    match c
        .store(|s| s.rollouts(100).map_err(|e| e.to_string()))
        .await
    {
        Ok(list) => Ok(c.show(
            "rollouts.html",
            &ctx,
            context! { rollouts => V::from(Serde(&list)) },
        )),
        Err(e) => Err(c.error(StatusCode::INTERNAL_SERVER_ERROR, &e, Some(&ctx))),
    }
}

/// Starts a rollout from the form; shows its page.
pub(super) async fn start(State(c): State<Console>, req: Request<axum::body::Body>) -> Page {
    let (ctx, f) = admin_form(&c, req, "/ui/rollouts").await?;
    let field = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let bad = |m: String| {
        c.error(
            StatusCode::BAD_REQUEST,
            &format!("Rollout not started: {m}. Nothing was changed."),
            Some(&ctx),
        )
    };
    let macs: Vec<String> = field("macs")
        .split([',', ' ', '\n', '\r'])
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect();
    let selection = Selection {
        group: field("group"),
        model: field("model"),
        macs,
        all: field("all") == "on",
        ..Selection::default()
    };
    let waves = match field("waves")
        .split(',')
        .map(|w| w.trim().parse::<u32>())
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(w) => w,
        Err(_) => {
            return Err(bad(format!(
                "waves {:?} are not percents like 1,10,50,100",
                field("waves")
            )))
        }
    };
    let num = |k: &str| -> Result<u32, String> {
        field(k)
            .parse()
            .map_err(|_| format!("{k} {:?} is not a whole number", field(k)))
    };
    let (threshold, rate) = match (num("threshold"), num("rate")) {
        (Ok(t), Ok(r)) => (t, r),
        (Err(e), _) | (_, Err(e)) => return Err(bad(e)),
    };
    let req = RolloutRequest {
        version: field("version"),
        file: field("file"),
        selection,
        waves: Some(waves),
        threshold_pct: Some(threshold),
        wave_timeout: Some(field("wave_timeout")),
        soak: Some(field("soak")),
        push_rate: Some(rate),
    };
    let by = format!("console:{}", ctx.user);
    match c
        .store(move |s| rollout::create(s, &req, &by).map_err(|e| e.to_string()))
        .await
    {
        Ok(r) => {
            tracing::info!(user = %ctx.user, rollout = r.id, total = r.total, "console: rollout started");
            redirect_signed(&c, &ctx, &format!("/ui/rollouts/{}", r.id))
        }
        Err(e) => Err(bad(e)),
    }
}

/// A rollout's page.
pub(super) async fn show(
    State(c): State<Console>,
    Path(id): Path<String>,
    req: Request<axum::body::Body>,
) -> Page {
    let here = format!("/ui/rollouts/{id}");
    let ctx = signed_page(&c, &req, &here).await?;
    let id = path_id(&c, &ctx, &id, "rollout")?;
    match c
        .store(move |s| rollout::status(s, id).map_err(|e| e.to_string()))
        .await
    {
        Ok(st) => Ok(c.show(
            "rollout.html",
            &ctx,
            context! {
                r => V::from(Serde(&st.rollout)),
                counts => V::from(Serde(&st.counts)),
                failed => V::from(Serde(&st.failed)),
                selection => st.rollout.selection.to_string(),
                waves => st.rollout.waves.iter().map(|w| format!("{w} %")).collect::<Vec<_>>().join(", "),
                created => view::rfc3339(Some(st.rollout.created_ms)),
            },
        )),
        Err(e) => Err(c.error(StatusCode::NOT_FOUND, &e, Some(&ctx))),
    }
}

/// Pause, resume or roll back (`op`).
pub(super) async fn act(
    State(c): State<Console>,
    Path((id, op)): Path<(i64, String)>,
    req: Request<axum::body::Body>,
) -> Page {
    let here = format!("/ui/rollouts/{id}");
    let (ctx, _) = admin_form(&c, req, &here).await?;
    let by = format!("console:{}", ctx.user);
    let op2 = op.clone();
    let done = c
        .store(move |s| {
            let r = match op2.as_str() {
                "pause" => rollout::pause(s, id).map(|_| ()),
                // A wave a resume starts is not pushed from here: its
                // phones take the target at their next resync.
                "resume" => rollout::resume(s, id, now_ms()).map(|_| ()),
                "rollback" => rollout::roll_back(s, id, &by).map(|_| ()),
                other => return Err(format!("no rollout action {other:?}")),
            };
            r.map_err(|e| e.to_string())
        })
        .await;
    match done {
        Ok(()) => {
            tracing::info!(user = %ctx.user, rollout = id, action = %op, "console: rollout action");
            redirect_signed(&c, &ctx, &here)
        }
        Err(e) => Err(c.error(StatusCode::CONFLICT, &format!("{e}."), Some(&ctx))),
    }
}
