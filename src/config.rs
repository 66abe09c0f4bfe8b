//! Typed configuration: `config/switchboard.toml` (or `--config PATH`), then environment
//! variables `SWITCHBOARD__SECTION__KEY` over it. Every key has a default, stated in the file;
//! unknown keys and bad values are errors naming the file (or variable), the key and what was
//! expected. Secrets come only from the environment and never print.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::catalog::graph::Limit;
use crate::catalog::ingest::Reader;
use crate::catalog::parse::ParseLimits;
use crate::catalog::validate;

/// Where the configuration is read from when `--config` is not given.
pub const DEFAULT_PATH: &str = "config/switchboard.toml";
const ENV_PREFIX: &str = "SWITCHBOARD__";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database: Database,
    pub catalog: Catalog,
    pub oncall: OnCall,
    pub log: Log,
    pub chat: Chat,
    pub http: Http,
    pub slack: Slack,
    pub discord: Discord,
    pub pagerduty: PagerDutyConfig,
    pub workflows: Workflows,
    pub scorecards: Scorecards,
    pub roles: Roles,
    pub audit: Audit,
    pub approval: ApprovalConfig,
    pub notify: NotifyConfig,
    pub nudges: Nudges,
    pub digests: Digests,
    pub changes: ChangesConfig,
    pub incident: Incident,
}

/// Recent changes (deploys, merged pull requests, workflow runs) kept for `changes X`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChangesConfig {
    /// How long changes are kept.
    pub retention_days: u32,
}

impl Default for ChangesConfig {
    fn default() -> Self {
        ChangesConfig { retention_days: 30 }
    }
}

/// The incident card and its "Page on-call" button.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Incident {
    /// A second page for the same entity within this time answers who paged instead of
    /// paging again (`10m`, `1h`).
    pub page_dedup: Span,
    /// PagerDuty's web address (`https://acme.pagerduty.com`): a repeated page links to the
    /// entity's PagerDuty service there. "" links nowhere.
    pub pagerduty_web_url: String,
}

impl Default for Incident {
    fn default() -> Self {
        Incident {
            page_dedup: Span(std::time::Duration::from_secs(600)),
            pagerduty_web_url: String::new(),
        }
    }
}

/// A length of time as written in configuration: `90s`, `10m`, `2h`, `1d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Span(pub std::time::Duration);

impl TryFrom<String> for Span {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        crate::workflows::definition::parse_duration(&text).map(Span)
    }
}

/// Nudges: an entity that becomes quarantined, loses its owner or drops a level is told to
/// its owning team once, while the problem lasts.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Nudges {
    pub enabled: bool,
    /// The most nudges a team gets in one of its days; the rest wait for the next day.
    pub per_team_per_day: u32,
    /// When nudges wait, in the team's time zone (`20:00-08:00`); "" turns them off.
    pub quiet_hours: QuietHours,
    /// The time zone of a team whose Group has no `switchboard.dev/timezone` annotation.
    pub timezone: Zone,
    /// How long "Snooze" holds a team's nudges about an entity.
    pub snooze_days: u32,
    /// How long an exemption granted from a nudge lasts.
    pub exemption_days: u32,
}

impl Default for Nudges {
    fn default() -> Self {
        Nudges {
            enabled: true,
            per_team_per_day: 3,
            quiet_hours: QuietHours::try_from("20:00-08:00".to_string()).expect("valid"),
            timezone: Zone(chrono_tz::UTC),
            snooze_days: 7,
            exemption_days: 30,
        }
    }
}

/// Weekly digests to each team, and one to the platform team.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Digests {
    pub enabled: bool,
    /// When digests go out: five-field cron syntax (minute hour day-of-month month
    /// day-of-week) read in `timezone`.
    pub schedule: Schedule,
    pub timezone: Zone,
    /// A channel id for the platform digest (the catalog's gaps); "" sends none.
    pub platform_channel: String,
}

