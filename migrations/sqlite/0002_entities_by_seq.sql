-- Start-up reads the catalog in `seq` order, in ranges.
CREATE INDEX entities_by_seq ON entities (seq);
