//! `incident X`: one card with what an on-call responder needs, from the snapshot and what is
//! held beside it (no I/O): the owner and how to reach them, who is on call now and next, the
//! blast radius (counts by team, the nearest affected services with their on-call), runbooks
//! and dashboards, recent changes, open ownership conflicts and the quarantine state, and a
//! "Page on-call" button that runs the `page-oncall` workflow.

use std::collections::BTreeMap;

use chrono::Duration;
use serde_json::{Value, json};

use super::answers::{
    Context, claim_disagreements, contact, label, note_for, oncall_for, person_name, visible,
};
use super::changes::lines as change_lines;
use super::grammar::Question;
use crate::catalog::links::{self, Group};
use crate::catalog::{Id, graph};
use crate::conversation::{Action, ActionId, Intent, Reply, Section, Style};

/// The workflow "Page on-call" runs, with `service=` the entity.
pub const PAGE_WORKFLOW: &str = "page-oncall";
/// How far back the card's changes go.
const CHANGES_SINCE: Duration = Duration::days(7);
/// Most changes, affected services and teams on the card.
const SHOWN: usize = 5;

/// People on call at a moment, as the card says them and as JSON.
fn on_call(
    ctx: &Context<'_>,
    id: Id,
    at: chrono::DateTime<chrono::Utc>,
) -> (
    Vec<String>,
    Vec<Value>,
    Option<chrono::DateTime<chrono::Utc>>,
) {
    let Some(found) = oncall_for(ctx, id, at) else {
        return (Vec::new(), Vec::new(), None);
    };
    let until = found.shifts.iter().map(|(_, s)| s.until).min();
    let lines = found
        .shifts
        .iter()
        .map(|(rot, s)| {
            format!(
                "{} ({rot}, until {})",
                person_name(ctx, s),
                s.until.with_timezone(&ctx.tz).format("%a %d %b %H:%M %Z")
            )
        })
        .collect();
    let json = found
        .shifts
        .iter()
        .map(|(rot, s)| {
            json!({"user": s.person.key(), "rotation": rot, "until": s.until.to_rfc3339(),
                   "source": found.source})
        })
        .collect();
    (lines, json, until)
}

