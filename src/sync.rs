//! Syncing: read the sources, store what they hold, build the snapshot the bot answers from.
//!
//! Files stream through: each is parsed, stored and reduced to its compact form before the
//! next arrives, so a large catalog never sits in memory as raw documents. The store is
//! committed before the snapshot is swapped in, so a crash between the two loses nothing: the
//! next start-up rebuilds the snapshot from the store.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::Utc;

use crate::catalog::Snapshot;
use crate::catalog::snapshot::{Prepared, Preparer, Problem};
use crate::config::Config;
use crate::sources::github::{Auth, GitHub};
use crate::sources::local::{self, ScanOutcome, ScannedFile};
use crate::sources::pagerduty::PagerDuty;
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

/// Scans the given paths without touching a database (`check`, `ask --catalog`).
pub fn scan_local(paths: &[String], config: &Config) -> ScanOutcome {
    local::scan(paths, &config.catalog.reader(), Utc::now().timestamp())
}

/// A full sync of the local source: scan, store, rebuild.
pub async fn sync_local(
    config: &Config,
    store: &Store,
    progress: impl FnMut(usize, usize) + Send + 'static,
) -> Result<(Snapshot, SyncReport)> {
    let local = store_local(config, store, progress).await?;
    let snapshot = assemble(local.prepared, local.problems).await?;
    let report = local.report.with_snapshot(&snapshot);
    Ok((snapshot, report))
}

/// What the local source delivered: stored, and reduced to its compact form.
struct LocalRead {
    prepared: Vec<Result<Prepared, Problem>>,
    problems: Vec<Problem>,
    report: SyncReport,
}

impl SyncReport {
    /// Fills in what only the assembled snapshot knows.
    fn with_snapshot(mut self, snapshot: &Snapshot) -> SyncReport {
        self.conflicts = snapshot.conflicts.len();
        self.uninterpreted = snapshot.uninterpreted_kinds.clone();
        self
    }
}

/// Scans the local files and stores them, each file reduced to its compact form as it passes.
async fn store_local(
    config: &Config,
    store: &Store,
    mut progress: impl FnMut(usize, usize) + Send + 'static,
) -> Result<LocalRead> {
    let started = Instant::now();
    let started_at = Utc::now().timestamp();
    let paths = config.catalog.local.paths.clone();
    let reader = config.catalog.reader();
    // A few files in flight at most: the scan waits while the store catches up.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ScannedFile>(4);
    let scan = tokio::task::spawn_blocking(move || {
        local::scan_each(&paths, &reader, started_at, &mut |f| {
            let _ = tx.blocking_send(f);
        })
    });
    let mut replacement = store.begin_replace("local").await?;
    let mut preparer = Preparer::default();
    let mut prepared: Vec<Result<Prepared, Problem>> = Vec::new();
    let (mut files, mut quarantined) = (0usize, 0usize);
    let (mut dirs, mut unread_dirs) = (BTreeSet::new(), BTreeSet::new());
    while let Some(f) = rx.recv().await {
        files += usize::from(!f.unreadable);
        if f.unreadable {
            unread_dirs.insert(local::scope_of(&f.location));
        } else {
            dirs.insert(local::scope_of(&f.location));
        }
        let complete = !f.report.broken;
        let stored = replacement
            .file(&f.location, f.report.entities, f.report.problems, complete)
            .await?;
        quarantined += stored.iter().filter(|e| e.is_quarantined()).count();
        prepared.extend(stored.into_iter().map(|e| preparer.prepare(e)));
        progress(files, prepared.len());
    }
    let path_problems = scan
        .await
        .context("the catalog scan stopped unexpectedly")?;
    // In the store's order, as a rebuild from it reads them (an edited file keeps its rows'
    // places; a new file's come last).
    prepared.sort_by_key(|p| p.as_ref().map_or(i64::MAX, Prepared::seq));
    replacement.add_problems(path_problems);
    // The SBOMs beside the catalog files, for `who uses`.
    let globs = config.catalog.local.sbom_globs.clone();
    let read_dirs = dirs.clone();
    let (sboms, sbom_problems) =
        tokio::task::spawn_blocking(move || local::sboms(&read_dirs, &globs, started_at))
            .await
            .context("the SBOM scan stopped unexpectedly")?;
    // An SBOM that could not be read, or beside catalog files that could not be, keeps what
    // it delivered last, as those files do.
    let unread: BTreeSet<String> = sbom_problems.iter().map(|p| p.location.clone()).collect();
    let unread_scopes: BTreeSet<String> = unread_dirs
        .difference(&dirs)
        .map(|d| crate::compliance::local_scope(d))
        .collect();
    replacement.add_problems(sbom_problems);
    let (kept, problems) = replacement.finish().await?;
    store
        .replace_sboms("local", &sboms, &|location, scope| {
            unread.contains(location) || unread_scopes.contains(scope)
        })
        .await?;
    let entities = prepared.len();
    record_run(
        store,
        "local",
        started_at,
        [files, entities, quarantined, problems.len()],
    )
    .await?;
    let report = SyncReport {
        files,
        entities,
        quarantined,
        problems: problems.len(),
        conflicts: 0,
        kept,
        uninterpreted: Vec::new(),
        took: started.elapsed(),
    };
    Ok(LocalRead {
        prepared,
        problems,
        report,
    })
}

