-- Where a schedule came from ('api', or 'file:PATH' for a job file in the daemon's schedules
-- folder) and the folder its relative data paths are resolved against.
ALTER TABLE schedules ADD COLUMN source TEXT NOT NULL DEFAULT 'api';
ALTER TABLE schedules ADD COLUMN base_dir TEXT;
