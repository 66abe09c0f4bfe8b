//! The worker: takes approved runs from the store with a lease, runs their steps through the
//! executors, records every attempt and ends each run, then tells the requester.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::{Desk, MAX_ATTEMPTS};
use crate::audit::Event;
use crate::bot::Bot;
use crate::catalog::facts::entity_json;
use crate::feed;
use crate::workflows::Workflow;
use crate::workflows::definition::Kind;
use crate::workflows::executor::Call;
use crate::workflows::permissions::{Person, Scope, may_approve};
use crate::workflows::run::{Decision, Run, State};
use crate::workflows::template;

impl Desk {
    /// Expires runs whose time ran out, then takes one approved run and runs it; true when it
    /// ran one (or stopped it).
    pub async fn work_once(&self, bot: &Bot) -> Result<bool> {
        let _one_at_a_time = self.busy.lock().await;
        let now = bot.now().timestamp();
        let snap = bot.snapshot();
        for id in self.store.expire_runs(now, snap.built_at).await? {
            self.tell(id).await;
        }
        if let Err(e) = self.sweep_cards(bot).await {
            tracing::warn!("posting cards and reminders: {e:#}");
        }
        let lease = self.lease.as_secs() as i64;
        let Some(run) = self.store.claim_run(&self.owner, now, now + lease).await? else {
            return Ok(false);
        };
        // A run lost to another worker (its lease ran out) is that worker's to report. The
        // claim read the run back as running: its cards say so.
        self.redraw(&run).await;
        self.run(bot, &run).await?;
        self.tell(run.id).await;
        Ok(true)
    }

    /// Runs a claimed run's steps from the first not yet done; ends it succeeded or failed.
    async fn run(&self, bot: &Bot, run: &Run) -> Result<()> {
        let snap = bot.snapshot();
        let lease = self.lease.as_secs() as i64;
        // Each record renews the lease: a run is only taken over when its worker stopped
        // recording for a whole lease.
        let holder = |b: &Bot| crate::store::Holder {
            owner: &self.owner,
            until: b.now().timestamp() + lease,
        };
        let event = |action: &str, detail: Value| Event {
            at: bot.now().timestamp(),
            actor: "switchboard".into(),
            identity: format!("worker:{}", self.owner),
            action: action.into(),
            target: run.target.clone(),
            run_id: Some(run.id),
            detail,
            generation: snap.built_at,
        };
        let fail = |why: String| {
            let holder = holder(bot);
            let event = event("run.failed", json!({"reason": why}));
            async move {
                self.store
                    .finish_run(run.id, &holder, State::Failed, Some(&why), event)
                    .await
            }
        };
        let workflows = self.workflows();
        let Some(wf) = workflows.iter().find(|w| w.name == run.workflow) else {
            return fail(format!(
                "the workflow {} is no longer defined",
                run.workflow
            ))
            .await;
        };
        // A definition edited since the request no longer matches what was approved.
        let names: Vec<&str> = wf.steps.iter().map(|s| s.name.as_str()).collect();
        let recorded: Vec<&str> = run.steps.iter().map(|s| s.name.as_str()).collect();
        if names != recorded {
            return fail(format!(
                "the workflow {} changed since this run was requested (steps {} then, {} now); request it again",
                wf.name,
                recorded.join(", "),
                names.join(", ")
            ))
            .await;
        }
        // So does a golden-path template whose files changed since.
        let planned = crate::workflows::replies::Plan::of(run);
        for (step, (_, _, with)) in wf.steps.iter().zip(&planned.steps) {
            let digest = |w: &Value| w["template"]["digest"].as_str().map(str::to_string);
            if let (Some(then), Some(now)) = (digest(with), digest(&step.with))
                && then != now
            {
                return fail(format!(
                    "the golden-path template of step {} changed since this run was requested \
                     (version {} now); request it again",
                    step.name,
                    step.with["template"]["version"].as_str().unwrap_or("?")
                ))
                .await;
            }
        }
        if let Err(why) = self.still_allowed(bot, wf, run) {
            return fail(why).await;
        }
        let target = run.target.as_deref().and_then(|t| snap.get(t));
        let mut params = Map::new();
        for (k, v) in run.params.as_object().into_iter().flatten() {
            let is_entity = wf
                .parameter(k)
                .is_some_and(|p| matches!(p.kind, Kind::Entity { .. }));
            let value = match (is_entity, v.as_str().and_then(|r| snap.get(r))) {
                (true, Some(id)) => entity_json(&snap, id),
                _ => v.clone(),
            };
            params.insert(k.clone(), value);
        }
        let mut outputs = Map::new();
        for (i, (step, record)) in wf.steps.iter().zip(&run.steps).enumerate() {
            if record.state == "succeeded" {
                outputs.insert(step.name.clone(), json!({"outputs": record.outputs}));
                continue;
            }
            let attempts = record.attempts + 1;
            if attempts > MAX_ATTEMPTS {
                return fail(format!(
                    "step {} was started {} times without finishing; it is not tried again",
                    step.name, record.attempts
                ))
                .await;
            }
            let context = json!({
                "params": params,
                "entity": target.map(|t| entity_json(&snap, t)),
                "actor": {"ref": run.requested_by, "identity": run.identity},
                "run": {"id": run.id, "requested_by": run.requested_by},
                "steps": outputs,
            });
            let failed = |why: String| {
                let step_event = event("step.failed", json!({"step": step.name, "error": why}));
                let holder = holder(bot);
                async move {
                    self.store
                        .record_step(
                            run.id,
                            &holder,
                            i,
                            "failed",
                            attempts,
                            None,
                            Some(&why),
                            step_event,
                        )
                        .await?;
                    fail(format!("step {} failed: {why}", step.name)).await
                }
            };
            let with = match template::render_step(&step.with, &context) {
                Ok(w) => w,
                Err(why) => return failed(why).await,
            };
            let Some(executor) = self.executors.get(step.uses.as_str()) else {
                return failed(format!("no executor is called {}", step.uses)).await;
            };
            self.store
                .record_step(
                    run.id,
                    &holder(bot),
                    i,
                    "running",
                    attempts,
                    None,
                    None,
                    event(
                        "step.started",
                        json!({"step": step.name, "attempt": attempts}),
                    ),
                )
                .await?;
            self.redraw_id(run.id).await;
            self.failpoints.hit("before_step")?;
            let call = Call {
                run_id: run.id,
                step: &step.name,
                requested_at: run.created_at,
                with: &with,
            };
            match executor.run(&call).await {
                Ok(out) => {
                    // A crash here (the effect made, its record not) is what executors'
                    // looking before acting is for (`after_step`, or after one step only:
                    // `after_step.NAME`).
                    self.failpoints.hit("after_step")?;
                    self.failpoints.hit(&format!("after_step.{}", step.name))?;
                    self.store
                        .record_step(
                            run.id,
                            &holder(bot),
                            i,
                            "succeeded",
                            attempts,
                            Some(&out),
                            None,
                            event("step.succeeded", json!({"step": step.name, "outputs": out})),
                        )
                        .await?;
                    if executor.changes_scores() {
                        if let Err(e) = bot.reload_exemptions(&self.store).await {
                            tracing::error!(run = run.id, "reading the exemptions again: {e:#}");
                        }
                        feed::announce(bot, &self.store, vec![feed::Part::Exemptions]).await;
                    }
                    if executor.changes_catalog() {
                        if let Err(e) = bot.reload_catalog(&self.store).await {
                            // Recorded as done; the next sync shows it.
                            tracing::error!(
                                run = run.id,
                                "reloading the catalog after {}: {e:#}",
                                step.name
                            );
                        }
                        feed::announce(bot, &self.store, vec![feed::Part::Catalog]).await;
                    }
                    outputs.insert(step.name.clone(), json!({"outputs": out}));
                }
                Err(e) => return failed(format!("{e:#}")).await,
            }
        }
        self.store
            .finish_run(
                run.id,
                &holder(bot),
                State::Succeeded,
                None,
                event("run.succeeded", json!({})),
            )
            .await
    }

