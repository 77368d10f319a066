//! The C ABI between the Barwise host and strategy plugins.
//!
//! This crate holds only `#[repr(C)]` types, the ABI version and the entry symbol's name. It has
//! no dependencies and no logic, so that plugins built with any compiler version agree with the
//! host on every byte.
//!
//! # The contract
//! - A plugin is a dynamic library exporting one symbol, [`ENTRY_SYMBOL`], of type [`EntryFn`].
//!   It returns a pointer to a static [`PluginVTable`] that lives as long as the process (the host
//!   never unloads a library).
//! - [`PluginVTable::abi_version`] is the first field and stays first in every future version, so
//!   the host can always read it and refuse a plugin built against another version.
//! - Within one ABI version, changes are append-only: new fields at the end of structs, never a
//!   reordered or retyped field. Any other change bumps [`ABI_VERSION`]. Layout tests pin sizes.
//! - Calls are batched: [`PluginVTable::generate`] receives whole candle columns and fills one
//!   intent per bar, so there is one FFI call per backtest, not one per bar.
//! - Memory is freed by the side that allocated it: strings a plugin returns (error messages) are
//!   released with [`PluginVTable::free_string`]; buffers the host passes are the host's.
//! - No panic or unwind crosses the boundary: every function returns a [`Status`].

use std::ffi::c_void;

/// Version of this ABI. The host refuses plugins that report another one.
pub const ABI_VERSION: u32 = 1;

/// Name of the symbol every plugin exports (NUL-terminated, as the dynamic loader wants it).
pub const ENTRY_SYMBOL: &[u8] = b"barwise_plugin_entry\0";

/// The type of [`ENTRY_SYMBOL`].
pub type EntryFn = unsafe extern "C" fn() -> *const PluginVTable;

/// Borrowed UTF-8 text: `len` bytes at `ptr`, not NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Str {
    /// First byte (may be dangling when `len` is 0).
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

/// Text allocated by the plugin and handed to the host, which returns it through
/// [`PluginVTable::free_string`].
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OwnedStr {
    /// First byte, or null for "no string".
    pub ptr: *mut u8,
    /// Length in bytes.
    pub len: usize,
    /// Allocation capacity, needed by the plugin to free it.
    pub capacity: usize,
}

impl OwnedStr {
    /// The "no string" value.
    pub const NULL: OwnedStr = OwnedStr {
        ptr: std::ptr::null_mut(),
        len: 0,
        capacity: 0,
    };
}

/// Outcome of a plugin call.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u32);

impl Status {
    /// Success.
    pub const OK: Status = Status(0);
    /// The strategy reported an error; the message is in the error out-parameter.
    pub const ERROR: Status = Status(1);
    /// The strategy panicked; the panic message is in the error out-parameter.
    pub const PANIC: Status = Status(2);
}

/// Type of a parameter value.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamKind(pub u32);

impl ParamKind {
    /// 64-bit signed integer.
    pub const INT: ParamKind = ParamKind(0);
    /// 64-bit float.
    pub const FLOAT: ParamKind = ParamKind(1);
    /// Boolean.
    pub const BOOL: ParamKind = ParamKind(2);
}

/// A parameter value; only the field matching `kind` is meaningful.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Value {
    /// Which field holds the value.
    pub kind: ParamKind,
    /// Boolean value, 0 or 1.
    pub boolean: u8,
    /// Integer value.
    pub int: i64,
    /// Float value.
    pub float: f64,
}

/// One entry of the parameter schema in a plugin's manifest.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// Parameter name (`snake_case`).
    pub name: Str,
    /// Value type.
    pub kind: ParamKind,
    /// Default value.
    pub default: Value,
    /// Whether `min` applies.
    pub has_min: u8,
    /// Smallest allowed value (inclusive).
    pub min: Value,
    /// Whether `max` applies.
    pub has_max: u8,
    /// Largest allowed value (inclusive).
    pub max: Value,
    /// One-line description.
    pub help: Str,
}

/// What a plugin is and which parameters it takes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Manifest {
    /// Strategy name, unique among plugins (`snake_case`).
    pub name: Str,
    /// Plugin version (semver text).
    pub version: Str,
    /// One-paragraph description.
    pub description: Str,
    /// Parameter schema.
    pub params: *const ParamSpec,
    /// Number of entries in `params`.
    pub n_params: usize,
}

