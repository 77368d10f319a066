//! A library that exports the entry symbol but reports an ABI version the host does not speak.

use barwise_plugin_abi as abi;

/// Only `abi_version` is read by a host of another version; the rest stays zeroed.
#[repr(C)]
pub struct FutureVTable {
    abi_version: u32,
    reserved: [u64; 8],
}

static VTABLE: FutureVTable = FutureVTable {
    abi_version: 999,
    reserved: [0; 8],
};

/// Returns a vtable of ABI version 999.
#[unsafe(no_mangle)]
pub extern "C" fn barwise_plugin_entry() -> *const abi::PluginVTable {
    (&raw const VTABLE).cast()
}
