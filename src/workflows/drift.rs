//! Golden-path drift: which entities made from a template (`backstage.io/source-template`,
//! `switchboard.dev/template-version`, both written by `create-service`) are behind the
//! template's current version, and what changed since (the template's changelog). The
//! templates are those the loaded workflows carry (`files_from`, `templates_from`).

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::Workflow;
use crate::ask::answers::{Context, visible};
use crate::ask::grammar::Question;
use crate::catalog::{Id, RelKind, Snapshot};
use crate::compliance::version::Scheme;
use crate::conversation::{Action, ActionId, Intent, Reply, Section, Style};

/// The annotation Backstage's scaffolder sets: the template an entity was made from.
pub const SOURCE_TEMPLATE: &str = "backstage.io/source-template";
/// The template's version when the entity was made (or last updated from it).
pub const TEMPLATE_VERSION: &str = "switchboard.dev/template-version";
/// Where a repository made from a golden path keeps the answers it was made from.
pub const ANSWERS: &str = ".switchboard/answers.yaml";
/// The workflow that brings a service to its template's current version.
pub const UPDATE_WORKFLOW: &str = "update-from-template";

/// A golden-path template as drift needs it.
#[derive(Clone, Debug)]
pub struct Template {
    pub name: String,
    pub version: String,
    /// `VERSION: what changed`, newest first, as `template.yaml` lists them.
    pub changelog: Vec<String>,
}

