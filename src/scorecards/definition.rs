//! Scorecards as the platform team writes them (`config/scorecards.yaml`, one scorecard per
//! YAML document), read and checked with every problem's line.
//!
//! ```yaml
//! name: production-readiness
//! title: Production readiness
//! filter: {kind: [component], lifecycle: [production]}
//! owners: [group:default/platform]
//! checks:
//!   - check: owner
//!     weight: 3
//!   - check: annotation
//!     name: pagerduty
//!     annotation: pagerduty.com/service-id
//!   - name: has-slo
//!     title: An SLO is linked
//!     expression: 'entity.metadata.links.exists(l, l.type == "slo")'
//!     fix: Add a link of type `slo` to the SLO's dashboard
//! levels:
//!   - name: bronze
//!     checks: [owner, description]
//!   - name: silver
//!     checks: [oncall, runbook]
//! ```
//!
//! A level holds when its checks and those of every level below it pass.

use serde_json::{Map, Value};

use crate::catalog::parse::{Document, ParseLimits, line_of_key, parse_file};
use crate::workflows::definition::Finding;
use crate::workflows::policy::Rule;

/// The checks Switchboard knows, by the name a scorecard uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `spec.owner` set and resolvable to a Group with members.
    Owner,
    Description,
    Lifecycle,
    /// Part of a System.
    System,
    /// Someone is on call for it now (a rotation or PagerDuty).
    Oncall,
    /// A runbook: a link of type `runbook`, a link titled with "runbook", or the annotation
    /// `switchboard.dev/runbook`.
    Runbook,
    /// `backstage.io/techdocs-ref`.
    Techdocs,
    /// Each API it provides has a definition (an entity that provides none passes).
    ApiDefinition,
    Tags,
    /// It declares what it depends on (`dependsOn` or `consumesApis`), and all of it resolves.
    Dependencies,
    /// In production, it depends on nothing deprecated.
    NoDeprecatedDependencies,
    /// No other source (CODEOWNERS, PagerDuty) claims it for another owner.
    OwnershipAgrees,
    NotQuarantined,
}

impl Builtin {
    pub const ALL: &[(&str, Builtin)] = &[
        ("owner", Builtin::Owner),
        ("description", Builtin::Description),
        ("lifecycle", Builtin::Lifecycle),
        ("system", Builtin::System),
        ("oncall", Builtin::Oncall),
        ("runbook", Builtin::Runbook),
        ("techdocs", Builtin::Techdocs),
        ("api-definition", Builtin::ApiDefinition),
        ("tags", Builtin::Tags),
        ("dependencies", Builtin::Dependencies),
        (
            "no-deprecated-dependencies",
            Builtin::NoDeprecatedDependencies,
        ),
        ("ownership-agrees", Builtin::OwnershipAgrees),
        ("not-quarantined", Builtin::NotQuarantined),
    ];

    pub fn name(self) -> &'static str {
        Builtin::ALL
            .iter()
            .find(|(_, b)| *b == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    fn parse(s: &str) -> Option<Builtin> {
        Builtin::ALL.iter().find(|(n, _)| *n == s).map(|(_, b)| *b)
    }

    /// What the check asks, as a line of a scorecard.
    pub fn title(self) -> &'static str {
        match self {
            Builtin::Owner => "Owned by a team with members",
            Builtin::Description => "Has a description",
            Builtin::Lifecycle => "Has a lifecycle",
            Builtin::System => "Part of a system",
            Builtin::Oncall => "Someone is on call for it",
            Builtin::Runbook => "Has a runbook",
            Builtin::Techdocs => "Has TechDocs",
            Builtin::ApiDefinition => "Its APIs have definitions",
            Builtin::Tags => "Has tags",
            Builtin::Dependencies => "Declares its dependencies, all in the catalog",
            Builtin::NoDeprecatedDependencies => "Depends on nothing deprecated",
            Builtin::OwnershipAgrees => "Every source agrees on its owner",
            Builtin::NotQuarantined => "Valid (not quarantined)",
        }
    }
}

/// How a check is decided.
#[derive(Clone, Debug)]
pub enum Test {
    Builtin(Builtin),
    /// The annotation is present and not empty.
    Annotation(String),
    /// A CEL expression over `entity` (as workflow policies see it) and `now`.
    Expression(Rule),
}

