//! Approval cards and golden paths.
//! Run: `cargo bench --bench cards [-- RUNS]` (default 200).
//!
//! 1. Click → every card copy updated: RUNS runs of register-component, each requested in a
//!    Slack thread (its card posted there and DMed to three approvers), then approved by a
//!    signed `block_actions` click over loopback HTTP into the real router; from the click
//!    sent to the last of the four `chat.update`s arriving at a fake Slack Web API, p50/p99.
//! 2. GitHub requests of one `create-service` run, through the real octocrab client into the
//!    fake GitHub of the tests, and of each retry after a crash after each of its steps.

#[path = "../tests/it/common/github.rs"]
mod fake;

use std::collections::HashMap;
use std::path::PathBuf;
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
use switchboard::chat::slack::signature::sign;
use switchboard::chat::slack::{SlackApp, SlackSettings};
use switchboard::chat::{Actor, ChatEvent, Conversation, Input, Platform};
use switchboard::clock::Clock;
use switchboard::desk::Desk;
use switchboard::failpoints::Failpoints;
use switchboard::store::Store;

const SECRET: &str = "bench-signing-secret";

/// Where the fake finds GitHub's recorded payloads.
fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

/// A team of four with Slack ids, beside the example catalog.
const TEAM: &str = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: bench-team\nspec:\n  type: team\n  children: []\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: u1\n  annotations:\n    slack.com/user-id: U1\nspec:\n  memberOf: [bench-team]\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: u2\n  annotations:\n    slack.com/user-id: U2\nspec:\n  memberOf: [bench-team]\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: u3\n  annotations:\n    slack.com/user-id: U3\nspec:\n  memberOf: [bench-team]\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: u4\n  annotations:\n    slack.com/user-id: U4\nspec:\n  memberOf: [bench-team]\n";

fn examples(extra: &std::path::Path) -> Vec<String> {
    vec![
        format!("{}/tests/fixtures/backstage-examples/all.yaml", root()),
        format!(
            "{}/tests/fixtures/backstage-examples/acme-corp.yaml",
            root()
        ),
        extra.display().to_string(),
    ]
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("RUNS"))
        .unwrap_or(200);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(clicks(runs));
    rt.block_on(github_requests());
}

