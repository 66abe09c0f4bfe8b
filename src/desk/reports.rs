//! "Is this wrong?": `report wrong X [owner|oncall] [what]` (and the *Wrong?* button on owner
//! and on-call answers) shows where the fact comes from with a link to edit it, records the
//! report, tells the owning team once per open fact, and the report closes by itself when the
//! fact changes (`sweep_reports`). The platform digest lists the open ones.

use anyhow::Result;
use serde_json::json;

use super::{Asked, Desk};
use crate::ask::Context;
use crate::ask::answers::resolve_visible;
use crate::ask::grammar::Question;
use crate::ask::resolve::Resolved;
use crate::bot::Bot;
use crate::catalog::{Entity, Id};
use crate::conversation::{Intent, Reply, Section};
use crate::store::Report;

/// The facts a report may be about.
const FACTS: [&str; 2] = ["owner", "oncall"];

/// The fact's value as answers give it now: the owners, or who is on call.
pub fn fact_value(ctx: &Context<'_>, id: Id, fact: &str) -> String {
    match fact {
        "oncall" => crate::ask::answers::oncall_people(ctx, id, ctx.now).join(", "),
        _ => {
            let (found, missing) = ctx.snap.owners(id);
            found
                .iter()
                .map(|&o| ctx.snap.entity(o).key())
                .chain(missing)
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// Where to change an entity's definition: Backstage's `backstage.io/edit-url`, else GitHub's
/// editor for a file read from GitHub (`owner/repo/path`).
pub fn edit_url(e: &Entity) -> Option<String> {
    if let Some(url) = e.annotation("backstage.io/edit-url") {
        return Some(url.to_string());
    }
    if &*e.origin.source != "github" {
        return None;
    }
    let mut parts = e.origin.location.splitn(3, '/');
    let (owner, repo, path) = (parts.next()?, parts.next()?, parts.next()?);
    Some(format!(
        "https://github.com/{owner}/{repo}/edit/HEAD/{path}"
    ))
}

impl Desk {
    /// `report wrong X [owner|oncall] [what is wrong]`.
    pub async fn report(&self, a: &Asked<'_>, q: &Question) -> Result<Reply> {
        let ctx = a.ctx;
        let mut r = Reply::new(Intent::Report, &q.query);
        let mut words = q.subject.split_whitespace();
        let Some(name) = words.next() else {
            r.view.headline =
                "Say what is wrong: `report wrong X owner|oncall WHAT` (X an entity).".into();
            return Ok(r);
        };
        let rest: Vec<&str> = words.collect();
        let first = rest
            .first()
            .map(|w| w.to_ascii_lowercase().replace('-', ""));
        let (fact, what) = match first {
            Some(f) if FACTS.contains(&f.as_str()) => (f, rest[1..].join(" ")),
            _ => ("owner".to_string(), rest.join(" ")),
        };
        let id = match resolve_visible(ctx, name) {
            Resolved::One { id, .. } => id,
            _ => {
                r.view.headline = format!("There is no entity “{name}” in the catalog to report.");
                r.unresolved = true;
                return Ok(r);
            }
        };
        let e = ctx.snap.entity(id);
        let key = e.key();
        let value = fact_value(ctx, id, &fact);
        // Where the fact comes from: the definition's file for an owner; the answer's
        // sources for who is on call.
        let source = if fact == "oncall" {
            let answer = crate::ask::answer(ctx, &crate::ask::parse(&format!("oncall {key}")));
            answer
                .provenance
                .iter()
                .map(|p| format!("{} {}:{}", p.source, p.location, p.line))
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            format!(
                "spec.owner in {} {}:{}",
                e.origin.source, e.origin.location, e.origin.line
            )
        };
        let edit = edit_url(e);
        let team = crate::workflows::permissions::owning_groups(ctx.snap, id)
            .first()
            .map(|&g| ctx.snap.entity(g).key());
        let report = Report {
            id: 0,
            entity: key.clone(),
            fact: fact.clone(),
            what: if what.is_empty() {
                "(no detail given)".into()
            } else {
                what.clone()
            },
            value: value.clone(),
            provenance: source.clone(),
            reported_by: a.actor_ref(),
            team: team.clone(),
            at: ctx.now.timestamp(),
            told_at: None,
            closed_at: None,
        };
        let (report_id, already) = self.store.add_report(&report).await?;
        self.store
            .audit(&a.event(
                "report.filed",
                Some(key.clone()),
                None,
                json!({"report": report_id, "fact": fact, "what": report.what, "value": value}),
            ))
            .await?;
        // The owning team hears of it once while the fact stands as reported.
        let told = match (&already, &team) {
            (None, Some(t)) => match ctx.snap.get(t) {
                Some(g) => {
                    let mut note = Reply::new(Intent::Report, &format!("report {report_id}"));
                    note.entity = Some(key.clone());
                    note.view.headline = format!(
                        "Someone says the {} of {} may be wrong: {}",
                        if fact == "oncall" { "on-call" } else { "owner" },
                        e.name,
                        report.what
                    );
                    note.view.fields = vec![
                        ("Answered".into(), value.clone()),
                        ("Comes from".into(), source.clone()),
                        ("Reported by".into(), report.reported_by.clone()),
                    ];
                    if let Some(u) = &edit {
                        note.view.fields.push(("Edit it".into(), u.clone()));
                    }
                    note.view.context.push(format!(
                        "Report {report_id}; it closes by itself when the {fact} changes."
                    ));
                    match self.tell_team(ctx.snap, g, &note, None).await {
                        Ok(t) if t.nowhere.is_none() => {
                            self.store
                                .report_told(report_id, ctx.now.timestamp())
                                .await?;
                            true
                        }
                        Ok(t) => {
                            tracing::info!(
                                report = report_id,
                                "the team could not be told: {:?}",
                                t.nowhere
                            );
                            false
                        }
                        Err(e) => {
                            tracing::warn!(report = report_id, "cannot tell the team: {e:#}");
                            false
                        }
                    }
                }
                None => false,
            },
            _ => false,
        };
        r.entity = Some(key.clone());
        r.view.headline = format!(
            "Thanks — recorded as report {report_id}. The {} of {} comes from {source}.",
            if fact == "oncall" { "on-call" } else { "owner" },
            e.name
        );
        let mut lines = vec![format!(
            "Answered: {}",
            if value.is_empty() { "nobody" } else { &value }
        )];
        if let Some(u) = &edit {
            lines.push(format!("Edit it: {u}"));
        }
        lines.push(match (&already, &team, told) {
            (Some(first), _, _) => format!("Its team already knows (report {first} is open)."),
            (None, Some(t), true) => format!("{t} was told."),
            (None, Some(t), false) => {
                format!("{t} could not be told (no channel, no tech lead reachable).")
            }
            (None, None, _) => "It has no owning team to tell.".into(),
        });
        r.view.sections.push(Section::new("", lines, 5));
        r.result = json!({
            "report": report_id, "entity": key, "fact": fact, "what": report.what,
            "value": value, "source": source, "edit_url": edit, "team": team,
            "team_told": told, "already_open": already,
        });
        Ok(r)
    }

    /// Closes the open reports whose fact changed since they were filed; says how many.
    pub async fn sweep_reports(&self, bot: &Bot) -> Result<u64> {
        let open = self.store.open_reports().await?;
        if open.is_empty() {
            return Ok(0);
        }
        let changed: Vec<(String, String)> = bot.as_itself(|ctx| {
            open.iter()
                .filter(|r| match ctx.snap.get(&r.entity) {
                    Some(id) => fact_value(ctx, id, &r.fact) != r.value,
                    None => true,
                })
                .map(|r| (r.entity.clone(), r.fact.clone()))
                .collect()
        });
        let mut closed = 0;
        for (entity, fact) in changed {
            closed += self
                .store
                .close_reports(&entity, &fact, bot.now().timestamp())
                .await?;
        }
        Ok(closed)
    }
}
