//! Reading catalog files: bytes in, one parsed YAML document (or a reason) per entity out.
//!
//! Every limit that protects the process from hostile input lives here: the file size, UTF-8,
//! and the YAML budget (nesting depth, aliases, node count). A file that breaks one is rejected
//! with a reason, in bounded time and memory, and never stops the rest of a sync.

use serde_json::Value;

/// Limits applied to every catalog file.
#[derive(Clone, Debug)]
pub struct ParseLimits {
    /// Files larger than this are rejected unread.
    pub max_file_bytes: usize,
    /// Deepest nesting of mappings and sequences allowed in one document.
    pub max_depth: usize,
    /// Alias (`*name`) uses allowed in one document; alias bombs stop here.
    pub max_aliases: usize,
    /// YAML nodes allowed in one document.
    pub max_nodes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_file_bytes: 1024 * 1024,
            max_depth: 32,
            max_aliases: 100,
            max_nodes: 100_000,
        }
    }
}

/// One YAML document of a file.
#[derive(Debug, Clone)]
pub struct Document {
    /// 1-based line of the document's first content line.
    pub line: u32,
    /// The document as text (needed to point at the line of a bad field).
    pub text: String,
    /// The parsed value, or why it could not be parsed.
    pub value: Result<Value, String>,
    /// 1-based line in the file where parsing failed (the document's line when it did not).
    pub error_line: u32,
}

/// Why a whole file was rejected before any document was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("file is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("file is not UTF-8 (invalid byte at offset {0})")]
    NotUtf8(usize),
}

/// Splits a file into documents and parses each one within the limits.
///
/// Documents are split at `---` lines so that one broken document does not hide the others and
/// each keeps its own line number. Documents holding only comments or nothing are dropped.
pub fn parse_file(bytes: &[u8], limits: &ParseLimits) -> Result<Vec<Document>, FileError> {
    if bytes.len() > limits.max_file_bytes {
        return Err(FileError::TooLarge {
            size: bytes.len(),
            limit: limits.max_file_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| FileError::NotUtf8(e.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let split = split_documents(text);
    let mut docs = Vec::with_capacity(split.len());
    for (start, body) in split {
        let Some(first) = first_content_line(&body) else {
            continue;
        };
        let (value, error_line) = match parse_document(&body, limits) {
            Ok(Value::Null) => continue,
            Ok(v) => (Ok(v), start + first),
            Err((rel, msg)) => (Err(msg), rel.map_or(start + first, |l| start + l)),
        };
        docs.push(Document {
            line: start + first,
            text: body,
            value,
            error_line,
        });
    }
    Ok(docs)
}

fn parse_document(body: &str, limits: &ParseLimits) -> Result<Value, (Option<u32>, String)> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = limits.max_depth;
    budget.max_aliases = limits.max_aliases;
    budget.max_anchors = limits.max_aliases;
    budget.max_nodes = limits.max_nodes;
    budget.max_documents = 1;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = limits.max_nodes;
    options.alias_limits.max_replay_stack_depth = limits.max_depth;
    options.with_snippet = false;
    serde_saphyr::from_str_with_options::<Value>(body, options).map_err(|e| {
        let line = e.location().map(|l| l.line() as u32).filter(|&l| l > 0);
        let msg = e.to_string();
        // Keep the first line, without the position: the caller reports the file's own line.
        let first = msg.lines().next().unwrap_or("invalid YAML").trim();
        let first = AT_LINE.replace(first, "");
        (line, format!("invalid YAML: {}", first.trim()))
    })
}

static AT_LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\s*at line \d+,? column \d+\.?$").expect("regex")
});

/// Yields (0-based line offset of the document, document text) for each `---`-separated part.
fn split_documents(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0u32;
    for (i, line) in text.lines().enumerate() {
        let is_sep = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_sep {
            if !current.trim().is_empty() {
                out.push((start, std::mem::take(&mut current)));
            }
            current.clear();
            start = i as u32 + 1;
            // Content after the marker on the same line belongs to the document.
            let rest = line[3..].trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                start = i as u32;
                current.push_str(rest);
                current.push('\n');
            }
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    if !current.trim().is_empty() {
        out.push((start, current));
    }
    out
}

/// 1-based line, within the document, of its first line that is not blank or a comment.
pub fn first_content_line(body: &str) -> Option<u32> {
    body.lines()
        .position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && t != "..."
        })
        .map(|i| i as u32 + 1)
}

/// Best-effort line of `key:` inside a document (for `file:line:` messages); falls back to the
/// document's own line.
pub fn line_of_key(doc: &Document, key: &str) -> u32 {
    let needle = format!("{key}:");
    let first = first_content_line(&doc.text).unwrap_or(1);
    doc.text
        .lines()
        .position(|l| l.trim_start().starts_with(&needle))
        .map(|i| doc.line + i as u32 + 1 - first)
        .unwrap_or(doc.line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_line_numbers() {
        let text = "# header\napiVersion: v1\nkind: A\n---\n# only a comment\n---\nkind: B\nmetadata:\n  name: x\n";
        let docs = parse_file(text.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].line, 2);
        assert_eq!(docs[1].line, 7);
        assert_eq!(line_of_key(&docs[1], "name"), 9);
    }

    #[test]
    fn one_broken_document_does_not_hide_the_next() {
        let text = "kind: [unclosed\n---\nkind: B\n";
        let docs = parse_file(text.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(docs.len(), 2);
        assert!(
            docs[0]
                .value
                .as_ref()
                .unwrap_err()
                .starts_with("invalid YAML")
        );
        assert_eq!(docs[1].value.as_ref().unwrap()["kind"], "B");
    }

    #[test]
    fn oversized_and_non_utf8_files_are_rejected() {
        let limits = ParseLimits {
            max_file_bytes: 10,
            ..ParseLimits::default()
        };
        assert!(matches!(
            parse_file(b"kind: Component\n", &limits),
            Err(FileError::TooLarge { .. })
        ));
        assert_eq!(
            parse_file(b"kind: \xff\n", &ParseLimits::default()).unwrap_err(),
            FileError::NotUtf8(6)
        );
    }
}
