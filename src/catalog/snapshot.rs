//! The in-memory catalog every question is answered from.
//!
//! A `Snapshot` is built once from the entities a sync (or the store, at start-up) hands over,
//! then never changes: a new sync builds a new one and swaps it in atomically. Entities are kept
//! compact (interned strings, relations as 8-byte edges) so a large catalog stays small.

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use serde_json::Value;

use super::keys::Keys;
use super::list::EntityList;
use super::model::{Claim, Provenance, RawEntity, RelKind, identity, spec_relations};
use super::refs::{DEFAULT_NAMESPACE, EntityRef};
use super::search::NameIndex;

/// Index of an entity inside a snapshot.
pub type Id = u32;

/// An edge to another entity of the same snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rel {
    pub kind: RelKind,
    pub target: Id,
    /// Whether this end declares it in its own definition (false when only the other end
    /// does): what a patch needs to know when the other end is replaced.
    pub declared: bool,
}

/// A link from `metadata.links`.
#[derive(Clone, Debug)]
pub struct Link {
    pub url: Box<str>,
    pub title: Option<Box<str>>,
    /// Its `type` (`runbook`, `dashboard`), when given.
    pub kind: Option<Box<str>>,
}

/// Where an entity came from, with the shared strings interned.
#[derive(Clone, Debug)]
pub struct Origin {
    pub source: Arc<str>,
    pub location: Arc<str>,
    pub line: u32,
    pub commit: Option<Arc<str>>,
    pub fetched_at: i64,
    /// Since when its source no longer has it (see `Provenance::orphaned_at`).
    pub orphaned_at: Option<i64>,
    /// Its row's place in the store's order (`RawEntity::seq`): entities are held in it.
    pub seq: i64,
}

impl Origin {
    pub fn to_provenance(&self) -> Provenance {
        Provenance {
            source: self.source.to_string(),
            location: self.location.to_string(),
            line: self.line,
            commit: self.commit.as_deref().map(str::to_string),
            fetched_at: self.fetched_at,
            orphaned_at: self.orphaned_at,
        }
    }
}

/// A person's or team's profile (`spec.profile`).
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub display_name: Option<Box<str>>,
    pub email: Option<Box<str>>,
}

/// One entity, as answers need it: what its definition says, shared between the snapshots
/// it is part of, and its relations in this one.
#[derive(Clone, Debug)]
pub struct Entity {
    details: Arc<Details>,
    /// Relations to entities in the catalog, both directions, sorted.
    pub relations: Arc<[Rel]>,
    /// Relations whose target is not in the catalog (shown as warnings), sorted.
    pub dangling: Arc<[(RelKind, Box<str>)]>,
}

impl std::ops::Deref for Entity {
    type Target = Details;

    fn deref(&self) -> &Details {
        &self.details
    }
}

impl Entity {
    /// An entity with these relations (sorted and merged here) and dangling references.
    pub(super) fn new(
        details: Arc<Details>,
        mut relations: Vec<Rel>,
        dangling: Arc<[(RelKind, Box<str>)]>,
    ) -> Entity {
        merge_relations(&mut relations);
        Entity {
            details,
            relations: relations.into(),
            dangling,
        }
    }

    /// What its definition says, to share with another snapshot.
    pub(super) fn details_arc(&self) -> Arc<Details> {
        self.details.clone()
    }

    /// Targets of one relation kind, in order.
    pub fn related(&self, kind: RelKind) -> impl Iterator<Item = Id> + '_ {
        self.relations
            .iter()
            .filter(move |r| r.kind == kind)
            .map(|r| r.target)
    }
}

/// What an entity's definition says, apart from its relations.
#[derive(Clone, Debug)]
pub struct Details {
    /// Kind as written (`Component`); compare with `kind_is`.
    pub kind: Arc<str>,
    pub namespace: Arc<str>,
    pub name: Box<str>,
    pub title: Option<Box<str>>,
    pub description: Option<Box<str>>,
    pub spec_type: Option<Arc<str>>,
    pub lifecycle: Option<Arc<str>>,
    pub tags: Box<[Arc<str>]>,
    pub annotations: Box<[(Arc<str>, Box<str>)]>,
    pub links: Box<[Link]>,
    pub profile: Option<Box<Profile>>,
    pub origin: Origin,
    /// Why the entity is quarantined; empty when it is healthy.
    pub reasons: Box<[Box<str>]>,
    /// Other sources' ownership claims (CODEOWNERS, PagerDuty).
    pub claims: Box<[Claim]>,
    /// An API's definition, read when the snapshot was built.
    pub api: Option<Box<super::apidef::Definition>>,
}

