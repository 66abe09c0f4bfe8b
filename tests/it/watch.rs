//! The catalog watch on real databases: a silent baseline, then each kind of change logged
//! once with its source and team, weekly scores kept, problems raised and cleared, and a
//! restart (or another replica's turn) that picks up where the last look stopped.

use std::sync::Arc;

use crate::common;

use common::{catalog_dir, databases, within};
use switchboard::clock::Clock;
use switchboard::config::Config;
use switchboard::scorecards::watch::{Watch, iso_week};
use switchboard::sources::rotations::Rotations;
use switchboard::store::Store;
use switchboard::{Bot, sync};

pub const TEAM: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
  annotations:
    slack.com/channel-id: C0TEAMA
spec:
  type: team
  children: []
  members: [ada]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: ada
  annotations:
    slack.com/user-id: U0ADA
spec:
  memberOf: [team-a]
";

/// A production component of team-a, with or without a description.
pub fn component(name: &str, owner: &str, description: bool, extra: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n{}{extra}spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n",
        if description {
            format!("  description: The {name} service\n")
        } else {
            String::new()
        }
    )
}

pub const BASICS: &str = "name: basics
title: Basics
filter:
  kind: [component]
owners: [group:default/team-a]
checks:
  - check: owner
  - check: description
levels:
  - name: bronze
    checks: [owner]
  - name: silver
    checks: [description]
";

pub fn scorecards(text: &str) -> Vec<switchboard::scorecards::Scorecard> {
    let dir = catalog_dir(&[("scorecards.yaml", text)]);
    let (cards, problems) =
        switchboard::scorecards::load(&[dir.path().join("scorecards.yaml").display().to_string()]);
    assert!(problems.is_empty(), "{problems:?}");
    cards
}

/// A catalog directory, its configuration, a store and a bot on it, at a fixed time.
pub struct World {
    pub dir: tempfile::TempDir,
    pub cfg: Config,
    pub store: Store,
    pub bot: Arc<Bot>,
    pub clock: Clock,
}

impl World {
    pub async fn new(url: &str, files: &[(&str, &str)], at: &str) -> World {
        let dir = catalog_dir(files);
        let mut cfg = Config::default();
        cfg.database.url.0 = url.to_string();
        cfg.catalog.local.paths = vec![dir.path().display().to_string()];
        let store = Store::connect(url, 2).await.unwrap();
        let (snap, _) = sync::sync_local(&cfg, &store, |_, _| {}).await.unwrap();
        let clock = Clock::fixed(at.parse().unwrap());
        let bot = Arc::new(
            Bot::new(snap, Rotations::default(), Default::default())
                .with_store(store.clone())
                .with_clock(clock.clone()),
        );
        World {
            dir,
            cfg,
            store,
            bot,
            clock,
        }
    }

    /// As `new`, with a desk (the shipped workflows, `configure`d, the exemption workflow of
    /// `BASICS` owned by the standards team) posting to a fake Slack through the real adapter.
    pub async fn with_slack(
        url: &str,
        files: &[(&str, &str)],
        at: &str,
        configure: impl FnOnce(switchboard::desk::Desk) -> switchboard::desk::Desk,
    ) -> (
        World,
        common::slack::FakeSlack,
        Arc<switchboard::desk::Desk>,
    ) {
        let (fake, api_url) = common::slack::FakeSlack::start().await;
        let mut w = World::new(url, files, at).await;
        let (bot, desk) = w.replica(&api_url, configure).await;
        w.bot = bot;
        (w, fake, desk)
    }

    /// Another bot and desk on this world's store and clock (another replica), posting to the
    /// Slack at `api_url` through the real adapter.
    pub async fn replica(
        &self,
        api_url: &str,
        configure: impl FnOnce(switchboard::desk::Desk) -> switchboard::desk::Desk,
    ) -> (Arc<Bot>, Arc<switchboard::desk::Desk>) {
        let desk = Arc::new(configure(common::shipped_desk(&self.store)));
        let cards = scorecards(&BASICS.replace("group:default/team-a", "group:default/standards"));
        desk.set_made_workflows(switchboard::scorecards::exemptions::workflows(&cards, 30).0);
        let bot = Arc::new(self.another_bot().await.with_desk(desk.clone()));
        let slack = switchboard::chat::slack::SlackApp::new(
            bot.clone(),
            self.store.clone(),
            &switchboard::chat::slack::SlackSettings {
                api_url: api_url.to_string(),
                bot_token: "xoxb-test".into(),
                signing_secret: "secret".into(),
                app_token: String::new(),
                channel_interval: std::time::Duration::from_millis(1),
                failpoints: Default::default(),
                answer_lease: std::time::Duration::from_secs(300),
            },
        )
        .unwrap();
        desk.add_outbox(switchboard::chat::Platform::Slack, Arc::new(slack));
        bot.set_scorecards(cards);
        (bot, desk)
    }

