//! How the engine sees executors: a step's rendered inputs in, its outputs out. Executors do
//! I/O (`crate::executors`); the engine only calls them through this trait, so tests can count
//! their calls and every executor obeys one contract.

use serde_json::Value;

use crate::outbox::Sending;

/// One step to do.
pub struct Call<'a> {
    pub run_id: i64,
    pub step: &'a str,
    /// When the run was requested (seconds since the epoch): what an executor finds that is
    /// older was not made by it.
    pub requested_at: i64,
    /// The step's `with`, rendered.
    pub with: &'a Value,
}

/// An executor. It looks before acting: a step done before a crash (its effect made, its
/// record lost) and done again must not make the effect twice (an HTTP call carries an
/// `Idempotency-Key`; a registration replaces what the same run registered).
pub trait Executor: Send + Sync {
    /// The name steps use (`uses: http.request`).
    fn name(&self) -> &'static str;

    /// What the executor needs that is not configured (a secret, a token), said when the
    /// workflow is requested rather than after it is approved.
    fn missing(&self, _with: &Value) -> Option<String> {
        None
    }

    /// Whether a step of this executor changes the catalog (the bot reloads it after).
    fn changes_catalog(&self) -> bool {
        false
    }

    /// Whether a step of this executor changes how entities score (an exemption): the bot
    /// reads the exemptions again after.
    fn changes_scores(&self) -> bool {
        false
    }

    /// Does the step; its outputs (`steps['NAME'].outputs`), or why it failed.
    fn run<'a>(&'a self, call: &'a Call<'a>) -> Sending<'a, Value>;
}