    /// Before running: the target still exists and is healthy, and every approver may still
    /// approve.
    fn still_allowed(
        &self,
        bot: &Bot,
        wf: &Workflow,
        run: &Run,
    ) -> std::result::Result<(), String> {
        let snap = bot.snapshot();
        let target = match run.target.as_deref() {
            None => None,
            Some(t) => match snap.get(t) {
                None => return Err(format!("{t} is no longer in the catalog")),
                Some(id) if snap.entity(id).is_quarantined() => {
                    return Err(format!(
                        "{t} is quarantined: {}",
                        snap.entity(id).reasons.join("; ")
                    ));
                }
                Some(id) => Some(id),
            },
        };
        if wf.approval.is_none() {
            return Ok(());
        }
        let scope = Scope {
            snap: &snap,
            target,
            oncall: &[],
            escalated: run.reminded_at.is_some(),
        };
        for ap in run
            .approvals
            .iter()
            .filter(|ap| ap.decision == Decision::Approve)
        {
            // An approver no longer in the catalog no longer approves.
            let held: Vec<_> = match snap.get(&ap.by) {
                Some(_) => ap.groups.iter().filter_map(|g| snap.get(g)).collect(),
                None => Vec::new(),
            };
            let person = Person::of(&snap, snap.get(&ap.by), &held, &self.roles)
                .known_as(Some(ap.by.clone()));
            // Being on call passes for when they decided (it was checked then); every other
            // ground must still hold.
            let as_on_call = Scope {
                oncall: std::slice::from_ref(&ap.by),
                ..scope
            };
            if let Err(d) = may_approve(&person, wf, &scope, &run.requested_by)
                && may_approve(&person, wf, &as_on_call, &run.requested_by).is_err()
            {
                return Err(format!("{} may no longer approve it: {}", ap.by, d.rule));
            }
        }
        Ok(())
    }

    /// Runs what is ready now, then returns: a process about to stop (the shell at its end)
    /// finishes the run it has started and those approved here, rather than leave them to a
    /// lease to run out.
    pub async fn drain(&self, bot: &Bot) -> Result<()> {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.wake.notify_one();
        while self.work_once(bot).await? {}
        Ok(())
    }

    /// Runs approved runs until the process stops: at once when one is approved here, else
    /// every few seconds (runs approved by another process).
    pub async fn work(self: Arc<Self>, bot: Arc<Bot>) {
        let stopping = || self.stopping.load(std::sync::atomic::Ordering::SeqCst);
        while !stopping() {
            match self.work_once(&bot).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::error!("the workflow worker stumbled: {e:#}"),
            }
            if !stopping() {
                let _ = tokio::time::timeout(Duration::from_secs(2), self.wake.notified()).await;
            }
        }
    }
}
