-- Initial schema (SQLite; the same tables as migrations/postgres, in SQLite's dialect). Times are epoch milliseconds (BIGINT) so both backends share one
-- Rust schema; every metric of a report is its own column so runs can be ranked in SQL.

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    definition      TEXT NOT NULL,
    status          TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    submitted_ms    BIGINT NOT NULL,
    started_ms      BIGINT,
    finished_ms     BIGINT,
    runs_total      INTEGER NOT NULL DEFAULT 0 CHECK (runs_total >= 0),
    runs_succeeded  INTEGER NOT NULL DEFAULT 0 CHECK (runs_succeeded >= 0),
    runs_failed     INTEGER NOT NULL DEFAULT 0 CHECK (runs_failed >= 0),
    error           TEXT,
    idempotency_key TEXT UNIQUE,
    timeout_ms      BIGINT
);
CREATE INDEX jobs_by_status_and_time ON jobs (status, submitted_ms);
CREATE INDEX jobs_by_time ON jobs (submitted_ms);

CREATE TABLE runs (
    id                  TEXT PRIMARY KEY,
    job_id              TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    run_key             TEXT NOT NULL,
    symbol              TEXT NOT NULL,
    data_source         TEXT NOT NULL,
    plugin_name         TEXT NOT NULL,
    plugin_version      TEXT,
    params              TEXT NOT NULL,
    execution           TEXT NOT NULL,
    status              TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error               TEXT,
    started_ms          BIGINT,
    finished_ms         BIGINT,
    bars                BIGINT,
    total_return        DOUBLE,
    cagr                DOUBLE,
    sharpe              DOUBLE,
    sortino             DOUBLE,
    max_drawdown        DOUBLE,
    calmar              DOUBLE,
    trade_count         BIGINT,
    win_rate            DOUBLE,
    avg_return          DOUBLE,
    profit_factor       DOUBLE,
    avg_hold_bars       DOUBLE,
    exposure            DOUBLE,
    final_equity        DOUBLE,
    buy_and_hold_return DOUBLE,
    archive_status      TEXT NOT NULL DEFAULT 'none'
        CHECK (archive_status IN ('none', 'pending', 'archived')),
    archive_url         TEXT,
    archive_sha256      TEXT,
    UNIQUE (job_id, run_key)
);
CREATE INDEX runs_by_job_status ON runs (job_id, status);
CREATE INDEX runs_by_job_sharpe ON runs (job_id, sharpe DESC);
CREATE INDEX runs_by_job_total_return ON runs (job_id, total_return DESC);
CREATE INDEX runs_archive_pending ON runs (archive_status) WHERE archive_status = 'pending';

CREATE TABLE trades (
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    entry_index   BIGINT NOT NULL,
    exit_index    BIGINT NOT NULL,
    entry_time_ms BIGINT NOT NULL,
    exit_time_ms  BIGINT NOT NULL,
    direction     TEXT NOT NULL CHECK (direction IN ('long', 'short')),
    entry_price   DOUBLE NOT NULL,
    exit_price    DOUBLE NOT NULL,
    quantity      DOUBLE NOT NULL,
    fees          DOUBLE NOT NULL,
    pnl           DOUBLE NOT NULL,
    trade_return  DOUBLE NOT NULL,
    exit_reason   TEXT NOT NULL CHECK (exit_reason IN
        ('signal', 'hold_period', 'stop_loss', 'take_profit', 'trailing_stop', 'end_of_data')),
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE schedules (
    name         TEXT PRIMARY KEY,
    cron         TEXT NOT NULL,
    job_template TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL DEFAULT 1,
    created_ms   BIGINT NOT NULL,
    last_fire_ms BIGINT,
    next_fire_ms BIGINT
);

CREATE TABLE backups (
    id             TEXT PRIMARY KEY,
    created_ms     BIGINT NOT NULL,
    source         TEXT NOT NULL,
    location       TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL CHECK (size_bytes >= 0),
    sha256         TEXT NOT NULL,
    schema_version TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('complete', 'failed', 'pruned')),
    verified_ms    BIGINT
);
CREATE INDEX backups_by_time ON backups (created_ms);
