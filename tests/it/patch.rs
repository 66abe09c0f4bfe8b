//! The live snapshot patched with a repository read again is the snapshot a rebuild from the
//! store gives: the same entities in the same order, with the same relations, dangling
//! references, people, conflicts and problems, and the same answers to the same questions,
//! after every push of a random sequence, on SQLite and PostgreSQL.
//!
//! The world is Backstage's example catalog spread over GitHub repositories; each push rewrites
//! one repository as people do: an owner changed, a dependency added (on something that exists
//! or not), an entity removed, renamed, added, moved between files, copied from another
//! repository (a conflict), a member given a chat identity, a file broken, the repository
//! orphaned. `SWITCHBOARD_PATCH_SEED` replays a sequence; a failure names its seed.

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard::catalog::model::identity;
use switchboard::catalog::{EntityRef, RawEntity, Snapshot};
use switchboard::chat::render;
use switchboard::sources::rotations::Rotations;
use switchboard::store::Store;
use switchboard::{Bot, sync};

use crate::common::{self, databases, examples, within};

const SOURCE: &str = "github";
const REPOS: usize = 10;
const PUSHES: usize = 30;

/// A small deterministic generator (SplitMix64): the sequence is the seed's.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// One repository: its files, each a list of entity documents.
#[derive(Clone, Default)]
struct Repo {
    files: Vec<(String, Vec<Value>)>,
    /// The next push stores its first file as unreadable (its last good read is kept).
    broken: bool,
}

fn scope(repo: usize) -> String {
    switchboard::sources::github::scope(&format!("acme/repo-{repo}"))
}

fn key_of(body: &Value) -> String {
    let (kind, namespace, name) = identity(body).expect("an entity");
    EntityRef::new(&kind, &namespace, &name).key()
}

fn raw(body: &Value, location: &str, line: u32, now: i64) -> RawEntity {
    RawEntity {
        key: key_of(body),
        body: body.clone(),
        provenance: switchboard::catalog::Provenance {
            source: SOURCE.into(),
            location: location.into(),
            line,
            commit: Some(format!("c{now}")),
            fetched_at: now,
            orphaned_at: None,
        },
        reasons: Vec::new(),
        claims: claims(body, location),
        seq: 0,
    }
}

/// Components and APIs are claimed by the CODEOWNERS of their repository for team-a (by
/// GitHub team) or team-b (by reference), by the parity of their name's length: those owned by
/// another team are disputed, and owner edits, renames and Groups coming and going change that.
fn claims(body: &Value, location: &str) -> Vec<switchboard::catalog::model::Claim> {
    let kind = body["kind"].as_str().unwrap_or("");
    if !matches!(kind, "Component" | "API") {
        return Vec::new();
    }
    let name = body["metadata"]["name"].as_str().unwrap_or("");
    let owner = match name.len() % 2 {
        0 => "@acme/team-a",
        _ => "group:default/team-b",
    };
    let repo = location
        .splitn(3, '/')
        .take(2)
        .collect::<Vec<_>>()
        .join("/");
    vec![switchboard::catalog::model::Claim {
        source: "codeowners".into(),
        owners: vec![owner.into()],
        location: format!("{repo}/.github/CODEOWNERS"),
        line: 1,
    }]
}

/// Stores what `repo` holds now, as a scan of it does.
async fn push(store: &Store, n: usize, repo: &mut Repo, now: i64) {
    let mut r = store
        .begin_replace_in(SOURCE, &scope(n), Some(now))
        .await
        .unwrap();
    for (i, (path, docs)) in repo.files.iter().enumerate() {
        let location = format!("{}{path}", scope(n));
        let entities = docs
            .iter()
            .enumerate()
            .map(|(line, d)| raw(d, &location, line as u32 + 1, now))
            .collect();
        let complete = !(repo.broken && i == 0);
        r.file(&location, entities, Vec::new(), complete)
            .await
            .unwrap();
    }
    r.finish().await.unwrap();
    repo.broken = false;
}

/// Pushes that take each path of a patch, in order: a reference to what does not exist yet,
/// satisfied by another repository, broken by a rename, satisfied again, a move between files,
/// an owner taken away; then a conflict made and resolved (rebuilds).
const SCRIPTED: usize = 8;

