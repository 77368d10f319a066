//! ccxt JSON (`[[ts_ms, o, h, l, c, v], ...]`): a streaming serde visitor pushes each row straight
//! into the columns, without building a `serde_json::Value` tree.
//!
//! serde's error type cannot carry a structured [`DataError`], so the visitors store theirs in a
//! shared slot and abort deserialization with a placeholder; [`read`] then returns the stored
//! error in preference to serde_json's.

use std::fmt;

use barwise_engine::{CandleColumns, Candles, Field};
use serde::de::{self, DeserializeSeed, IgnoredAny, SeqAccess, Visitor};

use crate::error::{DataError, Location};

/// Values per row and their meaning.
const FIELDS: [Field; 6] = Field::ALL;

/// What an integer-millisecond JSON timestamp must be.
const EXPECTED_MS: &str = "integer epoch milliseconds";

/// Reads candles from a ccxt JSON document.
pub(crate) fn read(bytes: &[u8], source: &str) -> Result<Candles, DataError> {
    if bytes.trim_ascii().is_empty() {
        return Err(DataError::Empty {
            source_name: source.to_owned(),
            detail: "the file is empty",
        });
    }
    // Rough bytes per row in ccxt output, to reserve column capacity.
    let mut columns = CandleColumns::with_capacity((bytes.len() / 80).min(16 << 20));
    let mut ctx = Context {
        source,
        error: None,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result = RowsSeed {
        columns: &mut columns,
        ctx: &mut ctx,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    if let Some(error) = ctx.error {
        return Err(error);
    }
    if let Err(error) = result {
        return Err(json_error(&error, source));
    }
    crate::finish(
        columns,
        source,
        "the top-level array is empty",
        Location::Element,
    )
}

fn json_error(error: &serde_json::Error, source: &str) -> DataError {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let detail = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    DataError::Json {
        source_name: source.to_owned(),
        line: error.line(),
        column: error.column(),
        detail,
    }
}

/// The source name and the slot for the first structured error.
struct Context<'a> {
    source: &'a str,
    error: Option<DataError>,
}

impl Context<'_> {
    /// Stores `error` and returns the placeholder that aborts deserialization.
    fn fail<E: de::Error>(&mut self, error: DataError) -> E {
        self.error = Some(error);
        E::custom("invalid candle row")
    }
}

/// The top-level array.
struct RowsSeed<'a, 'b> {
    columns: &'a mut CandleColumns,
    ctx: &'a mut Context<'b>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of candles [[timestamp, open, high, low, close, volume], ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let row = RowSeed {
                index: self.columns.len(),
                ctx: &mut *self.ctx,
            };
            match seq.next_element_seed(row)? {
                Some(values) => {
                    let [t, o, h, l, c, v] = values;
                    self.columns
                        .push(t.ms, o.value, h.value, l.value, c.value, v.value);
                }
                None => return Ok(()),
            }
        }
    }
}

/// One parsed value: the float, and the exact integer when the JSON number was one.
#[derive(Clone, Copy, Default)]
struct Number {
    value: f64,
    ms: i64,
}

/// One row `[ts, o, h, l, c, v]`.
struct RowSeed<'a, 'b> {
    index: usize,
    ctx: &'a mut Context<'b>,
}

impl RowSeed<'_, '_> {
    fn location(&self) -> Location {
        Location::Element(self.index)
    }

