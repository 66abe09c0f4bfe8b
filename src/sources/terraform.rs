//! Terraform state as a source of infrastructure: each managed resource instance in a state
//! file (format version 4, Terraform 0.12 and later) becomes a Resource entity, owned by the
//! team its workspace is mapped to (`catalog.terraform.workspaces`), and a dependency of every
//! component that names the workspace in its `terraform.io/workspace` annotation.
//!
//! A state file holds every attribute of every resource, secrets included (a database's
//! password, a private key). Only an allow-list reaches the catalog: the address, type,
//! provider, region, tags and a few identifying attributes per common resource type, and none
//! of those when the state marks it sensitive or the resource type exists to hold a secret.
//! Nothing read from a state file is logged. Data sources are not infrastructure the
//! workspace manages, and are skipped.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::catalog::RawEntity;
use crate::catalog::model::Provenance;
use crate::catalog::refs::EntityRef;
use crate::catalog::snapshot::{Details, Id, Problem};
use crate::catalog::validate::{Origin, validate};

/// The annotation that ties resources to a workspace, and components to the workspaces whose
/// resources they depend on (several, separated by commas).
pub const WORKSPACE: &str = "terraform.io/workspace";

/// The largest state file read. A big workspace's state runs to tens of MB.
const MAX_STATE_BYTES: usize = 256 << 20;

/// Attributes kept for every resource type: what names the object at its provider.
const IDENTIFYING: &[&str] = &["id", "arn", "name", "self_link"];

/// Attributes kept beyond those, per resource type (or type prefix ending in `*`): what an
/// engineer asks about first.
const BY_TYPE: &[(&str, &[&str])] = &[
    ("aws_s3_bucket", &["bucket"]),
    (
        "aws_db_instance",
        &["identifier", "engine", "engine_version", "instance_class"],
    ),
    (
        "aws_rds_cluster",
        &["cluster_identifier", "engine", "engine_version"],
    ),
    ("aws_elasticache_cluster", &["cluster_id", "engine"]),
    ("aws_lb", &["dns_name", "load_balancer_type"]),
    ("aws_alb", &["dns_name"]),
    ("aws_elb", &["dns_name"]),
    (
        "aws_lb_listener",
        &["port", "protocol", "load_balancer_arn"],
    ),
    ("aws_lb_target_group", &["port", "protocol", "vpc_id"]),
    ("aws_instance", &["instance_type", "availability_zone"]),
    ("aws_subnet", &["cidr_block", "vpc_id", "availability_zone"]),
    ("aws_vpc", &["cidr_block"]),
    ("aws_security_group", &["vpc_id"]),
    ("aws_lambda_function", &["function_name", "runtime"]),
    ("aws_sqs_queue", &["url"]),
    ("aws_ecs_service", &["cluster"]),
    ("aws_eks_cluster", &["version"]),
    ("aws_cloudwatch_log_group", &["retention_in_days"]),
    ("google_*", &["project"]),
    ("azurerm_*", &["resource_group_name"]),
];

/// Whether a resource type exists to hold or make a secret: only its address and type are
/// kept (its id can be the secret itself: `random_string`'s is its result).
fn holds_secret(kind: &str) -> bool {
    let harmless_random = ["random_pet", "random_integer", "random_shuffle"];
    (kind.starts_with("random_") && !harmless_random.contains(&kind))
        || kind.starts_with("tls_")
        || kind.starts_with("vault_")
        || SECRET_WORDS.iter().any(|w| kind.contains(w))
}

/// Words of resource types that hold a secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "secret",
    "private_key",
    "access_key",
    "token",
    "credential",
    "certificate",
    "key_pair",
    "api_key",
    "account_key",
    "signing_key",
];

#[derive(Deserialize)]
struct State {
    version: u64,
    #[serde(default)]
    serial: u64,
    #[serde(default)]
    lineage: String,
    #[serde(default)]
    resources: Vec<Resource>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    module: Option<String>,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    instances: Vec<Instance>,
}

