//! Discord's gateway (the default: no public URL needed): serenity's client holds the
//! connection (heartbeats, reconnects, resumes) and hands over interactions, mentions and
//! direct messages. An interaction is acknowledged by REST, as the HTTP endpoint's would be
//! in its response; a mention in a channel is answered in a thread started on it (or in the
//! thread it was made in), a direct message in the DM. Each is claimed in the store first, so
//! one delivered again (a resumed session replays what it missed) is answered once, and the
//! answer is posted with a nonce, so a post repeated after a lost answer is not doubled.

use anyhow::{Context as _, Result};
use serde_json::json;
use serenity::all::{
    ClientBuilder, Context, Event, EventHandler, GatewayIntents, HttpBuilder, Interaction, Message,
    RawEventHandler, Ready,
};

use super::app::{Asking, DiscordApp, DiscordSettings};
use super::render;
use super::rest::nonce;
use crate::chat::Input;

/// Discord's own REST base: talked to directly, serenity waits out rate limits itself.
const DISCORD: &str = "https://discord.com";

struct Handler {
    app: DiscordApp,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _: Context, ready: Ready) {
        let _ = self.app.inner.me.set(ready.user.id.get());
        tracing::info!(
            user = %ready.user.name,
            guilds = ready.guilds.len(),
            "connected to Discord's gateway"
        );
    }

    async fn interaction_create(&self, _: Context, interaction: Interaction) {
        let app = self.app.clone();
        self.app.spawn(
            "interaction",
            async move { app.interaction(interaction).await },
        );
        self.app.handed_over();
    }

    async fn message(&self, _: Context, message: Message) {
        let app = self.app.clone();
        self.app
            .spawn("message", async move { app.message(message).await });
        self.app.handed_over();
    }
}

/// Says what serenity could not read of what Switchboard takes (it would say so at DEBUG only):
/// the event is dropped, nothing is answered, the connection carries on.
struct Unreadable;

#[serenity::async_trait]
impl RawEventHandler for Unreadable {
    async fn raw_event(&self, _: Context, event: Event) {
        if let Event::Unknown(e) = event
            && matches!(e.kind.as_str(), "INTERACTION_CREATE" | "MESSAGE_CREATE")
        {
            tracing::warn!(
                event = %e.kind,
                id = e.value["id"].as_str().unwrap_or("-"),
                "Discord sent an event that cannot be read; it is dropped"
            );
        }
    }
}

/// The intents Switchboard asks for: messages in guilds (Discord sends a message's text to a
/// bot only when it mentions the bot, unless `message_content`) and direct messages.
pub fn intents(message_content: bool) -> GatewayIntents {
    let mut intents = GatewayIntents::GUILD_MESSAGES | GatewayIntents::DIRECT_MESSAGES;
    if message_content {
        intents |= GatewayIntents::MESSAGE_CONTENT;
    }
    intents
}

impl DiscordApp {
    /// Connects to the gateway and answers what comes through it until the connection ends
    /// for good (a bad token, intents not allowed); serenity reconnects and resumes otherwise.
    pub async fn run_gateway(
        &self,
        settings: &DiscordSettings,
        message_content: bool,
    ) -> Result<()> {
        let api = settings.api_url.trim_end_matches('/');
        let mut http = HttpBuilder::new(&settings.token);
        if let Some(id) = std::num::NonZeroU64::new(settings.application_id) {
            http = http.application_id(id.into());
        }
        if api != DISCORD {
            // Elsewhere (a proxy, a fake) serenity's limiter would ignore the address.
            http = http.proxy(api).ratelimiter_disabled(true);
        }
        let mut client = ClientBuilder::new_with_http(http.build(), intents(message_content))
            .event_handler(Handler { app: self.clone() })
            .raw_event_handler(Unreadable)
            .await
            .context("building the Discord client")?;
        client.start().await.context("Discord's gateway connection")
    }

