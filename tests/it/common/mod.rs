//! Helpers shared by the integration tests: fixtures, a conversation with a real bot, and real
//! databases (a SQLite file per test; a fresh PostgreSQL database per test when
//! SWITCHBOARD_TEST_POSTGRES_URL is set).
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard::catalog::Snapshot;
use switchboard::catalog::ingest::Reader;
use switchboard::chat::{Actor, ChatEvent, Conversation, Failure, Input};
use switchboard::sources::local;
use switchboard::sources::rotations::{self, Rotations};
use switchboard::{Bot, Reply};

pub mod discord_gateway;
pub mod github;
pub mod proxy;
pub mod slack;

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

/// A configuration over the test database at `url`: the example catalog and `more` (files,
/// directories) beside it, the demo rotations, no scorecards.
pub fn config_with(url: &str, more: &[String]) -> switchboard::config::Config {
    let mut config = switchboard::config::Config::default();
    config.database.url.0 = url.to_string();
    config.catalog.local.paths = examples();
    config.catalog.local.paths.extend(more.iter().cloned());
    config.scorecards.path = String::new();
    config.oncall.rotations =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/oncall.yaml");
    config
}

/// Opens the app `ask` opens on `config` (a first open syncs), at 09:30 UTC on 1 December 2026.
pub async fn open_app(config: &switchboard::config::Config) -> switchboard::app::App {
    let clock = switchboard::clock::Clock::fixed("2026-12-01T09:30:00Z".parse().unwrap());
    switchboard::app::App::open_at(config, switchboard::app::Use::Ask, clock)
        .await
        .unwrap()
}

/// A private component of team-b that depends on team-a's wayback-archive, with facts only it
/// holds (a runbook, a repository).
pub const PRIVATE: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: secret-ledger
  annotations:
    switchboard.dev/visibility: private
    github.com/project-slug: acme/secret-ledger
  links:
    - url: https://runbooks.example.com/secret-ledger
      type: runbook
spec:
  type: service
  lifecycle: production
  owner: team-b
  dependsOn: [component:wayback-archive]
";

pub fn scan(paths: &[String]) -> local::ScanOutcome {
    local::scan(paths, &Reader::default(), 1_795_000_000)
}

pub fn snapshot(paths: &[String]) -> Snapshot {
    let out = scan(paths);
    Snapshot::build(out.entities, out.problems, 1_795_000_000)
}

/// The rotations the demo ships, so on-call answers are tested on the real file.
pub fn demo_rotations() -> Rotations {
    rotations::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/oncall.yaml")).unwrap()
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

    /// What the guest at the console does now.
    pub fn event(&self, input: Input) -> ChatEvent {
        ChatEvent {
            actor: Actor::console(Some("user:default/guest".into())),
            conversation: Conversation::default(),
            input,
            now: self.now,
        }
    }

    /// Hands an event to the bot (no store: nothing it does waits on I/O).
    pub fn handle(&self, event: ChatEvent) -> Result<Reply, Failure> {
        futures_executor::block_on(self.bot.handle(event))
    }

    pub fn say(&self, text: &str) -> Reply {
        self.handle(self.event(Input::Text(text.into())))
            .expect("an answer")
    }
}

/// Asks `bot` a question at the console, as nobody in particular, now.
pub async fn ask(bot: &Bot, q: &str) -> Reply {
    bot.handle(ChatEvent::console(None, q, bot.now()))
        .await
        .expect("an answer")
}

/// Two components whose names, with a time or a depth, make a did-you-mean question longer
/// than a button may carry on Discord.
pub const LONG_NAMES: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-reconciliation-ledger-service-eu-west-1
spec:
  type: service
  lifecycle: production
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-reconciliation-ledger-service-us-east-1
spec:
  type: service
  lifecycle: production
  owner: team-a
";

/// A desk on `store` with the shipped workflows (`commands/`) and the executors that need no
/// outside service (GitHub's steps are off).
pub fn shipped_desk(store: &switchboard::store::Store) -> switchboard::desk::Desk {
    shipped_desk_with(store, Default::default())
}

