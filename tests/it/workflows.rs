//! Self-service workflows end to end, on SQLite and PostgreSQL: requests through the one entry
//! point as console users of the example catalog, decisions, the worker and its executors, the
//! audit log.

use crate::common;
use crate::common::Told;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use switchboard::Reply;
use switchboard::app::{App, Use};
use switchboard::chat::{ChatEvent, render};
use switchboard::clock::Clock;
use switchboard::config::Config;
use switchboard::store::Store;
use switchboard::workflows::run::State;

/// The shipped workflow, and ones the tests need besides.
fn shipped() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("commands/register-component.yaml"),
    )
    .unwrap()
}

/// A workflow about a component, approved by two of its owners.
const TWO_KEYS: &str = r#"name: rotate-secret
title: Rotate a secret
description: Rotates a service's secret.
parameters:
  - name: service
    type: entity
    kinds: [component]
    required: true
  - name: reason
    type: string
    pattern: "^.{5,}$"
    required: true
allowed: [owners, platform]
policy:
  - rule: 'entity.lifecycle == "production" || params.reason.startsWith("test")'
    message: Only production services have their secrets rotated, unless the reason starts with "test".
approval:
  approvers: [owners]
  quorum: 2
  expires_in: 1d
steps:
  - name: rotate
    uses: catalog.register
    with:
      file: |
        apiVersion: backstage.io/v1alpha1
        kind: Resource
        metadata:
          name: {{ params.service.name }}-secret
        spec:
          type: secret
          owner: {{ params.service.spec.owner }}
"#;

/// A workflow whose step calls a hook, signed.
pub(crate) fn hooked(url: &str) -> String {
    format!(
        r#"name: request-db
title: Request a database
description: Asks the database service for one.
parameters:
  - name: service
    type: entity
    kinds: [component]
    required: true
  - name: size
    type: enum
    values: [small, large]
    default: small
approval: none
allowed: [owners]
steps:
  - name: request
    uses: http.request
    with:
      url: "{url}/db/{{{{ params.service.name }}}}"
      method: POST
      body: {{ service: "{{{{ entity.ref }}}}", size: "{{{{ params.size }}}}", by: "{{{{ actor.ref }}}}" }}
      secret_env: SWITCHBOARD_TEST_HOOK_SECRET
"#
    )
}

pub(crate) const SECRET: &str = "hook-secret-for-tests";

struct World {
    app: App,
    clock: Clock,
    _db: common::TestDb,
    _dir: tempfile::TempDir,
}

impl World {
    async fn open(db: common::TestDb, workflows: &[(&str, String)], roles: &str) -> World {
        World::open_with(db, workflows, roles, &[]).await
    }

    /// As `open`, with more catalog files.
    async fn open_with(
        db: common::TestDb,
        workflows: &[(&str, String)],
        roles: &str,
        catalog: &[String],
    ) -> World {
        let files: Vec<(String, String)> = workflows
            .iter()
            .map(|(n, t)| (format!("commands/{n}.yaml"), t.clone()))
            .collect();
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let dir = common::catalog_dir(&refs);
        let mut config: Config = toml::from_str(roles).unwrap();
        config.database.url.0 = db.url.clone();
        config.catalog.local.paths = common::examples();
        config.catalog.local.paths.extend_from_slice(catalog);
        config.workflows.paths = vec![format!("{}/commands", dir.path().display())];
        // No scorecards: only the workflows of these files (no exemption workflows).
        config.scorecards.path = String::new();
        config.oncall.rotations =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/oncall.yaml");
        let clock = Clock::fixed("2026-12-01T09:00:00Z".parse().unwrap());
        let app = App::open_at(&config, Use::Ask, clock.clone())
            .await
            .unwrap();
        World {
            app,
            clock,
            _db: db,
            _dir: dir,
        }
    }

    /// `who` (a catalog user, or anyone at the console) says `text`.
    async fn say(&self, who: &str, text: &str) -> Reply {
        let event = ChatEvent::console(Some(who.into()), text, self.clock.now());
        self.app.bot.handle(event).await.expect("an answer")
    }

    /// Runs what the worker would: every run ready now.
    async fn work(&self) {
        let desk = self.app.bot.desk().unwrap();
        while desk.work_once(&self.app.bot).await.unwrap() {}
    }

    fn store(&self) -> &Store {
        &self.app.store
    }

    async fn state(&self, id: i64) -> State {
        self.store().load_run(id).await.unwrap().unwrap().state
    }

    async fn audit_actions(&self) -> Vec<String> {
        let mut entries = self.store().audit_entries(0, 1000).await.unwrap();
        let head = switchboard::audit::verify(&entries, None).expect("the chain is intact");
        // As `audit verify` reads it, page by page from the database.
        let read = self.store().verify_audit(None).await.unwrap();
        assert_eq!(read, Ok(head));
        entries.sort_by_key(|e| e.seq);
        entries.into_iter().map(|e| e.event.action).collect()
    }
}

fn text(r: &Reply) -> String {
    render::text(r)
}

