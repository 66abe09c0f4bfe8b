//! The shipped golden paths end to end, on SQLite and PostgreSQL: create-service,
//! provision-database and rollback requested and approved at the console, run by the worker
//! through the real octocrab client into the fake GitHub (its recorded payloads), and a crash
//! after each GitHub side effect followed by a restart: the fake counts one of each.

use crate::common;
use crate::common::Told;
use crate::common::github::FakeGitHub;

use std::sync::Arc;
use std::time::Duration;

use switchboard::Bot;
use switchboard::Reply;
use switchboard::app::{App, Use};
use switchboard::chat::{ChatEvent, render};
use switchboard::clock::Clock;
use switchboard::config::Config;
use switchboard::desk::Desk;
use switchboard::failpoints::Failpoints;
use switchboard::github::{Api, Auth};
use switchboard::store::Store;
use switchboard::workflows::run::State;

/// A component whose repository is on the fake, for rollbacks.
const CHECKOUT: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\n  annotations:\n    github.com/project-slug: acme/checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";

/// A service that says it was made from the service golden path long ago, in a repository that
/// keeps no answers.
const LEGACY: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: legacy-billing\n  annotations:\n    github.com/project-slug: acme/checkout\n    backstage.io/source-template: template:default/service\n    switchboard.dev/template-version: \"1.0.0\"\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";

struct Golden {
    bot: Arc<Bot>,
    store: Store,
    fake: FakeGitHub,
    clock: Clock,
    told: Told,
    config: Config,
    api: Arc<Api>,
    /// Where the workflows are read from.
    commands: String,
    _db: common::TestDb,
    _dir: tempfile::TempDir,
}

fn commands() -> String {
    format!("{}/commands", env!("CARGO_MANIFEST_DIR"))
}

impl Golden {
    async fn open(db: common::TestDb) -> Golden {
        Golden::open_from(db, commands()).await
    }

    /// As `open`, with the workflows of another directory.
    async fn open_from(db: common::TestDb, commands: String) -> Golden {
        let fake = FakeGitHub::start().await;
        fake.add_repo(
            "acme",
            "golden-path-service",
            &[
                ("README.md", "# The service golden path\n"),
                ("src/main.rs", "fn main() {}\n"),
            ],
        );
        fake.add_repo(
            "acme",
            "infrastructure",
            &[("terraform/main.tf", "terraform {}\n")],
        );
        fake.add_repo(
            "acme",
            "checkout",
            &[(".github/workflows/deploy.yml", "name: deploy\n")],
        );
        let dir = common::catalog_dir(&[("checkout.yaml", CHECKOUT), ("legacy.yaml", LEGACY)]);
        let mut config = Config::default();
        config.database.url.0 = db.url.clone();
        config.catalog.local.paths = common::examples();
        config
            .catalog
            .local
            .paths
            .push(dir.path().display().to_string());
        config.oncall.rotations =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/oncall.yaml");
        config.workflows.paths = vec![commands.clone()];
        config.catalog.github.api_url = fake.url.clone();
        config.catalog.github.max_retries = 0;
        // Now: repositories the fake generates are stamped with the real time.
        let clock = Clock::fixed(chrono::Utc::now());
        // Opening syncs the example catalog into the store, so a registration's reload keeps it.
        let app = App::open_at(&config, Use::Ask, clock.clone())
            .await
            .unwrap();
        let api = Arc::new(
            Api::new(
                &config.catalog.github,
                &Auth::Token("ghp_test".into()),
                app.store.clone(),
            )
            .unwrap(),
        );
        let told = Told::default();
        let mut golden = Golden {
            bot: app.bot.clone(),
            store: app.store.clone(),
            fake,
            clock,
            told,
            config,
            api,
            commands,
            _db: db,
            _dir: dir,
        };
        let desk = golden.desk("");
        golden.bot = Arc::new(
            Bot::new(
                switchboard::sync::load_snapshot(&golden.store)
                    .await
                    .unwrap(),
                switchboard::sources::rotations::load(&golden.config.oncall.rotations).unwrap(),
                golden.config.catalog.limit(),
            )
            .with_store(golden.store.clone())
            .with_clock(golden.clock.clone())
            .with_desk(Arc::new(desk)),
        );
        golden
    }

