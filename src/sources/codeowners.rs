//! CODEOWNERS, with GitHub's semantics: the file is looked for in `.github/`, the root, then
//! `docs/`; each line is a gitignore-style pattern and owners; the last matching line wins, and
//! a line without owners leaves its paths unowned. Owners are `@org/team`, `@login` or an
//! e-mail. A line that cannot be read is reported with its number and the rest still counts.

use regex::Regex;

/// Where GitHub looks for the file, in order; the first that exists is used.
pub const LOCATIONS: &[&str] = &[".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// One owner as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// `@org/team-slug`
    Team { org: String, slug: String },
    /// `@login`
    User(String),
    /// `someone@example.com`
    Email(String),
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Team { org, slug } => write!(f, "@{org}/{slug}"),
            Owner::User(l) => write!(f, "@{l}"),
            Owner::Email(e) => f.write_str(e),
        }
    }
}

#[derive(Clone, Debug)]
struct Rule {
    pattern: String,
    regex: Regex,
    owners: Vec<Owner>,
    line: u32,
}

/// A parsed CODEOWNERS file.
#[derive(Clone, Debug, Default)]
pub struct CodeOwners {
    rules: Vec<Rule>,
    /// Lines that could not be read: (line number, why).
    pub problems: Vec<(u32, String)>,
}

/// Who owns a path, and the line that says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership<'a> {
    pub owners: &'a [Owner],
    pub pattern: &'a str,
    pub line: u32,
}

/// The file GitHub would use among the paths a repository has.
pub fn locate<'a>(paths: impl IntoIterator<Item = &'a str> + Clone) -> Option<&'static str> {
    LOCATIONS
        .iter()
        .find(|loc| paths.clone().into_iter().any(|p| p == **loc))
        .copied()
}

impl CodeOwners {
    pub fn parse(text: &str) -> CodeOwners {
        let mut out = CodeOwners::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i as u32 + 1;
            let tokens = match tokenize(raw) {
                Ok(t) => t,
                Err(e) => {
                    out.problems.push((line, e));
                    continue;
                }
            };
            let Some((pattern, owners)) = tokens.split_first() else {
                continue;
            };
            let regex = match pattern_regex(pattern) {
                Ok(r) => r,
                Err(e) => {
                    out.problems
                        .push((line, format!("pattern `{pattern}`: {e}")));
                    continue;
                }
            };
            let mut parsed = Vec::with_capacity(owners.len());
            let mut bad = None;
            for o in owners {
                match parse_owner(o) {
                    Some(owner) => parsed.push(owner),
                    None => bad = Some(o.clone()),
                }
            }
            if let Some(o) = bad {
                // GitHub ignores a line with an owner it cannot read; so does this.
                out.problems.push((
                    line,
                    format!("`{o}` is not an owner (expected @org/team, @user or an e-mail)"),
                ));
                continue;
            }
            out.rules.push(Rule {
                pattern: pattern.clone(),
                regex,
                owners: parsed,
                line,
            });
        }
        out
    }

    /// Who owns `path` (relative to the repository root, no leading `/`): the last matching
    /// line. `None` when no line matches; an empty owner list when the last match has none.
    pub fn owners_of(&self, path: &str) -> Option<Ownership<'_>> {
        let path = path.trim_start_matches('/');
        self.rules
            .iter()
            .rev()
            .find(|r| r.regex.is_match(path))
            .map(|r| Ownership {
                owners: &r.owners,
                pattern: &r.pattern,
                line: r.line,
            })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Splits a line into pattern and owners: whitespace separates, `#` after whitespace (or at
/// the start) begins a comment, and a backslash escapes the next character.
fn tokenize(raw: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => return Err("line ends with a lone backslash".into()),
            },
            '#' if cur.is_empty() => break,
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    Ok(tokens)
}

fn parse_owner(o: &str) -> Option<Owner> {
    static TEAM: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"^@([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9_.-]+)$").unwrap()
    });
    static USER: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"^@([A-Za-z0-9][A-Za-z0-9-]*(?:\[bot\])?)$").unwrap()
    });
    static EMAIL: std::sync::LazyLock<Regex> =
        std::sync::LazyLock::new(|| Regex::new(r"^[^@\s]+@[^@\s]+\.[^@\s]+$").unwrap());
    if let Some(c) = TEAM.captures(o) {
        return Some(Owner::Team {
            org: c[1].to_lowercase(),
            slug: c[2].to_lowercase(),
        });
    }
    if let Some(c) = USER.captures(o) {
        return Some(Owner::User(c[1].to_lowercase()));
    }
    EMAIL.is_match(o).then(|| Owner::Email(o.to_lowercase()))
}

