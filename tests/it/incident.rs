//! Incident context end to end, on SQLite and PostgreSQL: the incident card's parts and its
//! "Page on-call" button (the shipped `page-oncall` workflow against a fake PagerDuty Events
//! API that counts triggers), follow-up questions within a conversation and never across,
//! and docs and API definitions of the example catalog (inline and through `$text`).

use crate::common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::post;
use serde_json::Value;
use switchboard::app::{App, Use};
use switchboard::chat::render;
use switchboard::clock::Clock;
use switchboard::conversation::{ActionId, Actor, ChatEvent, Conversation, Input, Platform, Reply};

const CATALOG: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
  description: Takes the money
  annotations:
    pagerduty.com/integration-key: e93facc04764012d7bfb002500d5d1a6
    github.com/project-slug: acme/checkout
  links:
    - url: https://runbooks.example.com/checkout
      title: Checkout runbook
    - url: https://grafana.example.com/d/checkout
      title: Checkout
      type: dashboard
spec:
  type: service
  lifecycle: production
  owner: team-a
  dependsOn: [component:payments]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  annotations:
    github.com/project-slug: acme/payments
spec:
  type: service
  lifecycle: production
  owner: team-b
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: storefront
spec:
  type: website
  lifecycle: production
  owner: team-b
  dependsOn: [component:checkout]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: search
  annotations:
    pagerduty.com/integration-key: 0123456789abcdef0123456789abcdef
spec:
  type: service
  lifecycle: production
  owner: team-b
"#;

/// PagerDuty's Events API v2: every event received, answered as PagerDuty documents it.
#[derive(Clone, Default)]
struct FakeEvents {
    received: Arc<Mutex<Vec<Value>>>,
}

