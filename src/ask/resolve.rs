//! Turning what someone typed into one entity, several candidates, or nothing.
//!
//! Exact references and names win; then normalised names and titles; then close spellings.
//! A single close match is answered with a note saying what it was taken to mean; several
//! plausible matches become "did you mean"; nothing is ever guessed silently.

use crate::catalog::refs::{DEFAULT_NAMESPACE, EntityRef};
use crate::catalog::search::{Scored, normalize};
use crate::catalog::{Id, Snapshot};

#[derive(Clone, Debug, PartialEq)]
pub enum Resolved {
    /// One entity; `note` explains an inexact match or other entities of the same name.
    One {
        id: Id,
        note: Option<String>,
    },
    /// Several entities could be meant, best first.
    Many(Vec<Id>),
    None,
}

/// How close the best fuzzy match must be to be taken without asking.
const ACCEPT: f32 = 0.8;
/// How far ahead of the runner-up it must be.
const MARGIN: f32 = 0.08;

/// Words people put before or after a name to say what kind of thing they mean, and the kinds
/// each narrows to: "the payments domain", "the artist API", "team-a team", "user guest".
const KIND_WORDS: &[(&str, &str)] = &[
    ("domain", "domain"),
    ("api", "api"),
    ("system", "system"),
    ("team", "group"),
    ("group", "group"),
    ("service", "component"),
    ("component", "component"),
    ("user", "user"),
    ("resource", "resource"),
];

/// Whether the text has a kind word at one end ("the artists domain").
pub fn has_kind_word(text: &str) -> bool {
    kind_word(text.trim()).is_some()
}

/// The name, the kind word and the kind it narrows to, if the text has a kind word at one end.
fn kind_word(text: &str) -> Option<(&str, &str, &'static str)> {
    let (first, rest) = text.split_once(char::is_whitespace)?;
    let (head, last) = text.rsplit_once(char::is_whitespace)?;
    let find = |w: &str| {
        KIND_WORDS
            .iter()
            .find(|(word, _)| word.eq_ignore_ascii_case(w))
            .map(|&(_, kind)| kind)
    };
    find(last)
        .map(|k| (head.trim(), last, k))
        .or_else(|| find(first).map(|k| (rest.trim(), first, k)))
        .filter(|(name, _, _)| !name.is_empty())
}

pub fn resolve(snap: &Snapshot, text: &str) -> Resolved {
    let text = text.trim();
    if text.is_empty() {
        return Resolved::None;
    }
    if let Some(found) = by_reference(snap, text) {
        return found;
    }
    if let Some(found) = exact(snap, text, None) {
        return found;
    }
    let scored = snap.names().fuzzy(snap, text, 6);
    let whole = pick(snap, text, &scored);
    let Some((name, word, kind)) = kind_word(text) else {
        return whole;
    };
    // A kind word narrows the kind, unless the entity the whole text finds is named with the
    // word itself ("payment service" → payments-service).
    let word = word.to_lowercase();
    if let Resolved::One { id, .. } = &whole
        && normalize(&snap.entity(*id).name)
            .split('-')
            .any(|w| w == word)
    {
        return whole;
    }
    if let Some(found) = exact(snap, name, Some(kind)) {
        return found;
    }
    let within: Vec<Scored> = snap
        .names()
        .fuzzy(snap, name, 64)
        .into_iter()
        .filter(|s| snap.entity(s.id).kind_is(kind))
        .collect();
    match pick(snap, name, &within) {
        Resolved::None => whole,
        narrowed => narrowed,
    }
}

/// `kind:namespace/name` or `namespace/name`.
fn by_reference(snap: &Snapshot, text: &str) -> Option<Resolved> {
    if !(text.contains(':') || text.contains('/')) {
        return None;
    }
    let default_kind = if text.contains(':') {
        None
    } else {
        Some("component")
    };
    let r = EntityRef::parse(text, default_kind, DEFAULT_NAMESPACE).ok()?;
    if let Some(id) = snap.get_ref(&r) {
        return Some(Resolved::One { id, note: None });
    }
    if !text.contains(':') {
        // `namespace/name` of another kind.
        let found: Vec<Id> = snap
            .by_name(&r.name)
            .into_iter()
            .filter(|&id| *snap.entity(id).namespace == *r.namespace)
            .collect();
        if let [id] = found[..] {
            return Some(Resolved::One { id, note: None });
        }
    }
    None
}

/// Entities named exactly `name` (of `kind`, if given): the first, with a note naming the others.
fn exact(snap: &Snapshot, name: &str, kind: Option<&str>) -> Option<Resolved> {
    let exact: Vec<Id> = snap
        .by_name(name)
        .into_iter()
        .filter(|&id| kind.is_none_or(|k| snap.entity(id).kind_is(k)))
        .collect();
    let (&first, others) = exact.split_first()?;
    let note = (!others.is_empty()).then(|| {
        let others: Vec<String> = others.iter().map(|&i| snap.entity(i).key()).collect();
        format!(
            "Also named {name}: {}. Ask with the full reference for those.",
            others.join(", ")
        )
    });
    Some(Resolved::One { id: first, note })
}

/// The fuzzy matches for `text`: one taken when it is clearly the best, otherwise "did you mean".
fn pick(snap: &Snapshot, text: &str, scored: &[Scored]) -> Resolved {
    let Some(best) = scored.first() else {
        return Resolved::None;
    };
    let identical: Vec<Id> = scored
        .iter()
        .filter(|s| s.score >= 1.0)
        .map(|s| s.id)
        .collect();
    if identical.len() > 1 {
        return Resolved::Many(identical);
    }
    let runner_up = scored.get(1).map_or(0.0, |s| s.score);
    if identical.len() == 1 || (best.score >= ACCEPT && best.score - runner_up >= MARGIN) {
        let e = snap.entity(best.id);
        let note = if normalize(&e.name) == normalize(text) {
            None
        } else {
            Some(format!("Showing {} (closest match to “{text}”).", e.key()))
        };
        return Resolved::One { id: best.id, note };
    }
    Resolved::Many(scored.iter().take(5).map(|s| s.id).collect())
}
