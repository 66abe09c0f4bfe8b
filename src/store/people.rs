//! When each person was last active on each chat platform, so that what is sent to someone
//! reachable on several (an approval card) goes where they are.

use anyhow::{Context, Result};
use sqlx::Row;

use super::Store;

impl Store {
    /// Records that `person` (a catalog User) was active on `platform` at `at`; an earlier
    /// time never replaces a later one.
    pub async fn note_seen(&self, person: &str, platform: &str, at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO people_seen (person, platform, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (person, platform) DO UPDATE SET seen_at = excluded.seen_at \
             WHERE people_seen.seen_at < excluded.seen_at",
        )
        .bind(person)
        .bind(platform)
        .bind(at)
        .execute(&self.pool)
        .await
        .context("recording where someone was active")?;
        Ok(())
    }

    /// The platforms `person` was active on, the latest first.
    pub async fn last_seen(&self, person: &str) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT platform, seen_at FROM people_seen WHERE person = $1 \
             ORDER BY seen_at DESC, platform",
        )
        .bind(person)
        .fetch_all(&self.pool)
        .await
        .context("reading where someone was active")?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
