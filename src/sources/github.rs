//! GitHub as a source: the catalog files and CODEOWNERS of every repository of the configured
//! organisations, read through octocrab as a GitHub App installation or with a token.
//!
//! Frugal with the rate budget: the repository listing is read with conditional requests (an
//! unchanged page is a 304, which GitHub does not count), and a repository whose `pushed_at`
//! has not moved is not read again. Repositories that did change are read 50 at a time with one
//! GraphQL query each: default-branch head commit, catalog files and CODEOWNERS together. Only a
//! Location entity costs REST requests (the tree, then its targets). Requests go through the
//! client the GitHub executors share (`crate::github`), with one rate budget: the scan slows
//! down before the limit, and waits out 429s and secondary limits (`Retry-After`).
//!
//! A failure in the middle of a scan never deletes anything: repositories already read are
//! stored, the rest keep what they had, and nothing is orphaned. Only a complete scan that no
//! longer sees a repository or file orphans its entities, which go after a grace period.
//!
//! Each repository is stored as soon as it is read, through the store's one catalog write
//! path (`Replacement`, one scope per repository), so a scan cut short by the rate limit keeps
//! every repository it finished; the source also keeps its own bookkeeping there (each
//! repository's head and `pushed_at`, cached responses for conditional requests). The scan
//! returns what it did; `sync` records the run, as for every source.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use chrono::Utc;
use serde::Deserialize;

use crate::catalog::ingest::{FileOrigin, FileReport, Reader, ingest_file};
use crate::catalog::model::Claim;
use crate::catalog::placeholders;
use crate::catalog::snapshot::Problem;
use crate::changes::RepoChange;
use crate::config::GithubCatalog;
use crate::sources::codeowners::{self, CodeOwners};
use crate::store::{RepoState, Store};

pub use crate::github::Auth;
use crate::github::{Answer, Api};

pub const SOURCE: &str = "github";

/// A repository as the listing shows it.
#[derive(Clone, Debug, Deserialize)]
pub struct Repo {
    pub id: i64,
    pub full_name: String,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub pushed_at: Option<String>,
}

impl Repo {
    fn branch(&self) -> &str {
        self.default_branch.as_deref().unwrap_or("main")
    }
}

/// What one complete or partial scan did.
#[derive(Clone, Debug, Default)]
pub struct ScanReport {
    /// When the scan began (seconds since the epoch).
    pub started_at: i64,
    pub repos: usize,
    /// Repositories read (new or changed).
    pub read: usize,
    pub files: usize,
    pub entities: usize,
    pub quarantined: usize,
    /// Repositories whose entities were orphaned by this scan.
    pub orphaned: usize,
    pub problems: usize,
    /// Merged pull requests and deployments seen for the first time.
    pub changes: usize,
    /// API requests made (304s included).
    pub requests: u64,
    pub took: Duration,
}

impl ScanReport {
    pub fn summary(&self) -> String {
        format!(
            "scanned GitHub: {} repositories ({} read), {} files, {} entities ({} quarantined), \
             {} problems, {} repositories orphaned, {} API requests in {:.2?}",
            self.repos,
            self.read,
            self.files,
            self.entities,
            self.quarantined,
            self.problems,
            self.orphaned,
            self.requests,
            self.took
        )
    }
}

/// One response, after conditional-request handling.
enum Fetched {
    /// The body (fresh, or the cached one behind a 304), and whether a next page exists
    /// according to the `Link` header (None when there was none).
    Body(String, Option<bool>),
    NotFound,
}

pub struct GitHub {
    /// The API client, shared with the GitHub executors (one rate budget).
    api: std::sync::Arc<Api>,
    store: Store,
    config: GithubCatalog,
    reader: Reader,
    /// When the last full scan started.
    last_scan: Mutex<Option<Instant>>,
    /// How far back changes (merged pull requests, deploys) are kept: older ones a scan lists
    /// are left out, not written again after the sweep removed them.
    changes_kept: chrono::Duration,
}

/// Repositories per GraphQL query (GitHub allows 100 nodes per connection; 50 repositories with
/// five files each keeps a query small and cheap).
const GRAPHQL_BATCH: usize = 50;

/// A file GraphQL found: its text, or the blob to fetch when GraphQL gave none (binary, or
/// truncated because large).
enum Body {
    Text(String),
    Blob(String),
}

/// A repository's default-branch head, with the catalog files and CODEOWNERS it holds, and
/// its latest merged pull requests and deployments (for `changes X`, where webhooks missed).
struct Head {
    commit: String,
    files: Vec<(String, Body)>,
    changes: Vec<RepoChange>,
}

/// How many of a repository's latest merged pull requests and deployments a scan reads.
const CHANGES_READ: usize = 20;

