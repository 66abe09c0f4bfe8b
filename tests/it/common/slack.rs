//! A fake Slack Web API on a local port: records every call, answers with Slack's recorded
//! payloads, and can be told to rate-limit, fail or refuse.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::routing::post;
use serde_json::{Value, json};

use crate::common;

/// A fake Slack Web API: records (method, body) of every call, answers like Slack.
#[derive(Clone, Default)]
pub struct FakeSlack {
    /// The bytes POSTed to upload URLs (files shared through the upload flow).
    pub uploads: Arc<Mutex<Vec<Vec<u8>>>>,
    pub calls: Arc<Mutex<Vec<(String, Value)>>>,
    /// users.info lookups made.
    pub lookups: Arc<std::sync::atomic::AtomicUsize>,
    /// How many of the next calls are answered 429 with Retry-After: 1.
    pub rate_limit_next: Arc<std::sync::atomic::AtomicUsize>,
    /// How many of the next calls fail with a 500, as Slack does when it has trouble.
    pub fail_next: Arc<std::sync::atomic::AtomicUsize>,
    /// Conversations' history is refused (`missing_scope`), as for an app without the scope.
    pub history_refused: Arc<std::sync::atomic::AtomicBool>,
    /// A channel posts to which Slack refuses for good, and the error code it says.
    pub refused_channel: Arc<Mutex<Option<(String, String)>>>,
    /// When each accepted chat.postMessage arrived, with its body.
    pub posted_at: Arc<Mutex<Vec<(std::time::Instant, Value)>>>,
}

