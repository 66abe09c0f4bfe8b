//! Digests: one row per team and period, written before the digest is sent, so that a
//! restart (or another process) never sends a second; a send that failed goes back to
//! `pending` and is tried again.

use anyhow::{Context as _, Result};
use sqlx::Row;

use super::Store;

/// A digest's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestRow {
    pub team: String,
    pub period: String,
    /// `pending`, `sending`, `sent`, `silent` (nothing changed), `baseline` (the period
    /// before the first, never sent).
    pub state: String,
    pub summary: String,
    pub attempts: i64,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub sent_to: Option<String>,
}

/// What claiming a digest gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestClaim {
    /// This process's to send, as its `attempt`th claim (the one its end is recorded under);
    /// with `look_since` when an earlier attempt may have posted it (it failed, or its process
    /// died): what it posted is looked for first.
    Taken {
        attempt: i64,
        look_since: Option<i64>,
    },
    /// Another process's, or already done.
    Elsewhere,
}

impl Store {
    /// Whether any digest period was ever recorded (none: this is the first).
    pub async fn digests_started(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM digests")
            .fetch_one(&self.pool)
            .await
            .context("reading the digests")?;
        Ok(n > 0)
    }

    /// Writes the row of `team`'s digest for `period` in `state` unless there is one; true
    /// when this call wrote it.
    pub async fn open_digest(
        &self,
        team: &str,
        period: &str,
        state: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO digests (team, period, state, summary, attempts, created_at) \
             VALUES ($1, $2, $3, '', 0, $4) ON CONFLICT (team, period) DO NOTHING",
        )
        .bind(team)
        .bind(period)
        .bind(state)
        .bind(now)
        .execute(&self.pool)
        .await
        .context("recording a digest")?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes a digest to send it: a pending one, or one whose sender claimed it before
    /// `stale_before` and never said how it ended (its process died). One process gets it.
    pub async fn claim_digest(
        &self,
        team: &str,
        period: &str,
        now: i64,
        stale_before: i64,
    ) -> Result<DigestClaim> {
        let row: Option<(String, Option<i64>, i64, i64)> = sqlx::query_as(
            "SELECT state, sent_at, attempts, created_at FROM digests \
             WHERE team = $1 AND period = $2",
        )
        .bind(team)
        .bind(period)
        .fetch_optional(&self.pool)
        .await
        .context("reading a digest")?;
        let Some((state, sent_at, attempts, created_at)) = row else {
            return Ok(DigestClaim::Elsewhere);
        };
        let abandoned = state == "sending" && sent_at.is_some_and(|at| at < stale_before);
        if state != "pending" && !abandoned {
            return Ok(DigestClaim::Elsewhere);
        }
        // Whoever counted the attempts last is the one claim that wins.
        let done = sqlx::query(
            "UPDATE digests SET state = 'sending', attempts = attempts + 1, sent_at = $1 \
             WHERE team = $2 AND period = $3 AND state = $4 AND attempts = $5",
        )
        .bind(now)
        .bind(team)
        .bind(period)
        .bind(&state)
        .bind(attempts)
        .execute(&self.pool)
        .await
        .context("claiming a digest")?;
        Ok(if done.rows_affected() == 1 {
            DigestClaim::Taken {
                attempt: attempts + 1,
                // An earlier attempt may have posted before it failed or died.
                look_since: (attempts > 0).then_some(created_at),
            }
        } else {
            DigestClaim::Elsewhere
        })
    }

    /// Records how the claim `attempt` of a digest ended: `sent` (with where), `silent`, or
    /// back to `pending` after a failure. False, recording nothing, when another process
    /// took the digest over since.
    pub async fn finish_digest(
        &self,
        team: &str,
        period: &str,
        attempt: i64,
        state: &str,
        summary: &str,
        sent_to: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE digests SET state = $1, summary = $2, sent_to = $3 \
             WHERE team = $4 AND period = $5 AND state = 'sending' AND attempts = $6",
        )
        .bind(state)
        .bind(summary)
        .bind(sent_to)
        .bind(team)
        .bind(period)
        .bind(attempt)
        .execute(&self.pool)
        .await
        .context("recording a digest's end")?;
        Ok(done.rows_affected() == 1)
    }

    /// The digests of `period`, by team.
    pub async fn digests_of(&self, period: &str) -> Result<Vec<DigestRow>> {
        let rows = sqlx::query(
            "SELECT team, period, state, summary, attempts, created_at, sent_at, sent_to \
             FROM digests WHERE period = $1 ORDER BY team",
        )
        .bind(period)
        .fetch_all(&self.pool)
        .await
        .context("reading a period's digests")?;
        Ok(rows
            .iter()
            .map(|r| DigestRow {
                team: r.get(0),
                period: r.get(1),
                state: r.get(2),
                summary: r.get(3),
                attempts: r.get(4),
                created_at: r.get(5),
                sent_at: r.get(6),
                sent_to: r.get(7),
            })
            .collect())
    }

    /// When `team`'s last digest before `period` was made (sent or silent), if ever.
    pub async fn last_digest(&self, team: &str, before_period: &str) -> Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT MAX(created_at) FROM digests WHERE (team = $1 OR team = '') \
             AND period < $2 AND state IN ('sent', 'silent', 'baseline')",
        )
        .bind(team)
        .bind(before_period)
        .fetch_one(&self.pool)
        .await
        .context("reading a team's last digest")
    }
}
