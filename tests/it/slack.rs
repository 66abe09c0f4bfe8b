//! Slack over the Events API, end to end: signed requests into the real HTTP router, answers
//! through the real slack-morphism client into a fake Slack Web API that records every call.

use crate::common;

use common::slack::FakeSlack;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use switchboard::Bot;
use switchboard::chat::slack::signature::sign;
use switchboard::chat::slack::{SlackApp, SlackSettings};
use switchboard::failpoints::Failpoints;
use switchboard::store::Store;
use switchboard::workflows::run::State;
use tower::ServiceExt;

pub(crate) const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

struct Harness {
    bot: Arc<Bot>,
    router: Router,
    fake: FakeSlack,
    slack: SlackApp,
    store: Store,
    _db: common::TestDb,
}

async fn harness_on(db: common::TestDb) -> Harness {
    harness_with(db, &[]).await
}

async fn harness_with(db: common::TestDb, extra: &[String]) -> Harness {
    harness_armed(
        db,
        extra,
        Failpoints::default(),
        Duration::from_secs(300),
        5,
    )
    .await
}

/// A harness whose Slack adapter has these failpoints armed and leaves an event it took to
/// itself for `answer_lease`.
async fn harness_armed(
    db: common::TestDb,
    extra: &[String],
    failpoints: Failpoints,
    answer_lease: Duration,
    dm_limit: usize,
) -> Harness {
    let (fake, api_url) = FakeSlack::start().await;
    let store = Store::connect(&db.url, 2).await.unwrap();
    let mut paths = common::examples();
    paths.extend_from_slice(extra);
    // Workflows as shipped, with the desk that answers them.
    let desk = Arc::new(
        common::shipped_desk(&store)
            .with_audit_channel(Some("C0AUDIT".into()))
            .with_dm_limit(dm_limit),
    );
    let bot = Arc::new(
        Bot::new(
            common::snapshot(&paths),
            common::demo_rotations(),
            Default::default(),
        )
        .with_store(store.clone())
        .with_desk(desk.clone()),
    );
    let settings = SlackSettings {
        api_url,
        bot_token: "xoxb-test".into(),
        signing_secret: SECRET.into(),
        app_token: String::new(),
        channel_interval: Duration::from_millis(200),
        failpoints,
        answer_lease,
    };
    let slack = SlackApp::new(bot.clone(), store.clone(), &settings).unwrap();
    desk.add_outbox(switchboard::chat::Platform::Slack, Arc::new(slack.clone()));
    Harness {
        bot: bot.clone(),
        router: switchboard::http::router(bot, Some(slack.routes())),
        fake,
        slack,
        store,
        _db: db,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Harness {
    async fn send(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        ts: i64,
        signature: Option<String>,
    ) -> (StatusCode, String) {
        let sig = signature.unwrap_or_else(|| sign(SECRET.as_bytes(), ts, body.as_bytes()));
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, content_type)
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sig)
            .body(Body::from(body))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// `/sb` with this (form-encoded) text, in Slack's documented slash-command body.
    async fn command(&self, text: &str) -> (StatusCode, String) {
        let body = std::fs::read_to_string(common::fixture(
            "payloads/slack/slash-command-form-body.txt",
        ))
        .unwrap()
        .replace(
            "command=%2Fhello-world&text=Hi",
            &format!("command=%2Fsb&text={text}"),
        );
        self.send(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            body,
            now(),
            None,
        )
        .await
    }

    /// A click on one of our buttons.
    async fn click(&self, action_id: &str, value: &str, ephemeral: bool) -> (StatusCode, String) {
        let body = click(action_id, value, ephemeral);
        self.send(
            "/slack/interactivity",
            "application/x-www-form-urlencoded",
            body,
            now(),
            None,
        )
        .await
    }

    /// A click by `user` on a button of a regular message (`ts`) in `channel`, as Slack sends
    /// it (its recorded block_actions payload for a channel message).
    async fn click_on(&self, user: &str, channel: &str, ts: &str, value: &str) -> StatusCode {
        let mut p: Value = serde_json::from_str(
            &std::fs::read_to_string(common::fixture(
                "payloads/slack/interactive-block_actions-button-channel-message.json",
            ))
            .unwrap(),
        )
        .unwrap();
        p["user"]["id"] = json!(user);
        p["container"]["channel_id"] = json!(channel);
        p["container"]["message_ts"] = json!(ts);
        p["channel"]["id"] = json!(channel);
        p["message"]["ts"] = json!(ts);
        p["actions"][0]["action_id"] = json!("sb_action");
        p["actions"][0]["value"] = json!(value);
        let body = serde_urlencoded::to_string([("payload", p.to_string())]).unwrap();
        self.send(
            "/slack/interactivity",
            "application/x-www-form-urlencoded",
            body,
            now(),
            None,
        )
        .await
        .0
    }

    /// `user` submits the modal `views.open` opened (its recorded view_submission payload),
    /// with `reason` typed in.
    async fn submit(&self, user: &str, opened: &Value, reason: &str) -> StatusCode {
        let mut p: Value = serde_json::from_str(
            &std::fs::read_to_string(common::fixture(
                "payloads/slack/interactive-view_submission.json",
            ))
            .unwrap(),
        )
        .unwrap();
        p["user"]["id"] = json!(user);
        let view = &opened["view"];
        p["view"]["callback_id"] = view["callback_id"].clone();
        p["view"]["private_metadata"] = view["private_metadata"].clone();
        p["view"]["blocks"] = view["blocks"].clone();
        p["view"]["state"] = json!({"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}});
        let body = serde_urlencoded::to_string([("payload", p.to_string())]).unwrap();
        self.send(
            "/slack/interactivity",
            "application/x-www-form-urlencoded",
            body,
            now(),
            None,
        )
        .await
        .0
    }

    /// The calls of one method.
    fn of(&self, method: &str) -> Vec<Value> {
        self.fake
            .calls()
            .into_iter()
            .filter(|(m, _)| m == method)
            .map(|(_, b)| b)
            .collect()
    }

    /// Waits until every answer under way is done (the adapter is idle): the positive signal
    /// that nothing more will be posted for what was sent so far. Returns every call the fake
    /// received.
    async fn settle(&self) -> Vec<(String, Value)> {
        self.slack.idle().await;
        self.fake.calls()
    }

    async fn event(&self, payload: &Value) -> (StatusCode, String) {
        self.send(
            "/slack/events",
            "application/json",
            payload.to_string(),
            now(),
            None,
        )
        .await
    }
}

/// A Slack request to a served process at `url`, signed as Slack signs it (with Slack's
/// retry headers when `retry`): its status, 0 when it could not be sent.
pub(crate) async fn send_signed(
    client: &reqwest::Client,
    url: &str,
    path: &str,
    content_type: &str,
    body: String,
    retry: bool,
) -> u16 {
    let ts = chrono::Utc::now().timestamp();
    let sig = switchboard::chat::slack::signature::sign(SECRET.as_bytes(), ts, body.as_bytes());
    let mut req = client
        .post(format!("{url}{path}"))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sig);
    if retry {
        req = req
            .header("x-slack-retry-num", "1")
            .header("x-slack-retry-reason", "http_timeout");
    }
    match req.body(body).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Slack's documented app_mention event, mentioning the bot with `text`.
pub(crate) fn mention(text: &str) -> Value {
    let mut payload = docs_json("events-event_callback-app_mention.docs.txt");
    payload["event"]["text"] = json!(text);
    payload
}

/// A harness that dies (fails) at `failpoint` while answering, and leaves the events it took
/// to nobody: the next process may answer them at once.
async fn crashing(db: common::TestDb, failpoint: &str) -> Harness {
    let failpoints = Failpoints::parse(&format!("{failpoint}=error")).unwrap();
    harness_armed(db, &[], failpoints, Duration::ZERO, 5).await
}

/// Slack's documented examples carry trailing commas; this reads them as Slack sends them.
pub(crate) fn docs_json(name: &str) -> Value {
    let text = std::fs::read_to_string(common::fixture(&format!("payloads/slack/{name}"))).unwrap();
    let strict = regex::Regex::new(r",(\s*[}\]])")
        .unwrap()
        .replace_all(&text, "$1")
        .into_owned();
    serde_json::from_str(&strict).unwrap()
}

fn block_texts(v: &Value) -> String {
    v["blocks"].to_string()
}

#[tokio::test]
async fn url_verification_is_answered_with_the_challenge() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            let payload = docs_json("events-url_verification.json");
            let (status, body) = h.event(&payload).await;
            assert_eq!(status, StatusCode::OK);
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["challenge"], payload["challenge"]);
        }
    })
    .await;
}

