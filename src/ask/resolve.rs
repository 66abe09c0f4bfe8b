//! Turning what someone typed into one entity, several candidates, or nothing.
//!
//! Exact references and names win; then normalised names and titles; then close spellings.
//! A single close match is answered with a note saying what it was taken to mean; several
//! plausible matches become "did you mean"; nothing is ever guessed silently.

use crate::catalog::refs::{DEFAULT_NAMESPACE, EntityRef};
use crate::catalog::search::normalize;
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

pub fn resolve(snap: &Snapshot, text: &str) -> Resolved {
    let text = text.trim();
    if text.is_empty() {
        return Resolved::None;
    }
    if text.contains(':') || text.contains('/') {
        let default_kind = if text.contains(':') {
            None
        } else {
            Some("component")
        };
        if let Ok(r) = EntityRef::parse(text, default_kind, DEFAULT_NAMESPACE) {
            if let Some(id) = snap.get_ref(&r) {
                return Resolved::One { id, note: None };
            }
            if !text.contains(':') {
                // `namespace/name` of another kind.
                let found: Vec<Id> = snap
                    .by_name(&r.name)
                    .into_iter()
                    .filter(|&id| *snap.entity(id).namespace == *r.namespace)
                    .collect();
                if let [id] = found[..] {
                    return Resolved::One { id, note: None };
                }
            }
        }
    }
    let exact = snap.by_name(text);
    match exact.len() {
        0 => {}
        1 => {
            return Resolved::One {
                id: exact[0],
                note: None,
            };
        }
        _ => {
            let others: Vec<String> = exact[1..].iter().map(|&i| snap.entity(i).key()).collect();
            return Resolved::One {
                id: exact[0],
                note: Some(format!(
                    "Also named {text}: {}. Ask with the full reference for those.",
                    others.join(", ")
                )),
            };
        }
    }
    let scored = snap.names().fuzzy(snap, text, 6);
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