/// The merged pull requests and deployments GraphQL listed for `full`.
fn changes_of(full: &str, node: &serde_json::Value) -> Vec<RepoChange> {
    let at = |v: Option<&serde_json::Value>| {
        v.and_then(|t| t.as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
    };
    let text = |v: Option<&serde_json::Value>| v.and_then(|t| t.as_str()).map(str::to_string);
    // What reached the default branch is a change of the service.
    let default_branch = text(node.pointer("/defaultBranchRef/name"));
    let mut out = Vec::new();
    let list = |k: &str| {
        node.pointer(&format!("/{k}/nodes"))
            .and_then(|n| n.as_array())
            .cloned()
            .unwrap_or_default()
    };
    for pr in list("pullRequests") {
        let (Some(number), Some(when)) = (
            pr.get("number").and_then(|n| n.as_i64()),
            at(pr.get("mergedAt")),
        ) else {
            continue;
        };
        let base = text(pr.get("baseRefName"));
        if default_branch.is_some() && base.is_some() && base != default_branch {
            continue;
        }
        out.push(RepoChange {
            repo: full.to_lowercase(),
            kind: "merge".into(),
            ref_id: number.to_string(),
            title: format!("#{number} {}", text(pr.get("title")).unwrap_or_default()),
            who: text(pr.pointer("/mergedBy/login")).or(text(pr.pointer("/author/login"))),
            at: when,
            url: text(pr.get("url")),
            detail: base.map(|b| format!("into {b}")),
            via: "scan".into(),
        });
    }
    for d in list("deployments") {
        let Some(status) = d.get("latestStatus").filter(|s| s.is_object()) else {
            continue;
        };
        let state = text(status.get("state")).unwrap_or_default().to_lowercase();
        // Only what ended: a deploy in progress is told when it finishes; one superseded
        // (inactive) was told when it ended.
        if !["success", "failure", "error"].contains(&state.as_str()) {
            continue;
        }
        let (Some(id), Some(when)) = (
            d.get("databaseId").and_then(|n| n.as_i64()),
            at(status.get("createdAt")).or(at(d.get("createdAt"))),
        ) else {
            continue;
        };
        let env = text(d.get("environment")).unwrap_or_else(|| "an environment".into());
        out.push(RepoChange {
            repo: full.to_lowercase(),
            kind: "deploy".into(),
            // One per deployment: a webhook's later status of it is the same change.
            ref_id: format!("deployment-{id}"),
            title: format!(
                "{} to {env}",
                text(d.pointer("/ref/name"))
                    .or_else(|| text(d.get("commitOid")).map(|c| c.chars().take(7).collect()))
                    .unwrap_or_else(|| "a deploy".into())
            ),
            who: text(d.pointer("/creator/login")),
            at: when,
            url: text(status.get("logUrl")).or(text(status.get("environmentUrl"))),
            detail: Some(format!("{env}: {state}")),
            via: "scan".into(),
        });
    }
    out
}

/// What GraphQL said of one repository: its head (None: empty or gone), or why it refused.
type HeadRead = std::result::Result<Option<Head>, String>;

/// A repository read in full at one commit.
struct RepoRead {
    /// Catalog files in the order read, with what they hold.
    files: Vec<(String, FileReport)>,
    problems: Vec<Problem>,
}

#[derive(Deserialize)]
struct Tree {
    tree: Vec<TreeEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct TreeEntry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
    sha: String,
}

#[derive(Deserialize)]
struct Blob {
    content: String,
    #[serde(default)]
    encoding: String,
}

impl GitHub {
    pub fn new(config: &GithubCatalog, auth: Auth, store: Store, reader: Reader) -> Result<GitHub> {
        Ok(GitHub {
            api: std::sync::Arc::new(Api::new(config, &auth, store.clone())?),
            store,
            config: config.clone(),
            reader,
            last_scan: Mutex::new(None),
            changes_kept: chrono::Duration::days(30),
        })
    }

    /// Keeps changes this long (`changes.retention_days`).
    pub fn with_changes_kept(mut self, kept: chrono::Duration) -> GitHub {
        self.changes_kept = kept;
        self
    }

    /// The API client, for the GitHub executors to share (and its rate budget).
    pub fn api(&self) -> std::sync::Arc<Api> {
        self.api.clone()
    }

    /// API requests made so far.
    pub fn requests(&self) -> u64 {
        self.api.requests()
    }

    pub fn config(&self) -> &GithubCatalog {
        &self.config
    }

    /// Whether a full scan is due: none yet in this process, or `interval_secs` since the last.
    pub fn due(&self) -> bool {
        let last = *self.last_scan.lock().expect("scan lock");
        last.is_none_or(|t| {
            self.config.interval_secs > 0
                && t.elapsed() >= Duration::from_secs(self.config.interval_secs)
        })
    }

    /// Whether `org` (an organisation or user) is one this bot scans.
    pub fn watches(&self, org: &str) -> bool {
        self.config.orgs.iter().any(|o| o.eq_ignore_ascii_case(org))
    }

    /// GETs an API path. With `conditional`, sends the ETag of the last 200 and takes a 304 as
    /// that response again. Rate refusals and server errors are retried within the configured
    /// bounds; any other failure is an error.
    async fn get(&self, path: &str, conditional: bool) -> Result<Fetched> {
        Self::fetched(path, self.api.get(path, conditional).await?)
    }

    /// POSTs a GraphQL query. See `get`.
    async fn post_graphql(&self, body: &serde_json::Value) -> Result<Fetched> {
        Self::fetched("/graphql", self.api.graphql(body).await?)
    }

    fn fetched(path: &str, answer: Answer) -> Result<Fetched> {
        match answer.status {
            404 => Ok(Fetched::NotFound),
            _ if answer.ok() => Ok(Fetched::Body(answer.body, answer.next)),
            status => bail!("GitHub answered {status} for {path}: {}", answer.message()),
        }
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        conditional: bool,
    ) -> Result<Option<T>> {
        match self.get(path, conditional).await? {
            Fetched::Body(b, _) => Ok(Some(serde_json::from_str(&b).with_context(|| {
                format!("GitHub's answer for {path} is not what its API documents")
            })?)),
            Fetched::NotFound => Ok(None),
        }
    }

    /// Every repository of `org`, or an error if any page could not be read.
    pub async fn list_repos(&self, org: &str) -> Result<Vec<Repo>> {
        const PER_PAGE: usize = 100;
        let mut out = Vec::new();
        // Organisations and users list their repositories at different paths.
        let mut base = format!("/orgs/{org}/repos");
        for page in 1.. {
            let path = format!("{base}?per_page={PER_PAGE}&page={page}");
            let (body, next) = match self.get(&path, true).await? {
                Fetched::Body(b, n) => (b, n),
                Fetched::NotFound if page == 1 && base.starts_with("/orgs/") => {
                    base = format!("/users/{org}/repos");
                    let path = format!("{base}?per_page={PER_PAGE}&page={page}");
                    match self.get(&path, true).await? {
                        Fetched::Body(b, n) => (b, n),
                        Fetched::NotFound => bail!("GitHub has no organisation or user {org}"),
                    }
                }
                Fetched::NotFound => bail!("GitHub lost page {page} of {org}'s repositories"),
            };
            let repos: Vec<Repo> = serde_json::from_str(&body)
                .with_context(|| format!("page {page} of {org}'s repositories is malformed"))?;
            let n = repos.len();
            out.extend(repos);
            if !next.unwrap_or(n == PER_PAGE) {
                break;
            }
        }
        Ok(out)
    }

    /// One repository by full name (webhooks), None if it is gone.
    pub async fn repo(&self, full_name: &str) -> Result<Option<Repo>> {
        self.get_json(&format!("/repos/{full_name}"), false).await
    }

    /// The default branch's head commit and the text of the catalog files and CODEOWNERS of
    /// each repository, in one GraphQL query per `GRAPHQL_BATCH` repositories. A repository
    /// that is empty or gone maps to None; one GitHub refused to show, to why.
    async fn heads(&self, repos: &[Repo]) -> Result<HashMap<String, HeadRead>> {
        let paths: Vec<&str> = self
            .config
            .paths
            .iter()
            .map(String::as_str)
            .chain(codeowners::LOCATIONS.iter().copied())
            .collect();
        let mut out = HashMap::new();
        for batch in repos.chunks(GRAPHQL_BATCH) {
            let mut query = String::from("query {");
            for (i, r) in batch.iter().enumerate() {
                let (owner, name) = r.full_name.split_once('/').unwrap_or(("", &r.full_name));
                query.push_str(&format!(
                    " r{i}: repository(owner: {}, name: {}) {{ ...Files }}",
                    serde_json::Value::from(owner),
                    serde_json::Value::from(name)
                ));
            }
            query.push_str(
                " } fragment Files on Repository { defaultBranchRef { name target { oid } }",
            );
            for (i, p) in paths.iter().enumerate() {
                query.push_str(&format!(
                    " f{i}: object(expression: {}) {{ ...Text }}",
                    serde_json::Value::from(format!("HEAD:{p}"))
                ));
            }
            query.push_str(&format!(
                " pullRequests(states: MERGED, last: {CHANGES_READ}, orderBy: {{field: UPDATED_AT, \
                 direction: ASC}}) {{ nodes {{ number title url mergedAt baseRefName author {{ login }} mergedBy {{ login }} }} }} \
                 deployments(last: {CHANGES_READ}, orderBy: {{field: CREATED_AT, direction: ASC}}) \
                 {{ nodes {{ databaseId environment createdAt commitOid ref {{ name }} creator {{ login }} \
                 latestStatus {{ state createdAt logUrl environmentUrl }} }} }}"
            ));
            query.push_str(" } fragment Text on Blob { oid text isTruncated }");
            let body = serde_json::json!({ "query": query });
            let answer = match self.post_graphql(&body).await? {
                Fetched::Body(b, _) => b,
                Fetched::NotFound => bail!("GitHub has no GraphQL API at {}", self.config.api_url),
            };
            let v: serde_json::Value =
                serde_json::from_str(&answer).context("GitHub's GraphQL answer is not JSON")?;
            // A repository that is gone is NOT_FOUND with a null entry. An error about one
            // repository (FORBIDDEN behind SAML, say) fails that one; a rate limit or an error
            // about no repository in particular fails the batch.
            let mut refused: HashMap<String, String> = HashMap::new();
            for e in v
                .get("errors")
                .and_then(|e| e.as_array())
                .into_iter()
                .flatten()
            {
                let what = e.get("type").and_then(|t| t.as_str()).unwrap_or("ERROR");
                let msg = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
                let alias = e.pointer("/path/0").and_then(|a| a.as_str());
                match alias {
                    _ if what == "NOT_FOUND" => {}
                    Some(a) if !what.contains("RATE_LIMITED") => {
                        refused.insert(a.to_string(), format!("GitHub refused ({what}): {msg}"));
                    }
                    _ => {
                        let kind = if what.contains("RATE_LIMITED") {
                            "rate limited"
                        } else {
                            "GraphQL error"
                        };
                        bail!("GitHub {kind} ({what}): {msg}");
                    }
                }
            }
            for (i, r) in batch.iter().enumerate() {
                let node = v.pointer(&format!("/data/r{i}")).filter(|n| !n.is_null());
                let head = node.and_then(|n| {
                    let commit = n
                        .pointer("/defaultBranchRef/target/oid")?
                        .as_str()?
                        .to_string();
                    let mut files = Vec::new();
                    for (j, p) in paths.iter().enumerate() {
                        let Some(blob) = n.get(format!("f{j}")).filter(|b| b.is_object()) else {
                            continue;
                        };
                        let text = blob.get("text").and_then(|t| t.as_str()).filter(|_| {
                            blob.get("isTruncated") != Some(&serde_json::Value::Bool(true))
                        });
                        let oid = blob.get("oid").and_then(|o| o.as_str()).unwrap_or("");
                        files.push((
                            p.to_string(),
                            match text {
                                Some(t) => Body::Text(t.to_string()),
                                None => Body::Blob(oid.to_string()),
                            },
                        ));
                    }
                    Some(Head {
                        commit,
                        files,
                        changes: changes_of(&r.full_name, n),
                    })
                });
                let read = match refused.remove(&format!("r{i}")) {
                    Some(why) => Err(why),
                    None => Ok(head),
                };
                out.insert(r.full_name.to_lowercase(), read);
            }
        }
        Ok(out)
    }

    /// The bytes of a file that GraphQL found: its text, or (truncated or binary) its blob.
    async fn body(&self, full_name: &str, body: &Body) -> Result<Vec<u8>> {
        match body {
            Body::Text(t) => Ok(t.clone().into_bytes()),
            Body::Blob(oid) => self.blob(full_name, oid).await,
        }
    }

    async fn blob(&self, full_name: &str, sha: &str) -> Result<Vec<u8>> {
        let blob: Blob = self
            .get_json(&format!("/repos/{full_name}/git/blobs/{sha}"), false)
            .await?
            .ok_or_else(|| anyhow!("blob {sha} of {full_name} is gone"))?;
        if blob.encoding != "base64" {
            return Ok(blob.content.into_bytes());
        }
        let clean: String = blob.content.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(clean)
            .with_context(|| format!("blob {sha} of {full_name} is not valid base64"))
    }

    /// Reads a repository at its head: its catalog files, the Location targets inside it, and
    /// the CODEOWNERS claim on each catalog file. Only Location targets cost requests (the
    /// tree, once, and their files); the rest came with `head`.
    async fn read_repo(&self, repo: &Repo, head: &Head, now: i64) -> Result<RepoRead> {
        let full = &repo.full_name;
        let commit = head.commit.as_str();
        let mut problems = Vec::new();
        let found: HashMap<&str, &Body> = head.files.iter().map(|(p, b)| (p.as_str(), b)).collect();
        let owners = match codeowners::locate(found.keys().copied()) {
            Some(path) => {
                let text =
                    String::from_utf8_lossy(&self.body(full, found[path]).await?).into_owned();
                let parsed = CodeOwners::parse(&text);
                for (line, why) in &parsed.problems {
                    problems.push(Problem {
                        location: format!("{full}/{path}"),
                        line: *line,
                        message: format!("CODEOWNERS line skipped: {why}"),
                    });
                }
                Some((path, parsed))
            }
            None => None,
        };
        let mut queue: Vec<String> = self
            .config
            .paths
            .iter()
            .filter(|p| found.contains_key(p.as_str()))
            .cloned()
            .collect();
        let mut seen: HashSet<String> = queue.iter().cloned().collect();
        // The repository's files by path, fetched the first time a Location needs them.
        let mut tree: Option<HashMap<String, String>> = None;
        let mut files = Vec::new();
        let mut i = 0;
        while i < queue.len() {
            let path = queue[i].clone();
            i += 1;
            let location = format!("{full}/{path}");
            let bytes = match found.get(path.as_str()) {
                Some(b) => self.body(full, b).await?,
                None => {
                    let sha = &tree.as_ref().expect("targets come from the tree")[&path];
                    self.blob(full, sha).await?
                }
            };
            let origin = FileOrigin {
                source: SOURCE,
                location: &location,
                location_type: "url",
                commit: Some(commit),
                fetched_at: now,
            };
            let mut report = ingest_file(&bytes, &origin, &self.reader);
            self.fill_placeholders(full, commit, &path, &location, &mut report)
                .await;
            if let Some((co_path, o)) = owners
                .as_ref()
                .and_then(|(co_path, co)| Some((co_path, co.owners_of(&path)?)))
            {
                let claim = Claim {
                    source: "codeowners".into(),
                    owners: o.owners.iter().map(ToString::to_string).collect(),
                    location: format!("{full}/{co_path}"),
                    line: o.line,
                };
                for e in &mut report.entities {
                    e.claims.push(claim.clone());
                }
            }
            let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            for target in std::mem::take(&mut report.targets) {
                if target.contains("://") {
                    report.note(
                        &location,
                        0,
                        format!("Location target {target} is outside the repository; not read"),
                    );
                    continue;
                }
                if tree.is_none() {
                    let (t, truncated) = self.tree(full, commit).await?;
                    if truncated {
                        problems.push(Problem {
                            location: format!("{full}/"),
                            line: 0,
                            message: "GitHub truncated this repository's tree; Location \
                                      targets deep in it may be missing"
                                .into(),
                        });
                    }
                    tree = Some(t);
                }
                let blobs = tree.as_ref().expect("just read");
                for path in resolve_target(dir, &target, blobs) {
                    if seen.insert(path.clone()) {
                        queue.push(path);
                    }
                }
            }
            files.push((location, report));
        }
        Ok(RepoRead { files, problems })
    }

    /// Fills the `$text`, `$json` and `$yaml` placeholders of a file's entities with files of
    /// the same repository at the same commit, read in one GraphQL query; an absolute URL is
    /// left as a link, never requested. What cannot be read (GitHub failing included) is a
    /// warning on the file, never a failed read of the repository.
    async fn fill_placeholders(
        &self,
        full: &str,
        commit: &str,
        path: &str,
        location: &str,
        report: &mut FileReport,
    ) {
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let wanted = placeholders::wanted(report, dir, true);
        let paths: Vec<&str> = wanted
            .iter()
            .filter_map(|w| w.path.as_deref().ok())
            .collect::<BTreeSet<&str>>()
            .into_iter()
            .collect();
        let read = if paths.is_empty() {
            HashMap::new()
        } else {
            self.read_files(full, commit, &paths)
                .await
                .unwrap_or_else(|e| {
                    let why = format!("GitHub could not be asked for it: {e:#}");
                    paths
                        .iter()
                        .map(|p| (p.to_string(), Err(why.clone())))
                        .collect()
                })
        };
        placeholders::fill(report, location, &wanted, &self.reader.limits, &mut |p| {
            read.get(p)
                .cloned()
                .unwrap_or_else(|| Err("not read".into()))
        });
    }

    /// Files of a repository at `commit`, in one GraphQL query (a blob GitHub cuts short is
    /// read whole through REST): each one's bytes, or why it could not be read.
    async fn read_files(
        &self,
        full: &str,
        commit: &str,
        paths: &[&str],
    ) -> Result<HashMap<String, std::result::Result<Vec<u8>, String>>> {
        let (owner, name) = full.split_once('/').unwrap_or(("", full));
        let mut query = format!(
            "query {{ r0: repository(owner: {}, name: {}) {{",
            serde_json::Value::from(owner),
            serde_json::Value::from(name)
        );
        for (i, p) in paths.iter().enumerate() {
            query.push_str(&format!(
                " f{i}: object(expression: {}) {{ ... on Blob {{ oid text isTruncated }} }}",
                serde_json::Value::from(format!("{commit}:{p}"))
            ));
        }
        query.push_str(" } }");
        let answer = match self
            .post_graphql(&serde_json::json!({ "query": query }))
            .await?
        {
            Fetched::Body(b, _) => b,
            Fetched::NotFound => bail!("GitHub has no GraphQL API at {}", self.config.api_url),
        };
        let v: serde_json::Value =
            serde_json::from_str(&answer).context("GitHub's GraphQL answer is not JSON")?;
        let mut read: HashMap<String, std::result::Result<Vec<u8>, String>> = HashMap::new();
        for (i, p) in paths.iter().enumerate() {
            let blob = v
                .pointer(&format!("/data/r0/f{i}"))
                .filter(|b| b.is_object());
            let got = match blob {
                None => Err(format!(
                    "{full} has no file {p} at {}",
                    &commit[..commit.len().min(7)]
                )),
                Some(b) => {
                    let text = b
                        .get("text")
                        .and_then(|t| t.as_str())
                        .filter(|_| b.get("isTruncated") != Some(&serde_json::Value::Bool(true)));
                    match text {
                        Some(t) => Ok(t.as_bytes().to_vec()),
                        None => {
                            let oid = b.get("oid").and_then(|o| o.as_str()).unwrap_or("");
                            self.blob(full, oid).await.map_err(|e| format!("{e:#}"))
                        }
                    }
                }
            };
            read.insert(p.to_string(), got);
        }
        Ok(read)
    }

    /// Every file of a repository at `commit` by path, with its blob, and whether GitHub cut
    /// the listing short.
    async fn tree(&self, full: &str, commit: &str) -> Result<(HashMap<String, String>, bool)> {
        let tree: Tree = self
            .get_json(
                &format!("/repos/{full}/git/trees/{commit}?recursive=1"),
                false,
            )
            .await?
            .ok_or_else(|| anyhow!("the tree of {full} at {commit} is gone"))?;
        let blobs = tree
            .tree
            .into_iter()
            .filter(|e| e.kind == "blob")
            .map(|e| (e.path, e.sha))
            .collect();
        Ok((blobs, tree.truncated))
    }

    /// Stores what a repository holds at `head` (files it no longer has are orphaned), with
    /// what was read of it; None when a read of a later push is stored already (this one is
    /// older: a scan that read the repository before a push another task or replica applied).
    async fn store_repo(
        &self,
        repo: &Repo,
        head: &Head,
        read: RepoRead,
        now: i64,
    ) -> Result<Option<(usize, usize)>> {
        let mut r = self
            .store
            .begin_replace_in(SOURCE, &scope(&repo.full_name), Some(now))
            .await?;
        if !r
            .claim_repo(&repo_state(repo, Some(head.commit.clone()), now))
            .await?
        {
            tracing::info!(
                repo = %repo.full_name,
                commit = %head.commit,
                "a later push is read already; this older read is not kept"
            );
            return Ok(None);
        }
        let (mut entities, mut quarantined) = (0, 0);
        for (location, report) in read.files {
            let stored = r
                .file(&location, report.entities, report.problems, !report.broken)
                .await?;
            entities += stored.len();
            quarantined += stored.iter().filter(|e| e.is_quarantined()).count();
        }
        r.add_problems(read.problems);
        r.finish().await?;
        Ok(Some((entities, quarantined)))
    }

    /// Stores a repository at `head` unless that commit is the one already read (or a read of
    /// a later push is kept). Returns the files and entities stored, None when nothing changed.
    /// The dependency graph of a repository with components is read again when one is kept
    /// (the push may have changed it); one never read is read now with `new_sbom` (a webhook:
    /// one request), else left to `read_missing_sboms` (a scan: a first scan of a large
    /// organisation would spend an hour's budget on them before its catalog is read).
    async fn refresh(
        &self,
        repo: &Repo,
        head: Option<&Head>,
        known: Option<&RepoState>,
        new_sbom: bool,
        now: i64,
    ) -> Result<Option<(usize, usize, usize)>> {
        let Some(head) = head else {
            // An empty repository has no commit; it holds no catalog.
            self.remember(repo, None, now).await?;
            return Ok(None);
        };
        let same_name = known.is_some_and(|k| k.full_name.eq_ignore_ascii_case(&repo.full_name));
        if same_name && known.and_then(|k| k.head_commit.as_deref()) == Some(head.commit.as_str()) {
            self.remember(repo, Some(head.commit.clone()), now).await?;
            return Ok(None);
        }
        let read = self.read_repo(repo, head, now).await?;
        let files = read.files.len();
        // A repository with components gets its dependency graph read too, for `who uses`.
        let components = read
            .files
            .iter()
            .flat_map(|(_, f)| &f.entities)
            .any(|e| e.key.starts_with("component:"));
        let Some((entities, quarantined)) = self.store_repo(repo, head, read, now).await? else {
            return Ok(None);
        };
        if !components
            || new_sbom
            || self
                .store
                .sbom_kept(&sbom_location(&repo.full_name))
                .await?
        {
            self.read_sbom(&repo.full_name, components, now).await;
        }
        Ok(Some((files, entities, quarantined)))
    }

    /// Reads the dependency graphs never read of the repositories that hold components (new
    /// to a scan, or kept from before SBOMs were read) while this hour of the rate budget has
    /// requests to spare (`Api::spare`: a fifth of the hour is kept for pushes, scans and
    /// workflows). Returns how many were kept and how many are left for a later call (those
    /// that failed among them, with a warning each); a scan's catalog is complete without
    /// them, and `who uses` answers from those kept. Never again, once kept, until a push
    /// changes a manifest.
    pub async fn read_missing_sboms(&self) -> Result<(usize, usize)> {
        let now = Utc::now().timestamp();
        let read = self.store.sbom_locations(SOURCE).await?;
        let mut missing: Vec<String> = self
            .store
            .component_scopes(SOURCE)
            .await?
            .into_iter()
            .map(|s| s.trim_end_matches('/').to_string())
            .filter(|full| !read.contains(&sbom_location(full)))
            .collect();
        missing.sort_unstable_by_key(|full| full.to_lowercase());
        missing.dedup_by_key(|full| full.to_lowercase());
        // This hour's spare requests only: the next hour's are the next call's.
        let mut hour = self.api.budget_reset();
        let mut kept = 0;
        for full in &missing {
            if !self.api.spare() || hour.is_some_and(|h| self.api.budget_reset() != Some(h)) {
                break;
            }
            if self.read_sbom(full, true, now).await {
                kept += 1;
            }
            hour = hour.or(self.api.budget_reset());
        }
        if kept < missing.len() {
            tracing::info!(
                kept,
                left = missing.len() - kept,
                "dependency graphs left for when the rate budget has requests to spare"
            );
        }
        Ok((kept, missing.len() - kept))
    }

    /// Reads `full`'s SBOM from GitHub's dependency graph and keeps it (or forgets it, when
    /// the repository holds no entity or has no dependency graph). A failure keeps what was
    /// kept, with a warning: it never fails the read of the repository. Says whether it kept
    /// (or forgot) what it meant to.
    async fn read_sbom(&self, full: &str, wanted: bool, now: i64) -> bool {
        let location = sbom_location(full);
        let kept = if !wanted {
            self.store.forget_sbom(&location).await
        } else {
            match self
                .get(&format!("/repos/{full}/dependency-graph/sbom"), false)
                .await
            {
                // No dependency graph (not enabled, or nothing it reads): kept as an SBOM that
                // lists nothing, so the scan does not ask again until a manifest changes.
                Ok(Fetched::NotFound) => {
                    self.store
                        .put_sbom(&crate::store::StoredSbom {
                            location,
                            source: SOURCE.into(),
                            scope: crate::compliance::github_scope(full),
                            sbom: crate::compliance::sbom::Sbom {
                                format: crate::compliance::sbom::NO_GRAPH.into(),
                                packages: Vec::new(),
                            },
                            read_at: now,
                        })
                        .await
                }
                Ok(Fetched::Body(body, _)) => {
                    let sbom = serde_json::from_str::<serde_json::Value>(&body)
                        .map_err(|e| e.to_string())
                        .and_then(|v| {
                            let doc = serde_json::to_vec(&v["sbom"]).map_err(|e| e.to_string())?;
                            crate::compliance::sbom::parse(&doc, &mut Default::default())
                        });
                    match sbom {
                        Ok(sbom) => {
                            self.store
                                .put_sbom(&crate::store::StoredSbom {
                                    location,
                                    source: SOURCE.into(),
                                    scope: crate::compliance::github_scope(full),
                                    sbom,
                                    read_at: now,
                                })
                                .await
                        }
                        Err(why) => Err(anyhow::anyhow!("its SBOM cannot be read: {why}")),
                    }
                }
                Err(e) => Err(e),
            }
        };
        if let Err(e) = &kept {
            tracing::warn!(repo = full, "dependency graph not kept: {e:#}");
        }
        kept.is_ok()
    }

    async fn remember(&self, repo: &Repo, head: Option<String>, now: i64) -> Result<()> {
        self.store
            .put_github_repo(&repo_state(repo, head, now))
            .await
    }

    fn wanted(&self, repo: &Repo) -> bool {
        self.config.include_archived || !repo.archived
    }

    /// A full scan of every configured organisation. See the module's notes on what a
    /// failure part-way does (nothing is lost) and on orphaning.
    pub async fn scan(
        &self,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<ScanReport> {
        let started = Instant::now();
        *self.last_scan.lock().expect("scan lock") = Some(started);
        let requests_before = self.requests();
        let now = Utc::now().timestamp();
        let mut listed = Vec::new();
        for org in &self.config.orgs {
            listed.extend(
                self.list_repos(org)
                    .await
                    .with_context(|| format!("listing {org}'s repositories"))?,
            );
        }
        let known = self.store.github_repos(None).await?;
        let by_id: HashMap<i64, &RepoState> = known.values().map(|s| (s.repo_id, s)).collect();
        let wanted: Vec<&Repo> = listed.iter().filter(|r| self.wanted(r)).collect();
        let mut report = ScanReport {
            started_at: now,
            repos: wanted.len(),
            ..ScanReport::default()
        };
        // Only repositories whose pushed_at moved (or that are new, renamed or transferred) are
        // read; the rest cost nothing beyond their listing page.
        let to_read: Vec<(Repo, Option<RepoState>)> = wanted
            .iter()
            .filter_map(|r| {
                let k = known.get(&r.full_name.to_lowercase());
                let unchanged = k.is_some_and(|k| {
                    r.pushed_at.as_deref() == Some(k.pushed_at.as_str())
                        && k.default_branch == r.branch()
                });
                // A renamed or transferred repository is known by its id under its old name.
                let k = k.or_else(|| by_id.get(&r.id).copied()).cloned();
                (!unchanged).then(|| ((*r).clone(), k))
            })
            .collect();
        let mut failures: Vec<String> = Vec::new();
        let mut done = 0;
        for batch in to_read.chunks(GRAPHQL_BATCH) {
            let repos: Vec<Repo> = batch.iter().map(|(r, _)| r.clone()).collect();
            let heads = match self.heads(&repos).await {
                Ok(h) => h,
                Err(e) => {
                    failures.extend(repos.iter().map(|r| format!("{}: {e:#}", r.full_name)));
                    if format!("{e:#}").contains("rate") {
                        // No point spending what is left: the rest wait for the next scan.
                        break;
                    }
                    continue;
                }
            };
            for (repo, known_as) in batch {
                done += 1;
                let head = match heads.get(&repo.full_name.to_lowercase()) {
                    Some(Err(why)) => {
                        failures.push(format!("{}: {why}", repo.full_name));
                        continue;
                    }
                    Some(Ok(head)) => head.as_ref(),
                    None => None,
                };
                if let Some(h) = head {
                    let since = (chrono::Utc::now() - self.changes_kept).timestamp();
                    let recent: Vec<RepoChange> = h
                        .changes
                        .iter()
                        .filter(|c| c.at >= since)
                        .cloned()
                        .collect();
                    match self.store.add_repo_changes(&recent).await {
                        Ok(fresh) => report.changes += fresh.len(),
                        Err(e) => tracing::warn!(repo = %repo.full_name, "changes not kept: {e:#}"),
                    }
                }
                match self
                    .refresh(repo, head, known_as.as_ref(), false, now)
                    .await
                {
                    Ok(Some((files, entities, quarantined))) => {
                        report.read += 1;
                        report.files += files;
                        report.entities += entities;
                        report.quarantined += quarantined;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(repo = %repo.full_name, "not read: {e:#}");
                        failures.push(format!("{}: {e:#}", repo.full_name));
                        continue;
                    }
                }
                if let Some(old) = known_as
                    .as_ref()
                    .filter(|k| !k.full_name.eq_ignore_ascii_case(&repo.full_name))
                {
                    self.forget(&old.full_name).await?;
                }
                progress(done, report.entities);
            }
        }
        if !failures.is_empty() {
            let shown: Vec<&str> = failures.iter().take(3).map(String::as_str).collect();
            let more = match failures.len().saturating_sub(3) {
                0 => String::new(),
                n => format!("; and {n} more"),
            };
            bail!(
                "{} of {} repositories could not be read (they keep what they had; nothing was \
                 orphaned): {}{more}",
                failures.len(),
                report.repos,
                shown.join("; ")
            );
        }
        // The scan is complete: what it no longer sees is orphaned.
        let live: HashSet<String> = wanted.iter().map(|r| r.full_name.to_lowercase()).collect();
        let live_ids: HashSet<i64> = wanted.iter().map(|r| r.id).collect();
        for (name, state) in &known {
            if !live.contains(name) && !live_ids.contains(&state.repo_id) {
                self.store.mark_github_repo_gone(name, now).await?;
                self.store
                    .orphan_scope(SOURCE, &scope(&state.full_name), now)
                    .await?;
                self.store.forget_sbom(&sbom_location(name)).await?;
                report.orphaned += 1;
            }
        }
        // Marks of repositories gone before this scan began have done their work.
        self.store.forget_gone_github_repos(now).await?;
        let grace = self.config.orphan_grace_secs as i64;
        self.store.purge_orphans(SOURCE, now - grace).await?;
        report.entities = self.store.count_entities(SOURCE).await? as usize;
        report.problems = self.store.count_problems(SOURCE).await? as usize;
        report.requests = self.requests() - requests_before;
        report.took = started.elapsed();
        Ok(report)
    }

    /// Drops a repository's entities at once (it was renamed: it lives on under its new name).
    /// Marked gone first: a scan that read it under that name stores nothing of it after.
    async fn forget(&self, full_name: &str) -> Result<()> {
        let now = Utc::now().timestamp();
        self.store.mark_github_repo_gone(full_name, now).await?;
        self.store.drop_scope(SOURCE, &scope(full_name)).await?;
        self.store.forget_sbom(&sbom_location(full_name)).await
    }

    /// Re-reads one repository now (a webhook). Returns what happened, and the parts of the
    /// catalog (location prefixes, `scope_of`) whose stored entities changed.
    pub async fn refresh_repo(&self, full_name: &str) -> Result<(String, Vec<String>)> {
        let now = Utc::now().timestamp();
        let Some(repo) = self.repo(full_name).await? else {
            self.orphan_repo(full_name).await?;
            return Ok((
                format!("{full_name} is gone; its entities are orphaned"),
                vec![scope(full_name)],
            ));
        };
        if !self.wanted(&repo) {
            self.orphan_repo(&repo.full_name).await?;
            let what = format!("{} is archived; its entities are orphaned", repo.full_name);
            return Ok((what, vec![scope(&repo.full_name)]));
        }
        let known = self
            .store
            .github_repos(Some((&repo.full_name, repo.id)))
            .await?;
        let state = known.get(&repo.full_name.to_lowercase());
        let stale = known
            .values()
            .find(|s| s.repo_id == repo.id && !s.full_name.eq_ignore_ascii_case(&repo.full_name))
            .cloned();
        let heads = self.heads(std::slice::from_ref(&repo)).await?;
        let head = match heads.get(&repo.full_name.to_lowercase()) {
            Some(Err(why)) => bail!("{}: {why}", repo.full_name),
            Some(Ok(head)) => head.as_ref(),
            None => None,
        };
        let outcome = self.refresh(&repo, head, state, true, now).await?;
        let mut changed = Vec::new();
        if let Some(old) = stale {
            self.forget(&old.full_name).await?;
            changed.push(scope(&old.full_name));
        }
        Ok(match outcome {
            Some((files, entities, _)) => {
                changed.push(scope(&repo.full_name));
                let what = format!(
                    "re-read {}: {files} catalog files, {entities} entities",
                    repo.full_name
                );
                (what, changed)
            }
            None => (format!("{} unchanged", repo.full_name), changed),
        })
    }

    /// Orphans a repository's entities (deleted, archived, moved out of the organisations).
    /// Marked gone first: a scan that read it before stores nothing of it after.
    pub async fn orphan_repo(&self, full_name: &str) -> Result<()> {
        let now = Utc::now().timestamp();
        self.store.mark_github_repo_gone(full_name, now).await?;
        self.store
            .orphan_scope(SOURCE, &scope(full_name), now)
            .await?;
        self.store.forget_sbom(&sbom_location(full_name)).await
    }

    /// Whether a push touching `paths` can change the catalog.
    pub fn touches_catalog<'a>(&self, mut paths: impl Iterator<Item = &'a str>) -> bool {
        paths.any(|p| {
            self.config.paths.iter().any(|c| c == p)
                || codeowners::LOCATIONS.contains(&p)
                || p.ends_with(".yaml")
                || p.ends_with(".yml")
                || MANIFESTS.contains(&p.rsplit('/').next().unwrap_or(p))
        })
    }
}

/// Files whose change changes a repository's dependencies, and so its SBOM.
const MANIFESTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "Cargo.toml",
    "Cargo.lock",
    "go.mod",
    "go.sum",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "gradle.lockfile",
    "requirements.txt",
    "Pipfile.lock",
    "poetry.lock",
    "pyproject.toml",
    "uv.lock",
    "Gemfile.lock",
    "composer.lock",
    "packages.lock.json",
    "mix.lock",
    "pubspec.lock",
    "Package.resolved",
];

