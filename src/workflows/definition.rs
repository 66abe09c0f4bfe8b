//! Workflow definitions: one YAML file per workflow in `commands/`, read and checked whole —
//! every problem with its line — before anything can run. A file with a problem is left out;
//! the others load.

use std::collections::HashSet;
use std::time::Duration;

use regex::Regex;
use serde_json::{Map, Value};

use super::policy::Rule;
use super::template;
use crate::catalog::parse::{Document, ParseLimits, line_of_key, parse_file};

/// A problem in a workflow file, at a line (1-based; the file's first line when unknown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub line: u32,
    pub message: String,
}

/// A workflow as its file defines it, checked.
#[derive(Clone, Debug)]
pub struct Workflow {
    /// `[a-z0-9-]+`, unique among the loaded workflows.
    pub name: String,
    pub title: String,
    pub description: String,
    /// The file it was read from.
    pub file: String,
    /// The entity parameter the run is about.
    pub target: Option<String>,
    /// In the order of the form.
    pub parameters: Vec<Parameter>,
    /// Who may request it.
    pub allowed: Vec<Who>,
    /// Rules that must all hold for a request.
    pub policy: Vec<Rule>,
    /// None: `approval: none`, approved as soon as requested.
    pub approval: Option<Approval>,
    /// Who may run it at once in an emergency (break-glass).
    pub emergency: Option<Who>,
    pub steps: Vec<Step>,
}

impl Workflow {
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

#[derive(Clone, Debug)]
pub struct Parameter {
    pub name: String,
    pub kind: Kind,
    pub required: bool,
    pub default: Option<Value>,
    pub description: Option<String>,
}

/// A parameter's type and its constraints.
#[derive(Clone, Debug)]
pub enum Kind {
    String {
        pattern: Option<Regex>,
        max_length: Option<usize>,
    },
    Enum {
        values: Vec<String>,
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Bool,
    /// An entity of the catalog, of one of these kinds (lowercase; any when empty).
    Entity {
        kinds: Vec<String>,
    },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::String { .. } => "string",
            Kind::Enum { .. } => "enum",
            Kind::Integer { .. } => "integer",
            Kind::Bool => "bool",
            Kind::Entity { .. } => "entity",
        }
    }
}

/// Who may request, approve or act in an emergency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    Role(Role),
    /// The members of the teams that own the run's target.
    Owners,
    /// Whoever is on call for the run's target.
    Oncall,
    /// The members of this group (a canonical ref).
    Group(String),
    /// This user (a canonical ref).
    User(String),
}

/// The roles of the permission table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Developer,
    TechLead,
    Platform,
    Admin,
    Auditor,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Developer => "developer",
            Role::TechLead => "tech_lead",
            Role::Platform => "platform",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Role(r) => f.write_str(r.name()),
            Who::Owners => f.write_str("owners"),
            Who::Oncall => f.write_str("oncall"),
            Who::Group(g) | Who::User(g) => f.write_str(g),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Approval {
    pub approvers: Vec<Who>,
    /// Distinct people who must approve.
    pub quorum: u32,
    pub expires_in: Duration,
    pub self_approval: bool,
    pub remind_after: Option<Duration>,
    pub escalate_to: Option<Who>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    /// The executor: `http.request`, `catalog.register`.
    pub uses: String,
    /// Its inputs; strings are templates, rendered when the step runs.
    pub with: Value,
}

/// The executors a step may use, and the inputs each requires.
pub const EXECUTORS: &[(&str, &[&str])] = &[
    ("http.request", &["url"]),
    ("catalog.register", &["file"]),
    (
        "scorecard.exempt",
        &["entity", "scorecard", "checks", "reason", "days"],
    ),
    (
        "github.repository_from_template",
        &["template", "owner", "name"],
    ),
    (
        "github.commit_files",
        &["repository", "branch", "message", "files"],
    ),
    ("github.pull_request", &["repository", "branch", "title"]),
    ("github.workflow_dispatch", &["repository", "workflow"]),
    ("github.update_from_template", &["repository", "templates"]),
];

/// Variables a template may read.
pub const TEMPLATE_ROOTS: &[&str] = &["params", "entity", "actor", "run", "steps", "template"];

