//! The conversation model every surface shares, owned by the core: a `ChatEvent` comes in
//! (who asks, what they typed or clicked), a `Reply` goes out (the answer, its presentation and
//! its actions). Adapters translate their payloads into `ChatEvent` and render `Reply` in their
//! own format; the core never sees a platform type. A new action is a variant of `ActionId`
//! (encoded and decoded here, versioned), produced by an answer and handled in `Bot::respond`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Console,
    Slack,
    Discord,
    Http,
}

impl Platform {
    /// How identities and runs name the platform: `slack`, `discord`, `console`, `http`.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Console => "console",
            Platform::Slack => "slack",
            Platform::Discord => "discord",
            Platform::Http => "http",
        }
    }

    /// Slack and Discord: where people are, and can be written to.
    pub fn is_chat(self) -> bool {
        matches!(self, Platform::Slack | Platform::Discord)
    }

    pub fn parse(s: &str) -> Option<Platform> {
        [
            Platform::Console,
            Platform::Slack,
            Platform::Discord,
            Platform::Http,
        ]
        .into_iter()
        .find(|p| p.name() == s)
    }
}

/// What the asker did. A surface that cannot produce one kind simply never sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Typed a message: a question or a command.
    Text(String),
    /// Clicked a button: its value as the core encoded it (`ActionId::encode`), unchanged.
    Action(String),
    /// Submitted a form opened by a button (a deny reason, an exemption request): the button's
    /// encoded action and the named values entered.
    Form {
        action: String,
        values: Vec<(String, String)>,
    },
    /// Opened their home view (Slack's App Home).
    OpenHome,
    /// Is typing into an option that offers choices (Discord's autocomplete): which option,
    /// and what is typed so far.
    Autocomplete { option: String, partial: String },
}

impl Input {
    /// What was typed, without the control characters no one means to send (NUL, escapes;
    /// tabs and line breaks stay): PostgreSQL refuses a NUL in text, and a terminal obeys an
    /// escape shown back. A button's value is the core's own and is left alone.
    pub fn cleaned(self) -> Input {
        fn clean(s: String) -> String {
            if !s.chars().any(unwanted) {
                return s;
            }
            s.chars().filter(|c| !unwanted(*c)).collect()
        }
        fn unwanted(c: char) -> bool {
            c.is_control() && !matches!(c, '\n' | '\t')
        }
        match self {
            Input::Text(t) => Input::Text(clean(t)),
            Input::Form { action, values } => Input::Form {
                action,
                values: values.into_iter().map(|(k, v)| (k, clean(v))).collect(),
            },
            Input::Autocomplete { option, partial } => Input::Autocomplete {
                option,
                partial: clean(partial),
            },
            other => other,
        }
    }
}

/// Who is asking, as their platform knows them. Only `platform` is always known; the core
/// fills the rest from the platform's `Directory` when it has one, and matches the person to
/// a catalog User (`identity`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub platform: Platform,
    /// The platform's id of the person (Slack `U123`); on the console, who they said they are
    /// (`--as ada`, a catalog reference or an e-mail).
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Their time zone (IANA name, `Europe/Paris`): times in answers are shown in it, and times
    /// typed without a zone are read in it. UTC when unknown.
    pub tz: Option<String>,
    /// Catalog Groups the platform says they belong to (Discord roles, by
    /// `discord.role_groups`), beside those the catalog gives their User.
    pub groups: Vec<String>,
}

impl Actor {
    /// Someone known by their platform id only; the rest is looked up.
    pub fn on(platform: Platform, id: impl Into<String>) -> Actor {
        Actor {
            platform,
            id: Some(id.into()),
            name: None,
            email: None,
            tz: None,
            groups: Vec::new(),
        }
    }

    /// Someone at the console, as who they said they are (if they did).
    pub fn console(user: Option<String>) -> Actor {
        Actor {
            platform: Platform::Console,
            id: user,
            name: None,
            email: None,
            tz: None,
            groups: Vec::new(),
        }
    }
}

