//! `/sb`, generated from the grammar table (`ask::grammar::COMMANDS`): one subcommand per
//! command, in subcommand groups (Discord allows at most 25 options per level), with typed
//! options read from the command's usage. An invocation is turned back into the text the
//! grammar reads, so Discord asks exactly what typing would.
//!
//! From a usage such as `what does X depend on · deps X [--depth N]` the form with the most
//! placeholders is taken (`deps X [--depth N]`): its placeholders become options (`X` an
//! entity `name` with autocomplete, `N` an integer `depth`, …), its words stay as they are,
//! and a bracketed part is optional (kept when its options are given).

use serenity::all::{CommandOptionType, CreateCommand, CreateCommandOption};

use crate::ask::grammar::{COMMANDS, Command};
use crate::chat::render::cut;
use crate::conversation::Intent;

/// Discord's limits on application commands.
pub const MAX_OPTIONS: usize = 25;
pub const MAX_NAME: usize = 32;
pub const MAX_DESCRIPTION: usize = 100;

/// The name of the command.
pub const COMMAND: &str = "sb";

/// What kind of value an option takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// An entity's name, offered by autocomplete from the catalog.
    Entity,
    Integer,
    /// A flag, present or not.
    Flag,
}

/// One option of a subcommand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub name: String,
    pub description: String,
    pub kind: Kind,
    pub required: bool,
}

/// A piece of a usage form.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Word(String),
    /// A value, written after `prefix` (`kind:` in `kind:K`, `--depth ` in `--depth N`, `at `
    /// in `[at TIME]`), quoted when `quote`; left out with its prefix when not given.
    Value {
        option: String,
        prefix: String,
        quote: bool,
    },
    /// A flag written as is when its option is set (`--dry-run`).
    Flag {
        option: String,
        word: String,
    },
    /// Each value in it written when given; of alternatives, the first with a value given.
    Optional(Vec<Vec<Piece>>),
}

/// One subcommand: the grammar command it stands for.
#[derive(Clone, Debug)]
pub struct Sub {
    pub name: String,
    pub description: String,
    pub intent: Intent,
    pub options: Vec<Opt>,
    form: Vec<Piece>,
}

/// A subcommand group.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: &'static str,
    pub description: &'static str,
    pub subs: Vec<Sub>,
}

/// The group a command belongs to.
fn group_of(intent: Intent) -> &'static str {
    match intent {
        Intent::Audit | Intent::Reload => "admin",
        i if i.is_workflow() => "workflows",
        _ => "ask",
    }
}

const GROUPS: [(&str, &str); 3] = [
    (
        "ask",
        "Ask the catalog: owners, on-call, dependencies, search",
    ),
    (
        "workflows",
        "Self-service workflows: request, decide, follow runs",
    ),
    ("admin", "The audit log and reloading workflows"),
];

/// A placeholder of a usage, as an option: name, description, kind.
fn placeholder(token: &str) -> Option<(&'static str, &'static str, Kind)> {
    Some(match token {
        "X" => (
            "name",
            "An entity: its name, title or reference",
            Kind::Entity,
        ),
        "TEAM" => ("team", "A team (a Group)", Kind::Entity),
        "TIME" => (
            "time",
            "A time: 09:00, tomorrow 9am, 2026-12-24T18:00Z",
            Kind::Text,
        ),
        "N" => ("n", "How many hops to follow", Kind::Integer),
        "WORDS" => (
            "words",
            "What to look for, with filters such as kind:component",
            Kind::Text,
        ),
        "WORKFLOW" => ("workflow", "The workflow's name", Kind::Text),
        "ID" => ("run", "The run's number", Kind::Integer),
        "REASON" => ("reason", "Why (the requester is told)", Kind::Text),
        "WHY" => (
            "reason",
            "Why (recorded, and shown to the approvers)",
            Kind::Text,
        ),
        "TOPIC" => ("topic", "A command or a workflow", Kind::Text),
        "PACKAGE" => (
            "package",
            "A package as SBOMs name it: lodash, log4j-core",
            Kind::Text,
        ),
        "VERSIONS" => (
            "versions",
            "Versions: < 2.17.1, or >=2.0, <2.31",
            Kind::Text,
        ),
        _ => return None,
    })
}

