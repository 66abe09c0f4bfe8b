//! What PagerDuty says of who is on call, as the answers read it: per target (`service:PSVC1`)
//! the people on call by escalation level and the service's teams, kept with the last failure
//! to refresh it. `sources::pagerduty` fetches them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::catalog::snapshot::Entity;

/// The annotations that tie an entity to PagerDuty, and the kind of target each names.
pub const ANNOTATIONS: &[(&str, &str)] = &[
    ("pagerduty.com/service-id", "service"),
    ("pagerduty.com/escalation-policy-id", "escalation_policy"),
    ("pagerduty.com/schedule-id", "schedule"),
];

/// One person on call: who, at which level, from when until when.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OnCallEntry {
    pub name: String,
    pub email: Option<String>,
    pub level: u32,
    pub policy: String,
    pub start: Option<DateTime<Utc>>,
    /// None: on call until further notice.
    pub end: Option<DateTime<Utc>>,
}

/// What PagerDuty says about one target.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Roster {
    pub entries: Vec<OnCallEntry>,
    /// The PagerDuty teams of a service (an ownership claim, precedence 3).
    pub teams: Vec<String>,
    /// When it was fetched (epoch seconds).
    pub fetched_at: i64,
}

impl Roster {
    /// The people on call at `at` at the lowest escalation level that has anyone.
    pub fn primary_at(&self, at: DateTime<Utc>) -> Vec<&OnCallEntry> {
        let on: Vec<&OnCallEntry> = self
            .entries
            .iter()
            .filter(|e| e.start.is_none_or(|s| s <= at) && e.end.is_none_or(|end| at < end))
            .collect();
        let Some(level) = on.iter().map(|e| e.level).min() else {
            return Vec::new();
        };
        on.into_iter().filter(|e| e.level == level).collect()
    }
}

/// A target's last known roster, and the last failure to refresh it since.
#[derive(Clone, Debug, Default)]
pub struct Cached {
    pub roster: Option<Roster>,
    pub error: Option<(i64, String)>,
}

/// Every target's roster by `kind:ID` (`service:PSVC1`), as answers read it.
pub type Rosters = HashMap<String, Cached>;

/// The PagerDuty target of an entity, if it is annotated with one.
pub fn target_of(e: &Entity) -> Option<String> {
    ANNOTATIONS
        .iter()
        .find_map(|(a, kind)| Some(format!("{kind}:{}", e.annotation(a)?.trim())))
}