fn scripted(repos: &mut [Repo], step: usize) -> (usize, String) {
    let new = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "scripted-new"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}});
    let group = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group",
        "metadata": {"name": "scripted-team"}, "spec": {"type": "team", "children": []}});
    let named = |repo: &mut Repo, name: &str| -> Option<(usize, usize)> {
        repo.files.iter().enumerate().find_map(|(f, (_, docs))| {
            docs.iter()
                .position(|d| d["metadata"]["name"] == name)
                .map(|i| (f, i))
        })
    };
    match step {
        0 => {
            let repo = &mut repos[1];
            let doc = repo.files[0]
                .1
                .iter_mut()
                .find(|d| d["kind"] == "Component");
            let doc = doc.expect("a component in repo-1");
            doc["spec"]["owner"] = json!("scripted-team");
            doc["spec"]["dependsOn"] = json!(["component:default/scripted-new"]);
            (
                1,
                format!(
                    "{} depends on scripted-new, owned by scripted-team",
                    key_of(doc)
                ),
            )
        }
        1 => {
            repos[2].files[0].1.extend([new, group]);
            (2, "scripted-new and scripted-team added".into())
        }
        2 | 3 => {
            let (from, to) = match step {
                2 => ("scripted-new", "scripted-renamed"),
                _ => ("scripted-renamed", "scripted-new"),
            };
            let (f, i) = named(&mut repos[2], from).expect("scripted entity");
            repos[2].files[f].1[i]["metadata"]["name"] = json!(to);
            (2, format!("{from} renamed {to}"))
        }
        4 => {
            let (f, i) = named(&mut repos[2], "scripted-new").expect("scripted entity");
            let doc = repos[2].files[f].1.remove(i);
            repos[2]
                .files
                .push(("scripted/catalog-info.yaml".into(), vec![doc]));
            (2, "scripted-new moved to another file".into())
        }
        5 => {
            let (f, i) = named(&mut repos[2], "scripted-team").expect("scripted group");
            repos[2].files[f].1.remove(i);
            (2, "scripted-team removed".into())
        }
        6 => {
            repos[3].files[0].1.push(new);
            (3, "scripted-new copied into repo-3 (a conflict)".into())
        }
        _ => {
            repos[3].files[0]
                .1
                .retain(|d| d["metadata"]["name"] != "scripted-new");
            (3, "the copy taken out".into())
        }
    }
}

