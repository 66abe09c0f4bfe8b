//! The console adapter: the same conversation as Slack or Discord, in a terminal.

use std::io::{BufRead, Write};

use super::{ChatEvent, render};
use crate::bot::Bot;

/// Reads questions line by line until end of input or `exit`, printing each answer.
pub fn run(
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
        let reply = bot.handle(&ChatEvent::console(user.clone(), text));
        writeln!(out, "{}", render::text(&reply))?;
        out.flush()?;
    }
    Ok(())
}
