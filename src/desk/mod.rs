//! The desk: what Switchboard sends and what is done about it. Workflow requests checked and
//! recorded, decisions taken atomically, and the worker that runs approved runs step by step
//! through the executors; nudges sent to teams and their buttons (`nudges`); weekly digests
//! (`digests`). It sits beside `sync`:
//! the core (`workflows`) decides what may happen, the desk makes it happen in the store and
//! the world, every change with its audit entry in the same transaction. The commands are
//! answered here; the worker that runs approved runs is in `worker`.

mod cards;
mod digests;
mod nudges;
mod reports;
mod worker;

pub use cards::Told;
pub use digests::{latest_period, teams};
pub use nudges::{TIMEZONE_ANNOTATION, exemption_workflow};
pub use reports::{edit_url, fact_value};

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use arc_swap::ArcSwap;
use serde_json::{Map, Value, json};

use crate::ask::answers::resolve_visible;
use crate::ask::grammar::Question;
use crate::ask::resolve::Resolved;
use crate::ask::{Context, answers};
use crate::audit::Event;
use crate::catalog::graph::{self, Limit};
use crate::catalog::{Id, Snapshot};
use crate::config::Roles;
use crate::conversation::{Actor, Conversation, Intent, Platform, Reply, RunVerb};
use crate::executors::Executors;
use crate::failpoints::Failpoints;
use crate::identity::Asker;
use crate::outbox::{Destination, Outbox};
use crate::store::{NewRun, Store};
use crate::workflows::definition::{Kind, Role, Workflow, check_value};
use crate::workflows::permissions::{
    Denied, Person, Scope, approvers_of, may_approve, may_break_glass, may_request, owning_groups,
};
use crate::workflows::policy::Facts;
use crate::workflows::replies::{self, Plan};
use crate::workflows::run::{Approval, Decided, Decision, Run, State};
use crate::workflows::template;

use crate::catalog::facts::entity_json;

/// Times a step is started before the run is failed: a step that keeps dying (its worker
/// crashing in it) is not tried for ever.
const MAX_ATTEMPTS: i64 = 5;

pub struct Desk {
    store: Store,
    roles: Roles,
    executors: Executors,
    failpoints: Failpoints,
    /// Woken when a run is approved here, so the worker starts it at once.
    wake: tokio::sync::Notify,
    /// This process, as the holder of a run's lease.
    owner: String,
    lease: Duration,
    /// Held while this process runs a run: one at a time, and `drain` waits for it.
    busy: tokio::sync::Mutex<()>,
    /// The workflows loaded, and where they are read from (`reload workflows`).
    workflows: ArcSwap<Vec<Workflow>>,
    workflow_paths: std::sync::Mutex<Vec<String>>,
    /// The workflows read from files, and those made from other definitions (each
    /// scorecard's exemption workflow); a file's wins over a made one of the same name.
    loaded: std::sync::Mutex<(Vec<Workflow>, Vec<Workflow>)>,
    /// Set when the process is stopping: the worker loop ends.
    stopping: std::sync::atomic::AtomicBool,
    /// A Slack channel where every run's progress is posted with the audit log's head.
    audit_channel: Option<String>,
    /// How each platform is posted to: cards, and telling requesters what became of their runs.
    outboxes: std::sync::RwLock<std::collections::HashMap<Platform, Arc<dyn Outbox>>>,
    /// More people than this who may decide: the card goes to their team's channel, not DMs.
    dm_limit: usize,
    /// The platform a card goes to for someone reachable on several (`notify.prefer`); None:
    /// where they were last active.
    prefer: Option<Platform>,
    /// When and how often teams are nudged (`[nudges]`).
    nudging: crate::config::Nudges,
    /// When digests go out, and where the platform's goes (`[digests]`).
    digests: crate::config::Digests,
    /// How long a second page of the same entity is answered with the first, and where
    /// PagerDuty is (`[incident]`).
    paging: crate::config::Incident,
}

/// Who asks, where, about what.
pub struct Asked<'a> {
    pub ctx: &'a Context<'a>,
    /// The workflows as loaded when the question came (a reload does not change them midway).
    pub workflows: Arc<Vec<Workflow>>,
    pub actor: &'a Actor,
    pub conversation: &'a Conversation,
}

impl<'a> Asked<'a> {
    /// A question to `desk` from `actor` in `conversation`.
    pub fn of(
        desk: &Desk,
        ctx: &'a Context<'a>,
        actor: &'a Actor,
        conversation: &'a Conversation,
    ) -> Asked<'a> {
        Asked {
            ctx,
            workflows: desk.workflows(),
            actor,
            conversation,
        }
    }
}

impl Asked<'_> {
    fn asker(&self) -> &Asker {
        self.ctx.asker
    }

    /// The platform identity, for the audit log.
    fn identity(&self) -> String {
        let id = self.actor.id.as_deref().unwrap_or("-");
        format!("{}:{id}", self.actor.platform.name())
    }

    /// Who is on call now for `target`.
    fn oncall(&self, target: Option<Id>) -> Vec<String> {
        target
            .map(|t| answers::oncall_people(self.ctx, t, self.ctx.now))
            .unwrap_or_default()
    }

    fn actor_ref(&self) -> String {
        match self.asker().user {
            Some(u) => self.ctx.snap.entity(u).key(),
            None => self.identity(),
        }
    }

    fn event(
        &self,
        action: &str,
        target: Option<String>,
        run_id: Option<i64>,
        detail: Value,
    ) -> Event {
        Event {
            at: self.ctx.now.timestamp(),
            actor: self.actor_ref(),
            identity: self.identity(),
            action: action.into(),
            target,
            run_id,
            detail,
            generation: self.ctx.snap.built_at,
        }
    }
}

/// `10 min`, `2 h`: a span as a reply says it.
fn humantime_minutes(d: Duration) -> String {
    let m = d.as_secs() / 60;
    if m >= 60 && m.is_multiple_of(60) {
        format!("{} h", m / 60)
    } else {
        format!("{} min", m.max(1))
    }
}

