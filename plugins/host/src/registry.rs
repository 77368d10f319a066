//! The plugin folder: every library in it, loaded or rejected with a reason.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Catalog, HostError, Plugin, PluginInfo};

/// A library in the plugin folder that could not be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// The file.
    pub path: PathBuf,
    /// Why it was rejected.
    pub reason: String,
}

/// The plugins found in one folder.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Valid plugins, sorted by name.
    pub plugins: Vec<Plugin>,
    /// Libraries that failed to load or validate, sorted by path.
    pub rejected: Vec<Rejected>,
}

/// True for file names with the platform's dynamic-library extension.
pub fn is_library_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
}

impl Registry {
    /// Loads every dynamic library in `dir` (not recursive). Libraries that are not Barwise plugins
    /// or fail validation are listed in `rejected`; two plugins with the same name reject the
    /// second (in path order).
    ///
    /// # Errors
    /// [`HostError::Load`] when the folder itself cannot be read.
    pub fn scan(dir: &Path) -> Result<Registry, HostError> {
        let entries = std::fs::read_dir(dir).map_err(|e| HostError::Load {
            path: dir.to_owned(),
            reason: format!("cannot read plugin folder: {e}"),
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && is_library_file(p))
            .collect();
        paths.sort();
        let mut registry = Registry::default();
        for path in paths {
            match Plugin::load(&path) {
                Ok(plugin) => {
                    let name = &plugin.manifest().name;
                    if let Some(first) = registry.find(name) {
                        registry.rejected.push(Rejected {
                            reason: format!(
                                "a plugin named {name} is already loaded from {}",
                                first.path().display()
                            ),
                            path,
                        });
                    } else {
                        registry.plugins.push(plugin);
                    }
                }
                Err(e) => registry.rejected.push(Rejected {
                    path,
                    reason: e.to_string(),
                }),
            }
        }
        registry
            .plugins
            .sort_by(|a, b| a.manifest().name.cmp(&b.manifest().name));
        Ok(registry)
    }

    /// What the daemon needs to know of this folder: files and manifests, no library handles.
    pub fn catalog(&self) -> Catalog {
        Catalog {
            plugins: self
                .plugins
                .iter()
                .map(|p| PluginInfo {
                    path: p.path().to_owned(),
                    manifest: p.manifest().clone(),
                })
                .collect(),
            rejected: self.rejected.clone(),
        }
    }

    /// The plugin called `name`.
    pub fn find(&self, name: &str) -> Option<&Plugin> {
        self.plugins.iter().find(|p| p.manifest().name == name)
    }

    /// The plugin called `name`, or an error listing the available ones (and rejected files).
    ///
    /// # Errors
    /// [`HostError::Load`]-style message when there is no such plugin.
    pub fn get(&self, name: &str) -> Result<&Plugin, String> {
        self.find(name).ok_or_else(|| {
            let available: Vec<&str> = self
                .plugins
                .iter()
                .map(|p| p.manifest().name.as_str())
                .collect();
            let mut message = format!(
                "unknown strategy {name:?}; available: {}",
                if available.is_empty() {
                    "none".to_owned()
                } else {
                    available.join(", ")
                }
            );
            for r in &self.rejected {
                message.push_str(&format!("\n  rejected {}: {}", r.path.display(), r.reason));
            }
            message
        })
    }
}
