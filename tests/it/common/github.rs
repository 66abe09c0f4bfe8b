//! A stateful fake of GitHub's API on loopback, for the real octocrab client: organisations
//! with repositories, commits, trees, blobs and CODEOWNERS; the REST listing with ETags and
//! 304s; GraphQL for the query Switchboard sends; App installation tokens; rate-limit headers
//! that count down (REST's and GraphQL's budgets apart); injected failures (a 429 in the middle of a listing, GraphQL's
//! RATE_LIMITED, a repository GraphQL refuses). For the golden paths: repositories generated
//! from a template, the Git data API (refs, blobs, trees, commits), pull requests, and workflow
//! dispatches whose runs carry a `run-name`, each answered with GitHub's recorded payloads.
//! Every call is recorded. Repository objects are GitHub's own (the first repository of a recorded
//! `GET /orgs/{org}/repos` page), with the fields that matter set per repository.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

/// One recorded request: path with query, and the status answered.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The Authorization header sent, if any.
    pub auth: Option<String>,
}

struct Repo {
    id: i64,
    org: String,
    name: String,
    archived: bool,
    branch: String,
    pushed_at: i64,
    head: String,
    /// Branches other than the default one, and their heads.
    branches: BTreeMap<String, String>,
    /// The template repository it was generated from, and when (RFC 3339, the real time).
    template_of: Option<String>,
    created_at: Option<String>,
}

impl Repo {
    fn full(&self) -> String {
        format!("{}/{}", self.org, self.name)
    }
}

/// A failure to inject: requests whose path contains `needle` get `status` `times` times.
struct Fail {
    needle: String,
    status: u16,
    times: u32,
    retry_after: Option<u64>,
}

struct Inner {
    template: Value,
    repos: Vec<Repo>,
    commits: HashMap<String, BTreeMap<String, String>>,
    blobs: HashMap<String, String>,
    clock: i64,
    calls: Vec<Call>,
    limit: u64,
    /// What is left of the hour's budgets, REST's and GraphQL's (GitHub counts them apart).
    remaining: [u64; 2],
    /// When the budget's hour ends (epoch seconds): fixed for the hour, as GitHub says it.
    reset: i64,
    fails: Vec<Fail>,
    /// Repositories GraphQL refuses to show (FORBIDDEN, as behind SAML enforcement).
    forbidden: Vec<String>,
    /// Commits' message and parents, and the tree (a key of `commits`) each points at.
    meta: HashMap<String, (String, Vec<String>, String)>,
    /// Pull requests: repository, number, head branch, base, title, open.
    pulls: Vec<Pull>,
    /// Workflow runs started by dispatches: repository, workflow, id, run-name, inputs.
    runs: Vec<Dispatched>,
    /// The messages of the commits made through `POST git/commits`, in order.
    made: Vec<String>,
    /// Writes whose path contains the needle are done, then answered 502 (as when GitHub acted
    /// but the answer was lost), the given number of times.
    lost: Vec<(String, u32)>,
    /// Merged pull requests and deployments GraphQL lists, by repository (GraphQL nodes).
    merged: Vec<(String, Value)>,
    deployments: Vec<(String, Value)>,
    /// What `dependency-graph/sbom` answers, by repository (lowercase); 404 for others.
    sboms: HashMap<String, Value>,
    /// Requests to answer as things stand when they arrive, but to hold back (`hold`).
    holds: Vec<(String, Holding)>,
}

/// The fake's half of a held request: it says when one arrived and waits to be released.
struct Holding {
    arrived: tokio::sync::oneshot::Sender<()>,
    released: tokio::sync::oneshot::Receiver<()>,
}

/// The test's half of a held request (`FakeGitHub::hold`).
pub struct Held {
    arrived: tokio::sync::oneshot::Receiver<()>,
    release: tokio::sync::oneshot::Sender<()>,
}

impl Held {
    /// Waits until the request arrived (and was answered as things stood then).
    pub async fn arrived(&mut self) {
        tokio::time::timeout(std::time::Duration::from_secs(30), &mut self.arrived)
            .await
            .expect("the held request did not arrive within 30 s")
            .expect("the fake is gone");
    }

