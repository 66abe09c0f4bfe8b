//! SBOMs: the packages each SBOM file lists, kept per source so a sync replaces what it read
//! before. Read back into memory (names interned) for `who uses`.

use std::collections::HashSet;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use sqlx::Row;

use super::Store;
use crate::compliance::sbom::{Names, Package, Sbom};
use crate::compliance::version::Scheme;

/// One SBOM file as kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSbom {
    /// The file (a local path), or what GitHub gave it as.
    pub location: String,
    /// `local`, `github`.
    pub source: String,
    /// Where the entities it belongs to live: a catalog file's directory, or a repository.
    pub scope: String,
    pub sbom: Sbom,
    pub read_at: i64,
}

/// Which of a source's SBOMs a replacement keeps as they were, by location and scope.
pub type Keep<'a> = dyn Fn(&str, &str) -> bool + Sync + 'a;

impl Store {
    /// Replaces every SBOM of `source` with these, in one transaction, except those `keep`
    /// keeps as they were (by location and scope): what could not be read this time.
    pub async fn replace_sboms(
        &self,
        source: &str,
        sboms: &[StoredSbom],
        keep: &Keep<'_>,
    ) -> Result<()> {
        self.write_sboms(Some((source, keep)), sboms).await
    }

    /// Keeps one SBOM, in place of what its location held.
    pub async fn put_sbom(&self, sbom: &StoredSbom) -> Result<()> {
        self.write_sboms(None, std::slice::from_ref(sbom)).await
    }

    /// Where `source`'s SBOMs are kept (those that list nothing included).
    pub async fn sbom_locations(&self, source: &str) -> Result<HashSet<String>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT location FROM sboms WHERE source = $1")
            .bind(source)
            .fetch_all(&self.pool)
            .await
            .context("listing the SBOMs kept")?;
        Ok(rows.into_iter().map(|(l,)| l).collect())
    }

    /// Whether an SBOM is kept at `location` (one that lists nothing included).
    pub async fn sbom_kept(&self, location: &str) -> Result<bool> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT location FROM sboms WHERE location = $1")
                .bind(location)
                .fetch_optional(&self.pool)
                .await
                .context("looking for a kept SBOM")?;
        Ok(row.is_some())
    }

    /// Forgets the SBOM at `location` (a repository that no longer has one).
    pub async fn forget_sbom(&self, location: &str) -> Result<()> {
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM sboms WHERE location = $1")
            .bind(location)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await.context("forgetting an SBOM")
    }

    /// Writes `sboms` over their locations, after forgetting those of `source` that are not
    /// kept, when given.
    async fn write_sboms(
        &self,
        source: Option<(&str, &Keep<'_>)>,
        sboms: &[StoredSbom],
    ) -> Result<()> {
        let mut w = self.write().await?;
        if let Some((source, keep)) = source {
            let held: Vec<(String, String)> =
                sqlx::query_as("SELECT location, scope FROM sboms WHERE source = $1")
                    .bind(source)
                    .fetch_all(&mut *w.tx)
                    .await?;
            for (location, _) in held.iter().filter(|(l, s)| !keep(l, s)) {
                sqlx::query("DELETE FROM sboms WHERE location = $1")
                    .bind(location)
                    .execute(&mut *w.tx)
                    .await?;
            }
        }
        for s in sboms {
            sqlx::query("DELETE FROM sboms WHERE location = $1")
                .bind(&s.location)
                .execute(&mut *w.tx)
                .await?;
            let packages: Vec<Value> = s
                .sbom
                .packages
                .iter()
                .map(|p| json!([p.namespace.as_deref(), &*p.name, p.version, p.purl]))
                .collect();
            sqlx::query(
                "INSERT INTO sboms (location, source, scope, format, packages, read_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&s.location)
            .bind(&s.source)
            .bind(&s.scope)
            .bind(&s.sbom.format)
            .bind(Value::Array(packages).to_string())
            .bind(s.read_at)
            .execute(&mut *w.tx)
            .await?;
        }
        w.commit().await.context("keeping the SBOMs read")
    }

    /// Every SBOM kept, its package names interned in `names`.
    pub async fn load_sboms(&self, names: &mut Names) -> Result<Vec<StoredSbom>> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(
            "SELECT location, source, scope, format, packages, read_at FROM sboms \
             ORDER BY location",
        )
        .fetch(&self.pool);
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await.context("reading the SBOMs")? {
            out.push(kept(&r, names)?);
        }
        Ok(out)
    }

    /// The SBOMs kept for `scopes` (`github:owner/repo`), in order of location.
    pub async fn sboms_in(&self, scopes: &[String], names: &mut Names) -> Result<Vec<StoredSbom>> {
        let mut out = Vec::new();
        for scope in scopes {
            let rows = sqlx::query(
                "SELECT location, source, scope, format, packages, read_at FROM sboms \
                 WHERE scope = $1",
            )
            .bind(scope)
            .fetch_all(&self.pool)
            .await
            .context("reading the SBOMs")?;
            for r in &rows {
                out.push(kept(r, names)?);
            }
        }
        out.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(out)
    }
}

/// An SBOM as a row keeps it.
fn kept(r: &sqlx::any::AnyRow, names: &mut Names) -> Result<StoredSbom> {
    let listed: Vec<(Option<String>, String, String, Option<String>)> =
        serde_json::from_str(&r.get::<String, _>(4)).context("an SBOM's packages as kept")?;
    let packages = listed
        .into_iter()
        .map(|(namespace, name, version, purl)| Package {
            name: names.intern(&name),
            namespace: namespace.map(|n| names.intern(&n)),
            version,
            scheme: purl.as_deref().map_or(Scheme::Generic, Scheme::of_purl),
            purl,
        })
        .collect();
    Ok(StoredSbom {
        location: r.get(0),
        source: r.get(1),
        scope: r.get(2),
        sbom: Sbom {
            format: r.get(3),
            packages,
        },
        read_at: r.get(5),
    })
}
