//! SBOMs as Switchboard reads them: SPDX 2.x JSON (GitHub's dependency graph exports it) and
//! CycloneDX JSON, each package's name, namespace, version and package URL. The application
//! the document describes is left out: it is the entity, not one of its dependencies.
//! Package names are interned, so a thousand SBOMs naming `lodash` hold one `lodash`.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use super::version::Scheme;

/// One package an SBOM lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// The package URL's name (`log4j-core`), else the SBOM's name for it.
    pub name: Arc<str>,
    /// The package URL's namespace (`org.apache.logging.log4j`, `@angular`), or the
    /// CycloneDX group.
    pub namespace: Option<Arc<str>>,
    pub version: String,
    pub purl: Option<String>,
    /// How its ecosystem orders versions.
    pub scheme: Scheme,
}

/// The format of what is kept for a repository GitHub has no dependency graph for: no SBOM,
/// but known to have none.
pub const NO_GRAPH: &str = "none";

/// What one SBOM file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sbom {
    /// `SPDX-2.3`, `CycloneDX 1.6`.
    pub format: String,
    /// Each package once, in the order listed.
    pub packages: Vec<Package>,
}

/// Names seen so far, each held once.
#[derive(Debug, Default)]
pub struct Names(HashSet<Arc<str>>);

impl Names {
    pub fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.0.get(name) {
            return n.clone();
        }
        let n: Arc<str> = name.into();
        self.0.insert(n.clone());
        n
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads an SBOM, SPDX or CycloneDX JSON, or says why it cannot.
pub fn parse(bytes: &[u8], names: &mut Names) -> Result<Sbom, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not a JSON SBOM: {e}"))?;
    let listed = if let Some(v) = doc.get("spdxVersion").and_then(Value::as_str) {
        (v.to_string(), spdx_packages(&doc))
    } else if doc.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        let v = doc
            .get("specVersion")
            .and_then(Value::as_str)
            .unwrap_or("?");
        (format!("CycloneDX {v}"), cyclonedx_packages(&doc))
    } else {
        return Err(
            "neither SPDX (no spdxVersion) nor CycloneDX (no bomFormat: CycloneDX) JSON".into(),
        );
    };
    let (format, raw) = listed;
    let mut seen = HashSet::new();
    let mut packages = Vec::new();
    for r in raw {
        let Some(p) = r.package(names) else { continue };
        if seen.insert((p.namespace.clone(), p.name.clone(), p.version.clone())) {
            packages.push(p);
        }
    }
    Ok(Sbom { format, packages })
}

/// A package as the document wrote it, before it is read.
struct Listed<'a> {
    name: Option<&'a str>,
    group: Option<&'a str>,
    version: Option<&'a str>,
    purl: Option<&'a str>,
}

impl Listed<'_> {
    /// The package, its name and namespace from its package URL where it has one.
    fn package(&self, names: &mut Names) -> Option<Package> {
        let purl = self.purl.and_then(Purl::parse);
        let name = purl.as_ref().map(|p| p.name.as_str()).or(self.name)?;
        if name.trim().is_empty() {
            return None;
        }
        let namespace = purl
            .as_ref()
            .and_then(|p| p.namespace.as_deref())
            .or(self.group)
            .filter(|n| !n.is_empty());
        let version = self
            .version
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
            .or_else(|| purl.as_ref().and_then(|p| p.version.clone()))
            .unwrap_or_default();
        Some(Package {
            name: names.intern(name),
            namespace: namespace.map(|n| names.intern(n)),
            version,
            scheme: purl
                .as_ref()
                .map_or(Scheme::Generic, |p| Scheme::of_type(&p.kind)),
            purl: self.purl.map(str::to_string),
        })
    }
}

/// SPDX's packages, without those the document describes.
fn spdx_packages(doc: &Value) -> Vec<Listed<'_>> {
    let mut described: HashSet<&str> = doc
        .get("documentDescribes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for r in doc
        .get("relationships")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = |k: &str| r.get(k).and_then(Value::as_str);
        if s("relationshipType") == Some("DESCRIBES")
            && s("spdxElementId") == Some("SPDXRef-DOCUMENT")
        {
            described.extend(s("relatedSpdxElement"));
        }
    }
    doc.get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| {
            p.get("SPDXID")
                .and_then(Value::as_str)
                .is_none_or(|id| !described.contains(id))
        })
        .map(|p| Listed {
            name: p.get("name").and_then(Value::as_str),
            group: None,
            version: p
                .get("versionInfo")
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty() && *v != "NOASSERTION"),
            purl: p
                .get("externalRefs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|r| r.get("referenceType").and_then(Value::as_str) == Some("purl"))
                .and_then(|r| r.get("referenceLocator"))
                .and_then(Value::as_str),
        })
        .collect()
}

/// CycloneDX's components, nested ones included.
fn cyclonedx_packages(doc: &Value) -> Vec<Listed<'_>> {
    let mut out = Vec::new();
    let mut todo: Vec<&Value> = doc
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    while let Some(c) = todo.pop() {
        let s = |k: &str| c.get(k).and_then(Value::as_str);
        out.push(Listed {
            name: s("name"),
            group: s("group"),
            version: s("version"),
            purl: s("purl"),
        });
        todo.extend(
            c.get("components")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    }
    out.reverse();
    out
}

/// A package URL's parts (`pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH`), decoded.
#[derive(Debug, PartialEq, Eq)]
pub struct Purl {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
}

