//! Discord's REST API, as Switchboard calls it: JSON bodies built with serenity's builders,
//! sent to `{api_url}/api/v10`, with Discord's rate limits waited out. A 429 is waited out for
//! the `retry_after` it carries (a global one pauses every call of this process, a per-route
//! one only the call that got it) and the call made again: nothing is dropped. A message post
//! carries a `nonce` with `enforce_nonce`, so Discord itself answers a repeated post with the
//! message the first one made: posting again after a lost answer never doubles a message.
//!
//! Its own client rather than serenity's `Http`: serenity waits out rate limits only when it
//! talks to discord.com directly, and a proxy (or a test's fake) turns its limiter off.

use std::time::Duration;

use anyhow::{Context as _, Result};
use reqwest::Method;
use serde_json::Value;
use tokio::time::Instant;

use crate::conversation::Attachment;
use crate::outbox::Undeliverable;

/// Discord's version of the API.
const API: &str = "/api/v10";

/// How many 429s one call waits out before giving up, and how long one wait may be.
const MAX_RATE_LIMITED: usize = 8;
const MAX_WAIT: Duration = Duration::from_secs(120);

/// A call Discord answered with an error.
#[derive(Debug, thiserror::Error)]
#[error("Discord answered {method} {path} with {status}: {message} (code {code})")]
pub struct Refused {
    pub method: Method,
    /// The path called, its interaction token (if any) left out.
    pub path: String,
    pub status: u16,
    /// Discord's JSON error code (`10003` unknown channel, `50007` cannot message this user).
    pub code: i64,
    pub message: String,
}

impl Refused {
    /// Whether `error` is Discord saying the thing is not there (yet): an unknown webhook or
    /// message.
    pub fn not_found(error: &anyhow::Error) -> bool {
        error
            .chain()
            .filter_map(|e| e.downcast_ref::<Refused>())
            .any(|r| r.status == 404)
    }
}

pub struct Rest {
    client: reqwest::Client,
    base: String,
    auth: String,
    /// Every call waits until then: Discord said the whole bot is rate limited.
    paused: tokio::sync::Mutex<Option<Instant>>,
}

