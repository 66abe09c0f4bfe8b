//! Backstage's validation rules, as its catalog applies them to an entity read from a file.
//!
//! The reference is Backstage 1.55's default processing (`@backstage/catalog-model` 1.10.1,
//! `@backstage/plugin-catalog-backend` 4.0.0), stage by stage:
//! 1. the YAML reader: every document is a mapping;
//! 2. the entity envelope and the `Entity` schema (`SchemaValidEntityPolicy`): `apiVersion`,
//!    `kind`, `metadata.name` non-empty strings, the types of every `metadata` field;
//! 3. `NoForeignRootFieldsEntityPolicy`: nothing at the root but apiVersion, kind, metadata, spec;
//! 4. `FieldFormatEntityPolicy`: the formats of apiVersion, kind, name, namespace, label and
//!    annotation keys and values, tags, and links (URL, non-empty title and icon);
//! 5. the built-in kinds' schemas (`BuiltinKindsEntityProcessor`), each for the apiVersions it
//!    declares; a kind nobody recognises is rejected unless declared in `catalog.kinds.extra`;
//! 6. the references in a built-in kind's spec, parsed as Backstage's `parseEntityRef` does;
//! 7. for a Location, the allowed location types (its parent's type, or `url`).
//!
//! Backstage stops at the first failure; this reports every one, so a file is fixed in one go,
//! and the verdict (any issue or none) is Backstage's. `tests/fixtures/backstage-rules` holds
//! Backstage's own verdicts on its unit tests' cases and on real files, and the tests replay them.
//! Placeholders (`$text`, `$json`, `$yaml`) are judged as what they read: text, or a mapping.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::model::relation_fields;
use super::refs::EntityRef;

/// Which rule of Backstage's a failure breaks; shown with every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The YAML reader: a document must be a mapping.
    YamlReader,
    /// The entity envelope and the `Entity` / `EntityMeta` schemas.
    EntitySchema,
    /// `NoForeignRootFieldsEntityPolicy`.
    NoForeignRootFields,
    /// `FieldFormatEntityPolicy`.
    FieldFormat,
    /// A built-in kind's schema (`Component.v1alpha1` and so on).
    KindSchema(&'static str),
    /// No processor recognises the kind (or the kind does not declare the apiVersion).
    UnknownKind,
    /// An entity reference in the spec that Backstage cannot parse.
    EntityRef,
    /// The Location step: allowed location types, targets.
    LocationStep,
}

impl Rule {
    /// How the rule is named in messages.
    pub fn name(self) -> Cow<'static, str> {
        match self {
            Rule::YamlReader => "YAML reader".into(),
            Rule::EntitySchema => "Entity schema".into(),
            Rule::NoForeignRootFields => "NoForeignRootFieldsEntityPolicy".into(),
            Rule::FieldFormat => "FieldFormatEntityPolicy".into(),
            Rule::KindSchema(kind) => format!("{kind} schema").into(),
            Rule::UnknownKind => "kind not recognised".into(),
            Rule::EntityRef => "entity reference".into(),
            Rule::LocationStep => "Location processing".into(),
        }
    }
}

/// One validation failure: the field it concerns (dotted path), the rule, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub field: String,
    pub rule: Rule,
    pub message: String,
}

impl Issue {
    fn new(field: impl Into<String>, rule: Rule, message: impl Into<String>) -> Self {
        Issue {
            field: field.into(),
            rule,
            message: message.into(),
        }
    }

    /// The message with its rule, as people see it.
    pub fn describe(&self) -> String {
        format!("{} [{}]", self.message, self.rule.name())
    }
}

/// Where an entity comes from, which decides the rules that apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin<'a> {
    /// A file read from a location of this type (`file` for local files, `url` for GitHub),
    /// judged as Backstage judges a file it reads.
    File {
        location_type: &'a str,
        extra_kinds: &'a [String],
    },
    /// An entity from an existing Backstage's API: its processed output, which carries
    /// `relations` and `status` and may be of any kind that Backstage accepted.
    Backstage,
}

/// The kinds Backstage knows without a plugin, with the schema each applies.
const BUILTIN_KINDS: &[&str] = &[
    "API",
    "Component",
    "Resource",
    "Group",
    "Location",
    "User",
    "System",
    "Domain",
];

/// The apiVersions every built-in kind declares.
const BUILTIN_API_VERSIONS: &[&str] = &["backstage.io/v1alpha1", "backstage.io/v1beta1"];

