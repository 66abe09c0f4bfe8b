//! An entity's links and docs references, grouped as people look for them: runbooks,
//! dashboards, documentation, source, and the rest. One definition of each group, shared by
//! `docs X`, the incident card and the scorecards' runbook check.

use super::snapshot::{Entity, Link};

/// The annotation that names a runbook (one of three ways to have one).
pub const RUNBOOK_ANNOTATION: &str = "switchboard.dev/runbook";

/// What a link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Runbook,
    Dashboard,
    Docs,
    Source,
    Other,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::Runbook,
        Group::Dashboard,
        Group::Docs,
        Group::Source,
        Group::Other,
    ];

    /// As section titles say it.
    pub fn title(self) -> &'static str {
        match self {
            Group::Runbook => "Runbooks",
            Group::Dashboard => "Dashboards",
            Group::Docs => "Documentation",
            Group::Source => "Source",
            Group::Other => "Other links",
        }
    }

    /// As the JSON result names it.
    pub fn key(self) -> &'static str {
        match self {
            Group::Runbook => "runbooks",
            Group::Dashboard => "dashboards",
            Group::Docs => "docs",
            Group::Source => "source",
            Group::Other => "other",
        }
    }
}

/// One link or reference, with where in the entity it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub group: Group,
    pub title: String,
    /// A URL, or a reference as written (`dir:.` for TechDocs).
    pub url: String,
    /// `metadata.links` or `annotation backstage.io/techdocs-ref`.
    pub field: String,
}

/// The one definition of a runbook link: of `type: runbook`, or titled so.
pub fn is_runbook(l: &Link) -> bool {
    l.kind
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case("runbook"))
        || l.title
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("runbook"))
}

fn group_of(l: &Link) -> Group {
    let kind = l.kind.as_deref().unwrap_or("").to_ascii_lowercase();
    let title = l.title.as_deref().unwrap_or("").to_ascii_lowercase();
    if is_runbook(l) {
        Group::Runbook
    } else if ["dashboard", "grafana", "datadog", "metrics"].contains(&kind.as_str())
        || title.contains("dashboard")
    {
        Group::Dashboard
    } else if ["docs", "documentation", "doc", "api-spec"].contains(&kind.as_str())
        || title.contains("doc")
        || title.contains("spec")
    {
        Group::Docs
    } else if kind == "source" || kind == "repository" || title.contains("repo") {
        Group::Source
    } else {
        Group::Other
    }
}

/// Every link and docs reference of `e`, grouped, in the order written.
pub fn of(e: &Entity) -> Vec<Found> {
    let mut out = Vec::new();
    let annotation = |key: &str, group: Group, title: &str, out: &mut Vec<Found>| {
        if let Some(v) = e.annotation(key).map(str::trim).filter(|v| !v.is_empty()) {
            out.push(Found {
                group,
                title: title.into(),
                url: v.to_string(),
                field: format!("annotation {key}"),
            });
        }
    };
    annotation(RUNBOOK_ANNOTATION, Group::Runbook, "Runbook", &mut out);
    for l in e.links.iter() {
        out.push(Found {
            group: group_of(l),
            title: l.title.as_deref().unwrap_or("Link").to_string(),
            url: l.url.to_string(),
            field: "metadata.links".into(),
        });
    }
    annotation(
        "datadoghq.com/dashboard-url",
        Group::Dashboard,
        "Datadog dashboard",
        &mut out,
    );
    annotation(
        "grafana/dashboard-selector",
        Group::Dashboard,
        "Grafana dashboards (selector)",
        &mut out,
    );
    annotation(
        "backstage.io/techdocs-ref",
        Group::Docs,
        "TechDocs",
        &mut out,
    );
    annotation(
        "backstage.io/source-location",
        Group::Source,
        "Source",
        &mut out,
    );
    if let Some(slug) = e.annotation("github.com/project-slug") {
        out.push(Found {
            group: Group::Source,
            title: "GitHub repository".into(),
            url: format!("https://github.com/{}", slug.trim()),
            field: "annotation github.com/project-slug".into(),
        });
    }
    annotation("backstage.io/view-url", Group::Source, "View", &mut out);
    out.sort_by_key(|f| f.group);
    out
}

/// Whether `e` has a runbook: a runbook link or the `switchboard.dev/runbook` annotation.
pub fn has_runbook(e: &Entity) -> bool {
    e.annotation(RUNBOOK_ANNOTATION)
        .is_some_and(|v| !v.trim().is_empty())
        || e.links.iter().any(is_runbook)
}
