//! A snapshot's entity list, in chunks a patched snapshot shares with the one it was patched
//! from: a patch that changes a few entities copies the chunks holding them, not the list.
//!
//! A flat list would have a patch touch every entity (a reference count each, scattered over
//! the heap) to copy it, and the old snapshot's drop touch them all again: at 127,000 entities
//! that was most of a push's patch.

use std::sync::Arc;

use super::snapshot::{Entity, Id};

/// The entities of a snapshot, by id.
pub type EntityList = Chunked<Entity>;

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
}
