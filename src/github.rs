//! GitHub's API through octocrab, as the GitHub source (reading catalogs) and the GitHub
//! executors (golden paths) share it: one client per set of credentials (a token, or a GitHub
//! App installation whose tokens octocrab mints and renews), one rate budget (the limit headers
//! are read on every response; requests slow down before the limit and wait out 429s and
//! secondary limits, `Retry-After`), server errors and timeouts retried within bounds, and
//! conditional GETs (an unchanged answer is a 304, which GitHub does not count) answered from
//! the store's cache.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;
use http_body_util::BodyExt;
use octocrab::Octocrab;

use crate::config::GithubCatalog;
use crate::store::Store;

/// How the bot authenticates.
pub enum Auth {
    /// A personal or fine-grained token (`GITHUB_TOKEN`).
    Token(String),
    /// A GitHub App installation; installation tokens are minted and renewed by octocrab.
    App {
        app_id: u64,
        installation_id: u64,
        private_key_pem: String,
    },
    /// No credentials (public repositories, tests).
    None,
}

impl Auth {
    /// From the environment: GITHUB_APP_PRIVATE_KEY with the configured app, else GITHUB_TOKEN.
    pub fn from_env(config: &GithubCatalog) -> Result<Auth> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if config.app_id != 0 {
            let key = var("GITHUB_APP_PRIVATE_KEY").ok_or_else(|| {
                anyhow!("catalog.github.app_id is set but GITHUB_APP_PRIVATE_KEY is not")
            })?;
            if config.installation_id == 0 {
                bail!("catalog.github.app_id is set but catalog.github.installation_id is not");
            }
            return Ok(Auth::App {
                app_id: config.app_id,
                installation_id: config.installation_id,
                private_key_pem: key,
            });
        }
        match var("GITHUB_TOKEN") {
            Some(t) => Ok(Auth::Token(t)),
            None => bail!(
                "there are no GitHub credentials: set GITHUB_TOKEN, or GITHUB_APP_PRIVATE_KEY \
                 with catalog.github.app_id and installation_id"
            ),
        }
    }
}

/// What GitHub answered: its status, body, and whether a next page exists according to the
/// `Link` header (None when there was none). A 304 is answered with the cached body, as 200.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub next: Option<bool>,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON (`null` when empty, as a 204's).
    pub fn json(&self) -> Result<serde_json::Value> {
        if self.body.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&self.body).context("GitHub's answer is not JSON")
    }

    /// GitHub's `message`, with the first of its `errors`' messages.
    pub fn message(&self) -> String {
        let v: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        let main = v["message"].as_str().unwrap_or_default();
        match v["errors"][0]["message"].as_str() {
            Some(detail) => format!("{main}: {detail}"),
            None => main.to_string(),
        }
    }
}

#[derive(Default)]
struct Rate {
    remaining: Option<u64>,
    limit: Option<u64>,
    reset: Option<i64>,
}

/// GitHub counts REST requests and GraphQL queries in budgets of their own.
#[derive(Default)]
struct Rates {
    rest: Rate,
    graphql: Rate,
}

impl Rates {
    fn of(&mut self, graphql: bool) -> &mut Rate {
        if graphql {
            &mut self.graphql
        } else {
            &mut self.rest
        }
    }

    /// Which budget speaks for a request drawing on GraphQL's (`graphql`) or REST's: its own
    /// once GitHub has said anything of it, else the other (no better is assumed of a budget
    /// not yet seen).
    fn speaking(&self, graphql: bool) -> bool {
        let own = if graphql { &self.graphql } else { &self.rest };
        if own.remaining.is_some() {
            graphql
        } else {
            !graphql
        }
    }

    /// The budget that speaks for a request drawing on `graphql`'s or REST's.
    fn known(&mut self, graphql: bool) -> &mut Rate {
        let budget = self.speaking(graphql);
        self.of(budget)
    }
}

/// GitHub's API with one set of credentials and its rate budgets.
pub struct Api {
    crab: Octocrab,
    /// The same credentials at the GraphQL endpoint's base, where it differs from the REST
    /// API's (GitHub Enterprise Server).
    graphql: Option<Octocrab>,
    store: Store,
    max_retries: u32,
    max_wait_secs: u64,
    reserve: u64,
    requests: AtomicU64,
    rates: Mutex<Rates>,
}

