//! Database faults under a serving process, without touching the shared PostgreSQL server: a
//! proxy of the test's own between `switchboard serve` and PostgreSQL is cut, stalled and
//! restored. `/readyz` stays 200 and says `degraded` with the reason (in `/metrics` too), the
//! health check (answered from memory) keeps passing, and readiness comes back with the
//! database.

use std::time::Duration;

use serde_json::Value;

use crate::common;
use crate::common::proxy::Proxy;

/// GET `path` of the served process: status and body.
async fn get(served: &common::Served, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = client
        .get(format!("{}{path}", served.url()))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// `/readyz` until its status is `want`, 30 s at most; its body then.
async fn readiness(served: &common::Served, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..150 {
        let (status, body) = get(served, "/readyz").await;
        assert_eq!(status, 200, "{body}");
        last = serde_json::from_str(&body).unwrap();
        if last["status"] == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("/readyz never said {want}: {last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_stops_answering_degrades_readiness_but_not_the_service() {
    common::within(async {
        // PostgreSQL only: it is what replicas share, and what a network can cut.
        let Some(db) = common::databases()
            .await
            .into_iter()
            .find(|d| d.name == "postgres")
        else {
            return;
        };
        let (host, rest) = db
            .url
            .split_once('@')
            .map(|(_, r)| r.split_once('/').unwrap())
            .unwrap();
        let proxy = Proxy::start(host).await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("switchboard.toml");
        let url = format!("postgres://postgres@{}/{rest}", proxy.addr);
        std::fs::write(
            &cfg,
            format!(
                "[database]\nurl = \"{url}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[catalog.local]\npaths = {:?}\n",
                common::examples()
            ),
        )
        .unwrap();
        let cfg = cfg.display().to_string();
        let served = tokio::task::spawn_blocking(move || common::Served::start(&cfg, &[]))
            .await
            .unwrap();
        readiness(&served, "ready").await;

        // Cut: connections closed, new ones refused.
        proxy.cut();
        let body = readiness(&served, "degraded").await;
        assert!(
            body["reason"]
                .as_str()
                .unwrap()
                .starts_with("the database does not answer"),
            "{body}"
        );
        assert!(body["entities"].as_u64().unwrap() > 60, "{body}");
        let (_, metrics) = get(&served, "/metrics").await;
        assert!(
            metrics.contains("switchboard_degraded{reason=\"database\"} 1"),
            "{metrics}"
        );
        // The health check is answered from memory: the process stays in service.
        let (status, _) = get(&served, "/healthz").await;
        assert_eq!(status, 200);

        // Back.
        proxy.restore();
        readiness(&served, "ready").await;
        let (_, metrics) = get(&served, "/metrics").await;
        assert!(
            metrics.contains("switchboard_degraded{reason=\"database\"} 0"),
            "{metrics}"
        );

        // Stalled: accepted, never answered; readiness says so within its 2 s.
        proxy.stall();
        let body = readiness(&served, "degraded").await;
        assert!(
            body["reason"].as_str().unwrap().contains("does not answer"),
            "{body}"
        );
        proxy.restore();
        readiness(&served, "ready").await;
        drop(served);
    })
    .await;
}
