//! Compliance answers: which entities use a package at a version, read from SBOMs. So far
//! the parts: SBOMs read (SPDX and CycloneDX JSON), versions ordered as each ecosystem orders
//! them, and the ranges a question names.

use crate::catalog::Entity;

/// Where an entity's SBOMs are found: `local:` and the directory of its file, or `github:`
/// and the repository it was read from (`owner/name`, lowercase). Only where the entity was
/// read counts: an annotation naming another repository never lends it that one's SBOM.
pub fn scope_of(e: &Entity) -> Option<String> {
    match &*e.origin.source {
        "local" => Some(local_scope(&crate::sources::local::scope_of(
            &e.origin.location,
        ))),
        "github" => {
            let mut parts = e.origin.location.splitn(3, '/');
            match (parts.next(), parts.next()) {
                (Some(o), Some(n)) => Some(github_scope(&format!("{o}/{n}"))),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The scope of SBOMs in a local directory.
pub fn local_scope(dir: &str) -> String {
    format!("local:{dir}")
}

/// The scope of a GitHub repository's SBOM.
pub fn github_scope(full: &str) -> String {
    format!("github:{}", full.to_lowercase())
}

pub mod maven;
pub mod packages;
pub mod sbom;
pub mod version;
