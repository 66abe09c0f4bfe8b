//! Discord's HTTP interactions endpoint (`POST /discord/interactions`), for deployments that
//! take interactions over HTTP rather than a gateway connection. The Ed25519 signature is
//! checked before anything is read (401 otherwise, as Discord's probes expect). A PING is
//! answered PONG; an autocomplete at once, from the snapshot. A slash command, a button or a
//! submitted form is answered in the response itself when the answer is ready within two
//! seconds (for the asker alone, as Slack's `/sb` answer is); otherwise the response is a
//! deferral and the answer edits it when ready, through serenity's REST client (tried again
//! while Discord has not recorded the deferral yet). A button that asks for a form answers
//! with the form (a modal).

use std::sync::Arc;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use serenity::all::{
    ChannelId, CreateAllowedMentions, CreateMessage, EditInteractionResponse, EditMessage, Http,
    HttpBuilder, MessageId, UserId,
};
use serenity::builder::Builder as _;

use super::commands::{self, Given, Group};
use super::render::{self, MAX_CUSTOM_ID};
use super::signature::Key;
use crate::bot::Bot;
use crate::chat::after_ack::InFlight;
use crate::chat::render::cut;
use crate::chat::{Actor, Conversation, Input, Platform, Reply};
use crate::outbox::{Destination, MessageRef, Outbox, Recipient, Sending};

/// What the endpoint needs.
pub struct DiscordSettings {
    /// Discord's base URL (`https://discord.com`), or a fake's.
    pub api_url: String,
    /// DISCORD_TOKEN.
    pub token: String,
    /// DISCORD_PUBLIC_KEY.
    pub public_key: String,
    pub application_id: u64,
    /// How long an answer may take to go back in the response itself (Discord waits 3 s);
    /// past that, the response defers and the answer edits it. Zero: always defer.
    pub inline: std::time::Duration,
}

struct Inner {
    bot: Arc<Bot>,
    http: Http,
    inline: std::time::Duration,
    key: Key,
    groups: Vec<Group>,
    in_flight: Arc<InFlight>,
}

#[derive(Clone)]
pub struct DiscordApp {
    inner: Arc<Inner>,
}

/// Discord's interaction and callback types.
const PING: u64 = 1;
const APPLICATION_COMMAND: u64 = 2;
const MESSAGE_COMPONENT: u64 = 3;
const AUTOCOMPLETE: u64 = 4;
const MODAL_SUBMIT: u64 = 5;
const EPHEMERAL: u64 = 1 << 6;

impl DiscordSettings {
    /// From the configuration, with DISCORD_TOKEN and DISCORD_PUBLIC_KEY from the environment.
    pub fn from_env(config: &crate::config::Discord) -> Result<DiscordSettings> {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .with_context(|| format!("discord.enabled is set but {k} is not"))
        };
        if config.application_id == 0 {
            anyhow::bail!("discord.enabled is set but discord.application_id is not");
        }
        Ok(DiscordSettings {
            api_url: config.api_url.clone(),
            token: var("DISCORD_TOKEN")?,
            public_key: var("DISCORD_PUBLIC_KEY")?,
            application_id: config.application_id,
            inline: std::time::Duration::from_secs(2),
        })
    }
}

impl DiscordApp {
    pub fn new(bot: Arc<Bot>, settings: &DiscordSettings) -> Result<DiscordApp> {
        let key = Key::parse(&settings.public_key).map_err(anyhow::Error::msg)?;
        let http = HttpBuilder::new(&settings.token)
            .proxy(settings.api_url.trim_end_matches('/'))
            .ratelimiter_disabled(settings.api_url.trim_end_matches('/') != "https://discord.com")
            .application_id(settings.application_id.into())
            .build();
        Ok(DiscordApp {
            inner: Arc::new(Inner {
                bot,
                http,
                inline: settings.inline,
                key,
                groups: commands::groups(),
                in_flight: Default::default(),
            }),
        })
    }

    pub fn routes(&self) -> Router {
        Router::new()
            .route("/discord/interactions", post(receive))
            .with_state(self.clone())
    }

