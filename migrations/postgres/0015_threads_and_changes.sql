-- What a conversation (a thread, a DM, a console session) was last about: a question without
-- an entity there refers to it, until expires_at. Kept here so any replica answers the next
-- message the same.
CREATE TABLE thread_context (
    conversation TEXT   PRIMARY KEY,
    entity       TEXT   NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- Deploys, merged pull requests and completed workflow runs of the catalog's repositories,
-- from GitHub's webhooks and the scan. One row per (repository, kind, GitHub's id): a webhook
-- delivered twice, or seen again by the scan, is kept once.
CREATE TABLE repo_changes (
    id      BIGSERIAL PRIMARY KEY,
    repo    TEXT   NOT NULL,
    kind    TEXT   NOT NULL,
    ref_id  TEXT   NOT NULL,
    title   TEXT   NOT NULL,
    who     TEXT,
    at      BIGINT NOT NULL,
    url     TEXT,
    detail  TEXT,
    via     TEXT   NOT NULL,
    UNIQUE (repo, kind, ref_id)
);
CREATE INDEX repo_changes_by_time ON repo_changes (at);

-- A run asked again for the same target within a while (a second page of one service) is
-- found by this, not by reading every run.
CREATE INDEX runs_by_target ON runs (workflow, target, created_at);
