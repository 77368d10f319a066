//! What a strategy asks for at each bar.

use serde::{Deserialize, Serialize};

/// A strategy's wish at one bar. The numeric values are part of the plugin ABI and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Intent {
    /// Nothing to do.
    #[default]
    None = 0,
    /// Open a long position (closing a short one first).
    EnterLong = 1,
    /// Open a short position (closing a long one first); ignored unless shorts are allowed.
    EnterShort = 2,
    /// Close any open position.
    Exit = 3,
}

impl Intent {
    /// The intent with ABI code `code`, or `None` for an unknown code.
    pub fn from_code(code: u8) -> Option<Intent> {
        match code {
            0 => Some(Intent::None),
            1 => Some(Intent::EnterLong),
            2 => Some(Intent::EnterShort),
            3 => Some(Intent::Exit),
            _ => None,
        }
    }
}

/// Per-bar intents and optional holding times, one entry per candle.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Signals {
    /// The intent at each bar.
    pub intents: Vec<Intent>,
    /// For entries: exit after this many bars (0 = no holding limit from the strategy).
    pub hold_bars: Vec<u32>,
}

impl Signals {
    /// `n` bars of [`Intent::None`].
    pub fn none(n: usize) -> Self {
        Self {
            intents: vec![Intent::None; n],
            hold_bars: vec![0; n],
        }
    }

    /// Signals from ABI intent codes (see [`Intent::from_code`]) and holding times.
    ///
    /// # Errors
    /// `(bar, code)` of the first code that is not an intent.
    pub fn from_codes(codes: &[u8], hold_bars: Vec<u32>) -> Result<Self, (usize, u8)> {
        let intents = codes
            .iter()
            .enumerate()
            .map(|(bar, &code)| Intent::from_code(code).ok_or((bar, code)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { intents, hold_bars })
    }

    /// Number of bars covered.
    pub fn len(&self) -> usize {
        self.intents.len()
    }

    /// True when no bar is covered.
    pub fn is_empty(&self) -> bool {
        self.intents.is_empty()
    }

    /// Sets an entry at `bar` with an optional holding time.
    pub fn set(&mut self, bar: usize, intent: Intent, hold_bars: u32) {
        self.intents[bar] = intent;
        self.hold_bars[bar] = hold_bars;
    }
}
