//! How the sources stand, as `sync status` answers it: each source's last complete sync, a
//! failure since, and the last event it delivered. `sync` produces it; answers only read it.

/// Summary of one completed sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRun {
    pub source: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub files: i64,
    pub entities: i64,
    pub quarantined: i64,
    pub problems: i64,
}

/// How one source stands, for `sync status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceStatus {
    pub source: String,
    /// The last complete sync, if any.
    pub last_complete: Option<SyncRun>,
    /// The last failed attempt since then: when (epoch seconds) and why.
    pub last_error: Option<(i64, String)>,
    /// How often it is expected to sync, in seconds (0: only on demand).
    pub every_secs: u64,
    /// The last event (webhook) it delivered: when, and what it did.
    pub last_event: Option<(i64, String)>,
}
