-- A push reads again the SBOMs of its repository's scope alone.
CREATE INDEX sboms_by_scope ON sboms (scope);

-- Scheduled work (syncs, scans, PagerDuty refreshes, digests, nudges, sweeps) runs on the one
-- replica holding its lease: it renews the lease while it lives, and another takes it once
-- `until` has passed. `fence` counts the holders: a write that must come from the holder
-- names the fence it was given.
CREATE TABLE leases (
    name   TEXT   PRIMARY KEY,
    holder TEXT   NOT NULL,
    until  BIGINT NOT NULL,
    fence  BIGINT NOT NULL
);

-- PagerDuty's rosters as the scheduling replica last fetched them, so that every replica
-- answers who is on call alike. One row per target (`service:PSVC1`): the roster (JSON) and
-- the last failure to refresh it since.
CREATE TABLE pagerduty_rosters (
    target   TEXT PRIMARY KEY,
    roster   TEXT,
    error_at BIGINT,
    error    TEXT
);
