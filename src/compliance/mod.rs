//! Compliance answers: which entities use a package at a version, read from SBOMs. So far
//! the parts: SBOMs read (SPDX and CycloneDX JSON), versions ordered as each ecosystem orders
//! them, and the ranges a question names.

pub mod maven;
pub mod packages;
pub mod sbom;
pub mod version;
