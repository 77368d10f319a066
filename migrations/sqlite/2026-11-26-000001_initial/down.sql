DROP TABLE backups;
DROP TABLE schedules;
DROP TABLE trades;
DROP TABLE runs;
DROP TABLE jobs;
