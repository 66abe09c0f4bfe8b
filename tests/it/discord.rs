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
use switchboard::chat::discord::app::{DiscordApp, DiscordSettings};
use switchboard::store::Store;
use tower::ServiceExt;

pub(crate) const APPLICATION: u64 = 771_825_006_014_889_984;

/// A fake Discord REST API: records (method, path, body), holds the messages posted (a
/// repeated post with the same nonce, `enforce_nonce`, gets the message the first one made),
/// threads and DM channels, and answers like Discord, with 429s when asked to.
#[derive(Clone, Default)]
pub(crate) struct FakeDiscord {
    calls: Arc<Mutex<Vec<(String, String, Value)>>>,
    /// (channel, nonce) → the message posted with it.
    nonces: Arc<Mutex<std::collections::HashMap<(String, String), Value>>>,
    threads: Arc<Mutex<Vec<String>>>,
    /// Refuse to start threads (the bot lacks the permission): answers go in the channel.
    pub(crate) no_threads: Arc<std::sync::atomic::AtomicBool>,
    /// How many of the next calls answer 429 (a per-route limit, then a global one).
    limited: Arc<Mutex<Vec<&'static str>>>,
    /// What `GET /gateway` answers.
    pub(crate) gateway: Arc<Mutex<String>>,
    changed: Arc<tokio::sync::Notify>,
    /// Files sent with messages (multipart `files[N]`): (file name, bytes).
    pub(crate) files: Files,
}