/// Translates a gitignore-style pattern into a regex over repository-relative paths.
fn pattern_regex(pattern: &str) -> Result<Regex, String> {
    if pattern.starts_with('!') {
        return Err("negation (`!`) is not supported by CODEOWNERS".into());
    }
    if pattern.contains('[') && !pattern.contains("\\[") {
        return Err("character ranges (`[...]`) are not supported by CODEOWNERS".into());
    }
    // A trailing slash names a directory; it owns everything below, as any directory does.
    let p = pattern.trim_end_matches('/');
    // A slash at the start or in the middle anchors the pattern to the root.
    let anchored = p.starts_with('/') || p.contains('/');
    let p = p.trim_start_matches('/');
    let mut re = String::new();
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                    re.push_str("(?:.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' => {
                if let Some(n) = chars.next() {
                    re.push_str(&regex::escape(&n.to_string()));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    // `docs/*` owns the files directly in docs/ only; any other pattern naming a directory
    // owns everything below it too.
    let contents = if p.ends_with("/*") { "" } else { "(?:/.*)?" };
    let prefix = if anchored { "^" } else { "^(?:.*/)?" };
    Regex::new(&format!("{prefix}{re}{contents}$")).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners(c: &CodeOwners, path: &str) -> Vec<String> {
        c.owners_of(path)
            .map(|o| o.owners.iter().map(|x| x.to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn githubs_documented_examples() {
        // From GitHub's "About code owners" example file.
        let c = CodeOwners::parse(
            "* @global-owner1 @global-owner2\n*.js @js-owner #This is an inline comment.\n*.go docs@example.com\n*.txt @octo-org/octocats\n/build/logs/ @doctocat\ndocs/* docs@example.com\napps/ @octocat\n/docs/ @doctocat\n/scripts/ @doctocat @octocat\n**/logs @octocat\n/apps/ @octocat\n/apps/github\n",
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(
            owners(&c, "README.md"),
            ["@global-owner1", "@global-owner2"]
        );
        assert_eq!(owners(&c, "src/app.js"), ["@js-owner"]);
        assert_eq!(owners(&c, "main.go"), ["docs@example.com"]);
        assert_eq!(owners(&c, "notes.txt"), ["@octo-org/octocats"]);
        assert_eq!(owners(&c, "build/logs/today/x.log"), ["@octocat"]); // **/logs is later
        assert_eq!(owners(&c, "docs/getting-started.md"), ["@doctocat"]); // /docs/ is later
        assert_eq!(owners(&c, "scripts/ci/run.sh"), ["@doctocat", "@octocat"]);
        assert_eq!(owners(&c, "deeply/nested/logs/x"), ["@octocat"]);
        // The last matching line has no owners: the path is unowned.
        let o = c.owners_of("apps/github/main.rb").unwrap();
        assert!(o.owners.is_empty());
        assert_eq!(o.line, 12);
    }

    #[test]
    fn docs_star_owns_direct_children_only() {
        let c = CodeOwners::parse("docs/* @writers\n");
        assert_eq!(owners(&c, "docs/a.md"), ["@writers"]);
        assert!(c.owners_of("docs/sub/b.md").is_none());
    }

    #[test]
    fn unreadable_lines_are_reported_and_the_rest_counts() {
        let c = CodeOwners::parse("* @org/all\n!secret @x\nsrc/ someone\n*.rs @rustaceans\n");
        assert_eq!(c.problems.len(), 2);
        assert_eq!(c.problems[0].0, 2);
        assert_eq!(c.problems[1].0, 3);
        assert_eq!(owners(&c, "lib.rs"), ["@rustaceans"]);
        assert_eq!(owners(&c, "README"), ["@org/all"]);
    }

    #[test]
    fn escapes_and_locations() {
        let c = CodeOwners::parse("\\#notes @a\nmy\\ file.txt @b\n");
        assert_eq!(owners(&c, "#notes"), ["@a"]);
        assert_eq!(owners(&c, "my file.txt"), ["@b"]);
        assert_eq!(
            locate(["CODEOWNERS", ".github/CODEOWNERS"]),
            Some(".github/CODEOWNERS")
        );
        assert_eq!(locate(["docs/CODEOWNERS"]), Some("docs/CODEOWNERS"));
        assert_eq!(locate(["README.md"]), None);
    }
}
