//! A run's cards: posted once when it needs a decision (in the conversation where it was
//! asked, and to each person who may decide, or their team's channel), every copy recorded and
//! redrawn as the run moves on; the one reminder; the review cards of a run started in an
//! emergency.

use std::sync::Arc;

use anyhow::{Context as _, Result};

use super::Desk;
use crate::bot::Bot;
use crate::catalog::Snapshot;
use crate::conversation::Platform;
use crate::outbox::{Destination, Outbox, Recipient, Undeliverable};
use crate::store::Card;
use crate::workflows::permissions::owning_groups;
use crate::workflows::replies::{self, CardKind, Plan, Posted};
use crate::workflows::run::Run;

/// The annotation of a Group naming its channel on `platform`.
fn channel_annotation(platform: Platform) -> Option<&'static str> {
    match platform {
        Platform::Slack => Some("slack.com/channel-id"),
        Platform::Discord => Some("discord.com/channel-id"),
        Platform::Console | Platform::Http => None,
    }
}

/// The requester's id on the run's platform (`slack:U123` → `U123`).
fn requester_id(run: &Run) -> &str {
    run.identity
        .split_once(':')
        .map_or(run.identity.as_str(), |(_, id)| id)
}

impl Desk {
    pub(super) fn outbox(&self, platform: Platform) -> Option<Arc<dyn Outbox>> {
        self.outboxes
            .read()
            .expect("outboxes")
            .get(&platform)
            .cloned()
    }

    /// Where the requester is answered: the thread or channel where they asked, else directly.
    pub(super) fn conversation_of(run: &Run) -> Destination {
        match (&run.channel, &run.thread) {
            (Some(channel), Some(thread)) => Destination::Thread {
                channel: channel.clone(),
                thread: thread.clone(),
            },
            (Some(channel), None) => Destination::Channel(channel.clone()),
            (None, _) => Destination::User(requester_id(run).to_string()),
        }
    }

    /// Posts a run's cards, once (of several processes, the one that claims them): the card in
    /// the conversation where it was asked (by DM to the requester when the bot cannot post
    /// there), and to those who may decide: an approval card while it awaits a decision, a
    /// review card when it was started in an emergency. None when they were already posted or
    /// the run's platform cannot be posted to.
    pub(super) async fn post_cards(
        &self,
        snap: &Snapshot,
        id: i64,
        now: i64,
    ) -> Result<Option<Posted>> {
        let run = self.store.load_run(id).await?.context("a run to post")?;
        // Claimed even where nothing can be posted (a platform without an outbox), so the
        // sweep does not come back to it.
        if !self.store.claim_cards(id, now).await? {
            return Ok(None);
        }
        let Some(outbox) = Platform::parse(&run.platform).and_then(|p| self.outbox(p)) else {
            return Ok(None);
        };
        let emergency = self.emergency_allowed(&run.workflow);
        let reviews = self.store.reviews(id).await?;
        let card = replies::card(
            &run,
            CardKind::Approval,
            emergency,
            &reviews,
            chrono_tz::UTC,
        );
        let mut posted = Posted::default();
        let here = Self::conversation_of(&run);
        let at = match outbox.post(&here, &card).await {
            Ok(at) => {
                posted.here = !matches!(here, Destination::User(_));
                posted.to_requester = !posted.here;
                Some(at)
            }
            Err(e) if Undeliverable::of(&e).is_some() && !matches!(here, Destination::User(_)) => {
                tracing::info!(
                    run = id,
                    "the card cannot go where it was asked ({e:#}); sending it to the requester"
                );
                let dm = Destination::User(requester_id(&run).to_string());
                posted.to_requester = true;
                match outbox.post(&dm, &card).await {
                    Ok(at) => Some(at),
                    Err(e) => {
                        tracing::warn!(run = id, "cannot send the card to the requester: {e:#}");
                        None
                    }
                }
            }
            Err(e) => {
                tracing::warn!(run = id, "cannot post the card: {e:#}");
                None
            }
        };
        if let Some(at) = at {
            let card = Card {
                at,
                kind: CardKind::Approval,
                recipient: Some(run.requested_by.clone()),
            };
            self.store.add_card(id, &card, now).await?;
        }
        let asked = if run.break_glass.is_some() {
            self.post_reviews(snap, id, now).await?
        } else {
            self.post_to_deciders(snap, outbox.as_ref(), &run, CardKind::Approval, now)
                .await?
        };
        posted.dms = asked.dms;
        posted.channels = asked.channels;
        posted.unreachable = asked.unreachable;
        Ok(Some(posted))
    }

