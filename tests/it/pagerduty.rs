//! PagerDuty as the live on-call source, through the real reqwest client against a fake
//! PagerDuty built on its documented payloads: service → escalation policy → who is on call,
//! now and at a given time; users mapped by e-mail; the TTL cache; and stale answers, labelled,
//! when PagerDuty fails, answers garbage, times out or rate-limits.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use switchboard::chat::render;
use switchboard::config::PagerDutyConfig;
use switchboard::sources::pagerduty::PagerDuty;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    Error,
    Garbage,
    Slow,
    RateLimited,
}

#[derive(Clone)]
struct Fake {
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
}

fn load(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(common::fixture(&format!("payloads/pagerduty/{name}"))).unwrap(),
    )
    .unwrap()
}

/// (user index in the users fixture, level, start, end) on policy PT20YPA.
const SHIFTS: &[(usize, u32, &str, &str)] = &[
    (0, 1, "2026-11-18T00:00:00Z", "2026-11-19T00:00:00Z"),
    (1, 1, "2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z"),
    (1, 2, "2026-11-18T00:00:00Z", "2026-11-20T00:00:00Z"),
];

async fn api(State(f): State<Fake>, uri: Uri) -> Response {
    f.requests.fetch_add(1, Ordering::SeqCst);
    let mode = *f.mode.lock().unwrap();
    match mode {
        Mode::Normal => {}
        Mode::Error => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(load("docs-rest-error-response.json")),
            )
                .into_response();
        }
        Mode::Garbage => return (StatusCode::OK, "<html>maintenance</html>").into_response(),
        Mode::Slow => {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        }
        Mode::RateLimited => {
            // PagerDuty's documented 429.
            let raw = std::fs::read_to_string(common::fixture(
                "payloads/pagerduty/docs-rest-429-rate-limit.http.txt",
            ))
            .unwrap();
            let body = raw
                .split_once("\n\n{")
                .map(|(_, b)| format!("{{{b}"))
                .unwrap();
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("ratelimit-limit", "960"),
                    ("ratelimit-remaining", "0"),
                    ("ratelimit-reset", "20"),
                ],
                body,
            )
                .into_response();
        }
    }
    let path = uri.path();
    let query = uri.query().unwrap_or("");
    if let Some(id) = path.strip_prefix("/services/") {
        if id != "PSVC1" {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(load("docs-rest-error-response.json")),
            )
                .into_response();
        }
        let mut s = load("rest-get-service-get.json");
        s["service"]["id"] = json!(id);
        return axum::Json(s).into_response();
    }
    if path == "/oncalls" {
        let users = load("rest-get-users-list.json")["users"].clone();
        let template = load("rest-get-oncalls-list.json");
        // The documented on-call entries belong to policy PT20YPA and schedule PI7DH85.
        let wants_policy = ["escalation_policy_ids", "schedule_ids"].iter().any(|k| {
            let id = if *k == "schedule_ids" {
                "PI7DH85"
            } else {
                "PT20YPA"
            };
            query.contains(&format!("{k}%5B%5D={id}")) || query.contains(&format!("{k}[]={id}"))
        });
        let oncalls: Vec<Value> = SHIFTS
            .iter()
            .filter(|_| wants_policy)
            .map(|(u, level, start, end)| {
                let mut o = template["oncalls"][0].clone();
                // include[]=users: the whole user object, with its e-mail.
                o["user"] = users[*u].clone();
                o["escalation_level"] = json!(level);
                o["start"] = json!(start);
                o["end"] = json!(end);
                o
            })
            .collect();
        let mut page = template.clone();
        page["oncalls"] = json!(oncalls);
        page["more"] = json!(false);
        return axum::Json(page).into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}

async fn start() -> (Fake, String) {
    let fake = Fake {
        mode: Arc::new(Mutex::new(Mode::Normal)),
        requests: Arc::default(),
    };
    let app = Router::new().fallback(api).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, url)
}

const CATALOG: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments-team
  annotations:
    pagerduty.com/escalation-policy-id: PT20YPA
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: earline
spec:
  profile:
    displayName: Earline Greenholt
    email: 125.greenholt.earline@graham.name
  memberOf: [payments-team]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-service
  annotations:
    pagerduty.com/service-id: PSVC1
