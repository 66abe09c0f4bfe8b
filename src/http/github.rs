//! `POST /github/webhook`: GitHub tells the bot what changed, so answers follow a push within a
//! second instead of waiting for the next scan.
//!
//! The `X-Hub-Signature-256` HMAC is checked (in constant time) before anything is read; a
//! forged or missing one gets 401 and changes nothing. A push to a default branch that touches
//! a catalog file, a YAML file (a Location target) or CODEOWNERS re-reads that repository only;
//! repository renamed, archived, transferred, deleted and created events are followed; a
//! deployment status that ended, a completed workflow run and a merged pull request are kept
//! for `changes X` and the incident card (once each, however often delivered). The
//! change is applied before the answer when it takes under `APPLY_WAIT` (GitHub waits 10 s),
//! else it goes on in the background. GitHub is read and the store written beside other pushes
//! and syncs; patches of the live catalog take turns (see `apply`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;
use serde_json::{Value, json};

use crate::bot::Bot;
use crate::feed::Part;
use crate::sources::github::{GitHub, SOURCE};
use crate::store::Store;

/// How long a delivery waits for its change to be applied before it is answered anyway.
const APPLY_WAIT: Duration = Duration::from_secs(8);

pub struct Webhooks {
    pub github: Arc<GitHub>,
    pub bot: Arc<Bot>,
    pub store: Store,
    /// GITHUB_WEBHOOK_SECRET.
    pub secret: Vec<u8>,
}

impl Webhooks {
    pub fn new(github: Arc<GitHub>, bot: Arc<Bot>, store: Store, secret: Vec<u8>) -> Webhooks {
        Webhooks {
            github,
            bot,
            store,
            secret,
        }
    }

    pub fn routes(self: Arc<Self>) -> Router {
        Router::new()
            .route("/github/webhook", post(receive))
            .with_state(self)
    }
}

/// Checks `sha256=<hex>` against the HMAC-SHA256 of the body, in constant time.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    header
        .and_then(|h| h.strip_prefix("sha256="))
        .is_some_and(|sig| super::hmac::matches(secret, &[body], sig))
}

/// The `X-Hub-Signature-256` GitHub sends with `body` (for tests and local tools).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", super::hmac::hex_digest(secret, &[body]))
}

/// What a delivery asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to do, and why.
    Ignore(String),
    /// Re-read this repository (by its current full name).
    Refresh(String),
    /// Orphan this repository's entities.
    Orphan(String),
    /// Keep a deploy, a merged pull request or a completed workflow run (`changes X`).
    Change(crate::changes::RepoChange),
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// Decides what a delivery means for the catalog.
pub fn plan(github: &GitHub, event: &str, payload: &Value) -> Plan {
    let Some(full) = str_at(payload, &["repository", "full_name"]) else {
        return Plan::Ignore(format!("{event} event without a repository"));
    };
    let owner = str_at(payload, &["repository", "owner", "login"])
        .or_else(|| full.split('/').next())
        .unwrap_or("");
    match event {
        "push" => {
            if !github.watches(owner) {
                return Plan::Ignore(format!("{full} is not in a watched organisation"));
            }
            let branch = str_at(payload, &["repository", "default_branch"])
                .or_else(|| str_at(payload, &["repository", "master_branch"]))
                .unwrap_or("main");
            let git_ref = payload.get("ref").and_then(Value::as_str).unwrap_or("");
            if git_ref != format!("refs/heads/{branch}") {
                return Plan::Ignore(format!("push to {git_ref}, not to {full}'s default branch"));
            }
            let commits: Vec<&Value> = payload
                .get("commits")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .chain(payload.get("head_commit").filter(|c| c.is_object()))
                .collect();
            let paths = commits.iter().flat_map(|c| {
                ["added", "modified", "removed"]
                    .into_iter()
                    .filter_map(|k| c.get(k)?.as_array())
                    .flatten()
                    .filter_map(Value::as_str)
            });
            // GitHub lists at most 20 commits in a push: a longer one may hide a change.
            let truncated = commits.len() > 20;
            if truncated || github.touches_catalog(paths) {
                Plan::Refresh(full.to_string())
            } else {
                Plan::Ignore(format!("push to {full} touches no catalog file"))
            }
        }
        "repository" => {
            let action = payload.get("action").and_then(Value::as_str).unwrap_or("");
            let watched = github.watches(owner);
            match action {
                "transferred" => {
                    if watched {
                        return Plan::Refresh(full.to_string());
                    }
                    let from = str_at(
                        payload,
                        &["changes", "owner", "from", "organization", "login"],
                    )
                    .or_else(|| str_at(payload, &["changes", "owner", "from", "user", "login"]));
                    let name = str_at(payload, &["repository", "name"]).unwrap_or("");
                    match from {
                        Some(old) if github.watches(old) => Plan::Orphan(format!("{old}/{name}")),
                        _ => Plan::Ignore(format!("{full} moved between unwatched owners")),
                    }
                }
                _ if !watched => Plan::Ignore(format!("{full} is not in a watched organisation")),
                "deleted" => Plan::Orphan(full.to_string()),
                "archived" if !github.config().include_archived => Plan::Orphan(full.to_string()),
                "renamed" | "created" | "unarchived" | "archived" | "edited" | "privatized"
                | "publicized" => Plan::Refresh(full.to_string()),
                other => Plan::Ignore(format!("repository {other} changes no catalog")),
            }
        }
        "deployment_status" | "workflow_run" | "pull_request" => {
            if !github.watches(owner) {
                return Plan::Ignore(format!("{full} is not in a watched organisation"));
            }
            match change_of(event, full, payload) {
                Ok(c) => Plan::Change(c),
                Err(why) => Plan::Ignore(why),
            }
        }
        other => Plan::Ignore(format!("{other} events are not used")),
    }
}