fn is_placeholder(token: &str) -> bool {
    !token.is_empty() && token.chars().all(|c| c.is_ascii_uppercase())
}

/// Splits a form into tokens, keeping `[ … ]` groups whole.
fn tokens(form: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in form.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            ' ' if depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Reads a form's tokens into pieces, adding each option met to `options`.
fn pieces(tokens: &[String], optional: bool, options: &mut Vec<Opt>) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut i = 0;
    // In an optional part, words go with the value after them (`at` in `[at TIME]`).
    let mut words = String::new();
    let add = |options: &mut Vec<Opt>, name: &str, description: &str, kind: Kind| {
        if !options.iter().any(|o| o.name == name) {
            options.push(Opt {
                name: name.to_string(),
                description: description.to_string(),
                kind,
                required: !optional,
            });
        }
    };
    while i < tokens.len() {
        let t = &tokens[i];
        if let Some(inner) = t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            let alternatives = inner
                .split(" | ")
                .map(|alt| pieces(&self::tokens(alt), true, options))
                .collect();
            out.push(Piece::Optional(alternatives));
        } else if let Some(flag) = t.strip_prefix("--") {
            // `--depth N`: the option is named after the flag; `--dry-run`: a flag.
            match tokens.get(i + 1).filter(|n| is_placeholder(n)) {
                Some(next) => {
                    let (_, description, kind) = placeholder(next).unwrap_or(("", "", Kind::Text));
                    add(options, flag, description, kind);
                    out.push(Piece::Value {
                        option: flag.to_string(),
                        prefix: format!("{}{t} ", std::mem::take(&mut words)),
                        quote: kind == Kind::Text,
                    });
                    i += 1;
                }
                None => {
                    add(options, flag, &format!("Add {t}"), Kind::Flag);
                    out.push(Piece::Flag {
                        option: flag.to_string(),
                        word: t.clone(),
                    });
                }
            }
        } else if let Some((key, value)) = t.split_once(':').filter(|(_, v)| is_placeholder(v)) {
            // `kind:K`: the option is named after the key.
            add(options, key, &format!("Only {key}:…"), Kind::Text);
            out.push(Piece::Value {
                option: key.to_string(),
                prefix: format!("{}{key}:", std::mem::take(&mut words)),
                quote: false,
            });
            let _ = value;
        } else if t == "key=value" {
            add(
                options,
                "parameters",
                "The workflow's parameters: key=value …",
                Kind::Text,
            );
            // A workflow whose parameters all have defaults is requested without any.
            if let Some(o) = options.iter_mut().find(|o| o.name == "parameters") {
                o.required = false;
            }
            out.push(Piece::Value {
                option: "parameters".into(),
                prefix: std::mem::take(&mut words),
                quote: false,
            });
        } else if t == "…" {
            // The parameters option holds them all.
        } else if is_placeholder(t) {
            match placeholder(t) {
                Some((name, description, kind)) => {
                    add(options, name, description, kind);
                    out.push(Piece::Value {
                        option: name.to_string(),
                        prefix: std::mem::take(&mut words),
                        quote: false,
                    });
                }
                None => out.push(Piece::Word(t.to_lowercase())),
            }
        } else if optional {
            words.push_str(t);
            words.push(' ');
        } else {
            out.push(Piece::Word(t.clone()));
        }
        i += 1;
    }
    out
}

/// How many options a form takes.
fn weight(form: &str) -> usize {
    form.split([' ', '[', ']', ':'])
        .filter(|t| is_placeholder(t) || *t == "key=value")
        .count()
}

/// A command as a subcommand: the form with the most options (of equals, one starting with a
/// word, then the shortest) read into pieces.
fn sub_of(c: &Command) -> Sub {
    let form = c
        .usage
        .split(" · ")
        .max_by_key(|f| {
            let first_is_word = f.split(' ').next().is_some_and(|w| !is_placeholder(w));
            (weight(f), first_is_word, std::cmp::Reverse(f.len()))
        })
        .unwrap_or(c.usage);
    let mut options = Vec::new();
    let form = pieces(&tokens(form), false, &mut options);
    // Discord wants the required options first.
    options.sort_by_key(|o| !o.required);
    let name = serde_json::to_value(c.intent)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', "-")))
        .unwrap_or_default();
    Sub {
        name,
        description: cut(c.summary, MAX_DESCRIPTION),
        intent: c.intent,
        options,
        form,
    }
}