impl Purl {
    pub fn parse(text: &str) -> Option<Purl> {
        let rest = text.trim().strip_prefix("pkg:")?;
        let rest = rest.split('#').next().unwrap_or("");
        let rest = rest.split('?').next().unwrap_or("");
        let (path, version) = match rest.rsplit_once('@') {
            // `@` of an npm scope is encoded (`%40angular`); one in the path is the version's.
            Some((p, v)) if !p.is_empty() => (p, Some(decode(v))),
            _ => (rest, None),
        };
        let mut parts = path.trim_matches('/').split('/');
        let kind = parts.next()?.to_ascii_lowercase();
        let segments: Vec<String> = parts.map(decode).collect();
        let (name, namespace) = segments.split_last()?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Purl {
            kind,
            namespace: (!namespace.is_empty()).then(|| namespace.join("/")),
            name: name.clone(),
            version: version.filter(|v| !v.is_empty()),
        })
    }
}

/// Percent-decoding as package URLs use it.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(file: &str) -> Sbom {
        let path = format!("{}/tests/fixtures/sbom/{file}", env!("CARGO_MANIFEST_DIR"));
        parse(&std::fs::read(path).unwrap(), &mut Names::default()).unwrap()
    }

    fn find<'a>(s: &'a Sbom, name: &str) -> &'a Package {
        s.packages
            .iter()
            .find(|p| &*p.name == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", s.format))
    }

    #[test]
    fn spdx_from_syft_lists_the_crates() {
        let s = read("spdx-2.3-cargo-kong-atc-router-syft.spdx.json");
        assert_eq!(s.format, "SPDX-2.3");
        assert_eq!(s.packages.len(), 44);
        let regex = find(&s, "regex");
        assert_eq!(regex.version, "1.8.4");
        assert_eq!(regex.scheme, Scheme::Semver);
        assert_eq!(regex.purl.as_deref(), Some("pkg:cargo/regex@1.8.4"));
    }

    #[test]
    fn spdx_leaves_out_what_the_document_describes() {
        let s = read("spdx-2.3-cargo-spdx-example11-hello-server.spdx.json");
        let names: Vec<&str> = s.packages.iter().map(|p| &*p.name).collect();
        assert_eq!(names, ["hyper", "tokio", "pretty_env_logger"]);
        assert_eq!(find(&s, "tokio").version, "1.19.2");
    }

    #[test]
    fn cyclonedx_of_three_ecosystems() {
        let npm = read("cyclonedx-1.6-npm-demo-bundled-dependencies.cdx.json");
        assert_eq!(npm.format, "CycloneDX 1.6");
        assert_eq!(npm.packages.len(), 52);
        assert_eq!(find(&npm, "ansi-regex").version, "2.0.0");
        assert_eq!(find(&npm, "ansi-regex").scheme, Scheme::Semver);
        let php = read("cyclonedx-1.4-composer-laravel-7.12.0.cdx.json");
        assert_eq!(php.packages.len(), 62);
        let framework = find(&php, "framework");
        assert_eq!(framework.namespace.as_deref(), Some("laravel"));
        assert_eq!(framework.version, "v7.30.6");
        let py = read("cyclonedx-1.6-pypi-env-with-extras.cdx.json");
        assert_eq!(py.packages.len(), 31);
        assert_eq!(find(&py, "arrow").scheme, Scheme::Pep440);
    }

    #[test]
    fn names_are_held_once_across_sboms() {
        let mut names = Names::default();
        let dir = format!("{}/tests/fixtures/sbom", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(format!(
            "{dir}/cyclonedx-1.6-npm-demo-bundled-dependencies.cdx.json"
        ))
        .unwrap();
        let a = parse(&bytes, &mut names).unwrap();
        let held = names.len();
        let b = parse(&bytes, &mut names).unwrap();
        assert_eq!(names.len(), held);
        assert!(Arc::ptr_eq(&a.packages[0].name, &b.packages[0].name));
    }

    #[test]
    fn what_is_not_an_sbom_says_so() {
        let mut names = Names::default();
        assert!(
            parse(b"{", &mut names)
                .unwrap_err()
                .starts_with("not a JSON SBOM")
        );
        let e = parse(br#"{"kind": "Component"}"#, &mut names).unwrap_err();
        assert!(e.contains("neither SPDX"), "{e}");
    }

    #[test]
    fn package_urls_are_read_as_their_specification_writes_them() {
        let p =
            Purl::parse("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar").unwrap();
        assert_eq!(
            (
                p.kind.as_str(),
                p.namespace.as_deref(),
                p.name.as_str(),
                p.version.as_deref()
            ),
            (
                "maven",
                Some("org.apache.logging.log4j"),
                "log4j-core",
                Some("2.14.1")
            )
        );
        let p = Purl::parse("pkg:npm/%40angular/animation@12.3.1").unwrap();
        assert_eq!(
            (p.namespace.as_deref(), p.name.as_str()),
            (Some("@angular"), "animation")
        );
        let p = Purl::parse("pkg:golang/google.golang.org/genproto#googleapis/api").unwrap();
        assert_eq!(
            (p.namespace.as_deref(), p.name.as_str(), p.version),
            (Some("google.golang.org"), "genproto", None)
        );
        assert!(Purl::parse("npm/lodash").is_none());
        assert!(Purl::parse("pkg:").is_none());
        assert_eq!(decode("%zz%4"), "%zz%4");
    }
}