impl FakeSlack {
    pub async fn start() -> (FakeSlack, String) {
        let fake = FakeSlack::default();
        let ok = std::fs::read_to_string(common::fixture(
            "payloads/slack/webapi-chat.postMessage-ok.json",
        ))
        .unwrap();
        let limited = std::fs::read_to_string(common::fixture(
            "payloads/slack/webapi-error-ratelimited-429.json",
        ))
        .unwrap();
        let refused: Value = serde_json::from_str(
            &std::fs::read_to_string(common::fixture(
                "payloads/slack/webapi-chat.postMessage-error.json",
            ))
            .unwrap(),
        )
        .unwrap();
        let record = |fake: FakeSlack, method: &'static str, ok: String, limited: String| {
            let refused = refused.clone();
            post(move |body: Bytes| async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
                    serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
                        .map(|pairs| {
                            json!(
                                pairs
                                    .into_iter()
                                    .collect::<std::collections::HashMap<_, _>>()
                            )
                        })
                        .unwrap_or(Value::Null)
                });
                use std::sync::atomic::Ordering::SeqCst;
                let refusal = fake.refused_channel.lock().unwrap().clone();
                if let Some((channel, code)) = refusal
                    && method == "chat.postMessage"
                    && v["channel"] == channel
                {
                    fake.calls
                        .lock()
                        .unwrap()
                        .push((format!("{method} ({code})"), v));
                    let mut answer = refused;
                    answer["error"] = json!(code);
                    return (
                        StatusCode::OK,
                        [
                            (header::CONTENT_TYPE, "application/json"),
                            (header::RETRY_AFTER, "0"),
                        ],
                        answer.to_string(),
                    );
                }
                if fake
                    .fail_next
                    .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    fake.calls
                        .lock()
                        .unwrap()
                        .push((format!("{method} (500)"), v));
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        [
                            (header::CONTENT_TYPE, "text/plain"),
                            (header::RETRY_AFTER, "0"),
                        ],
                        "Internal Server Error".to_string(),
                    );
                }
                let limit = fake
                    .rate_limit_next
                    .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if limit {
                    fake.calls
                        .lock()
                        .unwrap()
                        .push((format!("{method} (429)"), v));
                    return (
                        StatusCode::TOO_MANY_REQUESTS,
                        [
                            (header::CONTENT_TYPE, "application/json"),
                            (header::RETRY_AFTER, "1"),
                        ],
                        limited,
                    );
                }
                // A post is answered with where it went: the channel asked for and a new ts.
                let ok = if method == "chat.postMessage" {
                    let mut answer: Value = serde_json::from_str(&ok).unwrap();
                    let n = fake.calls.lock().unwrap().len();
                    answer["channel"] = v["channel"].clone();
                    answer["ts"] = json!(format!("1700000000.{n:06}"));
                    answer.to_string()
                } else {
                    ok
                };
                if method == "chat.postMessage" {
                    let arrived = (std::time::Instant::now(), v.clone());
                    fake.posted_at.lock().unwrap().push(arrived);
                }
                fake.calls.lock().unwrap().push((method.to_string(), v));
                (
                    StatusCode::OK,
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::RETRY_AFTER, "0"),
                    ],
                    ok,
                )
            })
        };
        let users_ok =
            std::fs::read_to_string(common::fixture("payloads/slack/webapi-users.info-ok.json"))
                .unwrap();
        let users_err = std::fs::read_to_string(common::fixture(
            "payloads/slack/webapi-users.info-error.json",
        ))
        .unwrap();
        let lookups = fake.lookups.clone();
        let by_email = fake.clone();
        let by_email_fake = fake.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // files.getUploadURLExternal answers with an upload URL of this fake.
        let upload_url = {
            let mut v: Value = serde_json::from_str(
                &std::fs::read_to_string(common::fixture(
                    "payloads/slack/webapi-files.getUploadURLExternal-ok.json",
                ))
                .unwrap(),
            )
            .unwrap();
            let path = v["upload_url"]
                .as_str()
                .unwrap()
                .trim_start_matches("https://files.slack.com")
                .to_string();
            v["upload_url"] = json!(format!("{base}{path}"));
            v.to_string()
        };
        let uploads = fake.clone();
        let app = Router::new()
            .route(
                "/api/files.getUploadURLExternal",
                axum::routing::get(move |uri: axum::http::Uri| {
                    let (fake, body) = (by_email_fake.clone(), upload_url.clone());
                    async move {
                        let q: std::collections::HashMap<String, String> =
                            serde_urlencoded::from_str(uri.query().unwrap_or(""))
                                .unwrap_or_default();
                        fake.calls
                            .lock()
                            .unwrap()
                            .push(("files.getUploadURLExternal".into(), json!(q)));
                        ([(header::CONTENT_TYPE, "application/json")], body)
                    }
                }),
            )
            .route(
                "/upload/v1/{*rest}",
                post(move |body: Bytes| {
                    let fake = uploads.clone();
                    async move {
                        let n = body.len();
                        fake.uploads.lock().unwrap().push(body.to_vec());
                        fake.calls
                            .lock()
                            .unwrap()
                            .push(("upload".into(), json!({"bytes": n})));
                        // As Slack answers: 200, text/plain, "OK - <bytes>".
                        (
                            StatusCode::OK,
                            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                            format!("OK - {n}"),
                        )
                    }
                }),
            )
            .route(
                "/api/files.completeUploadExternal",
                record(
                    fake.clone(),
                    "files.completeUploadExternal",
                    std::fs::read_to_string(common::fixture(
                        "payloads/slack/webapi-files.completeUploadExternal-ok.json",
                    ))
                    .unwrap(),
                    String::new(),
                ),
            )
            .route(
                "/api/users.lookupByEmail",
                axum::routing::get(move |uri: axum::http::Uri| async move {
                    let q: std::collections::HashMap<String, String> =
                        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
                    by_email
                        .calls
                        .lock()
                        .unwrap()
                        .push(("users.lookupByEmail".into(), json!(q)));
                    // The fixture's user has this address; nobody else is in the workspace.
                    let found = q.get("email").map(String::as_str)
                        == Some("spengler@ghostbusters.example.com");
                    let body = if found {
                        std::fs::read_to_string(common::fixture(
                            "payloads/slack/webapi-users.info-ok.json",
                        ))
                        .unwrap()
                    } else {
                        json!({"ok": false, "error": "users_not_found"}).to_string()
                    };
                    ([(header::CONTENT_TYPE, "application/json")], body)
                }),
            )
            .route(
                "/api/views.open",
                record(
                    fake.clone(),
                    "views.open",
                    std::fs::read_to_string(common::fixture(
                        "payloads/slack/webapi-views.open-ok.json",
                    ))
                    .unwrap(),
                    String::new(),
                ),
            )
            .route(
                "/api/users.info",
                axum::routing::any(move |uri: axum::http::Uri, body: Bytes| async move {
                    let mut form: std::collections::HashMap<String, String> =
                        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
                    if let Ok(more) = serde_urlencoded::from_bytes::<
                        std::collections::HashMap<String, String>,
                    >(&body)
                    {
                        form.extend(more);
                    }
                    lookups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    // The fixture's user is W012A3CDE; anyone else is not found.
                    let body = if form.get("user").map(String::as_str) == Some("W012A3CDE") {
                        users_ok
                    } else {
                        users_err
                    };
                    ([(header::CONTENT_TYPE, "application/json")], body)
                }),
            )
            .route(
                "/api/views.publish",
                record(
                    fake.clone(),
                    "views.publish",
                    "{\"ok\": true, \"view\": {\"id\": \"V1\"}}".to_string(),
                    String::new(),
                ),
            )
            .route(
                "/api/chat.postMessage",
                record(
                    fake.clone(),
                    "chat.postMessage",
                    ok.clone(),
                    limited.clone(),
                ),
            )
            .route(
                "/api/conversations.replies",
                history(fake.clone(), "conversations.replies"),
            )
            .route(
                "/api/conversations.history",
                history(fake.clone(), "conversations.history"),
            )
            .route(
                "/api/conversations.open",
                record(
                    fake.clone(),
                    "conversations.open",
                    std::fs::read_to_string(common::fixture(
                        "payloads/slack/webapi-conversations.open-ok.json",
                    ))
                    .unwrap(),
                    String::new(),
                ),
            )
            .route(
                "/api/chat.update",
                record(
                    fake.clone(),
                    "chat.update",
                    std::fs::read_to_string(common::fixture(
                        "payloads/slack/webapi-chat.update-ok.json",
                    ))
                    .unwrap(),
                    String::new(),
                ),
            )
            .route(
                "/api/chat.postEphemeral",
                record(
                    fake.clone(),
                    "chat.postEphemeral",
                    ok.replace("\"ts\"", "\"message_ts\""),
                    limited,
                ),
            );
        let url = format!("{base}/api");
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, url)
    }

    /// The messages posted to a channel (in one thread, if asked), with their metadata, as
    /// Slack's conversations.replies and conversations.history answer.
    pub fn messages(&self, channel: &str, thread: Option<&str>) -> Vec<Value> {
        self.calls()
            .into_iter()
            .enumerate()
            .filter(|(_, (m, b))| m == "chat.postMessage" && b["channel"] == channel)
            .filter(|(_, (_, b))| thread.is_none_or(|t| b["thread_ts"] == t))
            .map(|(i, (_, b))| {
                json!({"type": "message", "ts": format!("1700000000.{i:06}"),
                       "text": b["text"], "thread_ts": b["thread_ts"], "metadata": b["metadata"]})
            })
            .collect()
    }

    pub fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until at least `n` calls arrived (answers are posted after the ack), for 10 s at
    /// most. That nothing more comes is proven with `Harness::settle`, not by waiting longer.
    pub async fn wait_for(&self, n: usize) -> Vec<(String, Value)> {
        for _ in 0..1000 {
            if self.calls().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.calls()
    }
}

/// A fake conversations.replies / conversations.history: records the call, answers with the
/// messages the fake was posted.
fn history(fake: FakeSlack, method: &'static str) -> axum::routing::MethodRouter {
    axum::routing::get(move |uri: axum::http::Uri| async move {
        let q: std::collections::HashMap<String, String> =
            serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
        let channel = q.get("channel").cloned().unwrap_or_default();
        let thread =
            (method == "conversations.replies").then(|| q.get("ts").cloned().unwrap_or_default());
        let messages = fake.messages(&channel, thread.as_deref());
        fake.calls
            .lock()
            .unwrap()
            .push((method.to_string(), json!(q)));
        let body = if fake
            .history_refused
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            json!({"ok": false, "error": "missing_scope"})
        } else {
            json!({"ok": true, "messages": messages, "has_more": false})
        };
        (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
    })
}
