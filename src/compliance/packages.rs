//! Every SBOM kept, indexed by package name: what `who uses PACKAGE [RANGE]` reads, in memory
//! beside the snapshot.

use std::collections::HashMap;

use super::sbom::Package;
use super::version::Scheme;
use crate::store::StoredSbom;

/// A PyPI name as PEP 503 compares names: lower case, each run of `-`, `_` and `.` one `-`
/// (`typing_extensions` is `typing-extensions`).
fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The key a package is indexed by: its name in lower case, PyPI's as PEP 503 compares them.
fn key(p: &Package) -> String {
    match p.scheme {
        Scheme::Pep440 => pep503(&p.name),
        _ if is_go(p) && go_major(&p.name) => p
            .namespace
            .as_deref()
            .and_then(|ns| ns.rsplit('/').next())
            .unwrap_or(&p.name)
            .to_lowercase(),
        _ => p.name.to_lowercase(),
    }
}

fn is_go(p: &Package) -> bool {
    p.purl
        .as_deref()
        .is_some_and(|u| u.starts_with("pkg:golang/"))
}

/// A Go module's major version suffix (`github.com/go-redis/redis/v8`): the module is
/// `redis`, found as `redis`, `github.com/go-redis/redis` or the whole path.
fn go_major(segment: &str) -> bool {
    segment.len() > 1
        && segment.starts_with('v')
        && segment[1..].chars().all(|c| c.is_ascii_digit())
}

/// SBOMs, and where each package name is listed.
#[derive(Debug, Default)]
struct Index {
    sboms: Vec<StoredSbom>,
    /// Lower-case package name → (SBOM, package) positions.
    by_name: HashMap<String, Vec<(u32, u32)>>,
}

impl Index {
    fn new(sboms: Vec<StoredSbom>) -> Index {
        let mut by_name: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        for (s, sbom) in sboms.iter().enumerate() {
            for (p, package) in sbom.sbom.packages.iter().enumerate() {
                by_name
                    .entry(key(package))
                    .or_default()
                    .push((s as u32, p as u32));
            }
        }
        Index { sboms, by_name }
    }

    /// Each package listed under `name` (a lower-case key), with its SBOM; `normalised` when
    /// `name` is a PyPI name as PEP 503 reads it.
    fn listed<'a>(
        &'a self,
        name: &str,
        normalised: bool,
    ) -> impl Iterator<Item = (&'a StoredSbom, &'a Package, bool)> + 'a {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(move |&(s, p)| {
                let sbom = &self.sboms[s as usize];
                (sbom, &sbom.sbom.packages[p as usize], normalised)
            })
    }
}

/// How many distinct scopes are read again before they are folded into the bulk: a push
/// re-indexes the SBOMs of this many at most, and a fold (once this many scopes were pushed)
/// the whole.
const FOLD_AT: usize = 256;

/// The SBOMs, and where each package name is listed: a bulk shared between versions, and
/// the SBOMs read again since, which replace the bulk's of their scopes. A push re-indexes its
/// repository's SBOM, not every SBOM kept.
#[derive(Debug, Default)]
pub struct Packages {
    bulk: std::sync::Arc<Index>,
    /// Scopes whose SBOMs in `bulk` are replaced by `fresh`'s (none, when none is kept now).
    replaced: std::collections::HashSet<String>,
    fresh: Index,
}

impl Packages {
    pub fn new(sboms: Vec<StoredSbom>) -> Packages {
        Packages {
            bulk: std::sync::Arc::new(Index::new(sboms)),
            ..Packages::default()
        }
    }

    /// These packages with the SBOMs of `scopes` as `sboms` (what the store keeps there now).
    pub fn rescoped(&self, scopes: &[String], sboms: Vec<StoredSbom>) -> Packages {
        let mut replaced = self.replaced.clone();
        replaced.extend(scopes.iter().cloned());
        let kept = self
            .fresh
            .sboms
            .iter()
            .filter(|s| !scopes.contains(&s.scope))
            .cloned();
        let mut fresh: Vec<StoredSbom> = kept.chain(sboms).collect();
        if replaced.len() < FOLD_AT {
            fresh.sort_by(|a, b| a.location.cmp(&b.location));
            return Packages {
                bulk: self.bulk.clone(),
                replaced,
                fresh: Index::new(fresh),
            };
        }
        let mut all: Vec<StoredSbom> = self
            .bulk
            .sboms
            .iter()
            .filter(|s| !replaced.contains(&s.scope))
            .cloned()
            .collect();
        all.append(&mut fresh);
        all.sort_by(|a, b| a.location.cmp(&b.location));
        Packages::new(all)
    }

