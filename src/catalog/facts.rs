//! An entity as expressions read it: workflow policies, templates and scorecard checks see the
//! same fields, named as in its YAML where they exist there.

use serde_json::{Map, Value, json};

use super::{Id, RelKind, Snapshot};

/// An entity as policies and templates read it.
pub fn entity_json(snap: &Snapshot, id: Id) -> Value {
    let e = snap.entity(id);
    let owners: Vec<String> = e
        .related(RelKind::OwnedBy)
        .map(|o| snap.entity(o).key())
        .collect();
    let system = e
        .related(RelKind::PartOf)
        .find(|&s| snap.entity(s).kind_is("system"))
        .map(|s| snap.entity(s).key());
    json!({
        "ref": e.key(),
        "kind": e.kind.to_ascii_lowercase(),
        "namespace": &*e.namespace,
        "name": &*e.name,
        "title": e.title.as_deref(),
        "owners": owners,
        "lifecycle": e.lifecycle.as_deref(),
        "metadata": {
            "name": &*e.name,
            "namespace": &*e.namespace,
            "title": e.title.as_deref(),
            "description": e.description.as_deref(),
            "tags": e.tags.iter().map(|t| &**t).collect::<Vec<_>>(),
            "annotations": e.annotations.iter().map(|(k, v)| (k.to_string(), json!(&**v))).collect::<Map<_, _>>(),
            "links": e.links.iter().map(|l| json!({"url": &*l.url, "title": l.title.as_deref(), "type": l.kind.as_deref()})).collect::<Vec<_>>(),
        },
        "spec": {
            "type": e.spec_type.as_deref(),
            "lifecycle": e.lifecycle.as_deref(),
            "owner": owners.first(),
            "system": system,
        },
        "quarantined": e.is_quarantined(),
    })
}
