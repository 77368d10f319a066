//! Where plugins are looked for when no folder is given.

use std::path::PathBuf;

/// Environment variable that overrides the default plugin folder.
pub const PLUGIN_DIR_ENV: &str = "BARWISE_PLUGIN_DIR";

/// The plugin folder: `explicit` if given, else `$BARWISE_PLUGIN_DIR`, else the folder of the
/// running executable, which is where `cargo build` puts the plugin libraries next to the
/// binaries (so a fresh clone needs no configuration).
pub fn resolve(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var_os(PLUGIN_DIR_ENV).map(PathBuf::from))
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(PathBuf::from))
        })
        .unwrap_or_else(|| PathBuf::from("."))
}