impl FakeEvents {
    async fn start(&self) -> String {
        let received = self.received.clone();
        let accepted: Value = serde_json::from_str(
            &std::fs::read_to_string(common::fixture(
                "payloads/pagerduty/events-v2-enqueue.202.response.json",
            ))
            .unwrap(),
        )
        .unwrap();
        let app = Router::new().route(
            "/v2/enqueue",
            post(move |axum::Json(body): axum::Json<Value>| {
                let received = received.clone();
                let mut answer = accepted.clone();
                async move {
                    answer["dedup_key"] = body["dedup_key"].clone();
                    received.lock().unwrap().push(body);
                    (axum::http::StatusCode::ACCEPTED, axum::Json(answer))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn triggers(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["event_action"] == "trigger")
            .cloned()
            .collect()
    }
}

struct World {
    app: App,
    clock: Clock,
    events: FakeEvents,
    _db: common::TestDb,
    _dir: tempfile::TempDir,
}

impl World {
    async fn open(db: common::TestDb) -> World {
        let events = FakeEvents::default();
        let url = events.start().await;
        // The shipped workflow, sent to the fake instead of PagerDuty.
        let shipped = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("commands/page-oncall.yaml"),
        )
        .unwrap();
        assert!(shipped.contains("https://events.pagerduty.com/v2/enqueue"));
        let workflow = shipped.replace("https://events.pagerduty.com", &url);
        let dir = common::catalog_dir(&[
            ("catalog/incident.yaml", CATALOG),
            ("commands/page-oncall.yaml", &workflow),
        ]);
        let mut config =
            common::config_with(&db.url, &[format!("{}/catalog", dir.path().display())]);
        config.workflows.paths = vec![format!("{}/commands", dir.path().display())];
        let clock = Clock::fixed("2026-12-01T09:30:00Z".parse().unwrap());
        let app = App::open_at(&config, Use::Ask, clock.clone())
            .await
            .unwrap();
        World {
            app,
            clock,
            events,
            _db: db,
            _dir: dir,
        }
    }

    async fn handle(&self, actor: Actor, conversation: Conversation, input: Input) -> Reply {
        let event = ChatEvent {
            actor,
            conversation,
            input,
            now: self.clock.now(),
        };
        self.app.bot.handle(event).await.expect("an answer")
    }

    /// `who` says `text` at the console.
    async fn say(&self, who: &str, text: &str) -> Reply {
        let event = ChatEvent::console(Some(who.into()), text, self.clock.now());
        self.app.bot.handle(event).await.expect("an answer")
    }

    /// `who` clicks the button labelled `label` of `reply`.
    async fn click(&self, who: &str, reply: &Reply, label: &str) -> Reply {
        let action = reply
            .actions
            .iter()
            .find(|a| a.label == label)
            .unwrap_or_else(|| panic!("no {label} button: {:?}", reply.actions));
        self.handle(
            Actor::console(Some(who.into())),
            Conversation::default(),
            Input::Action(action.id.encode()),
        )
        .await
    }

    /// Runs what the worker would: every run ready now.
    async fn work(&self) {
        let desk = self.app.bot.desk().unwrap();
        while desk.work_once(&self.app.bot).await.unwrap() {}
    }
}

fn text(r: &Reply) -> String {
    render::text(r)
}

#[tokio::test]
async fn the_incident_card_has_every_part_and_its_page_button_pages_once() {
    common::within(async {
        for db in common::databases().await {
            let name = db.name;
            let w = World::open(db).await;
            let card = w.say("amelia.park", "incident checkout").await;
            let shown = text(&card);
            let r = &card.result;
            assert_eq!(r["owners"][0], "group:default/team-a", "{name}: {shown}");
            // team-a's weekly rotation, from 2026-01-05 09:00: the 48th week is Nigel's,
            // then Breanna's.
            assert_eq!(
                r["oncall"]["now"][0]["user"], "user:default/nigel.manning",
                "{shown}"
            );
            assert_eq!(
                r["oncall"]["next"][0]["user"],
                "user:default/breanna.davison"
            );
            assert_eq!(r["blast_radius"]["entities"], 1);
            assert_eq!(r["blast_radius"]["teams"][0]["team"], "team-b");
            assert_eq!(
                r["blast_radius"]["nearest"][0]["entity"],
                "component:default/storefront"
            );
            // storefront is team-b's: its on-call is on the card too.
            assert!(
                !r["blast_radius"]["nearest"][0]["oncall"]
                    .as_array()
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(
                r["runbooks"][0]["url"],
                "https://runbooks.example.com/checkout"
            );
            assert_eq!(
                r["dashboards"][0]["url"],
                "https://grafana.example.com/d/checkout"
            );
            assert_eq!(r["quarantined"], false);
            assert!(
                shown.contains("Recent changes (7 days)") && shown.contains("Next"),
                "{shown}"
            );

            // The owner, on-call and dependents answers offer the card.
            for q in [
                "who owns checkout",
                "oncall checkout",
                "dependents checkout",
            ] {
                let a = w.say("amelia.park", q).await;
                let card = a.actions.iter().find(|b| b.label == "Incident card");
                assert_eq!(
                    card.map(|b| b.id.clone()),
                    Some(ActionId::Ask("incident component:default/checkout".into())),
                    "{q}"
                );
            }

            // A responder of another team pages: one trigger, saying who and what.
            let paged = w.click("amelia.park", &card, "Page on-call").await;
            let id = paged.result["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("{}", text(&paged)));
            w.work().await;
            let triggers = w.events.triggers();
            assert_eq!(triggers.len(), 1, "{name}");
            let t = &triggers[0];
            assert_eq!(t["routing_key"], "e93facc04764012d7bfb002500d5d1a6");
            assert_eq!(t["dedup_key"], format!("switchboard-run-{id}"));
            assert_eq!(
                t["payload"]["custom_details"]["asked_by"],
                "user:default/amelia.park"
            );
            assert_eq!(t["payload"]["source"], "component:default/checkout");
            let run = w.app.store.load_run(id).await.unwrap().unwrap();
            assert_eq!(run.state.as_str(), "succeeded");

            // A second page within the de-duplication time says who paged, and pages nobody.
            w.clock.advance(chrono::Duration::minutes(3));
            let again = w.click("breanna.davison", &card, "Page on-call").await;
            let said = text(&again);
            assert!(
                said.contains("was paged 3 min ago by Amelia Park")
                    && said.contains(&format!("run {id}"))
                    && said.contains(&format!("switchboard-run-{id}")),
                "{said}"
            );
            assert_eq!(again.result["paged"], false);
            w.work().await;
            assert_eq!(w.events.triggers().len(), 1);

            // Two clicks at once on another service: one page.
            let search = w.say("amelia.park", "incident search").await;
            let (a, b) = tokio::join!(
                w.click("amelia.park", &search, "Page on-call"),
                w.click("colette.brock", &search, "Page on-call")
            );
            let created = [&a, &b].iter().filter(|r| r.result["id"].is_i64()).count();
            assert_eq!(created, 1, "{}\n{}", text(&a), text(&b));
            w.work().await;
            assert_eq!(w.events.triggers().len(), 2);

            // After the de-duplication time, checkout can be paged again.
            w.clock.advance(chrono::Duration::minutes(10));
            let later = w.click("breanna.davison", &card, "Page on-call").await;
            assert!(later.result["id"].is_i64(), "{}", text(&later));
            w.work().await;
            assert_eq!(w.events.triggers().len(), 3);

            // No integration key: refused with the reason; someone unknown may not page.
            let front = w
                .say("amelia.park", "run page-oncall service=storefront")
                .await;
            assert!(
                text(&front).contains("no pagerduty.com/integration-key"),
                "{}",
                text(&front)
            );
            let stranger = w
                .handle(
                    Actor::on(Platform::Slack, "U404"),
                    Conversation::default(),
                    Input::Text("run page-oncall service=checkout".into()),
                )
                .await;
            assert!(!stranger.result["id"].is_i64(), "{}", text(&stranger));
            assert_eq!(w.events.triggers().len(), 3);
        }
    })
    .await;
}

fn deploy(repo: &str, id: &str, at: i64, who: &str) -> switchboard::changes::RepoChange {
    switchboard::changes::RepoChange {
        repo: repo.into(),
        kind: "deploy".into(),
        ref_id: id.into(),
        title: format!("deploy {id}"),
        who: Some(who.into()),
        at,
        url: None,
        detail: Some("production: success".into()),
        via: "webhook".into(),
    }
}

/// `changes X` reads X's repository and those of what X depends on, and what the catalog
/// watch logged of X; the incident card shows the last week of it. Kept in the store: a
/// restarted bot reads the same back, and what is older than the retention is gone.
#[tokio::test]
async fn changes_of_an_entity_and_its_dependencies_newest_first() {
    common::within(async {
        for db in common::databases().await {
            let name = db.name;
            let w = World::open(db).await;
            let now = w.clock.now().timestamp();
            let hour = 3600;
            let given = vec![
                deploy("acme/checkout", "deployment-1", now - 2 * hour, "octocat"),
                deploy("acme/payments", "deployment-2", now - hour, "hubot"),
                deploy(
                    "acme/checkout",
                    "deployment-3",
                    now - 10 * 86_400,
                    "octocat",
                ),
                // storefront depends on checkout, not the other way: not checkout's change.
                deploy("acme/storefront", "deployment-4", now - hour, "monalisa"),
                // Older than the retention (30 days): forgotten.
                deploy(
                    "acme/checkout",
                    "deployment-5",
                    now - 40 * 86_400,
                    "octocat",
                ),
            ];
            let fresh = w.app.store.add_repo_changes(&given).await.unwrap();
            assert_eq!(fresh.len(), 5, "{name}");
            // The same again (a redelivery) is nothing new.
            assert!(
                w.app
                    .store
                    .add_repo_changes(&given)
                    .await
                    .unwrap()
                    .is_empty()
            );
            w.app
                .store
                .record_observation(
                    &switchboard::store::Observation {
                        changes: vec![switchboard::store::Change {
                            at: now - 30 * 60,
                            entity: "component:default/checkout".into(),
                            team: Some("group:default/team-a".into()),
                            change: "owner-changed".into(),
                            scorecard: None,
                            before: Some("group:default/team-b".into()),
                            after: Some("group:default/team-a".into()),
                            source: "local".into(),
                        }],
                        ..Default::default()
                    },
                    now,
                )
                .await
                .unwrap();
            w.app.bot.reload_changes(&w.app.store).await.unwrap();

            let r = w.say("amelia.park", "changes checkout").await;
            let got: Vec<(String, String)> = r.result["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["kind"].as_str().unwrap().to_string(),
                        c["title"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            assert_eq!(
                got,
                [
                    ("catalog".to_string(), "owner-changed".to_string()),
                    ("deploy".into(), "deploy deployment-2".into()),
                    ("deploy".into(), "deploy deployment-1".into()),
                ],
                "{name}: {}",
                text(&r)
            );
            assert_eq!(
                r.result["changes"][1]["entity"],
                "component:default/payments"
            );
            assert!(text(&r).contains("by hubot"), "{}", text(&r));
            // A wider window reaches the deploy of ten days ago, never the forgotten one.
            let wide = w
                .say("amelia.park", "changes checkout since 2026-11-01")
                .await;
            let titles: Vec<&str> = wide.result["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["title"].as_str().unwrap())
                .collect();
            assert!(titles.contains(&"deploy deployment-3"), "{titles:?}");
            assert!(!titles.contains(&"deploy deployment-5"), "{titles:?}");
            assert!(!titles.contains(&"deploy deployment-4"), "{titles:?}");
            // The incident card's recent changes are the same ones.
            let card = w.say("amelia.park", "incident checkout").await;
            assert_eq!(
                card.result["changes"],
                r.result["changes"],
                "{}",
                text(&card)
            );
        }
    })
    .await;
}

/// A quarantined entity still gets its card, saying so with the reason, and a conflicting
/// claim on its ownership is on it.
#[tokio::test]
async fn the_incident_card_says_quarantine_and_conflicts() {
    common::within(async {
        let db = common::databases().await.remove(0);
        let w = World::open(db).await;
        let dir = common::catalog_dir(&[(
            "broken.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ledger\nspec:\n  type: service\n  owner: team-a\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-c\n",
        )]);
        let mut all = common::examples();
        all.push(format!("{}/catalog", w._dir.path().display()));
        all.push(dir.path().display().to_string());
        let out = switchboard::sources::local::scan(&all, &Default::default(), 0);
        w.app
            .bot
            .swap_snapshot(switchboard::catalog::Snapshot::build(out.entities, out.problems, 0));
        let card = w.say("amelia.park", "incident ledger").await;
        assert_eq!(card.result["quarantined"], true, "{}", text(&card));
        assert!(
            text(&card).contains("quarantined: ") && text(&card).contains("lifecycle"),
            "{}",
            text(&card)
        );
        let checkout = w.say("amelia.park", "incident checkout").await;
        let conflicts = checkout.result["conflicts"].as_array().unwrap();
        assert!(
            conflicts
                .iter()
                .any(|c| c.as_str().unwrap().starts_with("defined again at")),
            "{}",
            text(&checkout)
        );
    })
    .await;
}

fn thread(channel: &str, ts: &str) -> Conversation {
    Conversation {
        channel: Some(channel.into()),
        thread: Some(ts.into()),
        follow_up: Some(format!("{channel}/{ts}")),
        continued_as: None,
    }
}

#[tokio::test]
async fn follow_ups_refer_to_the_thread_entity_and_never_cross_threads() {
    common::within(async {
        for db in common::databases().await {
            let name = db.name;
            let w = World::open(db).await;
            let ada = || Actor::on(Platform::Slack, "U1");
            let ask =
                |conv: Conversation, q: &str| w.handle(ada(), conv, Input::Text(q.to_string()));
            let t1 = thread("C1", "1700000000.000100");
            let first = ask(t1.clone(), "who owns checkout?").await;
            assert_eq!(first.entity.as_deref(), Some("component:default/checkout"));

            let oncall = ask(t1.clone(), "and who is on call?").await;
            assert_eq!(oncall.intent, switchboard::Intent::Oncall, "{name}");
            assert_eq!(
                oncall.referred.as_deref(),
                Some("component:default/checkout")
            );
            assert!(text(&oncall).contains("About checkout, from earlier in this thread."));
            let deps = ask(t1.clone(), "what depends on it?").await;
            assert_eq!(
                deps.result["dependents"][0]["ref"],
                "component:default/storefront",
                "{}",
                text(&deps)
            );
            let runbook = ask(t1.clone(), "show me its runbook").await;
            assert_eq!(
                runbook.result["runbooks"][0]["url"],
                "https://runbooks.example.com/checkout"
            );

            // Another thread, the same channel: nothing to refer to.
            let other = ask(thread("C1", "1700000000.000200"), "who is on call?").await;
            assert!(other.referred.is_none());
            assert!(
                text(&other).starts_with("About which entity?"),
                "{}",
                text(&other)
            );
            // The same ids on another platform are another conversation.
            let discord = w
                .handle(
                    Actor::on(Platform::Discord, "42"),
                    t1.clone(),
                    Input::Text("who is on call?".into()),
                )
                .await;
            assert!(discord.referred.is_none(), "{}", text(&discord));

            // A name always wins, and becomes what the thread is about.
            let named = ask(t1.clone(), "who owns payments").await;
            assert!(named.referred.is_none());
            let after = ask(t1.clone(), "who is on call").await;
            assert_eq!(
                after.referred.as_deref(),
                Some("component:default/payments")
            );

            // Kept in the store: a restarted bot (another replica) answers the same.
            let stored = w
                .app
                .store
                .thread_entity("slack:C1/1700000000.000100", w.clock.now().timestamp())
                .await
                .unwrap();
            assert_eq!(stored.as_deref(), Some("component:default/payments"));
            // Past its time (two hours by default), the thread has forgotten.
            w.clock.advance(chrono::Duration::hours(3));
            let late = ask(t1.clone(), "who is on call").await;
            assert!(late.referred.is_none(), "{}", text(&late));
        }
    })
    .await;
}

#[tokio::test]
async fn a_console_session_is_one_conversation() {
    common::within(async {
        let db = common::databases().await.remove(0);
        let w = World::open(db).await;
        let bot = w.app.bot.clone();
        let handle = tokio::runtime::Handle::current();
        let session = |lines: &'static str| {
            let (bot, handle) = (bot.clone(), handle.clone());
            tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                switchboard::chat::console::run(
                    &handle,
                    &bot,
                    None,
                    lines.as_bytes(),
                    &mut out,
                    false,
                )
                .unwrap();
                String::from_utf8(out).unwrap()
            })
        };
        let one = session("docs checkout\nand who is on call?\n")
            .await
            .unwrap();
        assert!(
            one.contains("About checkout, from earlier in this thread."),
            "{one}"
        );
        // A new session starts with nothing to refer to.
        let two = session("who is on call?\n").await.unwrap();
        assert!(two.contains("About which entity?"), "{two}");
    })
    .await;
}

#[tokio::test]
async fn docs_and_api_definitions_of_the_example_catalog() {
    common::within(async {
        let db = common::databases().await.remove(0);
        let w = World::open(db).await;
        // Inline OpenAPI 3.0.
        let pets = w.say("ada", "how do I call api:petstore?").await;
        let api = &pets.result["apis"][0];
        assert_eq!(api["format"], "OpenAPI 3.0.0", "{}", text(&pets));
        assert_eq!(api["servers"][0], "http://petstore.swagger.io/v1");
        let ops: Vec<String> = api["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{} {}",
                    o["verb"].as_str().unwrap(),
                    o["target"].as_str().unwrap()
                )
            })
            .collect();
        assert!(ops.contains(&"GET /pets/{petId}".to_string()), "{ops:?}");
        // Through `$text: ./petstore-webhook.oas.yaml`, beside the entity's file.
        let hook = w.say("ada", "api petstore-webhook").await;
        assert_eq!(
            hook.result["apis"][0]["operations"][0]["verb"],
            "WEBHOOK POST",
            "{}",
            text(&hook)
        );
        // AsyncAPI and GraphQL.
        let lights = w.say("ada", "api streetlights").await;
        assert!(
            lights.result["apis"][0]["format"]
                .as_str()
                .unwrap()
                .starts_with("AsyncAPI 2")
        );
        assert!(
            lights.result["apis"][0]["operations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["verb"] == "subscribe"),
            "{}",
            text(&lights)
        );
        let swapi = w.say("ada", "api starwars-graphql").await;
        assert!(
            swapi.result["apis"][0]["operations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["verb"] == "query"
                    && o["target"].as_str().unwrap().starts_with("allFilms(")),
            "{}",
            text(&swapi)
        );
        // A component: the APIs it provides.
        let component = w.say("ada", "api component:petstore").await;
        let provided: Vec<&str> = component.result["apis"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["ref"].as_str().unwrap())
            .collect();
        assert!(
            provided.contains(&"api:default/petstore"),
            "{}",
            text(&component)
        );
        // An absolute `$text` URL: a link.
        let spotify = w.say("ada", "api spotify").await;
        assert_eq!(spotify.result["apis"][0]["definition"], "link");
        // Endpoints, and a path nobody serves.
        let found = w.say("ada", "find endpoint /pets").await;
        assert_eq!(found.result["matches"][0]["api"], "api:default/petstore");
        let none = w.say("ada", "find endpoint /nowhere").await;
        assert!(none.result["matches"].as_array().unwrap().is_empty());
        // Docs, grouped, each with where it is written.
        let docs = w.say("ada", "docs checkout").await;
        assert_eq!(docs.result["runbooks"][0]["field"], "metadata.links");
        assert_eq!(
            docs.result["source"][0]["url"],
            "https://github.com/acme/checkout"
        );
        assert!(text(&docs).contains("Dashboards"), "{}", text(&docs));
        let none = w.say("ada", "runbook payments").await;
        assert!(text(&none).contains("has no runbook"), "{}", text(&none));
    })
    .await;
}

/// A local `$text` reads a file beside the entity's file, and nothing else: not above its
/// directory, not through a symbolic link that points out of it, not an absolute URL (shown
/// as a link). Each refusal is a warning with the reason; the API is still in the catalog.
#[tokio::test]
async fn local_placeholders_never_leave_the_entity_files_directory() {
    let outside = common::catalog_dir(&[("secret.txt", "TOKEN=do-not-show\n")]);
    let api = |name: &str, target: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: {target}\n---\n"
        )
    };
    let catalog = [
        api("beside", "./spec.yaml"),
        api("above", "../secret.txt"),
        api("linked", "./leak.txt"),
        api("remote", "https://example.com/openapi.yaml"),
    ]
    .concat();
    let dir = common::catalog_dir(&[
        ("apis/catalog-info.yaml", &catalog),
        (
            "apis/spec.yaml",
            "openapi: 3.0.0\ninfo:\n  title: Beside\n  version: 1.0.0\npaths:\n  /things:\n    get:\n      summary: List things\n",
        ),
    ]);
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("apis/leak.txt"),
    )
    .unwrap();
    let paths = vec![dir.path().display().to_string()];
    let snap = common::snapshot(&paths);
    let warned = |what: &str| {
        snap.problems
            .iter()
            .any(|p| p.message.contains(what) && p.location.ends_with("catalog-info.yaml"))
    };
    assert!(
        warned("../secret.txt leaves the entity file's directory"),
        "{:?}",
        snap.problems
    );
    assert!(
        warned("leak.txt leaves the entity file's directory (through a symbolic link)"),
        "{:?}",
        snap.problems
    );
    let bot = switchboard::Bot::new(snap, Default::default(), Default::default());
    let beside = common::ask(&bot, "api beside").await;
    assert_eq!(
        beside.result["apis"][0]["definition"],
        "read",
        "{}",
        text(&beside)
    );
    assert_eq!(
        beside.result["apis"][0]["operations"][0]["target"],
        "/things"
    );
    for name in ["above", "linked"] {
        let r = common::ask(&bot, &format!("api {name}")).await;
        assert_eq!(r.result["apis"][0]["definition"], "unread", "{}", text(&r));
        assert!(!text(&r).contains("do-not-show"), "{}", text(&r));
        let info = common::ask(&bot, name).await;
        assert!(!text(&info).contains("do-not-show"), "{}", text(&info));
    }
    let remote = common::ask(&bot, "api remote").await;
    assert_eq!(remote.result["apis"][0]["definition"], "link");
    assert_eq!(
        remote.result["apis"][0]["url"],
        "https://example.com/openapi.yaml"
    );
}