    /// A desk over the fake GitHub, with these failpoints armed (a process that will crash).
    fn desk(&self, failpoints: &str) -> Desk {
        let mut github = switchboard::executors::github::GitHubSteps::new(Some(self.api.clone()));
        github.settle = Duration::from_secs(2);
        let desk = Desk::new(
            self.store.clone(),
            self.config.roles.clone(),
            switchboard::executors::all(
                switchboard::executors::register::Register {
                    store: self.store.clone(),
                    reader: self.config.catalog.reader(),
                },
                switchboard::executors::http::Http::new(Duration::from_secs(5)).unwrap(),
                github,
            ),
            Failpoints::parse(failpoints).unwrap(),
        );
        desk.load_workflows(Some(vec![self.commands.clone()]));
        desk.add_outbox(
            switchboard::chat::Platform::Console,
            Arc::new(switchboard::chat::console::ConsoleOutbox::new(
                self.told.clone(),
            )),
        );
        desk
    }

    async fn say(&self, who: &str, text: &str) -> Reply {
        let event = ChatEvent::console(Some(who.into()), text, self.clock.now());
        self.bot.handle(event).await.expect("an answer")
    }

    async fn work(&self) {
        let desk = self.bot.desk().unwrap();
        while desk.work_once(&self.bot).await.unwrap() {}
    }

    /// A process that crashes after `step`'s effect, then the lease running out.
    async fn crash_after(&self, step: &str) {
        let crashing = self.desk(&format!("after_step.{step}=error"));
        let failed = crashing.work_once(&self.bot).await;
        assert!(failed.is_err(), "the process crashed after {step}");
        self.clock.advance(chrono::Duration::minutes(6));
    }

    async fn state(&self, id: i64) -> State {
        self.store.load_run(id).await.unwrap().unwrap().state
    }

    /// Breanna (team A) asks for `request`: its run fails saying `why`, having written
    /// nothing to GitHub.
    async fn fails_writing_nothing(&self, request: &str, why: &str) {
        self.fake.clear_calls();
        let id = run_id(&self.say("breanna.davison", request).await);
        self.work().await;
        let run = self.store.load_run(id).await.unwrap().unwrap();
        assert_eq!(run.state, State::Failed);
        assert!(
            run.reason.as_deref().unwrap().contains(why),
            "{:?}",
            run.reason
        );
        assert!(self.writes().is_empty(), "{:?}", self.writes());
    }

    /// GitHub requests the fake has seen that write (not reads).
    fn writes(&self) -> Vec<String> {
        self.fake
            .calls()
            .into_iter()
            .filter(|c| c.method != "GET")
            .map(|c| format!("{} {}", c.method, c.path))
            .collect()
    }
}

fn text(r: &Reply) -> String {
    render::text(r)
}

fn run_id(r: &Reply) -> i64 {
    r.result["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no run id: {}", text(r)))
}

/// Breanna (team A) asks for a service; Janelle (team A) approves.
async fn create_ledger(g: &Golden) -> i64 {
    let asked = g
        .say(
            "breanna.davison",
            r#"run create-service name=ledger-api owner=team-a description="Books every payment""#,
        )
        .await;
    let id = run_id(&asked);
    assert_eq!(
        asked.result["state"],
        "awaiting_approval",
        "{}",
        text(&asked)
    );
    let approved = g.say("janelle.dawe", &format!("approve {id}")).await;
    assert!(
        text(&approved).starts_with(&format!("Run {id} is approved")),
        "{}",
        text(&approved)
    );
    id
}

