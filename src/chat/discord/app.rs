//! Switchboard on Discord, whichever way Discord reaches it (the gateway or the HTTP
//! interactions endpoint): an interaction is answered the same way from both, a mention or a
//! direct message (gateway only) through the same grammar, and cards are posted and edited
//! as regular bot messages (the outbound port).
//!
//! An interaction is acknowledged within Discord's 3 s: with the answer itself when it is
//! ready within `inline` (for the asker alone, as Slack's `/sb` answer is), else with a
//! deferral that the answer then edits. A button that asks for a reason answers with its form
//! (a modal). Interactions and messages taken from the gateway are claimed in the store first,
//! so one delivered again (a resumed session, a second connection) is answered once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::commands::{self, Given, Group};
use super::render::{self, MAX_CUSTOM_ID};
use super::rest::{Refused, Rest};
use super::signature::Key;
use crate::bot::Bot;
use crate::chat::after_ack::InFlight;
use crate::chat::render::cut;
use crate::chat::{Actor, Conversation, Input, Platform, Reply};
use crate::outbox::MessageRef;

/// What Switchboard needs to be on Discord.
pub struct DiscordSettings {
    /// Discord's base URL (`https://discord.com`), or a fake's.
    pub api_url: String,
    /// DISCORD_TOKEN.
    pub token: String,
    /// DISCORD_PUBLIC_KEY: needed to take interactions over HTTP only.
    pub public_key: Option<String>,
    pub application_id: u64,
    /// How long an answer may take to go back in the acknowledgement itself (Discord waits
    /// 3 s); past that, the acknowledgement defers and the answer edits it. Zero: always defer.
    pub inline: Duration,
    /// Guild role id → catalog Group its holders belong to (`discord.role_groups`).
    pub role_groups: BTreeMap<String, String>,
}

/// Discord's interaction types.
const PING: u64 = 1;
const APPLICATION_COMMAND: u64 = 2;
const MESSAGE_COMPONENT: u64 = 3;
const AUTOCOMPLETE: u64 = 4;
const MODAL_SUBMIT: u64 = 5;
const EPHEMERAL: u64 = 1 << 6;

/// How long an answer may take to go back in a gateway acknowledgement: the acknowledgement
/// is a REST call of its own, and Discord gives 3 s from the event.
const GATEWAY_INLINE: Duration = Duration::from_millis(1500);

impl DiscordSettings {
    /// From the configuration, with DISCORD_TOKEN (and, for the HTTP endpoint,
    /// DISCORD_PUBLIC_KEY) from the environment.
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
        let public_key = match config.mode {
            crate::config::DiscordMode::Http => Some(var("DISCORD_PUBLIC_KEY")?),
            crate::config::DiscordMode::Gateway => None,
        };
        Ok(DiscordSettings {
            api_url: config.api_url.clone(),
            token: var("DISCORD_TOKEN")?,
            public_key,
            application_id: config.application_id,
            inline: Duration::from_secs(2),
            role_groups: config.role_groups.clone(),
        })
    }
}

pub(super) struct Inner {
    pub(super) bot: Arc<Bot>,
    pub(super) rest: Rest,
    application_id: u64,
    inline: Duration,
    pub(super) key: Option<Key>,
    groups: Vec<Group>,
    in_flight: Arc<InFlight>,
    role_groups: BTreeMap<String, String>,
    /// The bot's own user id, from the gateway's READY: how a mention of it is recognised.
    pub(super) me: OnceLock<u64>,
    /// Whether a channel is a thread, as Discord said when first asked.
    threads: Mutex<HashMap<String, bool>>,
    /// Events the gateway handed over (interactions and messages), read or not.
    pub(super) taken: std::sync::atomic::AtomicU64,
}

#[derive(Clone)]
pub struct DiscordApp {
    pub(super) inner: Arc<Inner>,
}

/// Who did something on Discord, and where.
pub(super) struct Asking {
    pub user: String,
    pub roles: Vec<String>,
    pub channel: Option<String>,
    /// The conversation follow-ups belong to: a thread, or a direct message; in a reply
    /// chain, the message replied to.
    pub follow_up: Option<String>,
    /// In a reply chain, this message: the next reply looks back to it.
    pub continued_as: Option<String>,
}

