//! Scheduled work: the sources and rotations re-read on their intervals, PagerDuty's rosters
//! refreshed; each keeps what the bot has when it fails.

use crate::app::App;
use crate::bot::Bot;
use crate::config::Config;
use crate::feed::Part;
use crate::sources::rotations;
use crate::store::Store;
use crate::sync;

/// How often the catalog watch looks when nothing told it the catalog changed.
const LOOK_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The least time between two looks of the catalog watch: a burst of pushes is looked at
/// once. A look scores the whole catalog (about 8 s of one core at 127,000 entities,
/// BENCHMARKS.md), and nudges and digests need no second-by-second news.
const LOOK_GAP: std::time::Duration = std::time::Duration::from_secs(300);

/// The lease scheduled work runs under: one replica at a time holds it.
pub const LEASE: &str = "scheduled-work";

/// How long the lease lasts unrenewed: a replica that dies has its scheduled work taken over
/// after this.
pub const LEASE_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether this replica runs the scheduled work now: it holds the lease, renewed every third
/// of `LEASE_FOR` (and asked for as often by the others). It counts as held until a third of
/// `LEASE_FOR` before the lease would run out unrenewed, so a replica whose renewals stall
/// stops before another may take over (replicas' clocks are assumed within seconds of each
/// other, as NTP keeps them). On SQLite one process serves (`serve` locks the file): it always
/// does.
#[derive(Clone)]
pub struct Turn {
    held_until: tokio::sync::watch::Receiver<Option<tokio::time::Instant>>,
    /// Asks the renewing task to give the lease up and stop; answered once it has. None on
    /// SQLite, where no task renews a lease.
    stop: Option<tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>>,
}

impl Turn {
    /// Holds the lease for `bot`'s replica from now on, until `release` or the process ends.
    pub fn hold(bot: std::sync::Arc<Bot>, store: Store, lease_for: std::time::Duration) -> Turn {
        if store.backend != crate::store::Backend::Postgres {
            return Turn {
                held_until: tokio::sync::watch::channel(None).1,
                stop: None,
            };
        }
        let (tx, rx) = tokio::sync::watch::channel(None);
        let (stop, mut stopping) =
            tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(1);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(lease_for / 3);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    done = stopping.recv() => {
                        tx.send_replace(None);
                        if let Err(e) = store.release_lease(LEASE, bot.replica()).await {
                            tracing::warn!("the scheduled work moves on when its lease runs out: {e:#}");
                        }
                        if let Some(done) = done {
                            let _ = done.send(());
                        }
                        return;
                    }
                }
                let asked = tokio::time::Instant::now();
                // Wall time: every replica's lease is read on the same clock.
                let now = chrono::Utc::now().timestamp();
                let until = now + lease_for.as_secs() as i64;
                let renewal = store.hold_lease(LEASE, bot.replica(), now, until);
                let held = match tokio::time::timeout(lease_for / 3, renewal).await {
                    Ok(Ok(fence)) => fence.is_some(),
                    // Unrenewed, the lease runs out for another replica to take: stop first.
                    Ok(Err(e)) => {
                        tracing::warn!("scheduled work paused, the lease is not renewed: {e:#}");
                        false
                    }
                    Err(_) => {
                        tracing::warn!("scheduled work paused, the lease's renewal is stalled");
                        false
                    }
                };
                let was = tx.borrow().is_some();
                if held != was {
                    tracing::info!(replica = bot.replica(), held, "the scheduled work's lease");
                }
                tx.send_replace(held.then(|| asked + lease_for - lease_for / 3));
                if tx.is_closed() {
                    return;
                }
            }
        });
        Turn {
            held_until: rx,
            stop: Some(stop),
        }
    }

    /// Whether this replica runs scheduled work now: always on SQLite (nothing renews there).
    pub fn mine(&self) -> bool {
        self.stop.is_none()
            || self
                .held_until
                .borrow()
                .is_some_and(|until| tokio::time::Instant::now() < until)
    }

    /// Waits for this replica's next try at the lease (its renewal, when it holds it).
    pub async fn changed(&mut self) {
        let _ = self.held_until.changed().await;
    }

    /// Waits until this replica runs scheduled work.
    pub async fn wait(&mut self) {
        while !self.mine() {
            // The sender lives as long as the process (or the turn is always held).
            if self.held_until.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Gives the lease up (a process stopping), for another replica to take at once; no more
    /// scheduled work runs here.
    pub async fn release(&self) {
        let Some(stop) = &self.stop else {
            return;
        };
        let (done, given_up) = tokio::sync::oneshot::channel();
        if stop.send(done).await.is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), given_up).await;
        }
    }
}

