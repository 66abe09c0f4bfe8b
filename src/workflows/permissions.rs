//! Who may do what: the roles a person holds (from the configuration and the catalog) and the
//! one check every surface uses for requesting and approving a workflow. `allowed` and
//! `approvers` narrow the permission table, never widen it: a person must fit the table's row
//! for their role and one of the workflow's entries.

use std::collections::{BTreeSet, HashSet};

use super::definition::{Role, Who, Workflow};
use crate::catalog::refs::{DEFAULT_NAMESPACE, EntityRef};
use crate::catalog::{Id, RelKind, Snapshot};
use crate::config::Roles;

/// A person as permissions see them.
#[derive(Clone, Debug, Default)]
pub struct Person {
    /// Their catalog User; None for someone the catalog does not know.
    pub user: Option<Id>,
    /// The groups they belong to, with every group above those.
    pub groups: HashSet<Id>,
    pub roles: BTreeSet<Role>,
    /// How runs name someone without a User whom their platform's groups make known
    /// (`discord:80351110224678912`).
    pub identity: Option<String>,
}

impl Person {
    /// Who `user` is in `snap`, a member of their User's groups and of `platform_groups`
    /// (those their chat platform gives them), with their roles from `config`.
    /// Someone with no User but platform groups is known by those alone (`known_as` says
    /// how runs name them).
    pub fn of(snap: &Snapshot, user: Option<Id>, platform_groups: &[Id], config: &Roles) -> Person {
        if user.is_none() && platform_groups.is_empty() {
            return Person::default();
        }
        let mut groups = HashSet::new();
        let mut queue: Vec<Id> = user
            .map(|u| snap.entity(u).related(RelKind::MemberOf).collect())
            .unwrap_or_default();
        queue.extend_from_slice(platform_groups);
        while let Some(g) = queue.pop() {
            if groups.insert(g) {
                queue.extend(snap.entity(g).related(RelKind::ChildOf));
            }
        }
        let holds = |list: &[String]| {
            list.iter().any(|r| {
                EntityRef::parse(r, Some("group"), DEFAULT_NAMESPACE)
                    .ok()
                    .and_then(|r| snap.get_ref(&r))
                    .is_some_and(|id| Some(id) == user || groups.contains(&id))
            })
        };
        let mut roles = BTreeSet::from([Role::Developer]);
        for (list, role) in [
            (&config.tech_leads, Role::TechLead),
            (&config.platform, Role::Platform),
            (&config.admins, Role::Admin),
            (&config.auditors, Role::Auditor),
        ] {
            if holds(list) {
                roles.insert(role);
            }
        }
        Person {
            user,
            groups,
            roles,
            identity: None,
        }
    }

    /// The same person, named `identity` in runs when they have no User.
    pub fn known_as(mut self, identity: Option<String>) -> Person {
        self.identity = identity;
        self
    }

    /// Whether the catalog knows them: by their User, or by the groups their platform gives
    /// them.
    pub fn known(&self) -> bool {
        self.user.is_some() || !self.groups.is_empty()
    }

    /// How runs name them: their User, else their platform identity.
    pub fn reference(&self, snap: &Snapshot) -> Option<String> {
        match self.user {
            Some(u) => Some(snap.entity(u).key()),
            None => self.identity.clone(),
        }
    }

    pub fn is(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether this person may act at all: the catalog knows them, and they are not only an
    /// auditor (auditors read everything and act on nothing).
    pub fn may_act(&self) -> bool {
        self.known() && (self.acts_anywhere() || !self.is(Role::Auditor))
    }

    /// Platform engineers and admins act on any entity.
    pub fn acts_anywhere(&self) -> bool {
        self.is(Role::Platform) || self.is(Role::Admin)
    }

    /// Whether `target` belongs to one of this person's teams.
    pub fn owns(&self, snap: &Snapshot, target: Option<Id>) -> bool {
        target.is_some_and(|t| {
            owning_groups(snap, t)
                .iter()
                .any(|g| self.groups.contains(g))
        })
    }
}

/// The groups that own `id`; a group owns itself.
pub fn owning_groups(snap: &Snapshot, id: Id) -> Vec<Id> {
    if snap.entity(id).kind_is("group") {
        return vec![id];
    }
    snap.entity(id).related(RelKind::OwnedBy).collect()
}

/// What a check is about: the target and who is on call for it now.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub snap: &'a Snapshot,
    pub target: Option<Id>,
    /// User refs on call for the target now.
    pub oncall: &'a [String],
    /// The run's reminder was sent: whom it escalates to (`escalate_to`) may decide too.
    pub escalated: bool,
}

impl Scope<'_> {
    /// Whether `person` is one of `who`.
    pub fn matches(&self, person: &Person, who: &Who) -> bool {
        if !person.known() {
            return false;
        }
        let is = |key: &str| {
            person
                .user
                .is_some_and(|u| self.snap.entity(u).key() == key)
        };
        match who {
            Who::Role(Role::TechLead) => {
                person.is(Role::TechLead) && person.owns(self.snap, self.target)
            }
            // Admins do all a platform engineer does.
            Who::Role(Role::Platform) => person.acts_anywhere(),
            Who::Role(r) => person.is(*r),
            Who::Owners => person.owns(self.snap, self.target),
            Who::Oncall => self.oncall.iter().any(|o| is(o)),
            Who::Group(g) => EntityRef::parse(g, Some("group"), DEFAULT_NAMESPACE)
                .ok()
                .and_then(|r| self.snap.get_ref(&r))
                .is_some_and(|id| person.groups.contains(&id)),
            Who::User(u) => is(u),
        }
    }

    fn any(&self, person: &Person, list: &[Who]) -> bool {
        list.iter().any(|w| self.matches(person, w))
    }
}

