//! Patching the live snapshot with one part of a source read again (a repository after a
//! push), instead of rebuilding it from the whole store.
//!
//! The part's old entities are taken out and its new ones put in at their place in the
//! store's order; the relations between them and the rest are re-resolved in both directions
//! (references into the part, from it, and dangling ones it now satisfies), and the indexes are
//! kept in step. Entities' details, the chunks of the entity list a patch leaves alone and the
//! indexes it leaves as they were are shared with the snapshot patched. No other entity moves:
//! an entity whose row the store kept (an edited file: the usual push) keeps its id, a new one
//! goes after the last (the store numbers new rows after its source's), and a removed one
//! leaves its id empty. The patch then costs what it touches: the chunks holding the entities
//! whose definitions or relations change, the name and key indexes when names and keys do.
//! Only a new entity that another source's must follow, or empty ids grown past an eighth of
//! the list, renumber every entity: a pass over the list and copies of the indexes, after
//! which no id is empty. The order of the entities, and so every answer, is the same either
//! way. Disputed ownership is weighed again only where relations changed, unless
//! people did. The result is the snapshot a rebuild from the store gives
//! (`tests/it/patch.rs` compares them after random pushes). When a patch cannot know that (a
//! key defined in two places, Terraform's workspace edges, a stored entity that could not be
//! read), it says why and the caller rebuilds.

use std::collections::HashSet;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::keys::Keys;
use super::list::EntityList;
use super::model::RawEntity;
use super::snapshot::{
    Details, Entity, Id, KNOWN_KINDS, Preparer, Problem, Rel, Snapshot, index_people,
    sorted_dangling, uninterpreted_kinds,
};

/// What the store holds now for one part of a source.
pub struct ScopeRead {
    pub source: String,
    /// The part: a location prefix (`owner/repo/`); empty for the whole source.
    pub scope: String,
    /// Its entities now, in the store's order.
    pub rows: Vec<RawEntity>,
    /// Keys of the part, before or after, that rows outside it define too.
    pub elsewhere: HashSet<String>,
    /// Every problem the store records now.
    pub problems: Vec<Problem>,
}

/// Where an entity of the patched snapshot comes from.
#[derive(Clone, Copy)]
enum Slot {
    Kept(Id),
    Fresh(usize),
}

impl Snapshot {
    /// The keys of `source`'s entities under `scope`, to ask the store which are defined
    /// elsewhere too (`ScopeRead::elsewhere`).
    pub fn scope_keys(&self, source: &str, scope: &str) -> Vec<String> {
        self.in_scope(source, scope)
            .into_iter()
            .map(|id| self.entity(id).key())
            .collect()
    }