fn run_id(r: &Reply) -> i64 {
    r.result["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("a run id: {}", text(r)))
}

#[tokio::test]
async fn a_component_requested_by_one_owner_and_approved_by_another_is_registered() {
    common::within(async {
        for db in common::databases().await {
            let name = db.name;
            let w = World::open(db, &[("register-component", shipped())], "").await;
            let asked = w
                .say(
                    "breanna.davison",
                    r#"run register-component name=ledger-api owner=team-a description="Books every payment""#,
                )
                .await;
            let id = run_id(&asked);
            assert_eq!(asked.result["state"], "awaiting_approval", "{name}: {}", text(&asked));
            let shown = text(&asked);
            assert!(
                shown.contains("Approval      1 of owners (not the requester)")
                    && shown.contains("name: ledger-api")
                    && shown.contains("owner: group:default/team-a"),
                "the plan shows the rendered step and who approves: {shown}"
            );
            assert_eq!(w.state(id).await, State::AwaitingApproval);

            // Nobody approves their own request here.
            let own = w.say("breanna.davison", &format!("approve {id}")).await;
            assert!(text(&own).contains("does not allow approving your own"), "{}", text(&own));
            // Another team cannot approve it either.
            let other = w.say("amelia.park", &format!("approve {id}")).await;
            assert!(text(&other).contains("you are none of these"), "{}", text(&other));
            assert_eq!(w.state(id).await, State::AwaitingApproval);

            // What becomes of the run is told to the requester through the outbound port.
            let told = Told::default();
            w.app.bot.desk().unwrap().add_outbox(
                switchboard::chat::Platform::Console,
                Arc::new(switchboard::chat::console::ConsoleOutbox::new(told.clone())),
            );
            // A workflow answer offers no share button (sharing `run …` would request it
            // again); a button asking a workflow question is answered by the desk as typing is.
            assert!(asked.share.is_none());
            let clicked = ChatEvent {
                input: switchboard::chat::Input::Action(
                    switchboard::chat::ActionId::Ask(format!("status {id}")).encode(),
                ),
                ..ChatEvent::console(Some("janelle.dawe".into()), "", w.clock.now())
            };
            let clicked = w.app.bot.handle(clicked).await.unwrap();
            assert_eq!(clicked.result["state"], "awaiting_approval", "{}", text(&clicked));
            let approvals = w.say("janelle.dawe", "approvals").await;
            assert_eq!(approvals.result["runs"][0]["id"], id, "{}", text(&approvals));
            // Each run there comes with its buttons; approving is one click.
            let labels: Vec<&str> = approvals.actions.iter().map(|a| a.label.as_str()).collect();
            assert_eq!(labels, [format!("Approve {id}"), format!("Deny {id}")]);
            let clicked = ChatEvent {
                input: switchboard::chat::Input::Action(approvals.actions[0].id.encode()),
                ..ChatEvent::console(Some("janelle.dawe".into()), "", w.clock.now())
            };
            let approved = w.app.bot.handle(clicked).await.unwrap();
            assert!(text(&approved).starts_with(&format!("Run {id} is approved")), "{}", text(&approved));
            // A second click changes nothing and says so.
            let again = w.say("janelle.dawe", &format!("approve {id}")).await;
            assert!(text(&again).contains("nothing changed"), "{}", text(&again));

            w.work().await;
            let status = w.say("breanna.davison", &format!("status {id}")).await;
            assert_eq!(status.result["state"], "succeeded", "{}", text(&status));
            // Someone who may not see the run learns nothing of it by deciding on it.
            let outsider = w.say("amelia.park", &format!("approve {id}")).await;
            assert_eq!(text(&outsider).lines().next().unwrap(), format!("There is no run {id}"));
            assert!(outsider.result.get("state").is_none(), "{}", outsider.result);
            assert_eq!(status.result["steps"][0]["attempts"], 1);
            let told = told.text();
            for says in [
                format!("── to dm:breanna.davison (message 1)\nRun {id} of register-component was approved by user:default/janelle.dawe"),
                format!("── to dm:breanna.davison (message 2)\nRun {id} of register-component: succeeded"),
            ] {
                assert!(told.contains(&says), "{told}");
            }
            let owner = w.say("breanna.davison", "who owns ledger-api").await;
            assert_eq!(owner.result["owners"][0]["ref"], "group:default/team-a", "{}", text(&owner));
            assert!(text(&owner).contains(&format!("registered by run {id}")), "{}", text(&owner));

            assert_eq!(
                w.audit_actions().await,
                [
                    "run.requested",
                    "permission.denied",
                    "permission.denied",
                    "run.approved",
                    "step.started",
                    "step.succeeded",
                    "run.succeeded"
                ]
            );
            // The audit of a run is her team's to read, not another team's.
            let audit = w.say("breanna.davison", &format!("audit run {id}")).await;
            assert_eq!(audit.result["entries"].as_array().unwrap().len(), 7, "{}", text(&audit));
            let outsider = w.say("colette.brock", &format!("audit run {id}")).await;
            assert_eq!(outsider.result["entries"].as_array().unwrap().len(), 0, "{}", text(&outsider));
        }
    })
    .await;
}

#[tokio::test]
async fn a_bad_request_names_every_problem_and_stores_nothing() {
    common::within(async {
        for db in common::databases().await {
            let w = World::open(db, &[("register-component", shipped())], "").await;
            let typo = w
                .say(
                    "breanna.davison",
                    "run register-componet name=x owner=team-a",
                )
                .await;
            assert!(
                text(&typo).contains("did you mean register-component?"),
                "{}",
                text(&typo)
            );
            let bad = w
                .say(
                    "breanna.davison",
                    "run register-component name=Not_Valid owner=nobody-team colour=red",
                )
                .await;
            let errors: Vec<&str> = bad.result["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap())
                .collect();
            assert_eq!(errors.len(), 3, "{errors:?}");
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains("`colour` is not a parameter"))
            );
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains("`name` does not match the pattern"))
            );
            assert!(errors.iter().any(|e| e.contains("`owner`")));
            let missing = w
                .say("breanna.davison", "run register-component owner=team-a")
                .await;
            assert!(
                text(&missing).contains("`name` is required"),
                "{}",
                text(&missing)
            );
            let wrong_kind = w
                .say(
                    "breanna.davison",
                    "run register-component name=x owner=artist-lookup",
                )
                .await;
            assert!(
                text(&wrong_kind).contains("is a component, not a group"),
                "{}",
                text(&wrong_kind)
            );
            let dry = w
                .say(
                    "breanna.davison",
                    "run register-component name=dry-one owner=team-a --dry-run",
                )
                .await;
            assert!(
                text(&dry).contains("dry run: nothing was stored"),
                "{}",
                text(&dry)
            );
            assert_eq!(dry.result["dry_run"], true);
            assert_eq!(dry.result["params"]["name"], "dry-one");
            assert_eq!(
                dry.result["params"]["system"],
                Value::Null,
                "{}",
                dry.result
            );
            assert!(
                w.store().runs_in(&[], 10).await.unwrap().is_empty(),
                "nothing stored"
            );
            assert_eq!(w.store().audit_head().await.unwrap().count, 0);
        }
    })
    .await;
}

