//! Empty library: this crate only holds the invariant tests in `tests/`.
