//! The one entry point every surface calls: `Bot::handle(ChatEvent) -> Reply`.
//!
//! The bot holds one read model (catalog snapshot, rotations, source status, PagerDuty's
//! rosters) behind one atomic pointer: a question loads it once and answers without I/O, on
//! parts that belong together; a sync, a webhook or a background refresh swaps in a new one
//! with its part replaced.

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use crate::ask::{self, Context};
use crate::catalog::Snapshot;
use crate::catalog::graph::Limit;
use crate::conversation::{ActionId, Audience, ChatEvent, Input, Intent, Reply};
use crate::oncall::pagerduty::Rosters;
use crate::oncall::rotations::Rotations;
use crate::status::SourceStatus;

/// Everything questions are answered from, loaded together.
#[derive(Clone)]
struct ReadModel {
    snapshot: Arc<Snapshot>,
    rotations: Arc<Rotations>,
    /// How each source stands, for `sync status`; updated after every sync.
    sources: Arc<Vec<SourceStatus>>,
    /// PagerDuty's rosters as last fetched in the background.
    rosters: Arc<Rosters>,
}

pub struct Bot {
    model: ArcSwap<ReadModel>,
    /// Held by whoever reads sources into a new snapshot (a sync, a webhook), so snapshots are
    /// swapped in the order their reads happened and none undoes a newer one.
    rebuild: tokio::sync::Mutex<()>,
    limit: Limit,
}

impl Bot {
    pub fn new(snapshot: Snapshot, rotations: Rotations, limit: Limit) -> Bot {
        Bot {
            model: ArcSwap::from_pointee(ReadModel {
                snapshot: Arc::new(snapshot),
                rotations: Arc::new(rotations),
                sources: Arc::new(Vec::new()),
                rosters: Arc::new(Rosters::new()),
            }),
            rebuild: tokio::sync::Mutex::new(()),
            limit,
        }
    }

    /// Answers one event from any surface: a message, a click on one of the core's buttons,
    /// or the opening of a home view.
    pub fn handle(&self, event: &ChatEvent) -> Reply {
        let now = event.now.unwrap_or_else(Utc::now);
        let tz = zone(event.tz.as_deref());
        match &event.input {
            Input::Text(t) => self.answer(event, now, tz, t, Audience::AsUsual),
            Input::OpenHome => {
                self.with_context(now, event.user.as_deref(), tz, ask::answers::home)
            }
            Input::Action(value) => match ActionId::decode(value) {
                Ok(ActionId::Ask(q)) => self.answer(event, now, tz, &q, Audience::AsUsual),
                Ok(ActionId::Share(q)) => self.answer(event, now, tz, &q, Audience::Everyone),
                Err(why) => {
                    tracing::warn!(%value, "a button that cannot be honoured: {why}");
                    let mut r = Reply::new(Intent::Unknown, "");
                    r.view.headline = why.to_string();
                    r.audience = Audience::Asker;
                    r
                }
            },
        }
    }

    /// Answers a question, for `audience`.
    fn answer(
        &self,
        event: &ChatEvent,
        now: DateTime<Utc>,
        tz: chrono_tz::Tz,
        text: &str,
        audience: Audience,
    ) -> Reply {
        let question = ask::parse(text);
        let span = tracing::info_span!(
            "ask",
            intent = ?question.intent,
            platform = ?event.platform,
            user = event.user.as_deref().unwrap_or("-"),
        );
        let _guard = span.enter();
        let mut reply = self.with_context(now, event.user.as_deref(), tz, |ctx| {
            ask::answer(ctx, &question)
        });
        reply.audience = audience;
        tracing::debug!(entity = reply.entity.as_deref().unwrap_or("-"), "answered");
        reply
    }

    /// Runs `f` on what answering needs, each part loaded once: a swap during the answer is
    /// seen by the next one.
    fn with_context<R>(
        &self,
        now: DateTime<Utc>,
        asker: Option<&str>,
        tz: chrono_tz::Tz,
        f: impl FnOnce(&Context<'_>) -> R,
    ) -> R {
        let model = self.model.load();
        f(&Context {
            snap: &model.snapshot,
            rotations: &model.rotations,
            rosters: &model.rosters,
            sources: &model.sources,
            now,
            limit: self.limit,
            asker,
            tz,
        })
    }

    /// Waits for any other rebuild of the snapshot to finish; hold the guard from reading the
    /// sources to swapping the snapshot in.
    pub async fn rebuilding(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.rebuild.lock().await
    }

    /// Swaps in a read model with one part changed; the one place the model is replaced.
    /// Questions already running finish on the model they loaded.
    fn update(&self, change: impl Fn(&mut ReadModel)) {
        self.model.rcu(|current| {
            let mut next = ReadModel::clone(current);
            change(&mut next);
            next
        });
    }

    /// Replaces the catalog, the source status and the rotations a re-read produced, in one
    /// swap: no question sees the new catalog with the old status. A part that is None stays.
    pub fn refresh(
        &self,
        snapshot: Option<Snapshot>,
        sources: Option<Vec<SourceStatus>>,
        rotations: Option<Rotations>,
    ) {
        let (snapshot, sources, rotations) = (
            snapshot.map(Arc::new),
            sources.map(Arc::new),
            rotations.map(Arc::new),
        );
        self.update(|m| {
            if let Some(s) = &snapshot {
                m.snapshot = s.clone();
            }
            if let Some(s) = &sources {
                m.sources = s.clone();
            }
            if let Some(r) = &rotations {
                m.rotations = r.clone();
            }
        });
    }

    /// Replaces the catalog.
    pub fn swap_snapshot(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        self.update(|m| m.snapshot = snapshot.clone());
    }

    /// Records how each source stands after a sync.
    pub fn set_sources(&self, sources: Vec<SourceStatus>) {
        let sources = Arc::new(sources);
        self.update(|m| m.sources = sources.clone());
    }

    /// Records an event a source delivered (a webhook) in its status.
    pub fn note_event(&self, source: &str, at: i64, summary: &str) {
        self.update(|m| {
            let mut next = (*m.sources).clone();
            if let Some(s) = next.iter_mut().find(|s| s.source == source) {
                s.last_event = Some((at, summary.to_string()));
            }
            m.sources = Arc::new(next);
        });
    }

    /// Replaces PagerDuty's rosters (after a background refresh).
    pub fn swap_rosters(&self, rosters: Rosters) {
        let rosters = Arc::new(rosters);
        self.update(|m| m.rosters = rosters.clone());
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.model.load().snapshot.clone()
    }
}

/// The time zone a platform named, or UTC (also for a name this build does not know).
fn zone(name: Option<&str>) -> chrono_tz::Tz {
    name.and_then(|t| t.parse().ok())
        .unwrap_or(chrono_tz::Tz::UTC)
}
