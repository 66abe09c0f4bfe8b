//! Weekly digests, sent on `digests.schedule`: for the schedule's latest period, each team that
//! owns something gets one digest (a row per team and period is written before it is sent, so
//! a restart or another process never sends a second; a failed send is tried again; a send
//! whose process died is taken over after looking for what it posted), none when
//! its catalog did not change; and the platform digest to `digests.platform_channel`. The first
//! period after install is a baseline: nothing is sent for it.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::Desk;
use crate::bot::Bot;
use crate::catalog::{Id, RelKind, Snapshot};
use crate::config::Digests;
use crate::conversation::{Platform, Reply};
use crate::outbox::{Destination, Once};
use crate::scorecards::digest::{Recorded, platform_digest, team_digest};
use crate::scorecards::watch::iso_week;
use crate::store::DigestClaim;
use crate::workflows::run::State;

/// The row key of the platform digest (teams are Group references).
const PLATFORM: &str = "@platform";
/// The row key of the baseline period (no digest is sent for it).
const BASELINE: &str = "";
/// Weeks of trend a digest shows.
const TREND_WEEKS: i64 = 8;
/// How long a digest's claim holds without its end recorded: past it, the process that
/// claimed it is taken to have died (twice the scheduled work's lease, which a dead replica has
/// lost by then), and the replica now running the scheduled work sends it, after looking for
/// what the first may have posted. A sender still alive past it records nothing (its claim was
/// taken over).
const STALE_CLAIM: i64 = 2 * crate::background::LEASE_FOR.as_secs() as i64;

/// Whether a claim is this process's to send: the attempt it records its end under, and since
/// when to look for what an earlier attempt may have posted.
fn taken(claim: DigestClaim) -> Option<(i64, Option<i64>)> {
    match claim {
        DigestClaim::Taken {
            attempt,
            look_since,
        } => Some((attempt, look_since)),
        DigestClaim::Elsewhere => None,
    }
}

/// The schedule's latest occurrence at or before `now`: its period key (the UTC time) and time.
pub fn latest_period(settings: &Digests, now: DateTime<Utc>) -> Option<(String, DateTime<Utc>)> {
    let local = now.with_timezone(&settings.timezone.0);
    let at = settings
        .schedule
        .cron
        .find_previous_occurrence(&local, true)
        .ok()?
        .with_timezone(&Utc);
    Some((at.format("%Y-%m-%dT%H:%MZ").to_string(), at))
}

/// The Groups that own something: the teams digests go to.
pub fn teams(snap: &Snapshot) -> Vec<Id> {
    snap.entities()
        .filter(|(_, e)| e.kind_is("group") && e.related(RelKind::OwnerOf).next().is_some())
        .map(|(id, _)| id)
        .collect()
}

impl Desk {
    /// Sends digests as `[digests]` says.
    pub fn with_digests(mut self, digests: Digests) -> Desk {
        self.digests = digests;
        self
    }