/// Splits `a b="c d" e` into words, keeping quoted text whole.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' | '“' | '”' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Desk {
    pub fn new(store: Store, roles: Roles, executors: Executors, failpoints: Failpoints) -> Desk {
        Desk {
            store,
            roles,
            executors,
            failpoints,
            wake: tokio::sync::Notify::new(),
            // The replica's name: a run's holder says which replica it is.
            owner: crate::bot::replica_name(),
            lease: Duration::from_secs(300),
            busy: tokio::sync::Mutex::new(()),
            stopping: Default::default(),
            workflows: Default::default(),
            workflow_paths: Default::default(),
            loaded: Default::default(),
            outboxes: Default::default(),
            audit_channel: None,
            dm_limit: crate::config::ApprovalConfig::default().dm_limit,
            prefer: None,
            nudging: Default::default(),
            digests: Default::default(),
            paging: Default::default(),
        }
    }

    /// Arms these failpoints (tests of what a crash at one leaves).
    pub fn with_failpoints(mut self, failpoints: Failpoints) -> Desk {
        self.failpoints = failpoints;
        self
    }

    /// A run claimed here is taken over by another replica once `lease` passes with no step
    /// recorded (`workflows.lease_secs`).
    pub fn with_lease(mut self, lease: Duration) -> Desk {
        self.lease = lease;
        self
    }

    /// Pages as `[incident]` says.
    pub fn with_paging(mut self, paging: crate::config::Incident) -> Desk {
        self.paging = paging;
        self
    }

    /// Cards for someone reachable on several platforms go to this one when it reaches them;
    /// None: to the one they were last active on (`notify.prefer`).
    pub fn with_notify_prefer(mut self, prefer: Option<Platform>) -> Desk {
        self.prefer = prefer;
        self
    }

    /// Nudges teams as `[nudges]` says.
    pub fn with_nudges(mut self, nudging: crate::config::Nudges) -> Desk {
        self.nudging = nudging;
        self
    }

    /// When more people than `limit` may decide on a run, its card goes to their team's
    /// channel rather than to each by DM (`approval.dm_limit`).
    pub fn with_dm_limit(mut self, limit: usize) -> Desk {
        self.dm_limit = limit;
        self
    }

    /// Posts every run's progress, with the audit log's head, to this Slack channel.
    pub fn with_audit_channel(mut self, channel: Option<String>) -> Desk {
        self.audit_channel = channel.filter(|c| !c.is_empty());
        self
    }

    /// The workflows requests are made of.
    pub fn workflows(&self) -> Arc<Vec<Workflow>> {
        self.workflows.load_full()
    }

    /// Replaces the workflows read from files with these.
    pub fn set_workflows(&self, workflows: Vec<Workflow>) {
        let mut loaded = self.loaded.lock().expect("workflows");
        loaded.0 = workflows;
        self.publish(&loaded);
    }

    /// Replaces the workflows made from other definitions (scorecards' exemptions).
    pub fn set_made_workflows(&self, workflows: Vec<Workflow>) {
        let mut loaded = self.loaded.lock().expect("workflows");
        loaded.1 = workflows;
        self.publish(&loaded);
    }

    fn publish(&self, (read, made): &(Vec<Workflow>, Vec<Workflow>)) {
        let mut all = read.clone();
        for w in made {
            if !all.iter().any(|r| r.name == w.name) {
                all.push(w.clone());
            }
        }
        self.workflows.store(Arc::new(all));
    }

    /// Loads the workflows from `paths` (None: from where they were loaded last), each problem
    /// logged; returns the problems of those left out as `file:line: problem`.
    pub fn load_workflows(&self, paths: Option<Vec<String>>) -> Vec<String> {
        let paths = {
            let mut kept = self.workflow_paths.lock().expect("workflow paths");
            if let Some(p) = paths {
                *kept = p;
            }
            kept.clone()
        };
        let (workflows, problems) = crate::workflows::load(&paths);
        let problems: Vec<String> = problems
            .iter()
            .map(|(file, f)| format!("{file}:{}: {}", f.line, f.message))
            .collect();
        for p in &problems {
            tracing::error!("{p} (this workflow is not loaded)");
        }
        self.set_workflows(workflows);
        problems
    }

    /// Tells people on `platform` through `outbox` (adapters register theirs).
    pub fn add_outbox(&self, platform: Platform, outbox: Arc<dyn Outbox>) {
        self.outboxes
            .write()
            .expect("outboxes")
            .insert(platform, outbox);
    }

    /// Tells the requester what became of their run, in the conversation where they asked it
    /// (or directly); a failure to tell is logged, and changes nothing about the run.
    /// Every copy of its card is redrawn first.
    async fn tell(&self, id: i64) {
        let run = match self.store.load_run(id).await {
            Ok(Some(run)) => run,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(run = id, "cannot tell the requester: {e:#}");
                return;
            }
        };
        self.redraw(&run).await;
        let outbox = Platform::parse(&run.platform).and_then(|p| self.outbox(p));
        if let Some(outbox) = outbox
            && let Err(e) = outbox
                .post(&Self::conversation_of(&run), &replies::outcome(&run))
                .await
        {
            tracing::warn!(run = id, "cannot tell the requester: {e:#}");
        }
        self.announce(&run).await;
    }

    /// Posts where a run stands to the audit channel (`audit.channel`), with the audit log's
    /// head at that moment, so the head is kept outside the database too.
    async fn announce(&self, run: &Run) {
        let Some(channel) = &self.audit_channel else {
            return;
        };
        let Some(outbox) = self.outbox(Platform::Slack) else {
            return;
        };
        let posted = async {
            let head = self.store.audit_head().await?;
            let notice = replies::audit_notice(run, &head);
            outbox
                .post(&Destination::Channel(channel.clone()), &notice)
                .await
        };
        if let Err(e) = posted.await {
            tracing::warn!(run = run.id, "cannot post to the audit channel: {e:#}");
        }
    }

    /// As `announce`, for a run known by its id.
    async fn announce_id(&self, id: i64) {
        if self.audit_channel.is_none() {
            return;
        }
        match self.store.load_run(id).await {
            Ok(Some(run)) => self.announce(&run).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(run = id, "cannot post to the audit channel: {e:#}"),
        }
    }

    /// Answers a workflow command.
    pub async fn answer(&self, a: &Asked<'_>, q: &Question) -> Result<Reply> {
        match q.intent {
            Intent::Workflows => Ok(self.list(a, q)),
            Intent::Run => self.request(a, q).await,
            Intent::Approve => self.decide(a, q, Decision::Approve).await,
            Intent::Deny => self.decide(a, q, Decision::Deny).await,
            Intent::Status => self.status(a, q).await,
            Intent::Cancel => self.cancel(a, q).await,
            Intent::Runs => self.runs(a, q).await,
            Intent::Approvals => self.approvals(a, q).await,
            Intent::Audit => self.audit(a, q).await,
            Intent::Reload => self.reload(a, q).await,
            Intent::Report => self.report(a, q).await,
            Intent::Drift => Ok(crate::workflows::drift::answer(a.ctx, &a.workflows, q)),
            // `help run WORKFLOW`
            _ => {
                let name = q.rest.trim_start_matches("run").trim();
                Ok(match a.workflows.iter().find(|w| w.name == name) {
                    Some(wf) => replies::help(&q.query, wf),
                    None => unknown_workflow(a, q, name),
                })
            }
        }
    }

    fn person_of(&self, a: &Asked<'_>) -> Person {
        self.person(a.ctx.snap, a.asker())
    }

    /// Who someone asking is for permissions: their teams (with those their platform gives
    /// them) and roles.
    pub fn person(&self, snap: &Snapshot, asker: &Asker) -> Person {
        Person::of(snap, asker.user, &asker.groups, &self.roles).known_as(asker.identity.clone())
    }

    fn list(&self, a: &Asked<'_>, q: &Question) -> Reply {
        let person = self.person_of(a);
        let offered: Vec<(&Workflow, Option<String>)> = a
            .workflows
            .iter()
            .map(|w| {
                // Without a target yet, a workflow is offered when the person could request
                // it about something: a role or name in `allowed`, or owners and a team.
                let could = person.may_act()
                    && w.allowed.iter().any(|who| match who {
                        crate::workflows::definition::Who::Owners
                        | crate::workflows::definition::Who::Oncall => !person.groups.is_empty(),
                        other => Scope {
                            snap: a.ctx.snap,
                            target: None,
                            oncall: &[],
                            escalated: false,
                        }
                        .matches(&person, other),
                    });
                let why = (!could).then(|| {
                    format!(
                        "requested by {}",
                        w.allowed
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
                (w, why)
            })
            .collect();
        replies::list(&q.query, &offered)
    }

    /// `run WORKFLOW key=value … [--dry-run]`.
    async fn request(&self, a: &Asked<'_>, q: &Question) -> Result<Reply> {
        let snap = a.ctx.snap;
        let mut args = words(&q.rest);
        let dry_run = args.iter().any(|w| w == "--dry-run");
        args.retain(|w| w != "--dry-run");
        // `--emergency "REASON"`: the person on call runs it at once (break-glass).
        let emergency = match args.iter().position(|w| w == "--emergency") {
            None => None,
            Some(i) => {
                let reason = args.get(i + 1).filter(|r| !r.starts_with("--")).cloned();
                args.drain(i..(i + 1 + usize::from(reason.is_some())).min(args.len()));
                match reason.filter(|r| !r.trim().is_empty()) {
                    Some(r) => Some(r),
                    None => {
                        return Ok(replies::refused(
                            Intent::Run,
                            &q.query,
                            "Say what the emergency is: `--emergency \"REASON\"` (the approvers review it after)",
                            Vec::new(),
                        ));
                    }
                }
            }
        };
        let Some(name) = args.first().cloned() else {
            return Ok(replies::refused(
                Intent::Run,
                &q.query,
                "Which workflow? Say `workflows` to see them.",
                Vec::new(),
            ));
        };
        let Some(wf) = a.workflows.iter().find(|w| w.name == name) else {
            return Ok(unknown_workflow(a, q, &name));
        };
        // Parameters: every problem at once, nothing stored.
        let mut problems = Vec::new();
        let mut given: Map<String, Value> = Map::new();
        for arg in &args[1..] {
            let Some((k, v)) = arg.split_once('=') else {
                problems.push(format!("`{arg}` is not key=value"));
                continue;
            };
            if wf.parameter(k).is_none() {
                let known: Vec<&str> = wf.parameters.iter().map(|p| p.name.as_str()).collect();
                problems.push(format!(
                    "`{k}` is not a parameter of {} (parameters: {})",
                    wf.name,
                    known.join(", ")
                ));
                continue;
            }
            if given
                .insert(k.to_string(), Value::String(v.to_string()))
                .is_some()
            {
                problems.push(format!("`{k}` is given twice"));
            }
        }
        let mut params = Map::new();
        let mut expanded = Map::new();
        let mut target: Option<Id> = None;
        for p in &wf.parameters {
            let raw = given.get(&p.name).cloned();
            let value = match (&raw, &p.default) {
                (Some(v), _) => typed(&p.kind, v),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) if p.required => {
                    problems.push(format!("`{}` is required", p.name));
                    continue;
                }
                (None, None) => {
                    params.insert(p.name.clone(), Value::Null);
                    expanded.insert(p.name.clone(), Value::Null);
                    continue;
                }
            };
            let value = match value.and_then(|v| check_value(&p.kind, &v).map(|()| v)) {
                Ok(v) => v,
                Err(why) => {
                    problems.push(format!("`{}` {why}", p.name));
                    continue;
                }
            };
            if let Kind::Entity { kinds } = &p.kind {
                let text = value.as_str().unwrap_or_default();
                // A private entity is not there for those who may not see it.
                match resolve_visible(a.ctx, text) {
                    Resolved::One { id, .. } => {
                        let e = snap.entity(id);
                        if !kinds.is_empty() && !kinds.iter().any(|k| e.kind_is(k)) {
                            problems.push(format!(
                                "`{}`: {} is a {}, not a {}",
                                p.name,
                                e.key(),
                                e.kind.to_ascii_lowercase(),
                                kinds.join(" or ")
                            ));
                            continue;
                        }
                        if e.is_quarantined() {
                            problems.push(format!(
                                "`{}`: {} is quarantined: {}",
                                p.name,
                                e.key(),
                                e.reasons.join("; ")
                            ));
                            continue;
                        }
                        if wf.target.as_deref() == Some(p.name.as_str()) {
                            target = Some(id);
                        }
                        params.insert(p.name.clone(), Value::String(e.key()));
                        expanded.insert(p.name.clone(), entity_json(snap, id));
                    }
                    Resolved::Many(ids) => problems.push(format!(
                        "`{}`: “{text}” could be {}; give the full reference",
                        p.name,
                        ids.iter()
                            .take(5)
                            .map(|&i| snap.entity(i).key())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    Resolved::None => {
                        problems.push(format!("`{}`: no entity is named “{text}”", p.name))
                    }
                }
                continue;
            }
            params.insert(p.name.clone(), value.clone());
            expanded.insert(p.name.clone(), value);
        }
        if !problems.is_empty() {
            return Ok(replies::refused(
                Intent::Run,
                &q.query,
                &format!("I can't run {}:", wf.name),
                problems,
            ));
        }
        let person = self.person_of(a);
        let oncall = a.oncall(target);
        let scope = Scope {
            snap,
            target,
            oncall: &oncall,
            escalated: false,
        };
        let target_ref = target.map(|t| snap.entity(t).key());
        // In an emergency, who may act at once (`emergency`) stands in for `allowed`.
        let allowed = match &emergency {
            None => may_request(&person, wf, &scope),
            Some(_) => may_break_glass(&person, wf, &scope),
        };
        if let Err(denied) = allowed {
            return self
                .denied(a, &q.query, Intent::Run, &wf.name, target_ref, None, denied)
                .await;
        }
        let entity = target.map(|t| entity_json(snap, t)).unwrap_or(Value::Null);
        let actor = json!({"ref": a.actor_ref(), "identity": a.identity(), "roles": person.roles.iter().map(|r| r.name()).collect::<Vec<_>>()});
        let params_json = Value::Object(expanded);
        let mut broken = Vec::new();
        for rule in &wf.policy {
            let facts = Facts {
                params: &params_json,
                entity: &entity,
                actor: &actor,
                now: a.ctx.now,
            };
            match rule.holds(&facts) {
                Ok(true) => {}
                Ok(false) => broken.push(rule.message.clone()),
                Err(e) => broken.push(e),
            }
        }
        if !broken.is_empty() {
            let event = a.event(
                "run.refused",
                target_ref.clone(),
                None,
                json!({"workflow": wf.name, "policy": broken}),
            );
            self.store.audit(&event).await?;
            return Ok(replies::refused(
                Intent::Run,
                &q.query,
                &format!("{}'s policy refuses this request:", wf.name),
                broken,
            ));
        }
        let missing: Vec<String> = wf
            .steps
            .iter()
            .filter_map(|s| {
                self.executors
                    .get(s.uses.as_str())
                    .and_then(|e| e.missing(&s.with))
            })
            .collect();
        if !missing.is_empty() {
            return Ok(replies::refused(
                Intent::Run,
                &q.query,
                &format!("{} cannot run here yet:", wf.name),
                missing,
            ));
        }
        // The plan: every step's inputs as they will be sent (those reading an earlier step's
        // outputs as written).
        let context = json!({
            "params": params_json, "entity": entity, "actor": actor,
            "run": {"id": "(this run)", "requested_by": a.actor_ref()}, "steps": {},
        });
        let plan = Plan {
            values: Value::Object(params.clone()),
            params: params
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect(),
            steps: wf
                .steps
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        s.uses.clone(),
                        shown(
                            template::render_step(&s.with, &context)
                                .unwrap_or_else(|_| s.with.clone()),
                        ),
                    )
                })
                .collect(),
            target: target_ref.clone(),
            owners: target
                .map(|t| {
                    owning_groups(snap, t)
                        .iter()
                        .map(|&g| snap.entity(g).key())
                        .collect()
                })
                .unwrap_or_default(),
            oncall: oncall.clone(),
            dependents: target
                .map(|t| {
                    let w = graph::dependents(snap, t, Limit::new(0, 100_000));
                    w.hops.len() + w.beyond
                })
                .unwrap_or(0),
            asked: approvers_of(snap, wf, &scope, &a.actor_ref(), &self.roles)
                .into_iter()
                .map(|id| snap.entity(id).key())
                .collect(),
            approvers: wf.approval.as_ref().map(|ap| {
                format!(
                    "{} of {}{}",
                    ap.quorum,
                    ap.approvers
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    if ap.self_approval {
                        ""
                    } else {
                        " (not the requester)"
                    }
                )
            }),
        };
        if dry_run {
            return Ok(replies::requested(&q.query, wf, &plan, None, a.ctx.tz));
        }
        let now = a.ctx.now.timestamp();
        let (state, expires_at, remind_at) = match &wf.approval {
            Some(_) if emergency.is_some() => (State::Approved, None, None),
            Some(ap) => (
                State::AwaitingApproval,
                Some(now + ap.expires_in.as_secs() as i64),
                ap.remind_after.map(|d| now + d.as_secs() as i64),
            ),
            None => (State::Approved, None, None),
        };
        let plan_json = serde_json::to_value(&plan)?;
        let steps: Vec<String> = wf.steps.iter().map(|s| s.name.clone()).collect();
        let params = Value::Object(params);
        let requested_by = a.actor_ref();
        let identity = a.identity();
        let platform = a.actor.platform.name();
        let new = NewRun {
            workflow: &wf.name,
            state,
            target: target_ref.as_deref(),
            params: &params,
            requested_by: &requested_by,
            identity: &identity,
            platform,
            channel: a.conversation.channel.as_deref(),
            thread: a.conversation.thread.as_deref(),
            created_at: now,
            expires_at,
            steps: &steps,
            plan: Some(&plan_json),
            break_glass: emergency.as_deref().map(|r| (r, requested_by.as_str())),
            remind_at,
        };
        let event = a.event(
            "run.requested",
            target_ref.clone(),
            None,
            json!({"workflow": wf.name, "params": params, "state": state, "break_glass": emergency}),
        );
        // A page (or any run of the page workflow) about an entity paged a moment ago
        // answers with that page instead of paging again: a double click, or two responders.
        let once_since = (wf.name == crate::ask::incident::PAGE_WORKFLOW && emergency.is_none())
            .then(|| now - self.paging.page_dedup.0.as_secs() as i64);
        let id = match self.store.create_run_once(&new, event, once_since).await? {
            Ok(id) => id,
            Err(earlier) => return self.paged_already(a, &q.query, earlier).await,
        };
        self.announce_id(id).await;
        // The cards go out before the run may start, so the first step redraws them.
        let posted = if state == State::AwaitingApproval || emergency.is_some() {
            self.post_cards(snap, id, now).await?
        } else {
            None
        };
        if state == State::Approved {
            self.wake.notify_one();
        }
        let run = self
            .store
            .load_run(id)
            .await?
            .context("the run just recorded")?;
        let reply = replies::requested(&q.query, wf, &plan, Some(&run), a.ctx.tz);
        Ok(match posted {
            Some(posted) => replies::carded(reply, &posted),
            None => reply,
        })
    }

    /// "Paged 3 min ago by X": the page that stands, instead of a second one.
    async fn paged_already(&self, a: &Asked<'_>, query: &str, id: i64) -> Result<Reply> {
        let run = self.store.load_run(id).await?.context("the earlier page")?;
        let by = a
            .ctx
            .snap
            .get(&run.requested_by)
            .map(|u| a.ctx.snap.entity(u).display_name().to_string())
            .unwrap_or_else(|| run.requested_by.clone());
        let target = run.target.clone().unwrap_or_default();
        let name = target.rsplit('/').next().unwrap_or(&target).to_string();
        let mut r = Reply::new(Intent::Run, query);
        r.entity = run.target.clone();
        r.view.headline = format!(
            "{name} was paged {} by {by} (run {id}, {}); not paging again within {}.",
            crate::ask::time::ago(run.created_at, a.ctx.now),
            run.state.as_str(),
            humantime_minutes(self.paging.page_dedup.0)
        );
        // Where the page went: the incident key PagerDuty de-duplicates on, and its link.
        let key = run.steps.iter().find_map(|s| {
            s.outputs
                .as_ref()?
                .pointer("/body/dedup_key")?
                .as_str()
                .map(str::to_string)
        });
        let link = run
            .steps
            .iter()
            .find_map(|s| {
                s.outputs
                    .as_ref()?
                    .pointer("/body/incident_url")?
                    .as_str()
                    .map(str::to_string)
            })
            .or_else(|| {
                let service = a.ctx.snap.get(&target).and_then(|t| {
                    a.ctx
                        .snap
                        .entity(t)
                        .annotation("pagerduty.com/service-id")
                        .map(str::to_string)
                })?;
                let web = self.paging.pagerduty_web_url.trim_end_matches('/');
                (!web.is_empty()).then(|| format!("{web}/service-directory/{service}"))
            });
        if let Some(k) = &key {
            r.view.fields.push(("Incident key".into(), k.clone()));
        }
        if let Some(l) = &link {
            r.view.fields.push(("Incident".into(), l.clone()));
        }
        r.view.fields.push(("Run".into(), format!("status {id}")));
        r.result = json!({
            "paged": false,
            "earlier": {"run": id, "by": run.requested_by, "at": run.created_at,
                        "state": run.state.as_str(), "dedup_key": key, "link": link},
        });
        Ok(r)
    }

    /// A click on a run's card, or the form one opened (with its reason): approve, deny and
    /// details are the typed commands; run now and the reviews are only buttons.
    pub async fn act(
        &self,
        a: &Asked<'_>,
        verb: RunVerb,
        id: i64,
        reason: Option<String>,
    ) -> Result<Reply> {
        let reason = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        let (intent, query) = match verb {
            RunVerb::Approve => (Intent::Approve, format!("approve {id}")),
            RunVerb::Deny => (Intent::Deny, format!("deny {id}")),
            RunVerb::Details => (Intent::Status, format!("status {id}")),
            RunVerb::Emergency => (Intent::Run, format!("run now {id}")),
            RunVerb::Acknowledge | RunVerb::Flag => {
                (Intent::Approve, format!("{} {id}", verb.as_str()))
            }
        };
        let Some(run) = self.store.load_run(id).await? else {
            return Ok(replies::decided(
                intent,
                &query,
                id,
                &Decided::Unknown,
                None,
            ));
        };
        match verb {
            RunVerb::Approve => {
                self.decide_run(a, &query, intent, run, Decision::Approve, reason)
                    .await
            }
            RunVerb::Deny => {
                self.decide_run(a, &query, intent, run, Decision::Deny, reason)
                    .await
            }
            RunVerb::Details => Ok(self.status_of(a, &query, &run)),
            RunVerb::Emergency => self.run_now(a, &query, run, reason).await,
            RunVerb::Acknowledge | RunVerb::Flag => self.review(a, &query, verb, run, reason).await,
        }
    }

    /// "Run now (emergency)" on a card: the person on call starts a run awaiting approval at
    /// once; its approvers get a review card.
    async fn run_now(
        &self,
        a: &Asked<'_>,
        query: &str,
        run: Run,
        reason: Option<String>,
    ) -> Result<Reply> {
        let id = run.id;
        let Some(reason) = reason else {
            return Ok(replies::refused(
                Intent::Run,
                query,
                "Say what the emergency is (the approvers review it after)",
                Vec::new(),
            ));
        };
        let snap = a.ctx.snap;
        let oncall = a.oncall(run.target.as_deref().and_then(|t| snap.get(t)));
        let scope = scope_of(snap, &run, &oncall);
        let person = self.person_of(a);
        let allowed = match a.workflows.iter().find(|w| w.name == run.workflow) {
            Some(wf) => may_break_glass(&person, wf, &scope),
            None => Err(Denied {
                rule: format!("The workflow {} is no longer defined.", run.workflow),
                instead: String::new(),
            }),
        };
        if let Err(denied) = allowed {
            return self
                .denied(
                    a,
                    query,
                    Intent::Run,
                    &run.workflow,
                    run.target.clone(),
                    Some(id),
                    denied,
                )
                .await;
        }
        let event = a.event(
            "run.break_glass",
            run.target.clone(),
            Some(id),
            json!({"reason": reason, "break_glass": true}),
        );
        match self.store.run_now(id, &reason, event).await? {
            Ok(()) => {
                self.wake.notify_one();
                // A crash here leaves the review cards to the next sweep.
                self.failpoints.hit("before_reviews")?;
                let now = a.ctx.now.timestamp();
                if let Err(e) = self.post_reviews(snap, id, now).await {
                    tracing::warn!(run = id, "cannot post the review cards: {e:#}");
                }
                self.tell(id).await;
                let run = self.store.load_run(id).await?;
                let mut r = replies::decided(
                    Intent::Run,
                    query,
                    id,
                    &Decided::Recorded {
                        state: State::Approved,
                        approvals: 0,
                    },
                    run.as_ref(),
                );
                r.view.headline =
                    format!("Run {id} runs now (break-glass); its approvers review it after");
                Ok(r)
            }
            Err(state) => {
                // Still awaiting approval, yet not taken: its time ran out.
                let outcome = match state {
                    State::AwaitingApproval => Decided::Expired,
                    state => Decided::NotAwaiting { state },
                };
                Ok(self.unchanged(a, query, Intent::Run, &outcome, &run).await)
            }
        }
    }

    /// Acknowledge or Flag on a review card of a run started in an emergency.
    async fn review(
        &self,
        a: &Asked<'_>,
        query: &str,
        verb: RunVerb,
        run: Run,
        reason: Option<String>,
    ) -> Result<Reply> {
        let id = run.id;
        let snap = a.ctx.snap;
        let oncall = a.oncall(run.target.as_deref().and_then(|t| snap.get(t)));
        let scope = scope_of(snap, &run, &oncall);
        let person = self.person_of(a);
        let me = a.actor_ref();
        let verdict = match a.workflows.iter().find(|w| w.name == run.workflow) {
            None => Err(Denied {
                rule: format!("The workflow {} is no longer defined.", run.workflow),
                instead: String::new(),
            }),
            Some(_) if run.break_glass_by.as_deref() == Some(me.as_str()) => Err(Denied {
                rule: "You ran it in the emergency; its approvers review it.".into(),
                instead: String::new(),
            }),
            Some(wf) => may_approve(&person, wf, &scope, &run.requested_by),
        };
        if let Err(denied) = verdict {
            return self
                .denied(
                    a,
                    query,
                    Intent::Approve,
                    &run.workflow,
                    run.target.clone(),
                    Some(id),
                    denied,
                )
                .await;
        }
        if run.break_glass.is_none() {
            return Ok(replies::refused(
                Intent::Approve,
                query,
                &format!("Run {id} was not run in an emergency: there is nothing to review"),
                Vec::new(),
            ));
        }
        if verb == RunVerb::Flag && reason.is_none() {
            return Ok(replies::refused(
                Intent::Approve,
                query,
                "Say what was wrong with running it (recorded in the audit log)",
                Vec::new(),
            ));
        }
        let verdict = match verb {
            RunVerb::Flag => "flag",
            _ => "acknowledge",
        };
        let event = a.event(
            "run.reviewed",
            run.target.clone(),
            Some(id),
            json!({"verdict": verdict, "reason": reason, "break_glass": true}),
        );
        let mut r = crate::conversation::Reply::new(Intent::Approve, query);
        match self
            .store
            .review(id, &me, verdict, reason.as_deref(), event)
            .await?
        {
            None => {
                self.redraw_id(id).await;
                r.view.headline = match verdict {
                    "flag" => format!("Run {id} is flagged; the audit log records why"),
                    _ => format!("Run {id} is acknowledged"),
                };
            }
            Some(earlier) => {
                r.view.headline = format!(
                    "You already reviewed run {id} ({}); nothing changed",
                    if earlier == "flag" {
                        "flagged"
                    } else {
                        "acknowledged"
                    }
                );
            }
        }
        let run = self.store.load_run(id).await?.context("a reviewed run")?;
        r.entity = run.target.clone();
        r.result = replies::run_json(&run);
        r.result["reviews"] = json!(self.store.reviews(id).await?);
        Ok(r)
    }

    /// A reply that changed nothing, with how the run stands now.
    fn as_it_stands(&self, mut r: Reply, run: &Run, a: &Asked<'_>) -> Reply {
        let now = replies::status(&r.query, run, a.ctx.tz);
        r.view.fields.extend(now.view.fields);
        r.view.sections.extend(now.view.sections);
        r
    }

    /// Records a refused mutating command (`permission.denied`): what was asked, and the rule.
    async fn record_denial(
        &self,
        a: &Asked<'_>,
        target: Option<String>,
        run_id: Option<i64>,
        detail: serde_json::Value,
    ) -> Result<()> {
        let event = a.event("permission.denied", target, run_id, detail);
        self.store.audit(&event).await?;
        Ok(())
    }

    /// A refusal of a mutating command: recorded, and said with its rule.
    #[allow(clippy::too_many_arguments)]
    async fn denied(
        &self,
        a: &Asked<'_>,
        query: &str,
        intent: Intent,
        workflow: &str,
        target: Option<String>,
        run_id: Option<i64>,
        denied: Denied,
    ) -> Result<Reply> {
        let detail = json!({"command": intent, "workflow": workflow, "rule": denied.rule});
        self.record_denial(a, target, run_id, detail).await?;
        Ok(replies::refused(
            intent,
            query,
            &denied.rule,
            vec![denied.instead]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect(),
        ))
    }

    /// `reload workflows`: reads the definitions again, for platform engineers and admins;
    /// says what loaded, and what was left out and why.
    async fn reload(&self, a: &Asked<'_>, q: &Question) -> Result<Reply> {
        let person = self.person_of(a);
        if !person.acts_anywhere() {
            let denied = Denied {
                rule: "Reloading workflows is for platform engineers and admins.".into(),
                instead: "Ask one of them (`roles.platform`, `roles.admins`).".into(),
            };
            return self
                .denied(a, &q.query, Intent::Reload, "", None, None, denied)
                .await;
        }
        let problems = self.load_workflows(None);
        let names: Vec<String> = self.workflows().iter().map(|w| w.name.clone()).collect();
        let event = a.event(
            "workflows.reloaded",
            None,
            None,
            json!({"loaded": names, "problems": problems}),
        );
        self.store.audit(&event).await?;
        let mut r = Reply::new(Intent::Reload, &q.query);
        r.view.headline = format!(
            "{} workflows loaded{}",
            names.len(),
            if problems.is_empty() {
                String::new()
            } else {
                format!("; {} problems leave some out", problems.len())
            }
        );
        r.view.sections.push(crate::conversation::Section::new(
            "Loaded",
            names.clone(),
            50,
        ));
        if !problems.is_empty() {
            r.view.sections.push(crate::conversation::Section::new(
                "Left out",
                problems.clone(),
                50,
            ));
        }
        r.result = json!({"loaded": names, "problems": problems});
        Ok(r)
    }

    /// The run named by a command's first word.
    async fn named_run(&self, q: &Question) -> Result<std::result::Result<Run, Reply>> {
        let first = q.rest.split_whitespace().next().unwrap_or("");
        let Ok(id) = first.trim_start_matches('#').parse::<i64>() else {
            return Ok(Err(replies::refused(
                q.intent,
                &q.query,
                &format!("`{first}` is not a run id (a number, as `status 42`)"),
                Vec::new(),
            )));
        };
        Ok(match self.store.load_run(id).await? {
            Some(run) => Ok(run),
            None => Err(replies::decided(
                q.intent,
                &q.query,
                id,
                &Decided::Unknown,
                None,
            )),
        })
    }

    /// `approve ID`, `deny ID REASON`.
    async fn decide(&self, a: &Asked<'_>, q: &Question, decision: Decision) -> Result<Reply> {
        let run = match self.named_run(q).await? {
            Ok(run) => run,
            Err(reply) => return Ok(reply),
        };
        let reason = q
            .rest
            .split_once(char::is_whitespace)
            .map(|(_, r)| r.trim().to_string());
        self.decide_run(a, &q.query, q.intent, run, decision, reason)
            .await
    }

    /// One person's decision on a run, typed or clicked (the reason as given, whole).
    async fn decide_run(
        &self,
        a: &Asked<'_>,
        query: &str,
        intent: Intent,
        run: Run,
        decision: Decision,
        reason: Option<String>,
    ) -> Result<Reply> {
        if run.state != State::AwaitingApproval {
            // A late or second click (a stale card): how the run stands, nothing changed.
            return Ok(self
                .unchanged(
                    a,
                    query,
                    intent,
                    &Decided::NotAwaiting { state: run.state },
                    &run,
                )
                .await);
        }
        let reason = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if decision == Decision::Deny && reason.is_none() {
            return Ok(replies::refused(
                Intent::Deny,
                query,
                &format!("Say why: `deny {} REASON` (the requester is told)", run.id),
                Vec::new(),
            ));
        }
        let Some(wf) = a.workflows.iter().find(|w| w.name == run.workflow) else {
            return Ok(replies::refused(
                intent,
                query,
                &format!(
                    "The workflow {} is no longer defined; run {} cannot be decided",
                    run.workflow, run.id
                ),
                Vec::new(),
            ));
        };
        let snap = a.ctx.snap;
        let oncall = a.oncall(run.target.as_deref().and_then(|t| snap.get(t)));
        let scope = scope_of(snap, &run, &oncall);
        let person = self.person_of(a);
        if let Err(denied) = may_approve(&person, wf, &scope, &run.requested_by) {
            return self
                .denied(
                    a,
                    query,
                    intent,
                    &wf.name,
                    run.target.clone(),
                    Some(run.id),
                    denied,
                )
                .await;
        }
        let quorum = wf.approval.as_ref().map_or(1, |ap| ap.quorum);
        let event = a.event(
            "run.decided",
            run.target.clone(),
            Some(run.id),
            json!({"decision": decision, "reason": reason}),
        );
        let outcome = self
            .store
            .decide(
                run.id,
                &Approval {
                    by: a.actor_ref(),
                    decision,
                    reason: reason.clone(),
                    at: event.at,
                    // What their platform made them a member of, to check again at the start.
                    groups: a
                        .asker()
                        .groups
                        .iter()
                        .map(|&g| snap.entity(g).key())
                        .collect(),
                },
                quorum,
                event,
            )
            .await?;
        match outcome {
            Decided::Recorded {
                state: State::Approved,
                ..
            } => {
                self.wake.notify_one();
                self.tell(run.id).await;
            }
            Decided::Recorded {
                state: State::Denied,
                ..
            }
            | Decided::Expired => self.tell(run.id).await,
            // An approval short of the quorum shows on every card.
            Decided::Recorded { .. } => self.redraw_id(run.id).await,
            _ => {}
        }
        let after = self.store.load_run(run.id).await?;
        Ok(match (&outcome, &after) {
            (Decided::Recorded { .. }, _) | (_, None) => {
                replies::decided(intent, query, run.id, &outcome, after.as_ref())
            }
            (_, Some(after)) => self.unchanged(a, query, intent, &outcome, after).await,
        })
    }

    /// A decision that changed nothing (already decided, no longer awaited): said with how the
    /// run stands to those who may see it; the cards, which may be behind, are redrawn.
    async fn unchanged(
        &self,
        a: &Asked<'_>,
        query: &str,
        intent: Intent,
        outcome: &Decided,
        run: &Run,
    ) -> Reply {
        self.redraw(run).await;
        if !self.may_see(a, run) {
            // As for a run that does not exist: ids are not a way to learn of others' runs.
            return replies::decided(intent, query, run.id, &Decided::Unknown, None);
        }
        let reply = replies::decided(intent, query, run.id, outcome, Some(run));
        self.as_it_stands(reply, run, a)
    }

    async fn status(&self, a: &Asked<'_>, q: &Question) -> Result<Reply> {
        Ok(match self.named_run(q).await? {
            Ok(run) => self.status_of(a, &q.query, &run),
            Err(reply) => reply,
        })
    }

    /// Where a run stands, to those who may see it.
    fn status_of(&self, a: &Asked<'_>, query: &str, run: &Run) -> Reply {
        if !self.may_see(a, run) {
            // Said as for a run that does not exist: ids are not a way to learn of others' runs.
            return replies::decided(Intent::Status, query, run.id, &Decided::Unknown, None);
        }
        replies::status(query, run, a.ctx.tz)
    }

    /// Whether the asker may read a run: its requester, its target's teams, those who may
    /// decide on it, auditors, platform engineers and admins.
    fn may_see(&self, a: &Asked<'_>, run: &Run) -> bool {
        let person = self.person_of(a);
        if !person.known() {
            return false;
        }
        if person.is(Role::Auditor) || person.acts_anywhere() || run.requested_by == a.actor_ref() {
            return true;
        }
        let snap = a.ctx.snap;
        let target = run.target.as_deref().and_then(|t| snap.get(t));
        if person.owns(snap, target) {
            return true;
        }
        let oncall = a.oncall(target);
        let scope = scope_of(snap, run, &oncall);
        a.workflows
            .iter()
            .find(|w| w.name == run.workflow)
            .is_some_and(|wf| may_approve(&person, wf, &scope, &run.requested_by).is_ok())
    }

    async fn cancel(&self, a: &Asked<'_>, q: &Question) -> Result<Reply> {
        let run = match self.named_run(q).await? {
            Ok(run) => run,
            Err(reply) => return Ok(reply),
        };
        let person = self.person_of(a);
        if run.requested_by != a.actor_ref() && !person.is(Role::Admin) {
            let denied = Denied {
                rule: format!(
                    "Only the requester ({}) or an admin may cancel run {}.",
                    run.requested_by, run.id
                ),
                instead: format!("Ask {} to cancel it.", run.requested_by),
            };
            return self
                .denied(
                    a,
                    &q.query,
                    Intent::Cancel,
                    &run.workflow,
                    run.target.clone(),
                    Some(run.id),
                    denied,
                )
                .await;
        }
        let reason = q
            .rest
            .split_once(char::is_whitespace)
            .map(|(_, r)| r.trim().to_string())
            .filter(|r| !r.is_empty());
        let event = a.event(
            "run.cancelled",
            run.target.clone(),
            Some(run.id),
            json!({"reason": reason}),
        );
        Ok(
            match self
                .store
                .cancel_run(run.id, reason.as_deref(), event)
                .await?
            {
                Ok(()) => {
                    let run = self
                        .store
                        .load_run(run.id)
                        .await?
                        .context("the run just cancelled")?;
                    self.redraw(&run).await;
                    self.announce(&run).await;
                    let mut r = replies::status(&q.query, &run, a.ctx.tz);
                    r.intent = Intent::Cancel;
                    r
                }
                Err(state) => replies::refused(
                    Intent::Cancel,
                    &q.query,
                    &format!(
                        "Run {} is {} and can no longer be cancelled",
                        run.id,
                        state.words()
                    ),
                    Vec::new(),
                ),
            },
        )
    }

    /// `runs`: the asker's and their teams'.
    async fn runs(&self, a: &Asked<'_>, q: &Question) -> Result<Reply> {
        let person = self.person_of(a);
        let me = a.actor_ref();
        let snap = a.ctx.snap;
        let mine: Vec<Run> = self
            .store
            .runs_in(&[], 500)
            .await?
            .into_iter()
            .filter(|r| {
                r.requested_by == me
                    || person.owns(snap, r.target.as_deref().and_then(|t| snap.get(t)))
            })
            .take(25)
            .collect();
        Ok(replies::runs(
            Intent::Runs,
            &q.query,
            &mine,
            "You and your teams have no runs",
            a.ctx.tz,
        ))
    }

    /// `approvals`: what awaits the asker's decision.
    async fn approvals(&self, a: &Asked<'_>, q: &Question) -> Result<Reply> {
        let person = self.person_of(a);
        let snap = a.ctx.snap;
        let waiting: Vec<Run> = self
            .store
            .runs_in(&[State::AwaitingApproval], 500)
            .await?
            .into_iter()
            .filter(|r| {
                let Some(wf) = a.workflows.iter().find(|w| w.name == r.workflow) else {
                    return false;
                };
                let oncall = a.oncall(r.target.as_deref().and_then(|t| snap.get(t)));
                let scope = scope_of(snap, r, &oncall);
                may_approve(&person, wf, &scope, &r.requested_by).is_ok()
                    && !r.approvals.iter().any(|ap| ap.by == a.actor_ref())
            })
            .take(25)
            .collect();
        let mut reply = replies::runs(
            Intent::Approvals,
            &q.query,
            &waiting,
            "Nothing awaits your decision",
            a.ctx.tz,
        );
        reply.actions = replies::decide_buttons(&waiting);
        Ok(reply)
    }

    /// `audit [X | run ID]`: auditors and admins see everything; others what concerns their
    /// teams and their own runs.
    async fn audit(&self, a: &Asked<'_>, q: &Question) -> Result<Reply> {
        let snap = a.ctx.snap;
        let person = self.person_of(a);
        let subject = q.subject.trim();
        let (target, run_id) = if let Some(id) = subject
            .strip_prefix("run ")
            .and_then(|s| s.trim().trim_start_matches('#').parse::<i64>().ok())
        {
            (None, Some(id))
        } else if subject.is_empty() {
            (None, None)
        } else {
            match resolve_visible(a.ctx, subject) {
                Resolved::One { id, .. } => (Some(snap.entity(id).key()), None),
                _ => {
                    return Ok(replies::refused(
                        Intent::Audit,
                        &q.query,
                        &format!("No entity is named “{subject}”"),
                        Vec::new(),
                    ));
                }
            }
        };
        let entries = self
            .store
            .audit_about(target.as_deref(), run_id, 200)
            .await?;
        let everything = person.is(Role::Auditor) || person.is(Role::Admin);
        let me = a.actor_ref();
        let shown: Vec<_> = entries
            .into_iter()
            .filter(|e| {
                everything
                    || e.event.actor == me
                    || person.owns(snap, e.event.target.as_deref().and_then(|t| snap.get(t)))
            })
            .take(25)
            .collect();
        Ok(replies::audit(&q.query, &shown, a.ctx.tz))
    }
}

