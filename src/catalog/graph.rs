//! Walking the relation graph: what an entity depends on, and what depends on it.
//!
//! Both walks are breadth-first, keep the path by which each entity was reached, stop at a
//! depth limit, and visit each entity once, so cycles end the walk instead of looping.

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

/// Everything `start` depends on: `dependsOn` targets, consumed APIs, and the components that
/// provide those APIs, transitively up to `max_depth` hops.
pub fn dependencies(snap: &Snapshot, start: Id, max_depth: u32) -> Vec<Hop> {
    walk(snap, &[start], max_depth, |snap, id, out| {
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
/// APIs it provides (the path goes through the API), transitively up to `max_depth` hops. For a
/// System or Domain, every part of it is affected too (depth 0, path through the container).
pub fn dependents(snap: &Snapshot, start: Id, max_depth: u32) -> Vec<Hop> {
    let parts = parts_of(snap, start);
    let mut starts = vec![start];
    starts.extend(parts.iter().map(|h| h.id));
    let mut hops = parts;
    let seen: HashSet<Id> = hops.iter().map(|h| h.id).collect();
    let walked = walk(snap, &starts, max_depth, |snap, id, out| {
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
    // A walk from a part starts at that part; show the path from the container instead.
    for mut h in walked {
        if seen.contains(&h.id) {
            continue;
        }
        if h.path.first() != Some(&start)
            && let Some(p) = hops.iter().find(|p| Some(&p.id) == h.path.first())
        {
            let mut full = p.path.clone();
            full.extend_from_slice(&h.path[1..]);
            h.path = full;
        }
        hops.push(h);
    }
    hops
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
fn walk(
    snap: &Snapshot,
    starts: &[Id],
    max_depth: u32,
    next: impl Fn(&Snapshot, Id, &mut Vec<Vec<Id>>),
) -> Vec<Hop> {
    let mut seen: HashSet<Id> = starts.iter().copied().collect();
    let mut queue: VecDeque<(Id, u32, Vec<Id>)> = starts.iter().map(|&s| (s, 0, vec![s])).collect();
    let mut out = Vec::new();
    let mut steps = Vec::new();
    while let Some((id, depth, path)) = queue.pop_front() {
        if depth >= max_depth {
            continue;
        }
        steps.clear();
        next(snap, id, &mut steps);
        for step in steps.drain(..) {
            let Some(&reached) = step.last() else {
                continue;
            };
            if !seen.insert(reached) {
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
    out
}
