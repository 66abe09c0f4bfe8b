//! Catalog benchmarks on the synthetic catalogs Backstage was measured on (benches/gen_catalog.py,
//! seed 42). Run: `cargo bench --bench catalog [-- SIZES]`, SIZES like `1000,10000,100000`.
//!
//! Prints, per size: raw YAML parse rate, ingest rate (parse + validate, all cores), store
//! write rate (SQLite), snapshot rebuild time, heap bytes per entity, question latency p50/p99
//! (exact, fuzzy, blast radius), and start-up to first answer of the real binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use switchboard::Bot;
use switchboard::catalog::Snapshot;
use switchboard::catalog::ingest::Reader;
use switchboard::catalog::parse::parse_file;
use switchboard::chat::ChatEvent;
use switchboard::config::Config;
use switchboard::sources::local;
use switchboard::sources::rotations::Rotations;
use switchboard::store::Store;

/// Counts live heap bytes, so memory per entity is measured, not guessed.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[path = "support/generated.rs"]
mod generated;
#[path = "support/postgres.rs"]
mod postgres;

fn main() {
    let catalogs = generated::catalogs("1000,10000,100000");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let work = generated::work_dir();
    println!(
        "| components (entities) | YAML parse | ingest (parse+validate) | store write (SQLite) | snapshot build | full sync (× parse) | sync peak (per entity) | heap/entity | exact p50/p99 | fuzzy p50/p99 | blast radius p50/p99 | start → first answer | serving RSS (per entity) | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (n, dir) in &catalogs {
        rt.block_on(bench_size(*n, dir, &work));
    }
    // The same store on PostgreSQL, when a server is named (as CI does for the tests).
    if let Ok(base) = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL") {
        println!();
        println!(
            "| components (entities) | store write (PostgreSQL) | full sync (PostgreSQL) | sync peak (per entity) | start → first answer (PostgreSQL) |"
        );
        println!("|---|---|---|---|---|");
        for (n, dir) in &catalogs {
            rt.block_on(postgres_figures(*n, dir, &work, &base));
        }
    }
}

async fn postgres_figures(n: usize, dir: &Path, work: &Path, base: &str) {
    let root = dir.join("location.yaml").display().to_string();
    let out = local::scan(std::slice::from_ref(&root), &Reader::default(), 0);
    let entities = out.entities.len();
    let db = postgres::FreshDb::create(base, &n.to_string()).await;
    let url = db.url.clone();
    drop(out);
    let sync_db = postgres::FreshDb::create(base, &format!("{n}_sync")).await;
    let (sync, sync_peak) = full_sync(&sync_db.url, &root, entities, work);
    sync_db.drop().await;
    let out = local::scan(std::slice::from_ref(&root), &Reader::default(), 0);
    let write = rate(entities, store_catalog(&url, &out).await);
    let cfg_path = work.join(format!("bench-pg-{n}.toml"));
    std::fs::write(
        &cfg_path,
        format!("[database]\nurl = \"{url}\"\n[catalog.local]\npaths = [\"{root}\"]\n"),
    )
    .unwrap();
    let first_answer = first_answer(&cfg_path);
    println!(
        "| {n} ({entities}) | {write} | {} | {sync_peak} | {:.2} s |",
        rate(entities, sync),
        first_answer.as_secs_f64()
    );
    db.drop().await;
}

fn rate(count: usize, d: Duration) -> String {
    format!("{:.0}/s", count as f64 / d.as_secs_f64())
}

fn pct(mut v: Vec<Duration>) -> String {
    v.sort();
    let p = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    format!(
        "{:.1} / {:.1} µs",
        p(0.5).as_secs_f64() * 1e6,
        p(0.99).as_secs_f64() * 1e6
    )
}

