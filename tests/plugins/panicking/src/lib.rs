//! A plugin whose strategy panics, to prove panics come back as errors and never cross the ABI.

use barwise_plugin_sdk::{
    CandleView, Context, ParamDef, Params, PluginInfo, SignalsOut, Strategy, export_plugin,
};

/// Panics in `new` or in `generate`, depending on `panic_in`.
pub struct Panicking {
    panic_in_generate: bool,
}

impl Strategy for Panicking {
    fn info() -> PluginInfo {
        PluginInfo::new("test_panicking", "0.0.1", "Panics on purpose.").param(ParamDef::boolean(
            "in_generate",
            true,
            "Panic in generate (true) or in new (false)",
        ))
    }

    fn new(params: &Params) -> Result<Self, String> {
        let panic_in_generate = params.boolean("in_generate")?;
        if !panic_in_generate {
            panic!("boom in new");
        }
        Ok(Self { panic_in_generate })
    }

    fn generate(
        &mut self,
        candles: &CandleView<'_>,
        _: &Context,
        _: &mut SignalsOut<'_>,
    ) -> Result<(), String> {
        if self.panic_in_generate {
            panic!("boom at bar {}", candles.len() / 2);
        }
        Ok(())
    }
}

export_plugin!(Panicking);
