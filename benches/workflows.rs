//! Workflow figures: decisions racing on one run, runs through a no-op workflow, audit appends,
//! and verifying a long audit log.
//! Run: `cargo bench --bench workflows [-- ROUNDS RUNS APPENDS ENTRIES]` (defaults 10000 1000
//! 10000 1000000). PostgreSQL figures need SWITCHBOARD_TEST_POSTGRES_URL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard::Bot;
use switchboard::audit::{Entry, Event, hash};
use switchboard::catalog::Snapshot;
use switchboard::desk::Desk;
use switchboard::outbox::Sending;
use switchboard::store::{NewRun, Store};
use switchboard::workflows::executor::{Call, Executor};
use switchboard::workflows::run::{Approval, Decided, Decision, State};

/// A step that does nothing, to measure the engine alone.
struct Noop;

impl Executor for Noop {
    fn name(&self) -> &'static str {
        "http.request"
    }
    fn run<'a>(&'a self, _call: &'a Call<'a>) -> Sending<'a, Value> {
        Box::pin(async { Ok(json!({})) })
    }
}

const NOOP: &str = "name: noop\ntitle: No-op\ndescription: Does nothing.\napproval: none\nallowed: [developer]\nsteps:\n  - name: nothing\n    uses: http.request\n    with: { url: \"http://127.0.0.1:9/\" }\n";

fn event(action: &str, at: i64) -> Event {
    Event {
        at,
        actor: "user:default/bench".into(),
        identity: "console:bench".into(),
        action: action.into(),
        target: Some("component:default/bench".into()),
        run_id: None,
        detail: json!({"params": {"size": "small"}}),
        generation: 1,
    }
}

async fn new_run(store: &Store, state: State, now: i64) -> i64 {
    let params = json!({});
    let steps = vec!["nothing".to_string()];
    store
        .create_run(
            &NewRun {
                workflow: "noop",
                state,
                target: None,
                params: &params,
                requested_by: "user:default/bench",
                identity: "console:bench",
                platform: "console",
                channel: None,
                thread: None,
                created_at: now,
                expires_at: Some(now + 86_400),
                steps: &steps,
                plan: None,
                break_glass: None,
                remind_at: None,
            },
            event("run.requested", now),
        )
        .await
        .unwrap()
}

/// Two approvers decide on the same run at once, `rounds` times: how many runs were approved
/// twice (there must be none), and the decisions per second.
async fn races(store: &Store, rounds: usize) -> (usize, f64) {
    let now = chrono::Utc::now().timestamp();
    let mut ids = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        ids.push(new_run(store, State::AwaitingApproval, now).await);
    }
    let t = Instant::now();
    let mut doubled = 0;
    for id in ids {
        let decide = |who: &'static str| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .decide(
                        id,
                        &Approval {
                            by: who.into(),
                            decision: Decision::Approve,
                            reason: None,
                            at: now,
                            groups: Vec::new(),
                        },
                        1,
                        event("run.decided", now),
                    )
                    .await
                    .unwrap()
            })
        };
        let (a, b) = (decide("user:default/a"), decide("user:default/b"));
        let approved = [a.await.unwrap(), b.await.unwrap()]
            .iter()
            .filter(|d| {
                matches!(
                    d,
                    Decided::Recorded {
                        state: State::Approved,
                        ..
                    }
                )
            })
            .count();
        if approved != 1 {
            doubled += 1;
        }
    }
    (doubled, (2 * rounds) as f64 / t.elapsed().as_secs_f64())
}

/// Runs through the no-op workflow: requested (no approval) to succeeded, per second.
async fn runs_per_second(store: &Store, n: usize) -> f64 {
    let desk = Arc::new(Desk::new(
        store.clone(),
        Default::default(),
        [("http.request", Arc::new(Noop) as Arc<dyn Executor>)]
            .into_iter()
            .collect(),
        Default::default(),
    ));
    let bot = Bot::new(
        Snapshot::build(Vec::new(), Vec::new(), 0),
        Default::default(),
        Default::default(),
    )
    .with_store(store.clone())
    .with_desk(desk.clone());
    let wf = switchboard::workflows::definition::parse("noop.yaml", NOOP.as_bytes()).unwrap();
    desk.set_workflows(vec![wf]);
    let now = chrono::Utc::now().timestamp();
    let t = Instant::now();
    for _ in 0..n {
        new_run(store, State::Approved, now).await;
    }
    let mut done = 0;
    while desk.work_once(&bot).await.unwrap() {
        done += 1;
    }
    assert_eq!(done, n);
    n as f64 / t.elapsed().as_secs_f64()
}

