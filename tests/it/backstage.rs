//! An existing Backstage as a source: a fake Backstage catalog API (the documented
//! by-query page shape, cursor pagination, bearer token) serving Backstage's example entities.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use switchboard::config::Config;
use switchboard::store::Store;
use switchboard::sync;

#[derive(Clone)]
struct Fake {
    entities: Arc<Vec<Value>>,
    requests: Arc<AtomicUsize>,
    /// A page (1-based) answered 500.
    fail_page: Arc<Mutex<Option<usize>>>,
}

async fn by_query(State(f): State<Fake>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let q: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    f.requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer test-token") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": {"name": "AuthenticationError", "message": "Missing credentials"}}),
            ),
        )
            .into_response();
    }
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    let page: usize = q
        .get("cursor")
        .and_then(|c| c.strip_prefix("page-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    if *f.fail_page.lock().unwrap() == Some(page) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "database is restarting").into_response();
    }
    // The documented response shape, filled with this page's entities.
    let mut body: Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixture(
            "payloads/backstage/docs-entities-by-query-response.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let items: Vec<Value> = f
        .entities
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .cloned()
        .collect();
    body["items"] = json!(items);
    body["totalItems"] = json!(f.entities.len());
    body["pageInfo"] = if page * limit < f.entities.len() {
        json!({"nextCursor": format!("page-{}", page + 1)})
    } else {
        json!({})
    };
    axum::Json(body).into_response()
}

/// The example catalog as a Backstage with the plugins for its kinds (AiResource, Environment,
/// MCP server APIs) hands it out after processing: each entity with its uid, etag, namespace,
/// location annotations, the relations it computed and a status.
async fn start() -> (Fake, String) {
    let mut files = common::examples();
    files.push(common::fixture("backstage-examples/all-environments.yaml"));
    files.push(common::fixture("backstage-examples/all-ai-resources.yaml"));
    let out = common::scan(&files);
    let entities: Vec<Value> = out
        .entities
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let mut body = e.body;
            let file = e.provenance.location.split("backstage-examples/").nth(1).unwrap_or("").to_string();
            let meta = &mut body["metadata"];
            meta["annotations"]["backstage.io/managed-by-location"] = json!(format!(
                "url:https://github.com/backstage/backstage/tree/master/packages/catalog-model/examples/{file}"
            ));
            meta["uid"] = json!(format!("5e1c8a3f-0000-4000-8000-{i:012}"));
            meta["etag"] = json!(format!("{i:x}b1e4f0c2"));
            if meta.get("namespace").is_none() {
                meta["namespace"] = json!("default");
            }
            let relations: Vec<Value> = body["spec"]["owner"]
                .as_str()
                .map(|o| {
                    let target = if o.contains(':') { o.to_string() } else { format!("group:default/{o}") };
                    json!({"type": "ownedBy", "targetRef": target})
                })
                .into_iter()
                .collect();
            body["relations"] = json!(relations);
            body["status"] = json!({"items": []});
            body
        })
        .collect();
    let fake = Fake {
        entities: Arc::new(entities),
        requests: Arc::default(),
        fail_page: Arc::default(),
    };
    let app = Router::new()
        .route("/api/catalog/entities/by-query", get(by_query))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, url)
}

fn config(db: &str, backstage: &str, local: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.database.url.0 = db.to_string();
    c.catalog.local.paths = vec![local.display().to_string()];
    c.catalog.backstage.url = backstage.to_string();
    c.catalog.backstage.page_size = 10;
    c
}

/// A fake Backstage, a configuration reading it with `files` as the local catalog, and the store.
async fn setup(db: &str, files: &[(&str, &str)]) -> (Fake, Config, Store, tempfile::TempDir) {
    let (fake, url) = start().await;
    let local = common::catalog_dir(files);
    let cfg = config(db, &url, local.path());
    let store = Store::connect(db, 2).await.unwrap();
    (fake, cfg, store, local)
}

const CHECKOUT: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";

