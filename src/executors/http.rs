//! `http.request`: a signed HTTP call. The body is JSON; the call carries
//! `X-Switchboard-Timestamp` and `X-Switchboard-Signature-256: sha256=<hex HMAC-SHA256 of
//! "<timestamp>.<body>">` with the secret named by `secret_env`, and `Idempotency-Key:
//! <run id>-<step name>` so a receiver does the effect once however often the step is tried.
//! 5xx answers and timeouts are tried again with backoff; a 4xx fails the step with its reason.
//! The JSON response becomes `outputs.body`.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

use crate::outbox::Sending;
use crate::workflows::executor::{Call, Executor};

pub struct Http {
    pub client: reqwest::Client,
    /// Retries of a 5xx or a timeout, waiting 0.5 s, 1 s, 2 s, … in between.
    pub retries: u32,
}

impl Http {
    pub fn new(timeout: Duration) -> anyhow::Result<Http> {
        Ok(Http {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .context("building the HTTP client")?,
            retries: 3,
        })
    }
}

/// The signature of `body` sent at `timestamp`: `sha256=<hex>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let ts = format!("{timestamp}.");
    format!(
        "sha256={}",
        crate::http::hmac::hex_digest(secret, &[ts.as_bytes(), body])
    )
}

impl Executor for Http {
    fn name(&self) -> &'static str {
        "http.request"
    }

    fn missing(&self, with: &Value) -> Option<String> {
        let var = with.get("secret_env")?.as_str()?;
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => None,
            _ => Some(format!(
                "http.request needs the secret in {var}: set it in the bot's environment"
            )),
        }
    }

    fn run<'a>(&'a self, call: &'a Call<'a>) -> Sending<'a, Value> {
        Box::pin(async move {
            let w = call.with;
            let url = w
                .get("url")
                .and_then(Value::as_str)
                .context("http.request needs `url`")?;
            let method = w
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or("POST")
                .to_ascii_uppercase();
            let method = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|_| anyhow!("`{method}` is not an HTTP method"))?;
            let body = match w.get("body") {
                Some(b) => serde_json::to_vec(b)?,
                None => Vec::new(),
            };
            let secret = match w.get("secret_env").and_then(Value::as_str) {
                Some(var) => Some(
                    std::env::var(var)
                        .map_err(|_| anyhow!("the secret variable {var} is not set"))?,
                ),
                None => None,
            };
            let key = format!("{}-{}", call.run_id, call.step);
            let mut failures = 0;
            loop {
                let ts = chrono::Utc::now().timestamp();
                let mut req = self
                    .client
                    .request(method.clone(), url)
                    .header("Idempotency-Key", &key)
                    .header("X-Switchboard-Timestamp", ts.to_string());
                if !body.is_empty() {
                    req = req
                        .header("Content-Type", "application/json")
                        .body(body.clone());
                }
                if let Some(s) = &secret {
                    req = req.header("X-Switchboard-Signature-256", sign(s.as_bytes(), ts, &body));
                }
                if let Some(headers) = w.get("headers").and_then(Value::as_object) {
                    for (k, v) in headers {
                        if let Some(v) = v.as_str() {
                            req = req.header(k, v);
                        }
                    }
                }
                let outcome = req.send().await;
                let retry = match outcome {
                    Ok(resp) if resp.status().is_success() => {
                        let status = resp.status().as_u16();
                        let text = resp.text().await.unwrap_or_default();
                        let body: Value =
                            serde_json::from_str(&text).unwrap_or(Value::String(text));
                        return Ok(json!({"status": status, "body": body}));
                    }
                    Ok(resp) if resp.status().is_server_error() => {
                        format!("{url} answered {}", resp.status())
                    }
                    Ok(resp) => {
                        let status = resp.status();
                        let text = resp.text().await.unwrap_or_default();
                        bail!(
                            "{url} refused the request: {status} {}",
                            text.chars().take(300).collect::<String>()
                        );
                    }
                    Err(e) if e.is_timeout() || e.is_connect() || e.is_request() => {
                        format!("{url}: {e}")
                    }
                    Err(e) => bail!("{url}: {e}"),
                };
                if failures >= self.retries {
                    bail!("{retry} ({} tries)", failures + 1);
                }
                tracing::warn!(
                    step = call.step,
                    "http.request failed ({retry}); trying again"
                );
                tokio::time::sleep(Duration::from_millis(500 << failures)).await;
                failures += 1;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        let a = sign(b"s3cret", 1_800_000_000, b"{\"a\":1}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, sign(b"s3cret", 1_800_000_001, b"{\"a\":1}"));
        assert_ne!(a, sign(b"s3cret", 1_800_000_000, b"{\"a\":2}"));
    }
}
