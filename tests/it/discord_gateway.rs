//! Discord's gateway end to end, on SQLite and PostgreSQL: real serenity connected to the fake
//! gateway of `common::discord_gateway` (HELLO, IDENTIFY → READY, heartbeats and their ACKs,
//! RESUME → RESUMED, RECONNECT, INVALID_SESSION), dispatching Discord's recorded events;
//! answers go through the fake REST API of `discord.rs`, which records them.

use crate::common;
use crate::common::discord_gateway::{Control, FakeGateway, owner_question};
use crate::discord::{fixture, harness_with};

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard::chat::discord::app::DiscordSettings;

/// The bot's own user, as READY names it.
const BOT: &str = "344487830824943618";
const GUILD: &str = "694205451682978886";
const CHANNEL: &str = "727947198481956945";
const DM: &str = "319674150115610528";

/// `/sb ask owner name=NAME` in the channel, as the gateway dispatches it (token `t-ID`).
fn slash(id: &str, name: &str) -> Value {
    owner_question(id, crate::discord::APPLICATION, CHANNEL, name)
}

/// Discord's recorded MESSAGE_CREATE, made `text` in `channel` (a DM when `guild` is None).
fn message(id: &str, text: &str, channel: &str, guild: Option<&str>) -> Value {
    let mut d = fixture("gateway-dispatch-MESSAGE_CREATE-default.json")["d"].clone();
    d["id"] = json!(id);
    d["content"] = json!(text);
    d["channel_id"] = json!(channel);
    if text.contains(&format!("<@{BOT}>")) {
        d["mentions"] = json!([{"id": BOT, "username": "Reacton", "discriminator": "6221", "avatar": null, "bot": true}]);
    }
    match guild {
        Some(g) => d["guild_id"] = json!(g),
        None => {
            let o = d.as_object_mut().unwrap();
            o.remove("guild_id");
            o.remove("member");
        }
    }
    d
}

/// A fake gateway, and the harness's app connected to it with real serenity.
async fn connect(
    h: &crate::discord::Harness,
    inline: Duration,
) -> (FakeGateway, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let gw = FakeGateway::start(crate::discord::APPLICATION, BOT).await;
    *h.fake.gateway.lock().unwrap() = gw.url.clone();
    let settings = DiscordSettings {
        api_url: h.api_url.clone(),
        token: "fake-bot-token".into(),
        public_key: None,
        application_id: crate::discord::APPLICATION,
        inline,
        role_groups: Default::default(),
    };
    let app = h.app.clone();
    let client = tokio::spawn(async move { app.run_gateway(&settings, false).await });
    (gw, client)
}