/// Changes one repository as a push would.
fn mutate(rng: &mut Rng, repos: &mut [Repo], n: usize, all_keys: &[String], step: usize) -> String {
    let groups: Vec<String> = all_keys
        .iter()
        .filter_map(|k| k.strip_prefix("group:default/").map(str::to_string))
        .collect();
    let components: Vec<String> = all_keys
        .iter()
        .filter(|k| k.starts_with("component:"))
        .cloned()
        .collect();
    // Conflicts are made rarely and taken out often, as in a catalog people keep.
    let choice = match rng.below(16) {
        7 if rng.below(3) > 0 => 0,
        12 => 11,
        c => c,
    };
    let other = rng.below(repos.len());
    let copied = repos[other]
        .files
        .iter()
        .flat_map(|(_, d)| d.iter().cloned())
        .collect::<Vec<_>>();
    let repo = &mut repos[n];
    if repo.files.is_empty() {
        repo.files.push(("catalog-info.yaml".into(), Vec::new()));
    }
    let f = rng.below(repo.files.len());
    let docs = &mut repo.files[f].1;
    let at = rng.below(docs.len());
    match choice {
        0 if !docs.is_empty() => {
            let owner = match rng.below(5) {
                0 => "ghost-team".to_string(),
                _ => rng.pick(&groups).cloned().unwrap_or_default(),
            };
            docs[at]["spec"]["owner"] = json!(owner);
            format!("owner of {} is {owner}", key_of(&docs[at]))
        }
        1 if !docs.is_empty() => {
            let target = match rng.below(2) {
                0 => format!("component:default/planned-{}", rng.below(2)),
                _ => rng.pick(&components).cloned().unwrap_or_default(),
            };
            let spec = docs[at]["spec"].as_object_mut();
            if let Some(spec) = spec {
                let list = spec.entry("dependsOn").or_insert(json!([]));
                if let Some(l) = list.as_array_mut() {
                    l.push(json!(target));
                }
            }
            format!("{} depends on {target}", key_of(&docs[at]))
        }
        2 if !docs.is_empty() => format!("removed {}", key_of(&docs.remove(at))),
        3 if !docs.is_empty() => {
            let old = key_of(&docs[at]);
            docs[at]["metadata"]["name"] = json!(format!("renamed-{step}"));
            format!("renamed {old} to renamed-{step}")
        }
        4 => {
            let name = match rng.below(2) {
                // Some of these are what other entities depend on without it existing.
                0 => format!("planned-{}", rng.below(2)),
                _ => format!("new-{step}"),
            };
            let owner = rng.pick(&groups).cloned().unwrap_or_default();
            let depends = rng.pick(&components).cloned().unwrap_or_default();
            docs.insert(
                at,
                json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                       "metadata": {"name": name, "title": format!("New service {step}")},
                       "spec": {"type": "service", "lifecycle": "experimental", "owner": owner,
                                "dependsOn": [depends]}}),
            );
            format!("added component {name}")
        }
        5 if !docs.is_empty() => {
            docs[at]["metadata"]["title"] = json!(format!("Retitled {step}"));
            format!("retitled {}", key_of(&docs[at]))
        }
        6 if !docs.is_empty() => {
            // Into another file of the same repository (a new one, at times).
            let moved = docs.remove(at);
            let what = format!("moved {} to another file", key_of(&moved));
            let to = rng.below(repo.files.len() + 1);
            if to == repo.files.len() {
                repo.files
                    .push((format!("more/catalog-{step}.yaml"), vec![moved]));
            } else {
                repo.files[to].1.push(moved);
            }
            what
        }
        7 => match rng.pick(&copied) {
            Some(doc) => {
                docs.push(doc.clone());
                format!("copied {} from repo-{other} (a conflict)", key_of(doc))
            }
            None => "nothing to copy".into(),
        },
        8 => {
            let user = format!("person-{step}");
            let group = rng.pick(&groups).cloned().unwrap_or_default();
            docs.push(json!({"apiVersion": "backstage.io/v1alpha1", "kind": "User",
                "metadata": {"name": user, "annotations": {"slack.com/user-id": format!("U{}", rng.below(4))}},
                "spec": {"profile": {"email": format!("{user}@example.com")}, "memberOf": [group]}}));
            format!("user {user} joined {group}")
        }
        9 => {
            repo.broken = true;
            "a file could not be read".into()
        }
        10 if docs.len() > 1 => {
            docs.swap(0, at);
            "reordered a file".into()
        }
        13 => {
            // The team some entities name as owner without it existing.
            docs.push(json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group",
                "metadata": {"name": "ghost-team"},
                "spec": {"type": "team", "children": [], "parent": rng.pick(&groups).cloned().unwrap_or_default()}}));
            "added group ghost-team".into()
        }
        11 => {
            // What another repository defines too is taken out (conflicts are resolved).
            let elsewhere: std::collections::HashSet<String> = repos
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != n)
                .flat_map(|(_, r)| r.files.iter().flat_map(|(_, d)| d.iter().map(key_of)))
                .collect();
            let before: usize = repos[n].files.iter().map(|(_, d)| d.len()).sum();
            for (_, docs) in &mut repos[n].files {
                docs.retain(|d| !elsewhere.contains(&key_of(d)));
            }
            let after: usize = repos[n].files.iter().map(|(_, d)| d.len()).sum();
            format!("{} definitions made elsewhere taken out", before - after)
        }
        _ => {
            let last = repo.files.len() - 1;
            let dropped = repo.files.remove(last);
            format!("deleted {} ({} entities)", dropped.0, dropped.1.len())
        }
    }
}

