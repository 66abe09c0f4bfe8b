//! PagerDuty as the live on-call source: for entities annotated `pagerduty.com/service-id`
//! (service → escalation policy) and Groups annotated `pagerduty.com/escalation-policy-id` or
//! `pagerduty.com/schedule-id`, who is on call now and over the coming window, with PagerDuty
//! users mapped to catalog Users by e-mail.
//!
//! Rosters are fetched in the background and cached for `ttl_secs`; answers read the cache and
//! never wait on PagerDuty. When PagerDuty cannot be reached (a timeout, an error, a garbage
//! answer, a 429), the last known roster stays, and answers say how old it is. Static rotations
//! stay as the fallback for everything PagerDuty does not cover.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::catalog::Snapshot;
use crate::config::PagerDutyConfig;

pub use crate::oncall::pagerduty::{ANNOTATIONS, Cached, OnCallEntry, Roster, Rosters, target_of};

pub struct PagerDuty {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
    config: PagerDutyConfig,
    cache: Mutex<Rosters>,
    requests: AtomicU64,
}

#[derive(Deserialize)]
struct Ref {
    id: String,
    #[serde(default)]
    summary: String,
}

#[derive(Deserialize)]
struct Service {
    escalation_policy: Ref,
    #[serde(default)]
    teams: Vec<Ref>,
}

#[derive(Deserialize)]
struct OnCallsPage {
    oncalls: Vec<OnCall>,
    #[serde(default)]
    more: bool,
}

#[derive(Deserialize)]
struct OnCall {
    user: User,
    escalation_policy: Ref,
    escalation_level: u32,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

impl PagerDuty {
    /// With the token from PAGERDUTY_TOKEN (`token` None: no Authorization header).
    pub fn new(config: &PagerDutyConfig, token: Option<String>) -> Result<PagerDuty> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .build()
            .context("building the PagerDuty client")?;
        Ok(PagerDuty {
            client,
            base: config.api_url.trim_end_matches('/').to_string(),
            token,
            config: config.clone(),
            cache: Mutex::new(Rosters::new()),
            requests: AtomicU64::new(0),
        })
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let mut req = self
            .client
            .get(format!("{}{path}", self.base))
            .query(query)
            .header("accept", "application/vnd.pagerduty+json;version=2");
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Token token={t}"));
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                anyhow!(
                    "PagerDuty did not answer within {} s",
                    self.config.timeout_secs
                )
            } else {
                anyhow!("PagerDuty cannot be reached: {e}")
            }
        })?;
        let status = resp.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let reset = resp
                .headers()
                .get("ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?")
                .to_string();
            bail!("PagerDuty rate limit reached (retry in {reset} s)");
        }
        let body = resp.bytes().await.context("reading PagerDuty's answer")?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_string))
                .unwrap_or_default();
            bail!(
                "PagerDuty answered {} for {path}: {message}",
                status.as_u16()
            );
        }
        serde_json::from_slice(&body).map_err(|e| {
            anyhow!("PagerDuty's answer for {path} is not what its API documents: {e}")
        })
    }

    /// Fetches one target's roster from now over the configured window.
    pub async fn fetch(&self, target: &str, now: DateTime<Utc>) -> Result<Roster> {
        let (kind, id) = target
            .split_once(':')
            .ok_or_else(|| anyhow!("not a PagerDuty target: {target}"))?;
        let mut teams = Vec::new();
        let (filter, filter_id) = match kind {
            "service" => {
                #[derive(Deserialize)]
                struct One {
                    service: Service,
                }
                let s: One = self.get(&format!("/services/{id}"), &[]).await?;
                teams = s.service.teams.into_iter().map(|t| t.summary).collect();
                ("escalation_policy_ids[]", s.service.escalation_policy.id)
            }
            "escalation_policy" => ("escalation_policy_ids[]", id.to_string()),
            "schedule" => ("schedule_ids[]", id.to_string()),
            other => bail!("unknown PagerDuty target kind {other}"),
        };
        let until = now + chrono::Duration::hours(self.config.window_hours as i64);
        let mut entries = Vec::new();
        let mut offset = 0;
        loop {
            let page: OnCallsPage = self
                .get(
                    "/oncalls",
                    &[
                        (filter, filter_id.clone()),
                        ("since", now.to_rfc3339()),
                        ("until", until.to_rfc3339()),
                        ("include[]", "users".into()),
                        ("limit", "100".into()),
                        ("offset", offset.to_string()),
                    ],
                )
                .await?;
            offset += page.oncalls.len();
            let more = page.more && !page.oncalls.is_empty();
            entries.extend(page.oncalls.into_iter().map(|o| OnCallEntry {
                name: o.user.name.unwrap_or(o.user.summary),
                email: o.user.email,
                level: o.escalation_level,
                policy: o.escalation_policy.summary,
                start: o.start,
                end: o.end,
            }));
            if !more {
                break;
            }
        }
        Ok(Roster {
            entries,
            teams,
            fetched_at: now.timestamp(),
        })
    }

    /// Starts from `rosters` (as another replica kept them): what is fresh there is not
    /// fetched again.
    pub fn seed(&self, rosters: Rosters) {
        *self.cache.lock().expect("cache lock") = rosters;
    }

    /// Refreshes every target the catalog names whose roster is older than the TTL, and
    /// returns all rosters. A failure keeps the last roster with the error beside it; a rate
    /// limit stops this round (the rest keep theirs).
    pub async fn refresh(&self, snap: &Snapshot, now: DateTime<Utc>) -> Rosters {
        let mut targets: Vec<String> = snap.entities().filter_map(|(_, e)| target_of(e)).collect();
        targets.sort();
        targets.dedup();
        let mut cache = self.cache.lock().expect("cache lock").clone();
        cache.retain(|t, _| targets.contains(t));
        let ttl = self.config.ttl_secs as i64;
        // Once PagerDuty says "too many requests", the rest wait for the next round.
        let mut limited: Option<String> = None;
        for t in targets {
            let entry = cache.entry(t.clone()).or_default();
            let fresh = entry
                .roster
                .as_ref()
                .is_some_and(|r| now.timestamp() - r.fetched_at < ttl);
            if fresh && entry.error.is_none() {
                continue;
            }
            if let Some(msg) = &limited {
                entry.error = Some((now.timestamp(), msg.clone()));
                continue;
            }
            match self.fetch(&t, now).await {
                Ok(r) => {
                    entry.roster = Some(r);
                    entry.error = None;
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    tracing::warn!(target = %t, "PagerDuty roster not refreshed: {msg}");
                    if msg.contains("rate limit") {
                        limited = Some(msg.clone());
                    }
                    entry.error = Some((now.timestamp(), msg));
                }
            }
        }
        *self.cache.lock().expect("cache lock") = cache.clone();
        cache
    }
}
