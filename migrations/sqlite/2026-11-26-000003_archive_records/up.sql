-- The archive: each archived run's objects (JSON list of key, size, sha256), kept apart from
-- `runs` (whose every column is a metric or a result), and when a job's summary and manifest
-- were written.
CREATE TABLE run_archives (
    run_id  TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    objects TEXT NOT NULL
);
ALTER TABLE jobs ADD COLUMN archived_ms BIGINT;