#[derive(Clone, Debug)]
pub struct Check {
    /// How levels name it.
    pub name: String,
    pub title: String,
    pub weight: u32,
    pub test: Test,
    /// What to do when it fails, written by the platform team (built-in checks have their own).
    pub fix: Option<String>,
    /// A workflow that fixes it (`fix it` button).
    pub workflow: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Level {
    pub name: String,
    /// Indexes into the scorecard's checks.
    pub checks: Vec<usize>,
}

/// Which entities a scorecard is about: every listed field must match one of its values
/// (none listed: any).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub kind: Vec<String>,
    pub r#type: Vec<String>,
    pub lifecycle: Vec<String>,
    pub tag: Vec<String>,
    /// System references (`system:default/audio-playback`).
    pub system: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Scorecard {
    pub name: String,
    pub title: String,
    pub description: String,
    pub filter: Filter,
    /// Groups that grant exemptions.
    pub owners: Vec<String>,
    pub checks: Vec<Check>,
    /// From the lowest to the highest.
    pub levels: Vec<Level>,
    pub file: String,
    pub line: u32,
}

const TOP_KEYS: &[&str] = &[
    "name",
    "title",
    "description",
    "filter",
    "owners",
    "checks",
    "levels",
];
const CHECK_KEYS: &[&str] = &[
    "check",
    "name",
    "title",
    "weight",
    "annotation",
    "expression",
    "fix",
    "workflow",
];
const FILTER_KEYS: &[&str] = &["kind", "type", "lifecycle", "tag", "system"];

/// Reads every scorecard of these files; problems come with their file and line, and a
/// scorecard with any problem is left out.
pub fn load(paths: &[String]) -> (Vec<Scorecard>, Vec<(String, Finding)>) {
    let mut cards: Vec<Scorecard> = Vec::new();
    let mut problems = Vec::new();
    for file in crate::workflows::files(paths) {
        let bytes = match crate::workflows::read(&file) {
            Ok(b) => b,
            Err(f) => {
                problems.push((file, f));
                continue;
            }
        };
        let (read, found) = parse_bytes(&file, &bytes);
        problems.extend(found.into_iter().map(|f| (file.clone(), f)));
        for sc in read {
            match cards.iter().find(|c| c.name == sc.name) {
                Some(first) => problems.push((
                    file.clone(),
                    Finding {
                        line: sc.line,
                        message: format!(
                            "a scorecard named `{}` is already defined in {}:{}",
                            sc.name, first.file, first.line
                        ),
                    },
                )),
                None => cards.push(sc),
            }
        }
    }
    (cards, problems)
}

/// The scorecards one file's bytes define, and the problems of those it leaves out.
pub fn parse_bytes(file: &str, bytes: &[u8]) -> (Vec<Scorecard>, Vec<Finding>) {
    let docs = match parse_file(bytes, &ParseLimits::default()) {
        Ok(d) => d,
        Err(e) => {
            let f = Finding {
                line: 1,
                message: e.to_string(),
            };
            return (Vec::new(), vec![f]);
        }
    };
    let (mut cards, mut problems) = (Vec::new(), Vec::new());
    for doc in &docs {
        match parse(file, doc) {
            Ok(sc) => cards.push(sc),
            Err(findings) => problems.extend(findings),
        }
    }
    (cards, problems)
}

struct Reader<'a> {
    doc: &'a Document,
    findings: Vec<Finding>,
}

