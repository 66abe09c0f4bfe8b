//! Sources: the systems of record Switchboard reads. Sources are read, never written.

pub mod backstage;
pub mod codeowners;
pub mod github;
pub mod local;
pub mod pagerduty;
pub mod rotations;
pub mod terraform;
