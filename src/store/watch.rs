//! What the catalog watch keeps: what it last saw of each entity, the scorecards already
//! baselined, each entity's and each team's score per ISO week, and the catalog change log.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use super::{Store, insert_sql};

/// Rows per multi-row INSERT (PostgreSQL binds at most 65,535 parameters per statement).
const BATCH: usize = 500;

/// What the watch last saw of one entity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    /// The owning Group (resolvable), as a canonical reference.
    pub owner: Option<String>,
    /// The source it came from (`local`, `github`, `backstage`).
    pub source: String,
    pub quarantined: bool,
    /// Scorecard name → (score, level reached).
    pub scores: Scores,
}

/// Scorecard name → (score, level reached), in name order; stored as a JSON object. A sorted
/// list rather than a map: an entity is on one to a few scorecards, and a look holds this for
/// every entity, where a BTreeMap's first node alone costs some 600 bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scores(Vec<(String, (u32, Option<String>))>);

impl Scores {
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }

    pub fn insert(&mut self, name: String, score: (u32, Option<String>)) {
        match self.find(&name) {
            Ok(i) => self.0[i].1 = score,
            Err(i) => self.0.insert(i, (name, score)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&(u32, Option<String>)> {
        self.find(name).ok().map(|i| &self.0[i].1)
    }
}

impl Serialize for Scores {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(name, score)| (name, score)))
    }
}

impl<'de> Deserialize<'de> for Scores {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, (u32, Option<String>)>::deserialize(d)?;
        Ok(Scores(map.into_iter().collect()))
    }
}

/// One entry of the catalog change log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub at: i64,
    pub entity: String,
    /// The team it concerns: the owner after the change, else before.
    pub team: Option<String>,
    /// `added`, `removed`, `owner-changed`, `quarantined`, `released`, `level-changed`.
    pub change: String,
    pub scorecard: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The source the entity came from (`local`, `github`, `backstage`).
    pub source: String,
}

/// A team's figures on one scorecard in one ISO week.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TeamWeek {
    pub scorecard: String,
    pub team: String,
    pub week: String,
    pub entities: u32,
    /// The mean score, 0–100.
    pub score: u32,
    /// Entities at each level (`none` first).
    pub levels: Vec<(String, u32)>,
}

/// An entity's score on one scorecard in one ISO week.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeekScore {
    pub scorecard: String,
    pub entity: String,
    pub week: String,
    pub score: u32,
    pub level: Option<String>,
}

/// A problem an owning team is told about once, while it lasts (a nudge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub entity: String,
    /// The team told: the owner, or the owner it had when the problem is losing it.
    pub team: String,
    /// `quarantined`, `owner`, or `level:SCORECARD`.
    pub problem: String,
    pub reason: String,
    pub fix: String,
    /// The failing checks of a dropped level (what an exemption would cover).
    pub checks: Vec<String>,
    /// The workflow that fixes it, where a failing check names one.
    pub workflow: Option<String>,
}

/// Everything one look at the catalog writes, in one transaction: what was seen, what
/// changed, the week's scores, and the problems that began and ended.
#[derive(Debug, Default)]
pub struct Observation {
    /// Entities seen for the first time or seen differently.
    pub seen: Vec<(String, Watched)>,
    /// Entities no longer in the catalog.
    pub gone: Vec<String>,
    /// Scorecards (and `''`, the catalog) scored for the first time: a silent baseline.
    pub baselined: Vec<String>,
    pub changes: Vec<Change>,
    pub scores: Vec<WeekScore>,
    pub teams: Vec<TeamWeek>,
    pub raised: Vec<Problem>,
    /// (entity, problem) pairs that no longer hold; problem `*`: all of the entity's.
    pub cleared: Vec<(String, String)>,
}

impl Observation {
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
            && self.gone.is_empty()
            && self.baselined.is_empty()
            && self.changes.is_empty()
            && self.scores.is_empty()
            && self.teams.is_empty()
            && self.raised.is_empty()
            && self.cleared.is_empty()
    }
}

