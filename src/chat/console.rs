//! The console adapter: the same conversation as Slack or Discord, in a terminal.

use std::io::{BufRead, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{ChatEvent, Platform, Reply, render};
use crate::bot::Bot;
use crate::outbox::{Destination, MessageRef, Outbox, Recipient, Sending};

/// Reads questions line by line until end of input or `exit`, printing each answer. Runs on
/// a thread that may block (reading a terminal); answers are awaited on `runtime`.
pub fn run(
    runtime: &tokio::runtime::Handle,
    bot: &Bot,
    user: Option<String>,
    input: impl BufRead,
    mut out: impl Write,
    prompt: bool,
) -> std::io::Result<()> {
    if prompt {
        writeln!(
            out,
            "Switchboard — ask about the catalog (`help` lists questions, `exit` leaves)."
        )?;
    }
    // One session is one conversation: follow-ups refer to its last answer.
    static SESSIONS: AtomicU64 = AtomicU64::new(0);
    let session = format!(
        "{}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros(),
        SESSIONS.fetch_add(1, Ordering::Relaxed)
    );
    let mut lines = input.lines();
    loop {
        if prompt {
            write!(out, "> ")?;
            out.flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if matches!(text, "exit" | "quit") {
            break;
        }
        let mut event = ChatEvent::console(user.clone(), text, bot.now());
        event.conversation.follow_up = Some(session.clone());
        let reply = runtime
            .block_on(bot.handle(event))
            .unwrap_or_else(|f| f.reply());
        writeln!(out, "{}", render::text_saving_pictures(&reply))?;
        out.flush()?;
    }
    Ok(())
}

/// The console as the outbound port: posts and updates are printed, each with where it went.
pub struct ConsoleOutbox<W> {
    out: Mutex<W>,
    next: AtomicU64,
}

impl<W: Write + Send> ConsoleOutbox<W> {
    pub fn new(out: W) -> Self {
        ConsoleOutbox {
            out: Mutex::new(out),
            next: AtomicU64::new(1),
        }
    }

    fn print(&self, heading: &str, reply: &Reply) -> anyhow::Result<()> {
        let mut out = self.out.lock().expect("console output");
        writeln!(out, "{heading}\n{}", render::text(reply))?;
        Ok(out.flush()?)
    }
}

impl<W: Write + Send> Outbox for ConsoleOutbox<W> {
    fn post<'a>(&'a self, to: &'a Destination, reply: &'a Reply) -> Sending<'a, MessageRef> {
        Box::pin(async move {
            let channel = match to {
                Destination::Channel(c) => c.clone(),
                Destination::Thread { channel, thread } => format!("{channel} (thread {thread})"),
                Destination::User(u) => format!("dm:{u}"),
            };
            let id = self.next.fetch_add(1, Ordering::SeqCst).to_string();
            self.print(&format!("── to {channel} (message {id})"), reply)?;
            Ok(MessageRef {
                platform: Platform::Console,
                channel,
                id,
            })
        })
    }

    fn update<'a>(&'a self, at: &'a MessageRef, reply: &'a Reply) -> Sending<'a, ()> {
        Box::pin(async move {
            self.print(
                &format!("── message {} in {} is now", at.id, at.channel),
                reply,
            )
        })
    }

    /// At the console, people are written to by their catalog reference.
    fn reach<'a>(&'a self, who: &'a Recipient) -> Sending<'a, Option<String>> {
        Box::pin(async move { Ok(Some(who.user.clone())) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Intent;

    #[tokio::test]
    async fn the_console_prints_posts_and_updates_with_where_they_went() {
        let outbox = ConsoleOutbox::new(Vec::new());
        let mut card = Reply::new(Intent::Help, "");
        card.view.headline = "Run 42 awaits approval".into();
        let at = outbox
            .post(&Destination::User("user:default/guest".into()), &card)
            .await
            .unwrap();
        assert_eq!(
            (at.channel.as_str(), at.id.as_str()),
            ("dm:user:default/guest", "1")
        );
        card.view.headline = "Run 42 approved".into();
        outbox.update(&at, &card).await.unwrap();
        let printed = String::from_utf8(outbox.out.into_inner().unwrap()).unwrap();
        assert!(
            printed.contains("── to dm:user:default/guest (message 1)\nRun 42 awaits approval")
                && printed
                    .contains("── message 1 in dm:user:default/guest is now\nRun 42 approved"),
            "{printed}"
        );
    }
}
