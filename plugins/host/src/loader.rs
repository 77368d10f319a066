//! Loading a plugin library and calling into it. Every `unsafe` block of the host is here.

use std::ffi::c_void;
use std::path::{Path, PathBuf};

use barwise_engine::{Candles, ParamValue, Params, Signals};
use barwise_plugin_abi as abi;
use serde::{Deserialize, Serialize};

use crate::HostError;
use crate::params::{self, ParamKind, ParamSchema, ParamsError, RawParam};

/// A plugin's manifest, copied out of the library into Rust types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginManifest {
    /// Strategy name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Parameter schema.
    pub params: Vec<ParamSchema>,
}

/// A loaded, validated plugin. The library stays mapped for the life of the process.
#[derive(Debug, Clone)]
pub struct Plugin {
    path: PathBuf,
    vtable: &'static abi::PluginVTable,
    manifest: PluginManifest,
}

// SAFETY: the vtable is immutable static data of a library that is never unloaded, and its
// functions are safe to call from any thread (instances are not shared: see `Instance`).
unsafe impl Send for Plugin {}
// SAFETY: as above; `&Plugin` only gives access to immutable data.
unsafe impl Sync for Plugin {}

impl Plugin {
    /// Loads the library at `path`, checks its ABI version and validates its manifest.
    ///
    /// # Errors
    /// [`HostError::Load`] for a file the dynamic loader refuses, [`HostError::MissingSymbol`],
    /// [`HostError::AbiMismatch`] naming both versions, [`HostError::InvalidManifest`].
    pub fn load(path: &Path) -> Result<Plugin, HostError> {
        // SAFETY: loading a library runs its initialisers. Barwise plugins are trusted code placed
        // in the plugin folder by the operator; the daemon only loads them in the runner process.
        let library = unsafe { libloading::Library::new(path) }.map_err(|e| HostError::Load {
            path: path.to_owned(),
            reason: error_chain(&e),
        })?;
        // Never unload: the vtable and manifest below borrow the library's memory forever.
        let library: &'static libloading::Library = Box::leak(Box::new(library));
        // SAFETY: the symbol, if present, has the `EntryFn` type by the ABI contract.
        let entry = unsafe { library.get::<abi::EntryFn>(abi::ENTRY_SYMBOL) }.map_err(|_| {
            HostError::MissingSymbol {
                path: path.to_owned(),
                symbol: String::from_utf8_lossy(&abi::ENTRY_SYMBOL[..abi::ENTRY_SYMBOL.len() - 1])
                    .into_owned(),
            }
        })?;
        // SAFETY: the entry function takes no arguments and returns a pointer to a static vtable
        // (or null); the SDK's implementation catches panics.
        let vtable_ptr = unsafe { entry() };
        if vtable_ptr.is_null() {
            return Err(invalid(path, "the entry function returned no vtable"));
        }
        // SAFETY: non-null; the first field is `abi_version` in every ABI version, so reading it
        // is valid even for a plugin built against another version.
        let found = unsafe { std::ptr::addr_of!((*vtable_ptr).abi_version).read() };
        if found != abi::ABI_VERSION {
            return Err(HostError::AbiMismatch {
                path: path.to_owned(),
                expected: abi::ABI_VERSION,
                found,
            });
        }
        // SAFETY: same ABI version, so the pointer is to a live `PluginVTable` with the layout
        // we know, valid for the life of the (never unloaded) library.
        let vtable: &'static abi::PluginVTable = unsafe { &*vtable_ptr };
        let manifest = read_manifest(path, vtable)?;
        Ok(Plugin {
            path: path.to_owned(),
            vtable,
            manifest,
        })
    }

    /// The library file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Name, version, description and parameter schema.
    pub fn manifest(&self) -> &PluginManifest {
        &self.manifest
    }

    /// Validates requested parameters against the schema and fills in defaults.
    ///
    /// # Errors
    /// [`ParamsError`] listing every problem and the valid parameters.
    pub fn resolve_params(
        &self,
        requested: &std::collections::BTreeMap<String, RawParam>,
    ) -> Result<Params, ParamsError> {
        params::resolve(&self.manifest.name, &self.manifest.params, requested)
    }

