//! A fresh PostgreSQL database for a bench figure, dropped when done.

use sqlx::Connection;

/// A database created on the server at `base` (a URL ending in a database name).
pub struct FreshDb {
    base: String,
    pub name: String,
    pub url: String,
}

impl FreshDb {
    /// Creates `sb_bench_{tag}_{pid}`, dropping a leftover of the same name first.
    pub async fn create(base: &str, tag: &str) -> FreshDb {
        let name = format!("sb_bench_{tag}_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(base)
            .await
            .expect("PostgreSQL reachable");
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut admin)
        .await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
        FreshDb {
            base: base.to_string(),
            name,
            url,
        }
    }

    /// Drops the database, whoever is still connected.
    pub async fn drop(self) {
        let mut admin = sqlx::PgConnection::connect(&self.base).await.unwrap();
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await;
    }
}
