//! Write Barwise strategy plugins in plain safe Rust.
//!
//! Implement [`Strategy`] and call [`export_plugin!`] once in a `cdylib` crate; the macro
//! generates the C entry point and thunks that catch panics, so a panicking strategy becomes an
//! error status with the panic message instead of aborting the host. See `docs/plugins.md`.
//!
//! ```ignore
//! use barwise_plugin_sdk::{CandleView, Context, ParamDef, Params, PluginInfo, SignalsOut, Strategy};
//!
//! pub struct AlwaysLong;
//! impl Strategy for AlwaysLong {
//!     fn info() -> PluginInfo {
//!         PluginInfo::new("always_long", env!("CARGO_PKG_VERSION"), "Buys the first bar.")
//!     }
//!     fn new(_params: &Params) -> Result<Self, String> { Ok(AlwaysLong) }
//!     fn generate(&mut self, c: &CandleView<'_>, _: &Context, out: &mut SignalsOut<'_>) -> Result<(), String> {
//!         if c.len() > 0 { out.enter_long(0, 0); }
//!         Ok(())
//!     }
//! }
//! barwise_plugin_sdk::export_plugin!(AlwaysLong);
//! ```

mod params;
mod thunks;

pub use barwise_plugin_abi as abi;
pub use params::{ParamDef, ParamValue, Params, PluginInfo};

#[doc(hidden)]
pub mod __private {
    pub use crate::thunks::Exported;
}

/// The candle columns of one backtest, all the same length.
#[derive(Debug, Clone, Copy)]
pub struct CandleView<'a> {
    /// Bar open times, epoch milliseconds UTC, strictly increasing.
    pub time_ms: &'a [i64],
    /// Opening prices (> 0).
    pub open: &'a [f64],
    /// Highest prices.
    pub high: &'a [f64],
    /// Lowest prices.
    pub low: &'a [f64],
    /// Closing prices.
    pub close: &'a [f64],
    /// Volumes (>= 0).
    pub volume: &'a [f64],
}

impl CandleView<'_> {
    /// Number of candles.
    pub fn len(&self) -> usize {
        self.time_ms.len()
    }

    /// True when there are no candles.
    pub fn is_empty(&self) -> bool {
        self.time_ms.is_empty()
    }
}

/// Facts about the run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// Whether short entries will be executed (otherwise they are ignored and counted).
    pub allow_short: bool,
}

/// Where a strategy writes its intents: one slot per bar, all initially "nothing".
#[derive(Debug)]
pub struct SignalsOut<'a> {
    intents: &'a mut [u8],
    hold_bars: &'a mut [u32],
}

impl<'a> SignalsOut<'a> {
    /// Wraps output buffers of equal length.
    ///
    /// # Panics
    /// When the buffers differ in length.
    pub fn new(intents: &'a mut [u8], hold_bars: &'a mut [u32]) -> Self {
        assert_eq!(
            intents.len(),
            hold_bars.len(),
            "signal buffers differ in length"
        );
        Self { intents, hold_bars }
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.intents.len()
    }

    /// True when there are no bars.
    pub fn is_empty(&self) -> bool {
        self.intents.is_empty()
    }

    /// Enter long at `bar`; `hold_bars > 0` closes the position that many bars later.
    pub fn enter_long(&mut self, bar: usize, hold_bars: u32) {
        self.intents[bar] = abi::intent::ENTER_LONG;
        self.hold_bars[bar] = hold_bars;
    }

    /// Enter short at `bar`; `hold_bars > 0` closes the position that many bars later.
    pub fn enter_short(&mut self, bar: usize, hold_bars: u32) {
        self.intents[bar] = abi::intent::ENTER_SHORT;
        self.hold_bars[bar] = hold_bars;
    }

    /// Close any open position at `bar`.
    pub fn exit(&mut self, bar: usize) {
        self.intents[bar] = abi::intent::EXIT;
        self.hold_bars[bar] = 0;
    }
}

/// A trading strategy: parameters in, one intent per bar out.
///
/// `generate` sees every candle at once and must not look ahead by accident: the intent at bar
/// `i` may only use data up to and including bar `i` (it is filled at bar `i`'s close or bar
/// `i + 1`'s open).
pub trait Strategy: Sized + Send + 'static {
    /// Name, version, description and parameter schema.
    fn info() -> PluginInfo;

    /// Builds the strategy. `params` holds every schema parameter, already type- and
    /// range-checked by the host; check cross-parameter rules here.
    ///
    /// # Errors
    /// A message saying which parameters are inconsistent and why.
    fn new(params: &Params) -> Result<Self, String>;

    /// Writes intents for `candles` into `out`.
    ///
    /// # Errors
    /// A message describing what went wrong; the run fails with it.
    fn generate(
        &mut self,
        candles: &CandleView<'_>,
        context: &Context,
        out: &mut SignalsOut<'_>,
    ) -> Result<(), String>;
}

/// Exports a [`Strategy`] as a Barwise plugin: generates the `barwise_plugin_entry` symbol.
/// Use it exactly once per `cdylib`.
#[macro_export]
macro_rules! export_plugin {
    ($strategy:ty) => {
        /// Entry point the Barwise host looks up; returns the plugin's vtable or null if building
        /// the manifest panicked.
        #[unsafe(no_mangle)]
        pub extern "C" fn barwise_plugin_entry() -> *const $crate::abi::PluginVTable {
            static EXPORTED: ::std::sync::OnceLock<
                ::std::option::Option<$crate::__private::Exported>,
            > = ::std::sync::OnceLock::new();
            EXPORTED
                .get_or_init($crate::__private::Exported::new::<$strategy>)
                .as_ref()
                .map_or(::std::ptr::null(), $crate::__private::Exported::vtable)
        }
    };
}
