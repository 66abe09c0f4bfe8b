//! An existing Backstage's catalog as a source: `GET /api/catalog/entities/by-query`, page by
//! page with its cursor, with a bearer token. A company that already runs Backstage gets its
//! catalog in chat without moving anything.
//!
//! A read that fails part-way (an error status, a timeout, a malformed page) returns an error
//! and nothing is stored: a failed fetch never deletes what an earlier sync saw.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

use crate::catalog::model::{Provenance, RawEntity, identity};
use crate::catalog::refs::EntityRef;
use crate::catalog::validate::{Origin, validate};

/// Where the Backstage instance is and how to read it.
#[derive(Clone)]
pub struct BackstageSource {
    /// Base URL, e.g. `https://backstage.example.com` (without `/api`).
    pub base_url: String,
    /// Bearer token (`BACKSTAGE_TOKEN`), if the instance needs one.
    pub token: Option<String>,
    /// Entities per page.
    pub page_size: usize,
}

#[derive(Deserialize)]
struct Page {
    items: Vec<Value>,
    #[serde(rename = "pageInfo", default)]
    page_info: PageInfo,
}

#[derive(Deserialize, Default)]
struct PageInfo {
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
}

/// Backstage's own record of where an entity came from, kept as the entity's location.
const ORIGIN_ANNOTATIONS: &[&str] = &[
    "backstage.io/managed-by-origin-location",
    "backstage.io/managed-by-location",
];

impl BackstageSource {
    /// Reads the whole catalog. `progress` gets the number of entities read so far.
    pub async fn fetch(
        &self,
        fetched_at: i64,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<Vec<RawEntity>> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the Backstage client")?;
        let url = format!(
            "{}/api/catalog/entities/by-query",
            self.base_url.trim_end_matches('/')
        );
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0usize;
        loop {
            let mut req = client
                .get(&url)
                .query(&[("limit", self.page_size.to_string())]);
            if let Some(c) = &cursor {
                req = req.query(&[("cursor", c)]);
            }
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("reading {url} (page {})", pages + 1))?;
            let status = resp.status();
            if !status.is_success() {
                let body = resp.text().await.unwrap_or_default();
                bail!(
                    "Backstage answered {status} on page {} of {url}: {}",
                    pages + 1,
                    body.chars().take(200).collect::<String>()
                );
            }
            let page: Page = resp
                .json()
                .await
                .with_context(|| format!("page {} of {url} is not a catalog page", pages + 1))?;
            pages += 1;
            out.extend(
                page.items
                    .into_iter()
                    .filter_map(|v| self.to_raw(v, fetched_at)),
            );
            progress(out.len());
            match page.page_info.next_cursor {
                Some(c) if !c.is_empty() && cursor.as_deref() != Some(&c) => cursor = Some(c),
                _ => break,
            }
        }
        Ok(out)
    }

    /// One Backstage entity as a raw entity, validated as Backstage's processed output.
    fn to_raw(&self, body: Value, fetched_at: i64) -> Option<RawEntity> {
        let (kind, namespace, name) = identity(&body).ok()?;
        let annotations = body.get("metadata").and_then(|m| m.get("annotations"));
        let location = ORIGIN_ANNOTATIONS
            .iter()
            .find_map(|a| annotations.and_then(|x| x.get(*a)).and_then(Value::as_str))
            .map(|l| l.trim_start_matches("url:").to_string())
            .unwrap_or_else(|| {
                format!(
                    "{}/catalog/{}/{}/{}",
                    self.base_url.trim_end_matches('/'),
                    namespace.to_lowercase(),
                    kind.to_lowercase(),
                    name
                )
            });
        let reasons = validate(&body, Origin::Backstage)
            .into_iter()
            .map(|i| i.describe())
            .collect();
        Some(RawEntity {
            key: EntityRef::new(&kind, &namespace, &name).key(),
            body,
            provenance: Provenance {
                source: "backstage".into(),
                location,
                line: 0,
                commit: None,
                fetched_at,
                orphaned_at: None,
            },
            reasons,
            claims: Vec::new(),
            seq: 0,
        })
    }
}
