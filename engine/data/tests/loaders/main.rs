//! Integration tests of the loaders and writers, one module per format (a single test binary keeps
//! linking cheap).

mod csv;
mod json;
mod parquet;
mod real_data;
mod round_trip;
mod support;