impl Details {
    pub fn entity_ref(&self) -> EntityRef {
        EntityRef::new(&self.kind, &self.namespace, &self.name)
    }

    /// Canonical lowercase reference.
    pub fn key(&self) -> String {
        self.entity_ref().key()
    }

    pub fn kind_is(&self, kind: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind)
    }

    pub fn is_quarantined(&self) -> bool {
        !self.reasons.is_empty()
    }

    /// Title, else the profile's display name, else the name.
    pub fn display_name(&self) -> &str {
        self.title
            .as_deref()
            .or(self
                .profile
                .as_ref()
                .and_then(|p| p.display_name.as_deref()))
            .unwrap_or(&self.name)
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }
}

/// A file or document that could not become an entity, or an entity that lost to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub location: String,
    pub line: u32,
    pub message: String,
}

/// The same entity defined twice: the first definition is kept, the second reported.
#[derive(Clone, Debug)]
pub struct Conflict {
    pub key: String,
    pub kept: Provenance,
    pub ignored: Provenance,
    /// The owner the ignored definition claimed, when it differs from the kept one.
    pub ignored_owner: Option<String>,
}

/// An immutable view of the whole catalog.
///
/// Its parts that a patch (`Snapshot::patched`) often leaves as they were are shared with the
/// snapshot it was patched from.
#[derive(Default)]
pub struct Snapshot {
    pub(super) entities: EntityList,
    pub(super) by_key: Keys,
    /// Every id, in the order of (source, location, id): a part of a source (a location
    /// prefix) is one run of it.
    pub(super) by_location: Arc<[Id]>,
    pub(super) names: Arc<NameIndex>,
    /// Users by chat identity: `slack:U123`, `discord:123`, `email:someone@example.com`.
    pub(super) people: Arc<FxHashMap<String, Id>>,
    pub problems: Vec<Problem>,
    pub conflicts: Vec<Conflict>,
    /// Kinds that the catalog keeps but does not interpret (Template, unknown kinds), with counts.
    pub uninterpreted_kinds: Vec<(String, usize)>,
    /// Entities with a stored claim (CODEOWNERS) that names none of their owners, found once
    /// here so `conflicts` does not map every claim of the catalog each time it is asked.
    pub disputed: Box<[Id]>,
    /// Groups with members, directly or in a group below them (found once here: a scorecard
    /// asks it of every owner).
    pub(super) staffed: Arc<rustc_hash::FxHashSet<Id>>,
    /// Components by where their SBOMs are found, worked out on first use (`who uses`).
    pub(super) sbom_scopes: std::sync::OnceLock<FxHashMap<String, Vec<Id>>>,
    /// Stored entities that could not be read (their problems are among `problems`): a patch
    /// cannot tell which to keep, so it gives way to a rebuild.
    pub(super) unreadable: usize,
    /// Ids a patch emptied (their entities removed, the ids of the rest kept): the entity list
    /// is this much longer than the catalog.
    pub(super) holes: usize,
    /// Orphaned definitions a live one of the same entity hides (no conflict: the entity
    /// moved). Where they are, a patch gives way to a rebuild, which sees every definition.
    pub(super) shadowed: Vec<Provenance>,
    /// When the snapshot was built, seconds since the epoch.
    pub built_at: i64,
}

/// Kinds whose relations Switchboard understands.
pub const KNOWN_KINDS: &[&str] = &[
    "component",
    "api",
    "resource",
    "system",
    "domain",
    "group",
    "user",
    "location",
];

/// Kinds tried, in order, when a bare name is asked for.
const NAME_LOOKUP_ORDER: &[&str] = &[
    "component",
    "api",
    "system",
    "domain",
    "resource",
    "group",
    "user",
    "location",
    "template",
];

#[derive(Default)]
struct Interner(FxHashMap<Box<str>, Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(Box::from(s), a.clone());
        a
    }
}

fn boxed(v: Option<&Value>) -> Option<Box<str>> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Box::from)
}

