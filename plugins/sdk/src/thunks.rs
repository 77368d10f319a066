//! The C entry points generated for a [`Strategy`]: conversions between ABI and Rust types, and
//! the panic guard around every call into strategy code.

use std::any::Any;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use barwise_plugin_abi as abi;

use crate::params::{ParamDef, ParamValue, Params};
use crate::{CandleView, Context, SignalsOut, Strategy};

/// The exported tables of one plugin, built once and kept for the life of the process.
#[derive(Debug)]
pub struct Exported {
    // The manifest and vtable point into these; they are never moved or dropped (the value lives
    // in a static), so the pointers stay valid.
    _specs: Vec<abi::ParamSpec>,
    _manifest: Box<abi::Manifest>,
    vtable: Box<abi::PluginVTable>,
}

// SAFETY: `Exported` is immutable after construction and only holds pointers to `'static` text
// and to its own heap allocations, so sharing it between threads is sound.
unsafe impl Sync for Exported {}
// SAFETY: as above; nothing in it is tied to the thread that built it.
unsafe impl Send for Exported {}

impl Exported {
    /// Builds the tables for `S`; `None` if `S::info()` panicked.
    pub fn new<S: Strategy>() -> Option<Self> {
        let info = catch_unwind(S::info).ok()?;
        let specs: Vec<abi::ParamSpec> = info.params.iter().map(spec).collect();
        let manifest = Box::new(abi::Manifest {
            name: text(info.name),
            version: text(info.version),
            description: text(info.description),
            params: specs.as_ptr(),
            n_params: specs.len(),
        });
        let vtable = Box::new(abi::PluginVTable {
            abi_version: abi::ABI_VERSION,
            manifest: &*manifest,
            create: create::<S>,
            generate: generate::<S>,
            destroy: destroy::<S>,
            free_string,
        });
        Some(Self {
            _specs: specs,
            _manifest: manifest,
            vtable,
        })
    }

    /// Pointer to the vtable, valid for the life of the process.
    pub fn vtable(&self) -> *const abi::PluginVTable {
        &*self.vtable
    }
}

fn text(s: &'static str) -> abi::Str {
    abi::Str {
        ptr: s.as_ptr(),
        len: s.len(),
    }
}

fn value(v: ParamValue) -> abi::Value {
    let mut out = abi::Value {
        kind: abi::ParamKind::INT,
        boolean: 0,
        int: 0,
        float: 0.0,
    };
    match v {
        ParamValue::Int(i) => out.int = i,
        ParamValue::Float(f) => {
            out.kind = abi::ParamKind::FLOAT;
            out.float = f;
        }
        ParamValue::Bool(b) => {
            out.kind = abi::ParamKind::BOOL;
            out.boolean = u8::from(b);
        }
    }
    out
}

fn spec(def: &ParamDef) -> abi::ParamSpec {
    let zero = value(def.default);
    abi::ParamSpec {
        name: text(def.name),
        kind: zero.kind,
        default: zero,
        has_min: u8::from(def.min.is_some()),
        min: def.min.map_or(zero, value),
        has_max: u8::from(def.max.is_some()),
        max: def.max.map_or(zero, value),
        help: text(def.help),
    }
}

fn owned(message: String) -> abi::OwnedStr {
    let mut bytes = std::mem::ManuallyDrop::new(message.into_bytes());
    abi::OwnedStr {
        ptr: bytes.as_mut_ptr(),
        len: bytes.len(),
        capacity: bytes.capacity(),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    format!("strategy panicked: {detail}")
}

/// Runs `body` with panics caught, turning the outcome into a status and an error message.
///
/// # Safety
/// `error` must be null or valid for a write.
unsafe fn guarded(
    error: *mut abi::OwnedStr,
    body: impl FnOnce() -> Result<(), String>,
) -> abi::Status {
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return abi::Status::OK,
        Ok(Err(message)) => (abi::Status::ERROR, message),
        Err(payload) => (abi::Status::PANIC, panic_message(payload.as_ref())),
    };
    if !error.is_null() {
        // SAFETY: the caller guarantees `error` is valid for a write.
        unsafe { error.write(owned(message)) };
    }
    status
}

