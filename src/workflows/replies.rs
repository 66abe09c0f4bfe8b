//! What the workflow commands say: every reply about workflows and runs is worded here, text
//! and JSON together (see README, "JSON answers", for the `result` shapes).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::definition::{Kind, Workflow};
use super::run::{Decided, Decision, Review, Run, State};
use crate::audit::Entry;
use crate::conversation::{Action, ActionId, Intent, Reply, RunVerb, Section, Style};

const LIST_LIMIT: usize = 25;

fn when(at: i64, tz: Tz) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_else(|| at.to_string())
}

/// The JSON of a run (`result` of `run`, `status`, `approve`, `deny`, `cancel`).
pub fn run_json(run: &Run) -> Value {
    json!({
        "id": run.id,
        "workflow": run.workflow,
        "state": run.state,
        "target": run.target,
        "params": run.params,
        "requested_by": run.requested_by,
        "approvals": run.approvals.iter().map(|a| json!({
            "by": a.by, "decision": a.decision, "at": a.at, "reason": a.reason,
        })).collect::<Vec<_>>(),
        "steps": run.steps.iter().map(|s| json!({
            "name": s.name, "state": s.state, "attempts": s.attempts, "outputs": s.outputs,
            "error": s.error,
        })).collect::<Vec<_>>(),
        "expires_at": run.expires_at,
        "reason": run.reason,
    })
}

/// A request that cannot be taken, with every problem.
pub fn refused(intent: Intent, query: &str, headline: &str, problems: Vec<String>) -> Reply {
    let mut r = Reply::new(intent, query);
    r.view.headline = headline.to_string();
    if !problems.is_empty() {
        r.view
            .sections
            .push(Section::new("", problems.clone(), LIST_LIMIT));
    }
    r.result = json!({"errors": problems, "headline": headline});
    r
}

/// `workflows`: what the asker may run, and what they may not, with why.
pub fn list(query: &str, offered: &[(&Workflow, Option<String>)]) -> Reply {
    let mut r = Reply::new(Intent::Workflows, query);
    let may: Vec<&&Workflow> = offered
        .iter()
        .filter(|(_, why)| why.is_none())
        .map(|(w, _)| w)
        .collect();
    r.view.headline = match may.len() {
        0 => "There is no workflow you may run".into(),
        1 => "1 workflow you may run".into(),
        n => format!("{n} workflows you may run"),
    };
    r.view.sections.push(Section::new(
        "",
        may.iter()
            .map(|w| format!("{} — {}: {}", w.name, w.title, w.description))
            .collect(),
        LIST_LIMIT,
    ));
    r.view.context.push(
        "`help run WORKFLOW` shows its parameters; `run WORKFLOW key=value …` requests it.".into(),
    );
    r.result = json!({
        "workflows": offered.iter().map(|(w, why)| json!({
            "name": w.name, "title": w.title, "description": w.description,
            "may_run": why.is_none(), "why_not": why,
        })).collect::<Vec<_>>(),
    });
    r
}

/// `help run WORKFLOW`: its parameters and rules.
pub fn help(query: &str, wf: &Workflow) -> Reply {
    let mut r = Reply::new(Intent::Help, query);
    r.view.headline = format!("{} — {}", wf.name, wf.title);
    let params: Vec<String> = wf
        .parameters
        .iter()
        .map(|p| {
            let kind = match &p.kind {
                Kind::Enum { values } => format!("one of {}", values.join(", ")),
                Kind::Entity { kinds } if !kinds.is_empty() => format!("a {}", kinds.join(" or ")),
                k => k.name().to_string(),
            };
            let need = if p.required { ", required" } else { "" };
            let default = p
                .default
                .as_ref()
                .map(|d| format!(", default {d}"))
                .unwrap_or_default();
            let about = p
                .description
                .as_deref()
                .map(|d| format!(" — {d}"))
                .unwrap_or_default();
            format!("{}: {kind}{need}{default}{about}", p.name)
        })
        .collect();
    r.view.fields.push(("About".into(), wf.description.clone()));
    r.view
        .sections
        .push(Section::new("Parameters", params, LIST_LIMIT));
    let usage = wf
        .parameters
        .iter()
        .filter(|p| p.required)
        .map(|p| format!("{}=…", p.name))
        .collect::<Vec<_>>()
        .join(" ");
    r.view.context.push(format!("run {} {usage}", wf.name));
    r.result = json!({
        "workflow": wf.name,
        "parameters": wf.parameters.iter().map(|p| json!({
            "name": p.name, "type": p.kind.name(), "required": p.required, "default": p.default,
        })).collect::<Vec<_>>(),
    });
    r
}

