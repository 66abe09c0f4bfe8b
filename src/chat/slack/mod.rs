//! The Slack adapter, over the Events API (HTTP): the `/sb` slash command, @mentions in
//! channels and threads, direct messages, and button clicks.
//!
//! Every request is checked against the signing secret before anything is read. Events are
//! acknowledged at once and answered after the ack; an event id is claimed in the store first,
//! so a retried delivery (`X-Slack-Retry-Num`) is answered once, across restarts. Slack payloads
//! become `ChatEvent`s for `Bot::handle`, and `Reply`s are rendered as Block Kit and posted with
//! slack-morphism's Web API client, whose base URL is configurable.

pub mod blocks;
pub mod signature;

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
use crate::chat::{ChatEvent, Platform, Reply};
use crate::store::Store;

/// What the adapter needs to reach Slack. Tokens come from the environment only.
#[derive(Clone)]
pub struct SlackSettings {
    /// Web API base URL, without a trailing slash (`https://slack.com/api`).
    pub api_url: String,
    pub bot_token: String,
    pub signing_secret: String,
    /// Least time between two messages to one channel (Slack allows about one a second).
    pub channel_interval: std::time::Duration,
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field("api_url", &self.api_url)
            .field("bot_token", &"***")
            .field("signing_secret", &"***")
            .field("channel_interval", &self.channel_interval)
            .finish()
    }
}

