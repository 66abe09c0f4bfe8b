//! Asking: the grammar, entity resolution, and the answers built from the snapshot.

pub mod answers;
pub mod changes;
pub mod docs;
pub mod evidence;
pub mod grammar;
pub mod incident;
pub mod resolve;
pub mod time;
pub mod uses;

pub use answers::{Context, answer, complete};
pub use grammar::{Question, parse};
