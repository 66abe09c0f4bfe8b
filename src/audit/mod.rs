//! The audit log's chain: every entry is hashed (SHA-256) over a canonical encoding of its
//! fields and the hash of the entry before it, so an entry edited, removed, inserted or moved
//! breaks the chain at that entry. A chain cannot show by itself that its newest entries were
//! cut off; its head (count and hash), printed by `audit verify` and kept elsewhere, can:
//! `verify` checks against a head recorded earlier.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What is recorded, before it is chained.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub at: i64,
    /// The catalog User's ref, or the platform identity when unmatched.
    pub actor: String,
    /// The platform identity (`slack:U123`, `console:ada`).
    pub identity: String,
    /// `run.requested`, `run.approved`, `run.denied`, `step.started`, …
    pub action: String,
    /// The entity concerned (a ref), if any.
    pub target: Option<String>,
    pub run_id: Option<i64>,
    /// Parameters, decision, result, reason: what the action needs said.
    pub detail: Value,
    /// The catalog the decision was made on (its snapshot's build time).
    pub generation: i64,
}

/// An entry as stored: its place in the chain and its hashes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub seq: i64,
    #[serde(flatten)]
    pub event: Event,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain's newest entry: how many there are and the last hash (`COUNT:HASH`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub count: i64,
    pub hash: String,
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.count, self.hash)
    }
}

impl std::str::FromStr for Head {
    type Err = String;
    fn from_str(s: &str) -> Result<Head, String> {
        let (count, hash) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not COUNT:HASH"))?;
        Ok(Head {
            count: count
                .parse()
                .map_err(|_| format!("`{count}` is not a count"))?,
            hash: hash.to_string(),
        })
    }
}

/// The hash of entry `seq` holding `event`, after `prev_hash`.
pub fn hash(seq: i64, event: &Event, prev_hash: &str) -> String {
    // serde_json's maps are ordered by key: `detail`'s encoding is canonical.
    hash_encoded(seq, event, &event.detail.to_string(), prev_hash)
}

/// As `hash`, with `detail` given as it is stored (its canonical JSON text): the JSON array
/// `[seq, at, actor, identity, action, target, run_id, detail, generation, prev_hash]`.
fn hash_encoded(seq: i64, event: &Event, detail: &str, prev_hash: &str) -> String {
    let text = |s: &str| serde_json::to_string(s).expect("a string encodes");
    let opt = |s: &Option<String>| s.as_deref().map_or_else(|| "null".to_string(), text);
    let run = event
        .run_id
        .map_or_else(|| "null".to_string(), |r| r.to_string());
    let canonical = format!(
        "[{seq},{},{},{},{},{},{run},{detail},{},{}]",
        event.at,
        text(&event.actor),
        text(&event.identity),
        text(&event.action),
        opt(&event.target),
        event.generation,
        text(prev_hash)
    );
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// An entry as read back for verifying: its detail left as the stored text, so a long log is
/// checked without decoding every entry's JSON.
#[derive(Clone, Debug)]
pub struct Link {
    pub seq: i64,
    /// The entry, its `detail` unread (`Value::Null`).
    pub event: Event,
    /// `detail` as stored.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Link {
    /// The hash its content gives.
    fn computed(&self) -> String {
        hash_encoded(self.seq, &self.event, &self.detail, &self.prev_hash)
    }
}

impl From<&Entry> for Link {
    fn from(e: &Entry) -> Link {
        Link {
            seq: e.seq,
            event: Event {
                detail: Value::Null,
                ..e.event.clone()
            },
            detail: e.event.detail.to_string(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }
}

/// Where a chain stops being what was written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("entry {seq} was altered (its hash does not match its content)")]
    Altered { seq: i64 },
    #[error(
        "entry {seq} does not follow the entry before it: an entry was removed, inserted or moved there"
    )]
    Unlinked { seq: i64 },
    #[error("entry {seq} stands where entry {expected} should: an entry was removed or moved")]
    OutOfPlace { seq: i64, expected: i64 },
    #[error(
        "the log ends at entry {count}, but the head recorded earlier is entry {expected}: entries were cut off"
    )]
    Truncated { count: i64, expected: i64 },
    #[error("entry {seq} is not the entry the head recorded earlier")]
    HeadMismatch { seq: i64 },
}

