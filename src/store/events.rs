//! Chat events taken: claimed once (a platform's retry is turned away), with the event, and
//! marked answered once the answer is out, so a crash between the two is answered at start.

use anyhow::{Context, Result};
use sqlx::Row;

use super::Store;

impl Store {
    /// Records that a chat event is being handled, with the event as received (`payload`) so
    /// that it can still be answered after a crash, and leaves it to this process until
    /// `answering_until`. False when it was already taken: the caller must then do nothing (a
    /// platform's retry of something already taken).
    pub async fn claim_event(
        &self,
        platform: &str,
        event_id: &str,
        now: i64,
        payload: Option<&str>,
        answering_until: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO chat_events (platform, event_id, received_at, payload, answering_until) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (platform, event_id) DO NOTHING",
        )
        .bind(platform)
        .bind(event_id)
        .bind(now)
        .bind(payload)
        .bind(answering_until)
        .execute(&self.pool)
        .await
        .context("recording a chat event")?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that a claimed event's answer went out; its payload is no longer kept.
    pub async fn mark_answered(&self, platform: &str, event_id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE chat_events SET answered_at = $3, payload = NULL \
             WHERE platform = $1 AND event_id = $2",
        )
        .bind(platform)
        .bind(event_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .context("recording that a chat event was answered")?;
        Ok(())
    }

    /// Records that a claimed event's answer was refused for good (`why`): it is done with,
    /// and not tried again.
    pub async fn mark_undelivered(
        &self,
        platform: &str,
        event_id: &str,
        why: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE chat_events SET answered_at = $3, payload = NULL, undelivered = $4 \
             WHERE platform = $1 AND event_id = $2",
        )
        .bind(platform)
        .bind(event_id)
        .bind(now)
        .bind(why)
        .execute(&self.pool)
        .await
        .context("recording that a chat event's answer was refused")?;
        Ok(())
    }

    /// Events received since `since`, still unanswered, whose taker's time ran out before
    /// `now`: (event id, payload). Each must still be taken with `take_unanswered`.
    pub async fn unanswered_events(
        &self,
        platform: &str,
        since: i64,
        now: i64,
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT event_id, payload FROM chat_events \
             WHERE platform = $1 AND answered_at IS NULL AND payload IS NOT NULL \
             AND received_at >= $2 AND (answering_until IS NULL OR answering_until <= $3) \
             ORDER BY received_at",
        )
        .bind(platform)
        .bind(since)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .context("reading unanswered chat events")?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Takes an unanswered event whose taker's time ran out, until `answering_until`. False
    /// when another process took it first (or it was answered meanwhile): leave it alone.
    pub async fn take_unanswered(
        &self,
        platform: &str,
        event_id: &str,
        now: i64,
        answering_until: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE chat_events SET answering_until = $4 \
             WHERE platform = $1 AND event_id = $2 AND answered_at IS NULL \
             AND (answering_until IS NULL OR answering_until <= $3)",
        )
        .bind(platform)
        .bind(event_id)
        .bind(now)
        .bind(answering_until)
        .execute(&self.pool)
        .await
        .context("taking an unanswered chat event")?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets events received before `before`: a platform retries within minutes, so their
    /// ids no longer need keeping.
    /// Gives a claimed event back, unanswered: its answer failed, and the platform may deliver
    /// it again (a resumed session) to be answered then.
    pub async fn release_event(&self, platform: &str, event_id: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM chat_events WHERE platform = $1 AND event_id = $2 AND answered_at IS NULL",
        )
        .bind(platform)
        .bind(event_id)
        .execute(&self.pool)
        .await
        .context("giving a chat event back")?;
        Ok(())
    }

    pub async fn forget_events(&self, platform: &str, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM chat_events WHERE platform = $1 AND received_at < $2")
            .bind(platform)
            .bind(before)
            .execute(&self.pool)
            .await
            .context("forgetting old chat events")?;
        Ok(done.rows_affected())
    }
}
