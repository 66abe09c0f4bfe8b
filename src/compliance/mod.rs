//! Compliance answers: which entities use a package at a version, read from SBOMs. So far
//! the versions: how each ecosystem orders them, and the ranges a question names.

pub mod maven;
pub mod version;
