//! Scorecards on the synthetic catalogs Backstage was measured on, with the shipped
//! `config/scorecards.yaml`: every question through `Bot::handle`, from the snapshot.
//! Run: `cargo bench --bench scorecards [-- SIZES]` (default 100000).
//!
//! Prints, per size: `completeness` (every production entity, four checks) once, as time;
//! `scorecard team T` over 200 random teams and `scorecard component-N` over 2,000 random
//! components, p50/p99. Then the catalog watch on a SQLite file: the first look (every entity
//! scored on every check, the baseline written), a look at an unchanged catalog, and the
//! memory resident after the first look over before it (the watch keeps nothing between looks:
//! what the allocator holds on to); the digests of 1,000 teams (each with a change to report); and the
//! blast-radius graph of the entity with the most dependents, cut at its node limit, drawn.

#[path = "support/generated.rs"]
mod generated;
#[path = "support/measure.rs"]
mod measure;

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::Bot;
use switchboard::catalog::Snapshot;
use switchboard::chat::ChatEvent;
use switchboard::sources::local;

use measure::{Rnd, pct_ms as pct, rss_kb};

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "| components (entities) | completeness (whole catalog) | scorecard team p50 / p99 | scorecard X p50 / p99 |"
    );
    println!("|---|---|---|---|");
    for (n, dir) in generated::catalogs("100000") {
        rt.block_on(bench(n, &dir));
    }
}

async fn bench(n: usize, dir: &std::path::Path) {
    let root = dir.join("location.yaml").display().to_string();
    let out = local::scan(std::slice::from_ref(&root), &Default::default(), 0);
    let entities = out.entities.len();
    let bot = Bot::new(
        Snapshot::build(out.entities, out.problems, 0),
        Default::default(),
        Default::default(),
    );
    let path = format!("{}/config/scorecards.yaml", env!("CARGO_MANIFEST_DIR"));
    let (cards, problems) = switchboard::scorecards::load(&[path]);
    assert!(problems.is_empty(), "{problems:?}");
    bot.set_scorecards(cards);
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
    let (whole, r) = ask("completeness".into()).await;
    assert!(r.result["catalog"]["entities"].as_u64().unwrap() > 0);
    let groups = (n / 50).max(10);
    let mut rnd = Rnd(42);
    let mut next = |m: usize| rnd.below(m);
    let mut team = Vec::new();
    for _ in 0..200 {
        let (d, r) = ask(format!("scorecard team team-{:05}", next(groups))).await;
        assert!(r.result["team"].is_string(), "{}", r.result);
        team.push(d);
    }
    let mut one = Vec::new();
    for _ in 0..2000 {
        let (d, r) = ask(format!("scorecard component-{:07}", next(n))).await;
        assert!(r.result["scorecards"].is_array(), "{}", r.result);
        one.push(d);
    }
    println!(
        "| {n} ({entities}) | {:.0} ms | {} | {} |",
        whole.as_secs_f64() * 1e3,
        pct(team),
        pct(one)
    );
    let snap = bot.snapshot();
    drop(bot);
    watch_and_digests(n, snap).await;
}

async fn watch_and_digests(n: usize, snap: Arc<Snapshot>) {
    use switchboard::scorecards::watch::Watch;
    use switchboard::store::{Change, Observation, Store};
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db.path().join("bench.db").display());
    let store = Store::connect(&url, 2).await.unwrap();
    let desk = Arc::new(switchboard::desk::Desk::new(
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
        Default::default(),
    ));
    let at: chrono::DateTime<chrono::Utc> = "2026-11-30T09:00:00Z".parse().unwrap();
    let bot = Arc::new(
        Bot::new(
            Arc::try_unwrap(snap).ok().expect("the only holder"),
            Default::default(),
            Default::default(),
        )
        .with_store(store.clone())
        .with_clock(switchboard::clock::Clock::fixed(at))
        .with_desk(desk.clone()),
    );
    let path = format!("{}/config/scorecards.yaml", env!("CARGO_MANIFEST_DIR"));
    bot.set_scorecards(switchboard::scorecards::load(&[path]).0);
    let watch = Watch::default();
    let before = rss_kb();
    let t = Instant::now();
    let first = watch.look(&store, &bot).await.unwrap();
    let baseline = t.elapsed();
    let (seen, written) = (first.seen.len(), first.scores.len());
    drop(first);
    let kept = rss_kb().saturating_sub(before);
    let t = Instant::now();
    let again = watch.look(&store, &bot).await.unwrap();
    let unchanged = t.elapsed();
    assert!(again.is_empty());
    println!(
        "\nwatch at {n}: first look (baseline: {} entities, {} weekly scores written) {:.2} s; \
         unchanged catalog {:.2} s; resident after the first look, over before ~{} MB",
        seen,
        written,
        baseline.as_secs_f64(),
        unchanged.as_secs_f64(),
        kept / 1024
    );
    // 1,000 teams, each with a change to report since its last digest.
    let snap = bot.snapshot();
    let teams: Vec<_> = switchboard::desk::teams(&snap)
        .into_iter()
        .take(1000)
        .collect();
    let changes: Vec<Change> = teams
        .iter()
        .map(|&t| {
            let owned = snap
                .entity(t)
                .related(switchboard::catalog::RelKind::OwnerOf)
                .next()
                .unwrap();
            Change {
                at: at.timestamp() - 3600,
                entity: snap.entity(owned).key(),
                team: Some(snap.entity(t).key()),
                change: "level-changed".into(),
                scorecard: Some("production-readiness".into()),
                before: Some("gold".into()),
                after: Some("silver".into()),
                source: "local".into(),
            }
        })
        .collect();
    store
        .record_observation(
            &Observation {
                changes,
                ..Default::default()
            },
            at.timestamp(),
        )
        .await
        .unwrap();
    let t = Instant::now();
    let mut made = 0;
    let mut each = Vec::new();
    for &team in &teams {
        let one = Instant::now();
        if desk
            .digest(&bot, team, "2026-11-30T09:00Z")
            .await
            .unwrap()
            .is_some()
        {
            made += 1;
        }
        each.push(one.elapsed());
    }
    println!(
        "digests of {} teams: {made} made in {:.2} s (p50 / p99 per team {})",
        teams.len(),
        t.elapsed().as_secs_f64(),
        pct(each)
    );
    // The graph of the entity with the most dependents among 2,000 components.
    let (root, walk) = (0..2000)
        .filter_map(|i| {
            snap.get(&format!(
                "component:default/component-{:07}",
                i * (n / 2000).max(1)
            ))
        })
        .map(|id| {
            (
                id,
                switchboard::catalog::graph::dependents(&snap, id, Default::default()),
            )
        })
        .max_by_key(|(_, w)| w.hops.len())
        .unwrap();
    let (dot, cut) = switchboard::pictures::blast_radius_dot(&snap, root, &walk.hops, walk.beyond);
    let t = Instant::now();
    let png = switchboard::pictures::render_dot(&dot).unwrap();
    println!(
        "graph of {} ({} dependents{}, {} drawn): laid out and drawn in {:.0} ms, {} kB PNG",
        snap.entity(root).name,
        walk.hops.len(),
        if cut { ", cut" } else { "" },
        walk.hops.len().min(switchboard::pictures::GRAPH_MAX_NODES),
        t.elapsed().as_secs_f64() * 1e3,
        png.len() / 1024
    );
}
