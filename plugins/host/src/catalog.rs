//! What is known about the plugin folder without holding any library: each plugin's file and
//! manifest. A [`Registry`](crate::Registry) gives one directly; the daemon gets one as JSON
//! from `barwise-runner --catalog DIR`, so that validating a job never maps plugin code into the
//! daemon.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use barwise_engine::Params;
use serde::{Deserialize, Serialize};

use crate::params::{self, ParamsError, RawParam};
use crate::{PluginManifest, Rejected};

/// One valid plugin: its library file and manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// The library file.
    pub path: PathBuf,
    /// Name, version, description, parameter schema.
    pub manifest: PluginManifest,
}

impl PluginInfo {
    /// The library file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Name, version, description, parameter schema.
    pub fn manifest(&self) -> &PluginManifest {
        &self.manifest
    }

    /// Validates requested parameters against the schema and fills in defaults, exactly as
    /// [`Plugin::resolve_params`](crate::Plugin::resolve_params) does.
    ///
    /// # Errors
    /// [`ParamsError`] listing every problem and the valid parameters.
    pub fn resolve_params(
        &self,
        requested: &BTreeMap<String, RawParam>,
    ) -> Result<Params, ParamsError> {
        params::resolve(&self.manifest.name, &self.manifest.params, requested)
    }
}

/// The plugins of one folder, valid ones sorted by name, rejected ones by path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Valid plugins.
    pub plugins: Vec<PluginInfo>,
    /// Libraries that failed to load or validate, with the reason.
    pub rejected: Vec<Rejected>,
}

impl Catalog {
    /// The plugin called `name`.
    pub fn find(&self, name: &str) -> Option<&PluginInfo> {
        self.plugins.iter().find(|p| p.manifest.name == name)
    }

    /// Names of the valid plugins, comma separated, or `none`.
    pub fn available(&self) -> String {
        if self.plugins.is_empty() {
            return "none".to_owned();
        }
        let names: Vec<&str> = self
            .plugins
            .iter()
            .map(|p| p.manifest.name.as_str())
            .collect();
        names.join(", ")
    }
}