    /// Registers `/sb` as the grammar makes it, in these guilds (at once) or globally: a bulk
    /// overwrite, so registering again changes nothing and a changed grammar replaces the
    /// command. Returns how many registrations were made.
    pub async fn register(&self, guilds: &[u64]) -> Result<usize> {
        let command = commands::command(&self.inner.groups);
        if guilds.is_empty() {
            serenity::all::Command::set_global_commands(&self.inner.http, vec![command])
                .await
                .context("registering /sb globally")?;
            return Ok(1);
        }
        for g in guilds {
            let Some(id) = std::num::NonZeroU64::new(*g) else {
                anyhow::bail!("discord.guilds holds 0, which is not a guild id");
            };
            serenity::all::GuildId::from(id)
                .set_commands(&self.inner.http, vec![command.clone()])
                .await
                .with_context(|| format!("registering /sb in guild {g}"))?;
        }
        Ok(guilds.len())
    }

    /// Waits until every answer under way is done.
    pub async fn idle(&self) {
        self.inner.in_flight.idle().await;
    }

    /// Answers one verified interaction: what goes back in the HTTP response, and the work to
    /// do after it.
    async fn take(&self, i: Value) -> Result<Value> {
        let kind = i["type"].as_u64().unwrap_or(0);
        if kind == PING {
            return Ok(json!({"type": 1}));
        }
        let user = i["member"]["user"]["id"]
            .as_str()
            .or(i["user"]["id"].as_str())
            .unwrap_or_default()
            .to_string();
        let channel = i["channel_id"]
            .as_str()
            .or(i["channel"]["id"].as_str())
            .map(str::to_string);
        let token = i["token"].as_str().unwrap_or_default().to_string();
        let data = &i["data"];
        let input = match kind {
            AUTOCOMPLETE => {
                let (option, partial) = focused(&data["options"]).unwrap_or_default();
                let reply = self
                    .ask(
                        &user,
                        channel.as_deref(),
                        Input::Autocomplete { option, partial },
                    )
                    .await;
                // A value Discord would cut is left out rather than offered broken.
                let choices: Vec<Value> = reply
                    .choices
                    .iter()
                    .filter(|c| c.value.chars().count() <= 100)
                    .take(25)
                    .map(|c| json!({"name": cut(&c.label, 100), "value": c.value}))
                    .collect();
                return Ok(json!({"type": 8, "data": {"choices": choices}}));
            }
            APPLICATION_COMMAND => match self.question(data) {
                Ok(text) => Input::Text(text),
                Err(why) => {
                    return Ok(json!({"type": 4, "data": {"content": why, "flags": EPHEMERAL}}));
                }
            },
            MESSAGE_COMPONENT => {
                let action = data["custom_id"].as_str().unwrap_or_default().to_string();
                // A button that asks for a reason first answers with its form.
                if let Some(form) = self.inner.bot.form(&action).await {
                    return Ok(modal(&form, &action));
                }
                Input::Action(action)
            }
            MODAL_SUBMIT => Input::Form {
                action: data["custom_id"].as_str().unwrap_or_default().to_string(),
                values: submitted(&data["components"]),
            },
            other => {
                tracing::warn!(
                    "a Discord interaction of type {other} is not one Switchboard takes"
                );
                return Ok(json!({"type": 4, "data": {
                    "content": "Switchboard does not take this kind of interaction.",
                    "flags": EPHEMERAL}}));
            }
        };
        // The answer goes back in the response when it is ready in time; else the response
        // defers, and the answer edits it.
        let (ready, inline) = tokio::sync::oneshot::channel::<Reply>();
        let app = self.clone();
        self.inner
            .in_flight
            .spawn("Discord", "interaction", async move {
                let reply = app.ask(&user, channel.as_deref(), input).await;
                match ready.send(reply) {
                    Ok(()) => Ok(()),
                    Err(reply) => app.edit_original(&token, &reply).await,
                }
            });
        let ready_in_time = match self.inner.inline {
            d if d.is_zero() => None,
            d => tokio::time::timeout(d, inline)
                .await
                .ok()
                .and_then(Result::ok),
        };
        Ok(match ready_in_time {
            Some(reply) => {
                let m = render::message(&reply, false);
                json!({"type": 4, "data": {
                    "content": m.content, "embeds": [m.embed], "components": m.components,
                    "flags": EPHEMERAL, "allowed_mentions": {"parse": []},
                }})
            }
            None => json!({"type": 5, "data": {"flags": EPHEMERAL}}),
        })
    }

