//! Finding entities by what people type: exact names, names with typos, titles, and `find`.
//!
//! Names and titles are normalised (lowercase, any run of non-alphanumerics becomes `-`) and
//! indexed by trigram. A fuzzy query gathers candidates from its rarer trigrams, then ranks them
//! by edit distance, so it costs a few postings lists instead of a scan of the catalog.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::list::EntityList;
use super::snapshot::{Details, Id, Snapshot};

/// Trigram postings over normalised names and titles. Each list is sorted by id, and shared
/// with the indexes patched from this one until a patch changes it.
#[derive(Default)]
pub struct NameIndex {
    grams: FxHashMap<u32, Arc<[Id]>>,
}

/// Lowercases and turns every run of characters other than letters and digits into one `-`.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

fn trigrams(norm: &str) -> Vec<u32> {
    let padded: Vec<u8> = std::iter::once(b'^')
        .chain(norm.bytes())
        .chain(std::iter::once(b'$'))
        .collect();
    let mut out: Vec<u32> = padded
        .windows(3)
        .map(|w| (w[0] as u32) << 16 | (w[1] as u32) << 8 | w[2] as u32)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A candidate and how close it is to the query (1.0 is identical).
#[derive(Clone, Copy, Debug)]
pub struct Scored {
    pub id: Id,
    pub score: f32,
}

/// The trigrams an entity is found by: its name's and its title's.
fn grams_of(e: &Details) -> Vec<u32> {
    let mut g = trigrams(&normalize(&e.name));
    if let Some(t) = &e.title {
        g.extend(trigrams(&normalize(t)));
        g.sort_unstable();
        g.dedup();
    }
    g
}

impl NameIndex {
    pub fn build(entities: &EntityList) -> NameIndex {
        let mut grams: FxHashMap<u32, Vec<Id>> = FxHashMap::default();
        for (i, e) in entities.live() {
            for t in grams_of(e) {
                grams.entry(t).or_default().push(i);
            }
        }
        NameIndex {
            grams: grams.into_iter().map(|(t, ids)| (t, ids.into())).collect(),
        }
    }

    /// The index after a patch, the same as `build` would give: `gone` are the old entities
    /// replaced, `added` the new ones; `moved` each old id's new one (`None` when gone), when
    /// ids moved. Only the lists of trigrams whose ids change are copied (all of them when ids
    /// moved), each in one pass, whatever the number of changes: an entity that keeps its id
    /// and its trigrams changes none.
    pub fn patched(
        &self,
        gone: &[(Id, &Details)],
        moved: Option<&[Option<Id>]>,
        added: &[(Id, &Details)],
    ) -> NameIndex {
        // Per trigram: the ids that leave its list and those that join it.
        let mut changes: FxHashMap<u32, (Vec<Id>, Vec<Id>)> = FxHashMap::default();
        if moved.is_none() {
            for (id, e) in gone {
                for t in grams_of(e) {
                    changes.entry(t).or_default().0.push(*id);
                }
            }
        }
        for (id, e) in added {
            for t in grams_of(e) {
                changes.entry(t).or_default().1.push(*id);
            }
        }
        let mut grams = self.grams.clone();
        if let Some(moved) = moved {
            for list in grams.values_mut() {
                *list = list.iter().filter_map(|&id| moved[id as usize]).collect();
            }
        }
        for (t, (mut out, mut join)) in changes {
            out.sort_unstable();
            join.sort_unstable();
            // An id that leaves and joins stays.
            let both: Vec<Id> = join
                .iter()
                .copied()
                .filter(|id| out.binary_search(id).is_ok())
                .collect();
            out.retain(|id| both.binary_search(id).is_err());
            join.retain(|id| both.binary_search(id).is_err());
            if out.is_empty() && join.is_empty() {
                continue;
            }
            let old = grams.get(&t).map_or(&[][..], |l| &l[..]);
            let list = merged(old, &out, &join);
            match list.is_empty() {
                true => grams.remove(&t),
                false => grams.insert(t, list.into()),
            };
        }
        grams.retain(|_, list| !list.is_empty());
        NameIndex { grams }
    }

    /// Entities in any namespace whose name is exactly `name` (case-insensitive).
    pub fn exact(&self, snap: &Snapshot, name: &str) -> Vec<Id> {
        self.candidates(snap, &normalize(name), 64)
            .into_iter()
            .filter(|&id| snap.entity(id).name.eq_ignore_ascii_case(name))
            .collect()
    }

    /// Ids sharing the most trigrams with `norm`, best first, at most `limit`.
    fn candidates(&self, snap: &Snapshot, norm: &str, limit: usize) -> Vec<Id> {
        let grams = trigrams(norm);
        let mut lists: Vec<&[Id]> = grams
            .iter()
            .filter_map(|g| self.grams.get(g).map(|l| &l[..]))
            .collect();
        if lists.is_empty() {
            return Vec::new();
        }
        lists.sort_by_key(|l| l.len());
        // Very common trigrams ("com", "ent") say little and cost much: use the rarer ones,
        // and never fewer than three lists.
        let common = (snap.len() / 20).max(2_000);
        let keep = lists.iter().filter(|l| l.len() <= common).count().max(3);
        // Dense counters: cheaper than a hash map for the thousands of postings a query touches.
        let mut counts = vec![0u8; snap.id_bound()];
        let mut touched: Vec<Id> = Vec::new();
        for l in lists.iter().take(keep) {
            for &id in l.iter() {
                let c = &mut counts[id as usize];
                if *c == 0 {
                    touched.push(id);
                }
                *c = c.saturating_add(1);
            }
        }
        touched
            .sort_unstable_by(|a, b| counts[*b as usize].cmp(&counts[*a as usize]).then(a.cmp(b)));
        touched.truncate(limit);
        touched
    }

    /// Entities whose name or title is close to `query`, best first.
    pub fn fuzzy(&self, snap: &Snapshot, query: &str, limit: usize) -> Vec<Scored> {
        let q = normalize(query);
        if q.is_empty() {
            return Vec::new();
        }
        let mut scored: Vec<Scored> = self
            .candidates(snap, &q, 64)
            .into_iter()
            .map(|id| {
                let e = snap.entity(id);
                let mut s = similarity(&q, &normalize(&e.name));
                if let Some(t) = &e.title {
                    s = s.max(similarity(&q, &normalize(t)));
                }
                Scored { id, score: s }
            })
            .filter(|s| s.score >= 0.5)
            .collect();
        scored.sort_by(|a, b| {
            b.score.total_cmp(&a.score).then_with(|| {
                snap.entity(a.id)
                    .name
                    .len()
                    .cmp(&snap.entity(b.id).name.len())
            })
        });
        scored.truncate(limit);
        scored
    }
}

/// `list` without `out` and with `join` (all three sorted), sorted, in one pass.
fn merged(list: &[Id], out: &[Id], join: &[Id]) -> Vec<Id> {
    let mut merged = Vec::with_capacity(list.len() + join.len());
    let (mut out, mut join) = (out.iter().peekable(), join.iter().peekable());
    for &id in list {
        while out.next_if(|&&o| o < id).is_some() {}
        if out.next_if(|&&o| o == id).is_some() {
            continue;
        }
        while let Some(&j) = join.next_if(|&&j| j < id) {
            merged.push(j);
        }
        join.next_if(|&&j| j == id);
        merged.push(id);
    }
    merged.extend(join);
    merged
}

/// 1 − (edit distance / longer length), with a bonus when every query word starts a word of the
/// candidate ("payment service" → "payments-service").
pub fn similarity(q: &str, c: &str) -> f32 {
    if q == c {
        return 1.0;
    }
    let d = damerau_levenshtein(q.as_bytes(), c.as_bytes());
    let longest = q.len().max(c.len()).max(1);
    let mut s = 1.0 - d as f32 / longest as f32;
    let qwords: Vec<&str> = q.split('-').collect();
    let cwords: Vec<&str> = c.split('-').collect();
    let starts = |(a, b): (&&str, &&str)| b.starts_with(*a) || a.starts_with(*b);
    if qwords.iter().zip(&cwords).all(starts) {
        if qwords.len() == cwords.len() {
            s = s.max(0.9);
        } else if qwords.len() < cwords.len() {
            // "wayback" → "wayback-archive": a plausible candidate, never a sure one.
            s = s.max(0.78);
        }
    }
    s
}

/// Optimal string alignment distance (adjacent swaps cost one).
pub fn damerau_levenshtein(a: &[u8], b: &[u8]) -> usize {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return n.max(m);
    }
    let mut prev2 = vec![0usize; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur = vec![0usize; m + 1];
    for i in 1..=n {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_case_and_separators() {
        assert_eq!(normalize("Artist Lookup"), "artist-lookup");
        assert_eq!(normalize("  payments__service!! "), "payments-service");
    }

    #[test]
    fn typos_score_high_and_strangers_low() {
        assert!(similarity("artst-lookup", "artist-lookup") > 0.9);
        assert!(similarity("payment-service", "payments-service") >= 0.9);
        assert!(similarity("artist-lookup", "queue-proxy") < 0.5);
        assert_eq!(damerau_levenshtein(b"ab", b"ba"), 1);
    }

    #[test]
    fn a_list_merged_in_one_pass_is_the_list_changed_one_id_at_a_time() {
        let list = [2, 4, 6, 8, 10];
        for (out, join) in [
            (vec![], vec![]),
            (vec![2, 10], vec![]),
            (vec![], vec![1, 5, 11]),
            (vec![4, 6], vec![3, 6, 12]),
            (vec![3], vec![0, 2]),
            (vec![2, 4, 6, 8, 10], vec![]),
        ] {
            let mut want: Vec<Id> = list
                .iter()
                .copied()
                .filter(|id| !out.contains(id))
                .collect();
            for j in &join {
                if let Err(at) = want.binary_search(j) {
                    want.insert(at, *j);
                }
            }
            assert_eq!(
                merged(&list, &out, &join),
                want,
                "out {out:?} join {join:?}"
            );
        }
        assert_eq!(merged(&[], &[], &[7]), [7]);
    }
}