/// Everything a snapshot says, entity by entity, in its order, with relations as keys.
/// What `s` holds, entity by entity in order, with entities named by key rather than id (a patch
/// leaves the ids of removed entities empty where a rebuild numbers the rest again).
fn fingerprint(s: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let keys = |ids: &[switchboard::catalog::Id]| -> Vec<String> {
        ids.iter().map(|&id| s.entity(id).key()).collect()
    };
    for (id, e) in s.entities() {
        let rels: Vec<String> = e
            .relations
            .iter()
            .map(|r| {
                let d = if r.declared { "*" } else { "" };
                format!("{}{d} {}", r.kind.as_str(), s.entity(r.target).key())
            })
            .collect();
        let mut line = format!(
            "seq={} {} {:?} {:?}@{}:{} orphaned={:?} rels={rels:?} dangling={:?} reasons={:?}",
            e.origin.seq,
            e.key(),
            e.title,
            e.origin.source,
            e.origin.location,
            e.origin.line,
            e.origin.orphaned_at,
            e.dangling,
            e.reasons,
        );
        if e.kind_is("user") {
            for who in [
                e.annotation("slack.com/user-id")
                    .map(|u| format!("slack:{u}")),
                e.profile
                    .as_ref()
                    .and_then(|p| p.email.as_deref())
                    .map(|m| format!("email:{m}")),
            ]
            .into_iter()
            .flatten()
            {
                let found = s.person(&who).map(|p| s.entity(p).key());
                line.push_str(&format!(" {who}->{found:?}"));
            }
        }
        if e.kind_is("group") {
            line.push_str(&format!(" staffed={}", s.is_staffed(id)));
        }
        out.push(line);
    }
    out.push(format!("disputed {:?}", keys(&s.disputed)));
    for n in 0..REPOS {
        out.push(format!(
            "in {} {:?}",
            scope(n),
            keys(&s.in_scope(SOURCE, &scope(n)))
        ));
    }
    out.push(format!("in all {:?}", keys(&s.in_scope(SOURCE, ""))));
    out.push(format!("uninterpreted {:?}", s.uninterpreted_kinds));
    for c in &s.conflicts {
        out.push(format!(
            "conflict {} kept {} ignored {}",
            c.key,
            c.kept.describe(),
            c.ignored.describe()
        ));
    }
    out.extend(s.problems.iter().map(|p| format!("problem {p:?}")));
    out
}

/// What the bot answers about every entity of `s` (and a typo of each name).
async fn answers(bot: &Bot, s: &Arc<Snapshot>, names: &[String]) -> Vec<String> {
    bot.swap_snapshot(s.clone());
    let mut out = Vec::new();
    for name in names {
        let typo = format!("{}x", name);
        for q in [
            format!("who owns {name}"),
            format!("what depends on {name}"),
            format!("info {name}"),
            format!("who owns {typo}"),
        ] {
            let reply = common::ask(bot, &q).await;
            let json = render::json(&reply)
                .lines()
                .filter(|l| !l.contains("fetched_at") && !l.contains("built_at"))
                .collect::<Vec<_>>()
                .join("\n");
            out.push(format!("{q}\n{json}"));
        }
    }
    out.push(render::json(
        &common::ask(bot, "find kind:component owner:team-a").await,
    ));
    out.push(render::json(&common::ask(bot, "conflicts").await));
    out
}