impl Store {
    /// What the watch saw last, and the scorecards (`''`: the catalog) already baselined.
    pub async fn load_watched(&self) -> Result<(HashMap<String, Watched>, Vec<String>)> {
        use futures_util::TryStreamExt;
        let mut seen = HashMap::new();
        // Row by row: at 100,000 entities the rows at once would cost as much again.
        let mut rows =
            sqlx::query("SELECT entity, owner, source, quarantined, scores FROM watched_entities")
                .fetch(&self.pool);
        while let Some(r) = rows
            .try_next()
            .await
            .context("reading what the catalog watch saw")?
        {
            let scores: &str = r.get(4);
            seen.insert(
                r.get::<String, _>(0),
                Watched {
                    owner: r.get(1),
                    source: r.get(2),
                    quarantined: r.get::<i64, _>(3) != 0,
                    scores: serde_json::from_str(scores)
                        .context("a watched entity's scores are corrupt")?,
                },
            );
        }
        drop(rows);
        let baselined = sqlx::query("SELECT scorecard FROM watch_baselines")
            .fetch_all(&self.pool)
            .await
            .context("reading the scorecards baselined")?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok((seen, baselined))
    }

    /// Writes one observation of the catalog, all or nothing.
    pub async fn record_observation(&self, o: &Observation, now: i64) -> Result<()> {
        if o.is_empty() {
            return Ok(());
        }
        let mut w = self.write().await?;
        for chunk in o.gone.chunks(BATCH) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "DELETE FROM watched_entities WHERE entity IN ({})",
                marks.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for e in chunk {
                q = q.bind(e.clone());
            }
            q.execute(&mut *w.tx).await?;
        }
        for chunk in o.seen.chunks(BATCH) {
            let sql = insert_sql(
                self.backend,
                "INSERT INTO watched_entities (entity, owner, source, quarantined, scores, at) \
                 VALUES ",
                6,
                chunk.len(),
                " ON CONFLICT (entity) DO UPDATE SET owner = excluded.owner, \
                 source = excluded.source, quarantined = excluded.quarantined, \
                 scores = excluded.scores, at = excluded.at",
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (entity, seen) in chunk {
                q = q
                    .bind(entity.clone())
                    .bind(seen.owner.clone())
                    .bind(seen.source.clone())
                    .bind(i64::from(seen.quarantined))
                    .bind(serde_json::to_string(&seen.scores)?)
                    .bind(now);
            }
            q.execute(&mut *w.tx).await?;
        }
        for scorecard in &o.baselined {
            sqlx::query(
                "INSERT INTO watch_baselines (scorecard, at) VALUES ($1, $2) \
                 ON CONFLICT (scorecard) DO NOTHING",
            )
            .bind(scorecard.clone())
            .bind(now)
            .execute(&mut *w.tx)
            .await?;
        }
        for chunk in o.changes.chunks(BATCH) {
            let sql = insert_sql(
                self.backend,
                "INSERT INTO catalog_changes \
                 (at, entity, team, change, scorecard, before, after, source) VALUES ",
                8,
                chunk.len(),
                "",
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for c in chunk {
                q = q
                    .bind(c.at)
                    .bind(c.entity.clone())
                    .bind(c.team.clone())
                    .bind(c.change.clone())
                    .bind(c.scorecard.clone())
                    .bind(c.before.clone())
                    .bind(c.after.clone())
                    .bind(c.source.clone());
            }
            q.execute(&mut *w.tx).await?;
        }
        for chunk in o.scores.chunks(BATCH) {
            let sql = insert_sql(
                self.backend,
                "INSERT INTO entity_scores (scorecard, entity, week, score, level, at) VALUES ",
                6,
                chunk.len(),
                " ON CONFLICT (scorecard, entity, week) DO UPDATE SET score = excluded.score, \
                 level = excluded.level, at = excluded.at",
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for s in chunk {
                q = q
                    .bind(s.scorecard.clone())
                    .bind(s.entity.clone())
                    .bind(s.week.clone())
                    .bind(i64::from(s.score))
                    .bind(s.level.clone())
                    .bind(now);
            }
            q.execute(&mut *w.tx).await?;
        }
        for chunk in o.teams.chunks(BATCH) {
            let sql = insert_sql(
                self.backend,
                "INSERT INTO team_scores (scorecard, team, week, entities, score, levels, at) \
                 VALUES ",
                7,
                chunk.len(),
                " ON CONFLICT (scorecard, team, week) DO UPDATE SET entities = excluded.entities, \
                 score = excluded.score, levels = excluded.levels, at = excluded.at",
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for t in chunk {
                q = q
                    .bind(t.scorecard.clone())
                    .bind(t.team.clone())
                    .bind(t.week.clone())
                    .bind(i64::from(t.entities))
                    .bind(i64::from(t.score))
                    .bind(serde_json::to_string(&t.levels)?)
                    .bind(now);
            }
            q.execute(&mut *w.tx).await?;
        }
        for (entity, problem) in &o.cleared {
            sqlx::query(
                "UPDATE nudges SET cleared_at = $1 WHERE entity = $2 \
                 AND (problem = $3 OR $3 = '*') AND cleared_at IS NULL",
            )
            .bind(now)
            .bind(entity.clone())
            .bind(problem.clone())
            .execute(&mut *w.tx)
            .await?;
        }
        for p in &o.raised {
            // The same problem on the same entity is told once while it lasts.
            sqlx::query(
                "INSERT INTO nudges \
                 (entity, problem, team, reason, fix, checks, workflow, raised_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (entity, problem) WHERE cleared_at IS NULL DO NOTHING",
            )
            .bind(p.entity.clone())
            .bind(p.problem.clone())
            .bind(p.team.clone())
            .bind(p.reason.clone())
            .bind(p.fix.clone())
            .bind(p.checks.join(","))
            .bind(p.workflow.clone())
            .bind(now)
            .execute(&mut *w.tx)
            .await?;
        }
        w.commit()
            .await
            .context("recording what the catalog watch saw")
    }

    /// The change log since `since` (inclusive), oldest first: of one team (changes that
    /// concern it, and owner changes away from it) or one entity, or all.
    pub async fn changes(
        &self,
        team: Option<&str>,
        entity: Option<&str>,
        since: i64,
    ) -> Result<Vec<Change>> {
        let rows = sqlx::query(
            "SELECT at, entity, team, change, scorecard, before, after, source \
             FROM catalog_changes WHERE at >= $1 \
             AND ($2 = '' OR team = $2 OR (change = 'owner-changed' AND before = $2)) \
             AND ($3 = '' OR entity = $3) ORDER BY at, id",
        )
        .bind(since)
        .bind(team.unwrap_or("").to_string())
        .bind(entity.unwrap_or("").to_string())
        .fetch_all(&self.pool)
        .await
        .context("reading the catalog change log")?;
        Ok(rows
            .iter()
            .map(|r| Change {
                at: r.get(0),
                entity: r.get(1),
                team: r.get(2),
                change: r.get(3),
                scorecard: r.get(4),
                before: r.get(5),
                after: r.get(6),
                source: r.get(7),
            })
            .collect())
    }

    /// A team's weekly figures from `from_week` to `until_week` (ISO weeks, both included),
    /// oldest first.
    pub async fn team_weeks(
        &self,
        team: &str,
        from_week: &str,
        until_week: &str,
    ) -> Result<Vec<TeamWeek>> {
        sqlx::query(AssertSqlSafe(format!(
            "{TEAM_WEEKS} WHERE team = $1 AND week >= $2 AND week <= $3 ORDER BY week, scorecard"
        )))
        .bind(team)
        .bind(from_week)
        .bind(until_week)
        .fetch_all(&self.pool)
        .await
        .context("reading a team's weekly scores")?
        .iter()
        .map(team_week)
        .collect()
    }

    /// Every team's figures on every scorecard in `week`.
    pub async fn week_team_scores(&self, week: &str) -> Result<Vec<TeamWeek>> {
        sqlx::query(AssertSqlSafe(format!("{TEAM_WEEKS} WHERE week = $1")))
            .bind(week)
            .fetch_all(&self.pool)
            .await
            .context("reading the week's team scores")?
            .iter()
            .map(team_week)
            .collect()
    }

    /// An entity's weekly scores on every scorecard, oldest first.
    pub async fn entity_weeks(&self, entity: &str) -> Result<Vec<WeekScore>> {
        let rows = sqlx::query(
            "SELECT scorecard, entity, week, score, level FROM entity_scores \
             WHERE entity = $1 ORDER BY week, scorecard",
        )
        .bind(entity)
        .fetch_all(&self.pool)
        .await
        .context("reading an entity's weekly scores")?;
        Ok(rows
            .iter()
            .map(|r| WeekScore {
                scorecard: r.get(0),
                entity: r.get(1),
                week: r.get(2),
                score: r.get::<i64, _>(3) as u32,
                level: r.get(4),
            })
            .collect())
    }
}

/// The rows of `team_scores`, as `team_week` reads them.
const TEAM_WEEKS: &str = "SELECT scorecard, team, week, entities, score, levels FROM team_scores";

/// A row of `TEAM_WEEKS`.
fn team_week(r: &sqlx::any::AnyRow) -> Result<TeamWeek> {
    let levels: String = r.get(5);
    Ok(TeamWeek {
        scorecard: r.get(0),
        team: r.get(1),
        week: r.get(2),
        entities: r.get::<i64, _>(3) as u32,
        score: r.get::<i64, _>(4) as u32,
        levels: serde_json::from_str(&levels).context("a team's weekly levels are corrupt")?,
    })
}
