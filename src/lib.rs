//! Switchboard: the chat-ops front door of an internal developer portal.
//!
//! Layers (see README.md, "Architecture"): `sources` read the systems of record; `catalog`
//! parses, validates and relates what they hold; `store` keeps the durable copy; `sync` moves
//! data from sources through the store into a `Snapshot`; `ask` answers questions from the
//! snapshot; `conversation` is the core's model of what comes in and goes out; `bot` is the one
//! entry point; `chat` holds the adapters; `outbox` is how the core posts unprompted.
//! Self-service: `workflows` decides (definitions, permissions, policy, the run states),
//! `desk` acts on it (requests, decisions, the worker) through `executors`, and `audit` chains
//! the record of it. `feed` keeps several replicas on one database answering alike.

pub mod app;
pub mod ask;
pub mod audit;
pub mod background;
pub mod bot;
pub mod catalog;
pub mod changes;
pub mod chat;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod conversation;
pub mod desk;
pub mod executors;
pub mod failpoints;
pub mod feed;
pub mod fuzz;
pub mod github;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod oncall;
pub mod outbox;
pub mod pictures;
pub mod scorecards;
pub mod sources;
pub mod status;
pub mod store;
pub mod sync;
pub mod usage;
pub mod workflows;

pub use bot::Bot;
pub use chat::{ChatEvent, Intent, Reply};
