//! Conversations with the bot over the Backstage example catalog and the demo rotations.

use crate::common;

use common::{Convo, catalog_dir, examples, fixture, snapshot};
use serde_json::Value;
use switchboard::Intent;
use switchboard::chat::render;

fn json(r: &switchboard::Reply) -> Value {
    serde_json::from_str(&render::json(r)).unwrap()
}

fn refs(v: &Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} missing in {v}"))
        .iter()
        .map(|x| {
            x["ref"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| x.as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn who_owns_artist_lookup_names_team_a_with_provenance() {
    let c = Convo::over(&examples());
    let r = c.say("who owns artist-lookup?");
    assert_eq!(r.intent, Intent::Owner);
    assert_eq!(r.entity.as_deref(), Some("component:default/artist-lookup"));
    let j = json(&r);
    assert_eq!(j["result"]["owners"][0]["ref"], "group:default/team-a");
    assert_eq!(j["result"]["owners"][0]["in_catalog"], true);
    assert!(
        j["result"]["owners"][0]["source"]
            .as_str()
            .unwrap()
            .contains("artist-lookup-component.yaml")
    );
    assert_eq!(j["provenance"][0]["source"], "local");
    assert!(
        j["provenance"][0]["location"]
            .as_str()
            .unwrap()
            .ends_with("components/artist-lookup-component.yaml")
    );
    let text = render::text(&r);
    assert!(text.contains("team-a@example.com"), "{text}");
    assert!(text.contains("artist-lookup-component.yaml:1"), "{text}");
    // The short command gives the same answer.
    assert_eq!(json(&c.say("owner artist-lookup"))["result"], j["result"]);
}

#[test]
fn an_owner_that_is_not_in_the_catalog_is_a_warning_not_a_failure() {
    let dir = catalog_dir(&[(
        "c.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: payments-team\n",
    )]);
    let c = Convo::over(&[dir.path().display().to_string()]);
    let r = c.say("who owns checkout");
    let j = json(&r);
    assert_eq!(
        j["result"]["owners"][0]["ref"],
        "group:default/payments-team"
    );
    assert_eq!(j["result"]["owners"][0]["in_catalog"], false);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("group:default/payments-team") && w.contains("not in the catalog"))
    );
}

#[test]
fn conflicting_definitions_show_in_the_owner_answer() {
    let dir = catalog_dir(&[
        (
            "a.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
        ),
        (
            "b.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-b\n",
        ),
        // A copy that agrees on the owner is a duplicate, not a disagreement.
        (
            "c.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: group:team-a\n",
        ),
    ]);
    let r = Convo::over(&[dir.path().display().to_string()]).say("who owns checkout");
    let j = json(&r);
    assert_eq!(j["result"]["owners"][0]["ref"], "group:default/team-a");
    assert_eq!(j["result"]["conflicts"][0]["ref"], "group:default/team-b");
    assert!(
        j["result"]["conflicts"][0]["source"]
            .as_str()
            .unwrap()
            .contains("b.yaml")
    );
    assert_eq!(j["result"]["conflicts"].as_array().unwrap().len(), 1);
    // Every answer about the entity says it is defined more than once, and where.
    assert_eq!(
        r.warnings
            .iter()
            .filter(|w| w.contains("is defined again at"))
            .count(),
        2,
        "{:?}",
        r.warnings
    );
}

#[test]
fn typos_and_titles_find_the_entity_and_say_so() {
    let c = Convo::over(&examples());
    let r = c.say("who owns artst lookup");
    assert_eq!(r.entity.as_deref(), Some("component:default/artist-lookup"));
    assert!(r.warnings[0].contains("closest match"), "{:?}", r.warnings);
    let r = c.say("Artist Lookup");
    assert_eq!(r.entity.as_deref(), Some("component:default/artist-lookup"));
}

#[test]
fn plural_and_spaced_names_resolve() {
    let dir = catalog_dir(&[(
        "c.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments-service\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: fraud-service\n  title: Fraud Detection\nspec:\n  type: service\n  lifecycle: production\n  owner: team-b\n",
    )]);
    let c = Convo::over(&[dir.path().display().to_string()]);
    assert_eq!(
        c.say("who owns payment service").entity.as_deref(),
        Some("component:default/payments-service")
    );
    assert_eq!(
        c.say("who owns fraud detection").entity.as_deref(),
        Some("component:default/fraud-service")
    );
}

#[test]
fn ambiguous_names_ask_did_you_mean_and_never_guess() {
    let c = Convo::over(&examples());
    let r = c.say("who owns wayback");
    assert_eq!(r.entity, None);
    assert!(r.suggestions.len() >= 2, "{:?}", r.suggestions);
    assert!(r.suggestions.iter().all(|s| s.contains("wayback")));
    assert!(render::text(&r).contains("Did you mean"));
    let j = json(&r);
    assert_eq!(j["intent"], "owner");
    assert_eq!(j["entity"], Value::Null);
}

#[test]
fn unknown_entities_get_a_clear_message() {
    let c = Convo::over(&examples());
    let r = c.say("who owns quantum-flux-capacitor");
    assert_eq!(r.entity, None);
    assert!(
        r.view
            .headline
            .contains("No entity named “quantum-flux-capacitor”"),
        "{}",
        r.view.headline
    );
    assert!(r.suggestions.is_empty());
    let r = c.say("please make me a sandwich with extra cheese");
    assert_eq!(r.intent, Intent::Unknown);
}

#[test]
fn the_same_name_in_two_kinds_answers_the_component_and_mentions_the_api() {
    let c = Convo::over(&examples());
    let r = c.say("wayback-archive");
    assert_eq!(
        r.entity.as_deref(),
        Some("component:default/wayback-archive")
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("api:default/wayback-archive")),
        "{:?}",
        r.warnings
    );
    let r = c.say("info api:wayback-archive");
    assert_eq!(r.entity.as_deref(), Some("api:default/wayback-archive"));
}