impl Reader<'_> {
    fn problem_at(&mut self, line: u32, message: impl Into<String>) {
        self.findings.push(Finding {
            line,
            message: message.into(),
        });
    }

    fn problem(&mut self, key: &str, message: impl Into<String>) {
        let line = line_of_key(self.doc, key);
        self.problem_at(line, message);
    }

    /// The line of the first line of the document holding `needle` after a key.
    fn line_of(&self, key: &str, value: &str) -> u32 {
        let first = crate::catalog::parse::first_content_line(&self.doc.text).unwrap_or(1);
        self.doc
            .text
            .lines()
            .position(|l| {
                let l = l.trim_start().trim_start_matches("- ").trim_start();
                l.strip_prefix(key)
                    .and_then(|r| r.strip_prefix(':'))
                    .is_some_and(|r| r.trim().trim_matches(['"', '\'']) == value)
            })
            .map(|i| self.doc.line + i as u32 + 1 - first)
            .unwrap_or(self.doc.line)
    }

    fn text(&mut self, map: &Map<String, Value>, key: &str) -> Option<String> {
        match map.get(key) {
            None => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(_) => {
                self.problem(key, format!("`{key}` must be a non-empty string"));
                None
            }
        }
    }

    /// A list of strings (a single string is a list of one).
    fn strings(&mut self, value: Option<&Value>, key: &str) -> Vec<String> {
        match value {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.trim().to_string()],
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for i in items {
                    match i.as_str() {
                        Some(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                        _ => self.problem(key, format!("`{key}` lists strings only")),
                    }
                }
                out
            }
            Some(_) => {
                self.problem(
                    key,
                    format!("`{key}` must be a string or a list of strings"),
                );
                Vec::new()
            }
        }
    }

    fn scorecard(&mut self, file: &str, map: &Map<String, Value>) -> Scorecard {
        for key in map.keys().filter(|k| !TOP_KEYS.contains(&k.as_str())) {
            self.problem(
                key,
                format!(
                    "`{key}` is not a scorecard field (fields: {})",
                    TOP_KEYS.join(", ")
                ),
            );
        }
        let name = self.text(map, "name").unwrap_or_default();
        if name.is_empty() {
            self.problem_at(self.doc.line, "`name` is missing");
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            self.problem(
                "name",
                format!("`name` must be lowercase letters, digits and hyphens, not `{name}`"),
            );
        }
        let title = self.text(map, "title").unwrap_or_else(|| name.clone());
        let description = self.text(map, "description").unwrap_or_default();
        let filter = self.filter(map.get("filter"));
        let owners = self.strings(map.get("owners"), "owners");
        for o in &owners {
            if crate::catalog::refs::EntityRef::parse(o, Some("group"), "default").is_err() {
                self.problem("owners", format!("`{o}` is not a group reference"));
            }
        }
        let checks = self.checks(map.get("checks"));
        if checks.is_empty() && map.get("checks").and_then(Value::as_array).is_some() {
            self.problem("checks", "a scorecard needs at least one check");
        }
        let levels = self.levels(map.get("levels"), &checks);
        Scorecard {
            name,
            title,
            description,
            filter,
            owners,
            checks,
            levels,
            file: file.to_string(),
            line: self.doc.line,
        }
    }

    fn filter(&mut self, value: Option<&Value>) -> Filter {
        let Some(value) = value else {
            return Filter::default();
        };
        let Some(map) = value.as_object() else {
            self.problem(
                "filter",
                "`filter` is a mapping (kind, type, lifecycle, tag, system)",
            );
            return Filter::default();
        };
        for key in map.keys().filter(|k| !FILTER_KEYS.contains(&k.as_str())) {
            // Its own line in a block mapping; the filter's, written inline.
            let own = line_of_key(self.doc, key);
            let line = if own == self.doc.line {
                line_of_key(self.doc, "filter")
            } else {
                own
            };
            self.problem_at(
                line,
                format!(
                    "`{key}` is not a filter field (fields: {})",
                    FILTER_KEYS.join(", ")
                ),
            );
        }
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.to_ascii_lowercase()).collect();
        Filter {
            kind: lower(self.strings(map.get("kind"), "kind")),
            r#type: lower(self.strings(map.get("type"), "type")),
            lifecycle: lower(self.strings(map.get("lifecycle"), "lifecycle")),
            tag: lower(self.strings(map.get("tag"), "tag")),
            system: self
                .strings(map.get("system"), "system")
                .into_iter()
                .map(|s| {
                    crate::catalog::refs::EntityRef::parse(&s, Some("system"), "default")
                        .map(|r| r.key())
                        .unwrap_or(s)
                })
                .collect(),
        }
    }

    fn checks(&mut self, value: Option<&Value>) -> Vec<Check> {
        let Some(items) = value.and_then(Value::as_array) else {
            self.problem_at(
                line_of_key(self.doc, "checks"),
                "`checks` must list the scorecard's checks",
            );
            return Vec::new();
        };
        let mut out: Vec<Check> = Vec::new();
        for item in items {
            let Some(map) = item.as_object() else {
                self.problem("checks", "each check is a mapping (`check: owner`, …)");
                continue;
            };
            let builtin = map.get("check").and_then(Value::as_str);
            let name = map
                .get("name")
                .and_then(Value::as_str)
                .or(builtin)
                .unwrap_or_default()
                .to_string();
            let line = match map.get("name").and_then(Value::as_str) {
                Some(n) => self.line_of("name", n),
                None => self.line_of("check", &name),
            };
            for key in map.keys().filter(|k| !CHECK_KEYS.contains(&k.as_str())) {
                self.problem_at(
                    line,
                    format!(
                        "`{key}` is not a check field (fields: {})",
                        CHECK_KEYS.join(", ")
                    ),
                );
            }
            if name.is_empty() {
                self.problem_at(line, "a check needs `check: BUILTIN` or a `name`");
                continue;
            }
            if out.iter().any(|c| c.name == name) {
                self.problem_at(line, format!("two checks are named `{name}`"));
                continue;
            }
            let weight = match map.get("weight") {
                None => 1,
                Some(w) => match w.as_u64() {
                    Some(n) if (1..=100).contains(&n) => n as u32,
                    _ => {
                        self.problem_at(line, "`weight` is a whole number from 1 to 100");
                        1
                    }
                },
            };
            let annotation = map.get("annotation").and_then(Value::as_str);
            let expression = map.get("expression").and_then(Value::as_str);
            let test = match (builtin, annotation, expression) {
                (Some("annotation"), Some(a), None) if !a.trim().is_empty() => {
                    Test::Annotation(a.trim().to_string())
                }
                (Some("annotation"), _, _) => {
                    self.problem_at(line, "`check: annotation` needs `annotation: KEY`");
                    continue;
                }
                (Some(b), None, None) => match Builtin::parse(b) {
                    Some(b) => Test::Builtin(b),
                    None => {
                        let known: Vec<&str> = Builtin::ALL.iter().map(|(n, _)| *n).collect();
                        self.problem_at(
                            line,
                            format!(
                                "`{b}` is not a built-in check (they are: {}, annotation)",
                                known.join(", ")
                            ),
                        );
                        continue;
                    }
                },
                (None, None, Some(e)) => match Rule::compile(e, "", &[]) {
                    Ok(rule) => Test::Expression(rule),
                    Err(why) => {
                        self.problem_at(line, format!("the expression of `{name}`: {why}"));
                        continue;
                    }
                },
                _ => {
                    self.problem_at(
                        line,
                        format!(
                            "`{name}` needs one of `check: BUILTIN`, `check: annotation` with \
                             `annotation: KEY`, or `expression: CEL`"
                        ),
                    );
                    continue;
                }
            };
            let title = map
                .get("title")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| match &test {
                    Test::Builtin(b) => b.title().to_string(),
                    Test::Annotation(a) => format!("Has the annotation {a}"),
                    Test::Expression(_) => name.clone(),
                });
            let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
            out.push(Check {
                name,
                title,
                weight,
                test,
                fix: text("fix"),
                workflow: text("workflow"),
            });
        }
        out
    }

    fn levels(&mut self, value: Option<&Value>, checks: &[Check]) -> Vec<Level> {
        let Some(items) = value.and_then(Value::as_array) else {
            if value.is_some() {
                self.problem("levels", "`levels` lists levels, lowest first");
            }
            return Vec::new();
        };
        let mut out: Vec<Level> = Vec::new();
        for item in items {
            let Some(map) = item.as_object() else {
                self.problem("levels", "each level is a mapping (`name`, `checks`)");
                continue;
            };
            let name = map
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let line = self.line_of("name", &name);
            if name.is_empty() {
                self.problem("levels", "a level needs a `name`");
                continue;
            }
            if out.iter().any(|l| l.name == name) {
                self.problem_at(line, format!("two levels are named `{name}`"));
                continue;
            }
            let mut indexes = Vec::new();
            for c in self.strings(map.get("checks"), "checks") {
                match checks.iter().position(|k| k.name == c) {
                    Some(i) => indexes.push(i),
                    None => self.problem_at(
                        line,
                        format!("level `{name}` names `{c}`, which is not one of the checks"),
                    ),
                }
            }
            out.push(Level {
                name,
                checks: indexes,
            });
        }
        out
    }
}

