//! Conversations' context and the repositories' recent changes.
//!
//! A conversation (`slack:C123/1700000000.000100`) remembers the entity its last answer was
//! about, for a time, so "and who is on call?" in the same thread means that entity. Recent
//! changes (deploys, merged pull requests, completed workflow runs) are kept per repository,
//! each once however often GitHub tells of it.

use anyhow::{Context as _, Result};
use sqlx::Row;

use super::Store;
pub use crate::changes::RepoChange;

impl Store {
    /// What `conversation` was last about, if it is still remembered at `now`.
    pub async fn thread_entity(&self, conversation: &str, now: i64) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT entity FROM thread_context WHERE conversation = $1 AND expires_at > $2",
        )
        .bind(conversation)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .context("reading a conversation's context")
    }

    /// Remembers that `conversation` is about `entity` until `expires_at`.
    pub async fn remember_thread(
        &self,
        conversation: &str,
        entity: &str,
        expires_at: i64,
    ) -> Result<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO thread_context (conversation, entity, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (conversation) DO UPDATE SET entity = excluded.entity, \
             expires_at = excluded.expires_at",
        )
        .bind(conversation)
        .bind(entity)
        .bind(expires_at)
        .execute(&mut *w.tx)
        .await?;
        w.commit()
            .await
            .context("remembering a conversation's context")
    }

    /// Forgets conversations whose context expired before `now`, and repository changes older
    /// than `keep_since`; how many of each.
    pub async fn sweep_threads_and_changes(&self, now: i64, keep_since: i64) -> Result<(u64, u64)> {
        let mut w = self.write().await?;
        let threads = sqlx::query("DELETE FROM thread_context WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
        let changes = sqlx::query("DELETE FROM repo_changes WHERE at < $1")
            .bind(keep_since)
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
        w.commit()
            .await
            .context("sweeping old contexts and changes")?;
        Ok((threads, changes))
    }

    /// Records changes; those already known are left as they are. Says which were new.
    pub async fn add_repo_changes(&self, changes: &[RepoChange]) -> Result<Vec<RepoChange>> {
        let mut fresh = Vec::new();
        if changes.is_empty() {
            return Ok(fresh);
        }
        let mut w = self.write().await?;
        for c in changes {
            let n = sqlx::query(
                "INSERT INTO repo_changes (repo, kind, ref_id, title, who, at, url, detail, via) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (repo, kind, ref_id) DO NOTHING",
            )
            .bind(c.repo.to_lowercase())
            .bind(c.kind.clone())
            .bind(c.ref_id.clone())
            .bind(c.title.clone())
            .bind(c.who.clone())
            .bind(c.at)
            .bind(c.url.clone())
            .bind(c.detail.clone())
            .bind(c.via.clone())
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
            if n > 0 {
                fresh.push(c.clone());
            }
        }
        w.commit().await.context("recording repository changes")?;
        Ok(fresh)
    }

    /// Every change since `since`, oldest first. Read row by row: a month of changes of
    /// thousands of repositories never sits in memory twice.
    pub async fn repo_changes(&self, since: i64) -> Result<Vec<RepoChange>> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(
            "SELECT repo, kind, ref_id, title, who, at, url, detail, via FROM repo_changes \
             WHERE at >= $1 ORDER BY at, id",
        )
        .bind(since)
        .fetch(&self.pool);
        let mut out = Vec::new();
        while let Some(r) = rows
            .try_next()
            .await
            .context("reading repository changes")?
        {
            out.push(RepoChange {
                repo: r.get(0),
                kind: r.get(1),
                ref_id: r.get(2),
                title: r.get(3),
                who: r.get(4),
                at: r.get(5),
                url: r.get(6),
                detail: r.get(7),
                via: r.get(8),
            });
        }
        Ok(out)
    }
}
