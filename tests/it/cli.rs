//! The `switchboard` binary as a newcomer and a CI job use it.

use crate::common;

use std::process::Command;

use common::{catalog_dir, fixture};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("RUST_LOG");
    c.env_remove("SLACK_BOT_TOKEN");
    c.env_remove("SLACK_SIGNING_SECRET");
    c.env_remove("SLACK_APP_TOKEN");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SWITCHBOARD__")) {
        c.env_remove(k);
    }
    c
}

/// Runs the binary and returns what it printed, failing the test with its errors if it fails.
fn run_ok(cmd: &mut Command) -> String {
    let out = common::run(cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A configuration file for a bot with its own database in a temporary directory.
fn own_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("switchboard.toml");
    std::fs::write(
        &path,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[catalog.local]\npaths = [\"{}\", \"{}\"]\n{extra}",
            dir.join("data/sb.db").display(),
            fixture("backstage-examples/all.yaml"),
            fixture("backstage-examples/acme-corp.yaml"),
        ),
    )
    .unwrap();
    path
}

#[test]
fn check_prints_file_line_message_and_fails_on_quarantine() {
    let out = common::run(bin().args(["check", &fixture("backstage-examples/components")]));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout
        .lines()
        .find(|l| l.contains("invalid-component.yaml:4:"))
        .unwrap_or_else(|| panic!("no file:line for the bad name in\n{stdout}"));
    assert!(line.contains("metadata.name"), "{line}");
    assert!(
        stdout.contains("invalid-component.yaml:9: "),
        "the bad tag's line:\n{stdout}"
    );
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("1 would be quarantined")
    );
}

#[test]
fn check_speaks_json_and_github_annotations() {
    let bad = fixture("real-world/Zenika__sensei__.backstage__catalog-info.yaml");
    let out = common::run(bin().args(["check", "--format", "json", &bad]));
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (doc["files"].as_u64(), doc["errors"].as_u64()),
        (Some(1), Some(1))
    );
    let error = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "error")
        .expect("an error");
    assert_eq!(error["line"], 14, "{doc:#}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("unknown root field `links`")
            && message.contains("did you mean `metadata.links`")
            && message.contains("[NoForeignRootFieldsEntityPolicy]"),
        "{message}"
    );

    let out = common::run(bin().args(["check", "--format", "github", &bad]));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("::error "))
        .expect("::error");
    assert!(
        line.starts_with(&format!(
            "::error file={},line=14,",
            bad.replace(':', "%3A")
        )) && line.contains("::Component \"sensei\": unknown root field"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("::warning ")),
        "{stdout}"
    );
}