/// Files received: (file name, bytes).
type Files = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// The parts of a multipart/form-data body: (name, file name, bytes).
fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<(String, Option<String>, Vec<u8>)> {
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return Vec::new();
    };
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let d = delimiter.as_bytes();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + d.len() <= body.len() {
        if &body[i..i + d.len()] == d {
            starts.push(i);
            i += d.len();
        } else {
            i += 1;
        }
    }
    let mut parts = Vec::new();
    for w in starts.windows(2) {
        let part = &body[w[0] + d.len()..w[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = part.windows(4).position(|x| x == b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&part[..split]).to_string();
        let field = |key: &str| {
            headers
                .split(';')
                .find_map(|p| p.trim().strip_prefix(&format!("{key}=\"")))
                .map(|v| v.split('"').next().unwrap_or_default().to_string())
        };
        parts.push((
            field("name").unwrap_or_default(),
            field("filename"),
            part[split + 4..].to_vec(),
        ));
    }
    parts
}

/// Discord's documented 429 (its body and `Retry-After`), the wait made short for a test.
fn rate_limited(fixture_name: &str) -> axum::response::Response {
    let text =
        std::fs::read_to_string(common::fixture(&format!("payloads/discord/{fixture_name}")))
            .unwrap();
    let json_at = text.find('{').unwrap();
    let mut body: Value = serde_json::from_str(&text[json_at..]).unwrap();
    body["retry_after"] = json!(0.2);
    let mut resp = axum::response::IntoResponse::into_response((
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    ));
    for line in text[..json_at].lines() {
        let line = line.trim_start_matches("< ");
        if let Some((k, v)) = line.split_once(": ")
            && k.to_ascii_lowercase().starts_with("x-ratelimit")
        {
            resp.headers_mut().insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
    }
    resp.headers_mut()
        .insert(header::RETRY_AFTER, "1".parse().unwrap());
    resp
}

impl FakeDiscord {
    pub(crate) async fn start() -> (FakeDiscord, String) {
        let fake = FakeDiscord::default();
        let message = std::fs::read_to_string(common::fixture(
            "payloads/discord/rest-create-message-response.json",
        ))
        .unwrap();
        let dm = std::fs::read_to_string(common::fixture(
            "payloads/discord/docs-rest-create-dm-response-dm-channel.json",
        ))
        .unwrap();
        let registered = std::fs::read_to_string(common::fixture(
            "payloads/discord/rest-application-command-response.json",
        ))
        .unwrap();
        let guild: Value = fixture("gateway-dispatch-GUILD_CREATE.json");
        let channel = guild["d"]["channels"][0].clone();
        let f = fake.clone();
        let app = Router::new().fallback(move |req: axum::extract::Request| {
            let (f, message, dm, registered, channel) = (
                f.clone(),
                message.clone(),
                dm.clone(),
                registered.clone(),
                channel.clone(),
            );
            async move {
                let method = req.method().to_string();
                let path = req.uri().path().to_string();
                let content_type = req
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let body = axum::body::to_bytes(req.into_body(), 8 << 20)
                    .await
                    .unwrap();
                // A message with files comes as multipart: its JSON is `payload_json`.
                let v: Value = if content_type.starts_with("multipart/form-data") {
                    let mut payload = Value::Null;
                    for (name, file, bytes) in multipart_parts(&content_type, &body) {
                        match file {
                            Some(file) => f.files.lock().unwrap().push((file, bytes)),
                            None if name == "payload_json" => {
                                payload = serde_json::from_slice(&bytes).unwrap_or(Value::Null)
                            }
                            None => {}
                        }
                    }
                    payload
                } else {
                    serde_json::from_slice(&body).unwrap_or(Value::Null)
                };
                let limited = f.limited.lock().unwrap().pop();
                let n = {
                    let mut calls = f.calls.lock().unwrap();
                    calls.push((method.clone(), path.clone(), v.clone()));
                    calls.len() as u64
                };
                f.changed.notify_waiters();
                if let Some(which) = limited {
                    return rate_limited(which);
                }
                let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
                let json = |v: Value| {
                    axum::response::IntoResponse::into_response((
                        [(header::CONTENT_TYPE, "application/json")],
                        v.to_string(),
                    ))
                };
                // Each message, thread and DM channel gets its own id, as Discord gives them.
                match (method.as_str(), seg.as_slice()) {
                    ("GET", ["api", "v10", "gateway"]) => {
                        json(json!({"url": *f.gateway.lock().unwrap()}))
                    }
                    ("GET", ["api", "v10", "channels", id]) => {
                        let mut c = channel.clone();
                        c["id"] = json!(id);
                        if f.threads.lock().unwrap().iter().any(|t| t == id) {
                            c["type"] = json!(11);
                        }
                        json(c)
                    }
                    ("POST", ["api", "v10", "users", "@me", "channels"]) => {
                        let mut c: Value = serde_json::from_str(&dm).unwrap();
                        let user = v["recipient_id"].as_str().unwrap_or("1");
                        c["id"] = json!(format!("6{}", &user[1..]));
                        json(c)
                    }
                    ("POST", ["api", "v10", "channels", _, "messages", _, "threads"])
                        if f.no_threads.load(std::sync::atomic::Ordering::SeqCst) =>
                    {
                        axum::response::IntoResponse::into_response((
                            StatusCode::FORBIDDEN,
                            [(header::CONTENT_TYPE, "application/json")],
                            json!({"message": "Missing Permissions", "code": 50013}).to_string(),
                        ))
                    }
                    ("POST", ["api", "v10", "channels", parent, "messages", _, "threads"]) => {
                        let id = format!("{}", 950_000_000_000_000_000u64 + n);
                        f.threads.lock().unwrap().push(id.clone());
                        let mut c = channel.clone();
                        c["id"] = json!(id);
                        c["type"] = json!(11);
                        c["parent_id"] = json!(parent);
                        c["name"] = v["name"].clone();
                        json(c)
                    }
                    ("POST", ["api", "v10", "channels", channel, "messages"]) => {
                        let key = (
                            channel.to_string(),
                            v["nonce"].as_str().unwrap_or("").to_string(),
                        );
                        let mut nonces = f.nonces.lock().unwrap();
                        if v["enforce_nonce"] == true
                            && let Some(first) = nonces.get(&key)
                        {
                            return json(first.clone());
                        }
                        let mut m: Value = serde_json::from_str(&message).unwrap();
                        m["id"] = json!(format!("{}", 900_000_000_000_000_000u64 + n));
                        m["channel_id"] = json!(channel);
                        if v["enforce_nonce"] == true {
                            nonces.insert(key, m.clone());
                        }
                        json(m)
                    }
                    ("PATCH", ["api", "v10", "channels", channel, "messages", id]) => {
                        let mut m: Value = serde_json::from_str(&message).unwrap();
                        m["id"] = json!(id);
                        m["channel_id"] = json!(channel);
                        json(m)
                    }
                    ("POST", ["api", "v10", "interactions", _, _, "callback"]) => {
                        axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT)
                    }
                    ("PUT", [.., "commands"]) => json(serde_json::from_str(&registered).unwrap()),
                    _ => json(serde_json::from_str(&message).unwrap()),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, url)
    }

    pub(crate) fn calls(&self) -> Vec<(String, String, Value)> {
        self.calls.lock().unwrap().clone()
    }

    /// The next calls answer 429: first per route, then globally (Discord's documented ones).
    pub(crate) fn limit_next_calls(&self) {
        *self.limited.lock().unwrap() = vec![
            "docs-rest-429-global-rate-limit.http.txt",
            "docs-rest-429-user-rate-limit.http.txt",
        ];
    }

    /// Waits (10 s at most) until the calls made satisfy `done`; returns them.
    pub(crate) async fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&[(String, String, Value)]) -> bool,
    ) -> Vec<(String, String, Value)> {
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let changed = self.changed.notified();
                let calls = self.calls();
                if done(&calls) {
                    return calls;
                }
                changed.await;
            }
        })
        .await;
        match waited {
            Ok(calls) => calls,
            Err(_) => panic!("waiting for {what}; calls: {:#?}", self.calls()),
        }
    }
}

