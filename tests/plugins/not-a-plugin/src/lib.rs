//! A dynamic library without the Barwise entry symbol.

/// Some unrelated export.
#[unsafe(no_mangle)]
pub extern "C" fn unrelated_function() -> u32 {
    42
}