/// One raw entity turned into its compact form, before it is known whether it wins its key.
/// Holding these instead of raw documents keeps a large catalog's load small.
pub struct Prepared {
    pub(super) key: String,
    pub(super) entity: Details,
    /// The relations it declares, targets as keys, in its definition's order.
    pub(super) relations: Vec<(RelKind, String)>,
}

impl Prepared {
    /// Its row's place in the store's order.
    pub fn seq(&self) -> i64 {
        self.entity.origin.seq
    }
}

/// Turns raw entities into their compact form, one at a time, as they arrive (from a scan or
/// the store), so the raw documents never all live at once. Each preparer interns its own
/// strings; several can work in parallel.
#[derive(Default)]
pub struct Preparer {
    interner: Interner,
}

impl Preparer {
    pub fn prepare(&mut self, r: RawEntity) -> Result<Prepared, Problem> {
        prepare(r, &mut self.interner)
    }
}

/// Turns a raw entity into its compact form. Independent of every other entity, so it runs
/// on all cores; the raw document is freed here too, on the same core.
fn prepare(r: RawEntity, interner: &mut Interner) -> Result<Prepared, Problem> {
    let Ok((kind, namespace, name)) = identity(&r.body) else {
        return Err(Problem {
            location: r.provenance.location.clone(),
            line: r.provenance.line,
            message: "entity without kind or name skipped".into(),
        });
    };
    let key = EntityRef::new(&kind, &namespace, &name).key();
    let kind_lower = kind.to_ascii_lowercase();
    let ns_lower = namespace.to_ascii_lowercase();
    let relations = spec_relations(&r.body, &kind_lower, &ns_lower)
        .into_iter()
        .filter_map(|rel| Some((rel.kind, rel.target.ok()?.key())))
        .collect();
    let meta = r.body.get("metadata");
    let spec = r.body.get("spec");
    let tags = meta
        .and_then(|m| m.get("tags"))
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(|t| interner.get(t))
                .collect()
        })
        .unwrap_or_default();
    let annotations = meta
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((interner.get(k), Box::from(v.as_str()?))))
                .collect()
        })
        .unwrap_or_default();
    let links = meta
        .and_then(|m| m.get("links"))
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|x| {
                    Some(Link {
                        url: Box::from(x.get("url")?.as_str()?),
                        title: boxed(x.get("title")),
                        kind: boxed(x.get("type")),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let profile = spec.and_then(|s| s.get("profile")).map(|p| {
        Box::new(Profile {
            display_name: boxed(p.get("displayName")),
            email: boxed(p.get("email")),
        })
    });
    let p = &r.provenance;
    let entity = Details {
        kind: interner.get(&kind),
        namespace: interner.get(&namespace),
        name: Box::from(name.as_str()),
        title: boxed(meta.and_then(|m| m.get("title"))),
        description: boxed(meta.and_then(|m| m.get("description"))),
        spec_type: spec
            .and_then(|s| s.get("type"))
            .and_then(Value::as_str)
            .map(|t| interner.get(t)),
        lifecycle: spec
            .and_then(|s| s.get("lifecycle"))
            .and_then(Value::as_str)
            .map(|t| interner.get(t)),
        tags,
        annotations,
        links,
        profile,
        origin: Origin {
            source: interner.get(&p.source),
            location: interner.get(&p.location),
            line: p.line,
            commit: p.commit.as_deref().map(|c| interner.get(c)),
            fetched_at: p.fetched_at,
            orphaned_at: p.orphaned_at,
            seq: r.seq,
        },
        reasons: r.reasons.iter().map(|s| Box::from(s.as_str())).collect(),
        claims: r.claims.into_boxed_slice(),
        api: spec
            .and_then(|s| s.get("definition"))
            .filter(|_| kind_lower == "api")
            .map(|d| {
                Box::new(super::apidef::read(
                    spec.and_then(|s| s.get("type")).and_then(Value::as_str),
                    d,
                ))
            }),
    };
    Ok(Prepared {
        key,
        entity,
        relations,
    })
}

/// `prepare` over all entities, in order, split across the available cores.
fn prepare_all(raw: Vec<RawEntity>) -> Vec<Result<Prepared, Problem>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if raw.len() < 2_000 || threads < 2 {
        let mut interner = Interner::default();
        return raw.into_iter().map(|r| prepare(r, &mut interner)).collect();
    }
    let chunk = raw.len().div_ceil(threads);
    let mut parts: Vec<Vec<RawEntity>> = Vec::with_capacity(threads);
    let mut rest = raw;
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    let mut interner = Interner::default();
                    part.into_iter()
                        .map(|r| prepare(r, &mut interner))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("snapshot worker panicked"))
            .collect()
    })
}

