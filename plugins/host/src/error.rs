//! Everything that can go wrong between the host and a plugin.

use std::path::PathBuf;

/// A plugin could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The file is not a loadable dynamic library.
    #[error("{path}: not a loadable plugin library: {reason}")]
    Load {
        /// The file.
        path: PathBuf,
        /// The dynamic loader's message.
        reason: String,
    },
    /// The library does not export the entry symbol.
    #[error("{path}: not a Barwise plugin: it does not export the `{symbol}` symbol")]
    MissingSymbol {
        /// The file.
        path: PathBuf,
        /// The symbol looked for.
        symbol: String,
    },
    /// The plugin was built against another ABI version.
    #[error(
        "{path}: plugin ABI version {found} does not match the host's ABI version {expected}; rebuild the plugin against barwise-plugin-sdk for ABI {expected}"
    )]
    AbiMismatch {
        /// The file.
        path: PathBuf,
        /// The host's ABI version.
        expected: u32,
        /// The plugin's ABI version.
        found: u32,
    },
    /// The plugin's manifest is malformed.
    #[error("{path}: invalid plugin manifest: {reason}")]
    InvalidManifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The requested parameters do not fit the schema.
    #[error(transparent)]
    InvalidParams(#[from] crate::params::ParamsError),
    /// The strategy returned an error.
    #[error("strategy {plugin} failed: {message}")]
    Strategy {
        /// Plugin name.
        plugin: String,
        /// The strategy's message.
        message: String,
    },
    /// The strategy panicked (caught inside the plugin and reported as a status).
    #[error("strategy {plugin} panicked: {message}")]
    Panic {
        /// Plugin name.
        plugin: String,
        /// The panic message.
        message: String,
    },
    /// The strategy wrote an intent code that does not exist.
    #[error(
        "strategy {plugin} wrote invalid intent code {code} at bar {bar} (valid: 0 none, 1 enter long, 2 enter short, 3 exit)"
    )]
    InvalidIntent {
        /// Plugin name.
        plugin: String,
        /// The bar.
        bar: usize,
        /// The code found.
        code: u8,
    },
    /// The plugin returned a status this host does not know.
    #[error("strategy {plugin} returned unknown status {status}")]
    UnknownStatus {
        /// Plugin name.
        plugin: String,
        /// The status code.
        status: u32,
    },
    /// The engine rejected the run.
    #[error(transparent)]
    Engine(#[from] barwise_engine::EngineError),
}
