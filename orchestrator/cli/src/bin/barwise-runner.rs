//! `barwise-runner`: runs a batch of backtests of one plugin in this process, so that plugin code
//! never runs inside the daemon. Protocol and exit codes: `barwise::runner`.

use std::io::{Read, Write};
use std::path::PathBuf;

use barwise::runner::{self, ExitCode, RunnerSpec};
use clap::Parser;

/// Runs a batch of backtests of one strategy plugin (JSON spec in, one JSON line per run out).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Read the spec from this file instead of standard input.
    #[arg(long, conflicts_with = "catalog")]
    spec: Option<PathBuf>,
    /// Instead of running anything, load every library in this plugin folder and print its
    /// catalog (each plugin's file and manifest, and the rejected files with the reason) as one
    /// JSON document. The daemon validates jobs with it without loading plugin code itself.
    #[arg(long, value_name = "DIR")]
    catalog: Option<PathBuf>,
}

fn read_spec(args: &Args) -> Result<RunnerSpec, String> {
    let (text, source) = match &args.spec {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
            path.display().to_string(),
        ),
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("standard input: {e}"))?;
            (text, "standard input".to_owned())
        }
    };
    serde_json::from_str(&text).map_err(|e| format!("{source}: invalid runner spec: {e}"))
}

/// The results channel: a duplicate of the original standard output. Standard output itself is
/// then pointed at standard error, so whatever plugin code prints (`println!`, C `printf`) can
/// never corrupt the one-JSON-line-per-run protocol.
fn results_channel() -> std::io::Result<std::fs::File> {
    let results = rustix::io::dup(std::io::stdout())?;
    rustix::stdio::dup2_stdout(std::io::stderr())?;
    Ok(std::fs::File::from(results))
}

fn main() {
    let args = Args::parse();
    let mut results = match results_channel() {
        Ok(file) => std::io::BufWriter::new(file),
        Err(e) => {
            eprintln!("barwise-runner: cannot set up the results channel: {e}");
            std::process::exit(ExitCode::OutputFailed as i32);
        }
    };
    if let Some(dir) = &args.catalog {
        let code = match barwise_plugin_host::Registry::scan(dir) {
            Ok(registry) => {
                let written = serde_json::to_writer(&mut results, &registry.catalog())
                    .map_err(std::io::Error::from)
                    .and_then(|()| results.flush());
                match written {
                    Ok(()) => ExitCode::Ok,
                    Err(e) => {
                        eprintln!("barwise-runner: cannot write the catalog: {e}");
                        ExitCode::OutputFailed
                    }
                }
            }
            Err(e) => {
                eprintln!("barwise-runner: {e}");
                ExitCode::BadSpec
            }
        };
        std::process::exit(code as i32);
    }
    let code = match read_spec(&args) {
        Err(message) => {
            eprintln!("barwise-runner: {message}");
            ExitCode::BadSpec
        }
        Ok(spec) => match runner::execute(&spec, &mut results) {
            Ok(code) => code,
            Err((code, message)) => {
                eprintln!("barwise-runner: {message}");
                code
            }
        },
    };
    std::process::exit(code as i32);
}
