//! Discord: the second adapter over the same core. `commands` turns the grammar table into
//! the `/sb` slash command (subcommand groups within Discord's limits) and an invocation back
//! into the question it stands for, so a new question appears in Discord without Discord code;
//! `render` draws a `Reply` as embeds and buttons within Discord's limits; `app` answers
//! interactions, mentions and direct messages, and `outbox` posts and edits cards (the
//! outbound port), both through `rest`; they reach it through the `gateway` (the default) or the HTTP
//! `interactions` endpoint, whose requests `signature` checks.

pub mod app;
pub mod commands;
pub mod gateway;
pub mod interactions;
pub mod outbox;
pub mod render;
pub mod rest;
pub mod signature;