#[tokio::test]
async fn who_may_request_and_approve_follows_roles_teams_and_the_workflow() {
    common::within(async {
        for db in common::databases().await {
            let roles =
                "[roles]\nauditors = [\"group:team-c\"]\nplatform = [\"user:amelia.park\"]\n";
            let w = World::open(
                db,
                &[
                    ("register-component", shipped()),
                    ("rotate-secret", TWO_KEYS.into()),
                ],
                roles,
            )
            .await;
            // Someone the catalog does not know asks, and runs nothing.
            let stranger = w
                .say(
                    "nobody@example.com",
                    "run rotate-secret service=wayback-archive reason=leaked",
                )
                .await;
            assert!(
                text(&stranger).contains("not matched to a catalog User"),
                "{}",
                text(&stranger)
            );
            // Another team's developer may not; a platform engineer may, for any entity.
            let other = w
                .say(
                    "colette.brock",
                    "run rotate-secret service=wayback-archive reason=leaked",
                )
                .await;
            assert!(
                text(&other).contains("(its `allowed`), and you are none of these"),
                "{}",
                text(&other)
            );
            assert!(
                text(&other)
                    .contains("owners of component:default/wayback-archive: group:default/team-a"),
                "{}",
                text(&other)
            );
            let platform = w
                .say(
                    "amelia.park",
                    "run rotate-secret service=wayback-archive reason=leaked",
                )
                .await;
            assert_eq!(
                platform.result["state"],
                "awaiting_approval",
                "{}",
                text(&platform)
            );
            // Auditors read everything and act on nothing.
            let auditor = w
                .say(
                    "calum.leavy",
                    "run rotate-secret service=wayback-archive reason=leaked",
                )
                .await;
            assert!(
                text(&auditor).contains("Auditors read everything"),
                "{}",
                text(&auditor)
            );
            // `whoami` shows the roles; `help` lists commands that act only to those who may act.
            let me = w.say("amelia.park", "whoami").await;
            assert_eq!(
                me.result["roles"],
                json!(["developer", "platform"]),
                "{}",
                text(&me)
            );
            for (who, acts) in [
                ("breanna.davison", true),
                ("calum.leavy", false),
                ("nobody@example.com", false),
            ] {
                let help = w.say(who, "help").await;
                assert_eq!(
                    text(&help).contains("run WORKFLOW key=value"),
                    acts,
                    "{who}: {}",
                    text(&help)
                );
                assert!(text(&help).contains("status ID"), "{who}");
            }
            // `workflows` offers what the asker may run.
            let offered = w.say("breanna.davison", "workflows").await;
            let may: Vec<bool> = offered.result["workflows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["may_run"].as_bool().unwrap())
                .collect();
            assert_eq!(may, [true, true], "{}", text(&offered));
            let stranger = w.say("nobody@example.com", "workflows").await;
            assert!(
                stranger.result["workflows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|w| w["may_run"] == false),
                "{}",
                text(&stranger)
            );
            // Policy: every rule must hold, and a refusal says the rule's message.
            let policy = w
                .say(
                    "breanna.davison",
                    "run rotate-secret service=artist-lookup reason=leaked",
                )
                .await;
            assert!(
                text(&policy).contains("policy refuses this request")
                    && text(&policy).contains("Only production services"),
                "{}",
                text(&policy)
            );
            let tested = w
                .say(
                    "breanna.davison",
                    "run rotate-secret service=artist-lookup reason=\"test run\"",
                )
                .await;
            assert_eq!(
                tested.result["state"],
                "awaiting_approval",
                "{}",
                text(&tested)
            );
            let actions = w.audit_actions().await;
            // The stranger, the other team's developer and the auditor.
            assert_eq!(
                actions.iter().filter(|a| *a == "permission.denied").count(),
                3,
                "{actions:?}"
            );
            assert_eq!(
                actions.iter().filter(|a| *a == "run.refused").count(),
                1,
                "{actions:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn quorum_counts_people_and_denial_cancel_and_expiry_are_final() {
    common::within(async {
        for db in common::databases().await {
            let w = World::open(db, &[("rotate-secret", TWO_KEYS.into())], "").await;
            const ASK: &str = "run rotate-secret service=wayback-archive reason=\"it leaked\"";
            let id = run_id(&w.say("breanna.davison", ASK).await);
            let first = w.say("janelle.dawe", &format!("approve {id}")).await;
            assert!(
                text(&first).contains("(1 so far); it awaits more"),
                "{}",
                text(&first)
            );
            let twice = w.say("janelle.dawe", &format!("approve {id}")).await;
            assert!(
                text(&twice).contains("You already approved"),
                "{}",
                text(&twice)
            );
            assert_eq!(
                w.state(id).await,
                State::AwaitingApproval,
                "one person is one approval"
            );
            w.say("nigel.manning", &format!("approve {id}")).await;
            assert_eq!(w.state(id).await, State::Approved);

            let id = run_id(&w.say("breanna.davison", ASK).await);
            let no_reason = w.say("janelle.dawe", &format!("deny {id}")).await;
            assert!(text(&no_reason).contains("Say why"), "{}", text(&no_reason));
            assert_eq!(w.state(id).await, State::AwaitingApproval);
            w.say("janelle.dawe", &format!("deny {id} not during the freeze"))
                .await;
            let status = w.say("breanna.davison", &format!("status {id}")).await;
            assert_eq!(status.result["state"], "denied");
            assert!(
                text(&status).contains("not during the freeze"),
                "{}",
                text(&status)
            );
            let late = w.say("nigel.manning", &format!("approve {id}")).await;
            assert!(
                text(&late).contains("no longer awaits a decision"),
                "{}",
                text(&late)
            );

            let id = run_id(&w.say("breanna.davison", ASK).await);
            let not_yours = w.say("janelle.dawe", &format!("cancel {id}")).await;
            assert!(
                text(&not_yours).contains("Only the requester"),
                "{}",
                text(&not_yours)
            );
            w.say("breanna.davison", &format!("cancel {id} asked by mistake"))
                .await;
            assert_eq!(w.state(id).await, State::Cancelled);

            let id = run_id(&w.say("breanna.davison", ASK).await);
            w.clock.advance(chrono::Duration::days(2));
            let expired = w.say("janelle.dawe", &format!("approve {id}")).await;
            assert!(
                text(&expired).contains("expired before your decision"),
                "{}",
                text(&expired)
            );
            assert_eq!(w.state(id).await, State::Expired);
            // The sweep expires what nobody decided.
            let id = run_id(&w.say("breanna.davison", ASK).await);
            w.clock.advance(chrono::Duration::days(2));
            w.work().await;
            assert_eq!(w.state(id).await, State::Expired);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_approvers_at_once_approve_a_run_once() {
    common::within(async {
        for db in common::databases().await {
            let one_key = TWO_KEYS.replace("quorum: 2", "quorum: 1");
            let w = World::open(db, &[("rotate-secret", one_key)], "").await;
            for _ in 0..5 {
                let id = run_id(
                    &w.say(
                        "breanna.davison",
                        "run rotate-secret service=wayback-archive reason=\"it leaked\"",
                    )
                    .await,
                );
                let approve = format!("approve {id}");
                let (a, b) = tokio::join!(
                    w.say("janelle.dawe", &approve),
                    w.say("nigel.manning", &approve)
                );
                let approved = [&a, &b]
                    .iter()
                    .filter(|r| text(r).contains("it runs now"))
                    .count();
                assert_eq!(approved, 1, "{} / {}", text(&a), text(&b));
                let run = w.store().load_run(id).await.unwrap().unwrap();
                assert_eq!(run.state, State::Approved);
                assert_eq!(run.approvals.len(), 1, "the later decision changed nothing");
            }
            let approvals = w
                .audit_actions()
                .await
                .iter()
                .filter(|a| *a == "run.approved")
                .count();
            assert_eq!(approvals, 5);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_approvals_at_once_meet_a_quorum_of_two() {
    common::within(async {
        for db in common::databases().await {
            let w = World::open(db, &[("rotate-secret", TWO_KEYS.into())], "").await;
            for _ in 0..5 {
                let asked = w
                    .say(
                        "breanna.davison",
                        "run rotate-secret service=wayback-archive reason=\"it leaked\"",
                    )
                    .await;
                let id = run_id(&asked);
                let approve = format!("approve {id}");
                let (a, b) = tokio::join!(
                    w.say("janelle.dawe", &approve),
                    w.say("nigel.manning", &approve)
                );
                let run = w.store().load_run(id).await.unwrap().unwrap();
                assert_eq!(run.state, State::Approved, "{} / {}", text(&a), text(&b));
                assert_eq!(run.approvals.len(), 2);
            }
        }
    })
    .await;
}

/// A fake receiver of signed hooks: every call recorded with whether its signature held; the
/// effect done once per Idempotency-Key.
#[derive(Clone, Default)]
struct Hook {
    calls: Arc<Mutex<Vec<(String, bool)>>>,
    effects: Arc<Mutex<HashMap<String, Value>>>,
}

impl Hook {
    async fn start() -> (Hook, String) {
        let hook = Hook::default();
        let h = hook.clone();
        let app = Router::new().route(
            "/db/{name}",
            post(move |headers: HeaderMap, body: Bytes| {
                let h = h.clone();
                async move {
                    let header = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    let ts: i64 = header("x-switchboard-timestamp").parse().unwrap_or(0);
                    let signed = header("x-switchboard-signature-256")
                        == switchboard::executors::http::sign(SECRET.as_bytes(), ts, &body);
                    let key = header("idempotency-key");
                    h.calls.lock().unwrap().push((key.clone(), signed));
                    if !signed {
                        return (StatusCode::UNAUTHORIZED, "bad signature".to_string());
                    }
                    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    h.effects.lock().unwrap().entry(key).or_insert(request);
                    (StatusCode::OK, json!({"database": "db-1"}).to_string())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (hook, url)
    }
}

#[tokio::test]
async fn a_crash_between_a_steps_effect_and_its_record_does_not_repeat_the_effect() {
    // SAFETY: set once, before any test reads it; every test that reads it sets the same value.
    unsafe { std::env::set_var("SWITCHBOARD_TEST_HOOK_SECRET", SECRET) };
    common::within(async {
        for db in common::databases().await {
            let (hook, url) = Hook::start().await;
            let w = World::open(db, &[("request-db", hooked(&url))], "").await;
            let asked = w.say("breanna.davison", "run request-db service=artist-lookup size=large").await;
            let id = run_id(&asked);
            assert_eq!(asked.result["state"], "approved", "approval: none");

            // The first worker makes the call, then dies before recording it.
            let crashing = switchboard::desk::Desk::new(
                w.store().clone(),
                Default::default(),
                switchboard::executors::all(
                    switchboard::executors::register::Register { store: w.store().clone(), reader: Default::default() },
                    switchboard::executors::http::Http::new(std::time::Duration::from_secs(10)).unwrap(),
                    switchboard::executors::github::GitHubSteps::new(None),
                ),
                switchboard::failpoints::Failpoints::parse("after_step=error").unwrap(),
            );
            crashing.set_workflows(w.app.bot.desk().unwrap().workflows().to_vec());
            assert!(crashing.work_once(&w.app.bot).await.is_err());
            assert_eq!(hook.calls.lock().unwrap().len(), 1);
            assert_eq!(w.state(id).await, State::Running);
            // Its lease holds the run while it might still be alive…
            w.work().await;
            assert_eq!(hook.calls.lock().unwrap().len(), 1);
            // …and once it runs out, the run is taken over and the step done again, under the
            // same key: the receiver does the effect once.
            w.clock.advance(chrono::Duration::minutes(6));
            w.work().await;
            let run = w.store().load_run(id).await.unwrap().unwrap();
            assert_eq!(run.state, State::Succeeded, "{run:?}");
            assert_eq!(run.steps[0].attempts, 2);
            assert_eq!(run.steps[0].outputs.as_ref().unwrap()["body"]["database"], "db-1");
            let calls = hook.calls.lock().unwrap().clone();
            assert_eq!(calls.len(), 2);
            assert!(calls.iter().all(|(key, signed)| *signed && key == &format!("{id}-request")));
            let effects = hook.effects.lock().unwrap().clone();
            assert_eq!(effects.len(), 1, "one effect");
            // The worker that lost the run, were it still alive, can record nothing more.
            let lost = switchboard::store::Holder { owner: "a-worker-that-lost-its-lease", until: i64::MAX };
            let late = w.store().finish_run(id, &lost, State::Failed, Some("late"), switchboard::audit::Event {
                at: 0,
                actor: "switchboard".into(),
                identity: "worker:lost".into(),
                action: "run.failed".into(),
                target: None,
                run_id: Some(id),
                detail: json!({}),
                generation: 0,
            }).await;
            assert!(late.is_err());
            assert_eq!(w.state(id).await, State::Succeeded);
            assert_eq!(
                effects[&format!("{id}-request")],
                json!({"service": "component:default/artist-lookup", "size": "large", "by": "user:default/breanna.davison"})
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_registration_gives_way_when_a_source_defines_the_same_entity() {
    common::within(async {
        for db in common::databases().await {
            let w = World::open(db, &[("register-component", shipped())], "").await;
            let id = run_id(
                &w.say(
                    "breanna.davison",
                    "run register-component name=ledger-api owner=team-a",
                )
                .await,
            );
            w.say("janelle.dawe", &format!("approve {id}")).await;
            w.work().await;
            assert_eq!(w.state(id).await, State::Succeeded);
            // The repository's own catalog file arrives, owned by another team: it wins, and
            // the registration is dropped rather than kept as a conflict.
            let dir = common::catalog_dir(&[(
                "ledger.yaml",
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ledger-api\nspec:\n  type: service\n  lifecycle: production\n  owner: team-b\n",
            )]);
            let mut config = Config::default();
            config.database.url.0 = w._db.url.clone();
            config.catalog.local.paths = common::examples();
            config
                .catalog
                .local
                .paths
                .push(dir.path().display().to_string());
            let sources = switchboard::sync::Sources::default();
            let all = switchboard::sync::sync_all(&config, w.store(), &sources, |_, _, _| {})
                .await
                .unwrap();
            w.app.bot.swap_snapshot(all.snapshot);
            let owner = w.say("breanna.davison", "who owns ledger-api").await;
            assert_eq!(owner.result["owners"][0]["ref"], "group:default/team-b", "{}", text(&owner));
            assert!(!text(&owner).contains("registered by run"), "{}", text(&owner));
            let conflicts = w.say("breanna.davison", "conflicts").await;
            assert!(!text(&conflicts).contains("ledger-api"), "{}", text(&conflicts));
        }
    })
    .await;
}

/// `switchboard audit verify` on a log with a run in it, then on copies of it edited, with an
/// entry deleted, inserted or moved, and cut short: each named, exit 1.
#[test]
fn audit_verify_names_the_first_tampered_entry_and_a_cut_tail() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sb.db");
    let url = format!("sqlite://{}", db.display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let w = World::open(
            common::TestDb::sqlite_at(&url),
            &[("register-component", shipped())],
            "",
        )
        .await;
        let id = run_id(
            &w.say(
                "breanna.davison",
                "run register-component name=ledger-api owner=team-a",
            )
            .await,
        );
        w.say("janelle.dawe", &format!("approve {id}")).await;
        w.work().await;
        w.app.store.close().await;
    });
    let verify = |url: &str, head: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("SWITCHBOARD__DATABASE__URL", url)
            .args(["audit", "verify"]);
        if let Some(h) = head {
            cmd.args(["--head", h]);
        }
        let out = common::run(&mut cmd);
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (ok, head, _) = verify(&url, None);
    assert!(ok);
    let head = head.trim().to_string();
    assert!(head.starts_with("5:"), "{head}");
    assert!(verify(&url, Some(&head)).0);

    // Each kind of tampering, on a copy of the database.
    let tamper = |name: &str, sql: &str| {
        let copy = dir.path().join(format!("{name}.db"));
        std::fs::copy(&db, &copy).unwrap();
        let url = format!("sqlite://{}", copy.display());
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .unwrap();
        });
        url
    };
    for (name, sql, says) in [
        (
            "edited",
            "UPDATE audit SET actor = 'user:default/someone-else' WHERE seq = 2",
            "entry 2 was altered",
        ),
        (
            "deleted",
            "DELETE FROM audit WHERE seq = 3",
            "entry 4 stands where entry 3 should",
        ),
        (
            "inserted",
            "UPDATE audit SET seq = seq + 10 WHERE seq >= 3; \
             INSERT INTO audit SELECT 3, at, actor, identity, action, target, run_id, detail, generation, prev_hash, hash FROM audit WHERE seq = 2; \
             UPDATE audit SET seq = seq - 9 WHERE seq >= 13",
            "entry 3 does not follow",
        ),
        (
            "reordered",
            "UPDATE audit SET seq = 100 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 100",
            "entry 2 does not follow",
        ),
    ] {
        let url = tamper(name, sql);
        let (ok, _, err) = verify(&url, None);
        assert!(!ok, "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
    }
    // The newest entries cut off: the chain is whole, the head recorded earlier is not there.
    let url = tamper("truncated", "DELETE FROM audit WHERE seq >= 4");
    let (ok, _, err) = verify(&url, None);
    assert!(!ok, "the head kept beside the log shows the cut");
    assert!(err.contains("cut off"), "{err}");
    // Cut with the kept head rewritten to match: only a head recorded elsewhere shows it.
    let url = tamper(
        "truncated-and-head",
        "DELETE FROM audit WHERE seq >= 4; \
         UPDATE audit_head SET count = 3, hash = (SELECT hash FROM audit WHERE seq = 3)",
    );
    assert!(
        verify(&url, None).0,
        "a chain alone cannot see its tail cut"
    );
    let (ok, _, err) = verify(&url, Some(&head));
    assert!(!ok);
    assert!(err.contains("cut off"), "{err}");
}

#[tokio::test]
async fn a_private_entity_is_answered_to_its_team_and_counted_but_not_named_to_others() {
    common::within(async {
        for db in common::databases().await {
            let dir = common::catalog_dir(&[("private.yaml", common::PRIVATE)]);
            let roles = "[roles]\nplatform = [\"user:calum.leavy\"]\n";
            let w = World::open_with(db, &[], roles, &[dir.path().display().to_string()]).await;
            // Its team and a platform engineer see it.
            for who in ["amelia.park", "calum.leavy"] {
                let owner = w.say(who, "who owns secret-ledger").await;
                assert_eq!(
                    owner.result["owners"][0]["ref"],
                    "group:default/team-b",
                    "{who}: {}",
                    text(&owner)
                );
            }
            // To anyone else it does not exist: not found, not searched, not suggested.
            let owner = w.say("breanna.davison", "who owns secret-ledger").await;
            assert_eq!(owner.entity, None, "{}", text(&owner));
            assert!(
                !text(&owner).contains("secret-ledger is owned"),
                "{}",
                text(&owner)
            );
            let found = w.say("breanna.davison", "find ledger").await;
            assert!(!text(&found).contains("secret-ledger"), "{}", text(&found));
            let typo = w.say("breanna.davison", "who owns secret-ledgr").await;
            assert!(
                !text(&typo).contains("component:default/secret-ledger"),
                "{}",
                text(&typo)
            );
            // A blast radius stays true: counted, not named, its team still called.
            let radius = w
                .say("breanna.davison", "what depends on wayback-archive")
                .await;
            assert_eq!(radius.result["private_count"], 1, "{}", text(&radius));
            assert!(
                text(&radius).contains("and 1 private entity; ask a platform engineer"),
                "{}",
                text(&radius)
            );
            assert!(
                !text(&radius).contains("secret-ledger"),
                "{}",
                text(&radius)
            );
            assert!(
                radius.result["teams"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("group:default/team-b")),
                "{}",
                text(&radius)
            );
            // Nor in another entity's relations, nor offered while typing.
            let card = w.say("breanna.davison", "info wayback-archive").await;
            assert!(!text(&card).contains("secret-ledger"), "{}", text(&card));
            assert!(
                !card.result.to_string().contains("secret-ledger"),
                "{}",
                card.result
            );
            let typing = ChatEvent {
                input: switchboard::chat::Input::Autocomplete {
                    option: "entity".into(),
                    partial: "secret".into(),
                },
                ..ChatEvent::console(Some("breanna.davison".into()), "", w.clock.now())
            };
            let offered = w.app.bot.handle(typing.clone()).await.unwrap();
            assert!(
                offered
                    .choices
                    .iter()
                    .all(|c| !c.value.contains("secret-ledger")),
                "{:?}",
                offered.choices
            );
            let mut theirs_typing = typing;
            theirs_typing.actor.id = Some("amelia.park".into());
            let offered = w.app.bot.handle(theirs_typing).await.unwrap();
            assert!(
                offered
                    .choices
                    .iter()
                    .any(|c| c.value == "component:default/secret-ledger"),
                "{:?}",
                offered.choices
            );
            let theirs = w
                .say("amelia.park", "what depends on wayback-archive")
                .await;
            assert_eq!(theirs.result["private_count"], 0);
            assert!(text(&theirs).contains("secret-ledger"), "{}", text(&theirs));
        }
    })
    .await;
}

#[tokio::test]
async fn platform_engineers_reload_workflows_and_others_may_not() {
    common::within(async {
        for db in common::databases().await {
            let roles = "[roles]\nplatform = [\"user:calum.leavy\"]\n";
            let w = World::open(db, &[("register-component", shipped())], roles).await;
            std::fs::write(w._dir.path().join("commands/rotate-secret.yaml"), TWO_KEYS).unwrap();
            std::fs::write(w._dir.path().join("commands/broken.yaml"), "name: Broken\n").unwrap();
            let refused = w.say("breanna.davison", "reload workflows").await;
            assert!(
                text(&refused).contains("platform engineers and admins"),
                "{}",
                text(&refused)
            );
            let reloaded = w.say("calum.leavy", "reload workflows").await;
            assert_eq!(
                reloaded.result["loaded"],
                json!(["register-component", "rotate-secret"]),
                "{}",
                text(&reloaded)
            );
            assert!(
                reloaded.result["problems"][0]
                    .as_str()
                    .unwrap()
                    .contains("broken.yaml:1"),
                "{}",
                text(&reloaded)
            );
            let offered = w.say("breanna.davison", "workflows").await;
            assert_eq!(offered.result["workflows"].as_array().unwrap().len(), 2);
            let actions = w.audit_actions().await;
            assert_eq!(actions, ["permission.denied", "workflows.reloaded"]);
        }
    })
    .await;
}

/// A workflow with a parameter of each type.
const TYPED: &str = r#"name: scale-service
title: Scale a service
description: Sets a service's replica count.
parameters:
  - name: service
    type: entity
    kinds: [component]
    required: true
  - name: replicas
    type: integer
    min: 1
    max: 10
    required: true
  - name: canary
    type: bool
    default: false
  - name: region
    type: enum
    values: [eu, us]
    default: eu
  - name: note
    type: string
    max_length: 20
allowed: [tech_lead]
approval:
  approvers: [tech_lead]
  quorum: 1
  expires_in: 2h
steps:
  - name: record
    uses: catalog.register
    with:
      file: |
        apiVersion: backstage.io/v1alpha1
        kind: Resource
        metadata:
          name: {{ params.service.name }}-scale
          description: "{{ params.replicas }} replicas in {{ params.region }}{% if params.canary %}, canary{% endif %}"
        spec:
          type: scaling
          owner: {{ params.service.spec.owner }}
"#;

#[tokio::test]
async fn each_parameter_type_is_read_and_refused_and_tech_leads_act_for_their_own_team() {
    common::within(async {
        for db in common::databases().await {
            let roles = "[roles]\ntech_leads = [\"user:breanna.davison\", \"user:janelle.dawe\", \"user:amelia.park\"]\n";
            let w = World::open(db, &[("scale-service", TYPED.into())], roles).await;
            let bad = w
                .say(
                    "breanna.davison",
                    "run scale-service service=wayback-archive replicas=twelve canary=maybe region=asia note=\"far too long a note for this\"",
                )
                .await;
            let errors = bad.result["errors"].as_array().unwrap();
            let all = errors.iter().map(|e| e.as_str().unwrap()).collect::<Vec<_>>().join(" | ");
            for says in [
                "`replicas` must be a whole number, not `twelve`",
                "`canary` must be true or false, not `maybe`",
                "`region` must be one of eu, us",
                "`note` is longer than 20 characters",
            ] {
                assert!(all.contains(says), "{says}: {all}");
            }
            let range = w.say("breanna.davison", "run scale-service service=wayback-archive replicas=11").await;
            assert!(text(&range).contains("`replicas` must be from 1 to 10"), "{}", text(&range));
            // A tech lead of another team may not request for team-a, nor approve it.
            let other = w.say("amelia.park", "run scale-service service=wayback-archive replicas=3").await;
            assert!(text(&other).contains("you are none of these"), "{}", text(&other));
            let asked = w.say("breanna.davison", "run scale-service service=wayback-archive replicas=3 canary=yes").await;
            let id = run_id(&asked);
            assert_eq!(asked.result["params"], json!({"service": "component:default/wayback-archive", "replicas": 3, "canary": true, "region": "eu", "note": null}));
            let foreign = w.say("amelia.park", &format!("approve {id}")).await;
            assert!(text(&foreign).contains("you are none of these"), "{}", text(&foreign));
            w.say("janelle.dawe", &format!("approve {id}")).await;
            w.work().await;
            assert_eq!(w.state(id).await, State::Succeeded);
            let made = w.say("breanna.davison", "info wayback-archive-scale").await;
            assert!(text(&made).contains("3 replicas in eu, canary"), "{}", text(&made));
        }
    })
    .await;
}

#[tokio::test]
async fn a_step_that_needs_what_is_not_configured_is_refused_when_requested() {
    common::within(async {
        for db in common::databases().await {
            let unset = hooked("http://127.0.0.1:9").replace(
                "SWITCHBOARD_TEST_HOOK_SECRET",
                "SWITCHBOARD_TEST_SECRET_NOBODY_SET",
            );
            let w = World::open(db, &[("request-db", unset)], "").await;
            let asked = w
                .say("breanna.davison", "run request-db service=artist-lookup")
                .await;
            assert!(
                text(&asked).contains("cannot run here yet")
                    && text(&asked).contains("SWITCHBOARD_TEST_SECRET_NOBODY_SET"),
                "{}",
                text(&asked)
            );
            assert!(w.store().runs_in(&[], 10).await.unwrap().is_empty());
        }
    })
    .await;
}

/// Copies the example catalog with `edit` applied to one of its files.
fn edited_examples(file: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = std::path::PathBuf::from(common::fixture("backstage-examples"));
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let dest = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &dest);
            } else {
                std::fs::copy(e.path(), dest).unwrap();
            }
        }
    }
    copy(&from, dir.path());
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(&text)).unwrap();
    dir
}

#[tokio::test]
async fn an_approver_who_left_the_team_before_the_run_started_fails_it() {
    common::within(async {
        for db in common::databases().await {
            let w = World::open(db, &[("register-component", shipped())], "").await;
            let id = run_id(
                &w.say("breanna.davison", "run register-component name=ledger-api owner=team-a")
                    .await,
            );
            w.say("janelle.dawe", &format!("approve {id}")).await;
            // Before the worker takes the run, Janelle moves to team-b.
            let moved = edited_examples("acme/team-a-group.yaml", |t| {
                t.replace(
                    "    email: janelle-dawe@example.com\n    picture: https://api.dicebear.com/7.x/avataaars/svg?seed=Leo&backgroundColor=transparent\n  memberOf: [team-a]",
                    "    email: janelle-dawe@example.com\n    picture: https://api.dicebear.com/7.x/avataaars/svg?seed=Leo&backgroundColor=transparent\n  memberOf: [team-b]",
                )
            });
            let paths = vec![
                moved.path().join("all.yaml").display().to_string(),
                moved.path().join("acme-corp.yaml").display().to_string(),
            ];
            let snap = common::snapshot(&paths);
            let janelle = snap.get("user:default/janelle.dawe").unwrap();
            assert!(
                snap.entity(janelle)
                    .related(switchboard::catalog::RelKind::MemberOf)
                    .all(|g| snap.entity(g).name.as_ref() != "team-a"),
                "the edit moved her"
            );
            w.app.bot.swap_snapshot(snap);
            w.work().await;
            let run = w.store().load_run(id).await.unwrap().unwrap();
            assert_eq!(run.state, State::Failed);
            assert!(
                run.reason.as_deref().unwrap().contains("user:default/janelle.dawe may no longer approve it"),
                "{:?}",
                run.reason
            );
        }
    })
    .await;
}

/// A workflow the person on call may run at once, with a reminder that also asks them.
const RESTART: &str = r#"name: restart-service
title: Restart a service
description: Restarts a service's pods.
target: service
parameters:
  - name: service
    type: entity
    kinds: [component]
    required: true
allowed: [owners]
approval:
  approvers: [platform]
  quorum: 1
  expires_in: 1d
  remind_after: 1h
  escalate_to: oncall
emergency: oncall
steps:
  - name: restart
    uses: catalog.register
    with:
      file: |
        apiVersion: backstage.io/v1alpha1
        kind: Resource
        metadata:
          name: {{ params.service.name }}-restarted-by-run-{{ run.id }}
        spec:
          type: marker
          owner: {{ params.service.spec.owner }}
"#;

/// The user on call for `entity` now (a bare name), and the console outbox that prints cards.
async fn oncall_and_outbox(w: &World, entity: &str) -> (String, Told) {
    let asked = w
        .say("guest", &format!("who is on call for {entity}"))
        .await;
    let user = asked.result["oncall"][0]["user"]
        .as_str()
        .unwrap()
        .to_string();
    let told = Told::default();
    w.app.bot.desk().unwrap().add_outbox(
        switchboard::chat::Platform::Console,
        Arc::new(switchboard::chat::console::ConsoleOutbox::new(told.clone())),
    );
    (user.trim_start_matches("user:default/").to_string(), told)
}

/// `who` clicks `verb` on run `id`'s card (with a form's reason, when given).
async fn click(w: &World, who: &str, verb: &str, id: i64, reason: Option<&str>) -> Reply {
    let action = format!("sb1:{verb}:{id}");
    let input = match reason {
        Some(r) => switchboard::chat::Input::Form {
            action,
            values: vec![("reason".into(), r.into())],
        },
        None => switchboard::chat::Input::Action(action),
    };
    let event = ChatEvent {
        input,
        ..ChatEvent::console(Some(who.into()), "", w.clock.now())
    };
    w.app.bot.handle(event).await.expect("an answer")
}

#[tokio::test]
async fn the_person_on_call_runs_at_once_in_an_emergency_and_the_approvers_review_it_after() {
    common::within(async {
        for db in common::databases().await {
            // Team B are the platform engineers who approve.
            let w = World::open(
                db,
                &[("restart-service", RESTART.to_string())],
                "[roles]\nplatform = [\"group:team-b\"]\n",
            )
            .await;
            let (oncall, told) = oncall_and_outbox(&w, "artist-lookup").await;
            let other = ["breanna.davison", "janelle.dawe", "nigel.manning"]
                .into_iter()
                .find(|p| *p != oncall)
                .unwrap();
            // Anyone else of the team is refused, and nothing is recorded but the refusal.
            let refused = w
                .say(other, r#"run restart-service service=artist-lookup --emergency "pods crash-looping""#)
                .await;
            assert!(
                text(&refused).contains("Only oncall for component:default/artist-lookup may run restart-service at once"),
                "{}",
                text(&refused)
            );
            assert!(w.store().load_run(1).await.unwrap().is_none());
            // A reason is required.
            let bare = w.say(&oncall, "run restart-service service=artist-lookup --emergency").await;
            assert!(text(&bare).starts_with("Say what the emergency is"), "{}", text(&bare));
            // The person on call: at once, marked break-glass, and the approvers get a review card.
            let now = w
                .say(&oncall, r#"run restart-service service=artist-lookup --emergency "pods crash-looping""#)
                .await;
            let id = run_id(&now);
            assert_eq!(now.result["state"], "approved", "{}", text(&now));
            let run = w.store().load_run(id).await.unwrap().unwrap();
            assert_eq!(run.break_glass.as_deref(), Some("pods crash-looping"));
            assert_eq!(run.break_glass_by, Some(format!("user:default/{oncall}")));
            let printed = told.text();
            assert!(printed.contains("── to dm:user:default/amelia.park (message"), "{printed}");
            assert!(
                printed.contains(&format!("Review: restart-service on component:default/artist-lookup was run at once in an emergency (run {id})")),
                "{printed}"
            );
            assert!(!printed.contains(&format!("── to dm:user:default/{oncall}")), "the one who ran it reviews nothing");
            w.work().await;
            assert_eq!(w.state(id).await, State::Succeeded);
            // Reviews: the one who ran it may not; a flag needs its reason; each once.
            let own = click(&w, &oncall, "acknowledge", id, None).await;
            assert!(text(&own).contains("You ran it in the emergency"), "{}", text(&own));
            let bare_flag = click(&w, "amelia.park", "flag", id, None).await;
            assert!(text(&bare_flag).starts_with("Say what was wrong"), "{}", text(&bare_flag));
            let ack = click(&w, "colette.brock", "acknowledge", id, None).await;
            assert_eq!(text(&ack).lines().next().unwrap(), format!("Run {id} is acknowledged"));
            let flag = click(&w, "amelia.park", "flag", id, Some("should have paged platform first")).await;
            assert!(text(&flag).starts_with(&format!("Run {id} is flagged")), "{}", text(&flag));
            let again = click(&w, "amelia.park", "acknowledge", id, None).await;
            assert!(text(&again).contains("already reviewed"), "{}", text(&again));
            assert_eq!(flag.result["reviews"].as_array().unwrap().len(), 2);
            // Every review card shows the reviews.
            assert!(told.text().contains("amelia.park flagged: should have paged platform first"), "{}", told.text());
            let actions = w.audit_actions().await;
            assert_eq!(actions.iter().filter(|a| *a == "run.reviewed").count(), 2, "{actions:?}");
            let requested = w.store().audit_about(None, Some(id), 50).await.unwrap();
            let first = requested.iter().find(|e| e.event.action == "run.requested").unwrap();
            assert_eq!(first.event.detail["break_glass"], "pods crash-looping");

            // On a run awaiting approval, the card's "Run now (emergency)" is the on-call's alone.
            let asked = w.say(other, "run restart-service service=artist-lookup").await;
            let id = run_id(&asked);
            assert_eq!(asked.result["state"], "awaiting_approval");
            assert!(told.text().contains(&format!("Approval needed: restart-service on component:default/artist-lookup (run {id})")));
            let refused = click(&w, other, "emergency", id, Some("it is on fire")).await;
            assert!(text(&refused).contains("Only oncall for component:default/artist-lookup may run restart-service at once"), "{}", text(&refused));
            assert_eq!(w.state(id).await, State::AwaitingApproval);
            let ran = click(&w, &oncall, "emergency", id, Some("it is on fire")).await;
            assert!(text(&ran).starts_with(&format!("Run {id} runs now (break-glass)")), "{}", text(&ran));
            assert_eq!(w.state(id).await, State::Approved);
            let late = click(&w, &oncall, "emergency", id, Some("again")).await;
            assert!(text(&late).contains("no longer awaits a decision"), "{}", text(&late));

            // A process that stopped between running a run at once and posting its review
            // cards (the change made, the cards not): the sweep posts them, once.
            let asked = w.say(other, "run restart-service service=artist-lookup").await;
            let id = run_id(&asked);
            let event = switchboard::audit::Event {
                at: w.clock.now().timestamp(),
                actor: format!("user:default/{oncall}"),
                identity: format!("console:{oncall}"),
                action: "run.break_glass".into(),
                target: Some("component:default/artist-lookup".into()),
                run_id: Some(id),
                detail: json!({"reason": "disk full", "break_glass": true}),
                generation: 0,
            };
            w.store().run_now(id, "disk full", event).await.unwrap().unwrap();
            // Posts (not the edits that follow): "── to dm:… (message N)" then the card.
            let review = format!(")\nReview: restart-service on component:default/artist-lookup was run at once in an emergency (run {id})");
            assert_eq!(told.text().matches(&review).count(), 0);
            w.clock.advance(chrono::Duration::minutes(2));
            w.work().await;
            assert_eq!(told.text().matches(&review).count(), 5, "one per approver: {}", told.text());
            w.clock.advance(chrono::Duration::minutes(2));
            w.work().await;
            assert_eq!(told.text().matches(&review).count(), 5, "only once");
        }
    })
    .await;
}

#[tokio::test]
async fn one_reminder_goes_to_those_who_have_not_decided_and_escalates_to_the_person_on_call() {
    common::within(async {
        for db in common::databases().await {
            let w = World::open(
                db,
                &[("restart-service", RESTART.to_string())],
                "[roles]\nplatform = [\"group:team-b\"]\n",
            )
            .await;
            let (oncall, told) = oncall_and_outbox(&w, "artist-lookup").await;
            let requester = ["breanna.davison", "janelle.dawe", "nigel.manning"]
                .into_iter()
                .find(|p| *p != oncall)
                .unwrap();
            let asked = w
                .say(requester, "run restart-service service=artist-lookup")
                .await;
            let id = run_id(&asked);
            // Team B is asked; the person on call (team A) is not, yet.
            let printed = told.text();
            assert!(
                printed.contains("── to dm:user:default/amelia.park"),
                "{printed}"
            );
            assert!(
                !printed.contains(&format!("── to dm:user:default/{oncall}")),
                "{printed}"
            );
            let amelia = click(&w, "amelia.park", "details", id, None).await;
            assert_eq!(amelia.result["state"], "awaiting_approval");
            // Before the reminder, the person on call may not decide.
            let early = w.say(&oncall, &format!("approve {id}")).await;
            assert!(
                text(&early).contains("you are none of these"),
                "{}",
                text(&early)
            );
            // Before the hour, nothing; after it, one reminder on each undecided copy's thread.
            w.work().await;
            assert!(!told.text().contains("Reminder:"));
            w.clock.advance(chrono::Duration::minutes(61));
            w.work().await;
            let printed = told.text();
            let reminders = printed
                .matches(&format!(
                    "Reminder: run {id} of restart-service still awaits approval"
                ))
                .count();
            assert_eq!(reminders, 5, "one per team B approver's card: {printed}");
            assert!(
                printed.contains(&format!("── to dm:user:default/{oncall}")),
                "escalated to the person on call: {printed}"
            );
            w.work().await;
            assert_eq!(told.text().matches("Reminder:").count(), 5, "only once");
            // Whom it escalated to may decide.
            let approved = w.say(&oncall, &format!("approve {id}")).await;
            assert!(
                text(&approved).starts_with(&format!("Run {id} is approved")),
                "{}",
                text(&approved)
            );
            // A run nobody decides expires: every copy of its card says so, and a late click
            // changes nothing.
            let late = w
                .say(requester, "run restart-service service=artist-lookup")
                .await;
            let late = run_id(&late);
            w.clock.advance(chrono::Duration::hours(25));
            w.work().await;
            assert_eq!(w.state(late).await, State::Expired);
            let printed = told.text();
            let expired = format!(
                "is now\nRun {late} of restart-service on component:default/artist-lookup: expired"
            );
            assert_eq!(
                printed.matches(&expired).count(),
                6,
                "the requester's copy and five approvers': {printed}"
            );
            assert!(
                printed.contains(&format!("Run {late} of restart-service: expired")),
                "the requester is told"
            );
            let clicked = click(&w, "amelia.park", "approve", late, None).await;
            assert!(
                text(&clicked).starts_with(&format!(
                    "Run {late} no longer awaits a decision (now expired)"
                )),
                "{}",
                text(&clicked)
            );
        }
    })
    .await;
}

/// Someone the catalog does not know, and a developer of another team, try every mutating
/// command and every button of a run's card: each is refused with a message saying why and
/// audited as refused, and nothing else changes (no run requested, the run still awaiting
/// approval, nothing decided, nothing reloaded).
#[tokio::test]
async fn strangers_and_other_teams_change_nothing_through_any_command_or_button() {
    common::within(async {
        for db in common::databases().await {
            let name = db.name;
            let w = World::open(
                db,
                &[
                    ("register-component", shipped()),
                    ("rotate-secret", TWO_KEYS.into()),
                ],
                "",
            )
            .await;
            let asked = w
                .say(
                    "breanna.davison",
                    r#"run register-component name=ledger-api owner=team-a description="Books every payment""#,
                )
                .await;
            let id = run_id(&asked);
            let runs = w.store().runs_in(&[], 500).await.unwrap().len();
            let audited = w.audit_actions().await;
            let refused = |r: &str| {
                let r = r.to_lowercase();
                ["not matched to a catalog user", "you are none of these", "may not", "only ", "is for ", "cannot "]
                    .iter()
                    .any(|why| r.contains(why))
            };
            let commands = [
                "run register-component name=evil owner=team-a description=x".to_string(),
                "run rotate-secret service=wayback-archive reason=leaked".to_string(),
                format!("approve {id}"),
                format!("deny {id} not yours"),
                format!("cancel {id} not yours"),
                "reload workflows".to_string(),
            ];
            for who in ["nobody@example.com", "amelia.park"] {
                for c in &commands {
                    let r = text(&w.say(who, c).await);
                    assert!(refused(&r), "{name}: {who}: {c}: {r}");
                }
                for (verb, reason) in [
                    ("approve", None),
                    ("deny", Some("no")),
                    ("emergency", Some("it is on fire")),
                    ("acknowledge", None),
                    ("flag", Some("should not have run")),
                ] {
                    let r = text(&click(&w, who, verb, id, reason).await);
                    assert!(refused(&r), "{name}: {who} clicks {verb}: {r}");
                }
            }
            assert_eq!(w.state(id).await, State::AwaitingApproval, "{name}");
            assert_eq!(w.store().runs_in(&[], 500).await.unwrap().len(), runs, "{name}");
            // Each attempt is audited as refused, and nothing else is.
            let after = w.audit_actions().await;
            let attempts = 2 * (commands.len() + 5);
            assert_eq!(after.len(), audited.len() + attempts, "{name}: {after:?}");
            assert!(
                after[audited.len()..].iter().all(|a| a == "permission.denied"),
                "{name}: {after:?}"
            );
        }
    })
    .await;
}