/// Where the event happened, in the platform's ids: where an answer goes, and the thread a
/// follow-up belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conversation {
    /// The channel (Slack `C…`, or a direct message's `D…`), when there is one.
    pub channel: Option<String>,
    /// The thread the message is in (Slack: the thread's `ts`).
    pub thread: Option<String>,
    /// The conversation follow-up questions belong to (a thread, a direct message, a console
    /// session), when there is one: a question without an entity there means the entity of
    /// the last answer in it. Never shared between conversations.
    pub follow_up: Option<String>,
    /// Where the next message of this conversation will look back to, when it is not
    /// `follow_up` itself: in a reply chain (Discord, where no thread could be started) a
    /// question looks back to the message it replies to, and its answer is remembered under
    /// its own id.
    pub continued_as: Option<String>,
}

/// One thing someone did that the bot answers.
#[derive(Clone, Debug)]
pub struct ChatEvent {
    pub actor: Actor,
    pub conversation: Conversation,
    pub input: Input,
    /// The moment "now" means for this event: the bot's clock when it arrived.
    pub now: DateTime<Utc>,
}

impl ChatEvent {
    /// A line typed at the console.
    pub fn console(user: Option<String>, text: impl Into<String>, now: DateTime<Utc>) -> ChatEvent {
        ChatEvent {
            actor: Actor::console(user),
            conversation: Conversation::default(),
            input: Input::Text(text.into()),
            now,
        }
    }
}

/// Why an event got no answer: a refusal meant for the asker, shown as it is, or a fault on
/// the bot's side, logged with a reference the asker is shown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Refused(String),
    #[error(
        "Something went wrong on my side (reference {correlation}). Try again in a moment; if it \
         keeps happening, give the platform team that reference."
    )]
    Internal { correlation: String },
    #[error(
        "My database does not answer just now, so I could not do this. Try again in a minute: \
         nothing already done is done twice (reference {correlation})."
    )]
    Unavailable { correlation: String },
}

impl Failure {
    /// The failure as a reply for the asker alone. In JSON: `{"error": …, "correlation": …}`.
    pub fn reply(&self) -> Reply {
        let mut r = Reply::new(Intent::Unknown, "");
        r.view.headline = self.to_string();
        let correlation = match self {
            Failure::Internal { correlation } | Failure::Unavailable { correlation } => {
                Some(correlation.as_str())
            }
            Failure::Refused(_) => None,
        };
        r.result = serde_json::json!({"error": self.to_string(), "correlation": correlation});
        r.audience = Audience::Asker;
        r
    }
}

/// What the question was about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    Owner,
    Oncall,
    Deps,
    Dependents,
    Info,
    Find,
    Conflicts,
    #[serde(rename = "sync_status")]
    SyncStatus,
    Whoami,
    Help,
    Unknown,
    /// The workflows the asker may run.
    Workflows,
    /// A request to run a workflow (or its plan, with `--dry-run`).
    Run,
    Approve,
    Deny,
    /// How a run stands.
    Status,
    Cancel,
    /// The asker's runs and their teams'.
    Runs,
    /// What awaits the asker's decision.
    Approvals,
    Audit,
    /// Read the workflow definitions again (platform engineers and admins).
    Reload,
    /// An entity's (or a team's) scores against the scorecards, with fixes.
    Scorecard,
    /// How complete the catalog is, per team.
    Completeness,
    /// A team's weekly digest, or the platform's (sent on a schedule; `switchboard digest`).
    Digest,
    /// How Switchboard is used: questions, what found nothing, workflows' funnel.
    Stats,
    /// "Is this wrong?": a fact reported wrong, where it comes from and how to edit it.
    Report,
    /// An entity's links and docs references: runbooks, dashboards, docs, source.
    Docs,
    /// How to call an API: its definition's servers, auth and operations.
    Api,
    /// The APIs whose definitions expose a path.
    Endpoint,
    /// Deploys, merged pull requests and catalog changes of an entity and what it depends on.
    Changes,
    /// Everything an on-call responder needs about an entity on one card.
    Incident,
    /// The entities whose SBOMs list a package, at versions in a range.
    Uses,
    /// The entities behind their golden-path template's version, with what changed since.
    Drift,
}

impl Intent {
    /// Answered by the workflow desk (runs in the store) rather than from the catalog alone.
    pub fn is_workflow(self) -> bool {
        matches!(
            self,
            Intent::Workflows
                | Intent::Run
                | Intent::Approve
                | Intent::Deny
                | Intent::Status
                | Intent::Cancel
                | Intent::Runs
                | Intent::Approvals
                | Intent::Audit
                | Intent::Reload
                | Intent::Report
                | Intent::Drift
        )
    }
}

