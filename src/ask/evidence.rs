//! `switchboard report compliance`: the evidence a compliance questionnaire asks for, one row
//! per entity a `find` filter selects (components by default): owner, lifecycle, who is on
//! call, runbook, quarantine and, with `uses:PACKAGE[@VERSIONS]`, the packages matched; with
//! the catalog generation and the time it reflects. Quarantined entities are listed apart and
//! left out of the figures. Read from memory, as the bot sees the catalog (private entities
//! included).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::answers::{Context, matching, oncall_people};
use super::uses::{Found, uses_filter};
use crate::catalog::links::{self, Group};

/// The report.
#[derive(Debug, Serialize)]
pub struct Evidence {
    /// The `find` filter the rows answer.
    pub filter: String,
    /// When the catalog it reads was assembled in memory (epoch seconds).
    pub catalog_generation: i64,
    /// The time the catalog reflects at least: the oldest of its sources' last complete
    /// syncs (webhooks may have brought parts of it further; None before any sync).
    pub reflects: Option<DateTime<Utc>>,
    /// Each source as of when: its last complete sync and its last event.
    pub sources: Vec<SourceAsOf>,
    /// When the report was made.
    pub at: DateTime<Utc>,
    pub figures: Figures,
    pub rows: Vec<Row>,
    /// Quarantined entities: listed, not counted.
    pub quarantined: Vec<Row>,
}

/// What one source had delivered when the report was made.
#[derive(Debug, Serialize)]
pub struct SourceAsOf {
    pub source: String,
    pub synced_at: Option<DateTime<Utc>>,
    pub last_event_at: Option<DateTime<Utc>>,
}

/// How many of the rows (quarantined ones left out) have each part.
#[derive(Debug, Default, Serialize)]
pub struct Figures {
    pub entities: usize,
    pub production: usize,
    pub with_owner: usize,
    pub with_oncall: usize,
    pub with_runbook: usize,
}

/// One entity's evidence.
#[derive(Debug, Serialize)]
pub struct Row {
    pub entity: String,
    pub lifecycle: Option<String>,
    pub owners: Vec<String>,
    pub oncall: Vec<String>,
    pub runbook: Option<String>,
    pub quarantined: bool,
    pub reasons: Vec<String>,
    /// `name version` of each package a `uses:` filter matched.
    pub packages: Vec<String>,
}

/// The evidence for `filter` (`kind:component` when empty), or why the filter cannot be read.
pub fn compliance(ctx: &Context<'_>, filter: &str) -> Result<Evidence, String> {
    let filter = match filter.trim() {
        "" => "kind:component",
        f => f,
    };
    let ids = matching(ctx, filter)?.unwrap_or_default();
    // What each `uses:` filter matched, by SBOM scope.
    let mut packages: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for tok in filter.split_whitespace() {
        let Some(v) = tok.strip_prefix("uses:") else {
            continue;
        };
        let (name, range) = uses_filter(v)?;
        let found = Found::of(ctx, name, range.as_ref());
        for (scope, versions) in found.admitted() {
            let versions: Vec<&str> = versions.iter().copied().collect();
            packages
                .entry(scope)
                .or_default()
                .push(format!("{name} {}", versions.join(", ")));
        }
    }
    let snap = ctx.snap;
    let time = |t: i64| DateTime::<Utc>::from_timestamp(t, 0);
    let sources: Vec<SourceAsOf> = ctx
        .sources
        .iter()
        .map(|s| SourceAsOf {
            source: s.source.clone(),
            synced_at: s.last_complete.as_ref().and_then(|r| time(r.finished_at)),
            last_event_at: s.last_event.as_ref().and_then(|(at, _)| time(*at)),
        })
        .collect();
    let mut evidence = Evidence {
        filter: filter.to_string(),
        catalog_generation: snap.built_at,
        reflects: sources.iter().filter_map(|s| s.synced_at).min(),
        sources,
        at: ctx.now,
        figures: Figures::default(),
        rows: Vec::new(),
        quarantined: Vec::new(),
    };
    for id in ids {
        let e = snap.entity(id);
        let (owners, missing) = snap.owners(id);
        let scope = crate::compliance::scope_of(e);
        let row = Row {
            entity: e.key(),
            lifecycle: e.lifecycle.as_deref().map(str::to_string),
            owners: owners
                .iter()
                .map(|&o| snap.entity(o).key())
                .chain(missing)
                .collect(),
            oncall: oncall_people(ctx, id, ctx.now),
            runbook: links::of(e)
                .into_iter()
                .find(|l| l.group == Group::Runbook)
                .map(|l| l.url),
            quarantined: e.is_quarantined(),
            reasons: e.reasons.iter().map(|r| r.to_string()).collect(),
            packages: scope
                .and_then(|s| packages.get(s.as_str()).cloned())
                .unwrap_or_default(),
        };
        if row.quarantined {
            evidence.quarantined.push(row);
            continue;
        }
        let f = &mut evidence.figures;
        f.entities += 1;
        f.production += usize::from(row.lifecycle.as_deref() == Some("production"));
        f.with_owner += usize::from(!owners.is_empty());
        f.with_oncall += usize::from(!row.oncall.is_empty());
        f.with_runbook += usize::from(row.runbook.is_some());
        evidence.rows.push(row);
    }
    Ok(evidence)
}