/// Chat identities of Users: the `slack.com/user-id` and `discord.com/user-id` annotations and
/// the profile e-mail. The first User to claim an identity keeps it.
pub(super) fn index_people(entities: &EntityList) -> FxHashMap<String, Id> {
    let mut people = FxHashMap::default();
    // GitHub teams, as CODEOWNERS names them: `github-team:org/slug`, and the slug alone.
    for (i, e) in entities.live().filter(|(_, e)| e.kind_is("group")) {
        if let Some(slug) = e.annotation("github.com/team-slug") {
            let slug = slug.trim_start_matches('@').to_lowercase();
            let short = slug.rsplit('/').next().unwrap_or(&slug).to_string();
            people.entry(format!("github-team:{slug}")).or_insert(i);
            people.entry(format!("github-team:{short}")).or_insert(i);
        }
    }
    for (i, e) in entities.live().filter(|(_, e)| e.kind_is("user")) {
        let keys = [
            e.annotation("github.com/user-login")
                .map(|v| format!("github-user:{}", v.to_lowercase())),
            e.annotation("slack.com/user-id")
                .map(|v| format!("slack:{v}")),
            e.annotation("discord.com/user-id")
                .map(|v| format!("discord:{v}")),
            e.profile
                .as_ref()
                .and_then(|p| p.email.as_deref())
                .map(|m| format!("email:{}", m.to_lowercase())),
        ];
        for k in keys.into_iter().flatten() {
            people.entry(k).or_insert(i);
        }
    }
    people
}

/// Sorts an entity's relations and merges the duplicates (one relation declared at both ends,
/// or twice): declared when either was.
pub(super) fn merge_relations(edges: &mut Vec<Rel>) {
    edges.sort_unstable();
    edges.dedup_by(|later, kept| {
        let same = later.kind == kept.kind && later.target == kept.target;
        if same {
            kept.declared |= later.declared;
        }
        same
    });
}

/// An entity's dangling relations, sorted, each once.
pub(super) fn sorted_dangling(mut d: Vec<(RelKind, Box<str>)>) -> Arc<[(RelKind, Box<str>)]> {
    d.sort_unstable();
    d.dedup();
    d.into()
}

/// Kinds kept but not interpreted, with counts, by name.
pub(super) fn uninterpreted_kinds(entities: &EntityList) -> Vec<(String, usize)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (_, e) in entities.live() {
        if !KNOWN_KINDS.iter().any(|k| e.kind.eq_ignore_ascii_case(k)) {
            *counts.entry(&e.kind).or_default() += 1;
        }
    }
    let mut out: Vec<(String, usize)> = counts
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    out.sort();
    out
}

/// Every id of `entities` in the order of (source, location, id) (`Snapshot::by_location`).
pub(super) fn by_location(entities: &EntityList) -> Arc<[Id]> {
    let mut all: Vec<(&str, &str, Id)> = entities
        .live()
        .map(|(id, _)| location_of(entities, id))
        .collect();
    all.sort_unstable();
    all.into_iter().map(|(_, _, id)| id).collect()
}

/// `by_location` of a patched list: `kept`, the order of every entity but `fresh` already
/// (ids as they are in `entities`), with `fresh` merged in.
pub(super) fn merged_by_location(
    entities: &EntityList,
    kept: Vec<Id>,
    mut fresh: Vec<Id>,
) -> Arc<[Id]> {
    let at = |id: Id| location_of(entities, id);
    fresh.sort_unstable_by(|a, b| at(*a).cmp(&at(*b)));
    let mut out = Vec::with_capacity(kept.len() + fresh.len());
    let mut fresh = fresh.into_iter().peekable();
    for id in kept {
        while let Some(&f) = fresh.peek()
            && at(f) < at(id)
        {
            out.push(f);
            fresh.next();
        }
        out.push(id);
    }
    out.extend(fresh);
    out.into()
}

