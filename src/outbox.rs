//! The outbound port: how the core posts a `Reply` that nobody asked for just now (an approval
//! card, a nudge, a digest) and edits a message it posted earlier.
//!
//! A post returns a `MessageRef` (platform, conversation, message id) that can be stored and
//! used hours later to update that message, so a message meant to be edited is a regular bot
//! message, never an ephemeral reply. Each chat adapter implements `Outbox`; the console prints.

use std::future::Future;
use std::pin::Pin;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::conversation::{Platform, Reply};

/// Where a post goes, in the platform's own ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A channel (Slack `C…`), where the bot is a member.
    Channel(String),
    /// A thread in a channel: where a conversation with the bot is under way, or under a
    /// message posted earlier (Slack: the thread of that `ts`; Discord: a reply to that
    /// message).
    Thread { channel: String, thread: String },
    /// A person, by direct message (Slack `U…`/`W…`).
    User(String),
}

/// A message the bot posted, durable enough to store and update later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    pub platform: Platform,
    /// The conversation the message is in (for a direct message, the DM's channel).
    pub channel: String,
    /// The platform's id of the message (Slack's `ts`).
    pub id: String,
}

/// The future an `Outbox` call returns.
pub type Sending<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A post to make once: the key it carries, and, when a process that died may have made it
/// already, since when (epoch seconds) to look for it.
#[derive(Clone, Copy, Debug)]
pub struct Once<'a> {
    pub key: &'a str,
    pub look_since: Option<i64>,
}

/// Posts and updates messages on one platform.
pub trait Outbox: Send + Sync {
    /// Posts `reply` as a regular message, and says where it went.
    fn post<'a>(&'a self, to: &'a Destination, reply: &'a Reply) -> Sending<'a, MessageRef>;

    /// Posts `reply` under `once.key`, carried in the message where the platform keeps such
    /// marks (Slack's message metadata). With `once.look_since`, a message carrying the key
    /// posted since then is returned instead of posting again. A platform that keeps no marks
    /// posts (the default).
    fn post_once<'a>(
        &'a self,
        to: &'a Destination,
        reply: &'a Reply,
        once: Once<'a>,
    ) -> Sending<'a, MessageRef> {
        let _ = once;
        self.post(to, reply)
    }

    /// Replaces the message `at` with `reply`.
    fn update<'a>(&'a self, at: &'a MessageRef, reply: &'a Reply) -> Sending<'a, ()>;

    /// The platform's id of a person, to write to them directly (`Destination::User`): from
    /// the catalog's annotation for the platform, else looked up by e-mail; None when the
    /// platform does not know them.
    fn reach<'a>(&'a self, who: &'a Recipient) -> Sending<'a, Option<String>>;
}

/// A person to write to directly, as the catalog knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// Their catalog User (`user:default/ada`).
    pub user: String,
    /// Their User's annotations (`slack.com/user-id`, `discord.com/user-id`).
    pub annotations: Vec<(String, String)>,
    pub email: Option<String>,
}

impl Recipient {
    /// The User `id` of `snap`.
    pub fn of(snap: &crate::catalog::Snapshot, id: crate::catalog::Id) -> Recipient {
        let e = snap.entity(id);
        Recipient {
            user: e.key(),
            annotations: e
                .annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            email: e
                .profile
                .as_ref()
                .and_then(|p| p.email.as_deref())
                .map(str::to_string),
        }
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A post the platform refused for good: the bot is not in the channel, the channel is
/// archived, the person cannot be written to. Trying again would not help; whoever asked for
/// the post is told instead.
#[derive(Debug, thiserror::Error)]
#[error("{method} was refused: {reason}")]
pub struct Undeliverable {
    /// The call that was refused (`chat.postMessage`).
    pub method: String,
    /// The platform's reason (Slack's error code, `not_in_channel`).
    pub reason: String,
}

impl Undeliverable {
    /// Whether `error` is, or was caused by, a refusal for good.
    pub fn of(error: &anyhow::Error) -> Option<&Undeliverable> {
        error
            .chain()
            .find_map(|e| e.downcast_ref::<Undeliverable>())
    }
}