/// A step's inputs as a plan shows them: files by their paths (their text is in the run).
fn shown(mut with: Value) -> Value {
    if let Some(Value::Array(files)) = with.get("files") {
        let paths: Vec<Value> = files.iter().map(|f| f["path"].clone()).collect();
        with["files"] = Value::Array(paths);
    } else if let Some(Value::Object(files)) = with.get("files") {
        let paths: Vec<Value> = files.keys().map(|p| json!(p)).collect();
        with["files"] = Value::Array(paths);
    }
    if let Some(t) = with.get_mut("template").and_then(Value::as_object_mut) {
        t.remove("changelog");
        t.remove("files");
    }
    if let Some(Value::Array(all)) = with.get("templates") {
        let names: Vec<Value> = all.iter().map(|t| t["template"]["name"].clone()).collect();
        with["templates"] = Value::Array(names);
        // The run's context, given to a step that renders templates itself.
        if let Some(m) = with.as_object_mut() {
            m.remove("context");
        }
    }
    with
}

/// What a decision on `run` is checked against: its target, who is on call for it now
/// (`oncall`), and whether its reminder escalated (then whom it escalates to may decide).
fn scope_of<'a>(snap: &'a Snapshot, run: &Run, oncall: &'a [String]) -> Scope<'a> {
    Scope {
        snap,
        target: run.target.as_deref().and_then(|t| snap.get(t)),
        oncall,
        escalated: run.reminded_at.is_some(),
    }
}

