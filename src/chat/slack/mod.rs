//! The Slack adapter, over the Events API (HTTP): the `/sb` slash command, @mentions in
//! channels and threads, direct messages, and button clicks.
//!
//! Every request is checked against the signing secret before anything is read. Events are
//! acknowledged at once and answered after the ack; an event id is claimed in the store first,
//! with the event, so a retried delivery (`X-Slack-Retry-Num`) is answered once, across
//! restarts, and an answer cut off by a crash is delivered at the next start (`recover`). Slack payloads
//! become `ChatEvent`s for `Bot::handle`, and `Reply`s are rendered as Block Kit and posted with
//! slack-morphism's Web API client, whose base URL is configurable.

pub mod blocks;
pub mod signature;

use crate::conversation::Attachment;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use slack_morphism::prelude::*;

use crate::bot::Bot;
use crate::chat::{ActionId, Actor, Audience, Conversation, Input, Platform, Reply};
use crate::failpoints::Failpoints;
use crate::identity::{Directory, Profile};
use crate::outbox::{Destination, MessageRef, Once, Outbox, Recipient, Sending, Undeliverable};
use crate::store::Store;

/// What the adapter needs to reach Slack. Tokens come from the environment only.
#[derive(Clone)]
pub struct SlackSettings {
    /// Web API base URL, without a trailing slash (`https://slack.com/api`).
    pub api_url: String,
    pub bot_token: String,
    /// Checks Events API requests; unused in Socket Mode.
    pub signing_secret: String,
    /// Opens Socket Mode connections; unused with the Events API.
    pub app_token: String,
    /// Least time between two messages to one channel (Slack allows about one a second).
    pub channel_interval: std::time::Duration,
    /// Armed in crash tests only (`before_post`, `after_post`).
    pub failpoints: Failpoints,
    /// How long an event being answered is left to the process that took it before another
    /// (or the next start) may answer it.
    pub answer_lease: std::time::Duration,
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field("api_url", &self.api_url)
            .field("bot_token", &"***")
            .field("signing_secret", &"***")
            .field("app_token", &"***")
            .field("channel_interval", &self.channel_interval)
            .finish()
    }
}

impl SlackSettings {
    /// Reads `SLACK_BOT_TOKEN`, and `SLACK_APP_TOKEN` (Socket Mode) or `SLACK_SIGNING_SECRET`
    /// (Events API), naming whichever is missing.
    pub fn from_env(
        api_url: &str,
        socket_mode: bool,
        channel_interval_ms: u64,
        answer_lease_secs: u64,
    ) -> Result<SlackSettings> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .with_context(|| format!("slack.enabled is true but {name} is not set"))
        };
        let (signing_secret, app_token) = if socket_mode {
            (String::new(), var("SLACK_APP_TOKEN")?)
        } else {
            (var("SLACK_SIGNING_SECRET")?, String::new())
        };
        Ok(SlackSettings {
            api_url: api_url.trim_end_matches('/').to_string(),
            bot_token: var("SLACK_BOT_TOKEN")?,
            signing_secret,
            app_token,
            channel_interval: std::time::Duration::from_millis(channel_interval_ms),
            failpoints: Failpoints::from_env()?,
            answer_lease: std::time::Duration::from_secs(answer_lease_secs),
        })
    }
}

/// The Slack side of the bot; cheap to clone.
#[derive(Clone)]
pub struct SlackApp {
    inner: Arc<Inner>,
}

struct Inner {
    bot: Arc<Bot>,
    store: Store,
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    signing_secret: Vec<u8>,
    /// Spaces out posts to each channel.
    pacer: Pacer,
    failpoints: Failpoints,
    /// Answers Slack refused for good since the start (the bot is not in the channel, …).
    undelivered: std::sync::atomic::AtomicU64,
    answer_lease: std::time::Duration,
    /// Answers under way after their acknowledgement, and a signal when none is left.
    in_flight: Arc<crate::chat::after_ack::InFlight>,
}

/// Spaces out messages to each channel by an interval: a burst waits its turn, none is dropped.
struct Pacer {
    interval: std::time::Duration,
    /// When each channel may next be posted to.
    next: std::sync::Mutex<std::collections::HashMap<String, tokio::time::Instant>>,
}

impl Pacer {
    fn new(interval: std::time::Duration) -> Pacer {
        Pacer {
            interval,
            next: Default::default(),
        }
    }

