//! Progress of a job on standard error: a bar redrawn in place on a terminal, plain lines
//! (every 10 % and at the end) when the output goes to a file or a log.

use std::io::IsTerminal as _;

/// A progress display.
#[derive(Debug)]
pub struct ProgressLine {
    terminal: bool,
    last: Option<usize>,
    unit: &'static str,
}

impl Default for ProgressLine {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressLine {
    /// A bar when standard error is a terminal, plain lines otherwise.
    pub fn new() -> ProgressLine {
        ProgressLine::counting("runs")
    }

    /// A display of `unit` (`"runs"`, `"jobs"`…); failures are shown for runs only.
    pub fn counting(unit: &'static str) -> ProgressLine {
        ProgressLine {
            terminal: std::io::stderr().is_terminal(),
            last: None,
            unit,
        }
    }

    fn failures(&self, failed: usize) -> String {
        if self.unit == "runs" {
            format!(" ({failed} failed)")
        } else {
            String::new()
        }
    }

    /// Shows `done` of `total` runs, `failed` of them failed.
    pub fn update(&mut self, done: usize, failed: usize, total: usize) {
        if self.terminal {
            let width = 30;
            let filled = (done * width)
                .checked_div(total)
                .unwrap_or(width)
                .min(width);
            eprint!(
                "\r[{}{}] {done}/{total} {}{}",
                "=".repeat(filled),
                " ".repeat(width - filled),
                self.unit,
                self.failures(failed)
            );
            if done == total {
                eprintln!();
            }
            return;
        }
        let step = (total / 10).max(1);
        let due = match self.last {
            None => true,
            Some(last) => done == total && last != total || done >= last + step,
        };
        if due {
            self.last = Some(done);
            eprintln!(
                "progress: {done}/{total} {}{}",
                self.unit,
                self.failures(failed)
            );
        }
    }
}