/// Reads a typed parameter from what was typed.
fn typed(kind: &Kind, v: &Value) -> std::result::Result<Value, String> {
    let s = v.as_str().unwrap_or_default();
    match kind {
        Kind::Integer { .. } => s
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("must be a whole number, not `{s}`")),
        Kind::Bool => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Ok(Value::Bool(true)),
            "false" | "no" | "off" => Ok(Value::Bool(false)),
            _ => Err(format!("must be true or false, not `{s}`")),
        },
        _ => Ok(Value::String(s.to_string())),
    }
}

/// No workflow of that name: the closest ones.
fn unknown_workflow(a: &Asked<'_>, q: &Question, name: &str) -> Reply {
    let mut close: Vec<(f32, &str)> = a
        .workflows
        .iter()
        .map(|w| {
            (
                crate::catalog::search::similarity(&name.to_lowercase(), &w.name),
                w.name.as_str(),
            )
        })
        .filter(|(s, _)| *s >= 0.5)
        .collect();
    close.sort_by(|x, y| y.0.total_cmp(&x.0));
    let mut problems: Vec<String> = close
        .iter()
        .take(3)
        .map(|(_, n)| format!("did you mean {n}?"))
        .collect();
    if problems.is_empty() {
        problems.push("say `workflows` to see the ones you may run".into());
    }
    replies::refused(
        q.intent,
        &q.query,
        &format!("There is no workflow called {name}"),
        problems,
    )
}