#[tokio::test]
async fn create_service_makes_the_repository_commits_the_golden_path_and_answers_at_once() {
    common::within(async {
        for db in common::databases().await {
            let g = Golden::open(db).await;
            let asked = g
                .say(
                    "breanna.davison",
                    "run create-service name=ledger-api owner=team-a --dry-run",
                )
                .await;
            // The plan names the exact repository, template and files.
            let plan = text(&asked);
            for shown in [
                "acme/golden-path-service",
                "\"name\":\"ledger-api\"",
                "catalog-info.yaml",
                ".github/workflows/ci.yml",
                "\"version\":\"1.2.0\"",
            ] {
                assert!(plan.contains(shown), "{shown} is not in the plan: {plan}");
            }
            g.fake.clear_calls();
            let id = create_ledger(&g).await;
            g.work().await;
            assert_eq!(g.state(id).await, State::Succeeded, "{}", g.told.text());
            assert_eq!(
                g.fake.generated(),
                [(
                    "acme/ledger-api".to_string(),
                    "acme/golden-path-service".to_string()
                )]
            );
            let catalog = g
                .fake
                .file("acme/ledger-api", None, "catalog-info.yaml")
                .unwrap();
            for line in [
                "name: ledger-api",
                "description: \"Books every payment\"",
                "owner: group:default/team-a",
                "backstage.io/source-template: template:default/service",
                "switchboard.dev/template-version: \"1.2.0\"",
                "github.com/project-slug: acme/ledger-api",
            ] {
                assert!(catalog.contains(line), "{line} is not in:\n{catalog}");
            }
            let answers = g
                .fake
                .file("acme/ledger-api", None, ".switchboard/answers.yaml")
                .unwrap();
            assert!(
                answers.contains(&format!("run: {id}"))
                    && answers.contains("owner: group:default/team-a"),
                "{answers}"
            );
            let ci = g
                .fake
                .file("acme/ledger-api", None, ".github/workflows/ci.yml")
                .unwrap();
            assert!(
                ci.contains("${{ hashFiles('**/lockfiles') }}"),
                "GitHub's own expressions survive: {ci}"
            );
            assert!(
                g.fake
                    .file("acme/ledger-api", None, "README.md")
                    .unwrap()
                    .contains("## On call")
            );
            assert!(
                g.fake
                    .file("acme/ledger-api", None, "src/main.rs")
                    .is_some(),
                "the template repository's files stay"
            );
            let made = g.fake.commits_made();
            assert_eq!(made.len(), 1, "{made:?}");
            assert!(
                made[0].ends_with(&format!("Switchboard-Run: {id} (files)")),
                "{made:?}"
            );
            // "Who owns" answers at once, from the registration.
            let owner = g.say("guest", "who owns ledger-api").await;
            assert_eq!(
                owner.result["owners"][0]["ref"],
                "group:default/team-a",
                "{}",
                text(&owner)
            );
            // The card shows the links the steps made.
            let told = g.told.text();
            assert!(
                told.contains("https://github.com/acme/ledger-api"),
                "{told}"
            );
            assert!(
                told.contains(&format!(
                    "Run {id} of create-service on group:default/team-a: succeeded"
                )),
                "{told}"
            );
            // Every write, once.
            let writes = g.writes();
            assert_eq!(
                writes
                    .iter()
                    .map(|w| w.rsplit('/').next().unwrap().to_string())
                    .collect::<Vec<_>>(),
                [
                    "generate",
                    "blobs",
                    "blobs",
                    "blobs",
                    "blobs",
                    "blobs",
                    "trees",
                    "commits",
                    "heads/main"
                ]
                .map(|s| s.rsplit('/').next().unwrap().to_string()),
                "{writes:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_crash_after_each_github_effect_then_a_restart_makes_each_once() {
    common::within(async {
        for db in common::databases().await {
            let g = Golden::open(db).await;
            let id = create_ledger(&g).await;
            g.crash_after("repository").await;
            g.crash_after("files").await;
            g.crash_after("register").await;
            g.work().await;
            assert_eq!(g.state(id).await, State::Succeeded);
            let run = g.store.load_run(id).await.unwrap().unwrap();
            let attempts: Vec<i64> = run.steps.iter().map(|s| s.attempts).collect();
            assert_eq!(
                attempts,
                [2, 2, 2],
                "each step was done twice, its effect once"
            );
            assert_eq!(run.steps[0].outputs.as_ref().unwrap()["adopted"], true);
            assert_eq!(run.steps[1].outputs.as_ref().unwrap()["adopted"], true);
            assert_eq!(g.fake.generated().len(), 1);
            assert_eq!(g.fake.commits_made().len(), 1);
            let owner = g.say("guest", "who owns ledger-api").await;
            assert_eq!(owner.result["owners"][0]["ref"], "group:default/team-a");

            // A database: one pull request, one commit, after a crash.
            let asked = g
                .say(
                    "breanna.davison",
                    "run provision-database service=checkout engine=postgres size=large",
                )
                .await;
            let db_run = run_id(&asked);
            g.say("janelle.dawe", &format!("approve {db_run}")).await;
            g.crash_after("pull-request").await;
            g.work().await;
            assert_eq!(g.state(db_run).await, State::Succeeded, "{}", g.told.text());
            let pulls = g.fake.pulls();
            assert_eq!(pulls.len(), 1, "{pulls:?}");
            assert_eq!(
                pulls[0].head,
                format!("switchboard/database-checkout-run-{db_run}")
            );
            assert_eq!(pulls[0].base, "main");
            assert_eq!(g.fake.commits_made().len(), 2);
            let tf = g
                .fake
                .file(
                    "acme/infrastructure",
                    Some(&pulls[0].head),
                    "terraform/databases/checkout.tf",
                )
                .unwrap();
            assert!(
                tf.contains("module \"checkout_db\"") && tf.contains("size    = \"large\""),
                "{tf}"
            );
            let run = g.store.load_run(db_run).await.unwrap().unwrap();
            let out = run.steps[0].outputs.clone().unwrap();
            assert_eq!(out["adopted"], true);
            assert_eq!(
                out["html_url"],
                format!(
                    "https://github.com/acme/infrastructure/pull/{}",
                    pulls[0].number
                )
            );
            assert!(
                g.told.text().contains(&format!(
                    "pull-request html_url: https://github.com/acme/infrastructure/pull/{}",
                    pulls[0].number
                )),
                "the PR's link is on the card"
            );

            // A rollback: one dispatch, found again by its run-name.
            let asked = g
                .say(
                    "breanna.davison",
                    "run rollback service=checkout version=1.4.2",
                )
                .await;
            let back = run_id(&asked);
            g.say("janelle.dawe", &format!("approve {back}")).await;
            g.crash_after("deploy").await;
            g.work().await;
            assert_eq!(g.state(back).await, State::Succeeded);
            let dispatched = g.fake.dispatched();
            assert_eq!(dispatched.len(), 1, "{dispatched:?}");
            assert_eq!(dispatched[0].inputs["version"], "1.4.2");
            assert_eq!(
                dispatched[0].inputs["switchboard_run"],
                format!("switchboard-run-{back}")
            );
            let run = g.store.load_run(back).await.unwrap().unwrap();
            assert_eq!(
                run.steps[0].outputs.as_ref().unwrap()["workflow_run_id"],
                dispatched[0].id
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_rollback_is_refused_without_a_repository_and_a_taken_name_fails_clearly() {
    common::within(async {
        for db in common::databases().await {
            let g = Golden::open(db).await;
            // artist-lookup names no repository: the policy says so and nothing is stored.
            let refused = g
                .say(
                    "breanna.davison",
                    "run rollback service=artist-lookup version=1.0.0",
                )
                .await;
            assert!(
                text(&refused).contains("github.com/project-slug"),
                "{}",
                text(&refused)
            );
            assert!(g.store.load_run(1).await.unwrap().is_none());
            // A repository of that name exists and was not made from the template.
            let asked = g
                .say(
                    "breanna.davison",
                    "run create-service name=checkout owner=team-a",
                )
                .await;
            let id = run_id(&asked);
            g.say("janelle.dawe", &format!("approve {id}")).await;
            g.work().await;
            let run = g.store.load_run(id).await.unwrap().unwrap();
            assert_eq!(run.state, State::Failed);
            assert!(
                run.reason.as_deref().unwrap().contains(
                    "a repository acme/checkout already exists (not made from the template)"
                ),
                "{:?}",
                run.reason
            );
            assert!(
                g.writes().is_empty(),
                "nothing was written: {:?}",
                g.writes()
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_golden_path_template_edited_after_approval_fails_the_run_rather_than_commit_it_unseen() {
    common::within(async {
        for db in common::databases().await {
            // A copy of the shipped workflows and templates, to edit.
            let copy = tempfile::tempdir().unwrap();
            let status = std::process::Command::new("cp")
                .args(["-r", &commands(), &copy.path().display().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            let dir = copy.path().join("commands");
            let g = Golden::open_from(db, dir.display().to_string()).await;
            let id = create_ledger(&g).await;
            let readme = dir.join("templates/service/README.md");
            let edited = std::fs::read_to_string(&readme).unwrap() + "\nA line nobody approved.\n";
            std::fs::write(&readme, edited).unwrap();
            g.bot.desk().unwrap().load_workflows(None);
            g.work().await;
            let run = g.store.load_run(id).await.unwrap().unwrap();
            assert_eq!(run.state, State::Failed);
            assert!(
                run.reason.as_deref().unwrap().contains(
                    "the golden-path template of step files changed since this run was requested"
                ),
                "{:?}",
                run.reason
            );
            assert!(g.fake.commits_made().is_empty(), "nothing was committed");
        }
    })
    .await;
}

#[tokio::test]
async fn a_write_github_did_but_whose_answer_was_lost_is_found_and_adopted_not_repeated() {
    common::within(async {
        for db in common::databases().await {
            let g = Golden::open(db).await;
            // Each golden path's effect is made, and its answer lost (a 502 after the fact).
            g.fake.lose_answer("/generate", 1);
            g.fake.lose_answer("/git/commits", 1);
            let id = create_ledger(&g).await;
            g.work().await;
            assert_eq!(g.state(id).await, State::Succeeded, "{}", g.told.text());
            let run = g.store.load_run(id).await.unwrap().unwrap();
            assert_eq!(
                run.steps[0].outputs.as_ref().unwrap()["adopted"],
                true,
                "the repository"
            );
            assert_eq!(g.fake.generated().len(), 1);
            // A commit is harmless to make again (nothing points at the lost one).
            assert_eq!(g.fake.commits_made().len(), 2);
            let head = g.fake.branch("acme/ledger-api", "main").unwrap();
            assert!(
                g.fake
                    .file("acme/ledger-api", None, "catalog-info.yaml")
                    .is_some(),
                "{head}"
            );

            g.fake.lose_answer("/pulls", 1);
            let asked = g
                .say("breanna.davison", "run provision-database service=checkout")
                .await;
            let pr = run_id(&asked);
            g.say("janelle.dawe", &format!("approve {pr}")).await;
            g.work().await;
            assert_eq!(g.state(pr).await, State::Succeeded, "{}", g.told.text());
            assert_eq!(g.fake.pulls().len(), 1);
            let run = g.store.load_run(pr).await.unwrap().unwrap();
            assert_eq!(run.steps[0].outputs.as_ref().unwrap()["adopted"], true);

            g.fake.lose_answer("/dispatches", 1);
            let asked = g
                .say(
                    "breanna.davison",
                    "run rollback service=checkout version=1.4.1",
                )
                .await;
            let back = run_id(&asked);
            g.say("janelle.dawe", &format!("approve {back}")).await;
            g.work().await;
            assert_eq!(g.state(back).await, State::Succeeded, "{}", g.told.text());
            assert_eq!(g.fake.dispatched().len(), 1, "dispatched once");
            let run = g.store.load_run(back).await.unwrap().unwrap();
            assert_eq!(run.steps[0].outputs.as_ref().unwrap()["adopted"], true);
        }
    })
    .await;
}

/// A copy of the shipped workflows and templates, to edit.
fn copied_commands() -> (tempfile::TempDir, std::path::PathBuf) {
    let copy = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .args(["-r", &commands(), &copy.path().display().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let dir = copy.path().join("commands");
    (copy, dir)
}

/// Moves the service template on to 1.3.0: its CI also runs on a schedule.
fn release_service_1_3_0(dir: &std::path::Path) {
    let spec = dir.join("templates/service/template.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains("version: 1.2.0"), "{text}");
    let text = text.replace("version: 1.2.0", "version: 1.3.0").replace(
        "changelog:\n",
        "changelog:\n  - \"1.3.0: CI also runs every night\"\n",
    );
    std::fs::write(&spec, text).unwrap();
    let ci = dir.join("templates/service/.github/workflows/ci.yml");
    let text = std::fs::read_to_string(&ci).unwrap().replace(
        "  pull_request:\n",
        "  pull_request:\n  schedule:\n    - cron: \"0 3 * * *\"\n",
    );
    std::fs::write(&ci, text).unwrap();
}

#[tokio::test]
async fn drift_lists_what_is_behind_its_golden_path_and_the_update_opens_one_pull_request() {
    common::within(async {
        for db in common::databases().await {
            let name = db.name;
            let (_copy, dir) = copied_commands();
            let g = Golden::open_from(db, dir.display().to_string()).await;
            let id = create_ledger(&g).await;
            g.work().await;
            assert_eq!(g.state(id).await, State::Succeeded, "{}", g.told.text());

            // Made at the template's version: not behind. The legacy service is (1.0.0).
            let r = g.say("breanna.davison", "drift team-a").await;
            assert_eq!(r.intent, switchboard::Intent::Drift, "{}", text(&r));
            assert_eq!(r.result["current"], 1, "{name}: {}", text(&r));
            assert_eq!(
                r.result["behind"][0]["entity"],
                "component:default/legacy-billing"
            );
            assert_eq!(
                r.result["behind"][0]["changes"],
                serde_json::json!([
                    "1.2.0: README gains on-call and runbook sections",
                    "1.1.0: CI caches dependencies"
                ]),
                "{}",
                text(&r)
            );

            // The template moves on: ledger-api is behind too, with what changed.
            release_service_1_3_0(&dir);
            g.bot.desk().unwrap().load_workflows(None);
            let r = g.say("breanna.davison", "drift team-a").await;
            let behind = r.result["behind"].as_array().unwrap();
            assert_eq!(behind.len(), 2, "{}", text(&r));
            let ledger = behind
                .iter()
                .find(|b| b["entity"] == "component:default/ledger-api")
                .unwrap();
            assert_eq!(ledger["version"], "1.2.0");
            assert_eq!(ledger["current"], "1.3.0");
            assert_eq!(ledger["owners"][0], "group:default/team-a");
            assert_eq!(
                ledger["changes"],
                serde_json::json!(["1.3.0: CI also runs every night"])
            );
            assert!(
                text(&r).contains("ledger-api (team-a): service 1.2.0 → 1.3.0"),
                "{}",
                text(&r)
            );
            let update = "run update-from-template service=component:default/ledger-api";
            assert!(
                r.actions
                    .iter()
                    .any(|a| a.id == switchboard::conversation::ActionId::Ask(update.into())),
                "{:?}",
                r.actions
            );
            // Another team has nothing behind; the whole catalog has both.
            let r = g.say("guest", "drift team-b").await;
            assert_eq!(r.result["behind"], serde_json::json!([]), "{}", text(&r));
            let r = g.say("guest", "drift").await;
            assert_eq!(r.result["behind"].as_array().unwrap().len(), 2);
            let r = g.say("guest", "drift team-nobody").await;
            assert!(text(&r).contains("There is no team"), "{}", text(&r));

            // The button's request, by an owner: no approval (the pull request is reviewed),
            // and a crash after the pull request is opened, then a restart: one of each.
            g.fake.clear_calls();
            let asked = g.say("breanna.davison", update).await;
            let uid = run_id(&asked);
            g.crash_after("pull-request").await;
            g.work().await;
            assert_eq!(g.state(uid).await, State::Succeeded, "{}", g.told.text());
            let pulls: Vec<_> = g
                .fake
                .pulls()
                .into_iter()
                .filter(|p| p.repo == "acme/ledger-api")
                .collect();
            assert_eq!(pulls.len(), 1, "{pulls:?}");
            let pr = &pulls[0];
            assert_eq!(pr.head, "switchboard/service-1.3.0");
            assert!(pr.title.contains("1.2.0 to 1.3.0"), "{}", pr.title);
            assert!(
                pr.body.contains("- 1.3.0: CI also runs every night"),
                "{}",
                pr.body
            );
            let made: Vec<String> = g
                .fake
                .commits_made()
                .into_iter()
                .filter(|c| c.contains(&format!("Switchboard-Run: {uid} ")))
                .collect();
            assert_eq!(made.len(), 1, "one commit: {made:?}");
            // The files as the template makes them today, from the answers it was made with.
            let on = |path: &str| {
                g.fake
                    .file("acme/ledger-api", Some(&pr.head), path)
                    .unwrap_or_else(|| panic!("{path} is not on the branch"))
            };
            assert!(on(".github/workflows/ci.yml").contains("cron: \"0 3 * * *\""));
            let catalog = on("catalog-info.yaml");
            for line in [
                "name: ledger-api",
                "description: \"Books every payment\"",
                "owner: group:default/team-a",
                "switchboard.dev/template-version: \"1.3.0\"",
                "github.com/project-slug: acme/ledger-api",
            ] {
                assert!(catalog.contains(line), "{line} is not in:\n{catalog}");
            }
            let answers = on(".switchboard/answers.yaml");
            assert!(answers.contains("version: \"1.3.0\""), "{answers}");
            assert!(answers.contains(&format!("run: {uid}")), "{answers}");
            // The default branch is the owners' to change, by merging.
            assert!(
                !g.fake
                    .file("acme/ledger-api", None, "catalog-info.yaml")
                    .unwrap()
                    .contains("1.3.0")
            );

            // A second request (a double click) points at the open pull request.
            let again = g.say("breanna.davison", update).await;
            let again = run_id(&again);
            g.work().await;
            let run = g.store.load_run(again).await.unwrap().unwrap();
            assert_eq!(run.state, State::Succeeded);
            assert_eq!(run.steps[0].outputs.as_ref().unwrap()["adopted"], true);
            assert_eq!(g.fake.pulls().len(), pulls.len(), "no second pull request");

            // The owners merge it. Until the catalog reads the repository again it says
            // 1.2.0, and an update says there is nothing to update and why drift still lists it.
            let (answers, catalog) = (answers.clone(), catalog.clone());
            g.fake.push(
                "acme/ledger-api",
                &[
                    (".switchboard/answers.yaml", Some(answers.as_str())),
                    ("catalog-info.yaml", Some(catalog.as_str())),
                ],
            );
            g.fails_writing_nothing(
                update,
                "nothing to update: acme/ledger-api's .switchboard/answers.yaml is at 1.3.0, \
                 the template's version, but the catalog still says 1.2.0",
            )
            .await;

            // A repository that keeps no answers: the step says so, and nothing is written.
            g.fails_writing_nothing(
                "run update-from-template service=legacy-billing",
                "acme/checkout has no .switchboard/answers.yaml",
            )
            .await;
            // A service not made from a golden path is refused when asked.
            let r = g
                .say(
                    "breanna.davison",
                    "run update-from-template service=checkout",
                )
                .await;
            assert!(
                text(&r).contains("was not made from a golden path"),
                "{}",
                text(&r)
            );
        }
    })
    .await;
}
