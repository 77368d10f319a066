ALTER TABLE jobs DROP COLUMN archived_ms;
DROP TABLE run_archives;
