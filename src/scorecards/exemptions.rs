//! Exemptions in force, as scoring reads them: a check of a scorecard that counts as passed
//! for one entity until it expires. Granted by an approved run of the scorecard's exemption
//! workflow (`exempt-NAME`, generated from its `owners`), kept in the store.

use std::collections::HashMap;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::Scorecard;
use crate::outbox::Sending;
use crate::store::{Exemption, Store};
use crate::workflows::Workflow;
use crate::workflows::executor::{Call, Executor};

/// Exemptions by (entity, scorecard, check).
#[derive(Clone, Debug, Default)]
pub struct Exemptions(HashMap<(String, String, String), Exemption>);

impl Exemptions {
    pub fn new(list: Vec<Exemption>) -> Exemptions {
        Exemptions(
            list.into_iter()
                .map(|e| ((e.entity.clone(), e.scorecard.clone(), e.check.clone()), e))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The exemption of `entity` from `check` of `scorecard` in force at `now`, if any.
    pub fn of(&self, entity: &str, scorecard: &str, check: &str, now: i64) -> Option<&Exemption> {
        self.0
            .get(&(entity.to_string(), scorecard.to_string(), check.to_string()))
            .filter(|e| e.expires_at > now)
    }
}

/// The exemption workflow of each scorecard that names owners: the entity's owners ask, with
/// a reason, for some of its checks; one of the scorecard's owners approves; the exemption
/// lasts `days`. A scorecard whose workflow cannot be made is said in the second list.
pub fn workflows(cards: &[Scorecard], days: u32) -> (Vec<Workflow>, Vec<String>) {
    let mut problems = Vec::new();
    let made = cards
        .iter()
        .filter(|sc| !sc.owners.is_empty())
        .filter_map(|sc| {
            let name = crate::desk::exemption_workflow(&sc.name);
            let yaml = format!(
                r#"name: {name}
title: "Exempt from {title}"
description: "Counts checks of the {title} scorecard as passed for one entity for {days} days. Its owners decide."
target: entity
parameters:
  - name: entity
    type: entity
    required: true
  - name: checks
    type: string
    description: The checks, by name, comma-separated.
    pattern: "^[a-z0-9-]+(,[a-z0-9-]+)*$"
    required: true
  - name: reason
    type: string
    max_length: 500
    required: true
allowed: [owners]
approval:
  approvers: [{approvers}]
  quorum: 1
  expires_in: 72h
steps:
  - name: exempt
    uses: scorecard.exempt
    with:
      entity: "{{{{ entity.ref }}}}"
      scorecard: {scorecard}
      checks: "{{{{ params.checks }}}}"
      reason: "{{{{ params.reason }}}}"
      days: {days}
"#,
                title = sc.title.replace('"', "'"),
                approvers = sc.owners.join(", "),
                scorecard = sc.name,
            );
            match crate::workflows::definition::parse(&format!("{}:{}", sc.file, sc.line), yaml.as_bytes()) {
                Ok(w) => Some(w),
                Err(findings) => {
                    problems.extend(findings.into_iter().map(|f| {
                        format!("{}:{}: its exemption workflow: {}", sc.file, sc.line, f.message)
                    }));
                    None
                }
            }
        })
        .collect();
    (made, problems)
}

/// `scorecard.exempt`: records the exemption of an entity from checks of a scorecard. Done
/// twice for the same run, it records the same exemption once.
pub struct Exempt {
    pub store: Store,
}

impl Executor for Exempt {
    fn name(&self) -> &'static str {
        "scorecard.exempt"
    }

    fn changes_scores(&self) -> bool {
        true
    }

    fn run<'a>(&'a self, call: &'a Call<'a>) -> Sending<'a, Value> {
        Box::pin(async move {
            let text = |k: &str| call.with.get(k).and_then(Value::as_str).map(str::to_string);
            let (Some(entity), Some(scorecard), Some(checks), Some(reason)) = (
                text("entity"),
                text("scorecard"),
                text("checks"),
                text("reason"),
            ) else {
                bail!("scorecard.exempt needs `entity`, `scorecard`, `checks` and `reason`");
            };
            let days = call
                .with
                .get("days")
                .and_then(|d| d.as_i64().or_else(|| d.as_str()?.parse().ok()))
                .context("scorecard.exempt needs `days`")?;
            // From the request, so that a step done again records the same exemption.
            let now = chrono::Utc::now().timestamp();
            let expires_at = call.requested_at + days * 86_400;
            let checks: Vec<&str> = checks.split(',').filter(|c| !c.is_empty()).collect();
            for check in &checks {
                self.store
                    .exempt(&Exemption {
                        entity: entity.clone(),
                        scorecard: scorecard.clone(),
                        check: check.to_string(),
                        reason: reason.clone(),
                        run_id: call.run_id,
                        granted_at: now,
                        expires_at,
                    })
                    .await?;
            }
            Ok(
                json!({"entity": entity, "scorecard": scorecard, "checks": checks, "expires_at": expires_at}),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scorecard_with_owners_gets_an_exemption_workflow_its_owners_approve() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        std::fs::write(
            &path,
            "name: basics\ntitle: Basics \"first\"\nowners: [group:default/standards]\nchecks:\n  - check: owner\nlevels:\n  - name: bronze\n    checks: [owner]\n---\nname: loose\nchecks:\n  - check: owner\nlevels:\n  - name: bronze\n    checks: [owner]\n",
        )
        .unwrap();
        let (cards, problems) = super::super::load(&[path.display().to_string()]);
        assert!(problems.is_empty(), "{problems:?}");
        let (made, problems) = workflows(&cards, 30);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(made.len(), 1, "only the scorecard with owners");
        let w = &made[0];
        assert_eq!(w.name, "exempt-basics");
        assert_eq!(w.steps[0].uses, "scorecard.exempt");
        assert_eq!(
            w.approval.as_ref().unwrap().approvers[0].to_string(),
            "group:default/standards"
        );
    }
}
