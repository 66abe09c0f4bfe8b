-- What an approval card shows, kept with the run so every copy can be redrawn the same.
ALTER TABLE runs ADD COLUMN plan TEXT;
-- Set when the person on call ran it at once in an emergency: their reason, and who they are.
ALTER TABLE runs ADD COLUMN break_glass TEXT;
ALTER TABLE runs ADD COLUMN break_glass_by TEXT;
-- When its cards were posted (claimed once, so two processes never post them twice).
ALTER TABLE runs ADD COLUMN carded_at BIGINT;
-- When those who have not decided are reminded (once), and when they were.
ALTER TABLE runs ADD COLUMN remind_at BIGINT;
ALTER TABLE runs ADD COLUMN reminded_at BIGINT;

-- Every copy of a run's card: where it was posted, to be edited as the run moves on.
CREATE TABLE run_cards (
    run_id      BIGINT NOT NULL,
    platform    TEXT   NOT NULL,
    channel     TEXT   NOT NULL,
    message_id  TEXT   NOT NULL,
    -- 'approval' (decide on it) or 'review' (after a break-glass run).
    kind        TEXT   NOT NULL,
    -- The catalog User the copy is for (the requester, in the conversation where they asked;
    -- an approver, by DM); NULL for a team's channel.
    recipient   TEXT,
    posted_at   BIGINT NOT NULL,
    PRIMARY KEY (platform, channel, message_id)
);
CREATE INDEX run_cards_by_run ON run_cards (run_id);

-- Reviews of runs started in an emergency: one per reviewer.
CREATE TABLE run_reviews (
    run_id    BIGINT NOT NULL,
    reviewer  TEXT   NOT NULL,
    verdict   TEXT   NOT NULL,
    reason    TEXT,
    at        BIGINT NOT NULL,
    PRIMARY KEY (run_id, reviewer)
);
