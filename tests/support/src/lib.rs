//! Helpers shared by Barwise's integration tests: where the bundled candle files are, and plugin
//! folders built from the real and the misbehaving test plugins.
//!
//! Plugins are built by running cargo into a target folder of their own (under the workspace's
//! `target/`), because a test cannot rely on `cargo test` having built `cdylib` outputs, and must
//! not wait on the build lock of the `cargo` process that runs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A bundled candle file from `tests/data/`.
pub fn data_file(name: &str) -> PathBuf {
    let path = workspace_root().join("tests/data").join(name);
    assert!(
        path.is_file(),
        "missing bundled data file {}",
        path.display()
    );
    path
}

/// The real plugins of the workspace.
pub const REAL_PLUGINS: [&str; 3] = ["volume_zone_breakout", "volume_long_candle", "sma_cross"];

/// The test plugins of `tests/plugins`.
pub const TEST_PLUGINS: [&str; 4] = [
    "test_plugin_panicking",
    "test_plugin_abi_mismatch",
    "test_plugin_crashing",
    "test_plugin_not_a_plugin",
];

fn build_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("test-plugins")
}

fn cargo_build(manifest: &Path, packages: &[&str]) {
    cargo_build_profile(manifest, packages, false);
}

fn cargo_build_profile(manifest: &Path, packages: &[&str], release: bool) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build").arg("--quiet");
    if release {
        cmd.arg("--release");
    }
    cmd.arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(build_dir());
    for p in packages {
        cmd.arg("-p").arg(p);
    }
    // The outer cargo's settings for this test binary must not leak into the plugin build.
    cmd.env_remove("CARGO_TARGET_DIR").env_remove("RUSTFLAGS");
    let status = cmd.status().expect("running cargo to build the plugins");
    assert!(
        status.success(),
        "building plugins from {} failed",
        manifest.display()
    );
}

/// Builds the real and test plugins once per test process; returns the folder holding them.
pub fn built_plugins() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = workspace_root();
        cargo_build(
            &root.join("Cargo.toml"),
            &["volume-zone-breakout", "volume-long-candle", "sma-cross"],
        );
        cargo_build(&root.join("tests/plugins/Cargo.toml"), &[]);
        build_dir().join("debug")
    })
}

/// Builds the real plugins with optimisations once per process (for benchmarks); returns the
/// folder holding them.
pub fn built_plugins_release() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        cargo_build_profile(
            &workspace_root().join("Cargo.toml"),
            &["volume-zone-breakout", "volume-long-candle", "sma-cross"],
            true,
        );
        build_dir().join("release")
    })
}

/// File name of the library built from crate `name` (`libname.so` on Linux).
pub fn library_file_name(name: &str) -> String {
    format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Path of a built plugin library.
pub fn plugin_library(name: &str) -> PathBuf {
    built_plugins().join(library_file_name(name))
}

/// A fresh plugin folder holding copies of the named libraries.
pub fn plugin_dir(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary plugin folder");
    for name in names {
        let file = library_file_name(name);
        std::fs::copy(built_plugins().join(&file), dir.path().join(&file))
            .unwrap_or_else(|e| panic!("copying plugin {file}: {e}"));
    }
    dir
}

/// `n` valid synthetic minute candles: a seeded random walk with realistic wicks, some bars
/// without movement (open = high = low = close) and varying volume. Deterministic for a seed.
///
/// # Panics
/// Never for `n >= 1` (the generated series is valid by construction).
pub fn synthetic_candles(n: usize, seed: u64) -> barwise_engine::Candles {
    let mut state = seed ^ 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64*: small, fast and good enough for test data.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut columns = barwise_engine::CandleColumns::with_capacity(n);
    let mut price = 100.0;
    for i in 0..n {
        let time = 1_600_000_000_000 + i as i64 * 60_000;
        let open = price;
        if next() < 0.1 {
            columns.push(time, open, open, open, open, (next() * 5.0).floor());
            continue;
        }
        let close = open * (1.0 + (next() - 0.5) * 0.004);
        let high = open.max(close) * (1.0 + next() * 0.001);
        let low = open.min(close) * (1.0 - next() * 0.001);
        let volume = 1.0 + next() * 100.0 * if next() < 0.05 { 10.0 } else { 1.0 };
        columns.push(time, open, high, low, close, volume);
        price = close;
    }
    barwise_engine::Candles::new(columns).expect("synthetic candles are valid")
}

/// Environment variable that turns a missing external dependency of a test (a service, a Python
/// package) from a loud skip into a failure. CI sets it.
pub const REQUIRE_SERVICES_ENV: &str = "BARWISE_REQUIRE_SERVICES";

/// Decides what a test does when something it needs from outside is missing: returns `false`
/// (skip) after printing a loud message, or panics when `BARWISE_REQUIRE_SERVICES=1`.
///
/// # Panics
/// When the dependency is missing and services are required.
pub fn require_or_skip(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    let required = std::env::var(REQUIRE_SERVICES_ENV).is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{what} is not available and {REQUIRE_SERVICES_ENV}=1 requires it"
    );
    eprintln!(
        "\n*** SKIPPED: {what} is not available. Set {REQUIRE_SERVICES_ENV}=1 to make this a failure. ***\n"
    );
    false
}