/// One scorecard document, or every problem in it.
fn parse(file: &str, doc: &Document) -> Result<Scorecard, Vec<Finding>> {
    let value = match &doc.value {
        Ok(v) => v,
        Err(e) => {
            return Err(vec![Finding {
                line: doc.error_line,
                message: e.clone(),
            }]);
        }
    };
    let Some(map) = value.as_object() else {
        return Err(vec![Finding {
            line: doc.line,
            message: "a scorecard is a mapping of keys".into(),
        }]);
    };
    let mut r = Reader {
        doc,
        findings: Vec::new(),
    };
    let sc = r.scorecard(file, map);
    if r.findings.is_empty() {
        Ok(sc)
    } else {
        r.findings.sort_by_key(|f| f.line);
        Err(r.findings)
    }
}

impl Scorecard {
    /// A scorecard of these built-in checks alone, weighted 1, about anything (for figures
    /// such as completeness that count facts rather than grade).
    pub fn of_builtins(checks: &[Builtin]) -> Scorecard {
        Scorecard {
            name: String::new(),
            title: String::new(),
            description: String::new(),
            filter: Filter::default(),
            owners: Vec::new(),
            checks: checks
                .iter()
                .map(|&b| Check {
                    name: b.name().to_string(),
                    title: b.title().to_string(),
                    weight: 1,
                    test: Test::Builtin(b),
                    fix: None,
                    workflow: None,
                })
                .collect(),
            levels: Vec::new(),
            file: String::new(),
            line: 0,
        }
    }
}
