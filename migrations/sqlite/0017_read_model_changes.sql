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

-- Each source numbers its entity rows in a range of its own (store/catalog.rs, seq_base): rows
-- of GitHub, Terraform and registrations shared one before, and could tie.
UPDATE entities SET seq = seq + 1000000000000
 WHERE source = 'terraform' AND seq >= 2000000000000 AND seq < 3000000000000;
UPDATE entities SET seq = seq + 2000000000000
 WHERE source NOT IN ('local', 'backstage', 'github', 'terraform')
   AND seq >= 2000000000000 AND seq < 3000000000000;
