//! A run's cards and reviews: every posted copy of its approval card (to edit them all as the
//! run moves on), the one-time claims that keep two processes from posting cards or reminders
//! twice, and the reviews of runs started in an emergency.

use anyhow::{Context, Result};
use sqlx::Row;

use super::Store;
use super::audit::append;
use crate::audit::Event;
use crate::conversation::Platform;
use crate::outbox::MessageRef;
use crate::workflows::replies::CardKind;
use crate::workflows::run::{Review, State};

/// One posted copy of a run's card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Card {
    pub at: MessageRef,
    pub kind: CardKind,
    /// The catalog User the copy is for: the requester (where they asked), an approver (by
    /// DM); None for a team's channel.
    pub recipient: Option<String>,
}

impl Store {
    /// Takes the posting of a run's cards for this process; false when another took it.
    pub async fn claim_cards(&self, id: i64, now: i64) -> Result<bool> {
        let mut w = self.write().await?;
        let done =
            sqlx::query("UPDATE runs SET carded_at = $2 WHERE id = $1 AND carded_at IS NULL")
                .bind(id)
                .bind(now)
                .execute(&mut *w.tx)
                .await
                .context("claiming a run's cards")?;
        w.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Runs whose cards were never posted (their process stopped first), requested by `before`.
    pub async fn runs_without_cards(&self, before: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query(
            "SELECT id FROM runs WHERE carded_at IS NULL AND created_at <= $1 \
             AND (state = 'awaiting_approval' OR break_glass IS NOT NULL) ORDER BY id LIMIT 100",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await
        .context("looking for runs without cards")?
        .iter()
        .map(|r| r.get(0))
        .collect())
    }

    /// Takes the posting of a break-glass run's review cards for this process; false when
    /// another took it.
    pub async fn claim_reviews(&self, id: i64, now: i64) -> Result<bool> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE runs SET reviews_posted_at = $2 WHERE id = $1 AND reviews_posted_at IS NULL \
             AND break_glass IS NOT NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .context("claiming a run's review cards")?;
        w.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Runs started in an emergency by `before` whose review cards were never posted.
    pub async fn runs_without_reviews(&self, before: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query(
            "SELECT id FROM runs WHERE break_glass IS NOT NULL AND reviews_posted_at IS NULL \
             AND decided_at <= $1 ORDER BY id LIMIT 100",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await
        .context("looking for runs without review cards")?
        .iter()
        .map(|r| r.get(0))
        .collect())
    }

    /// Records one posted copy of a run's card.
    pub async fn add_card(&self, id: i64, card: &Card, now: i64) -> Result<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO run_cards (run_id, platform, channel, message_id, kind, recipient, posted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(card.at.platform.name())
        .bind(&card.at.channel)
        .bind(&card.at.id)
        .bind(card.kind.as_str())
        .bind(&card.recipient)
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .context("recording a card")?;
        w.commit().await
    }

    /// Every copy of a run's cards, in the order they were posted.
    pub async fn cards(&self, id: i64) -> Result<Vec<Card>> {
        let rows = sqlx::query(
            "SELECT platform, channel, message_id, kind, recipient FROM run_cards \
             WHERE run_id = $1 ORDER BY posted_at, message_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .context("reading a run's cards")?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(Card {
                    at: MessageRef {
                        platform: Platform::parse(&r.get::<String, _>(0))?,
                        channel: r.get(1),
                        id: r.get(2),
                    },
                    kind: CardKind::parse(&r.get::<String, _>(3)),
                    recipient: r.get(4),
                })
            })
            .collect())
    }

    /// Runs awaiting approval whose reminder is due by `now` and not sent.
    pub async fn runs_to_remind(&self, now: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query(
            "SELECT id FROM runs WHERE state = 'awaiting_approval' AND reminded_at IS NULL \
             AND remind_at <= $1 ORDER BY id LIMIT 100",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .context("looking for runs to remind")?
        .iter()
        .map(|r| r.get(0))
        .collect())
    }

    /// Takes the sending of a run's one reminder; false when it was already taken.
    pub async fn claim_reminder(&self, id: i64, now: i64) -> Result<bool> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE runs SET reminded_at = $2 WHERE id = $1 AND reminded_at IS NULL \
             AND state = 'awaiting_approval'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Starts a run awaiting approval at once, for the person on call in an emergency, with
    /// its audit entry; the state it was in when it could not be.
    pub async fn run_now(
        &self,
        id: i64,
        reason: &str,
        audit: Event,
    ) -> Result<std::result::Result<(), State>> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE runs SET state = 'approved', break_glass = $2, break_glass_by = $3, \
             decided_at = $4 WHERE id = $1 AND state = 'awaiting_approval' \
             AND (expires_at IS NULL OR expires_at > $4)",
        )
        .bind(id)
        .bind(reason)
        .bind(&audit.actor)
        .bind(audit.at)
        .execute(&mut *w.tx)
        .await?;
        if done.rows_affected() == 0 {
            let state: Option<String> = sqlx::query("SELECT state FROM runs WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *w.tx)
                .await?
                .map(|r| r.get(0));
            let state = state
                .as_deref()
                .and_then(State::parse)
                .unwrap_or(State::Requested);
            return Ok(Err(state));
        }
        append(&mut w.tx, &audit).await?;
        w.commit().await?;
        Ok(Ok(()))
    }

    /// Records a review of a run started in an emergency, with its audit entry; the earlier
    /// verdict when this reviewer already gave one (nothing changes).
    pub async fn review(
        &self,
        id: i64,
        reviewer: &str,
        verdict: &str,
        reason: Option<&str>,
        audit: Event,
    ) -> Result<Option<String>> {
        let mut w = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO run_reviews (run_id, reviewer, verdict, reason, at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, reviewer) DO NOTHING",
        )
        .bind(id)
        .bind(reviewer)
        .bind(verdict)
        .bind(reason)
        .bind(audit.at)
        .execute(&mut *w.tx)
        .await?;
        if inserted.rows_affected() == 0 {
            let earlier: String =
                sqlx::query("SELECT verdict FROM run_reviews WHERE run_id = $1 AND reviewer = $2")
                    .bind(id)
                    .bind(reviewer)
                    .fetch_one(&mut *w.tx)
                    .await?
                    .get(0);
            return Ok(Some(earlier));
        }
        append(&mut w.tx, &audit).await?;
        w.commit().await?;
        Ok(None)
    }

    /// The reviews of a run, in the order given.
    pub async fn reviews(&self, id: i64) -> Result<Vec<Review>> {
        let rows = sqlx::query(
            "SELECT reviewer, verdict, reason, at FROM run_reviews WHERE run_id = $1 \
             ORDER BY at, reviewer",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Review {
                by: r.get(0),
                verdict: r.get(1),
                reason: r.get(2),
                at: r.get(3),
            })
            .collect())
    }
}