/// `by_location` of a patched list whose ids did not move: `old`'s with the run of one part
/// (`run`) replaced by the part's entities now (`part`, ids as they are in `entities`).
pub(super) fn spliced_by_location(
    entities: &EntityList,
    old: &[Id],
    run: std::ops::Range<usize>,
    mut part: Vec<Id>,
) -> Arc<[Id]> {
    part.sort_unstable_by(|a, b| location_of(entities, *a).cmp(&location_of(entities, *b)));
    let mut out = Vec::with_capacity(old.len() - run.len() + part.len());
    out.extend_from_slice(&old[..run.start]);
    out.extend(part);
    out.extend_from_slice(&old[run.end..]);
    out.into()
}

/// What `by_location` orders an entity by.
fn location_of(entities: &EntityList, id: Id) -> (&str, &str, Id) {
    let o = &entities.at(id).origin;
    (&o.source, &o.location, id)
}

impl Snapshot {
    /// The components of each SBOM scope (the directory or repository their SBOMs are found
    /// in, `compliance::scope_of`), worked out once per snapshot, on first use.
    pub fn components_by_scope(&self) -> &FxHashMap<String, Vec<Id>> {
        use crate::compliance::scope_of;
        self.sbom_scopes.get_or_init(|| {
            let mut by: FxHashMap<String, Vec<Id>> = FxHashMap::default();
            for (id, e) in self.entities() {
                if let Some(scope) = e.kind_is("component").then(|| scope_of(e)).flatten() {
                    by.entry(scope).or_default().push(id);
                }
            }
            by
        })
    }

    /// Builds a snapshot. The first definition of a key wins; later ones become conflicts.
    pub fn build(raw: Vec<RawEntity>, problems: Vec<Problem>, built_at: i64) -> Snapshot {
        Snapshot::assemble(prepare_all(raw), problems, built_at)
    }

    /// Builds a snapshot from prepared entities, in the order their sources delivered them.
    pub fn assemble(
        prepared: Vec<Result<Prepared, Problem>>,
        mut problems: Vec<Problem>,
        built_at: i64,
    ) -> Snapshot {
        let started = std::time::Instant::now();
        let mut details: Vec<Details> = Vec::with_capacity(prepared.len());
        let mut by_key: FxHashMap<Box<str>, Id> =
            FxHashMap::with_capacity_and_hasher(prepared.len(), Default::default());
        let mut pending: Vec<(Id, RelKind, String)> = Vec::new();
        let mut conflicts = Vec::new();
        let mut unreadable = 0;
        let mut shadowed = Vec::new();

        for prepared in prepared {
            let p = match prepared {
                Ok(p) => p,
                Err(problem) => {
                    problems.push(problem);
                    unreadable += 1;
                    continue;
                }
            };
            if let Some(&first) = by_key.get(p.key.as_str()) {
                // An orphaned definition (its source no longer has it) never competes with a
                // live one: the entity moved, and the live definition takes its place.
                if p.entity.origin.orphaned_at.is_some() {
                    shadowed.push(p.entity.origin.to_provenance());
                    continue;
                }
                if details[first as usize].origin.orphaned_at.is_some() {
                    shadowed.push(details[first as usize].origin.to_provenance());
                    pending.retain(|(from, _, _)| *from != first);
                    pending.extend(p.relations.into_iter().map(|(k, t)| (first, k, t)));
                    // It is held at the place of the definition it replaces.
                    let mut live = p.entity;
                    live.origin.seq = details[first as usize].origin.seq;
                    details[first as usize] = live;
                    continue;
                }
                let ignored_owner = p
                    .relations
                    .iter()
                    .find(|(k, _)| *k == RelKind::OwnedBy)
                    .map(|(_, o)| o.clone());
                conflicts.push(Conflict {
                    key: p.key,
                    kept: details[first as usize].origin.to_provenance(),
                    ignored: p.entity.origin.to_provenance(),
                    ignored_owner,
                });
                continue;
            }
            let id = details.len() as Id;
            pending.extend(p.relations.into_iter().map(|(k, t)| (id, k, t)));
            details.push(p.entity);
            by_key.insert(p.key.into_boxed_str(), id);
        }

        // Resolve relations and add each in both directions. Edges are counted first so every
        // entity's list is allocated once, at its final size.
        let mut resolved: Vec<(Id, RelKind, Id, bool)> = Vec::with_capacity(pending.len());
        let mut dangling: HashMap<Id, Vec<(RelKind, Box<str>)>> = HashMap::new();
        for (from, kind, target) in pending {
            match by_key.get(target.as_str()) {
                Some(&to) => resolved.push((from, kind, to, true)),
                None => dangling
                    .entry(from)
                    .or_default()
                    .push((kind, target.into_boxed_str())),
            }
        }
        // Components that name a Terraform workspace depend on its resources.
        resolved.extend(
            crate::sources::terraform::workspace_edges(&details)
                .into_iter()
                .map(|(resource, component)| (resource, RelKind::DependencyOf, component, false)),
        );
        let mut degree = vec![0usize; details.len()];
        for &(from, _, to, _) in &resolved {
            degree[from as usize] += 1;
            degree[to as usize] += 1;
        }
        let mut edges: Vec<Vec<Rel>> = degree.into_iter().map(Vec::with_capacity).collect();
        for (from, kind, to, declared) in resolved {
            edges[from as usize].push(Rel {
                kind,
                target: to,
                declared,
            });
            edges[to as usize].push(Rel {
                kind: kind.inverse(),
                target: from,
                declared: false,
            });
        }
        let none: Arc<[(RelKind, Box<str>)]> = Arc::new([]);
        let entities: EntityList = details
            .into_iter()
            .zip(edges)
            .enumerate()
            .map(|(id, (details, mut edges))| {
                Some(Entity {
                    details: Arc::new(details),
                    relations: {
                        merge_relations(&mut edges);
                        edges.into()
                    },
                    dangling: match dangling.remove(&(id as Id)) {
                        Some(d) => sorted_dangling(d),
                        None => none.clone(),
                    },
                })
            })
            .collect();
        let relations_time = started.elapsed();
        let names = NameIndex::build(&entities);
        let people = index_people(&entities);
        let by_location = by_location(&entities);
        tracing::debug!(
            entities = entities.len(),
            keys_and_relations = ?relations_time,
            names = ?started.elapsed() - relations_time,
            "snapshot assembled"
        );
        let mut snap = Snapshot {
            uninterpreted_kinds: uninterpreted_kinds(&entities),
            entities,
            by_key: by_key.into(),
            by_location,
            names: Arc::new(names),
            people: Arc::new(people),
            problems,
            conflicts,
            disputed: Box::new([]),
            staffed: Default::default(),
            sbom_scopes: Default::default(),
            unreadable,
            holes: 0,
            shadowed,
            built_at,
        };
        snap.staffed = Arc::new(snap.staffed_groups());
        snap.disputed = snap.disputed_entities();
        snap
    }

