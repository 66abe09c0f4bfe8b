//! Scoring an entity against a scorecard, from the snapshot alone: each check passes or fails
//! with why, and a failing one says how to fix it — what to change, in which file and line
//! (the entity's provenance), and the workflow that does it where there is one.

use serde_json::{Value, json};

use super::definition::{Builtin, Check, Filter, Scorecard, Test};
use crate::ask::answers::{Context, claim_disagreements, oncall_people, visible};
use crate::catalog::{Entity, Id, RelKind, Snapshot};
use crate::workflows::policy::Facts;

use crate::catalog::links::{RUNBOOK_ANNOTATION, has_runbook};

/// How one check went.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Index of the check in its scorecard.
    pub check: usize,
    pub passed: bool,
    /// Why it failed.
    pub why: String,
    /// It failed, but counts as passed: the exemption's reason and when it ends.
    pub exempt: Option<String>,
}

/// An entity's result on one scorecard.
#[derive(Clone, Debug)]
pub struct Scored {
    pub entity: Id,
    pub outcomes: Vec<Outcome>,
    /// Weighted share of checks passed, 0–100.
    pub score: u32,
    /// The highest level reached (an index into the scorecard's levels).
    pub level: Option<usize>,
}

impl Filter {
    /// Whether an entity is one this scorecard is about.
    pub fn matches(&self, snap: &Snapshot, id: Id) -> bool {
        let e = snap.entity(id);
        let lower = |s: Option<&str>| s.map(str::to_ascii_lowercase);
        let one_of = |list: &[String], v: Option<String>| {
            list.is_empty() || v.is_some_and(|v| list.contains(&v))
        };
        one_of(&self.kind, Some(e.kind.to_ascii_lowercase()))
            && one_of(&self.r#type, lower(e.spec_type.as_deref()))
            && one_of(&self.lifecycle, lower(e.lifecycle.as_deref()))
            && (self.tag.is_empty()
                || e.tags
                    .iter()
                    .any(|t| self.tag.contains(&t.to_ascii_lowercase())))
            && (self.system.is_empty()
                || e.related(RelKind::PartOf)
                    .any(|s| self.system.contains(&snap.entity(s).key())))
    }
}

impl Scorecard {
    /// Scores `id` (which the filter matched).
    pub fn score(&self, ctx: &Context<'_>, id: Id) -> Scored {
        let facts = std::cell::OnceCell::new();
        let key = std::cell::OnceCell::new();
        let outcomes: Vec<Outcome> = self
            .checks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (passed, why) = match run(c, ctx, id, &facts) {
                    Ok(()) => (true, String::new()),
                    Err(why) => (false, why),
                };
                let exempt = (!passed && !ctx.exemptions.is_empty())
                    .then(|| {
                        let key = key.get_or_init(|| ctx.snap.entity(id).key());
                        ctx.exemptions
                            .of(key, &self.name, &c.name, ctx.now.timestamp())
                    })
                    .flatten()
                    .map(|x| {
                        let until = chrono::DateTime::from_timestamp(x.expires_at, 0)
                            .map(|t| t.format("%Y-%m-%d").to_string())
                            .unwrap_or_default();
                        format!("exempt until {until} (run {}): {}", x.run_id, x.reason)
                    });
                Outcome {
                    check: i,
                    passed: passed || exempt.is_some(),
                    why,
                    exempt,
                }
            })
            .collect();
        let total: u32 = self.checks.iter().map(|c| c.weight).sum();
        let passed: u32 = outcomes
            .iter()
            .filter(|o| o.passed)
            .map(|o| self.checks[o.check].weight)
            .sum();
        let score = (passed * 100).checked_div(total).unwrap_or(100);
        // A level holds when its checks and every lower level's pass.
        let level = self
            .levels
            .iter()
            .take_while(|l| l.checks.iter().all(|&c| outcomes[c].passed))
            .count()
            .checked_sub(1);
        Scored {
            entity: id,
            outcomes,
            score,
            level,
        }
    }

    /// The entities this scorecard is about, in the snapshot's order.
    pub fn entities<'a>(&'a self, snap: &'a Snapshot) -> impl Iterator<Item = Id> + 'a {
        snap.entities()
            .map(|(id, _)| id)
            .filter(move |&id| self.filter.matches(snap, id))
    }

    pub fn level_name(&self, level: Option<usize>) -> &str {
        level.map_or("none", |l| self.levels[l].name.as_str())
    }
}

