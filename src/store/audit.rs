//! The audit log: entries appended one at a time under the chain's head (a single row every
//! append locks), in the transaction of the change they describe.

use anyhow::{Context, Result};
use sqlx::Row;

use super::{Backend, Store};
use crate::audit::{self, Broken, Entry, Event, Head, Link, Verifier};

/// Appends `event` to the chain inside `tx`.
pub(crate) async fn append(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    event: &Event,
) -> Result<Entry> {
    // Taking the head locks it (PostgreSQL's row lock; SQLite's write lock): appends queue.
    let row =
        sqlx::query("UPDATE audit_head SET count = count + 1 WHERE id = 1 RETURNING count, hash")
            .fetch_one(&mut **tx)
            .await
            .context("taking the audit log's head")?;
    let seq: i64 = row.get(0);
    let prev_hash: String = row.get(1);
    let hash = audit::hash(seq, event, &prev_hash);
    sqlx::query(
        "INSERT INTO audit (seq, at, actor, identity, action, target, run_id, detail, \
         generation, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(seq)
    .bind(event.at)
    .bind(&event.actor)
    .bind(&event.identity)
    .bind(&event.action)
    .bind(&event.target)
    .bind(event.run_id)
    .bind(event.detail.to_string())
    .bind(event.generation)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await
    .context("appending to the audit log")?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    Ok(Entry {
        seq,
        event: event.clone(),
        prev_hash,
        hash,
    })
}

fn entry(r: &sqlx::any::AnyRow) -> Result<Entry> {
    let detail: String = r.get("detail");
    Ok(Entry {
        seq: r.get("seq"),
        event: Event {
            at: r.get("at"),
            actor: r.get("actor"),
            identity: r.get("identity"),
            action: r.get("action"),
            target: r.get("target"),
            run_id: r.get("run_id"),
            detail: serde_json::from_str(&detail).context("an audit entry's detail")?,
            generation: r.get("generation"),
        },
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    })
}

const COLUMNS: &str =
    "seq, at, actor, identity, action, target, run_id, detail, generation, prev_hash, hash";

impl Store {
    /// Records `event` on its own (a refusal, which changes nothing else).
    pub async fn audit(&self, event: &Event) -> Result<Entry> {
        let mut w = self.write().await?;
        let e = append(&mut w.tx, event).await?;
        w.commit().await?;
        Ok(e)
    }

    /// Up to `limit` entries after `after` (a seq), in order: for verifying and exporting.
    pub async fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<Entry>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2"
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("reading the audit log")?;
        rows.iter().map(entry).collect()
    }

    /// Every entry in order, their details left as stored, in pages of `page` sent to `to`:
    /// for verifying a long log while it is read.
    pub async fn audit_links(
        &self,
        page: usize,
        to: tokio::sync::mpsc::Sender<Vec<Link>>,
    ) -> Result<()> {
        type Row = (
            i64,
            i64,
            String,
            String,
            String,
            Option<String>,
            Option<i64>,
            String,
            i64,
            String,
            String,
        );
        let link = |r: Row| Link {
            seq: r.0,
            event: Event {
                at: r.1,
                actor: r.2,
                identity: r.3,
                action: r.4,
                target: r.5,
                run_id: r.6,
                detail: serde_json::Value::Null,
                generation: r.8,
            },
            detail: r.7,
            prev_hash: r.9,
            hash: r.10,
        };
        // A page is read as one row, the database aggregating its entries into one JSON array:
        // one hop per page rather than one per entry (several microseconds each through sqlx).
        let page_sql = match self.backend {
            Backend::Sqlite => format!(
                "SELECT json_group_array(json_array({COLUMNS})) FROM \
                 (SELECT {COLUMNS} FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2)"
            ),
            Backend::Postgres => format!(
                "SELECT COALESCE(json_agg(json_build_array({COLUMNS}) ORDER BY seq), '[]')::text \
                 FROM (SELECT {COLUMNS} FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2) page"
            ),
        };
        let mut after = 0i64;
        loop {
            let (text,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(page_sql.clone()))
                .bind(after)
                .bind(page as i64)
                .fetch_one(&self.pool)
                .await
                .context("reading the audit log")?;
            let rows: Vec<Row> =
                serde_json::from_str(&text).context("reading a page of the audit log")?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            if to.send(rows.into_iter().map(link).collect()).await.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Checks the whole chain against `recorded` (a head kept elsewhere), reading pages on one
    /// task while checking them on another. Ok(Err) names where the chain breaks.
    pub async fn verify_audit(&self, recorded: Option<Head>) -> Result<Result<Head, Broken>> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let store = self.clone();
        let reader = tokio::spawn(async move { store.audit_links(10_000, tx).await });
        let checked = tokio::task::spawn_blocking(move || {
            let mut v = Verifier::new(recorded);
            while let Some(page) = rx.blocking_recv() {
                v.check(&page)?;
            }
            v.finish()
        })
        .await
        .context("checking the audit log")?;
        // A reader stopped by a broken chain found nothing more to say.
        match (reader.await.context("reading the audit log")?, &checked) {
            (Err(e), Ok(_)) => Err(e),
            _ => Ok(checked),
        }
    }

    /// The newest `limit` entries about a run, or an entity, or all, newest first.
    pub async fn audit_about(
        &self,
        target: Option<&str>,
        run_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Entry>> {
        let mut conditions = Vec::new();
        if target.is_some() {
            conditions.push(format!("target = ${}", conditions.len() + 1));
        }
        if run_id.is_some() {
            conditions.push(format!("run_id = ${}", conditions.len() + 1));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM audit {filter} ORDER BY seq DESC LIMIT ${}",
            conditions.len() + 1
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(t) = target {
            q = q.bind(t);
        }
        if let Some(r) = run_id {
            q = q.bind(r);
        }
        let rows = q
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("reading the audit log")?;
        rows.iter().map(entry).collect()
    }

    /// The chain's head as the store holds it.
    pub async fn audit_head(&self) -> Result<Head> {
        let row = sqlx::query("SELECT count, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .context("reading the audit log's head")?;
        Ok(Head {
            count: row.get(0),
            hash: row.get(1),
        })
    }
}
