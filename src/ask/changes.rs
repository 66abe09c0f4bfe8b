//! "What changed?": an entity's repository's deploys, merged pull requests and workflow runs,
//! and those of what it depends on, with what the catalog watch saw of it, newest first.
//! Read from the changes held beside the snapshot: no I/O.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::answers::{Context, label, visible};
use super::grammar::Question;
use super::time::{ago, parse_since};
use crate::catalog::{Id, RelKind, Snapshot};
use crate::changes::repo_of;
use crate::conversation::{Intent, Reply, Section};

/// How far back `changes X` looks when no `since` is given.
pub const DEFAULT_SINCE: Duration = Duration::days(7);
/// Most changes listed; the rest are counted.
const SHOWN: usize = 25;

/// One change about an entity, for a list.
#[derive(Clone, Debug)]
pub struct Line {
    pub at: i64,
    /// The entity it is about (the asked one, or one it depends on).
    pub entity: String,
    pub text: String,
    pub json: Value,
}

/// The entities whose changes count for `id`: itself, then what it depends on directly
/// (dependsOn, and the providers of the APIs it consumes).
fn scope(snap: &Snapshot, id: Id) -> Vec<Id> {
    let e = snap.entity(id);
    let mut out = vec![id];
    let mut seen: BTreeSet<Id> = [id].into();
    let deps = e.related(RelKind::DependsOn).chain(
        e.related(RelKind::ConsumesApi)
            .flat_map(|api| snap.entity(api).related(RelKind::ApiProvidedBy)),
    );
    for d in deps {
        if seen.insert(d) {
            out.push(d);
        }
    }
    out
}

/// Every change about `id` and what it depends on since `since`, newest first.
pub fn lines(ctx: &Context<'_>, id: Id, since: i64) -> Vec<Line> {
    let snap = ctx.snap;
    let mut out = Vec::new();
    let mut repos_seen = BTreeSet::new();
    for (n, eid) in scope(snap, id).into_iter().enumerate() {
        if !visible(ctx, eid) {
            continue;
        }
        let e = snap.entity(eid);
        let who_is = if n == 0 {
            e.name.to_string()
        } else {
            format!("{} (a dependency)", e.name)
        };
        if let Some(repo) = repo_of(e)
            && repos_seen.insert(repo.clone())
        {
            for c in ctx.changes.of_repo(&repo).iter().filter(|c| c.at >= since) {
                let what = match c.kind.as_str() {
                    "deploy" => "deployed",
                    "merge" => "merged",
                    "workflow" => "workflow run",
                    other => other,
                };
                let mut text = format!("{} · {who_is} · {what}: {}", ago(c.at, ctx.now), c.title);
                if let Some(d) = &c.detail {
                    text.push_str(&format!(" ({d})"));
                }
                if let Some(w) = &c.who {
                    text.push_str(&format!(" by {w}"));
                }
                if let Some(u) = &c.url {
                    text.push_str(&format!(" · {u}"));
                }
                out.push(Line {
                    at: c.at,
                    entity: e.key(),
                    text,
                    json: json!({
                        "at": DateTime::<Utc>::from_timestamp(c.at, 0).map(|t| t.to_rfc3339()),
                        "entity": e.key(), "repository": c.repo, "kind": c.kind,
                        "title": c.title, "who": c.who, "url": c.url, "detail": c.detail,
                        "source": format!("github {} ({})", c.kind, c.via),
                    }),
                });
            }
        }
        for c in ctx
            .changes
            .of_entity(&e.key())
            .iter()
            .filter(|c| c.at >= since)
        {
            let what = match (c.before.as_deref(), c.after.as_deref()) {
                (Some(b), Some(a)) => format!("{}: {b} → {a}", c.change),
                (None, Some(a)) => format!("{}: {a}", c.change),
                (Some(b), None) => format!("{}: was {b}", c.change),
                (None, None) => c.change.clone(),
            };
            out.push(Line {
                at: c.at,
                entity: e.key(),
                text: format!("{} · {who_is} · catalog: {what}", ago(c.at, ctx.now)),
                json: json!({
                    "at": DateTime::<Utc>::from_timestamp(c.at, 0).map(|t| t.to_rfc3339()),
                    "entity": e.key(), "repository": Value::Null, "kind": "catalog",
                    "title": c.change, "who": Value::Null, "url": Value::Null,
                    "detail": what, "source": format!("catalog watch ({})", c.source),
                }),
            });
        }
    }
    out.sort_by_key(|l| std::cmp::Reverse(l.at));
    out
}

/// `changes X [since 24h | since 2026-11-20]`.
pub fn changes(ctx: &Context<'_>, q: &Question, id: Id) -> Reply {
    let snap = ctx.snap;
    let e = snap.entity(id);
    let mut r = Reply::new(Intent::Changes, &q.query);
    let since = match q.at.as_deref() {
        None => ctx.now - DEFAULT_SINCE,
        Some(s) => match parse_since(s, ctx.now, ctx.tz) {
            Ok(t) => t,
            Err(why) => {
                r.view.headline = why;
                return r;
            }
        },
    };
    let found = lines(ctx, id, since.timestamp());
    let repos: Vec<String> = scope(snap, id)
        .into_iter()
        .filter(|&d| visible(ctx, d))
        .filter_map(|d| repo_of(snap.entity(d)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let since_text = since.with_timezone(&ctx.tz).format("%Y-%m-%d %H:%M %Z");
    r.view.headline = if found.is_empty() {
        format!(
            "No changes to {} or what it depends on since {since_text}",
            label(e)
        )
    } else {
        format!(
            "{} change{} to {} and what it depends on since {since_text}",
            found.len(),
            if found.len() == 1 { "" } else { "s" },
            label(e)
        )
    };
    if repos.is_empty() {
        r.warnings.push(format!(
            "{} has no known GitHub repository (a `github.com/project-slug` annotation, or a \
             definition read from GitHub), so its deploys and merges are not followed.",
            e.name
        ));
    }
    r.view.sections.push(Section::new(
        "Newest first",
        found.iter().map(|l| l.text.clone()).collect(),
        SHOWN,
    ));
    r.view
        .context
        .push("From GitHub's webhooks and scans, and the catalog watch.".into());
    r.result = json!({
        "since": since.to_rfc3339(),
        "repositories": repos,
        "changes": found.iter().map(|l| l.json.clone()).collect::<Vec<_>>(),
    });
    r
}
