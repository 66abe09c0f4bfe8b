//! Switchboard's integration tests, one binary: each module exercises one part end to end on
//! real parts (SQLite files, PostgreSQL when `SWITCHBOARD_TEST_POSTGRES_URL` is set, local fakes
//! of the external services driven through the real client crates).

mod common;

mod ask;
mod backstage;
mod catalog;
mod cli;
mod codeowners;
mod compliance;
mod discord;
mod discord_gateway;
mod faults;
mod fuzz;
mod github;
mod golden;
mod hostile;
mod incident;
mod pagerduty;
mod patch;
mod replicas;
mod scorecards;
mod slack;
mod slack_socket;
mod soak;
mod store;
mod terraform;
mod usage;
mod watch;
mod workflows;
