//! The daemon's view of the plugin folder, read through `barwise-runner --catalog` so that no
//! plugin library is ever mapped into the daemon, and read again whenever the folder changes:
//! a library dropped in is usable by the next job without a restart.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use barwise_plugin_host::{Catalog, is_library_file};

/// What identifies the folder's contents: each library's name, size and modification time.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// The plugin folder, cached until it changes.
#[derive(Debug)]
pub struct PluginCatalog {
    dir: PathBuf,
    runner: PathBuf,
    cached: Mutex<Option<(Fingerprint, Arc<Catalog>)>>,
}

impl PluginCatalog {
    /// The catalog of `dir`, read with `runner`.
    pub fn new(dir: PathBuf, runner: PathBuf) -> PluginCatalog {
        PluginCatalog {
            dir,
            runner,
            cached: Mutex::new(None),
        }
    }

    /// The plugin folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current catalog: the cached one while the folder is unchanged, else a fresh one.
    ///
    /// # Errors
    /// A message when the folder cannot be read or the runner fails.
    pub fn get(&self) -> Result<Arc<Catalog>, String> {
        let fingerprint = fingerprint(&self.dir)?;
        if let Ok(cached) = self.cached.lock()
            && let Some((seen, catalog)) = cached.as_ref()
            && *seen == fingerprint
        {
            return Ok(Arc::clone(catalog));
        }
        let catalog = Arc::new(self.read()?);
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((fingerprint, Arc::clone(&catalog)));
        }
        Ok(catalog)
    }

    fn read(&self) -> Result<Catalog, String> {
        let output = Command::new(&self.runner)
            .arg("--catalog")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot start {}: {e}", self.runner.display()))?;
        if !output.status.success() {
            return Err(format!(
                "reading the plugin folder {} failed ({}): {}",
                self.dir.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("the runner's plugin catalog is not valid JSON: {e}"))
    }
}

fn fingerprint(dir: &Path) -> Result<Fingerprint, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read plugin folder {}: {e}", dir.display()))?;
    let mut files: Fingerprint = entries
        .filter_map(Result::ok)
        .filter(|e| is_library_file(&e.path()))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((e.path(), meta.len(), meta.modified().ok()))
        })
        .collect();
    files.sort();
    Ok(files)
}
