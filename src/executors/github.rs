//! The GitHub executors of golden paths: `github.repository_from_template`,
//! `github.commit_files` (files onto a branch with the Git data API: ref, blobs, tree, commit,
//! ref update), `github.pull_request` (branch, commit, then the pull request) and
//! `github.workflow_dispatch`. They go through the client the GitHub source uses (its
//! credentials and rate budget).
//!
//! Each looks before acting, so a step tried again after a crash adopts what an earlier attempt
//! did instead of doing it twice: the repository already generated from this template; the
//! branch already holding this run's commit (commits carry a `Switchboard-Run: N` trailer); an
//! open pull request for the branch; a workflow run whose `run-name` carries this run's token
//! (`switchboard-run-N`, sent as the `switchboard_run` input). Outputs say `adopted: true` when
//! they were found rather than made.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use http::Method;
use serde_json::{Map, Value, json};

use crate::github::{Answer, Api};
use crate::outbox::Sending;
use crate::workflows::executor::{Call, Executor};

/// The four executors over one client (None: GitHub is not configured, and steps that use
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

    /// The four executors.
    pub fn executors(&self) -> Vec<Arc<dyn Executor>> {
        vec![
            Arc::new(FromTemplate(self.clone())),
            Arc::new(CommitFiles(self.clone())),
            Arc::new(PullRequest(self.clone())),
            Arc::new(Dispatch(self.clone())),
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

    /// The repository's default branch.
    async fn default_branch(&self, repo: &str) -> Result<String> {
        let r = self
            .look(&format!("/repos/{repo}"))
            .await?
            .with_context(|| format!("there is no repository {repo} (or the bot cannot see it)"))?;
        Ok(r["default_branch"].as_str().unwrap_or("main").to_string())
    }

    /// The commit a branch points at, or None when there is no such branch.
    async fn branch_head(&self, repo: &str, branch: &str) -> Result<Option<String>> {
        Ok(self
            .look(&format!("/repos/{repo}/git/ref/heads/{branch}"))
            .await?
            .and_then(|r| r["object"]["sha"].as_str().map(str::to_string)))
    }

    /// Commits `files` onto `branch` (made from `base` when missing), unless the branch already
    /// holds this run's commit. Returns the commit's sha and web address, and whether it was
    /// adopted.
    async fn commit(
        &self,
        run_id: i64,
        repo: &str,
        branch: &str,
        base: Option<&str>,
        message: &str,
        files: &[(String, String)],
    ) -> Result<(String, String, bool)> {
        let marker = format!("Switchboard-Run: {run_id}");
        let read_commit = |sha: String| async move {
            self.look(&format!("/repos/{repo}/git/commits/{sha}"))
                .await?
                .with_context(|| format!("commit {sha} of {repo} cannot be read"))
        };
        let existing = self.branch_head(repo, branch).await?;
        let (parent, parent_commit) = match &existing {
            Some(head) => {
                let c = read_commit(head.clone()).await?;
                if c["message"].as_str().is_some_and(|m| m.contains(&marker)) {
                    let url = c["html_url"].as_str().unwrap_or_default().to_string();
                    return Ok((head.clone(), url, true));
                }
                (head.clone(), c)
            }
            None => {
                let base = match base {
                    Some(b) => b.to_string(),
                    None => self.default_branch(repo).await?,
                };
                let head = self.wait_for_branch(repo, &base).await?;
                (head.clone(), read_commit(head).await?)
            }
        };
        let base_tree = parent_commit["tree"]["sha"]
            .as_str()
            .context("GitHub's commit has no tree")?
            .to_string();
        let mut tree = Vec::new();
        for (path, content) in files {
            let blob = self
                .write(
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
            .write(
                Method::POST,
                &format!("/repos/{repo}/git/trees"),
                &json!({"base_tree": base_tree, "tree": tree}),
            )
            .await?;
        let tree_sha = tree["sha"].as_str().context("GitHub's tree has no sha")?;
        let commit = self
            .write(
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
            self.write(
                Method::PATCH,
                &format!("/repos/{repo}/git/refs/heads/{branch}"),
                &json!({"sha": sha, "force": false}),
            )
            .await?;
        } else {
            self.write(
                Method::POST,
                &format!("/repos/{repo}/git/refs"),
                &json!({"ref": format!("refs/heads/{branch}"), "sha": sha}),
            )
            .await?;
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
            if let Some(existing) = self.0.look(&format!("/repos/{full}")).await? {
                let from = existing["template_repository"]["full_name"].as_str();
                if from.is_some_and(|f| f.eq_ignore_ascii_case(template)) {
                    return Ok(outputs(&existing, true));
                }
                bail!(
                    "a repository {full} already exists{}; choose another name",
                    match from {
                        Some(f) => format!(" (made from {f}, not {template})"),
                        None => " (not made from the template)".into(),
                    }
                );
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
                .await?;
            Ok(outputs(&made, false))
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
                .commit(
                    call.run_id,
                    repo,
                    branch,
                    optional(w, "base"),
                    message,
                    &files,
                )
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
            let base = match optional(w, "base") {
                Some(b) => b.to_string(),
                None => self.0.default_branch(repo).await?,
            };
            let mut sha = None;
            if w.get("files").is_some() {
                let message = optional(w, "message").unwrap_or(title);
                let files = files(w, self.name())?;
                let (s, _, _) = self
                    .0
                    .commit(call.run_id, repo, branch, Some(&base), message, &files)
                    .await?;
                sha = Some(s);
            }
            let owner = repo.split('/').next().unwrap_or_default();
            let open = format!("/repos/{repo}/pulls?head={owner}:{branch}&state=open");
            let outputs = |pr: &Value, adopted: bool| {
                json!({
                    "number": pr["number"], "html_url": pr["html_url"], "branch": branch,
                    "base": base, "sha": sha, "adopted": adopted,
                })
            };
            let first_open = |list: Option<Value>| {
                list.and_then(|l| l.as_array().and_then(|a| a.first().cloned()))
            };
            if let Some(pr) = first_open(self.0.look(&open).await?) {
                return Ok(outputs(&pr, true));
            }
            let body = json!({
                "title": title, "head": branch, "base": base,
                "body": optional(w, "body").unwrap_or(""),
            });
            let made = self
                .0
                .send(Method::POST, &format!("/repos/{repo}/pulls"), Some(&body))
                .await?;
            if made.ok() {
                return Ok(outputs(&made.json()?, false));
            }
            // Opened meanwhile (GitHub: "A pull request already exists"): adopt it.
            if made.status == 422
                && let Some(pr) = first_open(self.0.look(&open).await?)
            {
                return Ok(outputs(&pr, true));
            }
            bail!(
                "GitHub answered {} to opening the pull request: {}",
                made.status,
                made.message()
            )
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
            let earlier = self.0.look(&runs).await?.and_then(|v| {
                v["workflow_runs"].as_array().and_then(|a| {
                    a.iter()
                        .find(|r| {
                            r["display_title"]
                                .as_str()
                                .is_some_and(|t| carries(t, &token))
                        })
                        .cloned()
                })
            });
            if let Some(r) = earlier {
                return Ok(json!({
                    "workflow_run_id": r["id"], "html_url": r["html_url"], "run_url": r["url"],
                    "adopted": true,
                }));
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
            let answer = self
                .0
                .write(
                    Method::POST,
                    &format!("/repos/{repo}/actions/workflows/{workflow}/dispatches"),
                    &json!({"ref": git_ref, "inputs": inputs, "return_run_details": true}),
                )
                .await?;
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
