-- When the review cards of a run started in an emergency were posted (claimed once, so two
-- processes never post them twice, and a process that stopped first leaves them to the sweep).
ALTER TABLE runs ADD COLUMN reviews_posted_at BIGINT;
