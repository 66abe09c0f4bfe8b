//! The weekly digests, composed from the snapshot and what the store recorded (no I/O here):
//! a team's scores and levels, what improved and what regressed since its last digest, the
//! fixes that would do most, runs awaiting approval, open conflicts and the score trend; and
//! the platform digest of the catalog's gaps. A team whose catalog did not change gets none.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::answers::team_card;
use crate::ask::Context;
use crate::ask::grammar::parse;
use crate::catalog::Id;
use crate::conversation::{Intent, Reply, Section};
use crate::store::{Change, TeamWeek};

/// What the store holds that a team's digest shows.
pub struct Recorded<'a> {
    /// The change log since the team's last digest.
    pub changes: &'a [Change],
    /// The team's weekly figures, oldest first.
    pub weeks: &'a [TeamWeek],
    /// Runs about the team's entities awaiting approval: (id, workflow, target).
    pub awaiting: &'a [(i64, String, Option<String>)],
    /// Since when (seconds), as the digest says it.
    pub since: i64,
}

/// Lines a digest's section lists before "and N more".
const SHOWN: usize = 10;

/// Whether a change made things better for the team that reads it.
fn improved(ctx: &Context<'_>, team: &str, c: &Change) -> bool {
    match c.change.as_str() {
        "added" | "released" => true,
        "removed" | "quarantined" => false,
        "owner-changed" => c.after.as_deref() == Some(team),
        "level-changed" => {
            let Some(sc) = ctx
                .scorecards
                .iter()
                .find(|s| Some(s.name.as_str()) == c.scorecard.as_deref())
            else {
                return false;
            };
            let rank = |l: &Option<String>| {
                l.as_ref().map_or(0, |n| {
                    sc.levels
                        .iter()
                        .position(|x| &x.name == n)
                        .map_or(0, |p| p + 1)
                })
            };
            rank(&c.after) > rank(&c.before)
        }
        _ => false,
    }
}

/// A change as a digest line.
pub fn line(c: &Change) -> String {
    let name = c.entity.as_str();
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    match c.change.as_str() {
        "added" => format!("{name} was added ({})", c.source),
        "removed" => format!("{name} was removed"),
        "quarantined" => format!("{name} was quarantined: {}", or_none(&c.after)),
        "released" => format!("{name} is no longer quarantined"),
        "owner-changed" => match &c.after {
            Some(to) => format!("{name} is now owned by {to} (was {})", or_none(&c.before)),
            None => format!("{name} lost its owner (was {})", or_none(&c.before)),
        },
        "level-changed" => format!(
            "{name}: {} → {} on {}",
            or_none(&c.before),
            or_none(&c.after),
            c.scorecard.as_deref().unwrap_or("?")
        ),
        other => format!("{name}: {other}"),
    }
}

/// The score trend of each scorecard, `W47 61% → W48 64%`.
pub fn trend(weeks: &[TeamWeek]) -> BTreeMap<String, Vec<(String, u32)>> {
    let mut out: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
    for w in weeks {
        out.entry(w.scorecard.clone())
            .or_default()
            .push((w.week.clone(), w.score));
    }
    out
}