/// The apiVersions a declared kind that Switchboard knows is recognised in: the scaffolder's
/// processor reads only `scaffolder.backstage.io/v1beta3` Templates. Other declared kinds are
/// taken in any apiVersion their processor may read.
fn extra_versions(kind: &str) -> Option<&'static [&'static str]> {
    (kind == "Template").then_some(&["scaffolder.backstage.io/v1beta3"][..])
}

/// The kinds a file may hold beyond the built-in ones when nothing else is configured.
pub fn default_extra_kinds() -> Vec<String> {
    vec!["Template".to_string()]
}

static OBJECT_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").unwrap());
static DNS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:-+[a-z0-9]+)*$").unwrap());
static KIND: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-zA-Z][a-z0-9A-Z]*$").unwrap());
static VERSION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9A-Z]+$").unwrap());
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$").unwrap());

/// Backstage's validator functions (`KubernetesValidatorFunctions`, `CommonValidatorFunctions`),
/// one for one, on JSON values as Backstage receives them.
pub mod functions {
    use super::*;

    /// JavaScript's `String.length`: UTF-16 code units.
    fn js_len(s: &str) -> usize {
        s.encode_utf16().count()
    }

    /// `<suffix>` or `<prefix>/<suffix>`, each part checked on its own.
    fn prefix_and_or_suffix(
        value: &Value,
        prefix: fn(&str) -> bool,
        suffix: fn(&str) -> bool,
    ) -> bool {
        value.as_str().is_some_and(|s| prefixed(s, prefix, suffix))
    }

    fn prefixed(s: &str, prefix: fn(&str) -> bool, suffix: fn(&str) -> bool) -> bool {
        let mut parts = s.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(one), None, _) => suffix(one),
            (Some(p), Some(s), None) => prefix(p) && suffix(s),
            _ => false,
        }
    }

    /// A label or annotation key: `[prefix/]name`, the prefix a DNS subdomain.
    pub fn key(s: &str) -> bool {
        prefixed(s, dns_subdomain, object_name)
    }

    pub fn dns_label(s: &str) -> bool {
        (1..=63).contains(&js_len(s)) && DNS_LABEL.is_match(s)
    }

    pub fn dns_subdomain(s: &str) -> bool {
        (1..=253).contains(&js_len(s)) && s.split('.').all(dns_label)
    }

    pub fn object_name(s: &str) -> bool {
        (1..=63).contains(&js_len(s)) && OBJECT_NAME.is_match(s)
    }

    fn version_part(s: &str) -> bool {
        (1..=63).contains(&js_len(s)) && VERSION.is_match(s)
    }

    pub fn is_valid_api_version(v: &Value) -> bool {
        prefix_and_or_suffix(v, dns_subdomain, version_part)
    }

    pub fn is_valid_kind(v: &Value) -> bool {
        v.as_str()
            .is_some_and(|s| (1..=63).contains(&js_len(s)) && KIND.is_match(s))
    }

    pub fn is_valid_object_name(v: &Value) -> bool {
        v.as_str().is_some_and(object_name)
    }

    pub fn is_valid_namespace(v: &Value) -> bool {
        v.as_str().is_some_and(dns_label)
    }

    pub fn is_valid_label_key(v: &Value) -> bool {
        prefix_and_or_suffix(v, dns_subdomain, object_name)
    }

    pub fn is_valid_label_value(v: &Value) -> bool {
        v.as_str() == Some("") || is_valid_object_name(v)
    }

    pub fn is_valid_annotation_key(v: &Value) -> bool {
        prefix_and_or_suffix(v, dns_subdomain, object_name)
    }

    pub fn is_valid_annotation_value(v: &Value) -> bool {
        v.is_string()
    }

    pub fn is_valid_dns_label(v: &Value) -> bool {
        v.as_str().is_some_and(dns_label)
    }

    pub fn is_valid_dns_subdomain(v: &Value) -> bool {
        v.as_str().is_some_and(dns_subdomain)
    }

    /// The catalog's tag rule (`makeValidator`), which allows `:` beside `CommonValidatorFunctions`'.
    pub fn is_valid_catalog_tag(v: &Value) -> bool {
        v.as_str()
            .is_some_and(|s| (1..=63).contains(&js_len(s)) && TAG.is_match(s))
    }

    /// `CommonValidatorFunctions.isValidTag` (deprecated there, without `:`).
    pub fn is_valid_tag(v: &Value) -> bool {
        is_valid_catalog_tag(v) && !v.as_str().is_some_and(|s| s.contains(':'))
    }

    /// A URL as the WHATWG URL parser (`new URL(value)`) accepts it.
    pub fn is_valid_url(v: &Value) -> bool {
        v.as_str().is_some_and(|s| url::Url::parse(s).is_ok())
    }

    pub fn is_non_empty_string(v: &Value) -> bool {
        v.as_str().is_some_and(|s| !js_trim(s).is_empty())
    }

    /// JavaScript's `String.prototype.trim`: white space and line terminators, which are
    /// Unicode's White_Space less U+0085, plus U+FEFF.
    fn js_trim(s: &str) -> &str {
        s.trim_matches(|c: char| (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}')
    }

    /// Runs one function by its Backstage name (`KubernetesValidatorFunctions.isValidKind`).
    pub fn by_name(name: &str) -> Option<fn(&Value) -> bool> {
        let f: fn(&Value) -> bool = match name.rsplit('.').next()? {
            "isValidApiVersion" => is_valid_api_version,
            "isValidKind" => is_valid_kind,
            "isValidObjectName" => is_valid_object_name,
            "isValidNamespace" => is_valid_namespace,
            "isValidLabelKey" => is_valid_label_key,
            "isValidLabelValue" => is_valid_label_value,
            "isValidAnnotationKey" => is_valid_annotation_key,
            "isValidAnnotationValue" => is_valid_annotation_value,
            "isValidDnsLabel" => is_valid_dns_label,
            "isValidDnsSubdomain" => is_valid_dns_subdomain,
            "isValidTag" => is_valid_tag,
            "isValidUrl" => is_valid_url,
            "isValidString" | "isNonEmptyString" => is_non_empty_string,
            _ => return None,
        };
        Some(f)
    }
}

