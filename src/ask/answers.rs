//! Answers: a parsed `Question` and the current catalog in, a `Reply` out. No I/O happens here.
//!
//! All wording the asker sees is written in this module, one function per kind of answer.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::LazyLock;

use regex::Regex;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::grammar::{self, COMMANDS, Question};
use super::resolve::{Resolved, has_kind_word, resolve};
use super::time::{ago, parse_when};
use crate::catalog::graph::{self, Hop, Limit, Walk};
use crate::catalog::search::normalize;
use crate::catalog::snapshot::Entity;
use crate::catalog::{Id, RelKind, Snapshot};
use crate::conversation::{
    Action, ActionId, Attachment, Choice, Intent, ProvenanceNote, Reply, Section, Style,
};
use crate::identity::Asker;
use crate::oncall::pagerduty::{self, Rosters};
use crate::oncall::rotations::{Rotations, Shift};
use crate::scorecards;
use crate::status::SourceStatus;
use crate::workflows::definition::Role;
use crate::workflows::permissions::Person;

/// Longest list shown in one section; the rest is counted.
const LIST_LIMIT: usize = 25;
/// Most matches `find` returns in the JSON result.
const FIND_LIMIT: usize = 100;

/// What answering needs: the catalog, the rotations, and what "now" means.
pub struct Context<'a> {
    pub snap: &'a Snapshot,
    pub rotations: &'a Rotations,
    /// PagerDuty's rosters, by target (`service:PSVC1`).
    pub rosters: &'a Rosters,
    /// How each source stands (`sync status`).
    pub sources: &'a [SourceStatus],
    pub now: DateTime<Utc>,
    /// How far `deps` and `dependents` list when the question names no `--depth`.
    pub limit: Limit,
    /// Who asks: their platform identity and, when matched, their catalog User.
    pub asker: &'a Asker,
    /// The asker as permissions see them: teams and roles (no roles when the catalog does
    /// not know them). Private entities are answered to their owners' members and to
    /// auditors, platform engineers and admins only.
    pub viewer: &'a Person,
    /// The asker's time zone: times are shown and read in it.
    pub tz: Tz,
    /// The standards entities are scored against.
    pub scorecards: &'a [crate::scorecards::Scorecard],
    /// Checks that count as passed for some entities, until they expire.
    pub exemptions: &'a crate::scorecards::exemptions::Exemptions,
    /// Deploys, merged pull requests and workflow runs, and the catalog watch's change log.
    pub changes: &'a crate::changes::RecentChanges,
    /// The packages the SBOMs list.
    pub packages: &'a crate::compliance::packages::Packages,
}

pub fn answer(ctx: &Context<'_>, q: &Question) -> Reply {
    if let Some(err) = &q.error {
        let mut r = Reply::new(q.intent, &q.query);
        r.view.headline = err.clone();
        return r;
    }
    // Every intent has its arm: a new one that is forgotten here does not compile.
    match q.intent {
        Intent::Help => help(ctx, q),
        Intent::Conflicts => conflicts(ctx, q),
        Intent::SyncStatus => sync_status(ctx, q),
        Intent::Whoami => whoami(ctx, q),
        Intent::Find => find(ctx, q),
        // Digests are made on a schedule (and by `switchboard digest`), never asked.
        Intent::Unknown | Intent::Digest => short_help(q, false),
        Intent::Stats => {
            let mut r = Reply::new(q.intent, &q.query);
            r.view.headline =
                "Usage figures live in Switchboard's database: ask the running bot.".into();
            r
        }
        Intent::Workflows
        | Intent::Run
        | Intent::Approve
        | Intent::Deny
        | Intent::Status
        | Intent::Cancel
        | Intent::Runs
        | Intent::Approvals
        | Intent::Audit
        | Intent::Reload
        | Intent::Report
        | Intent::Drift => no_desk(q),
        Intent::Info
            if q.bare
                && grammar::is_greeting(&q.subject)
                && ctx.snap.by_name(&q.subject).is_empty() =>
        {
            short_help(q, true)
        }
        Intent::Scorecard => match q
            .subject
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("team "))
        {
            Some(_) => scorecards::answers::team_card(ctx, q, q.subject[5..].trim()),
            None => about(ctx, q, scorecards::answers::entity),
        },
        Intent::Completeness => scorecards::answers::completeness(ctx, q),
        Intent::Docs => about(ctx, q, super::docs::docs),
        Intent::Api => about(ctx, q, super::docs::api),
        Intent::Endpoint => super::docs::endpoint(ctx, q),
        Intent::Uses => super::uses::uses(ctx, q),
        Intent::Changes => about(ctx, q, super::changes::changes),
        Intent::Incident => about(ctx, q, super::incident::card),
        Intent::Owner => about(ctx, q, owner),
        Intent::Oncall => about(ctx, q, oncall),
        Intent::Deps => about(ctx, q, deps),
        Intent::Dependents => about(ctx, q, dependents),
        Intent::Info => about(ctx, q, info),
    }
}

/// The annotation that makes an entity private.
pub const VISIBILITY: &str = "switchboard.dev/visibility";

/// Whether the asker may see `id`: everyone may, unless it is private; then its owners'
/// members, auditors, platform engineers and admins.
pub fn visible(ctx: &Context<'_>, id: Id) -> bool {
    if ctx.snap.entity(id).annotation(VISIBILITY) != Some("private") {
        return true;
    }
    let v = ctx.viewer;
    v.is(Role::Auditor) || v.acts_anywhere() || v.owns(ctx.snap, Some(id))
}

/// What the asker may see of what the resolver found: a private entity is not there for them.
pub(crate) fn resolve_visible(ctx: &Context<'_>, text: &str) -> Resolved {
    match resolve(ctx.snap, text) {
        Resolved::One { id, .. } if !visible(ctx, id) => Resolved::None,
        Resolved::Many(ids) => {
            let ids: Vec<Id> = ids.into_iter().filter(|&i| visible(ctx, i)).collect();
            if ids.is_empty() {
                Resolved::None
            } else {
                Resolved::Many(ids)
            }
        }
        other => other,
    }
}

/// A question about one entity: resolve the subject, then answer with `f` and decorate.
fn about(ctx: &Context<'_>, q: &Question, f: fn(&Context<'_>, &Question, Id) -> Reply) -> Reply {
    match resolve_visible(ctx, &q.subject) {
        // Nothing, or only loose matches, for words that read as a question: not names.
        Resolved::None | Resolved::Many(_)
            if q.intent == Intent::Info
                && grammar::is_unknown_question(&q.subject)
                && !has_kind_word(&q.subject) =>
        {
            short_help(q, false)
        }
        Resolved::None => not_found(ctx, q),
        Resolved::Many(ids) => did_you_mean(ctx, q, &ids),
        Resolved::One { id, note } => {
            let mut r = f(ctx, q, id);
            decorate(ctx, &mut r, id, note);
            r
        }
    }
}