spec:
  type: service
  lifecycle: production
  owner: payments-team
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
spec:
  type: service
  lifecycle: production
  owner: payments-team
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: billing-team
  annotations:
    pagerduty.com/schedule-id: PI7DH85
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: invoices
spec:
  type: service
  lifecycle: production
  owner: billing-team
"#;

struct Setup {
    fake: Fake,
    pd: PagerDuty,
    cfg: PagerDutyConfig,
    convo: common::Convo,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let (fake, url) = start().await;
    let dir = common::catalog_dir(&[("payments.yaml", CATALOG)]);
    let mut paths = common::examples();
    paths.push(dir.path().join("payments.yaml").display().to_string());
    let convo = common::Convo::over(&paths);
    let cfg = PagerDutyConfig {
        enabled: true,
        api_url: url,
        ttl_secs: 60,
        timeout_secs: 1,
        ..PagerDutyConfig::default()
    };
    let pd = PagerDuty::new(&cfg, Some("test-token".into())).unwrap();
    let s = Setup {
        fake,
        pd,
        cfg,
        convo,
        _dir: dir,
    };
    s.refresh(s.convo.now).await;
    s
}

impl Setup {
    async fn refresh(&self, at: DateTime<Utc>) {
        let rosters = self.pd.refresh(&self.convo.bot.snapshot(), at).await;
        self.convo.bot.swap_rosters(rosters);
    }

    fn ask(&self, q: &str) -> String {
        render::text(&self.convo.say(q))
    }

    fn ask_at(&self, q: &str, at: DateTime<Utc>) -> String {
        let mut event = self.convo.event(switchboard::chat::Input::Text(q.into()));
        event.now = at;
        event.actor.id = None;
        render::text(&self.convo.handle(event).unwrap())
    }
}

#[tokio::test]
async fn service_to_policy_to_person_now_and_later_mapped_by_email() {
    common::within(async {
        let s = setup().await;
        let now = s.ask("who is on call for payments-service");
        assert!(
            now.contains("Earline Greenholt is on call for payments-service now"),
            "{now}"
        );
        assert!(
            now.contains("On call from PagerDuty (service:PSVC1)"),
            "{now}"
        );
        // Kyler is not in the catalog: named by e-mail, with a warning.
        let later = s.ask("oncall payments-service at 2026-11-19 12:00");
        assert!(later.contains("126_dvm_kyler_kuhn@beahan.name"), "{later}");
        assert!(later.contains("not in the catalog"), "{later}");
        // A Group annotated with an escalation policy covers what it owns.
        let ledger = s.ask("who is on call for ledger");
        assert!(
            ledger.contains("Earline Greenholt is on call for ledger"),
            "{ledger}"
        );
        assert!(ledger.contains("escalation_policy:PT20YPA"), "{ledger}");
        // And one annotated with a schedule.
        let invoices = s.ask("who is on call for invoices");
        assert!(
            invoices.contains("Earline Greenholt is on call for invoices"),
            "{invoices}"
        );
        assert!(invoices.contains("schedule:PI7DH85"), "{invoices}");
        // What PagerDuty does not cover still comes from the static rotations.
        let demo = s.ask("who is on call for artist-lookup");
        assert!(demo.contains("oncall.yaml"), "{demo}");
        // Within the TTL nothing is fetched again.
        let before = s.fake.requests.load(Ordering::SeqCst);
        s.refresh(s.convo.now + Duration::seconds(30)).await;
        assert_eq!(s.fake.requests.load(Ordering::SeqCst), before);
        assert_eq!(s.pd.requests() as usize, before);
    })
    .await;
}

