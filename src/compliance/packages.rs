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
                    .entry(key(package))
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
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|&pos| (pos, false))
            .chain(
                pypi_too
                    .and_then(|n| self.by_name.get(n))
                    .into_iter()
                    .flatten()
                    .map(|&pos| (pos, true)),
            )
            .map(|((s, p), normalised)| {
                let sbom = &self.sboms[s as usize];
                (sbom, &sbom.sbom.packages[p as usize], normalised)
            })
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
        self.sboms
            .iter()
            .filter(|s| s.sbom.format != super::sbom::NO_GRAPH)
            .count()
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
}