    /// Posts `kind` of card to those who may decide on `run`: each by DM, or, when more than
    /// `dm_limit` may, the owning teams' channels (DMs still when no team names a channel).
    /// Says the DMs and channels posted, and who could not be written to.
    async fn post_to_deciders(
        &self,
        snap: &Snapshot,
        outbox: &dyn Outbox,
        run: &Run,
        kind: CardKind,
        now: i64,
    ) -> Result<Posted> {
        let plan = Plan::of(run);
        // The one who broke the glass does not review themselves.
        let asked: Vec<&String> = plan
            .asked
            .iter()
            .filter(|p| Some(p.as_str()) != run.break_glass_by.as_deref())
            .collect();
        let platform = Platform::parse(&run.platform).unwrap_or(Platform::Console);
        let emergency = self.emergency_allowed(&run.workflow);
        let reviews = self.store.reviews(run.id).await?;
        let card = replies::card(run, kind, emergency, &reviews, chrono_tz::UTC);
        let mut channels = 0;
        if asked.len() > self.dm_limit
            && let Some(key) = channel_annotation(platform)
        {
            let target = run.target.as_deref().and_then(|t| snap.get(t));
            for g in target.map(|t| owning_groups(snap, t)).unwrap_or_default() {
                let Some(c) = snap.entity(g).annotation(key) else {
                    continue;
                };
                match outbox
                    .post(&Destination::Channel(c.to_string()), &card)
                    .await
                {
                    Ok(at) => {
                        channels += 1;
                        let card = Card {
                            at,
                            kind,
                            recipient: None,
                        };
                        self.store.add_card(run.id, &card, now).await?;
                    }
                    Err(e) => tracing::warn!(run = run.id, "cannot post the card to {c}: {e:#}"),
                }
            }
        }
        // DMs when no team channel took it (none named, or the bot may not post there).
        let mut dests: Vec<(Arc<dyn Outbox>, Destination, String)> = Vec::new();
        let mut unreachable = Vec::new();
        if channels == 0 {
            for who in asked {
                match self.reach(snap, who, platform).await {
                    Some((outbox, pid)) => {
                        dests.push((outbox, Destination::User(pid), who.clone()))
                    }
                    None => unreachable.push(who.clone()),
                }
            }
        }
        let mut dms = 0;
        for (outbox, to, recipient) in dests {
            match outbox.post(&to, &card).await {
                Ok(at) => {
                    dms += 1;
                    let card = Card {
                        at,
                        kind,
                        recipient: Some(recipient),
                    };
                    self.store.add_card(run.id, &card, now).await?;
                }
                Err(e) => {
                    tracing::warn!(run = run.id, "cannot post a card to {recipient}: {e:#}");
                    unreachable.push(recipient);
                }
            }
        }
        Ok(Posted {
            dms,
            channels,
            unreachable,
            ..Posted::default()
        })
    }

    /// How to write to `who` directly: on the preferred platform (`notify.prefer`) when it
    /// reaches them, else the one they were last active on, else the run's, else any chat
    /// platform that reaches them. None when none does.
    async fn reach(
        &self,
        snap: &Snapshot,
        who: &str,
        run_platform: Platform,
    ) -> Option<(Arc<dyn Outbox>, String)> {
        let id = snap.get(who)?;
        let recipient = Recipient::of(snap, id);
        let seen = match self.store.last_seen(who).await {
            Ok(seen) => seen,
            Err(e) => {
                tracing::warn!("cannot read where {who} was last active: {e:#}");
                Vec::new()
            }
        };
        let mut order: Vec<Platform> = self.prefer.into_iter().collect();
        order.extend(seen.iter().filter_map(|(p, _)| Platform::parse(p)));
        order.extend([run_platform, Platform::Slack, Platform::Discord]);
        let mut tried = Vec::new();
        for p in order {
            // The console reaches nobody but the one at it.
            if tried.contains(&p) || (p != run_platform && !p.is_chat()) {
                continue;
            }
            tried.push(p);
            let Some(outbox) = self.outbox(p) else {
                continue;
            };
            match outbox.reach(&recipient).await {
                Ok(Some(pid)) => return Some((outbox, pid)),
                Ok(None) => {}
                Err(e) => tracing::warn!("cannot find {who} on {}: {e:#}", p.name()),
            }
        }
        None
    }

    /// Sends the review card of a run the person on call started at once to those who may
    /// decide on it, once (of several processes, the one that claims them); says the DMs and
    /// channels posted, and who could not be written to.
    pub(super) async fn post_reviews(&self, snap: &Snapshot, id: i64, now: i64) -> Result<Posted> {
        if !self.store.claim_reviews(id, now).await? {
            return Ok(Posted::default());
        }
        let run = self.store.load_run(id).await?.context("a run to review")?;
        let Some(outbox) = Platform::parse(&run.platform).and_then(|p| self.outbox(p)) else {
            return Ok(Posted::default());
        };
        self.post_to_deciders(snap, outbox.as_ref(), &run, CardKind::Review, now)
            .await
    }