/// One background re-read of the sources and rotations; a failure keeps what the bot has.
///
/// The sources are read and stored, and the new catalog read back, outside the catalog's
/// turn: a scan of a large organisation takes minutes, and pushes are applied meanwhile (the
/// store keeps the later of two reads of a repository). What they swapped into the live catalog
/// is patched again into the new one before it is swapped in (`Bot::caught_up`).
pub async fn resync(bot: &Bot, store: &Store, sources: &sync::Sources, cfg: &Config) {
    let started = std::time::Instant::now();
    let read = bot.reading_catalog();
    let (mut snapshot, mut status, mut lines) = (None, None, Vec::new());
    // And the SBOMs beside the catalog files, read again too (outside the turn, as the
    // catalog is).
    let mut packages = None;
    match sync::sync_all(cfg, store, sources, |_, _, _| {}).await {
        Ok(mut all) => {
            lines = std::mem::take(&mut all.lines);
            match bot.read_packages(store).await {
                Ok(p) => packages = Some(p),
                Err(e) => tracing::warn!("SBOMs not reloaded: {e:#}"),
            }
            match sync::source_statuses(cfg, store, &all.failures).await {
                Ok(s) => status = Some(s),
                Err(e) => tracing::error!("cannot read the sync record: {e:#}"),
            }
            // Entities per source, and how long the whole sync took.
            let mut per_source: std::collections::BTreeMap<String, usize> = Default::default();
            for (_, e) in all.snapshot.entities() {
                *per_source.entry(e.origin.source.to_string()).or_default() += 1;
            }
            for (source, n) in per_source {
                bot.metrics()
                    .synced(&source, started.elapsed().as_secs_f64(), n);
            }
            snapshot = Some((all.snapshot, all.read_from));
        }
        Err(e) => tracing::error!("sync failed, keeping the current catalog: {e:#}"),
    }
    let rotations = match rotations::load(&cfg.oncall.rotations) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!("rotations not reloaded, keeping the current ones: {e:#}");
            None
        }
    };
    let one_at_a_time = bot.rebuilding().await;
    let snapshot = match snapshot {
        Some((built, since)) => match bot.caught_up(store, &read, since, built.into()).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!("sync not swapped in, keeping the current catalog: {e:#}");
                None
            }
        },
        None => None,
    };
    let swapped = snapshot.is_some();
    bot.refresh(snapshot, status, rotations);
    if let Some(packages) = packages
        && let Err(e) = bot.swap_packages(store, &read, packages).await
    {
        tracing::warn!("SBOMs not reloaded: {e:#}");
    }
    drop(read);
    drop(one_at_a_time);
    // The scan may have found deploys and merges that webhooks missed.
    if let Err(e) = bot.reload_changes(store).await {
        tracing::warn!("recent changes not reloaded: {e:#}");
    }
    if swapped {
        // The previous snapshot is freed now; hand its memory back.
        sync::release_memory();
    }
    // Said once the new catalog answers (and the old one's memory is handed back, but for
    // what questions still under way hold).
    for l in &lines {
        tracing::info!("{l}");
    }
    let mut parts = vec![Part::RepoChanges, Part::Packages, Part::Sources];
    if swapped {
        parts.push(Part::Catalog);
    }
    crate::feed::announce(bot, store, parts).await;
}

/// How often the dependency graphs scans left unread are read: each hour of GitHub's rate
/// budget spares what it can.
const SBOMS_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Reads the dependency graphs that scans left unread, within GitHub's rate budget, outside
/// the catalog's turn (pushes are applied meanwhile; only the swap of the SBOMs reloaded
/// takes it, so that it does not undo a push's); `who uses` answers from them once read.
async fn read_missing_sboms(bot: &Bot, store: &Store, github: &crate::sources::github::GitHub) {
    match github.read_missing_sboms().await {
        Ok((0, _)) => {}
        Ok(_) => {
            if let Err(e) = bot.reload_packages(store).await {
                tracing::warn!("SBOMs not reloaded: {e:#}");
            }
            crate::feed::announce(bot, store, vec![Part::Packages]).await;
        }
        Err(e) => tracing::warn!("dependency graphs not read: {e:#}"),
    }
}

