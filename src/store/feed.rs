//! The read-model change feed (`crate::feed`): what changed, in generation order, and the
//! wake-up the other replicas listen for.

use anyhow::{Context, Result};
use sqlx::Row;

use super::{Backend, Store};

/// The PostgreSQL channel a recorded change is announced on (its payload: the generation).
pub const CHANNEL: &str = "switchboard_read_model";

/// One recorded change.
#[derive(Clone, Debug)]
pub struct FeedEntry {
    pub generation: i64,
    /// The replica that made it (and has applied it already).
    pub replica: String,
    pub at: i64,
    /// What changed: the `crate::feed::Part`s, as JSON.
    pub what: String,
}

impl Store {
    /// Records a change `replica` made, under the next generation, and wakes the other
    /// replicas. The next generation is taken under a lock held until the commit, so
    /// generations are committed in order: a replica that has read up to one has seen every
    /// earlier one.
    pub async fn record_change(&self, replica: &str, at: i64, what: &str) -> Result<i64> {
        let mut w = self.write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(74151)")
                .execute(&mut *w.tx)
                .await?;
        }
        let generation: i64 = sqlx::query(
            "INSERT INTO read_model_changes (generation, replica, at, what) \
             SELECT COALESCE(MAX(generation), 0) + 1, $1, $2, $3 FROM read_model_changes \
             RETURNING generation",
        )
        .bind(replica)
        .bind(at)
        .bind(what)
        .fetch_one(&mut *w.tx)
        .await
        .context("recording a change of the read model")?
        .get(0);
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(generation.to_string())
                .execute(&mut *w.tx)
                .await?;
        }
        w.commit().await?;
        Ok(generation)
    }

    /// The changes recorded after `generation`, oldest first.
    pub async fn changes_after(&self, generation: i64) -> Result<Vec<FeedEntry>> {
        Ok(sqlx::query(
            "SELECT generation, replica, at, what FROM read_model_changes \
             WHERE generation > $1 ORDER BY generation",
        )
        .bind(generation)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| FeedEntry {
            generation: r.get(0),
            replica: r.get(1),
            at: r.get(2),
            what: r.get(3),
        })
        .collect())
    }

    /// The oldest and the latest generation kept (0 and 0 when there is none).
    pub async fn feed_bounds(&self) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT COALESCE(MIN(generation), 0), COALESCE(MAX(generation), 0) \
             FROM read_model_changes",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((r.get(0), r.get(1)))
    }

    /// Forgets changes recorded before `before`, always keeping the latest (whose generation
    /// the next one follows).
    pub async fn forget_changes_before(&self, before: i64) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM read_model_changes WHERE at < $1 \
             AND generation < (SELECT MAX(generation) FROM read_model_changes)",
        )
        .bind(before)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// A connection of its own that hears the wake-ups `record_change` sends (PostgreSQL
    /// only: on SQLite there is one process, and None).
    pub async fn listen(&self) -> Result<Option<sqlx::postgres::PgListener>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(&self.url)
            .await
            .with_context(|| format!("cannot listen at {}", super::redact(&self.url)))?;
        listener.listen(CHANNEL).await?;
        Ok(Some(listener))
    }
}
