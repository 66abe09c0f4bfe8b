//! Backstage's validation rules for entities: formats of names, namespaces, kinds, labels and
//! tags, and the spec fields each kind requires. A failing entity is quarantined, not dropped.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::model::spec_relations;

/// One validation failure, with the dotted path of the field it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub field: String,
    pub message: String,
}

impl Issue {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            field: field.into(),
            message: message.into(),
        }
    }
}

static OBJECT_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").unwrap());
static DNS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:-[a-z0-9]+)*$").unwrap());
static DNS_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)*$").unwrap()
});
static KIND: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-zA-Z][a-z0-9A-Z]*$").unwrap());
static API_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[a-z0-9A-Z]+$")
        .unwrap()
});
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9:+#]+(\-[a-z0-9:+#]+)*$").unwrap());

fn valid_object_name(s: &str) -> bool {
    (1..=63).contains(&s.len()) && OBJECT_NAME.is_match(s)
}

fn valid_namespace(s: &str) -> bool {
    (1..=63).contains(&s.len()) && DNS_LABEL.is_match(s)
}

/// Label and annotation keys: `[prefix/]name`, prefix a DNS subdomain of at most 253 characters.
fn valid_key(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => {
            prefix.len() <= 253 && DNS_SUBDOMAIN.is_match(prefix) && valid_object_name(name)
        }
        None => valid_object_name(s),
    }
}

/// The spec fields each kind must have, and whether each is a string or a list.
fn required_spec(kind: &str) -> &'static [(&'static str, Shape)] {
    use Shape::*;
    match kind {
        "component" => &[("type", Str), ("lifecycle", Str), ("owner", Str)],
        "api" => &[("type", Str), ("lifecycle", Str), ("owner", Str)],
        "resource" => &[("type", Str), ("owner", Str)],
        "system" | "domain" => &[("owner", Str)],
        "group" => &[("type", Str), ("children", List)],
        "user" => &[("memberOf", List)],
        _ => &[],
    }
}

#[derive(Clone, Copy)]
enum Shape {
    Str,
    List,
}

