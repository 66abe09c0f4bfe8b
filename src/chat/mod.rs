//! The neutral conversation model: a `ChatEvent` comes in from any surface, a `Reply` goes out.
//!
//! Adapters (console now; Slack and Discord later) translate their payloads into `ChatEvent`
//! and render `Reply` in their own format. The core never sees a platform type.

pub mod console;
pub mod render;
pub mod slack;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Console,
    Slack,
    Discord,
    Http,
}

/// One message addressed to the bot.
#[derive(Clone, Debug)]
pub struct ChatEvent {
    pub platform: Platform,
    /// Who asked: a catalog user reference or the platform's user id, if known.
    pub user: Option<String>,
    pub text: String,
    /// The moment "now" means for this question (tests pin it; adapters leave it None).
    pub now: Option<DateTime<Utc>>,
    /// The asker's time zone (IANA name, `Europe/Paris`) when the platform gives it: times in
    /// the answer are shown in it, and times typed without a zone are read in it. UTC else.
    pub tz: Option<String>,
}

impl ChatEvent {
    pub fn console(user: Option<String>, text: impl Into<String>) -> ChatEvent {
        ChatEvent {
            platform: Platform::Console,
            user,
            text: text.into(),
            now: None,
            tz: None,
        }
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
    /// The options of the question asked (` --depth 2`, ` at 2026-12-01T09:00:00+00:00`, a
    /// relative time made absolute), repeated when a suggestion is picked.
    #[serde(skip)]
    pub options: String,
    pub warnings: Vec<String>,
    /// Presentation: a headline, label/value fields, sections and footnotes.
    #[serde(skip)]
    pub view: View,
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
    /// The question to ask when someone picks suggestion `r` ("did you mean"): the question
    /// that was asked, with its options, about that entity.
    pub fn question_for(&self, r: &str) -> String {
        let o = &self.options;
        match self.intent {
            Intent::Owner => format!("who owns {r}{o}"),
            Intent::Oncall => format!("oncall {r}{o}"),
            Intent::Deps => format!("deps {r}{o}"),
            Intent::Dependents => format!("dependents {r}{o}"),
            Intent::Conflicts => format!("conflicts {r}{o}"),
            // The card of the entity picked (an `info` did-you-mean asks exactly this).
            Intent::Info
            | Intent::Find
            | Intent::SyncStatus
            | Intent::Whoami
            | Intent::Help
            | Intent::Unknown => {
                format!("info {r}")
            }
        }
    }

    pub fn new(intent: Intent, query: &str) -> Reply {
        Reply {
            intent,
            query: query.to_string(),
            entity: None,
            result: serde_json::Value::Object(Default::default()),
            provenance: Vec::new(),
            suggestions: Vec::new(),
            options: String::new(),
            warnings: Vec::new(),
            view: View::default(),
        }
    }
}
