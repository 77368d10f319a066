//! Parameter schema and values, in safe Rust types.

use std::collections::BTreeMap;

/// A parameter value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamValue {
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Bool(bool),
}

/// One parameter of the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    /// Name (`snake_case`).
    pub name: &'static str,
    /// Default; its variant is the parameter's type.
    pub default: ParamValue,
    /// Smallest allowed value (inclusive), same variant as `default`.
    pub min: Option<ParamValue>,
    /// Largest allowed value (inclusive), same variant as `default`.
    pub max: Option<ParamValue>,
    /// One-line description.
    pub help: &'static str,
}

impl ParamDef {
    /// An integer parameter.
    pub fn int(
        name: &'static str,
        default: i64,
        min: Option<i64>,
        max: Option<i64>,
        help: &'static str,
    ) -> Self {
        Self {
            name,
            default: ParamValue::Int(default),
            min: min.map(ParamValue::Int),
            max: max.map(ParamValue::Int),
            help,
        }
    }

    /// A float parameter.
    pub fn float(
        name: &'static str,
        default: f64,
        min: Option<f64>,
        max: Option<f64>,
        help: &'static str,
    ) -> Self {
        Self {
            name,
            default: ParamValue::Float(default),
            min: min.map(ParamValue::Float),
            max: max.map(ParamValue::Float),
            help,
        }
    }

    /// A boolean parameter.
    pub fn boolean(name: &'static str, default: bool, help: &'static str) -> Self {
        Self {
            name,
            default: ParamValue::Bool(default),
            min: None,
            max: None,
            help,
        }
    }
}

/// What a plugin tells the host about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginInfo {
    /// Strategy name, unique among plugins (`snake_case`).
    pub name: &'static str,
    /// Version, usually `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
    /// One-paragraph description.
    pub description: &'static str,
    /// Parameter schema.
    pub params: Vec<ParamDef>,
}

impl PluginInfo {
    /// Info without parameters.
    pub fn new(name: &'static str, version: &'static str, description: &'static str) -> Self {
        Self {
            name,
            version,
            description,
            params: Vec::new(),
        }
    }

    /// Adds a parameter to the schema.
    #[must_use]
    pub fn param(mut self, def: ParamDef) -> Self {
        self.params.push(def);
        self
    }
}

/// Parameter values by name, as given to [`crate::Strategy::new`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, ParamValue>,
}

impl Params {
    /// The defaults of a schema.
    pub fn defaults(info: &PluginInfo) -> Self {
        Self {
            values: info
                .params
                .iter()
                .map(|p| (p.name.to_owned(), p.default))
                .collect(),
        }
    }

    /// Sets one value (used by the thunks and by tests that link a strategy directly).
    #[must_use]
    pub fn with(mut self, name: &str, value: ParamValue) -> Self {
        self.values.insert(name.to_owned(), value);
        self
    }

    /// An integer parameter.
    ///
    /// # Errors
    /// When the parameter is missing or not an integer.
    pub fn int(&self, name: &str) -> Result<i64, String> {
        match self.values.get(name) {
            Some(ParamValue::Int(v)) => Ok(*v),
            other => Err(type_error(name, "an integer", other)),
        }
    }

    /// A float parameter (integers are accepted and converted).
    ///
    /// # Errors
    /// When the parameter is missing or not a number.
    pub fn float(&self, name: &str) -> Result<f64, String> {
        match self.values.get(name) {
            Some(ParamValue::Float(v)) => Ok(*v),
            Some(ParamValue::Int(v)) => Ok(*v as f64),
            other => Err(type_error(name, "a number", other)),
        }
    }

    /// A boolean parameter.
    ///
    /// # Errors
    /// When the parameter is missing or not a boolean.
    pub fn boolean(&self, name: &str) -> Result<bool, String> {
        match self.values.get(name) {
            Some(ParamValue::Bool(v)) => Ok(*v),
            other => Err(type_error(name, "a boolean", other)),
        }
    }
}

fn type_error(name: &str, expected: &str, found: Option<&ParamValue>) -> String {
    match found {
        None => format!("parameter {name}: missing"),
        Some(v) => format!("parameter {name}: expected {expected}, got {v:?}"),
    }
}
