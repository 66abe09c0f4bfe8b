-- The durable copy of the catalog: one row per entity document a source delivered.
-- Times are epoch seconds (BIGINT), lists and documents JSON text, flags 0/1, so the same
-- queries run on SQLite and PostgreSQL.
CREATE TABLE entities (
    source      TEXT    NOT NULL,
    location    TEXT    NOT NULL,
    line        BIGINT  NOT NULL,
    entity_key  TEXT    NOT NULL,
    commit_sha  TEXT,
    fetched_at  BIGINT  NOT NULL,
    quarantined BIGINT  NOT NULL,
    reasons     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    seq         BIGINT  NOT NULL,
    PRIMARY KEY (source, location, line)
);
CREATE INDEX entities_by_key ON entities (entity_key);

-- Documents and files that could not become entities, from the last sync of each source.
CREATE TABLE sync_problems (
    source   TEXT   NOT NULL,
    location TEXT   NOT NULL,
    line     BIGINT NOT NULL,
    message  TEXT   NOT NULL,
    seq      BIGINT NOT NULL
);
CREATE INDEX sync_problems_by_source ON sync_problems (source);

-- One row per completed sync.
CREATE TABLE sync_runs (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT   NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    files       BIGINT NOT NULL,
    entities    BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    problems    BIGINT NOT NULL
);
