//! GitHub as a source, through the real octocrab client against a stateful fake GitHub: the
//! first scan, frugal rescans, CODEOWNERS claims, rate limits in the middle of a scan, orphaning,
//! and push and repository webhooks, on SQLite and PostgreSQL.

use crate::common;

use std::sync::Arc;

use common::github::FakeGitHub;
use serde_json::{Value, json};
use switchboard::Bot;
use switchboard::catalog::Snapshot;
use switchboard::chat::render;
use switchboard::config::Config;
use switchboard::http::github::Webhooks;
use switchboard::sources::github::{Auth, GitHub};
use switchboard::sources::rotations::Rotations;
use switchboard::store::Store;
use switchboard::sync::{self, Sources};

const TEAMS: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
  annotations:
    github.com/team-slug: acme/payments-core
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-b
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: jdoe
  annotations:
    github.com/user-login: jdoe
spec:
  memberOf: [team-a]
"#;

pub(crate) fn component(name: &str, owner: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
    )
}

const CHECKOUT_LOCATION: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: checkout
spec:
  targets:
    - ./services/*.yaml
"#;

pub(crate) const SECRET: &str = "It's a Secret to Everybody";

/// The fake organisation: teams, payments (CODEOWNERS disagrees), ledger (CODEOWNERS in docs/
/// naming a user), checkout (a Location with a glob), a broken repository, one without a
/// catalog, and an archived one.
pub(crate) fn populate(fake: &FakeGitHub) {
    fake.add_repo("acme", "teams", &[("catalog-info.yaml", TEAMS)]);
    fake.add_repo(
        "acme",
        "payments",
        &[
            (
                "catalog-info.yaml",
                &component("payments-service", "team-a"),
            ),
            (
                ".github/CODEOWNERS",
                "# Payments\n*       @acme/payments-core\n/catalog-info.yaml @acme/team-b\n",
            ),
            ("src/main.rs", "fn main() {}"),
        ],
    );
    fake.add_repo(
        "acme",
        "ledger",
        &[
            ("catalog-info.yaml", &component("ledger", "team-a")),
            (
                "docs/CODEOWNERS",
                "* @acme/payments-core\n/legacy/ not-an-owner\n",
            ),
        ],
    );
    fake.add_repo(
        "acme",
        "checkout",
        &[
            ("catalog-info.yaml", CHECKOUT_LOCATION),
            ("services/cart.yaml", &component("cart", "team-b")),
            ("services/pricing.yaml", &component("pricing", "team-b")),
            ("CODEOWNERS", "* @acme/team-b @jdoe\n"),
        ],
    );
    fake.add_repo(
        "acme",
        "broken",
        &[
            (
                "catalog-info.yaml",
                "kind: Component\nmetadata: [unclosed\n",
            ),
            (
                ".backstage/catalog-info.yaml",
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: \
                 legacy-billing\nspec:\n  type: service\n  lifecycle: production\n",
            ),
        ],
    );
    fake.add_repo("acme", "docs-site", &[("README.md", "# docs")]);
    fake.add_repo(
        "acme",
        "old-monolith",
        &[("catalog-info.yaml", &component("monolith", "team-a"))],
    );
    fake.archive("acme/old-monolith");
}

struct Env {
    fake: FakeGitHub,
    cfg: Config,
    store: Store,
    _local: tempfile::TempDir,
}

async fn setup(db_url: &str) -> Env {
    let fake = FakeGitHub::start().await;
    populate(&fake);
    let local = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.database.url.0 = db_url.to_string();
    cfg.catalog.local.paths = vec![local.path().display().to_string()];
    cfg.catalog.github.orgs = vec!["acme".into()];
    cfg.catalog.github.api_url = fake.url.clone();
    cfg.catalog.github.max_retries = 1;
    cfg.catalog.github.max_wait_secs = 5;
    let store = Store::connect(db_url, 5).await.unwrap();
    Env {
        fake,
        cfg,
        store,
        _local: local,
    }
}

impl Env {
    /// A GitHub client as a newly started process has it (its first scan is due).
    fn github(&self) -> Arc<GitHub> {
        Arc::new(
            GitHub::new(
                &self.cfg.catalog.github,
                Auth::None,
                self.store.clone(),
                self.cfg.catalog.reader(),
            )
            .unwrap(),
        )
    }

    async fn sync(&self) -> sync::SyncAll {
        self.sync_with(self.github()).await
    }

    /// A serving bot's background sync (`background::resync`) by a new GitHub client, running.
    fn resync_in_background(&self, bot: &Arc<Bot>) -> tokio::task::JoinHandle<()> {
        let (bot, store, cfg) = (bot.clone(), self.store.clone(), self.cfg.clone());
        let sources = Sources {
            github: Some(self.github()),
            ..Sources::default()
        };
        tokio::spawn(
            async move { switchboard::background::resync(&bot, &store, &sources, &cfg).await },
        )
    }

    async fn sync_with(&self, github: Arc<GitHub>) -> sync::SyncAll {
        let sources = Sources {
            github: Some(github),
            backstage_token: None,
            ..Sources::default()
        };
        sync::sync_all(&self.cfg, &self.store, &sources, |_, _, _| {})
            .await
            .unwrap()
    }
}

/// A conversation with a bot over `snap`.
fn convo(snap: Snapshot) -> common::Convo {
    common::Convo::with(snap, Rotations::default())
}

fn ask(c: &common::Convo, question: &str) -> String {
    render::text(&c.say(question))
}

#[tokio::test]
async fn a_first_scan_reads_catalog_files_targets_and_codeowners_with_their_commit() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let all = env.sync().await;
            assert!(all.failures.is_empty(), "{}: {:?}", db.name, all.failures);
            let snap = &all.snapshot;
            let id = snap
                .get("component:default/payments-service")
                .expect(db.name);
            let e = snap.entity(id);
            assert_eq!(&*e.origin.source, "github");
            assert_eq!(&*e.origin.location, "acme/payments/catalog-info.yaml");
            assert_eq!(
                e.origin.commit.as_deref(),
                Some(env.fake.head("acme/payments").as_str())
            );
            // The Location's glob inside the repository was followed.
            for name in ["cart", "pricing"] {
                let id = snap.get(&format!("component:default/{name}")).expect(name);
                assert_eq!(
                    &*snap.entity(id).origin.location,
                    format!("acme/checkout/services/{name}.yaml")
                );
            }
            // Archived repositories are skipped; a repository without a catalog is no problem.
            assert!(snap.get("component:default/monolith").is_none());
            // The broken file is reported with its repository, and the scan went on; the
            // repository's other file has an entity without an owner: quarantined, with why.
            assert!(
                snap.problems
                    .iter()
                    .any(|p| p.location == "acme/broken/catalog-info.yaml"),
                "{:?}",
                snap.problems
            );
            let legacy = snap.entity(snap.get("component:default/legacy-billing").unwrap());
            assert!(
                legacy.reasons.iter().any(|r| r.contains("owner")),
                "{:?}",
                legacy.reasons
            );
            // A CODEOWNERS line that cannot be read is reported with its number.
            assert!(
                snap.problems
                    .iter()
                    .any(|p| p.location == "acme/ledger/docs/CODEOWNERS"
                        && p.line == 2
                        && p.message.contains("CODEOWNERS line skipped")),
                "{:?}",
                snap.problems
            );
            assert!(
                all.lines
                    .iter()
                    .any(|l| l.contains("scanned GitHub: 6 repositories"))
            );
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn codeowners_that_disagree_show_in_the_owner_answer_and_those_that_agree_do_not() {
    common::within(async {
        for db in common::databases().await {
        let env = setup(&db.url).await;
        let c = convo(env.sync().await.snapshot);
        let head = env.fake.head("acme/payments");
        let payments = ask(&c, "who owns payments-service");
        assert!(payments.contains("owned by team-a"), "{payments}");
        // The last matching line (3) names @acme/team-b, which maps to the Group by name.
        assert!(
            payments.contains(
                "CODEOWNERS (acme/payments/.github/CODEOWNERS:3) says @acme/team-b (group:default/team-b)"
            ),
            "{payments}"
        );
        assert!(
            payments.contains(&format!(
                "Source: catalog-info.yaml:1 in acme/payments @ {} (GitHub) · synced",
                &head[..7]
            )),
            "{payments}"
        );
        // docs/CODEOWNERS names @acme/payments-core: the Group annotated with that slug, the owner.
        let ledger = ask(&c, "who owns ledger");
        assert!(!ledger.contains("disagree"), "{ledger}");
        // CODEOWNERS at the root names team-b and @jdoe: team-b owns cart, so they agree.
        let cart = ask(&c, "who owns cart");
        assert!(!cart.contains("disagree"), "{cart}");
        // The snapshot found the one disputed entity when it was built.
        let disputed: Vec<String> = c.bot.snapshot().disputed.iter().map(|&id| c.bot.snapshot().entity(id).key()).collect();
        assert_eq!(disputed, ["component:default/payments-service"]);
        // `conflicts` lists the disagreement, for the owner and for the claimed team alike.
        for q in ["conflicts", "conflicts team-a", "conflicts team-b"] {
            let r = c.say(q);
            let refs: Vec<&str> = r.result["conflicts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["ref"].as_str().unwrap())
                .collect();
            assert_eq!(refs, ["component:default/payments-service"], "{q}");
            assert_eq!(
                r.result["conflicts"][0]["claims"][0]["refs"][0],
                "group:default/team-b"
            );
            assert!(render::text(&r).contains("CODEOWNERS (acme/payments/.github/CODEOWNERS:3) says @acme/team-b"));
        }
        // @jdoe is named only beside team-b, which agrees with the owner: nothing involves jdoe.
        let r = c.say("conflicts jdoe");
        assert!(r.result["conflicts"].as_array().unwrap().is_empty(), "{}", r.result);
        env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_scan_costs_a_listing_and_one_query_and_an_unchanged_rescan_only_a_304() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            env.sync().await;
            // One listing page, one GraphQL query for every repository's head commit, catalog files
            // and CODEOWNERS; only checkout's Location costs more: its tree and its two targets.
            let checkout = env.fake.head("acme/checkout");
            let first: Vec<String> = env.fake.calls().into_iter().map(|c| c.path).collect();
            assert_eq!(first.len(), 5, "{first:?}");
            assert_eq!(first[0], "/orgs/acme/repos?per_page=100&page=1");
            assert_eq!(first[1], "/graphql");
            assert_eq!(
                first[2],
                format!("/repos/acme/checkout/git/trees/{checkout}?recursive=1")
            );
            assert!(
                first[3..]
                    .iter()
                    .all(|p| p.starts_with("/repos/acme/checkout/git/blobs/"))
            );
            env.fake.clear_calls();
            // Then, the catalog read, the dependency graph of each repository holding
            // components, once each.
            assert_eq!(env.github().read_missing_sboms().await.unwrap(), (4, 0));
            let mut graphs: Vec<String> = env.fake.calls().into_iter().map(|c| c.path).collect();
            graphs.sort();
            assert_eq!(
                graphs,
                [
                    "/repos/acme/broken/dependency-graph/sbom",
                    "/repos/acme/checkout/dependency-graph/sbom",
                    "/repos/acme/ledger/dependency-graph/sbom",
                    "/repos/acme/payments/dependency-graph/sbom",
                ]
            );
            env.fake.clear_calls();

            let all = env.sync().await;
            let calls = env.fake.calls();
            assert_eq!(calls.len(), 1, "{calls:?}");
            assert_eq!(calls[0].status, 304, "the listing is conditional");
            assert!(
                all.snapshot
                    .get("component:default/payments-service")
                    .is_some()
            );

            // A push to another branch moves pushed_at: the listing and one query find the
            // default branch where it was, and nothing is stored again.
            env.fake.push_elsewhere("acme/payments");
            env.fake.clear_calls();
            env.sync().await;
            let calls: Vec<(String, u16)> = env
                .fake
                .calls()
                .into_iter()
                .map(|c| (c.path, c.status))
                .collect();
            assert_eq!(
                calls,
                [
                    ("/orgs/acme/repos?per_page=100&page=1".to_string(), 200),
                    ("/graphql".to_string(), 200),
                ]
            );
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_429_in_the_middle_of_a_listing_deletes_nothing_and_a_complete_scan_orphans() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            // 120 more repositories: the listing has two pages.
            for i in 0..120 {
                env.fake.add_repo(
                    "acme",
                    &format!("svc-{i:03}"),
                    &[(
                        "catalog-info.yaml",
                        &component(&format!("svc-{i:03}"), "team-b"),
                    )],
                );
            }
            let all = env.sync().await;
            assert!(all.failures.is_empty(), "{:?}", all.failures);
            assert!(all.snapshot.get("component:default/svc-119").is_some());

            // payments is deleted; then page 2 of the listing is refused for rate, once more
            // than the one retry allows.
            env.fake.delete("acme/payments");
            env.fake.fail("page=2", 429, 2, Some(0));
            let all = env.sync().await;
            assert_eq!(all.failures.len(), 1, "{}", db.name);
            assert!(
                all.failures[0].1.contains("rate limited (429)"),
                "{:?}",
                all.failures
            );
            let statuses = sync::source_statuses(&env.cfg, &env.store, &all.failures)
                .await
                .unwrap();
            let c = convo(all.snapshot);
            c.bot.set_sources(statuses);
            let answer = ask(&c, "who owns payments-service");
            assert!(answer.contains("owned by team-a"), "{answer}");
            assert!(
                !answer.contains("orphaned"),
                "an incomplete scan orphans nothing: {answer}"
            );
            let status = ask(&c, "sync status");
            assert!(
                status.contains("github: last complete sync")
                    && status.contains("last attempt failed")
                    && status.contains("rate limited (429)"),
                "{status}"
            );

            // A 429 that asks to wait a second is waited out, and the scan completes: now
            // payments is orphaned, still answered, and labelled.
            env.fake.fail("page=2", 429, 1, Some(1));
            let all = env.sync().await;
            assert!(all.failures.is_empty(), "{:?}", all.failures);
            let c = convo(all.snapshot);
            let answer = ask(&c, "who owns payments-service");
            assert!(answer.contains("owned by team-a"), "{answer}");
            assert!(
                answer.contains("orphaned: github no longer has acme/payments/catalog-info.yaml"),
                "{answer}"
            );
            // Teams 3, payments 1 (orphaned, kept), ledger 1, checkout 3, legacy-billing 1, and
            // the 120 services.
            assert_eq!(env.store.count_entities("github").await.unwrap(), 129);

            // After the grace period it is gone.
            let mut cfg = env.cfg.clone();
            cfg.catalog.github.orphan_grace_secs = 0;
            let github = Arc::new(
                GitHub::new(
                    &cfg.catalog.github,
                    Auth::None,
                    env.store.clone(),
                    cfg.catalog.reader(),
                )
                .unwrap(),
            );
            let all = env.sync_with(github).await;
            assert!(
                all.snapshot
                    .get("component:default/payments-service")
                    .is_none()
            );
            assert_eq!(env.store.count_entities("github").await.unwrap(), 128);
            assert!(all.snapshot.get("component:default/svc-000").is_some());
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn the_scan_stops_before_spending_the_last_of_the_rate_budget() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            env.sync().await;
            let before = env.store.count_entities("github").await.unwrap();
            // GitHub says 50 requests are left, under the reserve of 100, with the reset an hour
            // away: longer than max_wait_secs, so the scan gives up instead of spending them.
            env.fake.set_remaining(50);
            env.fake.push(
                "acme/ledger",
                &[("catalog-info.yaml", Some(&component("ledger", "team-b")))],
            );
            let all = env.sync().await;
            assert_eq!(all.failures.len(), 1);
            assert!(
                all.failures[0].1.contains("rate budget is spent"),
                "{:?}",
                all.failures
            );
            assert_eq!(env.store.count_entities("github").await.unwrap(), before);
            let c = convo(all.snapshot);
            assert!(ask(&c, "who owns ledger").contains("owned by team-a"));

            // Budget back; a secondary rate limit (403 with Retry-After) is waited out.
            env.fake.set_remaining(5000);
            env.fake.fail("/graphql", 403, 1, Some(1));
            let all = env.sync().await;
            assert!(all.failures.is_empty(), "{:?}", all.failures);
            let statuses: Vec<u16> = env
                .fake
                .calls()
                .iter()
                .filter(|c| c.path == "/graphql")
                .map(|c| c.status)
                .collect();
            assert_eq!(
                statuses[statuses.len() - 2..],
                [403, 200],
                "refused, then retried"
            );
            let c = convo(all.snapshot);
            assert!(ask(&c, "who owns ledger").contains("owned by team-b"));
            env.store.close().await;
        }
    })
    .await;
}

pub(crate) fn sign(body: &[u8]) -> String {
    switchboard::http::github::sign(SECRET.as_bytes(), body)
}

/// GitHub's own payload, pointed at one of the fake's repositories.
fn payload(fixture: &str, full: &str) -> Value {
    let mut p: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture(&format!("payloads/github/{fixture}"))).unwrap(),
    )
    .unwrap();
    let (owner, name) = full.split_once('/').unwrap();
    p["repository"]["full_name"] = json!(full);
    p["repository"]["name"] = json!(name);
    p["repository"]["owner"]["login"] = json!(owner);
    p["repository"]["default_branch"] = json!("main");
    p["repository"]["master_branch"] = json!("main");
    p
}

/// A push to `full`'s `branch` whose one commit modified `paths`.
pub(crate) fn push_payload(full: &str, branch: &str, after: &str, paths: &[&str]) -> Value {
    let mut p = payload("webhook-push-default-branch-adds-file.json", full);
    p["ref"] = json!(format!("refs/heads/{branch}"));
    p["after"] = json!(after);
    let commit = |c: &mut Value| {
        c["id"] = json!(after);
        c["added"] = json!([]);
        c["removed"] = json!([]);
        c["modified"] = json!(paths);
    };
    commit(&mut p["commits"][0]);
    commit(&mut p["head_commit"]);
    p
}

/// Pushes a commit that hands payments-service to team-b; returns it and its webhook payload.
fn hand_payments_to_team_b(fake: &FakeGitHub) -> (String, Value) {
    let after = fake.push(
        "acme/payments",
        &[(
            "catalog-info.yaml",
            Some(&component("payments-service", "team-b")),
        )],
    );
    let push = push_payload("acme/payments", "main", &after, &["catalog-info.yaml"]);
    (after, push)
}

struct Hook {
    url: String,
    client: reqwest::Client,
    deliveries: std::sync::atomic::AtomicUsize,
}

impl Hook {
    async fn send(&self, event: &str, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let sig = sign(&bytes);
        self.send_raw(event, bytes, &sig).await
    }

    async fn send_raw(&self, event: &str, body: Vec<u8>, signature: &str) -> (u16, Value) {
        let n = self
            .deliveries
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.send_as(event, body, signature, &format!("delivery-{n}"))
            .await
    }

    async fn send_as(&self, event: &str, body: Vec<u8>, sig: &str, id: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/github/webhook", self.url))
            .header("x-github-event", event)
            .header("x-github-delivery", id)
            .header("x-hub-signature-256", sig)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// Syncs, then serves the bot's HTTP routes with the webhook on loopback.
async fn serve_hooks(env: &Env) -> (Arc<Bot>, Hook) {
    let github = env.github();
    let all = env.sync_with(github.clone()).await;
    // As a serving bot does once the catalog is read.
    github.read_missing_sboms().await.unwrap();
    let bot = Arc::new(Bot::new(
        all.snapshot,
        Rotations::default(),
        Default::default(),
    ));
    bot.set_sources(
        sync::source_statuses(&env.cfg, &env.store, &[])
            .await
            .unwrap(),
    );
    let hooks = Arc::new(Webhooks::new(
        github,
        bot.clone(),
        env.store.clone(),
        SECRET.as_bytes().to_vec(),
    ));
    let router = switchboard::http::router(bot.clone(), Some(hooks.routes()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(switchboard::http::serve(listener, router));
    let hook = Hook {
        url,
        client: reqwest::Client::new(),
        deliveries: Default::default(),
    };
    (bot, hook)
}

/// Asserts that `bot` answers payments-service owned by `owner`, read at `commit`.
async fn owns_at(bot: &Bot, owner: &str, commit: &str, db: &str) {
    let now = answer(bot, "who owns payments-service").await;
    assert!(
        now.contains(&format!("owned by {owner}")) && now.contains(&format!("@ {}", &commit[..7])),
        "{db}: {now}"
    );
}

async fn answer(bot: &Bot, q: &str) -> String {
    render::text(&common::ask(bot, q).await)
}

#[tokio::test]
async fn a_push_webhook_changes_the_owner_in_the_next_answer_with_the_new_commit() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let (bot, hook) = serve_hooks(&env).await;
            assert!(
                answer(&bot, "who owns payments-service")
                    .await
                    .contains("owned by team-a")
            );

            let (after, push) = hand_payments_to_team_b(&env.fake);
            let (status, body) = hook.send("push", &push).await;
            assert_eq!(status, 200, "{body}");
            let now = answer(&bot, "who owns payments-service").await;
            assert!(now.contains("owned by team-b"), "{}: {now}", db.name);
            assert!(now.contains(&format!("@ {}", &after[..7])), "{now}");
            // CODEOWNERS (line 3: @acme/team-b) agrees now.
            assert!(!now.contains("disagree"), "{now}");
            let status = answer(&bot, "sync status").await;
            assert!(
                status.contains("last event") && status.contains("re-read acme/payments"),
                "{status}"
            );
            env.store.close().await;
        }
    })
    .await;
}

/// Renames `acme/ledger` to `ledger-v2` on the fake and sends GitHub's recorded webhook for it.
async fn rename_ledger(env: &Env, hook: &Hook) {
    env.fake.rename("acme/ledger", "ledger-v2");
    let mut p = payload("webhook-repository-renamed.json", "acme/ledger-v2");
    p["changes"]["repository"]["name"]["from"] = json!("ledger");
    let (status, body) = hook.send("repository", &p).await;
    assert_eq!(status, 200, "{body}");
}

/// Archives `full` on the fake and sends its webhook (GitHub documents no example of this
/// event; it is the renamed payload with the archived action).
async fn archive(env: &Env, hook: &Hook, full: &str) {
    env.fake.archive(full);
    let mut p = payload("webhook-repository-renamed.json", full);
    p["action"] = json!("archived");
    p["repository"]["archived"] = json!(true);
    let (status, body) = hook.send("repository", &p).await;
    assert_eq!(status, 200, "{body}");
}

/// Another replica on the same database: a process of its own, as it starts (its catalog from
/// the store), with its own connections.
async fn replica(db_url: &str) -> (Arc<Bot>, Store) {
    let store = Store::connect(db_url, 2).await.unwrap();
    let (_, generation) = store.feed_bounds().await.unwrap();
    let bot = Arc::new(Bot::new(
        sync::load_snapshot(&store).await.unwrap(),
        Rotations::default(),
        Default::default(),
    ));
    bot.set_generation(generation);
    bot.set_sources(vec![switchboard::sync::SourceStatus {
        source: "github".into(),
        last_complete: None,
        last_error: None,
        every_secs: 0,
        last_event: None,
    }]);
    (bot, store)
}

/// Waits until `bot` answers `q` with something containing `want`. On PostgreSQL the replica
/// is woken by the store's notification (its own look at the feed is an hour away); on SQLite,
/// one process serves and the feed is read when asked.
async fn until_answered(bot: &Bot, store: &Store, q: &str, want: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if store.backend == switchboard::store::Backend::Sqlite {
            switchboard::feed::catch_up(bot, store).await.unwrap();
        }
        let got = answer(bot, q).await;
        if got.contains(want) || std::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_change_sent_to_one_replica_reaches_another_on_the_same_database() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let (a, hook) = serve_hooks(&env).await;
            let (c, c_store) = replica(&db.url).await;
            switchboard::feed::spawn(
                c.clone(),
                c_store.clone(),
                std::time::Duration::from_secs(3600),
            );
            assert!(
                answer(&c, "who owns payments-service")
                    .await
                    .contains("owned by team-a")
            );

            // A push to replica A: replica C answers the new owner, with the new commit, and
            // the repository's dependency graph read with it.
            env.fake.set_sbom("acme/payments", "6.1.0");
            let (after, push) = hand_payments_to_team_b(&env.fake);
            let (status, body) = hook.send("push", &push).await;
            assert_eq!(status, 200, "{body}");
            assert!(
                answer(&a, "who owns payments-service")
                    .await
                    .contains("owned by team-b")
            );
            let now =
                until_answered(&c, &c_store, "who owns payments-service", "owned by team-b").await;
            assert!(now.contains("owned by team-b"), "{}: {now}", db.name);
            assert!(now.contains(&format!("@ {}", &after[..7])), "{now}");
            let uses = until_answered(&c, &c_store, "who uses rails", "6.1.0").await;
            assert!(uses.contains("payments-service"), "{}: {uses}", db.name);
            let status = until_answered(&c, &c_store, "sync status", "re-read acme/payments").await;
            assert!(
                status.contains("re-read acme/payments"),
                "{}: {status}",
                db.name
            );

            // A rename touches two repositories' entities: both reach C.
            rename_ledger(&env, &hook).await;
            let info = until_answered(&c, &c_store, "info ledger", "in acme/ledger-v2 @").await;
            assert!(info.contains("in acme/ledger-v2 @"), "{}: {info}", db.name);
            assert!(
                !info.contains("orphaned") && !info.contains("defined again"),
                "{info}"
            );

            // Both replicas read the feed to its end; neither holds a change the other lacks.
            let (_, latest) = env.store.feed_bounds().await.unwrap();
            until_answered(&c, &c_store, "info ledger", "in acme/ledger-v2 @").await;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while c.generation() < latest && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert_eq!(c.generation(), latest, "{}", db.name);
            for q in [
                "who owns payments-service",
                "info ledger",
                "what depends on ledger",
                "who uses rails",
            ] {
                assert_eq!(answer(&a, q).await, answer(&c, q).await, "{}: {q}", db.name);
            }
            env.store.close().await;
        }
    })
    .await;
}

/// Hands payments-service back to team-a in a new commit and sends its push to `hook`;
/// returns the commit.
async fn hand_payments_back_to_team_a(env: &Env, hook: &Hook) -> String {
    let after = env.fake.push(
        "acme/payments",
        &[(
            "catalog-info.yaml",
            Some(&component("payments-service", "team-a")),
        )],
    );
    let push = push_payload("acme/payments", "main", &after, &["catalog-info.yaml"]);
    let (status, body) = hook.send("push", &push).await;
    assert_eq!(status, 200, "{body}");
    after
}

#[tokio::test]
async fn a_push_during_a_sync_is_applied_at_once_and_the_sync_does_not_bring_an_older_read_back() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let (bot, hook) = serve_hooks(&env).await;
            // A push whose webhook was lost: the next scan reads it (team-b).
            let (first, _) = hand_payments_to_team_b(&env.fake);
            // The scan's query of the changed repositories' heads is answered as they are
            // (the first push), then held back.
            let mut held = env.fake.hold("/graphql");
            let resync = env.resync_in_background(&bot);
            held.arrived().await;

            // Meanwhile a later push hands payments-service back to team-a: applied at once
            // (200, not 202 behind the sync), while the sync waits on GitHub.
            let second = hand_payments_back_to_team_a(&env, &hook).await;
            owns_at(&bot, "team-a", &second, db.name).await;
            assert!(!resync.is_finished());

            // The sync stores what it read after the push was applied: not the older commit.
            held.release();
            resync.await.unwrap();
            owns_at(&bot, "team-a", &second, db.name).await;
            let kept = env.store.github_repos(None).await.unwrap();
            assert_eq!(
                kept["acme/payments"].head_commit.as_deref(),
                Some(second.as_str()),
                "{}: the first push ({first}) came back",
                db.name
            );
            let stored = sync::load_snapshot(&env.store).await.unwrap();
            let again = ask(&convo(stored), "who owns payments-service");
            assert!(again.contains("owned by team-a"), "{}: {again}", db.name);
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_push_patched_in_after_a_sync_read_the_store_is_in_the_catalog_it_swaps_in() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let (bot, _hook) = serve_hooks(&env).await;
            // The catalog's turn is held (as by a long patch) while a sync runs: it reads its
            // sources and the store, records its figures, then waits for the turn.
            let turn = bot.rebuilding().await;
            let resync = env.resync_in_background(&bot);
            until_the_sync_has_read(&bot).await;
            // A push stored and patched in now comes after the sync's read of the store.
            let (after, _) = hand_payments_to_team_b(&env.fake);
            env.github().refresh_repo("acme/payments").await.unwrap();
            let scope = switchboard::sources::github::scope("acme/payments");
            bot.patch_scopes(&env.store, "github", &[scope])
                .await
                .unwrap();
            drop(turn);
            resync.await.unwrap();
            owns_at(&bot, "team-b", &after, db.name).await;
            env.store.close().await;
        }
    })
    .await;
}

/// Waits until a background sync has read its sources, the store and the SBOMs (it records
/// its figures then, before it takes the catalog's turn).
async fn until_the_sync_has_read(bot: &Bot) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !bot
        .metrics()
        .encode()
        .contains("sync_duration_seconds{source=\"github\"}")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the sync did not read"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn an_sbom_a_push_read_after_a_sync_read_the_sboms_is_in_those_it_swaps_in() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            env.fake.set_sbom("acme/payments", "6.1.0");
            let (bot, _hook) = serve_hooks(&env).await;
            bot.reload_packages(&env.store).await.unwrap();
            let before = answer(&bot, "who uses rails").await;
            assert!(before.contains("6.1.0"), "{}: {before}", db.name);
            // The turn is held while a sync reads its sources, the store and every SBOM.
            let turn = bot.rebuilding().await;
            let resync = env.resync_in_background(&bot);
            until_the_sync_has_read(&bot).await;
            // A push that changes the lockfile, read and patched in now: after the sync's read
            // of the SBOMs.
            env.fake.set_sbom("acme/payments", "7.1.0");
            env.fake.push(
                "acme/payments",
                &[("Gemfile.lock", Some("rails (7.1.0)\n"))],
            );
            env.github().refresh_repo("acme/payments").await.unwrap();
            let scope = switchboard::compliance::github_scope("acme/payments");
            bot.reread_sboms(&env.store, &[scope]).await.unwrap();
            drop(turn);
            resync.await.unwrap();
            let after = answer(&bot, "who uses rails").await;
            assert!(
                after.contains("7.1.0") && !after.contains("6.1.0"),
                "{}: the sync's older read came back: {after}",
                db.name
            );

            // Every SBOM swapped in meanwhile (as another replica's sync brings), holding one
            // no push's re-read brought: the earlier read is read again rather than trusted.
            let read = bot.reading_catalog();
            let older = bot.read_packages(&env.store).await.unwrap();
            env.fake.set_sbom("acme/payments", "7.2.0");
            env.fake.push(
                "acme/payments",
                &[("Gemfile.lock", Some("rails (7.2.0)\n"))],
            );
            env.github().refresh_repo("acme/payments").await.unwrap();
            bot.reload_packages(&env.store).await.unwrap();
            let turn = bot.rebuilding().await;
            bot.swap_packages(&env.store, &read, older).await.unwrap();
            drop(turn);
            drop(read);
            let last = answer(&bot, "who uses rails").await;
            assert!(last.contains("7.2.0"), "{}: {last}", db.name);
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_event_noted_after_a_sync_read_the_source_statuses_stays_in_sync_status() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let (bot, hook) = serve_hooks(&env).await;
            // A sync reads how each source stands...
            let read = sync::source_statuses(&env.cfg, &env.store, &[])
                .await
                .unwrap();
            // ...then a push is applied beside it, before it swaps its catalog in.
            let (_, push) = hand_payments_to_team_b(&env.fake);
            let (status, body) = hook.send("push", &push).await;
            assert_eq!(status, 200, "{body}");
            bot.refresh(None, Some(read), None);
            let status = answer(&bot, "sync status").await;
            assert!(
                status.contains("re-read acme/payments"),
                "{}: {status}",
                db.name
            );
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_repository_renamed_or_archived_during_a_sync_is_not_brought_back_by_it() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let (bot, hook) = serve_hooks(&env).await;
            // Pushes whose webhooks were lost: the next scan reads both repositories.
            env.fake.push(
                "acme/ledger",
                &[("catalog-info.yaml", Some(&component("ledger", "team-b")))],
            );
            env.fake.push(
                "acme/checkout",
                &[("services/cart.yaml", Some(&component("cart", "team-a")))],
            );
            // The scan reads them (under their names, unarchived), then waits on GitHub...
            let mut held = env.fake.hold("/graphql");
            let resync = env.resync_in_background(&bot);
            held.arrived().await;
            // ...while ledger is renamed and checkout archived.
            rename_ledger(&env, &hook).await;
            archive(&env, &hook, "acme/checkout").await;
            held.release();
            resync.await.unwrap();

            // What the scan read under the old name and before the archive is not kept.
            let info = answer(&bot, "info ledger").await;
            assert!(info.contains("in acme/ledger-v2 @"), "{}: {info}", db.name);
            assert!(
                !info.contains("orphaned") && !info.contains("defined again"),
                "{}: {info}",
                db.name
            );
            let cart = answer(&bot, "info cart").await;
            assert!(cart.contains("orphaned"), "{}: {cart}", db.name);
            let kept = env.store.github_repos(None).await.unwrap();
            assert!(
                !kept.contains_key("acme/ledger") && !kept.contains_key("acme/checkout"),
                "{}: {:?}",
                db.name,
                kept.keys()
            );
            // The next scan sees what is gone and forgets the marks; nothing comes back.
            let all = env.sync().await;
            let c = convo(all.snapshot);
            assert!(ask(&c, "info cart").contains("orphaned"), "{}", db.name);
            assert!(ask(&c, "info ledger").contains("in acme/ledger-v2 @"));
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_slow_read_of_one_pushed_repository_holds_up_no_push_to_another() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let (bot, hook) = serve_hooks(&env).await;
            let hook = Arc::new(hook);
            // A push to ledger whose read of GitHub hangs.
            let ledger = env.fake.push(
                "acme/ledger",
                &[("catalog-info.yaml", Some(&component("ledger", "team-b")))],
            );
            let mut held = env.fake.hold("/graphql");
            let slow = {
                let (hook, push) = (
                    hook.clone(),
                    push_payload("acme/ledger", "main", &ledger, &["catalog-info.yaml"]),
                );
                tokio::spawn(async move { hook.send("push", &push).await })
            };
            held.arrived().await;

            // A push to payments meanwhile is applied at once.
            let (after, push) = hand_payments_to_team_b(&env.fake);
            let (status, body) = hook.send("push", &push).await;
            assert_eq!(status, 200, "{}: {body}", db.name);
            owns_at(&bot, "team-b", &after, db.name).await;
            assert!(!slow.is_finished());

            // Once GitHub answers, ledger's push lands too.
            held.release();
            let (status, body) = slow.await.unwrap();
            assert!(status == 200 || status == 202, "{}: {body}", db.name);
            let at = format!("@ {}", &ledger[..7]);
            let info = until_answered(&bot, &env.store, "who owns ledger", &at).await;
            assert!(
                info.contains("owned by team-b") && info.contains(&format!("@ {}", &ledger[..7])),
                "{}: {info}",
                db.name
            );
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_catalog_read_while_pushes_are_applied_gets_them_before_it_is_swapped_in() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let (bot, hook) = serve_hooks(&env).await;
            assert!(
                answer(&bot, "who owns payments-service")
                    .await
                    .contains("owned by team-a")
            );
            // A rebuild reads the store (team-a owns payments-service)...
            let read = bot.reading_catalog();
            let since = std::time::Instant::now();
            let built = sync::load_snapshot(&env.store).await.unwrap();
            // ...while a push is applied to the live catalog.
            let (after, push) = hand_payments_to_team_b(&env.fake);
            let (status, body) = hook.send("push", &push).await;
            assert_eq!(status, 200, "{body}");

            // What the rebuild swaps in has the push.
            let turn = bot.rebuilding().await;
            let caught = bot
                .caught_up(&env.store, &read, since, built.into())
                .await
                .unwrap();
            bot.swap_snapshot(caught);
            drop(turn);
            owns_at(&bot, "team-b", &after, db.name).await;

            // A whole catalog swapped in meanwhile (as after a registration), holding a change
            // no patch brought: the rebuild is read again rather than trusted.
            let since = std::time::Instant::now();
            let built = sync::load_snapshot(&env.store).await.unwrap();
            let back = env.fake.push(
                "acme/payments",
                &[(
                    "catalog-info.yaml",
                    Some(&component("payments-service", "team-a")),
                )],
            );
            env.github().refresh_repo("acme/payments").await.unwrap();
            drop(bot.reload_catalog(&env.store).await.unwrap());
            let turn = bot.rebuilding().await;
            let caught = bot
                .caught_up(&env.store, &read, since, built.into())
                .await
                .unwrap();
            bot.swap_snapshot(caught);
            drop(turn);
            drop(read);
            owns_at(&bot, "team-a", &back, db.name).await;
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn webhooks_that_are_forged_malformed_repeated_or_beside_the_point_change_nothing() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let (bot, hook) = serve_hooks(&env).await;
            let (after, push) = hand_payments_to_team_b(&env.fake);
            env.fake.clear_calls();
            let bytes = serde_json::to_vec(&push).unwrap();

            // Forged: signed with another secret, or not signed.
            let forged = switchboard::http::github::sign(b"guess", &bytes);
            for sig in [forged.as_str(), ""] {
                let (status, body) = hook.send_raw("push", bytes.clone(), sig).await;
                assert_eq!(status, 401, "{body}");
                assert!(body["error"].as_str().unwrap().contains("nothing was done"));
            }
            // Malformed, but signed.
            let (status, body) = hook
                .send_raw("push", b"{not json".to_vec(), &sign(b"{not json"))
                .await;
            assert_eq!(status, 400, "{body}");
            // Beside the point: another branch, a file that is not the catalog's, another org.
            for p in [
                push_payload("acme/payments", "feature/x", &after, &["catalog-info.yaml"]),
                push_payload("acme/payments", "main", &after, &["src/main.rs"]),
                push_payload("elsewhere/payments", "main", &after, &["catalog-info.yaml"]),
            ] {
                let (status, body) = hook.send("push", &p).await;
                assert_eq!(status, 202, "{body}");
                assert_eq!(body["status"], "ignored", "{body}");
            }
            assert!(
                env.fake.calls().is_empty(),
                "nothing was read: {:?}",
                env.fake.calls()
            );
            assert!(
                answer(&bot, "who owns payments-service")
                    .await
                    .contains("owned by team-a")
            );

            // The same delivery twice is applied once.
            let sig = sign(&bytes);
            let (status, _) = hook.send_as("push", bytes.clone(), &sig, "d-1").await;
            assert_eq!(status, 200);
            let reads = env.fake.calls().len();
            let (status, body) = hook.send_as("push", bytes.clone(), &sig, "d-1").await;
            assert_eq!(
                (status, body["status"].as_str()),
                (200, Some("duplicate delivery"))
            );
            assert_eq!(env.fake.calls().len(), reads);
            // The same push under another delivery id finds the head already read.
            let (status, body) = hook.send("push", &push).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["summary"], "acme/payments unchanged");
            assert!(
                answer(&bot, "who owns payments-service")
                    .await
                    .contains("owned by team-b")
            );
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn renamed_and_deleted_repositories_are_followed() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let (bot, hook) = serve_hooks(&env).await;

            // Renamed: the entities move to the new name, with no orphaned copy left behind.
            rename_ledger(&env, &hook).await;
            let info = answer(&bot, "info ledger").await;
            assert!(info.contains("in acme/ledger-v2 @"), "{}: {info}", db.name);
            assert!(
                !info.contains("orphaned") && !info.contains("defined again"),
                "{info}"
            );

            // Archived: orphaned.
            archive(&env, &hook, "acme/ledger-v2").await;
            let info = answer(&bot, "info ledger").await;
            assert!(info.contains("is orphaned"), "{info}");

            // Deleted: orphaned, still answered, labelled.
            env.fake.delete("acme/payments");
            let p = payload("webhook-repository-deleted-ghes35.json", "acme/payments");
            let (status, body) = hook.send("repository", &p).await;
            assert_eq!(status, 200, "{body}");
            let owner = answer(&bot, "who owns payments-service").await;
            assert!(
                owner.contains("owned by team-a") && owner.contains("orphaned"),
                "{owner}"
            );

            // Transferred out of the watched organisation: orphaned under its old name.
            env.fake.delete("acme/checkout");
            let mut p = payload(
                "webhook-repository-transferred.json",
                "someone-else/checkout",
            );
            p["changes"]["owner"]["from"]["user"]["login"] = json!("acme");
            let (status, body) = hook.send("repository", &p).await;
            assert_eq!(status, 200, "{body}");
            assert!(answer(&bot, "info cart").await.contains("orphaned"));
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_github_app_mints_an_installation_token_and_a_token_is_sent_as_given() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let key = std::fs::read_to_string(common::fixture("github-app-test-key.pem")).unwrap();
            let app = GitHub::new(
                &env.cfg.catalog.github,
                Auth::App {
                    app_id: 1,
                    installation_id: 42,
                    private_key_pem: key,
                },
                env.store.clone(),
                env.cfg.catalog.reader(),
            )
            .unwrap();
            let all = env.sync_with(Arc::new(app)).await;
            assert!(all.failures.is_empty(), "{:?}", all.failures);
            let calls = env.fake.calls();
            // First the app (a signed JWT) asks for the installation's token; then that token reads.
            assert_eq!(calls[0].path, "/app/installations/42/access_tokens");
            let jwt = calls[0]
                .auth
                .as_deref()
                .unwrap()
                .strip_prefix("Bearer ")
                .unwrap();
            assert_eq!(jwt.split('.').count(), 3, "a JWT: {jwt}");
            assert!(
                calls[1..]
                    .iter()
                    .all(|c| c.auth.as_deref() == Some("Bearer ghs_fake_installation_token")),
                "{calls:?}"
            );

            env.fake.clear_calls();
            let token = GitHub::new(
                &env.cfg.catalog.github,
                Auth::Token("ghp_example".into()),
                env.store.clone(),
                env.cfg.catalog.reader(),
            )
            .unwrap();
            env.sync_with(Arc::new(token)).await;
            let calls = env.fake.calls();
            assert!(!calls.is_empty());
            assert!(
                calls
                    .iter()
                    .all(|c| c.auth.as_deref() == Some("Bearer ghp_example")),
                "{calls:?}"
            );
            env.store.close().await;
        }
    })
    .await;
}

/// The binary as an operator runs it: `sync` scans the organisation, `serve` takes webhooks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_scans_github_and_serve_applies_a_signed_push() {
    common::within(async {
        let fake = FakeGitHub::start().await;
        populate(&fake);
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("switchboard.toml");
        std::fs::write(
            &cfg,
            format!(
                "[database]\nurl = \"sqlite://{}\"\n[catalog.local]\npaths = []\n\
                 [catalog.github]\norgs = [\"acme\"]\napi_url = \"{}\"\nmax_retries = 1\n\
                 [http]\nlisten = \"127.0.0.1:0\"\n",
                dir.path().join("sb.db").display(),
                fake.url
            ),
        )
        .unwrap();
        let cfg = cfg.to_str().unwrap().to_string();
        let bin = |args: &[&str], env: &[(&str, &str)]| {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
            c.args(["--config", &cfg]).args(args);
            for k in [
                "GITHUB_TOKEN",
                "GITHUB_WEBHOOK_SECRET",
                "GITHUB_APP_PRIVATE_KEY",
                "RUST_LOG",
            ] {
                c.env_remove(k);
            }
            for (k, v) in env {
                c.env(k, v);
            }
            c
        };
        // Without credentials the error names what to set.
        let out = tokio::task::block_in_place(|| common::run(&mut bin(&["sync"], &[])));
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("GITHUB_TOKEN"));

        let out = tokio::task::block_in_place(|| {
            common::run(&mut bin(&["sync"], &[("GITHUB_TOKEN", "ghp_cli")]))
        });
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("scanned GitHub: 6 repositories"),
            "{stdout}"
        );
        assert!(
            fake.calls()
                .iter()
                .all(|c| c.auth.as_deref() == Some("Bearer ghp_cli"))
        );

        let serve = tokio::task::block_in_place(|| {
            common::Served::start(
                &cfg,
                &[
                    ("GITHUB_TOKEN", "ghp_cli"),
                    ("GITHUB_WEBHOOK_SECRET", SECRET),
                ],
            )
        });
        let hook = Hook {
            url: serve.url(),
            client: reqwest::Client::new(),
            deliveries: Default::default(),
        };
        let (after, push) = hand_payments_to_team_b(&fake);
        let (status, body) = hook.send("push", &push).await;
        let (forged, _) = hook.send_raw("push", b"{}".to_vec(), "sha256=00").await;
        serve.assert_logged_none_of(&["ghp_cli", SECRET]);
        drop(serve);
        assert_eq!(status, 200, "{body}");
        assert_eq!(forged, 401);
        // What serve applied is in the store: a new process answers with the new owner and commit.
        // Asking needs no GitHub credentials once the store is filled.
        let out = tokio::task::block_in_place(|| {
            common::run(&mut bin(&["ask", "who owns payments-service"], &[]))
        });
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("owned by team-b"), "{stdout}");
        assert!(stdout.contains(&after[..7]), "{stdout}");
    })
    .await;
}

#[tokio::test]
async fn a_failed_read_of_changed_repositories_keeps_what_they_had() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            env.sync().await;
            let (after, _) = hand_payments_to_team_b(&env.fake);
            env.fake.delete("acme/ledger");
            // GraphQL refuses for rate (its own 200-with-errors form), then fails twice with
            // 502s, more than the one retry allows: the changed repository keeps its last read,
            // and the deleted one is not orphaned, since the scan did not complete.
            for (status, times) in [(200, 1), (502, 2)] {
                env.fake.fail("/graphql", status, times, None);
                let all = env.sync().await;
                assert_eq!(all.failures.len(), 1, "{}", db.name);
                let why = &all.failures[0].1;
                assert!(
                    why.contains(if status == 200 {
                        "rate limited (RATE_LIMITED)"
                    } else {
                        "server error (502)"
                    }),
                    "{why}"
                );
                let c = convo(all.snapshot);
                let owner = ask(&c, "who owns payments-service");
                assert!(owner.contains("owned by team-a"), "{owner}");
                assert!(!ask(&c, "info ledger").contains("orphaned"));
            }
            // GitHub answers again: the push lands, and the deleted repository is orphaned.
            let all = env.sync().await;
            assert!(all.failures.is_empty(), "{:?}", all.failures);
            let c = convo(all.snapshot);
            let owner = ask(&c, "who owns payments-service");
            assert!(
                owner.contains("owned by team-b") && owner.contains(&after[..7]),
                "{owner}"
            );
            assert!(ask(&c, "info ledger").contains("is orphaned"));
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_repository_github_refuses_to_show_fails_alone() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            env.sync().await;
            hand_payments_to_team_b(&env.fake);
            env.fake.push(
                "acme/ledger",
                &[("catalog-info.yaml", Some(&component("ledger", "team-b")))],
            );
            env.fake.forbid("acme/ledger", true);
            // Both changed repositories are in one GraphQL query; only ledger is refused.
            let all = env.sync().await;
            assert_eq!(all.failures.len(), 1);
            assert!(
                all.failures[0]
                    .1
                    .contains("acme/ledger: GitHub refused (FORBIDDEN)"),
                "{:?}",
                all.failures
            );
            let c = convo(all.snapshot);
            assert!(ask(&c, "who owns payments-service").contains("owned by team-b"));
            assert!(
                ask(&c, "who owns ledger").contains("owned by team-a"),
                "kept its last read"
            );
            env.fake.forbid("acme/ledger", false);
            let all = env.sync().await;
            assert!(all.failures.is_empty(), "{:?}", all.failures);
            let c = convo(all.snapshot);
            assert!(ask(&c, "who owns ledger").contains("owned by team-b"));
            env.store.close().await;
        }
    })
    .await;
}

/// An API whose definition is `$text: TARGET`.
fn api_with_text(name: &str, target: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\n\
         spec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    \
         $text: {target}\n"
    )
}

#[tokio::test]
async fn placeholders_read_files_of_the_same_repository_and_never_an_absolute_url() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let spec = std::fs::read_to_string(common::fixture(
                "backstage-examples/apis/petstore.oas.yaml",
            ))
            .unwrap();
            let evil = format!("{}/evil/openapi.yaml", env.fake.url);
            let catalog = [
                api_with_text("pets", "./specs/../specs/petstore.oas.yaml"),
                api_with_text("remote-pets", &evil),
                api_with_text("lost-pets", "./specs/missing.yaml"),
                api_with_text("escaping-pets", "../../etc/passwd"),
            ]
            .join("---\n");
            env.fake.add_repo(
                "acme",
                "petstore",
                &[
                    ("catalog-info.yaml", &catalog),
                    ("specs/petstore.oas.yaml", &spec),
                ],
            );
            env.fake.clear_calls();
            let all = env.sync().await;
            let c = convo(all.snapshot);

            // Read from the same repository at the same commit, through GraphQL.
            let pets = c.say("how do I call pets");
            let shown = render::text(&pets);
            assert!(
                shown.contains("OpenAPI 3.1.0") && shown.contains("GET /pet/{petId}"),
                "{}: {shown}",
                db.name
            );
            assert_eq!(pets.result["apis"][0]["definition"], "read");
            assert!(pets.result["apis"][0]["operations_total"].as_u64().unwrap() > 3);
            // An absolute URL is a link, and the bot never asked for it.
            let remote = c.say("api remote-pets");
            assert_eq!(remote.result["apis"][0]["definition"], "link");
            assert!(render::text(&remote).contains("never fetched"));
            assert!(
                env.fake
                    .calls()
                    .iter()
                    .all(|call| !call.path.contains("/evil")),
                "{:?}",
                env.fake.calls()
            );
            // Missing, or outside the repository: a warning with the reason; the API is kept.
            let lost = c.say("api lost-pets");
            assert_eq!(lost.result["apis"][0]["definition"], "unread");
            assert!(
                lost.warnings
                    .iter()
                    .any(|w| w.contains("acme/petstore has no file specs/missing.yaml")),
                "{:?}",
                lost.warnings
            );
            let escaping = c.say("api escaping-pets");
            assert!(
                escaping
                    .warnings
                    .iter()
                    .any(|w| w.contains("leaves the repository")),
                "{:?}",
                escaping.warnings
            );
            assert!(!escaping.result["apis"][0].is_null());
            let found = c.say("find endpoint /pet/7");
            assert_eq!(
                found.result["matches"][0]["api"],
                "api:default/pets",
                "{}",
                render::text(&found)
            );
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn deploys_merges_and_runs_arrive_by_webhook_once_and_forged_ones_are_kept_out() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            let (bot, hook) = serve_hooks(&env).await;
            // GitHub's payloads, as if delivered in the last hours (older ones are past the
            // 30 days kept).
            let ago = |h: i64| (chrono::Utc::now() - chrono::Duration::hours(h)).to_rfc3339();
            let mut deploy = payload(
                "webhook-deployment_status-created-success.json",
                "acme/payments",
            );
            deploy["deployment_status"]["created_at"] = json!(ago(2));
            // On the default branch, which `payload` makes `main`.
            let mut run = payload("webhook-workflow_run-completed.json", "acme/payments");
            run["workflow_run"]["updated_at"] = json!(ago(1));
            run["workflow_run"]["head_branch"] = json!("main");
            let mut merge = payload(
                "webhook-pull_request-closed-merged-recorded-2018.json",
                "acme/payments",
            );
            merge["pull_request"]["merged_at"] = json!(ago(3));
            merge["pull_request"]["base"]["ref"] = json!("main");
            let kept = [
                ("deployment_status", deploy),
                ("workflow_run", run),
                ("pull_request", merge),
            ];
            for (event, p) in &kept {
                let (status, body) = hook.send(event, p).await;
                assert_eq!(status, 200, "{event}: {body}");
                assert!(
                    body["summary"].as_str().unwrap().starts_with("kept "),
                    "{body}"
                );
            }
            // Not changes: a deploy in progress, a pull request closed unmerged, a branch's CI
            // run, and anything of a repository that holds nothing of the catalog.
            let mut branch_run = payload("webhook-workflow_run-completed.json", "acme/payments");
            branch_run["workflow_run"]["head_branch"] = json!("feature/try-this");
            let mut elsewhere = kept[0].1.clone();
            elsewhere["repository"]["full_name"] = json!("acme/sandbox");
            elsewhere["repository"]["name"] = json!("sandbox");
            for (event, p) in [
                (
                    "deployment_status",
                    payload(
                        "webhook-deployment_status-created-in_progress-gh-pages.json",
                        "acme/payments",
                    ),
                ),
                (
                    "pull_request",
                    payload(
                        "webhook-pull_request-closed-not-merged.json",
                        "acme/payments",
                    ),
                ),
                ("workflow_run", branch_run),
                ("deployment_status", elsewhere),
            ] {
                let (status, body) = hook.send(event, &p).await;
                assert_eq!(
                    (status, body["status"].as_str()),
                    (202, Some("ignored")),
                    "{body}"
                );
            }
            // The same merge told again (another delivery) is kept once; a forged one not at all.
            let (status, body) = hook.send("pull_request", &kept[2].1).await;
            assert_eq!(status, 200);
            assert!(
                body["summary"].as_str().unwrap().contains("already known"),
                "{body}"
            );
            let mut forged = payload(
                "webhook-pull_request-closed-merged-recorded-2018.json",
                "acme/payments",
            );
            forged["pull_request"]["number"] = json!(999);
            let bytes = serde_json::to_vec(&forged).unwrap();
            let (status, _) = hook
                .send_raw(
                    "pull_request",
                    bytes.clone(),
                    &switchboard::http::github::sign(b"guess", &bytes),
                )
                .await;
            assert_eq!(status, 401);
            let stored = env.store.repo_changes(0).await.unwrap();
            let kinds: Vec<&str> = stored.iter().map(|c| c.kind.as_str()).collect();
            assert_eq!(
                kinds,
                ["merge", "deploy", "workflow"],
                "{}: {stored:?}",
                db.name
            );

            // Answered newest first, with who and when.
            let r = common::ask(&bot, "changes payments-service").await;
            let changes = r.result["changes"].as_array().unwrap();
            let order: Vec<&str> = changes
                .iter()
                .map(|c| c["kind"].as_str().unwrap())
                .collect();
            assert_eq!(
                order,
                ["workflow", "deploy", "merge"],
                "{}",
                render::text(&r)
            );
            assert_eq!(changes[2]["title"], "#110 new attendance analysis");
            assert_eq!(changes[1]["detail"], "production: success");
            assert!(
                render::text(&r).contains("by Codertocat"),
                "{}",
                render::text(&r)
            );
            // A narrower window holds only the newest.
            let recent = common::ask(&bot, "changes payments-service since 90m").await;
            assert_eq!(
                recent.result["changes"].as_array().unwrap().len(),
                1,
                "{}",
                render::text(&recent)
            );
            assert_eq!(recent.result["changes"][0]["kind"], "workflow");
            env.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn the_scan_reads_merged_pull_requests_and_deploys_of_changed_repositories() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            env.sync().await;
            // Times as GitHub gives them, relative to now: changes are kept 30 days.
            let ago = |h: i64| {
                (chrono::Utc::now() - chrono::Duration::hours(h))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            };
            env.fake
                .merge_pull("acme/payments", 41, "Retry card captures", "jdoe", &ago(5));
            env.fake
                .deploy("acme/payments", 7, "production", "success", &ago(4));
            env.fake
                .deploy("acme/payments", 8, "production", "in_progress", &ago(3));
            env.fake.merge_pull(
                "acme/ledger",
                3,
                "Not read: ledger did not move",
                "jdoe",
                &ago(5),
            );
            // Not changes of the service: merged into another branch, or older than kept.
            env.fake.merge_pull_into(
                "acme/payments",
                "release/1.x",
                42,
                "Backport to 1.x",
                "jdoe",
                &ago(2),
            );
            env.fake
                .merge_pull("acme/payments", 12, "Long ago", "jdoe", &ago(24 * 40));
            // Only repositories whose pushed_at moved are read again.
            env.fake.push_elsewhere("acme/payments");
            env.sync().await;
            let stored = env.store.repo_changes(0).await.unwrap();
            let seen: Vec<(&str, &str, &str)> = stored
                .iter()
                .map(|c| (c.repo.as_str(), c.kind.as_str(), c.ref_id.as_str()))
                .collect();
            assert_eq!(
                seen,
                [
                    ("acme/payments", "merge", "41"),
                    ("acme/payments", "deploy", "deployment-7")
                ],
                "{}",
                db.name
            );
            // A second scan of the same repository keeps each once.
            env.fake.push_elsewhere("acme/payments");
            env.sync().await;
            assert_eq!(env.store.repo_changes(0).await.unwrap().len(), 2);
            env.store.close().await;
        }
    })
    .await;
}

/// A repository's dependency graph (`GET dependency-graph/sbom`, SPDX) is read with the
/// repository when it holds catalog entities, and again on a push that changes a manifest:
/// `who uses` answers from it. A repository without entities is never asked.
#[tokio::test]
async fn the_dependency_graph_of_catalog_repositories_answers_who_uses() {
    common::within(async {
        for db in common::databases().await {
            let env = setup(&db.url).await;
            env.fake.set_sbom("acme/payments", "6.1.0");
            env.fake.set_sbom("acme/broken", "7.0.0");
            env.fake
                .add_repo("acme", "sandbox", &[("README.md", "# nothing\n")]);
            env.fake.set_sbom("acme/sandbox", "7.0.0");
            // Ledger names payments' repository in its annotation: that lends it nothing.
            env.fake.push(
                "acme/ledger",
                &[(
                    "catalog-info.yaml",
                    Some(
                        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ledger\n  annotations:\n    github.com/project-slug: acme/payments\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
                    ),
                )],
            );
            let (bot, hook) = serve_hooks(&env).await;
            bot.reload_packages(&env.store).await.unwrap();
            let calls = env.fake.calls();
            let asked: Vec<&str> = calls
                .iter()
                .filter(|c| c.path.ends_with("/dependency-graph/sbom"))
                .map(|c| c.path.as_str())
                .collect();
            assert!(
                asked.contains(&"/repos/acme/payments/dependency-graph/sbom"),
                "{asked:?}"
            );
            assert!(!asked.iter().any(|p| p.contains("sandbox")), "{asked:?}");

            let r = common::ask(&bot, "who uses rails < 7").await;
            assert_eq!(
                r.result["matches"][0]["entity"],
                "component:default/payments-service",
                "{}: {}",
                db.name,
                render::text(&r)
            );
            assert_eq!(r.result["matches"][0]["versions"][0], "6.1.0");
            assert_eq!(
                r.result["matches"].as_array().unwrap().len(),
                1,
                "{}",
                render::text(&r)
            );

            // A push that only changes the lockfile reads the dependency graph again.
            env.fake.set_sbom("acme/payments", "7.1.0");
            let after = env.fake.push(
                "acme/payments",
                &[("Gemfile.lock", Some("rails (7.1.0)\n"))],
            );
            let push = push_payload("acme/payments", "main", &after, &["Gemfile.lock"]);
            let (status, body) = hook.send("push", &push).await;
            assert_eq!(status, 200, "{body}");
            let r = common::ask(&bot, "who uses rails < 7").await;
            assert!(
                r.result["matches"].as_array().unwrap().is_empty(),
                "{}",
                render::text(&r)
            );
            // Payments at 7.1.0 now; the broken repository's component at its 7.0.0.
            let r = common::ask(&bot, "who uses rails >= 7").await;
            let versions: Vec<(&str, &str)> = r.result["matches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["entity"].as_str().unwrap(),
                        m["versions"][0].as_str().unwrap(),
                    )
                })
                .collect();
            assert_eq!(
                versions,
                [
                    ("component:default/legacy-billing", "7.0.0"),
                    ("component:default/payments-service", "7.1.0")
                ],
                "{}",
                render::text(&r)
            );

            // A store kept from before dependency graphs were read: a repository's is read
            // after the next scan; repositories GitHub has none for (the others) are not asked
            // again, and the catch-up after asks nothing. While a fifth of the hour's REST
            // budget or less is left (kept for pushes, scans and workflows), it waits.
            env.store
                .forget_sbom("acme/payments/dependency-graph/sbom")
                .await
                .unwrap();
            let sbom_calls = || -> Vec<String> {
                env.fake
                    .calls()
                    .into_iter()
                    .filter(|c| c.path.ends_with("/dependency-graph/sbom"))
                    .map(|c| c.path)
                    .collect()
            };
            // REST's budget (which graphs draw on) is low; GraphQL's, counted apart and the
            // last a scan of a moved repository hears of, is not.
            env.fake.set_remaining_of(false, 1_000);
            env.fake.set_remaining_of(true, 5_000);
            env.fake.push_elsewhere("acme/ledger");
            let github = env.github();
            env.sync_with(github.clone()).await;
            assert_eq!(
                env.fake.calls().last().map(|c| c.path.as_str()),
                Some("/graphql")
            );
            env.fake.clear_calls();
            assert_eq!(github.read_missing_sboms().await.unwrap(), (0, 1), "{}", db.name);
            assert_eq!(sbom_calls(), Vec::<String>::new(), "{}", db.name);
            env.fake.new_hour(5_000);
            let github = env.github();
            env.sync_with(github.clone()).await;
            assert_eq!(github.read_missing_sboms().await.unwrap(), (1, 0), "{}", db.name);
            assert_eq!(
                sbom_calls(),
                ["/repos/acme/payments/dependency-graph/sbom"],
                "{}",
                db.name
            );
            assert!(
                env.store
                    .sbom_locations("github")
                    .await
                    .unwrap()
                    .contains("acme/payments/dependency-graph/sbom")
            );
            env.fake.clear_calls();
            env.sync().await;
            assert_eq!(env.github().read_missing_sboms().await.unwrap(), (0, 0));
            assert_eq!(sbom_calls(), Vec::<String>::new());
            env.store.close().await;
        }
    })
    .await;
}
