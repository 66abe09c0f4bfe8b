//! The GitHub executors of golden paths: `github.repository_from_template`,
//! `github.commit_files` (files onto a branch with the Git data API: ref, blobs, tree, commit,
//! ref update), `github.pull_request` (branch, commit, then the pull request) and
//! `github.workflow_dispatch`. They go through the client the GitHub source uses (its
//! credentials and rate budget).
//!
//! Each looks before acting, so a step tried again after a crash adopts what an earlier attempt
//! did instead of doing it twice: the repository generated from this template since the run
//! was requested; the branch holding this run's commit among its last few (commits carry a
//! `Switchboard-Run: N (STEP)` trailer); an open pull request for the branch; a workflow run
//! whose `run-name` carries this run's token (`switchboard-run-N`, sent as the
//! `switchboard_run` input). A write that fails on the way is looked for the same way before
//! the step fails (it may have been done); content-addressed writes (blobs, trees, commits)
//! are simply sent again. Outputs say `adopted: true` when they were found rather than made.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use http::Method;
use serde_json::{Map, Value, json};

use crate::github::{Answer, Api};
use crate::outbox::Sending;
use crate::workflows::executor::{Call, Executor};

/// The executors over one client (None: GitHub is not configured, and steps that use
/// them are refused when requested).
#[derive(Clone)]
pub struct GitHubSteps {
    api: Option<Arc<Api>>,
    /// How long to wait for a repository just generated from a template to have its branch
    /// (GitHub fills it in the background), in all.
    pub settle: Duration,
}

impl GitHubSteps {
    pub fn new(api: Option<Arc<Api>>) -> GitHubSteps {
        GitHubSteps {
            api,
            settle: Duration::from_secs(30),
        }
    }

    /// The executors.
    pub fn executors(&self) -> Vec<Arc<dyn Executor>> {
        vec![
            Arc::new(FromTemplate(self.clone())),
            Arc::new(CommitFiles(self.clone())),
            Arc::new(PullRequest(self.clone())),
            Arc::new(Dispatch(self.clone())),
            Arc::new(UpdateFromTemplate(self.clone())),
        ]
    }

    fn api(&self) -> Result<&Api> {
        self.api.as_deref().ok_or_else(|| anyhow!(NOT_CONFIGURED))
    }

