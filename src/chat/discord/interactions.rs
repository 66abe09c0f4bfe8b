//! Discord's HTTP interactions endpoint (`POST /discord/interactions`), for deployments that
//! take interactions over HTTP rather than a gateway connection. The Ed25519 signature is
//! checked before anything is read (401 otherwise, as Discord's probes expect); the
//! acknowledgement is the response itself.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use super::app::DiscordApp;

impl DiscordApp {
    /// The endpoint; only with DISCORD_PUBLIC_KEY, which checks what comes in.
    pub fn routes(&self) -> Router {
        Router::new()
            .route("/discord/interactions", post(receive))
            .with_state(self.clone())
    }
}

fn unauthorized(why: impl std::fmt::Display) -> Response {
    tracing::warn!("a Discord interaction was refused: {why}");
    (
        StatusCode::UNAUTHORIZED,
        format!("invalid request signature: {why}"),
    )
        .into_response()
}

async fn receive(State(app): State<DiscordApp>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(key) = &app.inner.key else {
        return unauthorized("no DISCORD_PUBLIC_KEY to check it with");
    };
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = key.verify(
        header("x-signature-ed25519"),
        header("x-signature-timestamp"),
        &body,
        now,
    ) {
        return unauthorized(e);
    }
    let interaction: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("a Discord interaction is not JSON: {e}");
            return (StatusCode::BAD_REQUEST, format!("not an interaction: {e}")).into_response();
        }
    };
    axum::Json(app.take(interaction, false).await).into_response()
}