    fn not_an_array<E: de::Error>(self, found: String) -> E {
        let error = DataError::NotAnArray {
            source_name: self.ctx.source.to_owned(),
            location: self.location(),
            found,
        };
        self.ctx.fail(error)
    }
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_> {
    type Value = [Number; 6];

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, '_> {
    type Value = [Number; 6];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array [timestamp, open, high, low, close, volume]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = [Number::default(); 6];
        for (position, (slot, field)) in values.iter_mut().zip(FIELDS).enumerate() {
            let seed = ValueSeed {
                field,
                index: self.index,
                ctx: &mut *self.ctx,
            };
            match seq.next_element_seed(seed)? {
                Some(number) => *slot = number,
                None => return Err(self.arity(position)),
            }
        }
        let mut extra = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            extra += 1;
        }
        if extra > 0 {
            return Err(self.arity(FIELDS.len() + extra));
        }
        Ok(values)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Err(self.not_an_array(format!("{v}")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Err(self.not_an_array(format!("the number {v}")))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Err(self.not_an_array(format!("the number {v}")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(self.not_an_array(format!("the number {v}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Err(self.not_an_array(format!("a string {}", crate::error::quote(v.as_bytes()))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.not_an_array("null".to_owned()))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        Err(self.not_an_array("an object".to_owned()))
    }
}

impl RowSeed<'_, '_> {
    fn arity<E: de::Error>(self, found: usize) -> E {
        let error = DataError::WrongArity {
            source_name: self.ctx.source.to_owned(),
            location: self.location(),
            expected: FIELDS.len(),
            found,
        };
        self.ctx.fail(error)
    }
}

/// One value of a row.
struct ValueSeed<'a, 'b> {
    field: Field,
    index: usize,
    ctx: &'a mut Context<'b>,
}

impl ValueSeed<'_, '_> {
    fn not_a_number<E: de::Error>(self, found: String) -> E {
        let error = DataError::NotANumber {
            source_name: self.ctx.source.to_owned(),
            location: Location::Element(self.index),
            field: self.field,
            found,
        };
        self.ctx.fail(error)
    }

    fn bad_timestamp<E: de::Error>(self, found: String) -> E {
        let error = DataError::InvalidTimestamp {
            source_name: self.ctx.source.to_owned(),
            location: Location::Element(self.index),
            expected: EXPECTED_MS,
            found,
        };
        self.ctx.fail(error)
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Number;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Number, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a number ({})", self.field)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
        Ok(Number {
            value: v as f64,
            ms: v,
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
        match i64::try_from(v) {
            Ok(ms) => Ok(Number {
                value: v as f64,
                ms,
            }),
            Err(_) if self.field == Field::Timestamp => Err(self.bad_timestamp(format!("{v}"))),
            Err(_) => Ok(Number {
                value: v as f64,
                ms: 0,
            }),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
        if self.field != Field::Timestamp {
            return Ok(Number { value: v, ms: 0 });
        }
        // 2^63 as f64; every integral float strictly inside (-2^63, 2^63) fits in an i64.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if v.fract() == 0.0 && v > -LIMIT && v < LIMIT {
            Ok(Number {
                value: v,
                ms: v as i64,
            })
        } else {
            Err(self.bad_timestamp(format!("{v}")))
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Number, E> {
        Err(self.not_a_number(format!("{v}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
        Err(self.not_a_number(format!("a string {}", crate::error::quote(v.as_bytes()))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Number, E> {
        let error = DataError::NullValue {
            source_name: self.ctx.source.to_owned(),
            location: Location::Element(self.index),
            field: self.field,
        };
        Err(self.ctx.fail(error))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Number, A::Error> {
        Err(self.not_a_number("an array".to_owned()))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, _map: A) -> Result<Number, A::Error> {
        Err(self.not_a_number("an object".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_timestamps_with_zero_fraction_are_accepted() {
        let c = read(b"[[1000.0, 1, 2, 0.5, 1.5, 3], [2000, 1, 1, 1, 1, 0]]", "x").unwrap();
        assert_eq!(c.time_ms(), [1000, 2000]);
        assert_eq!(c.volume(), [3.0, 0.0]);
    }

    #[test]
    fn floats_parse_exactly() {
        // serde_json's default float parser can be off by one ulp; the loader must read back
        // exactly what Rust printed (the `float_roundtrip` feature).
        let mut state = 1u64;
        let mut text = String::from("[");
        let mut expected = Vec::new();
        for i in 0..2000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let v = (state >> 11) as f64 / (1u64 << 53) as f64 * 5000.0;
            text.push_str(&format!(
                "{}[{i}, 1, 1, 1, 1, {v}]",
                if i > 0 { "," } else { "" }
            ));
            expected.push(v.to_bits());
        }
        text.push(']');
        let c = read(text.as_bytes(), "x").unwrap();
        let got: Vec<u64> = c.volume().iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn fractional_timestamp_is_rejected() {
        let err = read(b"[[1000.5, 1, 2, 0.5, 1.5, 3]]", "x").unwrap_err();
        assert!(matches!(err, DataError::InvalidTimestamp { .. }), "{err}");
    }

    #[test]
    fn trailing_garbage_is_a_syntax_error() {
        let err = read(b"[[1000, 1, 2, 0.5, 1.5, 3]] x", "x").unwrap_err();
        assert!(matches!(err, DataError::Json { line: 1, .. }), "{err}");
    }
}
