//! Compliance answers end to end, on SQLite and PostgreSQL: SBOMs beside catalog files (real
//! ones: SPDX from syft, CycloneDX from cyclonedx-npm) read by the sync, kept in the store, and
//! answered by `who uses PACKAGE [VERSIONS]` with owners and on-call, production first.

use crate::common;

use switchboard::app::App;
use switchboard::chat::render;

const ROUTER: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: edge-router
spec:
  type: service
  lifecycle: production
  owner: team-a
"#;

const FRONTEND: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web-frontend
spec:
  type: website
  lifecycle: experimental
  owner: team-z
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-z
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web-frontend-legacy
spec:
  type: website
  lifecycle: production
  owner: team-b
"#;

fn sbom(name: &str) -> String {
    std::fs::read_to_string(common::fixture(&format!("sbom/{name}"))).unwrap()
}

async fn open(db: &common::TestDb, dir: &std::path::Path) -> App {
    common::open_app(&common::config_with(&db.url, &[dir.display().to_string()])).await
}

/// A router (cargo, SPDX) and two web components (npm, CycloneDX), each directory with its
/// SBOM, and a file that is not one.
fn catalog() -> tempfile::TempDir {
    common::catalog_dir(&[
        ("router/catalog-info.yaml", ROUTER),
        (
            "router/sbom.spdx.json",
            &sbom("spdx-2.3-cargo-kong-atc-router-syft.spdx.json"),
        ),
        ("web/catalog-info.yaml", FRONTEND),
        (
            "web/bom.json",
            &sbom("cyclonedx-1.6-npm-demo-bundled-dependencies.cdx.json"),
        ),
        // Not an SBOM: noted, and nothing else is lost.
        ("web/broken.cdx.json", "{\"bomFormat\": \"CycloneDX\", "),
        // A component with no owner (quarantined), and the router defined again.
        (
            "router/more.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: router-admin\nspec:\n  type: service\n  lifecycle: production\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: edge-router\nspec:\n  type: service\n  lifecycle: production\n  owner: team-b\n",
        ),
    ])
}

