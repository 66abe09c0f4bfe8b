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

    /// Splits `[kind:][namespace/]name` exactly as Backstage's `parseRefString` does, without
    /// trimming: the first `:` ends the kind unless a `/` comes before it, the first `/` ends the
    /// namespace, and the rest (which may hold `:` or `/`) is the name. No part may be empty.
    pub fn split(s: &str) -> Result<(Option<&str>, Option<&str>, &str), RefError> {
        if s.is_empty() {
            return Err(RefError::Empty);
        }
        let slash = s.find('/');
        let colon = s.find(':').filter(|&c| slash.is_none_or(|sl| sl > c));
        let kind = colon.map(|c| &s[..c]);
        let namespace = slash.map(|sl| &s[colon.map_or(0, |c| c + 1)..sl]);
        let name = &s[colon.map_or(0, |c| c + 1).max(slash.map_or(0, |sl| sl + 1))..];
        if kind == Some("") || namespace == Some("") || name.is_empty() {
            return Err(RefError::Malformed(s.to_string()));
        }
        Ok((kind, namespace, name))
    }

    /// Parses `[kind:][namespace/]name` (surrounding white space ignored), filling missing parts
    /// from the defaults, as Backstage's `parseEntityRef` does.
    pub fn parse(
        input: &str,
        default_kind: Option<&str>,
        default_namespace: &str,
    ) -> Result<Self, RefError> {
        let s = input.trim();
        let (kind, namespace, name) = Self::split(s)?;
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
            EntityRef::parse("a/", Some("group"), "default"),
            Err(RefError::Malformed(_))
        ));
    }

    #[test]
    fn the_name_keeps_what_backstage_keeps() {
        // A `/` before the first `:` means there is no kind; the rest is the name.
        assert_eq!(p("a/b:c", Some("group")), "group:a/b:c");
        assert_eq!(p("a/b/c", Some("group")), "group:a/b/c");
        assert_eq!(p("user:a:b", None), "user:default/a:b");
    }
}