    /// The question a `/sb` invocation stands for.
    fn question(&self, data: &Value) -> std::result::Result<String, String> {
        let unknown = || {
            "That command is not one of this Switchboard's (it may have been updated); \
             type `/sb` again to see them."
                .to_string()
        };
        if data["name"] != commands::COMMAND {
            return Err(unknown());
        }
        let group = &data["options"][0];
        let sub = &group["options"][0];
        let found = self
            .inner
            .groups
            .iter()
            .find(|g| group["name"] == g.name)
            .and_then(|g| g.subs.iter().find(|s| sub["name"] == s.name.as_str()))
            .ok_or_else(unknown)?;
        let mut given = Vec::new();
        for o in sub["options"].as_array().into_iter().flatten() {
            let name = o["name"].as_str().unwrap_or_default().to_string();
            let value = match &o["value"] {
                Value::String(s) => Given::Text(s.clone()),
                Value::Number(n) => Given::Integer(n.as_i64().unwrap_or_default()),
                Value::Bool(b) => Given::Flag(*b),
                _ => continue,
            };
            given.push((name, value));
        }
        Ok(commands::text_of(found, &given))
    }

    /// Asks the bot as this Discord user; a failure becomes the reply that says so.
    async fn ask(&self, user: &str, channel: Option<&str>, input: Input) -> Reply {
        let conversation = Conversation {
            channel: channel.map(str::to_string),
            thread: None,
        };
        self.inner
            .bot
            .answer_as(
                Actor::on(Platform::Discord, user),
                conversation,
                input,
                MAX_CUSTOM_ID,
            )
            .await
    }

    /// Replaces the deferred response with the answer; tried again for a few seconds while
    /// Discord answers 404 (it has not recorded the deferral yet).
    async fn edit_original(&self, token: &str, reply: &Reply) -> Result<()> {
        let mut wait = std::time::Duration::from_millis(250);
        loop {
            let m = render::message(reply, false);
            let edited = EditInteractionResponse::new()
                .content(m.content)
                .embed(m.embed)
                .components(m.components)
                .allowed_mentions(CreateAllowedMentions::new())
                .execute(&self.inner.http, token)
                .await;
            match edited {
                Ok(_) => return Ok(()),
                Err(e) if wait < std::time::Duration::from_secs(4) && not_found(&e) => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => return Err(e).context("editing the interaction's response"),
            }
        }
    }
}

/// Whether Discord answered 404 (an unknown webhook or message).
fn not_found(e: &serenity::Error) -> bool {
    matches!(e, serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r))
        if r.status_code.as_u16() == 404)
}

/// The option being typed into: its name and what is typed so far.
fn focused(options: &Value) -> Option<(String, String)> {
    for o in options.as_array()? {
        if o["focused"] == true {
            return Some((
                o["name"].as_str()?.to_string(),
                o["value"].as_str().unwrap_or_default().to_string(),
            ));
        }
        if let Some(found) = focused(&o["options"]) {
            return Some(found);
        }
    }
    None
}

/// A submitted modal's values: each text input's custom id and value.
fn submitted(rows: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for row in rows.as_array().into_iter().flatten() {
        let inputs = row["components"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![row["component"].clone()]);
        for c in inputs {
            if let (Some(id), Some(v)) = (c["custom_id"].as_str(), c["value"].as_str()) {
                out.push((id.to_string(), v.to_string()));
            }
        }
    }
    out
}