    /// Lets its answer go.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

#[derive(Clone, Debug)]
pub struct Pull {
    pub repo: String,
    pub number: i64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub open: bool,
}

#[derive(Clone, Debug)]
pub struct Dispatched {
    pub repo: String,
    pub workflow: String,
    pub id: i64,
    pub title: String,
    pub inputs: Value,
}

#[derive(Clone)]
pub struct FakeGitHub {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

fn quote(s: &str) -> String {
    format!("\"{s}\"")
}

fn digest(s: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    format!("{:016x}", h.finish())
}

impl FakeGitHub {
    pub async fn start() -> FakeGitHub {
        let page: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(super::fixture(
                "payloads/github/rest-get-orgs-repos-page1.body.json",
            ))
            .unwrap(),
        )
        .unwrap();
        let inner = Arc::new(Mutex::new(Inner {
            template: page[0].clone(),
            repos: Vec::new(),
            commits: HashMap::new(),
            blobs: HashMap::new(),
            clock: 1_767_225_600, // 2026-01-01
            calls: Vec::new(),
            limit: 5000,
            remaining: [5000; 2],
            reset: chrono::Utc::now().timestamp() + 3600,
            fails: Vec::new(),
            forbidden: Vec::new(),
            meta: HashMap::new(),
            pulls: Vec::new(),
            runs: Vec::new(),
            made: Vec::new(),
            lost: Vec::new(),
            merged: Vec::new(),
            deployments: Vec::new(),
            sboms: HashMap::new(),
            holds: Vec::new(),
        }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGitHub { url, inner }
    }

    fn commit(inner: &mut Inner, files: BTreeMap<String, String>) -> String {
        inner.clock += 1;
        let sha: String = (0..3)
            .map(|i| digest(&format!("commit {} {i}", inner.clock)))
            .collect::<String>()[..40]
            .to_string();
        for content in files.values() {
            inner.blobs.insert(blob_sha(content), content.clone());
        }
        inner.commits.insert(sha.clone(), files);
        // A commit is its own tree here.
        inner
            .meta
            .insert(sha.clone(), ("initial".into(), Vec::new(), sha.clone()));
        sha
    }

    /// Adds a repository whose default branch `main` holds `files`; returns its commit.
    pub fn add_repo(&self, org: &str, name: &str, files: &[(&str, &str)]) -> String {
        let mut inner = self.inner.lock().unwrap();
        let files = files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        let head = Self::commit(&mut inner, files);
        let id = inner.repos.len() as i64 + 1000;
        let pushed_at = inner.clock;
        inner.repos.push(Repo {
            id,
            org: org.into(),
            name: name.into(),
            archived: false,
            branch: "main".into(),
            pushed_at,
            head: head.clone(),
            branches: BTreeMap::new(),
            template_of: None,
            created_at: None,
        });
        head
    }

    /// `full`'s dependency graph, as `GET dependency-graph/sbom` answers it: GitHub's documented
    /// example, for this repository, with its one package (`rails`) at `rails_version`.
    pub fn set_sbom(&self, full: &str, rails_version: &str) {
        let mut answer: Value = serde_json::from_str(
            &std::fs::read_to_string(super::fixture(
                "payloads/github/rest-get-dependency-graph-sbom.response.json",
            ))
            .unwrap(),
        )
        .unwrap();
        answer["sbom"]["name"] = json!(full);
        answer["sbom"]["packages"][0]["versionInfo"] = json!(rails_version);
        answer["sbom"]["packages"][0]["externalRefs"][0]["referenceLocator"] =
            json!(format!("pkg:gem/rails@{rails_version}"));
        self.inner
            .lock()
            .unwrap()
            .sboms
            .insert(full.to_lowercase(), answer);
    }

    /// A pull request merged into `full`'s default branch, as GraphQL lists it: the node of
    /// GitHub's recorded answer (release-drafter's fixture) with this number, title, author
    /// and time.
    pub fn merge_pull(&self, full: &str, number: i64, title: &str, login: &str, at: &str) {
        self.merge_pull_into(full, "main", number, title, login, at);
    }

    /// A pull request merged into `base` of `full`.
    pub fn merge_pull_into(
        &self,
        full: &str,
        base: &str,
        number: i64,
        title: &str,
        login: &str,
        at: &str,
    ) {
        let fixture: Value = serde_json::from_str(
            &std::fs::read_to_string(super::fixture(
                "payloads/github/graphql-find-recent-merged-pull-requests.response.json",
            ))
            .unwrap(),
        )
        .unwrap();
        let mut node = fixture["data"]["repository"]["pullRequests"]["nodes"][0].clone();
        node["number"] = json!(number);
        node["title"] = json!(title);
        node["author"]["login"] = json!(login);
        node["mergedAt"] = json!(at);
        node["baseRefName"] = json!(base);
        node["url"] = json!(format!("https://github.com/{full}/pull/{number}"));
        node["baseRepository"]["nameWithOwner"] = json!(full);
        self.inner
            .lock()
            .unwrap()
            .merged
            .push((full.to_lowercase(), node));
    }

    /// A deployment of `full` that ended in `state`, as GraphQL lists it: GitHub's documented
    /// deployment (REST example) in GraphQL's field names.
    pub fn deploy(&self, full: &str, id: i64, environment: &str, state: &str, at: &str) {
        let rest: Value = serde_json::from_str(
            &std::fs::read_to_string(super::fixture(
                "payloads/github/rest-get-deployments.response.json",
            ))
            .unwrap(),
        )
        .unwrap();
        let d = &rest[0];
        let node = json!({
            "databaseId": id,
            "environment": environment,
            "createdAt": at,
            "commitOid": d["sha"],
            "ref": {"name": d["ref"]},
            "creator": {"login": d["creator"]["login"]},
            "latestStatus": {"state": state.to_uppercase(), "createdAt": at,
                             "logUrl": format!("https://github.com/{full}/deployments/{id}"),
                             "environmentUrl": null},
        });
        self.inner
            .lock()
            .unwrap()
            .deployments
            .push((full.to_lowercase(), node));
    }

    /// The text of `path` on `branch` (None: the default branch) of `full`.
    pub fn file(&self, full: &str, branch: Option<&str>, path: &str) -> Option<String> {
        self.with_repo(full, |inner, i| {
            let r = &inner.repos[i];
            let head = match branch {
                Some(b) if b != r.branch => r.branches.get(b)?.clone(),
                _ => r.head.clone(),
            };
            inner.commits[&head].get(path).cloned()
        })
    }

    /// The repositories generated from a template: (full name, template).
    pub fn generated(&self) -> Vec<(String, String)> {
        let inner = self.inner.lock().unwrap();
        inner
            .repos
            .iter()
            .filter_map(|r| Some((r.full(), r.template_of.clone()?)))
            .collect()
    }

    /// The commits made through the Git data API, with their messages.
    pub fn commits_made(&self) -> Vec<String> {
        self.inner.lock().unwrap().made.clone()
    }

    pub fn pulls(&self) -> Vec<Pull> {
        self.inner.lock().unwrap().pulls.clone()
    }

    pub fn dispatched(&self) -> Vec<Dispatched> {
        self.inner.lock().unwrap().runs.clone()
    }

    /// The head of `branch` of `full` (None: no such branch).
    pub fn branch(&self, full: &str, branch: &str) -> Option<String> {
        self.with_repo(full, |inner, i| {
            let r = &inner.repos[i];
            if branch == r.branch {
                Some(r.head.clone())
            } else {
                r.branches.get(branch).cloned()
            }
        })
    }

    fn with_repo<T>(&self, full: &str, f: impl FnOnce(&mut Inner, usize) -> T) -> T {
        let mut inner = self.inner.lock().unwrap();
        let i = inner
            .repos
            .iter()
            .position(|r| r.full().eq_ignore_ascii_case(full))
            .unwrap_or_else(|| panic!("the fake has no repository {full}"));
        f(&mut inner, i)
    }

    /// Pushes a commit to the default branch: `Some(content)` writes a file, `None` deletes
    /// it. Returns the new commit.
    pub fn push(&self, full: &str, changes: &[(&str, Option<&str>)]) -> String {
        self.with_repo(full, |inner, i| {
            let mut files = inner.commits[&inner.repos[i].head].clone();
            for (path, content) in changes {
                match content {
                    Some(c) => files.insert(path.to_string(), c.to_string()),
                    None => files.remove(*path),
                };
            }
            let sha = Self::commit(inner, files);
            inner.repos[i].head = sha.clone();
            inner.repos[i].pushed_at = inner.clock;
            sha
        })
    }

    /// A push to another branch: `pushed_at` moves, the default branch does not.
    pub fn push_elsewhere(&self, full: &str) {
        self.with_repo(full, |inner, i| {
            inner.clock += 1;
            inner.repos[i].pushed_at = inner.clock;
        })
    }

    pub fn archive(&self, full: &str) {
        self.with_repo(full, |inner, i| {
            inner.repos[i].archived = true;
            inner.clock += 1;
            inner.repos[i].pushed_at = inner.clock;
        })
    }

    pub fn rename(&self, full: &str, new_name: &str) {
        self.with_repo(full, |inner, i| inner.repos[i].name = new_name.into())
    }

    pub fn delete(&self, full: &str) {
        self.with_repo(full, |inner, i| {
            inner.repos.remove(i);
        })
    }

    pub fn head(&self, full: &str) -> String {
        self.with_repo(full, |inner, i| inner.repos[i].head.clone())
    }

    /// The next `times` requests whose path contains `needle` are answered `status`; 200 on
    /// `/graphql` is GraphQL's RATE_LIMITED error.
    pub fn fail(&self, needle: &str, status: u16, times: u32, retry_after: Option<u64>) {
        self.inner.lock().unwrap().fails.push(Fail {
            needle: needle.into(),
            status,
            times,
            retry_after,
        });
    }

    /// The next `times` writes whose path contains `needle` are done, and answered 502.
    pub fn lose_answer(&self, needle: &str, times: u32) {
        self.inner
            .lock()
            .unwrap()
            .lost
            .push((needle.to_string(), times));
    }

    /// GraphQL refuses to show `full` (true) or shows it again (false).
    pub fn forbid(&self, full: &str, on: bool) {
        let mut inner = self.inner.lock().unwrap();
        inner.forbidden.retain(|f| !f.eq_ignore_ascii_case(full));
        if on {
            inner.forbidden.push(full.to_string());
        }
    }

    /// Sets what the rate-limit headers say is left, of REST's budget and GraphQL's alike.
    pub fn set_remaining(&self, remaining: u64) {
        self.inner.lock().unwrap().remaining = [remaining; 2];
    }

    /// Sets what is left of REST's budget (`graphql` false) or GraphQL's.
    pub fn set_remaining_of(&self, graphql: bool, remaining: u64) {
        self.inner.lock().unwrap().remaining[usize::from(graphql)] = remaining;
    }

    /// A new hour of the rate budgets: `remaining` left of each until an hour from now.
    pub fn new_hour(&self, remaining: u64) {
        let mut inner = self.inner.lock().unwrap();
        inner.remaining = [remaining; 2];
        inner.reset = chrono::Utc::now().timestamp() + 3600;
    }

    /// The next request whose path contains `needle` is answered as things stand when it
    /// arrives, and the answer held back until the test releases it (a slow network).
    pub fn hold(&self, needle: &str) -> Held {
        let (arrived_tx, arrived) = tokio::sync::oneshot::channel();
        let (release, released) = tokio::sync::oneshot::channel();
        self.inner.lock().unwrap().holds.push((
            needle.to_string(),
            Holding {
                arrived: arrived_tx,
                released,
            },
        ));
        Held { arrived, release }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.inner.lock().unwrap().calls.clear();
    }
}

pub fn blob_sha(content: &str) -> String {
    (0..3)
        .map(|i| digest(&format!("blob {i} {content}")))
        .collect::<String>()[..40]
        .to_string()
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(super::fixture(&format!("payloads/github/{name}"))).unwrap(),
    )
    .unwrap()
}

fn repo_json(template: &Value, r: &Repo) -> Value {
    let mut v = template.clone();
    let at = chrono::DateTime::from_timestamp(r.pushed_at, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    v["id"] = json!(r.id);
    v["name"] = json!(r.name);
    v["full_name"] = json!(r.full());
    v["owner"]["login"] = json!(r.org);
    v["archived"] = json!(r.archived);
    v["default_branch"] = json!(r.branch);
    v["master_branch"] = json!(r.branch);
    v["pushed_at"] = json!(at);
    v["html_url"] = json!(format!("https://github.com/{}", r.full()));
    if let Some(t) = &r.template_of {
        v["template_repository"] = json!({"full_name": t});
    }
    if let Some(c) = &r.created_at {
        v["created_at"] = json!(c);
    }
    v
}

async fn handle(State(inner): State<Arc<Mutex<Inner>>>, req: Request) -> Response {
    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let method = req.method().to_string();
    let (if_none_match, auth) = {
        let header = |k: &str| {
            req.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        (header("if-none-match"), header("authorization"))
    };
    let posted = axum::body::to_bytes(req.into_body(), 16 << 20)
        .await
        .unwrap_or_default();
    // The lock is let go before a held answer waits.
    let (headers, status, body, held) = {
        let mut inner = inner.lock().unwrap();
        let (status, body, etag, link, retry_after) = if path_q == "/graphql" {
            graphql(&mut inner, &posted)
        } else if method == "GET" {
            answer(&mut inner, &path_q)
        } else {
            let body: Value = serde_json::from_slice(&posted).unwrap_or(Value::Null);
            let done = write(&mut inner, &method, &path_q, &body);
            match inner
                .lost
                .iter_mut()
                .find(|(needle, times)| *times > 0 && path_q.contains(needle.as_str()))
            {
                Some((_, times)) if done.0 < 300 => {
                    *times -= 1;
                    (
                        502,
                        json!({"message": "Server Error"}).to_string(),
                        None,
                        None,
                        None,
                    )
                }
                _ => done,
            }
        };
        let (status, body) = match (&etag, &if_none_match) {
            (Some(e), Some(m)) if status == 200 && e == m => (304, String::new()),
            _ => (status, body),
        };
        // Like GitHub, a 304 does not count against the budget.
        let budget = usize::from(path_q == "/graphql");
        if status != 304 && inner.remaining[budget] > 0 {
            inner.remaining[budget] -= 1;
        }
        let held = inner
            .holds
            .iter()
            .position(|(needle, _)| path_q.contains(needle.as_str()))
            .map(|i| inner.holds.remove(i).1);
        inner.calls.push(Call {
            method,
            path: path_q,
            status,
            auth,
        });
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let h = |s: String| HeaderValue::from_str(&s).unwrap();
        headers.insert("x-ratelimit-limit", h(inner.limit.to_string()));
        headers.insert(
            "x-ratelimit-remaining",
            h(inner.remaining[budget].to_string()),
        );
        let resource = if budget == 1 { "graphql" } else { "core" };
        headers.insert("x-ratelimit-resource", h(resource.to_string()));
        headers.insert("x-ratelimit-reset", h(inner.reset.to_string()));
        if let Some(e) = etag {
            headers.insert("etag", h(e));
        }
        if let Some(l) = link {
            headers.insert("link", h(l));
        }
        if let Some(r) = retry_after {
            headers.insert("retry-after", h(r.to_string()));
        }
        (headers, status, body, held)
    };
    if let Some(h) = held {
        let _ = h.arrived.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(60), h.released).await;
    }
    (
        StatusCode::from_u16(status).unwrap(),
        headers,
        Body::from(body),
    )
        .into_response()
}

type Answer = (u16, String, Option<String>, Option<String>, Option<u64>);

/// GitHub's GraphQL API, for the query shape Switchboard sends: aliased repositories, each with
/// its default branch's head and aliased `object(expression: "HEAD:path")` blobs.
fn graphql(inner: &mut Inner, body: &[u8]) -> Answer {
    if let Some(a) = injected(inner, "/graphql") {
        return a;
    }
    let query = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("query")?.as_str().map(str::to_string))
        .unwrap_or_default();
    let repo_re =
        regex::Regex::new(r#"(r\d+): repository\(owner: "([^"]*)", name: "([^"]*)"\)"#).unwrap();
    let file_re =
        regex::Regex::new(r#"(f\d+): object\(expression: "(HEAD|[0-9a-f]{40}):([^"]*)"\)"#)
            .unwrap();
    let files: Vec<(String, String, String)> = file_re
        .captures_iter(&query)
        .map(|c| (c[1].to_string(), c[2].to_string(), c[3].to_string()))
        .collect();
    let mut data = serde_json::Map::new();
    let mut errors = Vec::new();
    for c in repo_re.captures_iter(&query) {
        let (alias, owner, name) = (&c[1], &c[2], &c[3]);
        let repo = inner
            .repos
            .iter()
            .find(|r| r.org.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name));
        let Some(repo) = repo else {
            data.insert(alias.to_string(), Value::Null);
            errors.push(json!({"type": "NOT_FOUND", "path": [alias],
                "message": format!("Could not resolve to a Repository with the name '{owner}/{name}'.")}));
            continue;
        };
        if inner
            .forbidden
            .iter()
            .any(|f| f.eq_ignore_ascii_case(&repo.full()))
        {
            data.insert(alias.to_string(), Value::Null);
            errors.push(json!({"type": "FORBIDDEN", "path": [alias],
                "message": "Resource protected by organization SAML enforcement."}));
            continue;
        }
        let mut node = serde_json::Map::new();
        node.insert(
            "defaultBranchRef".into(),
            json!({"name": repo.branch, "target": {"oid": repo.head}}),
        );
        for (f, at, path) in &files {
            let commit = if at == "HEAD" { &repo.head } else { at };
            let blob = inner
                .commits
                .get(commit)
                .and_then(|tree| tree.get(path))
                .map(|c| json!({"oid": blob_sha(c), "text": c, "isTruncated": false}));
            node.insert(f.clone(), blob.unwrap_or(Value::Null));
        }
        // The latest merged pull requests and deployments, when asked (GraphQL's `last: N`).
        let full = repo.full().to_lowercase();
        for (field, list) in [
            ("pullRequests", &inner.merged),
            ("deployments", &inner.deployments),
        ] {
            if query.contains(&format!("{field}(")) {
                let nodes: Vec<&Value> = list
                    .iter()
                    .filter(|(r, _)| *r == full)
                    .map(|(_, n)| n)
                    .collect();
                node.insert(field.into(), json!({"nodes": nodes}));
            }
        }
        data.insert(alias.to_string(), Value::Object(node));
    }
    let mut out = json!({ "data": data });
    if !errors.is_empty() {
        out["errors"] = json!(errors);
    }
    (200, out.to_string(), None, None, None)
}

/// An injected failure for `path_q`, if one is pending.
fn injected(inner: &mut Inner, path_q: &str) -> Option<Answer> {
    let f = inner
        .fails
        .iter_mut()
        .find(|f| f.times > 0 && path_q.contains(&f.needle))?;
    f.times -= 1;
    if f.status == 200 {
        // GraphQL's own way of refusing: 200, with the limit in `errors`.
        let body = json!({"data": null, "errors": [{"type": "RATE_LIMITED",
            "message": "API rate limit already exceeded for installation ID 42."}]});
        return Some((200, body.to_string(), None, None, None));
    }
    let message = if f.status == 429 || f.status == 403 {
        "API rate limit exceeded"
    } else {
        "Server Error"
    };
    Some((
        f.status,
        json!({"message": message}).to_string(),
        None,
        None,
        f.retry_after,
    ))
}

fn not_found() -> Answer {
    (
        404,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
            .to_string(),
        None,
        None,
        None,
    )
}

fn answer(inner: &mut Inner, path_q: &str) -> Answer {
    if let Some(a) = injected(inner, path_q) {
        return a;
    }
    let (path, query) = path_q.split_once('?').unwrap_or((path_q, ""));
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    let find = |inner: &Inner, o: &str, r: &str| {
        inner
            .repos
            .iter()
            .position(|x| x.org.eq_ignore_ascii_case(o) && x.name.eq_ignore_ascii_case(r))
    };
    match seg.as_slice() {
        // A GitHub App's installation token, as GitHub mints it (POST).
        ["app", "installations", _id, "access_tokens"] => {
            let expires = chrono::Utc::now() + chrono::Duration::hours(1);
            let body = json!({
                "token": "ghs_fake_installation_token",
                "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "permissions": {"contents": "read", "metadata": "read"},
                "repository_selection": "all",
            });
            (201, body.to_string(), None, None, None)
        }
        ["orgs", org, "repos"] => {
            let per_page: usize = param("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
            let page: usize = param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let all: Vec<&Repo> = inner
                .repos
                .iter()
                .filter(|r| r.org.eq_ignore_ascii_case(org))
                .collect();
            if all.is_empty() {
                return not_found();
            }
            let items: Vec<Value> = all
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|r| repo_json(&inner.template, r))
                .collect();
            let body = Value::Array(items).to_string();
            let last = all.len().div_ceil(per_page).max(1);
            let mut link = Vec::new();
            if page < last {
                link.push(format!(
                    "</orgs/{org}/repos?per_page={per_page}&page={}>; rel=\"next\"",
                    page + 1
                ));
            }
            link.push(format!(
                "</orgs/{org}/repos?per_page={per_page}&page={last}>; rel=\"last\""
            ));
            let etag = quote(&digest(&body));
            (200, body, Some(etag), Some(link.join(", ")), None)
        }
        ["repos", o, r] => match find(inner, o, r) {
            Some(i) => (
                200,
                repo_json(&inner.template, &inner.repos[i]).to_string(),
                None,
                None,
                None,
            ),
            None => not_found(),
        },
        ["repos", o, r, "git", "ref", "heads", branch @ ..] => {
            let Some(i) = find(inner, o, r) else {
                return not_found();
            };
            let branch = branch.join("/");
            let repo = &inner.repos[i];
            let head = if branch == repo.branch {
                Some(repo.head.clone())
            } else {
                repo.branches.get(&branch).cloned()
            };
            match head {
                Some(sha) => (
                    200,
                    ref_json(&repo.full(), &branch, &sha).to_string(),
                    None,
                    None,
                    None,
                ),
                None => not_found(),
            }
        }
        ["repos", o, r, "git", "commits", sha] => {
            let Some(i) = find(inner, o, r) else {
                return not_found();
            };
            match inner.meta.get(*sha) {
                Some(_) => (
                    200,
                    commit_json(inner, &inner.repos[i].full(), sha).to_string(),
                    None,
                    None,
                    None,
                ),
                None => not_found(),
            }
        }
        ["repos", o, r, "pulls"] => {
            let Some(i) = find(inner, o, r) else {
                return not_found();
            };
            let full = inner.repos[i].full();
            let head = param("head").unwrap_or_default();
            let branch = head
                .split_once(':')
                .map_or(head.as_str(), |(_, b)| b)
                .to_string();
            let list: Vec<Value> = inner
                .pulls
                .iter()
                .filter(|p| p.repo == full && p.open && (branch.is_empty() || p.head == branch))
                .map(pull_json)
                .collect();
            (200, Value::Array(list).to_string(), None, None, None)
        }
        ["repos", o, r, "actions", "runs", id] => {
            let Some(i) = find(inner, o, r) else {
                return not_found();
            };
            let full = inner.repos[i].full();
            let Some(d) = inner
                .runs
                .iter()
                .find(|d| d.repo == full && d.id.to_string() == *id)
            else {
                return not_found();
            };
            let mut v = fixture_json("rest-get-actions-run.response.json");
            v["id"] = json!(d.id);
            v["display_title"] = json!(d.title);
            v["event"] = json!("workflow_dispatch");
            v["html_url"] = json!(format!("https://github.com/{full}/actions/runs/{}", d.id));
            (200, v.to_string(), None, None, None)
        }
        ["repos", o, r, "actions", "workflows", wf, "runs"] => {
            let Some(i) = find(inner, o, r) else {
                return not_found();
            };
            let full = inner.repos[i].full();
            let template =
                fixture_json("rest-get-actions-runs.response.json")["workflow_runs"][0].clone();
            let runs: Vec<Value> = inner
                .runs
                .iter()
                .rev()
                .filter(|d| d.repo == full && d.workflow == *wf)
                .map(|d| {
                    let mut v = template.clone();
                    v["id"] = json!(d.id);
                    v["display_title"] = json!(d.title);
                    v["event"] = json!("workflow_dispatch");
                    v["html_url"] =
                        json!(format!("https://github.com/{full}/actions/runs/{}", d.id));
                    v["url"] = json!(format!(
                        "https://api.github.com/repos/{full}/actions/runs/{}",
                        d.id
                    ));
                    v
                })
                .collect();
            let body = json!({"total_count": runs.len(), "workflow_runs": runs});
            (200, body.to_string(), None, None, None)
        }
        ["repos", o, r, "git", "trees", sha] => {
            if find(inner, o, r).is_none() {
                return not_found();
            }
            let Some(files) = inner.commits.get(*sha) else {
                return not_found();
            };
            let mut dirs = std::collections::BTreeSet::new();
            let mut tree = Vec::new();
            for (p, c) in files {
                let mut d = p.as_str();
                while let Some((parent, _)) = d.rsplit_once('/') {
                    dirs.insert(parent.to_string());
                    d = parent;
                }
                tree.push(json!({"path": p, "mode": "100644", "type": "blob",
                    "sha": blob_sha(c), "size": c.len()}));
            }
            for d in dirs {
                tree.push(json!({"path": d, "mode": "040000", "type": "tree",
                    "sha": blob_sha(&d)}));
            }
            let body = json!({"sha": sha, "tree": tree, "truncated": false}).to_string();
            (200, body, None, None, None)
        }
        // A file's contents, in the recorded shape (octokit's cassette), on `ref` or the
        // default branch.
        ["repos", o, r, "contents", file @ ..] => {
            let Some(i) = find(inner, o, r) else {
                return not_found();
            };
            let repo = &inner.repos[i];
            let file = file.join("/");
            let head = match param("ref") {
                Some(b) if b != repo.branch => match repo.branches.get(&b) {
                    Some(h) => h.clone(),
                    None => return not_found(),
                },
                _ => repo.head.clone(),
            };
            let Some(content) = inner.commits[&head].get(&file) else {
                return not_found();
            };
            let b64 = base64::engine::general_purpose::STANDARD.encode(content);
            let wrapped: Vec<String> = b64
                .as_bytes()
                .chunks(60)
                .map(|l| String::from_utf8(l.to_vec()).unwrap())
                .collect();
            let mut body = fixture_json("rest-get-repos-contents-file.body.json");
            body["name"] = json!(file.rsplit('/').next().unwrap());
            body["path"] = json!(file);
            body["sha"] = json!(blob_sha(content));
            body["size"] = json!(content.len());
            body["content"] = json!(wrapped.join("\n") + "\n");
            (200, body.to_string(), None, None, None)
        }
        ["repos", o, r, "dependency-graph", "sbom"] => {
            match inner.sboms.get(&format!("{o}/{r}").to_lowercase()) {
                Some(sbom) => (200, sbom.to_string(), None, None, None),
                None => not_found(),
            }
        }
        ["repos", o, r, "git", "blobs", sha] => {
            if find(inner, o, r).is_none() {
                return not_found();
            }
            match inner.blobs.get(*sha) {
                Some(c) => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(c);
                    // GitHub wraps the base64 at 60 characters.
                    let wrapped: Vec<String> = b64
                        .as_bytes()
                        .chunks(60)
                        .map(|l| String::from_utf8(l.to_vec()).unwrap())
                        .collect();
                    let body = json!({"sha": sha, "size": c.len(),
                        "content": wrapped.join("\n"), "encoding": "base64"})
                    .to_string();
                    (200, body, None, None, None)
                }
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}

fn ref_json(full: &str, branch: &str, sha: &str) -> Value {
    let mut v = fixture_json("rest-git-ref.response.json");
    v["ref"] = json!(format!("refs/heads/{branch}"));
    v["url"] = json!(format!(
        "https://api.github.com/repos/{full}/git/refs/heads/{branch}"
    ));
    v["object"]["sha"] = json!(sha);
    v["object"]["url"] = json!(format!(
        "https://api.github.com/repos/{full}/git/commits/{sha}"
    ));
    v
}

fn commit_json(inner: &Inner, full: &str, sha: &str) -> Value {
    let (message, parents, tree) = &inner.meta[sha];
    let mut v = fixture_json("rest-post-git-commits.response.json");
    v["sha"] = json!(sha);
    v["message"] = json!(message);
    v["tree"]["sha"] = json!(tree);
    v["parents"] = json!(
        parents
            .iter()
            .map(|p| json!({"sha": p}))
            .collect::<Vec<_>>()
    );
    v["html_url"] = json!(format!("https://github.com/{full}/commit/{sha}"));
    v
}

fn pull_json(p: &Pull) -> Value {
    let mut v = fixture_json("rest-post-pulls.response.json");
    v["number"] = json!(p.number);
    v["title"] = json!(p.title);
    v["state"] = json!(if p.open { "open" } else { "closed" });
    v["html_url"] = json!(format!("https://github.com/{}/pull/{}", p.repo, p.number));
    v["head"]["ref"] = json!(p.head);
    v["base"]["ref"] = json!(p.base);
    v
}

fn created(body: Value) -> Answer {
    (201, body.to_string(), None, None, None)
}

fn unprocessable(body: Value) -> Answer {
    (422, body.to_string(), None, None, None)
}

/// GitHub's writes the golden paths make: generate, Git data, pulls, dispatches.
fn write(inner: &mut Inner, method: &str, path_q: &str, body: &Value) -> Answer {
    if let Some(a) = injected(inner, path_q) {
        return a;
    }
    let path = path_q.split('?').next().unwrap_or(path_q);
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    let find = |inner: &Inner, o: &str, r: &str| {
        inner
            .repos
            .iter()
            .position(|x| x.org.eq_ignore_ascii_case(o) && x.name.eq_ignore_ascii_case(r))
    };
    match (method, seg.as_slice()) {
        ("POST", ["app", "installations", _, "access_tokens"]) => answer(inner, path_q),
        ("POST", ["repos", to, tr, "generate"]) => {
            let Some(t) = find(inner, to, tr) else {
                return not_found();
            };
            let owner = body["owner"].as_str().unwrap_or(to).to_string();
            let name = body["name"].as_str().unwrap_or_default().to_string();
            if find(inner, &owner, &name).is_some() {
                return unprocessable(json!({"message": "Validation Failed",
                    "errors": [{"resource": "Repository", "code": "custom", "field": "name",
                                "message": "name already exists on this account"}]}));
            }
            let files = inner.commits[&inner.repos[t].head].clone();
            let template = inner.repos[t].full();
            let head = FakeGitHub::commit(inner, files);
            let id = inner.repos.len() as i64 + 1000;
            let pushed_at = inner.clock;
            inner.repos.push(Repo {
                id,
                org: owner.clone(),
                name: name.clone(),
                archived: false,
                branch: "main".into(),
                pushed_at,
                head,
                branches: BTreeMap::new(),
                template_of: Some(template.clone()),
                created_at: Some(
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
            });
            let mut v = fixture_json("rest-post-generate-from-template.response.json");
            let full = format!("{owner}/{name}");
            v["id"] = json!(id);
            v["name"] = json!(name);
            v["full_name"] = json!(full);
            v["owner"]["login"] = json!(owner);
            v["html_url"] = json!(format!("https://github.com/{full}"));
            v["default_branch"] = json!("main");
            v["private"] = body["private"].clone();
            v["template_repository"]["full_name"] = json!(template);
            v["created_at"] =
                json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            created(v)
        }
        ("POST", ["repos", o, r, "git", "blobs"]) => {
            if find(inner, o, r).is_none() {
                return not_found();
            }
            let raw = body["content"].as_str().unwrap_or_default();
            let content = if body["encoding"] == "base64" {
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(raw)
                        .unwrap(),
                )
                .unwrap()
            } else {
                raw.to_string()
            };
            let sha = blob_sha(&content);
            inner.blobs.insert(sha.clone(), content);
            let mut v = fixture_json("rest-post-git-blobs.response.json");
            v["sha"] = json!(sha);
            v["url"] = json!(format!(
                "https://api.github.com/repos/{o}/{r}/git/blobs/{sha}"
            ));
            created(v)
        }
        ("POST", ["repos", o, r, "git", "trees"]) => {
            if find(inner, o, r).is_none() {
                return not_found();
            }
            let base = body["base_tree"].as_str().unwrap_or_default();
            let mut files = inner.commits.get(base).cloned().unwrap_or_default();
            let mut entries = Vec::new();
            for e in body["tree"].as_array().cloned().unwrap_or_default() {
                let path = e["path"].as_str().unwrap_or_default().to_string();
                let sha = e["sha"].as_str().unwrap_or_default().to_string();
                let Some(content) = inner.blobs.get(&sha).cloned() else {
                    return unprocessable(
                        json!({"message": format!("tree.sha {sha} is not a valid blob")}),
                    );
                };
                files.insert(path.clone(), content);
                entries.push(json!({"path": path, "mode": "100644", "type": "blob", "sha": sha}));
            }
            inner.clock += 1;
            let sha = digest(&format!("tree {} {base}", inner.clock))
                + &digest(&format!("t {}", inner.clock))[..8]
                + &digest("x")[..16];
            inner.commits.insert(sha.clone(), files);
            let mut v = fixture_json("rest-post-git-trees.response.json");
            v["sha"] = json!(sha);
            v["tree"] = json!(entries);
            v["truncated"] = json!(false);
            created(v)
        }
        ("POST", ["repos", o, r, "git", "commits"]) => {
            let Some(i) = find(inner, o, r) else {
                return not_found();
            };
            let tree = body["tree"].as_str().unwrap_or_default().to_string();
            let Some(files) = inner.commits.get(&tree).cloned() else {
                return unprocessable(json!({"message": "Tree SHA does not exist"}));
            };
            let parents: Vec<String> = body["parents"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let sha = FakeGitHub::commit(inner, files);
            let message = body["message"].as_str().unwrap_or_default().to_string();
            inner
                .meta
                .insert(sha.clone(), (message.clone(), parents, tree));
            inner.made.push(message);
            let full = inner.repos[i].full();
            created(commit_json(inner, &full, &sha))
        }
        ("POST", ["repos", o, r, "git", "refs"]) => {
            let Some(i) = find(inner, o, r) else {
                return not_found();
            };
            let name = body["ref"].as_str().unwrap_or_default();
            let sha = body["sha"].as_str().unwrap_or_default().to_string();
            let Some(branch) = name.strip_prefix("refs/heads/") else {
                return unprocessable(json!({"message": "Reference name is not well-formed"}));
            };
            let repo = &mut inner.repos[i];
            if branch == repo.branch || repo.branches.contains_key(branch) {
                return unprocessable(json!({"message": "Reference already exists"}));
            }
            repo.branches.insert(branch.to_string(), sha.clone());
            let full = repo.full();
            created(ref_json(&full, branch, &sha))
        }
        ("PATCH", ["repos", o, r, "git", "refs", "heads", branch @ ..]) => {
            let Some(i) = find(inner, o, r) else {
                return not_found();
            };
            let branch = branch.join("/");
            let sha = body["sha"].as_str().unwrap_or_default().to_string();
            inner.clock += 1;
            let clock = inner.clock;
            let repo = &mut inner.repos[i];
            if branch == repo.branch {
                repo.head = sha.clone();
                repo.pushed_at = clock;
            } else if let Some(h) = repo.branches.get_mut(&branch) {
                *h = sha.clone();
            } else {
                return unprocessable(json!({"message": "Reference does not exist"}));
            }
            let full = repo.full();
            (
                200,
                ref_json(&full, &branch, &sha).to_string(),
                None,
                None,
                None,
            )
        }
        ("POST", ["repos", o, r, "pulls"]) => {
            let Some(i) = find(inner, o, r) else {
                return not_found();
            };
            let full = inner.repos[i].full();
            let head = body["head"].as_str().unwrap_or_default().to_string();
            if inner
                .pulls
                .iter()
                .any(|p| p.repo == full && p.open && p.head == head)
            {
                return unprocessable(fixture_json("rest-post-pulls-422-already-exists.body.json"));
            }
            let number = inner.pulls.len() as i64 + 1347;
            let pull = Pull {
                repo: full,
                number,
                head,
                base: body["base"].as_str().unwrap_or_default().to_string(),
                title: body["title"].as_str().unwrap_or_default().to_string(),
                body: body["body"].as_str().unwrap_or_default().to_string(),
                open: true,
            };
            inner.pulls.push(pull.clone());
            created(pull_json(&pull))
        }
        ("POST", ["repos", o, r, "actions", "workflows", wf, "dispatches"]) => {
            let Some(i) = find(inner, o, r) else {
                return not_found();
            };
            let full = inner.repos[i].full();
            let id = 30_433_642 + inner.runs.len() as i64;
            // The deploy workflow's run-name: "Deploy ${{ inputs.version }} (${{ inputs.switchboard_run }})".
            let inputs = body["inputs"].clone();
            let title = format!(
                "Deploy {} ({})",
                inputs["version"].as_str().unwrap_or(""),
                inputs["switchboard_run"].as_str().unwrap_or("")
            );
            inner.runs.push(Dispatched {
                repo: full.clone(),
                workflow: wf.to_string(),
                id,
                title,
                inputs,
            });
            let mut v = fixture_json(
                "rest-post-actions-workflow-dispatch-return_run_details.200.response.json",
            );
            v["workflow_run_id"] = json!(id);
            v["run_url"] = json!(format!(
                "https://api.github.com/repos/{full}/actions/runs/{id}"
            ));
            v["html_url"] = json!(format!("https://github.com/{full}/actions/runs/{id}"));
            (200, v.to_string(), None, None, None)
        }
        _ => not_found(),
    }
}
