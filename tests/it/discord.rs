//! Discord's HTTP interactions endpoint end to end, on SQLite and PostgreSQL: signed requests
//! (Ed25519, a real key) into the real router, answered through serenity's REST client into a
//! fake Discord that records every call. Payloads are Discord's documented examples.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use switchboard::Bot;
use switchboard::chat::discord::interactions::{DiscordApp, DiscordSettings};
use switchboard::store::Store;
use tower::ServiceExt;

const APPLICATION: u64 = 771_825_006_014_889_984;

/// A fake Discord REST API: records (method, path, body), answers like Discord.
#[derive(Clone, Default)]
struct FakeDiscord {
    calls: Arc<Mutex<Vec<(String, String, Value)>>>,
}

impl FakeDiscord {
    async fn start() -> (FakeDiscord, String) {
        let fake = FakeDiscord::default();
        let message = std::fs::read_to_string(common::fixture(
            "payloads/discord/rest-create-message-response.json",
        ))
        .unwrap();
        let f = fake.clone();
        let app = Router::new().fallback(move |req: axum::extract::Request| {
            let (f, message) = (f.clone(), message.clone());
            async move {
                let method = req.method().to_string();
                let path = req.uri().path().to_string();
                let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                    .await
                    .unwrap();
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                f.calls.lock().unwrap().push((method, path, v));
                ([(header::CONTENT_TYPE, "application/json")], message)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, url)
    }

    fn calls(&self) -> Vec<(String, String, Value)> {
        self.calls.lock().unwrap().clone()
    }
}

struct Harness {
    router: Router,
    app: DiscordApp,
    fake: FakeDiscord,
    key: SigningKey,
    _db: common::TestDb,
}

async fn harness(db: common::TestDb) -> Harness {
    let (fake, api_url) = FakeDiscord::start().await;
    let store = Store::connect(&db.url, 2).await.unwrap();
    let bot = Arc::new(
        Bot::new(
            common::snapshot(&common::examples()),
            common::demo_rotations(),
            Default::default(),
        )
        .with_store(store.clone()),
    );
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let settings = DiscordSettings {
        api_url,
        token: "fake-bot-token".into(),
        public_key: hex::encode(key.verifying_key().to_bytes()),
        application_id: APPLICATION,
    };
    let app = DiscordApp::new(bot.clone(), store, &settings).unwrap();
    Harness {
        router: switchboard::http::router(bot, Some(app.routes())),
        app,
        fake,
        key,
        _db: db,
    }
}

impl Harness {
    /// Sends `body` signed (or with `signature` instead) at `ts`.
    async fn send(&self, body: &Value, ts: i64, signature: Option<&str>) -> (StatusCode, Value) {
        let body = body.to_string();
        let sig = signature.map(str::to_string).unwrap_or_else(|| {
            let message = [ts.to_string().as_bytes(), body.as_bytes()].concat();
            hex::encode(self.key.sign(&message).to_bytes())
        });
        let req = Request::post("/discord/interactions")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-signature-ed25519", sig)
            .header("x-signature-timestamp", ts.to_string())
            .body(Body::from(body))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes: Bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into())),
        )
    }

    async fn signed(&self, body: &Value) -> (StatusCode, Value) {
        self.send(body, chrono::Utc::now().timestamp(), None).await
    }

    /// Waits for every answer under way (10 s at most); returns every call the fake received.
    async fn settle(&self) -> Vec<(String, String, Value)> {
        tokio::time::timeout(Duration::from_secs(10), self.app.idle())
            .await
            .expect("answers finish");
        self.fake.calls()
    }
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(common::fixture(&format!("payloads/discord/{name}"))).unwrap(),
    )
    .unwrap()
}

/// Discord's documented slash-command interaction, as `/sb GROUP SUB` with these options.
fn slash(id: &str, group: &str, sub: &str, options: Value) -> Value {
    let mut i = fixture("docs-interaction-application-command-chat-input.json");
    i["id"] = json!(id);
    i["data"]["name"] = json!("sb");
    i["data"]["options"] = json!([{"type": 2, "name": group, "options": [
        {"type": 1, "name": sub, "options": options}
    ]}]);
    i
}