use functions as f;

/// Checks an entity document against Backstage's rules. Returns every failure, not just the first.
pub fn validate(body: &Value, origin: Origin<'_>) -> Vec<Issue> {
    let mut out = Vec::new();
    let Some(root) = body.as_object() else {
        out.push(Issue::new(
            "",
            Rule::YamlReader,
            format!(
                "the document is {}, not a mapping: Backstage reads every document as one entity",
                type_name(body)
            ),
        ));
        return out;
    };
    let body = resolve_placeholders(body);
    let root = match &body {
        Cow::Borrowed(_) => root,
        Cow::Owned(v) => v.as_object().expect("still a mapping"),
    };
    root_fields(root, origin, &mut out);
    let meta = root.get("metadata").and_then(Value::as_object);
    if let Some(meta) = meta {
        metadata(meta, &mut out);
    }
    let kind = root.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = root.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() || meta.is_none() {
        return out;
    }
    let builtin = BUILTIN_KINDS
        .iter()
        .find(|k| **k == kind)
        .filter(|_| BUILTIN_API_VERSIONS.contains(&api_version));
    match (builtin, origin) {
        // Backstage's own output passed whatever processors it has (an MCP server API without
        // a `definition`, say): only the envelope and policies above are checked again.
        (_, Origin::Backstage) => {}
        (Some(kind), Origin::File { .. }) => {
            let before = out.len();
            kind_schema(kind, root, &mut out);
            // Backstage reads references only from an entity that passed its kind's schema.
            if out.len() == before {
                references(kind, root, &mut out);
            }
            if *kind == "Location"
                && out.len() == before
                && let Origin::File { location_type, .. } = origin
            {
                location(root, location_type, &mut out);
            }
        }
        (None, Origin::File { extra_kinds, .. }) => {
            let declared = extra_kinds.iter().any(|k| k == kind);
            match extra_versions(kind) {
                Some(versions) if declared && !versions.contains(&api_version) => {
                    out.push(Issue::new(
                        "apiVersion",
                        Rule::UnknownKind,
                        format!(
                            "a {kind} of apiVersion \"{api_version}\" is not recognised: {kind} declares {}",
                            versions.join(" and ")
                        ),
                    ));
                }
                _ if declared => {}
                _ => out.push(unknown_kind(kind, api_version, extra_kinds)),
            }
        }
    }
    out
}

/// Why Backstage would not recognise the kind, and what to do about it.
fn unknown_kind(kind: &str, api_version: &str, extra: &[String]) -> Issue {
    let field = "kind";
    if let Some(k) = BUILTIN_KINDS.iter().find(|k| k.eq_ignore_ascii_case(kind)) {
        if *k != kind {
            return Issue::new(
                field,
                Rule::UnknownKind,
                format!(
                    "kind \"{kind}\" is not recognised: kinds are case-sensitive, write \"{k}\""
                ),
            );
        }
        return Issue::new(
            "apiVersion",
            Rule::UnknownKind,
            format!(
                "a {kind} of apiVersion \"{api_version}\" is not recognised: {kind} declares {}",
                BUILTIN_API_VERSIONS.join(" and ")
            ),
        );
    }
    if let Some(k) = extra.iter().find(|k| k.eq_ignore_ascii_case(kind)) {
        return Issue::new(
            field,
            Rule::UnknownKind,
            format!("kind \"{kind}\" is not recognised: kinds are case-sensitive, write \"{k}\""),
        );
    }
    Issue::new(
        field,
        Rule::UnknownKind,
        format!(
            "kind \"{kind}\" is not recognised: Backstage knows {} and the kinds its plugins add; \
             if yours has a processor for it, declare it in `catalog.kinds.extra`",
            BUILTIN_KINDS.join(", ")
        ),
    )
}