/// Assembles a snapshot off the async threads, then hands the memory of the load back.
async fn assemble(
    prepared: Vec<Result<Prepared, Problem>>,
    problems: Vec<Problem>,
) -> Result<Snapshot> {
    let snap = tokio::task::spawn_blocking(move || {
        Snapshot::assemble(prepared, problems, Utc::now().timestamp())
    })
    .await?;
    release_memory();
    Ok(snap)
}

/// What a sync of every source did.
pub struct SyncAll {
    pub snapshot: Snapshot,
    /// When the snapshot's read of the store began: changes stored later may be missing from
    /// it (`Bot::caught_up` patches them in).
    pub read_from: Instant,
    /// A summary line per source.
    pub lines: Vec<String>,
    /// Sources that failed, and why; they keep what they delivered last.
    pub failures: Vec<(String, String)>,
}

pub use crate::status::SourceStatus;

/// The sources this configuration reads.
pub fn configured_sources(config: &Config) -> Vec<&'static str> {
    let mut s = vec!["local"];
    if !config.catalog.backstage.url.is_empty() {
        s.push("backstage");
    }
    if !config.catalog.github.orgs.is_empty() {
        s.push("github");
    }
    if !config.catalog.terraform.paths.is_empty() {
        s.push("terraform");
    }
    s
}

/// Each configured source's standing, from the store's record of syncs and the latest failures.
pub async fn source_statuses(
    config: &Config,
    store: &Store,
    failures: &[(String, String)],
) -> Result<Vec<SourceStatus>> {
    let mut out = Vec::new();
    for source in configured_sources(config) {
        out.push(SourceStatus {
            source: source.to_string(),
            last_complete: store.last_sync(source).await?,
            last_error: failures
                .iter()
                .find(|(s, _)| s == source)
                .map(|(_, e)| (Utc::now().timestamp(), e.clone())),
            every_secs: match source {
                "github" => config.catalog.github.interval_secs,
                _ => config.catalog.local.interval_secs,
            },
            last_event: store.last_event(source).await?,
        });
    }
    Ok(out)
}

/// The sources beyond the local files, with their credentials, built once per process (the
/// GitHub client is shared with the webhook route).
#[derive(Clone, Default)]
pub struct Sources {
    pub github: Option<Arc<GitHub>>,
    /// PagerDuty, when `pagerduty.enabled` (its token from PAGERDUTY_TOKEN).
    pub pagerduty: Option<Arc<PagerDuty>>,
    /// BACKSTAGE_TOKEN, if set.
    pub backstage_token: Option<String>,
}

