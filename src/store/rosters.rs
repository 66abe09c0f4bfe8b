//! PagerDuty's rosters as the scheduling replica last fetched them: every replica reads them,
//! so that any one answers who is on call alike.

use anyhow::{Context, Result};
use sqlx::Row;

use super::Store;
use crate::oncall::pagerduty::{Cached, Roster, Rosters};

impl Store {
    /// Keeps `rosters` in place of every roster kept before (two replicas writing at once
    /// each write whole rows: the later one's stand).
    pub async fn put_rosters(&self, rosters: &Rosters) -> Result<()> {
        let mut w = self.write().await?;
        let kept: Vec<(String,)> = sqlx::query_as("SELECT target FROM pagerduty_rosters")
            .fetch_all(&mut *w.tx)
            .await?;
        for (gone,) in kept.iter().filter(|(t,)| !rosters.contains_key(t)) {
            sqlx::query("DELETE FROM pagerduty_rosters WHERE target = $1")
                .bind(gone)
                .execute(&mut *w.tx)
                .await?;
        }
        for (target, cached) in rosters {
            let roster = cached
                .roster
                .as_ref()
                .map(|r| serde_json::to_string(r).expect("a roster serializes"));
            sqlx::query(
                "INSERT INTO pagerduty_rosters (target, roster, error_at, error) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (target) DO UPDATE SET \
                 roster = excluded.roster, error_at = excluded.error_at, error = excluded.error",
            )
            .bind(target)
            .bind(roster)
            .bind(cached.error.as_ref().map(|(at, _)| *at))
            .bind(cached.error.as_ref().map(|(_, e)| e.as_str()))
            .execute(&mut *w.tx)
            .await?;
        }
        w.commit().await.context("keeping PagerDuty's rosters")
    }

    /// The rosters kept. One that cannot be read is left out (its target is fetched again).
    pub async fn load_rosters(&self) -> Result<Rosters> {
        let rows = sqlx::query("SELECT target, roster, error_at, error FROM pagerduty_rosters")
            .fetch_all(&self.pool)
            .await
            .context("reading PagerDuty's rosters")?;
        let mut out = Rosters::new();
        for r in rows {
            let target: String = r.get(0);
            let roster = match r.get::<Option<String>, _>(1) {
                None => None,
                Some(json) => match serde_json::from_str::<Roster>(&json) {
                    Ok(roster) => Some(roster),
                    Err(e) => {
                        tracing::warn!(%target, "a kept PagerDuty roster is unreadable: {e}");
                        continue;
                    }
                },
            };
            let error = match (r.get::<Option<i64>, _>(2), r.get::<Option<String>, _>(3)) {
                (Some(at), Some(e)) => Some((at, e)),
                _ => None,
            };
            out.insert(target, Cached { roster, error });
        }
        Ok(out)
    }
}
