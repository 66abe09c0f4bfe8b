-- What changed in what answers are read from (catalog parts, recent changes, SBOMs,
-- exemptions, source status), in order. The replica that made a change applies it at once and
-- records it here; every other replica applies the entries past the generation it has (woken
-- by NOTIFY on PostgreSQL, and every few seconds besides, so a missed wake-up costs seconds).
CREATE TABLE read_model_changes (
    generation BIGINT PRIMARY KEY,
    replica    TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    what       TEXT   NOT NULL
);
CREATE INDEX read_model_changes_by_time ON read_model_changes (at);