/// Where an entity is defined, as a fix names it.
fn at(e: &Entity) -> String {
    format!("{}:{}", e.origin.location, e.origin.line)
}

/// What to change for a failed check, and where: the scorecard's own words, else the built-in
/// fix, with the file and line the entity is defined at.
pub fn fix(c: &Check, e: &Entity) -> String {
    let place = at(e);
    let mut text = match (&c.fix, &c.test) {
        (Some(f), _) => format!("{f} (in {place})"),
        (None, Test::Builtin(b)) => match b {
            Builtin::Owner => format!("Set `spec.owner` to a Group that has members, in {place}"),
            Builtin::Description => format!("Add `metadata.description`, in {place}"),
            Builtin::Lifecycle => {
                format!("Set `spec.lifecycle` (experimental, production or deprecated), in {place}")
            }
            Builtin::System => format!("Set `spec.system` to the System it is part of, in {place}"),
            Builtin::Oncall => format!(
                "Give its owner an on-call rotation (config/oncall.yaml), or add the \
                 `pagerduty.com/service-id` annotation, in {place}"
            ),
            Builtin::Runbook => format!(
                "Add a link of `type: runbook` under `metadata.links` (or the \
                 `{RUNBOOK_ANNOTATION}` annotation), in {place}"
            ),
            Builtin::Techdocs => {
                format!("Add the `backstage.io/techdocs-ref` annotation, in {place}")
            }
            Builtin::ApiDefinition => {
                format!(
                    "Register the API entities it provides, with their `spec.definition`; `spec.providesApis` is in {place}"
                )
            }
            Builtin::Tags => format!("Add `metadata.tags`, in {place}"),
            Builtin::Dependencies => format!(
                "List what it needs under `spec.dependsOn` / `spec.consumesApis`, each in the \
                 catalog, in {place}"
            ),
            Builtin::NoDeprecatedDependencies => format!(
                "Move off the deprecated dependencies named above, then drop them from \
                 `spec.dependsOn` / `spec.consumesApis`, in {place}"
            ),
            Builtin::OwnershipAgrees => format!(
                "Make the other sources name the same team (CODEOWNERS, PagerDuty's service \
                 team), or change `spec.owner` in {place}"
            ),
            Builtin::NotQuarantined => format!("Fix what the validation says, in {place}"),
        },
        (None, Test::Annotation(a)) => format!("Add the annotation `{a}`, in {place}"),
        (None, Test::Expression(_)) => format!("Change {place} so that it holds"),
    };
    if let Some(w) = &c.workflow {
        text.push_str(&format!("; or `run {w}`"));
    }
    text
}

/// Decides one check: Ok, or why it fails.
fn run(
    c: &Check,
    ctx: &Context<'_>,
    id: Id,
    facts: &std::cell::OnceCell<Value>,
) -> Result<(), String> {
    let snap = ctx.snap;
    let e = snap.entity(id);
    match &c.test {
        Test::Builtin(b) => builtin(*b, ctx, id),
        Test::Annotation(a) => match e.annotation(a) {
            Some(v) if !v.trim().is_empty() => Ok(()),
            _ => Err(format!("no `{a}` annotation")),
        },
        Test::Expression(rule) => {
            let entity = facts.get_or_init(|| crate::catalog::facts::entity_json(snap, id));
            let f = Facts {
                params: &Value::Null,
                entity,
                actor: &Value::Null,
                now: ctx.now,
            };
            match rule.holds(&f) {
                Ok(true) => Ok(()),
                Ok(false) => Err(format!("`{}` does not hold", rule.source)),
                Err(e) => Err(e),
            }
        }
    }
}

