//! Button actions kept for buttons that cannot carry them (`conversation::MAX_ENCODED`).

use anyhow::{Context, Result};
use sqlx::Row;

use super::Store;

impl Store {
    /// Keeps `action` under `key`, rendered at `now`; a key already kept is renewed.
    pub async fn keep_action(&self, key: &str, action: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO stored_actions (key, action, rendered_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET rendered_at = excluded.rendered_at",
        )
        .bind(key)
        .bind(action)
        .bind(now)
        .execute(&self.pool)
        .await
        .context("keeping a button's action")?;
        Ok(())
    }

    /// The action kept under `key`, if it was rendered at `since` or later.
    pub async fn stored_action(&self, key: &str, since: i64) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT action FROM stored_actions WHERE key = $1 AND rendered_at >= $2")
                .bind(key)
                .bind(since)
                .fetch_optional(&self.pool)
                .await
                .context("reading a button's action")?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    /// Forgets actions last rendered before `before`; returns how many.
    pub async fn forget_actions(&self, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM stored_actions WHERE rendered_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .context("forgetting old button actions")?;
        Ok(done.rows_affected())
    }
}
