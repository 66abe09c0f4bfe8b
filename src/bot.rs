//! The one entry point every surface calls: `Bot::handle(ChatEvent) -> Result<Reply, Failure>`,
//! for what was typed, clicked, submitted or opened, from any platform.
//!
//! The bot holds one read model (catalog snapshot, rotations, source status, PagerDuty's
//! rosters) behind one atomic pointer: an event loads it once and the answer itself does no
//! I/O, on parts that belong together; a sync, a webhook or a background refresh swaps in a
//! new one with its part replaced. Before answering it matches the asker to a catalog User
//! (`identity`, with the platform's cached `Directory`) and reads a clicked button's action
//! back from the store when the button carried a key (`fit_buttons`). A new question is a grammar row and an answer (`ask`); a new button is an
//! `ActionId` variant, handled in `Bot::respond`.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use sha2::Digest;
use tracing::Instrument;

use crate::ask::{self, Context};
use crate::catalog::Snapshot;
use crate::catalog::graph::Limit;
use crate::changes::RecentChanges;
use crate::clock::Clock;
use crate::conversation::{
    ActionError, ActionId, Audience, ChatEvent, Failure, Form, Input, NudgeVerb, Platform, Reply,
    RunVerb, STORED_FOR,
};
use crate::desk::{Asked, Desk};
use crate::identity::{Asker, Directory, People};
use crate::oncall::pagerduty::Rosters;
use crate::oncall::rotations::Rotations;
use crate::status::SourceStatus;
use crate::store::Store;
use crate::workflows::permissions::Person;

/// Everything questions are answered from, loaded together.
#[derive(Clone)]
struct ReadModel {
    snapshot: Arc<Snapshot>,
    rotations: Arc<Rotations>,
    /// How each source stands, for `sync status`; updated after every sync.
    sources: Arc<Vec<SourceStatus>>,
    /// PagerDuty's rosters as last fetched in the background.
    rosters: Arc<Rosters>,
    /// The standards entities are scored against.
    scorecards: Arc<Vec<crate::scorecards::Scorecard>>,
    /// Checks that count as passed for some entities, until they expire.
    exemptions: Arc<crate::scorecards::exemptions::Exemptions>,
    /// Recent deploys, merges, workflow runs and catalog changes.
    changes: Arc<RecentChanges>,
    /// The packages the SBOMs list, for `who uses`.
    packages: Arc<crate::compliance::packages::Packages>,
}

impl ReadModel {
    /// What answers read, for `asker` (seen by permissions as `viewer`) at `now`.
    fn context<'a>(
        &'a self,
        limit: Limit,
        asker: &'a Asker,
        viewer: &'a Person,
        now: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> Context<'a> {
        Context {
            snap: &self.snapshot,
            rotations: &self.rotations,
            rosters: &self.rosters,
            sources: &self.sources,
            now,
            limit,
            asker,
            viewer,
            tz,
            scorecards: &self.scorecards,
            exemptions: &self.exemptions,
            changes: &self.changes,
            packages: &self.packages,
        }
    }
}

/// The longest question read (Slack caps a message at 40,000 characters, Discord at 2,000).
pub const MAX_QUESTION_CHARS: usize = 4_000;

pub struct Bot {
    model: ArcSwap<ReadModel>,
    /// The catalog's turn: held by whoever swaps a catalog or SBOMs in (a push's patch, a
    /// catch-up, a sync's new catalog), from reading what it swaps in from the store to the
    /// swap, so none undoes a newer one. Sources are never read under it, and whole catalogs
    /// and every SBOM are read outside it (`reading_catalog`).
    rebuild: tokio::sync::Mutex<()>,
    /// What was swapped into the catalog and the SBOMs while a rebuild read the store outside
    /// the turn.
    swapped: std::sync::Mutex<Swapped>,
    /// Held by whoever catches up with the other replicas' changes (`feed::catch_up`).
    catching_up: tokio::sync::Mutex<()>,
    limit: Limit,
    clock: Clock,
    /// Where buttons too long to carry their action keep it; without one they are left out.
    store: Option<Store>,
    /// Each platform's directory of people, behind a cache.
    people: RwLock<HashMap<Platform, Arc<People>>>,
    /// Workflow requests, decisions and runs; without it, workflow commands say where to ask.
    desk: Option<Arc<Desk>>,
    /// Where and when each person was last recorded active (written when they move to another
    /// platform, else at most once a minute).
    seen: std::sync::Mutex<HashMap<String, (Platform, i64)>>,
    /// Woken when the catalog or the scorecards change (the catalog watch scores them).
    changed: tokio::sync::Notify,
    /// Questions counted for `stats`, flushed to the store every minute.
    usage: crate::usage::Usage,
    /// The figures `/metrics` serves.
    metrics: crate::metrics::Metrics,
    /// Set once the first catalog is loaded and answers are served (`/readyz`).
    ready: std::sync::atomic::AtomicBool,
    /// How long a conversation remembers its last answer's entity for follow-ups.
    follow_up_ttl: chrono::Duration,
    /// How long recent changes are kept.
    changes_kept: chrono::Duration,
    /// This process among the replicas on one database (`feed`).
    replica: String,
    /// The last change of the feed this replica's read model reflects.
    generation: std::sync::atomic::AtomicI64,
}

