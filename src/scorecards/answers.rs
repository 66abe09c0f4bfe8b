//! The answers about standards: `scorecard X` (score, level, checks with their fixes),
//! `scorecard team T` (the team's entities, level counts, the fixes that would do most) and
//! `completeness` (per team, the share of production entities with an owner, a lifecycle,
//! on-call and declared dependencies). Quarantined entities are left out of the figures and
//! listed apart. Everything is read from the snapshot.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::definition::{Builtin, Scorecard};
use super::score::{Scored, fix};
use crate::ask::answers::{Context, visible};
use crate::ask::grammar::Question;
use crate::catalog::refs::{DEFAULT_NAMESPACE, EntityRef};
use crate::catalog::{Id, RelKind};
use crate::conversation::{Action, ActionId, Intent, Reply, Section, Style};
use crate::workflows::permissions::owning_groups;

/// Lines a section lists before "and N more".
const SHOWN: usize = 12;

/// `scorecard X`.
pub fn entity(ctx: &Context<'_>, q: &Question, id: Id) -> Reply {
    let snap = ctx.snap;
    let e = snap.entity(id);
    let mut r = Reply::new(Intent::Scorecard, &q.query);
    let cards: Vec<(&Scorecard, Scored)> = ctx
        .scorecards
        .iter()
        .filter(|sc| sc.filter.matches(snap, id))
        .map(|sc| (sc, sc.score(ctx, id)))
        .collect();
    if cards.is_empty() {
        r.view.headline = if ctx.scorecards.is_empty() {
            "No scorecards are defined (scorecards.path)".into()
        } else {
            format!("No scorecard is about {} ({})", e.key(), e.kind)
        };
        r.result = json!({"entity": e.key(), "scorecards": []});
        return r;
    }
    r.view.headline = cards
        .iter()
        .map(|(sc, s)| {
            format!(
                "{}: {} on {} ({}%)",
                e.name,
                sc.level_name(s.level),
                sc.title,
                s.score
            )
        })
        .collect::<Vec<_>>()
        .join(" · ");
    for (sc, s) in &cards {
        let mut lines = Vec::new();
        for o in s.outcomes.iter().filter(|o| !o.passed) {
            let c = &sc.checks[o.check];
            lines.push(format!("✗ {} — {}. Fix: {}", c.title, o.why, fix(c, e)));
        }
        for o in s.outcomes.iter().filter(|o| o.passed) {
            match &o.exempt {
                Some(x) => lines.push(format!("✓ {} — {}, {x}", sc.checks[o.check].title, o.why)),
                None => lines.push(format!("✓ {}", sc.checks[o.check].title)),
            }
        }
        r.view.sections.push(Section::new(
            format!("{} — {}, {}%", sc.title, sc.level_name(s.level), s.score),
            lines,
            SHOWN * 2,
        ));
    }
    // A "fix it" button for each workflow that fixes a failing check: what it asks for.
    let mut workflows: Vec<&str> = Vec::new();
    for (sc, s) in &cards {
        for o in s.outcomes.iter().filter(|o| !o.passed) {
            if let Some(w) = sc.checks[o.check].workflow.as_deref()
                && !workflows.contains(&w)
            {
                workflows.push(w);
            }
        }
    }
    r.actions = workflows
        .into_iter()
        .map(|w| Action {
            label: format!("Fix it: {w}"),
            style: Style::Primary,
            id: ActionId::Ask(format!("help run {w}")),
        })
        .collect();
    r.view.context.push(format!(
        "Checked against {}:{} now",
        e.origin.location, e.origin.line
    ));
    r.result = json!({
        "entity": e.key(),
        "scorecards": cards.iter().map(|(sc, s)| s.json(sc, snap)).collect::<Vec<_>>(),
    });
    r
}

/// A team named as a group (`team-a`, `group:default/team-a`).
pub(crate) fn team(ctx: &Context<'_>, name: &str) -> Option<Id> {
    let snap = ctx.snap;
    EntityRef::parse(name, Some("group"), DEFAULT_NAMESPACE)
        .ok()
        .and_then(|r| snap.get_ref(&r))
        .filter(|&g| snap.entity(g).kind_is("group"))
        .or_else(|| {
            snap.by_name(name)
                .into_iter()
                .find(|&g| snap.entity(g).kind_is("group"))
        })
}

