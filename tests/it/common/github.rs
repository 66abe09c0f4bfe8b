//! A stateful fake of GitHub's API on loopback, for the real octocrab client: organisations
//! with repositories, commits, trees, blobs and CODEOWNERS; the REST listing with ETags and
//! 304s; GraphQL for the query Switchboard sends; App installation tokens; rate-limit headers
//! that count down; injected failures (a 429 in the middle of a listing, GraphQL's
//! RATE_LIMITED, a repository GraphQL refuses). Every call is recorded. Repository objects are GitHub's own (the first repository of a recorded
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
    remaining: u64,
    fails: Vec<Fail>,
    /// Repositories GraphQL refuses to show (FORBIDDEN, as behind SAML enforcement).
    forbidden: Vec<String>,
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
            remaining: 5000,
            fails: Vec::new(),
            forbidden: Vec::new(),
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
        });
        head
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

    /// GraphQL refuses to show `full` (true) or shows it again (false).
    pub fn forbid(&self, full: &str, on: bool) {
        let mut inner = self.inner.lock().unwrap();
        inner.forbidden.retain(|f| !f.eq_ignore_ascii_case(full));
        if on {
            inner.forbidden.push(full.to_string());
        }
    }

    /// Sets what the rate-limit headers say is left.
    pub fn set_remaining(&self, remaining: u64) {
        self.inner.lock().unwrap().remaining = remaining;
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
    v
}

async fn handle(State(inner): State<Arc<Mutex<Inner>>>, req: Request) -> Response {
    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
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
    let mut inner = inner.lock().unwrap();
    let (status, body, etag, link, retry_after) = if path_q == "/graphql" {
        graphql(&mut inner, &posted)
    } else {
        answer(&mut inner, &path_q)
    };
    let (status, body) = match (&etag, &if_none_match) {
        (Some(e), Some(m)) if status == 200 && e == m => (304, String::new()),
        _ => (status, body),
    };
    // Like GitHub, a 304 does not count against the budget.
    if status != 304 && inner.remaining > 0 {
        inner.remaining -= 1;
    }
    inner.calls.push(Call {
        path: path_q,
        status,
        auth,
    });
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let h = |s: String| HeaderValue::from_str(&s).unwrap();
    headers.insert("x-ratelimit-limit", h(inner.limit.to_string()));
    headers.insert("x-ratelimit-remaining", h(inner.remaining.to_string()));
    headers.insert(
        "x-ratelimit-reset",
        h((chrono::Utc::now().timestamp() + 3600).to_string()),
    );
    if let Some(e) = etag {
        headers.insert("etag", h(e));
    }
    if let Some(l) = link {
        headers.insert("link", h(l));
    }
    if let Some(r) = retry_after {
        headers.insert("retry-after", h(r.to_string()));
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
    let file_re = regex::Regex::new(r#"(f\d+): object\(expression: "HEAD:([^"]*)"\)"#).unwrap();
    let files: Vec<(String, String)> = file_re
        .captures_iter(&query)
        .map(|c| (c[1].to_string(), c[2].to_string()))
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
        let tree = &inner.commits[&repo.head];
        let mut node = serde_json::Map::new();
        node.insert(
            "defaultBranchRef".into(),
            json!({"target": {"oid": repo.head}}),
        );
        for (f, path) in &files {
            let blob = tree
                .get(path)
                .map(|c| json!({"oid": blob_sha(c), "text": c, "isTruncated": false}));
            node.insert(f.clone(), blob.unwrap_or(Value::Null));
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
