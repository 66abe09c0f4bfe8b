//! Syncing: read the sources, store what they hold, build the snapshot the bot answers from.
//!
//! The store is written first and the snapshot built after, so a crash between the two loses
//! nothing: the next start-up rebuilds the snapshot from the store.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::Utc;

use crate::catalog::Snapshot;
use crate::config::Config;
use crate::sources::local::{self, ScanOutcome};
use crate::store::{Store, SyncRun};

/// What a sync did, for people and logs.
#[derive(Clone, Debug)]
pub struct SyncReport {
    pub files: usize,
    pub entities: usize,
    pub quarantined: usize,
    pub problems: usize,
    pub conflicts: usize,
    /// Files whose last good read was kept because this one failed.
    pub kept: Vec<String>,
    /// Kinds kept but not interpreted (Template, kinds of plugins), with counts.
    pub uninterpreted: Vec<(String, usize)>,
    pub took: Duration,
}

impl SyncReport {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "synced {} files: {} entities ({} quarantined), {} problems, {} conflicts in {:.2?}",
            self.files, self.entities, self.quarantined, self.problems, self.conflicts, self.took
        );
        if !self.uninterpreted.is_empty() {
            let kinds: Vec<String> = self
                .uninterpreted
                .iter()
                .map(|(k, n)| format!("{k} ({n})"))
                .collect();
            s.push_str(&format!("; kept, not interpreted: {}", kinds.join(", ")));
        }
        if !self.kept.is_empty() {
            s.push_str(&format!(
                "; {} broken or unreadable files kept as last read",
                self.kept.len()
            ));
        }
        s
    }
}

/// Scans the configured local paths without touching a database.
pub fn scan_local(
    paths: &[String],
    config: &Config,
    progress: &mut dyn FnMut(usize, usize),
) -> ScanOutcome {
    local::scan(
        paths,
        &config.catalog.limits(),
        Utc::now().timestamp(),
        progress,
    )
}

/// A full sync of the local source: scan, store, rebuild.
pub async fn sync_local(
    config: &Config,
    store: &Store,
    mut progress: impl FnMut(usize, usize) + Send + 'static,
) -> Result<(Snapshot, SyncReport)> {
    let started = Instant::now();
    let started_at = Utc::now().timestamp();
    let paths = config.catalog.local.paths.clone();
    let cfg = config.clone();
    let outcome = tokio::task::spawn_blocking(move || scan_local(&paths, &cfg, &mut progress))
        .await
        .context("the catalog scan stopped unexpectedly")?;
    let kept = store
        .replace_source(
            "local",
            &outcome.entities,
            &outcome.problems,
            &outcome.incomplete,
        )
        .await?;
    let quarantined = outcome
        .entities
        .iter()
        .filter(|e| e.is_quarantined())
        .count();
    let (files, n, problems) = (
        outcome.files_read,
        outcome.entities.len(),
        outcome.problems.len(),
    );
    let snapshot = if kept.is_empty() {
        Snapshot::build(outcome.entities, outcome.problems, Utc::now().timestamp())
    } else {
        // Entities kept from broken files live only in the store now.
        load_snapshot(store).await?
    };
    store
        .record_sync_run(&SyncRun {
            source: "local".into(),
            started_at,
            finished_at: Utc::now().timestamp(),
            files: files as i64,
            entities: n as i64,
            quarantined: quarantined as i64,
            problems: problems as i64,
        })
        .await?;
    release_memory();
    let report = SyncReport {
        files,
        entities: n,
        quarantined,
        problems,
        conflicts: snapshot.conflicts.len(),
        kept,
        uninterpreted: snapshot.uninterpreted_kinds.clone(),
        took: started.elapsed(),
    };
    Ok((snapshot, report))
}

/// Gives memory freed after a sync or a rebuild back to the operating system. The raw documents
/// of a large catalog take several times the snapshot's size while they live; without this the
/// process would keep that peak resident for good.
pub fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Rebuilds the snapshot from the store (start-up, or after a partial sync).
pub async fn load_snapshot(store: &Store) -> Result<Snapshot> {
    let t = Instant::now();
    let (entities, problems) = store.load_catalog().await?;
    let loaded = t.elapsed();
    let n = entities.len();
    let snap = tokio::task::spawn_blocking(move || {
        Snapshot::build(entities, problems, Utc::now().timestamp())
    })
    .await?;
    release_memory();
    tracing::info!(
        entities = n,
        load = ?loaded,
        build = ?(t.elapsed() - loaded),
        "catalog rebuilt from the store"
    );
    Ok(snap)
}
