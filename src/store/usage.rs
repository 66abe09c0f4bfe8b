//! How Switchboard is used: questions per day, surface and intent, the questions that found
//! nothing, and the workflow runs' funnel (read from the runs).

use anyhow::{Context as _, Result};
use sqlx::Row;

use super::Store;

/// Questions of one day, surface and intent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageRow {
    pub day: String,
    pub surface: String,
    pub intent: String,
    pub questions: i64,
    pub unresolved: i64,
    pub latency_ms: i64,
}

impl Store {
    /// Adds these counts to the days' figures.
    pub async fn add_usage(&self, rows: &[UsageRow], zero: &[(String, i64, i64)]) -> Result<()> {
        let mut w = self.write().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO usage_daily (day, surface, intent, questions, unresolved, latency_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (day, surface, intent) DO UPDATE SET \
                 questions = usage_daily.questions + excluded.questions, \
                 unresolved = usage_daily.unresolved + excluded.unresolved, \
                 latency_ms = usage_daily.latency_ms + excluded.latency_ms",
            )
            .bind(r.day.clone())
            .bind(r.surface.clone())
            .bind(r.intent.clone())
            .bind(r.questions)
            .bind(r.unresolved)
            .bind(r.latency_ms)
            .execute(&mut *w.tx)
            .await?;
        }
        for (query, times, at) in zero {
            sqlx::query(
                "INSERT INTO zero_results (query, times, last_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (query) DO UPDATE SET times = zero_results.times + excluded.times, \
                 last_at = excluded.last_at",
            )
            .bind(query.clone())
            .bind(*times)
            .bind(*at)
            .execute(&mut *w.tx)
            .await?;
        }
        w.commit().await.context("recording usage")
    }

    /// The figures of the days from `since_day` (`2026-12-01`) on.
    pub async fn usage_since(&self, since_day: &str) -> Result<Vec<UsageRow>> {
        let rows = sqlx::query(
            "SELECT day, surface, intent, questions, unresolved, latency_ms FROM usage_daily \
             WHERE day >= $1 ORDER BY day, surface, intent",
        )
        .bind(since_day)
        .fetch_all(&self.pool)
        .await
        .context("reading usage")?;
        Ok(rows
            .iter()
            .map(|r| UsageRow {
                day: r.get(0),
                surface: r.get(1),
                intent: r.get(2),
                questions: r.get(3),
                unresolved: r.get(4),
                latency_ms: r.get(5),
            })
            .collect())
    }

    /// The questions that found nothing most often, last asked since `since`.
    pub async fn top_zero_results(&self, since: i64, limit: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT query, times FROM zero_results WHERE last_at >= $1 \
             ORDER BY times DESC, query LIMIT $2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("reading the questions that found nothing")?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Runs requested since `since`, by workflow and the state they are in now.
    pub async fn run_funnel(&self, since: i64) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT workflow, state, COUNT(*) FROM runs WHERE created_at >= $1 \
             GROUP BY workflow, state ORDER BY workflow, state",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .context("reading the runs' funnel")?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// How many runs are in each state.
    pub async fn run_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM runs GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await
            .context("counting runs")?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