    /// Whether a workflow of this name lets the person on call run it at once.
    pub(super) fn emergency_allowed(&self, workflow: &str) -> bool {
        self.workflows()
            .iter()
            .any(|w| w.name == workflow && w.emergency.is_some())
    }

    /// Redraws every copy of a run's cards as the run stands now; a copy that cannot be edited
    /// is logged and left.
    pub(super) async fn redraw(&self, run: &Run) {
        let cards = match self.store.cards(run.id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(run = run.id, "cannot read the run's cards: {e:#}");
                return;
            }
        };
        if cards.is_empty() {
            return;
        }
        let reviews = self.store.reviews(run.id).await.unwrap_or_default();
        let emergency = self.emergency_allowed(&run.workflow);
        for card in cards {
            let Some(outbox) = self.outbox(card.at.platform) else {
                continue;
            };
            let kind = card.kind;
            let reply = replies::card(run, kind, emergency, &reviews, chrono_tz::UTC);
            if let Err(e) = outbox.update(&card.at, &reply).await {
                tracing::warn!(
                    run = run.id,
                    "cannot update a card in {}: {e:#}",
                    card.at.channel
                );
            }
        }
    }

    /// As `redraw`, for a run known by its id.
    pub(super) async fn redraw_id(&self, id: i64) {
        match self.store.load_run(id).await {
            Ok(Some(run)) => self.redraw(&run).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(run = id, "cannot redraw the run's cards: {e:#}"),
        }
    }

    /// Posts the cards of runs whose process stopped before posting them, and the one reminder
    /// of runs whose `remind_after` has passed (asking the target's on-call person too with
    /// `escalate_to: oncall`).
    pub(super) async fn sweep_cards(&self, bot: &Bot) -> Result<()> {
        let now = bot.now().timestamp();
        let snap = bot.snapshot();
        // A minute's grace: the process that recorded the run is posting them now. One run's
        // trouble is logged and leaves the others to go on.
        for id in self.store.runs_without_cards(now - 60).await? {
            if let Err(e) = self.post_cards(&snap, id, now).await {
                tracing::warn!(run = id, "posting the run's cards: {e:#}");
            }
        }
        for id in self.store.runs_without_reviews(now - 60).await? {
            if let Err(e) = self.post_reviews(&snap, id, now).await {
                tracing::warn!(run = id, "posting the run's review cards: {e:#}");
            }
        }
        for id in self.store.runs_to_remind(now).await? {
            let reminded = async {
                if !self.store.claim_reminder(id, now).await? {
                    return Ok(());
                }
                match self.store.load_run(id).await? {
                    Some(run) => self.remind(bot, &snap, &run, now).await,
                    None => Ok(()),
                }
            };
            if let Err(e) = reminded.await {
                tracing::warn!(run = id, "reminding: {e:#}");
            }
        }
        Ok(())
    }

    async fn remind(&self, bot: &Bot, snap: &Snapshot, run: &Run, now: i64) -> Result<()> {
        let plan = Plan::of(run);
        let waiting: Vec<String> = plan
            .asked
            .iter()
            .filter(|p| !run.approvals.iter().any(|a| &a.by == *p))
            .cloned()
            .collect();
        let escalate = self
            .workflows()
            .iter()
            .find(|w| w.name == run.workflow)
            .and_then(|w| w.approval.as_ref())
            .and_then(|a| a.escalate_to.clone());
        let platform = Platform::parse(&run.platform).unwrap_or(Platform::Console);
        // Escalation: the target's on-call people not asked yet get the card too.
        let mut escalated = Vec::new();
        if let Some(crate::workflows::definition::Who::Oncall) = escalate
            && let Some(target) = run.target.as_deref().filter(|t| snap.get(t).is_some())
        {
            let card = replies::card(
                run,
                CardKind::Approval,
                self.emergency_allowed(&run.workflow),
                &[],
                chrono_tz::UTC,
            );
            for person in bot.oncall_now(target) {
                if plan.asked.contains(&person) || person == run.requested_by {
                    continue;
                }
                if let Some((outbox, pid)) = self.reach(snap, &person, platform).await {
                    match outbox.post(&Destination::User(pid), &card).await {
                        Ok(at) => {
                            let c = Card {
                                at,
                                kind: CardKind::Approval,
                                recipient: Some(person.clone()),
                            };
                            self.store.add_card(run.id, &c, now).await?;
                            escalated.push(person);
                        }
                        Err(e) => {
                            tracing::warn!(run = run.id, "cannot escalate to {person}: {e:#}")
                        }
                    }
                }
            }
        }
        let reminder = replies::reminder(run, &waiting, &escalated);
        for card in self.store.cards(run.id).await? {
            // To those who have not decided: not the requester's copy, nor those of people
            // who decided or were just asked.
            if card.kind != CardKind::Approval
                || card.recipient.as_ref().is_some_and(|r| {
                    *r == run.requested_by || escalated.contains(r) || !waiting.contains(r)
                })
            {
                continue;
            }
            let Some(outbox) = self.outbox(card.at.platform) else {
                continue;
            };
            let thread = Destination::Thread {
                channel: card.at.channel.clone(),
                thread: card.at.id.clone(),
            };
            if let Err(e) = outbox.post(&thread, &reminder).await {
                tracing::warn!(run = run.id, "cannot post a reminder: {e:#}");
            }
        }
        Ok(())
    }
}