impl Asking {
    /// Who sent an interaction, and where.
    fn of(i: &Value) -> Asking {
        let channel = i["channel_id"]
            .as_str()
            .or(i["channel"]["id"].as_str())
            .map(str::to_string);
        Asking {
            user: i["member"]["user"]["id"]
                .as_str()
                .or(i["user"]["id"].as_str())
                .unwrap_or_default()
                .to_string(),
            roles: i["member"]["roles"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect(),
            // In a thread (Discord sends the channel with its type) or a DM: follow-ups there.
            follow_up: (i["guild_id"].is_null()
                || matches!(i["channel"]["type"].as_u64(), Some(10..=12)))
            .then(|| channel.clone())
            .flatten(),
            channel,
            continued_as: None,
        }
    }
}

/// Reads an interaction's body as `take` reads it, without answering it (the fuzz target:
/// it must never panic, whatever arrives).
pub fn read_interaction(body: &[u8]) {
    static GROUPS: std::sync::OnceLock<Vec<Group>> = std::sync::OnceLock::new();
    let Ok(i) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let _ = Asking::of(&i);
    let data = &i["data"];
    let _ = question_of(GROUPS.get_or_init(commands::groups), data);
    let _ = focused(&data["options"]);
    let _ = submitted(&data["components"]);
}

/// The question a `/sb` invocation stands for, in the command's `groups`.
fn question_of(groups: &[Group], data: &Value) -> std::result::Result<String, String> {
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
    let found = groups
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

impl DiscordApp {
    pub fn new(bot: Arc<Bot>, settings: &DiscordSettings) -> Result<DiscordApp> {
        let key = match &settings.public_key {
            Some(k) => Some(Key::parse(k).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let snap = bot.snapshot();
        for (role, group) in &settings.role_groups {
            if !snap
                .get(group)
                .is_some_and(|g| snap.entity(g).kind_is("group"))
            {
                tracing::warn!(
                    role,
                    group,
                    "discord.role_groups names a group the catalog does not have (yet); \
                     the role gives no membership until it does"
                );
            }
        }
        Ok(DiscordApp {
            inner: Arc::new(Inner {
                bot,
                rest: Rest::new(&settings.api_url, &settings.token)?,
                application_id: settings.application_id,
                inline: settings.inline,
                key,
                groups: commands::groups(),
                in_flight: Default::default(),
                role_groups: settings.role_groups.clone(),
                me: OnceLock::new(),
                threads: Default::default(),
                taken: Default::default(),
            }),
        })
    }

    /// Registers `/sb` as the grammar makes it, in these guilds (at once) or globally: a bulk
    /// overwrite, so registering again changes nothing and a changed grammar replaces the
    /// command. Returns how many registrations were made.
    pub async fn register(&self, guilds: &[u64]) -> Result<usize> {
        let command = serde_json::to_value(commands::command(&self.inner.groups))?;
        let app = self.inner.application_id;
        if guilds.is_empty() {
            self.inner
                .rest
                .put(&format!("/applications/{app}/commands"), &json!([command]))
                .await
                .context("registering /sb globally")?;
            return Ok(1);
        }
        for g in guilds {
            if *g == 0 {
                anyhow::bail!("discord.guilds holds 0, which is not a guild id");
            }
            self.inner
                .rest
                .put(
                    &format!("/applications/{app}/guilds/{g}/commands"),
                    &json!([command]),
                )
                .await
                .with_context(|| format!("registering /sb in guild {g}"))?;
        }
        Ok(guilds.len())
    }

    /// Waits until every answer under way is done.
    pub async fn idle(&self) {
        self.inner.in_flight.idle().await;
    }

    /// Runs `work` counted as under way (`idle` waits for it).
    pub(super) fn spawn(
        &self,
        what: &'static str,
        work: impl std::future::Future<Output = Result<()>> + Send + 'static,
    ) {
        self.inner.in_flight.spawn("Discord", what, work);
    }

    /// How many events the gateway handed over so far (interactions and messages).
    pub fn gateway_events(&self) -> u64 {
        self.inner.taken.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Claims an event taken from the gateway; false when it was taken already. Discord does
    /// not deliver again what this session acknowledged, so nothing takes a claim over: one
    /// whose answer failed is given back (`release`), to be answered if it comes again.
    pub(super) async fn claim(&self, id: &str) -> Result<bool> {
        let Some(store) = self.inner.bot.store() else {
            return Ok(true);
        };
        let now = self.inner.bot.now().timestamp();
        let claimed = store.claim_event("discord", id, now, None, now).await?;
        if !claimed {
            tracing::info!(
                event = id,
                "Discord delivered an event already taken; answered once"
            );
        }
        Ok(claimed)
    }

    /// Records how a claimed event's answer went: out, or failed (the claim given back).
    pub(super) async fn answered(&self, id: &str, outcome: &Result<()>) {
        let Some(store) = self.inner.bot.store() else {
            return;
        };
        let now = self.inner.bot.now().timestamp();
        let recorded = match outcome {
            Ok(()) => store.mark_answered("discord", id, now).await,
            Err(_) => store.release_event("discord", id).await,
        };
        if let Err(e) = recorded {
            tracing::warn!(event = id, "recording a Discord answer: {e:#}");
        }
    }

    /// Forgets the ids of events claimed more than a week ago, every hour, until the process
    /// stops (Discord delivers nothing again after that long).
    pub async fn forget_old_events(&self) {
        let Some(store) = self.inner.bot.store() else {
            return;
        };
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let week_ago = self.inner.bot.now().timestamp() - 7 * 86_400;
            if let Err(e) = store.forget_events("discord", week_ago).await {
                tracing::warn!("forgetting old Discord event ids: {e:#}");
            }
        }
    }

    /// The acknowledgement of one interaction (what goes back to Discord within 3 s), with
    /// the work after it spawned. Over the gateway the answer has less time to be ready for
    /// it (`GATEWAY_INLINE`): the acknowledgement is one more call.
    pub(super) async fn take(&self, i: Value, gateway: bool) -> Value {
        let kind = i["type"].as_u64().unwrap_or(0);
        if kind == PING {
            return json!({"type": 1});
        }
        let from = Asking::of(&i);
        let token = i["token"].as_str().unwrap_or_default().to_string();
        let data = &i["data"];
        let input = match kind {
            AUTOCOMPLETE => {
                let (option, partial) = focused(&data["options"]).unwrap_or_default();
                let reply = self
                    .ask(&from, Input::Autocomplete { option, partial })
                    .await;
                // A value Discord would cut is left out rather than offered broken.
                let choices: Vec<Value> = reply
                    .choices
                    .iter()
                    .filter(|c| c.value.chars().count() <= 100)
                    .take(25)
                    .map(|c| json!({"name": cut(&c.label, 100), "value": c.value}))
                    .collect();
                return json!({"type": 8, "data": {"choices": choices}});
            }
            APPLICATION_COMMAND => match self.question(data) {
                Ok(text) => Input::Text(text),
                Err(why) => {
                    tracing::warn!("a Discord command was not one of /sb's: {}", data["name"]);
                    return json!({"type": 4, "data": {"content": why, "flags": EPHEMERAL}});
                }
            },
            MESSAGE_COMPONENT => {
                let action = data["custom_id"].as_str().unwrap_or_default().to_string();
                // A button that asks for a reason first answers with its form.
                if let Some(form) = self.inner.bot.form(&action).await {
                    return modal(&form, &action);
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
                return json!({"type": 4, "data": {
                    "content": "Switchboard does not take this kind of interaction.",
                    "flags": EPHEMERAL}});
            }
        };
        // The answer goes back in the acknowledgement when it is ready in time; else the
        // acknowledgement defers, and the answer edits it.
        let (ready, answer) = tokio::sync::oneshot::channel::<Reply>();
        let app = self.clone();
        let later = token.clone();
        self.spawn("interaction", async move {
            let reply = app.ask(&from, input).await;
            match ready.send(reply) {
                Ok(()) => Ok(()),
                Err(reply) => app.edit_original(&token, &reply).await,
            }
        });
        let inline = match gateway {
            true => self.inner.inline.min(GATEWAY_INLINE),
            false => self.inner.inline,
        };
        let ready_in_time = match inline {
            d if d.is_zero() => None,
            d => tokio::time::timeout(d, answer)
                .await
                .ok()
                .and_then(Result::ok),
        };
        match ready_in_time {
            // Pictures cannot ride in the acknowledgement: defer, and edit them in.
            Some(reply) if !reply.attachments.is_empty() => {
                let app = self.clone();
                self.spawn("interaction pictures", async move {
                    app.edit_original(&later, &reply).await
                });
                json!({"type": 5, "data": {"flags": EPHEMERAL}})
            }
            Some(reply) => {
                let mut data = render::message(&reply, false).body();
                data["flags"] = json!(EPHEMERAL);
                json!({"type": 4, "data": data})
            }
            None => json!({"type": 5, "data": {"flags": EPHEMERAL}}),
        }
    }

    /// Acknowledges an interaction taken from the gateway (by REST, as Discord asks).
    pub(super) async fn acknowledge(&self, id: &str, token: &str, answer: &Value) -> Result<()> {
        self.inner
            .rest
            .post(&format!("/interactions/{id}/{token}/callback"), answer)
            .await
            .context("acknowledging an interaction")?;
        Ok(())
    }

    /// The question a `/sb` invocation stands for.
    fn question(&self, data: &Value) -> std::result::Result<String, String> {
        question_of(&self.inner.groups, data)
    }

    /// Asks the bot as this Discord user; a failure becomes the reply that says so.
    pub(super) async fn ask(&self, from: &Asking, input: Input) -> Reply {
        let conversation = Conversation {
            channel: from.channel.clone(),
            thread: None,
            follow_up: from.follow_up.clone(),
            continued_as: from.continued_as.clone(),
        };
        let mut actor = Actor::on(Platform::Discord, &from.user);
        actor.groups = from
            .roles
            .iter()
            .filter_map(|r| self.inner.role_groups.get(r).cloned())
            .collect();
        self.inner
            .bot
            .answer_as(actor, conversation, input, MAX_CUSTOM_ID)
            .await
    }

    /// Replaces the deferred acknowledgement with the answer; tried again for a few seconds
    /// while Discord answers 404 (it has not recorded the deferral yet).
    async fn edit_original(&self, token: &str, reply: &Reply) -> Result<()> {
        let path = format!(
            "/webhooks/{}/{token}/messages/@original",
            self.inner.application_id
        );
        let body = render::message(reply, false).body();
        let mut wait = Duration::from_millis(250);
        loop {
            let edited = self
                .inner
                .rest
                .call_with_files(reqwest::Method::PATCH, &path, &body, &reply.attachments)
                .await;
            match edited {
                Ok(_) => return Ok(()),
                Err(e) if wait < Duration::from_secs(4) && Refused::not_found(&e) => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => return Err(e).context("editing the interaction's response"),
            }
        }
    }

    /// Whether `channel` is a thread (asked of Discord once per channel).
    pub(super) async fn is_thread(&self, channel: &str) -> Result<bool> {
        if let Some(known) = self.inner.threads.lock().expect("threads").get(channel) {
            return Ok(*known);
        }
        let c = self.inner.rest.get(&format!("/channels/{channel}")).await?;
        // Announcement, public and private threads.
        let thread = matches!(c["type"].as_u64(), Some(10..=12));
        self.inner
            .threads
            .lock()
            .expect("threads")
            .insert(channel.to_string(), thread);
        Ok(thread)
    }

    /// Starts a thread on `message` of `channel`, named after what was asked; its id.
    pub(super) async fn start_thread(
        &self,
        channel: &str,
        message: &str,
        name: &str,
    ) -> Result<String> {
        let name = if name.trim().is_empty() {
            "Switchboard"
        } else {
            name
        };
        let t = self
            .inner
            .rest
            .post(
                &format!("/channels/{channel}/messages/{message}/threads"),
                &json!({"name": cut(name, 100), "auto_archive_duration": 1440}),
            )
            .await?;
        let id = t["id"]
            .as_str()
            .context("a thread without an id")?
            .to_string();
        self.inner
            .threads
            .lock()
            .expect("threads")
            .insert(id.clone(), true);
        Ok(id)
    }

    /// Posts `body` in `channel` with this nonce: Discord answers a repeat of the same post
    /// with the message the first one made.
    pub(super) async fn post_body(
        &self,
        channel: &str,
        mut body: Value,
        nonce: &str,
        pictures: &[crate::conversation::Attachment],
    ) -> Result<MessageRef> {
        body["nonce"] = json!(nonce);
        body["enforce_nonce"] = json!(true);
        let sent = self
            .inner
            .rest
            .call_with_files(
                reqwest::Method::POST,
                &format!("/channels/{channel}/messages"),
                &body,
                pictures,
            )
            .await
            .context("posting to Discord")?;
        Ok(MessageRef {
            platform: Platform::Discord,
            channel: sent["channel_id"].as_str().unwrap_or(channel).to_string(),
            id: sent["id"]
                .as_str()
                .context("Discord answered a post without the message's id")?
                .to_string(),
        })
    }
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

/// A Discord id (a snowflake: digits, never 0), checked before it goes into a path.
pub(super) fn snowflake<'a>(s: &'a str, what: &str) -> Result<&'a str> {
    let s = s.trim();
    match s.parse::<u64>() {
        Ok(n) if n > 0 => Ok(s),
        _ => anyhow::bail!("`{s}` is not a Discord {what} id"),
    }
}