#[tokio::test]
async fn a_mention_is_answered_in_its_thread() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            let payload = mention("<@U0LAN0Z89> who owns artist-lookup?");
            let (status, _) = h.event(&payload).await;
            assert_eq!(status, StatusCode::OK);
            h.fake.wait_for(1).await;
            let calls = h.settle().await;
            assert_eq!(calls.len(), 1, "{calls:?}");
            let (method, body) = &calls[0];
            assert_eq!(method, "chat.postMessage");
            assert_eq!(body["channel"], "C123ABC456");
            assert_eq!(body["thread_ts"], "1515449522.000016");
            assert_eq!(body["text"], "artist-lookup is owned by team-a");
            let blocks = block_texts(body);
            assert!(blocks.contains("team-a@example.com"), "{blocks}");
            assert!(
                blocks.contains("artist-lookup-component.yaml:1"),
                "provenance in context: {blocks}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_direct_message_is_answered_in_the_dm() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            let mut payload = docs_json("events-event_callback-message.im.docs.txt");
            payload["event"]["text"] = json!("who is on call for artist-lookup");
            h.event(&payload).await;
            h.fake.wait_for(1).await;
            let calls = h.settle().await;
            assert_eq!(calls.len(), 1);
            assert_eq!(calls[0].1["channel"], "D024BE91L");
            assert!(
                calls[0].1["text"]
                    .as_str()
                    .unwrap()
                    .contains("is on call for artist-lookup")
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_retried_event_is_answered_once_even_after_a_restart() {
    common::within(async {
        for db in common::databases().await {
            let url = db.url.clone();
            let h = harness_on(db).await;
            let payload = mention("<@U0LAN0Z89> owner artist-lookup");
            h.event(&payload).await;
            h.event(&payload).await;
            h.fake.wait_for(1).await;
            assert_eq!(h.settle().await.len(), 1);

            // A new process on the same database gets Slack's next retry.
            let again = common::TestDb::reuse(&url);
            let h2 = harness_on(again).await;
            h2.event(&payload).await;
            assert!(h2.settle().await.is_empty());
            assert_eq!(h.settle().await.len(), 1);
        }
    })
    .await;
}

#[tokio::test]
async fn forged_stale_and_missing_signatures_are_rejected_and_nothing_is_posted() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            let payload = mention("<@U0LAN0Z89> who owns artist-lookup");
            let button = std::fs::read_to_string(common::fixture(
                "payloads/slack/interactive-block_actions-button-channel-message.json",
            ))
            .unwrap();
            // Each of the three endpoints: forged, stale and unsigned requests are refused.
            let endpoints = [
                ("/slack/events", "application/json", payload.to_string()),
                (
                    "/slack/commands",
                    "application/x-www-form-urlencoded",
                    "command=%2Fsb&text=who+owns+artist-lookup&user_id=U1&channel_id=C1".into(),
                ),
                (
                    "/slack/interactivity",
                    "application/x-www-form-urlencoded",
                    format!(
                        "payload={}",
                        url::form_urlencoded::byte_serialize(button.as_bytes()).collect::<String>()
                    ),
                ),
            ];
            for (path, kind, body) in endpoints {
                let forged = sign(b"not-the-secret", now(), body.as_bytes());
                let (status, text) = h.send(path, kind, body.clone(), now(), Some(forged)).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
                assert!(text.contains("signature"), "{path}: {text}");
                let stale = now() - 301;
                let (status, _) = h.send(path, kind, body.clone(), stale, None).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} stale");
                let req = Request::post(path).body(Body::from(body)).unwrap();
                assert_eq!(
                    h.router.clone().oneshot(req).await.unwrap().status(),
                    StatusCode::UNAUTHORIZED,
                    "{path} unsigned"
                );
            }
            assert!(h.settle().await.is_empty());
        }
    })
    .await;
}

#[tokio::test]
async fn a_malformed_payload_gets_a_clear_400_and_nothing_is_posted() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            let (status, text) = h
                .send(
                    "/slack/events",
                    "application/json",
                    "{\"type\": 42".into(),
                    now(),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(text.starts_with("malformed Slack event"), "{text}");
            let (status, _) = h
                .send(
                    "/slack/commands",
                    "application/x-www-form-urlencoded",
                    "text=who".into(),
                    now(),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(h.settle().await.is_empty());
        }
    })
    .await;
}

#[tokio::test]
async fn the_slash_command_answers_the_asker_with_a_share_button() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            let (status, text) = h.command("who+owns+artst+lookup").await;
            assert_eq!(status, StatusCode::OK, "{text}");
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["response_type"], "ephemeral");
            assert_eq!(v["text"], "artist-lookup is owned by team-a");
            let blocks = block_texts(&v);
            assert!(
                blocks.contains("closest match"),
                "the inexact match is said: {blocks}"
            );
            assert!(
                blocks.contains("sb1:share:who owns artst lookup"),
                "{blocks}"
            );
            // The answer went back in the response itself.
            assert!(h.settle().await.is_empty());
        }
    })
    .await;
}

/// Slack's block_actions payload, with our button and a message container.
pub(crate) fn click(action_id: &str, value: &str, ephemeral: bool) -> String {
    let mut p: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture(
            "payloads/slack/interactive-block_actions-button-home-tab.json",
        ))
        .unwrap(),
    )
    .unwrap();
    p["container"] = json!({"type": "message", "message_ts": "1515449522.000016", "channel_id": "C123ABC456", "is_ephemeral": ephemeral});
    p["channel"] = json!({"id": "C123ABC456", "name": "general"});
    p.as_object_mut().unwrap().remove("view");
    p["actions"][0]["action_id"] = json!(action_id);
    p["actions"][0]["value"] = json!(value);
    serde_urlencoded::to_string([("payload", p.to_string())]).unwrap()
}

#[tokio::test]
async fn did_you_mean_buttons_answer_the_original_question_for_the_pick() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            let (_, text) = h.command("who+owns+wayback").await;
            let v: Value = serde_json::from_str(&text).unwrap();
            let buttons: Vec<&Value> = v["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|b| b["type"] == "actions")
                .flat_map(|b| b["elements"].as_array().unwrap())
                .filter(|e| e["action_id"] == "sb_action")
                .collect();
            assert!(buttons.len() >= 2, "{text}");
            let pick = buttons
                .iter()
                .find(|b| b["value"] == "sb1:ask:who owns component:default/wayback-archive")
                .expect("a button per candidate, carrying the question");
            let (status, _) = h
                .click("sb_action", pick["value"].as_str().unwrap(), true)
                .await;
            assert_eq!(status, StatusCode::OK);
            h.fake.wait_for(1).await;
            let calls = h.settle().await;
            assert_eq!(calls.len(), 1, "{calls:?}");
            assert_eq!(calls[0].0, "chat.postEphemeral");
            assert_eq!(calls[0].1["user"], "U123");
            assert!(
                calls[0].1["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("wayback-archive is owned by")
            );
        }
    })
    .await;
}

#[tokio::test]
async fn sharing_posts_the_answer_to_the_channel_once() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            let (status, _) = h
                .click("sb_action", "sb1:share:who owns artist-lookup", true)
                .await;
            assert_eq!(status, StatusCode::OK);
            h.fake.wait_for(1).await;
            let calls = h.settle().await;
            assert_eq!(calls.len(), 1);
            assert_eq!(calls[0].0, "chat.postMessage");
            assert_eq!(calls[0].1["channel"], "C123ABC456");
            assert!(block_texts(&calls[0].1).contains("<@U123> asked: who owns artist-lookup"));
        }
    })
    .await;
}

