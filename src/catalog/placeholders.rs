//! Backstage's placeholders, `$text`, `$json` and `$yaml`, read where they point: a file of
//! the same source, relative to the entity's own file (a local file beside it, a file of the
//! same repository). An absolute URL is never fetched (a catalog file must not make the bot
//! request arbitrary addresses): the placeholder stays, and answers show it as a link. A file
//! that cannot be read leaves the placeholder too, with a warning, never a failed sync.
//!
//! Two steps, so a source can read every wanted file in one batch: `wanted` says which files
//! a file's entities point at, `fill` puts what was read in their place.

use serde_json::Value;

use super::ingest::FileReport;
use super::parse::{ParseLimits, parse_file};

/// A placeholder to fill: which entity, where in it, how to read the file, and which file.
#[derive(Clone, Debug)]
pub struct Wanted {
    /// Index into the report's entities.
    pub entity: usize,
    /// JSON pointer to the placeholder's mapping.
    pub pointer: String,
    /// `$text`, `$json` or `$yaml`.
    pub how: String,
    /// The target as written.
    pub target: String,
    /// The file's path inside the source, or why it is not read.
    pub path: Result<String, String>,
}

/// The placeholders of a file's entities that name a file of the same source. `dir` is the
/// entity file's directory inside the source (`""` at its root); `may_climb` allows `..` up
/// to the source's root (a repository), else a target must lie beside the file or below it.
pub fn wanted(report: &FileReport, dir: &str, may_climb: bool) -> Vec<Wanted> {
    let mut out = Vec::new();
    for (i, e) in report.entities.iter().enumerate() {
        find(&e.body, String::new(), &mut |pointer, how, target| {
            // An absolute URL stays as written: shown as a link, never requested.
            if target.contains("://") {
                return;
            }
            out.push(Wanted {
                entity: i,
                pointer,
                how: how.to_string(),
                target: target.to_string(),
                path: join(dir, target, may_climb),
            });
        });
    }
    out
}

fn find(v: &Value, at: String, found: &mut dyn FnMut(String, &str, &str)) {
    match v {
        Value::Object(m) if m.len() == 1 => {
            let (k, inner) = m.iter().next().expect("one entry");
            if let ("$text" | "$json" | "$yaml", Value::String(t)) = (k.as_str(), inner) {
                found(at, k, t);
            } else {
                find(inner, format!("{at}/{}", escape(k)), found);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                find(x, format!("{at}/{}", escape(k)), found);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                find(x, format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

fn escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// `dir` joined with a relative `target`, normalised; refused when it leaves the source.
fn join(dir: &str, target: &str, may_climb: bool) -> Result<String, String> {
    if target.starts_with('/') || target.starts_with('\\') {
        return Err(format!(
            "{target} is an absolute path; only a file of the same source, relative to the \
             entity's file, is read"
        ));
    }
    let mut parts: Vec<&str> = if may_climb {
        dir.split('/').filter(|p| !p.is_empty()).collect()
    } else {
        Vec::new()
    };
    let floor = if may_climb { 0 } else { parts.len() };
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." if parts.len() > floor => {
                parts.pop();
            }
            ".." => {
                return Err(format!(
                    "{target} leaves {}; only a file of the same source is read",
                    if may_climb {
                        "the repository"
                    } else {
                        "the entity file's directory"
                    }
                ));
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        return Err(format!("{target} names no file"));
    }
    let path = parts.join("/");
    Ok(if may_climb || dir.is_empty() {
        path
    } else {
        format!("{}/{path}", dir.trim_end_matches('/'))
    })
}

/// Puts what was read in place of each placeholder. `read` gives a file's bytes by path, or
/// why it cannot. A placeholder that cannot be filled stays, with a warning in the report (at
/// the entity's line): the entity is kept as it is.
pub fn fill(
    report: &mut FileReport,
    location: &str,
    wanted: &[Wanted],
    limits: &ParseLimits,
    read: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) {
    for w in wanted {
        let filled = w.path.clone().and_then(|path| {
            let bytes = read(&path)?;
            if bytes.len() > limits.max_file_bytes {
                return Err(format!(
                    "{path} is {} bytes, over the {}-byte limit",
                    bytes.len(),
                    limits.max_file_bytes
                ));
            }
            let text = String::from_utf8(bytes).map_err(|_| format!("{path} is not UTF-8"))?;
            match w.how.as_str() {
                "$text" => Ok(Value::String(text)),
                "$json" => {
                    serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))
                }
                _ => match parse_file(text.as_bytes(), limits) {
                    Ok(docs) => match docs.into_iter().next().map(|d| d.value) {
                        Some(Ok(v)) => Ok(v),
                        Some(Err(e)) => Err(format!("{path} is not YAML: {e}")),
                        None => Err(format!("{path} is empty")),
                    },
                    Err(e) => Err(format!("{path}: {e}")),
                },
            }
        });
        let e = &mut report.entities[w.entity];
        match filled {
            Ok(v) => {
                if let Some(slot) = e.body.pointer_mut(&w.pointer) {
                    *slot = v;
                }
            }
            Err(why) => {
                let line = e.provenance.line;
                let message = format!(
                    "{}: {} {} was not read ({why}); the entity is kept without it",
                    e.key, w.how, w.target
                );
                report.warn(location, line, message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_stay_inside_their_source() {
        assert_eq!(join("", "./a.yaml", false), Ok("a.yaml".into()));
        assert_eq!(join("", "specs/./a.yaml", false), Ok("specs/a.yaml".into()));
        assert!(join("", "../a.yaml", false).is_err());
        assert!(join("", "/etc/passwd", false).is_err());
        assert_eq!(
            join("svc/catalog", "../api/a.yaml", true),
            Ok("svc/api/a.yaml".into())
        );
        assert!(join("svc", "../../a.yaml", true).is_err());
        assert!(join("", "specs/..", false).is_err());
    }
}
