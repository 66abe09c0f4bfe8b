//! Terraform state as a source, on SQLite and PostgreSQL: real state files (format version 4,
//! from Terraform 0.12 to 1.2) become Resource entities owned by their workspace's team and
//! depended on by the components that name the workspace, with only the allow-listed attributes
//! in the catalog, the store and the logs.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common;

use switchboard::chat::render;
use switchboard::config::Config;
use switchboard::sources::terraform;

const PAYMENTS: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-api
  annotations:
    terraform.io/workspace: payments-prod
spec:
  type: service
  lifecycle: production
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: edge-gateway
  annotations:
    terraform.io/workspace: "network, edge"
spec:
  type: service
  lifecycle: production
  owner: team-b
"#;

/// The four real state files, laid out as a platform team keeps them: one in the local
/// backend's workspace directory, the others named by workspace.
const STATES: &[(&str, &str)] = &[
    (
        "terraform.tfstate.d/payments-prod/terraform.tfstate",
        "tfstate-v4-aws-azurerm-lb-listener.tfstate",
    ),
    (
        "states/network.tfstate",
        "tfstate-v4-modules-data-sources-aws.tfstate",
    ),
    (
        "states/edge.tfstate.json",
        "tfstate-v4-nested-modules-count-aws.tfstate.json",
    ),
    (
        "states/sandbox.tfstate",
        "tfstate-v4-sensitive-attributes-test-provider.tfstate",
    ),
];

fn state(name: &str) -> String {
    std::fs::read_to_string(common::fixture(&format!("terraform/{name}"))).unwrap()
}

fn layout() -> tempfile::TempDir {
    let mut files: Vec<(&str, String)> = vec![("catalog/catalog-info.yaml", PAYMENTS.into())];
    files.extend(STATES.iter().map(|(at, from)| (*at, state(from))));
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    common::catalog_dir(&refs)
}

fn config(db_url: &str, dir: &Path) -> Config {
    let mut config = common::config_with(db_url, &[dir.join("catalog").display().to_string()]);
    config.catalog.terraform.paths = vec![
        dir.join("terraform.tfstate.d/*/terraform.tfstate")
            .display()
            .to_string(),
        dir.join("states/*").display().to_string(),
    ];
    config.catalog.terraform.workspaces = BTreeMap::from([
        ("payments-prod".to_string(), "group:team-a".to_string()),
        ("network".to_string(), "team-b".to_string()),
        ("edge".to_string(), "group:default/team-c".to_string()),
    ]);
    config
}

