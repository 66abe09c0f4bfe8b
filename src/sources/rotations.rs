//! The static on-call rotations file (`oncall.rotations`, default `config/oncall.yaml`): read
//! from disk into the core's `Rotations`. A missing file means no rotations.

use std::path::Path;

use anyhow::{Context, Result};

pub use crate::oncall::rotations::{Rotations, Shift};

/// Reads the rotations file; none when it does not exist.
pub fn load(path: &Path) -> Result<Rotations> {
    let source = path.display().to_string();
    if !path.exists() {
        return Ok(Rotations {
            source,
            rotations: Vec::new(),
        });
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read on-call rotations from {source}"))?;
    Rotations::parse(&text, &source)
}
