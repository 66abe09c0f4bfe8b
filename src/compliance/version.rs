//! Package versions as their ecosystems order them, and the ranges `who uses PACKAGE RANGE`
//! asks about (`< 2.17.1`, `>=2.0, <2.31`). The ordering comes from the package URL's type:
//! semver for npm, cargo and the other semver ecosystems, Maven's own for Maven, PEP 440 for
//! PyPI; anything else is compared part by part, numbers as numbers.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use super::maven::MavenVersion;

/// How an ecosystem orders its versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Semver,
    Maven,
    Pep440,
    /// RubyGems' `Gem::Version`: a letter starts a pre-release (`1.0.0.rc1` < `1.0.0`).
    RubyGems,
    /// Numbers compared as numbers, words as words, in order.
    Generic,
}

impl Scheme {
    /// The ordering of a package URL's type: `pkg:npm/lodash@4.17.21` → semver.
    pub fn of_purl(purl: &str) -> Scheme {
        let kind = purl
            .strip_prefix("pkg:")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("");
        Scheme::of_type(kind)
    }

    /// The ordering of a package URL type (`npm`, `maven`, `pypi`…).
    pub fn of_type(kind: &str) -> Scheme {
        match kind.to_ascii_lowercase().as_str() {
            "npm" | "cargo" | "composer" | "golang" | "nuget" | "hex" | "pub" | "swift" => {
                Scheme::Semver
            }
            "maven" => Scheme::Maven,
            "pypi" => Scheme::Pep440,
            "gem" => Scheme::RubyGems,
            _ => Scheme::Generic,
        }
    }

    /// `a` against `b`. A version the scheme cannot read is compared generically, so that
    /// a stray spelling never hides a package.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Scheme::Semver => match (Semver::parse(a), Semver::parse(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => generic(a, b),
            },
            Scheme::Maven => MavenVersion::parse(a).cmp(&MavenVersion::parse(b)),
            Scheme::Pep440 => match (Pep440::parse(a), Pep440::parse(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => generic(a, b),
            },
            Scheme::RubyGems => gem(a).cmp_gem(&gem(b)),
            Scheme::Generic => generic(a, b),
        }
    }
}

/// A comparator of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "=",
            Op::Ne => "!=",
        }
    }

    fn admits(self, o: Ordering) -> bool {
        match self {
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
        }
    }
}

/// Versions that meet every bound: `>=2.0, <2.31`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub bounds: Vec<(Op, String)>,
}

