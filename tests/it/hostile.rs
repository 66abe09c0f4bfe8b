//! Hostile text in every parameter of every command, on SQLite and PostgreSQL: SQL
//! metacharacters, control and bidirectional characters, and a megabyte. Each is answered (or
//! refused with a message), nothing panics, and the store is as it was.

use crate::common;

use switchboard::app::{App, Use};
use switchboard::ask::grammar::COMMANDS;
use switchboard::chat::{ChatEvent, render};
use switchboard::clock::Clock;
use switchboard::config::Config;

fn hostile() -> Vec<String> {
    vec![
        "'; DROP TABLE entities; --".into(),
        "\" OR 1=1 -- %_\\".into(),
        "x\0y\u{1}\u{1b}[31m\r\n\t".into(),
        "\u{202e}gnp.exe \u{feff}é💥".into(),
        "a".repeat(1 << 20),
    ]
}

/// The first form of a command's usage with every placeholder (an upper-case word) made `h`.
fn filled(usage: &str, h: &str) -> String {
    let form = usage.split(" · ").next().unwrap();
    form.split_whitespace()
        .map(|w| w.trim_matches(|c| c == '[' || c == ']'))
        .map(|w| {
            let word = w.trim_matches(|c: char| !c.is_alphanumeric());
            if !word.is_empty() && word.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                w.replace(word, h)
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn hostile_text_in_every_parameter_is_answered_and_changes_nothing() {
    common::within(async {
        for db in common::databases().await {
            let mut config = Config::default();
            config.database.url.0 = db.url.clone();
            config.catalog.local.paths = common::examples();
            config.scorecards.path = String::new();
            let clock = Clock::fixed("2026-12-01T09:30:00Z".parse().unwrap());
            let app = App::open_at(&config, Use::Ask, clock).await.unwrap();
            let count = || async {
                let mut n = 0usize;
                app.store
                    .for_each_entity(i64::MIN, i64::MAX, "", |_| n += 1)
                    .await
                    .unwrap();
                n
            };
            let before = count().await;
            // Every command's form, and the parameters of workflows and reports besides.
            let mut forms: Vec<&str> = COMMANDS.iter().map(|c| c.usage).collect();
            forms.extend([
                "run register-component name=ledger-x owner=team-a description=H",
                "run register-component name=H owner=H",
                "run provision-database service=artist-lookup size=H --dry-run",
                "deny 1 H",
                "report wrong artist-lookup owner H",
                "help run H",
            ]);
            for usage in forms {
                for h in hostile() {
                    let q = filled(usage, &h);
                    let event =
                        ChatEvent::console(Some("breanna.davison".into()), &q, app.bot.now());
                    match app.bot.handle(event).await {
                        Ok(reply) => {
                            let text = render::text(&reply);
                            let _ = render::json(&reply);
                            if q.len() > switchboard::bot::MAX_QUESTION_CHARS {
                                assert!(
                                    text.starts_with("That is too long to be a question"),
                                    "{text}"
                                );
                            }
                        }
                        Err(f) => assert!(
                            !format!("{f:?}").contains("Internal"),
                            "{}: {usage} failed inside: {f:?}",
                            db.name
                        ),
                    }
                }
            }
            assert_eq!(count().await, before, "{}: the catalog changed", db.name);
            app.store.close().await;
        }
    })
    .await;
}
