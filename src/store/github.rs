//! What GitHub scans remember: each repository's state, and responses kept for conditional
//! requests (ETags).

use std::collections::HashMap;

use anyhow::Result;
use sqlx::{AssertSqlSafe, Row};

use super::Store;
use super::catalog::Replacement;

/// What a GitHub scan saw of a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoState {
    pub full_name: String,
    /// GitHub's id, which survives renames and transfers.
    pub repo_id: i64,
    pub pushed_at: String,
    pub default_branch: String,
    /// The default branch's commit that was read; None when the repository has no catalog file.
    pub head_commit: Option<String>,
    pub read_at: i64,
}

/// The upsert of a repository's row, kept only when no later push's read is stored. GitHub's
/// `pushed_at` has whole seconds (RFC 3339, compared as text): two reads of the same second
/// with different heads cannot say which is newer, so the last one is kept with `pushed_at`
/// blanked, and the next scan reads the repository again. A repository marked gone keeps its
/// mark against a read that began (`read_at`) no later than it went
/// (`Store::mark_github_repo_gone`).
fn put_repo(state: &RepoState) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(
        "INSERT INTO github_repos \
         (full_name, repo_id, pushed_at, default_branch, head_commit, read_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (full_name) DO UPDATE SET \
         repo_id = excluded.repo_id, \
         pushed_at = CASE WHEN github_repos.pushed_at = excluded.pushed_at \
           AND COALESCE(github_repos.head_commit, '') <> COALESCE(excluded.head_commit, '') \
           THEN '' ELSE excluded.pushed_at END, \
         default_branch = excluded.default_branch, head_commit = excluded.head_commit, \
         read_at = excluded.read_at, gone_at = NULL \
         WHERE github_repos.pushed_at <= excluded.pushed_at \
         AND (github_repos.gone_at IS NULL OR github_repos.gone_at < excluded.read_at)",
    )
    .bind(state.full_name.to_lowercase())
    .bind(state.repo_id)
    .bind(state.pushed_at.clone())
    .bind(state.default_branch.clone())
    .bind(state.head_commit.clone())
    .bind(state.read_at)
}

impl Replacement {
    /// Claims a repository's entities for a read of it (`state`) in this replacement's
    /// transaction. False when a read of a later push is stored already, or the repository
    /// was marked gone since this read began: a scan that read it before a push, a rename or an
    /// archive, and stores after, must not bring the older state back (drop the replacement). Replacements of one source take turns, so the check
    /// and the write cannot interleave with another's.
    pub async fn claim_repo(&mut self, state: &RepoState) -> Result<bool> {
        Ok(put_repo(state)
            .execute(&mut *self.tx)
            .await?
            .rows_affected()
            > 0)
    }
}

impl Store {
    /// What the last GitHub scan saw of each repository, by full name (lowercase); with
    /// `only`, just the rows of that full name or that repository id (one webhook's worth).
    pub async fn github_repos(
        &self,
        only: Option<(&str, i64)>,
    ) -> Result<HashMap<String, RepoState>> {
        const SELECT: &str = "SELECT full_name, repo_id, pushed_at, default_branch, head_commit, read_at \
             FROM github_repos WHERE gone_at IS NULL";
        let rows = match only {
            Some((name, id)) => {
                sqlx::query(AssertSqlSafe(format!(
                    "{SELECT} AND (full_name = $1 OR repo_id = $2)"
                )))
                .bind(name.to_lowercase())
                .bind(id)
                .fetch_all(&self.pool)
                .await?
            }
            None => sqlx::query(SELECT).fetch_all(&self.pool).await?,
        };
        Ok(rows
            .into_iter()
            .map(|r| {
                let state = RepoState {
                    full_name: r.get(0),
                    repo_id: r.get(1),
                    pushed_at: r.get(2),
                    default_branch: r.get(3),
                    head_commit: r.get(4),
                    read_at: r.get(5),
                };
                (state.full_name.to_lowercase(), state)
            })
            .collect())
    }

    /// Keeps what a scan or a push saw of a repository, unless a read of a later push
    /// (`pushed_at`) is kept already, or it was marked gone since the read began: a slow read
    /// never overwrites a newer one.
    pub async fn put_github_repo(&self, state: &RepoState) -> Result<()> {
        put_repo(state).execute(&self.pool).await?;
        Ok(())
    }

    /// Marks a repository gone from the catalog at `now` (deleted, archived, transferred or
    /// renamed away): no read of it that began at or before `now` is kept (a scan that listed it
    /// before), and it is no longer among `github_repos`. A read that began later (it was
    /// brought back) is kept.
    pub async fn mark_github_repo_gone(&self, full_name: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE github_repos SET gone_at = $2, head_commit = NULL WHERE full_name = $1",
        )
        .bind(full_name.to_lowercase())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the gone marks set before `before` (a complete scan that began then saw what is
    /// gone and what is not).
    pub async fn forget_gone_github_repos(&self, before: i64) -> Result<()> {
        sqlx::query("DELETE FROM github_repos WHERE gone_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The ETag and body of the last 200 for `url`.
    pub async fn cached_response(&self, url: &str) -> Result<Option<(String, String)>> {
        Ok(
            sqlx::query("SELECT etag, body FROM http_cache WHERE url = $1")
                .bind(url)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| (r.get(0), r.get(1))),
        )
    }

    pub async fn cache_response(&self, url: &str, etag: &str, body: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO http_cache (url, etag, body, stored_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, body = excluded.body, \
             stored_at = excluded.stored_at",
        )
        .bind(url)
        .bind(etag)
        .bind(body)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