#[tokio::test]
async fn who_uses_a_package_reads_the_sboms_beside_catalog_files() {
    common::within(async {
        for db in common::databases().await {
            let name = db.name;
            let dir = catalog();
            let app = open(&db, dir.path()).await;
            let bot = app.bot.clone();
            let ask = |q: &str| {
                let (bot, q) = (bot.clone(), q.to_string());
                async move { common::ask(&bot, &q).await }
            };

            // The router directory's SBOM lists regex 1.8.4: both its components use it.
            let r = ask("who uses regex").await;
            let text = render::text(&r);
            assert_eq!(r.intent, switchboard::Intent::Uses, "{name}: {text}");
            assert_eq!(
                r.result["matches"][0]["entity"], "component:default/edge-router",
                "{text}"
            );
            assert_eq!(r.result["matches"][0]["versions"][0], "1.8.4");
            assert_eq!(r.result["matches"][0]["owners"][0], "group:default/team-a");
            assert!(
                !r.result["matches"][0]["oncall"]
                    .as_array()
                    .unwrap()
                    .is_empty(),
                "{text}"
            );
            assert!(text.contains("2 entities use regex"), "{text}");
            assert_eq!(
                r.result["matches"][1]["entity"], "component:default/router-admin",
                "{text}"
            );
            assert!(text.contains("no owner"), "{text}");
            // At the range's boundaries (semver, cargo).
            for (range, hits) in [
                ("< 1.8.4", 0),
                ("<= 1.8.4", 2),
                (">=1.8, <1.9", 2),
                ("!= 1.8.4", 0),
            ] {
                let r = ask(&format!("who uses regex {range}")).await;
                assert_eq!(
                    r.result["matches"].as_array().unwrap().len(),
                    hits,
                    "{range}: {}",
                    render::text(&r)
                );
            }
            let none = ask("who uses regex < 1.0").await;
            assert!(
                render::text(&none)
                    .contains("No entity uses regex < 1.0; the SBOMs list regex at 1.8.4"),
                "{}",
                render::text(&none)
            );

            // Both components beside the npm SBOM use ansi-regex; production first.
            let r = ask("who uses ansi-regex >= 2.0.0").await;
            let entities: Vec<&str> = r.result["matches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["entity"].as_str().unwrap())
                .collect();
            assert_eq!(
                entities,
                [
                    "component:default/web-frontend-legacy",
                    "component:default/web-frontend"
                ],
                "{}",
                render::text(&r)
            );
            assert_eq!(r.result["range"], ">= 2.0.0");

            // Unknown packages and unreadable ranges say so.
            let r = ask("who uses left-pad").await;
            assert!(
                render::text(&r).starts_with("No SBOM lists left-pad"),
                "{}",
                render::text(&r)
            );
            let r = ask("who uses regex << 2").await;
            assert!(
                render::text(&r).contains("the comparators are"),
                "{}",
                render::text(&r)
            );

            // Kept in the store: what `ask` reads on its next start; the broken one noted.
            let mut names = switchboard::compliance::sbom::Names::default();
            let kept = app.store.load_sboms(&mut names).await.unwrap();
            assert_eq!(kept.len(), 2, "{name}");
            assert!(kept.iter().all(|s| s.source == "local"));
            let problems = app.store.load_problems().await.unwrap();
            assert!(
                problems
                    .iter()
                    .any(|p| p.location.ends_with("broken.cdx.json")
                        && p.message.starts_with("SBOM not read")),
                "{problems:?}"
            );

            // An SBOM that turns unreadable keeps what it delivered last, noted; one that is
            // gone takes its packages with it.
            std::fs::write(
                dir.path().join("router/sbom.spdx.json"),
                "{\"spdxVersion\": ",
            )
            .unwrap();
            std::fs::remove_file(dir.path().join("web/bom.json")).unwrap();
            let config = common::config_with(&db.url, &[dir.path().display().to_string()]);
            switchboard::sync::sync_local(&config, &app.store, |_, _| {})
                .await
                .unwrap();
            let kept = app.store.load_sboms(&mut names).await.unwrap();
            let locations: Vec<&str> = kept.iter().map(|s| s.location.as_str()).collect();
            assert_eq!(locations.len(), 1, "{name}: {locations:?}");
            assert!(
                locations[0].ends_with("router/sbom.spdx.json"),
                "{locations:?}"
            );
            assert_eq!(kept[0].sbom.packages.len(), {
                let mut n = switchboard::compliance::sbom::Names::default();
                switchboard::compliance::sbom::parse(
                    sbom("spdx-2.3-cargo-kong-atc-router-syft.spdx.json").as_bytes(),
                    &mut n,
                )
                .unwrap()
                .packages
                .len()
            });
            let problems = app.store.load_problems().await.unwrap();
            assert!(
                problems
                    .iter()
                    .any(|p| p.location.ends_with("router/sbom.spdx.json")
                        && p.message.starts_with("SBOM not read")),
                "{problems:?}"
            );
            app.store.close().await;
        }
    })
    .await;
}

/// `find`'s gap filters, alone and combined, and `teams without oncall`.
#[tokio::test]
async fn find_filters_the_catalogs_gaps() {
    common::within(async {
        for db in common::databases().await {
            let dir = catalog();
            let app = open(&db, dir.path()).await;
            let found = |q: &'static str| {
                let bot = app.bot.clone();
                async move {
                    let r = common::ask(&bot, q).await;
                    let m: Vec<String> = r.result["matches"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{q}: {}", r.result))
                        .iter()
                        .map(|m| m.as_str().unwrap().to_string())
                        .collect();
                    (m, render::text(&r))
                }
            };
            let router = "component:default/edge-router";
            let admin = "component:default/router-admin";
            let legacy = "component:default/web-frontend-legacy";
            let web = "component:default/web-frontend";
            for (q, want) in [
                ("find uses:regex", vec![router, admin]),
                ("find `uses:regex` \"kind:component\"", vec![router, admin]),
                ("find uses:regex@<1.0", vec![]),
                ("find uses:regex@>=1.8,<1.9 quarantined", vec![admin]),
                ("find uses:ansi-regex lifecycle:production", vec![legacy]),
                ("find uses:ansi-regex missing:oncall", vec![web]),
                ("find uses:regex missing:owner", vec![admin]),
                ("find uses:regex missing:runbook has:conflict", vec![router]),
                ("teams without oncall", vec!["group:default/team-z"]),
            ] {
                let (mut got, text) = found(q).await;
                got.sort();
                let mut want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
                want.sort();
                assert_eq!(got, want, "{}: {q}: {text}", db.name);
            }
            let (_, text) = found("find missing:everything").await;
            assert!(text.contains("is not a filter"), "{text}");
            let (_, text) = found("find uses:regex@<<1").await;
            assert!(text.contains("I can't read the versions"), "{text}");
            app.store.close().await;
        }
    })
    .await;
}