#[tokio::test]
async fn state_files_become_owned_resources_that_components_depend_on() {
    common::within(async {
        for db in common::databases().await {
            let name = db.name;
            let dir = layout();
            let config = config(&db.url, dir.path());
            let app = common::open_app(&config).await;
            let bot = app.bot.clone();

            // The load balancer of the payments workspace: owned by its team, with where it
            // runs and what names it, and where the fact comes from.
            let r = common::ask(&bot, "info payments-prod.aws_lb.test").await;
            let text = render::text(&r);
            assert_eq!(r.result["kind"], "Resource", "{name}: {text}");
            assert_eq!(r.result["type"], "aws_lb");
            assert_eq!(r.result["owners"][0], "group:default/team-a", "{text}");
            let tf = &r.result["terraform"];
            assert_eq!(tf["address"], "aws_lb.test");
            assert_eq!(tf["workspace"], "payments-prod");
            assert_eq!(tf["provider"], "registry.terraform.io/hashicorp/aws");
            assert_eq!(tf["region"], "us-east-1");
            assert_eq!(
                tf["dns_name"],
                "test-lb-tf-2047934243.us-east-1.elb.amazonaws.com"
            );
            assert_eq!(tf["state-serial"], "575");
            assert_eq!(tf["state-lineage"], "9566e18d-6080-4aa8-e9a6-4c38905cf68f");
            assert_eq!(
                r.result["relations"]["dependencyOf"][0], "component:default/payments-api",
                "{text}"
            );
            assert!(
                r.provenance
                    .iter()
                    .any(|p| p.location.ends_with("payments-prod/terraform.tfstate")),
                "{:?}",
                r.provenance
            );
            assert!(text.contains("dns_name: test-lb-tf-2047934243"), "{text}");

            // What breaks if the load balancer goes: the payments API.
            let r = common::ask(&bot, "dependents payments-prod.aws_lb.test").await;
            assert!(
                render::text(&r).contains("payments-api"),
                "{}",
                render::text(&r)
            );
            // And the API depends on every managed resource of its workspace (6; the
            // resource group is a data source, not infrastructure the workspace manages).
            let r = common::ask(&bot, "info payments-api").await;
            let deps = r.result["relations"]["dependsOn"].as_array().unwrap();
            assert_eq!(deps.len(), 6, "{deps:?}");

            // Two workspaces for one component; instances of count, for_each and nested
            // modules each an entity with its address.
            let r = common::ask(&bot, "info edge-gateway").await;
            let deps = r.result["relations"]["dependsOn"].as_array().unwrap();
            assert_eq!(deps.len(), 11 + 16, "{deps:?}");
            let r = common::ask(&bot, "info network.aws_iam_user.users-foo.bar").await;
            assert_eq!(
                r.result["terraform"]["address"],
                "aws_iam_user.users[\"foo.bar\"]",
                "{}",
                render::text(&r)
            );
            assert_eq!(r.result["owners"][0], "group:default/team-b");
            let r = common::ask(&bot, "find kind:resource owner:team-c").await;
            assert_eq!(r.result["total"], 16, "{}", render::text(&r));
            let r = common::ask(&bot, "info edge.ec2_ubuntu_a-1.aws_instance.this-0").await;
            assert_eq!(
                r.result["terraform"]["address"],
                "module.ec2_ubuntu_a[1].aws_instance.this[0]",
                "{}",
                render::text(&r)
            );

            // A workspace nobody owns: its resources are listed apart, with the reason.
            let r = common::ask(&bot, "info sandbox.test_instance.foo").await;
            assert_eq!(r.result["quarantined"], true, "{}", render::text(&r));
            assert!(
                r.result["reasons"]
                    .to_string()
                    .contains("workspace `sandbox` has no team in catalog.terraform.workspaces"),
                "{}",
                r.result["reasons"]
            );
            let store = app.store.clone();
            drop(app);

            // A state file that turns unreadable keeps what it delivered; one that is gone
            // takes its resources with it; the sync says both.
            std::fs::write(
                dir.path().join("states/network.tfstate"),
                "{\"version\": 4, ",
            )
            .unwrap();
            std::fs::remove_file(dir.path().join("states/sandbox.tfstate")).unwrap();
            let line = switchboard::sync::sync_terraform(&config, &store)
                .await
                .unwrap();
            assert!(
                line.contains("1 unreadable state files kept as last read"),
                "{line}"
            );
            let problems = store.load_problems().await.unwrap();
            assert!(
                problems
                    .iter()
                    .any(|p| p.location.ends_with("network.tfstate")
                        && p.message.contains("not JSON (line 1")),
                "{problems:?}"
            );
            let mut keys = Vec::new();
            store
                .for_each_entity(i64::MIN, i64::MAX, "", |e| {
                    if e.provenance.source == "terraform" {
                        keys.push(e.key)
                    }
                })
                .await
                .unwrap();
            assert_eq!(keys.len(), 6 + 11 + 16, "{name}: {keys:?}");
            assert!(keys.iter().all(|k| !k.contains("sandbox")), "{keys:?}");

            // The states directory goes away (an unmounted volume): its glob matches nothing,
            // which is noted, and nothing is deleted.
            std::fs::rename(dir.path().join("states"), dir.path().join("elsewhere")).unwrap();
            let line = switchboard::sync::sync_terraform(&config, &store)
                .await
                .unwrap();
            assert!(line.contains("from 1 state files"), "{line}");
            let problems = store.load_problems().await.unwrap();
            assert!(
                problems
                    .iter()
                    .any(|p| p.message.contains("matches no state file")),
                "{problems:?}"
            );
            let mut kept = 0;
            store
                .for_each_entity(i64::MIN, i64::MAX, "", |e| {
                    kept += usize::from(e.provenance.source == "terraform")
                })
                .await
                .unwrap();
            assert_eq!(kept, 6 + 11 + 16, "{name}");
        }
    })
    .await;
}