/// What a run will do, shown when it is requested (and by `--dry-run`), and kept with the run
/// for its card.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Plan {
    /// Each parameter as shown (`null` for one not given).
    pub params: Vec<(String, String)>,
    /// The parameters as stored (`result.params`).
    pub values: Value,
    /// Each step: name, executor, rendered inputs (or the template, when it reads an earlier
    /// step's outputs).
    pub steps: Vec<(String, String, Value)>,
    pub target: Option<String>,
    pub owners: Vec<String>,
    pub oncall: Vec<String>,
    /// How many entities depend on the target.
    pub dependents: usize,
    /// Who is asked to decide (None: no approval).
    pub approvers: Option<String>,
    /// The people who may decide, by catalog reference.
    pub asked: Vec<String>,
}

impl Plan {
    /// The plan a run was requested with (empty for a run recorded without one).
    pub fn of(run: &Run) -> Plan {
        run.plan
            .clone()
            .and_then(|p| serde_json::from_value(p).ok())
            .unwrap_or_default()
    }
}

/// The plan's parameters and, for a run about an entity, its owners, on-call and blast radius
/// (and the target itself, with `target`).
fn plan_fields(r: &mut Reply, plan: &Plan, target: bool) {
    for (k, v) in plan.params.iter().filter(|(_, v)| v != "null") {
        r.view.fields.push((k.clone(), v.clone()));
    }
    let Some(t) = &plan.target else {
        return;
    };
    if target {
        r.view.fields.push(("Target".into(), t.clone()));
    }
    let owners = if plan.owners.is_empty() {
        "none in the catalog".to_string()
    } else {
        plan.owners.join(", ")
    };
    r.view.fields.push(("Owners".into(), owners));
    if !plan.oncall.is_empty() {
        r.view
            .fields
            .push(("On call".into(), plan.oncall.join(", ")));
    }
    r.view.fields.push((
        "Blast radius".into(),
        format!("{} dependents", plan.dependents),
    ));
}

/// The answer to `run`: the run id (none for a dry run) and its plan.
pub fn requested(query: &str, wf: &Workflow, plan: &Plan, run: Option<&Run>, tz: Tz) -> Reply {
    let mut r = Reply::new(Intent::Run, query);
    r.view.headline = match run {
        Some(run) if run.state == State::AwaitingApproval => {
            format!("Run {} of {} awaits approval", run.id, wf.name)
        }
        Some(run) => format!("Run {} of {}: {}", run.id, wf.name, run.state.words()),
        None => format!("Plan of {} (dry run: nothing was stored)", wf.name),
    };
    r.entity = plan.target.clone();
    plan_fields(&mut r, plan, true);
    r.view.fields.push((
        "Approval".into(),
        plan.approvers
            .clone()
            .unwrap_or_else(|| "none needed".into()),
    ));
    if let Some(e) = run.and_then(|r| r.expires_at) {
        r.view.fields.push(("Expires".into(), when(e, tz)));
    }
    r.view.sections.push(Section::new(
        "Steps",
        plan.steps
            .iter()
            .map(|(name, uses, with)| format!("{name} ({uses}): {with}"))
            .collect(),
        LIST_LIMIT,
    ));
    if let Some(run) = run {
        r.view.context.push(format!(
            "`status {id}` follows it; `cancel {id}` withdraws it before it starts.",
            id = run.id
        ));
    }
    r.result = match run {
        Some(run) => run_json(run),
        None => json!({
            "id": null, "workflow": wf.name, "state": null, "target": plan.target,
            "params": plan.values,
            "steps": plan.steps.iter().map(|(n, u, w)| json!({"name": n, "uses": u, "with": w})).collect::<Vec<_>>(),
            "dry_run": true,
        }),
    };
    r
}

