//! The diesel schema: one Rust description of the tables both backends' migrations create
//! (`migrations/postgres`, `migrations/sqlite`). A test compares it with the migrated databases.

diesel::table! {
    jobs (id) {
        id -> Text,
        name -> Text,
        definition -> Text,
        status -> Text,
        submitted_ms -> BigInt,
        started_ms -> Nullable<BigInt>,
        finished_ms -> Nullable<BigInt>,
        runs_total -> Integer,
        runs_succeeded -> Integer,
        runs_failed -> Integer,
        error -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        timeout_ms -> Nullable<BigInt>,
        archived_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    runs (id) {
        id -> Text,
        job_id -> Text,
        run_key -> Text,
        symbol -> Text,
        data_source -> Text,
        plugin_name -> Text,
        plugin_version -> Nullable<Text>,
        params -> Text,
        execution -> Text,
        status -> Text,
        attempts -> Integer,
        error -> Nullable<Text>,
        started_ms -> Nullable<BigInt>,
        finished_ms -> Nullable<BigInt>,
        bars -> Nullable<BigInt>,
        total_return -> Nullable<Double>,
        cagr -> Nullable<Double>,
        sharpe -> Nullable<Double>,
        sortino -> Nullable<Double>,
        max_drawdown -> Nullable<Double>,
        calmar -> Nullable<Double>,
        trade_count -> Nullable<BigInt>,
        win_rate -> Nullable<Double>,
        avg_return -> Nullable<Double>,
        profit_factor -> Nullable<Double>,
        avg_hold_bars -> Nullable<Double>,
        exposure -> Nullable<Double>,
        final_equity -> Nullable<Double>,
        buy_and_hold_return -> Nullable<Double>,
        archive_status -> Text,
        archive_url -> Nullable<Text>,
        archive_sha256 -> Nullable<Text>,
    }
}

diesel::table! {
    trades (run_id, seq) {
        run_id -> Text,
        seq -> Integer,
        entry_index -> BigInt,
        exit_index -> BigInt,
        entry_time_ms -> BigInt,
        exit_time_ms -> BigInt,
        direction -> Text,
        entry_price -> Double,
        exit_price -> Double,
        quantity -> Double,
        fees -> Double,
        pnl -> Double,
        trade_return -> Double,
        exit_reason -> Text,
    }
}

diesel::table! {
    run_archives (run_id) {
        run_id -> Text,
        objects -> Text,
    }
}

diesel::table! {
    schedules (name) {
        name -> Text,
        cron -> Text,
        job_template -> Text,
        enabled -> Bool,
        created_ms -> BigInt,
        last_fire_ms -> Nullable<BigInt>,
        next_fire_ms -> Nullable<BigInt>,
        source -> Text,
        base_dir -> Nullable<Text>,
    }
}

diesel::table! {
    backups (id) {
        id -> Text,
        created_ms -> BigInt,
        source -> Text,
        location -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        schema_version -> Text,
        status -> Text,
        verified_ms -> Nullable<BigInt>,
    }
}

diesel::joinable!(runs -> jobs (job_id));
diesel::joinable!(trades -> runs (run_id));
diesel::joinable!(run_archives -> runs (run_id));

diesel::allow_tables_to_appear_in_same_query!(jobs, runs, run_archives, trades);