/// The SDK's view of a candle series, for tests and benchmarks that call a strategy directly.
pub fn candle_view(candles: &barwise_engine::Candles) -> barwise_plugin_sdk::CandleView<'_> {
    barwise_plugin_sdk::CandleView {
        time_ms: candles.time_ms(),
        open: candles.open(),
        high: candles.high(),
        low: candles.low(),
        close: candles.close(),
        volume: candles.volume(),
    }
}

/// Runs a strategy's signal function on fresh buffers and converts the codes for the engine,
/// as the host does after a plugin call.
///
/// # Panics
/// When the strategy writes an invalid intent code.
pub fn direct_signals(
    n: usize,
    generate: impl FnOnce(&mut barwise_plugin_sdk::SignalsOut<'_>),
) -> barwise_engine::Signals {
    let (mut intents, mut hold) = (vec![0u8; n], vec![0u32; n]);
    generate(&mut barwise_plugin_sdk::SignalsOut::new(
        &mut intents,
        &mut hold,
    ));
    barwise_engine::Signals::from_codes(&intents, hold).expect("valid intent codes")
}

/// A real S3-compatible server (`moto_server`, from PyPI) on loopback, started once per test
/// process and stopped when the process ends; `None` after a loud skip (or a panic under
/// `BARWISE_REQUIRE_SERVICES=1`) when `moto_server` is not installed.
pub fn s3_endpoint() -> Option<String> {
    static SERVER: OnceLock<Option<String>> = OnceLock::new();
    let endpoint = SERVER.get_or_init(|| {
        let port = free_port()?;
        start_s3_server(port).then(|| format!("http://127.0.0.1:{port}"))
    });
    if require_or_skip(
        "an S3-compatible server (moto_server from PyPI)",
        endpoint.is_some(),
    ) {
        endpoint.clone()
    } else {
        None
    }
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> Option<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()
        .map(|a| a.port())
}

/// Starts `moto_server` on `port` (stopped when this process ends) and waits until it answers;
/// false when it is not installed or does not start.
pub fn start_s3_server(port: u16) -> bool {
    let installed = Command::new("sh")
        .args(["-c", "command -v moto_server"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        return false;
    }
    // The shell stops the server as soon as this process (its parent) is gone.
    let script = format!(
        "moto_server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
         while kill -0 $PPID 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done; kill $m 2>/dev/null"
    );
    if Command::new("sh").args(["-c", &script]).spawn().is_err() {
        return false;
    }
    let address = format!("127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(&address).is_err() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    true
}

/// Creates bucket `name` on the test S3 server and returns the archive URL of `prefix` in it
/// (path-style, plain HTTP, test credentials).
///
/// # Panics
/// When the server refuses to create the bucket.
pub fn s3_url(endpoint: &str, bucket: &str, prefix: &str) -> String {
    use std::io::{Read as _, Write as _};
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connecting to the S3 server");
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(
        response.starts_with("HTTP/1.1 200") || response.contains("BucketAlreadyOwnedByYou"),
        "creating bucket {bucket}: {response}"
    );
    format!(
        "s3://{bucket}/{prefix}?endpoint={endpoint}&region=us-east-1&path_style=true&allow_http=true\
         &access_key_id=test&secret_access_key=test&retries=0&timeout=5"
    )
}

/// A real engine report for tests of what stores reports: `entries` long trades held 3 bars on
/// synthetic candles (seeded), default execution settings; with the equity curve.
///
/// # Panics
/// Never (the signals and settings are valid by construction).
pub fn sample_report(entries: usize, seed: u64) -> (barwise_engine::Report, Vec<f64>) {
    use barwise_engine::{ExecutionSettings, Intent, Params, Report, Signals};
    let candles = synthetic_candles(entries * 5 + 10, seed);
    let mut signals = Signals::none(candles.len());
    for k in 0..entries {
        signals.set(k * 5 + 1, Intent::EnterLong, 3);
    }
    let settings = ExecutionSettings::default();
    let backtest = barwise_engine::backtest(&candles, &signals, &settings).expect("valid backtest");
    let equity = backtest.simulation.equity.clone();
    let report = Report::new(
        "test_strategy".into(),
        "1.2.3".into(),
        Params::new(),
        settings,
        &candles,
        backtest,
    );
    (report, equity)
}