/// Checks a chain page by page, in order; `recorded` is a head recorded earlier, which the
/// log must still contain.
pub struct Verifier {
    head: Head,
    recorded: Option<Head>,
}

impl Verifier {
    pub fn new(recorded: Option<Head>) -> Verifier {
        Verifier {
            head: Head {
                count: 0,
                hash: String::new(),
            },
            recorded,
        }
    }

    /// Checks the next entries.
    pub fn check<'a>(&mut self, links: impl IntoIterator<Item = &'a Link>) -> Result<(), Broken> {
        for e in links {
            let seq = e.seq;
            let expected = self.head.count + 1;
            if seq != expected {
                return Err(Broken::OutOfPlace { seq, expected });
            }
            if e.prev_hash != self.head.hash {
                return Err(Broken::Unlinked { seq });
            }
            if e.computed() != e.hash {
                return Err(Broken::Altered { seq });
            }
            if let Some(r) = &self.recorded
                && r.count == seq
                && r.hash != e.hash
            {
                return Err(Broken::HeadMismatch { seq });
            }
            self.head = Head {
                count: seq,
                hash: e.hash.clone(),
            };
        }
        Ok(())
    }

    /// The head, once every entry was checked.
    pub fn finish(self) -> Result<Head, Broken> {
        if let Some(r) = &self.recorded
            && r.count > self.head.count
        {
            return Err(Broken::Truncated {
                count: self.head.count,
                expected: r.count,
            });
        }
        Ok(self.head)
    }
}

/// Checks a whole chain at once (see `Verifier`).
pub fn verify<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    recorded: Option<&Head>,
) -> Result<Head, Broken> {
    let links: Vec<Link> = entries.into_iter().map(Link::from).collect();
    let mut v = Verifier::new(recorded.cloned());
    v.check(&links)?;
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: i64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map(|e| e.hash.clone()).unwrap_or_default();
            let event = Event {
                at: 1_800_000_000 + seq,
                actor: "user:default/ada".into(),
                identity: "console:ada".into(),
                action: "run.requested".into(),
                target: Some("component:default/x".into()),
                run_id: Some(seq),
                detail: json!({"params": {"n": seq}}),
                generation: 7,
            };
            out.push(Entry {
                seq,
                hash: hash(seq, &event, &prev),
                prev_hash: prev,
                event,
            });
        }
        out
    }

    #[test]
    fn the_encoding_is_the_json_array_of_the_fields() {
        let e = chain(2).pop().unwrap();
        let json = json!([
            e.seq,
            e.event.at,
            e.event.actor,
            e.event.identity,
            e.event.action,
            e.event.target,
            e.event.run_id,
            e.event.detail,
            e.event.generation,
            e.prev_hash,
        ]);
        assert_eq!(
            e.hash,
            hex::encode(Sha256::digest(json.to_string().as_bytes()))
        );
        assert_eq!(Link::from(&e).computed(), e.hash);
    }

    #[test]
    fn an_intact_chain_verifies_and_every_kind_of_tampering_is_named() {
        let c = chain(5);
        let head = verify(&c, None).unwrap();
        assert_eq!(head.count, 5);
        assert_eq!(verify(&c, Some(&head)), Ok(head.clone()));

        let mut edited = c.clone();
        edited[2].event.detail = json!({"params": {"n": 99}});
        assert_eq!(verify(&edited, None), Err(Broken::Altered { seq: 3 }));

        let mut removed = c.clone();
        removed.remove(2);
        assert!(matches!(
            verify(&removed, None),
            Err(Broken::OutOfPlace { seq: 4, .. })
        ));

        let mut reordered = c.clone();
        reordered.swap(1, 2);
        assert!(verify(&reordered, None).is_err());

        // An entry inserted and everything after renumbered and rehashed by someone without the
        // head still fails against a head recorded before.
        let truncated = &c[..3];
        assert_eq!(
            verify(truncated, Some(&head)),
            Err(Broken::Truncated {
                count: 3,
                expected: 5
            })
        );
        assert_eq!("5:abc".parse::<Head>().unwrap().count, 5);
    }
}