    fn missing(&self) -> Option<String> {
        self.api.is_none().then(|| NOT_CONFIGURED.to_string())
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Answer> {
        self.api()?.request(method, path, body, false).await
    }

    /// GETs `path`: its JSON, or None for a 404.
    async fn look(&self, path: &str) -> Result<Option<Value>> {
        let a = self.send(Method::GET, path, None).await?;
        match a.status {
            404 | 409 => Ok(None),
            _ if a.ok() => Ok(Some(a.json()?)),
            s => bail!("GitHub answered {s} for {path}: {}", a.message()),
        }
    }

    /// Sends a write and expects success; anything else fails the step with GitHub's message.
    async fn write(&self, method: Method, path: &str, body: &Value) -> Result<Value> {
        let a = self.send(method.clone(), path, Some(body)).await?;
        if !a.ok() {
            bail!(
                "GitHub answered {} to {method} {path}: {}",
                a.status,
                a.message()
            );
        }
        a.json()
    }

    /// A write that is harmless to repeat (a blob, a tree, a commit: content-addressed or
    /// unreferenced; a ref set to a commit): sent again after a failure on the way, twice.
    async fn write_again(&self, method: Method, path: &str, body: &Value) -> Result<Value> {
        let mut tries = 0;
        loop {
            match self.write(method.clone(), path, body).await {
                Ok(v) => return Ok(v),
                Err(e) if tries < 2 && !e.to_string().contains("answered 4") => {
                    tries += 1;
                    tracing::warn!(path, "GitHub write failed ({e:#}); sending it again");
                    tokio::time::sleep(Duration::from_millis(500 << tries)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The repository's default branch.
    async fn default_branch(&self, repo: &str) -> Result<String> {
        let r = self
            .look(&format!("/repos/{repo}"))
            .await?
            .with_context(|| format!("there is no repository {repo} (or the bot cannot see it)"))?;
        Ok(r["default_branch"].as_str().unwrap_or("main").to_string())
    }

    /// The open pull request from `branch`, if there is one.
    async fn open_pull(&self, repo: &str, branch: &str) -> Result<Option<Value>> {
        let owner = repo.split('/').next().unwrap_or_default();
        let list = self
            .look(&format!(
                "/repos/{repo}/pulls?head={owner}:{branch}&state=open"
            ))
            .await?;
        Ok(list.and_then(|l| l.as_array().and_then(|a| a.first().cloned())))
    }

    /// A file's text on `git_ref`, or None when there is no such file.
    async fn read_file(&self, repo: &str, path: &str, git_ref: &str) -> Result<Option<String>> {
        let Some(v) = self
            .look(&format!("/repos/{repo}/contents/{path}?ref={git_ref}"))
            .await?
        else {
            return Ok(None);
        };
        // Over 1 MB (or a directory), the contents API gives no content.
        if v["encoding"] != "base64" {
            bail!("{repo}'s {path} is not a file GitHub's contents API gives (over 1 MB?)");
        }
        let b64: String = v["content"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .with_context(|| format!("{repo}'s {path} came back unreadable"))?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The commit a branch points at, or None when there is no such branch.
    async fn branch_head(&self, repo: &str, branch: &str) -> Result<Option<String>> {
        Ok(self
            .look(&format!("/repos/{repo}/git/ref/heads/{branch}"))
            .await?
            .and_then(|r| r["object"]["sha"].as_str().map(str::to_string)))
    }

    /// Commits `files` onto `branch` (made from `base` when missing), unless one of the
    /// branch's last commits is already this step's. Returns the commit's sha and web address,
    /// and whether it was adopted.
    async fn commit(
        &self,
        call: &Call<'_>,
        repo: &str,
        branch: &str,
        base: Option<&str>,
        message: &str,
        files: &[(String, String)],
    ) -> Result<(String, String, bool)> {
        let marker = format!("Switchboard-Run: {} ({})", call.run_id, call.step);
        let read_commit = |sha: String| async move {
            self.look(&format!("/repos/{repo}/git/commits/{sha}"))
                .await?
                .with_context(|| format!("commit {sha} of {repo} cannot be read"))
        };
        let ours = |c: &Value| {
            c["message"]
                .as_str()
                .is_some_and(|m| m.lines().any(|l| l.trim() == marker))
        };
        let mut existing = self.branch_head(repo, branch).await?;
        // A branch that does not exist yet is made from the base, waited for (a repository
        // just generated gets its branches in the background); when the base is the branch
        // itself, the branch is what was waited for.
        let mut base_head = None;
        if existing.is_none() {
            let b = match base {
                Some(b) => b.to_string(),
                None => self.default_branch(repo).await?,
            };
            let head = self.wait_for_branch(repo, &b).await?;
            if b == branch {
                existing = Some(head);
            } else {
                base_head = Some(head);
            }
        }
        let (parent, parent_commit) = match (&existing, base_head) {
            (Some(head), _) => {
                // This step's commit, at the head or a few commits down (pushed on since).
                let mut sha = head.clone();
                let mut first = None;
                for _ in 0..5 {
                    let c = read_commit(sha.clone()).await?;
                    if ours(&c) {
                        let url = c["html_url"].as_str().unwrap_or_default().to_string();
                        return Ok((sha, url, true));
                    }
                    let next = c["parents"][0]["sha"].as_str().map(str::to_string);
                    first.get_or_insert(c);
                    match next {
                        Some(n) => sha = n,
                        None => break,
                    }
                }
                (
                    head.clone(),
                    first.context("the branch's head cannot be read")?,
                )
            }
            (None, Some(head)) => (head.clone(), read_commit(head).await?),
            (None, None) => bail!("{repo}: neither {branch} nor its base can be found"),
        };
        let base_tree = parent_commit["tree"]["sha"]
            .as_str()
            .context("GitHub's commit has no tree")?
            .to_string();
        let mut tree = Vec::new();
        for (path, content) in files {
            let blob = self
                .write_again(
                    Method::POST,
                    &format!("/repos/{repo}/git/blobs"),
                    &json!({
                        "content": base64::engine::general_purpose::STANDARD.encode(content),
                        "encoding": "base64",
                    }),
                )
                .await?;
            let sha = blob["sha"].as_str().context("GitHub's blob has no sha")?;
            tree.push(json!({"path": path, "mode": "100644", "type": "blob", "sha": sha}));
        }
        let tree = self
            .write_again(
                Method::POST,
                &format!("/repos/{repo}/git/trees"),
                &json!({"base_tree": base_tree, "tree": tree}),
            )
            .await?;
        let tree_sha = tree["sha"].as_str().context("GitHub's tree has no sha")?;
        let commit = self
            .write_again(
                Method::POST,
                &format!("/repos/{repo}/git/commits"),
                &json!({
                    "message": format!("{message}\n\n{marker}"),
                    "tree": tree_sha,
                    "parents": [parent],
                }),
            )
            .await?;
        let sha = commit["sha"]
            .as_str()
            .context("GitHub's commit has no sha")?
            .to_string();
        let url = commit["html_url"].as_str().unwrap_or_default().to_string();
        if existing.is_some() {
            self.write_again(
                Method::PATCH,
                &format!("/repos/{repo}/git/refs/heads/{branch}"),
                &json!({"sha": sha, "force": false}),
            )
            .await?;
        } else {
            let made = self
                .write(
                    Method::POST,
                    &format!("/repos/{repo}/git/refs"),
                    &json!({"ref": format!("refs/heads/{branch}"), "sha": sha}),
                )
                .await;
            // Failed on the way, or made meanwhile: it stands if the branch is at this commit.
            if let Err(e) = made
                && self.branch_head(repo, branch).await?.as_deref() != Some(sha.as_str())
            {
                return Err(e);
            }
        }
        Ok((sha, url, false))
    }

    /// The head of `branch`, waiting for it a while: a repository just generated from a
    /// template gets its branches in the background.
    async fn wait_for_branch(&self, repo: &str, branch: &str) -> Result<String> {
        let mut waited = Duration::ZERO;
        let mut step = Duration::from_millis(250);
        loop {
            if let Some(head) = self.branch_head(repo, branch).await? {
                return Ok(head);
            }
            if waited >= self.settle {
                bail!("{repo} has no branch {branch} (waited {waited:?})");
            }
            tokio::time::sleep(step).await;
            waited += step;
            step = (step * 2).min(Duration::from_secs(5));
        }
    }
}

const NOT_CONFIGURED: &str = "GitHub is not configured: set GITHUB_TOKEN (or a GitHub App: \
     catalog.github.app_id, installation_id and GITHUB_APP_PRIVATE_KEY)";

/// A string input, required.
fn text<'a>(with: &'a Value, key: &str, executor: &str) -> Result<&'a str> {
    with.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| anyhow!("{executor} needs `{key}`"))
}

fn optional<'a>(with: &'a Value, key: &str) -> Option<&'a str> {
    with.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// `owner/name`, checked.
fn repository<'a>(with: &'a Value, key: &str, executor: &str) -> Result<&'a str> {
    let r = text(with, key, executor)?;
    let ok = r.split('/').count() == 2
        && r.split('/').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if !ok {
        bail!("{executor}: `{key}` must be owner/name, not `{r}`");
    }
    Ok(r)
}

/// `files` as a map of path to content, or a list of `{path, content}`; paths inside the
/// repository.
fn files(with: &Value, executor: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    match with.get("files") {
        Some(Value::Object(m)) => {
            for (p, c) in m {
                out.push((p.clone(), c.as_str().unwrap_or_default().to_string()));
            }
        }
        Some(Value::Array(list)) => {
            for f in list {
                let p = f["path"].as_str().unwrap_or_default();
                out.push((
                    p.to_string(),
                    f["content"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        _ => bail!("{executor} needs `files`: paths and their contents"),
    }
    for (p, _) in &out {
        if p.is_empty() || p.starts_with('/') || p.split('/').any(|s| s == ".." || s.is_empty()) {
            bail!("{executor}: `{p}` is not a path inside the repository");
        }
    }
    Ok(out)
}

/// Whether a workflow run's title carries `token` as a whole word.
fn carries(title: &str, token: &str) -> bool {
    title
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .any(|w| w == token)
}

/// The token a dispatched workflow's `run-name` must carry.
pub fn run_token(run_id: i64) -> String {
    format!("switchboard-run-{run_id}")
}

struct FromTemplate(GitHubSteps);
struct CommitFiles(GitHubSteps);
struct PullRequest(GitHubSteps);
struct Dispatch(GitHubSteps);
struct UpdateFromTemplate(GitHubSteps);

impl Executor for FromTemplate {
    fn name(&self) -> &'static str {
        "github.repository_from_template"
    }

    fn missing(&self, _with: &Value) -> Option<String> {
        self.0.missing()
    }

    /// `template` (owner/name), `owner`, `name`, `description`, `private` (default true).
    fn run<'a>(&'a self, call: &'a Call<'a>) -> Sending<'a, Value> {
        Box::pin(async move {
            let w = call.with;
            let template = repository(w, "template", self.name())?;
            let owner = text(w, "owner", self.name())?;
            let name = text(w, "name", self.name())?;
            let full = format!("{owner}/{name}");
            let outputs = |r: &Value, adopted: bool| {
                json!({
                    "full_name": r["full_name"].as_str().unwrap_or(&full),
                    "html_url": r["html_url"],
                    "default_branch": r["default_branch"].as_str().unwrap_or("main"),
                    "template": template,
                    "adopted": adopted,
                })
            };
            // Ours: made from this template since the run was requested (ten minutes' leeway for
            // the clocks); anything else of that name is someone else's.
            let ours = |r: &Value| {
                let from = r["template_repository"]["full_name"].as_str();
                let since = r["created_at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .is_some_and(|t| t.timestamp() >= call.requested_at - 600);
                match from {
                    Some(f) if f.eq_ignore_ascii_case(template) && since => Ok(()),
                    Some(f) if f.eq_ignore_ascii_case(template) => Err(format!(
                        "a repository {full} made from {template} already existed before this run"
                    )),
                    Some(f) => Err(format!(
                        "a repository {full} already exists (made from {f}, not {template})"
                    )),
                    None => Err(format!(
                        "a repository {full} already exists (not made from the template)"
                    )),
                }
            };
            if let Some(existing) = self.0.look(&format!("/repos/{full}")).await? {
                return match ours(&existing) {
                    Ok(()) => Ok(outputs(&existing, true)),
                    Err(why) => bail!("{why}; choose another name"),
                };
            }
            let made = self
                .0
                .write(
                    Method::POST,
                    &format!("/repos/{template}/generate"),
                    &json!({
                        "owner": owner,
                        "name": name,
                        "description": optional(w, "description").unwrap_or(""),
                        "include_all_branches": false,
                        "private": w.get("private").and_then(Value::as_bool).unwrap_or(true),
                    }),
                )
                .await;
            match made {
                Ok(made) => Ok(outputs(&made, false)),
                // Failed on the way, or made meanwhile: adopted if it is there and ours.
                Err(e) => match self.0.look(&format!("/repos/{full}")).await? {
                    Some(r) if ours(&r).is_ok() => Ok(outputs(&r, true)),
                    _ => Err(e),
                },
            }
        })
    }
}

impl Executor for CommitFiles {
    fn name(&self) -> &'static str {
        "github.commit_files"
    }

    fn missing(&self, _with: &Value) -> Option<String> {
        self.0.missing()
    }

    /// `repository`, `branch`, `base` (default: the default branch), `message`, `files`.
    fn run<'a>(&'a self, call: &'a Call<'a>) -> Sending<'a, Value> {
        Box::pin(async move {
            let w = call.with;
            let repo = repository(w, "repository", self.name())?;
            let branch = text(w, "branch", self.name())?;
            let message = text(w, "message", self.name())?;
            let files = files(w, self.name())?;
            let (sha, url, adopted) = self
                .0
                .commit(call, repo, branch, optional(w, "base"), message, &files)
                .await?;
            let mut out = json!({
                "repository": repo, "branch": branch, "sha": sha, "commit_url": url,
                "paths": files.iter().map(|(p, _)| p).collect::<Vec<_>>(), "adopted": adopted,
            });
            // The catalog file, for a step that registers what was committed.
            if let Some((_, c)) = files.iter().find(|(p, _)| p == "catalog-info.yaml") {
                out["catalog_info"] = json!(c);
            }
            Ok(out)
        })
    }
}

impl Executor for PullRequest {
    fn name(&self) -> &'static str {
        "github.pull_request"
    }

    fn missing(&self, _with: &Value) -> Option<String> {
        self.0.missing()
    }

    /// `repository`, `branch`, `base` (default: the default branch), `title`, `body`, and
    /// `files` with `message` to commit onto the branch first.
    fn run<'a>(&'a self, call: &'a Call<'a>) -> Sending<'a, Value> {
        Box::pin(async move {
            let w = call.with;
            let repo = repository(w, "repository", self.name())?;
            let branch = text(w, "branch", self.name())?;
            let title = text(w, "title", self.name())?;
            let commit = match w.get("files") {
                Some(_) => Some((
                    optional(w, "message").unwrap_or(title),
                    files(w, self.name())?,
                )),
                None => None,
            };
            let pr = PullRequestSpec {
                repo,
                branch,
                base: optional(w, "base"),
                title,
                body: optional(w, "body").unwrap_or(""),
            };
            self.0.pull_request(call, &pr, commit).await
        })
    }
}

