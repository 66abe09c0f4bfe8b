//! Sources: the systems of record Switchboard reads. Sources are read, never written.

pub mod local;
pub mod rotations;