async fn clicks(runs: usize) {
    let work = std::env::temp_dir().join(format!("switchboard-bench-cards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("team.yaml"), TEAM).unwrap();

    // The fake Web API: posts get a ts; each update is noted with when it arrived.
    let updates: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
    let posted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let ok =
        std::fs::read_to_string(fixture("payloads/slack/webapi-chat.postMessage-ok.json")).unwrap();
    let opened =
        std::fs::read_to_string(fixture("payloads/slack/webapi-conversations.open-ok.json"))
            .unwrap();
    let (u, p, ok2) = (updates.clone(), posted.clone(), ok.clone());
    let fake = Router::new()
        .route(
            "/api/chat.postMessage",
            post(move |body: Bytes| {
                let (p, ok) = (p.clone(), ok2.clone());
                async move {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    let n = p.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let mut answer: Value = serde_json::from_str(&ok).unwrap();
                    answer["channel"] = v["channel"].clone();
                    answer["ts"] = json!(format!("1700000000.{n:06}"));
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        answer.to_string(),
                    )
                }
            }),
        )
        .route(
            "/api/chat.update",
            post(move |body: Bytes| {
                let u = u.clone();
                async move {
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    // The run's id is the card's `status N` query, in its text.
                    let text = v["text"].as_str().unwrap_or_default().to_string();
                    u.lock()
                        .unwrap()
                        .entry(text)
                        .or_default()
                        .push(Instant::now());
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        r#"{"ok": true, "channel": "C1", "ts": "1", "text": ""}"#,
                    )
                }
            }),
        )
        .route(
            "/api/conversations.open",
            post(move || {
                let o = opened.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], o) }
            }),
        )
        .route(
            "/api/chat.postEphemeral",
            post(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"ok": true, "message_ts": "1"}"#,
                )
            }),
        );
    let fake_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}/api", fake_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(fake_listener, fake).await.unwrap() });

    let store = Store::connect(&format!("sqlite://{}/sb.db", work.display()), 4)
        .await
        .unwrap();
    let desk = Arc::new(Desk::new(
        store.clone(),
        Default::default(),
        switchboard::executors::all(
            switchboard::executors::register::Register {
                store: store.clone(),
                reader: Default::default(),
            },
            switchboard::executors::http::Http::new(Duration::from_secs(5)).unwrap(),
            switchboard::executors::github::GitHubSteps::new(None),
        ),
        Failpoints::default(),
    ));
    desk.load_workflows(Some(vec![format!(
        "{}/commands/register-component.yaml",
        root()
    )]));
    let scanned = switchboard::sources::local::scan(
        &examples(&work.join("team.yaml")),
        &Default::default(),
        0,
    );
    let bot = Arc::new(
        Bot::new(
            switchboard::catalog::Snapshot::build(scanned.entities, scanned.problems, 0),
            Default::default(),
            Default::default(),
        )
        .with_store(store.clone())
        .with_desk(desk.clone()),
    );
    let settings = SlackSettings {
        api_url,
        bot_token: "xoxb-bench".into(),
        signing_secret: SECRET.into(),
        app_token: String::new(),
        channel_interval: Duration::ZERO,
        failpoints: Default::default(),
        answer_lease: Duration::from_secs(300),
    };
    let app = SlackApp::new(bot.clone(), store.clone(), &settings).unwrap();
    desk.add_outbox(Platform::Slack, Arc::new(app.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/slack/interactivity",
        listener.local_addr().unwrap()
    );
    tokio::spawn(switchboard::http::serve(
        listener,
        switchboard::http::router(bot.clone(), Some(app.routes())),
    ));

    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(
            "payloads/slack/interactive-block_actions-button-channel-message.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut lat = Vec::with_capacity(runs);
    for i in 0..runs {
        // U1 asks in a thread; the card goes there and to U2, U3, U4 by DM.
        let asked = bot
            .handle(ChatEvent {
                actor: Actor::on(Platform::Slack, "U1"),
                conversation: Conversation {
                    channel: Some("C1".into()),
                    thread: Some(format!("1600000000.{i:06}")),
                    follow_up: None,
                    continued_as: None,
                },
                input: Input::Text(format!(
                    "run register-component name=bench-{i} owner=bench-team"
                )),
                now: chrono::Utc::now(),
            })
            .await
            .unwrap();
        let id = asked.result["id"].as_i64().expect("a run");
        let cards = store.cards(id).await.unwrap();
        assert_eq!(cards.len(), 4);
        let mut click = template.clone();
        click["user"]["id"] = json!("U2");
        click["container"]["channel_id"] = json!(cards[1].at.channel);
        click["container"]["message_ts"] = json!(cards[1].at.id);
        click["channel"]["id"] = json!(cards[1].at.channel);
        click["actions"][0]["action_id"] = json!("sb_action");
        click["actions"][0]["value"] = json!(format!("sb1:approve:{id}"));
        let body = serde_urlencoded::to_string([("payload", click.to_string())]).unwrap();
        let now = chrono::Utc::now().timestamp();
        let req = hyper::Request::post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", now.to_string())
            .header(
                "x-slack-signature",
                sign(SECRET.as_bytes(), now, body.as_bytes()),
            )
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let key = format!("Run {id} of register-component on group:default/bench-team: approved");
        let t0 = Instant::now();
        let resp = client.request(req).await.unwrap();
        assert!(resp.status().is_success());
        resp.into_body().collect().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let last = loop {
            if let Some(at) = updates.lock().unwrap().get(&key).filter(|v| v.len() >= 4) {
                break *at.iter().max().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "run {id}: not every copy was updated"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        lat.push(last.duration_since(t0));
    }
    lat.sort();
    println!("| runs | copies per card | click → every copy updated p50 / p99 |");
    println!("|---|---|---|");
    println!(
        "| {runs} | 4 | {:.2} / {:.2} ms |",
        pct(&lat, 0.5).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3
    );
    println!();
    let _ = std::fs::remove_dir_all(&work);
}

/// GitHub requests of one create-service run, and of each retry after a crash.
async fn github_requests() {
    let work =
        std::env::temp_dir().join(format!("switchboard-bench-golden-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("team.yaml"), TEAM).unwrap();
    let gh = fake::FakeGitHub::start().await;
    gh.add_repo(
        "acme",
        "golden-path-service",
        &[("README.md", "# golden path\n")],
    );
    // Opened as `switchboard` opens: the catalog synced into the store, so the registration's
    // reload of the catalog keeps it.
    let mut config = switchboard::config::Config::default();
    config.database.url.0 = format!("sqlite://{}/sb.db", work.display());
    config.catalog.local.paths = examples(&work.join("team.yaml"));
    config.catalog.github.api_url = gh.url.clone();
    let clock = Clock::fixed(chrono::Utc::now());
    let opened = switchboard::app::App::open_at(&config, switchboard::app::Use::Ask, clock.clone())
        .await
        .unwrap();
    let store = opened.store.clone();
    let api = Arc::new(
        switchboard::github::Api::new(
            &config.catalog.github,
            &switchboard::github::Auth::Token("ghp_bench".into()),
            store.clone(),
        )
        .unwrap(),
    );
    let desk = |failpoints: &str| {
        let d = Desk::new(
            store.clone(),
            Default::default(),
            switchboard::executors::all(
                switchboard::executors::register::Register {
                    store: store.clone(),
                    reader: Default::default(),
                },
                switchboard::executors::http::Http::new(Duration::from_secs(5)).unwrap(),
                switchboard::executors::github::GitHubSteps::new(Some(api.clone())),
            ),
            Failpoints::parse(failpoints).unwrap(),
        );
        d.load_workflows(Some(vec![format!("{}/commands", root())]));
        d
    };
    let bot = Bot::new(
        switchboard::sync::load_snapshot(&store).await.unwrap(),
        Default::default(),
        Default::default(),
    )
    .with_store(store.clone())
    .with_clock(clock.clone())
    .with_desk(Arc::new(desk("")));
    let say = |who: &str, text: String| {
        bot.handle(ChatEvent::console(Some(who.into()), text, clock.now()))
    };
    let count = |from: usize| {
        let calls = gh.calls();
        let reads = calls[from..].iter().filter(|c| c.method == "GET").count();
        (reads, calls.len() - from - reads, calls.len())
    };
    println!("| create-service | GitHub reads | GitHub writes |");
    println!("|---|---|---|");
    // One run, no crash.
    let asked = say(
        "u1",
        "run create-service name=bench-one owner=bench-team".into(),
    )
    .await
    .unwrap();
    let id = asked.result["id"].as_i64().unwrap();
    say("u2", format!("approve {id}")).await.unwrap();
    let before = gh.calls().len();
    while bot.desk().unwrap().work_once(&bot).await.unwrap() {}
    let (r, w, _) = count(before);
    println!("| one run | {r} | {w} |");
    // Another, crashing after each step once; each retry counted.
    let asked = say(
        "u1",
        "run create-service name=bench-two owner=bench-team".into(),
    )
    .await
    .unwrap();
    let id = asked.result["id"].as_i64().unwrap();
    say("u2", format!("approve {id}")).await.unwrap();
    for step in ["repository", "files", "register"] {
        let crashing = desk(&format!("after_step.{step}=error"));
        let before = gh.calls().len();
        assert!(crashing.work_once(&bot).await.is_err());
        let (r, w, _) = count(before);
        println!("| until a crash after `{step}` | {r} | {w} |");
        clock.advance(chrono::Duration::minutes(6));
    }
    let before = gh.calls().len();
    while bot.desk().unwrap().work_once(&bot).await.unwrap() {}
    let (r, w, _) = count(before);
    println!("| the last retry, to the end | {r} | {w} |");
    assert_eq!(gh.generated().len(), 2, "one repository per run");
    assert_eq!(gh.commits_made().len(), 2, "one commit per run");
    let _ = std::fs::remove_dir_all(&work);
}
