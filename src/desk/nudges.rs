//! Nudges: the problems the catalog watch raised, sent to the owning team when they are due —
//! outside the team's quiet hours (in its time zone), within its number a day, not while
//! snoozed — each once (of several processes, the one that claims it); and their buttons:
//! snooze the entity's nudges, or ask for an exemption through the scorecard's exemption
//! workflow, which its owners approve.

use anyhow::Result;
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::{Asked, Desk};
use crate::bot::Bot;
use crate::catalog::{Id, Snapshot};
use crate::conversation::{Action, ActionId, Intent, NudgeVerb, Reply, Section, Style};
use crate::store::Nudge;

/// The annotation of a Group naming its time zone.
pub const TIMEZONE_ANNOTATION: &str = "switchboard.dev/timezone";

/// The workflow that grants exemptions from `scorecard`'s checks.
pub fn exemption_workflow(scorecard: &str) -> String {
    format!("exempt-{scorecard}")
}

impl Desk {
    /// Sends the nudges that are due now; says how many were sent.
    pub async fn send_nudges(&self, bot: &Bot) -> Result<usize> {
        if !self.nudging.enabled {
            return Ok(0);
        }
        let snap = bot.snapshot();
        let now = bot.now();
        // Each team's nudges left today, read once per team.
        let mut left: std::collections::HashMap<String, u32> = Default::default();
        let mut sent = 0;
        for n in self.store.unsent_nudges().await? {
            let Some(team) = snap.get(&n.team) else {
                if self.store.claim_nudge(n.id, now.timestamp()).await? {
                    self.store
                        .nudge_sent(
                            n.id,
                            &format!("nowhere: {} is no longer in the catalog", n.team),
                        )
                        .await?;
                }
                continue;
            };
            let tz = self.team_zone(&snap, team);
            let local = now.with_timezone(&tz);
            if self.nudging.quiet_hours.contains(local.time()) {
                continue;
            }
            if let Some(until) = self.store.snoozed_until(&n.entity, &n.team).await?
                && until > now.timestamp()
            {
                continue;
            }
            let remaining = match left.get(&n.team) {
                Some(&r) => r,
                None => {
                    let used = self
                        .store
                        .nudges_sent_since(&n.team, day_start(&tz, now))
                        .await?;
                    self.nudging.per_team_per_day.saturating_sub(used)
                }
            };
            if remaining == 0 {
                left.insert(n.team.clone(), 0);
                continue;
            }
            if !self.store.claim_nudge(n.id, now.timestamp()).await? {
                continue;
            }
            let reply = card(&n, &snap, self.nudging.snooze_days);
            match self.tell_team(&snap, team, &reply, None).await {
                Ok(told) => {
                    let to = told.describe();
                    if told.nowhere.is_some() {
                        tracing::warn!(nudge = n.id, entity = %n.entity, "a nudge went {to}");
                    }
                    self.store.nudge_sent(n.id, &to).await?;
                    left.insert(n.team.clone(), remaining - 1);
                    sent += 1;
                }
                Err(e) => {
                    tracing::warn!(
                        nudge = n.id,
                        "cannot send a nudge (tried again later): {e:#}"
                    );
                    self.store.release_nudge(n.id).await?;
                    left.insert(n.team.clone(), remaining);
                }
            }
        }
        Ok(sent)
    }

    /// A team's time zone: its Group's `switchboard.dev/timezone`, else `nudges.timezone`.
    pub fn team_zone(&self, snap: &Snapshot, team: Id) -> Tz {
        snap.entity(team)
            .annotation(TIMEZONE_ANNOTATION)
            .and_then(|z| z.parse().ok())
            .unwrap_or(self.nudging.timezone.0)
    }

