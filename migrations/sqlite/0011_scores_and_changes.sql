-- What the catalog watch last saw of each entity: its owning team (a Group that resolves),
-- its source, whether it is quarantined, and its score and level on each scorecard (JSON). A new snapshot
-- is compared with this; what differs is written to the change log below.
CREATE TABLE watched_entities (
    entity      TEXT   PRIMARY KEY,
    owner       TEXT,
    source      TEXT   NOT NULL,
    quarantined BIGINT NOT NULL,
    scores      TEXT   NOT NULL,
    at          BIGINT NOT NULL
);

-- The scorecards (and, as '', the catalog itself) scored once already: the first scoring of
-- each is a silent baseline, logged and nudged about by nobody.
CREATE TABLE watch_baselines (
    scorecard TEXT   PRIMARY KEY,
    at        BIGINT NOT NULL
);

-- Each entity's score on each scorecard per ISO week ('2026-W49'): a row for every week in
-- which it was first scored or its score or level changed; a week without a row kept the
-- score of the row before.
CREATE TABLE entity_scores (
    scorecard TEXT   NOT NULL,
    entity    TEXT   NOT NULL,
    week      TEXT   NOT NULL,
    score     BIGINT NOT NULL,
    level     TEXT,
    at        BIGINT NOT NULL,
    PRIMARY KEY (scorecard, entity, week)
);

-- Each team's figures on each scorecard per ISO week, as last scored that week: the trend a
-- digest draws. levels is a JSON list of [level, entities].
CREATE TABLE team_scores (
    scorecard TEXT   NOT NULL,
    team      TEXT   NOT NULL,
    week      TEXT   NOT NULL,
    entities  BIGINT NOT NULL,
    score     BIGINT NOT NULL,
    levels    TEXT   NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (scorecard, team, week)
);

-- The catalog change log: an entity added or removed, its owner changed, quarantined or
-- released, its level on a scorecard changed; with when, the source, and the team it
-- concerns (the owner after the change, else before).
CREATE TABLE catalog_changes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        BIGINT NOT NULL,
    entity    TEXT   NOT NULL,
    team      TEXT,
    change    TEXT   NOT NULL,
    scorecard TEXT,
    before    TEXT,
    after     TEXT,
    source    TEXT   NOT NULL
);
CREATE INDEX catalog_changes_by_entity ON catalog_changes (entity, at);
CREATE INDEX catalog_changes_by_team ON catalog_changes (team, at);
CREATE INDEX catalog_changes_by_time ON catalog_changes (at);