#[tokio::test]
async fn a_patched_snapshot_answers_as_a_rebuild_from_the_store_after_every_push() {
    let seed = std::env::var("SWITCHBOARD_PATCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    within(async {
        for db in databases().await {
            let mut rng = Rng(seed);
            let store = Store::connect(&db.url, 2).await.unwrap();
            // Backstage's example catalog, spread over the repositories, two files each: people
            // (Users and Groups) in the last two, the rest in the others, as organisations
            // keep them (a push to a component's repository then leaves people as they were).
            let scanned = common::scan(&examples());
            let mut repos = vec![Repo::default(); REPOS];
            for (i, e) in scanned.entities.iter().enumerate() {
                let people = e.key.starts_with("user:") || e.key.starts_with("group:");
                let n = if people {
                    REPOS - 2 + i % 2
                } else {
                    i % (REPOS - 2)
                };
                let repo = &mut repos[n];
                if repo.files.len() < 2 {
                    repo.files
                        .push((format!("catalog-{}.yaml", repo.files.len()), Vec::new()));
                }
                let f = (i / REPOS) % 2;
                let f = f.min(repo.files.len() - 1);
                repo.files[f].1.push(e.body.clone());
            }
            let mut now = 1_795_000_000;
            for (n, repo) in repos.iter_mut().enumerate() {
                push(&store, n, repo, now).await;
            }
            let mut live = Arc::new(sync::load_snapshot(&store).await.unwrap());
            // Claims that disagree with owners: disputes for the patch to keep in step.
            let disputed = |s: &Snapshot| {
                fingerprint(s)
                    .iter()
                    .any(|l| l.starts_with("disputed [") && l != "disputed []")
            };
            assert!(disputed(&live), "{}", db.name);
            let bot = Bot::new(
                Snapshot::default(),
                Rotations::default(),
                Default::default(),
            );
            let (mut patched, mut rebuilt, mut holey) = (0, Vec::new(), 0);
            for step in 0..SCRIPTED + PUSHES {
                now += 60;
                let mut n = rng.below(REPOS);
                let keys: Vec<String> = live.entities().map(|(_, e)| e.key()).collect();
                let what = if step < SCRIPTED {
                    let (repo, what) = scripted(&mut repos, step);
                    n = repo;
                    push(&store, n, &mut repos[n], now).await;
                    what
                } else if rng.below(15) == 0 {
                    store.orphan_scope(SOURCE, &scope(n), now).await.unwrap();
                    format!("repo-{n} orphaned")
                } else {
                    let mut changes = Vec::new();
                    for _ in 0..1 + rng.below(3) {
                        changes.push(mutate(&mut rng, &mut repos, n, &keys, step));
                    }
                    push(&store, n, &mut repos[n], now).await;
                    changes.join("; ")
                };
                let reread = sync::reread_scopes(&store, live.clone(), SOURCE, &[scope(n)])
                    .await
                    .unwrap();
                match &reread.rebuilt {
                    None => patched += 1,
                    Some(why) => rebuilt.push(why.clone()),
                }
                if reread.snapshot.id_bound() > reread.snapshot.len() {
                    holey += 1;
                }
                // The scripted pushes take the patch's every path, then give way to rebuilds.
                if step < SCRIPTED {
                    assert_eq!(
                        reread.rebuilt.is_none(),
                        step < 6,
                        "{} step {step}: {what}: {:?}",
                        db.name,
                        reread.rebuilt
                    );
                }
                let fresh = Arc::new(sync::load_snapshot(&store).await.unwrap());
                let context = format!(
                    "{} seed {seed} push {step} to repo-{n} ({what}), {}",
                    db.name,
                    reread.rebuilt.as_deref().unwrap_or("patched")
                );
                let (a, b) = (fingerprint(&reread.snapshot), fingerprint(&fresh));
                for (x, y) in a.iter().zip(&b) {
                    assert_eq!(x, y, "{context}");
                }
                assert_eq!(a.len(), b.len(), "{context}");
                let names: Vec<String> =
                    fresh.entities().map(|(_, e)| e.name.to_string()).collect();
                let (a, b) = (
                    answers(&bot, &reread.snapshot, &names).await,
                    answers(&bot, &fresh, &names).await,
                );
                for (x, y) in a.iter().zip(&b) {
                    assert_eq!(x, y, "{context}");
                }
                live = reread.snapshot;
            }
            // Removed entities left their ids empty (the scripted move and removal at least).
            assert!(holey > 0, "{} seed {seed}", db.name);
            // Most pushes are patched; the rest rebuilt for a reason a patch cannot settle.
            assert!(
                patched * 2 > SCRIPTED + PUSHES,
                "{} seed {seed}: {patched} of {} pushes patched; rebuilt: {rebuilt:?}",
                db.name,
                SCRIPTED + PUSHES
            );
            store.close().await;
        }
    })
    .await;
}