    /// A click on a nudge's button: snooze (a member of the team, or a platform engineer or
    /// admin), or ask for an exemption with a reason (a run of the scorecard's exemption
    /// workflow, under its permissions).
    pub async fn on_nudge(
        &self,
        a: &Asked<'_>,
        verb: NudgeVerb,
        id: i64,
        reason: Option<String>,
    ) -> Result<Reply> {
        let query = format!("{} nudge {id}", verb.as_str());
        let mut r = Reply::new(Intent::Scorecard, &query);
        let Some(n) = self.store.nudge(id).await? else {
            r.view.headline = format!("There is no nudge {id}; nothing was done.");
            return Ok(r);
        };
        r.entity = Some(n.entity.clone());
        match verb {
            NudgeVerb::Snooze => {
                let snap = a.ctx.snap;
                let person = self.person_of(a);
                let member = snap
                    .get(&n.team)
                    .is_some_and(|t| person.groups.contains(&t));
                if !(member || person.acts_anywhere()) {
                    let rule = format!(
                        "Only members of {} (or platform engineers) may snooze its nudges",
                        n.team
                    );
                    let detail = json!({"command": "snooze", "nudge": id, "rule": rule});
                    self.record_denial(a, Some(n.entity.clone()), None, detail)
                        .await?;
                    r.view.headline = format!("{rule}; nothing was done.");
                    r.result = json!({"nudge": id, "snoozed": false});
                    return Ok(r);
                }
                let until = a.ctx.now + chrono::Duration::days(i64::from(self.nudging.snooze_days));
                self.store
                    .snooze(&n.entity, &n.team, until.timestamp(), &a.actor_ref())
                    .await?;
                self.store
                    .audit(&a.event(
                        "nudge.snoozed",
                        Some(n.entity.clone()),
                        None,
                        json!({"nudge": id, "team": n.team, "until": until.to_rfc3339()}),
                    ))
                    .await?;
                r.view.headline = format!(
                    "Snoozed: nudges to {} about {} wait until {}.",
                    n.team,
                    n.entity,
                    until.with_timezone(&a.ctx.tz).format("%a %d %b %H:%M %Z")
                );
                r.result = json!({"nudge": id, "snoozed": true, "until": until.to_rfc3339()});
                Ok(r)
            }
            NudgeVerb::Exempt => {
                let Some(scorecard) = n.problem.strip_prefix("level:") else {
                    r.view.headline =
                        "Only a dropped level can be exempted; fix the entity instead.".into();
                    return Ok(r);
                };
                let name = exemption_workflow(scorecard);
                if !a.workflows.iter().any(|w| w.name == name) {
                    r.view.headline = format!(
                        "The {scorecard} scorecard names no owners to grant exemptions (`owners:` in its file); nothing was asked."
                    );
                    return Ok(r);
                }
                let reason: String = reason
                    .unwrap_or_default()
                    .chars()
                    .map(|c| {
                        if matches!(c, '"' | '“' | '”' | '\n' | '\r') {
                            ' '
                        } else {
                            c
                        }
                    })
                    .collect();
                if reason.trim().is_empty() {
                    r.view.headline = "Say why it should be exempt; nothing was asked.".into();
                    return Ok(r);
                }
                let text = format!(
                    "run {name} entity={} checks={} reason=\"{}\"",
                    n.entity,
                    n.checks.join(","),
                    reason.trim()
                );
                self.answer(a, &crate::ask::grammar::parse(&text)).await
            }
        }
    }
}

/// Midnight of `now`'s day in `tz`, in seconds (the earliest, where midnight repeats; an hour
/// early where it does not exist).
fn day_start(tz: &Tz, now: DateTime<Utc>) -> i64 {
    let midnight = now
        .with_timezone(tz)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    tz.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or(now.timestamp() - 86_400, |t| t.timestamp())
}

/// The message a team is nudged with.
pub fn card(n: &Nudge, snap: &Snapshot, snooze_days: u32) -> Reply {
    let mut r = Reply::new(Intent::Scorecard, &format!("nudge {}", n.id));
    let name = snap
        .get(&n.entity)
        .map_or(n.entity.as_str(), |id| snap.entity(id).display_name());
    r.entity = Some(n.entity.clone());
    r.view.headline = format!("{name} needs its owners: {}", n.reason);
    r.view.fields.push(("Team".into(), n.team.clone()));
    r.view.sections.push(Section::new(
        "How to fix it",
        n.fix.lines().map(str::to_string).collect(),
        10,
    ));
    r.view.context.push(
        "You are told once while this lasts; it ends by itself when the catalog shows it fixed."
            .into(),
    );
    if let Some(w) = &n.workflow {
        r.actions.push(Action {
            label: "Fix it".into(),
            style: Style::Primary,
            id: ActionId::Ask(format!("help run {w}")),
        });
    }
    if n.problem.starts_with("level:") {
        r.actions.push(Action {
            label: "Scorecard".into(),
            style: Style::Plain,
            id: ActionId::Ask(format!("scorecard {}", n.entity)),
        });
        r.actions.push(Action {
            label: "Ask for an exemption".into(),
            style: Style::Plain,
            id: ActionId::Nudge {
                verb: NudgeVerb::Exempt,
                id: n.id,
            },
        });
    }
    r.actions.push(Action {
        label: format!("Snooze {snooze_days} days"),
        style: Style::Plain,
        id: ActionId::Nudge {
            verb: NudgeVerb::Snooze,
            id: n.id,
        },
    });
    r.result = json!({
        "nudge": n.id, "entity": n.entity, "team": n.team, "problem": n.problem,
        "reason": n.reason, "fix": n.fix, "checks": n.checks, "workflow": n.workflow,
    });
    r
}
