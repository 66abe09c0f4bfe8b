//! The catalog watch: each new snapshot (or new set of scorecards) is scored whole, compared
//! with what was seen last (read from the store at each look, so a restart, or another replica
//! that held the turn meanwhile, is where the comparison picks up), and what changed is written
//! down in one transaction — the catalog change log, each entity's score for the ISO week,
//! each team's weekly figures — with the problems its owners are to be nudged about. The first
//! look at the catalog, and the first scoring on a scorecard new to it, are a silent baseline:
//! nothing is logged as changed and nobody is nudged.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Datelike, Utc};

use super::Scorecard;
use super::score::fix;
use crate::ask::Context;
use crate::bot::Bot;
use crate::catalog::{Id, RelKind, Snapshot};
use crate::store::{Change, Observation, Problem, Store, TeamWeek, Watched, WeekScore};

/// The key under which the catalog itself (entities added, removed, owners, quarantine) is
/// baselined, beside the scorecards' names.
const CATALOG: &str = "";

/// What a look compares the catalog with: what the last look saw, read from the store.
struct Memory {
    seen: HashMap<String, Watched>,
    baselined: HashSet<String>,
    /// The figures written per (scorecard, team) for the week.
    teams: HashMap<(String, String), TeamWeek>,
}

/// The watch of one process. Looks take turns. Between looks it keeps nothing: each reads
/// what the last one saw from the store, whichever replica made it, so a replica that gets
/// the turn back does not log again what another logged meanwhile. (What was seen of every
/// entity costs some 500 bytes an entity, held all the time for a look every few minutes.)
#[derive(Default)]
pub struct Watch {
    looking: tokio::sync::Mutex<()>,
}