/// `status ID`: where a run stands.
pub fn status(query: &str, run: &Run, tz: Tz) -> Reply {
    let mut r = Reply::new(Intent::Status, query);
    r.view.headline = format!("Run {} of {}: {}", run.id, run.workflow, run.state.words());
    r.entity = run.target.clone();
    r.view.fields.push((
        "Requested by".into(),
        format!("{} at {}", run.requested_by, when(run.created_at, tz)),
    ));
    if let Some(reason) = &run.reason {
        r.view.fields.push(("Why".into(), reason.clone()));
    }
    if let (Some(e), State::AwaitingApproval) = (run.expires_at, run.state) {
        r.view.fields.push(("Expires".into(), when(e, tz)));
    }
    r.view.sections.push(Section::new(
        "Decisions",
        run.approvals
            .iter()
            .map(|a| {
                let verb = match a.decision {
                    Decision::Approve => "approved",
                    Decision::Deny => "denied",
                };
                let why = a
                    .reason
                    .as_deref()
                    .map(|w| format!(": {w}"))
                    .unwrap_or_default();
                format!("{} {verb} at {}{why}", a.by, when(a.at, tz))
            })
            .collect(),
        LIST_LIMIT,
    ));
    r.view.sections.push(Section::new(
        "Steps",
        run.steps
            .iter()
            .map(|s| {
                let detail = s
                    .error
                    .clone()
                    .or_else(|| s.outputs.as_ref().map(Value::to_string))
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default();
                format!("{}: {} ({} attempts){detail}", s.name, s.state, s.attempts)
            })
            .collect(),
        LIST_LIMIT,
    ));
    r.result = run_json(run);
    r
}

/// What a decision did, said to the one who made it.
pub fn decided(
    intent: Intent,
    query: &str,
    id: i64,
    outcome: &Decided,
    run: Option<&Run>,
) -> Reply {
    let mut r = Reply::new(intent, query);
    r.view.headline = match outcome {
        Decided::Recorded {
            state: State::Approved,
            ..
        } => format!("Run {id} is approved; it runs now"),
        Decided::Recorded {
            state: State::Denied,
            ..
        } => format!("Run {id} is denied; the requester is told why"),
        Decided::Recorded { approvals, .. } => {
            format!("Your approval of run {id} is recorded ({approvals} so far); it awaits more")
        }
        Decided::AlreadyDecided { decision } => format!(
            "You already {} run {id}; nothing changed",
            match decision {
                Decision::Approve => "approved",
                Decision::Deny => "denied",
            }
        ),
        Decided::NotAwaiting { state } => {
            format!(
                "Run {id} no longer awaits a decision (now {}); nothing changed",
                state.words()
            )
        }
        Decided::Expired => format!("Run {id} expired before your decision; nothing changed"),
        Decided::Unknown => format!("There is no run {id}"),
    };
    r.result = match run {
        Some(run) => run_json(run),
        None => json!({"id": id}),
    };
    r.entity = run.and_then(|r| r.target.clone());
    r
}

/// `runs` and `approvals`: a list of runs.
pub fn runs(intent: Intent, query: &str, runs: &[Run], empty: &str, tz: Tz) -> Reply {
    let mut r = Reply::new(intent, query);
    r.view.headline = if runs.is_empty() {
        empty.to_string()
    } else {
        format!("{} runs", runs.len())
    };
    r.view.sections.push(Section::new(
        "",
        runs.iter()
            .map(|run| {
                format!(
                    "#{} {} {} — {} by {} at {}",
                    run.id,
                    run.workflow,
                    run.target.as_deref().unwrap_or(""),
                    run.state.words(),
                    run.requested_by,
                    when(run.created_at, tz)
                )
            })
            .collect(),
        LIST_LIMIT,
    ));
    r.result = json!({"runs": runs.iter().map(run_json).collect::<Vec<_>>()});
    r
}

