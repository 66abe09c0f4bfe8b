//! Discord benchmark: `/sb ask owner NAME` interactions end to end, through the HTTP
//! interactions endpoint (signed with Ed25519, POSTed over loopback into the real router) and
//! through the gateway (real serenity connected to the tests' fake gateway, which dispatches
//! them); acknowledgements and edits go through Switchboard's REST client to a fake Discord
//! REST API on loopback that notes when each arrives. Over the gateway, each interaction is
//! claimed in SQLite first.
//! Run: `cargo bench --bench discord [-- INTERACTIONS [IN_FLIGHT,…]]` (default 2000 and 8,32).
//!
//! Two ways to answer: inline (the answer is the acknowledgement, as when it is ready within
//! 2 s: always, here) and deferred (the acknowledgement defers and the answer edits it).
//! Prints interactions per second (first sent → last answer arrived) and p50/p99 from an
//! interaction being sent to its acknowledgement, and to its answer.

#[path = "../tests/it/common/discord_gateway.rs"]
mod gateway;

#[path = "support/load.rs"]
mod load;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use ed25519_dalek::{Signer, SigningKey};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use switchboard::Bot;
use switchboard::catalog::Snapshot;
use switchboard::chat::discord::app::{DiscordApp, DiscordSettings};
use switchboard::sources::{local, rotations};
use switchboard::store::Store;

const APPLICATION: u64 = 771_825_006_014_889_984;
const BOT: &str = "344487830824943618";
const NAMES: [&str; 5] = [
    "artist-lookup",
    "wayback-archive",
    "wayback-search",
    "searcher",
    "artst-lookup",
];

#[derive(Clone, Copy, Debug)]
enum Via {
    Http,
    Gateway,
}

