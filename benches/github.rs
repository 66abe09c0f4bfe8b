//! GitHub source benchmark: an organisation of 2,000 repositories on the fake GitHub of the
//! tests (`tests/it/common/github.rs`), read through the real octocrab client into SQLite.
//! Run: `cargo bench --bench github [-- REPOS PUSHES]` (defaults 2000 and 200).
//!
//! The catalog is the synthetic one Backstage was measured on (`benches/gen_catalog.py`,
//! seed 42) with one component per repository, plus a `catalog` repository holding the groups,
//! systems and APIs behind a Location, and a CODEOWNERS in every component repository.
//!
//! Prints: API requests per entity and per repository for a first scan, for the dependency
//! graphs read after it, and for an unchanged rescan, their wall time, and webhook-to-answer latency (a push changes an owner; from
//! the signed webhook sent to the new owner being what `who owns` answers) p50/p99: one push
//! at a time, 50 at once to repositories of their own, and one after another while an
//! rescan runs in the background. With `RUST_LOG=switchboard=debug`, each push logs
//! where its time went.

#[path = "../tests/it/common/github.rs"]
mod fake;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use switchboard::Bot;
use switchboard::chat::ChatEvent;
use switchboard::config::Config;
use switchboard::http::github::Webhooks;
use switchboard::sources::github::{Auth, GitHub};
use switchboard::sources::rotations::Rotations;
use switchboard::store::Store;
use switchboard::sync::{self, Sources};

/// Where the fake finds GitHub's recorded payloads.
fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

const SECRET: &[u8] = b"bench-secret";

fn docs(text: &str) -> Vec<String> {
    text.split("\n---")
        .map(|d| d.trim_start_matches("---").trim().to_string())
        .filter(|d| d.contains("kind:"))
        .collect()
}

fn field<'a>(doc: &'a str, key: &str) -> Option<&'a str> {
    doc.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .map(str::trim)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("numbers: REPOS PUSHES"))
        .collect();
    let repos = args.first().copied().unwrap_or(2000);
    let pushes = args.get(1).copied().unwrap_or(200);
    // `RUST_LOG=switchboard=debug` shows where each push's time goes.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run(repos, pushes));
}

/// Sends signed pushes that change a component's owner, each then asked `who owns`.
struct Pusher {
    client: reqwest::Client,
    hook_url: String,
    fake: fake::FakeGitHub,
    template: serde_json::Value,
    /// Each component's name, owner and document.
    names: Vec<(String, String, String)>,
    teams: Vec<String>,
    bot: Arc<Bot>,
}