#[tokio::test]
async fn buttons_posted_by_an_earlier_release_still_work() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            h.click("sb_ask", "who owns artist-lookup", true).await;
            h.click("sb_share", "who owns artist-lookup", true).await;
            h.fake.wait_for(2).await;
            let calls = h.settle().await;
            let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
            assert_eq!(methods.len(), 2, "{calls:?}");
            assert!(
                methods.contains(&"chat.postEphemeral") && methods.contains(&"chat.postMessage")
            );
            for (_, body) in &calls {
                assert!(block_texts(body).contains("owned by team-a"), "{body}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn an_out_of_date_button_is_refused_with_its_reason_and_does_nothing() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            // A button of a later release (another version), and one of a verb not known here.
            h.click("sb_action", "sb2:ask:who owns artist-lookup", false)
                .await;
            h.click("sb_action", "sb1:launch:42", false).await;
            h.fake.wait_for(2).await;
            let calls = h.settle().await;
            assert_eq!(calls.len(), 2, "{calls:?}");
            for (method, body) in &calls {
                assert_eq!(method, "chat.postEphemeral");
                assert!(
                    body["text"].as_str().unwrap().contains("out of date"),
                    "{body}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn an_unknown_button_is_answered_with_a_clear_message() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            h.click("home_button_1", "create_task", false).await;
            h.fake.wait_for(1).await;
            let calls = h.settle().await;
            assert_eq!(calls.len(), 1);
            assert_eq!(calls[0].0, "chat.postEphemeral");
            assert!(
                calls[0].1["text"]
                    .as_str()
                    .unwrap()
                    .contains("not one of mine")
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_429_is_waited_out_and_the_reply_still_arrives_once() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            h.fake
                .rate_limit_next
                .store(1, std::sync::atomic::Ordering::SeqCst);
            let payload = mention("<@U0LAN0Z89> who owns artist-lookup");
            h.event(&payload).await;
            // Retry-After is one second: wait for both calls.
            let mut calls = Vec::new();
            for _ in 0..50 {
                calls = h.fake.wait_for(2).await;
                if calls.len() >= 2 {
                    break;
                }
            }
            let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
            assert_eq!(methods, ["chat.postMessage (429)", "chat.postMessage"]);
            assert_eq!(calls[1].1["text"], "artist-lookup is owned by team-a");
        }
    })
    .await;
}

#[tokio::test]
async fn a_burst_in_one_channel_loses_no_answer() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            let questions = [
                "owner artist-lookup",
                "oncall artist-lookup",
                "deps wayback-search",
            ];
            for (i, q) in questions.iter().enumerate() {
                let mut payload = docs_json("events-event_callback-app_mention.docs.txt");
                payload["event_id"] = json!(format!("Ev{i}"));
                payload["event"]["text"] = json!(format!("<@U0LAN0Z89> {q}"));
                h.event(&payload).await;
            }
            h.fake.wait_for(3).await;
            let calls = h.settle().await;
            let texts: Vec<&str> = calls
                .iter()
                .map(|(_, b)| b["text"].as_str().unwrap())
                .collect();
            // Every answer arrives, each once (events are answered concurrently, so in any order).
            assert_eq!(texts.len(), 3, "{texts:?}");
            for part in ["owned by", "on call", "depends on"] {
                assert_eq!(
                    texts.iter().filter(|t| t.contains(part)).count(),
                    1,
                    "{texts:?}"
                );
            }
        }
    })
    .await;
}

fn home_opened(user: &str) -> Value {
    let mut payload = docs_json("events-event_callback-app_mention.docs.txt");
    payload["event_id"] = json!(format!("EvHome{user}{}", now()));
    payload["event"] = json!({"type": "app_home_opened", "user": user, "channel": "D0LAN2Q65", "tab": "home", "event_ts": "1515449522000016"});
    payload
}

#[tokio::test]
async fn app_home_shows_the_viewers_teams_and_what_they_own() {
    common::within(async {
        // The e-mail users.info gives for W012A3CDE belongs to this catalog User.
        let dir = common::catalog_dir(&[(
            "egon.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: egon.spengler\nspec:\n  profile:\n    displayName: Egon Spengler\n    email: Spengler@Ghostbusters.example.com\n  memberOf: [team-a]\n",
        )]);
        for db in common::databases().await {
        let h = harness_with(db, &[dir.path().display().to_string()]).await;
        h.event(&home_opened("W012A3CDE")).await;
        let mut again = home_opened("W012A3CDE");
        again["event_id"] = json!("EvHomeAgain");
        h.event(&again).await;
        h.fake.wait_for(2).await;
        let calls = h.settle().await;
        assert_eq!(calls.len(), 2, "{calls:?}");
        let (method, body) = &calls[0];
        assert_eq!(method, "views.publish");
        assert_eq!(body["user_id"], "W012A3CDE");
        assert_eq!(body["view"]["type"], "home");
        let blocks = body["view"]["blocks"].to_string();
        assert!(blocks.contains("Hi Egon Spengler"), "{blocks}");
        assert!(blocks.contains("team-a owns"), "{blocks}");
        assert!(blocks.contains("artist-lookup (component)"), "{blocks}");
        // users.info is asked once per user, not per event.
        assert_eq!(h.fake.lookups.load(std::sync::atomic::Ordering::SeqCst), 1);
        }
    })
    .await;
}

#[tokio::test]
async fn app_home_tells_an_unknown_user_how_to_be_recognised() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            h.event(&home_opened("U0NOBODY")).await;
            h.fake.wait_for(1).await;
            let calls = h.settle().await;
            assert_eq!(calls.len(), 1);
            let blocks = calls[0].1["view"]["blocks"].to_string();
            assert!(
                blocks.contains("I don't know you in the catalog yet"),
                "{blocks}"
            );
            assert!(blocks.contains("slack.com/user-id: U0NOBODY"), "{blocks}");
        }
    })
    .await;
}

/// Slack escapes `<`, `>` and `&` in what people type; a version range reads as typed.
#[tokio::test]
async fn escaped_comparators_read_as_typed() {
    common::within(async {
        let db = common::databases().await.remove(0);
        let h = harness_on(db).await;
        h.event(&mention("<@U0LAN0Z89> who uses regex &gt;=1.0, &lt; 2.0"))
            .await;
        h.fake.wait_for(1).await;
        let calls = h.settle().await;
        let said = block_texts(&calls[0].1);
        assert!(said.contains("No SBOM lists regex"), "{said}");
    })
    .await;
}

/// A button clicked on an answer inside a thread answers in that thread, and sets what the
/// thread is about: the next question there may leave the entity out.
#[tokio::test]
async fn a_click_inside_a_thread_sets_what_the_thread_is_about() {
    common::within(async {
        let db = common::databases().await.remove(0);
        let h = harness_on(db).await;
        let parent = "1515449000.000001";
        let mut p: Value = serde_json::from_str(
            &std::fs::read_to_string(common::fixture(
                "payloads/slack/interactive-block_actions-button-channel-message.json",
            ))
            .unwrap(),
        )
        .unwrap();
        p["user"]["id"] = json!("U061F7AUR");
        p["container"]["channel_id"] = json!("C123ABC456");
        p["container"]["message_ts"] = json!("1515449600.000002");
        p["channel"]["id"] = json!("C123ABC456");
        p["message"]["ts"] = json!("1515449600.000002");
        p["message"]["thread_ts"] = json!(parent);
        p["actions"][0]["action_id"] = json!("sb_action");
        p["actions"][0]["value"] = json!("sb1:ask:who owns artist-lookup");
        let body = serde_urlencoded::to_string([("payload", p.to_string())]).unwrap();
        h.send(
            "/slack/interactivity",
            "application/x-www-form-urlencoded",
            body,
            now(),
            None,
        )
        .await;
        h.fake.wait_for(1).await;
        let mut follow = mention("<@U0LAN0Z89> and who is on call?");
        follow["event"]["thread_ts"] = json!(parent);
        h.event(&follow).await;
        h.fake.wait_for(2).await;
        let calls = h.settle().await;
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(
            calls.iter().all(|c| c.1["thread_ts"] == parent),
            "{calls:?}"
        );
        let said = block_texts(&calls[1].1);
        assert!(
            said.contains("About artist-lookup, from earlier in this thread."),
            "{said}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_mention_inside_a_thread_is_answered_in_that_thread() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            let mut payload = mention("<@U0LAN0Z89> what depends on wayback-archive");
            payload["event"]["thread_ts"] = json!("1515449000.000001");
            h.event(&payload).await;
            h.fake.wait_for(1).await;
            let calls = h.settle().await;
            assert_eq!(calls.len(), 1);
            assert_eq!(calls[0].1["thread_ts"], "1515449000.000001");
            assert!(block_texts(&calls[0].1).contains("wayback-search"));
        }
    })
    .await;
}

