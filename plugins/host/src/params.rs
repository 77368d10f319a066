//! Parameter schemas and the validation of requested parameters against them.

use std::collections::BTreeMap;
use std::fmt;

use barwise_engine::{ParamValue, Params};
use serde::{Deserialize, Serialize};

/// Type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// 64-bit integer.
    Int,
    /// 64-bit float.
    Float,
    /// Boolean.
    Bool,
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamKind::Int => "int",
            ParamKind::Float => "float",
            ParamKind::Bool => "bool",
        })
    }
}

/// One parameter of a plugin's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSchema {
    /// Name.
    pub name: String,
    /// Type.
    pub kind: ParamKind,
    /// Default value.
    pub default: ParamValue,
    /// Smallest allowed value, inclusive.
    pub min: Option<ParamValue>,
    /// Largest allowed value, inclusive.
    pub max: Option<ParamValue>,
    /// One-line description.
    pub help: String,
}

impl fmt::Display for ParamSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, default {}", self.name, self.kind, self.default)?;
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => write!(f, ", {lo}..={hi}")?,
            (Some(lo), None) => write!(f, ", >= {lo}")?,
            (None, Some(hi)) => write!(f, ", <= {hi}")?,
            (None, None) => {}
        }
        write!(f, "): {}", self.help)
    }
}

/// A parameter value as requested: text from a command line, or a typed value from a job file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawParam {
    /// A typed value.
    Value(ParamValue),
    /// Text to parse according to the schema.
    Text(String),
}

impl fmt::Display for RawParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawParam::Value(v) => write!(f, "{v}"),
            RawParam::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// Requested parameters that do not fit a plugin's schema: every problem, and the valid ones.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ParamsError {
    /// Plugin name.
    pub plugin: String,
    /// `(parameter, problem)` pairs, in name order.
    pub problems: Vec<(String, String)>,
    /// The plugin's schema, to show what is valid.
    pub valid: Vec<ParamSchema>,
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid parameters for strategy {}:", self.plugin)?;
        for (name, problem) in &self.problems {
            write!(f, "\n  {name}: {problem}")?;
        }
        if self.valid.is_empty() {
            write!(f, "\n{} takes no parameters", self.plugin)
        } else {
            write!(f, "\nvalid parameters of {}:", self.plugin)?;
            for p in &self.valid {
                write!(f, "\n  {p}")?;
            }
            Ok(())
        }
    }
}

/// Converts one requested value to the schema's type and checks its range.
fn convert(schema: &ParamSchema, raw: &RawParam) -> Result<ParamValue, String> {
    let value = match (schema.kind, raw) {
        (ParamKind::Int, RawParam::Value(ParamValue::Int(i))) => ParamValue::Int(*i),
        (ParamKind::Int, RawParam::Value(ParamValue::Float(x)))
            if x.fract() == 0.0 && x.abs() < 9.0e15 =>
        {
            ParamValue::Int(*x as i64)
        }
        (ParamKind::Int, RawParam::Text(t)) => ParamValue::Int(
            t.trim()
                .parse()
                .map_err(|_| format!("expected an integer, got {raw}"))?,
        ),
        (ParamKind::Float, RawParam::Value(ParamValue::Int(i))) => ParamValue::Float(*i as f64),
        (ParamKind::Float, RawParam::Value(ParamValue::Float(x))) => ParamValue::Float(*x),
        (ParamKind::Float, RawParam::Text(t)) => ParamValue::Float(
            t.trim()
                .parse()
                .map_err(|_| format!("expected a number, got {raw}"))?,
        ),
        (ParamKind::Bool, RawParam::Value(ParamValue::Bool(b))) => ParamValue::Bool(*b),
        (ParamKind::Bool, RawParam::Text(t)) => match t.trim() {
            "true" => ParamValue::Bool(true),
            "false" => ParamValue::Bool(false),
            _ => return Err(format!("expected true or false, got {raw}")),
        },
        (kind, raw) => {
            let expected = match kind {
                ParamKind::Int => "an integer",
                ParamKind::Float => "a number",
                ParamKind::Bool => "true or false",
            };
            return Err(format!("expected {expected}, got {raw}"));
        }
    };
    if let ParamValue::Float(x) = value
        && !x.is_finite()
    {
        return Err(format!("must be a finite number, got {x}"));
    }
    if let Some(min) = schema.min
        && less(value, min)
    {
        return Err(format!("must be >= {min}, got {value}"));
    }
    if let Some(max) = schema.max
        && less(max, value)
    {
        return Err(format!("must be <= {max}, got {value}"));
    }
    Ok(value)
}

