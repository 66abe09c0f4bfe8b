//! The HTTP side of the bot: `GET /healthz` (answered from the snapshot, so a container
//! runtime can tell a live bot from a stuck one), `GET /readyz` (200 once the first catalog is
//! loaded, saying `degraded` and why while the database does not answer), `GET /metrics`
//! (Prometheus) plus the routes of the chat adapters that listen over
//! HTTP (Slack's Events API, Discord's interactions, GitHub's webhooks).

use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::bot::Bot;

pub mod github;
pub mod hmac;

/// The whole HTTP surface: health, plus `extra` (adapter routes).
pub fn router(bot: Arc<Bot>, extra: Option<Router>) -> Router {
    let base = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(bot);
    match extra {
        Some(r) => base.merge(r),
        None => base,
    }
}

async fn healthz(State(bot): State<Arc<Bot>>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok", "entities": bot.snapshot().len()}))
}

/// Why the service is degraded, if it is: the database does not answer (questions are still
/// answered from memory). Kept in `/metrics` as `switchboard_degraded{reason}`.
async fn degraded(bot: &Bot) -> Option<String> {
    let store = bot.store()?;
    let trouble = store.trouble(std::time::Duration::from_secs(2)).await;
    bot.metrics().set_degraded("database", trouble.is_some());
    trouble.map(|why| {
        format!(
            "the database does not answer ({why}): questions are answered from memory; \
             what must be written (event claims, decisions, runs) waits for it or is refused \
             with a message"
        )
    })
}

/// Ready (200) once the first catalog is served, and stays 200 while the database does not
/// answer, saying `degraded` and why: answers come from memory, so a load balancer must not
/// take every replica out at once.
async fn readyz(State(bot): State<Arc<Bot>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let entities = bot.snapshot().len();
    // The last change of the read-model feed this replica has applied: replicas that say the
    // same number answer alike.
    let generation = bot.generation();
    if bot.is_ready() {
        match degraded(&bot).await {
            None => axum::Json(serde_json::json!({
                "status": "ready", "entities": entities, "generation": generation,
            }))
            .into_response(),
            Some(reason) => axum::Json(serde_json::json!({
                "status": "degraded", "entities": entities, "generation": generation,
                "reason": reason,
            }))
            .into_response(),
        }
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "starting", "entities": entities})),
        )
            .into_response()
    }
}

/// Prometheus's text format; the runs by state are read from the store at each scrape.
async fn metrics(State(bot): State<Arc<Bot>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(store) = bot.store()
        && degraded(&bot).await.is_none()
    {
        match store.run_counts().await {
            Ok(counts) => bot.metrics().runs(&counts),
            Err(e) => tracing::warn!("/metrics cannot count runs: {e:#}"),
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        bot.metrics().encode(),
    )
        .into_response()
}

/// Serves `router` until the task is dropped.
pub async fn serve(listener: TcpListener, router: Router) {
    if let Err(e) = axum::serve(listener, router).await {
        tracing::error!("the HTTP server stopped: {e}");
    }
}

/// Asks a running bot for its health (the container's HEALTHCHECK). Ok when it answers 200.
pub async fn probe(addr: &str) -> Result<String> {
    let mut sock =
        tokio::time::timeout(std::time::Duration::from_secs(3), TcpStream::connect(addr))
            .await
            .context("timed out connecting")?
            .with_context(|| format!("cannot connect to {addr}"))?;
    sock.write_all(b"GET /healthz HTTP/1.1\r\nhost: switchboard\r\nconnection: close\r\n\r\n")
        .await?;
    let mut resp = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(3),
        sock.read_to_string(&mut resp),
    )
    .await
    .context("timed out reading the answer")??;
    if !resp.starts_with("HTTP/1.1 200") {
        anyhow::bail!("unhealthy: {}", resp.lines().next().unwrap_or(""));
    }
    Ok(resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}