#[derive(Deserialize)]
struct Instance {
    #[serde(default)]
    index_key: Option<Value>,
    #[serde(default)]
    deposed: Option<String>,
    #[serde(default)]
    attributes: Option<Kept<Value>>,
    /// Legacy providers' flattened attributes (`"tags.Name": "web"`).
    #[serde(default)]
    attributes_flat: Option<Kept<String>>,
    #[serde(default)]
    sensitive_attributes: Vec<Value>,
}

/// The attributes of an instance that any resource type may keep (`could_keep`), read as
/// the file is parsed: every other value is skipped unread, never held in memory.
#[derive(Debug, Default)]
struct Kept<T>(BTreeMap<String, T>);

impl<T> Kept<T> {
    fn get(&self, k: &str) -> Option<&T> {
        self.0.get(k)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Kept<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = Kept<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of attributes")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Kept<T>, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(k) = m.next_key::<String>()? {
                    if could_keep(&k) {
                        out.insert(k, m.next_value::<T>()?);
                    } else {
                        m.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(Kept(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// Whether some resource type keeps an attribute of this name (a flat one: `tags.Name`).
fn could_keep(k: &str) -> bool {
    let k = k.split('.').next().unwrap_or(k);
    IDENTIFYING.contains(&k)
        || REGION_KEYS.contains(&k)
        || k == "tags"
        || BY_TYPE.iter().any(|(_, a)| a.contains(&k))
}

/// Attributes that say where a resource is.
const REGION_KEYS: &[&str] = &["region", "location", "zone", "availability_zone"];

/// What one state file yielded.
#[derive(Debug, Default)]
pub struct StateRead {
    pub entities: Vec<RawEntity>,
    pub problems: Vec<Problem>,
    /// False when the file could not be read or is no version 4 state: what it held before is
    /// kept.
    pub complete: bool,
}

impl StateRead {
    /// A file that could not be read: `why`, and what it delivered last is kept.
    fn not_read(location: &str, why: String) -> StateRead {
        StateRead {
            problems: vec![Problem {
                location: location.to_string(),
                line: 0,
                message: format!("{why}; its resources are kept as last read"),
            }],
            ..StateRead::default()
        }
    }
}

/// The workspace a state file belongs to: `NAME` for `terraform.tfstate.d/NAME/...` (the local
/// backend's other workspaces), else the file's name without `.tfstate`/`.json`, or its
/// directory's name for a plain `terraform.tfstate`.
pub fn workspace_of(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(i) = parts.iter().position(|p| p == "terraform.tfstate.d")
        && let Some(ws) = parts.get(i + 1).filter(|_| i + 2 < parts.len())
    {
        return ws.clone();
    }
    let file = parts.last().cloned().unwrap_or_default();
    let stem = file
        .trim_end_matches(".json")
        .trim_end_matches(".tfstate")
        .to_string();
    if stem == "terraform" || stem.is_empty() {
        let dir = path
            .parent()
            .and_then(|d| d.file_name())
            .map(|d| d.to_string_lossy().into_owned());
        return dir.unwrap_or_else(|| "default".into());
    }
    stem
}

/// Reads one state file. `owners` maps workspaces to the team that owns their resources.
pub fn read_state(
    path: &Path,
    location: &str,
    owners: &BTreeMap<String, String>,
    read_at: i64,
) -> StateRead {
    match read_limited(path) {
        Ok(bytes) => read_state_bytes(&bytes, path, location, owners, read_at),
        Err(why) => StateRead::not_read(location, format!("Terraform state not read: {why}")),
    }
}

/// As `read_state`, for a state file's bytes (`path` names its workspace).
pub fn read_state_bytes(
    bytes: &[u8],
    path: &Path,
    location: &str,
    owners: &BTreeMap<String, String>,
    read_at: i64,
) -> StateRead {
    let problem = |message: String| Problem {
        location: location.to_string(),
        line: 0,
        message,
    };
    let state: State = match serde_json::from_slice(bytes) {
        Ok(s) => s,
        Err(e) => {
            // Where and what kind of error, never serde's message: it can quote a value.
            let what = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    "not JSON"
                }
                _ => "not a state file",
            };
            return StateRead::not_read(
                location,
                format!(
                    "Terraform state not read: {what} (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            );
        }
    };
    if state.version != 4 {
        return StateRead::not_read(
            location,
            format!(
                "Terraform state format version {} is not read (version 4 is: Terraform 0.12 and later)",
                state.version
            ),
        );
    }
    let workspace = workspace_of(path);
    let owner = owners.get(&workspace).map(|o| {
        EntityRef::parse(o, Some("group"), "default")
            .map(|r| r.key())
            .unwrap_or_else(|_| o.clone())
    });
    let mut out = StateRead {
        complete: true,
        ..StateRead::default()
    };
    if owner.is_none() {
        out.problems.push(problem(format!(
            "workspace `{workspace}` has no team in catalog.terraform.workspaces: its resources have no owner"
        )));
    }
    let about = About {
        location,
        workspace: &workspace,
        owner: owner.as_deref(),
        serial: state.serial,
        lineage: &state.lineage,
        read_at,
    };
    let mut line = 0u32;
    for r in state.resources.iter().filter(|r| r.mode == "managed") {
        for i in r.instances.iter().filter(|i| i.deposed.is_none()) {
            line += 1;
            out.entities.push(about.entity(r, i, line));
        }
    }
    // Addresses that make the same name (names compare without case) are told apart by hash.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for e in &out.entities {
        *seen.entry(e.key.clone()).or_default() += 1;
    }
    for e in out.entities.iter_mut().filter(|e| seen[&e.key] > 1) {
        let address = e.body["metadata"]["title"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = entity_name(&workspace, &address, true);
        e.body["metadata"]["name"] = json!(name);
        e.key = EntityRef::new("Resource", "default", &name).key();
    }
    out
}

/// What every resource of one state file shares.
struct About<'a> {
    location: &'a str,
    workspace: &'a str,
    owner: Option<&'a str>,
    serial: u64,
    lineage: &'a str,
    read_at: i64,
}

impl About<'_> {
    fn entity(&self, r: &Resource, i: &Instance, line: u32) -> RawEntity {
        let address = address(r, i);
        let provider = provider(&r.provider);
        let mut annotations = Map::new();
        let mut note = |k: &str, v: String| {
            annotations.insert(format!("terraform.io/{k}"), Value::String(v));
        };
        note("workspace", self.workspace.to_string());
        note("address", address.clone());
        note("provider", provider.clone());
        note("state-serial", self.serial.to_string());
        note("state-lineage", self.lineage.to_string());
        let kept = kept_attributes(&r.kind, i);
        if let Some(region) = region(&kept) {
            note("region", region);
        }
        for (k, v) in &kept {
            if k != "tags" {
                note(k, v.clone());
            }
        }
        if let Some(tags) = kept.get("tags") {
            note("tags", tags.clone());
        }
        let mut spec = json!({"type": r.kind});
        if let Some(o) = self.owner {
            spec["owner"] = json!(o);
        }
        let body = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Resource",
            "metadata": {
                "name": entity_name(self.workspace, &address, false),
                "title": address,
                "description": format!("{} in Terraform workspace {} ({provider})", r.kind, self.workspace),
                "annotations": annotations,
            },
            "spec": spec,
        });
        let mut reasons: Vec<String> = validate(
            &body,
            Origin::File {
                location_type: "file",
                extra_kinds: &[],
            },
        )
        .into_iter()
        .map(|i| i.describe())
        .collect();
        if self.owner.is_none() {
            reasons.push(format!(
                "workspace `{}` has no team in catalog.terraform.workspaces",
                self.workspace
            ));
        }
        let key = crate::catalog::model::identity(&body)
            .map(|(k, n, name)| EntityRef::new(&k, &n, &name).key())
            .unwrap_or_default();
        RawEntity {
            key,
            body,
            provenance: Provenance {
                source: "terraform".into(),
                location: self.location.to_string(),
                line,
                commit: None,
                fetched_at: self.read_at,
                orphaned_at: None,
            },
            reasons,
            claims: Vec::new(),
            seq: 0,
        }
    }
}

/// The instance's address as Terraform writes it: `module.vpc.aws_eip.nat[0]`.
fn address(r: &Resource, i: &Instance) -> String {
    let mut a = match &r.module {
        Some(m) if !m.is_empty() => format!("{m}.{}.{}", r.kind, r.name),
        _ => format!("{}.{}", r.kind, r.name),
    };
    match &i.index_key {
        Some(Value::Number(n)) => a.push_str(&format!("[{n}]")),
        Some(Value::String(s)) => a.push_str(&format!("[{}]", Value::String(s.clone()))),
        _ => {}
    }
    a
}

/// The provider's source address: `provider["registry.terraform.io/hashicorp/aws"].east` is
/// `registry.terraform.io/hashicorp/aws`; Terraform 0.12's `provider.aws` is hashicorp's.
fn provider(p: &str) -> String {
    if let Some(rest) = p.strip_prefix("provider[\"")
        && let Some(end) = rest.find('"')
    {
        return rest[..end].to_string();
    }
    match p.strip_prefix("provider.") {
        Some(name) => format!(
            "registry.terraform.io/hashicorp/{}",
            name.split('.').next().unwrap_or(name)
        ),
        None => p.to_string(),
    }
}

/// A valid entity name for a workspace's address: `WORKSPACE.ADDRESS` with every other
/// character a `-`; a long one (or, `hashed`, one whose name another address of the file
/// also makes: `users["a b"]`, `users["a-b"]`) keeps its head and a hash of the whole.
fn entity_name(workspace: &str, address: &str, hashed: bool) -> String {
    let full = format!("{workspace}.{}", address.replace("module.", ""));
    let mut name = String::with_capacity(full.len());
    for c in full.chars().filter(|c| !matches!(c, ']' | '"')) {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            c
        } else {
            '-'
        };
        // One separator at a time: `users["a"]` is `users-a`.
        if !c.is_ascii_alphanumeric() && name.ends_with(['-', '_', '.']) {
            continue;
        }
        name.push(c);
    }
    let mut name = name
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    if hashed || name.len() > 63 {
        use sha2::Digest as _;
        let digest = hex::encode(&sha2::Sha256::digest(full.as_bytes())[..4]);
        name.truncate(54);
        let head = name.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        name = format!("{head}-{digest}");
    }
    if name.is_empty() {
        name = "resource".into();
    }
    name
}