/// The change a deployment status, workflow run or pull request delivery tells of, or why
/// it tells of none (a deploy still in progress, a pull request closed unmerged).
pub fn change_of(event: &str, full: &str, p: &Value) -> Result<crate::changes::RepoChange, String> {
    let s = |path: &[&str]| str_at(p, path).map(str::to_string);
    let at = |path: &[&str]| {
        str_at(p, path)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
    };
    let id = |path: &[&str]| {
        path.iter().try_fold(p, |v, k| v.get(k)).and_then(|v| {
            v.as_i64()
                .map(|n| n.to_string())
                .or(v.as_str().map(str::to_string))
        })
    };
    let action = s(&["action"]).unwrap_or_default();
    // What reached the default branch is a change of the service; a branch's CI is not.
    let default_branch = s(&["repository", "default_branch"]);
    let off_default = |branch: Option<String>| match (&branch, &default_branch) {
        (Some(b), Some(d)) if b != d => Some(b.clone()),
        _ => None,
    };
    let missing = |what: &str| format!("{event} delivery without {what}");
    let change = |kind: &str, ref_id: String, title: String, who, at: i64, url, detail| {
        crate::changes::RepoChange {
            repo: full.to_lowercase(),
            kind: kind.into(),
            ref_id,
            title,
            who,
            at,
            url,
            detail,
            via: "webhook".into(),
        }
    };
    match event {
        "deployment_status" => {
            let state = s(&["deployment_status", "state"]).unwrap_or_default();
            if !["success", "failure", "error"].contains(&state.as_str()) {
                return Err(format!("deployment {state}: told when it ends"));
            }
            let env = s(&["deployment_status", "environment"])
                .or_else(|| s(&["deployment", "environment"]))
                .unwrap_or_else(|| "an environment".into());
            let what = s(&["deployment", "ref"])
                .or_else(|| s(&["deployment", "sha"]).map(|c| c.chars().take(7).collect()))
                .unwrap_or_else(|| "a deploy".into());
            let url = s(&["deployment_status", "target_url"])
                .or_else(|| s(&["deployment_status", "environment_url"]))
                .filter(|u| !u.is_empty());
            Ok(change(
                "deploy",
                format!(
                    "deployment-{}",
                    id(&["deployment", "id"]).ok_or_else(|| missing("a deployment id"))?
                ),
                format!("{what} to {env}"),
                s(&["deployment", "creator", "login"])
                    .or_else(|| s(&["deployment_status", "creator", "login"])),
                at(&["deployment_status", "created_at"]).ok_or_else(|| missing("a time"))?,
                url,
                Some(format!("{env}: {state}")),
            ))
        }
        "workflow_run" => {
            if action != "completed" {
                return Err(format!("workflow run {action}: told when it completes"));
            }
            if let Some(b) = off_default(s(&["workflow_run", "head_branch"])) {
                return Err(format!(
                    "workflow run on {b}: the default branch's are kept"
                ));
            }
            let name = s(&["workflow_run", "name"])
                .filter(|n| !n.is_empty())
                .or_else(|| s(&["workflow", "name"]))
                .or_else(|| s(&["workflow_run", "path"]))
                .unwrap_or_else(|| "workflow".into());
            let title = s(&["workflow_run", "display_title"]).unwrap_or_else(|| name.clone());
            Ok(change(
                "workflow",
                id(&["workflow_run", "id"]).ok_or_else(|| missing("a run id"))?,
                title,
                s(&["workflow_run", "triggering_actor", "login"])
                    .or_else(|| s(&["workflow_run", "actor", "login"])),
                at(&["workflow_run", "updated_at"]).ok_or_else(|| missing("a time"))?,
                s(&["workflow_run", "html_url"]),
                Some(format!(
                    "{name}: {}",
                    s(&["workflow_run", "conclusion"]).unwrap_or_else(|| "done".into())
                )),
            ))
        }
        _ => {
            let merged = p
                .pointer("/pull_request/merged")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if action != "closed" || !merged {
                return Err(format!("pull request {action}, not merged"));
            }
            if let Some(b) = off_default(s(&["pull_request", "base", "ref"])) {
                return Err(format!(
                    "pull request merged into {b}, not the default branch"
                ));
            }
            let number = id(&["pull_request", "number"]).ok_or_else(|| missing("a number"))?;
            Ok(change(
                "merge",
                number.clone(),
                format!(
                    "#{number} {}",
                    s(&["pull_request", "title"]).unwrap_or_default()
                ),
                s(&["pull_request", "merged_by", "login"])
                    .or_else(|| s(&["pull_request", "user", "login"])),
                at(&["pull_request", "merged_at"]).ok_or_else(|| missing("a merge time"))?,
                s(&["pull_request", "html_url"]),
                s(&["pull_request", "base", "ref"]).map(|b| format!("into {b}")),
            ))
        }
    }
}

