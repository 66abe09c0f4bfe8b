//! A snapshot's entity list, in chunks a patched snapshot shares with the one it was patched
//! from: a patch that changes a few entities copies the chunks holding them, not the list.
//! An entity a patch removes leaves its id empty, so that no other entity moves.
//!
//! A flat list would have a patch touch every entity (a reference count each, scattered over
//! the heap) to copy it, and the old snapshot's drop touch them all again: at 127,000 entities
//! that was most of a push's patch.

use std::sync::Arc;

use super::snapshot::{Entity, Id};

/// The entities of a snapshot, by id; `None` where a patch removed one.
pub type EntityList = Chunked<Option<Entity>>;

/// Entities per chunk (a power of two: an id splits into chunk and place by shifting).
const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A list by id, in shared chunks: every chunk full but the last.
pub struct Chunked<T> {
    chunks: Vec<Arc<[T]>>,
}

impl<T> Clone for Chunked<T> {
    fn clone(&self) -> Self {
        Chunked {
            chunks: self.chunks.clone(),
        }
    }
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new() }
    }
}

impl<T: Clone> Chunked<T> {
    pub fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |last| (self.chunks.len() - 1) * CHUNK + last.len())
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    pub fn get(&self, id: Id) -> &T {
        let id = id as usize;
        &self.chunks[id >> CHUNK_BITS][id & (CHUNK - 1)]
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// This list with the entities at the given ids (each within the list) replaced: only
    /// their chunks are copied (each once when the ids come in ascending order).
    pub fn with(&self, changes: impl IntoIterator<Item = (Id, T)>) -> Chunked<T> {
        let mut chunks = self.chunks.clone();
        let mut copying: Option<(usize, Vec<T>)> = None;
        for (id, e) in changes {
            let (c, at) = (id as usize >> CHUNK_BITS, id as usize & (CHUNK - 1));
            match &mut copying {
                Some((n, list)) if *n == c => list[at] = e,
                _ => {
                    if let Some((n, list)) = copying.take() {
                        chunks[n] = list.into();
                    }
                    let mut list = chunks[c].to_vec();
                    list[at] = e;
                    copying = Some((c, list));
                }
            }
        }
        if let Some((n, list)) = copying {
            chunks[n] = list.into();
        }
        Chunked { chunks }
    }
}

impl<T: Clone> Chunked<T> {
    /// This list with `more` after its last element (its last chunk copied if it has room).
    pub fn extended(mut self, more: impl IntoIterator<Item = T>) -> Chunked<T> {
        let mut more = more.into_iter().peekable();
        if more.peek().is_none() {
            return self;
        }
        if let Some(last) = self.chunks.last_mut()
            && last.len() < CHUNK
        {
            let mut list = last.to_vec();
            list.extend(more.by_ref().take(CHUNK - list.len()));
            *last = list.into();
        }
        self.chunks.extend(more.collect::<Chunked<T>>().chunks);
        self
    }
}

impl EntityList {
    /// The entity at `id`, which no patch has removed (relations and indexes hold no other).
    pub fn at(&self, id: Id) -> &Entity {
        self.get(id)
            .as_ref()
            .expect("a removed entity's id is not used")
    }

    /// Every entity with its id, in order, skipping the ids of removed ones.
    pub fn live(&self) -> impl Iterator<Item = (Id, &Entity)> {
        self.iter()
            .enumerate()
            .filter_map(|(id, e)| e.as_ref().map(|e| (id as Id, e)))
    }

    /// The last entity, if any.
    pub fn last_live(&self) -> Option<&Entity> {
        (0..self.len() as Id)
            .rev()
            .find_map(|id| self.get(id).as_ref())
    }
}

impl<T> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Chunked<T> {
        let mut iter = iter.into_iter();
        let mut chunks = Vec::new();
        loop {
            let chunk: Vec<T> = iter.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(chunk.into());
        }
        Chunked { chunks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_list_shares_the_chunks_it_left_alone() {
        let n = 3 * CHUNK + 5;
        let list: Chunked<u32> = (0..n as u32).collect();
        assert_eq!(list.len(), n);
        assert_eq!(
            list.iter().copied().collect::<Vec<_>>(),
            (0..n as u32).collect::<Vec<_>>()
        );
        // In any order, twice in one chunk, the last chunk (short) included.
        let last = n as Id - 1;
        let changed = list.with([(5, 1005), (last, 7), (3, 1003), (CHUNK as Id, 9)]);
        let mut want: Vec<u32> = (0..n as u32).collect();
        for (at, v) in [(5, 1005), (last as usize, 7), (3, 1003), (CHUNK, 9)] {
            want[at] = v;
        }
        assert_eq!(changed.iter().copied().collect::<Vec<_>>(), want);
        assert_eq!(changed.len(), n);
        assert_eq!(*changed.get(5), 1005);
        assert_eq!(*list.get(5), 5, "the list changed from is as it was");
        // The third chunk was not touched: the two lists hold the same one.
        assert!(Arc::ptr_eq(&list.chunks[2], &changed.chunks[2]));
        assert!(!Arc::ptr_eq(&list.chunks[0], &changed.chunks[0]));
        assert!(Chunked::<u32>::default().is_empty());
    }

    #[test]
    fn an_extended_list_fills_its_last_chunk_first() {
        for (n, more) in [
            (0, 3),
            (CHUNK - 2, 5),
            (CHUNK, 1),
            (2 * CHUNK + 1, 2 * CHUNK),
        ] {
            let list: Chunked<u32> = (0..n as u32).collect();
            let longer = list.clone().extended(n as u32..(n + more) as u32);
            assert_eq!(longer.len(), n + more, "{n} + {more}");
            assert_eq!(
                longer.iter().copied().collect::<Vec<_>>(),
                (0..(n + more) as u32).collect::<Vec<_>>()
            );
            // Every chunk is full but the last, so an id finds its element.
            assert!(
                longer.chunks[..longer.chunks.len() - 1]
                    .iter()
                    .all(|c| c.len() == CHUNK)
            );
            assert_eq!(*longer.get((n + more - 1) as Id), (n + more - 1) as u32);
            assert_eq!(list.len(), n, "the list extended is as it was");
            if n >= CHUNK {
                assert!(Arc::ptr_eq(&list.chunks[0], &longer.chunks[0]));
            }
        }
    }
}
