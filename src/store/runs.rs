//! Workflow runs: created with their steps, decided, claimed by one worker at a time with a
//! lease, stepped and finished. Every change is one transaction with its audit entry; every
//! move is conditional on the state it leaves, so a second click, a late click or two workers
//! at once change nothing twice.

use anyhow::{Context, Result};
use serde_json::Value;
use sqlx::Row;

use super::audit::append;
use super::{Backend, Store};
use crate::audit::Event;
use crate::workflows::run::{Approval, Decided, Decision, Run, State, StepRecord};

/// A worker holding a run: who, and until when.
pub struct Holder<'a> {
    pub owner: &'a str,
    pub until: i64,
}

/// A run to create.
pub struct NewRun<'a> {
    pub workflow: &'a str,
    /// `awaiting_approval`, or `approved` (approval: none) for the worker to take.
    pub state: State,
    pub target: Option<&'a str>,
    pub params: &'a Value,
    pub requested_by: &'a str,
    pub identity: &'a str,
    pub platform: &'a str,
    pub channel: Option<&'a str>,
    pub thread: Option<&'a str>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub steps: &'a [String],
    /// What its card shows (`replies::Plan`).
    pub plan: Option<&'a Value>,
    /// For a run the person on call starts at once: the emergency's reason, and who they are.
    pub break_glass: Option<(&'a str, &'a str)>,
    /// When those who have not decided are reminded.
    pub remind_at: Option<i64>,
}

const RUN_COLUMNS: &str = "id, workflow, state, target, params, requested_by, identity, platform, \
     channel, thread, created_at, expires_at, reason, finished_at, plan, break_glass, break_glass_by, reminded_at";

fn run_row(r: &sqlx::any::AnyRow) -> Result<Run> {
    let state: String = r.get("state");
    let params: String = r.get("params");
    Ok(Run {
        id: r.get("id"),
        workflow: r.get("workflow"),
        state: State::parse(&state)
            .with_context(|| format!("a run in an unknown state {state}"))?,
        target: r.get("target"),
        params: serde_json::from_str(&params).context("a run's parameters")?,
        requested_by: r.get("requested_by"),
        identity: r.get("identity"),
        platform: r.get("platform"),
        channel: r.get("channel"),
        thread: r.get("thread"),
        created_at: r.get("created_at"),
        expires_at: r.get("expires_at"),
        reason: r.get("reason"),
        finished_at: r.get("finished_at"),
        plan: r
            .get::<Option<String>, _>("plan")
            .and_then(|p| serde_json::from_str(&p).ok()),
        break_glass: r.get("break_glass"),
        break_glass_by: r.get("break_glass_by"),
        reminded_at: r.get("reminded_at"),
        approvals: Vec::new(),
        steps: Vec::new(),
    })
}

impl Store {
    /// Creates a run, its pending steps and its `run.requested` entry; returns its id.
    pub async fn create_run(&self, run: &NewRun<'_>, audit: Event) -> Result<i64> {
        match self.create_run_once(run, audit, None).await? {
            Ok(id) => Ok(id),
            Err(_) => unreachable!("no earlier run is looked for"),
        }
    }