impl Sources {
    /// From the configuration, with credentials from the environment.
    pub fn from_env(config: &Config, store: &Store) -> Result<Sources> {
        let gh = &config.catalog.github;
        let github = if gh.orgs.is_empty() {
            None
        } else {
            Some(Arc::new(
                GitHub::new(
                    gh,
                    Auth::from_env(gh)?,
                    store.clone(),
                    config.catalog.reader(),
                )?
                .with_changes_kept(chrono::Duration::days(
                    config.changes.retention_days.clamp(1, 3650) as i64,
                )),
            ))
        };
        let var = |k: &str| std::env::var(k).ok().filter(|t| !t.is_empty());
        let pagerduty = if config.pagerduty.enabled {
            let token = var("PAGERDUTY_TOKEN");
            if token.is_none() {
                anyhow::bail!("pagerduty.enabled is true but PAGERDUTY_TOKEN is not set");
            }
            Some(Arc::new(PagerDuty::new(&config.pagerduty, token)?))
        } else {
            None
        };
        Ok(Sources {
            github,
            pagerduty,
            backstage_token: var("BACKSTAGE_TOKEN"),
        })
    }
}

/// Reads every configured source and returns the snapshot of them all, with a summary line
/// per source. A source that fails keeps what it delivered last; the others still sync.
pub async fn sync_all(
    config: &Config,
    store: &Store,
    sources: &Sources,
    progress: impl FnMut(&str, usize, usize) + Send + Clone + 'static,
) -> Result<SyncAll> {
    let mut lines = Vec::new();
    let mut failures = Vec::new();
    let mut fail = |source: &str, e: anyhow::Error, lines: &mut Vec<String>| {
        tracing::error!("{source} sync failed: {e:#}");
        lines.push(format!(
            "{source} sync failed, keeping what it delivered last: {e:#}"
        ));
        failures.push((source.to_string(), format!("{e:#}")));
    };
    if !config.catalog.backstage.url.is_empty() {
        match sync_backstage(config, store, sources.backstage_token.clone()).await {
            Ok(line) => lines.push(line),
            Err(e) => fail("backstage", e, &mut lines),
        }
    }
    if !config.catalog.terraform.paths.is_empty() {
        match sync_terraform(config, store).await {
            Ok(line) => lines.push(line),
            Err(e) => fail("terraform", e, &mut lines),
        }
    }
    if let Some(github) = sources.github.as_ref().filter(|g| g.due()) {
        let mut p = progress.clone();
        match github
            .scan(&mut |repos, entities| p("GitHub", repos, entities))
            .await
        {
            Ok(r) => {
                let counts = [r.files, r.entities, r.quarantined, r.problems];
                match record_run(store, "github", r.started_at, counts).await {
                    Ok(()) => lines.push(r.summary()),
                    Err(e) => fail("github", e, &mut lines),
                }
            }
            Err(e) => fail("github", e, &mut lines),
        }
    }
    let read_from = Instant::now();
    if lines.is_empty() && !store.holds_other_sources("local").await? {
        let mut p = progress;
        let (snapshot, local) = sync_local(config, store, move |f, e| p("local", f, e)).await?;
        return Ok(SyncAll {
            snapshot,
            read_from,
            lines: vec![local.summary()],
            failures,
        });
    }
    // One assembly for every source: the local files as just read, then the other sources'
    // rows from the store (they come after the local ones, which win a tie).
    let mut p = progress;
    let local = store_local(config, store, move |f, e| p("local", f, e)).await?;
    drop_superseded(store).await;
    let mut prepared = local.prepared;
    let mut preparer = Preparer::default();
    store
        .for_each_entity(i64::MIN, i64::MAX, "local", |e| {
            prepared.push(preparer.prepare(e))
        })
        .await?;
    let problems = store.load_problems().await?;
    let snapshot = assemble(prepared, problems).await?;
    lines.insert(0, local.report.with_snapshot(&snapshot).summary());
    Ok(SyncAll {
        snapshot,
        read_from,
        lines,
        failures,
    })
}