/// What every answer about an entity carries: its reference, where it came from, its health.
fn decorate(ctx: &Context<'_>, r: &mut Reply, id: Id, note: Option<String>) {
    let e = ctx.snap.entity(id);
    r.entity = Some(e.key());
    // "Is this wrong?" on the facts people act on.
    let fact = match r.intent {
        Intent::Owner => Some("owner"),
        Intent::Oncall => Some("oncall"),
        _ => None,
    };
    if let Some(fact) = fact {
        r.actions.push(Action {
            label: "Wrong?".into(),
            style: Style::Plain,
            id: ActionId::Ask(format!("report wrong {} {fact}", e.key())),
        });
    }
    // Mid-incident, everything else on one card.
    if matches!(
        r.intent,
        Intent::Owner | Intent::Oncall | Intent::Dependents
    ) {
        r.actions.push(Action {
            label: "Incident card".into(),
            style: Style::Plain,
            id: ActionId::Ask(format!("incident {}", e.key())),
        });
    }
    if let Some(n) = note {
        r.warnings.insert(0, n);
    }
    if e.is_quarantined() {
        r.view.badge = Some("degraded".into());
        r.warnings.push(format!(
            "{} is quarantined: {}. Fix it in {}:{}.",
            e.key(),
            e.reasons.join("; "),
            e.origin.location,
            e.origin.line
        ));
    }
    if let Some(at) = e.origin.orphaned_at {
        r.view.badge.get_or_insert_with(|| "orphaned".into());
        r.warnings.push(format!(
            "{} is orphaned: {} no longer has {} (since {}). It stays until the grace period ends \
             unless it comes back.",
            e.key(),
            e.origin.source,
            e.origin.location,
            ago(at, ctx.now)
        ));
    }
    let key = e.key();
    for c in ctx.snap.conflicts_for(&key) {
        r.warnings.push(format!(
            "{key} is defined again at {}:{}; that definition is ignored (the first, at {}:{}, wins).",
            c.ignored.location, c.ignored.line, c.kept.location, c.kept.line
        ));
    }
    for (kind, target) in e.dangling.iter() {
        r.warnings.push(format!(
            "{} ({}) is not in the catalog.",
            target,
            kind.as_str()
        ));
    }
    r.provenance.insert(0, note_for("entity", e));
    let o = &e.origin;
    let commit = o
        .commit
        .as_deref()
        .map(|c| format!(" @ {}", &c[..c.len().min(7)]))
        .unwrap_or_default();
    // GitHub locations are `owner/repo/path`: say which repository, as people name it.
    let repo_path = (&*o.source == "github")
        .then(|| o.location.splitn(3, '/').collect::<Vec<_>>())
        .filter(|parts| parts.len() == 3);
    r.view.context.push(match repo_path {
        Some(p) => format!(
            "Source: {}:{} in {}/{}{commit} (GitHub) · synced {}",
            p[2],
            o.line,
            p[0],
            p[1],
            ago(o.fetched_at, ctx.now)
        ),
        None => format!(
            "Source: {} {}:{}{commit} · read {}",
            o.source,
            o.location,
            o.line,
            ago(o.fetched_at, ctx.now)
        ),
    });
}

pub(super) fn note_for(fact: &str, e: &Entity) -> ProvenanceNote {
    let p = e.origin.to_provenance();
    ProvenanceNote {
        fact: fact.to_string(),
        source: p.source,
        location: p.location,
        line: p.line,
        commit: p.commit,
        fetched_at: p.fetched_at,
    }
}

/// "name (kind)" for lists, with the namespace when it is not the default.
pub(super) fn label(e: &Entity) -> String {
    let ns = if &*e.namespace == "default" {
        String::new()
    } else {
        format!("{}/", e.namespace)
    };
    let badge = if e.is_quarantined() {
        " [degraded]"
    } else {
        ""
    };
    format!(
        "{ns}{} ({}){badge}",
        e.display_name(),
        e.kind.to_ascii_lowercase()
    )
}

pub(super) fn contact(e: &Entity) -> String {
    let mut s = label(e);
    if let Some(email) = e.profile.as_ref().and_then(|p| p.email.as_deref()) {
        s.push_str(&format!(" · {email}"));
    }
    if let Some(ch) = e.annotation("slack.com/channel") {
        s.push_str(&format!(" · #{}", ch.trim_start_matches('#')));
    }
    s
}

fn owner(ctx: &Context<'_>, q: &Question, id: Id) -> Reply {
    let snap = ctx.snap;
    let e = snap.entity(id);
    let mut r = Reply::new(Intent::Owner, &q.query);
    let (found, missing) = snap.owners(id);
    let claim_source = format!("spec.owner in {}:{}", e.origin.location, e.origin.line);
    let mut owners: Vec<Value> = found
        .iter()
        .map(|&o| json!({"ref": snap.entity(o).key(), "source": claim_source, "in_catalog": true}))
        .collect();
    owners.extend(
        missing
            .iter()
            .map(|m| json!({"ref": m, "source": claim_source, "in_catalog": false})),
    );
    let key = e.key();
    // A second definition of the entity that names another owner is a disagreement.
    let owner_keys: Vec<String> = found
        .iter()
        .map(|&o| snap.entity(o).key())
        .chain(missing.iter().cloned())
        .collect();
    let mut disagreeing: Vec<(String, String)> = snap
        .conflicts_for(&key)
        .filter_map(|c| {
            let o = c
                .ignored_owner
                .as_ref()
                .filter(|o| !owner_keys.contains(o))?;
            Some((
                o.clone(),
                format!("spec.owner in {}:{}", c.ignored.location, c.ignored.line),
            ))
        })
        .collect();
    disagreeing.extend(
        claim_disagreements(ctx, id)
            .into_iter()
            .map(|d| (d.who, d.source)),
    );
    r.view.headline = match (found.first(), missing.first()) {
        (Some(&o), _) => format!("{} is owned by {}", e.name, snap.entity(o).display_name()),
        (None, Some(m)) => format!("{} is owned by {m}", e.name),
        _ => format!("{} has no owner in the catalog", e.name),
    };
    for &o in &found {
        let oe = snap.entity(o);
        r.view.fields.push(("Owner".into(), contact(oe)));
        if oe.kind_is("group") {
            let members: Vec<String> = oe
                .related(RelKind::HasMember)
                .map(|m| {
                    let me = snap.entity(m);
                    match &*me.namespace {
                        "default" => me.display_name().to_string(),
                        ns => format!("{} ({ns})", me.display_name()),
                    }
                })
                .collect();
            if !members.is_empty() {
                let more = members.len().saturating_sub(8);
                let mut shown = members.into_iter().take(8).collect::<Vec<_>>().join(", ");
                if more > 0 {
                    shown.push_str(&format!(" and {more} more"));
                }
                r.view.fields.push(("Members".into(), shown));
            }
        }
        if let Some(found) = oncall_for(ctx, o, ctx.now) {
            for (_, s) in found.shifts {
                r.view.fields.push(("On call".into(), shift_line(ctx, &s)));
            }
            r.warnings.extend(found.stale);
        }
        r.provenance.push(note_for("owner", oe));
    }
    for m in &missing {
        r.view
            .fields
            .push(("Owner".into(), format!("{m} (not in the catalog)")));
    }
    if !disagreeing.is_empty() {
        r.view.sections.push(Section::new(
            "Other sources disagree",
            disagreeing
                .iter()
                .map(|(o, source)| format!("{source} says {o}"))
                .collect(),
            LIST_LIMIT,
        ));
    }
    r.view.context.push(format!("Owner from {claim_source}"));
    let conflicts: Vec<Value> = disagreeing
        .iter()
        .map(|(o, source)| json!({"ref": o, "source": source}))
        .collect();
    r.result = json!({"owners": owners, "conflicts": conflicts});
    r
}

/// Another source's claim on an entity's ownership that names none of its owners.
pub(crate) struct Disagreement {
    /// The claimed owners as written, each with the catalog entity it stands for.
    pub(crate) who: String,
    /// Where the claim comes from: `CODEOWNERS (acme/payments/.github/CODEOWNERS:3)`.
    pub(crate) source: String,
    /// The catalog entities the claim names.
    claimants: Vec<Id>,
}

/// The claims of other sources (CODEOWNERS, PagerDuty's service teams) that name none of the
/// entity's owners. `spec.owner` outranks them; they are shown, not applied.
pub(crate) fn claim_disagreements(ctx: &Context<'_>, id: Id) -> Vec<Disagreement> {
    let snap = ctx.snap;
    let e = snap.entity(id);
    let mut claims: Vec<(Vec<String>, String)> = e
        .claims
        .iter()
        .map(|c| (c.owners.clone(), c.describe()))
        .collect();
    let pd_teams = pagerduty::target_of(e)
        .filter(|t| t.starts_with("service:"))
        .and_then(|t| Some((ctx.rosters.get(&t)?.roster.as_ref()?.teams.clone(), t)));
    if let Some((teams, target)) = pd_teams.filter(|(t, _)| !t.is_empty()) {
        claims.push((teams, format!("PagerDuty ({target})")));
    }
    let pagerduty = |source: &str| source.starts_with("PagerDuty");
    claims
        .into_iter()
        .filter_map(|(named, source)| {
            let ids = snap.disagreement(id, &named)?;
            let who: Vec<String> = named
                .iter()
                .zip(&ids)
                .map(|(o, i)| {
                    let o = if pagerduty(&source) {
                        format!("team {o}")
                    } else {
                        o.clone()
                    };
                    match i {
                        Some(i) => format!("{o} ({})", snap.entity(*i).key()),
                        None => format!("{o} (not in the catalog)"),
                    }
                })
                .collect();
            Some(Disagreement {
                who: who.join(", "),
                source,
                claimants: ids.into_iter().flatten().collect(),
            })
        })
        .collect()
}

