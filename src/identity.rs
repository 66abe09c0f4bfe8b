//! Who is asking: a platform identity (`slack:U123`) becomes the catalog User it belongs to,
//! by the platform's user-id annotation (`slack.com/user-id`), else by the e-mail the platform
//! has for the person. The platform is asked through its `Directory` (which adapters supply),
//! once per person per `ttl`, even when several of their events arrive at once; the matching is
//! here, in the core, so every surface matches people the same way.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::catalog::refs::{DEFAULT_NAMESPACE, EntityRef};
use crate::catalog::{Id, Snapshot};
use crate::conversation::{Actor, Platform};
use crate::outbox::Sending;

/// What a platform says of a person.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: Option<String>,
    /// The e-mail that may match a catalog User.
    pub email: Option<String>,
    /// Their time zone (IANA name), in which answers show times.
    pub tz: Option<String>,
}

/// A platform's directory of people (Slack: `users.info`).
pub trait Directory: Send + Sync {
    /// What the platform says of this user.
    fn lookup<'a>(&'a self, user_id: &'a str) -> Sending<'a, Profile>;
}

type Cell = std::sync::Arc<tokio::sync::OnceCell<Profile>>;

/// Profiles from one platform's directory, each kept for `ttl`.
pub struct People {
    directory: Box<dyn Directory>,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Cell)>>,
}

impl People {
    pub fn new(directory: impl Directory + 'static, ttl: Duration) -> Self {
        People {
            directory: Box::new(directory),
            ttl,
            cache: Mutex::default(),
        }
    }

    /// The platform's profile of a user, asked once per `ttl`; an empty one when the platform
    /// cannot say (the person can still ask, unmatched).
    pub async fn profile(&self, user_id: &str) -> Profile {
        let cell = {
            let mut cache = self.cache.lock().expect("profile cache");
            let entry = cache
                .entry(user_id.to_string())
                .or_insert_with(|| (Instant::now(), Cell::default()));
            if entry.0.elapsed() > self.ttl {
                *entry = (Instant::now(), Cell::default());
            }
            entry.1.clone()
        };
        cell.get_or_init(|| async {
            self.directory.lookup(user_id).await.unwrap_or_else(|e| {
                tracing::warn!(user = user_id, "answering as an unknown user: {e:#}");
                Profile::default()
            })
        })
        .await
        .clone()
    }

    /// Fills in what the actor's platform did not send with what its directory says.
    pub async fn complete(&self, actor: &mut Actor) {
        let Some(id) = &actor.id else { return };
        if actor.email.is_some() && actor.tz.is_some() {
            return;
        }
        let p = self.profile(id).await;
        actor.name = actor.name.take().or(p.name);
        actor.email = actor.email.take().or(p.email);
        actor.tz = actor.tz.take().or(p.tz);
    }
}

/// How the core sees an actor: their identity on their platform and, when matched, the catalog
/// User they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asker {
    /// `slack:U123`; on the console, what they said they are.
    pub identity: Option<String>,
    pub user: Option<Id>,
    /// Groups their platform says they belong to (`Actor::groups`), found in the catalog.
    pub groups: Vec<Id>,
}