/// A fact's origin, as shown with answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProvenanceNote {
    /// What the note is for: `entity`, `owner`, `rotation`, …
    pub fact: String,
    pub source: String,
    pub location: String,
    pub line: u32,
    pub commit: Option<String>,
    /// Seconds since the epoch.
    pub fetched_at: i64,
}

/// A titled list in a reply, cut to a length with a count of what was left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Section {
    pub title: String,
    pub lines: Vec<String>,
    /// Lines left out after the cut ("and N more").
    pub more: usize,
}

impl Section {
    /// Lines beyond `limit` are counted, not kept.
    pub fn new(title: impl Into<String>, lines: Vec<String>, limit: usize) -> Section {
        let more = lines.len().saturating_sub(limit);
        let mut lines = lines;
        lines.truncate(limit);
        Section {
            title: title.into(),
            lines,
            more,
        }
    }
}

/// The answer to one question, independent of where it is shown.
#[derive(Clone, Debug, Serialize)]
pub struct Reply {
    pub intent: Intent,
    pub query: String,
    /// Canonical reference of the entity the answer is about.
    pub entity: Option<String>,
    /// Structured answer; its shape depends on the intent (see README, "JSON answers").
    pub result: serde_json::Value,
    pub provenance: Vec<ProvenanceNote>,
    /// Entities the asker may have meant ("did you mean").
    pub suggestions: Vec<String>,
    /// The entity a question without a name was taken to mean, from earlier in its
    /// conversation ("and who is on call?").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referred: Option<String>,
    /// What the asker can do next with one click (a pick of "did you mean"), best first.
    #[serde(skip)]
    pub actions: Vec<Action>,
    /// Posts this answer for everyone: offered where a surface answers privately first (Slack's
    /// `/sb`).
    #[serde(skip)]
    pub share: Option<ActionId>,
    pub warnings: Vec<String>,
    /// Presentation: a headline, label/value fields, sections and footnotes.
    #[serde(skip)]
    pub view: View,
    /// Who should see it, where the surface can choose.
    #[serde(skip)]
    pub audience: Audience,
    /// Pictures shown with the answer.
    #[serde(skip)]
    pub attachments: Vec<Attachment>,
    /// The answer as a graph in DOT, where it is one (a blast radius): `ask --format dot`.
    #[serde(skip)]
    pub dot: Option<String>,
    /// The question found nothing (no such entity, no match, not a question known): counted
    /// among the catalog's gaps.
    #[serde(skip)]
    pub unresolved: bool,
    /// What an autocomplete offers, best first (also in `result.choices`).
    #[serde(skip)]
    pub choices: Vec<Choice>,
}

/// A picture sent with a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// `checkout-blast-radius.png`
    pub file_name: String,
    /// Said in place of the picture where it cannot be shown, and to screen readers.
    pub alt: String,
    pub png: std::sync::Arc<[u8]>,
}

/// One choice an autocomplete offers: what is shown, and what is filled in when picked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub label: String,
    pub value: String,
}

/// Who a reply is for, where the surface can choose (Slack: ephemeral or in the channel).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Audience {
    /// As the surface answers that kind of input.
    #[default]
    AsUsual,
    /// The asker alone (a button that could not be honoured).
    Asker,
    /// Everyone in the conversation (an answer shared from a private one).
    Everyone,
}

/// The human-readable shape of a reply, which each surface renders its own way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    pub headline: String,
    /// Shown next to the headline for quarantined entities.
    pub badge: Option<String>,
    pub fields: Vec<(String, String)>,
    pub sections: Vec<Section>,
    /// Small print: where the answer came from, how fresh it is.
    pub context: Vec<String>,
}

impl Reply {
    pub fn new(intent: Intent, query: &str) -> Reply {
        Reply {
            intent,
            query: query.to_string(),
            entity: None,
            result: serde_json::Value::Object(Default::default()),
            provenance: Vec::new(),
            suggestions: Vec::new(),
            referred: None,
            actions: Vec::new(),
            share: None,
            warnings: Vec::new(),
            view: View::default(),
            audience: Audience::AsUsual,
            attachments: Vec::new(),
            dot: None,
            unresolved: false,
            choices: Vec::new(),
        }
    }
}

