-- Button actions too long for a button to carry (Discord's custom_id holds 100 characters):
-- the button carries the key, the action is read back from here when it is clicked.
-- `rendered_at` is when a reply carrying it was last rendered; it is honoured for 30 days.
CREATE TABLE stored_actions (
    key TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    rendered_at BIGINT NOT NULL
);
CREATE INDEX stored_actions_by_age ON stored_actions (rendered_at);
-- Why an event's answer could not be delivered for good (the bot is not in the channel, the
-- channel is archived): it is not tried again, and it is counted.
ALTER TABLE chat_events ADD COLUMN undelivered TEXT;
