//! The fuzz targets (`switchboard::fuzz`) driven by arbtest: each input is a real one of that
//! kind (the fixtures), cut, spliced and sprinkled with the characters its format is made of,
//! or random bytes. A smoke run here (`SWITCHBOARD_FUZZ_MS`, 1.5 s a target by default);
//! `scripts/fuzz` runs each for longer and saves any input that breaks one under
//! `tests/fixtures/fuzz/TARGET/`, which every run replays first.

use std::path::{Path, PathBuf};

use arbtest::arbitrary::Unstructured;

use switchboard::fuzz::TARGETS;

/// The real inputs each target starts from.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = root.join("tests/fixtures");
    let files = |dir: PathBuf, ends: &[&str]| -> Vec<Vec<u8>> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        found.sort();
        found
            .into_iter()
            .filter(|p| ends.iter().any(|e| p.to_string_lossy().ends_with(e)))
            .filter_map(|p| std::fs::read(p).ok())
            .collect()
    };
    match target {
        "question" => [
            "who owns payments-api",
            "what breaks if ledger goes down --depth 2",
            "oncall payments-api at tomorrow 9am",
            "find kind:component owner:team-a missing:runbook uses:lodash@<4.17.21",
            "who uses log4j-core >= 2.0, < 2.17.1",
            "changes payments-api since 2026-11-20",
            "incident payments",
            "scorecard team team-a",
            "drift team-a",
            "run provision-database service=payments-api size=large --dry-run",
            "api payments",
            "find endpoint /payments/{id}",
            "teams without oncall",
        ]
        .iter()
        .map(|q| q.as_bytes().to_vec())
        .collect(),
        "catalog_yaml" => files(fixtures.join("backstage-examples"), &[".yaml"]),
        "codeowners" => files(fixtures.join("codeowners"), &["CODEOWNERS"]),
        "workflow" => files(root.join("commands"), &[".yaml"]),
        "scorecard" => files(root.join("config"), &["scorecards.yaml"]),
        "sbom" => files(fixtures.join("sbom"), &[".json"]),
        "terraform_state" => files(fixtures.join("terraform"), &[".tfstate", ".json"]),
        "github_webhook" => files(fixtures.join("payloads/github"), &[".json"])
            .into_iter()
            .filter(|b| b.len() < 64 << 10)
            .collect(),
        "slack_payload" => files(fixtures.join("payloads/slack"), &[".json"]),
        "discord_interaction" => {
            let dir = fixtures.join("payloads/discord");
            let mut found = files(
                dir.clone(),
                &[
                    "interaction-application-command-chat-input.json",
                    "interaction-autocomplete.json",
                    "interaction-message-component-button.json",
                    "interaction-modal-submit-text-input-2024.json",
                ],
            );
            // A subcommand group's invocation, as the gateway delivers it.
            let envelope: serde_json::Value = serde_json::from_slice(
                &std::fs::read(
                    dir.join("gateway-dispatch-INTERACTION_CREATE-subcommand-group.json"),
                )
                .unwrap(),
            )
            .unwrap();
            found.push(envelope["d"].to_string().into_bytes());
            found
        }
        other => panic!("no seeds for {other}"),
    }
}

/// What formats are made of: a mutation splices one in.
const PIECES: &[&str] = &[
    "\n",
    "  ",
    "- ",
    ": ",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    ",",
    "*a",
    "&a ",
    "!!str ",
    "|\n",
    "---\n",
    "@",
    "#",
    "/",
    "\\",
    "\0",
    "\u{feff}",
    "é",
    "💥",
    "<@U1>",
    "&lt;",
    "--depth ",
    " at ",
    "9999999999999999999999",
    "-1",
    "NaN",
    "null",
    "true",
    "${x}",
    "{{ x }}",
];