pub(crate) struct Harness {
    router: Router,
    pub(crate) bot: Arc<Bot>,
    pub(crate) app: DiscordApp,
    pub(crate) fake: FakeDiscord,
    pub(crate) api_url: String,
    key: SigningKey,
    _db: common::TestDb,
}

async fn harness(db: common::TestDb) -> Harness {
    harness_with(db, &[], Duration::from_secs(2)).await
}

/// A harness whose bot also reads `extra` catalog files, with the shipped workflows, and
/// answers in the interaction's response what is ready within `inline`.
pub(crate) async fn harness_with(
    db: common::TestDb,
    extra: &[String],
    inline: Duration,
) -> Harness {
    harness_roles(db, extra, inline, Default::default()).await
}

/// The same, with Discord roles that stand for catalog Groups (`discord.role_groups`).
async fn harness_roles(
    db: common::TestDb,
    extra: &[String],
    inline: Duration,
    role_groups: std::collections::BTreeMap<String, String>,
) -> Harness {
    let (fake, api_url) = FakeDiscord::start().await;
    let store = Store::connect(&db.url, 2).await.unwrap();
    let mut paths = common::examples();
    paths.extend_from_slice(extra);
    let desk = Arc::new(common::shipped_desk(&store));
    let bot = Arc::new(
        Bot::new(
            common::snapshot(&paths),
            common::demo_rotations(),
            Default::default(),
        )
        .with_store(store.clone())
        .with_desk(desk.clone()),
    );
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let settings = DiscordSettings {
        api_url: api_url.clone(),
        token: "fake-bot-token".into(),
        public_key: Some(hex::encode(key.verifying_key().to_bytes())),
        application_id: APPLICATION,
        inline,
        role_groups,
    };
    let app = DiscordApp::new(bot.clone(), &settings).unwrap();
    desk.add_outbox(switchboard::chat::Platform::Discord, Arc::new(app.clone()));
    Harness {
        router: switchboard::http::router(bot.clone(), Some(app.routes())),
        bot,
        app,
        fake,
        api_url,
        key,
        _db: db,
    }
}