async fn bench_size(n: usize, dir: &Path, work: &Path) {
    let root = dir.join("location.yaml").display().to_string();
    let reader = Reader::default();

    // Raw YAML parse of every file, one core, as the baseline.
    let files: Vec<PathBuf> = local::expand(dir)
        .unwrap()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let t = Instant::now();
    let docs: usize = bytes
        .iter()
        .map(|b| parse_file(b, &reader.limits).unwrap().len())
        .sum();
    let parse_rate = docs as f64 / t.elapsed().as_secs_f64();
    let parse = rate(docs, t.elapsed());
    drop(bytes);

    // Ingest: read, parse, validate, follow Locations — what a sync does before the store.
    let t = Instant::now();
    let out = local::scan(std::slice::from_ref(&root), &reader, 0);
    let ingest_time = t.elapsed();
    let entities = out.entities.len();
    assert!(
        out.problems.is_empty(),
        "{:?}",
        &out.problems[..out.problems.len().min(3)]
    );
    let ingest = rate(entities, ingest_time);

    // Store write: the whole sync into a fresh SQLite file.
    let db = work.join(format!("bench-{n}.db"));
    let _ = std::fs::remove_file(&db);
    let (sync, sync_peak) = full_sync(
        &format!("sqlite://{}", db.display()),
        &root,
        out.entities.len(),
        work,
    );
    let full_sync = format!(
        "{} ({:.2}×)",
        rate(entities, sync),
        entities as f64 / sync.as_secs_f64() / parse_rate
    );
    let _ = std::fs::remove_file(&db);
    let mut cfg = Config::default();
    cfg.database.url.0 = format!("sqlite://{}", db.display());
    cfg.catalog.local.paths = vec![root.clone()];
    let store_time = store_catalog(&cfg.database.url.0, &out).await;
    let store_write = rate(entities, store_time);

    // Snapshot build, and the heap the snapshot holds (measured by dropping it).
    let t = Instant::now();
    let snap = Snapshot::build(out.entities, out.problems, 0);
    let build = t.elapsed();
    let relation_rows: usize = snap.entities().map(|(_, e)| e.relations.len()).sum();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert_eq!(
        relation_rows as u64,
        expected["relation_rows"].as_u64().unwrap(),
        "every relation stitched, both ways"
    );
    let heap_with = LIVE.load(Ordering::Relaxed);
    drop(snap);
    let snap_bytes = heap_with - LIVE.load(Ordering::Relaxed);
    let heap = format!("{:.0} B", snap_bytes as f64 / entities as f64);

    // Questions, through the same entry point every surface uses.
    let out = local::scan(std::slice::from_ref(&root), &reader, 0);
    let bot = Bot::new(
        Snapshot::build(out.entities, out.problems, 0),
        Rotations::default(),
        Default::default(),
    );
    let mut seed = 42u64;
    let mut next = move |m: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m as u64) as usize
    };
    let q = 5_000.min(n * 5);
    let time = |text: String| {
        let ev = ChatEvent::console(None, text, bot.now());
        let t = Instant::now();
        let r = futures_executor::block_on(bot.handle(ev)).expect("an answer");
        let d = t.elapsed();
        std::hint::black_box(r);
        d
    };
    let exact: Vec<Duration> = (0..q)
        .map(|_| time(format!("who owns component-{:07}", next(n))))
        .collect();
    let fuzzy: Vec<Duration> = (0..q)
        .map(|_| {
            // Drop one character of the name: a typo the resolver must forgive.
            let name = format!("component-{:07}", next(n));
            let cut = 3 + next(name.len() - 3);
            let typo = format!("{}{}", &name[..cut], &name[cut + 1..]);
            time(format!("who owns {typo}"))
        })
        .collect();
    let blast: Vec<Duration> = (0..q / 5)
        .map(|_| time(format!("blast radius component-{:07} --depth 3", next(n))))
        .collect();

    // Start-up to first answer: the real binary, from the store, as after a restart.
    let cfg_path = work.join(format!("bench-{n}.toml"));
    std::fs::write(
        &cfg_path,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[catalog.local]\npaths = [\"{root}\"]\n",
            db.display()
        ),
    )
    .unwrap();
    let first_answer = first_answer(&cfg_path);
    let (rss, peak) = serving_rss(&cfg_path, work);

    println!(
        "| {n} ({entities}) | {parse} | {ingest} | {store_write} | {:.0} ms | {full_sync} | {sync_peak} | {heap} | {} | {} | {} | {:.2} s | {:.0} MiB ({:.0} B) | {:.0} MiB |",
        build.as_secs_f64() * 1e3,
        pct(exact),
        pct(fuzzy),
        pct(blast),
        first_answer.as_secs_f64(),
        rss as f64 / 1024.0,
        rss as f64 * 1024.0 / entities as f64,
        peak as f64 / 1024.0,
    );
}

