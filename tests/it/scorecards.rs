//! Scorecards: the shipped file, its checks on Backstage's example catalog (the expected
//! levels written by hand from the YAML), every built-in check passing and failing, a custom
//! expression, the team and completeness answers, and a broken file's errors with lines.

use crate::common;

use common::{Convo, catalog_dir, examples};
use serde_json::Value;
use switchboard::scorecards::{Scorecard, load};

fn shipped() -> Vec<Scorecard> {
    let path = format!("{}/config/scorecards.yaml", env!("CARGO_MANIFEST_DIR"));
    let (cards, problems) = load(&[path]);
    assert!(problems.is_empty(), "{problems:?}");
    cards
}

fn json(r: &switchboard::Reply) -> Value {
    serde_json::from_str(&switchboard::chat::render::json(r)).unwrap()
}

/// The result of `scorecard NAME` on the scorecard named `card`.
fn card<'a>(v: &'a Value, card: &str) -> &'a Value {
    v["result"]["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scorecard"] == card)
        .unwrap_or_else(|| panic!("no {card} in {v}"))
}

fn check<'a>(card: &'a Value, name: &str) -> &'a Value {
    card["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {card}"))
}

#[test]
fn the_example_catalog_gets_the_levels_its_yaml_earns() {
    let c = Convo::over(&examples());
    c.bot.set_scorecards(shipped());
    // Written from the YAML: (entity, production readiness level, completeness level).
    // www-artist: team-a (members, a rotation), a system, a description; no runbook → silver.
    // wayback-search: no system → bronze on readiness; no tags → silver on completeness.
    // searcher: owned by a User, not a team → no level on either.
    // queue-proxy: team-b, system podcast, description, tags; no runbook, no links → silver, gold.
    for (name, readiness, completeness) in [
        ("www-artist", Some("silver"), "silver"),
        ("wayback-search", Some("bronze"), "silver"),
        ("searcher", None, "none"),
        ("queue-proxy", Some("silver"), "gold"),
    ] {
        let v = json(&c.say(&format!("scorecard {name}")));
        assert_eq!(
            card(&v, "production-readiness")["level"],
            serde_json::json!(readiness),
            "{name}: {v}"
        );
        let level = card(&v, "catalog-completeness")["level"].clone();
        assert_eq!(
            level.as_str().unwrap_or("none"),
            completeness,
            "{name}: {v}"
        );
    }
    // artist-lookup is experimental: only completeness is about it, and it has everything.
    let v = json(&c.say("scorecard artist-lookup"));
    assert_eq!(v["result"]["scorecards"].as_array().unwrap().len(), 1);
    let done = card(&v, "catalog-completeness");
    assert_eq!(done["level"], "gold");
    assert_eq!(done["score"], 100);
    // The custom expression: artist-lookup has links, wayback-search has none.
    assert_eq!(check(done, "has-links")["passed"], true);
    let v = json(&c.say("scorecard wayback-search"));
    let links = check(card(&v, "catalog-completeness"), "has-links");
    assert_eq!(links["passed"], false);
    assert!(
        links["fix"]
            .as_str()
            .unwrap()
            .contains("wayback-search-component.yaml:1"),
        "the fix names the file and line: {links}"
    );
}

/// A catalog where `good` passes every built-in check and `bad` fails each.
const CHECKED: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: good
  description: Does everything right
  tags: [rust]
  annotations:
    backstage.io/techdocs-ref: dir:.
    pagerduty.com/service-id: PGOOD
  links:
    - url: https://runbooks.example.com/good
      title: On-call guide
      type: runbook
spec:
  type: service
  lifecycle: production
  owner: team-a
  system: artist-engagement-portal
  dependsOn: [component:wayback-archive]
  providesApis: [good-api]
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: good-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: 'openapi: 3.0.0'
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: bad
spec:
  type: service
  lifecycle: production
  owner: nobody-here
  dependsOn: [component:old-thing, component:not-in-catalog]
  providesApis: [missing-api]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: old-thing
  description: Going away
spec:
  type: service
  lifecycle: deprecated
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: lonely
  description: Its team has nobody on call