/// What reaches the catalog of one instance of a `kind` resource (an instance as the state
/// file holds it): the attributes of the allow-list, by name, as text.
pub fn kept_of(kind: &str, instance: &Value) -> BTreeMap<String, String> {
    serde_json::from_value::<Instance>(instance.clone())
        .map(|i| kept_attributes(kind, &i))
        .unwrap_or_default()
}

/// The attributes of the allow-list this instance has, as text, without any the state marks
/// sensitive. Tags are one `Key=Value, …` text.
fn kept_attributes(kind: &str, i: &Instance) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if holds_secret(kind) {
        return out;
    }
    // The first step of each path the state marks sensitive; a path that cannot be read
    // withholds everything.
    let mut sensitive: Vec<&str> = Vec::new();
    for path in &i.sensitive_attributes {
        match path
            .as_array()
            .and_then(|p| p.first())
            .and_then(|step| step.get("value"))
            .and_then(Value::as_str)
        {
            Some(first) => sensitive.push(first),
            None => return out,
        }
    }
    let extra = BY_TYPE
        .iter()
        .filter(|(t, _)| match t.strip_suffix('*') {
            Some(prefix) => kind.starts_with(prefix),
            None => *t == kind,
        })
        .flat_map(|(_, a)| a.iter());
    let wanted = IDENTIFYING
        .iter()
        .chain(extra)
        .chain(REGION_KEYS.iter())
        .chain(["tags"].iter());
    for &k in wanted {
        if sensitive.contains(&k) || out.contains_key(k) {
            continue;
        }
        if k == "tags" {
            if let Some(tags) = tags(i) {
                out.insert(k.to_string(), tags);
            }
            continue;
        }
        let v = match (&i.attributes, &i.attributes_flat) {
            (Some(a), _) => a.get(k).and_then(scalar),
            (None, Some(flat)) => flat.get(k).cloned(),
            _ => None,
        };
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.insert(k.to_string(), v);
        }
    }
    out
}