/// What was swapped into the catalog and the SBOMs, and when, while rebuilds read the store
/// outside the catalog's turn (a sync's scan and read can take minutes; pushes are applied
/// meanwhile).
#[derive(Default)]
struct Swapped {
    /// Rebuilds reading now; the log is kept only while there is one.
    readers: usize,
    log: Vec<(std::time::Instant, Swap)>,
}

impl Swapped {
    fn log_since(&self, since: std::time::Instant) -> Vec<Swap> {
        self.log
            .iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, s)| s.clone())
            .collect()
    }
}

#[derive(Clone)]
enum Swap {
    /// Parts of a source patched in from the store.
    Scopes { source: String, scopes: Vec<String> },
    /// A whole catalog.
    Whole,
    /// The SBOMs of these scopes (`github:owner/repo`), read again.
    Sboms(Vec<String>),
    /// Every SBOM.
    AllSboms,
}

/// Every SBOM, read outside the catalog's turn (`Bot::read_packages`), to swap in.
pub struct PackagesRead {
    since: std::time::Instant,
    packages: crate::compliance::packages::Packages,
}

/// Held by a rebuild that reads the store outside the catalog's turn (`Bot::reading_catalog`):
/// while one is held, the bot logs what it swaps in, for `Bot::caught_up`.
pub struct CatalogRead<'a> {
    bot: &'a Bot,
}

impl Drop for CatalogRead<'_> {
    fn drop(&mut self) {
        let mut swapped = self.bot.swapped.lock().expect("swap log");
        swapped.readers -= 1;
        if swapped.readers == 0 {
            swapped.log.clear();
        }
    }
}

/// `read`, each source's status as read from the store, with the event `current` holds for it
/// where that one is later.
fn with_later_events(current: &[SourceStatus], read: &[SourceStatus]) -> Arc<Vec<SourceStatus>> {
    let mut next = read.to_vec();
    for s in &mut next {
        let noted = current.iter().find(|c| c.source == s.source);
        if let Some((at, what)) = noted.and_then(|c| c.last_event.as_ref())
            && s.last_event
                .as_ref()
                .is_none_or(|(read_at, _)| at > read_at)
        {
            s.last_event = Some((*at, what.clone()));
        }
    }
    Arc::new(next)
}

/// A name for this process among the replicas: the host (a pod's name), the process id and a
/// number of the moment, so a restarted process is another replica.
pub(crate) fn replica_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "switchboard".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{host}-{}-{nanos:x}", std::process::id())
}

/// How often someone's activity on a platform is written down.
const SEEN_EVERY: i64 = 60;

/// Why an event was not answered, before it is told: a refusal, or a fault to log.
enum Trouble {
    Refused(String),
    Internal(anyhow::Error),
}

impl From<ActionError> for Trouble {
    fn from(e: ActionError) -> Trouble {
        Trouble::Refused(e.to_string())
    }
}

impl Bot {
    /// A bot on the system's clock, without a store (long buttons are left out).
    pub fn new(snapshot: Snapshot, rotations: Rotations, limit: Limit) -> Bot {
        Bot {
            model: ArcSwap::from_pointee(ReadModel {
                snapshot: Arc::new(snapshot),
                rotations: Arc::new(rotations),
                sources: Arc::new(Vec::new()),
                rosters: Arc::new(Rosters::new()),
                scorecards: Arc::default(),
                exemptions: Arc::default(),
                changes: Arc::default(),
                packages: Arc::default(),
            }),
            rebuild: tokio::sync::Mutex::new(()),
            swapped: Default::default(),
            catching_up: tokio::sync::Mutex::new(()),
            limit,
            clock: Clock::system(),
            store: None,
            people: RwLock::default(),
            desk: None,
            seen: Default::default(),
            changed: tokio::sync::Notify::new(),
            usage: Default::default(),
            metrics: Default::default(),
            ready: Default::default(),
            follow_up_ttl: chrono::Duration::hours(2),
            changes_kept: chrono::Duration::days(30),
            replica: replica_name(),
            generation: Default::default(),
        }
    }

    /// This process's name among the replicas on its database.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// The last change of the feed the read model reflects.
    pub fn generation(&self) -> i64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Records that the read model reflects the feed up to `generation`.
    pub fn set_generation(&self, generation: i64) {
        self.generation
            .store(generation, std::sync::atomic::Ordering::SeqCst);
    }

    /// Recent changes are kept for `kept`.
    pub fn with_changes_kept(mut self, kept: chrono::Duration) -> Bot {
        self.changes_kept = kept;
        self
    }

    /// How long recent changes are kept.
    pub fn changes_kept(&self) -> chrono::Duration {
        self.changes_kept
    }

    /// Conversations remember their last answer's entity this long.
    pub fn with_follow_ups(mut self, ttl: chrono::Duration) -> Bot {
        self.follow_up_ttl = ttl;
        self
    }