/// Every text value a state file holds that the allow-list does not keep (attributes of every
/// instance, outputs' values), at least 8 characters long (no common word), unless it is part of what is kept
/// (an account id inside a kept ARN, a word of a resource's type or address).
fn withheld(states: &[&str]) -> Vec<String> {
    let mut kept = String::new();
    let mut candidates = Vec::new();
    for name in states {
        let v: Value = serde_json::from_str(&state(name)).unwrap();
        for r in v["resources"].as_array().unwrap() {
            let kind = r["type"].as_str().unwrap();
            for part in ["type", "name", "module", "provider"] {
                kept.push_str(r[part].as_str().unwrap_or_default());
                kept.push('\n');
            }
            for i in r["instances"].as_array().unwrap() {
                kept.push_str(&i["index_key"].to_string());
                let allowed = terraform::kept_of(kind, i);
                for (k, value) in &allowed {
                    kept.push_str(value);
                    kept.push('\n');
                    kept.push_str(k);
                }
                let attributes = i["attributes"].as_object().unwrap();
                for (k, a) in attributes {
                    if !allowed.contains_key(k) {
                        leaves(a, &mut candidates);
                    }
                }
            }
        }
        for output in v["outputs"].as_object().unwrap().values() {
            leaves(&output["value"], &mut candidates);
        }
    }
    candidates.sort();
    candidates.dedup();
    candidates
        .into_iter()
        .filter(|c| c.len() >= 8 && !kept.contains(c.as_str()))
        .collect()
}

fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn nothing_outside_the_allow_list_reaches_the_store() {
    common::within(async {
        let all: Vec<&str> = STATES.iter().map(|(_, f)| *f).collect();
        // The allow-list, written out here rather than read from the code it checks.
        let allowed = [
            "id",
            "arn",
            "name",
            "self_link",
            "region",
            "location",
            "zone",
            "availability_zone",
            "tags",
            "dns_name",
            "load_balancer_type",
            "port",
            "protocol",
            "load_balancer_arn",
            "vpc_id",
            "instance_type",
            "cidr_block",
            "retention_in_days",
        ];
        for name in &all {
            let v: Value = serde_json::from_str(&state(name)).unwrap();
            for r in v["resources"].as_array().unwrap() {
                for i in r["instances"].as_array().unwrap() {
                    let kept = terraform::kept_of(r["type"].as_str().unwrap(), i);
                    for k in kept.keys() {
                        assert!(allowed.contains(&k.as_str()), "{name}: {k} kept");
                    }
                }
            }
        }
        let secrets = withheld(&all);
        // The policies, certificates' domains, user ids and outputs of the real files.
        assert!(secrets.len() > 20, "{secrets:?}");
        for db in common::databases().await {
            let dir = layout();
            let config = config(&db.url, dir.path());
            let app = common::open_app(&config).await;
            let mut stored = String::new();
            app.store
                .for_each_entity(i64::MIN, i64::MAX, "", |e| {
                    if e.provenance.source == "terraform" {
                        let mut texts = Vec::new();
                        leaves(&e.body, &mut texts);
                        texts.extend(e.reasons);
                        stored.push_str(&texts.join("\n"));
                    }
                })
                .await
                .unwrap();
            for p in app.store.load_problems().await.unwrap() {
                stored.push_str(&p.message);
            }
            assert!(stored.contains("aws_security_group_rule"), "nothing stored");
            let leaked: Vec<&String> = secrets.iter().filter(|s| stored.contains(*s)).collect();
            assert!(leaked.is_empty(), "{}: {leaked:?}", db.name);
        }
    })
    .await;
}

