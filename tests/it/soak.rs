//! The soak (`scripts/soak`): `switchboard serve` replicas on one PostgreSQL take mixed traffic
//! at a fixed rate, spread over them as a load balancer would: Slack questions, Slack's retries
//! of some of them (the same event id, to another replica), button clicks, Discord slash
//! commands and GitHub pushes. Every question is answered exactly once and every click once;
//! it prints answer latencies, how long a push took to reach the other replicas, and each
//! replica's resident memory over time.
//!
//! `SWITCHBOARD_SOAK_SECS` (10), `SWITCHBOARD_SOAK_RATE` (events per second, 10),
//! `SWITCHBOARD_SOAK_REPLICAS` (`1,3`) and `SWITCHBOARD_SOAK_CHANNELS` (the channels questions
//! are asked in, 100) set the run; the defaults are the short smoke run the test suite makes.
//! A replica posts to one channel about once a second, as Slack allows, so questions faster
//! than the channels queue by design: raise the channels to find what a replica itself takes.
//! PostgreSQL only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use switchboard::store::Store;

use crate::common;
use crate::common::github::FakeGitHub;
use crate::common::slack::FakeSlack;

/// Events in one round of the mix (`soak`): 13 questions, 2 retries, a click, 3 Discord
/// commands and a push.
const MIX: usize = 20;