/// The groups of `/sb`, from the grammar table.
pub fn groups() -> Vec<Group> {
    GROUPS
        .iter()
        .map(|(name, description)| Group {
            name,
            description,
            subs: COMMANDS
                .iter()
                .filter(|c| group_of(c.intent) == *name)
                .map(sub_of)
                .collect(),
        })
        .collect()
}

/// `/sb` as Discord registers it.
pub fn command(groups: &[Group]) -> CreateCommand {
    let groups = groups
        .iter()
        .map(|g| {
            let subs = g
                .subs
                .iter()
                .map(|s| {
                    let options: Vec<CreateCommandOption> = s
                        .options
                        .iter()
                        .map(|o| {
                            let kind = match o.kind {
                                Kind::Text | Kind::Entity => CommandOptionType::String,
                                Kind::Integer => CommandOptionType::Integer,
                                Kind::Flag => CommandOptionType::Boolean,
                            };
                            let opt = CreateCommandOption::new(
                                kind,
                                &o.name,
                                cut(&o.description, MAX_DESCRIPTION),
                            )
                            .required(o.required)
                            .set_autocomplete(o.kind == Kind::Entity);
                            if o.kind == Kind::Integer {
                                opt.min_int_value(1)
                            } else {
                                opt
                            }
                        })
                        .collect();
                    CreateCommandOption::new(CommandOptionType::SubCommand, &s.name, &s.description)
                        .set_sub_options(options)
                })
                .collect::<Vec<_>>();
            CreateCommandOption::new(CommandOptionType::SubCommandGroup, g.name, g.description)
                .set_sub_options(subs)
        })
        .collect();
    CreateCommand::new(COMMAND)
        .description("Ask Switchboard: who owns it, who is on call, what breaks; run workflows")
        .set_options(groups)
}

/// A value given to an option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Given {
    Text(String),
    Integer(i64),
    Flag(bool),
}

impl Given {
    fn text(&self) -> String {
        match self {
            Given::Text(t) => t.trim().to_string(),
            Given::Integer(n) => n.to_string(),
            Given::Flag(b) => b.to_string(),
        }
    }
}

/// The question an invocation of `sub` with these options stands for, as typed.
pub fn text_of(sub: &Sub, given: &[(String, Given)]) -> String {
    let mut words = Vec::new();
    write(&sub.form, given, &mut words);
    words.join(" ")
}

fn value<'a>(given: &'a [(String, Given)], option: &str) -> Option<&'a Given> {
    given.iter().find(|(k, _)| k == option).map(|(_, v)| v)
}

/// Whether any value of `pieces` is given.
fn any_given(pieces: &[Piece], given: &[(String, Given)]) -> bool {
    pieces.iter().any(|p| match p {
        Piece::Value { option, .. } => value(given, option).is_some_and(|v| !v.text().is_empty()),
        Piece::Flag { option, .. } => value(given, option) == Some(&Given::Flag(true)),
        Piece::Optional(alts) => alts.iter().any(|a| any_given(a, given)),
        Piece::Word(_) => false,
    })
}

