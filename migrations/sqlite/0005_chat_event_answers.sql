-- The event as received, when its answer went out, and until when the process that took it is
-- left to answer it: an event claimed but never answered (the process died between the
-- acknowledgement and the post) is taken by another process, or the next, once that passes.
ALTER TABLE chat_events ADD COLUMN payload TEXT;
ALTER TABLE chat_events ADD COLUMN answered_at BIGINT;
ALTER TABLE chat_events ADD COLUMN answering_until BIGINT;
UPDATE chat_events SET answered_at = received_at;
