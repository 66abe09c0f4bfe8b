//! Usage and adoption: questions counted by intent and surface, what found nothing, the
//! workflows' funnel in `stats` (for platform engineers and admins), `/metrics` scraped and
//! parsed, `/readyz`. On real databases.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use crate::common;

use common::{databases, within};
use switchboard::Bot;
use switchboard::store::Store;

/// GET `path` from the bot's HTTP surface: status and body.
async fn get(bot: &Arc<Bot>, path: &str) -> (StatusCode, String) {
    let router = switchboard::http::router(bot.clone(), None);
    let resp = router
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// Prometheus's text format as (series with labels) → value; every line must parse.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        out.insert(series.to_string(), value);
    }
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    out
}

async fn say(bot: &Bot, who: &str, text: &str) -> switchboard::Reply {
    bot.handle(switchboard::chat::ChatEvent::console(
        Some(who.into()),
        text,
        bot.now(),
    ))
    .await
    .expect("an answer")
}

#[tokio::test]
async fn questions_are_counted_stats_show_gaps_and_funnels_and_metrics_parse() {
    within(async {
        for db in databases().await {
            let n = db.name;
            let store = Store::connect(&db.url, 2).await.unwrap();
            let roles = switchboard::config::Roles {
                platform: vec!["user:default/breanna.davison".into()],
                ..Default::default()
            };
            let desk = Arc::new(common::shipped_desk_with(&store, roles));
            let bot = Arc::new(
                Bot::new(
                    common::snapshot(&common::examples()),
                    common::demo_rotations(),
                    Default::default(),
                )
                .with_store(store.clone())
                .with_desk(desk),
            );
            // Not ready until the first catalog is being served.
            assert_eq!(
                get(&bot, "/readyz").await.0,
                StatusCode::SERVICE_UNAVAILABLE,
                "{n}"
            );
            bot.mark_ready();
            let (status, body) = get(&bot, "/readyz").await;
            assert_eq!(status, StatusCode::OK, "{n}");
            assert!(body.contains("\"ready\""), "{n}: {body}");

            let guest = "user:default/guest";
            say(&bot, guest, "who owns artist-lookup").await;
            say(&bot, guest, "who owns artist-lookup").await;
            say(&bot, guest, "who owns payments-gateway").await;
            say(&bot, guest, "find zzzqqq").await;
            say(&bot, guest, "how do I deploy to production").await;
            // A workflow requested: the funnel's first step.
            let asked = say(
                &bot,
                "user:default/breanna.davison",
                "run register-component name=ledger owner=team-a",
            )
            .await;
            assert!(asked.result["id"].is_i64(), "{n}: {:?}", asked.view);

            // Only platform engineers and admins see the figures.
            let refused = say(&bot, guest, "stats").await;
            assert!(refused.view.headline.contains("platform engineers"), "{n}");
            let stats = say(&bot, "user:default/breanna.davison", "stats 7").await;
            let v = &stats.result;
            // Five questions, the request, and the refused `stats` come before this one.
            assert_eq!(v["questions"], 7, "{n}: {v}");
            assert_eq!(v["unresolved"], 3, "{n}: {v}");
            assert_eq!(v["by_intent"]["owner"], 3, "{n}: {v}");
            assert_eq!(v["by_surface"]["console"], 7, "{n}: {v}");
            let gaps: Vec<&str> = v["zero_results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|z| z["query"].as_str().unwrap())
                .collect();
            assert!(gaps.contains(&"who owns payments-gateway"), "{n}: {gaps:?}");
            assert!(gaps.contains(&"find zzzqqq"), "{n}: {gaps:?}");
            assert!(
                gaps.contains(&"how do i deploy to production"),
                "{n}: {gaps:?}"
            );
            let flows = v["workflows"].as_array().unwrap();
            assert_eq!(flows[0]["workflow"], "register-component", "{n}: {v}");
            assert_eq!(flows[0]["requested"], 1, "{n}: {v}");
            assert_eq!(flows[0]["approved"], 0, "{n}: {v}");
            // Counted once: asking again adds only the new question.
            let again = say(&bot, "user:default/breanna.davison", "stats").await;
            assert_eq!(again.result["questions"], 8, "{n}: {}", again.result);

            let (status, text) = get(&bot, "/metrics").await;
            assert_eq!(status, StatusCode::OK, "{n}");
            let m = parse_metrics(&text);
            assert_eq!(
                m.get("switchboard_questions_total{intent=\"owner\",surface=\"console\"}"),
                Some(&3.0),
                "{n}: {text}"
            );
            assert_eq!(
                m.get("switchboard_unresolved_questions_total{surface=\"console\"}"),
                Some(&3.0),
                "{n}: {text}"
            );
            assert_eq!(
                m.get("switchboard_answer_seconds_count{surface=\"console\"}"),
                Some(&9.0),
                "{n}: {text}"
            );
            assert_eq!(
                m.get("switchboard_runs{state=\"awaiting_approval\"}"),
                Some(&1.0),
                "{n}: {text}"
            );
            assert_eq!(m.get("switchboard_ready"), Some(&1.0), "{n}: {text}");
            store.close().await;
        }
    })
    .await;
}