impl Default for Digests {
    fn default() -> Self {
        Digests {
            enabled: true,
            schedule: Schedule::try_from("0 9 * * MON".to_string()).expect("valid"),
            timezone: Zone(chrono_tz::UTC),
            platform_channel: String::new(),
        }
    }
}

/// A time zone by its IANA name (`Europe/Berlin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Zone(pub chrono_tz::Tz);

impl TryFrom<String> for Zone {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        name.parse().map(Zone).map_err(|_| {
            format!("`{name}` is not a time zone (an IANA name such as Europe/Berlin)")
        })
    }
}

/// A daily span of quiet, `HH:MM-HH:MM`, which may run past midnight; None: never quiet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct QuietHours(pub Option<(chrono::NaiveTime, chrono::NaiveTime)>);

impl TryFrom<String> for QuietHours {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(QuietHours(None));
        }
        let bad = || format!("`{text}` is not a span of hours such as 20:00-08:00");
        let (from, to) = text.split_once('-').ok_or_else(bad)?;
        let time =
            |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
        Ok(QuietHours(Some((time(from)?, time(to)?))))
    }
}

impl QuietHours {
    /// Whether `t` falls in the quiet span.
    pub fn contains(&self, t: chrono::NaiveTime) -> bool {
        match self.0 {
            None => false,
            Some((from, to)) if from <= to => from <= t && t < to,
            Some((from, to)) => t >= from || t < to,
        }
    }

    /// When the quiet span that holds `t` ends (None when `t` is not quiet).
    pub fn end(&self) -> Option<chrono::NaiveTime> {
        self.0.map(|(_, to)| to)
    }
}

/// A five-field cron schedule (`0 9 * * MON`), as written and parsed.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "String")]
pub struct Schedule {
    pub text: String,
    pub cron: croner::Cron,
}