    /// Every group with members, and every group above one.
    pub(super) fn staffed_groups(&self) -> rustc_hash::FxHashSet<Id> {
        let mut staffed = rustc_hash::FxHashSet::default();
        for (id, e) in self.entities() {
            let mut queue: Vec<Id> =
                match e.kind_is("group") && e.related(RelKind::HasMember).next().is_some() {
                    true => vec![id],
                    false => continue,
                };
            while let Some(g) = queue.pop() {
                if staffed.insert(g) {
                    queue.extend(self.entity(g).related(RelKind::ChildOf));
                }
            }
        }
        staffed
    }

    /// Entities with a claim that names none of their owners.
    pub(super) fn disputed_entities(&self) -> Box<[Id]> {
        self.entities()
            .map(|(id, _)| id)
            .filter(|&id| self.is_disputed(id))
            .collect()
    }

    /// Whether a claim on `id` disagrees with its owners.
    pub(super) fn is_disputed(&self, id: Id) -> bool {
        self.entity(id)
            .claims
            .iter()
            .any(|c| self.disagreement(id, &c.owners).is_some())
    }

    /// Whether `group` is a Group with members, directly or in a group below it.
    pub fn is_staffed(&self, group: Id) -> bool {
        self.staffed.contains(&group)
    }

    /// When none of `named` (a claim's owners, as its source wrote them) stands for one of
    /// the entity's owners: the catalog entity each stands for, if any. None when the claim
    /// agrees, or when the entity has no owner to disagree with (a Location, a Group, a User).
    pub fn disagreement(&self, id: Id, named: &[String]) -> Option<Vec<Option<Id>>> {
        let (found, missing) = self.owners(id);
        if found.is_empty() && missing.is_empty() {
            return None;
        }
        let ids: Vec<Option<Id>> = named.iter().map(|o| self.claimant(o)).collect();
        (!ids.iter().flatten().any(|i| found.contains(i))).then_some(ids)
    }