impl Pusher {
    /// Push number `i` (its repository picked from `i`): from the webhook sent to the answer
    /// naming the new owner.
    async fn push(&self, i: usize) -> Duration {
        let (name, owner, doc) = &self.names[(i * 7919) % self.names.len()];
        let new_owner = self
            .teams
            .iter()
            .find(|t| !owner.ends_with(t.as_str()) && (i + t.len()).is_multiple_of(3))
            .unwrap_or(&self.teams[0]);
        let changed = doc.replace(
            &format!("owner: {}", field(doc, "owner").unwrap()),
            &format!("owner: {new_owner}"),
        );
        let full = format!("acme/{name}");
        let after = self
            .fake
            .push(&full, &[("catalog-info.yaml", Some(&changed))]);
        let mut p = self.template.clone();
        p["ref"] = json!("refs/heads/main");
        p["after"] = json!(after);
        p["repository"]["full_name"] = json!(full);
        p["repository"]["name"] = json!(name);
        p["repository"]["owner"]["login"] = json!("acme");
        p["repository"]["default_branch"] = json!("main");
        p["commits"][0]["added"] = json!([]);
        p["commits"][0]["modified"] = json!(["catalog-info.yaml"]);
        p["head_commit"]["modified"] = json!(["catalog-info.yaml"]);
        let body = serde_json::to_vec(&p).unwrap();
        let sig = switchboard::http::github::sign(SECRET, &body);
        let t = Instant::now();
        let resp = self
            .client
            .post(&self.hook_url)
            .header("x-github-event", "push")
            .header("x-github-delivery", format!("bench-{i}"))
            .header("x-hub-signature-256", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let reply = self
            .bot
            .handle(ChatEvent::console(
                None,
                format!("who owns {name}"),
                self.bot.now(),
            ))
            .await
            .unwrap();
        let elapsed = t.elapsed();
        let headline = &reply.view.headline;
        assert!(
            headline.ends_with(&format!("owned by {new_owner}")),
            "the answer follows the push: {headline}"
        );
        elapsed
    }
}

async fn run(repos: usize, pushes: usize) {
    let work = std::env::temp_dir().join(format!("switchboard-bench-github-{repos}"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let gen_dir = work.join("catalog");
    let status = std::process::Command::new("python3")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/gen_catalog.py"))
        .arg(repos.to_string())
        .arg(&gen_dir)
        .args(["--seed", "42"])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs the generator");
    assert!(status.success());
    let read = |f: &str| std::fs::read_to_string(gen_dir.join(f)).unwrap();

    // The organisation: one repository per component, and one for the rest.
    let fake = fake::FakeGitHub::start().await;
    // One SBOM request per repository after the first scan: past 2,000 repositories that needs
    // more than an hour's budget of 5,000 (an App on Enterprise Cloud gets 15,000; the bench
    // is about Switchboard's side, so it gets what it needs, and reads them all at once).
    fake.set_remaining(5_000 + 2 * repos as u64);
    // Groups, systems and APIs in files of at most 1,000 documents each, behind one Location
    // (a single file of 20,000 APIs would pass the 1 MiB a catalog file may hold).
    let groups = read("groups.yaml");
    let mut files: Vec<(String, String)> = Vec::new();
    for (kind, text) in [
        ("groups", groups.clone()),
        ("systems", read("systems.yaml")),
        ("apis", read("apis.yaml")),
    ] {
        let all = docs(&text);
        for (i, chunk) in all.chunks(1000).enumerate() {
            files.push((format!("{kind}-{i:03}.yaml"), chunk.join("\n---\n")));
        }
    }
    let mut location = String::from(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: org-catalog\nspec:\n  targets:\n",
    );
    for (path, _) in &files {
        location.push_str(&format!("    - ./{path}\n"));
    }
    files.push(("catalog-info.yaml".into(), location));
    let listed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    fake.add_repo("acme", "catalog", &listed);
    let mut components = Vec::new();
    for f in std::fs::read_dir(&gen_dir).unwrap() {
        let p = f.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("components-")
        {
            components.extend(docs(&std::fs::read_to_string(p).unwrap()));
        }
    }
    components.sort();
    let mut names = Vec::new();
    for doc in &components {
        let name = field(doc, "name").unwrap().to_string();
        let owner = field(doc, "owner")
            .unwrap()
            .trim_start_matches("group:")
            .to_string();
        let codeowners = format!("* @acme/{}\n", owner.rsplit('/').next().unwrap());
        fake.add_repo(
            "acme",
            &name,
            &[
                ("catalog-info.yaml", doc.as_str()),
                (".github/CODEOWNERS", &codeowners),
                ("README.md", "# service"),
            ],
        );
        names.push((name, owner, doc.clone()));
    }
    let repo_count = names.len() + 1;

    let db = work.join("switchboard.db");
    let url = format!("sqlite://{}", db.display());
    let store = Store::connect(&url, 5).await.unwrap();
    let mut cfg = Config::default();
    cfg.catalog.local.paths = Vec::new();
    cfg.catalog.github.orgs = vec!["acme".into()];
    cfg.catalog.github.api_url = fake.url.clone();
    let github = || {
        Arc::new(
            GitHub::new(
                &cfg.catalog.github,
                Auth::Token("bench".into()),
                store.clone(),
                cfg.catalog.reader(),
            )
            .unwrap(),
        )
    };
    let sync_with = |gh: Arc<GitHub>| {
        let (cfg, store) = (cfg.clone(), store.clone());
        async move {
            let sources = Sources {
                github: Some(gh),
                ..Sources::default()
            };
            sync::sync_all(&cfg, &store, &sources, |_, _, _| {})
                .await
                .unwrap()
        }
    };

    // First scan.
    let gh = github();
    let t = Instant::now();
    let all = sync_with(gh.clone()).await;
    let first_time = t.elapsed();
    assert!(all.failures.is_empty(), "{:?}", all.failures);
    let first_requests = gh.requests();
    let entities = store.count_entities("github").await.unwrap() as f64;
    // Then the dependency graphs, as a serving bot reads them once the catalog is read.
    let t = Instant::now();
    let (graphs, graphs_left) = gh.read_missing_sboms().await.unwrap();
    let graphs_time = t.elapsed();
    let graphs_requests = gh.requests() - first_requests;
    let with_catalog = repo_count as f64;

    // Unchanged rescan, by a new process (nothing cached in memory).
    let gh = github();
    let t = Instant::now();
    let all = sync_with(gh.clone()).await;
    let rescan_time = t.elapsed();
    let rescan_requests = gh.requests();
    let rescan_304 = fake
        .calls()
        .iter()
        .rev()
        .take(rescan_requests as usize)
        .filter(|c| c.status == 304)
        .count();

    // Webhook → answer.
    let bot = Arc::new(Bot::new(
        all.snapshot,
        Rotations::default(),
        Default::default(),
    ));
    let hooks = Arc::new(Webhooks::new(
        gh.clone(),
        bot.clone(),
        store.clone(),
        SECRET.to_vec(),
    ));
    let router = switchboard::http::router(bot.clone(), Some(hooks.routes()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/github/webhook", listener.local_addr().unwrap());
    tokio::spawn(switchboard::http::serve(listener, router));
    let template: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(
            "payloads/github/webhook-push-default-branch-adds-file.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let teams: Vec<String> = docs(&groups)
        .iter()
        .filter_map(|d| field(d, "name").map(str::to_string))
        .collect();
    let pusher = Arc::new(Pusher {
        client: reqwest::Client::new(),
        hook_url,
        fake: fake.clone(),
        template,
        names: names.clone(),
        teams,
        bot: bot.clone(),
    });
    let mut latencies = Vec::with_capacity(pushes);
    for i in 0..pushes {
        latencies.push(pusher.push(i).await);
    }
    latencies.sort();

    // Pushes at once, each to a repository of its own: how many are applied a second.
    // (No two to one repository: their answers would race.)
    let burst = pushes.clamp(1, 50).min(names.len());
    let t = Instant::now();
    let sent: Vec<_> = (0..burst)
        .map(|i| {
            let pusher = pusher.clone();
            tokio::spawn(async move { pusher.push(pushes + i).await })
        })
        .collect();
    let mut at_once = Vec::with_capacity(burst);
    for s in sent {
        at_once.push(s.await.unwrap());
    }
    let burst_time = t.elapsed();
    at_once.sort();

    // Pushes while a rescan runs in the background, as the hourly sync does (it has nothing
    // to read but what pushes change meanwhile: their webhooks read the earlier ones).
    let sources = Sources {
        github: Some(github()),
        ..Sources::default()
    };
    let rescan = {
        let (bot, store, cfg) = (bot.clone(), store.clone(), cfg.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            switchboard::background::resync(&bot, &store, &sources, &cfg).await;
            t.elapsed()
        })
    };
    let mut during = Vec::new();
    let mut i = pushes + burst;
    loop {
        during.push(pusher.push(i).await);
        i += 1;
        if rescan.is_finished() {
            break;
        }
    }
    let rescan_busy = rescan.await.unwrap();
    during.sort();

    println!("GitHub source: {repo_count} repositories, {entities} entities, SQLite");
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| first scan | {first_requests} requests, {:.2} per repository, {:.2} per entity, {:.2?} |",
        first_requests as f64 / with_catalog,
        first_requests as f64 / entities,
        first_time
    );
    println!(
        "| dependency graphs after it | {graphs_requests} requests, {graphs} read, {graphs_left} left, {graphs_time:.2?} |"
    );
    println!(
        "| unchanged rescan | {rescan_requests} requests ({rescan_304} answered 304), {:.4} per entity, {:.2?} |",
        rescan_requests as f64 / entities,
        rescan_time
    );
    println!(
        "| webhook → answer ({pushes} pushes) | p50 {:.1?}, p99 {:.1?}, max {:.1?} |",
        pct(&latencies, 0.5),
        pct(&latencies, 0.99),
        latencies.last().unwrap()
    );
    println!(
        "| {burst} pushes at once | {:.0} applied a second; webhook → answer p50 {:.1?}, max {:.1?} |",
        burst as f64 / burst_time.as_secs_f64(),
        pct(&at_once, 0.5),
        at_once.last().unwrap()
    );
    println!(
        "| pushes during a rescan ({rescan_busy:.2?}) | {} pushes, webhook → answer p50 {:.1?}, max {:.1?} |",
        during.len(),
        pct(&during, 0.5),
        during.last().unwrap()
    );
    store.close().await;
}
