//! `breakout_high`: enter long when the close exceeds the highest high of the previous bars.

use barwise_plugin_sdk::{
    CandleView, Context, ParamDef, Params, PluginInfo, SignalsOut, Strategy, export_plugin,
};

pub struct BreakoutHigh {
    lookback: usize,
    hold: u32,
}

impl Strategy for BreakoutHigh {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "breakout_high",
            env!("CARGO_PKG_VERSION"),
            "Long when the close breaks the highest high of the previous `lookback` bars.",
        )
        .param(ParamDef::int(
            "lookback",
            20,
            Some(1),
            Some(10_000),
            "Bars to look back",
        ))
        .param(ParamDef::int(
            "hold",
            5,
            Some(1),
            Some(1_000),
            "Bars to hold",
        ))
    }

    fn new(params: &Params) -> Result<Self, String> {
        Ok(Self {
            lookback: params.int("lookback")? as usize,
            hold: params.int("hold")? as u32,
        })
    }

    fn generate(
        &mut self,
        c: &CandleView<'_>,
        _context: &Context,
        out: &mut SignalsOut<'_>,
    ) -> Result<(), String> {
        for i in self.lookback..c.len() {
            let highest = c.high[i - self.lookback..i]
                .iter()
                .copied()
                .fold(f64::MIN, f64::max);
            if c.close[i] > highest {
                out.enter_long(i, self.hold);
            }
        }
        Ok(())
    }
}

export_plugin!(BreakoutHigh);