    /// Creates a run as `create_run` does, unless a run of the same workflow about the same
    /// target was requested at or after `since` and has not ended without acting (denied,
    /// cancelled, expired, failed): then nothing is recorded and that run's id is the error.
    /// Two requests at once see each other: one creates, the other gets the first's id.
    pub async fn create_run_once(
        &self,
        run: &NewRun<'_>,
        mut audit: Event,
        since: Option<i64>,
    ) -> Result<std::result::Result<i64, i64>> {
        let mut w = self.write().await?;
        if let (Some(since), Some(target)) = (since, run.target) {
            // SQLite's writes are serial already; PostgreSQL's are held apart by a lock on
            // the (workflow, target) pair for the rest of the transaction.
            if self.backend == Backend::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                    .bind(format!("run-once:{}:{target}", run.workflow))
                    .execute(&mut *w.tx)
                    .await
                    .context("locking a run's target")?;
            }
            let earlier: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(id) FROM runs WHERE workflow = $1 AND target = $2 AND created_at >= $3 \
                 AND state NOT IN ('denied', 'cancelled', 'expired', 'failed')",
            )
            .bind(run.workflow)
            .bind(target)
            .bind(since)
            .fetch_one(&mut *w.tx)
            .await
            .context("looking for an earlier run")?;
            if let Some(id) = earlier {
                return Ok(Err(id));
            }
        }
        let id: i64 = sqlx::query(
            "INSERT INTO runs (workflow, state, target, params, requested_by, identity, platform, \
             channel, thread, created_at, expires_at, plan, break_glass, break_glass_by, decided_at, \
             remind_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             RETURNING id",
        )
        .bind(run.workflow)
        .bind(run.state.as_str())
        .bind(run.target)
        .bind(run.params.to_string())
        .bind(run.requested_by)
        .bind(run.identity)
        .bind(run.platform)
        .bind(run.channel)
        .bind(run.thread)
        .bind(run.created_at)
        .bind(run.expires_at)
        .bind(run.plan.map(Value::to_string))
        .bind(run.break_glass.map(|(reason, _)| reason))
        .bind(run.break_glass.map(|(_, by)| by))
        .bind(run.break_glass.map(|_| run.created_at))
        .bind(run.remind_at)
        .fetch_one(&mut *w.tx)
        .await
        .context("recording a run")?
        .get(0);
        for (i, name) in run.steps.iter().enumerate() {
            sqlx::query(
                "INSERT INTO run_steps (run_id, position, name, state, attempts) \
                 VALUES ($1, $2, $3, 'pending', 0)",
            )
            .bind(id)
            .bind(i as i64)
            .bind(name)
            .execute(&mut *w.tx)
            .await?;
        }
        audit.run_id = Some(id);
        append(&mut w.tx, &audit).await?;
        w.commit().await?;
        Ok(Ok(id))
    }

    /// A run with its decisions and steps.
    pub async fn load_run(&self, id: i64) -> Result<Option<Run>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("reading a run")?;
        let Some(row) = row else { return Ok(None) };
        let mut run = run_row(&row)?;
        self.fill(&mut run).await?;
        Ok(Some(run))
    }

    async fn fill(&self, run: &mut Run) -> Result<()> {
        let approvals = sqlx::query(
            "SELECT approver, decision, reason, at, groups FROM approvals WHERE run_id = $1 ORDER BY at, approver",
        )
        .bind(run.id)
        .fetch_all(&self.pool)
        .await?;
        run.approvals = approvals
            .iter()
            .map(|r| Approval {
                by: r.get(0),
                decision: if r.get::<String, _>(1) == "deny" {
                    Decision::Deny
                } else {
                    Decision::Approve
                },
                reason: r.get(2),
                at: r.get(3),
                groups: r
                    .get::<Option<String>, _>(4)
                    .map(|g| {
                        serde_json::from_str(&g).unwrap_or_else(|e| {
                            tracing::warn!(
                                run = run.id,
                                "an approval's groups cannot be read: {e}"
                            );
                            Vec::new()
                        })
                    })
                    .unwrap_or_default(),
            })
            .collect();
        let steps = sqlx::query(
            "SELECT name, state, attempts, outputs, error FROM run_steps WHERE run_id = $1 ORDER BY position",
        )
        .bind(run.id)
        .fetch_all(&self.pool)
        .await?;
        run.steps = steps
            .iter()
            .map(|r| {
                let outputs: Option<String> = r.get(3);
                StepRecord {
                    name: r.get(0),
                    state: r.get(1),
                    attempts: r.get(2),
                    outputs: outputs.and_then(|o| serde_json::from_str(&o).ok()),
                    error: r.get(4),
                }
            })
            .collect();
        Ok(())
    }

    /// Runs in `states` (all when empty), newest first, at most `limit`, with their decisions.
    pub async fn runs_in(&self, states: &[State], limit: i64) -> Result<Vec<Run>> {
        let filter = if states.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
            format!("WHERE state IN ({})", list.join(", "))
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs {filter} ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("reading runs")?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut run = run_row(r)?;
            self.fill(&mut run).await?;
            out.push(run);
        }
        Ok(out)
    }

    /// Records one person's decision, atomically: the run must still await a decision and not
    /// have expired, and each person decides once. A denial ends the run; approvals from
    /// `quorum` distinct people approve it, at the decision's time. The audit entry is written
    /// with the change.
    pub async fn decide(
        &self,
        id: i64,
        decided: &Approval,
        quorum: u32,
        mut audit: Event,
    ) -> Result<Decided> {
        let now = decided.at;
        let (approver, decision) = (decided.by.as_str(), decided.decision);
        let reason = decided.reason.as_deref();
        let mut w = self.write().await?;
        // Lock the run first (a row lock on PostgreSQL): decisions on one run take turns, so a
        // quorum is counted on every decision committed before.
        let locked = sqlx::query("UPDATE runs SET decided_at = decided_at WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        if locked.rows_affected() == 0 {
            return Ok(Decided::Unknown);
        }
        let row = sqlx::query("SELECT state, expires_at FROM runs WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *w.tx)
            .await?;
        let state = State::parse(&row.get::<String, _>(0)).context("a run's state")?;
        let expires_at: Option<i64> = row.get(1);
        if state != State::AwaitingApproval {
            return Ok(Decided::NotAwaiting { state });
        }
        if expires_at.is_some_and(|e| e <= now) {
            sqlx::query(
                "UPDATE runs SET state = 'expired', finished_at = $2 WHERE id = $1 AND state = 'awaiting_approval'",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *w.tx)
            .await?;
            let expired = Event {
                action: "run.expired".into(),
                detail: serde_json::json!({"late_decision_by": approver}),
                ..audit
            };
            append(&mut w.tx, &expired).await?;
            w.commit().await?;
            return Ok(Decided::Expired);
        }
        let inserted = sqlx::query(
            "INSERT INTO approvals (run_id, approver, decision, reason, at, groups) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, approver) DO NOTHING",
        )
        .bind(id)
        .bind(approver)
        .bind(decision.as_str())
        .bind(reason)
        .bind(now)
        .bind((!decided.groups.is_empty()).then(|| serde_json::json!(decided.groups).to_string()))
        .execute(&mut *w.tx)
        .await?;
        if inserted.rows_affected() == 0 {
            let earlier: String =
                sqlx::query("SELECT decision FROM approvals WHERE run_id = $1 AND approver = $2")
                    .bind(id)
                    .bind(approver)
                    .fetch_one(&mut *w.tx)
                    .await?
                    .get(0);
            let decision = if earlier == "deny" {
                Decision::Deny
            } else {
                Decision::Approve
            };
            return Ok(Decided::AlreadyDecided { decision });
        }
        let approvals: i64 = sqlx::query(
            "SELECT COUNT(*) FROM approvals WHERE run_id = $1 AND decision = 'approve'",
        )
        .bind(id)
        .fetch_one(&mut *w.tx)
        .await?
        .get(0);
        let next = match decision {
            Decision::Deny => State::Denied,
            Decision::Approve if approvals >= i64::from(quorum) => State::Approved,
            Decision::Approve => State::AwaitingApproval,
        };
        if next != State::AwaitingApproval {
            sqlx::query(
                "UPDATE runs SET state = $2, decided_at = $3, reason = $4, \
                 finished_at = CASE WHEN $2 = 'denied' THEN $3 ELSE finished_at END \
                 WHERE id = $1 AND state = 'awaiting_approval'",
            )
            .bind(id)
            .bind(next.as_str())
            .bind(now)
            .bind(if next == State::Denied { reason } else { None })
            .execute(&mut *w.tx)
            .await?;
        }
        audit.run_id = Some(id);
        audit.action = match (decision, next) {
            (Decision::Deny, _) => "run.denied",
            (Decision::Approve, State::Approved) => "run.approved",
            _ => "run.approval_recorded",
        }
        .into();
        append(&mut w.tx, &audit).await?;
        w.commit().await?;
        Ok(Decided::Recorded {
            state: next,
            approvals: approvals as u32,
        })
    }

    /// Cancels a run that has not started; returns the state it was in when it could not be.
    pub async fn cancel_run(
        &self,
        id: i64,
        reason: Option<&str>,
        audit: Event,
    ) -> Result<Result<(), State>> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE runs SET state = 'cancelled', reason = $2, finished_at = $3 \
             WHERE id = $1 AND state IN ('awaiting_approval', 'approved')",
        )
        .bind(id)
        .bind(reason)
        .bind(audit.at)
        .execute(&mut *w.tx)
        .await?;
        if done.rows_affected() == 0 {
            let state: String = sqlx::query("SELECT state FROM runs WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *w.tx)
                .await?
                .get(0);
            return Ok(Err(State::parse(&state).context("a run's state")?));
        }
        append(&mut w.tx, &audit).await?;
        w.commit().await?;
        Ok(Ok(()))
    }

    /// Expires the runs whose time to be decided ran out by `now`; returns their ids.
    pub async fn expire_runs(&self, now: i64, generation: i64) -> Result<Vec<i64>> {
        let mut w = self.write().await?;
        let ids: Vec<i64> = sqlx::query(
            "UPDATE runs SET state = 'expired', finished_at = $1 \
             WHERE state = 'awaiting_approval' AND expires_at <= $1 RETURNING id",
        )
        .bind(now)
        .fetch_all(&mut *w.tx)
        .await
        .context("expiring runs")?
        .iter()
        .map(|r| r.get(0))
        .collect();
        for &id in &ids {
            let event = Event {
                at: now,
                actor: "switchboard".into(),
                identity: "switchboard".into(),
                action: "run.expired".into(),
                target: None,
                run_id: Some(id),
                detail: serde_json::json!({}),
                generation,
            };
            append(&mut w.tx, &event).await?;
        }
        w.commit().await?;
        Ok(ids)
    }

    /// Takes the oldest run ready to run — approved, or running under a lease that ran out
    /// (its worker died) — for `owner` until `lease_until`. Of several workers, one takes it.
    pub async fn claim_run(&self, owner: &str, now: i64, lease_until: i64) -> Result<Option<Run>> {
        let mut w = self.write().await?;
        let skip = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let candidate: Option<i64> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM runs WHERE state = 'approved' \
             OR (state = 'running' AND lease_until < $1) ORDER BY id LIMIT 1{skip}"
        )))
        .bind(now)
        .fetch_optional(&mut *w.tx)
        .await
        .context("looking for a run to take")?
        .map(|r| r.get(0));
        let Some(id) = candidate else {
            return Ok(None);
        };
        let taken = sqlx::query(
            "UPDATE runs SET state = 'running', lease_owner = $2, lease_until = $3 \
             WHERE id = $1 AND (state = 'approved' OR (state = 'running' AND lease_until < $4))",
        )
        .bind(id)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        if taken.rows_affected() != 1 {
            return Ok(None);
        }
        self.load_run(id).await
    }

    /// Records a step's attempt, result and outputs, with its audit entry, and extends the
    /// worker's lease to `holder.until`. Refused (nothing written) when the run is no longer
    /// this worker's: its lease ran out and another took it.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_step(
        &self,
        id: i64,
        holder: &Holder<'_>,
        position: usize,
        state: &str,
        attempts: i64,
        outputs: Option<&Value>,
        error: Option<&str>,
        audit: Event,
    ) -> Result<()> {
        let mut w = self.write().await?;
        let now = audit.at;
        let held = sqlx::query(
            "UPDATE runs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(holder.owner)
        .bind(holder.until)
        .execute(&mut *w.tx)
        .await?;
        if held.rows_affected() != 1 {
            anyhow::bail!(
                "run {id} is no longer this worker's: its lease ran out and another took it"
            );
        }
        sqlx::query(
            "UPDATE run_steps SET state = $3, attempts = $4, outputs = $5, error = $6, \
             started_at = COALESCE(started_at, $7), \
             finished_at = CASE WHEN $3 IN ('succeeded', 'failed') THEN $7 ELSE NULL END \
             WHERE run_id = $1 AND position = $2",
        )
        .bind(id)
        .bind(position as i64)
        .bind(state)
        .bind(attempts)
        .bind(outputs.map(Value::to_string))
        .bind(error)
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .context("recording a step")?;
        append(&mut w.tx, &audit).await?;
        w.commit().await
    }

    /// Ends a running run this worker holds (`succeeded` or `failed`, with why), with its
    /// audit entry; refused, with nothing written, when it is no longer this worker's.
    pub async fn finish_run(
        &self,
        id: i64,
        holder: &Holder<'_>,
        state: State,
        reason: Option<&str>,
        audit: Event,
    ) -> Result<()> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE runs SET state = $2, reason = $3, finished_at = $4, lease_owner = NULL, \
             lease_until = NULL WHERE id = $1 AND state = 'running' AND lease_owner = $5",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(reason)
        .bind(audit.at)
        .bind(holder.owner)
        .execute(&mut *w.tx)
        .await
        .context("finishing a run")?;
        if done.rows_affected() != 1 {
            anyhow::bail!(
                "run {id} is no longer this worker's: its lease ran out and another took it"
            );
        }
        append(&mut w.tx, &audit).await?;
        w.commit().await
    }
}