/// `tags`, as `Key=Value` pairs in key order.
fn tags(i: &Instance) -> Option<String> {
    let pairs: Vec<String> = match (&i.attributes, &i.attributes_flat) {
        (Some(a), _) => a
            .get("tags")?
            .as_object()?
            .iter()
            .filter_map(|(k, v)| Some(format!("{k}={}", scalar(v)?)))
            .collect(),
        (None, Some(flat)) => flat
            .0
            .iter()
            .filter(|(k, _)| k.as_str() != "tags.%")
            .filter_map(|(k, v)| Some(format!("{}={v}", k.strip_prefix("tags.")?)))
            .collect(),
        _ => return None,
    };
    (!pairs.is_empty()).then(|| pairs.join(", "))
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Where the resource is: its `region` or `location`, a zone's region (`us-east-1a`,
/// `europe-west1-b`), or the region of its ARN.
fn region(kept: &BTreeMap<String, String>) -> Option<String> {
    if let Some(r) = kept.get("region").or(kept.get("location")) {
        return Some(r.clone());
    }
    // AWS: `us-east-1a` is in `us-east-1` (not a Local Zone's `us-west-2-lax-1a`).
    static AWS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^([a-z]{2}(?:-gov)?-[a-z]+-[0-9]+)[a-z]$").unwrap());
    // Google Cloud: `europe-west1-b` is in `europe-west1`.
    static GCP: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^([a-z]+-[a-z]+[0-9]+)-[a-z]$").unwrap());
    let zoned = ["availability_zone", "zone"]
        .iter()
        .filter_map(|k| kept.get(*k))
        .find_map(|z| AWS.captures(z).or_else(|| GCP.captures(z)));
    if let Some(c) = zoned {
        return Some(c[1].to_string());
    }
    kept.get("arn")
        .and_then(|a| a.split(':').nth(3))
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let buf = super::local::read_limited(path, MAX_STATE_BYTES)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if buf.len() > MAX_STATE_BYTES {
        return Err(format!("larger than {} MB", MAX_STATE_BYTES >> 20));
    }
    Ok(buf)
}

/// The state files `paths` name (files or globs, `.backup` files left out), with the problems
/// of paths that name none or cannot be listed: their resources are then kept as last read.
pub fn state_files(paths: &[String]) -> (Vec<std::path::PathBuf>, Vec<Problem>) {
    let (mut files, mut problems) = (Vec::new(), Vec::new());
    for p in paths {
        let found: Result<Vec<_>, String> = if p.contains(['*', '?', '[']) {
            match glob::glob(p) {
                Err(e) => Err(format!("bad glob pattern: {e}")),
                Ok(g) => g
                    .map(|f| {
                        f.map_err(|e| format!("cannot list {}: {}", e.path().display(), e.error()))
                    })
                    .collect::<Result<Vec<_>, String>>()
                    .map(|f| {
                        // A backup Terraform writes beside the state is not another workspace.
                        f.into_iter()
                            .filter(|f| f.is_file() && !f.to_string_lossy().ends_with(".backup"))
                            .collect::<Vec<_>>()
                    })
                    .and_then(|f| match f.is_empty() {
                        true => Err("matches no state file".into()),
                        false => Ok(f),
                    }),
            }
        } else if Path::new(p).is_file() {
            Ok(vec![Path::new(p).to_path_buf()])
        } else {
            Err("no such file".into())
        };
        match found {
            Ok(f) => files.extend(f),
            Err(why) => problems.push(Problem {
                location: p.clone(),
                line: 0,
                message: format!("catalog.terraform.paths: {why}"),
            }),
        }
    }
    files.sort();
    files.dedup();
    (files, problems)
}

/// The edges the workspace annotation makes: every Resource of a workspace is a dependency of
/// every Component that names the workspace (`resource dependencyOf component`).
pub fn workspace_edges(entities: &[Details]) -> Vec<(Id, Id)> {
    let mut declared: BTreeMap<&str, Vec<Id>> = BTreeMap::new();
    for (id, e) in entities.iter().enumerate() {
        if e.kind_is("component")
            && let Some(ws) = e.annotation(WORKSPACE)
        {
            for w in ws.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                declared.entry(w).or_default().push(id as Id);
            }
        }
    }
    if declared.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (id, e) in entities.iter().enumerate() {
        if e.kind_is("resource")
            && let Some(users) = e.annotation(WORKSPACE).and_then(|w| declared.get(w.trim()))
        {
            out.extend(users.iter().map(|&c| (id as Id, c)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspaces_come_from_the_local_backend_layout_or_the_file_name() {
        let ws = |p: &str| workspace_of(Path::new(p));
        assert_eq!(
            ws("infra/terraform.tfstate.d/payments-prod/terraform.tfstate"),
            "payments-prod"
        );
        assert_eq!(ws("states/checkout-staging.tfstate"), "checkout-staging");
        assert_eq!(ws("states/checkout.tfstate.json"), "checkout");
        assert_eq!(ws("infra/network/terraform.tfstate"), "network");
    }

    #[test]
    fn names_are_valid_and_unique_per_address() {
        let valid = |n: &str| {
            n.len() <= 63
                && n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && n.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
        };
        let a = entity_name("prod", "aws_iam_user.users[\"foo.bar\"]", false);
        assert_eq!(a, "prod.aws_iam_user.users-foo.bar");
        let long = "module.ec2_openvpn.module.bastion_sg.aws_security_group_rule.ingress_rules[0]";
        let (x, y) = (
            entity_name("prod", long, false),
            entity_name("prod", &long.replace("[0]", "[1]"), false),
        );
        assert!(valid(&x) && valid(&y) && x != y, "{x} {y}");
    }

    #[test]
    fn addresses_that_make_one_name_are_told_apart() {
        let (a, b) = (
            entity_name("prod", "x.users[\"a b\"]", true),
            entity_name("prod", "x.users[\"a-b\"]", true),
        );
        assert!(a != b && a.starts_with("prod.x.users-a-b-"), "{a} {b}");
    }

    #[test]
    fn regions_come_from_zones_only_when_they_read_as_one() {
        let of = |k: &str, v: &str| region(&BTreeMap::from([(k.to_string(), v.to_string())]));
        assert_eq!(
            of("availability_zone", "us-east-1a").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            of("zone", "europe-west1-b").as_deref(),
            Some("europe-west1")
        );
        assert_eq!(of("availability_zone", "us-west-2-lax-1a"), None);
        assert_eq!(of("zone", "my-site.com"), None);
        assert_eq!(of("location", "eastus").as_deref(), Some("eastus"));
    }

    #[test]
    fn providers_read_in_every_style() {
        assert_eq!(
            provider("provider.aws"),
            "registry.terraform.io/hashicorp/aws"
        );
        assert_eq!(
            provider("provider[\"registry.terraform.io/hashicorp/aws\"].east"),
            "registry.terraform.io/hashicorp/aws"
        );
        assert_eq!(
            provider("provider[\"terraform.io/builtin/terraform\"]"),
            "terraform.io/builtin/terraform"
        );
    }
}