/// A button: what it says, how it looks, and what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub label: String,
    pub style: Style,
    pub id: ActionId,
}

/// How a button looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Primary,
    Danger,
    Plain,
}

/// What a button does. The core encodes it into the button's value and decodes it when the
/// click comes back; adapters hand it over unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionId {
    /// Ask this question (a pick of "did you mean": the question asked, about the pick).
    Ask(String),
    /// Post the answer to this question in the conversation, for everyone.
    Share(String),
    /// An action too long for the button of the platform it is shown on (Discord's
    /// `custom_id` holds 100 characters, Slack's value 2,000), kept in the store under this key
    /// for `STORED_FOR` (`Bot::fit_buttons`).
    Stored(String),
    /// Something done to a workflow run from its card: approve, deny, see its details, run it
    /// at once in an emergency, or review a run started that way.
    Run { verb: RunVerb, id: i64 },
    /// Something done about a nudge: snooze its entity's nudges, or ask for an exemption
    /// (opens a form for the reason).
    Nudge { verb: NudgeVerb, id: i64 },
}

/// What a nudge's buttons do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NudgeVerb {
    Snooze,
    Exempt,
}

impl NudgeVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            NudgeVerb::Snooze => "snooze",
            NudgeVerb::Exempt => "exempt",
        }
    }

    fn parse(s: &str) -> Option<NudgeVerb> {
        [NudgeVerb::Snooze, NudgeVerb::Exempt]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What a run's card buttons do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunVerb {
    Approve,
    /// Opens a form for the reason.
    Deny,
    Details,
    /// The on-call person runs it at once (break-glass); opens a form for the reason.
    Emergency,
    /// An approver acknowledges a run started in an emergency.
    Acknowledge,
    /// An approver flags a run started in an emergency; opens a form for the reason.
    Flag,
}

impl RunVerb {
    const ALL: [RunVerb; 6] = [
        RunVerb::Approve,
        RunVerb::Deny,
        RunVerb::Details,
        RunVerb::Emergency,
        RunVerb::Acknowledge,
        RunVerb::Flag,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunVerb::Approve => "approve",
            RunVerb::Deny => "deny",
            RunVerb::Details => "details",
            RunVerb::Emergency => "emergency",
            RunVerb::Acknowledge => "acknowledge",
            RunVerb::Flag => "flag",
        }
    }

    fn parse(s: &str) -> Option<RunVerb> {
        RunVerb::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A form a button opens before its action is taken (a modal on Slack and Discord): the
/// values entered come back with the action as `Input::Form`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    pub title: String,
    /// The submit button's label.
    pub submit: String,
    pub fields: Vec<FormField>,
}

/// One text field of a form; every field is required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormField {
    /// The name its value comes back under.
    pub name: String,
    pub label: String,
    /// Shown in the empty field.
    pub hint: String,
    pub max_length: usize,
}

impl Form {
    fn reason(title: String, submit: &str, hint: &str) -> Form {
        Form {
            title,
            submit: submit.into(),
            fields: vec![FormField {
                name: "reason".into(),
                label: "Reason".into(),
                hint: hint.into(),
                max_length: 500,
            }],
        }
    }
}

/// How long a stored action is honoured after the reply carrying it was last rendered.
pub const STORED_FOR: chrono::Duration = chrono::Duration::days(30);

/// Why a button's id cannot be honoured; said to the clicker, and nothing is done.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error(
        "This button is out of date (it was made by another version of Switchboard); ask again."
    )]
    OutOfDate,
    #[error("That button is not one of mine; nothing was done.")]
    Unknown,
    #[error("This button has expired (buttons are kept for 30 days); ask again.")]
    Expired,
}

/// The version of the encoding; an id of another version is refused as out of date, never
/// misread. Raise it when a variant's encoding changes (keeping the reading of the old one
/// where its meaning still holds).
const ACTION_VERSION: &str = "1";

impl ActionId {
    /// `sb1:ask:who owns payments`. A did-you-mean's times are made absolute, so that button
    /// asks tomorrow what it asked today; a share repeats the question as typed.
    pub fn encode(&self) -> String {
        let (verb, arg) = match self {
            ActionId::Ask(q) => ("ask", q),
            ActionId::Share(q) => ("share", q),
            ActionId::Stored(key) => ("key", key),
            ActionId::Run { verb, id } => {
                return format!("sb{ACTION_VERSION}:{}:{id}", verb.as_str());
            }
            ActionId::Nudge { verb, id } => {
                return format!("sb{ACTION_VERSION}:{}:{id}", verb.as_str());
            }
        };
        format!("sb{ACTION_VERSION}:{verb}:{arg}")
    }

