-- Questions asked, per day, surface and intent: how many, how many found nothing, and their
-- answer time in all (milliseconds). Added to, never rewritten.
CREATE TABLE usage_daily (
    day        TEXT   NOT NULL,
    surface    TEXT   NOT NULL,
    intent     TEXT   NOT NULL,
    questions  BIGINT NOT NULL,
    unresolved BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    PRIMARY KEY (day, surface, intent)
);

-- Questions that found nothing, as asked (lowercased): the catalog's gaps people run into.
CREATE TABLE zero_results (
    query   TEXT   PRIMARY KEY,
    times   BIGINT NOT NULL,
    last_at BIGINT NOT NULL
);
