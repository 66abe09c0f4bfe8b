//! The catalog's durable copy: each source's entities by file (scope), replaced one file at a
//! time, orphaned and purged; the problems found reading them.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};

use super::{Backend, Store, insert_sql};
use crate::catalog::snapshot::Problem;
use crate::catalog::{Provenance, RawEntity};

/// Rows per multi-row INSERT: 13 parameters each stays far below both backends' limits.
const BATCH: usize = 200;

impl Store {
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
        let super::Write {
            mut tx,
            _gate: gate,
        } = self.write().await?;
        take_turn(self.backend, &mut tx, source).await?;
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
            backend: self.backend,
            source: source.to_string(),
            scope: scope.to_string(),
            orphan_at,
            _gate: gate,
            existing,
            seen: HashSet::new(),
            next_seq,
            problems: Vec::new(),
            kept: Vec::new(),
            keep_unseen: false,
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
        let mut w = self.write().await?;
        take_turn(self.backend, &mut w.tx, source).await?;
        let n = sqlx::query(AssertSqlSafe(format!(
            "UPDATE entities SET orphaned_at = $3 WHERE source = $1 AND {} \
             AND orphaned_at IS NULL",
            in_scope(scope)
        )))
        .bind(source)
        .bind(scope)
        .bind(now)
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        w.commit().await?;
        Ok(n)
    }

    /// Removes every entity of `source` under `scope` at once (a repository that was renamed,
    /// once it has been read under its new name).
    pub async fn drop_scope(&self, source: &str, scope: &str) -> Result<u64> {
        let mut w = self.write().await?;
        take_turn(self.backend, &mut w.tx, source).await?;
        let n = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM entities WHERE source = $1 AND {}",
            in_scope(scope)
        )))
        .bind(source)
        .bind(scope)
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        w.commit().await?;
        Ok(n)
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

    /// What `source` holds under `scope` now, in the store's order: a repository read again,
    /// for a patch of the live snapshot.
    pub async fn scope_entities(&self, source: &str, scope: &str) -> Result<Vec<RawEntity>> {
        // Sorted here, not by the query: with `ORDER BY seq` SQLite's planner walks the
        // source's rows in seq order (every repository's) instead of the scope's index.
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ENTITY_COLUMNS} FROM entities WHERE source = $1 AND {}",
            in_scope(scope)
        )))
        .bind(source)
        .bind(scope)
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(entity_from_row)
            .collect::<Result<Vec<_>>>()?;
        out.sort_unstable_by_key(|e| e.seq);
        Ok(out)
    }

    /// Which of `keys` a row outside `source`'s `scope` defines too (those keys' winner is
    /// decided across scopes, so a patch gives way to a rebuild).
    pub async fn defined_elsewhere(
        &self,
        source: &str,
        scope: &str,
        keys: &[String],
    ) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        for chunk in keys.chunks(BATCH) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "SELECT DISTINCT entity_key FROM entities WHERE entity_key IN ({}) \
                 AND NOT (source = $1 AND {})",
                list.join(", "),
                in_scope(scope)
            )))
            .bind(source)
            .bind(scope);
            for k in chunk {
                q = q.bind(k.clone());
            }
            out.extend(q.fetch_all(&self.pool).await?.iter().map(|r| r.get(0)));
        }
        Ok(out)
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
}

/// A replacement of one source's entities under way (see `Store::begin_replace`).
pub struct Replacement {
    pub(super) tx: sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
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
    /// Files not seen are kept rather than retired.
    keep_unseen: bool,
}

