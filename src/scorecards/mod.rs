//! Scorecards: the standards the platform team writes down (`definition`), every entity
//! scored against them from the snapshot with a fix for each failing check (`score`), and the
//! answers that show them (`answers`: `scorecard X`, `scorecard team T`, `completeness`).

pub mod answers;
pub mod definition;
pub mod digest;
pub mod exemptions;
pub mod score;
pub mod watch;

pub use definition::{Builtin, Scorecard, load};

/// The scorecards of `path` as start-up reads them: none when the file does not exist; every
/// problem logged with its file and line, and a scorecard with problems left out (the rest
/// still score, and `switchboard check-scorecards` shows the same list).
pub fn load_configured(path: &str) -> Vec<Scorecard> {
    if path.is_empty() {
        return Vec::new();
    }
    if !std::path::Path::new(path).exists() {
        tracing::warn!(path, "scorecards.path names no file: nothing is scored");
        return Vec::new();
    }
    let (cards, problems) = load(&[path.to_string()]);
    for (file, f) in &problems {
        tracing::error!(
            "{file}:{}: {} (that scorecard is left out)",
            f.line,
            f.message
        );
    }
    tracing::info!(scorecards = cards.len(), path, "scorecards loaded");
    cards
}
