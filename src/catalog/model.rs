//! The catalog's data model: what one source hands over for one entity (`RawEntity`), where it
//! came from (`Provenance`), and the relation kinds that stitch entities together.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::refs::{DEFAULT_NAMESPACE, EntityRef, RefError};

/// Where a fact came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The source that produced it: `local`, later `github`, `backstage`, `pagerduty`.
    pub source: String,
    /// File path (local) or `repo/path` (GitHub) of the definition.
    pub location: String,
    /// 1-based line of the entity's document in that file (for sources that give no lines,
    /// such as Backstage's API, the document's position at that location).
    pub line: u32,
    /// Commit of the file, where known.
    pub commit: Option<String>,
    /// When it was read, seconds since the Unix epoch.
    pub fetched_at: i64,
    /// Since when a complete scan of its source no longer sees it (epoch seconds). An orphaned
    /// entity is still answered, labelled, until the source's grace period ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphaned_at: Option<i64>,
}

impl Provenance {
    /// `path:line @ commit`, as shown to people.
    pub fn describe(&self) -> String {
        let mut s = format!("{}:{}", self.location, self.line);
        if let Some(c) = &self.commit {
            s.push_str(&format!(" @ {}", &c[..c.len().min(7)]));
        }
        s
    }
}

/// One entity as a source delivered it: the document, its identity, and why it is degraded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RawEntity {
    /// Canonical reference, `kind:namespace/name`, lowercase.
    pub key: String,
    /// The entity document as parsed (apiVersion, kind, metadata, spec).
    pub body: Value,
    pub provenance: Provenance,
    /// Validation failures; empty means valid. A non-empty list quarantines the entity.
    pub reasons: Vec<String>,
    /// Ownership claims from other sources (CODEOWNERS, PagerDuty); `spec.owner` outranks them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<Claim>,
    /// Its row's number in the store (`0` until stored): definitions of one entity compete in
    /// this order, and the snapshot holds entities in it.
    #[serde(skip)]
    pub seq: i64,
}

/// A source's say on who owns an entity, as that source wrote the owners.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The source that claims: `codeowners`. `spec.owner` always decides; claims are shown
    /// beside it, never applied. (PagerDuty's service teams claim too, from the live rosters,
    /// and are not stored.)
    pub source: String,
    /// Owners as written: `@org/team`, `@login`, an e-mail, or a catalog reference.
    pub owners: Vec<String>,
    /// Where the claim was read, e.g. `acme/payments/.github/CODEOWNERS`.
    pub location: String,
    pub line: u32,
}

impl Claim {
    /// How people see the claim's origin: `CODEOWNERS (acme/payments/.github/CODEOWNERS:3)`.
    pub fn describe(&self) -> String {
        let what = match self.source.as_str() {
            "codeowners" => "CODEOWNERS",
            "pagerduty" => "PagerDuty",
            other => other,
        };
        if self.line > 0 {
            format!("{what} ({}:{})", self.location, self.line)
        } else {
            format!("{what} ({})", self.location)
        }
    }
}

impl RawEntity {
    pub fn is_quarantined(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// The identity of a document: kind, namespace and name, as written.
pub fn identity(body: &Value) -> Result<(String, String, String), String> {
    let kind = body
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.trim().is_empty())
        .ok_or("document has no `kind`, so it is not a catalog entity")?;
    let meta = body
        .get("metadata")
        .filter(|m| m.is_object())
        .ok_or("document has no `metadata` mapping, so it is not a catalog entity")?;
    let name = match meta.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => return Err("entity has no `metadata.name`".into()),
    };
    let namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_NAMESPACE)
        .to_string();
    Ok((kind.to_string(), namespace, name))
}

/// A relation between two entities. Each is stored in both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum RelKind {
    OwnedBy,
    OwnerOf,
    DependsOn,
    DependencyOf,
    ProvidesApi,
    ApiProvidedBy,
    ConsumesApi,
    ApiConsumedBy,
    PartOf,
    HasPart,
    MemberOf,
    HasMember,
    ChildOf,
    ParentOf,
}