impl Template {
    /// What a step carries of its template (`template::load_tree`'s first half); None without
    /// a name.
    pub fn of(about: &Value) -> Option<Template> {
        Some(Template {
            name: about["name"].as_str()?.to_string(),
            version: text(&about["version"]),
            changelog: about["changelog"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        })
    }

    /// Its changelog entries after `from`, up to its version.
    pub fn changes_since(&self, from: &str) -> Vec<String> {
        changes_between(&self.changelog, from, &self.version)
    }
}

/// The templates the workflows carry, each once (the first of a name).
pub fn templates(workflows: &[Workflow]) -> Vec<Template> {
    let mut out: Vec<Template> = Vec::new();
    let mut add = |about: &Value| {
        if let Some(t) = Template::of(about)
            && !out.iter().any(|o| o.name == t.name)
        {
            out.push(t);
        }
    };
    for step in workflows.iter().flat_map(|w| &w.steps) {
        if step.with["template"].is_object() {
            add(&step.with["template"]);
        }
        for t in step.with["templates"].as_array().into_iter().flatten() {
            add(&t["template"]);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A version as text, however YAML typed it (`1.2` is a number).
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// How two template versions order (semver, `v` prefixes allowed).
pub fn compare(a: &str, b: &str) -> Ordering {
    Scheme::Semver.compare(a.trim_start_matches('v'), b.trim_start_matches('v'))
}

/// The changelog entries after `from` up to `to` (all up to `to` when `from` is unknown).
pub fn changes_between(changelog: &[String], from: &str, to: &str) -> Vec<String> {
    changelog
        .iter()
        .filter(|entry| {
            let v = entry.split(':').next().unwrap_or("").trim();
            (from.is_empty() || compare(v, from) == Ordering::Greater)
                && compare(v, to) != Ordering::Greater
        })
        .cloned()
        .collect()
}

/// The template name of a `backstage.io/source-template` value (`template:default/service`).
pub fn template_name(annotation: &str) -> &str {
    let after_kind = annotation.split_once(':').map_or(annotation, |(_, r)| r);
    after_kind.rsplit('/').next().unwrap_or(after_kind)
}

/// One entity made from a template, and how it stands.
#[derive(Clone, Debug)]
pub struct Standing {
    pub id: Id,
    pub template: String,
    /// Its version (empty when the entity does not say).
    pub version: String,
    /// The template's current version (None: no loaded workflow carries that template).
    pub current: Option<String>,
    pub changes: Vec<String>,
}

impl Standing {
    pub fn is_behind(&self) -> bool {
        self.current
            .as_deref()
            .is_some_and(|c| self.version.is_empty() || compare(&self.version, c) == Ordering::Less)
    }
}

/// Every entity made from a template that `keep` keeps (owned by a team, visible to the
/// asker), with how it stands against `templates`.
pub fn standings(
    snap: &Snapshot,
    templates: &[Template],
    keep: &dyn Fn(Id) -> bool,
) -> Vec<Standing> {
    let mut out = Vec::new();
    for (id, e) in snap.entities() {
        let Some(source) = e.annotation(SOURCE_TEMPLATE) else {
            continue;
        };
        if !keep(id) {
            continue;
        }
        let name = template_name(source).to_string();
        let version = e
            .annotation(TEMPLATE_VERSION)
            .unwrap_or("")
            .trim()
            .to_string();
        let t = templates.iter().find(|t| t.name == name);
        let changes = t.map(|t| t.changes_since(&version)).unwrap_or_default();
        out.push(Standing {
            id,
            template: name,
            version,
            current: t.map(|t| t.version.clone()),
            changes,
        });
    }
    out
}

/// The JSON of one standing, for answers and scripts.
pub fn standing_json(snap: &Snapshot, s: &Standing) -> Value {
    let e = snap.entity(s.id);
    json!({
        "entity": e.key(),
        "owners": e.related(RelKind::OwnedBy).map(|o| snap.entity(o).key()).collect::<Vec<_>>(),
        "template": s.template,
        "version": (!s.version.is_empty()).then_some(&s.version),
        "current": s.current,
        "changes": s.changes,
    })
}

/// The parameters a template's files are rendered with, from the answers a repository was made
/// with: an entity reference (`group:default/team-a`) becomes `{ref, kind, namespace, name}`,
/// as a parameter of type entity is; anything else stays as written.
pub fn params_of(answers: &Value) -> Value {
    let Some(m) = answers.as_object() else {
        return json!({});
    };
    let mut out = serde_json::Map::new();
    for (k, v) in m {
        let entity = v.as_str().and_then(|s| {
            let r = crate::catalog::refs::EntityRef::parse(s, None, "default").ok()?;
            s.contains(':').then(|| {
                json!({"ref": r.key(), "kind": r.kind.to_ascii_lowercase(),
                       "namespace": r.namespace, "name": r.name})
            })
        });
        out.insert(k.clone(), entity.unwrap_or_else(|| v.clone()));
    }
    Value::Object(out)
}

/// `drift [TEAM]`: the entities (of a team and the teams below it) behind their golden path's
/// current version, each with what changed since and a button that asks for the pull request
/// that updates it.
pub fn answer(ctx: &Context<'_>, workflows: &[Workflow], q: &Question) -> Reply {
    let snap = ctx.snap;
    let mut r = Reply::new(Intent::Drift, &q.query);
    let templates = templates(workflows);
    let name = q.subject.trim();
    let team = if name.is_empty() {
        None
    } else {
        match crate::scorecards::answers::team(ctx, name) {
            Some(g) => Some(g),
            None => {
                r.view.headline = format!("There is no team “{name}” in the catalog");
                r.result =
                    json!({"team": null, "behind": [], "current": 0, "unknown_template": []});
                r.unresolved = true;
                return r;
            }
        }
    };
    let owned = team.map(|g| crate::scorecards::answers::owned_by(ctx, g));
    let keep =
        |id: Id| visible(ctx, id) && owned.as_ref().is_none_or(|o| o.binary_search(&id).is_ok());
    let mut all = standings(snap, &templates, &keep);
    all.sort_by_key(|s| snap.entity(s.id).key());
    let (behind, rest): (Vec<&Standing>, Vec<&Standing>) = all.iter().partition(|s| s.is_behind());
    let (unknown, current): (Vec<&Standing>, Vec<&Standing>) =
        rest.into_iter().partition(|s| s.current.is_none());
    let of = team
        .map(|g| format!(" of {}", snap.entity(g).name))
        .unwrap_or_default();
    r.entity = team.map(|g| snap.entity(g).key());
    r.view.headline = match (behind.len(), current.len() + unknown.len()) {
        (0, 0) => {
            format!("No entity{of} was made from a golden path (annotation {SOURCE_TEMPLATE})")
        }
        (0, n) => format!(
            "Every entity{of} made from a golden path is on its template's current version ({n})"
        ),
        (1, _) => format!("1 entity{of} is behind its golden path"),
        (n, _) => format!("{n} entities{of} are behind their golden path"),
    };
    for s in &behind {
        let e = snap.entity(s.id);
        let owners: Vec<String> = e
            .related(RelKind::OwnedBy)
            .map(|o| snap.entity(o).name.to_string())
            .collect();
        let version = if s.version.is_empty() {
            "an unknown version"
        } else {
            &s.version
        };
        let mut lines = s.changes.clone();
        if lines.is_empty() {
            lines.push("(the changelog says nothing of these versions)".into());
        }
        r.view.sections.push(Section::new(
            format!(
                "{} ({}): {} {version} → {}",
                e.name,
                owners.join(", "),
                s.template,
                s.current.as_deref().unwrap_or("?")
            ),
            lines,
            10,
        ));
    }
    if !unknown.is_empty() {
        r.view.sections.push(Section::new(
            "Made from templates no workflow carries",
            unknown
                .iter()
                .map(|s| format!("{} (template {})", snap.entity(s.id).name, s.template))
                .collect(),
            10,
        ));
    }
    if workflows.iter().any(|w| w.name == UPDATE_WORKFLOW) {
        for s in behind.iter().take(5) {
            let e = snap.entity(s.id);
            r.actions.push(Action {
                label: format!("Update {}", e.name),
                style: Style::Primary,
                id: ActionId::Ask(format!("run {UPDATE_WORKFLOW} service={}", e.key())),
            });
        }
    }
    r.result = json!({
        "team": team.map(|g| snap.entity(g).key()),
        "templates": templates.iter().map(|t| json!({"name": t.name, "version": t.version})).collect::<Vec<_>>(),
        "behind": behind.iter().map(|s| standing_json(snap, s)).collect::<Vec<_>>(),
        "current": current.len(),
        "unknown_template": unknown.iter().map(|s| standing_json(snap, s)).collect::<Vec<_>>(),
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changes_between_two_versions_are_those_after_the_first_up_to_the_second() {
        let log: Vec<String> = [
            "1.3.0: CI runs on pull requests",
            "1.2.0: README gains on-call and runbook sections",
            "1.1.0: CI caches dependencies",
            "1.0.0: first version",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            changes_between(&log, "1.1.0", "1.3.0"),
            &log[..2],
            "after 1.1.0, up to 1.3.0"
        );
        assert_eq!(
            changes_between(&log, "1.3.0", "1.3.0"),
            Vec::<String>::new()
        );
        assert_eq!(changes_between(&log, "", "1.2.0"), &log[1..]);
        // 1.10.0 is after 1.9.0, not before it.
        assert_eq!(compare("1.10.0", "1.9.0"), Ordering::Greater);
    }

    #[test]
    fn template_names_and_answers_read_as_written() {
        assert_eq!(template_name("template:default/service"), "service");
        assert_eq!(template_name("service"), "service");
        let p =
            params_of(&json!({"name": "ledger", "owner": "group:default/team-a", "system": ""}));
        assert_eq!(p["owner"]["ref"], "group:default/team-a");
        assert_eq!(p["owner"]["name"], "team-a");
        assert_eq!(p["name"], "ledger");
        assert_eq!(p["system"], "");
    }
}
