//! Helpers shared by the integration tests: a registry of the real plugins, the example folder,
//! and parsing with default limits.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use barwise_jobs::{JobErrors, JobPlan, Limits, parse_job};
use barwise_plugin_host::{Catalog, Registry};
use tempfile::TempDir;

/// A registry of the real plugins, with the folder holding them (keep it alive while in use).
pub fn registry() -> (TempDir, Catalog) {
    let dir = barwise_test_support::plugin_dir(&barwise_test_support::REAL_PLUGINS);
    let registry = Registry::scan(dir.path())
        .expect("scanning the plugin folder")
        .catalog();
    assert!(registry.rejected.is_empty(), "{:?}", registry.rejected);
    (dir, registry)
}

/// `config/jobs` of the workspace.
pub fn examples_dir() -> PathBuf {
    barwise_test_support::workspace_root().join("config/jobs")
}

/// Parses `text` as if it were a file in `base`, with default limits.
pub fn parse_in(text: &str, base: &Path, registry: &Catalog) -> Result<JobPlan, JobErrors> {
    parse_job(text, "test.toml", base, registry, &Limits::default())
}

/// The problems of `text` as `path: message` lines, in their order.
pub fn problems(text: &str, base: &Path, registry: &Catalog) -> Vec<String> {
    match parse_in(text, base, registry) {
        Ok(plan) => panic!("expected errors, got a plan of {} runs", plan.runs.len()),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

/// The bundled `tests/data` folder, as a base for relative paths.
pub fn data_dir() -> PathBuf {
    barwise_test_support::workspace_root().join("tests/data")
}
