//! Walking the relation graph: what an entity depends on, and what depends on it.
//!
//! Both walks are breadth-first, keep the path by which each entity was reached, and visit each
//! entity once, so cycles end the walk instead of looping. They follow the whole transitive
//! closure unless a `Limit` cuts it (a depth, or the cap on how many are listed); a cut walk
//! still counts what lies beyond, so an answer never shortens a blast radius silently.

use std::collections::{HashSet, VecDeque};

use super::model::RelKind;
use super::snapshot::{Id, Snapshot};

/// An entity reached by a walk: how far away it is and the path from the start (inclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    pub id: Id,
    pub depth: u32,
    pub path: Vec<Id>,
}

/// How far a walk lists what it reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Hops followed; `None` follows every hop.
    pub depth: Option<u32>,
    /// The most entities listed (the safety cap, `catalog.max_blast_radius`).
    pub max: usize,
}

impl Limit {
    /// `catalog.default_depth` and `catalog.max_blast_radius`; 0 lifts either.
    pub fn new(default_depth: u32, max: usize) -> Limit {
        Limit {
            depth: (default_depth > 0).then_some(default_depth),
            max: if max == 0 { usize::MAX } else { max },
        }
    }

    /// The cap on entities listed when nothing else is configured.
    pub const DEFAULT_MAX: usize = 10_000;

    /// The same cap with the depth a question asked for, if it asked.
    pub fn with_depth(self, depth: Option<u32>) -> Limit {
        Limit {
            depth: depth.or(self.depth),
            ..self
        }
    }
}

impl Default for Limit {
    fn default() -> Self {
        Limit::new(0, Limit::DEFAULT_MAX)
    }
}

/// What a walk found: the entities listed and how many more it reached past the limit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    pub hops: Vec<Hop>,
    /// Entities reached beyond the depth or the cap, not listed.
    pub beyond: usize,
}

impl Walk {
    /// True when the limit cut the answer.
    pub fn truncated(&self) -> bool {
        self.beyond > 0
    }
}

/// Everything `start` depends on: `dependsOn` targets, consumed APIs, and the components that
/// provide those APIs, transitively.
pub fn dependencies(snap: &Snapshot, start: Id, limit: Limit) -> Walk {
    walk(snap, &[start], limit, 0, |snap, id, out| {
        let e = snap.entity(id);
        for t in e.related(RelKind::DependsOn) {
            out.push(vec![t]);
        }
        for api in e.related(RelKind::ConsumesApi) {
            out.push(vec![api]);
            for provider in snap.entity(api).related(RelKind::ApiProvidedBy) {
                out.push(vec![api, provider]);
            }
        }
    })
}

/// Everything that breaks if `start` goes down: entities that depend on it, consumers of the
/// APIs it provides (the path goes through the API), transitively. For a System or Domain,
/// every part of it is affected too (depth 0, path through the container).
pub fn dependents(snap: &Snapshot, start: Id, limit: Limit) -> Walk {
    let mut parts = parts_of(snap, start);
    let mut starts = vec![start];
    starts.extend(parts.iter().map(|h| h.id));
    let beyond_parts = parts.len().saturating_sub(limit.max);
    parts.truncate(limit.max);
    let mut hops = parts;
    let walked = walk(snap, &starts, limit, hops.len(), |snap, id, out| {
        let e = snap.entity(id);
        for t in e.related(RelKind::DependencyOf) {
            out.push(vec![t]);
        }
        for t in e.related(RelKind::ApiConsumedBy) {
            out.push(vec![t]);
        }
        for api in e.related(RelKind::ProvidesApi) {
            for consumer in snap.entity(api).related(RelKind::ApiConsumedBy) {
                out.push(vec![api, consumer]);
            }
        }
    });
    // A walk from a part starts at that part; show the path from the container instead. (The
    // walk counts the parts as seen, so it never reaches them again.)
    for mut h in walked.hops {
        if h.path.first() != Some(&start)
            && let Some(p) = hops.iter().find(|p| Some(&p.id) == h.path.first())
        {
            let mut full = p.path.clone();
            full.extend_from_slice(&h.path[1..]);
            h.path = full;
        }
        hops.push(h);
    }
    Walk {
        hops,
        beyond: walked.beyond + beyond_parts,
    }
}

/// Everything that is part of a System or Domain (systems of a domain, then their parts).
fn parts_of(snap: &Snapshot, start: Id) -> Vec<Hop> {
    let e = snap.entity(start);
    if !(e.kind_is("system") || e.kind_is("domain")) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut seen = HashSet::from([start]);
    let mut queue = VecDeque::from([(start, vec![start])]);
    while let Some((id, path)) = queue.pop_front() {
        for part in snap.entity(id).related(RelKind::HasPart) {
            if seen.insert(part) {
                let mut p = path.clone();
                p.push(part);
                out.push(Hop {
                    id: part,
                    depth: 0,
                    path: p.clone(),
                });
                queue.push_back((part, p));
            }
        }
    }
    out
}

/// Breadth-first walk. `next` appends, for one entity, the steps leaving it; a step is a list of
/// ids whose last element is the entity reached (the others are intermediaries, such as an API).
/// Lists what lies within the limit (`listed` entities are already listed by the caller) and
/// counts the rest: past a cut, the walk goes on without paths, since everything after it in
/// breadth-first order is past it too.
fn walk(
    snap: &Snapshot,
    starts: &[Id],
    limit: Limit,
    listed: usize,
    next: impl Fn(&Snapshot, Id, &mut Vec<Vec<Id>>),
) -> Walk {
    let mut seen: HashSet<Id> = starts.iter().copied().collect();
    let mut queue: VecDeque<(Id, u32, Vec<Id>)> = starts.iter().map(|&s| (s, 0, vec![s])).collect();
    let mut out = Vec::new();
    let mut beyond = 0;
    let mut steps = Vec::new();
    while let Some((id, depth, path)) = queue.pop_front() {
        steps.clear();
        next(snap, id, &mut steps);
        for step in steps.drain(..) {
            let Some(&reached) = step.last() else {
                continue;
            };
            if !seen.insert(reached) {
                continue;
            }
            let cut = limit.depth.is_some_and(|d| depth >= d) || listed + out.len() >= limit.max;
            if cut || path.is_empty() {
                beyond += 1;
                queue.push_back((reached, depth + 1, Vec::new()));
                continue;
            }
            let mut p = path.clone();
            p.extend_from_slice(&step);
            out.push(Hop {
                id: reached,
                depth: depth + 1,
                path: p.clone(),
            });
            queue.push_back((reached, depth + 1, p));
        }
    }
    Walk { hops: out, beyond }
}
