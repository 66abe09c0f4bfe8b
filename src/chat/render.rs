//! Rendering a `Reply` for a terminal (plain text) and as JSON (`ask --format json`).

use std::fmt::Write;

use super::Reply;

/// Plain text for a terminal: headline, fields, sections, suggestions, warnings, small print.
pub fn text(reply: &Reply) -> String {
    let v = &reply.view;
    let mut out = String::new();
    out.push_str(&v.headline);
    if let Some(b) = &v.badge {
        let _ = write!(out, "  [{b}]");
    }
    out.push('\n');
    let width = v
        .fields
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    for (k, val) in &v.fields {
        let _ = writeln!(out, "  {k:<width$}  {val}");
    }
    for s in &v.sections {
        out.push('\n');
        if !s.title.is_empty() {
            let _ = writeln!(out, "{}:", s.title);
        }
        for l in &s.lines {
            let _ = writeln!(out, "  {l}");
        }
        if s.more > 0 {
            let _ = writeln!(out, "  … and {} more", s.more);
        }
    }
    for a in &reply.attachments {
        let _ = writeln!(out, "\n[picture {}: {}]", a.file_name, a.alt);
    }
    if !reply.suggestions.is_empty() {
        out.push('\n');
        let _ = writeln!(out, "Did you mean:");
        for s in &reply.suggestions {
            let _ = writeln!(out, "  {s}");
        }
    }
    if !reply.warnings.is_empty() {
        out.push('\n');
        for w in &reply.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
    }
    if !v.context.is_empty() {
        out.push('\n');
        for c in &v.context {
            let _ = writeln!(out, "{c}");
        }
    }
    out
}

/// As `text`, for a terminal that cannot show pictures: each picture is written to a file
/// (in the system's temporary directory, under `switchboard/`) and its path printed.
pub fn text_saving_pictures(reply: &Reply) -> String {
    let mut out = text(&Reply {
        attachments: Vec::new(),
        ..reply.clone()
    });
    let dir = std::env::temp_dir().join("switchboard");
    for a in &reply.attachments {
        let path = dir.join(&a.file_name);
        let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &a.png[..]));
        let _ = match saved {
            Ok(()) => writeln!(out, "picture: {} ({})", path.display(), a.alt),
            Err(e) => writeln!(out, "picture {} not written: {e}", path.display()),
        };
    }
    out
}

/// One JSON object: intent, query, entity, result, provenance, suggestions, warnings.
pub fn json(reply: &Reply) -> String {
    serde_json::to_string_pretty(reply).expect("a reply always serialises")
}

/// `s` cut to `max` characters, the cut marked with an ellipsis.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