/// Who is on call for an entity, and how that was found.
pub(super) struct OnCallFound {
    /// The entities walked from the asked one to the covered one.
    pub(super) chain: Vec<Id>,
    /// Each covering rotation's name and shift.
    pub(super) shifts: Vec<(String, Shift)>,
    /// Where the roster came from (the rotations file, or PagerDuty and how fresh).
    pub(super) source: String,
    /// Set when PagerDuty could not be refreshed and this is its last known roster.
    pub(super) stale: Option<String>,
}

/// PagerDuty's answer for one entity at `at`, from the last fetched roster.
fn pagerduty_for(ctx: &Context<'_>, e: &Entity, at: DateTime<Utc>) -> Option<OnCallFound> {
    let target = pagerduty::target_of(e)?;
    let cached = ctx.rosters.get(&target)?;
    let roster = cached.roster.as_ref()?;
    let window_end = at + chrono::Duration::days(7);
    let shifts: Vec<(String, Shift)> = roster
        .primary_at(at)
        .into_iter()
        .map(|o| {
            let person = o
                .email
                .as_deref()
                .and_then(|m| ctx.snap.person(&format!("email:{m}")))
                .map(|id| ctx.snap.entity(id).entity_ref())
                .unwrap_or_else(|| {
                    let who = o.email.as_deref().unwrap_or(&o.name);
                    crate::catalog::EntityRef::new("user", "default", who)
                });
            let rotation = format!("PagerDuty {} (level {})", o.policy, o.level);
            let shift = Shift {
                person,
                rotation: rotation.clone(),
                until: o.end.unwrap_or(window_end),
                is_override: false,
            };
            (rotation, shift)
        })
        .collect();
    if shifts.is_empty() {
        return None;
    }
    let stale = cached.error.as_ref().map(|(failed, why)| {
        format!(
            "PagerDuty could not be refreshed {}: {why}. This is its last known roster, fetched {}.",
            ago(*failed, ctx.now),
            ago(roster.fetched_at, ctx.now)
        )
    });
    Some(OnCallFound {
        chain: Vec::new(),
        shifts,
        source: format!(
            "PagerDuty ({target}), fetched {}",
            ago(roster.fetched_at, ctx.now)
        ),
        stale,
    })
}

/// The first entity on the way from `id` to the teams above it that a rotation covers:
/// the entity itself, then its owners (or a user's groups), then parent groups.
/// Returns the chain walked and the shifts of every rotation covering that entity.
pub(super) fn oncall_for(ctx: &Context<'_>, id: Id, at: DateTime<Utc>) -> Option<OnCallFound> {
    let snap = ctx.snap;
    let mut parent: HashMap<Id, Id> = HashMap::new();
    let mut queue = VecDeque::from([id]);
    let mut seen = HashSet::from([id]);
    while let Some(n) = queue.pop_front() {
        let e = snap.entity(n);
        let r = e.entity_ref();
        let found = pagerduty_for(ctx, e, at).or_else(|| {
            let shifts: Vec<(String, Shift)> = ctx
                .rotations
                .covering(&r)
                .map(|rot| (rot.name.clone(), rot.shift_at(at)))
                .collect();
            (!shifts.is_empty()).then(|| OnCallFound {
                chain: Vec::new(),
                shifts,
                source: ctx.rotations.source.clone(),
                stale: None,
            })
        });
        if let Some(mut found) = found {
            let mut chain = vec![n];
            let mut cur = n;
            while let Some(&p) = parent.get(&cur) {
                chain.push(p);
                cur = p;
            }
            chain.reverse();
            found.chain = chain;
            return Some(found);
        }
        let next: Vec<Id> = if e.kind_is("group") {
            e.related(RelKind::ChildOf).collect()
        } else if e.kind_is("user") {
            e.related(RelKind::MemberOf).collect()
        } else {
            e.related(RelKind::OwnedBy).collect()
        };
        for x in next {
            if seen.insert(x) {
                parent.insert(x, n);
                queue.push_back(x);
            }
        }
    }
    None
}

fn person(ctx: &Context<'_>, s: &Shift) -> String {
    match ctx.snap.get_ref(&s.person) {
        Some(p) => contact(ctx.snap.entity(p)),
        None => format!("{} (not in the catalog)", s.person.key()),
    }
}

fn shift_line(ctx: &Context<'_>, s: &Shift) -> String {
    format!(
        "{} — {} until {}{}",
        person(ctx, s),
        s.rotation,
        s.until.with_timezone(&ctx.tz).format("%a %d %b %H:%M %Z"),
        if s.is_override { " (override)" } else { "" }
    )
}

fn oncall(ctx: &Context<'_>, q: &Question, id: Id) -> Reply {
    let snap = ctx.snap;
    let e = snap.entity(id);
    let mut r = Reply::new(Intent::Oncall, &q.query);
    let at = match q.at.as_deref().map(|s| parse_when(s, ctx.now, ctx.tz)) {
        None => ctx.now,
        Some(Ok(t)) => t,
        Some(Err(msg)) => {
            r.view.headline = msg;
            r.result = json!({"oncall": []});
            return r;
        }
    };
    let when = if at == ctx.now {
        "now".to_string()
    } else {
        format!(
            "at {}",
            at.with_timezone(&ctx.tz).format("%a %d %b %Y %H:%M %Z")
        )
    };
    let Some(OnCallFound {
        chain,
        shifts,
        source,
        stale,
    }) = oncall_for(ctx, id, at)
    else {
        r.view.headline = format!(
            "No on-call rotation covers {} or the teams above it",
            e.name
        );
        let (owners, _) = snap.owners(id);
        let team = owners
            .first()
            .map(|&o| snap.entity(o).key())
            .unwrap_or_else(|| e.key());
        r.view.context.push(format!(
            "Add a rotation covering {team} to {} to answer this.",
            ctx.rotations.source
        ));
        r.result = json!({"oncall": [], "chain": [e.key()]});
        return r;
    };
    let mut chain_refs: Vec<String> = chain.iter().map(|&c| snap.entity(c).key()).collect();
    r.view.headline = match &shifts[..] {
        [(_, s)] => format!("{} is on call for {} {when}", person_name(ctx, s), e.name),
        _ => format!("{} rotations cover {} {when}", shifts.len(), e.name),
    };
    let mut list = Vec::new();
    for (rot, s) in &shifts {
        r.view.fields.push(("On call".into(), shift_line(ctx, s)));
        list.push(json!({
            "user": s.person.key(),
            "rotation": rot,
            "until": s.until.to_rfc3339(),
            "source": source,
        }));
        if snap.get_ref(&s.person).is_none() {
            r.warnings
                .push(format!("{} is not in the catalog.", s.person.key()));
        }
    }
    chain_refs.push(format!("rotation:{}", shifts[0].0));
    chain_refs.push(shifts[0].1.person.key());
    r.view.fields.push(("Chain".into(), chain_refs.join(" → ")));
    r.view.context.push(format!("On call from {source}"));
    r.warnings.extend(stale);
    r.result = json!({"oncall": list, "chain": chain_refs, "at": at.to_rfc3339()});
    r
}

pub(super) fn person_name(ctx: &Context<'_>, s: &Shift) -> String {
    ctx.snap
        .get_ref(&s.person)
        .map(|p| ctx.snap.entity(p).display_name().to_string())
        .unwrap_or_else(|| s.person.name.clone())
}

fn hop_json(snap: &Snapshot, h: &Hop) -> Value {
    json!({
        "ref": snap.entity(h.id).key(),
        "depth": h.depth,
        "path": h.path.iter().map(|&p| snap.entity(p).key()).collect::<Vec<_>>(),
    })
}

fn hop_line(snap: &Snapshot, h: &Hop) -> String {
    let e = snap.entity(h.id);
    let via = if h.path.len() > 2 {
        let mids: Vec<&str> = h.path[1..h.path.len() - 1]
            .iter()
            .map(|&p| &*snap.entity(p).name)
            .collect();
        format!(" via {}", mids.join(" → "))
    } else {
        String::new()
    };
    format!(
        "{}{}{via}",
        "  ".repeat(h.depth.saturating_sub(1) as usize),
        label(e)
    )
}

