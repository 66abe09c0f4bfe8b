//! Every SBOM kept, indexed by package name: what `who uses PACKAGE [RANGE]` reads, in memory
//! beside the snapshot.

use std::collections::HashMap;

use super::sbom::Package;
use crate::store::StoredSbom;

/// The SBOMs, and where each package name is listed.
#[derive(Debug, Default)]
pub struct Packages {
    sboms: Vec<StoredSbom>,
    /// Lower-case package name → (SBOM, package) positions.
    by_name: HashMap<String, Vec<(u32, u32)>>,
}

impl Packages {
    pub fn new(sboms: Vec<StoredSbom>) -> Packages {
        let mut by_name: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        for (s, sbom) in sboms.iter().enumerate() {
            for (p, package) in sbom.sbom.packages.iter().enumerate() {
                by_name
                    .entry(package.name.to_lowercase())
                    .or_default()
                    .push((s as u32, p as u32));
            }
        }
        Packages { sboms, by_name }
    }

    /// The packages `query` names, with the SBOM listing each: `lodash`, or with its
    /// namespace, `org.apache.logging.log4j:log4j-core` or `@angular/core`.
    pub fn named(&self, query: &str) -> Vec<(&StoredSbom, &Package)> {
        let query = query.trim().to_lowercase();
        let (namespace, name) = match query.rsplit_once([':', '/']) {
            Some((ns, n)) if !ns.is_empty() && !n.is_empty() => (Some(ns), n),
            _ => (None, query.as_str()),
        };
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|&(s, p)| {
                let sbom = &self.sboms[s as usize];
                (sbom, &sbom.sbom.packages[p as usize])
            })
            .filter(|(_, p)| {
                namespace.is_none_or(|ns| {
                    p.namespace
                        .as_deref()
                        .is_some_and(|have| have.eq_ignore_ascii_case(ns))
                })
            })
            .collect()
    }

    /// How many SBOMs are held.
    pub fn sboms(&self) -> usize {
        self.sboms.len()
    }

    /// About how much memory the index holds: the packages, their versions and package URLs,
    /// each distinct name once, and the positions by name (for the figures).
    pub fn held_bytes(&self) -> usize {
        let mut names = std::collections::HashSet::new();
        let mut bytes = 0;
        for s in &self.sboms {
            bytes += std::mem::size_of_val(s) + s.location.capacity() + s.scope.capacity();
            for p in &s.sbom.packages {
                bytes += std::mem::size_of_val(p)
                    + p.version.capacity()
                    + p.purl.as_ref().map_or(0, String::capacity);
                if names.insert(std::sync::Arc::as_ptr(&p.name)) {
                    bytes += p.name.len();
                }
            }
        }
        bytes
            + self
                .by_name
                .iter()
                .map(|(k, v)| k.capacity() + v.capacity() * 8)
                .sum::<usize>()
    }
}