    /// A bot on this world's store and clock, with the catalog the store holds (another
    /// replica, as it starts).
    pub async fn another_bot(&self) -> Bot {
        Bot::new(
            sync::load_snapshot(&self.store).await.unwrap(),
            Rotations::default(),
            Default::default(),
        )
        .with_store(self.store.clone())
        .with_clock(self.clock.clone())
    }

    /// Writes (or, with None, deletes) catalog files and syncs them in.
    pub async fn edit(&self, files: &[(&str, Option<&str>)]) {
        for (name, body) in files {
            let p = self.dir.path().join(name);
            match body {
                Some(b) => std::fs::write(p, b).unwrap(),
                None => std::fs::remove_file(p).unwrap(),
            }
        }
        let (snap, _) = sync::sync_local(&self.cfg, &self.store, |_, _| {})
            .await
            .unwrap();
        self.bot.swap_snapshot(snap);
    }
}

fn kinds(changes: &[switchboard::store::Change]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = changes
        .iter()
        .map(|c| (c.entity.clone(), c.change.clone()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn the_watch_logs_each_change_once_after_a_silent_baseline_and_across_a_restart() {
    within(async {
        for db in databases().await {
            let n = db.name;
            let ledger = component("ledger", "team-a", true, "");
            let billing = component("billing", "team-a", true, "");
            let legacy = component("legacy", "team-a", false, "");
            let w = World::new(
                &db.url,
                &[
                    ("team.yaml", TEAM),
                    ("ledger.yaml", &ledger),
                    ("billing.yaml", &billing),
                    ("legacy.yaml", &legacy),
                ],
                "2026-11-30T09:00:00Z",
            )
            .await;
            w.bot.set_scorecards(scorecards(BASICS));
            let watch = Watch::default();

            // The first look is a baseline: scores kept, nothing logged, nobody nudged.
            let first = watch.look(&w.store, &w.bot).await.unwrap();
            assert!(first.changes.is_empty(), "{n}: {:?}", first.changes);
            assert!(first.raised.is_empty(), "{n}");
            assert_eq!(first.seen.len(), 5, "{n}");
            let weeks = w.store.entity_weeks("component:default/ledger").await.unwrap();
            assert_eq!(weeks.len(), 1, "{n}");
            assert_eq!(
                (weeks[0].week.as_str(), weeks[0].score, weeks[0].level.as_deref()),
                ("2026-W49", 100, Some("silver")),
                "{n}"
            );
            assert_eq!(iso_week("2026-11-30T09:00:00Z".parse().unwrap()), "2026-W49");
            // Looking again at the same catalog writes nothing.
            let again = watch.look(&w.store, &w.bot).await.unwrap();
            assert!(again.is_empty(), "{n}: {:?}", again);

            // A week later: ledger loses its description (silver → bronze), billing names a
            // team that does not exist (it loses its owner), legacy is deleted, search is
            // added, and ledger-ui arrives quarantined (a tag with a space).
            w.clock.advance(chrono::Duration::days(7));
            let search = component("search", "team-a", true, "");
            let ui = component(
                "ledger-ui",
                "team-a",
                true,
                "  tags: [\"not valid\"]\n",
            );
            w.edit(&[
                ("ledger.yaml", Some(&component("ledger", "team-a", false, ""))),
                ("billing.yaml", Some(&component("billing", "team-zzz", true, ""))),
                ("legacy.yaml", None),
                ("search.yaml", Some(&search)),
                ("ui.yaml", Some(&ui)),
            ])
            .await;
            let seen = watch.look(&w.store, &w.bot).await.unwrap();
            let expected: Vec<(String, String)> = [
                ("component:default/billing", "level-changed"),
                ("component:default/billing", "owner-changed"),
                ("component:default/ledger", "level-changed"),
                ("component:default/ledger-ui", "added"),
                ("component:default/ledger-ui", "quarantined"),
                ("component:default/legacy", "removed"),
                ("component:default/search", "added"),
            ]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
            assert_eq!(kinds(&seen.changes), expected, "{n}");
            let logged = w.store.changes(None, None, 0).await.unwrap();
            assert_eq!(kinds(&logged), expected, "{n}");
            let ledger_drop = logged
                .iter()
                .find(|c| c.entity == "component:default/ledger")
                .unwrap();
            assert_eq!(
                (
                    ledger_drop.before.as_deref(),
                    ledger_drop.after.as_deref(),
                    ledger_drop.scorecard.as_deref(),
                    ledger_drop.team.as_deref(),
                    ledger_drop.source.as_str()
                ),
                (
                    Some("silver"),
                    Some("bronze"),
                    Some("basics"),
                    Some("group:default/team-a"),
                    "local"
                ),
                "{n}"
            );
            // The team sees the owner change away from it too.
            let for_team = w
                .store
                .changes(Some("group:default/team-a"), None, 0)
                .await
                .unwrap();
            assert!(
                for_team
                    .iter()
                    .any(|c| c.entity == "component:default/billing" && c.change == "owner-changed"),
                "{n}: {for_team:?}"
            );
            // Problems: ledger's drop, billing's lost owner, ledger-ui's quarantine.
            let mut raised: Vec<(String, String, String)> = seen
                .raised
                .iter()
                .map(|p| (p.entity.clone(), p.problem.clone(), p.team.clone()))
                .collect();
            raised.sort();
            assert_eq!(
                raised,
                [
                    ("component:default/billing", "owner", "group:default/team-a"),
                    ("component:default/ledger", "level:basics", "group:default/team-a"),
                    ("component:default/ledger-ui", "quarantined", "group:default/team-a"),
                ]
                .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())),
                "{n}"
            );
            let drop = seen
                .raised
                .iter()
                .find(|p| p.problem == "level:basics")
                .unwrap();
            assert!(drop.reason.contains("from silver to bronze"), "{n}: {}", drop.reason);
            assert!(drop.fix.contains("ledger.yaml:1"), "{n}: {}", drop.fix);
            // The new week has its own row; the old one stays.
            let weeks = w.store.entity_weeks("component:default/ledger").await.unwrap();
            let rows: Vec<(&str, Option<&str>)> = weeks
                .iter()
                .map(|s| (s.week.as_str(), s.level.as_deref()))
                .collect();
            assert_eq!(
                rows,
                [("2026-W49", Some("silver")), ("2026-W50", Some("bronze"))],
                "{n}"
            );
            let team = w
                .store
                .team_weeks("group:default/team-a", "2026-W49", "2026-W50")
                .await
                .unwrap();
            assert_eq!(team.len(), 2, "{n}: {team:?}");
            assert_eq!((team[0].entities, team[1].entities), (3, 2), "{n}: {team:?}");

            // Another process starts on the same store: it knows what was seen, logs nothing.
            let restarted = Watch::default();
            let after = restarted.look(&w.store, &w.bot).await.unwrap();
            assert!(after.changes.is_empty(), "{n}: {:?}", after.changes);
            assert!(after.raised.is_empty(), "{n}");

            // The description comes back: ledger's problem ends. A new scorecard is a
            // baseline of its own: its levels are not changes.
            w.edit(&[("ledger.yaml", Some(&ledger))]).await;
            let mut cards = scorecards(BASICS);
            cards.extend(scorecards(&BASICS.replace("name: basics", "name: more")));
            w.bot.set_scorecards(cards);
            let back = restarted.look(&w.store, &w.bot).await.unwrap();
            assert_eq!(
                kinds(&back.changes),
                [("component:default/ledger".to_string(), "level-changed".to_string())],
                "{n}"
            );
            assert_eq!(
                back.cleared,
                [("component:default/ledger".to_string(), "level:basics".to_string())],
                "{n}"
            );
            assert_eq!(back.baselined, ["more"], "{n}");

            // The first process gets the turn back: it compares with what the other saw
            // since, not with what it saw itself, and finds nothing new.
            let turn_back = watch.look(&w.store, &w.bot).await.unwrap();
            assert!(turn_back.is_empty(), "{n}: {turn_back:?}");

            // A look whose turn ran out before it was done writes nothing; the next holder
            // logs the change, once.
            w.edit(&[("search.yaml", None)]).await;
            let logged = w.store.changes(None, None, 0).await.unwrap().len();
            let lost = watch.look_while(&w.store, &w.bot, || false).await.unwrap();
            assert!(lost.is_none(), "{n}");
            assert_eq!(w.store.changes(None, None, 0).await.unwrap().len(), logged, "{n}");
            let next = restarted.look(&w.store, &w.bot).await.unwrap();
            assert_eq!(
                kinds(&next.changes),
                [("component:default/search".to_string(), "removed".to_string())],
                "{n}"
            );

            // A replica that has not yet applied another's change gets the turn: it catches
            // up before it looks, and does not log the catalog it had as the change undone.
            let behind = Arc::new(w.another_bot().await);
            let mut cards = scorecards(BASICS);
            cards.extend(scorecards(&BASICS.replace("name: basics", "name: more")));
            behind.set_scorecards(cards);
            w.edit(&[("search.yaml", Some(&search))]).await;
            switchboard::feed::announce(&w.bot, &w.store, vec![switchboard::feed::Part::Catalog])
                .await;
            let added = restarted.look(&w.store, &w.bot).await.unwrap();
            assert_eq!(
                kinds(&added.changes),
                [("component:default/search".to_string(), "added".to_string())],
                "{n}"
            );
            assert!(behind.snapshot().get("component:default/search").is_none(), "{n}");
            let caught_up = Watch::default().look(&w.store, &behind).await.unwrap();
            assert!(caught_up.is_empty(), "{n}: {caught_up:?}");
            assert!(behind.snapshot().get("component:default/search").is_some(), "{n}");
            w.store.close().await;
        }
    })
    .await;
}

/// The values of the buttons of a message posted to the fake Slack.
fn buttons(body: &serde_json::Value) -> Vec<(String, String)> {
    body["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            (
                e["text"]["text"].as_str().unwrap_or_default().to_string(),
                e["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// A click (or a form sent) at the console by `who`.
async fn click(bot: &Bot, who: &str, input: switchboard::chat::Input) -> switchboard::Reply {
    let mut event = switchboard::chat::ChatEvent::console(Some(who.into()), "", bot.now());
    event.input = input;
    bot.handle(event).await.expect("an answer")
}

const PLATFORM_TEAM: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: standards
spec:
  type: team
  children: []
  members: [pat]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: pat
spec:
  memberOf: [standards]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: eve
spec:
  memberOf: []
";

#[tokio::test]
async fn nudges_go_once_within_the_daily_number_outside_quiet_hours_and_can_be_snoozed_or_exempted()
{
    within(async {
        for db in databases().await {
            let n = db.name;
            let names = ["a", "b", "c", "d"];
            let mut files: Vec<(String, String)> = names
                .iter()
                .map(|c| (format!("{c}.yaml"), component(c, "team-a", true, "")))
                .collect();
            // team-a works in Berlin; its channel is C0TEAMA.
            files.push((
                "team.yaml".into(),
                TEAM.replace(
                    "    slack.com/channel-id: C0TEAMA\n",
                    "    slack.com/channel-id: C0TEAMA\n    switchboard.dev/timezone: Europe/Berlin\n",
                ),
            ));
            files.push(("standards.yaml".into(), PLATFORM_TEAM.into()));
            let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            // Monday 30 November, 10:00 in Berlin.
            let nudging = switchboard::config::Nudges {
                per_team_per_day: 2,
                ..Default::default()
            };
            let (w, fake, desk) = World::with_slack(&db.url, &refs, "2026-11-30T09:00:00Z", |d| {
                d.with_nudges(nudging)
            })
            .await;
            let watch = Watch::default();
            watch.look(&w.store, &w.bot).await.unwrap();
            let posts = |fake: &common::slack::FakeSlack| -> Vec<serde_json::Value> {
                fake.calls()
                    .into_iter()
                    .filter(|(m, _)| m == "chat.postMessage")
                    .map(|(_, b)| b)
                    .collect()
            };

            // a, b and c lose their descriptions: three problems, raised at 19:30 in Berlin.
            w.clock.advance(chrono::Duration::hours(9) + chrono::Duration::minutes(30));
            let bare: Vec<(String, String)> = ["a", "b", "c"]
                .iter()
                .map(|c| (format!("{c}.yaml"), component(c, "team-a", false, "")))
                .collect();
            w.edit(&bare.iter().map(|(f, b)| (f.as_str(), Some(b.as_str()))).collect::<Vec<_>>())
                .await;
            let seen = watch.look(&w.store, &w.bot).await.unwrap();
            assert_eq!(seen.raised.len(), 3, "{n}");
            // 20:30 in Berlin is quiet: nothing is sent.
            w.clock.advance(chrono::Duration::hours(1));
            assert_eq!(desk.send_nudges(&w.bot).await.unwrap(), 0, "{n}");
            // 07:30 next morning, still quiet; 08:05, two go out (two a day), to the channel.
            w.clock.advance(chrono::Duration::hours(11));
            assert_eq!(desk.send_nudges(&w.bot).await.unwrap(), 0, "{n}");
            assert!(posts(&fake).is_empty(), "{n}");
            w.clock.advance(chrono::Duration::minutes(35));
            assert_eq!(desk.send_nudges(&w.bot).await.unwrap(), 2, "{n}");
            assert_eq!(desk.send_nudges(&w.bot).await.unwrap(), 0, "{n}: the day's two are spent");
            let sent = posts(&fake);
            assert_eq!(sent.len(), 2, "{n}");
            assert!(sent.iter().all(|p| p["channel"] == "C0TEAMA"), "{n}: {sent:?}");
            let text = sent[0].to_string();
            assert!(text.contains("dropped from silver to bronze"), "{n}: {text}");
            assert!(text.contains("a.yaml:1"), "{n}: {text}");
            // Looking again at the same catalog raises nothing new: each problem is told once.
            let again = watch.look(&w.store, &w.bot).await.unwrap();
            assert!(again.raised.is_empty(), "{n}");
            assert_eq!(w.store.unsent_nudges().await.unwrap().len(), 1, "{n}");
            // The next day the third goes.
            w.clock.advance(chrono::Duration::days(1));
            assert_eq!(desk.send_nudges(&w.bot).await.unwrap(), 1, "{n}");
            assert_eq!(posts(&fake).len(), 3, "{n}");

            // Snooze, from the button of a's nudge: by an outsider, refused; by ada, held.
            let a_nudge = &sent[0];
            let snooze = buttons(a_nudge)
                .into_iter()
                .find(|(label, _)| label.starts_with("Snooze"))
                .expect("a snooze button")
                .1;
            let refused = click(&w.bot, "user:default/eve", switchboard::chat::Input::Action(snooze.clone())).await;
            assert!(refused.view.headline.contains("Only members"), "{n}: {}", refused.view.headline);
            let held = click(&w.bot, "user:default/ada", switchboard::chat::Input::Action(snooze)).await;
            assert!(held.view.headline.starts_with("Snoozed"), "{n}: {}", held.view.headline);
            // a is fixed (its problem ends) and broken again (a new problem): it waits out the
            // snooze, then goes.
            w.edit(&[("a.yaml", Some(&component("a", "team-a", true, "")))]).await;
            let fixed = watch.look(&w.store, &w.bot).await.unwrap();
            assert_eq!(fixed.cleared, [("component:default/a".to_string(), "level:basics".to_string())], "{n}");
            w.edit(&[("a.yaml", Some(&bare[0].1))]).await;
            assert_eq!(watch.look(&w.store, &w.bot).await.unwrap().raised.len(), 1, "{n}");
            w.clock.advance(chrono::Duration::days(1));
            assert_eq!(desk.send_nudges(&w.bot).await.unwrap(), 0, "{n}: snoozed");
            w.clock.advance(chrono::Duration::days(7));
            assert_eq!(desk.send_nudges(&w.bot).await.unwrap(), 1, "{n}: the snooze is over");
            let a_nudges = w.store.nudges_about("component:default/a").await.unwrap();
            assert_eq!(a_nudges.len(), 2, "{n}");
            assert!(a_nudges[0].cleared_at.is_some() && a_nudges[1].sent_at.is_some(), "{n}");

            // An exemption for b, asked from its nudge with a reason, approved by the
            // scorecard's owners: b scores silver again and its problem ends.
            let b_nudge = posts(&fake)
                .into_iter()
                .find(|p| p.to_string().contains("component:default/b"))
                .expect("b's nudge");
            let exempt = buttons(&b_nudge)
                .into_iter()
                .find(|(label, _)| label.starts_with("Ask for an exemption"))
                .expect("an exemption button")
                .1;
            let form = w.bot.form(&exempt).await.expect("a form for the reason");
            assert_eq!(form.fields[0].name, "reason");
            let asked = click(
                &w.bot,
                "user:default/ada",
                switchboard::chat::Input::Form {
                    action: exempt,
                    values: vec![("reason".into(), "b is being retired in January".into())],
                },
            )
            .await;
            let run_id = asked.result["id"].as_i64().unwrap_or_else(|| panic!("{n}: {:?} {:?}", asked.view, asked.result));
            // ada may not approve it; pat, of the scorecard's owners, does.
            let own = click(&w.bot, "user:default/ada", switchboard::chat::Input::Text(format!("approve {run_id}"))).await;
            assert!(!own.view.headline.contains("approved"), "{n}: {}", own.view.headline);
            let ok = click(&w.bot, "user:default/pat", switchboard::chat::Input::Text(format!("approve {run_id}"))).await;
            assert!(ok.result.to_string().contains("approved"), "{n}: {:?}", ok.result);
            desk.drain(&w.bot).await.unwrap();
            let exemptions = w.store.exemptions(w.clock.now().timestamp()).await.unwrap();
            assert_eq!(exemptions.len(), 1, "{n}");
            assert_eq!((exemptions[0].check.as_str(), exemptions[0].run_id), ("description", run_id), "{n}");
            let back = watch.look(&w.store, &w.bot).await.unwrap();
            assert!(
                back.cleared.contains(&("component:default/b".to_string(), "level:basics".to_string())),
                "{n}: {:?}",
                back.cleared
            );
            let card = common::ask(&w.bot, "scorecard b").await;
            let text = switchboard::chat::render::json(&card);
            assert!(text.contains("b is being retired in January"), "{n}: {text}");
            // The exemption and the snooze are in the audit log.
            let audit = w.store.audit_entries(0, 100).await.unwrap();
            let actions: Vec<&str> = audit.iter().map(|e| e.event.action.as_str()).collect();
            assert!(actions.contains(&"nudge.snoozed"), "{n}: {actions:?}");
            // eve's refused snooze is recorded as refused, with its rule.
            let eve = audit
                .iter()
                .find(|e| e.event.action == "permission.denied")
                .unwrap_or_else(|| panic!("{n}: eve's refusal audited: {actions:?}"));
            assert_eq!(eve.event.actor, "user:default/eve", "{n}");
            assert_eq!(eve.event.detail["command"], "snooze", "{n}");
            assert!(eve.event.detail["rule"].as_str().unwrap().contains("Only members"), "{n}");
            assert!(actions.contains(&"step.succeeded"), "{n}: {actions:?}");
            w.store.close().await;
        }
    })
    .await;
}

/// The messages posted to the fake Slack.
fn posted(fake: &common::slack::FakeSlack) -> Vec<serde_json::Value> {
    fake.calls()
        .into_iter()
        .filter(|(m, _)| m == "chat.postMessage")
        .map(|(_, b)| b)
        .collect()
}

/// The catalog digests are made of: team-a, the standards team, and `ledger`.
fn digested(ledger: &str) -> [(&'static str, &str); 3] {
    [
        ("team.yaml", TEAM),
        ("standards.yaml", PLATFORM_TEAM),
        ("ledger.yaml", ledger),
    ]
}

/// Digests on Mondays at 09:00 in Berlin.
fn mondays_in_berlin() -> switchboard::config::Digests {
    switchboard::config::Digests {
        schedule: "0 9 * * MON".to_string().try_into().unwrap(),
        timezone: "Europe/Berlin".to_string().try_into().unwrap(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_digest_goes_once_per_team_and_period_says_what_changed_and_stays_silent_when_nothing_did()
 {
    within(async {
        for db in databases().await {
            let n = db.name;
            let ledger = component("ledger", "team-a", true, "");
            let files = digested(&ledger);
            let digests = mondays_in_berlin();
            // Monday 30 November, 10:00 in Berlin: this week's digest time has passed.
            let (w, fake, desk) = World::with_slack(&db.url, &files, "2026-11-30T09:00:00Z", |d| {
                d.with_digests(digests.clone())
            })
            .await;
            let watch = Watch::default();
            watch.look(&w.store, &w.bot).await.unwrap();
            // The first period after install is a baseline: nothing is sent.
            assert_eq!(desk.send_digests(&w.bot).await.unwrap(), 0, "{n}");
            assert!(posted(&fake).is_empty(), "{n}");

            // During the week ledger loses its description and search is added.
            w.clock.advance(chrono::Duration::days(2));
            w.edit(&[
                (
                    "ledger.yaml",
                    Some(&component("ledger", "team-a", false, "")),
                ),
                (
                    "search.yaml",
                    Some(&component("search", "team-a", true, "")),
                ),
            ])
            .await;
            watch.look(&w.store, &w.bot).await.unwrap();
            assert_eq!(
                desk.send_digests(&w.bot).await.unwrap(),
                0,
                "{n}: not yet Monday"
            );

            // Monday 7 December, 09:30 in Berlin: one digest, to team-a's channel.
            w.clock.set("2026-12-07T08:30:00Z".parse().unwrap());
            assert_eq!(desk.send_digests(&w.bot).await.unwrap(), 1, "{n}");
            let sent = posted(&fake);
            assert_eq!(sent.len(), 1, "{n}");
            assert_eq!(sent[0]["channel"], "C0TEAMA", "{n}");
            let text = sent[0].to_string();
            for says in [
                "Weekly digest",
                "1 better, 1 worse",
                "Regressed",
                "component:default/ledger: silver → bronze on basics",
                "Improved",
                "component:default/search was added",
                "trend",
            ] {
                assert!(text.contains(says), "{n}: `{says}` not in {text}");
            }
            // With its trend chart, shared beside it.
            let shared: Vec<serde_json::Value> = fake
                .calls()
                .into_iter()
                .filter(|(m, _)| m == "files.completeUploadExternal")
                .map(|(_, b)| b)
                .collect();
            assert_eq!(shared.len(), 1, "{n}");
            assert_eq!(shared[0]["channel_id"], "C0TEAMA", "{n}");
            assert!(
                fake.uploads.lock().unwrap()[0].starts_with(b"\x89PNG"),
                "{n}"
            );
            // Again, and after a restart (a new desk and bot on the same store): no second.
            assert_eq!(desk.send_digests(&w.bot).await.unwrap(), 0, "{n}");
            let (again, fake2, desk2) =
                World::with_slack(&db.url, &files, "2026-12-07T08:31:00Z", |d| {
                    d.with_digests(digests.clone())
                })
                .await;
            assert_eq!(desk2.send_digests(&again.bot).await.unwrap(), 0, "{n}");
            assert!(posted(&fake2).is_empty(), "{n}");
            assert_eq!(posted(&fake).len(), 1, "{n}");
            let rows = w.store.digests_of("2026-12-07T08:00Z").await.unwrap();
            assert_eq!(rows.len(), 1, "{n}: {rows:?}");
            assert_eq!(
                (rows[0].team.as_str(), rows[0].state.as_str()),
                ("group:default/team-a", "sent"),
                "{n}"
            );

            // A week in which nothing changed: silence, recorded as such.
            w.clock.set("2026-12-14T08:30:00Z".parse().unwrap());
            assert_eq!(desk.send_digests(&w.bot).await.unwrap(), 0, "{n}");
            let rows = w.store.digests_of("2026-12-14T08:00Z").await.unwrap();
            assert_eq!(rows[0].state, "silent", "{n}");
            assert_eq!(posted(&fake).len(), 1, "{n}");

            // A week whose send fails: kept pending and sent once on the next try.
            w.edit(&[("ledger.yaml", Some(&ledger))]).await;
            watch.look(&w.store, &w.bot).await.unwrap();
            w.clock.set("2026-12-21T08:30:00Z".parse().unwrap());
            fake.fail_next
                .store(10, std::sync::atomic::Ordering::SeqCst);
            assert_eq!(desk.send_digests(&w.bot).await.unwrap(), 0, "{n}");
            let rows = w.store.digests_of("2026-12-21T08:00Z").await.unwrap();
            assert_eq!(
                (rows[0].state.as_str(), rows[0].attempts),
                ("pending", 1),
                "{n}"
            );
            fake.fail_next.store(0, std::sync::atomic::Ordering::SeqCst);
            assert_eq!(desk.send_digests(&w.bot).await.unwrap(), 1, "{n}");
            let sent = posted(&fake);
            assert_eq!(sent.len(), 2, "{n}");
            assert!(sent[1].to_string().contains("bronze → silver"), "{n}");
            assert_eq!(desk.send_digests(&w.bot).await.unwrap(), 0, "{n}");
            w.store.close().await;
        }
    })
    .await;
}

/// A replica that dies after posting a digest and before recording it: the replica that takes
/// the scheduled work over finds the post by its key in the channel and records it; the team
/// gets one digest. A claim younger than a minute is left to its sender.
#[tokio::test]
async fn a_digest_whose_sender_died_after_posting_it_is_recorded_not_posted_again() {
    within(async {
        for db in databases().await {
            let n = db.name;
            let ledger = component("ledger", "team-a", true, "");
            let files = digested(&ledger);
            let digests = mondays_in_berlin();
            let (fake, api_url) = common::slack::FakeSlack::start().await;
            let mut w = World::new(&db.url, &files, "2026-11-30T09:00:00Z").await;
            let (bot, dying) = w
                .replica(&api_url, |d| {
                    d.with_digests(digests.clone()).with_failpoints(
                        switchboard::failpoints::Failpoints::parse("after_digest=error").unwrap(),
                    )
                })
                .await;
            w.bot = bot;
            let watch = Watch::default();
            watch.look(&w.store, &w.bot).await.unwrap();
            assert_eq!(
                dying.send_digests(&w.bot).await.unwrap(),
                0,
                "{n}: baseline"
            );
            w.clock.advance(chrono::Duration::days(2));
            w.edit(&[(
                "ledger.yaml",
                Some(&component("ledger", "team-a", false, "")),
            )])
            .await;
            watch.look(&w.store, &w.bot).await.unwrap();

            // Monday: the digest is posted, and its sender dies before recording that.
            w.clock.set("2026-12-07T08:30:00Z".parse().unwrap());
            assert!(dying.send_digests(&w.bot).await.is_err(), "{n}");
            assert_eq!(posted(&fake).len(), 1, "{n}");
            let period = "2026-12-07T08:00Z";
            let rows = w.store.digests_of(period).await.unwrap();
            assert_eq!(rows[0].state, "sending", "{n}: {rows:?}");

            // Another replica, at once: the claim is still its sender's.
            let (bot2, taking_over) = w
                .replica(&api_url, |d| d.with_digests(digests.clone()))
                .await;
            w.clock.advance(chrono::Duration::seconds(20));
            assert_eq!(taking_over.send_digests(&bot2).await.unwrap(), 0, "{n}");
            assert_eq!(
                w.store.digests_of(period).await.unwrap()[0].state,
                "sending"
            );
            // Two minutes on, it takes the digest over: finds the post, records it.
            w.clock.advance(chrono::Duration::minutes(2));
            assert_eq!(taking_over.send_digests(&bot2).await.unwrap(), 1, "{n}");
            let sent = posted(&fake);
            assert_eq!(sent.len(), 1, "{n}: one digest, {sent:?}");
            assert_eq!(
                sent[0]["metadata"]["event_payload"]["key"],
                format!("digest:group:default/team-a:{period}"),
                "{n}"
            );
            let looked = fake
                .calls()
                .iter()
                .filter(|(m, _)| m == "conversations.history")
                .count();
            assert_eq!(looked, 1, "{n}");
            let rows = w.store.digests_of(period).await.unwrap();
            assert_eq!(
                (rows[0].state.as_str(), rows[0].sent_to.as_deref()),
                ("sent", Some("slack:C0TEAMA")),
                "{n}: {rows:?}"
            );
            assert_eq!(taking_over.send_digests(&bot2).await.unwrap(), 0, "{n}");
            assert_eq!(posted(&fake).len(), 1, "{n}");

            // A sender that died after claiming and before posting: the post is made once.
            w.edit(&[("ledger.yaml", Some(&ledger))]).await;
            bot2.swap_snapshot(w.bot.snapshot());
            watch.look(&w.store, &bot2).await.unwrap();
            w.clock.set("2026-12-14T08:30:00Z".parse().unwrap());
            let (team, next) = ("group:default/team-a", "2026-12-14T08:00Z");
            let at = w.clock.now().timestamp();
            w.store
                .open_digest(team, next, "pending", at)
                .await
                .unwrap();
            let claim = w.store.claim_digest(team, next, at, at - 60).await.unwrap();
            let fresh = switchboard::store::DigestClaim::Taken {
                attempt: 1,
                look_since: None,
            };
            assert_eq!(claim, fresh, "{n}");
            assert_eq!(taking_over.send_digests(&bot2).await.unwrap(), 0, "{n}");
            w.clock.advance(chrono::Duration::minutes(2));
            assert_eq!(taking_over.send_digests(&bot2).await.unwrap(), 1, "{n}");
            let sent = posted(&fake);
            assert_eq!(sent.len(), 2, "{n}");
            assert!(sent[1].to_string().contains("bronze → silver"), "{n}");
            assert_eq!(w.store.digests_of(next).await.unwrap()[0].state, "sent");
            w.store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_wrong_answer_is_reported_with_its_source_told_to_its_team_once_and_closed_when_it_changes()
 {
    within(async {
        for db in databases().await {
            let n = db.name;
            let ledger = component(
                "ledger",
                "team-a",
                true,
                "  annotations:\n    backstage.io/edit-url: https://github.com/acme/ledger/edit/main/catalog-info.yaml\n",
            );
            let files = [
                ("team.yaml", TEAM),
                ("standards.yaml", PLATFORM_TEAM),
                ("ledger.yaml", ledger.as_str()),
            ];
            let (w, fake, desk) =
                World::with_slack(&db.url, &files, "2026-11-30T09:00:00Z", |d| d).await;
            // The owner answer carries a "Wrong?" button.
            let owner = click(
                &w.bot,
                "user:default/eve",
                switchboard::chat::Input::Text("who owns ledger".into()),
            )
            .await;
            let wrong = owner
                .actions
                .iter()
                .find(|a| a.label == "Wrong?")
                .expect("a Wrong? button");
            let report = click(
                &w.bot,
                "user:default/eve",
                switchboard::chat::Input::Action(wrong.id.encode()),
            )
            .await;
            let v = &report.result;
            assert_eq!(v["fact"], "owner", "{n}: {v}");
            assert_eq!(v["value"], "group:default/team-a", "{n}: {v}");
            assert!(
                v["source"].as_str().unwrap().contains("ledger.yaml:1"),
                "{n}: {v}"
            );
            assert_eq!(
                v["edit_url"], "https://github.com/acme/ledger/edit/main/catalog-info.yaml",
                "{n}: {v}"
            );
            assert_eq!(v["team_told"], true, "{n}: {v}");
            let told = posted(&fake);
            assert_eq!(told.len(), 1, "{n}");
            assert_eq!(told[0]["channel"], "C0TEAMA", "{n}");
            assert!(told[0].to_string().contains("may be wrong"), "{n}");
            // A second report of the same fact is recorded; the team is not told again.
            let again = click(
                &w.bot,
                "user:default/pat",
                switchboard::chat::Input::Text(
                    "report wrong ledger owner it moved to standards".into(),
                ),
            )
            .await;
            assert_eq!(again.result["already_open"], v["report"], "{n}: {:?}", again.result);
            assert_eq!(again.result["what"], "it moved to standards", "{n}");
            assert_eq!(posted(&fake).len(), 1, "{n}: told once");
            // An unknown entity is said so.
            let unknown = click(
                &w.bot,
                "user:default/pat",
                switchboard::chat::Input::Text("report wrong nosuchthing owner".into()),
            )
            .await;
            assert!(unknown.view.headline.contains("no entity"), "{n}");
            // The platform digest lists the open reports.
            let platform = desk.platform_digest(&w.bot, "2026-11-30T09:00Z").await.unwrap();
            assert_eq!(
                platform.result["open_reports"].as_array().unwrap().len(),
                2,
                "{n}: {}",
                platform.result
            );
            // Nothing changed: nothing closes. The owner changes: both close.
            assert_eq!(desk.sweep_reports(&w.bot).await.unwrap(), 0, "{n}");
            w.edit(&[(
                "ledger.yaml",
                Some(&ledger.replace("owner: team-a", "owner: standards")),
            )])
            .await;
            assert_eq!(desk.sweep_reports(&w.bot).await.unwrap(), 2, "{n}");
            let all = w
                .store
                .reports_about("component:default/ledger")
                .await
                .unwrap();
            assert!(all.iter().all(|r| r.closed_at.is_some()), "{n}: {all:?}");
            let audit = w.store.audit_entries(0, 100).await.unwrap();
            assert_eq!(
                audit
                    .iter()
                    .filter(|e| e.event.action == "report.filed")
                    .count(),
                2,
                "{n}"
            );
            w.store.close().await;
        }
    })
    .await;
}