/// Reads the configured Backstage (with `token`, from BACKSTAGE_TOKEN) and stores what it
/// holds, grouped by each entity's location. Nothing is written unless every page was read.
pub async fn sync_backstage(
    config: &Config,
    store: &Store,
    token: Option<String>,
) -> Result<String> {
    let started = Instant::now();
    let started_at = Utc::now().timestamp();
    let source = crate::sources::backstage::BackstageSource {
        base_url: config.catalog.backstage.url.clone(),
        token,
        page_size: config.catalog.backstage.page_size.max(1),
    };
    let entities = source.fetch(started_at, &mut |_| {}).await?;
    let quarantined = entities.iter().filter(|e| e.is_quarantined()).count();
    let n = entities.len();
    let mut replacement = store.begin_replace("backstage").await?;
    let mut locations = 0usize;
    let mut rest = entities;
    while !rest.is_empty() {
        let loc = rest[0].provenance.location.clone();
        let (mut group, others): (Vec<_>, Vec<_>) =
            rest.into_iter().partition(|e| e.provenance.location == loc);
        // Backstage gives no line numbers: number the documents of a location instead.
        for (i, e) in group.iter_mut().enumerate() {
            e.provenance.line = i as u32 + 1;
        }
        replacement.file(&loc, group, Vec::new(), true).await?;
        locations += 1;
        rest = others;
    }
    replacement.finish().await?;
    record_run(
        store,
        "backstage",
        started_at,
        [locations, n, quarantined, 0],
    )
    .await?;
    Ok(format!(
        "synced Backstage at {}: {n} entities ({quarantined} quarantined) from {locations} locations in {:.2?}",
        source.base_url,
        started.elapsed()
    ))
}

/// Reads the Terraform state files `catalog.terraform.paths` names and stores their resources,
/// a file at a time. A file that cannot be read keeps what it delivered last; one that is gone
/// takes its resources with it.
pub async fn sync_terraform(config: &Config, store: &Store) -> Result<String> {
    use crate::sources::terraform;
    let started = Instant::now();
    let started_at = Utc::now().timestamp();
    let tf = config.catalog.terraform.clone();
    let (reads, path_problems) = tokio::task::spawn_blocking(move || {
        let (files, problems) = terraform::state_files(&tf.paths);
        let reads: Vec<(String, terraform::StateRead)> = files
            .iter()
            .map(|f| {
                let location = local::display(f);
                let read = terraform::read_state(f, &location, &tf.workspaces, started_at);
                (location, read)
            })
            .collect();
        (reads, problems)
    })
    .await
    .context("the Terraform scan stopped unexpectedly")?;
    let files = reads.len();
    let (mut resources, mut quarantined) = (0usize, 0usize);
    let mut replacement = store.begin_replace("terraform").await?;
    // A path that matched nothing or could not be listed (an unmounted volume): what its
    // files delivered is kept, not deleted.
    if !path_problems.is_empty() {
        replacement.keep_unseen_at_finish();
    }
    replacement.add_problems(path_problems);
    // Two files of one workspace (a copy, two backends) would make the same entities.
    let mut workspaces: std::collections::BTreeMap<String, &str> = Default::default();
    for (location, _) in &reads {
        let ws = terraform::workspace_of(std::path::Path::new(location));
        if let Some(first) = workspaces.insert(ws.clone(), location) {
            replacement.add_problems([Problem {
                location: location.clone(),
                line: 0,
                message: format!(
                    "workspace `{ws}` is read from {first} too: the first file's resources win"
                ),
            }]);
        }
    }
    for (location, read) in reads {
        resources += read.entities.len();
        quarantined += read.entities.iter().filter(|e| e.is_quarantined()).count();
        replacement
            .file(&location, read.entities, read.problems, read.complete)
            .await?;
    }
    let (kept, problems) = replacement.finish().await?;
    record_run(
        store,
        "terraform",
        started_at,
        [files, resources, quarantined, problems.len()],
    )
    .await?;
    let mut line = format!(
        "synced Terraform: {resources} resources ({quarantined} quarantined) from {files} state files, {} problems in {:.2?}",
        problems.len(),
        started.elapsed()
    );
    if !kept.is_empty() {
        line.push_str(&format!(
            "; {} unreadable state files kept as last read",
            kept.len()
        ));
    }
    Ok(line)
}

/// Records a complete sync of `source` (files, entities, quarantined, problems): the one
/// place every source's runs are recorded, read back by `sync status`.
async fn record_run(
    store: &Store,
    source: &str,
    started_at: i64,
    [files, entities, quarantined, problems]: [usize; 4],
) -> Result<()> {
    store
        .record_sync_run(&SyncRun {
            source: source.into(),
            started_at,
            finished_at: Utc::now().timestamp(),
            files: files as i64,
            entities: entities as i64,
            quarantined: quarantined as i64,
            problems: problems as i64,
        })
        .await
}

