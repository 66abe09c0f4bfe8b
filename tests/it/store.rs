//! The store on real databases: a SQLite file always, PostgreSQL when
//! SWITCHBOARD_TEST_POSTGRES_URL is set. Every test runs against each.

use crate::common;

use common::{catalog_dir, databases, examples, within};
use switchboard::catalog::Snapshot;
use switchboard::chat::render;
use switchboard::config::Config;
use switchboard::sources::rotations::Rotations;
use switchboard::store::Store;
use switchboard::{Bot, sync};

fn config(url: &str, paths: Vec<String>) -> Config {
    let mut c = Config::default();
    c.database.url.0 = url.to_string();
    c.catalog.local.paths = paths;
    c
}

fn ask(snap: Snapshot, q: &str) -> String {
    let bot = Bot::new(snap, Rotations::default(), Default::default());
    render::json(&futures_executor::block_on(common::ask(&bot, q)))
        .lines()
        .filter(|l| !l.contains("fetched_at"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn keys(s: &Snapshot) -> Vec<(String, usize, bool)> {
    let mut v: Vec<_> = s
        .entities()
        .map(|(_, e)| (e.key(), e.relations.len(), e.is_quarantined()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_restart_rebuilds_the_same_catalog_from_the_store() {
    within(async {
        for db in databases().await {
            let mut paths = examples();
            paths.push(common::fixture("backstage-examples/components"));
            let cfg = config(&db.url, paths);
            let store = Store::connect(&cfg.database.url.0, 2).await.unwrap();
            let (synced, report) = sync::sync_local(&cfg, &store, |_, _| {}).await.unwrap();
            assert!(report.entities > 60, "{}: {}", db.name, report.summary());
            // The invalid component, and the two MCP server APIs Backstage 1.55 rejects.
            assert_eq!(report.quarantined, 3, "{}", db.name);
            store.close().await;

            // Start again on the same database: migrations see it holds data, nothing is re-read.
            let store = Store::connect(&cfg.database.url.0, 2).await.unwrap();
            let loaded = sync::load_snapshot(&store).await.unwrap();
            assert_eq!(keys(&loaded), keys(&synced), "{}", db.name);
            assert_eq!(
                loaded.conflicts.len(),
                synced.conflicts.len(),
                "{}",
                db.name
            );
            assert_eq!(
                ask(loaded, "who owns artist-lookup"),
                ask(synced, "who owns artist-lookup"),
                "{}",
                db.name
            );
            let run = store
                .last_sync("local")
                .await
                .unwrap()
                .expect("sync recorded");
            assert_eq!(run.entities as usize, report.entities);
            store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_second_sync_replaces_rather_than_duplicates() {
    within(async {
        for db in databases().await {
            let dir = catalog_dir(&[
                ("a.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"),
                ("b.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: cart\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"),
            ]);
            let cfg = config(&db.url, vec![dir.path().display().to_string()]);
            let store = Store::connect(&cfg.database.url.0, 2).await.unwrap();
            sync::sync_local(&cfg, &store, |_, _| {}).await.unwrap();
            sync::sync_local(&cfg, &store, |_, _| {}).await.unwrap();
            assert_eq!(store.count_entities("local").await.unwrap(), 2, "{}", db.name);

            // The owner changes in the file; a deleted file's entity goes away.
            std::fs::write(dir.path().join("a.yaml"), "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-b\n").unwrap();
            std::fs::remove_file(dir.path().join("b.yaml")).unwrap();
            let (snap, _) = sync::sync_local(&cfg, &store, |_, _| {}).await.unwrap();
            assert_eq!(store.count_entities("local").await.unwrap(), 1, "{}", db.name);
            let reloaded = sync::load_snapshot(&store).await.unwrap();
            for s in [&snap, &reloaded] {
                let id = s.get("component:default/checkout").unwrap();
                assert_eq!(s.owners(id).1, ["group:default/team-b"], "{}", db.name);
                assert!(s.get("component:default/cart").is_none());
            }
            store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_file_that_breaks_keeps_what_the_last_good_sync_saw() {
    within(async {
        for db in databases().await {
            let good = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: cart\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";
            let dir = catalog_dir(&[("a.yaml", good)]);
            let cfg = config(&db.url, vec![dir.path().display().to_string()]);
            let store = Store::connect(&cfg.database.url.0, 2).await.unwrap();
            sync::sync_local(&cfg, &store, |_, _| {}).await.unwrap();

            // Someone commits a half-edited file: the second document no longer parses.
            let broken = good.replace("  name: cart\n", "  name: [cart\n");
            std::fs::write(dir.path().join("a.yaml"), broken).unwrap();
            let (snap, report) = sync::sync_local(&cfg, &store, |_, _| {}).await.unwrap();
            assert_eq!(report.kept.len(), 1, "{}: {}", db.name, report.summary());
            assert!(snap.get("component:default/cart").is_some(), "{}: cart lost", db.name);
            assert!(snap.get("component:default/checkout").is_some(), "{}", db.name);
            assert_eq!(store.count_entities("local").await.unwrap(), 2, "{}: no duplicates", db.name);
            assert!(snap.problems.iter().any(|p| p.message.starts_with("invalid YAML")), "{}", db.name);
            assert!(snap.problems.iter().any(|p| p.message.contains("last good read")), "{}", db.name);

            // Fixed again: the file is read anew.
            std::fs::write(dir.path().join("a.yaml"), good.replace("name: cart", "name: basket")).unwrap();
            let (snap, report) = sync::sync_local(&cfg, &store, |_, _| {}).await.unwrap();
            assert!(report.kept.is_empty());
            assert!(snap.get("component:default/basket").is_some());
            assert!(snap.get("component:default/cart").is_none());
            store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_new_database_file_and_its_directory_are_created() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deeper/switchboard.db");
        let store = Store::connect(&format!("sqlite://{}", path.display()), 1)
            .await
            .unwrap();
        assert!(path.exists());
        assert_eq!(store.count_entities("local").await.unwrap(), 0);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_bad_database_url_says_what_is_wrong_without_the_password() {
    let err = match Store::connect("mysql://root:hunter2@localhost/x", 1).await {
        Ok(_) => panic!("mysql URLs are not supported"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("sqlite: or postgres:"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn a_chat_event_is_claimed_once() {
    within(async {
        for db in databases().await {
            let store = Store::connect(&db.url, 2).await.unwrap();
            assert!(
                store
                    .claim_event("slack", "Ev123ABC456", 1, None, 0)
                    .await
                    .unwrap(),
                "{}",
                db.name
            );
            assert!(
                !store
                    .claim_event("slack", "Ev123ABC456", 2, None, 0)
                    .await
                    .unwrap(),
                "{}",
                db.name
            );
            // The same id from another platform is another event.
            assert!(
                store
                    .claim_event("discord", "Ev123ABC456", 3, None, 0)
                    .await
                    .unwrap(),
                "{}",
                db.name
            );
            store.close().await;
        }
    })
    .await;
}

/// The wiring `switchboard` runs: the first open syncs an empty store, the next answers from
/// what the store holds, the same answers.
#[tokio::test]
async fn the_app_opens_by_syncing_an_empty_store_then_from_the_store() {
    use switchboard::app::{App, Use};
    within(async {
        for db in databases().await {
            let cfg = config(&db.url, examples());
            let first = App::open(&cfg, Use::Ask).await.unwrap();
            assert!(first.synced, "{}", db.name);
            let answer = async |bot: &Bot| {
                render::json(&common::ask(bot, "who owns artist-lookup").await)
                    .lines()
                    .filter(|l| !l.contains("fetched_at"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let before = answer(&first.bot).await;
            first.store.close().await;
            let again = App::open(&cfg, Use::Ask).await.unwrap();
            assert!(!again.synced, "{}", db.name);
            let after = answer(&again.bot).await;
            assert!(after.contains("team-a"), "{after}");
            assert_eq!(before, after, "{}", db.name);
            again.store.close().await;
        }
    })
    .await;
}

/// An event whose taker died is answered by one process only, however many recover at once,
/// and never while its taker's time runs.
#[tokio::test]
async fn an_unanswered_event_is_taken_by_one_process_only() {
    within(async {
        for db in databases().await {
            let store = Store::connect(&db.url, 4).await.unwrap();
            assert!(
                store
                    .claim_event("slack", "EvA", 100, Some("{}"), 400)
                    .await
                    .unwrap()
            );
            // Still the taker's: nobody may answer it yet.
            assert!(
                store
                    .unanswered_events("slack", 0, 200)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(
                !store
                    .take_unanswered("slack", "EvA", 200, 500)
                    .await
                    .unwrap()
            );
            // Its time ran out: two processes try at once, one wins.
            assert_eq!(
                store
                    .unanswered_events("slack", 0, 400)
                    .await
                    .unwrap()
                    .len(),
                1
            );
            let (a, b) = tokio::join!(
                store.take_unanswered("slack", "EvA", 401, 701),
                store.take_unanswered("slack", "EvA", 401, 701),
            );
            assert!(a.unwrap() ^ b.unwrap(), "{}", db.name);
            // Once answered it is never taken again, and its payload is no longer kept.
            store.mark_answered("slack", "EvA", 402).await.unwrap();
            assert!(
                store
                    .unanswered_events("slack", 0, 10_000)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(
                !store
                    .take_unanswered("slack", "EvA", 10_000, 10_300)
                    .await
                    .unwrap()
            );
            // A week on, its id is forgotten.
            assert_eq!(store.forget_events("slack", 1_000).await.unwrap(), 1);
            store.close().await;
        }
    })
    .await;
}

/// A button too long to carry its action carries a key; the action is honoured for 30 days
/// after the reply was rendered, then refused as expired, and a key never seen is refused too.
#[tokio::test]
async fn a_stored_button_is_honoured_for_thirty_days_then_refused_as_expired() {
    use switchboard::chat::{ChatEvent, Failure, Input};
    use switchboard::clock::Clock;
    within(async {
        for db in databases().await {
            let store = Store::connect(&db.url, 2).await.unwrap();
            let dir = common::catalog_dir(&[("ledgers.yaml", common::LONG_NAMES)]);
            let mut paths = examples();
            paths.push(dir.path().display().to_string());
            let clock = Clock::fixed("2026-12-01T09:00:00Z".parse().unwrap());
            let bot = Bot::new(
                common::snapshot(&paths),
                Rotations::default(),
                Default::default(),
            )
            .with_store(store.clone())
            .with_clock(clock.clone());
            let event = |input: Input| ChatEvent {
                input,
                ..ChatEvent::console(None, "", clock.now())
            };
            let mut asked = bot
                .handle(event(Input::Text(
                    "oncall payments-reconciliation-ledger-service at tomorrow 09:00".into(),
                )))
                .await
                .unwrap();
            // Rendered for a platform whose buttons hold 100 characters (Discord's).
            bot.fit_buttons(&mut asked, 100).await;
            let keyed: Vec<String> = asked.actions.iter().map(|a| a.id.encode()).collect();
            assert!(keyed.len() >= 2, "{}", db.name);
            assert!(
                keyed
                    .iter()
                    .all(|k| k.starts_with("sb1:key:") && k.len() <= 100),
                "{keyed:?}"
            );

            clock.advance(chrono::Duration::days(29));
            let picked = bot
                .handle(event(Input::Action(keyed[0].clone())))
                .await
                .unwrap();
            assert_eq!(picked.intent, switchboard::Intent::Oncall, "{}", db.name);
            assert!(
                picked
                    .entity
                    .as_deref()
                    .unwrap()
                    .contains("payments-reconciliation"),
                "{:?}",
                picked.entity
            );

            clock.advance(chrono::Duration::days(2));
            let expired = bot.handle(event(Input::Action(keyed[1].clone()))).await;
            assert!(
                matches!(&expired, Err(Failure::Refused(m)) if m.contains("expired")),
                "{expired:?}"
            );
            let unknown = bot
                .handle(event(Input::Action("sb1:key:0123456789abcdef0123".into())))
                .await;
            assert!(matches!(unknown, Err(Failure::Refused(_))), "{unknown:?}");
            // Expired ones are forgotten, and only those.
            let before = (clock.now() - switchboard::conversation::STORED_FOR).timestamp();
            assert_eq!(
                store.forget_actions(before).await.unwrap(),
                keyed.len() as u64
            );
            assert_eq!(store.forget_actions(before).await.unwrap(), 0);
            store.close().await;
        }
    })
    .await;
}

/// The scheduled work's lease: one holder at a time, renewed by its holder under the same
/// fence, taken by another only once it has run out (or been given up), with the next fence.
#[tokio::test]
async fn a_lease_has_one_holder_until_it_runs_out() {
    common::within(async {
        for db in common::databases().await {
            let store = Store::connect(&db.url, 2).await.unwrap();
            let hold = |who: &'static str, now: i64| {
                let store = store.clone();
                async move { store.hold_lease("work", who, now, now + 30).await.unwrap() }
            };
            assert_eq!(hold("a", 100).await, Some(1), "{}", db.name);
            assert_eq!(hold("b", 110).await, None, "{}", db.name);
            assert_eq!(hold("a", 120).await, Some(1), "renewed: {}", db.name);
            // a's lease (until 150) has run out at 151: b takes it.
            assert_eq!(hold("b", 151).await, Some(2), "{}", db.name);
            assert_eq!(hold("a", 152).await, None, "{}", db.name);
            // Given up: taken at once.
            store.release_lease("work", "a").await.unwrap();
            assert_eq!(hold("a", 153).await, None, "not a's to give: {}", db.name);
            store.release_lease("work", "b").await.unwrap();
            assert_eq!(hold("a", 154).await, Some(3), "{}", db.name);
            // Another lease is another name.
            assert_eq!(
                store.hold_lease("other", "b", 154, 184).await.unwrap(),
                Some(1)
            );
            store.close().await;
        }
    })
    .await;
}

/// Replicas take turns at the scheduled work: one holds it; when it stops renewing (its
/// process died), another takes it over once the lease has run out.
#[tokio::test(flavor = "multi_thread")]
async fn scheduled_work_moves_to_another_replica_when_its_holder_dies() {
    common::within(async {
        let Some(db) = common::postgres().await else {
            return;
        };
        let store = Store::connect(&db.url, 4).await.unwrap();
        let replica = || {
            std::sync::Arc::new(switchboard::Bot::new(
                Default::default(),
                Default::default(),
                Default::default(),
            ))
        };
        let lease_for = std::time::Duration::from_secs(3);
        let (a, b) = (replica(), replica());
        let mut first = switchboard::background::Turn::hold(a.clone(), store.clone(), lease_for);
        first.wait().await;
        let mut second = switchboard::background::Turn::hold(b.clone(), store.clone(), lease_for);
        // b asks at least twice while a holds it, and is refused.
        for _ in 0..2 {
            second.changed().await;
            assert!(first.mine() && !second.mine());
        }
        // a's process is gone: its turn stops renewing; b takes over after the lease.
        drop(first);
        second.wait().await;
        assert!(second.mine());
        store.close().await;
    })
    .await;
}

/// Two replacements of one repository at once (two pushes applied together on two replicas;
/// one replica applies its pushes one at a time) take turns: both succeed, and the later one's
/// entities are what is kept. Without turns, on PostgreSQL, the second inserts the rows the
/// first is inserting and fails on them; SQLite's write lock always made them take turns.
#[tokio::test(flavor = "multi_thread")]
async fn two_replacements_of_one_repository_at_once_take_turns() {
    use switchboard::catalog::model::{Provenance, RawEntity};
    const LOC: &str = "acme/payments/catalog-info.yaml";
    const SCOPE: &str = "acme/payments/";
    fn entity(owner: &str) -> RawEntity {
        RawEntity {
            key: "component:default/payments".into(),
            body: serde_json::json!({
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Component",
                "metadata": {"name": "payments"},
                "spec": {"type": "service", "lifecycle": "production", "owner": owner}
            }),
            provenance: Provenance {
                source: "github".into(),
                location: LOC.into(),
                line: 1,
                commit: None,
                fetched_at: 1,
                orphaned_at: None,
            },
            reasons: Vec::new(),
            claims: Vec::new(),
            seq: 0,
        }
    }
    within(async {
        for db in databases().await {
            let store = Store::connect(&db.url, 4).await.unwrap();
            let replace = |store: Store, owner: &'static str| async move {
                let mut r = store.begin_replace_in("github", SCOPE, Some(2)).await?;
                r.file(LOC, vec![entity(owner)], Vec::new(), true).await?;
                r.finish().await.map(|_| ())
            };
            // What an earlier scan stored.
            replace(store.clone(), "team-a").await.unwrap();
            // The first push's rows are written, not yet committed, when the second begins.
            let mut first = store
                .begin_replace_in("github", SCOPE, Some(2))
                .await
                .unwrap();
            first
                .file(LOC, vec![entity("team-b")], Vec::new(), true)
                .await
                .unwrap();
            let second = tokio::spawn(replace(store.clone(), "team-c"));
            if db.name == "postgres" {
                // Until the second waits for the first.
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
                loop {
                    let waiting: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    )
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                    if waiting > 0 {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
            first.finish().await.unwrap();
            second
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: the second replacement failed: {e:#}", db.name));
            let snap = sync::load_snapshot(&store).await.unwrap();
            let defined = snap
                .entities()
                .filter(|(_, e)| e.name.as_ref() == "payments")
                .count();
            assert_eq!(defined, 1, "{}", db.name);
            let text = ask(snap, "who owns payments");
            assert!(text.contains("team-c"), "{}: {text}", db.name);
            assert!(!text.contains("team-b"), "{}: {text}", db.name);
            store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_repository_keeps_its_latest_read_and_a_tie_of_the_same_second_is_read_again() {
    within(async {
        for db in databases().await {
            let store = Store::connect(&db.url, 2).await.unwrap();
            let state = |pushed_at: &str, head: &str| switchboard::store::RepoState {
                full_name: "acme/Payments".into(),
                repo_id: 7,
                pushed_at: pushed_at.into(),
                default_branch: "main".into(),
                head_commit: Some(head.into()),
                read_at: 1,
            };
            let kept = || async {
                let r = store.github_repos(None).await.unwrap()["acme/payments"].clone();
                (r.pushed_at, r.head_commit.unwrap())
            };
            let (first, second) = ("2026-12-03T10:00:00Z", "2026-12-03T10:00:05Z");
            for (pushed_at, head, kept_as, why) in [
                (second, "b", (second, "b"), "the first read"),
                (
                    first,
                    "a",
                    (second, "b"),
                    "an older read stored late changes nothing",
                ),
                // Which of two reads of one second is newer is unknown: the row is left for
                // the next scan to read again (its pushed_at no longer matches).
                (second, "c", ("", "c"), "the same second with another head"),
                (second, "b", (second, "b"), "a read again settles it"),
                (
                    second,
                    "b",
                    (second, "b"),
                    "and the same read again changes nothing",
                ),
            ] {
                store
                    .put_github_repo(&state(pushed_at, head))
                    .await
                    .unwrap();
                let want = (kept_as.0.to_string(), kept_as.1.to_string());
                assert_eq!(kept().await, want, "{}: {why}", db.name);
            }
            store.close().await;
        }
    })
    .await;
}