impl TryFrom<String> for Schedule {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .build()
            .parse(&text)
            .map_err(|e| format!("`{text}` is not a five-field cron schedule: {e}"))?;
        Ok(Schedule { text, cron })
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalConfig {
    /// When more people than this could approve a run, its card goes to the approving team's
    /// channel (the Group's `slack.com/channel-id`) rather than to each of them by DM.
    pub dm_limit: usize,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        ApprovalConfig { dm_limit: 5 }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Where a card goes to someone reachable on several chat platforms: `last-active` (the
    /// platform they last asked Switchboard something on), `slack` or `discord` (that one
    /// whenever it reaches them).
    pub prefer: NotifyPrefer,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyPrefer {
    #[default]
    LastActive,
    Slack,
    Discord,
}

impl NotifyPrefer {
    /// The platform always preferred; None: where they were last active.
    pub fn platform(self) -> Option<crate::conversation::Platform> {
        match self {
            NotifyPrefer::LastActive => None,
            NotifyPrefer::Slack => Some(crate::conversation::Platform::Slack),
            NotifyPrefer::Discord => Some(crate::conversation::Platform::Discord),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Audit {
    /// A Slack channel id where every run's progress is posted with the audit log's head
    /// (`COUNT:HASH`), so the head is also kept outside the database; empty turns it off.
    pub channel: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workflows {
    /// Workflow definitions, one per YAML file: files, directories (their `*.yaml`, not below)
    /// and globs.
    pub paths: Vec<String>,
    /// How long a replica's claim on a run lasts without a step recorded: a run whose replica
    /// died is taken over by another after this.
    pub lease_secs: u64,
}

impl Default for Workflows {
    fn default() -> Self {
        Workflows {
            paths: vec!["commands/*.yaml".into()],
            lease_secs: 300,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scorecards {
    /// The scorecards (one per YAML document); a file that does not exist means none.
    pub path: String,
}

impl Default for Scorecards {
    fn default() -> Self {
        Scorecards {
            path: "config/scorecards.yaml".into(),
        }
    }
}

/// Who holds the roles beyond developer (any person the catalog knows): lists of `group:…`
/// (its members and the members of its subgroups) and `user:…`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Roles {
    pub tech_leads: Vec<String>,
    pub platform: Vec<String>,
    pub admins: Vec<String>,
    pub auditors: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Database {
    /// `sqlite://PATH` or `postgres://…`. A password may only come from the environment.
    pub url: DatabaseUrl,
    pub max_connections: u32,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            url: DatabaseUrl("sqlite://data/switchboard.db".into()),
            max_connections: 5,
        }
    }
}

/// A database URL; its `Debug` hides any password.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", crate::store::redact(&self.0))
    }
}

impl DatabaseUrl {
    fn has_password(&self) -> bool {
        crate::store::redact(&self.0) != self.0
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Catalog {
    pub local: LocalCatalog,
    pub backstage: BackstageCatalog,
    pub github: GithubCatalog,
    pub terraform: TerraformCatalog,
    pub max_file_bytes: usize,
    pub max_yaml_depth: usize,
    pub max_yaml_aliases: usize,
    /// Default `--depth` of dependency and dependents answers; 0 follows every hop.
    pub default_depth: u32,
    /// The most entities a blast radius lists before it stops (and says how many lie beyond);
    /// 0 lists them all.
    pub max_blast_radius: usize,
    pub kinds: Kinds,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Kinds {
    /// Kinds that files may hold beyond Backstage's built-in ones, as spelled in the files
    /// (case-sensitive), for which the Backstage beside Switchboard has a processor.
    pub extra: Vec<String>,
}

impl Default for Kinds {
    fn default() -> Self {
        Kinds {
            extra: validate::default_extra_kinds(),
        }
    }
}

impl Default for Catalog {
    fn default() -> Self {
        let l = ParseLimits::default();
        Catalog {
            local: LocalCatalog::default(),
            backstage: BackstageCatalog::default(),
            github: GithubCatalog::default(),
            terraform: TerraformCatalog::default(),
            max_file_bytes: l.max_file_bytes,
            max_yaml_depth: l.max_depth,
            max_yaml_aliases: l.max_aliases,
            default_depth: 0,
            max_blast_radius: Limit::DEFAULT_MAX,
            kinds: Kinds::default(),
        }
    }
}

impl Catalog {
    /// How far `deps` and `dependents` list without a `--depth`.
    pub fn limit(&self) -> Limit {
        Limit::new(self.default_depth, self.max_blast_radius)
    }

    /// How catalog files are read and judged.
    pub fn reader(&self) -> Reader {
        Reader {
            limits: ParseLimits {
                max_file_bytes: self.max_file_bytes,
                max_depth: self.max_yaml_depth,
                max_aliases: self.max_yaml_aliases,
                ..ParseLimits::default()
            },
            extra_kinds: self.kinds.extra.clone(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalCatalog {
    /// Files, directories and globs, relative to the working directory.
    pub paths: Vec<String>,
    /// Seconds between re-reads of the local files while serving; 0 turns it off.
    pub interval_secs: u64,
    /// SBOM files (SPDX or CycloneDX JSON) looked for beside each catalog file, as globs
    /// relative to its directory; each belongs to the entities of that directory's files.
    pub sbom_globs: Vec<String>,
}

impl Default for LocalCatalog {
    fn default() -> Self {
        LocalCatalog {
            paths: vec![
                "config/catalog/all.yaml".into(),
                "config/catalog/acme-corp.yaml".into(),
            ],
            interval_secs: 300,
            sbom_globs: vec![
                "*.spdx.json".into(),
                "*.cdx.json".into(),
                "bom.json".into(),
                "sbom.json".into(),
            ],
        }
    }
}

/// Terraform state files as a source of Resource entities.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerraformCatalog {
    /// State files (format version 4 JSON): paths or globs; empty turns Terraform off.
    pub paths: Vec<String>,
    /// The team that owns each workspace's resources: workspace name to group reference.
    pub workspaces: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackstageCatalog {
    /// Base URL of an existing Backstage to read the catalog from; empty turns it off.
    /// Its token, if it needs one, comes from BACKSTAGE_TOKEN.
    pub url: String,
    /// Entities per page.
    pub page_size: usize,
}

impl Default for BackstageCatalog {
    fn default() -> Self {
        BackstageCatalog {
            url: String::new(),
            page_size: 500,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubCatalog {
    /// Organisations (or users) whose repositories are scanned; empty turns GitHub off.
    /// Credentials come from the environment: GITHUB_TOKEN, or a GitHub App's private key in
    /// GITHUB_APP_PRIVATE_KEY with `app_id` and `installation_id` below. Webhooks are checked
    /// with GITHUB_WEBHOOK_SECRET.
    pub orgs: Vec<String>,
    /// Base URL of the REST API (GitHub Enterprise: `https://HOST/api/v3`).
    pub api_url: String,
    /// Catalog files looked for in each repository; Location targets in them are followed.
    pub paths: Vec<String>,
    /// Read archived repositories too.
    pub include_archived: bool,
    /// Seconds between full scans while serving (webhooks keep it fresh in between); 0: only
    /// at start-up and on `switchboard sync`.
    pub interval_secs: u64,
    /// Seconds an entity that a complete scan no longer sees stays, labelled orphaned.
    pub orphan_grace_secs: u64,
    /// Retries of a request refused for rate (429, secondary limits) or failed (5xx, timeout).
    pub max_retries: u32,
    /// Longest wait for a rate limit to reset before the scan gives up (and keeps everything).
    pub max_wait_secs: u64,
    /// Requests left in the hour below which the scan waits for the reset.
    pub reserve: u64,
    /// Seconds before a request is abandoned.
    pub timeout_secs: u64,
    /// GitHub App id and installation id (with GITHUB_APP_PRIVATE_KEY); 0: use GITHUB_TOKEN.
    pub app_id: u64,
    pub installation_id: u64,
}

impl Default for GithubCatalog {
    fn default() -> Self {
        GithubCatalog {
            orgs: Vec::new(),
            api_url: "https://api.github.com".into(),
            paths: vec![
                "catalog-info.yaml".into(),
                ".backstage/catalog-info.yaml".into(),
            ],
            include_archived: false,
            interval_secs: 3600,
            orphan_grace_secs: 7 * 24 * 3600,
            max_retries: 3,
            max_wait_secs: 900,
            reserve: 100,
            timeout_secs: 30,
            app_id: 0,
            installation_id: 0,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// Ask PagerDuty who is on call for entities annotated with a PagerDuty service, escalation
    /// policy or schedule. The API token comes from PAGERDUTY_TOKEN.
    pub enabled: bool,
    /// Base URL of PagerDuty's REST API.
    pub api_url: String,
    /// Seconds a roster is used before it is fetched again.
    pub ttl_secs: u64,
    /// Hours ahead fetched, so `oncall X at TIME` is answered from the cache.
    pub window_hours: u64,
    /// Seconds before a request is abandoned (the last roster is then used, labelled).
    pub timeout_secs: u64,
}

impl Default for PagerDutyConfig {
    fn default() -> Self {
        PagerDutyConfig {
            enabled: false,
            api_url: "https://api.pagerduty.com".into(),
            ttl_secs: 60,
            window_hours: 168,
            timeout_secs: 10,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnCall {
    /// Static rotations file; a missing file means no rotations.
    pub rotations: PathBuf,
}

impl Default for OnCall {
    fn default() -> Self {
        OnCall {
            rotations: PathBuf::from("config/oncall.yaml"),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// A tracing filter: `info`, `switchboard=debug,sqlx=warn`, …
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Chat {
    /// Attach the console to `serve` when no chat platform is configured and stdin is a terminal.
    pub console: bool,
    /// How long a conversation (a thread, a DM, a console session) remembers what its last
    /// answer was about, for follow-ups that name no entity ("and who is on call?").
    pub follow_up_minutes: u64,
}

impl Default for Chat {
    fn default() -> Self {
        Chat {
            console: true,
            follow_up_minutes: 120,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Http {
    /// Address of the health endpoint (`GET /healthz`); empty turns it off.
    pub listen: String,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: "127.0.0.1:8080".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Slack {
    /// Answer in Slack. The tokens come from the environment only: SLACK_BOT_TOKEN, plus
    /// SLACK_APP_TOKEN for Socket Mode or SLACK_SIGNING_SECRET for the Events API.
    pub enabled: bool,
    /// How Slack reaches the bot: `socket` (Socket Mode, no public URL) or `events` (the Events
    /// API over HTTP on `http.listen`, for deployments behind a load balancer).
    pub mode: SlackMode,
    /// Socket Mode connections to keep open (Slack allows up to 10).
    pub socket_connections: u32,
    /// Base URL of Slack's Web API.
    pub api_url: String,
    /// Least time between two messages to one channel, in milliseconds.
    pub channel_interval_ms: u64,
    /// Seconds an event being answered is left to the process that took it; past that, an
    /// event still unanswered (the process died, or every post failed) is answered by any.
    pub answer_lease_secs: u64,
}

/// Discord. The token and key come from the environment only: DISCORD_TOKEN and
/// DISCORD_PUBLIC_KEY.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Discord {
    pub enabled: bool,
    /// How Discord reaches the bot: `gateway` (a connection the bot opens; no public URL
    /// needed) or `http`, the interactions endpoint (`POST /discord/interactions` on
    /// `http.listen`, checked with DISCORD_PUBLIC_KEY).
    pub mode: DiscordMode,
    /// Discord's base URL (its API is under `/api/v10`).
    pub api_url: String,
    /// The application's id (the developer portal's *Application ID*).
    pub application_id: u64,
    /// Guilds to register `/sb` in (at once); empty: globally (Discord may take an hour).
    pub guilds: Vec<u64>,
    /// Ask for the message-content intent (a privileged intent, to be enabled in the
    /// developer portal): without it Discord sends the text of messages that mention the bot
    /// and of direct messages only, which is all Switchboard reads.
    pub message_content: bool,
    /// Guild role id → the catalog Group its holders belong to, beside their User's
    /// `memberOf` (`{ "123456789012345678" = "group:default/team-a" }`).
    pub role_groups: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DiscordMode {
    Gateway,
    Http,
}

impl Default for Discord {
    fn default() -> Self {
        Discord {
            enabled: false,
            mode: DiscordMode::Gateway,
            api_url: "https://discord.com".into(),
            application_id: 0,
            guilds: Vec::new(),
            message_content: false,
            role_groups: Default::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    Socket,
    Events,
}

impl Default for Slack {
    fn default() -> Self {
        Slack {
            enabled: false,
            mode: SlackMode::Socket,
            socket_connections: 2,
            api_url: "https://slack.com/api".into(),
            channel_interval_ms: 1000,
            answer_lease_secs: 300,
        }
    }
}

impl Config {
    /// Reads the configuration. With `path` None the default file is used if it exists, else the
    /// built-in defaults; a path given explicitly must exist.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        Self::load_with_env(path, std::env::vars())
    }

    /// As `load`, with the environment passed in (tests).
    pub fn load_with_env(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config> {
        let (text, name) = match path {
            Some(p) => (
                std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read configuration file {}", p.display()))?,
                p.display().to_string(),
            ),
            None if Path::new(DEFAULT_PATH).exists() => (
                std::fs::read_to_string(DEFAULT_PATH)
                    .with_context(|| format!("cannot read configuration file {DEFAULT_PATH}"))?,
                DEFAULT_PATH.to_string(),
            ),
            None => (String::new(), "built-in defaults".to_string()),
        };
        // The file alone first, so its errors point at its own lines.
        let file_config: Config = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{name}: {}", e.to_string().trim()))?;
        if file_config.database.url.has_password() {
            bail!(
                "{name}: database.url contains a password; secrets come only from the environment \
                 (set SWITCHBOARD__DATABASE__URL)"
            );
        }
        let mut table: toml::Table = toml::from_str(&text)?;
        let mut overrides: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        if overrides.is_empty() {
            return Ok(file_config);
        }
        overrides.sort();
        for (var, value) in overrides {
            let path: Vec<String> = var[ENV_PREFIX.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            set_path(&mut table, &path, parse_env_value(&value))
                .with_context(|| format!("environment variable {var}"))?;
            Config::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
                anyhow::anyhow!("environment variable {var}: {}", e.to_string().trim())
            })?;
        }
        Ok(Config::deserialize(toml::Value::Table(table))?)
    }
}

/// An environment value is read as a TOML value when it is one (`5`, `true`, `["a", "b"]`),
/// else as a string.
fn parse_env_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<()> {
    match path {
        [] => bail!("names no key"),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => bail!("`{first}` is not a section"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.toml");
        std::fs::write(&path, text).unwrap();
        Config::load_with_env(
            Some(&path),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn the_shipped_file_states_the_defaults() {
        let shipped = Config::load_with_env(
            Some(Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/config/switchboard.toml"
            ))),
            [],
        )
        .unwrap();
        let defaults = Config::default();
        assert_eq!(format!("{shipped:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn quiet_hours_zones_and_schedules_are_read_or_refused_with_the_key() {
        let c = load(
            "[nudges]\nquiet_hours = \"22:00-07:30\"\ntimezone = \"Europe/Berlin\"\n[digests]\nschedule = \"30 8 * * FRI\"\n",
            &[],
        )
        .unwrap();
        let t = |s: &str| chrono::NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        assert!(c.nudges.quiet_hours.contains(t("23:00")));
        assert!(c.nudges.quiet_hours.contains(t("07:00")));
        assert!(!c.nudges.quiet_hours.contains(t("07:30")));
        assert!(!c.nudges.quiet_hours.contains(t("12:00")));
        assert_eq!(c.nudges.timezone.0, chrono_tz::Europe::Berlin);
        assert_eq!(c.digests.schedule.text, "30 8 * * FRI");
        assert!(
            !load("[nudges]\nquiet_hours = \"\"\n", &[])
                .unwrap()
                .nudges
                .quiet_hours
                .contains(t("23:00"))
        );
        for (text, says) in [
            ("[nudges]\nquiet_hours = \"late\"\n", "not a span of hours"),
            ("[nudges]\ntimezone = \"Mars/Olympus\"\n", "not a time zone"),
            (
                "[digests]\nschedule = \"every monday\"\n",
                "not a five-field cron",
            ),
            (
                "[digests]\nschedule = \"0 0 9 * * MON\"\n",
                "not a five-field cron",
            ),
        ] {
            let err = load(text, &[]).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn unknown_keys_name_the_file_and_key() {
        let err = load("[database]\nulr = \"x\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("switchboard.toml"), "{err}");
        assert!(err.contains("ulr"), "{err}");
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        let err = load("[database]\nmax_connections = \"many\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("max_connections") || err.contains("integer"),
            "{err}"
        );
    }

    #[test]
    fn environment_overrides_keys() {
        let c = load(
            "",
            &[
                ("SWITCHBOARD__DATABASE__MAX_CONNECTIONS", "9"),
                ("SWITCHBOARD__CATALOG__LOCAL__PATHS", "[\"a.yaml\", \"b\"]"),
                ("SWITCHBOARD__DATABASE__URL", "postgres://sb:s3cret@db/sb"),
            ],
        )
        .unwrap();
        assert_eq!(c.database.max_connections, 9);
        assert_eq!(c.catalog.local.paths, vec!["a.yaml", "b"]);
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn a_bad_environment_value_names_the_variable() {
        let err = load("", &[("SWITCHBOARD__DATABASE__NOPE", "1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SWITCHBOARD__DATABASE__NOPE"), "{err}");
    }

    #[test]
    fn passwords_in_the_file_are_refused() {
        let err = load("[database]\nurl = \"postgres://u:pw@h/db\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("only from the environment"), "{err}");
        assert!(!err.contains("pw@"), "{err}");
    }
}