impl Harness {
    /// Sends `body` signed (or with `signature` instead) at `ts`.
    async fn send(&self, body: &Value, ts: i64, signature: Option<&str>) -> (StatusCode, Value) {
        interact(&self.router, &self.key, body, ts, signature).await
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

/// Sends `body` to the interactions endpoint of `router`, signed with `key` at `ts` (or with
/// `signature` instead); the status and what came back.
pub(crate) async fn interact(
    router: &Router,
    key: &SigningKey,
    body: &Value,
    ts: i64,
    signature: Option<&str>,
) -> (StatusCode, Value) {
    let body = body.to_string();
    let sig = signature.map(str::to_string).unwrap_or_else(|| {
        let message = [ts.to_string().as_bytes(), body.as_bytes()].concat();
        hex::encode(key.sign(&message).to_bytes())
    });
    let req = Request::post("/discord/interactions")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-signature-ed25519", sig)
        .header("x-signature-timestamp", ts.to_string())
        .body(Body::from(body))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
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

/// Discord's documented button click, as interaction `id` on the button `custom_id`; by
/// `user` holding `roles` when given (else by the documented member).
pub(crate) fn button(id: &str, custom_id: &str, user: Option<(&str, Value)>) -> Value {
    let mut click = fixture("docs-interaction-message-component-button.json");
    click["id"] = json!(id);
    click["data"]["custom_id"] = json!(custom_id);
    if let Some((user, roles)) = user {
        click["member"] = json!({"user": {"id": user, "username": "someone", "discriminator": "0001"}, "roles": roles});
    }
    click
}

pub(crate) fn fixture(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(common::fixture(&format!("payloads/discord/{name}"))).unwrap(),
    )
    .unwrap()
}

/// Discord's documented slash-command interaction, as `/sb GROUP SUB` with these options.
pub(crate) fn slash(id: &str, group: &str, sub: &str, options: Value) -> Value {
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
async fn a_slash_command_is_answered_for_the_asker_alone_and_a_slow_answer_edits_the_deferral() {
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
            assert_eq!(body["type"], 4, "{body}");
            assert_eq!(body["data"]["flags"], 64, "for the asker alone");
            let title = body["data"]["embeds"][0]["title"].as_str().unwrap();
            assert!(title.starts_with("artist-lookup is owned by"), "{body}");

            // A typo gets did-you-mean buttons carrying the core's actions; a click answers.
            let typo = slash(
                "786008729715212339",
                "ask",
                "owner",
                json!([{"type": 3, "name": "name", "value": "wayback"}]),
            );
            let (_, body) = h.signed(&typo).await;
            let buttons = &body["data"]["components"][0]["components"];
            assert!(buttons.is_array(), "{body}");
            let pick = buttons[0]["custom_id"].as_str().unwrap().to_string();
            assert!(pick.starts_with("sb1:ask:"), "{buttons}");
            let click = button("844397162624450621", &pick, None);
            let (_, answered) = h.signed(&click).await;
            assert!(
                answered["data"]["embeds"][0]["title"]
                    .as_str()
                    .unwrap()
                    .contains("is owned by"),
                "{answered}"
            );
            assert!(
                h.settle().await.is_empty(),
                "answered in the responses, nothing sent after"
            );
        }
        // An answer not ready in time: the response defers, and the answer edits it once.
        let db = common::databases().await.into_iter().next().unwrap();
        let h = harness_with(db, &[], Duration::ZERO).await;
        let command = slash(
            "786008729715212338",
            "ask",
            "owner",
            json!([{"type": 3, "name": "name", "value": "artist-lookup"}]),
        );
        let (_, body) = h.signed(&command).await;
        assert_eq!(body, json!({"type": 5, "data": {"flags": 64}}));
        let calls = h.settle().await;
        assert_eq!(calls.len(), 1, "{calls:?}");
        let (method, path, edit) = &calls[0];
        assert_eq!(method, "PATCH");
        assert_eq!(
            path,
            &format!("/api/v10/webhooks/{APPLICATION}/A_UNIQUE_TOKEN/messages/@original")
        );
        assert!(
            edit["embeds"][0]["title"]
                .as_str()
                .unwrap()
                .starts_with("artist-lookup is owned by"),
            "{edit}"
        );
        assert_eq!(
            edit["allowed_mentions"]["parse"],
            json!([]),
            "nobody is pinged"
        );
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
            // A button of another release, and one that is not Switchboard's at all.
            for (id, custom, said) in [
                ("844397162624450640", "sb9:ask:owner x", "out of date"),
                ("844397162624450641", "click_one", "not one of mine"),
            ] {
                let click = button(id, custom, None);
                let (status, body) = h.signed(&click).await;
                assert_eq!(status, StatusCode::OK);
                assert_eq!(body["data"]["flags"], 64);
                assert!(body.to_string().contains(said), "{body}");
            }
            // An option of the wrong type (Discord's client would not send it; a forged or
            // outdated one might): said, not answered as something else.
            let wrong = slash(
                "786008729715212342",
                "ask",
                "deps",
                json!([{"type": 3, "name": "name", "value": "artist-lookup"},
                       {"type": 3, "name": "depth", "value": "deep"}]),
            );
            let (_, body) = h.signed(&wrong).await;
            assert!(
                body.to_string().contains("--depth takes a whole number"),
                "{body}"
            );
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

/// Team A on Discord: Mason (the documented interaction's user) asks; Bob may approve.
pub(crate) const MASON: &str = "53908232506183680";
pub(crate) const BOB: &str = "80351110224678912";

/// Mason and Bob, of team A, mapped by their Discord ids.
pub(crate) fn team_a() -> tempfile::TempDir {
    let people = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: mason\n  annotations:\n    discord.com/user-id: \"{MASON}\"\nspec:\n  memberOf: [team-a]\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: bob\n  annotations:\n    discord.com/user-id: \"{BOB}\"\nspec:\n  memberOf: [team-a]\n"
    );
    common::catalog_dir(&[("people.yaml", &people)])
}

/// Mason's `/sb workflows run register-component name=ghost-trap owner=team-a`.
fn ghost_trap() -> Value {
    slash(
        "786008729715212341",
        "workflows",
        "run",
        json!([
            {"type": 3, "name": "workflow", "value": "register-component"},
            {"type": 3, "name": "parameters", "value": "name=ghost-trap owner=team-a"},
        ]),
    )
}

#[tokio::test]
async fn a_run_asked_in_discord_gets_its_card_there_and_by_dm_and_a_button_approves_it() {
    common::within(async {
        let dir = team_a();
        for db in common::databases().await {
            let h = harness_with(
                db,
                &[dir.path().display().to_string()],
                Duration::from_secs(2),
            )
            .await;
            let run = ghost_trap();
            let (_, answer) = h.signed(&run).await;
            assert!(
                answer["data"]["embeds"][0]["title"]
                    .as_str()
                    .unwrap()
                    .starts_with("Run 1 of register-component awaits approval"),
                "{answer}"
            );
            let calls = h.settle().await;
            let posted: Vec<&(String, String, Value)> = calls
                .iter()
                .filter(|(m, p, _)| m == "POST" && p.ends_with("/messages"))
                .collect();
            // The card where it was asked, and by DM to Bob (found by his annotation), not Mason.
            assert_eq!(posted.len(), 2, "{calls:?}");
            assert_eq!(posted[0].1, "/api/v10/channels/645027906669510667/messages");
            assert_eq!(
                posted[0].2["embeds"][0]["title"],
                "Approval needed: register-component on group:default/team-a (run 1)"
            );
            let dms: Vec<&Value> = calls
                .iter()
                .filter(|(_, p, _)| p == "/api/v10/users/@me/channels")
                .map(|(_, _, b)| b)
                .collect();
            assert_eq!(dms.len(), 1);
            assert_eq!(dms[0]["recipient_id"], BOB);
            let card = posted[1].2["components"][0]["components"].clone();
            let ids: Vec<&str> = card
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["custom_id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, ["sb1:approve:1", "sb1:deny:1", "sb1:details:1"]);
            // Mason may not approve his own run, from Discord either.
            let own = button(
                "844397162624450622",
                "sb1:approve:1",
                Some((MASON, json!([]))),
            );
            let (_, said) = h.signed(&own).await;
            let calls = h.settle().await;
            assert!(
                said["data"]["embeds"][0]["title"]
                    .as_str()
                    .unwrap()
                    .contains("does not allow approving your own"),
                "{said}"
            );

            // Bob approves from his DM: every copy is edited, Mason is told where he asked.
            let before = calls.len();
            let click = button(
                "844397162624450623",
                "sb1:approve:1",
                Some((BOB, json!([]))),
            );
            let (_, approved) = h.signed(&click).await;
            assert_eq!(
                approved["data"]["embeds"][0]["title"],
                "Run 1 is approved; it runs now"
            );
            let calls = h.settle().await;
            let edits: Vec<&(String, String, Value)> = calls[before..]
                .iter()
                .filter(|(m, p, _)| m == "PATCH" && p.contains("/channels/"))
                .collect();
            assert_eq!(edits.len(), 2, "{:?}", &calls[before..]);
            for e in &edits {
                assert_eq!(
                    e.2["embeds"][0]["title"],
                    "Run 1 of register-component on group:default/team-a: approved"
                );
            }
            let told = calls[before..].iter().any(|(m, p, b)| {
                m == "POST"
                    && p == "/api/v10/channels/645027906669510667/messages"
                    && b["embeds"][0]["title"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with("Run 1 of register-component was approved by user:default/bob")
            });
            assert!(told, "{:?}", &calls[before..]);
        }
    })
    .await;
}

#[tokio::test]
async fn sb_is_registered_by_a_bulk_overwrite_globally_or_in_each_guild() {
    common::within(async {
        let db = common::databases().await.into_iter().next().unwrap();
        let h = harness(db).await;
        assert_eq!(h.app.register(&[]).await.unwrap(), 1);
        assert_eq!(
            h.app
                .register(&[290926798626357999, 290926798626357998])
                .await
                .unwrap(),
            2
        );
        let calls = h.fake.calls();
        let paths: Vec<(&str, &str)> = calls
            .iter()
            .map(|(m, p, _)| (m.as_str(), p.as_str()))
            .collect();
        assert_eq!(
            paths,
            [
                (
                    "PUT",
                    format!("/api/v10/applications/{APPLICATION}/commands").as_str()
                ),
                (
                    "PUT",
                    format!(
                        "/api/v10/applications/{APPLICATION}/guilds/290926798626357999/commands"
                    )
                    .as_str()
                ),
                (
                    "PUT",
                    format!(
                        "/api/v10/applications/{APPLICATION}/guilds/290926798626357998/commands"
                    )
                    .as_str()
                ),
            ]
        );
        // The whole command each time, generated from the grammar.
        for (_, _, body) in &calls {
            assert_eq!(body[0]["name"], "sb");
            let groups: Vec<&str> = body[0]["options"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["name"].as_str().unwrap())
                .collect();
            assert_eq!(groups, ["ask", "workflows", "admin"]);
        }
    })
    .await;
}

#[tokio::test]
async fn deny_opens_a_modal_and_its_submission_denies_with_the_reason() {
    common::within(async {
        let dir = team_a();
        for db in common::databases().await {
            let h = harness_with(
                db,
                &[dir.path().display().to_string()],
                Duration::from_secs(2),
            )
            .await;
            let run = ghost_trap();
            h.signed(&run).await;
            h.settle().await;
            // Deny answers with the form, and decides nothing.
            let click = button("844397162624450624", "sb1:deny:1", Some((BOB, json!([]))));
            let (_, modal) = h.signed(&click).await;
            assert_eq!(modal["type"], 9, "{modal}");
            assert_eq!(modal["data"]["custom_id"], "sb1:deny:1");
            assert_eq!(modal["data"]["title"], "Deny run 1");
            let input = &modal["data"]["components"][0]["components"][0];
            assert_eq!(
                (
                    input["type"].clone(),
                    input["custom_id"].clone(),
                    input["required"].clone()
                ),
                (json!(4), json!("reason"), json!(true))
            );
            // Discord's documented submission, carrying the form's action and the reason.
            let mut submit = fixture("docs-interaction-modal-submit-text-input-2024.json");
            submit["id"] = json!("847587388497854465");
            submit["data"]["custom_id"] = json!("sb1:deny:1");
            submit["data"]["components"][0]["components"][0]["custom_id"] = json!("reason");
            submit["data"]["components"][0]["components"][0]["value"] =
                json!("not during the freeze");
            submit["member"]["user"]["id"] = json!(BOB);
            let before = h.fake.calls().len();
            let (_, denied) = h.signed(&submit).await;
            assert_eq!(
                denied["data"]["embeds"][0]["title"], "Run 1 is denied; the requester is told why",
                "{denied}"
            );
            let calls = h.settle().await;
            let edits: Vec<&Value> = calls[before..]
                .iter()
                .filter(|(m, p, _)| m == "PATCH" && p.contains("/channels/"))
                .map(|(_, _, b)| b)
                .collect();
            assert_eq!(edits.len(), 2);
            for e in edits {
                assert_eq!(
                    e["embeds"][0]["title"],
                    "Run 1 of register-component on group:default/team-a: denied"
                );
                assert!(e.to_string().contains("not during the freeze"));
            }
        }
    })
    .await;
}

/// Team A kept as a Discord role: Carol's User names her Discord id but no team; Bob has no
/// User at all.
const TEAM_A_ROLE: &str = "609370233916096514";
const CAROL: &str = "80351110224678913";

#[tokio::test]
async fn a_guild_role_mapped_to_a_group_makes_its_holders_members_and_approving_still_needs_a_user()
{
    common::within(async {
        let people = format!(
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: mason\n  annotations:\n    discord.com/user-id: \"{MASON}\"\nspec:\n  memberOf: [team-a]\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: carol\n  annotations:\n    discord.com/user-id: \"{CAROL}\"\nspec:\n  memberOf: []\n"
        );
        let dir = common::catalog_dir(&[("people.yaml", &people)]);
        for db in common::databases().await {
            let roles = [(TEAM_A_ROLE.to_string(), "group:default/team-a".to_string())].into();
            let h = harness_roles(
                db,
                &[dir.path().display().to_string()],
                Duration::from_secs(2),
                roles,
            )
            .await;
            h.signed(&ghost_trap()).await;
            h.settle().await;
            let click = |id: &str, who: &str, roles: Value| {
                button(id, "sb1:approve:1", Some((who, roles)))
            };
            let title = |v: &Value| v["data"]["embeds"][0]["title"].as_str().unwrap().to_string();
            // Without the role, Carol is not of team A.
            let (_, refused) = h.signed(&click("844397162624450631", CAROL, json!([]))).await;
            assert!(title(&refused).contains("you are none of these"), "{refused}");
            // Bob, known by the role alone, is of team A but may not approve: approving needs
            // a User (else one person could approve under two names).
            let (_, refused) = h
                .signed(&click("844397162624450633", BOB, json!([TEAM_A_ROLE])))
                .await;
            assert!(title(&refused).contains("not matched to a catalog User"), "{refused}");
            // With the role, Carol is: her approval counts, and still holds when the run starts.
            let (_, approved) = h
                .signed(&click("844397162624450632", CAROL, json!([TEAM_A_ROLE])))
                .await;
            assert_eq!(title(&approved), "Run 1 is approved; it runs now");
            // whoami tells Bob the team the role gives.
            let mut who = slash("786008729715212350", "ask", "whoami", json!([]));
            who["member"] = json!({"user": {"id": BOB, "username": "Bob", "discriminator": "0001"}, "roles": [TEAM_A_ROLE]});
            let (_, me) = h.signed(&who).await;
            assert_eq!(
                title(&me),
                "You have no User in the catalog; your roles make you a member"
            );
            assert!(me.to_string().contains("team-a"), "{me}");
            // And he may request a run for the team, named by his Discord identity.
            let mut request = ghost_trap();
            request["id"] = json!("786008729715212351");
            request["data"]["options"][0]["options"][0]["options"][1]["value"] =
                json!("name=ghost-trap-2 owner=team-a");
            request["member"] = json!({"user": {"id": BOB, "username": "Bob", "discriminator": "0001"}, "roles": [TEAM_A_ROLE]});
            let (_, asked) = h.signed(&request).await;
            assert!(
                title(&asked).starts_with("Run 2 of register-component awaits approval"),
                "{asked}"
            );
            h.settle().await;
            let desk = h.bot.desk().unwrap().clone();
            while desk.work_once(&h.bot).await.unwrap() {}
            let store = h.bot.store().unwrap();
            let run = store.load_run(1).await.unwrap().unwrap();
            assert_eq!(run.state, switchboard::workflows::run::State::Succeeded, "{run:?}");
            assert_eq!(run.approvals[0].by, "user:default/carol");
            assert_eq!(run.approvals[0].groups, ["group:default/team-a"]);
            let run = store.load_run(2).await.unwrap().unwrap();
            assert_eq!(run.requested_by, format!("discord:{BOB}"));
        }
    })
    .await;
}

#[tokio::test]
async fn show_graph_sends_the_blast_radius_as_an_attachment_editing_the_deferral() {
    common::within(async {
        for db in common::databases().await {
            let h = harness(db).await;
            let click = button(
                "1001",
                "sb1:ask:dependents component:default/wayback-archive --graph",
                None,
            );
            let (status, body) = h.signed(&click).await;
            assert_eq!(status, StatusCode::OK);
            // A picture cannot ride in the acknowledgement: deferred, then edited in.
            assert_eq!(body["type"], 5, "{body}");
            let calls = h.settle().await;
            let edit = calls
                .iter()
                .find(|(m, p, _)| m == "PATCH" && p.ends_with("/messages/@original"))
                .unwrap_or_else(|| panic!("{calls:?}"));
            assert_eq!(
                edit.2["attachments"][0]["filename"], "wayback-archive-blast-radius.png",
                "{}",
                edit.2
            );
            let files = h.fake.files.lock().unwrap().clone();
            assert_eq!(files.len(), 1);
            assert_eq!(files[0].0, "wayback-archive-blast-radius.png");
            assert!(files[0].1.starts_with(b"\x89PNG\r\n\x1a\n"));
        }
    })
    .await;
}
