//! Ingesting real catalogs: Backstage's examples, real-world files (some broken), hostile input.

use crate::common;

use common::{catalog_dir, examples, fixture, scan, snapshot};
use switchboard::catalog::RelKind;
use switchboard::catalog::ingest::Reader;
use switchboard::sources::local;

fn keys(snap: &switchboard::catalog::Snapshot, id: u32, kind: RelKind) -> Vec<String> {
    let mut v: Vec<String> = snap
        .entity(id)
        .related(kind)
        .map(|t| snap.entity(t).key())
        .collect();
    v.sort();
    v
}

#[test]
fn the_example_catalog_loads_through_its_locations() {
    let out = scan(&examples());
    // all.yaml and acme-corp.yaml lead to every file they list, relative to themselves.
    assert!(out.files_read >= 30, "read {} files", out.files_read);
    assert!(out.incomplete.is_empty());
    let snap = switchboard::catalog::Snapshot::build(out.entities, out.problems, 0);
    for key in [
        "component:default/artist-lookup",
        "api:default/wayback-archive",
        "system:default/artist-engagement-portal",
        "domain:default/artists",
        "group:default/team-a",
        "user:default/breanna.davison",
        "user:development/guest",
        "location:default/example-all",
        "resource:default/artists-db",
    ] {
        assert!(snap.get(key).is_some(), "{key} missing");
    }
    // invalid-component.yaml is not reachable from all.yaml.
    assert!(snap.get("component:default/invalid component").is_none());
}

#[test]
fn refs_default_like_backstage() {
    let snap = snapshot(&examples());
    let a = snap.get("component:default/artist-lookup").unwrap();
    // A bare `team-a` owner is group:default/team-a.
    assert_eq!(keys(&snap, a, RelKind::OwnedBy), ["group:default/team-a"]);
    // `user:guest` is user:default/guest.
    let searcher = snap.get("component:default/searcher").unwrap();
    assert_eq!(
        keys(&snap, searcher, RelKind::OwnedBy),
        ["user:default/guest"]
    );
    // A namespaced ref (`group:default/team-a` from namespace development) resolves.
    let dev_guest = snap.get("user:development/guest").unwrap();
    assert_eq!(
        keys(&snap, dev_guest, RelKind::MemberOf),
        ["group:default/team-a"]
    );
}

#[test]
fn relations_are_stored_in_both_directions() {
    let snap = snapshot(&examples());
    let team_a = snap.get("group:default/team-a").unwrap();
    assert!(
        keys(&snap, team_a, RelKind::OwnerOf)
            .contains(&"component:default/artist-lookup".to_string())
    );
    let members = keys(&snap, team_a, RelKind::HasMember);
    assert!(members.contains(&"user:default/breanna.davison".into()));
    assert!(members.contains(&"user:development/guest".into()));
    // Group trees come from spec.parent and spec.children alike.
    let acme = snap.get("group:default/acme-corp").unwrap();
    assert_eq!(
        keys(&snap, acme, RelKind::ParentOf),
        ["group:default/infrastructure"]
    );
    let infra = snap.get("group:default/infrastructure").unwrap();
    assert_eq!(
        keys(&snap, infra, RelKind::ChildOf),
        ["group:default/acme-corp"]
    );
    assert_eq!(
        keys(&snap, team_a, RelKind::ChildOf),
        ["group:default/backstage"]
    );
    // APIs: provided and consumed, seen from both ends.
    let api = snap.get("api:default/wayback-archive").unwrap();
    assert_eq!(
        keys(&snap, api, RelKind::ApiProvidedBy),
        ["component:default/wayback-archive"]
    );
    assert_eq!(
        keys(&snap, api, RelKind::ApiConsumedBy),
        ["component:default/wayback-search"]
    );
    // Systems have parts.
    let portal = snap.get("system:default/artist-engagement-portal").unwrap();
    assert!(
        keys(&snap, portal, RelKind::HasPart).contains(&"component:default/artist-lookup".into())
    );
}

#[test]
fn dependency_of_is_the_inverse_form_of_depends_on() {
    let dir = catalog_dir(&[(
        "c.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: db-client\nspec:\n  type: library\n  lifecycle: production\n  owner: team-a\n  dependencyOf: [checkout]\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
    )]);
    let snap = snapshot(&[dir.path().display().to_string()]);
    let checkout = snap.get("component:default/checkout").unwrap();
    assert_eq!(
        keys(&snap, checkout, RelKind::DependsOn),
        ["component:default/db-client"]
    );
}

