//! A plugin that kills its process (segfault or abort), to prove only the runner dies.

use barwise_plugin_sdk::{
    CandleView, Context, ParamDef, Params, PluginInfo, SignalsOut, Strategy, export_plugin,
};

/// Crashes in `generate` when `mode` is 1 (segfault) or 2 (abort), hangs for a minute when it
/// is 3, and with mode 4 writes 1 MB of chatter to stdout and stderr, then runs normally; mode 0
/// runs normally. `sleep_ms` makes every run take at least that long, for tests that need a job
/// to be in progress (cancel, kill -9, shutdown).
pub struct Crashing {
    mode: i64,
    sleep_ms: i64,
}

impl Strategy for Crashing {
    fn info() -> PluginInfo {
        PluginInfo::new("test_crashing", "0.0.1", "Crashes on purpose.")
            .param(ParamDef::int(
                "mode",
                1,
                Some(0),
                Some(4),
                "0 behaves, 1 segfaults, 2 aborts, 3 hangs for 60 s, 4 chatters then behaves",
            ))
            .param(ParamDef::int(
                "sleep_ms",
                0,
                Some(0),
                Some(60_000),
                "sleep this long before generating signals",
            ))
    }

    fn new(params: &Params) -> Result<Self, String> {
        Ok(Self {
            mode: params.int("mode")?,
            sleep_ms: params.int("sleep_ms")?,
        })
    }

    fn generate(
        &mut self,
        _: &CandleView<'_>,
        _: &Context,
        out: &mut SignalsOut<'_>,
    ) -> Result<(), String> {
        std::thread::sleep(std::time::Duration::from_millis(self.sleep_ms as u64));
        match self.mode {
            1 => {
                let address = std::hint::black_box(8usize) as *mut u8;
                // SAFETY: not safe at all: this writes to an unmapped address on purpose.
                unsafe { address.write_volatile(1) };
            }
            2 => std::process::abort(),
            3 => std::thread::sleep(std::time::Duration::from_secs(60)),
            4 => {
                let line = "chatter without a newline at the end ".repeat(100);
                for _ in 0..300 {
                    print!("{line}");
                    eprint!("{line}");
                }
                if !out.is_empty() {
                    out.enter_long(0, 1);
                }
            }
            _ => {
                if !out.is_empty() {
                    out.enter_long(0, 1);
                }
            }
        }
        Ok(())
    }
}

export_plugin!(Crashing);
