ALTER TABLE schedules DROP COLUMN base_dir;
ALTER TABLE schedules DROP COLUMN source;
