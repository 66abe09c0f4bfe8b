//! `who uses PACKAGE [RANGE]`: the entities whose SBOMs list a package (at versions in a
//! range), with the versions, owners and who is on call; production first. From memory: the
//! SBOMs kept (beside catalog files) and the snapshot.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::json;

use super::answers::{Context, label, oncall_for, person_name, visible};
use super::grammar::Question;
use crate::catalog::Id;
use crate::compliance::version::Range;
use crate::conversation::{Intent, Reply, Section};
use crate::sources::local;

/// Most entities listed in the text; JSON lists them all.
const SHOWN: usize = 25;

pub fn uses(ctx: &Context<'_>, q: &Question) -> Reply {
    let mut r = Reply::new(Intent::Uses, &q.query);
    // As typed: quotes and articles are not a package's.
    let text = q.rest.trim();
    let (name, range_text) = match text.split_once(char::is_whitespace) {
        Some((n, rest)) => (n, rest.trim()),
        None => (text, ""),
    };
    if name.is_empty() {
        r.unresolved = true;
        r.view.headline =
            "Which package? e.g. `who uses log4j-core < 2.17.1` or `who uses requests >=2.0, <2.31`."
                .into();
        r.result = json!({"error": "no package named"});
        return r;
    }
    let range = if range_text.is_empty() {
        None
    } else {
        match Range::parse(range_text) {
            Ok(range) => Some(range),
            Err(why) => {
                r.unresolved = true;
                r.view.headline = format!("I can't read the versions: {why}");
                r.result = json!({"error": why});
                return r;
            }
        }
    };
    let listed = ctx.packages.named(name);
    // Which versions each SBOM scope has, admitted or not.
    let mut admitted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut other_versions: BTreeSet<&str> = BTreeSet::new();
    let mut sbom_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (sbom, p) in &listed {
        if range
            .as_ref()
            .is_none_or(|rg| rg.admits(p.scheme, &p.version))
        {
            admitted
                .entry(sbom.scope.as_str())
                .or_default()
                .insert(p.version.as_str());
            sbom_of
                .entry(sbom.scope.as_str())
                .or_default()
                .insert(sbom.location.as_str());
        } else {
            other_versions.insert(p.version.as_str());
        }
    }
    // The entities of those scopes: components in the directories the SBOMs lie in.
    let scopes: HashSet<&str> = admitted.keys().copied().collect();
    let mut found: Vec<(Id, &str)> = Vec::new();
    if !scopes.is_empty() {
        for (id, e) in ctx.snap.entities() {
            if &*e.origin.source != "local" || !e.kind_is("component") {
                continue;
            }
            let scope = local::scope_of(&e.origin.location);
            if let Some(s) = scopes.get(scope.as_str()) {
                found.push((id, s));
            }
        }
    }
    let private = found.iter().filter(|(id, _)| !visible(ctx, *id)).count();
    found.retain(|(id, _)| visible(ctx, *id));
    let production = |id: Id| ctx.snap.entity(id).lifecycle.as_deref() == Some("production");
    found.sort_by_key(|&(id, _)| (!production(id), ctx.snap.entity(id).name.clone()));

    let asked = match &range {
        Some(rg) => format!("{name} {rg}"),
        None => name.to_string(),
    };
    let mut lines = Vec::new();
    let mut matches = Vec::new();
    for &(id, scope) in &found {
        let e = ctx.snap.entity(id);
        let versions: Vec<&str> = admitted[scope].iter().copied().collect();
        let (owners, missing) = ctx.snap.owners(id);
        let owner_refs: Vec<String> = owners
            .iter()
            .map(|&o| ctx.snap.entity(o).key())
            .chain(missing)
            .collect();
        let oncall = oncall_for(ctx, id, ctx.now);
        let people: Vec<String> = oncall
            .iter()
            .flat_map(|o| o.shifts.iter().map(|(_, s)| person_name(ctx, s)))
            .collect();
        lines.push(format!(
            "{}{} — {name} {} · {} · on call: {}",
            label(e),
            e.lifecycle
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default(),
            versions.join(", "),
            owners
                .iter()
                .map(|&o| ctx.snap.entity(o).name.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if people.is_empty() {
                "nobody found".to_string()
            } else {
                people.join(", ")
            }
        ));
        matches.push(json!({
            "entity": e.key(),
            "lifecycle": e.lifecycle.as_deref(),
            "versions": versions,
            "owners": owner_refs,
            "oncall": oncall.iter().flat_map(|o| o.shifts.iter().map(|(_, s)| s.person.key())).collect::<Vec<_>>(),
            "sboms": sbom_of[scope].iter().collect::<Vec<_>>(),
        }));
    }
    r.view.headline = match (found.len(), listed.is_empty()) {
        (0, true) => {
            r.unresolved = true;
            format!(
                "No SBOM lists {name} ({} SBOMs read).",
                ctx.packages.sboms()
            )
        }
        (0, false) => format!(
            "No entity uses {asked}; the SBOMs list {name} at {}.",
            other_versions
                .iter()
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (1, _) => format!("1 entity uses {asked}"),
        (n, _) => format!("{n} entities use {asked}"),
    };
    if private > 0 {
        r.view
            .headline
            .push_str(&format!(" ({private} more you may not see)"));
    }
    if !lines.is_empty() {
        r.view.sections.push(Section::new("", lines, SHOWN));
    }
    r.result = json!({
        "package": name,
        "range": range.as_ref().map(|rg| rg.to_string()),
        "matches": matches,
        "private_count": private,
        "other_versions": other_versions,
        "sboms_read": ctx.packages.sboms(),
    });
    r
}