/// The envelope, the `Entity` schema's root and `NoForeignRootFieldsEntityPolicy`.
fn root_fields(root: &Map<String, Value>, origin: Origin<'_>, out: &mut Vec<Issue>) {
    for field in ["apiVersion", "kind"] {
        match root.get(field) {
            None | Some(Value::Null) => out.push(Issue::new(
                field,
                Rule::EntitySchema,
                format!("`{field}` is required"),
            )),
            Some(Value::String(s)) if s.is_empty() => out.push(Issue::new(
                field,
                Rule::EntitySchema,
                format!("`{field}` must not be empty"),
            )),
            Some(Value::String(_)) => {}
            Some(v) => out.push(Issue::new(
                field,
                Rule::EntitySchema,
                format!("`{field}` must be a string, not {}", type_name(v)),
            )),
        }
    }
    if let Some(v) = root.get("apiVersion").filter(|v| is_nonempty_str(v))
        && !f::is_valid_api_version(v)
    {
        out.push(Issue::new(
            "apiVersion",
            Rule::FieldFormat,
            format!(
                "`apiVersion` {} is not valid: [group/]version, the group a DNS subdomain \
                 (labels of at most 63 of [a-z0-9-]), the version 1-63 letters and digits",
                short(v)
            ),
        ));
    }
    if let Some(v) = root.get("kind").filter(|v| is_nonempty_str(v))
        && !f::is_valid_kind(v)
    {
        out.push(Issue::new(
            "kind",
            Rule::FieldFormat,
            format!(
                "`kind` {} is not valid: a letter, then letters and digits, at most 63",
                short(v)
            ),
        ));
    }
    match root.get("metadata") {
        None => out.push(Issue::new(
            "metadata",
            Rule::EntitySchema,
            "`metadata` is required",
        )),
        Some(Value::Object(_)) => {}
        Some(v) => out.push(Issue::new(
            "metadata",
            Rule::EntitySchema,
            format!("`metadata` must be a mapping, not {}", type_name(v)),
        )),
    }
    if let Some(v) = root.get("spec").filter(|v| !v.is_object()) {
        out.push(Issue::new(
            "spec",
            Rule::EntitySchema,
            format!("`spec` must be a mapping, not {}", type_name(v)),
        ));
    }
    for key in root.keys() {
        if matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "spec") {
            continue;
        }
        let processed = matches!(key.as_str(), "relations" | "status");
        if processed && origin == Origin::Backstage {
            continue;
        }
        let hint = if META_FIELDS.contains(&key.as_str()) {
            format!(" (did you mean `metadata.{key}`?)")
        } else if processed {
            " (Backstage computes it; remove it from the file)".to_string()
        } else {
            String::new()
        };
        out.push(Issue::new(
            key.clone(),
            Rule::NoForeignRootFields,
            format!(
                "unknown root field `{key}`: an entity has only apiVersion, kind, metadata and spec{hint}"
            ),
        ));
    }
}

const META_FIELDS: &[&str] = &[
    "name",
    "namespace",
    "title",
    "description",
    "labels",
    "annotations",
    "tags",
    "links",
    "uid",
    "etag",
];

