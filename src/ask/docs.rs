//! "Where are the docs?", "show me its runbook", "how do I call X?", "which API serves
//! /pets?": answered from the snapshot (links, annotations, and API definitions read when it
//! was built), each fact with the field and file it was written in.

use serde_json::{Value, json};

use super::answers::{Context, label, note_for, visible};
use super::grammar::Question;
use crate::catalog::apidef::{self, Definition};
use crate::catalog::links::{self, Group};
use crate::catalog::{Id, RelKind};
use crate::conversation::{Intent, Reply, Section};

/// Most operations listed per API; the rest are counted.
const OPERATIONS_SHOWN: usize = 25;
/// Most operations the JSON result carries per API (`operations_total` says how many there are).
const OPERATIONS_IN_JSON: usize = 500;

/// `docs X` / `runbook X`: the entity's links and docs references, grouped.
pub fn docs(ctx: &Context<'_>, q: &Question, id: Id) -> Reply {
    let e = ctx.snap.entity(id);
    let mut r = Reply::new(Intent::Docs, &q.query);
    let found = links::of(e);
    let place = format!("{}:{}", e.origin.location, e.origin.line);
    let runbook_asked = q.query.to_ascii_lowercase().contains("runbook");
    let runbooks = found.iter().filter(|f| f.group == Group::Runbook).count();
    r.view.headline = if found.is_empty() {
        format!(
            "{} has no links or docs references. Add them under `metadata.links` in {place}.",
            label(e)
        )
    } else if runbook_asked && runbooks == 0 {
        format!(
            "{} has no runbook. Add a link of `type: runbook` under `metadata.links` (or the \
             `{}` annotation) in {place}.",
            label(e),
            links::RUNBOOK_ANNOTATION
        )
    } else {
        format!("Docs and links of {}", label(e))
    };
    let mut result = serde_json::Map::new();
    for g in Group::ALL {
        let items: Vec<&links::Found> = found.iter().filter(|f| f.group == g).collect();
        result.insert(
            g.key().into(),
            Value::Array(
                items
                    .iter()
                    .map(|f| json!({"title": f.title, "url": f.url, "field": f.field, "source": place}))
                    .collect(),
            ),
        );
        if !items.is_empty() {
            r.view.sections.push(Section::new(
                g.title(),
                items
                    .iter()
                    .map(|f| format!("{}: {} ({})", f.title, f.url, f.field))
                    .collect(),
                10,
            ));
        }
    }
    r.result = Value::Object(result);
    r.provenance.push(note_for("links", e));
    r
}