/// Entities taken out one push at a time leave their ids empty, and one put back goes after the
/// last, so that no other entity moves; once the empty ids pass an eighth of the list, a patch
/// numbers every entity again. Each patch gives what a rebuild from the store gives.
#[tokio::test]
async fn removed_entities_leave_their_ids_empty_until_a_patch_numbers_the_catalog_again() {
    within(async {
        for db in databases().await {
            let store = Store::connect(&db.url, 2).await.unwrap();
            let docs: Vec<Value> = common::scan(&examples())
                .entities
                .iter()
                .map(|e| e.body.clone())
                .collect();
            // The first repository holds every entity but the people; the second, the people.
            let people = |d: &Value| d["kind"] == "User" || d["kind"] == "Group";
            let mut repos = [Repo::default(), Repo::default()];
            repos[0].files.push((
                "catalog-info.yaml".into(),
                docs.iter().filter(|d| !people(d)).cloned().collect(),
            ));
            repos[1].files.push((
                "people.yaml".into(),
                docs.iter().filter(|d| people(d)).cloned().collect(),
            ));
            let mut now = 1_795_000_000;
            push(&store, 0, &mut repos[0], now).await;
            push(&store, 1, &mut repos[1], now).await;
            let mut live = Arc::new(sync::load_snapshot(&store).await.unwrap());
            let total = live.len();
            let (mut emptied, mut renumbered, mut put_back) = (0, 0, false);
            for step in 0..total {
                now += 60;
                // Take the first entity out of the first file (every other moves up in a
                // rebuild); once, put an earlier one back (a new row: after the last).
                let what = match step {
                    3 => {
                        let doc = docs.iter().find(|d| !people(d)).unwrap().clone();
                        let what = format!("{} put back", key_of(&doc));
                        repos[0].files[0].1.push(doc);
                        put_back = true;
                        what
                    }
                    _ if repos[0].files[0].1.len() > 1 => {
                        format!("{} taken out", key_of(&repos[0].files[0].1.remove(0)))
                    }
                    _ => break,
                };
                push(&store, 0, &mut repos[0], now).await;
                let had_holes = live.id_bound() > live.len();
                let reread = sync::reread_scopes(&store, live.clone(), SOURCE, &[scope(0)])
                    .await
                    .unwrap();
                let context = format!("{} step {step}: {what}", db.name);
                assert_eq!(reread.rebuilt, None, "{context}");
                let fresh = sync::load_snapshot(&store).await.unwrap();
                assert_eq!(
                    fingerprint(&reread.snapshot),
                    fingerprint(&fresh),
                    "{context}"
                );
                let patched = &reread.snapshot;
                assert_eq!(patched.len(), fresh.len(), "{context}");
                match (had_holes, patched.id_bound() > patched.len()) {
                    (_, true) => {
                        emptied += 1;
                        // No entity moved; what is gone is gone from the keys too.
                        for (id, e) in live.entities() {
                            let key = e.key();
                            let now = patched.get(&key);
                            assert_eq!(
                                now.is_some(),
                                fresh.get(&key).is_some(),
                                "{context}: {key}"
                            );
                            assert!(now.is_none_or(|now| now == id), "{context}: {key}");
                        }
                    }
                    (true, false) => renumbered += 1,
                    (false, false) => {}
                }
                // While ids are empty, they are at most an eighth of the list.
                assert!(
                    (patched.id_bound() - patched.len()) * 8 <= patched.id_bound(),
                    "{context}"
                );
                live = reread.snapshot;
            }
            assert!(put_back, "{}", db.name);
            assert!(emptied > 0, "{}: no patch left an id empty", db.name);
            assert!(
                renumbered > 0,
                "{}: no patch numbered the catalog again",
                db.name
            );

            // An entity of a source ordered after GitHub's (a registration): a new GitHub
            // entity comes before it, so that patch numbers the catalog again.
            let registered = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": {"name": "registered"},
                "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}});
            let mut r = store
                .begin_replace_in("register", "form/", None)
                .await
                .unwrap();
            let mut row = raw(&registered, "form/registered", 1, now);
            row.provenance.source = "register".into();
            r.file("form/registered", vec![row], Vec::new(), true)
                .await
                .unwrap();
            r.finish().await.unwrap();
            let live = Arc::new(sync::load_snapshot(&store).await.unwrap());
            let before = live.get("component:default/registered").unwrap();
            let new = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": {"name": "late-arrival"},
                "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}});
            repos[0].files[0].1.push(new);
            push(&store, 0, &mut repos[0], now + 60).await;
            let reread = sync::reread_scopes(&store, live.clone(), SOURCE, &[scope(0)])
                .await
                .unwrap();
            assert_eq!(reread.rebuilt, None, "{}", db.name);
            let fresh = sync::load_snapshot(&store).await.unwrap();
            assert_eq!(
                fingerprint(&reread.snapshot),
                fingerprint(&fresh),
                "{}",
                db.name
            );
            let patched = &reread.snapshot;
            assert_eq!(patched.id_bound(), patched.len(), "{}", db.name);
            assert!(
                patched.get("component:default/late-arrival").unwrap()
                    < patched.get("component:default/registered").unwrap(),
                "{}",
                db.name
            );
            assert_eq!(
                patched.get("component:default/registered"),
                Some(before + 1),
                "{}",
                db.name
            );
            store.close().await;
        }
    })
    .await;
}
