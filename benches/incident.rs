//! Incident answers on the synthetic catalogs Backstage was measured on, with 30 days of
//! changes for 10,000 repositories: every question through `Bot::handle`, from memory.
//! Run: `cargo bench --bench incident [-- SIZES]` (default 100000).
//!
//! Each component is given a repository (`github.com/project-slug`, component i in
//! `acme/repo-{i mod 10000}`, so ten components share one), and every repository 50 changes
//! spread over the last 30 days (deploys, merged pull requests, workflow runs): 500,000 in all,
//! written to a SQLite file and read back as `serve` does at start-up. Prints, per size: the
//! memory the change log adds once read, how long reading it from the store takes, and the
//! p50/p99 of `incident component-N` and `changes component-N` over 2,000 random components.

#[path = "support/generated.rs"]
mod generated;
#[path = "support/measure.rs"]
mod measure;

use std::time::Instant;

use switchboard::Bot;
use switchboard::catalog::Snapshot;
use switchboard::changes::RepoChange;
use switchboard::chat::ChatEvent;
use switchboard::sources::local;
use switchboard::store::Store;

use measure::{Rnd, pct_ms as pct, rss_kb};

/// The allocator `switchboard serve` runs with, so memory reads as it would there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REPOS: usize = 10_000;
const CHANGES_PER_REPO: usize = 50;
const DAYS: i64 = 30;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "| components (entities) | changes held | resident memory added (heap the lists hold) | read from the store | incident X p50 / p99 (entities affected, mean) | changes X p50 / p99 |"
    );
    println!("|---|---|---|---|---|---|");
    for (n, dir) in generated::catalogs("100000") {
        rt.block_on(bench(n, &dir));
    }
}

async fn bench(n: usize, dir: &std::path::Path) {
    let root = dir.join("location.yaml").display().to_string();
    let mut out = local::scan(std::slice::from_ref(&root), &Default::default(), 0);
    for e in &mut out.entities {
        let Some(i) = e
            .key
            .strip_prefix("component:default/component-")
            .and_then(|i| i.parse::<usize>().ok())
        else {
            continue;
        };
        e.body["metadata"]["annotations"]["github.com/project-slug"] =
            format!("acme/repo-{:05}", i % REPOS).into();
    }
    let entities = out.entities.len();
    let bot = Bot::new(
        Snapshot::build(out.entities, out.problems, 0),
        Default::default(),
        Default::default(),
    );
    let now = bot.now().timestamp();

    // 30 days of changes, written as webhooks and scans would.
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db.path().join("bench.db").display());
    let store = Store::connect(&url, 2).await.unwrap();
    let mut rnd = Rnd(42);
    let kinds = ["deploy", "merge", "workflow"];
    let mut batch = Vec::new();
    for r in 0..REPOS {
        for k in 0..CHANGES_PER_REPO {
            let kind = kinds[k % 3];
            batch.push(RepoChange {
                repo: format!("acme/repo-{r:05}"),
                kind: kind.into(),
                ref_id: format!("{kind}-{k}"),
                title: format!("Change {k} of repo-{r:05}: a title as long as most"),
                who: Some(format!("dev-{}", rnd.below(5000))),
                // Within the 30 days, an hour clear of their start (the reading comes later).
                at: now - 3600 - rnd.below(((DAYS - 1) * 86_400) as usize) as i64,
                url: Some(format!(
                    "https://github.com/acme/repo-{r:05}/pull/{}",
                    1000 + k
                )),
                detail: (kind == "deploy").then(|| "production: success".into()),
                via: "webhook".into(),
            });
        }
        if batch.len() >= 5_000 {
            store.add_repo_changes(&batch).await.unwrap();
            batch.clear();
        }
    }
    store.add_repo_changes(&batch).await.unwrap();
    drop(batch);

    let before = rss_kb();
    let t = Instant::now();
    bot.reload_changes(&store).await.unwrap();
    let read = t.elapsed();
    let added = rss_kb().saturating_sub(before);
    let changes_held = bot.changes();
    let held = changes_held.len().0;
    assert_eq!(held, REPOS * CHANGES_PER_REPO);
    // What the lists hold: each change and the text it owns.
    let heap: usize = (0..REPOS)
        .flat_map(|r| changes_held.of_repo(&format!("acme/repo-{r:05}")))
        .map(|c| {
            std::mem::size_of_val(c)
                + [&c.repo, &c.kind, &c.ref_id, &c.title, &c.via]
                    .iter()
                    .map(|t| t.capacity())
                    .sum::<usize>()
                + [&c.who, &c.url, &c.detail]
                    .iter()
                    .map(|t| t.as_ref().map_or(0, |t| t.capacity()))
                    .sum::<usize>()
        })
        .sum();
    drop(changes_held);

    let ask = |q: String| {
        let bot = &bot;
        async move {
            let t = Instant::now();
            let r = bot
                .handle(ChatEvent::console(None, q, bot.now()))
                .await
                .expect("an answer");
            (t.elapsed(), r)
        }
    };
    let mut incident = Vec::new();
    let mut affected = 0u64;
    let mut changes = Vec::new();
    for _ in 0..2000 {
        let c = format!("component-{:07}", rnd.below(n));
        let (d, r) = ask(format!("incident {c}")).await;
        affected += r.result["blast_radius"]["entities"]
            .as_u64()
            .unwrap_or_else(|| panic!("{}", r.result));
        incident.push(d);
        let (d, r) = ask(format!("changes {c}")).await;
        assert!(
            !r.result["changes"].as_array().unwrap().is_empty(),
            "{c}: {}",
            r.result
        );
        changes.push(d);
    }
    println!(
        "| {n} ({entities}) | {held} | ~{} MB ({} MB) | {:.2} s | {} ({}) | {} |",
        added / 1024,
        heap / (1 << 20),
        read.as_secs_f64(),
        pct(incident),
        affected / 2000,
        pct(changes)
    );
}