/// The entities a team owns (itself and the groups below it), visible to the asker.
pub(crate) fn owned_by(ctx: &Context<'_>, group: Id) -> Vec<Id> {
    let snap = ctx.snap;
    let mut groups = vec![group];
    let mut i = 0;
    while i < groups.len() {
        let below: Vec<Id> = snap.entity(groups[i]).related(RelKind::ParentOf).collect();
        for g in below {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        i += 1;
    }
    let mut out: Vec<Id> = groups
        .iter()
        .flat_map(|&g| snap.entity(g).related(RelKind::OwnerOf))
        .filter(|&id| visible(ctx, id))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// One failing check across a team's entities: fixing it everywhere gains `weight`.
struct Fix {
    check: String,
    scorecard: String,
    entities: Vec<Id>,
    weight: u32,
}

/// Entities a team-wide fix names by name; the rest are counted.
const EXAMPLES: usize = 10;

/// `scorecard team T`.
pub fn team_card(ctx: &Context<'_>, q: &Question, name: &str) -> Reply {
    let snap = ctx.snap;
    let mut r = Reply::new(Intent::Scorecard, &q.query);
    let Some(group) = team(ctx, name) else {
        r.view.headline = format!("There is no team “{name}” in the catalog");
        r.result = json!({"team": null, "scorecards": []});
        return r;
    };
    let g = snap.entity(group);
    r.entity = Some(g.key());
    let owned = owned_by(ctx, group);
    let (quarantined, healthy): (Vec<Id>, Vec<Id>) = owned
        .iter()
        .partition(|&&id| snap.entity(id).is_quarantined());
    let mut results = Vec::new();
    // (fix title, scorecard) → (entities it would fix, weight gained).
    let mut fixes: BTreeMap<(String, String), Fix> = BTreeMap::new();
    for sc in ctx.scorecards {
        let scored: Vec<Scored> = healthy
            .iter()
            .filter(|&&id| sc.filter.matches(snap, id))
            .map(|&id| sc.score(ctx, id))
            .collect();
        if scored.is_empty() {
            continue;
        }
        let mut counts: Vec<(String, usize)> = std::iter::once("none".to_string())
            .chain(sc.levels.iter().map(|l| l.name.clone()))
            .map(|n| (n, 0))
            .collect();
        for s in &scored {
            counts[s.level.map_or(0, |l| l + 1)].1 += 1;
            for o in s.outcomes.iter().filter(|o| !o.passed) {
                let c = &sc.checks[o.check];
                let fix = fixes
                    .entry((c.title.clone(), sc.title.clone()))
                    .or_insert_with(|| Fix {
                        check: c.title.clone(),
                        scorecard: sc.title.clone(),
                        entities: Vec::new(),
                        weight: 0,
                    });
                fix.entities.push(s.entity);
                fix.weight += c.weight;
            }
        }
        let average = scored.iter().map(|s| s.score).sum::<u32>() / scored.len() as u32;
        r.view.fields.push((
            sc.title.clone(),
            counts
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(l, n)| format!("{n} {l}"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
        results.push(json!({
            "scorecard": sc.name,
            "entities": scored.len(),
            "average_score": average,
            "levels": counts.iter().map(|(l, n)| json!({"level": l, "entities": n})).collect::<Vec<_>>(),
            "entity_scores": scored.iter().map(|s| json!({"entity": snap.entity(s.entity).key(), "score": s.score, "level": s.level.map(|l| sc.levels[l].name.clone())})).collect::<Vec<_>>(),
        }));
    }
    // The three fixes that gain the most weight across the team's entities.
    let mut ranked: Vec<Fix> = fixes.into_values().collect();
    ranked.sort_by(|a, b| {
        (b.weight, &a.check, &a.scorecard).cmp(&(a.weight, &b.check, &b.scorecard))
    });
    ranked.truncate(3);
    r.view.headline = format!(
        "{}: {} entities scored{}",
        g.display_name(),
        healthy.len(),
        if quarantined.is_empty() {
            String::new()
        } else {
            format!(", {} quarantined apart", quarantined.len())
        }
    );
    if ctx.scorecards.is_empty() {
        r.view.headline = "No scorecards are defined (scorecards.path)".into();
    }
    let examples = |f: &Fix| -> Vec<String> {
        f.entities
            .iter()
            .take(EXAMPLES)
            .map(|&id| snap.entity(id).key())
            .collect()
    };
    r.view.sections.push(Section::new(
        "The fixes that would do most",
        ranked
            .iter()
            .map(|f| {
                format!(
                    "{} ({}): {} entities — {}",
                    f.check,
                    f.scorecard,
                    f.entities.len(),
                    examples(f).join(", ")
                        + &if f.entities.len() > EXAMPLES {
                            format!(" and {} more", f.entities.len() - EXAMPLES)
                        } else {
                            String::new()
                        }
                )
            })
            .collect(),
        3,
    ));
    if !quarantined.is_empty() {
        r.view.sections.push(Section::new(
            "Quarantined (not scored)",
            quarantined
                .iter()
                .map(|&id| {
                    let e = snap.entity(id);
                    format!("{} — {}", e.key(), e.reasons.join("; "))
                })
                .collect(),
            SHOWN,
        ));
    }
    r.result = json!({
        "team": g.key(),
        "scorecards": results,
        "top_fixes": ranked.iter().map(|f| json!({"check": f.check, "scorecard": f.scorecard, "entities": f.entities.len(), "examples": examples(f), "weight": f.weight})).collect::<Vec<_>>(),
        "quarantined": quarantined.iter().map(|&id| snap.entity(id).key()).collect::<Vec<_>>(),
    });
    r
}

/// The four facts completeness counts, each a built-in check.
const COMPLETE: [Builtin; 4] = [
    Builtin::Owner,
    Builtin::Lifecycle,
    Builtin::Oncall,
    Builtin::Dependencies,
];

/// `completeness`: per team and for the whole catalog, the share of production components
/// (what declares its dependencies and is paged for) with each fact.
pub fn completeness(ctx: &Context<'_>, q: &Question) -> Reply {
    let snap = ctx.snap;
    let mut r = Reply::new(Intent::Completeness, &q.query);
    let probe = Scorecard::of_builtins(&COMPLETE);
    // team key → [entities, with each fact…, complete]
    let mut teams: BTreeMap<String, [usize; 6]> = BTreeMap::new();
    let mut all = [0usize; 6];
    let mut quarantined = Vec::new();
    for (id, e) in snap.entities() {
        if !e.kind_is("component")
            || !e
                .lifecycle
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case("production"))
            || !visible(ctx, id)
        {
            continue;
        }
        if e.is_quarantined() {
            quarantined.push(e.key());
            continue;
        }
        let s = probe.score(ctx, id);
        let mut row = [1usize, 0, 0, 0, 0, 0];
        for (i, o) in s.outcomes.iter().enumerate() {
            row[i + 1] = usize::from(o.passed);
        }
        row[5] = usize::from(s.outcomes.iter().all(|o| o.passed));
        let owners = owning_groups(snap, id);
        let key = owners
            .first()
            .map(|&g| snap.entity(g).key())
            .unwrap_or_else(|| "(no owner)".into());
        let t = teams.entry(key).or_default();
        for i in 0..6 {
            t[i] += row[i];
            all[i] += row[i];
        }
    }
    let pct = |n: usize, of: usize| (n * 100).checked_div(of).unwrap_or(100);
    let line = |name: &str, v: &[usize; 6]| {
        format!(
            "{name}: {}% complete of {} (owner {}%, lifecycle {}%, on-call {}%, dependencies {}%)",
            pct(v[5], v[0]),
            v[0],
            pct(v[1], v[0]),
            pct(v[2], v[0]),
            pct(v[3], v[0]),
            pct(v[4], v[0])
        )
    };
    r.view.headline = format!(
        "The catalog is {}% complete: {} of {} production components have an owner, a lifecycle, on-call and declared dependencies",
        pct(all[5], all[0]),
        all[5],
        all[0]
    );
    let mut ranked: Vec<(&String, &[usize; 6])> = teams.iter().collect();
    ranked.sort_by_key(|(k, v)| (pct(v[5], v[0]), *k));
    r.view.sections.push(Section::new(
        "By team, least complete first",
        ranked.iter().map(|(k, v)| line(k, v)).collect(),
        SHOWN,
    ));
    if !quarantined.is_empty() {
        r.view.sections.push(Section::new(
            "Quarantined production entities (not counted)",
            quarantined.clone(),
            SHOWN,
        ));
    }
    let figures = |v: &[usize; 6]| {
        json!({
            "entities": v[0], "complete": v[5], "percent": pct(v[5], v[0]),
            "owner": v[1], "lifecycle": v[2], "oncall": v[3], "dependencies": v[4],
        })
    };
    r.result = json!({
        "catalog": figures(&all),
        "teams": ranked.iter().map(|(k, v)| {
            let mut f = figures(v);
            f["team"] = Value::String((*k).clone());
            f
        }).collect::<Vec<_>>(),
        "quarantined": quarantined,
    });
    r
}
