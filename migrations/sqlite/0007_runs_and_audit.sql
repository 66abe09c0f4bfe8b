-- Workflow runs: a durable state machine (requested → awaiting_approval → approved → running →
-- succeeded | failed, or denied | expired | cancelled). A worker takes a run with a lease.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow      TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    target        TEXT,
    params        TEXT    NOT NULL,
    requested_by  TEXT    NOT NULL,
    identity      TEXT    NOT NULL,
    platform      TEXT    NOT NULL,
    channel       TEXT,
    thread        TEXT,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT,
    decided_at    BIGINT,
    reason        TEXT,
    finished_at   BIGINT,
    lease_owner   TEXT,
    lease_until   BIGINT
);
CREATE INDEX runs_by_state ON runs (state, id);
CREATE INDEX runs_by_requester ON runs (requested_by, id);

-- One decision per person and run: a second click by the same person changes nothing.
CREATE TABLE approvals (
    run_id    BIGINT NOT NULL,
    approver  TEXT   NOT NULL,
    decision  TEXT   NOT NULL,
    reason    TEXT,
    at        BIGINT NOT NULL,
    PRIMARY KEY (run_id, approver)
);

-- Each step of a run: its attempts, result and outputs.
CREATE TABLE run_steps (
    run_id      BIGINT  NOT NULL,
    position    INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    outputs     TEXT,
    error       TEXT,
    started_at  BIGINT,
    finished_at BIGINT,
    PRIMARY KEY (run_id, position)
);

-- The audit log: append-only, each entry chained to the one before by a SHA-256 hash.
CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY,
    at         BIGINT  NOT NULL,
    actor      TEXT    NOT NULL,
    identity   TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT,
    run_id     BIGINT,
    detail     TEXT    NOT NULL,
    generation BIGINT  NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);
CREATE INDEX audit_by_run ON audit (run_id);
CREATE INDEX audit_by_target ON audit (target);
-- The chain's head, one row, locked by every append so entries are chained one at a time.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY,
    count BIGINT NOT NULL,
    hash  TEXT   NOT NULL
);
INSERT INTO audit_head (id, count, hash) VALUES (1, 0, '');