/// The `EntityMeta` schema and the metadata half of `FieldFormatEntityPolicy`.
fn metadata(meta: &Map<String, Value>, out: &mut Vec<Issue>) {
    let schema = |out: &mut Vec<Issue>, field: &str, msg: String| {
        out.push(Issue::new(
            format!("metadata.{field}"),
            Rule::EntitySchema,
            msg,
        ))
    };
    match meta.get("name") {
        None | Some(Value::Null) => {
            schema(out, "name", "`metadata.name` is required".into());
        }
        Some(v) if !is_nonempty_str(v) => {
            schema(out, "name", must_be("metadata.name", "a non-empty string", v));
        }
        Some(v) if !f::is_valid_object_name(v) => out.push(Issue::new(
            "metadata.name",
            Rule::FieldFormat,
            format!(
                "`metadata.name` {} is not valid: 1-63 characters of [a-zA-Z0-9] separated by any of [-_.]",
                short(v)
            ),
        )),
        Some(_) => {}
    }
    for field in ["uid", "etag", "namespace", "title"] {
        match meta.get(field) {
            None => {}
            Some(v) if !is_nonempty_str(v) => {
                schema(
                    out,
                    field,
                    must_be(&format!("metadata.{field}"), "a non-empty string", v),
                );
            }
            Some(v) if field == "namespace" && !f::is_valid_namespace(v) => out.push(Issue::new(
                "metadata.namespace",
                Rule::FieldFormat,
                format!(
                    "`metadata.namespace` {} is not valid: 1-63 of [a-z0-9] separated by [-]",
                    short(v)
                ),
            )),
            Some(_) => {}
        }
    }
    if let Some(v) = meta.get("description").filter(|v| !v.is_string()) {
        schema(
            out,
            "description",
            must_be("metadata.description", "a string", v),
        );
    }
    for (field, value_ok, what) in [
        (
            "labels",
            f::is_valid_label_value as fn(&Value) -> bool,
            "label",
        ),
        ("annotations", f::is_valid_annotation_value, "annotation"),
    ] {
        let Some(v) = meta.get(field) else { continue };
        let Some(map) = v.as_object() else {
            schema(
                out,
                field,
                must_be(&format!("metadata.{field}"), "a mapping", v),
            );
            continue;
        };
        let path = || format!("metadata.{field}");
        for (k, v) in map {
            if !v.is_string() {
                out.push(Issue::new(
                    path(),
                    Rule::EntitySchema,
                    must_be(&format!("{what} `{k}`"), "a string", v),
                ));
                continue;
            }
            if !f::key(k) {
                out.push(Issue::new(
                    path(),
                    Rule::FieldFormat,
                    format!(
                        "{what} key \"{k}\" is not valid: [prefix/]name, the prefix a DNS subdomain, \
                         the name 1-63 of [a-zA-Z0-9] separated by any of [-_.]"
                    ),
                ));
            }
            if !value_ok(v) {
                out.push(Issue::new(
                    path(),
                    Rule::FieldFormat,
                    format!(
                        "{what} `{k}` has an invalid value {}: empty, or 1-63 of [a-zA-Z0-9] separated by any of [-_.]",
                        short(v)
                    ),
                ));
            }
        }
    }
    if let Some(v) = meta.get("tags") {
        match v.as_array() {
            None => schema(out, "tags", must_be("metadata.tags", "a list", v)),
            Some(tags) => {
                for (i, t) in tags.iter().enumerate() {
                    if !is_nonempty_str(t) {
                        schema(
                            out,
                            "tags",
                            must_be(&format!("metadata.tags[{i}]"), "a non-empty string", t),
                        );
                    } else if !f::is_valid_catalog_tag(t) {
                        out.push(Issue::new(
                            "metadata.tags",
                            Rule::FieldFormat,
                            format!(
                                "tag {} is not valid: 1-63 of [a-z0-9:+#] in words joined by single dashes",
                                short(t)
                            ),
                        ));
                    }
                }
            }
        }
    }
    if let Some(v) = meta.get("links") {
        match v.as_array() {
            None => schema(out, "links", must_be("metadata.links", "a list", v)),
            Some(links) => {
                for (i, link) in links.iter().enumerate() {
                    links_entry(i, link, out);
                }
            }
        }
    }
}

fn links_entry(i: usize, link: &Value, out: &mut Vec<Issue>) {
    let at = |field: &str| format!("metadata.links[{i}].{field}");
    let Some(map) = link.as_object() else {
        out.push(Issue::new(
            "metadata.links",
            Rule::EntitySchema,
            must_be(
                &format!("metadata.links[{i}]"),
                "a mapping with a `url`",
                link,
            ),
        ));
        return;
    };
    match map.get("url") {
        None => out.push(Issue::new(
            "metadata.links",
            Rule::EntitySchema,
            format!("`{}` is required", at("url")),
        )),
        Some(v) if !is_nonempty_str(v) => out.push(Issue::new(
            "metadata.links",
            Rule::EntitySchema,
            must_be(&at("url"), "a non-empty string", v),
        )),
        Some(v) if !f::is_valid_url(v) => out.push(Issue::new(
            "metadata.links",
            Rule::FieldFormat,
            format!("`{}` {} is not a valid URL", at("url"), short(v)),
        )),
        Some(_) => {}
    }
    for field in ["title", "icon", "type"] {
        match map.get(field) {
            None => {}
            Some(v) if !is_nonempty_str(v) => out.push(Issue::new(
                "metadata.links",
                Rule::EntitySchema,
                must_be(&at(field), "a non-empty string", v),
            )),
            Some(v) if field != "type" && !f::is_non_empty_string(v) => out.push(Issue::new(
                "metadata.links",
                Rule::FieldFormat,
                format!("`{}` must not be blank", at(field)),
            )),
            Some(_) => {}
        }
    }
}

