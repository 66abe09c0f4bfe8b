//! The catalog: Backstage-compatible entities, parsed, validated, related and searchable.
//!
//! Data enters as file bytes (`parse`), becomes `RawEntity` records with provenance and
//! validation reasons (`ingest`), and is frozen into a `Snapshot` that answers every question
//! without I/O. Nothing here knows about chat platforms or databases.

pub mod apidef;
pub mod facts;
pub mod graph;
pub mod ingest;
pub mod keys;
pub mod links;
pub mod list;
pub mod model;
pub mod parse;
pub mod patch;
pub mod placeholders;
pub mod refs;
pub mod search;
pub mod snapshot;
pub mod validate;

pub use model::{Provenance, RawEntity, RelKind};
pub use refs::EntityRef;
pub use snapshot::{Entity, Id, Snapshot};
