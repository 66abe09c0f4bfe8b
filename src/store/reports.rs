//! "Is this wrong?" reports: who said which fact of which entity is wrong, the fact as it was,
//! whether the owning team was told, and when the report closed (the fact changed).

use anyhow::{Context as _, Result};
use sqlx::Row;

use super::Store;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub id: i64,
    pub entity: String,
    /// `owner` or `oncall`.
    pub fact: String,
    /// What the reporter said.
    pub what: String,
    /// The fact as it was answered when reported.
    pub value: String,
    /// Where the fact comes from.
    pub provenance: String,
    pub reported_by: String,
    pub team: Option<String>,
    pub at: i64,
    pub told_at: Option<i64>,
    pub closed_at: Option<i64>,
}

const COLUMNS: &str =
    "id, entity, fact, what, value, provenance, reported_by, team, at, told_at, closed_at";

fn report_of(r: &sqlx::any::AnyRow) -> Report {
    Report {
        id: r.get(0),
        entity: r.get(1),
        fact: r.get(2),
        what: r.get(3),
        value: r.get(4),
        provenance: r.get(5),
        reported_by: r.get(6),
        team: r.get(7),
        at: r.get(8),
        told_at: r.get(9),
        closed_at: r.get(10),
    }
}

impl Store {
    /// Records a report; says its id and whether another report of the same fact is open
    /// (then the team was told already).
    pub async fn add_report(&self, r: &Report) -> Result<(i64, Option<i64>)> {
        let mut w = self.write().await?;
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(id) FROM reports WHERE entity = $1 AND fact = $2 AND closed_at IS NULL",
        )
        .bind(r.entity.clone())
        .bind(r.fact.clone())
        .fetch_one(&mut *w.tx)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO reports (entity, fact, what, value, provenance, reported_by, team, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(r.entity.clone())
        .bind(r.fact.clone())
        .bind(r.what.clone())
        .bind(r.value.clone())
        .bind(r.provenance.clone())
        .bind(r.reported_by.clone())
        .bind(r.team.clone())
        .bind(r.at)
        .fetch_one(&mut *w.tx)
        .await?;
        w.commit().await.context("recording a report")?;
        Ok((id, open))
    }

    /// Records that the owning team was told of report `id`.
    pub async fn report_told(&self, id: i64, at: i64) -> Result<()> {
        sqlx::query("UPDATE reports SET told_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await
            .context("recording a report told")?;
        Ok(())
    }

    /// The reports still open, oldest first.
    pub async fn open_reports(&self) -> Result<Vec<Report>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM reports WHERE closed_at IS NULL ORDER BY at, id"
        )))
        .fetch_all(&self.pool)
        .await
        .context("reading the open reports")?;
        Ok(rows.iter().map(report_of).collect())
    }

    /// Every report about `entity`, oldest first.
    pub async fn reports_about(&self, entity: &str) -> Result<Vec<Report>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM reports WHERE entity = $1 ORDER BY at, id"
        )))
        .bind(entity)
        .fetch_all(&self.pool)
        .await
        .context("reading an entity's reports")?;
        Ok(rows.iter().map(report_of).collect())
    }

    /// Closes the open reports of `entity`'s `fact` (the fact changed).
    pub async fn close_reports(&self, entity: &str, fact: &str, at: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE reports SET closed_at = $1 WHERE entity = $2 AND fact = $3 \
             AND closed_at IS NULL",
        )
        .bind(at)
        .bind(entity)
        .bind(fact)
        .execute(&self.pool)
        .await
        .context("closing reports")?;
        Ok(done.rows_affected())
    }
}