#[test]
fn loading_the_directory_quarantines_the_invalid_component_but_keeps_it() {
    let snap = snapshot(&[fixture("backstage-examples")]);
    let id = snap
        .get("component:default/invalid component")
        .expect("kept and findable");
    let e = snap.entity(id);
    assert!(e.is_quarantined());
    let reasons = e.reasons.join("\n");
    assert!(reasons.contains("metadata.name"), "{reasons}");
    assert!(reasons.contains("go 1.15.3"), "{reasons}");
    // The reachable-only examples stay healthy.
    let ok = snap.get("component:default/artist-lookup").unwrap();
    assert!(!snap.entity(ok).is_quarantined());
}

#[test]
fn the_same_entity_defined_twice_keeps_the_first_and_reports_both_places() {
    let dir = catalog_dir(&[
        (
            "a.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
        ),
        (
            "b.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: Checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-b\n",
        ),
    ]);
    let snap = snapshot(&[dir.path().display().to_string()]);
    let id = snap.get("component:default/checkout").unwrap();
    assert_eq!(snap.owners(id).1, ["group:default/team-a"]);
    assert_eq!(
        snap.entity(id).origin.location.rsplit('/').next(),
        Some("a.yaml")
    );
    assert_eq!(snap.conflicts.len(), 1);
    let c = &snap.conflicts[0];
    assert!(c.kept.location.ends_with("a.yaml") && c.ignored.location.ends_with("b.yaml"));
    assert_eq!(c.ignored_owner.as_deref(), Some("group:default/team-b"));
}

#[test]
fn every_real_world_file_ingests_or_says_why_not() {
    let dir = fixture("real-world");
    let files = local::expand(std::path::Path::new(&dir)).unwrap();
    assert_eq!(files.len(), 46);
    let out = scan(&[dir]);
    assert_eq!(out.files_read, 46);
    for (file, issues) in &out.issues {
        let entities = out
            .entities
            .iter()
            .filter(|e| &e.provenance.location == file)
            .count();
        assert!(
            entities > 0 || !issues.is_empty(),
            "{file} produced neither an entity nor a reason"
        );
    }
    let quarantined: Vec<&str> = out
        .entities
        .iter()
        .filter(|e| e.is_quarantined())
        .map(|e| e.key.as_str())
        .collect();
    // Names with spaces, over 63 characters, template placeholders, missing owner or spec.
    for expected in [
        "resource:default/custom ms sql docker",
        "component:default/${{ parameters.appname }}",
        "component:default/backstage-monorepo",
    ] {
        assert!(
            quarantined.contains(&expected),
            "{expected} not quarantined: {quarantined:?}"
        );
    }
    assert!(
        quarantined
            .iter()
            .any(|k| k
                .starts_with("resource:default/buildkite-pipeline-elasticsearch-periodic-esql"))
    );
    let unparseable = out
        .problems
        .iter()
        .find(|p| p.location.contains("danisg96"))
        .expect("the broken YAML file is reported");
    assert!(
        unparseable.message.starts_with("invalid YAML"),
        "{}",
        unparseable.message
    );
    assert_eq!(unparseable.line, 45);
    // A file that is not a Backstage file at all is skipped with a reason.
    assert!(
        out.problems
            .iter()
            .any(|p| p.location.contains("LLNL") && p.message.contains("not a catalog entity"))
    );
}

