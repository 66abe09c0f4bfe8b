-- Nudges: a problem of an entity (quarantined, its owner lost, a level dropped) told to its
-- owning team once while it lasts. Sent when due (outside quiet hours, within the team's daily
-- number); cleared when the problem ends, so that a new one is told again. checks: the failing
-- checks of a dropped level (comma-separated), which an exemption asked from the nudge covers.
CREATE TABLE nudges (
    id         BIGSERIAL PRIMARY KEY,
    entity     TEXT   NOT NULL,
    problem    TEXT   NOT NULL,
    team       TEXT   NOT NULL,
    reason     TEXT   NOT NULL,
    fix        TEXT   NOT NULL,
    checks     TEXT   NOT NULL,
    workflow   TEXT,
    raised_at  BIGINT NOT NULL,
    sent_at    BIGINT,
    sent_to    TEXT,
    cleared_at BIGINT
);
CREATE UNIQUE INDEX nudges_open ON nudges (entity, problem) WHERE cleared_at IS NULL;
CREATE INDEX nudges_by_team ON nudges (team, sent_at);

-- A team's "not now" on an entity: its nudges wait until then.
CREATE TABLE nudge_snoozes (
    entity     TEXT   NOT NULL,
    team       TEXT   NOT NULL,
    until_at   BIGINT NOT NULL,
    by_person  TEXT   NOT NULL,
    PRIMARY KEY (entity, team)
);

-- Exemptions from a scorecard's check, granted through an approved run: the check counts as
-- passed for the entity until it expires.
CREATE TABLE exemptions (
    entity     TEXT   NOT NULL,
    scorecard  TEXT   NOT NULL,
    check_name TEXT   NOT NULL,
    reason     TEXT   NOT NULL,
    run_id     BIGINT NOT NULL,
    granted_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (entity, scorecard, check_name)
);

-- Digests: one row per team (or '' for the platform) and period, written before the digest is
-- sent, so that a restart or another replica never sends a second; a failed send is retried.
CREATE TABLE digests (
    team       TEXT   NOT NULL,
    period     TEXT   NOT NULL,
    state      TEXT   NOT NULL,
    summary    TEXT   NOT NULL,
    attempts   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at    BIGINT,
    sent_to    TEXT,
    PRIMARY KEY (team, period)
);
