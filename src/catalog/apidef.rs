//! An API entity's definition (`spec.definition`), read once when the snapshot is built so
//! "how do I call X?" is answered without I/O: for OpenAPI 2 and 3, the servers, auth schemes
//! and operations; for AsyncAPI 2 and 3, the servers and the operations on each channel; for
//! GraphQL SDL, the query, mutation and subscription fields. Definitions are read as generic
//! YAML/JSON (no one crate covers Swagger 2, OpenAPI 3.0 and 3.1). Anything else (tRPC, gRPC
//! sources) is kept as a count of lines, shown with its links.
//!
//! A placeholder left in the definition (`$text: https://…`) was not read: an absolute URL is
//! never fetched (a catalog file must not make the bot request arbitrary addresses), and a
//! relative one that could not be read is a warning of the sync (`placeholders`).

use serde_json::Value;

use super::parse::{ParseLimits, parse_file};

/// What is known of an API's definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Definition {
    /// Read: its format, servers, auth and operations.
    Read(ApiDef),
    /// Held elsewhere, at an absolute URL that is shown, never fetched.
    Link(String),
    /// A relative placeholder that could not be read when the catalog was read (the sync's
    /// problems say why).
    Unread(String),
    /// Written inline but not in a format read here, or not parseable: how it was given.
    Opaque { lines: usize, why: Option<String> },
}

/// The parts of a definition people need to call the API.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiDef {
    /// `OpenAPI 3.0.0`, `Swagger 2.0`, `AsyncAPI 2.0.0`, `GraphQL SDL`.
    pub format: String,
    pub title: Option<String>,
    pub version: Option<String>,
    /// Base URLs (OpenAPI), brokers (AsyncAPI).
    pub servers: Vec<String>,
    /// `bearerAuth: http bearer`, `api_key: apiKey in header X-API-Key`.
    pub auth: Vec<String>,
    pub operations: Vec<Operation>,
}

/// One thing the API offers: an HTTP operation, a message on a channel, a GraphQL field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// `GET`, `WEBHOOK POST`, `publish`, `send`, `query`, `mutation`.
    pub verb: String,
    /// The path, channel or field (with its arguments).
    pub target: String,
    pub summary: Option<String>,
}

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Reads the definition of an API of `spec_type` (`openapi`, `asyncapi`, `graphql`, …).
pub fn read(spec_type: Option<&str>, definition: &Value) -> Definition {
    // A placeholder still in place: not read.
    if let Value::Object(m) = definition
        && m.len() == 1
        && let Some((k, Value::String(target))) = m.iter().next()
        && matches!(k.as_str(), "$text" | "$json" | "$yaml")
    {
        return if target.contains("://") {
            Definition::Link(target.clone())
        } else {
            Definition::Unread(target.clone())
        };
    }
    let kind = spec_type.unwrap_or("").to_ascii_lowercase();
    let text = definition.as_str();
    if kind == "graphql" {
        return match text {
            Some(t) => Definition::Read(graphql(t)),
            None => opaque(definition, Some("a GraphQL definition is text".into())),
        };
    }
    // OpenAPI and AsyncAPI: a document, inline as text or already read ($json, $yaml).
    let doc = match text {
        Some(t) => match parse_file(t.as_bytes(), &definition_limits()) {
            Ok(docs) => match docs.into_iter().next().map(|d| d.value) {
                Some(Ok(v)) => v,
                Some(Err(e)) => return opaque(definition, Some(e)),
                None => return opaque(definition, None),
            },
            Err(e) => return opaque(definition, Some(e.to_string())),
        },
        None => definition.clone(),
    };
    if doc.get("openapi").is_some() || doc.get("swagger").is_some() {
        Definition::Read(openapi(&doc))
    } else if doc.get("asyncapi").is_some() {
        Definition::Read(asyncapi(&doc))
    } else {
        opaque(definition, None)
    }
}

/// Definitions are bigger than catalog entities: the same protections, more room.
fn definition_limits() -> ParseLimits {
    ParseLimits {
        max_file_bytes: 4 * 1024 * 1024,
        max_depth: 64,
        max_aliases: 1_000,
        max_nodes: 1_000_000,
    }
}