    /// Counts an event handed over, once its work is counted as under way (`idle` waits for
    /// it).
    fn handed_over(&self) {
        self.inner
            .taken
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// An interaction from the gateway: claimed, then acknowledged by REST.
    async fn interaction(&self, interaction: Interaction) -> Result<()> {
        let mut i = serde_json::to_value(&interaction).context("reading the interaction")?;
        // serenity keeps the type in which variant it is, not in the value.
        i["type"] = json!(u8::from(interaction.kind()));
        let id = i["id"].as_str().unwrap_or_default().to_string();
        let token = i["token"].as_str().unwrap_or_default().to_string();
        // Suggestions while typing change nothing: not worth a write each.
        let autocomplete = matches!(interaction, Interaction::Autocomplete(_));
        let key = format!("interaction:{id}");
        if !autocomplete && !self.claim(&key).await? {
            return Ok(());
        }
        let answer = self.take(i, true).await;
        let acknowledged = self.acknowledge(&id, &token, &answer).await;
        if !autocomplete {
            self.answered(&key, &acknowledged).await;
        }
        acknowledged
    }

    /// A message: answered when it is a direct message or mentions the bot.
    async fn message(&self, m: Message) -> Result<()> {
        if m.author.bot {
            return Ok(());
        }
        let me = self.inner.me.get().copied();
        let in_dm = m.guild_id.is_none();
        let mentioned = me.is_some_and(|me| m.mentions.iter().any(|u| u.id.get() == me));
        if !in_dm && !mentioned {
            return Ok(());
        }
        let key = format!("message:{}", m.id);
        if !self.claim(&key).await? {
            return Ok(());
        }
        let answered = self.answer(&m, me, in_dm).await;
        self.answered(&key, &answered).await;
        answered
    }

    /// Answers a message claimed: where, then what.
    async fn answer(&self, m: &Message, me: Option<u64>, in_dm: bool) -> Result<()> {
        let key = format!("message:{}", m.id);
        let text = without_mentions_of(&m.content, me);
        let channel = m.channel_id.to_string();
        // In a channel, the answer starts a thread on the question (or goes in the thread it
        // was asked in); where no thread can be started, it replies in the channel.
        let mut here = channel.clone();
        let in_thread = !in_dm
            && self.is_thread(&channel).await.unwrap_or_else(|e| {
                tracing::warn!(channel, "cannot tell whether it is a thread: {e:#}");
                false
            });
        if !in_dm && !in_thread {
            match self.start_thread(&channel, &m.id.to_string(), &text).await {
                Ok(thread) => here = thread,
                Err(e) => tracing::warn!(
                    channel,
                    "cannot start a thread; answering in the channel: {e:#}"
                ),
            }
        }
        let from = Asking {
            user: m.author.id.to_string(),
            roles: m
                .member
                .as_ref()
                .map(|p| p.roles.iter().map(|r| r.to_string()).collect())
                .unwrap_or_default(),
            channel: Some(here.clone()),
            // A thread (found or started) or a DM is one conversation. Answered in the channel
            // (no thread could be started), the answer replies to the question: a reply to it
            // looks back to that question, and a reply to a question to the question itself.
            follow_up: Some(if in_dm || in_thread || here != channel {
                here.clone()
            } else {
                let back = match m.referenced_message.as_deref() {
                    Some(r) if me.is_some_and(|me| r.author.id.get() == me) => r
                        .message_reference
                        .as_ref()
                        .and_then(|mr| mr.message_id)
                        .unwrap_or(r.id),
                    Some(r) => r.id,
                    None => m.id,
                };
                format!("{channel}/{back}")
            }),
            continued_as: (!in_dm && !in_thread && here == channel)
                .then(|| format!("{channel}/{}", m.id)),
        };
        let reply = self.ask(&from, Input::Text(text)).await;
        let mut body = render::message(&reply, false).body();
        if here == channel && !in_dm {
            body["message_reference"] =
                json!({"message_id": m.id.to_string(), "fail_if_not_exists": false});
        }
        self.post_body(&here, body, &nonce(&[&key]), &reply.attachments)
            .await?;
        Ok(())
    }
}

/// The text of a message without the mentions of the bot (`<@ID>`, `<@!ID>`).
fn without_mentions_of(content: &str, me: Option<u64>) -> String {
    let mut text = content.to_string();
    if let Some(me) = me {
        for m in [format!("<@{me}>"), format!("<@!{me}>")] {
            text = text.replace(&m, " ");
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_of_the_bot_are_taken_out_of_the_question() {
        assert_eq!(
            without_mentions_of("<@42> who owns  <@!42> checkout", Some(42)),
            "who owns checkout"
        );
        assert_eq!(
            without_mentions_of("<@7> is on call?", Some(42)),
            "<@7> is on call?"
        );
    }
}