/// Reads and checks one workflow file.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Workflow, Vec<Finding>> {
    let docs = parse_file(bytes, &ParseLimits::default()).map_err(|e| {
        vec![Finding {
            line: 1,
            message: e.to_string(),
        }]
    })?;
    let doc = match docs.as_slice() {
        [one] => one,
        [] => return Err(one_problem(1, "the file holds no workflow")),
        [_, second, ..] => {
            return Err(one_problem(
                second.line,
                "a workflow file holds one workflow; put this one in a file of its own",
            ));
        }
    };
    let value = match &doc.value {
        Ok(v) => v,
        Err(e) => return Err(one_problem(doc.error_line, e)),
    };
    let Some(map) = value.as_object() else {
        return Err(one_problem(doc.line, "a workflow is a mapping of keys"));
    };
    let mut r = Reader {
        doc,
        findings: Vec::new(),
    };
    let wf = r.workflow(file, map);
    if r.findings.is_empty() {
        Ok(wf)
    } else {
        r.findings.sort_by_key(|f| f.line);
        Err(r.findings)
    }
}

fn one_problem(line: u32, message: impl Into<String>) -> Vec<Finding> {
    vec![Finding {
        line,
        message: message.into(),
    }]
}

const TOP_KEYS: &[&str] = &[
    "name",
    "title",
    "description",
    "target",
    "parameters",
    "allowed",
    "policy",
    "approval",
    "emergency",
    "steps",
];

/// Collects every problem of one document as it reads it.
struct Reader<'a> {
    doc: &'a Document,
    findings: Vec<Finding>,
}

