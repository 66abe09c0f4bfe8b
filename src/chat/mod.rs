//! Chat adapters: the console, Slack and Discord (its HTTP interactions so far), each translating its platform's
//! payloads into the core's `ChatEvent` and rendering `Reply`s; `render` holds the text and
//! JSON renderings every surface can use. The model itself is `crate::conversation`.

pub mod after_ack;
pub mod console;
pub mod discord;
pub mod render;
pub mod signing;
pub mod slack;

pub use crate::conversation::*;