    /// Creates a strategy instance.
    ///
    /// # Errors
    /// The strategy's rejection of the parameters, or its panic.
    pub fn instantiate(&self, params: &Params) -> Result<Instance<'_>, HostError> {
        let names: Vec<(&String, &ParamValue)> = params.iter().collect();
        let abi_params: Vec<abi::Param> = names
            .iter()
            .map(|(name, value)| abi::Param {
                name: abi::Str {
                    ptr: name.as_ptr(),
                    len: name.len(),
                },
                value: to_abi(**value),
            })
            .collect();
        let mut handle: *mut c_void = std::ptr::null_mut();
        let mut error = abi::OwnedStr::NULL;
        // SAFETY: `abi_params` and the names it points to outlive the call; `handle` and `error`
        // are valid for writes.
        let status = unsafe {
            (self.vtable.create)(
                abi_params.as_ptr(),
                abi_params.len(),
                &mut handle,
                &mut error,
            )
        };
        self.check(status, error)?;
        if handle.is_null() {
            return Err(HostError::Strategy {
                plugin: self.manifest.name.clone(),
                message: "create returned no instance".into(),
            });
        }
        Ok(Instance {
            plugin: self,
            handle,
        })
    }

    /// Turns a status and error string into a result, freeing the string in the plugin.
    fn check(&self, status: abi::Status, error: abi::OwnedStr) -> Result<(), HostError> {
        let message = if error.ptr.is_null() {
            String::new()
        } else {
            // SAFETY: the plugin wrote `len` bytes at `ptr` and keeps them until `free_string`.
            let bytes = unsafe { std::slice::from_raw_parts(error.ptr, error.len) };
            let text = String::from_utf8_lossy(bytes).into_owned();
            // SAFETY: the string came from this plugin and is freed exactly once, here.
            unsafe { (self.vtable.free_string)(error) };
            text
        };
        let plugin = self.manifest.name.clone();
        match status {
            abi::Status::OK => Ok(()),
            abi::Status::ERROR => Err(HostError::Strategy { plugin, message }),
            abi::Status::PANIC => Err(HostError::Panic { plugin, message }),
            abi::Status(status) => Err(HostError::UnknownStatus { plugin, status }),
        }
    }
}

/// A strategy instance inside a plugin, destroyed on drop. Not shared between threads.
#[derive(Debug)]
pub struct Instance<'p> {
    plugin: &'p Plugin,
    handle: *mut c_void,
}

impl Instance<'_> {
    /// Asks the strategy for one intent per candle, in one call with whole columns.
    ///
    /// # Errors
    /// The strategy's error or panic, or an intent code outside the ABI.
    pub fn generate(&mut self, candles: &Candles, allow_short: bool) -> Result<Signals, HostError> {
        let n = candles.len();
        let mut intents = vec![0u8; n];
        let mut hold_bars = vec![0u32; n];
        let columns = abi::Candles {
            len: n,
            time_ms: candles.time_ms().as_ptr(),
            open: candles.open().as_ptr(),
            high: candles.high().as_ptr(),
            low: candles.low().as_ptr(),
            close: candles.close().as_ptr(),
            volume: candles.volume().as_ptr(),
        };
        let context = abi::Context {
            allow_short: u8::from(allow_short),
        };
        let mut out = abi::SignalBuffers {
            len: n,
            intents: intents.as_mut_ptr(),
            hold_bars: hold_bars.as_mut_ptr(),
        };
        let mut error = abi::OwnedStr::NULL;
        // SAFETY: the instance came from this plugin's `create`; the columns and buffers are `n`
        // long and live across the call; `error` is valid for a write.
        let status = unsafe {
            (self.plugin.vtable.generate)(self.handle, &columns, &context, &mut out, &mut error)
        };
        self.plugin.check(status, error)?;
        Signals::from_codes(&intents, hold_bars).map_err(|(bar, code)| HostError::InvalidIntent {
            plugin: self.plugin.manifest.name.clone(),
            bar,
            code,
        })
    }
}

impl Drop for Instance<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle came from this plugin's `create` and is destroyed exactly once.
        unsafe { (self.plugin.vtable.destroy)(self.handle) };
    }
}

fn to_abi(value: ParamValue) -> abi::Value {
    let mut out = abi::Value {
        kind: abi::ParamKind::INT,
        boolean: 0,
        int: 0,
        float: 0.0,
    };
    match value {
        ParamValue::Int(i) => out.int = i,
        ParamValue::Float(x) => {
            out.kind = abi::ParamKind::FLOAT;
            out.float = x;
        }
        ParamValue::Bool(b) => {
            out.kind = abi::ParamKind::BOOL;
            out.boolean = u8::from(b);
        }
    }
    out
}

