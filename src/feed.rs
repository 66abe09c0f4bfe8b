//! Several replicas on one database, answering alike: the read-model change feed.
//!
//! Each replica answers from its own read model in memory (the catalog snapshot, recent
//! changes, SBOMs, exemptions, source status). The replica that changes one of them in the
//! store (a webhook, a sync, a registration, an exemption) applies the change to its own model
//! at once, then records what changed in the feed (`Store::record_change`), which wakes the
//! others through NOTIFY on PostgreSQL. Every replica catches up by applying the entries past
//! the generation it has: catalog parts are patched in from the store
//! (`sync::reread_scopes`), the rest reloaded. A wake-up is only a hint: replicas also look
//! every few seconds and after their listening connection comes back, so a lost notification
//! costs seconds, not a stale answer forever.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::bot::Bot;
use crate::store::Store;

/// A part of the read model that changed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "part", rename_all = "snake_case")]
pub enum Part {
    /// Parts of a source's catalog (location prefixes such as `owner/repo/`), patched in.
    Scopes { source: String, scopes: Vec<String> },
    /// The whole catalog (after a sync), rebuilt from the store.
    Catalog,
    /// Repositories' deploys, merges and runs (`changes X`, the incident card).
    RepoChanges,
    /// The SBOMs `who uses` reads.
    Packages,
    /// The SBOMs of these scopes (`github:owner/repo`), read again.
    Sboms { scopes: Vec<String> },
    /// Scorecard exemptions in force.
    Exemptions,
    /// PagerDuty's rosters.
    Rosters,
    /// Each source's last sync and last event (`sync status`).
    Sources,
}

/// How often a replica looks at the feed without being woken.
pub const LOOK_EVERY: Duration = Duration::from_secs(5);

/// Records that this replica changed `parts`, for the others to apply. What it changed is in
/// the store already: failing to record it leaves the other replicas behind until their next
/// sync, which the log says.
pub async fn announce(bot: &Bot, store: &Store, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    let what = serde_json::to_string(&parts).expect("parts serialize");
    if let Err(e) = store
        .record_change(bot.replica(), bot.now().timestamp(), &what)
        .await
    {
        tracing::error!("other replicas will not see this change before their next sync: {e:#}");
    }
}

/// Applies the changes other replicas recorded since this one last looked. Returns how many
/// entries it read.
pub async fn catch_up(bot: &Bot, store: &Store) -> Result<usize> {
    let _one_at_a_time = bot.catching_up().await;
    let had = bot.generation();
    let entries = store.changes_after(had).await?;
    let Some(last) = entries.last().map(|e| e.generation) else {
        return Ok(0);
    };
    let mut parts: BTreeSet<Part> = BTreeSet::new();
    // Entries forgotten before this replica read them: what they said is unknown.
    if entries[0].generation > had + 1 && had > 0 {
        tracing::warn!(
            had,
            next = entries[0].generation,
            "changes missed: reloading everything"
        );
        parts.extend([
            Part::Catalog,
            Part::RepoChanges,
            Part::Packages,
            Part::Exemptions,
            Part::Rosters,
            Part::Sources,
        ]);
    }
    for e in entries.iter().filter(|e| e.replica != bot.replica()) {
        match serde_json::from_str::<Vec<Part>>(&e.what) {
            Ok(p) => parts.extend(p),
            Err(err) => {
                tracing::warn!(
                    generation = e.generation,
                    "unreadable change ({err}): reloading the catalog"
                );
                parts.insert(Part::Catalog);
            }
        }
    }
    apply(bot, store, parts).await?;
    bot.set_generation(last);
    Ok(entries.len())
}

/// Brings these parts of the read model up to the store. The catalog and the SBOMs are changed
/// in the catalog's turn; a whole catalog, or every SBOM, is read outside it
/// (`Bot::reload_catalog`, `Bot::read_packages`). The rest is reloaded after it.
async fn apply(bot: &Bot, store: &Store, parts: BTreeSet<Part>) -> Result<()> {
    let read = bot.reading_catalog();
    let packages = if parts.contains(&Part::Packages) {
        Some(bot.read_packages(store).await?)
    } else {
        None
    };
    let turn = if parts.contains(&Part::Catalog) {
        bot.reload_catalog(store).await?
    } else {
        let turn = bot.rebuilding().await;
        let scopes = crate::sync::scopes_by_source(parts.iter().filter_map(|p| match p {
            Part::Scopes { source, scopes } => Some((source.as_str(), scopes.as_slice())),
            _ => None,
        }));
        for (source, scopes) in scopes {
            bot.patch_scopes(store, source, &scopes).await?;
        }
        turn
    };
    if let Some(packages) = packages {
        bot.swap_packages(store, &read, packages).await?;
    } else {
        let scopes: BTreeSet<&String> = parts
            .iter()
            .filter_map(|p| match p {
                Part::Sboms { scopes } => Some(scopes),
                _ => None,
            })
            .flatten()
            .collect();
        if !scopes.is_empty() {
            let scopes: Vec<String> = scopes.into_iter().cloned().collect();
            bot.reread_sboms(store, &scopes).await?;
        }
    }
    drop(turn);
    drop(read);
    if parts.contains(&Part::RepoChanges) {
        bot.reload_changes(store).await?;
    }
    if parts.contains(&Part::Exemptions) {
        bot.reload_exemptions(store).await?;
    }
    if parts.contains(&Part::Rosters) {
        bot.swap_rosters(store.load_rosters().await?);
    }
    if parts.contains(&Part::Sources) {
        bot.reload_source_statuses(store).await?;
    }
    Ok(())
}

/// Keeps a serving replica caught up: woken by the store (PostgreSQL), and every `look_every`
/// besides (`LOOK_EVERY`). On SQLite one process serves, and nothing needs doing.
pub fn spawn(bot: Arc<Bot>, store: Store, look_every: Duration) {
    if store.backend != crate::store::Backend::Postgres {
        return;
    }
    tokio::spawn(async move {
        let mut listener = None;
        loop {
            if listener.is_none() {
                listener = match store.listen().await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(
                            "not woken by other replicas' changes (looked for every {look_every:?}): {e:#}"
                        );
                        None
                    }
                };
            }
            // A wake-up, a reconnection (`None`: what was sent meanwhile is lost) or the
            // timer: each is a reason to look.
            let woken = async {
                match listener.as_mut() {
                    Some(l) => l.try_recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            let heard = tokio::select! {
                r = woken => Some(r),
                _ = tokio::time::sleep(look_every) => None,
            };
            if let Some(Err(e)) = heard {
                tracing::warn!("listening for other replicas' changes: {e:#}");
                listener = None;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            if let Err(e) = catch_up(&bot, &store).await {
                tracing::warn!("catching up with other replicas' changes (tried again): {e:#}");
            }
        }
    });
}