    /// The form this action asks for before it is taken, if any (a reason for a denial).
    pub fn form(&self) -> Option<Form> {
        if let ActionId::Nudge {
            verb: NudgeVerb::Exempt,
            id,
        } = self
        {
            return Some(Form::reason(
                format!("Ask for an exemption (nudge {id})"),
                "Ask",
                "Why should this entity be exempt? The scorecard's owners decide.",
            ));
        }
        let ActionId::Run { verb, id } = self else {
            return None;
        };
        Some(match verb {
            RunVerb::Deny => Form::reason(
                format!("Deny run {id}"),
                "Deny",
                "Why? The requester is told.",
            ),
            RunVerb::Emergency => Form::reason(
                format!("Run {id} now (emergency)"),
                "Run now",
                "What is the emergency? The approvers review it after.",
            ),
            RunVerb::Flag => Form::reason(
                format!("Flag run {id}"),
                "Flag",
                "What was wrong with running it? Recorded in the audit log.",
            ),
            _ => return None,
        })
    }

    pub fn decode(s: &str) -> Result<ActionId, ActionError> {
        let (version, rest) = s
            .strip_prefix("sb")
            .and_then(|r| r.split_once(':'))
            .filter(|(v, _)| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(ActionError::Unknown)?;
        if version != ACTION_VERSION {
            return Err(ActionError::OutOfDate);
        }
        match rest.split_once(':') {
            Some(("ask", q)) if !q.is_empty() => Ok(ActionId::Ask(q.to_string())),
            Some(("share", q)) if !q.is_empty() => Ok(ActionId::Share(q.to_string())),
            Some(("key", k)) if !k.is_empty() => Ok(ActionId::Stored(k.to_string())),
            Some((verb, id)) if RunVerb::parse(verb).is_some() => match id.parse::<i64>() {
                Ok(id) => Ok(ActionId::Run {
                    verb: RunVerb::parse(verb).expect("checked"),
                    id,
                }),
                Err(_) => Err(ActionError::Unknown),
            },
            Some((verb, id)) if NudgeVerb::parse(verb).is_some() => match id.parse::<i64>() {
                Ok(id) => Ok(ActionId::Nudge {
                    verb: NudgeVerb::parse(verb).expect("checked"),
                    id,
                }),
                Err(_) => Err(ActionError::Unknown),
            },
            // A verb this release does not know: made by another one.
            _ => Err(ActionError::OutOfDate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_ids_read_back_what_they_wrote() {
        for id in [
            ActionId::Ask("who owns component:default/wayback-archive --depth 2".into()),
            ActionId::Share("oncall checkout at 2026-12-01T09:00:00+00:00".into()),
            ActionId::Stored("3f9a0c1d2e4b5a6c".into()),
            ActionId::Run {
                verb: RunVerb::Approve,
                id: 42,
            },
            ActionId::Run {
                verb: RunVerb::Flag,
                id: 7,
            },
            ActionId::Nudge {
                verb: NudgeVerb::Snooze,
                id: 3,
            },
            ActionId::Nudge {
                verb: NudgeVerb::Exempt,
                id: 4,
            },
        ] {
            assert_eq!(ActionId::decode(&id.encode()), Ok(id));
        }
    }

    #[test]
    fn ids_of_another_version_or_verb_are_out_of_date_and_others_unknown() {
        assert_eq!(ActionId::decode("sb2:ask:x"), Err(ActionError::OutOfDate));
        assert_eq!(
            ActionId::decode("sb1:launch:42"),
            Err(ActionError::OutOfDate)
        );
        assert_eq!(ActionId::decode("sb1:approve:x"), Err(ActionError::Unknown));
        assert_eq!(ActionId::decode("create_task"), Err(ActionError::Unknown));
        assert_eq!(ActionId::decode("sbx:ask:x"), Err(ActionError::Unknown));
        assert_eq!(ActionId::decode("sb1:ask:"), Err(ActionError::OutOfDate));
    }
}
