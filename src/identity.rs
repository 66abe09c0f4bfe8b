//! Who is asking: a platform identity (`slack:U123`) becomes the catalog User it belongs to,
//! by the platform's user-id annotation (`slack.com/user-id`), else by the e-mail the platform
//! has for the person. The platform is asked through its `Directory`, once per person per
//! `ttl`, even when several of their events arrive at once; the resolution itself is here, so
//! every adapter matches people the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::catalog::Snapshot;
use crate::conversation::Platform;
use crate::outbox::Sending;

/// What a platform says of a person.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
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

/// A person as the core knows them after resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asker {
    /// The catalog User's reference when matched, else the platform identity (`slack:U123`).
    pub user: String,
    pub tz: Option<String>,
}

type Cell = Arc<tokio::sync::OnceCell<Profile>>;

/// Profiles from one platform's directory, each kept for `ttl`.
pub struct People<D> {
    platform: Platform,
    directory: D,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Cell)>>,
}

impl<D: Directory> People<D> {
    pub fn new(platform: Platform, directory: D, ttl: Duration) -> Self {
        People {
            platform,
            directory,
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

    /// Who this platform user is, in the catalog `snap`: matched by the platform's user-id
    /// annotation, else by e-mail; unmatched, their platform identity.
    pub async fn asker(&self, snap: &Snapshot, user_id: &str) -> Asker {
        let profile = self.profile(user_id).await;
        let platform_id = format!("{}:{user_id}", prefix(self.platform));
        let user = std::iter::once(platform_id.clone())
            .chain(profile.email.iter().map(|e| format!("email:{e}")))
            .find_map(|i| snap.person(&i))
            .map_or(platform_id, |id| snap.entity(id).key());
        Asker {
            user,
            tz: profile.tz,
        }
    }
}

/// How identities of a platform are written: `slack:U123`, `discord:…`.
fn prefix(platform: Platform) -> &'static str {
    match platform {
        Platform::Slack => "slack",
        Platform::Discord => "discord",
        Platform::Console => "console",
        Platform::Http => "http",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::catalog::ingest::{FileOrigin, Reader, ingest_file};

    /// A directory that knows two people and counts how often it is asked.
    struct Fake(AtomicUsize);

    impl Directory for Fake {
        fn lookup<'a>(&'a self, user_id: &'a str) -> Sending<'a, Profile> {
            Box::pin(async move {
                self.0.fetch_add(1, Ordering::SeqCst);
                match user_id {
                    "U1" => Ok(Profile {
                        email: Some("Ada@Example.com".into()),
                        tz: Some("Europe/London".into()),
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
        let people = People::new(
            Platform::Slack,
            Fake(AtomicUsize::new(0)),
            Duration::from_secs(60),
        );
        let snap = catalog();
        let ada = people.asker(&snap, "U1").await;
        assert_eq!(ada.user, "user:default/ada");
        assert_eq!(ada.tz.as_deref(), Some("Europe/London"));
        assert_eq!(people.asker(&snap, "U2").await.user, "user:default/bob");
        // Someone the directory cannot describe still asks, as their platform identity.
        assert_eq!(people.asker(&snap, "U3").await.user, "slack:U3");
        people.asker(&snap, "U1").await;
        assert_eq!(
            people.directory.0.load(Ordering::SeqCst),
            3,
            "each asked once"
        );
    }
}