#[test]
fn oncall_follows_entity_to_team_to_rotation_to_person() {
    let c = Convo::over(&examples());
    let r = c.say("who is on call for artist-lookup?");
    let j = json(&r);
    assert_eq!(j["intent"], "oncall");
    // team-a hands off weekly from Mon 5 Jan 2026 09:00 through three people;
    // 18 Nov 2026 is in week 45: 45 % 3 = 0 → breanna.davison, until Mon 23 Nov 09:00.
    assert_eq!(
        j["result"]["oncall"][0]["user"],
        "user:default/breanna.davison"
    );
    assert_eq!(j["result"]["oncall"][0]["rotation"], "team-a-primary");
    assert_eq!(
        j["result"]["oncall"][0]["until"],
        "2026-11-23T09:00:00+00:00"
    );
    assert!(
        j["result"]["oncall"][0]["source"]
            .as_str()
            .unwrap()
            .ends_with("oncall.yaml")
    );
    assert_eq!(
        j["result"]["chain"],
        serde_json::json!([
            "component:default/artist-lookup",
            "group:default/team-a",
            "rotation:team-a-primary",
            "user:default/breanna.davison"
        ])
    );
    assert_eq!(
        json(&c.say("oncall artist-lookup"))["result"]["oncall"],
        j["result"]["oncall"]
    );
}

#[test]
fn oncall_at_another_moment_and_through_an_override() {
    let c = Convo::over(&examples());
    let j = json(&c.say("oncall artist-lookup at 2026-11-24 10:00"));
    assert_eq!(
        j["result"]["oncall"][0]["user"],
        "user:default/janelle.dawe"
    );
    let j = json(&c.say("oncall team-a at 2026-12-25 12:00"));
    assert_eq!(j["result"]["oncall"][0]["user"], "user:default/guest");
    assert_eq!(
        j["result"]["oncall"][0]["until"],
        "2026-12-27T09:00:00+00:00"
    );
    let r = c.say("oncall team-a at the next full moon");
    assert!(
        r.view.headline.contains("can't read the time"),
        "{}",
        r.view.headline
    );
}

#[test]
fn oncall_climbs_the_group_tree_and_says_when_nothing_covers() {
    let c = Convo::over(&examples());
    // wayback-archive-ingestion is owned by team-d, under boxoffice, under infrastructure,
    // and only infrastructure has a rotation.
    let j = json(&c.say("oncall wayback-archive-ingestion"));
    assert_eq!(
        j["result"]["chain"],
        serde_json::json!([
            "component:default/wayback-archive-ingestion",
            "group:default/team-d",
            "group:default/boxoffice",
            "group:default/infrastructure",
            "rotation:infrastructure",
            // Two people, weekly from 5 Jan 2026: week 45 is odd → the second.
            "user:default/lucy.sheehan"
        ])
    );
    // The organisation at the top has no rotation and nothing above it.
    let r = c.say("oncall acme-corp");
    let j = json(&r);
    assert_eq!(j["result"]["oncall"].as_array().unwrap().len(), 0, "{j}");
    assert!(
        r.view
            .headline
            .starts_with("No on-call rotation covers acme-corp"),
        "{}",
        r.view.headline
    );
    assert!(render::text(&r).contains("oncall.yaml"));
}