impl Replacement {
    /// Stores what one file holds now and returns the entities stored for it.
    ///
    /// A file that could not be read or parsed in full (`complete` false) and that an earlier
    /// sync stored keeps the entities of that last good read, with a problem saying so: a
    /// broken file or a failed read never deletes what was there.
    ///
    /// An entity the file held before keeps its row number, so editing a file moves nothing in
    /// the catalog's order: the definition that won a key keeps winning it, and the live
    /// snapshot is patched in place.
    pub async fn file(
        &mut self,
        location: &str,
        entities: Vec<RawEntity>,
        problems: Vec<Problem>,
        complete: bool,
    ) -> Result<Vec<RawEntity>> {
        self.seen.insert(location.to_string());
        self.problems.extend(problems);
        let mut stored = if !complete && self.existing.contains(location) {
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
        let mut before: HashMap<String, Vec<i64>> = HashMap::new();
        if self.existing.contains(location) {
            let rows = sqlx::query(
                "DELETE FROM entities WHERE source = $1 AND location = $2 \
                 RETURNING entity_key, seq",
            )
            .bind(self.source.clone())
            .bind(location)
            .fetch_all(&mut *self.tx)
            .await?;
            for r in rows {
                before.entry(r.get(0)).or_default().push(r.get(1));
            }
            for seqs in before.values_mut() {
                seqs.sort_unstable_by(|a, b| b.cmp(a));
            }
        }
        for e in &mut stored {
            e.seq = match before.get_mut(&e.key).and_then(Vec::pop) {
                Some(seq) => seq,
                None => {
                    self.next_seq += 1;
                    self.next_seq - 1
                }
            };
        }
        for chunk in stored.chunks(BATCH) {
            let sql = insert_sql(
                self.backend,
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
                    .bind(e.seq)
                    .bind(serde_json::to_string(&e.claims)?)
                    .bind(p.orphaned_at)
                    .bind(self.scope.clone());
            }
            q.execute(&mut *self.tx).await.context("storing entities")?;
        }
        Ok(stored)
    }

    /// At `finish`, keeps as last stored every file this replacement has not seen: a
    /// configured path could not be read, so what is missing is unknown, not deleted.
    pub fn keep_unseen_at_finish(&mut self) {
        self.keep_unseen = true;
    }

    /// Problems found outside any file (a configured path that does not exist).
    pub fn add_problems(&mut self, problems: impl IntoIterator<Item = Problem>) {
        self.problems.extend(problems);
    }

    /// Retires (`retire`: deletes or orphans) the files at these locations.
    async fn retire(&mut self, retire: &str, locations: &[String]) -> Result<()> {
        for loc in locations {
            sqlx::query(AssertSqlSafe(retire.to_string()))
                .bind(self.source.clone())
                .bind(loc)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
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
        let unseen: Vec<String> = self
            .existing
            .iter()
            .filter(|l| !self.seen.contains(*l))
            .cloned()
            .collect();
        if self.keep_unseen {
            self.kept.extend(unseen);
        } else {
            self.retire(&retire, &unseen).await?;
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
                self.backend,
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
const ENTITY_COLUMNS: &str = "source, location, line, entity_key, commit_sha, fetched_at, reasons, body, claims, orphaned_at, seq";

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
        seq: r.get(10),
    })
}

/// On PostgreSQL, waits until no other transaction changes `source`'s rows, on any replica, and
/// holds that turn until this transaction ends. Two pushes applied at once would otherwise both
/// insert a repository's rows (the second failing on the first's), or number their rows from
/// the same last `seq`. On SQLite, the write lock a replacement takes already does this.
async fn take_turn(
    backend: Backend,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    source: &str,
) -> Result<()> {
    // The two-number form: its own key space, apart from the store's one-number locks.
    const CATALOG_ROWS: i32 = 7415;
    if backend == Backend::Postgres {
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1, hashtext($2))) l")
            .bind(CATALOG_ROWS)
            .bind(source)
            .execute(&mut **tx)
            .await
            .context("waiting for another change to the same source's entities")?;
    }
    Ok(())
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

/// Where a source's row numbers start: local files first, then Backstage, GitHub, Terraform,
/// then the rest (registrations). No two sources share a range, so rows never tie.
fn seq_base(source: &str) -> i64 {
    const RANGE: i64 = 1_000_000_000_000;
    match source {
        "local" => 0,
        "backstage" => RANGE,
        "github" => 2 * RANGE,
        "terraform" => 3 * RANGE,
        _ => 4 * RANGE,
    }
}

impl Store {
    /// Drops what `provisional` holds of entities another source now defines: a registration
    /// stands only until the real definition arrives. Returns how many were dropped.
    pub async fn drop_superseded(&self, provisional: &str) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM entities WHERE source = $1 AND entity_key IN \
             (SELECT entity_key FROM entities WHERE source <> $1)",
        )
        .bind(provisional)
        .execute(&self.pool)
        .await
        .context("dropping registrations a source now defines")?;
        Ok(done.rows_affected())
    }

    /// The scopes (GitHub: `owner/name/`) in which `source` holds a component, not orphaned.
    pub async fn component_scopes(&self, source: &str) -> Result<HashSet<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT scope FROM entities WHERE source = $1 \
             AND entity_key LIKE 'component:%' AND orphaned_at IS NULL",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await
        .context("looking for the scopes holding components")?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    /// Whether the store holds entities of a source other than `source`.
    pub async fn holds_other_sources(&self, source: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM entities WHERE source <> $1 LIMIT 1")
            .bind(source)
            .fetch_optional(&self.pool)
            .await
            .context("looking for other sources' entities")?;
        Ok(row.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_numbers_parameters() {
        assert_eq!(
            insert_sql(Backend::Postgres, "I ", 2, 2, ""),
            "I ($1, $2), ($3, $4)"
        );
        assert_eq!(
            insert_sql(Backend::Sqlite, "I ", 2, 2, " S"),
            "I (?, ?), (?, ?) S"
        );
    }
}