/// What a read of `repo` at `head` saw, as the store keeps it.
fn repo_state(repo: &Repo, head: Option<String>, now: i64) -> RepoState {
    RepoState {
        full_name: repo.full_name.clone(),
        repo_id: repo.id,
        pushed_at: repo.pushed_at.clone().unwrap_or_default(),
        default_branch: repo.branch().to_string(),
        head_commit: head,
        read_at: now,
    }
}

/// Where a repository's SBOM is kept (one per repository, whatever the case of its name).
fn sbom_location(full_name: &str) -> String {
    format!("{}/dependency-graph/sbom", full_name.to_lowercase())
}

/// The location prefix of a repository's files: the part of the catalog it holds.
pub fn scope(full_name: &str) -> String {
    format!("{full_name}/")
}

/// The repository paths a Location target names, relative to the directory of its file:
/// a path, or a glob. Targets outside the repository (URLs, `..` above the root) give none.
fn resolve_target(dir: &str, target: &str, blobs: &HashMap<String, String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if target.contains("://") {
        return out;
    }
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|s| !s.is_empty()).collect()
    };
    for seg in target.trim_start_matches("./").split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return out;
                }
            }
            s => parts.push(s),
        }
    }
    let path = parts.join("/");
    if path.contains(['*', '?', '[']) {
        if let Ok(p) = glob::Pattern::new(&path) {
            out.extend(blobs.keys().filter(|b| p.matches(b)).map(|b| b.to_string()));
        }
    } else if blobs.contains_key(path.as_str()) {
        out.insert(path);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_inside_the_repository() {
        let blobs: HashMap<String, String> = [
            "catalog-info.yaml",
            "services/a/catalog-info.yaml",
            "services/b/catalog-info.yaml",
            "docs/x.yaml",
        ]
        .into_iter()
        .map(|p| (p.to_string(), format!("sha-of-{p}")))
        .collect();
        let all = |d, t| resolve_target(d, t, &blobs).into_iter().collect::<Vec<_>>();
        assert_eq!(
            all("", "./services/*/catalog-info.yaml"),
            [
                "services/a/catalog-info.yaml",
                "services/b/catalog-info.yaml"
            ]
        );
        assert_eq!(all("services/a", "../../docs/x.yaml"), ["docs/x.yaml"]);
        assert!(all("", "../outside.yaml").is_empty());
        assert!(all("", "https://github.com/x/y/blob/main/c.yaml").is_empty());
        assert!(all("", "missing.yaml").is_empty());
    }
}