impl Range {
    /// Reads comparators (`<`, `<=`, `>`, `>=`, `=` or `==`, `!=`) each before a version,
    /// joined by commas; a bare version means `=`.
    pub fn parse(text: &str) -> Result<Range, String> {
        let mut bounds = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "`{}` has an empty bound: write comparators and versions joined by commas, \
                     e.g. `>=2.0, <2.31`",
                    text.trim()
                ));
            }
            let (op, rest) = [
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("!=", Op::Ne),
                ("==", Op::Eq),
                ("<", Op::Lt),
                (">", Op::Gt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(s, op)| part.strip_prefix(s).map(|rest| (*op, rest)))
            .unwrap_or((Op::Eq, part));
            let version = rest.trim();
            if version.starts_with(['<', '>', '=', '!']) {
                return Err(format!(
                    "`{part}`: the comparators are <, <=, >, >=, = and !="
                ));
            }
            if version.is_empty() || version.contains(char::is_whitespace) {
                return Err(format!(
                    "`{part}` needs one version after its comparator, e.g. `< 2.17.1`"
                ));
            }
            bounds.push((op, version.to_string()));
        }
        Ok(Range { bounds })
    }

    /// Whether `version` meets every bound, ordered by `scheme`. A package whose version the
    /// SBOM does not know meets no range: it is not said to be below a fixed release.
    pub fn admits(&self, scheme: Scheme, version: &str) -> bool {
        !version.trim().is_empty()
            && self.bounds.iter().all(|(op, bound)| {
                // PEP 440: against a public version, a candidate's local label is ignored
                // (`2.0.0+cu118` is `<= 2.0.0` and `= 2.0.0`).
                let version = match scheme {
                    Scheme::Pep440 if !bound.contains('+') => {
                        version.split('+').next().unwrap_or(version)
                    }
                    _ => version,
                };
                op.admits(scheme.compare(version, bound))
            })
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .bounds
            .iter()
            .map(|(op, v)| format!("{} {v}", op.symbol()))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Runs of digits compared as numbers, other runs as text, in order; a version that is a
/// prefix of the other comes first.
fn generic(a: &str, b: &str) -> Ordering {
    let (x, y) = (runs(a), runs(b));
    for (p, q) in x.iter().zip(&y) {
        let o = match (p, q) {
            (Run::Number(m), Run::Number(n)) => numeric(m, n),
            (Run::Number(_), Run::Text(_)) => Ordering::Greater,
            (Run::Text(_), Run::Number(_)) => Ordering::Less,
            (Run::Text(s), Run::Text(t)) => s.cmp(t),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    x.len().cmp(&y.len())
}

enum Run<'a> {
    Number(&'a str),
    Text(String),
}

/// The digit runs and the letter runs of a version; separators only separate.
fn runs(v: &str) -> Vec<Run<'_>> {
    let mut out = Vec::new();
    let mut rest = v.trim();
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            out.push(Run::Number(&rest[..end]));
            rest = &rest[end..];
        } else if c.is_alphanumeric() {
            let end = rest
                .find(|c: char| c.is_ascii_digit() || !c.is_alphanumeric())
                .unwrap_or(rest.len());
            out.push(Run::Text(rest[..end].to_lowercase()));
            rest = &rest[end..];
        } else {
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Two runs of digits by value, however long.
fn numeric(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A semantic version, read leniently as npm and cargo lockfiles write them (`v1.2`,
/// `1.2.3-beta.1+build`): the build is ignored, a missing part is 0.
#[derive(Debug)]
struct Semver {
    core: Vec<u64>,
    pre: Vec<String>,
}

impl Semver {
    fn parse(text: &str) -> Option<Semver> {
        let t = text.trim().trim_start_matches(['v', 'V', '=']);
        let t = t.split('+').next().unwrap_or("");
        let (core, pre) = match t.split_once('-') {
            Some((c, p)) => (c, p.split('.').map(str::to_string).collect()),
            None => (t, Vec::new()),
        };
        let mut core: Vec<u64> = core
            .split('.')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        while core.len() < 3 {
            core.push(0);
        }
        Some(Semver { core, pre })
    }
}

impl Ord for Semver {
    /// semver.org's precedence: the numbers (a missing one is 0, so NuGet's `1.2.3.0` is
    /// `1.2.3`), then a pre-release before the release, its identifiers numbers (by value)
    /// before words (in ASCII order), fewer before more.
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.core.len().max(other.core.len());
        let part = |v: &Vec<u64>, i: usize| v.get(i).copied().unwrap_or(0);
        (0..n)
            .map(|i| part(&self.core, i).cmp(&part(&other.core, i)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let is_num =
                            |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
                        let o = match (is_num(a), is_num(b)) {
                            (true, true) => numeric(a, b),
                            (true, false) => Ordering::Less,
                            (false, true) => Ordering::Greater,
                            (false, false) => a.cmp(b),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

/// Equal as ordered: `1.2.3.0` is `1.2.3`.
impl PartialEq for Semver {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Semver {}

impl PartialOrd for Semver {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A RubyGems version's segments, as `Gem::Version#canonical_segments` makes them: digit
/// runs as numbers, letter runs as words (`-` reads as `.pre.`), trailing zeros of the release
/// and of the pre-release parts dropped.
struct Gem(Vec<Seg>);

enum Seg {
    /// Digits without their leading zeros (0 is empty).
    Num(String),
    Word(String),
}

fn gem(text: &str) -> Gem {
    let text = text.trim().replace('-', ".pre.");
    let segments: Vec<Seg> = runs(&text)
        .into_iter()
        .map(|r| match r {
            Run::Number(n) => Seg::Num(n.trim_start_matches('0').to_string()),
            Run::Text(t) => Seg::Word(t),
        })
        .collect();
    let first_word = segments
        .iter()
        .position(|s| matches!(s, Seg::Word(_)))
        .unwrap_or(segments.len());
    let mut release = segments;
    let mut pre = release.split_off(first_word);
    let is_zero = |s: &Seg| matches!(s, Seg::Num(n) if n.is_empty());
    while release.last().is_some_and(is_zero) {
        release.pop();
    }
    while pre.last().is_some_and(is_zero) {
        pre.pop();
    }
    release.extend(pre);
    Gem(release)
}

impl Gem {
    /// `Gem::Version#<=>`: segment by segment, a missing one 0; a word (a pre-release)
    /// before a number.
    fn cmp_gem(&self, other: &Gem) -> Ordering {
        let zero = Seg::Num(String::new());
        for i in 0..self.0.len().max(other.0.len()) {
            let (a, b) = (
                self.0.get(i).unwrap_or(&zero),
                other.0.get(i).unwrap_or(&zero),
            );
            let o = match (a, b) {
                (Seg::Num(m), Seg::Num(n)) => numeric(m, n),
                (Seg::Word(_), Seg::Num(_)) => Ordering::Less,
                (Seg::Num(_), Seg::Word(_)) => Ordering::Greater,
                (Seg::Word(s), Seg::Word(t)) => s.cmp(t),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

/// PEP 440's grammar, as the specification's appendix gives it.
static PEP440: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)^\s*v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
        (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
        (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .expect("PEP 440's pattern compiles")
});

/// A PyPI version as PEP 440 orders it: epoch, release (trailing zeros dropped), then a
/// development release before its pre-releases, pre-releases (a < b < rc) before the
/// release, post-releases after it, and a local label after the same public version.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pep440 {
    epoch: u64,
    release: Vec<u64>,
    pre: Pre,
    post: Option<u64>,
    /// Without a development part it comes after any with one: `(true, 0)`.
    dev: (bool, u64),
    local: Option<Vec<Local>>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pre {
    /// `1.0.dev1`: before every pre-release of 1.0.
    DevOnly,
    /// (a = 0, b = 1, rc = 2, its number).
    Of(u8, u64),
    Release,
}

/// A local label's part: words before numbers.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Local {
    Word(String),
    Number(u64),
}

impl Pep440 {
    fn parse(text: &str) -> Option<Pep440> {
        let c = PEP440.captures(text)?;
        let num = |k: &str| -> Option<Option<u64>> {
            match c.name(k) {
                Some(m) => m.as_str().parse().ok().map(Some),
                None => Some(None),
            }
        };
        let mut release: Vec<u64> = c["release"]
            .split('.')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let pre_rank = c
            .name("pre_l")
            .map(|l| match l.as_str().to_lowercase().as_str() {
                "a" | "alpha" => 0,
                "b" | "beta" => 1,
                _ => 2,
            });
        let post = if c.name("post").is_some() {
            Some(num("post_n1")?.or(num("post_n2")?).unwrap_or(0))
        } else {
            None
        };
        let dev = if c.name("dev").is_some() {
            Some(num("dev_n")?.unwrap_or(0))
        } else {
            None
        };
        let pre = match pre_rank {
            Some(rank) => Pre::Of(rank, num("pre_n")?.unwrap_or(0)),
            None if post.is_none() && dev.is_some() => Pre::DevOnly,
            None => Pre::Release,
        };
        let local = c.name("local").map(|l| {
            l.as_str()
                .split(['-', '_', '.'])
                .map(|p| match p.parse() {
                    Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => Local::Number(n),
                    _ => Local::Word(p.to_lowercase()),
                })
                .collect()
        });
        Some(Pep440 {
            epoch: num("epoch")?.unwrap_or(0),
            release,
            pre,
            post,
            dev: (dev.is_none(), dev.unwrap_or(0)),
            local,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ascending(scheme: Scheme, list: &[&str]) {
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                assert_eq!(scheme.compare(a, b), Ordering::Less, "{a} < {b}");
                assert_eq!(scheme.compare(b, a), Ordering::Greater, "{b} > {a}");
            }
        }
    }

    /// semver.org's example of precedence (section 11).
    #[test]
    fn semver_orders_as_its_specification() {
        ascending(
            Scheme::Semver,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "2.0.0",
                "2.1.0",
                "2.1.1",
                "4.17.21",
                "10.0.0",
            ],
        );
        let s = Scheme::Semver;
        assert_eq!(s.compare("1.0.0+build.5", "1.0.0"), Ordering::Equal);
        assert_eq!(s.compare("v1.2", "1.2.0"), Ordering::Equal);
    }

    /// pypa/packaging's `tests/test_version.py` VERSIONS (the implicit-epoch half, then a
    /// few of the explicit one): strictly ascending.
    #[test]
    fn pep440_orders_as_packaging_does() {
        ascending(
            Scheme::Pep440,
            &[
                "1.0.dev456",
                "1.0a1",
                "1.0a2.dev456",
                "1.0a12.dev456",
                "1.0a12",
                "1.0b1.dev456",
                "1.0b2",
                "1.0b2.post345.dev456",
                "1.0b2.post345",
                "1.0b2-346",
                "1.0c1.dev456",
                "1.0c1",
                "1.0rc2",
                "1.0c3",
                "1.0",
                "1.0.post456.dev34",
                "1.0.post456",
                "1.1.dev1",
                "1.2+123abc",
                "1.2+123abc456",
                "1.2+abc",
                "1.2+abc123",
                "1.2+abc123def",
                "1.2+1234.abc",
                "1.2+123456",
                "1.2.r32+123456",
                "1.2.rev33+123456",
                "1!1.0.dev456",
                "1!1.0a1",
                "1!1.0",
            ],
        );
        let p = Scheme::Pep440;
        assert_eq!(p.compare("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(p.compare("v1.0RC1", "1.0rc1"), Ordering::Equal);
        assert_eq!(p.compare("2.31.0", "2.31"), Ordering::Equal);
    }

    /// RubyGems: a letter starts a pre-release, trailing zeros do not count
    /// (`Gem::Version`'s own examples).
    #[test]
    fn rubygems_orders_as_gem_version_does() {
        let g = Scheme::RubyGems;
        let ascending = [
            "1.0.0.a",
            "1.0.0.a1",
            "1.0.0.b",
            "1.0.0.pre",
            "1.0.0.rc1",
            "1.0.0",
            "1.0.1",
            "1.0.10",
            "2.0.0.rc1",
            "2.0.0",
            "7.0.8.4",
        ];
        for w in ascending.windows(2) {
            assert_eq!(g.compare(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(g.compare("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(g.compare("1.0.0-rc1", "1.0.0.pre.rc1"), Ordering::Equal);
        assert_eq!(Scheme::of_purl("pkg:gem/rails@7.0.8.4"), Scheme::RubyGems);
        let fixed = Range::parse("< 7.0.8.4").unwrap();
        assert!(fixed.admits(g, "7.0.8.1") && fixed.admits(g, "7.0.8.4.rc1"));
        assert!(!fixed.admits(g, "7.0.8.4") && !fixed.admits(g, "7.1.0"));
    }

    /// NuGet's fourth number: `1.2.3.0` is `1.2.3`, `1.2.3.1` after it.
    #[test]
    fn four_part_versions_order_with_a_missing_part_as_zero() {
        let s = Scheme::of_purl("pkg:nuget/Newtonsoft.Json@13.0.3");
        assert_eq!(s.compare("13.0.3.0", "13.0.3"), Ordering::Equal);
        assert_eq!(s.compare("13.0.3.1", "13.0.3"), Ordering::Greater);
        assert_eq!(s.compare("13.0.3.1", "13.0.4"), Ordering::Less);
    }

    /// PEP 440: against a public version, a local label is ignored.
    #[test]
    fn local_labels_match_their_public_version() {
        let p = Scheme::Pep440;
        let at_most = Range::parse("<= 2.0.0").unwrap();
        assert!(at_most.admits(p, "2.0.0+cu118"));
        assert!(Range::parse("= 2.0.0").unwrap().admits(p, "2.0.0+cu118"));
        assert!(!Range::parse("> 2.0.0").unwrap().admits(p, "2.0.0+cu118"));
        assert!(!Range::parse("< 2.0.0").unwrap().admits(p, "2.0.0+cu118"));
        // Against a local version, the label counts.
        assert!(
            !Range::parse("= 2.0.0+cu117")
                .unwrap()
                .admits(p, "2.0.0+cu118")
        );
        assert_eq!(p.compare("2.0.0+cu118", "2.0.0"), Ordering::Greater);
    }

    #[test]
    fn the_ecosystem_comes_from_the_package_url() {
        assert_eq!(Scheme::of_purl("pkg:npm/lodash@4.17.21"), Scheme::Semver);
        assert_eq!(
            Scheme::of_purl("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
            Scheme::Maven
        );
        assert_eq!(Scheme::of_purl("pkg:pypi/requests@2.31.0"), Scheme::Pep440);
        assert_eq!(Scheme::of_purl("pkg:cargo/regex@1.10.2"), Scheme::Semver);
        assert_eq!(Scheme::of_purl("pkg:deb/debian/curl@7.88"), Scheme::Generic);
        assert_eq!(Scheme::of_purl("not a purl"), Scheme::Generic);
    }

    /// Ranges at their boundaries, per ecosystem.
    #[test]
    fn ranges_admit_what_their_bounds_say() {
        let log4j = Range::parse("< 2.17.1").unwrap();
        for (v, yes) in [
            ("2.17.0", true),
            ("2.17.1", false),
            ("2.17.1-rc1", true),
            ("2.3.2", true),
            ("2.18.0", false),
        ] {
            assert_eq!(log4j.admits(Scheme::Maven, v), yes, "log4j-core {v}");
        }
        let requests = Range::parse(">=2.0, <2.31").unwrap();
        for (v, yes) in [
            ("1.2.3", false),
            ("2.0", true),
            ("2.0.0", true),
            ("2.30.9", true),
            ("2.31.0rc1", true),
            ("2.31", false),
            ("2.31.0", false),
        ] {
            assert_eq!(requests.admits(Scheme::Pep440, v), yes, "requests {v}");
        }
        let lodash = Range::parse("<=4.17.20,!=4.17.19").unwrap();
        for (v, yes) in [
            ("4.17.20", true),
            ("4.17.19", false),
            ("4.17.21", false),
            ("4.17.21-beta.1", false),
            ("4.9.0", true),
        ] {
            assert_eq!(lodash.admits(Scheme::Semver, v), yes, "lodash {v}");
        }
        assert!(
            Range::parse("1.2.3")
                .unwrap()
                .admits(Scheme::Semver, "1.2.3")
        );
        // A version the SBOM does not know is in no range, not below every release.
        assert!(!log4j.admits(Scheme::Maven, ""));
        assert!(!Range::parse("!= 1.0").unwrap().admits(Scheme::Semver, " "));
        assert_eq!(requests.to_string(), ">= 2.0, < 2.31");
    }

    #[test]
    fn a_range_that_cannot_be_read_says_why() {
        for (bad, says) in [
            ("<", "needs one version"),
            (">=2.0,", "empty bound"),
            ("<< 2", "the comparators are"),
            ("< 2 3", "needs one version"),
        ] {
            let e = Range::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn unreadable_versions_are_still_ordered() {
        assert_eq!(
            Scheme::Semver.compare("2024-01-05", "2024-02-01"),
            Ordering::Less
        );
        assert_eq!(Scheme::Pep440.compare("lolwat", "lolwut"), Ordering::Less);
        assert_eq!(Scheme::Generic.compare("7.88.1", "7.9"), Ordering::Greater);
        assert_eq!(Scheme::Generic.compare("", "1"), Ordering::Less);
    }
}