/// The shape of one spec field in a kind's schema.
#[derive(Clone, Copy)]
enum Shape {
    /// A non-empty string.
    Str,
    /// A list of non-empty strings.
    StrList,
    /// A profile: a mapping whose displayName, email and picture are non-empty strings.
    Profile,
    /// One of these strings.
    OneOf(&'static [&'static str]),
}

/// Each built-in kind's spec: (field, shape, required), as its v1alpha1 schema says.
fn kind_spec(kind: &str) -> &'static [(&'static str, Shape, bool)] {
    use Shape::*;
    match kind {
        "Component" => &[
            ("type", Str, true),
            ("lifecycle", Str, true),
            ("owner", Str, true),
            ("system", Str, false),
            ("subcomponentOf", Str, false),
            ("providesApis", StrList, false),
            ("consumesApis", StrList, false),
            ("dependsOn", StrList, false),
        ],
        "API" => &[
            ("type", Str, true),
            ("lifecycle", Str, true),
            ("owner", Str, true),
            ("definition", Str, true),
            ("system", Str, false),
        ],
        "Resource" => &[
            ("type", Str, true),
            ("owner", Str, true),
            ("dependsOn", StrList, false),
            ("system", Str, false),
        ],
        "System" => &[
            ("owner", Str, true),
            ("domain", Str, false),
            ("type", Str, false),
        ],
        "Domain" => &[
            ("owner", Str, true),
            ("subdomainOf", Str, false),
            ("type", Str, false),
        ],
        "Group" => &[
            ("type", Str, true),
            ("children", StrList, true),
            ("profile", Profile, false),
            ("parent", Str, false),
            ("members", StrList, false),
        ],
        "User" => &[("memberOf", StrList, true), ("profile", Profile, false)],
        "Location" => &[
            ("type", Str, false),
            ("target", Str, false),
            ("targets", StrList, false),
            ("presence", OneOf(&["required", "optional"]), false),
        ],
        _ => &[],
    }
}

fn kind_schema(kind: &'static str, root: &Map<String, Value>, out: &mut Vec<Issue>) {
    let rule = Rule::KindSchema(kind);
    let Some(spec) = root.get("spec").and_then(Value::as_object) else {
        if root.get("spec").is_none() {
            out.push(Issue::new(
                "spec",
                rule,
                format!("`spec` is required for {}", a(kind)),
            ));
        }
        return;
    };
    for &(field, shape, required) in kind_spec(kind) {
        // Paths are spelled only for failures: this runs for every entity of a sync.
        let path = || format!("spec.{field}");
        let Some(v) = spec.get(field) else {
            if required {
                out.push(Issue::new(
                    path(),
                    rule,
                    format!("`{}` is required for {}", path(), a(kind)),
                ));
            }
            continue;
        };
        match shape {
            Shape::Str if !is_nonempty_str(v) => {
                out.push(Issue::new(
                    path(),
                    rule,
                    must_be(&path(), "a non-empty string", v),
                ));
            }
            Shape::StrList => match v.as_array() {
                None => out.push(Issue::new(path(), rule, must_be(&path(), "a list", v))),
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if !is_nonempty_str(item) {
                            out.push(Issue::new(
                                path(),
                                rule,
                                must_be(&format!("{}[{i}]", path()), "a non-empty string", item),
                            ));
                        }
                    }
                }
            },
            Shape::Profile => match v.as_object() {
                None => out.push(Issue::new(path(), rule, must_be(&path(), "a mapping", v))),
                Some(p) => {
                    for key in ["displayName", "email", "picture"] {
                        if let Some(x) = p.get(key).filter(|x| !is_nonempty_str(x)) {
                            out.push(Issue::new(
                                path(),
                                rule,
                                must_be(&format!("{}.{key}", path()), "a non-empty string", x),
                            ));
                        }
                    }
                }
            },
            Shape::OneOf(values) if !v.as_str().is_some_and(|s| values.contains(&s)) => {
                out.push(Issue::new(
                    path(),
                    rule,
                    format!(
                        "`{}` is {}, not one of {}",
                        path(),
                        short(v),
                        values.join(", ")
                    ),
                ));
            }
            _ => {}
        }
    }
}