/// Secrets through a whole sync, in Terraform's own test state edited two ways: `id` marked
/// sensitive on one instance, and the other's type one that makes a secret (a
/// `random_string`'s id is its result).
#[tokio::test]
async fn marked_and_made_secrets_stay_out_of_the_store() {
    common::within(async {
        for db in common::databases().await {
            let mut v: Value = serde_json::from_str(&state(
                "tfstate-v4-sensitive-attributes-test-provider.tfstate",
            ))
            .unwrap();
            v["resources"][0]["instances"][0]["sensitive_attributes"] =
                serde_json::json!([[{"type": "get_attr", "value": "id"}]]);
            v["resources"][1]["type"] = serde_json::json!("random_string");
            let dir = common::catalog_dir(&[("states/vault.tfstate", &v.to_string())]);
            let mut config = Config::default();
            config.database.url.0 = db.url.clone();
            config.catalog.terraform.paths =
                vec![dir.path().join("states/*").display().to_string()];
            config.catalog.terraform.workspaces =
                BTreeMap::from([("vault".to_string(), "group:team-a".to_string())]);
            let store = switchboard::store::Store::connect(&db.url, 2)
                .await
                .unwrap();
            switchboard::sync::sync_terraform(&config, &store)
                .await
                .unwrap();
            let mut stored = Vec::new();
            store
                .for_each_entity(i64::MIN, i64::MAX, "", |e| stored.push(e))
                .await
                .unwrap();
            assert_eq!(stored.len(), 2, "{}", db.name);
            let text = serde_json::to_string(&stored).unwrap();
            for secret in ["placeholder", "placeheld"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            // What is kept of them: where they are and what they are.
            let bar = stored
                .iter()
                .find(|e| e.body["spec"]["type"] == "random_string")
                .unwrap();
            assert_eq!(
                bar.body["metadata"]["annotations"]["terraform.io/address"],
                "random_string.bar"
            );
            store.close().await;
        }
    })
    .await;
}

#[test]
fn attributes_the_state_marks_sensitive_are_withheld() {
    // Terraform's own test state marks `password` sensitive; mark the kept `id` so as well.
    let v: Value = serde_json::from_str(&state(
        "tfstate-v4-sensitive-attributes-test-provider.tfstate",
    ))
    .unwrap();
    let instance = &v["resources"][0]["instances"][0];
    assert_eq!(
        terraform::kept_of("test_instance", instance).get("id"),
        Some(&"placeholder".to_string())
    );
    let mut marked = instance.clone();
    marked["sensitive_attributes"] = serde_json::json!([[{"type": "get_attr", "value": "id"}]]);
    assert_eq!(terraform::kept_of("test_instance", &marked).get("id"), None);
    // A resource that exists to hold a secret keeps nothing but its address.
    assert!(terraform::kept_of("random_password", instance).is_empty());
}

#[test]
fn the_sync_logs_no_withheld_value() {
    let dir = layout();
    let cfg = dir.path().join("switchboard.toml");
    let mut config = String::new();
    config.push_str(&format!(
        "[database]\nurl = \"sqlite://{}\"\n[catalog.local]\npaths = [\"{}\"]\n",
        dir.path().join("sb.db").display(),
        dir.path().join("catalog").display()
    ));
    config.push_str(&format!(
        "[catalog.terraform]\npaths = [\"{}\", \"{}\"]\n[catalog.terraform.workspaces]\npayments-prod = \"group:team-a\"\n",
        dir.path()
            .join("terraform.tfstate.d/*/terraform.tfstate")
            .display(),
        dir.path().join("states/*").display()
    ));
    std::fs::write(&cfg, config).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "trace")
        .args(["--config", cfg.to_str().unwrap(), "sync"]);
    let out = common::run(&mut cmd);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains("synced Terraform: 35 resources"),
        "{printed}"
    );
    let all: Vec<&str> = STATES.iter().map(|(_, f)| *f).collect();
    let leaked: Vec<String> = withheld(&all)
        .into_iter()
        .filter(|s| printed.contains(s.as_str()))
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}