fn opaque(definition: &Value, why: Option<String>) -> Definition {
    let lines = definition.as_str().map_or(0, |t| t.lines().count());
    Definition::Opaque { lines, why }
}

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(scalar)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn openapi(doc: &Value) -> ApiDef {
    let mut def = ApiDef::default();
    let info = doc.get("info");
    def.title = s(info.and_then(|i| i.get("title")));
    def.version = s(info.and_then(|i| i.get("version")));
    if let Some(v) = s(doc.get("openapi")) {
        def.format = format!("OpenAPI {v}");
        def.servers = list(doc.get("servers"))
            .filter_map(|sv| s(sv.get("url")))
            .collect();
        schemes(doc.pointer("/components/securitySchemes"), &mut def.auth);
    } else {
        def.format = format!(
            "Swagger {}",
            s(doc.get("swagger")).unwrap_or_else(|| "2.0".into())
        );
        if let Some(host) = s(doc.get("host")) {
            let base = s(doc.get("basePath")).unwrap_or_default();
            let schemes: Vec<String> = list(doc.get("schemes")).filter_map(scalar).collect();
            let schemes = if schemes.is_empty() {
                vec!["https".to_string()]
            } else {
                schemes
            };
            def.servers = schemes
                .iter()
                .map(|sc| format!("{sc}://{host}{base}"))
                .collect();
        }
        schemes(doc.get("securityDefinitions"), &mut def.auth);
    }
    for (path, item) in map(doc.get("paths")) {
        for (method, op) in map(Some(item)) {
            if HTTP_METHODS.contains(&method.as_str()) {
                def.operations.push(Operation {
                    verb: method.to_ascii_uppercase(),
                    target: path.clone(),
                    summary: s(op.get("summary")).or_else(|| s(op.get("operationId"))),
                });
            }
        }
    }
    // OpenAPI 3.1: webhooks the API calls.
    for (name, item) in map(doc.get("webhooks")) {
        for (method, op) in map(Some(item)) {
            if HTTP_METHODS.contains(&method.as_str()) {
                def.operations.push(Operation {
                    verb: format!("WEBHOOK {}", method.to_ascii_uppercase()),
                    target: name.clone(),
                    summary: s(op.get("summary")).or_else(|| s(op.get("operationId"))),
                });
            }
        }
    }
    def
}