const COLUMNS: [&str; 10] = [
    "entity",
    "lifecycle",
    "owners",
    "oncall",
    "runbook",
    "quarantined",
    "reasons",
    "packages",
    "catalog_generation",
    "reflects",
];

impl Row {
    fn cells(&self, generation: i64, reflects: &str) -> [String; 10] {
        [
            self.entity.clone(),
            self.lifecycle.clone().unwrap_or_default(),
            self.owners.join("; "),
            self.oncall.join("; "),
            self.runbook.clone().unwrap_or_default(),
            if self.quarantined { "yes" } else { "no" }.into(),
            self.reasons.join("; "),
            self.packages.join("; "),
            generation.to_string(),
            reflects.to_string(),
        ]
    }
}

impl Evidence {
    /// One row per entity, the quarantined ones last; every row says the catalog generation.
    pub fn csv(&self) -> String {
        let mut out = COLUMNS.join(",") + "\n";
        let reflects = self.reflects_text();
        for r in self.rows.iter().chain(&self.quarantined) {
            let cells: Vec<String> = r
                .cells(self.catalog_generation, &reflects)
                .iter()
                .map(|c| csv_cell(c))
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// The time the catalog reflects, RFC 3339, or `never synced`.
    fn reflects_text(&self) -> String {
        self.reflects
            .map_or_else(|| "never synced".into(), |t| t.to_rfc3339())
    }

    /// A Markdown document: what it reflects, the figures, the rows, the quarantined apart.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let f = &self.figures;
        let pct = |n: usize| (n * 100).checked_div(f.entities).unwrap_or(0);
        let _ = writeln!(out, "# Compliance evidence: `{}`\n", self.filter);
        let _ = writeln!(
            out,
            "Catalog generation {} · reflects the sources as of {} · made {}\n",
            self.catalog_generation,
            self.reflects_text(),
            self.at.to_rfc3339()
        );
        let _ = writeln!(
            out,
            "{} entities ({} in production): {} % with an owner, {} % with on-call, {} % with a runbook. {} quarantined, listed apart and not counted.\n",
            f.entities,
            f.production,
            pct(f.with_owner),
            pct(f.with_oncall),
            pct(f.with_runbook),
            self.quarantined.len()
        );
        table(&mut out, &self.rows);
        if !self.quarantined.is_empty() {
            out.push_str("\n## Quarantined\n\n");
            table(&mut out, &self.quarantined);
        }
        out
    }
}

/// The rows as a Markdown table, without the columns the document says once above it.
fn table(out: &mut String, rows: &[Row]) {
    let columns = &COLUMNS[..8];
    let _ = writeln!(out, "| {} |", columns.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(columns.len()));
    for r in rows {
        let cells: Vec<String> = r.cells(0, "")[..8]
            .iter()
            .map(|c| {
                c.replace('|', "\\|")
                    .replace(['\n', '\r'], " ")
                    .replace('<', "&lt;")
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (as RFC 4180 quotes);
/// one that a spreadsheet would take for a formula gets a leading apostrophe.
fn csv_cell(c: &str) -> String {
    let c = if c.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{c}")
    } else {
        c.to_string()
    };
    if c.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_as_rfc_4180_says_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
