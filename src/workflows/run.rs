//! A run's states and what moves it between them. The store makes each move one atomic
//! conditional update; this module says which moves exist.

use serde::Serialize;
use serde_json::Value;

/// `requested` → `awaiting_approval` → `approved` → `running` → `succeeded` | `failed`, or
/// `denied` | `expired` | `cancelled`. A request is checked and recorded in one transaction,
/// so a stored run starts in `awaiting_approval` (or `approved`, with `approval: none`);
/// `requested` names the moment before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Requested,
    AwaitingApproval,
    Approved,
    Running,
    Succeeded,
    Failed,
    Denied,
    Expired,
    Cancelled,
}

impl State {
    pub const ALL: [State; 9] = [
        State::Requested,
        State::AwaitingApproval,
        State::Approved,
        State::Running,
        State::Succeeded,
        State::Failed,
        State::Denied,
        State::Expired,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Requested => "requested",
            State::AwaitingApproval => "awaiting_approval",
            State::Approved => "approved",
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Denied => "denied",
            State::Expired => "expired",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Said to people: "awaiting approval".
    pub fn words(self) -> &'static str {
        match self {
            State::AwaitingApproval => "awaiting approval",
            other => other.as_str(),
        }
    }
}

/// A decision on a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }
}

/// A run as stored, with its decisions and steps.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    pub id: i64,
    pub workflow: String,
    pub state: State,
    /// The entity the run is about (a ref).
    pub target: Option<String>,
    pub params: Value,
    /// The requester's catalog User.
    pub requested_by: String,
    /// Their platform identity.
    pub identity: String,
    /// Where it was asked: platform, channel and thread.
    pub platform: String,
    pub channel: Option<String>,
    pub thread: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// The reason given with a denial or a cancellation, or why it failed.
    pub reason: Option<String>,
    pub finished_at: Option<i64>,
    /// What its card shows (`replies::Plan`), as recorded when it was requested.
    pub plan: Option<Value>,
    /// Why the person on call ran it at once, skipping approval (break-glass), and who.
    pub break_glass: Option<String>,
    pub break_glass_by: Option<String>,
    /// When those who had not decided were reminded (and `escalate_to` asked).
    pub reminded_at: Option<i64>,
    pub approvals: Vec<Approval>,
    pub steps: Vec<StepRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Approval {
    pub by: String,
    pub decision: Decision,
    pub reason: Option<String>,
    pub at: i64,
    /// Groups the approver held through their chat platform when they decided
    /// (`discord.role_groups`); checked again with them before the run starts.
    pub groups: Vec<String>,
}

/// What happened to one step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepRecord {
    pub name: String,
    /// `pending`, `running`, `succeeded`, `failed`.
    pub state: String,
    pub attempts: i64,
    pub outputs: Option<Value>,
    pub error: Option<String>,
}

/// A review of a run started in an emergency (break-glass).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Review {
    pub by: String,
    /// `acknowledge` or `flag`.
    pub verdict: String,
    pub reason: Option<String>,
    pub at: i64,
}

/// What a decision did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decided {
    /// Recorded; the run moved to `state` (still awaiting approval until the quorum is met).
    Recorded { state: State, approvals: u32 },
    /// This person already decided on this run.
    AlreadyDecided { decision: Decision },
    /// The run is no longer awaiting a decision.
    NotAwaiting { state: State },
    /// The run's time to be decided ran out.
    Expired,
    /// No such run.
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back_what_they_wrote() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }
}