/// A pull request to open (or find open).
struct PullRequestSpec<'a> {
    repo: &'a str,
    branch: &'a str,
    /// Default: the repository's default branch.
    base: Option<&'a str>,
    title: &'a str,
    body: &'a str,
}

impl GitHubSteps {
    /// Commits `commit`'s files (with its message) onto the branch, unless done, then opens the
    /// pull request unless one is open for the branch. Outputs: number, html_url, branch, base,
    /// sha, adopted.
    async fn pull_request(
        &self,
        call: &Call<'_>,
        spec: &PullRequestSpec<'_>,
        commit: Option<(&str, Vec<(String, String)>)>,
    ) -> Result<Value> {
        let PullRequestSpec {
            repo,
            branch,
            title,
            ..
        } = *spec;
        let base = match spec.base {
            Some(b) => b.to_string(),
            None => self.default_branch(repo).await?,
        };
        let mut sha = None;
        if let Some((message, files)) = commit {
            let (s, _, _) = self
                .commit(call, repo, branch, Some(&base), message, &files)
                .await?;
            sha = Some(s);
        }
        let outputs = |pr: &Value, adopted: bool| {
            json!({
                "number": pr["number"], "html_url": pr["html_url"], "branch": branch,
                "base": base, "sha": sha, "adopted": adopted,
            })
        };
        if let Some(pr) = self.open_pull(repo, branch).await? {
            return Ok(outputs(&pr, true));
        }
        let body = json!({
            "title": title, "head": branch, "base": base, "body": spec.body,
        });
        let made = self
            .write(Method::POST, &format!("/repos/{repo}/pulls"), &body)
            .await;
        match made {
            Ok(pr) => Ok(outputs(&pr, false)),
            // Failed on the way, or opened meanwhile (GitHub: "A pull request already
            // exists"): adopted if it is there.
            Err(e) => match self.open_pull(repo, branch).await? {
                Some(pr) => Ok(outputs(&pr, true)),
                None => Err(e),
            },
        }
    }
}

