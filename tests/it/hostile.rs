//! Hostile questions, on SQLite and PostgreSQL: SQL metacharacters, control and bidirectional
//! characters and a megabyte in every parameter of every command (each is answered or refused
//! with a message, nothing panics, the store is as it was); and a private entity probed through
//! every command by someone outside its team (it is never named).

use crate::common;

use switchboard::ask::grammar::COMMANDS;
use switchboard::chat::{ChatEvent, render};

fn hostile() -> Vec<String> {
    vec![
        "'; DROP TABLE entities; --".into(),
        "\" OR 1=1 -- %_\\".into(),
        "x\0y\u{1}\u{1b}[31m\r\n\t".into(),
        "\u{202e}gnp.exe \u{feff}é💥".into(),
        "a".repeat(1 << 20),
    ]
}

/// The first form of a command's usage with every placeholder (an upper-case word, alone or
/// as the value of `key=VALUE`) made `h`.
fn filled(usage: &str, h: &str) -> String {
    let placeholder =
        |word: &str| !word.is_empty() && word.chars().all(|c| c.is_ascii_uppercase() || c == '_');
    let form = usage.split(" · ").next().unwrap();
    form.split_whitespace()
        .map(|w| w.trim_matches(|c| c == '[' || c == ']'))
        .map(|w| match w.split_once('=') {
            Some((key, value)) if placeholder(value) => format!("{key}={h}"),
            _ => {
                let word = w.trim_matches(|c: char| !c.is_alphanumeric());
                if placeholder(word) {
                    w.replace(word, h)
                } else {
                    w.to_string()
                }
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn hostile_text_in_every_parameter_is_answered_and_changes_nothing() {
    common::within(async {
        for db in common::databases().await {
            let app = common::open_app(&common::config_with(&db.url, &[])).await;
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

#[tokio::test]
async fn a_private_entity_probed_through_every_command_is_never_named() {
    common::within(async {
        for db in common::databases().await {
            let dir = common::catalog_dir(&[("private.yaml", common::PRIVATE)]);
            let config = common::config_with(&db.url, &[dir.path().display().to_string()]);
            let app = common::open_app(&config).await;
            let mut forms: Vec<&str> = COMMANDS.iter().map(|c| c.usage).collect();
            forms.extend([
                "run rollback service=X version=1.2.3",
                "run update-from-template service=X",
                "report wrong X owner team-a",
                "find X",
                "find owner:team-b",
                "find lifecycle:production missing:oncall",
            ]);
            let probes = [
                "secret-ledger",
                "component:default/secret-ledger",
                "secret-ledgr",
                "team-b",
            ];
            for usage in forms {
                for probe in probes {
                    let q = filled(usage, probe);
                    let event =
                        ChatEvent::console(Some("breanna.davison".into()), &q, app.bot.now());
                    let Ok(reply) = app.bot.handle(event).await else {
                        continue;
                    };
                    let private = "component:default/secret-ledger";
                    assert_ne!(reply.entity.as_deref(), Some(private), "`{q}`");
                    // Its facts: a link and a repository only it holds.
                    let (text, json) = (render::text(&reply), render::json(&reply));
                    for shown in [&text, &json] {
                        assert!(
                            !shown.contains("runbooks.example.com/secret-ledger")
                                && !shown.contains("acme/secret-ledger"),
                            "{}: `{q}` told of it:\n{shown}",
                            db.name
                        );
                        // Asked by another name, it is not offered: what the asker typed may be
                        // said back to them, nothing more.
                        if !probe.contains("secret-ledger") {
                            assert!(
                                !shown.contains("secret-ledger"),
                                "`{q}` offered it:\n{shown}"
                            );
                        }
                    }
                    let offered = reply
                        .suggestions
                        .iter()
                        .chain(reply.actions.iter().map(|a| &a.label))
                        .any(|s| s.contains("secret-ledger") && !q.contains(s.as_str()));
                    assert!(!offered, "`{q}` offered it: {:?}", reply.suggestions);
                }
            }
            app.store.close().await;
        }
    })
    .await;
}
