//! Slack over Socket Mode, end to end: the real slack-morphism Socket Mode client opens a
//! connection through a fake `apps.connections.open`, receives envelopes from a fake Slack
//! WebSocket server, acknowledges them, survives a `disconnect`, and answers each event once.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::post;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard::Bot;
use switchboard::chat::slack::{SlackApp, SlackSettings};
use switchboard::store::Store;
use tokio_tungstenite::tungstenite::Message;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(common::fixture(&format!("payloads/slack/{name}"))).unwrap()
}

#[derive(Default)]
struct Recorded {
    opens: AtomicUsize,
    posts: Mutex<Vec<Value>>,
    acks: Mutex<Vec<String>>,
    /// Every acknowledgement as sent (they may carry a response payload).
    ack_bodies: Mutex<Vec<Value>>,
}

/// How the fake ends the first connection once its envelope is acknowledged.
#[derive(Clone, Copy, PartialEq)]
enum FirstConnection {
    /// Slack's `disconnect` message.
    Disconnect,
    /// The TCP connection just drops.
    Drop,
}

/// Starts the fake: a Web API (apps.connections.open, chat.postMessage) and a Socket Mode
/// WebSocket server. Connection 1 gets hello, an app_mention envelope, then `disconnect`;
/// every later connection gets hello and the same event again, as Slack redelivers.
async fn start_fake(envelope: Value, first: FirstConnection) -> (Arc<Recorded>, String) {
    let rec = Arc::new(Recorded::default());
    let ws = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_url = format!(
        "ws://{}/link/?ticket=12348&app_id=5678",
        ws.local_addr().unwrap()
    );
    let r = rec.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let (tcp, _) = ws.accept().await.unwrap();
            n += 1;
            let r = r.clone();
            let mut envelope = envelope.clone();
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                ws.send(Message::text(fixture("socketmode-hello.json")))
                    .await
                    .unwrap();
                envelope["envelope_id"] = json!(format!("envelope-{n}"));
                ws.send(Message::text(envelope.to_string())).await.unwrap();
                while let Some(Ok(msg)) = ws.next().await {
                    if let Message::Text(t) = msg {
                        let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                        if let Some(id) = v["envelope_id"].as_str() {
                            r.acks.lock().unwrap().push(id.to_string());
                            r.ack_bodies.lock().unwrap().push(v.clone());
                            if n == 1 && first == FirstConnection::Drop {
                                return; // the socket drops, with no close frame
                            }
                            if n == 1 {
                                ws.send(Message::text(fixture(
                                    "socketmode-disconnect-too_many_websockets.json",
                                )))
                                .await
                                .unwrap();
                            }
                        }
                    }
                }
            });
        }
    });
    let open = fixture("webapi-apps.connections.open-ok.json").replace(
        "wss://wss-somethiing.slack.com/link/?ticket=12348&app_id=5678",
        &ws_url,
    );
    let ok = fixture("webapi-chat.postMessage-ok.json");
    let (r1, r2) = (rec.clone(), rec.clone());
    let api = Router::new()
        .route(
            "/api/apps.connections.open",
            post(move || async move {
                r1.opens.fetch_add(1, Ordering::SeqCst);
                ([(header::CONTENT_TYPE, "application/json")], open)
            }),
        )
        .route(
            "/api/chat.postMessage",
            post(move |body: Bytes| async move {
                r2.posts
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                ([(header::CONTENT_TYPE, "application/json")], ok)
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api).await.unwrap() });
    (rec, url)
}

/// Starts a bot on Socket Mode against the fake; the adapter is returned to wait on.
async fn start_bot(api_url: String, db: common::TestDb) -> SlackApp {
    let store = Store::connect(&db.url, 2).await.unwrap();
    let bot = Arc::new(Bot::new(
        common::snapshot(&common::examples()),
        common::demo_rotations(),
        Default::default(),
    ));
    let settings = SlackSettings {
        api_url,
        bot_token: "xoxb-test".into(),
        signing_secret: String::new(),
        app_token: "xapp-test".into(),
        channel_interval: Duration::ZERO,
        failpoints: Default::default(),
        answer_lease: Duration::from_secs(300),
    };
    let app = SlackApp::new(bot, store, &settings).unwrap();
    let running = app.clone();
    tokio::spawn(async move {
        let _db = db;
        running.run_socket_mode("xapp-test", 1).await
    });
    app
}