fn main() {
    let (n, levels) = load::args(2000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "| via | answer | interactions | in flight | interactions/s | sent → acknowledged p50 / p99 | sent → answer arrived p50 / p99 |"
    );
    println!("|---|---|---|---|---|---|---|");
    for via in [Via::Http, Via::Gateway] {
        for inline in [true, false] {
            for &level in &levels {
                rt.block_on(run(via, inline, n, level));
            }
        }
    }
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/payloads/discord/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// When each interaction (by id) was acknowledged, and answered; woken on every arrival.
#[derive(Default)]
struct Arrivals {
    acked: Mutex<HashMap<String, Instant>>,
    answered: Mutex<HashMap<String, Instant>>,
    changed: tokio::sync::Notify,
}

impl Arrivals {
    async fn wait(&self, id: &str, answered: bool) {
        loop {
            let changed = self.changed.notified();
            let map = if answered {
                &self.answered
            } else {
                &self.acked
            };
            if map.lock().unwrap().contains_key(id) {
                return;
            }
            changed.await;
        }
    }

    fn note(&self, id: &str, acked: bool, answered: bool) {
        let now = Instant::now();
        if acked {
            self.acked.lock().unwrap().insert(id.to_string(), now);
        }
        if answered {
            self.answered.lock().unwrap().insert(id.to_string(), now);
        }
        self.changed.notify_waiters();
    }
}

/// The fake Discord REST API: acknowledgements (`…/callback`, the interaction id in the path)
/// and edits of the acknowledgement (`…/messages/@original`, the token `t-ID` in the path).
async fn fake_discord(arrivals: Arc<Arrivals>, gateway_url: String) -> String {
    let message = fixture("rest-create-message-response.json");
    let app = Router::new().fallback(move |req: axum::extract::Request| {
        let (arrivals, message, gateway_url) =
            (arrivals.clone(), message.clone(), gateway_url.clone());
        async move {
            let path = req.uri().path().to_string();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap();
            let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
            let json = |v: Value| {
                axum::response::IntoResponse::into_response((
                    [(header::CONTENT_TYPE, "application/json")],
                    v.to_string(),
                ))
            };
            match seg.as_slice() {
                ["api", "v10", "gateway"] => json(json!({"url": gateway_url})),
                ["api", "v10", "interactions", id, _, "callback"] => {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    arrivals.note(id, true, v["type"] == 4);
                    axum::response::IntoResponse::into_response(axum::http::StatusCode::NO_CONTENT)
                }
                ["api", "v10", "webhooks", _, token, "messages", "@original"] => {
                    arrivals.note(token.trim_start_matches("t-"), false, true);
                    json(message)
                }
                _ => json(message),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Discord's recorded slash command (as the HTTP endpoint gets it), made `/sb ask owner NAME`.
fn http_interaction(id: &str, name: &str) -> Value {
    let mut i = fixture("docs-interaction-application-command-chat-input.json");
    i["id"] = json!(id);
    i["token"] = json!(format!("t-{id}"));
    i["data"]["name"] = json!("sb");
    i["data"]["options"] = json!([{"type": 2, "name": "ask", "options": [
        {"type": 1, "name": "owner", "options": [{"type": 3, "name": "name", "value": name}]}]}]);
    i
}

async fn run(via: Via, inline: bool, n: usize, level: usize) {
    let root = env!("CARGO_MANIFEST_DIR");
    let examples = [
        format!("{root}/tests/fixtures/backstage-examples/all.yaml"),
        format!("{root}/tests/fixtures/backstage-examples/acme-corp.yaml"),
    ];
    let out = local::scan(&examples, &Default::default(), 0);
    let dir = std::env::temp_dir().join(format!(
        "switchboard-discord-bench-{}-{via:?}-{inline}-{level}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::connect(&format!("sqlite://{}/sb.db", dir.display()), 4)
        .await
        .unwrap();
    let bot = Arc::new(
        Bot::new(
            Snapshot::build(out.entities, out.problems, 0),
            rotations::load(std::path::Path::new(&format!("{root}/config/oncall.yaml"))).unwrap(),
            Default::default(),
        )
        .with_store(store),
    );
    let arrivals = Arc::new(Arrivals::default());
    let gw = gateway::FakeGateway::start(APPLICATION, BOT).await;
    let api_url = fake_discord(arrivals.clone(), gw.url.clone()).await;
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let settings = DiscordSettings {
        api_url,
        token: "bench-token".into(),
        public_key: Some(hex::encode(key.verifying_key().to_bytes())),
        application_id: APPLICATION,
        inline: if inline {
            Duration::from_secs(2)
        } else {
            Duration::ZERO
        },
        role_groups: Default::default(),
    };
    let app = DiscordApp::new(bot.clone(), &settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/discord/interactions",
        listener.local_addr().unwrap()
    );
    tokio::spawn(switchboard::http::serve(
        listener,
        switchboard::http::router(bot, Some(app.routes())),
    ));
    let client = match via {
        Via::Http => None,
        Via::Gateway => {
            let app = app.clone();
            let client = tokio::spawn(async move { app.run_gateway(&settings, false).await });
            gw.wait_sent(2, 1).await;
            Some(client)
        }
    };

    let http: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(level));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("{}", 800_000_000_000_000_000u64 + i as u64);
        let name = NAMES[i % NAMES.len()];
        let permit = in_flight.clone().acquire_owned().await.unwrap();
        let (sent, arrivals, http, gw, key, url) = (
            sent.clone(),
            arrivals.clone(),
            http.clone(),
            gw.clone(),
            key.clone(),
            url.clone(),
        );
        tasks.push(tokio::spawn(async move {
            match via {
                Via::Http => {
                    let body = http_interaction(&id, name).to_string();
                    let ts = chrono::Utc::now().timestamp().to_string();
                    let sig = hex::encode(
                        key.sign(&[ts.as_bytes(), body.as_bytes()].concat())
                            .to_bytes(),
                    );
                    let req = hyper::Request::post(&url)
                        .header("content-type", "application/json")
                        .header("x-signature-ed25519", sig)
                        .header("x-signature-timestamp", ts)
                        .body(Full::new(Bytes::from(body)))
                        .unwrap();
                    sent.lock().unwrap().insert(id.clone(), Instant::now());
                    let resp = http.request(req).await.unwrap();
                    assert!(resp.status().is_success(), "{}", resp.status());
                    let answer: Value = serde_json::from_slice(
                        &resp.into_body().collect().await.unwrap().to_bytes(),
                    )
                    .unwrap();
                    arrivals.note(&id, true, answer["type"] == 4);
                }
                Via::Gateway => {
                    sent.lock().unwrap().insert(id.clone(), Instant::now());
                    gw.dispatch(
                        "INTERACTION_CREATE",
                        gateway::owner_question(&id, APPLICATION, "727947198481956945", name),
                    );
                    arrivals.wait(&id, false).await;
                }
            }
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ids: Vec<String> = sent.lock().unwrap().keys().cloned().collect();
    for id in &ids {
        tokio::time::timeout(Duration::from_secs(60), arrivals.wait(id, true))
            .await
            .expect("every interaction answered");
    }
    let total = started.elapsed();
    let sent = sent.lock().unwrap();
    let percentiles = |map: &Mutex<HashMap<String, Instant>>| {
        let map = map.lock().unwrap();
        let mut lat: Vec<Duration> = sent
            .iter()
            .map(|(id, t0)| map[id].duration_since(*t0))
            .collect();
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
        format!(
            "{:.2} / {:.2} ms",
            p(0.5).as_secs_f64() * 1e3,
            p(0.99).as_secs_f64() * 1e3
        )
    };
    println!(
        "| {} | {} | {n} | {level} | {:.0} | {} | {} |",
        match via {
            Via::Http => "HTTP endpoint",
            Via::Gateway => "gateway",
        },
        if inline { "inline" } else { "deferred" },
        n as f64 / total.as_secs_f64(),
        percentiles(&arrivals.acked),
        percentiles(&arrivals.answered),
    );
    if let Some(client) = client {
        client.abort();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
