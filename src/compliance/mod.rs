//! Compliance answers: which entities use a package at a version, read from SBOMs. So far
//! the parts: SBOMs read (SPDX and CycloneDX JSON), versions ordered as each ecosystem orders
//! them, and the ranges a question names.

use crate::catalog::Entity;

/// Where an entity's SBOMs are found: the directory of its local file, or its GitHub
/// repository (`owner/name`, lowercase).
pub fn scope_of(e: &Entity) -> Option<String> {
    match &*e.origin.source {
        "local" => Some(crate::sources::local::scope_of(&e.origin.location)),
        "github" => crate::changes::repo_of(e),
        _ => None,
    }
}

pub mod maven;
pub mod packages;
pub mod sbom;
pub mod version;