/// Why someone may not do something: the rule, and who can instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub rule: String,
    pub instead: String,
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.rule, self.instead)
    }
}

fn listed(list: &[Who]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// May `person` request `wf` about the scope's target?
pub fn may_request(person: &Person, wf: &Workflow, scope: &Scope<'_>) -> Result<(), Denied> {
    if !person.known() {
        return Err(Denied {
            rule: "You are not matched to a catalog User, so you can ask but not run workflows."
                .into(),
            instead: "Say `whoami` to see how to be matched.".into(),
        });
    }
    if !person.may_act() {
        return Err(Denied {
            rule: "Auditors read everything and act on nothing.".into(),
            instead: format!("Ask one of {} to run {}.", listed(&wf.allowed), wf.name),
        });
    }
    if !scope.any(person, &wf.allowed) {
        return Err(Denied {
            rule: format!(
                "{} may be requested by {} (its `allowed`), and you are none of these.",
                wf.name,
                listed(&wf.allowed)
            ),
            instead: format!("Ask one of them to run it{}.", about(scope)),
        });
    }
    Ok(())
}

/// May `person` decide on a run of `wf` requested by `requester`?
pub fn may_approve(
    person: &Person,
    wf: &Workflow,
    scope: &Scope<'_>,
    requester: &str,
) -> Result<(), Denied> {
    let Some(approval) = &wf.approval else {
        return Err(Denied {
            rule: format!("{} needs no approval.", wf.name),
            instead: String::new(),
        });
    };
    // Approving needs a User: someone known by a platform's groups alone could hold a second
    // name (a User on another platform) and approve their own run, or fill two places of a
    // quorum.
    if person.user.is_none() {
        return Err(Denied {
            rule: "You are not matched to a catalog User, so you cannot approve.".into(),
            instead: "Say `whoami` to see how to be matched.".into(),
        });
    }
    if !person.may_act() {
        return Err(Denied {
            rule: "Auditors read everything and act on nothing.".into(),
            instead: format!("Approvers: {}.", listed(&approval.approvers)),
        });
    }
    if !approval.self_approval && person.reference(scope.snap).as_deref() == Some(requester) {
        return Err(Denied {
            rule: format!(
                "You requested this run, and {} does not allow approving your own.",
                wf.name
            ),
            instead: format!(
                "Ask one of {}{}.",
                listed(&approval.approvers),
                about(scope)
            ),
        });
    }
    // Once the reminder has gone, those it escalated to (`escalate_to: oncall`) may decide too.
    let escalated = scope.escalated
        && approval
            .escalate_to
            .as_ref()
            .is_some_and(|w| scope.matches(person, w));
    if !scope.any(person, &approval.approvers) && !escalated {
        return Err(Denied {
            rule: format!(
                "Runs of {} are approved by {} (its `approvers`), and you are none of these.",
                wf.name,
                listed(&approval.approvers)
            ),
            instead: format!("Ask one of them{}.", about(scope)),
        });
    }
    Ok(())
}

/// May `person` run `wf` at once in an emergency (its `emergency`, such as the person on call
/// for the target)?
pub fn may_break_glass(person: &Person, wf: &Workflow, scope: &Scope<'_>) -> Result<(), Denied> {
    let target = scope
        .target
        .map(|t| format!(" for {}", scope.snap.entity(t).key()))
        .unwrap_or_default();
    match &wf.emergency {
        Some(who) if person.may_act() && scope.matches(person, who) => Ok(()),
        Some(who) => Err(Denied {
            rule: format!(
                "Only {who}{target} may run {} at once in an emergency.",
                wf.name
            ),
            instead: "Request it without --emergency (or approve it, if you may): its \
                      approvers are asked."
                .into(),
        }),
        None => Err(Denied {
            rule: format!("{} cannot be run at once in an emergency.", wf.name),
            instead: "Request it without --emergency: its approvers are asked.".into(),
        }),
    }
}

/// The Users the workflow's `approvers` name for this scope (not those a reminder escalates
/// to, who are asked then), as `may_approve` would let them decide.
pub fn approvers_of(
    snap: &Snapshot,
    wf: &Workflow,
    scope: &Scope<'_>,
    requester: &str,
    roles: &Roles,
) -> Vec<Id> {
    let Some(approval) = &wf.approval else {
        return Vec::new();
    };
    let listed = Scope {
        escalated: false,
        ..*scope
    };
    snap.entities()
        .filter(|(_, e)| e.kind_is("user"))
        .map(|(id, _)| id)
        .filter(|&id| {
            let p = Person::of(snap, Some(id), &[], roles);
            may_approve(&p, wf, &listed, requester).is_ok()
                && approval.approvers.iter().any(|w| listed.matches(&p, w))
        })
        .collect()
}

fn about(scope: &Scope<'_>) -> String {
    match scope.target {
        Some(t) => {
            let owners: Vec<String> = owning_groups(scope.snap, t)
                .iter()
                .map(|&g| scope.snap.entity(g).key())
                .collect();
            if owners.is_empty() {
                String::new()
            } else {
                format!(
                    " (owners of {}: {})",
                    scope.snap.entity(t).key(),
                    owners.join(", ")
                )
            }
        }
        None => String::new(),
    }
}
