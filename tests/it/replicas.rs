//! Several `switchboard serve` processes on one PostgreSQL, against local fakes: a replica
//! killed (SIGKILL) in the middle of a workflow step has its run finished by another, and the
//! step's effect happens once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::Value;
use switchboard::store::Store;
use switchboard::workflows::run::State;

use crate::common;
use crate::workflows::{SECRET, hooked};

/// A receiver of the workflow's call that holds the first call unanswered (the replica making
/// it is then in the middle of its step) and answers the rest. It does each key's effect once,
/// as receivers of `Idempotency-Key` do.
#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Vec<String>>>,
    effects: Arc<Mutex<HashMap<String, Value>>>,
    first: Arc<tokio::sync::Notify>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let r = Receiver::default();
        let h = r.clone();
        let app = Router::new().route(
            "/db/{name}",
            post(move |headers: HeaderMap, body: Bytes| {
                let h = h.clone();
                async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    h.effects
                        .lock()
                        .unwrap()
                        .entry(key.clone())
                        .or_insert(request);
                    let first = {
                        let mut calls = h.calls.lock().unwrap();
                        calls.push(key);
                        calls.len() == 1
                    };
                    if first {
                        h.first.notify_one();
                        std::future::pending::<()>().await;
                    }
                    r#"{"database": "db-1"}"#.to_string()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }
}

/// Polls `what` every 100 ms until it gives something, 60 s at most.
async fn until<T>(mut what: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(t) = what().await {
            return t;
        }
        assert!(std::time::Instant::now() < deadline, "waited 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_killed_in_the_middle_of_a_step_has_its_run_finished_by_another_once() {
    // SAFETY: set once, before any test reads it; every test that reads it sets the same value.
    unsafe { std::env::set_var("SWITCHBOARD_TEST_HOOK_SECRET", SECRET) };
    common::within(async {
        let Some(db) = common::postgres().await else {
            return;
        };
        let (receiver, url) = Receiver::start().await;
        let dir = common::catalog_dir(&[("commands/request-db.yaml", &hooked(&url))]);
        let cfg = dir.path().join("switchboard.toml");
        std::fs::write(
            &cfg,
            format!(
                "[database]\nurl = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
                 [catalog.local]\npaths = {:?}\n[workflows]\npaths = [\"{}/commands\"]\n\
                 lease_secs = 3\n[scorecards]\npath = \"\"\n",
                db.url,
                common::examples(),
                dir.path().display()
            ),
        )
        .unwrap();
        let cfg = cfg.display().to_string();
        // The first replica syncs the empty database; the others start from it.
        let mut replicas = Vec::new();
        for name in ["replica-a", "replica-b", "replica-c"] {
            let cfg = cfg.clone();
            let served = tokio::task::spawn_blocking(move || {
                common::Served::start(&cfg, &[("HOSTNAME", name)])
            })
            .await
            .unwrap();
            replicas.push((name, served));
        }

        // Asked from a shell: the run is approved (approval: none) and left to the replicas.
        let out = common::run(
            std::process::Command::new(env!("CARGO_BIN_EXE_switchboard")).args([
                "--config",
                &cfg,
                "ask",
                "--as",
                "breanna.davison",
                "--format",
                "json",
                "run request-db service=artist-lookup size=large",
            ]),
        );
        let asked: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        let id = asked["result"]["id"].as_i64().expect("a run id");
        assert_eq!(asked["result"]["state"], "approved", "{asked}");

        // One replica claims it and makes the call; it is killed while the call is out.
        tokio::time::timeout(Duration::from_secs(60), receiver.first.notified())
            .await
            .expect("a replica called the receiver");
        let store = Store::connect(&db.url, 2).await.unwrap();
        let holder: String = {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar("SELECT lease_owner FROM runs WHERE id = $1")
                .bind(id)
                .fetch_one(&mut conn)
                .await
                .unwrap()
        };
        let killed = replicas
            .iter()
            .position(|(name, _)| holder.starts_with(name))
            .unwrap_or_else(|| panic!("the run's holder {holder} is a replica"));
        replicas[killed].1.kill();
        let killed_at = std::time::Instant::now();

        // Another replica takes the run over once the lease has run out, and finishes it.
        let run = until(async || {
            let run = store.load_run(id).await.unwrap().unwrap();
            matches!(run.state, State::Succeeded | State::Failed).then_some(run)
        })
        .await;
        assert_eq!(run.state, State::Succeeded, "{run:?}");
        // A figure, not an assertion (BENCHMARKS.md): the lease, plus the workers' 2 s look.
        eprintln!(
            "takeover: the run finished {:.1?} after its replica was killed (lease 3 s)",
            killed_at.elapsed()
        );
        assert_eq!(run.steps[0].attempts, 2, "{run:?}");
        let calls = receiver.calls.lock().unwrap().clone();
        assert_eq!(calls, [format!("{id}-request"), format!("{id}-request")]);
        assert_eq!(receiver.effects.lock().unwrap().len(), 1, "one effect");
        // Finished by a living replica, recorded once in the audit log.
        let audit = store.audit_about(None, Some(id), 100).await.unwrap();
        let actions: Vec<&str> = audit.iter().map(|e| e.event.action.as_str()).collect();
        assert_eq!(
            actions.iter().filter(|a| **a == "run.succeeded").count(),
            1,
            "{actions:?}"
        );
        for (i, (name, served)) in replicas.iter().enumerate() {
            if i != killed {
                assert!(served.health().is_some(), "{name} still answers");
            }
        }

        // The replica running the scheduled work is stopped as a container is (SIGTERM): it
        // gives the lease up as it goes, for another to take at once.
        let lease = async || -> (String, i64) {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_as("SELECT holder, until FROM leases WHERE name = 'scheduled-work'")
                .fetch_one(&mut conn)
                .await
                .unwrap()
        };
        // (Held by a living replica: if the killed one held it, another takes it once it runs out.)
        let killed_name = replicas[killed].0;
        let holder = until(async || {
            let (holder, _) = lease().await;
            (!holder.starts_with(killed_name)).then_some(holder)
        })
        .await;
        let stopping = replicas
            .iter()
            .position(|(name, _)| holder.starts_with(name))
            .unwrap_or_else(|| panic!("the lease's holder {holder} is a replica"));
        assert_ne!(stopping, killed, "a killed replica renews nothing");
        replicas[stopping].1.terminate();
        let stopped_at = std::time::Instant::now();
        let code = tokio::task::block_in_place(|| replicas[stopping].1.exit_code());
        assert_eq!(code, Some(0), "{}", replicas[stopping].1.log());
        let (after, expires) = lease().await;
        assert!(
            after != holder || expires == 0,
            "given up: {after} until {expires}"
        );
        let taken = until(async || {
            let (now, _) = lease().await;
            (now != holder).then_some(now)
        })
        .await;
        eprintln!(
            "handover: {taken} holds the scheduled work {:.1?} after its holder was stopped",
            stopped_at.elapsed()
        );
        store.close().await;
    })
    .await;
}