/// Where something told to a team went.
#[derive(Debug, Default)]
pub struct Told {
    pub at: Vec<crate::outbox::MessageRef>,
    /// Why it went nowhere (no channel and no tech lead reachable, or every post refused).
    pub nowhere: Option<String>,
}

impl Told {
    /// Where it went (`slack:C0TEAMA, …`), or `nowhere: WHY`, as the store records it.
    pub fn describe(&self) -> String {
        match &self.nowhere {
            Some(why) => format!("nowhere: {why}"),
            None => self
                .at
                .iter()
                .map(|m| format!("{}:{}", m.platform.name(), m.channel))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

impl Desk {
    /// Posts `reply` to the team `team`: to its channel (the Group's `slack.com/channel-id`,
    /// else `discord.com/channel-id`, on a platform with an outbox), else by DM to its members
    /// who are tech leads (`roles.tech_leads`). An error is a failure worth trying again; a
    /// post refused for good tries the next way. `once`: each post carries its key, and looks
    /// for what a process that died may have posted under it.
    pub async fn tell_team(
        &self,
        snap: &Snapshot,
        team: crate::catalog::Id,
        reply: &crate::conversation::Reply,
        once: Option<crate::outbox::Once<'_>>,
    ) -> Result<Told> {
        let g = snap.entity(team);
        let post = |outbox: &'_ std::sync::Arc<dyn crate::outbox::Outbox>, to: Destination| {
            let outbox = outbox.clone();
            async move {
                match once {
                    Some(once) => outbox.post_once(&to, reply, once).await,
                    None => outbox.post(&to, reply).await,
                }
            }
        };
        let mut refused = Vec::new();
        let mut order: Vec<Platform> = self.prefer.into_iter().collect();
        order.extend([Platform::Slack, Platform::Discord]);
        order.dedup();
        for platform in order {
            let (Some(key), Some(outbox)) = (channel_annotation(platform), self.outbox(platform))
            else {
                continue;
            };
            let Some(channel) = g.annotation(key) else {
                continue;
            };
            match post(&outbox, Destination::Channel(channel.to_string())).await {
                Ok(at) => {
                    return Ok(Told {
                        at: vec![at],
                        nowhere: None,
                    });
                }
                Err(e) if Undeliverable::of(&e).is_some() => {
                    tracing::info!(team = %g.key(), "the team's channel refused a post: {e:#}");
                    refused.push(format!("{channel}: {e}"));
                }
                Err(e) => return Err(e),
            }
        }
        let leads: Vec<String> = g
            .related(crate::catalog::RelKind::HasMember)
            .filter(|&u| {
                crate::workflows::permissions::Person::of(snap, Some(u), &[], &self.roles)
                    .is(crate::workflows::definition::Role::TechLead)
            })
            .map(|u| snap.entity(u).key())
            .collect();
        let mut told = Told::default();
        for lead in &leads {
            let Some((outbox, id)) = self.reach(snap, lead, Platform::Slack).await else {
                refused.push(format!("{lead}: not reachable"));
                continue;
            };
            match post(&outbox, Destination::User(id)).await {
                Ok(at) => told.at.push(at),
                Err(e) => {
                    tracing::warn!(team = %g.key(), "cannot write to {lead}: {e:#}");
                    refused.push(format!("{lead}: {e}"));
                }
            }
        }
        if told.at.is_empty() {
            told.nowhere = Some(if leads.is_empty() && refused.is_empty() {
                format!(
                    "{} names no channel (slack.com/channel-id or discord.com/channel-id) and has \
                     no tech lead (roles.tech_leads) among its members",
                    g.key()
                )
            } else {
                refused.join("; ")
            });
        }
        Ok(told)
    }
}