/// The references in a built-in kind's spec (`BuiltinKindsEntityProcessor`), which Backstage
/// parses with the field's default kind, except in `dependsOn` and `dependencyOf`.
fn references(kind: &str, root: &Map<String, Value>, out: &mut Vec<Issue>) {
    let Some(spec) = root.get("spec").and_then(Value::as_object) else {
        return;
    };
    for &(field, _, _) in relation_fields(&kind.to_ascii_lowercase()) {
        let default_kind = !matches!(field, "dependsOn" | "dependencyOf");
        let values: Vec<&Value> = match spec.get(field) {
            None => continue,
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v) if is_falsy(v) => continue,
            Some(v) => vec![v],
        };
        for v in values {
            if let Err(why) = backstage_ref(v, default_kind) {
                out.push(Issue::new(
                    format!("spec.{field}"),
                    Rule::EntityRef,
                    format!("`spec.{field}`: {why}"),
                ));
            }
        }
    }
}

/// Whether Backstage's `parseEntityRef` reads the value with the default namespace and, if
/// `default_kind`, a default kind: a string `[kind:][namespace/]name`, or a mapping of them.
fn backstage_ref(v: &Value, default_kind: bool) -> Result<(), String> {
    let present = |x: Option<&Value>| x.is_some_and(|x| !x.is_null());
    let (kind, name) = match v {
        Value::String(s) => match EntityRef::split(s) {
            Ok((kind, _, _)) => (kind.is_some(), true),
            Err(_) => {
                return Err(format!(
                    "entity reference {} is not of the form [<kind>:][<namespace>/]<name>",
                    short(v)
                ));
            }
        },
        Value::Object(m) => {
            // `{kind, namespace, name}`: a missing part takes the default, an empty one fails.
            let empty = |k: &str| m.get(k).is_some_and(is_falsy) && present(m.get(k));
            if empty("kind") || empty("namespace") {
                return Err(format!("entity reference {} has an empty part", short(v)));
            }
            (
                present(m.get("kind")),
                m.get("name").is_some_and(|n| !is_falsy(n)),
            )
        }
        _ if is_falsy(v) => return Err("an entity reference must not be empty".into()),
        _ => (false, false),
    };
    if !name {
        return Err(format!("entity reference {} has no name", short(v)));
    }
    if !kind && !default_kind {
        let example = v
            .as_str()
            .map_or(String::new(), |s| format!(", e.g. \"component:{s}\""));
        return Err(format!(
            "entity reference {} needs a kind here{example}",
            short(v)
        ));
    }
    Ok(())
}

/// The Location step: a Location may point only at its own location type or `url`, and a file
/// target may not end with a path separator.
fn location(root: &Map<String, Value>, location_type: &str, out: &mut Vec<Issue>) {
    let Some(spec) = root.get("spec").and_then(Value::as_object) else {
        return;
    };
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or(location_type);
    if kind != location_type && kind != "url" {
        out.push(Issue::new(
            "spec.type",
            Rule::LocationStep,
            format!(
                "a Location of type \"{kind}\" is not allowed here: a Location read from a \
                 {location_type} location may point at type {location_type} or url"
            ),
        ));
        return;
    }
    if kind == "file" {
        let targets = spec.get("target").into_iter().chain(
            spec.get("targets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
        for t in targets.filter_map(Value::as_str) {
            if t.ends_with('/') {
                out.push(Issue::new(
                    "spec.target",
                    Rule::LocationStep,
                    format!("Location target \"{t}\" ends with a path separator: name a file"),
                ));
            }
        }
    }
}

/// The document with `{$text|$json|$yaml: "target"}` placeholders replaced by what they read,
/// as Backstage's `PlaceholderProcessor` does before validating: text, or (for JSON and YAML) a
/// mapping. A placeholder with a target that is not a string stays as it is (Backstage fails
/// it), and so do the envelope's fields, which Backstage checks before placeholders are read.
/// Borrowed when there is none, which is nearly always.
fn resolve_placeholders(v: &Value) -> Cow<'_, Value> {
    fn has(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.keys().any(|k| k.starts_with('$')) || m.values().any(has),
            Value::Array(a) => a.iter().any(has),
            _ => false,
        }
    }
    fn replace(v: &Value) -> Value {
        match v {
            Value::Object(m) if m.len() == 1 => {
                let (k, inner) = m.iter().next().expect("one entry");
                match k.as_str() {
                    "$text" if inner.is_string() => Value::String("text".into()),
                    "$json" | "$yaml" if inner.is_string() => Value::Object(Map::new()),
                    _ if k.starts_with('$') => v.clone(),
                    _ => Value::Object(
                        std::iter::once((k.clone(), replace(inner))).collect::<Map<_, _>>(),
                    ),
                }
            }
            Value::Object(m) if m.keys().any(|k| k.starts_with('$')) => v.clone(),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), replace(x)))
                    .collect::<Map<_, _>>(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(replace).collect()),
            _ => v.clone(),
        }
    }
    if !has(v) {
        return Cow::Borrowed(v);
    }
    let mut out = replace(v);
    for field in ["apiVersion", "kind"] {
        out[field] = v[field].clone();
    }
    for field in ["name", "namespace"] {
        if let (Some(m), Some(x)) = (out["metadata"].as_object_mut(), v["metadata"].get(field)) {
            m.insert(field.into(), x.clone());
        }
    }
    Cow::Owned(out)
}