#[test]
fn dependents_include_consumers_through_the_provided_api() {
    let c = Convo::over(&examples());
    let r = c.say("what breaks if wayback-archive goes down?");
    assert_eq!(r.intent, Intent::Dependents);
    let j = json(&r);
    let deps = &j["result"]["dependents"];
    assert_eq!(deps[0]["ref"], "component:default/wayback-search");
    assert_eq!(deps[0]["depth"], 1);
    assert_eq!(
        deps[0]["path"],
        serde_json::json!([
            "component:default/wayback-archive",
            "api:default/wayback-archive",
            "component:default/wayback-search"
        ])
    );
    assert!(refs(&j["result"], "teams").len() == 1);
}

#[test]
fn dependencies_list_consumed_apis_and_their_providers() {
    let c = Convo::over(&examples());
    let j = json(&c.say("what does wayback-search depend on"));
    let got = refs(&j["result"], "dependencies");
    assert_eq!(
        got,
        [
            "api:default/wayback-archive",
            "component:default/wayback-archive"
        ]
    );
    assert_eq!(
        j["result"]["dependencies"][1]["path"][1],
        "api:default/wayback-archive"
    );
}

const CHAIN: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: a
spec: {type: service, lifecycle: production, owner: team-a, dependsOn: [b]}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: b
spec: {type: service, lifecycle: production, owner: team-b, dependsOn: [c]}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: c
spec: {type: service, lifecycle: production, owner: team-c, dependsOn: [a], system: shop}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: shop
spec: {owner: team-c}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-b
spec: {type: team, children: []}
";

#[test]
fn dependents_are_transitive_survive_cycles_and_respect_depth() {
    let dir = catalog_dir(&[("c.yaml", CHAIN)]);
    let c = Convo::over(&[dir.path().display().to_string()]);
    // a → b → c → a: what depends on c? b (1), a (2); the cycle back to c ends the walk.
    let j = json(&c.say("what depends on c"));
    let got: Vec<(String, u64)> = j["result"]["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["ref"].as_str().unwrap().to_string(),
                d["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("component:default/b".into(), 1),
            ("component:default/a".into(), 2)
        ]
    );
    assert_eq!(
        j["result"]["dependents"][1]["path"],
        serde_json::json!([
            "component:default/c",
            "component:default/b",
            "component:default/a"
        ])
    );
    assert_eq!(
        refs(&j["result"], "teams"),
        ["group:default/team-a", "group:default/team-b"]
    );
    let j = json(&c.say("dependents c --depth 1"));
    assert_eq!(refs(&j["result"], "dependents"), ["component:default/b"]);
    let r = c.say("dependents c --depth 0");
    assert!(r.view.headline.contains("--depth"), "{}", r.view.headline);
}