/// `api X` / `how do I call X`: an API's definition, or the APIs a component provides.
pub fn api(ctx: &Context<'_>, q: &Question, id: Id) -> Reply {
    let snap = ctx.snap;
    let e = snap.entity(id);
    let mut r = Reply::new(Intent::Api, &q.query);
    let apis: Vec<Id> = if e.kind_is("api") {
        vec![id]
    } else {
        e.related(RelKind::ProvidesApi)
            .filter(|&a| visible(ctx, a))
            .collect()
    };
    if apis.is_empty() {
        r.view.headline = format!(
            "{} provides no API in the catalog (no `spec.providesApis`); its docs: `docs {}`.",
            label(e),
            e.name
        );
        r.result = json!({"apis": []});
        return r;
    }
    r.view.headline = if apis == [id] {
        format!("How to call {}", label(e))
    } else {
        format!(
            "{} provides {} API{}",
            label(e),
            apis.len(),
            if apis.len() == 1 { "" } else { "s" }
        )
    };
    let mut out = Vec::new();
    for &a in &apis {
        let api = snap.entity(a);
        let place = format!(
            "spec.definition in {}:{}",
            api.origin.location, api.origin.line
        );
        let name = format!(
            "{} ({})",
            api.name,
            api.spec_type.as_deref().unwrap_or("no type")
        );
        let mut lines = Vec::new();
        let mut j = json!({
            "ref": api.key(),
            "type": api.spec_type.as_deref(),
            "source": place,
        });
        match api.api.as_deref() {
            None => {
                lines.push(format!("No definition (`spec.definition`) in {place}."));
                j["definition"] = json!("missing");
            }
            Some(Definition::Link(url)) => {
                lines.push(format!(
                    "Definition at {url} (an absolute URL: shown, never fetched by Switchboard)"
                ));
                j["definition"] = json!("link");
                j["url"] = json!(url);
            }
            Some(Definition::Unread(target)) => {
                let why = snap
                    .problems
                    .iter()
                    .find(|p| {
                        p.location == *api.origin.location && p.message.contains(target.as_str())
                    })
                    .map(|p| p.message.clone())
                    .unwrap_or_else(|| format!("{target} was not read"));
                r.warnings.push(format!(
                    "The definition of {} could not be read: {why}",
                    api.name
                ));
                j["definition"] = json!("unread");
                j["target"] = json!(target);
                j["reason"] = json!(why);
            }
            Some(Definition::Opaque { lines: n, why }) => {
                lines.push(format!(
                    "Definition: {n} lines of {}, not read here{}; see `docs {}`.",
                    api.spec_type.as_deref().unwrap_or("text"),
                    why.as_deref()
                        .map(|w| format!(" ({w})"))
                        .unwrap_or_default(),
                    api.name
                ));
                j["definition"] = json!("opaque");
                j["lines"] = json!(n);
            }
            Some(Definition::Read(d)) => {
                let mut head = d.format.clone();
                if let Some(t) = &d.title {
                    head.push_str(&format!(" · {t}"));
                }
                if let Some(v) = &d.version {
                    head.push_str(&format!(" {v}"));
                }
                lines.push(head);
                if !d.servers.is_empty() {
                    lines.push(format!("Servers: {}", d.servers.join(", ")));
                }
                if !d.auth.is_empty() {
                    lines.push(format!("Auth: {}", d.auth.join("; ")));
                }
                for o in d.operations.iter().take(OPERATIONS_SHOWN) {
                    lines.push(match &o.summary {
                        Some(s) => format!("{} {} · {s}", o.verb, o.target),
                        None => format!("{} {}", o.verb, o.target),
                    });
                }
                j["definition"] = json!("read");
                j["format"] = json!(d.format);
                j["title"] = json!(d.title);
                j["version"] = json!(d.version);
                j["servers"] = json!(d.servers);
                j["auth"] = json!(d.auth);
                j["operations"] = Value::Array(
                    d.operations
                        .iter()
                        .take(OPERATIONS_IN_JSON)
                        .map(|o| json!({"verb": o.verb, "target": o.target, "summary": o.summary}))
                        .collect(),
                );
                j["operations_total"] = json!(d.operations.len());
            }
        }
        let more = match api.api.as_deref() {
            Some(Definition::Read(d)) => d.operations.len().saturating_sub(OPERATIONS_SHOWN),
            _ => 0,
        };
        let mut section = Section::new(name, lines, usize::MAX);
        section.more = more;
        r.view.sections.push(section);
        r.provenance.push(note_for("definition", api));
        out.push(j);
    }
    r.result = json!({"apis": out});
    r
}

/// `find endpoint /pets`: the APIs whose definitions expose a path.
pub fn endpoint(ctx: &Context<'_>, q: &Question) -> Reply {
    let snap = ctx.snap;
    let path = q.subject.trim().to_string();
    let mut r = Reply::new(Intent::Endpoint, &q.query);
    if !path.starts_with('/') {
        r.view.headline = format!(
            "An endpoint is a path: `find endpoint /{}`.",
            path.trim_start_matches('/')
        );
        return r;
    }
    let mut matches = Vec::new();
    let mut lines = Vec::new();
    for (id, e) in snap.entities() {
        let Some(Definition::Read(d)) = e.api.as_deref() else {
            continue;
        };
        if !visible(ctx, id) || d.format.starts_with("GraphQL") {
            continue;
        }
        let ops: Vec<&apidef::Operation> = d
            .operations
            .iter()
            .filter(|o| apidef::path_matches(&o.target, &path))
            .collect();
        if ops.is_empty() {
            continue;
        }
        let (owners, _) = snap.owners(id);
        let owner = owners
            .first()
            .map(|&o| snap.entity(o).name.to_string())
            .unwrap_or_else(|| "no owner".into());
        for o in &ops {
            lines.push(format!(
                "{} · {} {}{} (owner {owner})",
                e.name,
                o.verb,
                o.target,
                o.summary
                    .as_deref()
                    .map(|s| format!(" · {s}"))
                    .unwrap_or_default()
            ));
        }
        matches.push(json!({
            "api": e.key(),
            "owners": owners.iter().map(|&o| snap.entity(o).key()).collect::<Vec<_>>(),
            "operations": ops.iter().map(|o| json!({"verb": o.verb, "target": o.target, "summary": o.summary})).collect::<Vec<_>>(),
            "source": format!("spec.definition in {}:{}", e.origin.location, e.origin.line),
        }));
    }
    r.view.headline = if matches.is_empty() {
        r.unresolved = true;
        format!(
            "No API in the catalog exposes {path} (only definitions Switchboard could read are searched)."
        )
    } else {
        format!(
            "{} API{} expose{} {path}",
            matches.len(),
            if matches.len() == 1 { "" } else { "s" },
            if matches.len() == 1 { "s" } else { "" }
        )
    };
    r.view.sections.push(Section::new("Operations", lines, 25));
    r.result = json!({"path": path, "matches": matches});
    r
}