/// `name: type (details)` for each security scheme.
fn schemes(v: Option<&Value>, out: &mut Vec<String>) {
    for (name, scheme) in map(v) {
        let kind = s(scheme.get("type")).unwrap_or_else(|| "?".into());
        let detail = match kind.as_str() {
            "http" => s(scheme.get("scheme")),
            "apiKey" => match (s(scheme.get("in")), s(scheme.get("name"))) {
                (Some(at), Some(n)) => Some(format!("in {at} {n}")),
                _ => None,
            },
            "oauth2" => {
                let flows: Vec<&String> = match scheme.get("flows") {
                    Some(Value::Object(f)) => f.keys().collect(),
                    _ => Vec::new(),
                };
                let flow = s(scheme.get("flow"));
                if flows.is_empty() {
                    flow
                } else {
                    Some(
                        flows
                            .iter()
                            .map(|f| f.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                }
            }
            "openIdConnect" => s(scheme.get("openIdConnectUrl")),
            _ => None,
        };
        out.push(match detail {
            Some(d) => format!("{name}: {kind} {d}"),
            None => format!("{name}: {kind}"),
        });
    }
}

fn asyncapi(doc: &Value) -> ApiDef {
    let mut def = ApiDef::default();
    let info = doc.get("info");
    def.title = s(info.and_then(|i| i.get("title")));
    def.version = s(info.and_then(|i| i.get("version")));
    let version = s(doc.get("asyncapi")).unwrap_or_default();
    def.format = format!("AsyncAPI {version}");
    for (name, server) in map(doc.get("servers")) {
        let url = s(server.get("url")).or_else(|| s(server.get("host")));
        let protocol = s(server.get("protocol"));
        def.servers.push(match (url, protocol) {
            (Some(u), Some(p)) => format!("{name}: {u} ({p})"),
            (Some(u), None) => format!("{name}: {u}"),
            _ => name.clone(),
        });
    }
    schemes(doc.pointer("/components/securitySchemes"), &mut def.auth);
    if version.starts_with('3') {
        // AsyncAPI 3: operations reference channels, which carry the address.
        for (_, op) in map(doc.get("operations")) {
            let channel = op
                .pointer("/channel/$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/channels/"))
                .map(|id| {
                    doc.pointer(&format!("/channels/{id}/address"))
                        .and_then(scalar)
                        .unwrap_or_else(|| id.to_string())
                })
                .unwrap_or_default();
            def.operations.push(Operation {
                verb: s(op.get("action")).unwrap_or_else(|| "?".into()),
                target: channel,
                summary: s(op.get("summary")).or_else(|| s(op.get("title"))),
            });
        }
    } else {
        for (name, channel) in map(doc.get("channels")) {
            for verb in ["publish", "subscribe"] {
                if let Some(op) = channel.get(verb) {
                    def.operations.push(Operation {
                        verb: verb.into(),
                        target: name.clone(),
                        summary: s(op.get("summary")).or_else(|| s(op.get("operationId"))),
                    });
                }
            }
        }
    }
    def
}

fn map(v: Option<&Value>) -> impl Iterator<Item = (&String, &Value)> {
    v.and_then(Value::as_object).into_iter().flatten()
}

fn list(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

/// The root fields of a GraphQL schema (SDL): `query`, `mutation` and `subscription` fields,
/// with their arguments. Descriptions and comments are skipped.
fn graphql(sdl: &str) -> ApiDef {
    let text = strip_graphql_noise(sdl);
    let blocks = graphql_blocks(&text);
    let mut roots = vec![
        ("query", "Query".to_string()),
        ("mutation", "Mutation".to_string()),
        ("subscription", "Subscription".to_string()),
    ];
    if let Some((_, body)) = blocks.iter().find(|(head, _)| head.trim() == "schema") {
        for line in body.split([',', '\n']) {
            if let Some((op, ty)) = line.split_once(':') {
                let op = op.trim();
                if let Some(r) = roots.iter_mut().find(|(o, _)| *o == op) {
                    r.1 = ty.trim().to_string();
                }
            }
        }
    }
    let mut def = ApiDef {
        format: "GraphQL SDL".into(),
        ..ApiDef::default()
    };
    for (op, ty) in &roots {
        for (head, body) in &blocks {
            let mut words = head.split_whitespace();
            let first = words.next();
            let (first, name) = match first {
                Some("extend") => (words.next(), words.next()),
                _ => (first, words.next()),
            };
            if first != Some("type") || name != Some(ty.as_str()) {
                continue;
            }
            for field in graphql_fields(body) {
                def.operations.push(Operation {
                    verb: (*op).into(),
                    target: field,
                    summary: None,
                });
            }
        }
    }
    def
}

/// The SDL without comments (`# …`) and descriptions (`"…"`, `"""…"""`).
fn strip_graphql_noise(sdl: &str) -> String {
    let mut out = String::with_capacity(sdl.len());
    let mut rest = sdl;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("\"\"\"") {
            rest = match rest[3..].find("\"\"\"") {
                Some(end) => &rest[3 + end + 3..],
                None => "",
            };
        } else if c == '"' {
            let mut end = 1;
            let bytes = rest.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' && bytes[end] != b'\n' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            rest = rest.get(end + 1..).unwrap_or("");
        } else if c == '#' {
            rest = rest.find('\n').map_or("", |n| &rest[n..]);
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Top-level `head { body }` blocks of a schema.
fn graphql_blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut head_start = 0;
    let mut depth = 0usize;
    let mut body_start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => {
                if depth == 0 {
                    body_start = i + 1;
                }
                depth += 1;
            }
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    // The head is the last line before the brace (`type Root implements Node`).
                    let head = &text[head_start..body_start - 1];
                    let head = head
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("");
                    out.push((head.trim().to_string(), text[body_start..i].to_string()));
                    head_start = i + 1;
                }
            }
            _ => {}
        }
    }
    out
}

/// `name(arg: Type): Result` for each field of a type's body.
fn graphql_fields(body: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut parens = 0usize;
    let mut seen_colon = false;
    let flush = |current: &mut String, fields: &mut Vec<String>| {
        let f = current.split_whitespace().collect::<Vec<_>>().join(" ");
        if !f.is_empty() {
            fields.push(f);
        }
        current.clear();
    };
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '(' => parens += 1,
            ')' => parens = parens.saturating_sub(1),
            ':' if parens == 0 => seen_colon = true,
            _ => {}
        }
        // A field ends at its type: after the colon, the type's last character is followed
        // by whitespace and the next field's name (or a directive, or the end).
        if seen_colon && parens == 0 && (c == '\n' || c == ',') {
            flush(&mut current, &mut fields);
            seen_colon = false;
            i += 1;
            continue;
        }
        current.push(c);
        i += 1;
    }
    flush(&mut current, &mut fields);
    fields
        .into_iter()
        .map(|f| match f.find('@') {
            Some(at) => f[..at].trim().to_string(),
            None => f,
        })
        .filter(|f| f.contains(':'))
        .collect()
}