/// Waits until `n` envelopes were acknowledged (30 s at most). The client acknowledges an
/// envelope after its callback returned, so by then a redelivery was already turned away.
async fn wait_for_acks(rec: &Recorded, n: usize) -> Vec<String> {
    for _ in 0..600 {
        if rec.acks.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rec.acks.lock().unwrap().clone()
}

/// Waits until at least `n` messages were posted (10 s at most).
async fn wait_for_posts(rec: &Recorded, n: usize) -> Vec<Value> {
    for _ in 0..500 {
        if rec.posts.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rec.posts.lock().unwrap().clone()
}

fn mention_envelope() -> Value {
    let mut envelope: Value =
        serde_json::from_str(&fixture("socketmode-events_api-app_mention-envelope.json")).unwrap();
    envelope["payload"]["event"]["text"] = json!("<@U111> who owns artist-lookup");
    envelope
}

async fn acks_reconnects_and_answers_once(first: FirstConnection) {
    for db in common::databases().await {
        let (rec, api_url) = start_fake(mention_envelope(), first).await;
        let app = start_bot(api_url, db).await;
        // Both connections' envelopes are acknowledged; the client reconnected in between.
        let acks = wait_for_acks(&rec, 2).await;
        assert!(
            acks.contains(&"envelope-1".to_string()) && acks.contains(&"envelope-2".to_string()),
            "{acks:?}"
        );
        assert!(
            rec.opens.load(Ordering::SeqCst) >= 2,
            "reconnected through apps.connections.open"
        );
        // The same event came twice and was answered once, in its thread: once both are
        // acknowledged and no answer is under way, nothing more can come.
        app.idle().await;
        let posts = rec.posts.lock().unwrap().clone();
        assert_eq!(posts.len(), 1, "{posts:?}");
        assert_eq!(posts[0]["channel"], "C111");
        assert_eq!(posts[0]["thread_ts"], "1610241741.000200");
        assert_eq!(posts[0]["text"], "artist-lookup is owned by team-a");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_disconnect_message_it_reconnects_and_answers_once() {
    common::within(acks_reconnects_and_answers_once(
        FirstConnection::Disconnect,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_dropped_connection_it_reconnects_and_answers_once() {
    common::within(acks_reconnects_and_answers_once(FirstConnection::Drop)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slash_command_over_socket_mode_is_answered_in_its_ack() {
    common::within(async {
        for db in common::databases().await {
            let mut envelope: Value =
                serde_json::from_str(&fixture("socketmode-slash_commands-envelope.json")).unwrap();
            envelope["payload"]["command"] = json!("/sb");
            envelope["payload"]["text"] = json!("who owns artist-lookup");
            let (rec, api_url) = start_fake(envelope, FirstConnection::Disconnect).await;
            start_bot(api_url, db).await;
            wait_for_acks(&rec, 1).await;
            let ack = rec.ack_bodies.lock().unwrap()[0].clone();
            assert_eq!(ack["envelope_id"], "envelope-1");
            assert_eq!(ack["payload"]["response_type"], "ephemeral", "{ack}");
            assert_eq!(ack["payload"]["text"], "artist-lookup is owned by team-a");
            assert!(
                ack["payload"]["blocks"]
                    .to_string()
                    .contains("sb1:share:who owns artist-lookup"),
                "{ack}"
            );
            assert!(
                rec.posts.lock().unwrap().is_empty(),
                "the answer travels in the ack"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_click_over_socket_mode_is_answered_in_the_thread() {
    common::within(async {
        for db in common::databases().await {
            let mut envelope: Value = serde_json::from_str(&fixture(
                "socketmode-interactive-block_actions-button-envelope.json",
            ))
            .unwrap();
            envelope["payload"]["actions"][0]["action_id"] = json!("sb_ask");
            envelope["payload"]["actions"][0]["value"] =
                json!("who owns component:default/wayback-archive");
            let (rec, api_url) = start_fake(envelope, FirstConnection::Disconnect).await;
            start_bot(api_url, db).await;
            wait_for_acks(&rec, 1).await;
            let posts = wait_for_posts(&rec, 1).await;
            assert!(!posts.is_empty(), "the click was answered");
            assert_eq!(posts[0]["channel"], "C111");
            assert_eq!(posts[0]["thread_ts"], "1605853634.000400");
            assert!(
                posts[0]["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("wayback-archive is owned by")
            );
        }
    })
    .await;
}
