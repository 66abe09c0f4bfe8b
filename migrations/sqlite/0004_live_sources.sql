-- Ownership claims of other sources (CODEOWNERS, PagerDuty), as JSON, and when a complete scan
-- of the entity's source stopped seeing it (orphaned, kept until the grace period ends).
ALTER TABLE entities ADD COLUMN claims TEXT NOT NULL DEFAULT '[]';
ALTER TABLE entities ADD COLUMN orphaned_at BIGINT;
-- The part of a source a row belongs to (a GitHub repository, `owner/repo/`; '' for sources
-- replaced whole), so one repository is replaced without reading the others' rows.
ALTER TABLE entities ADD COLUMN scope TEXT NOT NULL DEFAULT '';
CREATE INDEX entities_by_scope ON entities (source, scope, location);
-- Each source numbers its rows from its own range: its highest number is one index lookup.
CREATE INDEX entities_by_source_seq ON entities (source, seq);

-- What the last GitHub scan saw of each repository, so an unchanged one is not read again.
CREATE TABLE github_repos (
    full_name      TEXT   NOT NULL PRIMARY KEY,
    repo_id        BIGINT NOT NULL,
    pushed_at      TEXT   NOT NULL,
    default_branch TEXT   NOT NULL,
    head_commit    TEXT,
    read_at        BIGINT NOT NULL
);
-- A webhook finds a renamed or transferred repository by its id.
CREATE INDEX github_repos_by_id ON github_repos (repo_id);

-- Conditional requests: the ETag and body of the last 200 for a URL, so a 304 costs nothing.
CREATE TABLE http_cache (
    url       TEXT   NOT NULL PRIMARY KEY,
    etag      TEXT   NOT NULL,
    body      TEXT   NOT NULL,
    stored_at BIGINT NOT NULL
);

-- The last event (webhook) each source delivered, for `sync status`.
CREATE TABLE source_events (
    source      TEXT   NOT NULL PRIMARY KEY,
    received_at BIGINT NOT NULL,
    summary     TEXT   NOT NULL
);