/// `team`'s digest, or None when its catalog did not change.
pub fn team_digest(ctx: &Context<'_>, team: Id, period: &str, rec: &Recorded<'_>) -> Option<Reply> {
    if rec.changes.is_empty() {
        return None;
    }
    let snap = ctx.snap;
    let key = snap.entity(team).key();
    let card = team_card(ctx, &parse(&format!("scorecard team {key}")), &key);
    let mut r = Reply::new(Intent::Digest, &format!("digest {key}"));
    r.entity = Some(key.clone());
    let (better, worse): (Vec<&Change>, Vec<&Change>) =
        rec.changes.iter().partition(|c| improved(ctx, &key, c));
    let since = chrono::DateTime::from_timestamp(rec.since, 0)
        .map(|t| t.with_timezone(&ctx.tz).format("%a %d %b").to_string())
        .unwrap_or_default();
    r.view.headline = format!(
        "Weekly digest for {}: {} better, {} worse since {since}",
        snap.entity(team).display_name(),
        better.len(),
        worse.len()
    );
    r.view.fields = card.view.fields.clone();
    let trends = trend(rec.weeks);
    for (scorecard, points) in &trends {
        let title = ctx
            .scorecards
            .iter()
            .find(|s| &s.name == scorecard)
            .map_or(scorecard.as_str(), |s| s.title.as_str());
        r.view.fields.push((
            format!("{title} trend"),
            points
                .iter()
                .map(|(w, s)| format!("{} {s}%", w.rsplit('-').next().unwrap_or(w)))
                .collect::<Vec<_>>()
                .join(" → "),
        ));
    }
    let lines = |v: &[&Change]| v.iter().map(|c| line(c)).collect::<Vec<_>>();
    if !worse.is_empty() {
        r.view
            .sections
            .push(Section::new("Regressed", lines(&worse), SHOWN));
    }
    if !better.is_empty() {
        r.view
            .sections
            .push(Section::new("Improved", lines(&better), SHOWN));
    }
    if let Some(fixes) = card
        .view
        .sections
        .iter()
        .find(|s| s.title.starts_with("The fixes"))
        .filter(|s| !s.lines.is_empty())
    {
        r.view.sections.push(fixes.clone());
    }
    if !rec.awaiting.is_empty() {
        r.view.sections.push(Section::new(
            "Awaiting approval",
            rec.awaiting
                .iter()
                .map(|(id, w, t)| {
                    format!(
                        "run {id}: {w}{}",
                        t.as_ref().map(|t| format!(" on {t}")).unwrap_or_default()
                    )
                })
                .collect(),
            SHOWN,
        ));
    }
    let conflicts: Vec<String> = snap
        .conflicts
        .iter()
        .filter(|c| {
            c.ignored_owner.as_deref() == Some(key.as_str())
                || snap
                    .get(&c.key)
                    .is_some_and(|id| snap.owners(id).1.contains(&key))
        })
        .map(|c| {
            format!(
                "{}: defined at {} and at {}",
                c.key, c.kept.location, c.ignored.location
            )
        })
        .collect();
    if !conflicts.is_empty() {
        r.view
            .sections
            .push(Section::new("Open conflicts", conflicts.clone(), SHOWN));
    }
    r.view.context.push(format!(
        "Period {period}. Say `scorecard team {key}` for the whole card."
    ));
    // The trend as a small chart, one line per scorecard.
    if !trends.is_empty() {
        let series: Vec<(String, Vec<(String, u32)>)> = trends
            .iter()
            .map(|(sc, p)| (sc.clone(), p.clone()))
            .collect();
        let name = snap.entity(team).display_name().to_string();
        match crate::pictures::trend_png(&format!("{name}: average score by week"), &series) {
            Ok(png) => r.attachments.push(crate::conversation::Attachment {
                file_name: format!("{}-score-trend.png", snap.entity(team).name),
                alt: format!("{name}'s average score on each scorecard, week by week"),
                png: png.into(),
            }),
            Err(e) => tracing::warn!(team = %key, "the trend chart could not be drawn: {e:#}"),
        }
    }
    let as_json = |v: &[&Change]| v.iter().map(|c| json!(c)).collect::<Vec<Value>>();
    r.result = json!({
        "team": key,
        "period": period,
        "since": chrono::DateTime::from_timestamp(rec.since, 0).map(|t| t.to_rfc3339()),
        "improved": as_json(&better),
        "regressed": as_json(&worse),
        "scorecards": card.result["scorecards"].as_array().map(|a| a.iter().map(|s| json!({
            "scorecard": s["scorecard"], "entities": s["entities"], "average_score": s["average_score"], "levels": s["levels"],
        })).collect::<Vec<_>>()),
        "top_fixes": card.result["top_fixes"],
        "trend": trends.iter().map(|(sc, p)| json!({"scorecard": sc, "weeks": p.iter().map(|(w, s)| json!({"week": w, "score": s})).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        "awaiting_approval": rec.awaiting.iter().map(|(id, w, t)| json!({"run": id, "workflow": w, "target": t})).collect::<Vec<_>>(),
        "conflicts": conflicts,
    });
    Some(r)
}

/// The platform digest: the checks failed most across the catalog, the quarantined entities,
/// the catalog's changes since the last one, the questions that found nothing most often, and
/// the open "is this wrong?" reports.
pub fn platform_digest(
    ctx: &Context<'_>,
    period: &str,
    changes: &[Change],
    gaps: &[(String, i64)],
    reports: &[crate::store::Report],
) -> Reply {
    let snap = ctx.snap;
    let mut failed: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut quarantined = 0;
    for (id, e) in snap.entities() {
        if e.is_quarantined() {
            quarantined += 1;
            continue;
        }
        for sc in ctx
            .scorecards
            .iter()
            .filter(|sc| sc.filter.matches(snap, id))
        {
            for o in sc.score(ctx, id).outcomes.iter().filter(|o| !o.passed) {
                *failed
                    .entry((sc.title.clone(), sc.checks[o.check].title.clone()))
                    .or_default() += 1;
            }
        }
    }
    let mut ranked: Vec<((String, String), usize)> = failed.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut r = Reply::new(Intent::Digest, "digest platform");
    r.view.headline = format!(
        "Platform digest: {} catalog changes, {quarantined} entities quarantined",
        changes.len()
    );
    r.view.sections.push(Section::new(
        "Checks failed most",
        ranked
            .iter()
            .map(|((sc, c), n)| {
                format!(
                    "{c} ({sc}): {n} {}",
                    if *n == 1 { "entity" } else { "entities" }
                )
            })
            .collect(),
        SHOWN,
    ));
    r.view.sections.push(Section::new(
        "Questions that found nothing",
        gaps.iter().map(|(q, n)| format!("“{q}” × {n}")).collect(),
        SHOWN,
    ));
    r.view.sections.push(Section::new(
        "Open reports of wrong answers",
        reports
            .iter()
            .map(|rep| {
                format!(
                    "{} {} — {} (report {}, by {})",
                    rep.entity, rep.fact, rep.what, rep.id, rep.reported_by
                )
            })
            .collect(),
        SHOWN,
    ));
    r.view.context.push(format!("Period {period}."));
    r.result = json!({
        "period": period,
        "changes": changes.len(),
        "quarantined": quarantined,
        "zero_results": gaps.iter().map(|(q, n)| json!({"query": q, "times": n})).collect::<Vec<_>>(),
        "open_reports": reports.iter().map(|rep| json!({"report": rep.id, "entity": rep.entity, "fact": rep.fact, "what": rep.what, "reported_by": rep.reported_by, "at": rep.at})).collect::<Vec<_>>(),
        "most_failed": ranked.iter().take(SHOWN).map(|((sc, c), n)| json!({"scorecard": sc, "check": c, "entities": n})).collect::<Vec<_>>(),
    });
    r
}