/// A form as Discord's modal (callback type 9): one paragraph input per field; its custom id
/// is the action, which comes back with the submission.
fn modal(form: &crate::chat::Form, action: &str) -> Value {
    let rows: Vec<Value> = form
        .fields
        .iter()
        .map(|f| {
            json!({"type": 1, "components": [{
                "type": 4, "custom_id": f.name, "label": cut(&f.label, 45), "style": 2,
                "placeholder": cut(&f.hint, 100), "max_length": f.max_length, "required": true,
            }]})
        })
        .collect();
    json!({"type": 9, "data": {
        "custom_id": action, "title": cut(&form.title, 45), "components": rows,
    }})
}

fn unauthorized(why: impl std::fmt::Display) -> Response {
    tracing::warn!("a Discord interaction was refused: {why}");
    (
        StatusCode::UNAUTHORIZED,
        format!("invalid request signature: {why}"),
    )
        .into_response()
}

async fn receive(State(app): State<DiscordApp>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = app.inner.key.verify(
        header("x-signature-ed25519"),
        header("x-signature-timestamp"),
        &body,
        now,
    ) {
        return unauthorized(e);
    }
    let interaction: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("a Discord interaction is not JSON: {e}");
            return (StatusCode::BAD_REQUEST, format!("not an interaction: {e}")).into_response();
        }
    };
    match app.take(interaction).await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(e) => {
            tracing::error!("taking a Discord interaction failed: {e:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Switchboard could not take it",
            )
                .into_response()
        }
    }
}

/// Discord as the outbound port: a channel message (`POST /channels/{id}/messages`), a DM
/// (the DM channel opened first), an edit of a message posted earlier; regular bot messages,
/// so an approval card can be edited long after the 15 minutes an interaction's response lives.
impl Outbox for DiscordApp {
    fn post<'a>(&'a self, to: &'a Destination, reply: &'a Reply) -> Sending<'a, MessageRef> {
        Box::pin(async move {
            let channel = match to {
                Destination::Channel(c) => channel_id(c)?,
                // A thread is a channel of its own on Discord.
                Destination::Thread { thread, .. } => channel_id(thread)?,
                Destination::User(u) => {
                    let user = UserId::from(nonzero(u, "user")?);
                    user.create_dm_channel(&self.inner.http)
                        .await
                        .context("opening a DM channel")?
                        .id
                }
            };
            let mut reply = reply.clone();
            self.inner.bot.fit_buttons(&mut reply, MAX_CUSTOM_ID).await;
            let m = render::message(&reply, false);
            let sent = channel
                .send_message(
                    &self.inner.http,
                    CreateMessage::new()
                        .content(m.content)
                        .embed(m.embed)
                        .components(m.components)
                        .allowed_mentions(CreateAllowedMentions::new()),
                )
                .await
                .context("posting to Discord")?;
            Ok(MessageRef {
                platform: Platform::Discord,
                channel: sent.channel_id.to_string(),
                id: sent.id.to_string(),
            })
        })
    }

    fn update<'a>(&'a self, at: &'a MessageRef, reply: &'a Reply) -> Sending<'a, ()> {
        Box::pin(async move {
            let mut reply = reply.clone();
            self.inner.bot.fit_buttons(&mut reply, MAX_CUSTOM_ID).await;
            let m = render::message(&reply, false);
            let id = MessageId::from(nonzero(&at.id, "message")?);
            channel_id(&at.channel)?
                .edit_message(
                    &self.inner.http,
                    id,
                    EditMessage::new()
                        .content(m.content)
                        .embed(m.embed)
                        .components(m.components)
                        .allowed_mentions(CreateAllowedMentions::new()),
                )
                .await
                .context("editing a Discord message")?;
            Ok(())
        })
    }

    /// By the `discord.com/user-id` annotation (Discord gives bots no e-mails).
    fn reach<'a>(&'a self, who: &'a Recipient) -> Sending<'a, Option<String>> {
        Box::pin(async move { Ok(who.annotation("discord.com/user-id").map(str::to_string)) })
    }
}

fn channel_id(s: &str) -> Result<ChannelId> {
    Ok(ChannelId::from(nonzero(s, "channel")?))
}

/// A Discord id (a snowflake: never 0).
fn nonzero(s: &str, what: &str) -> Result<std::num::NonZeroU64> {
    s.trim()
        .parse()
        .with_context(|| format!("`{s}` is not a Discord {what} id"))
}
