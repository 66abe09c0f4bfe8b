//! Discord: the second adapter over the same core. `commands` turns the grammar table into
//! the `/sb` slash command (subcommand groups within Discord's limits) and an invocation back
//! into the question it stands for, so a new question appears in Discord without Discord code;
//! `render` draws a `Reply` as embeds and buttons within Discord's limits; `signature` checks
//! HTTP interactions, which `interactions` answers (and posts and edits cards: the outbound
//! port).

pub mod commands;
pub mod interactions;
pub mod render;
pub mod signature;