#[test]
fn hostile_files_are_rejected_and_the_rest_still_loads() {
    let good = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: survivor\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let prev = (b'a' + i - 1) as char;
        let cur = (b'a' + i) as char;
        bomb.push_str(&format!("{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    let deep = format!(
        "kind: Component\nmetadata:\n  name: deep\nspec: {}{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let huge = format!(
        "kind: Component\nmetadata:\n  name: huge\n  description: \"{}\"\n",
        "x".repeat(2 * 1024 * 1024)
    );
    let dir = catalog_dir(&[
        ("bomb.yaml", &bomb),
        ("deep.yaml", &deep),
        ("huge.yaml", &huge),
        ("good.yaml", good),
    ]);
    std::fs::write(
        dir.path().join("latin1.yaml"),
        b"kind: Component\nmetadata:\n  name: caf\xe9\n",
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let path = dir.path().display().to_string();
    std::thread::spawn(move || {
        let out = local::scan(&[path], &Reader::default(), 0);
        let _ = tx.send(out);
    });
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("hostile input must not hang the sync");
    let reason = |name: &str| {
        out.problems
            .iter()
            .find(|p| p.location.ends_with(name))
            .map(|p| p.message.clone())
            .unwrap_or_else(|| panic!("{name} not rejected"))
    };
    assert!(
        reason("huge.yaml").contains("over the 1048576-byte limit"),
        "{}",
        reason("huge.yaml")
    );
    assert!(
        reason("latin1.yaml").contains("not UTF-8"),
        "{}",
        reason("latin1.yaml")
    );
    assert!(
        reason("bomb.yaml").starts_with("invalid YAML"),
        "{}",
        reason("bomb.yaml")
    );
    assert!(
        reason("deep.yaml").starts_with("invalid YAML"),
        "{}",
        reason("deep.yaml")
    );
    assert_eq!(out.entities.len(), 1);
    assert_eq!(out.entities[0].key, "component:default/survivor");
}

#[test]
fn location_targets_that_do_not_exist_are_reported() {
    let dir = catalog_dir(&[
        (
            "loc.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: l\nspec:\n  targets: [./missing.yaml, ./sub/*.yaml]\n",
        ),
        (
            "sub/x.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: x\nspec:\n  type: team\n  children: []\n",
        ),
    ]);
    let out = scan(&[dir.path().join("loc.yaml").display().to_string()]);
    assert!(
        out.entities.iter().any(|e| e.key == "group:default/x"),
        "glob target followed"
    );
    assert!(
        out.problems
            .iter()
            .any(|p| p.message.contains("./missing.yaml"))
    );
}

#[test]
fn kinds_switchboard_does_not_interpret_are_kept_and_listed() {
    let snap = snapshot(&[fixture("backstage-examples")]);
    assert_eq!(
        snap.uninterpreted_kinds,
        [
            ("AiResource".to_string(), 4),
            ("Environment".to_string(), 2)
        ]
    );
    // Backstage's default processors recognise neither: kept, quarantined, with the way out.
    let (_, e) = snap
        .entities()
        .find(|(_, e)| e.kind_is("airesource"))
        .expect("kept");
    assert!(e.is_quarantined());
    assert!(
        e.reasons[0].contains("declare it in `catalog.kinds.extra`"),
        "{:?}",
        e.reasons
    );

    // Declared, they are read like any other entity.
    let reader = Reader {
        extra_kinds: vec!["Template".into(), "AiResource".into(), "Environment".into()],
        ..Reader::default()
    };
    let out = local::scan(&[fixture("backstage-examples")], &reader, 0);
    let declared: Vec<_> = out
        .entities
        .iter()
        .filter(|e| e.key.starts_with("airesource:") || e.key.starts_with("environment:"))
        .collect();
    assert_eq!(declared.len(), 6);
    assert!(declared.iter().all(|e| !e.is_quarantined()));
}

/// Backstage's verdicts (`tests/fixtures/backstage-rules/verdicts.json`, written by
/// `scripts/backstage-oracle` from the published packages) on the inputs of its own unit tests
/// and on every real file in the fixtures.
mod backstage_rules {
    use std::sync::LazyLock;

    use serde_json::Value;
    use switchboard::catalog::ingest::{FileOrigin, Reader, ingest_file};
    use switchboard::catalog::validate::{Origin, Rule, functions, validate};

    use super::common::fixture;

    static VERDICTS: LazyLock<Value> = LazyLock::new(|| {
        let path = fixture("backstage-rules/verdicts.json");
        serde_json::from_slice(&std::fs::read(&path).expect("verdicts.json")).expect("JSON")
    });
    static EXTRA: LazyLock<Vec<String>> = LazyLock::new(|| Reader::default().extra_kinds);

    fn file_origin() -> Origin<'static> {
        Origin::File {
            location_type: "file",
            extra_kinds: &EXTRA,
        }
    }

    /// The cases whose `source` (Backstage's test file and test title) contains `from`.
    fn cases(from: &str) -> Vec<&'static Value> {
        let all = VERDICTS["cases"].as_array().expect("cases");
        let picked: Vec<_> = all
            .iter()
            .filter(|c| c["source"].as_str().unwrap().contains(from))
            .collect();
        assert!(!picked.is_empty(), "no case from {from}");
        picked
    }

    /// Replays every case from one of Backstage's test files; each disagreement names the test.
    fn replay(from: &str) {
        let mut wrong = Vec::new();
        for c in cases(from) {
            let source = c["source"].as_str().unwrap();
            if let Some(name) = c["function"].as_str() {
                // isJsonSafe holds for every value written in JSON: nothing to compare.
                if name.ends_with("isJsonSafe") {
                    continue;
                }
                let f = functions::by_name(name).unwrap_or_else(|| panic!("no {name}"));
                let ours = f(&c["input"]);
                if ours != c["valid"].as_bool().unwrap() {
                    wrong.push(format!("{source}: {name}({}) is {ours}", c["input"]));
                }
                continue;
            }
            let issues = validate(&c["entity"], file_origin());
            let ours = issues.is_empty();
            if ours != c["valid"].as_bool().unwrap() {
                wrong.push(format!(
                    "{source}: we say {}, Backstage says {}",
                    if ours {
                        "valid".to_string()
                    } else {
                        format!("{:?}", issues[0].describe())
                    },
                    c["error"].as_str().unwrap_or("valid")
                ));
            }
            let policies = !issues.iter().any(|i| {
                matches!(
                    i.rule,
                    Rule::YamlReader
                        | Rule::EntitySchema
                        | Rule::NoForeignRootFields
                        | Rule::FieldFormat
                )
            });
            if policies != c["policies_valid"].as_bool().unwrap() {
                wrong.push(format!(
                    "{source}: policies: we say {policies}, Backstage says {}",
                    c["policies_error"].as_str().unwrap_or("valid")
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} disagreements:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    #[test]
    fn kubernetes_validator_functions_agree() {
        replay("validation/KubernetesValidatorFunctions.test.ts");
    }

    #[test]
    fn common_validator_functions_agree() {
        replay("validation/CommonValidatorFunctions.test.ts");
    }

    #[test]
    fn the_four_policies_agree() {
        replay("entity/policies/SchemaValidEntityPolicy.test.ts");
        replay("entity/policies/DefaultNamespaceEntityPolicy.test.ts");
        replay("entity/policies/NoForeignRootFieldsEntityPolicy.test.ts");
        replay("entity/policies/FieldFormatEntityPolicy.test.ts");
    }

    #[test]
    fn the_entity_and_envelope_schemas_agree() {
        replay("validation/entitySchemaValidator.test.ts");
        replay("validation/entityEnvelopeSchemaValidator.test.ts");
        replay("validation/entityKindSchemaValidator.test.ts");
    }

    #[test]
    fn every_kind_agrees() {
        for kind in [
            "ApiEntityV1alpha1",
            "ComponentEntityV1alpha1",
            "DomainEntityV1alpha1",
            "GroupEntityV1alpha1",
            "LocationEntityV1alpha1",
            "ResourceEntityV1alpha1",
            "SystemEntityV1alpha1",
            "UserEntityV1alpha1",
        ] {
            replay(&format!("kinds/{kind}.test.ts"));
        }
    }

    #[test]
    fn switchboards_own_cases_agree() {
        replay("switchboard:");
    }

    /// Every document of every real file and example: accepted by us exactly when Backstage
    /// accepts it (a skipped or quarantined document, or an error at its line, is a rejection).
    #[test]
    fn real_files_get_backstages_verdict() {
        let reader = Reader::default();
        let mut wrong = Vec::new();
        let mut documents = 0;
        for f in VERDICTS["files"].as_array().unwrap() {
            let rel = f["path"].as_str().unwrap();
            let bytes = std::fs::read(fixture(rel)).unwrap();
            let origin = FileOrigin {
                source: "local",
                location: rel,
                location_type: "file",
                commit: None,
                fetched_at: 0,
            };
            let report = ingest_file(&bytes, &origin, &reader);
            for d in f["documents"].as_array().unwrap() {
                documents += 1;
                let line = d["line"].as_u64().unwrap() as u32;
                let entity = report.entities.iter().find(|e| e.provenance.line == line);
                let rejected_here = report.issues.iter().any(|i| i.line == line);
                let ours = entity.is_some_and(|e| !e.is_quarantined()) && !rejected_here;
                if ours != d["valid"].as_bool().unwrap() {
                    wrong.push(format!(
                        "{rel}:{line}: we say {}, Backstage says {}",
                        if ours {
                            "valid".into()
                        } else {
                            format!(
                                "{:?}",
                                entity.map(|e| e.reasons.clone()).unwrap_or_default()
                            )
                        },
                        d["error"].as_str().unwrap_or("valid")
                    ));
                }
            }
        }
        assert!(documents > 150, "only {documents} documents");
        assert!(
            wrong.is_empty(),
            "{} disagreements:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
}
