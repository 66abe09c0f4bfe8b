//! Database access: the durable copy of the catalog and the record of syncs.
//!
//! One code path serves SQLite (the embedded default) and PostgreSQL through sqlx's Any driver;
//! only the migrations differ per backend. Functions are named for what they mean to the rest of
//! the program; parameters are always bound. By area: `catalog` (entities by source and file),
//! `events` (chat events claimed and answered), `sync_runs` (syncs and source events),
//! `github` (repository states, cached responses), `actions` (button actions too long for a
//! button), `runs` (workflow runs, their decisions and steps), `cards` (the posted copies of runs'
//! cards, reminders, reviews of emergency runs), `audit` (the chained log), `watch` (what the catalog watch saw: the change log, weekly
//! scores), `nudges` (nudges, snoozes, exemptions), `digests` (one row per team and period), `usage` (questions per day, those that found nothing), `reports` ("is this wrong?"), `sboms` (the packages SBOMs list); a new
//! area is a new file with its own
//! `impl Store` block and its migration in `migrations/{sqlite,postgres}`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

mod actions;
mod audit;
mod cards;
mod catalog;
mod digests;
mod events;
mod feed;
mod github;
mod leases;
mod nudges;
mod people;
mod reports;
mod rosters;
mod runs;
mod sboms;
mod sync_runs;
mod threads;
mod usage;
mod watch;

pub use cards::Card;
pub use catalog::Replacement;
pub use digests::{DigestClaim, DigestRow};
pub use feed::FeedEntry;
pub use github::RepoState;
pub use nudges::{Exemption, Nudge};
pub use reports::Report;
pub use runs::{Holder, NewRun};
pub use sboms::StoredSbom;
pub use sync_runs::SyncRun;
pub use threads::RepoChange;
pub use usage::UsageRow;
pub use watch::{Change, Observation, Problem, TeamWeek, Watched, WeekScore};

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

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    pub backend: Backend,
    /// Where it is, for connections of their own (`Store::listen`).
    url: Arc<str>,
    /// SQLite has one writer: replacements take turns here rather than fail with "database is
    /// locked" when a read transaction tries to become a write one.
    write_gate: Arc<tokio::sync::Mutex<()>>,
}

/// The file of a `sqlite:` URL (None for PostgreSQL and an in-memory database).
fn sqlite_file(url: &str) -> Option<String> {
    let path = url
        .strip_prefix("sqlite:")?
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// The lock a `serve` holds on its SQLite file for as long as it runs: SQLite serves one
/// process (questions may still be asked from a shell beside it), and a second `serve` on the
/// same file is refused with why, never left to contend for it. None for PostgreSQL, where
/// any number of replicas share the database.
pub fn lock_for_serving(url: &str) -> Result<Option<std::fs::File>> {
    let Some(path) = sqlite_file(url) else {
        return Ok(None);
    };
    if let Some(dir) = Path::new(&path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the database directory {}", dir.display()))?;
    }
    let lock = format!("{path}.serve-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .with_context(|| format!("cannot open {lock}"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `switchboard serve` is running on {path} (it holds {lock}): SQLite serves \
             one process; stop it first, or run several replicas on PostgreSQL (database.url)"
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {lock}"))
        }
    }
}

/// How long a query waits for a connection before the database counts as unreachable.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether `e` came of a database that cannot be reached (a connection refused or broken, no
/// connection to be had in time), rather than of what was asked of it.
pub fn unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<sqlx::Error>().is_some_and(|s| {
            matches!(
                s,
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
            )
        })
    })
}

impl Store {
    /// Whether the database answers, within `within`: why not, if it does not.
    pub async fn trouble(&self, within: std::time::Duration) -> Option<String> {
        let asked = sqlx::query("SELECT 1").fetch_one(&self.pool);
        match tokio::time::timeout(within, asked).await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(redact(&e.to_string())),
            Err(_) => Some(format!("no answer within {within:?}")),
        }
    }

    /// Connects (creating the SQLite file and its directory if needed) and applies migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let mut url = url.to_string();
        if backend == Backend::Sqlite {
            let path = sqlite_file(&url).unwrap_or_default();
            if !path.is_empty() {
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
            // A database that cannot be reached is said so within seconds (a reply, a 503 for
            // Slack to retry), not after the pool's default of 30 s.
            .acquire_timeout(ACQUIRE_TIMEOUT)
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
            url: Arc::from(url.as_str()),
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

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction. On SQLite it takes this process's turn at the one writer and the
    /// database's write lock at once (`BEGIN IMMEDIATE`), so a transaction that reads before it
    /// writes never fails midway because another wrote in between.
    pub(crate) async fn write(&self) -> Result<Write> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let gate = self.write_gate.clone().lock_owned().await;
                Write {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _gate: Some(gate),
                }
            }
            Backend::Postgres => Write {
                tx: self.pool.begin().await?,
                _gate: None,
            },
        })
    }
}

/// A write transaction and, on SQLite, the writer's turn it holds until it ends.
pub(crate) struct Write {
    pub tx: sqlx::Transaction<'static, sqlx::Any>,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Write {
    pub async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}

/// `prefix ($1, …, $cols), (…) … suffix` for `rows` rows; on SQLite the parameters are
/// anonymous (`?`): binding each of a statement's thousands of named parameters makes SQLite
/// search their names, which cost half of a full sync's time.
pub(crate) fn insert_sql(
    backend: Backend,
    prefix: &str,
    cols: usize,
    rows: usize,
    suffix: &str,
) -> String {
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
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => sql.push_str(&format!("${}", r * cols + c + 1)),
            }
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
}