impl RelKind {
    /// The same relation seen from the other end.
    pub fn inverse(self) -> RelKind {
        use RelKind::*;
        match self {
            OwnedBy => OwnerOf,
            OwnerOf => OwnedBy,
            DependsOn => DependencyOf,
            DependencyOf => DependsOn,
            ProvidesApi => ApiProvidedBy,
            ApiProvidedBy => ProvidesApi,
            ConsumesApi => ApiConsumedBy,
            ApiConsumedBy => ConsumesApi,
            PartOf => HasPart,
            HasPart => PartOf,
            MemberOf => HasMember,
            HasMember => MemberOf,
            ChildOf => ParentOf,
            ParentOf => ChildOf,
        }
    }

    /// Backstage's name for the relation.
    pub fn as_str(self) -> &'static str {
        use RelKind::*;
        match self {
            OwnedBy => "ownedBy",
            OwnerOf => "ownerOf",
            DependsOn => "dependsOn",
            DependencyOf => "dependencyOf",
            ProvidesApi => "providesApi",
            ApiProvidedBy => "apiProvidedBy",
            ConsumesApi => "consumesApi",
            ApiConsumedBy => "apiConsumedBy",
            PartOf => "partOf",
            HasPart => "hasPart",
            MemberOf => "memberOf",
            HasMember => "hasMember",
            ChildOf => "childOf",
            ParentOf => "parentOf",
        }
    }
}

/// A relation as written in a spec: which field, what it says, and what it resolves to.
#[derive(Clone, Debug)]
pub struct SpecRelation {
    pub field: &'static str,
    pub kind: RelKind,
    pub raw: String,
    pub target: Result<EntityRef, RefError>,
}

/// The spec fields that create relations, per kind: (field, relation, default kind of a bare name).
/// Backstage gives `dependsOn` and `dependencyOf` no default kind (validation says so); a bare
/// name there is still followed as a Component.
pub(crate) fn relation_fields(kind: &str) -> &'static [(&'static str, RelKind, &'static str)] {
    use RelKind::*;
    match kind {
        "component" => &[
            ("owner", OwnedBy, "group"),
            ("system", PartOf, "system"),
            ("subcomponentOf", PartOf, "component"),
            ("providesApis", ProvidesApi, "api"),
            ("consumesApis", ConsumesApi, "api"),
            ("dependsOn", DependsOn, "component"),
            ("dependencyOf", DependencyOf, "component"),
        ],
        "api" => &[("owner", OwnedBy, "group"), ("system", PartOf, "system")],
        "resource" => &[
            ("owner", OwnedBy, "group"),
            ("system", PartOf, "system"),
            ("dependsOn", DependsOn, "component"),
            ("dependencyOf", DependencyOf, "component"),
        ],
        "system" => &[("owner", OwnedBy, "group"), ("domain", PartOf, "domain")],
        "domain" => &[
            ("owner", OwnedBy, "group"),
            ("subdomainOf", PartOf, "domain"),
        ],
        "group" => &[
            ("parent", ChildOf, "group"),
            ("children", ParentOf, "group"),
            ("members", HasMember, "user"),
        ],
        "user" => &[("memberOf", MemberOf, "group")],
        _ => &[],
    }
}

/// Every relation the entity's spec declares, with bare names resolved against the entity's own
/// namespace and the field's default kind, as Backstage does.
pub fn spec_relations(body: &Value, kind_lower: &str, namespace: &str) -> Vec<SpecRelation> {
    let Some(spec) = body.get("spec") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for &(field, rel, default_kind) in relation_fields(kind_lower) {
        let values: Vec<&str> = match spec.get(field) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        for raw in values {
            out.push(SpecRelation {
                field,
                kind: rel,
                raw: raw.to_string(),
                target: EntityRef::parse(raw, Some(default_kind), namespace),
            });
        }
    }
    out
}

/// A string field of `metadata` or `spec`, if present and a string.
pub fn str_at<'a>(body: &'a Value, section: &str, field: &str) -> Option<&'a str> {
    body.get(section)?.get(field)?.as_str()
}
