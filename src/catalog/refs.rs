//! Entity references, parsed and printed exactly as Backstage does.
//!
//! A reference is `[kind:][namespace/]name`. Missing parts take the defaults of the field the
//! reference sits in (a bare `team-a` in `spec.owner` is `group:default/team-a`). References are
//! compared case-insensitively, so the canonical form used as a key is all lowercase.

use std::fmt;

/// The namespace every entity lives in unless it says otherwise.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A fully qualified entity reference in canonical (lowercase) form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// Why a reference string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("empty entity reference")]
    Empty,
    #[error("entity reference `{0}` has no kind and none can be assumed here")]
    NoKind(String),
    #[error("entity reference `{0}` is malformed (expected [kind:][namespace/]name)")]
    Malformed(String),
}

impl EntityRef {
    /// Builds a canonical reference from its parts.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        EntityRef {
            kind: kind.to_ascii_lowercase(),
            namespace: namespace.to_ascii_lowercase(),
            name: name.to_lowercase(),
        }
    }

    /// Parses `[kind:][namespace/]name`, filling missing parts from the defaults.
    ///
    /// Mirrors Backstage's `parseEntityRef`: the first `:` separates the kind, the first `/`
    /// after it the namespace; anything else is part of the name only if it holds neither.
    pub fn parse(
        input: &str,
        default_kind: Option<&str>,
        default_namespace: &str,
    ) -> Result<Self, RefError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(RefError::Empty);
        }
        let (kind, rest) = match s.split_once(':') {
            Some((k, r)) => (Some(k), r),
            None => (None, s),
        };
        let (namespace, name) = match rest.split_once('/') {
            Some((ns, n)) => (Some(ns), n),
            None => (None, rest),
        };
        if kind == Some("") || namespace == Some("") || name.is_empty() {
            return Err(RefError::Malformed(s.to_string()));
        }
        if name.contains(':') || name.contains('/') {
            return Err(RefError::Malformed(s.to_string()));
        }
        let kind = match kind.or(default_kind) {
            Some(k) => k,
            None => return Err(RefError::NoKind(s.to_string())),
        };
        Ok(EntityRef::new(
            kind,
            namespace.unwrap_or(default_namespace),
            name,
        ))
    }

    /// The canonical string, `kind:namespace/name`, used as the key everywhere.
    pub fn key(&self) -> String {
        self.to_string()
    }

    /// The short form people type: the name alone in the default namespace, with the kind only
    /// where the reader could not guess it.
    pub fn short(&self) -> String {
        if self.namespace == DEFAULT_NAMESPACE {
            format!("{}:{}", self.kind, self.name)
        } else {
            self.to_string()
        }
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.kind, self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str, k: Option<&str>) -> String {
        EntityRef::parse(s, k, DEFAULT_NAMESPACE).unwrap().key()
    }

    #[test]
    fn refs_resolve_like_backstage() {
        assert_eq!(p("team-a", Some("group")), "group:default/team-a");
        assert_eq!(p("default/team-a", Some("group")), "group:default/team-a");
        assert_eq!(p("user:guest", Some("group")), "user:default/guest");
        assert_eq!(
            p("user:development/guest", Some("group")),
            "user:development/guest"
        );
        assert_eq!(
            p("Component:Default/Artist-Lookup", None),
            "component:default/artist-lookup"
        );
    }

    #[test]
    fn malformed_refs_are_errors() {
        assert_eq!(
            EntityRef::parse("", Some("group"), "default"),
            Err(RefError::Empty)
        );
        assert!(matches!(
            EntityRef::parse("team-a", None, "default"),
            Err(RefError::NoKind(_))
        ));
        assert!(matches!(
            EntityRef::parse("group:/x", None, "default"),
            Err(RefError::Malformed(_))
        ));
        assert!(matches!(
            EntityRef::parse("a/b/c", Some("group"), "default"),
            Err(RefError::Malformed(_))
        ));
    }
}