/// Registrations a real source now defines give way to it (`catalog.register`).
async fn drop_superseded(store: &Store) {
    match store
        .drop_superseded(crate::executors::register::SOURCE)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            dropped = n,
            "registrations a source now defines were dropped"
        ),
        Err(e) => tracing::warn!("{e:#}"),
    }
}

/// Gives memory freed after a sync or a rebuild back to the operating system at once, so the
/// process does not hold the peak of a large load (the binary runs on mimalloc).
pub fn release_memory() {
    // SAFETY: mi_collect only walks mimalloc's own heaps; with another allocator it has
    // nothing to do.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// The scopes of several changes, merged per source: each once, in order (for
/// `reread_scopes`).
pub fn scopes_by_source<'a>(
    changes: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> std::collections::BTreeMap<&'a str, Vec<String>> {
    let mut by_source: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> =
        Default::default();
    for (source, scopes) in changes {
        by_source
            .entry(source)
            .or_default()
            .extend(scopes.iter().cloned());
    }
    by_source
        .into_iter()
        .map(|(source, scopes)| (source, scopes.into_iter().collect()))
        .collect()
}

/// The live snapshot after `reread_scopes`.
pub struct Reread {
    pub snapshot: Arc<Snapshot>,
    /// Why it was rebuilt from the store rather than patched, when it was.
    pub rebuilt: Option<String>,
}

/// Brings parts of a source (`scopes`, location prefixes such as `owner/repo/`) from the
/// store into `current`, the live snapshot: each is patched in when a patch can say what the
/// catalog is (`Snapshot::patched`), else the whole snapshot is rebuilt from the store.
pub async fn reread_scopes(
    store: &Store,
    mut current: Arc<Snapshot>,
    source: &str,
    scopes: &[String],
) -> Result<Reread> {
    let t = Instant::now();
    let mut patching = std::time::Duration::ZERO;
    let problems = store.load_problems().await?;
    for scope in scopes {
        let rows = store.scope_entities(source, scope).await?;
        let mut keys = current.scope_keys(source, scope);
        keys.extend(rows.iter().map(|r| r.key.clone()));
        keys.sort_unstable();
        keys.dedup();
        let read = crate::catalog::patch::ScopeRead {
            source: source.to_string(),
            scope: scope.clone(),
            elsewhere: store.defined_elsewhere(source, scope, &keys).await?,
            problems: problems.clone(),
            rows,
        };
        let now = Utc::now().timestamp();
        let p = Instant::now();
        let patched = tokio::task::spawn_blocking(move || current.patched(read, now)).await?;
        patching += p.elapsed();
        match patched {
            Ok(snapshot) => current = Arc::new(snapshot),
            Err(why) => {
                tracing::info!("rebuilding the catalog for {source} {scope}: {why}");
                return Ok(Reread {
                    snapshot: Arc::new(load_snapshot(store).await?),
                    rebuilt: Some(why),
                });
            }
        }
    }
    tracing::debug!(
        took = ?t.elapsed(),
        reading_back = ?t.elapsed() - patching,
        patching = ?patching,
        "{source} {scopes:?} patched into the catalog"
    );
    Ok(Reread {
        snapshot: current,
        rebuilt: None,
    })
}

/// Rebuilds the snapshot from the store (start-up). The two halves of the catalog are read
/// and prepared concurrently, each streamed row by row.
pub async fn load_snapshot(store: &Store) -> Result<Snapshot> {
    let t = Instant::now();
    let (lo, hi) = store.entity_seq_range().await?;
    let mid = lo + (hi - lo) / 2;
    let half = |lo: i64, hi: i64| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut preparer = Preparer::default();
            let mut out = Vec::new();
            store
                .for_each_entity(lo, hi, "", |e| out.push(preparer.prepare(e)))
                .await?;
            anyhow::Ok(out)
        })
    };
    let (first, second) = (half(lo, mid), half(mid + 1, hi));
    let mut prepared = first.await??;
    prepared.extend(second.await??);
    let problems = store.load_problems().await?;
    let loaded = t.elapsed();
    let n = prepared.len();
    let snap = assemble(prepared, problems).await?;
    tracing::info!(
        entities = n,
        load = ?loaded,
        assemble = ?(t.elapsed() - loaded),
        "catalog rebuilt from the store"
    );
    Ok(snap)
}