async fn appends_per_second(store: &Store, n: usize) -> f64 {
    let t = Instant::now();
    for i in 0..n {
        store.audit(&event("bench.append", i as i64)).await.unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// A chain of `n` entries, hashed as the store hashes them.
fn chain(n: usize) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::with_capacity(n);
    let mut prev = String::new();
    for seq in 1..=n as i64 {
        let e = event("bench.entry", seq);
        let h = hash(seq, &e, &prev);
        out.push(Entry {
            seq,
            event: e,
            prev_hash: std::mem::replace(&mut prev, h.clone()),
            hash: h,
        });
    }
    out
}

/// Writes `entries` straight into a fresh SQLite audit table, then times reading and verifying
/// them page by page, as `switchboard audit verify` does.
async fn verify_from_sqlite(dir: &std::path::Path, entries: &[Entry]) -> Duration {
    let url = format!("sqlite://{}", dir.join("audit.db").display());
    let store = Store::connect(&url, 2).await.unwrap();
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        for e in entries {
            sqlx::query(
                "INSERT INTO audit (seq, at, actor, identity, action, target, run_id, detail, \
                 generation, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(e.seq)
            .bind(e.event.at)
            .bind(&e.event.actor)
            .bind(&e.event.identity)
            .bind(&e.event.action)
            .bind(&e.event.target)
            .bind(e.event.run_id)
            .bind(e.event.detail.to_string())
            .bind(e.event.generation)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let t = Instant::now();
    let head = store.verify_audit(None).await.unwrap().unwrap();
    assert_eq!(head.count, entries.len() as i64);
    t.elapsed()
}

#[path = "support/postgres.rs"]
mod postgres;

/// A store on a fresh PostgreSQL database.
async fn postgres(base: &str, tag: &str) -> (Store, postgres::FreshDb) {
    let db = postgres::FreshDb::create(base, &format!("wf_{tag}")).await;
    (Store::connect(&db.url, 8).await.unwrap(), db)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let arg = |i: usize, d: usize| args.get(i).copied().unwrap_or(d);
    let (rounds, runs, appends, entries) = (
        arg(0, 10_000),
        arg(1, 1_000),
        arg(2, 10_000),
        arg(3, 1_000_000),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        println!("| store | rounds of two simultaneous approvals | runs approved twice | decisions/s | no-op runs/s | audit appends/s |");
        println!("|---|---|---|---|---|---|");
        let sqlite = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
        let races_db = Store::connect(&sqlite("races.db"), 8).await.unwrap();
        let (doubled, decisions) = races(&races_db, rounds).await;
        let runs_db = Store::connect(&sqlite("runs.db"), 8).await.unwrap();
        let rps = runs_per_second(&runs_db, runs).await;
        let audit_db = Store::connect(&sqlite("appends.db"), 8).await.unwrap();
        let aps = appends_per_second(&audit_db, appends).await;
        println!("| SQLite | {rounds} | {doubled} | {decisions:.0} | {rps:.0} | {aps:.0} |");
        if let Ok(base) = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL") {
            let (store, db) = postgres(&base, "races").await;
            let (doubled, decisions) = races(&store, rounds).await;
            store.close().await;
            db.drop().await;
            let (store, db) = postgres(&base, "runs").await;
            let rps = runs_per_second(&store, runs).await;
            store.close().await;
            db.drop().await;
            let (store, db) = postgres(&base, "appends").await;
            let aps = appends_per_second(&store, appends).await;
            store.close().await;
            db.drop().await;
            println!("| PostgreSQL | {rounds} | {doubled} | {decisions:.0} | {rps:.0} | {aps:.0} |");
        }
        let t = Instant::now();
        let chain = chain(entries);
        let built = t.elapsed();
        let t = Instant::now();
        switchboard::audit::verify(&chain, None).unwrap();
        let in_memory = t.elapsed();
        let from_sqlite = verify_from_sqlite(dir.path(), &chain).await;
        println!();
        println!("| audit entries | hash the chain | verify in memory | read from SQLite and verify |");
        println!("|---|---|---|---|");
        println!("| {entries} | {built:.2?} | {in_memory:.2?} | {from_sqlite:.2?} |");
    });
}