impl Api {
    pub fn new(config: &GithubCatalog, auth: &Auth, store: Store) -> Result<Api> {
        let timeout = Some(Duration::from_secs(config.timeout_secs.max(1)));
        let client = |base: &str| -> Result<Octocrab> {
            let builder = Octocrab::builder()
                .base_uri(base)
                .with_context(|| format!("catalog.github.api_url {:?}", config.api_url))?
                .set_connect_timeout(timeout)
                .set_read_timeout(timeout);
            Ok(match auth {
                Auth::Token(t) => builder.personal_token(t.clone()).build()?,
                Auth::App {
                    app_id,
                    installation_id,
                    private_key_pem,
                } => {
                    let key = octocrab::EncodingKey::from_rsa_pem(private_key_pem.as_bytes())
                        .context("GITHUB_APP_PRIVATE_KEY is not an RSA private key in PEM form")?;
                    builder
                        .app((*app_id).into(), key)
                        .build()?
                        .installation((*installation_id).into())?
                }
                Auth::None => builder.build()?,
            })
        };
        let crab = client(&config.api_url)?;
        let gql_base = graphql_base(&config.api_url);
        // One client where the endpoints share a base, so an installation token is minted once.
        let graphql = if gql_base == config.api_url.trim_end_matches('/') {
            None
        } else {
            Some(client(&gql_base)?)
        };
        Ok(Api {
            crab,
            graphql,
            store,
            max_retries: config.max_retries,
            max_wait_secs: config.max_wait_secs,
            reserve: config.reserve,
            requests: AtomicU64::new(0),
            rates: Mutex::new(Rates::default()),
        })
    }

    /// API requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Whether REST requests that can wait for the next hour (dependency graphs) may be made
    /// now: more than a fifth of the hour's REST budget is left (the rest is kept for pushes,
    /// scans and workflows), or what is left is not known (no request yet, or the hour has
    /// turned since the last). GraphQL's budget, which a scan spends last, is its own.
    pub fn spare(&self) -> bool {
        let mut rates = self.rates.lock().expect("rate lock");
        let rate = rates.known(false);
        if rate.reset.is_some_and(|r| r <= Utc::now().timestamp()) {
            return true;
        }
        match rate.remaining {
            Some(left) => left > (rate.limit.unwrap_or(0) / 5).max(self.reserve),
            None => true,
        }
    }

    /// When the hour of the REST budget last seen ends (epoch seconds), if known.
    pub fn budget_reset(&self) -> Option<i64> {
        self.rates.lock().expect("rate lock").known(false).reset
    }

    /// Waits for the rate limit to reset when the budget a request draws on (`graphql`'s or
    /// REST's) is nearly spent.
    async fn pace(&self, graphql: bool) -> Result<()> {
        // The budget that speaks for this request: its own, or the other standing in for it.
        let (wait, budget) = {
            let mut rates = self.rates.lock().expect("rate lock");
            let budget = rates.speaking(graphql);
            let rate = rates.of(budget);
            match (rate.remaining, rate.reset) {
                (Some(left), Some(reset)) if left <= self.reserve => {
                    ((reset - Utc::now().timestamp()).max(0) as u64, budget)
                }
                _ => (0, budget),
            }
        };
        let name = |graphql: bool| if graphql { "GraphQL" } else { "REST" };
        if wait > self.max_wait_secs {
            let standing_in = if budget == graphql {
                String::new()
            } else {
                format!(", standing in for {}'s, not yet seen", name(graphql))
            };
            bail!(
                "GitHub's rate budget is spent ({}'s{standing_in}) until {}s from now, longer \
                 than catalog.github.max_wait_secs",
                name(budget),
                wait
            );
        }
        if wait > 0 {
            tracing::warn!(
                wait_secs = wait,
                budget = name(budget),
                "GitHub rate budget low; waiting for the reset"
            );
            tokio::time::sleep(Duration::from_secs(wait)).await;
            self.rates.lock().expect("rate lock").of(budget).remaining = None;
        }
        Ok(())
    }

    /// GETs a REST path; with `conditional`, sends the ETag of the last 200 and takes a 304 as
    /// that answer again.
    pub async fn get(&self, path: &str, conditional: bool) -> Result<Answer> {
        self.request(http::Method::GET, path, None, conditional)
            .await
    }

    /// POSTs a GraphQL query.
    pub async fn graphql(&self, body: &serde_json::Value) -> Result<Answer> {
        self.request(http::Method::POST, "/graphql", Some(body), false)
            .await
    }