impl Executor for UpdateFromTemplate {
    fn name(&self) -> &'static str {
        "github.update_from_template"
    }

    fn missing(&self, _with: &Value) -> Option<String> {
        self.0.missing()
    }

    /// `repository` (made from a golden path) and `templates` (every template, as written:
    /// `templates_from: all`), with the run's `context`: reads the repository's
    /// `.switchboard/answers.yaml`, renders the files of the template it names at that
    /// template's current version with those answers, and opens a pull request with them for
    /// the owners to review. A repository already at the current version gets none
    /// (`up_to_date: true`).
    fn run<'a>(&'a self, call: &'a Call<'a>) -> Sending<'a, Value> {
        Box::pin(async move {
            use crate::workflows::drift;
            let w = call.with;
            if optional(w, "repository").is_none() {
                bail!(
                    "the service names no repository (its github.com/project-slug annotation), \
                     so there is nothing to update"
                );
            }
            let repo = repository(w, "repository", self.name())?;
            let about = self
                .0
                .look(&format!("/repos/{repo}"))
                .await?
                .with_context(|| {
                    format!("there is no repository {repo} (or the bot cannot see it)")
                })?;
            let base = about["default_branch"].as_str().unwrap_or("main");
            let answers = self
                .0
                .read_file(repo, drift::ANSWERS, base)
                .await?
                .with_context(|| {
                    format!(
                        "{repo} has no {}: it was not made from a golden path by Switchboard, \
                         so there are no answers to render its files with",
                        drift::ANSWERS
                    )
                })?;
            let answers: Value = serde_saphyr::from_str(&answers)
                .map_err(|e| anyhow!("{repo}'s {} cannot be read: {e}", drift::ANSWERS))?;
            let Some(name) = answers["template"].as_str().filter(|n| !n.is_empty()) else {
                bail!("{repo}'s {} names no `template`", drift::ANSWERS);
            };
            let from = drift::text(&answers["version"]);
            let templates = w["templates"].as_array().cloned().unwrap_or_default();
            let Some(t) = templates.iter().find(|t| t["template"]["name"] == name) else {
                let known: Vec<&str> = templates
                    .iter()
                    .filter_map(|t| t["template"]["name"].as_str())
                    .collect();
                bail!(
                    "{repo} was made from the template `{name}`, which is not one of the \
                     templates ({})",
                    known.join(", ")
                );
            };
            let to = drift::text(&t["template"]["version"]);
            match drift::compare(&from, &to) {
                std::cmp::Ordering::Equal => {
                    // Up to date by its answers; the catalog must say so too, or drift would
                    // list it for ever.
                    let said = w["context"]["entity"]["metadata"]["annotations"]
                        [drift::TEMPLATE_VERSION]
                        .as_str()
                        .unwrap_or_default();
                    if !said.is_empty() && drift::compare(said, &to) != std::cmp::Ordering::Equal {
                        bail!(
                            "nothing to update: {repo}'s {} is at {to}, the template's version, \
                             but the catalog still says {said}. If its update was just merged, \
                             the catalog catches up with the next push or scan; otherwise set \
                             {} to \"{to}\" in its catalog-info.yaml",
                            drift::ANSWERS,
                            drift::TEMPLATE_VERSION
                        );
                    }
                    return Ok(json!({"up_to_date": true, "template": name, "version": to}));
                }
                std::cmp::Ordering::Greater => {
                    bail!("{repo} is at version {from} of `{name}`, newer than the template's {to}")
                }
                std::cmp::Ordering::Less => {}
            }
            // The files as they would be made today, from the answers they were made with;
            // `steps.repository` is the repository being updated, as create-service names it.
            let mut context = w["context"].clone();
            context["params"] = drift::params_of(&answers["parameters"]);
            context["steps"] = json!({"repository": {"outputs": {
                "full_name": repo, "default_branch": base, "html_url": about["html_url"],
            }}});
            context["template"] = t["template"].clone();
            let rendered =
                crate::workflows::template::render_all(&t["files"], &context).map_err(|e| {
                    anyhow!("the template `{name}` cannot be rendered with {repo}'s answers: {e}")
                })?;
            let files = files(&json!({ "files": rendered }), self.name())?;
            let changes = drift::Template::of(&t["template"])
                .map(|t| t.changes_since(&from))
                .unwrap_or_default();
            let title = format!("Update from the {name} golden path: {from} to {to}");
            let mut body = format!(
                "The files the `{name}` template manages, rendered at version {to} from {} \
                 (the answers this repository was made with). Review what changed before \
                 merging.\n\nWhat changed since {from}:\n",
                drift::ANSWERS
            );
            for c in &changes {
                body.push_str(&format!("- {c}\n"));
            }
            body.push_str(&format!(
                "\nRequested through Switchboard run {}.",
                call.run_id
            ));
            let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
            let about = json!({
                "template": name, "from": from, "to": to, "files": paths, "changes": changes,
            });
            let with_about = |mut out: Value| {
                for (k, v) in about.as_object().into_iter().flatten() {
                    out[k] = v.clone();
                }
                out
            };
            // One pull request per repository and version: a second request (a double
            // click, a colleague) finds the first one open and points at it, committing
            // nothing.
            let branch = format!("switchboard/{name}-{to}");
            if let Some(pr) = self.0.open_pull(repo, &branch).await? {
                return Ok(with_about(json!({
                    "number": pr["number"], "html_url": pr["html_url"], "branch": branch,
                    "base": base, "adopted": true,
                })));
            }
            let spec = PullRequestSpec {
                repo,
                branch: &branch,
                base: Some(base),
                title: &title,
                body: &body,
            };
            let out = self
                .0
                .pull_request(call, &spec, Some((&title, files)))
                .await?;
            Ok(with_about(out))
        })
    }
}