/// Starts the scheduled work of a serving bot: a re-read of the sources now (unless opening
/// just did one) and then on the shortest configured interval, expired button actions
/// forgotten, and PagerDuty's rosters every `pagerduty.ttl_secs`. Times come from the bot's
/// clock.
pub fn spawn(app: &App, config: &Config) -> Turn {
    let turn = Turn::hold(app.bot.clone(), app.store.clone(), LEASE_FOR);
    let synced = app.synced;
    // Whether the start-up re-read is over (it did not need to happen, ran, or failed): the
    // catalog watch scores what it read, not the stored catalog it replaces seconds later.
    let (reread, reread_done) = tokio::sync::watch::channel(synced);
    // Answer from the store at once; re-read the sources now (unless that just happened) and
    // then on an interval.
    {
        let (bot, store, sources, cfg, mut turn) = (
            app.bot.clone(),
            app.store.clone(),
            app.sources.clone(),
            config.clone(),
            turn.clone(),
        );
        tokio::spawn(async move {
            turn.wait().await;
            if !synced {
                resync(&bot, &store, &sources, &cfg).await;
                let _ = reread.send(true);
            }
            // The shortest configured interval; GitHub scans only when its own is due.
            let github = sources
                .github
                .as_ref()
                .map(|_| cfg.catalog.github.interval_secs);
            let Some(secs) = [Some(cfg.catalog.local.interval_secs), github]
                .into_iter()
                .flatten()
                .filter(|&s| s > 0)
                .min()
            else {
                return;
            };
            let period = std::time::Duration::from_secs(secs);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tick.tick().await;
                if turn.mine() {
                    resync(&bot, &store, &sources, &cfg).await;
                }
            }
        });
    }
    // Dependency graphs the scans left, once the start-up re-read is over and then hourly.
    if let Some(github) = app.sources.github.clone() {
        let (bot, store, mut turn) = (app.bot.clone(), app.store.clone(), turn.clone());
        let mut reread_done = reread_done.clone();
        tokio::spawn(async move {
            let _ = reread_done.wait_for(|over| *over).await;
            loop {
                turn.wait().await;
                read_missing_sboms(&bot, &store, &github).await;
                tokio::time::sleep(SBOMS_EVERY).await;
            }
        });
    }
    // Buttons' actions kept past their time are forgotten, a few times a day.
    {
        let (bot, store, mut turn) = (app.bot.clone(), app.store.clone(), turn.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(6 * 3600));
            loop {
                tick.tick().await;
                // Due: swept once this replica's turn comes, not skipped for six hours.
                turn.wait().await;
                let before = (bot.now() - crate::conversation::STORED_FOR).timestamp();
                match store.forget_actions(before).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(forgotten = n, "forgot expired button actions")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("forgetting expired button actions: {e:#}"),
                }
                // Conversations' context past its time, and changes past `changes.retention_days`.
                let (now, kept) = (bot.now(), bot.changes_kept());
                match store
                    .sweep_threads_and_changes(now.timestamp(), (now - kept).timestamp())
                    .await
                {
                    Ok((t, c)) if t + c > 0 => {
                        tracing::info!(threads = t, changes = c, "forgot old context and changes")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("forgetting old context and changes: {e:#}"),
                }
                // The feed replicas catch up from needs no more than a day.
                let day_ago = (bot.now() - chrono::Duration::days(1)).timestamp();
                if let Err(e) = store.forget_changes_before(day_ago).await {
                    tracing::warn!("forgetting old read-model changes: {e:#}");
                }
            }
        });
    }
    // Other replicas' changes are applied here too.
    crate::feed::spawn(app.bot.clone(), app.store.clone(), crate::feed::LOOK_EVERY);
    // Approved workflow runs are run, one step at a time.
    if let Some(desk) = app.bot.desk().cloned() {
        tokio::spawn(desk.work(app.bot.clone()));
    }
    // The catalog watch: a new catalog (or new scorecards) is scored and compared with what
    // was seen (at most every LOOK_GAP), and hourly besides (exemptions lapse, weeks turn);
    // due nudges and digests are
    // sent every minute (quiet hours end, days turn, the digest schedule comes round).
    if let Some(desk) = app.bot.desk().cloned() {
        let (bot, store, turn) = (app.bot.clone(), app.store.clone(), turn.clone());
        let mut reread_done = reread_done;
        tokio::spawn(async move {
            let watch = crate::scorecards::watch::Watch::default();
            let mut looked: Option<tokio::time::Instant> = None;
            let mut changed = false;
            let mut reread_over = *reread_done.borrow();
            loop {
                // Watched, nudged and digested by one replica; usage is each replica's own.
                if turn.mine() {
                    let since = looked.map(|t| t.elapsed());
                    let due = since.is_none_or(|s| s >= LOOK_EVERY || (changed && s >= LOOK_GAP));
                    if due && reread_over {
                        looked = Some(tokio::time::Instant::now());
                        changed = false;
                        match watch.look_while(&store, &bot, || turn.mine()).await {
                            Ok(Some(o)) if !o.changes.is_empty() || !o.raised.is_empty() => {
                                tracing::info!(
                                    changes = o.changes.len(),
                                    problems = o.raised.len(),
                                    cleared = o.cleared.len(),
                                    "the catalog changed"
                                );
                                // `changes X` and the incident card show what the watch saw.
                                if let Err(e) = bot.reload_changes(&store).await {
                                    tracing::warn!("recent changes not reloaded: {e:#}");
                                }
                                crate::feed::announce(&bot, &store, vec![Part::RepoChanges]).await;
                            }
                            Ok(_) => {}
                            Err(e) => {
                                changed = true;
                                tracing::warn!("the catalog watch failed (tried again): {e:#}")
                            }
                        }
                        // A look builds a scored copy of the catalog; hand it back.
                        sync::release_memory();
                    }
                    match desk.send_nudges(&bot).await {
                        Ok(n) => bot.metrics().nudges_sent(n),
                        Err(e) => tracing::warn!("sending nudges: {e:#}"),
                    }
                    match desk.send_digests(&bot).await {
                        Ok(0) => {}
                        Ok(n) => {
                            bot.metrics().digests_sent(n);
                            tracing::info!(sent = n, "weekly digests sent");
                        }
                        Err(e) => tracing::warn!("sending digests: {e:#}"),
                    }
                    match desk.sweep_reports(&bot).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(closed = n, "reports closed: their facts changed"),
                        Err(e) => tracing::warn!("closing reports: {e:#}"),
                    }
                }
                if let Err(e) = bot.flush_usage().await {
                    tracing::warn!("recording usage (kept for the next minute): {e:#}");
                }
                tokio::select! {
                    _ = bot.catalog_changed() => changed = true,
                    // The first look is due once the start-up re-read is over (or its task).
                    _ = reread_done.wait_for(|over| *over), if !reread_over => reread_over = true,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
                }
            }
        });
    }
    // PagerDuty's rosters are refreshed in the background (answers read the last ones), by
    // the replica whose turn it is, kept in the store for the others.
    if let Some(pd) = app.sources.pagerduty.clone() {
        let (bot, store, turn) = (app.bot.clone(), app.store.clone(), turn.clone());
        let period = std::time::Duration::from_secs(config.pagerduty.ttl_secs.max(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tick.tick().await;
                if turn.mine() {
                    refresh_rosters(&bot, &store, &pd, true).await;
                }
            }
        });
    }
    turn
}

/// Fetches PagerDuty's rosters that are due (after those another replica kept) and answers
/// from them; with `keep`, keeps them for the other replicas (the replica running the
/// scheduled work does; a shell only reads).
pub async fn refresh_rosters(
    bot: &Bot,
    store: &Store,
    pd: &crate::sources::pagerduty::PagerDuty,
    keep: bool,
) {
    match store.load_rosters().await {
        Ok(kept) => pd.seed(kept),
        Err(e) => tracing::warn!("PagerDuty's kept rosters not read: {e:#}"),
    }
    let rosters = pd.refresh(&bot.snapshot(), bot.now()).await;
    bot.swap_rosters(rosters.clone());
    if !keep {
        return;
    }
    match store.put_rosters(&rosters).await {
        Ok(()) => crate::feed::announce(bot, store, vec![Part::Rosters]).await,
        Err(e) => tracing::warn!("other replicas keep their rosters: {e:#}"),
    }
}
