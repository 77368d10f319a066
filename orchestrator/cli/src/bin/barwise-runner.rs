//! `barwise-runner`: runs a batch of backtests of one plugin in this process, so that plugin code
//! never runs inside the daemon. Protocol and exit codes: `barwise::runner`.

use std::io::Read;
use std::path::PathBuf;

use barwise::runner::{self, ExitCode, RunnerSpec};
use clap::Parser;

/// Runs a batch of backtests of one strategy plugin (JSON spec in, one JSON line per run out).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Read the spec from this file instead of standard input.
    #[arg(long)]
    spec: Option<PathBuf>,
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

fn main() {
    let args = Args::parse();
    let code = match read_spec(&args) {
        Err(message) => {
            eprintln!("barwise-runner: {message}");
            ExitCode::BadSpec
        }
        Ok(spec) => match runner::execute(&spec, &mut std::io::stdout().lock()) {
            Ok(code) => code,
            Err((code, message)) => {
                eprintln!("barwise-runner: {message}");
                code
            }
        },
    };
    std::process::exit(code as i32);
}
