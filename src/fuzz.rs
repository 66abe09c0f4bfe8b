//! Fuzz targets: each takes arbitrary bytes as one untrusted input Switchboard reads, and must
//! neither panic nor hang on any of them. `tests/it/fuzz.rs` runs each for a few seconds
//! inside `cargo test` (a smoke run); `scripts/fuzz` runs each for as long as asked. Every
//! input that once broke a target is kept in `tests/fixtures/fuzz/TARGET/` and replayed by the
//! tests.

use std::sync::{Arc, OnceLock};

/// A target: one input, read as Switchboard reads it.
pub type Target = fn(&[u8]);

/// Every target, by name.
pub const TARGETS: &[(&str, Target)] = &[
    ("question", question),
    ("catalog_yaml", catalog_yaml),
    ("codeowners", codeowners),
    ("workflow", workflow),
    ("scorecard", scorecard),
    ("sbom", sbom),
    ("terraform_state", terraform_state),
    ("github_webhook", github_webhook),
    ("slack_payload", slack_payload),
    ("discord_interaction", discord_interaction),
];

/// A question as anyone may type it, through the grammar and answered from a small catalog
/// (resolution, typo matching, time parsing, every answer), as the console asks it.
pub fn question(data: &[u8]) {
    static BOT: OnceLock<(tokio::runtime::Runtime, Arc<crate::Bot>)> = OnceLock::new();
    let (runtime, bot) = BOT.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let report = ingest(CATALOG.as_bytes());
        let snap = crate::catalog::Snapshot::build(report.entities, report.problems, 0);
        let bot = crate::Bot::new(
            snap,
            crate::oncall::rotations::Rotations::default(),
            crate::catalog::graph::Limit::new(0, 100),
        );
        (runtime, Arc::new(bot))
    });
    let text = String::from_utf8_lossy(data);
    let _ = crate::ask::grammar::parse(&text);
    let event = crate::chat::ChatEvent::console(None, text.as_ref(), bot.now());
    let answered = runtime.block_on(bot.handle(event));
    assert!(answered.is_ok(), "a question is always answered");
}

/// A catalog file, through parsing, validation and a snapshot of what it holds.
pub fn catalog_yaml(data: &[u8]) {
    let report = ingest(data);
    let keys: Vec<String> = report.entities.iter().map(|e| e.key.clone()).collect();
    let snap = crate::catalog::Snapshot::build(report.entities, report.problems, 0);
    for k in keys {
        assert!(
            snap.get(&k).is_some(),
            "{k} is in the snapshot it was built into"
        );
    }
}

/// A local catalog file's bytes as a sync reads them.
fn ingest(data: &[u8]) -> crate::catalog::ingest::FileReport {
    let origin = crate::catalog::ingest::FileOrigin {
        source: "local",
        location: "fuzz.yaml",
        location_type: "file",
        commit: None,
        fetched_at: 0,
    };
    crate::catalog::ingest::ingest_file(data, &origin, &crate::catalog::ingest::Reader::default())
}

/// A CODEOWNERS file, and a path looked up in it.
pub fn codeowners(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let owners = crate::sources::codeowners::CodeOwners::parse(&text);
    let _ = owners.owners_of("catalog-info.yaml");
    let _ = owners.owners_of("src/deep/path/file.rs");
}

/// A workflow definition.
pub fn workflow(data: &[u8]) {
    let _ = crate::workflows::definition::parse("commands/fuzz.yaml", data);
}

/// A scorecards file.
pub fn scorecard(data: &[u8]) {
    let _ = crate::scorecards::definition::parse_bytes("config/fuzz.yaml", data);
}

/// An SBOM (SPDX or CycloneDX JSON), and its packages' versions against a range.
pub fn sbom(data: &[u8]) {
    let mut names = crate::compliance::sbom::Names::default();
    if let Ok(sbom) = crate::compliance::sbom::parse(data, &mut names) {
        let range = crate::compliance::version::Range::parse(">= 1.0, < 2.17.1").expect("a range");
        for p in &sbom.packages {
            let _ = range.admits(p.scheme, &p.version);
        }
    }
}

/// A Terraform state file.
pub fn terraform_state(data: &[u8]) {
    let owners = std::collections::BTreeMap::from([("fuzz".to_string(), "team-a".to_string())]);
    let _ = crate::sources::terraform::read_state_bytes(
        data,
        std::path::Path::new("states/fuzz.tfstate"),
        "states/fuzz.tfstate",
        &owners,
        0,
    );
}

/// A GitHub webhook's body, read as each event it could be.
pub fn github_webhook(data: &[u8]) {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    for event in [
        "push",
        "pull_request",
        "deployment_status",
        "workflow_run",
        "repository",
    ] {
        let _ = crate::http::github::change_of(event, "acme/fuzz", &payload);
    }
}

/// A Slack Events API body or interaction payload, as the routes read them.
pub fn slack_payload(data: &[u8]) {
    crate::chat::slack::read_payloads(data);
}

/// A Discord interaction's body (HTTP endpoint or gateway), as it is read before answering.
pub fn discord_interaction(data: &[u8]) {
    crate::chat::discord::app::read_interaction(data);
}

/// The catalog `question` answers from: a team, its people, a system of services.
const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
  members: [ada]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: ada
spec:
  profile:
    email: ada@example.com
  memberOf: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: payments
spec:
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-api
  links:
    - url: https://runbooks.example.com/payments
      title: Runbook
      type: runbook
spec:
  type: service
  lifecycle: production
  owner: team-a
  system: payments
  dependsOn: [component:ledger]
  providesApis: [payments]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
spec:
  type: service
  lifecycle: production
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: payments
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: |
    openapi: 3.0.0
    info: {title: Payments, version: 1.0.0}
    paths:
      /payments/{id}:
        get: {summary: A payment}
";