#[tokio::test]
async fn a_post_that_fails_with_500s_is_tried_again_and_delivered_once() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            h.fake
                .fail_next
                .store(2, std::sync::atomic::Ordering::SeqCst);
            let payload = mention("<@U0LAN0Z89> owner artist-lookup");
            h.event(&payload).await;
            h.fake.wait_for(3).await;
            let calls = h.settle().await;
            let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
            assert_eq!(
                methods,
                [
                    "chat.postMessage (500)",
                    "chat.postMessage (500)",
                    "chat.postMessage"
                ],
                "{calls:?}"
            );
            // Recorded as answered: nothing is left to deliver again.
            h.slack.idle().await;
            assert_eq!(h.slack.recover().await.unwrap(), 0);
        }
    })
    .await;
}

#[tokio::test]
async fn an_answer_cut_off_between_ack_and_post_is_delivered_at_the_next_start() {
    common::within(async {
        for db in common::databases().await {
            let url = db.url.clone();
            // The first process takes the event and dies before posting its answer.
            // It leaves nothing to itself: the next process may answer at once.
            let crashed = crashing(db, "before_post").await;
            let payload = mention("<@U0LAN0Z89> owner artist-lookup");
            let (status, _) = crashed.event(&payload).await;
            assert_eq!(status, StatusCode::OK, "acknowledged");
            assert!(crashed.settle().await.is_empty());
            assert_eq!(
                crashed
                    .store
                    .unanswered_events("slack", 0, now())
                    .await
                    .unwrap()
                    .len(),
                1
            );

            // The next process looks in the thread for an answer, finds none, and answers
            // once, in the mention's thread.
            let next = harness_on(common::TestDb::reuse(&url)).await;
            assert_eq!(next.slack.recover().await.unwrap(), 1);
            let calls = next.fake.calls();
            let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
            assert_eq!(
                methods,
                ["conversations.replies", "chat.postMessage"],
                "{calls:?}"
            );
            assert_eq!(calls[1].1["thread_ts"], payload["event"]["ts"]);
            assert!(
                calls[1].1["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("artist-lookup is owned by"),
                "{calls:?}"
            );
            // Slack's own retry of the event, and a second start, change nothing.
            next.event(&payload).await;
            assert_eq!(next.slack.recover().await.unwrap(), 0);
            assert_eq!(next.settle().await.len(), 2);
            assert!(crashed.fake.calls().is_empty());
        }
    })
    .await;
}

/// Posts a signed event to a running bot.
async fn deliver(bot: &common::Served, payload: &Value) -> StatusCode {
    let body = payload.to_string();
    let ts = now();
    let resp = reqwest::Client::new()
        .post(format!("{}/slack/events", bot.url()))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", ts.to_string())
        .header(
            "x-slack-signature",
            sign(SECRET.as_bytes(), ts, body.as_bytes()),
        )
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    StatusCode::from_u16(resp.status().as_u16()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_between_ack_and_post_answers_at_its_next_start_once() {
    common::within(async {
        let (fake, api_url) = FakeSlack::start().await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("switchboard.toml");
        std::fs::write(
            &cfg,
            format!(
                "[database]\nurl = \"sqlite://{}\"\n[catalog.local]\npaths = [\"{}\"]\n\
                 [slack]\nenabled = true\nmode = \"events\"\napi_url = \"{api_url}\"\n\
                 answer_lease_secs = 0\n\
                 [http]\nlisten = \"127.0.0.1:0\"\n",
                dir.path().join("sb.db").display(),
                common::fixture("backstage-examples/all.yaml"),
            ),
        )
        .unwrap();
        let cfg = cfg.to_str().unwrap().to_string();
        let payload = mention("<@U0LAN0Z89> owner artist-lookup");

        let slack_env = |failpoints: &'static str| {
            [
                ("SLACK_BOT_TOKEN", "xoxb-test"),
                ("SLACK_SIGNING_SECRET", SECRET),
                (switchboard::failpoints::ENV, failpoints),
            ]
        };
        // The first process acknowledges the mention, then dies before posting the answer.
        let mut first = tokio::task::block_in_place(|| {
            common::Served::start(&cfg, &slack_env("before_post=exit"))
        });
        assert_eq!(deliver(&first, &payload).await, StatusCode::OK);
        let code = tokio::task::block_in_place(|| first.exit_code());
        assert_eq!(code, Some(86), "the failpoint ended the process");
        assert!(
            fake.calls().iter().all(|(m, _)| m != "chat.postMessage"),
            "{:?}",
            fake.calls()
        );

        // The next process answers it at start-up; Slack's retry of it is not answered again.
        let next = tokio::task::block_in_place(|| common::Served::start(&cfg, &slack_env("")));
        let answer = fake.wait_for(2).await;
        let methods: Vec<&str> = answer.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(
            methods,
            ["conversations.replies", "chat.postMessage"],
            "looked for an answer first, found none, answered"
        );
        assert_eq!(deliver(&next, &payload).await, StatusCode::OK);
        // A later event answered is the signal that the retry above was handled.
        let mut later = payload.clone();
        later["event_id"] = json!("Ev0LATER");
        later["event"]["text"] = json!("<@U0LAN0Z89> owner wayback-search");
        assert_eq!(deliver(&next, &later).await, StatusCode::OK);
        let mut posts = Vec::new();
        for _ in 0..300 {
            posts = fake
                .calls()
                .into_iter()
                .filter(|(m, _)| m == "chat.postMessage")
                .collect();
            if posts.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Neither process logged the bot token or the signing secret.
        first.assert_logged_none_of(&["xoxb-test", SECRET]);
        next.assert_logged_none_of(&["xoxb-test", SECRET]);
        drop(next);
        let texts: Vec<&str> = posts
            .iter()
            .map(|(_, b)| b["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(
            texts[0].starts_with("artist-lookup is owned by"),
            "{texts:?}"
        );
        assert!(
            texts[1].starts_with("wayback-search is owned by"),
            "{texts:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn whoami_in_slack_names_the_user_matched_by_e_mail() {
    common::within(async {
        // The e-mail users.info gives for W012A3CDE belongs to this catalog User.
        let dir = common::catalog_dir(&[(
            "egon.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: egon.spengler\nspec:\n  profile:\n    displayName: Egon Spengler\n    email: Spengler@Ghostbusters.example.com\n  memberOf: [team-a]\n",
        )]);
        for db in common::databases().await {
            let h = harness_with(db, &[dir.path().display().to_string()]).await;
            let mut payload = docs_json("events-event_callback-app_mention.docs.txt");
            payload["event"]["user"] = json!("W012A3CDE");
            payload["event"]["text"] = json!("<@U0LAN0Z89> whoami");
            h.event(&payload).await;
            let calls = h.fake.wait_for(1).await;
            assert_eq!(
                calls[0].1["text"],
                "You are Egon Spengler (user:default/egon.spengler)",
                "{calls:?}"
            );
            assert!(block_texts(&calls[0].1).contains("team-a"), "{calls:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_outbound_port_posts_to_a_channel_and_a_person_and_updates_what_it_posted() {
    use switchboard::outbox::{Destination, MessageRef, Outbox};
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            let c = common::Convo::over(&common::examples());
            let card = c.say("who owns artist-lookup");
            let to_channel = h
                .slack
                .post(&Destination::Channel("C0CARDS".into()), &card)
                .await
                .unwrap();
            let to_person = h
                .slack
                .post(&Destination::User("W012A3CDE".into()), &card)
                .await
                .unwrap();
            // The reference is durable: stored as JSON, read back a day later, still usable.
            let stored = serde_json::to_string(&to_person).unwrap();
            let again: MessageRef = serde_json::from_str(&stored).unwrap();
            let later = c.say("who owns wayback-search");
            h.slack.update(&again, &later).await.unwrap();

            let calls = h.fake.calls();
            let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
            assert_eq!(
                methods,
                [
                    "chat.postMessage",
                    "conversations.open",
                    "chat.postMessage",
                    "chat.update"
                ],
                "{calls:?}"
            );
            assert_eq!(calls[0].1["channel"], "C0CARDS");
            assert_eq!(to_channel.channel, "C0CARDS");
            assert_eq!(calls[1].1["users"], json!(["W012A3CDE"]));
            // The DM channel conversations.open gave, and the ts the post got, are what is
            // updated.
            assert_eq!(calls[2].1["channel"], "D069C7QFK");
            assert_eq!(to_person.channel, "D069C7QFK");
            assert_eq!(calls[3].1["channel"], "D069C7QFK");
            assert_eq!(calls[3].1["ts"], to_person.id.as_str());
            assert!(
                calls[3].1["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("wayback-search is owned by"),
                "{calls:?}"
            );

            // A post refused for good says so, typed, for whoever asked for it to be told.
            *h.fake.refused_channel.lock().unwrap() =
                Some(("C0ARCHIVED".into(), "is_archived".into()));
            let refused = h
                .slack
                .post(&Destination::Channel("C0ARCHIVED".into()), &card)
                .await
                .unwrap_err();
            let why = switchboard::outbox::Undeliverable::of(&refused).expect("a refusal");
            assert_eq!(
                (why.method.as_str(), why.reason.as_str()),
                ("chat.postMessage", "is_archived")
            );
            assert_eq!(h.fake.calls().len(), 5, "refused once, not tried again");
        }
    })
    .await;
}

#[tokio::test]
async fn times_are_asked_and_shown_in_the_slack_users_time_zone() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            // users.info says W012A3CDE is in America/Los_Angeles.
            let mut payload = docs_json("events-event_callback-app_mention.docs.txt");
            payload["event"]["user"] = json!("W012A3CDE");
            payload["event"]["text"] = json!("<@U0LAN0Z89> oncall artist-lookup at 09:00");
            h.event(&payload).await;
            let calls = h.fake.wait_for(1).await;
            let text = calls[0].1["text"].as_str().unwrap();
            let blocks = block_texts(&calls[0].1);
            let pacific = |s: &str| s.contains(" PST") || s.contains(" PDT");
            // 09:00 as the asker reads it, in their zone, and the shift's end too.
            assert!(text.contains(" 09:00 P") && pacific(text), "{text}");
            assert!(blocks.contains("until") && pacific(&blocks), "{blocks}");
            assert!(!blocks.contains(" UTC"), "{blocks}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_crash_between_posting_and_recording_does_not_post_twice() {
    common::within(async {
        for db in common::databases().await {
            let url = db.url.clone();
            // The answer goes out, then the process dies before recording it.
            let crashed = crashing(db, "after_post").await;
            let payload = mention("<@U0LAN0Z89> owner artist-lookup");
            crashed.event(&payload).await;
            let first = crashed.settle().await;
            assert_eq!(first.len(), 1, "{first:?}");
            assert_eq!(
                first[0].1["metadata"]["event_payload"]["event_id"],
                payload["event_id"]
            );

            // The next process finds the answer in the thread, by its key, and posts nothing.
            let next = harness_on(common::TestDb::reuse(&url)).await;
            // The same Slack: what was posted before is in the thread.
            next.fake.calls.lock().unwrap().extend(first.clone());
            assert_eq!(next.slack.recover().await.unwrap(), 1);
            let calls = next.settle().await;
            let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
            assert_eq!(
                methods,
                ["chat.postMessage", "conversations.replies"],
                "{calls:?}"
            );
            assert_eq!(calls[1].1["ts"], payload["event"]["ts"]);
            // And it is recorded now: nothing is left to recover.
            assert_eq!(next.slack.recover().await.unwrap(), 0);
        }
    })
    .await;
}

#[tokio::test]
async fn an_event_taken_over_is_answered_even_when_its_conversation_cannot_be_read() {
    common::within(async {
        for db in common::databases().await {
            let url = db.url.clone();
            let crashed = crashing(db, "before_post").await;
            let payload = mention("<@U0LAN0Z89> owner artist-lookup");
            crashed.event(&payload).await;
            assert!(crashed.settle().await.is_empty());
            // The app lacks the history scope: better an answer that might repeat than none.
            let next = harness_on(common::TestDb::reuse(&url)).await;
            next.fake
                .history_refused
                .store(true, std::sync::atomic::Ordering::SeqCst);
            assert_eq!(next.slack.recover().await.unwrap(), 1);
            let calls = next.settle().await;
            let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
            assert_eq!(
                methods,
                ["conversations.replies", "chat.postMessage"],
                "{calls:?}"
            );
            assert_eq!(next.slack.recover().await.unwrap(), 0);
        }
    })
    .await;
}

#[tokio::test]
async fn an_answer_slack_refuses_for_good_is_not_retried_and_the_asker_is_told_by_dm() {
    common::within(async {
        for db in common::databases().await {
            // No lease: an event left unanswered could be taken again at once.
            let h = harness_armed(db, &[], Failpoints::default(), Duration::ZERO, 5).await;
            *h.fake.refused_channel.lock().unwrap() =
                Some(("C123ABC456".into(), "not_in_channel".into()));
            h.event(&mention("<@U0LAN0Z89> who owns artist-lookup"))
                .await;
            h.fake.wait_for(3).await;
            let calls = h.settle().await;
            let methods: Vec<&str> = calls.iter().map(|(m, _)| m.as_str()).collect();
            assert_eq!(
                methods,
                [
                    "chat.postMessage (not_in_channel)",
                    "conversations.open",
                    "chat.postMessage"
                ],
                "refused once, not retried; the asker told instead"
            );
            assert_eq!(calls[1].1["users"], json!(["U061F7AUR"]));
            assert_eq!(calls[2].1["channel"], "D069C7QFK");
            let told = calls[2].1["text"].as_str().unwrap();
            assert!(
                told.contains("<#C123ABC456>") && told.contains("`not_in_channel`"),
                "{told}"
            );
            assert_eq!(h.slack.undelivered(), 1, "counted");
            // Recorded as done with: nothing is left for recovery to try again.
            assert_eq!(h.slack.recover().await.unwrap(), 0);
            assert_eq!(h.fake.calls().len(), 3);
        }
    })
    .await;
}

#[tokio::test]
async fn a_refusal_that_can_be_put_right_leaves_the_answer_to_be_delivered_later() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_armed(db, &[], Failpoints::default(), Duration::ZERO, 5).await;
            // A revoked token is fixed by an operator, not by the channel: keep the answer.
            *h.fake.refused_channel.lock().unwrap() =
                Some(("C123ABC456".into(), "token_revoked".into()));
            h.event(&mention("<@U0LAN0Z89> who owns artist-lookup"))
                .await;
            h.fake.wait_for(1).await;
            let calls = h.settle().await;
            assert_eq!(
                calls.len(),
                1,
                "no DM for a refusal that is not the channel's: {calls:?}"
            );
            assert_eq!(h.slack.undelivered(), 0);
            *h.fake.refused_channel.lock().unwrap() = None;
            assert_eq!(
                h.slack.recover().await.unwrap(),
                1,
                "delivered once put right"
            );
            let calls = h.fake.calls();
            let last = calls.last().unwrap();
            assert_eq!(last.0, "chat.postMessage");
            assert!(last.1["text"].as_str().unwrap().contains("artist-lookup"));
        }
    })
    .await;
}

#[tokio::test]
async fn did_you_mean_buttons_about_long_names_carry_the_whole_question_on_slack() {
    common::within(async {
        for db in common::databases().await {
            let dir = common::catalog_dir(&[("ledgers.yaml", common::LONG_NAMES)]);
            let extra = [dir.path().display().to_string()];
            let h = harness_with(db, &extra).await;
            let (_, text) = h
                .command("oncall+payments-reconciliation-ledger-service+at+2026-12-02+09:00")
                .await;
            let v: Value = serde_json::from_str(&text).unwrap();
            let values: Vec<String> = v["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|b| b["type"] == "actions")
                .flat_map(|b| b["elements"].as_array().unwrap().clone())
                .map(|e| e["value"].as_str().unwrap().to_string())
                .filter(|v| !v.starts_with("sb1:share:"))
                .collect();
            // Over Discord's 100 characters, well within Slack's 2,000: carried as they are.
            assert!(values.len() >= 2, "{text}");
            assert!(
                values
                    .iter()
                    .all(|v| v.len() > 100 && v.starts_with("sb1:ask:oncall component:")),
                "{values:?}"
            );
            h.click("sb_action", &values[0], true).await;
            h.fake.wait_for(1).await;
            let calls = h.settle().await;
            assert_eq!(calls.len(), 1, "{calls:?}");
            let answer = calls[0].1["text"].as_str().unwrap();
            assert!(
                answer.contains("payments-reconciliation-ledger-service-"),
                "the question asked, about the pick: {answer}"
            );
        }
    })
    .await;
}

/// Team A: ray (matched by his Slack id) requests; egon (found by e-mail) and winston (by his
/// Slack id) may approve. The audit channel is C0AUDIT.
fn team_a() -> tempfile::TempDir {
    common::catalog_dir(&[(
        "people.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: ray.stantz\n  annotations:\n    slack.com/user-id: U061F7AUR\nspec:\n  memberOf: [team-a]\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: egon.spengler\nspec:\n  profile:\n    email: spengler@ghostbusters.example.com\n  memberOf: [team-a]\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: winston.zeddemore\n  annotations:\n    slack.com/user-id: U0WINSTON\nspec:\n  memberOf: [team-a]\n",
    )])
}

/// Ray asks for register-component in the mention's thread; returns once every card is out.
async fn requested_by_ray(h: &Harness) {
    let mut request = mention("<@U0LAN0Z89> run register-component name=ghost-trap owner=team-a");
    request["event_id"] = json!("Ev0REQUEST");
    assert_eq!(h.event(&request).await.0, StatusCode::OK);
    h.fake.wait_for(1).await;
    h.settle().await;
}

/// The copy of run 1's card for `who` (None: the requester's, where he asked).
async fn card_for(h: &Harness, who: &str) -> switchboard::store::Card {
    h.store
        .cards(1)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.recipient.as_deref() == Some(who))
        .unwrap_or_else(|| panic!("no card for {who}"))
}

/// The text of the last edit of each card copy of run 1, in the order they were posted.
async fn card_texts(h: &Harness) -> Vec<String> {
    let updates = h.of("chat.update");
    let mut out = Vec::new();
    for c in h.store.cards(1).await.unwrap() {
        let last = updates
            .iter()
            .rev()
            .find(|u| u["channel"] == c.at.channel && u["ts"] == c.at.id)
            .map(|u| u["text"].as_str().unwrap().to_string())
            .unwrap_or_default();
        out.push(last);
    }
    out
}

/// What the bot said to `user` alone, last.
/// Egon clicks Approve on his copy of run 1's card: what he is told, once it is answered.
async fn egon_approves(h: &Harness, egon: &switchboard::store::Card) -> String {
    h.click_on("W012A3CDE", &egon.at.channel, &egon.at.id, "sb1:approve:1")
        .await;
    h.settle().await;
    last_said_to(h, "W012A3CDE")
}

fn last_said_to(h: &Harness, user: &str) -> String {
    h.of("chat.postEphemeral")
        .iter()
        .rev()
        .find(|b| b["user"] == user)
        .map(|b| b["text"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_approval_card_is_posted_and_dmed_decided_by_button_and_every_copy_kept_up_to_date() {
    common::within(async {
        let dir = team_a();
        for db in common::databases().await {
            let h = harness_with(db, &[dir.path().display().to_string()]).await;
            requested_by_ray(&h).await;
            let posts = h.of("chat.postMessage");
            // The card in the thread where it was asked, then the answer pointing at it.
            let here: Vec<&Value> = posts
                .iter()
                .filter(|b| b["channel"] == "C123ABC456")
                .collect();
            assert_eq!(here.len(), 2, "{posts:?}");
            assert_eq!(
                here[0]["text"],
                "Approval needed: register-component on group:default/team-a (run 1)"
            );
            assert_eq!(here[0]["thread_ts"], "1515449522.000016");
            let card = here[0]["blocks"].to_string();
            for shown in [
                "ghost-trap",
                "Owners",
                "Blast radius",
                "Expires",
                "Asked",
                "user:default/egon.spengler",
                "user:default/winston.zeddemore",
                "catalog.register",
                "kind: Component",
                "\"sb1:approve:1\"",
                "\"sb1:deny:1\"",
                "\"sb1:details:1\"",
            ] {
                assert!(card.contains(shown), "{shown} is not on the card: {card}");
            }
            assert!(
                here[1]["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("Run 1 of register-component awaits approval")
            );
            assert!(
                here[1]["blocks"]
                    .to_string()
                    .contains("The card above follows the run"),
                "{}",
                here[1]
            );
            // Each approver by DM (egon found by his e-mail), never the requester.
            let asked: Vec<String> = h
                .of("conversations.open")
                .iter()
                .map(|b| b["users"].to_string())
                .collect();
            assert_eq!(asked.len(), 2, "{asked:?}");
            assert!(
                asked[0].contains("W012A3CDE") && asked[1].contains("U0WINSTON"),
                "{asked:?}"
            );
            assert_eq!(
                posts.iter().filter(|b| b["channel"] == "D069C7QFK").count(),
                2
            );
            assert_eq!(h.store.cards(1).await.unwrap().len(), 3);

            // Egon approves from his DM: told alone, and every copy shows it.
            let egon = card_for(&h, "user:default/egon.spengler").await;
            assert_eq!(
                egon_approves(&h, &egon).await,
                "Run 1 is approved; it runs now"
            );
            for text in card_texts(&h).await {
                assert_eq!(
                    text,
                    "Run 1 of register-component on group:default/team-a: approved"
                );
            }
            let told: Vec<Value> = h
                .of("chat.postMessage")
                .into_iter()
                .filter(|b| {
                    b["thread_ts"] == "1515449522.000016"
                        && b["text"]
                            .as_str()
                            .unwrap()
                            .contains("was approved by user:default/egon.spengler")
                })
                .collect();
            assert_eq!(told.len(), 1, "the requester is told in his thread");
            // A double click changes nothing and says how the run stands.
            assert!(
                egon_approves(&h, &egon).await.starts_with(
                    "Run 1 no longer awaits a decision (now approved); nothing changed"
                )
            );
            let run = h.store.load_run(1).await.unwrap().unwrap();
            assert_eq!(run.approvals.len(), 1);

            // Winston's card is stale now: his click says so and changes nothing.
            let winston = card_for(&h, "user:default/winston.zeddemore").await;
            h.click_on(
                "U0WINSTON",
                &winston.at.channel,
                &winston.at.id,
                "sb1:approve:1",
            )
            .await;
            h.settle().await;
            assert!(
                last_said_to(&h, "U0WINSTON").starts_with(
                    "Run 1 no longer awaits a decision (now approved); nothing changed"
                )
            );
            // Details: the run's status, to the clicker alone.
            h.click_on(
                "U0WINSTON",
                &winston.at.channel,
                &winston.at.id,
                "sb1:details:1",
            )
            .await;
            h.settle().await;
            assert!(
                last_said_to(&h, "U0WINSTON").starts_with("Run 1 of register-component: approved")
            );
            let run = h.store.load_run(1).await.unwrap().unwrap();
            assert_eq!((run.state, run.approvals.len()), (State::Approved, 1));
            // The worker runs it; every copy shows each step and then the end.
            let desk = h.bot.desk().unwrap();
            while desk.work_once(&h.bot).await.unwrap() {}
            for text in card_texts(&h).await {
                assert_eq!(
                    text,
                    "Run 1 of register-component on group:default/team-a: succeeded"
                );
            }
            let running = h
                .of("chat.update")
                .iter()
                .filter(|u| u["text"].as_str().unwrap().contains("running, step 1 of 1"))
                .count();
            assert!(running >= 3, "each copy showed the step running");
            // The audit channel followed the run, each post with the audit log's head then.
            let audit: Vec<Value> = h
                .of("chat.postMessage")
                .into_iter()
                .filter(|b| b["channel"] == "C0AUDIT")
                .collect();
            assert_eq!(audit.len(), 3, "requested, approved, succeeded: {audit:?}");
            let head = h.store.audit_head().await.unwrap();
            assert!(
                audit[2]["blocks"]
                    .to_string()
                    .contains(&format!("audit head {head}"))
            );
            // The new component is answered at once.
            let mut ask = mention("<@U0LAN0Z89> who owns ghost-trap");
            ask["event_id"] = json!("Ev0ASK");
            h.event(&ask).await;
            h.settle().await;
            let last = h.of("chat.postMessage").pop().unwrap();
            assert!(
                last["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("ghost-trap is owned by"),
                "{last}"
            );
        }
    })
    .await;
}

/// An approval clicked while the database is cut is not half done: the approver is told the
/// database does not answer, the run still awaits approval and the audit log holds nothing
/// more. Clicked again once the database is back, it counts once.
#[tokio::test(flavor = "multi_thread")]
async fn an_approval_clicked_while_the_database_is_cut_is_refused_with_a_message_then_counts_once()
{
    common::within(async {
        // PostgreSQL only: a network can cut it (through a proxy of the test's own).
        let Some(mut db) = common::postgres().await else {
            return;
        };
        let (proxy, through) = crate::faults::proxied(&db.url).await;
        db.url = through;
        let dir = team_a();
        let h = harness_with(db, &[dir.path().display().to_string()]).await;
        requested_by_ray(&h).await;
        let approvals = |h: &Harness| {
            let store = h.store.clone();
            async move {
                let entries = store.audit_entries(0, 100).await.unwrap();
                let approved = entries
                    .iter()
                    .filter(|e| e.event.action == "run.approved")
                    .count();
                (entries.len(), approved)
            }
        };
        let (audited, approved) = approvals(&h).await;
        assert_eq!(approved, 0);
        let egon = card_for(&h, "user:default/egon.spengler").await;

        proxy.cut();
        let click = h
            .click_on("W012A3CDE", &egon.at.channel, &egon.at.id, "sb1:approve:1")
            .await;
        assert_eq!(
            click,
            StatusCode::OK,
            "a click is acknowledged; its answer comes after"
        );
        h.settle().await;
        let said = last_said_to(&h, "W012A3CDE");
        assert!(
            said.starts_with("My database does not answer just now, so I could not do this."),
            "{said}"
        );
        assert!(said.contains("reference "), "{said}");

        proxy.restore();
        let run = h.store.load_run(1).await.unwrap().unwrap();
        assert_eq!(
            (run.state, run.approvals.len()),
            (State::AwaitingApproval, 0)
        );
        assert_eq!(approvals(&h).await, (audited, 0), "nothing was recorded");

        assert_eq!(
            egon_approves(&h, &egon).await,
            "Run 1 is approved; it runs now"
        );
        let run = h.store.load_run(1).await.unwrap().unwrap();
        assert_eq!((run.state, run.approvals.len()), (State::Approved, 1));
        assert_eq!(approvals(&h).await.1, 1);
    })
    .await;
}

#[tokio::test]
async fn deny_opens_a_form_for_the_reason_and_the_requester_is_told_it() {
    common::within(async {
        let dir = team_a();
        for db in common::databases().await {
            let h = harness_with(db, &[dir.path().display().to_string()]).await;
            requested_by_ray(&h).await;
            let winston = card_for(&h, "user:default/winston.zeddemore").await;
            h.click_on("U0WINSTON", &winston.at.channel, &winston.at.id, "sb1:deny:1").await;
            h.settle().await;
            // Nothing is decided by the click: it opens the form, on the click's trigger.
            let opened = h.of("views.open");
            assert_eq!(opened.len(), 1);
            assert_eq!(opened[0]["trigger_id"], "111.222.xxx");
            let mut opened = opened[0].clone();
            if let Some(s) = opened["view"].as_str() {
                opened["view"] = serde_json::from_str(s).unwrap();
            }
            assert_eq!(opened["view"]["title"]["text"], "Deny run 1");
            assert_eq!(opened["view"]["blocks"][0]["element"]["action_id"], "reason");
            assert_eq!(h.store.load_run(1).await.unwrap().unwrap().state, State::AwaitingApproval);
            // A blank reason is refused, and still nothing is decided.
            h.submit("U0WINSTON", &opened, "   ").await;
            h.settle().await;
            assert!(last_said_to(&h, "U0WINSTON").starts_with("Say why"), "{}", last_said_to(&h, "U0WINSTON"));
            assert_eq!(h.store.load_run(1).await.unwrap().unwrap().state, State::AwaitingApproval);
            // The reason given denies it: said to Winston, shown on every copy, told to Ray.
            h.submit("U0WINSTON", &opened, "not during the freeze\nwait for Monday").await;
            h.settle().await;
            assert_eq!(last_said_to(&h, "U0WINSTON"), "Run 1 is denied; the requester is told why");
            let run = h.store.load_run(1).await.unwrap().unwrap();
            assert_eq!((run.state, run.reason.as_deref()), (State::Denied, Some("not during the freeze\nwait for Monday")));
            for text in card_texts(&h).await {
                assert_eq!(text, "Run 1 of register-component on group:default/team-a: denied");
            }
            let updated = h.of("chat.update").pop().unwrap()["blocks"].to_string();
            assert!(updated.contains("not during the freeze") && !updated.contains("sb1:approve:1"), "{updated}");
            let told = h.of("chat.postMessage").into_iter().filter(|b| b["thread_ts"] == "1515449522.000016").any(|b| {
                b["text"] == "Run 1 of register-component was denied by user:default/winston.zeddemore: not during the freeze\nwait for Monday"
            });
            assert!(told);
        }
    })
    .await;
}

#[tokio::test]
async fn past_the_dm_limit_the_card_goes_to_the_teams_channel_and_to_the_requester_when_not_where_asked()
 {
    common::within(async {
        // A team with a channel, more of whose members may approve than the limit of one.
        let dir = common::catalog_dir(&[(
            "ghostbusters.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: ghostbusters\n  annotations:\n    slack.com/channel-id: C0GHOSTS\nspec:\n  type: team\n  children: []\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: ray.stantz\n  annotations:\n    slack.com/user-id: U061F7AUR\nspec:\n  memberOf: [ghostbusters]\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: egon.spengler\n  annotations:\n    slack.com/user-id: U0EGON\nspec:\n  memberOf: [ghostbusters]\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: winston.zeddemore\n  annotations:\n    slack.com/user-id: U0WINSTON\nspec:\n  memberOf: [ghostbusters]\n",
        )]);
        for db in common::databases().await {
            let h = harness_armed(db, &[dir.path().display().to_string()], Failpoints::default(), Duration::from_secs(300), 1).await;
            // The bot is not in the channel where Ray asks.
            *h.fake.refused_channel.lock().unwrap() = Some(("C123ABC456".into(), "not_in_channel".into()));
            let mut request = mention("<@U0LAN0Z89> run register-component name=ecto-1 owner=ghostbusters");
            request["event_id"] = json!("Ev0REQUEST");
            h.event(&request).await;
            h.fake.wait_for(1).await;
            h.settle().await;
            let posts = h.of("chat.postMessage");
            let cards: Vec<&Value> = posts
                .iter()
                .filter(|b| b["text"] == "Approval needed: register-component on group:default/ghostbusters (run 1)")
                .collect();
            let channels: Vec<&str> = cards.iter().map(|b| b["channel"].as_str().unwrap()).collect();
            assert_eq!(channels, ["D069C7QFK", "C0GHOSTS"], "to Ray by DM, then the team's channel: {posts:?}");
            let opened: Vec<String> = h.of("conversations.open").iter().map(|b| b["users"].to_string()).collect();
            assert!(opened.iter().all(|u| u.contains("U061F7AUR")), "no approver is DMed: {opened:?}");
            let kept = h.store.cards(1).await.unwrap();
            assert_eq!(kept.len(), 2);
            assert_eq!(kept[1].recipient, None);
            // Egon approves in the channel; both copies follow.
            h.click_on("U0EGON", "C0GHOSTS", &kept[1].at.id, "sb1:approve:1").await;
            h.settle().await;
            for text in card_texts(&h).await {
                assert_eq!(text, "Run 1 of register-component on group:default/ghostbusters: approved");
            }
        }
    })
    .await;
}

/// Winston's Discord id: he is on both platforms.
const WINSTON_ON_DISCORD: &str = "80351110224678912";

#[tokio::test]
async fn a_run_asked_in_slack_is_approved_from_discord_where_the_approver_was_last_active() {
    common::within(async {
        let people = "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: ray.stantz\n  annotations:\n    slack.com/user-id: U061F7AUR\nspec:\n  memberOf: [team-a]\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: winston.zeddemore\n  annotations:\n    slack.com/user-id: U0WINSTON\n    discord.com/user-id: \"80351110224678912\"\nspec:\n  memberOf: [team-a]\n";
        let dir = common::catalog_dir(&[("people.yaml", people)]);
        for db in common::databases().await {
            let mut h = harness_with(db, &[dir.path().display().to_string()]).await;
            // The same Switchboard on Discord too.
            let (discord_fake, api_url) = crate::discord::FakeDiscord::start().await;
            let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
            let discord = switchboard::chat::discord::app::DiscordApp::new(
                h.bot.clone(),
                &switchboard::chat::discord::app::DiscordSettings {
                    api_url,
                    token: "fake-bot-token".into(),
                    public_key: Some(hex::encode(key.verifying_key().to_bytes())),
                    application_id: crate::discord::APPLICATION,
                    inline: Duration::from_secs(2),
                    role_groups: Default::default(),
                },
            )
            .unwrap();
            h.bot.desk().unwrap().add_outbox(
                switchboard::chat::Platform::Discord,
                Arc::new(discord.clone()),
            );
            h.router = switchboard::http::router(
                h.bot.clone(),
                Some(h.slack.routes().merge(discord.routes())),
            );
            let as_winston = |id: &str, custom_id: Option<&str>| {
                let mut i = match custom_id {
                    Some(c) => crate::discord::button(id, c, None),
                    None => {
                        let mut i = crate::discord::fixture("docs-interaction-application-command-chat-input.json");
                        i["data"]["name"] = json!("sb");
                        i["data"]["options"] = json!([{"type": 2, "name": "ask", "options": [{"type": 1, "name": "whoami", "options": []}]}]);
                        i
                    }
                };
                i["id"] = json!(id);
                i["member"] = json!({"user": {"id": WINSTON_ON_DISCORD, "username": "winston", "discriminator": "0001"}});
                i
            };
            // Winston was last active on Discord.
            let (_, me) = crate::discord::interact(&h.router, &key, &as_winston("900000000000000001", None), now(), None).await;
            assert!(me.to_string().contains("winston.zeddemore"), "{me}");

            requested_by_ray(&h).await;
            // His card went to Discord, by DM; none to him on Slack.
            tokio::time::timeout(Duration::from_secs(10), discord.idle()).await.unwrap();
            let on_discord = discord_fake.calls();
            let dm = on_discord
                .iter()
                .find(|(m, p, _)| m == "POST" && p == "/api/v10/users/@me/channels")
                .expect("a DM channel opened on Discord");
            assert_eq!(dm.2["recipient_id"], WINSTON_ON_DISCORD);
            let card = card_for(&h, "user:default/winston.zeddemore").await;
            assert_eq!(card.at.platform, switchboard::chat::Platform::Discord);
            assert!(
                h.of("conversations.open").iter().all(|b| !b.to_string().contains("U0WINSTON")),
                "not written to on Slack"
            );

            // He approves from Discord: the copy in Slack and his copy in Discord are edited.
            let (_, approved) = crate::discord::interact(&h.router, &key, &as_winston("900000000000000002", Some("sb1:approve:1")), now(), None).await;
            assert_eq!(approved["data"]["embeds"][0]["title"], "Run 1 is approved; it runs now", "{approved}");
            tokio::time::timeout(Duration::from_secs(10), discord.idle()).await.unwrap();
            h.settle().await;
            let ray = card_for(&h, "user:default/ray.stantz").await;
            let slack_edit = h
                .of("chat.update")
                .into_iter()
                .rev()
                .find(|u| u["channel"] == ray.at.channel && u["ts"] == ray.at.id)
                .expect("the card in Slack is edited");
            assert!(block_texts(&slack_edit).contains("approved"), "{slack_edit}");
            let discord_edit = discord_fake
                .calls()
                .into_iter()
                .rev()
                .find(|(m, p, _)| m == "PATCH" && p == &format!("/api/v10/channels/{}/messages/{}", card.at.channel, card.at.id))
                .expect("the card in Discord is edited");
            assert_eq!(
                discord_edit.2["embeds"][0]["title"],
                "Run 1 of register-component on group:default/team-a: approved"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_blast_radius_graph_is_shared_through_slacks_upload_flow_beside_its_answer() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_on(db).await;
            // Without --graph, a button offers the picture.
            h.event(&mention("<@U0LAN0Z89> dependents wayback-archive"))
                .await;
            h.fake.wait_for(1).await;
            let calls = h.settle().await;
            assert_eq!(calls.len(), 1, "{calls:?}");
            assert!(
                block_texts(&calls[0].1)
                    .contains("sb1:ask:dependents component:default/wayback-archive --graph"),
                "{}",
                block_texts(&calls[0].1)
            );
            let mut payload = mention("<@U0LAN0Z89> dependents wayback-archive --graph");
            payload["event_id"] = json!("Ev0GRAPH");
            h.event(&payload).await;
            h.fake.wait_for(5).await;
            let calls = h.settle().await;
            let methods: Vec<&str> = calls[1..].iter().map(|(m, _)| m.as_str()).collect();
            assert_eq!(
                methods,
                [
                    "chat.postMessage",
                    "files.getUploadURLExternal",
                    "upload",
                    "files.completeUploadExternal"
                ],
                "{calls:?}"
            );
            assert_eq!(calls[2].1["filename"], "wayback-archive-blast-radius.png");
            let png = h.fake.uploads.lock().unwrap()[0].clone();
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG was uploaded");
            assert_eq!(calls[2].1["length"], png.len().to_string());
            let done = &calls[4].1;
            assert_eq!(done["channel_id"], "C123ABC456", "{done}");
            assert_eq!(done["thread_ts"], "1515449522.000016", "{done}");
            assert_eq!(done["files"][0]["id"], "F2910294A", "{done}");
        }
    })
    .await;
}
