//! Chat events taken: claimed once (a platform's retry is turned away), with the event, and
//! marked answered once the answer is out, so a crash between the two is answered at start.

use anyhow::{Context, Result};
use sqlx::Row;

use super::Store;

impl Store {
    /// Records that a chat event is being handled, with the event as received (`payload`) so
    /// that it can still be answered after a crash. False when it was already: the caller must
    /// then do nothing (a platform's retry of something already taken).
    pub async fn claim_event(
        &self,
        platform: &str,
        event_id: &str,
        now: i64,
        payload: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO chat_events (platform, event_id, received_at, payload) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (platform, event_id) DO NOTHING",
        )
        .bind(platform)
        .bind(event_id)
        .bind(now)
        .bind(payload)
        .execute(&self.pool)
        .await
        .context("recording a chat event")?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that a claimed event's answer went out.
    pub async fn mark_answered(&self, platform: &str, event_id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE chat_events SET answered_at = $3 WHERE platform = $1 AND event_id = $2",
        )
        .bind(platform)
        .bind(event_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .context("recording that a chat event was answered")?;
        Ok(())
    }

    /// Events claimed since `since` whose answer never went out: (event id, payload).
    pub async fn unanswered_events(
        &self,
        platform: &str,
        since: i64,
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT event_id, payload FROM chat_events \
             WHERE platform = $1 AND answered_at IS NULL AND payload IS NOT NULL \
             AND received_at >= $2 ORDER BY received_at",
        )
        .bind(platform)
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .context("reading unanswered chat events")?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