#[test]
fn blast_radius_of_a_system_covers_its_parts() {
    let dir = catalog_dir(&[("c.yaml", CHAIN)]);
    let c = Convo::over(&[dir.path().display().to_string()]);
    let j = json(&c.say("blast radius shop"));
    let got = refs(&j["result"], "dependents");
    assert_eq!(got[0], "component:default/c");
    assert_eq!(j["result"]["dependents"][0]["depth"], 0);
    assert!(
        got.contains(&"component:default/b".to_string())
            && got.contains(&"component:default/a".to_string())
    );
    let b = j["result"]["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == "component:default/b")
        .unwrap();
    assert_eq!(
        b["path"],
        serde_json::json!([
            "system:default/shop",
            "component:default/c",
            "component:default/b"
        ])
    );
}

#[test]
fn blast_radius_lists_teams_with_their_oncall() {
    let c = Convo::over(&[fixture("backstage-examples")]);
    // dream11 and myservice consume artist-lookup directly (consumesApis: component:artist-lookup).
    let j = json(&c.say("blast radius artist-lookup"));
    let got = refs(&j["result"], "dependents");
    assert!(
        got.contains(&"component:default/dream11-svc".to_string()),
        "{got:?}"
    );
    assert!(
        got.contains(&"component:default/demo-service".to_string()),
        "{got:?}"
    );
    let text = render::text(&c.say("blast radius artist-lookup"));
    assert!(text.contains("Teams to call"), "{text}");
}

#[test]
fn quarantined_entities_are_findable_and_badged() {
    let c = Convo::over(&[fixture("backstage-examples")]);
    let r = c.say("info invalid component");
    assert_eq!(
        r.entity.as_deref(),
        Some("component:default/invalid component")
    );
    assert_eq!(r.view.badge.as_deref(), Some("degraded"));
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("quarantined") && w.contains("invalid-component.yaml")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn find_filters_by_kind_owner_and_tag() {
    let c = Convo::over(&examples());
    let j = json(&c.say("find kind:component owner:team-a"));
    let got: Vec<String> = j["result"]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(got.contains(&"component:default/artist-lookup".into()));
    assert!(got.iter().all(|g| g.starts_with("component:")));
    let j = json(&c.say("find artist tag:java"));
    assert_eq!(
        j["result"]["matches"],
        serde_json::json!(["component:default/artist-lookup"])
    );
    let j = json(&c.say("find zzzzzz"));
    assert_eq!(j["result"]["total"], 0);
}

#[test]
fn help_is_generated_from_the_grammar() {
    let c = Convo::over(&examples());
    let r = c.say("help");
    let text = render::text(&r);
    // Every command a developer may use; reloading workflows is for platform engineers.
    for cmd in switchboard::ask::grammar::COMMANDS {
        let theirs = cmd.intent != Intent::Reload;
        assert_eq!(text.contains(cmd.usage), theirs, "{}", cmd.usage);
    }
    // A topic narrows the list to the commands that speak of it.
    let r = c.say("help on call");
    let usages: Vec<&str> = r.result["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["usage"].as_str().unwrap())
        .collect();
    assert_eq!(
        usages,
        ["who is on call for X · oncall X [at TIME]", "incident X"]
    );
}

/// Each intent's `result` carries the keys README documents for it, so scripts can rely on them.
#[test]
fn json_results_have_the_keys_readme_documents_per_intent() {
    let c = Convo::over(&examples());
    for (q, intent, keys) in [
        (
            "who owns artist-lookup",
            "owner",
            &["owners", "conflicts"][..],
        ),
        ("oncall artist-lookup", "oncall", &["oncall", "chain", "at"]),
        (
            "deps wayback-search",
            "deps",
            &["dependencies", "depth", "truncated", "beyond"],
        ),
        (
            "dependents wayback-archive",
            "dependents",
            &[
                "dependents",
                "teams",
                "oncall",
                "depth",
                "truncated",
                "beyond",
            ],
        ),
        (
            "artist-lookup",
            "info",
            &[
                "kind",
                "namespace",
                "name",
                "owners",
                "relations",
                "quarantined",
                "reasons",
            ],
        ),
        ("find artist", "find", &["matches", "total"]),
        ("sync status", "sync_status", &["sources"]),
        ("conflicts", "conflicts", &["conflicts"]),
        ("help", "help", &["commands"]),
        ("how do I deploy to production", "unknown", &["commands"]),
        (
            "docs artist-lookup",
            "docs",
            &["runbooks", "dashboards", "docs", "source", "other"],
        ),
        ("api wayback-archive", "api", &["apis"]),
        (
            "who uses lodash < 4.17.21",
            "uses",
            &[
                "package",
                "range",
                "matches",
                "private_count",
                "other_versions",
                "sboms_read",
            ],
        ),
        ("find endpoint /pets", "endpoint", &["path", "matches"]),
        (
            "changes artist-lookup since 3d",
            "changes",
            &["since", "repositories", "changes"],
        ),
        (
            "incident artist-lookup",
            "incident",
            &[
                "owners",
                "oncall",
                "blast_radius",
                "runbooks",
                "dashboards",
                "changes",
                "conflicts",
                "quarantined",
                "reasons",
                "page",
            ],
        ),
    ] {
        let j = json(&c.say(q));
        assert_eq!(j["intent"], intent, "{q}");
        assert_eq!(j["query"], q);
        for key in keys {
            assert!(
                j["result"].get(key).is_some(),
                "{q}: result.{key} missing in {j}"
            );
        }
    }
}

#[test]
fn a_snapshot_swap_is_seen_by_the_next_question() {
    let c = Convo::over(&examples());
    assert!(c.say("who owns checkout").entity.is_none());
    let dir = catalog_dir(&[(
        "c.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
    )]);
    c.bot
        .swap_snapshot(snapshot(&[dir.path().display().to_string()]));
    assert_eq!(
        c.say("who owns checkout").entity.as_deref(),
        Some("component:default/checkout")
    );
}

#[test]
fn conflicts_lists_what_is_defined_twice_and_filters_by_team() {
    let dir = catalog_dir(&[
        (
            "a.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
        ),
        (
            "b.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-b\n",
        ),
    ]);
    let mut paths = examples();
    paths.push(dir.path().display().to_string());
    let c = Convo::over(&paths);
    let j = json(&c.say("conflicts"));
    assert_eq!(j["intent"], "conflicts");
    let refs: Vec<&str> = j["result"]["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["component:default/checkout"]);
    let first = &j["result"]["conflicts"][0];
    assert!(
        first["kept"]["location"]
            .as_str()
            .unwrap()
            .ends_with("a.yaml")
    );
    assert_eq!(first["others"][0]["owner"], "group:default/team-b");
    // The losing definition's team sees it too; an uninvolved team does not.
    assert_eq!(
        json(&c.say("conflicts for team-b"))["result"]["conflicts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = c.say("conflicts team-c");
    assert_eq!(r.result["conflicts"].as_array().unwrap().len(), 0);
    assert!(
        r.view
            .headline
            .contains("No entity is defined more than once involving group:default/team-c"),
        "{}",
        r.view.headline
    );
}

/// A chain of `n` components, each depending on the one before: `link-0 ← link-1 ← …`.
fn chain(n: usize) -> tempfile::TempDir {
    let mut body = String::new();
    for i in 0..n {
        body.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: link-{i}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-{}\n",
            i % 3
        ));
        if i > 0 {
            body.push_str(&format!("  dependsOn: [component:link-{}]\n", i - 1));
        }
    }
    catalog_dir(&[("chain.yaml", &body)])
}

#[test]
fn a_blast_radius_deeper_than_ten_hops_is_whole_by_default() {
    let dir = chain(40);
    let c = Convo::over(&[dir.path().display().to_string()]);
    let r = c.say("what depends on link-0");
    let j = json(&r);
    assert_eq!(refs(&j["result"], "dependents").len(), 39);
    assert_eq!(j["result"]["truncated"], false);
    assert_eq!(j["result"]["beyond"], 0);
    assert_eq!(j["result"]["depth"], Value::Null);
    let text = render::text(&r);
    assert!(
        text.starts_with("39 entities affected if link-0 goes down"),
        "{text}"
    );
    assert!(!text.contains("Cut at"), "{text}");

    let deps = json(&c.say("what does link-39 depend on"));
    assert_eq!(refs(&deps["result"], "dependencies").len(), 39);
    assert_eq!(deps["result"]["truncated"], false);
}

#[test]
fn a_depth_that_cuts_the_blast_radius_says_how_many_more_lie_beyond() {
    let dir = chain(40);
    let c = Convo::over(&[dir.path().display().to_string()]);
    let r = c.say("what depends on link-0 --depth 5");
    let j = json(&r);
    assert_eq!(refs(&j["result"], "dependents").len(), 5);
    assert_eq!(j["result"]["truncated"], true);
    assert_eq!(j["result"]["beyond"], 34);
    assert_eq!(j["result"]["depth"], 5);
    let text = render::text(&r);
    assert!(
        text.starts_with("39 entities affected if link-0 goes down; the 5 listed"),
        "{text}"
    );
    assert!(
        text.contains("Cut at 5 hops: 34 more entities lie beyond"),
        "{text}"
    );

    let deps = json(&c.say("deps link-39 --depth 2"));
    assert_eq!(
        (
            deps["result"]["truncated"].as_bool(),
            deps["result"]["beyond"].as_u64()
        ),
        (Some(true), Some(37))
    );
}

#[test]
fn the_safety_cap_cuts_a_blast_radius_and_says_so() {
    use switchboard::catalog::graph::Limit;
    let dir = chain(40);
    let snap = snapshot(&[dir.path().display().to_string()]);
    let c = Convo {
        bot: switchboard::Bot::new(snap, common::demo_rotations(), Limit::new(0, 10)),
        now: "2026-11-18T12:00:00Z".parse().unwrap(),
    };
    let r = c.say("blast radius link-0");
    let j = json(&r);
    assert_eq!(refs(&j["result"], "dependents").len(), 10);
    assert_eq!(
        (
            j["result"]["truncated"].as_bool(),
            j["result"]["beyond"].as_u64()
        ),
        (Some(true), Some(29))
    );
    let text = render::text(&r);
    assert!(
        text.contains("Cut at 10 entities (catalog.max_blast_radius): 29 more entities lie beyond"),
        "{text}"
    );
}

#[test]
fn a_kind_word_narrows_the_kind_when_no_entity_is_named_with_it() {
    let c = Convo::over(&examples());
    // wayback-archive is both a Component and an API.
    let api = c.say("the wayback-archive API");
    assert_eq!(api.entity.as_deref(), Some("api:default/wayback-archive"));
    assert!(
        api.warnings.iter().all(|w| !w.contains("Also named")),
        "{:?}",
        api.warnings
    );
    let component = c.say("who owns the wayback-archive service");
    assert_eq!(component.intent, Intent::Owner);
    assert_eq!(
        component.entity.as_deref(),
        Some("component:default/wayback-archive")
    );
    for (asked, meant) in [
        ("the artists domain", "domain:default/artists"),
        (
            "the artist-engagement-portal system",
            "system:default/artist-engagement-portal",
        ),
        ("team-a team", "group:default/team-a"),
        ("the team-a group", "group:default/team-a"),
        ("user guest", "user:default/guest"),
        ("artist-lookup component", "component:default/artist-lookup"),
        // A typo inside the name still resolves within the kind.
        ("the artsts domain", "domain:default/artists"),
    ] {
        assert_eq!(c.say(asked).entity.as_deref(), Some(meant), "{asked}");
    }
}

#[test]
fn an_entity_named_with_the_kind_word_itself_wins() {
    let dir = catalog_dir(&[(
        "c.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments-service\nspec: {type: service, lifecycle: production, owner: group:team-a}\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments\nspec: {type: service, lifecycle: production, owner: group:team-b}\n",
    )]);
    let c = Convo::over(&[dir.path().display().to_string()]);
    let r = c.say("who owns payments service");
    assert_eq!(
        r.entity.as_deref(),
        Some("component:default/payments-service")
    );
}

#[test]
fn a_single_suggestion_is_not_called_more_than_one() {
    let dir = catalog_dir(&[(
        "c.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout-frontend\nspec: {type: website, lifecycle: production, owner: group:team-a}\n",
    )]);
    let c = Convo::over(&[dir.path().display().to_string()]);
    let r = c.say("who owns checkout-back");
    assert_eq!(
        r.suggestions,
        ["component:default/checkout-frontend"],
        "{}",
        render::text(&r)
    );
    let text = render::text(&r);
    assert!(text.contains("Did you mean checkout-frontend"), "{text}");
    assert!(!text.contains("More than one"), "{text}");
}

#[test]
fn greetings_and_unknown_questions_get_a_short_help_not_names() {
    let c = Convo::over(&examples());
    for said in ["hi", "Hello there!", "thanks", "good morning"] {
        let r = c.say(said);
        assert_eq!(r.intent, Intent::Help, "{said}");
        assert!(r.suggestions.is_empty(), "{said}: {:?}", r.suggestions);
        let text = render::text(&r);
        assert!(text.contains("who owns X"), "{text}");
    }
    for said in [
        "how do I deploy to production",
        "can you restart the cluster",
        "what is the meaning of life",
    ] {
        let r = c.say(said);
        assert_eq!(r.intent, Intent::Unknown, "{said}");
        assert!(r.suggestions.is_empty(), "{said}: {:?}", r.suggestions);
        let text = render::text(&r);
        assert!(
            text.contains("I don't know how to answer") && text.contains("blast radius X"),
            "{text}"
        );
        assert!(json(&r)["result"]["commands"].as_array().unwrap().len() >= 5);
    }
    // A short name that is not in the catalog is still looked up, not lectured.
    let r = c.say("artist-lokup");
    assert_eq!(r.entity.as_deref(), Some("component:default/artist-lookup"));
}

#[test]
fn the_safety_cap_counts_a_systems_parts_beyond_it() {
    use switchboard::catalog::graph::Limit;
    // A system of five components, and a consumer of each: ten entities affected in all.
    let mut body = String::from(
        "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: shop\nspec: {owner: group:team-a}\n",
    );
    for i in 0..5 {
        body.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: part-{i}\nspec: {{type: service, lifecycle: production, owner: group:team-a, system: shop}}\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: user-{i}\nspec: {{type: service, lifecycle: production, owner: group:team-b, dependsOn: [component:part-{i}]}}\n"
        ));
    }
    let dir = catalog_dir(&[("shop.yaml", &body)]);
    let paths = [dir.path().display().to_string()];
    let everything = Convo::over(&paths);
    let all = json(&everything.say("blast radius shop"));
    assert_eq!(refs(&all["result"], "dependents").len(), 10);
    assert_eq!(all["result"]["beyond"], 0);
    let capped = Convo {
        bot: switchboard::Bot::new(snapshot(&paths), common::demo_rotations(), Limit::new(0, 3)),
        now: everything.now,
    };
    let j = json(&capped.say("blast radius shop"));
    assert_eq!(refs(&j["result"], "dependents").len(), 3);
    assert_eq!(
        (
            j["result"]["truncated"].as_bool(),
            j["result"]["beyond"].as_u64()
        ),
        (Some(true), Some(7))
    );
}

/// Picks each suggestion of a "did you mean" and asks the question its button carries.
fn pick_all(c: &Convo, asked: &str) -> Vec<(String, switchboard::Reply)> {
    use switchboard::chat::ActionId;
    let r = c.say(asked);
    assert!(r.suggestions.len() >= 2, "{asked}: {}", render::text(&r));
    assert_eq!(
        r.actions.len(),
        r.suggestions.len(),
        "a button per suggestion"
    );
    r.actions
        .iter()
        .map(|a| {
            let Ok(ActionId::Ask(q)) = ActionId::decode(&a.id.encode()) else {
                panic!("{asked}: {:?} is no question", a.id)
            };
            let answer = c.say(&q);
            (q, answer)
        })
        .collect()
}

#[test]
fn did_you_mean_buttons_repeat_the_question_asked_with_its_options() {
    let c = Convo::over(&examples());
    for (q, a) in pick_all(&c, "deps wayback --depth 2") {
        assert!(q.starts_with("deps ") && q.ends_with(" --depth 2"), "{q}");
        assert_eq!(a.intent, Intent::Deps, "{q}");
        assert_eq!(json(&a)["result"]["depth"], 2, "{q}");
    }
    for (q, a) in pick_all(&c, "dependents wayback") {
        assert!(q.starts_with("dependents "), "{q}");
        assert_eq!(a.intent, Intent::Dependents, "{q}");
    }
    // A relative time is carried as the moment it meant when asked.
    for (q, a) in pick_all(&c, "oncall wayback at tomorrow 09:00") {
        assert!(q.ends_with(" at 2026-11-19T09:00:00+00:00"), "{q}");
        assert_eq!(a.intent, Intent::Oncall, "{q}");
        assert!(a.suggestions.is_empty(), "{q}: {}", render::text(&a));
        assert_eq!(json(&a)["result"]["at"], "2026-11-19T09:00:00+00:00", "{q}");
    }
    for (q, a) in pick_all(&c, "conflicts team") {
        assert!(q.starts_with("conflicts "), "{q}");
        assert_eq!(a.intent, Intent::Conflicts, "{q}");
    }
}

#[test]
fn whoami_names_the_matched_user_and_teams_or_says_how_to_be_matched() {
    let c = Convo::over(&examples());
    let r = c.say("whoami");
    assert_eq!(r.intent, Intent::Whoami);
    assert_eq!(r.entity.as_deref(), Some("user:default/guest"));
    let j = json(&r);
    assert_eq!(j["result"]["user"], "user:default/guest");
    assert!(
        refs(&j["result"], "groups").contains(&"group:default/team-a".to_string()),
        "{j}"
    );
    assert!(render::text(&r).starts_with("You are Guest User (user:default/guest)"));

    // A close spelling is not who you are.
    use switchboard::chat::{Actor, Input, Platform};
    let mut typo = c.event(Input::Text("whoami".into()));
    typo.actor.id = Some("user:default/guset".into());
    let typo = c.handle(typo).unwrap();
    assert_eq!(json(&typo)["result"]["user"], Value::Null);

    let mut unmatched = c.event(Input::Text("who am I?".into()));
    unmatched.actor = Actor::on(Platform::Slack, "U0UNKNOWN");
    let unmatched = c.handle(unmatched).unwrap();
    let j = json(&unmatched);
    assert_eq!(j["result"]["user"], Value::Null);
    assert_eq!(j["result"]["identity"], "slack:U0UNKNOWN");
    assert!(
        render::text(&unmatched).contains("`slack.com/user-id: U0UNKNOWN`"),
        "{}",
        render::text(&unmatched)
    );
}

/// One answer of each intent, as text and as JSON: a change in what people read shows here
/// first (`cargo insta review`, or INSTA_UPDATE=always, then read the diff).
#[test]
fn one_answer_of_each_intent_reads_as_before() {
    let c = Convo::over(&examples());
    let root = env!("CARGO_MANIFEST_DIR");
    for (name, q) in [
        ("owner", "who owns artist-lookup"),
        (
            "oncall",
            "who is on call for artist-lookup at 2026-11-18 12:00",
        ),
        ("deps", "what does wayback-search depend on"),
        ("dependents", "what breaks if wayback-archive goes down"),
        ("info", "the artists domain"),
        ("find", "find artist kind:component"),
        ("conflicts", "conflicts"),
        ("sync_status", "sync status"),
        ("whoami", "whoami"),
        ("help", "help"),
        ("greeting", "hello"),
        ("unknown", "how do I deploy to production"),
        ("did_you_mean", "who owns wayback"),
        ("not_found", "who owns nothing-here"),
    ] {
        let r = c.say(q);
        let shown =
            format!("{}\n---\n{}", render::text(&r), render::json(&r)).replace(root, "[ROOT]");
        insta::assert_snapshot!(name, shown);
    }
}

/// What a surface hands over besides text goes through the same entry point.
#[test]
fn clicks_and_the_home_view_go_through_handle() {
    use switchboard::chat::{Audience, Failure, Input};
    let c = Convo::over(&examples());
    let click = |value: String| c.handle(c.event(Input::Action(value)));
    // A "did you mean" pick carries its question; the answer is the same as typing it.
    let asked = c.say("deps wayback --depth 2");
    let pick = &asked.actions[0];
    let clicked = click(pick.id.encode()).unwrap();
    assert_eq!(clicked.intent, Intent::Deps);
    assert_eq!(json(&clicked)["result"]["depth"], 2);
    assert_eq!(clicked.audience, Audience::AsUsual);
    // Sharing answers for everyone; an id of another version is refused, as it is.
    let shared = click("sb1:share:who owns artist-lookup".into()).unwrap();
    assert_eq!(
        (shared.intent, shared.audience),
        (Intent::Owner, Audience::Everyone)
    );
    let Err(stale) = click("sb7:approve:42".into()) else {
        panic!("an id of another version was honoured")
    };
    assert!(
        matches!(&stale, Failure::Refused(m) if m.contains("out of date")),
        "{stale:?}"
    );
    assert_eq!(stale.reply().audience, Audience::Asker);
    assert_eq!(
        json(&stale.reply())["result"]["error"],
        stale.to_string().as_str()
    );
    // Not one of ours: refused with its own message.
    let Err(foreign) = click("create_task".into()) else {
        panic!("a foreign button was honoured")
    };
    assert!(foreign.to_string().contains("not one of mine"), "{foreign}");
    // A form submitted for a button that opens none was made by another release.
    let form = c.handle(c.event(Input::Form {
        action: "sb1:ask:who owns artist-lookup".into(),
        values: vec![("reason".into(), "because".into())],
    }));
    assert!(matches!(form, Err(Failure::Refused(_))), "{form:?}");
    // The home view: the asker's teams.
    let home = c.handle(c.event(Input::OpenHome)).unwrap();
    assert!(
        render::text(&home).starts_with("Hi Guest User"),
        "{}",
        render::text(&home)
    );
}

/// Autocomplete offers what the resolver would pick first, then names starting with what is
/// typed, then close spellings; a kind's option offers that kind only.
#[test]
fn autocomplete_offers_entities_ranked_like_the_resolver() {
    use switchboard::chat::Input;
    let c = Convo::over(&examples());
    let offer = |option: &str, partial: &str| {
        c.handle(c.event(Input::Autocomplete {
            option: option.into(),
            partial: partial.into(),
        }))
        .unwrap()
    };
    let typed = offer("entity", "wayback");
    let values: Vec<&str> = typed.choices.iter().map(|c| c.value.as_str()).collect();
    let starting = values.iter().filter(|v| v.contains("/wayback")).count();
    assert!(starting > 1, "{values:?}");
    assert!(
        values[..starting].iter().all(|v| v.contains("/wayback")),
        "names starting with what is typed first, then close spellings: {values:?}"
    );
    assert_eq!(json(&typed)["result"]["choices"][0]["value"], values[0]);
    let exact = offer("entity", "artist-lookup");
    assert_eq!(exact.choices[0].value, "component:default/artist-lookup");
    let teams = offer("team", "team");
    assert!(!teams.choices.is_empty());
    assert!(
        teams.choices.iter().all(|c| c.value.starts_with("group:")),
        "{:?}",
        teams.choices
    );
    assert!(offer("entity", "").choices.is_empty());
}

#[test]
fn a_blast_radius_is_drawn_from_dot_with_its_nodes_and_edges_and_a_large_one_is_cut() {
    let c = Convo::over(&examples());
    let r = c.say("dependents wayback-archive --graph");
    let dot = r.dot.clone().expect("a DOT graph");
    assert!(
        dot.contains("\"wayback-search\" -> \"wayback-archive\""),
        "{dot}"
    );
    assert_eq!(r.attachments.len(), 1);
    assert!(r.attachments[0].png.starts_with(b"\x89PNG"));
    assert!(r.actions.iter().all(|a| a.label != "Show graph"));
    // 250 services depend on one database: 200 are drawn, the cut is said.
    let mut files = vec![(
        "db.yaml".to_string(),
        "apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: shared-db\nspec:\n  type: database\n  owner: team-a\n".to_string(),
    )];
    for i in 0..250 {
        files.push((
            format!("s{i}.yaml"),
            format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc-{i}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n  dependsOn: [resource:shared-db]\n"),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = catalog_dir(&refs);
    let big = Convo::over(&[dir.path().display().to_string()]);
    let r = big.say("dependents shared-db --graph");
    let dot = r.dot.clone().unwrap();
    assert_eq!(dot.matches(" -> ").count(), 200, "{dot}");
    assert!(dot.contains("… 50 more, not drawn"), "{dot}");
    assert!(
        r.attachments[0].alt.contains("cut"),
        "{}",
        r.attachments[0].alt
    );
}