impl SlackSettings {
    /// Reads `SLACK_BOT_TOKEN` and `SLACK_SIGNING_SECRET`, naming whichever is missing.
    pub fn from_env(api_url: &str, channel_interval_ms: u64) -> Result<SlackSettings> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .with_context(|| format!("slack.enabled is true but {name} is not set"))
        };
        Ok(SlackSettings {
            api_url: api_url.trim_end_matches('/').to_string(),
            bot_token: var("SLACK_BOT_TOKEN")?,
            signing_secret: var("SLACK_SIGNING_SECRET")?,
            channel_interval: std::time::Duration::from_millis(channel_interval_ms),
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
    client: SlackHyperClient,
    token: SlackApiToken,
    signing_secret: Vec<u8>,
    channel_interval: std::time::Duration,
    /// When each channel may next be posted to.
    next_slot: std::sync::Mutex<std::collections::HashMap<SlackChannelId, tokio::time::Instant>>,
}

fn now() -> i64 {
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
        // A 429 is waited out (Retry-After) and retried, never dropped. No proactive
        // throttling by tier: answers are few and small, and Slack says when to slow down.
        let rate_control = SlackApiRateControlConfig::new()
            .with_tiers_limits(Default::default())
            .with_max_retries(5);
        let connector = SlackClientHyperConnector::with_connector(https)
            .with_slack_api_url(&settings.api_url)
            .with_rate_control(rate_control);
        Ok(SlackApp {
            inner: Arc::new(Inner {
                bot,
                store,
                client: SlackClient::new(connector),
                token: SlackApiToken::new(settings.bot_token.clone().into()),
                signing_secret: settings.signing_secret.as_bytes().to_vec(),
                channel_interval: settings.channel_interval,
                next_slot: Default::default(),
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
            now(),
        )
    }

    fn ask(&self, user: &SlackUserId, text: &str) -> Reply {
        self.inner.bot.handle(&ChatEvent {
            platform: Platform::Slack,
            user: Some(format!("slack:{user}")),
            text: text.to_string(),
            now: None,
        })
    }

    /// Waits for the channel's next slot, so a burst of answers is paced, not dropped.
    async fn pace(&self, channel: &SlackChannelId) {
        let wait_until = {
            let mut slots = self.inner.next_slot.lock().expect("pacing lock");
            let now = tokio::time::Instant::now();
            let slot = slots.get(channel).copied().unwrap_or(now).max(now);
            slots.insert(channel.clone(), slot + self.inner.channel_interval);
            slot
        };
        tokio::time::sleep_until(wait_until).await;
    }

    async fn post(
        &self,
        channel: SlackChannelId,
        thread: Option<SlackTs>,
        content: SlackMessageContent,
    ) -> Result<()> {
        self.pace(&channel).await;
        let req = SlackApiChatPostMessageRequest::new(channel, content).opt_thread_ts(thread);
        self.inner
            .client
            .open_session(&self.inner.token)
            .chat_post_message(&req)
            .await
            .context("chat.postMessage")?;
        Ok(())
    }

    async fn post_ephemeral(
        &self,
        channel: SlackChannelId,
        user: SlackUserId,
        content: SlackMessageContent,
    ) -> Result<()> {
        let req = SlackApiChatPostEphemeralRequest::new(channel, user, content);
        self.inner
            .client
            .open_session(&self.inner.token)
            .chat_post_ephemeral(&req)
            .await
            .context("chat.postEphemeral")?;
        Ok(())
    }

    /// Answers one event callback; runs after the ack.
    async fn answer_event(&self, event: SlackEventCallbackBody) -> Result<()> {
        match event {
            SlackEventCallbackBody::AppMention(m) => {
                let text = m.content.text.unwrap_or_default();
                let reply = self.ask(&m.user, &text);
                // In a thread, answer in that thread; else start one under the mention.
                let thread = m.origin.thread_ts.clone().unwrap_or(m.origin.ts.clone());
                self.post(m.channel, Some(thread), blocks::content(&reply, false))
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
                let text = m.content.and_then(|c| c.text).unwrap_or_default();
                let reply = self.ask(&user, &text);
                self.post(channel, m.origin.thread_ts, blocks::content(&reply, false))
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Answers a button click; runs after the ack.
    async fn answer_actions(&self, ev: SlackInteractionBlockActionsEvent) -> Result<()> {
        let Some(user) = ev.user.as_ref().map(|u| u.id.clone()) else {
            return Ok(());
        };
        let (channel, message_ts, ephemeral) = match &ev.container {
            SlackInteractionActionContainer::Message(m) => (
                m.channel_id
                    .clone()
                    .or(ev.channel.as_ref().map(|c| c.id.clone())),
                Some(m.message_ts.clone()),
                m.is_ephemeral.unwrap_or(false),
            ),
            _ => (ev.channel.as_ref().map(|c| c.id.clone()), None, false),
        };
        let Some(channel) = channel else {
            return Ok(());
        };
        for action in ev.actions.unwrap_or_default() {
            let question = action.value.clone().unwrap_or_default();
            match action.action_id.0.as_str() {
                blocks::ACTION_ASK => {
                    let reply = self.ask(&user, &question);
                    if ephemeral {
                        self.post_ephemeral(
                            channel.clone(),
                            user.clone(),
                            blocks::content(&reply, true),
                        )
                        .await?;
                    } else {
                        self.post(
                            channel.clone(),
                            message_ts.clone(),
                            blocks::content(&reply, false),
                        )
                        .await?;
                    }
                }
                blocks::ACTION_SHARE => {
                    let reply = self.ask(&user, &question);
                    let mut content = blocks::content(&reply, false);
                    let mut b = content.blocks.take().unwrap_or_default();
                    b.insert(
                        0,
                        SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
                            SlackBlockMarkDownText::new(format!(
                                "<@{user}> asked: {}",
                                blocks::escape(&question)
                            )),
                        )])
                        .into(),
                    );
                    self.post(channel.clone(), None, content.with_blocks(b))
                        .await?;
                }
                other => {
                    tracing::warn!(action = other, "click on an unknown Slack action");
                    let text =
                        format!("That button ({other}) is not one of mine; nothing was done.");
                    self.post_ephemeral(
                        channel.clone(),
                        user.clone(),
                        SlackMessageContent::new().with_text(text),
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}

fn unauthorized(e: signature::SignatureError) -> Response {
    tracing::warn!(error = %e, "rejected a Slack request");
    (
        StatusCode::UNAUTHORIZED,
        format!("invalid Slack signature: {e}"),
    )
        .into_response()
}

fn bad_request(what: &str, e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "malformed Slack {what}");
    (
        StatusCode::BAD_REQUEST,
        format!("malformed Slack {what}: {e}"),
    )
        .into_response()
}

/// Runs `work` after the response is sent, logging a failure with its cause.
fn after_ack(
    what: &'static str,
    work: impl std::future::Future<Output = Result<()>> + Send + 'static,
) {
    tokio::spawn(async move {
        if let Err(e) = work.await {
            tracing::error!("answering a Slack {what} failed: {e:#}");
        }
    });
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
        SlackPushEvent::EventCallback(cb) => {
            let id = cb.event_id.to_string();
            match app.inner.store.claim_event("slack", &id, now()).await {
                Ok(true) => {
                    let a = app.clone();
                    after_ack("event", async move { a.answer_event(cb.event).await });
                }
                Ok(false) => {
                    tracing::info!(event_id = %id, "Slack retried an event already answered")
                }
                Err(e) => {
                    // Without the claim the event may be answered twice; let Slack retry instead.
                    tracing::error!("cannot record Slack event {id}: {e:#}");
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
            }
            StatusCode::OK.into_response()
        }
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
    // Answers come from memory in microseconds, so the reply goes in the acknowledgement
    // itself, seen by the asker alone, with a button to share it.
    let reply = app.ask(&cmd.user_id, cmd.text.as_deref().unwrap_or(""));
    let response = SlackCommandEventResponse::new(blocks::content(&reply, true))
        .with_response_type(SlackMessageResponseType::Ephemeral);
    axum::Json(response).into_response()
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
    if let SlackInteractionEvent::BlockActions(ev) = event {
        let a = app.clone();
        after_ack("button click", async move { a.answer_actions(ev).await });
    }
    StatusCode::OK.into_response()
}
