-- Chat events already handled, so a retried delivery is answered once, across restarts.
CREATE TABLE chat_events (
    platform    TEXT   NOT NULL,
    event_id    TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (platform, event_id)
);