pub fn card(ctx: &Context<'_>, q: &Question, id: Id) -> Reply {
    let snap = ctx.snap;
    let e = snap.entity(id);
    let key = e.key();
    let mut r = Reply::new(Intent::Incident, &q.query);
    r.view.headline = format!(
        "Incident card: {}{}",
        label(e),
        e.lifecycle
            .as_deref()
            .map(|l| format!(" · {l}"))
            .unwrap_or_default()
    );
    let f = &mut r.view.fields;

    // Owner, and how to reach them.
    let (owners, missing) = snap.owners(id);
    let mut owner_lines: Vec<String> = owners.iter().map(|&o| contact(snap.entity(o))).collect();
    owner_lines.extend(missing.iter().map(|m| format!("{m} (not in the catalog)")));
    f.push((
        "Owner".into(),
        if owner_lines.is_empty() {
            format!(
                "none: set `spec.owner` in {}:{}",
                e.origin.location, e.origin.line
            )
        } else {
            owner_lines.join("; ")
        },
    ));

    // On call now, and next.
    let (now_lines, now_json, until) = on_call(ctx, id, ctx.now);
    let (next_lines, next_json, _) = match until {
        Some(u) => on_call(ctx, id, u + Duration::seconds(1)),
        None => (Vec::new(), Vec::new(), None),
    };
    f.push((
        "On call now".into(),
        if now_lines.is_empty() {
            "nobody found: no rotation or PagerDuty service covers it or its team".into()
        } else {
            now_lines.join("; ")
        },
    ));
    if !next_lines.is_empty() {
        f.push(("Next".into(), next_lines.join("; ")));
    }

    // Blast radius: how many, which teams, and the nearest with their on-call.
    let walk = graph::dependents(snap, id, ctx.limit);
    let mut by_team: BTreeMap<String, usize> = BTreeMap::new();
    for h in &walk.hops {
        let (o, m) = snap.owners(h.id);
        let team = o
            .first()
            .map(|&t| snap.entity(t).name.to_string())
            .or_else(|| m.first().cloned())
            .unwrap_or_else(|| "no owner".into());
        *by_team.entry(team).or_default() += 1;
    }
    let mut teams: Vec<(String, usize)> = by_team.into_iter().collect();
    teams.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let affected = walk.hops.len() + walk.beyond;
    f.push((
        "Blast radius".into(),
        if affected == 0 {
            "nothing in the catalog depends on it".into()
        } else {
            format!(
                "{affected} entities, {} teams: {}{}",
                teams.len(),
                teams
                    .iter()
                    .take(SHOWN)
                    .map(|(t, n)| format!("{t} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if walk.beyond > 0 {
                    " (cut; `dependents` lists more)"
                } else {
                    ""
                }
            )
        },
    ));
    let mut top = Vec::new();
    let mut top_json = Vec::new();
    for h in walk.hops.iter().filter(|h| visible(ctx, h.id)).take(SHOWN) {
        let d = snap.entity(h.id);
        let (people, _, _) = on_call(ctx, h.id, ctx.now);
        let who = if people.is_empty() {
            "no on-call found".to_string()
        } else {
            format!("on call: {}", people.join("; "))
        };
        top.push(format!("{} (depth {}) — {who}", label(d), h.depth));
        top_json.push(json!({"entity": d.key(), "depth": h.depth,
            "oncall": oncall_for(ctx, h.id, ctx.now).map(|o| o.shifts.iter().map(|(_, s)| s.person.key()).collect::<Vec<_>>()).unwrap_or_default()}));
    }
    if !top.is_empty() {
        r.view
            .sections
            .push(Section::new("Nearest affected", top, SHOWN));
    }

    // Runbooks and dashboards.
    let found = links::of(e);
    let pick = |g: Group| -> Vec<&links::Found> { found.iter().filter(|l| l.group == g).collect() };
    let runbooks = pick(Group::Runbook);
    let dashboards = pick(Group::Dashboard);
    let mut help = Vec::new();
    for l in runbooks.iter().chain(&dashboards) {
        help.push(format!("{}: {}", l.title, l.url));
    }
    if runbooks.is_empty() {
        help.insert(
            0,
            format!(
                "No runbook: add a link of `type: runbook` in {}:{}",
                e.origin.location, e.origin.line
            ),
        );
    }
    r.view
        .sections
        .push(Section::new("Runbooks and dashboards", help, 10));

    // Recent changes.
    let changes = change_lines(ctx, id, (ctx.now - CHANGES_SINCE).timestamp());
    r.view.sections.push(Section::new(
        "Recent changes (7 days)",
        if changes.is_empty() {
            vec!["none recorded".into()]
        } else {
            changes.iter().map(|l| l.text.clone()).collect()
        },
        SHOWN,
    ));

    // Conflicts and quarantine.
    let mut conflicts: Vec<String> = claim_disagreements(ctx, id)
        .into_iter()
        .map(|d| format!("{} claims it ({})", d.who, d.source))
        .collect();
    conflicts.extend(snap.conflicts_for(&key).map(|c| {
        format!(
            "defined again at {}:{} (ignored)",
            c.ignored.location, c.ignored.line
        )
    }));
    if !conflicts.is_empty() {
        r.view
            .sections
            .push(Section::new("Ownership conflicts", conflicts.clone(), 5));
    }
    // `decorate` adds the quarantine warning; the card says it plainly too.
    let quarantine = if e.is_quarantined() {
        format!("quarantined: {}", e.reasons.join("; "))
    } else {
        "healthy".into()
    };
    r.view.fields.push(("Catalog entry".into(), quarantine));

    r.actions.push(Action {
        label: "Page on-call".into(),
        style: Style::Danger,
        id: ActionId::Ask(format!("run {PAGE_WORKFLOW} service={key}")),
    });
    r.actions.push(Action {
        label: "Dependents".into(),
        style: Style::Plain,
        id: ActionId::Ask(format!("dependents {key}")),
    });
    r.provenance.push(note_for("owner", e));
    r.result = json!({
        "owners": owners.iter().map(|&o| snap.entity(o).key()).chain(missing.iter().cloned()).collect::<Vec<_>>(),
        "oncall": {"now": now_json, "next": next_json},
        "blast_radius": {
            "entities": affected,
            "teams": teams.iter().map(|(t, n)| json!({"team": t, "entities": n})).collect::<Vec<_>>(),
            "nearest": top_json,
            "cut": walk.beyond > 0,
        },
        "runbooks": runbooks.iter().map(|l| json!({"title": l.title, "url": l.url, "field": l.field})).collect::<Vec<_>>(),
        "dashboards": dashboards.iter().map(|l| json!({"title": l.title, "url": l.url, "field": l.field})).collect::<Vec<_>>(),
        "changes": changes.iter().take(SHOWN).map(|l| l.json.clone()).collect::<Vec<_>>(),
        "conflicts": conflicts,
        "quarantined": e.is_quarantined(),
        "reasons": e.reasons.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "page": {"workflow": PAGE_WORKFLOW, "command": format!("run {PAGE_WORKFLOW} service={key}")},
    });
    r
}