    pub fn len(&self) -> usize {
        self.entities.len() - self.holes
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every id is below this (it is above `len` by the ids a patch emptied).
    pub fn id_bound(&self) -> usize {
        self.entities.len()
    }

    pub fn entity(&self, id: Id) -> &Entity {
        self.entities.at(id)
    }

    /// Every entity, in the store's order, with its id.
    pub fn entities(&self) -> impl Iterator<Item = (Id, &Entity)> {
        self.entities.live()
    }

    /// The entities of `source` under `scope` (a location prefix; empty for all of it), by id.
    pub fn in_scope(&self, source: &str, scope: &str) -> Vec<Id> {
        let mut ids = self.by_location[self.scope_run(source, scope)].to_vec();
        ids.sort_unstable();
        ids
    }

    /// Where the entities of `source` under `scope` are in `by_location` (one run of it).
    pub(super) fn scope_run(&self, source: &str, scope: &str) -> std::ops::Range<usize> {
        let at = |id: &Id| {
            let o = &self.entity(*id).origin;
            (&*o.source, &*o.location)
        };
        let start = self
            .by_location
            .partition_point(|id| at(id) < (source, scope));
        let run = self.by_location[start..]
            .partition_point(|id| matches!(at(id), (s, l) if s == source && l.starts_with(scope)));
        start..start + run
    }

    /// Looks up a canonical key (`kind:namespace/name`, any case).
    pub fn get(&self, key: &str) -> Option<Id> {
        self.by_key.get(&key.to_lowercase())
    }

    pub fn get_ref(&self, r: &EntityRef) -> Option<Id> {
        self.by_key.get(&r.key())
    }

    /// Entities named exactly `name` in the default namespace, in kind priority order.
    pub fn by_name(&self, name: &str) -> Vec<Id> {
        let name = name.to_lowercase();
        let mut out: Vec<Id> = NAME_LOOKUP_ORDER
            .iter()
            .filter_map(|k| self.get_ref(&EntityRef::new(k, DEFAULT_NAMESPACE, &name)))
            .collect();
        if out.is_empty() {
            // Unknown kinds or other namespaces: the name index finds exact names anywhere.
            out = self.names.exact(self, &name);
        }
        out
    }

    /// The catalog Group or User a CODEOWNERS (or PagerDuty) owner stands for: `@org/team`
    /// is the Group whose `github.com/team-slug` annotation matches, else the Group named
    /// like the team; `@login` the User with `github.com/user-login`; an e-mail the User with
    /// that e-mail; anything else a catalog reference to a Group.
    pub fn claimant(&self, owner: &str) -> Option<Id> {
        let owner = owner.trim();
        if let Some(handle) = owner.strip_prefix('@') {
            let handle = handle.to_lowercase();
            return match handle.split_once('/') {
                Some((_, team)) => self
                    .people
                    .get(&format!("github-team:{handle}"))
                    .or_else(|| self.people.get(&format!("github-team:{team}")))
                    .copied()
                    .or_else(|| self.get(&format!("group:default/{team}"))),
                None => self.people.get(&format!("github-user:{handle}")).copied(),
            };
        }
        if owner.contains('@') {
            return self.person(&format!("email:{owner}"));
        }
        let r = EntityRef::parse(owner, Some("group"), DEFAULT_NAMESPACE).ok()?;
        self.get_ref(&r)
    }

    /// The User with a chat identity (`slack:U123`) or e-mail (`email:…`, any case).
    pub fn person(&self, identity: &str) -> Option<Id> {
        match identity.strip_prefix("email:") {
            Some(mail) => self.people.get(&format!("email:{}", mail.to_lowercase())),
            None => self.people.get(identity),
        }
        .copied()
    }

    pub fn names(&self) -> &NameIndex {
        &self.names
    }

    /// The entity's owners: the ownedBy targets in the catalog, then dangling owner refs.
    pub fn owners(&self, id: Id) -> (Vec<Id>, Vec<String>) {
        let e = self.entity(id);
        let found = e.related(RelKind::OwnedBy).collect();
        let missing = e
            .dangling
            .iter()
            .filter(|(k, _)| *k == RelKind::OwnedBy)
            .map(|(_, r)| r.to_string())
            .collect();
        (found, missing)
    }

    /// Conflicts recorded for one key.
    pub fn conflicts_for(&self, key: &str) -> impl Iterator<Item = &Conflict> {
        self.conflicts.iter().filter(move |c| c.key == key)
    }
}
