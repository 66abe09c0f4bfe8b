//! Scorecards on the synthetic catalogs Backstage was measured on, with the shipped
//! `config/scorecards.yaml`: every question through `Bot::handle`, from the snapshot.
//! Run: `cargo bench --bench scorecards [-- SIZES]` (default 100000).
//!
//! Prints, per size: `completeness` (every production entity, four checks) once, as time;
//! `scorecard team T` over 200 random teams and `scorecard component-N` over 2,000 random
//! components, p50/p99.

#[path = "support/generated.rs"]
mod generated;

use std::time::{Duration, Instant};

use switchboard::Bot;
use switchboard::catalog::Snapshot;
use switchboard::chat::ChatEvent;
use switchboard::sources::local;

fn main() {
    let sizes = generated::sizes("100000");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let work = std::env::temp_dir().join("switchboard-bench");
    println!(
        "| components (entities) | completeness (whole catalog) | scorecard team p50 / p99 | scorecard X p50 / p99 |"
    );
    println!("|---|---|---|---|");
    for n in sizes {
        let dir = work.join(format!("catalog-{n}"));
        generated::generate(n, &dir);
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
    let mut rnd = 42u64;
    let mut next = |m: usize| {
        rnd = rnd
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rnd >> 33) as usize % m
    };
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
}

fn pct(mut v: Vec<Duration>) -> String {
    v.sort();
    let p = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    format!(
        "{:.2} / {:.2} ms",
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3
    )
}
