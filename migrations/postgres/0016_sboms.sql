-- SBOMs read beside catalog files (and, later, from GitHub's dependency graph): the packages
-- each lists, for `who uses PACKAGE [RANGE]`. One row per SBOM file; a source's sync replaces
-- its rows. `scope` is where the entities it belongs to live: a catalog file's directory, or a
-- repository.
CREATE TABLE sboms (
    location TEXT   PRIMARY KEY,
    source   TEXT   NOT NULL,
    scope    TEXT   NOT NULL,
    format   TEXT   NOT NULL,
    -- JSON: [[namespace or null, name, version, purl or null], …]
    packages TEXT   NOT NULL,
    read_at  BIGINT NOT NULL
);
CREATE INDEX sboms_by_source ON sboms (source);