/// JavaScript's falsiness, for the places Backstage tests `if (!value)`.
fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// "a Component", "an API".
fn a(kind: &str) -> String {
    let an = kind.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']);
    format!("{} {kind}", if an { "an" } else { "a" })
}

fn is_nonempty_str(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

fn must_be(what: &str, shape: &str, v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => format!("`{what}` must not be empty"),
        Value::Null => format!("`{what}` must be {shape}, not empty (null)"),
        _ => format!("`{what}` must be {shape}, not {}", type_name(v)),
    }
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

    fn file() -> Origin<'static> {
        static EXTRA: LazyLock<Vec<String>> = LazyLock::new(default_extra_kinds);
        Origin::File {
            location_type: "file",
            extra_kinds: &EXTRA,
        }
    }

    fn component(name: &str) -> Value {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
               "metadata": {"name": name},
               "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}})
    }

    #[test]
    fn a_valid_component_has_no_issues() {
        assert!(validate(&component("artist-lookup"), file()).is_empty());
    }

    #[test]
    fn names_follow_backstage_rules() {
        assert!(!validate(&component("invalid component"), file()).is_empty());
        assert!(!validate(&component(&"a".repeat(64)), file()).is_empty());
        assert!(!validate(&component("-leading"), file()).is_empty());
        assert!(validate(&component("A_b.c-1"), file()).is_empty());
    }

    #[test]
    fn missing_owner_is_reported_with_its_field_and_rule() {
        let mut c = component("x");
        c["spec"].as_object_mut().unwrap().remove("owner");
        let issues = validate(&c, file());
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].field, "spec.owner");
        assert_eq!(issues[0].rule, Rule::KindSchema("Component"));
        assert!(issues[0].describe().ends_with("[Component schema]"));
    }

    #[test]
    fn a_metadata_field_at_the_root_is_named_as_such() {
        let mut c = component("x");
        c["links"] = json!([]);
        let issues = validate(&c, file());
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].message.contains("did you mean `metadata.links`"));
    }

    #[test]
    fn backstage_output_may_carry_relations_status_and_any_kind() {
        let mut c = component("x");
        c["kind"] = json!("Environment");
        c["relations"] = json!([{"type": "ownedBy", "targetRef": "group:default/team-a"}]);
        c["status"] = json!({"items": []});
        assert!(validate(&c, Origin::Backstage).is_empty());
        assert_eq!(validate(&c, file()).len(), 3);
    }

    #[test]
    fn placeholders_are_judged_as_what_they_read() {
        let api = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "API",
            "metadata": {"name": "a"},
            "spec": {"type": "openapi", "lifecycle": "production", "owner": "t",
                     "definition": {"$text": "./openapi.yaml"}}});
        assert!(validate(&api, file()).is_empty());
        let mut yaml = api.clone();
        yaml["spec"]["definition"] = json!({"$yaml": "./openapi.yaml"});
        assert_eq!(validate(&yaml, file())[0].field, "spec.definition");
    }

    #[test]
    fn references_are_read_as_backstage_reads_them() {
        assert!(backstage_ref(&json!("group:default/team-a"), true).is_ok());
        assert!(backstage_ref(&json!("a/b:c"), true).is_ok());
        assert!(backstage_ref(&json!("a/b:c"), false).is_err());
        assert!(backstage_ref(&json!("payments"), false).is_err());
        assert!(backstage_ref(&json!("a:b/c/d"), false).is_ok());
        assert!(backstage_ref(&json!("  "), true).is_ok());
        assert!(backstage_ref(&json!({"name": "x"}), true).is_ok());
        assert!(backstage_ref(&json!({"name": "x"}), false).is_err());
        assert!(backstage_ref(&json!({"kind": "", "name": "x"}), true).is_err());
        assert!(backstage_ref(&json!({"kind": "component", "name": "x"}), false).is_ok());
        assert!(backstage_ref(&json!(7), true).is_err());
        assert!(backstage_ref(&json!("group:"), true).is_err());
        assert!(backstage_ref(&json!(":x"), true).is_err());
        assert!(backstage_ref(&json!("a/"), true).is_err());
        assert!(backstage_ref(&Value::Null, true).is_err());
    }
}
