-- The catalog Groups an approver held through their chat platform when they decided (Discord
-- roles mapped by discord.role_groups), as a JSON list: the approval is checked again before
-- the run starts, against the same memberships.
ALTER TABLE approvals ADD COLUMN groups TEXT;

-- When each person was last active on each chat platform: a card for someone reachable on
-- several goes where they were last seen.
CREATE TABLE people_seen (
    person   TEXT   NOT NULL,
    platform TEXT   NOT NULL,
    seen_at  BIGINT NOT NULL,
    PRIMARY KEY (person, platform)
);
