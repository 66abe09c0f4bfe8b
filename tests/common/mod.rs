//! Helpers shared by the integration tests: fixtures, a conversation with a real bot, and real
//! databases (a SQLite file per test; a fresh PostgreSQL database per test when
//! SWITCHBOARD_TEST_POSTGRES_URL is set).
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard::catalog::Snapshot;
use switchboard::catalog::ingest::Reader;
use switchboard::chat::{ChatEvent, Platform};
use switchboard::sources::local;
use switchboard::sources::rotations::Rotations;
use switchboard::{Bot, Reply};

pub mod github;

/// A path under tests/fixtures, as a string.
pub fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

/// The Backstage example catalog, as a newcomer's demo loads it.
pub fn examples() -> Vec<String> {
    vec![
        fixture("backstage-examples/all.yaml"),
        fixture("backstage-examples/acme-corp.yaml"),
    ]
}

pub fn scan(paths: &[String]) -> local::ScanOutcome {
    local::scan(paths, &Reader::default(), 1_795_000_000)
}

pub fn snapshot(paths: &[String]) -> Snapshot {
    let out = scan(paths);
    Snapshot::build(out.entities, out.problems, 1_795_000_000)
}

/// The rotations the demo ships, so on-call answers are tested on the real file.
pub fn demo_rotations() -> Rotations {
    Rotations::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/oncall.yaml")).unwrap()
}

/// A conversation with a bot over a catalog, at a fixed moment.
pub struct Convo {
    pub bot: Bot,
    pub now: DateTime<Utc>,
}

impl Convo {
    pub fn over(paths: &[String]) -> Convo {
        Convo::with(snapshot(paths), demo_rotations())
    }

    pub fn with(snap: Snapshot, rotations: Rotations) -> Convo {
        Convo {
            bot: Bot::new(snap, rotations, Default::default()),
            now: "2026-11-18T12:00:00Z".parse().unwrap(),
        }
    }

    pub fn say(&self, text: &str) -> Reply {
        self.bot.handle(&ChatEvent {
            platform: Platform::Console,
            user: Some("user:default/guest".into()),
            text: text.into(),
            now: Some(self.now),
        })
    }
}

/// Writes `files` (name, content) into a fresh directory.
pub fn catalog_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    dir
}

/// A real database to test against, and what must be kept alive while it is used.
pub struct TestDb {
    pub url: String,
    pub name: &'static str,
    _dir: Option<tempfile::TempDir>,
    /// For PostgreSQL: the server URL and the database to drop afterwards.
    drop: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((base, name)) = self.drop.take() else {
            return;
        };
        // Drop runs outside any async context: use a small runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

impl TestDb {
    /// The same database again, as a restarted process would open it.
    pub fn reuse(url: &str) -> TestDb {
        TestDb {
            url: url.to_string(),
            name: "reused",
            _dir: None,
            drop: None,
        }
    }
}

/// A fresh SQLite file, plus a fresh PostgreSQL database when SWITCHBOARD_TEST_POSTGRES_URL is set.
pub async fn databases() -> Vec<TestDb> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![TestDb {
        url: format!(
            "sqlite://{}",
            dir.path().join("data/switchboard.db").display()
        ),
        name: "sqlite",
        _dir: Some(dir),
        drop: None,
    }];
    if let Ok(base) = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL") {
        let (url, name) = fresh_postgres(&base).await;
        out.push(TestDb {
            url,
            name: "postgres",
            _dir: None,
            drop: Some((base, name)),
        });
    }
    out
}

async fn fresh_postgres(base: &str) -> (String, String) {
    use sqlx::Connection;
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!(
        "sb_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .expect("SWITCHBOARD_TEST_POSTGRES_URL is set but PostgreSQL cannot be reached");
    // CREATE DATABASE copies template1 and refuses while another session holds it (two test
    // binaries creating databases at once): try again shortly, a bounded number of times.
    let mut tries = 0;
    loop {
        match sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
        {
            Ok(_) => break,
            Err(e) if tries < 20 => {
                tries += 1;
                eprintln!("CREATE DATABASE {name} failed ({e}); trying again");
                tokio::time::sleep(std::time::Duration::from_millis(100 * tries)).await;
            }
            Err(e) => panic!("CREATE DATABASE {name}: {e}"),
        }
    }
    let (prefix, _) = base.rsplit_once('/').expect("postgres URL with a database");
    (format!("{prefix}/{name}"), name)
}

/// Waits up to 30 s for a `switchboard serve` run with `config` to pass its health check
/// (`switchboard health`, as a container runtime asks), and returns the health body.
pub fn wait_healthy(config: &str) -> Option<String> {
    for _ in 0..300 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["--config", config, "health"])
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        if out.status.success() {
            return Some(String::from_utf8(out.stdout).unwrap());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Runs a future with a time limit, so a hang fails the test instead of stalling the suite.
pub async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("test took longer than its time limit")
}
