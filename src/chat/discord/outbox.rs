//! Discord as the outbound port: a channel message, a DM (the DM channel opened first), a
//! reply under a message posted earlier, an edit of a message posted earlier; regular bot
//! messages, so an approval card can be edited long after the 15 minutes an interaction's
//! response lives. Every post carries a nonce made of where it goes and what it says (or, for a
//! post made once, its key), with `enforce_nonce`: the same post made again within Discord's
//! window (a retry after a lost answer, a digest taken over) gets the message the first one
//! made.

use anyhow::Context as _;
use serde_json::json;

use super::app::{DiscordApp, snowflake};
use super::render::{self, MAX_CUSTOM_ID};
use super::rest::nonce;
use crate::chat::Reply;
use crate::outbox::{Destination, MessageRef, Once, Outbox, Recipient, Sending};

impl Outbox for DiscordApp {
    fn post<'a>(&'a self, to: &'a Destination, reply: &'a Reply) -> Sending<'a, MessageRef> {
        self.post_keyed(to, reply, None)
    }

    /// Discord keeps no marks to look for; the nonce is made of the key, so a post taken over
    /// within Discord's window of a few minutes gets the message the first one made.
    fn post_once<'a>(
        &'a self,
        to: &'a Destination,
        reply: &'a Reply,
        once: Once<'a>,
    ) -> Sending<'a, MessageRef> {
        self.post_keyed(to, reply, Some(once.key))
    }

    fn update<'a>(&'a self, at: &'a MessageRef, reply: &'a Reply) -> Sending<'a, ()> {
        Box::pin(async move {
            let mut reply = reply.clone();
            self.inner.bot.fit_buttons(&mut reply, MAX_CUSTOM_ID).await;
            let body = render::message(&reply, false).body();
            self.inner
                .rest
                .patch(
                    &format!(
                        "/channels/{}/messages/{}",
                        snowflake(&at.channel, "channel")?,
                        snowflake(&at.id, "message")?
                    ),
                    &body,
                )
                .await
                .context("editing a Discord message")?;
            Ok(())
        })
    }

    /// By the `discord.com/user-id` annotation (Discord gives bots no e-mails).
    fn reach<'a>(&'a self, who: &'a Recipient) -> Sending<'a, Option<String>> {
        Box::pin(async move { Ok(who.annotation("discord.com/user-id").map(str::to_string)) })
    }
}

impl DiscordApp {
    /// Posts `reply` with a nonce made of where it goes and `once` (else of what it says).
    fn post_keyed<'a>(
        &'a self,
        to: &'a Destination,
        reply: &'a Reply,
        once: Option<&'a str>,
    ) -> Sending<'a, MessageRef> {
        Box::pin(async move {
            let mut reply_to = None;
            let channel = match to {
                Destination::Channel(c) => snowflake(c, "channel")?.to_string(),
                // Under a message posted earlier (a card's reminder): a reply to it.
                Destination::Thread { channel, thread } => {
                    reply_to = Some(snowflake(thread, "message")?.to_string());
                    snowflake(channel, "channel")?.to_string()
                }
                Destination::User(u) => {
                    let user = snowflake(u, "user")?;
                    let dm = self
                        .inner
                        .rest
                        .post("/users/@me/channels", &json!({"recipient_id": user}))
                        .await
                        .context("opening a DM channel")?;
                    dm["id"]
                        .as_str()
                        .context("a DM channel without an id")?
                        .to_string()
                }
            };
            let mut reply = reply.clone();
            self.inner.bot.fit_buttons(&mut reply, MAX_CUSTOM_ID).await;
            let mut body = render::message(&reply, false).body();
            if let Some(message) = reply_to {
                body["message_reference"] =
                    json!({"message_id": message, "fail_if_not_exists": false});
            }
            let key = match once {
                Some(key) => nonce(&[&channel, key]),
                None => nonce(&[&channel, &body.to_string()]),
            };
            self.post_body(&channel, body, &key, &reply.attachments)
                .await
        })
    }
}