/// `approvals`: Approve and Deny for each run awaiting the asker, oldest request first (a
/// surface shows as many as it can).
pub fn decide_buttons(runs: &[Run]) -> Vec<Action> {
    runs.iter()
        .rev()
        .flat_map(|run| {
            [
                Action {
                    label: format!("Approve {}", run.id),
                    style: Style::Primary,
                    id: ActionId::Run {
                        verb: RunVerb::Approve,
                        id: run.id,
                    },
                },
                Action {
                    label: format!("Deny {}", run.id),
                    style: Style::Danger,
                    id: ActionId::Run {
                        verb: RunVerb::Deny,
                        id: run.id,
                    },
                },
            ]
        })
        .collect()
}

/// `audit`: entries, newest first.
pub fn audit(query: &str, entries: &[Entry], tz: Tz) -> Reply {
    let mut r = Reply::new(Intent::Audit, query);
    r.view.headline = if entries.is_empty() {
        "Nothing in the audit log matches".into()
    } else {
        format!("{} audit entries, newest first", entries.len())
    };
    r.view.sections.push(Section::new(
        "",
        entries
            .iter()
            .map(|e| {
                let run = e
                    .event
                    .run_id
                    .map(|id| format!(" run {id}"))
                    .unwrap_or_default();
                let target = e
                    .event
                    .target
                    .as_deref()
                    .map(|t| format!(" {t}"))
                    .unwrap_or_default();
                format!(
                    "{} {} {}{run}{target} by {}",
                    e.seq,
                    when(e.event.at, tz),
                    e.event.action,
                    e.event.actor
                )
            })
            .collect(),
        LIST_LIMIT,
    ));
    r.result = json!({"entries": entries});
    r
}

/// What the requester is told when their run moves on its own (decided, expired, done).
pub fn outcome(run: &Run) -> Reply {
    let mut r = Reply::new(Intent::Status, &format!("status {}", run.id));
    let by = |d: Decision| {
        run.approvals
            .iter()
            .filter(|a| a.decision == d)
            .map(|a| a.by.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    r.view.headline = match run.state {
        State::Approved | State::Running => {
            format!(
                "Run {} of {} was approved by {}",
                run.id,
                run.workflow,
                by(Decision::Approve)
            )
        }
        State::Denied => format!(
            "Run {} of {} was denied by {}: {}",
            run.id,
            run.workflow,
            by(Decision::Deny),
            run.reason.as_deref().unwrap_or("no reason given")
        ),
        State::Failed => format!(
            "Run {} of {} failed: {}",
            run.id,
            run.workflow,
            run.reason.as_deref().unwrap_or("see its status")
        ),
        other => format!("Run {} of {}: {}", run.id, run.workflow, other.words()),
    };
    r.entity = run.target.clone();
    r.view.context.push(format!(
        "`status {}` shows its decisions and steps.",
        run.id
    ));
    r.result = run_json(run);
    r
}

/// A line for the audit channel: where a run stands, and the audit log's head then.
pub fn audit_notice(run: &Run, head: &crate::audit::Head) -> Reply {
    let mut r = Reply::new(Intent::Audit, &format!("audit run {}", run.id));
    let by = match run.state {
        State::AwaitingApproval => format!(" by {}", run.requested_by),
        _ => String::new(),
    };
    r.view.headline = format!(
        "Run {} of {}{}: {}{by}",
        run.id,
        run.workflow,
        run.target
            .as_deref()
            .map(|t| format!(" on {t}"))
            .unwrap_or_default(),
        run.state.words()
    );
    r.view.context.push(format!("audit head {head}"));
    r.entity = run.target.clone();
    r.result = json!({"run": run_json(run), "head": head.to_string()});
    r
}

/// Which card a posted copy is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardKind {
    /// Shows the plan and where the run stands; while it awaits approval, Approve and Deny.
    Approval,
    /// Sent to the approvers of a run started in an emergency: Acknowledge and Flag.
    Review,
}

impl CardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CardKind::Approval => "approval",
            CardKind::Review => "review",
        }
    }

    pub fn parse(s: &str) -> CardKind {
        if s == "review" {
            CardKind::Review
        } else {
            CardKind::Approval
        }
    }
}