#[tokio::test]
async fn a_ping_is_answered_and_forged_stale_or_unsigned_requests_get_401() {
    common::within(async {
        for db in common::databases().await {
            let h = harness(db).await;
            let ping = json!({"type": 1, "id": "1", "application_id": APPLICATION.to_string(), "token": "t"});
            let (status, body) = h.signed(&ping).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, fixture("docs-interaction-callback-type1-pong.json"));
            let now = chrono::Utc::now().timestamp();
            // Discord's probes: a bad signature; and a replay from ten minutes ago.
            let forged = "0".repeat(128);
            assert_eq!(h.send(&ping, now, Some(&forged)).await.0, StatusCode::UNAUTHORIZED);
            assert_eq!(h.send(&ping, now - 600, None).await.0, StatusCode::UNAUTHORIZED);
            let command = slash("786008729715212338", "ask", "owner", json!([{"type": 3, "name": "name", "value": "artist-lookup"}]));
            assert_eq!(h.send(&command, now, Some(&forged)).await.0, StatusCode::UNAUTHORIZED);
            assert!(h.settle().await.is_empty(), "nothing was answered");
        }
    })
    .await;
}

#[tokio::test]
async fn a_slash_command_is_deferred_then_answered_once_by_editing_the_response() {
    common::within(async {
        for db in common::databases().await {
            let h = harness(db).await;
            let command = slash(
                "786008729715212338",
                "ask",
                "owner",
                json!([{"type": 3, "name": "name", "value": "artist-lookup"}]),
            );
            let (status, body) = h.signed(&command).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(
                body,
                json!({"type": 5, "data": {"flags": 64}}),
                "deferred, for the asker alone"
            );
            // Delivered again: deferred again, answered once.
            assert_eq!(h.signed(&command).await.1["type"], 5);
            let calls = h.settle().await;
            assert_eq!(calls.len(), 1, "{calls:?}");
            let (method, path, edit) = &calls[0];
            assert_eq!(method, "PATCH");
            assert_eq!(
                path,
                &format!("/api/v10/webhooks/{APPLICATION}/A_UNIQUE_TOKEN/messages/@original")
            );
            let title = edit["embeds"][0]["title"].as_str().unwrap();
            assert!(title.starts_with("artist-lookup is owned by"), "{edit}");

            // A typo gets did-you-mean buttons carrying the core's actions; a click answers.
            let typo = slash(
                "786008729715212339",
                "ask",
                "owner",
                json!([{"type": 3, "name": "name", "value": "wayback"}]),
            );
            h.signed(&typo).await;
            let calls = h.settle().await;
            let buttons = &calls[1].2["components"][0]["components"];
            assert!(buttons.is_array(), "{}", calls[1].2);
            let pick = buttons[0]["custom_id"].as_str().unwrap().to_string();
            assert!(pick.starts_with("sb1:ask:"), "{buttons}");
            let mut click = fixture("docs-interaction-message-component-button.json");
            click["id"] = json!("844397162624450621");
            click["data"]["custom_id"] = json!(pick);
            let (_, deferred) = h.signed(&click).await;
            assert_eq!(deferred["type"], 5);
            let calls = h.settle().await;
            assert_eq!(calls.len(), 3);
            assert!(
                calls[2].2["embeds"][0]["title"]
                    .as_str()
                    .unwrap()
                    .contains("is owned by"),
                "{}",
                calls[2].2
            );
        }
    })
    .await;
}

#[tokio::test]
async fn autocomplete_offers_entities_and_an_unknown_subcommand_is_said_to_be_one() {
    common::within(async {
        for db in common::databases().await {
            let h = harness(db).await;
            let mut typing = fixture("docs-interaction-autocomplete.json");
            typing["id"] = json!("816437322781949973");
            typing["data"]["name"] = json!("sb");
            typing["data"]["options"] = json!([{"type": 2, "name": "ask", "options": [
                {"type": 1, "name": "owner", "options": [
                    {"type": 3, "name": "name", "value": "artist-lo", "focused": true}]}]}]);
            let (status, body) = h.signed(&typing).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body["type"], 8);
            let first = &body["data"]["choices"][0];
            assert_eq!(first["value"], "component:default/artist-lookup", "{body}");
            // A subcommand this release does not have.
            let gone = slash("786008729715212340", "ask", "horoscope", json!([]));
            let (_, body) = h.signed(&gone).await;
            assert_eq!(body["type"], 4);
            assert_eq!(body["data"]["flags"], 64);
            assert!(
                body["data"]["content"]
                    .as_str()
                    .unwrap()
                    .contains("not one of this Switchboard's")
            );
            assert!(h.settle().await.is_empty());
        }
    })
    .await;
}