    /// Makes and sends the digests of the schedule's latest period that are not made yet;
    /// says how many were sent.
    pub async fn send_digests(&self, bot: &Bot) -> Result<usize> {
        if !self.digests.enabled {
            return Ok(0);
        }
        let now = bot.now();
        let Some((period, _)) = latest_period(&self.digests, now) else {
            return Ok(0);
        };
        if !self.store.digests_started().await? {
            self.store
                .open_digest(BASELINE, &period, "baseline", now.timestamp())
                .await?;
            return Ok(0);
        }
        // Ended (sent, silent, the baseline); a digest being sent is the claim's to settle
        // (`Store::claim_digest` takes over one whose sender died).
        let done: std::collections::HashSet<String> = self
            .store
            .digests_of(&period)
            .await?
            .into_iter()
            .filter(|d| d.state != "pending" && d.state != "sending")
            .map(|d| d.team)
            .collect();
        if done.contains(BASELINE) {
            return Ok(0);
        }
        let snap = bot.snapshot();
        let mut sent = 0;
        for team in teams(&snap) {
            let key = snap.entity(team).key();
            if done.contains(&key) {
                continue;
            }
            self.store
                .open_digest(&key, &period, "pending", now.timestamp())
                .await?;
            let at = bot.now().timestamp();
            let claim = self
                .store
                .claim_digest(&key, &period, at, at - STALE_CLAIM)
                .await?;
            let Some((attempt, look_since)) = taken(claim) else {
                continue;
            };
            let made = async {
                let Some(reply) = self.digest(bot, team, &period).await? else {
                    return Ok::<_, anyhow::Error>(("silent", String::new(), None));
                };
                let once = Once {
                    key: &format!("digest:{key}:{period}"),
                    look_since,
                };
                let told = self.tell_team(&snap, team, &reply, Some(once)).await?;
                Ok(("sent", reply.view.headline, Some(told.describe())))
            };
            match made.await {
                Ok((state, summary, to)) => {
                    // Sent, not yet recorded: where a crash leaves the claim to be taken over.
                    self.failpoints.hit("after_digest")?;
                    sent += usize::from(state == "sent");
                    self.finish(&key, &period, attempt, state, &summary, to.as_deref())
                        .await?;
                }
                Err(e) => {
                    tracing::warn!(team = %key, "cannot send a digest (tried again): {e:#}");
                    self.finish(&key, &period, attempt, "pending", "", None)
                        .await?;
                }
            }
        }
        if !self.digests.platform_channel.is_empty() && !done.contains(PLATFORM) {
            self.store
                .open_digest(PLATFORM, &period, "pending", now.timestamp())
                .await?;
            let at = bot.now().timestamp();
            let claim = self
                .store
                .claim_digest(PLATFORM, &period, at, at - STALE_CLAIM)
                .await?;
            if let Some((attempt, look_since)) = taken(claim) {
                let reply = self.platform_digest(bot, &period).await?;
                let once = Once {
                    key: &format!("digest:{PLATFORM}:{period}"),
                    look_since,
                };
                match self.post_platform(&reply, once).await {
                    Ok(to) => {
                        sent += 1;
                        let headline = &reply.view.headline;
                        self.finish(PLATFORM, &period, attempt, "sent", headline, Some(&to))
                            .await?;
                    }
                    Err(e) => {
                        tracing::warn!("cannot send the platform digest (tried again): {e:#}");
                        self.finish(PLATFORM, &period, attempt, "pending", "", None)
                            .await?;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Records how a claimed digest ended, unless another process took it over since (this
    /// one was too slow: the log says so, and that one's record stands).
    async fn finish(
        &self,
        team: &str,
        period: &str,
        attempt: i64,
        state: &str,
        summary: &str,
        to: Option<&str>,
    ) -> Result<()> {
        let recorded = self
            .store
            .finish_digest(team, period, attempt, state, summary, to)
            .await?;
        if !recorded {
            tracing::warn!(
                team,
                period,
                state,
                "a digest was taken over while it was sent"
            );
        }
        Ok(())
    }

    /// `team`'s digest for `period` as things stand (None: its catalog did not change since
    /// its last digest).
    pub async fn digest(&self, bot: &Bot, team: Id, period: &str) -> Result<Option<Reply>> {
        let snap = bot.snapshot();
        let key = snap.entity(team).key();
        let now = bot.now();
        let since = self
            .store
            .last_digest(&key, period)
            .await?
            .unwrap_or_else(|| (now - chrono::Duration::days(7)).timestamp());
        let changes = self.store.changes(Some(&key), None, since).await?;
        let weeks = self
            .store
            .team_weeks(
                &key,
                &iso_week(now - chrono::Duration::weeks(TREND_WEEKS - 1)),
                &iso_week(now),
            )
            .await?;
        let owned: std::collections::HashSet<String> = snap
            .entity(team)
            .related(RelKind::OwnerOf)
            .map(|id| snap.entity(id).key())
            .collect();
        let awaiting: Vec<(i64, String, Option<String>)> = self
            .store
            .runs_in(&[State::AwaitingApproval], 500)
            .await?
            .into_iter()
            .filter(|r| r.target.as_ref().is_some_and(|t| owned.contains(t)))
            .map(|r| (r.id, r.workflow, r.target))
            .collect();
        let recorded = Recorded {
            changes: &changes,
            weeks: &weeks,
            awaiting: &awaiting,
            since,
        };
        Ok(bot.as_itself(|ctx| team_digest(ctx, team, period, &recorded)))
    }

    /// The platform digest for `period`.
    pub async fn platform_digest(&self, bot: &Bot, period: &str) -> Result<Reply> {
        let since = self
            .store
            .last_digest(PLATFORM, period)
            .await?
            .unwrap_or_else(|| (bot.now() - chrono::Duration::days(7)).timestamp());
        let changes = self.store.changes(None, None, since).await?;
        bot.flush_usage().await?;
        let gaps = self.store.top_zero_results(since, 10).await?;
        let reports = self.store.open_reports().await?;
        Ok(bot.as_itself(|ctx| platform_digest(ctx, period, &changes, &gaps, &reports)))
    }

    /// Posts the platform digest to `digests.platform_channel` (Slack, else Discord).
    async fn post_platform(&self, reply: &Reply, once: Once<'_>) -> Result<String> {
        let channel = &self.digests.platform_channel;
        for platform in [Platform::Slack, Platform::Discord] {
            if let Some(outbox) = self.outbox(platform) {
                let at = outbox
                    .post_once(&Destination::Channel(channel.clone()), reply, once)
                    .await?;
                return Ok(format!("{}:{}", at.platform.name(), at.channel));
            }
        }
        anyhow::bail!("no chat platform is connected to post to {channel}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(schedule: &str, tz: &str) -> Digests {
        Digests {
            schedule: schedule.to_string().try_into().unwrap(),
            timezone: tz.to_string().try_into().unwrap(),
            ..Digests::default()
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn periods_follow_the_schedule_in_its_time_zone_across_daylight_saving_changes() {
        let monday_nine = settings("0 9 * * MON", "Europe/Berlin");
        // Winter: 09:00 in Berlin is 08:00 UTC.
        assert_eq!(
            latest_period(&monday_nine, at("2026-12-02T12:00:00Z"))
                .unwrap()
                .0,
            "2026-11-30T08:00Z"
        );
        assert_eq!(
            latest_period(&monday_nine, at("2026-11-30T08:00:00Z"))
                .unwrap()
                .0,
            "2026-11-30T08:00Z",
            "the occurrence itself belongs to its period"
        );
        assert_eq!(
            latest_period(&monday_nine, at("2026-11-30T07:59:00Z"))
                .unwrap()
                .0,
            "2026-11-23T08:00Z"
        );
        // Summer (clocks went forward on 29 March): 09:00 is 07:00 UTC.
        assert_eq!(
            latest_period(&monday_nine, at("2026-03-30T07:30:00Z"))
                .unwrap()
                .0,
            "2026-03-30T07:00Z"
        );
        // 02:30 does not exist on the spring-forward day: the job runs once, at 03:00.
        let nightly = settings("30 2 * * *", "Europe/Berlin");
        assert_eq!(
            latest_period(&nightly, at("2026-03-29T01:30:00Z"))
                .unwrap()
                .0,
            "2026-03-29T01:00Z"
        );
        // 02:30 happens twice on the fall-back day: one period.
        let day: Vec<String> = (0..24)
            .map(|h| {
                latest_period(
                    &nightly,
                    at("2026-10-24T22:00:00Z") + chrono::Duration::hours(h),
                )
                .unwrap()
                .0
            })
            .collect();
        let mut distinct = day.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 2, "{day:?}");
    }
}
