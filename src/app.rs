//! The composition root: the store, the sources and the bot built from the configuration, as
//! `switchboard` runs them and as tests start them. `main.rs` is only the command line;
//! scheduled work is in `background`.

use std::sync::Arc;

use anyhow::Result;

use crate::bot::Bot;
use crate::clock::Clock;
use crate::config::Config;
use crate::desk::Desk;
use crate::failpoints::Failpoints;
use crate::sources::rotations;
use crate::store::Store;
use crate::sync;

/// The GitHub client the golden paths use: the source's when GitHub is read (one rate budget),
/// else one of its own when credentials are set; None leaves the GitHub steps refused.
fn github_api(
    config: &Config,
    sources: &sync::Sources,
    store: &Store,
) -> Option<Arc<crate::github::Api>> {
    if let Some(g) = &sources.github {
        return Some(g.api());
    }
    let auth = crate::github::Auth::from_env(&config.catalog.github).ok()?;
    match crate::github::Api::new(&config.catalog.github, &auth, store.clone()) {
        Ok(api) => Some(Arc::new(api)),
        Err(e) => {
            tracing::warn!("the GitHub steps of workflows cannot run: {e:#}");
            None
        }
    }
}

/// What the bot is opened for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// `serve`: every configured source must be reachable.
    Serve,
    /// `ask` and `shell`: answers come from the store; sources are only needed to fill an
    /// empty one.
    Ask,
}

/// What a running Switchboard is made of.
pub struct App {
    pub bot: Arc<Bot>,
    pub store: Store,
    pub sources: sync::Sources,
    /// True when opening synced the sources (the store was empty).
    pub synced: bool,
}

impl App {
    /// Opens the store and builds the bot from it; the first run (an empty store) syncs first.
    pub async fn open(config: &Config, usage: Use) -> Result<App> {
        App::open_at(config, usage, Clock::system()).await
    }

    /// As `open`, on `clock` (tests set the time and move it on).
    pub async fn open_at(config: &Config, usage: Use, clock: Clock) -> Result<App> {
        let store = Store::connect(&config.database.url.0, config.database.max_connections).await?;
        let rotations = rotations::load(&config.oncall.rotations)?;
        let first_start = store.last_sync("local").await?.is_none();
        let sources = match sync::Sources::from_env(config, &store) {
            Ok(s) => s,
            // Asking from a filled store needs no credentials; say what is missing all the same.
            Err(e) if usage == Use::Ask && !first_start => {
                tracing::warn!("answering from the store only: {e:#}");
                sync::Sources::default()
            }
            Err(e) => return Err(e),
        };
        // Read before the catalog: a change recorded meanwhile is caught up with, not missed.
        let (_, generation) = store.feed_bounds().await?;
        let snapshot = if first_start {
            let all = sync::sync_all(config, &store, &sources, |_, _, _| {}).await?;
            for l in all.lines {
                tracing::info!("first start: {l}");
            }
            all.snapshot
        } else {
            sync::load_snapshot(&store).await?
        };
        let executors = crate::executors::all(
            crate::executors::register::Register {
                store: store.clone(),
                reader: config.catalog.reader(),
            },
            crate::executors::http::Http::new(std::time::Duration::from_secs(30))?,
            crate::executors::github::GitHubSteps::new(github_api(config, &sources, &store)),
        );
        let desk = Desk::new(
            store.clone(),
            config.roles.clone(),
            executors,
            Failpoints::from_env()?,
        )
        .with_audit_channel(Some(config.audit.channel.clone()))
        .with_dm_limit(config.approval.dm_limit)
        .with_notify_prefer(config.notify.prefer.platform())
        .with_nudges(config.nudges.clone())
        .with_digests(config.digests.clone())
        .with_paging(config.incident.clone())
        .with_lease(std::time::Duration::from_secs(
            config.workflows.lease_secs.max(1),
        ));
        desk.load_workflows(Some(config.workflows.paths.clone()));
        let bot = Arc::new(
            Bot::new(snapshot, rotations, config.catalog.limit())
                .with_store(store.clone())
                .with_clock(clock)
                .with_follow_ups(chrono::Duration::minutes(
                    config.chat.follow_up_minutes.min(60 * 24 * 365) as i64,
                ))
                .with_changes_kept(chrono::Duration::days(
                    config.changes.retention_days.clamp(1, 3650) as i64,
                ))
                .with_desk(Arc::new(desk)),
        );
        let scorecards = crate::scorecards::load_configured(&config.scorecards.path);
        if let Some(desk) = bot.desk() {
            let (made, problems) =
                crate::scorecards::exemptions::workflows(&scorecards, config.nudges.exemption_days);
            for p in problems {
                tracing::error!("{p}");
            }
            desk.set_made_workflows(made);
        }
        bot.set_generation(generation);
        bot.set_scorecards(scorecards);
        bot.reload_exemptions(&store).await?;
        bot.reload_changes(&store).await?;
        bot.reload_packages(&store).await?;
        bot.set_sources(sync::source_statuses(config, &store, &[]).await?);
        if let Some(pd) = &sources.pagerduty {
            // Kept for the other replicas once this one runs the scheduled work.
            crate::background::refresh_rosters(&bot, &store, pd, false).await;
        }
        Ok(App {
            bot,
            store,
            sources,
            synced: first_start,
        })
    }
}