/// Posts made in `channel` whose embed's title starts with `title`.
fn posts_in(calls: &[(String, String, Value)], channel: &str, title: &str) -> usize {
    calls
        .iter()
        .filter(|(m, p, b)| {
            m == "POST"
                && p == &format!("/api/v10/channels/{channel}/messages")
                && b["embeds"][0]["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(title))
        })
        .count()
}

#[tokio::test]
async fn the_gateway_answers_commands_mentions_and_dms_once_across_resumes_and_new_sessions() {
    common::within(async {
        for db in common::databases().await {
            let h = harness_with(db, &[], Duration::from_secs(2)).await;
            let (gw, client) = connect(&h, Duration::from_secs(2)).await;

            // It identifies with the intents it uses: guild messages and direct messages.
            let identify = gw.wait_sent(2, 1).await;
            assert_eq!(identify[0]["d"]["token"], "Bot fake-bot-token");
            assert_eq!(identify[0]["d"]["intents"], (1 << 9) | (1 << 12));

            // A slash command: acknowledged by REST with the answer, for the asker alone.
            gw.dispatch(
                "INTERACTION_CREATE",
                slash("817823320820547654", "artist-lookup"),
            );
            let callback = "/api/v10/interactions/817823320820547654/t-817823320820547654/callback";
            let calls = h
                .fake
                .wait_for("the command's acknowledgement", |c| {
                    c.iter().any(|(_, p, _)| p == callback)
                })
                .await;
            let (_, _, ack) = calls.iter().find(|(_, p, _)| p == callback).unwrap();
            assert_eq!(ack["type"], 4, "{ack}");
            assert_eq!(ack["data"]["flags"], 64);
            assert!(
                ack["data"]["embeds"][0]["title"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{ack}"))
                    .starts_with("artist-lookup is owned by"),
                "{ack}"
            );

            // A mention in a channel: answered in a thread started on it, with a nonce.
            let asked = format!("<@{BOT}> who owns artist-lookup");
            gw.dispatch(
                "MESSAGE_CREATE",
                message("732582724170285086", &asked, CHANNEL, Some(GUILD)),
            );
            let calls = h
                .fake
                .wait_for("the thread's answer", |c| {
                    c.iter()
                        .any(|(m, p, _)| m == "POST" && p.ends_with("/threads"))
                        && c.iter()
                            .filter(|(m, p, _)| m == "POST" && p.ends_with("/messages"))
                            .count()
                            == 1
                })
                .await;
            let (_, started, named) = calls
                .iter()
                .find(|(_, p, _)| p.ends_with("/threads"))
                .unwrap();
            assert_eq!(
                started,
                &format!("/api/v10/channels/{CHANNEL}/messages/732582724170285086/threads")
            );
            assert_eq!(named["name"], "who owns artist-lookup");
            let (_, in_thread, answer) = calls
                .iter()
                .find(|(m, p, _)| m == "POST" && p.ends_with("/messages"))
                .unwrap();
            assert!(in_thread.starts_with("/api/v10/channels/95"), "{in_thread}");
            assert!(
                answer["embeds"][0]["title"]
                    .as_str()
                    .unwrap()
                    .starts_with("artist-lookup is owned by")
            );
            assert_eq!(answer["enforce_nonce"], true);
            assert!(answer["nonce"].as_str().unwrap().len() <= 25);
            let thread = in_thread.split('/').nth(4).unwrap().to_string();

            // A direct message: answered in the DM.
            gw.dispatch(
                "MESSAGE_CREATE",
                message("732582724170285087", "who owns artist-lookup", DM, None),
            );
            h.fake
                .wait_for("the DM's answer", |c| {
                    posts_in(c, DM, "artist-lookup is owned by") == 1
                })
                .await;

            // An interaction serenity cannot read (no token) is dropped with a warning, and
            // the connection carries on.
            let mut broken = slash("817823320820547655", "artist-lookup");
            broken.as_object_mut().unwrap().remove("token");
            gw.dispatch("INTERACTION_CREATE", broken);
            // A message that does not mention the bot is not for it; a mention inside the
            // thread is answered there, without a second thread.
            gw.dispatch(
                "MESSAGE_CREATE",
                message(
                    "732582724170285088",
                    "who owns artist-lookup",
                    CHANNEL,
                    Some(GUILD),
                ),
            );
            let follow = format!("<@{BOT}> who owns wayback-search");
            gw.dispatch(
                "MESSAGE_CREATE",
                message("732582724170285089", &follow, &thread, Some(GUILD)),
            );
            h.fake
                .wait_for("the answer in the thread", |c| {
                    posts_in(c, &thread, "wayback-search is owned by") == 1
                })
                .await;

            // Discord asks for a reconnect; the client resumes, and the session's events come
            // again (as a second delivery would): each is still answered once.
            gw.replay_all.store(true, SeqCst);
            gw.send(Control::Reconnect);
            let resumed = gw.wait_sent(6, 1).await;
            assert_eq!(
                resumed[0]["d"]["session_id"],
                "c5adc7ce7f411cde10440df5f888dc22"
            );
            gw.replay_all.store(false, SeqCst);
            // Then Discord ends the session: the client identifies anew.
            gw.send(Control::Invalidate);
            gw.wait_sent(2, 2).await;
            // Every event the connections handed over is the signal that the replays were
            // taken: five before the reconnect (the unreadable one never is), the same five
            // replayed, and the one after the new session.
            gw.dispatch(
                "MESSAGE_CREATE",
                message("732582724170285090", "who owns artist-lookup", DM, None),
            );
            h.fake
                .wait_for("the answer after the new session", |c| {
                    posts_in(c, DM, "artist-lookup is owned by") >= 2
                })
                .await;
            tokio::time::timeout(Duration::from_secs(10), async {
                while h.app.gateway_events() < 11 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await
            .expect("every event handed over");
            tokio::time::timeout(Duration::from_secs(10), h.app.idle())
                .await
                .unwrap();
            let calls = h.fake.calls();
            assert_eq!(
                calls.iter().filter(|(_, p, _)| p == callback).count(),
                1,
                "the command was acknowledged once"
            );
            assert!(
                !calls
                    .iter()
                    .any(|(_, p, _)| p.contains("817823320820547655")),
                "the unreadable one was not answered"
            );
            assert_eq!(
                calls
                    .iter()
                    .filter(|(_, p, _)| p.ends_with("/threads"))
                    .count(),
                1,
                "one thread"
            );
            assert_eq!(posts_in(&calls, &thread, "artist-lookup is owned by"), 1);
            assert_eq!(posts_in(&calls, &thread, "wayback-search is owned by"), 1);
            assert_eq!(
                posts_in(&calls, DM, "artist-lookup is owned by"),
                2,
                "the first DM once, and the last"
            );
            // Heartbeats are sent and acknowledged: the connection is not dropped for them.
            gw.wait_sent(1, 1).await;
            assert_eq!(gw.sent(6).len(), 1, "resumed once");
            assert_eq!(
                gw.sent(2).len(),
                2,
                "identified twice: at the start and after op 9"
            );
            client.abort();
        }
    })
    .await;
}

#[tokio::test]
async fn over_the_gateway_an_answer_not_ready_in_time_defers_then_edits_the_response() {
    common::within(async {
        let db = common::databases().await.into_iter().next().unwrap();
        // Nothing is ready in time: every acknowledgement defers.
        let h = harness_with(db, &[], Duration::ZERO).await;
        let (gw, client) = connect(&h, Duration::ZERO).await;
        gw.wait_sent(2, 1).await;
        gw.dispatch(
            "INTERACTION_CREATE",
            slash("817823320820547660", "artist-lookup"),
        );
        let edited = format!(
            "/api/v10/webhooks/{}/t-817823320820547660/messages/@original",
            crate::discord::APPLICATION
        );
        let calls = h
            .fake
            .wait_for("the edit of the deferral", |c| {
                c.iter().any(|(m, p, _)| m == "PATCH" && *p == edited)
            })
            .await;
        let callback = "/api/v10/interactions/817823320820547660/t-817823320820547660/callback";
        let (_, _, ack) = calls.iter().find(|(_, p, _)| p == callback).unwrap();
        assert_eq!(ack, &json!({"type": 5, "data": {"flags": 64}}));
        let (_, _, edit) = calls.iter().find(|(_, p, _)| *p == edited).unwrap();
        assert!(
            edit["embeds"][0]["title"]
                .as_str()
                .unwrap()
                .starts_with("artist-lookup is owned by"),
            "{edit}"
        );
        client.abort();
    })
    .await;
}

#[tokio::test]
async fn a_rate_limited_post_is_waited_out_and_made_once() {
    common::within(async {
        let db = common::databases().await.into_iter().next().unwrap();
        let h = harness_with(db, &[], Duration::from_secs(2)).await;
        h.fake.limit_next_calls();
        let started = std::time::Instant::now();
        let reply = switchboard::chat::Reply::new(switchboard::conversation::Intent::Help, "");
        let at = switchboard::outbox::Outbox::post(
            &h.app,
            &switchboard::outbox::Destination::Channel(CHANNEL.into()),
            &reply,
        )
        .await
        .unwrap();
        // Each 429's retry_after (0.2 s) was waited out before the call was made again.
        assert!(started.elapsed() >= Duration::from_millis(400));
        let calls = h.fake.calls();
        // Two 429s, then the post: made once.
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert!(
            calls
                .iter()
                .all(|(m, p, _)| m == "POST" && p.ends_with(&format!("{CHANNEL}/messages")))
        );
        assert_eq!(at.channel, CHANNEL);
    })
    .await;
}

/// Where no thread can be started, a mention is answered in the channel as a reply; a reply to
/// that answer (Discord's recorded reply, type 19) is a follow-up about the same entity, and so
/// is a reply to the answer after it: the reply chain is the conversation.
#[tokio::test]
async fn a_reply_chain_in_a_channel_is_one_conversation() {
    common::within(async {
        let db = common::databases().await.remove(0);
        let h = harness_with(db, &[], Duration::from_secs(2)).await;
        h.fake.no_threads.store(true, SeqCst);
        let (gw, client) = connect(&h, Duration::from_secs(2)).await;
        gw.wait_sent(2, 1).await;

        let answers = |c: &[(String, String, Value)]| -> Vec<(String, Value)> {
            c.iter()
                .filter(|(m, p, _)| {
                    m == "POST" && p == &format!("/api/v10/channels/{CHANNEL}/messages")
                })
                .map(|(_, _, b)| (b["message_reference"]["message_id"].as_str().unwrap_or("").to_string(), b.clone()))
                .collect()
        };
        let asked = format!("<@{BOT}> who owns artist-lookup");
        gw.dispatch(
            "MESSAGE_CREATE",
            message("732582724170285091", &asked, CHANNEL, Some(GUILD)),
        );
        h.fake
            .wait_for("the answer in the channel", |c| answers(c).len() == 1)
            .await;
        // A reply to that answer, as Discord sends it: the answer (by the bot) inside,
        // itself a reply to the question.
        let reply = |id: &str, text: &str, to_answer_of: &str| {
            let mut d = fixture("gateway-dispatch-MESSAGE_CREATE-reply.json")["d"].clone();
            d["id"] = json!(id);
            d["content"] = json!(format!("<@{BOT}> {text}"));
            d["channel_id"] = json!(CHANNEL);
            d["guild_id"] = json!(GUILD);
            d["message_reference"] = json!({"message_id": "900000000000000777", "channel_id": CHANNEL, "guild_id": GUILD});
            d["referenced_message"]["id"] = json!("900000000000000777");
            d["referenced_message"]["channel_id"] = json!(CHANNEL);
            d["referenced_message"]["message_reference"] =
                json!({"message_id": to_answer_of, "channel_id": CHANNEL, "guild_id": GUILD});
            d
        };
        gw.dispatch(
            "MESSAGE_CREATE",
            reply("732582724170285092", "and who is on call?", "732582724170285091"),
        );
        h.fake
            .wait_for("the first follow-up", |c| answers(c).len() == 2)
            .await;
        gw.dispatch(
            "MESSAGE_CREATE",
            reply("732582724170285093", "what depends on it?", "732582724170285092"),
        );
        let calls = h
            .fake
            .wait_for("the two follow-ups", |c| answers(c).len() == 3)
            .await;
        let got = answers(&calls);
        for (to, body) in &got[1..] {
            assert!(
                body.to_string().contains("About artist-lookup, from earlier in this thread."),
                "{to}: {body}"
            );
        }
        assert_eq!(got[1].0, "732582724170285092");
        assert_eq!(got[2].0, "732582724170285093");
        client.abort();
    })
    .await;
}