/// Checks an entity document against Backstage's rules. Returns every failure, not just the first.
pub fn validate(body: &Value) -> Vec<Issue> {
    let mut issues = Vec::new();
    if !body.is_object() {
        issues.push(Issue::new("", "document is not a mapping"));
        return issues;
    }
    match body.get("apiVersion").and_then(Value::as_str) {
        None => issues.push(Issue::new("apiVersion", "`apiVersion` is required")),
        Some(v) if !v.contains('/') || !API_VERSION.is_match(v) => issues.push(Issue::new(
            "apiVersion",
            format!("`apiVersion` \"{v}\" is not of the form group/version"),
        )),
        _ => {}
    }
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.len() > 63 || !KIND.is_match(kind) {
        issues.push(Issue::new(
            "kind",
            format!("`kind` \"{kind}\" is not a valid kind"),
        ));
    }
    let Some(meta) = body.get("metadata").and_then(Value::as_object) else {
        issues.push(Issue::new("metadata", "`metadata` must be a mapping"));
        return issues;
    };
    match meta.get("name") {
        Some(Value::String(n)) if valid_object_name(n) => {}
        Some(Value::String(n)) => issues.push(Issue::new(
            "metadata.name",
            format!(
                "`metadata.name` \"{n}\" is not valid: 1-63 characters of [a-z0-9A-Z-_.], starting and ending with a letter or digit"
            ),
        )),
        Some(other) => issues.push(Issue::new(
            "metadata.name",
            format!("`metadata.name` must be a string, not {}", type_name(other)),
        )),
        None => issues.push(Issue::new("metadata.name", "`metadata.name` is required")),
    }
    match meta.get("namespace") {
        None => {}
        Some(Value::String(ns)) if valid_namespace(ns) => {}
        Some(v) => issues.push(Issue::new(
            "metadata.namespace",
            format!(
                "`metadata.namespace` {} is not valid: lowercase letters, digits and dashes, at most 63",
                short(v)
            ),
        )),
    }
    for field in ["title", "description"] {
        if let Some(v) = meta.get(field).filter(|v| !v.is_string() && !v.is_null()) {
            issues.push(Issue::new(
                format!("metadata.{field}"),
                format!("`metadata.{field}` must be a string, not {}", type_name(v)),
            ));
        }
    }
    if let Some(labels) = meta.get("labels") {
        match labels.as_object() {
            None if !labels.is_null() => issues.push(Issue::new(
                "metadata.labels",
                "`metadata.labels` must be a mapping",
            )),
            None => {}
            Some(map) => {
                for (k, v) in map {
                    if !valid_key(k) {
                        issues.push(Issue::new(
                            "metadata.labels",
                            format!("label key \"{k}\" is not valid"),
                        ));
                    }
                    match v.as_str() {
                        Some(s) if s.is_empty() || valid_object_name(s) => {}
                        _ => issues.push(Issue::new(
                            "metadata.labels",
                            format!("label `{k}` has invalid value {}", short(v)),
                        )),
                    }
                }
            }
        }
    }
    if let Some(ann) = meta.get("annotations") {
        match ann.as_object() {
            None if !ann.is_null() => issues.push(Issue::new(
                "metadata.annotations",
                "`metadata.annotations` must be a mapping",
            )),
            None => {}
            Some(map) => {
                for (k, v) in map {
                    if !valid_key(k) {
                        issues.push(Issue::new(
                            "metadata.annotations",
                            format!("annotation key \"{k}\" is not valid"),
                        ));
                    } else if !v.is_string() {
                        issues.push(Issue::new(
                            "metadata.annotations",
                            format!("annotation `{k}` must be a string, not {}", type_name(v)),
                        ));
                    }
                }
            }
        }
    }
    if let Some(tags) = meta.get("tags") {
        match tags.as_array() {
            None if !tags.is_null() => issues.push(Issue::new(
                "metadata.tags",
                "`metadata.tags` must be a list",
            )),
            None => {}
            Some(list) => {
                for t in list {
                    match t.as_str() {
                        Some(s) if s.len() <= 63 && TAG.is_match(s) => {}
                        _ => issues.push(Issue::new(
                            "metadata.tags",
                            format!(
                                "tag {} is not valid: lowercase letters, digits and [:+#], words joined by dashes",
                                short(t)
                            ),
                        )),
                    }
                }
            }
        }
    }
    if let Some(links) = meta.get("links") {
        let ok = links.as_array().is_some_and(|l| {
            l.iter().all(|x| {
                x.get("url")
                    .and_then(Value::as_str)
                    .is_some_and(|u| !u.is_empty())
            })
        });
        if !ok && !links.is_null() {
            issues.push(Issue::new(
                "metadata.links",
                "every entry of `metadata.links` needs a `url`",
            ));
        }
    }

    let kind_lower = kind.to_ascii_lowercase();
    let required = required_spec(&kind_lower);
    let spec = body.get("spec");
    match spec {
        Some(s) if s.is_object() => {
            for &(field, shape) in required {
                let v = s.get(field);
                let ok = match shape {
                    Shape::Str => v
                        .and_then(Value::as_str)
                        .is_some_and(|x| !x.trim().is_empty()),
                    Shape::List => v.is_some_and(Value::is_array),
                };
                if !ok {
                    let what = match shape {
                        Shape::Str => "a string",
                        Shape::List => "a list",
                    };
                    let problem = if v.is_none() || v == Some(&Value::Null) {
                        "is required".to_string()
                    } else {
                        format!("must be {what}")
                    };
                    issues.push(Issue::new(
                        format!("spec.{field}"),
                        format!("`spec.{field}` {problem} for a {kind}"),
                    ));
                }
            }
            if kind_lower == "api" && s.get("definition").is_none() && s.get("remotes").is_none() {
                issues.push(Issue::new(
                    "spec.definition",
                    "`spec.definition` is required for an API",
                ));
            }
            if kind_lower == "location" && s.get("target").is_none() && s.get("targets").is_none() {
                issues.push(Issue::new(
                    "spec.target",
                    "a Location needs `spec.target` or `spec.targets`",
                ));
            }
        }
        Some(v) if !v.is_null() => issues.push(Issue::new("spec", "`spec` must be a mapping")),
        _ if !required.is_empty() || kind_lower == "location" => issues.push(Issue::new(
            "spec",
            format!("`spec` is required for a {kind}"),
        )),
        _ => {}
    }
    let namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    for rel in spec_relations(body, &kind_lower, &namespace.to_ascii_lowercase()) {
        if let Err(e) = rel.target {
            issues.push(Issue::new(
                format!("spec.{}", rel.field),
                format!("`spec.{}`: {e}", rel.field),
            ));
        }
    }
    issues
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}…", &s[..s.floor_char_boundary(80)])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn component(name: &str) -> Value {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
               "metadata": {"name": name},
               "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}})
    }

    #[test]
    fn a_valid_component_has_no_issues() {
        assert!(validate(&component("artist-lookup")).is_empty());
    }

    #[test]
    fn names_follow_backstage_rules() {
        assert!(!validate(&component("invalid component")).is_empty());
        assert!(!validate(&component(&"a".repeat(64))).is_empty());
        assert!(!validate(&component("-leading")).is_empty());
        assert!(validate(&component("A_b.c-1")).is_empty());
    }

    #[test]
    fn missing_owner_is_reported_with_its_field() {
        let mut c = component("x");
        c["spec"].as_object_mut().unwrap().remove("owner");
        let issues = validate(&c);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].field, "spec.owner");
    }

    #[test]
    fn tags_and_labels_are_checked() {
        let mut c = component("x");
        c["metadata"]["tags"] = json!(["go", "go 1.15.3"]);
        c["metadata"]["labels"] = json!({"goVersion": "go1.15.3", "bad key!": "x"});
        let issues = validate(&c);
        assert_eq!(issues.len(), 2, "{issues:?}");
    }
}