impl Rest {
    pub fn new(api_url: &str, token: &str) -> Result<Rest> {
        Ok(Rest {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .user_agent("DiscordBot (https://github.com/switchboard, 1) Switchboard")
                .build()?,
            base: format!("{}{API}", api_url.trim_end_matches('/')),
            auth: format!("Bot {token}"),
            paused: Default::default(),
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// One call, its 429s waited out. A refusal for good (no access to the channel, a person
    /// who takes no messages from the bot, an unknown channel) is `Undeliverable`; any other
    /// error status is `Refused`.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        self.send(method, path, body, &[]).await
    }

    /// As `call`, with pictures: the body goes as `payload_json` of a multipart request, each
    /// picture as `files[N]`, listed in the body's `attachments`.
    pub async fn call_with_files(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        files: &[Attachment],
    ) -> Result<Value> {
        self.send(method, path, Some(body), files).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        files: &[Attachment],
    ) -> Result<Value> {
        let mut limited = 0;
        // Acknowledging an interaction and editing its response are not under the global
        // limit (and must not wait: Discord gives 3 s).
        let global = !is_interaction(path);
        let shown = loggable(path);
        loop {
            let paused = *self.paused.lock().await;
            if let Some(until) = paused.filter(|_| global) {
                tokio::time::sleep_until(until).await;
            }
            let mut req = self
                .client
                .request(method.clone(), format!("{}{path}", self.base))
                .header(reqwest::header::AUTHORIZATION, &self.auth);
            match body {
                Some(b) if !files.is_empty() => req = req.multipart(multipart(b, files)?),
                Some(b) => req = req.json(b),
                None => {}
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("calling Discord ({method} {shown})"))?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<f64>().ok());
            let text = resp.text().await.unwrap_or_default();
            let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                return Ok(answer);
            }
            if status == 429 && limited < MAX_RATE_LIMITED {
                limited += 1;
                // The body's figure is the precise one; the header is rounded up. A figure
                // that is no length of time (negative, infinite) waits the longest.
                let secs = answer["retry_after"]
                    .as_f64()
                    .or(retry_after)
                    .unwrap_or(1.0);
                let wait = Duration::try_from_secs_f64(secs)
                    .unwrap_or(MAX_WAIT)
                    .min(MAX_WAIT);
                let all = answer["global"] == true;
                tracing::warn!(
                    %method, path = %shown, global = all, wait_ms = wait.as_millis() as u64,
                    "Discord is rate limiting Switchboard; waiting it out"
                );
                if all && global {
                    *self.paused.lock().await = Some(Instant::now() + wait);
                } else {
                    tokio::time::sleep(wait).await;
                }
                continue;
            }
            let code = answer["code"].as_i64().unwrap_or_default();
            let message = answer["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| crate::chat::render::cut(&text, 200));
            // No access, missing permissions, a person who takes no DMs, an unknown channel.
            if status == 403 || code == 10003 || code == 50007 {
                return Err(Undeliverable {
                    method: format!("{method} {shown}"),
                    reason: format!("{message} ({code})"),
                }
                .into());
            }
            return Err(Refused {
                method,
                path: shown,
                status,
                code,
                message,
            }
            .into());
        }
    }
}

/// A message body and its pictures as Discord takes them: `payload_json` and `files[N]`.
fn multipart(body: &Value, files: &[Attachment]) -> Result<reqwest::multipart::Form> {
    let mut body = body.clone();
    body["attachments"] = Value::Array(
        files
            .iter()
            .enumerate()
            .map(|(i, a)| serde_json::json!({"id": i, "filename": a.file_name, "description": crate::chat::render::cut(&a.alt, 1024)}))
            .collect(),
    );
    let mut form = reqwest::multipart::Form::new().part(
        "payload_json",
        reqwest::multipart::Part::text(body.to_string()).mime_str("application/json")?,
    );
    for (i, a) in files.iter().enumerate() {
        form = form.part(
            format!("files[{i}]"),
            reqwest::multipart::Part::bytes(a.png.to_vec())
                .file_name(a.file_name.clone())
                .mime_str("image/png")?,
        );
    }
    Ok(form)
}

/// Whether `path` answers an interaction (`/interactions/{id}/{token}/callback`,
/// `/webhooks/{application}/{token}/…`).
fn is_interaction(path: &str) -> bool {
    path.starts_with("/interactions/") || path.starts_with("/webhooks/")
}

/// `path` as it may be logged: an interaction's token (a credential for 15 minutes) left out.
fn loggable(path: &str) -> String {
    if !is_interaction(path) {
        return path.to_string();
    }
    path.split('/')
        .enumerate()
        .map(|(i, seg)| if i == 3 { "…" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// A nonce for a post (at most 25 characters): the same post gets the same nonce, so Discord
/// answers a repeat with the message already made (`enforce_nonce`).
pub fn nonce(parts: &[&str]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())[..25].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interactions_token_never_reaches_the_logs() {
        assert_eq!(
            loggable("/interactions/81/secret-token/callback"),
            "/interactions/81/…/callback"
        );
        assert_eq!(
            loggable("/webhooks/77/secret-token/messages/@original"),
            "/webhooks/77/…/messages/@original"
        );
        assert_eq!(loggable("/channels/9/messages"), "/channels/9/messages");
    }

    #[test]
    fn a_nonce_fits_discords_25_characters_and_is_the_same_for_the_same_post() {
        let n = nonce(&["645027906669510667", "{\"content\":\"hi\"}"]);
        assert_eq!(n.len(), 25);
        assert_eq!(n, nonce(&["645027906669510667", "{\"content\":\"hi\"}"]));
        assert_ne!(n, nonce(&["645027906669510668", "{\"content\":\"hi\"}"]));
    }
}