    /// Sends one request (a REST method and path, or `POST /graphql`). Rate refusals and, for
    /// reads (GETs and GraphQL queries), server errors and failed connections are retried within
    /// `catalog.github.max_retries` and `max_wait_secs`, then are an error. A write that failed
    /// on the way is not sent again here: it may have been done, and only its caller can look.
    /// Every other answer (a 404, a 422) is returned for the caller to read.
    pub async fn request(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        conditional: bool,
    ) -> Result<Answer> {
        let cached = if conditional {
            self.store.cached_response(path).await?
        } else {
            None
        };
        let read = method == http::Method::GET || path == "/graphql";
        if !read && ![http::Method::POST, http::Method::PATCH, http::Method::PUT].contains(&method)
        {
            bail!("GitHub requests are GET, POST, PATCH or PUT, not {method}");
        }
        let graphql = path == "/graphql";
        let mut attempt = 0;
        loop {
            self.pace(graphql).await?;
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::ACCEPT,
                http::HeaderValue::from_static("application/vnd.github+json"),
            );
            headers.insert(
                "x-github-api-version",
                http::HeaderValue::from_static("2022-11-28"),
            );
            if let Some(v) = cached
                .as_ref()
                .and_then(|(etag, _)| http::HeaderValue::from_str(etag).ok())
            {
                headers.insert(http::header::IF_NONE_MATCH, v);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let sent = if graphql {
                let gql = self.graphql.as_ref().unwrap_or(&self.crab);
                gql._post(path, body).await
            } else if method == http::Method::GET {
                self.crab._get_with_headers(path, Some(headers)).await
            } else if method == http::Method::PATCH {
                self.crab._patch(path, body).await
            } else if method == http::Method::PUT {
                self.crab._put(path, body).await
            } else {
                self.crab._post(path, body).await
            };
            let resp = match sent {
                Ok(r) => r,
                Err(e) if read && attempt < self.max_retries => {
                    attempt += 1;
                    tracing::warn!(path, "GitHub request failed ({e}); retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(e) => return Err(anyhow!("GitHub request {method} {path} failed: {e}")),
            };
            let status = resp.status();
            let h = resp.headers();
            let header = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
            let remaining = header("x-ratelimit-remaining").and_then(|v| v.parse::<u64>().ok());
            let limit = header("x-ratelimit-limit").and_then(|v| v.parse::<u64>().ok());
            let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok());
            {
                let mut rates = self.rates.lock().expect("rate lock");
                let rate = rates.of(graphql);
                if remaining.is_some() {
                    rate.remaining = remaining;
                    rate.limit = limit;
                    rate.reset = reset;
                }
            }
            let next = header("link").map(|l| l.contains("rel=\"next\""));
            let etag = header("etag");
            let retry_after = header("retry-after").and_then(|v| v.parse::<u64>().ok());
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| anyhow!("reading GitHub's answer for {path}: {e}"))?
                .to_bytes();
            let limited = status == http::StatusCode::TOO_MANY_REQUESTS
                || (status == http::StatusCode::FORBIDDEN
                    && (retry_after.is_some() || remaining == Some(0)));
            if status == http::StatusCode::NOT_MODIFIED {
                if let Some((_, body)) = cached {
                    return Ok(Answer {
                        status: 200,
                        body,
                        next,
                    });
                }
                bail!("GitHub answered 304 for {path} without a cached copy");
            }
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| anyhow!("GitHub's answer for {path} is not UTF-8"))?;
            if status.is_success()
                && let Some(etag) = etag.filter(|_| conditional)
            {
                self.store
                    .cache_response(path, &etag, &text, Utc::now().timestamp())
                    .await?;
            }
            let answer = Answer {
                status: status.as_u16(),
                body: text,
                next,
            };
            if limited || (read && status.is_server_error()) {
                let wait = if limited {
                    retry_after.unwrap_or_else(|| match reset {
                        Some(r) => (r - Utc::now().timestamp()).max(1) as u64,
                        None => 60,
                    })
                } else {
                    backoff(attempt + 1).as_secs()
                };
                if attempt < self.max_retries && wait <= self.max_wait_secs {
                    attempt += 1;
                    tracing::warn!(path, %status, wait_secs = wait, "GitHub refused; waiting");
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                    continue;
                }
                let why = if limited {
                    "rate limited"
                } else {
                    "server error"
                };
                bail!(
                    "GitHub {why} ({status}) on {path} after {attempt} retries: {message}",
                    status = status.as_u16(),
                    message = answer.message()
                );
            }
            return Ok(answer);
        }
    }
}

/// Where `POST /graphql` goes: beside the REST API on github.com (`https://api.github.com`),
/// at `/api/graphql` on GitHub Enterprise Server (whose REST API is `/api/v3`).
fn graphql_base(api_url: &str) -> String {
    let trimmed = api_url.trim_end_matches('/');
    match trimmed.strip_suffix("/v3") {
        Some(api) => api.to_string(),
        None => trimmed.to_string(),
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1 << attempt.min(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_sits_beside_the_rest_api() {
        assert_eq!(
            graphql_base("https://api.github.com"),
            "https://api.github.com"
        );
        assert_eq!(
            graphql_base("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com/api"
        );
    }
}