impl Executor for Dispatch {
    fn name(&self) -> &'static str {
        "github.workflow_dispatch"
    }

    fn missing(&self, _with: &Value) -> Option<String> {
        self.0.missing()
    }

    /// `repository`, `workflow` (file name or id), `ref` (default: the default branch),
    /// `inputs`. The workflow must declare a `switchboard_run` input and put it in its
    /// `run-name`, so a dispatch is recognised when the step is tried again.
    fn run<'a>(&'a self, call: &'a Call<'a>) -> Sending<'a, Value> {
        Box::pin(async move {
            let w = call.with;
            let repo = repository(w, "repository", self.name())?;
            let workflow = text(w, "workflow", self.name())?;
            let token = run_token(call.run_id);
            let runs = format!(
                "/repos/{repo}/actions/workflows/{workflow}/runs?event=workflow_dispatch&per_page=100"
            );
            let find = || async {
                Ok::<_, anyhow::Error>(self.0.look(&runs).await?.and_then(|v| {
                    v["workflow_runs"].as_array().and_then(|a| {
                        a.iter()
                            .find(|r| {
                                r["display_title"]
                                    .as_str()
                                    .is_some_and(|t| carries(t, &token))
                            })
                            .cloned()
                    })
                }))
            };
            let adopted = |r: &Value| {
                json!({
                    "workflow_run_id": r["id"], "html_url": r["html_url"], "run_url": r["url"],
                    "adopted": true,
                })
            };
            if let Some(r) = find().await? {
                return Ok(adopted(&r));
            }
            let git_ref = match optional(w, "ref") {
                Some(r) => r.to_string(),
                None => self.0.default_branch(repo).await?,
            };
            let mut inputs: Map<String, Value> = w
                .get("inputs")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            inputs.insert("switchboard_run".into(), json!(token));
            let answer = match self
                .0
                .write(
                    Method::POST,
                    &format!("/repos/{repo}/actions/workflows/{workflow}/dispatches"),
                    &json!({"ref": git_ref, "inputs": inputs, "return_run_details": true}),
                )
                .await
            {
                Ok(a) => a,
                // Failed on the way: it may have started all the same.
                Err(e) => match find().await? {
                    Some(r) => return Ok(adopted(&r)),
                    None => bail!(
                        "{e:#}; no run of {workflow} carries {token}, so it was most likely not \
                         dispatched (check {repo}'s Actions before trying again)"
                    ),
                },
            };
            // A workflow whose run-name does not carry the token would be dispatched again by
            // a retry: said now, while the run is fresh.
            if let Some(id) = answer.get("workflow_run_id").and_then(Value::as_i64)
                && let Some(started) = self
                    .0
                    .look(&format!("/repos/{repo}/actions/runs/{id}"))
                    .await?
                && !started["display_title"]
                    .as_str()
                    .is_some_and(|t| carries(t, &token))
            {
                bail!(
                    "{workflow} was dispatched (run {id}), but its run-name does not carry the \
                     switchboard_run input, so a retry could not recognise it; add \
                     `run-name: \"… (${{{{ inputs.switchboard_run }}}})\"` to the workflow"
                );
            }
            Ok(json!({
                "workflow_run_id": answer.get("workflow_run_id"),
                "html_url": answer.get("html_url"),
                "run_url": answer.get("run_url"),
                "adopted": false,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_title_carries_the_token_as_a_whole_word() {
        assert!(carries(
            "Deploy 1.4.2 (switchboard-run-42)",
            "switchboard-run-42"
        ));
        assert!(!carries(
            "Deploy (switchboard-run-420)",
            "switchboard-run-42"
        ));
        assert!(!carries("Deploy", "switchboard-run-42"));
    }

    #[test]
    fn files_stay_inside_the_repository() {
        let ok = files(&json!({"files": {"a/b.txt": "x"}}), "t").unwrap();
        assert_eq!(ok, [("a/b.txt".to_string(), "x".to_string())]);
        let listed = files(&json!({"files": [{"path": "c.tf", "content": "y"}]}), "t").unwrap();
        assert_eq!(listed[0].0, "c.tf");
        for bad in ["../x", "/etc/passwd", "a//b", ""] {
            assert!(files(&json!({"files": {bad: "x"}}), "t").is_err(), "{bad}");
        }
        assert!(repository(&json!({"r": "acme/x"}), "r", "t").is_ok());
        assert!(repository(&json!({"r": "acme/x/y"}), "r", "t").is_err());
    }
}