/// A named parameter value passed to [`PluginVTable::create`]. The host passes every parameter of
/// the schema, defaults filled in and already validated against the schema.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Parameter name.
    pub name: Str,
    /// Its value.
    pub value: Value,
}

/// Whole candle columns, all `len` long, borrowed from the host for the duration of one call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Candles {
    /// Number of candles.
    pub len: usize,
    /// Bar open times, epoch milliseconds UTC, strictly increasing.
    pub time_ms: *const i64,
    /// Opening prices.
    pub open: *const f64,
    /// Highest prices.
    pub high: *const f64,
    /// Lowest prices.
    pub low: *const f64,
    /// Closing prices.
    pub close: *const f64,
    /// Volumes.
    pub volume: *const f64,
}

/// Facts about the run a strategy may need.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// 1 when short entries will be executed, 0 when they will be ignored.
    pub allow_short: u8,
}

/// Host-owned output buffers, `len` entries each, zero-initialised by the host.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SignalBuffers {
    /// Number of entries (equal to the candle count).
    pub len: usize,
    /// Intent per bar: 0 none, 1 enter long, 2 enter short, 3 exit.
    pub intents: *mut u8,
    /// Holding time in bars for entries; 0 means none.
    pub hold_bars: *mut u32,
}

/// Intent codes written into [`SignalBuffers::intents`].
pub mod intent {
    /// Nothing to do.
    pub const NONE: u8 = 0;
    /// Enter long.
    pub const ENTER_LONG: u8 = 1;
    /// Enter short.
    pub const ENTER_SHORT: u8 = 2;
    /// Close any position.
    pub const EXIT: u8 = 3;
}

/// Creates a strategy instance from parameters; on success writes it to `instance`.
pub type CreateFn = unsafe extern "C" fn(
    params: *const Param,
    n_params: usize,
    instance: *mut *mut c_void,
    error: *mut OwnedStr,
) -> Status;

/// Fills the signal buffers for the given candles.
pub type GenerateFn = unsafe extern "C" fn(
    instance: *mut c_void,
    candles: *const Candles,
    context: *const Context,
    out: *mut SignalBuffers,
    error: *mut OwnedStr,
) -> Status;

/// Destroys an instance made by [`CreateFn`].
pub type DestroyFn = unsafe extern "C" fn(instance: *mut c_void);

/// Frees a string the plugin returned.
pub type FreeStringFn = unsafe extern "C" fn(text: OwnedStr);

/// Everything a plugin offers. `abi_version` is first and will stay first in every version.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PluginVTable {
    /// The [`ABI_VERSION`] the plugin was built against.
    pub abi_version: u32,
    /// The plugin's manifest, valid for the life of the process.
    pub manifest: *const Manifest,
    /// See [`CreateFn`].
    pub create: CreateFn,
    /// See [`GenerateFn`].
    pub generate: GenerateFn,
    /// See [`DestroyFn`].
    pub destroy: DestroyFn,
    /// See [`FreeStringFn`].
    pub free_string: FreeStringFn,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// Pins the layout of version 1 on 64-bit targets: changing any of these numbers breaks
    /// every plugin already built, so it requires a new [`ABI_VERSION`].
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn layout_of_version_1() {
        assert_eq!(ABI_VERSION, 1);
        assert_eq!(size_of::<Str>(), 16);
        assert_eq!(size_of::<OwnedStr>(), 24);
        assert_eq!(size_of::<Value>(), 24);
        assert_eq!(size_of::<ParamSpec>(), 128);
        assert_eq!(size_of::<Manifest>(), 64);
        assert_eq!(size_of::<Param>(), 40);
        assert_eq!(size_of::<Candles>(), 56);
        assert_eq!(size_of::<Context>(), 1);
        assert_eq!(size_of::<SignalBuffers>(), 24);
        assert_eq!(size_of::<PluginVTable>(), 48);
        assert_eq!(offset_of!(PluginVTable, abi_version), 0);
        assert_eq!(offset_of!(PluginVTable, manifest), 8);
        assert_eq!(offset_of!(PluginVTable, free_string), 40);
        assert_eq!(align_of::<PluginVTable>(), 8);
        assert_eq!(ENTRY_SYMBOL.last(), Some(&0));
    }
}