#[tokio::test]
async fn the_service_team_in_pagerduty_is_a_claim_shown_when_it_disagrees() {
    common::within(async {
        let s = setup().await;
        let owner = s.ask("who owns payments-service");
        assert!(owner.contains("owned by payments-team"), "{owner}");
        // The documented service belongs to the PagerDuty team "Engineering".
        assert!(
            owner.contains("PagerDuty (service:PSVC1) says team Engineering (not in the catalog)"),
            "{owner}"
        );
        let conflicts = s.ask("conflicts payments-team");
        assert!(
            conflicts.contains("component:default/payments-service")
                && conflicts.contains("PagerDuty (service:PSVC1) says team Engineering"),
            "{conflicts}"
        );
        // ledger has no PagerDuty service: nothing to disagree about.
        assert!(!conflicts.contains("ledger"), "{conflicts}");
    })
    .await;
}

#[tokio::test]
async fn when_pagerduty_fails_the_last_roster_answers_and_says_how_old_it_is() {
    common::within(async {
        let s = setup().await;
        for (minutes, (mode, why)) in [
            (Mode::Error, "PagerDuty answered 500"),
            (Mode::Garbage, "not what its API documents"),
            (Mode::Slow, "did not answer within 1 s"),
            (Mode::RateLimited, "rate limit reached (retry in 20 s)"),
        ]
        .into_iter()
        .enumerate()
        {
            *s.fake.mode.lock().unwrap() = mode;
            // Minutes on, the roster is past its TTL, is fetched again, and that fails.
            let at = s.convo.now + Duration::minutes(2 + minutes as i64);
            s.refresh(at).await;
            for entity in ["payments-service", "ledger"] {
                let answer = s.ask_at(&format!("who is on call for {entity}"), at);
                assert!(answer.contains("Earline Greenholt is on call"), "{answer}");
                assert!(
                    answer.contains("PagerDuty could not be refreshed just now")
                        && answer.contains(why),
                    "{why}: {answer}"
                );
                assert!(
                    answer.contains(&format!(
                        "last known roster, fetched {} min ago",
                        2 + minutes
                    )),
                    "{answer}"
                );
            }
        }
        // Back up: the label goes.
        *s.fake.mode.lock().unwrap() = Mode::Normal;
        s.refresh(s.convo.now + Duration::minutes(3)).await;
        let answer = s.ask("who is on call for payments-service");
        assert!(!answer.contains("could not be refreshed"), "{answer}");
    })
    .await;
}

/// Rosters one replica fetched answer on every replica: kept in the store and announced in the
/// feed. A replica taking the scheduled work over starts from them: nothing still fresh is
/// fetched again.
#[tokio::test]
async fn rosters_fetched_by_one_replica_answer_on_another() {
    common::within(async {
        for db in common::databases().await {
            let s = setup().await;
            let store = switchboard::store::Store::connect(&db.url, 2)
                .await
                .unwrap();
            let a = &s.convo.bot;
            switchboard::background::refresh_rosters(a, &store, &s.pd, true).await;

            let c = switchboard::Bot::new(
                Default::default(),
                common::demo_rotations(),
                Default::default(),
            );
            c.swap_snapshot(a.snapshot());
            let q = "who is on call for payments-service";
            let asked = |bot: &switchboard::Bot| {
                let event = switchboard::chat::ChatEvent::console(None, q, s.convo.now);
                futures_executor::block_on(bot.handle(event)).map(|r| render::text(&r))
            };
            let before = asked(&c).unwrap();
            assert!(!before.contains("Earline"), "{}: {before}", db.name);
            switchboard::feed::catch_up(&c, &store).await.unwrap();
            let after = asked(&c).unwrap();
            assert!(
                after.contains("Earline Greenholt is on call for payments-service"),
                "{}: {after}",
                db.name
            );
            assert_eq!(after, asked(a).unwrap(), "{}", db.name);

            // C takes the scheduled work over with a PagerDuty client of its own.
            let requests = s.fake.requests.load(Ordering::SeqCst);
            let own = PagerDuty::new(&s.cfg, Some("test-token".into())).unwrap();
            switchboard::background::refresh_rosters(&c, &store, &own, true).await;
            assert_eq!(
                s.fake.requests.load(Ordering::SeqCst),
                requests,
                "{}",
                db.name
            );
            assert_eq!(asked(&c).unwrap(), after);
            store.close().await;
        }
    })
    .await;
}