/// The line that says a limit cut the answer, which limit, and how many more lie beyond it.
fn cut_note(walk: &Walk, limit: Limit, asked_depth: bool) -> Option<String> {
    if !walk.truncated() {
        return None;
    }
    let more = format!(
        "{} more {}",
        walk.beyond,
        plural(walk.beyond, "entity lies", "entities lie")
    );
    Some(if walk.hops.len() >= limit.max {
        format!(
            "Cut at {} entities (catalog.max_blast_radius): {more} beyond.",
            limit.max
        )
    } else {
        let d = limit.depth.unwrap_or(0);
        let hops = plural(d as usize, "hop", "hops");
        if asked_depth {
            format!("Cut at {d} {hops}: {more} beyond; ask without --depth for all of them.")
        } else {
            format!(
                "Cut at {d} {hops} (catalog.default_depth): {more} beyond; ask with a larger --depth for them."
            )
        }
    })
}

/// Splits a walk's hops into those the asker may see and how many are private to them.
fn visible_hops(ctx: &Context<'_>, walk: &Walk) -> (Vec<Hop>, usize) {
    let (shown, hidden): (Vec<Hop>, Vec<Hop>) =
        walk.hops.iter().cloned().partition(|h| visible(ctx, h.id));
    (shown, hidden.len())
}

/// The note for private entities counted but not named.
fn private_note(n: usize) -> String {
    format!(
        "and {n} private {}; ask a platform engineer",
        plural(n, "entity", "entities")
    )
}

fn deps(ctx: &Context<'_>, q: &Question, id: Id) -> Reply {
    let snap = ctx.snap;
    let limit = ctx.limit.with_depth(q.depth);
    let walk = graph::dependencies(snap, id, limit);
    let (shown, private) = visible_hops(ctx, &walk);
    let hops = &shown;
    let mut r = Reply::new(Intent::Deps, &q.query);
    let e = snap.entity(id);
    r.view.headline = match (hops.len(), walk.beyond) {
        (0, 0) => format!("{} depends on nothing in the catalog", e.name),
        (n, 0) => format!(
            "{} depends on {n} {}",
            e.name,
            plural(n, "entity", "entities")
        ),
        (n, more) => format!(
            "{} depends on {} {}; {n} listed",
            e.name,
            n + more,
            plural(n + more, "entity", "entities")
        ),
    };
    if !hops.is_empty() || private > 0 {
        let mut lines: Vec<String> = hops.iter().map(|h| hop_line(snap, h)).collect();
        if private > 0 {
            lines.push(private_note(private));
        }
        r.view
            .sections
            .push(Section::new("Dependencies", lines, LIST_LIMIT));
    }
    if let Some(note) = cut_note(&walk, limit, q.depth.is_some()) {
        r.warnings.push(note);
    }
    r.result = json!({
        "dependencies": hops.iter().map(|h| hop_json(snap, h)).collect::<Vec<_>>(),
        "private_count": private,
        "depth": limit.depth,
        "truncated": walk.truncated(),
        "beyond": walk.beyond,
    });
    r
}

fn dependents(ctx: &Context<'_>, q: &Question, id: Id) -> Reply {
    let snap = ctx.snap;
    let limit = ctx.limit.with_depth(q.depth);
    let walk = graph::dependents(snap, id, limit);
    // A blast radius stays true: private entities are counted, not named, and their teams are
    // still called.
    let (shown, private) = visible_hops(ctx, &walk);
    let hops = &shown;
    let e = snap.entity(id);
    let mut r = Reply::new(Intent::Dependents, &q.query);
    // Owning teams of everything affected; owners missing from the catalog are listed too.
    let mut teams: BTreeSet<Id> = BTreeSet::new();
    let mut missing_teams: BTreeSet<String> = BTreeSet::new();
    for h in &walk.hops {
        let (owners, missing) = snap.owners(h.id);
        teams.extend(owners);
        missing_teams.extend(missing);
    }
    let team_count = teams.len() + missing_teams.len();
    r.view.headline = match (walk.hops.len(), walk.beyond) {
        (0, 0) => format!("Nothing in the catalog depends on {}", e.name),
        (n, 0) => format!(
            "{n} {} affected if {} goes down, owned by {team_count} {}",
            plural(n, "entity", "entities"),
            e.name,
            plural(team_count, "team", "teams")
        ),
        (n, more) => format!(
            "{} {} affected if {} goes down; the {n} listed are owned by {team_count} {}",
            n + more,
            plural(n + more, "entity", "entities"),
            e.name,
            plural(team_count, "team", "teams")
        ),
    };
    if !hops.is_empty() || private > 0 {
        let mut lines: Vec<String> = hops.iter().map(|h| hop_line(snap, h)).collect();
        if private > 0 {
            lines.push(private_note(private));
        }
        r.view
            .sections
            .push(Section::new("Affected", lines, LIST_LIMIT));
    }
    let mut team_lines = Vec::new();
    let mut oncall_json = Vec::new();
    for &t in &teams {
        let te = snap.entity(t);
        let mut line = label(te);
        if let Some(found) = oncall_for(ctx, t, ctx.now) {
            let people: Vec<String> = found
                .shifts
                .iter()
                .map(|(_, s)| person_name(ctx, s))
                .collect();
            line.push_str(&format!(" — on call: {}", people.join(", ")));
            for (rot, s) in found.shifts {
                oncall_json.push(json!({
                    "team": te.key(), "user": s.person.key(), "rotation": rot,
                    "until": s.until.to_rfc3339(), "source": found.source,
                }));
            }
        } else {
            line.push_str(" — no on-call rotation");
        }
        team_lines.push(line);
    }
    team_lines.extend(
        missing_teams
            .iter()
            .map(|m| format!("{m} (not in the catalog) — no on-call rotation")),
    );
    if !team_lines.is_empty() {
        r.view
            .sections
            .push(Section::new("Teams to call", team_lines, LIST_LIMIT));
    }
    let team_refs: Vec<String> = teams
        .iter()
        .map(|&t| snap.entity(t).key())
        .chain(missing_teams)
        .collect();
    r.result = json!({
        "dependents": hops.iter().map(|h| hop_json(snap, h)).collect::<Vec<_>>(),
        "private_count": private,
        "teams": team_refs,
        "oncall": oncall_json,
        "depth": limit.depth,
        "truncated": walk.truncated(),
        "beyond": walk.beyond,
    });
    if let Some(note) = cut_note(&walk, limit, q.depth.is_some()) {
        r.warnings.push(note);
    }
    // The picture: drawn when asked (`--graph`), else a button that asks for it.
    let (dot, cut) = crate::pictures::blast_radius_dot(snap, id, hops, walk.beyond);
    let depth = q.depth.map(|d| format!(" --depth {d}")).unwrap_or_default();
    if q.graph {
        match crate::pictures::render_dot(&dot) {
            Ok(png) => r.attachments.push(Attachment {
                file_name: format!("{}-blast-radius.png", e.name),
                alt: format!(
                    "A graph of what depends on {}{}",
                    e.name,
                    if cut { " (cut: the largest part)" } else { "" }
                ),
                png: png.into(),
            }),
            Err(err) => r
                .warnings
                .push(format!("The graph could not be drawn: {err:#}")),
        }
    } else if !hops.is_empty() {
        r.actions.push(Action {
            label: "Show graph".into(),
            style: Style::Plain,
            id: ActionId::Ask(format!("dependents {}{depth} --graph", e.key())),
        });
    }
    r.dot = Some(dot);
    r
}

