//! Database access: the durable copy of the catalog and the record of syncs.
//!
//! One code path serves SQLite (the embedded default) and PostgreSQL through sqlx's Any driver;
//! only the migrations differ per backend. Functions are named for what they mean to the rest of
//! the program; parameters are always bound.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{AssertSqlSafe, Row};

use crate::catalog::snapshot::Problem;
use crate::catalog::{Provenance, RawEntity};

/// Which database a URL points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!(
                "database.url must start with sqlite: or postgres:, got `{}`",
                redact(url)
            )
        }
    }
}

/// A URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Summary of one completed sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRun {
    pub source: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub files: i64,
    pub entities: i64,
    pub quarantined: i64,
    pub problems: i64,
}

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

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    pub backend: Backend,
    /// SQLite has one writer: replacements take turns here rather than fail with "database is
    /// locked" when a read transaction tries to become a write one.
    write_gate: Arc<tokio::sync::Mutex<()>>,
}

/// Rows per multi-row INSERT: 13 parameters each stays far below both backends' limits.
const BATCH: usize = 200;

impl Store {
    /// Connects (creating the SQLite file and its directory if needed) and applies migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let mut url = url.to_string();
        if backend == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite:")
                .trim_start_matches("//")
                .split('?')
                .next()
                .unwrap_or("")
                .to_string();
            if !path.is_empty() && path != ":memory:" {
                if let Some(dir) = Path::new(&path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).with_context(|| {
                        format!("cannot create the database directory {}", dir.display())
                    })?;
                }
                if !url.contains('?') {
                    url.push_str("?mode=rwc");
                }
            }
        }
        let sqlite = backend == Backend::Sqlite;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL lets readers and the writer work at once; NORMAL syncs at
                        // checkpoints instead of every commit (safe against crashes of the
                        // process, as SQLite documents); waits instead of failing when busy.
                        sqlx::raw_sql(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 5000;",
                        )
                        .execute(&mut *conn)
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .with_context(|| format!("cannot open the database at {}", redact(&url)))?;
        let store = Store {
            pool,
            backend,
            write_gate: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator
            .run(&self.pool)
            .await
            .context("applying database migrations")?;
        Ok(())
    }

    /// Starts replacing what a source delivered, file by file, in one transaction: other
    /// readers see the old catalog until `Replacement::finish` commits the new one.
    pub async fn begin_replace(&self, source: &str) -> Result<Replacement> {
        self.begin_replace_in(source, "", None).await
    }

    /// As `begin_replace`, for the files of one part of a source (`scope`: one repository,
    /// `acme/payments/`). With `orphan_at`, files the source no longer has are orphaned instead
    /// of deleted; `purge_orphans` removes them once the grace period is over.
    pub async fn begin_replace_in(
        &self,
        source: &str,
        scope: &str,
        orphan_at: Option<i64>,
    ) -> Result<Replacement> {
        // On SQLite the transaction takes the write lock at once (IMMEDIATE): one that reads
        // first fails, instead of waiting, when another connection writes in between.
        let (gate, mut tx) = match self.backend {
            Backend::Sqlite => (
                Some(self.write_gate.clone().lock_owned().await),
                self.pool.begin_with("BEGIN IMMEDIATE").await?,
            ),
            Backend::Postgres => (None, self.pool.begin().await?),
        };
        let existing: HashSet<String> = sqlx::query(AssertSqlSafe(format!(
            "SELECT DISTINCT location FROM entities WHERE source = $1 AND {}",
            in_scope(scope)
        )))
        .bind(source)
        .bind(scope)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
        // Each source numbers its rows in its own range, so the order in which definitions of
        // the same entity compete (the first wins) is by source, whatever synced last.
        // A bare MAX over the (source, seq) index is one lookup on both backends (wrapped in
        // COALESCE, SQLite would scan the source's rows).
        let last: Option<i64> = sqlx::query("SELECT MAX(seq) FROM entities WHERE source = $1")
            .bind(source)
            .fetch_one(&mut *tx)
            .await?
            .get(0);
        let next_seq = last.unwrap_or(seq_base(source)) + 1;
        Ok(Replacement {
            tx,
            source: source.to_string(),
            scope: scope.to_string(),
            orphan_at,
            _gate: gate,
            existing,
            seen: HashSet::new(),
            next_seq,
            problems: Vec::new(),
            kept: Vec::new(),
        })
    }

    /// Replaces a source's entities with `entities` (grouped by file, in order) in one go.
    /// `incomplete` names files that could not be read or parsed in full; see `Replacement::file`.
    pub async fn replace_source(
        &self,
        source: &str,
        entities: &[RawEntity],
        problems: &[Problem],
        incomplete: &[String],
    ) -> Result<Vec<String>> {
        let mut r = self.begin_replace(source).await?;
        let mut start = 0;
        while start < entities.len() {
            let loc = &entities[start].provenance.location;
            let end = start
                + entities[start..]
                    .iter()
                    .take_while(|e| &e.provenance.location == loc)
                    .count();
            r.file(
                loc,
                entities[start..end].to_vec(),
                Vec::new(),
                !incomplete.contains(loc),
            )
            .await?;
            start = end;
        }
        let unseen: Vec<&String> = incomplete.iter().filter(|l| !r.seen.contains(*l)).collect();
        for loc in unseen {
            r.file(loc, Vec::new(), Vec::new(), false).await?;
        }
        r.problems.extend_from_slice(problems);
        Ok(r.finish().await?.0)
    }

    /// The lowest and highest `seq` stored (empty range when there is nothing).
    pub async fn entity_seq_range(&self) -> Result<(i64, i64)> {
        let r = sqlx::query("SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), -1) FROM entities")
            .fetch_one(&self.pool)
            .await?;
        Ok((r.get(0), r.get(1)))
    }

    /// Streams the entities with `lo <= seq <= hi`, from every source but `except` (`""`
    /// for none), to `f`, in order, decoding each row as it arrives while the database reads
    /// the next: the whole catalog never sits in memory raw.
    pub async fn for_each_entity(
        &self,
        lo: i64,
        hi: i64,
        except: &str,
        mut f: impl FnMut(RawEntity) + Send,
    ) -> Result<()> {
        let mut rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ENTITY_COLUMNS} FROM entities \
             WHERE seq >= $1 AND seq <= $2 AND source <> $3 ORDER BY seq"
        )))
        .bind(lo)
        .bind(hi)
        .bind(except)
        .fetch(&self.pool);
        while let Some(r) = rows
            .try_next()
            .await
            .context("loading the catalog from the database")?
        {
            f(entity_from_row(&r)?);
        }
        Ok(())
    }

    /// Documents and files that could not become entities, as the last syncs left them.
    pub async fn load_problems(&self) -> Result<Vec<Problem>> {
        Ok(
            sqlx::query("SELECT location, line, message FROM sync_problems ORDER BY source, seq")
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|r| Problem {
                    location: r.get(0),
                    line: r.get::<i64, _>(1) as u32,
                    message: r.get(2),
                })
                .collect(),
        )
    }

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

    pub async fn record_sync_run(&self, run: &SyncRun) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_runs (source, started_at, finished_at, files, entities, quarantined, problems) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(run.source.clone())
        .bind(run.started_at)
        .bind(run.finished_at)
        .bind(run.files)
        .bind(run.entities)
        .bind(run.quarantined)
        .bind(run.problems)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The most recent completed sync of a source.
    pub async fn last_sync(&self, source: &str) -> Result<Option<SyncRun>> {
        let row = sqlx::query(
            "SELECT source, started_at, finished_at, files, entities, quarantined, problems \
             FROM sync_runs WHERE source = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(source)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| SyncRun {
            source: r.get(0),
            started_at: r.get(1),
            finished_at: r.get(2),
            files: r.get(3),
            entities: r.get(4),
            quarantined: r.get(5),
            problems: r.get(6),
        }))
    }

    /// How many entity rows a source has stored.
    pub async fn count_entities(&self, source: &str) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM entities WHERE source = $1")
                .bind(source)
                .fetch_one(&self.pool)
                .await?
                .get(0),
        )
    }

    /// Orphans every entity of `source` under `scope` (a repository that was deleted,
    /// archived or moved away). `purge_orphans` removes them once the grace period is over.
    pub async fn orphan_scope(&self, source: &str, scope: &str, now: i64) -> Result<u64> {
        Ok(sqlx::query(AssertSqlSafe(format!(
            "UPDATE entities SET orphaned_at = $3 WHERE source = $1 AND {} \
             AND orphaned_at IS NULL",
            in_scope(scope)
        )))
        .bind(source)
        .bind(scope)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Removes every entity of `source` under `scope` at once (a repository that was renamed,
    /// once it has been read under its new name).
    pub async fn drop_scope(&self, source: &str, scope: &str) -> Result<u64> {
        Ok(sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM entities WHERE source = $1 AND {}",
            in_scope(scope)
        )))
        .bind(source)
        .bind(scope)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// What the last GitHub scan saw of each repository, by full name (lowercase); with
    /// `only`, just the rows of that full name or that repository id (one webhook's worth).
    pub async fn github_repos(
        &self,
        only: Option<(&str, i64)>,
    ) -> Result<HashMap<String, RepoState>> {
        const SELECT: &str = "SELECT full_name, repo_id, pushed_at, default_branch, head_commit, read_at \
             FROM github_repos";
        let rows = match only {
            Some((name, id)) => {
                sqlx::query(AssertSqlSafe(format!(
                    "{SELECT} WHERE full_name = $1 OR repo_id = $2"
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

    pub async fn put_github_repo(&self, state: &RepoState) -> Result<()> {
        sqlx::query(
            "INSERT INTO github_repos \
             (full_name, repo_id, pushed_at, default_branch, head_commit, read_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (full_name) DO UPDATE SET \
             repo_id = excluded.repo_id, pushed_at = excluded.pushed_at, default_branch = excluded.default_branch, \
             head_commit = excluded.head_commit, read_at = excluded.read_at",
        )
        .bind(state.full_name.to_lowercase())
        .bind(state.repo_id)
        .bind(state.pushed_at.clone())
        .bind(state.default_branch.clone())
        .bind(state.head_commit.clone())
        .bind(state.read_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_github_repo(&self, full_name: &str) -> Result<()> {
        sqlx::query("DELETE FROM github_repos WHERE full_name = $1")
            .bind(full_name.to_lowercase())
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

    /// Records the latest event (a webhook) a source delivered.
    pub async fn record_event(&self, source: &str, at: i64, summary: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO source_events (source, received_at, summary) VALUES ($1, $2, $3) \
             ON CONFLICT (source) DO UPDATE SET received_at = excluded.received_at, \
             summary = excluded.summary",
        )
        .bind(source)
        .bind(at)
        .bind(summary)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn last_event(&self, source: &str) -> Result<Option<(i64, String)>> {
        Ok(
            sqlx::query("SELECT received_at, summary FROM source_events WHERE source = $1")
                .bind(source)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| (r.get(0), r.get(1))),
        )
    }

    /// How many problems the last syncs of a source left.
    pub async fn count_problems(&self, source: &str) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM sync_problems WHERE source = $1")
                .bind(source)
                .fetch_one(&self.pool)
                .await?
                .get(0),
        )
    }

    /// Removes `source`'s entities orphaned at or before `before`.
    pub async fn purge_orphans(&self, source: &str, before: i64) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM entities WHERE source = $1 AND orphaned_at IS NOT NULL \
             AND orphaned_at <= $2",
        )
        .bind(source)
        .bind(before)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A replacement of one source's entities under way (see `Store::begin_replace`).
pub struct Replacement {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    source: String,
    scope: String,
    /// When set, files the source no longer has are orphaned at this time, not deleted.
    orphan_at: Option<i64>,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
    existing: HashSet<String>,
    seen: HashSet<String>,
    next_seq: i64,
    problems: Vec<Problem>,
    kept: Vec<String>,
}

impl Replacement {
    /// Stores what one file holds now and returns the entities stored for it.
    ///
    /// A file that could not be read or parsed in full (`complete` false) and that an earlier
    /// sync stored keeps the entities of that last good read, with a problem saying so: a
    /// broken file or a failed read never deletes what was there.
    pub async fn file(
        &mut self,
        location: &str,
        entities: Vec<RawEntity>,
        problems: Vec<Problem>,
        complete: bool,
    ) -> Result<Vec<RawEntity>> {
        self.seen.insert(location.to_string());
        self.problems.extend(problems);
        let stored = if !complete && self.existing.contains(location) {
            let mut rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {ENTITY_COLUMNS} FROM entities \
                 WHERE source = $1 AND location = $2 ORDER BY line"
            )))
            .bind(self.source.clone())
            .bind(location)
            .fetch(&mut *self.tx);
            let mut last_good = Vec::new();
            while let Some(r) = rows.try_next().await? {
                last_good.push(entity_from_row(&r)?);
            }
            drop(rows);
            self.kept.push(location.to_string());
            self.problems.push(Problem {
                location: location.to_string(),
                line: 0,
                message: "kept the entities of the last good read of this file".into(),
            });
            last_good
        } else {
            entities
        };
        if self.existing.contains(location) {
            sqlx::query("DELETE FROM entities WHERE source = $1 AND location = $2")
                .bind(self.source.clone())
                .bind(location)
                .execute(&mut *self.tx)
                .await?;
        }
        for chunk in stored.chunks(BATCH) {
            let sql = insert_sql(
                "INSERT INTO entities (source, location, line, entity_key, commit_sha, fetched_at, \
                 quarantined, reasons, body, seq, claims, orphaned_at, scope) VALUES ",
                13,
                chunk.len(),
                "",
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for e in chunk {
                let p = &e.provenance;
                q = q
                    .bind(self.source.clone())
                    .bind(p.location.clone())
                    .bind(p.line as i64)
                    .bind(e.key.clone())
                    .bind(p.commit.clone())
                    .bind(p.fetched_at)
                    .bind(i64::from(e.is_quarantined()))
                    .bind(serde_json::to_string(&e.reasons)?)
                    .bind(serde_json::to_string(&e.body)?)
                    .bind(self.next_seq)
                    .bind(serde_json::to_string(&e.claims)?)
                    .bind(p.orphaned_at)
                    .bind(self.scope.clone());
                self.next_seq += 1;
            }
            q.execute(&mut *self.tx).await.context("storing entities")?;
        }
        Ok(stored)
    }

    /// Problems found outside any file (a configured path that does not exist).
    pub fn add_problems(&mut self, problems: impl IntoIterator<Item = Problem>) {
        self.problems.extend(problems);
    }

    /// Retires files the source no longer has, records the problems, and commits.
    /// Returns the files whose last good read was kept, and every problem recorded.
    pub async fn finish(mut self) -> Result<(Vec<String>, Vec<Problem>)> {
        let retire = match self.orphan_at {
            Some(now) => format!(
                "UPDATE entities SET orphaned_at = {now} WHERE source = $1 AND location = $2 \
                 AND orphaned_at IS NULL"
            ),
            None => "DELETE FROM entities WHERE source = $1 AND location = $2".into(),
        };
        for loc in self.existing.iter().filter(|l| !self.seen.contains(*l)) {
            sqlx::query(AssertSqlSafe(retire.clone()))
                .bind(self.source.clone())
                .bind(loc)
                .execute(&mut *self.tx)
                .await?;
        }
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM sync_problems WHERE source = $1 AND {PROBLEM_IN_SCOPE}"
        )))
        .bind(self.source.clone())
        .bind(self.scope.len() as i64)
        .bind(self.scope.clone())
        .execute(&mut *self.tx)
        .await?;
        for (chunk_no, chunk) in self.problems.chunks(BATCH).enumerate() {
            let sql = insert_sql(
                "INSERT INTO sync_problems (source, location, line, message, seq) VALUES ",
                5,
                chunk.len(),
                "",
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (i, p) in chunk.iter().enumerate() {
                q = q
                    .bind(self.source.clone())
                    .bind(p.location.clone())
                    .bind(p.line as i64)
                    .bind(p.message.clone())
                    .bind((chunk_no * BATCH + i) as i64);
            }
            q.execute(&mut *self.tx)
                .await
                .context("storing sync problems")?;
        }
        self.tx.commit().await?;
        Ok((self.kept, self.problems))
    }
}

/// The columns `entity_from_row` reads, in its order.
const ENTITY_COLUMNS: &str = "source, location, line, entity_key, commit_sha, fetched_at, reasons, body, claims, orphaned_at";

fn entity_from_row(r: &sqlx::any::AnyRow) -> Result<RawEntity> {
    let reasons: &str = r.get(6);
    let body: &str = r.get(7);
    let claims: &str = r.get(8);
    Ok(RawEntity {
        key: r.get(3),
        provenance: Provenance {
            source: r.get(0),
            location: r.get(1),
            line: r.get::<i64, _>(2) as u32,
            commit: r.get(4),
            fetched_at: r.get(5),
            orphaned_at: r.get(9),
        },
        reasons: serde_json::from_str(reasons).context("stored reasons are corrupt")?,
        claims: serde_json::from_str(claims).context("stored claims are corrupt")?,
        body: serde_json::from_str(body).context("stored entity is corrupt")?,
    })
}

/// An entity row is in scope `$2` (a repository's `owner/repo/`; `''` is the whole source).
/// The column is indexed with the source, so replacing one repository of thousands reads only
/// its rows.
fn in_scope(scope: &str) -> &'static str {
    if scope.is_empty() {
        "$2 = ''"
    } else {
        "scope = $2"
    }
}

/// A problem's `location` starts with `$3`, whose length is `$2` (the same SQL on both
/// backends; problems are few).
const PROBLEM_IN_SCOPE: &str = "substr(location, 1, CAST($2 AS INTEGER)) = $3";

/// Where a source's row numbers start: local files first, then Backstage, then the rest.
fn seq_base(source: &str) -> i64 {
    const RANGE: i64 = 1_000_000_000_000;
    match source {
        "local" => 0,
        "backstage" => RANGE,
        _ => 2 * RANGE,
    }
}

/// `prefix ($1, …, $cols), (…) … suffix` for `rows` rows.
fn insert_sql(prefix: &str, cols: usize, rows: usize, suffix: &str) -> String {
    let mut sql = String::from(prefix);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * cols + c + 1));
        }
        sql.push(')');
    }
    sql.push_str(suffix);
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("postgres://sb:hunter2@db:5432/sb"),
            "postgres://sb:***@db:5432/sb"
        );
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn insert_sql_numbers_parameters() {
        assert_eq!(insert_sql("I ", 2, 2, ""), "I ($1, $2), ($3, $4)");
    }
}
