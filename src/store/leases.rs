//! Leases: which replica runs a piece of scheduled work. A holder renews its lease while it
//! lives; once `until` has passed, another takes it with the next fence.

use anyhow::{Context, Result};
use sqlx::Row;

use super::Store;

impl Store {
    /// Takes or renews the lease `name` for `holder` until `until`, when it is free, expired
    /// (`until` before `now`) or already `holder`'s. Returns the fence it is held under (the
    /// same while one holder keeps renewing it, one more for each new holder), or None when
    /// another replica holds it.
    pub async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<i64>> {
        let mut w = self.write().await?;
        let fence = sqlx::query(
            "INSERT INTO leases (name, holder, until, fence) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (name) DO UPDATE SET holder = $2, until = $3, \
               fence = CASE WHEN leases.holder = $2 THEN leases.fence ELSE leases.fence + 1 END \
             WHERE leases.holder = $2 OR leases.until < $4 \
             RETURNING fence",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now)
        .fetch_optional(&mut *w.tx)
        .await
        .with_context(|| format!("holding the lease on {name}"))?
        .map(|r| r.get::<i64, _>(0));
        w.commit().await?;
        Ok(fence)
    }

    /// Gives the lease `name` up, if `holder` has it, for another replica to take at once
    /// (a replica shutting down).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        let mut w = self.write().await?;
        sqlx::query("UPDATE leases SET until = 0 WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&mut *w.tx)
            .await
            .with_context(|| format!("releasing the lease on {name}"))?;
        w.commit().await?;
        Ok(())
    }
}