fn info(ctx: &Context<'_>, q: &Question, id: Id) -> Reply {
    let snap = ctx.snap;
    let e = snap.entity(id);
    let mut r = Reply::new(Intent::Info, &q.query);
    r.view.headline = match &e.title {
        Some(t) => format!("{t} ({} {})", e.kind, e.name),
        None => format!("{} ({})", e.name, e.kind),
    };
    // Relations to private entities the asker may not see are left out.
    let refs = |kind: RelKind| -> Vec<String> {
        e.related(kind)
            .filter(|&t| visible(ctx, t))
            .map(|t| snap.entity(t).key())
            .collect()
    };
    let names = |kind: RelKind| -> Vec<String> {
        e.related(kind)
            .filter(|&t| visible(ctx, t))
            .map(|t| snap.entity(t).name.to_string())
            .collect()
    };
    let f = &mut r.view.fields;
    if let Some(d) = &e.description {
        f.push(("Description".into(), d.to_string()));
    }
    let (owners, missing) = snap.owners(id);
    let mut owner_names: Vec<String> = owners.iter().map(|&o| contact(snap.entity(o))).collect();
    owner_names.extend(missing.iter().map(|m| format!("{m} (not in the catalog)")));
    if !owner_names.is_empty() {
        f.push(("Owner".into(), owner_names.join(", ")));
    }
    for (label_, v) in [("Type", &e.spec_type), ("Lifecycle", &e.lifecycle)] {
        if let Some(v) = v {
            f.push((label_.into(), v.to_string()));
        }
    }
    for (title, kind) in [
        ("Part of", RelKind::PartOf),
        ("Provides APIs", RelKind::ProvidesApi),
        ("Consumes APIs", RelKind::ConsumesApi),
        ("Depends on", RelKind::DependsOn),
        ("Depended on by", RelKind::DependencyOf),
        ("Provided by", RelKind::ApiProvidedBy),
        ("Consumed by", RelKind::ApiConsumedBy),
        ("Has parts", RelKind::HasPart),
        ("Member of", RelKind::MemberOf),
        ("Parent", RelKind::ChildOf),
        ("Children", RelKind::ParentOf),
        ("Members", RelKind::HasMember),
        ("Owns", RelKind::OwnerOf),
    ] {
        let n = names(kind);
        if !n.is_empty() {
            let more = n.len().saturating_sub(10);
            let mut s = n.into_iter().take(10).collect::<Vec<_>>().join(", ");
            if more > 0 {
                s.push_str(&format!(" and {more} more"));
            }
            f.push((title.into(), s));
        }
    }
    if let Some(email) = e.profile.as_ref().and_then(|p| p.email.as_ref()) {
        f.push(("E-mail".into(), email.to_string()));
    }
    if !e.tags.is_empty() {
        f.push((
            "Tags".into(),
            e.tags
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if !e.links.is_empty() {
        r.view.sections.push(Section::new(
            "Links",
            e.links
                .iter()
                .map(|l| match &l.title {
                    Some(t) => format!("{t}: {}", l.url),
                    None => l.url.to_string(),
                })
                .collect(),
            10,
        ));
    }
    // What Terraform says of a resource (or of the workspaces a component uses).
    let terraform: serde_json::Map<String, Value> = e
        .annotations
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("terraform.io/")?.to_string(), json!(&**v))))
        .collect();
    if !terraform.is_empty() {
        r.view.sections.push(Section::new(
            "Terraform",
            terraform
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                .collect(),
            20,
        ));
    }
    let mut relations = serde_json::Map::new();
    for rel in e.relations.iter().filter(|r| visible(ctx, r.target)) {
        relations
            .entry(rel.kind.as_str())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .expect("array")
            .push(Value::String(snap.entity(rel.target).key()));
    }
    r.result = json!({
        "kind": &*e.kind,
        "namespace": &*e.namespace,
        "name": &*e.name,
        "title": e.title.as_deref(),
        "description": e.description.as_deref(),
        "type": e.spec_type.as_deref(),
        "lifecycle": e.lifecycle.as_deref(),
        "owners": refs(RelKind::OwnedBy).into_iter().chain(missing).collect::<Vec<_>>(),
        "tags": e.tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "links": e.links.iter().map(|l| json!({"url": &*l.url, "title": l.title.as_deref()})).collect::<Vec<_>>(),
        "relations": relations,
        "quarantined": e.is_quarantined(),
        "reasons": e.reasons.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    });
    if !terraform.is_empty() {
        r.result["terraform"] = Value::Object(terraform);
    }
    r
}

/// `find WORDS [key:value …]`: every word must appear in the name, title, description or tags.
/// "teams without on-call", "which teams have no oncall rotation".
static TEAMS_WITHOUT_ONCALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        "(?i)^",
        super::grammar::teams_without_oncall!(),
        "$"
    ))
    .expect("a valid pattern")
});

fn find(ctx: &Context<'_>, q: &Question) -> Reply {
    let snap = ctx.snap;
    let mut r = Reply::new(Intent::Find, &q.query);
    // "teams without on-call" is a search for the gap.
    let subject = if TEAMS_WITHOUT_ONCALL.is_match(&q.subject) {
        "kind:group type:team missing:oncall".to_string()
    } else {
        q.rest.clone()
    };
    let matches = match matching(ctx, &subject) {
        Ok(Some(m)) => m,
        Ok(None) => {
            r.view.headline =
                "Find what? Try `find java kind:component` or `find owner:team-a`.".into();
            r.result = json!({"matches": [], "total": 0});
            r.unresolved = true;
            return r;
        }
        Err(why) => {
            r.view.headline = why;
            r.result = json!({"matches": [], "total": 0, "error": r.view.headline});
            r.unresolved = true;
            return r;
        }
    };
    let total = matches.len();
    r.view.headline = match total {
        0 => format!("Nothing in the catalog matches “{}”", q.subject),
        n => format!(
            "{n} {} “{}”",
            plural(n, "entity matches", "entities match"),
            q.subject
        ),
    };
    if total > 0 {
        r.view.sections.push(Section::new(
            "",
            matches.iter().map(|&id| label(snap.entity(id))).collect(),
            LIST_LIMIT,
        ));
    }
    r.result = json!({
        "matches": matches.iter().take(FIND_LIMIT).map(|&id| snap.entity(id).key()).collect::<Vec<_>>(),
        "total": total,
    });
    r.unresolved = total == 0;
    r
}

/// The entities `subject` (words and filters, as `find` takes them) finds, best first, that
/// the asker may see; `None` when it asks for nothing, or why a filter cannot be read.
pub(super) fn matching(ctx: &Context<'_>, subject: &str) -> Result<Option<Vec<Id>>, String> {
    let snap = ctx.snap;
    let mut words = Vec::new();
    let mut filters: Vec<(String, String)> = Vec::new();
    for tok in subject.split_whitespace() {
        let tok = tok.trim_matches(['`', '"', '\'']);
        if tok.is_empty() {
            continue;
        }
        match tok.split_once(':') {
            Some((k, v))
                if !v.is_empty()
                    && [
                        "kind",
                        "owner",
                        "tag",
                        "lifecycle",
                        "system",
                        "type",
                        "namespace",
                        "missing",
                        "has",
                        "uses",
                    ]
                    .contains(&k.to_ascii_lowercase().as_str()) =>
            {
                filters.push((k.to_ascii_lowercase(), v.to_string()))
            }
            _ if tok.eq_ignore_ascii_case("quarantined")
                || tok.eq_ignore_ascii_case("is:quarantined") =>
            {
                filters.push(("is".into(), "quarantined".into()))
            }
            _ => words.push(tok.to_lowercase()),
        }
    }
    // Filters that ask a question of their own are answered once, before the walk.
    let mut using: Option<HashSet<Id>> = None;
    for (k, v) in &filters {
        match (k.as_str(), v.to_ascii_lowercase().as_str()) {
            ("missing", "oncall" | "runbook" | "owner") | ("has", "conflict") | ("is", _) => {}
            ("missing" | "has", _) => {
                return Err(format!(
                    "`{k}:{v}` is not a filter: use missing:oncall, missing:runbook, \
                     missing:owner, has:conflict, quarantined or uses:PACKAGE[@VERSIONS]."
                ));
            }
            ("uses", _) => {
                let (name, range) = super::uses::uses_filter(v)?;
                let found = super::uses::Found::of(ctx, name, range.as_ref());
                let ids: HashSet<Id> = found.entities(ctx).into_iter().map(|(id, _)| id).collect();
                using = Some(match using {
                    Some(before) => before.intersection(&ids).copied().collect(),
                    None => ids,
                });
            }
            _ => {}
        }
    }
    let filters: Vec<(String, String)> = filters
        .into_iter()
        .map(|(k, v)| (k, v.to_lowercase()))
        .collect();
    if words.is_empty() && filters.is_empty() {
        return Ok(None);
    }
    let related_name = |e: &Entity, kind: RelKind, want: &str| {
        e.related(kind).any(|t| {
            let te = snap.entity(t);
            te.name.eq_ignore_ascii_case(want) || te.key() == want
        })
    };
    let mut matches: Vec<(u8, Id)> = Vec::new();
    for (id, e) in snap.entities() {
        let ok = filters.iter().all(|(k, v)| match k.as_str() {
            "kind" => e.kind.eq_ignore_ascii_case(v),
            "namespace" => e.namespace.eq_ignore_ascii_case(v),
            "tag" => e.tags.iter().any(|t| t.eq_ignore_ascii_case(v)),
            "lifecycle" => e
                .lifecycle
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(v)),
            "type" => e
                .spec_type
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(v)),
            "owner" => related_name(e, RelKind::OwnedBy, v),
            "system" => related_name(e, RelKind::PartOf, v),
            "missing" => match v.as_str() {
                "oncall" => oncall_for(ctx, id, ctx.now).is_none(),
                "runbook" => !crate::catalog::links::has_runbook(e),
                _ => snap.owners(id).0.is_empty(),
            },
            "has" => {
                snap.conflicts_for(&e.key()).next().is_some()
                    || !claim_disagreements(ctx, id).is_empty()
            }
            "is" => e.is_quarantined(),
            "uses" => using.as_ref().is_some_and(|u| u.contains(&id)),
            _ => true,
        });
        if !ok {
            continue;
        }
        let name = e.name.to_lowercase();
        let mut rank = 0u8;
        let all = words.iter().all(|w| {
            if name.contains(w.as_str()) {
                return true;
            }
            rank = 1;
            e.title
                .as_deref()
                .is_some_and(|t| t.to_lowercase().contains(w.as_str()))
                || e.description
                    .as_deref()
                    .is_some_and(|d| d.to_lowercase().contains(w.as_str()))
                || e.tags.iter().any(|t| t.contains(w.as_str()))
        });
        if all && visible(ctx, id) {
            matches.push((rank, id));
        }
    }
    matches.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| snap.entity(a.1).name.cmp(&snap.entity(b.1).name))
    });
    Ok(Some(matches.into_iter().map(|(_, id)| id).collect()))
}

