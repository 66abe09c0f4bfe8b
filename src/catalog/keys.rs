//! A snapshot's ids by key, in shards a patched snapshot shares with the one it was patched
//! from: a patch that brings or takes away a few keys copies the shards holding them, not the
//! map (at 127,000 entities, a copy of every key, each its own allocation, cost more than the
//! rest of such a patch).

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::snapshot::Id;

/// Shards (a power of two).
const SHARD_BITS: u32 = 6;

type Shard = FxHashMap<Box<str>, Id>;

/// Ids by canonical key.
#[derive(Clone, Default)]
pub struct Keys {
    shards: Vec<Arc<Shard>>,
}

/// A key's shard: FNV-1a, a hash of its own (so that the keys of a shard do not share the bits
/// its map places them by), its low bits carried into the top ones by a Fibonacci multiply.
fn shard_of(key: &str) -> usize {
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SHARD_BITS)) as usize
}

impl Keys {
    pub fn get(&self, key: &str) -> Option<Id> {
        if self.shards.is_empty() {
            return None;
        }
        self.shards[shard_of(key)].get(key).copied()
    }

    /// This index without the keys of `gone`, with each id renumbered by `renumber` (when ids
    /// moved), and with `new`. Only the shards changed are copied (all of them to renumber).
    pub fn edited<'a>(
        &self,
        gone: impl IntoIterator<Item = &'a str>,
        renumber: Option<&dyn Fn(Id) -> Id>,
        new: impl IntoIterator<Item = (Box<str>, Id)>,
    ) -> Keys {
        let mut shards = match self.shards.is_empty() {
            true => (0..1 << SHARD_BITS).map(|_| Arc::default()).collect(),
            false => self.shards.clone(),
        };
        for key in gone {
            Arc::make_mut(&mut shards[shard_of(key)]).remove(key);
        }
        if let Some(renumber) = renumber {
            for shard in &mut shards {
                for id in Arc::make_mut(shard).values_mut() {
                    *id = renumber(*id);
                }
            }
        }
        for (key, id) in new {
            Arc::make_mut(&mut shards[shard_of(&key)]).insert(key, id);
        }
        Keys { shards }
    }
}

impl From<FxHashMap<Box<str>, Id>> for Keys {
    fn from(map: FxHashMap<Box<str>, Id>) -> Keys {
        let mut shards: Vec<Shard> = vec![Shard::default(); 1 << SHARD_BITS];
        for (key, id) in map {
            shards[shard_of(&key)].insert(key, id);
        }
        Keys {
            shards: shards
                .into_iter()
                .map(|mut s| {
                    s.shrink_to_fit();
                    Arc::new(s)
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_index_shares_the_shards_it_left_alone() {
        let keys: Keys = (0..1_000u32)
            .map(|i| (format!("component:default/c-{i}").into_boxed_str(), i))
            .collect::<FxHashMap<_, _>>()
            .into();
        assert_eq!(keys.get("component:default/c-7"), Some(7));
        assert_eq!(keys.get("component:default/nothing"), None);
        let edited = keys.edited(
            ["component:default/c-7"],
            None,
            [("component:default/new".into(), 1_000)],
        );
        assert_eq!(edited.get("component:default/c-7"), None);
        assert_eq!(edited.get("component:default/new"), Some(1_000));
        assert_eq!(edited.get("component:default/c-8"), Some(8));
        assert_eq!(
            keys.get("component:default/c-7"),
            Some(7),
            "the index edited is as it was"
        );
        let shared = (0..keys.shards.len())
            .filter(|&s| Arc::ptr_eq(&keys.shards[s], &edited.shards[s]))
            .count();
        assert!(shared >= keys.shards.len() - 2, "{shared} shards shared");
        // Every shard holds some keys: the shard hash spreads them.
        assert!(keys.shards.iter().all(|s| s.len() > 1_000 / 64 / 3));
        let renumbered = keys.edited([], Some(&|id| id + 1), []);
        assert_eq!(renumbered.get("component:default/c-7"), Some(8));
        assert_eq!(Keys::default().get("x"), None);
        let from_empty = Keys::default().edited([], None, [("x".into(), 0)]);
        assert_eq!(from_empty.get("x"), Some(0));
    }
}