/// As `shipped_desk`, with these people in roles.
pub fn shipped_desk_with(
    store: &switchboard::store::Store,
    roles: switchboard::config::Roles,
) -> switchboard::desk::Desk {
    let desk = switchboard::desk::Desk::new(
        store.clone(),
        roles,
        switchboard::executors::all(
            switchboard::executors::register::Register {
                store: store.clone(),
                reader: Default::default(),
            },
            switchboard::executors::http::Http::new(std::time::Duration::from_secs(5)).unwrap(),
            switchboard::executors::github::GitHubSteps::new(None),
        ),
        Default::default(),
    );
    desk.set_workflows(
        switchboard::workflows::load(&[format!("{}/commands", env!("CARGO_MANIFEST_DIR"))]).0,
    );
    desk
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

impl TestDb {
    /// A SQLite database at `url`, kept by the caller.
    pub fn sqlite_at(url: &str) -> TestDb {
        TestDb {
            url: url.to_string(),
            name: "sqlite",
            _dir: None,
            drop: None,
        }
    }
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
    out.extend(postgres().await);
    out
}

/// A fresh PostgreSQL database when `SWITCHBOARD_TEST_POSTGRES_URL` is set (for what only
/// replicas sharing a server do; `.ci/run` always sets it), else None.
pub async fn postgres() -> Option<TestDb> {
    let base = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").ok()?;
    let (url, name) = fresh_postgres(&base).await;
    Some(TestDb {
        url,
        name: "postgres",
        _dir: None,
        drop: Some((base, name)),
    })
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

/// Runs a `switchboard` command to its end, for 60 s at most (then it is killed and the test
/// fails), and returns what it printed.
pub fn run(cmd: &mut std::process::Command) -> std::process::Output {
    run_with(cmd, b"")
}

/// As `run`, with `input` on its standard input.
pub fn run_with(cmd: &mut std::process::Command, input: &[u8]) -> std::process::Output {
    use std::io::{Read, Write};
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting switchboard");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} ran longer than 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// A `switchboard serve` process listening where it chose (its configuration says
/// `http.listen = "127.0.0.1:0"`): the address is read from its log, so no port is picked by
/// a test and released for a race. Killed when dropped.
pub struct Served {
    child: std::process::Child,
    config: String,
    /// Everything it logged so far (at debug level for Switchboard itself).
    log: std::sync::Arc<std::sync::Mutex<String>>,
    /// `127.0.0.1:PORT`, as the process bound it.
    pub addr: String,
    /// The tokens and secrets it was given: its log must hold none of them (checked when it is
    /// dropped, so every served process of the test run is scanned).
    secrets: Vec<String>,
}

impl Served {
    /// Starts `switchboard --config CONFIG serve` with these variables set and waits, 30 s at
    /// most, until it answers its health check.
    pub fn start(config: &str, env: &[(&str, &str)]) -> Served {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args(["--config", config, "serve"])
            .env("RUST_LOG", "info,switchboard=debug")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting switchboard serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log: std::sync::Arc<std::sync::Mutex<String>> = Default::default();
        let kept = log.clone();
        // Reads the log to its end, so the process never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                {
                    let mut all = kept.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
                if line.contains("HTTP server up")
                    && let Some(addr) = line.split("listen=").nth(1)
                {
                    let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("serve did not say where it listens within 30 s");
            }
        };
        let secrets = env
            .iter()
            .filter(|(k, _)| {
                ["TOKEN", "SECRET", "PRIVATE_KEY"]
                    .iter()
                    .any(|s| k.ends_with(s))
            })
            .map(|(_, v)| v.to_string())
            .filter(|v| v.len() >= 6)
            .collect();
        let served = Served {
            child,
            config: config.to_string(),
            log,
            addr,
            secrets,
        };
        assert!(served.health().is_some(), "serve never became healthy");
        served
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Fails the test if its log holds any of `secrets` (tokens, signing secrets).
    pub fn assert_logged_none_of(&self, secrets: &[&str]) {
        let log = self.log();
        assert!(log.contains("HTTP server up"), "the log was read: {log}");
        for s in secrets {
            assert!(!log.contains(s), "a secret is in the log:\n{log}");
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks `switchboard health` (as a container runtime does) until it answers, 30 s at most;
    /// the health body.
    pub fn health(&self) -> Option<String> {
        for _ in 0..300 {
            let out = run(
                std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
                    .args(["--config", &self.config, "health"])
                    .env("SWITCHBOARD__HTTP__LISTEN", &self.addr)
                    .env_remove("RUST_LOG"),
            );
            if out.status.success() {
                return Some(String::from_utf8(out.stdout).unwrap());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// The process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks the process to stop (SIGTERM), as a container runtime does.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success());
    }

    /// Kills the process at once (SIGKILL): nothing it was doing is finished or given up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits, 30 s at most, for the process to end by itself; its exit code.
    pub fn exit_code(&mut self) -> Option<i32> {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let log = self.log();
            for s in &self.secrets {
                assert!(!log.contains(s.as_str()), "a secret is in the log:\n{log}");
            }
        }
    }
}

/// Runs a future with a time limit, so a hang fails the test instead of stalling the suite.
pub async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("test took longer than its time limit")
}

/// What a console outbox printed.
#[derive(Clone, Default)]
pub struct Told(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Told {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Told {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