impl Asker {
    /// Matches an actor to a catalog User: on the console, exactly the reference or e-mail they
    /// gave (never a close spelling); elsewhere, by the platform's user-id annotation, else by
    /// the e-mail their platform has for them.
    pub fn of(snap: &Snapshot, actor: &Actor) -> Asker {
        let is_user = |id: &Id| snap.entity(*id).kind_is("user");
        if actor.platform == Platform::Console {
            let user = actor.id.as_deref().and_then(|given| {
                EntityRef::parse(given, Some("user"), DEFAULT_NAMESPACE)
                    .ok()
                    .and_then(|r| snap.get_ref(&r))
                    .or_else(|| snap.person(given))
                    .or_else(|| snap.person(&format!("email:{given}")))
                    .filter(is_user)
            });
            return Asker {
                identity: actor.id.clone(),
                user,
                groups: Vec::new(),
            };
        }
        let identity = actor
            .id
            .as_ref()
            .map(|id| format!("{}:{id}", actor.platform.name()));
        let user = identity
            .iter()
            .cloned()
            .chain(actor.email.iter().map(|e| format!("email:{e}")))
            .find_map(|i| snap.person(&i))
            .filter(is_user);
        let groups = actor
            .groups
            .iter()
            .filter_map(|g| EntityRef::parse(g, Some("group"), DEFAULT_NAMESPACE).ok())
            .filter_map(|r| snap.get_ref(&r))
            .filter(|id| snap.entity(*id).kind_is("group"))
            .collect();
        Asker {
            identity,
            user,
            groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::catalog::ingest::{FileOrigin, Reader, ingest_file};

    /// A directory that knows two people and counts how often it is asked.
    struct Fake(std::sync::Arc<AtomicUsize>);

    impl Directory for Fake {
        fn lookup<'a>(&'a self, user_id: &'a str) -> Sending<'a, Profile> {
            Box::pin(async move {
                self.0.fetch_add(1, Ordering::SeqCst);
                match user_id {
                    "U1" => Ok(Profile {
                        email: Some("Ada@Example.com".into()),
                        tz: Some("Europe/London".into()),
                        ..Profile::default()
                    }),
                    "U2" => Ok(Profile::default()),
                    _ => anyhow::bail!("user_not_found"),
                }
            })
        }
    }

    fn catalog() -> Snapshot {
        let yaml = "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: ada\nspec:\n  profile:\n    email: ada@example.com\n  memberOf: []\n---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: bob\n  annotations:\n    slack.com/user-id: U2\nspec:\n  memberOf: []\n";
        let origin = FileOrigin {
            source: "local",
            location: "people.yaml",
            location_type: "file",
            commit: None,
            fetched_at: 0,
        };
        let report = ingest_file(yaml.as_bytes(), &origin, &Reader::default());
        Snapshot::build(report.entities, Vec::new(), 0)
    }

    #[tokio::test]
    async fn people_are_matched_by_annotation_else_e_mail_and_asked_once() {
        let calls = std::sync::Arc::new(AtomicUsize::new(0));
        let people = People::new(Fake(calls.clone()), Duration::from_secs(60));
        let snap = catalog();
        let asker = |id: &str| {
            let people = &people;
            let snap = &snap;
            let id = id.to_string();
            async move {
                let mut actor = Actor::on(Platform::Slack, id);
                people.complete(&mut actor).await;
                let a = Asker::of(snap, &actor);
                (a.user.map(|u| snap.entity(u).key()), a.identity, actor.tz)
            }
        };
        let (ada, _, tz) = asker("U1").await;
        assert_eq!(ada.as_deref(), Some("user:default/ada"));
        assert_eq!(tz.as_deref(), Some("Europe/London"));
        assert_eq!(asker("U2").await.0.as_deref(), Some("user:default/bob"));
        // Someone the directory cannot describe still asks, as their platform identity.
        let (nobody, identity, _) = asker("U3").await;
        assert_eq!((nobody, identity.as_deref()), (None, Some("slack:U3")));
        asker("U1").await;
        assert_eq!(calls.load(Ordering::SeqCst), 3, "each asked once");
    }

    #[test]
    fn at_the_console_only_the_exact_reference_or_e_mail_matches() {
        let snap = catalog();
        let user = |given: &str| {
            Asker::of(&snap, &Actor::console(Some(given.into())))
                .user
                .map(|u| snap.entity(u).key())
        };
        assert_eq!(user("ada").as_deref(), Some("user:default/ada"));
        assert_eq!(user("ada@example.com").as_deref(), Some("user:default/ada"));
        assert_eq!(user("adda"), None);
    }
}