/// Resident memory (KiB) of `switchboard serve` once it has loaded the catalog from the store,
/// re-read the files at start-up and made its catalog watch's first look (what a running bot
/// holds between looks, a second after the last), and its peak.
fn serving_rss(cfg_path: &Path, work: &Path) -> (u64, u64) {
    use std::io::{BufRead, BufReader};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = work.join("serve.toml");
    let base = std::fs::read_to_string(cfg_path).unwrap();
    std::fs::write(
        &cfg,
        format!("{base}interval_secs = 0\n[http]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .env("RUST_LOG", "info,switchboard::scorecards::watch=debug")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    // Read on a thread of its own, so that a process that never says so is given up on.
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut synced = false;
    loop {
        let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        else {
            let _ = child.kill();
            panic!("serve did not re-read the catalog and look at it within 10 minutes");
        };
        assert!(
            !line.contains("ERROR") && !line.contains("watch failed"),
            "{line}"
        );
        synced |= line.contains(" synced ");
        if synced && line.contains("the catalog watch looked") {
            break;
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .expect("memory figures in /proc")
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The real binary's `switchboard sync` of the catalog at `root` into the empty database at
/// `url`, from process start to exit (read, validate, store, assemble): how long it took, and
/// its peak memory (MiB, and per entity) as the command reports it.
fn full_sync(url: &str, root: &str, entities: usize, work: &Path) -> (Duration, String) {
    let cfg = work.join("sync.toml");
    std::fs::write(
        &cfg,
        format!("[database]\nurl = \"{url}\"\n[catalog.local]\npaths = [\"{root}\"]\n"),
    )
    .unwrap();
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--config", cfg.to_str().unwrap(), "sync"])
        .output()
        .unwrap();
    let took = t.elapsed();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(&format!(": {entities} entities")), "{out}");
    let peak: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("peak memory "))
        .and_then(|m| m.trim_end_matches(" MiB").parse().ok())
        .expect("the sync reports its peak memory");
    let per = peak * 1024.0 * 1024.0 / entities as f64;
    (took, format!("{peak:.0} MiB ({:.1} KiB)", per / 1024.0))
}

/// Start-up to first answer of the real binary against the database `cfg_path` names, as after
/// a restart: the median of three runs.
fn first_answer(cfg_path: &Path) -> Duration {
    let mut starts = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args([
                "--config",
                cfg_path.to_str().unwrap(),
                "ask",
                "who owns component-0000001",
            ])
            .output()
            .unwrap();
        starts.push(t.elapsed());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains("is owned by"));
    }
    starts.sort();
    starts[1]
}

/// Writes a scanned catalog to the database at `url` as one sync of the local source, and
/// records the sync so the binary starts from it. Returns how long the write took.
async fn store_catalog(url: &str, out: &local::ScanOutcome) -> Duration {
    let store = Store::connect(url, 2).await.unwrap();
    let t = Instant::now();
    store
        .replace_source("local", &out.entities, &out.problems, &[])
        .await
        .unwrap();
    let took = t.elapsed();
    let run = switchboard::store::SyncRun {
        source: "local".into(),
        started_at: 0,
        finished_at: 0,
        files: 0,
        entities: out.entities.len() as i64,
        quarantined: 0,
        problems: 0,
    };
    store.record_sync_run(&run).await.unwrap();
    store.close().await;
    took
}
