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

/// A proxy of the test's own between a served process and `url`'s server, and the URL of the
/// same database through it.
pub(crate) async fn proxied(url: &str) -> (Proxy, String) {
    let (host, rest) = url
        .split_once('@')
        .map(|(_, r)| r.split_once('/').unwrap())
        .unwrap();
    let proxy = Proxy::start(host).await;
    let through = format!("postgres://postgres@{}/{rest}", proxy.addr);
    (proxy, through)
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
        let Some(db) = common::postgres().await else {
            return;
        };
        let (proxy, url) = proxied(&db.url).await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("switchboard.toml");
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

/// A Slack event that arrives while the database is cut cannot be claimed: it is not
/// acknowledged (503, so Slack sends it again) and nothing is posted. Slack's retry once the
/// database is back is answered, once; a retry of an event already answered is not.
#[tokio::test(flavor = "multi_thread")]
async fn an_event_the_database_cannot_take_is_refused_for_slack_to_retry_then_answered_once() {
    common::within(async {
        let Some(db) = common::postgres().await else {
            return;
        };
        let (proxy, url) = proxied(&db.url).await;
        let (slack, slack_url) = common::slack::FakeSlack::start().await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("switchboard.toml");
        std::fs::write(
            &cfg,
            format!(
                "[database]\nurl = \"{url}\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
                 [catalog.local]\npaths = {:?}\n\
                 [slack]\nenabled = true\nmode = \"events\"\napi_url = \"{slack_url}\"\n",
                common::examples()
            ),
        )
        .unwrap();
        let cfg = cfg.display().to_string();
        let served = tokio::task::spawn_blocking(move || {
            common::Served::start(
                &cfg,
                &[
                    ("SLACK_BOT_TOKEN", "xoxb-faults"),
                    ("SLACK_SIGNING_SECRET", crate::slack::SECRET),
                ],
            )
        })
        .await
        .unwrap();
        readiness(&served, "ready").await;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let url = served.url();
        let send = |id: &str, retry: bool| {
            let mut payload = crate::slack::mention("<@U0LAN0Z89> who owns artist-lookup");
            payload["event_id"] = serde_json::json!(id);
            let (client, url) = (client.clone(), url.clone());
            async move {
                let body = payload.to_string();
                let json = "application/json";
                crate::slack::send_signed(&client, &url, "/slack/events", json, body, retry).await
            }
        };
        let answers = |id: &str| {
            slack
                .posted_at
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, b)| b["metadata"]["event_payload"]["event_id"] == id)
                .count()
        };

        proxy.cut();
        readiness(&served, "degraded").await;
        assert_eq!(send("EvCUT", false).await, 503, "not acknowledged");

        proxy.restore();
        readiness(&served, "ready").await;
        assert_eq!(send("EvCUT", true).await, 200);
        // Answered (after the acknowledgement), then a retry of it and a later event: when
        // the later one is answered, a second answer to the first would have come already.
        for _ in 0..300 {
            if answers("EvCUT") > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(send("EvCUT", true).await, 200);
        assert_eq!(send("EvAFTER", false).await, 200);
        for _ in 0..300 {
            if answers("EvAFTER") > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!((answers("EvCUT"), answers("EvAFTER")), (1, 1));
        served.assert_logged_none_of(&["xoxb-faults", crate::slack::SECRET]);
        drop(served);
    })
    .await;
}
