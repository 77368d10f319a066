//! The `barwise` command line and the `barwise-runner` process.
//!
//! The binaries are thin: they parse arguments once into validated settings and call into the
//! modules here. `runner` is the process boundary behind which plugin code runs, so that a
//! crashing plugin takes down only its runner.

pub mod alerts;
pub mod client;
pub mod daemon;
pub mod execute;
pub mod health;
pub mod html;
pub mod job_html;
pub mod plugin_dir;
pub mod progress;
pub mod runner;
pub mod table;
pub mod write;