#[tokio::test]
async fn backstages_catalog_is_read_page_by_page_and_answered_with_its_provenance() {
    common::within(async {
        for db in common::databases().await {
            let (fake, cfg, store, _local) = setup(&db.url, &[("checkout.yaml", CHECKOUT)]).await;
            sync::sync_local(&cfg, &store, |_, _| {}).await.unwrap();
            let line = sync::sync_backstage(&cfg, &store, Some("test-token".into()))
                .await
                .unwrap();
            assert!(
                line.contains(&format!("{} entities", fake.entities.len())),
                "{line}"
            );
            assert!(
                fake.requests.load(Ordering::SeqCst) >= 7,
                "65 entities at 10 a page"
            );
            let snap = sync::load_snapshot(&store).await.unwrap();
            let id = snap
                .get("component:default/artist-lookup")
                .expect("from Backstage");
            let origin = &snap.entity(id).origin;
            assert_eq!(&*origin.source, "backstage", "{}", db.name);
            assert!(
                origin
                    .location
                    .ends_with("examples/components/artist-lookup-component.yaml"),
                "{}",
                origin.location
            );
            // Local files and Backstage answer together; relations cross sources.
            let checkout = snap.get("component:default/checkout").unwrap();
            assert_eq!(&*snap.entity(checkout).origin.source, "local");
            assert_eq!(
                snap.owners(checkout).0.len(),
                1,
                "team-a comes from Backstage"
            );
            store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn backstages_processed_output_keeps_its_relations_status_and_custom_kinds_unquarantined() {
    common::within(async {
        for db in common::databases().await {
            let (fake, cfg, store, _local) = setup(&db.url, &[("checkout.yaml", CHECKOUT)]).await;
            assert!(
                fake.entities
                    .iter()
                    .all(|e| e["relations"].is_array() && e["status"].is_object())
            );
            sync::sync_backstage(&cfg, &store, Some("test-token".into()))
                .await
                .unwrap();
            let snap = sync::load_snapshot(&store).await.unwrap();
            let from_backstage: Vec<_> = snap
                .entities()
                .filter(|(_, e)| &*e.origin.source == "backstage")
                .collect();
            assert_eq!(from_backstage.len(), fake.entities.len(), "{}", db.name);
            let quarantined: Vec<String> = from_backstage
                .iter()
                .filter(|(_, e)| e.is_quarantined())
                .map(|(_, e)| format!("{}: {:?}", e.key(), e.reasons))
                .collect();
            assert!(quarantined.is_empty(), "{}: {quarantined:?}", db.name);
            // Kinds and shapes Backstage's default processors do not know, which this one
            // accepted through its plugins; from files they would need `catalog.kinds.extra`
            // (the MCP server APIs, without a `definition`, are quarantined from files).
            let mcp = snap.get("api:default/backstage-mcp-server").expect("kept");
            assert!(!snap.entity(mcp).is_quarantined(), "{}", db.name);
            assert!(snap.get("environment:default/dev").is_some(), "{}", db.name);
            let custom = snap
                .get("airesource:default/frontend-design")
                .expect("kept");
            assert!(!snap.entity(custom).is_quarantined(), "{}", db.name);
            store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_failure_in_the_middle_of_the_pages_deletes_nothing() {
    common::within(async {
        for db in common::databases().await {
            let (fake, cfg, store, _local) = setup(&db.url, &[("checkout.yaml", CHECKOUT)]).await;
            sync::sync_backstage(&cfg, &store, Some("test-token".into()))
                .await
                .unwrap();
            let before = store.count_entities("backstage").await.unwrap();
            assert_eq!(before as usize, fake.entities.len());

            *fake.fail_page.lock().unwrap() = Some(3);
            let err = sync::sync_backstage(&cfg, &store, Some("test-token".into()))
                .await
                .unwrap_err();
            assert!(format!("{err:#}").contains("500"), "{err:#}");
            assert_eq!(
                store.count_entities("backstage").await.unwrap(),
                before,
                "{}",
                db.name
            );

            // A wrong token is an error too, and also deletes nothing.
            *fake.fail_page.lock().unwrap() = None;
            let err = sync::sync_backstage(&cfg, &store, Some("wrong".into()))
                .await
                .unwrap_err();
            assert!(format!("{err:#}").contains("401"), "{err:#}");
            assert_eq!(store.count_entities("backstage").await.unwrap(), before);
            store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn the_local_definition_wins_over_backstages_whatever_synced_last() {
    common::within(async {
        for db in common::databases().await {
        // The same artist-lookup locally, with another owner.
        let (_fake, cfg, store, _local) = setup(
            &db.url,
            &[(
                "artist.yaml",
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: artist-lookup\nspec:\n  type: service\n  lifecycle: production\n  owner: team-b\n",
            )],
        )
        .await;
        sync::sync_local(&cfg, &store, |_, _| {}).await.unwrap();
        sync::sync_backstage(&cfg, &store, Some("test-token".into())).await.unwrap();
        for _ in 0..2 {
            let snap = sync::load_snapshot(&store).await.unwrap();
            let id = snap.get("component:default/artist-lookup").unwrap();
            assert_eq!(&*snap.entity(id).origin.source, "local");
            assert_eq!(snap.entity(snap.owners(id).0[0]).name.as_ref(), "team-b");
            let c = snap.conflicts_for("component:default/artist-lookup").next().expect("reported");
            assert_eq!(c.ignored.source, "backstage");
            // Syncing the local files again does not hand the entity to Backstage.
            sync::sync_local(&cfg, &store, |_, _| {}).await.unwrap();
        }
        // A sync of every source assembles one snapshot with the same outcome.
        let all = sync::sync_all(&cfg, &store, &sync::Sources::default(), |_, _, _| {}).await.unwrap();
        let id = all.snapshot.get("component:default/artist-lookup").unwrap();
        assert_eq!(&*all.snapshot.entity(id).origin.source, "local");
        assert!(all.snapshot.get("group:default/team-b").is_some(), "Backstage's rows are in");
        assert_eq!(
            all.snapshot.conflicts_for("component:default/artist-lookup").next().unwrap().ignored.source,
            "backstage"
        );
        store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn sync_status_says_which_source_failed_and_what_it_still_answers_from() {
    common::within(async {
        for db in common::databases().await {
            let (fake, cfg, store, _local) = setup(&db.url, &[("checkout.yaml", CHECKOUT)]).await;
            sync::sync_backstage(&cfg, &store, Some("test-token".into()))
                .await
                .unwrap();
            // Backstage now fails (a 500 on page 2, or a 401: this process has no BACKSTAGE_TOKEN);
            // the local files still sync.
            *fake.fail_page.lock().unwrap() = Some(2);
            let all = sync::sync_all(&cfg, &store, &sync::Sources::default(), |_, _, _| {})
                .await
                .unwrap();
            assert_eq!(all.failures.len(), 1);
            assert_eq!(all.failures[0].0, "backstage");
            assert!(
                all.snapshot
                    .get("component:default/artist-lookup")
                    .is_some(),
                "last delivery kept"
            );
            assert!(all.snapshot.get("component:default/checkout").is_some());

            let bot = switchboard::Bot::new(all.snapshot, Default::default(), Default::default());
            bot.set_sources(
                sync::source_statuses(&cfg, &store, &all.failures)
                    .await
                    .unwrap(),
            );
            let reply = common::ask(&bot, "sync status").await;
            assert_eq!(reply.intent, switchboard::Intent::SyncStatus);
            assert_eq!(reply.view.headline, "1 of 2 sources need attention");
            let sources = reply.result["sources"].as_array().unwrap();
            assert_eq!(sources[0]["source"], "local");
            assert!(sources[0]["last_error"].is_null());
            assert_eq!(sources[1]["source"], "backstage");
            assert_eq!(sources[1]["entities"], json!(fake.entities.len()));
            let message = sources[1]["last_error"]["message"].as_str().unwrap();
            assert!(message.contains("Backstage answered"), "{message}");
            let text = switchboard::chat::render::text(&reply);
            assert!(text.contains("backstage: last complete sync"), "{text}");
            assert!(text.contains("last attempt failed"), "{text}");
            store.close().await;
        }
    })
    .await;
}