spec:
  type: service
  lifecycle: production
  owner: lonely-team
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: broken-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: lonely-team
spec:
  type: team
  children: []
";

const EVERY_CHECK: &str = "name: everything
filter: {kind: [component, api]}
checks:
  - check: owner
    workflow: register-component
  - check: description
  - check: lifecycle
  - check: system
  - check: oncall
  - check: runbook
  - check: techdocs
  - check: api-definition
  - check: tags
  - check: dependencies
  - check: no-deprecated-dependencies
  - check: ownership-agrees
  - check: not-quarantined
  - check: annotation
    name: pagerduty
    annotation: pagerduty.com/service-id
levels:
  - name: all
    checks: [owner, description, lifecycle, system, oncall, runbook, techdocs, api-definition, tags, dependencies, no-deprecated-dependencies, ownership-agrees, not-quarantined, pagerduty]
";

#[test]
fn every_built_in_check_passes_and_fails_with_its_reason_and_fix() {
    let dir = catalog_dir(&[("checked.yaml", CHECKED), ("everything.yaml", EVERY_CHECK)]);
    let mut paths = examples();
    paths.push(dir.path().join("checked.yaml").display().to_string());
    let c = Convo::over(&paths);
    let (cards, problems) = load(&[dir.path().join("everything.yaml").display().to_string()]);
    assert!(problems.is_empty(), "{problems:?}");
    c.bot.set_scorecards(cards);
    let good = json(&c.say("scorecard good"));
    let good = card(&good, "everything");
    for c in good["checks"].as_array().unwrap() {
        assert_eq!(c["passed"], true, "good fails {c}");
    }
    assert_eq!(good["level"], "all");
    assert_eq!(good["score"], 100);

    let answer = c.say("scorecard bad");
    // The workflow that fixes a failing check is a button away.
    let fix_it: Vec<(&str, String)> = answer
        .actions
        .iter()
        .map(|a| (a.label.as_str(), a.id.encode()))
        .collect();
    assert_eq!(
        fix_it,
        [(
            "Fix it: register-component",
            "sb1:ask:help run register-component".to_string()
        )]
    );
    assert!(c.say("scorecard good").actions.is_empty());
    let bad = json(&answer);
    let bad = card(&bad, "everything");
    // ownership-agrees and not-quarantined hold for `bad`; every other check fails, with why.
    assert_eq!(check(bad, "ownership-agrees")["passed"], true);
    assert_eq!(check(bad, "not-quarantined")["passed"], true);
    for (name, why) in [
        ("owner", "nobody-here is not in the catalog"),
        ("description", "no description"),
        ("system", "not part of a system"),
        ("runbook", "no runbook"),
        ("techdocs", "no TechDocs"),
        ("api-definition", "missing-api, which is not in the catalog"),
        ("tags", "no tags"),
        (
            "dependencies",
            "not-in-catalog, which is not in the catalog",
        ),
        ("pagerduty", "no `pagerduty.com/service-id` annotation"),
    ] {
        let got = check(bad, name);
        assert_eq!(got["passed"], false, "{name}: {got}");
        assert!(got["why"].as_str().unwrap().contains(why), "{name}: {got}");
        assert!(
            got["fix"].as_str().unwrap().contains("checked.yaml:"),
            "{name}'s fix names the file and line: {got}"
        );
    }
    assert_eq!(bad["level"], Value::Null);
    // In production, depending on something deprecated fails; on call needs a rotation.
    let deprecated = check(bad, "no-deprecated-dependencies");
    assert_eq!(deprecated["passed"], false);
    assert!(
        deprecated["why"]
            .as_str()
            .unwrap()
            .contains("component:default/old-thing")
    );
    let lonely = json(&c.say("scorecard lonely"));
    let lonely = card(&lonely, "everything");
    assert_eq!(check(lonely, "oncall")["passed"], false);
    assert!(
        check(lonely, "owner")["why"]
            .as_str()
            .unwrap()
            .contains("not a group with members")
    );
    // A quarantined entity fails not-quarantined with the validation's reason.
    let broken = json(&c.say("scorecard broken-api"));
    let quarantined = check(card(&broken, "everything"), "not-quarantined");
    assert_eq!(quarantined["passed"], false, "{broken}");
    assert!(
        quarantined["why"]
            .as_str()
            .unwrap()
            .contains("spec.definition"),
        "{quarantined}"
    );
}

