//! The HTTP side of the bot. For now only `GET /healthz`, answered from the snapshot, so a
//! container runtime can tell a live bot from a stuck one; webhooks and the JSON API join later.

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::bot::Bot;

/// Serves health checks until the task is dropped.
pub async fn serve_health(listener: TcpListener, bot: Arc<Bot>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let bot = bot.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n =
                match tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut buf))
                    .await
                {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
            let req = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if req.starts_with("GET /healthz ") {
                let snap = bot.snapshot();
                (
                    "200 OK",
                    format!("{{\"status\":\"ok\",\"entities\":{}}}", snap.len()),
                )
            } else {
                ("404 Not Found", "{\"error\":\"not found\"}".to_string())
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        });
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