fn builtin(b: Builtin, ctx: &Context<'_>, id: Id) -> Result<(), String> {
    let snap = ctx.snap;
    let e = snap.entity(id);
    let dangling = |kinds: &[RelKind]| -> Vec<String> {
        e.dangling
            .iter()
            .filter(|(k, _)| kinds.contains(k))
            .map(|(_, r)| r.to_string())
            .collect()
    };
    let fail_if = |failed: bool, why: &str| if failed { Err(why.to_string()) } else { Ok(()) };
    match b {
        Builtin::Owner => {
            let owners: Vec<Id> = e.related(RelKind::OwnedBy).collect();
            if owners.is_empty() {
                let missing = dangling(&[RelKind::OwnedBy]);
                return Err(match missing.first() {
                    Some(o) => format!("its owner {o} is not in the catalog"),
                    None => "no owner".into(),
                });
            }
            if owners.iter().any(|&o| snap.is_staffed(o)) {
                Ok(())
            } else {
                Err(format!(
                    "its owner {} is not a group with members",
                    snap.entity(owners[0]).key()
                ))
            }
        }
        Builtin::Description => fail_if(
            e.description.as_deref().is_none_or(|d| d.trim().is_empty()),
            "no description",
        ),
        Builtin::Lifecycle => fail_if(e.lifecycle.is_none(), "no lifecycle"),
        Builtin::System => fail_if(
            !e.related(RelKind::PartOf)
                .any(|s| snap.entity(s).kind_is("system")),
            "not part of a system",
        ),
        Builtin::Oncall => fail_if(
            oncall_people(ctx, id, ctx.now).is_empty(),
            "nobody is on call for it (no rotation for its owner, no PagerDuty service)",
        ),
        Builtin::Runbook => fail_if(!has_runbook(e), "no runbook"),
        Builtin::Techdocs => fail_if(
            e.annotation("backstage.io/techdocs-ref").is_none(),
            "no TechDocs",
        ),
        Builtin::ApiDefinition => {
            let missing = dangling(&[RelKind::ProvidesApi]);
            let broken: Vec<String> = e
                .related(RelKind::ProvidesApi)
                .filter(|&a| snap.entity(a).is_quarantined())
                .map(|a| snap.entity(a).key())
                .collect();
            match (missing.first(), broken.first()) {
                (Some(m), _) => Err(format!("it provides {m}, which is not in the catalog")),
                (None, Some(b)) => Err(format!("the definition of {b} is not valid")),
                (None, None) => Ok(()),
            }
        }
        Builtin::Tags => fail_if(e.tags.is_empty(), "no tags"),
        Builtin::Dependencies => {
            let kinds = [RelKind::DependsOn, RelKind::ConsumesApi];
            let missing = dangling(&kinds);
            if let Some(m) = missing.first() {
                return Err(format!("it depends on {m}, which is not in the catalog"));
            }
            fail_if(
                !kinds.iter().any(|&k| e.related(k).next().is_some()),
                "declares no dependencies",
            )
        }
        Builtin::NoDeprecatedDependencies => {
            if !e
                .lifecycle
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case("production"))
            {
                return Ok(());
            }
            let deprecated: Vec<String> = [RelKind::DependsOn, RelKind::ConsumesApi]
                .into_iter()
                .flat_map(|k| e.related(k))
                .filter(|&d| {
                    snap.entity(d)
                        .lifecycle
                        .as_deref()
                        .is_some_and(|l| l.eq_ignore_ascii_case("deprecated"))
                })
                // A private dependency counts without being named to someone who may not see it.
                .map(|d| match visible(ctx, d) {
                    true => snap.entity(d).key(),
                    false => "a private entity".into(),
                })
                .collect();
            fail_if(
                !deprecated.is_empty(),
                &format!(
                    "in production, it depends on deprecated {}",
                    deprecated.join(", ")
                ),
            )
        }
        Builtin::OwnershipAgrees => {
            let other = claim_disagreements(ctx, id);
            match other.first() {
                Some(d) => Err(format!("{} names {}", d.source, d.who)),
                None => Ok(()),
            }
        }
        Builtin::NotQuarantined => match e.reasons.first() {
            Some(r) => Err(format!("quarantined: {r}")),
            None => Ok(()),
        },
    }
}

impl Scored {
    /// As the JSON result shows it.
    pub fn json(&self, sc: &Scorecard, snap: &Snapshot) -> Value {
        let e = snap.entity(self.entity);
        json!({
            "scorecard": sc.name,
            "score": self.score,
            "level": self.level.map(|l| sc.levels[l].name.clone()),
            "checks": self.outcomes.iter().map(|o| {
                let c = &sc.checks[o.check];
                json!({
                    "check": c.name, "title": c.title, "weight": c.weight, "passed": o.passed,
                    "why": (!o.passed || o.exempt.is_some()).then_some(&o.why),
                    "fix": (!o.passed || o.exempt.is_some()).then(|| fix(c, e)),
                    "exempt": o.exempt,
                    "workflow": c.workflow,
                })
            }).collect::<Vec<_>>(),
        })
    }
}