fn less(a: ParamValue, b: ParamValue) -> bool {
    match (a, b) {
        (ParamValue::Int(a), ParamValue::Int(b)) => a < b,
        (ParamValue::Float(a), ParamValue::Float(b)) => a < b,
        _ => false,
    }
}

/// Validates `requested` against `schema`: unknown names, wrong types and out-of-range values are
/// all reported together; missing parameters take their defaults.
///
/// # Errors
/// [`ParamsError`] with every problem found.
pub fn resolve(
    plugin: &str,
    schema: &[ParamSchema],
    requested: &BTreeMap<String, RawParam>,
) -> Result<Params, ParamsError> {
    let mut problems = Vec::new();
    let mut params = Params::new();
    for s in schema {
        let value = match requested.get(&s.name) {
            None => Ok(s.default),
            Some(raw) => convert(s, raw),
        };
        match value {
            Ok(v) => {
                params.insert(s.name.clone(), v);
            }
            Err(problem) => problems.push((s.name.clone(), problem)),
        }
    }
    for name in requested.keys() {
        if !schema.iter().any(|s| &s.name == name) {
            problems.push((name.clone(), "unknown parameter".to_owned()));
        }
    }
    if problems.is_empty() {
        Ok(params)
    } else {
        problems.sort();
        Err(ParamsError {
            plugin: plugin.to_owned(),
            problems,
            valid: schema.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Vec<ParamSchema> {
        vec![
            ParamSchema {
                name: "window".into(),
                kind: ParamKind::Int,
                default: ParamValue::Int(10),
                min: Some(ParamValue::Int(1)),
                max: Some(ParamValue::Int(100)),
                help: "bars".into(),
            },
            ParamSchema {
                name: "ratio".into(),
                kind: ParamKind::Float,
                default: ParamValue::Float(0.5),
                min: Some(ParamValue::Float(0.0)),
                max: Some(ParamValue::Float(1.0)),
                help: "share".into(),
            },
            ParamSchema {
                name: "wicks".into(),
                kind: ParamKind::Bool,
                default: ParamValue::Bool(true),
                min: None,
                max: None,
                help: "use wicks".into(),
            },
        ]
    }

    fn req(pairs: &[(&str, RawParam)]) -> BTreeMap<String, RawParam> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn defaults_fill_in_and_text_parses() {
        let p = resolve(
            "s",
            &schema(),
            &req(&[("window", RawParam::Text("20".into()))]),
        )
        .unwrap();
        assert_eq!(p["window"], ParamValue::Int(20));
        assert_eq!(p["ratio"], ParamValue::Float(0.5));
        assert_eq!(p["wicks"], ParamValue::Bool(true));
    }

    #[test]
    fn every_problem_reported_with_valid_list() {
        let err = resolve(
            "s",
            &schema(),
            &req(&[
                ("window", RawParam::Value(ParamValue::Int(0))),
                ("ratio", RawParam::Text("abc".into())),
                ("wicks", RawParam::Value(ParamValue::Int(1))),
                ("speed", RawParam::Text("3".into())),
            ]),
        )
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems.len(), 4, "{text}");
        assert!(text.contains("window: must be >= 1, got 0"), "{text}");
        assert!(
            text.contains("ratio: expected a number, got \"abc\""),
            "{text}"
        );
        assert!(
            text.contains("wicks: expected true or false, got 1"),
            "{text}"
        );
        assert!(text.contains("speed: unknown parameter"), "{text}");
        assert!(
            text.contains("window (int, default 10, 1..=100): bars"),
            "{text}"
        );
    }

    #[test]
    fn integral_float_accepted_for_int_and_int_for_float() {
        let p = resolve(
            "s",
            &schema(),
            &req(&[
                ("window", RawParam::Value(ParamValue::Float(5.0))),
                ("ratio", RawParam::Value(ParamValue::Int(1))),
            ]),
        )
        .unwrap();
        assert_eq!(p["window"], ParamValue::Int(5));
        assert_eq!(p["ratio"], ParamValue::Float(1.0));
        let err = resolve(
            "s",
            &schema(),
            &req(&[("window", RawParam::Value(ParamValue::Float(5.5)))]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("expected an integer, got 5.5"));
    }
}