#[test]
fn a_file_named_to_check_must_hold_entities_but_a_scan_skips_other_yaml() {
    let spec = fixture("backstage-examples/apis/petstore.oas.yaml");
    let out = common::run(bin().args(["check", &spec]));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("petstore.oas.yaml:1: document has no `kind`")
            && stdout.contains("must hold catalog entities"),
        "{stdout}"
    );
    // The same file met in a directory scan is skipped with a note, not an error.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&spec, dir.path().join("petstore.oas.yaml")).unwrap();
    std::fs::copy(
        fixture("backstage-examples/components/artist-lookup-component.yaml"),
        dir.path().join("catalog-info.yaml"),
    )
    .unwrap();
    let out = common::run(bin().args(["check", dir.path().to_str().unwrap()]));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("warning: document has no `kind`"),
        "{stdout}"
    );
    assert!(
        String::from_utf8(out.stderr).unwrap().contains("0 errors"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // Named with a relative path spelled loosely, it is still named on its own.
    let out = common::run(
        bin()
            .current_dir(dir.path())
            .args(["check", "./petstore.oas.yaml"]),
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_passes_clean_files() {
    let out = common::run(bin().args([
        "check",
        &fixture("backstage-examples/components/artist-lookup-component.yaml"),
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn ask_with_catalog_answers_from_those_files_as_json() {
    let out = run_ok(
        bin()
            .args([
                "ask",
                "who owns artist-lookup",
                "--format",
                "json",
                "--catalog",
                &fixture("backstage-examples/all.yaml"),
                "--catalog",
                &fixture("backstage-examples/acme-corp.yaml"),
            ])
            // A database URL that cannot work proves --catalog never touches it.
            .env("SWITCHBOARD__DATABASE__URL", "mysql://nowhere/x"),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["intent"], "owner");
    assert_eq!(v["entity"], "component:default/artist-lookup");
    assert_eq!(v["result"]["owners"][0]["ref"], "group:default/team-a");
}

#[test]
fn first_ask_syncs_into_a_new_database_then_answers_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = own_config(dir.path(), "");
    let text = run_ok(bin().args([
        "--config",
        cfg.to_str().unwrap(),
        "ask",
        "who",
        "owns",
        "artst",
        "lookup",
    ]));
    assert!(
        text.starts_with("artist-lookup is owned by team-a"),
        "{text}"
    );
    assert!(text.contains("closest match"), "{text}");
    assert!(dir.path().join("data/sb.db").exists());
}

#[test]
fn sync_reports_what_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = own_config(dir.path(), "");
    let text = run_ok(bin().args(["--config", cfg.to_str().unwrap(), "sync"]));
    assert!(text.starts_with("synced "), "{text}");
    // Backstage 1.55 rejects the two MCP server APIs of its own examples (no `spec.definition`).
    assert!(text.contains(" entities (2 quarantined)"), "{text}");
}

#[test]
fn a_config_error_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = own_config(dir.path(), "[oncall]\nrotation = \"x\"\n");
    let out = common::run(bin().args(["--config", cfg.to_str().unwrap(), "sync"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("switchboard.toml") && err.contains("rotation"),
        "{err}"
    );
}

#[test]
fn the_shell_holds_a_conversation_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = own_config(dir.path(), "");
    let out = common::run_with(
        bin().args([
            "--config",
            cfg.to_str().unwrap(),
            "shell",
            "--as",
            "user:guest",
        ]),
        b"who owns artist-lookup\nwhat depends on wayback-archive\nexit\n",
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("artist-lookup is owned by team-a"), "{text}");
    assert!(
        text.contains("wayback-search (component) via wayback-archive"),
        "{text}"
    );
}

#[test]
fn serve_answers_health_checks() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = own_config(dir.path(), "[http]\nlisten = \"127.0.0.1:0\"\n");
    let served = common::Served::start(cfg.to_str().unwrap(), &[]);
    let body = served.health().expect("serve never became healthy");
    let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
    assert_eq!(v["status"], "ok");
    assert!(v["entities"].as_u64().unwrap() > 60, "{body}");
}

/// SQLite serves one process: a second `serve` on the same file is refused with why, and
/// the first keeps answering.
#[test]
fn a_second_serve_on_one_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = own_config(dir.path(), "[http]\nlisten = \"127.0.0.1:0\"\n");
    let served = common::Served::start(cfg.to_str().unwrap(), &[]);
    let out = common::run(bin().args(["--config", cfg.to_str().unwrap(), "serve"]));
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("another `switchboard serve` is running on") && said.contains("PostgreSQL"),
        "{said}"
    );
    assert!(served.health().is_some(), "the first one still answers");
}

#[test]
fn check_reports_duplicates_and_missing_references_as_warnings() {
    let dir = catalog_dir(&[
        (
            "a.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
        ),
        (
            "b.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-b\n",
        ),
    ]);
    let out = common::run(bin().args(["check", dir.path().to_str().unwrap()]));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "warnings alone do not fail a check:\n{stdout}"
    );
    assert!(
        stdout.contains("b.yaml:1: warning: component:default/checkout is already defined at"),
        "{stdout}"
    );
    assert!(
        stdout.contains("group:default/team-a, which is not in these files"),
        "{stdout}"
    );
}

#[test]
fn slack_without_its_tokens_says_which_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = own_config(
        dir.path(),
        "[slack]\nenabled = true\n[http]\nlisten = \"127.0.0.1:0\"\n",
    );
    let out = common::run(bin().args(["--config", cfg.to_str().unwrap(), "serve"]));
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("SLACK_APP_TOKEN is not set"),
        "Socket Mode is the default: {err}"
    );
}