fn write(pieces: &[Piece], given: &[(String, Given)], out: &mut Vec<String>) {
    for p in pieces {
        match p {
            Piece::Word(w) => out.push(w.clone()),
            Piece::Value {
                option,
                prefix,
                quote,
            } => {
                if let Some(v) = value(given, option) {
                    let text = v.text();
                    if text.is_empty() {
                    } else if *quote && text.contains(' ') {
                        out.push(format!("{prefix}\"{}\"", text.replace('"', "'")));
                    } else {
                        out.push(format!("{prefix}{text}"));
                    }
                }
            }
            Piece::Flag { option, word } => {
                if value(given, option) == Some(&Given::Flag(true)) {
                    out.push(word.clone());
                }
            }
            Piece::Optional(alternatives) => {
                if let Some(alt) = alternatives.iter().find(|a| any_given(a, given)) {
                    write(alt, given, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value for each option, as someone would give it.
    fn sample(o: &Opt) -> Given {
        match (o.kind, o.name.as_str()) {
            (Kind::Integer, _) => Given::Integer(2),
            (Kind::Flag, _) => Given::Flag(true),
            (_, "name") | (_, "team") => Given::Text("artist-lookup".into()),
            (_, "time") => Given::Text("tomorrow 09:00".into()),
            (_, "workflow") => Given::Text("register-component".into()),
            (_, "parameters") => Given::Text("name=x owner=team-a".into()),
            (_, "reason") | (_, "emergency") => Given::Text("the database is down".into()),
            _ => Given::Text("service".into()),
        }
    }

    #[test]
    fn every_level_of_sb_stays_within_discords_limits() {
        let groups = groups();
        let json = serde_json::to_value(command(&groups)).unwrap();
        fn check(v: &serde_json::Value, depth: usize) {
            let name = v["name"].as_str().unwrap();
            assert!(
                (1..=MAX_NAME).contains(&name.chars().count())
                    && name.chars().all(|c| c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || c == '-'
                        || c == '_'),
                "name {name}"
            );
            let d = v["description"].as_str().unwrap();
            assert!(
                (1..=MAX_DESCRIPTION).contains(&d.chars().count()),
                "{name}: {d}"
            );
            let options = v["options"].as_array().cloned().unwrap_or_default();
            assert!(
                options.len() <= MAX_OPTIONS,
                "{name} has {} options",
                options.len()
            );
            let mut names: Vec<&str> = options
                .iter()
                .map(|o| o["name"].as_str().unwrap())
                .collect();
            names.sort();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{name}: option names repeat");
            // Required options come first.
            let required: Vec<bool> = options.iter().map(|o| o["required"] == true).collect();
            assert!(
                required.windows(2).all(|w| w[0] || !w[1]),
                "{name}: {required:?}"
            );
            assert!(depth <= 3);
            for o in &options {
                check(o, depth + 1);
            }
        }
        check(&json, 0);
        // Every command of the grammar is a subcommand, once.
        let subs: usize = groups.iter().map(|g| g.subs.len()).sum();
        assert_eq!(subs, COMMANDS.len());
    }

    #[test]
    fn an_invocation_asks_what_typing_would() {
        for g in groups() {
            for sub in &g.subs {
                // With every option, and with the required ones only.
                let all: Vec<(String, Given)> = sub
                    .options
                    .iter()
                    .map(|o| (o.name.clone(), sample(o)))
                    .collect();
                let required: Vec<(String, Given)> = all
                    .iter()
                    .filter(|(n, _)| sub.options.iter().any(|o| &o.name == n && o.required))
                    .cloned()
                    .collect();
                for given in [all, required] {
                    let text = text_of(sub, &given);
                    let q = crate::ask::parse(&text);
                    assert_eq!(
                        q.intent, sub.intent,
                        "/sb {} {}: `{text}`",
                        g.name, sub.name
                    );
                    assert!(q.error.is_none(), "`{text}`: {:?}", q.error);
                }
            }
        }
        let deps = groups()
            .into_iter()
            .flat_map(|g| g.subs)
            .find(|s| s.intent == Intent::Deps)
            .unwrap();
        assert_eq!(
            text_of(
                &deps,
                &[
                    ("name".into(), Given::Text("artist-lookup".into())),
                    ("depth".into(), Given::Integer(2))
                ]
            ),
            "deps artist-lookup --depth 2"
        );
        let find = groups()
            .into_iter()
            .flat_map(|g| g.subs)
            .find(|s| s.intent == Intent::Find)
            .unwrap();
        assert_eq!(
            text_of(
                &find,
                &[
                    ("words".into(), Given::Text("search".into())),
                    ("lifecycle".into(), Given::Text("production".into()))
                ]
            ),
            "find search lifecycle:production"
        );
        let run = groups()
            .into_iter()
            .flat_map(|g| g.subs)
            .find(|s| s.intent == Intent::Run)
            .unwrap();
        assert_eq!(
            text_of(
                &run,
                &[
                    ("workflow".into(), Given::Text("rollback".into())),
                    (
                        "parameters".into(),
                        Given::Text("service=checkout version=1.4.2".into())
                    ),
                    ("emergency".into(), Given::Text("checkout 500s".into())),
                ]
            ),
            "run rollback service=checkout version=1.4.2 --emergency \"checkout 500s\""
        );
    }
}
