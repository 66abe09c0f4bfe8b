//! The one entry point every surface calls: `Bot::handle(ChatEvent) -> Reply`.
//!
//! The bot holds the current catalog snapshot and rotations behind atomic pointers: a question
//! loads them once and answers without I/O; a sync builds new ones and swaps them in.

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use crate::ask::{self, Context};
use crate::catalog::Snapshot;
use crate::catalog::graph::Limit;
use crate::chat::{ChatEvent, Reply};
use crate::sources::pagerduty::Rosters;
use crate::sources::rotations::Rotations;
use crate::sync::SourceStatus;

pub struct Bot {
    snapshot: ArcSwap<Snapshot>,
    rotations: ArcSwap<Rotations>,
    /// How each source stands, for `sync status`; updated after every sync.
    sources: ArcSwap<Vec<SourceStatus>>,
    /// PagerDuty's rosters as last fetched in the background.
    rosters: ArcSwap<Rosters>,
    /// Held by whoever reads sources into a new snapshot (a sync, a webhook), so snapshots are
    /// swapped in the order their reads happened and none undoes a newer one.
    rebuild: tokio::sync::Mutex<()>,
    limit: Limit,
}

impl Bot {
    pub fn new(snapshot: Snapshot, rotations: Rotations, limit: Limit) -> Bot {
        Bot {
            snapshot: ArcSwap::from_pointee(snapshot),
            rotations: ArcSwap::from_pointee(rotations),
            sources: ArcSwap::from_pointee(Vec::new()),
            rosters: ArcSwap::from_pointee(Rosters::new()),
            rebuild: tokio::sync::Mutex::new(()),
            limit,
        }
    }

    /// Answers one message.
    pub fn handle(&self, event: &ChatEvent) -> Reply {
        let question = ask::parse(&event.text);
        let span = tracing::info_span!(
            "ask",
            intent = ?question.intent,
            platform = ?event.platform,
            user = event.user.as_deref().unwrap_or("-"),
        );
        let _guard = span.enter();
        let now = event.now.unwrap_or_else(Utc::now);
        let reply = self.with_context(now, event.user.as_deref(), |ctx| {
            ask::answer(ctx, &question)
        });
        tracing::debug!(entity = reply.entity.as_deref().unwrap_or("-"), "answered");
        reply
    }

    /// The catalog User behind any of these identities (`slack:U123`, `email:…`), if any.
    pub fn identify(&self, identities: &[String]) -> Option<String> {
        let snap = self.snapshot.load();
        identities
            .iter()
            .find_map(|i| snap.person(i))
            .map(|id| snap.entity(id).key())
    }

    /// A person's home page: their teams, what they own, what needs fixing. `hint` tells an
    /// unmatched person how to get matched.
    pub fn home(&self, identities: &[String], hint: &str) -> Reply {
        self.with_context(Utc::now(), None, |ctx| {
            let user = identities.iter().find_map(|i| ctx.snap.person(i));
            ask::answers::home(ctx, user, hint)
        })
    }

    /// Runs `f` on what answering needs, each part loaded once: a swap during the answer is
    /// seen by the next one.
    fn with_context<R>(
        &self,
        now: DateTime<Utc>,
        asker: Option<&str>,
        f: impl FnOnce(&Context<'_>) -> R,
    ) -> R {
        let snap = self.snapshot.load();
        let rotations = self.rotations.load();
        let sources = self.sources.load();
        let rosters = self.rosters.load();
        f(&Context {
            snap: &snap,
            rotations: &rotations,
            rosters: &rosters,
            sources: &sources,
            now,
            limit: self.limit,
            asker,
        })
    }

    /// Waits for any other rebuild of the snapshot to finish; hold the guard from reading the
    /// sources to swapping the snapshot in.
    pub async fn rebuilding(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.rebuild.lock().await
    }

    /// Replaces the catalog; questions already running finish on the old one.
    pub fn swap_snapshot(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
    }

    /// Records how each source stands after a sync.
    pub fn set_sources(&self, sources: Vec<SourceStatus>) {
        self.sources.store(Arc::new(sources));
    }

    /// Records an event a source delivered (a webhook) in its status.
    pub fn note_event(&self, source: &str, at: i64, summary: &str) {
        self.sources.rcu(|current| {
            let mut next = (**current).clone();
            if let Some(s) = next.iter_mut().find(|s| s.source == source) {
                s.last_event = Some((at, summary.to_string()));
            }
            next
        });
    }

    /// Replaces PagerDuty's rosters (after a background refresh).
    pub fn swap_rosters(&self, rosters: Rosters) {
        self.rosters.store(Arc::new(rosters));
    }

    pub fn swap_rotations(&self, rotations: Rotations) {
        self.rotations.store(Arc::new(rotations));
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }
}
