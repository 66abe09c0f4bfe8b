//! Nudges waiting to be sent and those sent, teams' snoozes, and the exemptions granted from
//! scorecards' checks. Nudges are written by the catalog watch (`watch`).

use anyhow::{Context as _, Result};
use sqlx::Row;

use super::Store;

/// A problem told, or to be told, to a team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nudge {
    pub id: i64,
    pub entity: String,
    pub problem: String,
    pub team: String,
    pub reason: String,
    pub fix: String,
    /// The failing checks of a dropped level, by name.
    pub checks: Vec<String>,
    pub workflow: Option<String>,
    pub raised_at: i64,
    pub sent_at: Option<i64>,
    /// Where it went, or why it went nowhere.
    pub sent_to: Option<String>,
    pub cleared_at: Option<i64>,
}

/// An exemption from one check of a scorecard, until it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exemption {
    pub entity: String,
    pub scorecard: String,
    pub check: String,
    pub reason: String,
    pub run_id: i64,
    pub granted_at: i64,
    pub expires_at: i64,
}

const NUDGE_COLUMNS: &str = "id, entity, problem, team, reason, fix, checks, workflow, \
                             raised_at, sent_at, sent_to, cleared_at";

fn nudge_of(r: &sqlx::any::AnyRow) -> Nudge {
    Nudge {
        id: r.get(0),
        entity: r.get(1),
        problem: r.get(2),
        team: r.get(3),
        reason: r.get(4),
        fix: r.get(5),
        checks: r
            .get::<String, _>(6)
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect(),
        workflow: r.get(7),
        raised_at: r.get(8),
        sent_at: r.get(9),
        sent_to: r.get(10),
        cleared_at: r.get(11),
    }
}

impl Store {
    /// Nudges not sent yet whose problem lasts, oldest first.
    pub async fn unsent_nudges(&self) -> Result<Vec<Nudge>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NUDGE_COLUMNS} FROM nudges WHERE sent_at IS NULL AND cleared_at IS NULL \
             ORDER BY raised_at, id"
        )))
        .fetch_all(&self.pool)
        .await
        .context("reading the nudges to send")?;
        Ok(rows.iter().map(nudge_of).collect())
    }

    /// One nudge.
    pub async fn nudge(&self, id: i64) -> Result<Option<Nudge>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NUDGE_COLUMNS} FROM nudges WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("reading a nudge")?;
        Ok(row.as_ref().map(nudge_of))
    }

    /// Every nudge about `entity`, oldest first.
    pub async fn nudges_about(&self, entity: &str) -> Result<Vec<Nudge>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NUDGE_COLUMNS} FROM nudges WHERE entity = $1 ORDER BY raised_at, id"
        )))
        .bind(entity)
        .fetch_all(&self.pool)
        .await
        .context("reading an entity's nudges")?;
        Ok(rows.iter().map(nudge_of).collect())
    }

    /// How many nudges `team` was sent since `since`.
    pub async fn nudges_sent_since(&self, team: &str, since: i64) -> Result<u32> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM nudges WHERE team = $1 AND sent_at >= $2")
                .bind(team)
                .bind(since)
                .fetch_one(&self.pool)
                .await
                .context("counting a team's nudges")?;
        Ok(n as u32)
    }

    /// Takes a nudge to send it: true for the one process that does, once.
    pub async fn claim_nudge(&self, id: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE nudges SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL \
             AND cleared_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await
        .context("claiming a nudge")?;
        Ok(done.rows_affected() == 1)
    }

    /// Records where a claimed nudge went (or why nowhere).
    pub async fn nudge_sent(&self, id: i64, sent_to: &str) -> Result<()> {
        sqlx::query("UPDATE nudges SET sent_to = $1 WHERE id = $2")
            .bind(sent_to)
            .bind(id)
            .execute(&self.pool)
            .await
            .context("recording a nudge sent")?;
        Ok(())
    }

    /// Gives a claimed nudge back (its sending failed): it is tried again later.
    pub async fn release_nudge(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE nudges SET sent_at = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .context("giving a nudge back")?;
        Ok(())
    }

    /// Holds `team`'s nudges about `entity` until `until` (a later snooze extends it).
    pub async fn snooze(&self, entity: &str, team: &str, until: i64, by: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO nudge_snoozes (entity, team, until_at, by_person) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (entity, team) DO UPDATE SET until_at = excluded.until_at, \
             by_person = excluded.by_person WHERE nudge_snoozes.until_at < excluded.until_at",
        )
        .bind(entity)
        .bind(team)
        .bind(until)
        .bind(by)
        .execute(&self.pool)
        .await
        .context("recording a snooze")?;
        Ok(())
    }

    /// Until when `team`'s nudges about `entity` are held, if they are.
    pub async fn snoozed_until(&self, entity: &str, team: &str) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT until_at FROM nudge_snoozes WHERE entity = $1 AND team = $2")
            .bind(entity)
            .bind(team)
            .fetch_optional(&self.pool)
            .await
            .context("reading a snooze")
    }

    /// Grants an exemption (again, for the same run: nothing changes).
    pub async fn exempt(&self, e: &Exemption) -> Result<()> {
        sqlx::query(
            "INSERT INTO exemptions \
             (entity, scorecard, check_name, reason, run_id, granted_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (entity, scorecard, check_name) DO UPDATE SET reason = excluded.reason, \
             run_id = excluded.run_id, granted_at = excluded.granted_at, \
             expires_at = excluded.expires_at WHERE exemptions.run_id <> excluded.run_id",
        )
        .bind(e.entity.clone())
        .bind(e.scorecard.clone())
        .bind(e.check.clone())
        .bind(e.reason.clone())
        .bind(e.run_id)
        .bind(e.granted_at)
        .bind(e.expires_at)
        .execute(&self.pool)
        .await
        .context("recording an exemption")?;
        Ok(())
    }

    /// The exemptions in force at `now`.
    pub async fn exemptions(&self, now: i64) -> Result<Vec<Exemption>> {
        let rows = sqlx::query(
            "SELECT entity, scorecard, check_name, reason, run_id, granted_at, expires_at \
             FROM exemptions WHERE expires_at > $1 ORDER BY entity, scorecard, check_name",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .context("reading the exemptions")?;
        Ok(rows
            .iter()
            .map(|r| Exemption {
                entity: r.get(0),
                scorecard: r.get(1),
                check: r.get(2),
                reason: r.get(3),
                run_id: r.get(4),
                granted_at: r.get(5),
                expires_at: r.get(6),
            })
            .collect())
    }
}
