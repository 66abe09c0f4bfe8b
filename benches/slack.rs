//! Slack Events API benchmark: signed `app_mention` events over loopback HTTP into the real
//! router, answered through slack-morphism into a fake Web API on loopback.
//! Run: `cargo bench --bench slack [-- QUESTIONS [IN_FLIGHT,…]]` (default 5000 and 8,32).
//!
//! Prints questions per second handled end to end (first request sent → last reply posted) and
//! p50/p99 from a request being sent to its reply arriving at the fake Slack.

#[path = "support/load.rs"]
mod load;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::post;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use switchboard::Bot;
use switchboard::catalog::Snapshot;
use switchboard::chat::slack::signature::sign;
use switchboard::chat::slack::{SlackApp, SlackSettings};
use switchboard::sources::local;
use switchboard::sources::rotations;
use switchboard::store::Store;

const SECRET: &str = "bench-signing-secret";

fn main() {
    let (n, levels) = load::args(5000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!("| questions | in flight | questions/s | request → reply posted p50 / p99 |");
    println!("|---|---|---|---|");
    for level in levels {
        rt.block_on(run(n, level));
    }
}

async fn run(n: usize, level: usize) {
    let root = env!("CARGO_MANIFEST_DIR");
    let examples = [
        format!("{root}/tests/fixtures/backstage-examples/all.yaml"),
        format!("{root}/tests/fixtures/backstage-examples/acme-corp.yaml"),
    ];
    let out = local::scan(&examples, &Default::default(), 0);
    let bot = Arc::new(Bot::new(
        Snapshot::build(out.entities, out.problems, 0),
        rotations::load(std::path::Path::new(&format!("{root}/config/oncall.yaml"))).unwrap(),
        Default::default(),
    ));

    // The fake Web API: notes when each answer (keyed by its thread) arrives.
    let arrived: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let ok = std::fs::read_to_string(format!(
        "{root}/tests/fixtures/payloads/slack/webapi-chat.postMessage-ok.json"
    ))
    .unwrap();
    let a = arrived.clone();
    let fake = Router::new().route(
        "/api/chat.postMessage",
        post(move |body: Bytes| async move {
            let v: Value = serde_json::from_slice(&body).unwrap();
            a.lock()
                .unwrap()
                .insert(v["thread_ts"].as_str().unwrap().to_string(), Instant::now());
            ([(header::CONTENT_TYPE, "application/json")], ok)
        }),
    );
    let fake_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}/api", fake_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(fake_listener, fake).await.unwrap() });

    // The bot, with its own SQLite file for event ids.
    let dir = std::env::temp_dir().join(format!("switchboard-slack-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::connect(&format!("sqlite://{}/sb.db", dir.display()), 4)
        .await
        .unwrap();
    let settings = SlackSettings {
        api_url,
        bot_token: "xoxb-bench".into(),
        signing_secret: SECRET.into(),
        app_token: String::new(),
        channel_interval: Duration::ZERO,
        failpoints: Default::default(),
        answer_lease: Duration::from_secs(300),
    };
    let app = SlackApp::new(bot.clone(), store, &settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slack/events", listener.local_addr().unwrap());
    tokio::spawn(switchboard::http::serve(
        listener,
        switchboard::http::router(bot, Some(app.routes())),
    ));

    let template: Value = {
        let text = std::fs::read_to_string(format!(
            "{root}/tests/fixtures/payloads/slack/events-event_callback-app_mention.docs.txt"
        ))
        .unwrap();
        let strict = regex::Regex::new(r",(\s*[}\]])")
            .unwrap()
            .replace_all(&text, "$1")
            .into_owned();
        serde_json::from_str(&strict).unwrap()
    };
    let questions = [
        "who owns artist-lookup",
        "oncall artist-lookup",
        "what depends on wayback-archive",
        "artst lookup",
        "deps wayback-search",
    ];
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(level));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let mut ev = template.clone();
        let ts = format!("1700000000.{i:06}");
        ev["event_id"] = json!(format!("EvBench{level}-{i}"));
        ev["event"]["ts"] = json!(ts.clone());
        ev["event"]["channel"] = json!(format!("C{:05}", i % 500));
        ev["event"]["text"] = json!(format!("<@U0LAN0Z89> {}", questions[i % questions.len()]));
        let body = ev.to_string();
        let now = chrono::Utc::now().timestamp();
        let req = hyper::Request::post(&url)
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", now.to_string())
            .header(
                "x-slack-signature",
                sign(SECRET.as_bytes(), now, body.as_bytes()),
            )
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let (client, sent, permit) = (
            client.clone(),
            sent.clone(),
            in_flight.clone().acquire_owned().await.unwrap(),
        );
        tasks.push(tokio::spawn(async move {
            sent.lock().unwrap().insert(ts, Instant::now());
            let resp = client.request(req).await.unwrap();
            assert!(resp.status().is_success(), "{}", resp.status());
            resp.into_body().collect().await.unwrap();
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    while arrived.lock().unwrap().len() < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total = started.elapsed();
    let sent = sent.lock().unwrap();
    let arrived = arrived.lock().unwrap();
    let mut lat: Vec<Duration> = sent
        .iter()
        .map(|(ts, t0)| arrived[ts].duration_since(*t0))
        .collect();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    println!(
        "| {n} | {level} | {:.0} | {:.2} / {:.2} ms |",
        n as f64 / total.as_secs_f64(),
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