/// What is asked, in turn (the Backstage example catalog's entities).
const QUESTIONS: &[&str] = &[
    "who owns artist-lookup",
    "who is on call for artist-lookup",
    "what depends on wayback-archive",
    "info playback-order",
    "who owns payments-service",
    "find wayback",
    "what does artist-web depend on",
    "who owns wayback-search",
];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p`th percentile of `xs` (sorted here), in milliseconds.
fn percentile(xs: &mut [Duration], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort();
    let i = ((xs.len() as f64 - 1.0) * p).round() as usize;
    xs[i].as_secs_f64() * 1000.0
}

/// A replica's resident memory, in MiB (Linux).
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// What one run measured.
#[derive(Debug, Default)]
struct Figures {
    replicas: usize,
    secs: f64,
    events: usize,
    questions: usize,
    retries: usize,
    clicks: usize,
    discord: usize,
    pushes: usize,
    /// Pushes still being applied when the webhook's wait ran out (answered 202).
    pushes_late: usize,
    unanswered: usize,
    doubled: usize,
    clicks_answered: usize,
    slack_ms: (f64, f64),
    discord_ms: (f64, f64),
    webhook_ms: (f64, f64),
    propagation_ms: (f64, f64, f64),
    /// Per replica: RSS at the first sample, the highest, the last (MiB).
    rss: Vec<(f64, f64, f64)>,
    /// What went wrong (a request refused, a push that did not spread), with how often.
    failures: std::collections::BTreeMap<String, usize>,
}

impl Figures {
    fn print(&self) {
        println!(
            "soak: {} replica(s), {:.0} s, {} events ({:.1}/s): {} questions, {} retries, {} clicks, {} Discord commands, {} pushes",
            self.replicas,
            self.secs,
            self.events,
            self.events as f64 / self.secs,
            self.questions,
            self.retries,
            self.clicks,
            self.discord,
            self.pushes
        );
        println!(
            "  answered exactly once: {}/{} questions ({} unanswered, {} answered twice); clicks answered {}/{}",
            self.questions - self.unanswered - self.doubled,
            self.questions,
            self.unanswered,
            self.doubled,
            self.clicks_answered,
            self.clicks
        );
        println!(
            "  Slack question → answer posted: p50 {:.1} ms, p99 {:.1} ms",
            self.slack_ms.0, self.slack_ms.1
        );
        println!(
            "  Discord command → response: p50 {:.1} ms, p99 {:.1} ms",
            self.discord_ms.0, self.discord_ms.1
        );
        println!(
            "  GitHub push → applied (webhook answered): p50 {:.1} ms, p99 {:.1} ms; {} of {} still applying when the webhook was answered (202)",
            self.webhook_ms.0, self.webhook_ms.1, self.pushes_late, self.pushes
        );
        if self.replicas > 1 {
            println!(
                "  push applied on one replica → every other replica at its generation: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                self.propagation_ms.0, self.propagation_ms.1, self.propagation_ms.2
            );
        }
        for (i, (first, high, last)) in self.rss.iter().enumerate() {
            println!(
                "  replica {i} RSS: {first:.0} MiB at the start, {high:.0} MiB at most, {last:.0} MiB at the end"
            );
        }
        for (what, n) in &self.failures {
            println!("  FAILED {n}×: {what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_traffic_on_one_and_three_replicas_is_answered_exactly_once() {
    let secs: u64 = env_or("SWITCHBOARD_SOAK_SECS", 10);
    let rate: u64 = env_or("SWITCHBOARD_SOAK_RATE", 10);
    let counts: String = env_or("SWITCHBOARD_SOAK_REPLICAS", "1,3".to_string());
    let limit = Duration::from_secs(secs * counts.split(',').count() as u64 * 2 + 300);
    tokio::time::timeout(limit, async {
        for n in counts
            .split(',')
            .filter_map(|c| c.trim().parse::<usize>().ok())
        {
            let Some(f) = soak(n, secs, rate).await else {
                return;
            };
            // The figures first: a run that fails says how far it got.
            f.print();
            assert!(f.failures.is_empty(), "{:?}", f.failures);
            assert_eq!(f.unanswered, 0, "{f:?}");
            assert_eq!(f.doubled, 0, "{f:?}");
            assert_eq!(f.clicks_answered, f.clicks, "{f:?}");
        }
    })
    .await
    .expect("the soak took longer than its time limit");
}

/// Runs the soak on `n` replicas; None without PostgreSQL.
async fn soak(n: usize, secs: u64, rate: u64) -> Option<Figures> {
    let db = common::postgres().await?;
    let (slack, slack_url) = FakeSlack::start().await;
    let (_discord, discord_url) = crate::discord::FakeDiscord::start().await;
    let github = FakeGitHub::start().await;
    crate::github::populate(&github);
    // A push costs about three requests of the fake's hourly budget (5,000, what GitHub gives
    // a token), and the run sends one a round of the mix: from some 1,600 pushes on, the
    // budget would refuse them, not Switchboard. The run gets the budget it needs, as an
    // installation granted a higher limit has.
    github.set_remaining(5_000.max(secs * rate / MIX as u64 * 4 + 1_000));
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("switchboard.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\nurl = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
             [catalog.local]\npaths = {:?}\n\
             [catalog.github]\norgs = [\"acme\"]\napi_url = \"{}\"\nmax_retries = 1\n\
             [slack]\nenabled = true\nmode = \"events\"\napi_url = \"{slack_url}\"\n\
             [discord]\nenabled = true\nmode = \"http\"\napi_url = \"{discord_url}\"\n\
             application_id = {}\n[scorecards]\npath = \"\"\n",
            db.url,
            common::examples(),
            github.url,
            crate::discord::APPLICATION,
        ),
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    let public = hex::encode(key.verifying_key().to_bytes());
    let mut replicas = Vec::new();
    for i in 0..n {
        let (cfg, public) = (cfg.clone(), public.clone());
        let host = format!("soak-replica-{i}");
        let served = tokio::task::spawn_blocking(move || {
            common::Served::start(
                &cfg,
                &[
                    ("HOSTNAME", host.as_str()),
                    ("SLACK_BOT_TOKEN", "xoxb-soak"),
                    ("SLACK_SIGNING_SECRET", crate::slack::SECRET),
                    ("DISCORD_TOKEN", "fake-bot-token"),
                    ("DISCORD_PUBLIC_KEY", public.as_str()),
                    ("GITHUB_TOKEN", "ghp_soak"),
                    ("GITHUB_WEBHOOK_SECRET", crate::github::SECRET),
                    ("RUST_LOG", "info"),
                ],
            )
        })
        .await
        .unwrap();
        replicas.push(served);
    }
    let urls: Vec<String> = replicas.iter().map(|r| r.url()).collect();
    let pids: Vec<u32> = replicas.iter().map(|r| r.pid()).collect();
    let store = Store::connect(&db.url, 2).await.unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // Resident memory, every 5 s.
    let rss: Arc<Mutex<Vec<Vec<f64>>>> = Arc::new(Mutex::new(vec![Vec::new(); n]));
    let sampling = {
        let (rss, pids) = (rss.clone(), pids.clone());
        tokio::spawn(async move {
            loop {
                for (i, pid) in pids.iter().enumerate() {
                    if let Some(m) = rss_mib(*pid) {
                        rss.lock().unwrap()[i].push(m);
                    }
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        })
    };

    let asked: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    let discord_ms: Arc<Mutex<Vec<Duration>>> = Default::default();
    let webhook_ms: Arc<Mutex<Vec<Duration>>> = Default::default();
    let propagation_ms: Arc<Mutex<Vec<Duration>>> = Default::default();
    let failures: Arc<Mutex<Vec<String>>> = Default::default();
    let late = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut f = Figures {
        replicas: n,
        ..Figures::default()
    };
    let started = Instant::now();
    let total = (secs * rate) as usize;
    let channels: usize = env_or("SWITCHBOARD_SOAK_CHANNELS", 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    let mut owner_is_b = false;
    for i in 0..total {
        tick.tick().await;
        let replica = urls[i % n].clone();
        let other = urls[(i + 1) % n].clone();
        let client = client.clone();
        let failures = failures.clone();
        f.events += 1;
        match i % MIX {
            // A retry of an earlier question, to another replica, as Slack retries one it
            // thinks went unacknowledged.
            12 | 13 if f.questions > 0 => {
                f.retries += 1;
                let (_, payload) = question(i - 7, channels);
                tasks.spawn(async move { send(&client, &other, &payload, true, &failures).await });
            }
            // A click on a did-you-mean button (its question rides in its value).
            14 => {
                f.clicks += 1;
                let body = click(
                    &format!("C{:08}", i % 100),
                    &format!("sb1:ask:{}", QUESTIONS[i % QUESTIONS.len()]),
                );
                tasks.spawn(async move {
                    let status = crate::slack::send_signed(
                        &client,
                        &replica,
                        "/slack/interactivity",
                        "application/x-www-form-urlencoded",
                        body,
                        false,
                    )
                    .await;
                    if status != 200 {
                        failures.lock().unwrap().push(format!("click: {status}"));
                    }
                });
            }
            // A Discord slash command, answered in the interaction's response.
            15..=17 => {
                f.discord += 1;
                let command = crate::discord::slash(
                    &format!("{}", 900_000_000_000_000_000u64 + i as u64),
                    "ask",
                    "owner",
                    json!([{"type": 3, "name": "name", "value": "artist-lookup"}]),
                );
                let body = command.to_string();
                let ts = chrono::Utc::now().timestamp().to_string();
                let sig = hex::encode(
                    key.sign(&[ts.as_bytes(), body.as_bytes()].concat())
                        .to_bytes(),
                );
                let times = discord_ms.clone();
                tasks.spawn(async move {
                    let sent = Instant::now();
                    let r = client
                        .post(format!("{replica}/discord/interactions"))
                        .header("content-type", "application/json")
                        .header("x-signature-ed25519", sig)
                        .header("x-signature-timestamp", ts)
                        .body(body)
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => times.lock().unwrap().push(sent.elapsed()),
                        Ok(r) => failures
                            .lock()
                            .unwrap()
                            .push(format!("discord: {}", r.status())),
                        Err(e) => failures.lock().unwrap().push(format!("discord: {e}")),
                    }
                });
            }
            // A push that hands payments-service to the other team; then the time until
            // every other replica has applied it.
            18 => {
                f.pushes += 1;
                owner_is_b = !owner_is_b;
                let owner = if owner_is_b { "team-b" } else { "team-a" };
                let after = github.push(
                    "acme/payments",
                    &[(
                        "catalog-info.yaml",
                        Some(&crate::github::component("payments-service", owner)),
                    )],
                );
                let push = crate::github::push_payload(
                    "acme/payments",
                    "main",
                    &after,
                    &["catalog-info.yaml"],
                );
                let bytes = serde_json::to_vec(&push).unwrap();
                let sig = crate::github::sign(&bytes);
                let (times, spread, late) =
                    (webhook_ms.clone(), propagation_ms.clone(), late.clone());
                let (store, others): (Store, Vec<String>) = (
                    store.clone(),
                    urls.iter().filter(|u| **u != replica).cloned().collect(),
                );
                tasks.spawn(async move {
                    let sent = Instant::now();
                    let r = client
                        .post(format!("{replica}/github/webhook"))
                        .header("x-github-event", "push")
                        .header("x-github-delivery", format!("soak-{i}"))
                        .header("x-hub-signature-256", sig)
                        .header("content-type", "application/json")
                        .body(bytes)
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => {
                            let applied = Instant::now();
                            times.lock().unwrap().push(applied - sent);
                            let (_, latest) = store.feed_bounds().await.unwrap();
                            for other in others {
                                let deadline = applied + Duration::from_secs(30);
                                loop {
                                    let g = client
                                        .get(format!("{other}/readyz"))
                                        .send()
                                        .await
                                        .ok()
                                        .map(|r| r.json::<Value>());
                                    let g = match g {
                                        Some(j) => {
                                            j.await.ok().and_then(|v| v["generation"].as_i64())
                                        }
                                        None => None,
                                    };
                                    if g.is_some_and(|g| g >= latest) {
                                        break;
                                    }
                                    if Instant::now() > deadline {
                                        failures.lock().unwrap().push(format!(
                                            "{other} did not reach a push's generation in 30 s"
                                        ));
                                        break;
                                    }
                                    tokio::time::sleep(Duration::from_millis(20)).await;
                                }
                            }
                            spread.lock().unwrap().push(applied.elapsed());
                        }
                        // Accepted, and applied in the background: checked after the load.
                        Ok(r) if r.status() == 202 => {
                            late.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Ok(r) => failures
                            .lock()
                            .unwrap()
                            .push(format!("webhook: {}", r.status())),
                        Err(e) => failures.lock().unwrap().push(format!("webhook: {e}")),
                    }
                });
            }
            // A question, mentioning the bot in one of the channels.
            _ => {
                f.questions += 1;
                let (id, payload) = question(i, channels);
                asked.lock().unwrap().insert(id, Instant::now());
                tasks.spawn(
                    async move { send(&client, &replica, &payload, false, &failures).await },
                );
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    f.secs = started.elapsed().as_secs_f64();

    // Every question answered, then one more on each replica: what would have come twice came
    // before those last answers.
    let answers = |slack: &FakeSlack| -> HashMap<String, Vec<Instant>> {
        let mut by_event: HashMap<String, Vec<Instant>> = HashMap::new();
        for (at, body) in slack.posted_at.lock().unwrap().iter() {
            if let Some(id) = body["metadata"]["event_payload"]["event_id"].as_str() {
                by_event.entry(id.to_string()).or_default().push(*at);
            }
        }
        by_event
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while answers(&slack).len() < f.questions && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last: Vec<String> = (0..n).map(|r| format!("EvSOAKLAST{r}")).collect();
    for (r, id) in last.iter().enumerate() {
        let mut payload = crate::slack::mention("<@U0LAN0Z89> who owns artist-lookup");
        payload["event_id"] = json!(id);
        payload["event"]["ts"] = json!(format!("1700002000.{r:06}"));
        crate::slack::send_signed(
            &client,
            &urls[r],
            "/slack/events",
            "application/json",
            payload.to_string(),
            false,
        )
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !last.iter().all(|id| answers(&slack).contains_key(id)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every push accepted is applied in the end, late ones too: every replica answers with the
    // owner the last push gave.
    f.pushes_late = late.load(std::sync::atomic::Ordering::Relaxed);
    if f.pushes > 0 {
        // The answer's own words, the team by its title (a CODEOWNERS claim may name the other
        // team further on).
        let owner = match owner_is_b {
            true => "payments-service is owned by Team B",
            false => "payments-service is owned by team-a",
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        for (r, url) in urls.iter().enumerate() {
            let mut attempt = 0;
            let mut last_said: Option<String>;
            let answered = loop {
                attempt += 1;
                let id = format!("EvSOAKOWNER{r}x{attempt}");
                let mut payload = crate::slack::mention("<@U0LAN0Z89> who owns payments-service");
                payload["event_id"] = json!(id);
                payload["event"]["ts"] = json!(format!("1700003000.{r:03}{attempt:03}"));
                send(&client, url, &payload, false, &failures).await;
                let said = loop {
                    let said = slack.posted_at.lock().unwrap().iter().find_map(|(_, b)| {
                        (b["metadata"]["event_payload"]["event_id"] == id.as_str())
                            .then(|| b["text"].as_str().unwrap_or_default().to_string())
                    });
                    if said.is_some() || Instant::now() > deadline {
                        break said;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                };
                last_said = said.clone();
                match said {
                    Some(text) if text == owner => break true,
                    _ if Instant::now() > deadline => break false,
                    _ => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            };
            if !answered {
                failures.lock().unwrap().push(format!(
                    "replica {r} did not answer the last push's owner (\"{owner}\") within 120 s of the load; it said {last_said:?}"
                ));
            }
        }
    }
    sampling.abort();

    let by_event = answers(&slack);
    let asked = asked.lock().unwrap().clone();
    let mut slack_times = Vec::new();
    for (id, sent) in &asked {
        match by_event.get(id).map(Vec::as_slice) {
            None | Some([]) => f.unanswered += 1,
            Some([one]) => slack_times.push(one.saturating_duration_since(*sent)),
            Some(_) => f.doubled += 1,
        }
    }
    f.clicks_answered = slack
        .calls()
        .iter()
        .filter(|(m, _)| m == "chat.postEphemeral")
        .count();
    f.slack_ms = (
        percentile(&mut slack_times, 0.5),
        percentile(&mut slack_times, 0.99),
    );
    let mut d = discord_ms.lock().unwrap().clone();
    f.discord_ms = (percentile(&mut d, 0.5), percentile(&mut d, 0.99));
    let mut w = webhook_ms.lock().unwrap().clone();
    f.webhook_ms = (percentile(&mut w, 0.5), percentile(&mut w, 0.99));
    let mut p = propagation_ms.lock().unwrap().clone();
    f.propagation_ms = (
        percentile(&mut p, 0.5),
        percentile(&mut p, 0.99),
        percentile(&mut p, 1.0),
    );
    f.rss = rss
        .lock()
        .unwrap()
        .iter()
        .map(|s| {
            let high = s.iter().cloned().fold(0.0, f64::max);
            (
                s.first().copied().unwrap_or(0.0),
                high,
                s.last().copied().unwrap_or(0.0),
            )
        })
        .collect();
    for what in failures.lock().unwrap().drain(..) {
        *f.failures.entry(what).or_default() += 1;
    }
    for r in &replicas {
        r.assert_logged_none_of(&[
            "xoxb-soak",
            crate::slack::SECRET,
            "ghp_soak",
            crate::github::SECRET,
            "fake-bot-token",
        ]);
    }
    drop(replicas);
    store.close().await;
    Some(f)
}

/// Sends Slack's event `payload` (a question, or with `retry` Slack's retry of one) to the
/// replica at `url`; a refusal is a failure.
async fn send(
    client: &reqwest::Client,
    url: &str,
    payload: &Value,
    retry: bool,
    failures: &Mutex<Vec<String>>,
) {
    let status = crate::slack::send_signed(
        client,
        url,
        "/slack/events",
        "application/json",
        payload.to_string(),
        retry,
    )
    .await;
    if status != 200 {
        let what = if retry { "retry" } else { "question" };
        failures.lock().unwrap().push(format!("{what}: {status}"));
    }
}

/// The `i`th event's question: its event id, and Slack's mention of the bot asking it in one
/// of `channels` channels (sent again as is, it is Slack's retry of it).
fn question(i: usize, channels: usize) -> (String, Value) {
    let id = format!("EvSOAK{i}");
    let text = format!("<@U0LAN0Z89> {}", QUESTIONS[i % QUESTIONS.len()]);
    let mut payload = crate::slack::mention(&text);
    payload["event_id"] = json!(id);
    payload["event"]["channel"] = json!(format!("C{:08}", i % channels));
    payload["event"]["ts"] = json!(format!("1700001000.{i:06}"));
    (id, payload)
}

/// A click on a button carrying `value`, in `channel`, answered to the clicker alone.
fn click(channel: &str, value: &str) -> String {
    let mut p = crate::slack::docs_json("interactive-block_actions-button-home-tab.json");
    // As Slack sends a click on a message's button.
    p["container"] = json!({"type": "message", "message_ts": "1515449522.000016", "channel_id": channel, "is_ephemeral": true});
    p["channel"] = json!({"id": channel, "name": "general"});
    p.as_object_mut().unwrap().remove("view");
    p["actions"][0]["action_id"] = json!("sb_action");
    p["actions"][0]["value"] = json!(value);
    serde_urlencoded::to_string([("payload", p.to_string())]).unwrap()
}
