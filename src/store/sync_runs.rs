//! The record of syncs and source events (webhooks), for `sync status`.

use anyhow::Result;
use sqlx::Row;

use super::Store;
pub use crate::status::SyncRun;

impl Store {
    pub async fn record_sync_run(&self, run: &SyncRun) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_runs (source, started_at, finished_at, files, entities, quarantined, problems) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(run.source.clone())
        .bind(run.started_at)
        .bind(run.finished_at)
        .bind(run.files)
        .bind(run.entities)
        .bind(run.quarantined)
        .bind(run.problems)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The most recent completed sync of a source.
    pub async fn last_sync(&self, source: &str) -> Result<Option<SyncRun>> {
        let row = sqlx::query(
            "SELECT source, started_at, finished_at, files, entities, quarantined, problems \
             FROM sync_runs WHERE source = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(source)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| SyncRun {
            source: r.get(0),
            started_at: r.get(1),
            finished_at: r.get(2),
            files: r.get(3),
            entities: r.get(4),
            quarantined: r.get(5),
            problems: r.get(6),
        }))
    }

    /// Records the latest event (a webhook) a source delivered.
    pub async fn record_event(&self, source: &str, at: i64, summary: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO source_events (source, received_at, summary) VALUES ($1, $2, $3) \
             ON CONFLICT (source) DO UPDATE SET received_at = excluded.received_at, \
             summary = excluded.summary",
        )
        .bind(source)
        .bind(at)
        .bind(summary)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn last_event(&self, source: &str) -> Result<Option<(i64, String)>> {
        Ok(
            sqlx::query("SELECT received_at, summary FROM source_events WHERE source = $1")
                .bind(source)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| (r.get(0), r.get(1))),
        )
    }
}
