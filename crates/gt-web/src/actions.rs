//! The dashboard's actions: each a POST (cookie, CSRF token and same-origin
//! `Origin` checked; see `auth`) that makes the library call the CLI makes,
//! as `human`, then sends the browser back to the page it came from with a
//! one-line result (`?done=` or `?error=`, shown escaped).

use axum::extract::{Form, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use gt_lib::nudge::{self, Mode};
use gt_lib::sling::{self, SlingRequest};
use gt_lib::workspace::Workspace;
use gt_lib::{escalate, mail, refinery, Error};
use serde::Deserialize;

use crate::Shared;

/// Who the dashboard's actions are recorded as.
pub const ACTOR: &str = "human";

#[derive(Debug, Deserialize)]
pub struct Common {
    /// Missing is the same as wrong: refused with 403 (not the form
    /// extractor's 422).
    #[serde(default)]
    csrf: String,
    back: Option<String>,
}

/// Only a path of this server (never `//host` or a scheme) is followed.
fn safe_back(back: Option<&str>) -> &str {
    match back {
        Some(b)
            if b.starts_with('/')
                && !b.starts_with("//")
                && !b.contains('\\')
                && !b.chars().any(char::is_control) =>
        {
            b
        }
        _ => "/",
    }
}

fn back_to(back: &str, key: &str, text: &str) -> Response {
    let path = back.split('?').next().unwrap_or("/");
    let q = serde_urlencoded::to_string([(key, text)]).unwrap_or_default();
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("{path}?{q}"))],
    )
        .into_response()
}

/// Checks the CSRF token, runs the action, and answers with the redirect.
async fn act<F>(app: Shared, common: &Common, f: F) -> Response
where
    F: FnOnce(&Workspace) -> Result<String, Error> + Send + 'static,
{
    if !app.auth.csrf_ok(&common.csrf) {
        return (StatusCode::FORBIDDEN, "forbidden: bad CSRF token\n").into_response();
    }
    let back = safe_back(common.back.as_deref()).to_string();
    match app.with_ws(f).await {
        Ok(done) => back_to(&back, "done", &done),
        Err(e) => back_to(&back, "error", &e.to_string()),
    }
}

fn opt(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

#[derive(Debug, Deserialize)]
pub struct SlingForm {
    #[serde(flatten)]
    common: Common,
    work: String,
    rig: Option<String>,
    agent: Option<String>,
}

pub async fn sling(State(app): State<Shared>, Form(f): Form<SlingForm>) -> Response {
    let SlingForm {
        common,
        work,
        rig,
        agent,
    } = f;
    act(app, &common, move |ws| {
        let req = SlingRequest {
            work: vec![work],
            rig: opt(rig),
            agent: opt(agent),
            force: false,
            cwd: ws.town.root().to_path_buf(),
            dispatching: false,
            convoy: None,
            host: None,
        };
        let slung = sling::sling(ws, &req, ACTOR)?;
        Ok(slung
            .iter()
            .map(|s| {
                if s.queued {
                    format!("queued {} for rig {}", s.bead, s.rig)
                } else {
                    format!("slung {} to {}", s.bead, s.agent)
                }
            })
            .collect::<Vec<_>>()
            .join("; "))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct NudgeForm {
    #[serde(flatten)]
    common: Common,
    agent: String,
    message: String,
}

pub async fn nudge(State(app): State<Shared>, Form(f): Form<NudgeForm>) -> Response {
    let NudgeForm {
        common,
        agent,
        message,
    } = f;
    act(app, &common, move |ws| {
        let o = nudge::nudge(ws, &agent, &message, Mode::WaitIdle, ACTOR)?;
        Ok(format!("nudge {} for {}", o.status, o.agent))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    #[serde(flatten)]
    common: Common,
    id: String,
    body: String,
}

pub async fn reply(State(app): State<Shared>, Form(f): Form<ReplyForm>) -> Response {
    let ReplyForm { common, id, body } = f;
    act(app, &common, move |ws| {
        let id = mail::parse_id(&id)?;
        let m = mail::reply(ws, ACTOR, id, &body, ACTOR)?;
        Ok(format!("replied to {} (#{})", m.to.join(", "), m.id))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct IdForm {
    #[serde(flatten)]
    common: Common,
    id: String,
}

pub async fn ack(State(app): State<Shared>, Form(f): Form<IdForm>) -> Response {
    let IdForm { common, id } = f;
    act(app, &common, move |ws| {
        let e = escalate::ack(ws, &id, ACTOR)?;
        Ok(format!("acknowledged {}", e.bead))
    })
    .await
}

pub async fn retry(State(app): State<Shared>, Form(f): Form<IdForm>) -> Response {
    let IdForm { common, id } = f;
    act(app, &common, move |ws| {
        let id = mail::parse_id(&id)
            .map_err(|_| Error::invalid(format!("'{id}' is not a merge request id")))?;
        let e = refinery::retry(ws, id, ACTOR)?;
        Ok(format!("merge request {} queued again", e.mr.id))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct ResumeForm {
    #[serde(flatten)]
    common: Common,
    bead: String,
    agent: Option<String>,
}

pub async fn resume(State(app): State<Shared>, Form(f): Form<ResumeForm>) -> Response {
    let ResumeForm {
        common,
        bead,
        agent,
    } = f;
    act(app, &common, move |ws| {
        let s = sling::resume(ws, &bead, opt(agent).as_deref(), ACTOR)?;
        Ok(format!("resumed {} on {}", s.bead, s.agent))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_own_paths_are_followed_back() {
        assert_eq!(safe_back(Some("/work")), "/work");
        assert_eq!(safe_back(Some("//evil.example/")), "/");
        assert_eq!(safe_back(Some("https://evil.example/")), "/");
        assert_eq!(safe_back(Some("/\\evil")), "/");
        assert_eq!(safe_back(None), "/");
    }
}