    /// Every SBOM held.
    fn all(&self) -> impl Iterator<Item = &StoredSbom> {
        self.bulk
            .sboms
            .iter()
            .filter(|s| !self.replaced.contains(&s.scope))
            .chain(&self.fresh.sboms)
    }

    /// Each package listed under `name` (a lower-case key) in an SBOM held now.
    fn listed<'a>(
        &'a self,
        name: &str,
        normalised: bool,
    ) -> impl Iterator<Item = (&'a StoredSbom, &'a Package, bool)> + 'a {
        self.bulk
            .listed(name, normalised)
            .filter(|(s, _, _)| !self.replaced.contains(&s.scope))
            .chain(self.fresh.listed(name, normalised))
    }

    /// The packages `query` names, with the SBOM listing each: `lodash`, or with its
    /// namespace, `org.apache.logging.log4j:log4j-core` or `@angular/core`.
    pub fn named(&self, query: &str) -> Vec<(&StoredSbom, &Package)> {
        let query = query.trim().to_lowercase();
        let (namespace, name) = match query.rsplit_once([':', '/']) {
            Some((ns, n)) if !ns.is_empty() && !n.is_empty() => (Some(ns), n),
            _ => (None, query.as_str()),
        };
        // `github.com/go-redis/redis/v8` is looked up as `redis`, in its namespace, at that
        // major version only.
        let major = namespace.and_then(|_| go_major(name).then_some(name));
        let name = match (namespace, major) {
            (Some(ns), Some(_)) => ns.rsplit('/').next().unwrap_or(name),
            _ => name,
        };
        // A PyPI package is also found by its name as PEP 503 reads it.
        let normal = pep503(name);
        let pypi_too = (normal != name).then_some(normal.as_str());
        self.listed(name, false)
            .chain(pypi_too.into_iter().flat_map(|n| self.listed(n, true)))
            .filter(|(_, p, normalised)| !normalised || p.scheme == Scheme::Pep440)
            .map(|(sbom, p, _)| (sbom, p))
            .filter(|(_, p)| {
                major.is_none_or(|m| p.name.eq_ignore_ascii_case(m))
                    && namespace.is_none_or(|ns| {
                        let have = p.namespace.as_deref().unwrap_or_default();
                        // A Go module with a major version: its path with or without it.
                        let module = is_go(p)
                            && go_major(&p.name)
                            && have.eq_ignore_ascii_case(&format!("{ns}/{name}"));
                        module || (!have.is_empty() && have.eq_ignore_ascii_case(ns))
                    })
            })
            .collect()
    }

    /// How many SBOMs are held (a repository known to have none is not one).
    pub fn sboms(&self) -> usize {
        self.all()
            .filter(|s| s.sbom.format != super::sbom::NO_GRAPH)
            .count()
    }

    /// About how much memory the index holds: the packages, their versions and package URLs,
    /// each distinct name once, and the positions by name (for the figures).
    pub fn held_bytes(&self) -> usize {
        let mut names = std::collections::HashSet::new();
        let mut bytes = 0;
        for s in self.bulk.sboms.iter().chain(&self.fresh.sboms) {
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
            + [&self.bulk.by_name, &self.fresh.by_name]
                .into_iter()
                .flatten()
                .map(|(k, v)| k.capacity() + v.capacity() * 8)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::sbom::{Names, Sbom};

    fn package(names: &mut Names, name: &str, purl: &str) -> Package {
        Package {
            name: names.intern(name),
            namespace: None,
            version: "1.0".into(),
            purl: Some(purl.into()),
            scheme: Scheme::of_purl(purl),
        }
    }

    /// PyPI names compare as PEP 503 says; other ecosystems' names as written.
    #[test]
    fn pypi_names_are_found_however_they_are_spelled() {
        let mut names = Names::default();
        let packages = vec![
            package(
                &mut names,
                "typing-extensions",
                "pkg:pypi/typing-extensions@1.0",
            ),
            package(&mut names, "lodash.merge", "pkg:npm/lodash.merge@1.0"),
        ];
        let index = Packages::new(vec![StoredSbom {
            location: "bom.json".into(),
            source: "local".into(),
            scope: "local:.".into(),
            sbom: Sbom {
                format: "CycloneDX 1.6".into(),
                packages,
            },
            read_at: 0,
        }]);
        for query in [
            "typing_extensions",
            "Typing.Extensions",
            "typing-extensions",
        ] {
            assert_eq!(index.named(query).len(), 1, "{query}");
        }
        assert_eq!(index.named("lodash.merge").len(), 1);
        assert!(index.named("lodash-merge").is_empty());
    }

    /// A Go module's major version suffix is not its name.
    #[test]
    fn go_modules_are_found_by_name_with_or_without_their_major_version() {
        let mut names = Names::default();
        let packages: Vec<Package> = [
            "pkg:golang/github.com/go-redis/redis/v8@v8.11.5",
            "pkg:golang/github.com/go-redis/redis/v7@v7.4.1",
            "pkg:golang/github.com/redis/go-redis/v9@v9.0.2",
            "pkg:golang/github.com/stretchr/testify@v1.8.4",
            "pkg:npm/redis@4.6.0",
        ]
        .iter()
        .map(|u| {
            let purl = crate::compliance::sbom::Purl::parse(u).unwrap();
            Package {
                name: names.intern(&purl.name),
                namespace: purl.namespace.as_deref().map(|n| names.intern(n)),
                version: purl.version.unwrap_or_default(),
                purl: Some(u.to_string()),
                scheme: Scheme::of_purl(u),
            }
        })
        .collect();
        let index = Packages::new(vec![StoredSbom {
            location: "repo/dependency-graph/sbom".into(),
            source: "github".into(),
            scope: "github:acme/repo".into(),
            sbom: Sbom {
                format: "SPDX-2.3".into(),
                packages,
            },
            read_at: 0,
        }]);
        let found = |q: &str| -> Vec<String> {
            index
                .named(q)
                .iter()
                .map(|(_, p)| p.purl.clone().unwrap())
                .collect()
        };
        assert_eq!(found("redis").len(), 3, "{:?}", found("redis"));
        assert_eq!(
            found("github.com/go-redis/redis/v8"),
            ["pkg:golang/github.com/go-redis/redis/v8@v8.11.5"]
        );
        assert_eq!(found("github.com/go-redis/redis").len(), 2);
        assert_eq!(found("go-redis").len(), 1);
        assert_eq!(found("github.com/stretchr/testify").len(), 1);
        assert!(found("v8").is_empty());
    }

    /// SBOMs read again replace their scopes' in place, as a whole reload would, before and
    /// after the fresh ones are folded into the bulk.
    #[test]
    fn rescoped_sboms_answer_as_a_reload_does() {
        let mut names = Names::default();
        let sbom = |names: &mut Names, repo: usize, version: &str| StoredSbom {
            location: format!("acme/r{repo}/dependency-graph/sbom"),
            source: "github".into(),
            scope: format!("github:acme/r{repo}"),
            sbom: Sbom {
                format: "SPDX-2.3".into(),
                packages: vec![package(
                    names,
                    "lodash",
                    &format!("pkg:npm/lodash@{version}"),
                )],
            },
            read_at: 0,
        };
        let mut held: Vec<StoredSbom> = (0..10).map(|r| sbom(&mut names, r, "1.0")).collect();
        let mut packages = Packages::new(held.clone());
        let mut folds = 0;
        let listed = |p: &Packages| -> Vec<(String, String)> {
            let mut v: Vec<_> = p
                .named("lodash")
                .iter()
                .map(|(s, p)| (s.location.clone(), p.purl.clone().unwrap()))
                .collect();
            v.sort();
            v
        };
        for push in 0..(2 * FOLD_AT + 3) {
            let repo = push % (FOLD_AT + 20);
            let scope = format!("github:acme/r{repo}");
            held.retain(|s| s.scope != scope);
            // Every third push drops the repository's SBOM; others read a new version.
            let now: Vec<StoredSbom> = if push % 3 == 0 {
                vec![]
            } else {
                vec![sbom(&mut names, repo, &format!("2.{push}"))]
            };
            held.extend(now.iter().cloned());
            let next = packages.rescoped(&[scope], now);
            folds += usize::from(!std::sync::Arc::ptr_eq(&next.bulk, &packages.bulk));
            packages = next;
            let reloaded = Packages::new(held.clone());
            assert_eq!(listed(&packages), listed(&reloaded), "push {push}");
            assert_eq!(packages.sboms(), reloaded.sboms(), "push {push}");
        }
        assert_eq!(folds, 2);
    }
}
