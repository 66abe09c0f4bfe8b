//! Static on-call rotations (`config/oncall.yaml`, read by `sources::rotations`): the offline
//! answer to "who is on call".
//!
//! A rotation covers groups or entities, hands off daily or weekly from a start moment through a
//! list of people, and may have overrides (someone covering a shift). Answers are computed from
//! the time asked about, so "on call at Friday 03:00" is as cheap as "now".

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::catalog::EntityRef;
use crate::catalog::refs::DEFAULT_NAMESPACE;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rotations: Vec<RotationSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotationSpec {
    name: String,
    covers: Vec<String>,
    handoff: Handoff,
    start: DateTime<Utc>,
    people: Vec<String>,
    #[serde(default)]
    overrides: Vec<OverrideSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideSpec {
    person: String,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// How often a rotation hands off to the next person.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Handoff {
    Daily,
    Weekly,
}

impl Handoff {
    fn period(self) -> Duration {
        match self {
            Handoff::Daily => Duration::days(1),
            Handoff::Weekly => Duration::weeks(1),
        }
    }
}

/// One rotation, with references resolved to canonical form.
#[derive(Clone, Debug)]
pub struct Rotation {
    pub name: String,
    pub covers: Vec<EntityRef>,
    pub handoff: Handoff,
    pub start: DateTime<Utc>,
    pub people: Vec<EntityRef>,
    pub overrides: Vec<(EntityRef, DateTime<Utc>, DateTime<Utc>)>,
}

/// Who holds a rotation at a moment, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shift {
    pub person: EntityRef,
    pub rotation: String,
    pub until: DateTime<Utc>,
    /// True when an override, not the schedule, put this person on call.
    pub is_override: bool,
}

/// All rotations, and the file they came from (for provenance).
#[derive(Clone, Debug, Default)]
pub struct Rotations {
    pub source: String,
    pub rotations: Vec<Rotation>,
}

impl Rotations {
    /// Rotations from the text of an `oncall.yaml`; `source` names it in messages and answers.
    /// A malformed text is an error naming `source`.
    pub fn parse(text: &str, source: &str) -> Result<Rotations> {
        let file: File = serde_saphyr::from_str(text).map_err(|e| {
            anyhow::anyhow!("{source}: {}", e.to_string().lines().next().unwrap_or(""))
        })?;
        let mut rotations = Vec::new();
        for r in file.rotations {
            let at = |what: &str, s: &str, kind: &str| {
                EntityRef::parse(s, Some(kind), DEFAULT_NAMESPACE).map_err(|e| {
                    anyhow::anyhow!("{source}: rotation `{}`: {what} `{s}`: {e}", r.name)
                })
            };
            if r.people.is_empty() {
                anyhow::bail!("{source}: rotation `{}` has no people", r.name);
            }
            rotations.push(Rotation {
                covers: r
                    .covers
                    .iter()
                    .map(|c| at("covers", c, "group"))
                    .collect::<Result<_>>()?,
                people: r
                    .people
                    .iter()
                    .map(|p| at("person", p, "user"))
                    .collect::<Result<_>>()?,
                overrides: r
                    .overrides
                    .iter()
                    .map(|o| {
                        if o.until <= o.from {
                            anyhow::bail!(
                                "{source}: rotation `{}`: override for {} ends before it starts",
                                r.name,
                                o.person
                            );
                        }
                        Ok((at("override person", &o.person, "user")?, o.from, o.until))
                    })
                    .collect::<Result<_>>()?,
                name: r.name,
                handoff: r.handoff,
                start: r.start,
            });
        }
        Ok(Rotations {
            source: source.to_string(),
            rotations,
        })
    }

    /// Rotations that cover this entity directly.
    pub fn covering(&self, r: &EntityRef) -> impl Iterator<Item = &Rotation> {
        self.rotations
            .iter()
            .filter(move |rot| rot.covers.contains(r))
    }
}

impl Rotation {
    /// Who is on call at `at`. Before the rotation's start, the first person holds it.
    pub fn shift_at(&self, at: DateTime<Utc>) -> Shift {
        let period = self.handoff.period();
        let elapsed = at - self.start;
        let n = if elapsed < Duration::zero() {
            0
        } else {
            elapsed.num_seconds() / period.num_seconds()
        };
        let next_handoff = if elapsed < Duration::zero() {
            self.start
        } else {
            self.start + period * (n as i32 + 1)
        };
        if let Some((p, _, until)) = self
            .overrides
            .iter()
            .find(|(_, from, until)| *from <= at && at < *until)
        {
            return Shift {
                person: p.clone(),
                rotation: self.name.clone(),
                until: *until,
                is_override: true,
            };
        }
        let until = self
            .overrides
            .iter()
            .map(|(_, from, _)| *from)
            .filter(|from| *from > at && *from < next_handoff)
            .min()
            .unwrap_or(next_handoff);
        Shift {
            person: self.people[(n as usize) % self.people.len()].clone(),
            rotation: self.name.clone(),
            until,
            is_override: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "rotations:
  - name: team-a-primary
    covers: [team-a]
    handoff: weekly
    start: 2026-11-02T09:00:00Z
    people: [breanna.davison, janelle.dawe, user:nigel.manning]
    overrides:
      - person: guest
        from: 2026-11-20T00:00:00Z
        until: 2026-11-21T00:00:00Z
";

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn weekly_handoffs_cycle_through_people() {
        let r = &Rotations::parse(YAML, "oncall.yaml").unwrap().rotations[0];
        assert_eq!(
            r.shift_at(t("2026-11-03T00:00:00Z")).person.name,
            "breanna.davison"
        );
        assert_eq!(
            r.shift_at(t("2026-11-10T00:00:00Z")).person.name,
            "janelle.dawe"
        );
        let s = r.shift_at(t("2026-11-17T10:00:00Z"));
        assert_eq!(s.person.key(), "user:default/nigel.manning");
        // The override starts before the next hand-off, so the shift ends there.
        assert_eq!(s.until, t("2026-11-20T00:00:00Z"));
        assert_eq!(
            r.shift_at(t("2026-11-24T10:00:00Z")).person.name,
            "breanna.davison"
        );
    }

    #[test]
    fn overrides_win_while_they_last() {
        let r = &Rotations::parse(YAML, "oncall.yaml").unwrap().rotations[0];
        let s = r.shift_at(t("2026-11-20T12:00:00Z"));
        assert_eq!(s.person.name, "guest");
        assert!(s.is_override);
        assert_eq!(s.until, t("2026-11-21T00:00:00Z"));
        assert_eq!(
            r.shift_at(t("2026-11-21T00:00:00Z")).person.name,
            "nigel.manning"
        );
    }

    #[test]
    fn malformed_rotations_name_the_file() {
        let err = Rotations::parse(
            "rotations:\n  - name: x\n    handoff: hourly\n",
            "oncall.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("oncall.yaml:"), "{err}");
    }
}