    /// Waits for the channel's next slot and books the one after it.
    async fn wait(&self, channel: &str) {
        let slot = {
            let mut next = self.next.lock().expect("pacing lock");
            let now = tokio::time::Instant::now();
            let slot = next.get(channel).copied().unwrap_or(now).max(now);
            next.insert(channel.to_string(), slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The metadata type every answer to an event carries, with the event id: the key a retry
/// after a crash looks for before posting again.
const ANSWER_KEY: &str = "switchboard_answer";

/// The metadata type every post made once (a digest) carries, with its key.
const POST_KEY: &str = "switchboard_post";

/// Content marked with metadata `kind` whose `field` is `value`: what a look before posting
/// again finds.
fn marked(
    content: SlackMessageContent,
    kind: &str,
    field: &str,
    value: &str,
) -> SlackMessageContent {
    content.with_metadata(SlackMessageMetadata {
        event_type: kind.to_string(),
        event_payload: Some(std::collections::HashMap::from([(
            field.to_string(),
            value.to_string(),
        )])),
    })
}

/// An answer's content, keyed with the event it answers.
fn keyed(content: SlackMessageContent, event_id: &str) -> SlackMessageContent {
    marked(content, ANSWER_KEY, "event_id", event_id)
}

/// A page of `conversations.replies` or `conversations.history`, read for answer keys only
/// (other apps' metadata may hold any JSON).
#[derive(serde::Deserialize)]
struct Messages {
    #[serde(default)]
    messages: Vec<KeyedMessage>,
    #[serde(default)]
    response_metadata: Option<NextCursor>,
}

#[derive(serde::Deserialize)]
struct KeyedMessage {
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct NextCursor {
    #[serde(default)]
    next_cursor: Option<String>,
}

/// How many pages of a conversation are read looking for an answer already posted.
const LOOKUP_PAGES: usize = 10;

/// Slack's directory of people: `users.info` (e-mail and time zone).
struct SlackDirectory {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
}

impl Directory for SlackDirectory {
    fn lookup<'a>(&'a self, user_id: &'a str) -> Sending<'a, Profile> {
        Box::pin(async move {
            let req = SlackApiUsersInfoRequest::new(SlackUserId(user_id.to_string()));
            let session = self.client.open_session(&self.token);
            let resp = with_retry("users.info", || session.users_info(&req)).await?;
            Ok(Profile {
                name: resp.user.name.clone(),
                email: resp
                    .user
                    .profile
                    .and_then(|p| p.email)
                    .map(|e| e.to_string()),
                tz: resp.user.tz,
            })
        })
    }
}

/// How long what `users.info` said of a user is trusted before it is asked again.
const PROFILE_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The system's time, for checking request signatures (which Slack stamps with it).
fn wall_clock() -> i64 {
    chrono::Utc::now().timestamp()
}

impl SlackApp {
    pub fn new(bot: Arc<Bot>, store: Store, settings: &SlackSettings) -> Result<SlackApp> {
        // One crypto provider for the whole process (rustls panics when it must guess).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .context("loading the system's TLS roots")?
            .https_or_http()
            .enable_http1()
            .build();
        let connector =
            SlackClientHyperConnector::with_connector(https).with_slack_api_url(&settings.api_url);
        let client = Arc::new(SlackClient::new(connector));
        let token = SlackApiToken::new(settings.bot_token.clone().into());
        // Who asks: Slack's `users.info` behind the core's matching, each user asked once an hour.
        bot.add_directory(
            Platform::Slack,
            SlackDirectory {
                client: client.clone(),
                token: token.clone(),
            },
            PROFILE_TTL,
        );
        Ok(SlackApp {
            inner: Arc::new(Inner {
                bot,
                store,
                client,
                token,
                signing_secret: settings.signing_secret.as_bytes().to_vec(),
                pacer: Pacer::new(settings.channel_interval),
                failpoints: settings.failpoints.clone(),
                undelivered: Default::default(),
                answer_lease: settings.answer_lease,
                in_flight: Default::default(),
            }),
        })
    }

    /// The Events API endpoints, to be merged into the HTTP server.
    pub fn routes(&self) -> Router {
        Router::new()
            .route("/slack/events", post(events))
            .route("/slack/commands", post(commands))
            .route("/slack/interactivity", post(interactivity))
            .with_state(self.clone())
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), signature::SignatureError> {
        let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        signature::verify(
            &self.inner.signing_secret,
            h("x-slack-request-timestamp"),
            h("x-slack-signature"),
            body,
            wall_clock(),
        )
    }

    /// The bot's time, in seconds: when events were taken, leases, what is old.
    fn now(&self) -> i64 {
        self.inner.bot.clock().timestamp()
    }

    /// How many answers Slack refused for good since the start.
    pub fn undelivered(&self) -> u64 {
        self.inner
            .undelivered
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Hands what this Slack user did, where, to the bot; a failure becomes the reply that
    /// says so (to the asker alone).
    async fn handle(
        &self,
        user: &SlackUserId,
        channel: Option<&SlackChannelId>,
        thread: Option<&SlackTs>,
        input: Input,
    ) -> Reply {
        // Follow-ups belong to a direct message (`D…`) as a whole, or to a thread.
        let follow_up = match (channel, thread) {
            (Some(c), _) if c.0.starts_with('D') => Some(c.0.clone()),
            (Some(c), Some(t)) => Some(format!("{}/{}", c.0, t.0)),
            _ => None,
        };
        let conversation = Conversation {
            channel: channel.map(|c| c.0.clone()),
            thread: thread.map(|t| t.0.clone()),
            follow_up,
            continued_as: None,
        };
        self.inner
            .bot
            .answer_as(
                Actor::on(Platform::Slack, user.0.clone()),
                conversation,
                input,
                blocks::MAX_BUTTON_VALUE,
            )
            .await
    }

    /// The reply with buttons that fit Slack's (long ones carry a key).
    async fn fitted(&self, mut reply: Reply) -> Reply {
        self.inner
            .bot
            .fit_buttons(&mut reply, blocks::MAX_BUTTON_VALUE)
            .await;
        reply
    }

    /// Asks the bot as this Slack user.
    async fn ask(
        &self,
        user: &SlackUserId,
        channel: &SlackChannelId,
        thread: Option<&SlackTs>,
        text: &str,
    ) -> Reply {
        // Slack escapes these three in what people type (`who uses log4j-core &lt; 2.17.1`).
        let text = text
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        self.handle(user, Some(channel), thread, Input::Text(text))
            .await
    }

    /// Publishes the App Home of a user: their teams, what they own, what needs fixing.
    async fn publish_home(&self, user: SlackUserId) -> Result<()> {
        let reply = self.handle(&user, None, None, Input::OpenHome).await;
        let view = SlackView::Home(SlackHomeView::new(blocks::render(&reply, false)));
        let req = SlackApiViewsPublishRequest::new(user, view);
        let session = self.inner.client.open_session(&self.inner.token);
        with_retry("views.publish", || session.views_publish(&req)).await?;
        Ok(())
    }

    /// Posts an answer, then its pictures beside it.
    async fn post(
        &self,
        channel: SlackChannelId,
        thread: Option<SlackTs>,
        content: SlackMessageContent,
        pictures: &[Attachment],
    ) -> Result<()> {
        self.inner.failpoints.hit("before_post")?;
        self.post_message(channel.clone(), thread.clone(), content)
            .await?;
        self.inner.failpoints.hit("after_post")?;
        self.upload(&channel, thread.as_ref(), pictures).await;
        Ok(())
    }

    /// Shares pictures in a conversation (a thread, if given) through Slack's upload flow:
    /// `files.getUploadURLExternal`, the bytes POSTed to the URL it gives, then
    /// `files.completeUploadExternal`. A picture that cannot be shared is logged; the answer
    /// it goes with stands.
    async fn upload(
        &self,
        channel: &SlackChannelId,
        thread: Option<&SlackTs>,
        pictures: &[Attachment],
    ) {
        for a in pictures {
            if let Err(e) = self.upload_one(channel, thread, a).await {
                tracing::warn!(channel = %channel, file = %a.file_name, "cannot share a picture: {e:#}");
            }
        }
    }

    async fn upload_one(
        &self,
        channel: &SlackChannelId,
        thread: Option<&SlackTs>,
        a: &Attachment,
    ) -> Result<()> {
        let session = self.inner.client.open_session(&self.inner.token);
        let req = SlackApiFilesGetUploadUrlExternalRequest::new(a.file_name.clone(), a.png.len())
            .with_alt_txt(a.alt.clone());
        let place = with_retry("files.getUploadURLExternal", || {
            session.get_upload_url_external(&req)
        })
        .await?;
        let bytes = SlackApiFilesUploadViaUrlRequest::new(
            place.upload_url,
            a.png.to_vec(),
            "image/png".into(),
        );
        with_retry("the upload URL", || session.files_upload_via_url(&bytes)).await?;
        let done = SlackApiFilesCompleteUploadExternalRequest::new(vec![
            SlackApiFilesComplete::new(place.file_id).with_title(a.alt.clone()),
        ])
        .with_channel_id(channel.clone())
        .opt_thread_ts(thread.cloned());
        with_retry("files.completeUploadExternal", || {
            session.files_complete_upload_external(&done)
        })
        .await
        .map_err(undeliverable)?;
        Ok(())
    }

    /// Posts a regular message (in a thread, if given), paced per channel, and returns where
    /// it went.
    async fn post_message(
        &self,
        channel: SlackChannelId,
        thread: Option<SlackTs>,
        content: SlackMessageContent,
    ) -> Result<MessageRef> {
        self.inner.pacer.wait(&channel.0).await;
        let req = SlackApiChatPostMessageRequest::new(channel, content).opt_thread_ts(thread);
        let session = self.inner.client.open_session(&self.inner.token);
        let resp = with_retry("chat.postMessage", || session.chat_post_message(&req))
            .await
            .map_err(undeliverable)?;
        Ok(MessageRef {
            platform: Platform::Slack,
            channel: resp.channel.0,
            id: resp.ts.0,
        })
    }

    /// The direct-message channel with a user (`conversations.open`).
    async fn dm_channel(&self, user: &str) -> Result<SlackChannelId> {
        let req =
            SlackApiConversationsOpenRequest::new().with_users(vec![SlackUserId(user.to_string())]);
        let session = self.inner.client.open_session(&self.inner.token);
        let resp = with_retry("conversations.open", || session.conversations_open(&req))
            .await
            .map_err(undeliverable)?;
        Ok(resp.channel.id)
    }

    async fn post_ephemeral(
        &self,
        channel: SlackChannelId,
        user: SlackUserId,
        content: SlackMessageContent,
    ) -> Result<()> {
        let req = SlackApiChatPostEphemeralRequest::new(channel, user, content);
        let session = self.inner.client.open_session(&self.inner.token);
        with_retry("chat.postEphemeral", || session.chat_post_ephemeral(&req))
            .await
            .map_err(undeliverable)?;
        Ok(())
    }

    /// Takes an event callback: claims its id, then answers it after the ack. Ok(false) when
    /// the event was already answered (a retry).
    async fn accept_push(&self, cb: SlackPushEventCallback) -> Result<bool> {
        let id = cb.event_id.to_string();
        let payload = serde_json::to_string(&cb.event).ok();
        if !self
            .inner
            .store
            .claim_event(
                "slack",
                &id,
                self.now(),
                payload.as_deref(),
                self.lease_end(),
            )
            .await?
        {
            tracing::info!(event_id = %id, "Slack redelivered an event already answered");
            return Ok(false);
        }
        let app = self.clone();
        self.after_ack("event", async move {
            app.deliver(&id, cb.event, false).await.map(|_| ())
        });
        Ok(true)
    }

    /// When an event taken now stops being this process's to answer.
    fn lease_end(&self) -> i64 {
        self.now() + self.inner.answer_lease.as_secs() as i64
    }

    /// Runs `work` after the response is sent, counted as under way until it ends; a failure
    /// is logged with its cause.
    fn after_ack(
        &self,
        what: &'static str,
        work: impl std::future::Future<Output = Result<()>> + Send + 'static,
    ) {
        self.inner.in_flight.spawn("Slack", what, work);
    }

    /// Waits until no answer is under way: everything acknowledged so far was answered (or
    /// failed). Tests use it to prove that nothing more will be posted.
    pub async fn idle(&self) {
        self.inner.in_flight.idle().await;
    }

    /// Answers a claimed event and records that its answer went out. An answer that could
    /// not be posted stays unanswered in the store, for `recover` to deliver; one Slack refused
    /// for good (`Undeliverable`) is recorded as such, counted, not tried again, and the asker
    /// is told by direct message.
    /// `look_first`: this event may have been answered by a process that died before
    /// recording it; look for its answer in the conversation before posting again.
    async fn deliver(
        &self,
        id: &str,
        event: SlackEventCallbackBody,
        look_first: bool,
    ) -> Result<Delivered> {
        let asked = asked_by(&event);
        let error = match self.answer_event(id, event, look_first).await {
            Ok(()) => {
                self.inner
                    .store
                    .mark_answered("slack", id, self.now())
                    .await?;
                return Ok(Delivered::Posted);
            }
            Err(e) => e,
        };
        let Some(refused) = Undeliverable::of(&error) else {
            return Err(error);
        };
        self.inner
            .store
            .mark_undelivered("slack", id, &refused.to_string(), self.now())
            .await?;
        match asked {
            Some((user, channel, in_dm)) => self.refused(refused, &user, &channel, in_dm).await,
            None => self.refused_quietly(refused),
        }
        Ok(Delivered::Refused)
    }

    /// Logs and counts a post Slack refused for good.
    fn refused_quietly(&self, refused: &Undeliverable) {
        self.inner
            .undelivered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tracing::error!(reason = %refused.reason, "a message cannot be delivered: {refused}");
    }

    /// Logs and counts a post Slack refused for good, and tells the person it was for, by
    /// direct message, where and why; unless it was their direct message with the bot that
    /// refused it.
    async fn refused(
        &self,
        refused: &Undeliverable,
        user: &SlackUserId,
        channel: &SlackChannelId,
        in_dm: bool,
    ) {
        self.refused_quietly(refused);
        if in_dm {
            return;
        }
        let reason = refused.reason.as_str();
        let advice = match reason {
            "not_in_channel" | "channel_not_found" => {
                "Invite me to the channel (`/invite @Switchboard`), or ask me here."
            }
            "is_archived" => "The channel is archived; ask me here.",
            "msg_too_long" | "invalid_blocks" | "too_many_attachments" | "no_text" => {
                "That is a fault on my side and it is logged; a narrower question may get through."
            }
            _ => "Ask me here in the meantime.",
        };
        let text =
            format!("I could not answer you in <#{channel}>: Slack said `{reason}`. {advice}");
        let told = async {
            let dm = self.dm_channel(&user.0).await?;
            self.post_message(dm, None, SlackMessageContent::new().with_text(text))
                .await
        };
        if let Err(e) = told.await {
            tracing::error!(user = %user, "cannot tell the asker their answer was not delivered: {e:#}");
        }
    }

    /// Answers the events claimed within the last `RECOVER_WINDOW` whose answer never went out
    /// and whose taker's time ran out (the process died between the acknowledgement and the
    /// post, or every attempt failed). Each is taken in the store first, so of several
    /// processes recovering at once only one answers it. Returns how many were answered.
    pub async fn recover(&self) -> Result<usize> {
        let store = &self.inner.store;
        let pending = store
            .unanswered_events(
                "slack",
                self.now() - RECOVER_WINDOW.as_secs() as i64,
                self.now(),
            )
            .await?;
        let mut answered = 0;
        for (id, payload) in pending {
            if !store
                .take_unanswered("slack", &id, self.now(), self.lease_end())
                .await?
            {
                continue;
            }
            let event: SlackEventCallbackBody = match serde_json::from_str(&payload) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(event_id = %id, "an unanswered Slack event cannot be read back: {e}");
                    continue;
                }
            };
            match self.deliver(&id, event, true).await {
                Ok(Delivered::Posted) => answered += 1,
                Ok(Delivered::Refused) => {}
                Err(e) => {
                    tracing::error!(event_id = %id, "answering a Slack event again failed: {e:#}")
                }
            }
        }
        if answered > 0 {
            tracing::info!(answered, "answered Slack events left unanswered");
        }
        Ok(answered)
    }

    /// Recovers at once and then every `answer_lease` (at least every 30 s), and forgets event
    /// ids a week old; runs until the process stops.
    pub async fn run_recovery(&self) {
        let period = self
            .inner
            .answer_lease
            .max(std::time::Duration::from_secs(30));
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            if let Err(e) = self.recover().await {
                tracing::error!("answering Slack events left unanswered: {e:#}");
            }
            let week_ago = self.now() - 7 * 86_400;
            if let Err(e) = self.inner.store.forget_events("slack", week_ago).await {
                tracing::warn!("forgetting old Slack event ids: {e:#}");
            }
        }
    }

    /// The answer to `/sb …`, which goes back in the acknowledgement itself: answers come from
    /// memory (the asker's profile from a cache, after their first question within the hour). Seen by the asker alone, with a button to share it.
    async fn command_response(&self, cmd: &SlackCommandEvent) -> SlackCommandEventResponse {
        let reply = self
            .ask(
                &cmd.user_id,
                &cmd.channel_id,
                None,
                cmd.text.as_deref().unwrap_or(""),
            )
            .await;
        SlackCommandEventResponse::new(blocks::content(&reply, true))
            .with_response_type(SlackMessageResponseType::Ephemeral)
    }

    /// Takes an interaction; button clicks and submitted forms are answered after the ack
    /// (which closes a form's modal).
    fn accept_interaction(&self, event: SlackInteractionEvent) {
        let app = self.clone();
        match event {
            SlackInteractionEvent::BlockActions(ev) => {
                self.after_ack("button click", async move { app.answer_actions(ev).await });
            }
            SlackInteractionEvent::ViewSubmission(ev) => {
                self.after_ack("form", async move { app.answer_form(ev).await });
            }
            _ => {}
        }
    }

    /// A form submitted: its action and values go to the bot as the person who filled it;
    /// the answer is theirs alone, in the conversation where the button was.
    async fn answer_form(&self, ev: SlackInteractionViewSubmissionEvent) -> Result<()> {
        let SlackView::Modal(modal) = &ev.view.view else {
            return Ok(());
        };
        if modal.callback_id.as_ref().map(|c| c.0.as_str()) != Some(blocks::FORM) {
            return Ok(());
        }
        let Some(meta) = modal
            .private_metadata
            .as_deref()
            .and_then(|m| serde_json::from_str::<FormMetadata>(m).ok())
        else {
            return Ok(());
        };
        let values: Vec<(String, String)> = ev
            .view
            .state_params
            .state
            .iter()
            .flat_map(|s| s.values.iter())
            .flat_map(|(_, by_action)| by_action.iter())
            .filter_map(|(action, v)| Some((action.0.clone(), v.value.clone()?)))
            .collect();
        let channel = SlackChannelId(meta.channel);
        let user = ev.user.id.clone();
        let reply = self
            .handle(
                &user,
                Some(&channel),
                None,
                Input::Form {
                    action: meta.action,
                    values,
                },
            )
            .await;
        if let Err(e) = self
            .post_ephemeral(
                channel.clone(),
                user.clone(),
                blocks::content(&reply, false),
            )
            .await
        {
            let Some(refused) = Undeliverable::of(&e) else {
                return Err(e);
            };
            let in_dm = channel.0.starts_with('D');
            self.refused(refused, &user, &channel, in_dm).await;
        }
        Ok(())
    }

    /// Opens the form a button asks for, as a modal; what it carries comes back on submit.
    async fn open_form(
        &self,
        trigger: &SlackTriggerId,
        form: &crate::chat::Form,
        action: String,
        channel: &SlackChannelId,
    ) -> Result<()> {
        let meta = FormMetadata {
            action,
            channel: channel.0.clone(),
        };
        let view = blocks::modal(form, serde_json::to_string(&meta)?);
        let req = SlackApiViewsOpenRequest::new(trigger.clone(), view);
        let session = self.inner.client.open_session(&self.inner.token);
        with_retry("views.open", || session.views_open(&req)).await?;
        Ok(())
    }

    /// Connects over Socket Mode (no public URL needed) and answers until the process stops.
    /// Dropped connections and `disconnect` messages reconnect; a redelivered event is answered
    /// once, because event ids are claimed in the store.
    pub async fn run_socket_mode(&self, app_token: &str, connections: u32) -> Result<()> {
        let env = Arc::new(
            SlackClientEventsListenerEnvironment::new(self.inner.client.clone())
                .with_user_state(self.clone()),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_push_events(socket_push)
            .with_command_events(socket_command)
            .with_interaction_events(socket_interaction);
        let config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(connections)
            .with_initial_backoff_in_seconds(1)
            .with_reconnect_timeout_in_seconds(5);
        let listener = SlackClientSocketModeListener::new(&config, env, callbacks);
        listener
            .listen_for(&SlackApiToken::new(app_token.to_string().into()))
            .await
            .map_err(|e| anyhow::anyhow!("opening Slack Socket Mode: {e}"))?;
        listener.start().await;
        std::future::pending::<()>().await;
        Ok(())
    }

    /// Answers one event callback; runs after the ack.
    async fn answer_event(
        &self,
        id: &str,
        event: SlackEventCallbackBody,
        look_first: bool,
    ) -> Result<()> {
        match event {
            SlackEventCallbackBody::AppMention(m) => {
                // In a thread, answer in that thread; else start one under the mention.
                let thread = m.origin.thread_ts.clone().unwrap_or(m.origin.ts.clone());
                if look_first
                    && self
                        .already_answered(&m.channel, Some(&thread), &m.origin.ts, id)
                        .await
                {
                    return Ok(());
                }
                let text = m.content.text.unwrap_or_default();
                let reply = self.ask(&m.user, &m.channel, Some(&thread), &text).await;
                let content = keyed(blocks::content(&reply, false), id);
                self.post(m.channel, Some(thread), content, &reply.attachments)
                    .await
            }
            SlackEventCallbackBody::Message(m)
                if m.origin.channel_type == Some(SlackChannelType("im".into()))
                    && m.sender.bot_id.is_none()
                    && m.subtype.is_none() =>
            {
                let (Some(user), Some(channel)) = (m.sender.user, m.origin.channel) else {
                    return Ok(());
                };
                let thread = m.origin.thread_ts;
                if look_first
                    && self
                        .already_answered(&channel, thread.as_ref(), &m.origin.ts, id)
                        .await
                {
                    return Ok(());
                }
                let text = m.content.and_then(|c| c.text).unwrap_or_default();
                let reply = self.ask(&user, &channel, thread.as_ref(), &text).await;
                let content = keyed(blocks::content(&reply, false), id);
                self.post(channel, thread, content, &reply.attachments)
                    .await
            }
            SlackEventCallbackBody::AppHomeOpened(h) if h.tab.as_deref() == Some("home") => {
                self.publish_home(h.user).await
            }
            _ => Ok(()),
        }
    }

    /// Whether an answer to `event_id` is already in the conversation: a message carrying its
    /// key among the thread's replies, or in the channel's history since the question.
    async fn already_answered(
        &self,
        channel: &SlackChannelId,
        thread: Option<&SlackTs>,
        asked_at: &SlackTs,
        event_id: &str,
    ) -> bool {
        match self
            .find_marked(
                channel,
                thread,
                &asked_at.0,
                ANSWER_KEY,
                "event_id",
                event_id,
            )
            .await
        {
            Ok(found) => found.is_some(),
            Err(e) => {
                // Better a second answer than none: post when the conversation cannot be read.
                tracing::warn!(
                    channel = %channel,
                    "cannot look for an answer already posted, answering: {e:#}"
                );
                false
            }
        }
    }

    /// Reads the thread's replies (or the channel's history since `oldest`, a Slack ts), page
    /// by page, for a message marked `kind` with `field` = `value`: its ts.
    async fn find_marked(
        &self,
        channel: &SlackChannelId,
        thread: Option<&SlackTs>,
        oldest: &str,
        kind: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<String>> {
        let method = if thread.is_some() {
            "conversations.replies"
        } else {
            "conversations.history"
        };
        let session = self.inner.client.open_session(&self.inner.token);
        let mut cursor: Option<String> = None;
        for _ in 0..LOOKUP_PAGES {
            let mut params: Vec<(&str, Option<String>)> = vec![
                ("channel", Some(channel.0.clone())),
                ("oldest", Some(oldest.to_string())),
                ("include_all_metadata", Some("true".into())),
                ("limit", Some("200".into())),
                ("cursor", cursor.clone()),
            ];
            if let Some(t) = thread {
                params.push(("ts", Some(t.0.clone())));
            }
            let page: Messages = with_retry(method, || {
                session.http_session_api.http_get(method, &params, None)
            })
            .await?;
            let found = page.messages.into_iter().find(|m| {
                m.metadata.as_ref().is_some_and(|md| {
                    md["event_type"] == kind && md["event_payload"][field] == value
                })
            });
            if let Some(m) = found {
                return Ok(Some(m.ts.unwrap_or_default()));
            }
            cursor = page
                .response_metadata
                .and_then(|r| r.next_cursor)
                .filter(|c| !c.is_empty());
            if cursor.is_none() {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Answers a button click; runs after the ack.
    async fn answer_actions(&self, ev: SlackInteractionBlockActionsEvent) -> Result<()> {
        let Some(user) = ev.user.as_ref().map(|u| u.id.clone()) else {
            return Ok(());
        };
        // The thread a clicked message is in is the conversation; a message that starts no
        // thread starts one.
        let thread_of = |ts: &SlackTs| {
            ev.message
                .as_ref()
                .and_then(|m| m.origin.thread_ts.clone())
                .unwrap_or_else(|| ts.clone())
        };
        let (channel, thread, ephemeral) = match &ev.container {
            SlackInteractionActionContainer::Message(m) => (
                m.channel_id
                    .clone()
                    .or(ev.channel.as_ref().map(|c| c.id.clone())),
                Some(thread_of(&m.message_ts)),
                m.is_ephemeral.unwrap_or(false),
            ),
            _ => (ev.channel.as_ref().map(|c| c.id.clone()), None, false),
        };
        let Some(channel) = channel else {
            return Ok(());
        };
        for action in ev.actions.unwrap_or_default() {
            let value = action.value.clone().unwrap_or_default();
            // Our buttons carry the core's encoded id; those of earlier releases, the question.
            let encoded = match action.action_id.0.as_str() {
                blocks::LEGACY_ASK => ActionId::Ask(value).encode(),
                blocks::LEGACY_SHARE => ActionId::Share(value).encode(),
                _ => value,
            };
            // A button that asks for a reason first opens its form; the submission acts.
            if let Some(form) = self.inner.bot.form(&encoded).await {
                self.open_form(&ev.trigger_id, &form, encoded, &channel)
                    .await?;
                continue;
            }
            let reply = self
                .handle(
                    &user,
                    Some(&channel),
                    thread.as_ref(),
                    Input::Action(encoded),
                )
                .await;
            let posted = match reply.audience {
                Audience::Everyone => {
                    let mut content = blocks::content(&reply, false);
                    let mut b = content.blocks.take().unwrap_or_default();
                    b.insert(
                        0,
                        SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
                            SlackBlockMarkDownText::new(format!(
                                "<@{user}> asked: {}",
                                blocks::escape(&reply.query)
                            )),
                        )])
                        .into(),
                    );
                    self.post(
                        channel.clone(),
                        None,
                        content.with_blocks(b),
                        &reply.attachments,
                    )
                    .await
                }
                Audience::AsUsual if !ephemeral => {
                    self.post(
                        channel.clone(),
                        thread.clone(),
                        blocks::content(&reply, false),
                        &reply.attachments,
                    )
                    .await
                }
                // An answer to a private one stays private, and so does a refusal.
                Audience::AsUsual | Audience::Asker => {
                    let share = reply.audience == Audience::AsUsual;
                    self.post_ephemeral(
                        channel.clone(),
                        user.clone(),
                        blocks::content(&reply, share),
                    )
                    .await
                }
            };
            if let Err(e) = posted {
                let Some(refused) = Undeliverable::of(&e) else {
                    return Err(e);
                };
                // Slack's ids of direct messages start with D.
                let in_dm = channel.0.starts_with('D');
                self.refused(refused, &user, &channel, in_dm).await;
            }
        }
        Ok(())
    }
}

/// What a form's modal carries to its submission: the button's action, and the conversation
/// where the button was (Slack's submission says neither).
#[derive(serde::Serialize, serde::Deserialize)]
struct FormMetadata {
    action: String,
    channel: String,
}

fn unauthorized(e: signature::SignatureError) -> Response {
    tracing::warn!(error = %e, "rejected a Slack request");
    (
        StatusCode::UNAUTHORIZED,
        format!("invalid Slack signature: {e}"),
    )
        .into_response()
}

/// How many times a call Slack answered 429 is tried again.
const RATE_LIMIT_RETRIES: usize = 5;

/// How many times a call that failed on Slack's side or on the way (5xx, Slack's own
/// `internal_error` and kin, a broken connection, a timeout) is tried again, waiting 0.5 s,
/// 1 s, 2 s, … in between.
const FAILURE_RETRIES: u32 = 4;

/// How long one Web API call may take before it counts as failed on the way.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// How old an event left unanswered by a crash may be and still be answered at start-up.
/// Slack stops retrying an event after about five minutes; an answer within the hour is
/// still of use to whoever asked.
const RECOVER_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// What became of an event's answer.
enum Delivered {
    Posted,
    /// Slack refused it for good; the asker was told.
    Refused,
}

/// Reads a body as the Events API route and the interactivity route read theirs (the fuzz
/// target: it must never panic, whatever arrives).
pub fn read_payloads(body: &[u8]) {
    if let Ok(SlackPushEvent::EventCallback(cb)) = serde_json::from_slice::<SlackPushEvent>(body) {
        let _ = asked_by(&cb.event);
    }
    if let Ok(form) = serde_urlencoded::from_bytes::<InteractionForm>(body) {
        let _ = serde_json::from_str::<SlackInteractionEvent>(&form.payload);
    }
    let _ = serde_json::from_slice::<SlackInteractionEvent>(body);
}

/// Who asked, where, and whether that is their direct message with the bot, for the events
/// that are answered in a conversation.
fn asked_by(event: &SlackEventCallbackBody) -> Option<(SlackUserId, SlackChannelId, bool)> {
    match event {
        SlackEventCallbackBody::AppMention(m) => Some((m.user.clone(), m.channel.clone(), false)),
        SlackEventCallbackBody::Message(m) => Some((
            m.sender.user.clone()?,
            m.origin.channel.clone()?,
            m.origin.channel_type == Some(SlackChannelType("im".into())),
        )),
        _ => None,
    }
}

/// Runs a Web API call; a 429 is waited out (Retry-After) and tried again, so an answer is
/// delayed, never dropped; so is a failure on Slack's side or on the way (5xx, a transient
/// `ok: false` such as `internal_error`, a broken connection, a call over `CALL_TIMEOUT`), with
/// a growing wait. A refusal (`ok: false` such as `channel_not_found`, a 4xx) is not retried.
/// Slack's own rate control in slack-morphism is not used: it throttles chat.postMessage for
/// the whole workspace, far below what Slack allows per channel.
async fn with_retry<T, F, Fut>(what: &str, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ClientResult<T>>,
{
    let mut attempt = 0;
    let mut failures = 0;
    loop {
        let result = match tokio::time::timeout(CALL_TIMEOUT, call()).await {
            Ok(r) => r,
            Err(_) if failures < FAILURE_RETRIES => {
                tracing::warn!(what, "Slack call timed out; trying again");
                failures += 1;
                continue;
            }
            Err(_) => return Err(anyhow::anyhow!("{what}: timed out {} times", failures + 1)),
        };
        match result {
            Ok(v) => return Ok(v),
            Err(e) if failures < FAILURE_RETRIES && transient(&e) => {
                let wait = std::time::Duration::from_millis(500 << failures);
                tracing::warn!(what, ?wait, "Slack call failed ({e}); trying again");
                tokio::time::sleep(wait).await;
                failures += 1;
            }
            Err(slack_morphism::errors::SlackClientError::RateLimitError(e))
                if attempt < RATE_LIMIT_RETRIES =>
            {
                let wait = e.retry_after.unwrap_or(std::time::Duration::from_secs(1));
                tracing::warn!(what, ?wait, "Slack answered 429; waiting and trying again");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(refusal(what, e)),
        }
    }
}

/// Slack said no (`ok: false`) for a reason that trying again at once would not change.
#[derive(Debug, thiserror::Error)]
#[error("{method}: Slack said {code}")]
struct Refused {
    method: String,
    code: String,
}

/// What a failed call is: Slack's refusal (`ok: false`), or a failure that tries ran out on.
fn refusal(what: &str, e: slack_morphism::errors::SlackClientError) -> anyhow::Error {
    match &e {
        slack_morphism::errors::SlackClientError::ApiError(a) => Refused {
            method: what.to_string(),
            code: a.code.clone(),
        }
        .into(),
        _ => anyhow::anyhow!("{what}: {e}"),
    }
}

/// Refusals of a post that no later attempt will change: where it goes (the bot is not in the
/// channel, the channel is archived or read-only, the person cannot be written to) or what it
/// is (too long, malformed). Anything else (a revoked token, a missing scope) may be put right
/// within the hour, so the post stays to be delivered again.
const UNDELIVERABLE: &[&str] = &[
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel",
    "cannot_dm_bot",
    "user_not_found",
    "user_disabled",
    "messages_tab_disabled",
    "msg_too_long",
    "invalid_blocks",
    "too_many_attachments",
    "no_text",
];

/// A post's failure as the outbound port reports it: `Undeliverable` when Slack refused it for
/// good, else as it was.
fn undeliverable(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<Refused>() {
        Some(r) if UNDELIVERABLE.contains(&r.code.as_str()) => Undeliverable {
            method: r.method.clone(),
            reason: r.code.clone(),
        }
        .into(),
        _ => e,
    }
}

/// A failure worth trying again: Slack's side (5xx, or `ok: false` with a code Slack uses for
/// its own trouble) or the way there (a connection cut), not a refusal.
fn transient(e: &slack_morphism::errors::SlackClientError) -> bool {
    use slack_morphism::errors::SlackClientError as E;
    match e {
        E::HttpError(h) => h.status_code.is_server_error(),
        E::ApiError(a) => matches!(
            a.code.as_str(),
            "internal_error"
                | "fatal_error"
                | "service_unavailable"
                | "request_timeout"
                | "ratelimited"
                | "rate_limited"
        ),
        E::HttpProtocolError(_) | E::EndOfStream(_) | E::SystemError(_) => true,
        _ => false,
    }
}

fn bad_request(what: &str, e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "malformed Slack {what}");
    (
        StatusCode::BAD_REQUEST,
        format!("malformed Slack {what}: {e}"),
    )
        .into_response()
}

async fn events(State(app): State<SlackApp>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = app.verify(&headers, &body) {
        return unauthorized(e);
    }
    let push: SlackPushEvent = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return bad_request("event", e),
    };
    match push {
        SlackPushEvent::UrlVerification(v) => {
            axum::Json(serde_json::json!({ "challenge": v.challenge })).into_response()
        }
        SlackPushEvent::EventCallback(cb) => match app.accept_push(cb).await {
            Ok(_) => StatusCode::OK.into_response(),
            Err(e) => {
                // Without the claim the event could be answered twice; let Slack retry instead.
                tracing::error!("cannot record a Slack event: {e:#}");
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        },
        SlackPushEvent::AppRateLimited(_) => StatusCode::OK.into_response(),
    }
}

async fn commands(State(app): State<SlackApp>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = app.verify(&headers, &body) {
        return unauthorized(e);
    }
    let cmd: SlackCommandEvent = match serde_urlencoded::from_bytes(&body) {
        Ok(c) => c,
        Err(e) => return bad_request("slash command", e),
    };
    axum::Json(app.command_response(&cmd).await).into_response()
}

#[derive(serde::Deserialize)]
struct InteractionForm {
    payload: String,
}

async fn interactivity(State(app): State<SlackApp>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = app.verify(&headers, &body) {
        return unauthorized(e);
    }
    let event: SlackInteractionEvent = match serde_urlencoded::from_bytes::<InteractionForm>(&body)
        .map_err(|e| e.to_string())
        .and_then(|f| serde_json::from_str(&f.payload).map_err(|e| e.to_string()))
    {
        Ok(e) => e,
        Err(e) => return bad_request("interaction", e),
    };
    app.accept_interaction(event);
    StatusCode::OK.into_response()
}

async fn state_app(state: &SlackClientEventsUserState) -> SlackApp {
    state
        .read()
        .await
        .get_user_state::<SlackApp>()
        .cloned()
        .expect("the Socket Mode listener carries the app")
}

async fn socket_push(
    ev: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    state_app(&state)
        .await
        .accept_push(ev)
        .await
        .map(|_| ())
        .map_err(|e| e.into_boxed_dyn_error())
}

async fn socket_command(
    ev: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    Ok(state_app(&state).await.command_response(&ev).await)
}

async fn socket_interaction(
    ev: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    state_app(&state).await.accept_interaction(ev);
    Ok(())
}

/// Slack as the outbound port: `chat.postMessage` to a channel, `conversations.open` then
/// `chat.postMessage` to a person, `chat.update` for a message posted earlier; paced and
/// retried as answers are.
impl SlackApp {
    /// The conversation (and thread) a destination is.
    async fn conversation(&self, to: &Destination) -> Result<(SlackChannelId, Option<SlackTs>)> {
        Ok(match to {
            Destination::Channel(c) => (SlackChannelId(c.clone()), None),
            Destination::Thread { channel, thread } => (
                SlackChannelId(channel.clone()),
                Some(SlackTs(thread.clone())),
            ),
            Destination::User(u) => (self.dm_channel(u).await?, None),
        })
    }

    /// Posts `reply` there, marked with `once`'s key if given, then its pictures.
    async fn post_marked(
        &self,
        channel: SlackChannelId,
        thread: Option<SlackTs>,
        reply: &Reply,
        once: Option<&str>,
    ) -> Result<MessageRef> {
        let reply = self.fitted(reply.clone()).await;
        let mut content = blocks::content(&reply, false);
        if let Some(key) = once {
            content = marked(content, POST_KEY, "key", key);
        }
        let at = self
            .post_message(channel.clone(), thread.clone(), content)
            .await?;
        self.upload(&channel, thread.as_ref(), &reply.attachments)
            .await;
        Ok(at)
    }
}

impl Outbox for SlackApp {
    fn post<'a>(&'a self, to: &'a Destination, reply: &'a Reply) -> Sending<'a, MessageRef> {
        Box::pin(async move {
            let (channel, thread) = self.conversation(to).await?;
            self.post_marked(channel, thread, reply, None).await
        })
    }

    fn post_once<'a>(
        &'a self,
        to: &'a Destination,
        reply: &'a Reply,
        once: Once<'a>,
    ) -> Sending<'a, MessageRef> {
        Box::pin(async move {
            let (channel, thread) = self.conversation(to).await?;
            if let Some(since) = once.look_since {
                let oldest = format!("{since}.000000");
                match self
                    .find_marked(
                        &channel,
                        thread.as_ref(),
                        &oldest,
                        POST_KEY,
                        "key",
                        once.key,
                    )
                    .await
                {
                    Ok(Some(ts)) => {
                        tracing::info!(key = once.key, "posted before a restart: not again");
                        return Ok(MessageRef {
                            platform: Platform::Slack,
                            channel: channel.0,
                            id: ts,
                        });
                    }
                    Ok(None) => {}
                    // Better a second post than none: post when the conversation cannot be read.
                    Err(e) => tracing::warn!(
                        key = once.key,
                        "cannot look for a post already made, posting: {e:#}"
                    ),
                }
            }
            self.post_marked(channel, thread, reply, Some(once.key))
                .await
        })
    }

    fn update<'a>(&'a self, at: &'a MessageRef, reply: &'a Reply) -> Sending<'a, ()> {
        Box::pin(async move {
            let reply = self.fitted(reply.clone()).await;
            let req = SlackApiChatUpdateRequest::new(
                SlackChannelId(at.channel.clone()),
                blocks::content(&reply, false),
                SlackTs(at.id.clone()),
            );
            let session = self.inner.client.open_session(&self.inner.token);
            with_retry("chat.update", || session.chat_update(&req))
                .await
                .map_err(undeliverable)?;
            Ok(())
        })
    }