/// Where a run's cards went when it was requested, said to the requester.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Posted {
    /// A copy is in the conversation where it was asked.
    pub here: bool,
    /// It could not be posted there, so the requester has it by DM.
    pub to_requester: bool,
    /// Approvers written to directly, and team channels posted to.
    pub dms: usize,
    pub channels: usize,
    /// Those who may decide but could not be written to (no id on the platform).
    pub unreachable: Vec<String>,
}

/// The reply to the requester when the run's card was posted: the card says the rest.
pub fn carded(mut r: Reply, posted: &Posted) -> Reply {
    let asked = match (posted.dms, posted.channels) {
        (0, 0) => "nobody could be asked directly".to_string(),
        (d, 0) => format!("{d} approvers were asked by DM"),
        (0, c) => format!("the approving team was asked in {c} channels"),
        (d, c) => format!("{d} approvers by DM and {c} team channels were asked"),
    };
    if posted.here {
        r.view.fields.clear();
        r.view.sections.clear();
        r.view.context.insert(
            0,
            format!("The card above follows the run as it is decided and run; {asked}."),
        );
    } else if posted.to_requester {
        r.view.context.insert(
            0,
            format!("I cannot post here, so the card is in your direct messages; {asked}."),
        );
    } else {
        r.view.context.insert(0, format!("{}.", capital(&asked)));
    }
    if !posted.unreachable.is_empty() {
        r.warnings.push(format!(
            "Not written to (no chat id known): {}",
            posted.unreachable.join(", ")
        ));
    }
    if let Some(o) = r.result.as_object_mut() {
        o.insert(
            "cards".into(),
            json!({
                "here": posted.here, "to_requester": posted.to_requester, "dms": posted.dms,
                "channels": posted.channels, "unreachable": posted.unreachable,
            }),
        );
    }
    r
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn people(run: &Run, d: Decision) -> Vec<String> {
    run.approvals
        .iter()
        .filter(|a| a.decision == d)
        .map(|a| a.by.clone())
        .collect()
}

/// A run's card as every copy shows it now: the plan, the decisions, each step's progress,
/// the links its steps made, and the buttons that still apply.
pub fn card(run: &Run, kind: CardKind, emergency: bool, reviews: &[Review], tz: Tz) -> Reply {
    let plan = Plan::of(run);
    let mut r = Reply::new(Intent::Status, &format!("status {}", run.id));
    let on = run
        .target
        .as_deref()
        .map(|t| format!(" on {t}"))
        .unwrap_or_default();
    let done = run.steps.iter().filter(|s| s.state == "succeeded").count();
    r.view.headline = match (kind, run.state) {
        (CardKind::Review, _) => format!(
            "Review: {}{on} was run at once in an emergency (run {})",
            run.workflow, run.id
        ),
        (_, State::AwaitingApproval) => {
            format!("Approval needed: {}{on} (run {})", run.workflow, run.id)
        }
        (_, State::Running) => format!(
            "Run {} of {}{on}: running, step {} of {}",
            run.id,
            run.workflow,
            (done + 1).min(run.steps.len()),
            run.steps.len()
        ),
        (_, state) => format!("Run {} of {}{on}: {}", run.id, run.workflow, state.words()),
    };
    if run.break_glass.is_some() {
        r.view.badge = Some("break-glass".into());
    }
    r.entity = run.target.clone();
    r.view.fields.push((
        "Requested by".into(),
        format!("{} at {}", run.requested_by, when(run.created_at, tz)),
    ));
    plan_fields(&mut r, &plan, false);
    if let (Some(reason), Some(by)) = (&run.break_glass, &run.break_glass_by) {
        r.view
            .fields
            .push(("Emergency".into(), format!("run at once by {by}: {reason}")));
    }
    if let Some(rule) = &plan.approvers {
        r.view.fields.push(("Approval".into(), rule.clone()));
    }
    let approved = people(run, Decision::Approve);
    if !approved.is_empty() {
        r.view
            .fields
            .push(("Approved by".into(), approved.join(", ")));
    }
    for a in run
        .approvals
        .iter()
        .filter(|a| a.decision == Decision::Deny)
    {
        r.view.fields.push((
            "Denied by".into(),
            format!(
                "{}: {}",
                a.by,
                a.reason.as_deref().unwrap_or("no reason given")
            ),
        ));
    }
    if run.state == State::AwaitingApproval || kind == CardKind::Review {
        let decided: Vec<&str> = run
            .approvals
            .iter()
            .map(|a| a.by.as_str())
            .chain(reviews.iter().map(|r| r.by.as_str()))
            .collect();
        let waiting: Vec<&str> = plan
            .asked
            .iter()
            .map(String::as_str)
            .filter(|p| !decided.contains(p))
            .collect();
        if !waiting.is_empty() {
            let shown: Vec<&str> = waiting.iter().take(10).copied().collect();
            let more = waiting.len() - shown.len();
            r.view.fields.push((
                "Asked".into(),
                format!(
                    "{}{}",
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ),
            ));
        }
    }
    if let (Some(e), State::AwaitingApproval) = (run.expires_at, run.state) {
        r.view.fields.push(("Expires".into(), when(e, tz)));
    }
    if matches!(run.state, State::Failed | State::Cancelled | State::Expired)
        && let Some(why) = &run.reason
    {
        r.view.fields.push(("Why".into(), why.clone()));
    }
    for review in reviews {
        let said = match (review.verdict.as_str(), &review.reason) {
            ("flag", Some(why)) => format!("flagged: {why}"),
            ("flag", None) => "flagged".into(),
            _ => "acknowledged".into(),
        };
        r.view
            .fields
            .push(("Reviewed".into(), format!("{} {said}", review.by)));
    }
    // Each step: how it stands, and its inputs as planned.
    let steps: Vec<String> = run
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mark = match s.state.as_str() {
                "succeeded" => "✓",
                "running" => "▶",
                "failed" => "✗",
                _ => "·",
            };
            let planned = plan
                .steps
                .get(i)
                .filter(|(name, _, _)| *name == s.name)
                .map(|(_, uses, with)| format!(" ({uses}): {with}"))
                .unwrap_or_default();
            let error = s
                .error
                .as_deref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default();
            format!("{mark} {}{planned}{error}", s.name)
        })
        .collect();
    r.view
        .sections
        .push(Section::new("Steps", steps, LIST_LIMIT));
    let links = links(run);
    if !links.is_empty() {
        r.view
            .sections
            .push(Section::new("Links", links.clone(), LIST_LIMIT));
    }
    let button = |label: &str, style: Style, verb: RunVerb| Action {
        label: label.into(),
        style,
        id: ActionId::Run { verb, id: run.id },
    };
    r.actions = match (kind, run.state) {
        (CardKind::Review, _) => vec![
            button("Acknowledge", Style::Primary, RunVerb::Acknowledge),
            button("Flag", Style::Danger, RunVerb::Flag),
            button("Details", Style::Plain, RunVerb::Details),
        ],
        (CardKind::Approval, State::AwaitingApproval) => {
            let mut b = vec![
                button("Approve", Style::Primary, RunVerb::Approve),
                button("Deny", Style::Danger, RunVerb::Deny),
                button("Details", Style::Plain, RunVerb::Details),
            ];
            if emergency {
                b.push(button(
                    "Run now (emergency)",
                    Style::Danger,
                    RunVerb::Emergency,
                ));
            }
            b
        }
        _ => vec![button("Details", Style::Plain, RunVerb::Details)],
    };
    let mut result = run_json(run);
    result["card"] = json!(kind.as_str());
    result["links"] = json!(links);
    result["reviews"] = json!(reviews);
    r.result = result;
    r
}

