//! Recent changes, as answers read them: the catalog's repositories' deploys, merged pull
//! requests and completed workflow runs (from GitHub's webhooks and scan), and what the
//! catalog watch saw of each entity (owner changed, quarantined, level dropped). Held in
//! memory beside the snapshot, so `changes X` and the incident card do no I/O; the store keeps
//! them for `changes.retention_days`.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::catalog::Entity;

/// One change of a repository, as GitHub told of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepoChange {
    /// `owner/name`, lowercase.
    pub repo: String,
    /// `deploy`, `merge` or `workflow`.
    pub kind: String,
    /// GitHub's id of it (deployment status, pull request number, workflow run).
    pub ref_id: String,
    pub title: String,
    /// Who did it (a GitHub login).
    pub who: Option<String>,
    /// When, seconds since the epoch.
    pub at: i64,
    pub url: Option<String>,
    /// `production: success`, `failure`, the merge commit.
    pub detail: Option<String>,
    /// `webhook` or `scan`.
    pub via: String,
}

/// One change the catalog watch recorded of an entity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CatalogChange {
    pub at: i64,
    pub entity: String,
    /// `added`, `removed`, `owner-changed`, `quarantined`, `level-changed`, …
    pub change: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The source the entity came from.
    pub source: String,
}

/// Every recent change, by repository and by entity, oldest first in each list. Cheap to
/// copy with one part changed: each list is shared.
#[derive(Clone, Debug, Default)]
pub struct RecentChanges {
    repos: HashMap<Box<str>, Arc<Vec<RepoChange>>>,
    entities: HashMap<Box<str>, Arc<Vec<CatalogChange>>>,
}

impl RecentChanges {
    /// From everything the store keeps.
    pub fn new(repo: Vec<RepoChange>, catalog: Vec<CatalogChange>) -> RecentChanges {
        let mut r = RecentChanges::default();
        r.add_repo_changes(repo);
        let mut entities: HashMap<Box<str>, Vec<CatalogChange>> = HashMap::new();
        for c in catalog {
            entities
                .entry(c.entity.as_str().into())
                .or_default()
                .push(c);
        }
        r.entities = entities
            .into_iter()
            .map(|(k, v)| (k, Arc::new(v)))
            .collect();
        r
    }

    /// Adds changes (new ones, from a webhook or a scan), keeping each list in time order.
    pub fn add_repo_changes(&mut self, changes: Vec<RepoChange>) {
        let mut by_repo: HashMap<String, Vec<RepoChange>> = HashMap::new();
        for c in changes {
            by_repo.entry(c.repo.to_lowercase()).or_default().push(c);
        }
        for (repo, new) in by_repo {
            let list = self.repos.entry(repo.as_str().into()).or_default();
            let list = Arc::make_mut(list);
            list.extend(new);
            list.sort_by_key(|c| c.at);
        }
    }

    /// Forgets what happened before `since`.
    pub fn forget_before(&mut self, since: i64) {
        self.repos.retain(|_, l| {
            if l.first().is_some_and(|c| c.at < since) {
                Arc::make_mut(l).retain(|c| c.at >= since);
            }
            !l.is_empty()
        });
        self.entities.retain(|_, l| {
            if l.first().is_some_and(|c| c.at < since) {
                Arc::make_mut(l).retain(|c| c.at >= since);
            }
            !l.is_empty()
        });
    }

    /// A repository's changes, oldest first.
    pub fn of_repo(&self, repo: &str) -> &[RepoChange] {
        self.repos
            .get(repo.to_lowercase().as_str())
            .map_or(&[], |l| l.as_slice())
    }

    /// What the catalog watch saw of an entity, oldest first.
    pub fn of_entity(&self, key: &str) -> &[CatalogChange] {
        self.entities.get(key).map_or(&[], |l| l.as_slice())
    }

    /// How many repository and catalog changes are held.
    pub fn len(&self) -> (usize, usize) {
        (
            self.repos.values().map(|l| l.len()).sum(),
            self.entities.values().map(|l| l.len()).sum(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.repos.is_empty() && self.entities.is_empty()
    }
}

/// The GitHub repository an entity lives in (`owner/name`, lowercase): its
/// `github.com/project-slug` annotation, else the repository GitHub delivered it from.
pub fn repo_of(e: &Entity) -> Option<String> {
    if let Some(slug) = e.annotation("github.com/project-slug") {
        let slug = slug.trim().trim_matches('/');
        if slug.split('/').count() == 2 {
            return Some(slug.to_lowercase());
        }
    }
    if &*e.origin.source == "github" {
        let mut parts = e.origin.location.splitn(3, '/');
        if let (Some(o), Some(n)) = (parts.next(), parts.next()) {
            return Some(format!("{o}/{n}").to_lowercase());
        }
    }
    None
}

/// Whether any entity of the catalog lives in `repo` (`owner/name`, any case).
pub fn in_catalog(snap: &crate::catalog::Snapshot, repo: &str) -> bool {
    let repo = repo.to_lowercase();
    snap.entities()
        .any(|(_, e)| repo_of(e).is_some_and(|r| r == repo))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(repo: &str, at: i64) -> RepoChange {
        RepoChange {
            repo: repo.into(),
            kind: "deploy".into(),
            ref_id: at.to_string(),
            title: "t".into(),
            who: None,
            at,
            url: None,
            detail: None,
            via: "webhook".into(),
        }
    }

    #[test]
    fn changes_stay_in_time_order_and_old_ones_go() {
        let mut r = RecentChanges::new(vec![change("Acme/A", 5), change("acme/a", 1)], vec![]);
        r.add_repo_changes(vec![change("acme/a", 3), change("acme/b", 2)]);
        let ats: Vec<i64> = r.of_repo("ACME/a").iter().map(|c| c.at).collect();
        assert_eq!(ats, [1, 3, 5]);
        let before = r.clone();
        r.forget_before(3);
        assert_eq!(r.of_repo("acme/a").len(), 2);
        assert!(r.of_repo("acme/b").is_empty());
        // A copy taken before is not changed by it.
        assert_eq!(before.of_repo("acme/a").len(), 3);
    }
}