    /// This snapshot with `read`'s part replaced, or why only a rebuild can say what it is.
    pub fn patched(&self, read: ScopeRead, built_at: i64) -> Result<Snapshot, String> {
        // The part's entities: one run of the location order.
        let run = self.scope_run(&read.source, &read.scope);
        let mut gone: Vec<Id> = self.by_location[run.clone()].to_vec();
        gone.sort_unstable();
        if self.unreadable > 0 {
            return Err("stored entities could not be read".into());
        }
        let mut preparer = Preparer::default();
        let mut fresh = Vec::with_capacity(read.rows.len());
        for row in read.rows {
            match preparer.prepare(row) {
                Ok(p) => fresh.push(p),
                Err(p) => return Err(format!("{}: {}", p.location, p.message)),
            }
        }
        fresh.sort_by_key(|p| p.entity.origin.seq);

        // A key's winner is decided across every definition of it: only a rebuild sees them.
        let gone_set: FxHashSet<Id> = gone.iter().copied().collect();
        let gone_keys: Vec<String> = gone.iter().map(|&id| self.entity(id).key()).collect();
        let mut fresh_keys: FxHashSet<&str> = FxHashSet::default();
        for p in &fresh {
            if !fresh_keys.insert(&p.key) {
                return Err(format!("{} is defined twice in {}", p.key, read.scope));
            }
            if let Some(id) = self.by_key.get(&p.key)
                && !gone_set.contains(&id)
            {
                return Err(format!("{} is defined outside {} too", p.key, read.scope));
            }
        }
        let touched = || {
            gone_keys
                .iter()
                .map(String::as_str)
                .chain(fresh_keys.iter().copied())
        };
        if let Some(k) = touched().find(|k| read.elsewhere.contains(*k)) {
            return Err(format!("{k} is defined outside {} too", read.scope));
        }
        let here =
            |p: &super::Provenance| p.source == read.source && p.location.starts_with(&read.scope);
        if let Some(c) = self
            .conflicts
            .iter()
            .find(|c| here(&c.kept) || here(&c.ignored) || touched().any(|k| k == c.key))
        {
            return Err(format!("{} has conflicting definitions", c.key));
        }
        if let Some(p) = self.shadowed.iter().find(|p| here(p)) {
            return Err(format!("{} holds an orphaned definition", p.location));
        }
        let workspace = crate::sources::terraform::WORKSPACE;
        if gone
            .iter()
            .map(|&id| &**self.entity(id))
            .chain(fresh.iter().map(|p| &p.entity))
            .any(|e| e.annotation(workspace).is_some())
        {
            return Err("Terraform workspace edges change".into());
        }

        // Where the part's entities go, at their place in the store's order. Mostly no other
        // entity moves (`stable`): one whose row the store kept (an edited file) takes the id
        // of the one it replaces; a new row, which the store numbers after every row of its
        // source, goes after the last entity; one whose row went leaves its id empty. Only a
        // new row that another source's entities must follow, or more empty ids than an eighth
        // of the list, renumber every entity (and so empty no id).
        let bound = self.id_bound() as Id;
        let gone_at: FxHashMap<i64, Id> = gone
            .iter()
            .map(|&g| (self.entity(g).origin.seq, g))
            .collect();
        let last_seq = self.entities.last_live().map(|e| e.origin.seq);
        let mut fresh_ids = vec![0; fresh.len()];
        let mut stable = true;
        let mut appended = 0;
        for (i, p) in fresh.iter().enumerate() {
            fresh_ids[i] = match gone_at.get(&p.entity.origin.seq) {
                Some(&g) => g,
                None if last_seq.is_none_or(|last| p.entity.origin.seq > last) => {
                    appended += 1;
                    bound + appended - 1
                }
                None => {
                    stable = false;
                    break;
                }
            };
        }
        let emptied: Vec<Id> = match stable {
            true => {
                let reused: FxHashSet<Id> = fresh_ids.iter().copied().collect();
                gone.iter()
                    .copied()
                    .filter(|g| !reused.contains(g))
                    .collect()
            }
            false => Vec::new(),
        };
        let stable = stable && (self.holes + emptied.len()) * 8 <= self.id_bound();
        // The part's entities replace its old ones row for row (the usual push).
        let same_rows = stable && appended == 0 && emptied.is_empty();
        let mut order: Vec<Slot> = Vec::new();
        let mut moved: Vec<Option<Id>> = Vec::new();
        if !stable {
            order.reserve(self.len() - gone.len() + fresh.len());
            moved = vec![None; self.id_bound()];
            let mut next_fresh = 0;
            for (id, e) in self.entities() {
                if gone_set.contains(&id) {
                    continue;
                }
                while next_fresh < fresh.len() && fresh[next_fresh].entity.origin.seq < e.origin.seq
                {
                    fresh_ids[next_fresh] = order.len() as Id;
                    order.push(Slot::Fresh(next_fresh));
                    next_fresh += 1;
                }
                moved[id as usize] = Some(order.len() as Id);
                order.push(Slot::Kept(id));
            }
            while next_fresh < fresh.len() {
                fresh_ids[next_fresh] = order.len() as Id;
                order.push(Slot::Fresh(next_fresh));
                next_fresh += 1;
            }
        }
        let shifted = !stable
            && moved
                .iter()
                .enumerate()
                .any(|(old, new)| new.is_some_and(|n| n != old as Id));
        let to_new = |old: Id| match stable {
            true => (!gone_set.contains(&old)).then_some(old),
            false => moved[old as usize],
        };
        // When stable, the new order is not written out: what is not fresh kept its id.
        let fresh_at: FxHashMap<Id, usize> = match stable {
            true => fresh_ids
                .iter()
                .enumerate()
                .map(|(i, &id)| (id, i))
                .collect(),
            false => FxHashMap::default(),
        };
        let slot = |new: Id| match stable {
            true => fresh_at
                .get(&new)
                .map_or(Slot::Kept(new), |&i| Slot::Fresh(i)),
            false => order[new as usize],
        };

        // Keys: shared when the part kept its keys where they were.
        let same_keys = !shifted
            && gone.len() == fresh.len()
            && fresh
                .iter()
                .zip(&fresh_ids)
                .all(|(p, &id)| self.by_key.get(&p.key) == Some(id));
        let by_key = match same_keys {
            true => self.by_key.clone(),
            false => {
                let renumber = |id| to_new(id).expect("a kept entity has a new id");
                self.by_key.edited(
                    gone_keys.iter().map(String::as_str),
                    shifted.then_some(&renumber as &dyn Fn(Id) -> Id),
                    fresh
                        .iter()
                        .zip(&fresh_ids)
                        .map(|(p, &id)| (p.key.clone().into_boxed_str(), id)),
                )
            }
        };

        // Relations. `added` collects edges the other end's declaration gives an entity.
        let mut added: FxHashMap<Id, Vec<Rel>> = FxHashMap::default();
        let mut fresh_rels: Vec<Vec<Rel>> = vec![Vec::new(); fresh.len()];
        let mut fresh_dangling: Vec<Vec<(super::RelKind, Box<str>)>> =
            vec![Vec::new(); fresh.len()];
        for (i, p) in fresh.iter().enumerate() {
            for (kind, key) in &p.relations {
                if !link(
                    &by_key,
                    &mut added,
                    fresh_ids[i],
                    *kind,
                    key,
                    &mut fresh_rels[i],
                ) {
                    fresh_dangling[i].push((*kind, key.clone().into_boxed_str()));
                }
            }
        }
        // Kept entities whose relations change: the gone entities' other ends, the fresh
        // declarations' targets, and those whose dangling references the part now satisfies
        // (only a key new to the catalog can: one it had was no one's dangling reference).
        let mut affected: FxHashSet<Id> = FxHashSet::default();
        for &g in &gone {
            affected.extend(self.entity(g).relations.iter().map(|r| r.target));
        }
        affected.extend(added.keys().filter_map(|&new| match slot(new) {
            Slot::Kept(old) => Some(old),
            Slot::Fresh(_) => None,
        }));
        let new_keys: FxHashSet<&str> = fresh_keys
            .iter()
            .copied()
            .filter(|k| !gone_keys.iter().any(|g| g == k))
            .collect();
        if !new_keys.is_empty() {
            affected.extend(
                self.entities()
                    .filter(|(_, e)| e.dangling.iter().any(|(_, k)| new_keys.contains(&**k)))
                    .map(|(id, _)| id),
            );
        }
        let mut changed: FxHashMap<Id, Entity> = FxHashMap::default();
        for &old in affected.iter().filter(|id| !gone_set.contains(id)) {
            let e = self.entity(old);
            let me = to_new(old).expect("a kept entity has a new id");
            let mut rels = Vec::with_capacity(e.relations.len());
            let mut dangling = Vec::new();
            let mut resolve = |kind, key: &str, rels: &mut Vec<Rel>| {
                link(&by_key, &mut added, me, kind, key, rels)
            };
            for r in e.relations.iter() {
                match to_new(r.target) {
                    Some(to) if !gone_set.contains(&r.target) => {
                        rels.push(Rel { target: to, ..*r })
                    }
                    _ if r.declared => {
                        // Its own reference to a replaced entity: to the new one of that key.
                        let key = self.entity(r.target).key();
                        if !resolve(r.kind, &key, &mut rels) {
                            dangling.push((r.kind, key.into_boxed_str()));
                        }
                    }
                    _ => {}
                }
            }
            for (kind, key) in e.dangling.iter() {
                if !(new_keys.contains(&**key) && resolve(*kind, key, &mut rels)) {
                    dangling.push((*kind, key.clone()));
                }
            }
            changed.insert(
                me,
                Entity::new(e.details_arc(), rels, sorted_dangling(dangling)),
            );
        }

        // Whose ownership may have changed: whose relations do (new ids).
        let mut rechecked: Vec<Id> = changed
            .keys()
            .chain(added.keys())
            .chain(&fresh_ids)
            .copied()
            .collect();
        rechecked.sort_unstable();
        rechecked.dedup();
        // The entity list: each entity whose relations or definition changed, and every kept
        // one where ids moved (its relations renumbered).
        let mut fresh_details: Vec<Option<Details>> =
            fresh.into_iter().map(|p| Some(p.entity)).collect();
        let mut make = |new: Id| -> Entity {
            let mut e = match slot(new) {
                Slot::Kept(old) => match changed.remove(&new) {
                    Some(e) => e,
                    None => {
                        let e = self.entity(old).clone();
                        match shifted
                            && e.relations
                                .iter()
                                .any(|r| to_new(r.target) != Some(r.target))
                        {
                            true => {
                                let rels = e
                                    .relations
                                    .iter()
                                    .map(|r| Rel {
                                        target: to_new(r.target).expect("kept"),
                                        ..*r
                                    })
                                    .collect();
                                Entity::new(e.details_arc(), rels, e.dangling.clone())
                            }
                            false => e,
                        }
                    }
                },
                Slot::Fresh(i) => Entity::new(
                    Arc::new(fresh_details[i].take().expect("each fresh entity once")),
                    std::mem::take(&mut fresh_rels[i]),
                    sorted_dangling(std::mem::take(&mut fresh_dangling[i])),
                ),
            };
            if let Some(more) = added.remove(&new) {
                let mut rels = e.relations.to_vec();
                rels.extend(more);
                e = Entity::new(e.details_arc(), rels, e.dangling.clone());
            }
            e
        };
        let entities: EntityList = if stable {
            // Those are the ones rechecked (the rest are as they were), the ones emptied, and
            // the ones after the last.
            let mut made: Vec<(Id, Option<Entity>)> = rechecked
                .iter()
                .filter(|&&id| id < bound)
                .map(|&id| (id, Some(make(id))))
                .collect();
            made.extend(emptied.iter().map(|&id| (id, None)));
            made.sort_unstable_by_key(|(id, _)| *id);
            let after: Vec<Option<Entity>> =
                (bound..bound + appended).map(|id| Some(make(id))).collect();
            self.entities.with(made).extended(after)
        } else {
            (0..order.len() as Id).map(|id| Some(make(id))).collect()
        };
        // Whether a kept group's members or parents changed (a part that holds a Group or a
        // User changes people, below).
        let staffing = |e: &Entity| -> Vec<(super::RelKind, Id)> {
            e.relations
                .iter()
                .filter(|r| matches!(r.kind, super::RelKind::HasMember | super::RelKind::ChildOf))
                .map(|r| (r.kind, r.target))
                .collect()
        };
        let members_change = rechecked.iter().any(|&new| match slot(new) {
            Slot::Kept(old) => {
                let e = entities.at(new);
                e.kind_is("group") && (shifted || staffing(self.entity(old)) != staffing(e))
            }
            Slot::Fresh(_) => false,
        });

        let gone_details: Vec<&Details> = gone.iter().map(|&id| &**self.entity(id)).collect();
        let fresh_named: Vec<(Id, &Details)> = fresh_ids
            .iter()
            .map(|&id| (id, &**entities.at(id)))
            .collect();
        // Names and places: shared when the part's entities kept their ids, names and titles
        // (or files).
        let pairs = || {
            gone_details
                .iter()
                .zip(&fresh_named)
                .map(|(g, (_, f))| (*g, *f))
        };
        let names = match same_rows && pairs().all(|(g, f)| g.name == f.name && g.title == f.title)
        {
            true => self.names.clone(),
            false => Arc::new(
                self.names.patched(
                    &gone
                        .iter()
                        .copied()
                        .zip(gone_details.iter().copied())
                        .collect::<Vec<_>>(),
                    shifted.then_some(moved.as_slice()),
                    &fresh_named,
                ),
            ),
        };
        let by_location = match same_rows
            && pairs().all(|(g, f)| {
                g.origin.source == f.origin.source && g.origin.location == f.origin.location
            }) {
            true => self.by_location.clone(),
            // The part's entities are one run of the order: theirs now take its place.
            false if stable => super::snapshot::spliced_by_location(
                &entities,
                &self.by_location,
                run,
                fresh_ids.clone(),
            ),
            false => {
                let kept = self
                    .by_location
                    .iter()
                    .filter_map(|&id| to_new(id))
                    .collect();
                super::snapshot::merged_by_location(&entities, kept, fresh_ids.clone())
            }
        };
        // People only change with Users and Groups, or with ids; staffed groups also with a
        // group's members or parents.
        let people_or_groups = |e: &Details| e.kind_is("user") || e.kind_is("group");
        let same_people = !shifted
            && !gone_details.iter().any(|e| people_or_groups(e))
            && !fresh_named.iter().any(|(_, e)| people_or_groups(e));
        let same_staffed = same_people && !members_change;
        let mut snap = Snapshot {
            people: match same_people {
                true => self.people.clone(),
                false => Arc::new(index_people(&entities)),
            },
            // Counted again only when the part held or holds a kind Switchboard does not read.
            uninterpreted_kinds: match gone_details
                .iter()
                .copied()
                .chain(fresh_named.iter().map(|(_, e)| *e))
                .all(|e| KNOWN_KINDS.iter().any(|k| e.kind.eq_ignore_ascii_case(k)))
            {
                true => self.uninterpreted_kinds.clone(),
                false => uninterpreted_kinds(&entities),
            },
            entities,
            by_key,
            by_location,
            names,
            problems: read.problems,
            conflicts: self.conflicts.clone(),
            disputed: Box::new([]),
            staffed: self.staffed.clone(),
            sbom_scopes: Default::default(),
            unreadable: 0,
            holes: match stable {
                true => self.holes + emptied.len(),
                false => 0,
            },
            shadowed: self.shadowed.clone(),
            built_at,
        };
        if !same_staffed {
            snap.staffed = Arc::new(snap.staffed_groups());
        }
        // With the same people, a claim names whom it named: its verdict changes only where
        // the entity's relations do. A key that came or went changes the verdict only of
        // claims on entities related to it (and so rechecked): a claim agrees when it names
        // an owner, and an entity's owners are its relations. Else every claim is weighed
        // again.
        snap.disputed = if same_people {
            let mut disputed: Vec<Id> = self
                .disputed
                .iter()
                .filter(|id| !gone_set.contains(id))
                .filter_map(|&id| to_new(id))
                .filter(|id| rechecked.binary_search(id).is_err())
                .collect();
            disputed.extend(rechecked.iter().copied().filter(|&id| snap.is_disputed(id)));
            disputed.sort_unstable();
            disputed.into()
        } else {
            snap.disputed_entities()
        };
        Ok(snap)
    }
}

/// Resolves a relation `from` declares to `key`: the edge goes on `from` (`rels`), its inverse
/// into `added` for the other end. False when no entity has the key (it stays dangling).
fn link(
    by_key: &Keys,
    added: &mut FxHashMap<Id, Vec<Rel>>,
    from: Id,
    kind: super::RelKind,
    key: &str,
    rels: &mut Vec<Rel>,
) -> bool {
    let Some(to) = by_key.get(key) else {
        return false;
    };
    rels.push(Rel {
        kind,
        target: to,
        declared: true,
    });
    added.entry(to).or_default().push(Rel {
        kind: kind.inverse(),
        target: from,
        declared: false,
    });
    true
}