/// `conflicts [TEAM]`: entities with more than one definition, the one that counts first.
/// With a team, only entities that team owns or that a losing definition gives to it.
fn conflicts(ctx: &Context<'_>, q: &Question) -> Reply {
    let snap = ctx.snap;
    let mut r = Reply::new(Intent::Conflicts, &q.query);
    let team = if q.subject.is_empty() {
        None
    } else {
        // A private entity is not there for those who may not see it.
        match resolve_visible(ctx, &q.subject) {
            Resolved::One { id, .. } => Some(id),
            Resolved::Many(ids) => return did_you_mean(ctx, q, &ids),
            Resolved::None => return not_found(ctx, q),
        }
    };
    let team_key = team.map(|t| snap.entity(t).key());
    let mut keys: Vec<String> = snap.conflicts.iter().map(|c| c.key.clone()).collect();
    // Entities another source claims for someone else: CODEOWNERS (found when the snapshot
    // was built) and PagerDuty (whose rosters change between builds).
    keys.extend(snap.disputed.iter().map(|&id| snap.entity(id).key()));
    keys.extend(
        snap.entities()
            .filter(|(_, e)| pagerduty::target_of(e).is_some())
            .filter(|(id, _)| !claim_disagreements(ctx, *id).is_empty())
            .map(|(_, e)| e.key()),
    );
    keys.sort_unstable();
    keys.dedup();
    let mut lines = Vec::new();
    let mut out = Vec::new();
    keys.retain(|k| snap.get(k).is_none_or(|id| visible(ctx, id)));
    for key in &keys {
        let Some(id) = snap.get(key) else { continue };
        let owner_ids = snap.owners(id).0;
        let owners: Vec<String> = owner_ids.iter().map(|&o| snap.entity(o).key()).collect();
        let others: Vec<_> = snap.conflicts_for(key).collect();
        let claims = claim_disagreements(ctx, id);
        if let Some(t) = &team_key {
            let involved = owners.contains(t)
                || others
                    .iter()
                    .any(|c| c.ignored_owner.as_deref() == Some(t.as_str()))
                || claims
                    .iter()
                    .any(|d| team.is_some_and(|t| d.claimants.contains(&t)));
            if !involved {
                continue;
            }
        }
        let kept = &snap.entity(id).origin;
        let mut line = format!(
            "{key}: {} {}:{} counts (owner {})",
            kept.source,
            kept.location,
            kept.line,
            owners.first().map_or("none", String::as_str)
        );
        for c in &others {
            line.push_str(&format!(
                "; also {} {}:{} (owner {})",
                c.ignored.source,
                c.ignored.location,
                c.ignored.line,
                c.ignored_owner.as_deref().unwrap_or("none")
            ));
        }
        for d in &claims {
            line.push_str(&format!("; {} says {}", d.source, d.who));
        }
        lines.push(line);
        out.push(json!({
            "ref": key,
            "kept": {"source": &*kept.source, "location": &*kept.location, "line": kept.line, "owners": owners},
            "others": others.iter().map(|c| json!({
                "source": c.ignored.source, "location": c.ignored.location,
                "line": c.ignored.line, "owner": c.ignored_owner,
            })).collect::<Vec<_>>(),
            "claims": claims.iter().map(|d| json!({
                "source": d.source, "owners": d.who,
                "refs": d.claimants.iter().map(|&c| snap.entity(c).key()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
    }
    let scope = team_key
        .as_deref()
        .map(|t| format!(" involving {t}"))
        .unwrap_or_default();
    r.view.headline = match out.len() {
        0 => format!(
            "No entity is defined more than once{scope}, and no other source claims one for \
             another owner"
        ),
        n => format!(
            "{n} {} defined more than once or claimed by another source for another owner{scope}",
            plural(n, "entity is", "entities are")
        ),
    };
    if !lines.is_empty() {
        r.view.sections.push(Section::new("", lines, LIST_LIMIT));
        r.view.context.push(
            "The first definition counts, and spec.owner outranks CODEOWNERS and PagerDuty; \
                 fix the others at their source."
                .into(),
        );
    }
    r.entity = team_key;
    r.result = json!({"conflicts": out});
    r
}

/// `sync status`: per source, the last complete sync, a failure since, and whether it is behind.
fn sync_status(ctx: &Context<'_>, q: &Question) -> Reply {
    let mut r = Reply::new(Intent::SyncStatus, &q.query);
    let now = ctx.now.timestamp();
    let mut lines = Vec::new();
    let mut out = Vec::new();
    let mut troubled = 0;
    for s in ctx.sources {
        let mut line = format!("{}: ", s.source);
        match &s.last_complete {
            Some(run) => line.push_str(&format!(
                "last complete sync {} — {} files, {} entities ({} quarantined), {} problems",
                ago(run.finished_at, ctx.now),
                run.files,
                run.entities,
                run.quarantined,
                run.problems
            )),
            None => line.push_str("no complete sync yet"),
        }
        let behind = s.every_secs > 0
            && s.last_complete
                .as_ref()
                .is_none_or(|run| now - run.finished_at > 2 * s.every_secs as i64);
        if behind {
            line.push_str(&format!("; behind (expected every {} s)", s.every_secs));
        }
        if let Some((at, e)) = &s.last_error {
            line.push_str(&format!("; last attempt failed {}: {e}", ago(*at, ctx.now)));
        }
        if let Some((at, what)) = &s.last_event {
            line.push_str(&format!("; last event {}: {what}", ago(*at, ctx.now)));
        }
        troubled += usize::from(behind || s.last_error.is_some());
        lines.push(line);
        out.push(json!({
            "source": s.source,
            "last_complete": s.last_complete.as_ref().map(|run| run.finished_at),
            "files": s.last_complete.as_ref().map(|run| run.files),
            "entities": s.last_complete.as_ref().map(|run| run.entities),
            "quarantined": s.last_complete.as_ref().map(|run| run.quarantined),
            "problems": s.last_complete.as_ref().map(|run| run.problems),
            "behind": behind,
            "last_error": s.last_error.as_ref().map(|(at, e)| json!({"at": at, "message": e})),
            "last_event": s.last_event.as_ref().map(|(at, e)| json!({"at": at, "summary": e})),
        }));
    }
    r.view.headline = match (ctx.sources.len(), troubled) {
        (0, _) => "No source has synced yet".into(),
        (n, 0) => format!("{n} {} in sync", plural(n, "source", "sources")),
        (n, t) => format!(
            "{t} of {n} {} need attention",
            plural(n, "source", "sources")
        ),
    };
    r.view.sections.push(Section::new("", lines, LIST_LIMIT));
    r.result = json!({"sources": out});
    r
}

/// The parts `help` lists commands in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HelpGroup {
    Catalog,
    Incident,
    Standards,
    Workflows,
}

impl HelpGroup {
    const ALL: [HelpGroup; 4] = [
        HelpGroup::Catalog,
        HelpGroup::Incident,
        HelpGroup::Standards,
        HelpGroup::Workflows,
    ];

    fn of(intent: Intent) -> HelpGroup {
        match intent {
            Intent::Incident | Intent::Changes | Intent::Docs | Intent::Api | Intent::Endpoint => {
                HelpGroup::Incident
            }
            Intent::Uses | Intent::Drift => HelpGroup::Standards,
            Intent::Scorecard | Intent::Completeness | Intent::Report | Intent::Stats => {
                HelpGroup::Standards
            }
            i if i.is_workflow() => HelpGroup::Workflows,
            _ => HelpGroup::Catalog,
        }
    }

    fn title(self) -> &'static str {
        match self {
            HelpGroup::Catalog => "The catalog",
            HelpGroup::Incident => "Incidents, changes and docs",
            HelpGroup::Standards => "Standards and compliance",
            HelpGroup::Workflows => "Workflows",
        }
    }
}

fn help(ctx: &Context<'_>, q: &Question) -> Reply {
    let mut r = Reply::new(Intent::Help, &q.query);
    let topic = q.subject.to_lowercase();
    // Commands that act are listed to those who may act: people the catalog knows, who are
    // not only auditors.
    let roles = &ctx.viewer.roles;
    let may_act = !roles.is_empty()
        && (!roles.contains(&Role::Auditor)
            || roles.contains(&Role::Platform)
            || roles.contains(&Role::Admin));
    let acts = |i: Intent| {
        matches!(
            i,
            Intent::Run | Intent::Approve | Intent::Deny | Intent::Cancel
        )
    };
    let rows: Vec<_> = COMMANDS
        .iter()
        .filter(|c| may_act || !acts(c.intent))
        .filter(|c| c.intent != Intent::Reload || ctx.viewer.acts_anywhere())
        .filter(|c| {
            topic.is_empty()
                || c.usage.to_lowercase().contains(&topic)
                || c.summary.to_lowercase().contains(&topic)
        })
        .collect();
    r.view.headline = if rows.is_empty() {
        format!("No command about “{topic}”. `help` lists them all.")
    } else {
        "Ask me about anything in the catalog:".into()
    };
    // Grouped as people look for them, so that each part fits a chat message's section.
    for group in HelpGroup::ALL {
        let lines: Vec<String> = rows
            .iter()
            .filter(|c| HelpGroup::of(c.intent) == group)
            .map(|c| format!("{:<58} {}", c.usage, c.summary))
            .collect();
        if !lines.is_empty() {
            let n = lines.len();
            r.view.sections.push(Section::new(group.title(), lines, n));
        }
    }
    r.result = json!({"commands": rows.iter().map(|c| json!({"usage": c.usage, "summary": c.summary})).collect::<Vec<_>>()});
    r
}

/// How an unmatched asker gets matched to their catalog User.
fn matching_hint(ctx: &Context<'_>) -> String {
    let asked_as = ctx.asker.identity.as_deref().unwrap_or("");
    match asked_as.split_once(':') {
        Some(("slack", uid)) => format!(
            "add the annotation `slack.com/user-id: {uid}` to your User entity, or give it the \
             e-mail your Slack account has"
        ),
        Some(("discord", uid)) => {
            format!("add the annotation `discord.com/user-id: {uid}` to your User entity")
        }
        _ if asked_as.is_empty() => {
            "this surface says nothing about who you are (the console takes --as USER)".into()
        }
        _ => format!("no User entity in the catalog is “{asked_as}”"),
    }
}

/// The answer to someone the catalog does not know yet, for `whoami` and the home view.
fn not_matched(ctx: &Context<'_>, r: &mut Reply, hint: &str) {
    let groups: Vec<String> = ctx
        .asker
        .groups
        .iter()
        .map(|&g| ctx.snap.entity(g).key())
        .collect();
    let mut lines = Vec::new();
    if groups.is_empty() {
        r.view.headline = "I don't know you in the catalog yet".into();
        lines.push(format!(
            "To be matched, {hint}. You can still ask about anything public: try `help`."
        ));
    } else {
        // Known by the groups their platform gives them (Discord roles), without a User.
        r.view.headline = "You have no User in the catalog; your roles make you a member".into();
        r.view.fields.push(("Teams".into(), groups.join(", ")));
        lines.push(format!(
            "You may request what members of these teams may; approving needs a User. To be \
             matched to one, {hint}."
        ));
    }
    r.view.sections.push(Section::new("", lines, 1));
    let roles: Vec<&str> = match groups.is_empty() {
        true => Vec::new(),
        false => ctx.viewer.roles.iter().map(|r| r.name()).collect(),
    };
    r.result = json!({"user": null, "identity": ctx.asker.identity, "groups": groups, "roles": roles, "hint": hint});
}

/// `whoami`: the catalog User the asker was matched to and their teams, or why no User
/// matched and how to fix it.
fn whoami(ctx: &Context<'_>, q: &Question) -> Reply {
    let snap = ctx.snap;
    let mut r = Reply::new(Intent::Whoami, &q.query);
    let Some(id) = ctx.asker.user else {
        not_matched(ctx, &mut r, &matching_hint(ctx));
        return r;
    };
    let e = snap.entity(id);
    let mut groups: Vec<Id> = e.related(RelKind::MemberOf).collect();
    // And those their platform gives them (Discord roles).
    for g in &ctx.asker.groups {
        if !groups.contains(g) {
            groups.push(*g);
        }
    }
    r.entity = Some(e.key());
    r.view.headline = format!("You are {} ({})", e.display_name(), e.key());
    let roles: Vec<&str> = ctx.viewer.roles.iter().map(|r| r.name()).collect();
    r.view.fields.push(("Roles".into(), roles.join(", ")));
    if !groups.is_empty() {
        r.view.fields.push((
            "Teams".into(),
            groups
                .iter()
                .map(|&g| snap.entity(g).name.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    r.result = json!({
        "user": e.key(),
        "identity": ctx.asker.identity,
        "groups": groups.iter().map(|&g| snap.entity(g).key()).collect::<Vec<_>>(),
        "roles": roles,
    });
    r
}

/// A workflow command where there is no database of runs (`ask --catalog`).
fn no_desk(q: &Question) -> Reply {
    let mut r = Reply::new(q.intent, &q.query);
    r.view.headline =
        "Workflows and runs live in Switchboard's database: ask the running bot, or `switchboard shell`."
            .into();
    r
}

/// The answer to a greeting or a question no command knows: what can be asked, briefly.
fn short_help(q: &Question, greeting: bool) -> Reply {
    const SHOWN: &[Intent] = &[
        Intent::Owner,
        Intent::Oncall,
        Intent::Dependents,
        Intent::Deps,
        Intent::Find,
    ];
    let mut r = Reply::new(
        if greeting {
            Intent::Help
        } else {
            Intent::Unknown
        },
        &q.query,
    );
    r.unresolved = !greeting;
    r.view.headline = if greeting {
        "Hi! I answer questions about the catalog. Try one of these:".into()
    } else {
        format!(
            "I don't know how to answer “{}”. I can answer these:",
            q.query
        )
    };
    let rows: Vec<_> = COMMANDS
        .iter()
        .filter(|c| SHOWN.contains(&c.intent))
        .collect();
    let mut lines: Vec<String> = rows.iter().map(|c| c.usage.to_string()).collect();
    lines.push("help — everything I can do".into());
    r.view.sections.push(Section::new("", lines, LIST_LIMIT));
    r.result = json!({"commands": rows.iter().map(|c| json!({"usage": c.usage, "summary": c.summary})).collect::<Vec<_>>()});
    r
}

fn not_found(ctx: &Context<'_>, q: &Question) -> Reply {
    let mut r = Reply::new(q.intent, &q.query);
    r.unresolved = true;
    r.view.headline = format!(
        "No entity named “{}” in the catalog ({} entities). Try `find {}`.",
        q.subject,
        ctx.snap.len(),
        q.subject
    );
    r
}

/// The question a "did you mean" pick asks: the question asked, with its options, about the
/// entity picked. A relative time is made absolute: it means what it meant when asked,
/// whenever the button is clicked.
fn question_about(ctx: &Context<'_>, q: &Question, pick: &str) -> String {
    let mut o = String::new();
    if let Some(d) = q.depth {
        o.push_str(&format!(" --depth {d}"));
    }
    if let Some(at) = &q.at {
        let at = parse_when(at, ctx.now, ctx.tz).map_or_else(|_| at.clone(), |t| t.to_rfc3339());
        o.push_str(&format!(" at {at}"));
    }
    asked_about(q.intent, pick, &o)
}

/// The command that asks `intent` about `pick`, with `options` (` --depth 2`, ` at …`) where
/// the command takes them: what a did-you-mean button asks, and the example a question
/// without an entity is shown.
pub(crate) fn asked_about(intent: Intent, pick: &str, o: &str) -> String {
    match intent {
        Intent::Owner => format!("who owns {pick}{o}"),
        Intent::Oncall => format!("oncall {pick}{o}"),
        Intent::Deps => format!("deps {pick}{o}"),
        Intent::Dependents => format!("dependents {pick}{o}"),
        Intent::Conflicts => format!("conflicts {pick}{o}"),
        Intent::Scorecard => format!("scorecard {pick}"),
        Intent::Docs => format!("docs {pick}"),
        Intent::Api => format!("api {pick}"),
        Intent::Changes => format!("changes {pick}"),
        Intent::Incident => format!("incident {pick}"),
        // The card of the entity picked (an `info` did-you-mean asks exactly this).
        Intent::Info
        | Intent::Find
        | Intent::SyncStatus
        | Intent::Whoami
        | Intent::Help
        | Intent::Unknown
        | Intent::Workflows
        | Intent::Run
        | Intent::Approve
        | Intent::Deny
        | Intent::Status
        | Intent::Cancel
        | Intent::Runs
        | Intent::Approvals
        | Intent::Audit
        | Intent::Reload
        | Intent::Completeness
        | Intent::Digest
        | Intent::Stats
        | Intent::Endpoint
        | Intent::Uses
        | Intent::Drift
        | Intent::Report => format!("info {pick}"),
    }
}

fn did_you_mean(ctx: &Context<'_>, q: &Question, ids: &[Id]) -> Reply {
    let mut r = Reply::new(q.intent, &q.query);
    r.view.headline = match ids {
        [one] => format!(
            "No entity is named “{}”. Did you mean {}?",
            q.subject,
            label(ctx.snap.entity(*one))
        ),
        _ => format!(
            "More than one entity could be “{}”. Did you mean one of these?",
            q.subject
        ),
    };
    r.suggestions = ids.iter().map(|&i| ctx.snap.entity(i).key()).collect();
    r.actions = r
        .suggestions
        .iter()
        .map(|s| Action {
            label: s.clone(),
            style: Style::Plain,
            id: ActionId::Ask(question_about(ctx, q, s)),
        })
        .collect();
    r
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// A person's home page (Slack's App Home): their teams, what those teams own, who is on call
/// for them, and what needs fixing; for someone the catalog does not know, how to be matched.
pub fn home(ctx: &Context<'_>) -> Reply {
    let snap = ctx.snap;
    let mut r = Reply::new(Intent::Info, "");
    let Some(id) = ctx.asker.user else {
        not_matched(ctx, &mut r, &matching_hint(ctx));
        return r;
    };
    let e = snap.entity(id);
    r.entity = Some(e.key());
    r.view.headline = format!("Hi {}", e.display_name());
    let teams: Vec<Id> = e.related(RelKind::MemberOf).collect();
    if teams.is_empty() {
        r.view
            .fields
            .push(("Your teams".into(), "none in the catalog".into()));
    } else {
        let names: Vec<String> = teams.iter().map(|&t| label(snap.entity(t))).collect();
        r.view.fields.push(("Your teams".into(), names.join(", ")));
    }
    let mut degraded = Vec::new();
    for &t in &teams {
        let team = snap.entity(t);
        if let Some(found) = oncall_for(ctx, t, ctx.now) {
            for (_, s) in found.shifts {
                r.view.fields.push((
                    format!("On call for {}", team.display_name()),
                    shift_line(ctx, &s),
                ));
            }
        }
        let owned: Vec<Id> = team.related(RelKind::OwnerOf).collect();
        r.view.sections.push(Section::new(
            format!("{} owns", team.display_name()),
            owned.iter().map(|&o| label(snap.entity(o))).collect(),
            10,
        ));
        degraded.extend(
            owned
                .into_iter()
                .filter(|&o| snap.entity(o).is_quarantined()),
        );
    }
    let fixes: Vec<String> = degraded
        .iter()
        .map(|&d| {
            let de = snap.entity(d);
            format!(
                "{}: {} — fix it in {}:{}",
                label(de),
                de.reasons.join("; "),
                de.origin.location,
                de.origin.line
            )
        })
        .collect();
    if fixes.is_empty() {
        r.view
            .context
            .push("Nothing is waiting on you: your teams' entities are all valid.".into());
    } else {
        r.view
            .sections
            .push(Section::new("Waiting on you: entities to fix", fixes, 10));
    }
    r
}

/// Most choices an autocomplete offers (Discord shows 25).
const CHOICES: usize = 25;

/// What to offer someone typing `partial` into the option `option` (an entity's name): the
/// entity the resolver would pick first, then names starting with what is typed, then close
/// spellings; an option named for a kind (`team`, `user`) offers that kind only.
pub fn complete(ctx: &Context<'_>, option: &str, partial: &str) -> Reply {
    let snap = ctx.snap;
    let kind = match option {
        "team" | "group" => Some("group"),
        "user" | "person" => Some("user"),
        "system" => Some("system"),
        "api" => Some("api"),
        _ => None,
    };
    let fits = |id: Id| kind.is_none_or(|k| snap.entity(id).kind_is(k));
    let typed = normalize(partial);
    let mut ids: Vec<Id> = Vec::new();
    if !typed.is_empty() {
        match resolve(snap, partial) {
            Resolved::One { id, .. } => ids.push(id),
            Resolved::Many(many) => ids.extend(many),
            Resolved::None => {}
        }
        let mut starting: Vec<Id> = snap
            .entities()
            .filter(|(_, e)| normalize(&e.name).starts_with(&typed))
            .map(|(id, _)| id)
            .collect();
        starting.sort_by_key(|&id| (snap.entity(id).name.len(), id));
        ids.extend(starting);
        ids.extend(
            snap.names()
                .fuzzy(snap, partial, CHOICES)
                .iter()
                .map(|s| s.id),
        );
    }
    let mut seen = HashSet::new();
    ids.retain(|&id| fits(id) && visible(ctx, id) && seen.insert(id));
    ids.truncate(CHOICES);
    let mut r = Reply::new(Intent::Find, partial);
    r.choices = ids
        .iter()
        .map(|&id| Choice {
            label: label(snap.entity(id)),
            value: snap.entity(id).key(),
        })
        .collect();
    r.view.headline = format!(
        "{} {}",
        r.choices.len(),
        plural(r.choices.len(), "choice", "choices")
    );
    r.result = json!({"option": option, "choices": r.choices});
    r
}

/// The people (User refs) on call for `id` at `at`, through its team and rotation, as the
/// `oncall` answer finds them.
pub fn oncall_people(ctx: &Context<'_>, id: Id, at: DateTime<Utc>) -> Vec<String> {
    oncall_for(ctx, id, at)
        .map(|f| f.shifts.iter().map(|(_, s)| s.person.to_string()).collect())
        .unwrap_or_default()
}
