//! From one file's bytes to entities: parse, identify, validate, and note Location targets.
//!
//! Every source (local files now, GitHub later) goes through `ingest_file`, so the same rules and
//! the same messages apply wherever a catalog file comes from.

use serde_json::Value;

use super::model::{Provenance, RawEntity, identity};
use super::parse::{self, ParseLimits};
use super::refs::EntityRef;
use super::snapshot::Problem;
use super::validate::{self, Origin, validate};

/// How catalog files are read and judged: the parser's limits, and the kinds a file may hold
/// beyond Backstage's built-in ones (`catalog.kinds.extra`).
#[derive(Clone, Debug)]
pub struct Reader {
    pub limits: ParseLimits,
    pub extra_kinds: Vec<String>,
}

impl Default for Reader {
    fn default() -> Self {
        Reader {
            limits: ParseLimits::default(),
            extra_kinds: validate::default_extra_kinds(),
        }
    }
}

/// A problem with a line number, as `switchboard check` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineIssue {
    pub line: u32,
    pub message: String,
    /// True when the problem quarantines an entity or loses a document; false for a document
    /// that is no catalog entity at all (an OpenAPI file beside the catalog files), which a scan
    /// skips and `check` reports as an error only in a file named on its own.
    pub fatal: bool,
}

/// What one file yielded.
#[derive(Debug, Default)]
pub struct FileReport {
    pub entities: Vec<RawEntity>,
    /// Documents or files that could not become entities at all.
    pub problems: Vec<Problem>,
    /// Every issue with its line, for `check`.
    pub issues: Vec<LineIssue>,
    /// Targets of Location entities (`spec.target` / `spec.targets`), as written.
    pub targets: Vec<String>,
    /// False when the file was rejected or a document in it could not be parsed: what the
    /// file held before is then unknown, and must not be taken as deleted.
    pub broken: bool,
}

/// Where a file came from; copied into every entity's provenance.
#[derive(Clone, Debug)]
pub struct FileOrigin<'a> {
    pub source: &'a str,
    pub location: &'a str,
    /// The type of location Backstage would read the file from: `file` for local files,
    /// `url` for files read by URL (GitHub). It decides which Locations it may hold.
    pub location_type: &'a str,
    pub commit: Option<&'a str>,
    pub fetched_at: i64,
}

pub fn ingest_file(bytes: &[u8], origin: &FileOrigin<'_>, reader: &Reader) -> FileReport {
    let mut report = FileReport::default();
    let rules = Origin::File {
        location_type: origin.location_type,
        extra_kinds: &reader.extra_kinds,
    };
    let docs = match parse::parse_file(bytes, &reader.limits) {
        Ok(d) => d,
        Err(e) => {
            report.note(origin.location, 1, format!("file rejected: {e}"));
            report.broken = true;
            return report;
        }
    };
    report.entities.reserve(docs.len());
    for doc in docs {
        let body = match doc.value {
            Ok(ref v) => v,
            Err(ref e) => {
                report.note(origin.location, doc.error_line, e.clone());
                report.broken = true;
                continue;
            }
        };
        let (kind, namespace, name) = match identity(body) {
            Ok(id) => id,
            Err(e) => {
                // A mapping that is no entity at all (an OpenAPI spec beside the catalog
                // files) is skipped with a note; anything else Backstage would reject is an
                // error: a document that is not a mapping, an entity without its name.
                let Some(map) = body.as_object() else {
                    let why = validate(body, rules).remove(0);
                    report.note(origin.location, doc.line, why.describe());
                    continue;
                };
                if map.contains_key("kind") || map.contains_key("apiVersion") {
                    let why = validate(body, rules)
                        .into_iter()
                        .next()
                        .map_or(e, |i| i.describe());
                    report.note(origin.location, doc.line, why);
                } else {
                    report.skip(origin, doc.line, e);
                }
                continue;
            }
        };
        let issues = validate(body, rules);
        let mut reasons = Vec::with_capacity(issues.len());
        for i in issues {
            let key = i
                .field
                .rsplit('.')
                .next()
                .map(|k| k.split('[').next().unwrap_or(k))
                .unwrap_or("");
            let line = if key.is_empty() {
                doc.line
            } else {
                parse::line_of_key(&doc, key)
            };
            let message = i.describe();
            report.issues.push(LineIssue {
                line,
                message: format!("{kind} \"{name}\": {message}"),
                fatal: true,
            });
            reasons.push(message);
        }
        if kind.eq_ignore_ascii_case("location") {
            let spec = body.get("spec");
            let kind_ok = spec
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .is_none_or(|t| t == "file");
            if kind_ok {
                let single = spec.and_then(|s| s.get("target")).and_then(Value::as_str);
                let many = spec
                    .and_then(|s| s.get("targets"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str);
                report
                    .targets
                    .extend(single.into_iter().chain(many).map(str::to_string));
            }
        }
        report.entities.push(RawEntity {
            key: EntityRef::new(&kind, &namespace, &name).key(),
            body: doc.value.unwrap_or(Value::Null),
            provenance: Provenance {
                source: origin.source.to_string(),
                location: origin.location.to_string(),
                line: doc.line,
                commit: origin.commit.map(str::to_string),
                fetched_at: origin.fetched_at,
                orphaned_at: None,
            },
            reasons,
            claims: Vec::new(),
            seq: 0,
        });
    }
    report
}

impl FileReport {
    /// The report of a file that could not be read at all.
    pub fn unreadable(location: &str, error: &str) -> FileReport {
        let mut r = FileReport {
            broken: true,
            ..FileReport::default()
        };
        r.note(location, 0, format!("cannot read file: {error}"));
        r
    }

    /// Records a problem found outside the parser (an unreadable file, a missing target).
    pub fn note(&mut self, location: &str, line: u32, message: String) {
        self.issues.push(LineIssue {
            line,
            message: message.clone(),
            fatal: true,
        });
        self.problems.push(Problem {
            location: location.to_string(),
            line,
            message,
        });
    }

    /// A document that is no catalog entity, skipped with a note.
    fn skip(&mut self, origin: &FileOrigin<'_>, line: u32, message: String) {
        self.warn(origin.location, line, message);
    }

    /// A problem that loses nothing (a definition file that could not be read): noted, and
    /// the file's entities are kept.
    pub fn warn(&mut self, location: &str, line: u32, message: String) {
        self.issues.push(LineIssue {
            line,
            message: message.clone(),
            fatal: false,
        });
        self.problems.push(Problem {
            location: location.to_string(),
            line,
            message,
        });
    }
}
