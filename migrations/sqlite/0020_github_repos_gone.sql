-- A repository a webhook took out of the catalog (deleted, archived, transferred, renamed away)
-- is marked gone rather than forgotten at once: a scan that read it before must not store it
-- again. The next complete scan forgets the marks older than itself.
ALTER TABLE github_repos ADD COLUMN gone_at BIGINT;
