//! `who uses PACKAGE [RANGE]`: the entities whose SBOMs list a package (at versions in a
//! range), with the versions, owners and who is on call; production first. From memory: the
//! SBOMs kept (beside catalog files) and the snapshot.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::answers::{Context, label, oncall_for, person_name, visible};
use super::grammar::Question;
use crate::catalog::Id;
use crate::compliance::version::Range;
use crate::conversation::{Intent, Reply, Section};

/// Most entities listed in the text; JSON lists them all.
const SHOWN: usize = 25;

/// A `uses:` filter's value: `lodash`, `log4j-core@<2.17.1`, `@angular/core@>=12` (a scope's
/// leading `@` is the name's), as the package name and the range, or why the range cannot be
/// read.
pub(super) fn uses_filter(v: &str) -> Result<(&str, Option<Range>), String> {
    let at = v.get(1..).and_then(|t| t.find('@')).map(|i| i + 1);
    match at {
        Some(i) => Range::parse(&v[i + 1..])
            .map(|rg| (&v[..i], Some(rg)))
            .map_err(|why| format!("I can't read the versions of `uses:{v}`: {why}")),
        None => Ok((v, None)),
    }
}

/// Where a package is listed: the SBOM scopes with versions admitted, and the rest.
pub(super) struct Found<'a> {
    /// Whether any SBOM lists the package at all.
    listed: bool,
    /// Scope → the versions admitted there.
    admitted: BTreeMap<&'a str, BTreeSet<&'a str>>,
    /// Scope → the SBOM files that admitted them.
    sbom_of: BTreeMap<&'a str, BTreeSet<&'a str>>,
    /// Scope → versions listed there outside the range.
    other_versions: BTreeMap<&'a str, BTreeSet<&'a str>>,
}

impl<'a> Found<'a> {
    pub(super) fn of(ctx: &Context<'a>, name: &str, range: Option<&Range>) -> Found<'a> {
        let listed = ctx.packages.named(name);
        let mut f = Found {
            listed: !listed.is_empty(),
            admitted: BTreeMap::new(),
            sbom_of: BTreeMap::new(),
            other_versions: BTreeMap::new(),
        };
        for (sbom, p) in listed {
            if range.is_none_or(|rg| rg.admits(p.scheme, &p.version)) {
                f.admitted
                    .entry(sbom.scope.as_str())
                    .or_default()
                    .insert(p.version.as_str());
                f.sbom_of
                    .entry(sbom.scope.as_str())
                    .or_default()
                    .insert(sbom.location.as_str());
            } else {
                f.other_versions
                    .entry(sbom.scope.as_str())
                    .or_default()
                    .insert(p.version.as_str());
            }
        }
        f
    }

    /// Scope → the versions admitted there.
    pub(super) fn admitted(&self) -> &BTreeMap<&'a str, BTreeSet<&'a str>> {
        &self.admitted
    }

    /// The components that use it, each with its scope.
    pub(super) fn entities(&self, ctx: &Context<'_>) -> Vec<(Id, &'a str)> {
        entities_in(ctx, &self.admitted)
    }
}

/// The components of these scopes (the directories or repositories of the SBOMs).
fn entities_in<'a, T>(ctx: &Context<'_>, scopes: &BTreeMap<&'a str, T>) -> Vec<(Id, &'a str)> {
    if scopes.is_empty() {
        return Vec::new();
    }
    let by_scope = ctx.snap.components_by_scope();
    scopes
        .keys()
        .flat_map(|s| {
            by_scope
                .get(*s)
                .into_iter()
                .flatten()
                .map(move |&id| (id, *s))
        })
        .collect()
}

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
    let found_in = Found::of(ctx, name, range.as_ref());
    let Found {
        listed,
        admitted,
        sbom_of,
        other_versions,
    } = &found_in;
    let mut found = found_in.entities(ctx);
    // Versions outside the range are named only where the asker sees a component.
    let by_scope = ctx.snap.components_by_scope();
    let other_versions: BTreeSet<&str> = other_versions
        .iter()
        .filter(|(scope, _)| {
            by_scope
                .get(**scope)
                .is_some_and(|ids| ids.iter().any(|&id| visible(ctx, id)))
        })
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
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
            if owners.is_empty() {
                "no owner".to_string()
            } else {
                owners
                    .iter()
                    .map(|&o| ctx.snap.entity(o).name.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
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
    r.view.headline = match (found.len(), !*listed) {
        (0, true) => {
            r.unresolved = true;
            format!(
                "No SBOM lists {name} ({} SBOMs read).",
                ctx.packages.sboms()
            )
        }
        (0, false) if !other_versions.is_empty() => format!(
            "No entity uses {asked}; the SBOMs list {name} at {}.",
            other_versions
                .iter()
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (0, false) => format!("No component you may see uses {asked}."),
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