/// One input: a seed (or nothing) changed a few times, or random bytes.
fn input(u: &mut Unstructured<'_>, seeds: &[Vec<u8>]) -> arbtest::arbitrary::Result<Vec<u8>> {
    if seeds.is_empty() || u.ratio(1, 10)? {
        return u.arbitrary::<Vec<u8>>();
    }
    let mut data = u.choose(seeds)?.clone();
    for _ in 0..u.int_in_range(0..=8)? {
        let at = if data.is_empty() {
            0
        } else {
            u.int_in_range(0..=data.len() - 1)?
        };
        match u.int_in_range(0..=3)? {
            0 => {
                let piece = u.choose(PIECES)?;
                data.splice(at..at, piece.bytes());
            }
            1 => {
                let end = (at + u.int_in_range(1..=64)?).min(data.len());
                data.drain(at..end);
            }
            2 => {
                let byte = u.arbitrary::<u8>()?;
                if let Some(b) = data.get_mut(at) {
                    *b = byte;
                }
            }
            _ => {
                // A part of the input again, elsewhere (repeated keys, nested documents).
                let end = (at + u.int_in_range(1..=256)?).min(data.len());
                let part = data[at..end].to_vec();
                let to = u.int_in_range(0..=data.len())?;
                data.splice(to..to, part);
            }
        }
    }
    Ok(data)
}

/// Inputs that once broke a target, replayed first.
fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
        .into_iter()
        .filter_map(|p| Some((p.clone(), std::fs::read(&p).ok()?)))
        .collect()
}

/// Runs `target` on one input; a panic is saved (under `SWITCHBOARD_FUZZ_SAVE`) and raised.
fn run(name: &str, target: switchboard::fuzz::Target, data: &[u8]) {
    let outcome = std::panic::catch_unwind(|| target(data));
    if let Err(panic) = outcome {
        if std::env::var_os("SWITCHBOARD_FUZZ_SAVE").is_some() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/fuzz")
                .join(name);
            let _ = std::fs::create_dir_all(&dir);
            let digest = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
            });
            let file = dir.join(format!("crash-{digest:016x}"));
            let _ = std::fs::write(&file, data);
            eprintln!(
                "{name}: an input that breaks it is saved as {}",
                file.display()
            );
        }
        std::panic::resume_unwind(panic);
    }
}

fn fuzz(name: &str) {
    let (_, target) = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no target {name}"));
    for (file, data) in regressions(name) {
        eprintln!("{name}: replaying {}", file.display());
        run(name, *target, &data);
    }
    let seeds = seeds(name);
    let ms: u64 = std::env::var("SWITCHBOARD_FUZZ_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_500);
    let runs = std::sync::atomic::AtomicU64::new(0);
    let started = std::time::Instant::now();
    arbtest::arbtest(|u| {
        let data = input(u, &seeds)?;
        runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        run(name, *target, &data);
        Ok(())
    })
    .budget_ms(ms);
    // Printed for `scripts/fuzz`, which reports them.
    println!(
        "fuzz {name}: {} inputs in {:.1} s",
        runs.load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn question() {
    fuzz("question");
}

#[test]
fn catalog_yaml() {
    fuzz("catalog_yaml");
}

#[test]
fn codeowners() {
    fuzz("codeowners");
}

#[test]
fn workflow() {
    fuzz("workflow");
}

#[test]
fn scorecard() {
    fuzz("scorecard");
}

#[test]
fn sbom() {
    fuzz("sbom");
}

#[test]
fn terraform_state() {
    fuzz("terraform_state");
}

#[test]
fn github_webhook() {
    fuzz("github_webhook");
}

#[test]
fn slack_payload() {
    fuzz("slack_payload");
}

#[test]
fn discord_interaction() {
    fuzz("discord_interaction");
}

/// Every target has its test here.
#[test]
fn every_target_is_fuzzed() {
    let here = include_str!("fuzz.rs");
    for (name, _) in TARGETS {
        assert!(
            here.contains(&format!("fn {name}() {{")),
            "{name} has no test"
        );
    }
}
