//! The invariants of ARCHITECTURE.md, checked: which crate may depend on what, and where
//! `unsafe` and I/O may appear.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `cargo metadata` of the workspace as JSON, with `extra` arguments.
fn cargo_metadata(extra: &[&str]) -> Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(extra)
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// Normal (non-dev, non-build) dependency closure of every workspace package, by package name.
/// Computed once per test binary: several tests read it.
fn closures() -> &'static BTreeMap<String, BTreeSet<String>> {
    static CLOSURES: std::sync::OnceLock<BTreeMap<String, BTreeSet<String>>> =
        std::sync::OnceLock::new();
    CLOSURES.get_or_init(compute_closures)
}

fn compute_closures() -> BTreeMap<String, BTreeSet<String>> {
    let meta = cargo_metadata(&[]);
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let id = node["id"].as_str().unwrap();
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| d["pkg"].as_str().unwrap())
            .collect();
        edges.insert(id, deps);
    }
    let mut result = BTreeMap::new();
    for member in meta["workspace_members"].as_array().unwrap() {
        let start = member.as_str().unwrap();
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            for dep in edges.get(id).into_iter().flatten() {
                if seen.insert(names[dep].to_owned()) {
                    stack.push(dep);
                }
            }
        }
        result.insert(names[start].to_owned(), seen);
    }
    result
}

#[test]
fn engine_has_no_io_runtime_or_database_dependencies() {
    let closures = closures();
    let engine = &closures["barwise-engine"];
    for forbidden in [
        "tokio",
        "diesel",
        "apalis",
        "object_store",
        "libloading",
        "barwise-plugin-abi",
        "barwise-data",
        "parquet",
        "csv",
        "reqwest",
        "rand",
    ] {
        assert!(
            !engine.contains(forbidden),
            "barwise-engine depends on {forbidden}"
        );
    }
}

#[test]
fn abi_crate_has_no_dependencies() {
    assert!(closures()["barwise-plugin-abi"].is_empty());
}

#[test]
fn plugins_depend_only_on_the_sdk() {
    let closures = closures();
    for plugin in ["volume-zone-breakout", "volume-long-candle", "sma-cross"] {
        let expected: BTreeSet<String> = ["barwise-plugin-sdk", "barwise-plugin-abi"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(closures[plugin], expected, "{plugin}");
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn engine_sources_do_no_io_and_read_no_clock() {
    let mut files = Vec::new();
    rust_files(&root().join("engine/core/src"), &mut files);
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in [
            "std::fs",
            "std::net",
            "std::io",
            "std::env",
            "std::process",
            "SystemTime",
            "Instant",
            "thread_local",
            "static mut",
            "unsafe {",
            "unsafe fn",
            "unsafe impl",
            "Utc::now",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}",
                file.display()
            );
        }
    }
}

#[test]
fn host_unsafe_code_lives_in_the_loader_only() {
    let mut files = Vec::new();
    rust_files(&root().join("plugins/host/src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let has_unsafe = ["unsafe {", "unsafe fn", "unsafe impl", "unsafe extern"]
            .iter()
            .any(|pattern| text.contains(pattern));
        assert_eq!(
            has_unsafe,
            file.ends_with("loader.rs"),
            "{}: unsafe code belongs in loader.rs",
            file.display()
        );
    }
}

/// Direct (normal) dependencies of every workspace package, by name.
fn direct_dependencies() -> BTreeMap<String, Vec<String>> {
    let meta = cargo_metadata(&["--no-deps"]);
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

#[test]
fn only_the_storage_crate_knows_diesel() {
    for (package, deps) in direct_dependencies() {
        let uses_diesel = deps.iter().any(|d| d.starts_with("diesel"));
        assert_eq!(
            uses_diesel,
            package == "barwise-storage",
            "{package}: diesel belongs in barwise-storage only"
        );
    }
}

#[test]
fn only_the_archive_crate_knows_object_store() {
    for (package, deps) in direct_dependencies() {
        let uses = deps.iter().any(|d| d == "object_store");
        assert_eq!(
            uses,
            package == "barwise-archive",
            "{package}: object_store belongs in barwise-archive only"
        );
    }
}

/// The daemon validates jobs from manifests and runs every backtest in a runner process: none of
/// its modules (nor the clients) may load a plugin library or call into one.
#[test]
fn the_daemon_never_loads_plugin_code() {
    let mut files = Vec::new();
    rust_files(&root().join("orchestrator/cli/src/daemon"), &mut files);
    files.push(root().join("orchestrator/cli/src/client.rs"));
    files.push(root().join("orchestrator/cli/src/execute.rs"));
    assert!(files.len() > 5);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in [
            "Registry::scan",
            "Plugin::load",
            "libloading",
            "run_backtest",
            "run_resolved",
            "instantiate(",
            "unsafe",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}: plugin code must stay in barwise-runner",
                file.display()
            );
        }
    }
}