/// An error and its sources, joined: libloading's own message is only "dlopen failed", the
/// loader's reason (missing file, wrong ELF class, undefined symbol) is in its source.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn invalid(path: &Path, reason: impl Into<String>) -> HostError {
    HostError::InvalidManifest {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Reads text from the plugin.
///
/// # Safety
/// `s` must point to `len` readable bytes that live as long as the library.
unsafe fn read_text(path: &Path, what: &str, s: abi::Str) -> Result<String, HostError> {
    if s.len == 0 {
        return Ok(String::new());
    }
    if s.ptr.is_null() {
        return Err(invalid(path, format!("{what} is a null pointer")));
    }
    // SAFETY: guaranteed by the caller.
    let bytes = unsafe { std::slice::from_raw_parts(s.ptr, s.len) };
    String::from_utf8(bytes.to_vec()).map_err(|_| invalid(path, format!("{what} is not UTF-8")))
}

fn from_abi(
    path: &Path,
    what: &str,
    kind: ParamKind,
    v: abi::Value,
) -> Result<ParamValue, HostError> {
    let value = match v.kind {
        abi::ParamKind::INT => ParamValue::Int(v.int),
        abi::ParamKind::FLOAT => ParamValue::Float(v.float),
        abi::ParamKind::BOOL => ParamValue::Bool(v.boolean != 0),
        other => {
            return Err(invalid(
                path,
                format!("{what}: unknown type code {}", other.0),
            ));
        }
    };
    let matches = matches!(
        (kind, value),
        (ParamKind::Int, ParamValue::Int(_))
            | (ParamKind::Float, ParamValue::Float(_))
            | (ParamKind::Bool, ParamValue::Bool(_))
    );
    if !matches {
        return Err(invalid(
            path,
            format!("{what}: value {value} is not of type {kind}"),
        ));
    }
    if let ParamValue::Float(x) = value
        && !x.is_finite()
    {
        return Err(invalid(path, format!("{what}: {x} is not finite")));
    }
    Ok(value)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn read_manifest(path: &Path, vtable: &abi::PluginVTable) -> Result<PluginManifest, HostError> {
    if vtable.manifest.is_null() {
        return Err(invalid(path, "no manifest"));
    }
    // SAFETY: non-null pointer to the plugin's static manifest, valid while the library is loaded.
    let m = unsafe { &*vtable.manifest };
    // SAFETY: manifest strings point to static text of the library.
    let (name, version, description) = unsafe {
        (
            read_text(path, "name", m.name)?,
            read_text(path, "version", m.version)?,
            read_text(path, "description", m.description)?,
        )
    };
    if !is_identifier(&name) {
        return Err(invalid(
            path,
            format!("name {name:?} must be snake_case (a-z, 0-9, _; starting with a letter)"),
        ));
    }
    if version.is_empty() {
        return Err(invalid(path, "version is empty"));
    }
    let specs: &[abi::ParamSpec] = if m.n_params == 0 {
        &[]
    } else if m.params.is_null() {
        return Err(invalid(path, "parameter list is a null pointer"));
    } else {
        // SAFETY: `params` points to `n_params` static specs of the library.
        unsafe { std::slice::from_raw_parts(m.params, m.n_params) }
    };
    let mut params = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        // SAFETY: static text of the library.
        let pname = unsafe { read_text(path, &format!("parameter {i} name"), spec.name)? };
        if !is_identifier(&pname) {
            return Err(invalid(
                path,
                format!("parameter name {pname:?} must be snake_case"),
            ));
        }
        if params.iter().any(|p: &ParamSchema| p.name == pname) {
            return Err(invalid(
                path,
                format!("parameter {pname} is declared twice"),
            ));
        }
        let kind = match spec.kind {
            abi::ParamKind::INT => ParamKind::Int,
            abi::ParamKind::FLOAT => ParamKind::Float,
            abi::ParamKind::BOOL => ParamKind::Bool,
            other => {
                return Err(invalid(
                    path,
                    format!("parameter {pname}: unknown type code {}", other.0),
                ));
            }
        };
        let default = from_abi(
            path,
            &format!("parameter {pname} default"),
            kind,
            spec.default,
        )?;
        let min = (spec.has_min != 0)
            .then(|| from_abi(path, &format!("parameter {pname} min"), kind, spec.min))
            .transpose()?;
        let max = (spec.has_max != 0)
            .then(|| from_abi(path, &format!("parameter {pname} max"), kind, spec.max))
            .transpose()?;
        // SAFETY: static text of the library.
        let help = unsafe { read_text(path, &format!("parameter {pname} help"), spec.help)? };
        let schema = ParamSchema {
            name: pname.clone(),
            kind,
            default,
            min,
            max,
            help,
        };
        let range_ok = match (default, min, max) {
            (ParamValue::Int(d), lo, hi) => {
                lo.is_none_or(|l| matches!(l, ParamValue::Int(l) if l <= d))
                    && hi.is_none_or(|h| matches!(h, ParamValue::Int(h) if d <= h))
            }
            (ParamValue::Float(d), lo, hi) => {
                lo.is_none_or(|l| matches!(l, ParamValue::Float(l) if l <= d))
                    && hi.is_none_or(|h| matches!(h, ParamValue::Float(h) if d <= h))
            }
            (ParamValue::Bool(_), _, _) => true,
        };
        if !range_ok {
            return Err(invalid(
                path,
                format!("parameter {pname}: default {default} is outside its own range"),
            ));
        }
        params.push(schema);
    }
    Ok(PluginManifest {
        name,
        version,
        description,
        params,
    })
}