    /// By the `slack.com/user-id` annotation, else `users.lookupByEmail`.
    fn reach<'a>(&'a self, who: &'a Recipient) -> Sending<'a, Option<String>> {
        Box::pin(async move {
            if let Some(id) = who.annotation("slack.com/user-id") {
                return Ok(Some(id.to_string()));
            }
            let Some(email) = &who.email else {
                return Ok(None);
            };
            let req = SlackApiUsersLookupByEmailRequest::new(EmailAddress(email.clone()));
            let session = self.inner.client.open_session(&self.inner.token);
            match with_retry("users.lookupByEmail", || {
                session.users_lookup_by_email(&req)
            })
            .await
            {
                Ok(resp) => Ok(Some(resp.user.id.0)),
                // `users_not_found`: nobody in the workspace has that address.
                Err(e) if format!("{e:#}").contains("not_found") => Ok(None),
                Err(e) => Err(e),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn posts_to_one_channel_are_spaced_and_other_channels_are_not_held_up() {
        let pacer = Arc::new(Pacer::new(Duration::from_secs(1)));
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::new();
        for channel in ["C1", "C1", "C1", "C2"] {
            let p = pacer.clone();
            tasks.push(tokio::spawn(async move {
                p.wait(channel).await;
                tokio::time::Instant::now() - start
            }));
        }
        let mut at = Vec::new();
        for t in tasks {
            at.push(t.await.unwrap());
        }
        // With the clock paused these are exact: each C1 post a second after the previous,
        // C2 at once.
        assert_eq!(
            at,
            [
                Duration::ZERO,
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::ZERO
            ]
        );
    }
}
