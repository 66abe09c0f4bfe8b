-- "Is this wrong?": someone says a fact (an entity's owner, who is on call for it) is wrong.
-- value is the fact as it was answered; a report is closed when the fact changes. The owning
-- team is told once per open (entity, fact).
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    entity      TEXT   NOT NULL,
    fact        TEXT   NOT NULL,
    what        TEXT   NOT NULL,
    value       TEXT   NOT NULL,
    provenance  TEXT   NOT NULL,
    reported_by TEXT   NOT NULL,
    team        TEXT,
    at          BIGINT NOT NULL,
    told_at     BIGINT,
    closed_at   BIGINT
);
CREATE INDEX reports_open ON reports (closed_at, entity, fact);
