//! What the workflow commands say: every reply about workflows and runs is worded here, text
//! and JSON together (see README, "JSON answers", for the `result` shapes).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::definition::{Kind, Workflow};
use super::run::{Decided, Decision, Run, State};
use crate::audit::Entry;
use crate::conversation::{Intent, Reply, Section};

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

/// What a run will do, shown when it is requested (and by `--dry-run`).
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
    for (k, v) in plan.params.iter().filter(|(_, v)| v != "null") {
        r.view.fields.push((k.clone(), v.clone()));
    }
    if let Some(t) = &plan.target {
        r.view.fields.push(("Target".into(), t.clone()));
        r.view.fields.push((
            "Owners".into(),
            if plan.owners.is_empty() {
                "none in the catalog".into()
            } else {
                plan.owners.join(", ")
            },
        ));
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
                "Run {id} is {} and no longer awaits a decision; nothing changed",
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