impl Reader<'_> {
    fn line(&self, key: &str) -> u32 {
        line_of_key(self.doc, key)
    }

    /// The line of a list item that starts `name: NAME` (a parameter, a step).
    fn item_line(&self, name: &str) -> u32 {
        let first = self
            .doc
            .text
            .lines()
            .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .unwrap_or(0);
        self.doc
            .text
            .lines()
            .position(|l| {
                let l = l.trim_start();
                let l = l.strip_prefix("- ").unwrap_or(l).trim_start();
                l.strip_prefix("name:")
                    .is_some_and(|rest| rest.trim().trim_matches(['"', '\'']) == name)
            })
            .map(|i| self.doc.line + (i - first) as u32)
            .unwrap_or(self.doc.line)
    }

    fn problem(&mut self, key: &str, message: impl Into<String>) {
        let line = self.line(key);
        self.findings.push(Finding {
            line,
            message: message.into(),
        });
    }

    fn text(&mut self, map: &Map<String, Value>, key: &str, required: bool) -> Option<String> {
        match map.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            None if !required => None,
            None => {
                let line = self.doc.line;
                self.findings.push(Finding {
                    line,
                    message: format!("`{key}` is missing"),
                });
                None
            }
            Some(_) => {
                self.problem(key, format!("`{key}` must be a non-empty string"));
                None
            }
        }
    }

    fn workflow(&mut self, file: &str, map: &Map<String, Value>) -> Workflow {
        for key in map.keys().filter(|k| !TOP_KEYS.contains(&k.as_str())) {
            self.problem(
                key,
                format!(
                    "`{key}` is not a workflow field (fields: {})",
                    TOP_KEYS.join(", ")
                ),
            );
        }
        let name = self.text(map, "name", true).unwrap_or_default();
        if !name.is_empty()
            && !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            self.problem(
                "name",
                format!("`name` must be lowercase letters, digits and hyphens, not `{name}`"),
            );
        }
        let title = self
            .text(map, "title", false)
            .unwrap_or_else(|| name.clone());
        let description = self.text(map, "description", false).unwrap_or_default();
        let parameters = self.parameters(map.get("parameters"));
        let target = match map.get("target") {
            None => parameters
                .iter()
                .find(|p| matches!(p.kind, Kind::Entity { .. }))
                .map(|p| p.name.clone()),
            Some(Value::String(t)) => {
                match parameters.iter().find(|p| &p.name == t) {
                    Some(p) if matches!(p.kind, Kind::Entity { .. }) => {}
                    Some(_) => {
                        self.problem("target", format!("`target` {t} is not an entity parameter"))
                    }
                    None => self.problem(
                        "target",
                        format!("`target` {t} is not one of the parameters"),
                    ),
                }
                Some(t.clone())
            }
            Some(_) => {
                self.problem("target", "`target` must name an entity parameter");
                None
            }
        };
        let allowed = match map.get("allowed") {
            None => vec![Who::Owners],
            Some(v) => self.who_list("allowed", v),
        };
        let policy = self.policy(map.get("policy"), &parameters);
        let approval = self.approval(map.get("approval"));
        let emergency = match map.get("emergency") {
            None => None,
            Some(Value::String(s)) => self.who("emergency", s),
            Some(_) => {
                self.problem(
                    "emergency",
                    "`emergency` names who may act at once (`oncall`)",
                );
                None
            }
        };
        let steps = self.steps(file, map.get("steps"), &parameters);
        if (allowed.contains(&Who::Owners) || allowed.contains(&Who::Oncall)) && target.is_none() {
            self.problem(
                "allowed",
                "`owners` and `oncall` need a target: an entity parameter the run is about",
            );
        }
        Workflow {
            name,
            title,
            description,
            file: file.to_string(),
            target,
            parameters,
            allowed,
            policy,
            approval,
            emergency,
            steps,
        }
    }

    fn parameters(&mut self, v: Option<&Value>) -> Vec<Parameter> {
        let Some(v) = v else { return Vec::new() };
        let Some(list) = v.as_array() else {
            self.problem("parameters", "`parameters` is a list");
            return Vec::new();
        };
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for p in list {
            let Some(m) = p.as_object() else {
                self.problem(
                    "parameters",
                    "each parameter is a mapping with `name` and `type`",
                );
                continue;
            };
            let Some(name) = m.get("name").and_then(Value::as_str).map(str::to_string) else {
                self.problem("parameters", "a parameter has no `name`");
                continue;
            };
            let at = |r: &Self| r.item_line(&name);
            let bad = |r: &mut Self, msg: String| {
                let line = at(r);
                r.findings.push(Finding { line, message: msg });
            };
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                bad(
                    self,
                    format!("parameter `{name}`: a name is letters, digits and underscores"),
                );
            }
            if !seen.insert(name.clone()) {
                bad(self, format!("parameter `{name}` is defined twice"));
            }
            const KEYS: &[&str] = &[
                "name",
                "type",
                "description",
                "required",
                "default",
                "pattern",
                "max_length",
                "values",
                "min",
                "max",
                "kinds",
            ];
            for k in m.keys().filter(|k| !KEYS.contains(&k.as_str())) {
                bad(
                    self,
                    format!("parameter `{name}`: `{k}` is not a parameter field"),
                );
            }
            let kind = match m.get("type").and_then(Value::as_str) {
                Some("string") => {
                    let pattern = match m.get("pattern") {
                        None => None,
                        Some(Value::String(p)) => match Regex::new(p) {
                            Ok(r) => Some(r),
                            Err(e) => {
                                bad(
                                    self,
                                    format!("parameter `{name}`: pattern does not compile: {e}"),
                                );
                                None
                            }
                        },
                        Some(_) => {
                            bad(self, format!("parameter `{name}`: pattern is a string"));
                            None
                        }
                    };
                    let max_length = m
                        .get("max_length")
                        .and_then(Value::as_u64)
                        .map(|n| n as usize);
                    Kind::String {
                        pattern,
                        max_length,
                    }
                }
                Some("enum") => {
                    let values: Vec<String> = m
                        .get("values")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(scalar).collect())
                        .unwrap_or_default();
                    if values.is_empty() {
                        bad(
                            self,
                            format!("parameter `{name}`: an enum lists its `values`"),
                        );
                    }
                    Kind::Enum { values }
                }
                Some("integer") => Kind::Integer {
                    min: m.get("min").and_then(Value::as_i64),
                    max: m.get("max").and_then(Value::as_i64),
                },
                Some("bool") => Kind::Bool,
                Some("entity") => Kind::Entity {
                    kinds: m
                        .get("kinds")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_ascii_lowercase)
                                .collect()
                        })
                        .unwrap_or_default(),
                },
                Some(other) => {
                    bad(
                        self,
                        format!(
                            "parameter `{name}`: type `{other}` is not one of string, enum, integer, bool, entity"
                        ),
                    );
                    continue;
                }
                None => {
                    bad(self, format!("parameter `{name}` has no `type`"));
                    continue;
                }
            };
            let required = m.get("required").and_then(Value::as_bool).unwrap_or(false);
            let default = m.get("default").cloned();
            if let Some(d) = &default
                && let Err(why) = check_value(&kind, d)
            {
                bad(self, format!("parameter `{name}`: the default {why}"));
            }
            out.push(Parameter {
                name,
                kind,
                required,
                default,
                description: m
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
        out
    }

    fn who(&mut self, key: &str, s: &str) -> Option<Who> {
        match parse_who(s) {
            Ok(w) => Some(w),
            Err(why) => {
                self.problem(key, format!("`{key}`: {why}"));
                None
            }
        }
    }

    fn who_list(&mut self, key: &str, v: &Value) -> Vec<Who> {
        let items: Vec<&str> = match v {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if items.is_empty() {
            self.problem(
                key,
                format!("`{key}` lists who: roles, owners, oncall, group:…, user:…"),
            );
        }
        items.into_iter().filter_map(|s| self.who(key, s)).collect()
    }

    fn policy(&mut self, v: Option<&Value>, params: &[Parameter]) -> Vec<Rule> {
        let Some(v) = v else { return Vec::new() };
        let Some(list) = v.as_array() else {
            self.problem("policy", "`policy` is a list of `rule` and `message`");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in list {
            let (Some(src), Some(message)) = (
                item.get("rule").and_then(Value::as_str),
                item.get("message").and_then(Value::as_str),
            ) else {
                self.problem("policy", "each policy entry has a `rule` and a `message`");
                continue;
            };
            let line = self.line("rule");
            let line = self
                .doc
                .text
                .lines()
                .position(|l| l.contains(src.lines().next().unwrap_or(src)))
                .map(|i| self.doc.line + i as u32)
                .unwrap_or(line);
            match Rule::compile(src, message, params) {
                Ok(r) => out.push(r),
                Err(why) => self.findings.push(Finding {
                    line,
                    message: format!("policy rule does not compile: {why}"),
                }),
            }
        }
        out
    }

    fn approval(&mut self, v: Option<&Value>) -> Option<Approval> {
        let m = match v {
            Some(Value::String(s)) if s == "none" => return None,
            Some(Value::Object(m)) => m,
            None => {
                self.problem(
                    "name",
                    "`approval` is missing: give approvers, or write `approval: none`",
                );
                return None;
            }
            Some(_) => {
                self.problem("approval", "`approval` is a mapping, or `none`");
                return None;
            }
        };
        const KEYS: &[&str] = &[
            "approvers",
            "quorum",
            "expires_in",
            "self_approval",
            "remind_after",
            "escalate_to",
        ];
        for k in m.keys().filter(|k| !KEYS.contains(&k.as_str())) {
            self.problem(k, format!("`approval.{k}` is not an approval field"));
        }
        let approvers = match m.get("approvers") {
            Some(v) => self.who_list("approvers", v),
            None => {
                self.problem("approval", "`approval` names its `approvers`");
                Vec::new()
            }
        };
        let quorum = match m.get("quorum") {
            None => 1,
            Some(q) => match q.as_u64().filter(|&n| (1..=20).contains(&n)) {
                Some(n) => n as u32,
                None => {
                    self.problem("quorum", "`quorum` is a number of people, 1 to 20");
                    1
                }
            },
        };
        let duration = |r: &mut Self, key: &str| -> Option<Duration> {
            let s = m.get(key)?.as_str().map(str::to_string).unwrap_or_default();
            match parse_duration(&s) {
                Ok(d) => Some(d),
                Err(why) => {
                    r.problem(key, format!("`{key}`: {why}"));
                    None
                }
            }
        };
        let expires_in = duration(self, "expires_in").unwrap_or(Duration::from_secs(24 * 3600));
        let remind_after = duration(self, "remind_after");
        let escalate_to = match m.get("escalate_to").and_then(Value::as_str) {
            Some(s) => self.who("escalate_to", s),
            None => None,
        };
        Some(Approval {
            approvers,
            quorum,
            expires_in,
            self_approval: m
                .get("self_approval")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            remind_after,
            escalate_to,
        })
    }

    fn steps(&mut self, file: &str, v: Option<&Value>, params: &[Parameter]) -> Vec<Step> {
        let Some(list) = v.and_then(Value::as_array).filter(|l| !l.is_empty()) else {
            self.problem("steps", "`steps` lists at least one step");
            return Vec::new();
        };
        let mut out: Vec<Step> = Vec::new();
        for s in list {
            let (Some(name), Some(uses)) = (
                s.get("name").and_then(Value::as_str),
                s.get("uses").and_then(Value::as_str),
            ) else {
                self.problem("steps", "each step has a `name` and `uses` (its executor)");
                continue;
            };
            let line = self.item_line(name);
            let bad = |r: &mut Self, message: String| r.findings.push(Finding { line, message });
            if out.iter().any(|o| o.name == name) {
                bad(self, format!("step `{name}` is defined twice"));
            }
            let mut with = s.get("with").cloned().unwrap_or(Value::Object(Map::new()));
            // `files_from: NAME`: the files of `templates/NAME/` beside the workflow file, and
            // what the template is (`template`).
            if let Some(name_of) = with
                .get("files_from")
                .and_then(Value::as_str)
                .map(str::to_string)
            {
                match template::load_tree(file, &name_of) {
                    Ok((about, files)) => {
                        if let Some(m) = with.as_object_mut() {
                            m.remove("files_from");
                        }
                        with["template"] = about;
                        with["files"] = files;
                    }
                    Err(why) => bad(self, format!("step `{name}`: {why}")),
                }
            }
            // `templates_from: all`: every template beside the workflow file, as written, for
            // a step that renders them itself (`github.update_from_template`).
            if let Some(which) = with
                .get("templates_from")
                .and_then(Value::as_str)
                .map(str::to_string)
            {
                let all = match which.as_str() {
                    "all" => template::load_all(file),
                    _ => Err(format!("`templates_from` takes `all`, not `{which}`")),
                };
                match all {
                    Ok(all) => {
                        if let Some(m) = with.as_object_mut() {
                            m.remove("templates_from");
                        }
                        with["templates"] = all;
                    }
                    Err(why) => bad(self, format!("step `{name}`: {why}")),
                }
            }
            match EXECUTORS.iter().find(|(e, _)| *e == uses) {
                None => bad(
                    self,
                    format!(
                        "step `{name}`: no executor is called `{uses}` (executors: {})",
                        EXECUTORS
                            .iter()
                            .map(|(e, _)| *e)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Some((_, required)) => {
                    for r in required.iter().filter(|r| with.get(**r).is_none()) {
                        bad(self, format!("step `{name}`: `{uses}` needs `with.{r}`"));
                    }
                }
            }
            let earlier: Vec<&str> = out.iter().map(|o| o.name.as_str()).collect();
            // Templates taken whole are rendered with the answers they were made from, and
            // checked with the workflow that makes them (`files_from`).
            let mut checked = with.clone();
            if let Some(m) = checked.as_object_mut() {
                m.remove("templates");
            }
            for why in template::check_all(&checked, params, &earlier) {
                bad(self, format!("step `{name}`: {why}"));
            }
            out.push(Step {
                name: name.to_string(),
                uses: uses.to_string(),
                with,
            });
        }
        out
    }
}

/// A scalar parameter value as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether `v` is a valid value of `kind` (entities are resolved later, against the catalog).
pub fn check_value(kind: &Kind, v: &Value) -> Result<(), String> {
    match kind {
        Kind::String {
            pattern,
            max_length,
        } => {
            let Some(s) = v.as_str() else {
                return Err("must be text".into());
            };
            if let Some(n) = max_length
                && s.chars().count() > *n
            {
                return Err(format!("is longer than {n} characters"));
            }
            if let Some(p) = pattern
                && !p.is_match(s)
            {
                return Err(format!("does not match the pattern {}", p.as_str()));
            }
            Ok(())
        }
        Kind::Enum { values } => match scalar(v) {
            Some(s) if values.contains(&s) => Ok(()),
            _ => Err(format!("must be one of {}", values.join(", "))),
        },
        Kind::Integer { min, max } => {
            let Some(n) = v.as_i64() else {
                return Err("must be a whole number".into());
            };
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                let range = match (min, max) {
                    (Some(a), Some(b)) => format!("from {a} to {b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => unreachable!("no bound was broken"),
                };
                return Err(format!("must be {range}"));
            }
            Ok(())
        }
        Kind::Bool => match v {
            Value::Bool(_) => Ok(()),
            _ => Err("must be true or false".into()),
        },
        Kind::Entity { .. } => match v {
            Value::String(s) if !s.trim().is_empty() => Ok(()),
            _ => Err("must name an entity".into()),
        },
    }
}

/// `developer`, `tech_lead`, `platform`, `admin`, `owners`, `oncall`, `group:…`, `user:…`.
pub fn parse_who(s: &str) -> Result<Who, String> {
    let s = s.trim();
    Ok(match s {
        "developer" => Who::Role(Role::Developer),
        "tech_lead" => Who::Role(Role::TechLead),
        "platform" => Who::Role(Role::Platform),
        "admin" => Who::Role(Role::Admin),
        "owners" => Who::Owners,
        "oncall" => Who::Oncall,
        _ => {
            let (kind, rest) = s.split_once(':').ok_or_else(|| {
                format!(
                    "`{s}` is not one of developer, tech_lead, platform, admin, owners, oncall, \
                     group:NAME, user:NAME"
                )
            })?;
            let r = crate::catalog::refs::EntityRef::parse(
                s,
                None,
                crate::catalog::refs::DEFAULT_NAMESPACE,
            )
            .map_err(|e| format!("`{s}`: {e}"))?;
            match kind.to_ascii_lowercase().as_str() {
                "group" => Who::Group(r.to_string()),
                "user" => Who::User(r.to_string()),
                _ => {
                    return Err(format!(
                        "`{s}`: only groups and users can be named ({rest})"
                    ));
                }
            }
        }
    })
}

/// `90s`, `30m`, `2h`, `1d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration such as 90s, 30m, 2h or 1d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(format!(
                "`{s}` is not a duration such as 90s, 30m, 2h or 1d"
            ));
        }
    };
    if secs == 0 {
        return Err("a duration must be longer than nothing".into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"name: provision-database
title: Provision a database
description: Opens a pull request that adds a database for a service.
target: service
parameters:
  - name: service
    type: entity
    kinds: [component]
    required: true
  - name: size
    type: enum
    values: [small, medium, large]
    default: small
  - name: reason
    type: string
    pattern: "^.{10,200}$"
allowed: [owners, platform]
policy:
  - rule: 'params.size != "large" || entity.spec.lifecycle == "production"'
    message: Large databases are for production services.
approval:
  approvers: [owners, platform]
  quorum: 1
  expires_in: 24h
  self_approval: false
  remind_after: 2h
  escalate_to: oncall
emergency: oncall
steps:
  - name: request-db
    uses: http.request
    with:
      url: "https://hooks.example.com/db/{{ params.service.name }}"
      method: POST
      body: { service: "{{ entity.ref }}", size: "{{ params.size }}" }
      secret_env: DB_HOOK_SECRET
  - name: register
    uses: catalog.register
    with: { file: "{{ steps['request-db'].outputs.body.catalog_info }}" }
"#;

    #[test]
    fn the_documented_example_reads_whole() {
        let wf = parse("commands/provision-database.yaml", EXAMPLE.as_bytes()).unwrap();
        assert_eq!(wf.name, "provision-database");
        assert_eq!(wf.target.as_deref(), Some("service"));
        assert_eq!(wf.parameters.len(), 3);
        assert_eq!(wf.allowed, [Who::Owners, Who::Role(Role::Platform)]);
        let a = wf.approval.unwrap();
        assert_eq!((a.quorum, a.expires_in), (1, Duration::from_secs(86_400)));
        assert_eq!(a.escalate_to, Some(Who::Oncall));
        assert_eq!(wf.steps.len(), 2);
        assert_eq!(wf.policy.len(), 1);
    }

    #[test]
    fn every_problem_is_named_with_its_line() {
        let bad = EXAMPLE
            .replace("type: enum", "type: choice")
            .replace("quorum: 1", "quorum: 0")
            .replace("uses: catalog.register", "uses: shell.exec")
            .replace("{{ params.size }}", "{{ params.sise }}")
            .replace("entity.spec.lifecycle ==", "entity.spec.lifecycle = =");
        let findings = parse("x.yaml", bad.as_bytes()).unwrap_err();
        let text: Vec<String> = findings
            .iter()
            .map(|f| format!("{}: {}", f.line, f.message))
            .collect();
        let has = |line: u32, words: &str| {
            findings
                .iter()
                .any(|f| f.line == line && f.message.contains(words))
        };
        assert!(has(10, "type `choice`"), "{text:?}");
        assert!(has(19, "policy rule does not compile"), "{text:?}");
        assert!(has(23, "`quorum`"), "{text:?}");
        assert!(has(30, "params.sise"), "{text:?}");
        assert!(has(37, "no executor is called `shell.exec`"), "{text:?}");
    }

    #[test]
    fn durations_and_people_are_read_or_refused() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("2 weeks").is_err());
        assert_eq!(
            parse_who("group:team-a"),
            Ok(Who::Group("group:default/team-a".into()))
        );
        assert!(parse_who("component:x").is_err());
        assert!(parse_who("everyone").is_err());
    }
}