/// Whether an operation's path answers `asked` (`/pets`, `/pets/42`): the same path, a path
/// below it, or the path template it fills (`/pets/{petId}`).
pub fn path_matches(template: &str, asked: &str) -> bool {
    let norm = |p: &str| p.trim().trim_end_matches('/').to_ascii_lowercase();
    let (t, a) = (norm(template), norm(asked));
    if t == a || t.starts_with(&format!("{a}/")) {
        return true;
    }
    let ts: Vec<&str> = t.split('/').collect();
    let as_: Vec<&str> = a.split('/').collect();
    ts.len() == as_.len()
        && ts
            .iter()
            .zip(&as_)
            .all(|(t, a)| t == a || (t.starts_with('{') && t.ends_with('}') && !a.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openapi_3_servers_auth_and_operations() {
        let def = json!(
            "openapi: 3.0.0\ninfo: {title: Pets, version: 1.0.0}\nservers:\n  - url: http://petstore.swagger.io/v1\n\
             components:\n  securitySchemes:\n    bearer: {type: http, scheme: bearer}\n    key: {type: apiKey, in: header, name: X-API-Key}\n\
             paths:\n  /pets:\n    get: {summary: List all pets}\n    post: {operationId: createPets}\n  /pets/{petId}:\n    get: {summary: Info for a pet}\n"
        );
        let Definition::Read(d) = read(Some("openapi"), &def) else {
            panic!("not read")
        };
        assert_eq!(d.format, "OpenAPI 3.0.0");
        assert_eq!(d.servers, ["http://petstore.swagger.io/v1"]);
        assert_eq!(
            d.auth,
            ["bearer: http bearer", "key: apiKey in header X-API-Key"]
        );
        let ops: Vec<String> = d
            .operations
            .iter()
            .map(|o| format!("{} {} {:?}", o.verb, o.target, o.summary))
            .collect();
        assert_eq!(
            ops,
            [
                "GET /pets Some(\"List all pets\")",
                "POST /pets Some(\"createPets\")",
                "GET /pets/{petId} Some(\"Info for a pet\")"
            ]
        );
    }

    #[test]
    fn swagger_2_servers_come_from_host_and_base_path() {
        let def = json!({"swagger": "2.0", "host": "api.example.com", "basePath": "/v2",
            "schemes": ["https"], "securityDefinitions": {"oauth": {"type": "oauth2", "flow": "implicit"}},
            "paths": {"/users": {"get": {"summary": "Users"}, "parameters": []}}});
        let Definition::Read(d) = read(Some("openapi"), &def) else {
            panic!("not read")
        };
        assert_eq!(d.servers, ["https://api.example.com/v2"]);
        assert_eq!(d.auth, ["oauth: oauth2 implicit"]);
        assert_eq!(d.operations.len(), 1);
    }

    #[test]
    fn placeholders_left_are_links_or_unread_and_other_types_are_opaque() {
        assert_eq!(
            read(
                Some("openapi"),
                &json!({"$text": "https://x.example/o.yaml"})
            ),
            Definition::Link("https://x.example/o.yaml".into())
        );
        assert_eq!(
            read(Some("openapi"), &json!({"$text": "./gone.yaml"})),
            Definition::Unread("./gone.yaml".into())
        );
        assert!(matches!(
            read(Some("trpc"), &json!("import x\nexport y\n")),
            Definition::Opaque { lines: 2, .. }
        ));
    }

    #[test]
    fn graphql_root_fields_with_a_renamed_query_type() {
        let sdl = "schema {\n  query: Root\n  mutation: M\n}\n\n\"\"\"The root\"\"\"\ntype Root {\n  \"\"\"All films\"\"\"\n  allFilms(after: String, first: Int): FilmsConnection\n  film(id: ID, filmID: ID): Film # one\n  node(\n    id: ID!\n  ): Node\n}\n\ntype M { addFilm(title: String!): Film @deprecated }\n\ntype Film { title: String }\n";
        let Definition::Read(d) = read(Some("graphql"), &json!(sdl)) else {
            panic!("not read")
        };
        let ops: Vec<String> = d
            .operations
            .iter()
            .map(|o| format!("{} {}", o.verb, o.target))
            .collect();
        assert_eq!(
            ops,
            [
                "query allFilms(after: String, first: Int): FilmsConnection",
                "query film(id: ID, filmID: ID): Film",
                "query node( id: ID! ): Node",
                "mutation addFilm(title: String!): Film"
            ]
        );
    }

    #[test]
    fn paths_match_themselves_what_is_below_and_their_templates() {
        assert!(path_matches("/pets", "/pets"));
        assert!(path_matches("/pets/{petId}", "/pets"));
        assert!(path_matches("/pets/{petId}", "/pets/42"));
        assert!(path_matches("/Pets/", "/pets"));
        assert!(!path_matches("/pets", "/pet"));
        assert!(!path_matches("/stores/{id}", "/pets/42"));
    }
}