#[test]
fn check_workflows_names_each_problem_and_the_good_ones_still_load() {
    let good = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("commands/register-component.yaml"),
    )
    .unwrap();
    let bad = good
        .replace("name: register-component", "name: Register Component")
        .replace("expires_in: 1d", "expires_in: tomorrow")
        .replace("{{ params.owner.ref }}", "{{ params.team.ref }}");
    let dir = catalog_dir(&[
        ("commands/register-component.yaml", &good),
        ("commands/broken.yaml", &bad),
        // Below commands/: templates, not workflows.
        ("commands/templates/component.yaml", "kind: Component\n"),
    ]);
    let commands = dir.path().join("commands");
    let out = common::run(bin().args(["check-workflows", commands.to_str().unwrap()]));
    assert!(!out.status.success(), "a workflow left out fails the check");
    let text = String::from_utf8(out.stdout).unwrap();
    let broken = commands.join("broken.yaml").display().to_string();
    for (line, words) in [
        (3, "lowercase letters, digits and hyphens"),
        (32, "`expires_in`: `tomorrow`"),
        (34, "`params.team` in"),
    ] {
        assert!(
            text.contains(&format!("{broken}:{line}: ")) && text.contains(words),
            "{line} {words}: {text}"
        );
    }
    assert!(!text.contains("templates"), "{text}");
    let summary = String::from_utf8(out.stderr).unwrap();
    assert!(
        summary.contains("checked 2 files: 1 workflows load"),
        "{summary}"
    );

    let out = common::run(bin().args([
        "check-workflows",
        "--format",
        "json",
        commands.to_str().unwrap(),
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["workflows"], serde_json::json!(["register-component"]));
    assert_eq!(v["errors"], 3);
    assert_eq!(v["findings"][0]["file"], broken.as_str());

    let out = common::run(bin().args([
        "check-workflows",
        "--format",
        "github",
        commands.to_str().unwrap(),
    ]));
    let annotations = String::from_utf8(out.stdout).unwrap();
    assert!(
        annotations.starts_with("::error file=")
            && annotations.contains("title=switchboard check-workflows::"),
        "{annotations}"
    );
}

#[test]
fn the_shipped_workflows_pass_their_check() {
    let text = run_ok(bin().args(["check-workflows"]));
    assert!(text.is_empty(), "{text}");
}

/// README's walk-through, as two people in two shells on one database: one requests, the
/// other approves, and the approving shell runs the run before it exits.
#[test]
fn two_shells_request_approve_and_run_a_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let commands = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("commands");
    let cfg = own_config(
        dir.path(),
        &format!("[workflows]\npaths = [\"{}\"]\n", commands.display()),
    );
    let shell = |who: &str, input: &[u8]| {
        let out = common::run_with(
            bin().args(["--config", cfg.to_str().unwrap(), "shell", "--as", who]),
            input,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let asked = shell(
        "breanna.davison",
        b"run register-component name=ledger-api owner=team-a\nexit\n",
    );
    assert!(
        asked.contains("Run 1 of register-component awaits approval"),
        "{asked}"
    );
    let approved = shell("janelle.dawe", b"approve 1\nexit\n");
    assert!(
        approved.contains("Run 1 is approved; it runs now"),
        "{approved}"
    );
    assert!(
        approved.contains("── to dm:breanna.davison")
            && approved.contains("Run 1 of register-component: succeeded"),
        "the requester is told, here on the console: {approved}"
    );
    let answered = shell("breanna.davison", b"who owns ledger-api\nstatus 1\nexit\n");
    assert!(
        answered.contains("ledger-api is owned by team-a"),
        "{answered}"
    );
    assert!(
        answered.contains("Run 1 of register-component: succeeded"),
        "{answered}"
    );
}

#[test]
fn check_scorecards_passes_the_shipped_file_and_points_at_a_broken_line() {
    let out = common::run(bin().args(["check-scorecards", "config/scorecards.yaml"]));
    assert!(out.status.success(), "{out:?}");
    let summary = String::from_utf8(out.stderr).unwrap();
    assert!(
        summary.contains("2 scorecards load, 0 problems"),
        "{summary}"
    );
    let dir = common::catalog_dir(&[(
        "scorecards.yaml",
        "name: readiness\nchecks:\n  - check: owner\n  - check: uptime\n",
    )]);
    let file = dir.path().join("scorecards.yaml").display().to_string();
    let out = common::run(bin().args(["check-scorecards", &file, "--format", "json"]));
    assert!(
        !out.status.success(),
        "a scorecard left out fails the check"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"], 1);
    assert_eq!(v["findings"][0]["file"], file.as_str());
    assert_eq!(v["findings"][0]["line"], 4);
}

#[test]
fn digest_dry_run_prints_the_platform_digest_and_says_which_teams_have_none() {
    let dir = tempfile::tempdir().unwrap();
    let config = own_config(dir.path(), "");
    let out = run_ok(bin().args([
        "--config",
        config.to_str().unwrap(),
        "digest",
        "--dry-run",
        "--format",
        "json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["period"].as_str().unwrap().ends_with('Z'), "{v}");
    // The first look is a baseline: the demo's teams have nothing to report yet.
    let silent = v["silent"].as_array().unwrap();
    assert!(
        silent.contains(&serde_json::json!("group:default/team-a")),
        "{v}"
    );
    let platform = &v["digests"][0]["result"];
    assert!(
        platform["most_failed"].as_array().unwrap().len() > 3,
        "{platform}"
    );
    let text = run_ok(bin().args([
        "--config",
        config.to_str().unwrap(),
        "digest",
        "--dry-run",
        "--team",
        "team-a",
    ]));
    assert!(
        text.contains("Nothing changed, so no digest, for: group:default/team-a"),
        "{text}"
    );
    let out = common::run(bin().args([
        "--config",
        config.to_str().unwrap(),
        "digest",
        "--dry-run",
        "--team",
        "no-such-team",
    ]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no team `no-such-team`"));
    let out = common::run(bin().args(["--config", config.to_str().unwrap(), "digest"]));
    assert!(!out.status.success(), "without --dry-run it refuses");
}

/// `report compliance` prints the evidence as CSV, JSON or Markdown: one row per entity the
/// filter selects, the packages a `uses:` filter matched, the quarantined apart.
#[test]
fn report_compliance_prints_the_evidence_in_each_format() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog_dir(&[
        (
            "router/catalog-info.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: edge-router\n  links:\n    - url: https://runbooks.example.com/router\n      type: runbook\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: router-admin\nspec:\n  type: service\n  lifecycle: production\n",
        ),
        (
            "router/sbom.spdx.json",
            &std::fs::read_to_string(fixture(
                "sbom/spdx-2.3-cargo-kong-atc-router-syft.spdx.json",
            ))
            .unwrap(),
        ),
    ]);
    let cfg = dir.path().join("switchboard.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[catalog.local]\npaths = [\"{}\", \"{}\"]\n",
            dir.path().join("sb.db").display(),
            fixture("backstage-examples/acme-corp.yaml"),
            catalog.path().display(),
        ),
    )
    .unwrap();
    let report = |format: &str, filter: &str| {
        run_ok(bin().args([
            "--config",
            cfg.to_str().unwrap(),
            "report",
            "compliance",
            "--format",
            format,
            "--filter",
            filter,
        ]))
    };
    let csv = report("csv", "uses:regex@<1.9 lifecycle:production");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "entity,lifecycle,owners,oncall,runbook,quarantined,reasons,packages,catalog_generation,reflects"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].starts_with(
            "component:default/edge-router,production,group:default/team-a,user:default/"
        ),
        "{csv}"
    );
    assert!(
        lines[1].contains(",https://runbooks.example.com/router,no,,regex 1.8.4,"),
        "{csv}"
    );
    // The one without an owner is quarantined: last, and said so.
    assert!(
        lines[2].starts_with("component:default/router-admin,production,,"),
        "{csv}"
    );
    assert!(lines[2].contains(",yes,"), "{csv}");

    let json: serde_json::Value = serde_json::from_str(&report("json", "uses:regex")).unwrap();
    assert_eq!(json["figures"]["entities"], 1, "{json}");
    assert_eq!(json["figures"]["with_runbook"], 1);
    assert_eq!(
        json["quarantined"][0]["entity"],
        "component:default/router-admin"
    );
    assert!(json["catalog_generation"].as_i64().unwrap() > 0);
    // As of the sync that read the catalog.
    let synced = json["sources"][0]["synced_at"].as_str().unwrap();
    assert_eq!(json["reflects"].as_str(), Some(synced), "{json}");

    let md = report("md", "");
    assert!(
        md.starts_with("# Compliance evidence: `kind:component`"),
        "{md}"
    );
    assert!(md.contains("## Quarantined"), "{md}");

    // A filter that cannot be read fails with the reason.
    let out = common::run(bin().args([
        "--config",
        cfg.to_str().unwrap(),
        "report",
        "compliance",
        "--filter",
        "missing:everything",
    ]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a filter"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `deploy/kubernetes.yaml` stays true to the code: its configuration is read as Switchboard
/// reads it (unknown keys refused), its probes are the paths served, and every variable it
/// sets from the Secret is one the code reads.
#[test]
fn the_kubernetes_manifest_is_configuration_switchboard_reads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("deploy/kubernetes.yaml")).unwrap();
    let docs: Vec<serde_json::Value> = text
        .split("\n---\n")
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .collect();
    let kind = |k: &str| docs.iter().find(|d| d["kind"] == k).unwrap();
    let toml_text = kind("ConfigMap")["data"]["switchboard.toml"]
        .as_str()
        .unwrap();
    let config: switchboard::config::Config = toml::from_str(toml_text).unwrap();
    assert!(config.slack.enabled);
    let container = &kind("Deployment")["spec"]["template"]["spec"]["containers"][0];
    for (probe, path) in [
        ("startupProbe", "/readyz"),
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
    ] {
        assert_eq!(container[probe]["httpGet"]["path"], path, "{probe}");
    }
    let mut sources = String::new();
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let env = container["env"].as_array().unwrap();
    for var in env.iter().filter(|v| v.get("valueFrom").is_some()) {
        let name = var["name"].as_str().unwrap();
        let read = name.starts_with("SWITCHBOARD__") || sources.contains(&format!("\"{name}\""));
        assert!(read, "{name} is set by the manifest but read nowhere");
    }
}