#[test]
fn a_team_sees_its_levels_and_the_fixes_that_do_most_and_completeness_counts_production() {
    let c = Convo::over(&examples());
    c.bot.set_scorecards(shipped());
    let v = json(&c.say("scorecard team team-a"));
    assert_eq!(v["result"]["team"], "group:default/team-a");
    let fixes = v["result"]["top_fixes"].as_array().unwrap();
    assert_eq!(fixes.len(), 3, "{v}");
    // Ranked by the weight they would gain, most first.
    let weights: Vec<u64> = fixes
        .iter()
        .map(|f| f["weight"].as_u64().unwrap())
        .collect();
    assert!(weights.windows(2).all(|w| w[0] >= w[1]), "{weights:?}");
    // Quarantined entities are listed apart, not scored.
    let quarantined = v["result"]["quarantined"].as_array().unwrap();
    for s in v["result"]["scorecards"].as_array().unwrap() {
        for e in s["entity_scores"].as_array().unwrap() {
            assert!(!quarantined.contains(&e["entity"]), "{e}");
        }
    }
    let readiness = v["result"]["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scorecard"] == "production-readiness")
        .unwrap();
    let scored: Vec<&str> = readiness["entity_scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity"].as_str().unwrap())
        .collect();
    assert!(
        scored.contains(&"component:default/www-artist"),
        "{scored:?}"
    );
    assert!(
        !scored.contains(&"component:default/artist-lookup"),
        "experimental is not production: {scored:?}"
    );

    let v = json(&c.say("completeness"));
    let all = &v["result"]["catalog"];
    let teams = v["result"]["teams"].as_array().unwrap();
    let sum = |k: &str| teams.iter().map(|t| t[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("entities"), all["entities"].as_u64().unwrap());
    assert_eq!(sum("complete"), all["complete"].as_u64().unwrap());
    let team_a = teams
        .iter()
        .find(|t| t["team"] == "group:default/team-a")
        .unwrap();
    // team-a's production entities all have an owner, a lifecycle and on-call (its rotation).
    assert_eq!(team_a["owner"], team_a["entities"]);
    assert_eq!(team_a["oncall"], team_a["entities"]);
    // "unknown team" is said, not guessed.
    let v = json(&c.say("scorecard team no-such-team"));
    assert_eq!(v["result"]["team"], Value::Null);
}

#[test]
fn a_broken_scorecards_file_says_what_is_wrong_and_on_which_line() {
    let broken = "name: Bad Name
filter: {kind: component, colour: blue}
checks:
  - check: owner
  - check: teleport
  - name: shaky
    expression: entity.metadata.name ==
  - check: annotation
levels:
  - name: bronze
    checks: [owner, nothing]
---
name: fine
checks:
  - check: owner
";
    let dir = catalog_dir(&[("scorecards.yaml", broken)]);
    let path = dir.path().join("scorecards.yaml").display().to_string();
    let (cards, problems) = load(std::slice::from_ref(&path));
    let names: Vec<&str> = cards.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["fine"], "the broken one is left out, the rest load");
    let said: Vec<(u32, &str)> = problems
        .iter()
        .map(|(_, f)| (f.line, f.message.as_str()))
        .collect();
    let at = |line: u32, text: &str| {
        assert!(
            said.iter().any(|(l, m)| *l == line && m.contains(text)),
            "line {line} should say {text}: {said:?}"
        );
    };
    at(1, "lowercase letters");
    at(2, "`colour` is not a filter field");
    at(5, "`teleport` is not a built-in check");
    at(6, "the expression of `shaky`");
    at(8, "needs `annotation: KEY`");
    at(10, "names `nothing`, which is not one of the checks");
    assert!(problems.iter().all(|(file, _)| *file == path));
}