fn reply(status: StatusCode, body: Value) -> (StatusCode, axum::Json<Value>) {
    (status, axum::Json(body))
}

/// Takes a delivery, and counts it by what became of it (`/metrics`).
async fn receive(
    State(hooks): State<Arc<Webhooks>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let answer = take(&hooks, &headers, &body).await;
    let outcome = match answer.0.as_u16() {
        401 => "refused",
        400 => "malformed",
        200 | 202 => answer.1["status"].as_str().unwrap_or("taken"),
        _ => "failed",
    };
    hooks.bot.metrics().webhook(SOURCE, outcome);
    answer
}

async fn take(
    hooks: &Arc<Webhooks>,
    headers: &HeaderMap,
    body: &Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    if !verify(&hooks.secret, body, header("x-hub-signature-256")) {
        tracing::warn!("GitHub webhook with a bad or missing signature refused");
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "X-Hub-Signature-256 does not match; nothing was done"}),
        );
    }
    let event = header("x-github-event").unwrap_or("").to_string();
    let Ok(payload) = serde_json::from_slice::<Value>(body) else {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "malformed GitHub payload: not JSON; nothing was done"}),
        );
    };
    if let Some(id) = header("x-github-delivery") {
        match hooks
            .store
            .claim_event(SOURCE, id, Utc::now().timestamp(), None, 0)
            .await
        {
            Ok(false) => return reply(StatusCode::OK, json!({"status": "duplicate delivery"})),
            Ok(true) => {}
            Err(e) => tracing::error!("cannot record the delivery: {e:#}"),
        }
    }
    let plan = match plan(&hooks.github, &event, &payload) {
        // Changes are kept of the catalog's repositories only.
        Plan::Change(c) if !crate::changes::in_catalog(&hooks.bot.snapshot(), &c.repo) => {
            Plan::Ignore(format!("{} holds nothing of the catalog", c.repo))
        }
        p => p,
    };
    if let Plan::Ignore(why) = &plan {
        return reply(
            StatusCode::ACCEPTED,
            json!({"status": "ignored", "reason": why}),
        );
    }
    if let Plan::Change(c) = plan {
        return match keep(hooks, c).await {
            Ok(summary) => reply(
                StatusCode::OK,
                json!({"status": "applied", "summary": summary}),
            ),
            Err(e) => {
                tracing::error!("GitHub change not kept: {e:#}");
                // Not kept: a redelivery must not be taken for a duplicate (a change is kept
                // once by its id anyway).
                if let Some(id) = header("x-github-delivery")
                    && let Err(e) = hooks.store.release_event(SOURCE, id).await
                {
                    tracing::error!("cannot give the delivery back: {e:#}");
                }
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": format!("not kept; GitHub may deliver it again: {e:#}")}),
                )
            }
        };
    }
    let task = tokio::spawn(apply(hooks.clone(), plan));
    match tokio::time::timeout(APPLY_WAIT, task).await {
        Ok(Ok(Ok(summary))) => reply(
            StatusCode::OK,
            json!({"status": "applied", "summary": summary}),
        ),
        Ok(Ok(Err(e))) => {
            tracing::error!("GitHub webhook not applied: {e:#}");
            reply(
                StatusCode::BAD_GATEWAY,
                json!({"error": format!("not applied; the next scan will catch up: {e:#}")}),
            )
        }
        Ok(Err(e)) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": format!("the change stopped: {e}")}),
        ),
        Err(_) => reply(StatusCode::ACCEPTED, json!({"status": "applying"})),
    }
}