/// The links a run's steps made (a pull request, a repository, a workflow run): every output
/// whose name ends in `url` and whose value is a web address.
pub fn links(run: &Run) -> Vec<String> {
    let mut out = Vec::new();
    for s in &run.steps {
        let Some(Value::Object(o)) = &s.outputs else {
            continue;
        };
        for (k, v) in o {
            if let Some(url) = v.as_str()
                && k.ends_with("url")
                && (url.starts_with("https://") || url.starts_with("http://"))
            {
                out.push(format!("{} {k}: {url}", s.name));
            }
        }
    }
    out
}

/// The one reminder posted in a card's thread, naming who has not decided.
pub fn reminder(run: &Run, waiting: &[String], escalated: &[String]) -> Reply {
    let mut r = Reply::new(Intent::Status, &format!("status {}", run.id));
    r.view.headline = format!(
        "Reminder: run {} of {} still awaits approval",
        run.id, run.workflow
    );
    if !waiting.is_empty() {
        r.view
            .fields
            .push(("Not decided yet".into(), waiting.join(", ")));
    }
    if !escalated.is_empty() {
        r.view
            .fields
            .push(("Also asked now (on call)".into(), escalated.join(", ")));
    }
    r.result = json!({"run": run.id, "waiting": waiting, "escalated": escalated});
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflows::run::StepRecord;

    fn run(state: State) -> Run {
        Run {
            id: 7,
            workflow: "rollback".into(),
            state,
            target: Some("component:default/checkout".into()),
            params: json!({"version": "1.2.3"}),
            requested_by: "user:default/ada".into(),
            identity: "slack:U1".into(),
            platform: "slack".into(),
            channel: Some("C1".into()),
            thread: None,
            created_at: 0,
            expires_at: Some(86_400),
            reason: None,
            finished_at: None,
            plan: None,
            break_glass: None,
            break_glass_by: None,
            reminded_at: None,
            approvals: Vec::new(),
            steps: vec![StepRecord {
                name: "dispatch".into(),
                state: "succeeded".into(),
                attempts: 1,
                outputs: Some(
                    json!({"html_url": "https://github.com/acme/checkout/actions/runs/1", "id": 1}),
                ),
                error: None,
            }],
        }
    }

    fn labels(r: &Reply) -> Vec<&str> {
        r.actions.iter().map(|a| a.label.as_str()).collect()
    }

    #[test]
    fn a_cards_buttons_are_those_that_still_apply() {
        let tz = chrono_tz::UTC;
        let waiting = card(
            &run(State::AwaitingApproval),
            CardKind::Approval,
            true,
            &[],
            tz,
        );
        assert_eq!(
            labels(&waiting),
            ["Approve", "Deny", "Details", "Run now (emergency)"]
        );
        assert_eq!(
            waiting.actions[1].id.encode(),
            "sb1:deny:7",
            "the deny button opens its form"
        );
        assert!(waiting.actions[1].id.form().is_some());
        let plain = card(
            &run(State::AwaitingApproval),
            CardKind::Approval,
            false,
            &[],
            tz,
        );
        assert_eq!(labels(&plain), ["Approve", "Deny", "Details"]);
        let review = card(&run(State::Running), CardKind::Review, false, &[], tz);
        assert_eq!(labels(&review), ["Acknowledge", "Flag", "Details"]);
        let done = card(&run(State::Succeeded), CardKind::Approval, true, &[], tz);
        assert_eq!(labels(&done), ["Details"]);
        // The links a step made are on the card and in its JSON.
        assert_eq!(
            done.result["links"][0],
            "dispatch html_url: https://github.com/acme/checkout/actions/runs/1"
        );
    }
}
