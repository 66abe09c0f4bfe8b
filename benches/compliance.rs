//! Compliance answers on the synthetic catalogs Backstage was measured on, with SBOMs: every
//! question through `Bot::handle`, from memory.
//! Run: `cargo bench --bench compliance [-- SIZES]` (default 100000).
//!
//! Components are spread over 1,000 GitHub repositories (component i in `acme/repo-{i mod
//! 1000}`), each with one SPDX SBOM of 200 npm packages drawn from 5,000 names at versions
//! 1.0.0–1.9.9. Prints, per size: reading the 1,000 SBOMs (parse, keep in a SQLite file, read
//! back into memory) and the memory that adds; `who uses PACKAGE < 1.5.0` p50/p99 over 2,000
//! random packages; `report compliance` of a `uses:` filter and of every component.

#[path = "support/generated.rs"]
mod generated;
#[path = "support/measure.rs"]
mod measure;

use std::time::Instant;

use switchboard::Bot;
use switchboard::catalog::Snapshot;
use switchboard::chat::ChatEvent;
use switchboard::compliance::sbom::{self, Names};
use switchboard::sources::local;
use switchboard::store::{Store, StoredSbom};

use measure::{Rnd, pct_ms as pct, rss_kb};

/// The allocator `switchboard serve` runs with, so memory reads as it would there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REPOS: usize = 1_000;
const PACKAGES: usize = 5_000;
const PER_SBOM: usize = 200;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "| components (entities) | 1,000 SBOMs read, kept, loaded | memory added | `who uses P < 1.5.0` p50 / p99 | report (uses: filter) | report (every component) |"
    );
    println!("|---|---|---|---|---|---|");
    for (n, dir) in generated::catalogs("100000") {
        rt.block_on(bench(n, &dir));
    }
}

/// One repository's SBOM as GitHub's dependency graph writes it (SPDX 2.3).
fn spdx(repo: usize, rnd: &mut Rnd) -> Vec<u8> {
    let packages: Vec<serde_json::Value> = (0..PER_SBOM)
        .map(|k| {
            let name = format!("pkg-{:04}", rnd.below(PACKAGES));
            let version = format!("1.{}.{}", rnd.below(10), rnd.below(10));
            serde_json::json!({
                "SPDXID": format!("SPDXRef-npm-{k}"),
                "name": name,
                "versionInfo": version,
                "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                    "referenceLocator": format!("pkg:npm/{name}@{version}")}],
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "spdxVersion": "SPDX-2.3",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("acme/repo-{repo:04}"),
        "packages": packages,
    }))
    .unwrap()
}

async fn bench(n: usize, dir: &std::path::Path) {
    let root = dir.join("location.yaml").display().to_string();
    let mut out = local::scan(std::slice::from_ref(&root), &Default::default(), 0);
    // Each component from a repository of GitHub's, as the GitHub source delivers them.
    for e in &mut out.entities {
        if let Some(i) = e
            .key
            .strip_prefix("component:default/component-")
            .and_then(|i| i.parse::<usize>().ok())
        {
            e.provenance.source = "github".into();
            e.provenance.location = format!("acme/repo-{:04}/catalog-info.yaml", i % REPOS);
        }
    }
    let entities = out.entities.len();
    let bot = Bot::new(
        Snapshot::build(out.entities, out.problems, 0),
        Default::default(),
        Default::default(),
    );
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db.path().join("bench.db").display());
    let store = Store::connect(&url, 2).await.unwrap();
    let before = rss_kb();
    let mut rnd = Rnd(42);
    let documents: Vec<Vec<u8>> = (0..REPOS).map(|r| spdx(r, &mut rnd)).collect();
    let t = Instant::now();
    let mut names = Names::default();
    let sboms: Vec<StoredSbom> = documents
        .iter()
        .enumerate()
        .map(|(r, d)| StoredSbom {
            location: format!("acme/repo-{r:04}/dependency-graph/sbom"),
            source: "github".into(),
            scope: format!("acme/repo-{r:04}"),
            sbom: sbom::parse(d, &mut names).unwrap(),
            read_at: 0,
        })
        .collect();
    store
        .replace_sboms("github", &sboms, &|_, _| false)
        .await
        .unwrap();
    drop(sboms);
    drop(names);
    bot.reload_packages(&store).await.unwrap();
    let read = t.elapsed();
    drop(documents);
    switchboard::sync::release_memory();
    let added = rss_kb().saturating_sub(before);
    let held = bot.packages().held_bytes();

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
    let mut uses = Vec::new();
    for _ in 0..2000 {
        let (d, r) = ask(format!("who uses pkg-{:04} < 1.5.0", rnd.below(PACKAGES))).await;
        assert!(r.result["matches"].is_array(), "{}", r.result);
        uses.push(d);
    }
    let t = Instant::now();
    let some = bot
        .as_itself(|ctx| {
            switchboard::ask::evidence::compliance(ctx, "uses:pkg-0042@<1.5.0 lifecycle:production")
        })
        .unwrap();
    let csv = some.csv();
    let filtered = t.elapsed();
    let t = Instant::now();
    let all = bot
        .as_itself(|ctx| switchboard::ask::evidence::compliance(ctx, ""))
        .unwrap();
    let csv_all = all.csv();
    let every = t.elapsed();
    println!(
        "| {n} ({entities}) | {:.2} s | ~{} MB resident ({} MB held) | {} | {:.0} ms ({} rows) | {:.2} s ({} rows, {} MB of CSV) |",
        read.as_secs_f64(),
        added / 1024,
        held >> 20,
        pct(uses),
        filtered.as_secs_f64() * 1e3,
        some.rows.len() + some.quarantined.len(),
        every.as_secs_f64(),
        all.rows.len() + all.quarantined.len(),
        csv_all.len() >> 20,
    );
    assert!(csv.lines().count() > 1);
}
