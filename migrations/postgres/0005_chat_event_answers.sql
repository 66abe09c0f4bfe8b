-- The event as received and when its answer went out: an event claimed but never answered (the
-- process died between the acknowledgement and the post) is answered at the next start.
ALTER TABLE chat_events ADD COLUMN payload TEXT;
ALTER TABLE chat_events ADD COLUMN answered_at BIGINT;
UPDATE chat_events SET answered_at = received_at;
