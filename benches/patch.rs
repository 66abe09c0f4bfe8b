//! A push patched into the live snapshot, by what it does to its repository's entities: edits
//! one (they keep their rows), removes one (every entity after it in the store's order moves
//! up in a rebuild) or adds one (a new row, after its source's last). Run:
//! `cargo bench --bench patch [-- SIZES]`, SIZES like `10000,100000` (the default).
//!
//! The synthetic catalogs of the catalog benchmark, stored in SQLite as a GitHub organisation:
//! each file of the catalog a repository, and in the middle of the store's order one more, a
//! service repository with two components. Its file is written again (not timed), then
//! re-read from the store and patched into the live snapshot, and the replaced snapshot
//! dropped, as a webhook does (timed). Each push is checked to be patched (not rebuilt) and
//! to say what the repository now holds.

use std::time::Instant;

use switchboard::catalog::ingest::Reader;
use switchboard::catalog::model::RawEntity;
use switchboard::sources::local;
use switchboard::store::Store;
use switchboard::sync;

#[path = "support/generated.rs"]
mod generated;
#[allow(dead_code)]
#[path = "support/measure.rs"]
mod measure;

const ROUNDS: usize = 30;

fn main() {
    let catalogs = generated::catalogs("10000,100000");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let work = generated::work_dir();
    println!(
        "| components (entities) | edit p50 / p99 | remove p50 / p99 | add p50 / p99 | whole rebuild |"
    );
    println!("|---|---|---|---|---|");
    for (n, dir) in &catalogs {
        rt.block_on(bench_size(*n, dir, &work));
    }
}

const SOURCE: &str = "github";

/// Stores what the repository `scope` holds now (one push's store write): one file.
async fn write(store: &Store, scope: &str, rows: &[RawEntity]) {
    let mut r = store.begin_replace_in(SOURCE, scope, None).await.unwrap();
    let location = format!("{scope}catalog-info.yaml");
    let rows: Vec<RawEntity> = rows
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            e.provenance.source = SOURCE.into();
            e.provenance.location = location.clone();
            e.provenance.line = i as u32 + 1;
            e
        })
        .collect();
    r.file(&location, rows, Vec::new(), true).await.unwrap();
    r.finish().await.unwrap();
}

/// A component like `like`, named `name`.
fn named(like: &RawEntity, name: &str) -> RawEntity {
    let mut e = like.clone();
    e.body["metadata"]["name"] = name.into();
    e.key = format!("component:default/{name}");
    e
}

async fn bench_size(n: usize, dir: &std::path::Path, work: &std::path::Path) {
    let root = dir.join("location.yaml").display().to_string();
    let out = local::scan(std::slice::from_ref(&root), &Reader::default(), 0);
    let entities = out.entities.len() + 2;
    let db = work.join(format!("bench-patch-{n}.db"));
    let _ = std::fs::remove_file(&db);
    let store = Store::connect(&format!("sqlite://{}", db.display()), 2)
        .await
        .unwrap();
    // Each file a repository, in order; the service repository after the middle one.
    let mut files: Vec<Vec<RawEntity>> = Vec::new();
    for e in out.entities {
        match files.last_mut() {
            Some(f) if f[0].provenance.location == e.provenance.location => f.push(e),
            _ => files.push(vec![e]),
        }
    }
    let like = files
        .iter()
        .flatten()
        .find(|e| e.key.starts_with("component:"))
        .expect("a component")
        .clone();
    let service = [
        named(&like, "middle-service-a"),
        named(&like, "middle-service-b"),
    ];
    let scope = "bench/middle-service/";
    for (i, rows) in files.iter().enumerate() {
        write(&store, &format!("bench/file-{i:04}/"), rows).await;
        if i == files.len() / 2 {
            write(&store, scope, &service).await;
        }
    }
    drop(files);
    let t = Instant::now();
    let mut live = std::sync::Arc::new(sync::load_snapshot(&store).await.unwrap());
    let rebuild = t.elapsed();
    assert_eq!(live.len(), entities);

    // The first component comes and goes; the second's description is edited.
    let first = service[0].key.clone();
    let edited = |round: usize| {
        let mut rows = service.to_vec();
        rows[1].body["metadata"]["description"] = format!("edited {round}").into();
        rows
    };
    let (mut edit, mut remove, mut add) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for (what, file, times) in [
            ("edit", edited(round), &mut edit),
            ("remove", edited(round)[1..].to_vec(), &mut remove),
            ("add", edited(round), &mut add),
        ] {
            write(&store, scope, &file).await;
            let t = Instant::now();
            let reread = sync::reread_scopes(&store, live, SOURCE, &[scope.to_string()])
                .await
                .unwrap();
            live = reread.snapshot;
            times.push(t.elapsed());
            assert!(reread.rebuilt.is_none(), "{what}: {:?}", reread.rebuilt);
            let held = live.get(&first).is_some();
            assert_eq!(held, what != "remove", "{what} round {round}");
            assert_eq!(live.len(), entities - usize::from(!held), "{what}");
        }
    }
    store.close().await;
    let _ = std::fs::remove_file(&db);
    println!(
        "| {n} ({entities}) | {} | {} | {} | {:.0} ms |",
        measure::pct_ms(edit),
        measure::pct_ms(remove),
        measure::pct_ms(add),
        rebuild.as_secs_f64() * 1e3
    );
}