/// An ISO week as stored: `2026-W49`.
pub fn iso_week(at: DateTime<Utc>) -> String {
    let w = at.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

impl Watch {
    /// Looks at the bot's catalog, records what changed in `store`, and says what it wrote.
    /// Scoring runs off the async threads.
    pub async fn look(&self, store: &Store, bot: &Arc<Bot>) -> Result<Observation> {
        self.look_while(store, bot, || true)
            .await
            .map(Option::unwrap_or_default)
    }

    /// As `look`, but writes nothing (and says None) unless `ours()` still holds once the
    /// catalog is scored: a replica whose turn at the scheduled work ran out during the look
    /// leaves it to the one that holds it now, which reads what was seen afresh.
    ///
    /// A look first applies what the other replicas changed and this one has not applied yet
    /// (`feed::catch_up`; it does every few seconds anyway): what was seen last may be another
    /// replica's look at a newer catalog, and the catalog this one had not caught up with
    /// would be logged as changed back.
    pub async fn look_while(
        &self,
        store: &Store,
        bot: &Arc<Bot>,
        ours: impl Fn() -> bool,
    ) -> Result<Option<Observation>> {
        let _turn = self.looking.lock().await;
        crate::feed::catch_up(bot, store).await?;
        let now = bot.now();
        let started = std::time::Instant::now();
        let (seen, baselined) = store.load_watched().await?;
        let teams = store.week_team_scores(&iso_week(now)).await?;
        let read = started.elapsed();
        let memory = Memory {
            seen,
            baselined: baselined.into_iter().collect(),
            teams: teams
                .into_iter()
                .map(|t| ((t.scorecard.clone(), t.team.clone()), t))
                .collect(),
        };
        let on = bot.clone();
        // What was seen is dropped there too, off the async threads.
        let observed =
            tokio::task::spawn_blocking(move || on.as_itself(|ctx| compare(ctx, &memory, now)))
                .await?;
        let scored = started.elapsed() - read;
        if !ours() {
            tracing::info!("the scheduled work's turn passed during the catalog watch's look");
            return Ok(None);
        }
        store.record_observation(&observed, now.timestamp()).await?;
        tracing::debug!(
            seen = observed.seen.len(),
            scores = observed.scores.len(),
            ?read,
            ?scored,
            took = ?started.elapsed(),
            "the catalog watch looked"
        );
        Ok(Some(observed))
    }
}

/// The owning Group of `id` (one that resolves), as a reference.
fn owner_of(snap: &Snapshot, id: Id) -> Option<String> {
    snap.entity(id)
        .related(RelKind::OwnedBy)
        .find(|&g| snap.entity(g).kind_is("group"))
        .map(|g| snap.entity(g).key())
}

/// What the catalog of `ctx` is, entity by entity, compared with `memory` (not changed here).
fn compare(ctx: &Context<'_>, memory: &Memory, now: DateTime<Utc>) -> Observation {
    let snap = ctx.snap;
    let at = now.timestamp();
    let week = iso_week(now);
    let catalog_known = memory.baselined.contains(CATALOG);
    let mut out = Observation::default();
    if !catalog_known {
        out.baselined.push(CATALOG.to_string());
    }
    for sc in ctx.scorecards {
        if !memory.baselined.contains(&sc.name) {
            out.baselined.push(sc.name.clone());
        }
    }
    let known = |sc: &str| memory.baselined.contains(sc);
    // (scorecard, team) → (entities, score sum, entities per level (none first)).
    let mut teams: BTreeMap<(String, String), (u32, u32, Vec<u32>)> = BTreeMap::new();
    let mut present: HashSet<&str> = HashSet::with_capacity(memory.seen.len());
    for (id, e) in snap.entities() {
        let key = e.key();
        let owner = owner_of(snap, id);
        let quarantined = e.is_quarantined();
        let mut now_seen = Watched {
            owner: owner.clone(),
            source: e.origin.source.to_string(),
            quarantined,
            scores: Default::default(),
        };
        // Quarantined entities are not scored: they are listed apart.
        let scored: Vec<(&Scorecard, super::score::Scored)> = if quarantined {
            Vec::new()
        } else {
            ctx.scorecards
                .iter()
                .filter(|sc| sc.filter.matches(snap, id))
                .map(|sc| (sc, sc.score(ctx, id)))
                .collect()
        };
        for (sc, s) in &scored {
            let level = s.level.map(|l| sc.levels[l].name.clone());
            now_seen
                .scores
                .insert(sc.name.clone(), (s.score, level.clone()));
            if let Some(team) = &owner {
                let t = teams
                    .entry((sc.name.clone(), team.clone()))
                    .or_insert_with(|| (0, 0, vec![0; sc.levels.len() + 1]));
                t.0 += 1;
                t.1 += s.score;
                t.2[s.level.map_or(0, |l| l + 1)] += 1;
            }
        }
        let before = memory.seen.get(&key);
        if let Some((k, _)) = memory.seen.get_key_value(&key) {
            present.insert(k.as_str());
        }
        let change = |kind: &str, before: Option<String>, after: Option<String>| Change {
            at,
            entity: key.clone(),
            team: owner.clone().or_else(|| before_owner(memory, &key)),
            change: kind.to_string(),
            scorecard: None,
            before,
            after,
            source: e.origin.source.to_string(),
        };
        match before {
            None if catalog_known => {
                out.changes.push(change("added", None, owner.clone()));
                if quarantined {
                    out.changes
                        .push(change("quarantined", None, Some(e.reasons.join("; "))));
                }
            }
            Some(b) if catalog_known => {
                if b.owner != owner {
                    out.changes
                        .push(change("owner-changed", b.owner.clone(), owner.clone()));
                }
                if !b.quarantined && quarantined {
                    out.changes
                        .push(change("quarantined", None, Some(e.reasons.join("; "))));
                }
                if b.quarantined && !quarantined {
                    out.changes.push(change("released", None, None));
                }
            }
            _ => {}
        }
        // Problems to tell the owners about, and those that ended.
        let was_quarantined = before.is_some_and(|b| b.quarantined);
        if quarantined
            && !was_quarantined
            && catalog_known
            && let Some(team) = owner
                .clone()
                .or_else(|| before.and_then(|b| b.owner.clone()))
        {
            out.raised.push(Problem {
                entity: key.clone(),
                team,
                problem: "quarantined".into(),
                reason: format!("it is quarantined: {}", e.reasons.join("; ")),
                fix: format!(
                    "correct the definition at {}:{} (then it is read again)",
                    e.origin.location, e.origin.line
                ),
                checks: Vec::new(),
                workflow: None,
            });
        }
        if was_quarantined && !quarantined {
            out.cleared.push((key.clone(), "quarantined".into()));
        }
        if let Some(b) = before {
            match (&b.owner, &owner) {
                // A quarantined entity's nudge says why it lost its owner.
                (Some(lost), None) if catalog_known && !quarantined => out.raised.push(Problem {
                    entity: key.clone(),
                    team: lost.clone(),
                    problem: "owner".into(),
                    reason: format!(
                        "it lost its owner: {lost} no longer owns it, and no Group does"
                    ),
                    fix: format!(
                        "set spec.owner to a Group of the catalog at {}:{}",
                        e.origin.location, e.origin.line
                    ),
                    checks: Vec::new(),
                    workflow: None,
                }),
                (None, Some(_)) => out.cleared.push((key.clone(), "owner".into())),
                _ => {}
            }
        }
        for (sc, s) in &scored {
            let (score, level) = now_seen.scores.get(&sc.name).expect("scored above");
            let old = before.and_then(|b| b.scores.get(&sc.name));
            if old == Some(&(*score, level.clone())) {
                continue;
            }
            out.scores.push(WeekScore {
                scorecard: sc.name.clone(),
                entity: key.clone(),
                week: week.clone(),
                score: *score,
                level: level.clone(),
            });
            let Some((_, old_level)) = old else {
                continue;
            };
            if old_level == level || !known(&sc.name) {
                continue;
            }
            out.changes.push(Change {
                scorecard: Some(sc.name.clone()),
                ..change("level-changed", old_level.clone(), level.clone())
            });
            let rank = |l: &Option<String>| {
                l.as_ref().map_or(Some(0), |n| {
                    sc.levels.iter().position(|x| &x.name == n).map(|p| p + 1)
                })
            };
            let (Some(was), Some(is)) = (rank(old_level), rank(level)) else {
                continue;
            };
            let problem = format!("level:{}", sc.name);
            if is > was {
                out.cleared.push((key.clone(), problem));
            } else if let Some(team) = &owner {
                // The checks that cost the level: those of the levels it held that now fail.
                let needed: HashSet<usize> = sc.levels[..was]
                    .iter()
                    .flat_map(|l| l.checks.iter().copied())
                    .collect();
                let failing: Vec<usize> = s
                    .outcomes
                    .iter()
                    .filter(|o| !o.passed && needed.contains(&o.check))
                    .map(|o| o.check)
                    .collect();
                out.raised.push(Problem {
                    entity: key.clone(),
                    team: team.clone(),
                    problem,
                    reason: format!(
                        "it dropped from {} to {} on {}: {}",
                        old_level.as_deref().unwrap_or("none"),
                        level.as_deref().unwrap_or("none"),
                        sc.title,
                        failing
                            .iter()
                            .map(|&c| {
                                let why = &s.outcomes[c].why;
                                format!("{} ({why})", sc.checks[c].title)
                            })
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    fix: failing
                        .iter()
                        .map(|&c| fix(&sc.checks[c], e))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    checks: failing.iter().map(|&c| sc.checks[c].name.clone()).collect(),
                    workflow: failing.iter().find_map(|&c| sc.checks[c].workflow.clone()),
                });
            }
        }
        if before != Some(&now_seen) {
            out.seen.push((key, now_seen));
        }
    }
    for (key, b) in &memory.seen {
        if present.contains(key.as_str()) {
            continue;
        }
        out.gone.push(key.clone());
        if catalog_known {
            out.changes.push(Change {
                at,
                entity: key.clone(),
                team: b.owner.clone(),
                change: "removed".into(),
                scorecard: None,
                before: b.owner.clone(),
                after: None,
                source: b.source.clone(),
            });
        }
        out.cleared.push((key.clone(), "*".into()));
    }
    for ((scorecard, team), (entities, sum, levels)) in teams {
        let Some(sc) = ctx.scorecards.iter().find(|s| s.name == scorecard) else {
            continue;
        };
        let t = TeamWeek {
            week: week.clone(),
            entities,
            score: sum / entities.max(1),
            levels: std::iter::once("none".to_string())
                .chain(sc.levels.iter().map(|l| l.name.clone()))
                .zip(levels)
                .collect(),
            scorecard,
            team,
        };
        if memory.teams.get(&(t.scorecard.clone(), t.team.clone())) != Some(&t) {
            out.teams.push(t);
        }
    }
    out
}

/// The owner the watch saw last for `key`.
fn before_owner(memory: &Memory, key: &str) -> Option<String> {
    memory.seen.get(key).and_then(|b| b.owner.clone())
}
