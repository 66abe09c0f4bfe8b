//! The `switchboard` command: serve (the default), shell, ask, sync, check, health.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use switchboard::app::{App, Use};
use switchboard::catalog::Snapshot;
use switchboard::chat::discord::app::{DiscordApp, DiscordSettings};
use switchboard::chat::slack::{SlackApp, SlackSettings};
use switchboard::chat::{ChatEvent, Platform, console, render};
use switchboard::config::{Config, DiscordMode, SlackMode};
use switchboard::sources::local;
use switchboard::sources::rotations;
use switchboard::store::Store;
use switchboard::{Bot, background, sync};

/// mimalloc returns freed pages to the system and keeps size classes apart, so the raw
/// documents of a sync do not leave the process holding their peak.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How memory goes back to the system, unless the operator said (`MIMALLOC_PURGE_DELAY`,
/// `MIMALLOC_ALLOW_THP`):
/// - mimalloc's `purge_delay` (milliseconds before freed pages go back to the system): its
///   default of a second let a sync's parsed documents pile up, 1.3× the peak of 10 ms.
/// - No transparent huge pages for the process: mimalloc marks its memory for them, and the
///   kernel's khugepaged then fills the pages mimalloc handed back in again, 2 MiB at a time.
///   A serving bot's resident memory crept back up towards its start-up peak (12 MiB every
///   10 s at 127,000 entities), and a 10,000-component sync peaked 25 % higher. mimalloc reads
///   its own option before `main`, when its first memory is already marked: the process-wide
///   switch covers that memory too.
fn return_freed_memory_promptly() {
    // mimalloc v3's numbering (libmimalloc-sys builds v3 unless its `v2` feature is on).
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15; // mi_option_purge_delay
    const ALLOW_THP: libmimalloc_sys::mi_option_t = 43; // mi_option_allow_thp
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: setting an option is mimalloc's documented way to configure it at run time.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 10) }
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: as above.
        unsafe { libmimalloc_sys::mi_option_set(ALLOW_THP, 0) }
        #[cfg(target_os = "linux")]
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only this process's
        // memory policy; a kernel without it refuses, and the process runs as before.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Who owns it, who is on call, what breaks — from chat."
)]
struct Cli {
    /// Configuration file [default: config/switchboard.toml if present, else built-in defaults]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the bot (the default): sync, answer, re-sync on an interval.
    Serve,
    /// Talk to the bot in this terminal.
    Shell {
        /// Ask as this catalog user (e.g. user:guest).
        #[arg(long = "as")]
        as_user: Option<String>,
    },
    /// Ask one question and print the answer.
    Ask {
        question: Vec<String>,
        #[arg(long = "as")]
        as_user: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Answer from these catalog files alone, without the database.
        #[arg(long)]
        catalog: Vec<String>,
    },
    /// Read every source now and store the result.
    Sync,
    /// Validate catalog files as Backstage would: `file:line: message`, non-zero exit on errors.
    Check {
        #[arg(required = true)]
        paths: Vec<String>,
        /// `text` (file:line: message), `json` (one document), or `github` (workflow-command
        /// annotations that GitHub shows on the pull request's lines).
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Check workflow definitions as start-up would: `file:line: problem`, exit 1 when any
    /// would be left out. Without paths, those of `workflows.paths`.
    CheckWorkflows {
        paths: Vec<String>,
        /// `text`, `json` or `github`, as for `check`.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Check scorecards as start-up would: `file:line: problem`, exit 1 when any would be
    /// left out. Without a path, `scorecards.path`.
    CheckScorecards {
        path: Option<String>,
        /// `text`, `json` or `github`, as for `check`.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Print the weekly digests of the schedule's latest period as they would be sent now
    /// (after bringing the catalog's change log up to date); nothing is sent.
    Digest {
        /// Print only; `serve` sends digests on `digests.schedule`.
        #[arg(long, required = true)]
        dry_run: bool,
        /// Only this team's (a Group's name or reference); `platform` for the platform digest.
        #[arg(long)]
        team: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Ask a running bot whether it is healthy (for container health checks).
    Health,
    /// Evidence for questionnaires, from the catalog as the last sync left it.
    Report {
        #[command(subcommand)]
        what: ReportCmd,
    },
    /// The audit log: check its chain, or export it.
    Audit {
        #[command(subcommand)]
        action: AuditCmd,
    },
}

#[derive(Subcommand)]
enum ReportCmd {
    /// One row per entity a `find` filter selects (components by default): owner, lifecycle,
    /// on-call, runbook, quarantine, matched packages; with the catalog generation and time.
    Compliance {
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
        /// What `find` takes: `lifecycle:production`, `uses:log4j-core@<2.17.1`, `missing:oncall` …
        #[arg(long, default_value = "")]
        filter: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Csv,
    Json,
    Md,
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the chain and print its head (COUNT:HASH); exit 1 naming the first entry that was
    /// altered, removed, inserted or reordered, or when entries past a recorded head are gone.
    Verify {
        /// A head printed earlier: the log must still hold it.
        #[arg(long)]
        head: Option<String>,
    },
    /// Write the log as JSON lines.
    Export {
        /// Only entries from this time on (RFC 3339 or epoch seconds).
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    Text,
    Json,
    Github,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    /// The answer's graph in DOT (a blast radius), for Graphviz and friends.
    Dot,
}

fn main() -> ExitCode {
    return_freed_memory_promptly();
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let quiet = !matches!(cli.command, None | Some(Cmd::Serve));
    init_logging(&config, quiet);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli.command.unwrap_or(Cmd::Serve), config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config, quiet: bool) {
    let default = if quiet {
        "warn"
    } else {
        config.log.level.as_str()
    };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal: a file or a container log gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

async fn run(cmd: Cmd, config: Config) -> Result<ExitCode> {
    match cmd {
        Cmd::Serve => serve(config).await,
        Cmd::Shell { as_user } => {
            let App { bot, store, .. } = App::open(&config, Use::Ask).await?;
            // Runs approved here (or left by another process) are run while the shell is open,
            // and what becomes of them is printed here.
            if let Some(desk) = bot.desk().cloned() {
                desk.add_outbox(
                    Platform::Console,
                    Arc::new(console::ConsoleOutbox::new(std::io::stdout())),
                );
                tokio::spawn(desk.work(bot.clone()));
            }
            let b = bot.clone();
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                let stdin = std::io::stdin();
                let tty = stdin.is_terminal();
                console::run(&runtime, &b, as_user, stdin.lock(), std::io::stdout(), tty)
            })
            .await??;
            if let Some(desk) = bot.desk() {
                desk.drain(&bot).await?;
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Ask {
            question,
            as_user,
            format,
            catalog,
        } => {
            let (bot, store) = if catalog.is_empty() {
                let app = App::open(&config, Use::Ask).await?;
                (app.bot, Some(app.store))
            } else {
                let outcome = sync::scan_local(&catalog, &config);
                let snap =
                    Snapshot::build(outcome.entities, outcome.problems, Utc::now().timestamp());
                let bot = Bot::new(
                    snap,
                    rotations::load(&config.oncall.rotations)?,
                    config.catalog.limit(),
                );
                (Arc::new(bot), None)
            };
            let event = ChatEvent::console(as_user, question.join(" "), bot.now());
            let (reply, code) = match bot.handle(event).await {
                Ok(reply) => (reply, ExitCode::SUCCESS),
                Err(failure) => (failure.reply(), ExitCode::FAILURE),
            };
            if let Some(store) = store {
                store.close().await;
            }
            match format {
                Format::Text => print!("{}", render::text_saving_pictures(&reply)),
                Format::Json => println!("{}", render::json(&reply)),
                Format::Dot => match &reply.dot {
                    Some(dot) => print!("{dot}"),
                    None => {
                        eprintln!(
                            "error: this answer is not a graph (`--format dot` draws a blast radius: `dependents X`)"
                        );
                        return Ok(ExitCode::FAILURE);
                    }
                },
            }
            Ok(code)
        }
        Cmd::Sync => {
            let store =
                Store::connect(&config.database.url.0, config.database.max_connections).await?;
            let tty = std::io::stderr().is_terminal();
            let sources = sync::Sources::from_env(&config, &store)?;
            let all = sync::sync_all(&config, &store, &sources, move |source, n, entities| {
                if tty {
                    let what = if source == "GitHub" {
                        "repositories read"
                    } else {
                        "files"
                    };
                    eprint!("\r\x1b[2Ksyncing {source}: {n} {what}, {entities} entities");
                    let _ = std::io::stderr().flush();
                }
            })
            .await?;
            if tty {
                eprintln!();
            }
            for l in all.lines {
                println!("{l}");
            }
            // The dependency graphs the scan left, as many as the rate budget spares.
            if let Some(github) = &sources.github {
                let (read, left) = github.read_missing_sboms().await?;
                if read + left > 0 {
                    println!(
                        "GitHub dependency graphs: {read} read, {left} left for when the rate budget spares them"
                    );
                }
            }
            // What a machine (a pod's memory limit) must allow for a sync of this catalog.
            if let Some(kib) = peak_memory_kib() {
                println!("peak memory {} MiB", kib.div_ceil(1024));
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check { paths, format } => Ok(check(&paths, format, &config)),
        Cmd::CheckWorkflows { paths, format } => {
            let paths = if paths.is_empty() {
                config.workflows.paths.clone()
            } else {
                paths
            };
            Ok(check_workflows(&paths, format))
        }
        Cmd::CheckScorecards { path, format } => {
            let path = path.unwrap_or_else(|| config.scorecards.path.clone());
            Ok(check_scorecards(&path, format))
        }
        Cmd::Audit { action } => {
            let store =
                Store::connect(&config.database.url.0, config.database.max_connections).await?;
            let code = audit(&store, action).await;
            store.close().await;
            code
        }
        Cmd::Digest {
            dry_run: _,
            team,
            format,
        } => {
            let app = App::open(&config, Use::Ask).await?;
            let code = digest(&app, &config, team.as_deref(), format).await;
            app.store.close().await;
            code
        }
        Cmd::Report {
            what: ReportCmd::Compliance { format, filter },
        } => {
            let app = App::open(&config, Use::Ask).await?;
            let made = app
                .bot
                .as_itself(|ctx| switchboard::ask::evidence::compliance(ctx, &filter));
            app.store.close().await;
            match made {
                Ok(evidence) => {
                    match format {
                        ReportFormat::Csv => print!("{}", evidence.csv()),
                        ReportFormat::Md => print!("{}", evidence.markdown()),
                        ReportFormat::Json => {
                            println!("{}", serde_json::to_string_pretty(&evidence)?)
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    eprintln!("error: {why}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Cmd::Health => {
            let body = switchboard::http::probe(&config.http.listen).await?;
            println!("{body}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(config: Config) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    // Held until the process ends (SQLite only).
    let _serving = switchboard::store::lock_for_serving(&config.database.url.0)?;
    let app = App::open(&config, Use::Serve).await?;
    let (bot, store, sources) = (app.bot.clone(), app.store.clone(), app.sources.clone());
    tracing::info!(
        entities = bot.snapshot().len(),
        took = ?started.elapsed(),
        "catalog loaded; answering"
    );
    bot.mark_ready();
    let mut slack_routes = None;
    if config.slack.enabled {
        let socket = config.slack.mode == SlackMode::Socket;
        let settings = SlackSettings::from_env(
            &config.slack.api_url,
            socket,
            config.slack.channel_interval_ms,
            config.slack.answer_lease_secs,
        )?;
        let app = SlackApp::new(bot.clone(), store.clone(), &settings)?;
        if let Some(desk) = bot.desk() {
            desk.add_outbox(Platform::Slack, Arc::new(app.clone()));
        }
        {
            let app = app.clone();
            tokio::spawn(async move { app.run_recovery().await });
        }
        if socket {
            let connections = config.slack.socket_connections;
            tokio::spawn(async move {
                if let Err(e) = app.run_socket_mode(&settings.app_token, connections).await {
                    tracing::error!("Slack Socket Mode stopped: {e:#}");
                }
            });
        } else {
            if config.http.listen.is_empty() {
                anyhow::bail!(
                    "slack.mode = \"events\" needs http.listen: Slack's Events API calls the bot over HTTP"
                );
            }
            slack_routes = Some(app.routes());
        }
    }
    let mut routes = slack_routes;
    if config.discord.enabled {
        let settings = DiscordSettings::from_env(&config.discord)?;
        let gateway = config.discord.mode == DiscordMode::Gateway;
        if !gateway && config.http.listen.is_empty() {
            anyhow::bail!(
                "discord.mode = \"http\" needs http.listen: Discord calls the interactions endpoint over HTTP"
            );
        }
        let app = DiscordApp::new(bot.clone(), &settings)?;
        // Registered in the background: Discord being slow or down must not stop the start.
        {
            let (app, guilds) = (app.clone(), config.discord.guilds.clone());
            tokio::spawn(async move {
                match app.register(&guilds).await {
                    Ok(n) => tracing::info!(registrations = n, "/sb registered on Discord"),
                    Err(e) => tracing::warn!("registering /sb on Discord failed: {e:#}"),
                }
            });
        }
        if let Some(desk) = bot.desk() {
            desk.add_outbox(Platform::Discord, Arc::new(app.clone()));
        }
        {
            let app = app.clone();
            tokio::spawn(async move { app.forget_old_events().await });
        }
        if gateway {
            let content = config.discord.message_content;
            tokio::spawn(async move {
                // serenity reconnects and resumes by itself; this is for what ends it (Discord
                // unreachable at the start, a token refused), tried again with a growing pause.
                let mut pause = std::time::Duration::from_secs(5);
                loop {
                    if let Err(e) = app.run_gateway(&settings, content).await {
                        tracing::error!("Discord's gateway connection ended: {e:#}");
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(300));
                }
            });
        } else {
            let r = app.routes();
            routes = Some(match routes {
                Some(other) => other.merge(r),
                None => r,
            });
        }
    }
    if let Some(github) = &sources.github {
        match std::env::var("GITHUB_WEBHOOK_SECRET") {
            Ok(secret) if !secret.is_empty() => {
                let hooks = Arc::new(switchboard::http::github::Webhooks::new(
                    github.clone(),
                    bot.clone(),
                    store.clone(),
                    secret.into_bytes(),
                ));
                let r = hooks.routes();
                routes = Some(match routes {
                    Some(other) => other.merge(r),
                    None => r,
                });
            }
            _ => tracing::warn!(
                "GITHUB_WEBHOOK_SECRET is not set: /github/webhook is off and GitHub is only \
                 read by scans (catalog.github.interval_secs)"
            ),
        }
    }
    let platforms = config.slack.enabled || config.discord.enabled;
    if !config.http.listen.is_empty() {
        let listener = tokio::net::TcpListener::bind(&config.http.listen)
            .await
            .with_context(|| format!("cannot listen on {} (http.listen)", config.http.listen))?;
        // The address bound, which says the port when `http.listen` asked for any (`:0`).
        let addr = listener
            .local_addr()
            .context("reading the address listened on")?;
        tracing::info!(listen = %addr, "HTTP server up");
        tokio::spawn(switchboard::http::serve(
            listener,
            switchboard::http::router(bot.clone(), routes),
        ));
    }
    let turn = background::spawn(&app, &config);
    let console = !platforms && config.chat.console && std::io::stdin().is_terminal();
    if console {
        if let Some(desk) = bot.desk() {
            desk.add_outbox(
                Platform::Console,
                Arc::new(console::ConsoleOutbox::new(std::io::stdout())),
            );
        }
        let b = bot.clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let stdin = std::io::stdin().lock();
            console::run(&runtime, &b, None, stdin, std::io::stdout(), true)
        })
        .await??;
    } else {
        if !platforms {
            tracing::info!(
                "no chat platform configured and no terminal attached; serving HTTP only"
            );
        }
        stopped().await?;
    }
    // Another replica takes the scheduled work at once, not after the lease runs out.
    turn.release().await;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Until the process is asked to stop: Ctrl-C, or SIGTERM (what a container is stopped with).
async fn stopped() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("listening for Ctrl-C")?,
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
    }
    Ok(())
}

/// One thing `check` found.
struct Finding {
    file: String,
    line: u32,
    error: bool,
    message: String,
}

/// Prints every problem in the chosen format; exit 1 when anything would be quarantined or lost.
/// A file named on its own must hold catalog entities; a directory scan skips other YAML.
fn check(paths: &[String], format: CheckFormat, config: &Config) -> ExitCode {
    let outcome = sync::scan_local(paths, config);
    // Files named on their own, as the scan spells their locations.
    let named: Vec<String> = paths
        .iter()
        .filter(|p| std::path::Path::new(p).is_file())
        .map(|p| local::display(std::path::Path::new(p)))
        .collect();
    let mut findings = Vec::new();
    for (file, issues) in &outcome.issues {
        let named = named.contains(file);
        for i in issues {
            let message = match (i.fatal, named) {
                (true, _) => i.message.clone(),
                (false, true) => format!(
                    "{}; a file named to check must hold catalog entities",
                    i.message
                ),
                (false, false) => format!("warning: {}; skipped", i.message),
            };
            findings.push(Finding {
                file: file.clone(),
                line: i.line,
                error: i.fatal || named,
                message,
            });
        }
    }
    for p in outcome
        .problems
        .iter()
        .filter(|p| p.line == 0 && !outcome.issues.iter().any(|(f, _)| *f == p.location))
    {
        findings.push(Finding {
            file: p.location.clone(),
            line: 0,
            error: true,
            message: p.message.clone(),
        });
    }
    let n = outcome.entities.len();
    let quarantined = outcome
        .entities
        .iter()
        .filter(|e| e.is_quarantined())
        .count();
    let snap = Snapshot::build(outcome.entities, Vec::new(), Utc::now().timestamp());
    for c in &snap.conflicts {
        findings.push(Finding {
            file: c.ignored.location.clone(),
            line: c.ignored.line,
            error: false,
            message: format!(
                "warning: {} is already defined at {}:{}; this definition is ignored",
                c.key, c.kept.location, c.kept.line
            ),
        });
    }
    for (_, e) in snap.entities() {
        for (kind, target) in e.dangling.iter() {
            findings.push(Finding {
                file: e.origin.location.to_string(),
                line: e.origin.line,
                error: false,
                message: format!(
                    "warning: {} {} {target}, which is not in these files",
                    e.key(),
                    kind.as_str()
                ),
            });
        }
    }
    let errors = findings.iter().filter(|f| f.error).count();
    let summary = format!(
        "checked {} files: {n} entities, {quarantined} would be quarantined, {errors} errors",
        outcome.files_read
    );
    let counts = serde_json::json!({
        "files": outcome.files_read,
        "entities": n,
        "quarantined": quarantined,
    });
    report("switchboard check", format, &findings, &summary, counts)
}

/// Checks workflow definitions as start-up loads them: every problem with its file and line;
/// exit 1 when any workflow would be left out.
fn check_workflows(paths: &[String], format: CheckFormat) -> ExitCode {
    let files = switchboard::workflows::files(paths);
    let (workflows, problems) = switchboard::workflows::load(paths);
    let findings = errors(problems);
    let summary = format!(
        "checked {} files: {} workflows load, {} problems",
        files.len(),
        workflows.len(),
        findings.len()
    );
    let counts = serde_json::json!({
        "files": files.len(),
        "workflows": workflows.iter().map(|w| &w.name).collect::<Vec<_>>(),
    });
    report(
        "switchboard check-workflows",
        format,
        &findings,
        &summary,
        counts,
    )
}

/// Problems that leave a definition out, as findings: each an error.
fn errors(problems: Vec<(String, switchboard::workflows::Finding)>) -> Vec<Finding> {
    problems
        .into_iter()
        .map(|(file, f)| Finding {
            file,
            line: f.line,
            error: true,
            message: f.message,
        })
        .collect()
}

/// Checks scorecards as start-up loads them: every problem with its file and line; exit 1
/// when any scorecard would be left out.
fn check_scorecards(path: &str, format: CheckFormat) -> ExitCode {
    let (cards, problems) = switchboard::scorecards::load(&[path.to_string()]);
    let findings = errors(problems);
    let summary = format!(
        "checked {path}: {} scorecards load, {} problems",
        cards.len(),
        findings.len()
    );
    let counts = serde_json::json!({
        "scorecards": cards.iter().map(|c| serde_json::json!({
            "name": c.name,
            "checks": c.checks.iter().map(|k| &k.name).collect::<Vec<_>>(),
            "levels": c.levels.iter().map(|l| &l.name).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    report(
        "switchboard check-scorecards",
        format,
        &findings,
        &summary,
        counts,
    )
}

/// Prints findings as `file:line: message`, GitHub workflow commands, or one JSON document
/// (`counts` plus `errors` and `findings`); exit 1 on any error.
fn report(
    title: &str,
    format: CheckFormat,
    findings: &[Finding],
    summary: &str,
    counts: serde_json::Value,
) -> ExitCode {
    let errors = findings.iter().filter(|f| f.error).count();
    match format {
        CheckFormat::Text => {
            for f in findings {
                println!("{}:{}: {}", f.file, f.line, f.message);
            }
            eprintln!("{summary}");
        }
        CheckFormat::Github => {
            // Workflow commands: https://docs.github.com/actions/reference/workflow-commands
            let data = |s: &str| {
                s.replace('%', "%25")
                    .replace('\r', "%0D")
                    .replace('\n', "%0A")
            };
            let prop = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
            for f in findings {
                let level = if f.error { "error" } else { "warning" };
                let message = f.message.strip_prefix("warning: ").unwrap_or(&f.message);
                println!(
                    "::{level} file={},line={},title={title}::{}",
                    prop(&f.file),
                    f.line.max(1),
                    data(message)
                );
            }
            eprintln!("{summary}");
        }
        CheckFormat::Json => {
            let mut doc = counts;
            doc["errors"] = errors.into();
            doc["findings"] = findings
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "file": f.file,
                        "line": f.line,
                        "severity": if f.error { "error" } else { "warning" },
                        "message": f.message.strip_prefix("warning: ").unwrap_or(&f.message),
                    })
                })
                .collect();
            println!("{doc:#}");
        }
    }
    if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `audit verify` and `audit export`, reading the log page by page.
async fn audit(store: &Store, action: AuditCmd) -> Result<ExitCode> {
    const PAGE: i64 = 10_000;
    match action {
        AuditCmd::Verify { head } => {
            let recorded = head
                .as_deref()
                .map(str::parse::<switchboard::audit::Head>)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--head: {e}"))?;
            match store.verify_audit(recorded).await? {
                Ok(head) => {
                    // The head the database keeps beside the log: entries cut off without it
                    // being rewritten too show here, even without --head.
                    let kept = store.audit_head().await?;
                    if kept != head {
                        eprintln!(
                            "audit log broken: the log ends at {head}, but the head kept with it is {kept}: entries were cut off or the head was changed"
                        );
                        return Ok(ExitCode::FAILURE);
                    }
                    println!("{head}");
                    eprintln!("audit log intact: {} entries; head {head}", head.count);
                    Ok(ExitCode::SUCCESS)
                }
                Err(broken) => {
                    eprintln!("audit log broken: {broken}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        AuditCmd::Export { since } => {
            let since = match since.as_deref() {
                None => i64::MIN,
                Some(s) => s.parse::<i64>().or_else(|_| {
                    chrono::DateTime::parse_from_rfc3339(s)
                        .map(|t| t.timestamp())
                        .map_err(|e| anyhow::anyhow!("--since `{s}`: {e}"))
                })?,
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut after = 0;
            loop {
                let page = store.audit_entries(after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for e in page.iter().filter(|e| e.event.at >= since) {
                    writeln!(out, "{}", serde_json::to_string(e)?)?;
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `switchboard digest --dry-run`: the digests of the schedule's latest period, printed.
async fn digest(
    app: &App,
    config: &Config,
    team: Option<&str>,
    format: Format,
) -> Result<ExitCode> {
    let Some(desk) = app.bot.desk() else {
        anyhow::bail!("digests need the desk");
    };
    // What changed is what the catalog watch recorded: bring it up to date first.
    switchboard::scorecards::watch::Watch::default()
        .look(&app.store, &app.bot)
        .await?;
    let now = app.bot.now();
    let (period, _) = switchboard::desk::latest_period(&config.digests, now)
        .context("digests.schedule has no occurrence before now")?;
    let snap = app.bot.snapshot();
    let mut teams = switchboard::desk::teams(&snap);
    let platform = team == Some("platform");
    if let Some(name) = team.filter(|_| !platform) {
        let key = if name.contains(':') {
            name.to_ascii_lowercase()
        } else {
            format!("group:default/{}", name.to_ascii_lowercase())
        };
        teams.retain(|&t| snap.entity(t).key() == key);
        if teams.is_empty() {
            eprintln!("error: no team `{name}` owns anything in the catalog");
            return Ok(ExitCode::FAILURE);
        }
    }
    let mut made = Vec::new();
    let mut silent = Vec::new();
    if team.is_none() || platform {
        made.push(desk.platform_digest(&app.bot, &period).await?);
    }
    if !platform {
        for t in teams {
            match desk.digest(&app.bot, t, &period).await? {
                Some(r) => made.push(r),
                None => silent.push(snap.entity(t).key()),
            }
        }
    }
    match format {
        Format::Text => {
            println!("Digests of the period {period} (dry run: nothing is sent)\n");
            for r in &made {
                println!("{}", render::text_saving_pictures(r));
            }
            if !silent.is_empty() {
                println!("Nothing changed, so no digest, for: {}", silent.join(", "));
            }
        }
        Format::Json => {
            let digests: Vec<serde_json::Value> = made
                .iter()
                .map(|r| serde_json::from_str(&render::json(r)).expect("rendered JSON"))
                .collect();
            println!(
                "{}",
                serde_json::json!({"period": period, "digests": digests, "silent": silent})
            );
        }
        Format::Dot => anyhow::bail!("digests are not graphs: use --format text or json"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The most memory this process has held (Linux's high-water mark), where the system says.
fn peak_memory_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