    /// Answers workflow commands with `desk`.
    pub fn with_desk(mut self, desk: Arc<Desk>) -> Bot {
        self.desk = Some(desk);
        self
    }

    pub fn desk(&self) -> Option<&Arc<Desk>> {
        self.desk.as_ref()
    }

    /// Reads the whole catalog again from the store (after a workflow registered entities,
    /// or another replica synced) and swaps it in. It is read outside the catalog's turn
    /// (seconds at 100,000 entities), so pushes are applied meanwhile; they are patched again
    /// into it before the swap (`caught_up`). Returns holding the turn, for what goes with it.
    pub async fn reload_catalog(
        &self,
        store: &Store,
    ) -> anyhow::Result<tokio::sync::MutexGuard<'_, ()>> {
        let read = self.reading_catalog();
        let since = std::time::Instant::now();
        let built = crate::sync::load_snapshot(store).await?;
        let turn = self.rebuilding().await;
        self.swap_snapshot(self.caught_up(store, &read, since, built.into()).await?);
        Ok(turn)
    }

    /// Keeps long buttons' actions in `store`.
    pub fn with_store(mut self, store: Store) -> Bot {
        self.store = Some(store);
        self
    }

    /// The store, when there is one.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Reads the time from `clock` (tests set it).
    pub fn with_clock(mut self, clock: Clock) -> Bot {
        self.clock = clock;
        self
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// What time it is for the bot.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Looks people of `platform` up in `directory` (asked once per person per `ttl`).
    pub fn add_directory(
        &self,
        platform: Platform,
        directory: impl Directory + 'static,
        ttl: std::time::Duration,
    ) {
        self.people
            .write()
            .expect("directories")
            .insert(platform, Arc::new(People::new(directory, ttl)));
    }

    /// Answers one event from any surface. A refusal (a button out of date) is the `Failure`
    /// to show as it is; a fault is logged with a correlation id, and the `Failure` carries
    /// that id for the asker to quote.
    pub async fn handle(&self, mut event: ChatEvent) -> Result<Reply, Failure> {
        event.input = event.input.cleaned();
        let correlation = correlation_id();
        let span = tracing::info_span!(
            "event",
            %correlation,
            platform = ?event.actor.platform,
            user = event.actor.id.as_deref().unwrap_or("-"),
        );
        // Questions and clicks are counted; an autocomplete or a home tab is not asked.
        let counted = matches!(event.input, Input::Text(_) | Input::Action(_));
        let surface = event.actor.platform.name();
        let (started, now) = (std::time::Instant::now(), event.now);
        match self.respond(event).instrument(span.clone()).await {
            Ok(reply) => {
                if counted {
                    let took = started.elapsed();
                    let intent = crate::usage::intent_name(reply.intent);
                    self.metrics
                        .question(&intent, surface, !reply.unresolved, took.as_secs_f64());
                    self.usage.record(
                        surface,
                        &reply,
                        !reply.unresolved,
                        took.as_millis() as i64,
                        now,
                    );
                }
                Ok(reply)
            }
            Err(Trouble::Refused(why)) => {
                span.in_scope(|| tracing::info!("refused: {why}"));
                Err(Failure::Refused(why))
            }
            Err(Trouble::Internal(e)) => {
                span.in_scope(|| tracing::error!("answering failed: {e:#}"));
                if crate::store::unreachable(&e) {
                    Err(Failure::Unavailable { correlation })
                } else {
                    Err(Failure::Internal { correlation })
                }
            }
        }
    }

    async fn respond(&self, mut event: ChatEvent) -> Result<Reply, Trouble> {
        let people = self
            .people
            .read()
            .expect("directories")
            .get(&event.actor.platform)
            .cloned();
        if let Some(people) = people {
            people.complete(&mut event.actor).await;
        }
        let model = self.model.load_full();
        let asker = Asker::of(&model.snapshot, &event.actor);
        if let Some(user) = asker.user {
            self.seen(&model.snapshot, user, event.actor.platform, event.now)
                .await;
        }
        let viewer = match &self.desk {
            Some(d) => d.person(&model.snapshot, &asker),
            None => Person::of(
                &model.snapshot,
                asker.user,
                &asker.groups,
                &Default::default(),
            ),
        };
        let ctx = model.context(
            self.limit,
            &asker,
            &viewer,
            event.now,
            zone(event.actor.tz.as_deref()),
        );
        let reply = match event.input {
            Input::Text(ref t) => self.question(&ctx, &event, t, Audience::AsUsual).await?,
            Input::OpenHome => ask::answers::home(&ctx),
            Input::Autocomplete { option, partial } => ask::complete(&ctx, &option, &partial),
            Input::Action(ref value) => match self.action(value, event.now).await? {
                ActionId::Ask(q) => self.question(&ctx, &event, &q, Audience::AsUsual).await?,
                ActionId::Share(q) => self.question(&ctx, &event, &q, Audience::Everyone).await?,
                ActionId::Run { verb, id } => self.on_run(&ctx, &event, verb, id, None).await?,
                ActionId::Nudge { verb, id } => self.on_nudge(&ctx, &event, verb, id, None).await?,
                // `action` reads a stored one back into what it was.
                ActionId::Stored(_) => return Err(ActionError::OutOfDate.into()),
            },
            Input::Form {
                ref action,
                ref values,
            } => match self.action(action, event.now).await? {
                ref run @ ActionId::Run { verb, id } if run.form().is_some() => {
                    let reason = values
                        .iter()
                        .find(|(k, _)| k == "reason")
                        .map(|(_, v)| v.clone());
                    self.on_run(&ctx, &event, verb, id, reason).await?
                }
                ref nudge @ ActionId::Nudge { verb, id } if nudge.form().is_some() => {
                    let reason = values
                        .iter()
                        .find(|(k, _)| k == "reason")
                        .map(|(_, v)| v.clone());
                    self.on_nudge(&ctx, &event, verb, id, reason).await?
                }
                // No other button opens a form: one submitted was made by another release.
                _ => return Err(ActionError::OutOfDate.into()),
            },
        };
        tracing::debug!(intent = ?reply.intent, entity = reply.entity.as_deref().unwrap_or("-"), "answered");
        Ok(reply)
    }

    /// Records that `user` was active on `platform` (a chat platform), so what is sent to them
    /// goes where they are (`notify.prefer`): at once when they moved platform, else at most
    /// once a minute.
    async fn seen(
        &self,
        snap: &Snapshot,
        user: crate::catalog::Id,
        platform: Platform,
        now: DateTime<Utc>,
    ) {
        let Some(store) = self.store.as_ref().filter(|_| platform.is_chat()) else {
            return;
        };
        let now = now.timestamp();
        let who = snap.entity(user).key();
        {
            let mut seen = self.seen.lock().expect("seen");
            match seen.get(&who) {
                Some(&(p, at)) if p == platform && now - at < SEEN_EVERY => return,
                _ => seen.insert(who.clone(), (platform, now)),
            };
        }
        if let Err(e) = store.note_seen(&who, platform.name(), now).await {
            tracing::warn!("cannot record that {who} was active: {e:#}");
        }
    }

    /// Answers a question, typed or asked by a button, for `audience`: a workflow command at
    /// the desk (when there is one), anything else from the catalog with the action that
    /// shares it. The text is parsed once.
    async fn question(
        &self,
        ctx: &Context<'_>,
        event: &ChatEvent,
        text: &str,
        audience: Audience,
    ) -> Result<Reply, Trouble> {
        // Chat platforms cap messages well below this; what is longer is no question, and
        // reading it would cost every fuzzy match its length.
        let length = text.chars().count();
        if length > MAX_QUESTION_CHARS {
            let shown: String = text.chars().take(60).collect();
            let mut r = Reply::new(crate::conversation::Intent::Unknown, &format!("{shown}…"));
            r.view.headline = format!(
                "That is too long to be a question ({length} characters; at most \
                 {MAX_QUESTION_CHARS}). Ask `help` for what I answer."
            );
            r.unresolved = true;
            return Ok(r);
        }
        let mut q = ask::parse(text);
        // Kept per platform: a Slack thread and a Discord channel never share a context.
        let conversation = event
            .conversation
            .follow_up
            .as_ref()
            .map(|c| format!("{}:{c}", event.actor.platform.name()));
        let mut referred = None;
        if q.refers_back {
            let earlier = match (&self.store, &conversation) {
                // The store out of reach: the question is asked as if nothing came before.
                (Some(store), Some(c)) => store
                    .thread_entity(c, event.now.timestamp())
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!("cannot read what the conversation was about: {e:#}");
                        None
                    }),
                _ => None,
            };
            match earlier {
                Some(entity) => {
                    q.about(&entity);
                    referred = Some(entity);
                }
                None if q.subject.is_empty() => {
                    let mut r = crate::conversation::Reply::new(q.intent, &q.query);
                    r.view.headline = format!(
                        "About which entity? Nothing was asked about one earlier in this \
                         conversation: name it, e.g. `{}`.",
                        ask::answers::asked_about(q.intent, "checkout", "")
                    );
                    r.unresolved = true;
                    return Ok(r);
                }
                // "who owns it" with nothing to refer to: `it` is looked up as a name.
                None => {}
            }
        }
        if q.intent == crate::conversation::Intent::Stats {
            return self.stats(ctx, &q).await.map_err(Trouble::Internal);
        }
        let for_desk = q.intent.is_workflow()
            || (q.intent == crate::conversation::Intent::Help
                && q.rest.split_whitespace().next() == Some("run"));
        // Workflow answers offer no share button: sharing `run …` would request it again.
        let mut reply = match self.desk.as_ref().filter(|_| for_desk) {
            Some(desk) => {
                let asked = Asked::of(desk, ctx, &event.actor, &event.conversation);
                desk.answer(&asked, &q).await.map_err(Trouble::Internal)?
            }
            None => {
                let mut reply = ask::answer(ctx, &q);
                if !reply.query.is_empty() {
                    // Shared, a follow-up names its entity: the channel has no thread to read.
                    let shared = match &referred {
                        Some(entity) => ask::answers::asked_about(q.intent, entity, ""),
                        None => reply.query.clone(),
                    };
                    reply.share = Some(ActionId::Share(shared));
                }
                reply
            }
        };
        if let Some(entity) = &referred {
            let name = entity.rsplit('/').next().unwrap_or(entity);
            reply
                .view
                .context
                .insert(0, format!("About {name}, from earlier in this thread."));
            reply.referred = Some(entity.clone());
        }
        // The conversation now refers to what this answer was about, unless only the asker
        // saw it.
        let remembered = match &event.conversation.continued_as {
            Some(next) => Some(format!("{}:{next}", event.actor.platform.name())),
            None => conversation,
        };
        if let (Some(store), Some(c), Some(entity), false) = (
            &self.store,
            &remembered,
            &reply.entity,
            audience == Audience::Asker,
        ) {
            let until = (event.now + self.follow_up_ttl).timestamp();
            if let Err(e) = store.remember_thread(c, entity, until).await {
                tracing::warn!("cannot remember what the conversation is about: {e:#}");
            }
        }
        reply.audience = audience;
        Ok(reply)
    }

    /// Answers what `actor` did in `conversation`, as a chat adapter shows it: a failure
    /// becomes the reply that says so (to the asker alone), and every button fits the
    /// platform's limit of `max_button` characters (`fit_buttons`).
    pub async fn answer_as(
        &self,
        actor: crate::conversation::Actor,
        conversation: crate::conversation::Conversation,
        input: Input,
        max_button: usize,
    ) -> Reply {
        let event = ChatEvent {
            actor,
            conversation,
            input,
            now: self.now(),
        };
        match self.handle(event).await {
            Ok(mut reply) => {
                self.fit_buttons(&mut reply, max_button).await;
                reply
            }
            Err(failure) => failure.reply(),
        }
    }

    /// A click on a run's card (or the form it opened): answered to the clicker alone; the
    /// cards show everyone what changed.
    async fn on_run(
        &self,
        ctx: &Context<'_>,
        event: &ChatEvent,
        verb: RunVerb,
        id: i64,
        reason: Option<String>,
    ) -> Result<Reply, Trouble> {
        let Some(desk) = &self.desk else {
            return Err(ActionError::Unknown.into());
        };
        let asked = Asked::of(desk, ctx, &event.actor, &event.conversation);
        let mut reply = desk
            .act(&asked, verb, id, reason)
            .await
            .map_err(Trouble::Internal)?;
        reply.audience = Audience::Asker;
        Ok(reply)
    }

    /// `stats [DAYS]`, for platform engineers and admins: what was counted is flushed first.
    async fn stats(&self, ctx: &Context<'_>, q: &ask::grammar::Question) -> anyhow::Result<Reply> {
        let mut refused = Reply::new(q.intent, &q.query);
        let Some(store) = &self.store else {
            refused.view.headline =
                "Usage figures live in Switchboard's database: ask the running bot.".into();
            return Ok(refused);
        };
        if !ctx.viewer.acts_anywhere() {
            refused.view.headline =
                "Usage figures are for platform engineers and admins (`roles.platform`, `roles.admins`).".into();
            return Ok(refused);
        }
        self.usage.flush(store).await?;
        let days = q.subject.trim().parse::<i64>().unwrap_or(7).clamp(1, 366);
        crate::usage::stats(store, &q.query, days, ctx.now).await
    }

    /// Adds the questions counted since the last flush to the store's figures.
    pub async fn flush_usage(&self) -> anyhow::Result<()> {
        match &self.store {
            Some(store) => self.usage.flush(store).await,
            None => Ok(()),
        }
    }

    /// The figures `/metrics` serves.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// Marks the bot ready: its first catalog is loaded (`/readyz`).
    pub fn mark_ready(&self) {
        self.ready.store(true, std::sync::atomic::Ordering::SeqCst);
        self.metrics.set_ready(true);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A click on a nudge's button, or the form it opened (with its reason).
    async fn on_nudge(
        &self,
        ctx: &Context<'_>,
        event: &ChatEvent,
        verb: NudgeVerb,
        id: i64,
        reason: Option<String>,
    ) -> Result<Reply, Trouble> {
        let Some(desk) = &self.desk else {
            return Err(ActionError::Unknown.into());
        };
        let asked = Asked::of(desk, ctx, &event.actor, &event.conversation);
        let mut reply = desk
            .on_nudge(&asked, verb, id, reason)
            .await
            .map_err(Trouble::Internal)?;
        reply.audience = Audience::Asker;
        Ok(reply)
    }

    /// The form a button opens before its action is taken (a reason to deny), if any: the
    /// adapter shows it, and sends the values back as `Input::Form`.
    pub async fn form(&self, value: &str) -> Option<Form> {
        self.action(value, self.now()).await.ok()?.form()
    }

    /// What a button's value asks for; one carrying a key is read back from the store.
    async fn action(&self, value: &str, now: DateTime<Utc>) -> Result<ActionId, Trouble> {
        let key = match ActionId::decode(value)? {
            ActionId::Stored(key) => key,
            id => return Ok(id),
        };
        let Some(store) = &self.store else {
            return Err(ActionError::Expired.into());
        };
        let kept = store
            .stored_action(&key, (now - STORED_FOR).timestamp())
            .await
            .map_err(Trouble::Internal)?
            .ok_or(ActionError::Expired)?;
        match ActionId::decode(&kept)? {
            ActionId::Stored(_) => Err(ActionError::OutOfDate.into()),
            id => Ok(id),
        }
    }

    /// Makes every button of `reply` fit a platform's limit (`max` characters): an action
    /// whose encoding is longer is kept in the store and the button carries its key; without a
    /// store (or when it fails) the button is left out, never sent broken. Adapters call it
    /// when they render a reply, with their platform's limit.
    pub async fn fit_buttons(&self, reply: &mut Reply, max: usize) {
        let now = self.now();
        let mut actions = std::mem::take(&mut reply.actions);
        for mut a in actions.drain(..) {
            if self.fit(&mut a.id, max, now).await {
                reply.actions.push(a);
            }
        }
        if let Some(mut share) = reply.share.take()
            && self.fit(&mut share, max, now).await
        {
            reply.share = Some(share);
        }
    }

    async fn fit(&self, id: &mut ActionId, max: usize, now: DateTime<Utc>) -> bool {
        let encoded = id.encode();
        if encoded.len() <= max {
            return true;
        }
        let Some(store) = &self.store else {
            return false;
        };
        // The same action always gets the same key: a reply rendered again renews it.
        let key = hex::encode(&sha2::Sha256::digest(encoded.as_bytes())[..10]);
        match store.keep_action(&key, &encoded, now.timestamp()).await {
            Ok(()) => {
                *id = ActionId::Stored(key);
                true
            }
            Err(e) => {
                tracing::warn!("a button is left out: {e:#}");
                false
            }
        }
    }

    /// Who is on call for the entity `key` now (catalog references), as answers say it; no
    /// one when the catalog no longer holds it.
    pub fn oncall_now(&self, key: &str) -> Vec<String> {
        let model = self.model.load_full();
        let asker = Asker {
            identity: None,
            user: None,
            groups: Vec::new(),
        };
        let viewer = Person::default();
        let ctx = model.context(self.limit, &asker, &viewer, self.now(), chrono_tz::UTC);
        match ctx.snap.get(key) {
            Some(target) => ask::answers::oncall_people(&ctx, target, ctx.now),
            None => Vec::new(),
        }
    }

    /// Waits for the catalog's turn; hold the guard from reading what is swapped in from the
    /// store to the swap (a patch), or from catching a whole catalog up to swapping it in
    /// (`caught_up`).
    pub async fn rebuilding(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.rebuild.lock().await
    }

    /// Waits for any other catch-up with the feed to finish (`feed::catch_up`); hold the
    /// guard from reading the feed to recording the generation reached.
    pub async fn catching_up(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.catching_up.lock().await
    }

    /// Swaps in a read model with one part changed; the one place the model is replaced.
    /// Questions already running finish on the model they loaded.
    fn update(&self, change: impl Fn(&mut ReadModel)) {
        let before = self.model.rcu(|current| {
            let mut next = ReadModel::clone(current);
            change(&mut next);
            next
        });
        let after = self.model.load();
        if !Arc::ptr_eq(&before.snapshot, &after.snapshot)
            || !Arc::ptr_eq(&before.scorecards, &after.scorecards)
            || !Arc::ptr_eq(&before.exemptions, &after.exemptions)
        {
            self.changed.notify_one();
        }
    }

    /// Waits until the catalog or the scorecards change (at once if they changed since the
    /// last wait ended).
    pub async fn catalog_changed(&self) {
        self.changed.notified().await
    }

    /// Runs `f` on the current model as the bot itself sees it: every entity, private ones
    /// included, at the bot's time in UTC (the catalog watch scores from this).
    pub fn as_itself<R>(&self, f: impl FnOnce(&Context<'_>) -> R) -> R {
        let model = self.model.load_full();
        let asker = Asker {
            identity: None,
            user: None,
            groups: Vec::new(),
        };
        let viewer = Person {
            roles: [crate::workflows::definition::Role::Auditor].into(),
            ..Person::default()
        };
        let ctx = model.context(self.limit, &asker, &viewer, self.now(), chrono_tz::UTC);
        f(&ctx)
    }

    /// Replaces the catalog, the source status and the rotations a re-read produced, in one
    /// swap: no question sees the new catalog with the old status. A part that is None stays.
    pub fn refresh(
        &self,
        snapshot: Option<Arc<Snapshot>>,
        sources: Option<Vec<SourceStatus>>,
        rotations: Option<Rotations>,
    ) {
        let rotations = rotations.map(Arc::new);
        if snapshot.is_some() {
            self.log_swap(Swap::Whole);
        }
        self.update(|m| {
            if let Some(s) = &snapshot {
                m.snapshot = s.clone();
            }
            if let Some(s) = &sources {
                m.sources = with_later_events(&m.sources, s);
            }
            if let Some(r) = &rotations {
                m.rotations = r.clone();
            }
        });
    }

    /// Replaces the catalog (hold the turn: `rebuilding`).
    pub fn swap_snapshot(&self, snapshot: impl Into<Arc<Snapshot>>) {
        self.log_swap(Swap::Whole);
        let snapshot = snapshot.into();
        self.update(|m| m.snapshot = snapshot.clone());
    }

    /// Brings parts of a source (`scopes`) from the store into the live catalog (hold the
    /// turn: `rebuilding`): patched in where a patch can say what the catalog is, else rebuilt.
    pub async fn patch_scopes(
        &self,
        store: &Store,
        source: &str,
        scopes: &[String],
    ) -> anyhow::Result<()> {
        let reread = crate::sync::reread_scopes(store, self.snapshot(), source, scopes).await?;
        self.log_swap(Swap::Scopes {
            source: source.to_string(),
            scopes: scopes.to_vec(),
        });
        let snapshot = reread.snapshot;
        self.update(|m| m.snapshot = snapshot.clone());
        Ok(())
    }

    fn log_swap(&self, swap: Swap) {
        let mut swapped = self.swapped.lock().expect("swap log");
        if swapped.readers > 0 {
            swapped.log.push((std::time::Instant::now(), swap));
        }
    }

    /// Starts a rebuild that reads the store outside the catalog's turn: until the guard is
    /// dropped, what is swapped into the catalog is logged, for `caught_up`.
    pub fn reading_catalog(&self) -> CatalogRead<'_> {
        self.swapped.lock().expect("swap log").readers += 1;
        CatalogRead { bot: self }
    }

    /// `built`, a catalog read from the store from `since` on (outside the turn, under
    /// `read`), with what was swapped into the live catalog meanwhile patched in again from
    /// the store: the pushes applied while it was read, which it may have missed. Hold the
    /// turn (`rebuilding`) from this call to the swap. Should a whole catalog have been swapped
    /// in meanwhile, which of the two read the store last is unknown: the catalog is read again.
    pub async fn caught_up(
        &self,
        store: &Store,
        read: &CatalogRead<'_>,
        since: std::time::Instant,
        built: Arc<Snapshot>,
    ) -> anyhow::Result<Arc<Snapshot>> {
        debug_assert!(std::ptr::eq(read.bot, self));
        let swapped = self.swapped.lock().expect("swap log").log_since(since);
        if swapped.iter().any(|s| matches!(s, Swap::Whole)) {
            return Ok(Arc::new(crate::sync::load_snapshot(store).await?));
        }
        let scopes = crate::sync::scopes_by_source(swapped.iter().filter_map(|s| match s {
            Swap::Scopes { source, scopes } => Some((source.as_str(), scopes.as_slice())),
            _ => None,
        }));
        let mut current = built;
        for (source, scopes) in scopes {
            tracing::info!(source, ?scopes, "patched again into the re-read catalog");
            current = crate::sync::reread_scopes(store, current, source, &scopes)
                .await?
                .snapshot;
        }
        Ok(current)
    }

    /// Records how each source stands after a sync. An event noted since `sources` were read
    /// from the store (a webhook's, applied beside the sync) is kept.
    pub fn set_sources(&self, sources: Vec<SourceStatus>) {
        self.update(|m| m.sources = with_later_events(&m.sources, &sources));
    }

    /// Reads each source's last sync and last event again from `store` (another replica
    /// synced or was sent an event).
    pub async fn reload_source_statuses(&self, store: &Store) -> anyhow::Result<()> {
        let mut next = (*self.model.load().sources).clone();
        for s in &mut next {
            s.last_complete = store.last_sync(&s.source).await?;
            s.last_event = store.last_event(&s.source).await?;
        }
        self.set_sources(next);
        Ok(())
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

    /// Scores entities against these scorecards from now on.
    pub fn set_scorecards(&self, scorecards: Vec<crate::scorecards::Scorecard>) {
        let scorecards = Arc::new(scorecards);
        self.update(|m| m.scorecards = scorecards.clone());
    }

    /// Scores with these exemptions from now on.
    pub fn set_exemptions(&self, list: Vec<crate::store::Exemption>) {
        let exemptions = Arc::new(crate::scorecards::exemptions::Exemptions::new(list));
        self.update(|m| m.exemptions = exemptions.clone());
    }

    /// Reads the exemptions in force from `store` (after one was granted).
    pub async fn reload_exemptions(&self, store: &Store) -> anyhow::Result<()> {
        self.set_exemptions(store.exemptions(self.now().timestamp()).await?);
        Ok(())
    }

    /// Reads the recent changes kept in `store` (at start-up, and after the catalog watch
    /// recorded changes), forgetting those older than the retention.
    pub async fn reload_changes(&self, store: &Store) -> anyhow::Result<()> {
        let since = (self.now() - self.changes_kept).timestamp();
        let repo = store.repo_changes(since).await?;
        let catalog = store
            .changes(None, None, since)
            .await?
            .into_iter()
            .map(|c| crate::changes::CatalogChange {
                at: c.at,
                entity: c.entity,
                change: c.change,
                before: c.before,
                after: c.after,
                source: c.source,
            })
            .collect();
        let changes = Arc::new(RecentChanges::new(repo, catalog));
        self.update(|m| m.changes = changes.clone());
        Ok(())
    }

    /// Reads every SBOM the store keeps again, for `who uses`, and swaps them in. They are
    /// read outside the catalog's turn (seconds at 100,000 repositories), so pushes are
    /// applied meanwhile; only the swap takes it (`read_packages`, `swap_packages`).
    pub async fn reload_packages(&self, store: &Store) -> anyhow::Result<()> {
        let read = self.reading_catalog();
        let packages = self.read_packages(store).await?;
        let _turn = self.rebuilding().await;
        self.swap_packages(store, &read, packages).await
    }

    /// Every SBOM the store keeps, read outside the catalog's turn under `read` (a
    /// `reading_catalog` guard held until `swap_packages`).
    pub async fn read_packages(&self, store: &Store) -> anyhow::Result<PackagesRead> {
        let since = std::time::Instant::now();
        let mut names = crate::compliance::sbom::Names::default();
        let sboms = store.load_sboms(&mut names).await?;
        Ok(PackagesRead {
            since,
            packages: crate::compliance::packages::Packages::new(sboms),
        })
    }

    /// Swaps in SBOMs read by `read_packages`, with those that pushes read again meanwhile
    /// read again from the store, so that none is undone. Hold the turn (`rebuilding`) for
    /// this call. Should every SBOM have been swapped in meanwhile, which of the two read the
    /// store last is unknown: they are read again.
    pub async fn swap_packages(
        &self,
        store: &Store,
        read: &CatalogRead<'_>,
        loaded: PackagesRead,
    ) -> anyhow::Result<()> {
        debug_assert!(std::ptr::eq(read.bot, self));
        let swapped = self
            .swapped
            .lock()
            .expect("swap log")
            .log_since(loaded.since);
        let packages = if swapped.iter().any(|s| matches!(s, Swap::AllSboms)) {
            self.read_packages(store).await?.packages
        } else {
            let scopes: Vec<String> = swapped
                .into_iter()
                .filter_map(|s| match s {
                    Swap::Sboms(scopes) => Some(scopes),
                    _ => None,
                })
                .flatten()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if scopes.is_empty() {
                loaded.packages
            } else {
                tracing::info!(?scopes, "SBOMs read again into the re-read ones");
                let sboms = store.sboms_in(&scopes, &mut Default::default()).await?;
                loaded.packages.rescoped(&scopes, sboms)
            }
        };
        self.log_swap(Swap::AllSboms);
        let packages = Arc::new(packages);
        self.update(|m| m.packages = packages.clone());
        Ok(())
    }

    /// Reads again the SBOMs of `scopes` (`github:owner/repo`), for `who uses`: what a push
    /// changed, not every SBOM kept. Hold the turn (`rebuilding`).
    pub async fn reread_sboms(&self, store: &Store, scopes: &[String]) -> anyhow::Result<()> {
        let sboms = store.sboms_in(scopes, &mut Default::default()).await?;
        self.log_swap(Swap::Sboms(scopes.to_vec()));
        self.update(|m| m.packages = Arc::new(m.packages.rescoped(scopes, sboms.clone())));
        Ok(())
    }

    /// Adds changes just recorded (a webhook's): answers see them at once.
    pub fn add_repo_changes(&self, fresh: Vec<crate::changes::RepoChange>) {
        if fresh.is_empty() {
            return;
        }
        let since = (self.now() - self.changes_kept).timestamp();
        // Within the swap, so that two webhooks at once both land.
        self.update(|m| {
            let mut next = RecentChanges::clone(&m.changes);
            next.add_repo_changes(fresh.clone());
            next.forget_before(since);
            m.changes = Arc::new(next);
        });
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.model.load().snapshot.clone()
    }

    /// The packages the SBOMs list, as `who uses` reads them now.
    pub fn packages(&self) -> Arc<crate::compliance::packages::Packages> {
        self.model.load().packages.clone()
    }

    /// The recent changes answers read now.
    pub fn changes(&self) -> Arc<RecentChanges> {
        self.model.load().changes.clone()
    }
}

/// A short id for one event, for the logs and for the asker to quote: unique within a process
/// and unlikely to repeat across processes.
fn correlation_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let mut h = SEED.get_or_init(Default::default).build_hasher();
    h.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
    format!("{:08x}", h.finish() as u32)
}

/// The time zone a platform named, or UTC (also for a name this build does not know).
fn zone(name: Option<&str>) -> chrono_tz::Tz {
    name.and_then(|t| t.parse().ok())
        .unwrap_or(chrono_tz::Tz::UTC)
}