/// Keeps a repository's change: the store first, then the changes answers read.
async fn keep(hooks: &Webhooks, c: crate::changes::RepoChange) -> anyhow::Result<String> {
    let what = format!("{} {} of {}: {}", c.kind, c.ref_id, c.repo, c.title);
    let fresh = hooks
        .store
        .add_repo_changes(std::slice::from_ref(&c))
        .await?;
    let summary = if fresh.is_empty() {
        format!("{what} (already known)")
    } else {
        format!("kept {what}")
    };
    let new = !fresh.is_empty();
    hooks.bot.add_repo_changes(fresh);
    let now = Utc::now().timestamp();
    // Kept is kept: failing to note the event for `sync status` only says so in the log.
    if let Err(e) = hooks.store.record_event(SOURCE, now, &summary).await {
        tracing::warn!("cannot note the GitHub event: {e:#}");
    }
    hooks.bot.note_event(SOURCE, now, &summary);
    let mut parts = vec![Part::Sources];
    if new {
        parts.push(Part::RepoChanges);
    }
    crate::feed::announce(&hooks.bot, &hooks.store, parts).await;
    Ok(summary)
}

/// Applies a change: the store first, then the live catalog patched from it.
///
/// GitHub is read and the store written outside the catalog's turn, so pushes to different
/// repositories (and a sync) go on side by side: the store keeps the later of two reads of a
/// repository, whichever lands last. Only the patch takes the turn; it reads the repository's
/// entities back from the store, so two patches of one repository in either order leave what
/// the store holds.
async fn apply(hooks: Arc<Webhooks>, plan: Plan) -> anyhow::Result<String> {
    let started = std::time::Instant::now();
    let (summary, changed) = match plan {
        Plan::Refresh(full) => hooks.github.refresh_repo(&full).await?,
        Plan::Orphan(full) => {
            hooks.github.orphan_repo(&full).await?;
            let what =
                format!("{full} left the catalog's organisations; its entities are orphaned");
            (what, vec![crate::sources::github::scope(&full)])
        }
        Plan::Ignore(why) => return Ok(why),
        Plan::Change(c) => return keep(&hooks, c).await,
    };
    // The SBOMs kept for the repositories read again (a repository's scope is `owner/repo/`).
    let sboms: Vec<String> = changed
        .iter()
        .map(|s| crate::compliance::github_scope(s.trim_end_matches('/')))
        .collect();
    // What the store holds now is for every replica, whatever happens here next.
    let mut parts = vec![Part::Sources];
    if !changed.is_empty() {
        let scopes = Part::Scopes {
            source: SOURCE.into(),
            scopes: changed.clone(),
        };
        parts.extend([
            scopes,
            Part::Sboms {
                scopes: sboms.clone(),
            },
        ]);
    }
    let read = started.elapsed();
    let (mut waited, mut patched) = Default::default();
    let applied = async {
        // An unchanged repository (its head already read) leaves the snapshot as it is.
        if !changed.is_empty() {
            let _turn = hooks.bot.rebuilding().await;
            waited = started.elapsed() - read;
            hooks
                .bot
                .patch_scopes(&hooks.store, SOURCE, &changed)
                .await?;
            patched = started.elapsed() - read - waited;
            // Its dependency graph may have been read again with it.
            if let Err(e) = hooks.bot.reread_sboms(&hooks.store, &sboms).await {
                tracing::warn!("SBOMs not read again: {e:#}");
            }
        }
        let now = Utc::now().timestamp();
        hooks.store.record_event(SOURCE, now, &summary).await?;
        hooks.bot.note_event(SOURCE, now, &summary);
        anyhow::Ok(())
    }
    .await;
    crate::feed::announce(&hooks.bot, &hooks.store, parts).await;
    applied?;
    // Where a push's time goes: GitHub and the store, waiting for the catalog's turn, the
    // patch, the rest.
    tracing::info!(
        read_ms = read.as_millis() as u64,
        wait_ms = waited.as_millis() as u64,
        patch_ms = patched.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "GitHub webhook applied: {summary}"
    );
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_documented_signature() {
        // From GitHub's documentation on validating webhook deliveries.
        let secret = b"It's a Secret to Everybody";
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify(secret, b"Hello, World!", Some(sig)));
        assert!(!verify(secret, b"Hello, World?", Some(sig)));
        assert!(!verify(b"another secret", b"Hello, World!", Some(sig)));
        assert!(!verify(secret, b"Hello, World!", None));
        assert!(!verify(secret, b"Hello, World!", Some("sha1=757107ea")));
        assert_eq!(sign(secret, b"Hello, World!"), sig);
    }
}
