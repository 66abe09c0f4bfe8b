//! A push patched into the live snapshot, by what it does to the file's entities: edits one
//! (they keep their rows), removes one (every entity after it in the store's order moves up) or
//! adds one (a new row, at the end of its source's order). Run:
//! `cargo bench --bench patch [-- SIZES]`, SIZES like `10000,100000` (the default).
//!
//! On the synthetic catalogs of the catalog benchmark, stored in SQLite: the file holding the
//! catalog's middle entity is written again (not timed), then re-read from the store and
//! patched into the live snapshot, and the replaced snapshot dropped, as a webhook does (timed).
//! Each push is checked to be patched (not rebuilt) and to say what the file now holds.

use std::time::{Duration, Instant};

use switchboard::catalog::ingest::Reader;
use switchboard::catalog::model::RawEntity;
use switchboard::sources::local;
use switchboard::store::Store;
use switchboard::sync;

#[path = "support/generated.rs"]
mod generated;

const ROUNDS: usize = 30;

fn main() {
    let catalogs = generated::catalogs("10000,100000");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let work = generated::work_dir();
    println!(
        "| components (entities) | file's entities | edit p50 / p99 | remove p50 / p99 | add p50 / p99 | whole rebuild |"
    );
    println!("|---|---|---|---|---|---|");
    for (n, dir) in &catalogs {
        rt.block_on(bench_size(*n, dir, &work));
    }
}

fn pct(mut v: Vec<Duration>) -> String {
    v.sort();
    let p = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    format!(
        "{:.1} / {:.1} ms",
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3
    )
}

/// Stores what the file at `location` holds now (one push's store write).
async fn write(store: &Store, location: &str, rows: &[RawEntity]) {
    let mut r = store.begin_replace_in("local", location, None).await.unwrap();
    r.file(location, rows.to_vec(), Vec::new(), true)
        .await
        .unwrap();
    r.finish().await.unwrap();
}

async fn bench_size(n: usize, dir: &std::path::Path, work: &std::path::Path) {
    let root = dir.join("location.yaml").display().to_string();
    let out = local::scan(std::slice::from_ref(&root), &Reader::default(), 0);
    let entities = out.entities.len();
    let db = work.join(format!("bench-patch-{n}.db"));
    let _ = std::fs::remove_file(&db);
    let store = Store::connect(&format!("sqlite://{}", db.display()), 2)
        .await
        .unwrap();
    store
        .replace_source("local", &out.entities, &out.problems, &[])
        .await
        .unwrap();
    // The file of the catalog's middle entity: removing from it moves half the catalog.
    let location = out.entities[entities / 2].provenance.location.clone();
    let rows: Vec<RawEntity> = out
        .entities
        .iter()
        .filter(|e| e.provenance.location == location)
        .cloned()
        .collect();
    drop(out);
    let t = Instant::now();
    let mut live = std::sync::Arc::new(sync::load_snapshot(&store).await.unwrap());
    let rebuild = t.elapsed();
    assert_eq!(live.len(), entities);

    // The first entity of the file comes and goes; the second's description is edited.
    let first = rows[0].key.clone();
    let edited = |round: usize| {
        let mut rows = rows.clone();
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
            write(&store, &location, &file).await;
            let t = Instant::now();
            let reread = sync::reread_scopes(&store, live, "local", std::slice::from_ref(&location))
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
        "| {n} ({entities}) | {} | {} | {} | {} | {:.0} ms |",
        rows.len(),
        pct(edit),
        pct(remove),
        pct(add),
        rebuild.as_secs_f64() * 1e3
    );
}