/// # Safety
/// `s` must describe `len` readable bytes of UTF-8 that outlive the returned reference.
unsafe fn read_str<'a>(s: abi::Str) -> Result<&'a str, String> {
    if s.len == 0 {
        return Ok("");
    }
    // SAFETY: guaranteed by the caller.
    let bytes = unsafe { std::slice::from_raw_parts(s.ptr, s.len) };
    std::str::from_utf8(bytes).map_err(|e| format!("parameter name is not UTF-8: {e}"))
}

/// # Safety
/// `ptr` must be null with `len == 0`, or point to `len` readable `T`s outliving the result.
unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if len == 0 {
        &[]
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

unsafe extern "C" fn create<S: Strategy>(
    params: *const abi::Param,
    n_params: usize,
    instance: *mut *mut c_void,
    error: *mut abi::OwnedStr,
) -> abi::Status {
    let body = || {
        let mut values = Params::default();
        // SAFETY: the host passes `n_params` valid `Param`s that live for this call.
        for p in unsafe { slice(params, n_params) } {
            // SAFETY: parameter names are valid UTF-8 text owned by the host during the call.
            let name = unsafe { read_str(p.name) }?;
            let v = match p.value.kind {
                abi::ParamKind::INT => ParamValue::Int(p.value.int),
                abi::ParamKind::FLOAT => ParamValue::Float(p.value.float),
                abi::ParamKind::BOOL => ParamValue::Bool(p.value.boolean != 0),
                other => return Err(format!("parameter {name}: unknown kind {}", other.0)),
            };
            values = values.with(name, v);
        }
        let strategy = S::new(&values)?;
        let boxed = Box::into_raw(Box::new(strategy)).cast::<c_void>();
        // SAFETY: the host passes a valid pointer to write the instance to.
        unsafe { instance.write(boxed) };
        Ok(())
    };
    // SAFETY: the host passes a valid (or null) error slot.
    unsafe { guarded(error, body) }
}

unsafe extern "C" fn generate<S: Strategy>(
    instance: *mut c_void,
    candles: *const abi::Candles,
    context: *const abi::Context,
    out: *mut abi::SignalBuffers,
    error: *mut abi::OwnedStr,
) -> abi::Status {
    let body = || {
        // SAFETY: `instance` came from `create::<S>` and is used by one thread at a time; the
        // candle, context and buffer pointers are valid for this call, columns `len` long.
        let (strategy, c, context, out) =
            unsafe { (&mut *instance.cast::<S>(), &*candles, &*context, &mut *out) };
        if out.len != c.len {
            return Err(format!(
                "host passed {} candles but {} signal slots",
                c.len, out.len
            ));
        }
        // SAFETY: every column and buffer is `len` long and valid for this call (see above).
        let (view, mut signals) = unsafe {
            (
                CandleView {
                    time_ms: slice(c.time_ms, c.len),
                    open: slice(c.open, c.len),
                    high: slice(c.high, c.len),
                    low: slice(c.low, c.len),
                    close: slice(c.close, c.len),
                    volume: slice(c.volume, c.len),
                },
                SignalsOut::new(
                    slice_mut(out.intents, out.len),
                    slice_mut(out.hold_bars, out.len),
                ),
            )
        };
        let context = Context {
            allow_short: context.allow_short != 0,
        };
        strategy.generate(&view, &context, &mut signals)
    };
    // SAFETY: the host passes a valid (or null) error slot.
    unsafe { guarded(error, body) }
}

/// # Safety
/// `ptr` must be null with `len == 0`, or point to `len` writable `T`s, unaliased, outliving the
/// result.
unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize) -> &'a mut [T] {
    if len == 0 {
        &mut []
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(ptr, len) }
    }
}

unsafe extern "C" fn destroy<S: Strategy>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // A panicking destructor must not unwind into the host; the instance is leaked then.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `instance` came from `Box::into_raw` in `create::<S>` and is destroyed once.
        drop(unsafe { Box::from_raw(instance.cast::<S>()) });
    }));
}

unsafe extern "C" fn free_string(text: abi::OwnedStr) {
    if text.ptr.is_null() {
        return;
    }
    // SAFETY: `text` was produced by `owned` in this library from a `Vec<u8>` with exactly this
    // pointer, length and capacity, and is freed once.
    drop(unsafe { Vec::from_raw_parts(text.ptr, text.len, text.capacity) });
}
